//! Test-grade audio tools: make tones and noise, and check what a block of samples sounds
//! like without an FFT.
//!
//! Levels are in dBm0 (ITU-T G.711 §4 and G.100): 0 dBm0 is a sine whose peak sits 3.17 dB
//! under µ-law full scale (the "digital milliwatt"), so on the 16-bit scale a 0 dBm0 sine has
//! a peak of about 22 300. A-law's reference differs by 0.03 dB, which these tools ignore.

use std::f64::consts::PI;

/// Peak amplitude, on the 16-bit scale, of a 0 dBm0 sine (µ-law: 32124 / 10^(3.17/20)).
pub const DBM0_PEAK: f64 = 22_306.0;

/// Peak amplitude of a sine at `dbm0`.
pub fn dbm0_to_amplitude(dbm0: f64) -> f64 {
    DBM0_PEAK * 10f64.powf(dbm0 / 20.0)
}

/// Level of `samples` in dBm0 (from their RMS); `f64::NEG_INFINITY` for silence.
pub fn level_dbm0(samples: &[i16]) -> f64 {
    let rms = rms(samples);
    // A sine's RMS is its peak over √2.
    20.0 * (rms * std::f64::consts::SQRT_2 / DBM0_PEAK).log10()
}

/// Root-mean-square value of `samples`; 0 for an empty slice.
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    (energy(samples) / samples.len() as f64).sqrt()
}

fn energy(samples: &[i16]) -> f64 {
    samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum()
}

/// `len` samples of a sine at `freq` Hz with peak `amplitude`, sampled at `rate` Hz,
/// starting at phase 0. Values beyond the 16-bit range saturate.
pub fn sine(freq: f64, amplitude: f64, rate: u32, len: usize) -> Vec<i16> {
    let mut out = Vec::with_capacity(len);
    add_sine(&mut out, freq, amplitude, rate, 0, len);
    out
}

/// Adds a sine to `buf[start..start + len]`, growing `buf` with silence if it is shorter.
/// The phase is counted from `start`, so consecutive calls continue one waveform.
pub fn add_sine(
    buf: &mut Vec<i16>,
    freq: f64,
    amplitude: f64,
    rate: u32,
    start: usize,
    len: usize,
) {
    if buf.len() < start + len {
        buf.resize(start + len, 0);
    }
    let step = 2.0 * PI * freq / f64::from(rate);
    for (i, s) in buf[start..start + len].iter_mut().enumerate() {
        let v = f64::from(*s) + amplitude * (step * (start + i) as f64).sin();
        *s = saturate(v);
    }
}

fn saturate(v: f64) -> i16 {
    v.round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
}

/// Deterministic Gaussian-ish white noise (xorshift64*, sum of four uniforms), so tests that
/// add noise are repeatable.
#[derive(Debug, Clone)]
pub struct WhiteNoise {
    state: u64,
}

impl WhiteNoise {
    /// A generator seeded with `seed` (0 is replaced by a fixed non-zero seed).
    pub fn new(seed: u64) -> Self {
        Self {
            state: if seed == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                seed
            },
        }
    }

    /// A uniform value in [-1, 1).
    fn uniform(&mut self) -> f64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let x = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    /// One noise sample with unit variance.
    pub fn next_sample(&mut self) -> f64 {
        // Four uniforms on [-1, 1) have variance 4/3 in sum; scale to 1.
        let sum: f64 = (0..4).map(|_| self.uniform()).sum();
        sum * (3.0f64 / 4.0).sqrt()
    }

    /// Adds noise with RMS `rms` to `buf`, saturating.
    pub fn add_to(&mut self, buf: &mut [i16], rms: f64) {
        for s in buf {
            *s = saturate(f64::from(*s) + rms * self.next_sample());
        }
    }

    /// Adds noise to `buf` so that the signal already in it is `snr_db` above the noise.
    pub fn add_at_snr(&mut self, buf: &mut [i16], snr_db: f64) {
        let noise_rms = rms(buf) / 10f64.powf(snr_db / 20.0);
        self.add_to(buf, noise_rms);
    }
}

/// Squared magnitude of the `freq` Hz component of `samples` (the Goertzel algorithm, which
/// evaluates one DFT term with a second-order recurrence). `freq` need not sit on a bin.
pub fn goertzel_power(samples: &[i16], freq: f64, rate: u32) -> f64 {
    let w = 2.0 * PI * freq / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0)
}

/// The share of the block's energy carried at `freq` Hz, from 0 to about 1.
///
/// For a pure sine that completes whole cycles in the block the answer is 1; white noise
/// gives about 2/len. Frequencies off a bin leak, so a sine that does not fit the block
/// reads a little lower. Silence gives 0.
pub fn relative_power(samples: &[i16], freq: f64, rate: u32) -> f64 {
    let total = energy(samples);
    if total == 0.0 {
        return 0.0;
    }
    // A sine of peak A over N samples has |X|² = (N·A/2)² and energy N·A²/2.
    2.0 * goertzel_power(samples, freq, rate) / (samples.len() as f64 * total)
}

