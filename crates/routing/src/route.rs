//! The routing decision: from a request's facts, the caller, the directory and the
//! configuration to a [`Decision`] and its [`Trace`].
//!
//! Order of business for a new call:
//! 1. The caller must be a known, enabled user, or a trunk.
//! 2. The Request-URI names a user of ours (`sip:bob@example.com`), or carries a dialled
//!    string (`sip:5551212@example.com;user=phone`, `tel:+14255551212`) that the caller's
//!    dial plan normalizes to E.164 or an extension, which reverse lookup maps to a user,
//!    a PBX, or nobody (an outbound call).
//! 3. A user: forward all; their presence (do not disturb, in a call: see
//!    [`crate::presence`]); their rules (offline / unanswered / busy, simultaneous ring),
//!    their devices, their PBX extension (unless the call came back from that PBX).
//! 4. An outbound number: the first route whose pattern matches, if the payer's policy
//!    allows its usage (the payer is whoever forwarded the call last, else the caller).

use crate::branches::{describe, looks_dialled, pbx_branch, pbx_uri, tel};
use crate::config::{PbxConfig, RoutingTable};
use crate::decision::{Branch, BranchKind, Decision, Delivery, Fork, NoAnswer, Routed};
use crate::dialplan::{
    dialled_from_uri, strip_visual_separators, DialPlan, Normalization, Normalized,
};
use crate::directory::{Directory, NumberOwner, UserEntry};
use crate::history::{History, RedirectCause};
use crate::ids::{PbxName, TrunkName, UserId, E164};
use crate::pbx::{apply_mark, mark_value, read_mark};
use crate::rules::ForwardTarget;
use crate::trace::{Step, Trace};
use sb_sip_msg::{Request, Uri};

mod presence;

/// Who is calling, as the transport and authentication established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An authenticated user of ours.
    User(UserId),
    /// A gateway, SIP trunk or PBX trunk, as the mediation role identified it.
    Trunk(TrunkName),
    /// Anyone else (unauthenticated): may reach our users, never the PSTN.
    Anonymous,
}

/// What routing needs from the request itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFacts {
    pub request_uri: Uri,
    pub call_id: String,
    /// The PBX co-existence mark the request carries (see [`RequestFacts::from_request`]).
    pub fork_mark: Option<String>,
}

impl RequestFacts {
    pub fn new(request_uri: Uri, call_id: impl Into<String>) -> RequestFacts {
        RequestFacts {
            request_uri,
            call_id: call_id.into(),
            fork_mark: None,
        }
    }

    /// Takes the facts from a request; the mark is read only when the caller is a PBX's
    /// trunk, the one place a mark means anything.
    pub fn from_request(req: &Request, caller: &Caller, table: &RoutingTable) -> RequestFacts {
        let fork_mark = match caller {
            Caller::Trunk(t) => table.pbx_by_trunk(t).and_then(|p| read_mark(p, req)),
            _ => None,
        };
        RequestFacts {
            request_uri: req.uri.clone(),
            call_id: req
                .headers
                .call_id()
                .map(|c| c.as_str().to_string())
                .unwrap_or_default(),
            fork_mark,
        }
    }
}

/// Routes a new call. Pure: reads only its arguments.
pub fn route(
    facts: &RequestFacts,
    caller: &Caller,
    dir: &dyn Directory,
    table: &RoutingTable,
) -> Routed {
    let mut cx = Cx::new(facts, dir, table);
    cx.caller = caller.clone();
    let caller_text = match caller {
        Caller::User(u) => u.to_string(),
        Caller::Trunk(t) => format!("trunk {t}"),
        Caller::Anonymous => "an unauthenticated caller".into(),
    };
    cx.trace.push(Step::Request {
        request_uri: facts.request_uri.to_string(),
        caller: caller_text,
    });
    let decision = cx.new_call(caller);
    cx.finish(decision)
}

