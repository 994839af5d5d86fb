//! PSTN gateways and pools for the mediation role: the provisioning model, gateway
//! health, the choice of a gateway for a call, and the number and caller-identity
//! adaptation each gateway profile asks for.
//!
//! - [`GatewaysConfig`] is `[[gateways]]` and `[[pools]]` of the site file (serde);
//!   [`GatewayTable::compile`] checks it and names the gateway or pool and the field of
//!   every problem. [`GatewayTable::check_route_targets`] checks that outbound routes
//!   name pools (or trunks the caller knows).
//! - [`NumberRules`] rewrite numbers toward a gateway (`outbound`) and from it
//!   (`inbound`): regex-free patterns, E.164 ↔ national, strip and prefix, over the
//!   Request-URI, To, From, P-Asserted-Identity and Remote-Party-ID
//!   ([`NumberRules::rewrite_request`]).
//! - [`outbound_identity`] makes the From and identity headers (PAI + Privacy, RPID, or
//!   none) for a caller; [`inbound_caller`] reads the caller of a gateway's INVITE.
//! - [`GatewayMonitor`] is a sans-IO state machine: OPTIONS keep-alives, answers,
//!   timeouts and call failures in; up/down events and keep-alives to send out.
//! - [`pick`] and [`candidates`] choose among a pool's gateways that are up and not
//!   full; [`GatewayMonitor::reserve`] / [`GatewayMonitor::release`] count calls.
//!
//! It never does IO, never reads a clock and never panics on what a peer sends: time is
//! an argument, names are resolved (RFC 3263) and messages sent by the caller.
//!
//! ```no_run
//! use std::time::Instant;
//! use sb_gateways::*;
//! # fn send(_: KeepAlive) {}
//! # fn received() -> Option<sb_sip_msg::Response> { None }
//! let table = GatewayTable::compile(toml::from_str(r#"
//!     [[gateways]]
//!     name = "gw-a"
//!     address = "192.0.2.10:5060"
//!     [[gateways]]
//!     name = "gw-b"
//!     address = "192.0.2.11:5060"
//!     [[pools]]
//!     name = "pstn"
//!     gateways = ["gw-a", "gw-b"]
//! "#).unwrap()).unwrap();
//! let cfg = MonitorConfig::new(sb_sip_msg::Host::Domain("sb.example.com".into()), Some(5060), 7);
//! let mut monitor = GatewayMonitor::new(Instant::now(), &table, cfg);
//! loop {
//!     let now = Instant::now();
//!     match received() {
//!         Some(resp) => { monitor.handle_options_response(now, &resp); }
//!         None => monitor.handle_timeout(now),
//!     }
//!     while let Some(k) = monitor.poll_transmit() { send(k); }
//!     while let Some(e) = monitor.poll_event() { println!("{e:?}"); }
//!     // A new call to the pool:
//!     let pool = table.pool(&PoolName::from("pstn")).unwrap();
//!     if let Some(gw) = pick(pool, &monitor) {
//!         assert!(monitor.reserve(&gw));
//!         // ... the call; then monitor.release(&gw), and on failure
//!         // monitor.call_failed(now, &gw, status).
//!     }
//!     // sleep until monitor.poll_timeout() or the next response
//! }
//! ```

mod config;
mod error;
mod identity;
mod ids;
mod monitor;
mod numbers;
mod select;

pub use config::{
    Gateway, GatewayAddress, GatewayConfig, GatewayTable, GatewayTransport, GatewaysConfig,
    IdentityMode, Pool, PoolConfig, PrivacyHandling, Strategy,
};
pub use error::ConfigError;
pub use identity::{
    anonymous_from, inbound_caller, outbound_identity, CallerIdentity, IdentitySource,
    InboundCaller, OutboundIdentity,
};
pub use ids::{GatewayName, PoolName};
pub use monitor::{
    GatewayMonitor, GatewayState, Health, KeepAlive, MonitorConfig, MonitorEvent, Reason,
};
pub use numbers::{
    escape_user, uri_number, Conversion, NumberPattern, NumberRole, NumberRule, NumberRuleConfig,
    NumberRules, Rewritten, Scope,
};
pub use select::{candidates, pick};