/// The candidate frequency carrying the most power in `samples`, or `None` for silence or
/// no candidates.
pub fn dominant_frequency(samples: &[i16], rate: u32, candidates: &[f64]) -> Option<f64> {
    candidates
        .iter()
        .map(|&f| (f, goertzel_power(samples, f, rate)))
        .filter(|&(_, p)| p > 0.0)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(f, _)| f)
}

/// Share of the energy that must sit at the test frequency for [`is_tone`] to say yes.
pub const TONE_THRESHOLD: f64 = 0.8;
/// Quietest level [`is_tone`] accepts: -50 dBm0, far above G.711's idle noise.
pub const TONE_MIN_DBM0: f64 = -50.0;

/// Is `samples` a tone at `freq` Hz: at least [`TONE_THRESHOLD`] of its energy at that
/// frequency, at [`TONE_MIN_DBM0`] or louder, in every 20 ms block (a short or gappy
/// tone fails). A block shorter than 20 ms is judged whole.
pub fn is_tone(samples: &[i16], rate: u32, freq: f64) -> bool {
    let block = (rate as usize / 50).max(1);
    if samples.is_empty() {
        return false;
    }
    let chunks: Vec<&[i16]> = if samples.len() < block {
        vec![samples]
    } else {
        // Whole blocks only; a partial tail would read low through leakage.
        samples.chunks_exact(block).collect()
    };
    chunks
        .iter()
        .all(|c| relative_power(c, freq, rate) >= TONE_THRESHOLD && level_dbm0(c) >= TONE_MIN_DBM0)
}

/// Is `samples` a 1 kHz test tone (the usual "can you hear me" signal of media tests)?
/// See [`is_tone`] for the thresholds.
pub fn is_1khz_tone(samples: &[i16], rate: u32) -> bool {
    is_tone(samples, rate, 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sine_level_matches_dbm0() {
        let s = sine(1000.0, dbm0_to_amplitude(-20.0), 8000, 8000);
        assert!((level_dbm0(&s) + 20.0).abs() < 0.05, "{}", level_dbm0(&s));
        assert_eq!(level_dbm0(&[0; 10]), f64::NEG_INFINITY);
    }

    #[test]
    fn noise_has_requested_snr() {
        let mut buf = sine(1000.0, 10_000.0, 8000, 8000);
        let clean = buf.clone();
        WhiteNoise::new(7).add_at_snr(&mut buf, 20.0);
        let noise: Vec<i16> = buf.iter().zip(&clean).map(|(a, b)| a - b).collect();
        let snr = 20.0 * (rms(&clean) / rms(&noise)).log10();
        assert!((snr - 20.0).abs() < 0.5, "snr {snr}");
    }

    #[test]
    fn relative_power_of_pure_and_mixed_signals() {
        let pure = sine(1000.0, 8000.0, 8000, 160);
        assert!((relative_power(&pure, 1000.0, 8000) - 1.0).abs() < 0.01);
        assert!(relative_power(&pure, 1500.0, 8000) < 0.01);
        let mut mix = sine(1000.0, 8000.0, 8000, 160);
        add_sine(&mut mix, 2000.0, 8000.0, 8000, 0, 160);
        let r = relative_power(&mix, 1000.0, 8000);
        assert!((r - 0.5).abs() < 0.02, "{r}");
        assert_eq!(relative_power(&[0; 160], 1000.0, 8000), 0.0);
    }

    #[test]
    fn dominant_frequency_picks_the_loudest() {
        let mut s = sine(440.0, 3000.0, 8000, 800);
        add_sine(&mut s, 1200.0, 9000.0, 8000, 0, 800);
        let c = [300.0, 440.0, 1000.0, 1200.0, 3000.0];
        assert_eq!(dominant_frequency(&s, 8000, &c), Some(1200.0));
        assert_eq!(dominant_frequency(&[0; 800], 8000, &c), None);
        assert_eq!(dominant_frequency(&s, 8000, &[]), None);
    }

    #[test]
    fn one_khz_check() {
        assert!(is_1khz_tone(&sine(1000.0, 5000.0, 8000, 1600), 8000));
        assert!(is_1khz_tone(&sine(1000.0, 5000.0, 16000, 3200), 16000));
        // Wrong frequency, silence, too quiet, noise, and a tone with a gap all fail.
        assert!(!is_1khz_tone(&sine(1100.0, 5000.0, 8000, 1600), 8000));
        assert!(!is_1khz_tone(&[0; 1600], 8000));
        assert!(!is_1khz_tone(&sine(1000.0, 40.0, 8000, 1600), 8000));
        let mut noise = vec![0i16; 1600];
        WhiteNoise::new(1).add_to(&mut noise, 3000.0);
        assert!(!is_1khz_tone(&noise, 8000));
        let mut gap = sine(1000.0, 5000.0, 8000, 1600);
        gap[400..560].fill(0);
        assert!(!is_1khz_tone(&gap, 8000));
        assert!(!is_1khz_tone(&[], 8000));
    }
}
