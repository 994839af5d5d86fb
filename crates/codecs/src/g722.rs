//! ITU-T G.722: 7 kHz audio coding within 64 kbit/s (mode 1), by sub-band ADPCM.
//!
//! A 24-tap quadrature mirror filter pair splits 16 kHz audio into a lower band (0–4 kHz)
//! and a higher band (4–8 kHz), each sampled at 8 kHz (the transmit and receive QMF). Each band is coded
//! by ADPCM with a backward-adaptive quantizer scale and a pole-zero predictor (two poles,
//! six zeros) driven only by quantized values, so the decoder tracks the encoder without
//! side information:
//!
//! - lower band: 6 bits per sample (60 levels); the predictor and scale adaptation see only
//!   the 4 most significant bits, which is what lets a receiver drop 1 or 2 bits (modes 2
//!   and 3) and stay in step;
//! - higher band: 2 bits per sample (4 levels).
//!
//! One octet per pair of input samples: the higher-band code in the two most significant
//! bits, the lower-band code in the six least.
//!
//! Names in comments (LSBCODE, INVQAL, LOGSCL, SCALEL, UPPOL1, FILTEZ, ...) are the
//! Recommendation's names for its computational blocks, so the code can be read beside it.
//!
//! **RTP clock quirk** (RFC 3551 §4.5.2): G.722 is sampled at 16 kHz but its RTP clock rate
//! is 8000 Hz, an error in the original RFC 1890 kept for compatibility. A 20 ms frame holds
//! 320 PCM samples, is 160 octets long, and advances the RTP timestamp by 160. SDP names it
//! `G722/8000`; its static payload type is 9.
//!
//! The arithmetic follows the Recommendation's fixed-point description (16-bit values,
//! arithmetic shifts, saturation), so the encoder's and decoder's predictor states stay in
//! step bit for bit with each other and with other conforming implementations (the tests
//! hold hashes of another implementation's output). Input is linear 16-bit PCM; the
//! Recommendation's 14-bit input scale is absorbed into the QMF shifts. Decoded output
//! saturates at the 16-bit range rather than wrapping.

use crate::{Codec, Decoder, Encoder};

/// QMF coefficients h(0)..h(23), scaled by 2^13 (transmit and receive QMF). The filter is
/// symmetric, so analysis plus synthesis is linear phase with a 23-sample delay.
const QMF: [i32; 24] = [
    3, -11, -11, 53, 12, -156, 32, 362, -210, -805, 951, 3876, 3876, 951, -805, -210, 362, 32,
    -156, 12, 53, -11, -11, 3,
];

/// Lower-band quantizer decision levels (LSBCODE), scaled so that level × DETL
/// >> 12 is on the sub-band signal's scale. The last entry stands for "no upper bound".
const Q6: [i32; 31] = [
    0,
    35,
    72,
    110,
    150,
    190,
    233,
    276,
    323,
    370,
    422,
    473,
    530,
    587,
    650,
    714,
    786,
    858,
    940,
    1023,
    1121,
    1219,
    1339,
    1458,
    1612,
    1765,
    1980,
    2195,
    2557,
    2919,
    i32::MAX,
];

/// Lower-band codes for a negative difference, by quantizer interval (LSBCODE's ILN).
const ILN: [u8; 31] = [
    0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11,
    10, 9, 8, 7, 6, 5, 4,
];

/// Lower-band codes for a positive difference, by quantizer interval (LSBCODE's ILP).
const ILP: [u8; 31] = [
    0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39,
    38, 37, 36, 35, 34, 33, 32,
];

/// 6-bit inverse quantizer output by code, scaled by 2^15 / DETL (INVQBL,
/// mode 1).
/// Codes 0–3 are never sent; they decode like the smallest negative level.
const QM6: [i32; 64] = [
    -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232,
    -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776,
    -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280,
    11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776,
    2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
];

/// 4-bit inverse quantizer used inside the prediction loop, by the code's top four bits
/// (INVQAL).
const QM4: [i32; 16] = [
    0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584,
    1200, 0,
];

