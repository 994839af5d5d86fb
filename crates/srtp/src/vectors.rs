//! Published test vectors, copied byte for byte from their RFCs.

use crate::transform::{derive, keystream, Transform};
use crate::{SrtpContext, SrtpSuite};
use aes::cipher::KeyInit;

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// RFC 3711 Appendix B.2, AES-CM keystream: session key and salt, SSRC 0, index 0.
#[test]
fn rfc3711_b2_aes_cm_keystream() {
    let key: [u8; 16] = unhex("2B7E151628AED2A6ABF7158809CF4F3C")
        .try_into()
        .unwrap();
    let salt: [u8; 14] = unhex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD").try_into().unwrap();
    let iv = Transform::cm_iv(&salt, 0, 0);
    assert_eq!(iv.to_vec(), unhex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000"));
    let mut out = vec![0u8; 16 * 0xff02];
    keystream(&aes::Aes128::new((&key).into()), &iv, &mut out);
    let block = |n: usize| out[16 * n..16 * (n + 1)].to_vec();
    assert_eq!(block(0), unhex("E03EAD0935C95E80E166B16DD92B4EB4"));
    assert_eq!(block(1), unhex("D23513162B02D0F72A43A2FE4A5F97AB"));
    assert_eq!(block(2), unhex("41E95B3BB0A2E8DD477901E4FCA894C0"));
    assert_eq!(block(0xfeff), unhex("EC8CDF7398607CB0F2D21675EA9EA1E4"));
    assert_eq!(block(0xff00), unhex("362B7C3C6773516318A077D7FC5073AE"));
    assert_eq!(block(0xff01), unhex("6A2CC3787889374FBEB4C81B17BA6C44"));
}

/// RFC 3711 Appendix B.3, key derivation with KDR 0.
#[test]
fn rfc3711_b3_key_derivation() {
    let master_key: [u8; 16] = unhex("E1F97A0D3E018BE0D64FA32C06DE4139")
        .try_into()
        .unwrap();
    let master_salt = unhex("0EC675AD498AFEEBB6960B3AABE6");
    let mut cipher_key = [0u8; 16];
    derive(&master_key, &master_salt, 0, &mut cipher_key);
    assert_eq!(
        cipher_key.to_vec(),
        unhex("C61E7A93744F39EE10734AFE3FF7A087")
    );
    let mut cipher_salt = [0u8; 14];
    derive(&master_key, &master_salt, 2, &mut cipher_salt);
    assert_eq!(cipher_salt.to_vec(), unhex("30CBBC08863D8C85D49DB34A9AE1"));
    // The RFC lists 94 bytes of the authentication keystream; HMAC-SHA1 uses 20.
    let mut auth = [0u8; 94];
    derive(&master_key, &master_salt, 1, &mut auth);
    assert_eq!(
        auth.to_vec(),
        unhex(
            "CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE
             E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25
             6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2"
        )
    );
}

/// RFC 7714 §16 and §17 give session keys, not master keys: key 00..0f and the salt
/// "Quid pro quo".
fn rfc7714_context() -> SrtpContext {
    let key: [u8; 16] = unhex("000102030405060708090a0b0c0d0e0f")
        .try_into()
        .unwrap();
    let salt: [u8; 12] = unhex("517569642070726f2071756f").try_into().unwrap();
    SrtpContext::with_transforms(
        SrtpSuite::AeadAes128Gcm,
        Transform::gcm(&key, &salt),
        Transform::gcm(&key, &salt),
        None,
    )
}

const RTP_PLAIN: &str = "8040f17b8041f8d35501a0b2
    47616c6c696120657374206f6d6e69732064697669736120696e207061727465732074726573";
/// RFC 7714 §16.1.1, the encrypted packet with its tag.
const SRTP_GCM: &str = "8040f17b8041f8d35501a0b2
    f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a51c7d19b36de3adf8833
    899d7f27beb16a9152cf765ee4390cce";

#[test]
fn rfc7714_16_1_1_srtp_gcm_encrypt() {
    let mut packet = unhex(RTP_PLAIN);
    rfc7714_context().protect_rtp(&mut packet).unwrap();
    assert_eq!(packet, unhex(SRTP_GCM));
}

#[test]
fn rfc7714_16_1_2_srtp_gcm_decrypt() {
    let mut packet = unhex(SRTP_GCM);
    let index = rfc7714_context().unprotect_rtp(&mut packet).unwrap();
    assert_eq!(index, 0xf17b);
    assert_eq!(packet, unhex(RTP_PLAIN));
}

const RTCP_PLAIN: &str = "81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61
    deadbeefdeadbeefdeadbeefdeadbeefdeadbeef";
/// RFC 7714 §17.1, encrypted (E = 1) with SRTCP index 0x5d4.
const SRTCP_GCM: &str = "81c8000d4d617273
    63e94885dcdab67ca727d7662f6b7e997ff5c0f76c06f32dc676a5f1730d6fda4ce09b4686303ded0bb9275b
    c84aa45896cf4d2fc5abf87245d9eade 800005d4";
/// RFC 7714 §17.3, authenticated only (E = 0).
const SRTCP_GCM_TAG_ONLY: &str = "81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61
    deadbeefdeadbeefdeadbeefdeadbeefdeadbeef 841dd9683dd78ec92ae58790125f62b3 000005d4";

#[test]
fn rfc7714_17_1_srtcp_gcm_encrypt() {
    let mut ctx = rfc7714_context();
    ctx.set_next_srtcp_index(0x4d61_7273, 0x5d4);
    let mut packet = unhex(RTCP_PLAIN);
    ctx.protect_rtcp(&mut packet).unwrap();
    assert_eq!(packet, unhex(SRTCP_GCM));
}

#[test]
fn rfc7714_17_2_srtcp_gcm_decrypt() {
    let mut packet = unhex(SRTCP_GCM);
    assert_eq!(rfc7714_context().unprotect_rtcp(&mut packet), Ok(0x5d4));
    assert_eq!(packet, unhex(RTCP_PLAIN));
}

#[test]
fn rfc7714_17_3_srtcp_gcm_authenticated_only() {
    let mut packet = unhex(SRTCP_GCM_TAG_ONLY);
    assert_eq!(rfc7714_context().unprotect_rtcp(&mut packet), Ok(0x5d4));
    assert_eq!(packet, unhex(RTCP_PLAIN));
    let mut forged = unhex(SRTCP_GCM_TAG_ONLY);
    forged[20] ^= 1;
    assert!(rfc7714_context().unprotect_rtcp(&mut forged).is_err());
}

/// The reference packet of libsrtp's validation driver (test/srtp_driver.c), keyed with
/// the RFC 3711 B.3 master key: a whole AES_CM_128_HMAC_SHA1_80 packet, tag included,
/// which the RFC itself does not give.
const CM_PLAIN: &str = "800f1234decafbadcafebabe abababababababababababababababab";
const CM_PROTECTED: &str =
    "800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc99ea179b8dbb";
const CM_RTCP_PLAIN: &str = "81c8000bcafebabe abababababababababababababababab";
/// Its SRTCP counterpart, sent with SRTCP index 1 and the E flag set.
const CM_RTCP_PROTECTED: &str = "81c8000bcafebabe 7128035be487b9bdbef89041f977a5a8
    80000001 993e08cd54d6c1230798";

fn libsrtp_reference_context() -> SrtpContext {
    SrtpContext::new(
        SrtpSuite::AesCm128HmacSha1_80,
        &unhex("E1F97A0D3E018BE0D64FA32C06DE4139"),
        &unhex("0EC675AD498AFEEBB6960B3AABE6"),
        None,
    )
    .unwrap()
}

#[test]
fn libsrtp_reference_packet_aes_cm_sha1_80() {
    let mut packet = unhex(CM_PLAIN);
    libsrtp_reference_context()
        .protect_rtp(&mut packet)
        .unwrap();
    assert_eq!(packet, unhex(CM_PROTECTED));
    let mut packet = unhex(CM_PROTECTED);
    assert_eq!(
        libsrtp_reference_context().unprotect_rtp(&mut packet),
        Ok(0x1234)
    );
    assert_eq!(packet, unhex(CM_PLAIN));
}

#[test]
fn libsrtp_reference_srtcp_packet_aes_cm_sha1_80() {
    let mut ctx = libsrtp_reference_context();
    ctx.set_next_srtcp_index(0xcafe_babe, 1);
    let mut packet = unhex(CM_RTCP_PLAIN);
    ctx.protect_rtcp(&mut packet).unwrap();
    assert_eq!(packet, unhex(CM_RTCP_PROTECTED));
    let mut packet = unhex(CM_RTCP_PROTECTED);
    assert_eq!(
        libsrtp_reference_context().unprotect_rtcp(&mut packet),
        Ok(1)
    );
    assert_eq!(packet, unhex(CM_RTCP_PLAIN));
}

/// libsrtp's GCM reference packets (test/srtp_driver.c): master key 00..0f, 96-bit
/// master salt a0..ab. They pin what RFC 7714 §16/§17 leave out: the key derivation from
/// a 96-bit master salt (RFC 7714 §11).
const GCM_CIPHERTEXT: &str = "800f1234decafbadcafebabe
    c5002ede04cfdd2eb91159e0880aa06e d2976826f796b201df3131a127e8a392";
const GCM_RTCP_CIPHERTEXT: &str = "81c8000bcafebabe
    c98b8b5df0392a55852b6c21ac8e7025 c52c6fbea2b3b446ea31123ba88ce61e 80000001";

fn libsrtp_gcm_context() -> SrtpContext {
    SrtpContext::new(
        SrtpSuite::AeadAes128Gcm,
        &unhex("000102030405060708090a0b0c0d0e0f"),
        &unhex("a0a1a2a3a4a5a6a7a8a9aaab"),
        None,
    )
    .unwrap()
}

#[test]
fn libsrtp_reference_packets_aead_aes_128_gcm() {
    let mut ctx = libsrtp_gcm_context();
    let mut packet = unhex(CM_PLAIN);
    ctx.protect_rtp(&mut packet).unwrap();
    assert_eq!(packet, unhex(GCM_CIPHERTEXT));
    ctx.set_next_srtcp_index(0xcafe_babe, 1);
    let mut packet = unhex(CM_RTCP_PLAIN);
    ctx.protect_rtcp(&mut packet).unwrap();
    assert_eq!(packet, unhex(GCM_RTCP_CIPHERTEXT));

    let mut rx = libsrtp_gcm_context();
    let mut packet = unhex(GCM_CIPHERTEXT);
    assert_eq!(rx.unprotect_rtp(&mut packet), Ok(0x1234));
    assert_eq!(packet, unhex(CM_PLAIN));
    let mut packet = unhex(GCM_RTCP_CIPHERTEXT);
    assert_eq!(rx.unprotect_rtcp(&mut packet), Ok(1));
    assert_eq!(packet, unhex(CM_RTCP_PLAIN));
}
