//! Wideband and Opus transcoding, re-INVITE changes mid-call, a separate RTCP socket, and
//! the ICE seam with a stand-in agent.

mod common;

use std::net::SocketAddr;

use common::*;
use sb_codecs::audio::{dominant_frequency, is_1khz_tone, is_tone};
use sb_codecs::{Codec, OpusRate};
use sb_media::ice::{IceFactory, IceHandler, IceState};
use sb_media::{EngineConfig, MediaEngine};
use sb_media_api::*;

fn codec_spec(name: &str, clock_rate: u32, channels: u8, pt: u8) -> CodecSpec {
    CodecSpec {
        name: name.into(),
        clock_rate,
        channels,
        send_pt: PayloadType(pt),
        recv_pt: PayloadType(pt),
        fmtp: None,
    }
}

#[test]
fn g722_and_pcmu_transcode_both_ways() {
    let mut sim = two_legs(
        spec(A_PEER, codec_spec("G722", 8000, 1, 9)),
        spec(B_PEER, CodecSpec::pcmu()),
    );
    let mut pa = Peer::new(addr(A_PEER), Codec::G722);
    let mut pb = Peer::new(addr(B_PEER), Codec::Pcmu);
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
    let to_b = pb.open(&sim.take(addr(B_PEER)));
    assert_continuous(&to_b, 160);
    let pcm = decode(Codec::Pcmu, 0, &to_b);
    assert!(is_1khz_tone(&pcm[1600..pcm.len() - 800], 8000));
    let to_a = pa.open(&sim.take(addr(A_PEER)));
    assert!(to_a
        .iter()
        .all(|p| p.payload_type.0 == 9 && p.payload.len() == 160));
    assert_continuous(&to_a, 160); // G.722's 8000 Hz RTP clock (RFC 3551 §4.5.2)
    let wide = decode(Codec::G722, 9, &to_a);
    assert!(is_tone(&wide[3200..wide.len() - 1600], 16_000, 600.0));
}

#[test]
fn opus_and_pcma_transcode_both_ways() {
    let opus = Codec::opus(OpusRate::Hz48000);
    let mut sim = two_legs(
        spec(A_PEER, codec_spec("opus", 48_000, 2, 111)),
        spec(B_PEER, CodecSpec::pcma()),
    );
    let mut pa = Peer::new(addr(A_PEER), opus);
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
    let to_b = pb.open(&sim.take(addr(B_PEER)));
    assert_continuous(&to_b, 160);
    let pcm = decode(Codec::Pcma, 8, &to_b);
    let steady = &pcm[2400..pcm.len() - 800];
    assert_eq!(
        dominant_frequency(steady, 8000, &[600.0, 1000.0]),
        Some(1000.0)
    );
    assert!(is_1khz_tone(steady, 8000));
    let to_a = pa.open(&sim.take(addr(A_PEER)));
    assert!(to_a.iter().all(|p| p.payload_type.0 == 111));
    assert_continuous(&to_a, 960); // Opus's 48 kHz RTP clock whatever the PCM rate (RFC 7587)
    let full = decode(opus, 111, &to_a);
    assert!(is_tone(&full[14_400..full.len() - 4_800], 48_000, 600.0));
}

#[test]
fn a_reinvite_changing_codec_and_keys_keeps_the_call_going() {
    let (k1, s1) = (vec![1u8; 16], vec![2u8; 14]);
    let (k2, s2) = (vec![3u8; 16], vec![4u8; 14]);
    let key = |k: &Vec<u8>, s: &Vec<u8>| SrtpKey {
        master_key: k.clone(),
        master_salt: s.clone(),
        mki: None,
        lifetime: None,
    };
    let mut a = spec(A_PEER, CodecSpec::pcmu());
    a.srtp = Some(SrtpSpec {
        suite: SrtpSuite::AesCm128HmacSha1_80,
        send: key(&k1, &s1),
        recv: key(&k1, &s1),
    });
    let mut sim = two_legs(a.clone(), spec(B_PEER, CodecSpec::pcmu()));
    let suite = sb_srtp::SrtpSuite::AesCm128HmacSha1_80;
    let mut pa = Peer::new(addr(A_PEER), Codec::Pcmu);
    pa.srtp_tx = Some(sb_srtp::SrtpContext::new(suite, &k1, &s1, None).unwrap());
    stream_tones(
        &mut sim,
        &mut [(&mut pa, addr(A_LOCAL), 1000.0)],
        40,
        0,
        |_| true,
    );

    // Re-INVITE: both ends change keys (the peer's context keeps its rollover counter and
    // the engine's must too), and B moves to PCMA, so the relay becomes a transcode.
    a.srtp = Some(SrtpSpec {
        suite: SrtpSuite::AesCm128HmacSha1_80,
        send: key(&k2, &s2),
        recv: key(&k2, &s2),
    });
    sim.cmd(Command::UpdateLeg { leg: A, spec: a });
    sim.cmd(Command::UpdateLeg {
        leg: B,
        spec: spec(B_PEER, CodecSpec::pcma()),
    });
    pa.srtp_tx
        .as_mut()
        .unwrap()
        .rekey(suite, &k2, &s2, None)
        .unwrap();
    let t = sim.now;
    stream_tones(
        &mut sim,
        &mut [(&mut pa, addr(A_LOCAL), 1000.0)],
        100,
        t,
        |_| true,
    );

    assert_eq!(
        sim.engine.stats().dropped,
        0,
        "every packet decrypted under its key"
    );
    let to_b = Peer::new(addr(B_PEER), Codec::Pcmu).open(&sim.take(addr(B_PEER)));
    let (before, after): (Vec<_>, Vec<_>) =
        to_b.iter().cloned().partition(|p| p.payload_type.0 == 0);
    assert_eq!(before.len(), 40);
    assert!(after.len() >= 90 && after.iter().all(|p| p.payload_type.0 == 8));
    // One stream across the switch: same SSRC, sequence numbers without a gap.
    for w in to_b.windows(2) {
        assert_eq!(w[1].sequence, w[0].sequence.wrapping_add(1));
        assert_eq!(w[1].ssrc, w[0].ssrc);
    }
    let pcm = decode(Codec::Pcma, 8, &after);
    assert!(is_1khz_tone(&pcm[1600..pcm.len() - 800], 8000));
}

