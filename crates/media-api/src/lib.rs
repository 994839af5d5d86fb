//! Commands and events between call signalling and the media engine.
//!
//! The B2BUA knows only this crate; the media engine (`sb-media`) implements it. Keeping
//! the boundary as plain data (every type is `serde`-serialisable and owns its fields) lets
//! the engine run in the same process as signalling today and out of process later without
//! a change to either side.
//!
//! The model:
//!
//! - A **session** ([`SessionId`]) is one call's media: the legs it joins.
//! - A **leg** ([`LegId`]) is one RTP stream to one peer, on one local socket, with what
//!   SDP offer/answer agreed for it ([`LegSpec`]: codec and payload types, remote
//!   addresses, SRTP keys each way, ICE, direction, telephone-event, ptime).
//! - Legs hear each other only when [`Command::Connect`]ed. The engine relays when both
//!   legs use the same codec and transcodes otherwise; signalling never has to say which.
//!
//! Signalling sends [`Command`]s (each either applied whole or refused with a
//! [`CommandError`] naming what was refused) and drains [`Event`]s: latching, DTMF, ICE,
//! media timeouts and periodic [`QualityReport`]s.
//!
//! ```
//! use std::net::SocketAddr;
//! use sb_media_api::*;
//!
//! let session = SessionId(1);
//! let spec = LegSpec::plain(
//!     "192.0.2.10:4000".parse::<SocketAddr>().unwrap(),
//!     CodecSpec::pcmu(),
//! );
//! let cmds = [
//!     Command::CreateSession { session },
//!     Command::AddLeg {
//!         session,
//!         leg: LegId(1),
//!         local: "198.51.100.1:30000".parse().unwrap(),
//!         local_rtcp: None,
//!         spec,
//!     },
//! ];
//! assert_eq!(cmds.len(), 2);
//! ```
//!
//! Beside the data, one pure function lives here because both sides need the same answer:
//! [`quality::estimate_mos`], a documented simplification of the ITU-T G.107 E-model.
//!
//! This crate never does IO, never reads a clock and holds no state.

mod command;
mod event;
pub mod quality;
mod spec;

pub use command::{Command, CommandError};
pub use event::{DtmfSource, Event, IceSelected, QualityReport, RemoteReport};
pub use quality::CodecImpairment;
pub use spec::{
    CandidateKind, CodecSpec, Direction, IceCandidate, IceSpec, LegSpec, PayloadType, RtcpSpec,
    SrtpKey, SrtpSpec, SrtpSuite, TelephoneEventSpec, Tone,
};

use serde::{Deserialize, Serialize};

/// One call's media: a set of legs (chosen by signalling, unique per engine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SessionId(pub u64);

/// One RTP stream to one peer (chosen by signalling, unique per engine, not per session,
/// so an event names its leg without its session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LegId(pub u64);

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "session {}", self.0)
    }
}

impl std::fmt::Display for LegId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "leg {}", self.0)
    }
}
