//! Cost per 20 ms frame of the transcoding pieces: G.722 and Opus each way, and the
//! resamplers a G.722↔G.711 or 48 kHz bridge runs.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use sb_codecs::{audio, Codec, OpusRate, Resampler};

fn codecs(c: &mut Criterion) {
    for codec in [
        Codec::G722,
        Codec::opus(OpusRate::Hz8000),
        Codec::opus(OpusRate::Hz16000),
        Codec::opus(OpusRate::Hz48000),
    ] {
        let rate = codec.sample_rate();
        let pcm = audio::sine(1000.0, 10_000.0, rate, codec.frame_samples(20));
        let mut enc = codec.encoder();
        let mut payload = Vec::with_capacity(1500);
        c.bench_function(&format!("{} @{rate} encode 20 ms", codec.name()), |b| {
            b.iter(|| {
                payload.clear();
                enc.encode(black_box(&pcm), &mut payload);
            })
        });
        let mut dec = codec.decoder();
        let mut out = Vec::with_capacity(pcm.len());
        c.bench_function(&format!("{} @{rate} decode 20 ms", codec.name()), |b| {
            b.iter(|| {
                out.clear();
                dec.decode(black_box(&payload), &mut out);
            })
        });
    }
}

fn resamplers(c: &mut Criterion) {
    for (from, to) in [
        (16_000, 8000),
        (8000, 16_000),
        (48_000, 8000),
        (8000, 48_000),
        (48_000, 16_000),
        (16_000, 48_000),
    ] {
        let pcm = audio::sine(1000.0, 10_000.0, from, from as usize / 50);
        let mut r = Resampler::new(from, to).expect("supported pair");
        let mut out = Vec::with_capacity(to as usize / 50 + 1);
        c.bench_function(&format!("resample {from}->{to} 20 ms"), |b| {
            b.iter(|| {
                out.clear();
                r.process(black_box(&pcm), &mut out);
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
    targets = codecs, resamplers
}
criterion_main!(benches);
