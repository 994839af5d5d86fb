//! The core the server runs: the front end's own transaction layer for what the server
//! answers itself (REGISTER, OPTIONS to the server), and the forking proxy (`sb-proxy`)
//! for every other request, whose routing questions the front end answers
//! ([`Frontend::handle_proxied_at`]).
//!
//! Which layer a request goes to depends only on the request (method, Request-URI), so
//! retransmissions, CANCEL and ACK find the transaction they belong to. Responses always go
//! to the proxy: the front end never sends requests.
//!
//! Requests that fail `sb_sip_msg::validate` are answered statelessly with 400 (RFC 4475
//! `badbranch`: "preferably statelessly"): without a valid Via branch and CSeq there is no
//! transaction to match retransmissions against, and building one would let malformed
//! input occupy state.

use crate::core::{Core, Transmit};
use sb_frontend::{Effect, Event, Frontend, Proxied, Query, QueryId, QueryResult, ReqKey, Source};
use sb_proxy::{Proxy, ProxyEvent, RouteKind};
use sb_sip_core::{
    ConnId, InviteServerState, NonInviteServerState, Peer, TimerConfig, TransactionLayer, TsxEvent,
    TsxId, TsxState,
};
use sb_sip_msg::{Message, Method, ParseError, Request, Response, StatusCode, Transport};
use std::collections::{HashSet, VecDeque};
use std::time::Instant;

/// Transaction layer + front end, driven by the runtime's event loop.
#[derive(Debug)]
pub struct ServerCore {
    tsx: TransactionLayer,
    fe: Frontend,
    /// Server transactions not yet terminated, so shutdown can tell which still wait for
    /// an answer from us.
    server_tsxs: HashSet<TsxId>,
    shutting_down: bool,
    /// Stateless answers (400s), sent after the transaction layer's transmits.
    stateless: VecDeque<Transmit>,
    /// The forking proxy, once configured ([`ServerCore::set_proxy`]).
    proxy: Option<Proxy>,
    /// Requests the front end sent (NOTIFY), by their client transaction.
    outgoing: std::collections::HashMap<TsxId, sb_frontend::OutId>,
    /// Via sent-by per transport for requests the server itself sends.
    sent_by: Vec<sb_proxy::Listen>,
    next_branch: u64,
}

/// The branch prefix of requests the server sends itself (RFC 3261 §8.1.1.7 magic cookie
/// first), so their responses reach the local transaction layer, not the proxy.
const LOCAL_BRANCH: &str = "z9hG4bK-sbl-";

/// Keys of the proxy's route queries, kept apart from the local transactions' keys.
const PROXY_KEY: u64 = 1 << 62;

impl ServerCore {
    pub fn new(timers: TimerConfig, seed: u64, frontend: Frontend) -> Self {
        ServerCore {
            tsx: TransactionLayer::new(timers, seed),
            fe: frontend,
            server_tsxs: HashSet::new(),
            shutting_down: false,
            stateless: VecDeque::new(),
            proxy: None,
            outgoing: std::collections::HashMap::new(),
            sent_by: Vec::new(),
            next_branch: 0,
        }
    }

    /// Proxies every request the server does not answer itself (see the module doc). The
    /// front end should route calls ([`Frontend::with_calls`]); without that the proxy's
    /// questions get the front end's plain answers (405 and the like).
    pub fn set_proxy(&mut self, proxy: Proxy) {
        self.sent_by = proxy.config().listen.clone();
        self.proxy = Some(proxy);
    }

