//! The B2BUA object: its inputs, outputs and the call table.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sb_gateways::{Gateway, GatewayMonitor, GatewayName, MonitorConfig, MonitorEvent};
use sb_media_api::{Command, Event, LegId, SessionId};
use sb_sip_core::dialog::{DialogId, SessionTimerEvent};
use sb_sip_core::{
    response_for, Peer, TimerConfig, TransactionLayer, Transmit, TransportKind, TsxEvent, TsxId,
    Uas2xxEvent,
};
use sb_sip_msg::{Header, Message, Method, Request, Response, StatusCode};

use crate::call::{Call, CallDirection, LegKind, Phase};
use crate::config::B2buaConfig;
use crate::ids::{CallRef, KeySource, Rng};
use crate::media::PortPool;
use crate::wire;

/// What happened to calls and gateways, for call records, logs and the admin console.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum B2buaEvent {
    /// A new call was accepted and its B leg is being set up.
    CallStarted {
        call: CallRef,
        direction: CallDirection,
        number: String,
    },
    /// A gateway was tried for a call and failed with `status` (failover follows when
    /// another gateway of the pool is left).
    GatewayFailed {
        call: CallRef,
        gateway: GatewayName,
        status: StatusCode,
    },
    /// Both legs answered.
    CallAnswered {
        call: CallRef,
        gateway: Option<GatewayName>,
    },
    /// The call is gone: `status` is the final response the caller got when it never
    /// connected, `None` when it connected and ended with BYE.
    CallEnded {
        call: CallRef,
        status: Option<StatusCode>,
    },
    /// A gateway went up or down.
    Gateway(MonitorEvent),
    /// The client side transferred the call: the transfer target answered and took
    /// the transferor's place; the gateway leg stayed.
    CallTransferred { call: CallRef },
}

/// Who a client transaction of ours belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The initial INVITE of a call's B leg (or the A leg's own INVITE server tsx).
    Invite(CallRef),
    /// The A leg's INVITE server transaction.
    AInvite(CallRef),
    /// A re-INVITE or UPDATE we sent on a leg.
    Reoffer(CallRef, LegKind),
    /// BYE, PRACK, CANCEL: nothing to do with the answer.
    Fire,
    /// A gateway keep-alive.
    KeepAlive(GatewayName),
    /// The INVITE toward a transfer target.
    TransferInvite(CallRef),
    /// A transfer target's INVITE whose call ended first; the request is kept in
    /// `B2bua::orphans` so that a 2xx crossing our CANCEL is ACKed and hung up.
    OrphanInvite,
}

/// The mediation back-to-back user agent. See the crate docs for the run loop.
pub struct B2bua {
    pub(crate) cfg: B2buaConfig,
    pub(crate) layer: TransactionLayer,
    pub(crate) monitor: GatewayMonitor,
    pub(crate) rng: Rng,
    pub(crate) keys: Box<dyn KeySource>,
    pub(crate) ports: PortPool,
    pub(crate) calls: HashMap<CallRef, Call>,
    /// Our local tag on a leg → the call and leg; every in-dialog request and ACK is
    /// matched by the tag we chose.
    pub(crate) by_tag: HashMap<String, (CallRef, LegKind)>,
    pub(crate) tsxs: HashMap<TsxId, Owner>,
    pub(crate) orphans: HashMap<TsxId, Request>,
    pub(crate) next_id: u64,
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) media: VecDeque<Command>,
    pub(crate) events: VecDeque<B2buaEvent>,
}

impl std::fmt::Debug for B2bua {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("B2bua")
            .field("calls", &self.calls.len())
            .field("transactions", &self.layer.len())
            .finish_non_exhaustive()
    }
}

