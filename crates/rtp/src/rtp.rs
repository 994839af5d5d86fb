//! RTP data packets: RFC 3550 §5.1 fixed header, §5.3.1 header extension, and the
//! RFC 8285 one-byte (§4.2) and two-byte (§4.3) extension element forms.
//!
//! [`RtpPacket`] is a zero-copy view checked once at parse time, so every getter is
//! infallible afterwards; [`Rtp`] is the owned form that builds bytes.

use crate::{Pt, Ssrc};

/// Why bytes are not an RTP packet. Every variant is the peer's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtpError {
    #[error("packet of {0} bytes is shorter than the 12-byte RTP header")]
    TooShort(usize),
    #[error("RTP version {0}, expected 2")]
    BadVersion(u8),
    #[error("CSRC count {0} runs past the end of the packet")]
    CsrcOverrun(u8),
    #[error("header extension runs past the end of the packet")]
    ExtensionOverrun,
    #[error("malformed RFC 8285 extension element")]
    BadExtensionElement,
    #[error("padding count {0} is zero or larger than the payload")]
    BadPadding(u8),
    #[error("more than 15 CSRCs")]
    TooManyCsrcs,
    #[error("extension element id {0} or length {1} out of range for its form")]
    ExtensionOutOfRange(u8, usize),
    #[error("header extension longer than 65535 words")]
    ExtensionTooLong,
    #[error("payload type {0} does not fit 7 bits")]
    BadPayloadType(u8),
}

/// RFC 8285 §4.2: the "defined by profile" value of the one-byte form.
pub const ONE_BYTE_PROFILE: u16 = 0xBEDE;
/// RFC 8285 §4.3: the two-byte form; the low 4 bits are "appbits".
pub const TWO_BYTE_PROFILE_MASK: u16 = 0xFFF0;
const TWO_BYTE_PROFILE: u16 = 0x1000;

/// One extension element: a local identifier negotiated in SDP (`a=extmap`) and its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtElement {
    pub id: u8,
    pub data: Vec<u8>,
}

/// The header extension of an owned packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extension {
    /// RFC 8285 §4.2: ids 1–14, 1–16 bytes each.
    OneByte(Vec<ExtElement>),
    /// RFC 8285 §4.3: ids 1–255, 0–255 bytes each, plus 4 application bits.
    TwoByte {
        appbits: u8,
        elements: Vec<ExtElement>,
    },
    /// Any other profile (RFC 3550 §5.3.1), kept as whole 32-bit words.
    Raw { profile: u16, data: Vec<u8> },
}

/// A parsed RTP packet borrowing its bytes.
#[derive(Debug, Clone, Copy)]
pub struct RtpPacket<'a> {
    buf: &'a [u8],
    /// Offset of the payload (after CSRCs and extension).
    payload_start: usize,
    /// End of the payload (before padding).
    payload_end: usize,
    /// (profile, extension body) when the X bit is set.
    ext: Option<(u16, &'a [u8])>,
}

