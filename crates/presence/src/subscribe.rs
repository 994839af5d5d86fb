//! SUBSCRIBE requests (RFC 6665 §4.2.1) and the subscriptions they create.
//!
//! A subscription is a dialog usage (RFC 6665 §4.1.2.1, RFC 5057): the SUBSCRIBE that
//! creates it fixes the dialog (Call-ID, the subscriber's From tag, our To tag), later
//! SUBSCRIBEs in the dialog refresh it or end it (Expires: 0), and it ends on its own when
//! its interval runs out. Each subscription remembers what it last told the subscriber so
//! that a NOTIFY goes out only when the watcher's view actually changed.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use sb_sip_msg::{ContactValue, NameAddr, Request, Uri};

use crate::glue::DialogView;
use crate::model::PersonState;
use crate::notify::NotifierDialog;
use crate::server::Refusal;
use crate::throttle::Throttle;

/// A subscription's id, stable for its lifetime (also in snapshots).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(pub u64);

/// The event package of a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Package {
    /// `Event: presence` for one person (RFC 3856), PIDF bodies.
    Presence,
    /// `Event: dialog` for one person's calls (RFC 4235), dialog-info bodies.
    Dialog,
    /// `Event: presence` to a list URI with `Supported: eventlist` (RFC 4662), RLMI
    /// multipart bodies with one PIDF part per member.
    List,
}

impl Package {
    pub fn as_str(self) -> &'static str {
        match self {
            Package::Presence => "presence",
            Package::Dialog => "dialog",
            Package::List => "presence-list",
        }
    }
}

/// What a subscription last told its subscriber, per package.
#[derive(Debug, Clone)]
pub(crate) enum Feed {
    Presence {
        /// The watcher's view in the last NOTIFY (shared between watchers of one level).
        last: Option<Arc<PersonState>>,
    },
    Dialog {
        /// RFC 4235 §4.1: the version counts NOTIFYs within the subscription.
        version: u32,
        last: Vec<DialogView>,
    },
    List {
        /// RFC 4662 §5.2: the RLMI version counts NOTIFYs within the subscription.
        version: u32,
        /// Each member's view in the last NOTIFY.
        last: HashMap<String, Arc<PersonState>>,
        /// Members whose state changed since the last NOTIFY.
        changed: BTreeSet<String>,
        /// The next NOTIFY must carry full state (first one, refresh, list edited).
        full: bool,
    },
}

/// One live subscription.
#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    pub(crate) id: SubscriptionId,
    /// The subscribed resource: a person (`sip:user@domain`) or a list URI.
    pub(crate) entity: String,
    /// The authenticated subscriber, or `None` for a stranger (public level).
    pub(crate) watcher: Option<String>,
    pub(crate) flow: u64,
    pub(crate) package: Package,
    pub(crate) dialog: NotifierDialog,
    pub(crate) expires_at_ms: u64,
    pub(crate) throttle: Throttle,
    pub(crate) feed: Feed,
}

/// The parts of a SUBSCRIBE the notifier uses.
#[derive(Debug, Clone)]
pub(crate) struct SubscribeRequest {
    /// The event package token, lower case (`presence`, `dialog`).
    pub(crate) event: String,
    /// The whole Event value to echo in NOTIFYs (token and `id` parameter).
    pub(crate) event_header: String,
    pub(crate) expires: Option<u32>,
    pub(crate) call_id: String,
    pub(crate) from_uri: Uri,
    pub(crate) from_tag: String,
    pub(crate) to_uri: Uri,
    /// Our tag when the SUBSCRIBE is inside an existing dialog.
    pub(crate) to_tag: Option<String>,
    pub(crate) contact: Option<Uri>,
    pub(crate) record_route: Vec<NameAddr>,
    /// `Supported: eventlist` (RFC 4662 §4).
    pub(crate) eventlist: bool,
}