/// Follows a deflection: a device of `user` answered 302 with `contact`, during the
/// delivery whose history is `history`. The redirection counts toward the limit and
/// toward loop detection, and the deflecting user's dial plan and policy apply.
pub fn follow_deflection(
    facts: &RequestFacts,
    history: &History,
    user: &UserId,
    contact: &Uri,
    dir: &dyn Directory,
    table: &RoutingTable,
) -> Routed {
    let mut cx = Cx::new(facts, dir, table);
    let decision = match dir.user(user) {
        Some(u) => cx.redirect(
            &u,
            &ForwardTarget::Uri(contact.clone()),
            RedirectCause::Deflection,
            history,
        ),
        None => Decision::reject(404, format!("{user} is not a known user")),
    };
    cx.finish(decision)
}

/// The dial plan that applies to `user`: their own, else their site's, else the default.
pub fn plan_for<'t>(table: &'t RoutingTable, user: Option<&UserEntry>) -> Option<&'t DialPlan> {
    let own = user.and_then(|u| u.dial_plan.as_ref());
    let site = user
        .and_then(|u| u.site.as_ref())
        .and_then(|s| table.site(s))
        .and_then(|s| s.dial_plan.as_ref());
    own.or(site)
        .or(table.config.default_dial_plan.as_ref())
        .and_then(|n| table.dial_plan(n))
}

/// Why a target cannot be reached; becomes a [`Decision::Reject`] (kept small, since it
/// travels in every `Result` of the resolution steps).
struct Refusal {
    status: u16,
    reason: String,
}

impl Refusal {
    fn new(status: u16, reason: impl Into<String>) -> Refusal {
        Refusal {
            status,
            reason: reason.into(),
        }
    }
}

impl From<Refusal> for Decision {
    fn from(r: Refusal) -> Decision {
        Decision::reject(r.status, r.reason)
    }
}

/// Where a call is headed once its target is resolved.
enum Dest {
    User(Box<UserEntry>),
    /// A number nobody here owns: out through a route.
    Outbound(E164),
    /// A number or extension on a PBX (partitioned deployment).
    Pbx(PbxConfig, String),
    External(Uri),
}

struct Cx<'a> {
    facts: &'a RequestFacts,
    dir: &'a dyn Directory,
    table: &'a RoutingTable,
    trace: Trace,
    /// The PBX this call came back from with a valid mark.
    marked_from: Option<PbxName>,
    /// The PBX whose trunk the new call came from, marked or not: never sent back there.
    from_pbx: Option<PbxName>,
    /// The new call came from a trunk: gateways address us by IP address, so the
    /// Request-URI host is not checked against our domains.
    from_trunk: bool,
    /// Who placed the call, for the callee's presence (whether they pass do not
    /// disturb); anonymous when following a deflection, whose caller routing is not told.
    caller: Caller,
}

impl<'a> Cx<'a> {
    fn new(facts: &'a RequestFacts, dir: &'a dyn Directory, table: &'a RoutingTable) -> Self {
        Cx {
            facts,
            dir,
            table,
            trace: Trace::default(),
            marked_from: None,
            from_pbx: None,
            from_trunk: false,
            caller: Caller::Anonymous,
        }
    }

    fn finish(mut self, decision: Decision) -> Routed {
        let text = match &decision {
            Decision::Reject { status, reason } => format!("reject {status} {reason}"),
            Decision::Deliver(d) => format!(
                "deliver to {} branch(es), {}",
                d.branches.len(),
                match d.fork {
                    Fork::Parallel => "in parallel".to_string(),
                    Fork::Sequential { per_branch_secs } =>
                        format!("one after another, {per_branch_secs} s each"),
                }
            ),
        };
        self.trace.push(Step::Outcome { text });
        Routed {
            decision,
            trace: self.trace,
        }
    }