impl<'a> RtpPacket<'a> {
    /// Parses and checks a whole RTP packet; nothing is read past the checks made here.
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        if buf.len() < 12 {
            return Err(RtpError::TooShort(buf.len()));
        }
        let version = buf[0] >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        let cc = buf[0] & 0x0F;
        let mut pos = 12 + 4 * usize::from(cc);
        if pos > buf.len() {
            return Err(RtpError::CsrcOverrun(cc));
        }
        let mut ext = None;
        if buf[0] & 0x10 != 0 {
            if pos + 4 > buf.len() {
                return Err(RtpError::ExtensionOverrun);
            }
            let profile = u16::from_be_bytes([buf[pos], buf[pos + 1]]);
            let words = usize::from(u16::from_be_bytes([buf[pos + 2], buf[pos + 3]]));
            let body_start = pos + 4;
            let body_end = body_start + 4 * words;
            if body_end > buf.len() {
                return Err(RtpError::ExtensionOverrun);
            }
            let body = &buf[body_start..body_end];
            // Validate element framing now so the iterator never fails later.
            for el in ElementIter::new(profile, body) {
                el?;
            }
            ext = Some((profile, body));
            pos = body_end;
        }
        let mut end = buf.len();
        if buf[0] & 0x20 != 0 {
            // §5.1: the last octet counts the padding, itself included.
            let count = buf[buf.len() - 1];
            if count == 0 || usize::from(count) > end - pos {
                return Err(RtpError::BadPadding(count));
            }
            end -= usize::from(count);
        }
        Ok(Self {
            buf,
            payload_start: pos,
            payload_end: end,
            ext,
        })
    }

    pub fn marker(&self) -> bool {
        self.buf[1] & 0x80 != 0
    }
    pub fn payload_type(&self) -> Pt {
        Pt(self.buf[1] & 0x7F)
    }
    pub fn sequence(&self) -> u16 {
        u16::from_be_bytes([self.buf[2], self.buf[3]])
    }
    pub fn timestamp(&self) -> u32 {
        be32(&self.buf[4..8])
    }
    pub fn ssrc(&self) -> Ssrc {
        Ssrc(be32(&self.buf[8..12]))
    }
    /// Contributing sources (§5.1 CSRC list), at most 15.
    pub fn csrcs(&self) -> impl Iterator<Item = Ssrc> + 'a {
        let cc = usize::from(self.buf[0] & 0x0F);
        self.buf[12..12 + 4 * cc]
            .chunks_exact(4)
            .map(|c| Ssrc(be32(c)))
    }
    /// Length of the header with CSRCs and extension: where the payload starts (the part
    /// SRTP authenticates but does not encrypt, RFC 3711 §3.1).
    pub fn header_len(&self) -> usize {
        self.payload_start
    }
    /// The whole packet as received.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }
    /// Padding octets at the end (0 when the P bit is clear).
    pub fn padding_len(&self) -> usize {
        self.buf.len() - self.payload_end
    }
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.payload_start..self.payload_end]
    }
    /// The "defined by profile" field when the packet has an extension.
    pub fn extension_profile(&self) -> Option<u16> {
        self.ext.map(|(p, _)| p)
    }
    /// The raw extension body (without its 4-byte header).
    pub fn extension_body(&self) -> Option<&'a [u8]> {
        self.ext.map(|(_, b)| b)
    }
    /// RFC 8285 elements as `(id, data)`; empty for other profiles or no extension.
    pub fn extensions(&self) -> impl Iterator<Item = (u8, &'a [u8])> + 'a {
        let (profile, body) = self.ext.unwrap_or((0, &[]));
        // Framing was checked in `parse`, so errors cannot occur here.
        ElementIter::new(profile, body).filter_map(Result::ok)
    }
    /// The element with local identifier `id`, if present.
    pub fn extension(&self, id: u8) -> Option<&'a [u8]> {
        self.extensions().find(|(i, _)| *i == id).map(|(_, d)| d)
    }

    /// Copies the packet into its owned, buildable form.
    pub fn to_owned(&self) -> Rtp {
        let extension = self.ext.map(|(profile, body)| {
            let elements = || {
                ElementIter::new(profile, body)
                    .filter_map(Result::ok)
                    .map(|(id, d)| ExtElement {
                        id,
                        data: d.to_vec(),
                    })
                    .collect()
            };
            if profile == ONE_BYTE_PROFILE {
                Extension::OneByte(elements())
            } else if profile & TWO_BYTE_PROFILE_MASK == TWO_BYTE_PROFILE {
                Extension::TwoByte {
                    appbits: (profile & 0x0F) as u8,
                    elements: elements(),
                }
            } else {
                Extension::Raw {
                    profile,
                    data: body.to_vec(),
                }
            }
        });
        Rtp {
            marker: self.marker(),
            payload_type: self.payload_type(),
            sequence: self.sequence(),
            timestamp: self.timestamp(),
            ssrc: self.ssrc(),
            csrcs: self.csrcs().collect(),
            extension,
            payload: self.payload().to_vec(),
            padding: self.padding_len() as u8,
        }
    }
}

