//! What the front end answers, request by request, until the registrar and proxy exist.
//!
//! The order of the checks follows RFC 3261 §16.3 for what a proxy would check first
//! (URI scheme, Max-Forwards, Proxy-Require) and §8.2 for a UAS (method, Require):
//!
//! 0. With authentication configured, a request from a user of our domains (From host),
//!    other than REGISTER, ACK, CANCEL and OPTIONS, must first carry valid
//!    Proxy-Authorization: 407 otherwise (§22.3, [`crate::services`]). Once authenticated
//!    it gets the answer below that it would have got anyway.
//! 1. ACK is never answered (§17.2.1: it ends an INVITE server transaction or belongs to a
//!    dialog; neither exists yet).
//! 2. CANCEL reaching the front end matched no server transaction: 481 (§9.2).
//! 3. A Request-URI scheme other than sip, sips or tel: 416 (§8.2.2.1, RFC 4475 `unkscm`).
//! 4. Max-Forwards 0 on a request not addressed to one of our domains: 483 (§16.3 step 3).
//!    A request addressed to us is processed normally even with Max-Forwards 0: RFC 4475
//!    `zeromf` says an endpoint answers it.
//! 5. Require or Proxy-Require naming option tags we do not support: 420 with Unsupported
//!    listing them (§8.2.2.3, §16.3 step 5). This server plays both roles in one process, so
//!    both headers are checked.
//! 6. A request for a domain that is not ours: 404. Nothing is relayed until the proxy
//!    exists; 404 is what §8.2.2.1 prescribes for a URI we do not accept requests for.
//! 7. OPTIONS: 200 with Allow, Accept, Supported (§11.2).
//! 8. REGISTER, when the registrar is configured: authentication and the registrar
//!    ([`crate::services`]); the answer may come later, after a store query.
//! 9. A method this server knows but does not serve yet (INVITE, SUBSCRIBE, ...):
//!    405 with Allow (§8.2.1). 405 rather than 404 because the refusal is about the method,
//!    not the user: a client learns from Allow what it may send instead.
//! 10. An extension method: 501 with Allow (§8.2.1, RFC 4475 `intmeth`, `esc02`).

use crate::calls::{CallSettings, Calls};
use crate::presence::{entity_of, PresenceGlue};
use crate::response::{bad_request_warning, response_to, sanitize_reason};
use crate::services::{
    Answer, Event, Flow, Query, QueryId, QueryResult, ReqKey, Services, ServicesConfig, WallClock,
};
use sb_proxy::RouteDecision;
use sb_registrar::{Aor, Binding, Effect, Source};
use sb_routing::{Caller, MemoryDirectory, UserId};
use sb_sip_msg::{
    Header, Invalid, Method, OtherHeader, ParseError, ParseErrorKind, Request, Response,
    StatusCode, Uri,
};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

/// The methods answered by this server, as advertised in Allow (REGISTER is added when the
/// registrar is configured).
pub const ALLOWED: [Method; 3] = [Method::Options, Method::Ack, Method::Cancel];

/// Front-end settings.
#[derive(Debug, Clone, Default)]
pub struct FrontendConfig {
    /// Domains and host addresses we accept requests for (compared case-insensitively with
    /// the Request-URI host). Empty means every host is ours: the all-in-one default, where
    /// this is the only SIP server the clients talk to.
    pub domains: Vec<String>,
    /// Option tags we support (RFC 3261 §19.2), advertised in Supported and accepted in
    /// Require / Proxy-Require.
    pub supported: Vec<String>,
    /// Seed for To tags; the binary passes something unpredictable, tests a constant.
    pub tag_seed: u64,
    /// Product token for the Server header; none when empty.
    pub server_name: String,
}

/// The request policy. Sans-IO and deterministic: To tags come from the seed and a counter.
#[derive(Debug)]
pub struct Frontend {
    config: FrontendConfig,
    tags_issued: u64,
    services: Option<Services>,
    /// Answers for [`Frontend::poll_response`], in order.
    responses: std::collections::VecDeque<(ReqKey, Response)>,
    /// Routing of calls, when configured ([`Frontend::with_calls`]).
    calls: Option<Calls>,
    /// Keys of requests the proxy asked about ([`Frontend::handle_proxied_at`]).
    proxied: HashSet<ReqKey>,
    /// Answers for [`Frontend::poll_route`], in order.
    routes: std::collections::VecDeque<(ReqKey, RouteDecision)>,
    /// Requests the front end sends itself (NOTIFY), for [`Frontend::poll_request`].
    requests: std::collections::VecDeque<(OutId, Request, sb_sip_core::Peer)>,
    /// The presence server, when configured ([`Frontend::enable_presence`]).
    presence: Option<PresenceGlue>,
    /// PUBLISH and SUBSCRIBE requests waiting for authentication, with their source.
    presence_keys: std::collections::HashMap<ReqKey, Source>,
}

