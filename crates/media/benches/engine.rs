//! Cost of the call media engine per 20 ms packet: relaying G.711 between two plain legs,
//! relaying from an SRTP leg to a plain one, and transcoding PCMU to PCMA (decode, jitter
//! buffer, encode), each including the drain of what the engine sends.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use sb_media::{EngineConfig, MediaEngine};
use sb_media_api::{CodecSpec, Command, LegId, LegSpec, SessionId, SrtpKey, SrtpSpec, SrtpSuite};
use std::net::SocketAddr;

const FRAME_US: u64 = 20_000;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("literal address")
}

fn key(k: u8) -> SrtpKey {
    SrtpKey {
        master_key: vec![k; 16],
        master_salt: vec![k; 14],
        mki: None,
        lifetime: None,
    }
}

fn engine(a: LegSpec, b: LegSpec) -> MediaEngine {
    let mut e = MediaEngine::new(EngineConfig::new(1, 0));
    let s = SessionId(1);
    e.handle_command(0, Command::CreateSession { session: s })
        .expect("new session");
    for (leg, local, spec) in [(1, "10.0.0.1:20000", a), (2, "10.0.0.1:20002", b)] {
        let cmd = Command::AddLeg {
            session: s,
            leg: LegId(leg),
            local: addr(local),
            local_rtcp: None,
            spec,
        };
        e.handle_command(0, cmd).expect("new leg");
    }
    e.handle_command(
        0,
        Command::Connect {
            a: LegId(1),
            b: LegId(2),
        },
    )
    .expect("connect");
    e
}

fn run(c: &mut Criterion, name: &str, a: LegSpec, b: LegSpec, srtp: Option<SrtpKey>) {
    let mut e = engine(a, b);
    let mut tx = srtp.map(|k| {
        sb_srtp::SrtpContext::new(
            sb_srtp::SrtpSuite::AesCm128HmacSha1_80,
            &k.master_key,
            &k.master_salt,
            None,
        )
        .expect("valid key")
    });
    let (local, from) = (addr("10.0.0.1:20000"), addr("192.0.2.1:4000"));
    let mut n: u64 = 0;
    c.bench_function(name, |bench| {
        bench.iter(|| {
            n += 1;
            let now = n * FRAME_US;
            let rtp = sb_rtp::Rtp::new(
                sb_rtp::Pt(0),
                n as u16,
                (n * 160) as u32,
                sb_rtp::Ssrc(9),
                vec![0x55; 160],
            );
            let mut bytes = rtp.to_bytes().expect("valid packet");
            if let Some(tx) = &mut tx {
                tx.protect_rtp(&mut bytes).expect("protect");
            }
            e.handle_packet(now, local, from, &bytes);
            if e.poll_timeout().is_some_and(|t| t <= now) {
                e.handle_timeout(now);
            }
            while let Some(t) = e.poll_transmit() {
                black_box(t);
            }
            while let Some(ev) = e.poll_event() {
                black_box(ev);
            }
        })
    });
}

fn benches(c: &mut Criterion) {
    let plain =
        |port: u16, codec: CodecSpec| LegSpec::plain(addr(&format!("192.0.2.1:{port}")), codec);
    run(
        c,
        "engine relay pcmu",
        plain(4000, CodecSpec::pcmu()),
        plain(5000, CodecSpec::pcmu()),
        None,
    );
    let mut secure = plain(4000, CodecSpec::pcmu());
    secure.srtp = Some(SrtpSpec {
        suite: SrtpSuite::AesCm128HmacSha1_80,
        send: key(1),
        recv: key(2),
    });
    run(
        c,
        "engine relay srtp to plain",
        secure,
        plain(5000, CodecSpec::pcmu()),
        Some(key(2)),
    );
    run(
        c,
        "engine transcode pcmu to pcma",
        plain(4000, CodecSpec::pcmu()),
        plain(5000, CodecSpec::pcma()),
        None,
    );
}

criterion_group!(engine_benches, benches);
criterion_main!(engine_benches);
