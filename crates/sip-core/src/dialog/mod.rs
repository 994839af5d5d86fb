//! The dialog layer (RFC 3261 §12): the peer-to-peer relationship an INVITE sets up, for a
//! UA core (the B2BUA holds one per leg).
//!
//! A [`Dialog`] is created as UAC from the INVITE it sent plus a 101–199 with a To tag or a
//! 2xx ([`Dialog::uac`], §12.1.2), or as UAS from a received INVITE plus the tag it answers
//! with ([`Dialog::uas`], §12.1.1). Each forked 1xx with its own To tag is its own early
//! dialog: build one [`Dialog`] per tag and key them by [`DialogId`].
//!
//! # Driving it
//!
//! Like the transaction layer, the dialog never reads a clock, sends, or waits; it sits
//! beside the transaction layer, and the UA core passes it what crosses it:
//!
//! * inputs: [`Dialog::handle_request`] for each in-dialog request received (§12.2.2) and
//!   [`Dialog::handle_response`] for each response to a request the dialog built;
//! * commands: [`Dialog::request`] / [`Dialog::request_with_body`] build the next request
//!   (§12.2.1.1), [`Dialog::ack`] the ACK for a 2xx (§13.2.2.4), [`Dialog::prack`] a PRACK
//!   (RFC 3262); [`Dialog::response`] builds a response with our tag and Contact, and
//!   [`Dialog::record_sent_response`] tells the dialog about each response the UA sends
//!   to a request it received.
//!
//! Built requests carry no Via: the caller adds its own with a fresh branch when it hands
//! them to the transaction layer (the ACK for a 2xx too, §13.2.2.4; it is not a
//! transaction of its own). CANCEL is not a dialog request: it belongs to the INVITE's
//! transaction and copies that INVITE's Request-URI, Call-ID, From, To, CSeq number and
//! Route (§9.1); [`Dialog::request`] refuses it.
//!
//! Headers may be added to a built request (Session-Expires, Supported, Reason, ...); its
//! body may not change afterwards, because offer/answer recorded it when it was built.
//!
//! ```
//! use sb_sip_core::dialog::{Dialog, DialogState, SdpRole};
//! use sb_sip_msg::{parse_datagram, Message, Method};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let Message::Request(invite) = parse_datagram(
//!     b"INVITE sip:bob@example.com SIP/2.0\r\n\
//!       Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
//!       From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\n\
//!       Call-ID: c1\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@192.0.2.1>\r\n\
//!       Content-Length: 0\r\n\r\n",
//! )?
//! else {
//!     unreachable!()
//! };
//! let Message::Response(ok) = parse_datagram(
//!     b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
//!       Record-Route: <sip:proxy.example.com;lr>\r\n\
//!       From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>;tag=b1\r\n\
//!       Call-ID: c1\r\nCSeq: 1 INVITE\r\nContact: <sip:bob@192.0.2.4>\r\n\
//!       Content-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n",
//! )?
//! else {
//!     unreachable!()
//! };
//! let (mut dialog, outcome) = Dialog::uac(&invite, &ok)?;
//! assert_eq!(dialog.state(), DialogState::Confirmed);
//! // The INVITE had no offer, so the 2xx carried one and the ACK must answer it.
//! assert_eq!(outcome.sdp, Some(SdpRole::Offer));
//! let ack = dialog.ack(Some(sb_sip_core::dialog::Body::sdp("v=0\r\n")))?;
//! assert_eq!(ack.headers.cseq().map(|c| c.seq), Some(1));
//! let bye = dialog.request(Method::Bye)?;
//! assert_eq!(bye.uri.to_string(), "sip:bob@192.0.2.4");
//! assert_eq!(bye.headers.routes().count(), 1);
//! assert!(dialog.is_terminated());
//! # Ok(())
//! # }
//! ```
//!
//! # What it keeps
//!
//! Route set, remote target, secure flag, local and remote CSeq, URIs and tags (§12.1);
//! who owes an offer or an answer ([`OfferAnswer`], RFC 3261 §13.2.1, RFC 6337 §3); RSeq
//! and RAck state ([`Prack`], RFC 3262). Session timers are their own object
//! ([`SessionTimer`], RFC 4028), because the refresh policy belongs to the caller.
//!
//! # Errors
//!
//! Refusals of peer input are [`DialogError`] values that map to the response to send
//! ([`DialogError::response`]): 481, 500 for an out-of-order CSeq, 491 for glare, 500 with
//! Retry-After for an overlapping re-INVITE. Nothing here panics on peer input.

