//! Transcoding between two legs with different codecs: the receive side (jitter buffer,
//! decoder, concealment) and the send side (resampling, framing, encoder).
//!
//! The receive side of leg A plays out one frame per A's packet time, on ticks the engine
//! drives from `handle_timeout`; each frame of PCM is handed to leg B's send side, which
//! re-frames it to B's packet time and encodes it. Codecs come from `sb-codecs` through
//! its `Encoder`/`Decoder` traits only, so a codec added there works here unchanged.

use sb_codecs::{Codec, Decoder, Encoder, Resampler};

use crate::jitter::{Frame, JitterBuffer, JitterConfig};
use crate::seq::SeqExtender;

/// Packet time bounds the engine accepts (RFC 3551 §4.5 lists 10–120 ms frame-based use).
pub const MIN_PTIME_MS: u32 = 10;
pub const MAX_PTIME_MS: u32 = 120;

/// Receive side: jitter buffer, then decoder with packet-loss concealment.
pub struct Playout {
    jitter: JitterBuffer,
    seq: SeqExtender,
    decoder: Box<dyn Decoder>,
    frame_samples: usize,
    frame_us: u64,
    next_tick_us: Option<u64>,
}

impl std::fmt::Debug for Playout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Playout")
            .field("codec", &self.decoder.codec())
            .field("queued", &self.jitter.len())
            .field("next_tick_us", &self.next_tick_us)
            .finish()
    }
}

impl Playout {
    pub fn new(codec: Codec, ptime_ms: u32) -> Self {
        let frame_us = u64::from(ptime_ms) * 1000;
        let config = JitterConfig::new(codec.clock_rate(), frame_us);
        Self {
            // The config is built from a known codec and a ptime the engine validated.
            jitter: JitterBuffer::new(config).expect("valid jitter config for a known codec"),
            seq: SeqExtender::new(),
            decoder: codec.decoder(),
            frame_samples: codec.frame_samples(ptime_ms),
            frame_us,
            next_tick_us: None,
        }
    }

    pub fn codec(&self) -> Codec {
        self.decoder.codec()
    }

    /// The PCM sample rate of what [`Playout::tick`] returns.
    pub fn sample_rate(&self) -> u32 {
        self.decoder.sample_rate()
    }

    /// A packet of this leg's codec arrived.
    pub fn push(&mut self, now_us: u64, seq: u16, timestamp: u32, marker: bool, payload: Vec<u8>) {
        let ext = self.seq.extend(seq);
        if marker {
            self.jitter.push_marked(now_us, ext, timestamp, payload);
        } else {
            self.jitter.push(now_us, ext, timestamp, payload);
        }
        // Playout ticks run while there is audio; the first packet after a pause starts them.
        if self.next_tick_us.is_none() {
            self.next_tick_us = Some(now_us);
        }
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        self.next_tick_us
    }

    /// Plays the frame due at the current tick, if the tick is due: `Some(pcm)` for audio
    /// or concealment, `None` when nothing is due or the stream is silent.
    pub fn tick(&mut self, now_us: u64) -> Option<Vec<i16>> {
        let due = self.next_tick_us.filter(|&t| t <= now_us)?;
        // Ticks keep their own grid; a late caller catches up one frame per call.
        self.next_tick_us = Some(due + self.frame_us);
        let mut pcm = Vec::with_capacity(self.frame_samples);
        match self.jitter.pop(due) {
            Frame::Audio(payload) => self.decoder.decode(&payload, &mut pcm),
            Frame::Missing => self.decoder.conceal(self.frame_samples, &mut pcm),
            Frame::Silence => {
                if self.jitter.is_empty() {
                    // Nothing queued: stop ticking until the next packet.
                    self.next_tick_us = None;
                }
                return None;
            }
        }
        Some(pcm)
    }

    pub fn stats(&self) -> crate::jitter::JitterStats {
        self.jitter.stats()
    }
}

