//! The `switchboard` binary: the command line, the configuration file, and the wiring of
//! the runtime, the front end and the management plane.

mod config;
mod lint;
mod provision;
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
    /// SIP tools.
    Sip {
        #[command(subcommand)]
        command: SipCommand,
    },
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
        Command::Serve(args) => match serve::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("switchboard: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}
