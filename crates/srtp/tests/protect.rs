//! Protect → unprotect through the public API, as the media engine drives it: one context
//! per direction, packets lost, late, repeated or tampered with on the way.

use proptest::prelude::*;
use sb_srtp::{SrtpContext, SrtpError, SrtpSuite, Ssrc, MAX_LIFETIME};

const SUITES: [SrtpSuite; 3] = [
    SrtpSuite::AesCm128HmacSha1_80,
    SrtpSuite::AesCm128HmacSha1_32,
    SrtpSuite::AeadAes128Gcm,
];
const SSRC: u32 = 0x1234_5678;

fn key(suite: SrtpSuite) -> (Vec<u8>, Vec<u8>) {
    let key = (1..=16).collect();
    let salt = (100..100 + suite.master_salt_len() as u8).collect();
    (key, salt)
}

/// A sender and a receiver sharing one key.
fn pair(suite: SrtpSuite) -> (SrtpContext, SrtpContext) {
    let (k, s) = key(suite);
    (
        SrtpContext::new(suite, &k, &s, None).unwrap(),
        SrtpContext::new(suite, &k, &s, None).unwrap(),
    )
}

fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&SSRC.to_be_bytes());
    p.extend((0..160).map(|i| (i as u8) ^ (seq as u8)));
    p
}

fn rtcp_sr() -> Vec<u8> {
    let mut p = vec![0x80, 200, 0, 6];
    p.extend_from_slice(&SSRC.to_be_bytes());
    p.extend((0..20).map(|i| i as u8));
    p
}

fn protected(tx: &mut SrtpContext, seq: u16) -> Vec<u8> {
    let mut p = rtp(seq);
    tx.protect_rtp(&mut p).unwrap();
    p
}

#[test]
fn round_trip_hides_the_payload_and_keeps_the_header() {
    for suite in SUITES {
        let (mut tx, mut rx) = pair(suite);
        let plain = rtp(7);
        let mut p = plain.clone();
        tx.protect_rtp(&mut p).unwrap();
        assert_eq!(p.len(), plain.len() + suite.rtp_overhead(), "{suite}");
        assert_eq!(p[..12], plain[..12], "{suite}: header in the clear");
        assert_ne!(
            p[12..plain.len()],
            plain[12..],
            "{suite}: payload encrypted"
        );
        assert_eq!(rx.unprotect_rtp(&mut p), Ok(7), "{suite}");
        assert_eq!(p, plain, "{suite}");
    }
}

#[test]
fn tag_lengths_follow_the_suite_names() {
    assert_eq!(SrtpSuite::AesCm128HmacSha1_80.rtp_overhead(), 10);
    assert_eq!(SrtpSuite::AesCm128HmacSha1_32.rtp_overhead(), 4);
    assert_eq!(SrtpSuite::AeadAes128Gcm.rtp_overhead(), 16);
    // RFC 4568 §6.2.2: the _32 suite still uses an 80-bit SRTCP tag.
    assert_eq!(SrtpSuite::AesCm128HmacSha1_32.rtcp_overhead(), 14);
    for suite in SUITES {
        assert_eq!(suite.sdes_name().parse::<SrtpSuite>(), Ok(suite));
        assert_eq!(suite.to_string(), suite.sdes_name());
    }
    assert!("AES_256_CM_HMAC_SHA1_80".parse::<SrtpSuite>().is_err());
}

#[test]
fn csrcs_and_header_extension_stay_in_the_clear() {
    for suite in SUITES {
        let (mut tx, mut rx) = pair(suite);
        // CC = 1, X = 1 with a one-word extension.
        let mut plain = vec![0x91, 0, 0, 9, 0, 0, 0, 0];
        plain.extend_from_slice(&SSRC.to_be_bytes());
        plain.extend_from_slice(&[1, 2, 3, 4, 0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0]);
        plain.extend_from_slice(b"voice");
        let mut p = plain.clone();
        tx.protect_rtp(&mut p).unwrap();
        assert_eq!(p[..24], plain[..24], "{suite}");
        assert_ne!(p[24..29], plain[24..], "{suite}");
        rx.unprotect_rtp(&mut p).unwrap();
        assert_eq!(p, plain, "{suite}");
    }
}