/// Identifies a request the front end sent ([`Frontend::poll_request`]); its outcome comes
/// back with [`Frontend::handle_request_outcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutId(pub u64);

impl Frontend {
    pub fn new(config: FrontendConfig) -> Self {
        Frontend {
            config,
            tags_issued: 0,
            services: None,
            responses: Default::default(),
            calls: None,
            proxied: HashSet::new(),
            routes: Default::default(),
            requests: Default::default(),
            presence: None,
            presence_keys: Default::default(),
        }
    }

    /// Serves presence (PUBLISH, SUBSCRIBE and their NOTIFYs, RFC 3856, RFC 4235, RFC 4662)
    /// for the users routing knows. Needs services ([`Frontend::with_services`]) for the
    /// clock, and calls ([`Frontend::with_calls`]) for the directory of users.
    pub fn enable_presence(&mut self, config: sb_presence::PresenceConfig) {
        if let Some(clock) = self.services.as_ref().map(|s| s.clock()) {
            self.presence = Some(PresenceGlue::new(config, clock));
        }
    }

    /// Whether presence is served ([`Frontend::enable_presence`]).
    pub fn serves_presence(&self) -> bool {
        self.presence.is_some()
    }

    /// Runs `f` on the presence server at `now` (in its Unix milliseconds): what the shell
    /// loaded from the store (manual states, access rules, contact lists, calendars). The
    /// NOTIFYs it causes come out of [`Frontend::poll_request`].
    pub fn with_presence_server<R>(
        &mut self,
        now: Instant,
        f: impl FnOnce(&mut sb_presence::PresenceServer, u64) -> R,
    ) -> Option<R> {
        let p = self.presence.as_mut()?;
        let ms = p.ms(now);
        let r = f(&mut p.server, ms);
        self.pump_presence();
        Some(r)
    }

    /// Presence's live state (publications, subscriptions with their peers) to save.
    pub fn presence_export(
        &self,
    ) -> Option<(
        sb_presence::PresenceSnapshot,
        std::collections::HashMap<u64, sb_sip_core::Peer>,
    )> {
        self.presence.as_ref().map(PresenceGlue::export)
    }

    /// [`Frontend::presence_export`] when publications or subscriptions changed since the
    /// last call, else `None` (nothing to save).
    pub fn presence_export_if_changed(
        &mut self,
    ) -> Option<(
        sb_presence::PresenceSnapshot,
        std::collections::HashMap<u64, sb_sip_core::Peer>,
    )> {
        self.presence
            .as_mut()
            .and_then(PresenceGlue::export_if_changed)
    }

    /// Restores what [`Frontend::presence_export`] saved before a restart.
    pub fn presence_import(
        &mut self,
        now: Instant,
        snapshot: sb_presence::PresenceSnapshot,
        peers: &std::collections::HashMap<u64, sb_sip_core::Peer>,
    ) {
        if let Some(p) = self.presence.as_mut() {
            p.import(now, snapshot, peers);
        }
        self.pump_presence();
    }

    /// A message the proxy received (for presence: calls starting and ending).
    pub fn observe_proxied(&mut self, now: Instant, msg: crate::presence::Proxied<'_>) {
        let Some(p) = self.presence.as_mut() else {
            return;
        };
        let calls = self.calls.as_ref();
        let is_user =
            |e: &str| calls.is_some_and(|c| c.is_user(&UserId::from_canonical(e.to_string())));
        p.observe(now, msg, &is_user);
        self.pump_presence();
    }

    /// Presence subscriptions alive and calls presence follows (gauges).
    pub fn presence_counts(&self) -> (usize, usize) {
        self.presence
            .as_ref()
            .map_or((0, 0), |p| (p.server.subscriptions(), p.calls()))
    }

    fn pump_presence(&mut self) {
        if let Some(p) = self.presence.as_mut() {
            self.requests.extend(p.drain());
        }
    }

