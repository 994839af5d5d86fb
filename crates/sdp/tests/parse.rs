//! Parsing what real peers send, and refusing what would misroute media.

mod common;
use common::*;
use sb_sdp::*;

#[test]
fn every_sample_parses_and_prints_stably() {
    for text in [
        GATEWAY_G711,
        BARESIP_SDES,
        LINPHONE,
        CHROME_SDES,
        CHROME_DTLS,
    ] {
        let parsed = sdp(text);
        let printed = parsed.to_string();
        assert!(printed.ends_with("\r\n") && !printed.replace("\r\n", "").contains('\n'));
        let again = parse(printed.as_bytes()).unwrap();
        assert_eq!(again, parsed, "parse(print(x)) != x for\n{text}");
        assert_eq!(again.to_string(), printed);
    }
}

#[test]
fn gateway_offer_fields() {
    let sd = sdp(GATEWAY_G711);
    assert_eq!(sd.origin.username, "MediaGW");
    assert_eq!(sd.origin.session_version, 1);
    assert_eq!(sd.session_name, "Gateway Call");
    assert_eq!(
        sd.connection.as_ref().unwrap().address.address,
        "198.51.100.20"
    );
    let m = &sd.media[0];
    assert_eq!(
        (m.media.as_str(), m.port, &m.proto),
        ("audio", 16384, &Proto::RtpAvp)
    );
    let pts: Vec<u8> = m.payload_types().map(Pt::get).collect();
    assert_eq!(pts, [0, 8, 101]);
    assert!(m.attributes.contains(&Attribute::Ptime(20)));
    assert!(m
        .attributes
        .contains(&Attribute::Direction(Direction::SendRecv)));
    assert!(m.attributes.contains(&Attribute::Fmtp {
        pt: Pt::new(101).unwrap(),
        params: "0-15".into()
    }));
}

