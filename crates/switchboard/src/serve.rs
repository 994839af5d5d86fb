//! `switchboard serve`: reads the configuration, opens the store and applies the site
//! file, restores the registrar's bindings, binds every listener, runs until SIGINT or
//! SIGTERM, then shuts down gracefully.
//!
//! The store is the only shared state with `switchboard user ...`: the server reads
//! credentials from it at every authentication (no cache), so a password changed by the
//! CLI applies to the next REGISTER, and it polls the store's generation counter every
//! second to log provisioning changes.

use crate::config::{Config, LogFormat};

#[path = "presence_load.rs"]
mod presence_load;
use anyhow::Context;
use sb_frontend::{AuthSettings, RegistrarConfig, ServicesConfig, ThrottleConfig, WallClock};
use sb_runtime::{RuntimeConfig, Server, ServerCore, TransportKind};
use sb_store::Store;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// TOML configuration file (every field is optional; see docs/config.md).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory for the server's data (TLS certificate, database); created if missing.
    #[arg(long, value_name = "DIR", default_value = "./switchboard-data")]
    data: PathBuf,
    /// Log format; overrides `[log] format`.
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<LogFormat>,
    /// Log filter (`info`, `debug`, `sb_runtime=trace`, ...); overrides `[log] level`.
    #[arg(long, value_name = "FILTER")]
    log_level: Option<String>,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if let Some(f) = args.log_format {
        config.log.format = f;
    }
    if let Some(l) = args.log_level.clone() {
        config.log.level = l;
    }
    init_logging(&config)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(serve(config, args.data))
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .with_context(|| format!("invalid log level {:?}", config.log.level))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in files or journald.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let result = match config.log.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}

