//! STUN messages (RFC 8489): the header, the attributes ICE needs (RFC 8445 §16.1), short-term
//! credential integrity (RFC 8489 §9.1) and the fingerprint (§14.7).
//!
//! [`Message::decode`] checks the header, every attribute's framing and the fingerprint; the
//! message integrity is checked separately by [`Message::verify_integrity`] because the key
//! depends on who the message claims to come from (the USERNAME), which the caller reads
//! first. Decoding never panics on any input.

use crate::crc::crc32;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The fixed value in bytes 4..8 of every RFC 5389/8489 message (§5).
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// XORed into the CRC-32 of a FINGERPRINT (RFC 8489 §14.7): "STUN".
const FINGERPRINT_XOR: u32 = 0x5354_554E;
const HEADER_LEN: usize = 20;
/// Bound on attributes kept from one message; a datagram can't usefully carry more.
const MAX_ATTRIBUTES: usize = 64;

/// Attribute type codes (RFC 8489 §18.3, RFC 8445 §16.1).
pub mod attr_type {
    pub const MAPPED_ADDRESS: u16 = 0x0001;
    pub const USERNAME: u16 = 0x0006;
    pub const MESSAGE_INTEGRITY: u16 = 0x0008;
    pub const ERROR_CODE: u16 = 0x0009;
    pub const UNKNOWN_ATTRIBUTES: u16 = 0x000A;
    pub const REALM: u16 = 0x0014;
    pub const NONCE: u16 = 0x0015;
    pub const MESSAGE_INTEGRITY_SHA256: u16 = 0x001C;
    pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
    pub const PRIORITY: u16 = 0x0024;
    pub const USE_CANDIDATE: u16 = 0x0025;
    pub const SOFTWARE: u16 = 0x8022;
    pub const FINGERPRINT: u16 = 0x8028;
    pub const ICE_CONTROLLED: u16 = 0x8029;
    pub const ICE_CONTROLLING: u16 = 0x802A;
}
use attr_type as at;

/// A 96-bit transaction id (RFC 8489 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TransactionId(pub [u8; 12]);

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// The class bits of the message type (RFC 8489 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Request,
    Indication,
    Success,
    Error,
}

/// STUN method (12 bits). ICE uses only Binding (RFC 8489 §18.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Method(pub u16);

impl Method {
    pub const BINDING: Method = Method(0x001);
}

/// An attribute this crate understands, or any other kept as bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Attribute {
    /// USERNAME (§14.3): for ICE, `<receiver ufrag>:<sender ufrag>` (RFC 8445 §7.2.2).
    Username(String),
    /// MESSAGE-INTEGRITY (§14.5), HMAC-SHA1; written by [`Message::encode`], not by hand.
    MessageIntegrity([u8; 20]),
    /// MESSAGE-INTEGRITY-SHA256 (§14.6): 16 to 32 bytes of HMAC-SHA256.
    MessageIntegritySha256(Vec<u8>),
    /// FINGERPRINT (§14.7); written by [`Message::encode`], not by hand.
    Fingerprint(u32),
    /// XOR-MAPPED-ADDRESS (§14.2): the source address the server saw.
    XorMappedAddress(SocketAddr),
    /// MAPPED-ADDRESS (§14.1), from pre-RFC 5389 servers.
    MappedAddress(SocketAddr),
    /// PRIORITY (RFC 8445 §7.1.1): the priority a peer-reflexive candidate would get.
    Priority(u32),
    /// USE-CANDIDATE (RFC 8445 §7.1.2): the controlling agent nominates this pair.
    UseCandidate,
    /// ICE-CONTROLLED with the sender's tie-breaker (RFC 8445 §7.1.3).
    IceControlled(u64),
    /// ICE-CONTROLLING with the sender's tie-breaker (RFC 8445 §7.1.3).
    IceControlling(u64),
    /// ERROR-CODE (§14.8): 300..=699.
    ErrorCode { code: u16, reason: String },
    /// UNKNOWN-ATTRIBUTES (§14.9).
    UnknownAttributes(Vec<u16>),
    /// SOFTWARE (§14.14).
    Software(String),
    /// Anything else, kept for re-encoding and for the 420 check.
    Other { kind: u16, value: Vec<u8> },
}

