//! Names of gateways and pools: newtypes, so a pool name cannot be passed where a gateway
//! is meant.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! name_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Self {
                $name(s.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_string())
            }
        }
    };
}

name_newtype!(
    /// A PSTN gateway or IP-PBX trunk as provisioned, e.g. `gw-sea-1`.
    GatewayName
);
name_newtype!(
    /// A pool of gateways; outbound routes name pools in their `trunks` list.
    PoolName
);

impl From<&sb_routing::TrunkName> for PoolName {
    fn from(t: &sb_routing::TrunkName) -> Self {
        PoolName(t.as_str().to_string())
    }
}

/// Names are what an administrator types on the command line and in the site file:
/// 1 to 64 characters from letters, digits and `-_.`.
pub(crate) fn valid_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
