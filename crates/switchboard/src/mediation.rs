//! The mediation role in `serve`: `[mediation]`, `[media]`, `[[gateways]]` and `[[pools]]`
//! of the config file, their checks, and the second SIP endpoint that runs the B2BUA.
//!
//! How calls cross (docs/mediation.md): an outbound route names a pool as one of its
//! targets; the front end's proxy sends the call to mediation's address with
//! `;pool=NAME` on the Request-URI, as it would to a trunk, and mediation calls a gateway
//! of that pool. A gateway's calls arrive at mediation, which calls the front end as a
//! trunk caller (its address is the pools' "trunk" address), so routing applies to them as
//! to any call. Mediation runs when at least one gateway is configured.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Deserialize;

use sb_gateways::{GatewayName, GatewayTable, GatewaysConfig, PoolName};
use sb_runtime::{MediaHost, MediaHostConfig, MediationCore, RuntimeConfig, Server, TransportKind};

use crate::config::Config;

/// `[mediation]`: the B2BUA between clients and gateways.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediationSection {
    /// Where mediation listens for SIP over UDP: gateways send their calls here, and the
    /// front end sends PSTN-bound calls here. Needed when gateways are configured.
    pub udp: Vec<SocketAddr>,
    /// Where mediation listens for SIP over TCP (for gateways that use TCP).
    pub tcp: Vec<SocketAddr>,
    /// The front end's SIP address, where gateways' calls go. Default: the first
    /// `[sip] udp` address (loopback when that is a wildcard).
    pub front_end: Option<SocketAddr>,
    /// The pool for a PSTN call whose Request-URI names none.
    pub default_pool: Option<String>,
    /// Offer SDES-SRTP on calls mediation places toward the front end.
    pub offer_srtp: bool,
    /// End a call whose media has been silent this long (0: never).
    pub media_timeout_s: u32,
}

impl Default for MediationSection {
    fn default() -> Self {
        MediationSection {
            udp: Vec::new(),
            tcp: Vec::new(),
            front_end: None,
            default_pool: None,
            offer_srtp: false,
            media_timeout_s: 60,
        }
    }
}

/// `[media]`: where mediation's RTP flows.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaSection {
    /// The address media sockets bind to and SDP advertises. Default: the IP of the first
    /// `[mediation] udp` address.
    pub address: Option<IpAddr>,
    /// The first RTP port (RTCP takes the odd port above each RTP port).
    pub port_min: u16,
    /// The last port.
    pub port_max: u16,
}

impl Default for MediaSection {
    fn default() -> Self {
        MediaSection {
            address: None,
            port_min: 20_000,
            port_max: 29_999,
        }
    }
}

/// Checks the mediation sections; errors name the field. Returns the pool names, which
/// routes may use as targets beside `[[trunks]]`.
pub fn check(config: &Config) -> anyhow::Result<Vec<String>> {
    let table = gateway_table(config)?;
    let pools: Vec<String> = table.pools().iter().map(|p| p.name.to_string()).collect();
    let m = &config.mediation;
    if config.gateways.is_empty() {
        return Ok(pools);
    }
    anyhow::ensure!(
        !m.udp.is_empty() || !m.tcp.is_empty(),
        "mediation.udp: gateways are configured, so mediation needs an address to listen on \
         (for example udp = [\"127.0.0.1:5070\"])"
    );
    if let Some(p) = &m.default_pool {
        anyhow::ensure!(
            pools.iter().any(|x| x == p),
            "mediation.default_pool: \"{p}\" is not a [[pools]] name"
        );
    }
    let media = &config.media;
    anyhow::ensure!(
        media.port_min > 0 && media.port_max > media.port_min,
        "media.port_max must be above media.port_min (> 0)"
    );
    anyhow::ensure!(
        media.port_max - media.port_min >= 3,
        "media: the port range {}-{} holds no RTP/RTCP pair for both legs of a call",
        media.port_min,
        media.port_max
    );
    for t in &config.trunks {
        anyhow::ensure!(
            !pools.iter().any(|p| p == &t.name),
            "pools \"{}\": the name is also a [[trunks]] name; routes could not tell them apart",
            t.name
        );
    }
    Ok(pools)
}

