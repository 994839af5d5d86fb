//! Gateways and pools as the site file, the CLI and the HTTP API provision them
//! ([`GatewaysConfig`], serde), and their checked, compiled form ([`GatewayTable`]).
//!
//! ```toml
//! [[gateways]]
//! name = "gw-sea-1"
//! address = "gw1.sea.example.net:5060"
//! transport = "tcp"
//! codecs = ["PCMU", "PCMA"]
//! capacity = 23
//! fail_codes = [503]
//! outbound = [ { match = "+1.", convert = { to = "national", country_code = "1" } } ]
//! inbound = [ { match = "NXXNXXXXXX", convert = { to = "e164", country_code = "1" } } ]
//!
//! [[pools]]
//! name = "pstn-sea"
//! gateways = ["gw-sea-1", "gw-sea-2"]
//! strategy = "priority"
//! ```

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use sb_sip_msg::{Host, Params, SipUri, Uri};

use crate::error::ConfigError;
use crate::ids::{valid_name, GatewayName, PoolName};
use crate::numbers::{escape_user, NumberRuleConfig, NumberRules};

/// How signalling reaches the gateway.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GatewayTransport {
    #[default]
    Udp,
    Tcp,
    Tls,
}

impl GatewayTransport {
    /// The Via transport token (RFC 3261 §20.42).
    pub fn as_via(self) -> &'static str {
        match self {
            GatewayTransport::Udp => "UDP",
            GatewayTransport::Tcp => "TCP",
            GatewayTransport::Tls => "TLS",
        }
    }
}

/// Which headers carry the caller's identity toward the gateway.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityMode {
    /// P-Asserted-Identity, with `Privacy: id` when the caller withholds it (RFC 3325 §9.1,
    /// RFC 3323 §4.2).
    #[default]
    Pai,
    /// Remote-Party-ID with `party`, `screen` and `privacy` parameters, for gateways that
    /// predate RFC 3325 (draft-ietf-sip-privacy-04).
    Rpid,
    /// From only.
    None,
}

/// Who withholds the number of a caller who asked for privacy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrivacyHandling {
    /// The gateway is inside our trust domain (RFC 3325 §2.3): it gets the asserted
    /// identity with the privacy request and withholds the number from the PSTN (it
    /// sends "presentation restricted").
    #[default]
    Forward,
    /// We withhold it: a private caller's number never reaches this gateway.
    Enforce,
}

/// One gateway as provisioned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    pub name: GatewayName,
    /// `host`, `host:port`, `IPv4[:port]` or `[IPv6][:port]`; a name without a port is
    /// resolved per RFC 3263 (NAPTR/SRV), one with a port by A/AAAA only.
    pub address: String,
    #[serde(default)]
    pub transport: GatewayTransport,
    /// Codecs the gateway takes, preferred first: `PCMU`, `PCMA`, `G722`, `opus`.
    #[serde(default = "default_codecs")]
    pub codecs: Vec<String>,
    /// DTMF as RFC 4733 telephone-events; false: as in-band tones.
    #[serde(default = "yes")]
    pub rfc4733: bool,
    /// Most concurrent calls (its circuits); none: unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
    /// Seconds between OPTIONS keep-alives.
    #[serde(default = "default_interval")]
    pub options_interval_s: u32,
    /// Consecutive unanswered keep-alives that mark the gateway down.
    #[serde(default = "one")]
    pub down_after: u32,
    /// Final statuses of a call that mark the gateway down until it answers a keep-alive.
    #[serde(default)]
    pub fail_codes: Vec<u16>,
    /// Rules for numbers we send to the gateway.
    #[serde(default)]
    pub outbound: Vec<NumberRuleConfig>,
    /// Rules for numbers the gateway sends us (before routing sees them).
    #[serde(default)]
    pub inbound: Vec<NumberRuleConfig>,
    #[serde(default)]
    pub identity: IdentityMode,
    #[serde(default)]
    pub privacy: PrivacyHandling,
    /// Send `Require: 100rel` (RFC 3262) on INVITEs to this gateway.
    #[serde(default)]
    pub require_100rel: bool,
    /// RFC 4028 session interval to ask for; none: no session timer toward the gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_timer_s: Option<u32>,
    /// The gateway takes SRTP with SDES keys (RFC 4568).
    #[serde(default)]
    pub srtp: bool,
    /// The gateway is an ICE-lite agent (RFC 8445 §2.5).
    #[serde(default)]
    pub ice_lite: bool,
    /// Media flows between client and gateway directly; needs `transport = "tls"`,
    /// `srtp` and `ice_lite`.
    #[serde(default)]
    pub media_bypass: bool,
}

