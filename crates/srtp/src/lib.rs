//! SRTP and SRTCP (RFC 3711, RFC 7714) for SDES-keyed streams.
//!
//! The media engine keeps one [`SrtpContext`] per direction of a stream: one built from
//! the key this side offered in its `a=crypto` line (RFC 4568) for what it sends, one
//! from the peer's key for what it receives. Every packet goes through it in place:
//!
//! ```
//! use sb_srtp::{SrtpContext, SrtpSuite};
//!
//! let (key, salt) = ([7u8; 16], [9u8; 14]);
//! let suite: SrtpSuite = "AES_CM_128_HMAC_SHA1_80".parse()?;
//! let mut tx = SrtpContext::new(suite, &key, &salt, None)?;
//! let mut rx = SrtpContext::new(suite, &key, &salt, None)?;
//!
//! let rtp = vec![0x80, 0, 0, 1, 0, 0, 0, 160, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3];
//! let mut packet = rtp.clone();
//! tx.protect_rtp(&mut packet)?;             // payload encrypted, tag appended
//! assert_eq!(packet.len(), rtp.len() + suite.rtp_overhead());
//! rx.unprotect_rtp(&mut packet)?;           // tag checked, replay refused, decrypted
//! assert_eq!(packet, rtp);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Suites: `AES_CM_128_HMAC_SHA1_80`, `AES_CM_128_HMAC_SHA1_32` (RFC 3711 §4, RFC 4568
//! §6.2) and `AEAD_AES_128_GCM` (RFC 7714). Session keys are derived with a key
//! derivation rate of 0 (RFC 3711 §4.3); the rollover counter is estimated by RFC 3711
//! Appendix A; a 64-packet replay list per SSRC guards SRTP and SRTCP alike (§3.3.2).
//!
//! What it never does: read a clock, draw random numbers (keys and salts come in), touch
//! a socket, or panic on a peer's bytes: a packet that is short, forged, replayed or too
//! old is an [`SrtpError`] and leaves the context as it was.
//!
//! A re-INVITE with a new key calls [`SrtpContext::rekey`], which keeps the rollover
//! counters, replay lists and SRTCP indices so the packet index runs on.
//!
//! Not handled: a non-zero key derivation rate, several master keys chosen by MKI in one
//! context (build one context per key and pick by MKI outside), the 256-bit suites,
//! sending SRTCP unencrypted (received unencrypted SRTCP, E = 0, is accepted), telling a
//! late joiner the sender's ROC (SDES cannot), and wiping keys from memory on drop.

mod context;
mod error;
mod replay;
mod suite;
mod transform;
#[cfg(test)]
mod vectors;

pub use context::{SrtpContext, MAX_LIFETIME};
pub use error::SrtpError;
pub use sb_rtp::Ssrc;
pub use suite::{SrtpSuite, UnknownSuite};
