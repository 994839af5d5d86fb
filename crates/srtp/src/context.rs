//! One direction's SRTP/SRTCP cryptographic context (RFC 3711 §3.2).
//!
//! RFC 3711 keeps a context per SSRC; an SDES key serves every SSRC of its direction, so
//! this context holds the keys once and the per-SSRC state (ROC, highest sequence number,
//! replay lists, SRTCP index) in maps. State is only created or moved by packets this side
//! sent or packets whose tag verified, so a peer without the key cannot grow it.

use std::collections::HashMap;

use sb_rtp::Ssrc;

use crate::replay::{RtcpStream, RtpStream};
use crate::transform::Transform;
use crate::{SrtpError, SrtpSuite};

/// The largest key lifetime, in packets (RFC 3711 §9.2).
pub const MAX_LIFETIME: u64 = 1 << 48;
/// The SRTCP index is 31 bits (RFC 3711 §3.4).
const SRTCP_INDEX_LIMIT: u64 = 1 << 31;
/// The E flag in the word that carries the SRTCP index (RFC 3711 §3.4).
const E_FLAG: u32 = 1 << 31;

/// Protects or unprotects the SRTP and SRTCP packets of one direction of a media stream.
///
/// Build one for what this side sends (with its own key from its `a=crypto` line) and
/// one for what it receives (the peer's key). The context never reads a clock, never
/// draws random numbers and never touches a socket: keys come in, bytes go out.
#[derive(Debug, Clone)]
pub struct SrtpContext {
    suite: SrtpSuite,
    rtp: Transform,
    rtcp: Transform,
    mki: Option<Vec<u8>>,
    lifetime: u64,
    rtp_used: u64,
    rtcp_used: u64,
    rtp_streams: HashMap<Ssrc, RtpStream>,
    rtcp_streams: HashMap<Ssrc, RtcpStream>,
}

impl SrtpContext {
    /// Derives the session keys from a master key and salt (RFC 3711 §4.3, KDR 0).
    ///
    /// `mki` is the master key identifier as SDES gives it (RFC 4568 §6.1): its value as
    /// big-endian bytes and its length on the wire, 1 to 128 bytes. Without it packets
    /// carry no MKI.
    pub fn new(
        suite: SrtpSuite,
        master_key: &[u8],
        master_salt: &[u8],
        mki: Option<(Vec<u8>, usize)>,
    ) -> Result<Self, SrtpError> {
        let key: &[u8; 16] = master_key
            .try_into()
            .map_err(|_| SrtpError::MasterKeyLength {
                expected: suite.master_key_len(),
                got: master_key.len(),
            })?;
        if master_salt.len() != suite.master_salt_len() {
            return Err(SrtpError::MasterSaltLength {
                expected: suite.master_salt_len(),
                got: master_salt.len(),
            });
        }
        let mki = mki.map(|(v, len)| wire_mki(&v, len)).transpose()?;
        Ok(Self::with_transforms(
            suite,
            Transform::derive(suite, key, master_salt, 0),
            Transform::derive(suite, key, master_salt, 3),
            mki,
        ))
    }

    pub(crate) fn with_transforms(
        suite: SrtpSuite,
        rtp: Transform,
        rtcp: Transform,
        mki: Option<Vec<u8>>,
    ) -> Self {
        Self {
            suite,
            rtp,
            rtcp,
            mki,
            lifetime: MAX_LIFETIME,
            rtp_used: 0,
            rtcp_used: 0,
            rtp_streams: HashMap::new(),
            rtcp_streams: HashMap::new(),
        }
    }

    /// Limits how many SRTP packets (and SRTCP packets, capped at 2^31) the key may
    /// protect or unprotect, as the lifetime of an `a=crypto` key says (RFC 4568 §6.1);
    /// past it every call fails with [`SrtpError::KeyExhausted`].
    pub fn with_lifetime(mut self, packets: u64) -> Result<Self, SrtpError> {
        if packets == 0 || packets > MAX_LIFETIME {
            return Err(SrtpError::UnsupportedLifetime(packets));
        }
        self.lifetime = packets;
        Ok(self)
    }

    /// Switches to a new master key, as a re-INVITE with a new `a=crypto` key does, and
    /// keeps every stream's rollover counter, highest sequence number, replay list and
    /// SRTCP index: the packet index runs on across the key change (RFC 3711 §3.3.1,
    /// §9.2), so the peer, which keeps counting too, is understood at once. The key
    /// lifetime starts again at [`MAX_LIFETIME`].
    pub fn rekey(
        &mut self,
        suite: SrtpSuite,
        master_key: &[u8],
        master_salt: &[u8],
        mki: Option<(Vec<u8>, usize)>,
    ) -> Result<(), SrtpError> {
        let fresh = Self::new(suite, master_key, master_salt, mki)?;
        self.suite = fresh.suite;
        self.rtp = fresh.rtp;
        self.rtcp = fresh.rtcp;
        self.mki = fresh.mki;
        self.lifetime = fresh.lifetime;
        self.rtp_used = 0;
        self.rtcp_used = 0;
        Ok(())
    }