#[test]
fn rollover_counter_steps_up_when_the_sequence_wraps() {
    for suite in SUITES {
        let (mut tx, mut rx) = pair(suite);
        let seqs = (65_530..=65_535).chain(0..6);
        for (n, seq) in seqs.enumerate() {
            let mut p = protected(&mut tx, seq);
            let index = rx.unprotect_rtp(&mut p).unwrap();
            assert_eq!(index, 65_530 + n as u64, "{suite}");
            assert_eq!(p, rtp(seq), "{suite}");
        }
        assert_eq!(tx.roc(Ssrc(SSRC)), Some(1), "{suite}");
        assert_eq!(rx.roc(Ssrc(SSRC)), Some(1), "{suite}");
    }
}

#[test]
fn packets_reordered_across_the_wrap_are_all_accepted() {
    for suite in SUITES {
        let (mut tx, mut rx) = pair(suite);
        let sent: Vec<_> = (65_520..=65_535)
            .chain(0..16)
            .map(|s| (s, protected(&mut tx, s)))
            .collect();
        // Deliver in a scrambled order that stays within the 64-packet window.
        let mut order: Vec<usize> = (0..sent.len()).collect();
        order.sort_by_key(|&i| (i * 7) % sent.len());
        order.swap(0, 20);
        for i in order {
            let (seq, mut p) = sent[i].clone();
            rx.unprotect_rtp(&mut p)
                .unwrap_or_else(|e| panic!("{suite}: seq {seq}: {e}"));
            assert_eq!(p, rtp(seq));
        }
        assert_eq!(rx.roc(Ssrc(SSRC)), Some(1), "{suite}");
    }
}

#[test]
fn replayed_and_too_old_packets_are_refused() {
    for suite in SUITES {
        let (mut tx, mut rx) = pair(suite);
        let old = protected(&mut tx, 1);
        let first = protected(&mut tx, 2);
        for seq in 3..=70 {
            let _ = protected(&mut tx, seq);
        }
        let last = protected(&mut tx, 71);
        rx.unprotect_rtp(&mut first.clone()).unwrap();
        assert_eq!(
            rx.unprotect_rtp(&mut first.clone()),
            Err(SrtpError::Replayed(2)),
            "{suite}"
        );
        rx.unprotect_rtp(&mut last.clone()).unwrap();
        // Index 1 was never seen, but is 70 behind the highest: outside the window.
        assert_eq!(
            rx.unprotect_rtp(&mut old.clone()),
            Err(SrtpError::TooOld(1)),
            "{suite}"
        );
        assert_eq!(
            rx.unprotect_rtp(&mut last.clone()),
            Err(SrtpError::Replayed(71))
        );
    }
}

#[test]
fn any_flipped_bit_is_refused_and_leaves_the_context_unchanged() {
    for suite in SUITES {
        let (mut tx, mut rx) = pair(suite);
        let good = protected(&mut tx, 40);
        // A bit in the header, the payload, and the tag.
        for at in [2, 5, 20, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 0x01;
            assert_eq!(
                rx.unprotect_rtp(&mut bad),
                Err(SrtpError::AuthenticationFailed),
                "{suite}: byte {at}"
            );
        }
        let mut truncated = good[..good.len() - 1].to_vec();
        assert!(rx.unprotect_rtp(&mut truncated).is_err(), "{suite}");
        // The genuine packet still gets through: failures did not touch the state.
        assert_eq!(rx.unprotect_rtp(&mut good.clone()), Ok(40), "{suite}");
    }
}

#[test]
fn another_key_cannot_read_the_stream() {
    for suite in SUITES {
        let (mut tx, _) = pair(suite);
        let (_, salt) = key(suite);
        let mut eve = SrtpContext::new(suite, &[0xee; 16], &salt, None).unwrap();
        let mut p = protected(&mut tx, 1);
        assert_eq!(
            eve.unprotect_rtp(&mut p),
            Err(SrtpError::AuthenticationFailed)
        );
    }
}

