//! telephone-event at a rate of its own (RFC 4733 §2.1): an Opus leg that negotiated
//! telephone-event/8000, as baresip and most softphones do, against G.711 legs with and
//! without RFC 4733, and against an Opus leg that counts events at 48 kHz. Durations must
//! be read and written at the event rate, and generated events must sit on the leg's
//! 48 kHz audio timeline.

mod common;

use common::*;
use sb_codecs::dtmf::DtmfDetector;
use sb_codecs::{Codec, OpusRate};
use sb_media_api::*;
use sb_rtp::{DtmfSender, DtmfSenderConfig, Rtp, RtpPacket, TelephoneEvent};

const DIGITS: &str = "159#";
const TE_PT: u8 = 101;
/// How long each key is held, as the pressing peer sends it.
const PRESS_MS: u32 = 100;

fn opus_spec() -> CodecSpec {
    CodecSpec {
        name: "opus".into(),
        clock_rate: 48_000,
        channels: 2,
        send_pt: PayloadType(111),
        recv_pt: PayloadType(111),
        fmtp: None,
    }
}

fn te_at(rate: u32) -> Option<TelephoneEventSpec> {
    Some(TelephoneEventSpec {
        send_pt: PayloadType(TE_PT),
        recv_pt: PayloadType(TE_PT),
        clock_rate: rate,
    })
}

fn opus() -> Codec {
    Codec::opus(OpusRate::Hz48000)
}

/// Peer A talks (a 1000 Hz tone) and presses `digits` as RFC 4733 events counted at
/// `te_rate`, each start stamped on its audio timeline as softphones do, with 400 ms of
/// audio before and between presses (the first press starts at 400 ms when the engine
/// starts at 0); then the engine runs until everything is out.
fn press_4733(sim: &mut Sim, pa: &mut Peer, te_rate: u32, digits: &str) {
    let audio_rate = u64::from(pa.codec.clock_rate());
    let mut t = sim.now;
    let talk = |sim: &mut Sim, pa: &mut Peer, t: &mut u64, frames: usize| {
        for _ in 0..frames {
            sim.advance_to(*t);
            let p = pa.tone_packet(1000.0);
            sim.deliver(addr(A_LOCAL), pa.addr, &p);
            *t += 20 * MS;
        }
    };
    talk(sim, pa, &mut t, 20);
    for key in digits.chars() {
        let cfg = DtmfSenderConfig {
            clock_rate: te_rate,
            interval_ms: 20,
            ..DtmfSenderConfig::default()
        };
        sim.advance_to(t);
        let started = t;
        let mut tx = DtmfSender::new(cfg, t, pa.ts);
        tx.send_event(t, sb_rtp::dtmf::event_from_char(key).unwrap(), PRESS_MS);
        loop {
            // The first packet is ready at once, the rest when due.
            while let Some(d) = tx.poll_transmit() {
                let p = pa.packet(TE_PT, d.marker, d.timestamp, d.payload.to_bytes().to_vec());
                sim.deliver(addr(A_LOCAL), pa.addr, &p);
            }
            let Some(due) = tx.poll_timeout() else { break };
            t = t.max(due);
            sim.advance_to(t);
            tx.handle_timeout(t);
        }
        // The audio clock ran on while the events stood in for the audio.
        pa.ts = pa
            .ts
            .wrapping_add(((t - started) * audio_rate / 1_000_000) as u32);
        talk(sim, pa, &mut t, 20);
    }
    sim.advance_to(t + 3_000 * MS);
}

/// What the engine sent `to`, each packet with the time it left.
fn sent_to(sim: &mut Sim, to: &str) -> Vec<(u64, Rtp)> {
    sim.take(addr(to))
        .into_iter()
        .filter(|r| sb_rtp::demux(&r.bytes) == sb_rtp::Demux::Rtp)
        .map(|r| (r.at_us, RtpPacket::parse(&r.bytes).unwrap().to_owned()))
        .collect()
}

/// The key presses in an RFC 4733 stream: (key, start timestamp, final duration), in order.
fn presses(pkts: &[(u64, Rtp)]) -> Vec<(char, u32, u16)> {
    let mut out: Vec<(char, u32, u16)> = Vec::new();
    for (_, p) in pkts.iter().filter(|(_, p)| p.payload_type.0 == TE_PT) {
        let ev = TelephoneEvent::parse(&p.payload).unwrap();
        let key = sb_rtp::dtmf::event_to_char(ev.event).unwrap();
        match out.last_mut() {
            Some(last) if last.1 == p.timestamp => last.2 = last.2.max(ev.duration),
            _ => out.push((key, p.timestamp, ev.duration)),
        }
    }
    out
}

fn keys(presses: &[(char, u32, u16)]) -> String {
    presses.iter().map(|p| p.0).collect()
}

/// The durations A's presses were reported with.
fn reported_ms(sim: &Sim) -> Vec<u32> {
    sim.events
        .iter()
        .filter_map(|e| match e {
            Event::DtmfReceived {
                leg, duration_ms, ..
            } if *leg == A => Some(*duration_ms),
            _ => None,
        })
        .collect()
}

fn reported_keys(sim: &Sim) -> String {
    sim.dtmf_events()
        .into_iter()
        .filter(|(leg, _, how)| *leg == A && *how == DtmfSource::Rfc4733)
        .map(|(_, k, _)| k)
        .collect()
}

