//! The site file: domains, users and numbers declared in the `[site]` part of the
//! configuration, applied to the store when `serve` starts (docs/config.md, `[site]`).
//!
//! Declarative and all or nothing: everything the file lists is created or brought up to
//! date in one store batch, or, if any entry is refused, nothing changes and every refused
//! entry is named (`site.users[3].number: "+1 425" is not E.164 ...`). Applying the same
//! file twice changes nothing the second time. Users the store holds but the file does
//! not list are kept and only reported: a file that lost a line must not delete a person.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use sb_routing::RoutingTable;
use sb_store::{
    Change, Domain, DomainName, Number, Outcome, Page, SipAddress, Store, StoreError, User,
};
use serde::Deserialize;

use super::presence_site::PresenceSpec;
use super::spec::{self, FieldError, Secret, UserSpec};

/// `[site]`: what the store must contain.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteConfig {
    /// Domains served here (`example.com`). Every user's domain must be listed here or
    /// already be in the store.
    pub domains: Vec<String>,
    /// `[[site.users]]` entries.
    pub users: Vec<SiteUser>,
    /// `[[site.numbers]]`: numbers given to users besides their line number.
    pub numbers: Vec<SiteNumber>,
    /// `[auth] realm`, copied here when the configuration is read: passwords are hashed
    /// for it too.
    #[serde(skip)]
    pub auth_realm: Option<String>,
}

impl SiteConfig {
    /// Whether the section says nothing (then `serve` leaves the store alone).
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty() && self.users.is_empty() && self.numbers.is_empty()
    }
}

/// `[[site.users]]`: one person. Fields left out keep their stored value (for a new user:
/// no name, no number, enabled, no password).
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteUser {
    /// `sip:alice@example.com`.
    pub address: String,
    /// Display name.
    pub name: Option<String>,
    /// Hashed on apply (MD5 and SHA-256 HA1 for the realm of the user's domain); the
    /// store never sees it.
    pub password: Option<String>,
    /// Pre-computed MD5 HA1, `MD5(user:domain:password)` in hex, instead of `password`.
    pub ha1_md5: Option<String>,
    /// Pre-computed SHA-256 HA1, instead of `password`.
    pub ha1_sha256: Option<String>,
    /// The user's own number, E.164 (`+14255550100`); same as `line_uri = "tel:NUMBER"`.
    pub number: Option<String>,
    /// The line URI, for an extension behind a shared number: `tel:+14255550100;ext=100`.
    pub line_uri: Option<String>,
    /// `false` keeps the user but refuses their registrations and calls.
    pub enabled: Option<bool>,
    /// Call handling rules by setting name (docs/routing.md), e.g. `{ forward_busy =
    /// "sip:carol@example.com", forward_unanswered_secs = 10 }`. Given, it is the user's
    /// whole rule set (rules not listed are cleared); left out, stored rules stay.
    pub rules: Option<BTreeMap<String, RuleValue>>,
    /// The user's contact list (presence): `["sip:bob@example.com", ...]`, in order.
    /// Given, it is the whole list; left out, the stored list stays.
    pub contacts: Option<Vec<String>>,
    /// Presence access levels by watcher: `{ "sip:boss@example.com" = "team",
    /// "example.com" = "colleagues", "everyone" = "public" }`. Given, it is the whole set.
    pub access: Option<BTreeMap<String, String>>,
    /// An iCalendar file path or http(s) URL for "in a meeting"; `""` clears it.
    pub calendar: Option<String>,
}

/// A rule's value in the site file: text, or a number or boolean written bare.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum RuleValue {
    Text(String),
    Integer(i64),
    Bool(bool),
}

impl RuleValue {
    /// The value as the store keeps it.
    pub fn to_setting(&self) -> String {
        match self {
            RuleValue::Text(s) => s.clone(),
            RuleValue::Integer(n) => n.to_string(),
            RuleValue::Bool(true) => "on".into(),
            RuleValue::Bool(false) => "off".into(),
        }
    }
}

impl fmt::Debug for SiteUser {
    /// Secrets are redacted: configurations get logged.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("SiteUser")
            .field("address", &self.address)
            .field("name", &self.name)
            .field("password", &hidden(&self.password))
            .field("ha1_md5", &hidden(&self.ha1_md5))
            .field("ha1_sha256", &hidden(&self.ha1_sha256))
            .field("number", &self.number)
            .field("line_uri", &self.line_uri)
            .field("enabled", &self.enabled)
            .field("rules", &self.rules)
            .field("contacts", &self.contacts)
            .field("access", &self.access)
            .field("calendar", &self.calendar)
            .finish()
    }
}

/// `[[site.numbers]]`: a number that reaches a user (reverse number lookup), besides
/// their line number.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteNumber {
    /// E.164.
    pub number: String,
    /// The SIP address of the user it reaches.
    pub user: String,
}

