//! Calls: who is calling, where the call goes ([`sb_routing::route()`]), and the plan the
//! forking proxy carries out ([`sb_proxy::Plan`]). Sans-IO like the rest of the front end:
//! the directory of users and numbers is a snapshot the shell installs
//! ([`crate::Frontend::set_directory`]), registered devices are the registrar's own bindings,
//! and trunk addresses are resolved before they get here.
//!
//! Translating a routing [`Delivery`] into a proxy [`Plan`]:
//! - every branch is one target of the first group (a parallel fork, RFC 3261 §16.6);
//!   a device's branch is sent over the flow its REGISTER came on (RFC 5626 §5.3), a
//!   trunk branch to its first trunk, with the others as fallbacks (failover on 408, 5xx
//!   and silence, §16.7 with a per-trunk answer timeout);
//! - `on_no_answer` becomes the group's timeout, and it and `on_busy` are kept here as the
//!   call's follow-ups: the proxy asks again when the plan is used up
//!   ([`sb_proxy::RouteKind::Exhausted`]), and the follow-up that matches is translated in
//!   turn;
//! - History-Info (RFC 7044), Diversion (RFC 5806) and the PBX mark travel as headers added
//!   to each branch;
//! - a 302 from the callee's device is followed when the user's rules say so
//!   ([`sb_routing::follow_deflection`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sb_proxy::{Failover, Group, Plan, RouteDecision, Target};
use sb_registrar::{Aor, Binding, Source};
use sb_routing::{
    Branch, BranchKind, Caller, Contact, Decision, Delivery, Directory, Fork, HeaderField,
    MemoryDirectory, NumberOwner, RequestFacts, RoutingTable, TrunkName, UserEntry, UserId, E164,
};
use sb_sip_core::{Peer, TransportKind};
use sb_sip_msg::{Header, NameAddr, OtherHeader, Request, StatusCode, Transport, Uri};

/// A trunk as the proxy reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkAddr {
    pub name: TrunkName,
    /// Resolved address and transport.
    pub peer: Peer,
    /// `HOST:PORT` as configured, for the Request-URI sent to the trunk.
    pub host: String,
    /// URI parameters added to the Request-URI sent to the trunk, each with its leading
    /// `;` (a mediation pool is reached as `;pool=NAME`), or empty.
    pub uri_params: String,
}

/// What calls need besides the directory: the routing table, the trunks, and timers.
#[derive(Debug, Clone)]
pub struct CallSettings {
    pub table: Arc<RoutingTable>,
    pub trunks: Vec<TrunkAddr>,
    /// A trunk that sends nothing at all for this long is skipped for the next one.
    pub trunk_answer_timeout: Duration,
    /// Record-Route dialog-creating requests (RFC 3261 §16.6 step 4).
    pub record_route: bool,
}

/// Follow-ups of a call in progress, kept until the proxy asks or they grow old.
#[derive(Debug)]
struct Followup {
    facts: RequestFacts,
    delivery: Delivery,
    /// Whose devices may deflect (the callee).
    callee: Option<UserId>,
    created: Instant,
}

/// The longest a call's follow-ups are kept: longer than any unanswered timer plus Timer C.
const FOLLOWUP_TTL: Duration = Duration::from_secs(15 * 60);

/// Calls state: settings, the directory snapshot and the follow-ups of calls in progress.
#[derive(Debug)]
pub(crate) struct Calls {
    pub(crate) settings: CallSettings,
    pub(crate) directory: Arc<MemoryDirectory>,
    followups: Aged<Followup>,
    /// Calls ringing a user's devices now, by Call-ID and From tag, so the same call
    /// coming back from a PBX (its fork back to us) does not ring them a second time.
    ringing: Aged<()>,
}

/// What the front end knows live: the registrar's devices and, with presence, the
/// callee's state as it bears on a call from a caller.
pub(crate) struct Live<'a> {
    pub(crate) bindings: &'a dyn Fn(&Aor) -> Vec<Binding>,
    pub(crate) presence: &'a dyn Fn(&UserId, &Caller) -> Option<sb_routing::PresenceFacts>,
}

