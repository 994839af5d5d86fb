//! The redirection history of a call, and the History-Info (RFC 7044) and Diversion
//! (RFC 5806) header values it produces.
//!
//! Each redirection (forward or deflection) from target A to target B:
//! - History-Info: the first redirection records the original target as index `1`; A's
//!   entry gets the response that ended it, as a Reason header escaped into its URI
//!   (`?Reason=SIP%3Bcause%3D486`); B's entry gets index `<A's index>.1`, `mp=<A's index>`
//!   because the new target is another user (RFC 7044 "mapped", as opposed to `rc` for a
//!   contact of the same user), and the `cause` URI parameter (RFC 7044 §9) with the
//!   RFC 4458 value: 302 unconditional, 486 busy, 408 no reply, 404 not available (also
//!   for do not disturb, which RFC 4458 has no value of its own for), 480 deflection
//!   (immediate response).
//! - Diversion: a value naming A with the RFC 5806 `diversion-reason` and `counter=1`,
//!   newest first, for gateways that predate History-Info.

use serde::Serialize;

use crate::ids::UserId;

/// Why a call was redirected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RedirectCause {
    /// Forward all calls.
    Unconditional,
    /// Forward on busy.
    Busy,
    /// Forward when unanswered.
    NoAnswer,
    /// Forward when not signed in.
    Unavailable,
    /// Forward because presence says do not disturb.
    DoNotDisturb,
    /// A device answered 302 (deflection, immediate response).
    Deflection,
}

impl RedirectCause {
    /// The RFC 4458 cause value (a SIP status code).
    pub fn code(self) -> u16 {
        match self {
            RedirectCause::Unconditional => 302,
            RedirectCause::Busy => 486,
            RedirectCause::NoAnswer => 408,
            RedirectCause::Unavailable | RedirectCause::DoNotDisturb => 404,
            RedirectCause::Deflection => 480,
        }
    }

    /// The RFC 5806 `diversion-reason`.
    pub fn diversion_reason(self) -> &'static str {
        match self {
            RedirectCause::Unconditional => "unconditional",
            RedirectCause::Busy => "user-busy",
            RedirectCause::NoAnswer => "no-answer",
            RedirectCause::Unavailable => "unavailable",
            RedirectCause::DoNotDisturb => "do-not-disturb",
            RedirectCause::Deflection => "deflection",
        }
    }

    /// How a trace names it.
    pub fn label(self) -> &'static str {
        match self {
            RedirectCause::Unconditional => "forward all",
            RedirectCause::Busy => "forward busy",
            RedirectCause::NoAnswer => "forward unanswered",
            RedirectCause::Unavailable => "forward offline",
            RedirectCause::DoNotDisturb => "forward unavailable (do not disturb)",
            RedirectCause::Deflection => "deflection",
        }
    }
}

/// One hi-entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// The hi-targeted-to-uri, without cause or Reason (added when printed).
    pub target: String,
    pub index: String,
    /// `mp=`: the index this entry was mapped from.
    pub mp: Option<String>,
    /// The RFC 4458 cause that led to this target.
    pub cause: Option<u16>,
    /// The status that ended this target (printed as an escaped Reason).
    pub reason: Option<u16>,
}

impl HistoryEntry {
    /// The hi-entry as it appears in a History-Info header.
    pub fn to_header_value(&self) -> String {
        let (uri, headers) = match self.target.split_once('?') {
            Some((u, h)) => (u, Some(h)),
            None => (self.target.as_str(), None),
        };
        let mut s = format!("<{uri}");
        if let Some(c) = self.cause {
            s.push_str(&format!(";cause={c}"));
        }
        let mut hdrs: Vec<String> = headers.into_iter().map(str::to_string).collect();
        if let Some(r) = self.reason {
            // The Reason header field escaped into the URI (RFC 7044, RFC 3326 syntax).
            hdrs.push(format!("Reason=SIP%3Bcause%3D{r}"));
        }
        if !hdrs.is_empty() {
            s.push('?');
            s.push_str(&hdrs.join("&"));
        }
        s.push_str(&format!(">;index={}", self.index));
        if let Some(mp) = &self.mp {
            s.push_str(&format!(";mp={mp}"));
        }
        s
    }
}

/// One Diversion value (RFC 5806).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diversion {
    /// The diverting party.
    pub uri: String,
    pub reason: RedirectCause,
    pub counter: u32,
}

impl Diversion {
    pub fn to_header_value(&self) -> String {
        format!(
            "<{}>;reason={};counter={}",
            self.uri,
            self.reason.diversion_reason(),
            self.counter
        )
    }
}

/// A header to put into the forwarded request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeaderField {
    pub name: String,
    pub value: String,
}

/// The redirections a call has been through. Carried in every delivery, so that a later
/// redirection (a deflection the proxy reports back) continues the numbering and loop
/// detection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct History {
    pub entries: Vec<HistoryEntry>,
    /// Newest first, as sent.
    pub diversions: Vec<Diversion>,
    /// Users the call has been offered to, in order: a redirection back to one is a loop.
    pub visited: Vec<UserId>,
}

impl History {
    /// Number of redirections so far.
    pub fn redirections(&self) -> usize {
        self.entries.len().saturating_sub(1)
    }

    /// The history after a redirection from `from` (the current target) to `to`.
    pub fn redirected(&self, from: &str, to: &str, cause: RedirectCause) -> History {
        let mut h = self.clone();
        if h.entries.is_empty() {
            h.entries.push(HistoryEntry {
                target: from.to_string(),
                index: "1".into(),
                mp: None,
                cause: None,
                reason: None,
            });
        }
        let last = h.entries.last_mut().expect("an entry was just ensured");
        last.reason = Some(cause.code());
        let parent = last.index.clone();
        h.entries.push(HistoryEntry {
            target: to.to_string(),
            index: format!("{parent}.1"),
            mp: Some(parent),
            cause: Some(cause.code()),
            reason: None,
        });
        h.diversions.insert(
            0,
            Diversion {
                uri: from.to_string(),
                reason: cause,
                counter: 1,
            },
        );
        h
    }

    /// The History-Info and Diversion headers the forwarded request carries (none before
    /// the first redirection). They replace any the request had.
    pub fn header_fields(&self) -> Vec<HeaderField> {
        let hi = self.entries.iter().map(|e| HeaderField {
            name: "History-Info".into(),
            value: e.to_header_value(),
        });
        let div = self.diversions.iter().map(|d| HeaderField {
            name: "Diversion".into(),
            value: d.to_header_value(),
        });
        hi.chain(div).collect()
    }
}
