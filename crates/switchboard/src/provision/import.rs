//! `switchboard user import FILE.csv`: create or update many users at once.
//!
//! The file has a header row naming its columns, in any order: `address` (required),
//! `name`, `password`, `number`, `line_uri`, `enabled`. An empty cell leaves that field as
//! it is (a new user gets no name, no number, enabled, no password).
//!
//! All or nothing: every row is checked first (syntax, duplicates within the file, numbers
//! held by other users), then the accepted rows are written in one store batch. If any row
//! is refused, nothing is written and each refusal is printed with its line number, unless
//! `--skip-invalid` asks to write the accepted rows anyway. Passwords are hashed in one
//! pass before the batch, so ten thousand rows take seconds.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use sb_store::{
    Change, Domain, DomainName, Outcome, Page, SipAddress, Store, StoreError, User, E164,
};

use super::spec::{self, FieldError, Secret, UserSpec};
use super::user_cmd::{CmdResult, Failure};

/// The columns a file may have.
pub const COLUMNS: [&str; 6] = [
    "address", "name", "password", "number", "line_uri", "enabled",
];

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// CSV file with a header row: `address,name,password,number,line_uri` (and optionally
    /// `enabled`).
    pub file: PathBuf,
    /// Write the accepted rows even if some are refused (the refused ones are listed).
    #[arg(long)]
    pub skip_invalid: bool,
    /// Check the file against the store and report, writing nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// One accepted row: where it was and what it asks for.
struct Row {
    line: u64,
    spec: UserSpec,
}

/// What one import did, row by row.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub rows: usize,
    pub added: usize,
    pub changed: usize,
    pub unchanged: usize,
    /// (line, reason), in line order.
    pub refused: Vec<(u64, String)>,
    pub domains_added: Vec<DomainName>,
    pub applied: bool,
}

pub async fn run(
    store: &dyn Store,
    args: ImportArgs,
    fixed_realm: Option<&str>,
    out: &mut dyn Write,
) -> CmdResult {
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let progress = Progress::new(std::io::stderr().is_terminal());
    let report = import(store, file, &args, fixed_realm, &progress).await?;
    progress.finish();
    let name = args.file.display();
    let mut err = std::io::stderr().lock();
    for (line, reason) in &report.refused {
        // Diagnostics go to stderr; the summary below goes to stdout.
        let _ = writeln!(err, "{name}:{line}: refused: {reason}");
    }
    let io = |e: std::io::Error| Failure::Io(e.into());
    if !report.applied && !report.refused.is_empty() {
        writeln!(
            out,
            "{name}: {} rows, {} refused: nothing was written{}",
            report.rows,
            report.refused.len(),
            if args.skip_invalid {
                ""
            } else {
                " (fix them, or use --skip-invalid to write the other rows)"
            }
        )
        .map_err(io)?;
        return Err(Failure::Refused(format!(
            "{} of {} rows in {name}",
            report.refused.len(),
            report.rows
        )));
    }
    writeln!(
        out,
        "{name}: {} rows: {} added, {} changed, {} unchanged, {} refused{}",
        report.rows,
        report.added,
        report.changed,
        report.unchanged,
        report.refused.len(),
        if report.applied {
            ""
        } else {
            " (dry run: nothing written)"
        }
    )
    .map_err(io)?;
    if !report.domains_added.is_empty() {
        let names: Vec<&str> = report
            .domains_added
            .iter()
            .map(DomainName::as_str)
            .collect();
        writeln!(out, "new domains: {}", names.join(", ")).map_err(io)?;
    }
    Ok(())
}

