//! Peer input never panics: any bytes through the STUN decoder and through an agent, and
//! anything the encoder writes decodes to the same message.

use proptest::prelude::*;
use sb_ice::{Attribute, Class, Credentials, IceAgent, IceConfig, Message, Method, TransactionId};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn valid_request() -> Vec<u8> {
    Message::new(Class::Request, Method::BINDING, TransactionId([5; 12]))
        .with(Attribute::Username("abcd:efgh".into()))
        .with(Attribute::Priority(12345))
        .with(Attribute::IceControlling(99))
        .with(Attribute::UseCandidate)
        .encode(Some(b"password-password-pass"), true)
        .unwrap()
}

fn attribute() -> impl Strategy<Value = Attribute> {
    prop_oneof![
        "[ -~]{0,40}".prop_map(Attribute::Username),
        "[ -~]{0,40}".prop_map(Attribute::Software),
        any::<u32>().prop_map(Attribute::Priority),
        Just(Attribute::UseCandidate),
        any::<u64>().prop_map(Attribute::IceControlled),
        any::<u64>().prop_map(Attribute::IceControlling),
        (300u16..700, "[ -~]{0,30}")
            .prop_map(|(code, reason)| Attribute::ErrorCode { code, reason }),
        proptest::collection::vec(any::<u16>(), 0..6).prop_map(Attribute::UnknownAttributes),
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| Attribute::XorMappedAddress(SocketAddr::from((ip, port)))),
        (any::<[u8; 16]>(), any::<u16>())
            .prop_map(|(ip, port)| Attribute::XorMappedAddress(SocketAddr::from((ip, port)))),
        (
            0xC000u16..=0xFFFF,
            proptest::collection::vec(any::<u8>(), 0..20)
        )
            .prop_map(|(kind, value)| Attribute::Other { kind, value }),
    ]
}

proptest! {
    #[test]
    fn decoding_any_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Message::decode(&bytes);
    }

    #[test]
    fn decoding_a_mutated_message_never_panics(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let mut bytes = valid_request();
        for (at, b) in edits {
            let n = bytes.len();
            bytes[at % n] = b;
        }
        let n = bytes.len();
        bytes.truncate(20 + cut % (n - 19));
        if let Ok(m) = Message::decode(&bytes) {
            let _ = m.verify_integrity(&bytes, b"password-password-pass");
            let _ = m.unknown_required();
        }
    }

    #[test]
    fn encoded_messages_decode_to_the_same_attributes(
        attrs in proptest::collection::vec(attribute(), 0..8),
        tid in any::<[u8; 12]>(),
        key in proptest::option::of(proptest::collection::vec(any::<u8>(), 1..30)),
        fingerprint in any::<bool>(),
    ) {
        let mut m = Message::new(Class::Success, Method::BINDING, TransactionId(tid));
        m.attributes = attrs.clone();
        let bytes = m.encode(key.as_deref(), fingerprint).unwrap();
        let back = Message::decode(&bytes).unwrap();
        prop_assert_eq!(&back.attributes[..attrs.len()], &attrs[..]);
        if let Some(k) = key {
            prop_assert!(back.verify_integrity(&bytes, &k));
        }
    }

    #[test]
    fn an_agent_survives_any_datagrams(
        packets in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..120), any::<bool>(), 0u64..2000),
            1..20,
        ),
    ) {
        let local: SocketAddr = "192.0.2.10:40000".parse().unwrap();
        let from: SocketAddr = "198.51.100.7:5000".parse().unwrap();
        let mut agent = IceAgent::new(
            IceConfig::default(),
            &[local],
            Credentials::new("abcd", "password-password-pass"),
            1,
        );
        let start = Instant::now();
        let remote = sb_sdp::RemoteIce {
            ufrag: "efgh".into(),
            pwd: "another-password-12345".into(),
            lite: false,
            candidates: sb_ice::host_candidates(&[from]).iter().map(|c| c.to_sdp()).collect(),
        };
        agent.set_remote(start, &remote, || Credentials::new("wxyz", "password-password-new1"));
        for (mut bytes, stun, ms) in packets {
            if stun {
                // Half the inputs start as a valid request, so the deeper paths run.
                let mut v = valid_request();
                for (i, b) in bytes.iter().enumerate().take(8) {
                    let n = v.len();
                    v[(usize::from(*b) * 7 + i) % n] ^= b;
                }
                bytes = v;
            }
            let now = start + Duration::from_millis(ms);
            agent.handle_packet(now, local, from, &bytes);
            agent.handle_timeout(now);
            prop_assert!(!matches!(agent.poll_timeout(), Some(t) if t <= now), "busy timer");
            while agent.poll_transmit().is_some() {}
            while agent.poll_event().is_some() {}
        }
    }
}
