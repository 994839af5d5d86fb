//! Keeping one outgoing RTP stream continuous while its source changes.
//!
//! A B2BUA that switches what it relays toward a leg (a transfer, a re-INVITE to a new
//! party, music on hold) must not let the far end see a new SSRC with a jump in sequence
//! number and timestamp: many gateways treat that as a new stream, reset their jitter
//! buffer badly, or drop packets until the A.1 probation of RFC 3550 passes. We send one
//! SSRC per leg and shift each source's numbers so they continue where the last source
//! stopped (RFC 3550 §5.1, "translators" in §7.2 keep sequence continuity the same way).

use crate::Ssrc;

/// The header fields to write on a relayed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewritten {
    pub ssrc: Ssrc,
    pub sequence: u16,
    pub timestamp: u32,
    /// True when the incoming marker was set or this is the first packet of a new
    /// source: for audio the marker starts a talkspurt (RFC 3551 §4.1), which tells the
    /// receiver's jitter buffer to resynchronise. (Audio only: for video the marker means
    /// the end of a frame, and this rewriter is not meant for it.)
    pub marker: bool,
}

#[derive(Debug, Clone, Copy)]
struct Source {
    ssrc: Ssrc,
    seq_offset: u16,
    ts_offset: u32,
}

#[derive(Debug, Clone, Copy)]
struct LastOut {
    sequence: u16,
    timestamp: u32,
    at_us: u64,
}

/// Maps incoming (SSRC, sequence, timestamp) to one continuous outgoing stream.
#[derive(Debug, Clone)]
pub struct StreamRewriter {
    out_ssrc: Ssrc,
    clock_rate: u32,
    source: Option<Source>,
    last: Option<LastOut>,
}

impl StreamRewriter {
    /// `out_ssrc` is the SSRC this leg sends; `clock_rate` the outgoing payload's clock.
    pub fn new(out_ssrc: Ssrc, clock_rate: u32) -> Self {
        Self {
            out_ssrc,
            clock_rate: clock_rate.max(1),
            source: None,
            last: None,
        }
    }

    /// Rewrites one packet that arrived at `now_us`.
    pub fn rewrite(
        &mut self,
        now_us: u64,
        ssrc: Ssrc,
        sequence: u16,
        timestamp: u32,
        marker: bool,
    ) -> Rewritten {
        let mut new_source = false;
        let src = match self.source {
            Some(s) if s.ssrc == ssrc => s,
            _ => {
                new_source = true;
                let s = match self.last {
                    // Continue one packet after the last one, and advance the timestamp by
                    // the wall time that passed (at least one unit, so it never repeats).
                    Some(l) => {
                        let gap_us = u128::from(now_us.saturating_sub(l.at_us));
                        let units =
                            (gap_us * u128::from(self.clock_rate) / 1_000_000).max(1) as u32;
                        Source {
                            ssrc,
                            seq_offset: l.sequence.wrapping_add(1).wrapping_sub(sequence),
                            ts_offset: l.timestamp.wrapping_add(units).wrapping_sub(timestamp),
                        }
                    }
                    None => Source {
                        ssrc,
                        seq_offset: 0,
                        ts_offset: 0,
                    },
                };
                self.source = Some(s);
                s
            }
        };
        let out = Rewritten {
            ssrc: self.out_ssrc,
            sequence: sequence.wrapping_add(src.seq_offset),
            timestamp: timestamp.wrapping_add(src.ts_offset),
            marker: marker || new_source,
        };
        // Only a newer packet moves the continuation point; a reordered one must not.
        let newer = match self.last {
            Some(l) => (out.sequence.wrapping_sub(l.sequence) as i16) > 0,
            None => true,
        };
        if newer {
            self.last = Some(LastOut {
                sequence: out.sequence,
                timestamp: out.timestamp,
                at_us: now_us,
            });
        }
        out
    }

    /// The SSRC of the source being relayed now.
    pub fn current_source(&self) -> Option<Ssrc> {
        self.source.map(|s| s.ssrc)
    }
}
