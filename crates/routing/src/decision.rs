//! What routing decides, as data the proxy carries out.

use serde::{Serialize, Serializer};

use crate::config::FailoverPolicy;
use crate::history::{HeaderField, History};
use crate::ids::{PbxName, RouteName, TrunkName, UserId, E164};
use crate::trace::Trace;
use sb_sip_msg::Uri;

/// A decision and the steps that led to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Routed {
    pub decision: Decision,
    pub trace: Trace,
}

impl Routed {
    /// Whether the call would be placed (what `route explain` turns into its exit status).
    pub fn is_allowed(&self) -> bool {
        matches!(self.decision, Decision::Deliver(_))
    }
}

/// Where the call goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Answer the caller with this final status; `reason` is the reason phrase (and what a
    /// Warning or a trace shows).
    Reject {
        status: u16,
        reason: String,
    },
    Deliver(Delivery),
}

impl Decision {
    /// A rejection. The reason may quote what the peer sent (a dialled string, a host), so
    /// it is made safe for a status line here: control characters become `?` and it is
    /// cut to [`MAX_REASON_LEN`] characters.
    pub fn reject(status: u16, reason: impl Into<String>) -> Decision {
        Decision::Reject {
            status,
            reason: status_line_safe(&reason.into()),
        }
    }

    pub fn as_delivery(&self) -> Option<&Delivery> {
        match self {
            Decision::Deliver(d) => Some(d),
            Decision::Reject { .. } => None,
        }
    }
}

/// Fork the request to these branches and apply the follow-ups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub branches: Vec<Branch>,
    pub fork: Fork,
    /// If no branch has answered after `after_secs`, cancel them all and carry out `then`
    /// (forward unanswered).
    pub on_no_answer: Option<NoAnswer>,
    /// If the best final response is 486 or 600 (RFC 3261 §16.7 best response), carry out
    /// this instead of relaying it (forward busy).
    pub on_busy: Option<Box<Decision>>,
    /// Headers every branch's request carries (History-Info, Diversion); they replace any
    /// of the same name in the incoming request.
    pub headers_to_add: Vec<HeaderField>,
    /// The redirection history so far; pass it back to [`crate::follow_deflection`].
    pub history: History,
    /// Whether a 302 from one of the callee's devices is followed.
    pub follow_deflections: bool,
}

/// The unanswered-forward follow-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoAnswer {
    pub after_secs: u32,
    pub then: Box<Decision>,
}

/// How the branches are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fork {
    /// All at once; the first 2xx wins and the rest are cancelled (RFC 3261 §16.7).
    Parallel,
    /// One after another, each given `per_branch_secs` to answer. Not produced yet: user
    /// devices ring together and trunk failover lives inside a branch.
    Sequential { per_branch_secs: u32 },
}

/// One branch of the fork.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Branch {
    pub kind: BranchKind,
    /// The Request-URI of the forked request.
    #[serde(serialize_with = "display")]
    pub request_uri: Uri,
    /// For trunk branches: trunks in order; the next is tried when the previous fails as
    /// `failover` says. Empty for branches to registered contacts (resolved normally,
    /// RFC 3263, or through the binding's flow).
    pub trunks: Vec<TrunkName>,
    pub failover: Option<FailoverPolicy>,
    /// Extra headers on this branch only (the PBX co-existence mark).
    pub headers_to_add: Vec<HeaderField>,
}

/// Why a branch exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BranchKind {
    /// A registered device of `user`.
    Endpoint { user: UserId },
    /// A simultaneous-ring target of `user` that is a device of another of our users.
    SimultaneousRingEndpoint { user: UserId, of: UserId },
    /// Out to the PSTN through an outbound route (a call, a forward or a simultaneous ring).
    Pstn { number: E164, route: RouteName },
    /// To a user's extension on a co-existing PBX, or a PBX-owned number.
    Pbx { pbx: PbxName },
    /// A SIP URI outside the domains served here (a forward target).
    External,
}

/// The longest reason phrase a rejection carries.
pub const MAX_REASON_LEN: usize = 200;

fn status_line_safe(s: &str) -> String {
    s.chars()
        .take(MAX_REASON_LEN)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn display<S: Serializer>(u: &Uri, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(u)
}