#[test]
fn rtcp_round_trip_sets_the_e_flag_and_counts_the_index() {
    for suite in SUITES {
        let (mut tx, mut rx) = pair(suite);
        for expected in 0..3u32 {
            let plain = rtcp_sr();
            let mut p = plain.clone();
            tx.protect_rtcp(&mut p).unwrap();
            assert_eq!(p.len(), plain.len() + suite.rtcp_overhead(), "{suite}");
            assert_eq!(
                p[..8],
                plain[..8],
                "{suite}: first eight bytes in the clear"
            );
            assert_ne!(p[8..plain.len()], plain[8..], "{suite}: the rest encrypted");
            let word_at = if suite == SrtpSuite::AeadAes128Gcm {
                p.len() - 4
            } else {
                plain.len()
            };
            let word = u32::from_be_bytes(p[word_at..word_at + 4].try_into().unwrap());
            assert_eq!(word, 0x8000_0000 | expected, "{suite}: E flag and index");
            assert_eq!(rx.unprotect_rtcp(&mut p), Ok(expected), "{suite}");
            assert_eq!(p, plain, "{suite}");
        }
    }
}

#[test]
fn rtcp_replays_and_flipped_bits_are_refused() {
    for suite in SUITES {
        let (mut tx, mut rx) = pair(suite);
        let mut p = rtcp_sr();
        tx.protect_rtcp(&mut p).unwrap();
        for at in [1, 9, p.len() - 1] {
            let mut bad = p.clone();
            bad[at] ^= 0x80;
            assert_eq!(
                rx.unprotect_rtcp(&mut bad),
                Err(SrtpError::AuthenticationFailed),
                "{suite}: byte {at}"
            );
        }
        assert_eq!(rx.unprotect_rtcp(&mut p.clone()), Ok(0), "{suite}");
        assert_eq!(
            rx.unprotect_rtcp(&mut p.clone()),
            Err(SrtpError::Replayed(0)),
            "{suite}"
        );
        // Too old: 70 more reports, then the first one again under a new index is gone.
        let mut reports = Vec::new();
        for _ in 0..70 {
            let mut q = rtcp_sr();
            tx.protect_rtcp(&mut q).unwrap();
            reports.push(q);
        }
        let mut last = reports.pop().unwrap();
        assert_eq!(rx.unprotect_rtcp(&mut last), Ok(70));
        assert_eq!(
            rx.unprotect_rtcp(&mut reports[0].clone()),
            Err(SrtpError::TooOld(1))
        );
        assert_eq!(rx.unprotect_rtcp(&mut reports[60].clone()), Ok(61));
    }
}

#[test]
fn mki_goes_on_the_wire_and_must_match() {
    for suite in SUITES {
        let (k, s) = key(suite);
        let mut tx = SrtpContext::new(suite, &k, &s, Some((vec![5], 2))).unwrap();
        let mut rx = SrtpContext::new(suite, &k, &s, Some((vec![0, 5], 2))).unwrap();
        let mut other = SrtpContext::new(suite, &k, &s, Some((vec![6], 2))).unwrap();
        let mut p = protected(&mut tx, 3);
        assert_eq!(p.len(), rtp(3).len() + suite.rtp_overhead() + 2);
        assert_eq!(
            other.unprotect_rtp(&mut p.clone()),
            Err(SrtpError::MkiMismatch),
            "{suite}"
        );
        assert_eq!(rx.unprotect_rtp(&mut p), Ok(3), "{suite}");
        assert_eq!(p, rtp(3));

        let mut c = rtcp_sr();
        tx.protect_rtcp(&mut c).unwrap();
        assert_eq!(c.len(), rtcp_sr().len() + suite.rtcp_overhead() + 2);
        assert_eq!(
            other.unprotect_rtcp(&mut c.clone()),
            Err(SrtpError::MkiMismatch)
        );
        assert_eq!(rx.unprotect_rtcp(&mut c), Ok(0), "{suite}");
        assert_eq!(c, rtcp_sr());
    }
}