/// The package token of an Event header value (RFC 6665 §8.2.1: `token *(; param)`).
pub(crate) fn event_package(value: &str) -> &str {
    value.split(';').next().unwrap_or("").trim()
}

impl SubscribeRequest {
    /// Reads the headers the notifier needs; a SUBSCRIBE missing one of them gets 400
    /// (RFC 6665 §4.1.2.1 requires Event and Contact; From needs a tag to make a dialog).
    pub(crate) fn parse(req: &Request) -> Result<SubscribeRequest, Refusal> {
        let event_header = req
            .headers
            .other("Event")
            .next()
            .ok_or(Refusal::BadEvent)?
            .to_string();
        let event = event_package(&event_header).to_ascii_lowercase();
        let bad = |what: &str| Refusal::BadRequest(what.to_string());
        let from = req.headers.from().ok_or_else(|| bad("no From"))?;
        let from_tag = from.tag().ok_or_else(|| bad("no From tag"))?.to_string();
        let to = req.headers.to().ok_or_else(|| bad("no To"))?;
        let call_id = req
            .headers
            .call_id()
            .ok_or_else(|| bad("no Call-ID"))?
            .as_str()
            .to_string();
        let contact = req.headers.contacts().find_map(|c| match c {
            ContactValue::Addr(a) => Some(a.uri.clone()),
            ContactValue::Star => None,
        });
        Ok(SubscribeRequest {
            event,
            event_header,
            expires: req.headers.expires(),
            call_id,
            from_uri: from.uri.clone(),
            from_tag,
            to_uri: to.uri.clone(),
            to_tag: to.tag().map(str::to_string),
            contact,
            record_route: req.headers.record_routes().cloned().collect(),
            eventlist: req
                .headers
                .supported()
                .any(|s| s.trim().eq_ignore_ascii_case("eventlist")),
        })
    }
}

/// The key a resource is known by: `sip:user@host` with the host in lower case and no
/// port, parameters or headers (RFC 3261 §10.3 step 5 for the canonical address of
/// record). Use it for the `entity` of PUBLISH and SUBSCRIBE and for every `set_*` call,
/// so a Request-URI `sip:Bob@Example.COM:5060;transport=tcp` reaches `sip:Bob@example.com`.
/// `None` for a URI without a user part or of another scheme.
pub fn entity_key(uri: &Uri) -> Option<String> {
    let Uri::Sip(s) = uri else { return None };
    let user = s.user.as_deref().filter(|u| !u.is_empty())?;
    let host = match &s.host {
        sb_sip_msg::Host::Domain(d) => d.to_ascii_lowercase(),
        other => other.to_string(),
    };
    Some(format!(
        "{}:{user}@{host}",
        if s.secure { "sips" } else { "sip" }
    ))
}

/// Dialog key for in-dialog SUBSCRIBEs: Call-ID, our tag, the subscriber's tag.
pub(crate) type DialogKey = (String, String, String);

impl Subscription {
    pub(crate) fn dialog_key(&self) -> DialogKey {
        (
            self.dialog.call_id.clone(),
            self.dialog.local_tag.clone(),
            self.dialog.remote_tag.clone(),
        )
    }

    /// Seconds left, rounded up, for `Subscription-State: active;expires=` and Expires.
    pub(crate) fn remaining_s(&self, now_ms: u64) -> u64 {
        self.expires_at_ms.saturating_sub(now_ms).div_ceil(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_key_drops_port_params_and_host_case() {
        let uri: Uri = "sip:Bob@Example.COM:5060;transport=tcp".parse().unwrap();
        assert_eq!(entity_key(&uri).as_deref(), Some("sip:Bob@example.com"));
        let host_only: Uri = "sip:example.com".parse().unwrap();
        assert_eq!(entity_key(&host_only), None);
        let tel: Uri = "tel:+15551234".parse().unwrap();
        assert_eq!(entity_key(&tel), None);
    }
}
