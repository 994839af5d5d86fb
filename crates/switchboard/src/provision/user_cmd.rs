//! `switchboard user add|set|show|list|remove|import`: provisioning from the command line,
//! against the same store the server uses (so it works whether or not a server runs).
//!
//! Exit status: 0 done, 1 input refused (the message names the field), 2 usage or I/O
//! errors (a store that cannot be opened, an unreadable file).

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

use sb_store::{
    Binding, Change, Domain, DomainName, Number, Outcome, Page, SipAddress, Store, StoreError, User,
};

use super::spec::{self, FieldError, Secret, UserSpec};
use crate::config::Config;

/// Where the store is: the same flags as `serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// TOML configuration file; its `[store]` section says which database to use.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Data directory of the server (the SQLite store is DIR/switchboard.db).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "./switchboard-data",
        global = true
    )]
    pub data: PathBuf,
}

/// `switchboard user ...`.
#[derive(Debug, clap::Args)]
pub struct UserArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create a user (and its domain, if new).
    Add(AddArgs),
    /// Change fields of an existing user; fields not given stay as they are.
    Set(SetArgs),
    /// Print a user, their numbers and their current registrations.
    Show(AddressArg),
    /// List users, one page at a time, in address order.
    List(ListArgs),
    /// Remove a user with their credentials, numbers and registrations.
    Remove(AddressArg),
    /// Create or update users from a CSV file, all or nothing (see docs/provisioning.md).
    Import(super::import::ImportArgs),
}