#[test]
fn unsupported_parameters_fail_at_construction() {
    let suite = SrtpSuite::AesCm128HmacSha1_80;
    let (k, s) = key(suite);
    let err = |r: Result<SrtpContext, SrtpError>| r.unwrap_err();
    assert!(matches!(
        err(SrtpContext::new(suite, &k, &s, Some((vec![1], 0)))),
        SrtpError::UnsupportedMki(_)
    ));
    assert!(matches!(
        err(SrtpContext::new(suite, &k, &s, Some((vec![1], 129)))),
        SrtpError::UnsupportedMki(_)
    ));
    assert!(matches!(
        err(SrtpContext::new(suite, &k, &s, Some((vec![1, 0, 0], 2)))),
        SrtpError::UnsupportedMki(_)
    ));
    assert_eq!(
        err(SrtpContext::new(suite, &k[..15], &s, None)),
        SrtpError::MasterKeyLength {
            expected: 16,
            got: 15
        }
    );
    // A 14-byte AES-CM salt is not a GCM salt (RFC 7714 §12: 12 bytes).
    assert_eq!(
        err(SrtpContext::new(SrtpSuite::AeadAes128Gcm, &k, &s, None)),
        SrtpError::MasterSaltLength {
            expected: 12,
            got: 14
        }
    );
    let ctx = || SrtpContext::new(suite, &k, &s, None).unwrap();
    assert_eq!(
        err(ctx().with_lifetime(0)),
        SrtpError::UnsupportedLifetime(0)
    );
    assert_eq!(
        err(ctx().with_lifetime(MAX_LIFETIME + 1)),
        SrtpError::UnsupportedLifetime(MAX_LIFETIME + 1)
    );
    assert!(ctx().with_lifetime(1 << 20).is_ok());
}

#[test]
fn a_spent_key_stops_protecting() {
    for suite in SUITES {
        let (k, s) = key(suite);
        let mut tx = SrtpContext::new(suite, &k, &s, None)
            .unwrap()
            .with_lifetime(2)
            .unwrap();
        let mut rx = SrtpContext::new(suite, &k, &s, None)
            .unwrap()
            .with_lifetime(2)
            .unwrap();
        let a = protected(&mut tx, 1);
        let b = protected(&mut tx, 2);
        assert_eq!(tx.protect_rtp(&mut rtp(3)), Err(SrtpError::KeyExhausted));
        rx.unprotect_rtp(&mut a.clone()).unwrap();
        rx.unprotect_rtp(&mut b.clone()).unwrap();
        let (mut other_tx, _) = pair(suite);
        let c = protected(&mut other_tx, 3);
        assert_eq!(
            rx.unprotect_rtp(&mut c.clone()),
            Err(SrtpError::KeyExhausted)
        );
    }
}

#[test]
fn streams_of_different_ssrcs_keep_their_own_counters() {
    for suite in SUITES {
        let (mut tx, mut rx) = pair(suite);
        let mut a = protected(&mut tx, 100);
        let mut b = rtp(100);
        b[8..12].copy_from_slice(&0xabcd_0001u32.to_be_bytes());
        let plain_b = b.clone();
        tx.protect_rtp(&mut b).unwrap();
        assert_eq!(rx.unprotect_rtp(&mut a), Ok(100));
        // Same sequence number, other SSRC: not a replay.
        assert_eq!(rx.unprotect_rtp(&mut b), Ok(100));
        assert_eq!(b, plain_b);
    }
}

fn fixed_receiver(suite: SrtpSuite) -> SrtpContext {
    let (k, s) = key(suite);
    SrtpContext::new(suite, &k, &s, Some((vec![1], 1))).unwrap()
}

