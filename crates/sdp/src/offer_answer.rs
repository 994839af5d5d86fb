//! Offer/answer (RFC 3264): answering an offer from our capabilities, and the facts of a
//! finished exchange.
//!
//! Mediation handles one audio stream per call: the first audio section we can serve is
//! accepted, every other section is rejected with port 0 (RFC 3264 §6), and the answer has
//! as many sections as the offer, in the same order.

use crate::attr::{Attribute, Candidate, Rtpmap};
use crate::crypto::{base64_encode, Crypto, CryptoSuite, KeyParam};
use crate::model::*;

/// A codec we can receive and send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codec {
    /// `PCMU`, `PCMA`, `G722`, `opus`; matched case-insensitively.
    pub name: String,
    /// The RTP clock rate (8000 for G.722 per RFC 3551 §4.5.2; 48000 for Opus).
    pub clock_rate: u32,
    pub channels: u8,
    /// The payload type our side of the media engine uses for it.
    pub pt: Pt,
}

/// What we can do, in our order of preference (used when the offerer has no order to keep).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    pub codecs: Vec<Codec>,
    /// Clock rates at which we take RFC 4733 telephone-event.
    pub telephone_event_rates: Vec<u32>,
    /// SDES suites we accept, in our order of preference (the offerer's order wins).
    pub crypto_suites: Vec<CryptoSuite>,
    /// Longest MKI we can put on and take off packets, in bytes; 0 refuses any MKI.
    pub max_mki_len: u8,
    /// Whether plain RTP/AVP is acceptable (false on the client side, where SRTP is
    /// mandatory).
    pub allow_plain_rtp: bool,
    /// Our direction when we want media both ways; set to sendonly to hold the peer.
    pub direction: Direction,
}

/// Our transport for the answer: where we receive, and key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// For `o=` and `c=`.
    pub address: String,
    pub port: u16,
    /// Our RTCP port when it is not `port + 1` (RFC 3605); ignored with rtcp-mux.
    pub rtcp_port: Option<u16>,
    pub session_id: String,
    pub session_version: u64,
    /// Random bytes for our SRTP master key and salt; at least 44 (the longest suite).
    /// The caller draws them: this crate never reads a random source.
    pub srtp_key_material: Vec<u8>,
    /// Our ICE credentials and candidates, when we do ICE.
    pub ice: Option<LocalIce>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalIce {
    pub ufrag: String,
    pub pwd: String,
    pub lite: bool,
    pub candidates: Vec<Candidate>,
}

/// Payload type mapping between the two ends: media translates `theirs` ↔ `ours`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtMap {
    pub codec: Codec,
    /// The payload type in the offer, which the answer keeps (RFC 3264 §6.1).
    pub theirs: Pt,
    /// Our capability's payload type for the same codec.
    pub ours: Pt,
}

/// Why a section was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    #[error("the offer disabled it (port 0)")]
    Disabled,
    #[error("media {0} is not handled")]
    Media(String),
    #[error("transport {0} is not supported")]
    Proto(String),
    #[error("no common codec")]
    NoCodec,
    #[error("plain RTP is not allowed")]
    PlainRtp,
    #[error("no acceptable crypto: {0}")]
    NoCrypto(String),
    #[error("another audio stream was accepted already")]
    Duplicate,
}

impl Rejection {
    /// The SIP Warning code that says it (RFC 3261 §20.43): 304 media type, 302 transport,
    /// 305 format, 306 attribute (crypto), 303 disabled (no address to offer).
    pub fn warning_code(&self) -> u16 {
        match self {
            Rejection::Disabled => 303,
            Rejection::Media(_) | Rejection::Duplicate => 304,
            Rejection::Proto(_) | Rejection::PlainRtp => 302,
            Rejection::NoCodec => 305,
            Rejection::NoCrypto(_) => 306,
        }
    }
}

