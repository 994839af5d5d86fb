//! What administrators provisioned for presence (manual states, access levels, contact
//! lists, calendars), read from the store and handed to the presence server; re-read when
//! provisioning changes, like the routing directory.

use std::collections::BTreeMap;

use anyhow::Context;
use sb_presence::model::{AccessLevel, AccessRule, Availability, ManualState, WatcherMatch};
use sb_presence::PresenceServer;
use sb_store::{SipAddress, Store, Watcher};

/// Presence provisioning for every user, keyed by `sip:user@domain`.
#[derive(Debug, Default)]
pub struct PresenceProvisioning {
    /// Every user, with their manual state if they have one (None clears an old one).
    manual: BTreeMap<String, Option<ManualState>>,
    rules: BTreeMap<String, Vec<AccessRule>>,
    /// owner → (list URI, members in order)
    lists: BTreeMap<String, (String, Vec<String>)>,
    calendars: BTreeMap<String, Option<String>>,
    pub warnings: Vec<String>,
}

/// Reads presence provisioning for `users` (the directory's users).
pub async fn load(store: &dyn Store, users: &[String]) -> anyhow::Result<PresenceProvisioning> {
    let mut p = PresenceProvisioning::default();
    for u in users {
        p.manual.insert(u.clone(), None);
        p.rules.insert(u.clone(), Vec::new());
        p.calendars.insert(u.clone(), None);
    }
    for m in store
        .list_manual_presence()
        .await
        .context("cannot read manual presence")?
    {
        let Some(availability) = Availability::from_token(&m.availability) else {
            p.warnings.push(format!(
                "{}: unknown availability {:?}",
                m.user, m.availability
            ));
            continue;
        };
        p.manual.insert(
            m.user.to_string(),
            Some(ManualState {
                availability,
                note: m.note.clone(),
                until: m.until.and_then(|t| u64::try_from(t).ok()),
            }),
        );
    }
    for r in store
        .list_all_access_rules()
        .await
        .context("cannot read presence access rules")?
    {
        let Some(level) = AccessLevel::from_token(&r.level) else {
            p.warnings
                .push(format!("{}: unknown access level {:?}", r.owner, r.level));
            continue;
        };
        let watcher = match &r.watcher {
            Watcher::User(a) => WatcherMatch::User(a.to_string()),
            Watcher::Domain(d) => WatcherMatch::Domain(d.to_string()),
            Watcher::Everyone => WatcherMatch::Everyone,
        };
        p.rules
            .entry(r.owner.to_string())
            .or_default()
            .push(AccessRule { watcher, level });
    }
    for u in users {
        let Ok(owner) = SipAddress::parse(u) else {
            continue;
        };
        let members = store
            .list_contact_list(&owner)
            .await
            .context("cannot read contact lists")?;
        if !members.is_empty() {
            let uri = sb_store::presence::contact_list_uri(&owner).to_string();
            let members = members.iter().map(|m| m.to_string()).collect();
            p.lists.insert(u.clone(), (uri, members));
        }
    }
    for c in store
        .list_calendars()
        .await
        .context("cannot read calendar sources")?
    {
        match read_calendar(&c.source) {
            Ok(ics) => {
                p.calendars.insert(c.owner.to_string(), Some(ics));
            }
            Err(e) => p
                .warnings
                .push(format!("{}: calendar {}: {e}", c.owner, c.source)),
        }
    }
    Ok(p)
}

/// A calendar file's text. URLs are not fetched by this build: export the calendar to a
/// file the server can read (a periodic download by cron, for example).
fn read_calendar(source: &str) -> anyhow::Result<String> {
    if source.starts_with("http://") || source.starts_with("https://") {
        anyhow::bail!("calendar URLs are not fetched by this server; give a file path");
    }
    let text = std::fs::read_to_string(source).with_context(|| format!("cannot read {source}"))?;
    anyhow::ensure!(text.len() <= 4 << 20, "larger than 4 MiB");
    Ok(text)
}

impl PresenceProvisioning {
    /// Hands everything to the presence server (which notifies watchers of what changed).
    pub fn apply(self, server: &mut PresenceServer, now_ms: u64) {
        for (who, state) in self.manual {
            server.set_manual(now_ms, &who, state);
        }
        for (who, rules) in self.rules {
            server.set_access_rules(now_ms, &who, rules);
        }
        for (owner, (uri, members)) in self.lists {
            server.set_contact_list(now_ms, &owner, &uri, members);
        }
        for (who, ics) in self.calendars {
            server.set_calendar(now_ms, &who, ics);
        }
    }
}