mod error;
mod inbound;
mod offer_answer;
mod prack;
mod request;
mod session_timer;

use std::fmt;

use sb_sip_msg::{CallId, ContactValue, Headers, Method, NameAddr, Request, Response, Uri};

pub use error::DialogError;
pub use inbound::ResponseOutcome;
pub use offer_answer::{Carrier, OaKind, OaMessage, OaState, OfferAnswer, SdpRole, Side};
pub use prack::{
    is_reliable, rseq_of, Prack, Provisional, RAck, Reliable1xxEvent, Reliable1xxRetransmitter,
};
pub use session_timer::{
    MinSe, Negotiated, Refresher, SessionExpires, SessionTimer, SessionTimerConfig,
    SessionTimerEvent, DEFAULT_INTERVAL, MIN_SE_FLOOR,
};

/// A From or To tag (§19.3), compared byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub String);

impl Tag {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A dialog's identity from this UA's side (§12): Call-ID, local tag, remote tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialogId {
    pub call_id: CallId,
    pub local_tag: Tag,
    pub remote_tag: Tag,
}

impl fmt::Display for DialogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{};local={};remote={}",
            self.call_id.as_str(),
            self.local_tag,
            self.remote_tag
        )
    }
}

fn tag_of(na: Option<&NameAddr>) -> Option<Tag> {
    na.and_then(NameAddr::tag).map(|t| Tag(t.to_string()))
}

impl DialogId {
    /// The dialog a received request belongs to: our tag is its To tag, the peer's its From
    /// tag (§12.2.2). `None` without both tags: the request is outside any dialog.
    pub fn of_received_request(req: &Request) -> Option<DialogId> {
        Some(DialogId {
            call_id: req.headers.call_id()?.clone(),
            local_tag: tag_of(req.headers.to())?,
            remote_tag: tag_of(req.headers.from())?,
        })
    }

    /// The dialog a response to our request belongs to: our tag is its From tag, the
    /// peer's its To tag (§12.1.2). A forked INVITE's responses differ in the To tag.
    pub fn of_received_response(resp: &Response) -> Option<DialogId> {
        Some(DialogId {
            call_id: resp.headers.call_id()?.clone(),
            local_tag: tag_of(resp.headers.from())?,
            remote_tag: tag_of(resp.headers.to())?,
        })
    }
}

/// The role this UA had in the INVITE that created the dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Uac,
    Uas,
}

/// §12: early until a 2xx, then confirmed; terminated by BYE, by a non-2xx final response
/// in the early state (§12.3), or by 481/408 to an in-dialog request (§12.2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialogState {
    Early,
    Confirmed,
    Terminated,
}

/// A message body with its media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl Body {
    /// An `application/sdp` body.
    pub fn sdp(bytes: impl Into<Vec<u8>>) -> Body {
        Body {
            content_type: "application/sdp".to_string(),
            bytes: bytes.into(),
        }
    }
}

/// True when the message carries SDP: a non-empty `application/sdp` body, or a multipart
/// body with such a part (SIP-T gateways send SDP beside ISUP this way, RFC 3204 §3). Only
/// SDP takes part in offer/answer here.
pub fn has_sdp(headers: &Headers, body: &[u8]) -> bool {
    if body.is_empty() {
        return false;
    }
    let Some(ct) = headers.content_type() else {
        return false;
    };
    let mut params = ct.split(';');
    let media = params.next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/sdp") {
        return true;
    }
    let is_multipart = media
        .get(..10)
        .is_some_and(|m| m.eq_ignore_ascii_case("multipart/"));
    let boundary = params.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"'))
    });
    match boundary {
        Some(b) if is_multipart && !b.is_empty() => multipart_has_sdp(body, b.as_bytes()),
        _ => false,
    }
}

