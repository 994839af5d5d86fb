//! Extended RTP sequence numbers (RFC 3550 §A.1) for callers that keep no receive
//! statistics: the 16-bit header field wraps every 65 536 packets (about 22 minutes at
//! 50 packets a second), and the jitter buffer needs a number that never wraps.

/// Extends 16-bit sequence numbers to 64 bits. A number within 2^15 behind the newest is
/// taken as an older packet (reordered or late), anything else as newer, the same rule
/// A.1 applies with its `cycles` count.
#[derive(Debug, Clone, Default)]
pub struct SeqExtender {
    newest: Option<u64>,
}

/// The first packet is placed one cycle up, so a reordered packet from just before it
/// (across a wrap) still has a place below it.
const FIRST_CYCLE: u64 = 1 << 16;

impl SeqExtender {
    /// An extender that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The extended number of a packet carrying `seq`.
    pub fn extend(&mut self, seq: u16) -> u64 {
        let Some(newest) = self.newest else {
            let first = FIRST_CYCLE + u64::from(seq);
            self.newest = Some(first);
            return first;
        };
        // Truncation intended: the signed 16-bit distance from the newest packet.
        let delta = i64::from(seq.wrapping_sub(newest as u16) as i16);
        let extended = newest.saturating_add_signed(delta);
        if extended > newest {
            self.newest = Some(extended);
        }
        extended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_forward_and_places_reordered_packets_across_the_wrap() {
        let mut x = SeqExtender::new();
        let a = x.extend(65_534);
        assert_eq!(x.extend(65_535), a + 1);
        assert_eq!(x.extend(1), a + 3); // 0 is still on its way
        assert_eq!(x.extend(0), a + 2); // reordered across the wrap: older, not a new cycle
        assert_eq!(x.extend(2), a + 4);
    }

    #[test]
    fn a_packet_from_before_the_first_one_is_placed_below_it() {
        let mut x = SeqExtender::new();
        let first = x.extend(3);
        assert_eq!(x.extend(65_530), first - 9);
        assert_eq!(x.extend(4), first + 1);
    }

    #[test]
    fn counts_many_cycles() {
        let mut x = SeqExtender::new();
        let first = x.extend(0);
        let mut last = first;
        for i in 1..=300_000u64 {
            last = x.extend((i % 65_536) as u16);
        }
        assert_eq!(last, first + 300_000);
    }
}
