//! Packet stamping and what the receiver makes of it: per-packet added latency and loss.
//!
//! A relayed payload reaches the far end byte for byte, so the generator writes a
//! [`Stamp`] (which stream, which packet, when it was sent) at the start of every payload
//! and reads it back on arrival. A transcoded payload does not survive the relay, so for
//! transcoding the packet is found from its RTP timestamp instead ([`TsIndex`]), and its
//! send time from the sender's record ([`SendLog`]).
//!
//! Times are nanoseconds of CLOCK_MONOTONIC read in the generator, which both sends and
//! receives, so no clocks need to agree.

/// Marks a payload as ours: a stray or corrupted datagram does not count as a packet.
const MAGIC: [u8; 4] = *b"SBst";

/// What the generator writes at the start of each relayed payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The stream (one direction of one call).
    pub stream: u32,
    /// The packet's number in its stream, from 0.
    pub index: u64,
    /// When the packet was handed to the kernel.
    pub sent_ns: u64,
}

impl Stamp {
    /// Bytes a stamp takes; a 20 ms G.711 payload (160 bytes) has room for it.
    pub const LEN: usize = 24;

    /// Writes the stamp at the start of `payload`; false when the payload is too short.
    pub fn write(&self, payload: &mut [u8]) -> bool {
        let Some(dst) = payload.get_mut(..Self::LEN) else {
            return false;
        };
        dst[..4].copy_from_slice(&MAGIC);
        dst[4..8].copy_from_slice(&self.stream.to_be_bytes());
        dst[8..16].copy_from_slice(&self.index.to_be_bytes());
        dst[16..24].copy_from_slice(&self.sent_ns.to_be_bytes());
        true
    }

    /// The stamp at the start of `payload`, if there is one.
    pub fn read(payload: &[u8]) -> Option<Stamp> {
        let s = payload.get(..Self::LEN)?;
        if s[..4] != MAGIC {
            return None;
        }
        let u32_at = |i: usize| u32::from_be_bytes(s[i..i + 4].try_into().expect("4 bytes"));
        let u64_at = |i: usize| u64::from_be_bytes(s[i..i + 8].try_into().expect("8 bytes"));
        Some(Stamp {
            stream: u32_at(4),
            index: u64_at(8),
            sent_ns: u64_at(16),
        })
    }
}

/// The send times of a stream's recent packets, so a receiver that can name a packet only
/// by its number (transcoding) learns when it was sent.
#[derive(Debug, Clone)]
pub struct SendLog {
    slots: Vec<(u64, u64)>,
}

impl SendLog {
    /// Remembers the last `capacity` packets (a power of two keeps the lookup a mask).
    pub fn new(capacity: usize) -> SendLog {
        SendLog {
            slots: vec![(u64::MAX, 0); capacity.next_power_of_two().max(1)],
        }
    }

    pub fn record(&mut self, index: u64, sent_ns: u64) {
        let mask = self.slots.len() - 1;
        self.slots[index as usize & mask] = (index, sent_ns);
    }

    /// When packet `index` was sent, if it is still remembered.
    pub fn sent_at(&self, index: u64) -> Option<u64> {
        let mask = self.slots.len() - 1;
        let (i, t) = self.slots[index as usize & mask];
        (i == index).then_some(t)
    }
}

/// Packet numbers from RTP timestamps of one received stream: the first packet received
/// is taken as packet `0` (the relays start every stream with the first packet they are
/// given; a stream whose first packet was lost would show as a latency one frame short),
/// and each later one is as many frames on as its timestamp is ticks on (RFC 3550 §5.1:
/// the timestamp counts sampling instants, so a gap in it is a lost or reordered packet).
#[derive(Debug, Clone, Copy, Default)]
pub struct TsIndex {
    first_ts: Option<u32>,
}

impl TsIndex {
    /// The packet number of a packet with timestamp `ts` in a stream whose frames are
    /// `step` ticks apart; None for a packet from before the first (reordered at start).
    pub fn index(&mut self, ts: u32, step: u32) -> Option<u64> {
        let first = *self.first_ts.get_or_insert(ts);
        let ahead = ts.wrapping_sub(first);
        // More than half the timestamp space ahead is behind, modulo 2^32.
        if ahead > u32::MAX / 2 || step == 0 {
            return None;
        }
        Some(u64::from(ahead / step))
    }
}

/// Latencies in microseconds, in 1 µs buckets to 100 ms and one bucket beyond.
#[derive(Debug, Clone)]
pub struct Histogram {
    buckets: Vec<u64>,
    count: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: vec![0; Self::TOP as usize + 1],
            count: 0,
        }
    }
}

impl Histogram {
    const TOP: u64 = 100_000;

    pub fn add(&mut self, micros: u64) {
        self.buckets[micros.min(Self::TOP) as usize] += 1;
        self.count += 1;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The smallest latency at or below which `p` (0 to 1) of the samples fall; None when
    /// empty. A value of 100,000 means "100 ms or more".
    pub fn quantile(&self, p: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((p * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (us, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(us as u64);
            }
        }
        Some(Self::TOP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_survives_the_payload_and_a_foreign_payload_has_none() {
        let stamp = Stamp {
            stream: 3001,
            index: 1 << 40,
            sent_ns: 123_456_789_012,
        };
        let mut payload = [0xffu8; 160];
        assert!(stamp.write(&mut payload));
        assert_eq!(Stamp::read(&payload), Some(stamp));
        // G.711 silence after the stamp is left alone.
        assert!(payload[Stamp::LEN..].iter().all(|&b| b == 0xff));

        assert_eq!(Stamp::read(&[0xffu8; 160]), None, "silence is not a stamp");
        assert_eq!(Stamp::read(&payload[..Stamp::LEN - 1]), None, "too short");
        assert!(!stamp.write(&mut [0u8; 10]));
    }

    #[test]
    fn send_log_forgets_what_was_overwritten() {
        let mut log = SendLog::new(100);
        for i in 0..300 {
            log.record(i, 1000 + i);
        }
        assert_eq!(log.sent_at(299), Some(1299));
        assert_eq!(log.sent_at(172), Some(1172));
        assert_eq!(log.sent_at(171), None, "128 slots: older ones are gone");
        assert_eq!(log.sent_at(400), None, "never sent");
    }

    #[test]
    fn timestamps_number_packets_across_a_gap_and_the_wrap() {
        let mut ix = TsIndex::default();
        let first = u32::MAX - 959; // the next frame wraps
        assert_eq!(ix.index(first, 960), Some(0));
        assert_eq!(ix.index(first.wrapping_add(960), 960), Some(1));
        // Packets 2 and 3 lost.
        assert_eq!(ix.index(first.wrapping_add(4 * 960), 960), Some(4));
        // From before the first packet.
        assert_eq!(ix.index(first.wrapping_sub(960), 960), None);
    }

    #[test]
    fn quantiles_of_known_latencies() {
        let mut h = Histogram::default();
        assert_eq!(h.quantile(0.5), None);
        for us in 1..=100 {
            h.add(us);
        }
        h.add(5_000_000); // clamped into the top bucket
        assert_eq!(h.count(), 101);
        assert_eq!(h.quantile(0.5), Some(51));
        assert_eq!(h.quantile(0.99), Some(100));
        assert_eq!(h.quantile(1.0), Some(100_000));
    }
}
