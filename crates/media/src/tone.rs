//! Generated audio toward a leg: call-progress tones with a cadence (ringback, ITU-T
//! E.180) and one-off clips such as in-band DTMF (ITU-T Q.23).

use std::collections::VecDeque;
use std::f64::consts::TAU;

use sb_codecs::audio::dbm0_to_amplitude;
use sb_media_api::Tone;

/// A cadenced tone, phase-continuous across frames so the sum of short frames is the
/// same clean tone a single long buffer would be.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    tone: Tone,
    rate: u32,
    /// Samples produced since the tone started.
    position: u64,
}

impl ToneGenerator {
    pub fn new(tone: Tone, rate: u32) -> Self {
        Self {
            tone,
            rate: rate.max(1),
            position: 0,
        }
    }

    /// Appends the next `len` samples.
    pub fn fill(&mut self, len: usize, out: &mut Vec<i16>) {
        let rate = u64::from(self.rate);
        let on = u64::from(self.tone.on_ms) * rate / 1000;
        let off = u64::from(self.tone.off_ms) * rate / 1000;
        let period = on + off;
        let amp = dbm0_to_amplitude(f64::from(self.tone.level_dbm0));
        for _ in 0..len {
            let n = self.position;
            self.position += 1;
            let sounding = off == 0 || period == 0 || n % period < on;
            if !sounding {
                out.push(0);
                continue;
            }
            let t = n as f64 / rate as f64;
            let v: f64 = self
                .tone
                .frequencies
                .iter()
                .map(|&f| amp * (TAU * f64::from(f) * t).sin())
                .sum();
            out.push(v.round().clamp(-32768.0, 32767.0) as i16);
        }
    }
}

/// What a leg hears instead of its partner: a clip (in-band DTMF) plays first, then the
/// tone resumes, if one is set.
#[derive(Debug, Default)]
pub struct Override {
    pub tone: Option<ToneGenerator>,
    pub clip: VecDeque<i16>,
}

impl Override {
    pub fn is_active(&self) -> bool {
        self.tone.is_some() || !self.clip.is_empty()
    }

    /// The next frame of `len` samples, or `None` when nothing overrides the partner.
    pub fn next_frame(&mut self, len: usize) -> Option<Vec<i16>> {
        if !self.is_active() {
            return None;
        }
        let mut out = Vec::with_capacity(len);
        let from_clip = self.clip.len().min(len);
        out.extend(self.clip.drain(..from_clip));
        if out.len() < len {
            match &mut self.tone {
                Some(t) => t.fill(len - out.len(), &mut out),
                None => out.resize(len, 0),
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sb_codecs::audio::{is_tone, level_dbm0};

    #[test]
    fn ringback_has_its_frequency_and_cadence() {
        let mut g = ToneGenerator::new(Tone::ringback_europe(), 8000);
        let mut pcm = Vec::new();
        for _ in 0..250 {
            g.fill(160, &mut pcm); // 5 s in 20 ms frames
        }
        assert!(is_tone(&pcm[..8000], 8000, 425.0));
        assert!(level_dbm0(&pcm[8000..]) < -80.0, "the 4 s pause is silent");
        let us = ToneGenerator::new(Tone::ringback_north_america(), 8000).tap(16000);
        let power = |f| sb_codecs::audio::relative_power(&us, f, 8000);
        assert!(power(440.0) > 0.4 && power(480.0) > 0.4);
    }

    impl ToneGenerator {
        fn tap(mut self, n: usize) -> Vec<i16> {
            let mut v = Vec::new();
            self.fill(n, &mut v);
            v
        }
    }

    #[test]
    fn clip_plays_before_the_tone_and_silence_pads_a_short_clip() {
        let mut o = Override::default();
        assert!(o.next_frame(160).is_none());
        o.clip.extend([5i16; 100]);
        let f = o.next_frame(160).unwrap();
        assert_eq!((&f[..100], &f[100..]), (&[5i16; 100][..], &[0i16; 60][..]));
        assert!(o.next_frame(160).is_none());
    }
}
