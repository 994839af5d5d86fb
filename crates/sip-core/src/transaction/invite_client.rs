//! RFC 3261 §17.1.1 INVITE client transaction, with the Accepted state of RFC 6026 §7.2.
//!
//! ```text
//!            send INVITE (Timer A if unreliable, Timer B)
//!  Calling ──1xx──▶ Proceeding ──300-699 / send ACK──▶ Completed ──Timer D──▶ Terminated
//!     │                 │
//!     └──────2xx────────┴──▶ Accepted ──Timer M──▶ Terminated
//! ```
//!
//! The ACK for a non-2xx final response is built and sent here (§17.1.1.3) because it
//! belongs to this transaction; the ACK for a 2xx is a new transaction the TU sends
//! (§13.2.2.4). RFC 6026 keeps the transaction alive in Accepted for 64*T1 so that 2xx
//! retransmissions and 2xx responses from other forks reach the TU rather than being
//! dropped as strays (which would lose the fork's dialog).

use std::time::{Duration, Instant};

use sb_sip_msg::{Header, HeaderName, Message, Method, Request, Response};

use super::event::{Out, TsxEvent, TsxId};
use super::timer::{rearm, Timer, TimerConfig, TimerTable};
use crate::peer::Peer;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteClientState {
    Calling,
    Proceeding,
    Completed,
    Accepted,
    Terminated,
}

#[derive(Debug)]
pub(crate) struct InviteClient {
    id: TsxId,
    peer: Peer,
    request: Request,
    state: InviteClientState,
    timers: TimerTable,
    /// Current Timer A interval: T1, doubling on each fire with no cap (§17.1.1.2).
    a_interval: Duration,
    ack: Option<Request>,
}

impl InviteClient {
    /// Sends the INVITE and enters Calling.
    pub fn start(
        id: TsxId,
        now: Instant,
        request: Request,
        peer: Peer,
        cfg: &TimerConfig,
        out: &mut Out,
    ) -> Self {
        let mut timers = TimerTable::default();
        if !peer.is_reliable() {
            timers.set(Timer::A, now + cfg.t1);
        }
        timers.set(Timer::B, now + cfg.t1_x64());
        out.send(peer, Message::Request(request.clone()));
        InviteClient {
            id,
            peer,
            request,
            state: InviteClientState::Calling,
            timers,
            a_interval: cfg.t1,
            ack: None,
        }
    }

    pub fn state(&self) -> InviteClientState {
        self.state
    }

    pub fn request(&self) -> &Request {
        &self.request
    }

    pub fn peer(&self) -> Peer {
        self.peer
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    pub fn is_terminated(&self) -> bool {
        self.state == InviteClientState::Terminated
    }

    pub fn on_response(&mut self, now: Instant, resp: Response, cfg: &TimerConfig, out: &mut Out) {
        use InviteClientState::*;
        let status = resp.status;
        match self.state {
            Calling | Proceeding if status.is_provisional() => {
                // No more retransmissions and no Timer B once the far end answered; how
                // long to wait for a final response is the TU's call (Timer C in a proxy).
                self.timers.stop(Timer::A);
                self.timers.stop(Timer::B);
                self.state = Proceeding;
                out.event(TsxEvent::Response { tsx: self.id, resp });
            }
            Calling | Proceeding if status.is_success() => {
                self.timers.stop_all();
                self.timers.set(Timer::M, now + cfg.t1_x64());
                self.state = Accepted;
                out.event(TsxEvent::Response { tsx: self.id, resp });
            }
            Calling | Proceeding => {
                self.timers.stop_all();
                let ack = build_ack(&self.request, &resp);
                out.send(self.peer, Message::Request(ack.clone()));
                self.ack = Some(ack);
                out.event(TsxEvent::Response { tsx: self.id, resp });
                let d = cfg.d(self.peer.is_reliable());
                if d.is_zero() {
                    self.state = Terminated;
                } else {
                    self.timers.set(Timer::D, now + d);
                    self.state = Completed;
                }
            }
            Completed if !status.is_provisional() && !status.is_success() => {
                // A retransmitted final response means our ACK was lost (§17.1.1.2).
                if let Some(ack) = &self.ack {
                    out.send(self.peer, Message::Request(ack.clone()));
                }
            }
            Accepted if status.is_success() => {
                out.event(TsxEvent::Response { tsx: self.id, resp });
            }
            _ => {}
        }
    }

    pub fn on_timeout(&mut self, now: Instant, out: &mut Out) {
        while let Some((timer, due)) = self.timers.pop_expired(now) {
            match timer {
                Timer::A if self.state == InviteClientState::Calling => {
                    out.send(self.peer, Message::Request(self.request.clone()));
                    self.a_interval *= 2;
                    self.timers.set(Timer::A, rearm(due, self.a_interval, now));
                }
                Timer::B => {
                    self.timers.stop_all();
                    out.event(TsxEvent::Timeout { tsx: self.id });
                    self.state = InviteClientState::Terminated;
                }
                Timer::D | Timer::M => {
                    self.timers.stop_all();
                    self.state = InviteClientState::Terminated;
                }
                _ => {}
            }
        }
    }

    pub fn on_transport_error(&mut self, out: &mut Out) {
        if self.state == InviteClientState::Terminated {
            return;
        }
        self.timers.stop_all();
        out.event(TsxEvent::TransportError { tsx: self.id });
        self.state = InviteClientState::Terminated;
    }
}

/// The ACK for a non-2xx final response (§17.1.1.3): Request-URI, Call-ID, From and the
/// CSeq number of the INVITE, To from the response (it carries the tag), the INVITE's top
/// Via only (same branch, so the server transaction matches it), and its Route set.
pub(crate) fn build_ack(invite: &Request, resp: &Response) -> Request {
    let mut ack = Request::new(Method::Ack, invite.uri.clone());
    if let Some(via) = invite.headers.top_via() {
        ack.headers.push(Header::Via(via.clone()));
    }
    for h in invite.headers.iter() {
        match h {
            Header::MaxForwards(_) | Header::From(_) | Header::CallId(_) => {
                ack.headers.push(h.clone())
            }
            _ => {}
        }
    }
    if let Some(to) = resp.headers.to().or(invite.headers.to()) {
        ack.headers.push(Header::To(to.clone()));
    }
    if let Some(cseq) = invite.headers.cseq() {
        ack.headers.push(Header::CSeq(sb_sip_msg::CSeq {
            seq: cseq.seq,
            method: Method::Ack,
        }));
    }
    for r in invite.headers.routes() {
        ack.headers.push(Header::Route(r.clone()));
    }
    if invite
        .headers
        .iter()
        .any(|h| h.name() == Some(HeaderName::ContentLength))
    {
        ack.headers.push(Header::ContentLength(0));
    }
    ack
}
