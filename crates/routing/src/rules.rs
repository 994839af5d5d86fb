//! A user's call handling rules: forwarding (all, unanswered, busy, not signed in,
//! unavailable by presence),
//! simultaneous ring, and whether a deflection (a 302 from one of their devices) is
//! followed. Validated when set ([`validate_rules`]), so routing never meets a target it
//! cannot parse.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::RoutingTable;
use crate::dialplan::{strip_visual_separators, Normalization};
use crate::directory::UserEntry;
use crate::error::RulesError;
use sb_sip_msg::Uri;

/// Where a forward or simultaneous ring goes: a SIP/tel URI, or a number dialled the way
/// the user would dial it (normalized by their dial plan, so policy applies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ForwardTarget {
    Uri(Uri),
    Number(String),
}

impl ForwardTarget {
    /// Parses `sip:carol@example.com`, `tel:+14255550100` or a dialled number
    /// (`+1 425 555 0100`, `5550100`).
    pub fn parse(s: &str) -> Result<ForwardTarget, String> {
        let s = s.trim();
        if s.contains(':') {
            let uri: Uri = s.parse().map_err(|e| format!("{e}"))?;
            return match &uri {
                Uri::Sip(u) if u.user.is_some() => Ok(ForwardTarget::Uri(uri)),
                Uri::Sip(_) => Err("a SIP URI target needs a user part".into()),
                Uri::Tel(_) => Ok(ForwardTarget::Uri(uri)),
                Uri::Other { scheme, .. } => Err(format!("scheme {scheme:?} cannot be called")),
            };
        }
        let digits = strip_visual_separators(s);
        let body = digits.strip_prefix('+').unwrap_or(&digits);
        if body.is_empty() || body.len() > 32 || !body.bytes().all(|b| b.is_ascii_digit()) {
            return Err("a number has digits, an optional leading '+' and separators only".into());
        }
        Ok(ForwardTarget::Number(s.to_string()))
    }
}

impl fmt::Display for ForwardTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardTarget::Uri(u) => write!(f, "{u}"),
            ForwardTarget::Number(n) => f.write_str(n),
        }
    }
}

impl TryFrom<String> for ForwardTarget {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        ForwardTarget::parse(&s)
    }
}

impl From<ForwardTarget> for String {
    fn from(t: ForwardTarget) -> String {
        t.to_string()
    }
}

/// Forward when the user's devices ring for `after_secs` without an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unanswered {
    pub target: ForwardTarget,
    pub after_secs: u32,
}

/// One user's rules. All optional; the default rings the user's devices and nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallRules {
    /// Forward every call at once (RFC 5806 reason `unconditional`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_all: Option<ForwardTarget>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_unanswered: Option<Unanswered>,
    /// Forward when every device answers 486/600 Busy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_busy: Option<ForwardTarget>,
    /// Forward when the user has no registered device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_offline: Option<ForwardTarget>,
    /// Forward when the user is unavailable by presence (do not disturb) and the caller
    /// does not pass it; without it, do not disturb uses `forward_offline`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_unavailable: Option<ForwardTarget>,
    /// Ring this too, in parallel with the user's devices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub simultaneous_ring: Option<ForwardTarget>,
    /// Follow a 302 from one of the user's devices (within the redirection limit).
    pub follow_deflections: bool,
}

impl Default for CallRules {
    fn default() -> Self {
        CallRules {
            forward_all: None,
            forward_unanswered: None,
            forward_busy: None,
            forward_offline: None,
            forward_unavailable: None,
            simultaneous_ring: None,
            follow_deflections: true,
        }
    }
}

/// Checks a rule set for `user` before it is stored: every number target normalizes under
/// the user's dial plan and the unanswered timer is within the configured bounds. Whether
/// the user's policy allows an outbound target is checked per call (policies change), and
/// shows in the trace.
pub fn validate_rules(
    table: &RoutingTable,
    user: &UserEntry,
    rules: &CallRules,
) -> Result<(), RulesError> {
    let targets = [
        ("forward all", rules.forward_all.as_ref()),
        (
            "forward unanswered",
            rules.forward_unanswered.as_ref().map(|u| &u.target),
        ),
        ("forward busy", rules.forward_busy.as_ref()),
        ("forward offline", rules.forward_offline.as_ref()),
        ("forward unavailable", rules.forward_unavailable.as_ref()),
        ("simultaneous ring", rules.simultaneous_ring.as_ref()),
    ];
    for (rule, target) in targets {
        let dialled = match target {
            Some(ForwardTarget::Number(n)) => n.clone(),
            Some(ForwardTarget::Uri(Uri::Tel(t))) => t.number.clone(),
            _ => continue,
        };
        let plan = crate::route::plan_for(table, Some(user));
        let ok = match plan.map(|p| p.normalize(&dialled)) {
            Some(Normalization::Matched { .. } | Normalization::AlreadyE164(_)) => true,
            Some(_) => false,
            None => crate::ids::E164::parse(&strip_visual_separators(&dialled)).is_some(),
        };
        if !ok {
            let plan_name = plan.map_or("(none)".to_string(), |p| p.name().to_string());
            return Err(RulesError::Unroutable {
                user: user.id.clone(),
                rule,
                reason: format!("{dialled:?} does not normalize under dial plan {plan_name:?}"),
            });
        }
    }
    if let Some(u) = &rules.forward_unanswered {
        let l = table.config.limits;
        if !(l.min_unanswered_secs..=l.max_unanswered_secs).contains(&u.after_secs) {
            return Err(RulesError::Timer {
                user: user.id.clone(),
                secs: u.after_secs,
                min: l.min_unanswered_secs,
                max: l.max_unanswered_secs,
            });
        }
    }
    Ok(())
}

/// Parses a target the way the CLI and site file give it, naming the rule on error.
pub fn parse_target(
    user: &UserEntry,
    rule: &'static str,
    s: &str,
) -> Result<ForwardTarget, RulesError> {
    ForwardTarget::parse(s).map_err(|reason| RulesError::BadTarget {
        user: user.id.clone(),
        rule,
        target: s.to_string(),
        reason,
    })
}
