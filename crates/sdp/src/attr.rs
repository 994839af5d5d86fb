//! Typed `a=` attributes: the ones mediation acts on, and every other one kept verbatim.

use crate::crypto::Crypto;
use crate::model::{Address, Direction, Pt};
use std::fmt;

/// One `a=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Attribute {
    /// `a=rtpmap` (RFC 8866 §6.6).
    Rtpmap(Rtpmap),
    /// `a=fmtp:<format> <params>` (RFC 8866 §6.15); parameters stay text.
    Fmtp { pt: Pt, params: String },
    /// `a=ptime:<ms>` (RFC 8866 §6.4).
    Ptime(u32),
    /// `a=maxptime:<ms>` (RFC 8866 §6.5).
    MaxPtime(u32),
    /// `a=sendrecv` and friends (RFC 8866 §6.7).
    Direction(Direction),
    /// `a=rtcp:<port> [<nettype> <addrtype> <address>]` (RFC 3605 §2.1).
    Rtcp { port: u16, address: Option<Address> },
    /// `a=rtcp-mux` (RFC 5761 §5.1.1).
    RtcpMux,
    /// `a=crypto` (RFC 4568 §9.1).
    Crypto(Crypto),
    /// `a=ice-ufrag` (RFC 8839 §5.4).
    IceUfrag(String),
    /// `a=ice-pwd` (RFC 8839 §5.4).
    IcePwd(String),
    /// `a=ice-lite` (RFC 8839 §5.3).
    IceLite,
    /// `a=candidate` (RFC 8839 §5.1).
    Candidate(Candidate),
    /// `a=mid` (RFC 9143 §5, RFC 5888 §4).
    Mid(String),
    /// `a=fingerprint:<hash-func> <fingerprint>` (RFC 8122 §5), kept for DTLS-SRTP.
    Fingerprint { hash: String, value: String },
    /// `a=setup` (RFC 4145 §4), kept for DTLS-SRTP.
    Setup(String),
    /// Anything else, as written: `a=<name>` or `a=<name>:<value>`.
    Other { name: String, value: Option<String> },
}

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtpmap {
    pub pt: Pt,
    /// As the peer wrote it; compare case-insensitively (RFC 4855 §3: MIME subtypes are).
    pub encoding: String,
    pub clock_rate: u32,
    /// Audio channels; absent means one (RFC 8866 §6.6).
    pub channels: Option<u8>,
}

/// An ICE candidate (RFC 8839 §5.1):
/// `<foundation> <component> <transport> <priority> <address> <port> typ <type>
/// [raddr <addr>] [rport <port>] *(<name> <value>)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub foundation: String,
    /// 1 for RTP, 2 for RTCP; 1..=256.
    pub component: u16,
    /// `UDP` in practice; kept as written.
    pub transport: String,
    pub priority: u32,
    /// An IP address or, from browsers hiding it, an mDNS `.local` name.
    pub address: String,
    pub port: u16,
    pub kind: CandidateType,
    pub related_address: Option<String>,
    pub related_port: Option<u16>,
    /// Extension pairs (`generation 0`, `network-id 1`, `tcptype passive`...), in order.
    pub extensions: Vec<(String, String)>,
}

/// `typ` of a candidate (RFC 8445 §5.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CandidateType {
    Host,
    ServerReflexive,
    PeerReflexive,
    Relayed,
    Other(String),
}

impl CandidateType {
    fn parse(s: &str) -> CandidateType {
        match s {
            "host" => CandidateType::Host,
            "srflx" => CandidateType::ServerReflexive,
            "prflx" => CandidateType::PeerReflexive,
            "relay" => CandidateType::Relayed,
            other => CandidateType::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            CandidateType::Host => "host",
            CandidateType::ServerReflexive => "srflx",
            CandidateType::PeerReflexive => "prflx",
            CandidateType::Relayed => "relay",
            CandidateType::Other(s) => s,
        }
    }
}

/// Why a typed attribute was refused; the parser adds the line number.
pub(crate) type AttrResult = Result<Attribute, String>;

pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic())
}

fn number<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
    // `parse` accepts a leading '+', which no SDP grammar allows.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} is not a number: {s:?}"));
    }
    s.parse::<T>()
        .map_err(|_| format!("{what} is out of range: {s}"))
}

