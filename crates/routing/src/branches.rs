//! Building and describing branches: Request-URIs for trunk branches and the one-line
//! description a trace shows for each branch.

use crate::config::PbxConfig;
use crate::decision::{Branch, BranchKind};
use crate::dialplan::strip_visual_separators;
use crate::history::HeaderField;
use crate::ids::TrunkName;
use sb_sip_msg::{Params, TelUri, Uri};

/// Whether a user part reads as a number rather than a name: digits, at most a leading
/// `+`, and visual separators.
pub(crate) fn looks_dialled(s: &str) -> bool {
    let d = strip_visual_separators(s);
    let body = d.strip_prefix('+').unwrap_or(&d);
    !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit())
}

/// `tel:+14255551212`, or `tel:4567;phone-context=<context>` for a local number
/// (RFC 3966 §5.1.5 requires the context). Trunk adapters turn these into `sip:` URIs for
/// the trunk's host.
pub(crate) fn tel(number: &str, context: Option<&str>) -> Uri {
    let mut params = Params::new();
    if let Some(c) = context.filter(|_| !number.starts_with('+')) {
        params.set("phone-context", Some(c));
    }
    Uri::Tel(TelUri {
        number: number.to_string(),
        params,
    })
}

pub(crate) fn pbx_uri(pbx: &PbxConfig, number: &str) -> Uri {
    tel(number, Some(pbx.name.as_str()))
}

pub(crate) fn pbx_branch(pbx: &PbxConfig, number: &str) -> Branch {
    Branch {
        kind: BranchKind::Pbx {
            pbx: pbx.name.clone(),
        },
        request_uri: pbx_uri(pbx, number),
        trunks: vec![pbx.trunk.clone()],
        failover: None,
        headers_to_add: Vec::new(),
    }
}

pub(crate) fn describe(b: &Branch) -> String {
    let via = |t: &[TrunkName]| {
        let v: Vec<&str> = t.iter().map(TrunkName::as_str).collect();
        v.join(", then ")
    };
    let marks: Vec<String> = b
        .headers_to_add
        .iter()
        .map(|h: &HeaderField| format!("{}: {}", h.name, h.value))
        .collect();
    let mut s = match &b.kind {
        BranchKind::Endpoint { user } => format!("{} (device of {user})", b.request_uri),
        BranchKind::SimultaneousRingEndpoint { user, of } => {
            format!(
                "{} (device of {user}, simultaneous ring for {of})",
                b.request_uri
            )
        }
        BranchKind::Pstn { route, .. } => {
            format!(
                "{} via {} (route {:?})",
                b.request_uri,
                via(&b.trunks),
                route.as_str()
            )
        }
        BranchKind::Pbx { pbx } => {
            format!(
                "{} via {} (PBX {:?})",
                b.request_uri,
                via(&b.trunks),
                pbx.as_str()
            )
        }
        BranchKind::External => format!("{} (external)", b.request_uri),
    };
    if !marks.is_empty() {
        s.push_str(&format!(" [{}]", marks.join(", ")));
    }
    s
}