/// Lower-band log scale factor multipliers (LOGSCL), by the 4-bit code's
/// magnitude index [`RL42`].
const WL: [i32; 8] = [-60, -30, 58, 172, 334, 538, 1198, 3042];
/// Magnitude index of each 4-bit lower-band code (0 = smallest level).
const RL42: [usize; 16] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];

/// Higher-band decision level relative to the scale factor (HSBCODE).
const Q2: i32 = 564;
/// Higher-band codes by sign and interval: inner (1) and outer (2) (HSBCODE).
const IHN: [u8; 3] = [0, 1, 0];
const IHP: [u8; 3] = [0, 3, 2];
/// 2-bit inverse quantizer output by code, scaled by 2^15 / DETH (INVQAH).
const QM2: [i32; 4] = [-7408, -1616, 7408, 1616];
/// Higher-band log scale factor multipliers (LOGSCH), by code.
const WH: [i32; 4] = [798, -214, 798, -214];

/// Anti-log table for the scale factors: 2048 · 2^(i/32) (SCALEL, SCALEH).
const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
    2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];

/// Saturates to the 16-bit range, as every adder in the Recommendation's description does.
fn sat(x: i32) -> i32 {
    x.clamp(i32::from(i16::MIN), i32::from(i16::MAX))
}

/// Sign as the Recommendation tests it: the sign bit, so zero counts as positive.
fn neg(x: i32) -> bool {
    x < 0
}

/// What differs between the two bands' scale adaptation (LOGSCL/SCALEL against LOGSCH/SCALEH).
#[derive(Debug, Clone, Copy)]
struct ScaleParams {
    /// Upper limit of the log scale factor (18432 lower band, 22528 higher band).
    nb_max: i32,
    /// Shift base that places the scale factor's range (8 lower band, 10 higher band).
    shift: i32,
}

const LOWER: ScaleParams = ScaleParams {
    nb_max: 18432,
    shift: 8,
};
const HIGHER: ScaleParams = ScaleParams {
    nb_max: 22528,
    shift: 10,
};

/// The ADPCM state of one sub-band: quantizer scale and adaptive predictor. Encoder and
/// decoder run the same update from the same quantized values.
#[derive(Debug, Clone)]
struct Band {
    params: ScaleParams,
    /// Log scale factor (NBL / NBH).
    nb: i32,
    /// Quantizer scale factor (DETL / DETH).
    det: i32,
    /// Signal estimate for the next sample (SL / SH).
    s: i32,
    /// Zero-section part of that estimate (SZL / SZH).
    sz: i32,
    /// Pole coefficients a1, a2 (Q14), index 0 unused.
    a: [i32; 3],
    /// Zero coefficients b1..b6 (Q14), index 0 unused.
    b: [i32; 7],
    /// Past quantized differences d(n-1)..d(n-6), index 0 unused.
    d: [i32; 7],
    /// Past partially reconstructed signals p(n-1), p(n-2).
    p: [i32; 3],
    /// Past reconstructed signals r(n-1), r(n-2).
    r: [i32; 3],
}

impl Band {
    fn new(params: ScaleParams) -> Self {
        let mut band = Band {
            params,
            nb: 0,
            det: 0,
            s: 0,
            sz: 0,
            a: [0; 3],
            b: [0; 7],
            d: [0; 7],
            p: [0; 3],
            r: [0; 3],
        };
        band.det = band.scale();
        band
    }

    /// The scale factor for the current log scale factor (SCALEL / SCALEH): a table
    /// anti-log of the fraction, shifted by the integer part.
    fn scale(&self) -> i32 {
        let frac = ILB[((self.nb >> 6) & 31) as usize];
        let shift = self.params.shift - (self.nb >> 11);
        let v = if shift < 0 {
            frac << -shift
        } else {
            frac >> shift
        };
        v << 2
    }

    /// Log scale factor adaptation (LOGSCL / LOGSCH): a leaky integrator of per-code
    /// multipliers, bounded so the quantizer neither collapses nor overflows.
    fn adapt_scale(&mut self, weight: i32) {
        let nb = ((self.nb * 127) >> 7) + weight;
        self.nb = nb.clamp(0, self.params.nb_max);
        self.det = self.scale();
    }

