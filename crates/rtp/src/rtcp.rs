//! RTCP compound packets (RFC 3550 §6.4–§6.7) and rtcp-mux demultiplexing (RFC 5761 §4).
//!
//! Parsing is strict about framing (a length that runs past the datagram fails the whole
//! compound, §6.1) and lenient about content: unknown packet types are kept raw so a
//! translator can forward them.

use crate::rtp::be32;
use crate::{NtpTime, Ssrc};

/// Why bytes are not an RTCP compound packet. Every variant is the peer's fault except
/// the two `TooMany*` ones, which are the builder's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtcpError {
    #[error("RTCP packet shorter than its 4-byte header or its declared length")]
    Truncated,
    #[error("RTCP version {0}, expected 2")]
    BadVersion(u8),
    #[error("{0} body is too short for its count field")]
    BadBody(&'static str),
    #[error("padding count {0} is zero or larger than the packet body")]
    BadPadding(u8),
    #[error("more than 31 report blocks, chunks or sources in one packet")]
    TooManyItems,
    #[error("SDES item or BYE reason longer than 255 bytes")]
    ItemTooLong,
    #[error("empty compound packet")]
    Empty,
}

/// RTCP packet types (§12.1).
pub mod pt {
    pub const SR: u8 = 200;
    pub const RR: u8 = 201;
    pub const SDES: u8 = 202;
    pub const BYE: u8 = 203;
    pub const APP: u8 = 204;
}

/// SDES item types (§6.5).
pub const SDES_CNAME: u8 = 1;

