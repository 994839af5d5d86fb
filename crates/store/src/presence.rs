//! Presence rows (issue 6): what a user set by hand, who may see what (access rules), the
//! contact list, the calendar source, and the live state a pool of front ends shares
//! (publications, subscriptions, in-call flags).
//!
//! These are plain rows. The store does not aggregate presence or apply access levels: it
//! keeps the vocabulary as text (checked against the fixed lists below, so a typo is
//! refused when written rather than ignored when read) and leaves the meaning to the
//! presence core, which sits above it.
//!
//! Two kinds of write, two rules for [`Store::generation`](crate::Store::generation):
//! provisioning (manual state, access rules, contact lists, calendar) goes through
//! [`Change`](crate::Change) and bumps it, so a running server reloads; live state
//! (publications, subscriptions, in-call flags) comes from the server itself at protocol
//! rate and does not.

use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::model::{DomainName, SipAddress};
use crate::validate;

/// The states a user can set by hand, as stored (`switchboard presence set --state`).
pub const AVAILABILITIES: &[&str] = &["available", "busy", "dnd", "brb", "away", "off-work"];

/// Access levels, from least to most trusted (RFC 4480-style "sphere" of the watcher).
pub const ACCESS_LEVELS: &[&str] = &["blocked", "public", "colleagues", "team", "personal"];

/// A manual note's limit, in characters.
pub const NOTE_MAX: usize = 1024;
/// A calendar path or URL's limit, in bytes.
pub const CALENDAR_MAX: usize = 2048;
/// How many members one contact list may hold.
pub const CONTACT_LIST_MAX: usize = 1000;
/// A stored PIDF document or serialized dialog's limit, in bytes.
pub const BODY_MAX: usize = 256 * 1024;

/// The suffix of a contact list's URI: the list of `sip:alice@example.com` is
/// `sip:alice-contacts@example.com` (one SUBSCRIBE to it, RFC 4662, watches every member).
pub const CONTACT_LIST_SUFFIX: &str = "-contacts";

/// The URI of `owner`'s contact list.
pub fn contact_list_uri(owner: &SipAddress) -> SipAddress {
    SipAddress::parse(&format!(
        "sip:{}{CONTACT_LIST_SUFFIX}@{}",
        owner.user(),
        owner.host()
    ))
    .expect("a valid user part with a token suffix stays valid")
}

/// Whose contact list `uri` names, if it has the list form. The caller still checks that
/// the owner exists (and that no real user has the list's name, which would shadow it).
pub fn contact_list_owner(uri: &SipAddress) -> Option<SipAddress> {
    let user = uri.user().strip_suffix(CONTACT_LIST_SUFFIX)?;
    if user.is_empty() {
        return None;
    }
    SipAddress::parse(&format!("sip:{user}@{}", uri.host())).ok()
}

/// What a user set by hand: one of [`AVAILABILITIES`], a note, and when it lapses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualPresence {
    pub user: SipAddress,
    /// One of [`AVAILABILITIES`].
    pub availability: String,
    pub note: Option<String>,
    /// Unix seconds after which the state no longer applies; `None`: until cleared.
    pub until: Option<i64>,
    /// Unix seconds, when it was set.
    pub updated_at: i64,
}

impl ManualPresence {
    /// Checks the availability name, the note and the times.
    pub fn validate(&self) -> Result<()> {
        if !AVAILABILITIES.contains(&self.availability.as_str()) {
            return Err(StoreError::invalid(
                "availability",
                format!(
                    "{:?} is not one of {}",
                    self.availability,
                    AVAILABILITIES.join(", ")
                ),
            ));
        }
        if let Some(note) = &self.note {
            validate::text(note, NOTE_MAX).map_err(|r| StoreError::invalid("note", r))?;
        }
        if self.until.is_some_and(|u| u < 0) || self.updated_at < 0 {
            return Err(StoreError::invalid("until", "a time before 1970"));
        }
        Ok(())
    }
}

/// Whom an access rule is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Watcher {
    /// One person, `sip:boss@example.com`.
    User(SipAddress),
    /// Everyone at a domain, `example.com`.
    Domain(DomainName),
    /// Anyone.
    Everyone,
}

