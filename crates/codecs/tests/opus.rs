//! Opus through libopus, judged as audio: tones keep their frequency at every PCM rate,
//! timestamps advance at 48 kHz, lost frames are concealed at the right length, and bad
//! packets do not stop the stream.

use sb_codecs::audio::{self, dbm0_to_amplitude, sine};
use sb_codecs::opus::{OpusDecoder, OpusEncoder};
use sb_codecs::{Codec, Decoder, Encoder, OpusRate, OpusSettings};

const RATES: [OpusRate; 3] = [OpusRate::Hz8000, OpusRate::Hz16000, OpusRate::Hz48000];

/// Encodes one second of `pcm` in 20 ms frames and decodes every packet.
fn round_trip(codec: Codec, pcm: &[i16]) -> (Vec<Vec<u8>>, Vec<i16>) {
    let mut enc = codec.encoder();
    let mut dec = codec.decoder();
    let frame = codec.frame_samples(20);
    let (mut packets, mut out) = (Vec::new(), Vec::new());
    for chunk in pcm.chunks(frame) {
        let mut payload = Vec::new();
        enc.encode(chunk, &mut payload);
        assert!(!payload.is_empty());
        let before = out.len();
        dec.decode(&payload, &mut out);
        assert_eq!(out.len() - before, frame);
        packets.push(payload);
    }
    (packets, out)
}

#[test]
fn a_1khz_tone_keeps_its_frequency_at_8k_and_48k() {
    let candidates = [500.0, 800.0, 1000.0, 1200.0, 2000.0, 3000.0];
    for rate in [OpusRate::Hz8000, OpusRate::Hz16000, OpusRate::Hz48000] {
        let hz = rate.hz();
        let pcm = sine(1000.0, dbm0_to_amplitude(-10.0), hz, hz as usize);
        let (packets, out) = round_trip(Codec::opus(rate), &pcm);
        assert_eq!(packets.len(), 50);
        // The codec's look-ahead delays the tone; judge it after 100 ms.
        let settled = &out[hz as usize / 10..];
        assert_eq!(
            audio::dominant_frequency(settled, hz, &candidates),
            Some(1000.0)
        );
        assert!(audio::is_1khz_tone(settled, hz), "{hz} Hz");
        let diff = audio::level_dbm0(settled) - audio::level_dbm0(&pcm);
        assert!(diff.abs() < 1.0, "{hz} Hz: level off by {diff:.2} dB");
    }
}

#[test]
fn rtp_timestamps_advance_960_per_20ms_at_every_rate() {
    for rate in RATES {
        let codec = Codec::opus(rate);
        let samples = codec.frame_samples(20);
        assert_eq!(samples, rate.hz() as usize / 50);
        assert_eq!(rate.rtp_ticks(samples), 960);
        assert_eq!(codec.rtp_ticks(20), 960);
        assert_eq!(codec.clock_rate(), 48_000);
        assert_eq!(codec.encoder().clock_rate(), 48_000);
    }
}

#[test]
fn concealment_produces_frames_of_the_right_length() {
    for rate in RATES {
        let hz = rate.hz();
        let codec = Codec::opus(rate);
        let frame = codec.frame_samples(20);
        let pcm = sine(1000.0, 8000.0, hz, hz as usize / 5);
        let mut enc = codec.encoder();
        let mut dec = codec.decoder();
        let mut out = Vec::new();
        for chunk in pcm.chunks(frame) {
            let mut p = Vec::new();
            enc.encode(chunk, &mut p);
            dec.decode(&p, &mut out);
        }
        let mut lost = Vec::new();
        dec.conceal(frame, &mut lost);
        assert_eq!(lost.len(), frame, "{hz} Hz");
        // Concealment continues the tone rather than going silent at once.
        assert!(audio::relative_power(&lost, 1000.0, hz) > 0.5, "{hz} Hz");
        // Odd lengths too: whole 2.5 ms units from libopus, the rest silence.
        let mut odd = Vec::new();
        dec.conceal(frame / 2 + 3, &mut odd);
        assert_eq!(odd.len(), frame / 2 + 3);
        // A fresh decoder with no history conceals with silence of the right length.
        let mut fresh = OpusDecoder::new(rate).unwrap();
        let mut quiet = Vec::new();
        fresh.conceal(frame, &mut quiet);
        assert_eq!(quiet.len(), frame);
    }
}

