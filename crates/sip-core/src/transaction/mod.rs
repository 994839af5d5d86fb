//! The transaction layer: every client and server transaction of one shard (RFC 3261 §17,
//! RFC 6026), behind one sans-IO object.
//!
//! # Driving it
//!
//! Inputs take the current time: [`TransactionLayer::handle_request`] and
//! [`TransactionLayer::handle_response`] for what the transport received,
//! [`TransactionLayer::handle_timeout`] when [`TransactionLayer::poll_timeout`] is reached,
//! [`TransactionLayer::handle_transport_error`] when a send failed. Commands come from the
//! TU: [`TransactionLayer::send_request`], [`TransactionLayer::send_response`],
//! [`TransactionLayer::cancel`]. After every input or command the caller drains
//! [`TransactionLayer::poll_transmit`] and [`TransactionLayer::poll_event`] until `None`,
//! then sleeps until [`TransactionLayer::poll_timeout`].
//!
//! # Matching
//!
//! Server transactions are found by top-Via branch, sent-by and method (§17.2.3), with
//! ACK looked up as INVITE; requests from RFC 2543 peers (no magic cookie) fall back to
//! Request-URI, From tag, Call-ID, CSeq number and top Via. Client transactions are found
//! by branch and CSeq method (§17.1.3). Both are hash lookups.
//!
//! # Pitfalls handled here
//!
//! * The ACK for a 2xx has a new branch and matches nothing: it goes to the TU as
//!   [`TsxEvent::Ack2xx`] (§17.2.3, §13.3.1.4). An ACK for a non-2xx matches and is
//!   absorbed.
//! * CANCEL is its own server transaction; the layer tells the TU which INVITE it targets
//!   (§9.2) instead of answering the INVITE itself, because only the TU knows whether it
//!   already sent a final response.
//! * A forked INVITE can draw several 2xx; RFC 6026 Accepted states keep them flowing to
//!   the TU instead of being dropped as strays.

mod event;
mod invite_client;
mod invite_server;
mod key;
mod non_invite_client;
mod non_invite_server;
pub mod timer;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

use sb_sip_msg::header::BRANCH_MAGIC;
use sb_sip_msg::{CSeq, Header, Method, Request, Response};

pub use event::{response_for, Transmit, TsxEvent, TsxId};
pub use invite_client::InviteClientState;
pub use invite_server::InviteServerState;
pub use non_invite_client::NonInviteClientState;
pub use non_invite_server::NonInviteServerState;
pub use timer::{Timer, TimerConfig};

use crate::error::TsxError;
use crate::peer::{ConnId, Peer};
use event::Out;
use invite_client::InviteClient;
use invite_server::InviteServer;
use key::{ClientKey, ServerKey};
use non_invite_client::NonInviteClient;
use non_invite_server::NonInviteServer;

/// The state of one live transaction, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsxState {
    InviteClient(InviteClientState),
    NonInviteClient(NonInviteClientState),
    InviteServer(InviteServerState),
    NonInviteServer(NonInviteServerState),
}

/// Counters of peer input the layer dropped instead of failing on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests or responses without a top Via, CSeq or (for the RFC 2543 fallback) From
    /// and Call-ID, or with a CSeq method that differs from the request method.
    pub malformed: u64,
}

#[derive(Debug)]
enum Tsx {
    InviteClient(InviteClient),
    NonInviteClient(NonInviteClient),
    InviteServer(InviteServer),
    NonInviteServer(NonInviteServer),
}

impl Tsx {
    fn is_terminated(&self) -> bool {
        match self {
            Tsx::InviteClient(t) => t.is_terminated(),
            Tsx::NonInviteClient(t) => t.is_terminated(),
            Tsx::InviteServer(t) => t.is_terminated(),
            Tsx::NonInviteServer(t) => t.is_terminated(),
        }
    }

