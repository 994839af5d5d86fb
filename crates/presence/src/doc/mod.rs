//! Presence documents on the wire.
//!
//! - [`pidf`]: RFC 3863 PIDF with RFC 4480 RPID extensions (`application/pidf+xml`).
//! - [`dialog_info`]: RFC 4235 dialog state (`application/dialog-info+xml`).
//! - [`rlmi`]: RFC 4662 resource list notifications (`multipart/related` with
//!   `application/rlmi+xml`).

pub mod dialog_info;
pub mod pidf;
pub mod rlmi;
