//! In-band DTMF: the 16 push-button signals of ITU-T Q.23 as audio, and a detector in the
//! spirit of ITU-T Q.24.
//!
//! Each key sends one frequency from a low group (rows) and one from a high group
//! (columns), Q.23 §2:
//!
//! ```text
//!            1209  1336  1477  1633 Hz
//!   697 Hz    1     2     3     A
//!   770 Hz    4     5     6     B
//!   852 Hz    7     8     9     C
//!   941 Hz    *     0     #     D
//! ```
//!
//! The detector runs the Goertzel algorithm for the eight frequencies over 13.25 ms blocks
//! (106 samples at 8 kHz, a resolution of about 75 Hz, which separates neighbouring rows)
//! and accepts a block as a digit only if: the tone fills the block evenly; both tones are
//! loud enough; one row and one column clearly beat the others in their group; neither
//! tone is more than about 2.5 % off its nominal frequency (Q.24 §4: accept 1.5 %, reject
//! 3.5 %); the twist (high-group level minus low-group level) is within limits; and the two
//! tones carry most of the block's energy, which is what keeps speech, music and noise from
//! reading as digits. A key press is
//! reported once, when two consecutive blocks (26.5 ms) agree and each is filled evenly by
//! the tone, so every tone of Q.24's 40 ms minimum is caught and 20 ms blips are not; a
//! 10 ms dropout inside a tone is bridged rather than read as a second press.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use crate::audio::{add_sine, dbm0_to_amplitude, goertzel_power, DBM0_PEAK};

/// Low-group (row) frequencies in Hz, Q.23 §2.
pub const LOW_GROUP: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
/// High-group (column) frequencies in Hz, Q.23 §2.
pub const HIGH_GROUP: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];

const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// One of the 16 DTMF keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DtmfDigit {
    row: u8,
    col: u8,
}

/// A character that is not a DTMF key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a DTMF key: {0:?}")]
pub struct InvalidDigit(pub char);

impl DtmfDigit {
    /// All 16 keys, in RFC 4733 event-code order (0–9, *, #, A–D).
    pub fn all() -> impl Iterator<Item = DtmfDigit> {
        (0..16).filter_map(DtmfDigit::from_event_code)
    }

    /// The key for `c` (`0`–`9`, `*`, `#`, `A`–`D`, letters in either case).
    pub fn from_char(c: char) -> Result<DtmfDigit, InvalidDigit> {
        let up = c.to_ascii_uppercase();
        for (row, keys) in KEYS.iter().enumerate() {
            if let Some(col) = keys.iter().position(|&k| k == up) {
                return Ok(DtmfDigit {
                    row: row as u8,
                    col: col as u8,
                });
            }
        }
        Err(InvalidDigit(c))
    }

    /// The key's character.
    pub fn as_char(self) -> char {
        KEYS[usize::from(self.row)][usize::from(self.col)]
    }

    /// The RFC 4733 §3.2 event code (0–9 digits, 10 `*`, 11 `#`, 12–15 `A`–`D`), so in-band
    /// and telephone-event DTMF can be bridged.
    pub fn event_code(self) -> u8 {
        match self.as_char() {
            c @ '0'..='9' => c as u8 - b'0',
            '*' => 10,
            '#' => 11,
            c => c as u8 - b'A' + 12,
        }
    }

    /// The key for an RFC 4733 event code; `None` for codes above 15 (not DTMF).
    pub fn from_event_code(code: u8) -> Option<DtmfDigit> {
        let c = match code {
            0..=9 => char::from(b'0' + code),
            10 => '*',
            11 => '#',
            12..=15 => char::from(b'A' + code - 12),
            _ => return None,
        };
        DtmfDigit::from_char(c).ok()
    }

    /// The (low, high) frequency pair in Hz, Q.23 §2.
    pub fn frequencies(self) -> (f64, f64) {
        (
            LOW_GROUP[usize::from(self.row)],
            HIGH_GROUP[usize::from(self.col)],
        )
    }
}

impl fmt::Display for DtmfDigit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

/// Parses a dial string such as `"123#"` into keys.
pub fn parse_digits(s: &str) -> Result<Vec<DtmfDigit>, InvalidDigit> {
    s.chars().map(DtmfDigit::from_char).collect()
}

