//! Media engine: the call media between signalling and the network (sans-IO).
//!
//! [`MediaEngine`] carries the audio of calls that the B2BUA joins: each call is a
//! session of legs (one RTP stream to one peer each); connected legs hear each other.
//! Signalling speaks to it only in `sb-media-api` commands and events, so the engine can
//! move out of process without signalling noticing. Per leg it does symmetric RTP
//! latching, SDES-SRTP, RTCP (receive statistics, SR/RR, RTT, quality reports with a
//! MOS estimate), rtcp-mux demultiplexing, STUN handed to a pluggable [`ice`] agent, hold
//! and media timeouts; between legs it relays (same codec: headers rewritten, payload
//! types mapped) or transcodes (decode, [`jitter`] buffer with concealment, resample,
//! encode), interworks DTMF (RFC 4733 relayed or regenerated, in-band generated and
//! detected), and plays tones such as ringback.
//!
//! Time is an input: every `handle_*` takes `now_us`, microseconds on the caller's
//! monotonic clock from any origin. After every input, drain [`MediaEngine::poll_transmit`]
//! and [`MediaEngine::poll_event`], then arm one timer at [`MediaEngine::poll_timeout`]:
//!
//! ```
//! use sb_media::{EngineConfig, MediaEngine};
//! use sb_media_api::{CodecSpec, Command, LegId, LegSpec, SessionId};
//!
//! let mut engine = MediaEngine::new(EngineConfig::new(0x5eed, 1_700_000_000_000_000));
//! let session = SessionId(1);
//! engine.handle_command(0, Command::CreateSession { session }).unwrap();
//! for (leg, local, peer) in [(1, "10.0.0.1:20000", "192.0.2.1:4000"),
//!                            (2, "10.0.0.1:20002", "198.51.100.7:5000")] {
//!     let spec = LegSpec::plain(peer.parse().unwrap(), CodecSpec::pcmu());
//!     let cmd = Command::AddLeg { session, leg: LegId(leg), local: local.parse().unwrap(),
//!                                 local_rtcp: None, spec };
//!     engine.handle_command(0, cmd).unwrap();
//! }
//! engine.handle_command(0, Command::Connect { a: LegId(1), b: LegId(2) }).unwrap();
//!
//! // A PCMU packet from the first peer...
//! let rtp = sb_rtp::Rtp::new(sb_rtp::Pt(0), 1, 0, sb_rtp::Ssrc(7), vec![0xFF; 160]);
//! engine.handle_packet(20_000, "10.0.0.1:20000".parse().unwrap(),
//!                      "192.0.2.1:4000".parse().unwrap(), &rtp.to_bytes().unwrap());
//! // ...leaves the second leg's socket toward the second peer, on that leg's own SSRC.
//! let out = engine.poll_transmit().unwrap();
//! assert_eq!(out.from_local, "10.0.0.1:20002".parse().unwrap());
//! assert_eq!(out.to, "198.51.100.7:5000".parse().unwrap());
//! while let Some(event) = engine.poll_event() {
//!     println!("{event:?}"); // Latched { leg: LegId(1), remote: 192.0.2.1:4000 }
//! }
//! let _wake_at = engine.poll_timeout(); // RTCP, playout ticks, tones, DTMF, timeouts
//! ```
//!
//! What the runtime around it does: owns the UDP sockets (one per leg, or an RTP/RTCP pair
//! without rtcp-mux; each shard its own port range), passes every datagram in with the
//! local address it arrived on, sends each [`Transmit`] from the socket named by
//! `from_local`, keeps one timer at `poll_timeout`, and seeds [`EngineConfig`] with real
//! entropy and the wall clock. An ICE agent plugs in through [`ice::IceFactory`];
//! [`ice_agent::AgentFactory`] is the full agent of `sb-ice`.
//!
//! What it never does: read a clock, draw randomness of its own (a seeded generator makes
//! SSRCs and RTCP jitter), touch a socket, spawn or await, or panic on a peer's bytes
//! (malformed, unauthenticated or unexpected packets are dropped and counted in
//! [`MediaEngine::stats`]). Not yet handled: DTLS-SRTP, video, conferences of more than
//! two legs (mixing), RTCP feedback and XR, suppressing the in-band tones of a digit that
//! is also regenerated as RFC 4733.
//!
//! The receive-side building blocks are public on their own:
//!
//! - [`jitter`]: an adaptive jitter buffer that turns RTP packets arriving with variable
//!   delay, loss, duplication and reordering into one frame per playout tick.
//! - [`seq`]: extended sequence numbers for callers that keep no RTP receive statistics.
//! - [`transcode`]: the playout (jitter buffer, decoder, concealment) and packetizer
//!   (resampling, framing, encoder) stages of a transcoded direction.
//!
//! ```
//! use sb_media::jitter::{Frame, JitterBuffer, JitterConfig};
//!
//! // 20 ms G.711 frames on the 8 kHz RTP clock.
//! let mut jb = JitterBuffer::new(JitterConfig::new(8000, 20_000)).expect("valid config");
//! let mut played = Vec::new();
//! for tick in 0..10u64 {
//!     let now = tick * 20_000;
//!     // The packet stamped `tick * 160` arrives 5 ms after it was sampled.
//!     jb.push(now + 5_000, tick, (tick * 160) as u32, vec![tick as u8]);
//!     // The playout clock asks for one frame per 20 ms.
//!     if let Frame::Audio(payload) = jb.pop(now + 10_000) {
//!         played.push(payload[0]);
//!     }
//! }
//! assert_eq!(played, (0..played.len() as u8).collect::<Vec<_>>());
//! assert_eq!(jb.stats().late, 0);
//! ```

mod engine;
pub mod ice;
pub mod ice_agent;
pub mod jitter;
mod leg;
pub mod seq;
mod tone;
pub mod transcode;

pub use engine::{EngineConfig, EngineStats, MediaEngine, Transmit};
pub use jitter::{ConfigError, Frame, JitterBuffer, JitterConfig, JitterStats, PushOutcome};
pub use seq::SeqExtender;
pub use tone::ToneGenerator;
