//! The proxy's own timers (group timeouts, per-target answer timeouts, Timer C of §16.8)
//! and context cleanup.

use std::cmp::Reverse;
use std::time::Instant;

use sb_sip_core::TsxId;
use sb_sip_msg::StatusCode;

use super::{Proxy, Wake};
use crate::context::Context;
use crate::types::ContextId;

impl Proxy {
    pub(super) fn schedule(&mut self, ctx: ContextId) {
        if let Some(at) = self.contexts.get(&ctx).and_then(Context::next_deadline) {
            self.wakeups.push(Reverse((at, Wake::Ctx(ctx))));
        }
    }

    pub(super) fn on_context_timers(&mut self, now: Instant, ctx: ContextId) {
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return;
        };
        // A group unanswered for its timeout: leave it ringing only if nothing follows
        // (neither a group nor the exhausted-plan question).
        if c.group_deadline.is_some_and(|d| d <= now) {
            c.group_deadline = None;
            let follows = !c.groups.is_empty() || c.ask_when_exhausted;
            if follows && !c.no_new_branches && !c.final_sent {
                c.group_timed_out = true;
                let current = c.groups_started - 1;
                let mut to_cancel = Vec::new();
                for b in c.branches.iter_mut().filter(|b| b.group == current) {
                    if b.is_pending() {
                        b.abandoned = true;
                        b.final_status = Some(StatusCode::REQUEST_TERMINATED);
                        if !b.cancelled {
                            b.cancelled = true;
                            to_cancel.push(b.tsx);
                        }
                    }
                }
                // RFC 3326: the callee's phone stops ringing because nobody answered in
                // time, not because the caller hung up.
                let reason = [super::response::reason_header(408, "Unanswered")];
                for tsx in to_cancel {
                    let _ = self.layer.cancel_with_headers(now, tsx, &reason);
                }
                self.advance(now, ctx);
            }
        }
        // Answer timeouts: a next hop that sent nothing at all is given up on.
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return;
        };
        let silent: Vec<usize> = c
            .branches
            .iter()
            .enumerate()
            .filter(|(_, b)| b.is_pending() && b.answer_deadline.is_some_and(|t| t <= now))
            .map(|(i, _)| i)
            .collect();
        for i in silent {
            self.give_up_branch(now, ctx, i);
        }
        // Timer C (§16.8): CANCEL a branch that rang too long; one that never answered
        // at all counts as 408. A branch already cancelled gets 64*T1 to confirm (§9.1)
        // and then counts as 408 too, so a callee that ignores CANCEL cannot pin the
        // context.
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return;
        };
        let expired: Vec<usize> = c
            .branches
            .iter()
            .enumerate()
            .filter(|(_, b)| b.is_pending() && b.timer_c.is_some_and(|t| t <= now))
            .map(|(i, _)| i)
            .collect();
        let grace = self.layer.config().t1_x64();
        for i in expired {
            let Some(c) = self.contexts.get_mut(&ctx) else {
                return;
            };
            let b = &mut c.branches[i];
            if b.cancelled || !b.provisional {
                b.timer_c = None;
                if !b.cancelled {
                    b.cancelled = true;
                    let _ = self.layer.cancel(now, b.tsx);
                }
                self.synthesize(now, ctx, i, StatusCode::REQUEST_TIMEOUT);
            } else {
                b.cancelled = true;
                b.timer_c = Some(now + grace);
                let _ = self.layer.cancel(now, b.tsx);
            }
        }
        self.schedule(ctx);
    }

    pub(super) fn on_terminated(&mut self, tsx: TsxId) {
        if let Some((ctx, idx)) = self.by_client.remove(&tsx) {
            // A client transaction that ended without telling us a final (should not
            // happen; the layer reports Timeout or TransportError first) still ends.
            if let Some(c) = self.contexts.get_mut(&ctx) {
                if c.branches[idx].is_pending() {
                    self.by_client.insert(tsx, (ctx, idx));
                    return;
                }
            }
            self.maybe_drop(ctx);
        }
        if let Some(ctx) = self.by_server.remove(&tsx) {
            self.maybe_drop(ctx);
        }
    }

    /// Forgets a context once it answered and every branch is finished.
    pub(super) fn maybe_drop(&mut self, ctx: ContextId) {
        let Some(c) = self.contexts.get(&ctx) else {
            return;
        };
        if !(c.final_sent && c.is_settled()) {
            return;
        }
        let c = self.contexts.remove(&ctx).expect("present above");
        for b in &c.branches {
            self.by_client.remove(&b.tsx);
        }
    }
}
