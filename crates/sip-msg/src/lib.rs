//! SIP messages on the wire (RFC 3261 §7, §20, §25; RFC 5118 for IPv6).
//!
//! This crate turns bytes into typed [`Request`]s and [`Response`]s and back. It is sans-IO:
//! it never touches a socket or a clock, and it never panics on peer input (a fuzz target
//! and property tests hold it to that).
//!
//! * [`parse_datagram`] parses one message from one UDP datagram (or one file);
//!   [`parse_datagram_with_warnings`] also says what it tolerated (bare-LF line ends, a
//!   Content-Length that disagrees in a bare-LF copy, a missing final empty line).
//! * [`StreamFramer`] cuts messages out of a TCP/TLS byte stream: check first, then parse;
//!   "incomplete" is a value, not an error. It also reports RFC 5626 CRLF keep-alives.
//! * [`validate()`] adds the checks a server applies after a message has parsed (mandatory
//!   headers, CSeq method, duplicated single-value headers, bare magic-cookie branch, Date
//!   in GMT): what the transaction layer uses to decide between processing and 400.
//!   [`lint`] is parse + validate, the verdict `switchboard sip lint` prints.
//! * Printing ([`Request::to_bytes`], `Display`) gives a message that parses back to the
//!   same value; Content-Length is always printed from the body.
//!
//! Well-known headers are typed ([`Header`]); every other header is kept byte-exact as
//! [`Header::Other`]. Multi-valued typed headers (Via, Contact, Route, ...) hold one value
//! per [`Header`] entry, in wire order.
//!
//! ```
//! use sb_sip_msg::{lint, parse_datagram, Message};
//!
//! let wire = b"OPTIONS sip:bob@example.com SIP/2.0\r\n\
//! Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK776\r\n\
//! From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n\
//! Call-ID: a1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
//! let Message::Request(req) = parse_datagram(wire)? else { unreachable!() };
//! assert_eq!(req.headers.top_via().and_then(|v| v.branch()), Some("z9hG4bK776"));
//! assert!(lint(&req.to_bytes()).is_ok());
//! # Ok::<(), sb_sip_msg::ParseError>(())
//! ```

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