/// Reads, checks and (unless refused or a dry run) writes the users of a CSV file.
pub async fn import(
    store: &dyn Store,
    input: impl std::io::Read,
    args: &ImportArgs,
    fixed_realm: Option<&str>,
    progress: &Progress,
) -> Result<Report, Failure> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(input);
    let header = reader
        .headers()
        .map_err(|e| Failure::Refused(format!("line 1: header: {e}")))?
        .clone();
    let mut col: HashMap<&str, usize> = HashMap::new();
    for (i, h) in header.iter().enumerate() {
        // Spreadsheets often save UTF-8 with a byte-order mark before the first column.
        let h = h.trim_start_matches('\u{feff}');
        let Some(known) = COLUMNS.iter().find(|c| c.eq_ignore_ascii_case(h)) else {
            return Err(Failure::Refused(format!(
                "line 1: header: unknown column {h:?}; the columns are {}",
                COLUMNS.join(",")
            )));
        };
        if col.insert(known, i).is_some() {
            return Err(Failure::Refused(format!(
                "line 1: header: column {h:?} twice"
            )));
        }
    }
    if !col.contains_key("address") {
        return Err(Failure::Refused(format!(
            "line 1: header: no address column; the columns are {}",
            COLUMNS.join(",")
        )));
    }

    let mut report = Report::default();
    let mut records = Vec::new();
    for r in reader.records() {
        match r {
            Ok(rec) => records.push(rec),
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                match e.kind() {
                    csv::ErrorKind::Io(_) => {
                        return Err(Failure::Io(
                            anyhow::Error::new(e).context("cannot read the file"),
                        ))
                    }
                    _ => report.refused.push((line, format!("not valid CSV: {e}"))),
                }
            }
        }
    }
    report.rows = records.len() + report.refused.len();
    progress.start(records.len() as u64, "checking");

    let existing = all_users(store).await?;
    let mut domains: Vec<DomainName> = store
        .list_domains()
        .await?
        .into_iter()
        .map(|d| d.name)
        .collect();
    // Who holds each number and each line URI with an extension as the batch would see it
    // at this row: the store's state, updated by every accepted row before it.
    let mut number_holder: HashMap<E164, (SipAddress, Option<u64>)> = HashMap::new();
    let mut line_holder: HashMap<String, (SipAddress, Option<u64>)> = HashMap::new();
    for u in existing.values() {
        hold(&mut number_holder, &mut line_holder, u, None);
    }
    let mut seen: HashMap<SipAddress, u64> = HashMap::new();
    let mut rows: Vec<Row> = Vec::new();
    for rec in &records {
        progress.inc();
        let line = rec.position().map_or(0, |p| p.line());
        let spec = match parse_row(rec, &col) {
            Ok(s) => s,
            Err(e) => {
                report.refused.push((line, e.to_string()));
                continue;
            }
        };
        if let Some(first) = seen.get(&spec.address) {
            report.refused.push((
                line,
                format!("address: {} is already on line {first}", spec.address),
            ));
            continue;
        }
        let domain = match DomainName::parse(spec.address.host()) {
            Ok(d) => d,
            Err(e) => {
                report.refused.push((line, format!("address: {e}")));
                continue;
            }
        };
        let old = existing.get(&spec.address);
        let new = spec.merge(old);
        if let Err(reason) = check_holders(&number_holder, &line_holder, &new) {
            report.refused.push((line, reason));
            continue;
        }
        if let Some(old) = old {
            release(&mut number_holder, &mut line_holder, old);
        }
        hold(&mut number_holder, &mut line_holder, &new, Some(line));
        if !domains.contains(&domain) {
            domains.push(domain.clone());
            report.domains_added.push(domain);
        }
        seen.insert(spec.address.clone(), line);
        rows.push(Row { line, spec });
    }
    report.refused.sort_by_key(|(line, _)| *line);
    if !report.refused.is_empty() && !args.skip_invalid {
        return Ok(report);
    }

    // Hash every password now, in one tight loop, so the batch holds only HA1 values.
    progress.start(rows.len() as u64, "hashing");
    let mut planned: Vec<(u64, Vec<Change>)> = Vec::with_capacity(rows.len());
    for row in &rows {
        progress.inc();
        let changes = row
            .spec
            .changes(existing.get(&row.spec.address), fixed_realm)
            .map_err(Failure::from)?;
        planned.push((row.line, changes));
    }
    if args.dry_run {
        for row in &rows {
            match existing.get(&row.spec.address) {
                None => report.added += 1,
                Some(old) if row.spec.secret.is_some() || row.spec.merge(Some(old)) != *old => {
                    report.changed += 1
                }
                Some(_) => report.unchanged += 1,
            }
        }
        return Ok(report);
    }

    progress.message(&format!(
        "writing {} users in one transaction",
        planned.len()
    ));
    // A row the checks above could not foresee (a number given to someone by
    // `user set --add-number`) fails the batch; with --skip-invalid it is dropped and the
    // batch retried, otherwise nothing is written.
    loop {
        let mut changes: Vec<Change> = report
            .domains_added
            .iter()
            .map(|name| Change::AddDomain(Domain { name: name.clone() }))
            .collect();
        let first_row_change = changes.len();
        let mut owner: Vec<usize> = Vec::new();
        for (i, (_, c)) in planned.iter().enumerate() {
            owner.extend(std::iter::repeat_n(i, c.len()));
            changes.extend(c.iter().cloned());
        }
        match store.apply_batch(changes).await {
            Ok(outcomes) => {
                let outcomes = &outcomes[first_row_change..];
                let mut per_row = vec![Outcome::Unchanged; planned.len()];
                for (i, (o, &row)) in outcomes.iter().zip(&owner).enumerate() {
                    let is_user_row = i == 0 || owner[i - 1] != row;
                    per_row[row] = match (is_user_row, *o, per_row[row]) {
                        (true, Outcome::Added, _) => Outcome::Added,
                        (_, _, Outcome::Added) => Outcome::Added,
                        (_, Outcome::Added | Outcome::Changed, _) => Outcome::Changed,
                        (_, _, prev) => prev,
                    };
                }
                for o in per_row {
                    match o {
                        Outcome::Added => report.added += 1,
                        Outcome::Changed => report.changed += 1,
                        _ => report.unchanged += 1,
                    }
                }
                report.applied = true;
                return Ok(report);
            }
            Err(StoreError::Batch { index, source })
                if source.is_caller_fault() && index >= first_row_change =>
            {
                let row = owner[index - first_row_change];
                report.refused.push((planned[row].0, source.to_string()));
                report.refused.sort_by_key(|(line, _)| *line);
                if !args.skip_invalid {
                    return Ok(report);
                }
                planned.remove(row);
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn parse_row(rec: &csv::StringRecord, col: &HashMap<&str, usize>) -> Result<UserSpec, FieldError> {
    let cell = |name: &str| {
        col.get(name)
            .and_then(|&i| rec.get(i))
            .filter(|s| !s.is_empty())
    };
    let address = spec::parse_address(
        "address",
        cell("address").ok_or_else(|| FieldError::new("address", "empty"))?,
    )?;
    let mut spec = UserSpec::new(address);
    spec.name = cell("name")
        .map(|n| spec::check_name("name", n))
        .transpose()?;
    spec.line_uri = match (cell("number"), cell("line_uri")) {
        (Some(_), Some(_)) => {
            return Err(FieldError::new(
                "number",
                "give number or line_uri, not both",
            ))
        }
        (Some(n), None) => Some(Some(spec::parse_number("number", n)?)),
        (None, Some(l)) => Some(Some(spec::parse_line_uri("line_uri", l)?)),
        (None, None) => None,
    };
    spec.secret = cell("password")
        .map(|p| spec::check_password("password", p))
        .transpose()?
        .map(Secret::Password);
    spec.enabled = match cell("enabled").map(str::to_ascii_lowercase).as_deref() {
        None => None,
        Some("true" | "yes" | "1") => Some(true),
        Some("false" | "no" | "0") => Some(false),
        Some(other) => {
            return Err(FieldError::new(
                "enabled",
                format!("{other:?} is not true/false, yes/no or 1/0"),
            ))
        }
    };
    Ok(spec)
}

type Holders<K> = HashMap<K, (SipAddress, Option<u64>)>;

fn hold(numbers: &mut Holders<E164>, lines: &mut Holders<String>, u: &User, line: Option<u64>) {
    if let Some(n) = spec::claimed_number(u) {
        numbers.insert(n.clone(), (u.address.clone(), line));
    }
    if let Some(l) = u.line_uri.as_ref().filter(|l| l.extension.is_some()) {
        lines.insert(l.to_string(), (u.address.clone(), line));
    }
}

fn release(numbers: &mut Holders<E164>, lines: &mut Holders<String>, u: &User) {
    if let Some(n) = spec::claimed_number(u) {
        numbers.remove(n);
    }
    if let Some(l) = &u.line_uri {
        lines.remove(&l.to_string());
    }
}

fn check_holders(numbers: &Holders<E164>, lines: &Holders<String>, u: &User) -> Result<(), String> {
    let whose = |(holder, line): &(SipAddress, Option<u64>)| match line {
        Some(l) => format!("{holder} on line {l}"),
        None => holder.to_string(),
    };
    if let Some(n) = spec::claimed_number(u) {
        if let Some(h) = numbers.get(n).filter(|(a, _)| *a != u.address) {
            return Err(format!("number: {n} is already taken by {}", whose(h)));
        }
    }
    if let Some(l) = u.line_uri.as_ref().filter(|l| l.extension.is_some()) {
        if let Some(h) = lines.get(&l.to_string()).filter(|(a, _)| *a != u.address) {
            return Err(format!("line_uri: {l} is already taken by {}", whose(h)));
        }
    }
    Ok(())
}

async fn all_users(store: &dyn Store) -> Result<HashMap<SipAddress, User>, StoreError> {
    let mut out = HashMap::new();
    let mut page = Page::first(5000);
    loop {
        let users = store.list_users(&page).await?;
        if users.is_empty() {
            return Ok(out);
        }
        page = page.next(&users);
        out.extend(users.into_iter().map(|u| (u.address.clone(), u)));
    }
}

/// A progress bar on a terminal, a few plain lines otherwise (logs, CI).
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    plain: std::cell::Cell<(u64, u64)>,
    phase: std::cell::RefCell<String>,
}

impl Progress {
    pub fn new(terminal: bool) -> Self {
        Progress {
            bar: terminal.then(indicatif::ProgressBar::hidden),
            plain: std::cell::Cell::new((0, 0)),
            phase: std::cell::RefCell::new(String::new()),
        }
    }

    /// Starts a phase of `total` steps.
    pub fn start(&self, total: u64, phase: &str) {
        self.plain.set((0, total));
        *self.phase.borrow_mut() = phase.to_owned();
        if let Some(bar) = &self.bar {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg:>9} [{bar:40}] {pos}/{len} rows ({eta})",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar.set_message(phase.to_owned());
            bar.set_length(total);
            bar.set_position(0);
        } else if total > 0 {
            eprintln!("import: {phase} {total} rows");
        }
    }

    pub fn inc(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            return;
        }
        let (done, total) = self.plain.get();
        let done = done + 1;
        self.plain.set((done, total));
        // A few lines per phase, for logs: enough to see it move, not to flood.
        let step = (total / 4).max(2500);
        if done % step == 0 && done < total {
            eprintln!("import: {} {done}/{total} rows", self.phase.borrow());
        }
    }

    pub fn message(&self, m: &str) {
        match &self.bar {
            Some(bar) => {
                bar.set_style(
                    indicatif::ProgressStyle::with_template("{spinner} {msg}")
                        .expect("a valid template"),
                );
                bar.set_message(m.to_owned());
                bar.enable_steady_tick(std::time::Duration::from_millis(100));
            }
            None => eprintln!("import: {m}"),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
