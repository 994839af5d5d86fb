//! RTP and RTCP packets, RFC 4733 telephone events and receive statistics (RFC 3550).
//!
//! This crate is the packet layer under the media engine: it turns bytes into typed
//! packets and back, keeps per-source receive statistics, and runs the small telephone-event
//! state machines. It is pure and sans-IO: it never reads a clock, never touches a socket,
//! never spawns. Time is an input, always a `now_us: u64` in microseconds on the caller's
//! monotonic clock; wall-clock NTP time (for SR packets) is also supplied by the caller.
//!
//! - [`rtp`]: [`RtpPacket`] (zero-copy view, RFC 3550 §5.1, RFC 8285 extensions) and
//!   [`Rtp`] (owned builder), [`RtpPacketMut`] (in-place header rewriting for relays).
//! - [`rtcp`]: compound SR/RR/SDES/BYE/APP (RFC 3550 §6) and [`demux`] (RFC 5761 §4).
//! - [`rewrite`]: [`StreamRewriter`], one continuous outgoing stream across source
//!   changes (transfer, re-INVITE toward a new party).
//! - [`dtmf`]: the RFC 4733 payload, [`DtmfSender`] and [`DtmfReceiver`].
//! - [`stats`]: [`ReceiveStats`] (RFC 3550 A.1, A.3, A.8), [`SenderStats`] (§6.4.1 sender
//!   info), [`RttEstimator`] (§6.4.1) and
//!   [`estimate_mos`] (ITU-T G.107, simplified).
//!
//! The drive loop for the state machines is the same everywhere: feed inputs with
//! `handle_*`, then drain `poll_*` until `None`, and arm a timer at `poll_timeout()`.
//!
//! ```
//! use sb_rtp::{Pt, Rtp, RtpPacket, Ssrc};
//! let bytes = Rtp::new(Pt(0), 7, 160, Ssrc(0x1234), vec![0xFF; 160]).to_bytes().unwrap();
//! let pkt = RtpPacket::parse(&bytes).unwrap();
//! assert_eq!((pkt.sequence(), pkt.payload().len()), (7, 160));
//! ```
//!
//! Panics: none on peer input. Every parser returns an error for malformed bytes; this is
//! enforced by property tests and the `rtp` fuzz target.

pub mod dtmf;
pub mod rewrite;
pub mod rtcp;
pub mod rtp;
pub mod stats;

pub use dtmf::{DtmfEvent, DtmfPacket, DtmfReceiver, DtmfSender, DtmfSenderConfig, TelephoneEvent};
pub use rewrite::{Rewritten, StreamRewriter};
pub use rtcp::{
    build_compound, demux, parse_compound, Bye, Demux, ReceiverReport, ReportBlock, RtcpError,
    RtcpPacket, SdesChunk, SdesItem, SenderReport,
};
pub use rtp::{ExtElement, Extension, Rtp, RtpError, RtpPacket, RtpPacketMut};
pub use stats::{estimate_mos, rtt_compact, ReceiveStats, RttEstimator, SenderStats, Verdict};

/// Synchronization source identifier (RFC 3550 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Ssrc(pub u32);

/// RTP payload type, 7 bits (RFC 3550 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Pt(pub u8);

/// A 64-bit NTP timestamp: seconds since 1900 in the high word, fraction in the low
/// (RFC 3550 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct NtpTime(pub u64);

/// Seconds from 1900-01-01 (NTP era 0) to 1970-01-01 (Unix epoch).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

impl NtpTime {
    /// From microseconds since the Unix epoch (the caller's wall clock).
    pub fn from_unix_micros(us: u64) -> Self {
        let secs = us / 1_000_000 + NTP_UNIX_OFFSET;
        let frac = ((us % 1_000_000) << 32) / 1_000_000;
        NtpTime((secs << 32) | frac)
    }

    /// The middle 32 bits, the "compact" form used by LSR (RFC 3550 §6.4.1).
    pub fn compact(self) -> u32 {
        (self.0 >> 16) as u32
    }
}
