//! The routing directory built from the store: every user and number as
//! [`sb_routing::route()`] sees them, for `switchboard route explain` and for `serve`.
//!
//! The store keeps a user's call handling rules as flat name → value pairs in `policies`
//! (names in `sb_routing::settings`); they are read with [`sb_routing::apply_settings`].
//! Rules are validated when set, but the configuration may change afterwards (a dial plan
//! renamed, a policy removed), so loading never fails because of one user's rules: the
//! rules that no longer validate are left out, one warning each, and the user still gets
//! their calls.

use std::collections::BTreeMap;

use sb_routing::{
    apply_settings, Contact, MemoryDirectory, NumberOwner, RoutingTable, RulesError, UserEntry,
    UserId,
};
use sb_store::{Binding, Page, Store, User};

use crate::config::Config;

/// Users fetched per store query while loading.
const PAGE_SIZE: u32 = 1000;

/// The rule names a user may set (the settings `sb_routing::apply_settings` reads).
pub const RULE_NAMES: [&str; 12] = [
    "site",
    "dial_plan",
    "voice_policy",
    "pbx_line",
    "forward_all",
    "forward_busy",
    "forward_offline",
    "forward_unavailable",
    "forward_unanswered",
    "forward_unanswered_secs",
    "simultaneous_ring",
    "follow_deflections",
];

/// What [`load_directory`] built.
#[derive(Debug, Clone, Default)]
pub struct LoadedDirectory {
    /// Users, numbers and extensions; contacts are left empty (the caller adds bindings).
    pub dir: MemoryDirectory,
    /// One line per rule left out: `sip:bob@example.com: forward_busy: ...`.
    pub warnings: Vec<String>,
}

/// A rule that does not validate: the setting's name and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    /// One of [`RULE_NAMES`].
    pub field: &'static str,
    pub reason: String,
}

/// Every user and number in the store as routing sees them. Users whose stored rules
/// no longer validate against `table` are loaded without those rules and reported.
pub async fn load_directory(
    store: &dyn Store,
    table: &RoutingTable,
) -> anyhow::Result<LoadedDirectory> {
    let mut out = LoadedDirectory::default();
    let mut page = Page::first(PAGE_SIZE);
    loop {
        let users = store.list_users(&page).await?;
        if users.is_empty() {
            break;
        }
        for u in &users {
            let (entry, dropped) = entry_keeping_valid_rules(table, u);
            for p in dropped {
                out.warnings.push(format!(
                    "{}: {}: {} (rule ignored)",
                    u.address, p.field, p.reason
                ));
            }
            out.dir.add_user(entry, main_number(u).as_ref());
        }
        page = page.next(&users);
    }
    // `[[site.numbers]]` and `user set --add-number`: further numbers reaching a user. The
    // numbers table also holds every line number, so this agrees with `add_user` above.
    for n in store.list_all_numbers().await? {
        if let Some(number) = sb_routing::E164::parse(n.number.as_str()) {
            let owner = user_id(&n.user);
            out.dir.numbers.insert(number, NumberOwner::User(owner));
        }
    }
    Ok(out)
}

/// The routing table of a configuration, as `route explain` and rule checks use it. With
/// no domains anywhere in the file (`[routing]`, `[sip]`, `[site]`), the store's domains
/// are the ones served, so a store provisioned from the command line routes without a
/// configuration file.
pub async fn routing_table(config: &Config, store: &dyn Store) -> anyhow::Result<RoutingTable> {
    let table = config.routing_table()?;
    if !table.config().domains.is_empty() {
        return Ok(table);
    }
    let mut routing = table.config().clone();
    routing.domains = store
        .list_domains()
        .await?
        .into_iter()
        .map(|d| d.name.to_string())
        .collect();
    RoutingTable::compile(routing).map_err(|e| anyhow::anyhow!("routing: {e}"))
}

/// A stored binding as routing's [`Contact`]: the URI of its Contact value (the registrar
/// stores the name-addr form, `"Alice" <sip:alice@192.0.2.10:5060>;+sip.instance=...`) and
/// its q.
pub fn contact_of(binding: &Binding) -> Contact {
    let c = binding.contact.trim();
    let uri = match c.find('<') {
        Some(start) => {
            let inner = &c[start + 1..];
            inner.find('>').map_or(inner, |end| &inner[..end])
        }
        None => c,
    };
    Contact {
        uri: uri.to_string(),
        q: binding.q,
    }
}

/// The user as routing sees them, with every stored rule applied and validated.
pub fn user_entry(table: &RoutingTable, user: &User) -> Result<UserEntry, RulesError> {
    let mut entry = base_entry(user);
    apply_settings(table, &mut entry, &user.policies)?;
    Ok(entry)
}

/// The user without any of their rules: identity, state and line.
pub fn base_entry(user: &User) -> UserEntry {
    let mut entry = UserEntry::new(user_id(&user.address));
    entry.enabled = user.enabled;
    if let Some(line) = &user.line_uri {
        match &line.extension {
            Some(ext) => entry.extension = Some(ext.clone()),
            None => entry.number = sb_routing::E164::parse(line.number.as_str()),
        }
    }
    entry
}

