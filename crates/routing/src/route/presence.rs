//! The callee's presence in a routing decision (the table is in [`crate::presence`]).

use super::Cx;
use crate::decision::Decision;
use crate::directory::UserEntry;
use crate::history::{History, RedirectCause};
use crate::trace::Step;

impl Cx<'_> {
    /// What the callee's presence decides for this call, if anything: `Some` ends the
    /// routing of the call to `u` (a forward or a rejection), `None` lets it ring.
    pub(super) fn presence_rule(&mut self, u: &UserEntry, history: &History) -> Option<Decision> {
        let facts = self.dir.presence(&u.id, &self.caller)?;
        let note = |cx: &mut Self, effect: &str| {
            cx.trace.push(Step::Presence {
                user: u.id.to_string(),
                state: facts.shown.clone(),
                effect: effect.to_string(),
            });
        };
        if facts.dnd && !facts.caller_passes_dnd {
            let target = u
                .rules
                .forward_unavailable
                .as_ref()
                .or(u.rules.forward_offline.as_ref());
            return Some(match target {
                Some(t) => {
                    note(self, "unavailable: forward");
                    self.redirect(u, t, RedirectCause::DoNotDisturb, history)
                }
                None => {
                    note(self, "unavailable, and no rule for it: reject");
                    Decision::reject(480, "do not disturb")
                }
            });
        }
        if facts.in_call {
            return Some(match &u.rules.forward_busy {
                Some(t) => {
                    note(self, "busy: forward without ringing");
                    self.redirect(u, t, RedirectCause::Busy, history)
                }
                None => {
                    note(self, "busy, and no busy rule: reject without ringing");
                    Decision::reject(486, "Busy Here")
                }
            });
        }
        if facts.dnd {
            note(self, "the caller passes do not disturb: ring");
        } else {
            note(self, "no effect: ring");
        }
        None
    }
}