fn default_codecs() -> Vec<String> {
    vec!["PCMU".into(), "PCMA".into()]
}
fn yes() -> bool {
    true
}
fn default_interval() -> u32 {
    30
}
fn one() -> u32 {
    1
}

impl GatewayConfig {
    /// A gateway at `address` with every other field at its default.
    pub fn new(name: &str, address: &str) -> GatewayConfig {
        GatewayConfig {
            name: GatewayName::from(name),
            address: address.to_string(),
            transport: GatewayTransport::default(),
            codecs: default_codecs(),
            rfc4733: true,
            capacity: None,
            options_interval_s: default_interval(),
            down_after: one(),
            fail_codes: Vec::new(),
            outbound: Vec::new(),
            inbound: Vec::new(),
            identity: IdentityMode::default(),
            privacy: PrivacyHandling::default(),
            require_100rel: false,
            session_timer_s: None,
            srtp: false,
            ice_lite: false,
            media_bypass: false,
        }
    }
}

/// How a pool chooses among its gateways that are up and not full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The first in the list; the others only when it is down or full.
    #[default]
    Priority,
    /// Each in turn: the one whose last call started longest ago.
    RoundRobin,
}

/// A pool as provisioned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    pub name: PoolName,
    pub gateways: Vec<GatewayName>,
    #[serde(default)]
    pub strategy: Strategy,
}

/// `[[gateways]]` and `[[pools]]` of the site file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaysConfig {
    #[serde(default)]
    pub gateways: Vec<GatewayConfig>,
    #[serde(default)]
    pub pools: Vec<PoolConfig>,
}

/// Where a gateway is: a host and perhaps a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayAddress {
    pub host: Host,
    pub port: Option<u16>,
}

impl GatewayAddress {
    pub fn parse(s: &str) -> Result<GatewayAddress, String> {
        let bad_port = |p: &str| format!("port {p:?} is not 1 to 65535");
        let port = |p: &str| {
            p.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| bad_port(p))
        };
        if let Some(rest) = s.strip_prefix('[') {
            let (ip, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("{s:?}: '[' without ']'"))?;
            let ip: Ipv6Addr = ip
                .parse()
                .map_err(|_| format!("{ip:?} is not an IPv6 address"))?;
            let port = match after {
                "" => None,
                p => Some(port(
                    p.strip_prefix(':')
                        .ok_or_else(|| format!("{s:?}: expected ':' after ']'"))?,
                )?),
            };
            return Ok(GatewayAddress {
                host: Host::V6(ip),
                port,
            });
        }
        if let Ok(ip) = s.parse::<Ipv6Addr>() {
            return Ok(GatewayAddress {
                host: Host::V6(ip),
                port: None,
            });
        }
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(port(p)?)),
            None => (s, None),
        };
        let host = if let Ok(ip) = host.parse::<Ipv4Addr>() {
            Host::V4(ip)
        } else if valid_domain(host) {
            Host::Domain(host.to_ascii_lowercase())
        } else {
            return Err(format!("{host:?} is neither an IP address nor a host name"));
        };
        Ok(GatewayAddress { host, port })
    }
}

fn valid_domain(s: &str) -> bool {
    // RFC 1123 §2.1 host names; a final dot (fully qualified) is allowed.
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && !s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

impl fmt::Display for GatewayAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.host)?;
        match self.port {
            Some(p) => write!(f, ":{p}"),
            None => Ok(()),
        }
    }
}

/// A checked gateway: its configuration with the address parsed and rules compiled.
#[derive(Debug, Clone)]
pub struct Gateway {
    pub config: GatewayConfig,
    pub address: GatewayAddress,
    pub outbound: NumberRules,
    pub inbound: NumberRules,
    /// `codecs` in their SDP spelling (`PCMU`, `PCMA`, `G722`, `opus`), preferred first.
    pub codecs: Vec<&'static str>,
}

impl Gateway {
    pub fn name(&self) -> &GatewayName {
        &self.config.name
    }