/// Routing's id for a stored address. Routing names people `sip:user@host` whatever
/// scheme they registered with, as it derives ids from Request-URIs that way.
pub fn user_id(address: &sb_store::SipAddress) -> UserId {
    UserId::new(address.user(), address.host())
}

/// The main number an extension hangs off, for the (main, extension) lookup.
fn main_number(user: &User) -> Option<sb_routing::E164> {
    let line = user.line_uri.as_ref()?;
    line.extension.as_ref()?;
    sb_routing::E164::parse(line.number.as_str())
}

/// Checks a user's rules, naming the first setting at fault.
pub fn check_rules(table: &RoutingTable, user: &User) -> Result<UserEntry, RuleProblem> {
    user_entry(table, user).map_err(|e| problem(&e, &user.policies))
}

/// The entry with every rule that validates; the rest are dropped one at a time (the
/// first at fault each round), so a single stale rule does not cost the user the others.
fn entry_keeping_valid_rules(table: &RoutingTable, user: &User) -> (UserEntry, Vec<RuleProblem>) {
    let mut settings = user.policies.clone();
    let mut dropped = Vec::new();
    // Each round removes one setting, so this ends within RULE_NAMES.len() + 1 rounds.
    for _ in 0..=RULE_NAMES.len() {
        let mut entry = base_entry(user);
        match apply_settings(table, &mut entry, &settings) {
            Ok(()) => return (entry, dropped),
            Err(e) => {
                let p = problem(&e, &settings);
                if settings.remove(p.field).is_none() {
                    break;
                }
                dropped.push(p);
            }
        }
    }
    (base_entry(user), dropped)
}

/// Which setting a [`RulesError`] is about (routing names rules in prose, "forward busy")
/// and the reason without the user and rule in front.
fn problem(e: &RulesError, settings: &BTreeMap<String, String>) -> RuleProblem {
    let (user, label) = match e {
        RulesError::BadTarget { user, rule, .. } | RulesError::Unroutable { user, rule, .. } => {
            (user, *rule)
        }
        RulesError::Timer { user, .. } => (user, "forward unanswered secs"),
        _ => {
            return RuleProblem {
                field: first_set(settings).unwrap_or("site"),
                reason: e.to_string(),
            }
        }
    };
    let text = e.to_string();
    let rest = text
        .strip_prefix(&format!("{user}: "))
        .unwrap_or(&text)
        .to_string();
    let reason = rest
        .split_once(": ")
        .map_or(rest.clone(), |(_, r)| r.to_string());
    let mut key = label.replace(' ', "_");
    // The unanswered timer's parse error carries the target's label.
    if key == "forward_unanswered" && reason.contains("seconds") {
        key = "forward_unanswered_secs".into();
    }
    if key == "forward_unanswered_secs" && !settings.contains_key(&key) {
        // Out of bounds with the default: the forward itself cannot stand.
        key = "forward_unanswered".into();
    }
    let field = RULE_NAMES
        .iter()
        .copied()
        .find(|n| *n == key)
        .or_else(|| first_set(settings))
        .unwrap_or("site");
    RuleProblem { field, reason }
}

