//! A routing dry run without a server, the way `switchboard route explain` prints it:
//!
//! ```text
//! cargo run -p sb-routing --example explain -- crates/routing/examples/redmond.toml alice "555 1212"
//! ```
//!
//! The file holds a `[routing]` table and `[[users]]` (each a user entry plus its
//! registered `contacts`). Exit status 0 when the call would be placed, 1 when rejected,
//! 2 on usage or file errors.

use std::process::ExitCode;

use sb_routing::{
    route, Caller, Contact, MemoryDirectory, RequestFacts, RoutingConfig, RoutingTable, UserEntry,
    UserId,
};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    routing: RoutingConfig,
    #[serde(default)]
    users: Vec<FileUser>,
}

#[derive(Deserialize)]
struct FileUser {
    #[serde(flatten)]
    entry: UserEntry,
    #[serde(default)]
    contacts: Vec<String>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, from, dialled] = args.as_slice() else {
        eprintln!("usage: explain FILE FROM-USER DIALLED");
        return ExitCode::from(2);
    };
    match run(file, from, dialled) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("{file}: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(file: &str, from: &str, dialled: &str) -> Result<bool, String> {
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    let parsed: File = toml::from_str(&text).map_err(|e| e.to_string())?;
    let domain = parsed.routing.domains.first().cloned().unwrap_or_default();
    let table = RoutingTable::compile(parsed.routing).map_err(|e| e.to_string())?;

    let mut dir = MemoryDirectory::default();
    for u in parsed.users {
        let main = u
            .entry
            .site
            .as_ref()
            .and_then(|s| table.site(s))
            .and_then(|s| s.main_number.clone());
        for c in &u.contacts {
            dir.contacts
                .entry(u.entry.id.clone())
                .or_default()
                .push(Contact {
                    uri: c.clone(),
                    q: None,
                });
        }
        dir.add_user(u.entry, main.as_ref());
    }

    // A SIP or tel URI as given; anything else is what the user typed on a keypad.
    let uri = if dialled.contains(':') {
        dialled.to_string()
    } else {
        format!("sip:{}@{domain};user=phone", dialled.replace(' ', "%20"))
    };
    let uri = uri.parse().map_err(|e| format!("{dialled:?}: {e}"))?;
    let caller = if from.contains(':') {
        UserId::from_canonical(from)
    } else {
        UserId::new(from, &domain)
    };
    let routed = route(
        &RequestFacts::new(uri, "explain"),
        &Caller::User(caller),
        &dir,
        &table,
    );
    print!("{}", routed.trace);
    Ok(routed.is_allowed())
}