/// How the password is given. `--password` is visible to other local users in the
/// process list; prefer `--password-stdin` on shared machines.
#[derive(Debug, Clone, clap::Args)]
pub struct PasswordArgs {
    /// The password (stored only as MD5 and SHA-256 HA1 hashes).
    #[arg(long, value_name = "PASSWORD", conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// SIP address of the user, e.g. sip:alice@example.com.
    pub address: String,
    /// Display name.
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// The user's own number, E.164 (+14255550100); sets the line URI tel:NUMBER.
    #[arg(long, value_name = "E164", conflicts_with = "line_uri")]
    pub number: Option<String>,
    /// Line URI, e.g. tel:+14255550100;ext=100 for an extension behind a shared number.
    #[arg(long, value_name = "URI")]
    pub line_uri: Option<String>,
    /// Create the user disabled (kept, but may not register or call).
    #[arg(long)]
    pub disabled: bool,
    /// A call handling rule, NAME=VALUE (repeatable): forward_busy=sip:carol@example.com,
    /// forward_unanswered=+14255550100, forward_unanswered_secs=10, ... (docs/routing.md).
    #[arg(long = "rule", value_name = "NAME=VALUE")]
    pub rules: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct SetArgs {
    /// SIP address of the user.
    pub address: String,
    /// New display name.
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// New own number (E.164); sets the line URI tel:NUMBER.
    #[arg(long, value_name = "E164", conflicts_with_all = ["line_uri", "no_line_uri"])]
    pub number: Option<String>,
    /// New line URI.
    #[arg(long, value_name = "URI", conflicts_with = "no_line_uri")]
    pub line_uri: Option<String>,
    /// Remove the line URI (and with it the user's own number).
    #[arg(long)]
    pub no_line_uri: bool,
    /// Enable the user.
    #[arg(long, conflicts_with = "disable")]
    pub enable: bool,
    /// Disable the user: data kept, registrations and calls refused.
    #[arg(long)]
    pub disable: bool,
    /// Give the user another number (repeatable).
    #[arg(long, value_name = "E164")]
    pub add_number: Vec<String>,
    /// Take a number (not the line number) away from the user (repeatable).
    #[arg(long, value_name = "E164")]
    pub remove_number: Vec<String>,
    /// Set a call handling rule, NAME=VALUE (repeatable; docs/routing.md).
    #[arg(long = "rule", value_name = "NAME=VALUE")]
    pub rules: Vec<String>,
    /// Remove a call handling rule (repeatable).
    #[arg(long = "clear-rule", value_name = "NAME")]
    pub clear_rules: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct AddressArg {
    /// SIP address of the user.
    pub address: String,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Users per page.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub limit: u32,
    /// Skip this many users first.
    #[arg(long, conflicts_with = "page", default_value_t = 0)]
    pub offset: u64,
    /// Page number, from 1 (the same as --offset (PAGE-1)*LIMIT).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub page: Option<u64>,
    /// Only users of this domain.
    #[arg(long)]
    pub domain: Option<String>,
}

/// Why a command failed, which decides the exit status.
#[derive(Debug)]
pub enum Failure {
    /// The input was refused (exit 1).
    Refused(String),
    /// The store or a file failed (exit 2).
    Io(anyhow::Error),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Refused(m) => f.write_str(m),
            Failure::Io(e) => write!(f, "{e:#}"),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        if e.is_caller_fault() {
            Failure::Refused(e.root().to_string())
        } else {
            Failure::Io(e.into())
        }
    }
}

impl From<FieldError> for Failure {
    fn from(e: FieldError) -> Self {
        Failure::Refused(e.to_string())
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Io(e)
    }
}

pub type CmdResult = Result<(), Failure>;

/// Runs a `user` command; returns the exit status.
pub fn run(args: UserArgs) -> u8 {
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
    // Only the commands that create users may create the store; a typo in --data for
    // `show` should say so, not show an empty new database.
    let create = matches!(args.command, UserCommand::Add(_) | UserCommand::Import(_));
    let result = rt.block_on(async {
        let (store, config) = open(&args.store, create).await?;
        let mut out = std::io::stdout().lock();
        let ctx = Context {
            hint: super::first_start_hint(&args.store.data, &config.store),
            realm: config.auth.realm.clone(),
            config: config.clone(),
        };
        let result = dispatch(store.as_ref(), args.command, &ctx, &mut out).await;
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

/// Opens the store of a server that already has one (never creates it), with the
/// configuration; for commands that only read, like `route explain`.
pub async fn open_existing(args: &StoreArgs) -> Result<(Arc<dyn Store>, Config), Failure> {
    open(args, false).await
}

async fn open(args: &StoreArgs, create: bool) -> Result<(Arc<dyn Store>, Config), Failure> {
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let file = args.data.join(sb_store::SqliteStore::FILE_NAME);
    if !create && config.store.backend == super::Backend::Sqlite && !file.exists() {
        return Err(Failure::Io(anyhow::anyhow!(
            "no store at {}: check --data, or create users with `switchboard user add`",
            file.display()
        )));
    }
    Ok((super::open_store(&args.data, &config.store).await?, config))
}

/// `switchboard site apply --config FILE`.
#[derive(Debug, clap::Args)]
pub struct SiteApplyArgs {
    /// Configuration file whose `[site]` section is applied (`serve` applies it at start).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Data directory of the server (the SQLite store is DIR/switchboard.db).
    #[arg(long, value_name = "DIR", default_value = "./switchboard-data")]
    pub data: PathBuf,
}

/// Applies the `[site]` section of a configuration file now, as `serve` does at start.
/// Returns the exit status.
pub fn run_site_apply(args: SiteApplyArgs) -> u8 {
    let result = (|| -> Result<super::Summary, Failure> {
        let config = Config::load(&args.config)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::Io(e.into()))?;
        rt.block_on(async {
            let store = super::open_store(&args.data, &config.store).await?;
            let table = crate::directory::routing_table(&config, store.as_ref()).await?;
            let result = super::apply_site_routed(store.as_ref(), &config.site, Some(&table)).await;
            store.close().await;
            result.map_err(|e| match e {
                super::site::SiteError::Refused(lines) => Failure::Refused(lines.join("\n")),
                other => Failure::Io(other.into()),
            })
        })
    })();
    match result {
        Ok(summary) => {
            let nothing = if summary.changed_anything() {
                ""
            } else {
                " (nothing to change)"
            };
            println!("{summary}{nothing}");
            0
        }
        Err(Failure::Refused(m)) => {
            eprintln!("switchboard: refused: {}: {m}", args.config.display());
            1
        }
        Err(Failure::Io(e)) => {
            eprintln!("switchboard: {e:#}");
            2
        }
    }
}

/// What the commands take from the configuration besides the store.
struct Context {
    /// What `list` prints for an empty store.
    hint: String,
    /// `[auth] realm`, which passwords are hashed for besides the user's domain.
    realm: Option<String>,
    /// The whole file (or the defaults), for checking rules against `[routing]`.
    config: Config,
}

async fn dispatch(
    store: &dyn Store,
    command: UserCommand,
    ctx: &Context,
    out: &mut dyn Write,
) -> CmdResult {
    let realm = ctx.realm.as_deref();
    let hint = ctx.hint.as_str();
    match command {
        UserCommand::Add(a) => add(store, a, ctx, out).await,
        UserCommand::Set(a) => set(store, a, ctx, out).await,
        UserCommand::Show(a) => show(store, &a.address, now_unix(), out).await,
        UserCommand::List(a) => list(store, a, hint, out).await,
        UserCommand::Remove(a) => remove(store, &a.address, out).await,
        UserCommand::Import(a) => super::import::run(store, a, realm, out).await,
    }
}

/// `--rule NAME=VALUE` and `--clear-rule NAME`, by setting name; a rule both set and
/// cleared is refused rather than guessed at.
fn rule_flags(
    set: &[String],
    clear: &[String],
) -> Result<BTreeMap<&'static str, Option<String>>, Failure> {
    let mut rules = BTreeMap::new();
    for s in set {
        let (name, value) = super::rules::parse_assignment(s)
            .map_err(|m| Failure::Refused(format!("--rule: {m}")))?;
        rules.insert(name, Some(value));
    }
    for c in clear {
        let name = super::rules::rule_name(c)
            .map_err(|m| Failure::Refused(format!("--clear-rule: {m}")))?;
        if rules.insert(name, None).is_some() {
            return Err(Failure::Refused(format!(
                "--clear-rule: {name} is also given with --rule"
            )));
        }
    }
    Ok(rules)
}

/// When the rules change, checks the user as it will be stored against `[routing]` and
/// everyone else in the store; the refusal names the flag and the rule.
async fn check_rules(
    store: &dyn Store,
    spec: &UserSpec,
    existing: Option<&User>,
    ctx: &Context,
) -> CmdResult {
    if !spec.touches_rules() {
        return Ok(());
    }
    let table = crate::directory::routing_table(&ctx.config, store).await?;
    let mut dir = crate::directory::load_directory(store, &table).await?.dir;
    let user = spec.merge(existing);
    super::rules::validate(&table, &mut dir, &user).map_err(|p| {
        let flag = match spec.rules.get(p.field) {
            Some(Some(_)) => "--rule ",
            _ => "stored rule ",
        };
        Failure::Refused(format!("{flag}{}: {}", p.field, p.reason))
    })
}

fn io(e: std::io::Error) -> Failure {
    Failure::Io(anyhow::Error::new(e).context("cannot write the output"))
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn read_secret(p: &PasswordArgs) -> Result<Option<Secret>, Failure> {
    let password = if p.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure::Io(anyhow::Error::new(e).context("cannot read stdin")))?;
        Some(line.trim_end_matches(['\n', '\r']).to_owned())
    } else {
        p.password.clone()
    };
    Ok(password
        .map(|p| spec::check_password("password", &p))
        .transpose()?
        .map(Secret::Password))
}

/// The `AddDomain` change for the address's domain if the store lacks it.
async fn domain_change(store: &dyn Store, address: &SipAddress) -> Result<Option<Change>, Failure> {
    let name = DomainName::parse(address.host()).map_err(|e| {
        Failure::Refused(format!(
            "address: the host of {address} cannot be served as a domain: {e}"
        ))
    })?;
    let known = store.list_domains().await?.iter().any(|d| d.name == name);
    Ok((!known).then_some(Change::AddDomain(Domain { name })))
}

async fn add(store: &dyn Store, a: AddArgs, ctx: &Context, out: &mut dyn Write) -> CmdResult {
    let realm = ctx.realm.as_deref();
    let address = spec::parse_address("address", &a.address)?;
    let mut spec = UserSpec::new(address.clone());
    spec.name = a
        .name
        .as_deref()
        .map(|n| spec::check_name("--name", n))
        .transpose()?;
    spec.line_uri = match (&a.number, &a.line_uri) {
        (Some(n), _) => Some(Some(spec::parse_number("--number", n)?)),
        (None, Some(l)) => Some(Some(spec::parse_line_uri("--line-uri", l)?)),
        (None, None) => None,
    };
    spec.enabled = Some(!a.disabled);
    spec.rules = rule_flags(&a.rules, &[])?;
    spec.secret = read_secret(&a.password)?;
    check_rules(store, &spec, None, ctx).await?;
    let mut changes: Vec<Change> = domain_change(store, &address).await?.into_iter().collect();
    let new_domain = !changes.is_empty();
    let mut user_changes = spec.changes(None, realm)?;
    // Add, not Put: adding an existing user is a mistake worth refusing.
    if let Some(Change::PutUser(u)) = user_changes.first().cloned() {
        user_changes[0] = Change::AddUser(u);
    }
    changes.extend(user_changes);
    store.apply_batch(changes).await?;
    write!(out, "added {address}").map_err(io)?;
    if new_domain {
        write!(out, " (and the new domain {})", address.host()).map_err(io)?;
    }
    writeln!(out).map_err(io)?;
    if spec.secret.is_none() {
        writeln!(
            out,
            "note: no password set, so {address} cannot register until `switchboard user set {address} --password-stdin`"
        )
        .map_err(io)?;
    }
    Ok(())
}

async fn set(store: &dyn Store, a: SetArgs, ctx: &Context, out: &mut dyn Write) -> CmdResult {
    let realm = ctx.realm.as_deref();
    let address = spec::parse_address("address", &a.address)?;
    let existing = store.get_user(&address).await?.ok_or_else(|| {
        Failure::Refused(format!(
            "address: user {address} not found (add it with `switchboard user add`)"
        ))
    })?;
    let mut spec = UserSpec::new(address.clone());
    spec.name = a
        .name
        .as_deref()
        .map(|n| spec::check_name("--name", n))
        .transpose()?;
    spec.line_uri = match (&a.number, &a.line_uri, a.no_line_uri) {
        (Some(n), _, _) => Some(Some(spec::parse_number("--number", n)?)),
        (None, Some(l), _) => Some(Some(spec::parse_line_uri("--line-uri", l)?)),
        (None, None, true) => Some(None),
        (None, None, false) => None,
    };
    spec.enabled = match (a.enable, a.disable) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    };
    spec.rules = rule_flags(&a.rules, &a.clear_rules)?;
    spec.secret = read_secret(&a.password)?;
    check_rules(store, &spec, Some(&existing), ctx).await?;
    let mut changes = spec.changes(Some(&existing), realm)?;
    if let Some(Change::PutUser(u)) = changes.first().cloned() {
        changes[0] = Change::UpdateUser(u);
    }
    for n in &a.add_number {
        let number = spec::parse_number("--add-number", n)?.number;
        changes.push(Change::AssignNumber(Number {
            number,
            user: address.clone(),
        }));
    }
    for n in &a.remove_number {
        let number = spec::parse_number("--remove-number", n)?.number;
        match store.lookup_number(&number).await? {
            Some(held) if held.user == address => changes.push(Change::UnassignNumber(number)),
            _ => {
                return Err(Failure::Refused(format!(
                    "--remove-number: {number} is not a number of {address}"
                )))
            }
        }
    }
    let outcomes = store.apply_batch(changes).await?;
    let changed = outcomes.iter().any(|o| *o != Outcome::Unchanged);
    writeln!(
        out,
        "{} {address}",
        if changed { "changed" } else { "unchanged" }
    )
    .map_err(io)?;
    Ok(())
}

