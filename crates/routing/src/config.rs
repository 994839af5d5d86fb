//! Routing configuration as the site file, CLI and HTTP API provision it ([`RoutingConfig`],
//! serde), and its compiled, validated form ([`RoutingTable`]) that [`crate::route()`] reads.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::dialplan::{DialPlan, DialPlanConfig};
use crate::error::ConfigError;
use crate::ids::{DialPlanName, PbxName, PolicyName, RouteName, SiteName, TrunkName, Usage, E164};

/// Everything routing needs besides the directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// Domains served here: a Request-URI in one of them names a user or a dialled string.
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub dial_plans: Vec<DialPlanConfig>,
    /// The plan for callers with neither a personal nor a site plan (and for trunks).
    #[serde(default)]
    pub default_dial_plan: Option<DialPlanName>,
    #[serde(default)]
    pub sites: Vec<SiteConfig>,
    /// Outbound routes, tried in this order.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    #[serde(default)]
    pub voice_policies: Vec<VoicePolicyConfig>,
    /// The policy of users who name none; without it they may not call out at all.
    #[serde(default)]
    pub default_voice_policy: Option<PolicyName>,
    #[serde(default)]
    pub pbxes: Vec<PbxConfig>,
    #[serde(default)]
    pub limits: Limits,
}

/// A site: its dial plan and the main number its extensions hang off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    pub name: SiteName,
    #[serde(default)]
    pub dial_plan: Option<DialPlanName>,
    #[serde(default)]
    pub main_number: Option<E164>,
}

/// An outbound route: E.164 numbers matching `pattern` leave through `trunks`, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub name: RouteName,
    /// A regular expression over the E.164 number, `+` included.
    pub pattern: String,
    pub usage: Usage,
    /// Gateway pools or trunks, primary first.
    pub trunks: Vec<TrunkName>,
    #[serde(default)]
    pub failover: FailoverPolicy,
}

/// A voice policy: the usages its users may call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoicePolicyConfig {
    pub name: PolicyName,
    pub usages: Vec<Usage>,
}

/// An IP-PBX reached over a trunk, for co-existence and partitioned numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PbxConfig {
    pub name: PbxName,
    pub trunk: TrunkName,
    #[serde(default)]
    pub mark: MarkConfig,
    /// Mixed into the mark so a PBX-side caller cannot guess a mark and skip the fork.
    #[serde(default)]
    pub mark_secret: String,
}

/// Where the co-existence mark travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MarkConfig {
    /// A header the PBX passes through when it forks back (works through proxies).
    Header { name: String },
    /// A Request-URI parameter (for PBXs that keep the Request-URI but drop unknown headers).
    UriParam { name: String },
}

impl Default for MarkConfig {
    fn default() -> Self {
        MarkConfig::Header {
            name: "X-Switchboard-Fork".into(),
        }
    }
}

/// Bounds that keep redirection finite and timers sane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Redirections (forwards and deflections) one call may go through.
    pub max_redirections: u8,
    pub min_unanswered_secs: u32,
    pub max_unanswered_secs: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_redirections: 5,
            min_unanswered_secs: 5,
            max_unanswered_secs: 120,
        }
    }
}

/// When the proxy moves an outbound branch on to the next trunk. Expressed as data: the
/// proxy applies it to each final response from a trunk (RFC 3261 §16.7 keeps the
/// branch's response otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FailoverPolicy {
    /// Status codes (`"408"`) or classes (`"5xx"`) that move on to the next trunk.
    pub on_status: Vec<StatusMatch>,
    /// No final response before the trunk's timer fires (Timer B/C): move on.
    pub on_timeout: bool,
    /// A 503 with Retry-After takes that trunk out of use for the given time (RFC 3261
    /// §21.5.4), which the caller of the proxy records; routing only says to honour it.
    pub honour_retry_after: bool,
}

impl Default for FailoverPolicy {
    fn default() -> Self {
        FailoverPolicy {
            on_status: vec![StatusMatch::Exact(408), StatusMatch::Class(5)],
            on_timeout: true,
            honour_retry_after: true,
        }
    }
}

impl FailoverPolicy {
    /// Whether a final response with `status` from one trunk sends the call to the next.
    pub fn fails_over_on(&self, status: u16) -> bool {
        self.on_status.iter().any(|m| m.matches(status))
    }
}

/// A status code or a class of them, written `"503"` or `"5xx"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum StatusMatch {
    Exact(u16),
    Class(u8),
}

impl StatusMatch {
    pub fn matches(self, status: u16) -> bool {
        match self {
            StatusMatch::Exact(s) => s == status,
            StatusMatch::Class(c) => status / 100 == u16::from(c),
        }
    }
}

impl TryFrom<String> for StatusMatch {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a status code (\"503\") or class (\"5xx\")");
        let b = s.as_bytes();
        if b.len() == 3 && b[1..].eq_ignore_ascii_case(b"xx") && (b'3'..=b'6').contains(&b[0]) {
            return Ok(StatusMatch::Class(b[0] - b'0'));
        }
        match s.parse::<u16>() {
            Ok(n) if (300..700).contains(&n) => Ok(StatusMatch::Exact(n)),
            _ => Err(bad()),
        }
    }
}

impl From<StatusMatch> for String {
    fn from(m: StatusMatch) -> String {
        match m {
            StatusMatch::Exact(n) => n.to_string(),
            StatusMatch::Class(c) => format!("{c}xx"),
        }
    }
}

