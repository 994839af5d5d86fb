//! DTMF interworking, latching, hold, tones, RTCP and quality reports, and refused
//! commands, on a virtual clock.

mod common;

use common::*;
use sb_codecs::audio::{is_tone, level_dbm0};
use sb_codecs::dtmf::{DtmfDetector, DtmfDigit, DtmfParams};
use sb_codecs::Codec;
use sb_media_api::*;
use sb_rtp::{parse_compound, DtmfSender, DtmfSenderConfig, RtcpPacket, TelephoneEvent};

fn te(send: u8, recv: u8) -> Option<TelephoneEventSpec> {
    Some(TelephoneEventSpec {
        send_pt: PayloadType(send),
        recv_pt: PayloadType(recv),
        clock_rate: 8000,
    })
}

/// Peer A sends `frames_before` audio frames, then the RFC 4733 packets of `digit` (PT
/// `pt`, 100 ms, no audio meanwhile), then audio again; returns the time it finished.
fn send_4733(sim: &mut Sim, pa: &mut Peer, pt: u8, event: u8, frames_before: usize) -> u64 {
    let mut t = 0;
    for _ in 0..frames_before {
        sim.advance_to(t);
        let p = pa.tone_packet(1000.0);
        sim.deliver(addr(A_LOCAL), pa.addr, &p);
        t += 20 * MS;
    }
    let cfg = DtmfSenderConfig {
        interval_ms: 20,
        ..DtmfSenderConfig::default()
    };
    let mut tx = DtmfSender::new(cfg, t, pa.ts);
    tx.send_event(t, event, 100);
    while let Some(due) = tx.poll_timeout() {
        t = t.max(due);
        sim.advance_to(t);
        tx.handle_timeout(t);
        while let Some(d) = tx.poll_transmit() {
            let p = pa.packet(pt, d.marker, d.timestamp, d.payload.to_bytes().to_vec());
            sim.deliver(addr(A_LOCAL), pa.addr, &p);
        }
        t += MS;
    }
    pa.ts = pa.ts.wrapping_add(((t / 1000) * 8) as u32);
    for _ in 0..20 {
        t += 20 * MS;
        sim.advance_to(t);
        let p = pa.tone_packet(1000.0);
        sim.deliver(addr(A_LOCAL), pa.addr, &p);
    }
    sim.advance_to(t + 500 * MS);
    t
}

fn events_in(pkts: &[sb_rtp::Rtp], pt: u8) -> Vec<TelephoneEvent> {
    pkts.iter()
        .filter(|p| p.payload_type.0 == pt)
        .map(|p| TelephoneEvent::parse(&p.payload).unwrap())
        .collect()
}

fn detect(pcm: &[i16]) -> Vec<char> {
    let mut d = DtmfDetector::new(8000);
    d.push(pcm);
    std::iter::from_fn(|| d.poll_event())
        .map(|e| e.digit.as_char())
        .collect()
}

#[test]
fn rfc4733_is_relayed_with_the_other_legs_payload_type() {
    let mut a = spec(A_PEER, CodecSpec::pcmu());
    a.telephone_event = te(101, 101);
    let mut b = spec(B_PEER, CodecSpec::pcmu());
    b.telephone_event = te(96, 97);
    let mut sim = two_legs(a, b);
    let mut pa = Peer::new(addr(A_PEER), Codec::Pcmu);
    send_4733(&mut sim, &mut pa, 101, 5, 10);

    let pkts = Peer::new(addr(B_PEER), Codec::Pcmu).open(&sim.take(addr(B_PEER)));
    let evs = events_in(&pkts, 96);
    assert!(evs.len() >= 5, "{evs:?}");
    assert!(evs.iter().all(|e| e.event == 5));
    assert!(evs.last().unwrap().end);
    assert!(
        events_in(&pkts, 101).is_empty(),
        "A's payload type never reaches B"
    );
    // Audio and events share one continuous sequence on B's SSRC.
    for w in pkts.windows(2) {
        assert_eq!(w[1].sequence, w[0].sequence.wrapping_add(1));
        assert_eq!(w[1].ssrc, w[0].ssrc);
    }
    assert_eq!(sim.dtmf_events(), vec![(A, '5', DtmfSource::Rfc4733)]);
}

