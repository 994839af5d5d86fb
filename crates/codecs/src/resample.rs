//! Sample-rate conversion between the rates the codecs run at: 8 kHz (G.711, Opus toward
//! G.711), 16 kHz (G.722, Opus toward G.722) and 48 kHz (Opus's native rate).
//!
//! A rational polyphase FIR: conceptually the input is stuffed with `up - 1` zeros between
//! samples, low-pass filtered at the upsampled rate, and every `down`-th sample kept. The
//! filter is split into `up` phases so no multiplication by an inserted zero is ever done,
//! and outputs that are thrown away are never computed.
//!
//! The prototype is a Kaiser-windowed sinc designed when the resampler is built, for the
//! lower of the two rates: flat to 42.5 % of it (3.4 kHz at 8 kHz, 6.8 kHz at 16 kHz) and
//! at least [`STOPBAND_DB`] down from its Nyquist frequency on, so nothing folds back into
//! the band on the way down and no image leaks out on the way up.
//!
//! The resampler keeps the tail of each block as history, so a stream cut into frames is
//! converted exactly as if it were passed in one piece: no clicks at frame edges.

use std::f64::consts::PI;

/// Stopband attenuation the filters are designed for, in dB.
pub const STOPBAND_DB: f64 = 70.0;

/// Passband edge as a fraction of the lower rate.
const PASS: f64 = 0.425;
/// Stopband edge as a fraction of the lower rate: its Nyquist frequency.
const STOP: f64 = 0.5;
/// Largest interpolation or decimation factor accepted; beyond it the filter grows large.
const MAX_FACTOR: u32 = 12;

/// A rate pair this resampler will not build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResampleError {
    /// A rate is zero, or the ratio reduces to factors above 12.
    #[error("unsupported resampling {from} Hz -> {to} Hz")]
    Unsupported {
        /// Input rate in Hz.
        from: u32,
        /// Output rate in Hz.
        to: u32,
    },
}

/// A streaming sample-rate converter for mono 16-bit PCM.
#[derive(Debug, Clone)]
pub struct Resampler {
    from: u32,
    to: u32,
    up: usize,
    down: usize,
    /// Taps per phase.
    taps: usize,
    /// Group delay in output samples.
    delay: usize,
    /// Phase-major coefficients: `coeffs[p * taps + j]` weighs input `i - j` for phase `p`.
    coeffs: Vec<f32>,
    /// The last `taps - 1` inputs, then the block being converted.
    buf: Vec<f32>,
    /// Position of the next output on the upsampled grid, counted from `buf[0]`.
    pos: usize,
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Modified Bessel function of the first kind, order zero, by its power series.
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term) = (1.0, 1.0);
    let q = x * x / 4.0;
    for k in 1..64 {
        term *= q / f64::from(k * k);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

impl Resampler {
    /// A converter from `from` Hz to `to` Hz. Equal rates give a converter that copies.
    pub fn new(from: u32, to: u32) -> Result<Resampler, ResampleError> {
        let unsupported = ResampleError::Unsupported { from, to };
        if from == 0 || to == 0 {
            return Err(unsupported);
        }
        let g = gcd(from, to);
        let (up, down) = (to / g, from / g);
        if up > MAX_FACTOR || down > MAX_FACTOR {
            return Err(unsupported);
        }
        let (up, down) = (up as usize, down as usize);
        let (coeffs, len) = if up == 1 && down == 1 {
            (vec![1.0], 1)
        } else {
            design(up, down)
        };
        let taps = coeffs.len() / up;
        // The prototype's centre, (len - 1) / 2 on the upsampled grid, in output samples.
        let delay = ((len - 1) as f64 / 2.0 / down as f64).round() as usize;
        Ok(Resampler {
            from,
            to,
            up,
            down,
            taps,
            delay,
            coeffs,
            buf: vec![0.0; taps - 1],
            pos: (taps - 1) * up,
        })
    }

    /// Input rate in Hz.
    pub fn from_rate(&self) -> u32 {
        self.from
    }

    /// Output rate in Hz.
    pub fn to_rate(&self) -> u32 {
        self.to
    }

    /// Group delay of the filter in output samples (the filter is linear phase): a tone
    /// comes out this much later than it went in.
    pub fn delay(&self) -> usize {
        self.delay
    }

    /// Output samples that `input` samples produce on average. With whole frames
    /// (20 ms at any of the supported rates) every call produces exactly this many.
    pub fn output_len(&self, input: usize) -> usize {
        input * self.up / self.down
    }

    /// Forgets the history, as at the start of a new stream.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.buf.resize(self.taps - 1, 0.0);
        self.pos = (self.taps - 1) * self.up;
    }

    /// Converts `input` and appends the output to `out`, saturating at the 16-bit range.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        self.buf.extend(input.iter().map(|&s| f32::from(s)));
        out.reserve(self.output_len(input.len()) + 1);
        while self.pos / self.up < self.buf.len() {
            let i = self.pos / self.up;
            let phase = &self.coeffs[(self.pos % self.up) * self.taps..][..self.taps];
            // x[i], x[i-1], ... x[i-taps+1]: the window ends at i.
            let window = &self.buf[i + 1 - self.taps..=i];
            let acc: f32 = phase
                .iter()
                .zip(window.iter().rev())
                .map(|(c, x)| c * x)
                .sum();
            out.push(acc.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16);
            self.pos += self.down;
        }
        // Keep the last taps - 1 inputs as history for the next block.
        let consumed = self.buf.len() + 1 - self.taps;
        self.buf.drain(..consumed);
        self.pos -= consumed * self.up;
    }
}

