//! The stateful forking proxy (RFC 3261 §16) around one [`TransactionLayer`]: inputs,
//! outputs and the request path; responses and timers live in the submodules.

mod branches;
mod response;
mod timers;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::Instant;

use sb_sip_core::{
    response_for, ConnId, Peer, TimerConfig, TransactionLayer, Transmit, TsxEvent, TsxId,
};
use sb_sip_msg::{Header, Message, Method, NameAddr, Request, Response, StatusCode};

use crate::context::Context;
use crate::route;
use crate::types::{
    ContextId, Plan, ProxyConfig, ProxyEvent, Query, QueryId, RouteDecision, RouteKind, Target,
};

/// What a pending route query was asked for.
#[derive(Debug)]
enum Pending {
    /// The initial (or in-dialog) route of a context.
    Route(ContextId),
    /// A branch's 3xx; kept to use as its final response if recursion is refused.
    Redirect(ContextId, Response),
    /// A 2xx ACK whose next hop needs resolving; forwarded statelessly when answered.
    Ack(Request),
    /// The plan of a context ran out ([`RouteKind::Exhausted`]).
    Exhausted(ContextId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Wake {
    Ctx(ContextId),
    Query(QueryId),
}

/// A stateful forking proxy core: sans-IO, one per shard.
///
/// Inputs: [`Proxy::handle_request`], [`Proxy::handle_response`] (what the transport
/// received), [`Proxy::handle_timeout`], [`Proxy::handle_transport_error`], and
/// [`Proxy::handle_route_decision`] (the answer to a [`Query::Route`]). After each input,
/// drain [`Proxy::poll_transmit`], [`Proxy::poll_query`] and [`Proxy::poll_event`], then
/// sleep until [`Proxy::poll_timeout`]. Answering a query is an input like any other, so
/// answer it whenever the lookup finishes; an unanswered query expires on its own.
#[derive(Debug)]
pub struct Proxy {
    cfg: ProxyConfig,
    layer: TransactionLayer,
    contexts: HashMap<ContextId, Context>,
    by_server: HashMap<TsxId, ContextId>,
    by_client: HashMap<TsxId, (ContextId, usize)>,
    queries: HashMap<QueryId, (Pending, Instant)>,
    wakeups: BinaryHeap<Reverse<(Instant, Wake)>>,
    transmits: VecDeque<Transmit>,
    queries_out: VecDeque<Query>,
    events: VecDeque<ProxyEvent>,
    next_ctx: u64,
    next_query: u64,
}

impl Proxy {
    /// `seed` drives the transaction layer's branches, so simulations replay exactly.
    pub fn new(cfg: ProxyConfig, timers: TimerConfig, seed: u64) -> Self {
        assert!(!cfg.listen.is_empty(), "a proxy needs a listen address");
        Proxy {
            cfg,
            layer: TransactionLayer::new(timers, seed),
            contexts: HashMap::new(),
            by_server: HashMap::new(),
            by_client: HashMap::new(),
            queries: HashMap::new(),
            wakeups: BinaryHeap::new(),
            transmits: VecDeque::new(),
            queries_out: VecDeque::new(),
            events: VecDeque::new(),
            next_ctx: 0,
            next_query: 0,
        }
    }

    pub fn config(&self) -> &ProxyConfig {
        &self.cfg
    }

    /// Response contexts alive (requests being proxied).
    pub fn contexts(&self) -> usize {
        self.contexts.len()
    }

    /// Transactions alive in the embedded layer.
    pub fn transactions(&self) -> usize {
        self.layer.len()
    }

    /// A request from the transport.
    pub fn handle_request(&mut self, now: Instant, req: Request, from: Peer) {
        self.layer.handle_request(now, req, from);
        self.drain_layer(now);
    }

    /// A response from the transport.
    pub fn handle_response(&mut self, now: Instant, resp: Response, from: Peer) {
        self.layer.handle_response(now, resp, from);
        self.drain_layer(now);
    }

    /// A message from the transport, either kind.
    pub fn handle_message(&mut self, now: Instant, msg: Message, from: Peer) {
        match msg {
            Message::Request(r) => self.handle_request(now, r, from),
            Message::Response(r) => self.handle_response(now, r, from),
        }
    }

    /// The transport could not send for a transaction: its branch fails as a 503, which
    /// triggers failover (§16.7 step 1 via §8.1.3.1).
    pub fn handle_transport_error(&mut self, now: Instant, tsx: TsxId) {
        self.layer.handle_transport_error(now, tsx);
        self.drain_layer(now);
    }

    /// A stream connection closed: branches sent over it fail as 503 and fail over.
    pub fn handle_connection_lost(&mut self, now: Instant, conn: ConnId) {
        self.layer.handle_connection_lost(now, conn);
        self.drain_layer(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        self.drain_layer(now);
        while let Some(Reverse((at, wake))) = self.wakeups.peek().copied() {
            if at > now {
                break;
            }
            self.wakeups.pop();
            match wake {
                Wake::Ctx(id) => self.on_context_timers(now, id),
                Wake::Query(q) => self.on_query_expired(now, q),
            }
            self.drain_layer(now);
        }
    }

    /// The answer to [`Query::Route`] `id`. Late answers (after the deadline) are ignored.
    pub fn handle_route_decision(&mut self, now: Instant, id: QueryId, decision: RouteDecision) {
        let Some((pending, _)) = self.queries.remove(&id) else {
            return;
        };
        match pending {
            Pending::Route(ctx) => {
                let Some(c) = self.contexts.get_mut(&ctx) else {
                    return;
                };
                c.pending_queries -= 1;
                if c.final_sent || c.no_new_branches {
                    self.maybe_drop(ctx);
                    return;
                }
                match decision {
                    RouteDecision::Reject { status, headers } => {
                        self.answer(now, ctx, status, headers);
                    }
                    RouteDecision::Forward(plan) => {
                        self.install_plan(ctx, plan, false);
                        self.advance(now, ctx);
                    }
                }
            }
            Pending::Redirect(ctx, resp) => {
                let Some(c) = self.contexts.get_mut(&ctx) else {
                    return;
                };
                c.pending_queries -= 1;
                match decision {
                    RouteDecision::Forward(plan) if !c.no_new_branches => {
                        self.install_plan(ctx, plan, true);
                    }
                    _ => c.responses.push(resp),
                }
                self.advance(now, ctx);
            }
            Pending::Exhausted(ctx) => {
                let Some(c) = self.contexts.get_mut(&ctx) else {
                    return;
                };
                c.pending_queries -= 1;
                match decision {
                    // A plan with no groups would only ask again: answered as a Reject.
                    RouteDecision::Forward(plan)
                        if !c.final_sent && !c.no_new_branches && !plan.groups.is_empty() =>
                    {
                        self.install_plan(ctx, plan, false);
                        self.advance(now, ctx);
                    }
                    // "As if nobody had asked": the best response, not the Reject's status.
                    _ => self.send_best(now, ctx),
                }
            }
            Pending::Ack(ack) => match decision {
                RouteDecision::Forward(plan) => {
                    // One target for a resolved next hop; a user's devices for
                    // `InDialogToUser`, where only the dialog's device takes the ACK.
                    let targets = plan.groups.into_iter().next().map(|g| g.targets);
                    for t in targets.unwrap_or_default() {
                        let mut copy = ack.clone();
                        // With no Route left the Request-URI was the next hop, so the
                        // target (the device's contact) replaces it, as §16.6 step 2 does
                        // for any branch; a Route's next hop leaves it alone.
                        if copy.headers.routes().next().is_none() {
                            copy.uri = t.uri.clone();
                        }
                        self.forward_ack(copy, t.peer);
                    }
                }
                RouteDecision::Reject { .. } => {}
            },
        }
        self.drain_layer(now);
    }

    /// Next message for the transport.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits
            .pop_front()
            .or_else(|| self.layer.poll_transmit())
    }

    /// Next lookup for the caller to run and answer.
    #[must_use]
    pub fn poll_query(&mut self) -> Option<Query> {
        self.queries_out.pop_front()
    }

    #[must_use]
    pub fn poll_event(&mut self) -> Option<ProxyEvent> {
        self.events.pop_front()
    }

    /// When to call [`Proxy::handle_timeout`]; may be early (stale entries), never late.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let own = self.wakeups.peek().map(|Reverse((at, _))| *at);
        match (own, self.layer.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn drain_layer(&mut self, now: Instant) {
        while let Some(ev) = self.layer.poll_event() {
            match ev {
                TsxEvent::NewRequest { tsx, req, from } => self.on_new_request(now, tsx, req, from),
                TsxEvent::Cancel {
                    tsx,
                    target,
                    req,
                    from: _,
                } => self.on_cancel(now, tsx, target, &req),
                TsxEvent::Response { tsx, resp } => self.on_response(now, tsx, resp),
                TsxEvent::Ack2xx { req, from, .. } => self.on_ack_2xx(now, req, from),
                TsxEvent::StrayResponse { resp, .. } => self.on_stray(now, resp),
                TsxEvent::Timeout { tsx } => {
                    self.on_branch_failed(now, tsx, StatusCode::REQUEST_TIMEOUT)
                }
                TsxEvent::TransportError { tsx } => {
                    self.on_branch_failed(now, tsx, StatusCode::SERVICE_UNAVAILABLE)
                }
                TsxEvent::Terminated { tsx } => self.on_terminated(tsx),
                _ => {}
            }
        }
    }

    // ---- requests -------------------------------------------------------------------

    /// §16.3 request validation, then §16.4 preprocessing, then a route query (or, inside
    /// a dialog toward an IP literal, direct forwarding).
    fn on_new_request(&mut self, now: Instant, tsx: TsxId, mut req: Request, from: Peer) {
        let loop_hash = route::loop_hash(&req);
        if let Some((status, extra)) = self.validate(&req, &loop_hash) {
            let mut resp = response_for(&req, status);
            if let Some(to) = resp.headers.to_mut() {
                if to.tag().is_none() {
                    to.params.set("tag", Some("sbp-reject"));
                }
            }
            resp.headers.0.extend(extra);
            let _ = self.layer.send_response(now, tsx, resp);
            self.events.push_back(ProxyEvent::Rejected { status });
            return;
        }
        let is_invite = req.method == Method::Invite;
        if is_invite {
            // §16.2: a stateful proxy answers INVITE with 100 at once, so the caller's
            // INVITE transaction stops retransmitting while we fork.
            let _ = self
                .layer
                .send_response(now, tsx, response_for(&req, StatusCode::TRYING));
        }
        let max_forwards = req.headers.max_forwards().unwrap_or(70).saturating_sub(1);
        route::preprocess(&self.cfg, &mut req);
        let in_dialog = req.headers.to().and_then(NameAddr::tag).is_some();
        let id = ContextId(self.next_ctx);
        self.next_ctx += 1;
        let ctx = Context {
            server: tsx,
            is_invite,
            in_dialog,
            request: req,
            from,
            inbound: from.transport,
            max_forwards,
            loop_hash,
            groups: VecDeque::new(),
            failover: crate::types::Failover::AnyFailure,
            redirects_left: 0,
            record_route: false,
            ask_when_exhausted: false,
            fresh_plan: false,
            branches: Vec::new(),
            groups_started: 0,
            group_deadline: None,
            group_timed_out: false,
            responses: Vec::new(),
            pending_queries: 0,
            final_sent: false,
            no_new_branches: false,
            branch_seq: 0,
        };
        self.by_server.insert(tsx, id);
        let next_hop = route::next_hop_uri(&ctx.request);
        let to_user = in_dialog
            .then(|| route::local_user_target(&self.cfg, &ctx.request))
            .flatten();
        let (kind, direct) = match to_user {
            // Our own address as the next hop: a lookup, not a loop (§16.5).
            Some(uri) => (RouteKind::InDialogToUser { uri }, None),
            None if in_dialog => {
                // Over UDP an IP-literal next hop is the address to send to. Over a
                // stream it may be a device that only talks over the connection it
                // opened (a registered TLS client): the caller knows its flows.
                let direct = route::literal_peer(&next_hop)
                    .filter(|p| p.transport == sb_sip_core::TransportKind::Udp);
                (RouteKind::InDialog { next_hop }, direct)
            }
            None => (RouteKind::Initial, None),
        };
        let request = ctx.request.clone();
        self.contexts.insert(id, ctx);
        if let Some(peer) = direct {
            let uri = self.contexts[&id].request.uri.clone();
            let mut plan = Plan::parallel(vec![Target::new(uri, peer)]);
            plan.record_route = false;
            self.install_plan(id, plan, false);
            self.advance(now, id);
        } else {
            self.ask(now, Pending::Route(id), kind, request, from);
        }
    }

    /// The checks of §16.3 that end in a response instead of forwarding.
    fn validate(&self, req: &Request, hash: &str) -> Option<(StatusCode, Vec<Header>)> {
        if !matches!(req.uri.scheme(), "sip" | "sips" | "tel") {
            return Some((StatusCode::UNSUPPORTED_URI_SCHEME, Vec::new()));
        }
        if req.headers.max_forwards() == Some(0) {
            // §16.3 step 3: OPTIONS addressed to us may be answered as its final recipient.
            let ours = route::is_local(&self.cfg, &req.uri);
            if req.method == Method::Options && ours && self.cfg.answer_options {
                return Some((StatusCode::OK, Vec::new()));
            }
            return Some((StatusCode::TOO_MANY_HOPS, Vec::new()));
        }
        // §16.3 step 4: a request carrying our own Via whose branch holds this request's
        // loop hash has been here unchanged: a loop, not a spiral.
        let looped = req.headers.vias().any(|v| {
            route::is_local_via(&self.cfg, v)
                && v.branch().and_then(route::branch_loop_hash) == Some(hash)
        });
        if looped {
            return Some((StatusCode::LOOP_DETECTED, Vec::new()));
        }
        let unsupported: Vec<Header> = req
            .headers
            .proxy_require()
            .filter(|t| !self.cfg.supported.iter().any(|s| s.eq_ignore_ascii_case(t)))
            .map(|t| Header::Unsupported(t.to_string()))
            .collect();
        if !unsupported.is_empty() {
            return Some((StatusCode::BAD_EXTENSION, unsupported));
        }
        None
    }

    fn ask(
        &mut self,
        now: Instant,
        pending: Pending,
        kind: RouteKind,
        request: Request,
        from: Peer,
    ) {
        let id = QueryId(self.next_query);
        self.next_query += 1;
        if let Pending::Route(c) | Pending::Redirect(c, _) | Pending::Exhausted(c) = &pending {
            if let Some(ctx) = self.contexts.get_mut(c) {
                ctx.pending_queries += 1;
            }
        }
        let deadline = now + self.cfg.route_deadline;
        self.queries.insert(id, (pending, deadline));
        self.wakeups.push(Reverse((deadline, Wake::Query(id))));
        self.queries_out.push_back(Query::Route {
            id,
            kind,
            request,
            from,
        });
    }

    fn on_query_expired(&mut self, now: Instant, q: QueryId) {
        let Some((pending, _)) = self.queries.remove(&q) else {
            return;
        };
        match pending {
            Pending::Route(ctx) | Pending::Exhausted(ctx) => {
                if let Some(c) = self.contexts.get_mut(&ctx) {
                    c.pending_queries -= 1;
                    let status = self.cfg.route_timeout_status;
                    self.answer(now, ctx, status, Vec::new());
                    self.maybe_drop(ctx);
                }
            }
            Pending::Redirect(ctx, resp) => {
                if let Some(c) = self.contexts.get_mut(&ctx) {
                    c.pending_queries -= 1;
                    c.responses.push(resp);
                    self.advance(now, ctx);
                }
            }
            Pending::Ack(_) => {}
        }
    }

    /// Answers the request itself (reject, route timeout) and ends the context.
    fn answer(&mut self, now: Instant, ctx: ContextId, status: StatusCode, extra: Vec<Header>) {
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return;
        };
        if c.final_sent {
            return;
        }
        c.final_sent = true;
        c.no_new_branches = true;
        let mut resp = response_for(&c.request, status);
        if status.0 > 100 && resp.headers.to().and_then(NameAddr::tag).is_none() {
            if let Some(to) = resp.headers.to_mut() {
                to.params.set("tag", Some(&format!("sbp{:x}", ctx.0)));
            }
        }
        resp.headers.0.extend(extra);
        let server = c.server;
        let _ = self.layer.send_response(now, server, resp);
        self.events.push_back(ProxyEvent::Finished { ctx, status });
        self.cancel_pending(now, ctx, None);
        self.maybe_drop(ctx);
    }

    /// §16.10: 200 to the CANCEL, CANCEL every pending branch, no new branches. The caller
    /// gets 487 at once rather than when the last branch confirms: a dead downstream must
    /// not keep the caller's INVITE open. A 2xx racing the CANCEL is still relayed.
    fn on_cancel(&mut self, now: Instant, tsx: TsxId, target: Option<TsxId>, req: &Request) {
        let ctx = target.and_then(|t| self.by_server.get(&t).copied());
        let status = if ctx.is_some() {
            StatusCode::OK
        } else {
            StatusCode::CALL_DOES_NOT_EXIST
        };
        let mut resp = response_for(req, status);
        if let Some(to) = resp.headers.to_mut() {
            if to.tag().is_none() {
                to.params.set("tag", Some("sbp-cancel"));
            }
        }
        let _ = self.layer.send_response(now, tsx, resp);
        let Some(ctx) = ctx else {
            return;
        };
        let reason: Vec<Header> = req
            .headers
            .iter()
            .filter(|h| matches!(h, Header::Other(o) if o.name.eq_ignore_ascii_case("Reason")))
            .cloned()
            .collect();
        if let Some(c) = self.contexts.get_mut(&ctx) {
            c.no_new_branches = true;
            c.groups.clear();
        }
        self.cancel_pending(now, ctx, Some(reason));
        self.answer(now, ctx, StatusCode::REQUEST_TERMINATED, Vec::new());
    }

    /// CANCELs every pending branch that has not been cancelled (§16.7 step 10, §16.10).
    fn cancel_pending(&mut self, now: Instant, ctx: ContextId, reason: Option<Vec<Header>>) {
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return;
        };
        if !c.is_invite {
            return;
        }
        let headers = reason.unwrap_or_default();
        let pending: Vec<usize> = c.pending_branches().collect();
        for i in pending {
            let b = &mut c.branches[i];
            if b.cancelled {
                continue;
            }
            b.cancelled = true;
            let _ = self.layer.cancel_with_headers(now, b.tsx, &headers);
        }
    }

    /// §16.11: the ACK for a 2xx is forwarded statelessly along the route set.
    fn on_ack_2xx(&mut self, now: Instant, mut req: Request, from: Peer) {
        if req.headers.max_forwards() == Some(0) {
            return;
        }
        route::preprocess(&self.cfg, &mut req);
        if let Some(uri) = route::local_user_target(&self.cfg, &req) {
            // Forwarded to the Request-URI's host, it would come back to us until
            // Max-Forwards ran out: ask for the user's devices instead.
            let kind = RouteKind::InDialogToUser { uri };
            return self.ask(now, Pending::Ack(req.clone()), kind, req, from);
        }
        let next = route::next_hop_uri(&req);
        match route::literal_peer(&next).filter(|p| p.transport == sb_sip_core::TransportKind::Udp)
        {
            Some(peer) => self.forward_ack(req, peer),
            None => self.ask(
                now,
                Pending::Ack(req.clone()),
                RouteKind::InDialog { next_hop: next },
                req,
                from,
            ),
        }
    }

    fn forward_ack(&mut self, mut req: Request, peer: Peer) {
        let mf = req.headers.max_forwards().unwrap_or(70).saturating_sub(1);
        route::set_max_forwards(&mut req, mf);
        // The same ACK retransmitted must leave with the same branch (§16.11), so the
        // branch is a function of the incoming one.
        let incoming = req.headers.top_via().and_then(|v| v.branch()).unwrap_or("");
        let branch = format!(
            "{}{:016x}",
            sb_sip_msg::header::BRANCH_MAGIC,
            route::fnv64(&[incoming.as_bytes(), b"ack"])
        );
        req.headers
            .push_via_top(route::our_via(&self.cfg, peer.transport, branch));
        self.transmits.push_back(Transmit {
            to: peer,
            message: Message::Request(req),
        });
    }
}
