//! `sb-media-relay` over real loopback sockets: a call set up over ng carries audio both
//! ways, byte for byte, and what the subset does not know is refused with a reason.

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sb_bench_media::bencode::Value;
use sb_bench_media::ng::{NgClient, NgError};
use sb_bench_media::sdp::{self, Format};
use sb_bench_media::stamp::Stamp;
use sb_srtp::{SrtpContext, SrtpSuite};

/// Kills the relay by its pid whatever the test does.
struct Relay(Child);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_relay() -> (Relay, NgClient) {
    let ng: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    // A media range of its own per test process, away from the relay's default.
    let base = 50_000 + (std::process::id() % 700) as u16 * 20;
    let child = Command::new(env!("CARGO_BIN_EXE_sb-media-relay"))
        .args(["--ng", &ng.to_string(), "--ports"])
        .arg(format!("{base}-{}", base + 19))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("relay starts");
    let relay = Relay(child);
    let mut client = NgClient::new(ng).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let ping = Value::dict([("command", Value::str("ping"))]);
    while client
        .request(&ping, Duration::from_millis(100), 1)
        .is_err()
    {
        assert!(Instant::now() < deadline, "the relay never answered ping");
    }
    (relay, client)
}

fn sdp_of(reply: &Value) -> sdp::Audio {
    match reply.get("sdp") {
        Some(Value::Bytes(b)) => sdp::read_audio(b).expect("the relay's SDP parses"),
        other => panic!("no sdp in the reply: {other:?}"),
    }
}

fn rtp(seq: u16, stamp: Stamp) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    let mut payload = vec![0xffu8; 160];
    stamp.write(&mut payload);
    p.extend_from_slice(&payload);
    p
}

/// Sends a packet every 20 ms from `from` to `to` until one arrives at `at`; returns it.
fn relay_one(from: &UdpSocket, to: SocketAddr, at: &UdpSocket, stream: u32) -> Vec<u8> {
    at.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 2048];
    for seq in 0u16.. {
        assert!(
            Instant::now() < deadline,
            "nothing relayed to {:?}",
            at.local_addr()
        );
        let stamp = Stamp {
            stream,
            index: u64::from(seq),
            sent_ns: 42,
        };
        from.send_to(&rtp(seq, stamp), to).unwrap();
        if let Ok(n) = at.recv(&mut buf) {
            return buf[..n].to_vec();
        }
    }
    unreachable!()
}

