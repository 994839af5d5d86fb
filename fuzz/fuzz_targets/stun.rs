//! Any datagram on a media port as STUN: decoding never panics, whatever decodes encodes
//! again to a message with the same attributes, and an ICE agent with remote credentials
//! set takes the datagram (as a check, a response or noise) without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sb_ice::{classify, Attribute, Credentials, IceAgent, IceConfig, Message};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn plain(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs
        .iter()
        .filter(|a| {
            !matches!(
                a,
                Attribute::MessageIntegrity(_)
                    | Attribute::MessageIntegritySha256(_)
                    | Attribute::Fingerprint(_)
            )
        })
        .cloned()
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let _ = classify(data);
    if let Ok(m) = Message::decode(data) {
        let _ = m.verify_integrity(data, b"password-password-pass");
        let _ = m.unknown_required();
        let bytes = m
            .encode(Some(b"key"), true)
            .expect("a decoded message fits again");
        let back = Message::decode(&bytes).expect("an encoded message decodes");
        assert!(back.verify_integrity(&bytes, b"key"));
        assert_eq!(plain(&back.attributes), plain(&m.attributes));
        assert_eq!(
            (back.class, back.method, back.transaction_id),
            (m.class, m.method, m.transaction_id)
        );
    }

    let local: SocketAddr = "192.0.2.10:40000".parse().expect("literal");
    let from: SocketAddr = "198.51.100.7:5000".parse().expect("literal");
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
        candidates: sb_ice::host_candidates(&[from])
            .iter()
            .map(|c| c.to_sdp())
            .collect(),
    };
    agent.set_remote(start, &remote, || {
        Credentials::new("wxyz", "password-password-new1")
    });
    for (i, now) in [0u64, 10, 20_000, 60_000].into_iter().enumerate() {
        let now = start + Duration::from_millis(now);
        if i < 2 {
            agent.handle_packet(now, local, from, data);
        }
        agent.handle_timeout(now);
        while agent.poll_transmit().is_some() {}
        while agent.poll_event().is_some() {}
    }
});
