//! Candidates, credentials and priorities (RFC 8445 §5.1, §6.1.2).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// `ice-char` (RFC 8839 §5.4): ALPHA / DIGIT / "+" / "/".
const ICE_CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// An agent's username fragment and password (RFC 8445 §5.3, RFC 8839 §5.4).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub ufrag: String,
    pub pwd: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The password is a key; keep it out of logs.
        f.debug_struct("Credentials")
            .field("ufrag", &self.ufrag)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    pub fn new(ufrag: impl Into<String>, pwd: impl Into<String>) -> Credentials {
        Credentials {
            ufrag: ufrag.into(),
            pwd: pwd.into(),
        }
    }

    /// Fresh credentials from 24 random bytes the caller draws from the operating system:
    /// an 8-character ufrag (48 bits) and a 24-character password (144 bits; RFC 8445 §5.3
    /// asks for at least 24 bits and 128 bits).
    pub fn from_entropy(bytes: &[u8; 24]) -> Credentials {
        let chars = |b: &[u8]| -> String {
            b.chunks(3)
                .flat_map(|c| {
                    let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
                    [18, 12, 6, 0].map(|s| char::from(ICE_CHARS[((n >> s) & 63) as usize]))
                })
                .collect()
        };
        Credentials {
            ufrag: chars(&bytes[..6]),
            pwd: chars(&bytes[6..]),
        }
    }
}

/// Candidate type (RFC 8445 §5.1.1) with its recommended type preference (§5.1.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CandidateKind {
    Host,
    ServerReflexive,
    PeerReflexive,
    Relayed,
}

impl CandidateKind {
    pub fn type_preference(self) -> u32 {
        match self {
            CandidateKind::Host => 126,
            CandidateKind::PeerReflexive => 110,
            CandidateKind::ServerReflexive => 100,
            CandidateKind::Relayed => 0,
        }
    }
}

/// RFC 8445 §5.1.2.1: `2^24 * type pref + 2^8 * local pref + (256 - component)`.
pub fn candidate_priority(kind: CandidateKind, local_preference: u16, component: u16) -> u32 {
    let component = u32::from(component.clamp(1, 256));
    (kind.type_preference() << 24) + (u32::from(local_preference) << 8) + (256 - component)
}

/// RFC 8445 §6.1.2.3: `2^32 * MIN(G,D) + 2 * MAX(G,D) + (G > D ? 1 : 0)` with G the
/// controlling agent's candidate priority and D the controlled one's.
pub fn pair_priority(controlling: u32, controlled: u32) -> u64 {
    let (g, d) = (u64::from(controlling), u64::from(controlled));
    (g.min(d) << 32) + 2 * g.max(d) + u64::from(g > d)
}

/// One of our candidates. Switchboard's are host candidates on configured addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCandidate {
    pub foundation: String,
    /// 1 for RTP, 2 for RTCP (RFC 8445 §5.1.1: one candidate per component).
    pub component: u16,
    pub address: SocketAddr,
    pub priority: u32,
    pub kind: CandidateKind,
}

impl LocalCandidate {
    /// The `a=candidate` value for SDP (RFC 8839 §5.1).
    pub fn to_sdp(&self) -> sb_sdp::Candidate {
        sb_sdp::Candidate {
            foundation: self.foundation.clone(),
            component: self.component,
            transport: "UDP".to_string(),
            priority: self.priority,
            address: self.address.ip().to_string(),
            port: self.address.port(),
            kind: match self.kind {
                CandidateKind::Host => sb_sdp::CandidateType::Host,
                CandidateKind::ServerReflexive => sb_sdp::CandidateType::ServerReflexive,
                CandidateKind::PeerReflexive => sb_sdp::CandidateType::PeerReflexive,
                CandidateKind::Relayed => sb_sdp::CandidateType::Relayed,
            },
            related_address: None,
            related_port: None,
            extensions: Vec::new(),
        }
    }
}