/// Nothing in the offer can be accepted: answer 488 (RFC 3261 §21.4.26) with the reasons.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no acceptable media: {}", reasons.iter().map(|(i, r)| format!("m-line {i}: {r}")).collect::<Vec<_>>().join("; "))]
pub struct NotAcceptable {
    /// Per section (0-based index), why it was rejected.
    pub reasons: Vec<(usize, Rejection)>,
}

impl NotAcceptable {
    /// The Warning code for a 488: the reason of the first section that was more than
    /// disabled (the audio one, in practice), else 304.
    pub fn warning_code(&self) -> u16 {
        self.reasons
            .iter()
            .map(|(_, r)| r)
            .find(|r| !matches!(r, Rejection::Disabled | Rejection::Media(_)))
            .or(self.reasons.first().map(|(_, r)| r))
            .map_or(304, Rejection::warning_code)
    }
}

/// The answer and what media needs to know of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub sdp: SessionDescription,
    /// Index of the accepted audio section.
    pub index: usize,
    /// Codecs in the offerer's order, with payload type mappings.
    pub codecs: Vec<PtMap>,
    /// telephone-event, one per clock rate of an answered codec (RFC 4733 §7.1.1), and
    /// the 8000 Hz one when the chosen codec's rate has none
    /// ([`crate::TELEPHONE_EVENT_FALLBACK_RATE`]).
    pub telephone_events: Vec<PtMap>,
    /// The offered crypto line we accepted and our own line in the answer.
    pub crypto: Option<(Crypto, Crypto)>,
    pub direction: Direction,
    pub rtcp_mux: bool,
    /// Sections rejected, with reasons.
    pub rejected: Vec<(usize, Rejection)>,
}

/// Finds a typed attribute in a section, falling back to the session level.
fn section_attrs<'a>(
    sd: &'a SessionDescription,
    m: &'a MediaDescription,
) -> impl Iterator<Item = &'a Attribute> {
    m.attributes.iter().chain(sd.attributes.iter())
}

/// The direction a section declares: media level, then session level, then sendrecv
/// (RFC 8866 §6.7).
pub fn declared_direction(sd: &SessionDescription, m: &MediaDescription) -> Direction {
    section_attrs(sd, m)
        .find_map(|a| match a {
            Attribute::Direction(d) => Some(*d),
            _ => None,
        })
        .unwrap_or_default()
}

/// The connection address in force for a section.
pub fn connection<'a>(
    sd: &'a SessionDescription,
    m: &'a MediaDescription,
) -> Option<&'a Connection> {
    m.connection.as_ref().or(sd.connection.as_ref())
}

/// Whether a section puts its peer on hold: a=sendonly, a=inactive or the RFC 2543
/// c=0.0.0.0 (RFC 6337 §5.3 lists all three as seen in the field).
pub fn is_hold(sd: &SessionDescription, m: &MediaDescription) -> bool {
    !declared_direction(sd, m).receives() || connection(sd, m).is_some_and(|c| c.is_hold_address())
}

/// The direction the section's author effectively asks for: c=0.0.0.0 means it cannot
/// receive, whatever the attribute says.
fn effective_direction(sd: &SessionDescription, m: &MediaDescription) -> Direction {
    let d = declared_direction(sd, m);
    if connection(sd, m).is_some_and(|c| c.is_hold_address()) {
        Direction::from_flags(d.sends(), false)
    } else {
        d
    }
}

/// The rtpmap for a payload type: the section's `a=rtpmap`, or RFC 3551 §6's static table.
pub fn rtpmap(m: &MediaDescription, pt: Pt) -> Option<Rtpmap> {
    let found = m.attributes.iter().find_map(|a| match a {
        Attribute::Rtpmap(r) if r.pt == pt => Some(r.clone()),
        _ => None,
    });
    found.or_else(|| {
        let (name, rate) = match pt.get() {
            0 => ("PCMU", 8000),
            3 => ("GSM", 8000),
            4 => ("G723", 8000),
            8 => ("PCMA", 8000),
            9 => ("G722", 8000),
            18 => ("G729", 8000),
            _ => return None,
        };
        Some(Rtpmap {
            pt,
            encoding: name.into(),
            clock_rate: rate,
            channels: None,
        })
    })
}

