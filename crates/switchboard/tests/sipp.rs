//! End to end against SIPp (Debian's `sip-tester`), an independent SIP implementation:
//! `switchboard serve` answers OPTIONS and refuses what it cannot serve with the right
//! status over UDP, TCP and TLS, and retransmits a final response whose ACK never comes on
//! the RFC 3261 schedule.
//!
//! Debian's SIPp is built without OpenSSL, so the TLS runs put stunnel (Debian's
//! `stunnel4`, OpenSSL) in front of it: SIPp speaks its scenario over TCP to a local
//! stunnel in client mode, which carries it over TLS to the server's TLS port and checks
//! the server's certificate (pinned: the certificate the server generated, for 127.0.0.1).
//!
//! Every test starts its own server on free loopback ports with a temporary data
//! directory, waits for `/health` to say ready (no fixed sleeps), and kills the server by
//! its pid when done. SIPp's exit status says whether each scenario passed; the scenarios
//! check headers with `check_it="true"`, so a missing header fails the call.

mod support;

use support::{assert_sipp, sipp_within, Site, Transport};

const STATUS_SCENARIOS: &[&str] = &[
    "options-200.xml",
    "unknown-scheme-416.xml",
    "bad-extension-420.xml",
    "unknown-method-501.xml",
    "overlarge-cseq-400.xml",
    "too-many-hops-483.xml",
    "foreign-domain-404.xml",
    "invite-refused.xml",
];

/// Every status scenario against one server over `transport`. Over TLS the support
/// module also asserts that stunnel verified the server's certificate.
fn statuses_over(tag: &str, transport: Transport) {
    let site = Site::new(tag, "");
    let server = site.start();
    for s in STATUS_SCENARIOS {
        assert_sipp(&site, &server, s, transport);
    }
}

#[test]
fn sipp_statuses_over_udp() {
    statuses_over("udp", Transport::Udp);
}

#[test]
fn sipp_statuses_over_tcp() {
    statuses_over("tcp", Transport::Tcp);
}

#[test]
fn sipp_statuses_over_tls() {
    statuses_over("tls", Transport::Tls);
}

/// Arrival times (seconds since the first) of every received response with `code`,
/// read from SIPp's message trace.
fn response_times(messages: &str, code: u16) -> Vec<f64> {
    let mut times = Vec::new();
    let mut stamp: Option<f64> = None;
    let mut received = false;
    let status_line = format!("SIP/2.0 {code} ");
    for line in messages.lines() {
        if let Some(rest) = line.strip_prefix("-----------------------------------------------") {
            // "----... 2026-11-25 03:45:17.222070"
            stamp = rest.split_whitespace().nth(1).and_then(|t| {
                let mut it = t.split(':');
                let h: f64 = it.next()?.parse().ok()?;
                let m: f64 = it.next()?.parse().ok()?;
                let s: f64 = it.next()?.parse().ok()?;
                Some(h * 3600.0 + m * 60.0 + s)
            });
            received = false;
        } else if line.contains("message received") {
            received = true;
        } else if received && line.starts_with(&status_line) {
            times.push(stamp.expect("trace line carries a time stamp"));
            received = false;
        }
    }
    let first = times.first().copied().unwrap_or(0.0);
    times.iter().map(|t| t - first).collect()
}

/// RFC 3261 §17.2.1: with T1 = 500 ms and T2 = 4 s over UDP, a final non-2xx response
/// whose ACK never comes is sent at 0, 0.5, 1.5, 3.5, 7.5, 11.5, ... 31.5 s and Timer H
/// (64*T1 = 32 s) ends it: eleven copies in all. Late timers on a busy machine are
/// tolerated (up to 0.9 s late); early ones, missing or extra copies are not.
#[test]
fn sipp_withheld_ack_shows_timer_g_schedule() {
    let site = Site::new("retrans", "");
    let server = site.start();
    let run = sipp_within(&site, "invite-withhold-ack.xml", Transport::Udp, "60s");
    assert!(run.ok, "{}\n{}", run.output, server.log());
    let times = response_times(&run.messages, 404);
    let expected = [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5];
    assert_eq!(
        times.len(),
        expected.len(),
        "copies of the 404 at {times:?}, expected at {expected:?}\n{}",
        run.output
    );
    for (got, want) in times.iter().zip(expected) {
        assert!(
            *got >= want - 0.05 && *got <= want + 0.9,
            "404 copy at {got:.3} s, expected {want} s (all: {times:?})"
        );
    }
    // Consecutive gaps double from T1 and then hold at T2.
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    for (i, gap) in gaps.iter().enumerate() {
        let want = (0.5 * 2f64.powi(i as i32)).min(4.0);
        assert!(
            (*gap - want).abs() <= 0.9,
            "gap {i} is {gap:.3} s, expected {want} s (gaps {gaps:?})"
        );
    }
}