    fn next_timeout(&self) -> Option<Instant> {
        match self {
            Tsx::InviteClient(t) => t.next_timeout(),
            Tsx::NonInviteClient(t) => t.next_timeout(),
            Tsx::InviteServer(t) => t.next_timeout(),
            Tsx::NonInviteServer(t) => t.next_timeout(),
        }
    }

    fn peer(&self) -> Peer {
        match self {
            Tsx::InviteClient(t) => t.peer(),
            Tsx::NonInviteClient(t) => t.peer(),
            Tsx::InviteServer(t) => t.peer(),
            Tsx::NonInviteServer(t) => t.peer(),
        }
    }

    fn request(&self) -> &Request {
        match self {
            Tsx::InviteClient(t) => t.request(),
            Tsx::NonInviteClient(t) => t.request(),
            Tsx::InviteServer(t) => t.request(),
            Tsx::NonInviteServer(t) => t.request(),
        }
    }

    fn state(&self) -> TsxState {
        match self {
            Tsx::InviteClient(t) => TsxState::InviteClient(t.state()),
            Tsx::NonInviteClient(t) => TsxState::NonInviteClient(t.state()),
            Tsx::InviteServer(t) => TsxState::InviteServer(t.state()),
            Tsx::NonInviteServer(t) => TsxState::NonInviteServer(t.state()),
        }
    }
}

#[derive(Debug, Clone)]
enum IndexKey {
    Client(ClientKey),
    Server(ServerKey),
}

#[derive(Debug)]
struct Entry {
    tsx: Tsx,
    key: IndexKey,
    /// The deadline last pushed on the wake-up heap for this transaction.
    scheduled: Option<Instant>,
}

/// All transactions of one shard. See the [module docs](self) for the run loop.
#[derive(Debug)]
pub struct TransactionLayer {
    cfg: TimerConfig,
    rng: u64,
    next_id: u64,
    tsxs: HashMap<TsxId, Entry>,
    /// Keyed by peer-chosen strings (branch, Call-ID), so the default SipHash stays: a
    /// faster unkeyed hash would let a peer aim collisions at one bucket.
    server_index: HashMap<ServerKey, TsxId>,
    client_index: HashMap<ClientKey, TsxId>,
    /// Deadlines by transaction. Entries go stale when a transaction's timers change; a
    /// stale entry only causes a harmless early wake-up, which beats an O(n) scan.
    wakeups: BinaryHeap<Reverse<(Instant, TsxId)>>,
    /// INVITE client transaction -> its CANCEL, held until a provisional response (§9.1).
    held_cancels: HashMap<TsxId, TsxId>,
    out: Out,
    stats: Stats,
}

impl TransactionLayer {
    /// `seed` drives branch generation, so simulations are reproducible; a deployment
    /// seeds it from the OS at start-up.
    pub fn new(config: TimerConfig, seed: u64) -> Self {
        TransactionLayer {
            cfg: config,
            rng: seed,
            next_id: 1,
            tsxs: HashMap::new(),
            server_index: HashMap::new(),
            client_index: HashMap::new(),
            wakeups: BinaryHeap::new(),
            held_cancels: HashMap::new(),
            out: Out::default(),
            stats: Stats::default(),
        }
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.tsxs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tsxs.is_empty()
    }

