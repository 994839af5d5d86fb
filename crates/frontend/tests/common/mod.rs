//! The front end with registrar and digest auth on a virtual clock, and a client's side of
//! digest: shared by the REGISTER (401) and proxy-authentication (407) tests.
// Each test file uses part of this module.
#![allow(dead_code)]

use sb_frontend::{
    AuthConfig, AuthSettings, Frontend, FrontendConfig, Query, RegistrarConfig, ReqKey,
    ServicesConfig, Source, ThrottleConfig, WallClock,
};
use sb_sip_auth::{
    parse_challenge, request_digest, AuthValue, Challenge, Credentials, Ha1, QopParts,
};
use sb_sip_msg::{Request, Response, Transport};
use std::time::{Duration, Instant};

/// Unix seconds at the rig's start.
pub const T0: u64 = 1_800_000_000;

pub struct Rig {
    pub fe: Frontend,
    pub t0: Instant,
    pub key: u64,
}

/// A front end serving `domains`, challenging with realm example.com (or the domain) and
/// nonces living `lifetime` seconds.
pub fn rig_for(domains: Vec<String>, throttle: ThrottleConfig, lifetime: u64) -> Rig {
    let t0 = Instant::now();
    let mut auth = AuthConfig::new("example.com");
    auth.nonces.lifetime_secs = lifetime;
    let services = ServicesConfig::new(
        RegistrarConfig {
            domains: domains.clone(),
            ..Default::default()
        },
        Some(AuthSettings {
            config: auth,
            realm_per_domain: true,
            secret: b"test secret".to_vec(),
            throttle,
        }),
    );
    let fe = Frontend::with_services(
        FrontendConfig {
            domains,
            tag_seed: 1,
            ..Default::default()
        },
        services,
        WallClock { at: t0, unix: T0 },
    );
    Rig { fe, t0, key: 0 }
}

pub fn source(ip: &str) -> Source {
    Source {
        transport: Transport::Udp,
        addr: format!("{ip}:5060").parse().unwrap(),
    }
}

impl Rig {
    pub fn at(&self, secs: u64) -> Instant {
        self.t0 + Duration::from_secs(secs)
    }

    /// Sends a request from `ip`; returns the response if it came at once.
    pub fn send(&mut self, secs: u64, req: &Request, ip: &str) -> Option<Response> {
        self.key += 1;
        let now = self.at(secs);
        self.fe
            .handle_request_at(now, ReqKey(self.key), req, source(ip));
        self.fe.poll_response().map(|(k, r)| {
            assert_eq!(k, ReqKey(self.key));
            r
        })
    }

    /// Answers a credentials query from a store holding alice@example.com with password "pw".
    pub fn answer_query(&mut self, secs: u64, q: Query) -> Response {
        let Query::Credentials {
            id,
            address,
            realm,
            algorithm,
            ..
        } = q
        else {
            panic!("unexpected query")
        };
        let ha1 = (address == "sip:alice@example.com")
            .then(|| Ha1::compute(algorithm, "alice", &realm, "pw"));
        self.fe.handle_query_result(self.at(secs), id, Ok(ha1));
        self.fe.poll_response().expect("an answer").1
    }
}

/// The digest challenges of a response in header `name` (WWW- or Proxy-Authenticate).
pub fn challenges_in(r: &Response, name: &str) -> Vec<Challenge> {
    r.headers
        .other(name)
        .filter_map(|v| match parse_challenge(v) {
            Ok(AuthValue::Digest(c)) => Some(c),
            _ => None,
        })
        .collect()
}

/// What a client answers to `ch` for `method` on `uri` (qop=auth, nonce-count `nc`).
pub fn answer_to(
    ch: &Challenge,
    user: &str,
    password: &str,
    method: &str,
    uri: &str,
    nc: u32,
) -> Credentials {
    let alg = ch.algorithm().unwrap();
    let ha1 = Ha1::compute(alg, user, &ch.realm, password);
    let nc = format!("{nc:08x}");
    let q = QopParts {
        qop: "auth",
        nc: &nc,
        cnonce: "c0ffee",
    };
    Credentials {
        username: user.into(),
        realm: ch.realm.clone(),
        nonce: ch.nonce.clone(),
        uri: uri.into(),
        response: request_digest(&ha1, &ch.nonce, Some(q), method, uri),
        algorithm: ch.algorithm.clone(),
        cnonce: Some("c0ffee".into()),
        opaque: ch.opaque.clone(),
        qop: Some("auth".into()),
        nc: Some(nc),
        other: Vec::new(),
    }
}
