//! Errors found when configuration or a user's rules are loaded or set. Routing a call
//! never fails with an error: a call that cannot be routed is a [`crate::Decision::Reject`].

use crate::ids::{DialPlanName, PbxName, PolicyName, RouteName, SiteName, UserId};

/// Configuration that cannot be loaded; every message names the item at fault so an
/// administrator can find it in the site file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("dial_plan \"{plan}\" rule {rule}: {reason}")]
    DialPlanRule {
        plan: DialPlanName,
        rule: usize,
        reason: String,
    },
    #[error("route \"{route}\": {reason}")]
    Route { route: RouteName, reason: String },
    #[error("voice_policy \"{policy}\": {reason}")]
    Policy { policy: PolicyName, reason: String },
    #[error("site \"{site}\": {reason}")]
    Site { site: SiteName, reason: String },
    #[error("pbx \"{pbx}\": {reason}")]
    Pbx { pbx: PbxName, reason: String },
    #[error("{what} \"{name}\" is defined twice")]
    Duplicate { what: &'static str, name: String },
    #[error("{0}")]
    Other(String),
}

/// A user's call handling rules that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    #[error("{user}: {rule}: {target:?} is neither a SIP URI nor a number: {reason}")]
    BadTarget {
        user: UserId,
        rule: &'static str,
        target: String,
        reason: String,
    },
    #[error("{user}: {rule}: {reason}")]
    Unroutable {
        user: UserId,
        rule: &'static str,
        reason: String,
    },
    #[error("{user}: forward unanswered: {secs} s is outside {min}..={max} s")]
    Timer {
        user: UserId,
        secs: u32,
        min: u32,
        max: u32,
    },
}
