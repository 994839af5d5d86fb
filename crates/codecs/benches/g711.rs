//! Cost of G.711 per 20 ms frame (160 samples at 8 kHz), both laws, both directions, and
//! of concealing a lost frame.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use sb_codecs::{audio, Codec};

fn g711(c: &mut Criterion) {
    let pcm = audio::sine(1000.0, 10_000.0, 8000, 160);
    for codec in Codec::G711 {
        let mut enc = codec.encoder();
        let mut payload = Vec::with_capacity(160);
        c.bench_function(&format!("{} encode 20 ms", codec.name()), |b| {
            b.iter(|| {
                payload.clear();
                enc.encode(black_box(&pcm), &mut payload);
            })
        });
        let mut dec = codec.decoder();
        let mut out = Vec::with_capacity(160);
        c.bench_function(&format!("{} decode 20 ms", codec.name()), |b| {
            b.iter(|| {
                out.clear();
                dec.decode(black_box(&payload), &mut out);
            })
        });
        c.bench_function(&format!("{} conceal 20 ms", codec.name()), |b| {
            b.iter(|| {
                out.clear();
                // Decode first so every iteration starts a fresh loss (pitch search included).
                dec.decode(black_box(&payload), &mut out);
                dec.conceal(160, &mut out);
            })
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1));
    targets = g711
}
criterion_main!(benches);
