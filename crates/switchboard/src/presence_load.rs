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
        match read_calendar(&c.source).await {
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

/// The largest calendar read or fetched.
const CALENDAR_MAX: usize = 4 << 20;

/// A calendar's text, from a file or an http(s) URL.
async fn read_calendar(source: &str) -> anyhow::Result<String> {
    if source.starts_with("http://") || source.starts_with("https://") {
        return crate::http_get::get_text(source, CALENDAR_MAX, std::time::Duration::from_secs(15))
            .await;
    }
    let text = tokio::fs::read_to_string(source)
        .await
        .with_context(|| format!("cannot read {source}"))?;
    anyhow::ensure!(text.len() <= CALENDAR_MAX, "larger than 4 MiB");
    Ok(text)
}

/// Every user's calendar read again (files change and URLs are live): owner → text.
/// A calendar that cannot be read keeps its last known text (`None` is not sent).
pub async fn read_calendars(store: &dyn Store) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for c in store
        .list_calendars()
        .await
        .context("cannot read calendar sources")?
    {
        match read_calendar(&c.source).await {
            Ok(ics) => out.push((c.owner.to_string(), ics)),
            Err(e) => {
                tracing::warn!(owner = %c.owner, source = %c.source, error = %e, "calendar not refreshed")
            }
        }
    }
    Ok(out)
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

// ---- live state: publications and subscriptions survive a restart --------------------

use std::collections::HashMap;
use std::net::SocketAddr;

use sb_presence::{PresenceSnapshot, PublicationRecord, SubscriptionRecord};
use sb_sip_core::{Peer, TransportKind};

/// A subscription row's `dialog` column: the server's record and where its NOTIFYs go.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedSubscription {
    record: SubscriptionRecord,
    transport: String,
    addr: SocketAddr,
}

fn transport_name(t: TransportKind) -> &'static str {
    match t {
        TransportKind::Udp => "udp",
        TransportKind::Tcp => "tcp",
        TransportKind::Tls => "tls",
        TransportKind::Ws => "ws",
        TransportKind::Wss => "wss",
    }
}

fn transport_from(s: &str) -> Option<TransportKind> {
    Some(match s {
        "udp" => TransportKind::Udp,
        "tcp" => TransportKind::Tcp,
        "tls" => TransportKind::Tls,
        "ws" => TransportKind::Ws,
        "wss" => TransportKind::Wss,
        _ => return None,
    })
}

/// Publications and subscriptions the store holds, as a snapshot to restore.
pub async fn load_live(
    store: &dyn Store,
) -> anyhow::Result<(PresenceSnapshot, HashMap<u64, Peer>)> {
    let mut snap = PresenceSnapshot::default();
    let mut peers = HashMap::new();
    for p in store
        .list_publications(None)
        .await
        .context("cannot read presence publications")?
    {
        match sb_presence::doc::pidf::parse(p.body.as_bytes()) {
            Ok(doc) => snap.publications.push(PublicationRecord {
                etag: p.etag.clone(),
                entity: p.entity.to_string(),
                doc: sb_presence::model::Published {
                    received_at: u64::try_from(p.updated_at).unwrap_or(0),
                    ..doc
                },
                expires_at_ms: u64::try_from(p.expires_at)
                    .unwrap_or(0)
                    .saturating_mul(1000),
            }),
            Err(e) => tracing::warn!(etag = %p.etag, error = %e, "unreadable stored publication"),
        }
    }
    for s in store
        .list_subscriptions(None)
        .await
        .context("cannot read presence subscriptions")?
    {
        match serde_json::from_str::<SavedSubscription>(&s.dialog) {
            Ok(saved) => {
                let Some(t) = transport_from(&saved.transport) else {
                    continue;
                };
                peers.insert(saved.record.flow, Peer::new(t, saved.addr));
                snap.next_id = snap.next_id.max(saved.record.id + 1);
                snap.subscriptions.push(saved.record);
            }
            Err(e) => tracing::warn!(id = %s.id, error = %e, "unreadable stored subscription"),
        }
    }
    Ok((snap, peers))
}

/// Writes what changed in the live state since the last save.
#[derive(Default)]
pub struct Saver {
    publications: HashMap<String, String>,
    subscriptions: HashMap<String, String>,
}

impl Saver {
    /// A saver that knows what the store already holds (what [`load_live`] read).
    pub fn knowing(snap: &PresenceSnapshot, peers: &HashMap<u64, Peer>) -> Saver {
        let mut s = Saver::default();
        for (key, row) in publication_rows(snap) {
            s.publications.insert(key, row.body);
        }
        for (key, row) in subscription_rows(snap, peers) {
            s.subscriptions.insert(key, row.dialog);
        }
        s
    }

