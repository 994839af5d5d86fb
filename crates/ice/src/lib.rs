//! STUN messages (RFC 8489) and a sans-IO ICE agent (RFC 8445) for the client leg of a
//! media stream.
//!
//! Mediation answers secure clients (softphones, browsers) that gather candidates and
//! check connectivity with ICE, over one rtcp-muxed component (browsers, and softphones
//! set so) or two (Debian's baresip by default). Switchboard's addresses are
//! known, so the agent offers host candidates only (no STUN or TURN server gathering); it
//! is normally the controlled agent, becomes controlling when the peer is ICE lite or a
//! role conflict says so, and keeps consent (RFC 7675) for the pair media runs on.
//!
//! - [`stun`]: [`Message`] encode/decode with MESSAGE-INTEGRITY, FINGERPRINT and the ICE
//!   attributes; [`classify`] demultiplexes a media port's datagrams (RFC 7983).
//! - [`IceAgent`]: the check list, nomination, consent and restart.
//! - [`Credentials`], [`LocalCandidate`], [`RemoteCandidate`]: what goes into and comes
//!   out of SDP (`sb_sdp::Candidate`, `sb_sdp::RemoteIce`).
//!
//! # Driving the agent
//!
//! Time is an input. After every input, drain `poll_transmit` and `poll_event`, then arm
//! one timer at `poll_timeout`:
//!
//! ```no_run
//! use sb_ice::{Credentials, IceAgent, IceConfig, IceEvent};
//! use std::time::Instant;
//! # fn recv() -> (std::net::SocketAddr, std::net::SocketAddr, Vec<u8>) { unimplemented!() }
//! # fn send(_: std::net::SocketAddr, _: std::net::SocketAddr, _: &[u8]) {}
//! # let remote: sb_sdp::RemoteIce = unimplemented!();
//! let local = "192.0.2.10:40000".parse().unwrap();
//! let mut agent = IceAgent::new(
//!     IceConfig::default(),
//!     &[local],
//!     Credentials::from_entropy(&[7; 24]), // from the OS in real use
//!     0x1234_5678,                         // likewise
//! );
//! agent.set_remote(Instant::now(), &remote, || Credentials::from_entropy(&[8; 24]));
//! loop {
//!     while let Some(t) = agent.poll_transmit() {
//!         send(t.local, t.remote, &t.payload);
//!     }
//!     while let Some(e) = agent.poll_event() {
//!         if let IceEvent::SelectedPair(p) = e {
//!             println!("media on {} -> {}", p.local, p.remote);
//!         }
//!     }
//!     // Wait for a datagram or until agent.poll_timeout(), then:
//!     let (on, from, bytes) = recv();
//!     if !agent.handle_packet(Instant::now(), on, from, &bytes) {
//!         // Not STUN: RTP/RTCP (or DTLS) for the media path.
//!     }
//!     agent.handle_timeout(Instant::now());
//! }
//! ```
//!
//! Left out on purpose: gathering server-reflexive or relayed candidates, TCP candidates,
//! resolving mDNS `.local` names (such a peer is learnt as peer reflexive from its first
//! check), and running as an ICE-lite agent.
//!
//! A client without ICE (no `a=ice-ufrag` in its SDP) needs no agent: media goes to the
//! address in its SDP, latched to the source of its RTP. The agent itself never reads a
//! clock, never touches a socket and never panics on peer input (property tests and the
//! `stun` fuzz target enforce it).

mod agent;
mod candidate;
mod check;
mod crc;
pub mod stun;

pub use agent::{
    IceAgent, IceConfig, IceEvent, IceRole, IceState, IceStats, RemoteChange, SelectedPair,
    Transmit,
};
pub use candidate::{
    candidate_priority, host_candidates, host_candidates_for, pair_priority, CandidateKind,
    Credentials, LocalCandidate, RemoteCandidate,
};
pub use stun::{classify, Attribute, Class, Message, Method, PacketKind, StunError, TransactionId};
