//! What signalling asks of the media engine, and why the engine may refuse.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::spec::{LegSpec, Tone};
use crate::{LegId, SessionId};

/// One instruction to the media engine. Each is applied whole or refused with a
/// [`CommandError`] that leaves the engine as it was.
/// (Not `non_exhaustive`: an engine must handle every command, so a new one is a
/// compile error there, not a silent no-op.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Starts an empty session.
    CreateSession {
        session: SessionId,
    },
    /// Adds a leg sending and receiving on `local` (a socket the runtime owns). RTCP
    /// arrives and leaves on `local_rtcp`, or on `local` itself when it is `None` (with
    /// rtcp-mux, or when the runtime demultiplexes for us).
    AddLeg {
        session: SessionId,
        leg: LegId,
        local: SocketAddr,
        local_rtcp: Option<SocketAddr>,
        spec: LegSpec,
    },
    /// A new offer/answer on the leg (re-INVITE, UPDATE): hold or resume, a new remote
    /// address, a new codec or new keys. The whole spec is given; the engine applies the
    /// differences (a new key re-keys SRTP keeping the rollover counter, a new remote
    /// address forgets the latched one, a new codec rebuilds the transcoder).
    UpdateLeg {
        leg: LegId,
        spec: LegSpec,
    },
    /// The two legs (of one session) hear each other. A leg is connected to at most one
    /// other; connecting it again replaces the old partner.
    Connect {
        a: LegId,
        b: LegId,
    },
    /// The two legs stop hearing each other (before a transfer moves one of them).
    Disconnect {
        a: LegId,
        b: LegId,
    },
    /// Sends a DTMF digit toward the leg: RFC 4733 events if it negotiated
    /// telephone-event, in-band tones otherwise (SIP INFO relayed by signalling ends here).
    SendDtmf {
        leg: LegId,
        /// `0`–`9`, `*`, `#`, `A`–`D`.
        digit: char,
        duration_ms: u32,
    },
    /// Plays a tone toward the leg, replacing what it would hear, until [`Command::StopTone`]
    /// (the B2BUA plays ringback when a gateway sends none).
    PlayTone {
        leg: LegId,
        tone: Tone,
    },
    StopTone {
        leg: LegId,
    },
    RemoveLeg {
        leg: LegId,
    },
    /// Removes the session and all its legs.
    DestroySession {
        session: SessionId,
    },
    /// Asks for a [`crate::Event::LegStats`] for the leg now (they also come periodically).
    RequestStats {
        leg: LegId,
    },
}

/// Why a command was refused, naming what was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CommandError {
    #[error("{0} does not exist")]
    UnknownSession(SessionId),
    #[error("{0} already exists")]
    SessionExists(SessionId),
    #[error("{0} does not exist")]
    UnknownLeg(LegId),
    #[error("{0} already exists")]
    LegExists(LegId),
    #[error("local address {0} is already used by another leg")]
    LocalAddressInUse(SocketAddr),
    #[error("{a} and {b} are in different sessions")]
    DifferentSessions { a: LegId, b: LegId },
    #[error("a leg cannot be connected to itself ({0})")]
    SelfConnect(LegId),
    #[error("{a} and {b} are not connected")]
    NotConnected { a: LegId, b: LegId },
    #[error("codec {name}/{clock_rate}/{channels} is not supported")]
    UnsupportedCodec {
        name: String,
        clock_rate: u32,
        channels: u8,
    },
    #[error("payload type {0} is out of range (0-127)")]
    BadPayloadType(u8),
    #[error("ptime {0} ms is not supported (whole milliseconds from 10 to 120)")]
    BadPtime(u32),
    #[error("SRTP key refused: {0}")]
    BadSrtpKey(String),
    #[error("ICE requested but this engine has no ICE agent")]
    IceUnavailable,
    #[error("{0:?} is not a DTMF digit")]
    BadDigit(char),
    #[error("tone refused: {0}")]
    BadTone(String),
}
