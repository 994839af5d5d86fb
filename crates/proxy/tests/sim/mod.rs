//! A small simulated SIP world for the proxy: a caller, callees and the proxy as sans-IO
//! nodes on an sb-netsim network and virtual clock.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sb_netsim::sip::{node_addr, response_to, sip_uri, via, RequestBuilder};
use sb_netsim::{LinkConfig, Node, NodeId, RunEnd, Sim};
use sb_proxy::{
    Plan, Proxy, ProxyConfig, ProxyEvent, Query, QueryId, RouteDecision, RouteKind, Target,
};
use sb_sip_core::{Peer, TimerConfig, TransactionLayer, TsxEvent, TsxId, Uas2xxRetransmitter};
use sb_sip_msg::{
    CSeq, ContactValue, Header, Message, Method, NameAddr, Request, Response, StatusCode,
    Transport, Uri,
};

pub fn node_of(addr: SocketAddr) -> NodeId {
    match addr.ip() {
        std::net::IpAddr::V4(a) => NodeId(usize::from(a.octets()[3]) - 1),
        std::net::IpAddr::V6(_) => panic!("IPv4 only in this sim"),
    }
}

pub fn peer(n: usize) -> Peer {
    Peer::udp(node_addr(n))
}

/// `sip:user@192.0.2.x:5060`: a contact of node `n`.
pub fn contact_uri(user: &str, n: usize) -> Uri {
    let a = node_addr(n);
    let mut u = sip_uri(user, &a.ip().to_string());
    if let Uri::Sip(s) = &mut u {
        s.port = Some(a.port());
    }
    u
}

pub type Router = Box<dyn FnMut(&Query) -> Option<RouteDecision>>;

pub struct ProxyNode {
    pub proxy: Proxy,
    pub router: Router,
    /// Queries the router declined to answer (held, as a slow store would).
    pub held: Vec<QueryId>,
    pub events: Vec<ProxyEvent>,
    pub queries: Vec<Query>,
}

impl ProxyNode {
    pub fn new(
        n: usize,
        timers: TimerConfig,
        tweak: impl FnOnce(&mut ProxyConfig),
        router: Router,
    ) -> Self {
        let mut cfg = ProxyConfig::udp(node_addr(n));
        cfg.timer_c = Duration::from_secs(181);
        tweak(&mut cfg);
        ProxyNode {
            proxy: Proxy::new(cfg, timers, 77),
            router,
            held: Vec::new(),
            events: Vec::new(),
            queries: Vec::new(),
        }
    }

    fn settle(&mut self, now: Instant) {
        while let Some(q) = self.proxy.poll_query() {
            self.queries.push(q.clone());
            let Query::Route { id, .. } = &q else {
                continue;
            };
            match (self.router)(&q) {
                Some(d) => self.proxy.handle_route_decision(now, *id, d),
                None => self.held.push(*id),
            }
        }
        while let Some(e) = self.proxy.poll_event() {
            self.events.push(e);
        }
    }
}

/// What a callee does with an INVITE.
#[derive(Debug, Clone, Copy)]
pub struct Script {
    pub ring_after: Option<Duration>,
    pub answer: Option<(Duration, u16)>,
    /// Behave like a downstream forking proxy whose fork answered just as our CANCEL
    /// came: after the 487, a 200 with another To tag on the same branch.
    pub fork_200_after_cancel: bool,
}

impl Script {
    pub fn answer(ring_ms: u64, after_ms: u64, code: u16) -> Self {
        Script {
            ring_after: Some(Duration::from_millis(ring_ms)),
            answer: Some((Duration::from_millis(after_ms), code)),
            fork_200_after_cancel: false,
        }
    }
    pub fn ring_forever(ring_ms: u64) -> Self {
        Script {
            ring_after: Some(Duration::from_millis(ring_ms)),
            answer: None,
            fork_200_after_cancel: false,
        }
    }
    pub fn silent() -> Self {
        Script {
            ring_after: None,
            answer: None,
            fork_200_after_cancel: false,
        }
    }
}

#[derive(Debug)]
struct Invite {
    tsx: TsxId,
    req: Request,
    tag: String,
    final_sent: Option<u16>,
}

pub struct Uas {
    pub n: usize,
    layer: TransactionLayer,
    script: Script,
    invites: Vec<Invite>,
    timers: Vec<(Instant, usize, Option<u16>)>,
    retx: Vec<Uas2xxRetransmitter>,
    pub got_invites: Vec<Request>,
    pub got_cancels: Vec<Request>,
    pub got_acks: usize,
    pub got_byes: Vec<Request>,
    pub finals_sent: Vec<u16>,
    pub other_requests: Vec<Request>,
    /// Sent around the transaction layer (the forked 200 after a 487).
    extra: VecDeque<(NodeId, Message)>,
}

