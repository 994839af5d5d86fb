//! Responses from branches (RFC 3261 §16.7): relaying provisionals and every 2xx,
//! storing the rest for best-response selection, recursion on 3xx, stateless forwarding
//! of strays (§16.11).

use std::time::Instant;

use sb_sip_core::{response_for, Transmit, TsxId};
use sb_sip_msg::{Header, Message, Method, OtherHeader, Response, StatusCode};

use super::{Pending, Proxy};
use crate::context::best_response;
use crate::route;
use crate::types::{ContextId, ProxyEvent, RouteKind};

impl Proxy {
    pub(super) fn on_response(&mut self, now: Instant, tsx: TsxId, resp: Response) {
        let Some(&(ctx, idx)) = self.by_client.get(&tsx) else {
            // A CANCEL's own response, or a 2xx retransmission after the context ended.
            self.forward_stray(resp);
            return;
        };
        let status = resp.status;
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return;
        };
        // Any answer, even 100, shows the next hop is alive: its answer timeout is over.
        c.branches[idx].answer_deadline = None;
        if status == StatusCode::TRYING {
            return;
        }
        if status.is_provisional() {
            let b = &mut c.branches[idx];
            b.provisional = true;
            // A branch that was given up, cancelled by its group timeout or answered
            // already rings for nobody: the caller does not hear it.
            if b.is_pending() {
                b.timer_c = Some(now + self.cfg.timer_c);
                if !c.final_sent {
                    self.relay(now, ctx, resp);
                }
            }
            self.schedule(ctx);
            return;
        }
        if status.is_success() {
            self.on_branch_2xx(now, ctx, idx, resp);
            return;
        }
        let b = &mut c.branches[idx];
        if !b.is_pending() {
            return;
        }
        b.final_status = Some(status);
        let abandoned = b.abandoned;
        self.events
            .push_back(ProxyEvent::BranchFinished { ctx, status });
        if status.0 >= 300 && status.0 < 400 && c.redirects_left > 0 && !c.no_new_branches {
            let contacts: Vec<sb_sip_msg::Uri> = resp
                .headers
                .contacts()
                .filter_map(|cv| match cv {
                    sb_sip_msg::ContactValue::Addr(a) => Some(a.uri.clone()),
                    sb_sip_msg::ContactValue::Star => None,
                })
                .collect();
            if !contacts.is_empty() {
                c.redirects_left -= 1;
                let request = c.request.clone();
                let from = c.from;
                self.ask(
                    now,
                    Pending::Redirect(ctx, resp),
                    RouteKind::Redirect { status, contacts },
                    request,
                    from,
                );
                return;
            }
        }
        if !abandoned {
            c.responses.push(resp);
        }
        if status.0 >= 600 {
            // §16.7 step 5: a 6xx ends the search; cancel the rest, start nothing new.
            c.no_new_branches = true;
            c.groups.clear();
            let reason = reason_header(status.0, status.default_reason());
            self.cancel_pending(now, ctx, Some(vec![reason]));
        }
        self.try_fallback(now, ctx, idx);
        self.advance(now, ctx);
    }

    /// §16.7 step 5: every 2xx goes upstream at once, also a second one from another fork,
    /// one from a branch we already cancelled or gave up on, and retransmissions: only
    /// the UAC can ACK or BYE the dialogs they create.
    fn on_branch_2xx(&mut self, now: Instant, ctx: ContextId, idx: usize, resp: Response) {
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return;
        };
        let status = resp.status;
        let first_final = !c.final_sent;
        let fresh = c.branches[idx].is_pending();
        c.branches[idx].final_status.get_or_insert(status);
        c.final_sent = true;
        c.no_new_branches = true;
        c.groups.clear();
        // A non-INVITE request has one final answer; later 2xx are absorbed.
        if first_final || c.is_invite {
            self.relay(now, ctx, resp);
        }
        if fresh {
            self.events
                .push_back(ProxyEvent::BranchFinished { ctx, status });
        }
        if first_final {
            self.events.push_back(ProxyEvent::Finished { ctx, status });
            let reason = reason_header(200, "Call completed elsewhere");
            self.cancel_pending(now, ctx, Some(vec![reason]));
        }
        self.maybe_drop(ctx);
    }

    /// A response no transaction wanted. A 2xx whose branch is one of a live context's
    /// (it followed that branch's 487: a downstream forking proxy answered our CANCEL and
    /// then relayed a fork's 200 that crossed it) is handled as that branch's 2xx, so it
    /// can still be the caller's final answer; anything else is forwarded statelessly.
    pub(super) fn on_stray(&mut self, now: Instant, resp: Response) {
        let invite_2xx = resp.status.is_success()
            && resp
                .headers
                .cseq()
                .is_some_and(|c| c.method == Method::Invite);
        let found = invite_2xx
            .then(|| resp.headers.top_via())
            .flatten()
            .filter(|v| route::is_local_via(&self.cfg, v))
            .and_then(|v| v.branch())
            .and_then(|branch| {
                let ctx = ContextId(route::branch_context(branch)?);
                let c = self.contexts.get(&ctx)?;
                let idx = c.branches.iter().position(|b| b.via_branch == branch)?;
                Some((ctx, idx))
            });
        match found {
            Some((ctx, idx)) => self.on_branch_2xx(now, ctx, idx, resp),
            None => self.forward_stray(resp),
        }
    }

    /// A branch failed without a response: Timer B/F (408) or transport (503), §16.7 step 1.
    pub(super) fn on_branch_failed(&mut self, now: Instant, tsx: TsxId, status: StatusCode) {
        let Some(&(ctx, idx)) = self.by_client.get(&tsx) else {
            return;
        };
        self.synthesize(now, ctx, idx, status);
    }

    pub(super) fn synthesize(
        &mut self,
        now: Instant,
        ctx: ContextId,
        idx: usize,
        status: StatusCode,
    ) {
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return;
        };
        let b = &mut c.branches[idx];
        if !b.is_pending() {
            return;
        }
        b.final_status = Some(status);
        let abandoned = b.abandoned;
        if !abandoned {
            let mut r = response_for(&c.request, status);
            r.headers.push_via_top(route::our_via(
                &self.cfg,
                b.target.peer.transport,
                String::new(),
            ));
            c.responses.push(r);
        }
        self.events
            .push_back(ProxyEvent::BranchFinished { ctx, status });
        self.try_fallback(now, ctx, idx);
        self.advance(now, ctx);
    }

    /// Sends a branch's response upstream through the server transaction, our Via popped.
    pub(super) fn relay(&mut self, now: Instant, ctx: ContextId, mut resp: Response) {
        let Some(c) = self.contexts.get(&ctx) else {
            return;
        };
        resp.headers.pop_top_via();
        let server = c.server;
        let success = resp.status.is_success()
            && resp
                .headers
                .cseq()
                .is_some_and(|c| c.method == Method::Invite);
        let copy = success.then(|| resp.clone());
        if self.layer.send_response(now, server, resp).is_err() {
            // The server transaction already answered (a 487 after the caller's CANCEL
            // raced this 2xx): the 2xx still goes upstream, statelessly (RFC 6026 §8.4),
            // because only the caller can ACK and BYE the dialog it creates.
            if let Some(r) = copy {
                if let Some(peer) = r.headers.top_via().and_then(route::via_peer) {
                    self.transmits.push_back(Transmit {
                        to: peer,
                        message: Message::Response(r),
                    });
                }
            }
        }
    }

    pub(super) fn send_best(&mut self, now: Instant, ctx: ContextId) {
        let Some(c) = self.contexts.get_mut(&ctx) else {
            return;
        };
        if c.final_sent {
            self.maybe_drop(ctx);
            return;
        }
        let mut best = best_response(&c.responses, &c.request);
        c.final_sent = true;
        let status = best.status;
        best.headers.pop_top_via();
        let server = c.server;
        let _ = self.layer.send_response(now, server, best);
        self.events.push_back(ProxyEvent::Finished { ctx, status });
        self.maybe_drop(ctx);
    }

    /// §16.11 stateless forwarding of a response with no context: only a 2xx to INVITE
    /// (RFC 6026 §8.4) whose top Via is ours; anything else is absorbed.
    pub(super) fn forward_stray(&mut self, mut resp: Response) {
        let invite = resp
            .headers
            .cseq()
            .is_some_and(|c| c.method == Method::Invite);
        if !invite || !resp.status.is_success() {
            return;
        }
        let ours = resp
            .headers
            .top_via()
            .is_some_and(|v| route::is_local_via(&self.cfg, v));
        if !ours {
            return;
        }
        resp.headers.pop_top_via();
        if let Some(peer) = resp.headers.top_via().and_then(route::via_peer) {
            self.transmits.push_back(Transmit {
                to: peer,
                message: Message::Response(resp),
            });
        }
    }
}

/// `Reason: SIP;cause=N;text="..."` (RFC 3326 §2).
pub(super) fn reason_header(cause: u16, text: &str) -> Header {
    Header::Other(OtherHeader {
        name: "Reason".into(),
        // Values are printed as written after the colon: the space is ours.
        value: format!(" SIP;cause={cause};text=\"{text}\""),
    })
}
