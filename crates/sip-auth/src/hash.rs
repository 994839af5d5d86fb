//! Digest algorithms, HA1 and the request digest (RFC 2617 §3.2.2, RFC 7616 §3.4.1-3.4.3,
//! RFC 8760 §2).
//!
//! Passwords are never stored: the store keeps HA1 = H(username ":" realm ":" password),
//! one per algorithm, computed by [`Ha1::compute`] when a password is set.

use md5::Md5;
use sha2::{Digest, Sha256, Sha512_256};
use std::fmt;

/// A digest algorithm this server implements. The `-sess` variants are not offered and
/// not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RFC 2617; the default when a challenge or credentials name no algorithm.
    Md5,
    /// RFC 7616 §3.2, RFC 8760 §2.
    Sha256,
    /// RFC 7616 §3.2, RFC 8760 §2 (SHA-512 truncated to 256 bits, FIPS 180-4 §5.3.6).
    Sha512_256,
}

impl Algorithm {
    /// The token as it appears in `algorithm=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha512_256 => "SHA-512-256",
        }
    }

    /// Maps an `algorithm=` token (case-insensitive); `None` for anything else.
    pub fn from_token(s: &str) -> Option<Algorithm> {
        [Algorithm::Md5, Algorithm::Sha256, Algorithm::Sha512_256]
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
    }

    /// Length of a digest in lower-case hex.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 => 32,
            Algorithm::Sha256 | Algorithm::Sha512_256 => 64,
        }
    }

    /// H(data) in lower-case hex, where data is the parts joined by `:`.
    pub fn hex_digest(self, parts: &[&[u8]]) -> String {
        fn run<D: Digest>(parts: &[&[u8]]) -> String {
            let mut d = D::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    d.update(b":");
                }
                d.update(p);
            }
            to_hex(&d.finalize())
        }
        match self {
            Algorithm::Md5 => run::<Md5>(parts),
            Algorithm::Sha256 => run::<Sha256>(parts),
            Algorithm::Sha512_256 => run::<Sha512_256>(parts),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a stored HA1 could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Ha1Error {
    #[error("HA1 for {0} must be {1} hex digits")]
    BadLength(Algorithm, usize),
    #[error("HA1 is not hexadecimal")]
    NotHex,
}

/// H(username ":" realm ":" password) for one algorithm, in lower-case hex
/// (RFC 2617 §3.2.2.2, RFC 7616 §3.4.2). This is what the store keeps instead of the
/// password.
#[derive(Clone, PartialEq, Eq)]
pub struct Ha1 {
    algorithm: Algorithm,
    hex: String,
}

impl Ha1 {
    /// Computes HA1 from a password, when a user is created or changes the password.
    pub fn compute(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> Ha1 {
        let hex =
            algorithm.hex_digest(&[username.as_bytes(), realm.as_bytes(), password.as_bytes()]);
        Ha1 { algorithm, hex }
    }

    /// An HA1 read back from the store (hex, either case).
    pub fn from_hex(algorithm: Algorithm, hex: &str) -> Result<Ha1, Ha1Error> {
        if hex.len() != algorithm.hex_len() {
            return Err(Ha1Error::BadLength(algorithm, algorithm.hex_len()));
        }
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Ha1Error::NotHex);
        }
        Ok(Ha1 {
            algorithm,
            hex: hex.to_ascii_lowercase(),
        })
    }

    /// Internal constructor for values already in canonical form.
    pub(crate) fn from_parts(algorithm: Algorithm, hex: String) -> Ha1 {
        Ha1 { algorithm, hex }
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lower-case hex form, for the store.
    pub fn as_hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Debug for Ha1 {
    /// Redacted: an HA1 is password-equivalent for its realm and must not reach logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ha1({}, <redacted>)", self.algorithm)
    }
}

/// The `qop` / `nc` / `cnonce` triple of an RFC 2617 request, as the client wrote them.
#[derive(Debug, Clone, Copy)]
pub struct QopParts<'a> {
    pub qop: &'a str,
    pub nc: &'a str,
    pub cnonce: &'a str,
}