/// How to send DTMF tones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DtmfParams {
    /// Level of the low-group tone, in dBm0.
    pub level_dbm0: f64,
    /// High-group level minus low-group level, in dB (Q.23 suggests a slightly louder high
    /// group, to make up for line loss rising with frequency).
    pub twist_db: f64,
    /// How long each tone sounds.
    pub tone: Duration,
    /// Silence after each tone.
    pub pause: Duration,
}

impl Default for DtmfParams {
    /// -10 dBm0 low group, +2 dB twist, 100 ms tone, 100 ms pause.
    fn default() -> Self {
        Self {
            level_dbm0: -10.0,
            twist_db: 2.0,
            tone: Duration::from_millis(100),
            pause: Duration::from_millis(100),
        }
    }
}

fn samples_in(d: Duration, rate: u32) -> usize {
    (d.as_secs_f64() * f64::from(rate)).round() as usize
}

/// One key press at `rate` Hz: the tone pair for `params.tone`, then `params.pause` of
/// silence.
pub fn generate(digit: DtmfDigit, params: &DtmfParams, rate: u32) -> Vec<i16> {
    generate_sequence(&[digit], params, rate)
}

/// Key presses one after another, each a tone and a pause.
pub fn generate_sequence(digits: &[DtmfDigit], params: &DtmfParams, rate: u32) -> Vec<i16> {
    let tone = samples_in(params.tone, rate);
    let pause = samples_in(params.pause, rate);
    let low_amp = dbm0_to_amplitude(params.level_dbm0);
    let high_amp = dbm0_to_amplitude(params.level_dbm0 + params.twist_db);
    let mut out = Vec::with_capacity(digits.len() * (tone + pause));
    for &d in digits {
        let start = out.len();
        let (low, high) = d.frequencies();
        add_sine(&mut out, low, low_amp, rate, start, tone);
        add_sine(&mut out, high, high_amp, rate, start, tone);
        out.resize(start + tone + pause, 0);
    }
    out
}

/// Acceptance limits of the [`DtmfDetector`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectorConfig {
    /// Each tone must be at least this loud, in dBm0.
    pub min_tone_dbm0: f64,
    /// How far the high-group tone may be louder than the low-group tone, in dB.
    pub max_high_over_low_db: f64,
    /// How far the low-group tone may be louder than the high-group tone, in dB.
    pub max_low_over_high_db: f64,
    /// The strongest frequency of each group must beat the rest of its group by this much.
    pub group_margin_db: f64,
    /// The share of the block's energy the two tones must carry together (0–1).
    pub min_tone_share: f64,
}

impl Default for DetectorConfig {
    /// -33 dBm0 per tone, twist within +8/-8 dB, 6 dB group margin, 75 % tone share
    /// (the tones must stand about 5 dB above everything else in the block).
    fn default() -> Self {
        Self {
            min_tone_dbm0: -33.0,
            max_high_over_low_db: 8.0,
            max_low_over_high_db: 8.0,
            group_margin_db: 6.0,
            min_tone_share: 0.75,
        }
    }
}

/// One detected key press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfEvent {
    /// The key.
    pub digit: DtmfDigit,
    /// Index, in samples since the detector was created, of the first block that heard the
    /// tone: at most one block (13.25 ms) after the tone began, and only a few samples
    /// before it (a block must be nearly filled by the tone to count).
    pub start_sample: u64,
}

impl DtmfEvent {
    /// The start as time since the detector's first sample, at `rate` Hz.
    pub fn start(&self, rate: u32) -> Duration {
        Duration::from_secs_f64(self.start_sample as f64 / f64::from(rate.max(1)))
    }
}

/// Blocks a tone must fill in a row before it counts as a key press.
const MIN_BLOCKS: u32 = 2;
/// Blocks without the held digit that end a key press.
/// Three, because a 10 ms interruption (which Q.24 asks to bridge) can spoil two blocks,
/// while a 40 ms pause always spoils at least three.
const END_BLOCKS: u32 = 3;
/// Share of a block's energy each half must hold: a steady tone gives 0.5; a block the tone
/// only partly fills gives less, which keeps tones shorter than two blocks from counting and
/// puts the reported start within a few milliseconds of the real one.
const MIN_HALF_SHARE: f64 = 0.4;
/// The frequency deviation Q.24 §4 says must be rejected (3.5 %).
const MAX_DEVIATION: f64 = 0.035;
/// How much louder 3.5 % off may read than on frequency within one block: one block's
/// estimate swings by about 20 % with the tones' phases.
const BLOCK_DEVIATION_SLACK: f64 = 1.25;

