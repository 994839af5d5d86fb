//! Sample-rate conversion judged by ear-level criteria: tones keep frequency and level,
//! frames join without clicks, and nothing above the lower rate's Nyquist frequency folds
//! back (or, going up, nothing leaks out as an image).

use sb_codecs::audio::{self, sine};
use sb_codecs::Resampler;

/// Attenuation the tests demand of aliases and images, in dB: the filters are designed
/// for 70 dB (`sb_codecs::resample::STOPBAND_DB`) and the tests leave a margin.
const MIN_REJECTION_DB: f64 = 60.0;

const PAIRS: [(u32, u32); 6] = [
    (16_000, 8000),
    (8000, 16_000),
    (48_000, 8000),
    (8000, 48_000),
    (48_000, 16_000),
    (16_000, 48_000),
];

/// Converts `input` in 20 ms frames.
fn convert(from: u32, to: u32, input: &[i16]) -> Vec<i16> {
    let mut r = Resampler::new(from, to).unwrap();
    let mut out = Vec::new();
    for frame in input.chunks(from as usize / 50) {
        let before = out.len();
        r.process(frame, &mut out);
        assert_eq!(out.len() - before, r.output_len(frame.len()));
    }
    out
}

/// Amplitude of the best-fitting sine at `freq` (any phase) in `y`, and the RMS of what is
/// left after taking it out.
fn fit(y: &[i16], freq: f64, rate: u32) -> (f64, f64) {
    let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate);
    let n = y.len() as f64;
    let (mut s, mut c) = (0.0, 0.0);
    for (i, &v) in y.iter().enumerate() {
        s += f64::from(v) * (w * i as f64).sin();
        c += f64::from(v) * (w * i as f64).cos();
    }
    let (a, b) = (2.0 * s / n, 2.0 * c / n);
    let residual: f64 = y
        .iter()
        .enumerate()
        .map(|(i, &v)| (f64::from(v) - a * (w * i as f64).sin() - b * (w * i as f64).cos()).powi(2))
        .sum();
    (a.hypot(b), (residual / n).sqrt())
}

fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

#[test]
fn a_1khz_tone_survives_every_conversion() {
    for (from, to) in PAIRS {
        let input = sine(1000.0, 10_000.0, from, from as usize);
        let out = convert(from, to, &input);
        assert_eq!(out.len(), to as usize);
        // Past the filter's start-up, a whole number of cycles.
        let settled = &out[to as usize / 10..];
        assert!(audio::is_1khz_tone(settled, to), "{from} -> {to}");
        let (amp, rest) = fit(settled, 1000.0, to);
        assert!(
            (db(amp / 10_000.0)).abs() < 0.05,
            "{from} -> {to}: gain {:.3} dB",
            db(amp / 10_000.0)
        );
        // Distortion and noise: rounding to 16 bits only.
        assert!(
            db(amp / rest) > 70.0,
            "{from} -> {to}: SNR {:.1} dB",
            db(amp / rest)
        );
    }
}

#[test]
fn passband_is_flat_to_3400_hz_toward_8k() {
    for from in [16_000, 48_000] {
        for freq in [300.0, 1000.0, 2000.0, 3000.0, 3400.0] {
            let out = convert(from, 8000, &sine(freq, 10_000.0, from, from as usize / 2));
            let (amp, _) = fit(&out[800..], freq, 8000);
            let gain = db(amp / 10_000.0);
            assert!(gain.abs() < 0.1, "{from} Hz, {freq} Hz: {gain:.3} dB");
        }
    }
}

#[test]
fn framing_does_not_change_the_output() {
    // A stream converted in odd-sized pieces is the same stream, sample for sample: no
    // clicks at frame edges.
    for (from, to) in PAIRS {
        let mut input = sine(440.0, 9000.0, from, from as usize / 2);
        audio::WhiteNoise::new(5).add_to(&mut input, 1000.0);
        let mut whole = Vec::new();
        Resampler::new(from, to)
            .unwrap()
            .process(&input, &mut whole);
        let mut pieces = Vec::new();
        let mut r = Resampler::new(from, to).unwrap();
        let mut rest = &input[..];
        let mut n = 1;
        while !rest.is_empty() {
            let take = n.min(rest.len());
            r.process(&rest[..take], &mut pieces);
            rest = &rest[take..];
            n = n * 7 % 97 + 1;
        }
        assert_eq!(whole, pieces, "{from} -> {to}");
    }
}

#[test]
fn going_down_nothing_above_nyquist_folds_back() {
    // A tone just above 4 kHz would fold to just below it (4.1 kHz -> 3.9 kHz at 8 kHz).
    for (from, to) in [(16_000, 8000), (48_000, 8000), (48_000, 16_000)] {
        let nyquist = f64::from(to) / 2.0;
        let mut freq = nyquist + 100.0;
        while freq < f64::from(from) / 2.0 {
            let out = convert(from, to, &sine(freq, 20_000.0, from, from as usize / 2));
            let level = audio::rms(&out[to as usize / 10..]) * std::f64::consts::SQRT_2;
            let rejection = db(20_000.0 / level.max(1e-9));
            assert!(
                rejection > MIN_REJECTION_DB,
                "{from} -> {to}: {freq} Hz folds to {} Hz only {rejection:.1} dB down",
                (f64::from(to) - freq % f64::from(to)).abs()
            );
            freq += if from == 48_000 { 1700.0 } else { 500.0 };
        }
    }
}

#[test]
fn a_3900_hz_tone_going_to_8k_keeps_no_alias() {
    // 3.9 kHz lies in the transition band: it may be attenuated, but whatever comes out is
    // that tone and nothing else, at 60 dB below the input or more.
    for from in [16_000, 48_000] {
        let out = convert(from, 8000, &sine(3900.0, 20_000.0, from, from as usize));
        let (_, rest) = fit(&out[800..], 3900.0, 8000);
        let rejection = db(20_000.0 / (rest * std::f64::consts::SQRT_2));
        assert!(rejection > MIN_REJECTION_DB, "{from}: {rejection:.1} dB");
    }
}

#[test]
fn going_up_leaves_no_images() {
    // A 3.9 kHz tone at 8 kHz has an image at 4.1 kHz (and 11.9, 12.1 ... at 48 kHz) that
    // the interpolation filter must remove.
    for (from, to) in [(8000, 16_000), (8000, 48_000), (16_000, 48_000)] {
        let freq = f64::from(from) / 2.0 - 100.0;
        let out = convert(from, to, &sine(freq, 20_000.0, from, from as usize));
        let settled = &out[to as usize / 10..];
        let (amp, rest) = fit(settled, freq, to);
        let rejection = db(20_000.0 / (rest * std::f64::consts::SQRT_2));
        assert!(
            rejection > MIN_REJECTION_DB,
            "{from} -> {to}: images {rejection:.1} dB down"
        );
        // The tone itself is in the transition band: attenuated, not amplified.
        assert!(amp < 20_000.0 * 1.01);
    }
}

#[test]
fn delay_is_reported() {
    // An impulse comes out delay() samples later, at its peak.
    for (from, to) in PAIRS {
        let mut input = vec![0i16; from as usize / 10];
        input[0] = 30_000;
        let out = convert(from, to, &input);
        let peak = out
            .iter()
            .enumerate()
            .max_by_key(|(_, &s)| i32::from(s).abs())
            .map(|(i, _)| i)
            .unwrap();
        let r = Resampler::new(from, to).unwrap();
        assert_eq!(peak, r.delay(), "{from} -> {to}");
    }
}