    /// PUBLISH or SUBSCRIBE, authenticated as `identity` (if digest proved it).
    fn presence_request(
        &mut self,
        now: Instant,
        key: ReqKey,
        req: &Request,
        source: Source,
        identity: Option<String>,
    ) {
        let entity = req.headers.to().and_then(|t| entity_of(&t.uri));
        let auth_on = self.services.as_ref().is_some_and(|s| s.auth_enabled());
        let from = req.headers.from().and_then(|f| entity_of(&f.uri));
        let who = identity.or(if auth_on { None } else { from });
        let calls = self.calls.as_ref();
        let Some(p) = self.presence.as_mut() else {
            return;
        };
        let ms = p.ms(now);
        let known = entity.as_ref().is_some_and(|e| {
            p.server.is_list(e)
                || calls.is_some_and(|c| c.is_user(&UserId::from_canonical(e.clone())))
        });
        let reply = match (entity, known) {
            (Some(entity), true) => {
                if req.method == Method::Publish {
                    if auth_on && who.as_deref() != Some(entity.as_str()) {
                        sb_presence::Reply {
                            status: 403,
                            reason: Some(format!("only {entity} may publish its presence")),
                            headers: Vec::new(),
                            to_tag: None,
                        }
                    } else {
                        p.server.handle_publish(ms, req, &entity)
                    }
                } else {
                    let flow = p.flow(&source);
                    p.server
                        .handle_subscribe(ms, req, &entity, who.as_deref(), flow)
                }
            }
            (entity, _) => sb_presence::Reply {
                status: 404,
                reason: None,
                headers: crate::response::bad_request_warning(&format!(
                    "no user or contact list {} here",
                    entity.as_deref().unwrap_or("(none)")
                ))
                .into_iter()
                .collect(),
                to_tag: None,
            },
        };
        let tag = match reply.to_tag {
            Some(t) => t,
            None => self.next_tag(),
        };
        let mut resp = response_to(req, StatusCode(reply.status), Some(&tag));
        if let Some(r) = reply.reason {
            resp.reason = sanitize_reason(&r);
        }
        resp.headers.0.extend(reply.headers);
        self.add_server(&mut resp);
        self.push_response(key, resp);
        self.pump_presence();
    }

    /// The next request the front end sends itself (a NOTIFY), without a Via: the caller
    /// adds its own and sends it in a client transaction to the peer.
    #[must_use]
    pub fn poll_request(&mut self) -> Option<(OutId, Request, sb_sip_core::Peer)> {
        self.requests.pop_front()
    }

    /// The final status of a request from [`Frontend::poll_request`] (408 for a timeout or
    /// a transport failure).
    pub fn handle_request_outcome(&mut self, now: Instant, id: OutId, status: u16) {
        if let Some(p) = self.presence.as_mut() {
            p.outcome(now, id, status);
        }
        self.pump_presence();
    }

    /// Routes calls: requests handed over with [`Frontend::handle_proxied_at`] are
    /// authenticated, then routed with `settings`, and answered through
    /// [`Frontend::poll_route`] as decisions for the forking proxy.
    pub fn with_calls(mut self, settings: CallSettings) -> Self {
        self.calls = Some(Calls::new(settings));
        self
    }

    /// Installs a new snapshot of users and numbers (the shell reloads it from the store
    /// when provisioning changes). Calls already routed keep the snapshot they were routed
    /// with.
    pub fn set_directory(&mut self, directory: Arc<MemoryDirectory>) {
        if let Some(c) = self.calls.as_mut() {
            c.directory = directory;
        }
    }

    /// Installs a new routing table (the domains served changed). Calls in progress keep
    /// the follow-ups they were routed with.
    pub fn set_routing_table(&mut self, table: Arc<sb_routing::RoutingTable>) {
        if let Some(c) = self.calls.as_mut() {
            c.settings.table = table;
        }
    }

    /// Whether calls are routed ([`Frontend::with_calls`]).
    pub fn routes_calls(&self) -> bool {
        self.calls.is_some()
    }