impl Attribute {
    /// The type code written on the wire.
    pub fn kind(&self) -> u16 {
        match self {
            Attribute::Username(_) => at::USERNAME,
            Attribute::MessageIntegrity(_) => at::MESSAGE_INTEGRITY,
            Attribute::MessageIntegritySha256(_) => at::MESSAGE_INTEGRITY_SHA256,
            Attribute::Fingerprint(_) => at::FINGERPRINT,
            Attribute::XorMappedAddress(_) => at::XOR_MAPPED_ADDRESS,
            Attribute::MappedAddress(_) => at::MAPPED_ADDRESS,
            Attribute::Priority(_) => at::PRIORITY,
            Attribute::UseCandidate => at::USE_CANDIDATE,
            Attribute::IceControlled(_) => at::ICE_CONTROLLED,
            Attribute::IceControlling(_) => at::ICE_CONTROLLING,
            Attribute::ErrorCode { .. } => at::ERROR_CODE,
            Attribute::UnknownAttributes(_) => at::UNKNOWN_ATTRIBUTES,
            Attribute::Software(_) => at::SOFTWARE,
            Attribute::Other { kind, .. } => *kind,
        }
    }
}

/// Why bytes are not a STUN message this crate accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StunError {
    #[error("shorter than the 20-byte STUN header")]
    TooShort,
    #[error("the first two bits are not zero (not STUN)")]
    NotStun,
    #[error("no magic cookie (RFC 3489 message or not STUN)")]
    NoMagicCookie,
    #[error("length field {0} does not match the datagram or is not a multiple of 4")]
    BadLength(usize),
    #[error("attribute {kind:#06x} runs past the end of the message")]
    Truncated { kind: u16 },
    #[error("attribute {kind:#06x} is malformed")]
    BadAttribute { kind: u16 },
    #[error("attribute {kind:#06x} follows FINGERPRINT")]
    AfterFingerprint { kind: u16 },
    #[error("FINGERPRINT does not match the message")]
    BadFingerprint,
    #[error("more than {MAX_ATTRIBUTES} attributes")]
    TooManyAttributes,
    #[error("a message does not fit the 16-bit length field")]
    TooLong,
}

/// A STUN message: header fields and attributes in wire order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub class: Class,
    pub method: Method,
    pub transaction_id: TransactionId,
    pub attributes: Vec<Attribute>,
    /// Where MESSAGE-INTEGRITY (SHA-1, then SHA-256) started in the decoded bytes; the
    /// HMAC covers everything before it (RFC 8489 §14.5).
    integrity_at: Option<usize>,
    integrity256_at: Option<usize>,
}

/// Short-term credential key: the password itself (RFC 8489 §9.1.1; ICE passwords are
/// ASCII, so OpaqueString preparation leaves them unchanged).
pub fn short_term_key(password: &str) -> &[u8] {
    password.as_bytes()
}

impl Message {
    /// A message with no attributes.
    pub fn new(class: Class, method: Method, transaction_id: TransactionId) -> Message {
        Message {
            class,
            method,
            transaction_id,
            attributes: Vec::new(),
            integrity_at: None,
            integrity256_at: None,
        }
    }

    /// Appends an attribute (builder style).
    #[must_use]
    pub fn with(mut self, a: Attribute) -> Message {
        self.attributes.push(a);
        self
    }

