//! The whole exchange: challenge, a client's answer, verification, on a fake clock.

use crate::*;
use sb_sip_msg::{parse_datagram, Message, Request};

const T0: u64 = 1_800_000_000;
const REALM: &str = "example.com";

fn auth() -> DigestAuth {
    let mut cfg = AuthConfig::new(REALM);
    cfg.nonces.lifetime_secs = 30;
    DigestAuth::new(cfg, b"test secret", 7, T0)
}

/// A REGISTER to sip:example.com with the given extra header lines.
fn register(extra: &[String]) -> Request {
    let mut s = String::from(
        "REGISTER sip:example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
         From: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\n\
         Call-ID: c1\r\nCSeq: 1 REGISTER\r\n",
    );
    for e in extra {
        s.push_str(e);
        s.push_str("\r\n");
    }
    s.push_str("Content-Length: 0\r\n\r\n");
    match parse_datagram(s.as_bytes()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

/// What a client does with a challenge: credentials for `user`/`password`.
fn answer(ch: &Challenge, user: &str, password: &str, nc: u32, uri: &str) -> Credentials {
    let alg = ch.algorithm().unwrap();
    let ha1 = Ha1::compute(alg, user, &ch.realm, password);
    let nc = format!("{nc:08x}");
    let q = QopParts {
        qop: "auth",
        nc: &nc,
        cnonce: "0a4f113b",
    };
    Credentials {
        username: user.into(),
        realm: ch.realm.clone(),
        nonce: ch.nonce.clone(),
        uri: uri.into(),
        response: request_digest(&ha1, &ch.nonce, Some(q), "REGISTER", uri),
        algorithm: ch.algorithm.clone(),
        cnonce: Some("0a4f113b".into()),
        opaque: ch.opaque.clone(),
        qop: Some("auth".into()),
        nc: Some(nc),
        other: Vec::new(),
    }
}

/// The server's side: start, look up (alice's password is "s3cret"), verify.
fn server_check(a: &mut DigestAuth, now: u64, req: &Request, role: AuthRole) -> Outcome {
    match a.start(req, role) {
        Step::Done(o) => o,
        Step::NeedHa1 {
            credentials,
            algorithm,
        } => {
            let ha1 = if credentials.username == "alice" {
                Ha1::compute(algorithm, "alice", REALM, "s3cret")
            } else {
                a.dummy_ha1(&credentials.username, &credentials.realm, algorithm)
            };
            a.verify(now, &req.method, &credentials, &ha1)
        }
    }
}

fn with_auth(c: &Credentials) -> Request {
    register(&[format!("Authorization: {c}")])
}

fn first_challenge(a: &mut DigestAuth, now: u64) -> Challenge {
    a.challenges(now, false).remove(0)
}

#[test]
fn no_credentials_get_a_challenge_sha256_first_then_md5() {
    let mut a = auth();
    let o = server_check(&mut a, T0, &register(&[]), AuthRole::Registrar);
    assert_eq!(o, Outcome::Challenge { stale: false });
    assert_eq!(o.status(AuthRole::Registrar).map(|s| s.0), Some(401));
    let h = a.challenge_headers(T0, AuthRole::Registrar, false);
    let values: Vec<Challenge> = h
        .iter()
        .map(|h| match h {
            sb_sip_msg::Header::Other(o) => {
                assert_eq!(o.name, "WWW-Authenticate");
                match parse_challenge(&o.value).unwrap() {
                    AuthValue::Digest(c) => c,
                    AuthValue::Other { .. } => panic!("not digest"),
                }
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    let algs: Vec<_> = values.iter().map(|c| c.algorithm()).collect();
    assert_eq!(algs, [Some(Algorithm::Sha256), Some(Algorithm::Md5)]);
    for c in &values {
        assert_eq!(c.realm, REALM);
        assert_eq!(c.qop, ["auth"]);
        assert!(c.opaque.is_some());
        assert!(!c.stale);
    }
}

#[test]
fn right_password_is_authorized_with_either_algorithm() {
    let mut a = auth();
    // Both challenges carry one nonce, so the second answer counts on from the first.
    for (nc, ch) in (1..).zip(a.challenges(T0, false)) {
        let c = answer(&ch, "alice", "s3cret", nc, "sip:example.com");
        let o = server_check(&mut a, T0 + 1, &with_auth(&c), AuthRole::Registrar);
        assert_eq!(
            o,
            Outcome::Authorized {
                user: "alice".into()
            },
            "{:?}",
            ch.algorithm
        );
        assert_eq!(o.status(AuthRole::Registrar), None);
    }
}

#[test]
fn wrong_password_and_unknown_user_get_the_same_answer() {
    let mut a = auth();
    let ch = first_challenge(&mut a, T0);
    let wrong = answer(&ch, "alice", "guess", 1, "sip:example.com");
    let unknown = answer(&ch, "mallory", "guess", 1, "sip:example.com");
    let o1 = server_check(&mut a, T0, &with_auth(&wrong), AuthRole::Registrar);
    let o2 = server_check(&mut a, T0, &with_auth(&unknown), AuthRole::Registrar);
    assert_eq!(o1, Outcome::Challenge { stale: false });
    assert_eq!(o1, o2);
    // The dummy HA1 is stable per name, differs between names, and has the right shape.
    let d1 = a.dummy_ha1("mallory", REALM, Algorithm::Sha256);
    assert!(d1 == a.dummy_ha1("mallory", REALM, Algorithm::Sha256));
    assert!(d1 != a.dummy_ha1("trudy", REALM, Algorithm::Sha256));
    assert_eq!(a.dummy_ha1("x", REALM, Algorithm::Md5).as_hex().len(), 32);
}

#[test]
fn expired_nonce_is_stale_only_when_the_password_was_right() {
    let mut a = auth();
    let ch = first_challenge(&mut a, T0);
    let good = answer(&ch, "alice", "s3cret", 1, "sip:example.com");
    let bad = answer(&ch, "alice", "nope", 1, "sip:example.com");
    let later = T0 + 30;
    let o = server_check(&mut a, later, &with_auth(&good), AuthRole::Registrar);
    assert_eq!(o, Outcome::Challenge { stale: true });
    let o = server_check(&mut a, later, &with_auth(&bad), AuthRole::Registrar);
    assert_eq!(o, Outcome::Challenge { stale: false });
    // The stale flag reaches the header.
    let h = a.challenge_headers(later, AuthRole::Registrar, true);
    assert!(h.iter().all(|h| h.to_string().contains("stale=true")));
}

#[test]
fn replayed_nonce_count_is_refused_and_a_higher_one_accepted() {
    let mut a = auth();
    let ch = first_challenge(&mut a, T0);
    let c1 = answer(&ch, "alice", "s3cret", 1, "sip:example.com");
    let req = with_auth(&c1);
    let ok = Outcome::Authorized {
        user: "alice".into(),
    };
    assert_eq!(server_check(&mut a, T0, &req, AuthRole::Registrar), ok);
    assert_eq!(
        server_check(&mut a, T0 + 1, &req, AuthRole::Registrar),
        Outcome::Challenge { stale: true }
    );
    let c2 = answer(&ch, "alice", "s3cret", 2, "sip:example.com");
    assert_eq!(
        server_check(&mut a, T0 + 2, &with_auth(&c2), AuthRole::Registrar),
        ok
    );
}

#[test]
fn forged_nonce_is_a_plain_challenge() {
    let mut a = auth();
    let mut ch = first_challenge(&mut a, T0);
    // A nonce of the right shape that this server never issued.
    ch.nonce = "0".repeat(64);
    let c = answer(&ch, "alice", "s3cret", 1, "sip:example.com");
    let o = server_check(&mut a, T0, &with_auth(&c), AuthRole::Registrar);
    assert_eq!(o, Outcome::Challenge { stale: false });
    // Another server's nonce (different secret) is forged too.
    let mut other = DigestAuth::new(AuthConfig::new(REALM), b"other", 1, T0);
    let ch = first_challenge(&mut other, T0);
    let c = answer(&ch, "alice", "s3cret", 1, "sip:example.com");
    let o = server_check(&mut a, T0, &with_auth(&c), AuthRole::Registrar);
    assert_eq!(o, Outcome::Challenge { stale: false });
}

#[test]
fn unusable_credentials_are_forbidden() {
    let mut a = auth();
    let ch = first_challenge(&mut a, T0);
    let base = answer(&ch, "alice", "s3cret", 1, "sip:example.com");
    let forbidden = |r| Outcome::Forbidden { reason: r };
    let mut wrong_uri = answer(&ch, "alice", "s3cret", 1, "sip:other.example.net");
    wrong_uri.uri = "sip:other.example.net".into();
    let mut sha512 = base.clone();
    sha512.algorithm = Some("SHA-512-256".into());
    let mut sess = base.clone();
    sess.algorithm = Some("MD5-sess".into());
    let mut auth_int = base.clone();
    auth_int.qop = Some("auth-int".into());
    let mut other_realm = base.clone();
    other_realm.realm = "elsewhere.example".into();
    let cases = [
        (wrong_uri, ForbiddenReason::UriMismatch),
        (sha512, ForbiddenReason::UnsupportedAlgorithm),
        (sess, ForbiddenReason::UnsupportedAlgorithm),
        (auth_int, ForbiddenReason::UnsupportedQop),
        (other_realm, ForbiddenReason::RealmMismatch),
    ];
    for (c, reason) in cases {
        let o = server_check(&mut a, T0, &with_auth(&c), AuthRole::Registrar);
        assert_eq!(o, forbidden(reason.clone()), "{c}");
        assert_eq!(o.status(AuthRole::Registrar).map(|s| s.0), Some(403));
    }
    let malformed = register(&["Authorization: Digest username=\"alice".into()]);
    assert!(matches!(
        server_check(&mut a, T0, &malformed, AuthRole::Registrar),
        Outcome::Forbidden {
            reason: ForbiddenReason::Malformed(_)
        }
    ));
}

#[test]
fn unknown_scheme_is_ignored_and_challenged() {
    // RFC 4475 §3.3.7 regaut01, byte-exact.
    let wire = include_bytes!("../../../conformance/sip-torture/rfc4475/regaut01.dat");
    let Message::Request(req) = parse_datagram(wire).unwrap() else {
        unreachable!()
    };
    let mut a = auth();
    let o = server_check(&mut a, T0, &req, AuthRole::Registrar);
    assert_eq!(o, Outcome::Challenge { stale: false });
}

#[test]
fn legacy_form_without_qop_follows_the_configuration() {
    let mut a = auth();
    let ch = first_challenge(&mut a, T0);
    let ha1 = Ha1::compute(Algorithm::Sha256, "alice", REALM, "s3cret");
    let mut c = answer(&ch, "alice", "s3cret", 1, "sip:example.com");
    c.qop = None;
    c.nc = None;
    c.cnonce = None;
    c.response = request_digest(&ha1, &c.nonce, None, "REGISTER", "sip:example.com");
    let req = with_auth(&c);
    assert_eq!(
        server_check(&mut a, T0, &req, AuthRole::Registrar),
        Outcome::Authorized {
            user: "alice".into()
        }
    );
    let mut cfg = AuthConfig::new(REALM);
    cfg.allow_no_qop = false;
    let mut strict = DigestAuth::new(cfg, b"test secret", 7, T0);
    assert_eq!(
        server_check(&mut strict, T0, &req, AuthRole::Registrar),
        Outcome::Forbidden {
            reason: ForbiddenReason::QopRequired
        }
    );
}

#[test]
fn proxy_role_uses_407_and_proxy_headers_and_skips_other_realms() {
    let mut a = auth();
    let ch = first_challenge(&mut a, T0);
    let mine = answer(&ch, "alice", "s3cret", 1, "sip:example.com");
    let mut theirs = mine.clone();
    theirs.realm = "downstream.example".into();
    // Credentials in Authorization are not looked at by a proxy.
    let req = with_auth(&mine);
    let o = server_check(&mut a, T0, &req, AuthRole::Proxy);
    assert_eq!(o, Outcome::Challenge { stale: false });
    assert_eq!(o.status(AuthRole::Proxy).map(|s| s.0), Some(407));
    // Another realm's Proxy-Authorization is skipped; ours, second, is used.
    let req = register(&[
        format!("Proxy-Authorization: {theirs}"),
        format!("Proxy-Authorization: {mine}"),
    ]);
    assert_eq!(
        server_check(&mut a, T0, &req, AuthRole::Proxy),
        Outcome::Authorized {
            user: "alice".into()
        }
    );
    let req = register(&[format!("Proxy-Authorization: {theirs}")]);
    assert_eq!(
        server_check(&mut a, T0, &req, AuthRole::Proxy),
        Outcome::Challenge { stale: false }
    );
    let h = a.challenge_headers(T0, AuthRole::Proxy, false);
    assert!(h
        .iter()
        .all(|h| h.to_string().starts_with("Proxy-Authenticate: Digest ")));
}

#[test]
fn throttling_on_a_fake_clock_with_the_verifier() {
    // The caller's loop: check the source, verify, record the failure.
    let mut a = auth();
    let mut t = FailureTracker::new(ThrottleConfig {
        max_failures: 3,
        window_secs: 60,
        backoff_secs: 120,
        capacity: 100,
    });
    let attacker: std::net::IpAddr = "203.0.113.9".parse().unwrap();
    let user: std::net::IpAddr = "198.51.100.20".parse().unwrap();
    let mut now = T0;
    for i in 0..3 {
        assert_eq!(t.check(attacker, now), Verdict::Allow, "attempt {i}");
        let ch = first_challenge(&mut a, now);
        let c = answer(&ch, "alice", &format!("guess{i}"), 1, "sip:example.com");
        let o = server_check(&mut a, now, &with_auth(&c), AuthRole::Registrar);
        assert_eq!(o, Outcome::Challenge { stale: false });
        t.record_failure(attacker, now);
        now += 5;
    }
    assert_eq!(
        t.check(attacker, now),
        Verdict::Throttled { retry_after: 115 }
    );
    // The real user, elsewhere, still gets in.
    assert_eq!(t.check(user, now), Verdict::Allow);
    let ch = first_challenge(&mut a, now);
    let c = answer(&ch, "alice", "s3cret", 1, "sip:example.com");
    assert!(matches!(
        server_check(&mut a, now, &with_auth(&c), AuthRole::Registrar),
        Outcome::Authorized { .. }
    ));
    assert_eq!(t.check(attacker, now + 115), Verdict::Allow);
}

#[test]
fn register_is_challenged_by_the_registrar_everything_else_by_the_proxy() {
    use sb_sip_msg::Method;
    assert_eq!(AuthRole::for_method(&Method::Register), AuthRole::Registrar);
    assert_eq!(AuthRole::for_method(&Method::Invite), AuthRole::Proxy);
    assert_eq!(AuthRole::Registrar.challenge_status().0, 401);
    assert_eq!(AuthRole::Proxy.challenge_status().0, 407);
}

#[test]
fn configurations_that_cannot_work_are_refused() {
    assert_eq!(AuthConfig::new(REALM).validate(), Ok(()));
    let mut c = AuthConfig::new("bad\"realm");
    assert_eq!(c.validate(), Err(AuthConfigError::BadRealm));
    c = AuthConfig::new(REALM);
    c.algorithms.clear();
    assert_eq!(c.validate(), Err(AuthConfigError::NoAlgorithm));
    c = AuthConfig::new(REALM);
    c.nonces.lifetime_secs = 0;
    assert_eq!(c.validate(), Err(AuthConfigError::NoLifetime));
}
