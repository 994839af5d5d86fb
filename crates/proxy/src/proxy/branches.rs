//! Starting branches (RFC 3261 §16.6): plans and their groups, per-target fallbacks and
//! answer timeouts, and the question asked when a plan runs out.

use std::time::Instant;

use sb_sip_core::response_for;
use sb_sip_msg::{Method, StatusCode};

use super::{Pending, Proxy};
use crate::context::{best_response, Branch};
use crate::route;
use crate::types::{ContextId, Plan, ProxyEvent, RouteKind, Target};

impl Proxy {
    /// Takes a routing answer's plan. `front`: a redirect's plan, tried before the groups
    /// still waiting; otherwise the plan replaces whatever is left (initial route, or the
    /// answer to [`RouteKind::Exhausted`]).
    pub(super) fn install_plan(&mut self, ctx: ContextId, plan: Plan, front: bool) {
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return;
        };
        if front {
            if !plan.groups.is_empty() {
                c.fresh_plan = true;
            }
            for g in plan.groups.into_iter().rev() {
                c.groups.push_front(g);
            }
            return;
        }
        c.groups = plan.groups.into();
        c.failover = plan.failover;
        c.redirects_left = plan.max_redirects;
        c.record_route = plan.record_route && self.cfg.record_route && !c.in_dialog;
        c.ask_when_exhausted = plan.ask_when_exhausted;
        c.fresh_plan = true;
    }

    /// Starts groups until one has a live branch; when the search is over (§16.7 step 4
    /// "no more branches"), sends the best response, or first asks the caller what to do
    /// next if the plan says so.
    pub(super) fn advance(&mut self, now: Instant, ctx: ContextId) {
        loop {
            let Some(c) = self.contexts.get_mut(&ctx) else {
                return;
            };
            if c.final_sent {
                self.maybe_drop(ctx);
                return;
            }
            if !c.is_settled() {
                return;
            }
            let more =
                !c.no_new_branches && !c.groups.is_empty() && (c.fresh_plan || c.may_fail_over());
            if more {
                self.start_group(now, ctx);
                continue;
            }
            // A 6xx or the caller's CANCEL ended the search: nothing left to ask about.
            if c.ask_when_exhausted && !c.no_new_branches {
                // Asked once per plan; a `Forward` answer brings its own flag.
                c.ask_when_exhausted = false;
                c.groups.clear();
                let kind = RouteKind::Exhausted {
                    best: best_response(&c.responses, &c.request).status,
                    timed_out: c.group_timed_out,
                };
                let (request, from) = (c.request.clone(), c.from);
                self.ask(now, Pending::Exhausted(ctx), kind, request, from);
                return;
            }
            self.send_best(now, ctx);
            return;
        }
    }

    fn start_group(&mut self, now: Instant, ctx: ContextId) {
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return;
        };
        let Some(group) = c.groups.pop_front() else {
            return;
        };
        let group_no = c.groups_started;
        c.groups_started += 1;
        c.group_timed_out = false;
        c.fresh_plan = false;
        c.group_deadline = group.timeout.map(|t| now + t);
        let forked = group.targets.len() > 1
            || !c.groups.is_empty()
            || group_no > 0
            || group.targets.iter().any(|t| !t.fallbacks.is_empty());
        for target in group.targets {
            self.start_branch(now, ctx, target, group_no, forked);
        }
        self.schedule(ctx);
    }

    /// §16.6 steps 1–10 for one target.
    fn start_branch(
        &mut self,
        now: Instant,
        ctx: ContextId,
        target: Target,
        group: usize,
        forked: bool,
    ) {
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return;
        };
        let mut req = c.request.clone();
        // Inside a dialog with a Route left, the target only names the next hop (the top
        // Route, resolved): the Request-URI is the remote target and stays (§16.12).
        if !(c.in_dialog && req.headers.routes().next().is_some()) {
            req.uri = target.uri.clone();
        }
        let mf = if forked {
            c.max_forwards.min(self.cfg.fork_max_forwards)
        } else {
            c.max_forwards
        };
        route::set_max_forwards(&mut req, mf);
        let dialog_creating = matches!(
            req.method,
            Method::Invite | Method::Subscribe | Method::Refer
        );
        if c.record_route && dialog_creating {
            route::insert_record_route(&self.cfg, &mut req, c.inbound, target.peer.transport);
        }
        req.headers.0.extend(target.add_headers.iter().cloned());
        c.branch_seq += 1;
        let via_branch = format!(
            "{}{}.{:x}.{:x}",
            sb_sip_msg::header::BRANCH_MAGIC,
            c.loop_hash,
            ctx.0,
            c.branch_seq
        );
        req.headers.push_via_top(route::our_via(
            &self.cfg,
            target.peer.transport,
            via_branch.clone(),
        ));
        let timer_c = c.is_invite.then(|| now + self.cfg.timer_c);
        let answer_deadline = target.answer_timeout.map(|t| now + t);
        let uri = target.uri.clone();
        let peer = target.peer;
        match self.layer.send_request(now, req, peer) {
            Ok(tsx) => {
                let c = self.contexts.get_mut(&ctx).expect("context checked above");
                let idx = c.branches.len();
                c.branches.push(Branch {
                    tsx,
                    target,
                    group,
                    provisional: false,
                    timer_c,
                    final_status: None,
                    abandoned: false,
                    cancelled: false,
                    via_branch,
                    answer_deadline,
                    given_up: false,
                });
                self.by_client.insert(tsx, (ctx, idx));
                self.events
                    .push_back(ProxyEvent::BranchStarted { ctx, target: uri });
            }
            Err(_) => {
                // Only a malformed request gets here; the branch counts as failed.
                let c = self.contexts.get_mut(&ctx).expect("context checked above");
                let mut r = response_for(&c.request, StatusCode::SERVER_INTERNAL_ERROR);
                r.headers
                    .push_via_top(route::our_via(&self.cfg, peer.transport, String::new()));
                c.responses.push(r);
            }
        }
    }

    /// Trunk and gateway failover inside a branch: branch `idx` ended with `status`; if
    /// its target has fallbacks left and `fallback_on` accepts the status, the next one
    /// starts as a new branch of the same group. Nothing starts once the context stopped
    /// searching (a 2xx, a 6xx, the caller's CANCEL: §16.7 step 5, §16.10), for a branch
    /// its group timeout left behind, or for one we cancelled ourselves (Timer C).
    pub(super) fn try_fallback(&mut self, now: Instant, ctx: ContextId, idx: usize) {
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return;
        };
        if c.final_sent || c.no_new_branches {
            return;
        }
        let b = &mut c.branches[idx];
        let Some(status) = b.final_status else {
            return;
        };
        if b.abandoned
            || (b.cancelled && !b.given_up)
            || b.target.fallbacks.is_empty()
            || !b.target.fallback_on.accepts(status)
        {
            return;
        }
        let mut rest = std::mem::take(&mut b.target.fallbacks);
        let next = rest.remove(0);
        // The list is flat: the chain's rule and remaining list travel with each step.
        let next = Target {
            fallbacks: rest,
            fallback_on: b.target.fallback_on.clone(),
            ..next
        };
        let group = b.group;
        self.start_branch(now, ctx, next, group, true);
        self.schedule(ctx);
    }

    /// A branch's answer timeout passed with no response at all: it counts as 408 now and
    /// its fallback starts. Its transaction keeps running (a CANCEL waits for a
    /// provisional, §9.1), so a late 2xx still reaches the caller.
    pub(super) fn give_up_branch(&mut self, now: Instant, ctx: ContextId, idx: usize) {
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return;
        };
        let b = &mut c.branches[idx];
        if !b.is_pending() {
            return;
        }
        b.answer_deadline = None;
        b.given_up = true;
        let tsx = b.tsx;
        let cancel = c.is_invite && !b.cancelled;
        b.cancelled = true;
        if cancel {
            let _ = self.layer.cancel(now, tsx);
        }
        self.synthesize(now, ctx, idx, StatusCode::REQUEST_TIMEOUT);
    }
}
