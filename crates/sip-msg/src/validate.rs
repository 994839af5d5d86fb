//! Checks applied after a message parsed: what turns a parsed message into one a server
//! processes or answers with 400.

use crate::msg::Message;

/// Why a parsed message is not processable; `reason` names the header and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Invalid {
    pub header: Option<String>,
    pub reason: String,
}

/// Mandatory headers, CSeq method, duplicated single-value headers, ranges.
pub fn validate(msg: &Message) -> Result<(), Invalid> {
    let _ = msg;
    todo!("validate")
}
