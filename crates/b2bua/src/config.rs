//! What the mediation B2BUA needs to know about its place in the network.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use sb_gateways::{GatewayName, GatewayTable, PoolName};
use sb_media_api::Tone;
use sb_sdp::{Codec, CryptoSuite, Pt};
use sb_sip_core::TransportKind;

/// Which network a leg faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Toward the front end and, through it, the clients (TLS, SRTP, ICE, Opus).
    Client,
    /// Toward a PSTN gateway or IP-PBX (UDP/TCP, plain RTP, G.711).
    Gateway,
}

/// The media address and the RTP ports this B2BUA hands out.
///
/// Ports are allocated here, synchronously, from a range this instance owns (one range
/// per shard, as DESIGN.md plans), so the B2BUA can write `c=`/`m=` lines without a
/// round trip. The runtime binds `ip:port` (and `port + 1` for RTCP) when it sees the
/// [`sb_media_api::Command::AddLeg`] naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// Where media is received, as written in SDP `c=` and given to the engine.
    pub ip: IpAddr,
    /// First RTP port (rounded up to even).
    pub port_min: u16,
    /// Last RTP port; every leg takes an even RTP port and the odd port after it.
    pub port_max: u16,
    /// A leg that hears nothing from its peer this long ends the call; `None` never.
    pub media_timeout_ms: Option<u32>,
}

/// The client (front end) side of calls.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSideConfig {
    /// Where calls toward clients go (the front end's SIP address) and where outbound
    /// calls come from: an INVITE from any other address that is not a known gateway
    /// is refused with 403.
    pub front_end: SocketAddr,
    pub transport: TransportKind,
    /// Host of the Request-URI, From and To of calls we place toward the front end
    /// (`sip:+15551234567@DOMAIN;user=phone`).
    pub domain: String,
    /// Codecs we answer and offer on this side, preferred first.
    pub codecs: Vec<Codec>,
    /// SDES suites accepted and offered, preferred first.
    pub crypto_suites: Vec<CryptoSuite>,
    /// Offer SRTP (`RTP/SAVP` with `a=crypto`) on calls we place toward the front end.
    /// Off by default: the front end is trusted and relays the offer to clients that may
    /// only do plain RTP; clients that need SRTP offer it themselves on outbound calls,
    /// and then get it.
    pub offer_srtp: bool,
    /// Offer ICE (RFC 8445 §5.1: our host candidates, ufrag and password) on calls we
    /// place toward the front end. On by default: a peer without ICE ignores it (§5.4),
    /// while clients that run ICE may send no media at all to an offer without it
    /// (baresip 1.0 with `medianat=ice` waits for ICE that never completes).
    pub offer_ice: bool,
    /// What a client hears while a gateway rings without sending early media.
    pub ringback: Tone,
}

/// Everything [`crate::B2bua::new`] needs.
#[derive(Debug, Clone)]
pub struct B2buaConfig {
    /// Our SIP address: Via sent-by and Contact on both sides.
    pub sip_addr: SocketAddr,
    /// Host part of identity URIs toward gateways (the domain the numbers belong to).
    pub identity_host: String,
    pub client: ClientSideConfig,
    pub gateways: GatewayTable,
    /// The addresses of gateways provisioned by name (RFC 3263 resolution is the
    /// runtime's: it fills this map). Gateways with an IP literal need no entry; the
    /// port defaults to 5060 (5061 for TLS).
    pub gateway_addrs: HashMap<GatewayName, SocketAddr>,
    /// The pool for an outbound call whose Request-URI has no `;pool=` parameter.
    pub default_pool: Option<PoolName>,
    pub media: MediaConfig,
}

impl ClientSideConfig {
    /// Opus, G.711 µ-law and A-law with telephone-event, SDES suites of RFC 4568.
    pub fn new(front_end: SocketAddr, transport: TransportKind, domain: &str) -> Self {
        ClientSideConfig {
            front_end,
            transport,
            domain: domain.to_string(),
            codecs: vec![codec("opus", 48000, 2, 111), pcmu(), pcma()],
            crypto_suites: vec![
                CryptoSuite::AesCm128HmacSha1_80,
                CryptoSuite::AesCm128HmacSha1_32,
            ],
            offer_srtp: false,
            offer_ice: true,
            ringback: Tone::ringback_europe(),
        }
    }
}

pub(crate) fn codec(name: &str, clock_rate: u32, channels: u8, pt: u8) -> Codec {
    Codec {
        name: name.to_string(),
        clock_rate,
        channels,
        pt: Pt::new(pt).unwrap_or(Pt::new(0).expect("0 is a payload type")),
    }
}

pub(crate) fn pcmu() -> Codec {
    codec("PCMU", 8000, 1, 0)
}

pub(crate) fn pcma() -> Codec {
    codec("PCMA", 8000, 1, 8)
}

/// The SDP codec for a gateway profile's codec name; unknown names are skipped (the
/// gateway table already refused them at load time).
pub(crate) fn gateway_codec(name: &str) -> Option<Codec> {
    Some(match name.to_ascii_uppercase().as_str() {
        "PCMU" => pcmu(),
        "PCMA" => pcma(),
        "G722" => codec("G722", 8000, 1, 9),
        "OPUS" => codec("opus", 48000, 2, 111),
        _ => return None,
    })
}
