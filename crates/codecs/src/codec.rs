//! The codec registry: names and payload types as signalling sees them.

use std::fmt;
use std::str::FromStr;

use crate::g711::{ALawDecoder, ALawEncoder, MuLawDecoder, MuLawEncoder};
use crate::g722::{G722Decoder, G722Encoder};
use crate::opus::{OpusDecoder, OpusEncoder, OpusRate, OpusSettings};
use crate::{Decoder, Encoder};

/// A codec this crate can encode and decode.
///
/// Signalling maps SDP `a=rtpmap` names and RTP static payload types onto this enum, then
/// asks it for an [`Encoder`] and a [`Decoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// ITU-T G.711 µ-law, RTP payload type 0 (RFC 3551 §4.5.14).
    Pcmu,
    /// ITU-T G.711 A-law, RTP payload type 8 (RFC 3551 §4.5.14).
    Pcma,
    /// ITU-T G.722 at 64 kbit/s, RTP payload type 9: 16 kHz audio on an 8000 Hz RTP clock
    /// (RFC 3551 §4.5.2).
    G722,
    /// Opus (RFC 6716, RTP RFC 7587), mono, with its PCM side at `rate`; the RTP clock is
    /// 48 kHz and SDP says `opus/48000/2` whatever the rate. The rate is a local choice
    /// (see [`transcode_plan`](crate::transcode_plan)), not something the two ends negotiate, so Opus at
    /// different rates is still the same codec on the wire ([`Codec::same_wire_format`]).
    Opus {
        /// The PCM rate the encoder takes and the decoder produces.
        rate: OpusRate,
    },
}

/// A codec name or payload type that this crate does not implement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnknownCodec {
    /// No codec has this encoding name (at this clock rate and channel count).
    #[error("unknown codec {name}/{clock_rate}/{channels}")]
    Name {
        /// The encoding name as received.
        name: String,
        /// The RTP clock rate as received.
        clock_rate: u32,
        /// The channel count as received.
        channels: u16,
    },
    /// The payload type is not a static type of a codec we implement.
    #[error("no static codec for payload type {0}")]
    PayloadType(u8),
}

impl Codec {
    /// Every codec, in the order an offer would list them by default. Opus appears once,
    /// at its full-band rate.
    pub const ALL: [Codec; 4] = [
        Codec::Pcmu,
        Codec::Pcma,
        Codec::G722,
        Codec::Opus {
            rate: OpusRate::Hz48000,
        },
    ];

    /// The two G.711 laws: the gateway side's codecs.
    pub const G711: [Codec; 2] = [Codec::Pcmu, Codec::Pcma];

    /// Opus with its PCM side at `rate`.
    pub fn opus(rate: OpusRate) -> Codec {
        Codec::Opus { rate }
    }

