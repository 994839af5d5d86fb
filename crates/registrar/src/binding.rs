//! Addresses of record, bindings and the values they are made of (RFC 3261 §10.2, §10.3;
//! RFC 5626 §6).

use sb_sip_msg::{
    parse_datagram, CallId, ContactValue, Header, Host, Message, NameAddr, SipUri, Transport, Uri,
};
use std::fmt;
use std::net::SocketAddr;

/// An address-of-record in canonical form (RFC 3261 §10.3 step 5: `sip:user@domain`): the
/// port, URI parameters and headers removed (a phone that writes `sip:alice@example.com:5060`
/// in To registers alice, not a different record per port), escapes in the user part resolved (then
/// re-escaped the one canonical way, so two spellings of one user give one key), and the
/// host in lower case. `sips:` AORs map to the same `sip:` key: one person, one set of
/// bindings, whichever scheme a device used to register.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Aor(String);

impl Aor {
    /// The AOR named by a sip/sips URI.
    pub fn from_sip_uri(u: &SipUri) -> Aor {
        let mut s = String::from("sip:");
        if let Some(user) = u.user_unescaped() {
            escape_user(&user, &mut s);
            s.push('@');
        }
        s.push_str(&host_lower(&u.host));
        Aor(s)
    }

    /// The AOR of `user` in `domain` (for example the digest username and realm the
    /// caller authenticated), in the same canonical form.
    pub fn from_user(user: &str, domain: &str) -> Aor {
        let mut s = String::from("sip:");
        escape_user(user.as_bytes(), &mut s);
        s.push('@');
        s.push_str(&domain.to_ascii_lowercase());
        Aor(s)
    }

    /// The AOR named by a URI, if it is a sip/sips URI.
    pub fn from_uri(u: &Uri) -> Option<Aor> {
        u.as_sip().map(Aor::from_sip_uri)
    }

    /// Rebuilds an AOR from a string that [`Aor::as_str`] produced (what a store keeps).
    pub fn from_canonical(s: impl Into<String>) -> Aor {
        Aor(s.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host part (the domain a registrar checks it serves).
    pub fn host(&self) -> &str {
        let rest = self.0.strip_prefix("sip:").unwrap_or(&self.0);
        let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        if host.starts_with('[') {
            return host.split_once(']').map_or(host, |(h, _)| &h[1..]);
        }
        host.split_once(':').map_or(host, |(h, _)| h)
    }
}

impl fmt::Display for Aor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A q-value in thousandths, 0..=1000 (RFC 3261 §20.10, §25.1 `qvalue`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Q(u16);

impl Q {
    pub const MAX: Q = Q(1000);

    /// Parses `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`.
    pub fn parse(s: &str) -> Option<Q> {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut thousandths: u16 = 0;
        for (i, b) in frac.bytes().enumerate() {
            thousandths += u16::from(b - b'0') * [100, 10, 1][i];
        }
        match int {
            "0" => Some(Q(thousandths)),
            "1" if thousandths == 0 => Some(Q(1000)),
            _ => None,
        }
    }

    pub fn thousandths(self) -> u16 {
        self.0
    }
}

impl fmt::Display for Q {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

/// Where a REGISTER came from: the flow (RFC 5626 §6) a request to this binding can use.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Source {
    pub transport: Transport,
    pub addr: SocketAddr,
}

/// What identifies a binding within its AOR.
///
/// RFC 5626 §6: a Contact with `+sip.instance` and `reg-id` is the flow `(instance,
/// reg-id)`; with `+sip.instance` alone (RFC 5627 §4.2 / RFC 5626 §6 without outbound),
/// the instance; otherwise the Contact URI compared per RFC 3261 §19.1.4. So a device
/// that re-registers from a new address replaces its own binding instead of leaving the
/// old one to expire.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BindingKey {
    Instance {
        instance: String,
        reg_id: Option<u32>,
    },
    Uri(String),
}

/// One binding of an AOR to a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub aor: Aor,
    pub key: BindingKey,
    /// The Contact as received: display name, URI (with its parameters and escaped
    /// headers as written, RFC 4475 `cparam02`, `regescrt`) and header parameters
    /// (`cparam01`) are kept; only `expires` is rewritten when the binding is listed.
    pub contact: NameAddr,
    /// `None` when the Contact had no q; it then sorts as 1.0.
    pub q: Option<Q>,
    /// Unix seconds at which the binding lapses.
    pub expires_at: u64,
    pub call_id: CallId,
    pub cseq: u32,
    /// The `+sip.instance` value as written (quotes removed).
    pub instance: Option<String>,
    pub reg_id: Option<u32>,
    pub source: Source,
    /// Path header values of the REGISTER, in order (RFC 3327 §5.3), as written.
    pub path: Vec<String>,
    /// Unix seconds of the last REGISTER that added or refreshed it.
    pub updated_at: u64,
    /// Tie-breaker for recency within one second (larger is more recent).
    pub seq: u64,
}

impl Binding {
    /// Seconds left, 0 when lapsed.
    pub fn expires_in(&self, now: u64) -> u64 {
        self.expires_at.saturating_sub(now)
    }