fn same_codec(map: &Rtpmap, c: &Codec) -> bool {
    // A missing channel count means one (RFC 8866 §6.6), but some Opus offers leave out
    // the "/2" RFC 7587 §7 requires; Opus is one codec whatever it says.
    let channels_match = match map.channels {
        Some(n) => n == c.channels,
        None => c.channels == 1 || c.name.eq_ignore_ascii_case("opus"),
    };
    map.encoding.eq_ignore_ascii_case(&c.name) && map.clock_rate == c.clock_rate && channels_match
}

/// Picks the first offered crypto line we can serve (RFC 4568 §7.1.2), or says why none.
fn pick_crypto(m: &MediaDescription, caps: &Capabilities) -> Result<Crypto, Rejection> {
    let mut why = Vec::new();
    for a in &m.attributes {
        let Attribute::Crypto(c) = a else { continue };
        let Some((k, s)) = c.suite.key_salt_len() else {
            why.push(format!("unknown suite {}", c.suite));
            continue;
        };
        if !caps.crypto_suites.contains(&c.suite) {
            why.push(format!("suite {} not enabled", c.suite));
        } else if c.keys.len() != 1 {
            why.push(format!("{} master keys on tag {}", c.keys.len(), c.tag));
        } else if !c.session_params.is_empty() {
            why.push(format!("session parameters {}", c.session_params.join(" ")));
        } else if c.keys[0].decode().map(|b| b.len()) != Some(k + s) {
            why.push(format!("key of tag {} is not {} bytes", c.tag, k + s));
        } else if c.keys[0]
            .mki
            .is_some_and(|mki| mki.length > caps.max_mki_len)
        {
            why.push(format!(
                "MKI on tag {} longer than {} bytes",
                c.tag, caps.max_mki_len
            ));
        } else {
            return Ok(c.clone());
        }
    }
    if why.is_empty() {
        why.push("no a=crypto".into());
    }
    Err(Rejection::NoCrypto(why.join(", ")))
}

/// RFC 3264 §6.1 (and RFC 6337 §5): the answer's direction is the offer's reversed,
/// narrowed by what we want.
pub fn answer_direction(offered: Direction, ours: Direction) -> Direction {
    let theirs = offered.reversed();
    Direction::from_flags(
        theirs.sends() && ours.sends(),
        theirs.receives() && ours.receives(),
    )
}

fn rejected_section(m: &MediaDescription) -> MediaDescription {
    MediaDescription {
        media: m.media.clone(),
        port: 0,
        port_count: None,
        proto: m.proto.clone(),
        // RFC 3264 §6: at least one format, even in a rejected stream.
        formats: m.formats.iter().take(1).cloned().collect(),
        other: Vec::new(),
        connection: None,
        bandwidths: Vec::new(),
        attributes: m
            .attributes
            .iter()
            .filter(|a| matches!(a, Attribute::Mid(_)))
            .cloned()
            .collect(),
    }
}