    /// Runs the predictor one sample forward from the quantized difference `d` (RECONS,
    /// PARREC, UPPOL2, UPPOL1, UPZERO, DELAYA, FILTEP, FILTEZ, PREDIC).
    fn predict(&mut self, d: i32) {
        let r = sat(self.s + d);
        let p = sat(self.sz + d);

        // UPPOL2: a2 ← (1 - 2^-7)·a2 + 2^-7·sgn(p·p2) - 2^-7·f(a1)·sgn(p·p1), where
        // f(a1) = 4·a1 saturating at ±2; bounded to ±0.75 for stability.
        let f = sat(self.a[1] << 2);
        let mut wd = if neg(p) == neg(self.p[1]) { -f } else { f };
        wd = wd.min(i32::from(i16::MAX)) >> 7;
        wd += if neg(p) == neg(self.p[2]) { 128 } else { -128 };
        let a2 = (wd + ((self.a[2] * 32512) >> 15)).clamp(-12288, 12288);

        // UPPOL1: a1 ← (1 - 2^-8)·a1 + 3·2^-8·sgn(p·p1), bounded by 1 - 2^-4 - a2 so the
        // two poles stay inside the unit circle.
        let step = if neg(p) == neg(self.p[1]) { 192 } else { -192 };
        let limit = 15360 - a2;
        let a1 = sat(step + ((self.a[1] * 32640) >> 15)).clamp(-limit, limit);

        // UPZERO: b_i ← (1 - 2^-8)·b_i + 2^-7·sgn(d·d_i), no push when d is zero.
        let push = if d == 0 { 0 } else { 128 };
        for i in 1..7 {
            let w = if neg(d) == neg(self.d[i]) {
                push
            } else {
                -push
            };
            self.b[i] = sat(w + ((self.b[i] * 32640) >> 15));
        }

        // DELAYA
        for i in (2..7).rev() {
            self.d[i] = self.d[i - 1];
        }
        self.d[1] = d;
        self.r[2] = self.r[1];
        self.r[1] = r;
        self.p[2] = self.p[1];
        self.p[1] = p;
        self.a[1] = a1;
        self.a[2] = a2;

        // FILTEP, FILTEZ, PREDIC. The doubled signal is a 16-bit register in the
        // Recommendation, so it saturates before the multiplication.
        let sp = sat(
            ((sat(2 * self.r[1]) * self.a[1]) >> 15) + ((sat(2 * self.r[2]) * self.a[2]) >> 15)
        );
        let mut sz = 0;
        for i in 1..7 {
            sz = sat(sz + ((sat(2 * self.d[i]) * self.b[i]) >> 15));
        }
        self.sz = sz;
        self.s = sat(sp + sz);
    }

    /// Lower band, one sample: in-loop update from the 6-bit code `il`.
    fn update_lower(&mut self, il: u8) {
        let ilr = usize::from(il >> 2);
        let d = (self.det * QM4[ilr]) >> 15;
        self.adapt_scale(WL[RL42[ilr]]);
        self.predict(d);
    }

    /// Higher band, one sample: in-loop update from the 2-bit code `ih`.
    fn update_higher(&mut self, ih: u8) {
        let ih = usize::from(ih & 3);
        let d = (self.det * QM2[ih]) >> 15;
        self.adapt_scale(WH[ih]);
        self.predict(d);
    }
}

/// Magnitude as the quantizers compare it: ones' complement for negatives.
fn magnitude(e: i32) -> i32 {
    if e >= 0 {
        e
    } else {
        -(e + 1)
    }
}

/// The 6-bit lower-band code for the prediction error `el` at scale `det` (LSBCODE).
fn quantize_lower(el: i32, det: i32) -> u8 {
    let wd = magnitude(el);
    let interval = (1..30).find(|&i| wd < (Q6[i] * det) >> 12).unwrap_or(30);
    if el < 0 {
        ILN[interval]
    } else {
        ILP[interval]
    }
}

/// The 2-bit higher-band code for the prediction error `eh` at scale `det` (HSBCODE).
fn quantize_higher(eh: i32, det: i32) -> u8 {
    let interval = if magnitude(eh) >= (Q2 * det) >> 12 {
        2
    } else {
        1
    };
    if eh < 0 {
        IHN[interval]
    } else {
        IHP[interval]
    }
}

