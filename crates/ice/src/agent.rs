//! RFC 8445 full ICE agent for one media stream, with one component (rtcp-mux) or two
//! (RTP and RTCP), plus consent freshness (RFC 7675).
//!
//! The agent owns the check list (§6.1.2), paces new checks every Ta (§6.1.4.2),
//! retransmits them (§14.3), answers checks from the peer (§7.3), learns peer-reflexive
//! candidates from them (§7.3.1.3), queues triggered checks (§7.3.1.4), resolves role
//! conflicts (§7.2.5.1, §7.3.1.1), nominates (regular nomination, §8.1.1) or follows the
//! peer's nomination, and keeps consent for each component's selected pair. It never reads a clock and
//! never touches a socket: see the crate docs for the drive loop.

use crate::candidate::{
    host_candidates, host_candidates_for, Credentials, LocalCandidate, RemoteCandidate,
};
use crate::check::{Check, Pair, PairState};
use crate::stun::{classify, Class, Message, Method, PacketKind, TransactionId};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

mod checklist;
mod inbound;

/// Which agent decides the nomination (RFC 8445 §6.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IceRole {
    Controlling,
    Controlled,
}

/// Timers and role. The defaults follow the RFCs; tests shrink nothing, since the clock is
/// virtual anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IceConfig {
    /// The answerer is normally controlled (§6.1.1); forced to controlling when the peer
    /// is ICE lite.
    pub role: IceRole,
    /// Pacing of new checks (§14.2: 50 ms by default).
    pub ta: Duration,
    /// Floor of the check retransmission timeout (§14.3: 500 ms).
    pub rto: Duration,
    /// Cap on the doubled timeout, so a check gives up in seconds rather than the 39.5 s of
    /// a plain STUN transaction.
    pub rto_max: Duration,
    /// Transmissions of one check before its pair fails (RFC 8489 §6.2.1: Rc = 7).
    pub max_transmits: u32,
    /// As controlling: how long after the first valid pair to wait for a better one before
    /// nominating the best valid pair (§8.1.1 leaves the stopping criterion to the agent).
    pub nomination_delay: Duration,
    /// Mean interval of consent checks (RFC 7675 §5.1: 5 s, randomised by ±20%).
    pub consent_interval: Duration,
    /// Consent expires this long after the last response (RFC 7675 §5.1: 30 s).
    pub consent_timeout: Duration,
    /// SOFTWARE attribute on what we send, if any.
    pub software: Option<String>,
}

impl Default for IceConfig {
    fn default() -> Self {
        IceConfig {
            role: IceRole::Controlled,
            ta: Duration::from_millis(50),
            rto: Duration::from_millis(500),
            rto_max: Duration::from_secs(3),
            max_transmits: 7,
            nomination_delay: Duration::from_millis(500),
            consent_interval: Duration::from_secs(5),
            consent_timeout: Duration::from_secs(30),
            software: None,
        }
    }
}

/// A datagram to send from one of our addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Which local socket (host candidate) sends it.
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub payload: Vec<u8>,
}

/// The pair a component's packets flow on: send from `local` to `remote`, accept from
/// `remote`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SelectedPair {
    /// 1 for RTP (and RTCP with rtcp-mux), 2 for RTCP without it.
    pub component: u16,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

/// What the media engine acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IceEvent {
    /// The component's packets go on this pair from now on (first selection, a better
    /// nomination, or the end of a restart).
    SelectedPair(SelectedPair),
    /// RFC 7675 §5.1: no response on the selected pair for the consent timeout; stop
    /// sending the component's packets on it.
    ConsentLost(SelectedPair),
    /// Every pair of a component failed before one was selected for it. When only RTCP
    /// failed, [`IceAgent::selected`] still gives the RTP pair.
    Failed,
    /// A role conflict switched our role (§7.2.5.1, §7.3.1.1).
    RoleChanged(IceRole),
}

/// Where an agent stands ([`IceAgent::state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IceState {
    /// No pair selected yet (media, if any, goes to the SDP address).
    Checking,
    /// Media goes on this pair.
    Selected(SelectedPair),
    /// Every pair failed before one was selected.
    Failed,
    /// The selected pair lost consent (RFC 7675): send no media.
    ConsentLost(SelectedPair),
}

