//! What offer/answer agreed for one leg (RFC 3264 §6.1), in the form the engine needs.
//!
//! Signalling fills a [`LegSpec`] from `sb_sdp::negotiated()` facts; the engine never sees
//! SDP. A re-INVITE sends the whole new spec ([`crate::Command::UpdateLeg`]) and the engine
//! works out what changed.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// An RTP payload type, 0–127 (RFC 3550 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PayloadType(pub u8);

/// Which way media flows on a leg, **from the engine's side** (as `sb_sdp::Stream::direction`
/// reports it): `SendOnly` means the engine sends toward the peer and ignores what the peer
/// sends. A peer that puts us on hold (its SDP says `sendonly` or `inactive`, RFC 3264 §8.4)
/// gives `RecvOnly` or `Inactive` here, and the engine then sends nothing toward it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Direction {
    #[default]
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    /// Whether the engine may send toward the peer.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the engine takes media from the peer.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// The audio codec of a leg, by its SDP name (RFC 4566 §6 `a=rtpmap`), with the payload
/// types each way (they differ when the two ends bound a dynamic type differently).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CodecSpec {
    /// Encoding name, matched case-insensitively: `PCMU`, `PCMA`, `G722`, `opus`.
    pub name: String,
    /// RTP clock rate (8000 for G.711 and G.722, RFC 3551 §4.5.2; 48000 for Opus).
    pub clock_rate: u32,
    pub channels: u8,
    /// The payload type the peer wants to receive it with (we send with it).
    pub send_pt: PayloadType,
    /// The payload type we said we receive it with.
    pub recv_pt: PayloadType,
    /// The `a=fmtp` parameters as written, if any (Opus `useinbandfec=1`, …).
    pub fmtp: Option<String>,
}

impl CodecSpec {
    /// G.711 µ-law on its static payload type 0 (RFC 3551 §6).
    pub fn pcmu() -> Self {
        Self::g711("PCMU", 0)
    }

    /// G.711 A-law on its static payload type 8 (RFC 3551 §6).
    pub fn pcma() -> Self {
        Self::g711("PCMA", 8)
    }

    fn g711(name: &str, pt: u8) -> Self {
        Self {
            name: name.to_owned(),
            clock_rate: 8000,
            channels: 1,
            send_pt: PayloadType(pt),
            recv_pt: PayloadType(pt),
            fmtp: None,
        }
    }
}

/// RFC 4733 telephone-event on a leg: its payload types each way and clock rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TelephoneEventSpec {
    pub send_pt: PayloadType,
    pub recv_pt: PayloadType,
    /// The rate event durations count in: the audio codec's when the peer offered a
    /// telephone-event at that rate (RFC 4733 §2.1), else 8000, which softphones pair
    /// with Opus at 48 kHz (RFC 7587 §7 leaves the pairing open). Event timestamps stay on
    /// the audio clock of the stream.
    pub clock_rate: u32,
}

/// Where the peer's RTCP goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RtcpSpec {
    /// RTP and RTCP share the RTP port (RFC 5761 `a=rtcp-mux`, accepted by both).
    Mux,
    /// A separate RTCP address: `a=rtcp` (RFC 3605) or the RTP port + 1.
    Separate(SocketAddr),
}

/// The SRTP suites SDES can agree on (RFC 4568 §6.2, RFC 7714 §14.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SrtpSuite {
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
    AeadAes128Gcm,
}

/// One master key of an `a=crypto` line, decoded from base64 (RFC 4568 §6.1).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SrtpKey {
    pub master_key: Vec<u8>,
    pub master_salt: Vec<u8>,
    /// MKI value (big-endian) and its length on the wire in bytes, when the line has one.
    pub mki: Option<(Vec<u8>, u8)>,
    /// Key lifetime in packets, when the line gives one.
    pub lifetime: Option<u64>,
}

impl std::fmt::Debug for SrtpKey {
    /// Keys never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpKey")
            .field(
                "master_key",
                &format_args!("<{} bytes>", self.master_key.len()),
            )
            .field(
                "master_salt",
                &format_args!("<{} bytes>", self.master_salt.len()),
            )
            .field("mki", &self.mki)
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

/// SDES-keyed SRTP: we protect with `send` (our `a=crypto` key) and unprotect with `recv`
/// (the peer's), RFC 4568 §7.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SrtpSpec {
    pub suite: SrtpSuite,
    pub send: SrtpKey,
    pub recv: SrtpKey,
}

