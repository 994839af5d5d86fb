//! Typed headers and the header list.

use crate::method::Method;
use crate::params::Params;
use crate::uri::{Host, Uri};

/// Transport token of a Via (RFC 3261 §20.42); unknown tokens are kept (RFC 4475 §3.1.1.10).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
    Sctp,
    Ws,
    Wss,
    Other(String),
}

impl Transport {
    pub fn as_str(&self) -> &str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
            Transport::Other(s) => s,
        }
    }

    /// Case-insensitive mapping of a transport token.
    pub fn from_token(s: &str) -> Transport {
        let known = [
            ("UDP", Transport::Udp),
            ("TCP", Transport::Tcp),
            ("TLS", Transport::Tls),
            ("SCTP", Transport::Sctp),
            ("WS", Transport::Ws),
            ("WSS", Transport::Wss),
        ];
        known
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map_or_else(|| Transport::Other(s.to_string()), |(_, t)| t)
    }

    /// Stream transports need Content-Length framing and keep a connection.
    pub fn is_reliable(&self) -> bool {
        !matches!(self, Transport::Udp)
    }
}

/// One Via value (RFC 3261 §20.42, RFC 3581 rport).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Protocol name and version, normally `SIP` / `2.0`.
    pub protocol: String,
    pub version: String,
    pub transport: Transport,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Params,
}

/// The RFC 3261 branch magic cookie.
pub const BRANCH_MAGIC: &str = "z9hG4bK";

impl Via {
    pub fn branch(&self) -> Option<&str> {
        self.params.value("branch")
    }

    /// True when the branch starts with the RFC 3261 magic cookie and carries more after it.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch()
            .is_some_and(|b| b.len() > BRANCH_MAGIC.len() && b.starts_with(BRANCH_MAGIC))
    }

    pub fn received(&self) -> Option<&str> {
        self.params.value("received")
    }

    /// `None`: no rport; `Some(None)`: bare `;rport` (a request for one, RFC 3581);
    /// `Some(Some(p))`: filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .get("rport")
            .map(|v| v.and_then(|p| p.parse::<u16>().ok()))
    }

    pub fn maddr(&self) -> Option<&str> {
        self.params.value("maddr")
    }

    /// The `received` address. The brackets RFC 3261's grammar forbids there
    /// (`received=[2001:db8::1]`) are tolerated, as RFC 5118 §4.5 asks.
    pub fn received_ip(&self) -> Option<std::net::IpAddr> {
        let r = self.received()?;
        let r = r
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(r);
        r.parse().ok()
    }

    /// The port a response goes to: rport if filled in (RFC 3581 §4), else the sent-by port.
    pub fn response_port(&self) -> Option<u16> {
        self.rport().flatten().or(self.port)
    }
}

/// A name-addr or addr-spec with header parameters (From, To, Contact, Route, ...).
///
/// `display` holds the display name without quotes and with quoted-pairs resolved;
/// the printer re-quotes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    pub display: Option<String>,
    pub uri: Uri,
    pub params: Params,
}

impl NameAddr {
    pub fn new(uri: Uri) -> Self {
        NameAddr {
            display: None,
            uri,
            params: Params::new(),
        }
    }

    pub fn tag(&self) -> Option<&str> {
        self.params.value("tag")
    }
}

impl std::str::FromStr for NameAddr {
    type Err = crate::ParseError;

    /// Parses one `name-addr` or `addr-spec` with header parameters, as the value of an
    /// untyped header carries it (P-Asserted-Identity, Remote-Party-ID, Referred-By).
    fn from_str(s: &str) -> Result<NameAddr, crate::ParseError> {
        crate::grammar::parse_name_addr(s).map_err(|r| crate::ParseError::syntax(None, r))
    }
}

/// A Contact value: `*` or an address (RFC 3261 §20.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactValue {
    Star,
    Addr(NameAddr),
}

/// CSeq (RFC 3261 §20.16). The number is checked to fit 32 bits at the parse boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

/// A Call-ID, compared byte for byte (RFC 3261 §20.8).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub String);

impl CallId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A header we do not type, kept byte-exact: the name as written and the value after the
/// colon, with folding (CRLF + WSP) and surrounding whitespace as they came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherHeader {
    pub name: String,
    pub value: String,
}

/// Canonical names of the typed headers, for lookups and error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeaderName {
    Via,
    From,
    To,
    CallId,
    CSeq,
    MaxForwards,
    ContentLength,
    ContentType,
    Contact,
    Route,
    RecordRoute,
    Expires,
    MinExpires,
    Require,
    ProxyRequire,
    Supported,
    Unsupported,
    Allow,
}

