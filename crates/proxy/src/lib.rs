//! Switchboard's stateful forking proxy core (RFC 3261 §16, RFC 5393, RFC 3326).
//!
//! [`Proxy`] proxies requests the way the front end needs: validation (§16.3),
//! route preprocessing with the strict-route fix-up (§16.4), Record-Route (§16.6 step 4,
//! doubled per RFC 5658 when the transport changes), loop detection with a hash in the
//! branch (§16.3 step 4), parallel and sequential forking with best-response selection
//! (§16.7), CANCEL of the losing branches with an RFC 3326 Reason, Timer C (§16.8),
//! upstream CANCEL (§16.10), and in-dialog requests along the route set, with the 2xx ACK
//! forwarded statelessly (§16.11).
//!
//! # Failover, forwarding and late answers
//!
//! - Trunk and gateway failover inside a branch: a [`Target`] may carry `fallbacks`,
//!   tried one after the other in the same group when its branch ends with a status its
//!   `fallback_on` accepts (by default 408, 5xx or a transport failure, which §8.1.3.1
//!   turns into 408 and 503). Every attempt counts in best-response selection (§16.7
//!   step 6); none starts once the search is over (§16.7 step 5, §16.10).
//! - A next hop that sends nothing at all, not even 100 Trying (§16.2, §17.2.1), within
//!   a target's `answer_timeout` counts as 408 and its fallback starts; its transaction
//!   goes on quietly, and a late 2xx from it is still relayed.
//! - Forward when busy or unanswered: with [`Plan::ask_when_exhausted`], a search that
//!   ends without a 2xx or 6xx (or whose last group's timeout passes) comes back as a
//!   [`Query::Route`] of kind [`RouteKind::Exhausted`], answered with the next plan
//!   (voicemail, a forwarding target) or a Reject that sends the best response.
//! - Every 2xx goes upstream (§16.7 step 5), also one from a branch we cancelled or gave
//!   up on, and one that follows its branch's 487 (a downstream forking proxy answering
//!   our CANCEL while a fork answered: the transaction layer reports it as a stray, and
//!   the proxy finds its branch by the Via branch, or forwards it along the Via as
//!   RFC 6026 §8.4 allows once the context is gone).
//!
//! # Driving it
//!
//! The proxy owns its [`sb_sip_core::TransactionLayer`]: feed it what the transport
//! receives and send what it transmits. Where a request goes is not its business: every
//! new request comes out as a [`Query::Route`], and the caller (routing policy, registrar
//! lookup, DNS) answers with [`Proxy::handle_route_decision`] — a [`Plan`] of target
//! groups, or a rejection. A query not answered within
//! [`ProxyConfig::route_deadline`] is answered upstream with
//! [`ProxyConfig::route_timeout_status`].
//!
//! ```no_run
//! use std::time::Instant;
//! use sb_proxy::{Plan, Proxy, ProxyConfig, Query, RouteDecision, Target};
//! # fn receive() -> Option<(sb_sip_msg::Message, sb_sip_core::Peer)> { None }
//! # fn send(_: sb_sip_core::Transmit) {}
//! # fn lookup(_: &sb_sip_msg::Request) -> Vec<Target> { Vec::new() }
//! let cfg = ProxyConfig::udp("192.0.2.10:5060".parse().unwrap());
//! let mut proxy = Proxy::new(cfg, sb_sip_core::TimerConfig::default(), 0x5eed);
//! loop {
//!     let now = Instant::now();
//!     match receive() {
//!         Some((msg, from)) => proxy.handle_message(now, msg, from),
//!         None => proxy.handle_timeout(now),
//!     }
//!     while let Some(Query::Route { id, request, .. }) = proxy.poll_query() {
//!         let plan = Plan::parallel(lookup(&request));
//!         proxy.handle_route_decision(now, id, RouteDecision::Forward(plan));
//!     }
//!     while let Some(t) = proxy.poll_transmit() {
//!         send(t);
//!     }
//!     while proxy.poll_event().is_some() {}
//!     // sleep until proxy.poll_timeout() or the next message
//! }
//! ```
//!
//! # What it never does
//!
//! It reads no clock, opens no socket, resolves no name and never awaits: next hops in a
//! [`Target`] are already resolved, and in-dialog next hops that are not IP literals come
//! out as queries too, as do in-dialog requests addressed to a user at the proxy's own
//! address with no route set ([`RouteKind::InDialogToUser`]). Peer input never panics;
//! a request that cannot be proxied gets the §16.3 status (416, 420, 482, 483) and a
//! [`ProxyEvent::Rejected`].

mod context;
mod proxy;
mod route;
mod types;

pub use proxy::Proxy;
pub use route::literal_peer;
pub use types::{
    ContextId, Failover, Group, Listen, Plan, ProxyConfig, ProxyEvent, Query, QueryId,
    RouteDecision, RouteKind, Target,
};
