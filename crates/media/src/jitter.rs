//! Adaptive jitter buffer for one audio stream of fixed frame duration.
//!
//! RTP carries a media timestamp (RFC 3550 §5.1) that says when each frame was sampled;
//! the network adds a variable delay. The buffer holds early packets and releases one frame
//! per playout tick, so the decoder sees a steady stream. It is sans-IO: the caller passes
//! the arrival time on [`JitterBuffer::push`] and calls [`JitterBuffer::pop`] once per frame
//! interval from its playout clock; the buffer never reads a clock.
//!
//! Delay model. For each packet the *transit* is `arrival - timestamp` (both in µs, the
//! timestamp measured from an arbitrary origin), the quantity RFC 3550 §6.4.1 builds its
//! interarrival jitter on. The fastest packet in a recent window sets the baseline; a
//! packet's jitter is how much later than the baseline it came. The playout *offset* is
//! `now - timestamp` of the frame being played, so a packet is in time exactly when its
//! transit is at most the offset; the buffer delay is `offset - baseline`.
//!
//! Adaptation. The target delay is a percentile of the jitter over the window, raised at
//! once to the jitter of any packet above that percentile (each such peak is held for a
//! while, so one spike is enough and periodic bursts keep it up), plus a margin, bounded by
//! `[min_delay, max_delay]`. When the delay falls a frame short of the target the buffer
//! stretches by one concealment frame per tick (fast growth). When it is a frame and a half
//! above target it drops one queued frame, at most once per `shrink_interval` (bounded
//! slow shrink). At the start of each talk spurt (RFC 3551 §4.1: marker bit, or a timestamp
//! jump with contiguous sequence numbers, RFC 3550 §5.1) playout re-anchors at the target
//! delay, which is where most of the adjustment happens, in silence.
//!
//! Loss or delay? When the queue runs dry the frame is concealed but the play point holds,
//! since the packet may only be late; once a later packet arrives, the concealed frames
//! count against the gap it reveals. So a lost packet costs exactly one concealed frame, a
//! delayed one costs none (it plays, and the delay has grown by the wait). After
//! `max_conceal_frames` dry frames the talk spurt is taken as ended and playout falls
//! silent until the queue has waited the target delay again.
//!
//! Accounting: every pushed packet ends in exactly one of played, late, duplicate or
//! discarded (delay reduction, overflow, flush), or is still queued; see [`JitterStats`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// How many recently released sequence numbers are remembered to spot duplicates.
const SEEN_SEQ_MEMORY: usize = 1024;
/// Most jitter peaks remembered; the oldest go first.
const MAX_PEAKS: usize = 256;

/// What the playout clock gets for one frame interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// The payload of the packet due now, as received.
    Audio(Vec<u8>),
    /// A frame of the talk spurt is missing (lost, late, or the buffer is growing): the
    /// decoder should conceal it (packet loss concealment).
    Missing,
    /// No talk spurt is playing (before the first packet, between talk spurts, after a long
    /// outage): play comfort noise or silence.
    Silence,
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushOutcome {
    /// Queued for playout.
    Queued,
    /// Queued as the first frame of a new talk spurt (marker bit or timestamp jump).
    NewTalkSpurt,
    /// Queued after a timestamp discontinuity that is not a talk spurt (the source restarted
    /// its timestamps): the older queue was discarded and playout starts afresh.
    Resynchronised,
    /// Its timestamp breaks with the stream's time line: held until the next packet either
    /// confirms a restart (then both are queued) or shows it was a stray (then it is
    /// discarded), as RFC 3550 A.1 waits for a second packet before believing a jump.
    Held,
    /// Its frame was already played (or concealed): dropped, counted as late.
    Late,
    /// Already queued or played: dropped, counted as duplicate.
    Duplicate,
    /// The queue is full, or another packet holds its timestamp: dropped, counted as
    /// discarded.
    Discarded,
}

/// Configuration; all durations in microseconds.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct JitterConfig {
    /// RTP clock rate of the payload in Hz (8000 for G.711, 48000 for Opus).
    pub clock_rate: u32,
    /// Duration of one frame (one packet), e.g. 20 000 for 20 ms.
    pub frame_us: u64,
    /// Lowest target delay.
    pub min_delay_us: u64,
    /// Highest target delay.
    pub max_delay_us: u64,
    /// Added above the measured jitter percentile.
    pub margin_us: u64,
    /// Jitter percentile the target covers, in per mille (950 = 95th percentile).
    pub percentile_permille: u16,
    /// How long jitter samples stay in the window.
    pub window_us: u64,
    /// How long the jitter of a late packet keeps the target up (fast attack, slow decay).
    pub spike_hold_us: u64,
    /// At most one queued frame is dropped to reduce delay per this interval.
    pub shrink_interval_us: u64,
    /// Concealment frames played on an empty queue before the talk spurt is given up as
    /// ended and playout falls silent.
    pub max_conceal_frames: u32,
    /// Most packets queued at once; more are discarded.
    pub capacity: usize,
}

