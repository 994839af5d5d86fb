//! Stream framing for TCP, TLS (RFC 3261 §18.3): check then parse.

use crate::error::ParseError;
use crate::msg::Message;

/// Default largest message accepted on a stream or in a datagram.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 * 1024;

/// What the framer found in its buffer.
#[derive(Debug)]
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
    buf: Vec<u8>,
    max: usize,
}

impl StreamFramer {
    pub fn new(max_message_size: usize) -> Self {
        StreamFramer { buf: Vec::new(), max: max_message_size }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next framed item; `Ok(None)` when more bytes are needed; `Err` when framing is
    /// lost (the caller closes the connection).
    pub fn next(&mut self) -> Result<Option<Framed>, ParseError> {
        let _ = self.max;
        todo!("framing")
    }

    /// Bytes buffered and not yet framed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}