/// Why a site file was not applied. Nothing was changed in either case.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SiteError {
    /// Entries of the file are refused; one line each, naming entry and field.
    #[error("{}", .0.join("\n"))]
    Refused(Vec<String>),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// How many rows of one kind an apply added, changed or left as they were.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub added: usize,
    pub changed: usize,
    pub unchanged: usize,
}

impl Counts {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Added => self.added += 1,
            Outcome::Changed => self.changed += 1,
            Outcome::Unchanged | Outcome::Removed => self.unchanged += 1,
        }
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} added, {} changed, {} unchanged",
            self.added, self.changed, self.unchanged
        )
    }
}

/// What [`apply_site_routed`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub domains: Counts,
    pub users: Counts,
    /// Credential rows (two per password: MD5 and SHA-256).
    pub credentials: Counts,
    pub numbers: Counts,
    /// Presence settings (contact lists, access rule sets, calendars).
    pub presence: Counts,
    /// Users in the store that the file does not list; kept, not removed.
    pub not_in_file: Vec<SipAddress>,
}

impl Summary {
    /// Whether the apply changed anything.
    pub fn changed_anything(&self) -> bool {
        [
            self.domains,
            self.users,
            self.credentials,
            self.numbers,
            self.presence,
        ]
        .iter()
        .any(|c| c.added + c.changed > 0)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "site: domains {}; users {}; credentials {}; numbers {}",
            self.domains, self.users, self.credentials, self.numbers
        )?;
        if self.presence != Counts::default() {
            write!(f, "; presence {}", self.presence)?;
        }
        if !self.not_in_file.is_empty() {
            const SHOWN: usize = 5;
            let names: Vec<&str> = self
                .not_in_file
                .iter()
                .take(SHOWN)
                .map(SipAddress::as_str)
                .collect();
            let more = self.not_in_file.len().saturating_sub(SHOWN);
            write!(
                f,
                "; {} users in the store are not in the site file and were kept: {}{}",
                self.not_in_file.len(),
                names.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )?;
        }
        Ok(())
    }
}

/// What a change in the batch stands for, to count its outcome and name it on error.
#[derive(Clone, Copy)]
enum Kind {
    Domain,
    User,
    Credential,
    Number,
    Presence,
}

