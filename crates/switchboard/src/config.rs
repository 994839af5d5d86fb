//! The configuration file: one TOML document, every field optional, unknown fields refused
//! by name (so a typo is an error that says which key, not a silently ignored setting).

use anyhow::Context;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub sip: SipConfig,
    pub tls: TlsConfig,
    pub http: HttpConfig,
    pub log: LogConfig,
    /// `[store]`: SQLite (default) or PostgreSQL.
    pub store: crate::provision::StoreConfig,
    /// `[site]`: domains, users and numbers applied to the store at start.
    pub site: crate::provision::SiteConfig,
    /// `[registrar]`: binding lifetimes and limits.
    pub registrar: RegistrarSection,
    /// `[auth]`: digest authentication of REGISTER.
    pub auth: AuthSection,
    /// `[routing]`: dial plans, outbound routes, voice policies, sites and PBXs
    /// (docs/routing.md). `routing.domains` defaults to `sip.domains`, then the site's.
    pub routing: sb_routing::RoutingConfig,
    /// `[[trunks]]`: where the trunk names used by routes and PBXs are reached.
    pub trunks: Vec<TrunkSection>,
    /// `[proxy]`: the forking proxy's settings.
    pub proxy: ProxySection,
    /// `[presence]`: the presence server's settings.
    pub presence: PresenceSection,
    /// `[mediation]`: the B2BUA between clients and gateways (docs/mediation.md).
    pub mediation: crate::mediation::MediationSection,
    /// `[media]`: mediation's RTP address and port range.
    pub media: crate::mediation::MediaSection,
    /// `[[gateways]]`: PSTN gateways and IP-PBXs mediation calls.
    pub gateways: Vec<sb_gateways::GatewayConfig>,
    /// `[[pools]]`: gateways grouped for routes; a route names a pool as a target.
    pub pools: Vec<sb_gateways::PoolConfig>,
}

/// `[presence]`: PUBLISH, SUBSCRIBE and NOTIFY (RFC 3903, RFC 6665, RFC 3856, RFC 4662).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PresenceSection {
    /// Serve presence; off, PUBLISH and SUBSCRIBE are proxied to the users' devices.
    pub enabled: bool,
    /// Shortest subscription or publication accepted (423 below it), seconds.
    pub min_expires: u32,
    /// Longest granted, seconds.
    pub max_expires: u32,
    /// Granted when a request names none, seconds.
    pub default_expires: u32,
    /// At most one NOTIFY per subscription per this many milliseconds.
    pub notify_min_interval_ms: u64,
    /// Most subscriptions one watcher may hold.
    pub max_subscriptions_per_watcher: usize,
    /// How often users' calendars (files and URLs) are read again, seconds.
    pub calendar_refresh_s: u64,
}

impl Default for PresenceSection {
    fn default() -> Self {
        PresenceSection {
            enabled: true,
            min_expires: 60,
            max_expires: 86_400,
            default_expires: 3_600,
            notify_min_interval_ms: 1_000,
            max_subscriptions_per_watcher: 1_000,
            calendar_refresh_s: 300,
        }
    }
}

/// `[proxy]`: how calls are carried (RFC 3261 §16).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxySection {
    /// Record-Route dialog-creating requests, so in-dialog requests come back through us.
    pub record_route: bool,
    /// Timer C (§16.6 step 11): an INVITE branch with no final answer for this long is
    /// cancelled. "Greater than 3 minutes".
    pub timer_c_s: u64,
    /// A trunk that sends nothing at all for this long is passed over for the next one.
    pub trunk_answer_timeout_ms: u64,
    /// The host put in Via and Record-Route when a listener is bound to `0.0.0.0` or `[::]`:
    /// the address or name clients and trunks reach this server by.
    pub advertise: Option<String>,
}

impl Default for ProxySection {
    fn default() -> Self {
        ProxySection {
            record_route: true,
            timer_c_s: 181,
            trunk_answer_timeout_ms: 5000,
            advertise: None,
        }
    }
}

/// `[[trunks]]`: a gateway, SIP trunk or PBX trunk that routing can send calls to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkSection {
    /// The name routes and PBXs use.
    pub name: String,
    /// `IP:PORT`, `[IPv6]:PORT` or `HOST:PORT` (a name is resolved when the server starts).
    pub address: String,
    /// `udp` (default), `tcp` or `tls`.
    #[serde(default)]
    pub transport: TrunkTransport,
}