    /// Sends the front end's own requests (NOTIFY) through the local transaction layer,
    /// with a Via of ours on top.
    fn send_outgoing(&mut self, now: Instant) {
        while let Some((id, mut req, peer)) = self.fe.poll_request() {
            let Some(listen) = self
                .sent_by
                .iter()
                .find(|l| l.transport == peer.transport)
                .or(self.sent_by.first())
                .cloned()
            else {
                self.fe.handle_request_outcome(now, id, 503);
                continue;
            };
            self.next_branch += 1;
            let mut params = sb_sip_msg::Params::new();
            let branch = format!(
                "{LOCAL_BRANCH}{:x}-{:x}",
                self.fe.config().tag_seed & 0xffff_ffff,
                self.next_branch
            );
            params.set("branch", Some(&branch));
            let via = sb_sip_msg::Via {
                protocol: "SIP".into(),
                version: "2.0".into(),
                transport: transport_of(peer.transport),
                host: listen.host.clone(),
                port: Some(listen.port),
                params,
            };
            req.headers.0.insert(0, sb_sip_msg::Header::Via(via));
            match self.tsx.send_request(now, req, peer) {
                Ok(tsx) => {
                    self.outgoing.insert(tsx, id);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "transaction layer refused a request");
                    self.fe.handle_request_outcome(now, id, 500);
                }
            }
        }
    }

    pub fn frontend_mut(&mut self) -> &mut Frontend {
        &mut self.fe
    }

    pub fn proxy(&self) -> Option<&Proxy> {
        self.proxy.as_ref()
    }

    /// Whether the server answers `req` itself rather than proxying it: REGISTER, and
    /// requests addressed to the server (a sip/sips Request-URI without a user part and no
    /// Route header: OPTIONS probes, a stray BYE). ACK and CANCEL have the Request-URI and
    /// Route of their INVITE, so they reach the same layer. tel: URIs are numbers to route.
    fn is_local(&self, req: &Request) -> bool {
        if self.proxy.is_none() || req.method == Method::Register {
            return true;
        }
        // The presence server is a user agent of its own (RFC 3856 §6: the presence agent).
        if self.fe.serves_presence() && matches!(req.method, Method::Publish | Method::Subscribe) {
            return true;
        }
        let to_server = match &req.uri {
            sb_sip_msg::Uri::Sip(u) => u.user.is_none() && req.headers.routes().next().is_none(),
            sb_sip_msg::Uri::Tel(_) => false,
            // Answered 416 by the front end (RFC 3261 §8.2.2.1).
            sb_sip_msg::Uri::Other { .. } => true,
        };
        if to_server {
            return true;
        }
        // While shutting down, new requests are refused here; CANCEL, ACK and requests
        // inside dialogs still reach the proxy's transactions.
        self.shutting_down
            && !matches!(req.method, Method::Ack | Method::Cancel)
            && req
                .headers
                .to()
                .and_then(sb_sip_msg::NameAddr::tag)
                .is_none()
    }

    /// Runs the proxy's questions through the front end and its answers back, until
    /// neither has anything more to say; counts the proxy's events.
    fn drain_proxy(&mut self, now: Instant) {
        let Some(proxy) = self.proxy.as_mut() else {
            return;
        };
        loop {
            let mut progressed = false;
            while let Some(q) = proxy.poll_query() {
                progressed = true;
                let sb_proxy::Query::Route {
                    id,
                    kind,
                    request,
                    from,
                } = q
                else {
                    continue;
                };
                let key = ReqKey(PROXY_KEY | id.0);
                match kind {
                    RouteKind::Initial => {
                        self.fe
                            .handle_proxied_at(now, key, &request, source_of(from))
                    }
                    RouteKind::InDialog { next_hop } => self.fe.handle_next_hop(key, &next_hop),
                    RouteKind::InDialogToUser { uri } => {
                        self.fe.handle_in_dialog_to_user(key, &uri)
                    }
                    RouteKind::Redirect { contacts, .. } => {
                        self.fe.handle_redirect(now, key, &request, &contacts)
                    }
                    RouteKind::Exhausted { best, timed_out } => self
                        .fe
                        .handle_exhausted(now, key, &request, best, timed_out),
                    _ => self.fe.handle_next_hop(key, &request.uri),
                }
            }
            while let Some((key, decision)) = self.fe.poll_route() {
                progressed = true;
                let id = sb_proxy::QueryId(key.0 & !PROXY_KEY);
                proxy.handle_route_decision(now, id, decision);
            }
            if !progressed {
                break;
            }
        }
        while let Some(ev) = proxy.poll_event() {
            match ev {
                ProxyEvent::Finished { status, .. } => {
                    metrics::counter!("sip_proxied_total", "status" => status.code().to_string())
                        .increment(1);
                }
                ProxyEvent::Rejected { status } => {
                    metrics::counter!("sip_proxy_rejected_total", "status" => status.code().to_string())
                        .increment(1);
                }
                _ => {}
            }
        }
        metrics::gauge!("sip_proxy_contexts").set(proxy.contexts() as f64);
    }

    /// Loads stored bindings at start (see [`Frontend::restore`]).
    pub fn restore(
        &mut self,
        now: Instant,
        bindings: impl IntoIterator<Item = sb_frontend::Binding>,
    ) {
        self.fe.restore(now, bindings);
        self.after_input(now);
    }

    pub fn frontend(&self) -> &Frontend {
        &self.fe
    }

    /// Sends what the front end answered, counts its events, and updates the gauges.
    fn after_input(&mut self, now: Instant) {
        while let Some((key, resp)) = self.fe.poll_response() {
            self.send(now, TsxId(key.0), resp);
        }
        while let Some(ev) = self.fe.poll_event() {
            match ev {
                Event::AuthFailure { reason } => {
                    metrics::counter!("sip_auth_failures_total", "reason" => reason).increment(1);
                }
                Event::Throttled => metrics::counter!("sip_auth_throttled_total").increment(1),
                Event::Routed { allowed, trace } => {
                    let outcome = if allowed { "placed" } else { "refused" };
                    metrics::counter!("calls_routed_total", "outcome" => outcome).increment(1);
                    tracing::debug!(outcome, "call routed:\n{trace}");
                }
                Event::StoreUnavailable { error } => {
                    metrics::counter!("store_query_failures_total").increment(1);
                    tracing::warn!(
                        error = error.as_deref().unwrap_or("timed out"),
                        "store query failed"
                    );
                }
                _ => {}
            }
        }
        metrics::gauge!("sip_registrations").set(self.fe.registrations() as f64);
        let (subscriptions, calls) = self.fe.presence_counts();
        metrics::gauge!("presence_subscriptions").set(subscriptions as f64);
        metrics::gauge!("presence_calls_followed").set(calls as f64);
        self.drain_proxy(now);
        self.send_outgoing(now);
    }

    fn send(&mut self, now: Instant, tsx: TsxId, resp: Response) {
        if resp
            .headers
            .cseq()
            .is_some_and(|c| c.method == Method::Register)
            && resp.status.is_final()
        {
            metrics::counter!("sip_register_total", "status" => resp.status.code().to_string())
                .increment(1);
        }
        if let Err(e) = self.tsx.send_response(now, tsx, resp) {
            tracing::warn!(error = %e, "transaction layer refused a response");
        }
    }

    fn on_request(&mut self, now: Instant, from: Peer, req: Request) {
        let msg = Message::Request(req);
        let checked = sb_sip_msg::validate(&msg);
        let Message::Request(req) = msg else {
            unreachable!("wrapped a request just above")
        };
        if let Err(why) = checked {
            tracing::debug!(%from, reason = %why, "invalid request");
            metrics::counter!("sip_invalid_requests_total").increment(1);
            if let Some(resp) = self.fe.handle_invalid(&req, &why) {
                self.stateless.push_back(Transmit {
                    peer: from,
                    message: Message::Response(resp),
                });
            }
            return;
        }
        if !self.is_local(&req) {
            if matches!(req.method, Method::Invite | Method::Bye) && self.fe.serves_presence() {
                // Calls starting and ending change their parties' presence.
                self.fe.observe_proxied(now, Proxied::Request(&req));
            }
            if let Some(p) = self.proxy.as_mut() {
                p.handle_request(now, req, from);
                self.after_input(now);
                return;
            }
        }
        self.tsx.handle_request(now, req, from);
        self.drain_events(now);
    }

    /// Answers what the transaction layer reports; the TU side of §17.2.
    fn drain_events(&mut self, now: Instant) {
        while let Some(ev) = self.tsx.poll_event() {
            let (tsx, resp) = match ev {
                TsxEvent::NewRequest { tsx, req, from } => {
                    self.server_tsxs.insert(tsx);
                    if self.shutting_down {
                        if let Some(resp) = self.fe.refuse_unavailable(&req) {
                            self.send(now, tsx, resp);
                        }
                    } else {
                        self.fe
                            .handle_request_at(now, ReqKey(tsx.0), &req, source_of(from));
                        self.after_input(now);
                    }
                    continue;
                }
                // §9.2: a CANCEL that matches a transaction we already answered finally
                // gets 200 and changes nothing; one that matches nothing gets 481, which
                // is what the policy answers for CANCEL.
                TsxEvent::Cancel {
                    tsx,
                    target: Some(_),
                    req,
                    ..
                } => (tsx, Some(self.fe.respond(&req, StatusCode::OK))),
                TsxEvent::Cancel {
                    tsx,
                    target: None,
                    req,
                    ..
                } => (tsx, self.fe.handle_request(&req)),
                TsxEvent::Terminated { tsx } => {
                    self.server_tsxs.remove(&tsx);
                    self.outgoing.remove(&tsx);
                    continue;
                }
                TsxEvent::Response { tsx, resp } => {
                    if resp.status.is_final() {
                        if let Some(id) = self.outgoing.remove(&tsx) {
                            self.fe.handle_request_outcome(now, id, resp.status.code());
                            self.after_input(now);
                        }
                    }
                    continue;
                }
                TsxEvent::Timeout { tsx } | TsxEvent::TransportError { tsx } => {
                    if let Some(id) = self.outgoing.remove(&tsx) {
                        self.fe.handle_request_outcome(now, id, 408);
                        self.after_input(now);
                    }
                    continue;
                }
                _ => continue,
            };
            self.server_tsxs.insert(tsx);
            if let Some(resp) = resp {
                self.send(now, tsx, resp);
            }
        }
    }
}

