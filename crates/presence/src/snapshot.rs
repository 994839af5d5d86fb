//! Persistence: everything needed to rebuild the presence server after a restart, as
//! plain records (URIs as text, times as Unix milliseconds so they survive the restart).

use serde::{Deserialize, Serialize};

use crate::model::{AccessRule, ManualState, Published};
use crate::notify::NotifierDialog;
use crate::publish::Publication;
use crate::server::{new_feed, ContactList, PresenceEvent, PresenceServer};
use crate::subscribe::{Feed, Package, Subscription, SubscriptionId};
use crate::throttle::Throttle;
use crate::timers::Timer;

/// Everything needed to rebuild the server after a restart (times are Unix milliseconds,
/// so they survive it). Live facts the shell re-reports anyway (dialogs) are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceSnapshot {
    pub people: Vec<PersonRecord>,
    pub publications: Vec<PublicationRecord>,
    pub lists: Vec<ContactList>,
    pub subscriptions: Vec<SubscriptionRecord>,
    /// The id counter, so ids and tags are not reused after a restart.
    pub next_id: u64,
}

/// A person's settings and live flags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRecord {
    pub entity: String,
    pub manual: Option<ManualState>,
    pub calendar: Option<String>,
    pub rules: Vec<AccessRule>,
    pub in_call: bool,
    pub signed_in: bool,
}

/// One live publication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicationRecord {
    pub etag: String,
    pub entity: String,
    pub doc: Published,
    pub expires_at_ms: u64,
}

/// One live subscription and its dialog (URIs as text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionRecord {
    pub id: u64,
    pub entity: String,
    pub watcher: Option<String>,
    pub flow: u64,
    /// `presence`, `dialog` or `presence-list`.
    pub package: String,
    pub call_id: String,
    pub local_uri: String,
    pub local_tag: String,
    pub remote_uri: String,
    pub remote_tag: String,
    pub remote_target: String,
    pub route_set: Vec<String>,
    pub local_cseq: u32,
    pub event: String,
    pub expires_at_ms: u64,
    /// The dialog-info or RLMI version counter (RFC 4235 §4.1, RFC 4662 §5.2).
    pub version: u32,
}

impl PresenceServer {
    /// Everything needed to rebuild this server (see [`PresenceServer::restore`]).
    pub fn snapshot(&self) -> PresenceSnapshot {
        let mut people: Vec<PersonRecord> = self
            .people
            .iter()
            .map(|(entity, p)| PersonRecord {
                entity: entity.clone(),
                manual: p.manual.clone(),
                calendar: p.calendar.clone(),
                rules: p.rules.clone(),
                in_call: p.in_call,
                signed_in: p.signed_in,
            })
            .collect();
        people.sort_by(|a, b| a.entity.cmp(&b.entity));
        let mut publications: Vec<PublicationRecord> = self
            .publications
            .iter()
            .map(|(etag, p)| PublicationRecord {
                etag: etag.clone(),
                entity: p.entity.clone(),
                doc: p.doc.clone(),
                expires_at_ms: p.expires_at_ms,
            })
            .collect();
        publications.sort_by(|a, b| a.etag.cmp(&b.etag));
        let mut lists: Vec<ContactList> = self.lists.values().cloned().collect();
        lists.sort_by(|a, b| a.uri.cmp(&b.uri));
        let mut subscriptions: Vec<SubscriptionRecord> =
            self.subs.values().map(record_of).collect();
        subscriptions.sort_by_key(|s| s.id);
        PresenceSnapshot {
            people,
            publications,
            lists,
            subscriptions,
            next_id: self.next_id.max(self.publications.next_counter()),
        }
    }

