//! Crypto suites by their SDP names (RFC 4568 §6.2, RFC 7714 §14.2).

use std::fmt;
use std::str::FromStr;

/// An SRTP crypto suite, one of those offered in `a=crypto` lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SrtpSuite {
    /// AES-128 counter mode, HMAC-SHA1 with an 80-bit tag (RFC 4568 §6.2.1).
    AesCm128HmacSha1_80,
    /// AES-128 counter mode, HMAC-SHA1 with a 32-bit SRTP tag; SRTCP keeps 80 bits
    /// (RFC 4568 §6.2.2).
    AesCm128HmacSha1_32,
    /// AES-128 GCM with a 16-byte tag (RFC 7714 §14.2).
    AeadAes128Gcm,
}

impl SrtpSuite {
    /// The name used in SDP security descriptions.
    pub fn sdes_name(self) -> &'static str {
        match self {
            Self::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Self::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            Self::AeadAes128Gcm => "AEAD_AES_128_GCM",
        }
    }

    /// Master key length in bytes.
    pub fn master_key_len(self) -> usize {
        16
    }

    /// Master salt length in bytes: 112 bits for AES-CM (RFC 3711 §8.2), 96 bits for GCM
    /// (RFC 7714 §12).
    pub fn master_salt_len(self) -> usize {
        match self {
            Self::AesCm128HmacSha1_80 | Self::AesCm128HmacSha1_32 => 14,
            Self::AeadAes128Gcm => 12,
        }
    }

    /// Bytes an SRTP packet grows by, not counting the MKI.
    pub fn rtp_overhead(self) -> usize {
        match self {
            Self::AesCm128HmacSha1_80 => 10,
            Self::AesCm128HmacSha1_32 => 4,
            Self::AeadAes128Gcm => 16,
        }
    }

    /// Length of the SRTCP authentication tag.
    pub(crate) fn rtcp_tag_len(self) -> usize {
        match self {
            Self::AesCm128HmacSha1_80 | Self::AesCm128HmacSha1_32 => 10,
            Self::AeadAes128Gcm => 16,
        }
    }

    /// Bytes an SRTCP packet grows by (tag and E||index word), not counting the MKI.
    pub fn rtcp_overhead(self) -> usize {
        self.rtcp_tag_len() + 4
    }

    pub(crate) fn is_aead(self) -> bool {
        matches!(self, Self::AeadAes128Gcm)
    }
}

impl fmt::Display for SrtpSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sdes_name())
    }
}

/// A suite name this implementation does not support.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported SRTP crypto suite {0:?}")]
pub struct UnknownSuite(pub String);

impl FromStr for SrtpSuite {
    type Err = UnknownSuite;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::AesCm128HmacSha1_80,
            Self::AesCm128HmacSha1_32,
            Self::AeadAes128Gcm,
        ]
        .into_iter()
        .find(|suite| suite.sdes_name() == s)
        .ok_or_else(|| UnknownSuite(s.to_owned()))
    }
}
