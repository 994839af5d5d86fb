//! One async function per behaviour; `tests/store.rs` runs each on both backends.

use sb_store::{
    Binding, Change, Credential, DigestAlgorithm, DomainName, LineUri, Number, Outcome, Page,
    Store, StoreError, E164,
};

use super::{addr, binding, domain, user, Fixture};

pub use super::presence::*;

fn num(s: &str) -> E164 {
    E164::parse(s).unwrap()
}

async fn with_domain(store: &dyn Store, name: &str) {
    store.add_domain(&domain(name)).await.unwrap();
}

pub async fn domains_add_list_remove(f: &Fixture) {
    let s = f.open().await;
    with_domain(&*s, "b.example").await;
    with_domain(&*s, "A.Example").await;
    let names: Vec<String> = s
        .list_domains()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.name.to_string())
        .collect();
    assert_eq!(names, ["a.example", "b.example"]);

    let dup = s.add_domain(&domain("a.example")).await.unwrap_err();
    assert_eq!(dup.to_string(), "domain a.example is already taken");

    s.add_user(&user("sip:alice@a.example", None))
        .await
        .unwrap();
    let busy = s
        .remove_domain(&DomainName::parse("a.example").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(busy, StoreError::InUse { .. }), "{busy}");
    assert!(busy.to_string().contains("1 users"), "{busy}");

    s.remove_domain(&DomainName::parse("b.example").unwrap())
        .await
        .unwrap();
    let gone = s
        .remove_domain(&DomainName::parse("b.example").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            gone,
            StoreError::NotFound {
                entity: "domain",
                ..
            }
        ),
        "{gone}"
    );
    assert_eq!(s.list_domains().await.unwrap().len(), 1);
}

pub async fn users_add_get_update_remove(f: &Fixture) {
    let s = f.open().await;
    with_domain(&*s, "example.com").await;
    let mut alice = user("sip:alice@example.com", Some("tel:+14255550100"));
    alice.policies.insert("voicemail".into(), "on".into());
    s.add_user(&alice).await.unwrap();

    assert_eq!(
        s.get_user(&alice.address).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        s.get_user_by_number(&num("+14255550100")).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        s.get_user(&addr("sip:nobody@example.com")).await.unwrap(),
        None
    );

    let dup = s.add_user(&alice).await.unwrap_err();
    assert_eq!(
        dup.to_string(),
        "sip address sip:alice@example.com is already taken"
    );

    let stranger = s
        .add_user(&user("sip:eve@elsewhere.example", None))
        .await
        .unwrap_err();
    assert_eq!(stranger.to_string(), "domain elsewhere.example not found");

    assert_eq!(s.update_user(&alice).await.unwrap(), Outcome::Unchanged);
    alice.display_name = "Alice Smith".into();
    alice.enabled = false;
    assert_eq!(s.update_user(&alice).await.unwrap(), Outcome::Changed);
    let stored = s.get_user(&alice.address).await.unwrap().unwrap();
    assert_eq!(stored.display_name, "Alice Smith");
    assert!(!stored.enabled);

    let unknown = s
        .update_user(&user("sip:bob@example.com", None))
        .await
        .unwrap_err();
    assert_eq!(unknown.to_string(), "user sip:bob@example.com not found");

    let mut bad = user("sip:carol@example.com", None);
    bad.display_name = "Carol\u{7}".into();
    let invalid = s.add_user(&bad).await.unwrap_err();
    assert!(
        invalid.to_string().starts_with("invalid display name"),
        "{invalid}"
    );

    s.remove_user(&alice.address).await.unwrap();
    assert_eq!(s.get_user(&alice.address).await.unwrap(), None);
    assert_eq!(s.lookup_number(&num("+14255550100")).await.unwrap(), None);
    let again = s.remove_user(&alice.address).await.unwrap_err();
    assert!(matches!(again, StoreError::NotFound { entity: "user", .. }));
}

