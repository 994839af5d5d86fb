//! REGISTER through the front end on a virtual clock: challenge, credentials from a
//! simulated store (answered, failed, or never), the registrar, and what leaves the core.

use sb_frontend::{
    Aor, AuthConfig, AuthSettings, Effect, Event, Frontend, FrontendConfig, Query, QueryError,
    RegistrarConfig, ServicesConfig, ThrottleConfig, WallClock,
};
use sb_sip_auth::{Algorithm, Challenge, Credentials, Ha1};
use sb_sip_msg::{parse_datagram, Header, Message, Request, Response};

mod common;

use common::{answer_to as digest_answer, challenges_in, rig_for, Rig, T0};

fn rig_with(throttle: ThrottleConfig, lifetime: u64) -> Rig {
    rig_for(vec!["example.com".into()], throttle, lifetime)
}

fn rig() -> Rig {
    rig_with(ThrottleConfig::default(), 300)
}

fn register(user: &str, cseq: u32, expires: u32, auth: Option<&Credentials>) -> Request {
    register_in("example.com", user, cseq, expires, auth)
}

fn register_in(
    domain: &str,
    user: &str,
    cseq: u32,
    expires: u32,
    auth: Option<&Credentials>,
) -> Request {
    let mut s = format!(
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK{cseq}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{user}@{domain}>;tag=1\r\nTo: <sip:{user}@{domain}>\r\n\
         Call-ID: reg-{user}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{user}@192.0.2.7>\r\n\
         Expires: {expires}\r\n"
    );
    if let Some(c) = auth {
        s.push_str(&format!("Authorization: {c}\r\n"));
    }
    s.push_str("Content-Length: 0\r\n\r\n");
    match parse_datagram(s.as_bytes()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

trait RegisterRig {
    fn query(&mut self) -> Query;
    fn answer(&mut self, secs: u64, q: Query) -> Response;
    fn events(&mut self) -> Vec<Event>;
}

impl RegisterRig for Rig {
    fn query(&mut self) -> Query {
        self.fe.poll_query().expect("a credentials query")
    }

    /// Answers the pending query from a store holding alice's password "pw".
    fn answer(&mut self, secs: u64, q: Query) -> Response {
        self.answer_query(secs, q)
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.fe.poll_event()).collect()
    }
}

fn challenges(r: &Response) -> Vec<Challenge> {
    challenges_in(r, "WWW-Authenticate")
}

fn answer_to(ch: &Challenge, user: &str, password: &str, nc: u32) -> Credentials {
    digest_answer(ch, user, password, "REGISTER", "sip:example.com", nc)
}

fn other<'a>(r: &'a Response, name: &'a str) -> Vec<&'a str> {
    r.headers.other(name).map(str::trim).collect()
}

#[test]
fn challenge_then_register_with_sha256_and_md5() {
    for (pick, alg) in [(0, Algorithm::Sha256), (1, Algorithm::Md5)] {
        let mut r = rig();
        let resp = r
            .send(0, &register("alice", 1, 600, None), "192.0.2.7")
            .unwrap();
        assert_eq!(resp.status.0, 401);
        let ch = challenges(&resp);
        assert_eq!(ch.len(), 2, "{resp}");
        assert_eq!(ch[0].algorithm.as_deref(), Some("SHA-256"));
        assert_eq!(ch[1].algorithm.as_deref(), Some("MD5"));
        assert_eq!(ch[0].realm, "example.com");
        assert!(
            r.fe.poll_query().is_none(),
            "no store lookup without credentials"
        );

        let creds = answer_to(&ch[pick], "alice", "pw", 1);
        assert!(r
            .send(1, &register("alice", 2, 600, Some(&creds)), "192.0.2.7")
            .is_none());
        let q = r.query();
        let Query::Credentials {
            address,
            realm,
            algorithm,
            ..
        } = &q
        else {
            panic!()
        };
        assert_eq!(
            (address.as_str(), realm.as_str(), *algorithm),
            ("sip:alice@example.com", "example.com", alg)
        );
        assert_eq!(r.fe.pending_queries(), 1);
        let ok = r.answer(1, q);
        assert_eq!(ok.status.0, 200, "{ok}");
        let contact = ok.to_string();
        assert!(
            contact.contains("<sip:alice@192.0.2.7>;expires=600"),
            "{contact}"
        );
        assert_eq!(r.fe.registrations(), 1);
        match r.fe.poll_write() {
            Some(Effect::Upsert(b)) => assert_eq!(b.aor.as_str(), "sip:alice@example.com"),
            other => panic!("expected an upsert, got {other:?}"),
        }
        assert!(r.events().is_empty());
    }
}

#[test]
fn wrong_password_and_unknown_user_get_the_same_answer() {
    let mut r = rig();
    let resp = r
        .send(0, &register("alice", 1, 600, None), "192.0.2.7")
        .unwrap();
    let ch = challenges(&resp).remove(0);
    let mut answers = Vec::new();
    for (user, pw) in [("alice", "wrong"), ("mallory", "pw")] {
        let creds = answer_to(&ch, user, pw, 1);
        assert!(r
            .send(1, &register(user, 2, 600, Some(&creds)), "192.0.2.7")
            .is_none());
        let q = r.query();
        let resp = r.answer(1, q);
        let ch = challenges(&resp);
        answers.push((resp.status.0, resp.reason.clone(), ch.len(), ch[0].stale));
    }
    assert_eq!(answers[0], (401, "Unauthorized".into(), 2, false));
    assert_eq!(answers[0], answers[1]);
    assert_eq!(r.fe.registrations(), 0);
    assert_eq!(
        r.events(),
        [
            Event::AuthFailure {
                reason: "bad_credentials"
            },
            Event::AuthFailure {
                reason: "bad_credentials"
            }
        ]
    );
}

#[test]
fn a_replayed_nonce_count_and_an_expired_nonce_get_stale_challenges() {
    let mut r = rig_with(ThrottleConfig::default(), 2);
    let resp = r
        .send(0, &register("alice", 1, 600, None), "192.0.2.7")
        .unwrap();
    let ch = challenges(&resp).remove(0);
    let creds = answer_to(&ch, "alice", "pw", 1);
    r.send(0, &register("alice", 2, 600, Some(&creds)), "192.0.2.7");
    let q = r.query();
    assert_eq!(r.answer(0, q).status.0, 200);
    // The same nonce-count again, in a new request: refused, with a fresh nonce.
    r.send(1, &register("alice", 3, 600, Some(&creds)), "192.0.2.7");
    let q = r.query();
    let resp = r.answer(1, q);
    assert_eq!(resp.status.0, 401);
    assert!(challenges(&resp)[0].stale, "{resp}");
    // A later count on a nonce past its 2 s lifetime: stale too.
    let creds = answer_to(&ch, "alice", "pw", 2);
    r.send(5, &register("alice", 4, 600, Some(&creds)), "192.0.2.7");
    let q = r.query();
    let resp = r.answer(5, q);
    assert_eq!(resp.status.0, 401);
    let fresh = challenges(&resp);
    assert!(fresh[0].stale && fresh[0].nonce != ch.nonce, "{resp}");
}

#[test]
fn a_store_that_does_not_answer_in_time_gives_503_and_a_late_answer_is_ignored() {
    let mut r = rig();
    let resp = r
        .send(0, &register("alice", 1, 600, None), "192.0.2.7")
        .unwrap();
    let creds = answer_to(&challenges(&resp)[0], "alice", "pw", 1);
    r.send(0, &register("alice", 2, 600, Some(&creds)), "192.0.2.7");
    let q = r.query();
    let deadline = r.fe.poll_timeout().expect("the query has a deadline");
    assert_eq!(deadline, r.at(4));
    r.fe.handle_timeout(r.at(3));
    assert!(r.fe.poll_response().is_none(), "not before the deadline");
    r.fe.handle_timeout(deadline);
    let (_, resp) = r.fe.poll_response().expect("503 at the deadline");
    assert_eq!(resp.status.0, 503);
    assert_eq!(other(&resp, "Retry-After"), ["5"]);
    assert_eq!(r.events(), [Event::StoreUnavailable { error: None }]);
    // The store's answer arrives after all: nothing more is sent, nothing registered.
    let Query::Credentials { id, .. } = q else {
        panic!()
    };
    r.fe.handle_query_result(r.at(5), id, Ok(None));
    assert!(r.fe.poll_response().is_none());
    assert_eq!(r.fe.registrations(), 0);
}

#[test]
fn requests_beyond_the_pending_limit_get_503_at_once() {
    let mut r = rig();
    let resp = r
        .send(0, &register("alice", 1, 600, None), "192.0.2.7")
        .unwrap();
    let ch = challenges(&resp).remove(0);
    let mut rig_small = {
        let t0 = r.t0;
        let mut auth = AuthConfig::new("example.com");
        auth.nonces.lifetime_secs = 300;
        let mut services = ServicesConfig::new(
            RegistrarConfig::default(),
            Some(AuthSettings {
                config: auth,
                realm_per_domain: false,
                secret: b"test secret".to_vec(),
                throttle: ThrottleConfig::default(),
            }),
        );
        services.max_pending = 2;
        Rig {
            fe: Frontend::with_services(
                FrontendConfig::default(),
                services,
                WallClock { at: t0, unix: T0 },
            ),
            t0,
            key: 0,
        }
    };
    let creds = answer_to(&ch, "alice", "pw", 1);
    for cseq in 2..4 {
        assert!(rig_small
            .send(0, &register("alice", cseq, 600, Some(&creds)), "192.0.2.7")
            .is_none());
    }
    let resp = rig_small
        .send(0, &register("alice", 9, 600, Some(&creds)), "192.0.2.7")
        .expect("an answer at once");
    assert_eq!(resp.status.0, 503);
    assert_eq!(other(&resp, "Retry-After"), ["5"]);
    assert_eq!(rig_small.fe.pending_queries(), 2);
}

#[test]
fn a_flood_of_made_up_domains_does_not_lock_a_real_one_out() {
    // Every host is ours (no [sip] domains), so the realm follows whatever To names.
    let mut r = rig_for(Vec::new(), ThrottleConfig::default(), 300);
    for i in 0..300 {
        let host = format!("host{i}.invalid");
        let resp = r
            .send(0, &register_in(&host, "x", i + 2, 600, None), "203.0.113.9")
            .unwrap();
        assert_eq!(challenges(&resp)[0].realm, host);
    }
    // A domain first seen after the flood still gets its own realm, and registers.
    let resp = r
        .send(
            1,
            &register_in("second.test", "alice", 1, 600, None),
            "192.0.2.7",
        )
        .unwrap();
    let ch = challenges(&resp).remove(0);
    assert_eq!(ch.realm, "second.test");
    let creds = answer_to(&ch, "alice", "pw", 1);
    r.send(
        1,
        &register_in("second.test", "alice", 2, 600, Some(&creds)),
        "192.0.2.7",
    );
    let Query::Credentials {
        id,
        address,
        algorithm,
        ..
    } = r.query()
    else {
        panic!()
    };
    assert_eq!(address, "sip:alice@second.test");
    let ha1 = Ha1::compute(algorithm, "alice", "second.test", "pw");
    r.fe.handle_query_result(r.at(1), id, Ok(Some(ha1)));
    assert_eq!(r.fe.poll_response().unwrap().1.status.0, 200);
}

#[test]
fn a_failing_store_gives_503() {
    let mut r = rig();
    let resp = r
        .send(0, &register("alice", 1, 600, None), "192.0.2.7")
        .unwrap();
    let creds = answer_to(&challenges(&resp)[0], "alice", "pw", 1);
    r.send(0, &register("alice", 2, 600, Some(&creds)), "192.0.2.7");
    let id = r.query().id();
    r.fe.handle_query_result(r.at(0), id, Err(QueryError::Store("disk full".into())));
    let (_, resp) = r.fe.poll_response().unwrap();
    assert_eq!(resp.status.0, 503);
    assert_eq!(r.fe.pending_queries(), 0);
}

#[test]
fn repeated_failures_throttle_that_source_only() {
    let throttle = ThrottleConfig {
        max_failures: 3,
        window_secs: 60,
        backoff_secs: 120,
        ..Default::default()
    };
    let mut r = rig_with(throttle, 300);
    let resp = r
        .send(0, &register("alice", 1, 600, None), "198.51.100.9")
        .unwrap();
    let ch = challenges(&resp).remove(0);
    for i in 0..3 {
        let creds = answer_to(&ch, "alice", "guess", i + 1);
        r.send(
            1,
            &register("alice", i + 2, 600, Some(&creds)),
            "198.51.100.9",
        );
        let q = r.query();
        assert_eq!(r.answer(1, q).status.0, 401);
    }
    let resp = r
        .send(2, &register("alice", 9, 600, None), "198.51.100.9")
        .unwrap();
    assert_eq!(resp.status.0, 403);
    assert_eq!(resp.reason, "Forbidden (too many failed attempts)");
    assert_eq!(other(&resp, "Retry-After"), ["119"]);
    assert!(r.events().contains(&Event::Throttled));
    // The real user elsewhere is not locked out.
    let resp = r
        .send(2, &register("alice", 10, 600, None), "192.0.2.7")
        .unwrap();
    assert_eq!(resp.status.0, 401);
}

#[test]
fn too_brief_expires_gets_423_and_star_removes_every_binding() {
    let mut r = rig();
    let resp = r
        .send(0, &register("alice", 1, 600, None), "192.0.2.7")
        .unwrap();
    let ch = challenges(&resp).remove(0);
    let creds = answer_to(&ch, "alice", "pw", 1);
    r.send(0, &register("alice", 2, 10, Some(&creds)), "192.0.2.7");
    let q = r.query();
    let resp = r.answer(0, q);
    assert_eq!(resp.status.0, 423);
    assert!(resp.to_string().contains("Min-Expires: 60"), "{resp}");

    let creds = answer_to(&ch, "alice", "pw", 2);
    r.send(0, &register("alice", 3, 600, Some(&creds)), "192.0.2.7");
    let q = r.query();
    assert_eq!(r.answer(0, q).status.0, 200);
    let _ = r.fe.poll_write();

    let creds = answer_to(&ch, "alice", "pw", 3);
    let mut star = register("alice", 4, 0, Some(&creds));
    star.headers.0.retain(|h| !matches!(h, Header::Contact(_)));
    star.headers
        .push(Header::Contact(sb_sip_msg::ContactValue::Star));
    r.send(1, &star, "192.0.2.7");
    let q = r.query();
    assert_eq!(r.answer(1, q).status.0, 200);
    assert_eq!(r.fe.registrations(), 0);
    assert!(matches!(r.fe.poll_write(), Some(Effect::Remove { .. })));
}

#[test]
fn restored_bindings_lapse_on_the_timer() {
    let mut r = rig();
    let resp = r
        .send(0, &register("alice", 1, 600, None), "192.0.2.7")
        .unwrap();
    let creds = answer_to(&challenges(&resp)[0], "alice", "pw", 1);
    r.send(0, &register("alice", 2, 600, Some(&creds)), "192.0.2.7");
    let q = r.query();
    r.answer(0, q);
    let Some(Effect::Upsert(b)) = r.fe.poll_write() else {
        panic!()
    };
    // A new process restores it 100 s later; it lapses at 600 s.
    let mut again = rig();
    again.fe.restore(again.at(100), [*b]);
    assert!(again.fe.poll_write().is_none());
    let aor = Aor::from_canonical("sip:alice@example.com");
    assert_eq!(again.fe.bindings(&aor).len(), 1);
    assert_eq!(again.fe.poll_timeout(), Some(again.at(600)));
    again.fe.handle_timeout(again.at(600));
    assert_eq!(again.fe.registrations(), 0);
    assert!(matches!(again.fe.poll_write(), Some(Effect::Remove { .. })));
}
