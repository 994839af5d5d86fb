//! The call media engine end to end on a virtual clock: two simulated peers, the engine
//! between them, audio checked as audio.

mod common;

use common::*;
use sb_codecs::audio::{dominant_frequency, is_1khz_tone, is_tone};
use sb_codecs::Codec;
use sb_media_api::*;

#[test]
fn relayed_g711_keeps_a_1khz_tone_and_a_continuous_stream() {
    let mut sim = two_legs(
        spec(A_PEER, CodecSpec::pcmu()),
        spec(B_PEER, CodecSpec::pcmu()),
    );
    let mut pa = Peer::new(addr(A_PEER), Codec::Pcmu);
    stream_tones(
        &mut sim,
        &mut [(&mut pa, addr(A_LOCAL), 1000.0)],
        100,
        0,
        |_| true,
    );

    let mut pb = Peer::new(addr(B_PEER), Codec::Pcmu);
    let rx = sim.take(addr(B_PEER));
    assert!(rx.iter().all(|r| r.from_local == addr(B_LOCAL)));
    let pkts = pb.open(&rx);
    assert_eq!(pkts.len(), 100, "every packet relayed once");
    assert_continuous(&pkts, 160);
    assert_eq!(
        Some(pkts[0].ssrc),
        sim.engine.local_ssrc(B),
        "B's own SSRC, not A's"
    );
    assert_ne!(pkts[0].ssrc, pa.ssrc);
    assert!(pkts.iter().all(|p| p.payload_type.0 == 0));
    let pcm = decode(Codec::Pcmu, 0, &pkts);
    assert_eq!(pcm.len(), 16_000);
    assert!(is_1khz_tone(&pcm, 8000));
    // Relayed, not re-encoded: the payload bytes are the sender's.
    assert_eq!(pkts[10].payload.len(), 160);
}

#[test]
fn transcodes_pcmu_to_pcma_and_back_with_a_different_tone_each_way() {
    let mut sim = two_legs(
        spec(A_PEER, CodecSpec::pcmu()),
        spec(B_PEER, CodecSpec::pcma()),
    );
    let mut pa = Peer::new(addr(A_PEER), Codec::Pcmu);
    let mut pb = Peer::new(addr(B_PEER), Codec::Pcma);
    stream_tones(
        &mut sim,
        &mut [
            (&mut pa, addr(A_LOCAL), 1000.0),
            (&mut pb, addr(B_LOCAL), 600.0),
        ],
        150,
        0,
        |_| true,
    );
    for (peer, codec, pt, freq) in [
        (&mut pb, Codec::Pcma, 8, 1000.0),
        (&mut pa, Codec::Pcmu, 0, 600.0),
    ] {
        let pkts = peer.open(&sim.take(peer.addr));
        assert!(
            pkts.len() >= 140,
            "{} packets toward {}",
            pkts.len(),
            peer.addr
        );
        assert!(pkts.iter().all(|p| p.payload_type.0 == pt));
        assert_continuous(&pkts, 160);
        let pcm = decode(codec, pt, &pkts);
        // Skip the jitter buffer's start-up and the last frames.
        let steady = &pcm[1600..pcm.len() - 800];
        assert!(
            is_tone(steady, 8000, freq),
            "{freq} Hz toward {}",
            peer.addr
        );
        let other = if freq == 1000.0 { 600.0 } else { 1000.0 };
        assert_eq!(dominant_frequency(steady, 8000, &[freq, other]), Some(freq));
    }
}