/// How a trunk is reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrunkTransport {
    #[default]
    Udp,
    Tcp,
    Tls,
}

/// `[registrar]` (RFC 3261 §10.3).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrarSection {
    /// Seconds a binding lasts when the REGISTER names no expiry.
    pub default_expires: u32,
    /// Shorter non-zero expiries are refused with 423 and Min-Expires.
    pub min_expires: u32,
    /// Longer expiries are shortened to this.
    pub max_expires: u32,
    /// Devices one address may have registered at once; more are refused with 403.
    pub max_bindings_per_aor: usize,
}

impl Default for RegistrarSection {
    fn default() -> Self {
        RegistrarSection {
            default_expires: 3600,
            min_expires: 60,
            max_expires: 86_400,
            max_bindings_per_aor: 16,
        }
    }
}

/// `[auth]`: digest authentication (RFC 3261 §22, RFC 8760).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSection {
    /// Challenge REGISTER for credentials. Off only for closed test networks.
    pub enabled: bool,
    /// The realm to challenge with. Unset: the domain of the address being registered
    /// (what `switchboard user` stores credentials for), falling back to the first of
    /// `[sip] domains` (or `switchboard`) for other hosts.
    pub realm: Option<String>,
    /// Seconds a nonce stays valid; an older one gets a fresh challenge with `stale=true`.
    pub nonce_lifetime_s: u64,
    /// Algorithms offered, in order (`SHA-256`, `MD5`). MD5 alone by default: many deployed
    /// clients fail outright when a SHA-256 challenge is present instead of skipping it
    /// (RFC 8760 §2.4 asks them to skip), so offering it breaks registration for them.
    pub algorithms: Vec<String>,
    /// Failed attempts from one address within `throttle_window_s` before it is refused.
    pub throttle_max_failures: usize,
    pub throttle_window_s: u64,
    /// Seconds a throttled address is refused (403 with Retry-After).
    pub throttle_backoff_s: u64,
    /// Milliseconds a credentials lookup may take before the request fails with 503.
    pub store_timeout_ms: u64,
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            enabled: true,
            realm: None,
            nonce_lifetime_s: 300,
            algorithms: vec!["MD5".into()],
            throttle_max_failures: 10,
            throttle_window_s: 60,
            throttle_backoff_s: 300,
            store_timeout_ms: 4000,
        }
    }
}

impl AuthSection {
    /// The algorithms, parsed; errors name the field.
    pub fn parsed_algorithms(&self) -> anyhow::Result<Vec<sb_frontend::Algorithm>> {
        self.algorithms
            .iter()
            .map(|a| match sb_frontend::Algorithm::from_token(a) {
                Some(alg @ (sb_frontend::Algorithm::Md5 | sb_frontend::Algorithm::Sha256)) => {
                    Ok(alg)
                }
                _ => anyhow::bail!("auth.algorithms: {a:?} is not SHA-256 or MD5"),
            })
            .collect()
    }
}

/// `[sip]`: listeners, domains, limits and timers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipConfig {
    /// UDP listen addresses (RFC 3261 §18.1). Port 0 picks a free port.
    pub udp: Vec<SocketAddr>,
    /// TCP listen addresses.
    pub tcp: Vec<SocketAddr>,
    /// TLS listen addresses (RFC 3261 §26.2, sips).
    pub tls: Vec<SocketAddr>,
    /// SIP over WebSocket, plain (RFC 7118).
    pub ws: Vec<SocketAddr>,
    /// SIP over secure WebSocket (RFC 7118); uses the `[tls]` certificate.
    pub wss: Vec<SocketAddr>,
    /// Domains this server is responsible for; empty accepts every domain.
    pub domains: Vec<String>,
    /// Largest message accepted, in bytes, on any transport.
    pub max_message_size: usize,
    /// Most connections (TCP, TLS, WS, WSS together) open at once; more are refused.
    pub max_connections: usize,
    /// Seconds a connection may stay idle before it is closed.
    pub idle_timeout_s: u64,
    /// Seconds to let in-flight transactions finish on shutdown.
    pub shutdown_grace_s: u64,
    /// RFC 3261 T1 (round-trip estimate), milliseconds.
    pub t1_ms: u64,
    /// RFC 3261 T2 (longest non-INVITE retransmit interval), milliseconds.
    pub t2_ms: u64,
    /// RFC 3261 T4 (longest a message stays in the network), milliseconds.
    pub t4_ms: u64,
}

