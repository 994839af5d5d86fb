//! Parse errors, sorted by what the receiver does about them.

use crate::msg::StatusCode;

/// What kind of failure a parse error is; decides the status code a server answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// Malformed start line, header or body framing: answer 400 (requests) / drop (responses).
    Syntax,
    /// A SIP-Version other than SIP/2.0: 505.
    Version,
    /// The message is bigger than the configured maximum: 513 (requests) / drop.
    TooLarge,
    /// A stream's framing cannot be recovered (bad Content-Length, garbage): close the connection.
    Framing,
}

/// A parse error with a human-readable reason that names the header and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct ParseError {
    pub kind: ParseErrorKind,
    /// The header at fault, if one is.
    pub header: Option<String>,
    pub reason: String,
    /// Whether the bytes were a request (so a response can be sent) or a response (drop).
    pub is_request: bool,
}

impl ParseError {
    pub fn syntax(header: Option<&str>, reason: impl Into<String>) -> Self {
        ParseError {
            kind: ParseErrorKind::Syntax,
            header: header.map(str::to_string),
            reason: reason.into(),
            is_request: true,
        }
    }
}

impl TryFrom<&ParseError> for StatusCode {
    type Error = ();

    /// The status a server answers a request that failed to parse with; `Err(())` when the
    /// message must be dropped silently (a response, RFC 3261 §18.1.2 / §18.2.2).
    fn try_from(e: &ParseError) -> Result<StatusCode, ()> {
        if !e.is_request {
            return Err(());
        }
        Ok(match e.kind {
            ParseErrorKind::Version => StatusCode::VERSION_NOT_SUPPORTED,
            ParseErrorKind::TooLarge => StatusCode(513),
            ParseErrorKind::Syntax | ParseErrorKind::Framing => StatusCode::BAD_REQUEST,
        })
    }
}

/// Something the parser tolerated instead of refusing (see `LINT-VERDICTS.md` of the torture
/// corpus): reported so a linter or a log can say so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseWarning {
    /// The header concerned, if one is.
    pub header: Option<String>,
    pub message: String,
}

impl std::fmt::Display for ParseWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
