//! Builders for SIP messages in tests: typed values, no parser needed.
//!
//! ```
//! use sb_netsim::sip::{RequestBuilder, response_to};
//! use sb_sip_msg::{Method, StatusCode};
//! let invite = RequestBuilder::new(Method::Invite, "bob", "example.com")
//!     .via_udp("192.0.2.1", 5060, Some("z9hG4bK776asdhds"))
//!     .from("alice", "example.com", "1928301774")
//!     .call_id("a84b4c76e66710")
//!     .cseq(314159)
//!     .build();
//! let ringing = response_to(&invite, StatusCode::RINGING, Some("a6c85cf"));
//! assert_eq!(ringing.headers.to().unwrap().tag(), Some("a6c85cf"));
//! ```

use std::net::{IpAddr, Ipv4Addr};

use sb_sip_msg::{
    CSeq, CallId, Header, Host, Method, NameAddr, Params, Request, Response, SipUri, StatusCode,
    Transport, Uri, Via,
};

/// A host from text: an IP literal or a domain name.
pub fn host(s: &str) -> Host {
    match s.trim_matches(|c| c == '[' || c == ']').parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => Host::V4(a),
        Ok(IpAddr::V6(a)) => Host::V6(a),
        Err(_) => Host::Domain(s.to_string()),
    }
}

/// `sip:user@host` (no user when `user` is empty).
pub fn sip_uri(user: &str, host_s: &str) -> Uri {
    Uri::Sip(SipUri {
        secure: false,
        user: (!user.is_empty()).then(|| user.to_string()),
        password: None,
        host: host(host_s),
        port: None,
        params: Params::new(),
        headers: Vec::new(),
    })
}

/// `SIP/2.0/<transport> host:port;branch=...`.
pub fn via(transport: Transport, host_s: &str, port: u16, branch: Option<&str>) -> Via {
    let mut params = Params::new();
    if let Some(b) = branch {
        params.set("branch", Some(b));
    }
    Via {
        protocol: "SIP".into(),
        version: "2.0".into(),
        transport,
        host: host(host_s),
        port: Some(port),
        params,
    }
}

fn name_addr(user: &str, host_s: &str, tag: Option<&str>) -> NameAddr {
    let mut na = NameAddr::new(sip_uri(user, host_s));
    if let Some(t) = tag {
        na.params.set("tag", Some(t));
    }
    na
}

/// A request under construction. Headers come out in the order of the calls, with
/// Max-Forwards 70 and the CSeq added at `build` unless set.
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    req: Request,
    cseq: u32,
    max_forwards: Option<u32>,
}

impl RequestBuilder {
    pub fn new(method: Method, user: &str, host_s: &str) -> Self {
        RequestBuilder {
            req: Request::new(method, sip_uri(user, host_s)),
            cseq: 1,
            max_forwards: Some(70),
        }
    }

    pub fn uri(mut self, uri: Uri) -> Self {
        self.req.uri = uri;
        self
    }

    pub fn via(mut self, v: Via) -> Self {
        self.req.headers.push(Header::Via(v));
        self
    }

    pub fn via_udp(self, host_s: &str, port: u16, branch: Option<&str>) -> Self {
        self.via(via(Transport::Udp, host_s, port, branch))
    }

    pub fn from(mut self, user: &str, host_s: &str, tag: &str) -> Self {
        self.req
            .headers
            .push(Header::From(name_addr(user, host_s, Some(tag))));
        self
    }

    pub fn to(mut self, user: &str, host_s: &str, tag: Option<&str>) -> Self {
        self.req
            .headers
            .push(Header::To(name_addr(user, host_s, tag)));
        self
    }

    pub fn call_id(mut self, id: &str) -> Self {
        self.req
            .headers
            .push(Header::CallId(CallId(id.to_string())));
        self
    }

    pub fn cseq(mut self, n: u32) -> Self {
        self.cseq = n;
        self
    }

    pub fn route(mut self, host_s: &str) -> Self {
        let mut na = NameAddr::new(sip_uri("", host_s));
        if let Uri::Sip(u) = &mut na.uri {
            u.params.set("lr", None);
        }
        self.req.headers.push(Header::Route(na));
        self
    }

    pub fn header(mut self, h: Header) -> Self {
        self.req.headers.push(h);
        self
    }

    pub fn no_max_forwards(mut self) -> Self {
        self.max_forwards = None;
        self
    }

    /// Adds To (the Request-URI, no tag) if absent, Max-Forwards and CSeq.
    pub fn build(mut self) -> Request {
        if self.req.headers.to().is_none() {
            let to = NameAddr::new(self.req.uri.clone());
            self.req.headers.push(Header::To(to));
        }
        if let Some(mf) = self.max_forwards {
            self.req.headers.push(Header::MaxForwards(mf));
        }
        let method = self.req.method.clone();
        self.req.headers.push(Header::CSeq(CSeq {
            seq: self.cseq,
            method,
        }));
        self.req
    }
}

/// A ready-made request from alice at `192.0.2.1` to bob, with a branch derived from
/// `call_id` and `cseq` (so tests can predict it).
pub fn simple_request(method: Method, call_id: &str, cseq: u32) -> Request {
    let branch = format!("z9hG4bK-{call_id}-{cseq}");
    RequestBuilder::new(method, "bob", "192.0.2.2")
        .via_udp("192.0.2.1", 5060, Some(&branch))
        .from("alice", "example.com", "alice-tag")
        .to("bob", "example.com", None)
        .call_id(call_id)
        .cseq(cseq)
        .build()
}

/// A response to `req` that copies Via, From, To, Call-ID and CSeq (§8.2.6.2), adding
/// `to_tag` to the To header when given.
pub fn response_to(req: &Request, status: StatusCode, to_tag: Option<&str>) -> Response {
    let mut resp = Response::new(status);
    for h in req.headers.iter() {
        match h {
            Header::Via(_) | Header::From(_) | Header::CallId(_) | Header::CSeq(_) => {
                resp.headers.push(h.clone())
            }
            Header::To(t) => {
                let mut t = t.clone();
                if let Some(tag) = to_tag {
                    t.params.set("tag", Some(tag));
                }
                resp.headers.push(Header::To(t));
            }
            _ => {}
        }
    }
    resp
}

/// `192.0.2.<n>:5060`, the documentation address of simulated node `n`.
pub fn node_addr(n: usize) -> std::net::SocketAddr {
    let last = u8::try_from(n % 250).expect("n % 250 fits in u8") + 1;
    std::net::SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)), 5060)
}
