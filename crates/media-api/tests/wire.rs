//! The boundary survives serialisation, so the engine can later run out of process.

use sb_media_api::*;

fn full_spec() -> LegSpec {
    let mut spec = LegSpec::plain("192.0.2.10:4000".parse().unwrap(), CodecSpec::pcma());
    spec.telephone_event = Some(TelephoneEventSpec {
        send_pt: PayloadType(101),
        recv_pt: PayloadType(96),
        clock_rate: 8000,
    });
    spec.srtp = Some(SrtpSpec {
        suite: SrtpSuite::AesCm128HmacSha1_80,
        send: SrtpKey {
            master_key: vec![1; 16],
            master_salt: vec![2; 14],
            mki: Some((vec![1], 1)),
            lifetime: Some(1 << 31),
        },
        recv: SrtpKey {
            master_key: vec![3; 16],
            master_salt: vec![4; 14],
            mki: None,
            lifetime: None,
        },
    });
    spec.ice = Some(IceSpec {
        local_ufrag: "lu".into(),
        local_pwd: "lp".into(),
        remote_ufrag: "ru".into(),
        remote_pwd: "rp".into(),
        remote_candidates: vec![IceCandidate {
            foundation: "1".into(),
            component: 1,
            transport: "udp".into(),
            priority: 2_130_706_431,
            address: "abcd.local".into(),
            port: 5000,
            kind: CandidateKind::Host,
        }],
        controlling: true,
        remote_lite: false,
    });
    spec.rtcp = RtcpSpec::Mux;
    spec.direction = Direction::RecvOnly;
    spec
}

#[test]
fn commands_and_events_round_trip_through_json() {
    let commands = vec![
        Command::CreateSession {
            session: SessionId(7),
        },
        Command::AddLeg {
            session: SessionId(7),
            leg: LegId(1),
            local: "198.51.100.1:30000".parse().unwrap(),
            local_rtcp: Some("198.51.100.1:30001".parse().unwrap()),
            spec: full_spec(),
        },
        Command::UpdateLeg {
            leg: LegId(1),
            spec: full_spec(),
        },
        Command::Connect {
            a: LegId(1),
            b: LegId(2),
        },
        Command::SendDtmf {
            leg: LegId(2),
            digit: '#',
            duration_ms: 120,
        },
        Command::PlayTone {
            leg: LegId(1),
            tone: Tone::ringback_north_america(),
        },
        Command::StopTone { leg: LegId(1) },
        Command::RemoveLeg { leg: LegId(2) },
        Command::DestroySession {
            session: SessionId(7),
        },
    ];
    for c in commands {
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Command>(&json).unwrap(), c, "{json}");
    }
    let events = vec![
        Event::Latched {
            leg: LegId(1),
            remote: "203.0.113.5:7078".parse().unwrap(),
        },
        Event::DtmfReceived {
            leg: LegId(1),
            digit: '5',
            duration_ms: 100,
            how: DtmfSource::InBand,
        },
        Event::MediaTimeout { leg: LegId(3) },
        Event::LegStats {
            leg: LegId(1),
            stats: QualityReport {
                codec: "PCMU/8000".into(),
                packets_sent: 10,
                bytes_sent: 1600,
                packets_received: 9,
                bytes_received: 1440,
                packets_lost: 1,
                loss_fraction: 0.1,
                jitter_ms: 2.5,
                rtt_ms: Some(40.0),
                remote: Some(RemoteReport {
                    fraction_lost: 0.0,
                    cumulative_lost: 0,
                    jitter_ms: 1.0,
                }),
                mos: 4.1,
            },
        },
    ];
    for e in events {
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), e, "{json}");
    }
}

#[test]
fn keys_never_reach_debug_output() {
    let text = format!("{:?}", full_spec());
    assert!(text.contains("<16 bytes>"), "{text}");
    assert!(!text.contains("[1, 1, 1"), "{text}");
}

#[test]
fn errors_name_what_was_refused() {
    assert_eq!(
        CommandError::UnknownLeg(LegId(4)).to_string(),
        "leg 4 does not exist"
    );
    assert_eq!(
        CommandError::UnsupportedCodec {
            name: "G729".into(),
            clock_rate: 8000,
            channels: 1
        }
        .to_string(),
        "codec G729/8000/1 is not supported"
    );
    assert!(Direction::SendOnly.sends() && !Direction::SendOnly.receives());
    assert!(!Direction::RecvOnly.sends() && !Direction::Inactive.receives());
}
