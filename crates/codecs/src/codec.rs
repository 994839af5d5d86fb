//! The codec registry: names and payload types as signalling sees them.

use std::fmt;
use std::str::FromStr;

use crate::g711::{ALawDecoder, ALawEncoder, MuLawDecoder, MuLawEncoder};
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
    /// Every codec, in the order an offer would list them by default.
    pub const ALL: [Codec; 2] = [Codec::Pcmu, Codec::Pcma];

    /// The encoding name used in SDP `a=rtpmap` (RFC 4566 §6, RFC 3551 §6).
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// The static RTP payload type (RFC 3551 §6, table 4), if the codec has one.
    pub fn static_payload_type(self) -> Option<u8> {
        match self {
            Codec::Pcmu => Some(0),
            Codec::Pcma => Some(8),
        }
    }

    /// The RTP timestamp clock rate in Hz. It can differ from [`Codec::sample_rate`]
    /// (RFC 3551 §4.5.2 keeps G.722 at 8000 for historical reasons).
    pub fn clock_rate(self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma => 8000,
        }
    }

    /// The PCM sample rate in Hz the encoder takes and the decoder produces.
    pub fn sample_rate(self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma => 8000,
        }
    }

    /// Number of audio channels.
    pub fn channels(self) -> u16 {
        1
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
    /// rate and channel count (1 when the rtpmap omits it).
    pub fn from_rtpmap(name: &str, clock_rate: u32, channels: u16) -> Result<Codec, UnknownCodec> {
        Codec::ALL
            .into_iter()
            .find(|c| {
                c.name().eq_ignore_ascii_case(name)
                    && c.clock_rate() == clock_rate
                    && c.channels() == channels
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

    /// A fresh encoder for this codec.
    pub fn encoder(self) -> Box<dyn Encoder> {
        match self {
            Codec::Pcmu => Box::new(MuLawEncoder),
            Codec::Pcma => Box::new(ALawEncoder),
        }
    }

    /// A fresh decoder (with its own concealment state) for this codec.
    pub fn decoder(self) -> Box<dyn Decoder> {
        match self {
            Codec::Pcmu => Box::new(MuLawDecoder::new()),
            Codec::Pcma => Box::new(ALawDecoder::new()),
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.name(), self.clock_rate())
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
        for codec in Codec::ALL {
            let pt = codec.static_payload_type().unwrap();
            assert_eq!(Codec::from_static_payload_type(pt), Ok(codec));
            assert_eq!(Codec::from_rtpmap(codec.name(), 8000, 1), Ok(codec));
            assert_eq!(codec.encoder().codec(), codec);
            assert_eq!(codec.decoder().codec(), codec);
        }
        assert_eq!(Codec::from_static_payload_type(0), Ok(Codec::Pcmu));
        assert_eq!(Codec::from_static_payload_type(8), Ok(Codec::Pcma));
        assert_eq!(
            Codec::from_static_payload_type(18),
            Err(UnknownCodec::PayloadType(18))
        );
        assert_eq!("pcmu".parse(), Ok(Codec::Pcmu));
        assert_eq!("PCMA/8000".parse(), Ok(Codec::Pcma));
        assert_eq!("PCMU/8000/1".parse(), Ok(Codec::Pcmu));
        assert!("PCMU/16000".parse::<Codec>().is_err());
        assert!("PCMU/8000/2".parse::<Codec>().is_err());
        assert!("opus/48000/2".parse::<Codec>().is_err());
        assert!("PCMU/x".parse::<Codec>().is_err());
        assert!("".parse::<Codec>().is_err());
        assert_eq!(Codec::Pcmu.frame_samples(20), 160);
        assert_eq!(Codec::Pcma.to_string(), "PCMA/8000");
    }
}
