//! Parse and print of a typical INVITE with an SDP offer, as a softphone sends it.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sb_sip_msg::{parse_datagram, StreamFramer};

/// A typical INVITE with an SDP offer, as a softphone sends it (exact wire bytes).
const INVITE: &[u8] = include_bytes!("invite.sip");

fn invite() -> Vec<u8> {
    INVITE.to_vec()
}

fn bench(c: &mut Criterion) {
    let bytes = invite();
    let msg = parse_datagram(&bytes).expect("the benchmark INVITE parses");
    let mut g = c.benchmark_group("invite_with_sdp");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("parse", |b| b.iter(|| parse_datagram(black_box(&bytes))));
    g.bench_function("print", |b| b.iter(|| black_box(&msg).to_bytes()));
    g.bench_function("frame_and_parse", |b| {
        b.iter(|| {
            let mut f = StreamFramer::new(65536);
            f.push(black_box(&bytes));
            f.next()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