pub(crate) fn payload_type(s: &str) -> Result<Pt, String> {
    let n: u8 = number(s, "payload type")?;
    Pt::new(n).ok_or_else(|| format!("payload type is out of range: {n}"))
}

impl Attribute {
    /// Types one `a=` line's content (what follows `a=`).
    pub(crate) fn parse(line: &str) -> AttrResult {
        let (name, value) = match line.split_once(':') {
            Some((n, v)) => (n, Some(v)),
            None => (line, None),
        };
        if !is_token(name) {
            return Err(format!("bad attribute name {name:?}"));
        }
        let Some(value) = value else {
            return Ok(match name {
                "rtcp-mux" => Attribute::RtcpMux,
                "ice-lite" => Attribute::IceLite,
                _ => match Direction::parse(name) {
                    Some(d) => Attribute::Direction(d),
                    None => Attribute::Other {
                        name: name.to_string(),
                        value: None,
                    },
                },
            });
        };
        match name {
            "rtpmap" => parse_rtpmap(value),
            "fmtp" => {
                let (pt, params) = value.split_once(' ').unwrap_or((value, ""));
                Ok(Attribute::Fmtp {
                    pt: payload_type(pt)?,
                    params: params.trim().to_string(),
                })
            }
            "ptime" => Ok(Attribute::Ptime(ms(value)?)),
            "maxptime" => Ok(Attribute::MaxPtime(ms(value)?)),
            "rtcp" => parse_rtcp(value),
            "crypto" => Crypto::parse(value).map(Attribute::Crypto),
            "ice-ufrag" => Ok(Attribute::IceUfrag(ice_chars(value, "ice-ufrag")?)),
            "ice-pwd" => Ok(Attribute::IcePwd(ice_chars(value, "ice-pwd")?)),
            "candidate" => parse_candidate(value).map(Attribute::Candidate),
            "mid" if is_token(value) => Ok(Attribute::Mid(value.to_string())),
            "fingerprint" => match value.split_once(' ') {
                Some((hash, fp)) if is_token(hash) && is_token(fp) => Ok(Attribute::Fingerprint {
                    hash: hash.to_string(),
                    value: fp.to_string(),
                }),
                _ => Err(format!("bad fingerprint {value:?}")),
            },
            "setup" if is_token(value) => Ok(Attribute::Setup(value.to_string())),
            _ => Ok(Attribute::Other {
                name: name.to_string(),
                value: Some(value.to_string()),
            }),
        }
    }
}

/// A packet time: RFC 8866 allows a fraction (`ptime:20.0` from some gateways); we keep
/// whole milliseconds and refuse the absurd.
fn ms(value: &str) -> Result<u32, String> {
    let whole = value.split_once('.').map_or(value, |(w, _)| w);
    let n: u32 = number(whole, "packet time")?;
    if n == 0 || n > 10_000 {
        return Err(format!("packet time out of range: {value}"));
    }
    Ok(n)
}

/// ice-char = ALPHA / DIGIT / "+" / "/" (RFC 8839 §5.4).
fn ice_chars(value: &str, what: &str) -> Result<String, String> {
    if value.is_empty()
        || value.len() > 256
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    {
        return Err(format!("bad {what} {value:?}"));
    }
    Ok(value.to_string())
}

fn parse_rtpmap(value: &str) -> AttrResult {
    let (pt, rest) = value
        .split_once(' ')
        .ok_or_else(|| format!("rtpmap without encoding: {value:?}"))?;
    let mut parts = rest.trim().split('/');
    let encoding = parts.next().unwrap_or_default();
    if !is_token(encoding) {
        return Err(format!("bad rtpmap encoding {encoding:?}"));
    }
    let rate = parts
        .next()
        .ok_or_else(|| format!("rtpmap without clock rate: {value:?}"))?;
    let clock_rate: u32 = number(rate, "clock rate")?;
    if clock_rate == 0 {
        return Err("clock rate 0".into());
    }
    let channels = match parts.next() {
        Some(c) => Some(number::<u8>(c, "channel count")?).filter(|&c| c > 0),
        None => None,
    };
    if parts.next().is_some() {
        return Err(format!("rtpmap has too many fields: {value:?}"));
    }
    Ok(Attribute::Rtpmap(Rtpmap {
        pt: payload_type(pt)?,
        encoding: encoding.to_string(),
        clock_rate,
        channels,
    }))
}