/// Counters for metrics: what arrived that the agent dropped or refused, and what it sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IceStats {
    /// Binding requests answered with a success.
    pub requests_accepted: u64,
    /// Binding requests refused with 400, 401 or 420.
    pub requests_refused: u64,
    /// Role conflicts: 487s we sent or received (RFC 8445 §7.2.5.1, §7.3.1.1).
    pub role_conflicts: u64,
    /// Datagrams that looked like STUN but did not decode.
    pub malformed: u64,
    /// Responses dropped: no such transaction, or integrity that does not verify.
    pub responses_dropped: u64,
    /// New check transactions (connectivity and consent).
    pub checks_sent: u64,
    pub retransmissions: u64,
}

/// What [`IceAgent::set_remote`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoteChange {
    /// First remote description: credentials and candidates taken.
    Started,
    /// Same credentials: only new candidates (if any) were added.
    Unchanged,
    /// New credentials: an ICE restart (§9). New local credentials are in force; media
    /// stays on the old pair until a new one is selected.
    Restarted,
}

#[derive(Debug, Clone, Copy)]
struct Consent {
    pair: SelectedPair,
    last_response: Instant,
    next_check: Instant,
    lost: bool,
    /// Cleared by a restart, so the pair the new generation selects is announced even
    /// when it is the same one.
    announced: bool,
}

/// A full ICE agent for one stream: one component with rtcp-mux ([`IceAgent::new`]), or
/// RTP and RTCP apart ([`IceAgent::new_with_rtcp`]).
///
/// The contract, as for every core here:
///
/// - getters (`&self`): [`role`](Self::role), [`selected`](Self::selected),
///   [`state`](Self::state), [`accepts_media`](Self::accepts_media), the credentials and
///   candidates for SDP;
/// - inputs, each taking `now`: [`handle_packet`](Self::handle_packet) for every datagram
///   on one of our sockets (it says whether it was STUN),
///   [`handle_timeout`](Self::handle_timeout) when [`poll_timeout`](Self::poll_timeout)
///   comes due;
/// - commands: [`set_remote`](Self::set_remote) (each offer or answer from the peer, which
///   also detects a restart), [`add_remote_candidate`](Self::add_remote_candidate),
///   [`restart_local`](Self::restart_local);
/// - outputs, drained after every input and command: [`poll_transmit`](Self::poll_transmit)
///   until `None`, then [`poll_event`](Self::poll_event) until `None`, then one timer at
///   [`poll_timeout`](Self::poll_timeout). After `handle_timeout(now)`, `poll_timeout` is
///   never at or before `now`.
///
/// Peer input never panics and never grows the agent without bound: at most 32 remote
/// candidates and 100 pairs (RFC 8445 §6.1.2.5); a request that fails authentication is
/// answered (400 or 401) and otherwise forgotten.
#[derive(Debug)]
pub struct IceAgent {
    config: IceConfig,
    role: IceRole,
    tie_breaker: u64,
    rng: u64,
    local_credentials: Credentials,
    remote_credentials: Option<Credentials>,
    remote_lite: bool,
    locals: Vec<LocalCandidate>,
    remotes: Vec<RemoteCandidate>,
    pairs: Vec<Pair>,
    triggered: VecDeque<(usize, bool)>,
    checks: Vec<Check>,
    next_check_at: Option<Instant>,
    /// 1, or 2 with a separate RTCP component.
    components: u16,
    // Per component (index component - 1):
    first_valid_at: [Option<Instant>; 2],
    nominating: [Option<usize>; 2],
    nominated: [bool; 2],
    consent: [Option<Consent>; 2],
    failed: bool,
    transmits: VecDeque<Transmit>,
    events: VecDeque<IceEvent>,
    stats: IceStats,
}

impl IceAgent {
    /// An agent with host candidates on `addresses` (first preferred) and local
    /// credentials. `seed` drives transaction ids, the tie-breaker and consent jitter; draw
    /// it from the operating system so off-path attackers can't predict transaction ids.
    pub fn new(
        config: IceConfig,
        addresses: &[SocketAddr],
        local: Credentials,
        seed: u64,
    ) -> IceAgent {
        Self::with_components(config, host_candidates(addresses), 1, local, seed)
    }

