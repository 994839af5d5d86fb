//! Properties: parse(print(x)) == x for any description the model can hold, and printing
//! whatever we parsed is stable; arbitrary text never panics the parser.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use sb_sdp::*;

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9._+/-]{0,11}"
}

/// Free text for values: printable, no line ends, no trailing whitespace.
fn text() -> impl Strategy<Value = String> {
    "[ -~]{0,20}".prop_map(|s| s.trim_end().to_string())
}

fn address() -> impl Strategy<Value = Address> {
    (
        prop_oneof![Just("IN".to_string()), token()],
        prop_oneof![Just("IP4".to_string()), Just("IP6".to_string())],
        token(),
    )
        .prop_map(|(net_type, addr_type, address)| Address {
            net_type,
            addr_type,
            address,
        })
}

fn pt() -> impl Strategy<Value = Pt> {
    (0u8..=127).prop_map(|n| Pt::new(n).unwrap())
}

fn b64() -> impl Strategy<Value = String> {
    vec(any::<u8>(), 1..45).prop_map(|b| base64_encode(&b))
}

fn crypto() -> impl Strategy<Value = Crypto> {
    let key = (
        b64(),
        option::of(prop_oneof![
            (0u8..=64).prop_map(Lifetime::PowerOfTwo),
            any::<u64>().prop_map(Lifetime::Packets)
        ]),
        option::of((any::<u64>(), 1u8..=128).prop_map(|(value, length)| Mki { value, length })),
    )
        .prop_map(|(key_salt, lifetime, mki)| KeyParam {
            key_salt,
            lifetime,
            mki,
        });
    (
        0u32..=999_999_999,
        prop_oneof![
            Just(CryptoSuite::AesCm128HmacSha1_80),
            Just(CryptoSuite::AesCm128HmacSha1_32),
            Just(CryptoSuite::AeadAes128Gcm),
            Just(CryptoSuite::Other("F8_128_HMAC_SHA1_80".into())),
        ],
        vec(key, 1..3),
        vec(token(), 0..3),
    )
        .prop_map(|(tag, suite, keys, session_params)| Crypto {
            tag,
            suite,
            keys,
            session_params,
        })
}

fn candidate() -> impl Strategy<Value = Candidate> {
    (
        "[A-Za-z0-9+/]{1,32}",
        1u16..=256,
        prop_oneof![Just("UDP".to_string()), Just("tcp".to_string())],
        any::<u32>(),
        token(),
        any::<u16>(),
        prop_oneof![
            Just(CandidateType::Host),
            Just(CandidateType::ServerReflexive),
            Just(CandidateType::PeerReflexive),
            Just(CandidateType::Relayed),
        ],
        option::of(token()),
        option::of(any::<u16>()),
        vec(("[a-z][a-z-]{0,8}", token()), 0..3),
    )
        .prop_map(
            |(foundation, component, transport, priority, address, port, kind, ra, rp, ext)| {
                Candidate {
                    foundation,
                    component,
                    transport,
                    priority,
                    address,
                    port,
                    kind,
                    related_address: ra,
                    related_port: rp,
                    extensions: ext
                        .into_iter()
                        .filter(|(n, _)| n != "raddr" && n != "rport")
                        .collect(),
                }
            },
        )
}

fn ice() -> impl Strategy<Value = String> {
    "[A-Za-z0-9+/]{1,24}"
}

fn attribute() -> impl Strategy<Value = Attribute> {
    prop_oneof![
        (
            pt(),
            "[A-Za-z][A-Za-z0-9._-]{0,11}",
            1u32..200_000,
            option::of(1u8..=8)
        )
            .prop_map(|(pt, e, r, c)| {
                Attribute::Rtpmap(Rtpmap {
                    pt,
                    encoding: e,
                    clock_rate: r,
                    channels: c,
                })
            }),
        (pt(), text()).prop_map(|(pt, p)| Attribute::Fmtp {
            pt,
            params: p.trim().to_string()
        }),
        (1u32..=10_000).prop_map(Attribute::Ptime),
        (1u32..=10_000).prop_map(Attribute::MaxPtime),
        prop_oneof![
            Just(Direction::SendRecv),
            Just(Direction::SendOnly),
            Just(Direction::RecvOnly),
            Just(Direction::Inactive)
        ]
        .prop_map(Attribute::Direction),
        (any::<u16>(), option::of(address()))
            .prop_map(|(port, address)| Attribute::Rtcp { port, address }),
        Just(Attribute::RtcpMux),
        crypto().prop_map(Attribute::Crypto),
        ice().prop_map(Attribute::IceUfrag),
        ice().prop_map(Attribute::IcePwd),
        Just(Attribute::IceLite),
        candidate().prop_map(Attribute::Candidate),
        token().prop_map(Attribute::Mid),
        (token(), token()).prop_map(|(hash, value)| Attribute::Fingerprint { hash, value }),
        token().prop_map(Attribute::Setup),
        (
            prop_oneof![
                Just("ssrc"),
                Just("x-custom"),
                Just("label"),
                Just("extmap"),
                Just("group")
            ],
            option::of(text())
        )
            .prop_map(|(n, value)| Attribute::Other {
                name: n.to_string(),
                value
            }),
    ]
}

