//! Co-existence with an IP-PBX, end to end: Kamailio (Debian's package, stateful with tm,
//! configured by `tests/kamailio/pbx.cfg`) plays the PBX behind a `[[trunks]]` entry and
//! `[[routing.pbxes]]`; alice, a Switchboard user, also has the PBX extension 4567
//! (`pbx_line = "pbx:4567"`) and two registered SIPp devices; the PBX has its own SIPp
//! desk phone for 4567.
//!
//! - A call to alice forks to her devices and to the PBX with the mark header; the PBX
//!   rings its desk phone and forks the call back to Switchboard (to alice's number) with
//!   the mark. Each device sees exactly one INVITE, the PBX exactly one (no loop), and when
//!   a device answers, every other leg on either side gets CANCEL and answers 487, and
//!   Kamailio's transactions drain to zero. The same when the desk phone answers: the
//!   devices get CANCEL.
//! - A PBX user's call (from the PBX's trunk, no mark) rings alice's devices and is never
//!   sent back to the PBX.
//!
//! Kamailio logs one `PBX-INVITE` line per new INVITE it receives (with the source and the
//! mark), which the tests count; `kamcmd tm.stats` shows the transactions it holds.

mod support;

use std::time::Duration;

use support::kamailio::{Kamailio, PbxPlan};
use support::sipp_peer::{register_device, SippOutcome, SippPeer};
use support::{free_port, Server, Site};

const ALICE_NUMBER: &str = "+14255550100";
const EXTENSION: &str = "4567";
const MARK: &str = "X-Switchboard-Fork";

/// Switchboard with the PBX trunk, the PBX, alice (number, PBX line) and bob; Kamailio as
/// the PBX; alice's two device ports registered.
struct Rig {
    site: Site,
    server: Server,
    pbx: Kamailio,
    desk_port: u16,
    devices: [u16; 2],
}

impl Rig {
    fn start(tag: &str) -> Rig {
        let pbx_port = free_port();
        let extra = format!(
            r#"[auth]
enabled = false

# The routing trace of every call is logged at debug: shown when a test fails.
[log]
level = "sb_runtime=debug,info"

[routing]
domains = ["127.0.0.1"]

[[routing.pbxes]]
name = "pbx"
trunk = "pbx"
mark = {{ kind = "header", name = "{MARK}" }}

[[trunks]]
name = "pbx"
address = "127.0.0.1:{pbx_port}"
transport = "udp"
"#
        );
        let site = Site::new(tag, &extra);
        site.cli(&[
            "user",
            "add",
            "sip:alice@127.0.0.1",
            "--password",
            "pw-alice-1",
            "--number",
            ALICE_NUMBER,
        ]);
        site.cli(&[
            "user",
            "set",
            "sip:alice@127.0.0.1",
            "--rule",
            &format!("pbx_line=pbx:{EXTENSION}"),
        ]);
        site.add_user("sip:bob@127.0.0.1", "pw-bob-1");
        let server = site.start();
        let devices = [free_port(), free_port()];
        for port in devices {
            register_device(site.sip_port, "alice", port);
        }
        let desk_port = free_port();
        let desk = format!("sip:{EXTENSION}@127.0.0.1:{desk_port}");
        let back = format!("sip:{ALICE_NUMBER}@127.0.0.1:{};user=phone", site.sip_port);
        let pbx = Kamailio::start_pbx_on(
            pbx_port,
            &PbxPlan {
                switchboard_port: site.sip_port,
                extension: EXTENSION,
                desk: &desk,
                back: &back,
            },
        );
        Rig {
            site,
            server,
            pbx,
            desk_port,
            devices,
        }
    }

    /// New calls Switchboard has routed (placed or refused), from its metrics.
    fn routed(&self) -> u64 {
        let n = |outcome: &str| {
            self.server
                .metric(&format!("calls_routed_total{{outcome=\"{outcome}\"}}"))
                .unwrap_or(0.0) as u64
        };
        n("placed") + n("refused")
    }

    /// Everyone's account, for a failure message.
    fn accounts(&self, outcomes: &[&SippOutcome]) -> String {
        let peers: Vec<&str> = outcomes.iter().map(|o| o.report.as_str()).collect();
        format!(
            "{}\n--- kamailio ---\n{}\n--- switchboard ---\n{}",
            peers.join("\n"),
            self.pbx.log(),
            self.server.log()
        )
    }
}

/// The `src=` of a `PBX-INVITE` line.
fn source(line: &str) -> &str {
    field(line, "src=")
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name))
        .unwrap_or_default()
}