impl JitterConfig {
    /// Sensible defaults for `frame_us` frames on a `clock_rate` clock: 20–400 ms delay,
    /// 95th percentile over 4 s, spikes held 10 s, one frame dropped per 500 ms at most.
    pub fn new(clock_rate: u32, frame_us: u64) -> Self {
        Self {
            clock_rate,
            frame_us,
            min_delay_us: 20_000,
            max_delay_us: 400_000,
            margin_us: frame_us / 2,
            percentile_permille: 950,
            window_us: 4_000_000,
            spike_hold_us: 10_000_000,
            shrink_interval_us: 500_000,
            max_conceal_frames: 3,
            capacity: 128,
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.clock_rate == 0 {
            return Err(ConfigError::ZeroClockRate);
        }
        if self.frame_samples() == 0 {
            return Err(ConfigError::FrameTooShort);
        }
        if self.min_delay_us > self.max_delay_us {
            return Err(ConfigError::DelayBounds);
        }
        if self.percentile_permille > 1000 {
            return Err(ConfigError::Percentile);
        }
        if self.capacity == 0 {
            return Err(ConfigError::ZeroCapacity);
        }
        Ok(())
    }

    fn frame_samples(&self) -> i64 {
        (i128::from(self.frame_us) * i128::from(self.clock_rate) / 1_000_000) as i64
    }
}

/// A [`JitterConfig`] that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("clock rate must not be zero")]
    ZeroClockRate,
    #[error("frame duration is shorter than one clock tick")]
    FrameTooShort,
    #[error("minimum delay exceeds maximum delay")]
    DelayBounds,
    #[error("percentile must be at most 1000 per mille")]
    Percentile,
    #[error("capacity must not be zero")]
    ZeroCapacity,
}

/// Counters and the current delay, for RTCP reports (RFC 3611 §4.7 VoIP metrics) and
/// call records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JitterStats {
    /// Packets handed to `push`.
    pub pushed: u64,
    /// Packets played as [`Frame::Audio`].
    pub played: u64,
    /// Packets that arrived after their frame was due.
    pub late: u64,
    /// Packets received twice.
    pub duplicate: u64,
    /// Packets dropped: to reduce delay, on overflow, on a timestamp collision, by a flush
    /// (reset or confirmed restart), or as a stray timestamp no second packet confirmed.
    pub discarded: u64,
    /// Sequence numbers skipped between consecutive released packets: not there when due.
    /// A packet that arrives late afterwards is counted here and in `late`, as a receiver
    /// that plays out counts it (RFC 3611 §4.7.1 treats discarded-late as lost to playout).
    pub lost: u64,
    /// [`Frame::Missing`] frames returned.
    pub concealed: u64,
    /// Talk spurts started (re-anchorings of playout).
    pub talk_spurts: u64,
    /// Buffer delay (µs) of the last frame played: how long after the fastest recent
    /// packet's transit it was played.
    pub delay_us: u64,
    /// Current target delay (µs).
    pub target_delay_us: u64,
}

#[derive(Debug, Clone)]
struct Entry {
    seq: u64,
    payload: Vec<u8>,
    /// First packet of a talk spurt: playout re-anchors here.
    spurt_start: bool,
}

/// A packet whose timestamp broke with the time line, waiting for confirmation.
#[derive(Debug, Clone)]
struct Pending {
    seq: u64,
    raw_ts: u32,
    arrival_us: u64,
    payload: Vec<u8>,
}

/// The newest packet so far, the reference for spotting timestamp jumps.
#[derive(Debug, Clone, Copy)]
struct Reference {
    seq: u64,
    ts: i64,
    /// The raw 32-bit timestamp, for unwrapping the next one.
    raw_ts: u32,
}

#[derive(Debug, Clone, Copy)]
struct Playing {
    /// Unwrapped timestamp of the frame due at the next tick.
    next_ts: i64,
    /// Empty-queue concealment frames in a row; they do not advance `next_ts` until the
    /// queue shows whether the packets were lost or only delayed.
    empty_run: u32,
}