#[test]
fn rtcp_uses_the_separate_socket_and_address_without_rtcp_mux() {
    let mut sim = Sim::new();
    let local_rtcp = addr("10.0.0.1:20001");
    let peer_rtcp = addr("192.0.2.1:4001");
    sim.cmd(Command::CreateSession { session: SESSION });
    sim.cmd(Command::AddLeg {
        session: SESSION,
        leg: A,
        local: addr(A_LOCAL),
        local_rtcp: Some(local_rtcp),
        spec: LegSpec::plain(addr(A_PEER), CodecSpec::pcmu()),
    });
    let mut pa = Peer::new(addr(A_PEER), Codec::Pcmu);
    stream_tones(
        &mut sim,
        &mut [(&mut pa, addr(A_LOCAL), 1000.0)],
        300,
        0,
        |_| true,
    );
    let rtcp = sim.take(peer_rtcp);
    assert!(!rtcp.is_empty());
    assert!(rtcp.iter().all(|r| r.from_local == local_rtcp));
    assert!(sim.take(addr(A_PEER)).is_empty(), "no RTCP on the RTP port");
    // The peer's receiver report on our RTCP socket is read.
    let rr = sb_rtp::RtcpPacket::ReceiverReport(sb_rtp::ReceiverReport {
        ssrc: pa.ssrc,
        reports: vec![sb_rtp::ReportBlock {
            ssrc: sim.engine.local_ssrc(A).unwrap(),
            fraction_lost: 128,
            cumulative_lost: 9,
            extended_highest_seq: 0,
            jitter: 0,
            last_sr: 0,
            delay_since_last_sr: 0,
        }],
    });
    let bytes = sb_rtp::build_compound(&[rr]).unwrap();
    sim.deliver(local_rtcp, peer_rtcp, &bytes);
    let remote = sim.engine.quality(A).unwrap().remote.expect("report read");
    assert_eq!((remote.fraction_lost, remote.cumulative_lost), (0.5, 9));
}

/// A stand-in ICE agent: answers a binding request and selects the pair it came on.
#[derive(Default)]
struct StandInIce {
    selected: Option<SocketAddr>,
    out: Vec<(SocketAddr, Vec<u8>)>,
    seen: usize,
}

impl IceHandler for StandInIce {
    fn handle_stun(&mut self, _now_us: u64, from: SocketAddr, bytes: &[u8]) {
        self.seen += 1;
        if bytes.get(..2) == Some(&[0x00, 0x01]) {
            let mut response = bytes.to_vec();
            response[..2].copy_from_slice(&[0x01, 0x01]);
            self.out.push((from, response));
            self.selected = Some(from);
        }
    }
    fn handle_timeout(&mut self, _now_us: u64) {}
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.out.pop()
    }
    fn poll_timeout(&self) -> Option<u64> {
        None
    }
    fn state(&self) -> IceState {
        match self.selected {
            Some(remote) => IceState::Selected { remote },
            None => IceState::Checking,
        }
    }
    fn update(&mut self, _now_us: u64, _spec: &IceSpec) {}
    fn accepts_media(&self, from: SocketAddr) -> bool {
        self.selected == Some(from)
    }
}

struct StandInFactory;