async fn serve(config: Config, data: PathBuf) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    std::fs::create_dir_all(&data)
        .with_context(|| format!("cannot create data directory {}", data.display()))?;
    let data = data.canonicalize().unwrap_or(data);
    let store = crate::provision::open_store(&data, &config.store).await?;
    // Site users' rules are checked against the routing configuration as they are applied.
    let table = crate::directory::routing_table(&config, store.as_ref()).await?;
    let summary = crate::provision::apply_site_routed(store.as_ref(), &config.site, Some(&table))
        .await
        .context("cannot apply the [site] section")?;
    if !config.site.is_empty() {
        tracing::info!("site applied: {summary}");
    }
    let sip = &config.sip;
    let needs_tls = !sip.tls.is_empty() || !sip.wss.is_empty();
    let tls = if needs_tls {
        let t = crate::tls::load_or_generate(
            config.tls.cert.as_deref(),
            config.tls.key.as_deref(),
            &data,
        )?;
        Some(t)
    } else {
        None
    };
    let runtime_config = RuntimeConfig {
        udp: sip.udp.clone(),
        tcp: sip.tcp.clone(),
        tls: sip.tls.clone(),
        ws: sip.ws.clone(),
        wss: sip.wss.clone(),
        tls_config: tls.as_ref().map(|t| t.config.clone()),
        max_message_size: sip.max_message_size,
        max_connections: sip.max_connections,
        idle_timeout: Duration::from_secs(sip.idle_timeout_s),
        shutdown_grace: Duration::from_secs(sip.shutdown_grace_s),
    };
    let timers = sb_sip_core::TimerConfig {
        t1: Duration::from_millis(sip.t1_ms),
        t2: Duration::from_millis(sip.t2_ms),
        t4: Duration::from_millis(sip.t4_ms),
        // Timer D is "at least 32 s" and scales with T1 (64*T1 at the default T1).
        timer_d: Duration::from_millis(sip.t1_ms * 64).max(Duration::from_secs(32)),
        ..Default::default()
    };
    let seed = random_seed();
    let services = services_config(&config, &data)?;
    let clock = wall_clock();
    // Again: the site may have added domains, which the routing table serves when the
    // configuration names none.
    let table = Arc::new(crate::directory::routing_table(&config, store.as_ref()).await?);
    let mut trunks = resolve_trunks(&config).await?;
    // Mediation's pools are reached like trunks, at mediation's address.
    trunks.extend(crate::mediation::pool_trunks(&config)?);
    let frontend = sb_frontend::Frontend::with_services(
        sb_frontend::FrontendConfig {
            domains: sip.domains.clone(),
            supported: Vec::new(),
            tag_seed: seed,
            server_name: format!("switchboard/{}", env!("CARGO_PKG_VERSION")),
        },
        services,
        clock,
    )
    .with_calls(sb_frontend::CallSettings {
        table: table.clone(),
        trunks,
        trunk_answer_timeout: Duration::from_millis(config.proxy.trunk_answer_timeout_ms),
        record_route: config.proxy.record_route,
    });
    let mut core = ServerCore::new(timers, seed.rotate_left(17), frontend);
    let directory = load_directory(store.as_ref(), &table).await?;
    let presence_provisioning = load_presence(store.as_ref(), &directory).await?;
    core.frontend_mut().set_directory(directory);
    let stored = store
        .list_all_bindings()
        .await
        .context("cannot read the stored registrations")?;
    let total = stored.len();
    let restored: Vec<_> = stored
        .iter()
        .enumerate()
        .filter_map(|(i, row)| sb_runtime::store_io::from_store(row, i as u64 + 1))
        .collect();
    core.restore(clock.at, restored);
    let live = core.frontend().registrations();
    tracing::info!(stored = total, live, "registrations restored");
    let mut server = Server::bind(runtime_config, core)
        .await?
        .with_store(store.clone());
    let proxy_config = proxy_config(&config, server.local_addrs())?;
    let mut presence_saver = None;
    if config.presence.enabled {
        // Publications and subscriptions from before a restart, then provisioning.
        let (live, peers) = presence_load::load_live(store.as_ref()).await?;
        let restored = live.subscriptions.len();
        presence_saver = Some(Arc::new(tokio::sync::Mutex::new(
            presence_load::Saver::knowing(&live, &peers),
        )));
        let fe = server.core_mut().frontend_mut();
        fe.enable_presence(presence_config(&config, &proxy_config));
        fe.presence_import(clock.at, live, &peers);
        fe.with_presence_server(clock.at, |p, ms| presence_provisioning.apply(p, ms));
        tracing::info!(subscriptions = restored, "presence restored");
    }
    server.core_mut().set_proxy(sb_proxy::Proxy::new(
        proxy_config,
        timers,
        seed.rotate_left(29),
    ));

    let metrics = sb_admin::install_recorder().map_err(anyhow::Error::msg)?;
    metrics::gauge!("sip_registrations").set(live as f64);
    let health = sb_admin::Health::new(started);
    let (http_stop_tx, http_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let http = match config.http.listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot bind http on {addr}"))?;
            let bound = listener.local_addr()?;
            let shutdown = async move {
                let _ = http_stop_rx.await;
            };
            let task = tokio::spawn(sb_admin::serve(listener, metrics, health.clone(), shutdown));
            Some((bound, task))
        }
        None => None,
    };

    let mediation = crate::mediation::start(&config, timers, seed.rotate_left(53)).await?;
    let mut signals = Signals::install()?;
    let hint = match store.count_users(None).await {
        Ok(0) => Some(crate::provision::first_start_hint(&data, &config.store)),
        _ => None,
    };
    print_banner(
        &data,
        tls.as_ref(),
        server.local_addrs(),
        http.as_ref().map(|h| h.0),
        mediation.as_ref().map_or(&[][..], |m| &m.addrs[..]),
        hint.as_deref(),
    );
    let saver_task = presence_saver
        .clone()
        .map(|saver| tokio::spawn(save_presence(store.clone(), saver, server.control_handle())));
    let calendars = config.presence.enabled.then(|| {
        tokio::spawn(refresh_calendars(
            store.clone(),
            Duration::from_secs(config.presence.calendar_refresh_s),
            server.control_handle(),
        ))
    });
    let watcher = tokio::spawn(watch_generation(
        store.clone(),
        config.clone(),
        server.control_handle(),
    ));
    health.set_ready(true);
    metrics::gauge!("switchboard_up").set(1.0);

    let stop = server.shutdown_handle();
    let signal_health = health.clone();
    tokio::spawn(async move {
        signals.next().await;
        tracing::info!("signal received; shutting down (a second signal exits at once)");
        signal_health.set_ready(false);
        stop.shutdown();
        // An operator who signals again does not want to wait out the grace period.
        signals.next().await;
        tracing::warn!("second signal; exiting without waiting");
        std::process::exit(1);
    });
    let core = server.run().await;
    if let Some(m) = mediation {
        m.stop().await;
    }
    watcher.abort();
    if let Some(task) = calendars {
        task.abort();
    }
    if let Some(task) = saver_task {
        task.abort();
    }
    // The last state, so a restart picks up the subscriptions where they were.
    if let (Some(saver), Some((snap, peers))) = (presence_saver, core.frontend().presence_export())
    {
        if let Err(e) = saver.lock().await.save(store.as_ref(), &snap, &peers).await {
            tracing::warn!(error = %e, "cannot save presence state at exit");
        }
    }
    tracing::info!(
        registrations = core.frontend().registrations(),
        "event loop stopped"
    );
    let _ = http_stop_tx.send(());
    if let Some((_, task)) = http {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The registrar and authentication settings from `[registrar]`, `[auth]` and `[sip]`.
fn services_config(config: &Config, data: &Path) -> anyhow::Result<ServicesConfig> {
    let r = &config.registrar;
    let registrar = RegistrarConfig {
        domains: config.sip.domains.clone(),
        default_expires: r.default_expires,
        min_expires: r.min_expires,
        max_expires: r.max_expires,
        max_bindings_per_aor: r.max_bindings_per_aor,
    };
    registrar.validate()?;
    let a = &config.auth;
    let auth = if a.enabled {
        let fallback = a
            .realm
            .clone()
            .or_else(|| config.sip.domains.first().cloned())
            .unwrap_or_else(|| "switchboard".to_string());
        let mut auth_config = sb_frontend::AuthConfig::new(fallback);
        auth_config.algorithms = a.parsed_algorithms()?;
        auth_config.nonces.lifetime_secs = a.nonce_lifetime_s;
        auth_config.validate()?;
        Some(AuthSettings {
            config: auth_config,
            realm_per_domain: a.realm.is_none(),
            secret: nonce_secret(data)?,
            throttle: ThrottleConfig {
                max_failures: a.throttle_max_failures,
                window_secs: a.throttle_window_s,
                backoff_secs: a.throttle_backoff_s,
                ..Default::default()
            },
        })
    } else {
        tracing::warn!("[auth] enabled = false: REGISTER is accepted without credentials");
        None
    };
    let mut services = ServicesConfig::new(registrar, auth);
    services.query_timeout = Duration::from_millis(a.store_timeout_ms);
    Ok(services)
}

/// The key nonces are signed with, kept in `DATA/nonce.key` so nonces issued before a
/// restart still verify (clients are not all challenged again at once).
fn nonce_secret(data: &Path) -> anyhow::Result<Vec<u8>> {
    let path = data.join("nonce.key");
    if let Ok(bytes) = std::fs::read(&path) {
        if bytes.len() >= 32 {
            return Ok(bytes);
        }
    }
    // The kernel's generator; the process-seeded hasher only where there is none.
    let key = match std::fs::File::open("/dev/urandom") {
        Ok(mut f) => {
            let mut k = vec![0u8; 32];
            std::io::Read::read_exact(&mut f, &mut k)
                .context("cannot read /dev/urandom for the nonce key")?;
            k
        }
        Err(_) => (0..4u64)
            .flat_map(|i| random_seed().wrapping_add(i).to_le_bytes())
            .collect(),
    };
    write_private(&path, &key)
        .with_context(|| format!("cannot write the nonce key {}", path.display()))?;
    Ok(key)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)?.write_all(bytes)
}