/// Adaptive jitter buffer; see the module docs for the model.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    config: JitterConfig,
    frame_samples: i64,
    /// Queued frames by unwrapped timestamp.
    queue: BTreeMap<i64, Entry>,
    queued_seqs: BTreeSet<u64>,
    /// Sequence numbers released (played or discarded) recently.
    seen: BTreeSet<u64>,
    reference: Option<Reference>,
    playing: Option<Playing>,
    /// Everything before this timestamp has had its turn; set while and after playing.
    played_until: Option<i64>,
    /// Sequence number of the last released packet, for loss counting.
    last_released_seq: Option<u64>,
    /// (arrival µs, transit µs) of recent packets.
    samples: VecDeque<(u64, i64)>,
    /// Jitter of the worst recent late packet and when it stops counting.
    /// (arrival µs, jitter µs) of packets above the percentile: the peaks that keep the
    /// target up through periodic bursts the percentile alone would forget.
    peaks: VecDeque<(u64, u64)>,
    /// (baseline transit, jitter percentile) of `samples`, kept current by every change.
    window_stats: (i64, u64),
    /// A packet held by a timestamp jump until the next one confirms or refutes it.
    pending: Option<Pending>,
    /// Scratch space for the percentile, kept to spare an allocation per packet.
    sorted: Vec<u64>,
    last_shrink_us: Option<u64>,
    stats: JitterStats,
}

impl JitterBuffer {
    /// A buffer for one stream; rejects configurations that cannot work.
    pub fn new(config: JitterConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let frame_samples = config.frame_samples();
        let mut buffer = Self {
            frame_samples,
            queue: BTreeMap::new(),
            queued_seqs: BTreeSet::new(),
            seen: BTreeSet::new(),
            reference: None,
            playing: None,
            played_until: None,
            last_released_seq: None,
            samples: VecDeque::new(),
            peaks: VecDeque::new(),
            window_stats: (0, 0),
            pending: None,
            sorted: Vec::new(),
            last_shrink_us: None,
            stats: JitterStats::default(),
            config,
        };
        buffer.stats.target_delay_us = buffer.target_delay_us();
        Ok(buffer)
    }

    /// The configuration in use.
    pub fn config(&self) -> &JitterConfig {
        &self.config
    }

    /// Counters and delays.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Packets queued now.
    pub fn len(&self) -> usize {
        self.queue.len() + usize::from(self.pending.is_some())
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.pending.is_none()
    }

    /// Whether a talk spurt is playing (as opposed to silence).
    pub fn is_playing(&self) -> bool {
        self.playing.is_some()
    }

    /// A packet arrived at `now_us`. `seq` is the extended sequence number (RFC 3550 A.1),
    /// `rtp_timestamp` the raw header timestamp.
    pub fn push(
        &mut self,
        now_us: u64,
        seq: u64,
        rtp_timestamp: u32,
        payload: Vec<u8>,
    ) -> PushOutcome {
        self.push_packet(now_us, seq, rtp_timestamp, false, payload)
    }

    /// As [`push`](Self::push), for a packet with the RTP marker bit set: for audio the
    /// first packet of a talk spurt (RFC 3551 §4.1), where playout may re-anchor.
    pub fn push_marked(
        &mut self,
        now_us: u64,
        seq: u64,
        rtp_timestamp: u32,
        payload: Vec<u8>,
    ) -> PushOutcome {
        self.push_packet(now_us, seq, rtp_timestamp, true, payload)
    }

    /// The source changed (new SSRC, RFC 3550 §8.2) or was re-keyed: everything queued is
    /// discarded and the next packet starts a new talk spurt with fresh delay history. The
    /// counters are kept, so call records cover the whole stream.
    pub fn reset(&mut self) {
        self.flush();
        self.seen.clear();
        self.reference = None;
        self.last_released_seq = None;
        self.samples.clear();
        self.peaks.clear();
        self.window_stats = (0, 0);
    }

    fn flush(&mut self) {
        self.drop_pending();
        self.stats.discarded += self.queue.len() as u64;
        self.queue.clear();
        self.queued_seqs.clear();
        self.playing = None;
        self.played_until = None;
    }

