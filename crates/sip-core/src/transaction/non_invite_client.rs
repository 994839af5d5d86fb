//! RFC 3261 §17.1.2 non-INVITE client transaction.
//!
//! ```text
//!          send request (Timer E if unreliable, Timer F)
//!  Trying ──1xx──▶ Proceeding ──200-699──▶ Completed ──Timer K──▶ Terminated
//!     └──────────200-699─────────────────────▲
//! ```
//!
//! Timer E doubles up to T2 while Trying and fires every T2 once Proceeding: a provisional
//! response to a non-INVITE does not stop retransmissions, it only slows them (§17.1.2.2).
//! A CANCEL created before its INVITE has seen a provisional response waits in `Held`
//! (§9.1: "a CANCEL ... SHOULD NOT be sent" before a provisional response).

use std::time::{Duration, Instant};

use sb_sip_msg::{Message, Request, Response};

use super::event::{Out, TsxEvent, TsxId};
use super::timer::{rearm, Timer, TimerConfig, TimerTable};
use crate::peer::Peer;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonInviteClientState {
    /// Created but not yet sent (a CANCEL waiting for its INVITE's provisional response).
    Held,
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

#[derive(Debug)]
pub(crate) struct NonInviteClient {
    id: TsxId,
    peer: Peer,
    request: Request,
    state: NonInviteClientState,
    timers: TimerTable,
    e_interval: Duration,
}

impl NonInviteClient {
    /// A transaction that does nothing until [`NonInviteClient::start`].
    pub fn held(id: TsxId, request: Request, peer: Peer, cfg: &TimerConfig) -> Self {
        NonInviteClient {
            id,
            peer,
            request,
            state: NonInviteClientState::Held,
            timers: TimerTable::default(),
            e_interval: cfg.t1,
        }
    }

    /// Sends the request and enters Trying.
    pub fn start(&mut self, now: Instant, cfg: &TimerConfig, out: &mut Out) {
        if self.state != NonInviteClientState::Held {
            return;
        }
        if !self.peer.is_reliable() {
            self.timers.set(Timer::E, now + cfg.t1);
        }
        self.timers.set(Timer::F, now + cfg.t1_x64());
        self.e_interval = cfg.t1;
        out.send(self.peer, Message::Request(self.request.clone()));
        self.state = NonInviteClientState::Trying;
    }

    /// Drops a held transaction without sending anything.
    pub fn abandon(&mut self) {
        self.timers.stop_all();
        self.state = NonInviteClientState::Terminated;
    }

    pub fn state(&self) -> NonInviteClientState {
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
        self.state == NonInviteClientState::Terminated
    }

    pub fn on_response(&mut self, now: Instant, resp: Response, cfg: &TimerConfig, out: &mut Out) {
        use NonInviteClientState::*;
        match self.state {
            Trying | Proceeding if resp.status.is_provisional() => {
                self.state = Proceeding;
                out.event(TsxEvent::Response { tsx: self.id, resp });
            }
            Trying | Proceeding => {
                self.timers.stop_all();
                out.event(TsxEvent::Response { tsx: self.id, resp });
                let k = cfg.t4_or_zero(self.peer.is_reliable());
                if k.is_zero() {
                    self.state = Terminated;
                } else {
                    self.timers.set(Timer::K, now + k);
                    self.state = Completed;
                }
            }
            // Completed absorbs retransmitted responses; Held has sent nothing.
            _ => {}
        }
    }

    pub fn on_timeout(&mut self, now: Instant, cfg: &TimerConfig, out: &mut Out) {
        use NonInviteClientState::*;
        while let Some((timer, due)) = self.timers.pop_expired(now) {
            match timer {
                Timer::E if matches!(self.state, Trying | Proceeding) => {
                    out.send(self.peer, Message::Request(self.request.clone()));
                    self.e_interval = if self.state == Trying {
                        (self.e_interval * 2).min(cfg.t2)
                    } else {
                        cfg.t2
                    };
                    self.timers.set(Timer::E, rearm(due, self.e_interval, now));
                }
                Timer::F => {
                    self.timers.stop_all();
                    out.event(TsxEvent::Timeout { tsx: self.id });
                    self.state = Terminated;
                }
                Timer::K => {
                    self.timers.stop_all();
                    self.state = Terminated;
                }
                _ => {}
            }
        }
    }

    pub fn on_transport_error(&mut self, out: &mut Out) {
        if matches!(self.state, NonInviteClientState::Terminated) {
            return;
        }
        self.timers.stop_all();
        out.event(TsxEvent::TransportError { tsx: self.id });
        self.state = NonInviteClientState::Terminated;
    }
}