    /// A request the proxy asks a route for (RFC 3261 §16.5), under `key`. Requests from
    /// a trunk's address are the trunk's; requests from our users are authenticated
    /// first (407); then [`sb_routing::route()`] decides. The decision comes out of
    /// [`Frontend::poll_route`] under `key`, now or after a store query.
    pub fn handle_proxied_at(&mut self, now: Instant, key: ReqKey, req: &Request, source: Source) {
        let Some(calls) = self.calls.as_ref() else {
            let status = self
                .decide(req)
                .map_or(StatusCode::METHOD_NOT_ALLOWED, |d| match d {
                    Decision::Status(s) | Decision::WithHeaders(s, _) => s,
                    Decision::Register => StatusCode::SERVER_INTERNAL_ERROR,
                });
            self.routes.push_back((
                key,
                RouteDecision::Reject {
                    status,
                    headers: self.allow(),
                },
            ));
            return;
        };
        if let Some(trunk) = calls.trunk_at(&source) {
            self.route(now, key, req, Caller::Trunk(trunk));
            return;
        }
        self.proxied.insert(key);
        if let Some(services) = self.services.as_mut().filter(|s| s.challenges(req)) {
            if let Some(flow) = services.on_proxied(now, key, req, source) {
                self.finish(now, key, req, flow);
            }
            return;
        }
        self.finish(now, key, req, Flow::Continue(None));
    }

    /// The proxy used up a call's plan ([`sb_proxy::RouteKind::Exhausted`]): forward when
    /// unanswered or busy if the callee has that rule; the decision comes out of
    /// [`Frontend::poll_route`] under `key`.
    pub fn handle_exhausted(
        &mut self,
        now: Instant,
        key: ReqKey,
        req: &Request,
        best: StatusCode,
        timed_out: bool,
    ) {
        let decision = match (self.calls.as_mut(), self.services.as_ref()) {
            (Some(calls), services) => {
                let bindings =
                    |aor: &Aor| services.map_or_else(Vec::new, |s| s.registrar.bindings(aor));
                calls.exhausted(now, req, best, timed_out, &bindings)
            }
            (None, _) => RouteDecision::Reject {
                status: best,
                headers: Vec::new(),
            },
        };
        self.routes.push_back((key, decision));
    }

    /// A branch answered 3xx with `contacts` ([`sb_proxy::RouteKind::Redirect`]): a
    /// deflection is followed when the callee's rules say so.
    pub fn handle_redirect(&mut self, now: Instant, key: ReqKey, req: &Request, contacts: &[Uri]) {
        let decision = match (self.calls.as_mut(), self.services.as_ref()) {
            (Some(calls), services) => {
                let bindings =
                    |aor: &Aor| services.map_or_else(Vec::new, |s| s.registrar.bindings(aor));
                calls.redirected(now, req, contacts, &bindings)
            }
            (None, _) => crate::calls::reject(StatusCode::NOT_FOUND, "no routing"),
        };
        self.routes.push_back((key, decision));
    }

    /// An in-dialog request sent to a user's address of record at our address with no
    /// route set ([`sb_proxy::RouteKind::InDialogToUser`]): the user's devices.
    pub fn handle_in_dialog_to_user(&mut self, key: ReqKey, uri: &Uri) {
        let services = self.services.as_ref();
        let bindings = |aor: &Aor| services.map_or_else(Vec::new, |s| s.registrar.bindings(aor));
        let decision = match self.calls.as_ref() {
            Some(calls) => calls.locate(uri, &bindings),
            None => crate::calls::reject(StatusCode::NOT_FOUND, "no routing"),
        };
        self.routes.push_back((key, decision));
    }

    /// An in-dialog request whose next hop is a name, not an address: a trunk's host.
    ///
    /// Also asked for an IP-literal next hop over a stream transport (TLS, TCP, WS): when
    /// it is a registered device's Contact, the request goes over the connection the
    /// device registered on (it accepts no connections of its own, RFC 5626 §5); the
    /// address itself otherwise.
    pub fn handle_next_hop(&mut self, key: ReqKey, next_hop: &Uri) {
        let flow = self
            .services
            .as_ref()
            .and_then(|s| s.registrar.binding_with_contact(next_hop));
        let decision = match (flow, self.calls.as_ref()) {
            (Some(b), _) => {
                let peer = crate::calls::peer_of(&b.source);
                let mut plan =
                    sb_proxy::Plan::parallel(vec![sb_proxy::Target::new(next_hop.clone(), peer)]);
                plan.record_route = false;
                RouteDecision::Forward(plan)
            }
            (None, Some(calls)) => calls.resolve_next_hop(next_hop),
            (None, None) => crate::calls::reject(StatusCode::NOT_FOUND, "no routing"),
        };
        self.routes.push_back((key, decision));
    }

    /// The next routing decision for the proxy, with the key its request came with.
    #[must_use]
    pub fn poll_route(&mut self) -> Option<(ReqKey, RouteDecision)> {
        self.routes.pop_front()
    }