    fn push_packet(
        &mut self,
        now_us: u64,
        seq: u64,
        raw_ts: u32,
        marker: bool,
        payload: Vec<u8>,
    ) -> PushOutcome {
        self.stats.pushed += 1;
        if self.queued_seqs.contains(&seq)
            || self.seen.contains(&seq)
            || self.pending.as_ref().is_some_and(|p| p.seq == seq)
        {
            self.stats.duplicate += 1;
            return PushOutcome::Duplicate;
        }
        let mut ts = self.unwrap_ts(raw_ts);
        let mut spurt_start = marker || self.reference.is_none();
        let mut resynchronised = false;
        match self.reference {
            Some(r) if seq > r.seq => {
                let steps = i64::try_from(seq - r.seq).unwrap_or(i64::MAX);
                let expected =
                    r.ts.saturating_add(steps.saturating_mul(self.frame_samples));
                let deviation = ts.saturating_sub(expected);
                let distance = deviation.saturating_abs();
                let tolerance = self.frame_samples / 2;
                let max_gap = self.us_to_ts(self.config.max_delay_us.max(60_000_000));
                if deviation > tolerance && deviation <= max_gap {
                    // RFC 3551 §4.1: after silence suppression the timestamp jumps while the
                    // sequence number continues.
                    spurt_start = true;
                    self.drop_pending();
                } else if distance > tolerance {
                    let Some(held) = self.confirmed_restart(seq, raw_ts) else {
                        self.drop_pending();
                        self.pending = Some(Pending {
                            seq,
                            raw_ts,
                            arrival_us: now_us,
                            payload,
                        });
                        return PushOutcome::Held;
                    };
                    // The timestamps restarted (backwards, or an implausible leap): the old
                    // queue and delay history mean nothing on the new time line.
                    self.flush();
                    self.samples.clear();
                    self.peaks.clear();
                    self.window_stats = (0, 0);
                    // Start the new time line at the raw value, so hostile jumps cannot
                    // accumulate towards overflow; the held packet goes first.
                    let held_ts = i64::from(held.raw_ts);
                    ts = held_ts + i64::from(raw_ts.wrapping_sub(held.raw_ts) as i32);
                    let transit = i64::try_from(held.arrival_us)
                        .unwrap_or(i64::MAX)
                        .saturating_sub(self.ts_to_us(held_ts));
                    self.add_sample(held.arrival_us, transit);
                    self.queue.insert(
                        held_ts,
                        Entry {
                            seq: held.seq,
                            payload: held.payload,
                            spurt_start: true,
                        },
                    );
                    self.queued_seqs.insert(held.seq);
                    resynchronised = true;
                } else {
                    self.drop_pending();
                }
                self.reference = Some(Reference { seq, ts, raw_ts });
            }
            Some(_) => {}
            None => self.reference = Some(Reference { seq, ts, raw_ts }),
        }

        let transit = i64::try_from(now_us)
            .unwrap_or(i64::MAX)
            .saturating_sub(self.ts_to_us(ts));
        self.add_sample(now_us, transit);
        let jitter = u64::try_from(transit.saturating_sub(self.baseline())).unwrap_or(0);
        if jitter > self.percentile_jitter() {
            // Fast attack: one packet this far out raises the target at once.
            if self.peaks.len() >= MAX_PEAKS {
                self.peaks.pop_front();
            }
            self.peaks.push_back((now_us, jitter));
        }

        let half = self.frame_samples / 2;
        if !resynchronised && self.played_until.is_some_and(|until| ts < until - half) {
            self.stats.late += 1;
            self.mark_seen(seq);
            return PushOutcome::Late;
        }
        if self.queue.len() >= self.config.capacity || self.queue.contains_key(&ts) {
            self.stats.discarded += 1;
            self.mark_seen(seq);
            return PushOutcome::Discarded;
        }
        self.queue.insert(
            ts,
            Entry {
                seq,
                payload,
                spurt_start,
            },
        );
        self.queued_seqs.insert(seq);
        if resynchronised {
            PushOutcome::Resynchronised
        } else if spurt_start {
            PushOutcome::NewTalkSpurt
        } else {
            PushOutcome::Queued
        }
    }

