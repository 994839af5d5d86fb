//! The document and policy functions the protocol machines call, in one place: the
//! aggregation and access rules and the PIDF / dialog-info / RLMI documents.

use crate::doc::rlmi::{Instance, InstanceState, ListView, ResourceView};
use crate::model::{AccessLevel, AccessRule, PersonState, Published, Sources};

pub use crate::doc::dialog_info::DialogView;

pub(crate) fn aggregate(s: &Sources, now_s: u64) -> PersonState {
    crate::aggregate::aggregate(s, now_s)
}

pub(crate) fn level_for(rules: &[AccessRule], watcher: &str, owner_domain: &str) -> AccessLevel {
    crate::access::level_for(rules, watcher, owner_domain)
}

pub(crate) fn view(s: &PersonState, level: AccessLevel) -> PersonState {
    crate::access::view(s, level)
}

pub(crate) fn render_pidf(entity: &str, s: &PersonState) -> String {
    crate::doc::pidf::render(entity, s)
}

pub(crate) fn parse_pidf(body: &[u8]) -> Result<Published, crate::doc::pidf::PidfError> {
    crate::doc::pidf::parse(body)
}

pub(crate) const DIALOG_INFO_CONTENT_TYPE: &str = crate::doc::dialog_info::CONTENT_TYPE;

pub(crate) fn render_dialog_info(
    entity: &str,
    version: u32,
    full: bool,
    dialogs: &[DialogView],
) -> Vec<u8> {
    crate::doc::dialog_info::render(entity, version, full, dialogs).into_bytes()
}

/// What a watcher at `level` may see of a person's dialogs. The dialog identifiers
/// (Call-ID and tags) let a phone pick up or join the call (RFC 4235 §4.1.3), and the
/// identities say who is talking to whom, so only team and personal watchers get them;
/// colleagues and public watchers see that a line is busy or ringing (a busy lamp), and
/// a blocked watcher sees an idle line.
pub(crate) fn dialogs_for(dialogs: &[DialogView], level: AccessLevel) -> Vec<DialogView> {
    match level {
        AccessLevel::Blocked => Vec::new(),
        AccessLevel::Team | AccessLevel::Personal => dialogs.to_vec(),
        AccessLevel::Public | AccessLevel::Colleagues => dialogs
            .iter()
            .map(|d| DialogView {
                direction: (level == AccessLevel::Colleagues)
                    .then_some(d.direction)
                    .flatten(),
                duration_secs: None,
                ..DialogView::new(d.id.clone(), d.state)
            })
            .collect(),
    }
}

/// What a partial dialog-info document carries to move a watcher from `before` to `after`.
pub(crate) fn dialog_changes(before: &[DialogView], after: &[DialogView]) -> Vec<DialogView> {
    crate::doc::dialog_info::changes(before, after)
}

/// A list NOTIFY body: one active instance per member with its (already filtered) PIDF.
/// The instance id is the member's URI, stable for the subscription (RFC 4662 §5.2).
pub(crate) fn render_rlmi(
    list_uri: &str,
    version: u32,
    full: bool,
    members: Vec<(String, String)>,
) -> (String, Vec<u8>) {
    let resources: Vec<ResourceView> = members
        .into_iter()
        .map(|(uri, pidf)| ResourceView {
            instance: Some(Instance {
                id: uri.clone(),
                state: InstanceState::Active,
                pidf: Some(pidf),
                reason: None,
            }),
            uri,
            name: None,
        })
        .collect();
    let list = ListView {
        uri: list_uri.to_string(),
        version,
        full_state: full,
    };
    crate::doc::rlmi::render(&list, &resources, "sb-list-boundary")
}
