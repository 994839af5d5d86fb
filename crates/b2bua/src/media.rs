//! SDP anchoring: our offers and answers on each side, and the media engine's view of
//! what they agreed (RFC 3264 §6.1 facts turned into [`LegSpec`]s).
//!
//! Every leg has its own offer/answer with the B2BUA, on its own local port: the peers
//! never see each other's SDP (topology hiding reaches the media addresses too), and
//! the engine relays or transcodes between the two legs.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use sb_gateways::Gateway;
use sb_media_api as api;
use sb_sdp::{
    Candidate, CandidateType, Capabilities, CryptoSuite, Direction, KeyParam, LocalIce, LocalMedia,
    OfferOptions, Proto, SessionDescription, Stream,
};

use crate::config::{gateway_codec, B2buaConfig, MediaConfig, Side};

/// RTP ports of one B2BUA: even ports of the configured range, RTCP on the odd one after.
#[derive(Debug, Clone)]
pub(crate) struct PortPool {
    free: BTreeSet<u16>,
}

impl PortPool {
    pub fn new(cfg: &MediaConfig) -> PortPool {
        let start = cfg.port_min.saturating_add(cfg.port_min % 2);
        let free = (start..cfg.port_max)
            .step_by(2)
            .filter(|p| *p > 0)
            .collect();
        PortPool { free }
    }

    pub fn take(&mut self) -> Option<u16> {
        let p = *self.free.iter().next()?;
        self.free.remove(&p);
        Some(p)
    }

    pub fn put(&mut self, port: u16) {
        self.free.insert(port);
    }

    pub fn available(&self) -> usize {
        self.free.len()
    }
}

/// What we can do on a leg facing `side` (toward `gw` on the gateway side).
pub(crate) fn capabilities(cfg: &B2buaConfig, side: Side, gw: Option<&Gateway>) -> Capabilities {
    match (side, gw) {
        (Side::Gateway, Some(gw)) => {
            let codecs: Vec<_> = gw
                .config
                .codecs
                .iter()
                .filter_map(|c| gateway_codec(c))
                .collect();
            Capabilities {
                telephone_event_rates: if gw.config.rfc4733 {
                    rates(&codecs)
                } else {
                    Vec::new()
                },
                codecs,
                crypto_suites: vec![CryptoSuite::AesCm128HmacSha1_80],
                max_mki_len: 0,
                allow_plain_rtp: !gw.config.srtp,
                direction: Direction::SendRecv,
            }
        }
        _ => Capabilities {
            // 8000 Hz too whatever the codecs: clients pair it with Opus (RFC 7874 §3).
            telephone_event_rates: with_fallback_rate(rates(&cfg.client.codecs)),
            codecs: cfg.client.codecs.clone(),
            crypto_suites: cfg.client.crypto_suites.clone(),
            max_mki_len: 4,
            allow_plain_rtp: true,
            direction: Direction::SendRecv,
        },
    }
}

fn rates(codecs: &[sb_sdp::Codec]) -> Vec<u32> {
    let mut r: Vec<u32> = codecs.iter().map(|c| c.clock_rate).collect();
    r.dedup();
    r
}

fn with_fallback_rate(mut rates: Vec<u32>) -> Vec<u32> {
    if !rates.contains(&sb_sdp::TELEPHONE_EVENT_FALLBACK_RATE) {
        rates.push(sb_sdp::TELEPHONE_EVENT_FALLBACK_RATE);
    }
    rates
}

/// How our offer is carried on a side.
pub(crate) fn offer_options(cfg: &B2buaConfig, side: Side, gw: Option<&Gateway>) -> OfferOptions {
    let secure = match (side, gw) {
        (Side::Gateway, Some(gw)) => gw.config.srtp,
        _ => cfg.client.offer_srtp,
    };
    OfferOptions {
        proto: if secure {
            Proto::RtpSavp
        } else {
            Proto::RtpAvp
        },
        rtcp_mux: false,
        ptime: Some(20),
    }
}

/// Our ICE credentials on a leg (RFC 8445 §5.3: ufrag at least 4 characters, password
/// at least 22, from the ice-char set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IceCreds {
    pub ufrag: String,
    pub pwd: String,
}

impl IceCreds {
    pub fn from_bytes(b: &[u8; 24]) -> IceCreds {
        const ICE_CHARS: &[u8] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let s: String = b
            .iter()
            .map(|x| ICE_CHARS[usize::from(x % 64)] as char)
            .collect();
        IceCreds {
            ufrag: s[..8].to_string(),
            pwd: s[..].to_string(),
        }
    }

