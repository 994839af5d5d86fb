//! Per-user call handling rules as `switchboard user add|set --rule NAME=VALUE` and the
//! site file's `rules = { ... }` give them, checked before anything is written.
//!
//! A rule is stored as one entry of the user's `policies` map under its setting name
//! (`forward_busy`, ...; the table is in docs/routing.md). Checking happens in two steps:
//! the settings must read (`sb_routing::apply_settings`: names defined, targets parse,
//! numbers normalize, timer in bounds), then every forward target must be reachable for
//! this user today: it is routed exactly as a call would be, from the user to themselves
//! with the target as their only rule, so a number their voice policy may not call, a
//! user who does not exist or a forward back to themselves is refused now rather than
//! found out when a call fails.

use sb_routing::{
    route, CallRules, Caller, Decision, ForwardTarget, MemoryDirectory, RequestFacts, RoutingTable,
    UserEntry,
};
use sb_sip_msg::Uri;
use sb_store::User;

use crate::directory::{check_rules, RuleProblem, RULE_NAMES};

/// The setting name for a rule name as given, or why it is not one.
pub fn rule_name(name: &str) -> Result<&'static str, String> {
    let name = name.trim();
    RULE_NAMES
        .iter()
        .copied()
        .find(|n| *n == name)
        .ok_or_else(|| {
            format!(
                "{name:?} is not a rule; rules are {}",
                RULE_NAMES.join(", ")
            )
        })
}

/// `NAME=VALUE` as `--rule` takes it.
pub fn parse_assignment(s: &str) -> Result<(&'static str, String), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not NAME=VALUE"))?;
    let name = rule_name(name)?;
    let value = value.trim();
    if value.is_empty() {
        return Err(format!(
            "{name} has no value (to remove a rule use --clear-rule {name})"
        ));
    }
    Ok((name, value.to_string()))
}

/// Checks `user`'s rules (as they will be stored) against the configuration and the
/// directory, which must hold every other user and number; `user` is added to it (as it
/// will be stored) for the check.
pub fn validate(
    table: &RoutingTable,
    dir: &mut MemoryDirectory,
    user: &User,
) -> Result<(), RuleProblem> {
    let entry = check_rules(table, user)?;
    if let Some(secs) = user.policies.get("forward_unanswered_secs") {
        // Routing reads the timer only with a target; checked anyway so a timer set
        // before its target is not a surprise later.
        let l = table.config().limits;
        let ok = secs
            .trim()
            .parse::<u32>()
            .is_ok_and(|s| (l.min_unanswered_secs..=l.max_unanswered_secs).contains(&s));
        if !ok {
            return Err(RuleProblem {
                field: "forward_unanswered_secs",
                reason: format!(
                    "{secs:?} is not a number of seconds in {}..={}",
                    l.min_unanswered_secs, l.max_unanswered_secs
                ),
            });
        }
    }
    let main = user
        .line_uri
        .as_ref()
        .filter(|l| l.extension.is_some())
        .and_then(|l| sb_routing::E164::parse(l.number.as_str()));
    dir.add_user(entry.clone(), main.as_ref());
    let r = &entry.rules;
    let targets = [
        ("forward_all", r.forward_all.as_ref()),
        ("forward_busy", r.forward_busy.as_ref()),
        ("forward_offline", r.forward_offline.as_ref()),
        (
            "forward_unanswered",
            r.forward_unanswered.as_ref().map(|u| &u.target),
        ),
        ("simultaneous_ring", r.simultaneous_ring.as_ref()),
    ];
    let mut result = Ok(());
    for (field, target) in targets {
        let Some(target) = target else { continue };
        if let Err(reason) = reachable(table, dir, &entry, target) {
            result = Err(RuleProblem { field, reason });
            break;
        }
    }
    dir.users.insert(entry.id.clone(), entry);
    result
}

/// Routes a call from `entry` to themselves with `target` as their one rule (forward
/// all): what routing does with the target when the rule fires.
fn reachable(
    table: &RoutingTable,
    dir: &mut MemoryDirectory,
    entry: &UserEntry,
    target: &ForwardTarget,
) -> Result<(), String> {
    let host = entry.id.as_str().rsplit_once('@').map_or("", |(_, h)| h);
    if !table.serves_domain(host) {
        // Calls never reach this user through routing, so no rule of theirs fires.
        return Ok(());
    }
    let mut probe = entry.clone();
    probe.enabled = true;
    probe.rules = CallRules {
        forward_all: Some(target.clone()),
        ..CallRules::default()
    };
    dir.users.insert(probe.id.clone(), probe);
    let own: Uri = entry
        .id
        .as_str()
        .parse()
        .map_err(|e| format!("{}: {e}", entry.id))?;
    let facts = RequestFacts::new(own, "rule-check");
    let routed = route(&facts, &Caller::User(entry.id.clone()), &*dir, table);
    match routed.decision {
        Decision::Deliver(_) => Ok(()),
        // Not signed in or disabled now: may change before a call comes.
        Decision::Reject { status: 480, .. } => Ok(()),
        Decision::Reject { status, reason } => {
            Err(format!("{target} cannot be reached: {status} {reason}"))
        }
    }
}

/// Whether a user's stored policies name any rule (for `user show`).
pub fn is_rule(name: &str) -> bool {
    RULE_NAMES.contains(&name)
}
