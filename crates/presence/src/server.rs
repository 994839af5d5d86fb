//! The presence server: PUBLISH, SUBSCRIBE/NOTIFY and resource lists over the people it
//! knows, as one sans-IO state machine.
//!
//! Inputs are requests the shell has already authenticated ([`PresenceServer::handle_publish`],
//! [`PresenceServer::handle_subscribe`]), NOTIFY outcomes, what the rest of the server knows
//! about people (`set_*`), and the time, always as Unix milliseconds given by the caller.
//! Outputs are drained after every input: the reply (returned), NOTIFYs to send
//! ([`PresenceServer::poll_notify`], each on the `flow` its SUBSCRIBE arrived on), events
//! for metrics and persistence ([`PresenceServer::poll_event`]), and when to be woken
//! ([`PresenceServer::poll_timeout`]). It never reads a clock, never touches a socket or a
//! store, and never panics on peer input.
//!
//! ```
//! use sb_presence::model::{Availability, ManualState};
//! use sb_presence::{PresenceConfig, PresenceServer};
//! # use sb_sip_msg::{parse_datagram, Message};
//! # let Message::Request(subscribe) = parse_datagram(b"SUBSCRIBE sip:bob@example.com SIP/2.0\r\n\
//! # Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:alice@example.com>;tag=a\r\n\
//! # To: <sip:bob@example.com>\r\nCall-ID: s1\r\nCSeq: 1 SUBSCRIBE\r\nEvent: presence\r\n\
//! # Contact: <sip:alice@192.0.2.1>\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n").unwrap()
//! # else { panic!() };
//! let mut presence = PresenceServer::new(PresenceConfig::default());
//! let now = 1_700_000_000_000; // Unix milliseconds from the caller's clock
//! // At start: presence.restore(now, snapshot_from_the_store);
//! let bob = "sip:bob@example.com";
//! presence.set_manual(now, bob, Some(ManualState {
//!     availability: Availability::Busy, note: None, until: None }));
//! let reply = presence.handle_subscribe(now, &subscribe, bob, Some("sip:alice@example.com"), 1);
//! assert_eq!(reply.status, 200); // send it first, with reply.headers and To tag reply.to_tag
//! while let Some(notify) = presence.poll_notify() {
//!     // Add a Via and send notify.request on connection notify.flow; when its transaction
//!     // ends: presence.handle_notify_response(now, notify.id, status).
//!     presence.handle_notify_response(now, notify.id, 200);
//! }
//! while let Some(_event) = presence.poll_event() { /* metrics; persist presence.snapshot() */ }
//! // Arm a timer for presence.poll_timeout(); when it fires call presence.handle_timeout(now)
//! // and drain the outputs again.
//! assert_eq!(presence.poll_timeout(), Some(now + 600_000));
//! ```
//!
//! Ordering: send the returned reply first, then the NOTIFYs. RFC 6665 §4.2.1.2 wants the
//! NOTIFY that follows a SUBSCRIBE's 200 "immediately", and a subscriber that sees the
//! NOTIFY before the 200 must cope, but most phones behave better in wire order.
//!
//! Fan-out: one change to a person marks every watcher's subscription dirty; a dirty
//! subscription sends at most one NOTIFY per `notify_min_interval_ms` and renders it from the
//! state at the moment it leaves, so states in between are coalesced. Each watcher sees the
//! state through its access level ([`crate::access`]); a NOTIFY leaves only when that view
//! changed, so a public watcher is not told about a new note it may not read.

use std::collections::{BTreeSet, HashMap, VecDeque};

use sb_sip_msg::{Header, Request, Uri};
use serde::{Deserialize, Serialize};

use crate::glue::{self, DialogView};
use crate::model::{AccessLevel, AccessRule, ManualState, PersonState};
use crate::notify::{other, NotifierDialog, SubState, TerminatedReason};
use crate::publish::{Limits, Publications, PublishOutcome};
use crate::reply::{ok, subscribe_ok};
pub use crate::reply::{Refusal, Reply};
use crate::subscribe::{DialogKey, Feed, Package, SubscribeRequest, Subscription, SubscriptionId};
use crate::throttle::Throttle;
use crate::timers::{Timer, Timers};

