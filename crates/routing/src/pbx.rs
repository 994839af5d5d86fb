//! Co-existence with an IP-PBX: the mark on requests forked to a PBX, so that the PBX's
//! own fork back to us is recognised and delivered to the user's devices only (no second
//! fork to the PBX, so no loop and no double ring).
//!
//! The mark value is a keyed hash of the Call-ID: a PBX that proxies the call (keeping
//! the Call-ID and unknown headers, as a SIP proxy must, RFC 3261 §16.6) returns it
//! unchanged, and a caller on the PBX side cannot produce it for a different call without
//! the secret.

use crate::config::{MarkConfig, PbxConfig};
use crate::history::HeaderField;
use sb_sip_msg::{Request, Uri};

/// The mark for a call with this Call-ID: 16 hex digits.
pub fn mark_value(pbx: &PbxConfig, call_id: &str) -> String {
    // FNV-1a, 64-bit: stable across builds and platforms, which a mark must be because
    // another process (after a restart, or another front end of the pool) checks it.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = pbx
        .mark_secret
        .as_bytes()
        .iter()
        .chain(std::iter::once(&0u8))
        .chain(call_id.as_bytes());
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Where the mark goes on a branch to the PBX: a header, or a Request-URI parameter.
pub(crate) fn apply_mark(
    pbx: &PbxConfig,
    call_id: &str,
    uri: &mut Uri,
    headers: &mut Vec<HeaderField>,
) {
    let value = mark_value(pbx, call_id);
    match &pbx.mark {
        MarkConfig::Header { name } => headers.push(HeaderField {
            name: name.clone(),
            value,
        }),
        MarkConfig::UriParam { name } => match uri {
            Uri::Sip(s) => s.params.set(name, Some(&value)),
            Uri::Tel(t) => t.params.set(name, Some(&value)),
            Uri::Other { .. } => {}
        },
    }
}

/// The mark a request from `pbx` carries, if any (not yet checked against the Call-ID).
pub fn read_mark(pbx: &PbxConfig, req: &Request) -> Option<String> {
    match &pbx.mark {
        MarkConfig::Header { name } => req.headers.other(name).next().map(str::to_string),
        MarkConfig::UriParam { name } => match &req.uri {
            Uri::Sip(s) => s.params.value(name).map(str::to_string),
            Uri::Tel(t) => t.params.value(name).map(str::to_string),
            Uri::Other { .. } => None,
        },
    }
}
