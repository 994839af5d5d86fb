//! Answering a request that did not parse.
//!
//! RFC 3261 §8.2 and RFC 4475 (`badinv01`, `ncl`, `quotbal`, ...) ask a server to answer a
//! malformed request with 400 rather than drop it, so the sender's transaction ends instead
//! of retransmitting for 32 s. The typed parser refuses the whole message, so this module
//! scans the raw header section leniently, line by line, and copies the header lines a
//! response needs (RFC 3261 §8.2.6.1) byte for byte, without interpreting them.
//!
//! A response needs at least the top Via (the client matches it to its transaction by the
//! branch, §17.1.3) and the CSeq (the method half of that match). Without both there is no
//! one to answer, and the caller drops the message. Responses that fail to parse are always
//! dropped (§18.1.2).

use sb_sip_msg::{Header, HeaderName, OtherHeader, Response, StatusCode};

/// Upper bound on header lines scanned; beyond it the message is dropped, not answered.
const MAX_LINES: usize = 512;

/// One header line as found: its wire name and raw value (unfolded, trimmed).
struct RawHeader<'a> {
    name: HeaderName,
    value: std::borrow::Cow<'a, str>,
}

/// Builds a response with `status` and `reason` to the raw request `bytes`, copying
/// Via, From, To, Call-ID and CSeq as raw lines. `to_tag` is added to a To without a tag.
/// Returns `None` when `bytes` look like a response or lack a Via or CSeq.
pub fn response_to_raw(
    bytes: &[u8],
    status: StatusCode,
    reason: &str,
    to_tag: &str,
) -> Option<Response> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = split_lines(&text);
    let start = lines.next()?;
    if start.starts_with("SIP/") || start.trim().is_empty() {
        return None;
    }
    let headers = scan_headers(lines)?;
    let has = |n: HeaderName| headers.iter().any(|h| h.name == n);
    if !has(HeaderName::Via) || !has(HeaderName::CSeq) {
        return None;
    }
    let mut resp = Response::new(status);
    resp.reason = reason.to_string();
    for h in headers {
        // The printer writes Other values byte-exact after the colon.
        let mut value = format!(" {}", h.value);
        if h.name == HeaderName::To && !has_tag_param(&value) {
            value.push_str(";tag=");
            value.push_str(to_tag);
        }
        resp.headers.push(Header::Other(OtherHeader {
            name: h.name.as_str().to_string(),
            value,
        }));
    }
    Some(resp)
}

/// Lines of the header section: split on LF (a CR before it is dropped), ending at the
/// first empty line or the end of input.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .take_while(|l| !l.is_empty())
}

/// Keeps the lines whose name is one §8.2.6.1 copies; unfolds continuation lines. A Via
/// line with several comma-separated values is kept whole (it is copied, not split).
fn scan_headers<'a>(lines: impl Iterator<Item = &'a str>) -> Option<Vec<RawHeader<'a>>> {
    let mut out: Vec<RawHeader<'a>> = Vec::new();
    // Whether the previous line was a header we kept, so a continuation line extends it.
    let mut last_kept = false;
    for (i, line) in lines.enumerate() {
        if i >= MAX_LINES {
            return None;
        }
        if line.starts_with([' ', '\t']) {
            if last_kept {
                if let Some(h) = out.last_mut() {
                    let v = h.value.to_mut();
                    v.push(' ');
                    v.push_str(&no_controls(line.trim()));
                }
            }
            continue;
        }
        last_kept = false;
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let Some(name) = HeaderName::from_wire(name.trim()) else {
            continue;
        };
        let wanted = matches!(
            name,
            HeaderName::Via
                | HeaderName::From
                | HeaderName::To
                | HeaderName::CallId
                | HeaderName::CSeq
        );
        // From, To, Call-ID and CSeq are single-valued: keep the first.
        if !wanted || (name != HeaderName::Via && out.iter().any(|h| h.name == name)) {
            continue;
        }
        out.push(RawHeader {
            name,
            value: no_controls(value.trim()),
        });
        last_kept = true;
    }
    Some(out)
}

