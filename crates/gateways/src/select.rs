//! Choosing a gateway of a pool for a new call.

use crate::config::{Pool, Strategy};
use crate::ids::GatewayName;
use crate::monitor::GatewayMonitor;

/// The pool's gateways that may take a call now (not down, not full), in the order to
/// try them: the pool's order for [`Strategy::Priority`]; for [`Strategy::RoundRobin`],
/// the one whose last call started longest ago first (never-used ones in pool order).
/// The rest of the list serves as failover targets for the same call.
pub fn candidates(pool: &Pool, monitor: &GatewayMonitor) -> Vec<GatewayName> {
    let mut out: Vec<GatewayName> = pool
        .gateways
        .iter()
        .filter(|g| monitor.is_available(g))
        .cloned()
        .collect();
    if pool.strategy == Strategy::RoundRobin {
        // Stable: ties keep the pool's order.
        out.sort_by_key(|g| monitor.last_reserved(g));
    }
    out
}

/// The gateway for the next call of `pool`, or `None` when every one is down or full
/// (the call then fails with 503, or moves to the route's next pool). Reserve the
/// choice with [`GatewayMonitor::reserve`]: round robin moves on by reservations.
pub fn pick(pool: &Pool, monitor: &GatewayMonitor) -> Option<GatewayName> {
    candidates(pool, monitor).into_iter().next()
}
