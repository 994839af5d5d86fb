//! Mediation end to end, gateway failover: the pool "pstn" holds two gateways in priority
//! order, each played by a baresip on UDP with PCMU, with OPTIONS keep-alives every 2 s
//! and one missed keep-alive enough to mark a gateway down.
//!
//! A first call goes to gw-a. Then gw-a's process is killed: within the keep-alive
//! interval plus the answer timeout mediation marks it down (`/metrics` shows
//! `mediation_gateway_up{gateway="gw-a"} 0`) and a new call is answered by gw-b. A new
//! gw-a is started on the same port: once it answers a keep-alive it is up again (1) and
//! the next call reaches it.
//!
//! The kill lets the host refuse keep-alives at once (ICMP port unreachable). A gateway
//! that hangs refuses nothing: the second test stops gw-a's process (SIGSTOP), so its
//! keep-alive goes unanswered and only the answer timeout marks it down; once continued
//! (SIGCONT) it answers again and is up.

mod support;

use std::time::{Duration, Instant};

use support::mediation::{mediation_site, Gw};
use support::softphone::{
    in_private_network, report, wait_all_established, PhoneSpec, SipTransport, Softphone,
};
use support::{free_port, Server, Site};

const NUMBER: &str = "+14255551212";
const INTERVAL_S: u64 = 2;
/// A keep-alive is missed when unanswered for the interval (it is shorter than Timer F).
const ANSWER_TIMEOUT_S: u64 = INTERVAL_S;
/// Room for a busy machine on top of what the protocol needs.
const SLACK: Duration = Duration::from_secs(10);

fn site(gw_a: u16, gw_b: u16, mediation_port: u16) -> Site {
    let extra = format!("options_interval_s = {INTERVAL_S}\ndown_after = 1");
    let gws = [
        Gw {
            name: "gw-a",
            port: gw_a,
            extra: &extra,
        },
        Gw {
            name: "gw-b",
            port: gw_b,
            extra: &extra,
        },
    ];
    mediation_site("mediation-failover", &gws, mediation_port, "")
}

fn gateway(site: &Site, port: u16, hz: f64) -> Softphone {
    // baresip answers only calls to its account's user: the number dialled.
    Softphone::start(site, PhoneSpec::gateway(NUMBER, port, "PCMU/8000").tone(hz))
}

fn gateway_up(server: &Server, name: &str) -> Option<f64> {
    server.metric(&format!("mediation_gateway_up{{gateway=\"{name}\"}}"))
}

