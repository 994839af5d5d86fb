//! The notifier's side of a subscription dialog and the NOTIFY requests it sends.
//!
//! RFC 6665 §4.2.1 makes the 2xx to a SUBSCRIBE create a dialog in which we are the UAS:
//! the route set is the SUBSCRIBE's Record-Route in order, the remote target its Contact,
//! and our local tag the To tag we put in the 200 (RFC 3261 §12.1.1). Every NOTIFY is a
//! request inside that dialog (RFC 3261 §12.2.1.1, RFC 6665 §4.2.2). It carries no Via:
//! the transaction layer adds one when it sends it.

use sb_sip_msg::header::OtherHeader;
use sb_sip_msg::{CSeq, CallId, ContactValue, Header, Method, NameAddr, Request, Uri};

/// The dialog state a notifier keeps for one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NotifierDialog {
    pub(crate) call_id: String,
    /// The subscribed resource (the SUBSCRIBE's To URI), our side of the dialog.
    pub(crate) local_uri: Uri,
    pub(crate) local_tag: String,
    /// The subscriber (the SUBSCRIBE's From URI).
    pub(crate) remote_uri: Uri,
    pub(crate) remote_tag: String,
    /// The subscriber's Contact: where NOTIFYs go (refreshed by every SUBSCRIBE).
    pub(crate) remote_target: Uri,
    /// The SUBSCRIBE's Record-Route values in order (RFC 3261 §12.1.1).
    pub(crate) route_set: Vec<NameAddr>,
    /// The CSeq number of the last NOTIFY we sent.
    pub(crate) local_cseq: u32,
    /// The Event header value to echo, with the SUBSCRIBE's `id` parameter if it had one
    /// (RFC 6665 §8.2.1).
    pub(crate) event: String,
}

/// The Subscription-State header value (RFC 6665 §8.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubState {
    Active { expires_s: u64 },
    Terminated(TerminatedReason),
}

/// Why a subscription ended, as the `reason` of Subscription-State (RFC 6665 §4.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TerminatedReason {
    /// The subscription ran out, or the subscriber asked to end it (Expires: 0).
    Timeout,
    /// The resource no longer exists (a list removed, its owner gone).
    NoResource,
    /// The notifier ended it (shutdown, policy change); the subscriber may retry at once.
    Deactivated,
}

impl TerminatedReason {
    pub fn as_str(self) -> &'static str {
        match self {
            TerminatedReason::Timeout => "timeout",
            TerminatedReason::NoResource => "noresource",
            TerminatedReason::Deactivated => "deactivated",
        }
    }
}

impl SubState {
    fn header_value(self) -> String {
        match self {
            SubState::Active { expires_s } => format!("active;expires={expires_s}"),
            SubState::Terminated(r) => format!("terminated;reason={}", r.as_str()),
        }
    }
}

impl NotifierDialog {
    /// The next NOTIFY in this dialog: CSeq counts up; body with its Content-Type.
    pub(crate) fn next_notify(
        &mut self,
        our_contact: &Uri,
        state: SubState,
        content_type: &str,
        body: Vec<u8>,
    ) -> Request {
        self.local_cseq = self.local_cseq.wrapping_add(1);
        let (request_uri, routes) = self.request_target();
        let mut req = Request::new(Method::Notify, request_uri);
        let h = &mut req.headers;
        for r in routes {
            h.push(Header::Route(r));
        }
        h.push(Header::MaxForwards(70));
        let mut from = NameAddr::new(self.local_uri.clone());
        from.params.set("tag", Some(&self.local_tag));
        h.push(Header::From(from));
        let mut to = NameAddr::new(self.remote_uri.clone());
        to.params.set("tag", Some(&self.remote_tag));
        h.push(Header::To(to));
        h.push(Header::CallId(CallId(self.call_id.clone())));
        h.push(Header::CSeq(CSeq {
            seq: self.local_cseq,
            method: Method::Notify,
        }));
        h.push(Header::Contact(ContactValue::Addr(NameAddr::new(
            our_contact.clone(),
        ))));
        h.push(other("Event", self.event.clone()));
        h.push(other("Subscription-State", state.header_value()));
        if content_type.starts_with("multipart/related") {
            // RFC 4662 §5: a notification carrying list state names the extension it needs.
            h.push(Header::Require("eventlist".into()));
        }
        if !body.is_empty() {
            h.push(Header::ContentType(content_type.to_string()));
        }
        req.body = body;
        req
    }