impl HeaderName {
    /// The long form as RFC 3261 writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            HeaderName::Via => "Via",
            HeaderName::From => "From",
            HeaderName::To => "To",
            HeaderName::CallId => "Call-ID",
            HeaderName::CSeq => "CSeq",
            HeaderName::MaxForwards => "Max-Forwards",
            HeaderName::ContentLength => "Content-Length",
            HeaderName::ContentType => "Content-Type",
            HeaderName::Contact => "Contact",
            HeaderName::Route => "Route",
            HeaderName::RecordRoute => "Record-Route",
            HeaderName::Expires => "Expires",
            HeaderName::MinExpires => "Min-Expires",
            HeaderName::Require => "Require",
            HeaderName::ProxyRequire => "Proxy-Require",
            HeaderName::Supported => "Supported",
            HeaderName::Unsupported => "Unsupported",
            HeaderName::Allow => "Allow",
        }
    }

    /// Maps a wire name (long or compact form, any case) to a typed header name.
    pub fn from_wire(name: &str) -> Option<HeaderName> {
        // Compared in place: this runs once per header line, so no lower-cased copy.
        const WIRE: [(&str, HeaderName); 24] = [
            ("via", HeaderName::Via),
            ("v", HeaderName::Via),
            ("from", HeaderName::From),
            ("f", HeaderName::From),
            ("to", HeaderName::To),
            ("t", HeaderName::To),
            ("call-id", HeaderName::CallId),
            ("i", HeaderName::CallId),
            ("cseq", HeaderName::CSeq),
            ("max-forwards", HeaderName::MaxForwards),
            ("content-length", HeaderName::ContentLength),
            ("l", HeaderName::ContentLength),
            ("content-type", HeaderName::ContentType),
            ("c", HeaderName::ContentType),
            ("contact", HeaderName::Contact),
            ("m", HeaderName::Contact),
            ("route", HeaderName::Route),
            ("record-route", HeaderName::RecordRoute),
            ("expires", HeaderName::Expires),
            ("min-expires", HeaderName::MinExpires),
            ("require", HeaderName::Require),
            ("proxy-require", HeaderName::ProxyRequire),
            ("supported", HeaderName::Supported),
            ("k", HeaderName::Supported),
        ];
        const MORE: [(&str, HeaderName); 2] = [
            ("unsupported", HeaderName::Unsupported),
            ("allow", HeaderName::Allow),
        ];
        WIRE.iter()
            .chain(MORE.iter())
            .find(|(n, _)| n.len() == name.len() && n.eq_ignore_ascii_case(name))
            .map(|(_, h)| *h)
    }
}

/// One header line's worth of meaning. Multi-valued headers appear once per value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Header {
    Via(Via),
    From(NameAddr),
    To(NameAddr),
    CallId(CallId),
    CSeq(CSeq),
    MaxForwards(u32),
    ContentLength(u32),
    /// The media type as written, e.g. `application/sdp` (parameters included).
    ContentType(String),
    Contact(ContactValue),
    Route(NameAddr),
    RecordRoute(NameAddr),
    Expires(u32),
    MinExpires(u32),
    Require(String),
    ProxyRequire(String),
    Supported(String),
    Unsupported(String),
    Allow(Method),
    Other(OtherHeader),
}

impl Header {
    /// The typed name, or `None` for [`Header::Other`].
    pub fn name(&self) -> Option<HeaderName> {
        Some(match self {
            Header::Via(_) => HeaderName::Via,
            Header::From(_) => HeaderName::From,
            Header::To(_) => HeaderName::To,
            Header::CallId(_) => HeaderName::CallId,
            Header::CSeq(_) => HeaderName::CSeq,
            Header::MaxForwards(_) => HeaderName::MaxForwards,
            Header::ContentLength(_) => HeaderName::ContentLength,
            Header::ContentType(_) => HeaderName::ContentType,
            Header::Contact(_) => HeaderName::Contact,
            Header::Route(_) => HeaderName::Route,
            Header::RecordRoute(_) => HeaderName::RecordRoute,
            Header::Expires(_) => HeaderName::Expires,
            Header::MinExpires(_) => HeaderName::MinExpires,
            Header::Require(_) => HeaderName::Require,
            Header::ProxyRequire(_) => HeaderName::ProxyRequire,
            Header::Supported(_) => HeaderName::Supported,
            Header::Unsupported(_) => HeaderName::Unsupported,
            Header::Allow(_) => HeaderName::Allow,
            Header::Other(_) => return None,
        })
    }
}

/// The headers of a message in wire order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Headers(pub Vec<Header>);

