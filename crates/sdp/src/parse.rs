//! The parser (RFC 8866 §5, §9) and the printer.
//!
//! Tolerant where real peers differ harmlessly: LF or CRLF, trailing whitespace, blank
//! lines, lines we have no use for (kept). Strict where a wrong guess would send media to
//! the wrong place: the `v o s t` skeleton, `m=` port and proto, `c=` addresses, numbers
//! in range, and typed attributes.

use crate::attr::{is_token, Attribute};
use crate::model::*;
use std::fmt;

/// Largest description we parse: far above any real offer, small enough for a shard.
pub const MAX_SIZE: usize = 64 * 1024;
/// Most lines we parse.
pub const MAX_LINES: usize = 2048;
/// Most `m=` sections we parse.
pub const MAX_MEDIA: usize = 64;

/// A description we refuse, and the line (1-based; 0 for the whole text) that made us.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SDP line {line}: {kind}")]
pub struct ParseError {
    pub line: usize,
    pub kind: ParseErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    #[error("description larger than {MAX_SIZE} bytes")]
    TooLarge,
    #[error("more than {MAX_LINES} lines or {MAX_MEDIA} media sections")]
    TooManyLines,
    #[error("not UTF-8")]
    NotUtf8,
    #[error("not a <type>=<value> line")]
    NotALine,
    #[error("the first line must be v=0")]
    Version,
    #[error("missing {0}= line")]
    Missing(char),
    #[error("second {0}= line")]
    Duplicate(char),
    #[error("bad o= line")]
    Origin,
    #[error("bad c= line")]
    Connection,
    #[error("bad b= line")]
    Bandwidth,
    #[error("bad t= line")]
    Timing,
    #[error("bad m= line: {0}")]
    Media(String),
    #[error("bad attribute: {0}")]
    Attribute(String),
}

/// Parses a description from bytes (a SIP body).
pub fn parse(bytes: &[u8]) -> Result<SessionDescription, ParseError> {
    if bytes.len() > MAX_SIZE {
        return Err(err(0, ParseErrorKind::TooLarge));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| err(0, ParseErrorKind::NotUtf8))?;
    parse_str(text)
}

fn err(line: usize, kind: ParseErrorKind) -> ParseError {
    ParseError { line, kind }
}

/// Parses a description from text.
pub fn parse_str(text: &str) -> Result<SessionDescription, ParseError> {
    if text.len() > MAX_SIZE {
        return Err(err(0, ParseErrorKind::TooLarge));
    }
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, trim_line_end(l)))
        .filter(|(_, l)| !l.is_empty())
        .peekable();

    let mut next = |want: char| -> Result<(usize, &str), ParseError> {
        let (n, l) = lines.next().ok_or(err(0, ParseErrorKind::Missing(want)))?;
        let (kind, value) = split_line(n, l)?;
        if kind != want {
            return Err(err(n, ParseErrorKind::Missing(want)));
        }
        Ok((n, value))
    };
    let (n, v) = next('v')?;
    if v.trim() != "0" {
        return Err(err(n, ParseErrorKind::Version));
    }
    let (n, o) = next('o')?;
    let origin = parse_origin(o).ok_or(err(n, ParseErrorKind::Origin))?;
    let (_, s) = next('s')?;
    let mut sd = SessionDescription {
        origin,
        session_name: s.to_string(),
        connection: None,
        bandwidths: Vec::new(),
        timing: Timing::default(),
        other: Vec::new(),
        attributes: Vec::new(),
        media: Vec::new(),
    };
    let mut seen_timing = false;
    let mut count = 3;
    for (n, line) in lines {
        count += 1;
        if count > MAX_LINES || sd.media.len() > MAX_MEDIA {
            return Err(err(n, ParseErrorKind::TooManyLines));
        }
        let (kind, value) = split_line(n, line)?;
        if kind == 'm' {
            sd.media.push(parse_media(n, value)?);
            continue;
        }
        if let Some(m) = sd.media.last_mut() {
            match kind {
                'c' if m.connection.is_some() => {
                    return Err(err(n, ParseErrorKind::Duplicate('c')))
                }
                'c' => m.connection = Some(parse_connection(n, value)?),
                'b' => m.bandwidths.push(parse_bandwidth(n, value)?),
                'a' => m.attributes.push(parse_attribute(n, value)?),
                _ => m.other.push(other(kind, value)),
            }
            continue;
        }
        match kind {
            'c' if sd.connection.is_some() => return Err(err(n, ParseErrorKind::Duplicate('c'))),
            'c' => sd.connection = Some(parse_connection(n, value)?),
            'b' => sd.bandwidths.push(parse_bandwidth(n, value)?),
            't' if !seen_timing => {
                seen_timing = true;
                sd.timing = parse_timing(value).ok_or(err(n, ParseErrorKind::Timing))?;
            }
            'a' => sd.attributes.push(parse_attribute(n, value)?),
            'v' | 'o' | 's' => return Err(err(n, ParseErrorKind::Duplicate(kind))),
            _ => sd.other.push(other(kind, value)),
        }
    }
    if !seen_timing {
        // Several SIP gateways omit t=; RFC 8866 §5.9 makes it mandatory, but a missing
        // "0 0" loses nothing, so we accept it and print it back.
        sd.timing = Timing::default();
    }
    if sd.media.len() > MAX_MEDIA {
        return Err(err(0, ParseErrorKind::TooManyLines));
    }
    // The printer writes i u e p before t= and the rest after; file them the same way so
    // parse(print(x)) == x.
    let (mut before, after): (Vec<_>, Vec<_>) =
        sd.other.drain(..).partition(OtherLine::before_timing);
    before.extend(after);
    sd.other = before;
    Ok(sd)
}

