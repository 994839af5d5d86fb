//! What the media engine tells signalling.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::LegId;

/// How a DTMF digit reached the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DtmfSource {
    /// RFC 4733 telephone-event packets.
    Rfc4733,
    /// Tones in the audio, heard by the in-band detector.
    InBand,
    /// A SIP INFO (`application/dtmf-relay`), reported by signalling, never by the engine;
    /// here so one type names every origin in call records.
    SipInfo,
}

/// The pair ICE chose for a leg (RFC 8445 §8.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IceSelected {
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

/// What the peer's RTCP receiver reports say about the media we send it (RFC 3550 §6.4).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RemoteReport {
    /// Fraction of our packets lost in its last interval, 0.0–1.0.
    pub fraction_lost: f32,
    /// Our packets it counts as lost since the start.
    pub cumulative_lost: i32,
    /// Interarrival jitter it measures on our stream, in milliseconds.
    pub jitter_ms: f32,
}

/// Quality of one leg, for call records, monitoring and the admin console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    /// The codec, as `NAME/clock_rate` (`PCMU/8000`).
    pub codec: String,
    pub packets_sent: u64,
    /// RTP payload bytes sent (no headers, RFC 3550 §6.4.1 octet count).
    pub bytes_sent: u64,
    pub packets_received: u64,
    pub bytes_received: u64,
    /// Packets the peer sent that never arrived: expected minus received (RFC 3550 A.3);
    /// negative when duplicates outnumber losses.
    pub packets_lost: i64,
    /// `packets_lost / expected`, 0.0–1.0, over the whole call.
    pub loss_fraction: f32,
    /// Interarrival jitter of the peer's stream (RFC 3550 A.8), milliseconds.
    pub jitter_ms: f32,
    /// Round-trip time from RTCP (RFC 3550 §6.4.1), once the peer echoed one of our SRs.
    pub rtt_ms: Option<f32>,
    /// The peer's view of our stream, from its last report block.
    pub remote: Option<RemoteReport>,
    /// Estimated MOS of what the peer sends us, 1.0–4.5 ([`crate::quality::estimate_mos`]).
    pub mos: f32,
}

/// Something that happened in the media engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Event {
    /// The leg now sends to `remote`, where the peer's media comes from (symmetric RTP).
    Latched { leg: LegId, remote: SocketAddr },
    /// The peer sent a digit.
    DtmfReceived {
        leg: LegId,
        digit: char,
        duration_ms: u32,
        how: DtmfSource,
    },
    /// ICE selected (or changed) the pair the leg uses.
    IceSelected { leg: LegId, pair: IceSelected },
    /// ICE failed on the leg (RFC 8445 §8: no pair succeeded); media cannot flow.
    IceFailed { leg: LegId },
    /// Nothing arrived from the peer for the leg's `media_timeout_ms`. Reported once per
    /// silence; a packet re-arms it.
    MediaTimeout { leg: LegId },
    /// Periodic (about every RTCP interval) or requested quality figures.
    LegStats { leg: LegId, stats: QualityReport },
}
