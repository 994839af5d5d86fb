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
//! out as queries too. Peer input never panics; a request that cannot be proxied gets the
//! §16.3 status (416, 420, 482, 483) and a [`ProxyEvent::Rejected`].

mod context;
mod proxy;
mod route;
mod types;

pub use proxy::Proxy;
pub use types::{
    ContextId, Failover, Group, Listen, Plan, ProxyConfig, ProxyEvent, Query, QueryId,
    RouteDecision, RouteKind, Target,
};
