//! The core the server runs today: the transaction layer with the front-end policy as its
//! transaction user.
//!
//! Requests that fail `sb_sip_msg::validate` are answered statelessly with 400 (RFC 4475
//! `badbranch`: "preferably statelessly"): without a valid Via branch and CSeq there is no
//! transaction to match retransmissions against, and building one would let malformed
//! input occupy state.

use crate::core::{Core, Transmit};
use sb_frontend::Frontend;
use sb_sip_core::{ConnId, Peer, TimerConfig, TransactionLayer, TsxEvent};
use sb_sip_msg::{Message, ParseError, Request, StatusCode};
use std::collections::VecDeque;
use std::time::Instant;

/// Transaction layer + front end, driven by the runtime's event loop.
#[derive(Debug)]
pub struct ServerCore {
    tsx: TransactionLayer,
    fe: Frontend,
    shutting_down: bool,
    /// Stateless answers (400s), sent after the transaction layer's transmits.
    stateless: VecDeque<Transmit>,
}

impl ServerCore {
    pub fn new(timers: TimerConfig, seed: u64, frontend: Frontend) -> Self {
        ServerCore {
            tsx: TransactionLayer::new(timers, seed),
            fe: frontend,
            shutting_down: false,
            stateless: VecDeque::new(),
        }
    }

    fn on_request(&mut self, now: Instant, from: Peer, req: Request) {
        let msg = Message::Request(req);
        let checked = sb_sip_msg::validate(&msg);
        let Message::Request(req) = msg else {
            unreachable!("wrapped a request just above")
        };
        if let Err(why) = checked {
            tracing::debug!(%from, reason = %why, "invalid request");
            metrics::counter!("sip_invalid_requests_total").increment(1);
            if let Some(resp) = self.fe.handle_invalid(&req, &why) {
                self.stateless.push_back(Transmit {
                    peer: from,
                    message: Message::Response(resp),
                });
            }
            return;
        }
        self.tsx.handle_request(now, req, from);
        self.drain_events(now);
    }

    /// Answers what the transaction layer reports; the TU side of §17.2.
    fn drain_events(&mut self, now: Instant) {
        while let Some(ev) = self.tsx.poll_event() {
            let (tsx, resp) = match ev {
                TsxEvent::NewRequest { tsx, req, .. } => {
                    let resp = if self.shutting_down {
                        self.fe.refuse_unavailable(&req)
                    } else {
                        self.fe.handle_request(&req)
                    };
                    (tsx, resp)
                }
                // §9.2: a CANCEL that matches a transaction we already answered finally
                // gets 200 and changes nothing; one that matches nothing gets 481, which
                // is what the policy answers for CANCEL.
                TsxEvent::Cancel {
                    tsx,
                    target: Some(_),
                    req,
                    ..
                } => (tsx, Some(self.fe.respond(&req, StatusCode::OK))),
                TsxEvent::Cancel {
                    tsx,
                    target: None,
                    req,
                    ..
                } => (tsx, self.fe.handle_request(&req)),
                _ => continue,
            };
            if let Some(resp) = resp {
                if let Err(e) = self.tsx.send_response(now, tsx, resp) {
                    tracing::warn!(error = %e, "transaction layer refused a response");
                }
            }
        }
    }
}

impl Core for ServerCore {
    fn handle_message(&mut self, now: Instant, from: Peer, msg: Message) {
        match msg {
            Message::Request(req) => self.on_request(now, from, req),
            Message::Response(resp) => {
                self.tsx.handle_response(now, resp, from);
                self.drain_events(now);
            }
        }
    }

    fn handle_malformed(&mut self, _now: Instant, from: Peer, bytes: &[u8], err: &ParseError) {
        if let Some(resp) = self.fe.handle_parse_error(bytes, err) {
            self.stateless.push_back(Transmit {
                peer: from,
                message: Message::Response(resp),
            });
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.tsx.handle_timeout(now);
        self.drain_events(now);
    }

    fn handle_connection_lost(&mut self, now: Instant, conn: ConnId) {
        self.tsx.handle_connection_lost(now, conn);
        self.drain_events(now);
    }

    fn begin_shutdown(&mut self, _now: Instant) {
        self.shutting_down = true;
    }

    fn transactions(&self) -> usize {
        self.tsx.len()
    }

    /// The front end answers every request within the input that delivered it and sends no
    /// requests of its own, so nothing ever waits on a final response. What remains are
    /// Completed transactions absorbing retransmissions (Timer J, 32 s over UDP), which are
    /// not worth holding a shutdown for.
    fn in_flight(&self) -> usize {
        0
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(t) = self.tsx.poll_transmit() {
            return Some(Transmit {
                peer: t.to,
                message: t.message,
            });
        }
        self.stateless.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.tsx.poll_timeout()
    }
}
