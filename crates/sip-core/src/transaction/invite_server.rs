//! RFC 3261 §17.2.1 INVITE server transaction, with the Accepted state of RFC 6026 §7.1.
//!
//! ```text
//!  Proceeding ──300-699 / Timer G if unreliable, Timer H──▶ Completed ──ACK / Timer I──▶
//!      │                                                       Confirmed ──Timer I──▶ Terminated
//!      └──2xx / Timer L──▶ Accepted ──Timer L──▶ Terminated
//! ```
//!
//! The 2xx path: RFC 3261 ended the transaction on 2xx, so a retransmitted INVITE looked new
//! and the TU answered it twice. RFC 6026 keeps it in Accepted for 64*T1, absorbing INVITE
//! retransmissions and passing the TU's 2xx retransmissions through. The transaction never
//! retransmits a 2xx itself: that is the TU's job until the ACK (§13.3.1.4, see
//! [`crate::uas::Uas2xxRetransmitter`]).

use std::time::{Duration, Instant};

use sb_sip_msg::{Message, Request, Response, StatusCode};

use super::event::{response_for, Out, TsxEvent, TsxId};
use super::timer::{rearm, Timer, TimerConfig, TimerTable};
use crate::error::TsxError;
use crate::peer::Peer;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteServerState {
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

impl InviteServerState {
    fn name(self) -> &'static str {
        match self {
            InviteServerState::Proceeding => "Proceeding",
            InviteServerState::Completed => "Completed",
            InviteServerState::Confirmed => "Confirmed",
            InviteServerState::Accepted => "Accepted",
            InviteServerState::Terminated => "Terminated",
        }
    }
}

#[derive(Debug)]
pub(crate) struct InviteServer {
    id: TsxId,
    peer: Peer,
    request: Request,
    state: InviteServerState,
    timers: TimerTable,
    g_interval: Duration,
    last_response: Option<Response>,
}

impl InviteServer {
    /// Enters Proceeding and arms the 100 Trying wait (§17.2.1).
    pub fn new(id: TsxId, now: Instant, request: Request, peer: Peer, cfg: &TimerConfig) -> Self {
        let mut timers = TimerTable::default();
        timers.set(Timer::Trying, now + cfg.trying_delay);
        InviteServer {
            id,
            peer,
            request,
            state: InviteServerState::Proceeding,
            timers,
            g_interval: cfg.t1,
            last_response: None,
        }
    }

    pub fn state(&self) -> InviteServerState {
        self.state
    }

    pub fn request(&self) -> &Request {
        &self.request
    }

    pub fn peer(&self) -> Peer {
        self.peer
    }

    /// The To tag of the last response sent: an RFC 2543 ACK matches on it (§17.2.3).
    pub fn response_to_tag(&self) -> Option<&str> {
        self.last_response.as_ref()?.headers.to()?.tag()
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    pub fn is_terminated(&self) -> bool {
        self.state == InviteServerState::Terminated
    }

    /// A retransmission of the INVITE.
    pub fn on_request(&mut self, out: &mut Out) {
        match self.state {
            InviteServerState::Proceeding | InviteServerState::Completed => {
                if let Some(r) = &self.last_response {
                    out.send(self.peer, Message::Response(r.clone()));
                }
            }
            // Confirmed and Accepted absorb it (§17.2.1, RFC 6026 §7.1).
            _ => {}
        }
    }

    /// An ACK matching this transaction.
    pub fn on_ack(
        &mut self,
        now: Instant,
        ack: Request,
        from: Peer,
        cfg: &TimerConfig,
        out: &mut Out,
    ) {
        match self.state {
            InviteServerState::Completed => {
                self.timers.stop(Timer::G);
                self.timers.stop(Timer::H);
                let i = cfg.t4_or_zero(self.peer.is_reliable());
                if i.is_zero() {
                    self.state = InviteServerState::Terminated;
                } else {
                    self.timers.set(Timer::I, now + i);
                    self.state = InviteServerState::Confirmed;
                }
            }
            // RFC 6026 §8.7: an ACK that matches an Accepted transaction is for the 2xx,
            // and the TU needs it to stop retransmitting that 2xx.
            InviteServerState::Accepted => {
                out.event(TsxEvent::Ack2xx {
                    tsx: Some(self.id),
                    req: ack,
                    from,
                });
            }
            _ => {}
        }
    }

    pub fn send_response(
        &mut self,
        now: Instant,
        resp: Response,
        cfg: &TimerConfig,
        out: &mut Out,
    ) -> Result<(), TsxError> {
        use InviteServerState::*;
        let status = resp.status;
        match self.state {
            Proceeding => {
                self.timers.stop(Timer::Trying);
                out.send(self.peer, Message::Response(resp.clone()));
                self.last_response = Some(resp);
                if status.is_success() {
                    self.timers.set(Timer::L, now + cfg.t1_x64());
                    self.state = Accepted;
                } else if status.is_final() {
                    if !self.peer.is_reliable() {
                        self.g_interval = cfg.t1;
                        self.timers.set(Timer::G, now + cfg.t1);
                    }
                    self.timers.set(Timer::H, now + cfg.t1_x64());
                    self.state = Completed;
                }
                Ok(())
            }
            // The TU's own 2xx retransmissions (§13.3.1.4) and 2xx for other dialogs pass
            // through (RFC 6026 §7.1).
            Accepted if status.is_success() => {
                out.send(self.peer, Message::Response(resp));
                Ok(())
            }
            state => Err(TsxError::InvalidState {
                tsx: self.id,
                status: status.code(),
                state: state.name(),
            }),
        }
    }

    pub fn on_timeout(&mut self, now: Instant, cfg: &TimerConfig, out: &mut Out) {
        use InviteServerState::*;
        while let Some((timer, due)) = self.timers.pop_expired(now) {
            match timer {
                Timer::Trying if self.state == Proceeding && self.last_response.is_none() => {
                    let trying = response_for(&self.request, StatusCode::TRYING);
                    out.send(self.peer, Message::Response(trying.clone()));
                    self.last_response = Some(trying);
                }
                Timer::G if self.state == Completed => {
                    if let Some(r) = &self.last_response {
                        out.send(self.peer, Message::Response(r.clone()));
                    }
                    self.g_interval = (self.g_interval * 2).min(cfg.t2);
                    self.timers.set(Timer::G, rearm(due, self.g_interval, now));
                }
                Timer::H if self.state == Completed => {
                    // The ACK never came (§17.2.1): tell the TU, which may count the
                    // peer as broken.
                    self.timers.stop_all();
                    out.event(TsxEvent::Timeout { tsx: self.id });
                    self.state = Terminated;
                }
                Timer::I | Timer::L => {
                    self.timers.stop_all();
                    self.state = Terminated;
                }
                _ => {}
            }
        }
    }

    pub fn on_transport_error(&mut self, out: &mut Out) {
        if self.state == InviteServerState::Terminated {
            return;
        }
        self.timers.stop_all();
        out.event(TsxEvent::TransportError { tsx: self.id });
        self.state = InviteServerState::Terminated;
    }
}