impl B2bua {
    /// A B2BUA with no calls. `seed` drives tags, Call-IDs and branches (and keys, until
    /// [`B2bua::set_key_source`]); `now` starts the gateway keep-alives.
    pub fn new(now: Instant, config: B2buaConfig, timers: TimerConfig, seed: u64) -> B2bua {
        let mcfg = MonitorConfig::new(
            wire::host_of(config.sip_addr.ip()),
            Some(config.sip_addr.port()),
            seed ^ 0x6b65_6570,
        );
        let monitor = GatewayMonitor::new(now, &config.gateways, mcfg);
        let mut b = B2bua {
            ports: PortPool::new(&config.media),
            layer: TransactionLayer::new(timers, seed),
            monitor,
            rng: Rng::new(seed),
            keys: Box::new(Rng::new(seed.rotate_left(17))),
            cfg: config,
            calls: HashMap::new(),
            by_tag: HashMap::new(),
            tsxs: HashMap::new(),
            orphans: HashMap::new(),
            next_id: 1,
            transmits: VecDeque::new(),
            media: VecDeque::new(),
            events: VecDeque::new(),
        };
        b.drain(now);
        b
    }

    /// Installs the source of SRTP keys and ICE passwords (the OS CSPRNG in production).
    pub fn set_key_source(&mut self, keys: Box<dyn KeySource>) {
        self.keys = keys;
    }

    // ---- getters

