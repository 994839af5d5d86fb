//! Gateway health: OPTIONS keep-alives and call outcomes decide whether a gateway takes
//! new calls (RFC 3261 §11: OPTIONS as a liveness probe that any SIP element answers).
//!
//! [`GatewayMonitor`] is sans-IO. Every `options_interval_s` it queues an OPTIONS for
//! each gateway ([`GatewayMonitor::poll_transmit`]); the caller sends it through its
//! non-INVITE client transaction and reports what came back:
//!
//! - [`GatewayMonitor::handle_response`]: a final response received from the gateway.
//!   Any final status proves the gateway is alive (a 404 or 405 to OPTIONS is still an
//!   answer) and marks it up, except 503 (RFC 3261 §21.5.4: it says it is unavailable),
//!   which marks it down at once.
//! - Nothing within the answer timeout (32 s, Timer F of the transaction, or the interval
//!   if shorter) counts as a missed keep-alive ([`GatewayMonitor::handle_timeout`]), as
//!   does a transport failure the caller reports with [`GatewayMonitor::handle_failure`].
//!   A 408 the caller's own transaction layer made up must be reported as a failure, not
//!   as a response: it was not the gateway that answered.
//! - `down_after` consecutive misses mark it down.
//! - [`GatewayMonitor::call_failed`]: a call that ends with one of the gateway's
//!   `fail_codes` marks it down until a keep-alive is answered.
//!
//! Before its first answer a gateway is [`Health::Unknown`] and takes calls (a server
//! that has just started must not refuse the PSTN for a keep-alive round). The monitor
//! also counts each gateway's active calls ([`GatewayMonitor::reserve`] and
//! [`GatewayMonitor::release`]) against its capacity; [`crate::pick`] reads both.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use sb_sip_msg::{
    CSeq, CallId, Header, Host, Method, NameAddr, OtherHeader, Params, Request, Response, SipUri,
    StatusCode, Transport, Uri, Via,
};

use crate::config::{GatewayAddress, GatewayTable, GatewayTransport};
use crate::ids::GatewayName;

/// The monitor's own settings.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    /// Our Via sent-by and From host.
    pub local_host: Host,
    pub local_port: Option<u16>,
    /// Starting value of the counter that makes branches, tags and Call-IDs; seed it
    /// differently per process start so ids are not reused.
    pub seed: u64,
    /// A keep-alive without an answer this long is missed (the interval, if shorter).
    /// 32 s is 64·T1, when the transaction gives up (RFC 3261 §17.1.2.2 Timer F).
    pub answer_timeout: Duration,
}

impl MonitorConfig {
    pub fn new(local_host: Host, local_port: Option<u16>, seed: u64) -> MonitorConfig {
        MonitorConfig {
            local_host,
            local_port,
            seed,
            answer_timeout: Duration::from_secs(32),
        }
    }
}

/// Whether a gateway takes calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// No keep-alive answered or missed yet; takes calls.
    Unknown,
    Up,
    /// Skipped until it answers a keep-alive.
    Down,
}

/// Why a gateway is in its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// It answered a keep-alive with this status.
    Answered(u16),
    /// This many keep-alives in a row went unanswered.
    NoAnswer { missed: u32 },
    /// It answered a keep-alive with 503.
    Unavailable,
    /// A call to it failed with this configured status.
    CallFailed(u16),
    /// The caller could not send to it (connection refused, ICMP unreachable).
    TransportFailure,
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        })
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Answered(s) => write!(f, "answered OPTIONS with {s}"),
            Reason::NoAnswer { missed } => write!(f, "{missed} keep-alive(s) unanswered"),
            Reason::Unavailable => f.write_str("answered OPTIONS with 503"),
            Reason::CallFailed(s) => write!(f, "a call failed with {s}"),
            Reason::TransportFailure => f.write_str("could not be reached"),
        }
    }
}

/// A gateway's live state, for `switchboard gateway list` and the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayState {
    pub health: Health,
    /// When it entered `health` (none while Unknown).
    pub since: Option<Instant>,
    pub reason: Option<Reason>,
    /// Keep-alives missed in a row.
    pub missed: u32,
    pub active_calls: u32,
    pub capacity: Option<u32>,
    pub last_answer: Option<Instant>,
}

