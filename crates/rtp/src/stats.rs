//! Receive statistics for one RTP source: RFC 3550 Appendix A.1 (sequence validation and
//! extended sequence numbers), A.3 (expected, lost, fraction lost) and A.8 (interarrival
//! jitter); round-trip time from report blocks (§6.4.1); and a MOS estimate (ITU-T G.107).

use crate::rtcp::{ReportBlock, SenderReport};
use crate::{NtpTime, Ssrc};

/// A.1: a jump larger than this is treated as a restart unless confirmed.
const MAX_DROPOUT: u32 = 3000;
/// A.1: packets this far behind the highest are late, not a restart.
const MAX_MISORDER: u32 = 100;
const SEQ_MOD: u32 = 1 << 16;

/// What [`ReceiveStats::handle_packet`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Counted; the source is valid.
    Accepted,
    /// Counted towards probation (A.1: a new source must send `min_sequential` packets in
    /// sequence before it is believed); the caller should not play it yet.
    Probation,
    /// Already received (within the last 128 sequence numbers): not counted again.
    Duplicate,
    /// Sent before the statistics began (during probation or before a restart): not
    /// counted.
    Late,
    /// A large jump or a very late packet: dropped unless the next one confirms a restart.
    Bad,
}

/// Per-source receive statistics, driven by the sequence number, RTP timestamp and the
/// arrival time of each packet.
#[derive(Debug, Clone)]
pub struct ReceiveStats {
    ssrc: Ssrc,
    clock_rate: u32,
    min_sequential: u32,
    started: bool,
    max_seq: u16,
    /// Shifted count of sequence number cycles (A.1 `cycles`, multiples of 2^16).
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    probation: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    /// Bit i set: extended sequence `max - i` was received. Our addition to A.1 so
    /// duplicates do not inflate `received` (A.3 notes duplicates otherwise count).
    window: u128,
    transit: Option<i64>,
    /// A.8 jitter in timestamp units, kept as f64 to avoid the integer rounding drift.
    jitter: f64,
    /// Middle 32 bits of the last SR from this source and when it arrived.
    last_sr: Option<(u32, u64)>,
}

impl ReceiveStats {
    /// Statistics for a source not yet heard; its first packet starts probation (A.1).
    /// `clock_rate` is the payload's RTP clock (8000 for G.711, 48000 for Opus), used to
    /// turn arrival times into timestamp units for jitter. `min_sequential` is the
    /// probation length (A.1 uses 2; 0 or 1 trusts the first packet).
    pub fn new(ssrc: Ssrc, clock_rate: u32, min_sequential: u32) -> Self {
        Self {
            ssrc,
            clock_rate: clock_rate.max(1),
            min_sequential: min_sequential.max(1),
            started: false,
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: SEQ_MOD + 1,
            probation: min_sequential.max(1),
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            window: 0,
            transit: None,
            jitter: 0.0,
            last_sr: None,
        }
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
        self.window = 0;
    }

    /// A.1 `update_seq` plus A.8 jitter. `now_us` is the arrival time.
    pub fn handle_packet(&mut self, now_us: u64, seq: u16, rtp_timestamp: u32) -> Verdict {
        let verdict = self.update_seq(seq);
        if matches!(verdict, Verdict::Accepted | Verdict::Probation) {
            self.update_jitter(now_us, rtp_timestamp);
        }
        verdict
    }