    fn new_call(&mut self, caller: &Caller) -> Decision {
        let payer = match caller {
            Caller::User(id) => match self.dir.user(id) {
                Some(u) if u.enabled => Some(u),
                Some(_) => return Decision::reject(403, format!("caller {id} is disabled")),
                None => return Decision::reject(403, format!("caller {id} is not a known user")),
            },
            Caller::Trunk(t) => {
                self.from_trunk = true;
                self.check_mark(t);
                None
            }
            Caller::Anonymous => None,
        };
        let uri = self.facts.request_uri.clone();
        match self.resolve_uri(&uri, payer.as_ref(), false) {
            Ok(dest) => self.deliver(dest, payer.as_ref(), History::default()),
            Err(refusal) => refusal.into(),
        }
    }

    fn check_mark(&mut self, trunk: &TrunkName) {
        let Some(pbx) = self.table.pbx_by_trunk(trunk) else {
            return;
        };
        self.from_pbx = Some(pbx.name.clone());
        match &self.facts.fork_mark {
            Some(m) if *m == mark_value(pbx, &self.facts.call_id) => {
                self.trace.push(Step::PbxMark {
                    detail: format!(
                        "came back from PBX {:?} with our mark: ring the user's devices only",
                        pbx.name.as_str()
                    ),
                });
                self.marked_from = Some(pbx.name.clone());
            }
            Some(_) => self.trace.push(Step::PbxMark {
                detail: format!(
                    "mark from PBX {:?} does not belong to this call: routed as a new call",
                    pbx.name.as_str()
                ),
            }),
            None => {}
        }
    }

    /// A Request-URI or a forward target to a destination.
    /// `external_ok`: a forward target may be a SIP URI elsewhere; a new call's
    /// Request-URI may not (this is not an open relay).
    fn resolve_uri(
        &mut self,
        uri: &Uri,
        payer: Option<&UserEntry>,
        external_ok: bool,
    ) -> Result<Dest, Refusal> {
        match uri {
            Uri::Sip(s) => {
                let host = s.host.to_string();
                let ours = self.table.serves_domain(&host) || (self.from_trunk && !external_ok);
                if !ours {
                    if external_ok {
                        return Ok(Dest::External(uri.clone()));
                    }
                    return Err(Refusal::new(
                        404,
                        format!("{host} is not a domain served here"),
                    ));
                }
                let phone = s
                    .params
                    .value("user")
                    .is_some_and(|v| v.eq_ignore_ascii_case("phone"));
                if !phone {
                    if let Some(u) = UserId::from_sip_uri(s).and_then(|id| self.dir.user(&id)) {
                        self.trace.push(Step::Lookup {
                            query: u.id.to_string(),
                            result: "a user".into(),
                        });
                        return Ok(Dest::User(Box::new(u)));
                    }
                }
                let Some(dialled) = dialled_from_uri(uri) else {
                    return Err(Refusal::new(404, format!("{uri} names no user")));
                };
                if !phone && !looks_dialled(&dialled) {
                    return Err(Refusal::new(404, format!("no user {dialled}@{host} here")));
                }
                self.resolve_dialled(&dialled, payer)
            }
            Uri::Tel(t) => self.resolve_dialled(&t.number.clone(), payer),
            Uri::Other { scheme, .. } => Err(Refusal::new(
                416,
                format!("{scheme}: URIs cannot be routed"),
            )),
        }
    }