#[test]
fn a_call_forked_to_the_pbx_and_back_rings_each_device_once_and_every_other_leg_is_cancelled() {
    let rig = Rig::start("pbx-fork-back");
    let sb = format!("127.0.0.1:{}", rig.site.sip_port);
    // Device 1 answers after 3 s, by which time the PBX has forked the call back.
    let mut answering = SippPeer::uas("routing/pbx_device_answer.xml", rig.devices[0], &[]);
    let mut ringing = SippPeer::uas("routing/pbx_ring_until_cancel.xml", rig.devices[1], &[]);
    let mut desk = SippPeer::uas("routing/pbx_ring_until_cancel.xml", rig.desk_port, &[]);
    let mut caller = SippPeer::uac(
        "routing/gw_caller.xml",
        rig.site.sip_port,
        &[("ruri", "sip:alice@127.0.0.1"), ("caller", "bob")],
    );
    let c = caller.finish(Duration::from_secs(60));
    // Once the caller is done, the others are done too or never will be.
    let wait = Duration::from_secs(if c.ok { 30 } else { 5 });
    let d1 = answering.finish(wait);
    let d2 = ringing.finish(wait);
    let dk = desk.finish(wait);
    let all = [&c, &d1, &d2, &dk];
    // The caller got one 200 (any other final answer fails its scenario), and every leg
    // that did not answer was cancelled and answered 487 (its scenario ends that way).
    for o in all {
        assert!(o.ok, "{}", rig.accounts(&all));
    }
    // Each device (and the desk phone) saw the call exactly once: no double ring.
    for (name, o) in [("device 1", &d1), ("device 2", &d2), ("desk phone", &dk)] {
        let n = o.requests("INVITE").len();
        assert_eq!(n, 1, "{name} saw {n} INVITEs\n{}", rig.accounts(&all));
        assert_eq!(o.requests("CANCEL").len(), usize::from(name != "device 1"));
    }
    // The PBX's fork (its INVITE to the desk phone left with the one back to Switchboard)
    // was under way before device 1 answered, so a second ring would have reached it.
    let forked = dk.traced_at(false, "INVITE ").unwrap();
    let answered = d1.traced_at(true, "SIP/2.0 200 ").unwrap();
    assert!(
        forked < answered,
        "device 1 answered before the PBX forked back: the test proves nothing\n{}",
        rig.accounts(&all)
    );
    // The PBX saw one INVITE, from Switchboard, with a mark; it forked once (desk phone
    // and back to Switchboard); nothing came back to it again (no loop).
    let invites = rig.pbx.lines("PBX-INVITE");
    assert_eq!(invites.len(), 1, "{invites:?}\n{}", rig.accounts(&all));
    assert_eq!(source(&invites[0]), sb, "{invites:?}");
    let mark = field(&invites[0], "mark=");
    assert!(
        mark.len() == 16 && mark.bytes().all(|b| b.is_ascii_hexdigit()),
        "the INVITE to the PBX carries no {MARK} mark: {}",
        invites[0]
    );
    assert!(
        invites[0].contains(&format!("rU={EXTENSION}")),
        "{}",
        invites[0]
    );
    let forks = rig.pbx.lines("PBX-FORK");
    assert_eq!(forks.len(), 1, "{forks:?}");
    // Its branch back to Switchboard carried Switchboard's mark unchanged.
    let branches = rig.pbx.lines("PBX-BRANCH");
    let back: Vec<&String> = branches
        .iter()
        .filter(|l| field(l, "ruri=").starts_with(&format!("sip:{ALICE_NUMBER}@")))
        .collect();
    assert_eq!(back.len(), 1, "{branches:?}");
    assert_eq!(field(back[0], "mark="), mark, "{branches:?}");
    // Switchboard routed the caller's call and at most the PBX's fork back: nothing went
    // round again.
    let routed = rig.routed();
    assert!(
        (1..=2).contains(&routed),
        "Switchboard routed {routed} new calls\n{}",
        rig.server.metrics()
    );
    // Switchboard cancelled its branch to the PBX when device 1 answered.
    let cancels = rig.pbx.lines("PBX-CANCEL");
    assert!(
        cancels.iter().any(|l| source(l) == sb),
        "Switchboard never cancelled the PBX branch: {cancels:?}\n{}",
        rig.accounts(&all)
    );
    // Every branch Kamailio forked (the desk phone, the fork back to Switchboard) got its
    // final answer: tm frees its transactions (wait timer 2 s) instead of holding them
    // until fr_inv_timer (60 s).
    rig.pbx.wait_drained(Duration::from_secs(20));
}

