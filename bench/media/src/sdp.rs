//! The little SDP the benchmark needs: read the audio stream's address, codecs and SDES
//! keys from a description (parsed by `sb_sdp`), and write a one-stream description.
//!
//! Both the relay (for the descriptions it rewrites) and the generator (for what either
//! relay hands back) use it, so both relays are read the same way.

use std::net::{IpAddr, SocketAddr};

use sb_sdp::{Attribute, CryptoSuite};

/// One payload type of the audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    pub pt: u8,
    pub name: String,
    pub clock_rate: u32,
    pub channels: u8,
}

impl Format {
    pub fn pcmu() -> Format {
        Format {
            pt: 0,
            name: "PCMU".into(),
            clock_rate: 8000,
            channels: 1,
        }
    }

    /// Opus always says two channels in SDP (RFC 7587 §7).
    pub fn opus(pt: u8) -> Format {
        Format {
            pt,
            name: "opus".into(),
            clock_rate: 48_000,
            channels: 2,
        }
    }

    /// Same codec (name case-insensitively, rate and channels), whatever the payload type.
    pub fn same_codec(&self, other: &Format) -> bool {
        self.name.eq_ignore_ascii_case(&other.name)
            && self.clock_rate == other.clock_rate
            && self.channels == other.channels
    }
}

/// One `a=crypto` line with its key decoded (RFC 4568 §9.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesKey {
    pub tag: u32,
    pub suite: String,
    /// Master key followed by master salt.
    pub key_salt: Vec<u8>,
}

/// What a description says about its (first) audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audio {
    pub addr: SocketAddr,
    /// `RTP/AVP` or `RTP/SAVP`.
    pub proto: String,
    /// In the author's order of preference.
    pub formats: Vec<Format>,
    pub keys: Vec<SdesKey>,
}

impl Audio {
    pub fn is_srtp(&self) -> bool {
        self.proto.contains("SAVP")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SdpError {
    #[error(transparent)]
    Parse(#[from] sb_sdp::ParseError),
    #[error("no audio stream")]
    NoAudio,
    #[error("no usable connection address")]
    NoAddress,
}

/// Reads the first audio stream of `sdp`.
pub fn read_audio(sdp: &[u8]) -> Result<Audio, SdpError> {
    let sd = sb_sdp::parse(sdp)?;
    let m = sd
        .media
        .iter()
        .find(|m| m.media == "audio")
        .ok_or(SdpError::NoAudio)?;
    let ip: IpAddr = sb_sdp::connection(&sd, m)
        .and_then(|c| c.address.address.parse().ok())
        .ok_or(SdpError::NoAddress)?;
    let formats = m
        .payload_types()
        .filter_map(|pt| {
            let r = sb_sdp::rtpmap(m, pt)?;
            Some(Format {
                pt: pt.get(),
                name: r.encoding,
                clock_rate: r.clock_rate,
                channels: r.channels.unwrap_or(1),
            })
        })
        .collect();
    let keys = m
        .attributes
        .iter()
        .filter_map(|a| match a {
            Attribute::Crypto(c) => {
                let key = c.keys.first()?;
                Some(SdesKey {
                    tag: c.tag,
                    suite: c.suite.as_str().to_owned(),
                    key_salt: sb_sdp::base64_decode(&key.key_salt)?,
                })
            }
            _ => None,
        })
        .collect();
    Ok(Audio {
        addr: SocketAddr::new(ip, m.port),
        proto: m.proto.as_str().to_owned(),
        formats,
        keys,
    })
}

/// A one-stream description: `formats` at `addr` over `proto`, with `key` as its one
/// `a=crypto` line when given. `session` goes into `o=` so each call's differs.
pub fn write_audio(
    session: u64,
    addr: SocketAddr,
    proto: &str,
    formats: &[Format],
    key: Option<&SdesKey>,
) -> String {
    let ip_type = if addr.is_ipv4() { "IP4" } else { "IP6" };
    let ip = addr.ip();
    let pts: Vec<String> = formats.iter().map(|f| f.pt.to_string()).collect();
    let mut s = format!(
        "v=0\r\no=- {session} 1 IN {ip_type} {ip}\r\ns=-\r\nc=IN {ip_type} {ip}\r\nt=0 0\r\n\
         m=audio {} {proto} {}\r\n",
        addr.port(),
        pts.join(" ")
    );
    for f in formats {
        if f.channels > 1 {
            s += &format!(
                "a=rtpmap:{} {}/{}/{}\r\n",
                f.pt, f.name, f.clock_rate, f.channels
            );
        } else {
            s += &format!("a=rtpmap:{} {}/{}\r\n", f.pt, f.name, f.clock_rate);
        }
    }
    if let Some(k) = key {
        s += &format!(
            "a=crypto:{} {} inline:{}\r\n",
            k.tag,
            k.suite,
            sb_sdp::base64_encode(&k.key_salt)
        );
    }
    s += "a=ptime:20\r\na=sendrecv\r\n";
    s
}

/// The SRTP suite of an SDES suite name, when sb-srtp implements it.
pub fn srtp_suite(name: &str) -> Option<sb_srtp::SrtpSuite> {
    match CryptoSuite::parse(name) {
        CryptoSuite::AesCm128HmacSha1_80 => Some(sb_srtp::SrtpSuite::AesCm128HmacSha1_80),
        CryptoSuite::AesCm128HmacSha1_32 => Some(sb_srtp::SrtpSuite::AesCm128HmacSha1_32),
        CryptoSuite::AeadAes128Gcm => Some(sb_srtp::SrtpSuite::AeadAes128Gcm),
        _ => None,
    }
}

/// Fresh key material from the kernel (getrandom(2)).
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    let mut filled = 0;
    while filled < n {
        // SAFETY: the pointer and length describe the unfilled tail of `buf`.
        let r = unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), n - filled, 0) };
        if r > 0 {
            filled += r as usize;
        }
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_audio_reads_back() {
        let key = SdesKey {
            tag: 1,
            suite: "AES_CM_128_HMAC_SHA1_80".into(),
            key_salt: (0..30).collect(),
        };
        let addr: SocketAddr = "127.0.0.1:30000".parse().unwrap();
        let text = write_audio(
            7,
            addr,
            "RTP/SAVP",
            &[Format::opus(96), Format::pcmu()],
            Some(&key),
        );
        let a = read_audio(text.as_bytes()).unwrap();
        assert_eq!(a.addr, addr);
        assert!(a.is_srtp());
        assert_eq!(a.formats, vec![Format::opus(96), Format::pcmu()]);
        assert_eq!(a.keys, vec![key]);
    }
}