    /// A final response to an INVITE the proxy sent upstream: that call's follow-ups
    /// (forward when unanswered or busy, deflection) are done with.
    pub fn call_answered(&mut self, resp: &Response) {
        if let Some(c) = self.calls.as_mut() {
            c.finished(resp);
        }
    }

    /// Calls whose follow-ups (forward unanswered or busy, deflection) are kept.
    pub fn calls_with_followups(&self) -> usize {
        self.calls.as_ref().map_or(0, Calls::followups)
    }

    /// Routes an authenticated (or anonymous, or trunk) request.
    fn route(&mut self, now: Instant, key: ReqKey, req: &Request, caller: Caller) {
        let Some(calls) = self.calls.as_mut() else {
            return;
        };
        let services = self.services.as_ref();
        let bindings = |aor: &Aor| services.map_or_else(Vec::new, |s| s.registrar.bindings(aor));
        let glue = self.presence.as_ref();
        let presence =
            |callee: &UserId, caller: &Caller| glue.map(|p| p.facts(callee.as_str(), caller));
        let live = crate::calls::Live {
            bindings: &bindings,
            presence: &presence,
        };
        let (decision, routed) = calls.route_new(now, req, &caller, &live);
        self.events_routed(&routed);
        self.routes.push_back((key, decision));
    }

    /// Who is calling: the user digest proved, else (authentication off) the user From
    /// names if there is one, else an anonymous caller.
    fn caller(&self, req: &Request, identity: Option<String>) -> Caller {
        if let Some(id) = identity {
            return Caller::User(UserId::from_canonical(id));
        }
        let auth_on = self.services.as_ref().is_some_and(|s| s.auth_enabled());
        if !auth_on {
            let from = req
                .headers
                .from()
                .and_then(|f| f.uri.as_sip())
                .and_then(UserId::from_sip_uri);
            if let (Some(u), Some(calls)) = (from, self.calls.as_ref()) {
                if calls.is_user(&u) {
                    return Caller::User(u);
                }
            }
        }
        Caller::Anonymous
    }

    fn events_routed(&mut self, routed: &sb_routing::Routed) {
        if let Some(s) = self.services.as_mut() {
            s.events.push_back(Event::Routed {
                allowed: routed.is_allowed(),
                trace: routed.trace.to_string(),
            });
        }
    }

    /// A front end that also serves REGISTER (authentication and registrar). `clock`
    /// anchors the `Instant`s given to `handle_*` to Unix time.
    pub fn with_services(
        config: FrontendConfig,
        services: ServicesConfig,
        clock: WallClock,
    ) -> Self {
        let seed = splitmix64(config.tag_seed ^ 0x5eed);
        Frontend {
            services: Some(Services::new(services, clock, seed)),
            ..Frontend::new(config)
        }
    }

    /// Live registrar bindings, all AORs together (0 without a registrar).
    pub fn registrations(&self) -> usize {
        self.services.as_ref().map_or(0, |s| s.registrar.len())
    }

    /// The bindings of an AOR, as routing would use them.
    pub fn bindings(&self, aor: &Aor) -> Vec<Binding> {
        self.services
            .as_ref()
            .map_or_else(Vec::new, |s| s.registrar.bindings(aor))
    }

    /// Requests waiting for a query's answer.
    pub fn pending_queries(&self) -> usize {
        self.services.as_ref().map_or(0, |s| s.pending())
    }

    /// Loads stored bindings at start; lapsed ones come out of [`Frontend::poll_write`] as
    /// removals.
    pub fn restore(&mut self, now: Instant, bindings: impl IntoIterator<Item = Binding>) {
        if let Some(s) = self.services.as_mut() {
            let unix = s.clock().unix(now);
            s.registrar.restore(unix, bindings);
        }
    }

