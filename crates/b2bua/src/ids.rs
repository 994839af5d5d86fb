//! Call ids and the sources of the random values the B2BUA writes on the wire.

use std::fmt;

/// One mediated call (two dialogs and one media session); never reused by a B2BUA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallRef(pub u64);

impl fmt::Display for CallRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call#{}", self.0)
    }
}

/// Where SRTP master keys and ICE passwords come from.
///
/// The core never reads a random source itself (sans-IO); the runtime installs one that
/// reads the operating system's CSPRNG with [`crate::B2bua::set_key_source`]. Until then
/// the B2BUA draws from its seeded generator, which makes tests reproducible and is NOT
/// fit for keys on a real network.
pub trait KeySource: Send + Sync {
    fn fill(&mut self, buf: &mut [u8]);
}

/// xorshift64*: tags, Call-IDs and branches need uniqueness, not secrecy.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Zero is xorshift's fixed point.
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// 16 hex digits.
    pub fn token(&mut self) -> String {
        format!("{:016x}", self.next())
    }
}

impl KeySource for Rng {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_be_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}