    fn update_seq(&mut self, seq: u16) -> Verdict {
        if !self.started {
            // A.1: the first packet of a source starts probation one behind itself.
            self.started = true;
            self.init_seq(seq);
            self.max_seq = seq.wrapping_sub(1);
            self.probation = self.min_sequential;
        }
        let udelta = u32::from(seq.wrapping_sub(self.max_seq));
        if self.probation > 0 {
            if udelta == 1 {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    // Counting starts at the packet that ends probation (A.1 init_seq).
                    self.init_seq(seq);
                    self.window = 1;
                    self.received = 1;
                    return Verdict::Accepted;
                }
            } else {
                self.probation = self.min_sequential - 1;
                self.max_seq = seq;
            }
            return Verdict::Probation;
        }
        if udelta == 0 {
            return Verdict::Duplicate;
        }
        if udelta < MAX_DROPOUT {
            // In order, with an allowed gap.
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(SEQ_MOD);
            }
            self.max_seq = seq;
            self.window = if udelta >= 128 {
                1
            } else {
                self.window << udelta | 1
            };
        } else if udelta <= SEQ_MOD - MAX_MISORDER {
            // A very large jump: a restart if the next packet follows this one.
            if u32::from(seq) == self.bad_seq {
                self.init_seq(seq);
                self.window = 1;
                self.received = 1;
                return Verdict::Accepted;
            }
            self.bad_seq = (u32::from(seq) + 1) & (SEQ_MOD - 1);
            return Verdict::Bad;
        } else {
            // Late or reordered (A.1 "duplicate or reordered packet").
            let back = SEQ_MOD - udelta;
            if back > self.extended_max_seq().wrapping_sub(self.base_seq) {
                // From before counting began (probation or a restart): counting it would
                // make `received` exceed `expected`.
                return Verdict::Late;
            }
            if back < 128 {
                let bit = 1u128 << back;
                if self.window & bit != 0 {
                    return Verdict::Duplicate;
                }
                self.window |= bit;
            }
        }
        self.received = self.received.wrapping_add(1);
        Verdict::Accepted
    }

    fn update_jitter(&mut self, now_us: u64, rtp_timestamp: u32) {
        // A.8: transit = arrival (in RTP units) - timestamp; only differences matter, so
        // wrapping 32-bit arithmetic is exact.
        let arrival = (u128::from(now_us) * u128::from(self.clock_rate) / 1_000_000) as u32;
        let transit = i64::from(arrival.wrapping_sub(rtp_timestamp) as i32);
        if let Some(prev) = self.transit {
            let d = (transit - prev).abs() as f64;
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.transit = Some(transit);
    }

    pub fn ssrc(&self) -> Ssrc {
        self.ssrc
    }
    /// True once probation is over.
    pub fn is_valid(&self) -> bool {
        self.probation == 0
    }
    /// A.1: highest sequence number with the cycle count in the high 16 bits.
    pub fn extended_max_seq(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }
    pub fn received(&self) -> u32 {
        self.received
    }
    /// A.3: packets expected since the base sequence number.
    pub fn expected(&self) -> u32 {
        if !self.is_valid() {
            return 0;
        }
        self.extended_max_seq()
            .wrapping_sub(self.base_seq)
            .wrapping_add(1)
    }
    /// A.3: cumulative lost (negative only if something was counted twice).
    pub fn lost(&self) -> i64 {
        i64::from(self.expected()) - i64::from(self.received)
    }
    /// Interarrival jitter in timestamp units (A.8).
    pub fn jitter(&self) -> u32 {
        self.jitter as u32
    }
    /// Interarrival jitter in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        self.jitter * 1000.0 / f64::from(self.clock_rate)
    }

    /// Records an SR from this source so our next report block can echo LSR/DLSR.
    pub fn handle_sender_report(&mut self, now_us: u64, sr: &SenderReport) {
        self.last_sr = Some((sr.ntp.compact(), now_us));
    }

    /// Builds the report block for this source (§6.4.1) and starts a new interval for
    /// the fraction-lost computation (A.3). `None` while the source is on probation.
    pub fn report_block(&mut self, now_us: u64) -> Option<ReportBlock> {
        if !self.is_valid() {
            return None;
        }
        let expected = self.expected();
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((lsr, at)) => {
                let dlsr = (u128::from(now_us.saturating_sub(at)) * 65536 / 1_000_000) as u32;
                (lsr, dlsr)
            }
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc: self.ssrc,
            fraction_lost,
            cumulative_lost: self.lost().clamp(-0x80_0000, 0x7F_FFFF) as i32,
            extended_highest_seq: self.extended_max_seq(),
            jitter: self.jitter(),
            last_sr,
            delay_since_last_sr,
        })
    }
}

/// What we sent on one SSRC, for the sender-info part of our SR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Default)]
pub struct SenderStats {
    packets: u32,
    octets: u32,
    /// The last packet's RTP timestamp and when it was sent.
    last: Option<(u32, u64)>,
}

impl SenderStats {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one sent packet; octets are payload only, without header or padding.
    pub fn on_packet_sent(&mut self, now_us: u64, rtp_timestamp: u32, payload_len: usize) {
        // §6.4.1: both counters wrap; receivers work with differences.
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload_len as u32);
        self.last = Some((rtp_timestamp, now_us));
    }

    pub fn packet_count(&self) -> u32 {
        self.packets
    }
    pub fn octet_count(&self) -> u32 {
        self.octets
    }
    pub fn has_sent(&self) -> bool {
        self.last.is_some()
    }

    /// An SR for `ssrc` stamped with `ntp` (our wall clock at `now_us`). Its RTP timestamp
    /// is the last packet's advanced by the time since it left, so a receiver can map the
    /// two clocks for lip sync (§6.4.1: "not necessarily equal to the timestamp in any
    /// adjacent data packet").
    pub fn sender_report(
        &self,
        now_us: u64,
        ntp: NtpTime,
        ssrc: Ssrc,
        clock_rate: u32,
        reports: Vec<ReportBlock>,
    ) -> SenderReport {
        let rtp_timestamp = match self.last {
            Some((ts, at)) => {
                let elapsed = u128::from(now_us.saturating_sub(at)) * u128::from(clock_rate);
                ts.wrapping_add((elapsed / 1_000_000) as u32)
            }
            None => 0,
        };
        SenderReport {
            ssrc,
            ntp,
            rtp_timestamp,
            packet_count: self.packets,
            octet_count: self.octets,
            reports,
        }
    }
}

