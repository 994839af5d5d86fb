//! Matching keys (§17.1.3 for responses, §17.2.3 for requests), hashable so that lookup
//! stays O(1) however many transactions are alive.

use sb_sip_msg::{Host, Method, Request, Response, Uri, Via};

/// §17.1.3: a response matches a client transaction by the branch of its top Via and the
/// method of its CSeq (the method is needed because a CANCEL shares its INVITE's branch).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey {
    pub branch: Box<str>,
    pub method: Method,
}

impl ClientKey {
    pub fn of_response(resp: &Response) -> Option<ClientKey> {
        let branch = resp.headers.top_via()?.branch()?;
        let method = resp.headers.cseq()?.method.clone();
        Some(ClientKey {
            branch: branch.into(),
            method,
        })
    }
}

/// §17.2.3: how a request finds its server transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ServerKey {
    /// Branch with the magic cookie, sent-by of the top Via, and the method, with ACK
    /// counted as INVITE so that it reaches the INVITE transaction.
    Rfc3261 {
        branch: Box<str>,
        host: Box<str>,
        port: Option<u16>,
        method: Method,
    },
    /// RFC 2543 peers have no unique branch: Request-URI, From tag, Call-ID, CSeq number,
    /// top Via and method (ACK as INVITE). The To tag is checked after the lookup, because
    /// for an ACK it is the tag of our response, not of the INVITE.
    Rfc2543 {
        uri: Box<str>,
        from_tag: Option<Box<str>>,
        call_id: Box<str>,
        cseq: u32,
        via: Box<str>,
        method: Method,
    },
}

impl ServerKey {
    /// The key of a request, with ACK (and, when `as_invite`, any method) mapped to INVITE.
    pub fn of_request(req: &Request, as_invite: bool) -> Option<ServerKey> {
        let via = req.headers.top_via()?;
        let method = if as_invite || req.method == Method::Ack {
            Method::Invite
        } else {
            req.method.clone()
        };
        if via.has_rfc3261_branch() {
            return Some(ServerKey::Rfc3261 {
                branch: via.branch()?.into(),
                host: host_key(&via.host).into(),
                port: via.port,
                method,
            });
        }
        Some(ServerKey::Rfc2543 {
            uri: uri_key(&req.uri).into(),
            from_tag: req.headers.from()?.tag().map(Into::into),
            call_id: req.headers.call_id()?.as_str().into(),
            cseq: req.headers.cseq()?.seq,
            via: via_key(via).into(),
            method,
        })
    }

    pub fn is_rfc2543(&self) -> bool {
        matches!(self, ServerKey::Rfc2543 { .. })
    }
}

fn host_key(h: &Host) -> String {
    match h {
        Host::Domain(d) => d.to_ascii_lowercase(),
        Host::V4(a) => a.to_string(),
        Host::V6(a) => a.to_string(),
    }
}

fn via_key(v: &Via) -> String {
    let mut s = format!(
        "{}/{}:{:?}",
        v.transport.as_str(),
        host_key(&v.host),
        v.port
    );
    if let Some(b) = v.branch() {
        s.push(';');
        s.push_str(b);
    }
    s
}

/// A canonical form of a URI for equality in the RFC 2543 fallback: scheme, user, host
/// (case-folded), port and parameters in sorted order, in the spirit of §19.1.4.
fn uri_key(uri: &Uri) -> String {
    match uri {
        Uri::Sip(u) => {
            let mut params: Vec<String> = u
                .params
                .iter()
                .map(|(n, v)| format!("{}={}", n.to_ascii_lowercase(), v.unwrap_or("")))
                .collect();
            params.sort();
            format!(
                "{}:{}@{}:{:?};{}",
                uri.scheme(),
                u.user.as_deref().unwrap_or(""),
                host_key(&u.host),
                u.port,
                params.join(";")
            )
        }
        Uri::Tel(t) => format!("tel:{}", t.number),
        Uri::Other { scheme, rest } => format!("{scheme}:{rest}"),
    }
}