    pub fn local_ice(&self, ip: IpAddr, port: u16) -> LocalIce {
        let cand = |component: u16, port: u16| Candidate {
            foundation: "1".into(),
            component,
            transport: "UDP".into(),
            // RFC 8445 §5.1.2.1 with type preference 126 (host), local preference 65535.
            priority: (126 << 24) | (65535 << 8) | (256 - u32::from(component)),
            address: ip.to_string(),
            port,
            kind: CandidateType::Host,
            related_address: None,
            related_port: None,
            extensions: Vec::new(),
        };
        LocalIce {
            ufrag: self.ufrag.clone(),
            pwd: self.pwd.clone(),
            lite: false,
            candidates: vec![cand(1, port), cand(2, port.wrapping_add(1))],
        }
    }
}

/// Our transport on a leg, for `offer()` and `answer()`.
pub(crate) fn local_media(
    ip: IpAddr,
    port: u16,
    session_id: u64,
    key_material: Vec<u8>,
    ice: Option<LocalIce>,
) -> LocalMedia {
    LocalMedia {
        address: ip.to_string(),
        port,
        rtcp_port: None,
        session_id: session_id.to_string(),
        session_version: 1,
        srtp_key_material: key_material,
        ice,
    }
}

/// Why an agreed exchange cannot drive the engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    #[error("the SDP has no accepted audio stream")]
    NoStream,
    #[error("connection address {0:?} is not an IP address")]
    NotAnAddress(String),
    #[error("SDES key {0} is malformed")]
    BadKey(&'static str),
    #[error("crypto suite {0} is not supported by the engine")]
    Suite(String),
    #[error(transparent)]
    Negotiation(#[from] sb_sdp::NegotiationError),
}

/// The engine's view of one leg from an offer and its answer.
pub(crate) fn leg_spec(
    offer: &SessionDescription,
    answer: &SessionDescription,
    we_offered: bool,
    ice: Option<&IceCreds>,
    side: Side,
    gw: Option<&Gateway>,
    media: &MediaConfig,
) -> Result<api::LegSpec, MediaError> {
    let role = if we_offered {
        sb_sdp::Role::Offerer
    } else {
        sb_sdp::Role::Answerer
    };
    let session = sb_sdp::negotiated(offer, answer, role)?;
    let s = session.streams.first().ok_or(MediaError::NoStream)?;
    stream_spec(s, we_offered, ice, side, gw, media)
}

fn addr(host: &str, port: u16) -> Result<SocketAddr, MediaError> {
    let ip: IpAddr = host
        .parse()
        .map_err(|_| MediaError::NotAnAddress(host.to_string()))?;
    Ok(SocketAddr::new(ip, port))
}

fn stream_spec(
    s: &Stream,
    we_offered: bool,
    ice: Option<&IceCreds>,
    side: Side,
    gw: Option<&Gateway>,
    media: &MediaConfig,
) -> Result<api::LegSpec, MediaError> {
    let codec = api::CodecSpec {
        name: s.codec.name.clone(),
        clock_rate: s.codec.clock_rate,
        channels: s.codec.channels,
        send_pt: api::PayloadType(s.send_pt.get()),
        recv_pt: api::PayloadType(s.recv_pt.get()),
        fmtp: None,
    };
    let rfc4733_gateway = !matches!(gw, Some(g) if !g.config.rfc4733);
    Ok(api::LegSpec {
        remote_rtp: addr(&s.remote_address, s.remote_port)?,
        rtcp: if s.rtcp_mux {
            api::RtcpSpec::Mux
        } else {
            api::RtcpSpec::Separate(addr(&s.remote_rtcp_address, s.remote_rtcp_port)?)
        },
        // The events' own rate, which is not the codec's for an Opus client that pairs
        // opus/48000 with telephone-event/8000 (RFC 4733 §2.1): durations count at it.
        telephone_event: s.telephone_event.map(|t| api::TelephoneEventSpec {
            send_pt: api::PayloadType(t.send_pt.get()),
            recv_pt: api::PayloadType(t.recv_pt.get()),
            clock_rate: t.clock_rate,
        }),
        codec,
        ptime_ms: s.remote_ptime.unwrap_or(20),
        direction: match s.direction {
            Direction::SendRecv => api::Direction::SendRecv,
            Direction::SendOnly => api::Direction::SendOnly,
            Direction::RecvOnly => api::Direction::RecvOnly,
            Direction::Inactive => api::Direction::Inactive,
        },
        srtp: s.srtp.as_ref().map(srtp_spec).transpose()?,
        ice: match (&s.remote_ice, ice) {
            (Some(r), Some(l)) => Some(api::IceSpec {
                local_ufrag: l.ufrag.clone(),
                local_pwd: l.pwd.clone(),
                remote_ufrag: r.ufrag.clone(),
                remote_pwd: r.pwd.clone(),
                remote_candidates: r.candidates.iter().filter_map(candidate).collect(),
                // RFC 8445 §6.1.1: the offerer controls, unless the peer is lite.
                controlling: we_offered || r.lite,
                remote_lite: r.lite,
            }),
            _ => None,
        },
        // A gateway's SDP is right and trusted; a client may sit behind NAT.
        symmetric_latching: side == Side::Client,
        inband_dtmf: side == Side::Gateway && !rfc4733_gateway,
        media_timeout_ms: media.media_timeout_ms,
    })
}

fn candidate(c: &Candidate) -> Option<api::IceCandidate> {
    Some(api::IceCandidate {
        foundation: c.foundation.clone(),
        component: u8::try_from(c.component).ok()?,
        transport: c.transport.to_ascii_lowercase(),
        priority: c.priority,
        address: c.address.clone(),
        port: c.port,
        kind: match c.kind {
            CandidateType::Host => api::CandidateKind::Host,
            CandidateType::ServerReflexive => api::CandidateKind::ServerReflexive,
            CandidateType::PeerReflexive => api::CandidateKind::PeerReflexive,
            CandidateType::Relayed => api::CandidateKind::Relayed,
            CandidateType::Other(_) => return None,
        },
    })
}

fn srtp_spec(k: &sb_sdp::SrtpKeys) -> Result<api::SrtpSpec, MediaError> {
    let suite = match k.suite {
        CryptoSuite::AesCm128HmacSha1_80 => api::SrtpSuite::AesCm128HmacSha1_80,
        CryptoSuite::AesCm128HmacSha1_32 => api::SrtpSuite::AesCm128HmacSha1_32,
        CryptoSuite::AeadAes128Gcm => api::SrtpSuite::AeadAes128Gcm,
        ref other => return Err(MediaError::Suite(other.to_string())),
    };
    let (klen, slen) = k.suite.key_salt_len().ok_or(MediaError::BadKey("suite"))?;
    let key = |p: &KeyParam, which: &'static str| -> Result<api::SrtpKey, MediaError> {
        let raw = p.decode().ok_or(MediaError::BadKey(which))?;
        if raw.len() != klen + slen {
            return Err(MediaError::BadKey(which));
        }
        let mki = match p.mki {
            Some(m) if m.length <= 8 => {
                let bytes = m.value.to_be_bytes();
                Some((bytes[8 - usize::from(m.length)..].to_vec(), m.length))
            }
            Some(_) => return Err(MediaError::BadKey(which)),
            None => None,
        };
        Ok(api::SrtpKey {
            master_key: raw[..klen].to_vec(),
            master_salt: raw[klen..].to_vec(),
            mki,
            lifetime: p.lifetime.map(|l| l.packets()),
        })
    };
    Ok(api::SrtpSpec {
        suite,
        send: key(&k.local, "local")?,
        recv: key(&k.remote, "remote")?,
    })
}

/// The SDP of a message, when it has an `application/sdp` body; `Some(Err)` when the
/// body is there but does not parse (answered with 400/488 by the caller).
pub(crate) fn body_sdp(
    headers: &sb_sip_msg::Headers,
    body: &[u8],
) -> Option<Result<SessionDescription, sb_sdp::ParseError>> {
    sb_sip_core::dialog::has_sdp(headers, body).then(|| sb_sdp::parse(body))
}

/// Whether a description holds its peer (sendonly, inactive, or c=0.0.0.0), and the
/// direction it declares for its first audio stream.
pub(crate) fn declared(sd: &SessionDescription) -> Direction {
    match sd.media.first() {
        Some(m) if sb_sdp::connection(sd, m).is_some_and(|c| c.is_hold_address()) => {
            let d = sb_sdp::declared_direction(sd, m);
            Direction::from_flags(d.sends(), false)
        }
        Some(m) => sb_sdp::declared_direction(sd, m),
        None => Direction::Inactive,
    }
}
