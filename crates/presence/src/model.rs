//! The presence data model: what a person's state is made of, where it comes from, and
//! who may see how much of it.
//!
//! The vocabulary follows RFC 3863 (PIDF: a `basic` open/closed status per device and a
//! free-text note) and RFC 4480 (RPID: activities such as on-the-phone or meeting). The
//! user-facing availability levels (available, busy, do not disturb, ...) are not in any
//! RFC; they are what people pick in a client, and [`crate::aggregate`] maps the protocol
//! inputs onto them.

use serde::{Deserialize, Serialize};

/// The one-word state people see next to a name, from most to least reachable.
///
/// The derived `Ord` follows declaration order, so `Available < Busy < ... < Offline`
/// ranks reachability: a smaller value is more reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    Available,
    Busy,
    DoNotDisturb,
    BeRightBack,
    Away,
    OffWork,
    Offline,
}

impl Availability {
    /// All values, in reachability order.
    pub const ALL: [Availability; 7] = [
        Availability::Available,
        Availability::Busy,
        Availability::DoNotDisturb,
        Availability::BeRightBack,
        Availability::Away,
        Availability::OffWork,
        Availability::Offline,
    ];

    /// The stable token used in configuration, the admin API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Availability::Available => "available",
            Availability::Busy => "busy",
            Availability::DoNotDisturb => "do_not_disturb",
            Availability::BeRightBack => "be_right_back",
            Availability::Away => "away",
            Availability::OffWork => "off_work",
            Availability::Offline => "offline",
        }
    }

    /// Inverse of [`Availability::as_str`]; also accepts `dnd` and `brb`.
    pub fn from_token(s: &str) -> Option<Availability> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        Some(match s.as_str() {
            "available" | "online" => Availability::Available,
            "busy" => Availability::Busy,
            "do_not_disturb" | "dnd" => Availability::DoNotDisturb,
            "be_right_back" | "brb" => Availability::BeRightBack,
            "away" => Availability::Away,
            "off_work" => Availability::OffWork,
            "offline" => Availability::Offline,
            _ => return None,
        })
    }

    /// Whether PIDF's `<basic>` should say `open` (RFC 3863 §4.1.4: the entity is
    /// "willing and able to communicate"). Only a signed-out person is `closed`: a busy
    /// person can still receive a message, and clients grey out a `closed` contact.
    pub fn is_open(self) -> bool {
        self != Availability::Offline
    }
}

/// How much of a person's presence a watcher may see, from least to most.
///
/// The derived `Ord` follows declaration order: `Blocked < Public < Colleagues < Team <
/// Personal`, so "at least colleagues" is `level >= AccessLevel::Colleagues`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessLevel {
    Blocked,
    Public,
    Colleagues,
    Team,
    Personal,
}

impl AccessLevel {
    /// All values, lowest first.
    pub const ALL: [AccessLevel; 5] = [
        AccessLevel::Blocked,
        AccessLevel::Public,
        AccessLevel::Colleagues,
        AccessLevel::Team,
        AccessLevel::Personal,
    ];

    /// The stable token used in configuration, the admin API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::Blocked => "blocked",
            AccessLevel::Public => "public",
            AccessLevel::Colleagues => "colleagues",
            AccessLevel::Team => "team",
            AccessLevel::Personal => "personal",
        }
    }

    /// Inverse of [`AccessLevel::as_str`].
    pub fn from_token(s: &str) -> Option<AccessLevel> {
        AccessLevel::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// Which watchers an [`AccessRule`] applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WatcherMatch {
    /// One watcher, as `sip:user@domain` (compared case-insensitively, scheme optional).
    User(String),
    /// Every watcher whose address is in this domain.
    Domain(String),
    /// Anyone.
    Everyone,
}

/// One line of a person's access list: watchers matching `watcher` see `level`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AccessRule {
    pub watcher: WatcherMatch,
    pub level: AccessLevel,
}

/// What the user set by hand (RFC 4480 activities follow from it), with an optional note
/// and expiry (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualState {
    pub availability: Availability,
    pub note: Option<String>,
    /// When the manual state stops applying; `None` keeps it until the user changes it.
    pub until: Option<u64>,
}

impl ManualState {
    /// Whether this state still applies at `now_unix` (the expiry instant itself is past).
    pub fn is_current(&self, now_unix: u64) -> bool {
        match self.until {
            Some(until) => now_unix < until,
            None => true,
        }
    }
}

