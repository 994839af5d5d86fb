//! `switchboard presence show|set|access|contacts|calendar`: a user's presence as the
//! store holds it, and the provisioning behind it, for administrators.
//!
//! `show` aggregates what the store holds (manual state, live publications, calendar,
//! in-call flag, registrations) with the presence core's rules (`sb_presence::aggregate`),
//! and with `--as WATCHER` filters it by the level that watcher has
//! (`sb_presence::access`), so an administrator sees exactly what that watcher would.
//! Writes go through the store's provisioning changes, so a running server notices them
//! within a second, like `switchboard user`.
//!
//! Exit status: 0 done, 1 input refused (the message names the flag; nothing is written),
//! 2 usage or I/O error.

use std::io::Write;
use std::path::PathBuf;

use sb_presence::model::{
    AccessLevel, AccessRule as Rule, Availability, ManualState, PersonState, Published, Sources,
    WatcherMatch,
};
use sb_routing::PresenceFacts;
use sb_store::presence::{check_calendar, check_level, contact_list_uri};
use sb_store::{AccessRule, ManualPresence, Outcome, PresenceRow, SipAddress, Store, Watcher};

use crate::provision::user_cmd::{open_existing, Failure, StoreArgs};

mod time;

/// `switchboard presence ...`.
#[derive(Debug, clap::Args)]
pub struct PresenceArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub command: PresenceCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum PresenceCommand {
    /// Show a user's presence, aggregated from everything the store holds; with --as, as
    /// that watcher's access level lets them see it.
    Show(ShowArgs),
    /// Set (or --clear) the user's manual state: available, busy, dnd, brb, away, off-work.
    Set(SetArgs),
    /// Place a watcher (a person, a domain, or everyone) at an access level, or --remove
    /// the rule; with no --watcher, list the rules.
    Access(AccessArgs),
    /// Change (--add, --remove) or --list the user's contact list.
    Contacts(ContactsArgs),
    /// Set the user's calendar (an iCalendar file or an http(s) URL), or --clear it.
    Calendar(CalendarArgs),
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The user, e.g. sip:alice@example.com.
    pub user: String,
    /// Show what this watcher (sip:bob@example.com) would see.
    #[arg(long = "as", value_name = "WATCHER")]
    pub as_watcher: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct SetArgs {
    /// The user, e.g. sip:alice@example.com.
    pub user: String,
    /// available, busy, dnd, brb, away or off-work.
    #[arg(long, value_name = "STATE", required_unless_present = "clear")]
    pub state: Option<String>,
    /// A note shown with the state (colleagues and closer see it).
    #[arg(long, value_name = "TEXT", requires = "state")]
    pub note: Option<String>,
    /// When the state lapses, RFC 3339 (2026-11-25T17:00:00Z or with an offset).
    #[arg(
        long,
        value_name = "RFC3339",
        requires = "state",
        conflicts_with = "for_minutes"
    )]
    pub until: Option<String>,
    /// The state lapses after this many minutes.
    #[arg(long = "for", value_name = "MINUTES", requires = "state")]
    pub for_minutes: Option<String>,
    /// Clear the manual state (automatic states show again).
    #[arg(long, conflicts_with_all = ["state", "note", "until", "for_minutes"])]
    pub clear: bool,
}

#[derive(Debug, clap::Args)]
pub struct AccessArgs {
    /// The user whose presence is watched.
    pub user: String,
    /// sip:x@y (a person), example.com (everyone at a domain) or everyone.
    #[arg(long, value_name = "WATCHER")]
    pub watcher: Option<String>,
    /// blocked, public, colleagues, team or personal.
    #[arg(
        long,
        value_name = "LEVEL",
        requires = "watcher",
        conflicts_with = "remove"
    )]
    pub level: Option<String>,
    /// Remove the rule for --watcher.
    #[arg(long, requires = "watcher")]
    pub remove: bool,
}

#[derive(Debug, clap::Args)]
pub struct ContactsArgs {
    /// The user whose list this is.
    pub user: String,
    /// Add a contact (repeatable), at the end of the list.
    #[arg(long, value_name = "SIP-ADDRESS")]
    pub add: Vec<String>,
    /// Remove a contact (repeatable).
    #[arg(long, value_name = "SIP-ADDRESS")]
    pub remove: Vec<String>,
    /// Print the list (also after a change).
    #[arg(long)]
    pub list: bool,
}