/// The value with control characters (a lone CR, NUL, ...) replaced by spaces: they are
/// echoed back to the peer, and a bare CR would end a header line for many parsers.
fn no_controls(v: &str) -> std::borrow::Cow<'_, str> {
    if v.chars().any(|c| c.is_control() && c != '\t') {
        v.chars()
            .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
            .collect::<String>()
            .into()
    } else {
        v.into()
    }
}

/// Whether a raw To value carries a `tag` header parameter (after the closing `>` of a
/// name-addr, or anywhere after the URI in an addr-spec, where `;` ends the URI).
fn has_tag_param(value: &str) -> bool {
    let params = match value.rfind('>') {
        Some(i) => &value[i + 1..],
        None => value,
    };
    params.split(';').skip(1).any(|p| {
        p.trim()
            .split('=')
            .next()
            .is_some_and(|n| n.trim().eq_ignore_ascii_case("tag"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn other<'a>(r: &'a Response, name: &'a str) -> Vec<&'a str> {
        r.headers.other(name).collect()
    }

    #[test]
    fn copies_the_addressing_headers_of_a_malformed_request() {
        let msg = b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
v: SIP/2.0/TCP 192.0.2.2;branch=z9hG4bK2\r\n\
To: <sip:bob@example.com>\r\n\
From: <sip:alice@example.com>;tag=a\r\n\
Call-ID: c1\r\n\
CSeq: 1 INVITE\r\n\
Content-Length: -999\r\n\
Subject: fold\r\n  ed\r\n\r\nbody";
        let r = response_to_raw(msg, StatusCode::BAD_REQUEST, "Bad Request (x)", "t1").unwrap();
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.reason, "Bad Request (x)");
        assert_eq!(
            other(&r, "Via"),
            [
                "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1",
                "SIP/2.0/TCP 192.0.2.2;branch=z9hG4bK2"
            ]
        );
        assert_eq!(other(&r, "To"), ["<sip:bob@example.com>;tag=t1"]);
        assert_eq!(other(&r, "From"), ["<sip:alice@example.com>;tag=a"]);
        assert_eq!(other(&r, "Call-ID"), ["c1"]);
        assert_eq!(other(&r, "CSeq"), ["1 INVITE"]);
        assert!(other(&r, "Content-Length").is_empty());
        assert!(other(&r, "Subject").is_empty());
    }

    #[test]
    fn keeps_an_existing_to_tag() {
        let msg = b"BYE sip:b@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\nTo: sip:b@h;TAG=old\nCSeq: 2 BYE\n\n";
        let r = response_to_raw(msg, StatusCode::BAD_REQUEST, "Bad Request", "new").unwrap();
        assert_eq!(other(&r, "To"), ["sip:b@h;TAG=old"]);
    }

    #[test]
    fn unfolds_continuation_lines_of_kept_headers() {
        let msg = b"OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n ;branch=z9hG4bKx\r\nCSeq: 1\r\n OPTIONS\r\n\r\n";
        let r = response_to_raw(msg, StatusCode::BAD_REQUEST, "Bad Request", "t").unwrap();
        assert_eq!(other(&r, "Via"), ["SIP/2.0/UDP h ;branch=z9hG4bKx"]);
        assert_eq!(other(&r, "CSeq"), ["1 OPTIONS"]);
    }

    #[test]
    fn refuses_without_via_or_cseq_and_for_responses() {
        let no_via = b"OPTIONS sip:h SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n";
        let no_cseq = b"OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n\r\n";
        let resp =
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nCSeq: 1 OPTIONS\r\n\r\n";
        for m in [&no_via[..], &no_cseq[..], &resp[..], b"", b"\xff\xfe"] {
            assert!(response_to_raw(m, StatusCode::BAD_REQUEST, "Bad Request", "t").is_none());
        }
    }

    #[test]
    fn tag_detection_looks_only_at_header_params() {
        assert!(has_tag_param("<sip:a@h>;tag=1"));
        assert!(has_tag_param("sip:a@h ; tag = 1"));
        assert!(!has_tag_param("<sip:a@h;tag=1>"));
        assert!(!has_tag_param("<sip:a@h>;tagged"));
    }
}