#[test]
fn rfc4733_toward_a_leg_without_telephone_event_becomes_inband_tones() {
    let mut a = spec(A_PEER, CodecSpec::pcmu());
    a.telephone_event = te(101, 101);
    let mut sim = two_legs(a, spec(B_PEER, CodecSpec::pcmu()));
    let mut pa = Peer::new(addr(A_PEER), Codec::Pcmu);
    send_4733(&mut sim, &mut pa, 101, 7, 10);

    let pkts = Peer::new(addr(B_PEER), Codec::Pcmu).open(&sim.take(addr(B_PEER)));
    assert!(
        pkts.iter().all(|p| p.payload_type.0 == 0),
        "no events toward B"
    );
    assert_continuous_seq(&pkts);
    let pcm = decode(Codec::Pcmu, 0, &pkts);
    assert_eq!(
        detect(&pcm),
        vec!['7'],
        "sb-codecs' detector hears the digit"
    );
    assert_eq!(sim.dtmf_events(), vec![(A, '7', DtmfSource::Rfc4733)]);
}

fn assert_continuous_seq(pkts: &[sb_rtp::Rtp]) {
    for w in pkts.windows(2) {
        assert_eq!(w[1].sequence, w[0].sequence.wrapping_add(1));
    }
}

#[test]
fn inband_digits_are_detected_and_sent_as_rfc4733_to_a_leg_that_has_it() {
    let mut a = spec(A_PEER, CodecSpec::pcmu());
    a.inband_dtmf = true;
    let mut b = spec(B_PEER, CodecSpec::pcmu());
    b.telephone_event = te(101, 101);
    let mut sim = two_legs(a, b);
    let mut pa = Peer::new(addr(A_PEER), Codec::Pcmu);
    let mut pcm = vec![0i16; 1600];
    pcm.extend(sb_codecs::dtmf::generate(
        DtmfDigit::from_char('3').unwrap(),
        &DtmfParams::default(),
        8000,
    ));
    pcm.resize(pcm.len() + 3200, 0);
    for (i, frame) in pcm.chunks(160).enumerate() {
        sim.advance_to(i as u64 * 20 * MS);
        let p = pa.audio_packet(frame);
        sim.deliver(addr(A_LOCAL), pa.addr, &p);
    }
    sim.advance_to(3_000 * MS);
    let dtmf: Vec<_> = sim.dtmf_events();
    assert_eq!(dtmf, vec![(A, '3', DtmfSource::InBand)]);
    let duration = sim.events.iter().find_map(|e| match e {
        Event::DtmfReceived { duration_ms, .. } => Some(*duration_ms),
        _ => None,
    });
    assert!(
        duration.is_some_and(|d| (80..=180).contains(&d)),
        "{duration:?}"
    );
    let pkts = Peer::new(addr(B_PEER), Codec::Pcmu).open(&sim.take(addr(B_PEER)));
    let evs = events_in(&pkts, 101);
    assert!(
        !evs.is_empty() && evs.iter().all(|e| e.event == 3),
        "{evs:?}"
    );
    assert!(evs.last().unwrap().end);
}