/// An RPID activity (RFC 4480 §3.2 `<rpid:activities>`), the subset clients show plus
/// any other token kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    /// `<rpid:on-the-phone/>`
    OnThePhone,
    /// `<rpid:meeting/>`
    Meeting,
    /// `<rpid:away/>`
    Away,
    /// `<rpid:busy/>`
    Busy,
    /// `<rpid:vacation/>`
    Vacation,
    /// `<rpid:appointment/>`
    Appointment,
    /// Any other RFC 4480 activity element name (e.g. `lunch`, `travel`), or the text of
    /// `<rpid:other>`.
    Other(String),
}

impl Activity {
    /// The RFC 4480 element name (local part), or the free text for `Other`.
    pub fn element_name(&self) -> &str {
        match self {
            Activity::OnThePhone => "on-the-phone",
            Activity::Meeting => "meeting",
            Activity::Away => "away",
            Activity::Busy => "busy",
            Activity::Vacation => "vacation",
            Activity::Appointment => "appointment",
            Activity::Other(s) => s,
        }
    }

    /// The activity for an RFC 4480 element local name.
    pub fn from_element_name(name: &str) -> Activity {
        match name {
            "on-the-phone" => Activity::OnThePhone,
            "meeting" => Activity::Meeting,
            "away" => Activity::Away,
            "busy" => Activity::Busy,
            "vacation" => Activity::Vacation,
            "appointment" => Activity::Appointment,
            other => Activity::Other(other.to_owned()),
        }
    }
}

/// One device's published document, as parsed from PIDF (RFC 3863 + RFC 4480).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Published {
    /// Any tuple's `<basic>` said `open` (RFC 3863 §4.1.4).
    pub basic_open: bool,
    /// RPID activities from the `<dm:person>` (or, leniently, anywhere in the document).
    pub activities: Vec<Activity>,
    /// The first `<note>` (person notes before tuple notes).
    pub note: Option<String>,
    /// RFC 4480 §3.4 `<rpid:user-input>idle</rpid:user-input>`: the device has seen no
    /// input for a while.
    pub idle: bool,
    /// The `<tuple id>` values, so a later partial update can be matched.
    pub tuple_ids: Vec<String>,
    /// The `<contact>` URIs of the tuples.
    pub contacts: Vec<String>,
    /// When this document was received (Unix seconds); the newest note wins.
    /// Not in the document: the caller sets it.
    pub received_at: u64,
}

/// Everything known about a person at one moment (the aggregation input).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Sources {
    /// One entry per device that currently has an unexpired publication.
    pub published: Vec<Published>,
    pub manual: Option<ManualState>,
    /// The person is in a call through this server.
    pub in_call: bool,
    /// The calendar says busy now ([`crate::calendar::busy_at`]).
    pub in_meeting: bool,
    /// At least one device is registered.
    pub signed_in: bool,
    pub location: Option<String>,
    pub phone_numbers: Vec<String>,
}

/// The combined state (aggregation output), and after [`crate::access::view`] what one
/// watcher may see of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonState {
    pub availability: Availability,
    pub activities: Vec<Activity>,
    pub note: Option<String>,
    pub in_call: bool,
    pub in_meeting: bool,
    pub location: Option<String>,
    pub phone_numbers: Vec<String>,
}

impl PersonState {
    /// A signed-out person with nothing else known.
    pub fn offline() -> PersonState {
        PersonState {
            availability: Availability::Offline,
            activities: Vec::new(),
            note: None,
            in_call: false,
            in_meeting: false,
            location: None,
            phone_numbers: Vec::new(),
        }
    }
}

impl Default for PersonState {
    fn default() -> Self {
        PersonState::offline()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_levels_are_ordered_from_blocked_to_personal() {
        let mut sorted = AccessLevel::ALL;
        sorted.sort();
        assert_eq!(sorted, AccessLevel::ALL);
        assert!(AccessLevel::Blocked < AccessLevel::Public);
        assert!(AccessLevel::Team < AccessLevel::Personal);
    }

    #[test]
    fn tokens_round_trip() {
        for a in Availability::ALL {
            assert_eq!(Availability::from_token(a.as_str()), Some(a));
        }
        assert_eq!(
            Availability::from_token("DND"),
            Some(Availability::DoNotDisturb)
        );
        assert_eq!(Availability::from_token("sleepy"), None);
        for l in AccessLevel::ALL {
            assert_eq!(AccessLevel::from_token(l.as_str()), Some(l));
        }
        for name in [
            "on-the-phone",
            "meeting",
            "away",
            "busy",
            "vacation",
            "lunch",
        ] {
            assert_eq!(Activity::from_element_name(name).element_name(), name);
        }
    }

    #[test]
    fn manual_state_expires_at_its_until() {
        let m = ManualState {
            availability: Availability::Busy,
            note: None,
            until: Some(100),
        };
        assert!(m.is_current(99));
        assert!(!m.is_current(100));
        let forever = ManualState { until: None, ..m };
        assert!(forever.is_current(u64::MAX));
    }
}
