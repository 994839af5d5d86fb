//! What routing needs to know about users and numbers, behind a trait the caller
//! implements.
//!
//! [`Directory`] is synchronous on purpose: routing is a pure function, so the caller
//! fetches what a call needs (from the store, the registrar's bindings, a cache) before
//! calling [`crate::route()`], and answers from that snapshot. Tests use
//! [`MemoryDirectory`]. Nothing here does IO.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{DialPlanName, PbxName, PolicyName, SiteName, UserId, E164};
use crate::presence::PresenceFacts;
use crate::route::Caller;
use crate::rules::CallRules;

/// A user as routing sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEntry {
    pub id: UserId,
    /// A disabled user can neither call nor be called.
    #[serde(default = "enabled_default")]
    pub enabled: bool,
    #[serde(default)]
    pub site: Option<SiteName>,
    /// A personal dial plan; otherwise the site's, otherwise the default.
    #[serde(default)]
    pub dial_plan: Option<DialPlanName>,
    /// Otherwise the configured default policy.
    #[serde(default)]
    pub voice_policy: Option<PolicyName>,
    /// The user's own number (their line URI without an extension), if any.
    #[serde(default)]
    pub number: Option<E164>,
    /// The user's extension behind their site's main number, if any.
    #[serde(default)]
    pub extension: Option<String>,
    /// The user's extension on a co-existing PBX: inbound calls ring it in parallel.
    #[serde(default)]
    pub pbx_line: Option<PbxLine>,
    #[serde(default)]
    pub rules: CallRules,
}

fn enabled_default() -> bool {
    true
}

impl UserEntry {
    /// An enabled user with nothing else set.
    pub fn new(id: UserId) -> UserEntry {
        UserEntry {
            id,
            enabled: true,
            site: None,
            dial_plan: None,
            voice_policy: None,
            number: None,
            extension: None,
            pbx_line: None,
            rules: CallRules::default(),
        }
    }
}

/// A user's phone on a co-existing PBX.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PbxLine {
    pub pbx: PbxName,
    /// What the PBX is sent as the Request-URI user part (its extension or number).
    pub number: String,
}

/// Who owns a number or an extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberOwner {
    User(UserId),
    /// A PBX user in a partitioned deployment: the call goes to that PBX's trunk.
    Pbx(PbxName),
}

/// A registered contact of a user, as the registrar lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// The contact URI, the Request-URI of the branch (RFC 3261 §16.5).
    pub uri: String,
    /// `q` in thousandths (RFC 3261 §20.10), if the device gave one.
    pub q: Option<u16>,
}

/// The caller's view of users, numbers and bindings at the time of the call.
pub trait Directory {
    fn user(&self, id: &UserId) -> Option<UserEntry>;
    /// Reverse number lookup: who owns this E.164 number.
    fn number_owner(&self, number: &E164) -> Option<NumberOwner>;
    /// Who has extension `ext` behind the main number `main`.
    fn extension_owner(&self, main: &E164, ext: &str) -> Option<NumberOwner>;
    /// The user's registered contacts now; empty when not signed in anywhere.
    fn contacts(&self, id: &UserId) -> Vec<Contact>;
    /// The callee's presence as it bears on a call from `caller` (whether that caller
    /// passes do not disturb follows from the callee's access rules); `None` when
    /// presence is not known or not used, and then routing ignores it.
    fn presence(&self, callee: &UserId, caller: &Caller) -> Option<PresenceFacts> {
        let _ = (callee, caller);
        None
    }
}

/// An in-memory [`Directory`] for tests and dry runs.
#[derive(Debug, Clone, Default)]
pub struct MemoryDirectory {
    pub users: BTreeMap<UserId, UserEntry>,
    pub numbers: BTreeMap<E164, NumberOwner>,
    pub extensions: BTreeMap<(E164, String), NumberOwner>,
    pub contacts: BTreeMap<UserId, Vec<Contact>>,
    /// Presence by callee, as seen by a caller who does not pass do not disturb.
    pub presence: BTreeMap<UserId, PresenceFacts>,
    /// Callers who pass a callee's do not disturb (their team), by callee.
    pub passes_dnd: BTreeMap<UserId, Vec<UserId>>,
}

impl MemoryDirectory {
    /// Adds a user, their own number and their extension behind `main` (if both given).
    pub fn add_user(&mut self, user: UserEntry, main: Option<&E164>) {
        if let Some(n) = &user.number {
            self.numbers
                .insert(n.clone(), NumberOwner::User(user.id.clone()));
        }
        if let (Some(main), Some(ext)) = (main, &user.extension) {
            self.extensions.insert(
                (main.clone(), ext.clone()),
                NumberOwner::User(user.id.clone()),
            );
        }
        self.users.insert(user.id.clone(), user);
    }

    /// Registers a contact for a user.
    pub fn add_contact(&mut self, id: &UserId, uri: &str) {
        self.contacts.entry(id.clone()).or_default().push(Contact {
            uri: uri.to_string(),
            q: None,
        });
    }
}

impl Directory for MemoryDirectory {
    fn user(&self, id: &UserId) -> Option<UserEntry> {
        self.users.get(id).cloned()
    }

    fn number_owner(&self, number: &E164) -> Option<NumberOwner> {
        self.numbers.get(number).cloned()
    }

    fn extension_owner(&self, main: &E164, ext: &str) -> Option<NumberOwner> {
        self.extensions
            .get(&(main.clone(), ext.to_string()))
            .cloned()
    }

    fn contacts(&self, id: &UserId) -> Vec<Contact> {
        self.contacts.get(id).cloned().unwrap_or_default()
    }

    fn presence(&self, callee: &UserId, caller: &Caller) -> Option<PresenceFacts> {
        let mut facts = self.presence.get(callee)?.clone();
        if let Caller::User(who) = caller {
            if self
                .passes_dnd
                .get(callee)
                .is_some_and(|team| team.contains(who))
            {
                facts.caller_passes_dnd = true;
            }
        }
        Some(facts)
    }
}