impl Headers {
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    pub fn push(&mut self, h: Header) {
        self.0.push(h);
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Header> {
        self.0.iter()
    }

    pub fn vias(&self) -> impl Iterator<Item = &Via> {
        self.0.iter().filter_map(|h| match h {
            Header::Via(v) => Some(v),
            _ => None,
        })
    }

    pub fn top_via(&self) -> Option<&Via> {
        self.vias().next()
    }

    pub fn top_via_mut(&mut self) -> Option<&mut Via> {
        self.0.iter_mut().find_map(|h| match h {
            Header::Via(v) => Some(v),
            _ => None,
        })
    }

    /// Inserts a Via above all others (what a proxy or UAC does when sending).
    pub fn push_via_top(&mut self, via: Via) {
        let at = self
            .0
            .iter()
            .position(|h| matches!(h, Header::Via(_)))
            .unwrap_or(0);
        self.0.insert(at, Header::Via(via));
    }

    /// Removes and returns the top Via (what a proxy does to a response).
    pub fn pop_top_via(&mut self) -> Option<Via> {
        let at = self.0.iter().position(|h| matches!(h, Header::Via(_)))?;
        match self.0.remove(at) {
            Header::Via(v) => Some(v),
            _ => None,
        }
    }

    pub fn from(&self) -> Option<&NameAddr> {
        self.0.iter().find_map(|h| match h {
            Header::From(v) => Some(v),
            _ => None,
        })
    }

    pub fn to(&self) -> Option<&NameAddr> {
        self.0.iter().find_map(|h| match h {
            Header::To(v) => Some(v),
            _ => None,
        })
    }

    pub fn to_mut(&mut self) -> Option<&mut NameAddr> {
        self.0.iter_mut().find_map(|h| match h {
            Header::To(v) => Some(v),
            _ => None,
        })
    }

    pub fn call_id(&self) -> Option<&CallId> {
        self.0.iter().find_map(|h| match h {
            Header::CallId(v) => Some(v),
            _ => None,
        })
    }

    pub fn cseq(&self) -> Option<&CSeq> {
        self.0.iter().find_map(|h| match h {
            Header::CSeq(v) => Some(v),
            _ => None,
        })
    }

    pub fn max_forwards(&self) -> Option<u32> {
        self.0.iter().find_map(|h| match h {
            Header::MaxForwards(v) => Some(*v),
            _ => None,
        })
    }

    pub fn content_length(&self) -> Option<u32> {
        self.0.iter().find_map(|h| match h {
            Header::ContentLength(v) => Some(*v),
            _ => None,
        })
    }

    pub fn content_type(&self) -> Option<&str> {
        self.0.iter().find_map(|h| match h {
            Header::ContentType(v) => Some(v.as_str()),
            _ => None,
        })
    }

    pub fn expires(&self) -> Option<u32> {
        self.0.iter().find_map(|h| match h {
            Header::Expires(v) => Some(*v),
            _ => None,
        })
    }

    pub fn contacts(&self) -> impl Iterator<Item = &ContactValue> {
        self.0.iter().filter_map(|h| match h {
            Header::Contact(v) => Some(v),
            _ => None,
        })
    }

    pub fn routes(&self) -> impl Iterator<Item = &NameAddr> {
        self.0.iter().filter_map(|h| match h {
            Header::Route(v) => Some(v),
            _ => None,
        })
    }

    pub fn record_routes(&self) -> impl Iterator<Item = &NameAddr> {
        self.0.iter().filter_map(|h| match h {
            Header::RecordRoute(v) => Some(v),
            _ => None,
        })
    }

    pub fn require(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|h| match h {
            Header::Require(v) => Some(v.as_str()),
            _ => None,
        })
    }

    pub fn proxy_require(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|h| match h {
            Header::ProxyRequire(v) => Some(v.as_str()),
            _ => None,
        })
    }

    pub fn supported(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|h| match h {
            Header::Supported(v) => Some(v.as_str()),
            _ => None,
        })
    }

    pub fn allow(&self) -> impl Iterator<Item = &Method> {
        self.0.iter().filter_map(|h| match h {
            Header::Allow(v) => Some(v),
            _ => None,
        })
    }

    /// Values of an untyped header by name, trimmed. Names compare case-insensitively and
    /// a compact form matches its long form either way (`o` is `Event`, RFC 3261 §7.3.3
    /// and the extensions' registrations).
    pub fn other<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter_map(move |h| match h {
            Header::Other(o) if same_header_name(&o.name, name) => Some(o.value.trim()),
            _ => None,
        })
    }

    /// Removes every header with this typed name.
    pub fn remove(&mut self, name: HeaderName) {
        self.0.retain(|h| h.name() != Some(name));
    }

    /// Removes every untyped header with this name (or its compact form).
    pub fn remove_other(&mut self, name: &str) {
        self.0
            .retain(|h| !matches!(h, Header::Other(o) if same_header_name(&o.name, name)));
    }
}

/// Compact forms of the untyped headers (IANA SIP header registry) beside their long names.
const UNTYPED_COMPACT: [(&str, &str); 12] = [
    ("a", "Accept-Contact"),
    ("b", "Referred-By"),
    ("d", "Request-Disposition"),
    ("e", "Content-Encoding"),
    ("j", "Reject-Contact"),
    ("n", "Identity-Info"),
    ("o", "Event"),
    ("r", "Refer-To"),
    ("s", "Subject"),
    ("u", "Allow-Events"),
    ("x", "Session-Expires"),
    ("y", "Identity"),
];

/// Header names are equal ignoring case, or one is the compact form of the other.
fn same_header_name(a: &str, b: &str) -> bool {
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    let long = |n: &str| {
        UNTYPED_COMPACT
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(n))
            .map(|(_, l)| *l)
    };
    match (long(a), long(b)) {
        (Some(l), None) => l.eq_ignore_ascii_case(b),
        (None, Some(l)) => l.eq_ignore_ascii_case(a),
        _ => false,
    }
}