#[test]
fn opus_telephone_event_8000_is_regenerated_toward_a_pcmu_leg_at_8000() {
    let mut a = spec(A_PEER, opus_spec());
    a.telephone_event = te_at(8000);
    let mut b = spec(B_PEER, CodecSpec::pcmu());
    b.telephone_event = te_at(8000);
    let mut sim = two_legs(a, b);
    let mut pa = Peer::new(addr(A_PEER), opus());
    press_4733(&mut sim, &mut pa, 8000, DIGITS);

    assert_eq!(reported_keys(&sim), DIGITS);
    // 100 ms presses counted at 8 kHz, not read as 48 kHz units (which gives 16 ms).
    for ms in reported_ms(&sim) {
        assert!((90..=110).contains(&ms), "{:?}", reported_ms(&sim));
    }
    let to_b = sent_to(&mut sim, B_PEER);
    let p = presses(&to_b);
    assert_eq!(keys(&p), DIGITS, "{p:?}");
    for (_, _, units) in &p {
        assert!(
            (720..=880).contains(units),
            "about 800 units at 8 kHz: {p:?}"
        );
    }
    assert!(to_b
        .iter()
        .all(|(_, r)| [0, TE_PT].contains(&r.payload_type.0)));
}

#[test]
fn opus_telephone_event_8000_becomes_tones_toward_a_pcma_gateway_without_rfc4733() {
    let mut a = spec(A_PEER, opus_spec());
    a.telephone_event = te_at(8000);
    let mut b = spec(B_PEER, CodecSpec::pcma());
    b.inband_dtmf = true;
    let mut sim = two_legs(a, b);
    let mut pa = Peer::new(addr(A_PEER), opus());
    press_4733(&mut sim, &mut pa, 8000, DIGITS);

    assert_eq!(reported_keys(&sim), DIGITS);
    let to_b = sent_to(&mut sim, B_PEER);
    assert!(
        to_b.iter().all(|(_, r)| r.payload_type.0 == 8),
        "only PCMA toward a gateway without telephone-event"
    );
    let audio: Vec<Rtp> = to_b.into_iter().map(|(_, r)| r).collect();
    let pcm = decode(Codec::Pcma, 8, &audio);
    let mut d = DtmfDetector::new(8000);
    d.push(&pcm);
    let heard: String = std::iter::from_fn(|| d.poll_event())
        .map(|e| e.digit.as_char())
        .collect();
    assert_eq!(heard, DIGITS);
}

#[test]
fn digits_toward_an_opus_leg_count_at_8000_and_start_on_its_audio_timeline() {
    let mut a = spec(A_PEER, CodecSpec::pcmu());
    a.telephone_event = te_at(8000);
    let mut b = spec(B_PEER, opus_spec());
    b.telephone_event = te_at(8000);
    let mut sim = two_legs(a, b);
    let mut pa = Peer::new(addr(A_PEER), Codec::Pcmu);
    press_4733(&mut sim, &mut pa, 8000, DIGITS);

    let to_b = sent_to(&mut sim, B_PEER);
    let p = presses(&to_b);
    assert_eq!(keys(&p), DIGITS, "{p:?}");
    for (_, _, units) in &p {
        assert!((720..=880).contains(units), "8 kHz units, not 48: {p:?}");
    }
    // Each press starts where B's 48 kHz stream is when it starts: its timestamp against
    // the first audio packet's matches the wall time between them, within 100 ms.
    let (t0, ts0) = to_b
        .iter()
        .find(|(_, r)| r.payload_type.0 == 111)
        .map(|(at, r)| (*at, r.timestamp))
        .expect("audio toward B");
    for (at, r) in to_b
        .iter()
        .filter(|(_, r)| r.payload_type.0 == TE_PT && r.marker)
    {
        let expected = (at - t0) * 48 / 1000;
        let got = u64::from(r.timestamp.wrapping_sub(ts0));
        assert!(
            got.abs_diff(expected) <= 4_800,
            "event at {} ms stamped {got}, the audio clock says {expected}",
            (at - t0) / 1000
        );
    }
}

#[test]
fn opus_telephone_event_8000_toward_opus_at_48000_is_rescaled_not_relayed() {
    let mut a = spec(A_PEER, opus_spec());
    a.telephone_event = te_at(8000);
    let mut b = spec(B_PEER, opus_spec());
    b.telephone_event = te_at(48_000);
    let mut sim = two_legs(a, b);
    let mut pa = Peer::new(addr(A_PEER), opus());
    press_4733(&mut sim, &mut pa, 8000, DIGITS);

    let p = presses(&sent_to(&mut sim, B_PEER));
    assert_eq!(keys(&p), DIGITS, "{p:?}");
    for (_, _, units) in &p {
        // 100 ms at 48 kHz; relayed as they came they would say 800.
        assert!((4_320..=5_280).contains(units), "{p:?}");
    }
}

#[test]
fn same_rate_on_both_opus_legs_relays_the_events_themselves() {
    let mut a = spec(A_PEER, opus_spec());
    a.telephone_event = te_at(8000);
    let mut b = spec(B_PEER, opus_spec());
    b.telephone_event = te_at(8000);
    let mut sim = two_legs(a, b);
    let mut pa = Peer::new(addr(A_PEER), opus());
    press_4733(&mut sim, &mut pa, 8000, "5");

    let to_b = sent_to(&mut sim, B_PEER);
    assert_eq!(keys(&presses(&to_b)), "5");
    // Relayed, the first event packet leaves as the press starts (after 400 ms of talk);
    // regenerated, it would wait for the press to end, 100 ms later.
    let first = to_b
        .iter()
        .find(|(_, r)| r.payload_type.0 == TE_PT)
        .map(|(at, _)| *at)
        .unwrap();
    assert!(
        (400 * MS..=410 * MS).contains(&first),
        "first event at {first} µs"
    );
    assert_eq!(sim.dtmf_events(), vec![(A, '5', DtmfSource::Rfc4733)]);
}