impl Watcher {
    /// `sip:x@y` (or `sips:`) is a person, `everyone` (or `*`) is anyone, anything else
    /// must be a domain name.
    pub fn parse(s: &str) -> Result<Watcher> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("everyone") || s == "*" {
            return Ok(Watcher::Everyone);
        }
        if s.contains(':') {
            return SipAddress::parse(s).map(Watcher::User);
        }
        DomainName::parse(s).map(Watcher::Domain)
    }

    /// The `watcher_kind` column: `user`, `domain` or `everyone`.
    pub fn kind(&self) -> &'static str {
        match self {
            Watcher::User(_) => "user",
            Watcher::Domain(_) => "domain",
            Watcher::Everyone => "everyone",
        }
    }

    /// The `watcher` column: the address, the domain, or empty for everyone.
    pub fn value(&self) -> &str {
        match self {
            Watcher::User(a) => a.as_str(),
            Watcher::Domain(d) => d.as_str(),
            Watcher::Everyone => "",
        }
    }

    /// Back from the two columns.
    pub fn from_columns(kind: &str, value: &str) -> Result<Watcher> {
        match kind {
            "user" => SipAddress::parse(value).map(Watcher::User),
            "domain" => DomainName::parse(value).map(Watcher::Domain),
            "everyone" => Ok(Watcher::Everyone),
            other => Err(StoreError::invalid(
                "watcher kind",
                format!("{other:?} is not user, domain or everyone"),
            )),
        }
    }
}

impl std::fmt::Display for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Watcher::Everyone => f.write_str("everyone"),
            other => f.write_str(other.value()),
        }
    }
}

/// `owner` places `watcher` at `level` (one of [`ACCESS_LEVELS`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRule {
    pub owner: SipAddress,
    pub watcher: Watcher,
    pub level: String,
}

impl AccessRule {
    /// Checks the level name.
    pub fn validate(&self) -> Result<()> {
        check_level(&self.level)
    }
}

/// Checks an access level name against [`ACCESS_LEVELS`].
pub fn check_level(level: &str) -> Result<()> {
    if ACCESS_LEVELS.contains(&level) {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "level",
            format!("{level:?} is not one of {}", ACCESS_LEVELS.join(", ")),
        ))
    }
}

/// Checks a calendar source: an `http://` or `https://` URL, or a file path.
pub fn check_calendar(source: &str) -> Result<()> {
    let bad = |r: String| StoreError::invalid("calendar", format!("{source:?}: {r}"));
    if source.trim().is_empty() {
        return Err(bad("empty".into()));
    }
    if source.len() > CALENDAR_MAX {
        return Err(bad(format!("longer than {CALENDAR_MAX} bytes")));
    }
    if source.chars().any(char::is_control) {
        return Err(bad("contains a control character".into()));
    }
    if let Some((scheme, rest)) = source.split_once("://") {
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(bad(format!("scheme {scheme:?} is not http or https")));
        }
        if rest.is_empty() || rest.starts_with('/') {
            return Err(bad("the URL names no host".into()));
        }
    }
    Ok(())
}

