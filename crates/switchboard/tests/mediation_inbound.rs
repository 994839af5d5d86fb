//! Mediation end to end, inbound: a PSTN gateway (baresip on UDP, plain RTP, G.711 µ-law)
//! calls a user's number at mediation's address; mediation calls the front end as a
//! trunk caller, the front end's routing finds the user by reverse number lookup and
//! rings her secure client (baresip over TLS with mandatory SDES-SRTP, ICE and Opus).
//!
//! The gateway sends national numbers, as many do; its inbound number rule makes them
//! E.164 before routing sees them. So the user must be rung for her number, and the caller
//! she sees must be the gateway's calling number in E.164.
//!
//! Audio is checked as audio: the client plays 1000 Hz, the gateway 1500 Hz, and each
//! side must decode the other's tone and not its own.

mod support;

use std::time::Duration;

use support::mediation::{mediation_site, Gw};
use support::softphone::{
    assert_tone, in_private_network, report, request_header, steady, wait_all_established,
    PhoneSpec, SipTransport, Softphone,
};
use support::{free_port, Site};

const CLIENT_HZ: f64 = 1000.0;
const GATEWAY_HZ: f64 = 1500.0;
/// Alice's number, as the front end holds it.
const ALICE_E164: &str = "+14255550100";
/// What the gateway dials: alice's number in national form.
const ALICE_NATIONAL: &str = "4255550100";
/// The PSTN caller's number in national form (the gateway's From) and in E.164.
const CALLER_NATIONAL: &str = "4255551212";
const CALLER_E164: &str = "+14255551212";

fn site(gw_port: u16, mediation_port: u16) -> Site {
    let gw = Gw {
        name: "gw-a",
        port: gw_port,
        extra: "options_interval_s = 5\n\
                inbound = [ { match = \"NXXNXXXXXX\", convert = { to = \"e164\", country_code = \"1\" } } ]",
    };
    // The client takes only SRTP (mediaenc=srtp-mand): our offer toward it must carry keys.
    mediation_site("mediation-in", &[gw], mediation_port, "offer_srtp = true")
}

/// The user part of the URI in a From or P-Asserted-Identity value.
fn uri_user(value: &str) -> Option<String> {
    let uri = match (value.find('<'), value.find('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value.split(';').next()?,
    };
    let rest = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))
        .or_else(|| uri.strip_prefix("tel:"))?;
    Some(rest.split(['@', ';']).next()?.to_string())
}

#[test]
fn a_pstn_call_to_a_users_number_rings_her_secure_client_and_both_hear_each_other() {
    in_private_network(|| {
        let gw_port = free_port();
        let mediation_port = free_port();
        let site = site(gw_port, mediation_port);
        site.cli(&[
            "user",
            "add",
            "sip:alice@127.0.0.1",
            "--password",
            "alice-secret",
            "--number",
            ALICE_E164,
        ]);
        let server = site.start();

        let mut gateway = Softphone::start(
            &site,
            // The account's user is the number the gateway presents as the caller.
            PhoneSpec::gateway(CALLER_NATIONAL, gw_port, "PCMU/8000").tone(GATEWAY_HZ),
        );
        let alice = Softphone::start(
            &site,
            PhoneSpec::user("alice", "alice-secret", SipTransport::Tls, "opus/48000/2")
                .secure()
                .tone(CLIENT_HZ),
        );
        alice.wait_registered(Duration::from_secs(30));

        gateway.dial(&format!("sip:{ALICE_NATIONAL}@127.0.0.1:{mediation_port}"));
        let context = || report(&[&gateway, &alice], &server);
        wait_all_established(&[&gateway, &alice], 1, Duration::from_secs(30), &context);
        let menc = alice.wait_event_or("CALL_MENC", Duration::from_secs(30), &context);
        assert!(
            menc.contains("AES_CM_128_HMAC_SHA1"),
            "{menc}\n{}",
            context()
        );

        // The caller alice sees: the gateway's calling number, in E.164.
        let alice_log = alice.log();
        let seen: Vec<String> = ["From", "P-Asserted-Identity"]
            .iter()
            .filter_map(|h| request_header(&alice_log, "INVITE sip:", 0, h))
            .filter_map(|v| uri_user(&v))
            .collect();
        assert!(
            !seen.is_empty() && seen.iter().all(|u| u == CALLER_E164),
            "alice should see the caller as {CALLER_E164} in From and P-Asserted-Identity, \
             saw {seen:?}\n{}",
            context()
        );
        // She was rung at the contact her client registered, found from the number.
        let ruri = alice_log
            .lines()
            .find(|l| l.starts_with("INVITE sip:"))
            .unwrap_or_default()
            .to_string();
        assert!(
            ruri.starts_with("INVITE sip:alice"),
            "{ruri}\n{}",
            context()
        );

        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while alice.decoded_secs() < 4.0 || gateway.decoded_secs() < 4.0 {
            assert!(
                std::time::Instant::now() < deadline,
                "audio did not flow: alice decoded {:.1} s, the gateway {:.1} s\n{}",
                alice.decoded_secs(),
                gateway.decoded_secs(),
                context()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // The PSTN caller hangs up.
        gateway.hangup();
        let context = || report(&[&gateway, &alice], &server);
        gateway.wait_event("CALL_CLOSED", Duration::from_secs(30));
        alice.wait_event("CALL_CLOSED", Duration::from_secs(30));

        for (phone, hears, own) in [
            (&alice, GATEWAY_HZ, CLIENT_HZ),
            (&gateway, CLIENT_HZ, GATEWAY_HZ),
        ] {
            let (rate, samples) = phone.decoded();
            let middle = steady(&samples, rate, 1.0, 2.0);
            assert_tone(&phone.spec.user, middle, rate, hears, own, &context);
        }
        drop(server);
    });
}