/// Streaming in-band DTMF detector. Feed it decoded audio with [`DtmfDetector::push`] in any
/// chunk sizes; drain [`DtmfDetector::poll_event`] after each push.
#[derive(Debug, Clone)]
pub struct DtmfDetector {
    rate: u32,
    config: DetectorConfig,
    block: usize,
    buf: Vec<i16>,
    /// The last two blocks classified.
    window: Vec<i16>,
    /// Sample index of `buf[0]`.
    buf_start: u64,
    /// The digit heard in consecutive blocks, where that run began, and its length.
    run: Option<(DtmfDigit, u64, u32)>,
    /// The press already reported and still sounding, with blocks since it was last heard.
    held: Option<(DtmfEvent, u32)>,
    events: VecDeque<DtmfEvent>,
}

impl DtmfDetector {
    /// A detector for audio at `rate` Hz (at least 4 kHz, so 1633 Hz is below Nyquist) with
    /// the default limits.
    pub fn new(rate: u32) -> Self {
        Self::with_config(rate, DetectorConfig::default())
    }

    /// A detector with explicit limits.
    pub fn with_config(rate: u32, config: DetectorConfig) -> Self {
        let rate = rate.max(4000);
        Self {
            rate,
            config,
            block: (rate as usize * 106 / 8000).max(1),
            buf: Vec::new(),
            window: Vec::new(),
            buf_start: 0,
            run: None,
            held: None,
            events: VecDeque::new(),
        }
    }

    /// The sample rate the detector was built for, in Hz.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Feeds decoded audio.
    pub fn push(&mut self, samples: &[i16]) {
        self.buf.extend_from_slice(samples);
        let mut offset = 0;
        while self.buf.len() - offset >= self.block {
            let block = &self.buf[offset..offset + self.block];
            let digit = self.classify(block);
            // The two latest blocks, for the finer frequency check before a report.
            self.window
                .drain(..self.window.len().saturating_sub(self.block));
            self.window.extend_from_slice(block);
            let start = self.buf_start + offset as u64;
            self.step(digit, start);
            offset += self.block;
        }
        self.buf.drain(..offset);
        self.buf_start += offset as u64;
    }

    /// The key press still sounding (already reported by [`DtmfDetector::poll_event`]), so a
    /// bridge to RFC 4733 events can keep extending it; `None` once it has ended.
    pub fn current(&self) -> Option<DtmfEvent> {
        self.held.map(|(e, _)| e)
    }

    /// Samples consumed so far (including any partial block still buffered).
    pub fn samples_seen(&self) -> u64 {
        self.buf_start + self.buf.len() as u64
    }