    /// A request that parsed and passed validation, from `source`. Its answer comes out of
    /// [`Frontend::poll_response`] under `key`, now or after a query was answered
    /// ([`Frontend::handle_query_result`]) or timed out ([`Frontend::handle_timeout`]).
    pub fn handle_request_at(&mut self, now: Instant, key: ReqKey, req: &Request, source: Source) {
        if self.presence.is_some() && matches!(req.method, Method::Publish | Method::Subscribe) {
            if let Some(services) = self.services.as_mut().filter(|s| s.challenges(req)) {
                self.presence_keys.insert(key, source.clone());
                if let Some(flow) = services.on_proxied(now, key, req, source) {
                    self.finish(now, key, req, flow);
                }
                return;
            }
            self.presence_request(now, key, req, source, None);
            return;
        }
        // Step 0: a request from one of our users is authenticated before anything else is
        // answered, so the answers below are only given to the users they belong to.
        if let Some(services) = self.services.as_mut().filter(|s| s.challenges(req)) {
            if let Some(flow) = services.on_proxied(now, key, req, source) {
                self.finish(now, key, req, flow);
            }
            return;
        }
        match self.decide(req) {
            None => {}
            Some(Decision::Register) => {
                let services = self.services.as_mut().expect("Register needs services");
                if let Some(answer) = services.on_register(now, key, req, source) {
                    self.answer(key, req, answer);
                }
            }
            Some(d) => {
                let resp = self.respond_with(req, d);
                self.push_response(key, resp);
            }
        }
    }

    /// The answer to a [`Query`] from [`Frontend::poll_query`].
    pub fn handle_query_result(&mut self, now: Instant, id: QueryId, result: QueryResult) {
        let Some(services) = self.services.as_mut() else {
            return;
        };
        if let Some((key, req, flow)) = services.on_query_result(now, id, result) {
            self.finish(now, key, &req, flow);
        }
    }

