//! Packet-loss concealment for waveform codecs, after ITU-T G.711 Appendix I.
//!
//! The scheme, simplified from Appendix I and documented here so its output can be
//! reasoned about:
//!
//! 1. Keep the last [`HISTORY`] decoded samples (48.75 ms at 8 kHz, as Appendix I does).
//! 2. On the first lost sample, estimate the pitch period as the lag in 5–15 ms
//!    (200–66 Hz, I.2.2) whose waveform best matches the most recent 10 ms, by normalised
//!    cross-correlation, and remember the last period of history.
//! 3. Play that period over and over. The first 10 ms go out at full level; after that the
//!    level falls linearly to silence at 60 ms (Appendix I fades 20 % per 10 ms from 10 ms
//!    and goes silent after 60 ms). Concealed audio is never louder than the history.
//! 4. When real audio comes back, cross-fade from the concealment into it over 4 ms
//!    (I.2.7) so the seam does not click.
//!
//! Rates other than 8 kHz scale every duration above.

/// Samples of history kept at 8 kHz: 48.75 ms, enough for three 15 ms periods.
pub(crate) const HISTORY: usize = 390;
/// Shortest and longest pitch period searched, at 8 kHz (5 ms and 15 ms).
const MIN_PITCH: usize = 40;
const MAX_PITCH: usize = 120;
/// Length of the waveform matched when searching the pitch (10 ms).
const MATCH: usize = 80;
/// Concealment plays at full level this long (10 ms)...
const FULL_LEVEL: usize = 80;
/// ...then fades to silence by this many concealed samples (60 ms).
const SILENT_AFTER: usize = 480;
/// Cross-fade back into received audio (4 ms).
const RECOVERY: usize = 32;

/// Concealment state for one decoder, at 8 kHz.
#[derive(Debug, Clone, Default)]
pub(crate) struct Concealer {
    history: Vec<i16>,
    /// One pitch period copied from the end of history when the loss began.
    period: Vec<i16>,
    /// Next index into `period`.
    pos: usize,
    /// Samples concealed in the current loss; 0 when audio is flowing.
    lost: usize,
}

impl Concealer {
    /// Takes freshly decoded samples: blends them with the concealment if a loss just ended,
    /// then remembers them as history.
    pub(crate) fn received(&mut self, samples: &mut [i16]) {
        if self.lost > 0 {
            let n = RECOVERY.min(samples.len());
            for (i, s) in samples.iter_mut().take(n).enumerate() {
                let w = (i + 1) as f32 / (n + 1) as f32;
                let c = f32::from(self.next_concealed());
                *s = (c * (1.0 - w) + f32::from(*s) * w).round() as i16;
            }
            self.lost = 0;
            self.period.clear();
        }
        self.remember(samples);
    }

    /// Appends `samples` concealment samples to `out`.
    pub(crate) fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) {
        if self.lost == 0 {
            self.start_loss();
        }
        out.extend((0..samples).map(|_| self.next_concealed()));
    }

    fn remember(&mut self, samples: &[i16]) {
        if samples.len() >= HISTORY {
            self.history.clear();
            self.history
                .extend_from_slice(&samples[samples.len() - HISTORY..]);
        } else {
            let excess = (self.history.len() + samples.len()).saturating_sub(HISTORY);
            self.history.drain(..excess);
            self.history.extend_from_slice(samples);
        }
    }

    fn start_loss(&mut self) {
        let pitch = estimate_pitch(&self.history);
        self.period.clear();
        if let Some(p) = pitch {
            self.period
                .extend_from_slice(&self.history[self.history.len() - p..]);
        }
        self.pos = 0;
    }

    /// The next concealment sample, with the fade applied.
    fn next_concealed(&mut self) -> i16 {
        let gain = if self.lost < FULL_LEVEL {
            1.0
        } else {
            (SILENT_AFTER.saturating_sub(self.lost)) as f32 / (SILENT_AFTER - FULL_LEVEL) as f32
        };
        self.lost = self.lost.saturating_add(1);
        if self.period.is_empty() {
            return 0;
        }
        let s = self.period[self.pos];
        self.pos = (self.pos + 1) % self.period.len();
        (f32::from(s) * gain).round() as i16
    }
}

/// The lag in [MIN_PITCH, MAX_PITCH] at which the history best repeats itself, or the
/// longest lag history allows when it is too short to search; `None` without history.
fn estimate_pitch(history: &[i16]) -> Option<usize> {
    if history.is_empty() {
        return None;
    }
    if history.len() < MAX_PITCH + MATCH {
        // Not enough to compare against; repeat whatever we have, up to one long period.
        return Some(history.len().min(MAX_PITCH));
    }
    let end = history.len();
    let recent = &history[end - MATCH..];
    let mut best = (MAX_PITCH, f64::MIN);
    for lag in MIN_PITCH..=MAX_PITCH {
        let past = &history[end - MATCH - lag..end - lag];
        let (mut dot, mut energy) = (0.0f64, 0.0f64);
        for (&a, &b) in recent.iter().zip(past) {
            dot += f64::from(a) * f64::from(b);
            energy += f64::from(b) * f64::from(b);
        }
        let score = if energy > 0.0 {
            dot / energy.sqrt()
        } else {
            0.0
        };
        if score > best.1 {
            best = (lag, score);
        }
    }
    Some(best.0)
}
