//! The printer: [`Message`] to bytes that parse back to the same value.

use crate::msg::{Message, Request, Response};

impl Request {
    /// The request on the wire, with a Content-Length that matches the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        todo!("printer")
    }
}

impl Response {
    /// The response on the wire, with a Content-Length that matches the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        todo!("printer")
    }
}

impl Message {
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }
}
