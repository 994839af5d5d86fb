//! The check list (RFC 8445 §6.1.2): forming pairs, thawing them, and choosing and
//! building the next check (§6.1.4.2, §7.2.2).

use super::{IceAgent, IceRole};
use crate::candidate::{candidate_priority, pair_priority, CandidateKind, RemoteCandidate};
use crate::check::{Check, Pair, PairState};
use crate::stun::{Attribute, Class, Message, Method};
use std::cmp::Reverse;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Bound on remote candidates kept, so a peer can't grow the agent without limit.
const MAX_REMOTE_CANDIDATES: usize = 32;
/// RFC 8445 §6.1.2.5: the check list is limited, 100 pairs by default.
const MAX_PAIRS: usize = 100;

impl IceAgent {
    pub(super) fn pair_prio(&self, local: usize, remote: usize) -> u64 {
        let (l, r) = (self.locals[local].priority, self.remotes[remote].priority);
        match self.role {
            IceRole::Controlling => pair_priority(l, r),
            IceRole::Controlled => pair_priority(r, l),
        }
    }

    /// Adds a remote candidate and its pairs; returns its index.
    pub(super) fn add_remote(&mut self, c: RemoteCandidate) -> Option<usize> {
        if let Some(i) = self.remotes.iter().position(|r| r.address == c.address) {
            return Some(i);
        }
        // A component we don't have (RTCP when muxed) pairs with nothing.
        if self.remotes.len() >= MAX_REMOTE_CANDIDATES || c.component > self.components {
            return None;
        }
        self.remotes.push(c);
        let r = self.remotes.len() - 1;
        for l in 0..self.locals.len() {
            let (local, remote) = (&self.locals[l], &self.remotes[r]);
            let same_family = local.address.is_ipv4() == remote.address.is_ipv4();
            let same_component = local.component == remote.component;
            if same_family && same_component && self.pairs.len() < MAX_PAIRS {
                let priority = self.pair_prio(l, r);
                self.pairs.push(Pair::new(l, r, priority));
            }
        }
        Some(r)
    }

    pub(super) fn foundation(&self, p: &Pair) -> (&str, &str) {
        (
            &self.locals[p.local].foundation,
            &self.remotes[p.remote].foundation,
        )
    }

    /// §6.1.2.6 and §7.2.5.3.3: a frozen pair thaws when a pair of its foundation
    /// succeeded, and each foundation with nothing under way gets its first pair waiting:
    /// the lowest component, then the highest priority.
    pub(super) fn update_frozen(&mut self) {
        let mut thaw = Vec::new();
        for (i, p) in self.pairs.iter().enumerate() {
            if p.state != PairState::Frozen {
                continue;
            }
            let f = self.foundation(p);
            let same = || self.pairs.iter().filter(|q| self.foundation(q) == f);
            let succeeded = same().any(|q| q.state == PairState::Succeeded);
            let busy =
                same().any(|q| matches!(q.state, PairState::Waiting | PairState::InProgress));
            let rank = |q: &Pair| (self.locals[q.local].component, Reverse(q.priority));
            let best = same()
                .filter(|q| q.state == PairState::Frozen)
                .all(|q| rank(q) >= rank(p));
            if succeeded || (!busy && best) {
                thaw.push(i);
            }
        }
        for i in thaw {
            self.pairs[i].state = PairState::Waiting;
        }
    }

    pub(super) fn has_check_to_send(&self) -> bool {
        self.remote_credentials.is_some()
            && (!self.triggered.is_empty()
                || (!self.all_nominated()
                    && self
                        .pairs
                        .iter()
                        .any(|p| matches!(p.state, PairState::Waiting | PairState::Frozen))))
    }

    /// As controlling: when to stop waiting for a better pair for `component`.
    pub(super) fn nomination_deadline(&self, component: u16) -> Option<Instant> {
        let k = usize::from(component.checked_sub(1)?);
        if self.role != IceRole::Controlling || self.nominated[k] || self.nominating[k].is_some() {
            return None;
        }
        // A 487 can send the only valid pair back to Waiting (§7.2.5.1): then there is
        // nothing to nominate until a check succeeds again.
        let valid = self.pairs.iter().any(|p| {
            p.state == PairState::Succeeded && self.locals[p.local].component == component
        });
        if !valid {
            return None;
        }
        self.first_valid_at[k].map(|t| t + self.config.nomination_delay)
    }

