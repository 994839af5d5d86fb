//! Snapshot and restore: subscriptions, publications, lists and settings survive a
//! restart, and the dialogs continue where they were.

mod server_util;
use sb_presence::model::{Availability, ManualState};
use server_util::*;

#[test]
fn a_restored_server_continues_the_same_dialogs_and_etags() {
    let mut s = server();
    s.set_signed_in(T0, BOB, true);
    let mut w = Sub::new(ALICE, BOB, "snap-1");
    w.send(&mut s, T0, 3_600, Some(ALICE));
    let mut short = Sub::new("sip:carol@example.com", BOB, "snap-2");
    short.send(&mut s, T0, 60, Some("sip:carol@example.com"));
    let first = drain(&mut s, T0);
    let r = s.handle_publish(
        T0,
        &publish(BOB, None, Some(3_600), Some(&pidf(BOB, true, None))),
        BOB,
    );
    let etag = reply_header(&r, "SIP-ETag").unwrap();
    s.set_contact_list(T0, ALICE, "sip:alice-list@example.com", vec![BOB.into()]);
    drain(&mut s, T0);
    let snap = s.snapshot();
    assert_eq!(snap.subscriptions.len(), 2);
    assert_eq!(snap.publications.len(), 1);

    // Restart two minutes later: carol's 60 s subscription lapsed meanwhile.
    let later = T0 + 120_000;
    let mut s2 = server();
    s2.restore(later, snap);
    assert_eq!(s2.subscriptions(), 1);
    assert!(s2.is_list("sip:alice-list@example.com"));
    assert!(
        drain(&mut s2, later).is_empty(),
        "a restore alone tells nobody anything"
    );

    s2.set_manual(
        later,
        BOB,
        Some(ManualState {
            availability: Availability::Away,
            note: None,
            until: None,
        }),
    );
    let n = drain(&mut s2, later);
    assert_eq!(n.len(), 1);
    let alice_first = first
        .iter()
        .find(|n| n.request.headers.call_id().unwrap().as_str() == "snap-1")
        .unwrap();
    assert_eq!(n[0].request.headers.call_id().unwrap().as_str(), "snap-1");
    assert_eq!(
        n[0].request.headers.from().unwrap().tag(),
        alice_first.request.headers.from().unwrap().tag()
    );
    assert_eq!(
        n[0].request.headers.cseq().unwrap().seq,
        alice_first.request.headers.cseq().unwrap().seq + 1
    );
    // The device refreshes with the tag it got before the restart.
    let r = s2.handle_publish(later, &publish(BOB, Some(&etag), Some(3_600), None), BOB);
    assert_eq!(r.status, 200);
    // The subscriber refreshes its dialog.
    assert_eq!(
        w.send(&mut s2, later + 1_000, 3_600, Some(ALICE)).status,
        200
    );
}