    /// Request-URI and Route headers per RFC 3261 §12.2.1.1: with a loose first route
    /// (`;lr`) the remote target is the Request-URI and the route set goes in Route as is;
    /// a strict first route becomes the Request-URI and the remote target goes last.
    fn request_target(&self) -> (Uri, Vec<NameAddr>) {
        match self.route_set.first() {
            None => (self.remote_target.clone(), Vec::new()),
            Some(first) if is_loose(first) => (self.remote_target.clone(), self.route_set.clone()),
            Some(first) => {
                let mut uri = first.uri.clone();
                if let Uri::Sip(s) = &mut uri {
                    // Parameters allowed only in a Route header do not belong in a
                    // Request-URI (RFC 3261 §19.1.1 table); `method` and `maddr` are the
                    // ones a strict router could carry.
                    s.params.remove("method");
                    s.headers.clear();
                }
                let mut routes: Vec<NameAddr> = self.route_set[1..].to_vec();
                routes.push(NameAddr::new(self.remote_target.clone()));
                (uri, routes)
            }
        }
    }
}

fn is_loose(route: &NameAddr) -> bool {
    matches!(&route.uri, Uri::Sip(s) if s.params.contains("lr"))
}

/// An untyped header.
pub(crate) fn other(name: &str, value: String) -> Header {
    Header::Other(OtherHeader {
        name: name.to_string(),
        // Values are printed as written after the colon: the customary space is ours.
        value: format!(" {value}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dialog(routes: &[&str]) -> NotifierDialog {
        NotifierDialog {
            call_id: "c1".into(),
            local_uri: "sip:bob@example.com".parse().unwrap(),
            local_tag: "lt".into(),
            remote_uri: "sip:alice@example.com".parse().unwrap(),
            remote_tag: "rt".into(),
            remote_target: "sip:alice@192.0.2.1:5070".parse().unwrap(),
            route_set: routes
                .iter()
                .map(|r| NameAddr::new(r.parse().unwrap()))
                .collect(),
            local_cseq: 0,
            event: "presence".into(),
        }
    }

    #[test]
    fn notify_is_an_in_dialog_request_without_via() {
        let mut d = dialog(&["sip:proxy.example.com;lr"]);
        let contact: Uri = "sip:192.0.2.9:5060".parse().unwrap();
        let n = d.next_notify(
            &contact,
            SubState::Active { expires_s: 60 },
            "application/pidf+xml",
            b"<x/>".to_vec(),
        );
        assert_eq!(n.uri.to_string(), "sip:alice@192.0.2.1:5070");
        assert!(n.headers.top_via().is_none());
        assert_eq!(n.headers.from().unwrap().tag(), Some("lt"));
        assert_eq!(n.headers.to().unwrap().tag(), Some("rt"));
        assert_eq!(n.headers.cseq().unwrap().seq, 1);
        assert_eq!(n.headers.routes().count(), 1);
        assert_eq!(
            n.headers.other("Subscription-State").next(),
            Some("active;expires=60")
        );
        let n2 = d.next_notify(
            &contact,
            SubState::Terminated(TerminatedReason::Timeout),
            "application/pidf+xml",
            Vec::new(),
        );
        assert_eq!(n2.headers.cseq().unwrap().seq, 2);
        assert_eq!(
            n2.headers.other("Subscription-State").next(),
            Some("terminated;reason=timeout")
        );
        assert!(n2.headers.content_type().is_none());
    }

    #[test]
    fn strict_first_route_becomes_the_request_uri() {
        let mut d = dialog(&["sip:strict.example.com", "sip:second.example.com;lr"]);
        let contact: Uri = "sip:192.0.2.9".parse().unwrap();
        let n = d.next_notify(
            &contact,
            SubState::Active { expires_s: 1 },
            "x/y",
            Vec::new(),
        );
        assert_eq!(n.uri.to_string(), "sip:strict.example.com");
        let routes: Vec<String> = n.headers.routes().map(|r| r.uri.to_string()).collect();
        assert_eq!(
            routes,
            ["sip:second.example.com;lr", "sip:alice@192.0.2.1:5070"]
        );
    }
}