#[derive(Debug, clap::Args)]
pub struct CalendarArgs {
    /// The user.
    pub user: String,
    /// An iCalendar file on this machine (stored as an absolute path).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["url", "clear"])]
    pub file: Option<PathBuf>,
    /// An http:// or https:// URL the server fetches.
    #[arg(long, value_name = "URL", conflicts_with = "clear")]
    pub url: Option<String>,
    /// Remove the calendar.
    #[arg(long)]
    pub clear: bool,
}

type CmdResult = Result<(), Failure>;

fn refused(flag: &str, why: impl std::fmt::Display) -> Failure {
    Failure::Refused(format!("{flag}: {why}"))
}

/// Runs a `presence` command; returns the exit status.
pub fn run(args: PresenceArgs) -> u8 {
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
    let result = rt.block_on(async {
        let (store, _config) = open_existing(&args.store).await?;
        let mut out = std::io::stdout().lock();
        let now = time::now_unix();
        let result = dispatch(store.as_ref(), args.command, now, &mut out).await;
        store.close().await;
        result
    });
    match result {
        Ok(()) => 0,
        Err(Failure::Refused(m)) => {
            eprintln!("switchboard: refused: {m}");
            1
        }
        Err(Failure::Io(e)) => {
            eprintln!("switchboard: {e:#}");
            2
        }
    }
}

async fn dispatch(
    store: &dyn Store,
    command: PresenceCommand,
    now: i64,
    out: &mut dyn Write,
) -> CmdResult {
    match command {
        PresenceCommand::Show(a) => show(store, a, now, out).await,
        PresenceCommand::Set(a) => set(store, a, now, out).await,
        PresenceCommand::Access(a) => access(store, a, out).await,
        PresenceCommand::Contacts(a) => contacts(store, a, out).await,
        PresenceCommand::Calendar(a) => calendar(store, a, out).await,
    }
}

fn io(e: std::io::Error) -> Failure {
    Failure::Io(anyhow::anyhow!("cannot write the output: {e}"))
}

/// The user named on the command line, who must exist.
async fn existing_user(store: &dyn Store, s: &str) -> Result<SipAddress, Failure> {
    let user = SipAddress::parse(s).map_err(|e| refused("USER", e.root()))?;
    if store.get_user(&user).await?.is_none() {
        return Err(refused("USER", format!("no user {user} in the store")));
    }
    Ok(user)
}

/// What [`gather`] read besides the aggregation input, for people to check the inputs.
#[derive(Debug, serde::Serialize)]
pub struct Gathered {
    pub row: PresenceRow,
    /// Unreadable publications, by entity tag.
    pub unreadable: Vec<(String, String)>,
    /// What the calendar said now: busy, free, or why it could not be read.
    pub calendar_now: Option<String>,
    /// Registered devices now.
    pub devices: usize,
}

/// Everything the store holds about `user`'s presence at `now`, as the presence core's
/// aggregation input. The server builds the same from its live state; this is the
/// store's view (what survives a restart), so `presence show` works without a server.
pub async fn gather(
    store: &dyn Store,
    user: &SipAddress,
    now: i64,
) -> anyhow::Result<(Sources, Gathered)> {
    let row = store.get_presence_row(user).await?;
    let mut unreadable = Vec::new();
    let mut published = Vec::new();
    for p in row.publications.iter().filter(|p| p.expires_at >= now) {
        match sb_presence::doc::pidf::parse(p.body.as_bytes()) {
            Ok(doc) => published.push(Published {
                received_at: unix_u64(p.updated_at),
                ..doc
            }),
            Err(e) => unreadable.push((p.etag.clone(), e.to_string())),
        }
    }
    let manual = row.manual.as_ref().and_then(manual_state);
    let (in_meeting, calendar_now) = match row.calendar.as_deref() {
        None => (false, None),
        Some(src) => {
            let text = if src.contains("://") {
                crate::http_get::get_text(src, 4 << 20, std::time::Duration::from_secs(15))
                    .await
                    .map_err(|e| format!("{e:#}"))
            } else {
                std::fs::read_to_string(src).map_err(|e| e.to_string())
            };
            match text {
                Ok(ics) => match sb_presence::calendar::busy_at(&ics, unix_u64(now)) {
                    Ok(true) => (true, Some("busy now".to_owned())),
                    Ok(false) => (false, Some("free now".to_owned())),
                    Err(e) => (false, Some(format!("unreadable: {e}"))),
                },
                Err(e) => (false, Some(format!("unreadable: {e}"))),
            }
        }
    };
    let devices = store
        .list_bindings(user)
        .await?
        .iter()
        .filter(|b| b.expires_at > now)
        .count();
    let numbers = store.list_numbers(user).await?;
    let sources = Sources {
        published,
        manual,
        in_call: row.in_call.as_ref().is_some_and(|f| f.in_call),
        in_meeting,
        signed_in: devices > 0,
        location: None,
        phone_numbers: numbers.iter().map(|n| n.number.to_string()).collect(),
    };
    let gathered = Gathered {
        row,
        unreadable,
        calendar_now,
        devices,
    };
    Ok((sources, gathered))
}