/// G.722 encoder at 64 kbit/s: two 16 kHz samples in, one octet out.
#[derive(Debug, Clone)]
pub struct G722Encoder {
    /// Transmit QMF delay line, newest first.
    x: [i32; 24],
    lower: Band,
    higher: Band,
    /// An odd sample left over from the previous call, waiting for its partner.
    pending: Option<i16>,
}

impl Default for G722Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Encoder {
    /// An encoder in the Recommendation's reset state.
    pub fn new() -> Self {
        G722Encoder {
            x: [0; 24],
            lower: Band::new(LOWER),
            higher: Band::new(HIGHER),
            pending: None,
        }
    }

    /// Codes one pair of consecutive samples (older first) as one octet.
    fn encode_pair(&mut self, older: i16, newer: i16) -> u8 {
        // Transmit QMF: the even taps see the newest sample and every other
        // one before it, the odd taps the rest. Sum and difference give the two bands,
        // decimated by two.
        self.x.copy_within(0..22, 2);
        self.x[1] = i32::from(older);
        self.x[0] = i32::from(newer);
        let (mut even, mut odd) = (0i32, 0i32);
        for i in 0..12 {
            even += QMF[2 * i] * self.x[2 * i];
            odd += QMF[2 * i + 1] * self.x[2 * i + 1];
        }
        // Coefficients sum to 2^13; one more bit of shift puts the 16-bit input on the
        // Recommendation's 15-bit sub-band scale.
        let xl = sat((even + odd) >> 14);
        let xh = sat((even - odd) >> 14);

        let il = quantize_lower(sat(xl - self.lower.s), self.lower.det);
        self.lower.update_lower(il);
        let ih = quantize_higher(sat(xh - self.higher.s), self.higher.det);
        self.higher.update_higher(ih);
        ih << 6 | il
    }
}

impl Encoder for G722Encoder {
    fn codec(&self) -> Codec {
        Codec::G722
    }

    /// Appends one octet per two samples. An odd sample at the end waits for the next call,
    /// so callers should pass even counts (every whole-millisecond frame is even).
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) {
        let mut rest = pcm;
        if let Some(older) = self.pending.take() {
            let Some((&newer, tail)) = rest.split_first() else {
                self.pending = Some(older);
                return;
            };
            let octet = self.encode_pair(older, newer);
            out.push(octet);
            rest = tail;
        }
        let mut pairs = rest.chunks_exact(2);
        out.reserve(rest.len() / 2);
        for pair in &mut pairs {
            let octet = self.encode_pair(pair[0], pair[1]);
            out.push(octet);
        }
        self.pending = pairs.remainder().first().copied();
    }
}

/// G.722 decoder at 64 kbit/s: one octet in, two 16 kHz samples out. Every octet is a valid
/// code, so any payload decodes.
#[derive(Debug, Clone)]
pub struct G722Decoder {
    lower: Band,
    higher: Band,
    /// Receive QMF delay lines of band difference and sum, newest first.
    xd: [i32; 12],
    xs: [i32; 12],
    plc: Concealer16k,
}

impl Default for G722Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Decoder {
    /// A decoder in the Recommendation's reset state.
    pub fn new() -> Self {
        G722Decoder {
            lower: Band::new(LOWER),
            higher: Band::new(HIGHER),
            xd: [0; 12],
            xs: [0; 12],
            plc: Concealer16k::default(),
        }
    }

    /// Decodes one octet into two samples (mode 1, 64 kbit/s).
    fn decode_octet(&mut self, octet: u8) -> [i16; 2] {
        let il = octet & 0x3F;
        let ih = octet >> 6;

        // The output uses all six bits; the loop only the top four, as the encoder did.
        let dl = (self.lower.det * QM6[usize::from(il)]) >> 15;
        let rl = (self.lower.s + dl).clamp(-16384, 16383);
        self.lower.update_lower(il);

        let dh = (self.higher.det * QM2[usize::from(ih)]) >> 15;
        let rh = (self.higher.s + dh).clamp(-16384, 16383);
        self.higher.update_higher(ih);

        // Receive QMF: interpolate by two and recombine. Even outputs come
        // from the band difference, odd ones from the sum; 2^13 coefficient scale, a factor
        // two for the interpolation and one to undo the encoder's extra shift.
        self.xd.copy_within(0..11, 1);
        self.xs.copy_within(0..11, 1);
        self.xd[0] = rl - rh;
        self.xs[0] = rl + rh;
        let (mut y0, mut y1) = (0i32, 0i32);
        for i in 0..12 {
            y0 += QMF[2 * i] * self.xd[i];
            y1 += QMF[2 * i + 1] * self.xs[i];
        }
        [sat(y0 >> 11) as i16, sat(y1 >> 11) as i16]
    }
}