    fn resolve_dialled(
        &mut self,
        dialled: &str,
        payer: Option<&UserEntry>,
    ) -> Result<Dest, Refusal> {
        let plan = plan_for(self.table, payer);
        let norm = match plan {
            Some(p) => p.normalize(dialled),
            None => match E164::parse(&strip_visual_separators(dialled)) {
                Some(n) => Normalization::AlreadyE164(n),
                None => Normalization::NoMatch,
            },
        };
        let plan_name = plan.map(|p| p.name().clone());
        match norm {
            Normalization::Matched {
                rule,
                pattern,
                result,
            } => {
                let shown = match &result {
                    Normalized::Number(n) => n.to_string(),
                    Normalized::Extension(e) => format!("extension {e}"),
                };
                self.trace.push(Step::Normalized {
                    dialled: dialled.to_string(),
                    plan: plan_name.expect("a rule matched, so there is a plan"),
                    rule,
                    pattern,
                    result: shown,
                });
                match result {
                    Normalized::Number(n) => self.resolve_number(n),
                    Normalized::Extension(e) => self.resolve_extension(&e, payer),
                }
            }
            Normalization::AlreadyE164(n) => {
                self.trace.push(Step::AlreadyE164 {
                    number: n.to_string(),
                });
                self.resolve_number(n)
            }
            Normalization::BadResult { rule, produced } => {
                let why = format!("rule {rule} produced {produced:?}, not E.164 or ext:digits");
                self.trace.push(Step::NotNormalized {
                    dialled: dialled.to_string(),
                    plan: plan_name,
                    why: why.clone(),
                });
                Err(Refusal::new(484, format!("{dialled:?}: {why}")))
            }
            Normalization::NoMatch => {
                let why = "no rule matches and it is not E.164".to_string();
                self.trace.push(Step::NotNormalized {
                    dialled: dialled.to_string(),
                    plan: plan_name,
                    why: why.clone(),
                });
                Err(Refusal::new(484, format!("{dialled:?}: {why}")))
            }
        }
    }

    fn resolve_number(&mut self, n: E164) -> Result<Dest, Refusal> {
        let owner = self.dir.number_owner(&n);
        self.owner_to_dest(n.to_string(), n.as_str(), owner)
            .map(|d| d.unwrap_or(Dest::Outbound(n)))
    }

    fn resolve_extension(&mut self, ext: &str, payer: Option<&UserEntry>) -> Result<Dest, Refusal> {
        let site = payer.and_then(|u| u.site.as_ref());
        let main = site
            .and_then(|s| self.table.site(s))
            .and_then(|s| s.main_number.as_ref());
        let Some(main) = main else {
            return Err(Refusal::new(
                404,
                format!("extension {ext} dialled, but the caller's site has no main number"),
            ));
        };
        let owner = self.dir.extension_owner(main, ext);
        let query = format!("extension {ext} of {main}");
        match self.owner_to_dest(query, ext, owner)? {
            Some(d) => Ok(d),
            None => Err(Refusal::new(
                404,
                format!("nobody has extension {ext} of {main}"),
            )),
        }
    }

    /// `Ok(None)`: nobody owns it.
    fn owner_to_dest(
        &mut self,
        query: String,
        number: &str,
        owner: Option<NumberOwner>,
    ) -> Result<Option<Dest>, Refusal> {
        let (result, dest) = match owner {
            Some(NumberOwner::User(id)) => match self.dir.user(&id) {
                Some(u) => (format!("user {id}"), Ok(Some(Dest::User(Box::new(u))))),
                None => (
                    format!("user {id}, who is not in the directory"),
                    Err(Refusal::new(404, format!("{query}: owner {id} is unknown"))),
                ),
            },
            Some(NumberOwner::Pbx(p)) => match self.table.pbx(&p) {
                Some(cfg) => (
                    format!("a user of PBX {:?}", p.as_str()),
                    Ok(Some(Dest::Pbx(cfg.clone(), number.to_string()))),
                ),
                None => (
                    format!("PBX {:?}, which is not configured", p.as_str()),
                    Err(Refusal::new(500, format!("PBX \"{p}\" is not configured"))),
                ),
            },
            None => ("nobody here".to_string(), Ok(None)),
        };
        self.trace.push(Step::Lookup { query, result });
        dest
    }

    fn deliver(&mut self, dest: Dest, payer: Option<&UserEntry>, history: History) -> Decision {
        let branch = match dest {
            Dest::User(u) => return self.offer_to_user(*u, history),
            Dest::Outbound(n) => match self.outbound(&n, payer) {
                Ok(b) => b,
                Err(refusal) => return refusal.into(),
            },
            Dest::Pbx(pbx, number) if self.from_pbx.as_ref() == Some(&pbx.name) => {
                return Decision::reject(
                    482,
                    format!(
                        "{number} belongs to PBX \"{}\", which sent the call",
                        pbx.name
                    ),
                );
            }
            Dest::Pbx(pbx, number) => pbx_branch(&pbx, &number),
            Dest::External(uri) => Branch {
                kind: BranchKind::External,
                request_uri: uri,
                trunks: Vec::new(),
                failover: None,
                headers_to_add: Vec::new(),
            },
        };
        let branches = vec![branch];
        self.announce(&branches);
        self.delivery(branches, history, None, None, false)
    }

