//! Requests other than REGISTER from a user of our domain, end to end: `switchboard
//! serve` answers an INVITE from a provisioned user with 407 and Proxy-Authenticate, the
//! retry with MD5 Proxy-Authorization is routed (to a user who does not exist: 404 with
//! the reason in a Warning), and the ACK for each final answer is absorbed. A raw UDP
//! client checks the digest computed here; SIPp runs the same flow over UDP, TCP and TLS
//! with its own digest code.

mod support;

use sb_sip_auth::{
    parse_challenge, request_digest, AuthValue, Challenge, Credentials, Ha1, QopParts,
};
use std::net::UdpSocket;
use std::time::Duration;
use support::Site;

/// Sends `msg` to the server and returns the next final response (the proxy answers an
/// INVITE with 100 Trying first, RFC 3261 §16.2).
fn exchange(sock: &UdpSocket, port: u16, msg: &str) -> String {
    sock.send_to(msg.as_bytes(), ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 8192];
    loop {
        let (n, _) = sock.recv_from(&mut buf).expect("a response within 5 s");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if !text.starts_with("SIP/2.0 1") {
            return text;
        }
    }
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// An INVITE (or its ACK, RFC 3261 §17.1.1.3: same branch, the response's To tag) from
/// alice, with Proxy-Authorization when `auth` is given.
fn invite(
    sock: &UdpSocket,
    port: u16,
    cseq: u32,
    method: &str,
    to: &str,
    auth: Option<&Credentials>,
) -> String {
    let local = sock.local_addr().unwrap();
    let mut msg = format!(
        "{method} sip:bob@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-inv-{cseq}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=a1\r\nTo: {to}\r\n\
         Call-ID: proxy-auth-test\r\nCSeq: {cseq} {method}\r\nContact: <sip:alice@{local}>\r\n"
    );
    if let Some(c) = auth {
        msg.push_str(&format!("Proxy-Authorization: {c}\r\n"));
    }
    msg.push_str("Content-Length: 0\r\n\r\n");
    msg
}

fn proxy_challenge(resp: &str) -> Challenge {
    match parse_challenge(header(resp, "Proxy-Authenticate").expect("Proxy-Authenticate")) {
        Ok(AuthValue::Digest(c)) => c,
        other => panic!("not a digest challenge: {other:?}\n{resp}"),
    }
}

#[test]
fn an_invite_from_a_provisioned_user_is_challenged_with_407_then_answered() {
    let site = Site::new("proxy-auth", "[auth]\nalgorithms = [\"MD5\"]\n");
    site.add_user("sip:alice@127.0.0.1", "pw-alice-1");
    let server = site.start();
    let port = site.sip_port;
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let to = "<sip:bob@127.0.0.1>";

    let resp = exchange(&sock, port, &invite(&sock, port, 1, "INVITE", to, None));
    assert!(
        resp.starts_with("SIP/2.0 407 Proxy Authentication Required"),
        "{resp}\n{}",
        server.log()
    );
    assert!(header(&resp, "WWW-Authenticate").is_none(), "{resp}");
    let ch = proxy_challenge(&resp);
    assert_eq!(ch.realm, "127.0.0.1");
    assert_eq!(ch.algorithm.as_deref(), Some("MD5"));
    let to_tagged = header(&resp, "To").unwrap().to_string();
    let ack = invite(&sock, port, 1, "ACK", &to_tagged, None);
    sock.send_to(ack.as_bytes(), ("127.0.0.1", port)).unwrap();

    // The answer computed here, independently of the server's verifier.
    let uri = format!("sip:bob@127.0.0.1:{port}");
    let ha1 = Ha1::compute(ch.algorithm().unwrap(), "alice", &ch.realm, "pw-alice-1");
    let q = QopParts {
        qop: "auth",
        nc: "00000001",
        cnonce: "feed02",
    };
    let creds = Credentials {
        username: "alice".into(),
        realm: ch.realm.clone(),
        nonce: ch.nonce.clone(),
        uri: uri.clone(),
        response: request_digest(&ha1, &ch.nonce, Some(q), "INVITE", &uri),
        algorithm: ch.algorithm.clone(),
        cnonce: Some("feed02".into()),
        opaque: ch.opaque.clone(),
        qop: Some("auth".into()),
        nc: Some("00000001".into()),
        other: Vec::new(),
    };
    let resp = exchange(
        &sock,
        port,
        &invite(&sock, port, 2, "INVITE", to, Some(&creds)),
    );
    // Authenticated, the call is routed: bob is nobody here.
    assert!(resp.starts_with("SIP/2.0 404 "), "{resp}\n{}", server.log());
    let warning = header(&resp, "Warning").unwrap_or_default();
    assert!(warning.contains("no user bob@127.0.0.1"), "{resp}");
    let to_tagged = header(&resp, "To").unwrap().to_string();
    let ack = invite(&sock, port, 2, "ACK", &to_tagged, None);
    sock.send_to(ack.as_bytes(), ("127.0.0.1", port)).unwrap();

    // Both ACKs matched their transactions: no final answer is retransmitted (Timer G
    // would resend it after T1 = 500 ms, and again after 1 s, had an ACK been missed).
    sock.set_read_timeout(Some(Duration::from_millis(1600)))
        .unwrap();
    let mut buf = [0u8; 8192];
    if let Ok((n, _)) = sock.recv_from(&mut buf) {
        panic!(
            "unexpected retransmission:\n{}",
            String::from_utf8_lossy(&buf[..n])
        );
    }
    let failures = server.metric("sip_auth_failures_total{reason=\"bad_credentials\"}");
    assert!(failures.unwrap_or(0.0) == 0.0, "{}", server.metrics());
}

/// The same flow driven by SIPp, an independent implementation: it reads our 407, computes
/// MD5 Proxy-Authorization itself; its INVITE is addressed to the server itself (no user
/// part), which takes no calls: 405 with Allow.
#[test]
fn sipp_answers_the_407_and_gets_the_policy_answer() {
    let site = Site::new("sipp407", "");
    site.add_user("sip:alice@127.0.0.1", "pw-alice-1");
    let server = site.start();
    for transport in [
        support::Transport::Udp,
        support::Transport::Tcp,
        support::Transport::Tls,
    ] {
        support::assert_sipp(&site, &server, "invite-proxy-auth-407.xml", transport);
    }
}