    /// The first attribute of a kind, typed.
    pub fn get(&self, kind: u16) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.kind() == kind)
    }

    pub fn username(&self) -> Option<&str> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Username(u) => Some(u.as_str()),
            _ => None,
        })
    }

    pub fn priority(&self) -> Option<u32> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::Priority(p) => Some(*p),
            _ => None,
        })
    }

    pub fn use_candidate(&self) -> bool {
        self.attributes.contains(&Attribute::UseCandidate)
    }

    pub fn xor_mapped_address(&self) -> Option<SocketAddr> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::XorMappedAddress(s) => Some(*s),
            _ => None,
        })
    }

    pub fn error_code(&self) -> Option<u16> {
        self.attributes.iter().find_map(|a| match a {
            Attribute::ErrorCode { code, .. } => Some(*code),
            _ => None,
        })
    }

    /// Whether a MESSAGE-INTEGRITY (either hash) is present.
    pub fn has_integrity(&self) -> bool {
        self.integrity_at.is_some() || self.integrity256_at.is_some()
    }

    /// Comprehension-required attributes (type below 0x8000) this crate does not know; a
    /// request carrying any gets a 420 listing them (RFC 8489 §6.3.1).
    pub fn unknown_required(&self) -> Vec<u16> {
        self.attributes
            .iter()
            .filter_map(|a| match a {
                Attribute::Other { kind, .. } if *kind < 0x8000 && !known_required(*kind) => {
                    Some(*kind)
                }
                _ => None,
            })
            .collect()
    }

    /// Checks MESSAGE-INTEGRITY (or, when only that is present, MESSAGE-INTEGRITY-SHA256)
    /// against `bytes`, which must be the bytes this message was decoded from
    /// (RFC 8489 §9.1.3). False when no integrity attribute is present.
    pub fn verify_integrity(&self, bytes: &[u8], key: &[u8]) -> bool {
        if let Some(at) = self.integrity_at {
            let Some(Attribute::MessageIntegrity(mac)) = self.get(at::MESSAGE_INTEGRITY) else {
                return false;
            };
            let Some(head) = bytes.get(..at) else {
                return false;
            };
            return hmac_sha1_adjusted(head, at + 24 - HEADER_LEN, key)
                .is_some_and(|m| constant_time_eq(&m, mac));
        }
        if let Some(at) = self.integrity256_at {
            let Some(Attribute::MessageIntegritySha256(mac)) =
                self.get(at::MESSAGE_INTEGRITY_SHA256)
            else {
                return false;
            };
            let Some(head) = bytes.get(..at) else {
                return false;
            };
            let len = at + 4 + mac.len() - HEADER_LEN;
            return hmac_sha256_adjusted(head, len, key)
                .is_some_and(|m| constant_time_eq(&m[..mac.len()], mac));
        }
        false
    }

    /// Parses one datagram (RFC 8489 §6.3): header, attribute framing, and FINGERPRINT when
    /// present. Integrity is left to [`Message::verify_integrity`].
    pub fn decode(bytes: &[u8]) -> Result<Message, StunError> {
        if bytes.len() < HEADER_LEN {
            return Err(StunError::TooShort);
        }
        if bytes[0] & 0xC0 != 0 {
            return Err(StunError::NotStun);
        }
        if be32(&bytes[4..8]) != MAGIC_COOKIE {
            return Err(StunError::NoMagicCookie);
        }
        let len = usize::from(be16(&bytes[2..4]));
        if len % 4 != 0 || len + HEADER_LEN != bytes.len() {
            return Err(StunError::BadLength(len));
        }
        let ty = be16(&bytes[0..2]);
        let mut tid = [0u8; 12];
        tid.copy_from_slice(&bytes[8..20]);
        let mut msg = Message::new(class_of(ty), Method(method_of(ty)), TransactionId(tid));

        let mut at = HEADER_LEN;
        let mut after_integrity = false;
        while at < bytes.len() {
            let Some(head) = bytes.get(at..at + 4) else {
                return Err(StunError::Truncated { kind: 0 });
            };
            let kind = be16(&head[0..2]);
            let vlen = usize::from(be16(&head[2..4]));
            let padded = (vlen + 3) & !3;
            let Some(value) = bytes.get(at + 4..at + 4 + vlen) else {
                return Err(StunError::Truncated { kind });
            };
            if at + 4 + padded > bytes.len() {
                return Err(StunError::Truncated { kind });
            }
            if msg.attributes.len() >= MAX_ATTRIBUTES {
                return Err(StunError::TooManyAttributes);
            }
            if kind == at::FINGERPRINT {
                if vlen != 4 || at + 8 != bytes.len() {
                    return Err(StunError::AfterFingerprint { kind });
                }
                let want = fingerprint_of(&bytes[..at], len);
                let got = be32(value);
                if want != got {
                    return Err(StunError::BadFingerprint);
                }
                msg.attributes.push(Attribute::Fingerprint(got));
                break;
            }
            // §14.5: attributes after MESSAGE-INTEGRITY (other than FINGERPRINT and
            // MESSAGE-INTEGRITY-SHA256 after the SHA-1 one) are ignored.
            let skip = after_integrity
                && !(kind == at::MESSAGE_INTEGRITY_SHA256 && msg.integrity256_at.is_none());
            if !skip {
                let a = decode_attribute(kind, value, &tid)?;
                match a {
                    Attribute::MessageIntegrity(_) if msg.integrity_at.is_none() => {
                        msg.integrity_at = Some(at);
                        after_integrity = true;
                    }
                    Attribute::MessageIntegritySha256(_) if msg.integrity256_at.is_none() => {
                        msg.integrity256_at = Some(at);
                        after_integrity = true;
                    }
                    _ => {}
                }
                msg.attributes.push(a);
            }
            at += 4 + padded;
        }
        Ok(msg)
    }

    /// Writes the message: its attributes except any integrity or fingerprint ones, then
    /// MESSAGE-INTEGRITY keyed with `integrity_key` when given (§14.5), then FINGERPRINT
    /// when asked (§14.7). Padding is zero bytes.
    pub fn encode(
        &self,
        integrity_key: Option<&[u8]>,
        fingerprint: bool,
    ) -> Result<Vec<u8>, StunError> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(&type_of(self.class, self.method.0).to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        out.extend_from_slice(&self.transaction_id.0);
        for a in &self.attributes {
            if matches!(
                a,
                Attribute::MessageIntegrity(_)
                    | Attribute::MessageIntegritySha256(_)
                    | Attribute::Fingerprint(_)
            ) {
                continue;
            }
            encode_attribute(&mut out, a, &self.transaction_id.0)?;
        }
        if let Some(key) = integrity_key {
            let len = out.len() + 24 - HEADER_LEN;
            let mac = hmac_sha1_adjusted(&out, len, key).ok_or(StunError::TooLong)?;
            put_attr(&mut out, at::MESSAGE_INTEGRITY, &mac)?;
        }
        if fingerprint {
            let len = out.len() + 8 - HEADER_LEN;
            let fp = fingerprint_of(&out, len);
            put_attr(&mut out, at::FINGERPRINT, &fp.to_be_bytes())?;
        }
        let len = u16::try_from(out.len() - HEADER_LEN).map_err(|_| StunError::TooLong)?;
        out[2..4].copy_from_slice(&len.to_be_bytes());
        Ok(out)
    }
}

