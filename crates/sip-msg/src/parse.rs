//! The parser: bytes to [`Message`]. Liberal where RFC 4475 allows, strict where it asks.
//!
//! Line ends are CRLF; bare LF is tolerated (text copies of messages, the RFC 5118 archive).
//! A line starting with SP or HT continues the previous header (RFC 3261 §7.3.1). Header
//! names are case-insensitive and compact forms map to the long ones. Typed headers are
//! parsed with the RFC 3261 §25 grammar; every other header is kept byte-exact.

use crate::error::{ParseError, ParseErrorKind, ParseWarning};
use crate::grammar::{self, is_token, split_commas};
use crate::header::{CSeq, CallId, ContactValue, Header, HeaderName, OtherHeader};
use crate::method::Method;
use crate::msg::{Message, Request, Response, StatusCode};

/// Parses one message from one datagram (or one file): the body is framed by Content-Length,
/// octets after it are ignored (RFC 4475 §3.1.1.8), and a datagram without Content-Length
/// takes the rest of the datagram as its body (RFC 3261 §18.3).
pub fn parse_datagram(bytes: &[u8]) -> Result<Message, ParseError> {
    parse_datagram_with_warnings(bytes).map(|(m, _)| m)
}

/// [`parse_datagram`], also returning what was tolerated rather than refused: bare-LF line
/// ends with a Content-Length that disagrees with the body, a header section that ends
/// without its empty line.
pub fn parse_datagram_with_warnings(
    bytes: &[u8],
) -> Result<(Message, Vec<ParseWarning>), ParseError> {
    let mut warnings = Vec::new();
    let mut pos = 0;
    // RFC 3261 §7.5: CRLFs before the start line are ignored.
    while pos < bytes.len() && (bytes[pos] == b'\r' || bytes[pos] == b'\n') {
        pos += 1;
    }
    let (line, next, bare_lf) = next_line(bytes, pos);
    let is_request = !starts_with_ignore_case(line, b"SIP/");
    let fail = |mut e: ParseError| {
        e.is_request = is_request;
        e
    };
    if line.is_empty() {
        return Err(fail(ParseError::syntax(None, "empty message")));
    }
    let line = std::str::from_utf8(line)
        .map_err(|_| fail(ParseError::syntax(None, "start line is not valid UTF-8")))?;
    let start = parse_start_line(line).map_err(fail)?;
    let (raw_headers, body_start, complete) = split_headers(bytes, next).map_err(fail)?;
    if !complete {
        warnings.push(ParseWarning {
            header: None,
            message: "the header section ends without its empty line; the end of the input \
                      was taken as its end"
                .into(),
        });
    }
    let mut headers = crate::header::Headers::new();
    for raw in &raw_headers {
        parse_header(raw, &mut headers.0).map_err(fail)?;
    }
    let body = frame_body(bytes, body_start, &headers, bare_lf, &mut warnings).map_err(fail)?;
    let msg = match start {
        StartLine::Request(method, uri) => Message::Request(Request {
            method,
            uri,
            headers,
            body,
        }),
        StartLine::Response(status, reason) => Message::Response(Response {
            status,
            reason,
            headers,
            body,
        }),
    };
    Ok((msg, warnings))
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// The line at `pos` without its terminator, the position after the terminator, and
/// whether the terminator was a bare LF (or the end of the input).
fn next_line(bytes: &[u8], pos: usize) -> (&[u8], usize, bool) {
    let rest = bytes.get(pos..).unwrap_or_default();
    match rest.iter().position(|&c| c == b'\n') {
        Some(nl) => {
            let line = &rest[..nl];
            match line.strip_suffix(b"\r") {
                Some(l) => (l, pos + nl + 1, false),
                None => (line, pos + nl + 1, true),
            }
        }
        None => (rest, bytes.len(), true),
    }
}

enum StartLine {
    Request(Method, crate::uri::Uri),
    Response(StatusCode, String),
}

/// Checks a SIP-Version: SIP/2.0 is accepted, any other `SIP/x.y` is a 505 (RFC 3261 §8.2.2
/// does not apply to a malformed one, which is a 400).
fn check_version(v: &str, what: &str) -> Result<(), ParseError> {
    if v.eq_ignore_ascii_case("SIP/2.0") {
        return Ok(());
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    let well_formed = v.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
        && v[4..]
            .split_once('.')
            .is_some_and(|(a, b)| digits(a) && digits(b));
    if well_formed {
        Err(ParseError {
            kind: ParseErrorKind::Version,
            header: None,
            reason: format!("{what}: SIP-Version {v} is not supported (only SIP/2.0)"),
            is_request: true,
        })
    } else {
        Err(ParseError::syntax(
            None,
            format!("{what}: '{v}' is not a SIP-Version"),
        ))
    }
}

/// RFC 3261 §7.1 Request-Line / §7.2 Status-Line. Exactly one SP separates the elements of
/// a Request-Line; the liberal repairs RFC 4475 §3.1.2.9 and §3.1.2.10 allow are not made.
fn parse_start_line(line: &str) -> Result<StartLine, ParseError> {
    if line
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
    {
        let (version, rest) = line.split_once(' ').unwrap_or((line, ""));
        check_version(version, "Status-Line")?;
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let ok = code.len() == 3 && code.bytes().all(|c| c.is_ascii_digit());
        let n: u16 = if ok { code.parse().unwrap_or(0) } else { 0 };
        if !(100..=699).contains(&n) {
            return Err(ParseError::syntax(
                None,
                format!("Status-Line: status code '{code}' is not a number in 100..=699"),
            ));
        }
        if reason.chars().any(|c| c.is_ascii_control() && c != '\t') {
            return Err(ParseError::syntax(
                None,
                "Status-Line: control character in reason phrase",
            ));
        }
        return Ok(StartLine::Response(StatusCode(n), reason.to_string()));
    }
    let bad = |m: &str| Err(ParseError::syntax(None, format!("Request-Line: {m}")));
    if line.ends_with([' ', '\t']) {
        return bad("whitespace after the SIP-Version");
    }
    let parts: Vec<&str> = line.split(' ').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return bad("elements must be separated by exactly one SP");
    }
    if parts.len() != 3 {
        return bad(
            "expected 'Method SP Request-URI SP SIP-Version' (whitespace in the Request-URI?)",
        );
    }
    if !is_token(parts[0]) {
        return bad(&format!("method '{}' is not a token", parts[0]));
    }
    check_version(parts[2], "Request-Line")?;
    if parts[1].starts_with('<') {
        return Err(ParseError::syntax(
            None,
            "Request-URI: must not be enclosed in '<' '>' (RFC 4475 §3.1.2.7)",
        ));
    }
    let uri = grammar::parse_uri(parts[1])
        .map_err(|e| ParseError::syntax(None, format!("Request-URI: {e}")))?;
    Ok(StartLine::Request(Method::from_token(parts[0]), uri))
}

/// One header as found in the header section: name and raw value (folds included).
struct RawHeader<'a> {
    name: &'a str,
    value: &'a str,
}

