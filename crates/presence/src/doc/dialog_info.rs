//! RFC 4235 dialog-info documents (`application/dialog-info+xml`), the body of NOTIFYs
//! for the `dialog` event package: what lights a phone's busy lamp field.
//!
//! A watcher first gets the full state (every dialog the entity is in), then partial
//! updates carrying only the dialogs that changed (§4.1); [`changes`] computes those.
//! Each document of one subscription carries the next value of a version counter that
//! starts at 0 ([`super::VersionCounter`]) so the watcher can detect a lost or reordered
//! NOTIFY and resubscribe for full state (§4.1.2).

use super::escape;

/// The media type of a dialog-info body (RFC 4235 §4.1).
pub const CONTENT_TYPE: &str = "application/dialog-info+xml";
/// RFC 4235 §4.1 namespace.
pub const NS_DIALOG_INFO: &str = "urn:ietf:params:xml:ns:dialog-info";

/// The dialog state machine's states (RFC 4235 §3.7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialogState {
    /// An INVITE was sent or received, no provisional response yet.
    Trying,
    /// A provisional response without a To tag.
    Proceeding,
    /// A provisional response with a To tag: the far end is ringing.
    Early,
    /// A 2xx: the call is up.
    Confirmed,
    /// The dialog ended.
    Terminated,
}

impl DialogState {
    /// The element text (RFC 4235 §4.1.6.1).
    pub fn as_str(self) -> &'static str {
        match self {
            DialogState::Trying => "trying",
            DialogState::Proceeding => "proceeding",
            DialogState::Early => "early",
            DialogState::Confirmed => "confirmed",
            DialogState::Terminated => "terminated",
        }
    }
}

/// Which side of the dialog the entity is (RFC 4235 §4.1.3 `direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The entity sent the INVITE.
    Initiator,
    /// The entity received it.
    Recipient,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Initiator => "initiator",
            Direction::Recipient => "recipient",
        }
    }
}

/// Why a dialog moved to its state (RFC 4235 §4.1.6.1 `event` attribute), mostly used
/// with [`DialogState::Terminated`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateEvent {
    Cancelled,
    Rejected,
    Replaced,
    LocalBye,
    RemoteBye,
    Error,
    Timeout,
}

impl StateEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            StateEvent::Cancelled => "cancelled",
            StateEvent::Rejected => "rejected",
            StateEvent::Replaced => "replaced",
            StateEvent::LocalBye => "local-bye",
            StateEvent::RemoteBye => "remote-bye",
            StateEvent::Error => "error",
            StateEvent::Timeout => "timeout",
        }
    }
}

/// One dialog as a watcher should see it: the input to [`render`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogView {
    /// Stable identifier of this dialog within the entity's documents (RFC 4235 §4.1.3
    /// `id`); the same id in a later partial document updates this dialog.
    pub id: String,
    /// The Call-ID, local and remote tags, as seen from the entity (RFC 4235 §4.1.3).
    /// Left out for watchers that should not be able to pick up or barge into the call.
    pub call_id: Option<String>,
    pub local_tag: Option<String>,
    pub remote_tag: Option<String>,
    pub direction: Option<Direction>,
    pub state: DialogState,
    /// The `event` attribute of `<state>`.
    pub event: Option<StateEvent>,
    /// The final response code when the dialog was rejected (`code`, 100–699).
    pub code: Option<u16>,
    /// `<duration>`: seconds since the dialog was created (RFC 4235 §4.1.7).
    pub duration_secs: Option<u64>,
    /// `<local><identity>`: the entity's own address in this dialog.
    pub local_identity: Option<String>,
    /// `<remote><identity>`: the other party.
    pub remote_identity: Option<String>,
}

impl DialogView {
    /// A dialog with only an id and a state.
    pub fn new(id: impl Into<String>, state: DialogState) -> DialogView {
        DialogView {
            id: id.into(),
            call_id: None,
            local_tag: None,
            remote_tag: None,
            direction: None,
            state,
            event: None,
            code: None,
            duration_secs: None,
            local_identity: None,
            remote_identity: None,
        }
    }
}

/// Renders a dialog-info document for `entity` (`sip:user@domain`).
///
/// `full` chooses `state="full"` (every dialog of the entity is listed; an empty list
/// means idle) or `state="partial"` (only the listed dialogs changed).
pub fn render(entity: &str, version: u32, full: bool, dialogs: &[DialogView]) -> String {
    let mut out = String::with_capacity(256 + 256 * dialogs.len());
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<dialog-info xmlns=\"{NS_DIALOG_INFO}\" version=\"{version}\" state=\"{}\" entity=\"{}\">\n",
        if full { "full" } else { "partial" },
        escape(entity)
    ));
    for d in dialogs {
        out.push_str(&format!("  <dialog id=\"{}\"", escape(&d.id)));
        for (name, value) in [
            ("call-id", &d.call_id),
            ("local-tag", &d.local_tag),
            ("remote-tag", &d.remote_tag),
        ] {
            if let Some(v) = value {
                out.push_str(&format!(" {name}=\"{}\"", escape(v)));
            }
        }
        if let Some(dir) = d.direction {
            out.push_str(&format!(" direction=\"{}\"", dir.as_str()));
        }
        out.push_str(">\n    <state");
        if let Some(e) = d.event {
            out.push_str(&format!(" event=\"{}\"", e.as_str()));
        }
        if let Some(code) = d.code.filter(|c| (100..=699).contains(c)) {
            out.push_str(&format!(" code=\"{code}\""));
        }
        out.push_str(&format!(">{}</state>\n", d.state.as_str()));
        if let Some(secs) = d.duration_secs {
            out.push_str(&format!("    <duration>{secs}</duration>\n"));
        }
        for (element, identity) in [("local", &d.local_identity), ("remote", &d.remote_identity)] {
            if let Some(uri) = identity {
                out.push_str(&format!(
                    "    <{element}><identity>{}</identity></{element}>\n",
                    escape(uri)
                ));
            }
        }
        out.push_str("  </dialog>\n");
    }
    out.push_str("</dialog-info>\n");
    out
}