/// The presence of every user whose state can change how a call to them is routed (a
/// manual state, a call, a calendar, a publication), as a call from `caller` meets it,
/// from the store alone: for `route explain`, which has no presence server to ask. Users
/// with none of these are available or offline, which routing does not act on.
pub async fn routing_presence(
    store: &dyn Store,
    caller: &SipAddress,
    now: i64,
) -> anyhow::Result<Vec<(SipAddress, PresenceFacts)>> {
    let mut who = std::collections::BTreeSet::new();
    who.extend(
        store
            .list_manual_presence()
            .await?
            .into_iter()
            .map(|m| m.user),
    );
    who.extend(store.list_in_call().await?.into_iter().map(|f| f.address));
    who.extend(store.list_calendars().await?.into_iter().map(|c| c.owner));
    who.extend(
        store
            .list_publications(None)
            .await?
            .into_iter()
            .map(|p| p.entity),
    );
    let mut out = Vec::with_capacity(who.len());
    for user in who {
        let (sources, g) = gather(store, &user, now).await?;
        let state = sb_presence::aggregate::aggregate(&sources, unix_u64(now));
        let rules = access_rules(&g.row.access);
        let level = sb_presence::access::level_for(&rules, caller.as_str(), user.host());
        out.push((user, routing_facts(&state, level)));
    }
    Ok(out)
}

fn unix_u64(t: i64) -> u64 {
    u64::try_from(t).unwrap_or(0)
}

/// The store's manual row as the presence core's input; a name the core does not know
/// (a newer version wrote it) is ignored rather than guessed.
pub fn manual_state(m: &ManualPresence) -> Option<ManualState> {
    Some(ManualState {
        availability: Availability::from_token(&m.availability)?,
        note: m.note.clone(),
        until: m.until.map(unix_u64),
    })
}

/// The store's access rules as the presence core's; an unknown level counts as blocked,
/// so a watcher never sees more than intended.
pub fn access_rules(rules: &[AccessRule]) -> Vec<Rule> {
    rules
        .iter()
        .map(|r| Rule {
            watcher: match &r.watcher {
                Watcher::User(a) => WatcherMatch::User(a.to_string()),
                Watcher::Domain(d) => WatcherMatch::Domain(d.to_string()),
                Watcher::Everyone => WatcherMatch::Everyone,
            },
            level: AccessLevel::from_token(&r.level).unwrap_or(AccessLevel::Blocked),
        })
        .collect()
}

/// What routing needs from a callee's aggregated state for a call from a caller at
/// `level` (see `sb_routing::presence`).
pub fn routing_facts(state: &PersonState, level: AccessLevel) -> PresenceFacts {
    PresenceFacts {
        shown: describe(state),
        dnd: state.availability == Availability::DoNotDisturb,
        in_call: state.in_call,
        caller_passes_dnd: sb_presence::access::passes_dnd(level),
    }
}

/// An availability in words.
pub fn availability_text(a: Availability) -> &'static str {
    match a {
        Availability::Available => "available",
        Availability::Busy => "busy",
        Availability::DoNotDisturb => "do not disturb",
        Availability::BeRightBack => "be right back",
        Availability::Away => "away",
        Availability::OffWork => "off work",
        Availability::Offline => "offline",
    }
}

/// The state in a few words: "do not disturb", "busy, in a call (on the phone)", ...
pub fn describe(state: &PersonState) -> String {
    let mut s = availability_text(state.availability).to_owned();
    if state.in_call {
        s.push_str(", in a call (on the phone)");
    } else if state.in_meeting {
        s.push_str(", in a meeting");
    }
    s
}