    /// Time passed: queries past their deadline are answered 503, lapsed bindings go.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(p) = self.presence.as_mut() {
            let ms = p.ms(now);
            p.server.handle_timeout(ms);
            self.pump_presence();
        }
        if let Some(p) = self.presence.as_mut() {
            // Registrar expiries below are timed from here (see poll_write).
            p.ms(now);
        }
        let Some(services) = self.services.as_mut() else {
            return;
        };
        for (key, req, answer) in services.on_timeout(now) {
            self.answer(key, &req, answer);
        }
    }

    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let presence = self
            .presence
            .as_ref()
            .and_then(|p| p.server.poll_timeout().map(|ms| p.instant(ms)));
        let services = self.services.as_ref().and_then(|s| s.poll_timeout());
        [presence, services].into_iter().flatten().min()
    }

    /// The next answer to send, with the key its request came with.
    #[must_use]
    pub fn poll_response(&mut self) -> Option<(ReqKey, Response)> {
        self.responses.pop_front()
    }

    /// The next query for the store.
    #[must_use]
    pub fn poll_query(&mut self) -> Option<Query> {
        self.services.as_mut()?.queries.pop_front()
    }

    /// The next registrar change to persist, in order.
    #[must_use]
    pub fn poll_write(&mut self) -> Option<Effect> {
        let effect = self.services.as_mut()?.poll_write()?;
        // A device signing in or out changes its user's presence.
        if let Some(p) = self.presence.as_mut() {
            let aor = match &effect {
                Effect::Upsert(b) => &b.aor,
                Effect::Remove { binding, .. } => &binding.aor,
            };
            let signed_in = self
                .services
                .as_ref()
                .is_some_and(|s| !s.registrar.bindings(aor).is_empty());
            // Effects are drained right after the input that caused them.
            let ms = p.last_ms();
            p.server.set_signed_in(ms, &aor.to_string(), signed_in);
            self.pump_presence();
        }
        Some(effect)
    }

    /// The next event to count.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.services.as_mut()?.events.pop_front()
    }

    /// Ends an authentication flow: its answer, or the policy's once authenticated.
    fn finish(&mut self, now: Instant, key: ReqKey, req: &Request, flow: Flow) {
        match flow {
            Flow::Answer(a) => self.answer(key, req, a),
            Flow::Continue(identity) if self.presence_keys.contains_key(&key) => {
                let source = self.presence_keys.remove(&key).expect("checked just above");
                self.presence_request(now, key, req, source, identity);
            }
            Flow::Continue(identity) if self.proxied.remove(&key) => {
                let caller = self.caller(req, identity);
                self.route(now, key, req, caller);
            }
            Flow::Continue(_) => {
                // Never `Register` here: REGISTER takes the registrar's flow.
                if let Some(d) = self.decide(req) {
                    let resp = self.respond_with(req, d);
                    self.push_response(key, resp);
                }
            }
        }
    }

    fn answer(&mut self, key: ReqKey, req: &Request, a: Answer) {
        self.presence_keys.remove(&key);
        if self.proxied.remove(&key) {
            let mut headers = a.headers;
            headers.extend(a.reason.as_deref().and_then(bad_request_warning));
            self.routes.push_back((
                key,
                RouteDecision::Reject {
                    status: a.status,
                    headers,
                },
            ));
            return;
        }
        let tag = self.next_tag();
        let mut resp = response_to(req, a.status, Some(&tag));
        if let Some(r) = a.reason {
            resp.reason = sanitize_reason(&r);
        }
        resp.headers.0.extend(a.headers);
        self.add_server(&mut resp);
        self.push_response(key, resp);
    }

    fn push_response(&mut self, key: ReqKey, resp: Response) {
        self.responses.push_back((key, resp));
    }

    fn respond_with(&mut self, req: &Request, d: Decision) -> Response {
        let (status, extra) = match d {
            Decision::Status(s) => (s, Vec::new()),
            Decision::WithHeaders(s, h) => (s, h),
            Decision::Register => (StatusCode::SERVER_INTERNAL_ERROR, Vec::new()),
        };
        let tag = self.next_tag();
        let mut resp = response_to(req, status, Some(&tag));
        resp.headers.0.extend(extra);
        self.add_server(&mut resp);
        resp
    }

    pub fn config(&self) -> &FrontendConfig {
        &self.config
    }

    /// The stateless answer to a request that parsed and passed
    /// [`sb_sip_msg::validate()`]; `None` when no answer is due (ACK). A front end with
    /// services answers REGISTER through [`Frontend::handle_request_at`] only; here it
    /// would get 500. Nothing is authenticated here: only for requests that are never
    /// challenged (a CANCEL that matched no transaction).
    pub fn handle_request(&mut self, req: &Request) -> Option<Response> {
        let d = self.decide(req)?;
        Some(self.respond_with(req, d))
    }

    /// The answer to a request that parsed but failed [`sb_sip_msg::validate()`]: 400 with the
    /// reason. Works from the parsed headers that are there (a missing Call-ID stays missing).
    pub fn handle_invalid(&mut self, req: &Request, why: &Invalid) -> Option<Response> {
        if req.method == Method::Ack {
            // §17.1.1.3: an ACK is never answered, not even with an error.
            return None;
        }
        let tag = self.next_tag();
        let mut resp = response_to(req, StatusCode::BAD_REQUEST, Some(&tag));
        self.add_server(&mut resp);
        resp.headers.0.extend(bad_request_warning(&why.reason));
        Some(resp)
    }

    /// The answer to bytes that failed to parse: 400 (505 for a bad version, 513 for an
    /// oversized message) when the bytes are a request whose Via and CSeq can be recovered;
    /// `None` (drop) otherwise. See [`crate::recover`].
    pub fn handle_parse_error(&mut self, bytes: &[u8], err: &ParseError) -> Option<Response> {
        let status = StatusCode::try_from(err).ok()?;
        if bytes.starts_with(b"ACK ") {
            return None;
        }
        let warning = match err.kind {
            ParseErrorKind::Syntax | ParseErrorKind::Framing => bad_request_warning(&err.reason),
            _ => None,
        };
        let reason = sanitize_reason(status.default_reason());
        let tag = self.next_tag();
        let mut resp = crate::recover::response_to_raw(bytes, status, &reason, &tag)?;
        self.add_server(&mut resp);
        resp.headers.0.extend(warning);
        Some(resp)
    }

    /// A 503 for a request that arrives while shutting down (RFC 3261 §21.5.4); none for ACK.
    pub fn refuse_unavailable(&mut self, req: &Request) -> Option<Response> {
        if req.method == Method::Ack {
            return None;
        }
        Some(self.respond(req, StatusCode::SERVICE_UNAVAILABLE))
    }

    /// A plain response to `req` with `status`: §8.2.6 headers, a fresh To tag for a final
    /// response, and the Server header.
    pub fn respond(&mut self, req: &Request, status: StatusCode) -> Response {
        let tag = self.next_tag();
        let mut resp = response_to(req, status, Some(&tag));
        self.add_server(&mut resp);
        resp
    }

    fn decide(&self, req: &Request) -> Option<Decision> {
        use Decision::*;
        match req.method {
            Method::Ack => return None,
            Method::Cancel => return Some(Status(StatusCode::CALL_DOES_NOT_EXIST)),
            _ => {}
        }
        if !matches!(req.uri, Uri::Sip(_) | Uri::Tel(_)) {
            return Some(Status(StatusCode::UNSUPPORTED_URI_SCHEME));
        }
        let ours = self.is_ours(&req.uri);
        if req.headers.max_forwards() == Some(0) && !ours {
            return Some(Status(StatusCode::TOO_MANY_HOPS));
        }
        let unsupported = self.unsupported_tags(req);
        if !unsupported.is_empty() {
            let h = unsupported.into_iter().map(Header::Unsupported).collect();
            return Some(WithHeaders(StatusCode::BAD_EXTENSION, h));
        }
        if !ours {
            return Some(Status(StatusCode::NOT_FOUND));
        }
        Some(match &req.method {
            Method::Options => WithHeaders(StatusCode::OK, self.capabilities()),
            Method::Register if self.services.is_some() => Register,
            Method::Extension(_) => WithHeaders(StatusCode::NOT_IMPLEMENTED, self.allow()),
            _ => WithHeaders(StatusCode::METHOD_NOT_ALLOWED, self.allow()),
        })
    }

    /// Whether the Request-URI names us. tel URIs are ours: numbers are routed here.
    fn is_ours(&self, uri: &Uri) -> bool {
        match uri {
            Uri::Tel(_) => true,
            Uri::Sip(u) if !self.config.domains.is_empty() => {
                let host = host_text(&u.host);
                // An IPv6 address may be configured with or without its brackets.
                let bare = |h: &str| h.trim_start_matches('[').trim_end_matches(']').to_owned();
                let host = bare(&host);
                self.config
                    .domains
                    .iter()
                    .any(|d| bare(d).eq_ignore_ascii_case(&host))
            }
            Uri::Sip(_) => true,
            Uri::Other { .. } => false,
        }
    }

    /// Option tags in Require and Proxy-Require that we do not support, deduplicated, in
    /// the order they appeared (compared case-insensitively, RFC 3261 §19.2).
    fn unsupported_tags(&self, req: &Request) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for tag in req.headers.require().chain(req.headers.proxy_require()) {
            let tag = tag.trim();
            let known = self
                .config
                .supported
                .iter()
                .any(|s| s.eq_ignore_ascii_case(tag));
            if !tag.is_empty() && !known && !out.iter().any(|o| o.eq_ignore_ascii_case(tag)) {
                out.push(tag.to_string());
            }
        }
        out
    }

    /// Allow, Accept and Supported for a 200 to OPTIONS (RFC 3261 §11.2).
    fn capabilities(&self) -> Vec<Header> {
        let mut h = self.allow();
        h.push(Header::Other(OtherHeader {
            name: "Accept".into(),
            // Other values are printed byte-exact after the colon, so the space is ours.
            value: " application/sdp".into(),
        }));
        if self.config.supported.is_empty() {
            // An empty Supported says "no extensions" explicitly (§20.37 allows no tags).
            h.push(Header::Other(OtherHeader {
                name: "Supported".into(),
                value: String::new(),
            }));
        } else {
            h.extend(self.config.supported.iter().cloned().map(Header::Supported));
        }
        h
    }

    fn allow(&self) -> Vec<Header> {
        let mut h: Vec<Header> = ALLOWED.iter().cloned().map(Header::Allow).collect();
        if self.services.is_some() {
            h.push(Header::Allow(Method::Register));
        }
        if self.presence.is_some() {
            h.push(Header::Allow(Method::Publish));
            h.push(Header::Allow(Method::Subscribe));
        }
        h
    }

    fn add_server(&self, resp: &mut Response) {
        if !self.config.server_name.is_empty() {
            resp.headers.push(Header::Other(OtherHeader {
                name: "Server".into(),
                value: format!(" {}", self.config.server_name),
            }));
        }
    }

    /// A fresh To tag (RFC 3261 §19.3: globally unique, at least 32 bits of randomness).
    /// The counter makes tags unique per process; the seed makes them differ across runs.
    fn next_tag(&mut self) -> String {
        self.tags_issued += 1;
        let x = splitmix64(self.config.tag_seed ^ splitmix64(self.tags_issued));
        format!("{x:016x}")
    }
}

enum Decision {
    Status(StatusCode),
    WithHeaders(StatusCode, Vec<Header>),
    /// Authentication and the registrar decide.
    Register,
}

fn host_text(h: &sb_sip_msg::Host) -> String {
    match h {
        sb_sip_msg::Host::Domain(d) => d.clone(),
        sb_sip_msg::Host::V4(a) => a.to_string(),
        sb_sip_msg::Host::V6(a) => format!("[{a}]"),
    }
}

/// A bijective mixer (SplitMix64's finaliser), so distinct counters give distinct tags.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