fn parse_rtcp(value: &str) -> AttrResult {
    let mut f = value.split_ascii_whitespace();
    let port: u16 = number(f.next().unwrap_or_default(), "rtcp port")?;
    let rest: Vec<&str> = f.collect();
    let address = match rest.as_slice() {
        [] => None,
        [n, t, a] => Some(Address {
            net_type: n.to_string(),
            addr_type: t.to_string(),
            address: a.to_string(),
        }),
        _ => return Err(format!("bad rtcp address {value:?}")),
    };
    Ok(Attribute::Rtcp { port, address })
}

fn parse_candidate(value: &str) -> Result<Candidate, String> {
    let f: Vec<&str> = value.split_ascii_whitespace().collect();
    if f.len() < 8 || f[6] != "typ" {
        return Err(format!("bad candidate {value:?}"));
    }
    let component: u16 = number(f[1], "candidate component")?;
    if !(1..=256).contains(&component) {
        return Err(format!("candidate component out of range: {component}"));
    }
    if !is_token(f[0]) || f[0].len() > 32 {
        return Err(format!("bad candidate foundation {:?}", f[0]));
    }
    let mut c = Candidate {
        foundation: f[0].to_string(),
        component,
        transport: f[2].to_string(),
        priority: number(f[3], "candidate priority")?,
        address: f[4].to_string(),
        port: number(f[5], "candidate port")?,
        kind: CandidateType::parse(f[7]),
        related_address: None,
        related_port: None,
        extensions: Vec::new(),
    };
    let mut rest = f[8..].chunks(2);
    for pair in &mut rest {
        let [name, val] = pair else {
            return Err(format!("candidate extension without value: {value:?}"));
        };
        match *name {
            "raddr" if c.related_address.is_none() && c.extensions.is_empty() => {
                c.related_address = Some(val.to_string())
            }
            "rport" if c.related_port.is_none() && c.extensions.is_empty() => {
                c.related_port = Some(number(val, "candidate rport")?)
            }
            _ => c.extensions.push((name.to_string(), val.to_string())),
        }
    }
    Ok(c)
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {} typ {}",
            self.foundation,
            self.component,
            self.transport,
            self.priority,
            self.address,
            self.port,
            self.kind.as_str()
        )?;
        if let Some(a) = &self.related_address {
            write!(f, " raddr {a}")?;
        }
        if let Some(p) = self.related_port {
            write!(f, " rport {p}")?;
        }
        for (n, v) in &self.extensions {
            write!(f, " {n} {v}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Attribute {
    /// The content after `a=`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Attribute::Rtpmap(m) => {
                write!(f, "rtpmap:{} {}/{}", m.pt, m.encoding, m.clock_rate)?;
                if let Some(c) = m.channels {
                    write!(f, "/{c}")?;
                }
                Ok(())
            }
            Attribute::Fmtp { pt, params } => write!(f, "fmtp:{pt} {params}"),
            Attribute::Ptime(ms) => write!(f, "ptime:{ms}"),
            Attribute::MaxPtime(ms) => write!(f, "maxptime:{ms}"),
            Attribute::Direction(d) => f.write_str(d.as_str()),
            Attribute::Rtcp { port, address } => {
                write!(f, "rtcp:{port}")?;
                if let Some(a) = address {
                    write!(f, " {} {} {}", a.net_type, a.addr_type, a.address)?;
                }
                Ok(())
            }
            Attribute::RtcpMux => f.write_str("rtcp-mux"),
            Attribute::Crypto(c) => write!(f, "crypto:{c}"),
            Attribute::IceUfrag(u) => write!(f, "ice-ufrag:{u}"),
            Attribute::IcePwd(p) => write!(f, "ice-pwd:{p}"),
            Attribute::IceLite => f.write_str("ice-lite"),
            Attribute::Candidate(c) => write!(f, "candidate:{c}"),
            Attribute::Mid(m) => write!(f, "mid:{m}"),
            Attribute::Fingerprint { hash, value } => write!(f, "fingerprint:{hash} {value}"),
            Attribute::Setup(s) => write!(f, "setup:{s}"),
            Attribute::Other { name, value: None } => f.write_str(name),
            Attribute::Other {
                name,
                value: Some(v),
            } => write!(f, "{name}:{v}"),
        }
    }
}
