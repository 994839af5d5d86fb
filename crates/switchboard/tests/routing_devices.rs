//! A user's calls end to end through `switchboard serve` (issue 4, user call handling):
//! forking to every registered device, the first answer winning and the rest cancelled;
//! forwarding when unanswered, when busy, always and when not signed in, and following a
//! device's 302, each with History-Info and Diversion; and simultaneous ring to a mobile
//! number reached through a gateway.
//!
//! Each test writes its own config: users, passwords and call handling rules in the
//! `[site]` part (`rules = { ... }`), routes, voice policies and trunks in `[routing]` and
//! `[[trunks]]`.
//!
//! The parties are real peers on loopback: baresip (Debian's `baresip` 1.0) as a phone,
//! SIPp devices registered with their own ports, a SIPp gateway at a `[[trunks]]`
//! address, and a SIPp caller from a foreign domain (an anonymous caller, who may reach
//! our users). The scenarios are `tests/sipp/routing/dev_*.xml`; they check headers with
//! `check_it`, so a missing or wrong header fails the party that received it. The tests
//! then check what each party saw in its message trace: who answered, which devices were
//! cancelled, that the caller got exactly one final answer, and when the forward came.

mod support;

use std::time::Duration;

use support::baresip::{Answer, Baresip, Tr};
use support::calls::{call, device, trace, TraceMsg};
use support::sipp_peer::{SippOutcome, SippPeer};
use support::{free_port, wait_for, Server, Site};

/// How long any party may take to finish its part of a call (SIPp gives up at 90 s).
const PARTY_DEADLINE: Duration = Duration::from_secs(120);

const BOB: &str = "sip:bob@127.0.0.1";
const CAROL: &str = "sip:carol@127.0.0.1";
const BOB_PW: &str = "pw-bob-1";
const CAROL_PW: &str = "pw-carol-1";

/// The `[site]` part of a config: bob and carol with their passwords, and bob's call
/// handling rules as the site file's `rules` inline table (TOML), e.g.
/// `{ forward_busy = "sip:carol@127.0.0.1" }`. `serve` applies it to the store at start.
fn site_file(bob_rules: &str) -> String {
    format!(
        "[site]\ndomains = [\"127.0.0.1\"]\n\n\
         [[site.users]]\naddress = \"{BOB}\"\npassword = \"{BOB_PW}\"\nrules = {bob_rules}\n\n\
         [[site.users]]\naddress = \"{CAROL}\"\npassword = \"{CAROL_PW}\"\n"
    )
}