    /// Records the branches in the trace (before any follow-up, so the dry run reads in
    /// the order things happen).
    fn announce(&mut self, branches: &[Branch]) {
        self.trace.push(Step::Targets {
            branches: branches.iter().map(describe).collect(),
        });
    }

    fn delivery(
        &mut self,
        branches: Vec<Branch>,
        history: History,
        on_no_answer: Option<NoAnswer>,
        on_busy: Option<Box<Decision>>,
        follow_deflections: bool,
    ) -> Decision {
        Decision::Deliver(Delivery {
            branches,
            fork: Fork::Parallel,
            on_no_answer,
            on_busy,
            headers_to_add: history.header_fields(),
            history,
            follow_deflections,
        })
    }

    /// The first route whose pattern matches classifies the call (routes are listed most
    /// specific first, so `+1900…` is premium even though `+1…` also matches national);
    /// the payer's policy must allow that route's usage.
    fn outbound(&mut self, n: &E164, payer: Option<&UserEntry>) -> Result<Branch, Refusal> {
        let Some(payer) = payer else {
            return Err(Refusal::new(404, format!("no user here has {n}")));
        };
        let Some(r) = self.table.routes().iter().find(|r| r.matches(n)) else {
            return Err(Refusal::new(404, format!("no outbound route matches {n}")));
        };
        let c = &r.config;
        self.trace.push(Step::Route {
            route: c.name.clone(),
            pattern: c.pattern.clone(),
            usage: c.usage.clone(),
            trunks: c.trunks.clone(),
        });
        let policy = payer.voice_policy.as_ref().or(self
            .table
            .config
            .default_voice_policy
            .as_ref());
        let allowed = policy
            .and_then(|p| self.table.policy_usages(p))
            .is_some_and(|u| u.contains(&c.usage));
        self.trace.push(Step::Policy {
            policy: policy.cloned(),
            usage: c.usage.clone(),
            allowed,
        });
        if !allowed {
            let usage = &c.usage;
            return Err(Refusal::new(
                403,
                match policy {
                    Some(p) => format!("{usage} calls are not allowed by policy '{p}'"),
                    None => format!(
                        "{usage} calls are not allowed: {} has no voice policy",
                        payer.id
                    ),
                },
            ));
        }
        Ok(Branch {
            kind: BranchKind::Pstn {
                number: n.clone(),
                route: c.name.clone(),
            },
            request_uri: tel(n.as_str(), None),
            trunks: c.trunks.clone(),
            failover: Some(c.failover.clone()),
            headers_to_add: Vec::new(),
        })
    }