#[test]
fn send_dtmf_uses_events_or_tones_by_what_the_leg_negotiated() {
    let mut b = spec(B_PEER, CodecSpec::pcmu());
    b.telephone_event = te(100, 100);
    let mut sim = two_legs(spec(A_PEER, CodecSpec::pcma()), b);
    sim.cmd(Command::SendDtmf {
        leg: A,
        digit: '9',
        duration_ms: 120,
    });
    sim.cmd(Command::SendDtmf {
        leg: B,
        digit: '#',
        duration_ms: 120,
    });
    sim.advance_to(1_000 * MS);
    let to_a = Peer::new(addr(A_PEER), Codec::Pcma).open(&sim.take(addr(A_PEER)));
    assert_eq!(detect(&decode(Codec::Pcma, 8, &to_a)), vec!['9']);
    let to_b = Peer::new(addr(B_PEER), Codec::Pcmu).open(&sim.take(addr(B_PEER)));
    let evs = events_in(&to_b, 100);
    assert!(
        evs.iter().all(|e| e.event == 11) && evs.last().unwrap().end,
        "{evs:?}"
    );
    assert_eq!(
        sim.try_cmd(Command::SendDtmf {
            leg: A,
            digit: 'x',
            duration_ms: 100
        }),
        Err(CommandError::BadDigit('x'))
    );
}

#[test]
fn latches_to_where_media_comes_from_and_moves_only_for_a_steady_new_source() {
    let mut sim = two_legs(
        spec(A_PEER, CodecSpec::pcmu()),
        spec(B_PEER, CodecSpec::pcmu()),
    );
    let mut pa = Peer::new(addr(A_PEER), Codec::Pcmu);
    let mut pb = Peer::new(addr(B_PEER), Codec::Pcmu);
    let nat = addr("203.0.113.9:61000");
    let moved = addr("203.0.113.9:62000");
    let mut t = 0;
    let mut step = |sim: &mut Sim, from_a: Option<std::net::SocketAddr>| {
        sim.advance_to(t);
        let p = pb.tone_packet(500.0);
        sim.deliver(addr(B_LOCAL), pb.addr, &p);
        if let Some(from) = from_a {
            let p = pa.tone_packet(1000.0);
            sim.deliver(addr(A_LOCAL), from, &p);
        }
        t += 20 * MS;
    };
    // Before A's peer sends anything, B's audio goes to the address in A's SDP.
    step(&mut sim, None);
    assert_eq!(sim.take(addr(A_PEER)).len(), 1);
    // A's media comes from a NAT's public address: the first packet latches.
    step(&mut sim, Some(nat));
    step(&mut sim, Some(nat));
    assert_eq!(sim.engine.rtp_target(A), Some(nat));
    assert!(!sim.take(nat).is_empty());
    // One stray packet from elsewhere does not move the stream.
    step(&mut sim, Some(addr("198.18.0.1:9")));
    step(&mut sim, Some(nat));
    assert_eq!(sim.engine.rtp_target(A), Some(nat));
    // A steady new source (the NAT rebound) does, after a few packets.
    for _ in 0..4 {
        step(&mut sim, Some(moved));
    }
    assert_eq!(sim.engine.rtp_target(A), Some(moved));
    let latched: Vec<_> = sim
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Latched { leg: A, remote } => Some((A, *remote)),
            _ => None,
        })
        .collect();
    assert_eq!(latched, vec![(A, nat), (A, moved)]);
    assert!(!sim.take(moved).is_empty());

    // With latching off (a trusted gateway), media stays on the SDP address.
    let mut s = spec(B_PEER, CodecSpec::pcmu());
    s.symmetric_latching = false;
    sim.cmd(Command::UpdateLeg { leg: B, spec: s });
    sim.take(addr(B_PEER));
    for _ in 0..5 {
        sim.advance_to(t);
        let p = pb.tone_packet(500.0);
        sim.deliver(addr(B_LOCAL), addr("198.18.0.2:7"), &p);
        let p = pa.tone_packet(1000.0);
        sim.deliver(addr(A_LOCAL), moved, &p);
        t += 20 * MS;
    }
    assert_eq!(sim.engine.rtp_target(B), Some(addr(B_PEER)));
    assert_eq!(sim.take(addr(B_PEER)).len(), 5);
}

