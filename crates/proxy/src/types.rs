//! The data that crosses the proxy's boundary: configuration, routing queries and the
//! decisions that answer them, and the events the proxy reports.

use std::time::Duration;

use sb_sip_core::{Peer, TransportKind};
use sb_sip_msg::{Header, Host, Request, StatusCode, Uri};

/// One address the proxy listens on; used for its Via sent-by, its Record-Route values and
/// to recognise its own URIs in Route headers and Request-URIs (§16.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    pub transport: TransportKind,
    pub host: Host,
    pub port: u16,
}

/// Proxy configuration. Durations are configuration so tests can shrink them.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// At least one; the first entry of a transport is used when sending over it.
    pub listen: Vec<Listen>,
    /// Further hosts that name this proxy (a domain, a public address behind NAT).
    pub aliases: Vec<Host>,
    /// Timer C (§16.6 step 11): "greater than 3 minutes" on the wire; shorter in tests.
    pub timer_c: Duration,
    /// How long the caller may take to answer a [`Query::Route`]; then the request gets
    /// [`ProxyConfig::route_timeout_status`] (a slow routing store is a 5xx, never a hang).
    pub route_deadline: Duration,
    pub route_timeout_status: StatusCode,
    /// Record-Route every dialog-creating request (§16.6 step 4).
    pub record_route: bool,
    /// Option tags this proxy supports; any other Proxy-Require gets 420 (§16.3 step 6).
    pub supported: Vec<String>,
    /// RFC 5393 §4.2: a request forked to more than one target leaves with Max-Forwards
    /// no higher than this, bounding the amplification of a forked loop.
    pub fork_max_forwards: u32,
    /// Answer OPTIONS with Max-Forwards 0 addressed to us with 200 (§16.3 step 3 option).
    pub answer_options: bool,
}

impl ProxyConfig {
    /// A configuration listening on one UDP address.
    pub fn udp(addr: std::net::SocketAddr) -> Self {
        let host = match addr.ip() {
            std::net::IpAddr::V4(a) => Host::V4(a),
            std::net::IpAddr::V6(a) => Host::V6(a),
        };
        ProxyConfig {
            listen: vec![Listen {
                transport: TransportKind::Udp,
                host,
                port: addr.port(),
            }],
            aliases: Vec::new(),
            timer_c: Duration::from_secs(181),
            route_deadline: Duration::from_secs(5),
            route_timeout_status: StatusCode::SERVICE_UNAVAILABLE,
            record_route: true,
            supported: Vec::new(),
            fork_max_forwards: 20,
            answer_options: true,
        }
    }
}

/// Identifies one response context (one proxied request, §16); never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContextId(pub u64);

/// Identifies one routing query; answer it with [`crate::Proxy::handle_route_decision`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueryId(pub u64);

/// Where a forwarded request goes: its new Request-URI, the resolved next hop (the
/// caller does RFC 3263 resolution), and headers to add (History-Info, Diversion, a mark).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub uri: Uri,
    pub peer: Peer,
    pub add_headers: Vec<Header>,
    /// Trunk/gateway failover inside one branch: when this target's branch ends with a
    /// status `fallback_on` accepts (or `answer_timeout` passes), the next fallback is
    /// tried as a new branch of the same group, carrying the same request changes. Each
    /// fallback's own `fallbacks` are ignored (the list is flat).
    ///
    /// Each fallback brings its own `uri`, `peer`, `add_headers` and `answer_timeout`;
    /// its `fallback_on` is ignored too: the first target's rule governs the whole
    /// chain. Every attempt's answer counts in §16.7 best-response selection. No
    /// fallback starts once the search is over (a 2xx, a 6xx, the caller's CANCEL), for
    /// a branch its group's timeout cancelled, or for one that Timer C cancelled.
    pub fallbacks: Vec<Target>,
    /// Default `Failover::Unavailable` (408, 5xx, transport failure). With
    /// [`Failover::AnyFailure`]: any 3xx–5xx.
    pub fallback_on: Failover,
    /// No response at all (not even 100 Trying) within this: the branch counts as 408
    /// and, if there is a fallback, the next one starts ("a gateway that does not
    /// answer"). None (default): only the transaction's own timers apply.
    ///
    /// The given-up branch's transaction keeps running (a CANCEL goes once it sends a
    /// provisional, §9.1): its late 2xx is relayed upstream (§16.7 step 5); its late
    /// provisional and non-2xx responses are not.
    pub answer_timeout: Option<Duration>,
}

impl Target {
    /// A target with no extra headers, no fallbacks and no answer timeout.
    pub fn new(uri: Uri, peer: Peer) -> Self {
        Target {
            uri,
            peer,
            add_headers: Vec::new(),
            fallbacks: Vec::new(),
            fallback_on: Failover::Unavailable,
            answer_timeout: None,
        }
    }
}

/// Targets tried together (parallel fork, §16.6). With a `timeout`, the group's branches
/// are cancelled when it passes unanswered and the next group starts ("forward when
/// unanswered after N s").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub targets: Vec<Target>,
    pub timeout: Option<Duration>,
}

/// When the next group is tried after every branch of a group failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failover {
    /// After any non-2xx, non-6xx outcome (sequential search, §16.6 "in sequence").
    AnyFailure,
    /// Only when the best response was 408, 5xx or a transport failure (trunk and
    /// gateway failover); a 486 or 404 ends the search.
    Unavailable,
    /// Only when every branch of the group ended with one of these statuses ("forward
    /// when busy": 486 and 600; "when not signed in": 480).
    Statuses(Vec<StatusCode>),
}

