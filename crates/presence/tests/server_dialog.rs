//! The dialog event package (RFC 4235) through `PresenceServer`: busy lamps.

mod server_util;
use sb_presence::doc::dialog_info::{DialogState, DialogView};
use server_util::*;

fn version_and_state(b: &str) -> (String, String) {
    let b = &b[b.find("<dialog-info").expect("a dialog-info document")..];
    let attr = |name: &str| {
        let start = b.find(&format!(" {name}=\"")).expect("attribute present") + name.len() + 3;
        b[start..].split('"').next().unwrap().to_string()
    };
    (attr("version"), attr("state"))
}

#[test]
fn set_dialogs_drives_full_then_partial_dialog_info_with_versions() {
    let mut s = server();
    let mut w = Sub::new(ALICE, BOB, "d-1").event("dialog");
    assert_eq!(w.send(&mut s, T0, 3_600, Some(ALICE)).status, 200);
    let n = drain(&mut s, T0);
    assert_eq!(n.len(), 1);
    assert_eq!(header(&n[0], "Event"), Some("dialog"));
    assert_eq!(
        n[0].request.headers.content_type(),
        Some("application/dialog-info+xml")
    );
    assert_eq!(version_and_state(&body(&n[0])), ("0".into(), "full".into()));
    assert!(!body(&n[0]).contains("<dialog id"), "idle: no dialogs");

    // A call rings: partial, version 1, the one dialog early.
    s.set_dialogs(
        T0 + 10_000,
        BOB,
        vec![DialogView::new("call-1", DialogState::Early)],
    );
    let n = drain(&mut s, T0 + 10_000);
    assert_eq!(n.len(), 1);
    let b = body(&n[0]);
    assert_eq!(version_and_state(&b), ("1".into(), "partial".into()));
    assert!(b.contains("<dialog id=\"call-1\"") && b.contains(">early</state>"));

    // Answered.
    s.set_dialogs(
        T0 + 20_000,
        BOB,
        vec![DialogView::new("call-1", DialogState::Confirmed)],
    );
    let b = body(&drain(&mut s, T0 + 20_000)[0]);
    assert_eq!(version_and_state(&b), ("2".into(), "partial".into()));
    assert!(b.contains(">confirmed</state>"));

    // Hung up: the dialog vanishes, and the watcher is told it terminated.
    s.set_dialogs(T0 + 30_000, BOB, Vec::new());
    let b = body(&drain(&mut s, T0 + 30_000)[0]);
    assert_eq!(version_and_state(&b), ("3".into(), "partial".into()));
    assert!(b.contains(">terminated</state>"));

    // The same (empty) set again changes nothing and sends nothing.
    s.set_dialogs(T0 + 40_000, BOB, Vec::new());
    assert!(drain(&mut s, T0 + 40_000).is_empty());

    // A refresh gets full state with the next version.
    w.send(&mut s, T0 + 50_000, 3_600, Some(ALICE));
    let b = body(&drain(&mut s, T0 + 50_000)[0]);
    assert_eq!(version_and_state(&b), ("4".into(), "full".into()));
}

#[test]
fn presence_changes_do_not_wake_dialog_watchers_and_vice_versa() {
    let mut s = server();
    let mut d = Sub::new(ALICE, BOB, "d-2").event("dialog");
    let mut p = Sub::new(ALICE, BOB, "p-2");
    d.send(&mut s, T0, 3_600, Some(ALICE));
    p.send(&mut s, T0, 3_600, Some(ALICE));
    assert_eq!(drain(&mut s, T0).len(), 2);
    s.set_signed_in(T0 + 10_000, BOB, true);
    let n = drain(&mut s, T0 + 10_000);
    assert_eq!(n.len(), 1);
    assert_eq!(header(&n[0], "Event"), Some("presence"));
    s.set_dialogs(
        T0 + 20_000,
        BOB,
        vec![DialogView::new("c", DialogState::Trying)],
    );
    let n = drain(&mut s, T0 + 20_000);
    assert_eq!(n.len(), 1);
    assert_eq!(header(&n[0], "Event"), Some("dialog"));
}

#[test]
fn dialog_identifiers_reach_team_watchers_only() {
    use sb_presence::model::{AccessLevel, AccessRule, WatcherMatch};
    let mut s = server();
    let team = "sip:tina@example.com";
    let blocked = "sip:mallory@example.com";
    s.set_access_rules(
        T0,
        BOB,
        vec![
            AccessRule {
                watcher: WatcherMatch::User(team.into()),
                level: AccessLevel::Team,
            },
            AccessRule {
                watcher: WatcherMatch::User(blocked.into()),
                level: AccessLevel::Blocked,
            },
        ],
    );
    let mut subs = [
        Sub::new(team, BOB, "dt").event("dialog"),
        Sub::new(ALICE, BOB, "dc").event("dialog"),
        Sub::new(blocked, BOB, "db").event("dialog"),
    ];
    let who = [team, ALICE, blocked];
    for (sub, w) in subs.iter_mut().zip(who) {
        assert_eq!(sub.send(&mut s, T0, 3_600, Some(w)).status, 200);
    }
    drain(&mut s, T0);
    let mut call = DialogView::new("call-9", DialogState::Confirmed);
    call.call_id = Some("abc@phone".into());
    call.local_tag = Some("lt".into());
    call.remote_tag = Some("rt".into());
    call.remote_identity = Some("sip:customer@elsewhere.test".into());
    s.set_dialogs(T0 + 10_000, BOB, vec![call]);
    let n = drain(&mut s, T0 + 10_000);
    let by = |cid: &str| {
        n.iter()
            .find(|n| n.request.headers.call_id().unwrap().as_str() == cid)
            .map(body)
    };
    let team_doc = by("dt").unwrap();
    assert!(
        team_doc.contains("call-id=\"abc@phone\"") && team_doc.contains("customer@elsewhere.test")
    );
    let colleague_doc = by("dc").unwrap();
    assert!(colleague_doc.contains(">confirmed</state>"), "a busy lamp");
    assert!(!colleague_doc.contains("abc@phone") && !colleague_doc.contains("customer@"));
    assert!(
        by("db").is_none(),
        "a blocked watcher's line stays idle: nothing to send"
    );
}