/// In-place header rewriting for relaying: a B2BUA forwards most packets unchanged except
/// for SSRC, sequence number, timestamp and payload type (RFC 4733 events relayed with
/// payload-type mapping), so it edits the received buffer instead of copying the packet.
#[derive(Debug)]
pub struct RtpPacketMut<'a> {
    buf: &'a mut [u8],
    payload_start: usize,
    payload_end: usize,
}

impl<'a> RtpPacketMut<'a> {
    /// Checks `buf` exactly as [`RtpPacket::parse`] does.
    pub fn parse(buf: &'a mut [u8]) -> Result<Self, RtpError> {
        let view = RtpPacket::parse(buf)?;
        let (payload_start, payload_end) = (view.payload_start, view.payload_end);
        Ok(Self {
            buf,
            payload_start,
            payload_end,
        })
    }
    /// A read-only view of the packet as it is now.
    pub fn view(&self) -> RtpPacket<'_> {
        RtpPacket::parse(self.buf).expect("the buffer was checked and only fixed fields changed")
    }
    pub fn set_marker(&mut self, marker: bool) {
        self.buf[1] = (self.buf[1] & 0x7F) | u8::from(marker) << 7;
    }
    /// Sets the payload type; the high bit is the marker, so `pt` is masked to 7 bits.
    pub fn set_payload_type(&mut self, pt: Pt) {
        self.buf[1] = (self.buf[1] & 0x80) | (pt.0 & 0x7F);
    }
    pub fn set_sequence(&mut self, seq: u16) {
        self.buf[2..4].copy_from_slice(&seq.to_be_bytes());
    }
    pub fn set_timestamp(&mut self, ts: u32) {
        self.buf[4..8].copy_from_slice(&ts.to_be_bytes());
    }
    pub fn set_ssrc(&mut self, ssrc: Ssrc) {
        self.buf[8..12].copy_from_slice(&ssrc.0.to_be_bytes());
    }
    /// The payload, for in-place work such as encryption.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.payload_start..self.payload_end]
    }
}

/// An owned RTP packet; [`Rtp::to_bytes`] builds the wire form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtp {
    pub marker: bool,
    pub payload_type: Pt,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: Ssrc,
    pub csrcs: Vec<Ssrc>,
    pub extension: Option<Extension>,
    pub payload: Vec<u8>,
    /// Padding octets to append (0 = none), e.g. to reach an SRTP block size.
    pub padding: u8,
}

impl Rtp {
    /// A packet with no CSRCs, extension or padding.
    pub fn new(pt: Pt, sequence: u16, timestamp: u32, ssrc: Ssrc, payload: Vec<u8>) -> Self {
        Self {
            marker: false,
            payload_type: pt,
            sequence,
            timestamp,
            ssrc,
            csrcs: Vec::new(),
            extension: None,
            payload,
            padding: 0,
        }
    }

    /// Builds the wire form. Fails only on values the header cannot carry.
    pub fn to_bytes(&self) -> Result<Vec<u8>, RtpError> {
        let mut out = Vec::with_capacity(12 + self.payload.len() + 4 * self.csrcs.len());
        self.write(&mut out)?;
        Ok(out)
    }

    /// Appends the wire form to `out`.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), RtpError> {
        if self.csrcs.len() > 15 {
            return Err(RtpError::TooManyCsrcs);
        }
        if self.payload_type.0 > 127 {
            return Err(RtpError::BadPayloadType(self.payload_type.0));
        }
        let mut b0 = 0x80 | self.csrcs.len() as u8;
        if self.padding > 0 {
            b0 |= 0x20;
        }
        if self.extension.is_some() {
            b0 |= 0x10;
        }
        out.push(b0);
        out.push(u8::from(self.marker) << 7 | (self.payload_type.0 & 0x7F));
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.0.to_be_bytes());
        for c in &self.csrcs {
            out.extend_from_slice(&c.0.to_be_bytes());
        }
        if let Some(ext) = &self.extension {
            write_extension(ext, out)?;
        }
        out.extend_from_slice(&self.payload);
        if self.padding > 0 {
            out.resize(out.len() + usize::from(self.padding) - 1, 0);
            out.push(self.padding);
        }
        Ok(())
    }
}