    /// An agent for a stream without rtcp-mux: RTP (component 1) on `rtp` and RTCP
    /// (component 2) on `rtcp`, the n-th addresses of each on one IP address. Each
    /// component gets its own check list entries, nomination, selected pair and consent.
    pub fn new_with_rtcp(
        config: IceConfig,
        rtp: &[SocketAddr],
        rtcp: &[SocketAddr],
        local: Credentials,
        seed: u64,
    ) -> IceAgent {
        let mut locals = host_candidates(rtp);
        locals.extend(host_candidates_for(2, rtcp));
        let components = if rtcp.is_empty() { 1 } else { 2 };
        Self::with_components(config, locals, components, local, seed)
    }

    fn with_components(
        config: IceConfig,
        locals: Vec<LocalCandidate>,
        components: u16,
        local: Credentials,
        seed: u64,
    ) -> IceAgent {
        let mut rng = seed;
        let tie_breaker = splitmix(&mut rng);
        IceAgent {
            role: config.role,
            config,
            tie_breaker,
            rng,
            local_credentials: local,
            remote_credentials: None,
            remote_lite: false,
            locals,
            remotes: Vec::new(),
            pairs: Vec::new(),
            triggered: VecDeque::new(),
            checks: Vec::new(),
            next_check_at: None,
            components,
            first_valid_at: [None; 2],
            nominating: [None; 2],
            nominated: [false; 2],
            consent: [None; 2],
            failed: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: IceStats::default(),
        }
    }

    // ---- getters

    pub fn role(&self) -> IceRole {
        self.role
    }

    pub fn tie_breaker(&self) -> u64 {
        self.tie_breaker
    }

    /// What goes in our `a=ice-ufrag` / `a=ice-pwd`.
    pub fn local_credentials(&self) -> &Credentials {
        &self.local_credentials
    }

    /// What goes in our `a=candidate` lines ([`LocalCandidate::to_sdp`]).
    pub fn local_candidates(&self) -> &[LocalCandidate] {
        &self.locals
    }

    /// Our `a=ice-ufrag`, `a=ice-pwd` and `a=candidate` lines for an offer or answer
    /// (RFC 8839 §5), in that order.
    pub fn sdp_attributes(&self) -> Vec<sb_sdp::Attribute> {
        let c = &self.local_credentials;
        let mut v = vec![
            sb_sdp::Attribute::IceUfrag(c.ufrag.clone()),
            sb_sdp::Attribute::IcePwd(c.pwd.clone()),
        ];
        v.extend(
            self.locals
                .iter()
                .map(|l| sb_sdp::Attribute::Candidate(l.to_sdp())),
        );
        v
    }

    pub fn stats(&self) -> IceStats {
        self.stats
    }

    pub fn remote_candidates(&self) -> &[RemoteCandidate] {
        &self.remotes
    }

    /// The pair to send media (component 1) on, while consent holds.
    pub fn selected(&self) -> Option<SelectedPair> {
        self.selected_for(1)
    }

    /// The pair for RTCP (component 2) in an agent made with [`IceAgent::new_with_rtcp`].
    pub fn selected_rtcp(&self) -> Option<SelectedPair> {
        self.selected_for(2)
    }

    fn selected_for(&self, component: u16) -> Option<SelectedPair> {
        let c = self.consent.get(usize::from(component).checked_sub(1)?)?;
        c.filter(|c| !c.lost).map(|c| c.pair)
    }

    /// Where ICE stands for media (component 1), for a caller that reports state rather
    /// than events.
    pub fn state(&self) -> IceState {
        match self.consent[0] {
            Some(c) if c.lost => IceState::ConsentLost(c.pair),
            Some(c) => IceState::Selected(c.pair),
            None if self.failed => IceState::Failed,
            None => IceState::Checking,
        }
    }