/// Anchors the event loop's clock (tokio's, so paused-time tests move both) to Unix time.
fn wall_clock() -> WallClock {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    WallClock {
        at: tokio::time::Instant::now().into_std(),
        unix,
    }
}

/// Polls the store's generation counter every second; a change means another process
/// (`switchboard user ...`) changed users, passwords or numbers. Credentials are read
/// from the store at every authentication, so nothing is cached that could go stale.
async fn watch_generation(
    store: Arc<dyn Store>,
    config: Config,
    control: sb_runtime::ControlHandle<ServerCore>,
) {
    let mut seen = store.generation().await.ok();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        match store.generation().await {
            Ok(g) if Some(g) != seen => {
                tracing::info!(generation = g, "provisioning changed in the store");
                metrics::gauge!("store_generation").set(g as f64);
                // Routing reads users, numbers and rules from a snapshot, and serves the
                // store's domains when the configuration names none: take new ones.
                match reload_routing(store.as_ref(), &config).await {
                    Ok((table, dir, presence)) => {
                        control.send(move |core: &mut ServerCore, now| {
                            let fe = core.frontend_mut();
                            fe.set_routing_table(table);
                            fe.set_directory(dir);
                            fe.with_presence_server(now, |p, ms| presence.apply(p, ms));
                        });
                        seen = Some(g);
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot reload users for routing"),
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the store generation"),
        }
    }
}

/// What a person starting the server wants to know first: where the data lives and what
/// listens where. On stdout, one fact per line, so scripts (and tests) can read the ports.
fn kind_name(kind: TransportKind) -> &'static str {
    match kind {
        TransportKind::Udp => "udp",
        TransportKind::Tcp => "tcp",
        TransportKind::Tls => "tls",
        TransportKind::Ws => "ws",
        TransportKind::Wss => "wss",
    }
}

fn print_banner(
    data: &std::path::Path,
    tls: Option<&crate::tls::Loaded>,
    addrs: &[(TransportKind, std::net::SocketAddr)],
    http: Option<std::net::SocketAddr>,
    mediation: &[(TransportKind, std::net::SocketAddr)],
    hint: Option<&str>,
) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "switchboard {} starting", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(out, "data directory: {}", data.display());
    if let Some(t) = tls {
        let how = if t.generated {
            "generated, self-signed"
        } else {
            "loaded"
        };
        let _ = writeln!(out, "tls certificate: {} ({how})", t.cert_path.display());
    }
    for (kind, addr) in addrs {
        let _ = writeln!(out, "listening sip {} {addr}", kind_name(*kind));
    }
    for (kind, addr) in mediation {
        let _ = writeln!(out, "listening mediation {} {addr}", kind_name(*kind));
    }
    if let Some(a) = http {
        let _ = writeln!(out, "listening http {a} (/metrics, /health)");
    }
    if let Some(h) = hint {
        let _ = writeln!(out, "{h}");
    }
    let _ = writeln!(out, "ready");
    let _ = out.flush();
}

