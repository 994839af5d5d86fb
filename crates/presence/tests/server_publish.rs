//! PUBLISH (RFC 3903) through `PresenceServer`: the entity-tag lifecycle, refusals, and
//! expiry on the virtual clock.

mod server_util;
use server_util::*;

#[test]
fn etag_lifecycle_initial_refresh_modify_remove() {
    let mut s = server();
    let doc = pidf(BOB, true, None);
    let r = s.handle_publish(T0, &publish(BOB, None, Some(600), Some(&doc)), BOB);
    assert_eq!(r.status, 200);
    assert_eq!(reply_header(&r, "Expires").as_deref(), Some("600"));
    let e1 = reply_header(&r, "SIP-ETag").expect("initial PUBLISH gets an entity tag");

    // Refresh: tag, no body; a new tag comes back and the old one is spent.
    let r = s.handle_publish(T0 + 1_000, &publish(BOB, Some(&e1), Some(600), None), BOB);
    assert_eq!(r.status, 200);
    let e2 = reply_header(&r, "SIP-ETag").unwrap();
    assert_ne!(e1, e2);
    let stale = s.handle_publish(T0 + 2_000, &publish(BOB, Some(&e1), Some(600), None), BOB);
    assert_eq!(stale.status, 412);

    // Modify: tag and a new document.
    let doc2 = pidf(BOB, true, Some("at the desk"));
    let r = s.handle_publish(
        T0 + 3_000,
        &publish(BOB, Some(&e2), Some(600), Some(&doc2)),
        BOB,
    );
    assert_eq!(r.status, 200);
    let e3 = reply_header(&r, "SIP-ETag").unwrap();
    assert_eq!(
        s.state_for(T0 + 3_000, BOB, Some(BOB)).note.as_deref(),
        Some("at the desk")
    );

    // Remove: Expires 0; the person is offline again and the tag is gone.
    let r = s.handle_publish(T0 + 4_000, &publish(BOB, Some(&e3), Some(0), None), BOB);
    assert_eq!(r.status, 200);
    assert_eq!(
        s.state_for(T0 + 4_000, BOB, Some(BOB)).availability,
        sb_presence::model::Availability::Offline
    );
    let r = s.handle_publish(T0 + 5_000, &publish(BOB, Some(&e3), Some(600), None), BOB);
    assert_eq!(r.status, 412);
}

#[test]
fn an_etag_of_another_entity_is_refused() {
    let mut s = server();
    let doc = pidf(BOB, true, None);
    let r = s.handle_publish(T0, &publish(BOB, None, None, Some(&doc)), BOB);
    let etag = reply_header(&r, "SIP-ETag").unwrap();
    let r = s.handle_publish(T0, &publish(ALICE, Some(&etag), None, None), ALICE);
    assert_eq!(r.status, 412);
}

#[test]
fn refusals_carry_the_headers_the_rfcs_ask_for() {
    let mut s = server();
    let doc = pidf(BOB, true, None);

    let mut req = publish(BOB, None, None, Some(&doc));
    req.headers.remove_other("Event");
    req.headers
        .push(sb_sip_msg::Header::Other(sb_sip_msg::OtherHeader {
            name: "Event".into(),
            value: "dialog".into(),
        }));
    let r = s.handle_publish(T0, &req, BOB);
    assert_eq!(r.status, 489);
    assert!(reply_header(&r, "Allow-Events").is_some());

    let mut req = publish(BOB, None, None, Some("hello"));
    req.headers.remove(sb_sip_msg::HeaderName::ContentType);
    req.headers
        .push(sb_sip_msg::Header::ContentType("text/plain".into()));
    let r = s.handle_publish(T0, &req, BOB);
    assert_eq!(r.status, 415);
    assert_eq!(
        reply_header(&r, "Accept").as_deref(),
        Some("application/pidf+xml")
    );

    let r = s.handle_publish(T0, &publish(BOB, None, None, Some("<presence")), BOB);
    assert_eq!(r.status, 400);

    let r = s.handle_publish(T0, &publish(BOB, None, Some(10), Some(&doc)), BOB);
    assert_eq!(r.status, 423);
    assert_eq!(reply_header(&r, "Min-Expires").as_deref(), Some("60"));

    let r = s.handle_publish(T0, &publish(BOB, None, None, None), BOB);
    assert_eq!(r.status, 400, "an initial PUBLISH needs a document");

    let r = s.handle_publish(T0, &publish(BOB, None, Some(99_999), Some(&doc)), BOB);
    assert_eq!(
        reply_header(&r, "Expires").as_deref(),
        Some("7200"),
        "capped at max_expires"
    );
}

#[test]
fn an_expired_publication_stops_counting_and_watchers_hear_it() {
    let mut s = server();
    let mut w = Sub::new(ALICE, BOB, "w1");
    assert_eq!(w.send(&mut s, T0, 3_600, Some(ALICE)).status, 200);
    let first = drain(&mut s, T0);
    assert_eq!(first.len(), 1);
    assert!(
        !read_pidf(&first[0]).basic_open,
        "nothing published yet: closed"
    );

    let doc = pidf(BOB, true, None);
    let r = s.handle_publish(T0 + 10_000, &publish(BOB, None, Some(120), Some(&doc)), BOB);
    assert_eq!(r.status, 200);
    let n = drain(&mut s, T0 + 10_000);
    assert_eq!(n.len(), 1);
    assert!(read_pidf(&n[0]).basic_open);

    // Nobody refreshes: at 130 s the publication lapses and the watcher is told.
    assert!(run_until(&mut s, T0 + 129_000).is_empty());
    let later = run_until(&mut s, T0 + 131_000);
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].0, T0 + 130_000);
    assert!(!read_pidf(&later[0].1).basic_open);
}
