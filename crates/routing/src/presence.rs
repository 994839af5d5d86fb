//! What routing needs to know about a callee's presence (issue 6), in routing's own small
//! type: the presence core sits above this crate, so the caller aggregates the person's
//! state and applies the callee's access rules to the caller before routing, and hands
//! over only the facts the decision turns on.
//!
//! The rule [`crate::route()`] applies to a call for a user (not to a call that came back
//! from the user's PBX with our mark, which only rings the devices):
//!
//! | presence | caller | what happens |
//! |---|---|---|
//! | do not disturb | passes DND (team or personal level) | rings as usual |
//! | do not disturb | anyone else | `forward_unavailable`, else `forward_offline`, else 480 "do not disturb" |
//! | in a call (with or without DND) | anyone DND lets through | `forward_busy`, else 486 Busy Here, without ringing |
//! | anything else | anyone | rings as usual |
//!
//! `forward_all` still comes first: a user who forwards every call wants that whatever
//! their state. The trace always names the state used.

use serde::{Deserialize, Serialize};

/// A callee's presence as it bears on one call from one caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceFacts {
    /// How the state reads in the trace: "do not disturb", "in a call (on the phone)",
    /// "available", ...
    pub shown: String,
    /// The callee set do not disturb (and it has not lapsed).
    pub dnd: bool,
    /// The callee is in a call now.
    pub in_call: bool,
    /// This caller's access level lets them through do not disturb.
    pub caller_passes_dnd: bool,
}

impl PresenceFacts {
    /// Facts for a state with no effect on routing, shown as `shown`.
    pub fn shown(shown: impl Into<String>) -> PresenceFacts {
        PresenceFacts {
            shown: shown.into(),
            dnd: false,
            in_call: false,
            caller_passes_dnd: false,
        }
    }

    /// Do not disturb, which this caller does not pass.
    pub fn do_not_disturb() -> PresenceFacts {
        PresenceFacts {
            dnd: true,
            ..PresenceFacts::shown("do not disturb")
        }
    }

    /// In a call.
    pub fn in_a_call() -> PresenceFacts {
        PresenceFacts {
            in_call: true,
            ..PresenceFacts::shown("in a call (on the phone)")
        }
    }
}
