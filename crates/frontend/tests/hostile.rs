//! Peer input never panics the front end, and what it puts in a status line is one short
//! line whatever the peer sent.

use proptest::prelude::*;
use sb_frontend::{sanitize_reason, Frontend, FrontendConfig};
use sb_sip_msg::{ParseError, ParseErrorKind};

fn syntax_error(reason: String) -> ParseError {
    ParseError {
        kind: ParseErrorKind::Syntax,
        header: None,
        reason,
        is_request: true,
    }
}

/// Bytes that look enough like a request for the lenient scan to get somewhere.
fn requestish() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        Just("Via: SIP/2.0/UDP h;branch=z9hG4bKx".to_string()),
        Just("v: SIP/2.0/TCP [::1]".to_string()),
        Just("CSeq: 1 OPTIONS".to_string()),
        Just("To: <sip:b@h>;tag=".to_string()),
        Just("t: \"unterminated <sip:x>".to_string()),
        Just(" folded".to_string()),
        "[ -~]{0,40}",
        "(Via|CSeq|To|From|Call-ID|v|t): [ -~]{0,10}[\r\x00][ -~]{0,10}",
    ];
    (prop::collection::vec(line, 0..12), any::<Vec<u8>>()).prop_map(|(lines, tail)| {
        let mut b = b"OPTIONS sip:h SIP/2.0\r\n".to_vec();
        for l in lines {
            b.extend_from_slice(l.as_bytes());
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(&tail);
        b
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in any::<Vec<u8>>(), reason in ".*") {
        let mut fe = Frontend::new(FrontendConfig::default());
        let _ = fe.handle_parse_error(&bytes, &syntax_error(reason));
    }

    #[test]
    fn recovered_responses_have_a_one_line_bounded_status(bytes in requestish(), reason in ".*") {
        let mut fe = Frontend::new(FrontendConfig::default());
        if let Some(resp) = fe.handle_parse_error(&bytes, &syntax_error(reason)) {
            prop_assert!(!resp.reason.contains(['\r', '\n']));
            prop_assert!(resp.reason.len() <= sb_frontend::response::MAX_REASON_LEN);
            let wire = resp.to_bytes();
            let status_line = wire.split(|b| *b == b'\n').next().unwrap();
            prop_assert!(status_line.starts_with(b"SIP/2.0 400 "));
            // No NUL for C parsers to stop at.
            prop_assert!(!wire.contains(&0));
            // Every CR ends a line; nothing the peer sent splits or injects a header.
            for (i, b) in wire.iter().enumerate() {
                if *b == b'\r' {
                    prop_assert_eq!(wire.get(i + 1), Some(&b'\n'));
                }
            }
        }
    }

    #[test]
    fn sanitized_reasons_are_one_short_line(s in any::<String>()) {
        let r = sanitize_reason(&s);
        prop_assert!(r.len() <= sb_frontend::response::MAX_REASON_LEN);
        prop_assert!(!r.chars().any(char::is_control));
    }
}
