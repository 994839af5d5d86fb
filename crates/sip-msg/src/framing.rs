//! Stream framing for TCP, TLS (RFC 3261 §18.3): check then parse.
//!
//! On a stream, Content-Length is the only thing that says where a message ends, so it is
//! mandatory; a missing, malformed or doubled one loses the framing for good and the caller
//! closes the connection. Between messages, RFC 5626 §4.4.1 keep-alives appear: CRLF CRLF
//! is a ping, a single CRLF the pong. A lone CRLF at the end of the buffer may be the first
//! half of a ping, so a server-side framer waits for the next octet before calling it a
//! pong; a client-side framer ([`StreamFramer::new_client`]) never receives pings and
//! reports every CRLF as a pong at once.

use crate::error::{ParseError, ParseErrorKind};
use crate::msg::Message;
use crate::parse::parse_datagram;

/// Default largest message accepted on a stream or in a datagram.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 * 1024;

/// What the framer found in its buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framed {
    /// One whole message (parsed, or failed to parse with its framing intact).
    Message(Result<Message, ParseError>),
    /// A CRLF CRLF keep-alive ping (RFC 5626 §4.4.1): answer with a single CRLF pong.
    Ping,
    /// A single CRLF pong.
    Pong,
}

/// Buffers a byte stream and yields whole messages.
#[derive(Debug)]
pub struct StreamFramer {
    /// Received bytes; those before `start` are already framed and wait to be dropped in
    /// bulk, so many small messages in one read do not each move the rest of the buffer.
    buf: Vec<u8>,
    start: usize,
    max: usize,
    /// Where the search for the end of the header section resumes (bytes before it were
    /// already searched), so a slowly arriving header section is scanned once.
    scanned: usize,
    client: bool,
    /// The length of the message being received, once its header section was read.
    pending: Option<usize>,
    failed: Option<ParseError>,
}

impl StreamFramer {
    /// A framer for the accepting side of a connection (receives pings).
    pub fn new(max_message_size: usize) -> Self {
        StreamFramer {
            buf: Vec::new(),
            start: 0,
            max: max_message_size,
            scanned: 0,
            client: false,
            pending: None,
            failed: None,
        }
    }

    /// A framer for the connecting side (receives pongs, never pings): every CRLF between
    /// messages is reported as [`Framed::Pong`] as soon as it arrives.
    pub fn new_client(max_message_size: usize) -> Self {
        StreamFramer {
            client: true,
            ..StreamFramer::new(max_message_size)
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next framed item; `Ok(None)` when more bytes are needed; `Err` when framing is
    /// lost (the caller closes the connection). Once it has returned `Err` it keeps
    /// returning the same error.
    // Not an Iterator: "need more bytes" and "framing lost" are different answers.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Framed>, ParseError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.step() {
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
            ok => ok,
        }
    }

    /// Bytes buffered and not yet framed.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    fn live(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.scanned = 0;
        self.pending = None;
    }

    fn step(&mut self) -> Result<Option<Framed>, ParseError> {
        if let Some(total) = self.pending {
            return Ok(self.take_message(total));
        }
        let b = self.live();
        if b.starts_with(b"\r\n") {
            if self.client {
                self.consume(2);
                return Ok(Some(Framed::Pong));
            }
            if b.len() < 4 && b"\r\n\r\n".starts_with(b) {
                return Ok(None);
            }
            if b.starts_with(b"\r\n\r\n") {
                self.consume(4);
                return Ok(Some(Framed::Ping));
            }
            self.consume(2);
            return Ok(Some(Framed::Pong));
        }
        if b.is_empty() || b == b"\r" {
            return Ok(None);
        }
        let from = self.scanned.saturating_sub(3);
        let Some(end) = find(&b[from..], b"\r\n\r\n").map(|i| from + i + 4) else {
            if b.len() > self.max {
                return Err(self.error(
                    ParseErrorKind::TooLarge,
                    None,
                    format!(
                        "header section exceeds the maximum message size of {} octets",
                        self.max
                    ),
                ));
            }
            self.scanned = b.len();
            return Ok(None);
        };
        if end > self.max {
            return Err(self.error(
                ParseErrorKind::TooLarge,
                None,
                format!(
                    "header section exceeds the maximum message size of {} octets",
                    self.max
                ),
            ));
        }
        let cl = self.content_length(end)?;
        let total = end
            .checked_add(cl)
            .filter(|&t| t <= self.max)
            .ok_or_else(|| {
                self.error(
                    ParseErrorKind::TooLarge,
                    Some("Content-Length"),
                    format!(
                        "Content-Length: {cl} makes the message exceed the maximum of {} octets",
                        self.max
                    ),
                )
            })?;
        self.pending = Some(total);
        Ok(self.take_message(total))
    }

    /// The message of `total` octets at the front of the buffer, once it is all there.
    fn take_message(&mut self, total: usize) -> Option<Framed> {
        if self.live().len() < total {
            return None;
        }
        let parsed = parse_datagram(&self.live()[..total]);
        self.consume(total);
        Some(Framed::Message(parsed))
    }

    /// Reads Content-Length from the header section `buf[..end]`, checking only what framing
    /// needs; the full parse comes once the body is in.
    fn content_length(&self, end: usize) -> Result<usize, ParseError> {
        let head = &self.live()[..end];
        let mut found: Option<u64> = None;
        let lines: Vec<&[u8]> = head.split(|&c| c == b'\n').skip(1).collect();
        let is_fold = |l: &[u8]| l.first().is_some_and(|c| *c == b' ' || *c == b'\t');
        for (i, line) in lines.iter().enumerate() {
            let Some(colon) = line.iter().position(|&c| c == b':') else {
                continue;
            };
            if is_fold(line) {
                continue;
            }
            let name = trim(&line[..colon]);
            if !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")) {
                continue;
            }
            // The value may continue on folded lines (RFC 3261 §7.3.1).
            let mut joined = trim(&line[colon + 1..]).to_vec();
            for cont in lines[i + 1..].iter().take_while(|l| is_fold(l)) {
                joined.extend_from_slice(trim(cont));
            }
            let value = joined.as_slice();
            let n = std::str::from_utf8(value)
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|&n| n <= u64::from(u32::MAX))
                .ok_or_else(|| {
                    self.error(
                        ParseErrorKind::Framing,
                        Some("Content-Length"),
                        format!(
                            "Content-Length: '{}' is not a valid length",
                            String::from_utf8_lossy(value)
                        ),
                    )
                })?;
            if found.is_some_and(|f| f != n) {
                return Err(self.error(
                    ParseErrorKind::Framing,
                    Some("Content-Length"),
                    "Content-Length: given twice with different values".into(),
                ));
            }
            found = Some(n);
        }
        let n = found.ok_or_else(|| {
            self.error(
                ParseErrorKind::Framing,
                Some("Content-Length"),
                "Content-Length: missing, and a stream transport needs it (RFC 3261 §18.3)".into(),
            )
        })?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn error(&self, kind: ParseErrorKind, header: Option<&str>, reason: String) -> ParseError {
        ParseError {
            kind,
            header: header.map(str::to_string),
            reason,
            is_request: !self
                .live()
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/")),
        }
    }
}

fn trim(s: &[u8]) -> &[u8] {
    let ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\r');
    let start = s.iter().position(|c| !ws(c)).unwrap_or(s.len());
    let end = s.iter().rposition(|c| !ws(c)).map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