    /// The playout clock ticks: the frame for the next interval. Call once per frame
    /// duration.
    pub fn pop(&mut self, now_us: u64) -> Frame {
        self.expire(now_us);
        let target = self.target_delay_us();
        self.stats.target_delay_us = target;
        let Some(mut playing) = self.playing else {
            return self.try_start(now_us, target);
        };
        let half = self.frame_samples / 2;
        let head = self
            .queue
            .first_key_value()
            .map(|(ts, e)| (*ts, e.spurt_start));
        match head {
            Some((ts, true)) if ts >= playing.next_ts + half => {
                // The talk spurt ended and the next one is queued: re-anchor at the target.
                self.playing = None;
                return self.try_start(now_us, target);
            }
            Some((ts, _)) => {
                if playing.empty_run > 0 {
                    // Frames concealed on an empty queue held the play point, as the packet
                    // might only be delayed. The queue now shows how many were really
                    // missing: skip that many, so a loss costs one frame and a delay none.
                    let gap = (ts - playing.next_ts + half) / self.frame_samples;
                    let covered = gap.clamp(0, i64::from(playing.empty_run));
                    playing.next_ts += covered * self.frame_samples;
                    playing.empty_run = 0;
                }
            }
            None => {
                if playing.empty_run >= self.config.max_conceal_frames {
                    self.playing = None;
                    return Frame::Silence;
                }
            }
        }

        let delay = self.delay_at(now_us, playing.next_ts);
        let frame_us = i64::try_from(self.config.frame_us).unwrap_or(i64::MAX);
        let target_i = i64::try_from(target).unwrap_or(i64::MAX);

        if delay.saturating_add(frame_us) <= target_i {
            // Too little delay for the jitter seen: stretch by one concealed frame now.
            self.stats.concealed += 1;
            self.playing = Some(playing);
            return Frame::Missing;
        }
        let shrink_above = target_i.saturating_add(frame_us + frame_us / 2);
        if delay >= shrink_above && self.may_shrink(now_us) {
            // Drop the frame due now if the next one is also here, so playout stays
            // continuous while the delay falls by one frame.
            let due = self.queue.first_key_value().map(|(ts, _)| *ts);
            if let Some(due) = due.filter(|ts| *ts < playing.next_ts + half) {
                if self.queue.contains_key(&(due + self.frame_samples)) {
                    let entry = self
                        .queue
                        .remove(&due)
                        .expect("key just read from the queue");
                    self.release(&entry);
                    self.stats.discarded += 1;
                    self.last_shrink_us = Some(now_us);
                    playing.next_ts = due + self.frame_samples;
                }
            }
        }

        let frame = match self.queue.first_key_value().map(|(ts, _)| *ts) {
            Some(ts) if ts < playing.next_ts + half => {
                let entry = self
                    .queue
                    .remove(&ts)
                    .expect("key just read from the queue");
                self.release(&entry);
                self.stats.played += 1;
                self.stats.delay_us = u64::try_from(self.delay_at(now_us, ts)).unwrap_or(0);
                playing.next_ts = ts + self.frame_samples;
                playing.empty_run = 0;
                Frame::Audio(entry.payload)
            }
            Some(_) => {
                playing.next_ts += self.frame_samples;
                self.stats.concealed += 1;
                Frame::Missing
            }
            None => {
                playing.empty_run += 1;
                self.stats.concealed += 1;
                Frame::Missing
            }
        };
        self.played_until = Some(playing.next_ts);
        self.playing = Some(playing);
        frame
    }

    /// Silence until the head of the queue has waited the target delay, then its frame.
    fn try_start(&mut self, now_us: u64, target: u64) -> Frame {
        let Some((&ts, _)) = self.queue.first_key_value() else {
            return Frame::Silence;
        };
        let delay = self.delay_at(now_us, ts);
        if delay < i64::try_from(target).unwrap_or(i64::MAX) {
            return Frame::Silence;
        }
        let entry = self
            .queue
            .remove(&ts)
            .expect("key just read from the queue");
        self.release(&entry);
        self.stats.played += 1;
        self.stats.talk_spurts += 1;
        self.stats.delay_us = u64::try_from(delay).unwrap_or(0);
        let next_ts = ts + self.frame_samples;
        self.playing = Some(Playing {
            next_ts,
            empty_run: 0,
        });
        self.played_until = Some(next_ts);
        Frame::Audio(entry.payload)
    }

    /// The held packet, if `seq`/`raw_ts` continue its time line (a confirmed restart).
    fn confirmed_restart(&mut self, seq: u64, raw_ts: u32) -> Option<Pending> {
        let held = self.pending.as_ref()?;
        let steps = i64::try_from(seq.checked_sub(held.seq)?).ok()?;
        let expected = steps.checked_mul(self.frame_samples)?;
        let actual = i64::from(raw_ts.wrapping_sub(held.raw_ts) as i32);
        if steps > 0 && (actual - expected).abs() <= self.frame_samples / 2 {
            self.pending.take()
        } else {
            None
        }
    }

