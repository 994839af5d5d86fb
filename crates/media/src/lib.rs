//! Media engine: streams, jitter buffer, transcoding, mixing (sans-IO).
//!
//! Every piece is a state machine driven by its caller: packets and the current time go in
//! (time in microseconds from any origin the caller picks), frames and counters come out.
//! Nothing here reads a clock, opens a socket, spawns a task or awaits; the runtime owns
//! the sockets and the playout timers and calls in.
//!
//! So far the crate holds the receive side of one audio stream:
//!
//! - [`jitter`]: an adaptive jitter buffer that turns RTP packets arriving with variable
//!   delay, loss, duplication and reordering into one frame per playout tick.
//! - [`seq`]: extended sequence numbers for callers that keep no RTP receive statistics.
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
pub mod jitter;
mod leg;
pub mod seq;
mod tone;
pub mod transcode;

pub use engine::{EngineConfig, EngineStats, MediaEngine, Transmit};
pub use jitter::{ConfigError, Frame, JitterBuffer, JitterConfig, JitterStats, PushOutcome};
pub use seq::SeqExtender;
pub use tone::ToneGenerator;
