//! Identifiers: users, numbers and the names configuration gives to plans, routes, trunks,
//! policies, usages, sites and PBXs. Never bare strings, so a route name cannot be passed
//! where a trunk name is meant.

use serde::{Deserialize, Serialize};
use std::fmt;

use sb_sip_msg::{Host, SipUri};

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
    /// The name of a dial plan (location profile), e.g. `redmond`.
    DialPlanName
);
name_newtype!(
    /// The name of an outbound route, e.g. `us-national`.
    RouteName
);
name_newtype!(
    /// A gateway pool or SIP trunk as the mediation role names it, e.g. `gw-seattle`.
    TrunkName
);
name_newtype!(
    /// The name of a voice policy, e.g. `domestic`.
    PolicyName
);
name_newtype!(
    /// A usage (PSTN usage) that ties routes to policies: `local`, `national`,
    /// `international`, `premium`, or any other name a site chooses.
    Usage
);
name_newtype!(
    /// The name of a site (an office with its own dial plan and main number).
    SiteName
);
name_newtype!(
    /// The name of an IP-PBX this server co-exists with.
    PbxName
);

/// A user's address of record in the form the store keeps: `sip:alice@example.com`
/// (scheme `sip`, host in lower case, user part as written since RFC 3261 §19.1.4 compares
/// it case-sensitively).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    /// The user `user` at `domain`.
    pub fn new(user: &str, domain: &str) -> UserId {
        UserId(format!("sip:{user}@{}", domain.to_ascii_lowercase()))
    }

    /// Takes `sip:user@host` as already canonical (what the store and registrar produce).
    pub fn from_canonical(s: impl Into<String>) -> UserId {
        UserId(s.into())
    }

    /// The user a sip/sips URI names, if it has a user part; parameters, port and headers
    /// are ignored because an address of record names a person, not a device.
    pub fn from_sip_uri(u: &SipUri) -> Option<UserId> {
        let user = u.user.as_deref()?;
        let host = match &u.host {
            Host::Domain(d) => d.to_ascii_lowercase(),
            other => other.to_string(),
        };
        Some(UserId(format!("sip:{user}@{host}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The user part (`alice`).
    pub fn user(&self) -> &str {
        let rest = self.0.split_once(':').map_or(self.0.as_str(), |(_, r)| r);
        rest.rsplit_once('@').map_or(rest, |(u, _)| u)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A telephone number in E.164 global form (`+14255551212`): `+` and 1 to 15 digits,
/// the first not zero (ITU-T E.164; RFC 3966 §5.1.4 global numbers).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct E164(String);

impl E164 {
    /// Accepts exactly `+` and 1–15 digits; visual separators must be removed first.
    pub fn parse(s: &str) -> Option<E164> {
        let digits = s.strip_prefix('+')?;
        let ok = (1..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        ok.then(|| E164(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without the `+`.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for E164 {
    type Error = String;
    fn try_from(s: String) -> Result<E164, String> {
        E164::parse(&s).ok_or_else(|| format!("{s:?} is not an E.164 number (+ and 1-15 digits)"))
    }
}

impl From<E164> for String {
    fn from(n: E164) -> String {
        n.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_bounds() {
        assert!(E164::parse("+14255551212").is_some());
        assert!(E164::parse("+1").is_some());
        assert!(E164::parse("+1234567890123456").is_none(), "16 digits");
        assert!(E164::parse("14255551212").is_none(), "no plus");
        assert!(E164::parse("+0425").is_none(), "leading zero");
        assert!(E164::parse("+1-425").is_none(), "separator");
        assert!(E164::parse("+").is_none());
    }

    #[test]
    fn user_id_from_uri_lowercases_host_only() {
        let u: sb_sip_msg::Uri = "sip:Alice@EXAMPLE.com:5061;transport=tls".parse().unwrap();
        let id = UserId::from_sip_uri(u.as_sip().unwrap()).unwrap();
        assert_eq!(id.as_str(), "sip:Alice@example.com");
        assert_eq!(id.user(), "Alice");
    }
}
