//! Resource lists (RFC 4662) through `PresenceServer`: one SUBSCRIBE to a user's contact
//! list gets full state for every member, then partial NOTIFYs with only the members that
//! changed; refresh and expiry on the virtual clock.

mod server_util;
use sb_presence::model::{Availability, ManualState};
use server_util::*;

const LIST: &str = "sip:alice-contacts@example.com";

fn members(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("sip:user{i}@example.com")).collect()
}

fn busy(note: &str) -> Option<ManualState> {
    Some(ManualState {
        availability: Availability::Busy,
        note: Some(note.into()),
        until: None,
    })
}

/// The RLMI root part's `<list ...>` attributes and the resource URIs it names.
struct Rlmi {
    version: String,
    full: String,
    resources: Vec<String>,
    parts: usize,
}

fn rlmi(n: &sb_presence::OutgoingNotify) -> Rlmi {
    let ctype = n.request.headers.content_type().unwrap();
    assert!(ctype.starts_with("multipart/related"), "{ctype}");
    assert!(ctype.contains("application/rlmi+xml"));
    let b = body(n);
    let list_at = b.find("<list ").expect("an RLMI document");
    let list = &b[list_at..];
    let attr = |name: &str| {
        let start = list.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        list[start..].split('"').next().unwrap().to_string()
    };
    let resources = list
        .split("<resource uri=\"")
        .skip(1)
        .map(|r| r.split('"').next().unwrap().to_string())
        .collect();
    Rlmi {
        version: attr("version"),
        full: attr("fullState"),
        resources,
        parts: b.matches("Content-Type: application/pidf+xml").count(),
    }
}

fn list_sub() -> Sub {
    Sub::new(ALICE, LIST, "l-1").header("Supported: path, eventlist")
}

#[test]
fn two_hundred_contacts_full_state_then_partial_updates() {
    let mut s = server();
    s.set_contact_list(T0, ALICE, LIST, members(200));
    assert!(s.is_list(LIST));
    let mut w = list_sub();
    let r = w.send(&mut s, T0, 3_600, Some(ALICE));
    assert_eq!(r.status, 200);
    let n = drain(&mut s, T0);
    assert_eq!(n.len(), 1, "one NOTIFY for the whole list");
    let doc = rlmi(&n[0]);
    assert_eq!((doc.version.as_str(), doc.full.as_str()), ("0", "true"));
    assert_eq!(doc.resources, members(200));
    assert_eq!(doc.parts, 200, "one PIDF part per member");
    assert!(sub_state(&n[0]).starts_with("active"));

    // One member changes: a partial NOTIFY with that member only.
    s.set_manual(T0 + 10_000, "sip:user17@example.com", busy("in the lab"));
    let n = drain(&mut s, T0 + 10_000);
    assert_eq!(n.len(), 1);
    let doc = rlmi(&n[0]);
    assert_eq!((doc.version.as_str(), doc.full.as_str()), ("1", "false"));
    assert_eq!(doc.resources, ["sip:user17@example.com"]);
    assert!(
        body(&n[0]).contains("in the lab"),
        "the owner is a colleague: sees the note"
    );

    // Three changes inside one throttle interval: one NOTIFY naming the three.
    for i in [3, 150, 199] {
        s.set_manual(T0 + 11_000, &format!("sip:user{i}@example.com"), busy("x"));
    }
    assert!(drain(&mut s, T0 + 11_000).is_empty());
    let n = run_until(&mut s, T0 + 15_000);
    assert_eq!(n.len(), 1);
    let doc = rlmi(&n[0].1);
    assert_eq!(doc.version, "2");
    assert_eq!(doc.resources.len(), 3);

    // A change to someone not on the list sends nothing.
    s.set_manual(T0 + 30_000, "sip:stranger@example.com", busy("y"));
    assert!(drain(&mut s, T0 + 30_000).is_empty());
}

#[test]
fn refresh_gives_full_state_and_expiry_terminates() {
    let mut s = server();
    s.set_contact_list(T0, ALICE, LIST, members(200));
    let mut w = list_sub();
    w.send(&mut s, T0, 600, Some(ALICE));
    drain(&mut s, T0);
    let r = w.send(&mut s, T0 + 300_000, 600, Some(ALICE));
    assert_eq!(r.status, 200);
    let n = drain(&mut s, T0 + 300_000);
    let doc = rlmi(&n[0]);
    assert_eq!((doc.version.as_str(), doc.full.as_str()), ("1", "true"));
    assert_eq!(doc.resources.len(), 200);

    assert!(run_until(&mut s, T0 + 899_999).is_empty());
    let n = run_until(&mut s, T0 + 900_000);
    assert_eq!(n.len(), 1);
    assert_eq!(sub_state(&n[0].1), "terminated;reason=timeout");
    assert_eq!(s.subscriptions(), 0);
}

#[test]
fn list_subscriptions_need_eventlist_and_the_owner() {
    let mut s = server();
    s.set_contact_list(T0, ALICE, LIST, members(3));
    let r = Sub::new(ALICE, LIST, "l-no").send(&mut s, T0, 600, Some(ALICE));
    assert_eq!(r.status, 421);
    assert_eq!(reply_header(&r, "Require").as_deref(), Some("eventlist"));
    let r = Sub::new(BOB, LIST, "l-bob")
        .header("Supported: eventlist")
        .send(&mut s, T0, 600, Some(BOB));
    assert_eq!(r.status, 403);
    let r = Sub::new(BOB, LIST, "l-anon")
        .header("Supported: eventlist")
        .send(&mut s, T0, 600, None);
    assert_eq!(r.status, 403);
    let r = Sub::new(ALICE, LIST, "l-dialog")
        .event("dialog")
        .header("Supported: eventlist")
        .send(&mut s, T0, 600, Some(ALICE));
    assert_eq!(r.status, 489, "a list has no dialog package");
}

#[test]
fn editing_the_list_sends_full_state_and_removing_it_ends_the_subscription() {
    let mut s = server();
    s.set_contact_list(T0, ALICE, LIST, members(3));
    let mut w = list_sub();
    w.send(&mut s, T0, 3_600, Some(ALICE));
    drain(&mut s, T0);
    s.set_contact_list(T0 + 10_000, ALICE, LIST, members(4));
    let n = drain(&mut s, T0 + 10_000);
    let doc = rlmi(&n[0]);
    assert_eq!((doc.full.as_str(), doc.resources.len()), ("true", 4));
    s.set_contact_list(T0 + 20_000, ALICE, LIST, Vec::new());
    let n = run_until(&mut s, T0 + 20_000);
    let n: Vec<_> = n
        .into_iter()
        .map(|(_, n)| n)
        .chain(drain(&mut s, T0 + 20_000))
        .collect();
    assert_eq!(n.len(), 1);
    assert_eq!(sub_state(&n[0]), "terminated;reason=noresource");
    assert_eq!(s.subscriptions(), 0);
    assert!(!s.is_list(LIST));
}