async fn show(store: &dyn Store, address: &str, now: i64, out: &mut dyn Write) -> CmdResult {
    let address = spec::parse_address("address", address)?;
    let user = store
        .get_user(&address)
        .await?
        .ok_or_else(|| Failure::Refused(format!("address: user {address} not found")))?;
    let numbers = store.list_numbers(&address).await?;
    let credentials = store.list_credentials(&address).await?;
    let bindings = store.list_bindings(&address).await?;
    let mut text = String::new();
    let mut line = |k: &str, v: &str| text.push_str(&format!("{k:<10} {v}\n"));
    line("address:", user.address.as_str());
    line("name:", &user.display_name);
    line(
        "line uri:",
        &user.line_uri.as_ref().map_or("-".into(), |l| l.to_string()),
    );
    line("enabled:", if user.enabled { "yes" } else { "no" });
    let numbers: Vec<&str> = numbers.iter().map(|n| n.number.as_str()).collect();
    line(
        "numbers:",
        &if numbers.is_empty() {
            "-".into()
        } else {
            numbers.join(", ")
        },
    );
    let password = if credentials.is_empty() {
        "not set (cannot register)".to_owned()
    } else {
        let algs: Vec<String> = credentials
            .iter()
            .map(|c| format!("{} for realm {}", c.algorithm, c.realm))
            .collect();
        format!("set ({})", algs.join(", "))
    };
    line("password:", &password);
    let (rules, others): (Vec<_>, Vec<_>) = user
        .policies
        .iter()
        .partition(|(k, _)| super::rules::is_rule(k));
    if rules.is_empty() {
        line("rules:", "- (calls ring the user's devices)");
    }
    for (k, v) in rules {
        line("rule:", &format!("{k} = {v}"));
    }
    for (k, v) in others {
        line("policy:", &format!("{k} = {v}"));
    }
    text.push_str(&format!("registrations: {}\n", bindings.len()));
    if !bindings.is_empty() {
        text.push_str(&bindings_table(&bindings, now));
    }
    out.write_all(text.as_bytes()).map_err(io)
}