/// Cuts the header section into headers. Returns them, where the body starts, and whether
/// the section was closed by an empty line.
fn split_headers(
    bytes: &[u8],
    mut pos: usize,
) -> Result<(Vec<RawHeader<'_>>, usize, bool), ParseError> {
    let mut out: Vec<RawHeader<'_>> = Vec::new();
    // (name start, colon, value end) of the header being collected.
    let mut cur: Option<(usize, usize, usize)> = None;
    fn finish<'a>(
        bytes: &'a [u8],
        cur: Option<(usize, usize, usize)>,
        out: &mut Vec<RawHeader<'a>>,
    ) -> Result<(), ParseError> {
        if let Some((start, colon, end)) = cur {
            out.push(raw_header(bytes, start, colon, end)?);
        }
        Ok(())
    }
    while pos < bytes.len() {
        let line_start = pos;
        let (line, next, _) = next_line(bytes, pos);
        let line_end = line_start + line.len();
        if line.is_empty() {
            finish(bytes, cur, &mut out)?;
            return Ok((out, next, true));
        }
        if line.contains(&b'\r') {
            let name = line
                .iter()
                .position(|&c| c == b':')
                .map_or(&b""[..], |c| &line[..c]);
            let name = String::from_utf8_lossy(name).trim().to_string();
            let reason = if name.is_empty() {
                "bare CR inside a header line".to_string()
            } else {
                format!("{name}: bare CR inside the header line")
            };
            return Err(ParseError::syntax(None, reason));
        }
        if line[0] == b' ' || line[0] == b'\t' {
            match cur.as_mut() {
                Some(c) => c.2 = line_end,
                None => {
                    return Err(ParseError::syntax(
                        None,
                        "the header section starts with a continuation line",
                    ))
                }
            }
        } else {
            finish(bytes, cur.take(), &mut out)?;
            let colon = line.iter().position(|&c| c == b':').ok_or_else(|| {
                let shown = String::from_utf8_lossy(&line[..line.len().min(40)]).into_owned();
                ParseError::syntax(None, format!("header line without ':': '{shown}'"))
            })?;
            cur = Some((line_start, line_start + colon, line_end));
        }
        pos = next;
    }
    finish(bytes, cur, &mut out)?;
    Ok((out, bytes.len(), false))
}