impl IceFactory for StandInFactory {
    fn create(
        &mut self,
        _: u64,
        _: SocketAddr,
        _: &IceSpec,
    ) -> Result<Box<dyn IceHandler>, String> {
        Ok(Box::new(StandInIce::default()))
    }
}

#[test]
fn stun_goes_to_the_ice_agent_and_its_selected_pair_carries_the_media() {
    let engine = MediaEngine::with_ice(EngineConfig::new(7, 0), Box::new(StandInFactory));
    let mut sim = Sim::with_engine(engine);
    let mut a = spec(A_PEER, CodecSpec::pcmu());
    a.ice = Some(IceSpec {
        local_ufrag: "loc".into(),
        local_pwd: "localpassword".into(),
        remote_ufrag: "rem".into(),
        remote_pwd: "remotepassword".into(),
        remote_candidates: vec![],
        controlling: false,
        remote_lite: false,
    });
    sim.cmd(Command::CreateSession { session: SESSION });
    for (leg, local, spec) in [
        (A, A_LOCAL, a),
        (B, B_LOCAL, spec(B_PEER, CodecSpec::pcmu())),
    ] {
        sim.cmd(Command::AddLeg {
            session: SESSION,
            leg,
            local: addr(local),
            local_rtcp: None,
            spec,
        });
    }
    sim.cmd(Command::Connect { a: A, b: B });
    let srflx = addr("203.0.113.20:7000");
    let mut request = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
    request.extend_from_slice(&[9; 12]);
    sim.deliver(addr(A_LOCAL), srflx, &request);
    let replies = sim.take(srflx);
    assert_eq!(replies.len(), 1);
    assert_eq!(
        (replies[0].from_local, &replies[0].bytes[..2]),
        (addr(A_LOCAL), &[0x01, 0x01][..])
    );
    assert!(sim.events.contains(&Event::IceSelected {
        leg: A,
        pair: IceSelected {
            local: addr(A_LOCAL),
            remote: srflx
        },
    }));
    // B's audio goes to the selected pair; media from elsewhere does not move it (ICE, not
    // latching, decides the path on an ICE leg).
    let mut pa = Peer::new(addr("198.18.0.9:1234"), Codec::Pcmu);
    let mut pb = Peer::new(addr(B_PEER), Codec::Pcmu);
    stream_tones(
        &mut sim,
        &mut [
            (&mut pb, addr(B_LOCAL), 500.0),
            (&mut pa, addr(A_LOCAL), 1000.0),
        ],
        10,
        0,
        |_| true,
    );
    assert_eq!(sim.engine.rtp_target(A), Some(srflx));
    assert_eq!(
        Peer::new(srflx, Codec::Pcmu).open(&sim.take(srflx)).len(),
        10
    );
    assert!(sim.take(addr(A_PEER)).is_empty());
    // ...and is not taken at all: the agent has not verified that source.
    assert!(sim.take(addr(B_PEER)).is_empty());
    assert_eq!(sim.engine.stats().dropped, 10);
    // From the verified pair it is.
    let mut from_pair = Peer::new(srflx, Codec::Pcmu);
    let t = sim.now;
    stream_tones(
        &mut sim,
        &mut [(&mut from_pair, addr(A_LOCAL), 1000.0)],
        5,
        t,
        |_| true,
    );
    let to_b = Peer::new(addr(B_PEER), Codec::Pcmu).open(&sim.take(addr(B_PEER)));
    assert_eq!(to_b.len(), 5);
}

#[test]
fn a_new_packet_time_reframes_the_transcoded_stream() {
    let mut sim = two_legs(
        spec(A_PEER, CodecSpec::pcmu()),
        spec(B_PEER, CodecSpec::pcma()),
    );
    let mut pa = Peer::new(addr(A_PEER), Codec::Pcmu);
    stream_tones(
        &mut sim,
        &mut [(&mut pa, addr(A_LOCAL), 1000.0)],
        50,
        0,
        |_| true,
    );
    sim.take(addr(B_PEER));
    let mut b = spec(B_PEER, CodecSpec::pcma());
    b.ptime_ms = 30;
    sim.cmd(Command::UpdateLeg { leg: B, spec: b });
    let t = sim.now;
    stream_tones(
        &mut sim,
        &mut [(&mut pa, addr(A_LOCAL), 1000.0)],
        150,
        t,
        |_| true,
    );
    let to_b = Peer::new(addr(B_PEER), Codec::Pcma).open(&sim.take(addr(B_PEER)));
    assert!(
        (95..=106).contains(&to_b.len()),
        "3 s (with what was queued at the switch and the concealed tail) in 30 ms packets: {}",
        to_b.len()
    );
    assert!(to_b.iter().all(|p| p.payload.len() == 240));
    assert_continuous(&to_b[1..], 240);
    let pcm = decode(Codec::Pcma, 8, &to_b);
    assert!(is_1khz_tone(&pcm[2400..pcm.len() - 2400], 8000));
}
