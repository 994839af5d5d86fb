//! The printer: [`Message`] to bytes that parse back to the same value.
//!
//! Typed headers print in their long form with canonical spacing; [`Header::Other`] prints
//! its name and value exactly as they were received. Content-Length always states the
//! length of the body being sent, whatever the header list says.

use crate::header::{CSeq, ContactValue, Header, NameAddr, Via};
use crate::msg::{Message, Request, Response};
use crate::params::Params;
use crate::uri::{Host, SipUri, TelUri, Uri};
use std::fmt::{self, Display, Formatter, Write as _};

impl Request {
    /// The request on the wire, with a Content-Length that matches the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut head = String::with_capacity(512);
        let _ = write!(head, "{} {} SIP/2.0\r\n", self.method, self.uri);
        finish(head, &self.headers.0, &self.body)
    }
}

impl Response {
    /// The response on the wire, with a Content-Length that matches the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut head = String::with_capacity(512);
        // CR and LF would end the status line early; the reason phrase is text only.
        let reason = self.reason.replace(['\r', '\n'], " ");
        let _ = write!(head, "SIP/2.0 {} {}\r\n", self.status, reason);
        finish(head, &self.headers.0, &self.body)
    }
}

impl Message {
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }
}

/// Appends the headers, a truthful Content-Length, the empty line and the body.
fn finish(mut head: String, headers: &[Header], body: &[u8]) -> Vec<u8> {
    let mut has_cl = false;
    for (i, h) in headers.iter().enumerate() {
        if let Header::ContentLength(_) = h {
            // A stale or duplicated count would misframe the body for the receiver.
            if !has_cl {
                let _ = write!(head, "Content-Length: {}\r\n", body.len());
            }
            has_cl = true;
            continue;
        }
        // Consecutive values of a token-list header share one line (`Allow: INVITE, ACK`),
        // as peers and people expect; the parser splits them back into the same entries.
        let joins_previous = i > 0 && is_token_list(h) && same_kind(&headers[i - 1], h);
        if joins_previous {
            head.truncate(head.len() - 2);
            let _ = match h {
                Header::Allow(m) => write!(head, ", {m}\r\n"),
                Header::Supported(v)
                | Header::Require(v)
                | Header::ProxyRequire(v)
                | Header::Unsupported(v) => write!(head, ", {v}\r\n"),
                _ => unreachable!("is_token_list admits only these"),
            };
        } else {
            let _ = write!(head, "{h}\r\n");
        }
    }
    if !has_cl {
        let _ = write!(head, "Content-Length: {}\r\n", body.len());
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Headers whose values are comma-separated tokens and may share a line.
fn is_token_list(h: &Header) -> bool {
    matches!(
        h,
        Header::Allow(_)
            | Header::Supported(_)
            | Header::Require(_)
            | Header::ProxyRequire(_)
            | Header::Unsupported(_)
    )
}

fn same_kind(a: &Header, b: &Header) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

impl Display for Host {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

impl Display for Params {
    /// `;name=value;flag`, values as stored.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (n, v) in &self.0 {
            match v {
                Some(v) => write!(f, ";{n}={v}")?,
                None => write!(f, ";{n}")?,
            }
        }
        Ok(())
    }
}

impl Display for SipUri {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)?;
        for (i, (n, v)) in self.headers.iter().enumerate() {
            f.write_str(if i == 0 { "?" } else { "&" })?;
            write!(f, "{n}={v}")?;
        }
        Ok(())
    }
}

impl Display for TelUri {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "tel:{}{}", self.number, self.params)
    }
}

impl Display for Uri {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Tel(u) => u.fmt(f),
            Uri::Other { scheme, rest } => write!(f, "{scheme}:{rest}"),
        }
    }
}

impl Display for Via {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{} {}",
            self.protocol,
            self.version,
            self.transport.as_str(),
            self.host
        )?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)
    }
}

/// Writes a quoted-string, escaping what qdtext cannot carry (RFC 3261 §25.1).
fn write_quoted(f: &mut Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                f.write_char('\\')?;
                f.write_char(c)?;
            }
            // A quoted-pair cannot carry CR or LF; they could only come from a caller.
            '\r' | '\n' => f.write_char(' ')?,
            '\t' => f.write_char(c)?,
            c if c.is_ascii_control() => {
                f.write_char('\\')?;
                f.write_char(c)?;
            }
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

impl Display for NameAddr {
    /// Always the name-addr form (`<uri>`), so header parameters can never be mistaken for
    /// URI parameters by the next parser.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            write_quoted(f, d)?;
            f.write_char(' ')?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

impl Display for CSeq {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

impl Display for ContactValue {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ContactValue::Star => f.write_char('*'),
            ContactValue::Addr(a) => a.fmt(f),
        }
    }
}

impl Display for Header {
    /// One header line without its CRLF.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Header::Other(o) = self {
            f.write_str(&o.name)?;
            f.write_char(':')?;
            return write_other_value(f, &o.value);
        }
        let name = self.name().map_or("", |n| n.as_str());
        write!(f, "{name}: ")?;
        match self {
            Header::Via(v) => v.fmt(f),
            Header::From(a) | Header::To(a) | Header::Route(a) | Header::RecordRoute(a) => a.fmt(f),
            Header::CallId(c) => f.write_str(c.as_str()),
            Header::CSeq(c) => c.fmt(f),
            Header::MaxForwards(n)
            | Header::ContentLength(n)
            | Header::Expires(n)
            | Header::MinExpires(n) => write!(f, "{n}"),
            Header::ContentType(s)
            | Header::Require(s)
            | Header::ProxyRequire(s)
            | Header::Supported(s)
            | Header::Unsupported(s) => f.write_str(s),
            Header::Allow(m) => m.fmt(f),
            Header::Contact(c) => c.fmt(f),
            Header::Other(_) => Ok(()),
        }
    }
}

/// An untyped value as received; a line break that is not a fold (CRLF + SP/HT) could only
/// come from a caller and would inject a header, so it is printed as SP.
fn write_other_value(f: &mut Formatter<'_>, v: &str) -> fmt::Result {
    if !v.contains(['\r', '\n']) {
        return f.write_str(v);
    }
    let b = v.as_bytes();
    let mut last = 0;
    for (i, &c) in b.iter().enumerate() {
        let is_fold = match c {
            b'\r' => b.get(i + 1) == Some(&b'\n') && matches!(b.get(i + 2), Some(b' ' | b'\t')),
            b'\n' => matches!(b.get(i + 1), Some(b' ' | b'\t')),
            _ => continue,
        };
        if !is_fold {
            f.write_str(&v[last..i])?;
            f.write_char(' ')?;
            last = i + 1;
        }
    }
    f.write_str(&v[last..])
}

impl Display for Request {
    /// The whole request as text (a binary body is shown lossily).
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

impl Display for Response {
    /// The whole response as text (a binary body is shown lossily).
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}
