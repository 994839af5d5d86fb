//! The SIP registrar (RFC 3261 §10.3; RFC 5626 §6 basics), sans-IO.
//!
//! It keeps the bindings of each address-of-record: adds, refreshes and removes them from
//! REGISTER requests, lets them lapse on a timer, and lists them for routing. It never
//! reads a clock (time is Unix seconds given by the caller, since bindings are persisted
//! and outlive the process), never touches a socket or a database, and does not
//! authenticate: the caller does that first (with `sb-sip-auth`) and says who the request
//! is from ([`Authorized`]).
//!
//! Driving it:
//!
//! ```
//! use sb_registrar::{Aor, Authorized, Effect, Registrar, RegistrarConfig, Source};
//! # use sb_sip_msg::{parse_datagram, Message, Transport};
//! # let Message::Request(req) = parse_datagram(b"REGISTER sip:example.com SIP/2.0\r\n\
//! # Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:alice@example.com>;tag=1\r\n\
//! # To: <sip:alice@example.com>\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\n\
//! # Contact: <sip:alice@192.0.2.1>\r\nContent-Length: 0\r\n\r\n").unwrap() else { panic!() };
//! let mut reg = Registrar::new(RegistrarConfig::default());
//! let now = 1_700_000_000; // Unix seconds from the caller's clock
//! // At start: reg.restore(now, bindings_from_the_store);
//! let source = Source { transport: Transport::Udp, addr: "192.0.2.1:5060".parse().unwrap() };
//! let reply = reg.handle_register(now, &req, &source, &Authorized::Unchecked);
//! assert_eq!(reply.status.0, 200); // reply.headers go into the response
//! while let Some(effect) = reg.poll_effect() {
//!     match effect {
//!         Effect::Upsert(binding) => { /* write to the store */ }
//!         Effect::Remove { binding, .. } => { /* delete it from the store */ }
//!     }
//! }
//! // Arm a timer for reg.poll_timeout(); when it fires, call reg.handle_timeout(now)
//! // and drain the effects again.
//! assert_eq!(reg.poll_timeout(), Some(now + 3600));
//! let targets = reg.bindings(&Aor::from_canonical("sip:alice@example.com"));
//! assert_eq!(targets.len(), 1);
//! ```

pub mod binding;
mod date;
pub mod registrar;

pub use binding::{parse_contact, uri_key, Aor, Binding, BindingKey, Source, Q};
pub use registrar::{
    Authorized, ConfigError, Effect, RegisterError, Registrar, RegistrarConfig, RemoveReason, Reply,
};