    /// The encoding name used in SDP `a=rtpmap` (RFC 4566 §6, RFC 3551 §6).
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::G722 => "G722",
            Codec::Opus { .. } => "opus",
        }
    }

    /// The static RTP payload type (RFC 3551 §6, table 4), if the codec has one.
    pub fn static_payload_type(self) -> Option<u8> {
        match self {
            Codec::Pcmu => Some(0),
            Codec::Pcma => Some(8),
            Codec::G722 => Some(9),
            Codec::Opus { .. } => None,
        }
    }

    /// The RTP timestamp clock rate in Hz. It can differ from [`Codec::sample_rate`]
    /// (RFC 3551 §4.5.2 keeps G.722 at 8000 for historical reasons).
    pub fn clock_rate(self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma | Codec::G722 => 8000,
            Codec::Opus { .. } => 48_000,
        }
    }

    /// The PCM sample rate in Hz the encoder takes and the decoder produces.
    pub fn sample_rate(self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma => 8000,
            Codec::G722 => 16_000,
            Codec::Opus { rate } => rate.hz(),
        }
    }

    /// Number of PCM channels the encoder takes and the decoder produces (always 1 here).
    pub fn channels(self) -> u16 {
        1
    }

    /// The channel count SDP's rtpmap states: 2 for Opus, which RFC 7587 §7 requires even
    /// for mono streams, 1 otherwise.
    pub fn rtpmap_channels(self) -> u16 {
        match self {
            Codec::Opus { .. } => 2,
            _ => 1,
        }
    }

    /// The rtpmap value for SDP: `PCMU/8000`, `G722/8000`, `opus/48000/2`.
    pub fn rtpmap(self) -> String {
        match self.rtpmap_channels() {
            1 => format!("{}/{}", self.name(), self.clock_rate()),
            n => format!("{}/{}/{n}", self.name(), self.clock_rate()),
        }
    }

    /// RTP timestamp ticks one frame of `ptime_ms` milliseconds advances:
    /// 160 for G.711 and G.722 at 20 ms (G.722's 8000 Hz clock), 960 for Opus at 20 ms at
    /// any PCM rate.
    pub fn rtp_ticks(self, ptime_ms: u32) -> u32 {
        self.clock_rate() / 1000 * ptime_ms
    }

    /// Octets in one frame of `ptime_ms` for constant-rate codecs: 160 for G.711 and G.722
    /// at 20 ms; `None` for Opus, whose packets vary in size.
    pub fn frame_octets(self, ptime_ms: u32) -> Option<usize> {
        match self {
            Codec::Pcmu | Codec::Pcma | Codec::G722 => Some(8 * ptime_ms as usize),
            Codec::Opus { .. } => None,
        }
    }

    /// Whether `self` and `other` put the same thing on the wire, so payloads can be relayed
    /// without transcoding. Opus at different PCM rates still interoperates.
    pub fn same_wire_format(self, other: Codec) -> bool {
        match (self, other) {
            (Codec::Opus { .. }, Codec::Opus { .. }) => true,
            (a, b) => a == b,
        }
    }

    /// The default packetisation time in milliseconds (RFC 3551 §4.5: 20 ms for G.711).
    pub fn default_ptime_ms(self) -> u32 {
        20
    }

    /// PCM samples (all channels) in one frame of `ptime_ms` milliseconds.
    pub fn frame_samples(self, ptime_ms: u32) -> usize {
        (self.sample_rate() as usize * ptime_ms as usize / 1000) * self.channels() as usize
    }

    /// Finds a codec by its SDP encoding name (case-insensitive, RFC 4855 §3), RTP clock
    /// rate and channel count (1 when the rtpmap omits it; Opus must say 2). Opus comes back
    /// at its full-band rate; pick another with [`Codec::opus`] or [`transcode_plan`](crate::transcode_plan).
    pub fn from_rtpmap(name: &str, clock_rate: u32, channels: u16) -> Result<Codec, UnknownCodec> {
        Codec::ALL
            .into_iter()
            .find(|c| {
                c.name().eq_ignore_ascii_case(name)
                    && c.clock_rate() == clock_rate
                    && c.rtpmap_channels() == channels
            })
            .ok_or_else(|| UnknownCodec::Name {
                name: name.to_owned(),
                clock_rate,
                channels,
            })
    }

    /// Finds the codec of a static payload type (RFC 3551 §6). Dynamic types (96–127) are
    /// bound by SDP and must go through [`Codec::from_rtpmap`].
    pub fn from_static_payload_type(pt: u8) -> Result<Codec, UnknownCodec> {
        Codec::ALL
            .into_iter()
            .find(|c| c.static_payload_type() == Some(pt))
            .ok_or(UnknownCodec::PayloadType(pt))
    }

    /// A fresh encoder for this codec (Opus with [`OpusSettings::default`]).
    pub fn encoder(self) -> Box<dyn Encoder> {
        match self {
            Codec::Pcmu => Box::new(MuLawEncoder),
            Codec::Pcma => Box::new(ALawEncoder),
            Codec::G722 => Box::new(G722Encoder::new()),
            Codec::Opus { rate } => Box::new(
                // libopus fails to create a state only for arguments outside its documented
                // ranges (rates, channels, application, settings); ours are all inside.
                OpusEncoder::new(rate, OpusSettings::default())
                    .expect("libopus accepts mono VoIP at 8, 16 or 48 kHz with default settings"),
            ),
        }
    }

    /// A fresh decoder (with its own concealment state) for this codec.
    pub fn decoder(self) -> Box<dyn Decoder> {
        match self {
            Codec::Pcmu => Box::new(MuLawDecoder::new()),
            Codec::Pcma => Box::new(ALawDecoder::new()),
            Codec::G722 => Box::new(G722Decoder::new()),
            Codec::Opus { rate } => Box::new(
                OpusDecoder::new(rate).expect("libopus accepts a mono decoder at 8, 16 or 48 kHz"),
            ),
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rtpmap())
    }
}

/// Parses a bare encoding name (`"pcmu"`) or an rtpmap value (`"PCMA/8000"`,
/// `"PCMU/8000/1"`).
impl FromStr for Codec {
    type Err = UnknownCodec;