pub async fn duplicate_number_refused_naming_the_number(f: &Fixture) {
    let s = f.open().await;
    with_domain(&*s, "example.com").await;
    s.add_user(&user("sip:alice@example.com", Some("tel:+14255550100")))
        .await
        .unwrap();

    let bob = user("sip:bob@example.com", Some("tel:+14255550100"));
    let err = s.add_user(&bob).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict { field: "number", value } if value == "+14255550100"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "number +14255550100 is already taken");
    assert_eq!(
        s.get_user(&bob.address).await.unwrap(),
        None,
        "bob half-added"
    );

    s.add_user(&user("sip:bob@example.com", None))
        .await
        .unwrap();
    let err = s
        .assign_number(&Number {
            number: num("+14255550100"),
            user: addr("sip:bob@example.com"),
        })
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "number +14255550100 is already taken");
    let holder = s
        .lookup_number(&num("+14255550100"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(holder.user, addr("sip:alice@example.com"));
}

pub async fn extensions_share_a_main_number(f: &Fixture) {
    let s = f.open().await;
    with_domain(&*s, "example.com").await;
    let reception = user("sip:reception@example.com", Some("tel:+14255550100"));
    let alice = user("sip:alice@example.com", Some("tel:+14255550100;ext=100"));
    let bob = user("sip:bob@example.com", Some("tel:+14255550100;ext=101"));
    for u in [&reception, &alice, &bob] {
        s.add_user(u).await.unwrap();
    }
    assert_eq!(
        s.get_user_by_number(&num("+14255550100")).await.unwrap(),
        Some(reception),
        "the main number reaches the user who holds it"
    );
    let line = LineUri::parse("tel:+14255550100;ext=101").unwrap();
    assert_eq!(s.get_user_by_line_uri(&line).await.unwrap(), Some(bob));
    assert!(s.list_numbers(&alice.address).await.unwrap().is_empty());

    let carol = user("sip:carol@example.com", Some("tel:+14255550100;ext=100"));
    let err = s.add_user(&carol).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "line uri tel:+14255550100;ext=100 is already taken"
    );
    assert_eq!(s.get_user(&carol.address).await.unwrap(), None);
}

pub async fn numbers_follow_the_line_uri(f: &Fixture) {
    let s = f.open().await;
    with_domain(&*s, "example.com").await;
    let mut alice = user("sip:alice@example.com", Some("tel:+14255550100"));
    s.add_user(&alice).await.unwrap();
    let extra = Number {
        number: num("+14255550199"),
        user: alice.address.clone(),
    };
    assert_eq!(s.assign_number(&extra).await.unwrap(), Outcome::Added);
    assert_eq!(s.assign_number(&extra).await.unwrap(), Outcome::Unchanged);

    let held = s.unassign_number(&num("+14255550100")).await.unwrap_err();
    assert!(
        matches!(
            held,
            StoreError::InUse {
                entity: "number",
                ..
            }
        ),
        "{held}"
    );

    alice.line_uri = Some(LineUri::parse("tel:+14255550101").unwrap());
    s.update_user(&alice).await.unwrap();
    assert_eq!(s.lookup_number(&num("+14255550100")).await.unwrap(), None);
    let numbers: Vec<String> = s
        .list_numbers(&alice.address)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.number.to_string())
        .collect();
    assert_eq!(numbers, ["+14255550101", "+14255550199"]);

    s.unassign_number(&num("+14255550199")).await.unwrap();
    assert_eq!(
        s.get_user_by_number(&num("+14255550199")).await.unwrap(),
        None
    );
    let missing = s.unassign_number(&num("+14255550199")).await.unwrap_err();
    assert!(matches!(
        missing,
        StoreError::NotFound {
            entity: "number",
            ..
        }
    ));
}

