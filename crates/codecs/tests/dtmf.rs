//! In-band DTMF as a gateway would meet it: generated, sent through G.711 with line noise,
//! and detected once per key press, with no digits out of tones, noise or quiet signals.

use std::time::Duration;

use sb_codecs::audio::{self, WhiteNoise};
use sb_codecs::dtmf::{self, DetectorConfig, DtmfDetector, DtmfDigit, DtmfEvent, DtmfParams};
use sb_codecs::Codec;

const RATE: u32 = 8000;

fn through(codec: Codec, pcm: &[i16]) -> Vec<i16> {
    let mut enc = codec.encoder();
    let mut dec = codec.decoder();
    let mut out = Vec::new();
    for frame in pcm.chunks(160) {
        let mut payload = Vec::new();
        enc.encode(frame, &mut payload);
        dec.decode(&payload, &mut out);
    }
    out
}

/// Feeds `pcm` in 20 ms frames, as a media engine would, and collects the events.
fn detect(pcm: &[i16]) -> Vec<DtmfEvent> {
    let mut det = DtmfDetector::new(RATE);
    let mut events = Vec::new();
    for frame in pcm.chunks(160) {
        det.push(frame);
        while let Some(e) = det.poll_event() {
            events.push(e);
        }
    }
    events
}

fn digits(events: &[DtmfEvent]) -> String {
    events.iter().map(|e| e.digit.as_char()).collect()
}

/// Adds white noise `snr_db` below `signal_rms` (the level of the tones, not the pauses).
fn add_noise(pcm: &mut [i16], signal_rms: f64, snr_db: f64, seed: u64) {
    let noise_rms = signal_rms / 10f64.powf(snr_db / 20.0);
    WhiteNoise::new(seed).add_to(pcm, noise_rms);
}

#[test]
fn all_sixteen_digits_through_ulaw_at_minus_20_dbm0_with_noise() {
    let params = DtmfParams {
        level_dbm0: -20.0,
        twist_db: 0.0,
        tone: Duration::from_millis(60),
        pause: Duration::from_millis(60),
    };
    let keys: Vec<DtmfDigit> = DtmfDigit::all().collect();
    let mut clean = vec![0i16; 400];
    clean.extend(dtmf::generate_sequence(&keys, &params, RATE));
    // Two tones of peak A have a combined RMS of √(2 · A²/2) = A.
    let pair_rms = audio::dbm0_to_amplitude(-20.0);
    for seed in [1, 42, 1234] {
        let mut pcm = clean.clone();
        add_noise(&mut pcm, pair_rms, 20.0, seed);
        let events = detect(&through(Codec::Pcmu, &pcm));
        assert_eq!(digits(&events), "0123456789*#ABCD", "seed {seed}");
    }
    let mut pcm = clean;
    add_noise(&mut pcm, pair_rms, 20.0, 42);
    let events = detect(&through(Codec::Pcmu, &pcm));
    // Each press is reported near its real start: at most one detection block (13.25 ms)
    // plus a little late, and only as early as a block the tone almost fills.
    for (i, e) in events.iter().enumerate() {
        let expected = Duration::from_millis(50 + 120 * i as u64);
        let got = e.start(RATE);
        assert!(
            got + Duration::from_millis(3) >= expected
                && got <= expected + Duration::from_millis(27),
            "{}: started {got:?}, expected {expected:?}",
            e.digit
        );
    }
}

#[test]
fn digits_survive_alaw_and_twist_within_limits() {
    for twist_db in [-6.0, 0.0, 6.0] {
        let params = DtmfParams {
            level_dbm0: -15.0,
            twist_db,
            ..DtmfParams::default()
        };
        let keys = dtmf::parse_digits("159D*").unwrap();
        let pcm = dtmf::generate_sequence(&keys, &params, RATE);
        assert_eq!(
            digits(&detect(&through(Codec::Pcma, &pcm))),
            "159D*",
            "twist {twist_db}"
        );
    }
}

#[test]
fn too_much_twist_is_rejected() {
    let params = DtmfParams {
        level_dbm0: -12.0,
        twist_db: 12.0,
        ..DtmfParams::default()
    };
    let pcm = dtmf::generate_sequence(&dtmf::parse_digits("123").unwrap(), &params, RATE);
    assert_eq!(detect(&pcm), vec![]);
    // The same signal passes a detector whose twist limit allows it: twist alone decided.
    let mut lenient = DtmfDetector::with_config(
        RATE,
        DetectorConfig {
            max_high_over_low_db: 15.0,
            ..DetectorConfig::default()
        },
    );
    lenient.push(&pcm);
    let events: Vec<_> = std::iter::from_fn(|| lenient.poll_event()).collect();
    assert_eq!(digits(&events), "123");
}

