//! Packet-loss concealment as a listener would judge it: it keeps the sound going briefly,
//! never gets louder than what came before, fades out, and rejoins real audio smoothly.

use sb_codecs::audio::{self, sine};
use sb_codecs::Codec;

fn decode_tone(codec: Codec, freq: f64, frames: usize) -> (Box<dyn sb_codecs::Decoder>, Vec<i16>) {
    let pcm = sine(freq, 12_000.0, 8000, 160 * frames);
    let mut enc = codec.encoder();
    let mut dec = codec.decoder();
    let mut out = Vec::new();
    for frame in pcm.chunks(160) {
        let mut payload = Vec::new();
        enc.encode(frame, &mut payload);
        dec.decode(&payload, &mut out);
    }
    (dec, out)
}

fn peak(s: &[i16]) -> i32 {
    s.iter().map(|&x| i32::from(x).abs()).max().unwrap_or(0)
}

#[test]
fn concealment_continues_the_tone_then_fades_to_silence() {
    for codec in Codec::G711 {
        let (mut dec, heard) = decode_tone(codec, 1000.0, 5);
        let mut lost = Vec::new();
        for _ in 0..4 {
            dec.conceal(160, &mut lost);
        }
        assert_eq!(lost.len(), 640);
        // Bounded: never louder than the audio it stands in for.
        assert!(peak(&lost) <= peak(&heard), "{codec}");
        // The first 10 ms still carry the tone at full level.
        assert!(audio::is_tone(&lost[..80], 8000, 1000.0), "{codec}");
        assert!(peak(&lost[..80]) >= peak(&heard) * 9 / 10);
        // Fading: each 10 ms after the first is quieter than the one before.
        let levels: Vec<f64> = lost[..480].chunks(80).map(audio::rms).collect();
        for w in levels[1..].windows(2) {
            assert!(w[1] < w[0], "{codec}: {levels:?}");
        }
        // Silent from 60 ms on.
        assert!(lost[480..].iter().all(|&s| s == 0), "{codec}");
    }
}

#[test]
fn concealment_follows_a_low_pitch() {
    // 200 Hz: a 5 ms period that the pitch search (5-15 ms) must find.
    let (mut dec, _) = decode_tone(Codec::Pcmu, 200.0, 5);
    let mut lost = Vec::new();
    dec.conceal(160, &mut lost);
    assert_eq!(
        audio::dominant_frequency(&lost[..80], 8000, &[100.0, 200.0, 400.0, 1000.0]),
        Some(200.0)
    );
}

/// Largest sample-to-sample jump in `s`.
fn max_step(s: &[i16]) -> i32 {
    s.windows(2)
        .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
        .max()
        .unwrap_or(0)
}

#[test]
fn recovery_has_no_click() {
    // After 40-60 ms of concealment the repeated period has drifted in phase and faded, so
    // switching straight back to real audio would jump; the cross-fade keeps the seam no
    // steeper than the tone itself.
    for freq in [440.0, 523.0, 777.0] {
        for lost_frames in [2, 3] {
            let pcm = sine(freq, 10_000.0, 8000, 160 * 10);
            let mut enc = Codec::Pcma.encoder();
            let mut dec = Codec::Pcma.decoder();
            let mut out = Vec::new();
            for (i, frame) in pcm.chunks(160).enumerate() {
                if (4..4 + lost_frames).contains(&i) {
                    dec.conceal(160, &mut out);
                    continue;
                }
                let mut payload = Vec::new();
                enc.encode(frame, &mut payload);
                dec.decode(&payload, &mut out);
            }
            assert_eq!(out.len(), pcm.len());
            let seam = (4 + lost_frames) * 160;
            let natural = max_step(&pcm);
            let at_seam = max_step(&out[seam - 4..seam + 40]);
            assert!(
                at_seam * 100 <= natural * 105,
                "{freq} Hz, {lost_frames} lost: seam step {at_seam}, tone's own {natural}"
            );
            // Real audio is back after the cross-fade.
            assert!(audio::is_tone(&out[seam + 40..], 8000, freq));
        }
    }
}

#[test]
fn concealment_without_history_is_silence_and_odd_input_does_not_panic() {
    let mut dec = Codec::Pcmu.decoder();
    let mut out = Vec::new();
    dec.conceal(160, &mut out);
    assert!(out.iter().all(|&s| s == 0));
    dec.decode(&[], &mut out);
    dec.decode(&[0x00, 0x80, 0x7F], &mut out);
    dec.conceal(0, &mut out);
    dec.conceal(10_000, &mut out);
    dec.decode(&[0xFF; 3000], &mut out);
    assert_eq!(out.len(), 160 + 3 + 10_000 + 3000);
}