/// Whether a response answers a request the server sent itself (see [`LOCAL_BRANCH`]).
fn is_local_response(resp: &Response) -> bool {
    resp.headers
        .top_via()
        .and_then(|v| v.branch())
        .is_some_and(|b| b.starts_with(LOCAL_BRANCH))
}

fn transport_of(t: sb_sip_core::TransportKind) -> Transport {
    match t {
        sb_sip_core::TransportKind::Udp => Transport::Udp,
        sb_sip_core::TransportKind::Tcp => Transport::Tcp,
        sb_sip_core::TransportKind::Tls => Transport::Tls,
        sb_sip_core::TransportKind::Ws => Transport::Ws,
        sb_sip_core::TransportKind::Wss => Transport::Wss,
    }
}

/// Where a request came from, as the registrar records it (RFC 5626 §6: the flow).
fn source_of(p: Peer) -> Source {
    let transport = match p.transport {
        sb_sip_core::TransportKind::Udp => Transport::Udp,
        sb_sip_core::TransportKind::Tcp => Transport::Tcp,
        sb_sip_core::TransportKind::Tls => Transport::Tls,
        sb_sip_core::TransportKind::Ws => Transport::Ws,
        sb_sip_core::TransportKind::Wss => Transport::Wss,
    };
    Source {
        transport,
        addr: p.addr,
    }
}