proptest! {
    #[test]
    fn unprotect_of_any_bytes_is_an_error_not_a_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        suite in 0..3usize,
    ) {
        let mut rx = fixed_receiver(SUITES[suite]);
        prop_assert!(rx.unprotect_rtp(&mut bytes.clone()).is_err());
        prop_assert!(rx.unprotect_rtcp(&mut bytes.clone()).is_err());
    }

    #[test]
    fn any_rtp_like_header_with_garbage_is_refused(
        seq in any::<u16>(),
        first in 0x80u8..0xc0,
        tail in proptest::collection::vec(any::<u8>(), 0..200),
        suite in 0..3usize,
    ) {
        let mut p = vec![first, 0];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0; 4]);
        p.extend_from_slice(&SSRC.to_be_bytes());
        p.extend_from_slice(&tail);
        let mut rx = fixed_receiver(SUITES[suite]);
        prop_assert!(rx.unprotect_rtp(&mut p.clone()).is_err());
        prop_assert!(rx.unprotect_rtcp(&mut p).is_err());
    }

    #[test]
    fn any_payload_round_trips_and_any_corruption_is_caught(
        seq in any::<u16>(),
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        flip in any::<prop::sample::Index>(),
        suite in 0..3usize,
    ) {
        let suite = SUITES[suite];
        let (mut tx, mut rx) = pair(suite);
        let mut plain = rtp(seq)[..12].to_vec();
        plain.extend_from_slice(&payload);
        let mut p = plain.clone();
        tx.protect_rtp(&mut p).unwrap();
        let mut bad = p.clone();
        let at = flip.index(bad.len());
        bad[at] ^= 0x10;
        prop_assert!(rx.unprotect_rtp(&mut bad).is_err());
        prop_assert_eq!(rx.unprotect_rtp(&mut p), Ok(u64::from(seq)));
        prop_assert_eq!(p, plain);
    }
}

#[test]
fn a_sender_cannot_go_back_before_the_first_packet() {
    for suite in SUITES {
        let (mut tx, _) = pair(suite);
        let _ = protected(&mut tx, 100);
        // 40 000 back from 100 would need ROC -1: no index exists for it.
        assert_eq!(
            tx.protect_rtp(&mut rtp(40_100)),
            Err(SrtpError::TooOld(40_100)),
            "{suite}"
        );
        assert_eq!(tx.roc(Ssrc(SSRC)), Some(0));
    }
}

#[test]
fn a_rekey_keeps_the_rollover_counter_and_the_replay_list() {
    for suite in SUITES {
        let (mut tx, mut rx) = pair(suite);
        for seq in [65_534, 65_535, 0, 1] {
            rx.unprotect_rtp(&mut protected(&mut tx, seq)).unwrap();
        }
        let mut before = rtcp_sr();
        tx.protect_rtcp(&mut before).unwrap();
        rx.unprotect_rtcp(&mut before.clone()).unwrap();
        let (_, salt) = key(suite);
        let new_key = [0x33; 16];
        tx.rekey(suite, &new_key, &salt, None).unwrap();
        rx.rekey(suite, &new_key, &salt, None).unwrap();
        let after = protected(&mut tx, 2);
        // A receiver that starts afresh with the new key guesses ROC 0 and fails.
        let mut fresh = SrtpContext::new(suite, &new_key, &salt, None).unwrap();
        assert_eq!(
            fresh.unprotect_rtp(&mut after.clone()),
            Err(SrtpError::AuthenticationFailed),
            "{suite}"
        );
        assert_eq!(
            rx.unprotect_rtp(&mut after.clone()),
            Ok(65_536 + 2),
            "{suite}"
        );
        assert_eq!(rx.roc(Ssrc(SSRC)), Some(1));
        // SRTCP runs on from index 1, and the old report is still a replay.
        let mut report = rtcp_sr();
        tx.protect_rtcp(&mut report).unwrap();
        assert_eq!(rx.unprotect_rtcp(&mut report), Ok(1), "{suite}");
        assert!(rx.unprotect_rtcp(&mut before).is_err(), "{suite}");
    }
}