async fn show(store: &dyn Store, a: ShowArgs, now: i64, out: &mut dyn Write) -> CmdResult {
    let user = existing_user(store, &a.user).await?;
    let watcher = match &a.as_watcher {
        Some(w) => Some(SipAddress::parse(w).map_err(|e| refused("--as", e.root()))?),
        None => None,
    };
    let (sources, g) = gather(store, &user, now).await?;
    let state = sb_presence::aggregate::aggregate(&sources, unix_u64(now));
    let seen = watcher.as_ref().map(|w| {
        let rules = access_rules(&g.row.access);
        let level = sb_presence::access::level_for(&rules, w.as_str(), user.host());
        (w, level, sb_presence::access::view(&state, level))
    });
    if a.json {
        let mut doc = serde_json::json!({ "user": user, "state": state });
        if let Some((w, level, view)) = &seen {
            doc["as"] = serde_json::json!({
                "watcher": w,
                "level": level,
                "passes_dnd": sb_presence::access::passes_dnd(*level),
                "state": view,
            });
        } else {
            doc["sources"] = serde_json::to_value(&g).unwrap_or_default();
            doc["contact_list"] = serde_json::json!({
                "uri": contact_list_uri(&user),
                "members": store.list_contact_list(&user).await?,
            });
        }
        let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        return writeln!(out, "{text}").map_err(io);
    }
    if let Some((w, level, view)) = &seen {
        let dnd = if sb_presence::access::passes_dnd(*level) {
            "passes do not disturb"
        } else {
            "does not pass do not disturb"
        };
        writeln!(
            out,
            "{user} as seen by {w} (level {}, {dnd})",
            level.as_str()
        )
        .map_err(io)?;
        write_state(out, view).map_err(io)?;
        let facts = routing_facts(&state, *level);
        let call = if facts.dnd && !facts.caller_passes_dnd {
            "goes to the unavailable rule (do not disturb)"
        } else if facts.in_call {
            "gets the busy rule (in a call)"
        } else {
            "rings"
        };
        return writeln!(out, "a call from {w} {call}").map_err(io);
    }
    writeln!(out, "{user}").map_err(io)?;
    write_state(out, &state).map_err(io)?;
    write_sources(out, &user, &g, now).map_err(io)?;
    let members = store.list_contact_list(&user).await?;
    writeln!(
        out,
        "contacts:     {} (list {})",
        members.len(),
        contact_list_uri(&user)
    )
    .map_err(io)
}

fn write_state(out: &mut dyn Write, s: &PersonState) -> std::io::Result<()> {
    writeln!(out, "availability: {}", availability_text(s.availability))?;
    if !s.activities.is_empty() {
        let names: Vec<&str> = s.activities.iter().map(|a| a.element_name()).collect();
        writeln!(out, "activities:   {}", names.join(", "))?;
    }
    if let Some(note) = &s.note {
        writeln!(out, "note:         {note}")?;
    }
    if s.in_call {
        writeln!(out, "in a call:    yes")?;
    }
    if s.in_meeting {
        writeln!(out, "in a meeting: yes")?;
    }
    if let Some(l) = &s.location {
        writeln!(out, "location:     {l}")?;
    }
    if !s.phone_numbers.is_empty() {
        writeln!(out, "numbers:      {}", s.phone_numbers.join(", "))?;
    }
    Ok(())
}

