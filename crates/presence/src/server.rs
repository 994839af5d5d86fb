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
use std::sync::Arc;

use sb_sip_msg::{Header, Request, Uri};
use serde::{Deserialize, Serialize};

use crate::glue::{self, DialogView};
use crate::model::{AccessLevel, AccessRule, ManualState, PersonState, Published, Sources};
use crate::notify::{other, NotifierDialog, SubState, TerminatedReason};
use crate::publish::{Limits, Publication, Publications, PublishOutcome, PIDF_CONTENT_TYPE};
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

/// What to answer a PUBLISH or SUBSCRIBE with. The shell builds the response from the
/// request (Via, From, To, Call-ID, CSeq), adds `headers`, and for SUBSCRIBE puts `to_tag`
/// on the To header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// A reason phrase other than the default for `status`.
    pub reason: Option<String>,
    pub headers: Vec<Header>,
    /// The dialog's local tag (a SUBSCRIBE's 2xx).
    pub to_tag: Option<String>,
}

/// Why a request was refused; [`Reply::from`] maps each to its status and headers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("body is not application/pidf+xml")]
    UnsupportedMediaType,
    #[error("no publication with that entity tag")]
    ConditionalRequestFailed,
    #[error("the list needs Supported: eventlist")]
    EventListRequired,
    #[error("interval too brief, at least {0} s")]
    IntervalTooBrief(u32),
    #[error("no such subscription")]
    NoSuchSubscription,
    #[error("event package not supported here")]
    BadEvent,
}