impl Core for ServerCore {
    fn handle_message(&mut self, now: Instant, from: Peer, msg: Message) {
        match msg {
            Message::Request(req) => self.on_request(now, from, req),
            Message::Response(resp) => {
                if self.proxy.is_some() && !is_local_response(&resp) {
                    let invite = resp
                        .headers
                        .cseq()
                        .is_some_and(|c| c.method == Method::Invite);
                    if invite && self.fe.serves_presence() {
                        self.fe.observe_proxied(now, Proxied::Response(&resp));
                    }
                    if let Some(p) = self.proxy.as_mut() {
                        p.handle_response(now, resp, from);
                    }
                    self.after_input(now);
                } else {
                    self.tsx.handle_response(now, resp, from);
                    self.drain_events(now);
                }
            }
        }
    }

    fn handle_malformed(&mut self, _now: Instant, from: Peer, bytes: &[u8], err: &ParseError) {
        if let Some(resp) = self.fe.handle_parse_error(bytes, err) {
            self.stateless.push_back(Transmit {
                peer: from,
                message: Message::Response(resp),
            });
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some(p) = self.proxy.as_mut() {
            p.handle_timeout(now);
        }
        self.tsx.handle_timeout(now);
        self.drain_events(now);
        self.fe.handle_timeout(now);
        self.after_input(now);
        // Answers just sent may have ended transactions (reliable transports).
        self.drain_events(now);
    }

    fn handle_query_result(&mut self, now: Instant, id: QueryId, result: QueryResult) {
        self.fe.handle_query_result(now, id, result);
        self.after_input(now);
        self.drain_events(now);
    }

    fn poll_query(&mut self) -> Option<Query> {
        self.fe.poll_query()
    }

    fn poll_write(&mut self) -> Option<Effect> {
        self.fe.poll_write()
    }

    fn handle_connection_lost(&mut self, now: Instant, conn: ConnId) {
        if let Some(p) = self.proxy.as_mut() {
            p.handle_connection_lost(now, conn);
        }
        self.after_input(now);
        self.tsx.handle_connection_lost(now, conn);
        self.drain_events(now);
    }

    fn begin_shutdown(&mut self, _now: Instant) {
        self.shutting_down = true;
    }

    fn transactions(&self) -> usize {
        self.tsx.len() + self.proxy.as_ref().map_or(0, Proxy::transactions)
    }

    /// Server transactions still without a final response: a REGISTER waiting for the
    /// store counts, so shutdown lets it finish.
    /// Completed transactions that only absorb retransmissions (Timer J, 32 s over UDP) do
    /// not count: they are not worth holding a shutdown for.
    fn in_flight(&self) -> usize {
        let proxied = self.proxy.as_ref().map_or(0, Proxy::contexts);
        proxied
            + self
                .server_tsxs
                .iter()
                .filter(|id| {
                    matches!(
                        self.tsx.state(**id),
                        Some(TsxState::NonInviteServer(
                            NonInviteServerState::Trying | NonInviteServerState::Proceeding
                        )) | Some(TsxState::InviteServer(InviteServerState::Proceeding))
                    )
                })
                .count()
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(t) = self.proxy.as_mut().and_then(Proxy::poll_transmit) {
            if let Message::Response(r) = &t.message {
                let invite = r.headers.cseq().is_some_and(|c| c.method == Method::Invite);
                if invite && r.status.is_final() {
                    self.fe.call_answered(r);
                }
            }
            return Some(Transmit {
                peer: t.to,
                message: t.message,
            });
        }
        if let Some(t) = self.tsx.poll_transmit() {
            return Some(Transmit {
                peer: t.to,
                message: t.message,
            });
        }
        self.stateless.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [
            self.tsx.poll_timeout(),
            self.fe.poll_timeout(),
            self.proxy.as_ref().and_then(Proxy::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn request(method: &str, cseq_method: &str, branch: &str) -> Message {
        let text = format!(
            "{method} sip:bob@example.com SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK{branch}\r\n\
             Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\n\
             Call-ID: {branch}\r\nCSeq: 1 {cseq_method}\r\nContent-Length: 0\r\n\r\n"
        );
        sb_sip_msg::parse_datagram(text.as_bytes()).expect("test request parses")
    }

    fn statuses(core: &mut ServerCore) -> Vec<u16> {
        std::iter::from_fn(|| core.poll_transmit())
            .map(|t| match t.message {
                Message::Response(r) => r.status.code(),
                Message::Request(_) => 0,
            })
            .collect()
    }

    fn core() -> ServerCore {
        ServerCore::new(TimerConfig::default(), 1, Frontend::new(Default::default()))
    }

    #[test]
    fn answers_through_a_transaction_that_absorbs_retransmissions() {
        let mut c = core();
        let t0 = Instant::now();
        let peer = Peer::udp("192.0.2.1:5060".parse().unwrap());
        c.handle_message(t0, peer, request("OPTIONS", "OPTIONS", "a"));
        assert_eq!(statuses(&mut c), [200]);
        assert_eq!((c.transactions(), c.in_flight()), (1, 0));
        // The retransmission gets the same response again, from the transaction.
        c.handle_message(t0, peer, request("OPTIONS", "OPTIONS", "a"));
        assert_eq!(statuses(&mut c), [200]);
        // Timer J (64*T1 over UDP) ends it.
        let later = t0 + Duration::from_secs(33);
        c.handle_timeout(later);
        assert_eq!(c.transactions(), 0);
        assert!(
            c.server_tsxs.is_empty(),
            "terminated transactions are forgotten"
        );
    }

    #[test]
    fn invalid_requests_are_answered_statelessly() {
        let mut c = core();
        let peer = Peer::udp("192.0.2.1:5060".parse().unwrap());
        c.handle_message(Instant::now(), peer, request("OPTIONS", "INVITE", "b"));
        assert_eq!(statuses(&mut c), [400]);
        assert_eq!(c.transactions(), 0);
    }

    #[test]
    fn after_shutdown_begins_new_requests_get_503() {
        let mut c = core();
        let peer = Peer::udp("192.0.2.1:5060".parse().unwrap());
        c.begin_shutdown(Instant::now());
        c.handle_message(Instant::now(), peer, request("OPTIONS", "OPTIONS", "c"));
        assert_eq!(statuses(&mut c), [503]);
        assert_eq!(c.in_flight(), 0);
    }

    fn register(branch: &str, authorization: Option<&str>) -> Message {
        let auth = authorization
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let text = format!(
            "REGISTER sip:example.com SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK{branch}\r\n\
             Max-Forwards: 70\r\nTo: <sip:alice@example.com>\r\nFrom: <sip:alice@example.com>;tag=1\r\n\
             Call-ID: reg\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@192.0.2.1>\r\n{auth}Content-Length: 0\r\n\r\n"
        );
        sb_sip_msg::parse_datagram(text.as_bytes()).expect("test request parses")
    }

    fn core_with_auth(t0: Instant) -> ServerCore {
        let services = sb_frontend::ServicesConfig::new(
            sb_frontend::RegistrarConfig::default(),
            Some(sb_frontend::AuthSettings {
                config: sb_frontend::AuthConfig::new("example.com"),
                realm_per_domain: false,
                secret: b"k".to_vec(),
                throttle: Default::default(),
            }),
        );
        let clock = sb_frontend::WallClock {
            at: t0,
            unix: 1_800_000_000,
        };
        let fe = Frontend::with_services(Default::default(), services, clock);
        ServerCore::new(TimerConfig::default(), 1, fe)
    }

    #[test]
    fn a_register_waiting_for_the_store_is_in_flight_until_answered() {
        let t0 = Instant::now();
        let mut c = core_with_auth(t0);
        let peer = Peer::udp("192.0.2.1:5060".parse().unwrap());
        c.handle_message(t0, peer, register("r1", None));
        assert_eq!(statuses(&mut c), [401]);
        // Credentials (for a user the store will not know) need a query; the
        // transaction stays open, a retransmission gets nothing yet.
        let creds = "Digest username=\"alice\", realm=\"example.com\", nonce=\"x\", \
                     uri=\"sip:example.com\", response=\"00000000000000000000000000000000\"";
        c.handle_message(t0, peer, register("r2", Some(creds)));
        let Some(sb_frontend::Query::Credentials { id, .. }) = c.poll_query() else {
            panic!("a credentials query")
        };
        assert!(statuses(&mut c).is_empty());
        assert_eq!(c.in_flight(), 1);
        c.handle_message(t0, peer, register("r2", Some(creds)));
        assert!(statuses(&mut c).is_empty());
        // The answer: nobody by that name. 401, and nothing is in flight any more.
        c.handle_query_result(t0 + Duration::from_millis(5), id, Ok(None));
        assert_eq!(statuses(&mut c), [401]);
        assert_eq!(c.in_flight(), 0);
    }

    #[test]
    fn a_store_that_never_answers_makes_a_503_at_the_deadline() {
        let t0 = Instant::now();
        let mut c = core_with_auth(t0);
        let peer = Peer::udp("192.0.2.1:5060".parse().unwrap());
        let creds = "Digest username=\"alice\", realm=\"example.com\", nonce=\"x\", \
                     uri=\"sip:example.com\", response=\"00000000000000000000000000000000\"";
        c.handle_message(t0, peer, register("r3", Some(creds)));
        assert!(c.poll_query().is_some());
        let deadline = c.poll_timeout().expect("a deadline");
        assert!(deadline <= t0 + Duration::from_secs(4));
        c.handle_timeout(deadline);
        assert_eq!(statuses(&mut c), [503]);
        assert_eq!(c.in_flight(), 0);
    }
}
