//! SDP for mediation: the model, a parser and a printer (RFC 8866), and offer/answer
//! (RFC 3264).
//!
//! - [`parse`] turns a SIP body into a [`SessionDescription`]; `to_string()` prints it
//!   back with CRLF line ends in RFC 8866 §5 order. `parse(print(x)) == x`, and printing
//!   what we parsed is stable, so a description we relay loses nothing: unknown lines and
//!   attributes are kept verbatim, in order.
//! - [`answer`] answers an offer from our [`Capabilities`]: one audio stream accepted,
//!   the rest rejected with port 0, codecs in the offerer's order with its payload types,
//!   SDES crypto picked from the offer, ICE and rtcp-mux echoed, the direction answered
//!   per RFC 3264 §6.1 and RFC 6337.
//! - [`offer`] builds our own offer (one audio stream), and
//!   [`SessionDescription::reoffer_with_direction`] the re-offers that hold and resume.
//! - [`negotiated`] reads an offer and its answer into the facts the media engine needs:
//!   codec and payload types, remote address and RTCP port, SRTP keys per direction,
//!   remote ICE credentials and candidates, direction and hold, and the telephone-event
//!   with its own clock rate (which need not be the codec's: Opus with
//!   `telephone-event/8000`).
//!
//! ```
//! use sb_sdp::{parse, Direction};
//! let offer = parse(b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n\
//!     t=0 0\r\nm=audio 4000 RTP/AVP 0 8\r\na=sendonly\r\n").unwrap();
//! assert_eq!(offer.media[0].port, 4000);
//! assert!(sb_sdp::is_hold(&offer, &offer.media[0]));
//! assert_eq!(sb_sdp::answer_direction(Direction::SendOnly, Direction::SendRecv),
//!            Direction::RecvOnly);
//! ```
//!
//! Not handled (a section using them is rejected with a reason, never half-answered):
//! DTLS-SRTP (`UDP/TLS/RTP/SAVP(F)`; `a=fingerprint`/`a=setup` are kept for later),
//! BUNDLE (an offered group is not echoed, so the peer falls back to one transport per
//! section), more than one audio stream, video and data channels.
//!
//! It never does IO, never reads a clock or a random source (the caller passes key
//! material), and never panics on what a peer sends: sizes are bounded
//! ([`MAX_SIZE`], [`MAX_LINES`], [`MAX_MEDIA`]) and errors name the line.

mod attr;
mod crypto;
mod model;
mod negotiated;
mod offer;
mod offer_answer;
mod parse;

pub use attr::{Attribute, Candidate, CandidateType, Rtpmap};
pub use crypto::{base64_decode, base64_encode, Crypto, CryptoSuite, KeyParam, Lifetime, Mki};
pub use model::{
    Address, Bandwidth, Connection, Direction, MediaDescription, Origin, OtherLine, Proto, Pt,
    SessionDescription, Timing,
};
pub use negotiated::{
    negotiated, NegotiationError, RemoteIce, Role, Session, SrtpKeys, Stream, TelephoneEvent,
};
pub use offer::{offer, OfferOptions};
pub use offer_answer::{
    answer, answer_direction, connection, declared_direction, is_hold, rtpmap, Answer,
    Capabilities, Codec, LocalIce, LocalMedia, NotAcceptable, PtMap, Rejection,
    TELEPHONE_EVENT_FALLBACK_RATE,
};
pub use parse::{parse, parse_str, ParseError, ParseErrorKind, MAX_LINES, MAX_MEDIA, MAX_SIZE};