    pub async fn save(
        &mut self,
        store: &dyn Store,
        snap: &PresenceSnapshot,
        peers: &HashMap<u64, Peer>,
    ) -> anyhow::Result<()> {
        let pubs: HashMap<String, sb_store::Publication> = publication_rows(snap).collect();
        for (etag, row) in &pubs {
            if self.publications.get(etag) != Some(&row.body) {
                store.put_publication(row, None).await?;
                self.publications.insert(etag.clone(), row.body.clone());
            }
        }
        let gone: Vec<String> = self
            .publications
            .keys()
            .filter(|k| !pubs.contains_key(*k))
            .cloned()
            .collect();
        for etag in gone {
            if let Some(body) = self.publications.remove(&etag) {
                let entity = sb_presence::doc::pidf::parse_document(body.as_bytes())
                    .ok()
                    .and_then(|d| SipAddress::parse(&d.entity).ok());
                if let Some(entity) = entity {
                    store.remove_publication(&entity, &etag).await?;
                }
            }
        }
        let subs: HashMap<String, sb_store::Subscription> =
            subscription_rows(snap, peers).collect();
        for (id, row) in &subs {
            if self.subscriptions.get(id) != Some(&row.dialog) {
                store.put_subscription(row).await?;
                self.subscriptions.insert(id.clone(), row.dialog.clone());
            }
        }
        let gone: Vec<String> = self
            .subscriptions
            .keys()
            .filter(|k| !subs.contains_key(*k))
            .cloned()
            .collect();
        for id in gone {
            store.remove_subscription(&id).await?;
            self.subscriptions.remove(&id);
        }
        Ok(())
    }
}

fn publication_rows(
    snap: &PresenceSnapshot,
) -> impl Iterator<Item = (String, sb_store::Publication)> + '_ {
    snap.publications.iter().filter_map(|p| {
        let entity = SipAddress::parse(&p.entity).ok()?;
        Some((
            p.etag.clone(),
            sb_store::Publication {
                entity,
                etag: p.etag.clone(),
                expires_at: (p.expires_at_ms / 1000) as i64,
                body: published_pidf(&p.entity, &p.doc),
                updated_at: p.doc.received_at as i64,
            },
        ))
    })
}

/// What a device published, as a PIDF document again (RFC 3863 with RFC 4480 activities):
/// the store keeps documents, which `presence show` and a restarted server both read.
fn published_pidf(entity: &str, d: &sb_presence::model::Published) -> String {
    let esc = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut x = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" \
         xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" \
         xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\" entity=\"{}\">\n",
        esc(entity)
    );
    let ids: Vec<String> = if d.tuple_ids.is_empty() {
        vec!["t".into()]
    } else {
        d.tuple_ids.clone()
    };
    for (i, id) in ids.iter().enumerate() {
        x.push_str(&format!(
            "<tuple id=\"{}\"><status><basic>{}</basic></status>",
            esc(id),
            if d.basic_open { "open" } else { "closed" }
        ));
        if let Some(c) = d.contacts.get(i) {
            x.push_str(&format!("<contact>{}</contact>", esc(c)));
        }
        x.push_str("</tuple>\n");
    }
    x.push_str("<dm:person id=\"p\">");
    if !d.activities.is_empty() {
        x.push_str("<rpid:activities>");
        for a in &d.activities {
            match a {
                sb_presence::model::Activity::Other(t) => {
                    x.push_str(&format!("<rpid:other>{}</rpid:other>", esc(t)))
                }
                a => x.push_str(&format!("<rpid:{}/>", a.element_name())),
            }
        }
        x.push_str("</rpid:activities>");
    }
    if d.idle {
        x.push_str("<rpid:user-input>idle</rpid:user-input>");
    }
    if let Some(n) = &d.note {
        x.push_str(&format!("<dm:note>{}</dm:note>", esc(n)));
    }
    x.push_str("</dm:person>\n</presence>\n");
    x
}

fn subscription_rows<'a>(
    snap: &'a PresenceSnapshot,
    peers: &'a HashMap<u64, Peer>,
) -> impl Iterator<Item = (String, sb_store::Subscription)> + 'a {
    snap.subscriptions.iter().filter_map(move |s| {
        let peer = peers.get(&s.flow)?;
        let entity = SipAddress::parse(&s.entity).ok()?;
        let saved = SavedSubscription {
            record: s.clone(),
            transport: transport_name(peer.transport).into(),
            addr: peer.addr,
        };
        let id = s.id.to_string();
        Some((
            id.clone(),
            sb_store::Subscription {
                id,
                entity,
                watcher: s.watcher.clone().unwrap_or_else(|| "anonymous".into()),
                event: s.package.clone(),
                dialog: serde_json::to_string(&saved).ok()?,
                expires_at: (s.expires_at_ms / 1000) as i64,
            },
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sb_presence::model::{Activity, Published};

    #[test]
    fn a_stored_publication_reads_back_as_what_was_published() {
        let d = Published {
            basic_open: true,
            activities: vec![
                Activity::OnThePhone,
                Activity::Other("lunch & learn".into()),
            ],
            note: Some("Back at <3>".into()),
            idle: true,
            tuple_ids: vec!["a1".into(), "b2".into()],
            contacts: vec!["sip:bob@192.0.2.1".into()],
            received_at: 0,
        };
        let xml = published_pidf("sip:bob@example.com", &d);
        let back = sb_presence::doc::pidf::parse(xml.as_bytes()).unwrap();
        assert_eq!(back.basic_open, d.basic_open);
        assert_eq!(back.activities, d.activities);
        assert_eq!(back.note, d.note);
        assert_eq!(back.idle, d.idle);
        assert_eq!(back.tuple_ids, d.tuple_ids);
        let doc = sb_presence::doc::pidf::parse_document(xml.as_bytes()).unwrap();
        assert_eq!(doc.entity, "sip:bob@example.com");
    }
}
