//! ITU-T G.711 pulse code modulation: µ-law (PCMU) and A-law (PCMA).
//!
//! Both laws split the magnitude range into eight segments (chords) that each double the
//! step size of the one below, and code a sample as sign, 3-bit segment and 4-bit position
//! in the segment (G.711 §2, tables 1a/1b and 2a/2b). The conversions below compute that
//! layout from the rules rather than looking it up, on the 16-bit linear scale the rest of
//! the server uses (G.711 works on 14-bit µ-law / 13-bit A-law values; we shift by 2 and 3).
//!
//! Decoded values are the midpoints of the coding intervals (the decision values of
//! G.711 tables 2a/2b), so `encode(decode(b)) == b` for every byte except µ-law `0x7F`
//! (negative zero), which decodes to 0 and re-encodes as positive zero `0xFF`.

use crate::plc::Concealer;
use crate::{Codec, Decoder, Encoder};

/// µ-law bias on the 16-bit scale: G.711 adds 33 to the 14-bit magnitude so that every
/// segment starts at a power of two; 33 << 2 = 132.
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude µ-law can code before clipping (the top of segment 7 minus the bias).
const ULAW_CLIP: i32 = 0x7FFF - ULAW_BIAS;

/// Encodes one linear sample as a µ-law byte (G.711 §3, table 2a).
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let x = i32::from(sample);
    let sign: u8 = if x < 0 { 0x80 } else { 0 };
    let biased = x.unsigned_abs().min(ULAW_CLIP as u32) as i32 + ULAW_BIAS;
    // `biased` lies in [132, 32767]: bit 7 is the lowest leading bit (segment 0), bit 14 the
    // highest (segment 7).
    let segment = (31 - biased.leading_zeros()) as i32 - 7;
    let mantissa = (biased >> (segment + 3)) & 0x0F;
    // µ-law transmits every bit inverted (G.711 §3, note to table 2a).
    !(sign | (segment as u8) << 4 | mantissa as u8)
}

/// Decodes one µ-law byte to a linear sample (G.711 §3, table 2a).
pub fn ulaw_to_linear(byte: u8) -> i16 {
    let b = !byte;
    let segment = i32::from((b >> 4) & 0x07);
    let mantissa = i32::from(b & 0x0F);
    // Midpoint of the interval: mantissa step is 8 << segment, half a step is 4 << segment,
    // and the bias comes back off.
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << segment) - ULAW_BIAS;
    if b & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Encodes one linear sample as an A-law byte (G.711 §2, table 1a).
pub fn linear_to_alaw(sample: i16) -> u8 {
    let x = i32::from(sample);
    // A-law codes negative values by their ones' complement, so -1..=-8 share the smallest
    // interval with 0..=7 and the range stays symmetric; the sign bit is 1 for positive.
    let (sign, magnitude) = if x >= 0 { (0x80u8, x) } else { (0u8, -x - 1) };
    let (segment, mantissa) = if magnitude < 256 {
        // Segments 0 and 1 share the same step (16 on this scale).
        (0, (magnitude >> 4) & 0x0F)
    } else {
        let segment = (31 - magnitude.leading_zeros()) as i32 - 7;
        (segment, (magnitude >> (segment + 3)) & 0x0F)
    };
    // Even bits are inverted on the line (G.711 §2, note to table 1a).
    (sign | (segment as u8) << 4 | mantissa as u8) ^ 0x55
}

/// Decodes one A-law byte to a linear sample (G.711 §2, table 1a).
pub fn alaw_to_linear(byte: u8) -> i16 {
    let b = byte ^ 0x55;
    let segment = i32::from((b >> 4) & 0x07);
    let mantissa = i32::from(b & 0x0F);
    let magnitude = if segment == 0 {
        (mantissa << 4) + 8
    } else {
        // The segment's lower edge is 256 << (segment - 1); adding half a step (8 on the
        // 13-bit scale) gives 0x108 before the shift.
        ((mantissa << 4) + 0x108) << (segment - 1)
    };
    if b & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

/// G.711 µ-law encoder (stateless).
#[derive(Debug, Clone, Copy, Default)]
pub struct MuLawEncoder;

/// G.711 A-law encoder (stateless).
#[derive(Debug, Clone, Copy, Default)]
pub struct ALawEncoder;

impl Encoder for MuLawEncoder {
    fn codec(&self) -> Codec {
        Codec::Pcmu
    }

    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) {
        out.extend(pcm.iter().map(|&s| linear_to_ulaw(s)));
    }
}

impl Encoder for ALawEncoder {
    fn codec(&self) -> Codec {
        Codec::Pcma
    }

    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) {
        out.extend(pcm.iter().map(|&s| linear_to_alaw(s)));
    }
}

/// G.711 µ-law decoder with packet-loss concealment.
#[derive(Debug, Clone, Default)]
pub struct MuLawDecoder {
    plc: Concealer,
}

/// G.711 A-law decoder with packet-loss concealment.
#[derive(Debug, Clone, Default)]
pub struct ALawDecoder {
    plc: Concealer,
}

impl MuLawDecoder {
    /// A decoder with empty concealment history.
    pub fn new() -> Self {
        Self::default()
    }
}

impl ALawDecoder {
    /// A decoder with empty concealment history.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Decoder for MuLawDecoder {
    fn codec(&self) -> Codec {
        Codec::Pcmu
    }

    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) {
        let start = out.len();
        out.extend(payload.iter().map(|&b| ulaw_to_linear(b)));
        self.plc.received(&mut out[start..]);
    }

    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) {
        self.plc.conceal(samples, out);
    }
}

impl Decoder for ALawDecoder {
    fn codec(&self) -> Codec {
        Codec::Pcma
    }

    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) {
        let start = out.len();
        out.extend(payload.iter().map(|&b| alaw_to_linear(b)));
        self.plc.received(&mut out[start..]);
    }

    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) {
        self.plc.conceal(samples, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_pairs() {
        // Zero: µ-law 0xFF (positive zero), A-law 0xD5 (G.711 table 1a, first interval).
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x7F), 0);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        // Full scale: µ-law 8031 << 2 and A-law 4032 << 3.
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(linear_to_alaw(i16::MAX), 0xAA);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2A);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
    }
}