/// The polyphase coefficients for interpolation by `up` and decimation by `down`, phase
/// major, the prototype padded with zeros to a multiple of `up` taps; and the prototype's
/// unpadded length.
fn design(up: usize, down: usize) -> (Vec<f32>, usize) {
    // Work at the upsampled rate, normalised to 1. The lower of the two rates is 1/max(up,
    // down) of it.
    let low = 1.0 / up.max(down) as f64;
    let (pass, stop) = (PASS * low, STOP * low);
    let cutoff = (pass + stop) / 2.0;
    let transition = 2.0 * PI * (stop - pass);
    // Kaiser's estimates of length and shape for the requested attenuation.
    let len = ((STOPBAND_DB - 8.0) / (2.285 * transition)).ceil() as usize + 1;
    let beta = 0.1102 * (STOPBAND_DB - 8.7);
    let taps = len.div_ceil(up);
    let total = taps * up;
    let centre = (len - 1) as f64 / 2.0;
    let norm = bessel_i0(beta);
    let mut proto: Vec<f64> = (0..total)
        .map(|n| {
            if n >= len {
                return 0.0;
            }
            let t = n as f64 - centre;
            let sinc = if t == 0.0 {
                2.0 * cutoff
            } else {
                (2.0 * PI * cutoff * t).sin() / (PI * t)
            };
            let r = t / centre;
            sinc * bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / norm
        })
        .collect();
    // Each phase sees every up-th tap, so unit DC gain at the output needs the prototype to
    // sum to `up`.
    let sum: f64 = proto.iter().sum();
    for c in &mut proto {
        *c *= up as f64 / sum;
    }
    let mut coeffs = vec![0.0f32; total];
    for p in 0..up {
        for j in 0..taps {
            coeffs[p * taps + j] = proto[p + j * up] as f32;
        }
    }
    (coeffs, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_reduce_and_bad_pairs_are_refused() {
        let r = Resampler::new(48_000, 8_000).unwrap();
        assert_eq!((r.up, r.down), (1, 6));
        let r = Resampler::new(16_000, 48_000).unwrap();
        assert_eq!((r.up, r.down), (3, 1));
        assert!(Resampler::new(0, 8000).is_err());
        assert!(Resampler::new(44_100, 48_000).is_err());
    }

    #[test]
    fn equal_rates_copy() {
        let mut r = Resampler::new(8000, 8000).unwrap();
        let mut out = Vec::new();
        r.process(&[1, -2, 3], &mut out);
        assert_eq!(out, [1, -2, 3]);
        assert_eq!(r.delay(), 0);
    }

    #[test]
    fn bessel_matches_known_values() {
        assert!((bessel_i0(0.0) - 1.0).abs() < 1e-12);
        assert!((bessel_i0(1.0) - 1.266_065_877_752_008_4).abs() < 1e-12);
    }
}
