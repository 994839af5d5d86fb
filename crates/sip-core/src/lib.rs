//! SIP transactions (RFC 3261 §17 with RFC 6026) for Switchboard.
//!
//! [`TransactionLayer`] owns every client and server transaction of one shard: it matches
//! incoming messages to transactions, runs the retransmission and timeout timers A–M, and
//! tells the transaction user (UA core, proxy) what happened. [`uas::Uas2xxRetransmitter`]
//! is the UAS core's 2xx retransmission schedule (§13.3.1.4), which is not a transaction's
//! job.
//!
//! # Time is an input
//!
//! Nothing here reads a clock, opens a socket or awaits. Every input carries `now`; the
//! layer says when it next wants to be woken. The run loop:
//!
//! ```no_run
//! use std::time::Instant;
//! use sb_sip_core::{Peer, TimerConfig, TransactionLayer, TsxEvent};
//! # fn receive() -> Option<(sb_sip_msg::Message, Peer)> { None }
//! # fn send(_: sb_sip_core::Transmit) {}
//! let mut layer = TransactionLayer::new(TimerConfig::default(), 0x5eed);
//! loop {
//!     let now = Instant::now();
//!     match receive() {
//!         Some((sb_sip_msg::Message::Request(r), from)) => layer.handle_request(now, r, from),
//!         Some((sb_sip_msg::Message::Response(r), from)) => layer.handle_response(now, r, from),
//!         None => layer.handle_timeout(now),
//!     }
//!     while let Some(t) = layer.poll_transmit() {
//!         send(t);
//!     }
//!     while let Some(ev) = layer.poll_event() {
//!         if let TsxEvent::NewRequest { tsx, req, .. } = ev {
//!             let resp = sb_sip_core::response_for(&req, sb_sip_msg::StatusCode::NOT_FOUND);
//!             layer.send_response(now, tsx, resp).expect("fresh server transaction");
//!         }
//!     }
//!     // sleep until layer.poll_timeout() or the next datagram
//! }
//! ```
//!
//! # Panics and errors
//!
//! Peer input never panics and never returns an error: a message the layer cannot use is
//! dropped and counted in [`transaction::Stats`]. Commands from the TU that make no sense
//! (answering a transaction that is gone, sending an ACK as a transaction) return
//! [`TsxError`].

pub mod dialog;
pub mod error;
pub mod peer;
pub mod transaction;
pub mod uas;

pub use dialog::{Dialog, DialogError, DialogId, DialogState, OfferAnswer, Prack, SessionTimer};
pub use error::TsxError;
pub use peer::{ConnId, Peer, TransportKind};
pub use transaction::{
    response_for, InviteClientState, InviteServerState, NonInviteClientState, NonInviteServerState,
    Stats, Timer, TimerConfig, TransactionLayer, Transmit, TsxEvent, TsxId, TsxState,
};
pub use uas::{Uas2xxEvent, Uas2xxRetransmitter};