/// Limits and identity of the presence server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceConfig {
    /// Shorter non-zero Expires get 423 with this Min-Expires (RFC 6665 §4.2.1.1, RFC 3903 §6).
    pub min_expires: u32,
    /// Longer Expires are shortened to this.
    pub max_expires: u32,
    /// Expires when a request carries none (RFC 3856 §6.4 suggests 3600 for presence).
    pub default_expires: u32,
    /// At most one NOTIFY per subscription per this many milliseconds (RFC 6665 §4.2.2).
    pub notify_min_interval_ms: u64,
    /// More subscriptions from one watcher are refused with 403.
    pub max_subscriptions_per_watcher: usize,
    /// Our Contact in NOTIFYs and in 200s to SUBSCRIBE: `sip:HOST:PORT`.
    pub our_contact: String,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        PresenceConfig {
            min_expires: 60,
            max_expires: 86_400,
            default_expires: 3_600,
            notify_min_interval_ms: 1_000,
            max_subscriptions_per_watcher: 1_000,
            our_contact: "sip:127.0.0.1:5060".into(),
        }
    }
}

/// A [`PresenceConfig`] that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("min_expires {min} is above max_expires {max}")]
    ExpiresRange { min: u32, max: u32 },
    #[error("default_expires {0} is outside min_expires..=max_expires")]
    DefaultExpires(u32),
    #[error("our_contact {0:?} is not a SIP URI")]
    Contact(String),
}

impl PresenceConfig {
    /// Checks the configuration once at start, so [`PresenceServer::new`] need not fail.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.min_expires > self.max_expires {
            return Err(ConfigError::ExpiresRange {
                min: self.min_expires,
                max: self.max_expires,
            });
        }
        if !(self.min_expires..=self.max_expires).contains(&self.default_expires) {
            return Err(ConfigError::DefaultExpires(self.default_expires));
        }
        match self.our_contact.parse::<Uri>() {
            Ok(Uri::Sip(_)) => Ok(()),
            _ => Err(ConfigError::Contact(self.our_contact.clone())),
        }
    }
}

/// One NOTIFY on its way out.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Copy)]
pub struct NotifyId(pub u64);

/// A complete in-dialog NOTIFY without a Via; send it on `flow` and report its final
/// response with [`PresenceServer::handle_notify_response`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingNotify {
    pub id: NotifyId,
    pub flow: u64,
    pub request: Request,
}

/// Why a subscription ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoveReason {
    /// The subscriber sent Expires: 0.
    Unsubscribed,
    /// Its interval ran out without a refresh.
    Expired,
    /// A NOTIFY got this final status (0 for a transport failure).
    NotifyFailed(u16),
    /// The resource went away (a contact list deleted).
    NoResource,
}

/// What changed, for metrics and persistence (save a [`PresenceServer::snapshot`] after
/// these, or apply them to the store one by one).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PresenceEvent {
    SubscriptionAdded {
        id: SubscriptionId,
        entity: String,
        watcher: Option<String>,
        package: Package,
    },
    SubscriptionRefreshed {
        id: SubscriptionId,
        expires_at_ms: u64,
    },
    SubscriptionRemoved {
        id: SubscriptionId,
        entity: String,
        reason: RemoveReason,
    },
    /// The combined (unfiltered) state of a person changed.
    StateChanged { entity: String, state: PersonState },
    /// A publication was added, refreshed, modified, removed or expired.
    PublicationsChanged { entity: String },
}

/// What the server knows about one person besides publications.
#[derive(Debug, Clone, Default)]
pub(crate) struct Person {
    pub(crate) manual: Option<ManualState>,
    pub(crate) in_call: bool,
    pub(crate) signed_in: bool,
    /// The iCalendar text as given (persisted), and what it says, read once.
    pub(crate) calendar: Option<String>,
    pub(crate) schedule: Option<crate::calendar::Calendar>,
    pub(crate) rules: Vec<AccessRule>,
    pub(crate) dialogs: Vec<DialogView>,
    /// The combined state last computed, to tell changes apart.
    pub(crate) state: Option<PersonState>,
}

impl Person {
    /// Keeps the text and reads it once. A calendar that does not parse counts as never
    /// busy: the user's file is theirs to fix, and presence must not fail because of it.
    pub(crate) fn set_calendar(&mut self, ics: Option<String>) {
        self.schedule = ics.as_deref().and_then(|t| crate::calendar::parse(t).ok());
        self.calendar = ics;
    }
}