/// `[[gateways]]` and `[[pools]]`, compiled.
pub fn gateway_table(config: &Config) -> anyhow::Result<GatewayTable> {
    GatewayTable::compile(GatewaysConfig {
        gateways: config.gateways.clone(),
        pools: config.pools.clone(),
    })
    .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Mediation's SIP address: the first UDP listener, else the first TCP one.
fn sip_addr(config: &Config) -> Option<(TransportKind, SocketAddr)> {
    let m = &config.mediation;
    m.udp
        .first()
        .map(|a| (TransportKind::Udp, *a))
        .or_else(|| m.tcp.first().map(|a| (TransportKind::Tcp, *a)))
}

/// The front end's trunks for the pools: each pool is reached at mediation's address with
/// `;pool=NAME`, and a call from that address is a trunk call.
pub fn pool_trunks(config: &Config) -> anyhow::Result<Vec<sb_frontend::TrunkAddr>> {
    if config.gateways.is_empty() {
        return Ok(Vec::new());
    }
    let Some((transport, addr)) = sip_addr(config) else {
        return Ok(Vec::new());
    };
    let table = gateway_table(config)?;
    Ok(table
        .pools()
        .iter()
        .map(|p| sb_frontend::TrunkAddr {
            name: sb_routing::TrunkName::from(p.name.to_string().as_str()),
            peer: sb_sip_core::Peer::new(transport, addr),
            host: addr.to_string(),
            uri_params: format!(";pool={}", p.name),
        })
        .collect())
}

/// A running mediation endpoint.
pub struct Mediation {
    pub addrs: Vec<(TransportKind, SocketAddr)>,
    pub stop: sb_runtime::ShutdownHandle,
    pub task: tokio::task::JoinHandle<MediationCore>,
    media_task: tokio::task::JoinHandle<()>,
    events_task: tokio::task::JoinHandle<()>,
}

impl Mediation {
    /// Stops accepting calls and waits (a few seconds at most) for the loop to end.
    pub async fn stop(self) {
        self.stop.shutdown();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
        self.events_task.abort();
        self.media_task.abort();
    }
}

/// Starts mediation when gateways are configured.
pub async fn start(
    config: &Config,
    timers: sb_sip_core::TimerConfig,
    seed: u64,
) -> anyhow::Result<Option<Mediation>> {
    if config.gateways.is_empty() {
        return Ok(None);
    }
    let (transport, sip) = sip_addr(config).context("mediation.udp: no address to listen on")?;
    let table = gateway_table(config)?;
    let mut gateway_addrs = HashMap::new();
    for g in &config.gateways {
        // Names are resolved once, at start (A/AAAA; SRV/NAPTR selection per RFC 3263 is
        // not done yet: give gateways an IP or a name with a port).
        let address = g.address.trim();
        if address.parse::<SocketAddr>().is_ok() || address.parse::<IpAddr>().is_ok() {
            continue;
        }
        let with_port = if address.contains(':') {
            address.to_string()
        } else {
            format!("{address}:5060")
        };
        let resolved = tokio::net::lookup_host(with_port.as_str())
            .await
            .with_context(|| format!("gateways \"{}\": cannot resolve {address}", g.name))?
            .next()
            .with_context(|| format!("gateways \"{}\": {address} has no address", g.name))?;
        gateway_addrs.insert(GatewayName::from(g.name.to_string().as_str()), resolved);
    }
    let m = &config.mediation;
    let front_end = m.front_end.unwrap_or_else(|| {
        let mut a = config
            .sip
            .udp
            .first()
            .copied()
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 5060)));
        if a.ip().is_unspecified() {
            a.set_ip(IpAddr::from([127, 0, 0, 1]));
        }
        a
    });
    let domain = config
        .sip
        .domains
        .first()
        .cloned()
        .unwrap_or_else(|| front_end.ip().to_string());
    let media_ip = config.media.address.unwrap_or(sip.ip());
    let mut client = sb_b2bua::ClientSideConfig::new(front_end, TransportKind::Udp, &domain);
    client.offer_srtp = m.offer_srtp;
    let b2bua_config = sb_b2bua::B2buaConfig {
        sip_addr: sip,
        identity_host: domain.clone(),
        client,
        gateways: table,
        gateway_addrs,
        default_pool: m.default_pool.as_deref().map(PoolName::from),
        media: sb_b2bua::MediaConfig {
            ip: media_ip,
            port_min: config.media.port_min,
            port_max: config.media.port_max,
            media_timeout_ms: (m.media_timeout_s > 0).then(|| m.media_timeout_s * 1000),
        },
    };
    let (on_event, events) = sb_runtime::mediation::media_event_channel();
    let (media, media_task) = MediaHost::start(
        MediaHostConfig {
            address: media_ip,
            port_min: config.media.port_min,
            port_max: config.media.port_max,
        },
        seed.rotate_left(7),
        on_event,
    );
    let mut b2bua =
        sb_b2bua::B2bua::new(Instant::now(), b2bua_config, timers, seed.rotate_left(41));
    // SRTP master keys and ICE passwords come from the operating system's CSPRNG.
    b2bua.set_key_source(Box::new(OsKeys));
    let core = MediationCore::new(b2bua, media);
    let runtime = RuntimeConfig {
        udp: m.udp.clone(),
        tcp: m.tcp.clone(),
        ..Default::default()
    };
    let server = Server::bind(runtime, core)
        .await
        .with_context(|| format!("cannot bind mediation on {sip} ({transport:?})"))?;
    let addrs = server.local_addrs().to_vec();
    let stop = server.shutdown_handle();
    let events_task = sb_runtime::mediation::spawn_media_events(events, server.control_handle());
    let task = tokio::spawn(server.run());
    tracing::info!(?addrs, front_end = %front_end, "mediation listening");
    Ok(Some(Mediation {
        addrs,
        stop,
        task,
        media_task,
        events_task,
    }))
}

