//! Dialogs through `switchboard serve` end to end (issue 4): what happens after a call is
//! answered, and where a call goes when the callee's device redirects it or the callee is
//! not signed in.
//!
//! - Requests inside a dialog follow the route set the server's Record-Route built (RFC
//!   3261 §12.2.1.1, §16.12): re-INVITE and its ACK, INFO, UPDATE and REFER from the
//!   caller, NOTIFY and BYE from the callee, over UDP and with the caller on TCP (RFC 5658
//!   double Record-Route), each arriving at the other party with the server's Via on top
//!   and no Route left, and each answered back through the server; to a baresip phone
//!   signed in over TCP, over the connection it registered on.
//! - Deflection: a device answering 302 is followed by the server when the callee's
//!   `follow_deflections` rule is on (History-Info with the RFC 4458 deflection cause), and
//!   passed to the caller when it is off.
//! - Forward when not signed in (`forward_offline`).
//! - SIPp's built-in `uac`, which ignores Record-Route and sends its ACK and BYE to
//!   `sip:USER@SERVER` with no Route, completes a call to SIPp's built-in `uas`.
//!
//! The parties are SIPp processes on loopback (`tests/sipp/routing/dlg_*.xml` and the
//! shared `dev_*.xml`) and baresip, killed by pid when dropped; every wait has a deadline.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::baresip::{Answer, Baresip, Tr};
use support::calls::{call, device, register_with_password, trace, TraceMsg};
use support::sipp_peer::{register_device, SippOutcome, SippPeer};
use support::{free_port, wait_for, Dir, Server, Site};

/// How long any party may take to finish its part (SIPp itself gives up at 90 s).
const PARTY_DEADLINE: Duration = Duration::from_secs(120);

const BOB: &str = "sip:bob@127.0.0.1";
const CAROL: &str = "sip:carol@127.0.0.1";
const BOB_PW: &str = "pw-bob-dlg";
const CAROL_PW: &str = "pw-carol-dlg";