#[test]
fn each_press_is_reported_once_and_repeats_are_separate_presses() {
    let params = DtmfParams::default();
    let keys = dtmf::parse_digits("5555").unwrap();
    let pcm = dtmf::generate_sequence(&keys, &params, RATE);
    assert_eq!(digits(&detect(&pcm)), "5555");
    // One long press (a second) is still one digit.
    let long = DtmfParams {
        tone: Duration::from_secs(1),
        ..params
    };
    let pcm = dtmf::generate(DtmfDigit::from_char('#').unwrap(), &long, RATE);
    assert_eq!(digits(&detect(&pcm)), "#");
    // A 10 ms dropout inside a tone is bridged, not a second press.
    let mut pcm = dtmf::generate(DtmfDigit::from_char('7').unwrap(), &long, RATE);
    pcm[4000..4080].fill(0);
    assert_eq!(digits(&detect(&pcm)), "7");
}

#[test]
fn q24_durations_40ms_accepted_20ms_rejected() {
    let d = DtmfDigit::from_char('8').unwrap();
    let with = |ms| DtmfParams {
        tone: Duration::from_millis(ms),
        pause: Duration::from_millis(60),
        ..DtmfParams::default()
    };
    // Shift the tone against the block grid so every alignment is tried.
    for offset in (0..106).step_by(7) {
        let mut pcm = vec![0i16; offset];
        pcm.extend(dtmf::generate(d, &with(40), RATE));
        assert_eq!(digits(&detect(&pcm)), "8", "40 ms at offset {offset}");
        let mut pcm = vec![0i16; offset];
        pcm.extend(dtmf::generate(d, &with(20), RATE));
        assert_eq!(detect(&pcm), vec![], "20 ms at offset {offset}");
        // The fastest dialling Q.24 asks for: 40 ms tones, 40 ms pauses, same key twice.
        let fast = DtmfParams {
            tone: Duration::from_millis(40),
            pause: Duration::from_millis(40),
            ..DtmfParams::default()
        };
        let mut pcm = vec![0i16; offset];
        pcm.extend(dtmf::generate_sequence(&[d, d, d], &fast, RATE));
        assert_eq!(digits(&detect(&pcm)), "888", "40/40 ms at offset {offset}");
    }
}

#[test]
fn chunk_size_does_not_matter() {
    let pcm = dtmf::generate_sequence(
        &dtmf::parse_digits("0A9").unwrap(),
        &DtmfParams::default(),
        RATE,
    );
    let whole = detect(&pcm);
    for chunk in [1, 37, 106, 1000] {
        let mut det = DtmfDetector::new(RATE);
        let mut events = Vec::new();
        for c in pcm.chunks(chunk) {
            det.push(c);
            events.extend(std::iter::from_fn(|| det.poll_event()));
        }
        assert_eq!(events, whole, "chunk {chunk}");
    }
    assert_eq!(digits(&whole), "0A9");
}

#[test]
fn no_digits_from_a_test_tone_noise_or_quiet_keys() {
    // A 1 kHz tone (941 Hz is only 59 Hz away), loud and through µ-law.
    let tone = audio::sine(1000.0, audio::dbm0_to_amplitude(-3.0), RATE, 8000 * 3);
    assert_eq!(detect(&through(Codec::Pcmu, &tone)), vec![]);
    // White noise at several levels.
    for rms in [100.0, 1000.0, 8000.0] {
        let mut noise = vec![0i16; 8000 * 3];
        WhiteNoise::new(rms as u64).add_to(&mut noise, rms);
        assert_eq!(detect(&noise), vec![], "noise rms {rms}");
    }
    // Two tones that are not a DTMF pair (a dial-tone-like 350 + 440 Hz).
    let mut dial = audio::sine(350.0, 6000.0, RATE, 8000);
    audio::add_sine(&mut dial, 440.0, 6000.0, RATE, 0, 8000);
    assert_eq!(detect(&dial), vec![]);
    // A valid pair buried in louder noise (SNR -3 dB) is not trusted.
    let mut buried = dtmf::generate_sequence(
        &dtmf::parse_digits("123").unwrap(),
        &DtmfParams::default(),
        RATE,
    );
    WhiteNoise::new(9).add_at_snr(&mut buried, -3.0);
    assert_eq!(detect(&buried), vec![]);
    // A key far below the detector's -33 dBm0 floor.
    let quiet = DtmfParams {
        level_dbm0: -45.0,
        ..DtmfParams::default()
    };
    let pcm = dtmf::generate(DtmfDigit::from_char('1').unwrap(), &quiet, RATE);
    assert_eq!(detect(&pcm), vec![]);
}