    /// The suite this context was built for.
    pub fn suite(&self) -> SrtpSuite {
        self.suite
    }

    /// The rollover counter of an SSRC seen so far (RFC 3711 §3.3.1).
    pub fn roc(&self, ssrc: Ssrc) -> Option<u32> {
        self.rtp_streams.get(&ssrc).map(RtpStream::roc)
    }

    fn mki_len(&self) -> usize {
        self.mki.as_ref().map_or(0, Vec::len)
    }

    /// Encrypts and authenticates an RTP packet in place (RFC 3711 §3.3, RFC 7714 §7.1):
    /// the payload is encrypted and the MKI and tag are appended.
    pub fn protect_rtp(&mut self, packet: &mut Vec<u8>) -> Result<(), SrtpError> {
        let (hdr, seq, ssrc) = rtp_header(packet)?;
        if self.rtp_used >= self.lifetime {
            return Err(SrtpError::KeyExhausted);
        }
        let mut stream = self
            .rtp_streams
            .get(&Ssrc(ssrc))
            .copied()
            .unwrap_or_else(|| RtpStream::new(seq));
        // The sender's own packets go through the same estimate, so the ROC steps up
        // when the sequence number wraps (§3.3.1). A jump back of more than half the
        // sequence space before the first wrap has no index; past ROC 2^32 - 1 the key
        // is spent.
        let index = stream.estimate(seq).ok_or(if stream.roc() == u32::MAX {
            SrtpError::KeyExhausted
        } else {
            SrtpError::TooOld(u64::from(seq))
        })?;
        match &self.rtp {
            Transform::AesCm { aes, mac, salt } => {
                let iv = Transform::cm_iv(salt, ssrc, index);
                crate::transform::keystream(aes, &iv, &mut packet[hdr..]);
                let roc = roc_bytes(index);
                let tag = Transform::hmac(mac, &[packet, &roc]);
                if let Some(mki) = &self.mki {
                    packet.extend_from_slice(mki);
                }
                packet.extend_from_slice(&tag[..self.suite.rtp_overhead()]);
            }
            Transform::Gcm { aead, salt } => {
                let iv = Transform::gcm_iv(salt, ssrc, index);
                let (aad, payload) = packet.split_at_mut(hdr);
                let tag = Transform::gcm_seal(aead, &iv, aad, payload);
                packet.extend_from_slice(&tag);
                if let Some(mki) = &self.mki {
                    packet.extend_from_slice(mki);
                }
            }
        }
        stream.accept(index);
        self.rtp_streams.insert(Ssrc(ssrc), stream);
        self.rtp_used += 1;
        Ok(())
    }

    /// Verifies and decrypts an SRTP packet in place (RFC 3711 §3.3, RFC 7714 §7.3) and
    /// returns its 48-bit packet index. On any error the packet must be dropped; the
    /// context is unchanged then, so a forged or replayed packet costs nothing but time.
    pub fn unprotect_rtp(&mut self, packet: &mut Vec<u8>) -> Result<u64, SrtpError> {
        let (hdr, seq, ssrc) = rtp_header(packet)?;
        let tag_len = self.suite.rtp_overhead();
        let mki_len = self.mki_len();
        let end = packet
            .len()
            .checked_sub(tag_len + mki_len)
            .filter(|&end| end >= hdr)
            .ok_or(SrtpError::Malformed(
                "SRTP packet shorter than header and tag",
            ))?;
        if self.rtp_used >= self.lifetime {
            return Err(SrtpError::KeyExhausted);
        }
        let mut stream = self
            .rtp_streams
            .get(&Ssrc(ssrc))
            .copied()
            .unwrap_or_else(|| RtpStream::new(seq));
        // An index below ROC 0 cannot be ours: it is older than the stream.
        let index = stream
            .estimate(seq)
            .ok_or(SrtpError::TooOld(u64::from(seq)))?;
        stream.check(index)?;
        match &self.rtp {
            Transform::AesCm { aes, mac, salt } => {
                let (mki, tag) = packet[end..].split_at(mki_len);
                self.check_mki(mki)?;
                Transform::hmac_verify(mac, &[&packet[..end], &roc_bytes(index)], tag)?;
                let iv = Transform::cm_iv(salt, ssrc, index);
                crate::transform::keystream(aes, &iv, &mut packet[hdr..end]);
            }
            Transform::Gcm { aead, salt } => {
                // RFC 7714 §7.1: the MKI follows the tag.
                self.check_mki(&packet[end + tag_len..])?;
                let iv = Transform::gcm_iv(salt, ssrc, index);
                let (aad, rest) = packet.split_at_mut(hdr);
                let (payload, tag) = rest.split_at_mut(end - hdr);
                Transform::gcm_open(aead, &iv, aad, payload, &tag[..tag_len])?;
            }
        }
        packet.truncate(end);
        stream.accept(index);
        self.rtp_streams.insert(Ssrc(ssrc), stream);
        self.rtp_used += 1;
        Ok(index)
    }