/// Applies the site file to the store in one batch: all of it or nothing. Users' rules
/// are checked by name and form, and with `table` also against the routing configuration
/// and the directory the file leaves behind (so a forward to a number the same file
/// assigns is accepted).
pub async fn apply_site_routed(
    store: &dyn Store,
    site: &SiteConfig,
    table: Option<&RoutingTable>,
) -> Result<Summary, SiteError> {
    if site.is_empty() {
        return Ok(Summary::default());
    }
    let mut refused = Vec::new();
    let mut refuse = |entry: String, e: FieldError| refused.push(format!("{entry}.{e}"));

    let stored_domains: Vec<DomainName> = store
        .list_domains()
        .await?
        .into_iter()
        .map(|d| d.name)
        .collect();
    let mut domains: BTreeMap<DomainName, usize> = BTreeMap::new();
    for (i, d) in site.domains.iter().enumerate() {
        match DomainName::parse(d) {
            Ok(name) => {
                domains.entry(name).or_insert(i);
            }
            Err(e) => refuse(
                format!("site.domains[{i}]"),
                FieldError::new("name", format!("{d:?}: {e}")),
            ),
        }
    }

    let mut specs: Vec<(String, UserSpec)> = Vec::new();
    let mut presence: Vec<(String, SipAddress, PresenceSpec)> = Vec::new();
    let mut seen_address: HashMap<SipAddress, usize> = HashMap::new();
    let mut seen_number: HashMap<sb_store::E164, String> = HashMap::new();
    for (i, u) in site.users.iter().enumerate() {
        let entry = format!("site.users[{i}]");
        match parse_user(u, &domains, &stored_domains, site.auth_realm.as_deref()) {
            Ok(spec) => {
                match super::presence_site::parse(&spec.address, u) {
                    Ok(p) if p.is_empty() => {}
                    Ok(p) => presence.push((entry.clone(), spec.address.clone(), p)),
                    Err(e) => {
                        refuse(entry, e);
                        continue;
                    }
                }
                if let Some(first) = seen_address.insert(spec.address.clone(), i) {
                    refuse(
                        entry,
                        FieldError::new(
                            "address",
                            format!("{} is already listed at site.users[{first}]", spec.address),
                        ),
                    );
                    continue;
                }
                let claimed = spec
                    .line_uri
                    .as_ref()
                    .and_then(|l| l.as_ref())
                    .filter(|l| l.extension.is_none());
                if let Some(line) = claimed {
                    if let Some(other) = seen_number.insert(line.number.clone(), entry.clone()) {
                        refuse(
                            entry.clone(),
                            FieldError::new(
                                "number",
                                format!("{} is already the number of {other}", line.number),
                            ),
                        );
                        continue;
                    }
                }
                specs.push((entry, spec));
            }
            Err(e) => refuse(entry, e),
        }
    }

    let mut numbers: Vec<(String, Number)> = Vec::new();
    for (i, n) in site.numbers.iter().enumerate() {
        let entry = format!("site.numbers[{i}]");
        let parsed = spec::parse_number("number", &n.number)
            .and_then(|l| Ok((l.number, spec::parse_address("user", &n.user)?)));
        match parsed {
            Ok((number, user)) => {
                if let Some(other) = seen_number.insert(number.clone(), entry.clone()) {
                    refuse(
                        entry,
                        FieldError::new(
                            "number",
                            format!("{number} is already the number of {other}"),
                        ),
                    );
                } else if !seen_address.contains_key(&user)
                    && store.get_user(&user).await?.is_none()
                {
                    refuse(
                        entry,
                        FieldError::new(
                            "user",
                            format!("{user} is neither in site.users nor in the store"),
                        ),
                    );
                } else {
                    numbers.push((entry, Number { number, user }));
                }
            }
            Err(e) => refuse(entry, e),
        }
    }
    if let (Some(table), true) = (table, refused.is_empty()) {
        refused.extend(check_site_rules(store, table, &specs, &numbers).await?);
    }
    if !refused.is_empty() {
        return Err(SiteError::Refused(refused));
    }

    let mut changes = Vec::new();
    let mut labels: Vec<(String, Kind)> = Vec::new();
    for (name, i) in &domains {
        if !stored_domains.contains(name) {
            changes.push(Change::AddDomain(Domain { name: name.clone() }));
            labels.push((format!("site.domains[{i}]"), Kind::Domain));
        }
    }
    let mut summary = Summary::default();
    summary.domains.unchanged = domains.len() - changes.len();
    for (entry, spec) in &specs {
        let existing = store.get_user(&spec.address).await?;
        let user_changes = spec
            .changes(existing.as_ref(), site.auth_realm.as_deref())
            .map_err(|e| SiteError::Refused(vec![format!("{entry}.{e}")]))?;
        for c in user_changes {
            let kind = match c {
                Change::SetCredential(_) => Kind::Credential,
                _ => Kind::User,
            };
            labels.push((entry.clone(), kind));
            changes.push(c);
        }
    }
    for (entry, n) in numbers {
        labels.push((entry, Kind::Number));
        changes.push(Change::AssignNumber(n));
    }
    // After users and numbers: presence rows refer to their owner.
    for (entry, owner, p) in &presence {
        for c in p.changes(owner) {
            labels.push((entry.clone(), Kind::Presence));
            changes.push(c);
        }
    }

    let outcomes = match store.apply_batch(changes).await {
        Ok(o) => o,
        Err(StoreError::Batch { index, source }) if source.is_caller_fault() => {
            let entry = labels.get(index).map_or("site", |(e, _)| e.as_str());
            return Err(SiteError::Refused(vec![format!("{entry}: {source}")]));
        }
        Err(e) => return Err(e.into()),
    };
    for ((_, kind), outcome) in labels.iter().zip(outcomes) {
        match kind {
            Kind::Domain => summary.domains.count(outcome),
            Kind::User => summary.users.count(outcome),
            Kind::Credential => summary.credentials.count(outcome),
            Kind::Number => summary.numbers.count(outcome),
            Kind::Presence => summary.presence.count(outcome),
        }
    }
    summary.not_in_file = users_not_listed(store, &seen_address).await?;
    Ok(summary)
}

fn parse_user(
    u: &SiteUser,
    domains: &BTreeMap<DomainName, usize>,
    stored: &[DomainName],
    fixed_realm: Option<&str>,
) -> Result<UserSpec, FieldError> {
    let address = spec::parse_address("address", &u.address)?;
    let domain_known = DomainName::parse(address.host())
        .is_ok_and(|d| domains.contains_key(&d) || stored.contains(&d));
    if !domain_known {
        return Err(FieldError::new(
            "address",
            format!(
                "domain {} of {address} is neither in site.domains nor in the store",
                address.host()
            ),
        ));
    }
    let mut spec = UserSpec::new(address);
    spec.name = u
        .name
        .as_deref()
        .map(|n| spec::check_name("name", n))
        .transpose()?;
    spec.line_uri = match (&u.number, &u.line_uri) {
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
    spec.enabled = u.enabled;
    if let Some(rules) = &u.rules {
        spec.replace_rules = true;
        for (name, value) in rules {
            let name = super::rules::rule_name(name).map_err(|m| FieldError::new("rules", m))?;
            let value = value.to_setting();
            if value.trim().is_empty() {
                return Err(FieldError::new(
                    "rules",
                    format!("{name} is empty (leave it out to clear it)"),
                ));
            }
            spec.rules.insert(name, Some(value));
        }
    }
    spec.secret = match (&u.password, &u.ha1_md5, &u.ha1_sha256) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(FieldError::new(
                "password",
                "give password or ha1_*, not both",
            ))
        }
        (Some(p), None, None) => Some(Secret::Password(spec::check_password("password", p)?)),
        (None, None, None) => None,
        (None, md5, sha256) => Some(Secret::Ha1 {
            md5: md5.clone(),
            sha256: sha256.clone(),
        }),
    };
    if let Some(secret @ Secret::Ha1 { .. }) = &spec.secret {
        // Checked now so every bad entry is reported, not only the first.
        spec::credentials(&spec.address, secret, fixed_realm)?;
    }
    Ok(spec)
}