    /// Calls in progress (set up, connected, or being cancelled).
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// The calls in progress.
    pub fn calls(&self) -> impl Iterator<Item = CallRef> + '_ {
        self.calls.keys().copied()
    }

    /// Gateway health and call counts.
    pub fn monitor(&self) -> &GatewayMonitor {
        &self.monitor
    }

    /// Live SIP transactions.
    pub fn transactions(&self) -> usize {
        self.layer.len()
    }

    /// RTP ports still free.
    pub fn free_ports(&self) -> usize {
        self.ports.available()
    }

    // ---- inputs

    /// A request from the network.
    pub fn handle_request(&mut self, now: Instant, req: Request, from: Peer) {
        self.layer.handle_request(now, req, from);
        self.drain(now);
    }

    /// A response from the network.
    pub fn handle_response(&mut self, now: Instant, resp: Response, from: Peer) {
        self.layer.handle_response(now, resp, from);
        self.drain(now);
    }

    /// Any parsed message from the network.
    pub fn handle_message(&mut self, now: Instant, msg: Message, from: Peer) {
        match msg {
            Message::Request(r) => self.handle_request(now, r, from),
            Message::Response(r) => self.handle_response(now, r, from),
        }
    }

    /// The time is `now`: run every timer that is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        self.monitor.handle_timeout(now);
        let due: Vec<CallRef> = self
            .calls
            .values()
            .filter(|c| c.next_timeout().is_some_and(|t| t <= now))
            .map(|c| c.id)
            .collect();
        for id in due {
            self.with_call(id, |b, call| b.on_call_timers(now, call));
        }
        self.drain(now);
    }

    /// An event from the media engine.
    pub fn handle_media_event(&mut self, now: Instant, ev: Event) {
        let leg = match &ev {
            Event::MediaTimeout { leg } | Event::IceFailed { leg } => *leg,
            _ => return,
        };
        let Some(id) = self.call_of_leg(leg) else {
            return;
        };
        // Media that cannot flow (RFC 8445 §8 ICE failure) or has stopped: end the call
        // on both sides rather than leave a silent line billed.
        self.with_call(id, |b, call| {
            b.end_call(
                now,
                call,
                None,
                &["Q.850;cause=41;text=\"Media failure\"".to_string()],
            )
        });
        self.drain(now);
    }

    // ---- outputs

    /// Next message to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.layer
            .poll_transmit()
            .or_else(|| self.transmits.pop_front())
    }

    /// Next command for the media engine.
    #[must_use]
    pub fn poll_media(&mut self) -> Option<Command> {
        self.media.pop_front()
    }

    #[must_use]
    pub fn poll_event(&mut self) -> Option<B2buaEvent> {
        self.events.pop_front()
    }

    /// When to call [`B2bua::handle_timeout`] next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.layer.poll_timeout(),
            self.monitor.poll_timeout(),
            self.calls.values().filter_map(Call::next_timeout).min(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ---- the event pump

    /// Takes the call out of the table for `f`, which returns whether the call lives on.
    pub(crate) fn with_call(&mut self, id: CallRef, f: impl FnOnce(&mut B2bua, &mut Call) -> bool) {
        let Some(mut call) = self.calls.remove(&id) else {
            return;
        };
        if f(self, &mut call) {
            self.calls.insert(id, call);
        }
    }

    fn drain(&mut self, now: Instant) {
        loop {
            while let Some(k) = self.monitor.poll_transmit() {
                let peer = self
                    .cfg
                    .gateways
                    .gateway(&k.gateway)
                    .and_then(|g| self.gateway_peer(g));
                match peer.map(|p| self.layer.send_request(now, k.request, p)) {
                    Some(Ok(tsx)) => {
                        self.tsxs.insert(tsx, Owner::KeepAlive(k.gateway));
                    }
                    _ => self.monitor.handle_failure(now, &k.gateway),
                }
            }
            while let Some(e) = self.monitor.poll_event() {
                self.events.push_back(B2buaEvent::Gateway(e));
            }
            let Some(ev) = self.layer.poll_event() else {
                break;
            };
            self.on_tsx_event(now, ev);
        }
    }

    fn on_tsx_event(&mut self, now: Instant, ev: TsxEvent) {
        match ev {
            TsxEvent::NewRequest { tsx, req, from } => self.on_request(now, tsx, req, from),
            TsxEvent::Cancel {
                tsx, target, req, ..
            } => self.on_cancel(now, tsx, target, &req),
            TsxEvent::Response { tsx, resp } => self.on_response(now, tsx, resp),
            TsxEvent::Ack2xx { req, .. } => self.on_ack(now, &req),
            TsxEvent::StrayResponse { resp, .. } => self.on_stray(&resp),
            TsxEvent::Timeout { tsx } => self.on_failure(now, tsx, StatusCode::REQUEST_TIMEOUT),
            TsxEvent::TransportError { tsx } => {
                self.on_failure(now, tsx, StatusCode::SERVICE_UNAVAILABLE)
            }
            TsxEvent::Terminated { tsx } => {
                self.tsxs.remove(&tsx);
                self.orphans.remove(&tsx);
            }
            _ => {}
        }
    }

    /// A client transaction ended without a response: §8.1.3.1 treats a timeout as 408
    /// and a transport failure as 503.
    fn on_failure(&mut self, now: Instant, tsx: TsxId, status: StatusCode) {
        match self.tsxs.get(&tsx).cloned() {
            Some(Owner::KeepAlive(gw)) => self.monitor.handle_failure(now, &gw),
            Some(Owner::Invite(id)) => {
                // The transaction is gone by now; answer for it from the INVITE we kept.
                let req = self.calls.get(&id).and_then(|c| c.b_invite.clone());
                let Some(req) = req else {
                    return;
                };
                let mut resp = response_for(&req, status);
                resp.headers.push(wire::other(
                    "Reason",
                    format!("SIP;cause={};text=\"local\"", status.code()),
                ));
                self.with_call(id, |b, call| b.on_b_response(now, call, tsx, resp));
            }
            Some(Owner::TransferInvite(id)) => {
                let req = self
                    .calls
                    .get(&id)
                    .and_then(|c| c.transfer.as_ref())
                    .and_then(|t| t.invite.clone());
                if let Some(req) = req {
                    let resp = response_for(&req, status);
                    self.with_call(id, |b, call| b.on_transfer_response(now, call, tsx, resp));
                }
            }
            Some(Owner::Reoffer(id, _)) => {
                // A re-INVITE that timed out or could not be sent ends the dialog
                // (§12.2.1.2), and with it the call.
                self.with_call(id, |b, call| b.end_call(now, call, None, &[]));
            }
            _ => {}
        }
    }

    fn on_response(&mut self, now: Instant, tsx: TsxId, resp: Response) {
        match self.tsxs.get(&tsx).cloned() {
            Some(Owner::KeepAlive(gw)) => self.monitor.handle_response(now, &gw, resp.status),
            Some(Owner::Invite(id)) => {
                self.with_call(id, |b, call| b.on_b_response(now, call, tsx, resp))
            }
            Some(Owner::Reoffer(id, leg)) => {
                self.with_call(id, |b, call| b.on_reoffer_response(now, call, leg, resp))
            }
            Some(Owner::TransferInvite(id)) => {
                self.with_call(id, |b, call| b.on_transfer_response(now, call, tsx, resp))
            }
            Some(Owner::OrphanInvite) => self.on_orphan_response(now, tsx, &resp),
            _ => {}
        }
    }

    /// A 2xx retransmission after our INVITE transaction ended (RFC 6026 §7.2 lets it
    /// reach the TU): resend the ACK we built for it.
    fn on_stray(&mut self, resp: &Response) {
        if !resp.status.is_success()
            || resp.headers.cseq().map(|c| &c.method) != Some(&Method::Invite)
        {
            return;
        }
        let Some(did) = DialogId::of_received_response(resp) else {
            return;
        };
        let Some((id, kind)) = self.by_tag.get(did.local_tag.as_str()).copied() else {
            return;
        };
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let leg = call.leg(kind);
        if let Some(ack) = leg.dialog.as_ref().and_then(|d| d.last_ack()) {
            let mut ack = ack.clone();
            let branch = format!("z9hG4bK{}", self.rng.token());
            ack.headers.0.insert(
                0,
                Header::Via(wire::via(
                    self.cfg.sip_addr,
                    leg.peer.transport,
                    Some(branch),
                )),
            );
            self.transmits.push_back(Transmit {
                to: leg.peer,
                message: Message::Request(ack),
            });
        }
    }

    // ---- shared helpers

    pub(crate) fn alloc_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub(crate) fn call_of_leg(&self, leg: LegId) -> Option<CallRef> {
        self.calls
            .values()
            .find(|c| c.a.leg_id == leg || c.b.leg_id == leg)
            .map(|c| c.id)
    }

    /// Where a gateway's requests go: the runtime's resolution, else its IP literal.
    pub(crate) fn gateway_peer(&self, g: &Gateway) -> Option<Peer> {
        let kind = match g.config.transport {
            sb_gateways::GatewayTransport::Udp => TransportKind::Udp,
            sb_gateways::GatewayTransport::Tcp => TransportKind::Tcp,
            sb_gateways::GatewayTransport::Tls => TransportKind::Tls,
        };
        let addr = self.cfg.gateway_addrs.get(g.name()).copied().or_else(|| {
            let ip = match &g.address.host {
                sb_sip_msg::Host::V4(v4) => std::net::IpAddr::V4(*v4),
                sb_sip_msg::Host::V6(v6) => std::net::IpAddr::V6(*v6),
                sb_sip_msg::Host::Domain(_) => return None,
            };
            let default = if kind == TransportKind::Tls {
                5061
            } else {
                5060
            };
            Some(SocketAddr::new(ip, g.address.port.unwrap_or(default)))
        })?;
        Some(Peer::new(kind, addr))
    }

    /// The gateway a request came from, by source IP (gateways often send from a port
    /// other than the one they listen on).
    pub(crate) fn gateway_by_source(&self, from: &Peer) -> Option<GatewayName> {
        // The exact address first: several gateways (or the front end) may share a host,
        // as on a single test machine; then the IP alone, for gateways that send from
        // another port or over a connection of their own.
        let gws = self.cfg.gateways.gateways();
        gws.iter()
            .find(|g| self.gateway_peer(g).is_some_and(|p| p.addr == from.addr))
            .or_else(|| {
                gws.iter().find(|g| {
                    self.gateway_peer(g)
                        .is_some_and(|p| p.addr.ip() == from.addr.ip())
                })
            })
            .map(|g| g.name().clone())
    }

    /// Sends a response on a server transaction. A transaction that is already gone
    /// (the peer gave up) leaves nothing to do.
    pub(crate) fn respond(&mut self, now: Instant, tsx: TsxId, resp: Response) {
        let _ = self.layer.send_response(now, tsx, resp);
    }

    /// Sends an in-dialog request (or the initial INVITE) of a call on a leg's peer,
    /// with our Via; the ACK for a 2xx goes straight out (it is no transaction).
    pub(crate) fn send_on_leg(
        &mut self,
        now: Instant,
        peer: Peer,
        mut req: Request,
        owner: Owner,
    ) -> Option<TsxId> {
        let branch = (req.method == Method::Ack).then(|| format!("z9hG4bK{}", self.rng.token()));
        req.headers.0.insert(
            0,
            Header::Via(wire::via(self.cfg.sip_addr, peer.transport, branch)),
        );
        if req.method == Method::Ack {
            self.transmits.push_back(Transmit {
                to: peer,
                message: Message::Request(req),
            });
            return None;
        }
        let tsx = self.layer.send_request(now, req, peer).ok()?;
        self.tsxs.insert(tsx, owner);
        Some(tsx)
    }

    /// The call's own timers: 2xx retransmissions and re-offers after a 491.
    fn on_call_timers(&mut self, now: Instant, call: &mut Call) -> bool {
        if call.give_up_at.is_some_and(|t| t <= now) {
            self.forget(call, Some(StatusCode::REQUEST_TERMINATED));
            return false;
        }
        if !self.on_transfer_timer(now, call) {
            return false;
        }
        for kind in [LegKind::A, LegKind::B] {
            let leg = call.leg_mut(kind);
            let mut resend = None;
            let mut gave_up = false;
            if let Some(r) = leg.uas_2xx.as_mut() {
                r.handle_timeout(now);
                resend = r.poll_transmit();
                gave_up = r.poll_event() == Some(Uas2xxEvent::AckTimeout);
                if r.is_done() {
                    leg.uas_2xx = None;
                }
            }
            if let Some(resp) = resend {
                self.resend_2xx(now, call, kind, resp);
            }
            if gave_up {
                // §13.3.1.4: no ACK for our 2xx within 64*T1: end the session.
                return self.end_call(now, call, None, &[]);
            }
            let leg = call.leg_mut(kind);
            let st_event = leg.st.as_mut().and_then(|(_, t)| {
                t.handle_timeout(now);
                t.poll_event()
            });
            match st_event {
                Some(SessionTimerEvent::Expired) => {
                    // RFC 4028 §10: no refresh in time; the session is over.
                    let reason = "SIP;cause=408;text=\"Session timer expired\"".to_string();
                    return self.end_call(now, call, None, &[reason]);
                }
                Some(SessionTimerEvent::Refresh) => {
                    // A re-INVITE with what we have: same direction, new version.
                    let dir = leg
                        .local_sdp
                        .as_ref()
                        .map_or(sb_sdp::Direction::SendRecv, crate::media::declared);
                    if leg.reoffer.is_none() {
                        leg.reoffer = Some(crate::call::PendingReoffer {
                            direction: dir,
                            not_before: None,
                        });
                    }
                    self.send_reoffer(now, call, kind);
                }
                None => {}
            }
            let leg = call.leg_mut(kind);
            if leg
                .reoffer
                .as_ref()
                .and_then(|r| r.not_before)
                .is_some_and(|t| t <= now)
            {
                if let Some(r) = leg.reoffer.as_mut() {
                    r.not_before = None;
                }
                self.send_reoffer(now, call, kind);
            }
        }
        true
    }

    /// A retransmitted 2xx travels straight to the peer: the INVITE server transaction
    /// that sent the first one may be gone (RFC 6026 keeps it only 64*T1 in Accepted).
    fn resend_2xx(&mut self, now: Instant, call: &Call, kind: LegKind, resp: Response) {
        let _ = now;
        self.transmits.push_back(Transmit {
            to: call.leg(kind).peer,
            message: Message::Response(resp),
        });
    }

    /// Forgets a call: media torn down, ports and the gateway reservation released.
    /// The caller already sent whatever final messages the call needed.
    pub(crate) fn forget(&mut self, call: &mut Call, status: Option<StatusCode>) {
        if let Some(t) = call.transfer.take() {
            if t.leg.port != 0 {
                self.ports.put(t.leg.port);
            }
        }
        if call.session_created {
            self.media.push_back(Command::DestroySession {
                session: call.session,
            });
            call.session_created = false;
        }
        for leg in [&call.a, &call.b] {
            if leg.port != 0 {
                self.ports.put(leg.port);
            }
            self.by_tag.remove(&leg.local_tag);
            if let (Some(gw), true) = (&leg.gateway, leg.reserved) {
                self.monitor.release(gw);
            }
        }
        call.a.port = 0;
        call.b.port = 0;
        call.a.reserved = false;
        call.b.reserved = false;
        self.events.push_back(B2buaEvent::CallEnded {
            call: call.id,
            status,
        });
    }

    /// Ends a call: BYE on every leg with a live dialog (carrying `reason`), or, before
    /// it connected, a final `status` to the A leg's INVITE and a CANCEL to the B leg.
    /// Returns whether the call stays in the table: a cancelled B leg is kept until its
    /// final response, so that a 2xx crossing the CANCEL can be ACKed and hung up.
    pub(crate) fn end_call(
        &mut self,
        now: Instant,
        call: &mut Call,
        status: Option<StatusCode>,
        reason: &[String],
    ) -> bool {
        if call.phase == Phase::Setup {
            let st = status.unwrap_or(StatusCode::SERVER_INTERNAL_ERROR);
            self.final_to_a(now, call, st, reason);
            if let Some(tsx) = call.b_tsx {
                let _ = self
                    .layer
                    .cancel_with_headers(now, tsx, &wire::reason_headers(reason));
                self.start_cancelling(now, call);
                return true;
            }
            self.forget(call, Some(st));
            return false;
        }
        if call.phase == Phase::Cancelling {
            self.forget(call, Some(StatusCode::REQUEST_TERMINATED));
            return false;
        }
        self.abandon_transfer(now, call);
        for kind in [LegKind::A, LegKind::B] {
            let peer = call.leg(kind).peer;
            let confirmed = call
                .leg(kind)
                .dialog
                .as_ref()
                .is_some_and(|d| !d.is_early() && !d.is_terminated());
            if !confirmed {
                continue;
            }
            if let Some(Ok(mut bye)) = call
                .leg_mut(kind)
                .live_dialog()
                .map(|d| d.request(Method::Bye))
            {
                bye.headers.0.extend(wire::reason_headers(reason));
                self.send_on_leg(now, peer, bye, Owner::Fire);
            }
        }
        self.forget(call, None);
        false
    }

    /// The B leg was cancelled: wait for its final response, but no longer than 64*T1
    /// (RFC 3261 §9.1: then the transaction counts as cancelled).
    pub(crate) fn start_cancelling(&mut self, now: Instant, call: &mut Call) {
        call.phase = Phase::Cancelling;
        call.give_up_at = Some(now + self.layer.config().t1_x64());
        if call.session_created {
            self.media.push_back(Command::DestroySession {
                session: call.session,
            });
            call.session_created = false;
        }
    }

    /// A final non-2xx response to the A leg's INVITE.
    pub(crate) fn final_to_a(
        &mut self,
        now: Instant,
        call: &mut Call,
        status: StatusCode,
        reason: &[String],
    ) {
        let mut resp = match call.a.dialog.as_ref() {
            Some(d) => d.response(&call.a_invite, status),
            None => response_for(&call.a_invite, status),
        };
        resp.headers.0.extend(wire::reason_headers(reason));
        if let Some(d) = call.a.dialog.as_mut() {
            let _ = d.record_sent_response(&resp);
        }
        self.respond(now, call.a_tsx, resp);
    }

    /// A fresh local tag, Call-ID and session id.
    pub(crate) fn token(&mut self) -> String {
        self.rng.token()
    }

    pub(crate) fn key_material(&mut self) -> Vec<u8> {
        let mut k = vec![0u8; 46];
        self.keys.fill(&mut k);
        k
    }

    /// A leg's SDES key material: drawn on first use, the same afterwards.
    pub(crate) fn keys_for(&mut self, keys: &mut Vec<u8>) -> Vec<u8> {
        if keys.is_empty() {
            *keys = self.key_material();
        }
        keys.clone()
    }

    pub(crate) fn ice_bytes(&mut self) -> [u8; 24] {
        let mut k = [0u8; 24];
        self.keys.fill(&mut k);
        k
    }

    /// RFC 3261 §14.1: after a 491, the owner of the Call-ID waits 2.1–4 s, the other
    /// side 0–2 s, in units of 10 ms.
    pub(crate) fn glare_delay(&mut self, owner: bool) -> Duration {
        let r = self.rng.next();
        if owner {
            Duration::from_millis(2100 + (r % 191) * 10)
        } else {
            Duration::from_millis((r % 201) * 10)
        }
    }

    pub(crate) fn new_session(&mut self) -> SessionId {
        SessionId(self.alloc_id())
    }
}