/// A peer's candidate, from SDP or learnt from a check (peer reflexive, §7.3.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCandidate {
    pub foundation: String,
    /// 1 for RTP, 2 for RTCP.
    pub component: u16,
    pub address: SocketAddr,
    pub priority: u32,
    pub kind: CandidateKind,
}

impl RemoteCandidate {
    /// The candidate to check, when this SDP candidate is one (see [`RemoteCandidate::parse`]).
    pub fn from_sdp(c: &sb_sdp::Candidate) -> Option<RemoteCandidate> {
        let kind = match c.kind {
            sb_sdp::CandidateType::Host => CandidateKind::Host,
            sb_sdp::CandidateType::ServerReflexive => CandidateKind::ServerReflexive,
            sb_sdp::CandidateType::PeerReflexive => CandidateKind::PeerReflexive,
            sb_sdp::CandidateType::Relayed => CandidateKind::Relayed,
            _ => return None,
        };
        RemoteCandidate::parse(
            &c.foundation,
            c.component,
            &c.transport,
            c.priority,
            &c.address,
            c.port,
            kind,
        )
    }

    /// The candidate to check, from the fields of an `a=candidate` line, when it is one:
    /// UDP, component 1 or 2 (RTP or RTCP; an agent for one rtcp-muxed component ignores
    /// the second), and a literal IP address (an mDNS `.local` name needs a resolver first; unresolved, such a peer still
    /// reaches us and is learnt as peer reflexive).
    pub fn parse(
        foundation: &str,
        component: u16,
        transport: &str,
        priority: u32,
        address: &str,
        port: u16,
        kind: CandidateKind,
    ) -> Option<RemoteCandidate> {
        if !(1..=2).contains(&component) || !transport.eq_ignore_ascii_case("udp") || port == 0 {
            return None;
        }
        let ip: IpAddr = address.parse().ok()?;
        if ip.is_unspecified() || ip.is_multicast() {
            return None;
        }
        Some(RemoteCandidate {
            foundation: foundation.to_string(),
            component,
            address: SocketAddr::new(ip, port),
            priority,
            kind,
        })
    }
}

/// Host candidates (component 1) for the configured addresses, first address preferred
/// (RFC 8445 §5.1.2.1: local preference distinguishes addresses of one type; one
/// foundation per address, §5.1.1.3).
pub fn host_candidates(addresses: &[SocketAddr]) -> Vec<LocalCandidate> {
    host_candidates_for(1, addresses)
}

/// Host candidates of `component`; the n-th address of each component shares a foundation,
/// as the RTP and RTCP sockets on one IP address do (§5.1.1.3).
pub fn host_candidates_for(component: u16, addresses: &[SocketAddr]) -> Vec<LocalCandidate> {
    addresses
        .iter()
        .enumerate()
        .map(|(i, a)| LocalCandidate {
            foundation: (i + 1).to_string(),
            component,
            address: *a,
            priority: candidate_priority(
                CandidateKind::Host,
                65535u16.saturating_sub(u16::try_from(i).unwrap_or(u16::MAX)),
                component,
            ),
            kind: CandidateKind::Host,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_priority_follows_the_formula() {
        // 126 << 24 | 65535 << 8 | 255
        assert_eq!(
            candidate_priority(CandidateKind::Host, 65535, 1),
            2_130_706_431
        );
        assert_eq!(
            candidate_priority(CandidateKind::PeerReflexive, 65535, 1),
            1_862_270_975
        );
    }

    #[test]
    fn pair_priority_is_symmetric_but_for_the_last_bit() {
        let a = pair_priority(100, 200);
        let b = pair_priority(200, 100);
        assert_eq!(a, (100u64 << 32) + 400);
        assert_eq!(b, a + 1);
    }

    #[test]
    fn credentials_from_entropy_are_ice_chars_of_the_right_length() {
        let c = Credentials::from_entropy(&[0xA5; 24]);
        assert_eq!((c.ufrag.len(), c.pwd.len()), (8, 24));
        assert!(c.pwd.bytes().all(|b| ICE_CHARS.contains(&b)));
        assert_ne!(Credentials::from_entropy(&[1; 24]), c);
    }
}