fn bandwidth() -> impl Strategy<Value = Bandwidth> {
    (
        prop_oneof![Just("AS"), Just("CT"), Just("TIAS")],
        any::<u64>(),
    )
        .prop_map(|(t, kbps)| Bandwidth {
            bw_type: t.to_string(),
            kbps,
        })
}

fn other_line(kinds: &'static str) -> impl Strategy<Value = OtherLine> {
    (
        proptest::sample::select(kinds.chars().collect::<Vec<_>>()),
        text(),
    )
        .prop_map(|(kind, value)| OtherLine { kind, value })
}

fn media() -> impl Strategy<Value = MediaDescription> {
    let rtp = (
        prop_oneof![
            Just(Proto::RtpAvp),
            Just(Proto::RtpAvpf),
            Just(Proto::RtpSavp),
            Just(Proto::RtpSavpf),
            Just(Proto::UdpTlsRtpSavp),
            Just(Proto::UdpTlsRtpSavpf),
        ],
        vec(pt().prop_map(|p| p.to_string()), 1..8),
    );
    let other = (
        prop_oneof![Just("UDP/DTLS/SCTP"), Just("udp"), Just("TCP/MRCPv2")]
            .prop_map(|p| Proto::Other(p.into())),
        vec(token(), 1..3),
    );
    (
        prop_oneof![
            Just("audio".to_string()),
            Just("video".to_string()),
            token()
        ],
        any::<u16>(),
        option::of(any::<u16>()),
        prop_oneof![rtp, other],
        vec(other_line("ikx"), 0..2),
        option::of(address().prop_map(|address| Connection { address })),
        vec(bandwidth(), 0..2),
        vec(attribute(), 0..12),
    )
        .prop_map(
            |(
                media,
                port,
                port_count,
                (proto, formats),
                other,
                connection,
                bandwidths,
                attributes,
            )| {
                MediaDescription {
                    media,
                    port,
                    port_count,
                    proto,
                    formats,
                    other,
                    connection,
                    bandwidths,
                    attributes,
                }
            },
        )
}

fn session() -> impl Strategy<Value = SessionDescription> {
    (
        (token(), "[0-9]{1,25}", any::<u64>(), address()),
        text(),
        option::of(address().prop_map(|address| Connection { address })),
        vec(bandwidth(), 0..2),
        (any::<u64>(), any::<u64>()),
        (
            vec(other_line("iuep"), 0..3),
            vec(other_line("rzkty"), 0..3),
        ),
        vec(attribute(), 0..6),
        vec(media(), 0..4),
    )
        .prop_map(
            |(
                (username, session_id, session_version, address),
                session_name,
                connection,
                bandwidths,
                (start, stop),
                (mut before, after),
                attributes,
                media,
            )| {
                before.extend(after);
                SessionDescription {
                    origin: Origin {
                        username,
                        session_id,
                        session_version,
                        address,
                    },
                    session_name,
                    connection,
                    bandwidths,
                    timing: Timing { start, stop },
                    other: before,
                    attributes,
                    media,
                }
            },
        )
}

/// Lines real descriptions are made of, plus some damage, for the never-panic property.
fn noisy_text() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("v=0".to_string()),
        Just("o=- 1 2 IN IP4 192.0.2.1".to_string()),
        Just("s=-".to_string()),
        Just("t=0 0".to_string()),
        Just("c=IN IP4 192.0.2.1".to_string()),
        Just("m=audio 4000 RTP/SAVP 0 8 101".to_string()),
        Just("a=rtpmap:101 telephone-event/8000".to_string()),
        Just("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUJD|2^31|1:4".to_string()),
        Just("a=candidate:1 1 UDP 5 192.0.2.1 4000 typ host raddr 1 rport 2".to_string()),
        Just("a=rtcp:4001 IN IP4 192.0.2.1".to_string()),
        "[a-z]=[ -~]{0,30}",
        "a=[a-z-]{1,10}:[ -~]{0,30}",
        "[ -~]{0,20}",
    ];
    (vec(line, 0..20), prop_oneof![Just("\r\n"), Just("\n")])
        .prop_map(|(lines, end)| lines.join(end))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_of_print_is_identity(sd in session()) {
        let printed = sd.to_string();
        let parsed = parse(printed.as_bytes());
        prop_assert_eq!(parsed.as_ref(), Ok(&sd), "{}", printed);
        prop_assert_eq!(parsed.unwrap().to_string(), printed);
    }

    #[test]
    fn arbitrary_text_never_panics_and_reprints_stably(text in noisy_text()) {
        if let Ok(sd) = parse(text.as_bytes()) {
            let printed = sd.to_string();
            let again = parse(printed.as_bytes()).expect("what we print parses");
            prop_assert_eq!(&again, &sd);
            prop_assert_eq!(again.to_string(), printed);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes);
    }
}