/// The request digest (the `response` parameter), RFC 2617 §3.2.2.1 / RFC 7616 §3.4.1:
/// with qop, `H(HA1:nonce:nc:cnonce:qop:HA2)`; without (RFC 2069 compatibility, which
/// RFC 3261 §22.4 keeps), `H(HA1:nonce:HA2)`. HA2 is `H(method:uri)` (qop=auth only).
pub fn request_digest(
    ha1: &Ha1,
    nonce: &str,
    qop: Option<QopParts<'_>>,
    method: &str,
    uri: &str,
) -> String {
    let alg = ha1.algorithm;
    let ha2 = alg.hex_digest(&[method.as_bytes(), uri.as_bytes()]);
    match qop {
        Some(q) => alg.hex_digest(&[
            ha1.hex.as_bytes(),
            nonce.as_bytes(),
            q.nc.as_bytes(),
            q.cnonce.as_bytes(),
            q.qop.as_bytes(),
            ha2.as_bytes(),
        ]),
        None => alg.hex_digest(&[ha1.hex.as_bytes(), nonce.as_bytes(), ha2.as_bytes()]),
    }
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_section_3_5_example() {
        let ha1 = Ha1::compute(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        let q = QopParts {
            qop: "auth",
            nc: "00000001",
            cnonce: "0a4f113b",
        };
        let r = request_digest(
            &ha1,
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            Some(q),
            "GET",
            "/dir/index.html",
        );
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn rfc7616_section_3_9_1_sha256_example() {
        let ha1 = Ha1::compute(
            Algorithm::Sha256,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
        );
        let q = QopParts {
            qop: "auth",
            nc: "00000001",
            cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        };
        let r = request_digest(
            &ha1,
            "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            Some(q),
            "GET",
            "/dir/index.html",
        );
        assert_eq!(
            r,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn sip_register_sha256_and_legacy_md5_vectors() {
        // Values computed independently with Python's hashlib when this test was written.
        let ha1 = Ha1::compute(Algorithm::Sha256, "alice", "example.com", "s3cret");
        assert_eq!(
            ha1.as_hex(),
            "5297838bf1a4f1fc5d284fa2f0df90bdf2046b6bf4c022e85118af37bb6dbf75"
        );
        let q = QopParts {
            qop: "auth",
            nc: "00000001",
            cnonce: "xyz",
        };
        assert_eq!(
            request_digest(&ha1, "abc123", Some(q), "REGISTER", "sip:example.com"),
            "74f6e83bf9138b816195c6a759cd74b1ab217b55d581125226a7d4b6fc176b56"
        );
        let md5 = Ha1::compute(Algorithm::Md5, "alice", "example.com", "s3cret");
        assert_eq!(
            request_digest(&md5, "abc123", None, "REGISTER", "sip:example.com"),
            "8574fd58be9bcc71f9ca9e432e363cf7"
        );
    }

    #[test]
    fn ha1_from_store_is_checked_and_debug_is_redacted() {
        let h = Ha1::compute(Algorithm::Md5, "a", "r", "p");
        let back = Ha1::from_hex(Algorithm::Md5, &h.as_hex().to_uppercase()).unwrap();
        assert!(back == h);
        assert_eq!(
            Ha1::from_hex(Algorithm::Sha256, h.as_hex()),
            Err(Ha1Error::BadLength(Algorithm::Sha256, 64))
        );
        assert_eq!(
            Ha1::from_hex(Algorithm::Md5, &"g".repeat(32)),
            Err(Ha1Error::NotHex)
        );
        assert!(!format!("{h:?}").contains(h.as_hex()));
    }

    #[test]
    fn algorithm_tokens() {
        assert_eq!(Algorithm::from_token("sha-256"), Some(Algorithm::Sha256));
        assert_eq!(Algorithm::from_token("MD5-sess"), None);
        assert_eq!(
            Algorithm::from_token("SHA-512-256"),
            Some(Algorithm::Sha512_256)
        );
    }
}
