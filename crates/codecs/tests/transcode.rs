//! Transcoding plans, and the bridges they describe carrying a tone from one leg to the
//! other.

use sb_codecs::audio::{self, dbm0_to_amplitude, sine};
use sb_codecs::{transcode_plan, Bridge, Codec, OpusRate, RateChange, TranscodePlan};

fn bridge(a: Codec, b: Codec) -> Bridge {
    match transcode_plan(a, b) {
        TranscodePlan::Transcode(bridge) => bridge,
        other => panic!("{a} <-> {b}: {other:?}"),
    }
}

#[test]
fn same_codec_relays() {
    for c in Codec::ALL {
        assert_eq!(transcode_plan(c, c), TranscodePlan::Relay, "{c}");
    }
    // Opus is one wire format whatever rate each side would decode at.
    assert_eq!(
        transcode_plan(
            Codec::opus(OpusRate::Hz8000),
            Codec::opus(OpusRate::Hz48000)
        ),
        TranscodePlan::Relay
    );
}

#[test]
fn opus_and_g711_meet_at_8k_without_resampling() {
    for g711 in Codec::G711 {
        for (a, b) in [
            (Codec::opus(OpusRate::Hz48000), g711),
            (g711, Codec::opus(OpusRate::Hz16000)),
        ] {
            let br = bridge(a, b);
            assert_eq!(br.rate, 8000);
            assert_eq!((br.a_to_b, br.b_to_a), (None, None));
            let opus = if a == g711 { br.b } else { br.a };
            assert_eq!(opus, Codec::opus(OpusRate::Hz8000));
        }
    }
}

#[test]
fn opus_and_g722_meet_at_16k_without_resampling() {
    let br = bridge(Codec::opus(OpusRate::Hz48000), Codec::G722);
    assert_eq!(br.a, Codec::opus(OpusRate::Hz16000));
    assert_eq!(br.b, Codec::G722);
    assert_eq!(br.rate, 16_000);
    assert_eq!((br.a_to_b, br.b_to_a), (None, None));
}

#[test]
fn g722_and_g711_resample_both_ways() {
    let br = bridge(Codec::G722, Codec::Pcma);
    assert_eq!(br.rate, 8000);
    assert_eq!(
        br.a_to_b,
        Some(RateChange {
            from: 16_000,
            to: 8000
        })
    );
    assert_eq!(
        br.b_to_a,
        Some(RateChange {
            from: 8000,
            to: 16_000
        })
    );
    let br = bridge(Codec::Pcmu, Codec::G722);
    assert_eq!(
        br.a_to_b,
        Some(RateChange {
            from: 8000,
            to: 16_000
        })
    );
    assert_eq!(
        br.b_to_a,
        Some(RateChange {
            from: 16_000,
            to: 8000
        })
    );
}

#[test]
fn the_two_g711_laws_transcode_at_8k() {
    let br = bridge(Codec::Pcmu, Codec::Pcma);
    assert_eq!(br.rate, 8000);
    assert_eq!((br.a_to_b, br.b_to_a), (None, None));
}

/// Sends one second of a 1 kHz tone from leg a to leg b through the bridge, in 20 ms
/// frames: a's encoder (the far end), a's decoder, the resampler, b's encoder, b's decoder
/// (the other far end). Returns what b's far end hears.
fn carry_tone(a: Codec, b: Codec) -> Vec<i16> {
    let br = bridge(a, b);
    let (mut a_to_b, _) = br.resamplers();
    let rate_a = br.a.sample_rate();
    let tone = sine(1000.0, dbm0_to_amplitude(-10.0), rate_a, rate_a as usize);
    let (mut far_a, mut leg_a) = (br.a.encoder(), br.a.decoder());
    let (mut leg_b, mut far_b) = (br.b.encoder(), br.b.decoder());
    let mut heard = Vec::new();
    for frame in tone.chunks(br.a.frame_samples(20)) {
        let mut wire_a = Vec::new();
        far_a.encode(frame, &mut wire_a);
        let mut pcm = Vec::new();
        leg_a.decode(&wire_a, &mut pcm);
        let pcm = match a_to_b.as_mut() {
            Some(r) => {
                let mut converted = Vec::new();
                r.process(&pcm, &mut converted);
                converted
            }
            None => pcm,
        };
        assert_eq!(pcm.len(), br.b.frame_samples(20));
        let mut wire_b = Vec::new();
        leg_b.encode(&pcm, &mut wire_b);
        far_b.decode(&wire_b, &mut heard);
    }
    heard
}

#[test]
fn a_tone_crosses_every_bridge() {
    let pairs = [
        (Codec::G722, Codec::Pcmu),
        (Codec::Pcma, Codec::G722),
        (Codec::opus(OpusRate::Hz48000), Codec::Pcmu),
        (Codec::Pcma, Codec::opus(OpusRate::Hz48000)),
        (Codec::opus(OpusRate::Hz48000), Codec::G722),
        (Codec::G722, Codec::opus(OpusRate::Hz48000)),
        (Codec::Pcmu, Codec::Pcma),
    ];
    for (a, b) in pairs {
        let heard = carry_tone(a, b);
        let rate = bridge(a, b).b.sample_rate();
        assert_eq!(heard.len(), rate as usize, "{a} -> {b}");
        assert!(
            audio::is_1khz_tone(&heard[rate as usize / 10..], rate),
            "{a} -> {b}"
        );
    }
}
