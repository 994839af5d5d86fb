//! Opus (RFC 6716) through libopus, for the client side of mediation.
//!
//! RTP carries Opus with a 48 kHz clock whatever the audio bandwidth (RFC 7587 §4.1), and SDP
//! always names it `opus/48000/2` (RFC 7587 §7) even for mono. An Opus decoder can produce,
//! and an encoder take, PCM at 8, 12, 16, 24 or 48 kHz; we use three:
//!
//! - 8 kHz toward G.711, so a transcoding bridge needs no resampler;
//! - 16 kHz toward G.722, for the same reason;
//! - 48 kHz for full band (mixing, recording).
//!
//! Whatever the internal rate, a 20 ms frame advances the RTP timestamp by 960:
//! [`OpusRate::rtp_ticks`] converts. Mono, 20 ms frames, VoIP application mode; in-band FEC
//! and DTX off unless [`OpusSettings`] asks for them.

use audiopus::coder::{Decoder as LibDecoder, Encoder as LibEncoder};
use audiopus::{Application, Bitrate, Channels, SampleRate};

use crate::{Codec, Decoder, Encoder};

/// libopus's `OPUS_SET_DTX_REQUEST` (opus_defines.h), which the binding does not wrap.
const OPUS_SET_DTX_REQUEST: i32 = 4016;
/// Longest packet duration libopus accepts or produces: 120 ms (RFC 6716 §3.2.5).
const MAX_FRAME_MS: usize = 120;
/// Frame durations Opus can code, in tenths of a millisecond (2.5 ms to 120 ms).
const FRAME_TENTHS_MS: [usize; 9] = [25, 50, 100, 200, 400, 600, 800, 1000, 1200];
/// Generous bound for one packet: 1275 octets per frame times 3 frames, and the TOC.
const MAX_PACKET: usize = 4000;

/// The PCM rate an Opus encoder or decoder runs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpusRate {
    /// Narrowband, toward G.711.
    Hz8000,
    /// Wideband, toward G.722.
    Hz16000,
    /// Full band.
    Hz48000,
}

impl OpusRate {
    /// The rate in Hz.
    pub fn hz(self) -> u32 {
        match self {
            OpusRate::Hz8000 => 8000,
            OpusRate::Hz16000 => 16_000,
            OpusRate::Hz48000 => 48_000,
        }
    }

    /// The rate for `hz`, if Opus runs at it here.
    pub fn from_hz(hz: u32) -> Option<OpusRate> {
        match hz {
            8000 => Some(OpusRate::Hz8000),
            16_000 => Some(OpusRate::Hz16000),
            48_000 => Some(OpusRate::Hz48000),
            _ => None,
        }
    }

    /// RTP timestamp ticks (48 kHz, RFC 7587 §4.1) for `samples` PCM samples at this
    /// rate: 160 samples at 8 kHz, 320 at 16 kHz and 960 at 48 kHz are all 960 ticks.
    pub fn rtp_ticks(self, samples: usize) -> u32 {
        (samples as u64 * 48_000 / u64::from(self.hz())) as u32
    }

    fn lib(self) -> SampleRate {
        match self {
            OpusRate::Hz8000 => SampleRate::Hz8000,
            OpusRate::Hz16000 => SampleRate::Hz16000,
            OpusRate::Hz48000 => SampleRate::Hz48000,
        }
    }

    /// Default bitrate: enough for transparent speech at the band the rate allows.
    fn default_bitrate(self) -> u32 {
        match self {
            OpusRate::Hz8000 => 16_000,
            OpusRate::Hz16000 => 24_000,
            OpusRate::Hz48000 => 32_000,
        }
    }
}

/// Encoder settings. The defaults suit a mediated call: no FEC, no DTX (a gateway side
/// expects a steady stream), bitrate by rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpusSettings {
    /// Target bitrate in bit/s (500 to 512 000); `None` for the rate's default (16, 24 or
    /// 32 kbit/s at 8, 16 or 48 kHz).
    pub bitrate: Option<u32>,
    /// In-band forward error correction (RFC 6716 §2.1.7); the decoder side uses it through
    /// [`OpusDecoder::decode_fec`].
    pub fec: bool,
    /// Expected packet loss in percent, which tunes how much FEC is spent (0–100).
    pub expected_loss_percent: u8,
    /// Discontinuous transmission: near-silent frames become 1-octet packets, sent every
    /// 400 ms (RFC 7587 §3.1.3).
    pub dtx: bool,
    /// Computational complexity 0–10.
    pub complexity: u8,
}

impl Default for OpusSettings {
    fn default() -> Self {
        OpusSettings {
            bitrate: None,
            fec: false,
            expected_loss_percent: 0,
            dtx: false,
            complexity: 5,
        }
    }
}

impl OpusSettings {
    /// These settings with `bitrate` bit/s.
    pub fn with_bitrate(mut self, bitrate: u32) -> Self {
        self.bitrate = Some(bitrate);
        self
    }

    /// These settings with FEC on, tuned for `loss_percent` loss.
    pub fn with_fec(mut self, loss_percent: u8) -> Self {
        self.fec = true;
        self.expected_loss_percent = loss_percent.min(100);
        self
    }

    /// These settings with DTX on or off.
    pub fn with_dtx(mut self, dtx: bool) -> Self {
        self.dtx = dtx;
        self
    }
}

/// libopus refused a setting or could not create its state.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpusError {
    /// The library returned an error.
    #[error("libopus: {0}")]
    Library(#[from] audiopus::Error),
}

/// Samples in `tenths` tenths of a millisecond at `rate`.
fn samples_in(rate: OpusRate, tenths: usize) -> usize {
    rate.hz() as usize * tenths / 10_000
}