/// Send side: PCM in at any rate, codec frames of the leg's packet time out.
pub struct Packetizer {
    encoder: Box<dyn Encoder>,
    frame_samples: usize,
    /// RTP timestamp units per frame (the clock rate can differ from the sample rate).
    pub frame_units: u32,
    pcm: Vec<i16>,
    /// Converts the partner's PCM rate to ours (sb-codecs' polyphase resampler); `None`
    /// while the rates match.
    resampler: Option<Resampler>,
}

impl std::fmt::Debug for Packetizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packetizer")
            .field("codec", &self.encoder.codec())
            .field("buffered", &self.pcm.len())
            .finish()
    }
}

impl Packetizer {
    pub fn new(codec: Codec, ptime_ms: u32) -> Self {
        let encoder = codec.encoder();
        Self {
            frame_samples: codec.frame_samples(ptime_ms),
            frame_units: (u64::from(codec.clock_rate()) * u64::from(ptime_ms) / 1000) as u32,
            resampler: None,
            encoder,
            pcm: Vec::new(),
        }
    }

    pub fn sample_rate(&self) -> u32 {
        self.encoder.sample_rate()
    }

    pub fn codec(&self) -> Codec {
        self.encoder.codec()
    }

    pub fn frame_samples(&self) -> usize {
        self.frame_samples
    }

    /// Adds PCM sampled at `rate` Hz.
    pub fn push(&mut self, pcm: &[i16], rate: u32) {
        let ours = self.encoder.sample_rate();
        if rate == ours {
            self.resampler = None;
            self.pcm.extend_from_slice(pcm);
        } else {
            if self.resampler.as_ref().map(|r| r.from_rate()) != Some(rate) {
                self.resampler = Resampler::new(rate, ours).ok();
            }
            match &mut self.resampler {
                Some(r) => r.process(pcm, &mut self.pcm),
                // A rate pair no resampler handles: nothing sensible to play.
                None => return,
            }
        }
        // Bound the backlog: a partner whose frames outpace ours (clock drift) must not
        // grow memory or delay without limit; four frames is plenty of slack.
        let max = self.frame_samples * 4;
        if self.pcm.len() > max {
            let excess = self.pcm.len() - max;
            self.pcm.drain(..excess);
        }
    }

    /// The next encoded frame, once a whole frame of PCM is buffered.
    pub fn pop(&mut self) -> Option<Vec<u8>> {
        if self.frame_samples == 0 || self.pcm.len() < self.frame_samples {
            return None;
        }
        let mut payload = Vec::new();
        self.encoder
            .encode(&self.pcm[..self.frame_samples], &mut payload);
        self.pcm.drain(..self.frame_samples);
        Some(payload)
    }

    /// Encodes one whole frame of PCM at the encoder's rate directly (tones, clips),
    /// dropping any partner audio still buffered.
    pub fn encode_frame(&mut self, pcm: &[i16]) -> Vec<u8> {
        self.pcm.clear();
        let mut payload = Vec::new();
        self.encoder.encode(pcm, &mut payload);
        payload
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sb_codecs::audio::{is_tone, sine};

    #[test]
    fn packetizer_resamples_wideband_audio_for_a_narrowband_codec() {
        let mut p = Packetizer::new(Codec::Pcmu, 20);
        let tone = sine(1000.0, 8000.0, 16_000, 16_000);
        let mut pcm = Vec::new();
        for chunk in tone.chunks(320) {
            p.push(chunk, 16_000);
            while let Some(frame) = p.pop() {
                assert_eq!(frame.len(), 160);
                sb_codecs::g711::MuLawDecoder::new().decode(&frame, &mut pcm);
            }
        }
        assert!(pcm.len() >= 7_600, "{}", pcm.len());
        assert!(is_tone(&pcm[800..7_200], 8000, 1000.0));
    }

    #[test]
    fn packetizer_reframes_to_its_packet_time() {
        let mut p = Packetizer::new(Codec::Pcmu, 30);
        p.push(&[0; 160], 8000);
        assert!(p.pop().is_none(), "20 ms is less than a 30 ms frame");
        p.push(&[0; 160], 8000);
        assert_eq!(p.pop().map(|f| f.len()), Some(240));
        assert!(p.pop().is_none());
        assert_eq!(p.frame_units, 240);
    }
}
