//! Mediation end to end, hold and resume from the client: during an outbound call
//! (a secure baresip over TLS with SDES-SRTP, ICE and Opus calls a PSTN number; a second
//! baresip on UDP with PCMU plays the gateway), alice puts the call on hold with
//! baresip's `hold` command and takes it off with `resume`. Mediation answers her
//! re-INVITEs itself and re-offers toward the gateway with the same direction (RFC 3264
//! §8.4): the gateway must see a re-INVITE with `a=sendonly` (or `a=inactive`), then one
//! with `a=sendrecv`, and alice must hear the gateway's tone again after the resume.

mod support;

use std::time::{Duration, Instant};

use support::mediation::{mediation_site, Gw};
use support::softphone::{
    assert_tone, in_private_network, report, tone_share, traced_messages, wait_all_established,
    PhoneSpec, SipTransport, Softphone,
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
    mediation_site("mediation-hold", &[gw], mediation_port, "")
}

/// The INVITEs in the gateway's trace: it sends none, so each is one mediation sent it.
fn gateway_invites(gateway: &Softphone) -> Vec<String> {
    traced_messages(&gateway.log(), "INVITE sip:")
}

/// The direction attribute of an SDP body (RFC 4566 §6; sendrecv when absent).
fn direction(message: &str) -> &'static str {
    ["sendonly", "recvonly", "inactive", "sendrecv"]
        .into_iter()
        .find(|d| message.lines().any(|l| l.trim() == format!("a={d}")))
        .unwrap_or("sendrecv")
}

/// Waits until the gateway has received `n` INVITEs in all and returns the `n`th.
fn wait_gateway_invite(gateway: &Softphone, n: usize, context: &dyn Fn() -> String) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(inv) = gateway_invites(gateway).into_iter().nth(n - 1) {
            return inv;
        }
        assert!(
            Instant::now() < deadline,
            "the gateway did not get INVITE number {n} within 30 s\n{}",
            context()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_client_holds_and_resumes_a_pstn_call_and_the_gateway_follows() {
    in_private_network(|| {
        let gw_port = free_port();
        let mediation_port = free_port();
        let site = site(gw_port, mediation_port);
        site.add_user("sip:alice@127.0.0.1", "alice-secret");
        let server = site.start();

        let gateway = Softphone::start(
            &site,
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
        {
            let context = || report(&[&alice, &gateway], &server);
            wait_all_established(&[&gateway, &alice], 1, Duration::from_secs(30), &context);
            let first = wait_gateway_invite(&gateway, 1, &context);
            assert_eq!(direction(&first), "sendrecv", "{first}");
            alice.wait_decoded(3.0, Duration::from_secs(30));
            gateway.wait_decoded(3.0, Duration::from_secs(30));
            let (rate, samples) = alice.decoded();
            let tail = &samples[samples.len() - 2 * rate as usize..];
            assert_tone(
                "alice before hold",
                tail,
                rate,
                GATEWAY_HZ,
                CLIENT_HZ,
                &context,
            );
        }

        alice.send_command("hold", "");
        let held = {
            let context = || report(&[&alice, &gateway], &server);
            wait_gateway_invite(&gateway, 2, &context)
        };
        assert!(
            matches!(direction(&held), "sendonly" | "inactive"),
            "the gateway's re-INVITE after hold should hold it:\n{held}\n{}",
            report(&[&alice, &gateway], &server)
        );
        // The gateway's own dialog stays the same one: a re-INVITE has its To tag.
        assert!(
            held.lines()
                .any(|l| l.starts_with("To:") && l.contains(";tag=")),
            "{held}"
        );
        // The call stays on hold for a while; there is nothing to wait on but time.
        std::thread::sleep(Duration::from_secs(2));

        alice.send_command("resume", "");
        let context = || report(&[&alice, &gateway], &server);
        let resumed = wait_gateway_invite(&gateway, 3, &context);
        assert_eq!(
            direction(&resumed),
            "sendrecv",
            "the gateway's re-INVITE after resume should take it off hold:\n{resumed}\n{}",
            context()
        );
        for (who, inv) in [("hold", &held), ("resume", &resumed)] {
            let cseq = inv
                .lines()
                .find(|l| l.starts_with("CSeq:"))
                .unwrap_or_default();
            assert!(
                cseq.ends_with("INVITE"),
                "{who}: {cseq}\n{inv}\n{}",
                context()
            );
        }

        // After the resume the gateway's tone comes back: the last 2 s alice decoded
        // (up to 0.2 s ago) carry it. baresip may start a new dump file when the stream
        // restarts; the newest one is read.
        let deadline = Instant::now() + Duration::from_secs(30);
        let resumed_at = Instant::now();
        loop {
            let (rate, samples) = alice.decoded();
            let r = rate as usize;
            let heard = (samples.len() > 3 * r && resumed_at.elapsed() > Duration::from_secs(3))
                .then(|| &samples[samples.len() - 2 * r - r / 5..samples.len() - r / 5])
                .filter(|tail| tone_share(tail, rate, GATEWAY_HZ) >= 0.9);
            if let Some(tail) = heard {
                assert_tone(
                    "alice after resume",
                    tail,
                    rate,
                    GATEWAY_HZ,
                    CLIENT_HZ,
                    &context,
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "alice did not hear the gateway again within 30 s of the resume\n{}",
                context()
            );
            std::thread::sleep(Duration::from_millis(200));
        }

        alice.hangup();
        let context = || report(&[&alice, &gateway], &server);
        gateway.wait_event_or("CALL_CLOSED", Duration::from_secs(30), &context);
        alice.wait_event_or("CALL_CLOSED", Duration::from_secs(30), &context);
        drop(server);
    });
}
