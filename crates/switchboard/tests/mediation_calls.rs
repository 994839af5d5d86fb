//! Mediation end to end: a secure client (baresip over TLS with mandatory SDES-SRTP, ICE and
//! Opus) and a PSTN gateway played by a second baresip (UDP, plain RTP, G.711 µ-law), with
//! `switchboard serve` between them: the front end routes the dialled number to the pool
//! "pstn", mediation calls the pool's gateway, and the media engine transcodes Opus ↔ PCMU
//! and SRTP ↔ RTP.
//!
//! Audio is checked as audio: the client plays 1000 Hz and the gateway 1500 Hz, and each
//! side must decode the other's tone (and not its own), so the test proves both directions
//! through transcoding and encryption. The gateway's SIP trace must not carry the
//! client's Call-ID or tags (topology hiding).

mod support;

use std::time::Duration;

use support::mediation::{mediation_site, Gw};
use support::softphone::{
    in_private_network, steady, tone_share, PhoneSpec, SipTransport, Softphone,
};
use support::{free_port, Site};

const CLIENT_HZ: f64 = 1000.0;
const GATEWAY_HZ: f64 = 1500.0;

fn site(gw_port: u16, mediation_port: u16) -> Site {
    let gw = Gw {
        name: "gw-a",
        port: gw_port,
        extra: "options_interval_s = 5",
    };
    mediation_site("mediation", &[gw], mediation_port, "")
}

/// The first value of header `name` in the first message of `log` (a baresip trace) that
/// is an INVITE, or `None`.
fn invite_header(log: &str, name: &str) -> Option<String> {
    let start = log.find("INVITE sip:")?;
    log[start..]
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
}

fn tag_of(header: &str) -> Option<String> {
    header
        .split(';')
        .find_map(|p| p.trim().strip_prefix("tag="))
        .map(str::to_string)
}

#[test]
fn a_secure_client_calls_the_pstn_and_both_sides_hear_each_other() {
    in_private_network(|| {
        let gw_port = free_port();
        let mediation_port = free_port();
        let site = site(gw_port, mediation_port);
        site.add_user("sip:alice@127.0.0.1", "alice-secret");
        let server = site.start();

        let mut gateway = Softphone::start(
            &site,
            // baresip answers only calls to its account's user: the number dialled.
            PhoneSpec::gateway("+14255551212", gw_port, "PCMU/8000").tone(GATEWAY_HZ),
        );
        let mut alice = Softphone::start(
            &site,
            PhoneSpec::user("alice", "alice-secret", SipTransport::Tls, "opus/48000/2")
                .secure()
                .tone(CLIENT_HZ),
        );
        alice.wait_registered(Duration::from_secs(30));

        alice.dial("sip:+14255551212@127.0.0.1");
        let why = |what: &str, phone: &Softphone| {
            format!(
                "{what}\n--- {} ---\n{}\n--- server ---\n{}",
                phone.spec.user,
                phone.log(),
                server.log()
            )
        };
        let established = |p: &Softphone| {
            p.events()
                .iter()
                .any(|e| e.contains("\"type\":\"CALL_ESTABLISHED\""))
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !(established(&gateway) && established(&alice)) {
            assert!(
                std::time::Instant::now() < deadline,
                "{}\n--- gateway ---\n{}",
                why("the call did not connect within 30 s", &alice),
                gateway.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // The CLI shows the gateway, its pool and its live state (answered keep-alives,
        // one call on it now) from the running server.
        let list = site.cli(&["gateway", "list"]);
        let row = list
            .lines()
            .find(|l| l.starts_with("gw-a "))
            .unwrap_or_else(|| panic!("gw-a in `gateway list`:\n{list}"));
        assert!(
            row.contains("pstn") && row.contains(" up ") && row.trim_end().ends_with('1'),
            "{list}"
        );
        let missing = site.cli_output(&["gateway", "show", "gw-nope"]);
        assert_eq!(
            missing.status.code(),
            Some(1),
            "an unknown gateway is exit 1"
        );
        let menc = alice.wait_event("CALL_MENC", Duration::from_secs(30));
        assert!(menc.contains("AES_CM_128_HMAC_SHA1"), "{menc}");

        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while alice.decoded_secs() < 4.0 || gateway.decoded_secs() < 4.0 {
            assert!(
                std::time::Instant::now() < deadline,
                "{}\n--- gateway ---\n{}\n--- metrics ---\n{}",
                why(
                    &format!(
                        "audio did not flow: alice decoded {:.1} s, the gateway {:.1} s",
                        alice.decoded_secs(),
                        gateway.decoded_secs()
                    ),
                    &alice
                ),
                gateway.log(),
                server.metrics()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // The PSTN side hangs up: its BYE crosses mediation and reaches alice over the
        // TLS connection she registered on (she accepts no connections of her own).
        gateway.hangup();
        gateway.wait_event("CALL_CLOSED", Duration::from_secs(30));
        alice.wait_event("CALL_CLOSED", Duration::from_secs(30));

        for (phone, hears, own) in [
            (&alice, GATEWAY_HZ, CLIENT_HZ),
            (&gateway, CLIENT_HZ, GATEWAY_HZ),
        ] {
            let (rate, samples) = phone.decoded();
            let middle = steady(&samples, rate, 1.0, 2.0);
            assert!(
                middle.len() as f64 >= 1.5 * f64::from(rate),
                "{}",
                why("too little audio decoded", phone)
            );
            let heard = tone_share(middle, rate, hears);
            assert!(
                heard >= 0.9,
                "{}",
                why(
                    &format!(
                        "{} should hear {hears} Hz: {:.0} % of 20 ms blocks carry it",
                        phone.spec.user,
                        heard * 100.0
                    ),
                    phone
                )
            );
            assert_eq!(
                tone_share(middle, rate, own),
                0.0,
                "{} hears its own tone",
                phone.spec.user
            );
        }

        // Topology hiding: the gateway never sees the client's Call-ID or From tag.
        let client_log = alice.log();
        let gw_log = gateway.log();
        let client_call_id = invite_header(&client_log, "Call-ID").expect("alice's INVITE");
        let client_tag = invite_header(&client_log, "From")
            .as_deref()
            .and_then(tag_of)
            .expect("alice's From tag");
        assert!(
            invite_header(&gw_log, "Call-ID").is_some(),
            "the gateway got an INVITE"
        );
        assert!(
            !gw_log.contains(&client_call_id),
            "the client's Call-ID reached the gateway"
        );
        assert!(
            !gw_log.contains(&client_tag),
            "the client's tag reached the gateway"
        );
        drop(server);
    });
}
