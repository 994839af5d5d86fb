//! Cost of the jitter buffer per packet: one push and one pop of a 20 ms G.711 stream, on a
//! quiet path and on a jittery, reordering path (where the queue holds several frames and
//! the delay estimate works hardest).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use sb_media::jitter::{JitterBuffer, JitterConfig};

const FRAME_US: u64 = 20_000;

/// Arrival offsets (µs) for a repeating pattern of 64 packets; 0 for the quiet path.
fn pattern(jittery: bool) -> Vec<u64> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..64)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if jittery {
                x % 80_000
            } else {
                0
            }
        })
        .collect()
}

fn run(c: &mut Criterion, name: &str, jittery: bool) {
    let offsets = pattern(jittery);
    c.bench_function(name, |b| {
        let mut jb = JitterBuffer::new(JitterConfig::new(8000, FRAME_US)).expect("valid");
        let mut seq = 0u64;
        let payload = vec![0xD5u8; 160];
        b.iter(|| {
            let sent = seq * FRAME_US;
            let at = sent + 10_000 + offsets[(seq % 64) as usize];
            jb.push(at, seq, (seq as u32).wrapping_mul(160), payload.clone());
            black_box(jb.pop(sent + 5_000));
            seq += 1;
        })
    });
}

fn jitter(c: &mut Criterion) {
    run(c, "jitter push+pop, quiet path", false);
    run(c, "jitter push+pop, 80 ms jitter", true);
}

criterion_group!(benches, jitter);
criterion_main!(benches);
