//! Any SIP body as SDP: the parser must not panic; whatever parses must print to text that
//! parses back to the same value and prints identically again; and answering it as an
//! offer, then reading the exchange back, must not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sb_sdp::{
    answer, negotiated, parse, Capabilities, Codec, CryptoSuite, Direction, LocalMedia, Pt, Role,
};

fuzz_target!(|data: &[u8]| {
    let Ok(sd) = parse(data) else { return };
    let printed = sd.to_string();
    let again = parse(printed.as_bytes()).expect("a printed description parses");
    assert_eq!(again, sd, "parse(print(x)) != x");
    assert_eq!(
        again.to_string(),
        printed,
        "print -> parse -> print is not stable"
    );

    let pt = |n| Pt::new(n).expect("static payload types are in range");
    let caps = Capabilities {
        codecs: vec![
            Codec {
                name: "opus".into(),
                clock_rate: 48000,
                channels: 2,
                pt: pt(111),
            },
            Codec {
                name: "PCMU".into(),
                clock_rate: 8000,
                channels: 1,
                pt: pt(0),
            },
        ],
        telephone_event_rates: vec![8000, 48000],
        crypto_suites: vec![CryptoSuite::AesCm128HmacSha1_80, CryptoSuite::AeadAes128Gcm],
        max_mki_len: 4,
        allow_plain_rtp: true,
        direction: Direction::SendRecv,
    };
    let local = LocalMedia {
        address: "192.0.2.1".into(),
        port: 20000,
        rtcp_port: None,
        session_id: "1".into(),
        session_version: 1,
        srtp_key_material: vec![7; 44],
        ice: None,
    };
    if let Ok(a) = answer(&sd, &caps, &local) {
        let text = a.sdp.to_string();
        assert_eq!(
            parse(text.as_bytes()).as_ref(),
            Ok(&a.sdp),
            "our answer reparses"
        );
        let _ = negotiated(&sd, &a.sdp, Role::Answerer);
        let _ = negotiated(&sd, &a.sdp, Role::Offerer);
    }
});
