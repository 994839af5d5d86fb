//! What the server answers a PUBLISH or SUBSCRIBE with, and the one place where a
//! refusal becomes a status code and headers.

use sb_sip_msg::{ContactValue, Header, NameAddr, Uri};

use crate::notify::other;
use crate::publish::PIDF_CONTENT_TYPE;

/// What to answer a PUBLISH or SUBSCRIBE with. The shell builds the response from the
/// request (Via, From, To, Call-ID, CSeq), adds `headers`, and for SUBSCRIBE puts `to_tag`
/// on the To header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// A reason phrase other than the default for `status`.
    pub reason: Option<String>,
    pub headers: Vec<Header>,
    /// The dialog's local tag (a SUBSCRIBE's 2xx).
    pub to_tag: Option<String>,
}

/// Why a request was refused; [`Reply::from`] maps each to its status and headers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("body is not application/pidf+xml")]
    UnsupportedMediaType,
    #[error("no publication with that entity tag")]
    ConditionalRequestFailed,
    #[error("the list needs Supported: eventlist")]
    EventListRequired,
    #[error("interval too brief, at least {0} s")]
    IntervalTooBrief(u32),
    #[error("no such subscription")]
    NoSuchSubscription,
    #[error("event package not supported here")]
    BadEvent,
}

impl From<&Refusal> for Reply {
    fn from(r: &Refusal) -> Reply {
        let mut headers = Vec::new();
        let (status, reason) = match r {
            Refusal::BadRequest(why) => {
                // The detail goes in a Warning, the status line stays standard.
                headers.push(other(
                    "Warning",
                    format!("399 switchboard \"{}\"", why.replace('"', "'")),
                ));
                (400, None)
            }
            Refusal::Forbidden(why) => (403, Some(why.clone())),
            Refusal::UnsupportedMediaType => {
                headers.push(other("Accept", PIDF_CONTENT_TYPE.to_string()));
                (415, None)
            }
            Refusal::ConditionalRequestFailed => (412, None),
            Refusal::EventListRequired => {
                headers.push(Header::Require("eventlist".into()));
                (421, None)
            }
            Refusal::IntervalTooBrief(min) => {
                headers.push(Header::MinExpires(*min));
                (423, None)
            }
            Refusal::NoSuchSubscription => (481, None),
            Refusal::BadEvent => {
                headers.push(other("Allow-Events", "presence, dialog".to_string()));
                (489, None)
            }
        };
        Reply {
            status,
            reason,
            headers,
            to_tag: None,
        }
    }
}

pub(crate) fn ok(headers: Vec<Header>) -> Reply {
    Reply {
        status: 200,
        reason: None,
        headers,
        to_tag: None,
    }
}

pub(crate) fn subscribe_ok(expires: u32, contact: &Uri, tag: &str) -> Reply {
    Reply {
        status: 200,
        reason: None,
        headers: vec![
            Header::Expires(expires),
            Header::Contact(ContactValue::Addr(NameAddr::new(contact.clone()))),
        ],
        to_tag: Some(tag.to_string()),
    }
}