/// Which offered telephone-events (already narrowed to the rates we take) go into the
/// answer, given the codecs answered (`codecs[0]` is the one media will run).
///
/// RFC 4733 §7.1.1 pairs an event rate with the audio rate, so every answered codec keeps
/// the telephone-event of its own rate when the offer has one. But RFC 4733 §2.1 lets the
/// events run at a rate of their own, and RFC 7874 §3 and common practice (browsers,
/// baresip and most softphones) pair `opus/48000/2` with only `telephone-event/8000`: when
/// the chosen codec's rate has no telephone-event, the 8000 Hz one is answered, so the
/// key presses of an Opus client are not lost. Its durations then count at 8 kHz.
fn answered_telephone_events(offered: Vec<PtMap>, codecs: &[PtMap]) -> Vec<PtMap> {
    let Some(chosen) = codecs.first() else {
        return Vec::new();
    };
    let chosen_has_own = offered
        .iter()
        .any(|t| t.codec.clock_rate == chosen.codec.clock_rate);
    offered
        .into_iter()
        .filter(|t| {
            codecs
                .iter()
                .any(|c| c.codec.clock_rate == t.codec.clock_rate)
                || (!chosen_has_own && t.codec.clock_rate == TELEPHONE_EVENT_FALLBACK_RATE)
        })
        .collect()
}

/// The telephone-event rate used when the audio codec's rate has none of its own
/// (RFC 4733 §2.1's default rate; RFC 7874 §3 makes it mandatory for WebRTC endpoints).
pub const TELEPHONE_EVENT_FALLBACK_RATE: u32 = 8000;

struct Accepted {
    codecs: Vec<PtMap>,
    te: Vec<PtMap>,
    crypto: Option<Crypto>,
}

fn accept(m: &MediaDescription, caps: &Capabilities) -> Result<Accepted, Rejection> {
    if m.port == 0 {
        return Err(Rejection::Disabled);
    }
    if !m.media.eq_ignore_ascii_case("audio") {
        return Err(Rejection::Media(m.media.clone()));
    }
    if !m.proto.is_rtp() || m.proto.is_dtls() {
        return Err(Rejection::Proto(m.proto.to_string()));
    }
    if !m.proto.is_sdes() && !caps.allow_plain_rtp {
        return Err(Rejection::PlainRtp);
    }
    let mut codecs = Vec::new();
    let mut te: Vec<PtMap> = Vec::new();
    for pt in m.payload_types() {
        let Some(map) = rtpmap(m, pt) else { continue };
        if map.encoding.eq_ignore_ascii_case("telephone-event") {
            if !te.iter().any(|t| t.codec.clock_rate == map.clock_rate)
                && caps.telephone_event_rates.contains(&map.clock_rate)
            {
                te.push(PtMap {
                    codec: Codec {
                        name: map.encoding.clone(),
                        clock_rate: map.clock_rate,
                        channels: 1,
                        pt,
                    },
                    theirs: pt,
                    // Events carry no media to translate; we use the offerer's number.
                    ours: pt,
                });
            }
            continue;
        }
        if let Some(c) = caps.codecs.iter().find(|c| same_codec(&map, c)) {
            if !codecs.iter().any(|p: &PtMap| p.codec == *c) {
                codecs.push(PtMap {
                    codec: c.clone(),
                    theirs: pt,
                    ours: c.pt,
                });
            }
        }
    }
    if codecs.is_empty() {
        return Err(Rejection::NoCodec);
    }
    te = answered_telephone_events(te, &codecs);
    let crypto = if m.proto.is_sdes() {
        Some(pick_crypto(m, caps)?)
    } else {
        None
    };
    Ok(Accepted { codecs, te, crypto })
}