fn other(kind: char, value: &str) -> OtherLine {
    OtherLine {
        kind,
        value: value.to_string(),
    }
}

/// Drops the line ending and trailing blanks. Only CR, space and tab: other characters that
/// Unicode calls white space (a vertical tab, a no-break space) are content, so a value the
/// printer writes with one at its end reads back the same.
fn trim_line_end(line: &str) -> &str {
    line.trim_end_matches(['\r', ' ', '\t'])
}

fn split_line(n: usize, line: &str) -> Result<(char, &str), ParseError> {
    let b = line.as_bytes();
    // RFC 8866 §5: exactly one lowercase letter, then '=' with no space around it.
    if b.len() < 2 || !b[0].is_ascii_lowercase() || b[1] != b'=' {
        return Err(err(n, ParseErrorKind::NotALine));
    }
    Ok((b[0] as char, &line[2..]))
}

fn parse_origin(o: &str) -> Option<Origin> {
    let f: Vec<&str> = o.split_ascii_whitespace().collect();
    let [user, id, version, net, addr_type, addr] = f.as_slice() else {
        return None;
    };
    if !id.bytes().all(|b| b.is_ascii_digit()) || id.is_empty() || id.len() > 64 {
        return None;
    }
    if !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Origin {
        username: user.to_string(),
        session_id: id.to_string(),
        session_version: version.parse().ok()?,
        address: Address {
            net_type: net.to_string(),
            addr_type: addr_type.to_string(),
            address: addr.to_string(),
        },
    })
}

fn parse_connection(n: usize, value: &str) -> Result<Connection, ParseError> {
    let f: Vec<&str> = value.split_ascii_whitespace().collect();
    match f.as_slice() {
        [net, addr_type, address] if address.len() <= 255 => Ok(Connection {
            address: Address {
                net_type: net.to_string(),
                addr_type: addr_type.to_string(),
                address: address.to_string(),
            },
        }),
        _ => Err(err(n, ParseErrorKind::Connection)),
    }
}

fn parse_bandwidth(n: usize, value: &str) -> Result<Bandwidth, ParseError> {
    let (t, v) = value
        .split_once(':')
        .ok_or(err(n, ParseErrorKind::Bandwidth))?;
    if !is_token(t) || v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(n, ParseErrorKind::Bandwidth));
    }
    Ok(Bandwidth {
        bw_type: t.to_string(),
        kbps: v.parse().map_err(|_| err(n, ParseErrorKind::Bandwidth))?,
    })
}

