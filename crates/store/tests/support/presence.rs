//! Presence behaviours (issue 6), run on both backends by `tests/store.rs`.

use sb_store::presence::contact_list_uri;
use sb_store::{
    AccessRule, Change, InCallFlag, ManualPresence, Outcome, Publication, Store, StoreError,
    Subscription, Watcher,
};

use super::{addr, domain, user, Fixture};

async fn alice_and_bob(store: &dyn Store) {
    store.add_domain(&domain("example.com")).await.unwrap();
    for a in ["sip:alice@example.com", "sip:bob@example.com"] {
        store.add_user(&user(a, None)).await.unwrap();
    }
}

fn manual(who: &str, availability: &str, note: Option<&str>, until: Option<i64>) -> ManualPresence {
    ManualPresence {
        user: addr(who),
        availability: availability.into(),
        note: note.map(str::to_owned),
        until,
        updated_at: 1_000,
    }
}

fn rule(owner: &str, watcher: &str, level: &str) -> AccessRule {
    AccessRule {
        owner: addr(owner),
        watcher: Watcher::parse(watcher).unwrap(),
        level: level.into(),
    }
}

fn publication(entity: &str, etag: &str, expires_at: i64, updated_at: i64) -> Publication {
    Publication {
        entity: addr(entity),
        etag: etag.into(),
        expires_at,
        body: format!("<presence entity=\"{entity}\"/>"),
        updated_at,
    }
}

fn subscription(id: &str, entity: &str, expires_at: i64) -> Subscription {
    Subscription {
        id: id.into(),
        entity: addr(entity),
        watcher: "sip:bob@example.com".into(),
        event: "presence".into(),
        dialog: format!("{{\"call_id\":\"{id}\",\"cseq\":1}}"),
        expires_at,
    }
}

pub async fn manual_presence_set_replace_clear(f: &Fixture) {
    let s = f.open().await;
    alice_and_bob(&*s).await;
    let alice = addr("sip:alice@example.com");
    let dnd = manual("sip:alice@example.com", "dnd", Some("focus"), Some(5_000));
    assert_eq!(s.put_manual_presence(&dnd).await.unwrap(), Outcome::Added);
    assert_eq!(
        s.put_manual_presence(&dnd).await.unwrap(),
        Outcome::Unchanged
    );
    let row = s.get_presence_row(&alice).await.unwrap();
    assert_eq!(row.manual.as_ref(), Some(&dnd));

    let away = manual("sip:alice@example.com", "away", None, None);
    assert_eq!(
        s.put_manual_presence(&away).await.unwrap(),
        Outcome::Changed
    );
    assert_eq!(s.list_manual_presence().await.unwrap(), [away]);

    assert_eq!(
        s.clear_manual_presence(&alice).await.unwrap(),
        Outcome::Removed
    );
    assert_eq!(
        s.clear_manual_presence(&alice).await.unwrap(),
        Outcome::Unchanged
    );
    assert_eq!(s.get_presence_row(&alice).await.unwrap().manual, None);

    let bad = manual("sip:alice@example.com", "asleep", None, None);
    let e = s.put_manual_presence(&bad).await.unwrap_err();
    assert!(e.to_string().contains("availability"), "{e}");
    let stranger = manual("sip:carol@example.com", "busy", None, None);
    let e = s.put_manual_presence(&stranger).await.unwrap_err();
    assert!(
        matches!(e, StoreError::NotFound { entity: "user", .. }),
        "{e}"
    );
}

pub async fn access_rules_by_watcher(f: &Fixture) {
    let s = f.open().await;
    alice_and_bob(&*s).await;
    let alice = addr("sip:alice@example.com");
    let boss = rule("sip:alice@example.com", "sip:boss@example.com", "team");
    let domain_rule = rule("sip:alice@example.com", "example.com", "colleagues");
    let everyone = rule("sip:alice@example.com", "everyone", "blocked");
    for r in [&boss, &domain_rule, &everyone] {
        assert_eq!(s.set_access_rule(r).await.unwrap(), Outcome::Added);
    }
    assert_eq!(s.set_access_rule(&boss).await.unwrap(), Outcome::Unchanged);
    let personal = rule("sip:alice@example.com", "sip:boss@example.com", "personal");
    assert_eq!(
        s.set_access_rule(&personal).await.unwrap(),
        Outcome::Changed
    );
    let listed = s.list_access_rules(&alice).await.unwrap();
    assert_eq!(
        listed,
        [domain_rule.clone(), everyone.clone(), personal.clone()]
    );
    assert_eq!(s.get_presence_row(&alice).await.unwrap().access, listed);
    assert!(s
        .list_access_rules(&addr("sip:bob@example.com"))
        .await
        .unwrap()
        .is_empty());

    s.remove_access_rule(&alice, &Watcher::Everyone)
        .await
        .unwrap();
    let e = s
        .remove_access_rule(&alice, &Watcher::Everyone)
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "access rule for everyone not found");
    assert_eq!(s.list_all_access_rules().await.unwrap().len(), 2);

    let e = s
        .set_access_rule(&rule("sip:alice@example.com", "example.org", "boss"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("level"), "{e}");

    // The site file's form: the whole set at once.
    let only = vec![rule("sip:alice@example.com", "example.org", "public")];
    let out = s
        .apply(Change::ReplaceAccessRules(alice.clone(), only.clone()))
        .await
        .unwrap();
    assert_eq!(out, Outcome::Changed);
    assert_eq!(s.list_access_rules(&alice).await.unwrap(), only);
    let again = s
        .apply(Change::ReplaceAccessRules(alice.clone(), only.clone()))
        .await
        .unwrap();
    assert_eq!(again, Outcome::Unchanged);
}

