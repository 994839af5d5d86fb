//! Mediation end to end, DTMF from the client: during an outbound call (a secure baresip
//! over TLS with SDES-SRTP and ICE calls a PSTN number; a second baresip on UDP with PCMU
//! plays the gateway), alice presses keys (baresip's `sndcode`, sent as RFC 4733
//! telephone-events). Alice uses Opus, as real clients do, and like them offers it with
//! only `telephone-event/8000` (RFC 4733 §2.1: the events keep a rate of their own);
//! one case keeps her on PCMU, where the rates agree. The gateway must get the same
//! digits, in order:
//!
//! - as RFC 4733 events when its profile says `rfc4733 = true` (the default): baresip
//!   reports each one it receives as a `CALL_DTMF_START` event;
//! - as in-band tones in its G.711 audio when its profile says `rfc4733 = false`: the
//!   test finds each digit's two ITU-T Q.23 frequencies in what the gateway decoded.

mod support;

use std::time::{Duration, Instant};

use support::mediation::{mediation_site, Gw};
use support::softphone::{
    in_private_network, report, traced_messages, wait_all_established, PhoneSpec, SipTransport,
    Softphone,
};
use support::{free_port, Server, Site};

const DIGITS: &str = "159#";
const OPUS: &str = "opus/48000/2";
const PCMU: &str = "PCMU/8000";

fn site(gw_port: u16, mediation_port: u16, rfc4733: bool) -> Site {
    let extra = format!("rfc4733 = {rfc4733}\noptions_interval_s = 5");
    let gw = Gw {
        name: "gw-a",
        port: gw_port,
        extra: &extra,
    };
    mediation_site("mediation-dtmf", &[gw], mediation_port, "")
}

/// A connected call from alice (on `client_codec`) to the gateway, with audio flowing both
/// ways.
fn connected_call(
    rfc4733: bool,
    client_codec: &'static str,
) -> (Site, Server, Softphone, Softphone) {
    let gw_port = free_port();
    let mediation_port = free_port();
    let site = site(gw_port, mediation_port, rfc4733);
    site.add_user("sip:alice@127.0.0.1", "alice-secret");
    let server = site.start();
    let gateway = Softphone::start(
        &site,
        PhoneSpec::gateway("+14255551212", gw_port, "PCMU/8000").tone(1500.0),
    );
    let mut alice = Softphone::start(
        &site,
        PhoneSpec::user("alice", "alice-secret", SipTransport::Tls, client_codec)
            .secure()
            .tone(1000.0),
    );
    alice.wait_registered(Duration::from_secs(30));
    alice.dial("sip:+14255551212@127.0.0.1");
    {
        let context = || report(&[&alice, &gateway], &server);
        wait_all_established(&[&gateway, &alice], 1, Duration::from_secs(30), &context);
    }
    gateway.wait_decoded(2.0, Duration::from_secs(30));
    (site, server, alice, gateway)
}

/// The digits of the gateway's `CALL_DTMF_START` events, in order.
fn received_digits(gateway: &Softphone) -> String {
    gateway
        .events()
        .iter()
        .filter(|e| e.contains("\"type\":\"CALL_DTMF_START\""))
        .filter_map(|e| {
            let (_, rest) = e.split_once("\"param\":\"")?;
            rest.chars().next()
        })
        .collect()
}

/// The SDP lines of the 200 OK alice got for her INVITE: mediation's answer.
fn answer_to_alice(alice: &Softphone) -> String {
    traced_messages(&alice.log(), "SIP/2.0 200")
        .into_iter()
        .find(|m| m.contains("CSeq:") && m.contains("INVITE") && m.contains("m=audio"))
        .unwrap_or_default()
}

#[test]
fn digits_from_an_opus_client_reach_the_gateway_as_rfc4733_events() {
    in_private_network(|| {
        let (_site, server, mut alice, gateway) = connected_call(true, OPUS);
        // baresip offers Opus with only telephone-event/8000; mediation answers it.
        let answer = answer_to_alice(&alice);
        assert!(
            answer.contains("opus/48000") && answer.contains("telephone-event/8000"),
            "mediation's answer to alice:\n{answer}\n{}",
            report(&[&alice, &gateway], &server)
        );
        digits_arrive_as_events(&server, &mut alice, &gateway);
    });
}