fn write_extension(ext: &Extension, out: &mut Vec<u8>) -> Result<(), RtpError> {
    let header_at = out.len();
    out.extend_from_slice(&[0; 4]);
    let profile = match ext {
        Extension::OneByte(els) => {
            for el in els {
                // §4.2: id 15 is reserved and stops parsing, length is 1–16.
                if !(1..=14).contains(&el.id) || !(1..=16).contains(&el.data.len()) {
                    return Err(RtpError::ExtensionOutOfRange(el.id, el.data.len()));
                }
                out.push(el.id << 4 | (el.data.len() as u8 - 1));
                out.extend_from_slice(&el.data);
            }
            ONE_BYTE_PROFILE
        }
        Extension::TwoByte { appbits, elements } => {
            for el in elements {
                if el.id == 0 || el.data.len() > 255 {
                    return Err(RtpError::ExtensionOutOfRange(el.id, el.data.len()));
                }
                out.push(el.id);
                out.push(el.data.len() as u8);
                out.extend_from_slice(&el.data);
            }
            TWO_BYTE_PROFILE | u16::from(appbits & 0x0F)
        }
        Extension::Raw { profile, data } => {
            out.extend_from_slice(data);
            *profile
        }
    };
    // §5.3.1: the body is whole 32-bit words; RFC 8285 pads with zero octets.
    while (out.len() - header_at) & 3 != 0 {
        out.push(0);
    }
    let words = (out.len() - header_at - 4) / 4;
    let words = u16::try_from(words).map_err(|_| RtpError::ExtensionTooLong)?;
    out[header_at..header_at + 2].copy_from_slice(&profile.to_be_bytes());
    out[header_at + 2..header_at + 4].copy_from_slice(&words.to_be_bytes());
    Ok(())
}

/// Walks RFC 8285 elements; yields nothing for non-8285 profiles.
struct ElementIter<'a> {
    form: Form,
    body: &'a [u8],
    pos: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Form {
    One,
    Two,
    Other,
}

impl<'a> ElementIter<'a> {
    fn new(profile: u16, body: &'a [u8]) -> Self {
        let form = if profile == ONE_BYTE_PROFILE {
            Form::One
        } else if profile & TWO_BYTE_PROFILE_MASK == TWO_BYTE_PROFILE {
            Form::Two
        } else {
            Form::Other
        };
        Self { form, body, pos: 0 }
    }
}

impl<'a> Iterator for ElementIter<'a> {
    type Item = Result<(u8, &'a [u8]), RtpError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.form == Form::Other || self.pos >= self.body.len() {
                return None;
            }
            let b = self.body[self.pos];
            // Zero octets are padding between elements in both forms (§4.2, §4.3).
            if b == 0 {
                self.pos += 1;
                continue;
            }
            let (id, len, hdr) = match self.form {
                Form::One => {
                    let id = b >> 4;
                    if id == 15 {
                        // §4.2: id 15 means stop processing the extension.
                        self.pos = self.body.len();
                        return None;
                    }
                    (id, usize::from(b & 0x0F) + 1, 1)
                }
                _ => {
                    let Some(&len) = self.body.get(self.pos + 1) else {
                        self.pos = self.body.len();
                        return Some(Err(RtpError::BadExtensionElement));
                    };
                    (b, usize::from(len), 2)
                }
            };
            let start = self.pos + hdr;
            let end = start + len;
            if end > self.body.len() {
                self.pos = self.body.len();
                return Some(Err(RtpError::BadExtensionElement));
            }
            self.pos = end;
            return Some(Ok((id, &self.body[start..end])));
        }
    }
}

pub(crate) fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}
