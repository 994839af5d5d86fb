//! The `switchboard` binary: the command line, the configuration file, and the wiring of
//! the runtime, the front end and the management plane.

mod config;
mod directory;
mod gateway_cmd;
mod http_get;
mod lint;
mod mediation;
mod presence_cmd;
mod provision;
mod route_cmd;
mod serve;
mod tls;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Switchboard: a SIP server that joins SIP clients to the telephone network.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: SIP on UDP, TCP, TLS and WebSocket, plus /metrics and /health over
    /// HTTP. Works without a config file; SIGINT or SIGTERM shuts down gracefully.
    Serve(serve::ServeArgs),
    /// Provision users: add, set, show, list, remove, import from CSV. Works whether or
    /// not the server runs (it sees changes within a second). Exit status: 0 done,
    /// 1 input refused, 2 usage or I/O error.
    User(provision::user_cmd::UserArgs),
    /// Call routing tools: `route explain` shows how a call would be routed, step by step.
    Route(route_cmd::RouteArgs),
    /// Presence: show a user's state (as a watcher would see it), set it by hand, and
    /// provision access levels, contact lists and calendars. Exit status: 0 done, 1 input
    /// refused, 2 usage or I/O error.
    Presence(presence_cmd::PresenceArgs),
    /// The `[site]` section of the configuration: domains, users and numbers.
    Site {
        #[command(subcommand)]
        command: SiteCommand,
    },
    /// PSTN gateways (configured in `[[gateways]]`): `gateway list` and `gateway show NAME`
    /// with their live state from the running server. Exit status: 0 shown, 1 no such
    /// gateway, 2 usage, configuration or I/O error.
    Gateway(gateway_cmd::GatewayArgs),
    /// SIP tools.
    Sip {
        #[command(subcommand)]
        command: SipCommand,
    },
}

#[derive(Debug, Subcommand)]
enum SiteCommand {
    /// Apply the `[site]` section now, as `serve` does at start: all of it or nothing.
    /// Exit status: 0 applied, 1 an entry refused (each one named), 2 usage or I/O error.
    Apply(provision::user_cmd::SiteApplyArgs),
}

#[derive(Debug, Subcommand)]
enum SipCommand {
    /// Check files that each hold one raw SIP message (bytes exactly as on the wire).
    ///
    /// Prints `FILE: ok` or `FILE: invalid: REASON` per file. Exit status: 0 when every
    /// file is valid, 1 when any is invalid, 2 when a file cannot be read.
    Lint {
        /// Files to check, one SIP message each.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Sip {
            command: SipCommand::Lint { files },
        } => {
            let code = lint::run(&files, &mut std::io::stdout(), &mut std::io::stderr());
            ExitCode::from(code)
        }
        Command::Site {
            command: SiteCommand::Apply(args),
        } => ExitCode::from(provision::user_cmd::run_site_apply(args)),
        Command::User(args) => ExitCode::from(provision::user_cmd::run(args)),
        Command::Route(args) => ExitCode::from(route_cmd::run(args)),
        Command::Gateway(args) => ExitCode::from(gateway_cmd::run(args)),
        Command::Presence(args) => ExitCode::from(presence_cmd::run(args)),
        Command::Serve(args) => match serve::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("switchboard: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}