fn set_rules(site: &Site, user: &str, rules: &[(&str, &str)]) {
    let mut args = vec!["user".to_string(), "set".into(), user.into()];
    for (name, value) in rules {
        args.push("--rule".into());
        args.push(format!("{name}={value}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    site.cli(&args);
}

fn wait_registrations(server: &Server, n: usize) {
    wait_for(
        &format!("{n} registrations"),
        Duration::from_secs(30),
        || (server.metric("sip_registrations") == Some(n as f64)).then_some(()),
    );
}

/// Every party's outcome, by label, with the server's log for failure messages.
struct Outcomes<'a> {
    server: &'a Server,
    parties: Vec<(&'static str, SippOutcome)>,
}

impl Outcomes<'_> {
    /// Waits for each party in turn; panics with everyone's account unless all passed.
    fn finish<'s>(server: &'s Server, peers: Vec<(&'static str, SippPeer)>) -> Outcomes<'s> {
        let parties = peers
            .into_iter()
            .map(|(label, mut p)| (label, p.finish(PARTY_DEADLINE)))
            .collect();
        Outcomes::of(server, parties)
    }

    /// [`Outcomes::finish`] for parties that already ended.
    fn of<'s>(server: &'s Server, parties: Vec<(&'static str, SippOutcome)>) -> Outcomes<'s> {
        let o = Outcomes { server, parties };
        let failed = o.parties.iter().any(|(_, p)| !p.ok);
        o.check(!failed, "a party failed");
        o
    }

    fn trace(&self, label: &str) -> Vec<TraceMsg> {
        let (_, p) = self
            .parties
            .iter()
            .find(|(l, _)| *l == label)
            .expect("a party of that name");
        trace(&p.messages)
    }

    fn check(&self, cond: bool, what: &str) {
        if cond {
            return;
        }
        let mut s = String::new();
        for (label, p) in &self.parties {
            let state = if p.ok { "passed" } else { "FAILED" };
            s.push_str(&format!("\n===== {label}: {state} =====\n{}\n", p.report));
        }
        panic!("{what}\n{s}\n===== server =====\n{}", self.server.log());
    }
}

/// The requests of `method` a party received (retransmissions, which repeat the topmost
/// Via, counted once).
fn received<'m>(msgs: &'m [TraceMsg], method: &str) -> Vec<&'m TraceMsg> {
    let mut seen: Vec<String> = Vec::new();
    msgs.iter()
        .filter(|m| m.received && m.is_request(method))
        .filter(|m| {
            let via = m.headers("Via").first().unwrap_or(&"").to_string();
            let new = !seen.contains(&via);
            seen.push(via);
            new
        })
        .collect()
}

/// The CSeq number of a message.
fn cseq(m: &TraceMsg) -> u32 {
    m.header("CSeq")
        .and_then(|c| c.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// A request proxied by the server (RFC 3261 §16.6 step 8, §16.12): its topmost Via is
/// the server's UDP address, the sender's Via follows, and no Route is left (the server's
/// own was the only one, and it popped it, §16.4).
fn check_proxied(o: &Outcomes, m: &TraceMsg, server_via: &str, who: &str) {
    let vias = m.headers("Via");
    let ours = format!("{server_via};branch=z9hG4bK");
    o.check(
        vias.len() == 2 && vias[0].starts_with(&ours),
        &format!(
            "{} at {who} must have the server's Via on top of the sender's: {vias:?}",
            m.first_line()
        ),
    );
    o.check(
        m.headers("Route").is_empty(),
        &format!(
            "{} at {who} still carries Route: {:?}",
            m.first_line(),
            m.headers("Route")
        ),
    );
}

/// The responses to `method` a party received, by status.
fn statuses(msgs: &[TraceMsg], method: &str) -> Vec<u16> {
    msgs.iter()
        .filter(|m| m.received)
        .filter_map(|m| m.status_for(method))
        .collect()
}

/// A call from a SIPp caller to bob's registered SIPp device is answered; then the caller
/// sends a re-INVITE (and its ACK), INFO, UPDATE and REFER, bob's device reports on the
/// REFER with NOTIFY (RFC 3515) and hangs up with BYE.
/// Each of these reaches the other party through the server along the route set, with
/// the server's Via on top and the server's Route consumed, and each answer comes back:
/// both scenarios fail unless they get every request and every 200 they wait for.
#[test]
fn in_dialog_requests_of_both_parties_follow_the_record_route_through_the_server() {
    dialog_through_the_server("dlg-route-set", "u1");
}

/// The same dialog with the caller on TCP and bob's device on UDP: the server
/// Record-Routes twice (RFC 5658 §4: one value per transport) and, when a request comes
/// back with both values as Route, consumes both rather than sending the request to
/// itself over the other transport; each party still sees exactly one server Via.
#[test]
fn in_dialog_requests_cross_from_tcp_to_udp_with_double_record_route() {
    dialog_through_the_server("dlg-route-set-tcp", "t1");
}

/// Runs dlg_caller.xml over `caller_transport` (SIPp's `-t`: u1 or t1) against
/// dlg_callee.xml on bob's registered UDP port, and checks what each party received.
fn dialog_through_the_server(tag: &str, caller_transport: &str) {
    let site = Site::new(tag, "");
    site.add_user(BOB, BOB_PW);
    let server = site.start();
    let port = register_with_password(&site, "bob", BOB_PW);
    let mut bob = SippPeer::uas("routing/dlg_callee.xml", port, &[]);
    wait_registrations(&server, 1);
    let target = format!("127.0.0.1:{}", site.sip_port);
    let script = support::scenario("routing/dlg_caller.xml");
    let mut caller = Background::start(
        &["-sf", script.to_str().unwrap(), "-t", caller_transport],
        free_port(),
        &["-key", "callee", "bob", &target],
    );
    let bob_done = bob.finish(PARTY_DEADLINE);
    let caller_done = caller.finish(PARTY_DEADLINE);
    let o = Outcomes::of(&server, vec![("bob", bob_done), ("caller", caller_done)]);

    let bob_saw = o.trace("bob");
    let caller_saw = o.trace("caller");
    let at_bob = format!("SIP/2.0/UDP 127.0.0.1:{}", site.sip_port);
    let at_caller = match caller_transport {
        "t1" => format!("SIP/2.0/TCP 127.0.0.1:{}", site.sip_port),
        _ => at_bob.clone(),
    };

    let invites = received(&bob_saw, "INVITE");
    o.check(
        invites.iter().map(|m| cseq(m)).collect::<Vec<_>>() == [1, 2],
        "bob's device must get the INVITE and then the re-INVITE (CSeq 2), once each",
    );
    for m in &invites {
        check_proxied(&o, m, &at_bob, "bob's device");
    }
    // The re-INVITE is not Record-Routed again: the route set is fixed by the first
    // transaction (§12.2.1.2 leaves it alone on a target refresh; §16.6 step 4 is for
    // requests that create a dialog).
    o.check(
        invites[1].headers("Record-Route").is_empty(),
        "the re-INVITE must not be Record-Routed",
    );
    let acks = received(&bob_saw, "ACK");
    o.check(
        acks.iter().map(|m| cseq(m)).collect::<Vec<_>>() == [1, 2],
        "bob's device must get the ACK of each INVITE",
    );
    for m in acks {
        check_proxied(&o, m, &at_bob, "bob's device");
    }
    for method in ["INFO", "UPDATE"] {
        let got = received(&bob_saw, method);
        o.check(
            got.len() == 1,
            &format!("bob's device must get one {method}"),
        );
        check_proxied(&o, got[0], &at_bob, "bob's device");
        // The Request-URI is bob's Contact from the 200 (the remote target, §12.2.1.1).
        o.check(
            got[0].first_line() == format!("{method} sip:127.0.0.1:{port} SIP/2.0"),
            &format!("{method} Request-URI at bob: {}", got[0].first_line()),
        );
    }
    o.check(
        statuses(&caller_saw, "INVITE").contains(&200)
            && statuses(&caller_saw, "INFO").first() == Some(&200)
            && statuses(&caller_saw, "UPDATE").first() == Some(&200),
        "the caller must get 200 for the re-INVITE, the INFO and the UPDATE",
    );

    // The transfer request reaches bob; his NOTIFY about it reaches the caller.
    let refers = received(&bob_saw, "REFER");
    o.check(refers.len() == 1, "bob's device must get one REFER");
    check_proxied(&o, refers[0], &at_bob, "bob's device");
    o.check(
        statuses(&caller_saw, "REFER").first() == Some(&202),
        "the caller must get bob's 202 for the REFER",
    );
    let notifies = received(&caller_saw, "NOTIFY");
    o.check(notifies.len() == 1, "the caller must get bob's NOTIFY once");
    check_proxied(&o, notifies[0], &at_caller, "the caller");
    o.check(
        statuses(&bob_saw, "NOTIFY") == [200],
        "bob's device must get the caller's 200 for its NOTIFY, once",
    );

    let byes = received(&caller_saw, "BYE");
    o.check(byes.len() == 1, "the caller must get bob's BYE once");
    check_proxied(&o, byes[0], &at_caller, "the caller");
    o.check(
        byes[0]
            .first_line()
            .starts_with("BYE sip:caller@127.0.0.1:"),
        &format!("BYE Request-URI at the caller: {}", byes[0].first_line()),
    );
    o.check(
        statuses(&bob_saw, "BYE") == [200],
        "bob's device must get the caller's 200 for its BYE, once",
    );
}

/// Bob's phone is baresip signed in over TCP; it answers at once. The SIPp caller's
/// ACK, re-INVITE (and its ACK), INFO and BYE reach the phone through the server along
/// the route set, over the connection the phone registered on (RFC 5626 §5.3: behind a
/// NAT nothing could connect to its Contact), and the phone answers each.
#[test]
fn a_phone_on_tcp_gets_the_callers_in_dialog_requests_over_its_own_connection() {
    let site = Site::new("dlg-baresip-tcp", "");
    site.add_user(BOB, BOB_PW);
    let server = site.start();
    let phone = Baresip::start(&site, "bob", BOB_PW, Tr::Tcp, Answer::Auto);
    phone.wait_registered(Duration::from_secs(30));
    wait_registrations(&server, 1);
    let caller = SippPeer::uac(
        "routing/dlg_caller_hangs_up.xml",
        site.sip_port,
        &[("callee", "bob")],
    );
    let o = Outcomes::finish(&server, vec![("caller", caller)]);
    let fail = |what: String| -> ! {
        panic!(
            "{what}\n===== baresip =====\n{}\n===== server =====\n{}",
            phone.log(),
            server.log()
        )
    };

    let registered_on = phone.sent(|m| m.is_request("REGISTER"))[0].local.clone();
    let server_addr = format!("127.0.0.1:{}", site.sip_port);
    for (method, n) in [("INVITE", 2), ("ACK", 2), ("INFO", 1), ("BYE", 1)] {
        let got = phone.received(|m| m.is_request(method));
        // Retransmissions over TCP are not expected; count what arrived.
        if got.len() != n {
            fail(format!("baresip got {} {method} (want {n})", got.len()));
        }
        for m in &got {
            if m.peer != server_addr || m.local != registered_on {
                fail(format!(
                    "{} reached baresip from {} on {}, not from the server ({server_addr}) on \
                     the connection it registered on ({registered_on})",
                    m.first_line(),
                    m.peer,
                    m.local
                ));
            }
        }
    }
    for method in ["INVITE", "INFO", "BYE"] {
        let answered = phone.sent(|m| m.is_response(200, method)).len();
        if answered == 0 {
            fail(format!("baresip did not answer {method} with 200"));
        }
    }
    o.check(
        statuses(&o.trace("caller"), "INFO").first() == Some(&200),
        "the caller must get the phone's 200 for INFO",
    );
}

/// The caller's INVITE, with every final response it received.
fn finals(msgs: &[TraceMsg]) -> Vec<u16> {
    let mut f: Vec<u16> = statuses(msgs, "INVITE")
        .into_iter()
        .filter(|s| *s >= 200)
        .collect();
    f.dedup();
    f
}

/// Bob follows deflections (`switchboard user set --rule follow_deflections=on`; also
/// the default): his device answers 302 naming carol; the server, not the
/// caller, calls carol, whose device gets the INVITE with History-Info showing bob ended
/// by the deflection and carol reached for that cause (RFC 7044; sb-routing uses the RFC
/// 4458 cause 480 for a deflection), and a Diversion with reason deflection. The caller
/// is connected to carol and never sees the 302; bob's device gets the server's ACK for
/// its 302.
#[test]
fn a_302_from_the_device_is_followed_when_the_user_follows_deflections() {
    let site = Site::new("dlg-deflect-on", "");
    site.add_user(BOB, BOB_PW);
    site.add_user(CAROL, CAROL_PW);
    set_rules(&site, BOB, &[("follow_deflections", "on")]);
    let server = site.start();
    let bob = device(&site, "bob", BOB_PW, "dev_deflect.xml");
    let carol = device(&site, "carol", CAROL_PW, "dev_answer.xml");
    wait_registrations(&server, 2);
    let caller = call(&site, "bob");
    let o = Outcomes::finish(
        &server,
        vec![("bob", bob), ("carol", carol), ("caller", caller)],
    );

    let caller_saw = o.trace("caller");
    o.check(
        finals(&caller_saw) == [200],
        &format!(
            "the caller must see only carol's 200: {:?}",
            finals(&caller_saw)
        ),
    );
    let carol_saw = o.trace("carol");
    let invites = received(&carol_saw, "INVITE");
    o.check(invites.len() == 1, "carol's device must ring once");
    let hi = invites[0].headers("History-Info");
    o.check(
        hi == [
            "<sip:bob@127.0.0.1?Reason=SIP%3Bcause%3D480>;index=1",
            "<sip:carol@127.0.0.1;cause=480>;index=1.1;mp=1",
        ],
        &format!("History-Info at carol: {hi:?}"),
    );
    let div = invites[0].headers("Diversion");
    o.check(
        div == ["<sip:bob@127.0.0.1>;reason=deflection;counter=1"],
        &format!("Diversion at carol: {div:?}"),
    );
    o.check(
        received(&o.trace("bob"), "ACK").len() == 1,
        "bob's device must get the server's ACK for its 302",
    );
}

/// With the rule off in the site file (`rules = { follow_deflections = "off" }`; it is
/// on by default, sb-routing's `Rules::default`), the 302 is the answer: the caller
/// gets it, with carol in Contact, and carol's device never rings.
#[test]
fn with_the_rule_off_the_caller_gets_the_302_itself() {
    // The rule comes from the site file (`rules = { ... }`, applied to the store by
    // `serve` at start).
    let site = Site::new(
        "dlg-deflect-off",
        &format!(
            "[site]\ndomains = [\"127.0.0.1\"]\n\n\
             [[site.users]]\naddress = \"{BOB}\"\npassword = \"{BOB_PW}\"\n\
             rules = {{ follow_deflections = \"off\" }}\n\n\
             [[site.users]]\naddress = \"{CAROL}\"\npassword = \"{CAROL_PW}\"\n"
        ),
    );
    let server = site.start();
    let bob = device(&site, "bob", BOB_PW, "dev_deflect.xml");
    let carol_port = register_with_password(&site, "carol", CAROL_PW);
    wait_registrations(&server, 2);
    // Carol's port is watched by a plain socket: nothing may arrive there.
    let carol = std::net::UdpSocket::bind(("127.0.0.1", carol_port)).expect("carol's port");
    carol.set_nonblocking(true).unwrap();
    let caller = SippPeer::uac(
        "routing/dlg_call_302.xml",
        site.sip_port,
        &[("callee", "bob")],
    );
    let o = Outcomes::finish(&server, vec![("bob", bob), ("caller", caller)]);

    let caller_saw = o.trace("caller");
    o.check(
        finals(&caller_saw) == [302],
        &format!("the caller must get the 302: {:?}", finals(&caller_saw)),
    );
    let moved = caller_saw
        .iter()
        .find(|m| m.received && m.status_for("INVITE") == Some(302))
        .unwrap();
    o.check(
        moved.header("Contact") == Some("<sip:carol@127.0.0.1>"),
        &format!("Contact of the 302: {:?}", moved.header("Contact")),
    );
    let mut buf = [0u8; 4096];
    let stray = carol
        .recv_from(&mut buf)
        .ok()
        .map(|(n, _)| String::from_utf8_lossy(&buf[..n]).into_owned());
    o.check(stray.is_none(), &format!("carol's device got: {stray:?}"));
}

/// Bob is not signed in and forwards to carol when offline: carol's device rings with
/// History-Info naming bob (ended with the RFC 4458 "not available" cause, 404, which is
/// what sb-routing documents for forward-offline) and carol (cause=404), and a Diversion
/// with reason unavailable; the caller is connected to her.
#[test]
fn a_callee_who_is_not_signed_in_is_forwarded_with_history_info() {
    let site = Site::new("dlg-fwd-offline", "");
    site.add_user(BOB, BOB_PW);
    site.add_user(CAROL, CAROL_PW);
    set_rules(&site, BOB, &[("forward_offline", CAROL)]);
    let server = site.start();
    let carol = device(&site, "carol", CAROL_PW, "dev_answer.xml");
    wait_registrations(&server, 1);
    let caller = call(&site, "bob");
    let o = Outcomes::finish(&server, vec![("carol", carol), ("caller", caller)]);

    o.check(
        finals(&o.trace("caller")) == [200],
        "the caller must be connected (one 200)",
    );
    let carol_saw = o.trace("carol");
    let invites = received(&carol_saw, "INVITE");
    o.check(invites.len() == 1, "carol's device must ring once");
    let hi = invites[0].headers("History-Info");
    o.check(
        hi == [
            "<sip:bob@127.0.0.1?Reason=SIP%3Bcause%3D404>;index=1",
            "<sip:carol@127.0.0.1;cause=404>;index=1.1;mp=1",
        ],
        &format!("History-Info at carol: {hi:?}"),
    );
    let div = invites[0].headers("Diversion");
    o.check(
        div == ["<sip:bob@127.0.0.1>;reason=unavailable;counter=1"],
        &format!("Diversion at carol: {div:?}"),
    );
}

/// A SIPp run in the background (a scenario file or a built-in one, any transport),
/// killed by pid when dropped.
struct Background {
    child: Child,
    work: Dir,
    port: u16,
}

impl Background {
    /// `sipp SCENARIO -m 1 ... -i 127.0.0.1 -p PORT EXTRA`; `scenario` holds `-sf FILE` or
    /// `-sn NAME`, and `-t` unless UDP.
    fn start(scenario: &[&str], port: u16, extra: &[&str]) -> Background {
        let work = Dir::new("sipp-bg");
        let child = Command::new("sipp")
            .current_dir(work.path())
            .env("TZ", "UTC")
            .args(scenario)
            .args(["-m", "1", "-nostdin", "-timeout", "90s", "-timeout_error"])
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-trace_msg", "-message_file"])
            .arg(work.path().join("messages.log"))
            .args(["-trace_err", "-error_file"])
            .arg(work.path().join("errors.log"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(work.path().join("stderr.log")).unwrap())
            .spawn()
            .expect("run sipp (install Debian's sip-tester)");
        Background { child, work, port }
    }

    /// Waits for the run to end (killed at the deadline) and reports like a [`SippPeer`].
    fn finish(&mut self, within: Duration) -> SippOutcome {
        let deadline = std::time::Instant::now() + within;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break Some(s);
            }
            if std::time::Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let read = |f: &str| std::fs::read_to_string(self.work.path().join(f)).unwrap_or_default();
        let messages = read("messages.log");
        let ended = match status {
            Some(s) => format!("exit {:?}", s.code()),
            None => format!("still running after {within:?}, killed"),
        };
        let report = format!(
            "SIPp on port {}: {ended}\n--- errors ---\n{}\n--- stderr ---\n{}\n\
             --- messages ---\n{messages}",
            self.port,
            read("errors.log"),
            read("stderr.log"),
        );
        SippOutcome {
            ok: status.is_some_and(|s| s.success()),
            report,
            messages,
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `sipp -sn uac -s bob SERVER` calls bob's registered `sipp -sn uas`. The built-in UAC
/// ignores the server's Record-Route and sends its ACK and BYE to `sip:bob@SERVER` with
/// no Route. The server treats them as addressed to bob (RFC 3261 §16.5: the domain is
/// its own, so it looks bob up: `sb_proxy::RouteKind::InDialogToUser`) and relays them to
/// bob's device, instead of sending them to itself (which ended in 482 for the BYE). Both
/// SIPp runs exit 0, and the ACK and BYE reach the callee with the server's Via on top.
#[test]
fn sipps_built_in_uac_completes_a_call_to_a_registered_built_in_uas() {
    // The built-in UAC cannot answer a 407, and its From is in our domain.
    let site = Site::new("dlg-builtin", "[auth]\nenabled = false\n");
    site.add_user(BOB, BOB_PW);
    let server = site.start();
    let port = free_port();
    register_device(site.sip_port, "bob", port);
    wait_registrations(&server, 1);
    let mut uas = Background::start(&["-sn", "uas"], port, &[]);
    // SIPp has bound its socket once the port is no longer free.
    wait_for("the uas to bind", Duration::from_secs(30), || {
        std::net::UdpSocket::bind(("127.0.0.1", port))
            .is_err()
            .then_some(())
    });
    let target = format!("127.0.0.1:{}", site.sip_port);
    let mut uac = Background::start(&["-sn", "uac"], free_port(), &["-s", "bob", &target]);
    let uac_done = uac.finish(PARTY_DEADLINE);
    let uas_done = uas.finish(PARTY_DEADLINE);
    let o = Outcomes::of(&server, vec![("uac", uac_done), ("uas", uas_done)]);
    let uas_saw = o.trace("uas");
    let ours = format!("SIP/2.0/UDP 127.0.0.1:{}", site.sip_port);
    for method in ["ACK", "BYE"] {
        let got = received(&uas_saw, method);
        o.check(got.len() == 1, &format!("the uas must get one {method}"));
        check_proxied(&o, got[0], &ours, "the uas");
    }
}