/// A user's contact list, subscribable as one resource (RFC 4662).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactList {
    pub owner: String,
    pub uri: String,
    pub members: Vec<String>,
}

/// The presence server. See the module docs for how to drive it.
#[derive(Debug)]
pub struct PresenceServer {
    pub(crate) cfg: PresenceConfig,
    pub(crate) our_contact: Uri,
    pub(crate) people: HashMap<String, Person>,
    pub(crate) publications: Publications,
    pub(crate) lists: HashMap<String, ContactList>,
    /// member → the list URIs that contain it.
    pub(crate) member_of: HashMap<String, BTreeSet<String>>,
    pub(crate) subs: HashMap<SubscriptionId, Subscription>,
    pub(crate) by_dialog: HashMap<DialogKey, SubscriptionId>,
    /// entity (person or list URI) → its subscriptions, every package.
    pub(crate) watchers: HashMap<String, BTreeSet<SubscriptionId>>,
    pub(crate) per_watcher: HashMap<String, usize>,
    pub(crate) dirty: BTreeSet<SubscriptionId>,
    pub(crate) in_flight: HashMap<NotifyId, SubscriptionId>,
    pub(crate) timers: Timers,
    pub(crate) outbox: VecDeque<OutgoingNotify>,
    pub(crate) events: VecDeque<PresenceEvent>,
    pub(crate) next_id: u64,
}

impl PresenceServer {
    /// A server with no people, publications or subscriptions. An unparseable
    /// `our_contact` falls back to `sip:127.0.0.1`: call [`PresenceConfig::check`] first.
    pub fn new(cfg: PresenceConfig) -> Self {
        let our_contact = cfg
            .our_contact
            .parse()
            .unwrap_or_else(|_| "sip:127.0.0.1".parse().expect("a literal URI parses"));
        PresenceServer {
            cfg,
            our_contact,
            people: HashMap::new(),
            publications: Publications::default(),
            lists: HashMap::new(),
            member_of: HashMap::new(),
            subs: HashMap::new(),
            by_dialog: HashMap::new(),
            watchers: HashMap::new(),
            per_watcher: HashMap::new(),
            dirty: BTreeSet::new(),
            in_flight: HashMap::new(),
            timers: Timers::default(),
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            next_id: 0,
        }
    }

    /// PUBLISH (RFC 3903) for `entity` (`sip:user@domain`, a user of ours; the shell checked
    /// that and authentication). SIP-If-Match entity tags: initial (body, no tag), refresh
    /// (tag, no body), modify (tag and body), remove (Expires: 0); 412 for an unknown or
    /// expired tag, 489 for an Event other than presence, 415 for a body that is not
    /// application/pidf+xml, 400 for a PIDF that does not parse, 423 with Min-Expires for
    /// a too-short interval; 200 with SIP-ETag and Expires.
    pub fn handle_publish(&mut self, now_ms: u64, req: &Request, entity: &str) -> Reply {
        if self.publications.epoch_ms == 0 {
            self.publications.epoch_ms = now_ms.max(1);
        }
        let limits = Limits {
            min_expires: self.cfg.min_expires,
            max_expires: self.cfg.max_expires,
            default_expires: self.cfg.default_expires,
        };
        let outcome = self.publications.handle(now_ms, req, entity, &limits);
        let (reply, changed) = match outcome {
            Err(r) => (Reply::from(&r), false),
            Ok(PublishOutcome::Stored { etag, expires_s }) => {
                self.timers.set(
                    Timer::Publication(etag.clone()),
                    now_ms + u64::from(expires_s) * 1000,
                );
                let headers = vec![other("SIP-ETag", etag), Header::Expires(expires_s)];
                (ok(headers), true)
            }
            Ok(PublishOutcome::Removed) => (ok(vec![Header::Expires(0)]), true),
        };
        if changed {
            self.events.push_back(PresenceEvent::PublicationsChanged {
                entity: entity.to_string(),
            });
            self.person_changed(now_ms, entity);
            self.flush(now_ms);
        }
        reply
    }

    /// Whether `uri` is a contact list URI (a SUBSCRIBE to it is a list subscription).
    pub fn is_list(&self, uri: &str) -> bool {
        self.lists.contains_key(uri)
    }