#[test]
fn hold_stops_sending_toward_the_held_leg_and_resume_restarts_it() {
    let mut sim = two_legs(
        spec(A_PEER, CodecSpec::pcmu()),
        spec(B_PEER, CodecSpec::pcmu()),
    );
    let mut pa = Peer::new(addr(A_PEER), Codec::Pcmu);
    stream_tones(
        &mut sim,
        &mut [(&mut pa, addr(A_LOCAL), 1000.0)],
        10,
        0,
        |_| true,
    );
    let before_hold = Peer::new(addr(B_PEER), Codec::Pcmu).open(&sim.take(addr(B_PEER)));
    assert_eq!(before_hold.len(), 10);

    // B's peer puts us on hold (a=sendonly): we may only receive from it.
    let mut held = spec(B_PEER, CodecSpec::pcmu());
    held.direction = Direction::RecvOnly;
    sim.cmd(Command::UpdateLeg {
        leg: B,
        spec: held.clone(),
    });
    let t = sim.now;
    stream_tones(
        &mut sim,
        &mut [(&mut pa, addr(A_LOCAL), 1000.0)],
        50,
        t,
        |_| true,
    );
    let during: Vec<_> = Peer::new(addr(B_PEER), Codec::Pcmu).open(&sim.take(addr(B_PEER)));
    assert!(
        during.is_empty(),
        "{} RTP packets sent to a held leg",
        during.len()
    );
    // A tone toward a held leg is not sent either.
    sim.cmd(Command::PlayTone {
        leg: B,
        tone: Tone::ringback_europe(),
    });
    sim.advance_to(sim.now + 500 * MS);
    assert!(Peer::new(addr(B_PEER), Codec::Pcmu)
        .open(&sim.take(addr(B_PEER)))
        .is_empty());
    sim.cmd(Command::StopTone { leg: B });

    held.direction = Direction::SendRecv;
    sim.cmd(Command::UpdateLeg { leg: B, spec: held });
    let t = sim.now;
    stream_tones(
        &mut sim,
        &mut [(&mut pa, addr(A_LOCAL), 1000.0)],
        10,
        t,
        |_| true,
    );
    let after = Peer::new(addr(B_PEER), Codec::Pcmu).open(&sim.take(addr(B_PEER)));
    assert_eq!(after.len(), 10);
    assert_eq!(Some(after[0].ssrc), sim.engine.local_ssrc(B));
    // The held stretch is not a gap in B's sequence numbers (B would count it as loss),
    // and the first packet after it is marked, so B's jitter buffer resynchronises.
    assert_eq!(
        after[0].sequence,
        before_hold.last().unwrap().sequence.wrapping_add(1)
    );
    assert!(after[0].marker);
    assert_continuous(&after, 160);
}

#[test]
fn ringback_plays_with_its_cadence_until_stopped() {
    let mut sim = two_legs(
        spec(A_PEER, CodecSpec::pcma()),
        spec(B_PEER, CodecSpec::pcmu()),
    );
    sim.cmd(Command::PlayTone {
        leg: A,
        tone: Tone::ringback_europe(),
    });
    sim.advance_to(5_000 * MS - 1);
    let pkts = Peer::new(addr(A_PEER), Codec::Pcma).open(&sim.take(addr(A_PEER)));
    assert_eq!(
        pkts.len(),
        250,
        "one packet per 20 ms through the pause too"
    );
    assert!(pkts.iter().all(|p| p.payload_type.0 == 8));
    assert_continuous(&pkts, 160);
    let pcm = decode(Codec::Pcma, 8, &pkts);
    assert!(is_tone(&pcm[..8000], 8000, 425.0), "1 s of 425 Hz");
    assert!(
        level_dbm0(&pcm[8000..40_000]) < -60.0,
        "then 4 s of silence"
    );
    sim.cmd(Command::StopTone { leg: A });
    sim.advance_to(7_000 * MS);
    assert!(Peer::new(addr(A_PEER), Codec::Pcma)
        .open(&sim.take(addr(A_PEER)))
        .is_empty());
    // A leg with a codec the engine cannot encode cannot play tones.
    let mut g729 = spec("192.0.2.50:4000", CodecSpec::pcmu());
    g729.codec.name = "G729".into();
    g729.codec.send_pt = PayloadType(18);
    g729.codec.recv_pt = PayloadType(18);
    sim.cmd(Command::AddLeg {
        session: SESSION,
        leg: LegId(9),
        local: addr("10.0.0.1:20010"),
        local_rtcp: None,
        spec: g729,
    });
    assert!(matches!(
        sim.try_cmd(Command::PlayTone {
            leg: LegId(9),
            tone: Tone::ringback_north_america()
        }),
        Err(CommandError::UnsupportedCodec { .. })
    ));
}