impl GatewayState {
    /// Not down and not full.
    pub fn available(&self) -> bool {
        self.health != Health::Down && self.capacity.is_none_or(|c| self.active_calls < c)
    }
}

/// A keep-alive to send: resolve `address` (RFC 3263) and send `request` over
/// `transport` in a non-INVITE client transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepAlive {
    pub gateway: GatewayName,
    pub address: GatewayAddress,
    pub transport: GatewayTransport,
    pub request: Request,
}

/// A change of a gateway's health.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MonitorEvent {
    GatewayUp {
        gateway: GatewayName,
        reason: Reason,
    },
    GatewayDown {
        gateway: GatewayName,
        reason: Reason,
    },
}

#[derive(Debug, Clone)]
struct Pending {
    call_id: String,
    deadline: Instant,
}

#[derive(Debug, Clone)]
struct Slot {
    name: GatewayName,
    address: GatewayAddress,
    transport: GatewayTransport,
    uri: Uri,
    interval: Duration,
    down_after: u32,
    fail_codes: Vec<u16>,
    state: GatewayState,
    next_probe: Instant,
    pending: Option<Pending>,
    /// Call-ID of the keep-alive before the pending one: its answer may still come
    /// (the transaction waits 32 s), and it still proves the gateway alive.
    previous_call_id: Option<String>,
    cseq: u32,
    /// Order of the last reservation (0: never), for round robin.
    last_reserved: u64,
}

impl Slot {
    /// The pending keep-alive is answered or given up; its Call-ID is remembered.
    fn settle(&mut self) {
        if let Some(p) = self.pending.take() {
            self.previous_call_id = Some(p.call_id);
        }
    }
}

/// Health and call counts of every gateway. See the module docs for the contract.
#[derive(Debug)]
pub struct GatewayMonitor {
    config: MonitorConfig,
    slots: Vec<Slot>,
    counter: u64,
    reservations: u64,
    transmits: VecDeque<KeepAlive>,
    events: VecDeque<MonitorEvent>,
}