#[test]
fn srtp_on_one_leg_and_plain_rtp_on_the_other() {
    let (engine_key, engine_salt) = (vec![0x11; 16], vec![0x22; 14]);
    let (peer_key, peer_salt) = (vec![0x33; 16], vec![0x44; 14]);
    let mut a = spec(A_PEER, CodecSpec::pcmu());
    a.srtp = Some(SrtpSpec {
        suite: SrtpSuite::AesCm128HmacSha1_80,
        send: SrtpKey {
            master_key: engine_key.clone(),
            master_salt: engine_salt.clone(),
            mki: None,
            lifetime: None,
        },
        recv: SrtpKey {
            master_key: peer_key.clone(),
            master_salt: peer_salt.clone(),
            mki: None,
            lifetime: None,
        },
    });
    let mut sim = two_legs(a, spec(B_PEER, CodecSpec::pcmu()));
    let suite = sb_srtp::SrtpSuite::AesCm128HmacSha1_80;
    let mut pa = Peer::new(addr(A_PEER), Codec::Pcmu);
    pa.srtp_tx = Some(sb_srtp::SrtpContext::new(suite, &peer_key, &peer_salt, None).unwrap());
    pa.srtp_rx = Some(sb_srtp::SrtpContext::new(suite, &engine_key, &engine_salt, None).unwrap());
    let mut pb = Peer::new(addr(B_PEER), Codec::Pcmu);
    stream_tones(
        &mut sim,
        &mut [
            (&mut pa, addr(A_LOCAL), 1000.0),
            (&mut pb, addr(B_LOCAL), 500.0),
        ],
        50,
        0,
        |_| true,
    );
    // B hears A's tone in the clear; A's peer decrypts B's tone with the engine's key.
    let to_b = pb.open(&sim.take(addr(B_PEER)));
    assert_eq!(to_b.len(), 50);
    assert!(is_1khz_tone(&decode(Codec::Pcmu, 0, &to_b), 8000));
    let raw_to_a = sim.take(addr(A_PEER));
    let rtp_to_a: Vec<_> = raw_to_a.iter().filter(|r| r.bytes[1] & 0x7f == 0).collect();
    assert!(
        rtp_to_a.iter().all(|r| r.bytes.len() == 12 + 160 + 10),
        "SRTP tag on every packet"
    );
    let to_a = pa.open(&raw_to_a);
    assert_eq!(to_a.len(), 50);
    assert!(is_tone(&decode(Codec::Pcmu, 0, &to_a), 8000, 500.0));

    // A forged packet (right shape, wrong key) is dropped and counted, not relayed.
    let dropped = sim.engine.stats().dropped;
    let mut forger = Peer::new(addr(A_PEER), Codec::Pcmu);
    forger.srtp_tx = Some(sb_srtp::SrtpContext::new(suite, &[9; 16], &[9; 14], None).unwrap());
    let forged = forger.tone_packet(1000.0);
    sim.deliver(addr(A_LOCAL), addr(A_PEER), &forged);
    assert!(sim.take(addr(B_PEER)).is_empty());
    assert_eq!(sim.engine.stats().dropped, dropped + 1);
}

#[test]
fn loss_and_reordering_on_the_transcoded_path_still_give_the_tone() {
    let mut sim = two_legs(
        spec(A_PEER, CodecSpec::pcmu()),
        spec(B_PEER, CodecSpec::pcma()),
    );
    let mut pa = Peer::new(addr(A_PEER), Codec::Pcmu);
    // Build 200 packets, lose every 12th, swap every 5th with the next one, and deliver
    // each at its send time plus 5 ms (the swapped pair arrives in the wrong order).
    let pkts: Vec<Vec<u8>> = (0..200).map(|_| pa.tone_packet(1000.0)).collect();
    let mut order: Vec<usize> = (0..200).filter(|i| i % 12 != 5).collect();
    for k in (0..order.len() - 1).step_by(5) {
        order.swap(k, k + 1);
    }
    for (slot, &i) in order.iter().enumerate() {
        let at = (slot.max(i)) as u64 * 20 * MS + 5 * MS;
        sim.advance_to(at);
        sim.deliver(addr(A_LOCAL), addr(A_PEER), &pkts[i]);
    }
    sim.advance_to(200 * 20 * MS + 300 * MS);
    let mut pb = Peer::new(addr(B_PEER), Codec::Pcma);
    let out = pb.open(&sim.take(addr(B_PEER)));
    assert!(
        out.len() >= 190,
        "lost frames are concealed, not skipped: {}",
        out.len()
    );
    assert_continuous(&out, 160);
    let pcm = decode(Codec::Pcma, 8, &out);
    let steady = &pcm[1600..pcm.len() - 1600];
    assert!(is_1khz_tone(steady, 8000), "concealment keeps the tone");
}