/// The dialogs a partial document must carry to move a watcher from `before` to
/// `after`: new or changed dialogs as they are now, and dialogs that disappeared as
/// terminated (RFC 4235 §3.7.1: a watcher only forgets a dialog it saw terminate).
/// Dialogs are matched by `id`; the order follows `after`, then the vanished ones.
pub fn changes(before: &[DialogView], after: &[DialogView]) -> Vec<DialogView> {
    let mut out: Vec<DialogView> = after
        .iter()
        .filter(|d| !before.contains(d))
        .cloned()
        .collect();
    for gone in before
        .iter()
        .filter(|b| !after.iter().any(|a| a.id == b.id))
    {
        if gone.state == DialogState::Terminated {
            continue;
        }
        out.push(DialogView {
            state: DialogState::Terminated,
            duration_secs: None,
            ..gone.clone()
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::VersionCounter;

    fn ringing() -> DialogView {
        DialogView {
            call_id: Some("a84b4c76e66710@pc33.example.com".into()),
            local_tag: Some("1928301774".into()),
            direction: Some(Direction::Recipient),
            remote_identity: Some("sip:bob@example.com".into()),
            ..DialogView::new("as7d900as8", DialogState::Early)
        }
    }

    #[test]
    fn full_document_lists_each_dialog_with_ids_tags_direction_and_state() {
        let mut versions = VersionCounter::default();
        let idle = render("sip:alice@example.com", versions.take(), true, &[]);
        assert!(idle.contains("version=\"0\" state=\"full\" entity=\"sip:alice@example.com\""));
        assert!(!idle.contains("<dialog "), "{idle}");

        let doc = render("sip:alice@example.com", versions.take(), true, &[ringing()]);
        for want in [
            "version=\"1\" state=\"full\"",
            "<dialog id=\"as7d900as8\" call-id=\"a84b4c76e66710@pc33.example.com\" local-tag=\"1928301774\" direction=\"recipient\">",
            "<state>early</state>",
            "<remote><identity>sip:bob@example.com</identity></remote>",
        ] {
            assert!(doc.contains(want), "missing {want} in {doc}");
        }
        assert!(!doc.contains("remote-tag"), "{doc}");
    }

    #[test]
    fn every_state_renders_with_its_rfc_name() {
        let table = [
            (DialogState::Trying, "trying"),
            (DialogState::Proceeding, "proceeding"),
            (DialogState::Early, "early"),
            (DialogState::Confirmed, "confirmed"),
            (DialogState::Terminated, "terminated"),
        ];
        for (state, text) in table {
            let doc = render("sip:a@b", 0, false, &[DialogView::new("d", state)]);
            assert!(doc.contains(&format!("<state>{text}</state>")), "{doc}");
            assert!(doc.contains("state=\"partial\""));
        }
        let rejected = DialogView {
            event: Some(StateEvent::Rejected),
            code: Some(486),
            ..DialogView::new("d", DialogState::Terminated)
        };
        let doc = render("sip:a@b", 0, false, &[rejected]);
        assert!(
            doc.contains("<state event=\"rejected\" code=\"486\">terminated</state>"),
            "{doc}"
        );
        let nonsense_code = DialogView {
            code: Some(7),
            ..DialogView::new("d", DialogState::Terminated)
        };
        assert!(!render("sip:a@b", 0, false, &[nonsense_code]).contains("code="));
    }

    #[test]
    fn changes_carry_new_changed_and_vanished_dialogs() {
        let early = ringing();
        let confirmed = DialogView {
            state: DialogState::Confirmed,
            remote_tag: Some("456".into()),
            ..ringing()
        };
        let other = DialogView::new("second", DialogState::Trying);

        let just_early = std::slice::from_ref(&early);
        assert_eq!(changes(&[], just_early), vec![early.clone()]);
        assert_eq!(changes(just_early, just_early), vec![]);
        assert_eq!(
            changes(just_early, &[confirmed.clone(), other.clone()]),
            vec![confirmed.clone(), other.clone()]
        );
        // The call ended and the dialog is gone from the current set.
        let ended = changes(
            &[confirmed.clone(), other.clone()],
            std::slice::from_ref(&other),
        );
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].id, confirmed.id);
        assert_eq!(ended[0].state, DialogState::Terminated);
        // Already reported as terminated: nothing more to say when it vanishes.
        let terminated = DialogView::new("t", DialogState::Terminated);
        assert_eq!(changes(&[terminated], &[]), vec![]);
    }

    #[test]
    fn markup_in_values_is_escaped() {
        let d = DialogView {
            remote_identity: Some("sip:\"x\"<y>&z@b".into()),
            ..DialogView::new("i<d>", DialogState::Trying)
        };
        let doc = render("sip:a&b@c", 0, true, &[d]);
        assert!(doc.contains("entity=\"sip:a&amp;b@c\""), "{doc}");
        assert!(doc.contains("id=\"i&lt;d&gt;\""), "{doc}");
        assert!(doc.contains("sip:&quot;x&quot;&lt;y&gt;&amp;z@b"), "{doc}");
    }
}