#[test]
fn digits_from_a_pcmu_client_reach_the_gateway_as_rfc4733_events() {
    in_private_network(|| {
        let (_site, server, mut alice, gateway) = connected_call(true, PCMU);
        digits_arrive_as_events(&server, &mut alice, &gateway);
    });
}

/// Alice presses [`DIGITS`]; the gateway reports them as RFC 4733 events, in order; then
/// alice hangs up.
fn digits_arrive_as_events(server: &Server, alice: &mut Softphone, gateway: &Softphone) {
    alice.send_command("sndcode", DIGITS);
    let deadline = Instant::now() + Duration::from_secs(20);
    while received_digits(gateway).len() < DIGITS.len() {
        assert!(
            Instant::now() < deadline,
            "the gateway got the digits {:?} of {DIGITS:?} within 20 s\n{}",
            received_digits(gateway),
            report(&[&*alice, gateway], server)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        received_digits(gateway),
        DIGITS,
        "{}",
        report(&[&*alice, gateway], server)
    );
    alice.hangup();
    let context = || report(&[&*alice, gateway], server);
    gateway.wait_event_or("CALL_CLOSED", Duration::from_secs(30), &context);
}

/// ITU-T Q.23: the low and high frequency of a key.
fn key_frequencies(key: char) -> (f64, f64) {
    const ROWS: [&str; 4] = ["123A", "456B", "789C", "*0#D"];
    const LOW: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
    const HIGH: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    for (r, row) in ROWS.iter().enumerate() {
        if let Some(c) = row.find(key) {
            return (LOW[r], HIGH[c]);
        }
    }
    panic!("{key} is not a DTMF key");
}

/// The share of a block's energy at `hz` (Goertzel; 1.0 for a pure sine at `hz`).
fn share_at(block: &[i16], rate: u32, hz: f64) -> f64 {
    let energy: f64 = block.iter().map(|&x| f64::from(x).powi(2)).sum();
    if energy == 0.0 {
        return 0.0;
    }
    let coeff = 2.0 * (2.0 * std::f64::consts::PI * hz / f64::from(rate)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in block {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0);
    2.0 * power / (block.len() as f64 * energy)
}

/// The keys heard in `samples`, in order: a key counts when at least three 20 ms blocks
/// in a row carry both of its frequencies with most of the energy between them.
fn keys_heard(samples: &[i16], rate: u32) -> String {
    let block = rate as usize / 50;
    let keys: Vec<char> = "0123456789*#".chars().collect();
    let mut heard = String::new();
    let mut run: Option<(char, usize)> = None;
    for b in samples.chunks_exact(block) {
        let loud = b.iter().map(|&x| f64::from(x).abs()).sum::<f64>() / block as f64 > 300.0;
        let key = keys.iter().copied().find(|&k| {
            let (lo, hi) = key_frequencies(k);
            let (a, c) = (share_at(b, rate, lo), share_at(b, rate, hi));
            loud && a > 0.2 && c > 0.2 && a + c > 0.7
        });
        run = match (run, key) {
            (Some((k, n)), Some(now)) if k == now => {
                if n + 1 == 3 {
                    heard.push(k);
                }
                Some((k, n + 1))
            }
            (_, Some(now)) => Some((now, 1)),
            (_, None) => None,
        };
    }
    heard
}

#[test]
fn digits_from_an_opus_client_reach_a_gateway_without_rfc4733_as_tones() {
    in_private_network(|| {
        let (_site, server, mut alice, gateway) = connected_call(false, OPUS);
        // No telephone-event toward this gateway.
        let gw_log = gateway.log();
        let invite = gw_log
            .find("INVITE sip:")
            .map(|i| &gw_log[i..])
            .unwrap_or_default();
        let first_invite = invite.split("\u{1b}[;m").next().unwrap_or_default();
        assert!(!first_invite.contains("telephone-event"), "{first_invite}");
        alice.send_command("sndcode", DIGITS);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (rate, samples) = gateway.decoded();
            let heard = keys_heard(&samples, rate);
            if heard == DIGITS {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the gateway heard the keys {heard:?}, not {DIGITS:?}, within 20 s\n{}",
                report(&[&alice, &gateway], &server)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        assert_eq!(
            received_digits(&gateway),
            "",
            "no RFC 4733 events toward a gateway that takes tones"
        );
        alice.hangup();
        let context = || report(&[&alice, &gateway], &server);
        gateway.wait_event_or("CALL_CLOSED", Duration::from_secs(30), &context);
    });
}
