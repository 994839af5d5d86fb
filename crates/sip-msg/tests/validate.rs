//! What a server answers 400 to after a message parsed, rule by rule.

use sb_sip_msg::{lint, parse_datagram, validate, LintError};

/// A valid request with `method`, CSeq method `cseq` and `extra` header lines.
fn request(method: &str, cseq: &str, extra: &str) -> String {
    format!(
        "{method} sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKabc\r\n\
From: <sip:alice@example.com>;tag=1\r\n\
To: <sip:bob@example.com>\r\n\
Call-ID: v1@192.0.2.1\r\n\
CSeq: 7 {cseq}\r\n\
{extra}Content-Length: 0\r\n\r\n"
    )
}

fn verdict(raw: &str) -> Result<(), String> {
    lint(raw.as_bytes())
        .map(|_| ())
        .map_err(|e| e.reason().to_string())
}

#[test]
fn a_plain_request_is_ok() {
    assert_eq!(verdict(&request("INVITE", "INVITE", "")), Ok(()));
    assert_eq!(verdict(&request("ACK", "ACK", "")), Ok(()));
    assert_eq!(verdict(&request("FOO", "FOO", "")), Ok(()));
}

#[test]
fn cseq_method_must_equal_the_request_method() {
    // ACK and CANCEL carry their own method in CSeq (RFC 3261 §17.1.1.3, §9.1).
    for (m, c) in [
        ("ACK", "INVITE"),
        ("CANCEL", "INVITE"),
        ("OPTIONS", "INVITE"),
        ("BYE", "bye"),
    ] {
        let e = verdict(&request(m, c, "")).expect_err(m);
        assert!(e.starts_with("CSeq: method"), "{e}");
    }
}

#[test]
fn mandatory_headers() {
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        let full = request("OPTIONS", "OPTIONS", "");
        let without: String = full
            .split_inclusive("\r\n")
            .filter(|l| !l.starts_with(&format!("{name}:")))
            .collect();
        assert_eq!(verdict(&without), Err(format!("{name}: missing")));
    }
    // Max-Forwards is optional for RFC 2543 peers (RFC 4475 §3.4.1).
    assert!(!request("OPTIONS", "OPTIONS", "").contains("Max-Forwards"));
}

#[test]
fn single_value_headers_twice() {
    for extra in [
        "To: <sip:carol@example.com>\r\n",
        "Call-ID: other\r\n",
        "CSeq: 8 OPTIONS\r\n",
        "Max-Forwards: 70\r\nMax-Forwards: 69\r\n",
        "Content-Type: text/plain\r\nc: application/sdp\r\n",
        "Expires: 1\r\nExpires: 2\r\n",
    ] {
        let e = verdict(&request("OPTIONS", "OPTIONS", extra)).expect_err(extra);
        assert!(
            e.contains("given more than once with different values"),
            "{extra}: {e}"
        );
    }
    // The same value twice is harmless.
    let same = "f: <sip:alice@example.com> ;tag=1\r\nMax-Forwards: 70\r\nMax-Forwards: 070\r\n";
    assert_eq!(verdict(&request("OPTIONS", "OPTIONS", same)), Ok(()));
}

#[test]
fn bare_magic_cookie_branch() {
    let raw = request("OPTIONS", "OPTIONS", "").replace("z9hG4bKabc", "z9hG4bK");
    assert!(verdict(&raw)
        .expect_err("bare cookie")
        .starts_with("Via: branch"));
    // An RFC 2543 branch (no cookie) is processed.
    let raw = request("OPTIONS", "OPTIONS", "").replace("z9hG4bKabc", "12345");
    assert_eq!(verdict(&raw), Ok(()));
}

#[test]
fn date_must_be_gmt() {
    let ok = "Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n";
    assert_eq!(verdict(&request("OPTIONS", "OPTIONS", ok)), Ok(()));
    let bad = "Date: Sat, 13 Nov 2010 23:29:00 PST\r\n";
    assert!(verdict(&request("OPTIONS", "OPTIONS", bad))
        .expect_err("PST")
        .starts_with("Date: "));
}

#[test]
fn star_contact_stands_alone() {
    assert_eq!(
        verdict(&request(
            "REGISTER",
            "REGISTER",
            "Contact: *\r\nExpires: 0\r\n"
        )),
        Ok(())
    );
    let both = "Contact: *\r\nContact: <sip:a@192.0.2.1>\r\n";
    assert!(verdict(&request("REGISTER", "REGISTER", both))
        .expect_err("mixed")
        .starts_with("Contact: "));
}

#[test]
fn request_uri_headers_are_refused() {
    let raw = request("INVITE", "INVITE", "")
        .replace("sip:bob@example.com SIP", "sip:bob@example.com?X=1 SIP");
    assert!(verdict(&raw)
        .expect_err("headers")
        .starts_with("Request-URI: "));
}

#[test]
fn responses_need_the_same_headers() {
    let raw = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKabc\r\n\
From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>;tag=2\r\n\
CSeq: 7 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    let m = parse_datagram(raw.as_bytes()).expect("parses");
    assert_eq!(
        validate(&m).expect_err("no Call-ID").reason,
        "Call-ID: missing"
    );
}

#[test]
fn lint_errors_say_which_stage() {
    assert!(matches!(lint(b"garbage"), Err(LintError::Parse(_))));
    let raw = request("OPTIONS", "INVITE", "");
    assert!(matches!(lint(raw.as_bytes()), Err(LintError::Invalid(_))));
}