/// SIGINT and SIGTERM, installed before "ready" is printed so that a signal sent right
/// after it is not lost.
struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                int: signal(SignalKind::interrupt()).context("cannot install a SIGINT handler")?,
                term: signal(SignalKind::terminate())
                    .context("cannot install a SIGTERM handler")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// The next SIGINT or SIGTERM.
    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// A seed for To tags and branches. Not a cryptographic secret: it only has to differ
/// between runs, so tags from a restarted server do not repeat (RFC 3261 §19.3).
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    h.finish()
}

/// The users and numbers routing sees, from the store; users whose stored rules do not
/// validate against this configuration are loaded without their rules, with a warning.
async fn load_directory(
    store: &dyn Store,
    table: &sb_routing::RoutingTable,
) -> anyhow::Result<Arc<sb_routing::MemoryDirectory>> {
    let loaded = crate::directory::load_directory(store, table)
        .await
        .context("cannot read users for routing")?;
    for w in &loaded.warnings {
        tracing::warn!("call handling rules ignored: {w}");
    }
    Ok(Arc::new(loaded.dir))
}

async fn reload_routing(
    store: &dyn Store,
    config: &Config,
) -> anyhow::Result<(
    Arc<sb_routing::RoutingTable>,
    Arc<sb_routing::MemoryDirectory>,
    presence_load::PresenceProvisioning,
)> {
    let table = crate::directory::routing_table(config, store).await?;
    let dir = load_directory(store, &table).await?;
    let presence = load_presence(store, &dir).await?;
    Ok((Arc::new(table), dir, presence))
}

