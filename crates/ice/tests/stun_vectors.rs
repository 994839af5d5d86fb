//! STUN codec against the RFC 5769 test vectors and by round trip.
//!
//! The three vectors below are copied from RFC 5769 ("Test Vectors for Session Traversal
//! Utilities for NAT (STUN)", §2.1, §2.2 and §2.3). Their SOFTWARE and USERNAME padding is
//! 0x20, as printed in the RFC; a decoder must accept any padding bytes.

use hmac::{Hmac, Mac};
use sb_ice::stun::{attr_type, short_term_key};
use sb_ice::{classify, Attribute, Class, Message, Method, PacketKind, StunError, TransactionId};
use std::net::SocketAddr;

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
        .collect()
}

const PASSWORD: &str = "VOkJxbRl1RmTxUk/WvJxBt";
const TID: [u8; 12] = [
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
];

/// RFC 5769 §2.1 Sample Request.
fn sample_request() -> Vec<u8> {
    hex("00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
         80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
         00 24 00 04 6e 00 01 ff
         80 29 00 08 93 2f f9 b1 51 26 3b 36
         00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
         00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
         80 28 00 04 e5 7a 3b cf")
}

/// RFC 5769 §2.2 Sample IPv4 Response.
fn sample_ipv4_response() -> Vec<u8> {
    hex("01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
         80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
         00 20 00 08 00 01 a1 47 e1 12 a6 43
         00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
         80 28 00 04 c0 7d 4c 96")
}

/// RFC 5769 §2.3 Sample IPv6 Response.
fn sample_ipv6_response() -> Vec<u8> {
    hex("01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
         80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
         00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
         00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
         80 28 00 04 c8 fb 0b 4c")
}

#[test]
fn rfc5769_sample_request_decodes_and_authenticates() {
    let bytes = sample_request();
    let m = Message::decode(&bytes).expect("the RFC's request decodes");
    assert_eq!((m.class, m.method), (Class::Request, Method::BINDING));
    assert_eq!(m.transaction_id, TransactionId(TID));
    assert_eq!(
        m.attributes[0],
        Attribute::Software("STUN test client".into())
    );
    assert_eq!(m.priority(), Some(0x6e00_01ff));
    assert!(m
        .attributes
        .contains(&Attribute::IceControlled(0x932f_f9b1_5126_3b36)));
    assert_eq!(m.username(), Some("evtj:h6vY"));
    assert!(m.verify_integrity(&bytes, short_term_key(PASSWORD)));
    assert!(!m.verify_integrity(&bytes, b"VOkJxbRl1RmTxUk/WvJxBT"));
    assert_eq!(
        m.attributes.last(),
        Some(&Attribute::Fingerprint(0xe57a_3bcf))
    );
}

#[test]
fn rfc5769_ipv4_response_gives_the_mapped_address() {
    let bytes = sample_ipv4_response();
    let m = Message::decode(&bytes).expect("decodes");
    assert_eq!(m.class, Class::Success);
    assert_eq!(m.attributes[0], Attribute::Software("test vector".into()));
    let want: SocketAddr = "192.0.2.1:32853".parse().unwrap();
    assert_eq!(m.xor_mapped_address(), Some(want));
    assert!(m.verify_integrity(&bytes, PASSWORD.as_bytes()));
}

#[test]
fn rfc5769_ipv6_response_gives_the_mapped_address() {
    let bytes = sample_ipv6_response();
    let m = Message::decode(&bytes).expect("decodes");
    let want: SocketAddr = "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
        .parse()
        .unwrap();
    assert_eq!(m.xor_mapped_address(), Some(want));
    assert!(m.verify_integrity(&bytes, PASSWORD.as_bytes()));
}

#[test]
fn encoding_the_vectors_again_reproduces_their_address_bytes_and_verifies() {
    for (bytes, at) in [
        (sample_ipv4_response(), 36..48),
        (sample_ipv6_response(), 36..60),
    ] {
        let m = Message::decode(&bytes).unwrap();
        let again = m.encode(Some(PASSWORD.as_bytes()), true).unwrap();
        // Same XOR-MAPPED-ADDRESS attribute, byte for byte.
        assert_eq!(again[at.clone()], bytes[at]);
        let back = Message::decode(&again).expect("our encoding decodes");
        assert!(back.verify_integrity(&again, PASSWORD.as_bytes()));
        assert_eq!(back.xor_mapped_address(), m.xor_mapped_address());
        assert_eq!(back.attributes[0], m.attributes[0]);
    }
}

#[test]
fn a_changed_byte_breaks_the_fingerprint_or_the_integrity() {
    let mut bytes = sample_request();
    bytes[30] ^= 0x01; // inside SOFTWARE
    assert_eq!(Message::decode(&bytes), Err(StunError::BadFingerprint));

    // Without its FINGERPRINT the message still decodes, but integrity catches the change.
    let mut bytes = sample_request();
    bytes.truncate(bytes.len() - 8);
    bytes[3] -= 8;
    assert!(Message::decode(&bytes)
        .unwrap()
        .verify_integrity(&bytes, PASSWORD.as_bytes()));
    bytes[30] ^= 0x01;
    let m = Message::decode(&bytes).unwrap();
    assert!(!m.verify_integrity(&bytes, PASSWORD.as_bytes()));
}

#[test]
fn header_checks_refuse_what_is_not_stun() {
    let ok = sample_request();
    assert_eq!(Message::decode(&ok[..19]), Err(StunError::TooShort));
    let mut rtp = ok.clone();
    rtp[0] = 0x80;
    assert_eq!(Message::decode(&rtp), Err(StunError::NotStun));
    let mut old = ok.clone();
    old[4] = 0;
    assert_eq!(Message::decode(&old), Err(StunError::NoMagicCookie));
    let mut long = ok.clone();
    long.push(0);
    assert!(matches!(
        Message::decode(&long),
        Err(StunError::BadLength(_))
    ));
    let mut after = ok.clone();
    after.extend_from_slice(&[0x80, 0x22, 0, 0]);
    after[3] += 4;
    assert!(
        Message::decode(&after).is_err(),
        "nothing may follow FINGERPRINT"
    );
}

#[test]
fn message_types_follow_the_bit_layout() {
    let tid = TransactionId([1; 12]);
    for (class, ty) in [
        (Class::Request, 0x0001u16),
        (Class::Indication, 0x0011),
        (Class::Success, 0x0101),
        (Class::Error, 0x0111),
    ] {
        let bytes = Message::new(class, Method::BINDING, tid)
            .encode(None, false)
            .unwrap();
        assert_eq!(u16::from_be_bytes([bytes[0], bytes[1]]), ty);
        assert_eq!(Message::decode(&bytes).unwrap().class, class);
    }
    // A method with bits in every field survives.
    let m = Message::new(Class::Success, Method(0xABC), tid);
    assert_eq!(
        Message::decode(&m.encode(None, false).unwrap())
            .unwrap()
            .method,
        Method(0xABC)
    );
}

#[test]
fn every_ice_attribute_round_trips() {
    let m = Message::new(Class::Error, Method::BINDING, TransactionId([9; 12]))
        .with(Attribute::Username("a:b".into()))
        .with(Attribute::Priority(1_862_270_975))
        .with(Attribute::UseCandidate)
        .with(Attribute::IceControlling(u64::MAX))
        .with(Attribute::IceControlled(1))
        .with(Attribute::ErrorCode {
            code: 487,
            reason: "Role Conflict".into(),
        })
        .with(Attribute::UnknownAttributes(vec![0x0031, 0x0032, 0x0033]))
        .with(Attribute::XorMappedAddress("[::1]:9".parse().unwrap()))
        .with(Attribute::MappedAddress("10.1.2.3:4".parse().unwrap()))
        .with(Attribute::Other {
            kind: 0xC001,
            value: vec![1, 2, 3],
        });
    let bytes = m.encode(Some(b"key"), true).unwrap();
    assert_eq!(bytes.len() % 4, 0);
    let back = Message::decode(&bytes).unwrap();
    assert!(back.verify_integrity(&bytes, b"key"));
    assert_eq!(back.attributes[..m.attributes.len()], m.attributes[..]);
    assert_eq!(back.error_code(), Some(487));
    assert!(back.use_candidate());
    assert!(
        back.unknown_required().is_empty(),
        "0xC001 is comprehension-optional"
    );
}

#[test]
fn unknown_comprehension_required_attributes_are_listed() {
    let m = Message::new(Class::Request, Method::BINDING, TransactionId([2; 12]))
        .with(Attribute::Other {
            kind: 0x0031,
            value: vec![],
        })
        .with(Attribute::Other {
            kind: 0x8031,
            value: vec![],
        })
        .with(Attribute::Other {
            kind: 0x7FFF,
            value: vec![0; 5],
        });
    let back = Message::decode(&m.encode(None, true).unwrap()).unwrap();
    assert_eq!(back.unknown_required(), vec![0x0031, 0x7FFF]);
}

#[test]
fn message_integrity_sha256_is_parsed_and_checked() {
    let tid = TransactionId([3; 12]);
    let mut bytes = Message::new(Class::Request, Method::BINDING, tid)
        .with(Attribute::Username("u:v".into()))
        .encode(None, false)
        .unwrap();
    // RFC 8489 §14.6: HMAC-SHA256 over the message with the length covering the attribute.
    let len = (bytes.len() - 20 + 36) as u16;
    bytes[2..4].copy_from_slice(&len.to_be_bytes());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"pw").unwrap();
    mac.update(&bytes);
    let tag = mac.finalize().into_bytes();
    bytes.extend_from_slice(&attr_type::MESSAGE_INTEGRITY_SHA256.to_be_bytes());
    bytes.extend_from_slice(&32u16.to_be_bytes());
    bytes.extend_from_slice(&tag);
    let m = Message::decode(&bytes).unwrap();
    assert!(matches!(m.attributes[1], Attribute::MessageIntegritySha256(ref v) if v.len() == 32));
    assert!(m.verify_integrity(&bytes, b"pw"));
    assert!(!m.verify_integrity(&bytes, b"pX"));
}

#[test]
fn demultiplexing_follows_rfc_7983() {
    assert_eq!(classify(&sample_request()), PacketKind::Stun);
    assert_eq!(classify(&[0x80, 0]), PacketKind::Rtp);
    assert_eq!(classify(&[0xBF]), PacketKind::Rtp);
    assert_eq!(classify(&[22, 0xFE, 0xFD]), PacketKind::Dtls);
    assert_eq!(classify(&[17]), PacketKind::Zrtp);
    assert_eq!(classify(&[0x40]), PacketKind::TurnChannel);
    assert_eq!(classify(&[0xC0]), PacketKind::Unknown);
    assert_eq!(classify(&[]), PacketKind::Unknown);
}

#[test]
fn fuzz_seeds_are_valid_stun() {
    // The fuzz seeds (copied into fuzz/corpus/stun by fuzz/seed.sh) start the `stun` target
    // on the deep paths: each must decode, and the agent-facing ones must authenticate with
    // the fuzz target's credentials.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/stun");
    let read = |name: &str| std::fs::read(format!("{dir}/{name}")).expect("seed present");
    assert_eq!(read("rfc5769-request"), sample_request());
    for (name, key) in [
        ("check-use-candidate", "password-password-pass"),
        ("check-unknown-attribute", "password-password-pass"),
        ("error-487", "another-password-12345"),
    ] {
        let bytes = read(name);
        let m = Message::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(m.verify_integrity(&bytes, key.as_bytes()), "{name}");
    }
    assert_eq!(
        Message::decode(&read("indication")).unwrap().class,
        Class::Indication
    );
}