/// A directory view: users and numbers from the snapshot, devices and presence live.
struct LiveDirectory<'a> {
    snapshot: &'a MemoryDirectory,
    bindings: &'a dyn Fn(&Aor) -> Vec<Binding>,
    presence: &'a dyn Fn(&UserId, &Caller) -> Option<sb_routing::PresenceFacts>,
}

impl Directory for LiveDirectory<'_> {
    fn user(&self, id: &UserId) -> Option<UserEntry> {
        self.snapshot.user(id)
    }
    fn number_owner(&self, number: &E164) -> Option<NumberOwner> {
        self.snapshot.number_owner(number)
    }
    fn extension_owner(&self, main: &E164, ext: &str) -> Option<NumberOwner> {
        self.snapshot.extension_owner(main, ext)
    }
    fn presence(&self, callee: &UserId, caller: &Caller) -> Option<sb_routing::PresenceFacts> {
        (self.presence)(callee, caller)
    }
    fn contacts(&self, id: &UserId) -> Vec<Contact> {
        (self.bindings)(&aor_of(id))
            .into_iter()
            .map(|b| Contact {
                uri: b.contact.uri.to_string(),
                q: b.q.map(|q| q.thousandths()),
            })
            .collect()
    }
}

fn aor_of(id: &UserId) -> Aor {
    let s = id.as_str();
    let domain = s.rsplit_once('@').map_or("", |(_, d)| d);
    Aor::from_user(id.user(), domain)
}

/// A call as its dialog-forming request names it (Call-ID and From tag), the same on
/// every copy of it, however it spirals.
fn dialog_key(req: &Request) -> String {
    let call_id = req.headers.call_id().map(|c| c.as_str()).unwrap_or("");
    let from_tag = req.headers.from().and_then(NameAddr::tag).unwrap_or("");
    key_of(call_id, from_tag)
}

/// The key a call's follow-ups are found by: the request's Call-ID and top Via branch,
/// which the proxy's later queries for the same request carry unchanged (and the final
/// response it sends upstream too).
fn call_key(req: &Request) -> String {
    let call_id = req.headers.call_id().map(|c| c.as_str()).unwrap_or("");
    let branch = req.headers.top_via().and_then(|v| v.branch()).unwrap_or("");
    key_of(call_id, branch)
}

fn key_of(call_id: &str, second: &str) -> String {
    format!("{call_id}\u{0}{second}")
}

/// Values by key, with the time each was stored, expired oldest-first without scanning
/// the whole map (calls seen at a few hundred per second must not cost more as they add
/// up).
#[derive(Debug)]
struct Aged<V> {
    map: HashMap<String, (Instant, V)>,
    order: std::collections::VecDeque<(Instant, String)>,
}

impl<V> Default for Aged<V> {
    fn default() -> Self {
        Aged {
            map: HashMap::new(),
            order: std::collections::VecDeque::new(),
        }
    }
}

impl<V> Aged<V> {
    fn insert(&mut self, now: Instant, key: String, value: V) {
        self.order.push_back((now, key.clone()));
        self.map.insert(key, (now, value));
    }

    fn remove(&mut self, key: &str) -> Option<V> {
        self.map.remove(key).map(|(_, v)| v)
    }

    fn contains_key(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    fn len(&self) -> usize {
        self.map.len()
    }

    /// Drops what was stored `ttl` or longer before `now`.
    fn expire(&mut self, now: Instant, ttl: Duration) {
        while let Some((stored, _)) = self.order.front() {
            if now.saturating_duration_since(*stored) < ttl {
                break;
            }
            let (stored, key) = self.order.pop_front().expect("front exists");
            if self.map.get(&key).is_some_and(|(t, _)| *t == stored) {
                self.map.remove(&key);
            }
        }
        // Keys removed early leave stale entries in `order`; keep it bounded by them.
        if self.order.len() > 2 * self.map.len() + 1024 {
            let live = &self.map;
            self.order
                .retain(|(t, k)| live.get(k).is_some_and(|(s, _)| s == t));
        }
    }
}

impl Calls {
    pub(crate) fn new(settings: CallSettings) -> Calls {
        Calls {
            settings,
            directory: Arc::new(MemoryDirectory::default()),
            followups: Aged::default(),
            ringing: Aged::default(),
        }
    }

