//! The presence part of a `[[site.users]]` entry: `contacts`, `access` and `calendar`
//! (docs/provisioning.md). Each one given is the user's whole setting (a contact left out
//! of the list is removed, a watcher left out of `access` loses their rule); one left
//! out keeps what the store holds, like `rules`.

use std::collections::BTreeMap;

use sb_store::presence::{check_calendar, check_contact_list, check_level};
use sb_store::{AccessRule, Change, SipAddress, Watcher};

use super::site::SiteUser;
use super::spec::{parse_address, FieldError};

/// What one site user says about presence, checked.
#[derive(Debug, Clone, Default)]
pub struct PresenceSpec {
    pub contacts: Option<Vec<SipAddress>>,
    pub access: Option<Vec<AccessRule>>,
    /// `Some("")` in the file clears the calendar.
    pub calendar: Option<Option<String>>,
}

impl PresenceSpec {
    /// Whether the entry says anything about presence.
    pub fn is_empty(&self) -> bool {
        self.contacts.is_none() && self.access.is_none() && self.calendar.is_none()
    }

    /// The store changes that bring `owner` to this spec (each a no-op when already so).
    pub fn changes(&self, owner: &SipAddress) -> Vec<Change> {
        let mut out = Vec::new();
        if let Some(c) = &self.contacts {
            out.push(Change::SetContactList(owner.clone(), c.clone()));
        }
        if let Some(a) = &self.access {
            out.push(Change::ReplaceAccessRules(owner.clone(), a.clone()));
        }
        if let Some(c) = &self.calendar {
            out.push(Change::SetCalendar(owner.clone(), c.clone()));
        }
        out
    }
}

/// Reads and checks the presence fields of a site user whose address is `owner`.
pub fn parse(owner: &SipAddress, u: &SiteUser) -> Result<PresenceSpec, FieldError> {
    let contacts = match &u.contacts {
        Some(list) => {
            let mut members = Vec::with_capacity(list.len());
            for (i, c) in list.iter().enumerate() {
                let m = parse_address("contacts", c)
                    .map_err(|e| FieldError::new("contacts", format!("[{i}] {}", e.message)))?;
                members.push(m);
            }
            check_contact_list(owner, &members)
                .map_err(|e| FieldError::new("contacts", root_reason(&e)))?;
            Some(members)
        }
        None => None,
    };
    let access = match &u.access {
        Some(map) => Some(access_rules(owner, map)?),
        None => None,
    };
    let calendar = match u.calendar.as_deref().map(str::trim) {
        Some("") => Some(None),
        Some(c) => {
            check_calendar(c).map_err(|e| FieldError::new("calendar", root_reason(&e)))?;
            Some(Some(c.to_owned()))
        }
        None => None,
    };
    Ok(PresenceSpec {
        contacts,
        access,
        calendar,
    })
}

fn access_rules(
    owner: &SipAddress,
    map: &BTreeMap<String, String>,
) -> Result<Vec<AccessRule>, FieldError> {
    let mut rules: Vec<AccessRule> = Vec::with_capacity(map.len());
    for (watcher, level) in map {
        let w = Watcher::parse(watcher)
            .map_err(|e| FieldError::new("access", format!("{watcher:?}: {}", root_reason(&e))))?;
        let level = level.trim().to_ascii_lowercase();
        check_level(&level)
            .map_err(|e| FieldError::new("access", format!("{watcher:?}: {}", root_reason(&e))))?;
        if rules.iter().any(|r| r.watcher == w) {
            return Err(FieldError::new(
                "access",
                format!("{watcher:?} is listed twice (as {w})"),
            ));
        }
        rules.push(AccessRule {
            owner: owner.clone(),
            watcher: w,
            level,
        });
    }
    Ok(rules)
}

fn root_reason(e: &sb_store::StoreError) -> String {
    match e.root() {
        sb_store::StoreError::Invalid { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}
