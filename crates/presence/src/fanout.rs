//! How a change reaches watchers: recomputing a person's state, marking the
//! subscriptions that show it, and rendering NOTIFYs within each subscription's throttle.
//!
//! Documents are rendered once per access level per flush and shared between watchers
//! ([`RenderCache`]), so fanning one change out to thousands of watchers costs one
//! aggregation, at most five PIDF renderings, and one NOTIFY header block per watcher.

use std::collections::HashMap;
use std::sync::Arc;

use crate::glue;
use crate::model::{AccessLevel, PersonState, Published, Sources};
use crate::notify::SubState;
use crate::publish::PIDF_CONTENT_TYPE;
use crate::server::{
    domain_of, same_user, NotifyId, OutgoingNotify, Person, PresenceEvent, PresenceServer,
};
use crate::subscribe::{Feed, Package, Subscription, SubscriptionId};
use crate::timers::Timer;

/// One watcher level's view of a person and its PIDF, shared between watchers.
type Rendered = (Arc<PersonState>, Arc<String>);

/// Documents rendered once per flush and shared by every watcher at the same level.
#[derive(Default)]
pub(crate) struct RenderCache {
    /// entity → level → (view, PIDF); looked up by `&str` so a hit allocates nothing.
    views: HashMap<String, HashMap<AccessLevel, Rendered>>,
}

impl PresenceServer {
    // ---- internals -----------------------------------------------------------------------

    pub(crate) fn person_mut(&mut self, entity: &str) -> &mut Person {
        self.people.entry(entity.to_string()).or_default()
    }

    pub(crate) fn changed(&mut self, now_ms: u64, entity: &str) {
        self.person_changed(now_ms, entity);
        self.flush(now_ms);
    }

    pub(crate) fn level(&self, entity: &str, watcher: Option<&str>) -> AccessLevel {
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
    pub(crate) fn compute(&self, now_ms: u64, entity: &str) -> PersonState {
        let now_s = now_ms / 1000;
        let person = self.people.get(entity);
        let mut published: Vec<Published> = self.publications.documents(now_ms, entity);
        published.sort_by_key(|p| p.received_at);
        let sources = Sources {
            published,
            manual: person.and_then(|p| p.manual.clone()),
            in_call: person.is_some_and(|p| p.in_call),
            in_meeting: person
                .and_then(|p| p.schedule.as_ref())
                .is_some_and(|c| c.busy_at(now_s)),
            signed_in: person.is_some_and(|p| p.signed_in),
            location: None,
            phone_numbers: Vec::new(),
        };
        glue::aggregate(&sources, now_s)
    }

    /// Recomputes `entity`'s state; if it changed, marks its watchers (direct and through
    /// lists) dirty. Re-arms the person's own timer (manual expiry, calendar).
    pub(crate) fn person_changed(&mut self, now_ms: u64, entity: &str) {
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
        if let Some(next) = person.schedule.as_ref().and_then(|c| c.next_change(now_s)) {
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
    pub(crate) fn mark_watchers(&mut self, entity: &str) {
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
    pub(crate) fn flush(&mut self, now_ms: u64) {
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
    pub(crate) fn send_full(&mut self, now_ms: u64, id: SubscriptionId) {
        self.timers.clear(&Timer::Throttle(id));
        self.dirty.remove(&id);
        self.send_with(now_ms, id, true, None, &mut RenderCache::default());
    }

    pub(crate) fn send(&mut self, now_ms: u64, id: SubscriptionId, full: bool, state: SubState) {
        self.send_with(now_ms, id, full, Some(state), &mut RenderCache::default());
    }

    /// Renders and queues one NOTIFY for `id`. Unless `full`, nothing is sent when the
    /// watcher's view did not change. `state` defaults to active with the time left.
    pub(crate) fn send_with(
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
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        let state = state.unwrap_or(SubState::Active {
            expires_s: sub.remaining_s(now_ms),
        });
        let (ctype, bytes) = body;
        let request = sub
            .dialog
            .next_notify(&self.our_contact, state, &ctype, bytes);
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
    pub(crate) fn render(
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
                Some((PIDF_CONTENT_TYPE.to_string(), body.as_bytes().to_vec()))
            }
            Package::Dialog => {
                let level = self.level(&entity, watcher.as_deref());
                let dialogs = self
                    .people
                    .get(&entity)
                    .map(|p| glue::dialogs_for(&p.dialogs, level))
                    .unwrap_or_default();
                let sub = self.subs.get_mut(&id)?;
                let Feed::Dialog { version, last } = &mut sub.feed else {
                    return None;
                };
                // RFC 4235 §4.1: full state lists every dialog; a partial document carries
                // the dialogs that changed, and those that vanished as terminated.
                let partial = (!full).then(|| glue::dialog_changes(last, &dialogs));
                if partial.as_ref().is_some_and(Vec::is_empty) {
                    return None;
                }
                let v = *version;
                *version = version.wrapping_add(1);
                let body = glue::render_dialog_info(
                    &entity,
                    v,
                    full,
                    partial.as_deref().unwrap_or(&dialogs),
                );
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
                    parts.push((m, String::clone(&body)));
                }
                changed.clear();
                *f = false;
                if was_full {
                    last.retain(|m, _| members.contains(m));
                } else if parts.is_empty() {
                    return None;
                }
                let v = *version;
                *version = version.wrapping_add(1);
                Some(glue::render_rlmi(&entity, v, was_full, parts))
            }
        }
    }

    /// The view of `entity` for `watcher` and its PIDF, shared per access level.
    pub(crate) fn view_doc(
        &mut self,
        now_ms: u64,
        entity: &str,
        watcher: Option<&str>,
        cache: &mut RenderCache,
    ) -> Rendered {
        let level = self.level(entity, watcher);
        if let Some(hit) = cache.views.get(entity).and_then(|m| m.get(&level)) {
            return hit.clone();
        }
        let state = match self.people.get(entity).and_then(|p| p.state.clone()) {
            Some(s) => s,
            None => self.compute(now_ms, entity),
        };
        let view = glue::view(&state, level);
        let body = glue::render_pidf(entity, &view);
        let out = (Arc::new(view), Arc::new(body));
        cache
            .views
            .entry(entity.to_string())
            .or_default()
            .insert(level, out.clone());
        out
    }
}