impl Uas {
    pub fn new(n: usize, timers: TimerConfig, script: Script) -> Self {
        Uas {
            n,
            layer: TransactionLayer::new(timers, 1000 + n as u64),
            script,
            invites: Vec::new(),
            timers: Vec::new(),
            retx: Vec::new(),
            got_invites: Vec::new(),
            got_cancels: Vec::new(),
            got_acks: 0,
            got_byes: Vec::new(),
            finals_sent: Vec::new(),
            other_requests: Vec::new(),
            extra: VecDeque::new(),
        }
    }

    /// A 200 from "another fork" behind this node: own To tag, sent on the INVITE's
    /// branch after the transaction already answered 487.
    fn fork_200(&mut self, i: usize) {
        let inv = &self.invites[i];
        let mut r = response_to(&inv.req, StatusCode::OK, Some(&format!("fork{}", self.n)));
        for h in inv.req.headers.iter() {
            if matches!(h, Header::RecordRoute(_)) {
                r.headers.push(h.clone());
            }
        }
        r.headers
            .push(Header::Contact(ContactValue::Addr(NameAddr::new(
                contact_uri("ua", self.n),
            ))));
        let via = inv.req.headers.top_via().expect("INVITE has a Via");
        let to = node_of(SocketAddr::new(
            via.host.to_string().parse().expect("IP sent-by"),
            via.port.unwrap_or(5060),
        ));
        self.finals_sent.push(200);
        self.extra.push_back((to, Message::Response(r)));
    }

    fn respond(&mut self, now: Instant, i: usize, code: u16) {
        let inv = &mut self.invites[i];
        if inv.final_sent.is_some() && code >= 200 {
            return;
        }
        let mut r = response_to(&inv.req, StatusCode(code), Some(&inv.tag));
        for h in inv.req.headers.iter() {
            if matches!(h, Header::RecordRoute(_)) {
                r.headers.push(h.clone());
            }
        }
        r.headers
            .push(Header::Contact(ContactValue::Addr(NameAddr::new(
                contact_uri("ua", self.n),
            ))));
        if code >= 200 {
            inv.final_sent = Some(code);
            self.finals_sent.push(code);
        }
        if (200..300).contains(&code) {
            self.retx.push(Uas2xxRetransmitter::new(
                now,
                r.clone(),
                self.layer.config(),
            ));
        }
        let _ = self.layer.send_response(now, inv.tsx, r);
    }

    fn drain(&mut self, now: Instant) {
        while let Some(ev) = self.layer.poll_event() {
            match ev {
                TsxEvent::NewRequest { tsx, req, .. } if req.method == Method::Invite => {
                    self.got_invites.push(req.clone());
                    let i = self.invites.len();
                    self.invites.push(Invite {
                        tsx,
                        req,
                        tag: format!("uas{}-{i}", self.n),
                        final_sent: None,
                    });
                    if let Some(d) = self.script.ring_after {
                        self.timers.push((now + d, i, None));
                    }
                    if let Some((d, code)) = self.script.answer {
                        self.timers.push((now + d, i, Some(code)));
                    }
                }
                TsxEvent::NewRequest { tsx, req, .. } => {
                    if req.method == Method::Bye {
                        self.got_byes.push(req.clone());
                    } else {
                        self.other_requests.push(req.clone());
                    }
                    let r = response_to(&req, StatusCode::OK, Some("x"));
                    let _ = self.layer.send_response(now, tsx, r);
                }
                TsxEvent::Cancel {
                    tsx, target, req, ..
                } => {
                    self.got_cancels.push(req.clone());
                    let code = if target.is_some() { 200 } else { 481 };
                    let r = response_to(&req, StatusCode(code), Some("c"));
                    let _ = self.layer.send_response(now, tsx, r);
                    if let Some(i) = self.invites.iter().position(|v| Some(v.tsx) == target) {
                        let answered = self.invites[i].final_sent.is_some();
                        self.respond(now, i, 487);
                        if self.script.fork_200_after_cancel && !answered {
                            self.fork_200(i);
                        }
                    }
                }
                TsxEvent::Ack2xx { .. } => {
                    self.got_acks += 1;
                    for r in &mut self.retx {
                        r.handle_ack();
                    }
                }
                _ => {}
            }
        }
    }
}