/// The operating system's random source, for SRTP keys and ICE passwords.
struct OsKeys;

impl sb_b2bua::KeySource for OsKeys {
    fn fill(&mut self, buf: &mut [u8]) {
        // getrandom(2) does not fail once the kernel's pool is initialised, which it is
        // long before a server starts; a failure here means no safe keys can be made.
        getrandom::getrandom(buf).expect("the operating system's random source");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &str = "[routing]\ndomains = [\"example.com\"]\n\
        [[routing.routes]]\nname = \"us\"\npattern = '^\\+1'\nusage = \"national\"\ntrunks = [\"pstn\"]\n\
        [[routing.voice_policies]]\nname = \"all\"\nusages = [\"national\"]\n";
    const GATEWAYS: &str = "[[gateways]]\nname = \"gw-a\"\naddress = \"127.0.0.1:5080\"\n\
        [[gateways]]\nname = \"gw-b\"\naddress = \"127.0.0.1:5082\"\ntransport = \"tcp\"\n\
        [[pools]]\nname = \"pstn\"\ngateways = [\"gw-a\", \"gw-b\"]\n";

    fn err(text: &str) -> String {
        format!("{:#}", Config::parse(text).unwrap_err())
    }

    #[test]
    fn a_route_may_name_a_pool_and_the_pool_becomes_a_trunk_at_mediation() {
        let c = Config::parse(&format!(
            "{ROUTES}{GATEWAYS}[mediation]\nudp = [\"127.0.0.1:5070\"]\ndefault_pool = \"pstn\"\n"
        ))
        .unwrap();
        let trunks = pool_trunks(&c).unwrap();
        assert_eq!(trunks.len(), 1);
        assert_eq!(trunks[0].name.as_str(), "pstn");
        assert_eq!(trunks[0].peer.addr, "127.0.0.1:5070".parse().unwrap());
        assert_eq!(trunks[0].uri_params, ";pool=pstn");
        assert_eq!(c.media.port_min, 20_000);
        assert_eq!(c.mediation.media_timeout_s, 60);
    }

    #[test]
    fn mistakes_are_refused_naming_the_field() {
        // A pool without gateways configured is an unknown route target.
        assert!(err(ROUTES).contains("neither a [[trunks]] nor a [[pools]] name"));
        assert!(err(&format!("{ROUTES}{GATEWAYS}")).contains("mediation.udp"));
        let with = |extra: &str| {
            format!("{ROUTES}{GATEWAYS}[mediation]\nudp = [\"127.0.0.1:5070\"]\n{extra}")
        };
        assert!(err(&with("default_pool = \"nope\"\n")).contains("mediation.default_pool"));
        assert!(err(&with("[media]\nport_min = 30000\nport_max = 30001\n")).contains("media"));
        assert!(
            err(&with("[media]\nport_min = 30000\nport_max = 20000\n")).contains("media.port_max")
        );
        let clash = format!(
            "{}[[trunks]]\nname = \"pstn\"\naddress = \"127.0.0.1:5090\"\n",
            with("")
        );
        assert!(err(&clash).contains("pools \"pstn\""));
        let bad_gw = format!(
            "{ROUTES}[[gateways]]\nname = \"gw-a\"\naddress = \"127.0.0.1:5080\"\ncapacity = 0\n\
             [[pools]]\nname = \"pstn\"\ngateways = [\"gw-a\"]\n[mediation]\nudp = [\"127.0.0.1:5070\"]\n"
        );
        let e = err(&bad_gw);
        assert!(e.contains("gw-a") && e.contains("capacity"), "{e}");
        let unknown =
            format!("{ROUTES}{GATEWAYS}[mediation]\nudp = [\"127.0.0.1:5070\"]\nbogus = 1\n");
        assert!(err(&unknown).contains("bogus"));
    }
}
