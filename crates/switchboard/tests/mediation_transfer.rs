//! Mediation end to end, blind transfer by the client: alice (a baresip with SDES-SRTP,
//! ICE and Opus; SIP over UDP) calls a PSTN number; a second baresip on UDP with PCMU
//! plays the gateway. Alice then transfers the call to bob (a third baresip, registered,
//! auto-answer, its own tone) with baresip's `transfer` command, which sends REFER.
//! Mediation serves the REFER itself (RFC 5589 §6 without passing REFER on): the gateway
//! is held, bob called, the gateway resumed toward him. The gateway's trace must hold no
//! REFER and nothing of bob; the gateway must hear bob's tone and bob the gateway's; and
//! alice's call must end.

mod support;

use std::time::{Duration, Instant};

use support::mediation::{mediation_site, Gw};
use support::softphone::{
    assert_tone, in_private_network, report, tone_share, traced_messages, wait_all_established,
    PhoneSpec, SipTransport, Softphone,
};
use support::{free_port, Site};

const ALICE_HZ: f64 = 1000.0;
const GATEWAY_HZ: f64 = 1500.0;
const BOB_HZ: f64 = 2000.0;

fn site(gw_port: u16, mediation_port: u16) -> Site {
    let gw = Gw {
        name: "gw-a",
        port: gw_port,
        extra: "options_interval_s = 5",
    };
    // Bob takes only SRTP (mediaenc=srtp-mand): our offer toward him must carry keys.
    mediation_site(
        "mediation-transfer",
        &[gw],
        mediation_port,
        "offer_srtp = true",
    )
}

/// The direction attribute of an SDP body (RFC 4566 §6; sendrecv when absent).
fn direction(message: &str) -> &'static str {
    ["sendonly", "recvonly", "inactive", "sendrecv"]
        .into_iter()
        .find(|d| message.lines().any(|l| l.trim() == format!("a={d}")))
        .unwrap_or("sendrecv")
}