    /// The trunk a request came from, by its source address (IP and port; over a stream
    /// transport the port is the client's ephemeral one, so the IP alone, and only for
    /// trunks reached over a stream: a UDP trunk sends from its own address, so a client
    /// connecting from the same host, as on a single machine, is not taken for it).
    pub(crate) fn trunk_at(&self, source: &Source) -> Option<TrunkName> {
        let exact = self
            .settings
            .trunks
            .iter()
            .find(|t| t.peer.addr == source.addr);
        let stream = !matches!(source.transport, Transport::Udp);
        exact
            .or_else(|| {
                stream
                    .then(|| {
                        self.settings.trunks.iter().find(|t| {
                            t.peer.transport != TransportKind::Udp
                                && t.peer.addr.ip() == source.addr.ip()
                        })
                    })
                    .flatten()
            })
            .map(|t| t.name.clone())
    }

    /// Whether `id` is a known, enabled user (the caller when authentication is off).
    pub(crate) fn is_user(&self, id: &UserId) -> bool {
        self.directory.user(id).is_some_and(|u| u.enabled)
    }

    /// Routes a new call and translates the decision for the proxy.
    pub(crate) fn route_new(
        &mut self,
        now: Instant,
        req: &Request,
        caller: &Caller,
        live: &Live<'_>,
    ) -> (RouteDecision, sb_routing::Routed) {
        self.expire(now);
        let bindings = live.bindings;
        let table = self.settings.table.clone();
        let facts = RequestFacts::from_request(req, caller, &table);
        let dir = LiveDirectory {
            snapshot: &self.directory,
            bindings,
            presence: live.presence,
        };
        let routed = sb_routing::route(&facts, caller, &dir, &table);
        let key = dialog_key(req);
        if matches!(caller, Caller::Trunk(_)) && self.ringing.contains_key(&key) {
            // The same call (Call-ID and From tag) back from a PBX we forked it to, while
            // it still rings the user's devices here: a spiral whose devices already have
            // their branch. Refusing it keeps them ringing once (RFC 3261 §8.2.2.2 calls
            // such a copy a merged request); the PBX's own branches carry on.
            let why = "the user's devices already ring for this call";
            return (reject(StatusCode::LOOP_DETECTED, why), routed);
        }
        let callee = callee_of(&routed.decision);
        let rings_devices = routed.decision.as_delivery().is_some_and(|d| {
            d.branches
                .iter()
                .any(|b| matches!(b.kind, BranchKind::Endpoint { .. }))
        });
        let decision = self.carry_out(now, req, &facts, &routed.decision, callee, bindings);
        let invite = req.method == sb_sip_msg::Method::Invite;
        if invite && rings_devices && matches!(decision, RouteDecision::Forward(_)) {
            self.ringing.insert(now, key, ());
        }
        (decision, routed)
    }

    /// The proxy used up the plan: forward when unanswered or busy, if the call has that
    /// follow-up; otherwise the best response stands.
    pub(crate) fn exhausted(
        &mut self,
        now: Instant,
        req: &Request,
        best: StatusCode,
        timed_out: bool,
        bindings: &dyn Fn(&Aor) -> Vec<Binding>,
    ) -> RouteDecision {
        let key = call_key(req);
        let Some(f) = self.followups.remove(&key) else {
            return keep_best();
        };
        let next = if timed_out {
            f.delivery.on_no_answer.as_ref().map(|n| (*n.then).clone())
        } else if matches!(best.0, 486 | 600) {
            f.delivery.on_busy.as_deref().cloned()
        } else {
            None
        };
        match next {
            Some(d) => {
                let callee = callee_of(&d).or(f.callee);
                self.carry_out(now, req, &f.facts, &d, callee, bindings)
            }
            None => keep_best(),
        }
    }