impl Default for SipConfig {
    fn default() -> Self {
        let any = |port| SocketAddr::from(([0, 0, 0, 0], port));
        SipConfig {
            udp: vec![any(5060)],
            tcp: vec![any(5060)],
            tls: vec![any(5061)],
            ws: vec![any(5066)],
            wss: Vec::new(),
            domains: Vec::new(),
            max_message_size: sb_sip_msg::DEFAULT_MAX_MESSAGE_SIZE,
            max_connections: 10_000,
            idle_timeout_s: 300,
            shutdown_grace_s: 32,
            t1_ms: 500,
            t2_ms: 4_000,
            t4_ms: 5_000,
        }
    }
}

/// `[tls]`: the server certificate. Without both fields a self-signed certificate is made
/// on first start under `DATA/tls/` and reused afterwards.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: Option<PathBuf>,
    /// PEM private key.
    pub key: Option<PathBuf>,
}

/// `[http]`: the management plane (`/metrics`, `/health`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Listen address; loopback by default, since it is unauthenticated.
    pub listen: Option<SocketAddr>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter: `info`, `debug`, `sb_runtime=trace,info`, ...
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Config {
    /// Reads and checks a config file; errors name the file and, for TOML errors, the key.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        Config::parse(&text).with_context(|| format!("invalid config file {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let mut c: Config = toml::from_str(text)?;
        // The site's passwords are hashed for the configured realm too.
        c.site.auth_realm = c.auth.realm.clone();
        c.check()?;
        Ok(c)
    }

    /// The routing configuration, compiled and checked. Its domains are `[routing]
    /// domains`, else `[sip] domains`, else the site's.
    pub fn routing_table(&self) -> anyhow::Result<sb_routing::RoutingTable> {
        let mut r = self.routing.clone();
        if r.domains.is_empty() {
            r.domains = if self.sip.domains.is_empty() {
                self.site.domains.clone()
            } else {
                self.sip.domains.clone()
            };
        }
        sb_routing::RoutingTable::compile(r).map_err(|e| anyhow::anyhow!("routing: {e}"))
    }

    fn check(&self) -> anyhow::Result<()> {
        let s = &self.sip;
        anyhow::ensure!(
            s.max_message_size >= 1024,
            "sip.max_message_size must be at least 1024"
        );
        anyhow::ensure!(
            s.t1_ms > 0 && s.t2_ms >= s.t1_ms,
            "sip.t2_ms must be at least sip.t1_ms > 0"
        );
        anyhow::ensure!(s.t4_ms > 0, "sip.t4_ms must be positive");
        anyhow::ensure!(s.idle_timeout_s > 0, "sip.idle_timeout_s must be positive");
        anyhow::ensure!(
            self.tls.cert.is_some() == self.tls.key.is_some(),
            "tls.cert and tls.key must be given together"
        );
        self.store.check()?;
        let r = &self.registrar;
        anyhow::ensure!(
            r.min_expires <= r.default_expires && r.default_expires <= r.max_expires,
            "registrar: need min_expires <= default_expires <= max_expires"
        );
        anyhow::ensure!(
            r.max_bindings_per_aor > 0,
            "registrar.max_bindings_per_aor must be at least 1"
        );
        let a = &self.auth;
        anyhow::ensure!(
            a.nonce_lifetime_s > 0,
            "auth.nonce_lifetime_s must be positive"
        );
        anyhow::ensure!(
            !a.algorithms.is_empty(),
            "auth.algorithms must not be empty"
        );
        a.parsed_algorithms()?;
        anyhow::ensure!(
            a.throttle_max_failures > 0,
            "auth.throttle_max_failures must be at least 1"
        );
        anyhow::ensure!(
            a.store_timeout_ms > 0,
            "auth.store_timeout_ms must be positive"
        );
        self.routing_table()?;
        let pr = &self.presence;
        anyhow::ensure!(
            pr.min_expires <= pr.default_expires && pr.default_expires <= pr.max_expires,
            "presence: need min_expires <= default_expires <= max_expires"
        );
        anyhow::ensure!(
            pr.calendar_refresh_s > 0,
            "presence.calendar_refresh_s must be positive"
        );
        anyhow::ensure!(
            pr.max_subscriptions_per_watcher > 0,
            "presence.max_subscriptions_per_watcher must be at least 1"
        );
        let p = &self.proxy;
        anyhow::ensure!(
            p.timer_c_s > 180,
            "proxy.timer_c_s must be more than 180 (RFC 3261 §16.6)"
        );
        anyhow::ensure!(
            p.trunk_answer_timeout_ms > 0,
            "proxy.trunk_answer_timeout_ms must be positive"
        );
        let mut names = std::collections::BTreeSet::new();
        for (i, t) in self.trunks.iter().enumerate() {
            anyhow::ensure!(
                sb_store::validate::token(&t.name, 64).is_ok(),
                "trunks[{i}].name: {:?} is not a name (1 to 64 characters, no spaces)",
                t.name
            );
            anyhow::ensure!(
                names.insert(t.name.as_str()),
                "trunks[{i}].name: \"{}\" is defined twice",
                t.name
            );
            anyhow::ensure!(
                t.address
                    .rsplit_once(':')
                    .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0)),
                "trunks[{i}].address: {:?} is not HOST:PORT",
                t.address
            );
        }
        let pools = crate::mediation::check(self)?;
        let known = |n: &sb_routing::TrunkName| names.contains(n.as_str());
        for r in &self.routing.routes {
            for t in &r.trunks {
                anyhow::ensure!(
                    known(t) || pools.iter().any(|p| p == t.as_str()),
                    "routing.routes \"{}\": \"{t}\" is neither a [[trunks]] nor a [[pools]] name",
                    r.name
                );
            }
        }
        for p in &self.routing.pbxes {
            anyhow::ensure!(
                known(&p.trunk),
                "routing.pbxes \"{}\": trunk \"{}\" is not defined in [[trunks]]",
                p.name,
                p.trunk
            );
        }
        if let Some(realm) = &a.realm {
            anyhow::ensure!(
                !realm.is_empty() && !realm.contains(['"', '\\', '\r', '\n']),
                "auth.realm must be non-empty text without quotes or line breaks"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_the_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.sip.udp, ["0.0.0.0:5060".parse().unwrap()]);
        assert_eq!(c.sip.tls, ["0.0.0.0:5061".parse().unwrap()]);
        assert_eq!(c.sip.ws, ["0.0.0.0:5066".parse().unwrap()]);
        assert!(c.sip.wss.is_empty());
        assert_eq!(c.http.listen, Some("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(c.log.format, LogFormat::Text);
    }

    #[test]
    fn the_example_file_parses_and_states_the_defaults() {
        let text = include_str!("../switchboard.example.toml");
        let c = Config::parse(text).unwrap();
        let d = Config::default();
        assert_eq!(format!("{c:?}"), format!("{d:?}"));
    }

    #[test]
    fn fields_are_read() {
        let c = Config::parse(
            "[sip]\nudp = [\"127.0.0.1:0\"]\ntcp = []\ndomains = [\"example.com\"]\nt1_ms = 100\n\
             [log]\nformat = \"json\"\nlevel = \"debug\"\n[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n",
        )
        .unwrap();
        assert_eq!(c.sip.udp, ["127.0.0.1:0".parse().unwrap()]);
        assert!(c.sip.tcp.is_empty());
        assert_eq!(c.sip.domains, ["example.com"]);
        assert_eq!(c.sip.t1_ms, 100);
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(c.tls.cert.as_deref(), Some(Path::new("c.pem")));
    }

    #[test]
    fn a_typo_names_the_field() {
        let e = format!(
            "{:#}",
            Config::parse("[sip]\nmax_mesage_size = 10\n").unwrap_err()
        );
        assert!(e.contains("max_mesage_size"), "{e}");
        let e = format!("{:#}", Config::parse("[sipp]\n").unwrap_err());
        assert!(e.contains("sipp"), "{e}");
    }

    #[test]
    fn registrar_and_auth_sections_are_read_and_checked() {
        let c = Config::parse(
            "[registrar]\nmin_expires = 30\ndefault_expires = 600\n\
             [auth]\nrealm = \"example.com\"\nnonce_lifetime_s = 2\nalgorithms = [\"MD5\"]\n",
        )
        .unwrap();
        assert_eq!(c.registrar.min_expires, 30);
        assert_eq!(c.registrar.default_expires, 600);
        assert_eq!(c.registrar.max_expires, 86_400);
        assert_eq!(c.auth.realm.as_deref(), Some("example.com"));
        assert_eq!(c.auth.nonce_lifetime_s, 2);
        assert_eq!(
            c.auth.parsed_algorithms().unwrap(),
            [sb_frontend::Algorithm::Md5]
        );
        let e = |t: &str| format!("{:#}", Config::parse(t).unwrap_err());
        assert!(e("[registrar]\nmin_expires = 7200\n").contains("min_expires"));
        assert!(e("[auth]\nalgorithms = [\"SHA-1\"]\n").contains("SHA-1"));
        assert!(e("[auth]\nnonce_lifetime_s = 0\n").contains("nonce_lifetime_s"));
        assert!(e("[auth]\nrelm = \"x\"\n").contains("relm"));
    }

    #[test]
    fn routing_and_trunks_are_read_and_cross_checked() {
        let base = "[sip]\ndomains = [\"example.com\"]\n\
            [routing]\ndefault_voice_policy = \"all\"\n\
            [[routing.routes]]\nname = \"us\"\npattern = '^\\+1'\nusage = \"national\"\ntrunks = [\"gw-a\"]\n\
            [[routing.voice_policies]]\nname = \"all\"\nusages = [\"national\"]\n";
        let c = Config::parse(&format!(
            "{base}[[trunks]]\nname = \"gw-a\"\naddress = \"127.0.0.1:5070\"\ntransport = \"tcp\"\n"
        ))
        .unwrap();
        assert_eq!(c.trunks[0].transport, TrunkTransport::Tcp);
        let table = c.routing_table().unwrap();
        assert!(table.serves_domain("example.com"));
        let e = |t: &str| format!("{:#}", Config::parse(t).unwrap_err());
        assert!(
            e(base).contains("\"gw-a\" is neither a [[trunks]] nor a [[pools]] name"),
            "{}",
            e(base)
        );
        let twice = format!(
            "{base}[[trunks]]\nname = \"gw-a\"\naddress = \"h:1\"\n[[trunks]]\nname = \"gw-a\"\naddress = \"h:2\"\n"
        );
        assert!(e(&twice).contains("defined twice"));
        let bad = format!("{base}[[trunks]]\nname = \"gw-a\"\naddress = \"127.0.0.1\"\n");
        assert!(e(&bad).contains("trunks[0].address"));
        assert!(e("[routing]\ndefault_dial_plan = \"nope\"\n").contains("nope"));
    }

    #[test]
    fn proxy_and_presence_sections_are_read_and_bad_values_named() {
        let c = Config::parse(
            "[proxy]\ntimer_c_s = 200\ntrunk_answer_timeout_ms = 1500\nadvertise = \"sip.example.com\"\n\
             [presence]\nenabled = false\ncalendar_refresh_s = 60\n",
        )
        .unwrap();
        assert_eq!(c.proxy.timer_c_s, 200);
        assert_eq!(c.proxy.trunk_answer_timeout_ms, 1500);
        assert_eq!(c.proxy.advertise.as_deref(), Some("sip.example.com"));
        assert!(!c.presence.enabled);
        assert_eq!(c.presence.calendar_refresh_s, 60);
        let e = |t: &str| format!("{:#}", Config::parse(t).unwrap_err());
        assert!(e("[proxy]\ntimer_c_s = 180\n").contains("proxy.timer_c_s"));
        assert!(e("[proxy]\ntrunk_answer_timeout_ms = 0\n").contains("trunk_answer_timeout_ms"));
        assert!(e("[presence]\ncalendar_refresh_s = 0\n").contains("calendar_refresh_s"));
        assert!(e("[presence]\nmin_expires = 7200\n").contains("min_expires"));
        assert!(e("[presence]\nmax_subscriptions_per_watcher = 0\n")
            .contains("max_subscriptions_per_watcher"));
        assert!(e("[proxy]\nrecord_rout = true\n").contains("record_rout"));
    }

    #[test]
    fn inconsistent_values_are_refused() {
        assert!(Config::parse("[tls]\ncert = \"c.pem\"\n").is_err());
        assert!(Config::parse("[sip]\nt1_ms = 0\n").is_err());
        assert!(Config::parse("[log]\nformat = \"xml\"\n").is_err());
    }
}