/// The bindings as a table: what a person checks when a phone does not ring.
fn bindings_table(bindings: &[Binding], now: i64) -> String {
    let mut rows = vec![[
        "CONTACT".to_owned(),
        "EXPIRES IN".to_owned(),
        "TRANSPORT".to_owned(),
        "SOURCE".to_owned(),
        "INSTANCE".to_owned(),
    ]];
    for b in bindings {
        let left = b.expires_at - now;
        rows.push([
            b.contact.clone(),
            if left > 0 {
                format!("{left}s")
            } else {
                "expired".into()
            },
            b.transport.clone(),
            b.source.clone(),
            b.instance_id.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    table(&rows)
}

fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut s = String::new();
    for r in rows {
        let mut line = String::from("  ");
        for (i, (w, c)) in widths.iter().zip(r).enumerate() {
            if i + 1 == N {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}  "));
            }
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

async fn list(store: &dyn Store, a: ListArgs, hint: &str, out: &mut dyn Write) -> CmdResult {
    let domain = a
        .domain
        .as_deref()
        .map(DomainName::parse)
        .transpose()
        .map_err(|e| Failure::Refused(format!("--domain: {e}")))?;
    let offset = match a.page {
        Some(p) => (p - 1).saturating_mul(u64::from(a.limit)),
        None => a.offset,
    };
    let total = store.count_users(domain.as_ref()).await?;
    // Keyset paging underneath: skip `offset` users a chunk at a time.
    let mut page = Page {
        domain,
        after: None,
        limit: 0,
    };
    let mut skip = offset;
    while skip > 0 {
        page.limit = skip.min(10_000) as u32;
        let skipped = store.list_users(&page).await?;
        if skipped.is_empty() {
            break;
        }
        skip -= skipped.len() as u64;
        page = page.next(&skipped);
    }
    page.limit = a.limit;
    let users: Vec<User> = if skip > 0 {
        Vec::new()
    } else {
        store.list_users(&page).await?
    };
    let mut rows = vec![[
        "ADDRESS".to_owned(),
        "NAME".to_owned(),
        "LINE URI".to_owned(),
        "ENABLED".to_owned(),
    ]];
    for u in &users {
        rows.push([
            u.address.to_string(),
            u.display_name.clone(),
            u.line_uri.as_ref().map_or("-".into(), |l| l.to_string()),
            if u.enabled { "yes" } else { "no" }.into(),
        ]);
    }
    if total == 0 {
        match &page.domain {
            Some(d) => writeln!(out, "no users in domain {d}"),
            None => writeln!(out, "{hint}"),
        }
        .map_err(io)?;
        return Ok(());
    }
    let mut text = table(&rows);
    let shown_to = offset + users.len() as u64;
    if users.is_empty() {
        text.push_str(&format!("no users at offset {offset} of {total}\n"));
    } else {
        text.push_str(&format!("users {}-{shown_to} of {total}", offset + 1));
        if shown_to < total {
            text.push_str(&format!(
                "; next page: --offset {shown_to} --limit {}",
                a.limit
            ));
        }
        text.push('\n');
    }
    out.write_all(text.as_bytes()).map_err(io)
}

async fn remove(store: &dyn Store, address: &str, out: &mut dyn Write) -> CmdResult {
    let address = spec::parse_address("address", address)?;
    store.remove_user(&address).await?;
    writeln!(out, "removed {address}").map_err(io)
}