pub async fn all_numbers_list_every_holder(f: &Fixture) {
    let s = f.open().await;
    with_domain(&*s, "example.com").await;
    assert!(s.list_all_numbers().await.unwrap().is_empty());
    s.add_user(&user("sip:bob@example.com", Some("tel:+14255550200")))
        .await
        .unwrap();
    s.add_user(&user("sip:alice@example.com", Some("tel:+14255550100")))
        .await
        .unwrap();
    // An extension shares the main number, which it does not claim.
    s.add_user(&user(
        "sip:carol@example.com",
        Some("tel:+14255550000;ext=300"),
    ))
    .await
    .unwrap();
    s.assign_number(&Number {
        number: num("+14255550199"),
        user: addr("sip:alice@example.com"),
    })
    .await
    .unwrap();
    let all: Vec<(String, String)> = s
        .list_all_numbers()
        .await
        .unwrap()
        .into_iter()
        .map(|n| (n.number.to_string(), n.user.to_string()))
        .collect();
    let want = [
        ("+14255550100", "sip:alice@example.com"),
        ("+14255550199", "sip:alice@example.com"),
        ("+14255550200", "sip:bob@example.com"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(n, u)| (n.to_string(), u.to_string()))
        .collect();
    assert_eq!(all, want);
    s.remove_user(&addr("sip:alice@example.com")).await.unwrap();
    assert_eq!(s.list_all_numbers().await.unwrap().len(), 1);
}

pub async fn credentials_set_get_replace(f: &Fixture) {
    let s = f.open().await;
    with_domain(&*s, "example.com").await;
    let alice = addr("sip:alice@example.com");
    let cred = Credential {
        user: alice.clone(),
        realm: "example.com".into(),
        algorithm: DigestAlgorithm::Sha256,
        ha1: "AB".repeat(32),
    };
    let no_user = s.set_credential(&cred).await.unwrap_err();
    assert_eq!(no_user.to_string(), "user sip:alice@example.com not found");

    s.add_user(&user(alice.as_str(), None)).await.unwrap();
    assert_eq!(s.set_credential(&cred).await.unwrap(), Outcome::Added);
    assert_eq!(s.set_credential(&cred).await.unwrap(), Outcome::Unchanged);
    let got = s
        .get_credential(&alice, "example.com", DigestAlgorithm::Sha256)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.ha1, "ab".repeat(32), "HA1 is stored lower-case");
    assert_eq!(
        s.get_credential(&alice, "example.com", DigestAlgorithm::Md5)
            .await
            .unwrap(),
        None
    );

    let replaced = Credential {
        ha1: "cd".repeat(32),
        ..cred.clone()
    };
    assert_eq!(s.set_credential(&replaced).await.unwrap(), Outcome::Changed);
    let md5 = Credential {
        algorithm: DigestAlgorithm::Md5,
        ha1: "ef".repeat(16),
        ..cred.clone()
    };
    s.set_credential(&md5).await.unwrap();
    assert_eq!(s.list_credentials(&alice).await.unwrap(), [md5, replaced]);
    let short = Credential {
        ha1: "ab".into(),
        ..cred.clone()
    };
    let bad = s.set_credential(&short).await.unwrap_err();
    assert!(bad.to_string().starts_with("invalid ha1"), "{bad}");
    assert!(bad.is_caller_fault());

    s.remove_user(&alice).await.unwrap();
    s.add_user(&user(alice.as_str(), None)).await.unwrap();
    assert_eq!(
        s.get_credential(&alice, "example.com", DigestAlgorithm::Sha256)
            .await
            .unwrap(),
        None,
        "credentials go with their user"
    );
}

