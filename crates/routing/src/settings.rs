//! Per-user routing settings as flat name → value pairs, the form the store keeps for a
//! user's policies (and the CLI's `--set name=value` and the site file can write), read
//! into a [`UserEntry`]. Names this module does not know (voicemail, ...) belong to
//! other features and are left alone.
//!
//! | name | value |
//! |---|---|
//! | `site` | a site name |
//! | `dial_plan` | a dial plan name |
//! | `voice_policy` | a voice policy name |
//! | `pbx_line` | `PBX:NUMBER`, e.g. `legacy:4567` |
//! | `forward_all`, `forward_busy`, `forward_offline`, `simultaneous_ring` | a target |
//! | `forward_unavailable` | a target: do not disturb (presence) sends calls here, except from callers who pass DND; without it `forward_offline` applies, without both 480 |
//! | `forward_unanswered` | a target |
//! | `forward_unanswered_secs` | seconds (default 20) |
//! | `follow_deflections` | `on` / `off` |
//!
//! A target is a SIP URI, a tel: URI or a number as the user would dial it.

use std::collections::BTreeMap;

use crate::config::RoutingTable;
use crate::directory::{PbxLine, UserEntry};
use crate::error::RulesError;
use crate::ids::{DialPlanName, PbxName, PolicyName, SiteName};
use crate::rules::{parse_target, validate_rules, Unanswered};

/// The unanswered timer when `forward_unanswered_secs` is not given.
pub const DEFAULT_UNANSWERED_SECS: u32 = 20;

/// Reads the routing settings in `settings` into `user`, then validates the resulting
/// rules against `table` (see [`validate_rules`]). On error `user` is left unchanged.
pub fn apply_settings(
    table: &RoutingTable,
    user: &mut UserEntry,
    settings: &BTreeMap<String, String>,
) -> Result<(), RulesError> {
    let mut u = user.clone();
    let get = |k: &str| settings.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let bad = |rule: &'static str, reason: String| RulesError::Unroutable {
        user: user.id.clone(),
        rule,
        reason,
    };
    if let Some(v) = get("site") {
        if table.site(&SiteName::from(v)).is_none() {
            return Err(bad("site", format!("site \"{v}\" is not defined")));
        }
        u.site = Some(SiteName::from(v));
    }
    if let Some(v) = get("dial_plan") {
        if table.dial_plan(&DialPlanName::from(v)).is_none() {
            return Err(bad(
                "dial plan",
                format!("dial plan \"{v}\" is not defined"),
            ));
        }
        u.dial_plan = Some(DialPlanName::from(v));
    }
    if let Some(v) = get("voice_policy") {
        if table.policy_usages(&PolicyName::from(v)).is_none() {
            return Err(bad(
                "voice policy",
                format!("voice policy \"{v}\" is not defined"),
            ));
        }
        u.voice_policy = Some(PolicyName::from(v));
    }
    if let Some(v) = get("pbx_line") {
        let (pbx, number) = v
            .split_once(':')
            .filter(|(p, n)| !p.is_empty() && !n.is_empty())
            .ok_or_else(|| bad("pbx line", format!("{v:?} is not PBX:NUMBER")))?;
        if table.pbx(&PbxName::from(pbx)).is_none() {
            return Err(bad("pbx line", format!("pbx \"{pbx}\" is not defined")));
        }
        if !number.bytes().all(|b| b.is_ascii_digit() || b == b'+') {
            return Err(bad("pbx line", format!("{number:?} is not a number")));
        }
        u.pbx_line = Some(PbxLine {
            pbx: PbxName::from(pbx),
            number: number.to_string(),
        });
    }
    let target = |rule: &'static str, key: &str| get(key).map(|v| parse_target(user, rule, v));
    u.rules.forward_all = target("forward all", "forward_all").transpose()?;
    u.rules.forward_busy = target("forward busy", "forward_busy").transpose()?;
    u.rules.forward_offline = target("forward offline", "forward_offline").transpose()?;
    u.rules.forward_unavailable =
        target("forward unavailable", "forward_unavailable").transpose()?;
    u.rules.simultaneous_ring = target("simultaneous ring", "simultaneous_ring").transpose()?;
    let secs = match get("forward_unanswered_secs") {
        Some(s) => s.parse::<u32>().map_err(|_| {
            bad(
                "forward unanswered",
                format!("{s:?} is not a number of seconds"),
            )
        })?,
        None => DEFAULT_UNANSWERED_SECS,
    };
    u.rules.forward_unanswered = target("forward unanswered", "forward_unanswered")
        .transpose()?
        .map(|target| Unanswered {
            target,
            after_secs: secs,
        });
    if let Some(v) = get("follow_deflections") {
        u.rules.follow_deflections = match v.to_ascii_lowercase().as_str() {
            "on" | "true" | "yes" => true,
            "off" | "false" | "no" => false,
            _ => return Err(bad("follow deflections", format!("{v:?} is not on or off"))),
        };
    }
    validate_rules(table, &u, &u.rules)?;
    *user = u;
    Ok(())
}