/// §6.4.1: round trip in compact NTP units (1/65536 s), `A - LSR - DLSR`, where `A` is
/// the compact NTP time the report block arrived. `None` when the peer has not yet
/// received an SR (LSR = 0) or the result would be negative (clock or peer error).
pub fn rtt_compact(arrival: u32, last_sr: u32, delay_since_last_sr: u32) -> Option<u32> {
    if last_sr == 0 {
        return None;
    }
    let rtt = arrival
        .wrapping_sub(last_sr)
        .wrapping_sub(delay_since_last_sr);
    // A "negative" result wraps to a huge value; anything over half the range is bogus.
    (rtt < 0x8000_0000).then_some(rtt)
}

/// How many of our own SR send times are remembered.
const SR_HISTORY: usize = 16;

/// Measures RTT against our SR send times: we remember when each SR left (on our
/// monotonic clock) keyed by its compact NTP time, so a report block's LSR finds it even
/// if the wall clock steps.
#[derive(Debug, Clone, Default)]
pub struct RttEstimator {
    sent: Vec<(u32, u64)>,
    last_rtt_us: Option<u64>,
}

impl RttEstimator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Call when we send an SR stamped `ntp` at `now_us`.
    pub fn on_sr_sent(&mut self, now_us: u64, ntp: NtpTime) {
        if self.sent.len() == SR_HISTORY {
            self.sent.remove(0);
        }
        self.sent.push((ntp.compact(), now_us));
    }

    /// Feeds a report block about our stream received at `now_us`; returns the RTT in
    /// microseconds when the block refers to an SR we remember.
    pub fn handle_report_block(&mut self, now_us: u64, block: &ReportBlock) -> Option<u64> {
        if block.last_sr == 0 {
            return None;
        }
        let &(_, sent_us) = self.sent.iter().find(|(c, _)| *c == block.last_sr)?;
        let dlsr_us = u64::from(block.delay_since_last_sr) * 1_000_000 / 65536;
        let rtt = now_us.checked_sub(sent_us)?.checked_sub(dlsr_us)?;
        self.last_rtt_us = Some(rtt);
        Some(rtt)
    }

    /// The most recent measurement.
    pub fn rtt_us(&self) -> Option<u64> {
        self.last_rtt_us
    }
}

/// An estimated MOS (1.0–4.5) for G.711 narrowband speech from network figures.
///
/// A simplified ITU-T G.107 E-model (as popularised by Cole and Rosenbluth, "Voice over
/// IP performance monitoring", 2001), all other parameters at their G.107 defaults:
///
/// - one-way delay `d` (ms) = `rtt_ms / 2 + 2 * jitter_ms` (a jitter buffer sized at twice
///   the jitter) `+ 10` (one 10 ms codec frame of look-ahead and packetisation);
/// - delay impairment `Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)`, H the step function;
/// - equipment impairment with loss, G.107 §7.5 (7-29):
///   `Ie_eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl)` with G.711 `Ie = 0`,
///   `Bpl = 4.3` (G.113 Appendix I, without PLC) and random loss `BurstR = 1`;
/// - `R = 93.2 - Id - Ie_eff`, and G.107 Annex B (B-4):
///   `MOS = 1 + 0.035 R + R (R - 60)(100 - R) 7e-6` for `0 < R < 100`.
///
/// `loss` is a fraction 0.0–1.0 (for example `fraction_lost / 256`).
pub fn estimate_mos(loss: f64, jitter_ms: f64, rtt_ms: f64) -> f64 {
    let d = rtt_ms.max(0.0) / 2.0 + 2.0 * jitter_ms.max(0.0) + 10.0;
    let id = 0.024 * d + if d > 177.3 { 0.11 * (d - 177.3) } else { 0.0 };
    let ppl = (loss.clamp(0.0, 1.0)) * 100.0;
    let (ie, bpl, burst_r) = (0.0, 4.3, 1.0);
    let ie_eff = ie + (95.0 - ie) * ppl / (ppl / burst_r + bpl);
    let r = 93.2 - id - ie_eff;
    if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        // The cubic dips just below 1 for small R; MOS is defined on 1–4.5.
        (1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6).clamp(1.0, 4.5)
    }
}
