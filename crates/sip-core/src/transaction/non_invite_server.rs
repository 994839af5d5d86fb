//! RFC 3261 §17.2.2 non-INVITE server transaction.
//!
//! ```text
//!  Trying ──1xx──▶ Proceeding ──200-699──▶ Completed ──Timer J──▶ Terminated
//!     └─────────200-699───────────────────────▲
//! ```
//!
//! A retransmitted request is absorbed while Trying (the TU has nothing to say yet) and
//! answered with the last response afterwards; no response is ever retransmitted on a
//! timer, the client's retransmissions drive it.

use std::time::Instant;

use sb_sip_msg::{Message, Request, Response};

use super::event::{Out, TsxId};
use super::timer::{Timer, TimerConfig, TimerTable};
use crate::error::TsxError;
use crate::peer::Peer;
use crate::transaction::TsxEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonInviteServerState {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

impl NonInviteServerState {
    fn name(self) -> &'static str {
        match self {
            NonInviteServerState::Trying => "Trying",
            NonInviteServerState::Proceeding => "Proceeding",
            NonInviteServerState::Completed => "Completed",
            NonInviteServerState::Terminated => "Terminated",
        }
    }
}

#[derive(Debug)]
pub(crate) struct NonInviteServer {
    id: TsxId,
    peer: Peer,
    request: Request,
    state: NonInviteServerState,
    timers: TimerTable,
    last_response: Option<Response>,
}

impl NonInviteServer {
    pub fn new(id: TsxId, request: Request, peer: Peer) -> Self {
        NonInviteServer {
            id,
            peer,
            request,
            state: NonInviteServerState::Trying,
            timers: TimerTable::default(),
            last_response: None,
        }
    }

    pub fn state(&self) -> NonInviteServerState {
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
        self.state == NonInviteServerState::Terminated
    }

    /// A retransmission of the request.
    pub fn on_request(&mut self, out: &mut Out) {
        if matches!(
            self.state,
            NonInviteServerState::Proceeding | NonInviteServerState::Completed
        ) {
            if let Some(r) = &self.last_response {
                out.send(self.peer, Message::Response(r.clone()));
            }
        }
    }

    pub fn send_response(
        &mut self,
        now: Instant,
        resp: Response,
        cfg: &TimerConfig,
        out: &mut Out,
    ) -> Result<(), TsxError> {
        use NonInviteServerState::*;
        match self.state {
            Trying | Proceeding => {
                let fin = resp.status.is_final();
                out.send(self.peer, Message::Response(resp.clone()));
                self.last_response = Some(resp);
                if fin {
                    let j = cfg.j(self.peer.is_reliable());
                    if j.is_zero() {
                        self.state = Terminated;
                    } else {
                        self.timers.set(Timer::J, now + j);
                        self.state = Completed;
                    }
                } else {
                    self.state = Proceeding;
                }
                Ok(())
            }
            state => Err(TsxError::InvalidState {
                tsx: self.id,
                status: resp.status.code(),
                state: state.name(),
            }),
        }
    }

    pub fn on_timeout(&mut self, now: Instant) {
        while let Some((timer, _)) = self.timers.pop_expired(now) {
            if timer == Timer::J {
                self.timers.stop_all();
                self.state = NonInviteServerState::Terminated;
            }
        }
    }

    pub fn on_transport_error(&mut self, out: &mut Out) {
        if self.state == NonInviteServerState::Terminated {
            return;
        }
        self.timers.stop_all();
        out.event(TsxEvent::TransportError { tsx: self.id });
        self.state = NonInviteServerState::Terminated;
    }
}