fn raw_header(
    bytes: &[u8],
    start: usize,
    colon: usize,
    end: usize,
) -> Result<RawHeader<'_>, ParseError> {
    let name = std::str::from_utf8(&bytes[start..colon])
        .unwrap_or("")
        .trim_end_matches([' ', '\t']);
    if !is_token(name) {
        let shown = String::from_utf8_lossy(&bytes[start..colon]).into_owned();
        return Err(ParseError::syntax(
            None,
            format!("header name '{shown}' is not a token"),
        ));
    }
    let value = std::str::from_utf8(&bytes[colon + 1..end])
        .map_err(|_| ParseError::syntax(Some(name), format!("{name}: value is not valid UTF-8")))?;
    Ok(RawHeader { name, value })
}

/// Parses one header line into one or more [`Header`] values.
fn parse_header(raw: &RawHeader<'_>, out: &mut Vec<Header>) -> Result<(), ParseError> {
    let Some(name) = HeaderName::from_wire(raw.name) else {
        out.push(Header::Other(OtherHeader {
            name: raw.name.to_string(),
            value: raw.value.to_string(),
        }));
        return Ok(());
    };
    let hname = name.as_str();
    let err = |m: String| ParseError::syntax(Some(hname), format!("{hname}: {m}"));
    // A fold is LWS: CR and LF become SP so offsets stay put.
    let unfolded;
    let v: &str = if raw.value.contains(['\r', '\n']) {
        unfolded = raw.value.replace(['\r', '\n'], " ");
        &unfolded
    } else {
        raw.value
    };
    let trimmed = v.trim_matches([' ', '\t']);
    let each = |out: &mut Vec<Header>, f: &dyn Fn(&str) -> Result<Header, String>| {
        for item in split_commas(v) {
            if item.trim_matches([' ', '\t']).is_empty() {
                return Err(err("empty element in a comma-separated list".into()));
            }
            out.push(f(item).map_err(err)?);
        }
        Ok(())
    };
    let tokens = |out: &mut Vec<Header>, make: fn(String) -> Header| {
        each(out, &|item| {
            let t = item.trim_matches([' ', '\t']);
            if is_token(t) {
                Ok(make(t.to_string()))
            } else {
                Err(format!("'{t}' is not a token"))
            }
        })
    };
    match name {
        HeaderName::Via => each(out, &|i| grammar::parse_via(i).map(Header::Via))?,
        HeaderName::From => out.push(Header::From(grammar::parse_name_addr(v).map_err(err)?)),
        HeaderName::To => out.push(Header::To(grammar::parse_name_addr(v).map_err(err)?)),
        HeaderName::CallId => {
            // RFC 3261 `word ["@" word]` is narrower, but Call-IDs are compared byte for
            // byte and never interpreted, and deployed UAs put '=' or a second '@' in
            // them; refusing those would cost calls for no safety. Whitespace is refused.
            let ok = |c: u8| c.is_ascii_graphic();
            if trimmed.is_empty() || !trimmed.bytes().all(ok) {
                return Err(err(format!("'{trimmed}' is not a valid Call-ID")));
            }
            out.push(Header::CallId(CallId(trimmed.to_string())));
        }
        HeaderName::CSeq => {
            let (num, method) = trimmed
                .split_once([' ', '\t'])
                .ok_or_else(|| err("expected 'number method'".into()))?;
            let seq = parse_u32(num).map_err(|m| err(format!("sequence number {m}")))?;
            let method = method.trim_start_matches([' ', '\t']);
            if !is_token(method) {
                return Err(err(format!("method '{method}' is not a token")));
            }
            out.push(Header::CSeq(CSeq {
                seq,
                method: Method::from_token(method),
            }));
        }
        HeaderName::MaxForwards => out.push(Header::MaxForwards(
            parse_u32(trimmed).map_err(|m| err(format!("value {m}")))?,
        )),
        HeaderName::ContentLength => out.push(Header::ContentLength(
            parse_u32(trimmed).map_err(|m| err(format!("value {m}")))?,
        )),
        HeaderName::Expires => out.push(Header::Expires(
            parse_u32(trimmed).map_err(|m| err(format!("value {m}")))?,
        )),
        HeaderName::MinExpires => out.push(Header::MinExpires(
            parse_u32(trimmed).map_err(|m| err(format!("value {m}")))?,
        )),
        HeaderName::ContentType => {
            let media = trimmed.split(';').next().unwrap_or_default();
            let ok = media
                .split_once('/')
                .is_some_and(|(t, s)| is_token(t.trim()) && is_token(s.trim()));
            if !ok {
                return Err(err(format!("'{trimmed}' is not a media type")));
            }
            out.push(Header::ContentType(trimmed.to_string()));
        }
        HeaderName::Contact => {
            if trimmed == "*" {
                out.push(Header::Contact(ContactValue::Star));
            } else {
                each(out, &|i| {
                    grammar::parse_name_addr(i).map(|a| Header::Contact(ContactValue::Addr(a)))
                })?;
            }
        }
        HeaderName::Route => each(out, &|i| grammar::parse_name_addr(i).map(Header::Route))?,
        HeaderName::RecordRoute => each(out, &|i| {
            grammar::parse_name_addr(i).map(Header::RecordRoute)
        })?,
        HeaderName::Require => tokens(out, Header::Require)?,
        HeaderName::ProxyRequire => tokens(out, Header::ProxyRequire)?,
        // An empty Supported or Allow is legal and says something ("nothing"), so it is
        // kept as written rather than vanishing.
        HeaderName::Supported | HeaderName::Allow if trimmed.is_empty() => {
            out.push(Header::Other(OtherHeader {
                name: raw.name.to_string(),
                value: raw.value.to_string(),
            }))
        }
        HeaderName::Supported => tokens(out, Header::Supported)?,
        HeaderName::Unsupported => tokens(out, Header::Unsupported)?,
        HeaderName::Allow => tokens(out, |t| Header::Allow(Method::from_token(&t)))?,
    }
    Ok(())
}