    fn offer_to_user(&mut self, u: UserEntry, history: History) -> Decision {
        if !u.enabled {
            return Decision::reject(480, format!("{} is disabled", u.id));
        }
        if history.visited.contains(&u.id) {
            let chain: Vec<&str> = history.visited.iter().map(UserId::as_str).collect();
            return Decision::reject(
                482,
                format!("forwarding loop: {} -> {}", chain.join(" -> "), u.id),
            );
        }
        let mut history = history;
        history.visited.push(u.id.clone());
        let marked = self.marked_from.is_some();
        if let (false, Some(t)) = (marked, &u.rules.forward_all) {
            return self.redirect(&u, t, RedirectCause::Unconditional, &history);
        }
        if !marked {
            if let Some(decision) = self.presence_rule(&u, &history) {
                return decision;
            }
        }
        let mut branches = self.endpoints(&u.id, |user| BranchKind::Endpoint { user });
        self.trace.push(Step::Callee {
            user: u.id.to_string(),
            detail: format!("signed in on {} device(s)", branches.len()),
        });
        if marked {
            if branches.is_empty() {
                return Decision::reject(480, format!("{} is not signed in", u.id));
            }
            self.announce(&branches);
            return self.delivery(branches, history, None, None, u.rules.follow_deflections);
        }
        if let (true, Some(t)) = (branches.is_empty(), &u.rules.forward_offline) {
            return self.redirect(&u, t, RedirectCause::Unavailable, &history);
        }
        if let Some(t) = &u.rules.simultaneous_ring {
            branches.extend(self.simultaneous_ring(&u, t));
        }
        if let Some(b) = self.pbx_line(&u) {
            branches.push(b);
        }
        if branches.is_empty() {
            // Nothing can ring, so "unanswered" is certain: forward now rather than fail
            // (a user who forwards unanswered calls to voicemail expects offline calls there).
            if let Some(f) = &u.rules.forward_unanswered {
                return self.redirect(&u, &f.target, RedirectCause::Unavailable, &history);
            }
            return Decision::reject(480, format!("{} is not signed in", u.id));
        }
        self.announce(&branches);
        let on_no_answer = u.rules.forward_unanswered.as_ref().and_then(|f| {
            let cond = format!("if unanswered after {} s", f.after_secs);
            let then = self.follow_up(cond, &u, &f.target, RedirectCause::NoAnswer, &history)?;
            Some(NoAnswer {
                after_secs: f.after_secs,
                then: Box::new(then),
            })
        });
        let on_busy = u.rules.forward_busy.as_ref().and_then(|t| {
            let cond = "if busy".to_string();
            self.follow_up(cond, &u, t, RedirectCause::Busy, &history)
                .map(Box::new)
        });
        self.delivery(
            branches,
            history,
            on_no_answer,
            on_busy,
            u.rules.follow_deflections,
        )
    }

    /// A follow-up computed now; one that would fail (a loop, a forbidden number) is
    /// dropped, so the devices keep ringing rather than the caller being rejected late.
    fn follow_up(
        &mut self,
        condition: String,
        u: &UserEntry,
        target: &ForwardTarget,
        cause: RedirectCause,
        history: &History,
    ) -> Option<Decision> {
        self.trace.enter(condition);
        let d = self.redirect(u, target, cause, history);
        let keep = match &d {
            Decision::Deliver(_) => true,
            Decision::Reject { status, reason } => {
                self.trace.push(Step::Outcome {
                    text: format!("not applied ({status} {reason}); keep ringing"),
                });
                false
            }
        };
        self.trace.leave();
        keep.then_some(d)
    }

    fn redirect(
        &mut self,
        from: &UserEntry,
        target: &ForwardTarget,
        cause: RedirectCause,
        history: &History,
    ) -> Decision {
        self.trace.push(Step::Rule {
            user: from.id.to_string(),
            rule: cause.label().into(),
            target: target.to_string(),
        });
        let max = usize::from(self.table.config.limits.max_redirections);
        if history.redirections() >= max {
            return Decision::reject(483, format!("more than {max} redirections"));
        }
        let dest = match target {
            ForwardTarget::Uri(uri) => self.resolve_uri(uri, Some(from), true),
            ForwardTarget::Number(n) => self.resolve_dialled(n, Some(from)),
        };
        let dest = match dest {
            Ok(d) => d,
            Err(refusal) => return refusal.into(),
        };
        let to = match &dest {
            Dest::User(v) => v.id.to_string(),
            Dest::Outbound(n) => tel(n.as_str(), None).to_string(),
            Dest::Pbx(p, number) => pbx_uri(p, number).to_string(),
            Dest::External(uri) => uri.to_string(),
        };
        let history = history.redirected(from.id.as_str(), &to, cause);
        self.deliver(dest, Some(from), history)
    }

