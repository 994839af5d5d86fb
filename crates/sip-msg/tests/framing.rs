//! Stream framing: what a TCP/TLS connection handler sees.

use sb_sip_msg::{Framed, Message, ParseErrorKind, StreamFramer};

const INVITE: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/TCP a.example.com;branch=z9hG4bK1\r\n\
From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n\
Call-ID: c1\r\nCSeq: 1 INVITE\r\nl: 5\r\n\r\nhello";

const OK: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/TCP a.example.com;branch=z9hG4bK1\r\n\
From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>;tag=2\r\n\
Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";

/// Everything the framer yields until it wants more bytes.
fn drain(f: &mut StreamFramer) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(item) = f.next().expect("framing intact") {
        out.push(match item {
            Framed::Ping => "ping".to_string(),
            Framed::Pong => "pong".to_string(),
            Framed::Message(Ok(Message::Request(r))) => format!("req {} {:?}", r.method, r.body),
            Framed::Message(Ok(Message::Response(r))) => format!("resp {}", r.status),
            Framed::Message(Err(e)) => format!("bad {e}"),
        });
    }
    out
}

#[test]
fn messages_pings_and_pongs() {
    let mut f = StreamFramer::new(65536);
    let mut stream = b"\r\n\r\n".to_vec();
    stream.extend_from_slice(INVITE);
    stream.extend_from_slice(b"\r\n");
    stream.extend_from_slice(OK);
    stream.extend_from_slice(b"\r\n\r\n");
    f.push(&stream);
    assert_eq!(
        drain(&mut f),
        [
            "ping",
            "req INVITE [104, 101, 108, 108, 111]",
            "pong",
            "resp 200",
            "ping"
        ]
    );
    assert_eq!(f.buffered(), 0);
}

#[test]
fn a_lone_crlf_waits_until_it_is_known_not_to_be_a_ping() {
    let mut f = StreamFramer::new(65536);
    f.push(b"\r\n");
    assert!(drain(&mut f).is_empty());
    f.push(b"\r");
    assert!(drain(&mut f).is_empty());
    f.push(b"\n");
    assert_eq!(drain(&mut f), ["ping"]);
    // A client never receives pings: its CRLFs are pongs at once.
    let mut c = StreamFramer::new_client(65536);
    c.push(b"\r\n");
    assert_eq!(drain(&mut c), ["pong"]);
}

#[test]
fn byte_by_byte_is_the_same_as_one_push() {
    let mut stream = INVITE.to_vec();
    stream.extend_from_slice(b"\r\n\r\n");
    stream.extend_from_slice(OK);
    let mut whole = StreamFramer::new(65536);
    whole.push(&stream);
    let want = drain(&mut whole);
    let mut f = StreamFramer::new(65536);
    let mut got = Vec::new();
    for b in &stream {
        f.push(&[*b]);
        got.extend(drain(&mut f));
    }
    assert_eq!(got, want);
    assert_eq!(want.len(), 3);
}

#[test]
fn body_is_awaited() {
    let mut f = StreamFramer::new(65536);
    f.push(&INVITE[..INVITE.len() - 2]);
    assert!(drain(&mut f).is_empty());
    f.push(&INVITE[INVITE.len() - 2..]);
    assert_eq!(drain(&mut f).len(), 1);
}

#[test]
fn missing_or_bad_content_length_loses_framing() {
    for (head, needle) in [
        ("OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n", "missing"),
        (
            "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n",
            "not a valid length",
        ),
        (
            "OPTIONS sip:a@b SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\n",
            "different values",
        ),
    ] {
        let mut f = StreamFramer::new(65536);
        f.push(head.as_bytes());
        let e = f.next().expect_err(head);
        assert_eq!(e.kind, ParseErrorKind::Framing, "{head}");
        assert!(
            e.reason.starts_with("Content-Length: ") && e.reason.contains(needle),
            "{e}"
        );
        // The connection is beyond repair: the error stays.
        assert!(f.next().is_err());
    }
}

#[test]
fn oversize_headers_or_body_are_refused() {
    let mut f = StreamFramer::new(64);
    f.push(&[b'a'; 65]);
    assert_eq!(
        f.next().expect_err("too large").kind,
        ParseErrorKind::TooLarge
    );
    let mut f = StreamFramer::new(200);
    f.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 4000000000\r\n\r\n");
    let e = f.next().expect_err("declared body too large");
    assert_eq!(e.kind, ParseErrorKind::TooLarge);
    assert!(e.is_request);
    assert!(
        f.buffered() < 100,
        "nothing was allocated for the declared body"
    );
}

#[test]
fn a_framed_message_that_does_not_parse_is_a_value() {
    let mut f = StreamFramer::new(65536);
    f.push(b"OPTIONS sip:a@b SIP/7.0\r\nContent-Length: 0\r\n\r\n");
    f.push(OK);
    let got = drain(&mut f);
    assert_eq!(got.len(), 2);
    assert!(got[0].starts_with("bad Request-Line: SIP-Version SIP/7.0"));
    assert_eq!(got[1], "resp 200");
}