pub async fn paging_walks_every_user_once(f: &Fixture) {
    let s = f.open().await;
    let mut changes = vec![
        Change::AddDomain(domain("a.example")),
        Change::AddDomain(domain("b.example")),
    ];
    for i in 0..25 {
        let d = if i % 5 == 0 { "b.example" } else { "a.example" };
        changes.push(Change::AddUser(user(&format!("sip:u{i:02}@{d}"), None)));
    }
    // Byte order, the same on both backends: upper case sorts before lower case.
    for name in ["Zed", "adam", "Adam"] {
        changes.push(Change::AddUser(user(
            &format!("sip:{name}@a.example"),
            None,
        )));
    }
    s.apply_batch(changes).await.unwrap();
    assert_eq!(s.count_users(None).await.unwrap(), 28);
    let b = DomainName::parse("b.example").unwrap();
    assert_eq!(s.count_users(Some(&b)).await.unwrap(), 5);

    let mut page = Page::first(10);
    let mut sizes = vec![];
    let mut seen = vec![];
    loop {
        let users = s.list_users(&page).await.unwrap();
        if users.is_empty() {
            break;
        }
        sizes.push(users.len());
        seen.extend(users.iter().map(|u| u.address.to_string()));
        page = page.next(&users);
    }
    assert_eq!(sizes, [10, 10, 8]);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted, "in address order, no repeats");
    assert_eq!(seen.len(), 28);
    assert_eq!(
        seen[..3],
        [
            "sip:Adam@a.example",
            "sip:Zed@a.example",
            "sip:adam@a.example"
        ]
    );

    let only_b = s
        .list_users(&Page {
            domain: Some(b),
            after: None,
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(only_b.len(), 5);
    assert!(only_b.iter().all(|u| u.address.host() == "b.example"));
    assert!(s.list_users(&Page::first(0)).await.unwrap().is_empty());
}

pub async fn batch_is_all_or_nothing(f: &Fixture) {
    let s = f.open().await;
    let before = s.generation().await.unwrap();
    let batch = vec![
        Change::AddDomain(domain("example.com")),
        Change::AddUser(user("sip:alice@example.com", Some("tel:+14255550100"))),
        Change::AddUser(user("sip:bob@example.com", Some("tel:+14255550101"))),
        Change::AddUser(user("sip:carol@example.com", Some("tel:+14255550100"))),
        Change::AddUser(user("sip:dave@example.com", None)),
    ];
    let err = s.apply_batch(batch).await.unwrap_err();
    match &err {
        StoreError::Batch { index, source } => {
            assert_eq!(*index, 3);
            assert_eq!(source.to_string(), "number +14255550100 is already taken");
        }
        other => panic!("expected a batch error, got {other:?}"),
    }
    assert!(s.list_domains().await.unwrap().is_empty(), "domain applied");
    assert!(s.apply_batch(vec![]).await.unwrap().is_empty());
    assert_eq!(s.count_users(None).await.unwrap(), 0, "users applied");
    assert_eq!(s.lookup_number(&num("+14255550100")).await.unwrap(), None);
    assert_eq!(
        s.generation().await.unwrap(),
        before,
        "a failed batch bumped"
    );

    let outcomes = s
        .apply_batch(vec![
            Change::AddDomain(domain("example.com")),
            Change::PutUser(user("sip:alice@example.com", None)),
            Change::PutUser(user("sip:alice@example.com", Some("tel:+14255550100"))),
            Change::PutUser(user("sip:alice@example.com", Some("tel:+14255550100"))),
        ])
        .await
        .unwrap();
    assert_eq!(
        outcomes,
        [
            Outcome::Added,
            Outcome::Added,
            Outcome::Changed,
            Outcome::Unchanged
        ]
    );
    assert_eq!(
        s.generation().await.unwrap(),
        before + 1,
        "one bump per batch"
    );
}

pub async fn generation_counts_provisioning_writes_only(f: &Fixture) {
    let s = f.open().await;
    let g0 = s.generation().await.unwrap();
    with_domain(&*s, "example.com").await;
    let g1 = s.generation().await.unwrap();
    assert!(g1 > g0);
    s.add_domain(&domain("example.com")).await.unwrap_err();
    assert_eq!(s.generation().await.unwrap(), g1, "refused write bumped");
    s.upsert_binding(&binding(
        "sip:alice@example.com",
        "sip:alice@192.0.2.1",
        100,
    ))
    .await
    .unwrap();
    assert_eq!(s.generation().await.unwrap(), g1, "binding write bumped");
}

pub async fn second_writer_is_seen_by_the_first(f: &Fixture) {
    let server = f.open().await;
    let cli = f.open().await;
    with_domain(&*server, "example.com").await;
    let seen = server.generation().await.unwrap();

    cli.add_user(&user("sip:alice@example.com", None))
        .await
        .unwrap();
    assert!(server.generation().await.unwrap() > seen);
    assert!(server
        .get_user(&addr("sip:alice@example.com"))
        .await
        .unwrap()
        .is_some());

    // Both handles writing at once: every write lands, none fails on a lock.
    let mut tasks = vec![];
    for i in 0..20 {
        let store = if i % 2 == 0 {
            server.clone()
        } else {
            cli.clone()
        };
        tasks.push(tokio::spawn(async move {
            store
                .add_user(&user(&format!("sip:u{i}@example.com"), None))
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(server.count_users(None).await.unwrap(), 21);
    assert_eq!(cli.generation().await.unwrap(), seen + 21);
}

pub async fn bindings_upsert_list_remove(f: &Fixture) {
    let s = f.open().await;
    let aor = "sip:alice@example.com";
    let mut desk = binding(aor, "sip:alice@192.0.2.1:5060", 1000);
    desk.q = Some(500);
    let mut phone = binding(aor, "sip:alice@192.0.2.2:5060", 1000);
    phone.q = Some(900);
    let laptop = binding(aor, "sip:alice@192.0.2.3:5060", 1000);
    s.write_bindings(
        &desk.aor,
        &[],
        &[desk.clone(), phone.clone(), laptop.clone()],
    )
    .await
    .unwrap();
    let contacts: Vec<String> = s
        .list_bindings(&desk.aor)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.contact)
        .collect();
    assert_eq!(
        contacts,
        [
            laptop.contact.clone(),
            phone.contact.clone(),
            desk.contact.clone()
        ],
        "absent q ranks as 1.0, then by q"
    );

    // A refresh of the same contact updates it in place.
    desk.cseq = 2;
    desk.expires_at = 2000;
    s.upsert_binding(&desk).await.unwrap();
    let list = s.list_bindings(&desk.aor).await.unwrap();
    assert_eq!(list.len(), 3);
    assert!(list.contains(&desk));

    // RFC 5626: the same instance and reg-id from a new address replaces its binding.
    let instance = "<urn:uuid:00000000-0000-1000-8000-000a95a0e128>";
    let mut ua = binding(aor, "sip:alice@198.51.100.7:40000;transport=tcp", 1500);
    ua.instance_id = Some(instance.into());
    ua.reg_id = Some(1);
    ua.key = Binding::default_key(&ua.contact, Some(instance), Some(1));
    s.upsert_binding(&ua).await.unwrap();
    ua.contact = "\"Alice's phone\" <sip:alice@198.51.100.7:40001;transport=tcp>".into();
    ua.source = "198.51.100.7:40001".into();
    s.upsert_binding(&ua).await.unwrap();
    let list = s.list_bindings(&ua.aor).await.unwrap();
    assert_eq!(list.len(), 4);
    assert!(list.contains(&ua));

    assert!(s.remove_binding(&desk.aor, &desk.key).await.unwrap());
    assert!(!s.remove_binding(&desk.aor, &desk.key).await.unwrap());
    let removed = s
        .write_bindings(&desk.aor, &[phone.key.clone()], &[desk.clone()])
        .await
        .unwrap();
    assert_eq!(removed, 1);
    let contacts: Vec<String> = s
        .list_bindings(&desk.aor)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.contact)
        .collect();
    assert_eq!(contacts.len(), 3);
    assert!(contacts.contains(&desk.contact) && !contacts.contains(&phone.contact));

    let bob = binding("sip:bob@example.com", "sip:bob@192.0.2.9", 1000);
    s.upsert_binding(&bob).await.unwrap();
    let foreign = s
        .write_bindings(&desk.aor, &[], std::slice::from_ref(&bob))
        .await
        .unwrap_err();
    assert!(foreign.to_string().starts_with("invalid aor"), "{foreign}");
    assert_eq!(s.list_all_bindings().await.unwrap().len(), 4);
    assert_eq!(s.count_bindings().await.unwrap(), 4);
    assert_eq!(s.remove_bindings(&desk.aor).await.unwrap(), 3);
    assert_eq!(s.list_all_bindings().await.unwrap(), [bob]);
}

pub async fn expired_before_is_strict(f: &Fixture) {
    let s = f.open().await;
    for (user, at) in [("a", 300), ("b", 100), ("c", 200)] {
        s.upsert_binding(&binding(
            &format!("sip:{user}@example.com"),
            &format!("sip:{user}@192.0.2.1"),
            at,
        ))
        .await
        .unwrap();
    }
    let expired: Vec<i64> = s
        .bindings_expired_before(200)
        .await
        .unwrap()
        .iter()
        .map(|b| b.expires_at)
        .collect();
    assert_eq!(
        expired,
        [100],
        "a binding expiring at t is not expired before t"
    );
    let expired: Vec<i64> = s
        .bindings_expired_before(301)
        .await
        .unwrap()
        .iter()
        .map(|b| b.expires_at)
        .collect();
    assert_eq!(expired, [100, 200, 300], "soonest first");
    assert_eq!(s.remove_expired_before(201).await.unwrap(), 2);
    let left = s.list_all_bindings().await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].expires_at, 300);
}

pub async fn data_survives_reopen(f: &Fixture) {
    let s = f.open().await;
    with_domain(&*s, "example.com").await;
    let alice = user("sip:alice@example.com", Some("tel:+14255550100;ext=100"));
    s.add_user(&alice).await.unwrap();
    let mut b = binding(alice.address.as_str(), "sip:alice@192.0.2.1:5062", 4000);
    b.q = Some(700);
    b.instance_id = Some("<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>".into());
    b.reg_id = Some(2);
    b.key = Binding::default_key(&b.contact, b.instance_id.as_deref(), b.reg_id);
    b.received = Some("sip:203.0.113.5:61000".into());
    b.path = vec![
        "<sip:edge.example.com;lr>".into(),
        "<sip:p2.example.com;lr>".into(),
    ];
    b.cseq = u32::MAX;
    s.upsert_binding(&b).await.unwrap();
    let generation = s.generation().await.unwrap();
    s.close().await;
    drop(s);

    let s = f.open().await;
    assert_eq!(s.list_bindings(&alice.address).await.unwrap(), [b]);
    assert_eq!(s.get_user(&alice.address).await.unwrap(), Some(alice));
    assert_eq!(s.generation().await.unwrap(), generation);
}

pub async fn batch_input_is_validated(f: &Fixture) {
    let s = f.open().await;
    with_domain(&*s, "example.com").await;
    let mut u = user("sip:alice@example.com", None);
    u.policies.insert("bad name".into(), "x".into());
    let err = s
        .apply_batch(vec![
            Change::AddUser(user("sip:bob@example.com", None)),
            Change::AddUser(u),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Batch { index: 1, .. }), "{err}");
    assert!(err.is_caller_fault());
    assert!(
        err.root().to_string().starts_with("invalid policy name"),
        "{err}"
    );
    assert_eq!(s.count_users(None).await.unwrap(), 0);

    let mut b = binding("sip:alice@example.com", "sip:alice@192.0.2.1", 10);
    b.q = Some(1001);
    let err = s.upsert_binding(&b).await.unwrap_err();
    assert_eq!(err.to_string(), "invalid q: above 1.000");
    assert!(s.list_all_bindings().await.unwrap().is_empty());
}

pub async fn racing_claims_of_one_number_one_wins(f: &Fixture) {
    let a = f.open().await;
    let b = f.open().await;
    with_domain(&*a, "example.com").await;
    let mut tasks = vec![];
    for i in 0..10 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            store
                .add_user(&user(
                    &format!("sip:u{i}@example.com"),
                    Some("tel:+14255550100"),
                ))
                .await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => won += 1,
            Err(e) => assert_eq!(e.to_string(), "number +14255550100 is already taken"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(a.count_users(None).await.unwrap(), 1);
    let holder = b.get_user_by_number(&num("+14255550100")).await.unwrap();
    assert_eq!(
        holder.unwrap().line_uri.unwrap().number.as_str(),
        "+14255550100"
    );
}

pub async fn large_batch_applies_in_one_go(f: &Fixture) {
    let s = f.open().await;
    const USERS: u32 = 2000;
    let mut changes = vec![Change::AddDomain(domain("example.com"))];
    for i in 0..USERS {
        let u = user(
            &format!("sip:u{i:05}@example.com"),
            Some(&format!("tel:+1425555{i:04}")),
        );
        let credential = Credential {
            user: u.address.clone(),
            realm: "example.com".into(),
            algorithm: DigestAlgorithm::Md5,
            ha1: format!("{i:032x}"),
        };
        changes.push(Change::AddUser(u));
        changes.push(Change::SetCredential(credential));
    }
    let outcomes = s.apply_batch(changes).await.unwrap();
    assert_eq!(outcomes.len(), 1 + 2 * USERS as usize);
    assert!(outcomes.iter().all(|o| *o == Outcome::Added));
    assert_eq!(s.count_users(None).await.unwrap(), u64::from(USERS));
    let last = s.get_user_by_number(&num("+14255551999")).await.unwrap();
    assert_eq!(last.unwrap().address, addr("sip:u01999@example.com"));
}