fn rtcp_of(rx: &[Received]) -> Vec<Vec<RtcpPacket>> {
    rx.iter()
        .filter(|r| sb_rtp::demux(&r.bytes) == sb_rtp::Demux::Rtcp)
        .map(|r| parse_compound(&r.bytes).unwrap())
        .collect()
}

#[test]
fn rtcp_reports_and_the_quality_report_count_injected_loss() {
    let mut sim = two_legs(
        spec(A_PEER, CodecSpec::pcmu()),
        spec(B_PEER, CodecSpec::pcmu()),
    );
    let mut pa = Peer::new(addr(A_PEER), Codec::Pcmu);
    let first_seq = pa.seq;
    let lost = |i: usize| i % 20 == 7;
    // 12 s from A (every 20th packet lost); B's peer is silent, so leg B only sends.
    stream_tones(
        &mut sim,
        &mut [(&mut pa, addr(A_LOCAL), 1000.0)],
        600,
        0,
        |i| !lost(i),
    );

    // Leg A receives and (with nothing from B) does not send: receiver reports.
    let to_a = rtcp_of(&sim.take(addr(A_PEER)));
    assert!(
        (2..=5).contains(&to_a.len()),
        "{} reports in 12 s",
        to_a.len()
    );
    for compound in &to_a {
        assert!(compound
            .iter()
            .any(|p| p.cname(sim.engine.local_ssrc(A).unwrap()).is_some()));
        let RtcpPacket::ReceiverReport(rr) = &compound[0] else {
            panic!("a leg that sends nothing reports with RR: {compound:?}");
        };
        let block = &rr.reports[0];
        assert_eq!(block.ssrc, pa.ssrc);
        let highest = block
            .extended_highest_seq
            .wrapping_sub(u32::from(first_seq)) as usize;
        let expected_lost = (0..=highest).filter(|&i| lost(i)).count() as i32;
        assert_eq!(block.cumulative_lost, expected_lost, "at index {highest}");
    }
    // Leg B sends (A's audio relayed) and receives nothing: sender reports, no blocks.
    let to_b = rtcp_of(&sim.take(addr(B_PEER)));
    assert!(!to_b.is_empty());
    let RtcpPacket::SenderReport(sr) = &to_b.last().unwrap()[0] else {
        panic!("a sending leg reports with SR");
    };
    assert!(sr.packet_count >= 400 && sr.reports.is_empty());
    assert_eq!(sr.octet_count, sr.packet_count * 160);

    sim.cmd(Command::RequestStats { leg: A });
    let Some(Event::LegStats { leg, stats }) = sim.events.last().cloned() else {
        panic!("stats requested");
    };
    assert_eq!(leg, A);
    assert_eq!(stats.packets_lost, 30);
    assert_eq!(stats.packets_received, 570);
    assert!((stats.loss_fraction - 0.05).abs() < 1e-3);
    assert_eq!(stats.codec, "PCMU/8000");
    assert!(
        stats.mos < 4.2 && stats.mos > 3.0,
        "5 % loss costs quality: {}",
        stats.mos
    );
    // Periodic LegStats came with the reports.
    assert!(
        sim.events
            .iter()
            .filter(|e| matches!(e, Event::LegStats { leg: A, .. }))
            .count()
            >= 3
    );
}