    /// The next key press heard, oldest first.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<DtmfEvent> {
        self.events.pop_front()
    }

    /// Advances the key-press state machine by one block's verdict.
    fn step(&mut self, digit: Option<DtmfDigit>, block_start: u64) {
        self.run = match (self.run, digit) {
            (Some((d, start, n)), Some(x)) if d == x => Some((d, start, n + 1)),
            (_, Some(x)) => Some((x, block_start, 1)),
            (_, None) => None,
        };
        if let Some((held, missed)) = self.held {
            if digit == Some(held.digit) {
                self.held = Some((held, 0));
            } else if missed + 1 >= END_BLOCKS {
                self.held = None;
            } else {
                self.held = Some((held, missed + 1));
            }
        }
        if self.held.is_none() {
            if let Some((d, start, n)) = self.run {
                if n >= MIN_BLOCKS && on_frequency(&self.window, d, self.rate, 1.0) {
                    let event = DtmfEvent {
                        digit: d,
                        start_sample: start,
                    };
                    self.events.push_back(event);
                    self.held = Some((event, 0));
                }
            }
        }
    }

    /// The digit one block holds, if it passes every check.
    fn classify(&self, block: &[i16]) -> Option<DtmfDigit> {
        let sq = |s: &[i16]| -> f64 { s.iter().map(|&x| f64::from(x) * f64::from(x)).sum() };
        let energy = sq(block);
        if energy == 0.0 {
            return None;
        }
        let first_half = sq(&block[..block.len() / 2]) / energy;
        if first_half < MIN_HALF_SHARE || 1.0 - first_half < MIN_HALF_SHARE {
            return None;
        }
        let n = block.len() as f64;
        let power = |f: f64| goertzel_power(block, f, self.rate);
        let low = LOW_GROUP.map(power);
        let high = HIGH_GROUP.map(power);
        let (row, row_p) = strongest(&low, self.config.group_margin_db)?;
        let (col, col_p) = strongest(&high, self.config.group_margin_db)?;

        // A sine of peak A gives |X|² = (N·A/2)², so A = 2|X|/N.
        let level = |p: f64| 20.0 * (2.0 * p.sqrt() / n / DBM0_PEAK).log10();
        let (row_db, col_db) = (level(row_p), level(col_p));
        if row_db < self.config.min_tone_dbm0 || col_db < self.config.min_tone_dbm0 {
            return None;
        }
        let twist = col_db - row_db;
        if twist > self.config.max_high_over_low_db || -twist > self.config.max_low_over_high_db {
            return None;
        }
        let digit = DtmfDigit {
            row: row as u8,
            col: col as u8,
        };
        // A coarse frequency check here (one block cannot resolve 2 %), the fine one over
        // two blocks before a press is reported.
        if !on_frequency(block, digit, self.rate, BLOCK_DEVIATION_SLACK) {
            return None;
        }
        // Each tone's share of the energy is 2|X|²/(N·E); see `audio::relative_power`.
        let share = 2.0 * (row_p + col_p) / (n * energy);
        if share < self.config.min_tone_share {
            return None;
        }
        Some(digit)
    }
}

/// Whether both of `digit`'s tones in `samples` are within Q.24 §4's tolerance: 1.5 % off
/// must be accepted, 3.5 % off rejected. A tone more than about 2.5 % off reads louder 3.5 %
/// away than at its nominal frequency (by more than `slack`, a power ratio); speech
/// harmonics that happen to sit near a DTMF pair are usually that far off.
fn on_frequency(samples: &[i16], digit: DtmfDigit, rate: u32, slack: f64) -> bool {
    let (low, high) = digit.frequencies();
    [low, high].into_iter().all(|f| {
        let p = goertzel_power(samples, f, rate) * slack;
        goertzel_power(samples, f * (1.0 + MAX_DEVIATION), rate) <= p
            && goertzel_power(samples, f * (1.0 - MAX_DEVIATION), rate) <= p
    })
}

/// The index and power of the strongest of four, if it beats every other by `margin_db`.
fn strongest(powers: &[f64; 4], margin_db: f64) -> Option<(usize, f64)> {
    let (best, &p) = powers
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))?;
    let margin = 10f64.powf(margin_db / 10.0);
    let clear = powers
        .iter()
        .enumerate()
        .all(|(i, &q)| i == best || q * margin <= p);
    (clear && p > 0.0).then_some((best, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_chars_and_event_codes() {
        let all: String = DtmfDigit::all().map(|d| d.as_char()).collect();
        assert_eq!(all, "0123456789*#ABCD");
        for (code, d) in DtmfDigit::all().enumerate() {
            assert_eq!(d.event_code(), code as u8);
        }
        assert_eq!(DtmfDigit::from_event_code(16), None);
        assert_eq!(DtmfDigit::from_char('x'), Err(InvalidDigit('x')));
        assert_eq!(DtmfDigit::from_char('b').unwrap().as_char(), 'B');
        assert_eq!(
            DtmfDigit::from_char('5').unwrap().frequencies(),
            (770.0, 1336.0)
        );
        assert_eq!(
            DtmfDigit::from_char('#').unwrap().frequencies(),
            (941.0, 1477.0)
        );
        assert_eq!(parse_digits("12a#").unwrap().len(), 4);
        assert!(parse_digits("12e").is_err());
    }
}
