//! The steps of a routing decision, for `switchboard route explain` (a dry run that reads
//! like an administrator's notes) and for logs (JSON via serde).

use std::fmt;

use serde::Serialize;

use crate::ids::{DialPlanName, PolicyName, RouteName, TrunkName, Usage};

/// One step of a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// What was asked.
    Request { request_uri: String, caller: String },
    /// A dialled string was normalized by a rule.
    Normalized {
        dialled: String,
        plan: DialPlanName,
        rule: usize,
        pattern: String,
        result: String,
    },
    /// A dialled string was kept as it was already E.164.
    AlreadyE164 { number: String },
    /// A dialled string could not be normalized.
    NotNormalized {
        dialled: String,
        plan: Option<DialPlanName>,
        why: String,
    },
    /// A number or extension was looked up.
    Lookup { query: String, result: String },
    /// Something about the callee (enabled, signed in, PBX line, ...).
    Callee { user: String, detail: String },
    /// A call handling rule applied.
    Rule {
        user: String,
        rule: String,
        target: String,
    },
    /// The callee's presence was consulted: the state used and what it did.
    Presence {
        user: String,
        state: String,
        effect: String,
    },
    /// An outbound route was considered.
    Route {
        route: RouteName,
        pattern: String,
        usage: Usage,
        trunks: Vec<TrunkName>,
    },
    /// The payer's voice policy was checked against a route's usage.
    Policy {
        policy: Option<PolicyName>,
        usage: Usage,
        allowed: bool,
    },
    /// The PBX co-existence mark was added or recognised.
    PbxMark { detail: String },
    /// The branches of a delivery, in order.
    Targets { branches: Vec<String> },
    /// The follow-up computed in advance (forward unanswered / busy) starts here.
    IfLater { condition: String },
    /// The outcome.
    Outcome { text: String },
}

/// One line: a step and how deeply it is nested under follow-ups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceLine {
    pub depth: u8,
    #[serde(flatten)]
    pub step: Step,
}

/// The ordered steps of one routing decision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Trace {
    pub lines: Vec<TraceLine>,
    #[serde(skip)]
    depth: u8,
}

impl Trace {
    pub fn push(&mut self, step: Step) {
        self.lines.push(TraceLine {
            depth: self.depth,
            step,
        });
    }

    /// Steps pushed from now until [`Trace::leave`] belong to a follow-up.
    pub(crate) fn enter(&mut self, condition: String) {
        self.push(Step::IfLater { condition });
        self.depth = self.depth.saturating_add(1);
    }

    pub(crate) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Just the steps, in order.
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.lines.iter().map(|l| &l.step)
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Request {
                request_uri,
                caller,
            } => write!(f, "{:<10} {request_uri} from {caller}", "call"),
            Step::Normalized {
                dialled,
                plan,
                rule,
                pattern,
                result,
            } => write!(
                f,
                "{:<10} {dialled:?} -> {result} (dial plan {:?} rule {rule}: {pattern})",
                "normalize",
                plan.as_str()
            ),
            Step::AlreadyE164 { number } => {
                write!(f, "{:<10} {number} is already E.164", "normalize")
            }
            Step::NotNormalized { dialled, plan, why } => {
                let plan = plan.as_ref().map_or("(none)", |p| p.as_str());
                write!(
                    f,
                    "{:<10} {dialled:?} not normalized by dial plan {plan:?}: {why}",
                    "normalize"
                )
            }
            Step::Lookup { query, result } => write!(f, "{:<10} {query} -> {result}", "lookup"),
            Step::Callee { user, detail } => write!(f, "{:<10} {user}: {detail}", "callee"),
            Step::Rule { user, rule, target } => {
                write!(f, "{:<10} {user}: {rule} -> {target}", "rule")
            }
            Step::Presence {
                user,
                state,
                effect,
            } => write!(f, "{:<10} {user}: {state} -> {effect}", "presence"),
            Step::Route {
                route,
                pattern,
                usage,
                trunks,
            } => {
                let trunks: Vec<&str> = trunks.iter().map(TrunkName::as_str).collect();
                write!(
                    f,
                    "{:<10} {:?} matches ({pattern}, usage {usage}) via {}",
                    "route",
                    route.as_str(),
                    trunks.join(", then ")
                )
            }
            Step::Policy {
                policy,
                usage,
                allowed,
            } => {
                let policy = policy.as_ref().map_or("(none)", |p| p.as_str());
                let verdict = if *allowed { "allows" } else { "does not allow" };
                write!(f, "{:<10} {policy:?} {verdict} {usage}", "policy")
            }
            Step::PbxMark { detail } => write!(f, "{:<10} {detail}", "pbx"),
            Step::Targets { branches } => {
                write!(f, "{:<10}", "targets")?;
                for (i, b) in branches.iter().enumerate() {
                    // One branch per line, aligned under the first.
                    let sep = if i == 0 { " " } else { "\n           " };
                    write!(f, "{sep}{}. {b}", i + 1)?;
                }
                if branches.is_empty() {
                    f.write_str(" none")?;
                }
                Ok(())
            }
            Step::IfLater { condition } => write!(f, "{:<10} {condition}:", "then"),
            Step::Outcome { text } => write!(f, "{:<10} {text}", "result"),
        }
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.lines {
            let indent = usize::from(line.depth) * 2;
            for text in line.step.to_string().lines() {
                writeln!(f, "{:indent$}{text}", "")?;
            }
        }
        Ok(())
    }
}