    /// Whether a datagram from `from` arriving on `local` may be treated as media: only
    /// from the selected pair's remote address (RFC 8445 §12.1).
    pub fn accepts_media(&self, local: SocketAddr, from: SocketAddr) -> bool {
        [self.selected(), self.selected_rtcp()]
            .into_iter()
            .flatten()
            .any(|p| p.local == local && p.remote == from)
    }

    // ---- commands

    /// Takes the peer's ICE attributes from its SDP (`sb_sdp::negotiated` gives them as
    /// `RemoteIce`). Changed credentials mean an ICE restart (RFC 8445 §9): the check list
    /// starts over and `fresh_local` supplies our new credentials (§9 requires both sides
    /// to change them), which the caller puts in its answer.
    pub fn set_remote(
        &mut self,
        now: Instant,
        remote: &sb_sdp::RemoteIce,
        fresh_local: impl FnOnce() -> Credentials,
    ) -> RemoteChange {
        let candidates = remote
            .candidates
            .iter()
            .filter_map(RemoteCandidate::from_sdp);
        let creds = Credentials::new(remote.ufrag.clone(), remote.pwd.clone());
        self.set_remote_parts(now, creds, remote.lite, candidates, fresh_local)
    }

    /// [`IceAgent::set_remote`] from plain values, for callers that carry the peer's ICE
    /// attributes in their own types. All candidates are taken before the first check goes
    /// out, so it goes to the best pair.
    pub fn set_remote_parts(
        &mut self,
        now: Instant,
        remote: Credentials,
        lite: bool,
        candidates: impl IntoIterator<Item = RemoteCandidate>,
        fresh_local: impl FnOnce() -> Credentials,
    ) -> RemoteChange {
        let change = match &self.remote_credentials {
            None => RemoteChange::Started,
            Some(old) if *old == remote => RemoteChange::Unchanged,
            Some(_) => {
                self.restart(fresh_local());
                RemoteChange::Restarted
            }
        };
        self.remote_credentials = Some(remote);
        self.remote_lite = lite;
        if lite && self.role != IceRole::Controlling {
            // §6.1.1: a full agent facing a lite one is controlling.
            self.set_role(IceRole::Controlling);
        }
        for c in candidates {
            self.add_remote(c);
        }
        self.update_frozen();
        self.next_check_at.get_or_insert(now);
        self.run(now);
        change
    }

    /// A trickled candidate (RFC 8838) or one learnt out of band.
    pub fn add_remote_candidate(&mut self, now: Instant, c: RemoteCandidate) {
        self.add_remote(c);
        self.update_frozen();
        if self.remote_credentials.is_some() {
            self.next_check_at.get_or_insert(now);
        }
        self.run(now);
    }

    /// Restart on our own initiative (§9.1.1.1) with new local credentials; the peer's new
    /// credentials follow with [`IceAgent::set_remote`].
    pub fn restart_local(&mut self, local: Credentials) {
        self.restart(local);
        self.remote_credentials = None;
    }

    // ---- inputs

