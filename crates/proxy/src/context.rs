//! The response context of RFC 3261 §16: one per proxied request, holding its branches,
//! the final responses they produced, and the plan's remaining groups. Best-response
//! selection (§16.7 steps 6 and 7) lives here too.

use std::collections::VecDeque;
use std::time::Instant;

use sb_sip_core::{Peer, TransportKind, TsxId};
use sb_sip_msg::{Header, Request, Response, StatusCode};

use crate::types::{Failover, Group, Target};

/// One client transaction of a context (§16.6).
#[derive(Debug)]
pub(crate) struct Branch {
    pub tsx: TsxId,
    pub target: Target,
    /// Which group of the plan it belongs to (counted from 0 as groups start).
    pub group: usize,
    /// A provisional response above 100 arrived: CANCEL can be sent (§9.1).
    pub provisional: bool,
    /// Timer C (§16.6 step 11), INVITE only.
    pub timer_c: Option<Instant>,
    /// The final status, real or synthesized (408 on timeout, 503 on transport failure).
    pub final_status: Option<StatusCode>,
    /// Left behind by a group timeout: its non-2xx answer no longer counts.
    pub abandoned: bool,
    pub cancelled: bool,
    /// The top Via branch we gave it, to find it again when its 2xx comes back as a
    /// stray (after its transaction completed with a 487).
    pub via_branch: String,
    /// The target's `answer_timeout`, running until the first response of any kind.
    pub answer_deadline: Option<Instant>,
    /// The answer timeout declared it failed (408) while its transaction still runs: a
    /// late 2xx is relayed, anything else from it ignored.
    pub given_up: bool,
}

impl Branch {
    pub fn is_pending(&self) -> bool {
        self.final_status.is_none()
    }
}

/// Response context of one proxied request.
#[derive(Debug)]
pub(crate) struct Context {
    pub server: TsxId,
    pub is_invite: bool,
    pub in_dialog: bool,
    /// The request as it will be forwarded, before per-branch changes.
    pub request: Request,
    pub from: Peer,
    pub inbound: TransportKind,
    /// Max-Forwards the forwarded copies carry (received minus one).
    pub max_forwards: u32,
    pub loop_hash: String,
    pub groups: VecDeque<Group>,
    pub failover: Failover,
    pub redirects_left: u8,
    pub record_route: bool,
    /// Ask [`crate::RouteKind::Exhausted`] instead of answering when the plan runs out.
    pub ask_when_exhausted: bool,
    /// Groups were just installed by a routing answer: the next one starts whatever the
    /// failover rule says about the group before.
    pub fresh_plan: bool,
    pub branches: Vec<Branch>,
    /// Groups started so far; the current group is `groups_started - 1`.
    pub groups_started: usize,
    pub group_deadline: Option<Instant>,
    /// The current group ended by its timeout: the next one starts regardless of failover.
    pub group_timed_out: bool,
    /// Final non-2xx responses eligible for §16.7 selection.
    pub responses: Vec<Response>,
    /// Route queries not answered yet (the initial one, redirects).
    pub pending_queries: u32,
    /// A final response went upstream.
    pub final_sent: bool,
    /// No new branches: a 2xx or 6xx arrived, or the caller cancelled (§16.7 step 5, §16.10).
    pub no_new_branches: bool,
    pub branch_seq: u32,
}

impl Context {
    pub fn pending_branches(&self) -> impl Iterator<Item = usize> + '_ {
        self.branches
            .iter()
            .enumerate()
            .filter(|(_, b)| b.is_pending())
            .map(|(i, _)| i)
    }

    pub fn is_settled(&self) -> bool {
        self.pending_queries == 0 && self.branches.iter().all(|b| !b.is_pending())
    }

    /// The earliest timer of this context.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.branches
            .iter()
            .filter(|b| b.is_pending())
            .flat_map(|b| [b.timer_c, b.answer_deadline])
            .chain([self.group_deadline])
            .flatten()
            .min()
    }

    /// True when the finished group allows trying the next one.
    pub fn may_fail_over(&self) -> bool {
        if self.group_timed_out {
            return true;
        }
        let group = self.groups_started.saturating_sub(1);
        let statuses: Vec<StatusCode> = self
            .branches
            .iter()
            .filter(|b| b.group == group)
            .filter_map(|b| b.final_status)
            .collect();
        match &self.failover {
            Failover::AnyFailure => true,
            _ => statuses.iter().all(|s| self.failover.accepts(*s)),
        }
    }
}

impl Failover {
    /// Whether a branch that ended with `status` lets the search go on.
    pub(crate) fn accepts(&self, status: StatusCode) -> bool {
        match self {
            Failover::AnyFailure => (300..600).contains(&status.0),
            Failover::Unavailable => status.0 == 408 || (500..600).contains(&status.0),
            Failover::Statuses(codes) => codes.contains(&status),
        }
    }
}