#[test]
fn baresip_crypto_ice_and_rtcp() {
    let sd = sdp(BARESIP_SDES);
    let m = &sd.media[0];
    assert_eq!(m.proto, Proto::RtpSavp);
    assert_eq!(
        m.bandwidths,
        [Bandwidth {
            bw_type: "AS".into(),
            kbps: 96
        }]
    );
    let cryptos: Vec<&Crypto> = m
        .attributes
        .iter()
        .filter_map(|a| match a {
            Attribute::Crypto(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(cryptos.len(), 2);
    assert_eq!(cryptos[0].tag, 1);
    assert_eq!(cryptos[0].suite, CryptoSuite::AesCm128HmacSha1_80);
    assert_eq!(cryptos[0].keys[0].lifetime, Some(Lifetime::PowerOfTwo(31)));
    assert_eq!(cryptos[0].keys[0].lifetime.unwrap().packets(), 1 << 31);
    assert_eq!(cryptos[0].keys[0].decode().unwrap().len(), 30);
    assert_eq!(cryptos[1].suite, CryptoSuite::AesCm128HmacSha1_32);
    assert!(m.attributes.contains(&Attribute::Rtcp {
        port: 10003,
        address: None
    }));
    assert!(m.attributes.contains(&Attribute::RtcpMux));
    assert!(m.attributes.contains(&Attribute::IceUfrag("Xy7q".into())));
    let srflx = m
        .attributes
        .iter()
        .find_map(|a| match a {
            Attribute::Candidate(c) if c.kind == CandidateType::ServerReflexive => Some(c),
            _ => None,
        })
        .unwrap();
    assert_eq!(srflx.priority, 1694498815);
    assert_eq!((srflx.address.as_str(), srflx.port), ("203.0.113.7", 41234));
    assert_eq!(srflx.related_address.as_deref(), Some("192.0.2.10"));
    assert_eq!(srflx.related_port, Some(10002));
    // Unknown attributes are kept verbatim, in order.
    assert_eq!(
        sd.attributes,
        [Attribute::Other {
            name: "tool".into(),
            value: Some("baresip 1.0.0".into())
        }]
    );
    let ssrc = m.attributes.iter().position(|a| {
        matches!(a, Attribute::Other { name, value: Some(v) }
            if name == "ssrc" && v == "3842519827 cname:a1b2c3d4-e5f6")
    });
    let label = m
        .attributes
        .iter()
        .position(|a| matches!(a, Attribute::Other { name, .. } if name == "label"));
    assert!(label.unwrap() + 1 == ssrc.unwrap());
}

#[test]
fn chrome_candidates_keep_extensions_and_mdns_names() {
    let sd = sdp(CHROME_SDES);
    assert_eq!(sd.media.len(), 2);
    let m = &sd.media[0];
    assert_eq!(m.proto, Proto::RtpSavpf);
    let c: Vec<&Candidate> = m
        .attributes
        .iter()
        .filter_map(|a| match a {
            Attribute::Candidate(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(c.len(), 3);
    assert_eq!(c[0].transport, "udp");
    assert_eq!(
        c[0].extensions,
        [
            ("generation".into(), "0".into()),
            ("network-cost".into(), "999".into())
        ]
    );
    assert!(c[1].address.ends_with(".local"));
    assert_eq!(c[2].kind, CandidateType::Relayed);
    assert!(m.attributes.contains(&Attribute::Rtcp {
        port: 9,
        address: Some(Address::internet("0.0.0.0"))
    }));
    assert_eq!(sd.media[1].proto, Proto::Other("UDP/DTLS/SCTP".into()));
    assert_eq!(sd.media[1].formats, ["webrtc-datachannel"]);
    assert!(CHROME_DTLS.contains("fingerprint"));
    let dtls = sdp(CHROME_DTLS);
    assert!(dtls.media[0]
        .attributes
        .contains(&Attribute::Setup("actpass".into())));
    assert!(dtls.media[0]
        .attributes
        .iter()
        .any(|a| matches!(a, Attribute::Fingerprint { hash, .. } if hash == "sha-256")));
}

#[test]
fn crypto_mki_lifetime_and_session_params() {
    let line = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 5 RTP/SAVP 0\r\n\
        a=crypto:7 AES_CM_128_HMAC_SHA1_32 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|1048576|1:4;inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2:4 KDR=1 UNENCRYPTED_SRTCP\r\n";
    let sd = sdp(line);
    let Attribute::Crypto(c) = &sd.media[0].attributes[0] else {
        panic!()
    };
    assert_eq!(c.tag, 7);
    assert_eq!(c.keys.len(), 2);
    assert_eq!(c.keys[0].lifetime, Some(Lifetime::Packets(1_048_576)));
    assert_eq!(
        c.keys[0].mki,
        Some(Mki {
            value: 1,
            length: 4
        })
    );
    assert_eq!(c.keys[1].lifetime, None);
    assert_eq!(
        c.keys[1].mki,
        Some(Mki {
            value: 2,
            length: 4
        })
    );
    assert_eq!(c.session_params, ["KDR=1", "UNENCRYPTED_SRTCP"]);
    assert!(sd.to_string().contains(
        "a=crypto:7 AES_CM_128_HMAC_SHA1_32 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|1048576|1:4;inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2:4 KDR=1 UNENCRYPTED_SRTCP\r\n"
    ));
}

#[test]
fn canonical_order_when_printing() {
    // b= before c=, a= before t=, i= after t=: printed in RFC 8866 §5 order.
    let text = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=x\nb=CT:64\nc=IN IP4 192.0.2.1\na=foo\nt=0 0\ni=info\nm=audio 5 RTP/AVP 0\na=bar\nb=AS:64\ni=media info\n";
    let printed = sdp(text).to_string();
    assert_eq!(
        printed,
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=x\r\ni=info\r\nc=IN IP4 192.0.2.1\r\nb=CT:64\r\nt=0 0\r\na=foo\r\n\
         m=audio 5 RTP/AVP 0\r\ni=media info\r\nb=AS:64\r\na=bar\r\n"
    );
}

#[test]
fn refusals_name_the_line() {
    let head = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n";
    let cases: &[(&str, usize, &str)] = &[
        ("m=audio 70000 RTP/AVP 0", 5, "port out of range"),
        ("m=audio -1 RTP/AVP 0", 5, "port is not a number"),
        ("m=audio 5 RTP/AVP", 5, "no formats"),
        ("m=audio 5", 5, "needs media, port and proto"),
        ("m=audio 5 RTP/AVP 0 128", 5, "payload type is out of range"),
        ("m=audio 5 RTP/AVP pcmu", 5, "payload type is not a number"),
        ("m=audio 5/x RTP/AVP 0", 5, "port count"),
        ("m=audio 5 RTP/AVP 0\r\na=rtpmap:96 opus", 6, "clock rate"),
        (
            "m=audio 5 RTP/AVP 0\r\na=rtpmap:200 opus/48000",
            6,
            "payload type",
        ),
        ("m=audio 5 RTP/AVP 0\r\na=ptime:0", 6, "packet time"),
        ("m=audio 5 RTP/AVP 0\r\na=rtcp:99999", 6, "rtcp port"),
        (
            "m=audio 5 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:***",
            6,
            "base64",
        ),
        (
            "m=audio 5 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUFB|2^99",
            6,
            "2^99",
        ),
        (
            "m=audio 5 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUFB|1:0",
            6,
            "MKI length",
        ),
        (
            "m=audio 5 RTP/AVP 0\r\na=candidate:1 0 UDP 1 192.0.2.1 5 typ host",
            6,
            "component",
        ),
        (
            "m=audio 5 RTP/AVP 0\r\na=candidate:1 1 UDP 1 192.0.2.1 5 host",
            6,
            "bad candidate",
        ),
        ("m=audio 5 RTP/AVP 0\r\na=ice-ufrag:a b", 6, "ice-ufrag"),
        ("c=IN IP4", 5, "bad c= line"),
        ("garbage", 5, "not a <type>=<value>"),
    ];
    for (tail, line, words) in cases {
        let text = format!("{head}{tail}\r\n");
        let e = parse(text.as_bytes()).expect_err(tail);
        assert_eq!(e.line, *line, "{tail}: {e}");
        assert!(e.to_string().contains(words), "{tail}: {e}");
    }
    let e = parse(b"o=- 1 1 IN IP4 192.0.2.1\r\n").unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::Missing('v'));
    let e = parse(b"v=1\r\n").unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::Version);
    let e = parse(b"v=0\r\no=- x 1 IN IP4 a\r\ns=-\r\n").unwrap_err();
    assert_eq!((e.line, e.kind), (2, ParseErrorKind::Origin));
}

#[test]
fn tolerant_of_missing_timing_blank_lines_and_unknown_types() {
    let sd = sdp("v=0\n\no=- 1 1 IN IP4 192.0.2.1\ns=-\nx=private\nm=audio 5 RTP/AVP 0\n\n");
    assert_eq!(sd.timing, Timing { start: 0, stop: 0 });
    assert_eq!(
        sd.other,
        [OtherLine {
            kind: 'x',
            value: "private".into()
        }]
    );
}

#[test]
fn bounded_sizes() {
    let big = vec![b'a'; MAX_SIZE + 1];
    assert_eq!(parse(&big).unwrap_err().kind, ParseErrorKind::TooLarge);
    let mut many = String::from("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n");
    for _ in 0..=MAX_MEDIA {
        many.push_str("m=audio 0 RTP/AVP 0\r\n");
    }
    assert_eq!(
        parse(many.as_bytes()).unwrap_err().kind,
        ParseErrorKind::TooManyLines
    );
    assert_eq!(
        parse(&[0xff, 0xfe]).unwrap_err().kind,
        ParseErrorKind::NotUtf8
    );
}

#[test]
fn base64_round_trip_and_padding_tolerance() {
    for n in 0..50u8 {
        let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
        let text = base64_encode(&bytes);
        assert_eq!(base64_decode(&text).unwrap(), bytes);
        assert_eq!(base64_decode(text.trim_end_matches('=')).unwrap(), bytes);
    }
    assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64_encode(b"fo"), "Zm8=");
    assert_eq!(base64_decode("Zm9v!"), None);
    assert_eq!(base64_decode("Z"), None);
}

#[test]
fn vendor_gateway_lines_are_kept_verbatim() {
    let sd = sdp(GATEWAY_VENDOR);
    assert_eq!(
        sd.other,
        [OtherLine {
            kind: 'i',
            value: "trunk group 7".into()
        }]
    );
    let m = &sd.media[0];
    assert_eq!(
        m.connection.as_ref().unwrap().address.address,
        "198.51.100.41"
    );
    assert!(m.attributes.contains(&Attribute::Ptime(20)));
    let kept: Vec<String> = m
        .attributes
        .iter()
        .filter(|a| matches!(a, Attribute::Other { .. }))
        .map(|a| format!("a={a}"))
        .collect();
    assert_eq!(
        kept,
        [
            "a=silenceSupp:off - - - -",
            "a=X-sqn:0",
            "a=X-cap: 1 audio RTP/AVP 100",
            "a=X-cpar: a=rtpmap:100 X-NSE/8000",
        ]
    );
    let printed = sd.to_string();
    for line in &kept {
        assert!(printed.contains(&format!("{line}\r\n")), "{printed}");
    }
}
