//! G.711 conversions checked over every input: error bounds, code-byte round trips, and
//! tones still sounding like tones after a trip through each law.

use sb_codecs::audio::{self, dbm0_to_amplitude, sine};
use sb_codecs::g711::{alaw_to_linear, linear_to_alaw, linear_to_ulaw, ulaw_to_linear};
use sb_codecs::Codec;

/// Half the µ-law step around magnitude `m` (16-bit scale): steps are 8 << segment with the
/// segment found from the biased magnitude.
fn ulaw_half_step(m: i32) -> i32 {
    let biased = (m + 132).min(32767);
    let segment = (31 - biased.leading_zeros()) as i32 - 7;
    4 << segment
}

/// Half the A-law step around magnitude `m`: 8 in segments 0 and 1, doubling after.
fn alaw_half_step(m: i32) -> i32 {
    if m < 512 {
        8
    } else {
        let segment = (31 - m.leading_zeros()) as i32 - 7;
        4 << segment
    }
}

#[test]
fn ulaw_error_is_within_half_a_step_over_the_whole_range() {
    for x in i16::MIN..=i16::MAX {
        let y = ulaw_to_linear(linear_to_ulaw(x));
        let m = i32::from(x).abs();
        if m > 32635 {
            // Beyond the top decision value the law clips to its largest code.
            assert_eq!(i32::from(y), 32124 * i32::from(x.signum()), "x={x}");
            continue;
        }
        let err = (i32::from(y) - i32::from(x)).abs();
        assert!(err <= ulaw_half_step(m), "x={x} y={y} err={err}");
        // The sign survives (zero may come back as either zero).
        assert!(y == 0 || y.signum() == x.signum(), "x={x} y={y}");
    }
}

#[test]
fn alaw_error_is_within_half_a_step_over_the_whole_range() {
    for x in i16::MIN..=i16::MAX {
        let y = alaw_to_linear(linear_to_alaw(x));
        let m = i32::from(x).abs();
        if m > 32767 - 256 {
            // Top interval (step 1024): everything from 31744 up decodes to 32256.
            assert_eq!(i32::from(y).abs(), 32256, "x={x}");
            continue;
        }
        let err = (i32::from(y) - i32::from(x)).abs();
        assert!(err <= alaw_half_step(m), "x={x} y={y} err={err}");
        assert!(y.signum() == x.signum() || x == 0, "x={x} y={y}");
    }
}

#[test]
fn segment_boundaries_land_in_the_right_segment() {
    // µ-law segment k starts at biased magnitude 128 << k, i.e. linear (128 << k) - 132.
    for k in 1..8u8 {
        let edge = (128i32 << k) - 132;
        let below = linear_to_ulaw(edge as i16 - 1);
        let at = linear_to_ulaw(edge as i16);
        assert_eq!((!at >> 4) & 7, k, "µ-law edge {edge}");
        assert_eq!((!below >> 4) & 7, k - 1, "µ-law below {edge}");
        assert_eq!(!at & 0x0F, 0);
        assert_eq!(!below & 0x0F, 0x0F);
    }
    // A-law segment k >= 1 starts at 128 << k on the 16-bit scale (16 << k on 13 bits).
    for k in 1..8u8 {
        let edge = 128i32 << k;
        let at = linear_to_alaw(edge as i16) ^ 0x55;
        let below = linear_to_alaw(edge as i16 - 1) ^ 0x55;
        assert_eq!((at >> 4) & 7, k, "A-law edge {edge}");
        assert_eq!((below >> 4) & 7, k - 1, "A-law below {edge}");
        assert_eq!(at & 0x0F, 0);
        assert_eq!(below & 0x0F, 0x0F);
    }
    // Monotonic: a louder input never decodes quieter.
    let mut last_u = i16::MIN;
    let mut last_a = i16::MIN;
    for x in i16::MIN..=i16::MAX {
        let u = ulaw_to_linear(linear_to_ulaw(x));
        let a = alaw_to_linear(linear_to_alaw(x));
        assert!(u >= last_u && a >= last_a, "x={x}");
        last_u = u;
        last_a = a;
    }
}

