//! Self-validating nonces with nonce-count tracking (RFC 2617 §3.2.1, §4.5; RFC 7616 §5.4,
//! §5.5).
//!
//! A nonce is 64 hex digits: the issue time (seconds, 16 digits), a unique part (16
//! digits) and an HMAC-SHA-256 over both under the server secret, truncated to 128 bits
//! (32 digits). Issuing one keeps no state, so a flood of unauthenticated requests costs
//! no memory, and any front end that shares the secret can verify a nonce another one
//! issued.
//!
//! Replay protection needs state: the highest nonce-count seen per nonce. A nonce enters
//! the table on its first successful use; the table is bounded and evicts the nonce issued
//! earliest. Everything issued at or before an evicted nonce (and everything issued before
//! this table was created, such as before a restart) is then answered as stale, so a
//! forgotten count can never be replayed: the client just fetches a fresh nonce.
//!
//! Time is Unix seconds given by the caller: a nonce outlives the process that issued it
//! and is checked by its peers, so a monotonic `Instant` would not do.

use crate::hash::to_hex;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::{BTreeSet, HashMap};

type HmacSha256 = Hmac<Sha256>;

const NONCE_LEN: usize = 64;
const BODY_LEN: usize = 32;

/// Why a nonce was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NonceError {
    /// Not one of ours: wrong shape or wrong MAC.
    #[error("nonce was not issued by this server")]
    Forged,
    /// Ours, but older than the lifetime (or no longer tracked): the client should retry
    /// with a fresh nonce (`stale=true`).
    #[error("nonce expired")]
    Stale,
    /// The nonce-count is not higher than one already accepted for this nonce.
    #[error("nonce count replayed")]
    Replayed,
}

/// Nonce settings.
#[derive(Debug, Clone)]
pub struct NonceConfig {
    /// Seconds a nonce stays valid after it was issued.
    pub lifetime_secs: u64,
    /// How many used nonces are tracked for nonce-count checks.
    pub capacity: usize,
}

impl Default for NonceConfig {
    fn default() -> Self {
        NonceConfig {
            lifetime_secs: 300,
            capacity: 100_000,
        }
    }
}

#[derive(Debug)]
struct Tracked {
    last_nc: u32,
}

/// Issues and checks nonces. Sans-IO: `now` is always an argument.
#[derive(Debug)]
pub struct Nonces {
    config: NonceConfig,
    mac: HmacSha256,
    seed: u64,
    issued: u64,
    live: HashMap<String, Tracked>,
    /// (issue time, nonce) for eviction by age.
    by_age: BTreeSet<(u64, String)>,
    /// Nonces issued before this time are stale unless tracked.
    floor: u64,
}

impl Nonces {
    /// `secret` is shared by every front end that must accept each other's nonces; `seed`
    /// differs per process (so nonces issued in the same second differ across front ends);
    /// `now` is the current Unix time in seconds.
    pub fn new(config: NonceConfig, secret: &[u8], seed: u64, now: u64) -> Nonces {
        Nonces {
            config,
            mac: HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length"),
            seed,
            issued: 0,
            live: HashMap::new(),
            by_age: BTreeSet::new(),
            floor: now,
        }
    }

    pub fn config(&self) -> &NonceConfig {
        &self.config
    }

    /// Number of nonces whose counts are being tracked.
    pub fn tracked(&self) -> usize {
        self.live.len()
    }

    /// A fresh nonce. Keeps no state beyond a counter.
    pub fn issue(&mut self, now: u64) -> String {
        self.issued += 1;
        let unique = mix(self.seed ^ mix(self.issued));
        let body = format!("{now:016x}{unique:016x}");
        let tag = self.tag(&body);
        body + &tag
    }

    /// Checks shape, MAC and age, without touching the counts. Returns the issue time.
    pub fn validate(&self, nonce: &str, now: u64) -> Result<u64, NonceError> {
        if nonce.len() != NONCE_LEN || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(NonceError::Forged);
        }
        let (body, tag) = nonce.split_at(BODY_LEN);
        let expected = self.tag(body);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            expected.as_bytes(),
            tag.as_bytes(),
        )) {
            return Err(NonceError::Forged);
        }
        let issued = u64::from_str_radix(&body[..16], 16).map_err(|_| NonceError::Forged)?;
        // A nonce from the future (a peer's clock ahead of ours) is accepted up to its
        // lifetime; beyond that it is as suspect as an expired one.
        let age_ok = if issued <= now {
            now - issued < self.config.lifetime_secs
        } else {
            issued - now < self.config.lifetime_secs
        };
        if !age_ok {
            return Err(NonceError::Stale);
        }
        Ok(issued)
    }

    /// Validates the nonce and accepts `nc` (RFC 2617 §3.2.2: the count must increase).
    /// Call it only after the response has been checked, so a forged request with a
    /// huge `nc` cannot burn a nonce the real client is using. `nc = None` (the legacy
    /// no-qop form) cannot be checked for replay; only the lifetime bounds it.
    pub fn accept(&mut self, nonce: &str, nc: Option<u32>, now: u64) -> Result<(), NonceError> {
        let issued = self.validate(nonce, now)?;
        let Some(nc) = nc else {
            return Ok(());
        };
        if let Some(t) = self.live.get_mut(nonce) {
            if nc <= t.last_nc {
                return Err(NonceError::Replayed);
            }
            t.last_nc = nc;
            return Ok(());
        }
        if issued < self.floor {
            return Err(NonceError::Stale);
        }
        self.prune(now);
        while self.live.len() >= self.config.capacity.max(1) {
            let Some((t, n)) = self.by_age.pop_first() else {
                break;
            };
            self.live.remove(&n);
            self.floor = self.floor.max(t + 1);
        }
        if issued < self.floor {
            // Eviction just raised the floor past this nonce.
            return Err(NonceError::Stale);
        }
        self.live.insert(nonce.to_string(), Tracked { last_nc: nc });
        self.by_age.insert((issued, nonce.to_string()));
        Ok(())
    }

    /// Drops tracked nonces that are past their lifetime (they fail `validate` anyway).
    fn prune(&mut self, now: u64) {
        while let Some((t, _)) = self.by_age.first() {
            if now.saturating_sub(*t) < self.config.lifetime_secs {
                break;
            }
            if let Some((_, n)) = self.by_age.pop_first() {
                self.live.remove(&n);
            }
        }
    }

    /// HMAC-SHA-256(secret, body), 128 bits in hex.
    fn tag(&self, body: &str) -> String {
        let mut m = self.mac.clone();
        m.update(body.as_bytes());
        to_hex(&m.finalize().into_bytes()[..16])
    }

    /// A key derived from the secret for another purpose (`label` keeps uses apart).
    pub(crate) fn derive(&self, label: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut m = self.mac.clone();
        m.update(label);
        for p in parts {
            m.update(&(p.len() as u64).to_be_bytes());
            m.update(p);
        }
        m.finalize().into_bytes().to_vec()
    }
}