/// Sets call handling rules on a user with `switchboard user set --rule NAME=VALUE`.
fn set_rules(site: &Site, user: &str, rules: &[(&str, &str)]) {
    let mut args = vec!["user".to_string(), "set".into(), user.into()];
    for (name, value) in rules {
        args.push("--rule".into());
        args.push(format!("{name}={value}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    site.cli(&args);
}

/// Waits until the server holds `n` registrations (the routing directory reads the
/// registrar's live bindings).
fn wait_registrations(server: &Server, n: usize) {
    wait_for(
        &format!("{n} registrations"),
        Duration::from_secs(30),
        || (server.metric("sip_registrations") == Some(n as f64)).then_some(()),
    );
}

/// The parties of one call, finished together; a failure shows everyone's account.
struct Parties<'a> {
    server: &'a Server,
    sipp: Vec<(&'static str, SippPeer)>,
    phones: Vec<(&'static str, &'a Baresip)>,
}

impl<'a> Parties<'a> {
    fn new(server: &'a Server) -> Parties<'a> {
        Parties {
            server,
            sipp: Vec::new(),
            phones: Vec::new(),
        }
    }

    fn sipp(&mut self, label: &'static str, peer: SippPeer) {
        self.sipp.push((label, peer));
    }

    fn phone(&mut self, label: &'static str, phone: &'a Baresip) {
        self.phones.push((label, phone));
    }

    /// Waits for every SIPp party to end; panics with all accounts unless each passed.
    fn finish(mut self) -> Outcomes<'a> {
        let mut done = Vec::new();
        for (label, mut peer) in self.sipp.drain(..) {
            done.push((label, peer.finish(PARTY_DEADLINE)));
        }
        let outcomes = Outcomes {
            server: self.server,
            sipp: done,
            phones: std::mem::take(&mut self.phones),
        };
        if outcomes.sipp.iter().any(|(_, o)| !o.ok) {
            panic!("a party failed:\n{}", outcomes.account());
        }
        outcomes
    }
}

struct Outcomes<'a> {
    server: &'a Server,
    sipp: Vec<(&'static str, SippOutcome)>,
    phones: Vec<(&'static str, &'a Baresip)>,
}

impl Outcomes<'_> {
    fn trace(&self, label: &str) -> Vec<TraceMsg> {
        let (_, o) = self
            .sipp
            .iter()
            .find(|(l, _)| *l == label)
            .expect("a party of that name");
        trace(&o.messages)
    }

    /// Everything every party and the server said, for a failure message.
    fn account(&self) -> String {
        let mut s = String::new();
        for (label, o) in &self.sipp {
            s.push_str(&format!(
                "\n===== {label}: {} =====\n{}\n",
                if o.ok { "passed" } else { "FAILED" },
                o.report
            ));
        }
        for (label, phone) in &self.phones {
            s.push_str(&format!(
                "\n===== {label} (baresip) =====\n{}\n",
                phone.log()
            ));
        }
        s.push_str(&format!("\n===== server =====\n{}\n", self.server.log()));
        s
    }

    /// Polls `f` until it holds (messages may still be on their way after the SIPp
    /// parties ended), else panics with the whole account.
    fn wait(&self, what: &str, f: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !f() {
            self.check(std::time::Instant::now() < deadline, what);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Panics with the whole account unless `cond`.
    fn check(&self, cond: bool, what: &str) {
        assert!(cond, "{what}\n{}", self.account());
    }
}

/// The final responses to the INVITE the caller received: the caller must see one 200
/// (retransmissions of it aside: the same To tag) and nothing else final.
fn caller_finals(caller: &[TraceMsg]) -> Vec<(u16, String)> {
    caller
        .iter()
        .filter(|m| m.received)
        .filter_map(|m| {
            let status = m.status_for("INVITE")?;
            (status >= 200).then(|| (status, m.to_tag().unwrap_or("").to_string()))
        })
        .collect()
}

fn assert_one_answer(o: &Outcomes, expected_tag: impl Fn(&str) -> bool, who: &str) {
    let caller = o.trace("caller");
    // The server answers the INVITE itself before anything else (RFC 3261 §16.2), so the
    // caller stops retransmitting while the devices ring.
    let first = caller.iter().find(|m| m.received).map(TraceMsg::first_line);
    o.check(
        first == Some("SIP/2.0 100 Trying"),
        &format!("the caller's first answer must be 100 Trying, not {first:?}"),
    );
    let finals = caller_finals(&caller);
    let mut distinct = finals.clone();
    distinct.dedup();
    o.check(
        distinct.len() == 1 && distinct[0].0 == 200,
        &format!("the caller must see exactly one final answer, a 200; saw {finals:?}"),
    );
    o.check(
        expected_tag(&distinct[0].1),
        &format!("the 200 the caller got is not {who}'s: {finals:?}"),
    );
}

fn first_received<'m>(msgs: &'m [TraceMsg], method: &str) -> Option<&'m TraceMsg> {
    msgs.iter().find(|m| m.received && m.is_request(method))
}

/// The answered call's ACK and BYE reached the phone from the server (Record-Route),
/// and it answered the BYE.
fn assert_dialog_through_server(o: &Outcomes, phone: &Baresip, server_port: u16) {
    let server = format!("127.0.0.1:{server_port}");
    for method in ["ACK", "BYE"] {
        let got = phone.received(|m| m.is_request(method));
        o.check(
            got.len() == 1 && got[0].peer == server,
            &format!("baresip must get one {method} from the server ({server}): {got:?}"),
        );
    }
    o.check(
        !phone.sent(|m| m.is_response(200, "BYE")).is_empty(),
        "baresip did not answer the BYE",
    );
}

/// A call to a user with two devices rings both; baresip (over TCP, the server reaching
/// it over the connection it registered on) answers at once; the SIPp device, ringing,
/// gets CANCEL with Reason "Call completed elsewhere" and answers 487 (its scenario
/// checks both). The caller sees one 200 (baresip's) and no second final answer; its ACK
/// and BYE go through the server to baresip, which answers the BYE.
#[test]
fn both_devices_ring_and_the_first_to_answer_wins() {
    let site = Site::new("fork-first-wins", &site_file("{}"));
    let server = site.start();
    let phone = Baresip::start(&site, "bob", BOB_PW, Tr::Tcp, Answer::Auto);
    phone.wait_registered(Duration::from_secs(30));
    let desk = device(&site, "bob", BOB_PW, "dev_cancelled_elsewhere.xml");
    wait_registrations(&server, 2);

    let mut parties = Parties::new(&server);
    parties.phone("bob's baresip", &phone);
    parties.sipp("bob's SIPp device", desk);
    parties.sipp("caller", call(&site, "bob"));
    let o = parties.finish();

    let invites = phone.received(|m| m.is_request("INVITE"));
    o.check(invites.len() == 1, "baresip must ring once");
    // Over TCP the server must reach the phone on the connection it registered on
    // (RFC 5626 §5.3): behind a NAT, nothing could connect to its Contact's port.
    let registered_on = phone.sent(|m| m.is_request("REGISTER"))[0].local.clone();
    o.check(
        invites[0].local == registered_on,
        &format!(
            "the INVITE came in on {}, the REGISTER went out on {registered_on}",
            invites[0].local
        ),
    );
    let answered = phone.sent(|m| m.is_response(200, "INVITE"));
    o.check(!answered.is_empty(), "baresip did not answer");
    let baresip_tag = answered[0]
        .text
        .lines()
        .find(|l| l.starts_with("To:"))
        .and_then(|l| l.split("tag=").nth(1))
        .map(|t| t.split(';').next().unwrap_or(t).trim().to_string())
        .unwrap_or_default();
    assert_one_answer(&o, |tag| tag == baresip_tag, "baresip");
    assert_dialog_through_server(&o, &phone, site.sip_port);
}

/// The same fork the other way round: the SIPp device answers after a second of
/// ringing, and baresip, which never picks up, gets CANCEL (with the Reason) and answers
/// it with 487, which the server acknowledges.
#[test]
fn the_device_that_did_not_answer_is_cancelled_and_answers_487() {
    let site = Site::new("fork-cancel-baresip", &site_file("{}"));
    let server = site.start();
    let phone = Baresip::start(&site, "bob", BOB_PW, Tr::Udp, Answer::Never);
    phone.wait_registered(Duration::from_secs(30));
    let desk = device(&site, "bob", BOB_PW, "dev_answer.xml");
    wait_registrations(&server, 2);

    let mut parties = Parties::new(&server);
    parties.phone("bob's baresip", &phone);
    parties.sipp("bob's SIPp device", desk);
    parties.sipp("caller", call(&site, "bob"));
    let o = parties.finish();

    assert_one_answer(&o, |tag| tag.contains("SIPpTag01"), "the SIPp device");
    let cancels = phone.received(|m| m.is_request("CANCEL"));
    o.check(cancels.len() == 1, "baresip must get one CANCEL");
    o.check(
        cancels[0].header("Reason") == Some("SIP;cause=200;text=\"Call completed elsewhere\""),
        "the CANCEL must say the call was completed elsewhere (RFC 3326)",
    );
    // baresip's 487 and the server's ACK for it may still be on their way.
    o.wait(
        "baresip must answer 487 and get the server's ACK for it",
        || {
            let sent = !phone.sent(|m| m.is_response(487, "INVITE")).is_empty();
            sent && !phone.received(|m| m.is_request("ACK")).is_empty()
        },
    );
    o.check(
        phone.sent(|m| m.is_response(200, "INVITE")).is_empty(),
        "baresip must not have answered",
    );
}

/// Bob forwards calls he has not answered within 5 s to carol. Bob's devices (baresip
/// and a SIPp device) ring; after 5 s both get CANCEL with Reason SIP;cause=408 (RFC
/// 4458's no-reply cause; checked by the SIPp device's scenario too); carol's SIPp device gets the call with History-Info
/// naming bob (ended by the no-reply cause, 408 in RFC 4458) and carol (cause=408,
/// mp=1), and a Diversion with reason no-answer; she answers, and the caller is
/// connected to her.
#[test]
fn an_unanswered_call_is_forwarded_after_the_users_seconds_with_history_info() {
    let rules = format!("{{ forward_unanswered = \"{CAROL}\", forward_unanswered_secs = 5 }}");
    let site = Site::new("fwd-unanswered", &site_file(&rules));
    let server = site.start();
    let phone = Baresip::start(&site, "bob", BOB_PW, Tr::Udp, Answer::Never);
    phone.wait_registered(Duration::from_secs(30));
    let desk = device(&site, "bob", BOB_PW, "dev_cancelled_unanswered.xml");
    let carol = device(&site, "carol", CAROL_PW, "dev_forwarded_unanswered.xml");
    wait_registrations(&server, 3);

    let mut parties = Parties::new(&server);
    parties.phone("bob's baresip", &phone);
    parties.sipp("bob's SIPp device", desk);
    parties.sipp("carol", carol);
    parties.sipp("caller", call(&site, "bob"));
    let o = parties.finish();

    assert_one_answer(&o, |tag| tag.contains("SIPpTag01"), "carol's device");
    // From the moment the caller sent the INVITE (the server's timer cannot start
    // earlier) to carol's INVITE: at least the 5 s of the rule.
    let dialled = o
        .trace("caller")
        .iter()
        .find(|m| !m.received && m.is_request("INVITE"))
        .map(|m| m.at);
    let forwarded = first_received(&o.trace("carol"), "INVITE").map(|m| m.at);
    let (Some(dialled), Some(forwarded)) = (dialled, forwarded) else {
        return o.check(false, "the caller must send and carol must get the INVITE");
    };
    let waited = forwarded - dialled;
    o.check(
        (5.0..20.0).contains(&waited),
        &format!("forwarded {waited:.3} s after the call was placed; the rule says 5 s"),
    );
    o.check(
        first_received(&o.trace("bob's SIPp device"), "INVITE").is_some_and(|m| m.at < forwarded),
        "bob's SIPp device must ring before the call is forwarded",
    );
    let cancels = phone.received(|m| m.is_request("CANCEL"));
    o.check(cancels.len() == 1, "bob's baresip must get one CANCEL");
    o.check(
        cancels[0]
            .header("Reason")
            .is_some_and(|r| r.split(';').nth(1) == Some("cause=408")),
        "the CANCEL to bob's baresip must carry Reason SIP;cause=408",
    );
    let carol_trace = o.trace("carol");
    let invite = first_received(&carol_trace, "INVITE").unwrap();
    let hi = invite.headers("History-Info");
    o.check(
        hi.len() == 2
            && hi[0] == "<sip:bob@127.0.0.1?Reason=SIP%3Bcause%3D408>;index=1"
            && hi[1] == "<sip:carol@127.0.0.1;cause=408>;index=1.1;mp=1",
        &format!("History-Info at carol: {hi:?}"),
    );
}

/// Bob forwards calls to carol when busy (a rule set here with `switchboard user set
/// --rule`, the other tests use the site file). His only device answers 486; the caller never
/// sees it: carol's SIPp device gets the call with History-Info (bob ended by 486,
/// carol with cause=486) and Diversion reason user-busy, and answers.
#[test]
fn a_busy_device_forwards_the_call_with_history_info() {
    let site = Site::new("fwd-busy", "");
    site.add_user(BOB, BOB_PW);
    site.add_user(CAROL, CAROL_PW);
    set_rules(&site, BOB, &[("forward_busy", CAROL)]);
    let server = site.start();
    let desk = device(&site, "bob", BOB_PW, "dev_busy.xml");
    let carol = device(&site, "carol", CAROL_PW, "dev_forwarded_busy.xml");
    wait_registrations(&server, 2);

    let mut parties = Parties::new(&server);
    parties.sipp("bob's SIPp device", desk);
    parties.sipp("carol", carol);
    parties.sipp("caller", call(&site, "bob"));
    let o = parties.finish();

    assert_one_answer(&o, |tag| tag.contains("SIPpTag01"), "carol's device");
    let carol_trace = o.trace("carol");
    let invite = first_received(&carol_trace, "INVITE").unwrap();
    let hi = invite.headers("History-Info");
    o.check(
        hi.len() == 2
            && hi[0] == "<sip:bob@127.0.0.1?Reason=SIP%3Bcause%3D486>;index=1"
            && hi[1] == "<sip:carol@127.0.0.1;cause=486>;index=1.1;mp=1",
        &format!("History-Info at carol: {hi:?}"),
    );
}

/// Bob's calls also ring his mobile, +14255550199, reached over the outbound route
/// "nanp" (usage national, which his voice policy allows) through the trunk
/// "mobile-gw", a SIPp gateway. The gateway gets INVITE
/// sip:+14255550199@127.0.0.1:PORT;user=phone and answers after a second; bob's desk
/// devices (baresip and a SIPp device) both rang and get CANCEL.
#[test]
fn simultaneous_ring_reaches_the_mobile_through_the_gateway_and_cancels_the_desk() {
    let gw_port = free_port();
    let site = Site::new(
        "sim-ring",
        &format!(
            "[routing]\n\
             [[routing.routes]]\nname = \"nanp\"\npattern = '^\\+1\\d{{10}}$'\n\
             usage = \"national\"\ntrunks = [\"mobile-gw\"]\n\
             [[routing.voice_policies]]\nname = \"national\"\nusages = [\"national\"]\n\n\
             [[trunks]]\nname = \"mobile-gw\"\naddress = \"127.0.0.1:{gw_port}\"\n\
             transport = \"udp\"\n\n{}",
            site_file("{ simultaneous_ring = \"+14255550199\", voice_policy = \"national\" }")
        ),
    );
    let server = site.start();
    let phone = Baresip::start(&site, "bob", BOB_PW, Tr::Udp, Answer::Never);
    phone.wait_registered(Duration::from_secs(30));
    let desk = device(&site, "bob", BOB_PW, "dev_cancelled_elsewhere.xml");
    wait_registrations(&server, 2);
    let gateway = SippPeer::uas("routing/dev_gateway.xml", gw_port, &[]);

    let mut parties = Parties::new(&server);
    parties.phone("bob's baresip", &phone);
    parties.sipp("bob's SIPp device", desk);
    parties.sipp("gateway", gateway);
    parties.sipp("caller", call(&site, "bob"));
    let o = parties.finish();

    assert_one_answer(&o, |tag| tag.contains("SIPpTag01"), "the gateway");
    let gateway_trace = o.trace("gateway");
    let invite = first_received(&gateway_trace, "INVITE").unwrap();
    o.check(
        invite.first_line()
            == format!("INVITE sip:+14255550199@127.0.0.1:{gw_port};user=phone SIP/2.0"),
        &format!("Request-URI at the gateway: {}", invite.first_line()),
    );
    o.check(
        phone.received(|m| m.is_request("INVITE")).len() == 1,
        "bob's baresip must ring",
    );
    o.wait("bob's baresip must get CANCEL and answer 487", || {
        let cancelled = !phone.received(|m| m.is_request("CANCEL")).is_empty();
        cancelled && !phone.sent(|m| m.is_response(487, "INVITE")).is_empty()
    });
}

/// What bob has signed in when a call to him is redirected to carol.
enum BobsDevice {
    /// Nothing: bob is not signed in.
    None,
    /// A baresip that never answers (and, for an unconditional forward, must not ring).
    Phone,
    /// A SIPp device running this scenario.
    Sipp(&'static str),
}

/// A call to bob, redirected to carol by bob's rules (the site file's inline table): carol's SIPp device answers, and the
/// INVITE she got carries exactly `history` as History-Info and `diversion` as
/// Diversion. Returns bob's phone, if he had one, for further checks.
fn redirected_to_carol(
    tag: &str,
    bob_rules: &str,
    bob: BobsDevice,
    history: [&str; 2],
    diversion: &str,
) -> Option<Baresip> {
    let site = Site::new(tag, &site_file(bob_rules));
    let server = site.start();
    let mut registrations = 1;
    let phone = match bob {
        BobsDevice::Phone => {
            let p = Baresip::start(&site, "bob", BOB_PW, Tr::Udp, Answer::Never);
            p.wait_registered(Duration::from_secs(30));
            registrations += 1;
            Some(p)
        }
        _ => None,
    };
    let desk = match bob {
        BobsDevice::Sipp(scenario) => {
            registrations += 1;
            Some(device(&site, "bob", BOB_PW, scenario))
        }
        _ => None,
    };
    let carol = device(&site, "carol", CAROL_PW, "dev_answer.xml");
    wait_registrations(&server, registrations);

    let mut parties = Parties::new(&server);
    if let Some(p) = &phone {
        parties.phone("bob's baresip", p);
    }
    if let Some(d) = desk {
        parties.sipp("bob's SIPp device", d);
    }
    parties.sipp("carol", carol);
    parties.sipp("caller", call(&site, "bob"));
    let o = parties.finish();

    assert_one_answer(&o, |tag| tag.contains("SIPpTag01"), "carol's device");
    let carol_trace = o.trace("carol");
    let invite = first_received(&carol_trace, "INVITE").unwrap();
    let hi = invite.headers("History-Info");
    o.check(hi == history, &format!("History-Info at carol: {hi:?}"));
    let div = invite.headers("Diversion");
    o.check(div == [diversion], &format!("Diversion at carol: {div:?}"));
    drop(o);
    phone
}

/// Forward all calls: bob's phone never rings, carol gets the call with the RFC 4458
/// cause 302 (unconditional).
#[test]
fn forward_all_sends_the_call_to_the_target_without_ringing_the_user() {
    let phone = redirected_to_carol(
        "fwd-all",
        "{ forward_all = \"sip:carol@127.0.0.1\" }",
        BobsDevice::Phone,
        [
            "<sip:bob@127.0.0.1?Reason=SIP%3Bcause%3D302>;index=1",
            "<sip:carol@127.0.0.1;cause=302>;index=1.1;mp=1",
        ],
        "<sip:bob@127.0.0.1>;reason=unconditional;counter=1",
    )
    .expect("bob's phone");
    let rung = phone.received(|m| m.is_request("INVITE"));
    assert!(rung.is_empty(), "bob's phone rang: {rung:?}");
}

/// Forward when not signed in: bob has no registered device, carol gets the call with
/// the RFC 4458 cause 404 (not available).
#[test]
fn a_user_who_is_not_signed_in_has_the_call_forwarded() {
    redirected_to_carol(
        "fwd-offline",
        "{ forward_offline = \"sip:carol@127.0.0.1\" }",
        BobsDevice::None,
        [
            "<sip:bob@127.0.0.1?Reason=SIP%3Bcause%3D404>;index=1",
            "<sip:carol@127.0.0.1;cause=404>;index=1.1;mp=1",
        ],
        "<sip:bob@127.0.0.1>;reason=unavailable;counter=1",
    );
}

/// Deflection: bob's device answers 302 naming carol; bob follows deflections, so the
/// server (not the caller, who never sees the 302) calls carol, with the RFC 4458 cause
/// 480 (deflection, immediate response).
#[test]
fn a_device_that_deflects_with_302_is_followed_to_the_new_target() {
    redirected_to_carol(
        "deflect",
        "{ follow_deflections = true }",
        BobsDevice::Sipp("dev_deflect.xml"),
        [
            "<sip:bob@127.0.0.1?Reason=SIP%3Bcause%3D480>;index=1",
            "<sip:carol@127.0.0.1;cause=480>;index=1.1;mp=1",
        ],
        "<sip:bob@127.0.0.1>;reason=deflection;counter=1",
    );
}
