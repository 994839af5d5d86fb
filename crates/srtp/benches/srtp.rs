//! Cost of SRTP per 20 ms G.711 packet (12-byte header, 160-byte payload) for each suite:
//! protecting alone, and protecting then unprotecting (a receiver must see fresh indices,
//! or the replay list would refuse the packets).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use sb_srtp::{SrtpContext, SrtpSuite};

const SUITES: [SrtpSuite; 3] = [
    SrtpSuite::AesCm128HmacSha1_80,
    SrtpSuite::AesCm128HmacSha1_32,
    SrtpSuite::AeadAes128Gcm,
];

fn packet(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44]);
    p.resize(12 + 160, 0xd5);
    p
}

fn context(suite: SrtpSuite) -> SrtpContext {
    let salt = vec![9; suite.master_salt_len()];
    SrtpContext::new(suite, &[7; 16], &salt, None).expect("valid parameters")
}

fn srtp(c: &mut Criterion) {
    for suite in SUITES {
        let mut tx = context(suite);
        let mut seq = 0u16;
        let mut buf = Vec::with_capacity(256);
        c.bench_function(&format!("{suite} protect 20 ms"), |b| {
            b.iter(|| {
                seq = seq.wrapping_add(1);
                buf.clear();
                buf.extend_from_slice(&packet(seq));
                tx.protect_rtp(black_box(&mut buf)).expect("protect");
            })
        });
        let (mut tx, mut rx) = (context(suite), context(suite));
        let mut seq = 0u16;
        c.bench_function(&format!("{suite} protect+unprotect 20 ms"), |b| {
            b.iter(|| {
                seq = seq.wrapping_add(1);
                buf.clear();
                buf.extend_from_slice(&packet(seq));
                tx.protect_rtp(&mut buf).expect("protect");
                rx.unprotect_rtp(black_box(&mut buf)).expect("unprotect");
            })
        });
    }
}

criterion_group!(benches, srtp);
criterion_main!(benches);
