//! Errors, sorted by who is at fault: the local configuration (construction) or the peer's
//! packets (unprotect). None of them ever comes from a panic.

/// Why a context could not be built or a packet could not be protected or unprotected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SrtpError {
    /// The master key has the wrong length for the suite (RFC 4568 §6.2, RFC 7714 §12).
    #[error("master key must be {expected} bytes, got {got}")]
    MasterKeyLength { expected: usize, got: usize },
    /// The master salt has the wrong length for the suite.
    #[error("master salt must be {expected} bytes, got {got}")]
    MasterSaltLength { expected: usize, got: usize },
    /// An MKI this implementation does not handle (RFC 4568 §6.1 allows 1 to 128 bytes).
    #[error("unsupported MKI: {0}")]
    UnsupportedMki(&'static str),
    /// A key lifetime this implementation does not handle (RFC 3711 §9.2: at most 2^48).
    #[error("unsupported key lifetime {0}: must be between 1 and 2^48 packets")]
    UnsupportedLifetime(u64),
    /// The packet is too short or not RTP/RTCP version 2.
    #[error("malformed packet: {0}")]
    Malformed(&'static str),
    /// The packet carries an MKI other than this context's (RFC 3711 §3.1).
    #[error("MKI does not match this context")]
    MkiMismatch,
    /// The authentication tag did not verify (RFC 3711 §3.3 step 5, RFC 7714 §7.3).
    #[error("authentication failed")]
    AuthenticationFailed,
    /// A packet with this index was already accepted (RFC 3711 §3.3.2).
    #[error("replayed packet (index {0})")]
    Replayed(u64),
    /// The packet is older than the replay window (RFC 3711 §3.3.2).
    #[error("packet too old for the replay window (index {0})")]
    TooOld(u64),
    /// The key has protected as many packets as it may (its lifetime, or the end of the
    /// ROC or SRTCP index space); the peers must re-key (RFC 3711 §9.2).
    #[error("key exhausted: re-key the stream")]
    KeyExhausted,
}