/// Presence provisioning of the directory's users, with its warnings logged.
async fn load_presence(
    store: &dyn Store,
    dir: &sb_routing::MemoryDirectory,
) -> anyhow::Result<presence_load::PresenceProvisioning> {
    let users: Vec<String> = dir.users.keys().map(|u| u.to_string()).collect();
    let p = presence_load::load(store, &users).await?;
    for w in &p.warnings {
        tracing::warn!("presence provisioning ignored: {w}");
    }
    Ok(p)
}

/// The presence server's settings; its Contact is the proxy's first address.
fn presence_config(config: &Config, proxy: &sb_proxy::ProxyConfig) -> sb_presence::PresenceConfig {
    let p = &config.presence;
    let our_contact = proxy
        .listen
        .first()
        .map(|l| match l.transport {
            TransportKind::Udp => format!("sip:{}:{}", l.host, l.port),
            t => format!(
                "sip:{}:{};transport={}",
                l.host,
                l.port,
                format!("{t:?}").to_ascii_lowercase()
            ),
        })
        .unwrap_or_else(|| "sip:127.0.0.1:5060".into());
    sb_presence::PresenceConfig {
        min_expires: p.min_expires,
        max_expires: p.max_expires,
        default_expires: p.default_expires,
        notify_min_interval_ms: p.notify_min_interval_ms,
        max_subscriptions_per_watcher: p.max_subscriptions_per_watcher,
        our_contact,
    }
}

/// Resolves each `[[trunks]]` address once, at start.
async fn resolve_trunks(config: &Config) -> anyhow::Result<Vec<sb_frontend::TrunkAddr>> {
    let mut out = Vec::new();
    for t in &config.trunks {
        let addr = tokio::net::lookup_host(t.address.as_str())
            .await
            .with_context(|| format!("trunks \"{}\": cannot resolve {}", t.name, t.address))?
            .next()
            .with_context(|| format!("trunks \"{}\": {} has no address", t.name, t.address))?;
        let transport = match t.transport {
            crate::config::TrunkTransport::Udp => TransportKind::Udp,
            crate::config::TrunkTransport::Tcp => TransportKind::Tcp,
            crate::config::TrunkTransport::Tls => TransportKind::Tls,
        };
        out.push(sb_frontend::TrunkAddr {
            name: sb_routing::TrunkName::from(t.name.as_str()),
            peer: sb_sip_core::Peer::new(transport, addr),
            host: t.address.clone(),
            uri_params: String::new(),
        });
    }
    Ok(out)
}

