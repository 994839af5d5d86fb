//! What arrives from the peer: Binding requests (RFC 8445 §7.3, RFC 8489 §9.1.3) and the
//! responses to our checks (RFC 8445 §7.2.5).

use super::{IceAgent, IceRole, Transmit};
use crate::candidate::{CandidateKind, RemoteCandidate};
use crate::check::{self, PairState};
use crate::stun::{Attribute, Class, Message};
use std::net::SocketAddr;
use std::time::Instant;

impl IceAgent {
    pub(super) fn on_request(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        msg: &Message,
        bytes: &[u8],
    ) {
        let reply = check::Reply {
            tid: msg.transaction_id,
            local,
            remote: from,
        };
        let key = self.local_credentials.pwd.clone();
        // RFC 8489 §9.1.3: both USERNAME and MESSAGE-INTEGRITY or a 400; a wrong user or
        // a wrong MAC is a 401. Neither error carries integrity: we have no shared key.
        let Some(username) = msg.username() else {
            return self.refuse(reply.error(400, "Bad Request", None));
        };
        if !msg.has_integrity() {
            return self.refuse(reply.error(400, "Bad Request", None));
        }
        let ours = username.split(':').next().unwrap_or("");
        if ours != self.local_credentials.ufrag || !msg.verify_integrity(bytes, key.as_bytes()) {
            return self.refuse(reply.error(401, "Unauthenticated", None));
        }
        let unknown = msg.unknown_required();
        if !unknown.is_empty() {
            let t = reply.unknown_attributes(unknown, key.as_bytes());
            return self.refuse(t);
        }
        let Some(priority) = msg.priority() else {
            return self.refuse(reply.error(400, "Missing PRIORITY", Some(key.as_bytes())));
        };
        // §7.3.1.1: role conflict.
        for a in &msg.attributes {
            match (self.role, a) {
                (IceRole::Controlling, Attribute::IceControlling(theirs)) => {
                    if self.tie_breaker >= *theirs {
                        return self.conflict(reply.error(
                            487,
                            "Role Conflict",
                            Some(key.as_bytes()),
                        ));
                    }
                    self.set_role(IceRole::Controlled);
                }
                (IceRole::Controlled, Attribute::IceControlled(theirs)) => {
                    if self.tie_breaker >= *theirs {
                        self.set_role(IceRole::Controlling);
                    } else {
                        return self.conflict(reply.error(
                            487,
                            "Role Conflict",
                            Some(key.as_bytes()),
                        ));
                    }
                }
                _ => {}
            }
        }
        self.stats.requests_accepted += 1;
        self.push(reply.success(key.as_bytes(), self.config.software.as_deref()));

        // A request on an address that is not one of our candidates is answered (the
        // caller's socket received it) but teaches nothing about pairs.
        let Some(l) = self.locals.iter().position(|c| c.address == local) else {
            return;
        };
        // §7.3.1.3: an unknown source is a peer-reflexive candidate.
        let remote = match self.remotes.iter().position(|r| r.address == from) {
            Some(i) => Some(i),
            None => self.add_remote(RemoteCandidate {
                foundation: format!("prflx{}", self.remotes.len()),
                // The component of the socket it reached (§7.3.1.3).
                component: self.locals[l].component,
                address: from,
                priority,
                kind: CandidateKind::PeerReflexive,
            }),
        };
        let Some(r) = remote else { return };
        let Some(i) = self
            .pairs
            .iter()
            .position(|p| p.local == l && p.remote == r)
        else {
            return;
        };
        let use_candidate = msg.use_candidate() && self.role == IceRole::Controlled;
        // §7.3.1.4 triggered check, and §7.3.1.5 nomination by the controlling peer.
        let p = &mut self.pairs[i];
        match p.state {
            PairState::Succeeded => {
                if use_candidate {
                    p.nominated = true;
                    self.update_selection(now);
                }
            }
            PairState::Frozen | PairState::Waiting | PairState::Failed | PairState::InProgress => {
                // An in-progress check is cancelled: no more retransmissions and no failure
                // on silence, but its response still counts. The peer's request shows the
                // path works one way, so a fresh check now beats waiting out our backoff.
                if p.state == PairState::InProgress {
                    let wait = self.config.rto_max;
                    for c in self.checks.iter_mut().filter(|c| c.pair == Some(i)) {
                        c.cancelled = true;
                        c.next_at = now + wait;
                    }
                }
                let p = &mut self.pairs[i];
                p.state = PairState::Waiting;
                p.nominate_on_success |= use_candidate;
                if !self.triggered.iter().any(|(t, _)| *t == i) {
                    self.triggered.push_back((i, false));
                }
                self.next_check_at.get_or_insert(now);
            }
        }
    }

    pub(super) fn on_response(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        msg: &Message,
        bytes: &[u8],
    ) {
        let k = self.checks.iter().position(|c| c.tid == msg.transaction_id);
        // A response without valid integrity is discarded (RFC 8489 §9.1.3); the check
        // goes on retransmitting.
        let verified = self
            .remote_credentials
            .as_ref()
            .is_some_and(|c| msg.verify_integrity(bytes, c.pwd.as_bytes()));
        let (Some(k), true) = (k, verified) else {
            self.stats.responses_dropped += 1;
            return;
        };
        let check = self.checks.swap_remove(k);
        // §7.2.5.2.1: a response from elsewhere than we sent to fails the pair.
        if from != check.remote || local != check.local {
            if let Some(pair) = check.pair {
                self.check_failed(pair);
            }
            return;
        }
        // RFC 8489 §6.3.3: a success carrying attributes we must understand but don't
        // fails the transaction.
        let refused = msg.class == Class::Success && !msg.unknown_required().is_empty();
        if refused {
            if let Some(pair) = check.pair {
                self.check_failed(pair);
            }
            return;
        }
        if msg.class == Class::Error {
            let Some(pair) = check.pair else { return };
            if msg.error_code() == Some(487) {
                self.stats.role_conflicts += 1;
                // §7.2.5.1: switch from the role the request carried, and check again.
                if check.role == self.role {
                    self.set_role(match check.role {
                        IceRole::Controlling => IceRole::Controlled,
                        IceRole::Controlled => IceRole::Controlling,
                    });
                }
                if let Some(p) = self.pairs.get_mut(pair) {
                    p.state = PairState::Waiting;
                }
                for n in &mut self.nominating {
                    if *n == Some(pair) {
                        *n = None;
                    }
                }
                self.triggered.push_back((pair, false));
            } else {
                self.check_failed(pair);
            }
            return;
        }
        for c in self.consent.iter_mut().flatten() {
            if !c.lost && c.pair.local == local && c.pair.remote == from {
                c.last_response = now;
            }
        }
        let Some(i) = check.pair.filter(|&i| i < self.pairs.len()) else {
            return;
        };
        let k = usize::from(self.locals[self.pairs[i].local].component - 1);
        let p = &mut self.pairs[i];
        p.state = PairState::Succeeded;
        if check.nominating || p.nominate_on_success {
            p.nominated = true;
        }
        if check.nominating {
            self.nominating[k] = None;
        }
        self.first_valid_at[k].get_or_insert(now);
        self.update_frozen();
        self.update_selection(now);
    }

    fn refuse(&mut self, t: Option<Transmit>) {
        self.stats.requests_refused += 1;
        self.push(t);
    }

    fn conflict(&mut self, t: Option<Transmit>) {
        self.stats.role_conflicts += 1;
        self.push(t);
    }
}