/// SplitMix64's finaliser: a bijection, so distinct counters give distinct nonces.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000;

    fn nonces(capacity: usize) -> Nonces {
        let cfg = NonceConfig {
            lifetime_secs: 60,
            capacity,
        };
        Nonces::new(cfg, b"secret", 1, T0)
    }

    #[test]
    fn issued_nonces_are_unique_and_validate() {
        let mut n = nonces(10);
        let a = n.issue(T0);
        let b = n.issue(T0);
        assert_ne!(a, b);
        assert_eq!(a.len(), NONCE_LEN);
        assert_eq!(n.validate(&a, T0 + 59), Ok(T0));
        assert_eq!(n.validate(&a, T0 + 60), Err(NonceError::Stale));
    }

    #[test]
    fn another_front_end_with_the_same_secret_accepts_the_nonce() {
        let mut a = nonces(10);
        let mut b = Nonces::new(a.config().clone(), b"secret", 2, T0);
        let nonce = a.issue(T0 + 1);
        assert_eq!(b.accept(&nonce, Some(1), T0 + 2), Ok(()));
        let other = Nonces::new(a.config().clone(), b"other secret", 2, T0);
        assert_eq!(other.validate(&nonce, T0 + 2), Err(NonceError::Forged));
    }

    #[test]
    fn forged_nonces_are_refused() {
        let mut n = nonces(10);
        let good = n.issue(T0);
        // Same MAC, issue time moved forward by one second.
        let mut moved = good.clone().into_bytes();
        moved[15] = if moved[15] == b'0' { b'1' } else { b'0' };
        let moved = String::from_utf8(moved).unwrap();
        for bad in [
            "",
            "xyz",
            &"0".repeat(64),
            &moved,
            &good[..63],
            &good.to_uppercase(),
        ] {
            if bad.eq_ignore_ascii_case(&good) {
                continue;
            }
            assert_eq!(n.validate(bad, T0), Err(NonceError::Forged), "{bad}");
        }
    }

    #[test]
    fn nonce_count_must_increase() {
        let mut n = nonces(10);
        let x = n.issue(T0);
        assert_eq!(n.accept(&x, Some(1), T0), Ok(()));
        assert_eq!(n.accept(&x, Some(1), T0), Err(NonceError::Replayed));
        assert_eq!(n.accept(&x, Some(3), T0), Ok(()));
        assert_eq!(n.accept(&x, Some(2), T0), Err(NonceError::Replayed));
        assert_eq!(n.accept(&x, None, T0), Ok(()));
    }

    #[test]
    fn nonces_from_before_the_table_existed_are_stale() {
        let mut old = nonces(10);
        let x = old.issue(T0 - 5);
        let mut restarted = nonces(10);
        assert_eq!(restarted.accept(&x, Some(9), T0), Err(NonceError::Stale));
    }

    #[test]
    fn table_is_bounded_and_evicted_nonces_turn_stale() {
        let mut n = nonces(2);
        let a = n.issue(T0);
        let b = n.issue(T0 + 1);
        let c = n.issue(T0 + 2);
        n.accept(&a, Some(1), T0 + 2).unwrap();
        n.accept(&b, Some(1), T0 + 2).unwrap();
        n.accept(&c, Some(1), T0 + 2).unwrap();
        assert_eq!(n.tracked(), 2);
        // `a` was evicted; replaying it must not slip through as a first use.
        assert_eq!(n.accept(&a, Some(1), T0 + 3), Err(NonceError::Stale));
        assert_eq!(n.accept(&c, Some(2), T0 + 3), Ok(()));
    }

    #[test]
    fn expired_entries_are_pruned() {
        let mut n = nonces(10);
        let a = n.issue(T0);
        n.accept(&a, Some(1), T0).unwrap();
        let b = n.issue(T0 + 100);
        n.accept(&b, Some(1), T0 + 100).unwrap();
        assert_eq!(n.tracked(), 1);
    }
}
