//! `switchboard gateway list|show`: the configured gateways and pools with their live
//! state, read from the running server's `/metrics` (mediation's gauges
//! `mediation_gateway_up` and `mediation_gateway_calls`).
//!
//! Gateways are provisioned in the configuration file (`[[gateways]]`, `[[pools]]`,
//! docs/config.md); this command checks the file as `serve` does and shows what the
//! server knows of each gateway. Exit status: 0 shown, 1 no such gateway, 2 usage,
//! configuration or I/O error.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::Config;

/// `switchboard gateway ...`.
#[derive(Debug, clap::Args)]
pub struct GatewayArgs {
    #[command(subcommand)]
    pub command: GatewayCommand,
    /// TOML configuration file with the `[[gateways]]` and `[[pools]]`.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Accepted for symmetry with the other commands; gateways live in the config file.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "./switchboard-data",
        global = true
    )]
    pub data: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum GatewayCommand {
    /// Every gateway: address, transport, pools, state (up, down, unknown) and calls.
    List,
    /// One gateway in detail.
    Show {
        /// The gateway's name.
        name: String,
    },
}

/// What the running server says about one gateway.
#[derive(Debug, Clone, Default, PartialEq)]
struct Live {
    up: Option<bool>,
    calls: Option<u64>,
}

/// Runs the command; returns the exit status.
pub fn run(args: GatewayArgs) -> u8 {
    let config = match &args.config {
        Some(path) => match Config::load(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("switchboard: {e:#}");
                return 2;
            }
        },
        None => Config::default(),
    };
    let (live, server) = fetch_live(&config);
    let mut out = std::io::stdout().lock();
    let rows: Vec<Row> = config
        .gateways
        .iter()
        .map(|g| {
            let name = g.name.to_string();
            let pools: Vec<String> = config
                .pools
                .iter()
                .filter(|p| p.gateways.iter().any(|x| x.to_string() == name))
                .map(|p| p.name.to_string())
                .collect();
            let l = live.get(&name).cloned().unwrap_or_default();
            Row {
                state: match (server.is_ok(), l.up) {
                    (false, _) => "unknown (server not reachable)".into(),
                    (true, Some(true)) => "up".into(),
                    (true, Some(false)) => "down".into(),
                    (true, None) => "unknown (no keep-alive answered yet)".into(),
                },
                calls: l.calls,
                capacity: g.capacity,
                address: g.address.clone(),
                transport: format!("{:?}", g.transport).to_ascii_lowercase(),
                codecs: g.codecs.iter().map(|c| c.to_string()).collect(),
                pools,
                name,
            }
        })
        .collect();
    let rows = match &args.command {
        GatewayCommand::List => rows,
        GatewayCommand::Show { name } => {
            let one: Vec<Row> = rows.into_iter().filter(|r| &r.name == name).collect();
            if one.is_empty() {
                eprintln!("switchboard: no gateway named {name:?} in the configuration");
                return 1;
            }
            one
        }
    };
    if let Err(e) = &server {
        eprintln!("switchboard: live state unavailable: {e}");
    }
    let written = if args.json {
        writeln!(out, "{}", json(&rows))
    } else if matches!(args.command, GatewayCommand::Show { .. }) {
        rows.iter().try_for_each(|r| r.write_detail(&mut out))
    } else {
        write_table(&mut out, &rows)
    };
    match written {
        Ok(()) => 0,
        Err(_) => 2,
    }
}

struct Row {
    name: String,
    address: String,
    transport: String,
    codecs: Vec<String>,
    pools: Vec<String>,
    state: String,
    calls: Option<u64>,
    capacity: Option<u32>,
}

impl Row {
    fn calls_text(&self) -> String {
        let calls = self.calls.map_or("-".to_string(), |c| c.to_string());
        match self.capacity {
            Some(cap) => format!("{calls}/{cap}"),
            None => calls,
        }
    }

    fn write_detail(&self, out: &mut impl Write) -> std::io::Result<()> {
        writeln!(out, "gateway:   {}", self.name)?;
        writeln!(out, "address:   {} ({})", self.address, self.transport)?;
        writeln!(out, "codecs:    {}", self.codecs.join(", "))?;
        writeln!(out, "pools:     {}", none_if_empty(&self.pools))?;
        writeln!(out, "state:     {}", self.state)?;
        writeln!(out, "calls:     {}", self.calls_text())
    }
}

fn none_if_empty(v: &[String]) -> String {
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}