    /// A held packet that no restart confirmed was a stray: discard it.
    fn drop_pending(&mut self) {
        if let Some(stray) = self.pending.take() {
            self.stats.discarded += 1;
            self.mark_seen(stray.seq);
        }
    }

    fn release(&mut self, entry: &Entry) {
        self.queued_seqs.remove(&entry.seq);
        if let Some(last) = self.last_released_seq {
            if entry.seq > last {
                self.stats.lost = self.stats.lost.saturating_add(entry.seq - last - 1);
            }
        }
        if self.last_released_seq.map_or(true, |last| entry.seq > last) {
            self.last_released_seq = Some(entry.seq);
        }
        self.mark_seen(entry.seq);
    }

    fn mark_seen(&mut self, seq: u64) {
        self.seen.insert(seq);
        while self.seen.len() > SEEN_SEQ_MEMORY {
            self.seen.pop_first();
        }
    }

    fn may_shrink(&self, now_us: u64) -> bool {
        self.last_shrink_us.map_or(true, |last| {
            now_us.saturating_sub(last) >= self.config.shrink_interval_us
        })
    }

    /// Buffer delay if the frame stamped `ts` plays at `now_us`: offset minus baseline.
    fn delay_at(&self, now_us: u64, ts: i64) -> i64 {
        let offset = i64::try_from(now_us)
            .unwrap_or(i64::MAX)
            .saturating_sub(self.ts_to_us(ts));
        offset.saturating_sub(self.baseline())
    }

    /// The smallest transit in the window: what a packet with no queueing delay sees.
    fn baseline(&self) -> i64 {
        self.window_stats.0
    }

    fn add_sample(&mut self, now_us: u64, transit: i64) {
        self.samples.push_back((now_us, transit));
        self.expire(now_us);
        self.refresh_window_stats();
    }

    /// Recomputes the baseline and the percentile, once per change of the window rather
    /// than on every question (the sort is the costliest step per packet).
    fn refresh_window_stats(&mut self) {
        let base = self.samples.iter().map(|(_, t)| *t).min().unwrap_or(0);
        self.sorted.clear();
        self.sorted.extend(
            self.samples
                .iter()
                .map(|(_, t)| u64::try_from(t.saturating_sub(base)).unwrap_or(0)),
        );
        self.sorted.sort_unstable();
        let percentile = match self.sorted.len() {
            0 => 0,
            n => self.sorted[(n - 1) * usize::from(self.config.percentile_permille) / 1000],
        };
        self.window_stats = (base, percentile);
    }

    fn expire(&mut self, now_us: u64) {
        let before = self.samples.len();
        // Keep the newest sample even when old, so the baseline never vanishes mid-call.
        while self.samples.len() > 1
            && self
                .samples
                .front()
                .is_some_and(|(at, _)| now_us.saturating_sub(*at) > self.config.window_us)
        {
            self.samples.pop_front();
        }
        while self
            .peaks
            .front()
            .is_some_and(|(at, _)| now_us.saturating_sub(*at) >= self.config.spike_hold_us)
        {
            self.peaks.pop_front();
        }
        if self.samples.len() != before {
            self.refresh_window_stats();
        }
    }

    /// The configured percentile of the jitter over the window.
    fn percentile_jitter(&self) -> u64 {
        self.window_stats.1
    }

    fn target_delay_us(&self) -> u64 {
        let peak = self.peaks.iter().map(|(_, j)| *j).max().unwrap_or(0);
        (self.percentile_jitter().max(peak) + self.config.margin_us)
            .clamp(self.config.min_delay_us, self.config.max_delay_us)
    }

    fn unwrap_ts(&self, raw: u32) -> i64 {
        match self.reference {
            // RFC 3550 §5.1: timestamps wrap modulo 2^32; the signed difference from the
            // newest packet places this one on the extended time line.
            Some(r) => {
                r.ts.saturating_add(i64::from(raw.wrapping_sub(r.raw_ts) as i32))
            }
            None => i64::from(raw),
        }
    }

    fn ts_to_us(&self, ts: i64) -> i64 {
        let us = i128::from(ts) * 1_000_000 / i128::from(self.config.clock_rate);
        i64::try_from(us).unwrap_or(if us < 0 { i64::MIN / 2 } else { i64::MAX / 2 })
    }

    fn us_to_ts(&self, us: u64) -> i64 {
        (i128::from(us) * i128::from(self.config.clock_rate) / 1_000_000) as i64
    }
}