#[test]
fn round_trip_time_comes_from_the_peers_report_on_our_sender_report() {
    let mut sim = two_legs(
        spec(A_PEER, CodecSpec::pcmu()),
        spec(B_PEER, CodecSpec::pcmu()),
    );
    let mut pb = Peer::new(addr(B_PEER), Codec::Pcmu);
    stream_tones(
        &mut sim,
        &mut [(&mut pb, addr(B_LOCAL), 500.0)],
        300,
        0,
        |_| true,
    );
    let rx = sim.take(addr(A_PEER));
    let (at, sr) = rx
        .iter()
        .rev()
        .filter(|r| sb_rtp::demux(&r.bytes) == sb_rtp::Demux::Rtcp)
        .find_map(|r| match parse_compound(&r.bytes).unwrap().remove(0) {
            RtcpPacket::SenderReport(sr) => Some((r.at_us, sr)),
            _ => None,
        })
        .expect("leg A sends B's audio, so it reports with SR");
    // A's peer answers 30 ms from now, having held the report for all but 20 ms of the
    // time since it was sent (DLSR), so RTT = 20 ms.
    let reply_at = sim.now + 30 * MS;
    let dlsr = ((reply_at - at - 20 * MS) * 65_536 / 1_000_000) as u32;
    let rr = RtcpPacket::ReceiverReport(sb_rtp::ReceiverReport {
        ssrc: sb_rtp::Ssrc(0xAAAA),
        reports: vec![sb_rtp::ReportBlock {
            ssrc: sr.ssrc,
            fraction_lost: 64,
            cumulative_lost: 3,
            extended_highest_seq: 1,
            jitter: 80,
            last_sr: sr.ntp.compact(),
            delay_since_last_sr: dlsr,
        }],
    });
    sim.advance_to(reply_at);
    let bytes = sb_rtp::build_compound(&[rr]).unwrap();
    sim.deliver(addr(A_LOCAL), addr(A_PEER), &bytes);
    let q = sim.engine.quality(A).unwrap();
    let rtt = q.rtt_ms.expect("RTT measured");
    assert!((rtt - 20.0).abs() < 0.5, "{rtt}");
    let remote = q.remote.expect("the peer's view of our stream");
    assert_eq!(remote.fraction_lost, 0.25);
    assert_eq!(remote.cumulative_lost, 3);
    assert!((remote.jitter_ms - 10.0).abs() < 1e-3);
}

#[test]
fn media_timeout_fires_once_per_silence_and_not_on_hold() {
    let mut a = spec(A_PEER, CodecSpec::pcmu());
    a.media_timeout_ms = Some(2_000);
    let mut sim = two_legs(a.clone(), spec(B_PEER, CodecSpec::pcmu()));
    let mut pa = Peer::new(addr(A_PEER), Codec::Pcmu);
    stream_tones(
        &mut sim,
        &mut [(&mut pa, addr(A_LOCAL), 1000.0)],
        10,
        0,
        |_| true,
    );
    let timeouts = |sim: &Sim| {
        sim.events
            .iter()
            .filter(|e| matches!(e, Event::MediaTimeout { leg: A }))
            .count()
    };
    sim.advance_to(2_170 * MS);
    assert_eq!(
        timeouts(&sim),
        0,
        "2 s after the last packet at 180 ms is 2.18 s"
    );
    sim.advance_to(2_190 * MS);
    assert_eq!(timeouts(&sim), 1);
    sim.advance_to(10_000 * MS);
    assert_eq!(timeouts(&sim), 1, "once per silence");
    let t = sim.now;
    stream_tones(
        &mut sim,
        &mut [(&mut pa, addr(A_LOCAL), 1000.0)],
        1,
        t,
        |_| true,
    );
    sim.advance_to(t + 2_500 * MS);
    assert_eq!(timeouts(&sim), 2, "a packet re-arms it");
    // On hold from our side (we only send), silence from the peer is expected.
    a.direction = Direction::SendOnly;
    sim.cmd(Command::UpdateLeg { leg: A, spec: a });
    sim.advance_to(sim.now + 10_000 * MS);
    assert_eq!(timeouts(&sim), 2);
}

