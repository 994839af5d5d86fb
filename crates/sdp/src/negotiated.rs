//! The facts of a finished offer/answer exchange, for the media engine (RFC 3264 §6.1,
//! RFC 3605, RFC 4568 §7, RFC 5761, RFC 8839).

use crate::attr::{Attribute, Candidate};
use crate::crypto::{Crypto, CryptoSuite, KeyParam};
use crate::model::*;
use crate::offer_answer::{
    connection, declared_direction, is_hold, rtpmap, Codec, TELEPHONE_EVENT_FALLBACK_RATE,
};

/// Which side of the exchange we were.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Offerer,
    Answerer,
}

/// Why an exchange does not give a usable stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NegotiationError {
    #[error("the answer has {answer} m-lines, the offer {offer} (RFC 3264 §6)")]
    SectionCount { offer: usize, answer: usize },
    #[error("m-line {0}: no connection address")]
    NoConnection(usize),
    #[error("m-line {0}: the answer picked no codec the offer had")]
    NoCodec(usize),
    #[error("m-line {0}: SRTP without a matching crypto line in offer and answer")]
    NoCrypto(usize),
}

/// SRTP keys for one stream: we encrypt with `local`, decrypt with `remote`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpKeys {
    pub suite: CryptoSuite,
    pub local: KeyParam,
    pub remote: KeyParam,
}

/// The remote end's ICE credentials and candidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteIce {
    pub ufrag: String,
    pub pwd: String,
    pub lite: bool,
    pub candidates: Vec<Candidate>,
}

/// One accepted stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// The m-line index.
    pub index: usize,
    /// The codec chosen: the first in the answer (RFC 3264 §6.1 asks the answerer to
    /// list its preference first), with the payload type the remote end expects.
    pub codec: Codec,
    /// Payload type the remote end wants to receive it with.
    pub send_pt: Pt,
    /// Payload type we said we receive it with.
    pub recv_pt: Pt,
    /// telephone-event, when both ends have it at a common rate.
    pub telephone_event: Option<TelephoneEvent>,
    pub remote_address: String,
    pub remote_port: u16,
    /// Where RTCP goes: the RTP port with rtcp-mux, `a=rtcp`, or RTP port + 1.
    pub remote_rtcp_port: u16,
    /// The RTCP address: `a=rtcp`'s when it names one (RFC 3605 §2.1), else the RTP one.
    pub remote_rtcp_address: String,
    /// The remote end's `a=ptime`, the packet time it wants to receive.
    pub remote_ptime: Option<u32>,
    pub rtcp_mux: bool,
    /// Our direction: whether we send and receive.
    pub direction: Direction,
    /// The remote end holds us (it will not receive).
    pub remote_hold: bool,
    pub srtp: Option<SrtpKeys>,
    pub remote_ice: Option<RemoteIce>,
}

/// The telephone-event both ends agreed on (RFC 4733 §7.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// The payload type the remote end wants to receive events with.
    pub send_pt: Pt,
    /// The payload type we said we receive events with.
    pub recv_pt: Pt,
    /// The events' clock rate: event durations count at this rate, which is the audio
    /// codec's or, when that rate has no telephone-event (Opus with only
    /// `telephone-event/8000`, RFC 4733 §2.1), a rate of its own.
    pub clock_rate: u32,
}

/// The facts of an exchange: the accepted streams, in m-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub streams: Vec<Stream>,
}

fn crypto_of(m: &MediaDescription) -> impl Iterator<Item = &Crypto> {
    m.attributes.iter().filter_map(|a| match a {
        Attribute::Crypto(c) => Some(c),
        _ => None,
    })
}

fn remote_ice(sd: &SessionDescription, m: &MediaDescription) -> Option<RemoteIce> {
    let all = || m.attributes.iter().chain(sd.attributes.iter());
    let ufrag = all().find_map(|a| match a {
        Attribute::IceUfrag(u) => Some(u.clone()),
        _ => None,
    })?;
    let pwd = all().find_map(|a| match a {
        Attribute::IcePwd(p) => Some(p.clone()),
        _ => None,
    })?;
    Some(RemoteIce {
        ufrag,
        pwd,
        lite: sd.attributes.contains(&Attribute::IceLite),
        candidates: m
            .attributes
            .iter()
            .filter_map(|a| match a {
                Attribute::Candidate(c) => Some(c.clone()),
                _ => None,
            })
            .collect(),
    })
}

/// The payload type of `m`'s telephone-event at `rate`.
fn te_pt(m: &MediaDescription, rate: u32) -> Option<Pt> {
    m.payload_types().find(|&pt| {
        rtpmap(m, pt).is_some_and(|r| {
            r.encoding.eq_ignore_ascii_case("telephone-event") && r.clock_rate == rate
        })
    })
}