impl GatewayMonitor {
    /// Starts watching every gateway of `table`; the first keep-alives are due at `now`.
    pub fn new(now: Instant, table: &GatewayTable, config: MonitorConfig) -> GatewayMonitor {
        let mut m = GatewayMonitor {
            counter: config.seed,
            config,
            slots: Vec::new(),
            reservations: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        m.update(now, table);
        m
    }

    /// Takes a new configuration: gateways that remain keep their state and call counts,
    /// new ones start Unknown with a keep-alive due at `now`, removed ones are forgotten.
    pub fn update(&mut self, now: Instant, table: &GatewayTable) {
        let mut old = std::mem::take(&mut self.slots);
        for g in table.gateways() {
            let c = &g.config;
            let kept = old
                .iter()
                .position(|s| &s.name == g.name())
                .map(|i| old.swap_remove(i));
            let mut state = kept.as_ref().map_or(
                GatewayState {
                    health: Health::Unknown,
                    since: None,
                    reason: None,
                    missed: 0,
                    active_calls: 0,
                    capacity: None,
                    last_answer: None,
                },
                |k| k.state.clone(),
            );
            state.capacity = c.capacity;
            let interval = Duration::from_secs(u64::from(c.options_interval_s));
            self.slots.push(Slot {
                name: g.name().clone(),
                address: g.address.clone(),
                transport: c.transport,
                uri: g.options_uri(),
                interval,
                down_after: c.down_after,
                fail_codes: c.fail_codes.clone(),
                state,
                next_probe: kept
                    .as_ref()
                    .map_or(now, |k| k.next_probe.min(now + interval)),
                pending: kept.as_ref().and_then(|k| k.pending.clone()),
                previous_call_id: kept.as_ref().and_then(|k| k.previous_call_id.clone()),
                cseq: kept.as_ref().map_or(0, |k| k.cseq),
                last_reserved: kept.as_ref().map_or(0, |k| k.last_reserved),
            });
        }
        self.send_due(now);
    }

    // ---- getters

    pub fn state(&self, gw: &GatewayName) -> Option<&GatewayState> {
        self.slot(gw).map(|s| &s.state)
    }

    /// Every gateway's state, in configuration order.
    pub fn states(&self) -> impl Iterator<Item = (&GatewayName, &GatewayState)> {
        self.slots.iter().map(|s| (&s.name, &s.state))
    }

    /// Known, not down and not full.
    pub fn is_available(&self, gw: &GatewayName) -> bool {
        self.state(gw).is_some_and(GatewayState::available)
    }

    /// The gateway a keep-alive with this Call-ID went to (one of the last two sent to
    /// each gateway).
    pub fn gateway_for_call_id(&self, call_id: &str) -> Option<&GatewayName> {
        self.slots
            .iter()
            .find(|s| {
                s.pending.as_ref().is_some_and(|p| p.call_id == call_id)
                    || s.previous_call_id.as_deref() == Some(call_id)
            })
            .map(|s| &s.name)
    }

    pub(crate) fn last_reserved(&self, gw: &GatewayName) -> u64 {
        self.slot(gw).map_or(0, |s| s.last_reserved)
    }

    // ---- inputs

    /// Counts keep-alives whose answer time passed, and queues those that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        for i in 0..self.slots.len() {
            let s = &mut self.slots[i];
            if s.pending.as_ref().is_some_and(|p| p.deadline <= now) {
                s.settle();
                self.missed(now, i, None);
            }
        }
        self.send_due(now);
    }

    /// A response the gateway sent to a keep-alive. Provisional responses say nothing
    /// final and are ignored; a late answer (after its keep-alive counted as missed)
    /// still proves the gateway alive.
    pub fn handle_response(&mut self, now: Instant, gw: &GatewayName, status: StatusCode) {
        let Some(i) = self.index(gw) else { return };
        if status.is_provisional() {
            return;
        }
        let s = &mut self.slots[i];
        s.settle();
        s.state.last_answer = Some(now);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            s.state.missed = 0;
            self.set(now, i, Health::Down, Reason::Unavailable);
        } else {
            s.state.missed = 0;
            self.set(now, i, Health::Up, Reason::Answered(status.code()));
        }
    }

    /// A response to a keep-alive, matched to its gateway by Call-ID; false when it
    /// answers none of the last two keep-alives of any gateway.
    pub fn handle_options_response(&mut self, now: Instant, resp: &Response) -> bool {
        let gw = resp
            .headers
            .call_id()
            .and_then(|c| self.gateway_for_call_id(c.as_str()))
            .cloned();
        match gw {
            Some(gw) => {
                self.handle_response(now, &gw, resp.status);
                true
            }
            None => false,
        }
    }

    /// The keep-alive to `gw` could not be sent or its transaction timed out: a miss.
    pub fn handle_failure(&mut self, now: Instant, gw: &GatewayName) {
        let Some(i) = self.index(gw) else { return };
        self.slots[i].settle();
        self.missed(now, i, Some(Reason::TransportFailure));
    }

    /// A call through `gw` ended with `status`; one of its `fail_codes` marks it down.
    pub fn call_failed(&mut self, now: Instant, gw: &GatewayName, status: StatusCode) {
        let Some(i) = self.index(gw) else { return };
        if self.slots[i].fail_codes.contains(&status.code()) {
            self.set(now, i, Health::Down, Reason::CallFailed(status.code()));
        }
    }

    // ---- commands

    /// Counts a call starting through `gw`; false (and nothing counted) when the gateway
    /// is unknown, down or full.
    pub fn reserve(&mut self, gw: &GatewayName) -> bool {
        let Some(i) = self.index(gw) else {
            return false;
        };
        if !self.slots[i].state.available() {
            return false;
        }
        self.reservations += 1;
        let s = &mut self.slots[i];
        s.state.active_calls += 1;
        s.last_reserved = self.reservations;
        true
    }

    /// A call through `gw` ended (whatever way). Extra releases are ignored.
    pub fn release(&mut self, gw: &GatewayName) {
        if let Some(i) = self.index(gw) {
            let c = &mut self.slots[i].state.active_calls;
            *c = c.saturating_sub(1);
        }
    }

    // ---- outputs

    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<KeepAlive> {
        self.transmits.pop_front()
    }

    #[must_use]
    pub fn poll_event(&mut self) -> Option<MonitorEvent> {
        self.events.pop_front()
    }

    /// When [`GatewayMonitor::handle_timeout`] next has something to do.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.slots
            .iter()
            .flat_map(|s| [Some(s.next_probe), s.pending.as_ref().map(|p| p.deadline)])
            .flatten()
            .min()
    }

    // ---- internals

    fn index(&self, gw: &GatewayName) -> Option<usize> {
        self.slots.iter().position(|s| &s.name == gw)
    }

    fn slot(&self, gw: &GatewayName) -> Option<&Slot> {
        self.slots.iter().find(|s| &s.name == gw)
    }

    fn missed(&mut self, now: Instant, i: usize, why: Option<Reason>) {
        let s = &mut self.slots[i];
        s.state.missed = s.state.missed.saturating_add(1);
        let missed = s.state.missed;
        if missed >= s.down_after {
            let reason = why.unwrap_or(Reason::NoAnswer { missed });
            self.set(now, i, Health::Down, reason);
        }
    }

    /// Enters `health`; an event only when it changes (the reason is updated anyway).
    fn set(&mut self, now: Instant, i: usize, health: Health, reason: Reason) {
        let s = &mut self.slots[i];
        s.state.reason = Some(reason);
        if s.state.health == health {
            return;
        }
        s.state.health = health;
        s.state.since = Some(now);
        let gateway = s.name.clone();
        self.events.push_back(match health {
            Health::Up => MonitorEvent::GatewayUp { gateway, reason },
            _ => MonitorEvent::GatewayDown { gateway, reason },
        });
    }

    fn send_due(&mut self, now: Instant) {
        for i in 0..self.slots.len() {
            if self.slots[i].next_probe > now {
                continue;
            }
            self.counter = self.counter.wrapping_add(1);
            let request = self.options(i, self.counter);
            if self.slots[i].pending.is_some() {
                // Only after a new configuration shortened the interval: the new
                // keep-alive replaces the old one, whose window is over.
                self.slots[i].settle();
                self.missed(now, i, None);
            }
            let timeout = self.config.answer_timeout;
            let s = &mut self.slots[i];
            let call_id = request
                .headers
                .call_id()
                .map(|c| c.as_str().to_string())
                .unwrap_or_default();
            s.pending = Some(Pending {
                call_id,
                deadline: now + timeout.min(s.interval),
            });
            // After a long pause (a stalled caller) start a fresh schedule instead of
            // firing every missed round at once.
            s.next_probe += s.interval;
            if s.next_probe <= now {
                s.next_probe = now + s.interval;
            }
            self.transmits.push_back(KeepAlive {
                gateway: s.name.clone(),
                address: s.address.clone(),
                transport: s.transport,
                request,
            });
        }
    }

    /// The keep-alive OPTIONS (RFC 3261 §11.1): Max-Forwards 70, a fresh branch, tag and
    /// Call-ID from the counter, and `Accept: application/sdp`.
    fn options(&mut self, i: usize, n: u64) -> Request {
        let host = self.config.local_host.clone();
        let port = self.config.local_port;
        let s = &mut self.slots[i];
        s.cseq = s.cseq.wrapping_add(1).max(1);
        let mut via_params = Params::new();
        via_params.set("branch", Some(&format!("z9hG4bK{n:016x}")));
        via_params.set("rport", None);
        let local = Uri::Sip(SipUri {
            secure: false,
            user: Some("switchboard".into()),
            password: None,
            host: host.clone(),
            port,
            params: Params::new(),
            headers: Vec::new(),
        });
        let mut from = NameAddr::new(local);
        from.params.set("tag", Some(&format!("{n:x}")));
        let call_id = format!("{n:016x}@{host}");
        let mut req = Request::new(Method::Options, s.uri.clone());
        let h = &mut req.headers;
        h.push(Header::Via(Via {
            protocol: "SIP".into(),
            version: "2.0".into(),
            transport: Transport::from_token(s.transport.as_via()),
            host,
            port,
            params: via_params,
        }));
        h.push(Header::MaxForwards(70));
        h.push(Header::From(from));
        h.push(Header::To(NameAddr::new(s.uri.clone())));
        h.push(Header::CallId(CallId(call_id)));
        h.push(Header::CSeq(CSeq {
            seq: s.cseq,
            method: Method::Options,
        }));
        h.push(Header::Other(OtherHeader {
            name: "Accept".into(),
            value: " application/sdp".into(),
        }));
        h.push(Header::ContentLength(0));
        req
    }
}
