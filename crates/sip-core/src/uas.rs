//! The UAS side of the 2xx-to-INVITE problem (RFC 3261 §13.3.1.4, RFC 6026 §7.1).
//!
//! A 2xx to an INVITE is retransmitted end to end by the UAS core, not by the transaction:
//! proxies forward 2xx statelessly and the ACK is a separate transaction, so only the two
//! UAs know whether the answer arrived. The UAS retransmits at T1, doubling up to T2, until
//! the ACK arrives or 64*T1 has passed; then it SHOULD end the dialog with BYE.

use std::time::{Duration, Instant};

use sb_sip_msg::Response;

use crate::transaction::TimerConfig;

/// What the retransmitter tells its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uas2xxEvent {
    /// 64*T1 passed without an ACK: confirm nothing, send BYE (§13.3.1.4).
    AckTimeout,
}

/// Retransmits one 2xx on the §13.3.1.4 schedule. Sans-IO like everything else: it hands
/// back the response to pass to [`crate::TransactionLayer::send_response`] (the INVITE
/// server transaction is Accepted for the same 64*T1 and passes it through).
#[derive(Debug, Clone)]
pub struct Uas2xxRetransmitter {
    response: Response,
    interval: Duration,
    t2: Duration,
    next: Option<Instant>,
    give_up: Instant,
    due: Option<Response>,
    event: Option<Uas2xxEvent>,
}

impl Uas2xxRetransmitter {
    /// Starts the schedule at `now`, the moment the first 2xx was sent.
    pub fn new(now: Instant, response: Response, cfg: &TimerConfig) -> Self {
        Uas2xxRetransmitter {
            response,
            interval: cfg.t1,
            t2: cfg.t2,
            next: Some(now + cfg.t1),
            give_up: now + cfg.t1_x64(),
            due: None,
            event: None,
        }
    }

    /// The ACK for this 2xx arrived (matched by the TU on dialog and CSeq, §13.3.1.4).
    pub fn handle_ack(&mut self) {
        self.next = None;
        self.due = None;
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(next) = self.next else {
            return;
        };
        if now >= self.give_up {
            self.next = None;
            self.event = Some(Uas2xxEvent::AckTimeout);
            return;
        }
        if now >= next {
            self.due = Some(self.response.clone());
            self.interval = (self.interval * 2).min(self.t2);
            self.next = Some(next + self.interval);
        }
    }

    /// A retransmission to send now.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Response> {
        self.due.take()
    }

    #[must_use]
    pub fn poll_event(&mut self) -> Option<Uas2xxEvent> {
        self.event.take()
    }

    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next.map(|n| n.min(self.give_up))
    }

    /// True once the ACK came or the schedule gave up.
    pub fn is_done(&self) -> bool {
        self.next.is_none()
    }
}