/// Waits until the phone's newest decoded audio (the last 2 s, up to 0.2 s ago) carries
/// `hz`, at least `after` from now; then asserts it carries `hz` and not `own`.
fn wait_hears(phone: &Softphone, who: &str, hz: f64, own: f64, context: &dyn Fn() -> String) {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(30);
    loop {
        let (rate, samples) = phone.decoded();
        let r = rate as usize;
        let heard = (samples.len() > 3 * r && start.elapsed() > Duration::from_secs(2))
            .then(|| &samples[samples.len() - 2 * r - r / 5..samples.len() - r / 5])
            .filter(|tail| tone_share(tail, rate, hz) >= 0.9);
        if let Some(tail) = heard {
            assert_tone(who, tail, rate, hz, own, context);
            return;
        }
        if Instant::now() >= deadline {
            let tail = &samples[samples.len().saturating_sub(2 * r)..];
            let shares: Vec<String> = [ALICE_HZ, GATEWAY_HZ, BOB_HZ]
                .iter()
                .map(|f| format!("{f} Hz {:.0} %", 100.0 * tone_share(tail, rate, *f)))
                .collect();
            panic!(
                "{who} did not hear {hz} Hz within 30 s (last 2 s: {shares:?}, {:.1} s decoded)\n{}",
                samples.len() as f64 / f64::from(rate),
                context()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Packets the phone has received in the call, from its newest RTCP event.
fn rx_packets(phone: &Softphone) -> Option<u64> {
    let ev = phone
        .events()
        .into_iter()
        .rev()
        .find(|e| e.contains("\"type\":\"CALL_RTCP\""))?;
    let rx = &ev[ev.find("\"rx\":{")?..];
    let n = &rx[rx.find("\"sent\":")? + 7..];
    n.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

#[test]
fn a_client_transfers_a_pstn_call_and_the_gateway_never_sees_refer() {
    in_private_network(|| {
        let gw_port = free_port();
        let mediation_port = free_port();
        let site = site(gw_port, mediation_port);
        site.add_user("sip:alice@127.0.0.1", "alice-secret");
        site.add_user("sip:bob@127.0.0.1", "bob-secret");
        let server = site.start();

        let gateway = Softphone::start(
            &site,
            PhoneSpec::gateway("+14255551212", gw_port, "PCMU/8000").tone(GATEWAY_HZ),
        );
        let mut alice = Softphone::start(
            &site,
            // SIP over TLS: the NOTIFYs and the BYE mediation sends her inside the dialog
            // reach her over the connection she registered on.
            PhoneSpec::user("alice", "alice-secret", SipTransport::Tls, "opus/48000/2")
                .secure()
                .tone(ALICE_HZ),
        );
        let bob = Softphone::start(
            &site,
            PhoneSpec::user("bob", "bob-secret", SipTransport::Tls, "opus/48000/2")
                .secure()
                .tone(BOB_HZ),
        );
        alice.wait_registered(Duration::from_secs(30));
        bob.wait_registered(Duration::from_secs(30));
        alice.dial("sip:+14255551212@127.0.0.1");
        {
            let context = || report(&[&alice, &gateway, &bob], &server);
            wait_all_established(&[&gateway, &alice], 1, Duration::from_secs(30), &context);
            alice.wait_decoded(3.0, Duration::from_secs(30));
            wait_hears(
                &gateway,
                "the gateway before",
                ALICE_HZ,
                GATEWAY_HZ,
                &context,
            );
        }

        alice.send_command("transfer", "sip:bob@127.0.0.1");
        let context = || report(&[&alice, &gateway, &bob], &server);
        wait_all_established(&[&bob], 1, Duration::from_secs(30), &context);
        alice.wait_event_or("CALL_CLOSED", Duration::from_secs(30), &context);

        // The gateway saw re-INVITEs (hold, then resume) and no REFER.
        let deadline = Instant::now() + Duration::from_secs(30);
        let invites = loop {
            let invites = traced_messages(&gateway.log(), "INVITE sip:");
            if invites.len() >= 3 {
                break invites;
            }
            assert!(
                Instant::now() < deadline,
                "the gateway did not get its hold and resume re-INVITEs\n{}",
                context()
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(
            matches!(direction(&invites[1]), "sendonly" | "inactive"),
            "the first re-INVITE should hold the gateway:\n{}\n{}",
            invites[1],
            context()
        );
        assert_eq!(
            direction(invites.last().unwrap()),
            "sendrecv",
            "the last re-INVITE should resume the gateway\n{}",
            context()
        );
        let gw_log = gateway.log();
        assert!(
            traced_messages(&gw_log, "REFER ").is_empty(),
            "the gateway got a REFER\n{gw_log}"
        );
        for secret in ["Refer-To", "Referred-By", "bob"] {
            assert!(
                !gw_log.contains(secret),
                "{secret:?} reached the gateway\n{gw_log}"
            );
        }

        // The gateway and bob hear each other, and not alice.
        bob.wait_decoded(3.0, Duration::from_secs(30));
        wait_hears(&bob, "bob", GATEWAY_HZ, ALICE_HZ, &context);
        // The gateway's side: baresip stops writing its decoded-audio dump when a
        // received re-INVITE restarts its player (here at the hold), although RTP keeps
        // arriving; so what it hears after the transfer is checked by its RTCP receive
        // count, which must keep growing while alice is gone.
        let before = rx_packets(&gateway).unwrap_or(0);
        let deadline = Instant::now() + Duration::from_secs(30);
        while rx_packets(&gateway).unwrap_or(0) < before + 100 {
            assert!(
                Instant::now() < deadline,
                "the gateway receives no media after the transfer ({before} packets)\n{}",
                context()
            );
            std::thread::sleep(Duration::from_millis(200));
        }

        gateway.wait_event_or("CALL_ESTABLISHED", Duration::from_secs(1), &context);
        assert_eq!(
            gateway.count_events("CALL_CLOSED"),
            0,
            "the gateway's call must survive the transfer\n{}",
            context()
        );
        drop(server);
    });
}