/// Builds the answer to `offer` (RFC 3264 §6).
pub fn answer(
    offer: &SessionDescription,
    caps: &Capabilities,
    local: &LocalMedia,
) -> Result<Answer, NotAcceptable> {
    let mut rejected = Vec::new();
    let mut chosen: Option<(usize, Accepted)> = None;
    for (i, m) in offer.media.iter().enumerate() {
        if chosen.is_some() {
            rejected.push((i, Rejection::Duplicate));
            continue;
        }
        match accept(m, caps) {
            Ok(a) => chosen = Some((i, a)),
            Err(r) => rejected.push((i, r)),
        }
    }
    let Some((index, acc)) = chosen else {
        return Err(NotAcceptable { reasons: rejected });
    };
    let m = &offer.media[index];
    let offer_ice = section_attrs(offer, m).any(|a| matches!(a, Attribute::IceUfrag(_)));
    let ice = local.ice.as_ref().filter(|_| offer_ice);
    let rtcp_mux = m.attributes.contains(&Attribute::RtcpMux);
    let direction = answer_direction(effective_direction(offer, m), caps.direction);

    let mut attrs = Vec::new();
    if let Some(mid) = m.attributes.iter().find(|a| matches!(a, Attribute::Mid(_))) {
        attrs.push(mid.clone());
    }
    let mut formats = Vec::new();
    for p in acc.codecs.iter().chain(acc.te.iter()) {
        formats.push(p.theirs.to_string());
        if let Some(map) = rtpmap(m, p.theirs) {
            attrs.push(Attribute::Rtpmap(map));
        }
        // Echo the offerer's format parameters for codecs we keep; they describe what it
        // receives (RFC 3264 §6.1), e.g. the event list of telephone-event.
        attrs.extend(
            m.attributes
                .iter()
                .filter(|a| matches!(a, Attribute::Fmtp { pt, .. } if *pt == p.theirs))
                .cloned(),
        );
    }
    if let Some(ptime) = m
        .attributes
        .iter()
        .find(|a| matches!(a, Attribute::Ptime(_)))
    {
        attrs.push(ptime.clone());
    }
    attrs.push(Attribute::Direction(direction));
    if rtcp_mux {
        attrs.push(Attribute::RtcpMux);
    } else if let Some(port) = local.rtcp_port {
        attrs.push(Attribute::Rtcp {
            port,
            address: None,
        });
    }
    let crypto = acc.crypto.map(|theirs| {
        let (k, s) = theirs
            .suite
            .key_salt_len()
            .expect("picked suites are known");
        let mut material = local.srtp_key_material.clone();
        material.resize(k + s, 0);
        let ours = Crypto {
            tag: theirs.tag,
            suite: theirs.suite.clone(),
            keys: vec![KeyParam {
                key_salt: base64_encode(&material),
                lifetime: None,
                mki: theirs.keys[0]
                    .mki
                    .map(|mki| crate::crypto::Mki { value: 1, ..mki }),
            }],
            session_params: Vec::new(),
        };
        attrs.push(Attribute::Crypto(ours.clone()));
        (theirs, ours)
    });
    if let Some(ice) = ice {
        attrs.push(Attribute::IceUfrag(ice.ufrag.clone()));
        attrs.push(Attribute::IcePwd(ice.pwd.clone()));
        attrs.extend(ice.candidates.iter().cloned().map(Attribute::Candidate));
    }
    let accepted = MediaDescription {
        media: m.media.clone(),
        port: local.port,
        port_count: None,
        proto: m.proto.clone(),
        formats,
        other: Vec::new(),
        connection: None,
        bandwidths: Vec::new(),
        attributes: attrs,
    };
    let media = offer
        .media
        .iter()
        .enumerate()
        .map(|(i, o)| {
            if i == index {
                accepted.clone()
            } else {
                rejected_section(o)
            }
        })
        .collect();
    let mut session_attrs = Vec::new();
    if ice.is_some_and(|i| i.lite) {
        session_attrs.push(Attribute::IceLite);
    }
    let sdp = SessionDescription {
        origin: Origin {
            username: "-".into(),
            session_id: local.session_id.clone(),
            session_version: local.session_version,
            address: Address::internet(&local.address),
        },
        session_name: "-".into(),
        connection: Some(Connection {
            address: Address::internet(&local.address),
        }),
        bandwidths: Vec::new(),
        timing: Timing::default(),
        other: Vec::new(),
        attributes: session_attrs,
        media,
    };
    Ok(Answer {
        sdp,
        index,
        codecs: acc.codecs,
        telephone_events: acc.te,
        crypto,
        direction,
        rtcp_mux,
        rejected,
    })
}