    /// The Request-URI for calling `number` (already through the outbound rules) at this
    /// gateway: `sip:NUMBER@ADDRESS;user=phone` (RFC 3261 §19.1.6), with `;transport=`
    /// for stream transports, the form gateways of every age accept.
    pub fn request_uri(&self, number: &str) -> Uri {
        let mut params = Params::new();
        params.set("user", Some("phone"));
        match self.config.transport {
            GatewayTransport::Udp => {}
            GatewayTransport::Tcp => params.set("transport", Some("tcp")),
            GatewayTransport::Tls => params.set("transport", Some("tls")),
        }
        Uri::Sip(SipUri {
            secure: false,
            user: Some(escape_user(number)),
            password: None,
            host: self.address.host.clone(),
            port: self.address.port,
            params,
            headers: Vec::new(),
        })
    }

    /// The keep-alive target: the gateway's address without a user.
    pub fn options_uri(&self) -> Uri {
        let mut uri = self.request_uri("");
        if let Uri::Sip(s) = &mut uri {
            s.user = None;
            s.params.remove("user");
        }
        uri
    }

    fn check(config: GatewayConfig) -> Result<Gateway, ConfigError> {
        let err = |field: &str, reason: String| ConfigError::Gateway {
            gateway: config.name.clone(),
            field: field.to_string(),
            reason,
        };
        let c = &config;
        if !valid_name(c.name.as_str()) {
            return Err(err(
                "name",
                "must be 1 to 64 letters, digits, '-', '_' or '.'".into(),
            ));
        }
        let address = GatewayAddress::parse(&c.address).map_err(|e| err("address", e))?;
        if c.codecs.is_empty() {
            return Err(err("codecs", "lists no codec".into()));
        }
        let mut seen = Vec::new();
        for (i, name) in c.codecs.iter().enumerate() {
            let field = format!("codecs[{i}]");
            if name.eq_ignore_ascii_case("telephone-event") {
                return Err(err(
                    &field,
                    "DTMF is set with rfc4733, not as a codec".into(),
                ));
            }
            let known = canonical_codec(name).ok_or_else(|| {
                err(
                    &field,
                    format!("{name:?} is not one of PCMU, PCMA, G722, opus"),
                )
            })?;
            if seen.contains(&known) {
                return Err(err(&field, format!("{known} is listed twice")));
            }
            seen.push(known);
        }
        if c.capacity == Some(0) {
            return Err(err(
                "capacity",
                "0 would refuse every call (leave it out for no limit)".into(),
            ));
        }
        if !(1..=3600).contains(&c.options_interval_s) {
            return Err(err(
                "options_interval_s",
                "must be 1 to 3600 seconds".into(),
            ));
        }
        if !(1..=10).contains(&c.down_after) {
            return Err(err("down_after", "must be 1 to 10 keep-alives".into()));
        }
        for (i, code) in c.fail_codes.iter().enumerate() {
            if !(400..=699).contains(code) {
                return Err(err(
                    &format!("fail_codes[{i}]"),
                    format!("{code} is not a failure status (400 to 699)"),
                ));
            }
        }
        if let Some(s) = c.session_timer_s.filter(|s| *s < 90) {
            return Err(err(
                "session_timer_s",
                format!("{s} is below the 90 s minimum of RFC 4028 §4"),
            ));
        }
        if c.srtp && c.transport != GatewayTransport::Tls {
            return Err(err(
                "srtp",
                "SDES keys travel in SDP and need transport = \"tls\" (RFC 4568 §8)".into(),
            ));
        }
        if c.media_bypass {
            let missing: Vec<&str> = [
                (c.transport != GatewayTransport::Tls, "transport = \"tls\""),
                (!c.srtp, "srtp = true"),
                (!c.ice_lite, "ice_lite = true"),
            ]
            .into_iter()
            .filter_map(|(m, what)| m.then_some(what))
            .collect();
            if !missing.is_empty() {
                return Err(err("media_bypass", format!("needs {}", missing.join(", "))));
            }
        }
        let rules = |field: &str, r: &[NumberRuleConfig]| {
            NumberRules::compile(r).map_err(|(i, f, e)| err(&format!("{field}[{i}].{f}"), e))
        };
        let outbound = rules("outbound", &c.outbound)?;
        let inbound = rules("inbound", &c.inbound)?;
        Ok(Gateway {
            config,
            address,
            outbound,
            inbound,
            codecs: seen,
        })
    }
}