    /// SUBSCRIBE (RFC 6665) for Event presence (RFC 3856), dialog (RFC 4235), or presence
    /// to a list URI (RFC 4662, which needs `Supported: eventlist`, else 421 with Require:
    /// eventlist): initial, refresh, and unsubscribe (Expires: 0); 423 Interval Too Brief
    /// with Min-Expires; 489 for other events; 481 for a refresh of an unknown dialog; 403
    /// for a list subscription by anyone but the list's owner or past
    /// `max_subscriptions_per_watcher`. `watcher` is the authenticated identity (`None`
    /// for a stranger, who sees the public level). `flow` comes back with every NOTIFY of
    /// this subscription. A 200 is followed by a NOTIFY with the full state
    /// (RFC 6665 §4.2.1.2), already waiting in [`PresenceServer::poll_notify`].
    pub fn handle_subscribe(
        &mut self,
        now_ms: u64,
        req: &Request,
        entity: &str,
        watcher: Option<&str>,
        flow: u64,
    ) -> Reply {
        match self.on_subscribe(now_ms, req, entity, watcher, flow) {
            Ok(reply) => reply,
            Err(r) => Reply::from(&r),
        }
    }

    fn on_subscribe(
        &mut self,
        now_ms: u64,
        req: &Request,
        entity: &str,
        watcher: Option<&str>,
        flow: u64,
    ) -> Result<Reply, Refusal> {
        let sr = SubscribeRequest::parse(req)?;
        let package = match sr.event.as_str() {
            "presence" if self.lists.contains_key(entity) => {
                if !sr.eventlist {
                    return Err(Refusal::EventListRequired);
                }
                Package::List
            }
            "presence" => Package::Presence,
            // A list has no dialogs of its own (RFC 4662 lists are per event package).
            "dialog" if self.lists.contains_key(entity) => return Err(Refusal::BadEvent),
            "dialog" => Package::Dialog,
            _ => return Err(Refusal::BadEvent),
        };
        let expires = sr.expires.unwrap_or(self.cfg.default_expires);
        if expires != 0 && expires < self.cfg.min_expires {
            return Err(Refusal::IntervalTooBrief(self.cfg.min_expires));
        }
        let expires = expires.min(self.cfg.max_expires);

        if let Some(tag) = &sr.to_tag {
            // RFC 6665 §4.2.1.2: a SUBSCRIBE inside the dialog refreshes or ends it.
            let key = (sr.call_id.clone(), tag.clone(), sr.from_tag.clone());
            let id = *self
                .by_dialog
                .get(&key)
                .ok_or(Refusal::NoSuchSubscription)?;
            let existing = self.subs.get(&id).expect("indexed by dialog");
            if existing.package != package {
                return Err(Refusal::BadEvent);
            }
            // Only the identity that created the subscription may refresh or end it.
            if existing.watcher.as_deref() != watcher {
                return Err(Refusal::Forbidden("Not Your Subscription".into()));
            }
            let reply = subscribe_ok(expires, &self.our_contact, tag);
            if expires == 0 {
                self.terminate(
                    now_ms,
                    id,
                    Some(RemoveReason::Unsubscribed),
                    Some(TerminatedReason::Timeout),
                );
                return Ok(reply);
            }
            let expires_at_ms = now_ms + u64::from(expires) * 1000;
            let sub = self.subs.get_mut(&id).expect("indexed by dialog");
            sub.expires_at_ms = expires_at_ms;
            sub.flow = flow;
            if let Some(c) = sr.contact {
                sub.dialog.remote_target = c;
            }
            self.timers
                .set(Timer::SubscriptionExpiry(id), expires_at_ms);
            self.events
                .push_back(PresenceEvent::SubscriptionRefreshed { id, expires_at_ms });
            self.send_full(now_ms, id);
            return Ok(reply);
        }

        let contact = sr
            .contact
            .clone()
            .ok_or_else(|| Refusal::BadRequest("SUBSCRIBE without Contact".into()))?;
        if package == Package::List {
            let owner = &self.lists[entity].owner;
            if !matches!(watcher, Some(w) if same_user(w, owner)) {
                return Err(Refusal::Forbidden("Not the list's owner".into()));
            }
        }
        let watcher_key = watcher
            .map(str::to_string)
            .unwrap_or_else(|| format!("anonymous {}", sr.from_uri));
        if expires != 0
            && self.per_watcher.get(&watcher_key).copied().unwrap_or(0)
                >= self.cfg.max_subscriptions_per_watcher
        {
            return Err(Refusal::Forbidden("Too Many Subscriptions".into()));
        }
        self.next_id += 1;
        let id = SubscriptionId(self.next_id);
        let local_tag = format!("{:x}{:04x}", now_ms, self.next_id);
        let dialog = NotifierDialog {
            call_id: sr.call_id.clone(),
            local_uri: sr.to_uri.clone(),
            local_tag: local_tag.clone(),
            remote_uri: sr.from_uri.clone(),
            remote_tag: sr.from_tag.clone(),
            remote_target: contact,
            route_set: sr.record_route.clone(),
            local_cseq: 0,
            event: sr.event_header.clone(),
        };
        let sub = Subscription {
            id,
            entity: entity.to_string(),
            watcher: watcher.map(str::to_string),
            flow,
            package,
            dialog,
            expires_at_ms: now_ms + u64::from(expires) * 1000,
            throttle: Throttle::default(),
            feed: new_feed(package),
        };
        let reply = subscribe_ok(expires, &self.our_contact, &local_tag);
        self.insert_sub(sub);
        if expires == 0 {
            // A fetch (RFC 6665 §4.4.3): one NOTIFY with the state, and the end.
            self.terminate(now_ms, id, None, Some(TerminatedReason::Timeout));
            return Ok(reply);
        }
        self.events.push_back(PresenceEvent::SubscriptionAdded {
            id,
            entity: entity.to_string(),
            watcher: watcher.map(str::to_string),
            package,
        });
        self.send_full(now_ms, id);
        Ok(reply)
    }

