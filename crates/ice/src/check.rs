//! Candidate pairs, outstanding checks and the responses the agent sends (RFC 8445 §6.1.2,
//! §7.2, §7.3).

use crate::agent::{IceRole, Transmit};
use crate::stun::{Attribute, Class, Message, Method, TransactionId};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Pair states (RFC 8445 §6.1.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PairState {
    Frozen,
    Waiting,
    InProgress,
    Succeeded,
    Failed,
}

/// One entry of the check list. With host candidates only, a succeeded pair is its own
/// valid pair: the local candidate that a peer-reflexive mapped address would name has
/// the same base, which is all media sending needs (§7.2.5.3.2).
#[derive(Debug, Clone)]
pub(crate) struct Pair {
    pub local: usize,
    pub remote: usize,
    pub priority: u64,
    pub state: PairState,
    /// Nominated and valid: eligible for selection.
    pub nominated: bool,
    /// The controlling peer sent USE-CANDIDATE before our own check of this pair
    /// succeeded (§7.3.1.5): nominate when it does.
    pub nominate_on_success: bool,
}

impl Pair {
    pub fn new(local: usize, remote: usize, priority: u64) -> Pair {
        Pair {
            local,
            remote,
            priority,
            state: PairState::Frozen,
            nominated: false,
            nominate_on_success: false,
        }
    }
}

/// A Binding request in flight.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    pub tid: TransactionId,
    /// The pair checked; none for consent checks, which outlive a restart's check list.
    pub pair: Option<usize>,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub payload: Vec<u8>,
    pub next_at: Instant,
    pub rto: Duration,
    pub transmits: u32,
    /// Carries USE-CANDIDATE.
    pub nominating: bool,
    pub consent: bool,
    /// Cancelled by a triggered check (RFC 8445 §7.3.1.4): not retransmitted, and silence
    /// until `next_at` fails nothing.
    pub cancelled: bool,
    /// The role the request claimed, for §7.2.5.1.
    pub role: IceRole,
}

impl Check {
    pub fn transmit(&self) -> Transmit {
        Transmit {
            local: self.local,
            remote: self.remote,
            payload: self.payload.clone(),
        }
    }
}

/// Where and to what a response goes (RFC 8489 §6.3.1: to the request's source, from the
/// address it arrived on).
pub(crate) struct Reply {
    pub tid: TransactionId,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

impl Reply {
    fn send(&self, msg: Message, key: Option<&[u8]>) -> Option<Transmit> {
        let payload = msg.encode(key, true).ok()?;
        Some(Transmit {
            local: self.local,
            remote: self.remote,
            payload,
        })
    }

    /// Success with XOR-MAPPED-ADDRESS, integrity and fingerprint (RFC 8445 §7.3.1.2).
    pub fn success(&self, key: &[u8], software: Option<&str>) -> Option<Transmit> {
        let mut msg = Message::new(Class::Success, Method::BINDING, self.tid)
            .with(Attribute::XorMappedAddress(self.remote));
        if let Some(s) = software {
            msg = msg.with(Attribute::Software(s.to_string()));
        }
        self.send(msg, Some(key))
    }

    pub fn error(&self, code: u16, reason: &str, key: Option<&[u8]>) -> Option<Transmit> {
        let msg =
            Message::new(Class::Error, Method::BINDING, self.tid).with(Attribute::ErrorCode {
                code,
                reason: reason.to_string(),
            });
        self.send(msg, key)
    }

    /// 420 listing what we did not understand (RFC 8489 §6.3.1.1).
    pub fn unknown_attributes(&self, kinds: Vec<u16>, key: &[u8]) -> Option<Transmit> {
        let msg = Message::new(Class::Error, Method::BINDING, self.tid)
            .with(Attribute::ErrorCode {
                code: 420,
                reason: "Unknown Attribute".to_string(),
            })
            .with(Attribute::UnknownAttributes(kinds));
        self.send(msg, Some(key))
    }
}