    /// The Contact as listed in a 200: as received, with `expires` set to the time left
    /// (RFC 3261 §10.3 step 8).
    pub fn listed_contact(&self, now: u64) -> NameAddr {
        let mut c = self.contact.clone();
        c.params
            .set("expires", Some(&self.expires_in(now).to_string()));
        c
    }

    /// The q used for ordering (absent counts as 1.0).
    pub fn effective_q(&self) -> Q {
        self.q.unwrap_or(Q::MAX)
    }
}

/// Parses a Contact value as [`NameAddr`]'s `Display` prints it (what a store keeps)
/// back into a [`NameAddr`], for [`crate::Registrar::restore`]. `None` unless it is
/// exactly one name-addr or addr-spec.
pub fn parse_contact(s: &str) -> Option<NameAddr> {
    // Stored text is trusted less than it looks: a line break would let it inject headers
    // into the wrapper message below.
    if s.bytes().any(|b| b == b'\r' || b == b'\n') {
        return None;
    }
    // sb-sip-msg parses Contact values inside a message only; wrap the value in one.
    let wire = format!("OPTIONS sip:x SIP/2.0\r\nContact: {s}\r\nContent-Length: 0\r\n\r\n");
    let Ok(Message::Request(req)) = parse_datagram(wire.as_bytes()) else {
        return None;
    };
    let mut contacts = req.headers.iter().filter_map(|h| match h {
        Header::Contact(c) => Some(c),
        _ => None,
    });
    match (contacts.next(), contacts.next()) {
        (Some(ContactValue::Addr(a)), None) => Some(a.clone()),
        _ => None,
    }
}

/// A key for comparing Contact URIs (RFC 3261 §19.1.4, simplified): scheme, user with
/// escapes resolved, password, host case-insensitively, port, parameters in any order
/// (names and values case-insensitively), headers as written. Other URIs compare as
/// written with the scheme in lower case.
pub fn uri_key(u: &Uri) -> String {
    let Uri::Sip(s) = u else {
        return u.to_string();
    };
    let mut k = String::from(if s.secure { "sips:" } else { "sip:" });
    if let Some(user) = s.user_unescaped() {
        escape_user(&user, &mut k);
        if let Some(p) = &s.password {
            k.push(':');
            k.push_str(p);
        }
        k.push('@');
    }
    k.push_str(&host_lower(&s.host));
    if let Some(p) = s.port {
        k.push_str(&format!(":{p}"));
    }
    let mut params: Vec<String> = s
        .params
        .iter()
        .map(|(n, v)| match v {
            Some(v) => format!(";{}={}", n.to_ascii_lowercase(), v.to_ascii_lowercase()),
            None => format!(";{}", n.to_ascii_lowercase()),
        })
        .collect();
    params.sort();
    k.extend(params);
    for (i, (n, v)) in s.headers.iter().enumerate() {
        k.push(if i == 0 { '?' } else { '&' });
        k.push_str(&format!("{n}={v}"));
    }
    k
}

fn host_lower(h: &Host) -> String {
    match h {
        Host::Domain(d) => d.to_ascii_lowercase(),
        Host::V4(a) => a.to_string(),
        Host::V6(a) => format!("[{a}]"),
    }
}

/// Writes a user part with everything but RFC 3261 `unreserved` and `user-unreserved`
/// escaped, upper-case hex: the one canonical spelling.
fn escape_user(bytes: &[u8], out: &mut String) {
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sb_sip_msg::Params;

    fn sip(user: Option<&str>, host: &str, port: Option<u16>, secure: bool) -> SipUri {
        SipUri {
            secure,
            user: user.map(str::to_string),
            password: None,
            host: Host::Domain(host.into()),
            port,
            params: Params(vec![("transport".into(), Some("tcp".into()))]),
            headers: vec![("X".into(), "1".into())],
        }
    }

    #[test]
    fn aor_is_canonical() {
        let a = Aor::from_sip_uri(&sip(Some("al%69ce"), "Example.COM", None, true));
        assert_eq!(a.as_str(), "sip:alice@example.com");
        assert_eq!(
            a,
            Aor::from_sip_uri(&sip(Some("alice"), "example.com", None, false))
        );
        assert_eq!(a.host(), "example.com");
        assert_eq!(a, Aor::from_user("alice", "EXAMPLE.com"));
        let odd = Aor::from_sip_uri(&sip(Some("a%20b%00"), "h", Some(5070), false));
        assert_eq!(odd.as_str(), "sip:a%20b%00@h");
        assert_eq!(odd.host(), "h");
        let v6 = SipUri {
            host: Host::V6("2001:db8::1".parse().unwrap()),
            ..sip(None, "x", Some(5060), false)
        };
        assert_eq!(Aor::from_sip_uri(&v6).host(), "2001:db8::1");
    }

    #[test]
    fn q_values() {
        let table = [
            ("0", Some(0)),
            ("0.5", Some(500)),
            ("0.123", Some(123)),
            ("1", Some(1000)),
            ("1.000", Some(1000)),
            ("1.", Some(1000)),
            ("1.001", None),
            ("0.1234", None),
            ("2", None),
            ("-0.1", None),
            ("", None),
            (".5", None),
            ("0.x", None),
        ];
        for (s, want) in table {
            assert_eq!(Q::parse(s).map(Q::thousandths), want, "{s:?}");
        }
        assert_eq!(Q(500).to_string(), "0.500");
    }

    #[test]
    fn stored_contacts_parse_back() {
        let text =
            "\"Desk \\\"A\\\"\" <sip:a@h;transport=tcp?X=%3C>;q=0.5;+sip.instance=\"<urn:x>\"";
        let c = parse_contact(text).unwrap();
        assert_eq!(c.display.as_deref(), Some("Desk \"A\""));
        assert_eq!(parse_contact(&c.to_string()), Some(c));
        assert!(parse_contact("sip:a@h").is_some());
        for bad in [
            "",
            "*",
            "<sip:a@h>, <sip:b@h>",
            "<sip:a@h>\r\nVia: x",
            "<sip:a@h",
        ] {
            assert_eq!(parse_contact(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn uri_key_ignores_case_and_param_order() {
        let a: Uri = Uri::Sip(sip(Some("bob"), "Host.example", None, false));
        let mut b = sip(Some("b%6Fb"), "host.EXAMPLE", None, false);
        b.params = Params(vec![("TRANSPORT".into(), Some("TCP".into()))]);
        assert_eq!(uri_key(&a), uri_key(&Uri::Sip(b.clone())));
        b.port = Some(5060);
        assert_ne!(uri_key(&a), uri_key(&Uri::Sip(b)));
    }
}
