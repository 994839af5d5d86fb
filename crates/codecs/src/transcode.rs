//! What a transcoding bridge between two legs needs: which codecs each leg runs, at which
//! PCM rate the audio is handed over, and which resamplers sit in each direction.
//!
//! Mediation relays payloads when both legs share a codec and transcodes only when they
//! do not. Opus picks its PCM rate to match the other side, so Opus↔G.711 runs at 8 kHz and
//! Opus↔G.722 at 16 kHz without any resampler; only G.722↔G.711 has to resample
//! (16 kHz → 8 kHz toward G.711, 8 kHz → 16 kHz toward G.722).

use crate::opus::OpusRate;
use crate::resample::Resampler;
use crate::Codec;

/// A change of sample rate in one direction of a bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateChange {
    /// Rate the decoder produces, in Hz.
    pub from: u32,
    /// Rate the encoder takes, in Hz.
    pub to: u32,
}

impl RateChange {
    /// A fresh resampler for this change.
    pub fn resampler(self) -> Resampler {
        Resampler::new(self.from, self.to)
            .expect("bridges only change between 8, 16 and 48 kHz, which the resampler builds")
    }
}

/// How to bridge a leg using codec `a` and a leg using codec `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TranscodePlan {
    /// Both legs put the same codec on the wire: relay payloads untouched (rewriting only
    /// RTP headers).
    Relay,
    /// Decode each leg's audio and encode it for the other.
    Transcode(Bridge),
}

/// The codecs, rate and resamplers of a transcoding bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Bridge {
    /// The codec to run on leg a, with Opus's PCM rate chosen for the bridge.
    pub a: Codec,
    /// The codec to run on leg b, likewise.
    pub b: Codec,
    /// The PCM rate the two legs' audio meets at: the lower of their PCM rates, the
    /// bandwidth both can carry.
    pub rate: u32,
    /// Resampling of leg a's decoded audio before leg b's encoder, if their rates differ.
    pub a_to_b: Option<RateChange>,
    /// Resampling of leg b's decoded audio before leg a's encoder.
    pub b_to_a: Option<RateChange>,
}

impl Bridge {
    /// Fresh resamplers for the a→b and b→a directions.
    pub fn resamplers(&self) -> (Option<Resampler>, Option<Resampler>) {
        (
            self.a_to_b.map(RateChange::resampler),
            self.b_to_a.map(RateChange::resampler),
        )
    }
}

/// The plan for bridging codec `a` with codec `b`.
///
/// | a ↔ b | plan |
/// |---|---|
/// | same codec (Opus at any rates) | relay |
/// | Opus ↔ G.711 | Opus at 8 kHz, bridge at 8 kHz, no resampler |
/// | Opus ↔ G.722 | Opus at 16 kHz, bridge at 16 kHz, no resampler |
/// | G.722 ↔ G.711 | bridge at 8 kHz, 16→8 toward G.711, 8→16 toward G.722 |
/// | PCMU ↔ PCMA | bridge at 8 kHz, no resampler |
pub fn transcode_plan(a: Codec, b: Codec) -> TranscodePlan {
    if a.same_wire_format(b) {
        return TranscodePlan::Relay;
    }
    // Opus takes whatever rate its peer runs at (both are among Opus's rates).
    let fit = |c: Codec, other: Codec| match c {
        Codec::Opus { rate } => Codec::Opus {
            rate: OpusRate::from_hz(other.sample_rate()).unwrap_or(rate),
        },
        c => c,
    };
    let (a, b) = (fit(a, b), fit(b, a));
    let (ra, rb) = (a.sample_rate(), b.sample_rate());
    let change = |from, to| (from != to).then_some(RateChange { from, to });
    TranscodePlan::Transcode(Bridge {
        a,
        b,
        rate: ra.min(rb),
        a_to_b: change(ra, rb),
        b_to_a: change(rb, ra),
    })
}
