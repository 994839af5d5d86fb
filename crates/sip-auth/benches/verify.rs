//! The cost of a challenge and of verifying an answer (SHA-256 and MD5).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use sb_sip_auth::{
    parse_credentials, request_digest, Algorithm, AuthConfig, AuthValue, Credentials, DigestAuth,
    Ha1, Outcome, QopParts,
};
use sb_sip_msg::Method;
use std::hint::black_box;

const T0: u64 = 1_800_000_000;

fn bench(c: &mut Criterion) {
    let mut auth = DigestAuth::new(AuthConfig::new("example.com"), b"secret", 1, T0);
    c.bench_function("issue challenges", |b| {
        b.iter(|| black_box(auth.challenges(T0, false)))
    });
    for alg in [Algorithm::Sha256, Algorithm::Md5] {
        let ha1 = Ha1::compute(alg, "alice", "example.com", "pw");
        let nonce = auth.challenges(T0, false).remove(0).nonce;
        let mut nc = 0u32;
        c.bench_function(&format!("verify {alg}"), |b| {
            b.iter_batched(
                || {
                    // A fresh nonce-count each time, as a client sends.
                    nc += 1;
                    let nc = format!("{nc:08x}");
                    let q = QopParts {
                        qop: "auth",
                        nc: &nc,
                        cnonce: "c",
                    };
                    let response =
                        request_digest(&ha1, &nonce, Some(q), "REGISTER", "sip:example.com");
                    Credentials {
                        username: "alice".into(),
                        realm: "example.com".into(),
                        nonce: nonce.clone(),
                        uri: "sip:example.com".into(),
                        response,
                        algorithm: Some(alg.as_str().into()),
                        cnonce: Some("c".into()),
                        qop: Some("auth".into()),
                        nc: Some(nc),
                        ..Default::default()
                    }
                },
                |creds| {
                    let o = auth.verify(T0, &Method::Register, &creds, &ha1);
                    assert!(matches!(o, Outcome::Authorized { .. }));
                    black_box(o)
                },
                BatchSize::SmallInput,
            )
        });
    }
    let header = "Digest username=\"alice\", realm=\"example.com\", nonce=\"0123456789abcdef\", \
                  uri=\"sip:example.com\", response=\"6629fae49393a05397450978507c4ef1\", \
                  algorithm=MD5, cnonce=\"0a4f113b\", qop=auth, nc=00000001";
    c.bench_function("parse credentials", |b| {
        b.iter(|| match parse_credentials(black_box(header)) {
            Ok(AuthValue::Digest(c)) => black_box(c),
            _ => unreachable!(),
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