/// Scans the parts of a multipart body (RFC 2046 §5.1.1) for a non-empty
/// `application/sdp` one. Nested multiparts are not searched.
fn multipart_has_sdp(body: &[u8], boundary: &[u8]) -> bool {
    let mut delimiter = b"--".to_vec();
    delimiter.extend_from_slice(boundary);
    let mut parts = split_on(body, &delimiter).skip(1);
    parts.any(|part| {
        if part.starts_with(b"--") {
            return false; // the close delimiter
        }
        let (head, content) = match find(part, b"\r\n\r\n") {
            Some(i) => (&part[..i], &part[i + 4..]),
            None => match find(part, b"\n\n") {
                Some(i) => (&part[..i], &part[i + 2..]),
                None => return false,
            },
        };
        let head = String::from_utf8_lossy(head);
        let sdp_part = head.lines().any(|line| {
            let Some((name, value)) = line.split_once(':') else {
                return false;
            };
            let name = name.trim();
            (name.eq_ignore_ascii_case("content-type") || name.eq_ignore_ascii_case("c"))
                && value
                    .split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/sdp"))
        });
        sdp_part && content.iter().any(|b| !b.is_ascii_whitespace())
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn split_on<'a>(hay: &'a [u8], sep: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(hay);
    std::iter::from_fn(move || {
        let r = rest?;
        match find(r, sep) {
            Some(i) => {
                rest = Some(&r[i + sep.len()..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// The first Contact address of a message (`*` is not a target).
fn contact_uri(headers: &Headers) -> Option<Uri> {
    headers.contacts().find_map(|c| match c {
        ContactValue::Addr(a) => Some(a.uri.clone()),
        ContactValue::Star => None,
    })
}

/// The UAC's route set: the response's Record-Route bottom-up (§12.1.2). RFC 5658 double
/// entries (one per interface of a multi-homed proxy) are kept as two hops, in order.
fn reversed_record_route(headers: &Headers) -> Vec<NameAddr> {
    let mut v: Vec<NameAddr> = headers.record_routes().cloned().collect();
    v.reverse();
    v
}

fn is_sips(uri: &Uri) -> bool {
    matches!(uri, Uri::Sip(u) if u.secure)
}

/// One dialog (§12) with its offer/answer and PRACK state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    id: DialogId,
    role: Role,
    state: DialogState,
    local_seq: Option<u32>,
    remote_seq: Option<u32>,
    local_uri: NameAddr,
    remote_uri: NameAddr,
    local_contact: Option<NameAddr>,
    remote_target: Uri,
    route_set: Vec<NameAddr>,
    secure: bool,
    /// CSeq of the INVITE we sent whose final response has not come (§14.1).
    local_invite: Option<u32>,
    /// CSeq of the INVITE we received and have not answered finally (§14.2).
    remote_invite: Option<u32>,
    /// CSeq of our INVITE whose 2xx came and awaits [`Dialog::ack`].
    ack_due: Option<u32>,
    /// The last ACK built, resent for each retransmitted 2xx (§13.2.2.4).
    last_ack: Option<Request>,
    /// CSeq of the INVITE we sent a 2xx to, until its ACK arrives.
    remote_ack_due: Option<u32>,
    /// A received target refresh request's method, CSeq and Contact, applied when we
    /// answer it with a 2xx (§12.2.2).
    pending_refresh: Option<(Method, u32, Uri)>,
    offer_answer: OfferAnswer,
    prack: Prack,
}

fn need<T>(v: Option<T>, what: &'static str) -> Result<T, DialogError> {
    v.ok_or(DialogError::MissingHeader(what))
}

impl Dialog {
    /// UAC: a dialog from the INVITE we sent and a response to it with a To tag (§12.1.2).
    ///
    /// The route set is the response's Record-Route reversed; the remote target is its
    /// Contact (the INVITE's Request-URI until a response supplies one); the dialog is
    /// early for a 1xx and confirmed for a 2xx. The response itself is then processed as by
    /// [`Dialog::handle_response`], whose outcome (PRACK due, SDP role) is returned with it.
    /// When a dialog with this response's [`DialogId`] already exists (an earlier 1xx with
    /// the same To tag), pass the response to that dialog instead.
    pub fn uac(
        invite: &Request,
        resp: &Response,
    ) -> Result<(Dialog, ResponseOutcome), DialogError> {
        if invite.method != Method::Invite {
            return Err(DialogError::NotInvite(invite.method.to_string()));
        }
        let code = resp.status.code();
        if !(101..300).contains(&code) {
            return Err(DialogError::NotDialogCreating(code));
        }
        let remote_uri = need(resp.headers.to(), "To")?.clone();
        if remote_uri.tag().is_none() {
            return Err(DialogError::NoToTag);
        }
        let local_uri = need(invite.headers.from(), "From")?.clone();
        let cseq = need(invite.headers.cseq(), "CSeq")?.seq;
        let id = DialogId {
            call_id: need(invite.headers.call_id(), "Call-ID")?.clone(),
            local_tag: need(tag_of(Some(&local_uri)), "From tag")?,
            remote_tag: need(tag_of(Some(&remote_uri)), "To tag")?,
        };
        let mut offer_answer = OfferAnswer::new();
        // The INVITE has already gone out, so whatever it carried stands.
        let _ = offer_answer.handle(&OaMessage {
            from: Side::Local,
            kind: OaKind::Request(Method::Invite),
            cseq,
            has_sdp: has_sdp(&invite.headers, &invite.body),
        });
        let mut dialog = Dialog {
            id,
            role: Role::Uac,
            state: DialogState::Early,
            local_seq: Some(cseq),
            remote_seq: None,
            local_uri,
            remote_uri,
            local_contact: invite.headers.contacts().find_map(|c| match c {
                ContactValue::Addr(a) => Some(a.clone()),
                ContactValue::Star => None,
            }),
            remote_target: contact_uri(&resp.headers).unwrap_or_else(|| invite.uri.clone()),
            route_set: reversed_record_route(&resp.headers),
            secure: is_sips(&invite.uri),
            local_invite: Some(cseq),
            remote_invite: None,
            ack_due: None,
            last_ack: None,
            remote_ack_due: None,
            pending_refresh: None,
            offer_answer,
            prack: Prack::new(1),
        };
        let outcome = dialog.handle_response(resp)?;
        Ok((dialog, outcome))
    }

    /// UAS: a dialog from a received INVITE and the tag we answer with (§12.1.1).
    ///
    /// The route set is the INVITE's Record-Route in order; the remote target its Contact;
    /// the remote CSeq its CSeq; the local CSeq stays empty until we send a request. The
    /// dialog is early; [`Dialog::record_sent_response`] with our 2xx confirms it.
    /// `local_contact` is the Contact we put in our responses and target refresh requests.
    pub fn uas(
        invite: &Request,
        local_tag: &str,
        local_contact: NameAddr,
    ) -> Result<Dialog, DialogError> {
        if invite.method != Method::Invite {
            return Err(DialogError::NotInvite(invite.method.to_string()));
        }
        let remote_uri = need(invite.headers.from(), "From")?.clone();
        let mut local_uri = need(invite.headers.to(), "To")?.clone();
        local_uri.params.set("tag", Some(local_tag));
        let cseq = need(invite.headers.cseq(), "CSeq")?.seq;
        let id = DialogId {
            call_id: need(invite.headers.call_id(), "Call-ID")?.clone(),
            local_tag: Tag(local_tag.to_string()),
            remote_tag: need(tag_of(Some(&remote_uri)), "From tag")?,
        };
        let remote_target = need(contact_uri(&invite.headers), "Contact")?;
        let mut offer_answer = OfferAnswer::new();
        let _ = offer_answer.handle(&OaMessage {
            from: Side::Remote,
            kind: OaKind::Request(Method::Invite),
            cseq,
            has_sdp: has_sdp(&invite.headers, &invite.body),
        });
        Ok(Dialog {
            id,
            role: Role::Uas,
            state: DialogState::Early,
            local_seq: None,
            remote_seq: Some(cseq),
            local_uri,
            remote_uri,
            local_contact: Some(local_contact),
            remote_target,
            route_set: invite.headers.record_routes().cloned().collect(),
            secure: is_sips(&invite.uri),
            local_invite: None,
            remote_invite: Some(cseq),
            ack_due: None,
            last_ack: None,
            remote_ack_due: None,
            pending_refresh: None,
            offer_answer,
            prack: Prack::new(1),
        })
    }

    /// Sets the first RSeq this UA issues (RFC 3262 §3 wants it random; the caller draws
    /// it). Returns false, changing nothing, once a reliable provisional response went out.
    pub fn set_first_rseq(&mut self, rseq: u32) -> bool {
        self.prack.set_first_rseq(rseq)
    }

    pub fn id(&self) -> &DialogId {
        &self.id
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn state(&self) -> DialogState {
        self.state
    }

    pub fn is_early(&self) -> bool {
        self.state == DialogState::Early
    }

    pub fn is_terminated(&self) -> bool {
        self.state == DialogState::Terminated
    }

    /// The last CSeq number we used, `None` for a UAS that has sent no request yet.
    pub fn local_seq(&self) -> Option<u32> {
        self.local_seq
    }

    /// The last CSeq number the peer used, `None` for a UAC before any peer request.
    pub fn remote_seq(&self) -> Option<u32> {
        self.remote_seq
    }

    /// Our From (as UAC) or To (as UAS), with our tag.
    pub fn local_uri(&self) -> &NameAddr {
        &self.local_uri
    }

    /// The peer's address with its tag.
    pub fn remote_uri(&self) -> &NameAddr {
        &self.remote_uri
    }

    /// Where in-dialog requests go: the peer's latest Contact.
    pub fn remote_target(&self) -> &Uri {
        &self.remote_target
    }

    /// Our Contact, sent in target refresh requests and dialog responses.
    pub fn local_contact(&self) -> Option<&NameAddr> {
        self.local_contact.as_ref()
    }

    /// The route set in the order requests carry it.
    pub fn route_set(&self) -> &[NameAddr] {
        &self.route_set
    }

    /// True when the dialog was set up over sips (§12.1.1): its requests must stay secure.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    pub fn offer_answer(&self) -> &OfferAnswer {
        &self.offer_answer
    }

    pub fn prack_state(&self) -> &Prack {
        &self.prack
    }

    /// True while an INVITE is in progress in either direction, so no re-INVITE may start
    /// (§14.1).
    pub fn invite_in_progress(&self) -> bool {
        self.local_invite.is_some() || self.remote_invite.is_some()
    }

    /// The ACK last built by [`Dialog::ack`], to resend when the 2xx is retransmitted.
    pub fn last_ack(&self) -> Option<&Request> {
        self.last_ack.as_ref()
    }

    /// True when a 2xx to our INVITE awaits its ACK.
    pub fn ack_due(&self) -> bool {
        self.ack_due.is_some()
    }

    /// Ends the dialog without a message (the caller gave up on it, e.g. after a 2xx
    /// retransmission timeout, §13.3.1.4). Not after sending CANCEL: a 2xx can still win
    /// that race (§9.1), and it must then be ACKed and the dialog ended with BYE, which a
    /// terminated dialog no longer builds. Wait for the 487 instead.
    pub fn terminate(&mut self) {
        self.state = DialogState::Terminated;
    }
}