    pub fn config(&self) -> &TimerConfig {
        &self.cfg
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    pub fn state(&self, tsx: TsxId) -> Option<TsxState> {
        self.tsxs.get(&tsx).map(|e| e.tsx.state())
    }

    /// The request that created the transaction.
    pub fn request(&self, tsx: TsxId) -> Option<&Request> {
        self.tsxs.get(&tsx).map(|e| e.tsx.request())
    }

    pub fn peer(&self, tsx: TsxId) -> Option<Peer> {
        self.tsxs.get(&tsx).map(|e| e.tsx.peer())
    }

    /// A request from the transport. Malformed requests (no Via, no CSeq, CSeq method
    /// different from the method) are dropped and counted: answering them with 400 is the
    /// stateless job of the layer below (`sb_sip_msg::validate`).
    pub fn handle_request(&mut self, now: Instant, req: Request, from: Peer) {
        let Some(cseq) = req.headers.cseq() else {
            self.stats.malformed += 1;
            return;
        };
        if cseq.method != req.method {
            self.stats.malformed += 1;
            return;
        }
        let Some(key) = ServerKey::of_request(&req, false) else {
            self.stats.malformed += 1;
            return;
        };
        let found = self.server_index.get(&key).copied();

        if req.method == Method::Ack {
            let target = found.filter(|id| self.ack_matches(*id, &key, &req));
            match target {
                Some(id) => {
                    if let Some(Entry {
                        tsx: Tsx::InviteServer(t),
                        ..
                    }) = self.tsxs.get_mut(&id)
                    {
                        t.on_ack(now, req, from, &self.cfg, &mut self.out);
                    }
                    self.settle(id);
                }
                None => self.out.event(TsxEvent::Ack2xx {
                    tsx: None,
                    req,
                    from,
                }),
            }
            return;
        }

        if let Some(id) = found {
            match self.tsxs.get_mut(&id).map(|e| &mut e.tsx) {
                Some(Tsx::InviteServer(t)) => t.on_request(&mut self.out),
                Some(Tsx::NonInviteServer(t)) => t.on_request(&mut self.out),
                _ => {}
            }
            self.settle(id);
            return;
        }

        let id = self.alloc_id();
        let tsx = match req.method {
            Method::Invite => {
                self.out.event(TsxEvent::NewRequest {
                    tsx: id,
                    req: req.clone(),
                    from,
                });
                Tsx::InviteServer(InviteServer::new(id, now, req, from, &self.cfg))
            }
            Method::Cancel => {
                // §9.2: the CANCEL targets the INVITE server transaction the same request
                // would match if it were an INVITE.
                let target = ServerKey::of_request(&req, true)
                    .and_then(|k| self.server_index.get(&k).copied())
                    .filter(|t| {
                        matches!(
                            self.tsxs.get(t),
                            Some(Entry {
                                tsx: Tsx::InviteServer(_),
                                ..
                            })
                        )
                    });
                self.out.event(TsxEvent::Cancel {
                    tsx: id,
                    target,
                    req: req.clone(),
                    from,
                });
                Tsx::NonInviteServer(NonInviteServer::new(id, req, from))
            }
            _ => {
                self.out.event(TsxEvent::NewRequest {
                    tsx: id,
                    req: req.clone(),
                    from,
                });
                Tsx::NonInviteServer(NonInviteServer::new(id, req, from))
            }
        };
        self.server_index.insert(key.clone(), id);
        self.tsxs.insert(
            id,
            Entry {
                tsx,
                key: IndexKey::Server(key),
                scheduled: None,
            },
        );
        self.settle(id);
    }

    /// The RFC 2543 ACK also has to carry the To tag of our response (§17.2.3).
    fn ack_matches(&self, id: TsxId, key: &ServerKey, ack: &Request) -> bool {
        let Some(Entry {
            tsx: Tsx::InviteServer(t),
            ..
        }) = self.tsxs.get(&id)
        else {
            return false;
        };
        if !key.is_rfc2543() {
            return true;
        }
        let ack_tag = ack.headers.to().and_then(|t| t.tag());
        ack_tag == t.response_to_tag()
    }

    /// A response from the transport.
    pub fn handle_response(&mut self, now: Instant, resp: Response, from: Peer) {
        let Some(key) = ClientKey::of_response(&resp) else {
            self.stats.malformed += 1;
            return;
        };
        let Some(id) = self.client_index.get(&key).copied() else {
            self.out.event(TsxEvent::StrayResponse { resp, from });
            return;
        };
        match self.tsxs.get_mut(&id).map(|e| &mut e.tsx) {
            Some(Tsx::InviteClient(t))
                if resp.status.is_success() && t.state() == InviteClientState::Completed =>
            {
                // A 2xx after a non-2xx final: a downstream forking proxy sent the 487 for
                // our CANCEL and then a fork's 200 that crossed it. The transaction is done
                // with it, but the dialog it creates is not: a UA drops it as a stray, a
                // proxy forwards it upstream (RFC 3261 §16.7 step 5, RFC 6026 §8.4).
                self.out.event(TsxEvent::StrayResponse { resp, from });
            }
            Some(Tsx::InviteClient(t)) => {
                t.on_response(now, resp, &self.cfg, &mut self.out);
                self.release_cancel(now, id);
            }
            Some(Tsx::NonInviteClient(t)) => t.on_response(now, resp, &self.cfg, &mut self.out),
            _ => {}
        }
        self.settle(id);
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, id))) = self.wakeups.peek().copied() {
            if at > now {
                break;
            }
            self.wakeups.pop();
            let Some(entry) = self.tsxs.get_mut(&id) else {
                continue;
            };
            if entry.scheduled == Some(at) {
                entry.scheduled = None;
            }
            match &mut entry.tsx {
                Tsx::InviteClient(t) => t.on_timeout(now, &mut self.out),
                Tsx::NonInviteClient(t) => t.on_timeout(now, &self.cfg, &mut self.out),
                Tsx::InviteServer(t) => t.on_timeout(now, &self.cfg, &mut self.out),
                Tsx::NonInviteServer(t) => t.on_timeout(now),
            }
            if matches!(entry.tsx, Tsx::InviteClient(_)) {
                self.release_cancel(now, id);
            }
            self.settle(id);
        }
    }

    /// The transport failed to send for this transaction: it fails (§17.1.1.2, §17.1.2.2,
    /// §17.2.4) and the TU gets [`TsxEvent::TransportError`] then `Terminated`. Trying the
    /// next RFC 3263 target is the TU's decision, with a new transaction.
    pub fn handle_transport_error(&mut self, now: Instant, tsx: TsxId) {
        let Some(entry) = self.tsxs.get_mut(&tsx) else {
            return;
        };
        match &mut entry.tsx {
            Tsx::InviteClient(t) => t.on_transport_error(&mut self.out),
            Tsx::NonInviteClient(t) => t.on_transport_error(&mut self.out),
            Tsx::InviteServer(t) => t.on_transport_error(&mut self.out),
            Tsx::NonInviteServer(t) => t.on_transport_error(&mut self.out),
        }
        if matches!(entry.tsx, Tsx::InviteClient(_)) {
            self.release_cancel(now, tsx);
        }
        self.settle(tsx);
    }

    /// A stream connection closed: every transaction bound to it fails as in
    /// [`TransactionLayer::handle_transport_error`]. O(n); connections close rarely.
    pub fn handle_connection_lost(&mut self, now: Instant, conn: ConnId) {
        let mut ids: Vec<TsxId> = self
            .tsxs
            .iter()
            .filter(|(_, e)| e.tsx.peer().conn == Some(conn))
            .map(|(id, _)| *id)
            .collect();
        ids.sort();
        for id in ids {
            self.handle_transport_error(now, id);
        }
    }

    /// Starts a client transaction. A top Via without an RFC 3261 branch gets a fresh one
    /// (§8.1.1.7); the TU supplies the Via itself because only it knows its sent-by.
    pub fn send_request(
        &mut self,
        now: Instant,
        mut req: Request,
        to: Peer,
    ) -> Result<TsxId, TsxError> {
        if req.method == Method::Ack {
            return Err(TsxError::AckIsNotATransaction);
        }
        let cseq = req.headers.cseq().ok_or(TsxError::MissingCSeq)?;
        if cseq.method != req.method {
            return Err(TsxError::CSeqMismatch);
        }
        let needs_branch = !req
            .headers
            .top_via()
            .ok_or(TsxError::MissingVia)?
            .has_rfc3261_branch();
        if needs_branch {
            let branch = self.new_branch();
            if let Some(via) = req.headers.top_via_mut() {
                via.params.set("branch", Some(&branch));
            }
        }
        let key = ClientKey {
            branch: req
                .headers
                .top_via()
                .and_then(|v| v.branch())
                .unwrap_or_default()
                .into(),
            method: req.method.clone(),
        };
        if self.client_index.contains_key(&key) {
            return Err(TsxError::DuplicateBranch(key.branch.to_string()));
        }
        let id = self.alloc_id();
        let tsx = if req.method == Method::Invite {
            Tsx::InviteClient(InviteClient::start(
                id,
                now,
                req,
                to,
                &self.cfg,
                &mut self.out,
            ))
        } else {
            let mut t = NonInviteClient::held(id, req, to, &self.cfg);
            t.start(now, &self.cfg, &mut self.out);
            Tsx::NonInviteClient(t)
        };
        self.client_index.insert(key.clone(), id);
        self.tsxs.insert(
            id,
            Entry {
                tsx,
                key: IndexKey::Client(key),
                scheduled: None,
            },
        );
        self.settle(id);
        Ok(id)
    }

    /// Sends a response through a server transaction. The TU builds it (see
    /// [`response_for`]); the transaction decides retransmissions and its own lifetime.
    pub fn send_response(
        &mut self,
        now: Instant,
        tsx: TsxId,
        resp: Response,
    ) -> Result<(), TsxError> {
        let entry = self
            .tsxs
            .get_mut(&tsx)
            .ok_or(TsxError::NoSuchTransaction(tsx))?;
        let r = match &mut entry.tsx {
            Tsx::InviteServer(t) => t.send_response(now, resp, &self.cfg, &mut self.out),
            Tsx::NonInviteServer(t) => t.send_response(now, resp, &self.cfg, &mut self.out),
            _ => Err(TsxError::NotServer(tsx)),
        };
        self.settle(tsx);
        r
    }

    /// Cancels a pending INVITE client transaction (§9.1): builds the CANCEL (same
    /// Request-URI, Call-ID, From, To, CSeq number, the INVITE's top Via and Route set) and
    /// runs it as a non-INVITE client transaction. Before any provisional response the
    /// CANCEL is held and sent when one arrives; it is dropped if a final response comes
    /// first. Returns the CANCEL's transaction.
    pub fn cancel(&mut self, now: Instant, invite: TsxId) -> Result<TsxId, TsxError> {
        self.cancel_with_headers(now, invite, &[])
    }

    /// [`TransactionLayer::cancel`] with extra headers on the CANCEL, such as the RFC 3326
    /// `Reason` a forking proxy adds when another branch answered.
    pub fn cancel_with_headers(
        &mut self,
        now: Instant,
        invite: TsxId,
        extra: &[Header],
    ) -> Result<TsxId, TsxError> {
        let entry = self
            .tsxs
            .get(&invite)
            .ok_or(TsxError::NoSuchTransaction(invite))?;
        let Tsx::InviteClient(ic) = &entry.tsx else {
            return Err(TsxError::NotInviteClient(invite));
        };
        let state = ic.state();
        if !matches!(
            state,
            InviteClientState::Calling | InviteClientState::Proceeding
        ) || self.held_cancels.contains_key(&invite)
        {
            return Err(TsxError::NothingToCancel(invite));
        }
        let mut req = build_cancel(ic.request());
        req.headers.0.extend_from_slice(extra);
        let peer = ic.peer();
        let key = ClientKey {
            branch: req
                .headers
                .top_via()
                .and_then(|v| v.branch())
                .unwrap_or_default()
                .into(),
            method: Method::Cancel,
        };
        if self.client_index.contains_key(&key) {
            return Err(TsxError::NothingToCancel(invite));
        }
        let id = self.alloc_id();
        let mut t = NonInviteClient::held(id, req, peer, &self.cfg);
        if state == InviteClientState::Proceeding {
            t.start(now, &self.cfg, &mut self.out);
        } else {
            self.held_cancels.insert(invite, id);
        }
        self.client_index.insert(key.clone(), id);
        self.tsxs.insert(
            id,
            Entry {
                tsx: Tsx::NonInviteClient(t),
                key: IndexKey::Client(key),
                scheduled: None,
            },
        );
        self.settle(id);
        Ok(id)
    }

    /// Next message for the transport.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    /// Next event for the TU.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<TsxEvent> {
        self.out.events.pop_front()
    }

    /// When to call [`TransactionLayer::handle_timeout`] next. May be earlier than any
    /// live timer (a stale deadline); waking early is harmless.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.wakeups.peek().map(|Reverse((at, _))| *at)
    }

    /// After an INVITE client transaction moved: send a held CANCEL once it is
    /// Proceeding, drop it once the INVITE is past the point where CANCEL means anything.
    fn release_cancel(&mut self, now: Instant, invite: TsxId) {
        let Some(cancel) = self.held_cancels.get(&invite).copied() else {
            return;
        };
        let state = match self.tsxs.get(&invite).map(|e| &e.tsx) {
            Some(Tsx::InviteClient(t)) => t.state(),
            _ => InviteClientState::Terminated,
        };
        if state == InviteClientState::Calling {
            return;
        }
        self.held_cancels.remove(&invite);
        if let Some(Entry {
            tsx: Tsx::NonInviteClient(c),
            ..
        }) = self.tsxs.get_mut(&cancel)
        {
            if state == InviteClientState::Proceeding {
                c.start(now, &self.cfg, &mut self.out);
            } else {
                c.abandon();
            }
        }
        self.settle(cancel);
    }

    /// Removes a terminated transaction, or (re)schedules its next wake-up.
    fn settle(&mut self, id: TsxId) {
        let Some(entry) = self.tsxs.get_mut(&id) else {
            return;
        };
        if entry.tsx.is_terminated() {
            let entry = self.tsxs.remove(&id).expect("entry was just found");
            match entry.key {
                IndexKey::Client(k) => {
                    if self.client_index.get(&k) == Some(&id) {
                        self.client_index.remove(&k);
                    }
                }
                IndexKey::Server(k) => {
                    if self.server_index.get(&k) == Some(&id) {
                        self.server_index.remove(&k);
                    }
                }
            }
            self.held_cancels.remove(&id);
            self.out.event(TsxEvent::Terminated { tsx: id });
            return;
        }
        let next = entry.tsx.next_timeout();
        if let Some(at) = next {
            if !matches!(entry.scheduled, Some(s) if s <= at) {
                entry.scheduled = Some(at);
                self.wakeups.push(Reverse((at, id)));
            }
        }
    }

    fn alloc_id(&mut self) -> TsxId {
        let id = TsxId(self.next_id);
        self.next_id += 1;
        id
    }

    /// splitmix64: unique enough for branches within a seed, reproducible across runs.
    fn new_branch(&mut self) -> String {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        format!("{BRANCH_MAGIC}{z:016x}")
    }
}

/// The CANCEL for an INVITE (§9.1).
fn build_cancel(invite: &Request) -> Request {
    let mut c = Request::new(Method::Cancel, invite.uri.clone());
    if let Some(via) = invite.headers.top_via() {
        c.headers.push(Header::Via(via.clone()));
    }
    for h in invite.headers.iter() {
        match h {
            Header::MaxForwards(_) | Header::From(_) | Header::To(_) | Header::CallId(_) => {
                c.headers.push(h.clone())
            }
            Header::Route(_) => c.headers.push(h.clone()),
            _ => {}
        }
    }
    if let Some(cseq) = invite.headers.cseq() {
        c.headers.push(Header::CSeq(CSeq {
            seq: cseq.seq,
            method: Method::Cancel,
        }));
    }
    c
}