pub async fn contact_list_keeps_order(f: &Fixture) {
    let s = f.open().await;
    alice_and_bob(&*s).await;
    let alice = addr("sip:alice@example.com");
    let members = [
        addr("sip:zoe@example.com"),
        addr("sip:bob@example.com"),
        addr("sip:max@partner.example"),
    ];
    assert_eq!(
        s.set_contact_list(&alice, &members).await.unwrap(),
        Outcome::Added
    );
    assert_eq!(s.list_contact_list(&alice).await.unwrap(), members);
    assert_eq!(
        s.set_contact_list(&alice, &members).await.unwrap(),
        Outcome::Unchanged
    );
    assert_eq!(
        s.set_contact_list(&alice, &members[1..]).await.unwrap(),
        Outcome::Changed
    );
    assert_eq!(s.list_contact_list(&alice).await.unwrap(), &members[1..]);

    let twice = [members[1].clone(), members[1].clone()];
    let e = s.set_contact_list(&alice, &twice).await.unwrap_err();
    assert!(e.to_string().contains("listed twice"), "{e}");
    let e = s
        .set_contact_list(&alice, std::slice::from_ref(&alice))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("own list"), "{e}");
    assert_eq!(s.list_contact_list(&alice).await.unwrap(), &members[1..]);
    assert_eq!(
        contact_list_uri(&alice).as_str(),
        "sip:alice-contacts@example.com"
    );
}

pub async fn calendar_set_and_clear(f: &Fixture) {
    let s = f.open().await;
    alice_and_bob(&*s).await;
    let alice = addr("sip:alice@example.com");
    let url = "https://cal.example.com/alice.ics";
    assert_eq!(
        s.set_calendar(&alice, Some(url)).await.unwrap(),
        Outcome::Added
    );
    assert_eq!(
        s.get_presence_row(&alice)
            .await
            .unwrap()
            .calendar
            .as_deref(),
        Some(url)
    );
    assert_eq!(
        s.set_calendar(&alice, Some("/srv/cal/alice.ics"))
            .await
            .unwrap(),
        Outcome::Changed
    );
    assert_eq!(s.list_calendars().await.unwrap().len(), 1);
    let e = s
        .set_calendar(&alice, Some("ftp://cal/x.ics"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("calendar"), "{e}");
    assert_eq!(
        s.set_calendar(&alice, None).await.unwrap(),
        Outcome::Removed
    );
    assert_eq!(
        s.set_calendar(&alice, None).await.unwrap(),
        Outcome::Unchanged
    );
    assert!(s.list_calendars().await.unwrap().is_empty());
}

pub async fn publications_replace_and_expire(f: &Fixture) {
    let s = f.open().await;
    alice_and_bob(&*s).await;
    let bob = addr("sip:bob@example.com");
    s.put_publication(&publication("sip:bob@example.com", "e1", 100, 10), None)
        .await
        .unwrap();
    s.put_publication(&publication("sip:bob@example.com", "e2", 300, 20), None)
        .await
        .unwrap();
    // A refresh issues a new tag in place of the old one (RFC 3903 §4.2).
    let refreshed = publication("sip:bob@example.com", "e3", 400, 30);
    s.put_publication(&refreshed, Some("e1")).await.unwrap();
    let tags: Vec<String> = s
        .list_publications(Some(&bob))
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.etag)
        .collect();
    assert_eq!(tags, ["e2", "e3"]);
    assert_eq!(
        s.get_presence_row(&bob).await.unwrap().publications.len(),
        2
    );
    assert!(s.remove_publication(&bob, "e2").await.unwrap());
    assert!(!s.remove_publication(&bob, "e2").await.unwrap());
    s.put_publication(&publication("sip:alice@example.com", "a1", 50, 5), None)
        .await
        .unwrap();
    assert_eq!(s.list_publications(None).await.unwrap().len(), 2);
    assert_eq!(s.remove_publications_expired_before(400).await.unwrap(), 1);
    assert_eq!(s.list_publications(None).await.unwrap(), [refreshed]);
}