fn parse_timing(value: &str) -> Option<Timing> {
    let f: Vec<&str> = value.split_ascii_whitespace().collect();
    let [start, stop] = f.as_slice() else {
        return None;
    };
    let num = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    Some(Timing {
        start: num(start)?,
        stop: num(stop)?,
    })
}

fn parse_attribute(n: usize, value: &str) -> Result<Attribute, ParseError> {
    Attribute::parse(value).map_err(|e| err(n, ParseErrorKind::Attribute(e)))
}

fn parse_media(n: usize, value: &str) -> Result<MediaDescription, ParseError> {
    let bad = |why: &str| err(n, ParseErrorKind::Media(why.to_string()));
    let mut f = value.split_ascii_whitespace();
    let (Some(media), Some(port), Some(proto)) = (f.next(), f.next(), f.next()) else {
        return Err(bad("needs media, port and proto"));
    };
    if !is_token(media) {
        return Err(bad("bad media type"));
    }
    let (port, count) = match port.split_once('/') {
        Some((p, c)) => (p, Some(c)),
        None => (port, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(port) {
        return Err(bad("port is not a number"));
    }
    let port: u16 = port.parse().map_err(|_| bad("port out of range"))?;
    let port_count = match count {
        Some(c) if digits(c) => Some(c.parse().map_err(|_| bad("port count out of range"))?),
        Some(_) => return Err(bad("port count is not a number")),
        None => None,
    };
    if !proto
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/_-.".contains(&b))
    {
        return Err(bad("bad proto"));
    }
    let proto = Proto::parse(proto);
    let formats: Vec<String> = f.map(str::to_string).collect();
    if formats.is_empty() {
        return Err(bad("no formats"));
    }
    if proto.is_rtp() {
        for fmt in &formats {
            crate::attr::payload_type(fmt).map_err(|e| bad(&e))?;
        }
    }
    Ok(MediaDescription {
        media: media.to_string(),
        port,
        port_count,
        proto,
        formats,
        other: Vec::new(),
        connection: None,
        bandwidths: Vec::new(),
        attributes: Vec::new(),
    })
}

fn write_address(f: &mut fmt::Formatter<'_>, a: &Address) -> fmt::Result {
    write!(f, "{} {} {}", a.net_type, a.addr_type, a.address)
}

fn write_common(
    f: &mut fmt::Formatter<'_>,
    c: &Option<Connection>,
    b: &[Bandwidth],
) -> fmt::Result {
    if let Some(c) = c {
        f.write_str("c=")?;
        write_address(f, &c.address)?;
        f.write_str("\r\n")?;
    }
    for b in b {
        write!(f, "b={}:{}\r\n", b.bw_type, b.kbps)?;
    }
    Ok(())
}

/// The printer: CRLF line ends, RFC 8866 §5 order.
impl fmt::Display for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        write!(
            f,
            "v=0\r\no={} {} {} ",
            o.username, o.session_id, o.session_version
        )?;
        write_address(f, &o.address)?;
        write!(f, "\r\ns={}\r\n", self.session_name)?;
        for l in self.other.iter().filter(|l| l.before_timing()) {
            write!(f, "{}={}\r\n", l.kind, l.value)?;
        }
        write_common(f, &self.connection, &self.bandwidths)?;
        write!(f, "t={} {}\r\n", self.timing.start, self.timing.stop)?;
        for l in self.other.iter().filter(|l| !l.before_timing()) {
            write!(f, "{}={}\r\n", l.kind, l.value)?;
        }
        for a in &self.attributes {
            write!(f, "a={a}\r\n")?;
        }
        for m in &self.media {
            write!(f, "{m}")?;
        }
        Ok(())
    }
}

impl fmt::Display for MediaDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m={} {}", self.media, self.port)?;
        if let Some(c) = self.port_count {
            write!(f, "/{c}")?;
        }
        write!(f, " {}", self.proto)?;
        for fmt in &self.formats {
            write!(f, " {fmt}")?;
        }
        f.write_str("\r\n")?;
        for l in &self.other {
            write!(f, "{}={}\r\n", l.kind, l.value)?;
        }
        write_common(f, &self.connection, &self.bandwidths)?;
        for a in &self.attributes {
            write!(f, "a={a}\r\n")?;
        }
        Ok(())
    }
}
