//! Requests other than REGISTER from users of our domains: 407 with Proxy-Authenticate
//! until valid Proxy-Authorization arrives, then the answer the policy gives anyway.

use sb_frontend::{Event, ThrottleConfig};
use sb_sip_auth::{Challenge, Credentials};
use sb_sip_msg::{parse_datagram, Header, Message, Method, Request, Response};

mod common;

use common::{answer_to as digest_answer, challenges_in, rig_for, Rig};

fn rig_with(throttle: ThrottleConfig) -> Rig {
    rig_for(vec!["example.com".to_string()], throttle, 300)
}

fn rig() -> Rig {
    rig_with(ThrottleConfig::default())
}

/// A request `method` for `ruri` from `from` (`user@host`), with `header: value` added.
fn request(method: &str, ruri: &str, from: &str, cseq: u32, auth: Option<(&str, &str)>) -> Request {
    let mut s = format!(
        "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK{cseq}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{from}>;tag=1\r\nTo: <{ruri}>\r\n\
         Call-ID: call-1\r\nCSeq: {cseq} {method}\r\nContact: <sip:alice@192.0.2.7>\r\n"
    );
    if let Some((name, value)) = auth {
        s.push_str(&format!("{name}: {value}\r\n"));
    }
    s.push_str("Content-Length: 0\r\n\r\n");
    match parse_datagram(s.as_bytes()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

fn invite(from: &str, cseq: u32, creds: Option<&Credentials>) -> Request {
    let value = creds.map(|c| c.to_string());
    request(
        "INVITE",
        "sip:bob@example.com",
        from,
        cseq,
        value.as_deref().map(|v| ("Proxy-Authorization", v)),
    )
}

trait ProxyRig {
    fn answer(&mut self, secs: u64) -> Response;
    fn challenge(&mut self, secs: u64, ip: &str) -> Challenge;
}

impl ProxyRig for Rig {
    /// Answers the pending query from a store holding alice's password "pw".
    fn answer(&mut self, secs: u64) -> Response {
        let q = self.fe.poll_query().expect("expected a credentials query");
        self.answer_query(secs, q)
    }

    /// The first challenge of a 407 to alice's unauthenticated INVITE.
    fn challenge(&mut self, secs: u64, ip: &str) -> Challenge {
        let resp = self.send(secs, &invite("alice@example.com", 1, None), ip);
        let resp = resp.expect("an answer at once");
        assert_eq!(resp.status.0, 407, "{resp}");
        proxy_challenges(&resp).remove(0)
    }
}

fn proxy_challenges(r: &Response) -> Vec<Challenge> {
    challenges_in(r, "Proxy-Authenticate")
}

fn answer_to(ch: &Challenge, user: &str, password: &str, method: &str, nc: u32) -> Credentials {
    digest_answer(ch, user, password, method, "sip:bob@example.com", nc)
}

fn allows(r: &Response) -> Vec<Method> {
    r.headers
        .iter()
        .filter_map(|h| match h {
            Header::Allow(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn an_invite_from_our_user_gets_407_then_the_policy_answer_once_authenticated() {
    let mut r = rig();
    let resp = r
        .send(0, &invite("alice@example.com", 1, None), "192.0.2.7")
        .unwrap();
    assert_eq!(resp.status.0, 407);
    assert_eq!(resp.reason, "Proxy Authentication Required");
    assert!(resp.headers.other("WWW-Authenticate").next().is_none());
    let ch = proxy_challenges(&resp);
    assert_eq!(ch.len(), 2, "{resp}");
    assert_eq!(ch[0].realm, "example.com");
    assert!(r.fe.poll_query().is_none(), "no lookup without credentials");

    // MD5, the second challenge, as most phones answer.
    let creds = answer_to(&ch[1], "alice", "pw", "INVITE", 1);
    assert!(r
        .send(
            1,
            &invite("alice@example.com", 2, Some(&creds)),
            "192.0.2.7"
        )
        .is_none());
    let resp = r.answer(1);
    assert_eq!(resp.status.0, 405, "{resp}");
    assert!(allows(&resp).contains(&Method::Register), "{resp}");
    assert!(r.fe.poll_event().is_none());

    // Authenticated, other requests get their policy answers too: 501 for an extension
    // method, 404 for a Request-URI of another domain.
    let creds = answer_to(&ch[1], "alice", "pw", "FOO", 2);
    let foo = request(
        "FOO",
        "sip:bob@example.com",
        "alice@example.com",
        3,
        Some(("Proxy-Authorization", &creds.to_string())),
    );
    assert!(r.send(2, &foo, "192.0.2.7").is_none());
    assert_eq!(r.answer(2).status.0, 501);
    let foreign = request(
        "MESSAGE",
        "sip:bob@elsewhere.example.net",
        "alice@example.com",
        4,
        None,
    );
    assert_eq!(r.send(3, &foreign, "192.0.2.7").unwrap().status.0, 407);
}

#[test]
fn wrong_password_and_unknown_user_get_the_same_407() {
    let mut r = rig();
    let ch = r.challenge(0, "192.0.2.7");
    let mut answers = Vec::new();
    for (user, pw) in [("alice", "wrong"), ("mallory", "pw")] {
        let creds = answer_to(&ch, user, pw, "INVITE", 1);
        let from = format!("{user}@example.com");
        assert!(r
            .send(1, &invite(&from, 2, Some(&creds)), "192.0.2.7")
            .is_none());
        let resp = r.answer(1);
        let ch = proxy_challenges(&resp);
        answers.push((resp.status.0, resp.reason.clone(), ch.len(), ch[0].stale));
    }
    assert_eq!(
        answers[0],
        (407, "Proxy Authentication Required".into(), 2, false)
    );
    assert_eq!(answers[0], answers[1]);
    let events: Vec<Event> = std::iter::from_fn(|| r.fe.poll_event()).collect();
    let bad = Event::AuthFailure {
        reason: "bad_credentials",
    };
    assert_eq!(events, [bad.clone(), bad]);
}

#[test]
fn credentials_in_authorization_instead_of_proxy_authorization_get_407() {
    let mut r = rig();
    let ch = r.challenge(0, "192.0.2.7");
    let creds = answer_to(&ch, "alice", "pw", "INVITE", 1).to_string();
    let req = request(
        "INVITE",
        "sip:bob@example.com",
        "alice@example.com",
        2,
        Some(("Authorization", &creds)),
    );
    assert_eq!(r.send(1, &req, "192.0.2.7").unwrap().status.0, 407);
    assert!(r.fe.poll_query().is_none());
}

#[test]
fn repeated_failures_throttle_other_requests_too() {
    let throttle = ThrottleConfig {
        max_failures: 3,
        window_secs: 60,
        backoff_secs: 120,
        ..Default::default()
    };
    let mut r = rig_with(throttle);
    let ch = r.challenge(0, "198.51.100.9");
    for i in 0..3 {
        let creds = answer_to(&ch, "alice", "guess", "INVITE", i + 1);
        r.send(
            1,
            &invite("alice@example.com", i + 2, Some(&creds)),
            "198.51.100.9",
        );
        assert_eq!(r.answer(1).status.0, 407);
    }
    let resp = r
        .send(2, &invite("alice@example.com", 9, None), "198.51.100.9")
        .unwrap();
    assert_eq!(resp.status.0, 403);
    assert!(resp.headers.other("Retry-After").next().is_some());
    // The real user on another address is not locked out.
    r.challenge(2, "192.0.2.7");
}

#[test]
fn requests_from_other_domains_are_not_challenged() {
    let mut r = rig();
    let resp = r
        .send(
            0,
            &invite("bob@elsewhere.example.net", 1, None),
            "192.0.2.9",
        )
        .unwrap();
    assert_eq!(resp.status.0, 405, "{resp}");
    assert!(r.fe.poll_query().is_none());
}

#[test]
fn options_ack_and_cancel_from_our_users_are_not_challenged() {
    let mut r = rig();
    let from = "alice@example.com";
    let options = request("OPTIONS", "sip:example.com", from, 1, None);
    assert_eq!(r.send(0, &options, "192.0.2.7").unwrap().status.0, 200);
    let ack = request("ACK", "sip:bob@example.com", from, 1, None);
    assert!(r.send(0, &ack, "192.0.2.7").is_none());
    let cancel = request("CANCEL", "sip:bob@example.com", from, 1, None);
    assert_eq!(r.send(0, &cancel, "192.0.2.7").unwrap().status.0, 481);
    assert!(r.fe.poll_query().is_none());
    assert!(r.fe.poll_event().is_none());
}

#[test]
fn a_store_that_does_not_answer_gives_503_to_an_invite() {
    let mut r = rig();
    let ch = r.challenge(0, "192.0.2.7");
    let creds = answer_to(&ch, "alice", "pw", "INVITE", 1);
    assert!(r
        .send(
            1,
            &invite("alice@example.com", 2, Some(&creds)),
            "192.0.2.7"
        )
        .is_none());
    let deadline = r.fe.poll_timeout().expect("a query deadline");
    r.fe.handle_timeout(deadline);
    let (_, resp) = r.fe.poll_response().expect("503 at the deadline");
    assert_eq!(resp.status.0, 503);
    assert_eq!(r.fe.pending_queries(), 0);
}
