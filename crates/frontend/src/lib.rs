//! The front end: what the server answers to each request it receives (sans-IO).
//!
//! The front end is a policy that turns each request into at most one response; the order
//! of its checks and the RFC sections behind them are written down in [`policy`]. With
//! services ([`Frontend::with_services`]) it also serves REGISTER (digest authentication
//! and the registrar, [`services`]) and challenges other requests from users of our
//! domains with 407 before answering them; credentials come from the store as [`Query`]s
//! and binding changes leave as writes ([`Frontend::poll_write`]). Requests that failed to
//! parse or to validate are answered too ([`Frontend::handle_parse_error`],
//! [`Frontend::handle_invalid`]): 400 with the reason in the reason phrase, 505 for a bad
//! version, as long as enough of the message survives to address a response.
//!
//! The front end never reads a clock and never touches a socket or a database: time is
//! an input (`Instant`s, mapped to Unix seconds by a [`WallClock`] fixed at start), the
//! store is reached by queries whose answers come back as inputs, and the only state kept
//! between calls is the registrar's bindings, the nonce counts and the requests waiting
//! for a query. The transaction layer (`sb-sip-core`) in front of it absorbs
//! retransmissions, and the runtime (`sb-runtime`) carries bytes and runs the queries.
//!
//! Driving it, after every input draining every output:
//!
//! ```
//! use sb_frontend::*;
//! use std::time::{Duration, Instant};
//! # let req = match sb_sip_msg::parse_datagram(b"REGISTER sip:example.com SIP/2.0\r\n\
//! # Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:alice@example.com>;tag=1\r\n\
//! # To: <sip:alice@example.com>\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\n\
//! # Contact: <sip:alice@192.0.2.1>\r\nContent-Length: 0\r\n\r\n").unwrap() {
//! #     sb_sip_msg::Message::Request(r) => r, _ => unreachable!() };
//! let t0 = Instant::now();
//! let auth = AuthSettings {
//!     config: AuthConfig::new("example.com"),
//!     realm_per_domain: true,
//!     secret: b"shared by the front ends".to_vec(),
//!     throttle: ThrottleConfig::default(),
//! };
//! let services = ServicesConfig::new(RegistrarConfig::default(), Some(auth));
//! let clock = WallClock { at: t0, unix: 1_800_000_000 };
//! let mut fe = Frontend::with_services(FrontendConfig::default(), services, clock);
//! // For each request that passed sb_sip_msg::validate, keyed by its transaction:
//! let source = Source { transport: sb_sip_msg::Transport::Udp, addr: "192.0.2.1:5060".parse().unwrap() };
//! fe.handle_request_at(t0, ReqKey(1), &req, source);
//! while let Some((key, response)) = fe.poll_response() {
//!     assert_eq!(response.status.0, 401); // no credentials yet: the challenge
//!     # let _ = key;
//! }
//! while let Some(query) = fe.poll_query() {
//!     // Run it against the store elsewhere; later: fe.handle_query_result(now, query.id(), answer)
//!     # let _ = query;
//! }
//! while let Some(write) = fe.poll_write() {
//!     // Persist the binding change, in order.
//!     # let _ = write;
//! }
//! while let Some(event) = fe.poll_event() {
//!     // Count it in a metric.
//!     # let _ = event;
//! }
//! // Wake at fe.poll_timeout() and call fe.handle_timeout(now): queries past their
//! // deadline get 503, lapsed bindings go.
//! # let _ = Duration::ZERO;
//! ```

pub mod calls;
pub mod policy;
mod presence;
pub mod recover;
pub mod response;
pub mod services;
#[cfg(test)]
mod tests;

pub use calls::{CallSettings, TrunkAddr};
pub use policy::{Frontend, FrontendConfig, OutId, ALLOWED};
pub use presence::Proxied;
pub use response::{response_to, sanitize_reason};
pub use sb_registrar::{Aor, Binding, Effect, RegistrarConfig, RemoveReason, Source};
pub use sb_sip_auth::{Algorithm, AuthConfig, Ha1, NonceConfig, ThrottleConfig};
pub use services::{
    AuthSettings, Event, Query, QueryError, QueryId, QueryResult, ReqKey, ServicesConfig, WallClock,
};