/// A compiled outbound route.
#[derive(Debug, Clone)]
pub struct Route {
    pub config: RouteConfig,
    regex: Regex,
}

impl Route {
    pub fn matches(&self, n: &E164) -> bool {
        self.regex.is_match(n.as_str())
    }
}

/// Validated, compiled configuration. Build it once per configuration change and share it
/// read-only; routing a call only reads it.
#[derive(Debug, Clone)]
pub struct RoutingTable {
    pub(crate) config: RoutingConfig,
    pub(crate) plans: BTreeMap<DialPlanName, DialPlan>,
    pub(crate) routes: Vec<Route>,
    pub(crate) policies: BTreeMap<PolicyName, BTreeSet<Usage>>,
}

impl RoutingTable {
    /// Validates every cross-reference and compiles every pattern; the first problem found
    /// is returned, naming the item.
    pub fn compile(config: RoutingConfig) -> Result<RoutingTable, ConfigError> {
        let mut plans = BTreeMap::new();
        for p in &config.dial_plans {
            if plans
                .insert(p.name.clone(), DialPlan::compile(p)?)
                .is_some()
            {
                return Err(dup("dial_plan", p.name.as_str()));
            }
        }
        let known_plan = |n: &DialPlanName| plans.contains_key(n);
        if let Some(d) = &config.default_dial_plan {
            if !known_plan(d) {
                return Err(ConfigError::Other(format!(
                    "default_dial_plan \"{d}\" is not a defined dial_plan"
                )));
            }
        }
        let mut sites = BTreeSet::new();
        for s in &config.sites {
            if !sites.insert(&s.name) {
                return Err(dup("site", s.name.as_str()));
            }
            if let Some(p) = s.dial_plan.as_ref().filter(|p| !known_plan(p)) {
                return Err(ConfigError::Site {
                    site: s.name.clone(),
                    reason: format!("dial_plan \"{p}\" is not defined"),
                });
            }
        }
        let mut routes: Vec<Route> = Vec::new();
        for r in &config.routes {
            if routes.iter().any(|x| x.config.name == r.name) {
                return Err(dup("route", r.name.as_str()));
            }
            let err = |reason: String| ConfigError::Route {
                route: r.name.clone(),
                reason,
            };
            let regex =
                Regex::new(&r.pattern).map_err(|e| err(format!("pattern {:?}: {e}", r.pattern)))?;
            if r.trunks.is_empty() {
                return Err(err("lists no trunks".into()));
            }
            routes.push(Route {
                config: r.clone(),
                regex,
            });
        }
        let mut policies = BTreeMap::new();
        for p in &config.voice_policies {
            let usages: BTreeSet<Usage> = p.usages.iter().cloned().collect();
            if policies.insert(p.name.clone(), usages).is_some() {
                return Err(dup("voice_policy", p.name.as_str()));
            }
        }
        if let Some(d) = config
            .default_voice_policy
            .as_ref()
            .filter(|d| !policies.contains_key(*d))
        {
            return Err(ConfigError::Other(format!(
                "default_voice_policy \"{d}\" is not a defined voice_policy"
            )));
        }
        let mut pbxes = BTreeSet::new();
        for p in &config.pbxes {
            if !pbxes.insert(&p.name) {
                return Err(dup("pbx", p.name.as_str()));
            }
            let name_ok = |n: &str| {
                !n.is_empty()
                    && n.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.!%*+`'~".contains(&b))
            };
            let (MarkConfig::Header { name } | MarkConfig::UriParam { name }) = &p.mark;
            if !name_ok(name) {
                return Err(ConfigError::Pbx {
                    pbx: p.name.clone(),
                    reason: format!("mark name {name:?} is not a SIP token"),
                });
            }
        }
        let l = config.limits;
        if l.min_unanswered_secs > l.max_unanswered_secs || l.max_redirections == 0 {
            return Err(ConfigError::Other(format!(
                "limits: need min_unanswered_secs <= max_unanswered_secs and \
                 max_redirections >= 1 (got {l:?})"
            )));
        }
        Ok(RoutingTable {
            config,
            plans,
            routes,
            policies,
        })
    }

    pub fn config(&self) -> &RoutingConfig {
        &self.config
    }

    pub fn dial_plan(&self, name: &DialPlanName) -> Option<&DialPlan> {
        self.plans.get(name)
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn site(&self, name: &SiteName) -> Option<&SiteConfig> {
        self.config.sites.iter().find(|s| &s.name == name)
    }

    pub fn pbx(&self, name: &PbxName) -> Option<&PbxConfig> {
        self.config.pbxes.iter().find(|p| &p.name == name)
    }

    /// The PBX whose trunk is `trunk`, if any (to recognise calls coming from a PBX).
    pub fn pbx_by_trunk(&self, trunk: &TrunkName) -> Option<&PbxConfig> {
        self.config.pbxes.iter().find(|p| &p.trunk == trunk)
    }

    /// The usages a policy allows (`None`: no such policy).
    pub fn policy_usages(&self, name: &PolicyName) -> Option<&BTreeSet<Usage>> {
        self.policies.get(name)
    }

    /// Whether `host` is one of the domains served here (case-insensitive).
    pub fn serves_domain(&self, host: &str) -> bool {
        self.config
            .domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(host))
    }
}

fn dup(what: &'static str, name: &str) -> ConfigError {
    ConfigError::Duplicate {
        what,
        name: name.to_string(),
    }
}