#[test]
fn every_code_byte_round_trips() {
    for b in 0..=255u8 {
        let expect_u = if b == 0x7F { 0xFF } else { b };
        assert_eq!(
            linear_to_ulaw(ulaw_to_linear(b)),
            expect_u,
            "µ-law {b:#04x}"
        );
        assert_eq!(linear_to_alaw(alaw_to_linear(b)), b, "A-law {b:#04x}");
    }
    // 255 distinct µ-law values (two zeros) and 256 distinct A-law values.
    let mut u: Vec<i16> = (0..=255u8).map(ulaw_to_linear).collect();
    let mut a: Vec<i16> = (0..=255u8).map(alaw_to_linear).collect();
    u.sort_unstable();
    u.dedup();
    a.sort_unstable();
    a.dedup();
    assert_eq!((u.len(), a.len()), (255, 256));
}

fn through(codec: Codec, pcm: &[i16]) -> Vec<i16> {
    let mut payload = Vec::new();
    codec.encoder().encode(pcm, &mut payload);
    assert_eq!(payload.len(), pcm.len());
    let mut out = Vec::new();
    codec.decoder().decode(&payload, &mut out);
    out
}

fn snr_db(clean: &[i16], coded: &[i16]) -> f64 {
    let noise: Vec<i16> = clean
        .iter()
        .zip(coded)
        .map(|(a, b)| a.saturating_sub(*b))
        .collect();
    20.0 * (audio::rms(clean) / audio::rms(&noise)).log10()
}

#[test]
fn tones_survive_both_laws() {
    let freqs = [300.0, 1000.0, 1633.0, 3000.0];
    for codec in Codec::G711 {
        for &f in &freqs {
            for dbm0 in [-40.0, -20.0, 0.0] {
                let tone = sine(f, dbm0_to_amplitude(dbm0), 8000, 1600);
                let out = through(codec, &tone);
                assert_eq!(
                    audio::dominant_frequency(&out, 8000, &freqs),
                    Some(f),
                    "{codec} {f} Hz at {dbm0} dBm0"
                );
                assert!(audio::is_tone(&out, 8000, f), "{codec} {f} Hz {dbm0} dBm0");
                // G.711's companding keeps signal-to-quantisation noise roughly level from
                // -30 dBm0 up (about 38 dB); near -40 dBm0 the fixed smallest step shows.
                let snr = snr_db(&tone, &out);
                let floor = if dbm0 < -30.0 { 25.0 } else { 34.0 };
                assert!(snr > floor, "{codec} {f} Hz {dbm0} dBm0: SNR {snr:.1} dB");
                assert!((audio::level_dbm0(&out) - dbm0).abs() < 0.5);
            }
        }
        assert!(audio::is_1khz_tone(
            &through(codec, &sine(1000.0, 10_000.0, 8000, 800)),
            8000
        ));
    }
}

#[test]
fn digital_milliwatt_decodes_to_a_0_dbm0_1khz_tone() {
    // G.711 tables 5 and 6: the eight-byte sequences that carry a 1 kHz sine at 0 dBm0.
    let pcmu = [0x1E, 0x0B, 0x0B, 0x1E, 0x9E, 0x8B, 0x8B, 0x9E];
    let pcma = [0x34, 0x21, 0x21, 0x34, 0xB4, 0xA1, 0xA1, 0xB4];
    for (codec, seq) in [(Codec::Pcmu, pcmu), (Codec::Pcma, pcma)] {
        let payload: Vec<u8> = seq.iter().copied().cycle().take(800).collect();
        let mut pcm = Vec::new();
        codec.decoder().decode(&payload, &mut pcm);
        assert!(audio::is_1khz_tone(&pcm, 8000), "{codec}");
        let level = audio::level_dbm0(&pcm);
        assert!(level.abs() < 0.25, "{codec}: {level:.2} dBm0");
        // And the sine sampled at the same phases encodes to those bytes. The tables' codes
        // sit a little above nominal 0 dBm0 on our reference: any peak from +0.17 to +0.32 dB
        // lands in their coding intervals for both laws.
        let peak = audio::dbm0_to_amplitude(0.25);
        let sine: Vec<i16> = (0..8)
            .map(|k| {
                let phase = std::f64::consts::PI / 8.0 + f64::from(k) * std::f64::consts::PI / 4.0;
                (-peak * phase.sin()).round() as i16
            })
            .collect();
        let mut coded = Vec::new();
        codec.encoder().encode(&sine, &mut coded);
        assert_eq!(coded, seq, "{codec}");
    }
}