    /// A branch answered 3xx: follow the first contact as a deflection when the callee's
    /// rules allow it; otherwise keep the 3xx as that branch's response.
    pub(crate) fn redirected(
        &mut self,
        now: Instant,
        req: &Request,
        contacts: &[Uri],
        bindings: &dyn Fn(&Aor) -> Vec<Binding>,
    ) -> RouteDecision {
        let key = call_key(req);
        let Some(f) = self.followups.remove(&key) else {
            return keep_best();
        };
        let (Some(callee), Some(contact), true) = (
            f.callee.clone(),
            contacts.first(),
            f.delivery.follow_deflections,
        ) else {
            self.followups.insert(f.created, key, f);
            return keep_best();
        };
        let table = self.settings.table.clone();
        // A deflection is the user's own choice on their device: presence does not apply.
        let no_presence = |_: &UserId, _: &Caller| None;
        let dir = LiveDirectory {
            snapshot: &self.directory,
            bindings,
            presence: &no_presence,
        };
        let routed = sb_routing::follow_deflection(
            &f.facts,
            &f.delivery.history,
            &callee,
            contact,
            &dir,
            &table,
        );
        let next_callee = callee_of(&routed.decision).or(Some(callee));
        self.carry_out(now, req, &f.facts, &routed.decision, next_callee, bindings)
    }

    /// A request inside a dialog sent to a user's address of record instead of along the
    /// route set (RFC 3261 §16.5: a location lookup): every registered device of the user;
    /// the one holding the dialog answers. No call handling rules apply.
    pub(crate) fn locate(
        &self,
        uri: &Uri,
        bindings: &dyn Fn(&Aor) -> Vec<Binding>,
    ) -> RouteDecision {
        let Some(user) = uri.as_sip().and_then(UserId::from_sip_uri) else {
            return reject(StatusCode::NOT_FOUND, "no user in the Request-URI");
        };
        let targets: Vec<Target> = bindings(&aor_of(&user))
            .iter()
            .map(|b| Target::new(b.contact.uri.clone(), peer_of(&b.source)))
            .collect();
        if targets.is_empty() {
            return reject(StatusCode(480), &format!("{user} has no registered device"));
        }
        let mut plan = Plan::parallel(targets);
        plan.record_route = false;
        RouteDecision::Forward(plan)
    }

    /// Resolves an in-dialog next hop: a trunk's configured host, or an IP literal over a
    /// stream transport that is no registered device (sent to the address itself).
    pub(crate) fn resolve_next_hop(&self, next_hop: &Uri) -> RouteDecision {
        if let Some(peer) = sb_proxy::literal_peer(next_hop) {
            let mut plan = Plan::parallel(vec![Target::new(next_hop.clone(), peer)]);
            plan.record_route = false;
            return RouteDecision::Forward(plan);
        }
        let Some(sip) = next_hop.as_sip() else {
            return reject(StatusCode(416), "next hop is not a SIP URI");
        };
        let host = match sip.port {
            Some(p) => format!("{}:{p}", host_text(&sip.host)),
            None => host_text(&sip.host),
        };
        let trunk = self
            .settings
            .trunks
            .iter()
            .find(|t| t.host.eq_ignore_ascii_case(&host) || trunk_host(&t.host) == host);
        match trunk {
            Some(t) => {
                let mut plan = Plan::parallel(vec![Target::new(next_hop.clone(), t.peer)]);
                plan.record_route = false;
                RouteDecision::Forward(plan)
            }
            None => reject(
                StatusCode(404),
                &format!("cannot resolve the next hop {host}"),
            ),
        }
    }