/// One reception report block (§6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    pub ssrc: Ssrc,
    /// Fraction lost since the previous report, in 1/256 units.
    pub fraction_lost: u8,
    /// Cumulative lost, a signed 24-bit value (duplicates can make it negative).
    pub cumulative_lost: i32,
    pub extended_highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR received from this source.
    pub last_sr: u32,
    /// Delay since that SR in 1/65536 s.
    pub delay_since_last_sr: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderReport {
    pub ssrc: Ssrc,
    pub ntp: NtpTime,
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
    pub reports: Vec<ReportBlock>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverReport {
    pub ssrc: Ssrc,
    pub reports: Vec<ReportBlock>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesItem {
    pub kind: u8,
    pub value: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesChunk {
    pub ssrc: Ssrc,
    pub items: Vec<SdesItem>,
}

impl SdesChunk {
    /// A chunk carrying only a CNAME, as every compound must (§6.1).
    pub fn cname(ssrc: Ssrc, cname: &str) -> Self {
        Self {
            ssrc,
            items: vec![SdesItem {
                kind: SDES_CNAME,
                value: cname.as_bytes().to_vec(),
            }],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bye {
    pub sources: Vec<Ssrc>,
    /// The optional reason, as sent (not necessarily UTF-8).
    pub reason: Option<Vec<u8>>,
}

/// APP (§6.7): kept raw; nothing here interprets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub subtype: u8,
    pub ssrc: Ssrc,
    pub name: [u8; 4],
    /// Application data, a multiple of 4 bytes.
    pub data: Vec<u8>,
}

/// One packet of a compound.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtcpPacket {
    SenderReport(SenderReport),
    ReceiverReport(ReceiverReport),
    Sdes(Vec<SdesChunk>),
    Bye(Bye),
    App(App),
    /// Any other type (XR, feedback, ...): count field and body kept as sent.
    Unknown {
        packet_type: u8,
        count: u8,
        body: Vec<u8>,
    },
}

impl RtcpPacket {
    /// The CNAME of `ssrc` if this is an SDES packet carrying one.
    pub fn cname(&self, ssrc: Ssrc) -> Option<&[u8]> {
        let RtcpPacket::Sdes(chunks) = self else {
            return None;
        };
        chunks
            .iter()
            .filter(|c| c.ssrc == ssrc)
            .flat_map(|c| c.items.iter())
            .find(|i| i.kind == SDES_CNAME)
            .map(|i| i.value.as_slice())
    }
}

/// Parses a compound RTCP packet (§6.1) into its packets, in order.
pub fn parse_compound(buf: &[u8]) -> Result<Vec<RtcpPacket>, RtcpError> {
    if buf.is_empty() {
        return Err(RtcpError::Empty);
    }
    let mut out = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        if rest.len() < 4 {
            return Err(RtcpError::Truncated);
        }
        let version = rest[0] >> 6;
        if version != 2 {
            return Err(RtcpError::BadVersion(version));
        }
        let len = 4 * (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1);
        if len > rest.len() {
            return Err(RtcpError::Truncated);
        }
        let (packet, tail) = rest.split_at(len);
        let mut body = &packet[4..];
        if packet[0] & 0x20 != 0 {
            let count = packet[len - 1];
            if count == 0 || usize::from(count) > body.len() {
                return Err(RtcpError::BadPadding(count));
            }
            body = &body[..body.len() - usize::from(count)];
        }
        out.push(parse_one(packet[1], packet[0] & 0x1F, body)?);
        rest = tail;
    }
    Ok(out)
}

fn parse_one(ptype: u8, count: u8, body: &[u8]) -> Result<RtcpPacket, RtcpError> {
    let n = usize::from(count);
    Ok(match ptype {
        pt::SR => {
            if body.len() < 24 + 24 * n {
                return Err(RtcpError::BadBody("SR"));
            }
            // Profile-specific extensions after the blocks (§6.4.1) are ignored.
            RtcpPacket::SenderReport(SenderReport {
                ssrc: Ssrc(be32(body)),
                ntp: NtpTime(u64::from(be32(&body[4..])) << 32 | u64::from(be32(&body[8..]))),
                rtp_timestamp: be32(&body[12..]),
                packet_count: be32(&body[16..]),
                octet_count: be32(&body[20..]),
                reports: body[24..24 + 24 * n]
                    .chunks_exact(24)
                    .map(parse_block)
                    .collect(),
            })
        }
        pt::RR => {
            if body.len() < 4 + 24 * n {
                return Err(RtcpError::BadBody("RR"));
            }
            RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: Ssrc(be32(body)),
                reports: body[4..4 + 24 * n]
                    .chunks_exact(24)
                    .map(parse_block)
                    .collect(),
            })
        }
        pt::SDES => RtcpPacket::Sdes(parse_sdes(n, body)?),
        pt::BYE => {
            if body.len() < 4 * n {
                return Err(RtcpError::BadBody("BYE"));
            }
            let sources = body[..4 * n]
                .chunks_exact(4)
                .map(|c| Ssrc(be32(c)))
                .collect();
            let tail = &body[4 * n..];
            let reason = match tail.first() {
                Some(&l) if l > 0 => {
                    let r = tail
                        .get(1..1 + usize::from(l))
                        .ok_or(RtcpError::BadBody("BYE"))?;
                    Some(r.to_vec())
                }
                _ => None,
            };
            RtcpPacket::Bye(Bye { sources, reason })
        }
        pt::APP => {
            if body.len() < 8 {
                return Err(RtcpError::BadBody("APP"));
            }
            RtcpPacket::App(App {
                subtype: count,
                ssrc: Ssrc(be32(body)),
                name: [body[4], body[5], body[6], body[7]],
                data: body[8..].to_vec(),
            })
        }
        other => RtcpPacket::Unknown {
            packet_type: other,
            count,
            body: body.to_vec(),
        },
    })
}

fn parse_block(b: &[u8]) -> ReportBlock {
    // Sign-extend the 24-bit cumulative loss.
    let lost = (i32::from_be_bytes([b[5], b[6], b[7], 0])) >> 8;
    ReportBlock {
        ssrc: Ssrc(be32(b)),
        fraction_lost: b[4],
        cumulative_lost: lost,
        extended_highest_seq: be32(&b[8..]),
        jitter: be32(&b[12..]),
        last_sr: be32(&b[16..]),
        delay_since_last_sr: be32(&b[20..]),
    }
}

fn parse_sdes(n: usize, body: &[u8]) -> Result<Vec<SdesChunk>, RtcpError> {
    let bad = RtcpError::BadBody("SDES");
    let mut chunks = Vec::with_capacity(n.min(31));
    let mut pos = 0;
    for _ in 0..n {
        let ssrc = body.get(pos..pos + 4).ok_or(bad.clone())?;
        pos += 4;
        let mut items = Vec::new();
        loop {
            let kind = *body.get(pos).ok_or(bad.clone())?;
            if kind == 0 {
                // §6.5: a null item ends the list; pad to the next 32-bit boundary.
                pos = (pos + 4) & !3;
                break;
            }
            let len = usize::from(*body.get(pos + 1).ok_or(bad.clone())?);
            let value = body.get(pos + 2..pos + 2 + len).ok_or(bad.clone())?;
            items.push(SdesItem {
                kind,
                value: value.to_vec(),
            });
            pos += 2 + len;
        }
        chunks.push(SdesChunk {
            ssrc: Ssrc(be32(ssrc)),
            items,
        });
    }
    Ok(chunks)
}

/// Builds a compound packet. §6.1 asks that it start with SR or RR and carry an SDES
/// CNAME; that is the caller's policy, not checked here, so translators can relay.
pub fn build_compound(packets: &[RtcpPacket]) -> Result<Vec<u8>, RtcpError> {
    if packets.is_empty() {
        return Err(RtcpError::Empty);
    }
    let mut out = Vec::new();
    for p in packets {
        write_one(p, &mut out)?;
    }
    Ok(out)
}

fn count_of(n: usize) -> Result<u8, RtcpError> {
    u8::try_from(n)
        .ok()
        .filter(|&c| c <= 31)
        .ok_or(RtcpError::TooManyItems)
}

fn write_one(p: &RtcpPacket, out: &mut Vec<u8>) -> Result<(), RtcpError> {
    let start = out.len();
    let (ptype, count) = match p {
        RtcpPacket::SenderReport(sr) => (pt::SR, count_of(sr.reports.len())?),
        RtcpPacket::ReceiverReport(rr) => (pt::RR, count_of(rr.reports.len())?),
        RtcpPacket::Sdes(chunks) => (pt::SDES, count_of(chunks.len())?),
        RtcpPacket::Bye(b) => (pt::BYE, count_of(b.sources.len())?),
        RtcpPacket::App(a) => (pt::APP, a.subtype & 0x1F),
        RtcpPacket::Unknown {
            packet_type, count, ..
        } => (*packet_type, count & 0x1F),
    };
    out.extend_from_slice(&[0x80 | count, ptype, 0, 0]);
    match p {
        RtcpPacket::SenderReport(sr) => {
            put32(out, sr.ssrc.0);
            out.extend_from_slice(&sr.ntp.0.to_be_bytes());
            put32(out, sr.rtp_timestamp);
            put32(out, sr.packet_count);
            put32(out, sr.octet_count);
            sr.reports.iter().for_each(|b| write_block(b, out));
        }
        RtcpPacket::ReceiverReport(rr) => {
            put32(out, rr.ssrc.0);
            rr.reports.iter().for_each(|b| write_block(b, out));
        }
        RtcpPacket::Sdes(chunks) => {
            for c in chunks {
                put32(out, c.ssrc.0);
                for item in &c.items {
                    let len = u8::try_from(item.value.len()).map_err(|_| RtcpError::ItemTooLong)?;
                    // Kind 0 would end the list early and lose the rest of the chunk.
                    out.push(item.kind.max(1));
                    out.push(len);
                    out.extend_from_slice(&item.value);
                }
                // At least one null octet, then up to the 32-bit boundary (§6.5).
                out.push(0);
                pad4(out);
            }
        }
        RtcpPacket::Bye(b) => {
            b.sources.iter().for_each(|s| put32(out, s.0));
            if let Some(r) = b.reason.as_ref().filter(|r| !r.is_empty()) {
                let len = u8::try_from(r.len()).map_err(|_| RtcpError::ItemTooLong)?;
                out.push(len);
                out.extend_from_slice(r);
                pad4(out);
            }
        }
        RtcpPacket::App(a) => {
            put32(out, a.ssrc.0);
            out.extend_from_slice(&a.name);
            out.extend_from_slice(&a.data);
            pad_counted(out, start);
        }
        RtcpPacket::Unknown { body, .. } => {
            out.extend_from_slice(body);
            pad_counted(out, start);
        }
    }
    let words = (out.len() - start) / 4 - 1;
    let words = u16::try_from(words).map_err(|_| RtcpError::TooManyItems)?;
    out[start + 2..start + 4].copy_from_slice(&words.to_be_bytes());
    Ok(())
}

fn write_block(b: &ReportBlock, out: &mut Vec<u8>) {
    put32(out, b.ssrc.0);
    out.push(b.fraction_lost);
    // Clamp to the signed 24-bit range rather than wrap into a wrong sign.
    let lost = b.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF);
    out.extend_from_slice(&lost.to_be_bytes()[1..]);
    put32(out, b.extended_highest_seq);
    put32(out, b.jitter);
    put32(out, b.last_sr);
    put32(out, b.delay_since_last_sr);
}