/// The proxy's addresses: each bound listener, with the advertised host when it is bound
/// to every interface; the `[sip] domains` are aliases (Route and Request-URIs naming
/// them are ours, RFC 3261 §16.4).
fn proxy_config(
    config: &Config,
    bound: &[(TransportKind, std::net::SocketAddr)],
) -> anyhow::Result<sb_proxy::ProxyConfig> {
    use sb_sip_msg::Host;
    let advertised: Option<Host> = match &config.proxy.advertise {
        Some(a) => Some(
            format!("sip:{a}")
                .parse::<sb_sip_msg::Uri>()
                .ok()
                .and_then(|u| u.as_sip().map(|s| s.host.clone()))
                .with_context(|| format!("proxy.advertise: {a:?} is not a host"))?,
        ),
        None => None,
    };
    let mut listen = Vec::new();
    let mut fallback: Option<Host> = None;
    for &(transport, addr) in bound {
        let host = if addr.ip().is_unspecified() {
            advertised.clone().unwrap_or_else(|| {
                fallback
                    .get_or_insert_with(|| {
                        let ip = primary_ip(addr.is_ipv6());
                        tracing::info!(
                            %ip,
                            "listening on every interface: Via and Record-Route name {ip} \
                             (set proxy.advertise to change)"
                        );
                        match ip {
                            std::net::IpAddr::V4(a) => Host::V4(a),
                            std::net::IpAddr::V6(a) => Host::V6(a),
                        }
                    })
                    .clone()
            })
        } else {
            match addr.ip() {
                std::net::IpAddr::V4(a) => Host::V4(a),
                std::net::IpAddr::V6(a) => Host::V6(a),
            }
        };
        listen.push(sb_proxy::Listen {
            transport,
            host,
            port: addr.port(),
        });
    }
    anyhow::ensure!(!listen.is_empty(), "no SIP listener is configured");
    let first = bound[0].1;
    let mut cfg = sb_proxy::ProxyConfig::udp(first);
    cfg.listen = listen;
    cfg.aliases = config
        .sip
        .domains
        .iter()
        .map(|d| Host::Domain(d.to_ascii_lowercase()))
        .chain(advertised)
        .collect();
    cfg.timer_c = Duration::from_secs(config.proxy.timer_c_s);
    cfg.record_route = config.proxy.record_route;
    Ok(cfg)
}

/// The address this host's other machines reach it by: the source address the kernel
/// would use for the default route. A connected UDP socket sends nothing; connecting only
/// asks the routing table. Loopback when there is no route.
fn primary_ip(v6: bool) -> std::net::IpAddr {
    let (bind, probe) = if v6 {
        ("[::]:0", "[2001:db8::1]:9")
    } else {
        ("0.0.0.0:0", "192.0.2.1:9")
    };
    std::net::UdpSocket::bind(bind)
        .and_then(|s| s.connect(probe).map(|_| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified())
        .unwrap_or(if v6 {
            std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
        } else {
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
        })
}

/// Saves presence's live state (publications, subscriptions) to the store every two
/// seconds when it changed, writing only the rows that did.
async fn save_presence(
    store: Arc<dyn Store>,
    saver: Arc<tokio::sync::Mutex<presence_load::Saver>>,
    control: sb_runtime::ControlHandle<ServerCore>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tick.tick().await;
        let (tx, rx) = tokio::sync::oneshot::channel();
        control.send(move |core: &mut ServerCore, _| {
            let _ = tx.send(core.frontend_mut().presence_export_if_changed());
        });
        // The server stopped (the loop dropped the work): the exit path saves.
        let Ok(changed) = rx.await else {
            return;
        };
        let Some((snap, peers)) = changed else {
            continue;
        };
        if let Err(e) = saver.lock().await.save(store.as_ref(), &snap, &peers).await {
            tracing::warn!(error = %e, "cannot save presence state");
        }
    }
}

/// Reads users' calendars again every `every` (a file edited, a URL's new events), so "in
/// a meeting" follows them without a provisioning change.
async fn refresh_calendars(
    store: Arc<dyn Store>,
    every: Duration,
    control: sb_runtime::ControlHandle<ServerCore>,
) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        match presence_load::read_calendars(store.as_ref()).await {
            Ok(list) => control.send(move |core: &mut ServerCore, now| {
                core.frontend_mut().with_presence_server(now, |p, ms| {
                    for (owner, ics) in list {
                        p.set_calendar(ms, &owner, Some(ics));
                    }
                });
            }),
            Err(e) => tracing::warn!(error = %e, "cannot refresh calendars"),
        }
    }
}