/// What routing decided for a request: groups in order (one group of several targets is a
/// parallel fork; groups of one are a sequential search).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub groups: Vec<Group>,
    pub failover: Failover,
    /// How many 3xx responses may be followed (recursion, §16.5) before a 3xx is kept as
    /// a final response. Each followed 3xx comes back as a [`Query::Route`] of kind
    /// [`RouteKind::Redirect`].
    pub max_redirects: u8,
    /// Record-Route this request (dialog-creating requests only; overrides the config).
    pub record_route: bool,
    /// When every group is used up without a 2xx or 6xx, or the last group's `timeout`
    /// passes, ask the caller what to do next with a [`Query::Route`] of kind
    /// [`RouteKind::Exhausted`] instead of sending the best response upstream. Default
    /// false.
    ///
    /// "Used up" includes a search the plan's [`Failover`] rule stops early (a 486 with
    /// `Failover::Unavailable`). A search ended by a 2xx, a 6xx or the caller's CANCEL
    /// never asks. When the last group has a `timeout`, it is enforced (its branches
    /// are cancelled with `Reason: SIP;cause=408`) so that the question can be asked.
    /// The question has the same deadline as any route query
    /// ([`ProxyConfig::route_deadline`], then [`ProxyConfig::route_timeout_status`]).
    pub ask_when_exhausted: bool,
}

impl Plan {
    /// All targets at once.
    pub fn parallel(targets: Vec<Target>) -> Self {
        Plan {
            groups: vec![Group {
                targets,
                timeout: None,
            }],
            failover: Failover::AnyFailure,
            max_redirects: 0,
            record_route: true,
            ask_when_exhausted: false,
        }
    }

    /// One target after the other, on 408/5xx/transport failure only.
    pub fn sequential(targets: Vec<Target>) -> Self {
        Plan {
            groups: targets
                .into_iter()
                .map(|t| Group {
                    targets: vec![t],
                    timeout: None,
                })
                .collect(),
            failover: Failover::Unavailable,
            max_redirects: 0,
            record_route: true,
            ask_when_exhausted: false,
        }
    }
}

/// The answer to a [`Query::Route`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteDecision {
    Forward(Plan),
    /// Answer the request with this status and extra headers (a 403 with a Warning, a 404).
    Reject {
        status: StatusCode,
        headers: Vec<Header>,
    },
}

/// Why a route is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteKind {
    /// A request outside a dialog, after §16.3 validation and §16.4 preprocessing.
    Initial,
    /// A request inside a dialog whose next hop (top Route, else Request-URI) is not an IP
    /// literal, or is one over a stream transport (a device that registered over its own
    /// connection accepts none: the caller maps its Contact to that flow): resolve it and
    /// answer with one target. When the next hop is a Route, only the target's `peer` is
    /// used: the Request-URI (the remote target) stays (§16.12).
    InDialog { next_hop: Uri },
    /// A request inside a dialog (a To tag) that has no Route left after §16.4
    /// preprocessing and whose Request-URI names a user at one of this proxy's own
    /// addresses or aliases (`BYE sip:bob@<proxy>`): the UA did not keep the route set
    /// (RFC 3261 §12.1.2) and sent the request to the address-of-record's server.
    /// Forwarding it to the Request-URI's host would send it back to ourselves and end
    /// in 482. §16.5 applies instead: the domain is ours, so the targets are what a
    /// location service lookup of `uri` gives.
    ///
    /// Answer `Forward` with a plan whose targets are the user's registered contacts
    /// (each target's `uri` the contact, its `peer` the binding's flow); the device
    /// that holds the dialog answers, any other answers 481 and loses §16.7 selection.
    /// Answer `Reject` (404, 480) when the user is unknown or has no device. This is
    /// not a new call: call handling rules (forwarding, simultaneous ring, deflection)
    /// do not apply, and `record_route` is ignored (never Record-Routed in a dialog).
    /// A 2xx ACK is asked the same way and sent, statelessly, to every target of the
    /// first group; a device outside the dialog drops it (§17.2.3, no transaction).
    InDialogToUser { uri: Uri },
    /// A branch answered 3xx and the plan allows recursion: these are its Contacts. The
    /// answer's groups are tried next; a Reject keeps the 3xx as the branch's response.
    Redirect {
        status: StatusCode,
        contacts: Vec<Uri>,
    },
    /// The plan is used up ([`Plan::ask_when_exhausted`]). `best` is the response §16.7
    /// would send upstream now (408 if none); `timed_out` says the last group's timeout
    /// ended it (forward when unanswered) rather than its branches' answers (forward when
    /// busy: best 486/600). Answer `Forward(plan)` to try that plan's groups next (its own
    /// `ask_when_exhausted` then applies), or `Reject { .. }` to send the best response
    /// upstream as if nobody had asked (the status in the Reject is ignored). A
    /// `Forward` with no groups counts as a Reject.
    Exhausted { best: StatusCode, timed_out: bool },
}

/// Work the proxy cannot do itself (anything that might need a lookup).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Query {
    Route {
        id: QueryId,
        kind: RouteKind,
        /// The request as it will be forwarded (Route popped, Max-Forwards not yet
        /// decremented), for routing to read Request-URI, From, headers.
        request: Request,
        from: Peer,
    },
}

/// What happened, for metrics and call records.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyEvent {
    /// A branch was created toward a target.
    BranchStarted { ctx: ContextId, target: Uri },
    /// A branch ended with this (possibly synthesized) final status.
    BranchFinished { ctx: ContextId, status: StatusCode },
    /// The request got its final answer upstream (for a forked 2xx, the first one).
    Finished { ctx: ContextId, status: StatusCode },
    /// A request was refused before any forwarding (400-class checks of §16.3, loops).
    Rejected { status: StatusCode },
}