/// The telephone-event both sections have: at the audio codec's rate when both have it,
/// else at 8000 Hz (what an Opus client pairs with its 48 kHz codec, RFC 7874 §3), else
/// at the first other rate they share.
fn telephone_event(
    remote: &MediaDescription,
    local: &MediaDescription,
    codec_rate: u32,
) -> Option<TelephoneEvent> {
    let other_rates = remote.payload_types().filter_map(|pt| {
        rtpmap(remote, pt)
            .filter(|r| r.encoding.eq_ignore_ascii_case("telephone-event"))
            .map(|r| r.clock_rate)
    });
    [codec_rate, TELEPHONE_EVENT_FALLBACK_RATE]
        .into_iter()
        .chain(other_rates)
        .find_map(|rate| {
            Some(TelephoneEvent {
                send_pt: te_pt(remote, rate)?,
                recv_pt: te_pt(local, rate)?,
                clock_rate: rate,
            })
        })
}

/// What an offer and its answer agreed on, seen from `we_are`'s side.
pub fn negotiated(
    offer: &SessionDescription,
    answer: &SessionDescription,
    we_are: Role,
) -> Result<Session, NegotiationError> {
    if offer.media.len() != answer.media.len() {
        return Err(NegotiationError::SectionCount {
            offer: offer.media.len(),
            answer: answer.media.len(),
        });
    }
    let (local_sd, remote_sd) = match we_are {
        Role::Offerer => (offer, answer),
        Role::Answerer => (answer, offer),
    };
    let mut streams = Vec::new();
    for (index, (o, a)) in offer.media.iter().zip(&answer.media).enumerate() {
        if o.port == 0 || a.port == 0 || !a.proto.is_rtp() {
            continue;
        }
        let (local, remote) = match we_are {
            Role::Offerer => (o, a),
            Role::Answerer => (a, o),
        };
        // The answer's first payload type that the offer also has; static types may
        // appear without rtpmap.
        let (codec, send_pt, recv_pt) = a
            .payload_types()
            .filter_map(|pt| {
                let map = rtpmap(a, pt)?;
                if map.encoding.eq_ignore_ascii_case("telephone-event") {
                    return None;
                }
                let opt = o.payload_types().find(|&p| {
                    rtpmap(o, p).is_some_and(|m| {
                        m.encoding.eq_ignore_ascii_case(&map.encoding)
                            && m.clock_rate == map.clock_rate
                    })
                })?;
                let (mine, theirs) = match we_are {
                    Role::Offerer => (opt, pt),
                    Role::Answerer => (pt, opt),
                };
                let codec = Codec {
                    name: map.encoding,
                    clock_rate: map.clock_rate,
                    channels: map.channels.unwrap_or(1),
                    pt: mine,
                };
                Some((codec, theirs, mine))
            })
            .next()
            .ok_or(NegotiationError::NoCodec(index))?;
        let telephone_event = telephone_event(remote, local, codec.clock_rate);
        let addr = connection(remote_sd, remote)
            .ok_or(NegotiationError::NoConnection(index))?
            .address
            .address
            .clone();
        let rtcp_mux = o.attributes.contains(&Attribute::RtcpMux)
            && a.attributes.contains(&Attribute::RtcpMux);
        let rtcp_attr = remote.attributes.iter().find_map(|at| match at {
            Attribute::Rtcp { port, address } => Some((*port, address.as_ref())),
            _ => None,
        });
        let (remote_rtcp_port, remote_rtcp_address) = match rtcp_attr {
            _ if rtcp_mux => (remote.port, addr.clone()),
            Some((port, Some(a))) => (port, a.address.clone()),
            Some((port, None)) => (port, addr.clone()),
            None => (remote.port.saturating_add(1), addr.clone()),
        };
        let remote_ptime = remote.attributes.iter().find_map(|at| match at {
            Attribute::Ptime(ms) => Some(*ms),
            _ => None,
        });
        let srtp = if a.proto.is_sdes() {
            // The answer carries one line whose tag picks the offer's (RFC 4568 §7.1.2).
            let ac = crypto_of(a)
                .next()
                .ok_or(NegotiationError::NoCrypto(index))?;
            let oc = crypto_of(o)
                .find(|c| c.tag == ac.tag && c.suite == ac.suite)
                .ok_or(NegotiationError::NoCrypto(index))?;
            let (lc, rc) = match we_are {
                Role::Offerer => (oc, ac),
                Role::Answerer => (ac, oc),
            };
            match (lc.keys.first(), rc.keys.first()) {
                (Some(l), Some(r)) => Some(SrtpKeys {
                    suite: ac.suite.clone(),
                    local: l.clone(),
                    remote: r.clone(),
                }),
                _ => return Err(NegotiationError::NoCrypto(index)),
            }
        } else {
            None
        };
        // Our direction is what our own section says, narrowed by what the remote's allows.
        let ours = declared_direction(local_sd, local);
        let theirs = declared_direction(remote_sd, remote);
        let remote_hold = is_hold(remote_sd, remote);
        let direction = Direction::from_flags(
            ours.sends() && theirs.receives() && !remote_hold,
            ours.receives() && theirs.sends(),
        );
        streams.push(Stream {
            index,
            codec,
            send_pt,
            recv_pt,
            telephone_event,
            remote_address: addr,
            remote_port: remote.port,
            remote_rtcp_port,
            remote_rtcp_address,
            remote_ptime,
            rtcp_mux,
            direction,
            remote_hold,
            srtp,
            remote_ice: remote_ice(remote_sd, remote),
        });
    }
    Ok(Session { streams })
}
