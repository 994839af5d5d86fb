//! Audio codecs behind [`Encoder`]/[`Decoder`] traits, plus the audio tools the media tests
//! use to check audio *as audio*.
//!
//! Everything here is pure: functions take samples and return samples or bytes. Nothing reads
//! a clock or touches a socket; time is counted in samples, so a caller that knows its
//! sample rate turns a sample index into a [`std::time::Duration`] itself.
//!
//! - [`Codec`] names the codecs signalling can negotiate (RFC 3551 §6 static payload types,
//!   SDP `rtpmap` encoding names) and builds boxed encoders and decoders for them.
//! - [`g711`]: ITU-T G.711 µ-law (PCMU) and A-law (PCMA), computed from the segment rules,
//!   with packet-loss concealment in the spirit of G.711 Appendix I.
//! - [`audio`]: sine generator, white noise, Goertzel power, dominant frequency, and a
//!   "is this a 1 kHz tone" check.
//! - [`dtmf`]: in-band DTMF (ITU-T Q.23 frequencies) generation and a Q.24-style detector.
//! - [`g722`]: ITU-T G.722 sub-band ADPCM at 64 kbit/s, written from the Recommendation
//!   (16 kHz audio on an 8000 Hz RTP clock, RFC 3551 §4.5.2).
//! - [`opus`]: Opus through the system's libopus, at 8, 16 or 48 kHz PCM on a 48 kHz RTP
//!   clock (RFC 7587).
//! - [`resample`]: streaming polyphase FIR sample-rate conversion between 8, 16 and 48 kHz.
//! - [`transcode_plan`]: which codecs, rate and resamplers a bridge between two legs needs.
//!
//! The one thing here that is not our own code is libopus (linked from the system through
//! pkg-config); it allocates only when an Opus encoder or decoder is created.
//!
//! ```
//! use sb_codecs::{audio, Codec};
//!
//! let codec: Codec = "PCMU".parse().unwrap();
//! let mut enc = codec.encoder();
//! let mut dec = codec.decoder();
//! let tone = audio::sine(1000.0, audio::dbm0_to_amplitude(-10.0), 8000, codec.frame_samples(20));
//! let mut payload = Vec::new();
//! enc.encode(&tone, &mut payload);
//! assert_eq!(payload.len(), 160);
//! let mut pcm = Vec::new();
//! dec.decode(&payload, &mut pcm);
//! assert!(audio::is_1khz_tone(&pcm, 8000));
//! ```

pub mod audio;
mod codec;
pub mod dtmf;
pub mod g711;
pub mod g722;
pub mod opus;
mod plc;
pub mod resample;
mod transcode;

pub use codec::{Codec, UnknownCodec};
pub use opus::{OpusRate, OpusSettings};
pub use resample::Resampler;
pub use transcode::{transcode_plan, Bridge, RateChange, TranscodePlan};

/// Turns linear 16-bit PCM into a codec payload.
pub trait Encoder: Send {
    /// The codec this encoder produces.
    fn codec(&self) -> Codec;

    /// Encodes `pcm` (interleaved if the codec has several channels) and appends the payload
    /// to `out`. Any number of samples is accepted; for G.711 every sample is one byte.
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>);

    /// PCM samples (all channels) the encoder takes for one frame of `ptime_ms`.
    fn frame_samples(&self, ptime_ms: u32) -> usize {
        self.codec().frame_samples(ptime_ms)
    }

    /// The PCM sample rate the encoder expects, in Hz.
    fn sample_rate(&self) -> u32 {
        self.codec().sample_rate()
    }

    /// The RTP timestamp rate of the payloads, in Hz.
    fn clock_rate(&self) -> u32 {
        self.codec().clock_rate()
    }

    /// Number of interleaved channels.
    fn channels(&self) -> u16 {
        self.codec().channels()
    }
}

/// Turns a codec payload back into linear 16-bit PCM, and covers for lost packets.
pub trait Decoder: Send {
    /// The codec this decoder consumes.
    fn codec(&self) -> Codec;

    /// Decodes one received payload and appends the samples to `out`. Peer input: a payload
    /// of any length or content is decoded without panicking.
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>);

    /// Packet-loss concealment: appends `samples` samples that stand in for audio that never
    /// arrived, derived from what was decoded before. Called once per missing frame, in
    /// order; the next [`Decoder::decode`] blends back into real audio.
    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>);

    /// PCM samples (all channels) the decoder produces for one frame of `ptime_ms`.
    fn frame_samples(&self, ptime_ms: u32) -> usize {
        self.codec().frame_samples(ptime_ms)
    }

    /// The PCM sample rate the decoder produces, in Hz.
    fn sample_rate(&self) -> u32 {
        self.codec().sample_rate()
    }

    /// The RTP timestamp rate of the payloads, in Hz.
    fn clock_rate(&self) -> u32 {
        self.codec().clock_rate()
    }

    /// Number of interleaved channels.
    fn channels(&self) -> u16 {
        self.codec().channels()
    }
}
