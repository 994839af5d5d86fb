//! Our own offers (RFC 3264 §5) and the re-offers that hold and resume a stream (§8.4,
//! RFC 6337 §5).

use crate::attr::{Attribute, Rtpmap};
use crate::crypto::{base64_encode, Crypto, KeyParam};
use crate::model::*;
use crate::offer_answer::{Capabilities, LocalMedia};

/// How our offer's single audio stream is carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferOptions {
    /// `RTP/AVP` toward a plain gateway, `RTP/SAVP(F)` with one `a=crypto` per suite in
    /// [`Capabilities::crypto_suites`].
    pub proto: Proto,
    /// Offer `a=rtcp-mux` (RFC 5761 §5.1.1).
    pub rtcp_mux: bool,
    /// `a=ptime`, when the far end should be told.
    pub ptime: Option<u32>,
}

/// Builds an offer with one audio section: our codecs in our order of preference with
/// our payload types, telephone-event at each codec rate we take it at, SDES lines when
/// the proto is SRTP, our ICE credentials and candidates when `local.ice` is set.
pub fn offer(caps: &Capabilities, local: &LocalMedia, opts: &OfferOptions) -> SessionDescription {
    let mut formats = Vec::new();
    let mut attrs = Vec::new();
    for c in &caps.codecs {
        formats.push(c.pt.to_string());
        attrs.push(Attribute::Rtpmap(Rtpmap {
            pt: c.pt,
            encoding: c.name.clone(),
            clock_rate: c.clock_rate,
            channels: (c.channels > 1).then_some(c.channels),
        }));
    }
    let used = |pt: u8| caps.codecs.iter().any(|c| c.pt.get() == pt);
    let mut next_pt = 101u8;
    let mut rates: Vec<u32> = Vec::new();
    for c in &caps.codecs {
        if rates.contains(&c.clock_rate) || !caps.telephone_event_rates.contains(&c.clock_rate) {
            continue;
        }
        rates.push(c.clock_rate);
        // 101 is what most gateways expect at 8 kHz; later rates take the next free
        // dynamic numbers.
        while used(next_pt) && next_pt < 127 {
            next_pt += 1;
        }
        let Some(pt) = Pt::new(next_pt).filter(|_| !used(next_pt)) else {
            break;
        };
        next_pt += 1;
        formats.push(pt.to_string());
        attrs.push(Attribute::Rtpmap(Rtpmap {
            pt,
            encoding: "telephone-event".into(),
            clock_rate: c.clock_rate,
            channels: None,
        }));
        attrs.push(Attribute::Fmtp {
            pt,
            params: "0-16".into(),
        });
    }
    if let Some(ms) = opts.ptime {
        attrs.push(Attribute::Ptime(ms));
    }
    attrs.push(Attribute::Direction(caps.direction));
    if opts.rtcp_mux {
        attrs.push(Attribute::RtcpMux);
    } else if let Some(port) = local.rtcp_port {
        attrs.push(Attribute::Rtcp {
            port,
            address: None,
        });
    }
    if opts.proto.is_sdes() {
        for (i, suite) in caps.crypto_suites.iter().enumerate() {
            let Some((k, s)) = suite.key_salt_len() else {
                continue;
            };
            let mut material = local.srtp_key_material.clone();
            material.resize(k + s, 0);
            attrs.push(Attribute::Crypto(Crypto {
                tag: u32::try_from(i + 1).unwrap_or(u32::MAX),
                suite: suite.clone(),
                keys: vec![KeyParam {
                    key_salt: base64_encode(&material),
                    lifetime: None,
                    mki: None,
                }],
                session_params: Vec::new(),
            }));
        }
    }
    let mut session_attrs = Vec::new();
    if let Some(ice) = &local.ice {
        if ice.lite {
            session_attrs.push(Attribute::IceLite);
        }
        attrs.push(Attribute::IceUfrag(ice.ufrag.clone()));
        attrs.push(Attribute::IcePwd(ice.pwd.clone()));
        attrs.extend(ice.candidates.iter().cloned().map(Attribute::Candidate));
    }
    SessionDescription {
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
        media: vec![MediaDescription {
            media: "audio".into(),
            port: local.port,
            port_count: None,
            proto: opts.proto.clone(),
            formats,
            other: Vec::new(),
            connection: None,
            bandwidths: Vec::new(),
            attributes: attrs,
        }],
    }
}

impl SessionDescription {
    /// A re-offer of this (our previous) description with section `index` set to
    /// `direction`: `sendonly` holds the peer, `sendrecv` resumes (RFC 6337 §5.1). The
    /// version grows by one (RFC 3264 §8); everything else stays as it was, so the
    /// re-offer changes only what it means to.
    pub fn reoffer_with_direction(&self, index: usize, direction: Direction) -> SessionDescription {
        let mut next = self.clone();
        next.origin.session_version = next.origin.session_version.wrapping_add(1);
        if let Some(m) = next.media.get_mut(index) {
            m.attributes
                .retain(|a| !matches!(a, Attribute::Direction(_)));
            m.attributes.push(Attribute::Direction(direction));
        }
        next
    }
}
