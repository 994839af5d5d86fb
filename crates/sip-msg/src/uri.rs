//! URIs: `sip:`/`sips:` (RFC 3261 §19.1), `tel:` (RFC 3966) and any other absolute URI.

use crate::params::Params;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A host: a domain name, an IPv4 address or an IPv6 reference (printed in brackets).
///
/// The RFC 3261 ABNF admits `[2001:db8:::192.0.2.1]` (three colons); RFC 5118 §4.10 asks us
/// to tolerate it, so the parser repairs it to the RFC 4291 form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A domain name as written (compare with [`Host::eq_ignore_case`]).
    Domain(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl Host {
    /// Hosts compare case-insensitively (RFC 3261 §19.1.4).
    pub fn eq_ignore_case(&self, other: &Host) -> bool {
        match (self, other) {
            (Host::Domain(a), Host::Domain(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a == b,
        }
    }
}

/// A `sip:` or `sips:` URI. `user` and `password` are kept escaped exactly as on the wire,
/// so printing is faithful; [`SipUri::user_unescaped`] gives the decoded user part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    pub secure: bool,
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Params,
    /// `?name=value&...` headers, escaped as on the wire.
    pub headers: Vec<(String, String)>,
}

/// A `tel:` URI (RFC 3966): the number as written and its parameters (`;ext=`, `;phone-context=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelUri {
    pub number: String,
    pub params: Params,
}

/// Any URI a SIP message can carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    Sip(SipUri),
    Tel(TelUri),
    /// Any other absolute URI: the scheme (lower-cased) and the rest after the colon, as written.
    Other {
        scheme: String,
        rest: String,
    },
}

impl Uri {
    /// The scheme in lower case: `sip`, `sips`, `tel`, or the other scheme.
    pub fn scheme(&self) -> &str {
        match self {
            Uri::Sip(u) if u.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Tel(_) => "tel",
            Uri::Other { scheme, .. } => scheme,
        }
    }

    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }
}

impl SipUri {
    /// The user part with `%HH` escapes decoded (RFC 3261 §19.1.4). Returns bytes: an
    /// escaped NUL is legal (RFC 4475 §3.1.1.4) and must not truncate the user.
    pub fn user_unescaped(&self) -> Option<Vec<u8>> {
        self.user.as_deref().map(crate::uri::unescape)
    }
}

/// Decodes `%HH` escapes once (never recursively); a `%` not followed by two hex digits is
/// kept literally.
pub fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

impl std::str::FromStr for Uri {
    type Err = crate::ParseError;

    /// Parses one absolute URI as written in configuration or a header (no angle brackets).
    fn from_str(s: &str) -> Result<Uri, crate::ParseError> {
        crate::grammar::parse_uri(s).map_err(|r| crate::ParseError::syntax(None, r))
    }
}