/// An ICE candidate type (RFC 8445 §5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CandidateKind {
    Host,
    ServerReflexive,
    PeerReflexive,
    Relayed,
}

/// A remote candidate from `a=candidate` (RFC 8839 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IceCandidate {
    pub foundation: String,
    /// 1 for RTP, 2 for RTCP.
    pub component: u8,
    /// `udp` (the only transport the engine uses).
    pub transport: String,
    pub priority: u32,
    /// An IP literal, or an mDNS name (`….local`) the runtime resolves.
    pub address: String,
    pub port: u16,
    pub kind: CandidateKind,
}

/// ICE for a leg (RFC 8445, RFC 8839): our credentials, the peer's, and its candidates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IceSpec {
    pub local_ufrag: String,
    pub local_pwd: String,
    pub remote_ufrag: String,
    pub remote_pwd: String,
    pub remote_candidates: Vec<IceCandidate>,
    /// Whether we are the controlling agent (RFC 8445 §6.1.1: the offerer, unless lite).
    pub controlling: bool,
    /// The peer is ICE-lite (`a=ice-lite`).
    pub remote_lite: bool,
}

/// What offer/answer agreed for one leg.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LegSpec {
    /// Where to send RTP until the peer is latched or ICE selects a pair: the SDP `c=`
    /// address and `m=` port.
    pub remote_rtp: SocketAddr,
    pub rtcp: RtcpSpec,
    pub codec: CodecSpec,
    pub telephone_event: Option<TelephoneEventSpec>,
    /// Packet time in milliseconds the engine sends with (the peer's `a=ptime`, or the
    /// codec's default, 20 for G.711).
    pub ptime_ms: u32,
    pub direction: Direction,
    /// `None` for plain RTP/AVP.
    pub srtp: Option<SrtpSpec>,
    /// `None` without ICE.
    pub ice: Option<IceSpec>,
    /// Symmetric RTP (RFC 4961, "latching"): send to wherever the peer's media comes
    /// from, which is how media reaches a peer behind NAT that advertised its private
    /// address. Off for a trusted gateway whose SDP is right, so a spoofed source cannot
    /// steal the stream.
    pub symmetric_latching: bool,
    /// Listen for DTMF tones in the audio the peer sends (costs a detector per leg; for
    /// gateways that send in-band DTMF). Toward a leg without telephone-event, digits are
    /// always generated in-band, whatever this says.
    pub inband_dtmf: bool,
    /// Report [`crate::Event::MediaTimeout`] after this long without a packet from the
    /// peer while it is expected to send; `None` never times out.
    pub media_timeout_ms: Option<u32>,
}

impl LegSpec {
    /// Plain RTP to `remote_rtp` with RTCP on the next port, 20 ms, send and receive,
    /// latching on, no telephone-event, a 30 s media timeout: a starting point tests and
    /// signalling adjust field by field.
    pub fn plain(remote_rtp: SocketAddr, codec: CodecSpec) -> Self {
        let mut rtcp = remote_rtp;
        rtcp.set_port(remote_rtp.port().wrapping_add(1));
        Self {
            remote_rtp,
            rtcp: RtcpSpec::Separate(rtcp),
            codec,
            telephone_event: None,
            ptime_ms: 20,
            direction: Direction::SendRecv,
            srtp: None,
            ice: None,
            symmetric_latching: true,
            inband_dtmf: false,
            media_timeout_ms: Some(30_000),
        }
    }
}

/// A tone played toward a leg until [`crate::Command::StopTone`]: the frequencies sound
/// together for `on_ms`, then silence for `off_ms`, repeated (`off_ms = 0`: continuous).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tone {
    /// 1 or 2 frequencies in Hz.
    pub frequencies: Vec<f32>,
    /// Level of each frequency in dBm0.
    pub level_dbm0: f32,
    pub on_ms: u32,
    pub off_ms: u32,
}

impl Tone {
    /// Ringback as most of Europe plays it: 425 Hz, 1 s on, 4 s off (ITU-T E.180 Supp. 2).
    pub fn ringback_europe() -> Self {
        Self {
            frequencies: vec![425.0],
            level_dbm0: -13.0,
            on_ms: 1000,
            off_ms: 4000,
        }
    }

    /// North American ringback: 440 + 480 Hz, 2 s on, 4 s off (ANSI T1.401).
    pub fn ringback_north_america() -> Self {
        Self {
            frequencies: vec![440.0, 480.0],
            level_dbm0: -19.0,
            on_ms: 2000,
            off_ms: 4000,
        }
    }
}
