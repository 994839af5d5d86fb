//! Checks applied after a message parsed: what turns a parsed message into one a server
//! processes or answers with 400.
//!
//! The parser keeps anything that is well-formed; these rules are the ones RFC 3261 §8.2
//! and RFC 4475 §3.2-§3.3 apply to a well-formed message. [`lint`] is parse + validate, the
//! verdict `switchboard sip lint` prints.

use crate::error::{ParseError, ParseWarning};
use crate::header::{Header, HeaderName, BRANCH_MAGIC};
use crate::msg::Message;
use crate::parse::parse_datagram_with_warnings;
use crate::uri::Uri;

/// Why a parsed message is not processable; `reason` names the header and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Invalid {
    pub header: Option<String>,
    pub reason: String,
}

impl Invalid {
    fn new(header: &str, reason: impl Into<String>) -> Self {
        Invalid {
            header: Some(header.to_string()),
            reason: reason.into(),
        }
    }
}

/// Headers that carry one value (RFC 3261 §7.3.1): a second, different, value is a 400
/// (RFC 4475 §3.3.8). An identical repetition is harmless and tolerated.
const SINGLE_VALUED: [HeaderName; 9] = [
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
    HeaderName::MaxForwards,
    HeaderName::ContentLength,
    HeaderName::ContentType,
    HeaderName::Expires,
    HeaderName::MinExpires,
];

/// Mandatory headers, CSeq method, duplicated single-value headers, ranges.
pub fn validate(msg: &Message) -> Result<(), Invalid> {
    let h = msg.headers();
    // RFC 3261 §8.1.1: every request carries these; a response copies them (§8.2.6.2).
    for name in [
        HeaderName::Via,
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
    ] {
        if !h.iter().any(|x| x.name() == Some(name)) {
            return Err(Invalid::new(
                name.as_str(),
                format!("{}: missing", name.as_str()),
            ));
        }
    }
    for name in SINGLE_VALUED {
        let mut it = h.iter().filter(|x| x.name() == Some(name));
        if let Some(first) = it.next() {
            if it.any(|other| other != first) {
                return Err(Invalid::new(
                    name.as_str(),
                    format!(
                        "{}: given more than once with different values",
                        name.as_str()
                    ),
                ));
            }
        }
    }
    if let Message::Request(r) = msg {
        let cseq = h.cseq().expect("presence checked above");
        // RFC 3261 §8.2 / RFC 4475 §3.1.2.17: the CSeq method equals the request method, for
        // ACK and CANCEL too.
        if cseq.method.as_str() != r.method.as_str() {
            return Err(Invalid::new(
                "CSeq",
                format!(
                    "CSeq: method {} does not match the request method {}",
                    cseq.method, r.method
                ),
            ));
        }
        // RFC 3261 §19.1.1 (table): headers are not allowed in a Request-URI; RFC 4475
        // §3.1.2.11 lets us refuse them rather than guess.
        if let Uri::Sip(u) = &r.uri {
            if !u.headers.is_empty() {
                return Err(Invalid::new(
                    "Request-URI",
                    "Request-URI: escaped headers ('?...') are not allowed in a Request-URI",
                ));
            }
        }
    }
    // RFC 4475 §3.2.1: the bare magic cookie identifies no transaction.
    if let Some(b) = h.top_via().and_then(|v| v.branch()) {
        if b == BRANCH_MAGIC {
            return Err(Invalid::new(
                "Via",
                "Via: branch is the bare magic cookie z9hG4bK with no transaction identifier",
            ));
        }
    }
    // RFC 3261 §20.17: the Date header is always in GMT (RFC 4475 §3.1.2.12).
    for d in h.other("Date") {
        if !d.ends_with(" GMT") {
            return Err(Invalid::new("Date", format!("Date: '{d}' is not in GMT")));
        }
    }
    if h.iter()
        .any(|x| matches!(x, Header::Contact(crate::header::ContactValue::Star)))
        && h.contacts().count() > 1
    {
        return Err(Invalid::new(
            "Contact",
            "Contact: '*' combined with other values",
        ));
    }
    Ok(())
}

/// A message that lints clean, with what the parser tolerated.
#[derive(Debug, Clone)]
pub struct LintOk {
    pub message: Message,
    pub warnings: Vec<ParseWarning>,
}

/// Why a message lints invalid: it did not parse, or it parsed but a server answers it 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LintError {
    #[error("{0}")]
    Parse(ParseError),
    #[error("{0}")]
    Invalid(Invalid),
}

impl LintError {
    /// The reason, naming the header at fault.
    pub fn reason(&self) -> &str {
        match self {
            LintError::Parse(e) => &e.reason,
            LintError::Invalid(e) => &e.reason,
        }
    }
}

/// Parse + validate: the verdict of `switchboard sip lint` for one raw message.
pub fn lint(bytes: &[u8]) -> Result<LintOk, LintError> {
    let (message, warnings) = parse_datagram_with_warnings(bytes).map_err(LintError::Parse)?;
    validate(&message).map_err(LintError::Invalid)?;
    Ok(LintOk { message, warnings })
}