    /// Encrypts and authenticates an RTCP (compound) packet in place (RFC 3711 §3.4,
    /// RFC 7714 §9): everything after the first eight bytes is encrypted, and the E flag
    /// with the SRTCP index, the MKI and the tag are appended.
    pub fn protect_rtcp(&mut self, packet: &mut Vec<u8>) -> Result<(), SrtpError> {
        let ssrc = rtcp_header(packet)?;
        if self.rtcp_used >= self.lifetime.min(SRTCP_INDEX_LIMIT) {
            return Err(SrtpError::KeyExhausted);
        }
        let mut stream = self
            .rtcp_streams
            .get(&Ssrc(ssrc))
            .copied()
            .unwrap_or_default();
        if u64::from(stream.next) >= SRTCP_INDEX_LIMIT {
            return Err(SrtpError::KeyExhausted);
        }
        let index = stream.next;
        let word = (E_FLAG | index).to_be_bytes();
        match &self.rtcp {
            Transform::AesCm { aes, mac, salt } => {
                let iv = Transform::cm_iv(salt, ssrc, u64::from(index));
                crate::transform::keystream(aes, &iv, &mut packet[8..]);
                packet.extend_from_slice(&word);
                let tag = Transform::hmac(mac, &[packet]);
                if let Some(mki) = &self.mki {
                    packet.extend_from_slice(mki);
                }
                packet.extend_from_slice(&tag[..self.suite.rtcp_tag_len()]);
            }
            Transform::Gcm { aead, salt } => {
                // RFC 7714 §9.2: the associated data is the header and the index word.
                let iv = Transform::gcm_iv(salt, ssrc, u64::from(index));
                let mut aad = [0u8; 12];
                aad[..8].copy_from_slice(&packet[..8]);
                aad[8..].copy_from_slice(&word);
                let tag = Transform::gcm_seal(aead, &iv, &aad, &mut packet[8..]);
                packet.extend_from_slice(&tag);
                packet.extend_from_slice(&word);
                if let Some(mki) = &self.mki {
                    packet.extend_from_slice(mki);
                }
            }
        }
        stream.next = index + 1;
        self.rtcp_streams.insert(Ssrc(ssrc), stream);
        self.rtcp_used += 1;
        Ok(())
    }

    /// Verifies and, when the E flag says so, decrypts an SRTCP packet in place (RFC 3711
    /// §3.4, RFC 7714 §9.3) and returns its SRTCP index. On any error the packet must be
    /// dropped; the context is unchanged then.
    pub fn unprotect_rtcp(&mut self, packet: &mut Vec<u8>) -> Result<u32, SrtpError> {
        let ssrc = rtcp_header(packet)?;
        let tag_len = self.suite.rtcp_tag_len();
        let mki_len = self.mki_len();
        let trailer = tag_len + 4 + mki_len;
        if packet.len() < 8 + trailer {
            return Err(SrtpError::Malformed(
                "SRTCP packet shorter than its trailer",
            ));
        }
        if self.rtcp_used >= self.lifetime.min(SRTCP_INDEX_LIMIT) {
            return Err(SrtpError::KeyExhausted);
        }
        let len = packet.len();
        // Where the E||index word sits: before MKI and tag for AES-CM, after the tag
        // and before the MKI for GCM.
        let (word_at, body_end) = if self.suite.is_aead() {
            (len - mki_len - 4, len - trailer)
        } else {
            (len - trailer, len - trailer)
        };
        let word = u32::from_be_bytes(
            packet[word_at..word_at + 4]
                .try_into()
                .expect("a four-byte slice"),
        );
        let encrypted = word & E_FLAG != 0;
        let index = word & !E_FLAG;
        let mut stream = self
            .rtcp_streams
            .get(&Ssrc(ssrc))
            .copied()
            .unwrap_or_default();
        stream.window.check(u64::from(index))?;
        match &self.rtcp {
            Transform::AesCm { aes, mac, salt } => {
                let (mki, tag) = packet[body_end + 4..].split_at(mki_len);
                self.check_mki(mki)?;
                Transform::hmac_verify(mac, &[&packet[..body_end + 4]], tag)?;
                if encrypted {
                    let iv = Transform::cm_iv(salt, ssrc, u64::from(index));
                    crate::transform::keystream(aes, &iv, &mut packet[8..body_end]);
                }
            }
            Transform::Gcm { aead, salt } => {
                self.check_mki(&packet[len - mki_len..])?;
                let iv = Transform::gcm_iv(salt, ssrc, u64::from(index));
                let word = word.to_be_bytes();
                let (body, tag) = packet.split_at_mut(body_end);
                let tag = &tag[..tag_len];
                if encrypted {
                    let mut aad = [0u8; 12];
                    aad[..8].copy_from_slice(&body[..8]);
                    aad[8..].copy_from_slice(&word);
                    Transform::gcm_open(aead, &iv, &aad, &mut body[8..], tag)?;
                } else {
                    // RFC 7714 §9.3 (E = 0): all of it is associated data, nothing is
                    // encrypted.
                    let mut aad = Vec::with_capacity(body.len() + 4);
                    aad.extend_from_slice(body);
                    aad.extend_from_slice(&word);
                    Transform::gcm_open(aead, &iv, &aad, &mut [], tag)?;
                }
            }
        }
        packet.truncate(body_end);
        stream.window.accept(u64::from(index));
        self.rtcp_streams.insert(Ssrc(ssrc), stream);
        self.rtcp_used += 1;
        Ok(index)
    }