impl Node for Uas {
    type Msg = Message;
    fn handle_input(&mut self, now: Instant, from: NodeId, msg: Message) {
        let p = peer(from.0);
        match msg {
            Message::Request(r) => self.layer.handle_request(now, r, p),
            Message::Response(r) => self.layer.handle_response(now, r, p),
        }
        self.drain(now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        self.drain(now);
        let due: Vec<(usize, Option<u16>)> = self
            .timers
            .iter()
            .filter(|(t, _, _)| *t <= now)
            .map(|(_, i, c)| (*i, *c))
            .collect();
        self.timers.retain(|(t, _, _)| *t > now);
        for (i, code) in due {
            self.respond(now, i, code.unwrap_or(180));
        }
        for k in 0..self.retx.len() {
            self.retx[k].handle_timeout(now);
            if let Some(r) = self.retx[k].poll_transmit() {
                let tsx = self
                    .invites
                    .iter()
                    .find(|v| v.final_sent.is_some_and(|c| c < 300))
                    .map(|v| v.tsx);
                if let Some(tsx) = tsx {
                    let _ = self.layer.send_response(now, tsx, r);
                }
            }
        }
        self.drain(now);
    }
    fn poll_transmit(&mut self) -> Option<(NodeId, Message)> {
        self.layer
            .poll_transmit()
            .map(|t| (node_of(t.to.addr), t.message))
            .or_else(|| self.extra.pop_front())
    }
    fn poll_timeout(&self) -> Option<Instant> {
        let own = self.timers.iter().map(|(t, _, _)| *t).min();
        let retx = self.retx.iter().filter_map(|r| r.poll_timeout()).min();
        [own, retx, self.layer.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }
}

/// The caller: sends one INVITE to the proxy, ACKs every 2xx, may CANCEL or BYE.
pub struct Uac {
    pub n: usize,
    layer: TransactionLayer,
    proxy: usize,
    pub invite: Request,
    invite_tsx: Option<TsxId>,
    pub cancel_at: Option<Instant>,
    pub bye_after: Option<Duration>,
    bye_at: Option<(Instant, Response)>,
    pub provisionals: Vec<Response>,
    pub finals: Vec<Response>,
    pub bye_final: Option<u16>,
    acks: u32,
    extra: VecDeque<(NodeId, Message)>,
    /// Every final response to the INVITE as it arrived on the wire, retransmissions too.
    pub wire_finals: Vec<u16>,
}

impl Uac {
    pub fn new(n: usize, proxy: usize, timers: TimerConfig, call_id: &str) -> Self {
        let a = node_addr(n);
        let invite = RequestBuilder::new(Method::Invite, "bob", "example.com")
            .via(via(Transport::Udp, &a.ip().to_string(), a.port(), None))
            .from("alice", "example.com", "alice-tag")
            .to("bob", "example.com", None)
            .call_id(call_id)
            .header(Header::Contact(ContactValue::Addr(NameAddr::new(
                contact_uri("alice", n),
            ))))
            .cseq(1)
            .build();
        Uac {
            n,
            layer: TransactionLayer::new(timers, 500 + n as u64),
            proxy,
            invite,
            invite_tsx: None,
            cancel_at: None,
            bye_after: None,
            bye_at: None,
            provisionals: Vec::new(),
            finals: Vec::new(),
            bye_final: None,
            acks: 0,
            extra: VecDeque::new(),
            wire_finals: Vec::new(),
        }
    }

    pub fn start(&mut self, now: Instant) {
        let tsx = self
            .layer
            .send_request(now, self.invite.clone(), peer(self.proxy))
            .expect("valid INVITE");
        self.invite_tsx = Some(tsx);
    }

    /// The final statuses seen, first of each To tag.
    pub fn final_codes(&self) -> Vec<u16> {
        self.finals.iter().map(|r| r.status.0).collect()
    }

    fn in_dialog(&self, method: Method, resp: &Response, seq: u32) -> Request {
        let a = node_addr(self.n);
        let target = resp
            .headers
            .contacts()
            .find_map(|c| match c {
                ContactValue::Addr(a) => Some(a.uri.clone()),
                ContactValue::Star => None,
            })
            .expect("2xx has a Contact");
        let mut req = Request::new(method.clone(), target);
        req.headers.push(Header::Via(via(
            Transport::Udp,
            &a.ip().to_string(),
            a.port(),
            None,
        )));
        let rr: Vec<NameAddr> = resp.headers.record_routes().cloned().collect();
        for r in rr.into_iter().rev() {
            req.headers.push(Header::Route(r));
        }
        req.headers.push(Header::MaxForwards(70));
        for h in resp.headers.iter() {
            if matches!(h, Header::From(_) | Header::To(_) | Header::CallId(_)) {
                req.headers.push(h.clone());
            }
        }
        req.headers.push(Header::CSeq(CSeq { seq, method }));
        req
    }

    fn next_hop(&self, req: &Request) -> Peer {
        let uri = req.headers.routes().next().map_or(&req.uri, |r| &r.uri);
        let u = uri.as_sip().expect("sip uri");
        let ip: std::net::IpAddr = u.host.to_string().parse().expect("IP host");
        Peer::udp(SocketAddr::new(ip, u.port.unwrap_or(5060)))
    }

    fn drain(&mut self, now: Instant) {
        while let Some(ev) = self.layer.poll_event() {
            let resp = match ev {
                TsxEvent::Response { resp, .. } => resp,
                TsxEvent::StrayResponse { resp, .. } => resp,
                TsxEvent::Timeout { .. } => {
                    let mut r = Response::new(StatusCode::REQUEST_TIMEOUT);
                    r.headers.push(Header::CSeq(CSeq {
                        seq: 1,
                        method: Method::Invite,
                    }));
                    r
                }
                _ => continue,
            };
            let Some(cseq) = resp.headers.cseq().cloned() else {
                continue;
            };
            match cseq.method {
                Method::Invite if resp.status.is_provisional() => self.provisionals.push(resp),
                Method::Invite => {
                    let tag = resp.headers.to().and_then(|t| t.tag()).map(str::to_string);
                    let seen = self.finals.iter().any(|f| {
                        f.headers.to().and_then(|t| t.tag()).map(str::to_string) == tag
                            && f.status == resp.status
                    });
                    if resp.status.is_success() {
                        // §13.2.2.4: ACK every 2xx, retransmissions included.
                        let ack = self.in_dialog(Method::Ack, &resp, 1);
                        let to = self.next_hop(&ack);
                        let mut ack = ack;
                        if let Some(v) = ack.headers.top_via_mut() {
                            v.params
                                .set("branch", Some(&format!("z9hG4bKack{}", self.acks)));
                        }
                        self.acks += 1;
                        self.layer_transmit(to, Message::Request(ack));
                        if !seen && self.bye_at.is_none() {
                            if let Some(d) = self.bye_after {
                                self.bye_at = Some((now + d, resp.clone()));
                            }
                        }
                    }
                    if !seen {
                        self.finals.push(resp);
                    }
                }
                Method::Bye if resp.status.is_final() => {
                    self.bye_final = Some(resp.status.0);
                }
                _ => {}
            }
        }
    }

    fn layer_transmit(&mut self, to: Peer, m: Message) {
        self.extra.push_back((node_of(to.addr), m));
    }
}

impl Node for Uac {
    type Msg = Message;
    fn handle_input(&mut self, now: Instant, from: NodeId, msg: Message) {
        if let Message::Response(r) = &msg {
            if r.headers.cseq().is_some_and(|c| c.method == Method::Invite) && r.status.is_final() {
                self.wire_finals.push(r.status.0);
            }
        }
        let p = peer(from.0);
        match msg {
            Message::Request(r) => self.layer.handle_request(now, r, p),
            Message::Response(r) => self.layer.handle_response(now, r, p),
        }
        self.drain(now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        if self.cancel_at.is_some_and(|t| t <= now) {
            self.cancel_at = None;
            if let Some(tsx) = self.invite_tsx {
                let _ = self.layer.cancel(now, tsx);
            }
        }
        if self.bye_at.as_ref().is_some_and(|(t, _)| *t <= now) {
            let (_, resp) = self.bye_at.take().expect("checked");
            let bye = self.in_dialog(Method::Bye, &resp, 2);
            let to = self.next_hop(&bye);
            let _ = self.layer.send_request(now, bye, to);
            self.bye_after = None;
        }
        self.layer.handle_timeout(now);
        self.drain(now);
    }
    fn poll_transmit(&mut self) -> Option<(NodeId, Message)> {
        self.extra.pop_front().or_else(|| {
            self.layer
                .poll_transmit()
                .map(|t| (node_of(t.to.addr), t.message))
        })
    }
    fn poll_timeout(&self) -> Option<Instant> {
        let own = [self.cancel_at, self.bye_at.as_ref().map(|(t, _)| *t)];
        own.into_iter()
            .flatten()
            .chain(self.layer.poll_timeout())
            .min()
    }
}

pub enum SimNode {
    Proxy(Box<ProxyNode>),
    Uac(Box<Uac>),
    Uas(Box<Uas>),
}

impl SimNode {
    pub fn proxy(&self) -> &ProxyNode {
        match self {
            SimNode::Proxy(p) => p,
            _ => panic!("not the proxy"),
        }
    }
    pub fn proxy_mut(&mut self) -> &mut ProxyNode {
        match self {
            SimNode::Proxy(p) => p,
            _ => panic!("not the proxy"),
        }
    }
    pub fn uac(&self) -> &Uac {
        match self {
            SimNode::Uac(u) => u,
            _ => panic!("not the caller"),
        }
    }
    pub fn uac_mut(&mut self) -> &mut Uac {
        match self {
            SimNode::Uac(u) => u,
            _ => panic!("not the caller"),
        }
    }
    pub fn uas(&self) -> &Uas {
        match self {
            SimNode::Uas(u) => u,
            _ => panic!("not a callee"),
        }
    }
}

impl Node for SimNode {
    type Msg = Message;
    fn handle_input(&mut self, now: Instant, from: NodeId, msg: Message) {
        match self {
            SimNode::Proxy(p) => {
                p.proxy.handle_message(now, msg, peer(from.0));
                p.settle(now);
            }
            SimNode::Uac(u) => u.handle_input(now, from, msg),
            SimNode::Uas(u) => u.handle_input(now, from, msg),
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            SimNode::Proxy(p) => {
                p.proxy.handle_timeout(now);
                p.settle(now);
            }
            SimNode::Uac(u) => u.handle_timeout(now),
            SimNode::Uas(u) => u.handle_timeout(now),
        }
    }
    fn poll_transmit(&mut self) -> Option<(NodeId, Message)> {
        match self {
            SimNode::Proxy(p) => p
                .proxy
                .poll_transmit()
                .map(|t| (node_of(t.to.addr), t.message)),
            SimNode::Uac(u) => u.poll_transmit(),
            SimNode::Uas(u) => u.poll_transmit(),
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            SimNode::Proxy(p) => p.proxy.poll_timeout(),
            SimNode::Uac(u) => u.poll_timeout(),
            SimNode::Uas(u) => u.poll_timeout(),
        }
    }
}

// ---- the world the tests build -------------------------------------------------------

pub const PROXY: usize = 0;
pub const CALLER: usize = 1;

pub fn target(n: usize) -> Target {
    Target::new(contact_uri("bob", n), peer(n))
}

pub fn world(
    seed: u64,
    link: LinkConfig,
    scripts: &[Script],
    tweak: impl FnOnce(&mut ProxyConfig),
    mut plan: impl FnMut(&Query) -> Option<RouteDecision> + 'static,
) -> Sim<SimNode> {
    let timers = TimerConfig::default();
    let mut nodes = vec![
        SimNode::Proxy(Box::new(ProxyNode::new(
            PROXY,
            timers,
            tweak,
            Box::new(move |q| plan(q)),
        ))),
        SimNode::Uac(Box::new(Uac::new(
            CALLER,
            PROXY,
            timers,
            &format!("call-{seed}"),
        ))),
    ];
    for (i, s) in scripts.iter().enumerate() {
        nodes.push(SimNode::Uas(Box::new(Uas::new(i + 2, timers, *s))));
    }
    let mut sim = Sim::new(seed, nodes, link);
    let now = sim.now();
    sim.nodes[CALLER].uac_mut().start(now);
    sim
}

pub fn fast() -> LinkConfig {
    LinkConfig::fixed(Duration::from_millis(10))
}

/// Routes every initial request to a parallel fork over `callees`.
pub fn fork_to(callees: Vec<usize>) -> impl FnMut(&Query) -> Option<RouteDecision> {
    move |q| match q {
        Query::Route {
            kind: RouteKind::Initial,
            ..
        } => Some(RouteDecision::Forward(Plan::parallel(
            callees.iter().map(|n| target(*n)).collect(),
        ))),
        _ => None,
    }
}

pub fn reason(req: &Request) -> String {
    req.headers.other("Reason").collect::<Vec<_>>().join(" | ")
}

pub fn run_quiet(sim: &mut Sim<SimNode>) {
    let end = sim.run(Duration::from_secs(900), 200_000);
    assert_eq!(end, RunEnd::Quiet, "seed {}", sim.seed());
}