#[test]
fn works_at_16_khz() {
    let pcm = dtmf::generate_sequence(
        &dtmf::parse_digits("42#").unwrap(),
        &DtmfParams::default(),
        16_000,
    );
    let mut det = DtmfDetector::new(16_000);
    det.push(&pcm);
    let events: Vec<_> = std::iter::from_fn(|| det.poll_event()).collect();
    assert_eq!(digits(&events), "42#");
    assert!(events[1].start(16_000) >= Duration::from_millis(197));
    assert!(events[1].start(16_000) <= Duration::from_millis(227));
}

/// A crude sustained vowel: harmonics of `f0` shaped by two formants of width `bw` Hz.
/// With formants near 700 Hz and 1200 Hz (an open "ah") some harmonics sit close to DTMF
/// frequencies, the classic talk-off case.
fn vowel(f0: f64, (f1, f2): (f64, f64), bw: f64, len: usize) -> Vec<i16> {
    let mut out = vec![0i16; len];
    let mut k = 1.0;
    while k * f0 < 3400.0 {
        let f = k * f0;
        let formant = |fc: f64, bw: f64| (-((f - fc) / bw).powi(2)).exp();
        let amp = 3000.0 * (formant(f1, bw) + 0.7 * formant(f2, bw * 1.2) + 0.15 / k);
        audio::add_sine(&mut out, f, amp, RATE, 0, len);
        k += 1.0;
    }
    out
}

/// Whether some harmonic of `f0` lies within 1.5 % of a row frequency and another within
/// 1.5 % of a column frequency: Q.24 says such a pair must be accepted as a digit.
fn harmonics_form_a_valid_pair(f0: f64) -> bool {
    let near = |group: &[f64; 4]| {
        (1..20).any(|k| {
            let h = f64::from(k) * f0;
            group.iter().any(|&g| (h - g).abs() <= 0.015 * g)
        })
    };
    near(&dtmf::LOW_GROUP) && near(&dtmf::HIGH_GROUP)
}

#[test]
fn no_digits_from_vowel_like_sounds() {
    let formants = [
        (700.0, 1200.0),
        (750.0, 1350.0),
        (850.0, 1500.0),
        (300.0, 2300.0),
    ];
    let mut false_digits = Vec::new();
    for f0 in (90..=260).step_by(5) {
        let f0 = f64::from(f0);
        // Realistic formant widths spread energy over several harmonics; narrow ones put
        // nearly all of it in two harmonics, which only the tone-share and frequency checks
        // can tell from a key press, so pitches whose harmonics make a true pair are skipped.
        for bw in [250.0, 120.0] {
            if bw < 200.0 && harmonics_form_a_valid_pair(f0) {
                continue;
            }
            for f in formants {
                let found = detect(&through(Codec::Pcmu, &vowel(f0, f, bw, 4000)));
                if !found.is_empty() {
                    false_digits.push((f0, f, bw, digits(&found)));
                }
            }
        }
    }
    assert_eq!(false_digits, vec![]);
}

/// A key's tone pair with both frequencies scaled by `1 + deviation`.
fn off_frequency(digit: DtmfDigit, deviation: f64, ms: usize) -> Vec<i16> {
    let (low, high) = digit.frequencies();
    let len = RATE as usize * ms / 1000;
    let amp = audio::dbm0_to_amplitude(-10.0);
    let mut pcm = audio::sine(low * (1.0 + deviation), amp, RATE, len);
    audio::add_sine(&mut pcm, high * (1.0 + deviation), amp, RATE, 0, len);
    pcm.extend(std::iter::repeat(0).take(800));
    pcm
}

#[test]
fn q24_frequency_tolerance_1_5_percent_accepted_3_5_percent_rejected() {
    for digit in DtmfDigit::all() {
        for dev in [-0.015, 0.0, 0.015] {
            let got = digits(&detect(&off_frequency(digit, dev, 100)));
            assert_eq!(got, digit.to_string(), "{digit} at {dev:+}");
        }
        for dev in [-0.035, 0.035, 0.05] {
            assert_eq!(
                detect(&off_frequency(digit, dev, 100)),
                vec![],
                "{digit} at {dev:+}"
            );
        }
    }
}

#[test]
fn current_press_is_visible_until_it_ends() {
    let d = DtmfDigit::from_char('C').unwrap();
    let params = DtmfParams {
        tone: Duration::from_millis(200),
        pause: Duration::from_millis(100),
        ..DtmfParams::default()
    };
    let pcm = dtmf::generate(d, &params, RATE);
    let mut det = DtmfDetector::new(RATE);
    det.push(&pcm[..800]);
    let press = det.poll_event().expect("press reported within 100 ms");
    assert_eq!(det.current(), Some(press));
    det.push(&pcm[800..1600]);
    assert_eq!(det.current(), Some(press), "still held at 200 ms");
    assert_eq!(det.poll_event(), None, "reported once");
    det.push(&pcm[1600..]);
    assert_eq!(det.current(), None, "ended during the pause");
    assert_eq!(det.samples_seen(), pcm.len() as u64);
}