/// Checks a contact list: valid addresses (the type sees to that), no duplicates, not the
/// owner, and not longer than [`CONTACT_LIST_MAX`].
pub fn check_contact_list(owner: &SipAddress, members: &[SipAddress]) -> Result<()> {
    if members.len() > CONTACT_LIST_MAX {
        return Err(StoreError::invalid(
            "contacts",
            format!(
                "{} members; at most {CONTACT_LIST_MAX} allowed",
                members.len()
            ),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for m in members {
        if m == owner {
            return Err(StoreError::invalid(
                "contacts",
                format!("{m} cannot be on their own list"),
            ));
        }
        if !seen.insert(m) {
            return Err(StoreError::invalid(
                "contacts",
                format!("{m} is listed twice"),
            ));
        }
    }
    Ok(())
}

/// A published presence document (RFC 3903 event state), one per entity tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    /// The presentity (`sip:bob@example.com`).
    pub entity: SipAddress,
    /// The entity tag we issued (SIP-ETag).
    pub etag: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// The document as published (PIDF XML).
    pub body: String,
    /// Unix seconds, when it was last published (the newest note wins).
    pub updated_at: i64,
}

impl Publication {
    /// Checks the tag and the body's size.
    pub fn validate(&self) -> Result<()> {
        validate::token(&self.etag, 128).map_err(|r| StoreError::invalid("etag", r))?;
        if self.body.len() > BODY_MAX {
            return Err(StoreError::invalid(
                "body",
                format!("longer than {BODY_MAX} bytes"),
            ));
        }
        Ok(())
    }
}

/// A subscription (RFC 6665) the server holds, so it survives a restart and another
/// front end can take it over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The server's own id for it (opaque to the store).
    pub id: String,
    /// Who is watched: a user or a contact list URI.
    pub entity: SipAddress,
    /// Who watches (the subscriber's address).
    pub watcher: String,
    /// The event package: `presence`, `dialog`, ...
    pub event: String,
    /// The dialog state, serialized by the server (route set, tags, CSeq, ...).
    pub dialog: String,
    /// Unix seconds.
    pub expires_at: i64,
}

impl Subscription {
    /// Checks ids and sizes.
    pub fn validate(&self) -> Result<()> {
        validate::token(&self.id, 256).map_err(|r| StoreError::invalid("subscription id", r))?;
        validate::token(&self.watcher, 512).map_err(|r| StoreError::invalid("watcher", r))?;
        validate::token(&self.event, 64).map_err(|r| StoreError::invalid("event", r))?;
        if self.dialog.len() > BODY_MAX {
            return Err(StoreError::invalid(
                "dialog",
                format!("longer than {BODY_MAX} bytes"),
            ));
        }
        Ok(())
    }
}

/// Whether a user is in a call, as the proxy and mediation see their dialogs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InCallFlag {
    pub address: SipAddress,
    pub in_call: bool,
    /// Unix seconds.
    pub updated_at: i64,
}

/// Everything the store holds about one user's presence, for `presence show` and for the
/// server to aggregate (registrar bindings are read separately).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PresenceRow {
    pub manual: Option<ManualPresence>,
    /// Access rules, in (kind, watcher) order.
    pub access: Vec<AccessRule>,
    /// A file path or an http(s) URL.
    pub calendar: Option<String>,
    pub in_call: Option<InCallFlag>,
    /// Live publications, oldest first.
    pub publications: Vec<Publication>,
}

/// One user's calendar source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarSource {
    pub owner: SipAddress,
    /// A file path or an http(s) URL.
    pub source: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SipAddress {
        SipAddress::parse(s).unwrap()
    }

    #[test]
    fn list_uri_round_trips_to_its_owner() {
        let alice = a("sip:alice@example.com");
        let list = contact_list_uri(&alice);
        assert_eq!(list.as_str(), "sip:alice-contacts@example.com");
        assert_eq!(contact_list_owner(&list), Some(alice));
        assert_eq!(contact_list_owner(&a("sip:bob@example.com")), None);
        assert_eq!(contact_list_owner(&a("sip:-contacts@example.com")), None);
    }

    #[test]
    fn watchers_parse_by_form() {
        assert_eq!(
            Watcher::parse("sip:boss@Example.com").unwrap(),
            Watcher::User(a("sip:boss@example.com"))
        );
        assert_eq!(
            Watcher::parse("Example.com").unwrap().to_string(),
            "example.com"
        );
        assert_eq!(Watcher::parse("everyone").unwrap(), Watcher::Everyone);
        assert!(Watcher::parse("mailto:x@y").is_err());
        assert!(Watcher::parse("not a domain").is_err());
        for w in ["sip:x@y.z", "y.z", "everyone"] {
            let w = Watcher::parse(w).unwrap();
            assert_eq!(Watcher::from_columns(w.kind(), w.value()).unwrap(), w);
        }
    }

    #[test]
    fn calendar_sources_are_paths_or_web_urls() {
        assert!(check_calendar("/srv/cal/alice.ics").is_ok());
        assert!(check_calendar("https://cal.example.com/alice.ics").is_ok());
        assert!(check_calendar("ftp://x/y").is_err());
        assert!(check_calendar("https:///nohost").is_err());
        assert!(check_calendar(" ").is_err());
    }

    #[test]
    fn manual_state_names_are_checked() {
        let mut m = ManualPresence {
            user: a("sip:alice@example.com"),
            availability: "dnd".into(),
            note: Some("focus time".into()),
            until: None,
            updated_at: 10,
        };
        assert!(m.validate().is_ok());
        m.availability = "sleeping".into();
        let e = m.validate().unwrap_err().to_string();
        assert!(e.contains("availability") && e.contains("off-work"), "{e}");
    }
}