#[test]
fn when_the_pbx_desk_phone_answers_the_devices_get_cancel_and_the_pbx_drains() {
    let rig = Rig::start("pbx-desk-answers");
    let sb = format!("127.0.0.1:{}", rig.site.sip_port);
    let mut ringing_1 = SippPeer::uas("routing/pbx_ring_until_cancel.xml", rig.devices[0], &[]);
    let mut ringing_2 = SippPeer::uas("routing/pbx_ring_until_cancel.xml", rig.devices[1], &[]);
    // The desk phone answers after 3 s, once the PBX's fork back has reached Switchboard.
    let mut desk = SippPeer::uas("routing/pbx_device_answer.xml", rig.desk_port, &[]);
    let mut caller = SippPeer::uac(
        "routing/gw_caller.xml",
        rig.site.sip_port,
        &[("ruri", "sip:alice@127.0.0.1"), ("caller", "bob")],
    );
    let c = caller.finish(Duration::from_secs(60));
    let wait = Duration::from_secs(if c.ok { 30 } else { 5 });
    let d1 = ringing_1.finish(wait);
    let d2 = ringing_2.finish(wait);
    let dk = desk.finish(wait);
    let all = [&c, &d1, &d2, &dk];
    // The caller got the desk phone's 200 (and its BYE reached the desk phone through
    // both proxies); both devices rang once and were cancelled with 487.
    for o in all {
        assert!(o.ok, "{}", rig.accounts(&all));
    }
    for (name, o) in [("device 1", &d1), ("device 2", &d2), ("desk phone", &dk)] {
        let n = o.requests("INVITE").len();
        assert_eq!(n, 1, "{name} saw {n} INVITEs\n{}", rig.accounts(&all));
    }
    let invites = rig.pbx.lines("PBX-INVITE");
    assert_eq!(invites.len(), 1, "{invites:?}\n{}", rig.accounts(&all));
    assert_eq!(source(&invites[0]), sb, "{invites:?}");
    // The PBX cancelled its fork back to Switchboard when its desk phone answered, and
    // every transaction it held ended.
    rig.pbx.wait_drained(Duration::from_secs(20));
}

#[test]
fn a_pbx_users_call_without_a_mark_rings_the_devices_and_is_not_sent_back() {
    let rig = Rig::start("pbx-inbound");
    let mut answering = SippPeer::uas("routing/pbx_device_answer.xml", rig.devices[0], &[]);
    let mut ringing = SippPeer::uas("routing/pbx_ring_until_cancel.xml", rig.devices[1], &[]);
    // A PBX phone dials alice's number; the PBX relays it to Switchboard, unmarked.
    let ruri = format!("sip:{ALICE_NUMBER}@127.0.0.1:{};user=phone", rig.pbx.port);
    let mut caller = SippPeer::uac(
        "routing/gw_caller.xml",
        rig.pbx.port,
        &[("ruri", &ruri), ("caller", "4000")],
    );
    let c = caller.finish(Duration::from_secs(60));
    let wait = Duration::from_secs(if c.ok { 30 } else { 5 });
    let d1 = answering.finish(wait);
    let d2 = ringing.finish(wait);
    let all = [&c, &d1, &d2];
    for o in all {
        assert!(o.ok, "{}", rig.accounts(&all));
    }
    for (name, o) in [("device 1", &d1), ("device 2", &d2)] {
        let n = o.requests("INVITE").len();
        assert_eq!(n, 1, "{name} saw {n} INVITEs\n{}", rig.accounts(&all));
        let invite = &o.requests("INVITE")[0];
        assert!(
            !invite.lines().any(|l| l.starts_with(&format!("{MARK}:"))),
            "{name} got a mark it should never see:\n{invite}"
        );
    }
    // The PBX saw only its own user's INVITE: Switchboard sent nothing back to it.
    let invites = rig.pbx.lines("PBX-INVITE");
    assert_eq!(invites.len(), 1, "{invites:?}\n{}", rig.accounts(&all));
    assert_eq!(
        source(&invites[0]),
        format!("127.0.0.1:{}", caller.port),
        "{invites:?}"
    );
    assert!(rig.pbx.lines("PBX-FORK").is_empty());
    assert_eq!(rig.pbx.lines("PBX-OUT").len(), 1);
    // And Switchboard routed exactly one new call: the PBX user's.
    assert_eq!(rig.routed(), 1, "{}", rig.server.metrics());
    rig.pbx.wait_drained(Duration::from_secs(20));
}