fn known_required(kind: u16) -> bool {
    // Comprehension-required types this crate parses or deliberately ignores (the
    // long-term credential ones arrive only in answers to requests ICE never sends).
    matches!(
        kind,
        at::MAPPED_ADDRESS
            | at::USERNAME
            | at::MESSAGE_INTEGRITY
            | at::ERROR_CODE
            | at::UNKNOWN_ATTRIBUTES
            | at::REALM
            | at::NONCE
            | at::MESSAGE_INTEGRITY_SHA256
            | at::XOR_MAPPED_ADDRESS
            | at::PRIORITY
            | at::USE_CANDIDATE
    )
}

// RFC 8489 §5: M11..M7 | C1 | M6..M4 | C0 | M3..M0 in the low 14 bits.
fn class_of(ty: u16) -> Class {
    match ((ty >> 7) & 0b10) | ((ty >> 4) & 0b01) {
        0 => Class::Request,
        1 => Class::Indication,
        2 => Class::Success,
        _ => Class::Error,
    }
}

fn method_of(ty: u16) -> u16 {
    (ty & 0x000F) | ((ty >> 1) & 0x0070) | ((ty >> 2) & 0x0F80)
}

fn type_of(class: Class, method: u16) -> u16 {
    let c: u16 = match class {
        Class::Request => 0,
        Class::Indication => 1,
        Class::Success => 2,
        Class::Error => 3,
    };
    let m = method & 0x0FFF;
    (m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | ((c & 1) << 4) | ((c & 2) << 7)
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn decode_attribute(kind: u16, v: &[u8], tid: &[u8; 12]) -> Result<Attribute, StunError> {
    let bad = || StunError::BadAttribute { kind };
    let text = |max: usize| -> Result<String, StunError> {
        if v.len() > max {
            return Err(bad());
        }
        String::from_utf8(v.to_vec()).map_err(|_| bad())
    };
    Ok(match kind {
        at::USERNAME => Attribute::Username(text(513)?),
        at::SOFTWARE => Attribute::Software(text(763)?),
        at::MESSAGE_INTEGRITY => Attribute::MessageIntegrity(v.try_into().map_err(|_| bad())?),
        at::MESSAGE_INTEGRITY_SHA256 => {
            if !(16..=32).contains(&v.len()) || v.len() % 4 != 0 {
                return Err(bad());
            }
            Attribute::MessageIntegritySha256(v.to_vec())
        }
        at::XOR_MAPPED_ADDRESS => {
            Attribute::XorMappedAddress(address(v, Some(tid)).ok_or_else(bad)?)
        }
        at::MAPPED_ADDRESS => Attribute::MappedAddress(address(v, None).ok_or_else(bad)?),
        at::PRIORITY => Attribute::Priority(be32(fixed::<4>(v).ok_or_else(bad)?)),
        at::USE_CANDIDATE if v.is_empty() => Attribute::UseCandidate,
        at::USE_CANDIDATE => return Err(bad()),
        at::ICE_CONTROLLED => {
            Attribute::IceControlled(u64::from_be_bytes(*fixed::<8>(v).ok_or_else(bad)?))
        }
        at::ICE_CONTROLLING => {
            Attribute::IceControlling(u64::from_be_bytes(*fixed::<8>(v).ok_or_else(bad)?))
        }
        at::ERROR_CODE => {
            if v.len() < 4 || v.len() > 4 + 763 {
                return Err(bad());
            }
            let class = u16::from(v[2] & 0x07);
            let number = u16::from(v[3]);
            if !(3..=6).contains(&class) || number > 99 {
                return Err(bad());
            }
            let reason = String::from_utf8(v[4..].to_vec()).map_err(|_| bad())?;
            Attribute::ErrorCode {
                code: class * 100 + number,
                reason,
            }
        }
        at::UNKNOWN_ATTRIBUTES => {
            if v.len() % 2 != 0 {
                return Err(bad());
            }
            Attribute::UnknownAttributes(v.chunks_exact(2).map(be16).collect())
        }
        _ => Attribute::Other {
            kind,
            value: v.to_vec(),
        },
    })
}

fn fixed<const N: usize>(v: &[u8]) -> Option<&[u8; N]> {
    v.try_into().ok()
}

/// (XOR-)MAPPED-ADDRESS value (RFC 8489 §14.1, §14.2); `tid` given means XORed.
fn address(v: &[u8], tid: Option<&[u8; 12]>) -> Option<SocketAddr> {
    if v.len() < 4 || v[0] != 0 {
        return None;
    }
    let mut port = be16(&v[2..4]);
    let cookie = MAGIC_COOKIE.to_be_bytes();
    if tid.is_some() {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    let ip = match (v[1], v.len()) {
        (0x01, 8) => {
            let mut a = [v[4], v[5], v[6], v[7]];
            if tid.is_some() {
                a.iter_mut().zip(cookie).for_each(|(b, k)| *b ^= k);
            }
            IpAddr::V4(Ipv4Addr::from(a))
        }
        (0x02, 20) => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&v[4..20]);
            if let Some(t) = tid {
                let key = cookie.iter().chain(t.iter());
                a.iter_mut().zip(key).for_each(|(b, k)| *b ^= k);
            }
            IpAddr::V6(Ipv6Addr::from(a))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

fn put_address(s: SocketAddr, tid: Option<&[u8; 12]>) -> Vec<u8> {
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let mut v = vec![0u8];
    let port = if tid.is_some() {
        s.port() ^ (MAGIC_COOKIE >> 16) as u16
    } else {
        s.port()
    };
    match s.ip() {
        IpAddr::V4(ip) => {
            v.push(0x01);
            v.extend_from_slice(&port.to_be_bytes());
            let mut a = ip.octets();
            if tid.is_some() {
                a.iter_mut().zip(cookie).for_each(|(b, k)| *b ^= k);
            }
            v.extend_from_slice(&a);
        }
        IpAddr::V6(ip) => {
            v.push(0x02);
            v.extend_from_slice(&port.to_be_bytes());
            let mut a = ip.octets();
            if let Some(t) = tid {
                a.iter_mut()
                    .zip(cookie.iter().chain(t.iter()))
                    .for_each(|(b, k)| *b ^= k);
            }
            v.extend_from_slice(&a);
        }
    }
    v
}

fn encode_attribute(out: &mut Vec<u8>, a: &Attribute, tid: &[u8; 12]) -> Result<(), StunError> {
    let value: Vec<u8> = match a {
        Attribute::Username(s) | Attribute::Software(s) => s.as_bytes().to_vec(),
        Attribute::XorMappedAddress(s) => put_address(*s, Some(tid)),
        Attribute::MappedAddress(s) => put_address(*s, None),
        Attribute::Priority(p) => p.to_be_bytes().to_vec(),
        Attribute::UseCandidate => Vec::new(),
        Attribute::IceControlled(t) | Attribute::IceControlling(t) => t.to_be_bytes().to_vec(),
        Attribute::ErrorCode { code, reason } => {
            let class = u8::try_from(code / 100).unwrap_or(0) & 0x07;
            let number = u8::try_from(code % 100).unwrap_or(0);
            let mut v = vec![0, 0, class, number];
            v.extend_from_slice(reason.as_bytes());
            v
        }
        Attribute::UnknownAttributes(kinds) => kinds.iter().flat_map(|k| k.to_be_bytes()).collect(),
        Attribute::Other { value, .. } => value.clone(),
        Attribute::MessageIntegrity(_)
        | Attribute::MessageIntegritySha256(_)
        | Attribute::Fingerprint(_) => return Ok(()),
    };
    put_attr(out, a.kind(), &value)
}

fn put_attr(out: &mut Vec<u8>, kind: u16, value: &[u8]) -> Result<(), StunError> {
    let len = u16::try_from(value.len()).map_err(|_| StunError::TooLong)?;
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value);
    out.resize((out.len() + 3) & !3, 0);
    Ok(())
}

/// HMAC over `head` (header + attributes before the integrity attribute) with the header's
/// length field set to `len`: the length the message has up to and including the integrity
/// attribute (RFC 8489 §14.5).
fn hmac_sha1_adjusted(head: &[u8], len: usize, key: &[u8]) -> Option<[u8; 20]> {
    let len = u16::try_from(len).ok()?;
    let mut mac = Hmac::<Sha1>::new_from_slice(key).ok()?;
    mac.update(&head[..2]);
    mac.update(&len.to_be_bytes());
    mac.update(&head[4..]);
    Some(mac.finalize().into_bytes().into())
}

fn hmac_sha256_adjusted(head: &[u8], len: usize, key: &[u8]) -> Option<[u8; 32]> {
    let len = u16::try_from(len).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
    mac.update(&head[..2]);
    mac.update(&len.to_be_bytes());
    mac.update(&head[4..]);
    Some(mac.finalize().into_bytes().into())
}

/// FINGERPRINT over `head` with the length field set to `len` (the message length up to and
/// including the FINGERPRINT attribute).
fn fingerprint_of(head: &[u8], len: usize) -> u32 {
    let len = u16::try_from(len).unwrap_or(u16::MAX);
    let mut h = head.to_vec();
    h[2..4].copy_from_slice(&len.to_be_bytes());
    crc32(&h) ^ FINGERPRINT_XOR
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What a datagram on a media port is, by its first byte (RFC 7983 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// 0..=3.
    Stun,
    /// 16..=19.
    Zrtp,
    /// 20..=63.
    Dtls,
    /// 64..=79 (TURN channel data).
    TurnChannel,
    /// 128..=191, RTP or RTCP; `sb_rtp::demux` tells which.
    Rtp,
    /// Empty or any other first byte: drop.
    Unknown,
}

/// RFC 7983 §7 demultiplexing on the first byte.
pub fn classify(datagram: &[u8]) -> PacketKind {
    match datagram.first() {
        Some(0..=3) => PacketKind::Stun,
        Some(16..=19) => PacketKind::Zrtp,
        Some(20..=63) => PacketKind::Dtls,
        Some(64..=79) => PacketKind::TurnChannel,
        Some(128..=191) => PacketKind::Rtp,
        _ => PacketKind::Unknown,
    }
}
