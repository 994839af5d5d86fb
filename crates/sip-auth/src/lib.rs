//! SIP digest authentication (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760), sans-IO.
//!
//! What it does:
//!
//! * parses and prints `WWW-Authenticate` / `Proxy-Authenticate` challenges and
//!   `Authorization` / `Proxy-Authorization` credentials ([`header`]);
//! * computes HA1 so the store never keeps a password, and the request digest for MD5,
//!   SHA-256 and SHA-512/256 ([`hash`]);
//! * issues self-validating nonces that expire, and refuses a replayed nonce-count
//!   ([`nonce`]);
//! * decides 401/407/403 for a request ([`DigestAuth`], [`Outcome`]);
//! * throttles a source address after repeated failures ([`FailureTracker`]).
//!
//! What it never does: read a clock (time is Unix seconds passed in by the caller, because
//! nonces outlive the process and are checked by other front ends), touch a socket or a
//! database, or panic on peer input.
//!
//! Driving it, for each request that needs authentication:
//!
//! ```
//! use sb_sip_auth::{AuthConfig, AuthRole, DigestAuth, Outcome, Step};
//! # use sb_sip_msg::{Method, Request, Uri};
//! # let req: Request = match sb_sip_msg::parse_datagram(b"REGISTER sip:example.com SIP/2.0\r\n\
//! # Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:alice@example.com>;tag=1\r\n\
//! # To: <sip:alice@example.com>\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n")
//! # .unwrap() { sb_sip_msg::Message::Request(r) => r, _ => unreachable!() };
//! let now = 1_700_000_000; // Unix seconds, from the caller's clock
//! let mut auth = DigestAuth::new(AuthConfig::new("example.com"), b"shared secret", 42, now);
//! let outcome = match auth.start(&req, AuthRole::Registrar) {
//!     Step::Done(outcome) => outcome,
//!     Step::NeedHa1 { credentials, algorithm } => {
//!         // Look the HA1 up in the store; for an unknown user use the dummy one.
//!         let ha1 = auth.dummy_ha1(&credentials.username, &credentials.realm, algorithm);
//!         auth.verify(now, &req.method, &credentials, &ha1)
//!     }
//! };
//! match outcome {
//!     Outcome::Authorized { user } => { /* go on as `user` */ }
//!     Outcome::Challenge { stale } => {
//!         // 401 (or 407) with these headers:
//!         let headers = auth.challenge_headers(now, AuthRole::Registrar, stale);
//!         assert_eq!(headers.len(), 2); // SHA-256 first, then MD5
//!     }
//!     Outcome::Forbidden { reason } => { /* 403 with the reason */ }
//! }
//! ```

pub mod hash;
pub mod header;
pub mod nonce;
pub mod throttle;
pub mod verify;

#[cfg(test)]
mod tests;

pub use hash::{request_digest, Algorithm, Ha1, Ha1Error, QopParts};
pub use header::{
    parse_auth_value, parse_challenge, parse_credentials, AuthParam, AuthParseError, AuthValue,
    Challenge, Credentials,
};
pub use nonce::{NonceConfig, NonceError, Nonces};
pub use throttle::{FailureTracker, ThrottleConfig, Verdict};
pub use verify::{
    AuthConfig, AuthConfigError, AuthRole, DigestAuth, ForbiddenReason, Outcome, Step,
};
