//! Building responses to requests (RFC 3261 §8.2.6) and sanitising reason phrases.

use sb_sip_msg::{Header, Request, Response, StatusCode};

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

/// `Bad Request (why)`, sanitised; plain "Bad Request" when there is no reason.
pub fn bad_request_reason(why: &str) -> String {
    let why = sanitize_reason(why);
    if why.is_empty() {
        return StatusCode::BAD_REQUEST.default_reason().to_string();
    }
    sanitize_reason(&format!("Bad Request ({why})"))
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
    fn bad_request_reason_names_the_problem() {
        assert_eq!(
            bad_request_reason("Content-Length: negative"),
            "Bad Request (Content-Length: negative)"
        );
        assert_eq!(bad_request_reason("\r\n"), "Bad Request");
        assert!(bad_request_reason(&"x".repeat(1000)).len() <= MAX_REASON_LEN);
    }
}
