//! `switchboard route explain`: a dry run of routing. It reads the configuration and the
//! store as `serve` does, routes one call from a user without sending anything, and prints
//! each step: the dial plan rule that normalized the number, the number lookup, the
//! callee's rules and devices, the route and the voice policy check, the targets in order.
//!
//! Exit status: 0 the call would be placed, 1 routing or policy would refuse it (status
//! and reason printed), 2 usage or configuration error.

use std::io::Write;

use sb_routing::{route, Caller, RequestFacts, Routed};
use sb_sip_msg::Uri;
use sb_store::{SipAddress, Store};

use crate::directory::{contact_of, load_directory, routing_table, user_id};
use crate::provision::user_cmd::{open_existing, StoreArgs};

/// `switchboard route ...`.
#[derive(Debug, clap::Args)]
pub struct RouteArgs {
    #[command(subcommand)]
    pub command: RouteCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum RouteCommand {
    /// Show how a call from a user would be routed, step by step, without placing it.
    /// Exit status: 0 the call would be placed, 1 it would be refused, 2 usage or
    /// configuration error.
    Explain(ExplainArgs),
}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// The calling user, e.g. sip:alice@example.com.
    #[arg(long, value_name = "USER")]
    pub from: String,
    /// What was dialled: a number as typed ("0 425 555 1212", "5551212", "+44 20 7946
    /// 0000"), an extension, a user name, a tel: URI or a SIP URI.
    #[arg(value_name = "DIALLED", allow_hyphen_values = true)]
    pub dialled: String,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Print the decision and the steps as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `route explain`; returns the exit status.
pub fn run(args: RouteArgs) -> u8 {
    let RouteCommand::Explain(args) = args.command;
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("switchboard: cannot start the async runtime: {e}");
            return 2;
        }
    };
    let routed = rt.block_on(async {
        let (store, config) = open_existing(&args.store)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let result = explain(store.as_ref(), &config, &args).await;
        store.close().await;
        result
    });
    let routed = match routed {
        Ok(r) => r,
        Err(e) => {
            eprintln!("switchboard: {e:#}");
            return 2;
        }
    };
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        let doc = serde_json::json!({
            "allowed": routed.is_allowed(),
            "decision": routed.decision,
            "trace": routed.trace.lines,
        });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        )
    } else {
        write!(out, "{}", routed.trace)
    };
    if let Err(e) = written.and_then(|()| out.flush()) {
        eprintln!("switchboard: cannot write the output: {e}");
        return 2;
    }
    match &routed.decision {
        sb_routing::Decision::Deliver(_) => 0,
        sb_routing::Decision::Reject { status, reason } => {
            eprintln!("switchboard: the call would be refused: {status} {reason}");
            1
        }
    }
}

async fn explain(
    store: &dyn Store,
    config: &crate::config::Config,
    args: &ExplainArgs,
) -> anyhow::Result<Routed> {
    let table = routing_table(config, store).await?;
    let caller = caller_address(&args.from)?;
    if store.get_user(&caller).await?.is_none() {
        anyhow::bail!("--from: no user {caller} in the store");
    }
    let request_uri =
        request_uri(&args.dialled, caller.host()).map_err(|e| anyhow::anyhow!("DIALLED: {e}"))?;
    let loaded = load_directory(store, &table).await?;
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    let mut dir = loaded.dir;
    let now = unix_now();
    // Devices signed in now decide whether "forward when offline" fires, as at call time.
    for b in store.list_all_bindings().await? {
        if b.expires_at > now {
            let contact = contact_of(&b);
            dir.contacts
                .entry(user_id(&b.aor))
                .or_default()
                .push(contact);
        }
    }
    // Presence as the store holds it (the server asks its presence server instead).
    for (who, p) in crate::presence_cmd::routing_presence(store, &caller, now).await? {
        dir.presence.insert(user_id(&who), p);
    }
    let facts = RequestFacts::new(request_uri, "route-explain");
    Ok(route(&facts, &Caller::User(user_id(&caller)), &dir, &table))
}

/// `sip:alice@example.com`, or `alice@example.com` for short.
fn caller_address(s: &str) -> anyhow::Result<SipAddress> {
    let s = s.trim();
    let full = if s.contains(':') {
        s.to_string()
    } else {
        format!("sip:{s}")
    };
    SipAddress::parse(&full).map_err(|e| anyhow::anyhow!("--from: {e}"))
}

/// What a phone would send for `dialled`: a URI as given, a number as
/// `sip:NUMBER@DOMAIN;user=phone` (RFC 3261 §19.1.1) and a name as `sip:NAME@DOMAIN`, in
/// the caller's domain. The number keeps its spaces (escaped), so the trace shows it as
/// typed.
pub fn request_uri(dialled: &str, domain: &str) -> Result<Uri, String> {
    let d = dialled.trim();
    if d.is_empty() {
        return Err("nothing dialled".into());
    }
    let scheme = d.split_once(':').map(|(s, _)| s);
    if scheme.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphabetic())) {
        return d.parse::<Uri>().map_err(|e| format!("{d:?}: {e}"));
    }
    let number = d
        .chars()
        .all(|c| c.is_ascii_digit() || "+-.() *#".contains(c))
        && d.chars().any(|c| c.is_ascii_digit());
    let text = if number {
        format!("sip:{}@{domain};user=phone", escape_user(d))
    } else {
        format!("sip:{}@{domain}", escape_user(d))
    };
    text.parse::<Uri>().map_err(|e| format!("{d:?}: {e}"))
}

/// Escapes what a SIP URI user part may not carry as it is (RFC 3261 §25.1 `user`).
fn escape_user(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialled_forms_become_request_uris() {
        let u = |d: &str| request_uri(d, "example.com").unwrap().to_string();
        assert_eq!(
            u("0 425 555 1212"),
            "sip:0%20425%20555%201212@example.com;user=phone"
        );
        assert_eq!(u("+14255551212"), "sip:+14255551212@example.com;user=phone");
        assert_eq!(u("bob"), "sip:bob@example.com");
        assert_eq!(u("tel:+14255551212"), "tel:+14255551212");
        assert_eq!(u("sip:carol@example.org"), "sip:carol@example.org");
        assert!(request_uri("  ", "example.com").is_err());
        let uri = request_uri("0 425 555 1212", "example.com").unwrap();
        assert_eq!(
            sb_routing::dialled_from_uri(&uri).as_deref(),
            Some("0 425 555 1212")
        );
    }
}
