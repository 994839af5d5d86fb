//! SIP messages on the wire (RFC 3261 §7, §20, §25; RFC 5118 for IPv6).
//!
//! This crate turns bytes into typed [`Request`]s and [`Response`]s and back. It is sans-IO:
//! it never touches a socket or a clock, and it never panics on peer input.
//!
//! * [`parse_datagram`] parses one message from one UDP datagram (or one file).
//! * [`StreamFramer`] cuts messages out of a TCP/TLS byte stream: check first, then parse;
//!   "incomplete" is a value, not an error.
//! * [`validate`] adds the checks a server applies after a message has parsed (mandatory
//!   headers, CSeq method, duplicated single-value headers, ranges): what `switchboard sip
//!   lint` and the transaction layer use to decide between processing and 400.
//! * Printing ([`Request::to_bytes`], `Display`) gives a message that parses back to the
//!   same value.
//!
//! Well-known headers are typed ([`Header`]); every other header is kept byte-exact as
//! [`Header::Other`]. Multi-valued typed headers (Via, Contact, Route, ...) hold one value
//! per [`Header`] entry, in wire order.

pub mod error;
pub mod framing;
mod grammar;
pub mod header;
pub mod method;
pub mod msg;
pub mod params;
pub mod parse;
pub mod print;
pub mod uri;
pub mod validate;

pub use error::{ParseError, ParseErrorKind, ParseWarning};
pub use framing::{Framed, StreamFramer, DEFAULT_MAX_MESSAGE_SIZE};
pub use header::{
    CSeq, CallId, ContactValue, Header, HeaderName, Headers, NameAddr, OtherHeader, Transport, Via,
};
pub use method::Method;
pub use msg::{Message, Request, Response, StatusCode};
pub use params::Params;
pub use parse::{parse_datagram, parse_datagram_with_warnings};
pub use uri::{Host, SipUri, TelUri, Uri};
pub use validate::{lint, validate, Invalid, LintError, LintOk};