    /// A datagram that arrived on our `local` socket from `from`. Returns false when it is
    /// not STUN (RFC 7983 first-byte test) and so belongs to the media path.
    ///
    /// `local` is the candidate's address as given to the constructor, not a wildcard the
    /// socket may be bound to (`0.0.0.0:port`): a request on an address that is no
    /// candidate of ours is answered but pairs with nothing.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        bytes: &[u8],
    ) -> bool {
        if classify(bytes) != PacketKind::Stun {
            return false;
        }
        let Ok(msg) = Message::decode(bytes) else {
            // Malformed STUN is dropped silently (RFC 8489 §6.3).
            self.stats.malformed += 1;
            return true;
        };
        if msg.method != Method::BINDING {
            return true;
        }
        match msg.class {
            Class::Request => self.on_request(now, local, from, &msg, bytes),
            Class::Success | Class::Error => self.on_response(now, local, from, &msg, bytes),
            // Binding indications are keepalives (§11): nothing to do.
            Class::Indication => {}
        }
        self.run(now);
        true
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.checks.len() {
            let c = &mut self.checks[i];
            if c.next_at > now {
                i += 1;
                continue;
            }
            let limit = if c.consent {
                1
            } else {
                self.config.max_transmits
            };
            if c.cancelled {
                self.checks.swap_remove(i);
            } else if c.transmits < limit {
                c.transmits += 1;
                c.rto = c.rto.saturating_mul(2).min(self.config.rto_max);
                c.next_at = now + c.rto;
                let t = c.transmit();
                self.transmits.push_back(t);
                self.stats.retransmissions += 1;
                i += 1;
            } else {
                let c = self.checks.swap_remove(i);
                if let Some(pair) = c.pair {
                    self.check_failed(pair);
                }
            }
        }
        for c in self.consent.iter_mut().flatten() {
            if !c.lost && now >= c.last_response + self.config.consent_timeout {
                c.lost = true;
                let pair = c.pair;
                self.checks
                    .retain(|k| !(k.consent && k.local == pair.local && k.remote == pair.remote));
                self.events.push_back(IceEvent::ConsentLost(pair));
            }
        }
        self.run(now);
    }

    // ---- outputs

    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    #[must_use]
    pub fn poll_event(&mut self) -> Option<IceEvent> {
        self.events.pop_front()
    }

    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let checks = self.checks.iter().map(|c| c.next_at);
        let pacing = self.next_check_at.filter(|_| self.has_check_to_send());
        let nomination = (1..=self.components).filter_map(|c| self.nomination_deadline(c));
        let consent = self
            .consent
            .iter()
            .flatten()
            .filter(|c| !c.lost)
            .flat_map(|c| [c.next_check, c.last_response + self.config.consent_timeout]);
        checks.chain(pacing).chain(nomination).chain(consent).min()
    }

    // ---- private

    fn next_u64(&mut self) -> u64 {
        splitmix(&mut self.rng)
    }

    fn new_tid(&mut self) -> TransactionId {
        let a = self.next_u64().to_be_bytes();
        let b = self.next_u64().to_be_bytes();
        let mut t = [0u8; 12];
        t[..8].copy_from_slice(&a);
        t[8..].copy_from_slice(&b[..4]);
        TransactionId(t)
    }

    fn restart(&mut self, local: Credentials) {
        self.local_credentials = local;
        self.remotes.clear();
        self.pairs.clear();
        self.triggered.clear();
        // Consent checks on the old pair go on (media still flows there, §9.1.1.1); the
        // connectivity checks of the old generation are void.
        self.checks.retain(|c| c.consent);
        self.next_check_at = None;
        self.first_valid_at = [None; 2];
        self.nominating = [None; 2];
        self.nominated = [false; 2];
        self.failed = false;
        for c in self.consent.iter_mut().flatten() {
            c.announced = false;
        }
    }

    fn set_role(&mut self, role: IceRole) {
        if self.role == role {
            return;
        }
        self.role = role;
        self.nominating = [None; 2];
        // §7.2.5.1: pair priorities depend on the role.
        for i in 0..self.pairs.len() {
            self.pairs[i].priority = self.pair_prio(self.pairs[i].local, self.pairs[i].remote);
        }
        self.events.push_back(IceEvent::RoleChanged(role));
    }

    /// Everything that follows from the current state at `now`: nomination, the paced
    /// check, consent checks, failure.
    fn run(&mut self, now: Instant) {
        self.maybe_nominate(now);
        if let Some(at) = self.next_check_at {
            if now >= at && self.has_check_to_send() && self.send_next_check(now) {
                self.next_check_at = Some(now + self.config.ta);
            }
        }
        self.maybe_send_consent(now);
        self.maybe_fail();
    }

    fn maybe_nominate(&mut self, now: Instant) {
        if self.role != IceRole::Controlling {
            return;
        }
        for component in 1..=self.components {
            let k = usize::from(component - 1);
            if self.nominated[k] || self.nominating[k].is_some() {
                continue;
            }
            let of = |p: &Pair| self.locals[p.local].component == component;
            let Some(best) = (0..self.pairs.len())
                .filter(|&i| of(&self.pairs[i]) && self.pairs[i].state == PairState::Succeeded)
                .max_by_key(|&i| self.pairs[i].priority)
            else {
                continue;
            };
            let prio = self.pairs[best].priority;
            let better_pending = self.pairs.iter().any(|p| {
                of(p)
                    && p.priority > prio
                    && matches!(
                        p.state,
                        PairState::Frozen | PairState::Waiting | PairState::InProgress
                    )
            });
            let waited = self
                .nomination_deadline(component)
                .is_some_and(|t| now >= t);
            if !better_pending || waited || self.remote_lite {
                self.nominating[k] = Some(best);
                self.triggered.push_front((best, true));
                self.next_check_at = Some(self.next_check_at.map_or(now, |t| t.min(now)));
            }
        }
    }

    fn maybe_send_consent(&mut self, now: Instant) {
        for k in 0..self.consent.len() {
            let Some(c) = self.consent[k] else { continue };
            if c.lost || now < c.next_check {
                continue;
            }
            // The next slot is set even when this one sends nothing (mid-restart, without
            // the peer's new credentials yet), so a due consent check never stays due.
            let jitter = 0.8 + 0.4 * (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let next = now + self.config.consent_interval.mul_f64(jitter);
            if let Some(c) = &mut self.consent[k] {
                c.next_check = next;
            }
            let Some(local) = self.locals.iter().position(|l| l.address == c.pair.local) else {
                continue;
            };
            // One transmission each: the next consent check is the retry. A response
            // counts while it answers a request of the last consent timeout (RFC 7675
            // §5.1), so the transaction is kept that long. The check names addresses, not
            // a pair, so it survives a restart's new check list.
            let keep = self.config.consent_timeout;
            if let Some(check) = self.request(now, local, c.pair.remote, false, keep) {
                self.transmits.push_back(check.transmit());
                self.checks.push(Check {
                    consent: true,
                    ..check
                });
            }
        }
    }

    /// ICE fails when a component has pairs, all failed, and nothing selected for it.
    fn maybe_fail(&mut self) {
        if self.failed || self.remote_credentials.is_none() || !self.triggered.is_empty() {
            return;
        }
        let failed = (1..=self.components).any(|component| {
            let mut of = self
                .pairs
                .iter()
                .filter(|p| self.locals[p.local].component == component)
                .peekable();
            self.consent[usize::from(component - 1)].is_none()
                && of.peek().is_some()
                && of.all(|p| p.state == PairState::Failed)
        });
        if failed {
            self.failed = true;
            self.events.push_back(IceEvent::Failed);
        }
    }

    fn check_failed(&mut self, pair: usize) {
        for n in &mut self.nominating {
            if *n == Some(pair) {
                *n = None;
            }
        }
        if let Some(p) = self.pairs.get_mut(pair) {
            if p.state == PairState::InProgress {
                p.state = PairState::Failed;
            }
        }
    }

    fn all_nominated(&self) -> bool {
        self.nominated[..usize::from(self.components)]
            .iter()
            .all(|n| *n)
    }

    /// Makes each component's highest-priority nominated valid pair its selected one
    /// (§8.1.1).
    fn update_selection(&mut self, now: Instant) {
        for component in 1..=self.components {
            let k = usize::from(component - 1);
            let Some(best) = (0..self.pairs.len())
                .filter(|&i| {
                    let p = &self.pairs[i];
                    self.locals[p.local].component == component
                        && p.state == PairState::Succeeded
                        && p.nominated
                })
                .max_by_key(|&i| self.pairs[i].priority)
            else {
                continue;
            };
            self.nominated[k] = true;
            let p = &self.pairs[best];
            let sel = SelectedPair {
                component,
                local: self.locals[p.local].address,
                remote: self.remotes[p.remote].address,
            };
            let current = self.consent[k].filter(|c| !c.lost);
            if current.is_some_and(|c| c.pair == sel && c.announced) {
                continue;
            }
            self.consent[k] = Some(Consent {
                pair: sel,
                last_response: now,
                next_check: now + self.config.consent_interval,
                lost: false,
                announced: true,
            });
            self.events.push_back(IceEvent::SelectedPair(sel));
        }
    }

    fn push(&mut self, t: Option<Transmit>) {
        self.transmits.extend(t);
    }
}

/// splitmix64: a tiny, well-mixed generator; the seed carries the unpredictability.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