/// The codec names mediation handles, spelled as SDP rtpmap writes them (RFC 3551 §6,
/// RFC 7587 §7).
fn canonical_codec(name: &str) -> Option<&'static str> {
    ["PCMU", "PCMA", "G722", "opus"]
        .into_iter()
        .find(|k| k.eq_ignore_ascii_case(name))
}

/// A checked pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub name: PoolName,
    pub gateways: Vec<GatewayName>,
    pub strategy: Strategy,
}

/// Validated gateways and pools. Build it once per configuration change.
#[derive(Debug, Clone, Default)]
pub struct GatewayTable {
    gateways: Vec<Gateway>,
    pools: Vec<Pool>,
}

impl GatewayTable {
    /// Checks every gateway and pool; the first problem is returned, naming the gateway
    /// or pool and the field.
    pub fn compile(config: GatewaysConfig) -> Result<GatewayTable, ConfigError> {
        let mut gateways: Vec<Gateway> = Vec::with_capacity(config.gateways.len());
        for g in config.gateways {
            if gateways.iter().any(|x| x.name() == &g.name) {
                return Err(ConfigError::Duplicate {
                    what: "gateway",
                    name: g.name.to_string(),
                });
            }
            gateways.push(Gateway::check(g)?);
        }
        let mut pools: Vec<Pool> = Vec::with_capacity(config.pools.len());
        for p in config.pools {
            let err = |field: String, reason: String| ConfigError::Pool {
                pool: p.name.clone(),
                field,
                reason,
            };
            if !valid_name(p.name.as_str()) {
                return Err(err(
                    "name".into(),
                    "must be 1 to 64 letters, digits, '-', '_' or '.'".into(),
                ));
            }
            if pools.iter().any(|x| x.name == p.name) {
                return Err(ConfigError::Duplicate {
                    what: "pool",
                    name: p.name.to_string(),
                });
            }
            if p.gateways.is_empty() {
                return Err(err("gateways".into(), "lists no gateway".into()));
            }
            for (i, g) in p.gateways.iter().enumerate() {
                let field = format!("gateways[{i}]");
                if !gateways.iter().any(|x| x.name() == g) {
                    return Err(err(field, format!("\"{g}\" is not a defined gateway")));
                }
                if p.gateways[..i].contains(g) {
                    return Err(err(field, format!("\"{g}\" is listed twice")));
                }
            }
            pools.push(Pool {
                name: p.name,
                gateways: p.gateways,
                strategy: p.strategy,
            });
        }
        Ok(GatewayTable { gateways, pools })
    }

    pub fn gateways(&self) -> &[Gateway] {
        &self.gateways
    }

    pub fn pools(&self) -> &[Pool] {
        &self.pools
    }

    pub fn gateway(&self, name: &GatewayName) -> Option<&Gateway> {
        self.gateways.iter().find(|g| g.name() == name)
    }

    /// The gateway provisioned at this IP literal (to recognise a request's source).
    /// Gateways provisioned by name match only after the caller resolves them.
    pub fn gateway_by_ip(&self, ip: std::net::IpAddr) -> Option<&Gateway> {
        self.gateways.iter().find(|g| match (&g.address.host, ip) {
            (Host::V4(a), std::net::IpAddr::V4(b)) => *a == b,
            (Host::V6(a), std::net::IpAddr::V6(b)) => *a == b,
            _ => false,
        })
    }

    pub fn pool(&self, name: &PoolName) -> Option<&Pool> {
        self.pools.iter().find(|p| &p.name == name)
    }

    /// Checks that every target an outbound route names is a pool here, or a trunk the
    /// caller knows of (`is_trunk`: `[[trunks]]` such as SIP trunks and PBXs).
    pub fn check_route_targets(
        &self,
        routes: &[sb_routing::RouteConfig],
        is_trunk: impl Fn(&sb_routing::TrunkName) -> bool,
    ) -> Result<(), ConfigError> {
        for r in routes {
            for t in &r.trunks {
                if self.pool(&PoolName::from(t)).is_none() && !is_trunk(t) {
                    return Err(ConfigError::RouteTarget {
                        route: r.name.to_string(),
                        target: t.to_string(),
                    });
                }
            }
        }
        Ok(())
    }
}
