//! The SDP model: a session description and its media descriptions (RFC 8866 §5).
//!
//! Lines the model has no field for are kept as [`OtherLine`]s, and attributes it has no
//! type for as [`Attribute::Other`], in their order, so a description we relay or answer
//! loses nothing a peer said.

use crate::attr::Attribute;
use std::fmt;

/// An RTP payload type (RFC 3550 §5.1): 0..=127.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pt(u8);

impl Pt {
    /// The first payload type of the dynamic range (RFC 3551 §6).
    pub const DYNAMIC_MIN: u8 = 96;

    /// `None` above 127: the RTP header has seven bits for it.
    pub fn new(value: u8) -> Option<Pt> {
        (value <= 127).then_some(Pt(value))
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// Static payload types (0..=95) mean one codec everywhere; dynamic ones mean what the
    /// description's rtpmap says.
    pub fn is_dynamic(self) -> bool {
        self.0 >= Self::DYNAMIC_MIN
    }
}

impl fmt::Display for Pt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A whole session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=` (RFC 8866 §5.2).
    pub origin: Origin,
    /// `s=`; a single space when the peer has nothing to say (RFC 8866 §5.3).
    pub session_name: String,
    /// `c=` at session level, the default for media sections without their own.
    pub connection: Option<Connection>,
    /// `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// The first `t=` line (RFC 8866 §5.9); later ones are kept in `other`.
    pub timing: Timing,
    /// `i=`, `u=`, `e=`, `p=`, `r=`, `z=`, `k=`, extra `t=` and anything unknown.
    pub other: Vec<OtherLine>,
    /// Session-level `a=` lines, in order.
    pub attributes: Vec<Attribute>,
    /// `m=` sections, in order: offer/answer pairs them by position (RFC 3264 §6).
    pub media: Vec<MediaDescription>,
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    /// Kept as text: peers send ids wider than 64 bits.
    pub session_id: String,
    /// Must grow by one with each changed offer (RFC 3264 §8).
    pub session_version: u64,
    pub address: Address,
}

/// A network address as SDP writes it: `<nettype> <addrtype> <address>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// `IN` in practice.
    pub net_type: String,
    /// `IP4` or `IP6`.
    pub addr_type: String,
    pub address: String,
}

impl Address {
    /// `IN IP4 <addr>` or `IN IP6 <addr>`, chosen by whether the text has a colon.
    pub fn internet(address: &str) -> Address {
        let addr_type = if address.contains(':') { "IP6" } else { "IP4" };
        Address {
            net_type: "IN".into(),
            addr_type: addr_type.into(),
            address: address.into(),
        }
    }
}

/// `c=<nettype> <addrtype> <connection-address>` (RFC 8866 §5.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The address may carry a multicast `/ttl/count` suffix; we keep it as written.
    pub address: Address,
}

impl Connection {
    /// RFC 2543 hold: a connection address of 0.0.0.0 (or ::) means "do not send to me"
    /// (RFC 3264 §8.4 still asks answerers to understand it).
    pub fn is_hold_address(&self) -> bool {
        matches!(self.address.address.as_str(), "0.0.0.0" | "::")
    }
}

/// `b=<bwtype>:<bandwidth>` (RFC 8866 §5.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bandwidth {
    pub bw_type: String,
    pub kbps: u64,
}

/// `t=<start-time> <stop-time>`; `0 0` for the unbounded sessions of telephony.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timing {
    pub start: u64,
    pub stop: u64,
}

/// A line the model keeps verbatim: its type letter and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherLine {
    pub kind: char,
    pub value: String,
}

impl OtherLine {
    /// RFC 8866 §5 puts `i u e p` (and `c b`) before `t=`, the rest after it; the printer
    /// follows that order, so the parser files each line into one of the two groups.
    pub(crate) fn before_timing(&self) -> bool {
        matches!(self.kind, 'i' | 'u' | 'e' | 'p')
    }
}

/// The transport protocol of an `m=` line (RFC 8866 §5.14, RFC 3711, RFC 5124, RFC 5764).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Proto {
    RtpAvp,
    RtpAvpf,
    RtpSavp,
    RtpSavpf,
    UdpTlsRtpSavp,
    UdpTlsRtpSavpf,
    /// Anything else (`UDP/DTLS/SCTP`, `udp`, `TCP/MRCPv2`...): kept, never answered.
    Other(String),
}

impl Proto {
    pub fn parse(text: &str) -> Proto {
        match text {
            "RTP/AVP" => Proto::RtpAvp,
            "RTP/AVPF" => Proto::RtpAvpf,
            "RTP/SAVP" => Proto::RtpSavp,
            "RTP/SAVPF" => Proto::RtpSavpf,
            "UDP/TLS/RTP/SAVP" => Proto::UdpTlsRtpSavp,
            "UDP/TLS/RTP/SAVPF" => Proto::UdpTlsRtpSavpf,
            other => Proto::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Proto::RtpAvp => "RTP/AVP",
            Proto::RtpAvpf => "RTP/AVPF",
            Proto::RtpSavp => "RTP/SAVP",
            Proto::RtpSavpf => "RTP/SAVPF",
            Proto::UdpTlsRtpSavp => "UDP/TLS/RTP/SAVP",
            Proto::UdpTlsRtpSavpf => "UDP/TLS/RTP/SAVPF",
            Proto::Other(s) => s,
        }
    }

    /// Whether the formats are RTP payload types.
    pub fn is_rtp(&self) -> bool {
        !matches!(self, Proto::Other(_))
    }

    /// SRTP with keys from `a=crypto` (RFC 4568 §3.1.1 names RTP/SAVP; SAVPF is its
    /// feedback variant).
    pub fn is_sdes(&self) -> bool {
        matches!(self, Proto::RtpSavp | Proto::RtpSavpf)
    }

    /// SRTP with keys from a DTLS handshake (RFC 5764 §8).
    pub fn is_dtls(&self) -> bool {
        matches!(self, Proto::UdpTlsRtpSavp | Proto::UdpTlsRtpSavpf)
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `m=` section (RFC 8866 §5.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`, `application`...
    pub media: String,
    /// 0 rejects or disables the stream (RFC 3264 §5.1, §6).
    pub port: u16,
    /// The `/<number of ports>` suffix, when present.
    pub port_count: Option<u16>,
    pub proto: Proto,
    /// Payload types for RTP protocols, opaque tokens otherwise; kept as text so the
    /// printer gives back what the peer wrote (see [`MediaDescription::payload_types`]).
    pub formats: Vec<String>,
    /// `i=`, `k=` and unknown lines inside the section.
    pub other: Vec<OtherLine>,
    pub connection: Option<Connection>,
    pub bandwidths: Vec<Bandwidth>,
    pub attributes: Vec<Attribute>,
}

impl MediaDescription {
    /// The formats that are payload types, in the offerer's order of preference.
    pub fn payload_types(&self) -> impl Iterator<Item = Pt> + '_ {
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok().and_then(Pt::new))
    }
}

/// Media direction (RFC 8866 §6.7; RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    #[default]
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    pub fn parse(name: &str) -> Option<Direction> {
        Some(match name {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }

    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    pub fn from_flags(sends: bool, receives: bool) -> Direction {
        match (sends, receives) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// The same stream seen from the other end: what one sends the other receives.
    pub fn reversed(self) -> Direction {
        Direction::from_flags(self.receives(), self.sends())
    }
}