    /// Rebuilds from a snapshot, dropping what expired meanwhile. Restored subscriptions
    /// send their next NOTIFY on the next change, in the same dialogs (CSeq and versions
    /// continue).
    pub fn restore(&mut self, now_ms: u64, s: PresenceSnapshot) {
        self.next_id = self.next_id.max(s.next_id);
        self.publications.set_next_counter(s.next_id);
        self.publications.epoch_ms = now_ms.max(1);
        for p in s.people {
            let person = self.person_mut(&p.entity);
            person.manual = p.manual;
            person.set_calendar(p.calendar);
            person.rules = p.rules;
            person.in_call = p.in_call;
            person.signed_in = p.signed_in;
        }
        for p in s
            .publications
            .into_iter()
            .filter(|p| p.expires_at_ms > now_ms)
        {
            self.timers
                .set(Timer::Publication(p.etag.clone()), p.expires_at_ms);
            self.publications.insert(
                p.etag,
                Publication {
                    entity: p.entity,
                    doc: p.doc,
                    expires_at_ms: p.expires_at_ms,
                },
            );
        }
        for l in s.lists {
            let ContactList {
                owner,
                uri,
                members,
            } = l;
            self.set_contact_list(now_ms, &owner, &uri, members);
        }
        for r in s
            .subscriptions
            .into_iter()
            .filter(|r| r.expires_at_ms > now_ms)
        {
            if let Some(sub) = sub_of(r) {
                self.insert_sub(sub);
            }
        }
        let entities: Vec<String> = self.people.keys().cloned().collect();
        for e in entities {
            // Recompute states and re-arm calendar and manual-state timers, without telling
            // anyone: nothing changed from the watchers' point of view.
            self.person_changed(now_ms, &e);
        }
        self.dirty.clear();
        for sub in self.subs.values_mut() {
            sub.throttle.dirty = false;
        }
        self.events
            .retain(|e| !matches!(e, PresenceEvent::StateChanged { .. }));
    }
}

fn record_of(s: &Subscription) -> SubscriptionRecord {
    let version = match &s.feed {
        Feed::Presence { .. } => 0,
        Feed::Dialog { version, .. } | Feed::List { version, .. } => *version,
    };
    SubscriptionRecord {
        id: s.id.0,
        entity: s.entity.clone(),
        watcher: s.watcher.clone(),
        flow: s.flow,
        package: s.package.as_str().to_string(),
        call_id: s.dialog.call_id.clone(),
        local_uri: s.dialog.local_uri.to_string(),
        local_tag: s.dialog.local_tag.clone(),
        remote_uri: s.dialog.remote_uri.to_string(),
        remote_tag: s.dialog.remote_tag.clone(),
        remote_target: s.dialog.remote_target.to_string(),
        route_set: s
            .dialog
            .route_set
            .iter()
            .map(|r| r.uri.to_string())
            .collect(),
        local_cseq: s.dialog.local_cseq,
        event: s.dialog.event.clone(),
        expires_at_ms: s.expires_at_ms,
        version,
    }
}

/// A subscription from its record; `None` when a stored URI no longer parses.
fn sub_of(r: SubscriptionRecord) -> Option<Subscription> {
    let package = match r.package.as_str() {
        "presence" => Package::Presence,
        "dialog" => Package::Dialog,
        "presence-list" => Package::List,
        _ => return None,
    };
    let mut feed = new_feed(package);
    match &mut feed {
        Feed::Dialog { version, .. } => *version = r.version,
        Feed::List { version, full, .. } => {
            *version = r.version;
            *full = true;
        }
        Feed::Presence { .. } => {}
    }
    let route_set = r
        .route_set
        .iter()
        .map(|u| u.parse().map(sb_sip_msg::NameAddr::new))
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    Some(Subscription {
        id: SubscriptionId(r.id),
        entity: r.entity,
        watcher: r.watcher,
        flow: r.flow,
        package,
        dialog: NotifierDialog {
            call_id: r.call_id,
            local_uri: r.local_uri.parse().ok()?,
            local_tag: r.local_tag,
            remote_uri: r.remote_uri.parse().ok()?,
            remote_tag: r.remote_tag,
            remote_target: r.remote_target.parse().ok()?,
            route_set,
            local_cseq: r.local_cseq,
            event: r.event,
        },
        expires_at_ms: r.expires_at_ms,
        throttle: Throttle::default(),
        feed,
    })
}