/// Checks the rules of every user the file gives rules, against the directory as it will
/// be once the file is applied; one refusal line per user at fault.
async fn check_site_rules(
    store: &dyn Store,
    table: &RoutingTable,
    specs: &[(String, UserSpec)],
    numbers: &[(String, Number)],
) -> Result<Vec<String>, SiteError> {
    if !specs.iter().any(|(_, s)| s.touches_rules()) {
        return Ok(Vec::new());
    }
    let mut dir = crate::directory::load_directory(store, table)
        .await
        .map_err(|e| match e.downcast::<StoreError>() {
            Ok(s) => SiteError::Store(s),
            Err(other) => SiteError::Refused(vec![format!("site: {other:#}")]),
        })?
        .dir;
    let mut merged = Vec::new();
    for (entry, spec) in specs {
        let existing = store.get_user(&spec.address).await?;
        let user = spec.merge(existing.as_ref());
        let routed = crate::directory::user_entry(table, &user)
            .unwrap_or_else(|_| crate::directory::base_entry(&user));
        let main = user
            .line_uri
            .as_ref()
            .filter(|l| l.extension.is_some())
            .and_then(|l| sb_routing::E164::parse(l.number.as_str()));
        dir.add_user(routed, main.as_ref());
        merged.push((entry, spec, user));
    }
    for (_, n) in numbers {
        if let Some(number) = sb_routing::E164::parse(n.number.as_str()) {
            let owner = crate::directory::user_id(&n.user);
            dir.numbers
                .insert(number, sb_routing::NumberOwner::User(owner));
        }
    }
    let mut refused = Vec::new();
    for (entry, spec, user) in merged {
        if !spec.touches_rules() {
            continue;
        }
        if let Err(p) = super::rules::validate(table, &mut dir, &user) {
            refused.push(format!("{entry}.rules.{}: {}", p.field, p.reason));
        }
    }
    Ok(refused)
}

/// Users the store holds that the file does not list, in address order.
async fn users_not_listed(
    store: &dyn Store,
    listed: &HashMap<SipAddress, usize>,
) -> Result<Vec<SipAddress>, StoreError> {
    let mut out = Vec::new();
    let mut page = Page::first(1000);
    loop {
        let users: Vec<User> = store.list_users(&page).await?;
        if users.is_empty() {
            return Ok(out);
        }
        out.extend(
            users
                .iter()
                .filter(|u| !listed.contains_key(&u.address))
                .map(|u| u.address.clone()),
        );
        page = page.next(&users);
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn the_site_section_parses_and_hides_passwords_from_debug_output() {
        let c = Config::parse(
            "[site]\ndomains = [\"example.com\"]\n[[site.users]]\n\
             address = \"sip:alice@example.com\"\npassword = \"hunter2\"\n\
             [[site.numbers]]\nnumber = \"+14255550199\"\nuser = \"sip:alice@example.com\"\n",
        )
        .unwrap();
        assert_eq!(c.site.users[0].password.as_deref(), Some("hunter2"));
        assert_eq!(c.site.numbers[0].number, "+14255550199");
        let debug = format!("{c:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn unknown_site_and_store_keys_are_refused_by_name() {
        let e = format!(
            "{:#}",
            Config::parse("[[site.users]]\naddress = \"sip:a@b.c\"\npasword = \"x\"\n")
                .unwrap_err()
        );
        assert!(e.contains("pasword"), "{e}");
        let e = format!(
            "{:#}",
            Config::parse("[store]\nbackend = \"mysql\"\n").unwrap_err()
        );
        assert!(e.contains("mysql"), "{e}");
        let e = format!(
            "{:#}",
            Config::parse("[store]\nbackend = \"postgres\"\n").unwrap_err()
        );
        assert!(e.contains("store.url"), "{e}");
    }
}