fn write_sources(
    out: &mut dyn Write,
    user: &SipAddress,
    g: &Gathered,
    now: i64,
) -> std::io::Result<()> {
    writeln!(out, "sources:")?;
    match &g.row.manual {
        Some(m) => {
            let note = m
                .note
                .as_ref()
                .map(|n| format!(" {n:?}"))
                .unwrap_or_default();
            let until = match m.until {
                Some(u) if u <= now => format!(" (lapsed at {})", time::format_rfc3339(u)),
                Some(u) => format!(" until {}", time::format_rfc3339(u)),
                None => String::new(),
            };
            writeln!(out, "  manual:     {}{note}{until}", m.availability)?;
        }
        None => writeln!(out, "  manual:     none")?,
    }
    let live = g.row.publications.iter().filter(|p| p.expires_at >= now);
    writeln!(out, "  published:  {} document(s)", live.count())?;
    for (etag, why) in &g.unreadable {
        writeln!(out, "    {etag}: unreadable, ignored: {why}")?;
    }
    match (&g.row.calendar, &g.calendar_now) {
        (Some(src), Some(now)) => writeln!(out, "  calendar:   {src} ({now})")?,
        _ => writeln!(out, "  calendar:   none")?,
    }
    let in_call = g.row.in_call.as_ref().is_some_and(|f| f.in_call);
    writeln!(out, "  in a call:  {}", if in_call { "yes" } else { "no" })?;
    writeln!(out, "  signed in:  {} device(s)", g.devices)?;
    if g.row.access.is_empty() {
        writeln!(
            out,
            "access:       no rules (colleagues at {}, public for others)",
            user.host()
        )?;
    } else {
        writeln!(out, "access:")?;
        for r in &g.row.access {
            writeln!(out, "  {:<32} {}", r.watcher.to_string(), r.level)?;
        }
    }
    Ok(())
}

/// `--state` in the store's words: the short forms, and the long ones people type.
fn state_name(s: &str) -> Result<&'static str, Failure> {
    let allowed = sb_store::presence::AVAILABILITIES.join(", ");
    match Availability::from_token(s) {
        Some(Availability::Available) => Ok("available"),
        Some(Availability::Busy) => Ok("busy"),
        Some(Availability::DoNotDisturb) => Ok("dnd"),
        Some(Availability::BeRightBack) => Ok("brb"),
        Some(Availability::Away) => Ok("away"),
        Some(Availability::OffWork) => Ok("off-work"),
        Some(Availability::Offline) => Err(refused(
            "--state",
            format!("offline cannot be set by hand; it is one of {allowed}"),
        )),
        None => Err(refused("--state", format!("{s:?} is not one of {allowed}"))),
    }
}

async fn set(store: &dyn Store, a: SetArgs, now: i64, out: &mut dyn Write) -> CmdResult {
    let user = existing_user(store, &a.user).await?;
    if a.clear {
        let outcome = store.clear_manual_presence(&user).await?;
        let what = if outcome == Outcome::Removed {
            "cleared"
        } else {
            "had no manual state"
        };
        return writeln!(out, "{user}: {what}").map_err(io);
    }
    let Some(state) = &a.state else {
        return Err(refused("--state", "give --state or --clear"));
    };
    let availability = state_name(state)?;
    let until = match (&a.until, &a.for_minutes) {
        (Some(t), _) => {
            let u = time::parse_rfc3339(t).map_err(|e| refused("--until", e))?;
            if u <= now {
                return Err(refused("--until", format!("{t} is in the past")));
            }
            Some(u)
        }
        (None, Some(m)) => {
            let minutes: i64 = m
                .trim()
                .parse()
                .ok()
                .filter(|m| (1..=366 * 24 * 60).contains(m))
                .ok_or_else(|| refused("--for", format!("{m:?} is not 1 to 527040 minutes")))?;
            Some(now + minutes * 60)
        }
        (None, None) => None,
    };
    let manual = ManualPresence {
        user: user.clone(),
        availability: availability.to_owned(),
        note: a.note.clone().filter(|n| !n.trim().is_empty()),
        until,
        updated_at: now,
    };
    manual.validate().map_err(|e| match e.root() {
        sb_store::StoreError::Invalid {
            field: "note",
            reason,
        } => refused("--note", reason),
        other => refused("--state", other),
    })?;
    let outcome = store.put_manual_presence(&manual).await?;
    let until = until
        .map(|u| format!(" until {}", time::format_rfc3339(u)))
        .unwrap_or_default();
    let unchanged = if outcome == Outcome::Unchanged {
        " (unchanged)"
    } else {
        ""
    };
    writeln!(out, "{user}: {availability}{until}{unchanged}").map_err(io)
}

