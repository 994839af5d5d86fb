//! `switchboard serve`: reads the configuration, binds every listener, runs until SIGINT or
//! SIGTERM, then shuts down gracefully.

use crate::config::{Config, LogFormat};
use anyhow::Context;
use sb_runtime::{RuntimeConfig, Server, ServerCore, TransportKind};
use std::io::Write;
use std::path::PathBuf;
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
    let frontend = sb_frontend::Frontend::new(sb_frontend::FrontendConfig {
        domains: sip.domains.clone(),
        supported: Vec::new(),
        tag_seed: seed,
        server_name: format!("switchboard/{}", env!("CARGO_PKG_VERSION")),
    });
    let core = ServerCore::new(timers, seed.rotate_left(17), frontend);
    let server = Server::bind(runtime_config, core).await?;

    let metrics = sb_admin::install_recorder().map_err(anyhow::Error::msg)?;
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

    let mut signals = Signals::install()?;
    print_banner(
        &data,
        tls.as_ref(),
        server.local_addrs(),
        http.as_ref().map(|h| h.0),
    );
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
    server.run().await;
    let _ = http_stop_tx.send(());
    if let Some((_, task)) = http {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// What a person starting the server wants to know first: where the data lives and what
/// listens where. On stdout, one fact per line, so scripts (and tests) can read the ports.
fn print_banner(
    data: &std::path::Path,
    tls: Option<&crate::tls::Loaded>,
    addrs: &[(TransportKind, std::net::SocketAddr)],
    http: Option<std::net::SocketAddr>,
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
        let name = match kind {
            TransportKind::Udp => "udp",
            TransportKind::Tcp => "tcp",
            TransportKind::Tls => "tls",
            TransportKind::Ws => "ws",
            TransportKind::Wss => "wss",
        };
        let _ = writeln!(out, "listening sip {name} {addr}");
    }
    if let Some(a) = http {
        let _ = writeln!(out, "listening http {a} (/metrics, /health)");
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
