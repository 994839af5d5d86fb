//! Packet index estimation and the replay list (RFC 3711 §3.3.1, §3.3.2, Appendix A).

use crate::SrtpError;

/// A sliding window of the last 64 accepted indices (RFC 3711 §3.3.2 asks for at least 64).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ReplayWindow {
    /// The highest accepted index.
    top: u64,
    /// Bit `d` set: index `top - d` was accepted. Zero only before the first packet.
    bits: u64,
}

pub(crate) const WINDOW: u64 = 64;

impl ReplayWindow {
    /// Refuses an index seen already or fallen out of the window. Checked before the
    /// tag (cheap), but only [`ReplayWindow::accept`]ed after it verifies, so forged
    /// packets never move the window.
    pub(crate) fn check(&self, index: u64) -> Result<(), SrtpError> {
        if self.bits == 0 || index > self.top {
            return Ok(());
        }
        let back = self.top - index;
        if back >= WINDOW {
            Err(SrtpError::TooOld(index))
        } else if self.bits >> back & 1 == 1 {
            Err(SrtpError::Replayed(index))
        } else {
            Ok(())
        }
    }

    pub(crate) fn accept(&mut self, index: u64) {
        if self.bits == 0 {
            self.top = index;
            self.bits = 1;
        } else if index > self.top {
            let ahead = index - self.top;
            self.bits = if ahead >= WINDOW {
                1
            } else {
                self.bits << ahead | 1
            };
            self.top = index;
        } else if self.top - index < WINDOW {
            self.bits |= 1 << (self.top - index);
        }
    }
}

/// Per-SSRC SRTP state: the rollover counter, the highest sequence number and, on the
/// receiving side, the replay window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RtpStream {
    roc: u32,
    s_l: u16,
    window: ReplayWindow,
}

impl RtpStream {
    /// A stream first seen with `seq`; its ROC starts at 0 (RFC 3711 §3.3.1).
    pub(crate) fn new(seq: u16) -> Self {
        Self {
            roc: 0,
            s_l: seq,
            window: ReplayWindow::default(),
        }
    }

    /// The 48-bit index of a packet with `seq` (RFC 3711 Appendix A), or `None` when the
    /// guess falls before ROC 0 or past ROC 2^32 - 1.
    pub(crate) fn estimate(&self, seq: u16) -> Option<u64> {
        let roc = i64::from(self.roc);
        let (seq_i, s_l) = (i64::from(seq), i64::from(self.s_l));
        let v = if s_l < 0x8000 {
            if seq_i - s_l > 0x8000 {
                roc - 1
            } else {
                roc
            }
        } else if s_l - 0x8000 > seq_i {
            roc + 1
        } else {
            roc
        };
        let v = u32::try_from(v).ok()?;
        Some(u64::from(v) << 16 | u64::from(seq))
    }

    pub(crate) fn check(&self, index: u64) -> Result<(), SrtpError> {
        self.window.check(index)
    }

    /// Records an authenticated (or locally sent) packet: §3.3.1 updates ROC and s_l only
    /// when the index is the highest yet.
    pub(crate) fn accept(&mut self, index: u64) {
        if index >= self.highest() {
            // Truncation intended: the index is 48 bits, ROC its top 32, s_l its low 16.
            self.roc = (index >> 16) as u32;
            self.s_l = index as u16;
        }
        self.window.accept(index);
    }

    fn highest(&self) -> u64 {
        u64::from(self.roc) << 16 | u64::from(self.s_l)
    }

    /// The current rollover counter.
    pub(crate) fn roc(&self) -> u32 {
        self.roc
    }
}

/// Per-SSRC SRTCP state: the next index to send and the replay window of received ones.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RtcpStream {
    pub(crate) next: u32,
    pub(crate) window: ReplayWindow,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appendix_a_guesses_across_the_wrap() {
        let mut s = RtpStream::new(65_530);
        s.accept(65_530);
        assert_eq!(s.estimate(65_535), Some(65_535));
        assert_eq!(s.estimate(2), Some(65_536 + 2));
        s.accept(65_536 + 2);
        assert_eq!(s.roc(), 1);
        // A late packet from before the wrap belongs to ROC 0.
        assert_eq!(s.estimate(65_534), Some(65_534));
    }

    #[test]
    fn no_index_before_roc_zero() {
        let mut s = RtpStream::new(10);
        s.accept(10);
        assert_eq!(s.estimate(60_000), None);
    }

    #[test]
    fn window_edges() {
        let mut w = ReplayWindow::default();
        w.accept(100);
        assert_eq!(w.check(100), Err(SrtpError::Replayed(100)));
        assert_eq!(w.check(37), Ok(()));
        assert_eq!(w.check(36), Err(SrtpError::TooOld(36)));
        w.accept(37);
        assert_eq!(w.check(37), Err(SrtpError::Replayed(37)));
        w.accept(300);
        assert_eq!(w.check(100), Err(SrtpError::TooOld(100)));
        assert_eq!(w.check(299), Ok(()));
    }
}