async fn access(store: &dyn Store, a: AccessArgs, out: &mut dyn Write) -> CmdResult {
    let owner = existing_user(store, &a.user).await?;
    if let Some(w) = &a.watcher {
        let watcher = Watcher::parse(w).map_err(|e| refused("--watcher", e.root()))?;
        if a.remove {
            store
                .remove_access_rule(&owner, &watcher)
                .await
                .map_err(|e| match e.root() {
                    sb_store::StoreError::NotFound { .. } => {
                        refused("--watcher", format!("{owner} has no rule for {watcher}"))
                    }
                    _ => Failure::from(e),
                })?;
            writeln!(out, "{owner}: rule for {watcher} removed").map_err(io)?;
        } else {
            let Some(level) = &a.level else {
                return Err(refused("--level", "give --level or --remove"));
            };
            let level = level.trim().to_ascii_lowercase();
            check_level(&level).map_err(|e| refused("--level", e.root()))?;
            let rule = AccessRule {
                owner: owner.clone(),
                watcher: watcher.clone(),
                level: level.clone(),
            };
            store.set_access_rule(&rule).await?;
            writeln!(out, "{owner}: {watcher} is {level}").map_err(io)?;
        }
        return Ok(());
    }
    let rules = store.list_access_rules(&owner).await?;
    if rules.is_empty() {
        writeln!(
            out,
            "{owner}: no rules (colleagues at {}, public for others)",
            owner.host()
        )
        .map_err(io)?;
    }
    for r in rules {
        writeln!(out, "{:<32} {}", r.watcher.to_string(), r.level).map_err(io)?;
    }
    Ok(())
}

async fn contacts(store: &dyn Store, a: ContactsArgs, out: &mut dyn Write) -> CmdResult {
    let owner = existing_user(store, &a.user).await?;
    let mut list = store.list_contact_list(&owner).await?;
    let changing = !a.add.is_empty() || !a.remove.is_empty();
    if changing {
        for r in &a.remove {
            let member = SipAddress::parse(r).map_err(|e| refused("--remove", e.root()))?;
            let Some(i) = list.iter().position(|m| *m == member) else {
                return Err(refused("--remove", format!("{member} is not on the list")));
            };
            list.remove(i);
        }
        for add in &a.add {
            let member = SipAddress::parse(add).map_err(|e| refused("--add", e.root()))?;
            if member == owner {
                return Err(refused("--add", format!("{member} is the list's owner")));
            }
            if !list.contains(&member) {
                list.push(member);
            }
        }
        let outcome = store
            .set_contact_list(&owner, &list)
            .await
            .map_err(|e| match e.root() {
                sb_store::StoreError::Invalid { reason, .. } => refused("--add", reason),
                _ => Failure::from(e),
            })?;
        let what = if outcome == Outcome::Unchanged {
            "unchanged"
        } else {
            "updated"
        };
        writeln!(
            out,
            "{owner}: contact list {what}, {} member(s)",
            list.len()
        )
        .map_err(io)?;
    }
    if a.list || !changing {
        writeln!(out, "list {}", contact_list_uri(&owner)).map_err(io)?;
        for m in &list {
            writeln!(out, "  {m}").map_err(io)?;
        }
    }
    Ok(())
}

async fn calendar(store: &dyn Store, a: CalendarArgs, out: &mut dyn Write) -> CmdResult {
    let owner = existing_user(store, &a.user).await?;
    let source = match (&a.file, &a.url, a.clear) {
        (Some(path), _, _) => {
            let abs = std::path::absolute(path).map_err(|e| refused("--file", e))?;
            let ics = std::fs::read_to_string(&abs)
                .map_err(|e| refused("--file", format!("{}: {e}", abs.display())))?;
            sb_presence::calendar::parse(&ics)
                .map_err(|e| refused("--file", format!("{}: {e}", abs.display())))?;
            let text = abs
                .to_str()
                .ok_or_else(|| refused("--file", "the path is not UTF-8"))?
                .to_owned();
            check_calendar(&text).map_err(|e| refused("--file", e.root()))?;
            Some(text)
        }
        (None, Some(url), _) => {
            if !url.contains("://") {
                return Err(refused("--url", format!("{url:?} is not an http(s) URL")));
            }
            check_calendar(url).map_err(|e| refused("--url", e.root()))?;
            Some(url.clone())
        }
        (None, None, true) => None,
        (None, None, false) => {
            let row = store.get_presence_row(&owner).await?;
            let shown = row.calendar.as_deref().unwrap_or("none");
            return writeln!(out, "{owner}: calendar {shown}").map_err(io);
        }
    };
    store.set_calendar(&owner, source.as_deref()).await?;
    match source {
        Some(s) => writeln!(out, "{owner}: calendar {s}"),
        None => writeln!(out, "{owner}: calendar cleared"),
    }
    .map_err(io)
}
