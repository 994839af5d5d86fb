//! The per-packet cryptographic transforms and the key derivation function.
//!
//! AES-CM with HMAC-SHA1 follows RFC 3711 §4.1.1 and §4.2.1; AES-GCM follows RFC 7714
//! §8 (SRTP) and §9 (SRTCP); both derive session keys by RFC 3711 §4.3 with a key
//! derivation rate of 0, as RFC 4568 and RFC 7714 §11 use it.

use aes::cipher::{InnerIvInit, KeyInit, StreamCipher};
use aes::Aes128;
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Nonce, Tag};
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::{SrtpError, SrtpSuite};

type Aes128Cm = ctr::Ctr128BE<Aes128>;

/// RFC 3711 §4.3.2 labels; the SRTCP ones are the SRTP ones plus three.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Label {
    Encryption = 0,
    Authentication = 1,
    Salt = 2,
}

/// RFC 3711 §4.3.1 with KDR 0: the key id is the label alone (r = 0), XORed into the
/// master salt where the 56-bit `label || r` lines up with its low bits, and the result,
/// shifted left 16 bits, is the AES-CM IV. A 96-bit GCM master salt is padded with zero
/// bytes to 112 bits first, as RFC 7714 §11 has it.
pub(crate) fn derive(master_key: &[u8; 16], master_salt: &[u8], label: u8, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    let n = master_salt.len().min(14);
    iv[..n].copy_from_slice(&master_salt[..n]);
    iv[7] ^= label;
    out.fill(0);
    keystream(&Aes128::new(master_key.into()), &iv, out);
}

/// XORs the AES-CM keystream that starts at counter block `iv` into `data`. The low 16
/// bits of `iv` are zero, so the 128-bit counter never carries past them for any packet
/// below 1 MiB (RFC 3711 §4.1.1).
pub(crate) fn keystream(aes: &Aes128, iv: &[u8; 16], data: &mut [u8]) {
    let mut cm = Aes128Cm::from_core(ctr::CtrCore::inner_iv_init(aes.clone(), iv.into()));
    cm.apply_keystream(data);
}

/// One direction's keys for one of SRTP or SRTCP, ready for use.
#[derive(Clone)]
pub(crate) enum Transform {
    AesCm {
        aes: Box<Aes128>,
        mac: Hmac<Sha1>,
        salt: [u8; 14],
    },
    Gcm {
        aead: Box<Aes128Gcm>,
        salt: [u8; 12],
    },
}

impl std::fmt::Debug for Transform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str(match self {
            Self::AesCm { .. } => "Transform::AesCm",
            Self::Gcm { .. } => "Transform::Gcm",
        })
    }
}

impl Transform {
    /// Derives the session keys for SRTP (`label_base` 0) or SRTCP (`label_base` 3).
    pub(crate) fn derive(
        suite: SrtpSuite,
        master_key: &[u8; 16],
        master_salt: &[u8],
        label_base: u8,
    ) -> Self {
        let mut key = [0u8; 16];
        derive(
            master_key,
            master_salt,
            label_base + Label::Encryption as u8,
            &mut key,
        );
        if suite.is_aead() {
            let mut salt = [0u8; 12];
            derive(
                master_key,
                master_salt,
                label_base + Label::Salt as u8,
                &mut salt,
            );
            Self::gcm(&key, &salt)
        } else {
            let mut salt = [0u8; 14];
            let mut auth = [0u8; 20];
            derive(
                master_key,
                master_salt,
                label_base + Label::Salt as u8,
                &mut salt,
            );
            derive(
                master_key,
                master_salt,
                label_base + Label::Authentication as u8,
                &mut auth,
            );
            Self::aes_cm(&key, &salt, &auth)
        }
    }

    pub(crate) fn aes_cm(key: &[u8; 16], salt: &[u8; 14], auth: &[u8; 20]) -> Self {
        Self::AesCm {
            aes: Box::new(Aes128::new(key.into())),
            mac: <Hmac<Sha1> as Mac>::new_from_slice(auth).expect("HMAC takes any key length"),
            salt: *salt,
        }
    }

    pub(crate) fn gcm(key: &[u8; 16], salt: &[u8; 12]) -> Self {
        Self::Gcm {
            aead: Box::new(Aes128Gcm::new(key.into())),
            salt: *salt,
        }
    }

    /// RFC 3711 §4.1.1: IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16).
    pub(crate) fn cm_iv(salt: &[u8; 14], ssrc: u32, index: u64) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(salt);
        xor(&mut iv[4..8], &ssrc.to_be_bytes());
        xor(&mut iv[8..14], &index.to_be_bytes()[2..]);
        iv
    }

    /// RFC 7714 §8.1 and §9.1: IV = (0^16 || SSRC || ROC || SEQ) XOR salt for SRTP, and
    /// (0^16 || SSRC || 0^16 || 0 || SRTCP index) XOR salt for SRTCP; both are the 48-bit
    /// index after the SSRC.
    pub(crate) fn gcm_iv(salt: &[u8; 12], ssrc: u32, index: u64) -> [u8; 12] {
        let mut iv = *salt;
        xor(&mut iv[2..6], &ssrc.to_be_bytes());
        xor(&mut iv[6..12], &index.to_be_bytes()[2..]);
        iv
    }

    /// HMAC-SHA1 over `parts`, whole (RFC 3711 §4.2.1); the caller truncates.
    pub(crate) fn hmac(mac: &Hmac<Sha1>, parts: &[&[u8]]) -> [u8; 20] {
        let mut m = mac.clone();
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }

    /// Constant-time check of a truncated HMAC-SHA1 tag.
    pub(crate) fn hmac_verify(
        mac: &Hmac<Sha1>,
        parts: &[&[u8]],
        tag: &[u8],
    ) -> Result<(), SrtpError> {
        let mut m = mac.clone();
        for p in parts {
            m.update(p);
        }
        m.verify_truncated_left(tag)
            .map_err(|_| SrtpError::AuthenticationFailed)
    }

    pub(crate) fn gcm_seal(
        aead: &Aes128Gcm,
        iv: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
    ) -> [u8; 16] {
        aead.encrypt_in_place_detached(Nonce::from_slice(iv), aad, data)
            .expect("SRTP packets are far below the GCM length limit")
            .into()
    }

    pub(crate) fn gcm_open(
        aead: &Aes128Gcm,
        iv: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8],
    ) -> Result<(), SrtpError> {
        if tag.len() != 16 {
            return Err(SrtpError::AuthenticationFailed);
        }
        aead.decrypt_in_place_detached(Nonce::from_slice(iv), aad, data, Tag::from_slice(tag))
            .map_err(|_| SrtpError::AuthenticationFailed)
    }
}

fn xor(into: &mut [u8], from: &[u8]) {
    for (a, b) in into.iter_mut().zip(from) {
        *a ^= b;
    }
}