    /// Test hook: start an SSRC's SRTCP index where a published vector has it.
    #[cfg(test)]
    pub(crate) fn set_next_srtcp_index(&mut self, ssrc: u32, next: u32) {
        self.rtcp_streams.entry(Ssrc(ssrc)).or_default().next = next;
    }

    fn check_mki(&self, on_wire: &[u8]) -> Result<(), SrtpError> {
        match &self.mki {
            Some(mki) if mki.as_slice() != on_wire => Err(SrtpError::MkiMismatch),
            _ => Ok(()),
        }
    }
}

/// The MKI as it goes on the wire: the value right-aligned in `len` bytes.
fn wire_mki(value: &[u8], len: usize) -> Result<Vec<u8>, SrtpError> {
    if len == 0 || len > 128 {
        return Err(SrtpError::UnsupportedMki("length must be 1 to 128 bytes"));
    }
    let significant = &value[value.iter().take_while(|&&b| b == 0).count()..];
    if significant.len() > len {
        return Err(SrtpError::UnsupportedMki("value does not fit its length"));
    }
    let mut wire = vec![0u8; len - significant.len()];
    wire.extend_from_slice(significant);
    Ok(wire)
}

/// The ROC appended to the authenticated portion (RFC 3711 §4.2).
fn roc_bytes(index: u64) -> [u8; 4] {
    // Truncation intended: the ROC is the index's top 32 of 48 bits.
    ((index >> 16) as u32).to_be_bytes()
}

/// The RTP header length (fixed part, CSRCs and extension; RFC 3550 §5.1, §5.3.1), the
/// sequence number and the SSRC. The header is what SRTP leaves in the clear.
fn rtp_header(packet: &[u8]) -> Result<(usize, u16, u32), SrtpError> {
    if packet.len() < 12 {
        return Err(SrtpError::Malformed("RTP packet shorter than 12 bytes"));
    }
    if packet[0] >> 6 != 2 {
        return Err(SrtpError::Malformed("not RTP version 2"));
    }
    let mut hdr = 12 + 4 * usize::from(packet[0] & 0x0f);
    if packet[0] & 0x10 != 0 {
        let words = packet
            .get(hdr + 2..hdr + 4)
            .ok_or(SrtpError::Malformed("RTP header extension truncated"))?;
        hdr += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    if packet.len() < hdr {
        return Err(SrtpError::Malformed("RTP header longer than the packet"));
    }
    let seq = u16::from_be_bytes([packet[2], packet[3]]);
    let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
    Ok((hdr, seq, ssrc))
}

/// The sender SSRC of an RTCP packet; the first eight bytes stay in the clear.
fn rtcp_header(packet: &[u8]) -> Result<u32, SrtpError> {
    if packet.len() < 8 {
        return Err(SrtpError::Malformed("RTCP packet shorter than 8 bytes"));
    }
    if packet[0] >> 6 != 2 {
        return Err(SrtpError::Malformed("not RTCP version 2"));
    }
    Ok(u32::from_be_bytes([
        packet[4], packet[5], packet[6], packet[7],
    ]))
}
