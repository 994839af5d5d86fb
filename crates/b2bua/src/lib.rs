//! The mediation back-to-back user agent: two dialogs per call, topology hiding, and SDP
//! anchored through the media API.
//!
//! Mediation is its own SIP endpoint between the client side (the front end and, through
//! it, clients: TLS, SRTP, ICE, Opus) and the gateway side (PSTN gateways and IP-PBXs:
//! UDP/TCP, plain RTP, G.711). Every call has an **A leg** (the INVITE we answer) and a
//! **B leg** (the INVITE we send):
//!
//! * outbound, client → PSTN: the front end's proxy sends the call to us with the route's
//!   pool as a Request-URI parameter (`sip:+15551234567@mediation;pool=pstn`; without
//!   one, [`B2buaConfig::default_pool`]); we try the pool's gateways in
//!   [`sb_gateways::candidates`] order, failing over on 408, 5xx, timeouts and transport
//!   errors, and give the caller 503 with a Reason when none is left;
//! * inbound, PSTN → client: an INVITE from a provisioned gateway (matched by source IP)
//!   goes to the front end as a trunk call, numbers through the gateway's inbound rules
//!   and the caller read by [`sb_gateways::inbound_caller`].
//!
//! The B leg shares nothing with the A leg but the numbers: new Call-ID, tags, Via and
//! Contact, no Record-Route or Route, and our own SDP on our own media port. Each leg has
//! its own offer/answer with us; the media engine joins the legs (see [`sb_media_api`]).
//!
//! # Driving it
//!
//! Time is an input; the core never reads a clock, touches a socket or awaits. The
//! caller feeds it parsed SIP messages and media events and drains four outputs after
//! every input:
//!
//! ```no_run
//! use std::time::Instant;
//! use sb_b2bua::{B2bua, B2buaConfig};
//! # fn config() -> B2buaConfig { unimplemented!() }
//! # fn receive() -> Option<(sb_sip_msg::Message, sb_sip_core::Peer)> { None }
//! # fn media_event() -> Option<sb_media_api::Event> { None }
//! # fn send(_: sb_sip_core::Transmit) {}
//! # fn to_engine(_: sb_media_api::Command) {}
//! let now = Instant::now();
//! let mut b2bua = B2bua::new(now, config(), sb_sip_core::TimerConfig::default(), 0x5eed);
//! loop {
//!     let now = Instant::now();
//!     if let Some((msg, from)) = receive() {
//!         b2bua.handle_message(now, msg, from);
//!     } else if let Some(ev) = media_event() {
//!         b2bua.handle_media_event(now, ev);
//!     } else {
//!         b2bua.handle_timeout(now);
//!     }
//!     while let Some(t) = b2bua.poll_transmit() { send(t); }
//!     while let Some(c) = b2bua.poll_media() { to_engine(c); }
//!     while let Some(e) = b2bua.poll_event() { println!("{e:?}"); }
//!     // sleep until b2bua.poll_timeout() or the next input
//! }
//! ```
//!
//! Nothing needs a query: RTP ports come from the configured range this instance owns
//! ([`MediaConfig`]; the runtime binds `ip:port` and `port + 1` on
//! [`sb_media_api::Command::AddLeg`]), gateway addresses from the configuration
//! ([`B2buaConfig::gateway_addrs`] holds what the runtime resolved for named gateways).
//! Gateway keep-alives run through the B2BUA's own transaction layer, so the runtime
//! hands it every response that arrives on the mediation address.
//!
//! Per gateway profile: number rules both ways, caller identity (PAI/RPID, privacy),
//! codecs, RFC 4733 or in-band DTMF, `Require: 100rel` (reliable 1xx are PRACKed) and an
//! RFC 4028 session timer. An INVITE without SDP, from either side, gets our offer in
//! the 2xx and its answer from the ACK.
//!
//! Transfer by a client (REFER, and REFER with Replaces) is served by the B2BUA itself:
//! the gateway leg is held, the target called, and the gateway re-INVITEd toward it; the
//! gateway never receives REFER (see `transfer.rs`).
//!
//! Not yet: 422 retry with a larger Session-Expires, a no-answer timer while the B leg
//! rings, media
//! bypass, DTLS-SRTP, more than one audio stream, and RFC 3263 resolution (the runtime
//! resolves named gateways into [`B2buaConfig::gateway_addrs`]).
//!
//! # Panics and errors
//!
//! Peer input never panics: a message that does not fit is answered with the status the
//! RFCs ask for (400, 403, 481, 488, 491, 500 with Retry-After) or dropped.

mod call;
mod config;
mod core;
mod ids;
mod indialog;
mod media;
mod progress;
mod setup;
mod transfer;
mod wire;

pub use crate::call::CallDirection;
pub use crate::config::{B2buaConfig, ClientSideConfig, MediaConfig, Side};
pub use crate::core::{B2bua, B2buaEvent};
pub use crate::ids::{CallRef, KeySource};
pub use crate::media::MediaError;
pub use crate::transfer::NO_ANSWER as TRANSFER_NO_ANSWER;
