//! The REGISTER flow as the front end will run it: challenge, answer, verify, register.
//! Shows the two crates fit: the authenticated digest username and realm give the AOR
//! the registrar checks To against.

use sb_registrar::{Aor, Authorized, Registrar, RegistrarConfig, Source};
use sb_sip_auth::{
    parse_challenge, request_digest, AuthConfig, AuthRole, AuthValue, Challenge, Credentials,
    DigestAuth, Ha1, Outcome, QopParts, Step,
};
use sb_sip_msg::{parse_datagram, Header, Message, Request, Transport};

const T0: u64 = 1_800_000_000;

fn register(to_user: &str, cseq: u32, auth: Option<&Credentials>) -> Request {
    let mut s = format!(
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.7;branch=z9hG4bK{cseq}\r\n\
         From: <sip:{to_user}@example.com>;tag=1\r\nTo: <sip:{to_user}@example.com>\r\n\
         Call-ID: reg-1\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{to_user}@192.0.2.7;transport=tls>\r\n"
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

/// What the front end does with one REGISTER; the status it would answer.
fn front_end(
    auth: &mut DigestAuth,
    reg: &mut Registrar,
    now: u64,
    req: &Request,
) -> (u16, Vec<Header>) {
    let outcome = match auth.start(req, AuthRole::Registrar) {
        Step::Done(o) => o,
        Step::NeedHa1 {
            credentials,
            algorithm,
        } => {
            // The store: alice's HA1 only; anyone else gets the dummy.
            let ha1 = if credentials.username == "alice" {
                Ha1::compute(algorithm, "alice", "example.com", "pw")
            } else {
                auth.dummy_ha1(&credentials.username, &credentials.realm, algorithm)
            };
            auth.verify(now, &req.method, &credentials, &ha1)
        }
    };
    match outcome {
        Outcome::Authorized { user } => {
            let source = Source {
                transport: Transport::Tls,
                addr: "192.0.2.7:5061".parse().unwrap(),
            };
            let who = Authorized::Aor(Aor::from_user(&user, &auth.config().realm));
            let reply = reg.handle_register(now, req, &source, &who);
            (reply.status.0, reply.headers)
        }
        Outcome::Challenge { stale } => {
            (401, auth.challenge_headers(now, AuthRole::Registrar, stale))
        }
        Outcome::Forbidden { .. } => (403, Vec::new()),
    }
}

fn first_challenge(headers: &[Header]) -> Challenge {
    headers
        .iter()
        .find_map(|h| match h {
            Header::Other(o) if o.name == "WWW-Authenticate" => match parse_challenge(&o.value) {
                Ok(AuthValue::Digest(c)) => Some(c),
                _ => None,
            },
            _ => None,
        })
        .expect("a digest challenge")
}

fn answer(ch: &Challenge, user: &str, password: &str) -> Credentials {
    let alg = ch.algorithm().unwrap();
    let ha1 = Ha1::compute(alg, user, &ch.realm, password);
    let q = QopParts {
        qop: "auth",
        nc: "00000001",
        cnonce: "c0ffee",
    };
    Credentials {
        username: user.into(),
        realm: ch.realm.clone(),
        nonce: ch.nonce.clone(),
        uri: "sip:example.com".into(),
        response: request_digest(&ha1, &ch.nonce, Some(q), "REGISTER", "sip:example.com"),
        algorithm: ch.algorithm.clone(),
        cnonce: Some("c0ffee".into()),
        opaque: ch.opaque.clone(),
        qop: Some("auth".into()),
        nc: Some("00000001".into()),
        other: Vec::new(),
    }
}

#[test]
fn challenge_then_register_then_someone_elses_aor_is_refused() {
    let mut auth = DigestAuth::new(AuthConfig::new("example.com"), b"k", 1, T0);
    let mut reg = Registrar::new(RegistrarConfig {
        domains: vec!["example.com".into()],
        ..Default::default()
    });

    let (status, headers) = front_end(&mut auth, &mut reg, T0, &register("alice", 1, None));
    assert_eq!(status, 401);
    let ch = first_challenge(&headers);
    assert_eq!(ch.algorithm.as_deref(), Some("SHA-256"));

    let creds = answer(&ch, "alice", "pw");
    let (status, headers) = front_end(
        &mut auth,
        &mut reg,
        T0 + 1,
        &register("alice", 2, Some(&creds)),
    );
    assert_eq!(status, 200);
    assert!(headers.iter().any(|h| matches!(h, Header::Contact(_))));
    assert_eq!(
        reg.bindings(&Aor::from_user("alice", "example.com")).len(),
        1
    );

    // Alice's valid credentials do not let her register bob.
    let (status, _) = front_end(
        &mut auth,
        &mut reg,
        T0 + 2,
        &register("bob", 3, Some(&answer(&ch, "alice", "pw"))),
    );
    // nc 1 was used already: a fresh challenge (stale) first...
    assert_eq!(status, 401);
    let ch = first_challenge(&auth.challenge_headers(T0 + 2, AuthRole::Registrar, false));
    let (status, _) = front_end(
        &mut auth,
        &mut reg,
        T0 + 3,
        &register("bob", 4, Some(&answer(&ch, "alice", "pw"))),
    );
    // ...then the registrar refuses the AOR.
    assert_eq!(status, 403);
    assert!(reg
        .bindings(&Aor::from_user("bob", "example.com"))
        .is_empty());

    // Wrong password and unknown user: the same 401.
    let ch = first_challenge(&auth.challenge_headers(T0 + 4, AuthRole::Registrar, false));
    let (s1, _) = front_end(
        &mut auth,
        &mut reg,
        T0 + 4,
        &register("alice", 5, Some(&answer(&ch, "alice", "nope"))),
    );
    let (s2, _) = front_end(
        &mut auth,
        &mut reg,
        T0 + 4,
        &register("carol", 6, Some(&answer(&ch, "carol", "nope"))),
    );
    assert_eq!((s1, s2), (401, 401));
}
