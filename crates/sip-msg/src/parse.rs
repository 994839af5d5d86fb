//! The parser: bytes to [`Message`]. Liberal where RFC 4475 allows, strict where it asks.

use crate::error::ParseError;
use crate::msg::Message;

/// Parses one message from one datagram (or one file): the body is framed by Content-Length,
/// octets after it are ignored (RFC 4475 §3.1.1.8), and a datagram without Content-Length
/// takes the rest of the datagram as its body (RFC 3261 §18.3).
pub fn parse_datagram(bytes: &[u8]) -> Result<Message, ParseError> {
    let _ = bytes;
    todo!("parser")
}