/// Whether a status carries information that changes how the request is resubmitted,
/// which §16.7 step 6 prefers within the 4xx class.
fn informative(s: StatusCode) -> bool {
    matches!(s.0, 401 | 407 | 415 | 420 | 484)
}

/// §16.7 step 6: a 6xx if there is one; otherwise the lowest class, preferring 401, 407,
/// 415, 420 and 484 within 4xx; the first received wins a tie.
pub(crate) fn best_index(responses: &[Response]) -> Option<usize> {
    if let Some(i) = responses.iter().position(|r| r.status.0 >= 600) {
        return Some(i);
    }
    let class = responses.iter().map(|r| r.status.0 / 100).min()?;
    let in_class = |r: &Response| r.status.0 / 100 == class;
    responses
        .iter()
        .position(|r| in_class(r) && informative(r.status))
        .or_else(|| responses.iter().position(in_class))
}

/// The response to forward upstream from a context's stored finals (§16.7 steps 6 and 7):
/// 408 if there is none; challenges of every 401/407 merged into the chosen one; a chosen
/// 503 becomes 500, since the caller must not conclude that this proxy is unavailable.
/// The result still carries the downstream top Via; the caller pops it.
pub(crate) fn best_response(responses: &[Response], request: &Request) -> Response {
    let Some(i) = best_index(responses) else {
        let mut r = sb_sip_core::response_for(request, StatusCode::REQUEST_TIMEOUT);
        // Pushed as our own Via stand-in so the caller's pop leaves the request's Vias.
        r.headers.push_via_top(placeholder_via());
        return r;
    };
    let mut best = responses[i].clone();
    if matches!(best.status.0, 401 | 407) {
        for (j, r) in responses.iter().enumerate() {
            if j == i || !matches!(r.status.0, 401 | 407) {
                continue;
            }
            for h in r.headers.iter() {
                if let Header::Other(o) = h {
                    let n = o.name.as_str();
                    if n.eq_ignore_ascii_case("WWW-Authenticate")
                        || n.eq_ignore_ascii_case("Proxy-Authenticate")
                    {
                        best.headers.push(h.clone());
                    }
                }
            }
        }
    }
    if best.status == StatusCode::SERVICE_UNAVAILABLE {
        best.status = StatusCode::SERVER_INTERNAL_ERROR;
        best.reason = best.status.default_reason().to_string();
        best.headers.remove_other("Retry-After");
    }
    best
}

fn placeholder_via() -> sb_sip_msg::Via {
    sb_sip_msg::Via {
        protocol: "SIP".into(),
        version: "2.0".into(),
        transport: sb_sip_msg::Transport::Udp,
        host: sb_sip_msg::Host::Domain("invalid".into()),
        port: None,
        params: sb_sip_msg::Params::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(code: u16) -> Response {
        Response::new(StatusCode(code))
    }

    fn pick(codes: &[u16]) -> u16 {
        let rs: Vec<Response> = codes.iter().map(|c| resp(*c)).collect();
        rs[best_index(&rs).unwrap()].status.0
    }

    #[test]
    fn six_hundreds_beat_everything_then_lowest_class() {
        assert_eq!(pick(&[486, 603, 302]), 603);
        assert_eq!(pick(&[503, 486, 404]), 486);
        assert_eq!(pick(&[503, 302]), 302);
        assert_eq!(pick(&[404, 407, 486]), 407);
        assert_eq!(pick(&[500, 503]), 500);
    }

    #[test]
    fn chosen_503_goes_upstream_as_500_and_challenges_merge() {
        let req = sb_netsim::sip::simple_request(sb_sip_msg::Method::Invite, "c", 1);
        let up = best_response(&[resp(503)], &req);
        assert_eq!(up.status.0, 500);

        let challenge = |realm: &str| {
            let mut r = resp(407);
            r.headers.push(Header::Other(sb_sip_msg::OtherHeader {
                name: "Proxy-Authenticate".into(),
                value: format!("Digest realm=\"{realm}\", nonce=\"n\""),
            }));
            r
        };
        let up = best_response(&[challenge("a"), resp(486), challenge("b")], &req);
        assert_eq!(up.status.0, 407);
        let realms: Vec<&str> = up.headers.other("Proxy-Authenticate").collect();
        assert_eq!(realms.len(), 2, "{realms:?}");
    }

    #[test]
    fn no_final_at_all_is_408() {
        let req = sb_netsim::sip::simple_request(sb_sip_msg::Method::Invite, "c", 1);
        let mut up = best_response(&[], &req);
        up.headers.pop_top_via();
        assert_eq!(up.status.0, 408);
        assert_eq!(up.headers.vias().count(), 1);
    }
}
