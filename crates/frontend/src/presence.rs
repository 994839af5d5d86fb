//! Presence in the front end: PUBLISH and SUBSCRIBE are answered by the presence server
//! (`sb-presence`), its NOTIFYs leave as the front end's own requests
//! ([`crate::Frontend::poll_request`]), and what the front end sees feeds it: devices
//! signing in and out (the registrar), calls starting and ending (INVITE, its answers and
//! BYE as the proxy carries them: "in a call" and the dialog event package, RFC 4235), and
//! what administrators provision (manual state, access levels, contact lists, calendars),
//! which the shell installs from the store.
//!
//! Time in the presence server is Unix milliseconds, from the front end's [`WallClock`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sb_presence::doc::dialog_info::{DialogState, Direction, StateEvent};
use sb_presence::model::Availability;
use sb_presence::{DialogView, NotifyId, OutgoingNotify, PresenceConfig, PresenceServer};
use sb_registrar::Source;
use sb_routing::UserId;
use sb_sip_core::Peer;
use sb_sip_msg::{Method, NameAddr, Request, Response, Uri};

use crate::policy::OutId;
use crate::services::WallClock;

/// A message the proxy carries, borrowed (nothing is copied on the call path).
#[derive(Debug, Clone, Copy)]
pub enum Proxied<'a> {
    Request(&'a Request),
    Response(&'a Response),
}

/// One call as presence sees it: the users of ours in it and their dialog as each sees it.
#[derive(Debug, Default)]
struct Call {
    /// (entity, its view of the dialog)
    parties: Vec<(String, DialogView)>,
    started_ms: u64,
}

/// The presence server and what ties it to the rest of the front end.
#[derive(Debug)]
pub(crate) struct PresenceGlue {
    pub(crate) server: PresenceServer,
    clock: WallClock,
    /// The opaque flow ids the presence server hands back with each NOTIFY.
    flows: HashMap<u64, Peer>,
    flow_of: HashMap<Peer, u64>,
    next_flow: u64,
    notifies: HashMap<OutId, NotifyId>,
    next_out: u64,
    /// Calls through the proxy by Call-ID.
    calls: HashMap<String, Call>,
    last_ms: u64,
    /// Counts changes to the live state; compared with `saved` to skip needless saves.
    live_changes: u64,
    saved: u64,
}

/// The address-of-record form presence keys people by: `sip:user@host`.
pub(crate) fn entity_of(uri: &Uri) -> Option<String> {
    uri.as_sip()
        .and_then(UserId::from_sip_uri)
        .map(|u| u.as_str().to_string())
}

impl PresenceGlue {
    pub(crate) fn new(config: PresenceConfig, clock: WallClock) -> PresenceGlue {
        PresenceGlue {
            server: PresenceServer::new(config),
            clock,
            flows: HashMap::new(),
            flow_of: HashMap::new(),
            next_flow: 0,
            notifies: HashMap::new(),
            next_out: 0,
            calls: HashMap::new(),
            last_ms: clock.unix.saturating_mul(1000),
            live_changes: 0,
            saved: 0,
        }
    }

    /// `now` in the presence server's Unix milliseconds; remembered as the latest time
    /// seen (see [`PresenceGlue::last_ms`]).
    pub(crate) fn ms(&mut self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.clock.at).as_millis() as u64;
        let ms = self.clock.unix.saturating_mul(1000).saturating_add(since);
        self.last_ms = self.last_ms.max(ms);
        ms
    }

    /// The latest time an input carried, for work that follows an input without a clock
    /// of its own (registrar effects).
    pub(crate) fn last_ms(&self) -> u64 {
        self.last_ms
    }

    pub(crate) fn instant(&self, ms: u64) -> Instant {
        let base = self.clock.unix.saturating_mul(1000);
        self.clock.at + Duration::from_millis(ms.saturating_sub(base))
    }

    /// The flow id for NOTIFYs to the device that sent a SUBSCRIBE from `transport`/`addr`.
    pub(crate) fn flow(&mut self, source: &Source) -> u64 {
        let peer = crate::calls::peer_of(source);
        if let Some(f) = self.flow_of.get(&peer) {
            return *f;
        }
        self.next_flow += 1;
        self.flows.insert(self.next_flow, peer);
        self.flow_of.insert(peer, self.next_flow);
        self.next_flow
    }

    /// NOTIFYs waiting to go, with where to send them.
    pub(crate) fn drain(&mut self) -> Vec<(OutId, Request, Peer)> {
        // The server's events say what changed; what matters here is only whether the
        // live state (subscriptions, publications) moved since it was last saved. Left
        // undrained they would pile up for as long as the server runs.
        while let Some(ev) = self.server.poll_event() {
            if !matches!(ev, sb_presence::PresenceEvent::StateChanged { .. }) {
                self.live_changes += 1;
            }
        }
        let mut out = Vec::new();
        while let Some(OutgoingNotify { id, flow, request }) = self.server.poll_notify() {
            let Some(peer) = self.flows.get(&flow).copied() else {
                continue;
            };
            self.next_out += 1;
            let out_id = OutId(self.next_out);
            self.notifies.insert(out_id, id);
            // Each NOTIFY moves its dialog's CSeq, which a saved subscription carries.
            self.live_changes += 1;
            out.push((out_id, request, peer));
        }
        out
    }

    /// The final answer to a NOTIFY (408 for a timeout or transport failure).
    pub(crate) fn outcome(&mut self, now: Instant, id: OutId, status: u16) -> bool {
        let Some(n) = self.notifies.remove(&id) else {
            return false;
        };
        let ms = self.ms(now);
        self.server.handle_notify_response(ms, n, status);
        true
    }

    /// A message the proxy carries: calls starting, ringing, answered or ended change the
    /// parties' "in a call" state and their dialog documents. `is_user` says which
    /// addresses are people of ours.
    pub(crate) fn observe(
        &mut self,
        now: Instant,
        msg: Proxied<'_>,
        is_user: &dyn Fn(&str) -> bool,
    ) {
        let ms = self.ms(now);
        let (call_id, method) = match msg {
            Proxied::Request(r) => (r.headers.call_id(), Some(&r.method)),
            Proxied::Response(r) => (r.headers.call_id(), r.headers.cseq().map(|c| &c.method)),
        };
        let Some(call_id) = call_id.map(|c| c.as_str().to_string()) else {
            return;
        };
        match (msg, method) {
            (Proxied::Request(r), Some(Method::Invite))
                if r.headers.to().and_then(NameAddr::tag).is_none() =>
            {
                if self.calls.contains_key(&call_id) {
                    return;
                }
                let mut call = Call {
                    parties: Vec::new(),
                    started_ms: ms,
                };
                let from = r.headers.from().and_then(|f| entity_of(&f.uri));
                let to = r.headers.to().and_then(|t| entity_of(&t.uri));
                for (who, other, dir) in [
                    (from.clone(), to.clone(), Direction::Initiator),
                    (to, from, Direction::Recipient),
                ] {
                    let Some(who) = who.filter(|w| is_user(w)) else {
                        continue;
                    };
                    let mut v =
                        DialogView::new(format!("d{:x}", fnv(&call_id)), DialogState::Trying);
                    v.call_id = Some(call_id.clone());
                    v.direction = Some(dir);
                    v.local_identity = Some(who.clone());
                    v.remote_identity = other;
                    call.parties.push((who, v));
                }
                if !call.parties.is_empty() {
                    self.calls.insert(call_id.clone(), call);
                    self.publish_call(ms, &call_id, false);
                }
            }
            (Proxied::Response(r), Some(Method::Invite)) => {
                let Some(call) = self.calls.get_mut(&call_id) else {
                    return;
                };
                let code = r.status.code();
                let state = match code {
                    101..=199 => DialogState::Early,
                    200..=299 => DialogState::Confirmed,
                    300..=699 => DialogState::Terminated,
                    _ => return,
                };
                let mut changed = false;
                for (_, v) in call.parties.iter_mut() {
                    // Once confirmed, a later failure on another fork does not end the call.
                    if v.state == DialogState::Confirmed || v.state == state {
                        continue;
                    }
                    if state == DialogState::Terminated {
                        v.event = Some(if code == 487 {
                            StateEvent::Cancelled
                        } else {
                            StateEvent::Rejected
                        });
                        v.code = Some(code);
                    }
                    v.state = state;
                    changed = true;
                }
                // A rejected fork among several ends the call only when nothing else rings.
                if changed {
                    let done = state == DialogState::Terminated;
                    self.publish_call(ms, &call_id, done);
                }
            }
            (Proxied::Request(r), Some(Method::Bye)) => {
                let Some(call) = self.calls.get_mut(&call_id) else {
                    return;
                };
                let from = r.headers.from().and_then(|f| entity_of(&f.uri));
                for (who, v) in call.parties.iter_mut() {
                    v.state = DialogState::Terminated;
                    v.event = Some(if from.as_deref() == Some(who.as_str()) {
                        StateEvent::LocalBye
                    } else {
                        StateEvent::RemoteBye
                    });
                }
                self.publish_call(ms, &call_id, true);
            }
            _ => {}
        }
    }

    /// Tells the presence server the parties' dialogs and whether each is in a call; a
    /// finished call is shown terminated once, then forgotten.
    fn publish_call(&mut self, ms: u64, call_id: &str, finished: bool) {
        let Some(call) = self.calls.get(call_id) else {
            return;
        };
        let parties: Vec<String> = call.parties.iter().map(|(w, _)| w.clone()).collect();
        let started = call.started_ms;
        if finished {
            // The terminated views go out once; the call is gone afterwards.
            let last: Vec<(String, DialogView)> = call.parties.clone();
            self.calls.remove(call_id);
            for (who, mut v) in last {
                v.duration_secs = Some(ms.saturating_sub(started) / 1000);
                let mut views = self.views_of(&who);
                views.push(v);
                self.server.set_dialogs(ms, &who, views);
                let busy = self.in_call(&who);
                self.server.set_in_call(ms, &who, busy);
            }
            return;
        }
        for who in parties {
            let views = self.views_of(&who);
            self.server.set_dialogs(ms, &who, views);
            let busy = self.in_call(&who);
            self.server.set_in_call(ms, &who, busy);
        }
    }

    fn views_of(&self, who: &str) -> Vec<DialogView> {
        self.calls
            .values()
            .flat_map(|c| c.parties.iter())
            .filter(|(w, _)| w == who)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn in_call(&self, who: &str) -> bool {
        self.calls
            .values()
            .flat_map(|c| c.parties.iter())
            .any(|(w, v)| w == who && v.state == DialogState::Confirmed)
    }

    /// The callee's presence as it bears on a call from `caller` (presence-based routing):
    /// do not disturb unless the caller's access level passes it, in a call.
    pub(crate) fn facts(
        &self,
        callee: &str,
        caller: &sb_routing::Caller,
    ) -> sb_routing::PresenceFacts {
        let ms = self.last_ms;
        let state = self.server.state(ms, callee);
        let dnd = state.availability == Availability::DoNotDisturb;
        let caller_passes_dnd = match caller {
            sb_routing::Caller::User(u) => {
                sb_presence::access::passes_dnd(self.server.access_level(callee, u.as_str()))
            }
            _ => false,
        };
        let shown = if state.in_call {
            format!(
                "{} (in a call)",
                state.availability.as_str().replace('_', " ")
            )
        } else {
            state.availability.as_str().replace('_', " ")
        };
        sb_routing::PresenceFacts {
            shown,
            dnd,
            in_call: state.in_call,
            caller_passes_dnd,
        }
    }

    /// Publications and subscriptions as they stand, each subscription with the peer its
    /// NOTIFYs go to (the flow ids are this process's own), for the store.
    pub(crate) fn export(&self) -> (sb_presence::PresenceSnapshot, HashMap<u64, Peer>) {
        let mut snap = self.server.snapshot();
        // Provisioning lives in the store already; only live state goes back.
        snap.people.clear();
        snap.lists.clear();
        let peers = snap
            .subscriptions
            .iter()
            .filter_map(|s| self.flows.get(&s.flow).map(|p| (s.flow, *p)))
            .collect();
        (snap, peers)
    }

    /// [`PresenceGlue::export`], only when the live state changed since the last call.
    pub(crate) fn export_if_changed(
        &mut self,
    ) -> Option<(sb_presence::PresenceSnapshot, HashMap<u64, Peer>)> {
        if self.live_changes == self.saved {
            return None;
        }
        self.saved = self.live_changes;
        Some(self.export())
    }

    /// Loads what [`PresenceGlue::export`] saved (after a restart): the subscriptions'
    /// peers get flow ids of this process.
    pub(crate) fn import(
        &mut self,
        now: Instant,
        mut snap: sb_presence::PresenceSnapshot,
        peers: &HashMap<u64, Peer>,
    ) {
        snap.subscriptions.retain(|s| peers.contains_key(&s.flow));
        for s in snap.subscriptions.iter_mut() {
            let peer = peers[&s.flow];
            s.flow = match self.flow_of.get(&peer) {
                Some(f) => *f,
                None => {
                    self.next_flow += 1;
                    self.flows.insert(self.next_flow, peer);
                    self.flow_of.insert(peer, self.next_flow);
                    self.next_flow
                }
            };
        }
        let ms = self.ms(now);
        self.server.restore(ms, snap);
    }

    /// Calls presence is following (for a gauge that must return to zero).
    pub(crate) fn calls(&self) -> usize {
        self.calls.len()
    }
}

/// FNV-1a, for short stable dialog ids.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