#[test]
fn refused_commands_name_what_was_refused_and_change_nothing() {
    let mut sim = two_legs(
        spec(A_PEER, CodecSpec::pcmu()),
        spec(B_PEER, CodecSpec::pcma()),
    );
    let leg = |id, local: &str, spec| Command::AddLeg {
        session: SESSION,
        leg: LegId(id),
        local: addr(local),
        local_rtcp: None,
        spec,
    };
    let pcmu = spec("192.0.2.60:4000", CodecSpec::pcmu());
    assert_eq!(
        sim.try_cmd(leg(1, "10.0.0.1:30000", pcmu.clone())),
        Err(CommandError::LegExists(A))
    );
    assert_eq!(
        sim.try_cmd(leg(5, A_LOCAL, pcmu.clone())),
        Err(CommandError::LocalAddressInUse(addr(A_LOCAL)))
    );
    assert_eq!(
        sim.try_cmd(Command::CreateSession { session: SESSION }),
        Err(CommandError::SessionExists(SESSION))
    );
    let mut g729 = pcmu.clone();
    g729.codec.name = "G729".into();
    sim.cmd(leg(5, "10.0.0.1:30000", g729.clone()));
    sim.cmd(leg(6, "10.0.0.1:30002", g729));
    // Same unknown codec both sides: relayed untouched. Against PCMU: cannot transcode.
    sim.cmd(Command::Connect {
        a: LegId(5),
        b: LegId(6),
    });
    assert!(matches!(
        sim.try_cmd(Command::Connect { a: LegId(5), b: A }),
        Err(CommandError::UnsupportedCodec { ref name, .. }) if name == "G729"
    ));
    assert_eq!(
        sim.try_cmd(Command::Connect { a: A, b: A }),
        Err(CommandError::SelfConnect(A))
    );
    sim.cmd(Command::CreateSession {
        session: SessionId(2),
    });
    sim.cmd(Command::AddLeg {
        session: SessionId(2),
        leg: LegId(7),
        local: addr("10.0.0.1:30004"),
        local_rtcp: None,
        spec: pcmu.clone(),
    });
    assert_eq!(
        sim.try_cmd(Command::Connect { a: A, b: LegId(7) }),
        Err(CommandError::DifferentSessions { a: A, b: LegId(7) })
    );
    let mut bad = pcmu.clone();
    bad.ptime_ms = 7;
    assert_eq!(
        sim.try_cmd(Command::UpdateLeg { leg: A, spec: bad }),
        Err(CommandError::BadPtime(7))
    );
    let mut bad = pcmu.clone();
    bad.srtp = Some(SrtpSpec {
        suite: SrtpSuite::AesCm128HmacSha1_80,
        send: SrtpKey {
            master_key: vec![1; 15],
            master_salt: vec![2; 14],
            mki: None,
            lifetime: None,
        },
        recv: SrtpKey {
            master_key: vec![1; 16],
            master_salt: vec![2; 14],
            mki: None,
            lifetime: None,
        },
    });
    assert!(matches!(
        sim.try_cmd(leg(8, "10.0.0.1:30006", bad)),
        Err(CommandError::BadSrtpKey(_))
    ));
    let mut ice = pcmu.clone();
    ice.ice = Some(IceSpec {
        local_ufrag: "a".into(),
        local_pwd: "b".into(),
        remote_ufrag: "c".into(),
        remote_pwd: "d".into(),
        remote_candidates: vec![],
        controlling: true,
        remote_lite: false,
    });
    assert_eq!(
        sim.try_cmd(leg(8, "10.0.0.1:30006", ice)),
        Err(CommandError::IceUnavailable)
    );
    assert_eq!(
        sim.try_cmd(Command::RemoveLeg { leg: LegId(99) }),
        Err(CommandError::UnknownLeg(LegId(99)))
    );
    assert_eq!(sim.engine.leg_count(), 5);

    // The A–B call still works after all that.
    let mut pa = Peer::new(addr(A_PEER), Codec::Pcmu);
    stream_tones(
        &mut sim,
        &mut [(&mut pa, addr(A_LOCAL), 1000.0)],
        20,
        0,
        |_| true,
    );
    assert!(!Peer::new(addr(B_PEER), Codec::Pcma)
        .open(&sim.take(addr(B_PEER)))
        .is_empty());

    sim.take(addr(A_PEER));
    let stats_before = sim
        .events
        .iter()
        .filter(|e| matches!(e, Event::LegStats { .. }))
        .count();
    let a_ssrc = sim.engine.local_ssrc(A).unwrap();
    sim.cmd(Command::DestroySession { session: SESSION });
    // A's peer hears the stream end: an RTCP BYE for A's SSRC (RFC 3550 §6.6).
    let byes: Vec<_> = rtcp_of(&sim.take(addr(A_PEER)))
        .into_iter()
        .flatten()
        .filter_map(|p| match p {
            RtcpPacket::Bye(b) => Some(b.sources),
            _ => None,
        })
        .collect();
    assert_eq!(byes, vec![vec![a_ssrc]]);
    assert_eq!(sim.engine.leg_count(), 1);
    assert_eq!(sim.engine.session_count(), 1);
    // Each removed leg leaves a final report for the call record.
    let finals = sim
        .events
        .iter()
        .filter(|e| matches!(e, Event::LegStats { .. }))
        .count();
    assert_eq!(finals - stats_before, 4, "one final report per removed leg");
    // Packets for a removed leg are dropped and counted.
    let before = sim.engine.stats().dropped;
    let p = pa.tone_packet(1000.0);
    sim.deliver(addr(A_LOCAL), addr(A_PEER), &p);
    assert_eq!(sim.engine.stats().dropped, before + 1);
}