#[test]
fn a_plain_call_relays_audio_both_ways_byte_for_byte() {
    let (_relay, mut ng) = start_relay();
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let wait = Duration::from_secs(1);
    let offer = sdp::write_audio(
        1,
        a.local_addr().unwrap(),
        "RTP/AVP",
        &[Format::pcmu()],
        None,
    );
    let reply = ng
        .request(
            &Value::dict([
                ("command", Value::str("offer")),
                ("call-id", Value::str("t1")),
                ("from-tag", Value::str("a")),
                ("sdp", Value::str(&offer)),
            ]),
            wait,
            3,
        )
        .unwrap();
    let to_b = sdp_of(&reply);
    assert_eq!(to_b.formats, vec![Format::pcmu()]);
    assert!(!to_b.is_srtp());
    let answer = sdp::write_audio(
        2,
        b.local_addr().unwrap(),
        "RTP/AVP",
        &[Format::pcmu()],
        None,
    );
    let reply = ng
        .request(
            &Value::dict([
                ("command", Value::str("answer")),
                ("call-id", Value::str("t1")),
                ("from-tag", Value::str("a")),
                ("to-tag", Value::str("b")),
                ("sdp", Value::str(&answer)),
            ]),
            wait,
            3,
        )
        .unwrap();
    let to_a = sdp_of(&reply);
    assert_ne!(to_a.addr, to_b.addr, "one socket pair per side");

    let got = relay_one(&a, to_a.addr, &b, 0);
    assert_eq!(
        Stamp::read(&got[12..]).map(|s| (s.stream, s.sent_ns)),
        Some((0, 42)),
        "the payload arrives unchanged"
    );
    let got = relay_one(&b, to_b.addr, &a, 1);
    assert_eq!(Stamp::read(&got[12..]).map(|s| s.stream), Some(1));

    let delete = Value::dict([
        ("command", Value::str("delete")),
        ("call-id", Value::str("t1")),
    ]);
    ng.request(&delete, wait, 3).unwrap();
    // Deleted: a second delete names the call as unknown.
    match ng.request(&delete, wait, 3) {
        Err(NgError::Refused { reason, .. }) => assert!(reason.contains("unknown call-id")),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn an_offer_asking_for_transcoding_offers_the_callee_the_new_codec_only() {
    let (_relay, mut ng) = start_relay();
    let offer = sdp::write_audio(
        1,
        "127.0.0.1:4000".parse().unwrap(),
        "RTP/SAVP",
        &[Format::opus(96)],
        Some(&sdp::SdesKey {
            tag: 1,
            suite: "AES_CM_128_HMAC_SHA1_80".into(),
            key_salt: vec![7; 30],
        }),
    );
    let reply = ng
        .request(
            &Value::dict([
                ("command", Value::str("offer")),
                ("call-id", Value::str("t2")),
                ("from-tag", Value::str("a")),
                ("sdp", Value::str(&offer)),
                ("transport-protocol", Value::str("RTP/AVP")),
                (
                    "codec",
                    Value::dict([
                        ("transcode", Value::strs(["PCMU"])),
                        ("mask", Value::strs(["opus"])),
                    ]),
                ),
            ]),
            Duration::from_secs(1),
            3,
        )
        .unwrap();
    let to_b = sdp_of(&reply);
    assert_eq!(to_b.formats, vec![Format::pcmu()]);
    assert_eq!(to_b.proto, "RTP/AVP");
    assert!(to_b.keys.is_empty(), "no key toward a plain RTP callee");

    let unknown = ng.request(
        &Value::dict([("command", Value::str("list"))]),
        Duration::from_secs(1),
        3,
    );
    assert!(
        matches!(unknown, Err(NgError::Refused { ref reason, .. }) if reason.contains("not supported")),
        "{unknown:?}"
    );
}

fn srtp(key_salt: &[u8]) -> SrtpContext {
    SrtpContext::new(
        SrtpSuite::AesCm128HmacSha1_80,
        &key_salt[..16],
        &key_salt[16..],
        None,
    )
    .unwrap()
}

#[test]
fn an_srtp_caller_and_a_plain_callee_hear_each_other() {
    let (_relay, mut ng) = start_relay();
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let wait = Duration::from_secs(1);
    let a_key = sdp::SdesKey {
        tag: 1,
        suite: "AES_CM_128_HMAC_SHA1_80".into(),
        key_salt: (1..=30).collect(),
    };
    let offer = sdp::write_audio(
        1,
        a.local_addr().unwrap(),
        "RTP/SAVP",
        &[Format::pcmu()],
        Some(&a_key),
    );
    let reply = ng
        .request(
            &Value::dict([
                ("command", Value::str("offer")),
                ("call-id", Value::str("t3")),
                ("from-tag", Value::str("a")),
                ("sdp", Value::str(&offer)),
                ("transport-protocol", Value::str("RTP/AVP")),
            ]),
            wait,
            3,
        )
        .unwrap();
    let to_b = sdp_of(&reply);
    assert_eq!(to_b.proto, "RTP/AVP");
    let answer = sdp::write_audio(
        2,
        b.local_addr().unwrap(),
        "RTP/AVP",
        &[Format::pcmu()],
        None,
    );
    let reply = ng
        .request(
            &Value::dict([
                ("command", Value::str("answer")),
                ("call-id", Value::str("t3")),
                ("from-tag", Value::str("a")),
                ("to-tag", Value::str("b")),
                ("sdp", Value::str(&answer)),
            ]),
            wait,
            3,
        )
        .unwrap();
    let to_a = sdp_of(&reply);
    assert_eq!(to_a.proto, "RTP/SAVP");
    let relay_key = to_a.keys.first().expect("the relay's key for the caller");
    assert_eq!(
        relay_key.tag, 1,
        "the answer echoes the offered tag (RFC 4568 §7.1.2)"
    );
    assert_ne!(
        relay_key.key_salt, a_key.key_salt,
        "the relay keys its own direction"
    );

    // Caller to callee: protected with the caller's key, arrives in the clear.
    let mut tx = srtp(&a_key.key_salt);
    b.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 2048];
    let mut seq = 0u16;
    let clear = loop {
        assert!(Instant::now() < deadline, "nothing reached the callee");
        let stamp = Stamp {
            stream: 5,
            index: u64::from(seq),
            sent_ns: 9,
        };
        let mut p = rtp(seq, stamp);
        tx.protect_rtp(&mut p).unwrap();
        a.send_to(&p, to_a.addr).unwrap();
        if let Ok(n) = b.recv(&mut buf) {
            break buf[..n].to_vec();
        }
        seq = seq.wrapping_add(1);
    };
    assert_eq!(Stamp::read(&clear[12..]).map(|s| s.stream), Some(5));

    // Callee to caller: sent in the clear, arrives protected with the relay's key.
    let mut got = relay_one(&b, to_b.addr, &a, 6);
    srtp(&relay_key.key_salt)
        .unprotect_rtp(&mut got)
        .expect("the relay protects with the key it announced");
    assert_eq!(Stamp::read(&got[12..]).map(|s| s.stream), Some(6));
}
