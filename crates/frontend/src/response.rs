//! Building responses to requests (RFC 3261 §8.2.6) and sanitising reason phrases.

use sb_sip_msg::{Header, OtherHeader, Request, Response, StatusCode};

/// Longest reason phrase we put on the wire. A parse error can quote peer input; bounding
/// it keeps a hostile request from making us send a large response.
pub const MAX_REASON_LEN: usize = 120;

/// A response to `req` per RFC 3261 §8.2.6.1: the Via values in order, From, To, Call-ID and
/// CSeq copied. `to_tag` is added to To when the request's To has none and the response is
/// final (a 100 Trying carries no tag, §8.2.6.2).
pub fn response_to(req: &Request, status: StatusCode, to_tag: Option<&str>) -> Response {
    let mut resp = Response::new(status);
    for h in req.headers.iter() {
        match h {
            Header::Via(_) | Header::From(_) | Header::CallId(_) | Header::CSeq(_) => {
                resp.headers.push(h.clone());
            }
            Header::To(to) => {
                let mut to = to.clone();
                if status.is_final() && to.tag().is_none() {
                    if let Some(tag) = to_tag {
                        to.params.set("tag", Some(tag));
                    }
                }
                resp.headers.push(Header::To(to));
            }
            _ => {}
        }
    }
    resp
}

/// A reason phrase safe to print in a status line: control characters (CR, LF, NUL, ...)
/// become spaces, runs of whitespace collapse, and the result is cut to
/// [`MAX_REASON_LEN`] bytes on a character boundary. RFC 3261 §25.1: Reason-Phrase is
/// `*(reserved / unreserved / escaped / UTF8-NONASCII / UTF8-CONT / SP / HTAB)`.
pub fn sanitize_reason(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_REASON_LEN));
    let mut last_space = true;
    for c in s.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c == ' ' {
            if last_space {
                continue;
            }
            last_space = true;
        } else {
            last_space = false;
        }
        if out.len() + c.len_utf8() > MAX_REASON_LEN {
            break;
        }
        out.push(c);
    }
    out.trim_end().to_string()
}

/// The detail of a 400 as a `Warning: 399` header (RFC 3261 §20.43), to be placed after
/// every other header.
///
/// The status line stays a plain `400 Bad Request`: the detail names headers ("CSeq:
/// sequence number ... exceeds 2^32-1", "missing Call-ID"), and some peers (SIPp among
/// them) find a header by searching the whole message text for its name, so a header name
/// in the status line is read as the header itself and the response goes unmatched.
/// Placed last, the Warning comes after the real headers. `None` when there is no detail.
pub fn bad_request_warning(why: &str) -> Option<Header> {
    let why = sanitize_reason(why);
    if why.is_empty() {
        return None;
    }
    let quoted = why.replace('\\', "\\\\").replace('"', "\\\"");
    Some(Header::Other(OtherHeader {
        name: "Warning".to_string(),
        value: format!(" 399 switchboard \"{quoted}\""),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_strips_control_characters_and_bounds_length() {
        assert_eq!(sanitize_reason("bad\r\nVia: x"), "bad Via: x");
        assert_eq!(sanitize_reason("a\0b"), "a b");
        assert_eq!(sanitize_reason("  lots   of\t\tspace  "), "lots of space");
        let long = "é".repeat(200);
        let s = sanitize_reason(&long);
        assert!(s.len() <= MAX_REASON_LEN);
        assert!(s.chars().all(|c| c == 'é'));
    }

    #[test]
    fn bad_request_warning_carries_the_detail_quoted() {
        let w = bad_request_warning("Content-Length: \"negative\"").unwrap();
        assert_eq!(
            w.to_string(),
            "Warning: 399 switchboard \"Content-Length: \\\"negative\\\"\""
        );
        assert!(bad_request_warning("\r\n").is_none());
        let long = bad_request_warning(&"x".repeat(1000)).unwrap().to_string();
        assert!(long.len() <= MAX_REASON_LEN + 40, "{long}");
    }
}