impl From<&Refusal> for Reply {
    fn from(r: &Refusal) -> Reply {
        let mut headers = Vec::new();
        let (status, reason) = match r {
            Refusal::BadRequest(why) => {
                // The detail goes in a Warning, the status line stays standard.
                headers.push(other(
                    "Warning",
                    format!("399 switchboard \"{}\"", why.replace('"', "'")),
                ));
                (400, None)
            }
            Refusal::Forbidden(why) => (403, Some(why.clone())),
            Refusal::UnsupportedMediaType => {
                headers.push(other("Accept", PIDF_CONTENT_TYPE.to_string()));
                (415, None)
            }
            Refusal::ConditionalRequestFailed => (412, None),
            Refusal::EventListRequired => {
                headers.push(Header::Require("eventlist".into()));
                (421, None)
            }
            Refusal::IntervalTooBrief(min) => {
                headers.push(Header::MinExpires(*min));
                (423, None)
            }
            Refusal::NoSuchSubscription => (481, None),
            Refusal::BadEvent => {
                headers.push(other("Allow-Events", "presence, dialog".to_string()));
                (489, None)
            }
        };
        Reply {
            status,
            reason,
            headers,
            to_tag: None,
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
struct Person {
    manual: Option<ManualState>,
    in_call: bool,
    signed_in: bool,
    calendar: Option<String>,
    rules: Vec<AccessRule>,
    dialogs: Vec<DialogView>,
    /// The combined state last computed, to tell changes apart.
    state: Option<PersonState>,
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
    cfg: PresenceConfig,
    our_contact: Uri,
    people: HashMap<String, Person>,
    publications: Publications,
    lists: HashMap<String, ContactList>,
    /// member → the list URIs that contain it.
    member_of: HashMap<String, BTreeSet<String>>,
    subs: HashMap<SubscriptionId, Subscription>,
    by_dialog: HashMap<DialogKey, SubscriptionId>,
    /// entity (person or list URI) → its subscriptions, every package.
    watchers: HashMap<String, BTreeSet<SubscriptionId>>,
    per_watcher: HashMap<String, usize>,
    dirty: BTreeSet<SubscriptionId>,
    in_flight: HashMap<NotifyId, SubscriptionId>,
    timers: Timers,
    outbox: VecDeque<OutgoingNotify>,
    events: VecDeque<PresenceEvent>,
    next_id: u64,
}

impl PresenceServer {
    /// A server with no people, publications or subscriptions. An unparseable
    /// `our_contact` falls back to `sip:127.0.0.1` (configuration is checked by the shell).
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
            if self.subs.get(&id).map(|s| s.package) != Some(package) {
                return Err(Refusal::BadEvent);
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

    fn insert_sub(&mut self, sub: Subscription) {
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
    fn terminate(
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
        self.in_flight.retain(|_, s| *s != id);
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

fn ok(headers: Vec<Header>) -> Reply {
    Reply {
        status: 200,
        reason: None,
        headers,
        to_tag: None,
    }
}

fn subscribe_ok(expires: u32, contact: &Uri, tag: &str) -> Reply {
    Reply {
        status: 200,
        reason: None,
        headers: vec![
            Header::Expires(expires),
            Header::Contact(sb_sip_msg::ContactValue::Addr(sb_sip_msg::NameAddr::new(
                contact.clone(),
            ))),
        ],
        to_tag: Some(tag.to_string()),
    }
}

fn new_feed(p: Package) -> Feed {
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
fn same_user(a: &str, b: &str) -> bool {
    let strip = |s: &str| {
        let s = s.trim();
        s.strip_prefix("sip:").unwrap_or(s).to_ascii_lowercase()
    };
    strip(a) == strip(b)
}

/// The domain of `sip:user@domain` (for the default access level).
fn domain_of(entity: &str) -> &str {
    let after = entity.rsplit_once('@').map_or(entity, |(_, d)| d);
    after.split([';', ':', '>']).next().unwrap_or(after)
}

/// Documents rendered once per flush and shared by every watcher at the same level.
#[derive(Default)]
struct RenderCache {
    views: HashMap<(String, AccessLevel), (Arc<PersonState>, Arc<Vec<u8>>)>,
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
        self.person_mut(entity).calendar = ics;
        self.changed(now_ms, entity);
    }

    /// Who may see how much of `entity`. Every watcher's view is re-evaluated.
    pub fn set_access_rules(&mut self, now_ms: u64, entity: &str, rules: Vec<AccessRule>) {
        self.person_mut(entity).rules = rules;
        // The state itself is unchanged, but what each watcher may see is not.
        self.mark_watchers(entity);
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
        let ids: Vec<SubscriptionId> = self
            .watchers
            .get(entity)
            .into_iter()
            .flatten()
            .copied()
            .collect();
        for id in ids {
            if let Some(sub) = self.subs.get_mut(&id) {
                if sub.package == Package::Dialog {
                    sub.throttle.dirty = true;
                    self.dirty.insert(id);
                }
            }
        }
        self.flush(now_ms);
    }

    // ---- getters -------------------------------------------------------------------------

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

    // ---- internals -----------------------------------------------------------------------

    fn person_mut(&mut self, entity: &str) -> &mut Person {
        self.people.entry(entity.to_string()).or_default()
    }

    fn changed(&mut self, now_ms: u64, entity: &str) {
        self.person_changed(now_ms, entity);
        self.flush(now_ms);
    }

    fn level(&self, entity: &str, watcher: Option<&str>) -> AccessLevel {
        let Some(w) = watcher else {
            return AccessLevel::Public;
        };
        if same_user(w, entity) {
            return AccessLevel::Personal;
        }
        let rules = self.people.get(entity).map_or(&[][..], |p| &p.rules[..]);
        glue::level_for(rules, w, domain_of(entity))
    }

    /// Aggregates everything known about `entity` at `now_ms`.
    fn compute(&self, now_ms: u64, entity: &str) -> PersonState {
        let now_s = now_ms / 1000;
        let person = self.people.get(entity);
        let mut published: Vec<Published> = self.publications.documents(now_ms, entity);
        published.sort_by_key(|p| p.received_at);
        let sources = Sources {
            published,
            manual: person.and_then(|p| p.manual.clone()),
            in_call: person.is_some_and(|p| p.in_call),
            in_meeting: person
                .and_then(|p| p.calendar.as_deref())
                .is_some_and(|ics| glue::busy_at(ics, now_s)),
            signed_in: person.is_some_and(|p| p.signed_in),
            location: None,
            phone_numbers: Vec::new(),
        };
        glue::aggregate(&sources, now_s)
    }

    /// Recomputes `entity`'s state; if it changed, marks its watchers (direct and through
    /// lists) dirty. Re-arms the person's own timer (manual expiry, calendar).
    fn person_changed(&mut self, now_ms: u64, entity: &str) {
        let state = self.compute(now_ms, entity);
        let now_s = now_ms / 1000;
        let person = self.person_mut(entity);
        let mut wake: Option<u64> = None;
        if let Some(until) = person
            .manual
            .as_ref()
            .and_then(|m| m.until)
            .filter(|u| *u > now_s)
        {
            wake = Some(until);
        }
        if let Some(next) = person
            .calendar
            .as_deref()
            .and_then(|ics| glue::next_change(ics, now_s))
        {
            if next > now_s {
                wake = Some(wake.map_or(next, |w| w.min(next)));
            }
        }
        let differs = person.state.as_ref() != Some(&state);
        if differs {
            person.state = Some(state.clone());
        }
        match wake {
            Some(at_s) => self
                .timers
                .set(Timer::Person(entity.to_string()), at_s * 1000),
            None => self.timers.clear(&Timer::Person(entity.to_string())),
        }
        if differs {
            self.events.push_back(PresenceEvent::StateChanged {
                entity: entity.to_string(),
                state,
            });
            self.mark_watchers(entity);
        }
    }

    /// Marks every presence subscription that shows `entity` as needing a NOTIFY.
    fn mark_watchers(&mut self, entity: &str) {
        if let Some(ids) = self.watchers.get(entity) {
            for id in ids {
                if let Some(sub) = self.subs.get_mut(id) {
                    if sub.package == Package::Presence {
                        sub.throttle.dirty = true;
                        self.dirty.insert(*id);
                    }
                }
            }
        }
        for list in self.member_of.get(entity).into_iter().flatten() {
            for id in self.watchers.get(list).into_iter().flatten() {
                if let Some(Subscription {
                    feed: Feed::List { changed, .. },
                    throttle,
                    ..
                }) = self.subs.get_mut(id)
                {
                    changed.insert(entity.to_string());
                    throttle.dirty = true;
                    self.dirty.insert(*id);
                }
            }
        }
    }

    /// Sends what dirty subscriptions may send now; arms throttle timers for the rest.
    fn flush(&mut self, now_ms: u64) {
        if self.dirty.is_empty() {
            return;
        }
        let interval = self.cfg.notify_min_interval_ms;
        let mut cache = RenderCache::default();
        for id in std::mem::take(&mut self.dirty) {
            let Some(sub) = self.subs.get(&id) else {
                continue;
            };
            if !sub.throttle.dirty {
                continue;
            }
            if sub.throttle.may_send(now_ms, interval) {
                self.send_with(now_ms, id, false, None, &mut cache);
            } else {
                let at = sub.throttle.ready_at(interval);
                self.timers.set(Timer::Throttle(id), at);
            }
        }
    }

    /// The immediate full-state NOTIFY after a SUBSCRIBE is accepted or refreshed.
    fn send_full(&mut self, now_ms: u64, id: SubscriptionId) {
        self.timers.clear(&Timer::Throttle(id));
        self.dirty.remove(&id);
        self.send_with(now_ms, id, true, None, &mut RenderCache::default());
    }

    fn send(&mut self, now_ms: u64, id: SubscriptionId, full: bool, state: SubState) {
        self.send_with(now_ms, id, full, Some(state), &mut RenderCache::default());
    }

    /// Renders and queues one NOTIFY for `id`. Unless `full`, nothing is sent when the
    /// watcher's view did not change. `state` defaults to active with the time left.
    fn send_with(
        &mut self,
        now_ms: u64,
        id: SubscriptionId,
        full: bool,
        state: Option<SubState>,
        cache: &mut RenderCache,
    ) {
        let body = self.render(now_ms, id, full, cache);
        if body.is_none() && state.is_none() {
            // Nothing new for this watcher: the change is absorbed, no NOTIFY.
            if let Some(sub) = self.subs.get_mut(&id) {
                sub.throttle.dirty = false;
            }
            return;
        }
        // A final NOTIFY goes out even without a document (the list is gone).
        let body = body.unwrap_or_default();
        let our_contact = self.our_contact.clone();
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        let state = state.unwrap_or(SubState::Active {
            expires_s: sub.remaining_s(now_ms),
        });
        let (ctype, bytes) = body;
        let request = sub.dialog.next_notify(&our_contact, state, &ctype, bytes);
        sub.throttle.sent(now_ms);
        self.next_id += 1;
        let nid = NotifyId(self.next_id);
        if matches!(state, SubState::Active { .. }) {
            self.in_flight.insert(nid, id);
        }
        self.outbox.push_back(OutgoingNotify {
            id: nid,
            flow: sub.flow,
            request,
        });
    }

    /// The body of the next NOTIFY of `id`, updating what the subscription last sent;
    /// `None` when not `full` and the watcher would learn nothing new.
    fn render(
        &mut self,
        now_ms: u64,
        id: SubscriptionId,
        full: bool,
        cache: &mut RenderCache,
    ) -> Option<(String, Vec<u8>)> {
        let sub = self.subs.get(&id)?;
        let entity = sub.entity.clone();
        let watcher = sub.watcher.clone();
        match sub.package {
            Package::Presence => {
                let (view, body) = self.view_doc(now_ms, &entity, watcher.as_deref(), cache);
                let sub = self.subs.get_mut(&id)?;
                let Feed::Presence { last } = &mut sub.feed else {
                    return None;
                };
                if !full && last.as_deref() == Some(&*view) {
                    return None;
                }
                *last = Some(view);
                Some((PIDF_CONTENT_TYPE.to_string(), body.to_vec()))
            }
            Package::Dialog => {
                let dialogs = self
                    .people
                    .get(&entity)
                    .map(|p| p.dialogs.clone())
                    .unwrap_or_default();
                let sub = self.subs.get_mut(&id)?;
                let Feed::Dialog { version, last } = &mut sub.feed else {
                    return None;
                };
                let changed: Vec<DialogView> = if full {
                    dialogs.clone()
                } else {
                    dialogs
                        .iter()
                        .filter(|d| !last.contains(d))
                        .cloned()
                        .collect()
                };
                // RFC 4235 §4.1: a dialog that disappears is reported once more as
                // terminated; with full state it is simply absent.
                if !full && changed.is_empty() && dialogs.len() == last.len() {
                    return None;
                }
                let send_full = full || dialogs.len() < last.len();
                let doc_dialogs = if send_full { &dialogs } else { &changed };
                *version += 1;
                let body = glue::render_dialog_info(&entity, *version - 1, send_full, doc_dialogs);
                *last = dialogs;
                Some((glue::DIALOG_INFO_CONTENT_TYPE.to_string(), body))
            }
            Package::List => {
                let list = self.lists.get(&entity)?;
                let members = list.members.clone();
                let mut parts = Vec::new();
                let (was_full, todo): (bool, Vec<String>) = {
                    let Feed::List {
                        full: f, changed, ..
                    } = &sub.feed
                    else {
                        return None;
                    };
                    let f = *f || full;
                    (
                        f,
                        if f {
                            members.clone()
                        } else {
                            changed.iter().cloned().collect()
                        },
                    )
                };
                let mut views = Vec::with_capacity(todo.len());
                for m in &todo {
                    let (view, body) = self.view_doc(now_ms, m, watcher.as_deref(), cache);
                    views.push((m.clone(), view, body));
                }
                let sub = self.subs.get_mut(&id)?;
                let Feed::List {
                    version,
                    last,
                    changed,
                    full: f,
                } = &mut sub.feed
                else {
                    return None;
                };
                for (m, view, body) in views {
                    if !was_full && last.get(&m).map(|v| &**v) == Some(&*view) {
                        continue;
                    }
                    last.insert(m.clone(), view);
                    parts.push((m, body.to_vec()));
                }
                changed.clear();
                *f = false;
                if was_full {
                    last.retain(|m, _| members.contains(m));
                } else if parts.is_empty() {
                    return None;
                }
                *version += 1;
                Some(glue::render_rlmi(&entity, *version - 1, was_full, &parts))
            }
        }
    }

    /// The view of `entity` for `watcher` and its PIDF, shared per access level.
    fn view_doc(
        &mut self,
        now_ms: u64,
        entity: &str,
        watcher: Option<&str>,
        cache: &mut RenderCache,
    ) -> (Arc<PersonState>, Arc<Vec<u8>>) {
        let level = self.level(entity, watcher);
        let key = (entity.to_string(), level);
        if let Some(hit) = cache.views.get(&key) {
            return hit.clone();
        }
        let state = match self.people.get(entity).and_then(|p| p.state.clone()) {
            Some(s) => s,
            None => self.compute(now_ms, entity),
        };
        let view = glue::view(&state, level);
        let body = glue::render_pidf(entity, &view);
        let out = (Arc::new(view), Arc::new(body));
        cache.views.insert(key, out.clone());
        out
    }
}

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
            person.calendar = p.calendar;
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