pub async fn subscriptions_survive_reopen(f: &Fixture) {
    let s = f.open().await;
    alice_and_bob(&*s).await;
    let alice = addr("sip:alice@example.com");
    let list = contact_list_uri(&alice);
    s.put_subscription(&subscription("s1", "sip:alice@example.com", 100))
        .await
        .unwrap();
    s.put_subscription(&subscription("s2", list.as_str(), 200))
        .await
        .unwrap();
    let mut refreshed = subscription("s1", "sip:alice@example.com", 500);
    refreshed.dialog = "{\"cseq\":2}".into();
    s.put_subscription(&refreshed).await.unwrap();
    s.set_in_call(&InCallFlag {
        address: alice.clone(),
        in_call: true,
        updated_at: 7,
    })
    .await
    .unwrap();
    s.close().await;

    // A restarted server (or another front end) sees the same live state.
    let again = f.open().await;
    assert_eq!(
        again.list_subscriptions(Some(&alice)).await.unwrap(),
        [refreshed.clone()]
    );
    assert_eq!(again.list_subscriptions(None).await.unwrap().len(), 2);
    assert_eq!(again.list_in_call().await.unwrap()[0].address, alice);
    assert!(again.remove_subscription("s2").await.unwrap());
    assert!(!again.remove_subscription("s2").await.unwrap());
    assert_eq!(
        again
            .remove_subscriptions_expired_before(600)
            .await
            .unwrap(),
        1
    );
    assert!(again.list_subscriptions(None).await.unwrap().is_empty());

    again
        .set_in_call(&InCallFlag {
            address: alice.clone(),
            in_call: false,
            updated_at: 9,
        })
        .await
        .unwrap();
    assert!(again.list_in_call().await.unwrap().is_empty());
    let flag = again.get_presence_row(&alice).await.unwrap().in_call;
    assert_eq!(flag.map(|f| (f.in_call, f.updated_at)), Some((false, 9)));
}

pub async fn presence_generation_is_for_provisioning_only(f: &Fixture) {
    let s = f.open().await;
    alice_and_bob(&*s).await;
    let alice = addr("sip:alice@example.com");
    let mut seen = s.generation().await.unwrap();
    let mut bumped = |now: i64, what: &str| {
        assert!(now > seen, "{what} did not bump the generation");
        seen = now;
    };
    s.put_manual_presence(&manual("sip:alice@example.com", "busy", None, None))
        .await
        .unwrap();
    bumped(s.generation().await.unwrap(), "manual state");
    s.set_access_rule(&rule("sip:alice@example.com", "example.com", "team"))
        .await
        .unwrap();
    bumped(s.generation().await.unwrap(), "access rule");
    s.set_contact_list(&alice, &[addr("sip:bob@example.com")])
        .await
        .unwrap();
    bumped(s.generation().await.unwrap(), "contact list");
    s.set_calendar(&alice, Some("/cal/alice.ics"))
        .await
        .unwrap();
    bumped(s.generation().await.unwrap(), "calendar");

    s.put_publication(&publication("sip:alice@example.com", "e1", 100, 1), None)
        .await
        .unwrap();
    s.put_subscription(&subscription("s1", "sip:alice@example.com", 100))
        .await
        .unwrap();
    s.set_in_call(&InCallFlag {
        address: alice.clone(),
        in_call: true,
        updated_at: 1,
    })
    .await
    .unwrap();
    assert_eq!(
        s.generation().await.unwrap(),
        seen,
        "live state bumped the generation"
    );
}

pub async fn presence_goes_with_the_user(f: &Fixture) {
    let s = f.open().await;
    alice_and_bob(&*s).await;
    let alice = addr("sip:alice@example.com");
    // One batch: a user and their presence settings, all or nothing.
    let carol = addr("sip:carol@example.com");
    let batch = vec![
        Change::AddUser(user("sip:carol@example.com", None)),
        Change::SetContactList(carol.clone(), vec![alice.clone()]),
        Change::SetManualPresence(manual("sip:carol@example.com", "asleep", None, None)),
    ];
    let e = s.apply_batch(batch).await.unwrap_err();
    assert!(matches!(e, StoreError::Batch { index: 2, .. }), "{e}");
    assert!(s.get_user(&carol).await.unwrap().is_none());

    s.put_manual_presence(&manual("sip:alice@example.com", "brb", None, None))
        .await
        .unwrap();
    s.set_access_rule(&rule("sip:alice@example.com", "everyone", "public"))
        .await
        .unwrap();
    s.set_contact_list(&alice, &[addr("sip:bob@example.com")])
        .await
        .unwrap();
    s.set_calendar(&alice, Some("/cal/alice.ics"))
        .await
        .unwrap();
    s.put_publication(&publication("sip:alice@example.com", "e1", 100, 1), None)
        .await
        .unwrap();
    s.remove_user(&alice).await.unwrap();
    assert_eq!(
        s.get_presence_row(&alice).await.unwrap(),
        Default::default()
    );
    assert!(s.list_contact_list(&alice).await.unwrap().is_empty());
    // Members are addresses, not users: a removed user may stay on another's list.
    s.set_contact_list(&addr("sip:bob@example.com"), std::slice::from_ref(&alice))
        .await
        .unwrap();
}