impl Decoder for G722Decoder {
    fn codec(&self) -> Codec {
        Codec::G722
    }

    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) {
        let start = out.len();
        out.reserve(payload.len() * 2);
        for &octet in payload {
            out.extend(self.decode_octet(octet));
        }
        self.plc.received(&mut out[start..]);
    }

    /// Conceals by repeating the last pitch period with a fade (the same scheme as G.711's
    /// concealment, at 16 kHz). The ADPCM state is left as it was: the encoder kept going,
    /// so the next real octets re-converge within a few milliseconds.
    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) {
        self.plc.conceal(samples, out);
    }
}

/// The G.711 concealer (tuned for 8 kHz) run on every second sample of the 16 kHz stream,
/// its output held for two samples. Pitch periods and fade times keep their meaning, it is
/// never louder than what was received, and the images the hold adds sit under the fade.
#[derive(Debug, Clone, Default)]
struct Concealer16k {
    inner: crate::plc::Concealer,
    /// Phase of the 2:1 hold.
    held: Option<i16>,
}

impl Concealer16k {
    fn received(&mut self, samples: &mut [i16]) {
        // Only the decimated stream feeds the pitch history; the cross-fade after a loss is
        // applied to that stream and copied to its neighbour.
        let mut narrow: Vec<i16> = samples.iter().step_by(2).copied().collect();
        let before = narrow.clone();
        self.inner.received(&mut narrow);
        for (i, (n, b)) in narrow.iter().zip(&before).enumerate() {
            if n != b {
                let delta = i32::from(*n) - i32::from(*b);
                for s in samples.iter_mut().skip(2 * i).take(2) {
                    *s = sat(i32::from(*s) + delta) as i16;
                }
            }
        }
        self.held = None;
    }

    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) {
        let mut narrow = Vec::with_capacity(samples / 2 + 1);
        let mut produced = 0;
        if let Some(h) = self.held.take() {
            out.push(h);
            produced += 1;
        }
        let need = samples - produced;
        self.inner.conceal(need.div_ceil(2), &mut narrow);
        for &s in &narrow {
            for _ in 0..2 {
                if produced < samples {
                    out.push(s);
                    produced += 1;
                } else {
                    self.held = Some(s);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn antilog_table_is_two_to_the_i_over_32() {
        for (i, &v) in ILB.iter().enumerate() {
            let exact = 2048.0 * 2f64.powf(i as f64 / 32.0);
            assert!(
                (f64::from(v) - exact).abs() <= 1.0,
                "ILB[{i}] = {v}, {exact}"
            );
        }
    }

    #[test]
    fn qmf_is_symmetric_with_unit_dc_gain() {
        for i in 0..12 {
            assert_eq!(QMF[i], QMF[23 - i]);
        }
        assert_eq!(QMF.iter().sum::<i32>(), 1 << 13);
    }

    #[test]
    fn scale_factor_ranges_match_the_recommendation() {
        let mut low = Band::new(LOWER);
        assert_eq!(low.det, 32);
        let mut high = Band::new(HIGHER);
        assert_eq!(high.det, 8);
        for _ in 0..1000 {
            low.adapt_scale(WL[7]);
            high.adapt_scale(WH[0]);
        }
        assert_eq!(low.nb, 18432);
        assert_eq!(high.nb, 22528);
    }

    #[test]
    fn in_loop_levels_are_every_fourth_decision_level() {
        // The 4-bit loop quantizer reconstructs at decision levels 4, 8, ... 28 (×8).
        for (k, &q) in QM4[8..15].iter().rev().enumerate() {
            assert_eq!(q, Q6[4 * (k + 1)] * 8);
        }
    }
}