/// Opus encoder, mono.
pub struct OpusEncoder {
    rate: OpusRate,
    lib: LibEncoder,
    scratch: Vec<i16>,
    packet: Vec<u8>,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder")
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

impl OpusEncoder {
    /// An encoder at `rate` with `settings`.
    pub fn new(rate: OpusRate, settings: OpusSettings) -> Result<OpusEncoder, OpusError> {
        let mut lib = LibEncoder::new(rate.lib(), Channels::Mono, Application::Voip)?;
        let bitrate = settings.bitrate.unwrap_or(rate.default_bitrate());
        lib.set_bitrate(Bitrate::BitsPerSecond(bitrate.clamp(500, 512_000) as i32))?;
        lib.set_inband_fec(settings.fec)?;
        lib.set_packet_loss_perc(settings.expected_loss_percent.min(100))?;
        lib.set_encoder_ctl_request(OPUS_SET_DTX_REQUEST, i32::from(settings.dtx))?;
        lib.set_complexity(settings.complexity.min(10))?;
        Ok(OpusEncoder {
            rate,
            lib,
            scratch: Vec::new(),
            packet: vec![0; MAX_PACKET],
        })
    }

    /// The PCM rate.
    pub fn rate(&self) -> OpusRate {
        self.rate
    }
}

impl Encoder for OpusEncoder {
    fn codec(&self) -> Codec {
        Codec::Opus { rate: self.rate }
    }

    /// Encodes `pcm` as one Opus packet. Opus codes only frames of 2.5, 5, 10, 20, 40, 60,
    /// 80, 100 or 120 ms: a shorter count of another length is padded with silence up to
    /// the next such duration, and anything past 120 ms is not coded (callers packetise in
    /// 20 ms frames; no RTP payload may carry more than 120 ms, RFC 7587 §4.2).
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) {
        let max = samples_in(self.rate, MAX_FRAME_MS * 10);
        let pcm = &pcm[..pcm.len().min(max)];
        let frame = FRAME_TENTHS_MS
            .iter()
            .map(|&t| samples_in(self.rate, t))
            .find(|&n| n >= pcm.len())
            .unwrap_or(max);
        let input = if frame == pcm.len() {
            pcm
        } else {
            self.scratch.clear();
            self.scratch.extend_from_slice(pcm);
            self.scratch.resize(frame, 0);
            &self.scratch
        };
        // Fails only for a wrong frame size or too small a buffer, both ruled out above.
        if let Ok(n) = self.lib.encode(input, &mut self.packet) {
            out.extend_from_slice(&self.packet[..n]);
        }
    }

    fn sample_rate(&self) -> u32 {
        self.rate.hz()
    }
}

/// Opus decoder, mono, with libopus's own loss concealment.
pub struct OpusDecoder {
    rate: OpusRate,
    lib: LibDecoder,
    pcm: Vec<i16>,
    /// Duration of the last decoded packet in samples, used to conceal a packet that fails
    /// to decode.
    last_frame: usize,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

impl OpusDecoder {
    /// A decoder producing PCM at `rate`.
    pub fn new(rate: OpusRate) -> Result<OpusDecoder, OpusError> {
        Ok(OpusDecoder {
            rate,
            lib: LibDecoder::new(rate.lib(), Channels::Mono)?,
            pcm: vec![0; samples_in(rate, MAX_FRAME_MS * 10)],
            last_frame: samples_in(rate, 200),
        })
    }

    /// The PCM rate.
    pub fn rate(&self) -> OpusRate {
        self.rate
    }

    /// Recovers a lost frame of `samples` samples from the FEC data carried in the packet
    /// that followed it (`next`), then returns; `next` itself is decoded by the following
    /// [`Decoder::decode`]. Without FEC data in `next` libopus conceals instead.
    pub fn decode_fec(&mut self, next: &[u8], samples: usize, out: &mut Vec<i16>) {
        let n = samples.min(self.pcm.len());
        // FEC decoding needs a whole number of 2.5 ms units.
        let unit = samples_in(self.rate, 25);
        let whole = n - n % unit;
        if whole > 0 {
            let decoded = self
                .lib
                .decode(Some(next), &mut self.pcm[..whole], true)
                .unwrap_or(0);
            if decoded == whole {
                out.extend_from_slice(&self.pcm[..whole]);
                out.resize(out.len() + (samples - whole), 0);
                return;
            }
        }
        self.conceal(samples, out);
    }
}

impl Decoder for OpusDecoder {
    fn codec(&self) -> Codec {
        Codec::Opus { rate: self.rate }
    }

    /// Decodes one packet. A packet libopus rejects (peer input) is treated as lost and
    /// concealed for the duration of the last good one.
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) {
        if payload.is_empty() {
            self.conceal(self.last_frame, out);
            return;
        }
        match self.lib.decode(Some(payload), &mut self.pcm[..], false) {
            Ok(n) => {
                self.last_frame = n;
                out.extend_from_slice(&self.pcm[..n]);
            }
            Err(_) => self.conceal(self.last_frame, out),
        }
    }

    /// libopus packet-loss concealment: extrapolates from the decoder's state in steps of
    /// whole 2.5 ms units; a remainder shorter than that is filled with silence.
    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) {
        let unit = samples_in(self.rate, 25);
        let mut left = samples;
        while left >= unit {
            let n = (left - left % unit).min(self.pcm.len());
            match self.lib.decode(None::<&[u8]>, &mut self.pcm[..n], false) {
                Ok(got) if got > 0 => {
                    let got = got.min(n);
                    out.extend_from_slice(&self.pcm[..got]);
                    left -= got;
                }
                _ => break,
            }
        }
        out.resize(out.len() + left, 0);
    }

    fn sample_rate(&self) -> u32 {
        self.rate.hz()
    }
}