/// Opaque bodies that are not whole words get RTCP padding (P bit and a count, §6.4.1)
/// rather than silent zeros, so the receiver recovers exactly the bytes we were given.
fn pad_counted(out: &mut Vec<u8>, start: usize) {
    let rem = (out.len() - start) % 4;
    if rem != 0 {
        let pad = 4 - rem;
        out.resize(out.len() + pad - 1, 0);
        out.push(pad as u8);
        out[start] |= 0x20;
    }
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn pad4(out: &mut Vec<u8>) {
    while out.len() & 3 != 0 {
        out.push(0);
    }
}

/// What a datagram on a shared port is (RFC 5761 §4 and RFC 7983 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Demux {
    Rtp,
    Rtcp,
    Stun,
    Dtls,
    Other,
}

/// Classifies a datagram arriving on a port that carries RTP and RTCP together.
///
/// RFC 5761 §4: RTCP packet types 192–223 overlap RTP payload types 64–95 with the marker
/// bit set, so those RTP payload types must not be used with rtcp-mux and the second octet
/// alone tells them apart. RFC 7983 §7 then separates STUN (first octet 0–3) and DTLS
/// (20–63) from RTP/RTCP (128–191).
pub fn demux(datagram: &[u8]) -> Demux {
    match datagram.first() {
        Some(0..=3) => Demux::Stun,
        Some(20..=63) => Demux::Dtls,
        Some(128..=191) => match datagram.get(1) {
            Some(192..=223) => Demux::Rtcp,
            Some(_) => Demux::Rtp,
            None => Demux::Other,
        },
        _ => Demux::Other,
    }
}