    fn from_str(s: &str) -> Result<Codec, UnknownCodec> {
        let mut parts = s.trim().split('/');
        let name = parts.next().unwrap_or_default();
        let unknown = || UnknownCodec::Name {
            name: s.to_owned(),
            clock_rate: 0,
            channels: 0,
        };
        let rate = match parts.next() {
            Some(r) => r.parse().map_err(|_| unknown())?,
            None => {
                // A bare name means the codec's usual rate.
                return Codec::ALL
                    .into_iter()
                    .find(|c| c.name().eq_ignore_ascii_case(name))
                    .ok_or_else(unknown);
            }
        };
        let channels = match parts.next() {
            Some(c) => c.parse().map_err(|_| unknown())?,
            None => 1,
        };
        if parts.next().is_some() {
            return Err(unknown());
        }
        Codec::from_rtpmap(name, rate, channels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_payload_types_map_both_ways() {
        for codec in [Codec::Pcmu, Codec::Pcma, Codec::G722] {
            let pt = codec.static_payload_type().unwrap();
            assert_eq!(Codec::from_static_payload_type(pt), Ok(codec));
            assert_eq!(Codec::from_rtpmap(codec.name(), 8000, 1), Ok(codec));
        }
        for codec in Codec::ALL {
            assert_eq!(codec.encoder().codec(), codec);
            assert_eq!(codec.decoder().codec(), codec);
            assert_eq!(codec.rtpmap().parse(), Ok(codec));
        }
        assert_eq!(Codec::from_static_payload_type(0), Ok(Codec::Pcmu));
        assert_eq!(Codec::from_static_payload_type(8), Ok(Codec::Pcma));
        assert_eq!(Codec::from_static_payload_type(9), Ok(Codec::G722));
        assert_eq!(
            Codec::from_static_payload_type(18),
            Err(UnknownCodec::PayloadType(18))
        );
        assert_eq!("pcmu".parse(), Ok(Codec::Pcmu));
        assert_eq!("PCMA/8000".parse(), Ok(Codec::Pcma));
        assert_eq!("PCMU/8000/1".parse(), Ok(Codec::Pcmu));
        assert!("PCMU/16000".parse::<Codec>().is_err());
        assert!("PCMU/8000/2".parse::<Codec>().is_err());
        assert!("PCMU/x".parse::<Codec>().is_err());
        assert!("".parse::<Codec>().is_err());
        assert_eq!(Codec::Pcmu.frame_samples(20), 160);
        assert_eq!(Codec::Pcma.to_string(), "PCMA/8000");
    }

    #[test]
    fn g722_keeps_the_8000_hz_rtp_clock() {
        assert_eq!("G722/8000".parse(), Ok(Codec::G722));
        assert!("G722/16000".parse::<Codec>().is_err());
        assert_eq!(Codec::G722.to_string(), "G722/8000");
        assert_eq!(Codec::G722.sample_rate(), 16_000);
        assert_eq!(Codec::G722.frame_samples(20), 320);
        assert_eq!(Codec::G722.frame_octets(20), Some(160));
        assert_eq!(Codec::G722.rtp_ticks(20), 160);
    }

    #[test]
    fn opus_says_two_channels_and_48k_whatever_its_pcm_rate() {
        let full = Codec::opus(OpusRate::Hz48000);
        assert_eq!("opus/48000/2".parse(), Ok(full));
        assert_eq!("OPUS".parse(), Ok(full));
        assert!("opus/48000".parse::<Codec>().is_err());
        assert!("opus/8000/2".parse::<Codec>().is_err());
        assert_eq!(
            Codec::from_static_payload_type(96),
            Err(UnknownCodec::PayloadType(96))
        );
        for (rate, samples) in [
            (OpusRate::Hz8000, 160),
            (OpusRate::Hz16000, 320),
            (OpusRate::Hz48000, 960),
        ] {
            let c = Codec::opus(rate);
            assert_eq!(c.to_string(), "opus/48000/2");
            assert_eq!(c.frame_samples(20), samples);
            assert_eq!(c.rtp_ticks(20), 960);
            assert_eq!(rate.rtp_ticks(samples), 960);
            assert_eq!(c.channels(), 1);
            assert!(c.same_wire_format(full));
            assert_eq!(c.encoder().sample_rate(), rate.hz());
            assert_eq!(c.decoder().clock_rate(), 48_000);
        }
        assert_eq!(full.frame_octets(20), None);
    }
}