/// Waits until `/metrics` shows gateway `name` up (1) or down (0); returns how long it took.
fn wait_gateway_state(
    server: &Server,
    name: &str,
    up: bool,
    within: Duration,
    context: &dyn Fn() -> String,
) -> Duration {
    let want = if up { 1.0 } else { 0.0 };
    let start = Instant::now();
    loop {
        if gateway_up(server, name) == Some(want) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "mediation_gateway_up{{gateway=\"{name}\"}} is not {want} within {within:?} \
             (it is {:?})\n{}",
            gateway_up(server, name),
            context()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Alice's `n`th call: dials, waits until `answerer` has established its `answered`th
/// call and alice her `n`th, then hangs up and waits until both have closed it.
fn call_through(
    alice: &mut Softphone,
    answerer: &Softphone,
    answered: usize,
    n: usize,
    context: &dyn Fn(&Softphone) -> String,
) {
    alice.dial(&format!("sip:{NUMBER}@127.0.0.1"));
    let ctx = || context(alice);
    wait_all_established(&[answerer], answered, Duration::from_secs(30), &ctx);
    wait_all_established(&[alice], n, Duration::from_secs(30), &ctx);
    alice.hangup();
    let ctx = || context(alice);
    alice.wait_events("CALL_CLOSED", n, Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(30);
    while answerer.count_events("CALL_CLOSED") < answered {
        assert!(
            Instant::now() < deadline,
            "{} did not see the call end\n{}",
            answerer.spec.user,
            ctx()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_dead_gateway_is_skipped_until_it_answers_keep_alives_again() {
    in_private_network(|| {
        let (port_a, port_b, mediation_port) = (free_port(), free_port(), free_port());
        let site = site(port_a, port_b, mediation_port);
        site.add_user("sip:alice@127.0.0.1", "alice-secret");
        let server = site.start();

        let gw_a = gateway(&site, port_a, 1500.0);
        let gw_b = gateway(&site, port_b, 1700.0);
        let mut alice = Softphone::start(
            &site,
            PhoneSpec::user("alice", "alice-secret", SipTransport::Tls, "opus/48000/2")
                .secure()
                .tone(1000.0),
        );
        alice.wait_registered(Duration::from_secs(30));
        let context = |alice: &Softphone| report(&[alice, &gw_a, &gw_b], &server);
        let both_up = Duration::from_secs(INTERVAL_S) + SLACK;
        wait_gateway_state(&server, "gw-a", true, both_up, &|| context(&alice));
        wait_gateway_state(&server, "gw-b", true, both_up, &|| context(&alice));

        // Both up: the first in priority order takes the call.
        call_through(&mut alice, &gw_a, 1, 1, &context);
        assert_eq!(gw_b.count_events("CALL_ESTABLISHED"), 0, "gw-b took a call");

        // gw-a dies. The next keep-alive goes unanswered (or is refused by the host's
        // ICMP): it is marked down within one interval plus the answer timeout.
        drop(gw_a);
        let limit = Duration::from_secs(INTERVAL_S + ANSWER_TIMEOUT_S);
        let context = |alice: &Softphone| report(&[alice, &gw_b], &server);
        let took = wait_gateway_state(&server, "gw-a", false, limit + SLACK, &|| context(&alice));
        assert!(
            took <= limit + Duration::from_secs(2),
            "gw-a was marked down after {took:?}, more than the {limit:?} of one interval \
             plus the answer timeout\n{}",
            context(&alice)
        );
        assert_eq!(gateway_up(&server, "gw-b"), Some(1.0));

        // A new call skips it: gw-b answers.
        call_through(&mut alice, &gw_b, 1, 2, &context);

        // gw-a comes back on its port; one answered keep-alive brings it up again.
        let gw_a = gateway(&site, port_a, 1500.0);
        let context = |alice: &Softphone| report(&[alice, &gw_a, &gw_b], &server);
        wait_gateway_state(
            &server,
            "gw-a",
            true,
            Duration::from_secs(INTERVAL_S) + SLACK,
            &|| context(&alice),
        );
        call_through(&mut alice, &gw_a, 1, 3, &context);
        assert_eq!(
            gw_b.count_events("CALL_ESTABLISHED"),
            1,
            "gw-b took a call after gw-a came back"
        );
        drop(server);
    });
}

fn signal(phone: &Softphone, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(phone.pid()).expect("a pid fits pid_t");
    // SAFETY: kill(2) sends a signal to a child process this test started; it touches no
    // memory of ours.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
}

#[test]
fn a_hung_gateway_is_marked_down_by_the_answer_timeout_and_up_when_it_answers_again() {
    in_private_network(|| {
        let (port_a, port_b, mediation_port) = (free_port(), free_port(), free_port());
        let site = site(port_a, port_b, mediation_port);
        site.add_user("sip:alice@127.0.0.1", "alice-secret");
        let server = site.start();

        let gw_a = gateway(&site, port_a, 1500.0);
        let gw_b = gateway(&site, port_b, 1700.0);
        let mut alice = Softphone::start(
            &site,
            PhoneSpec::user("alice", "alice-secret", SipTransport::Tls, "opus/48000/2")
                .secure()
                .tone(1000.0),
        );
        alice.wait_registered(Duration::from_secs(30));
        let context = |alice: &Softphone| report(&[alice, &gw_a, &gw_b], &server);
        let both_up = Duration::from_secs(INTERVAL_S) + SLACK;
        wait_gateway_state(&server, "gw-a", true, both_up, &|| context(&alice));
        wait_gateway_state(&server, "gw-b", true, both_up, &|| context(&alice));

        signal(&gw_a, libc::SIGSTOP);
        let limit = Duration::from_secs(INTERVAL_S + ANSWER_TIMEOUT_S);
        let took = wait_gateway_state(&server, "gw-a", false, limit + SLACK, &|| context(&alice));
        assert!(
            took <= limit + Duration::from_secs(2),
            "the hung gw-a was marked down after {took:?}, more than the {limit:?} of one \
             interval plus the answer timeout\n{}",
            context(&alice)
        );
        call_through(&mut alice, &gw_b, 1, 1, &context);

        signal(&gw_a, libc::SIGCONT);
        wait_gateway_state(
            &server,
            "gw-a",
            true,
            Duration::from_secs(INTERVAL_S) + SLACK,
            &|| context(&alice),
        );
        call_through(&mut alice, &gw_a, 1, 2, &context);
        assert_eq!(gw_b.count_events("CALL_ESTABLISHED"), 1);
        drop(server);
    });
}