    /// Translates a decision into the proxy's terms, keeping its follow-ups.
    fn carry_out(
        &mut self,
        now: Instant,
        req: &Request,
        facts: &RequestFacts,
        decision: &Decision,
        callee: Option<UserId>,
        bindings: &dyn Fn(&Aor) -> Vec<Binding>,
    ) -> RouteDecision {
        let d = match decision {
            Decision::Reject { status, reason } => return reject(StatusCode(*status), reason),
            Decision::Deliver(d) => d,
        };
        let common: Vec<Header> = d.headers_to_add.iter().map(to_header).collect();
        let mut targets = Vec::new();
        for b in &d.branches {
            if let Some(t) = self.target(b, &common, bindings) {
                targets.push(t);
            }
        }
        if targets.is_empty() {
            return reject(StatusCode(480), "no branch of the call can be reached");
        }
        let groups = match d.fork {
            Fork::Parallel => vec![Group {
                targets,
                timeout: d
                    .on_no_answer
                    .as_ref()
                    .map(|n| Duration::from_secs(u64::from(n.after_secs))),
            }],
            Fork::Sequential { per_branch_secs } => targets
                .into_iter()
                .map(|t| Group {
                    targets: vec![t],
                    timeout: Some(Duration::from_secs(u64::from(per_branch_secs))),
                })
                .collect(),
        };
        let followups = d.on_no_answer.is_some() || d.on_busy.is_some();
        let mut plan = Plan::parallel(Vec::new());
        plan.groups = groups;
        plan.failover = Failover::AnyFailure;
        plan.record_route = self.settings.record_route;
        plan.ask_when_exhausted = followups;
        plan.max_redirects = if d.follow_deflections {
            self.settings.table.config().limits.max_redirections
        } else {
            0
        };
        if followups || d.follow_deflections {
            self.followups.insert(
                now,
                call_key(req),
                Followup {
                    facts: facts.clone(),
                    delivery: d.clone(),
                    callee,
                    created: now,
                },
            );
        }
        RouteDecision::Forward(plan)
    }

    /// One branch as a proxy target; `None` when it cannot be reached (a device that
    /// unregistered since routing looked, a trunk that is not configured).
    fn target(
        &self,
        b: &Branch,
        common: &[Header],
        bindings: &dyn Fn(&Aor) -> Vec<Binding>,
    ) -> Option<Target> {
        let mut headers = common.to_vec();
        headers.extend(b.headers_to_add.iter().map(to_header));
        match &b.kind {
            BranchKind::Endpoint { user } | BranchKind::SimultaneousRingEndpoint { user, .. } => {
                let uri_text = b.request_uri.to_string();
                let binding = bindings(&aor_of(user))
                    .into_iter()
                    .find(|x| x.contact.uri.to_string() == uri_text)?;
                let mut t = Target::new(b.request_uri.clone(), peer_of(&binding.source));
                t.add_headers = headers;
                Some(t)
            }
            BranchKind::Pstn { .. } | BranchKind::Pbx { .. } => {
                let mut trunks = b
                    .trunks
                    .iter()
                    .filter_map(|n| self.settings.trunks.iter().find(|t| &t.name == n));
                let first = trunks.next()?;
                let make = |t: &TrunkAddr| {
                    let mut x =
                        Target::new(trunk_uri(&b.request_uri, &t.host, &t.uri_params), t.peer);
                    x.add_headers = headers.clone();
                    x.answer_timeout = Some(self.settings.trunk_answer_timeout);
                    x
                };
                let mut target = make(first);
                target.fallbacks = trunks.map(make).collect();
                Some(target)
            }
            BranchKind::External => {
                let sip = b.request_uri.as_sip()?;
                let ip = match &sip.host {
                    sb_sip_msg::Host::V4(a) => std::net::IpAddr::V4(*a),
                    sb_sip_msg::Host::V6(a) => std::net::IpAddr::V6(*a),
                    sb_sip_msg::Host::Domain(_) => return None,
                };
                let addr = SocketAddr::new(ip, sip.port.unwrap_or(5060));
                let mut t = Target::new(b.request_uri.clone(), Peer::udp(addr));
                t.add_headers = headers;
                Some(t)
            }
        }
    }