fn write_table(out: &mut impl Write, rows: &[Row]) -> std::io::Result<()> {
    if rows.is_empty() {
        return writeln!(
            out,
            "no gateways configured ([[gateways]] in the config file)"
        );
    }
    writeln!(
        out,
        "{:<16} {:<28} {:<5} {:<16} {:<10} CALLS",
        "NAME", "ADDRESS", "VIA", "POOLS", "STATE"
    )?;
    for r in rows {
        let state = r.state.split(' ').next().unwrap_or("");
        writeln!(
            out,
            "{:<16} {:<28} {:<5} {:<16} {:<10} {}",
            r.name,
            r.address,
            r.transport,
            none_if_empty(&r.pools),
            state,
            r.calls_text()
        )?;
    }
    Ok(())
}

/// One gateway as `--json` prints it.
#[derive(serde::Serialize)]
struct JsonRow<'a> {
    name: &'a str,
    address: &'a str,
    transport: &'a str,
    codecs: &'a [String],
    pools: &'a [String],
    state: &'a str,
    calls: Option<u64>,
    capacity: Option<u32>,
}

fn json(rows: &[Row]) -> String {
    let items: Vec<JsonRow<'_>> = rows
        .iter()
        .map(|r| JsonRow {
            name: &r.name,
            address: &r.address,
            transport: &r.transport,
            codecs: &r.codecs,
            pools: &r.pools,
            state: r.state.split(' ').next().unwrap_or(""),
            calls: r.calls,
            capacity: r.capacity,
        })
        .collect();
    serde_json::to_string(&items).unwrap_or_else(|_| "[]".into())
}

/// The gateways' gauges from the running server's `/metrics`.
fn fetch_live(config: &Config) -> (HashMap<String, Live>, Result<(), String>) {
    let Some(mut addr) = config.http.listen else {
        return (HashMap::new(), Err("[http] listen is off".into()));
    };
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::IpAddr::from([127, 0, 0, 1]));
    }
    let url = format!("http://{addr}/metrics");
    let text = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| {
            rt.block_on(crate::http_get::get_text(
                &url,
                8 << 20,
                Duration::from_secs(5),
            ))
            .map_err(|e| format!("{url}: {e:#}"))
        });
    match text {
        Ok(t) => (parse_metrics(&t), Ok(())),
        Err(e) => (HashMap::new(), Err(e)),
    }
}

/// Reads `mediation_gateway_up{gateway="NAME"} 1` and `mediation_gateway_calls{...} N`.
fn parse_metrics(text: &str) -> HashMap<String, Live> {
    let mut out: HashMap<String, Live> = HashMap::new();
    for line in text.lines() {
        let (series, value) = match line.rsplit_once(' ') {
            Some(x) => x,
            None => continue,
        };
        let Some((name, labels)) = series.split_once('{') else {
            continue;
        };
        let Some(gw) = labels
            .split(',')
            .find_map(|l| l.trim().strip_prefix("gateway=\""))
            .and_then(|v| v.split('"').next())
        else {
            continue;
        };
        let Ok(v) = value.trim().parse::<f64>() else {
            continue;
        };
        let entry = out.entry(gw.to_string()).or_default();
        match name {
            "mediation_gateway_up" => entry.up = Some(v >= 1.0),
            "mediation_gateway_calls" => entry.calls = Some(v.max(0.0) as u64),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauges_are_read_per_gateway() {
        let text = "# TYPE mediation_gateway_up gauge\n\
                    mediation_gateway_up{gateway=\"gw-a\"} 1\n\
                    mediation_gateway_up{gateway=\"gw-b\"} 0\n\
                    mediation_gateway_calls{gateway=\"gw-a\"} 3\n\
                    mediation_gateway_failures_total{gateway=\"gw-b\",status=\"503\"} 2\n";
        let live = parse_metrics(text);
        assert_eq!(
            live["gw-a"],
            Live {
                up: Some(true),
                calls: Some(3)
            }
        );
        assert_eq!(live["gw-b"].up, Some(false));
        assert_eq!(live["gw-b"].calls, None);
    }

    #[test]
    fn json_escapes_and_lists() {
        let r = Row {
            name: "gw\"a".into(),
            address: "192.0.2.1:5060".into(),
            transport: "udp".into(),
            codecs: vec!["PCMU".into()],
            pools: vec![],
            state: "unknown (server not reachable)".into(),
            calls: None,
            capacity: Some(23),
        };
        assert_eq!(
            json(&[r]),
            "[{\"name\":\"gw\\\"a\",\"address\":\"192.0.2.1:5060\",\"transport\":\"udp\",\"codecs\":[\"PCMU\"],\"pools\":[],\"state\":\"unknown\",\"calls\":null,\"capacity\":23}]"
        );
    }
}
