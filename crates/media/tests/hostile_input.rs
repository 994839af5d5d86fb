//! Peer input never panics the engine: arbitrary datagrams, and datagrams that look like
//! RTP, RTCP, telephone-events or STUN with arbitrary fields, on plain, SRTP, relayed and
//! transcoded legs, interleaved with timers.

mod common;

use common::*;
use proptest::prelude::*;
use sb_media_api::*;

fn engine_with_every_kind_of_leg() -> Sim {
    let mut a = spec(A_PEER, CodecSpec::pcmu());
    a.telephone_event = Some(TelephoneEventSpec {
        send_pt: PayloadType(101),
        recv_pt: PayloadType(101),
        clock_rate: 8000,
    });
    a.inband_dtmf = true;
    a.media_timeout_ms = Some(100);
    let mut b = LegSpec::plain(addr(B_PEER), CodecSpec::pcma());
    b.srtp = Some(SrtpSpec {
        suite: SrtpSuite::AeadAes128Gcm,
        send: SrtpKey {
            master_key: vec![5; 16],
            master_salt: vec![6; 12],
            mki: None,
            lifetime: None,
        },
        recv: SrtpKey {
            master_key: vec![7; 16],
            master_salt: vec![8; 12],
            mki: None,
            lifetime: None,
        },
    });
    let mut sim = two_legs(a, b);
    sim.cmd(Command::PlayTone {
        leg: B,
        tone: Tone::ringback_north_america(),
    });
    sim
}

#[derive(Debug, Clone)]
enum Datagram {
    Raw(Vec<u8>),
    Rtp {
        pt: u8,
        marker: bool,
        seq: u16,
        ts: u32,
        ssrc: u32,
        payload: Vec<u8>,
    },
    Rtcp {
        pt: u8,
        rest: Vec<u8>,
    },
    Stun(Vec<u8>),
}

fn datagram() -> impl Strategy<Value = Datagram> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..400).prop_map(Datagram::Raw),
        (
            prop_oneof![Just(0u8), Just(8), Just(13), Just(101), 0u8..128],
            any::<bool>(),
            any::<u16>(),
            any::<u32>(),
            prop_oneof![Just(7u32), any::<u32>()],
            proptest::collection::vec(any::<u8>(), 0..400),
        )
            .prop_map(|(pt, marker, seq, ts, ssrc, payload)| Datagram::Rtp {
                pt,
                marker,
                seq,
                ts,
                ssrc,
                payload
            }),
        (200u8..=206, proptest::collection::vec(any::<u8>(), 0..200))
            .prop_map(|(pt, rest)| Datagram::Rtcp { pt, rest }),
        proptest::collection::vec(any::<u8>(), 0..100).prop_map(|mut b| {
            if let Some(x) = b.first_mut() {
                *x &= 3;
            }
            Datagram::Stun(b)
        }),
    ]
}

impl Datagram {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Datagram::Raw(b) | Datagram::Stun(b) => b.clone(),
            Datagram::Rtp {
                pt,
                marker,
                seq,
                ts,
                ssrc,
                payload,
            } => {
                let mut rtp = sb_rtp::Rtp::new(
                    sb_rtp::Pt(*pt),
                    *seq,
                    *ts,
                    sb_rtp::Ssrc(*ssrc),
                    payload.clone(),
                );
                rtp.marker = *marker;
                rtp.to_bytes().unwrap()
            }
            Datagram::Rtcp { pt, rest } => {
                let mut b = vec![0x81, *pt];
                b.extend_from_slice(rest);
                b
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn no_datagram_panics_the_engine(
        input in proptest::collection::vec((0usize..3, 0u64..30_000, datagram()), 1..60)
    ) {
        let mut sim = engine_with_every_kind_of_leg();
        let locals = [addr(A_LOCAL), addr(B_LOCAL), addr("10.0.0.1:1")];
        let froms = [addr(A_PEER), addr(B_PEER), addr("203.0.113.1:1")];
        let mut t = 0;
        for (i, (which, gap, d)) in input.iter().enumerate() {
            t += gap;
            sim.advance_to(t);
            sim.deliver(locals[*which], froms[i % 3], &d.bytes());
        }
        sim.advance_to(t + 10_000_000);
        // Still a working engine afterwards.
        prop_assert!(sim.engine.poll_timeout().is_some());
        let stats = sim.try_cmd(Command::RequestStats { leg: A });
        prop_assert!(stats.is_ok());
    }
}