    /// Drops follow-ups older than [`FOLLOWUP_TTL`] (calls whose final answer we never
    /// saw go upstream), oldest first.
    fn expire(&mut self, now: Instant) {
        self.ringing.expire(now, FOLLOWUP_TTL);
        self.followups.expire(now, FOLLOWUP_TTL);
    }

    /// The call's final answer went upstream: nothing will ask for its follow-ups again.
    pub(crate) fn finished(&mut self, resp: &sb_sip_msg::Response) {
        let call_id = resp.headers.call_id().map(|c| c.as_str()).unwrap_or("");
        let from_tag = resp.headers.from().and_then(NameAddr::tag).unwrap_or("");
        self.ringing.remove(&key_of(call_id, from_tag));
        let branch = resp
            .headers
            .top_via()
            .and_then(|v| v.branch())
            .unwrap_or("");
        self.followups.remove(&key_of(call_id, branch));
    }

    /// Follow-ups kept (calls that may still forward or deflect).
    pub(crate) fn followups(&self) -> usize {
        self.followups.len()
    }
}

/// The user whose devices a decision rings first, if any (deflections come from them).
fn callee_of(d: &Decision) -> Option<UserId> {
    d.as_delivery()?
        .branches
        .iter()
        .find_map(|b| match &b.kind {
            BranchKind::Endpoint { user } => Some(user.clone()),
            _ => None,
        })
}

/// "Send the best response upstream as it stands."
fn keep_best() -> RouteDecision {
    RouteDecision::Reject {
        status: StatusCode::SERVER_INTERNAL_ERROR,
        headers: Vec::new(),
    }
}

/// A refusal with its reason in a Warning (RFC 3261 §20.43, code 399: miscellaneous).
pub(crate) fn reject(status: StatusCode, reason: &str) -> RouteDecision {
    RouteDecision::Reject {
        status,
        headers: crate::response::bad_request_warning(reason)
            .into_iter()
            .collect(),
    }
}

fn to_header(h: &HeaderField) -> Header {
    Header::Other(OtherHeader {
        name: h.name.clone(),
        value: format!(" {}", h.value),
    })
}

/// The peer a registered device (or a subscriber) is reached at: its own flow.
pub(crate) fn peer_of(s: &Source) -> Peer {
    let kind = match s.transport {
        Transport::Udp => TransportKind::Udp,
        Transport::Tcp => TransportKind::Tcp,
        Transport::Tls => TransportKind::Tls,
        Transport::Ws => TransportKind::Ws,
        Transport::Wss => TransportKind::Wss,
        _ => TransportKind::Udp,
    };
    Peer::new(kind, s.addr)
}

fn host_text(h: &sb_sip_msg::Host) -> String {
    match h {
        sb_sip_msg::Host::Domain(d) => d.to_ascii_lowercase(),
        sb_sip_msg::Host::V4(a) => a.to_string(),
        sb_sip_msg::Host::V6(a) => format!("[{a}]"),
    }
}

fn trunk_host(configured: &str) -> String {
    configured
        .rsplit_once(':')
        .map_or(configured, |(h, _)| h)
        .to_ascii_lowercase()
}

/// The Request-URI a trunk is sent: a tel: URI becomes `sip:NUMBER@HOST:PORT;user=phone`
/// (RFC 3261 §19.1.6); a SIP URI keeps its user part and gets the trunk's host; the
/// trunk's own parameters follow.
fn trunk_uri(uri: &Uri, host: &str, params: &str) -> Uri {
    let number = match uri {
        Uri::Tel(t) => t.number.clone(),
        Uri::Sip(s) => s.user.clone().unwrap_or_default(),
        Uri::Other { .. } => String::new(),
    };
    format!("sip:{number}@{host};user=phone{params}")
        .parse()
        .unwrap_or_else(|_| uri.clone())
}