    fn endpoints(&mut self, id: &UserId, kind: impl Fn(UserId) -> BranchKind) -> Vec<Branch> {
        let mut out = Vec::new();
        let mut contacts = self.dir.contacts(id);
        // Most preferred first (RFC 3261 §16.6: q orders targets; no q ranks as 1.0).
        contacts.sort_by_key(|c| std::cmp::Reverse(c.q.unwrap_or(1000)));
        for c in contacts {
            match c.uri.parse::<Uri>() {
                Ok(uri) => out.push(Branch {
                    kind: kind(id.clone()),
                    request_uri: uri,
                    trunks: Vec::new(),
                    failover: None,
                    headers_to_add: Vec::new(),
                }),
                Err(e) => self.trace.push(Step::Callee {
                    user: id.to_string(),
                    detail: format!("contact {:?} skipped: {e}", c.uri),
                }),
            }
        }
        out
    }

    /// Simultaneous ring: the target's branches, routed with the callee as payer. A
    /// target that cannot be reached is left out (the trace says why).
    fn simultaneous_ring(&mut self, u: &UserEntry, t: &ForwardTarget) -> Vec<Branch> {
        self.trace.push(Step::Rule {
            user: u.id.to_string(),
            rule: "simultaneous ring".into(),
            target: t.to_string(),
        });
        let dest = match t {
            ForwardTarget::Uri(uri) => self.resolve_uri(uri, Some(u), true),
            ForwardTarget::Number(n) => self.resolve_dialled(n, Some(u)),
        };
        let result = match dest {
            Ok(Dest::User(v)) if v.id == u.id => Ok(Vec::new()),
            Ok(Dest::User(v)) => {
                Ok(
                    self.endpoints(&v.id, |user| BranchKind::SimultaneousRingEndpoint {
                        user,
                        of: u.id.clone(),
                    }),
                )
            }
            Ok(Dest::Outbound(n)) => self.outbound(&n, Some(u)).map(|b| vec![b]),
            Ok(Dest::Pbx(p, number)) if self.from_pbx.as_ref() == Some(&p.name) => {
                Err(Refusal::new(
                    482,
                    format!("{number} is on PBX \"{}\", which sent the call", p.name),
                ))
            }
            Ok(Dest::Pbx(p, number)) => Ok(vec![pbx_branch(&p, &number)]),
            Ok(Dest::External(uri)) => Ok(vec![Branch {
                kind: BranchKind::External,
                request_uri: uri,
                trunks: Vec::new(),
                failover: None,
                headers_to_add: Vec::new(),
            }]),
            Err(d) => Err(d),
        };
        result.unwrap_or_else(|Refusal { status, reason }| {
            self.trace.push(Step::Outcome {
                text: format!("simultaneous ring left out ({status} {reason})"),
            });
            Vec::new()
        })
    }

    /// The co-existence branch to the user's PBX extension, with the mark.
    fn pbx_line(&mut self, u: &UserEntry) -> Option<Branch> {
        let line = u.pbx_line.as_ref()?;
        let Some(pbx) = self.table.pbx(&line.pbx) else {
            self.trace.push(Step::PbxMark {
                detail: format!(
                    "PBX {:?} is not configured: line skipped",
                    line.pbx.as_str()
                ),
            });
            return None;
        };
        if self.from_pbx.as_ref() == Some(&pbx.name) {
            // The PBX already rings its own extension; sending the call back would only
            // make it fork to us again.
            self.trace.push(Step::PbxMark {
                detail: format!(
                    "call came from PBX {:?}: not forked back to it",
                    pbx.name.as_str()
                ),
            });
            return None;
        }
        let mut b = pbx_branch(pbx, &line.number);
        apply_mark(
            pbx,
            &self.facts.call_id,
            &mut b.request_uri,
            &mut b.headers_to_add,
        );
        self.trace.push(Step::PbxMark {
            detail: format!(
                "fork to PBX {:?} line {} with mark {}",
                pbx.name.as_str(),
                line.number,
                mark_value(pbx, &self.facts.call_id)
            ),
        });
        Some(b)
    }
}