fn first_set(settings: &BTreeMap<String, String>) -> Option<&'static str> {
    RULE_NAMES
        .iter()
        .copied()
        .find(|n| settings.contains_key(*n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sb_routing::{Directory, RoutingConfig};
    use sb_store::{Domain, DomainName, LineUri, Number, SipAddress, SqliteStore, E164};

    fn table() -> RoutingTable {
        let config: RoutingConfig = toml::from_str(
            r#"
            domains = ["example.com"]
            default_dial_plan = "redmond"
            [[dial_plans]]
            name = "redmond"
            rules = [ { pattern = '^(\d{7})$', translation = '+1425$1' },
                      { pattern = '^(\d{4})$', translation = 'ext:$1' } ]
            [[sites]]
            name = "hq"
            main_number = "+14255550000"
            [[voice_policies]]
            name = "domestic"
            usages = ["national"]
            "#,
        )
        .unwrap();
        RoutingTable::compile(config).unwrap()
    }

    fn user(addr: &str, line: Option<&str>, rules: &[(&str, &str)]) -> User {
        let mut u = User::new(SipAddress::parse(addr).unwrap());
        u.line_uri = line.map(|l| LineUri::parse(l).unwrap());
        for (k, v) in rules {
            u.policies.insert(k.to_string(), v.to_string());
        }
        u
    }

    async fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open_dir(dir.path()).await.unwrap();
        s.add_domain(&Domain {
            name: DomainName::parse("example.com").unwrap(),
        })
        .await
        .unwrap();
        (dir, s)
    }

    #[tokio::test]
    async fn users_numbers_and_extensions_are_loaded() {
        let (_dir, s) = store().await;
        let alice = user(
            "sip:alice@example.com",
            Some("tel:+14255550100"),
            &[("forward_busy", "sip:bob@example.com"), ("voicemail", "on")],
        );
        s.add_user(&alice).await.unwrap();
        let bob = user(
            "sip:bob@example.com",
            Some("tel:+14255550000;ext=2001"),
            &[("site", "hq")],
        );
        s.add_user(&bob).await.unwrap();
        s.assign_number(&Number {
            number: E164::parse("+14255550199").unwrap(),
            user: alice.address.clone(),
        })
        .await
        .unwrap();

        let loaded = load_directory(&s, &table()).await.unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let d = &loaded.dir;
        let alice_id = UserId::new("alice", "example.com");
        let bob_id = UserId::new("bob", "example.com");
        let a = d.user(&alice_id).unwrap();
        assert_eq!(a.number.as_ref().map(|n| n.as_str()), Some("+14255550100"));
        assert_eq!(
            a.rules.forward_busy.as_ref().map(|t| t.to_string()),
            Some("sip:bob@example.com".to_string())
        );
        let n = |s: &str| sb_routing::E164::parse(s).unwrap();
        assert_eq!(
            d.number_owner(&n("+14255550199")),
            Some(NumberOwner::User(alice_id.clone()))
        );
        assert_eq!(
            d.number_owner(&n("+14255550100")),
            Some(NumberOwner::User(alice_id))
        );
        // The extension's main number is nobody's own number.
        assert_eq!(d.number_owner(&n("+14255550000")), None);
        assert_eq!(
            d.extension_owner(&n("+14255550000"), "2001"),
            Some(NumberOwner::User(bob_id.clone()))
        );
        assert_eq!(d.user(&bob_id).unwrap().site.unwrap().as_str(), "hq");
        assert!(d.contacts(&bob_id).is_empty());
    }

    #[tokio::test]
    async fn stale_rules_are_dropped_one_by_one_and_reported() {
        let (_dir, s) = store().await;
        // Stored when another configuration was in force.
        let carol = user(
            "sip:carol@example.com",
            None,
            &[
                ("voice_policy", "gone"),
                ("forward_busy", "12"),
                ("forward_all", "sip:dave@example.com"),
            ],
        );
        s.add_user(&carol).await.unwrap();
        let loaded = load_directory(&s, &table()).await.unwrap();
        let w = &loaded.warnings;
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w.iter()
                .any(|l| l.starts_with("sip:carol@example.com: voice_policy: ")
                    && l.contains("\"gone\"")),
            "{w:?}"
        );
        assert!(
            w.iter()
                .any(|l| l.starts_with("sip:carol@example.com: forward_busy: ")),
            "{w:?}"
        );
        let c = loaded
            .dir
            .user(&UserId::new("carol", "example.com"))
            .unwrap();
        assert_eq!(c.voice_policy, None);
        assert_eq!(c.rules.forward_busy, None);
        // The rule that still validates is kept.
        assert!(c.rules.forward_all.is_some());
    }

    #[test]
    fn a_binding_contact_becomes_its_uri() {
        let mut b = sb_store::Binding {
            aor: SipAddress::parse("sip:alice@example.com").unwrap(),
            key: "k".into(),
            contact: "\"Alice\" <sip:alice@192.0.2.10:5060;transport=tcp>;+sip.instance=\"x\""
                .into(),
            q: Some(500),
            expires_at: 0,
            call_id: "c".into(),
            cseq: 1,
            instance_id: None,
            reg_id: None,
            transport: "tcp".into(),
            source: "192.0.2.10:5060".into(),
            received: None,
            path: vec![],
            updated_at: 0,
        };
        let c = contact_of(&b);
        assert_eq!(c.uri, "sip:alice@192.0.2.10:5060;transport=tcp");
        assert_eq!(c.q, Some(500));
        b.contact = "sip:alice@192.0.2.10".into();
        assert_eq!(contact_of(&b).uri, "sip:alice@192.0.2.10");
    }

    #[test]
    fn check_rules_names_the_setting() {
        let t = table();
        let u = user(
            "sip:erin@example.com",
            None,
            &[
                ("forward_unanswered", "5550100"),
                ("forward_unanswered_secs", "900"),
            ],
        );
        let p = check_rules(&t, &u).unwrap_err();
        assert_eq!(p.field, "forward_unanswered_secs");
        assert!(p.reason.contains("900"), "{p:?}");
        let u = user("sip:erin@example.com", None, &[("pbx_line", "nope:1")]);
        assert_eq!(check_rules(&t, &u).unwrap_err().field, "pbx_line");
        let u = user("sip:erin@example.com", None, &[("forward_all", "sip:@x")]);
        assert_eq!(check_rules(&t, &u).unwrap_err().field, "forward_all");
        let ok = user("sip:erin@example.com", None, &[("forward_all", "5550100")]);
        assert!(check_rules(&t, &ok).is_ok());
    }
}