/// A decimal number that must fit 32 bits (RFC 4475 §3.1.2.4); leading zeros are fine.
fn parse_u32(s: &str) -> Result<u32, String> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!("'{s}' is not a decimal number"));
    }
    let digits = s.trim_start_matches('0');
    if digits.len() > 10 {
        return Err(format!("{s} exceeds 2^32-1"));
    }
    let n: u64 = digits.parse().unwrap_or(0);
    u32::try_from(n).map_err(|_| format!("{s} exceeds 2^32-1"))
}

/// Cuts the body out of the datagram (RFC 3261 §18.3, RFC 4475 §3.1.1.8, §3.1.2.2).
fn frame_body(
    bytes: &[u8],
    start: usize,
    headers: &crate::header::Headers,
    bare_lf: bool,
    warnings: &mut Vec<ParseWarning>,
) -> Result<Vec<u8>, ParseError> {
    let rest = bytes.get(start..).unwrap_or_default();
    let mut cl: Option<u32> = None;
    for h in headers.iter() {
        if let Header::ContentLength(n) = h {
            match cl {
                Some(prev) if prev != *n => {
                    return Err(ParseError {
                        kind: ParseErrorKind::Framing,
                        header: Some("Content-Length".into()),
                        reason: format!(
                            "Content-Length: given twice with different values ({prev} and {n})"
                        ),
                        is_request: true,
                    })
                }
                _ => cl = Some(*n),
            }
        }
    }
    let Some(cl) = cl else {
        return Ok(rest.to_vec());
    };
    let cl = usize::try_from(cl).unwrap_or(usize::MAX);
    if bare_lf {
        // A bare-LF copy was not carried byte-exact, so its octet count cannot be
        // trusted: the datagram's end frames the body instead.
        if cl != rest.len() {
            warnings.push(ParseWarning {
                header: Some("Content-Length".into()),
                message: format!(
                    "Content-Length: {cl} disagrees with the {} octets of body of this bare-LF \
                     message; the end of the input was taken as the end of the body",
                    rest.len()
                ),
            });
        }
        return Ok(rest.to_vec());
    }
    if cl > rest.len() {
        return Err(ParseError {
            kind: ParseErrorKind::Syntax,
            header: Some("Content-Length".into()),
            reason: format!(
                "Content-Length: {cl} exceeds the {} octets of body received",
                rest.len()
            ),
            is_request: true,
        });
    }
    Ok(rest[..cl].to_vec())
}
