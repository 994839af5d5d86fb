//! Provisioning errors. Each names the gateway or pool and the field at fault, in the
//! words of the site file (`gateways "gw-a": outbound[2].match: ...`), so an
//! administrator can find the line.

use crate::ids::{GatewayName, PoolName};

/// Gateway or pool configuration that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("gateways \"{gateway}\": {field}: {reason}")]
    Gateway {
        gateway: GatewayName,
        field: String,
        reason: String,
    },
    #[error("pools \"{pool}\": {field}: {reason}")]
    Pool {
        pool: PoolName,
        field: String,
        reason: String,
    },
    #[error("{what} \"{name}\" is defined twice")]
    Duplicate { what: &'static str, name: String },
    #[error(
        "routing.routes \"{route}\": trunks: \"{target}\" is neither a gateway pool nor a trunk"
    )]
    RouteTarget { route: String, target: String },
}