    pub(crate) fn insert_sub(&mut self, sub: Subscription) {
        let id = sub.id;
        self.by_dialog.insert(sub.dialog_key(), id);
        self.watchers
            .entry(sub.entity.clone())
            .or_default()
            .insert(id);
        *self.per_watcher.entry(watcher_key(&sub)).or_default() += 1;
        self.timers
            .set(Timer::SubscriptionExpiry(id), sub.expires_at_ms);
        self.subs.insert(id, sub);
    }

    /// Ends a subscription; with `notify`, sends a last NOTIFY (terminated, carrying the
    /// current state so a fetch or a final unsubscribe still learns it, RFC 6665 §4.2.1.4).
    pub(crate) fn terminate(
        &mut self,
        now_ms: u64,
        id: SubscriptionId,
        why: Option<RemoveReason>,
        notify: Option<TerminatedReason>,
    ) {
        if let Some(reason) = notify {
            self.send(now_ms, id, true, SubState::Terminated(reason));
        }
        let Some(sub) = self.subs.remove(&id) else {
            return;
        };
        self.by_dialog.remove(&sub.dialog_key());
        if let Some(set) = self.watchers.get_mut(&sub.entity) {
            set.remove(&id);
            if set.is_empty() {
                self.watchers.remove(&sub.entity);
            }
        }
        let wk = watcher_key(&sub);
        if let Some(n) = self.per_watcher.get_mut(&wk) {
            *n -= 1;
            if *n == 0 {
                self.per_watcher.remove(&wk);
            }
        }
        self.timers.clear(&Timer::SubscriptionExpiry(id));
        self.timers.clear(&Timer::Throttle(id));
        self.dirty.remove(&id);
        // Entries of `in_flight` for this subscription stay until their responses come
        // (ids are never reused, and a response for a gone subscription is ignored):
        // sweeping them here would cost a pass over every NOTIFY in flight per removal.
        // A fetch was never announced as added, so it is not announced as removed.
        if let Some(reason) = why {
            self.events.push_back(PresenceEvent::SubscriptionRemoved {
                id,
                entity: sub.entity,
                reason,
            });
        }
    }

    /// The final response to a NOTIFY. RFC 6665 §4.2.2: a 481 or a transaction timeout
    /// (408, or 0 for a transport failure) removes the subscription; so do the responses
    /// RFC 5057 §5 says end a dialog usage (404, 410, 416, 480, 482-485, 489, 501, 604).
    pub fn handle_notify_response(&mut self, now_ms: u64, id: NotifyId, status: u16) {
        let Some(sub) = self.in_flight.remove(&id) else {
            return;
        };
        let ends = matches!(
            status,
            0 | 404 | 408 | 410 | 416 | 480 | 481 | 482 | 483 | 484 | 485 | 489 | 501 | 604
        );
        if ends {
            self.terminate(now_ms, sub, Some(RemoveReason::NotifyFailed(status)), None);
        }
    }
}