    /// §6.1.4.2: the triggered queue first, then the best waiting pair, then the best
    /// frozen one.
    pub(super) fn send_next_check(&mut self, now: Instant) -> bool {
        while let Some((i, nominate)) = self.triggered.pop_front() {
            let Some(p) = self.pairs.get(i) else { continue };
            // Pacing may have checked the pair since it was queued, and a cancelled check's
            // late response may have made it valid: either way this entry is spent.
            let settled = matches!(p.state, PairState::Succeeded | PairState::InProgress);
            if !settled || nominate {
                self.send_check(now, i, nominate);
                return true;
            }
        }
        if self.all_nominated() {
            return false;
        }
        let best = |state: PairState| {
            (0..self.pairs.len())
                .filter(|&i| self.pairs[i].state == state)
                .max_by_key(|&i| self.pairs[i].priority)
        };
        if let Some(i) = best(PairState::Waiting).or_else(|| best(PairState::Frozen)) {
            self.send_check(now, i, false);
            return true;
        }
        false
    }

    pub(super) fn send_check(&mut self, now: Instant, pair: usize, nominate: bool) {
        let p = &self.pairs[pair];
        let (local, remote) = (p.local, self.remotes[p.remote].address);
        // §14.3: RTO grows with the checks under way so retransmissions respect pacing.
        let busy = self
            .pairs
            .iter()
            .filter(|p| matches!(p.state, PairState::Waiting | PairState::InProgress))
            .count() as u32;
        let rto = self.config.rto.max(self.config.ta * busy.max(1));
        let Some(check) = self.request(now, local, remote, nominate, rto) else {
            return;
        };
        let p = &mut self.pairs[pair];
        if p.state != PairState::Succeeded {
            p.state = PairState::InProgress;
        }
        self.transmits.push_back(check.transmit());
        self.checks.push(Check {
            pair: Some(pair),
            ..check
        });
    }

    /// A Binding request from local candidate `local` (RFC 8445 §7.2.2).
    pub(super) fn request(
        &mut self,
        now: Instant,
        local: usize,
        remote: SocketAddr,
        nominate: bool,
        rto: Duration,
    ) -> Option<Check> {
        let remote_creds = self.remote_credentials.clone()?;
        let tid = self.new_tid();
        // §7.1.1: PRIORITY is what a peer-reflexive candidate learnt from this check
        // would get: our local preference with the prflx type preference.
        let local_pref = ((self.locals[local].priority >> 8) & 0xFFFF) as u16;
        let component = self.locals[local].component;
        let priority = candidate_priority(CandidateKind::PeerReflexive, local_pref, component);
        let role = self.role;
        let nominating = nominate && role == IceRole::Controlling;
        let mut msg = Message::new(Class::Request, Method::BINDING, tid)
            .with(Attribute::Username(format!(
                "{}:{}",
                remote_creds.ufrag, self.local_credentials.ufrag
            )))
            .with(Attribute::Priority(priority))
            .with(match role {
                IceRole::Controlling => Attribute::IceControlling(self.tie_breaker),
                IceRole::Controlled => Attribute::IceControlled(self.tie_breaker),
            });
        if nominating {
            msg = msg.with(Attribute::UseCandidate);
        }
        if let Some(s) = &self.config.software {
            msg = msg.with(Attribute::Software(s.clone()));
        }
        let payload = msg.encode(Some(remote_creds.pwd.as_bytes()), true).ok()?;
        self.stats.checks_sent += 1;
        Some(Check {
            tid,
            pair: None,
            local: self.locals[local].address,
            remote,
            payload,
            next_at: now + rto,
            rto,
            transmits: 1,
            nominating,
            consent: false,
            cancelled: false,
            role,
        })
    }
}
