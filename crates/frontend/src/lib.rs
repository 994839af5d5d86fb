//! The front end: what the server answers to each request it receives (sans-IO).
//!
//! The front end is a policy that turns each request into at most one response; the order
//! of its checks and the RFC sections behind them are written down in [`policy`]. With
//! services ([`Frontend::with_services`]) it also serves REGISTER: digest authentication
//! and the registrar ([`services`]), whose credentials come from the store as [`Query`]s
//! and whose binding changes leave as writes ([`Frontend::poll_write`]). Requests that failed to
//! parse or to validate are answered too ([`Frontend::handle_parse_error`],
//! [`Frontend::handle_invalid`]): 400 with the reason in the reason phrase, 505 for a bad
//! version, as long as enough of the message survives to address a response.
//!
//! The front end never reads a clock, never touches a socket and keeps no per-request state
//! between calls; the transaction layer (`sb-sip-core`) in front of it absorbs
//! retransmissions, and the runtime (`sb-runtime`) carries bytes.
//!
//! ```
//! use sb_frontend::{Frontend, FrontendConfig};
//! let mut fe = Frontend::new(FrontendConfig { tag_seed: 7, ..Default::default() });
//! # let _ = &mut fe;
//! // for each request that passed sb_sip_msg::validate:
//! //     if let Some(resp) = fe.handle_request(&req) { /* hand it to the transaction */ }
//! ```

pub mod policy;
pub mod recover;
pub mod response;
pub mod services;
#[cfg(test)]
mod tests;

pub use policy::{Frontend, FrontendConfig, ALLOWED};
pub use response::{response_to, sanitize_reason};
pub use sb_registrar::{Aor, Binding, Effect, RegistrarConfig, RemoveReason, Source};
pub use sb_sip_auth::{Algorithm, AuthConfig, Ha1, NonceConfig, ThrottleConfig};
pub use services::{
    AuthSettings, Event, Query, QueryError, QueryId, QueryResult, ReqKey, ServicesConfig, WallClock,
};