#[test]
fn bad_and_empty_packets_are_concealed_not_fatal() {
    let codec = Codec::opus(OpusRate::Hz8000);
    let (packets, _) = round_trip(codec, &sine(1000.0, 8000.0, 8000, 1600));
    let mut dec = codec.decoder();
    let mut out = Vec::new();
    for p in &packets {
        dec.decode(p, &mut out);
    }
    let before = out.len();
    // Garbage, a truncated packet, an empty one, and a TOC claiming 120 ms in 1 byte.
    dec.decode(&[0xFF, 0xFF, 0xFF], &mut out);
    dec.decode(&packets[3][..1], &mut out);
    dec.decode(&[], &mut out);
    dec.decode(&[0x03, 0xFF], &mut out);
    let mut x = 12345u32;
    for _ in 0..200 {
        let len = (x % 300) as usize;
        let junk: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        dec.decode(&junk, &mut out);
    }
    // Every call produced audio (at most 120 ms each), and the stream recovers.
    assert!(out.len() > before);
    let mut after = Vec::new();
    for p in &packets[..5] {
        dec.decode(p, &mut after);
    }
    assert_eq!(after.len(), 5 * 160);
}

#[test]
fn settings_change_the_bitrate() {
    let pcm = {
        let mut s = sine(700.0, 9000.0, 16_000, 16_000);
        audio::WhiteNoise::new(9).add_to(&mut s, 3000.0);
        s
    };
    let bytes_at = |bitrate| {
        let mut enc = OpusEncoder::new(
            OpusRate::Hz16000,
            OpusSettings::default().with_bitrate(bitrate),
        )
        .unwrap();
        let mut total = 0;
        for chunk in pcm.chunks(320) {
            let mut p = Vec::new();
            enc.encode(chunk, &mut p);
            total += p.len();
        }
        total
    };
    let low = bytes_at(12_000);
    let high = bytes_at(48_000);
    // One second of audio: about bitrate / 8 octets.
    assert!((1000..2200).contains(&low), "{low}");
    assert!((4500..7000).contains(&high), "{high}");
}

#[test]
fn dtx_shrinks_silence_and_fec_is_accepted() {
    let silence = vec![0i16; 160];
    let sizes = |settings: OpusSettings| {
        let mut enc = OpusEncoder::new(OpusRate::Hz8000, settings).unwrap();
        (0..50)
            .map(|_| {
                let mut p = Vec::new();
                enc.encode(&silence, &mut p);
                p.len()
            })
            .collect::<Vec<_>>()
    };
    let plain = sizes(OpusSettings::default());
    let dtx = sizes(OpusSettings::default().with_dtx(true));
    // Without DTX every frame is a real packet; with it, silence becomes 1-octet packets.
    assert!(plain[10..].iter().all(|&n| n > 1), "{plain:?}");
    assert!(
        dtx[30..].iter().filter(|&&n| n <= 2).count() > 10,
        "{dtx:?}"
    );
    let fec = sizes(OpusSettings::default().with_fec(10));
    assert_eq!(fec.len(), 50);
}

#[test]
fn fec_recovers_a_lost_frame_from_the_next_packet() {
    let rate = OpusRate::Hz16000;
    let pcm = sine(1000.0, 9000.0, 16_000, 16_000);
    let mut enc = OpusEncoder::new(rate, OpusSettings::default().with_fec(20)).unwrap();
    let packets: Vec<Vec<u8>> = pcm
        .chunks(320)
        .map(|c| {
            let mut p = Vec::new();
            enc.encode(c, &mut p);
            p
        })
        .collect();
    let mut dec = OpusDecoder::new(rate).unwrap();
    let mut out = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        if i == 25 {
            // Packet 25 is lost; packet 26 carries a low-rate copy of it.
            dec.decode_fec(&packets[26], 320, &mut out);
        } else {
            dec.decode(p, &mut out);
        }
    }
    assert_eq!(out.len(), 16_000);
    let recovered = &out[25 * 320..26 * 320];
    assert!(audio::relative_power(recovered, 1000.0, 16_000) > 0.5);
}

#[test]
fn odd_input_lengths_are_padded_to_an_opus_frame() {
    let mut enc = OpusEncoder::new(OpusRate::Hz8000, OpusSettings::default()).unwrap();
    let mut dec = OpusDecoder::new(OpusRate::Hz8000).unwrap();
    for (len, decoded) in [
        (150, 160),
        (160, 160),
        (20, 20),
        (7, 20),
        (480, 480),
        (2000, 960),
    ] {
        let mut p = Vec::new();
        enc.encode(&vec![100; len], &mut p);
        let mut out = Vec::new();
        dec.decode(&p, &mut out);
        assert_eq!(out.len(), decoded, "{len} samples in");
    }
}
