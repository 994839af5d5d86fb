//! SDES keys: `a=crypto` (RFC 4568 §9.1) and the base64 its inline keys use.
//!
//! `a=crypto:<tag> <crypto-suite> <key-params> [<session-params>]`, where key-params are
//! one or more `inline:<key||salt>[|<lifetime>][|<MKI>:<length>]` joined by `;`.

use crate::attr::is_token;
use std::fmt;

/// An SRTP crypto suite name (RFC 4568 §6.2, RFC 7714 §14.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CryptoSuite {
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
    AeadAes128Gcm,
    AeadAes256Gcm,
    /// A suite we have no implementation of; kept so the answer can say which.
    Other(String),
}

impl CryptoSuite {
    pub fn parse(s: &str) -> CryptoSuite {
        match s {
            "AES_CM_128_HMAC_SHA1_80" => CryptoSuite::AesCm128HmacSha1_80,
            "AES_CM_128_HMAC_SHA1_32" => CryptoSuite::AesCm128HmacSha1_32,
            "AEAD_AES_128_GCM" => CryptoSuite::AeadAes128Gcm,
            "AEAD_AES_256_GCM" => CryptoSuite::AeadAes256Gcm,
            other => CryptoSuite::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            CryptoSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            CryptoSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            CryptoSuite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            CryptoSuite::AeadAes256Gcm => "AEAD_AES_256_GCM",
            CryptoSuite::Other(s) => s,
        }
    }

    /// Master key and master salt lengths in bytes (RFC 3711 §8.2; RFC 7714 §12: GCM
    /// salts are 12 bytes). `None` for suites we do not know.
    pub fn key_salt_len(&self) -> Option<(usize, usize)> {
        match self {
            CryptoSuite::AesCm128HmacSha1_80 | CryptoSuite::AesCm128HmacSha1_32 => Some((16, 14)),
            CryptoSuite::AeadAes128Gcm => Some((16, 12)),
            CryptoSuite::AeadAes256Gcm => Some((32, 12)),
            CryptoSuite::Other(_) => None,
        }
    }
}

impl fmt::Display for CryptoSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `a=crypto` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypto {
    /// 1..=999999999; the answer echoes the tag of the line it accepts (RFC 4568 §7.1.2).
    pub tag: u32,
    pub suite: CryptoSuite,
    pub keys: Vec<KeyParam>,
    /// `UNENCRYPTED_SRTCP`, `KDR=`, `WSH=`... kept as written (RFC 4568 §6.3).
    pub session_params: Vec<String>,
}

/// `inline:<key||salt>[|<lifetime>][|<mki>:<mki length>]` (RFC 4568 §9.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyParam {
    /// base64 of the master key followed by the master salt, as written.
    pub key_salt: String,
    pub lifetime: Option<Lifetime>,
    pub mki: Option<Mki>,
}

/// The master key lifetime in packets: `2^31` or a plain number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    PowerOfTwo(u8),
    Packets(u64),
}

impl Lifetime {
    /// The lifetime in packets, saturating at `u64::MAX`.
    pub fn packets(self) -> u64 {
        match self {
            Lifetime::PowerOfTwo(e) => 1u64.checked_shl(e.into()).unwrap_or(u64::MAX),
            Lifetime::Packets(n) => n,
        }
    }
}

/// Master key identifier: its value and its length in bytes on the wire (1..=128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mki {
    pub value: u64,
    pub length: u8,
}

impl KeyParam {
    /// The decoded master key and salt; `None` when the base64 is bad.
    pub fn decode(&self) -> Option<Vec<u8>> {
        base64_decode(&self.key_salt)
    }

    fn parse(text: &str) -> Result<KeyParam, String> {
        let rest = text
            .strip_prefix("inline:")
            .ok_or_else(|| format!("crypto key method is not inline: {text:?}"))?;
        let mut parts = rest.split('|');
        let key_salt = parts.next().unwrap_or_default();
        if key_salt.is_empty() || base64_decode(key_salt).is_none() {
            return Err(format!("crypto key is not base64: {key_salt:?}"));
        }
        let mut param = KeyParam {
            key_salt: key_salt.to_string(),
            lifetime: None,
            mki: None,
        };
        for part in parts {
            if let Some((v, len)) = part.split_once(':') {
                if param.mki.is_some() {
                    return Err(format!("two MKIs in {text:?}"));
                }
                let value = digits::<u64>(v, "MKI value")?;
                let length = digits::<u8>(len, "MKI length")?;
                if !(1..=128).contains(&length) {
                    return Err(format!("MKI length out of range: {length}"));
                }
                param.mki = Some(Mki { value, length });
            } else if param.lifetime.is_some() || param.mki.is_some() {
                return Err(format!("crypto lifetime out of place in {text:?}"));
            } else if let Some(e) = part.strip_prefix("2^") {
                let e = digits::<u8>(e, "lifetime exponent")?;
                if e > 64 {
                    return Err(format!("lifetime 2^{e} is out of range"));
                }
                param.lifetime = Some(Lifetime::PowerOfTwo(e));
            } else {
                param.lifetime = Some(Lifetime::Packets(digits(part, "lifetime")?));
            }
        }
        Ok(param)
    }
}

fn digits<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} is not a number: {s:?}"));
    }
    s.parse()
        .map_err(|_| format!("{what} is out of range: {s}"))
}

impl Crypto {
    pub(crate) fn parse(value: &str) -> Result<Crypto, String> {
        let mut f = value.split_ascii_whitespace();
        let (Some(tag), Some(suite), Some(keys)) = (f.next(), f.next(), f.next()) else {
            return Err(format!("crypto needs a tag, a suite and keys: {value:?}"));
        };
        let tag: u32 = digits(tag, "crypto tag")?;
        if tag > 999_999_999 {
            return Err(format!("crypto tag out of range: {tag}"));
        }
        if !is_token(suite) {
            return Err(format!("bad crypto suite {suite:?}"));
        }
        let keys = keys
            .split(';')
            .map(KeyParam::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Crypto {
            tag,
            suite: CryptoSuite::parse(suite),
            keys,
            session_params: f.map(str::to_string).collect(),
        })
    }
}

impl fmt::Display for KeyParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "inline:{}", self.key_salt)?;
        match self.lifetime {
            Some(Lifetime::PowerOfTwo(e)) => write!(f, "|2^{e}")?,
            Some(Lifetime::Packets(n)) => write!(f, "|{n}")?,
            None => {}
        }
        if let Some(m) = self.mki {
            write!(f, "|{}:{}", m.value, m.length)?;
        }
        Ok(())
    }
}

impl fmt::Display for Crypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.tag, self.suite)?;
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "{k}")?;
        }
        for p in &self.session_params {
            write!(f, " {p}")?;
        }
        Ok(())
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 §4), as RFC 4568 §6.1 requires.
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64; padding optional (some phones drop it). `None` on anything else.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let trimmed = text.trim_end_matches('=');
    if text.len() - trimmed.len() > 2 || trimmed.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in trimmed.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}