pub(crate) fn new_feed(p: Package) -> Feed {
    match p {
        Package::Presence => Feed::Presence { last: None },
        Package::Dialog => Feed::Dialog {
            version: 0,
            last: Vec::new(),
        },
        Package::List => Feed::List {
            version: 0,
            last: HashMap::new(),
            changed: BTreeSet::new(),
            full: true,
        },
    }
}

fn watcher_key(sub: &Subscription) -> String {
    sub.watcher
        .clone()
        .unwrap_or_else(|| format!("anonymous {}", sub.dialog.remote_uri))
}

/// `sip:alice@example.com` and `alice@example.com` name the same user (case-insensitive).
pub(crate) fn same_user(a: &str, b: &str) -> bool {
    let strip = |s: &str| {
        let s = s.trim();
        s.strip_prefix("sip:").unwrap_or(s).to_ascii_lowercase()
    };
    strip(a) == strip(b)
}

/// The domain of `sip:user@domain` (for the default access level).
pub(crate) fn domain_of(entity: &str) -> &str {
    let after = entity.rsplit_once('@').map_or(entity, |(_, d)| d);
    after.split([';', ':', '>']).next().unwrap_or(after)
}

impl PresenceServer {
    // ---- what the server knows about people --------------------------------------------

    /// The user's hand-set state (None clears it).
    pub fn set_manual(&mut self, now_ms: u64, entity: &str, state: Option<ManualState>) {
        self.person_mut(entity).manual = state;
        self.changed(now_ms, entity);
    }

    /// Whether the person is in a call through this server ("in a call" comes and goes
    /// with the calls).
    pub fn set_in_call(&mut self, now_ms: u64, entity: &str, in_call: bool) {
        self.person_mut(entity).in_call = in_call;
        self.changed(now_ms, entity);
    }

    /// Whether at least one of the person's devices is registered.
    pub fn set_signed_in(&mut self, now_ms: u64, entity: &str, signed_in: bool) {
        self.person_mut(entity).signed_in = signed_in;
        self.changed(now_ms, entity);
    }

    /// The person's calendar (iCalendar text; None removes it). The server wakes itself
    /// when a busy event starts or ends.
    pub fn set_calendar(&mut self, now_ms: u64, entity: &str, ics: Option<String>) {
        self.person_mut(entity).set_calendar(ics);
        self.changed(now_ms, entity);
    }

    /// Who may see how much of `entity`. Every watcher's view is re-evaluated.
    pub fn set_access_rules(&mut self, now_ms: u64, entity: &str, rules: Vec<AccessRule>) {
        self.person_mut(entity).rules = rules;
        // The state itself is unchanged, but what each watcher may see is not.
        self.mark_watchers(entity);
        self.mark_dialog_watchers(entity);
        self.flush(now_ms);
    }

    /// Creates or replaces `owner`'s contact list at `list_uri`; an empty member list
    /// removes it and ends its subscriptions (terminated;reason=noresource). Subscribers
    /// of a changed list get full state (RFC 4662 §5.2 lets a notifier send full state at
    /// any time).
    pub fn set_contact_list(
        &mut self,
        now_ms: u64,
        owner: &str,
        list_uri: &str,
        members: Vec<String>,
    ) {
        if let Some(old) = self.lists.remove(list_uri) {
            for m in &old.members {
                if let Some(set) = self.member_of.get_mut(m) {
                    set.remove(list_uri);
                    if set.is_empty() {
                        self.member_of.remove(m);
                    }
                }
            }
        }
        let subs: Vec<SubscriptionId> = self
            .watchers
            .get(list_uri)
            .into_iter()
            .flatten()
            .copied()
            .collect();
        if members.is_empty() {
            for id in subs {
                self.terminate(
                    now_ms,
                    id,
                    Some(RemoveReason::NoResource),
                    Some(TerminatedReason::NoResource),
                );
            }
            return;
        }
        let mut uniq = Vec::with_capacity(members.len());
        for m in members {
            if !uniq.contains(&m) {
                self.member_of
                    .entry(m.clone())
                    .or_default()
                    .insert(list_uri.to_string());
                uniq.push(m);
            }
        }
        self.lists.insert(
            list_uri.to_string(),
            ContactList {
                owner: owner.to_string(),
                uri: list_uri.to_string(),
                members: uniq,
            },
        );
        for id in subs {
            if let Some(Subscription {
                feed: Feed::List { full, .. },
                throttle,
                ..
            }) = self.subs.get_mut(&id)
            {
                *full = true;
                throttle.dirty = true;
                self.dirty.insert(id);
            }
        }
        self.flush(now_ms);
    }