#[test]
fn rfc4733_across_a_transcoded_pair_is_regenerated_on_the_far_legs_timeline() {
    let mut a = spec(A_PEER, CodecSpec::pcmu());
    a.telephone_event = te(101, 101);
    let mut b = spec(B_PEER, CodecSpec::pcma());
    b.telephone_event = te(98, 98);
    let mut sim = two_legs(a, b);
    let mut pa = Peer::new(addr(A_PEER), Codec::Pcmu);
    send_4733(&mut sim, &mut pa, 101, 1, 25);

    let pkts = Peer::new(addr(B_PEER), Codec::Pcma).open(&sim.take(addr(B_PEER)));
    let evs: Vec<_> = pkts.iter().filter(|p| p.payload_type.0 == 98).collect();
    assert!(evs.len() >= 3, "{} event packets", evs.len());
    // One key press: every packet has the same timestamp, the first is marked, the
    // durations grow to the end, which is repeated.
    assert!(evs.iter().all(|p| p.timestamp == evs[0].timestamp));
    assert!(evs[0].marker);
    let tel: Vec<_> = evs
        .iter()
        .map(|p| TelephoneEvent::parse(&p.payload).unwrap())
        .collect();
    assert!(tel.iter().all(|e| e.event == 1));
    assert!(tel.windows(2).all(|w| w[1].duration >= w[0].duration));
    assert!(tel.last().unwrap().end);
    let last = *tel.last().unwrap();
    assert!(
        (700..=900).contains(&last.duration),
        "≈100 ms at 8 kHz: {}",
        last.duration
    );
    // The event sits on the timeline of the transcoded audio around it: after the audio
    // before it, and the audio after it continues from there.
    let before = pkts
        .iter()
        .take_while(|p| p.payload_type.0 == 8)
        .last()
        .unwrap();
    let ahead = evs[0].timestamp.wrapping_sub(before.timestamp) as i32;
    assert!(
        (0..=8000).contains(&ahead),
        "event {ahead} units after the last audio"
    );
    assert_continuous_seq(&pkts);
    assert_eq!(sim.dtmf_events(), vec![(A, '1', DtmfSource::Rfc4733)]);
}