    /// The dialogs of `entity` for `Event: dialog` watchers (RFC 4235).
    pub fn set_dialogs(&mut self, now_ms: u64, entity: &str, dialogs: Vec<DialogView>) {
        self.person_mut(entity).dialogs = dialogs;
        self.mark_dialog_watchers(entity);
        self.flush(now_ms);
    }

    fn mark_dialog_watchers(&mut self, entity: &str) {
        for id in self.watchers.get(entity).into_iter().flatten() {
            if let Some(sub) = self.subs.get_mut(id) {
                if sub.package == Package::Dialog {
                    sub.throttle.dirty = true;
                    self.dirty.insert(*id);
                }
            }
        }
    }

    // ---- getters -------------------------------------------------------------------------

    /// The combined state of `entity` with nothing filtered out: what the server itself
    /// decides with (presence-based routing), never what a watcher is shown.
    pub fn state(&self, now_ms: u64, entity: &str) -> PersonState {
        self.compute(now_ms, entity)
    }

    /// The combined state of `entity` as `watcher` may see it (`None`: a stranger).
    pub fn state_for(&self, now_ms: u64, entity: &str, watcher: Option<&str>) -> PersonState {
        let state = self.compute(now_ms, entity);
        glue::view(&state, self.level(entity, watcher))
    }

    /// The access level `watcher` has on `entity` (team and above pass do not disturb).
    pub fn access_level(&self, entity: &str, watcher: &str) -> AccessLevel {
        self.level(entity, Some(watcher))
    }

    /// Live subscriptions, every package.
    pub fn subscriptions(&self) -> usize {
        self.subs.len()
    }

    /// The contact lists, for persistence and the admin tools.
    pub fn contact_lists(&self) -> impl Iterator<Item = &ContactList> {
        self.lists.values()
    }

    // ---- time and outputs ----------------------------------------------------------------

    /// Runs every timer due at `now_ms`: subscription and publication expiry, throttled
    /// NOTIFYs, manual states and calendar events that start or end.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        while let Some(t) = self.timers.pop_due(now_ms) {
            match t {
                Timer::SubscriptionExpiry(id) => {
                    // RFC 6665 §4.2.2: tell the subscriber it ended, reason timeout.
                    self.terminate(
                        now_ms,
                        id,
                        Some(RemoveReason::Expired),
                        Some(TerminatedReason::Timeout),
                    );
                }
                Timer::Throttle(id) => {
                    if self.subs.get(&id).is_some_and(|s| s.throttle.dirty) {
                        self.dirty.insert(id);
                    }
                }
                Timer::Publication(etag) => {
                    // RFC 3903 §6 step 9: an expired publication stops counting.
                    if self
                        .publications
                        .expires_at(&etag)
                        .is_some_and(|t| t <= now_ms)
                    {
                        if let Some(p) = self.publications.remove(&etag) {
                            self.events.push_back(PresenceEvent::PublicationsChanged {
                                entity: p.entity.clone(),
                            });
                            self.person_changed(now_ms, &p.entity);
                        }
                    }
                }
                Timer::Person(entity) => self.person_changed(now_ms, &entity),
            }
        }
        self.flush(now_ms);
    }

    /// When to call [`PresenceServer::handle_timeout`] next (Unix milliseconds).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        self.timers.next()
    }

    /// The next NOTIFY to send.
    #[must_use]
    pub fn poll_notify(&mut self) -> Option<OutgoingNotify> {
        self.outbox.pop_front()
    }

    /// The next event for metrics and persistence.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<PresenceEvent> {
        self.events.pop_front()
    }
}
