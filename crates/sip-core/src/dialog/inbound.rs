//! What reaches a dialog from the peer (RFC 3261 §12.2.2, §12.2.1.2, §13.2.2.4) and the
//! responses the UA sends to the peer's requests.

use sb_sip_msg::{ContactValue, Header, Method, Request, Response, StatusCode};

use super::error::DialogError;
use super::offer_answer::{OaKind, OaMessage, SdpRole, Side};
use super::prack::{is_reliable, Provisional, RAck};
use super::{contact_uri, has_sdp, need, reversed_record_route, Dialog, DialogState};
use crate::transaction::response_for;

/// What a response to one of our requests meant for the dialog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponseOutcome {
    /// What its SDP is, if it had any.
    pub sdp: Option<SdpRole>,
    /// A new reliable provisional response: send [`Dialog::prack`] with this RAck.
    pub prack: Option<RAck>,
    /// A repeat that changes nothing: a retransmitted reliable 1xx (its PRACK is already
    /// under way), or a retransmitted 2xx to our INVITE (resend [`Dialog::last_ack`]).
    pub retransmission: bool,
    /// A reliable 1xx that skipped an RSeq, or a response to an INVITE long finished:
    /// dropped (RFC 3262 §4).
    pub discarded: bool,
    /// The response broke offer/answer (a 2xx without the answer or the solicited offer):
    /// ACK it, then end the session with BYE (RFC 6337 §3.1).
    pub offer_answer_error: Option<DialogError>,
}

impl Dialog {
    fn matches_request(&self, req: &Request) -> bool {
        req.headers.call_id() == Some(&self.id.call_id)
            && req.headers.to().and_then(|t| t.tag()) == Some(self.id.local_tag.as_str())
            && req.headers.from().and_then(|f| f.tag()) == Some(self.id.remote_tag.as_str())
    }

    fn matches_response(&self, resp: &Response) -> bool {
        resp.headers.call_id() == Some(&self.id.call_id)
            && resp.headers.from().and_then(|f| f.tag()) == Some(self.id.local_tag.as_str())
            && resp.headers.to().and_then(|t| t.tag()) == Some(self.id.remote_tag.as_str())
    }

    /// A request from the peer inside this dialog (§12.2.2). `Ok` carries the role of its
    /// SDP; `Err` is the refusal to send ([`DialogError::response`]).
    ///
    /// * Matched on Call-ID, To tag (ours) and From tag (theirs), else 481.
    /// * The CSeq must be above the last remote one, else 500 (§12.2.2). Equal counts as
    ///   out of order too: a retransmission is absorbed by the transaction layer and never
    ///   gets here. ACK (which repeats its INVITE's number) and CANCEL (not a dialog
    ///   request, §9.1; passing it here changes nothing) are exempt.
    /// * A re-INVITE while our INVITE is in progress: 491; while the peer's previous INVITE
    ///   awaits our final response: 500 with Retry-After (§14.2). An offer (re-INVITE,
    ///   UPDATE, PRACK) while an offer is outstanding: the same two answers (RFC 3311 §5.2).
    /// * A PRACK that names no unacknowledged reliable 1xx: 481 (RFC 3262 §3).
    /// * A target refresh (re-INVITE, UPDATE) updates the remote target from its Contact
    ///   when we answer it with 2xx ([`Dialog::record_sent_response`]).
    /// * BYE ends the dialog. In an early dialog the UAS also owes the pending INVITE a
    ///   487 (§15.1.2); that response is the caller's to send.
    pub fn handle_request(&mut self, req: &Request) -> Result<Option<SdpRole>, DialogError> {
        if !self.matches_request(req) {
            return Err(DialogError::NoSuchDialog);
        }
        let seq = need(req.headers.cseq(), "CSeq")?.seq;
        let sdp = has_sdp(&req.headers, &req.body);
        let oa = |method: Method| OaMessage {
            from: Side::Remote,
            kind: OaKind::Request(method),
            cseq: seq,
            has_sdp: sdp,
        };
        match req.method {
            Method::Cancel => return Ok(None),
            Method::Ack => {
                if self.remote_ack_due != Some(seq) {
                    // A stray or repeated ACK: nothing to confirm.
                    return Ok(None);
                }
                self.remote_ack_due = None;
                return self.offer_answer.handle(&oa(Method::Ack));
            }
            _ => {}
        }
        if self.state == DialogState::Terminated {
            return Err(DialogError::Terminated);
        }
        if let Some(last) = self.remote_seq {
            if seq <= last {
                return Err(DialogError::CSeqOutOfOrder { got: seq, last });
            }
        }
        self.remote_seq = Some(seq);
        match &req.method {
            Method::Invite => {
                if self.local_invite.is_some() {
                    return Err(DialogError::RequestPending);
                }
                if self.remote_invite.is_some() {
                    return Err(DialogError::RetryLater);
                }
                let role = self.offer_answer.handle(&oa(Method::Invite))?;
                self.remote_invite = Some(seq);
                self.note_refresh(req, seq);
                Ok(role)
            }
            Method::Update => {
                let role = self.offer_answer.handle(&oa(Method::Update))?;
                self.note_refresh(req, seq);
                Ok(role)
            }
            Method::Prack => {
                // Both checks before either commits: a PRACK refused for its offer must
                // not count as acknowledging the provisional response.
                let mut next = self.offer_answer.clone();
                let role = next.handle(&oa(Method::Prack))?;
                self.prack.handle_prack(req)?;
                self.offer_answer = next;
                Ok(role)
            }
            Method::Bye => {
                self.state = DialogState::Terminated;
                Ok(None)
            }
            other => self.offer_answer.handle(&oa(other.clone())),
        }
    }

    fn note_refresh(&mut self, req: &Request, seq: u32) {
        self.pending_refresh = contact_uri(&req.headers).map(|uri| (req.method.clone(), seq, uri));
    }

    /// Builds a response to a request of this dialog: the To tag is ours (§12.1.1,
    /// §8.2.6.2); a 101–299 to INVITE or a 2xx to UPDATE carries our Contact (§12.1.1,
    /// RFC 3311 §5.2), and a dialog-creating response copies the INVITE's Record-Route
    /// (§12.1.1).
    pub fn response(&self, req: &Request, status: StatusCode) -> Response {
        let mut resp = response_for(req, status);
        if let Some(to) = resp.headers.to_mut() {
            if to.tag().is_none() {
                to.params.set("tag", Some(self.id.local_tag.as_str()));
            }
        }
        let code = status.code();
        let creating = req.method == Method::Invite && (101..300).contains(&code);
        if creating {
            resp.headers.0.extend(
                req.headers
                    .record_routes()
                    .cloned()
                    .map(Header::RecordRoute),
            );
        }
        let refresh_ok = req.method == Method::Update && status.is_success();
        if creating || refresh_ok {
            if let Some(c) = &self.local_contact {
                resp.headers
                    .push(Header::Contact(ContactValue::Addr(c.clone())));
            }
        }
        resp
    }

    /// The UA is sending `resp` to a request it received in this dialog (or to the INVITE
    /// that created it). Keeps the INVITE bookkeeping, applies a target refresh on 2xx
    /// (§12.2.2), confirms the dialog on a 2xx to the initial INVITE and ends it on a
    /// non-2xx final one (§12.3), and records SDP in offer/answer.
    ///
    /// The response is on its way whatever this says, so the dialog state always moves.
    /// An error says the response broke offer/answer (an SDP offer while one is
    /// outstanding, [`DialogError::OfferPending`]; a 2xx without the answer or offer it
    /// owes): the caller's mistake, which the peer will likely answer with BYE. A reliable
    /// 1xx must have been through [`Dialog::make_reliable`] first.
    pub fn record_sent_response(
        &mut self,
        resp: &Response,
    ) -> Result<Option<SdpRole>, DialogError> {
        let cseq = need(resp.headers.cseq(), "CSeq")?;
        let (seq, method) = (cseq.seq, cseq.method.clone());
        let status = resp.status;
        let oa = self.offer_answer.handle(&OaMessage {
            from: Side::Local,
            kind: OaKind::Response {
                method: method.clone(),
                status,
                reliable: is_reliable(resp),
            },
            cseq: seq,
            has_sdp: has_sdp(&resp.headers, &resp.body),
        });
        if status.is_provisional() {
            return oa;
        }
        if method == Method::Invite && self.remote_invite == Some(seq) {
            self.remote_invite = None;
            if status.is_success() {
                self.remote_ack_due = Some(seq);
                if self.state == DialogState::Early {
                    self.state = DialogState::Confirmed;
                }
            } else if self.state == DialogState::Early {
                self.state = DialogState::Terminated;
            }
        }
        if let Some((m, s, uri)) = self.pending_refresh.take() {
            if m == method && s == seq && status.is_success() {
                self.remote_target = uri;
            } else if s != seq {
                self.pending_refresh = Some((m, s, uri));
            }
        }
        oa
    }

    /// UAS: makes a 101–199 response to the INVITE reliable (RFC 3262 §3): adds
    /// `Require: 100rel` and the next RSeq. Then send it and pass it to
    /// [`Dialog::record_sent_response`]; retransmit it until [`Dialog::handle_request`]
    /// accepts the matching PRACK.
    pub fn make_reliable(&mut self, resp: &mut Response) -> Result<RAck, DialogError> {
        self.prack.issue(resp)
    }

    /// A response to a request this dialog sent (including the INVITE that created it,
    /// for every response after the first). Refused with [`DialogError::NoSuchDialog`] when
    /// its Call-ID or tags are another dialog's (a forked INVITE's other branch).
    ///
    /// * 1xx to our INVITE: a new Contact moves the remote target; a reliable one is
    ///   PRACKed once, in RSeq order (RFC 3262 §4).
    /// * 2xx to our INVITE: confirms the dialog, recomputes the route set from its
    ///   Record-Route when the dialog was early (§13.2.2.4), refreshes the remote target
    ///   (§12.2.1.2) and makes an ACK due ([`Dialog::ack`]).
    /// * non-2xx final to the initial INVITE: ends the early dialog (§12.3).
    /// * 2xx to UPDATE: refreshes the remote target (RFC 3311 §5.1).
    /// * 481 or 408 to any in-dialog request: ends the dialog (§12.2.1.2).
    pub fn handle_response(&mut self, resp: &Response) -> Result<ResponseOutcome, DialogError> {
        if !self.matches_response(resp) {
            return Err(DialogError::NoSuchDialog);
        }
        let cseq = need(resp.headers.cseq(), "CSeq")?;
        let (seq, method) = (cseq.seq, cseq.method.clone());
        let status = resp.status;
        let mut out = ResponseOutcome::default();
        if self.state == DialogState::Terminated {
            out.discarded = true;
            return Ok(out);
        }
        let mut reliable = false;
        if method == Method::Invite {
            if self.local_invite != Some(seq) {
                let repeat = status.is_success()
                    && (self.ack_due == Some(seq)
                        || self
                            .last_ack
                            .as_ref()
                            .and_then(|a| a.headers.cseq())
                            .is_some_and(|c| c.seq == seq));
                out.retransmission = repeat;
                out.discarded = !repeat;
                return Ok(out);
            }
            if status.is_provisional() {
                match self.prack.handle_provisional(resp)? {
                    Provisional::Unreliable => {}
                    Provisional::New(rack) => {
                        reliable = true;
                        out.prack = Some(rack);
                    }
                    Provisional::Retransmission => {
                        out.retransmission = true;
                        return Ok(out);
                    }
                    Provisional::OutOfOrder => {
                        out.discarded = true;
                        return Ok(out);
                    }
                }
                if self.state == DialogState::Early {
                    if let Some(uri) = contact_uri(&resp.headers) {
                        self.remote_target = uri;
                    }
                }
            } else if status.is_success() {
                self.local_invite = None;
                self.ack_due = Some(seq);
                if self.state == DialogState::Early {
                    self.state = DialogState::Confirmed;
                    self.route_set = reversed_record_route(&resp.headers);
                }
                if let Some(uri) = contact_uri(&resp.headers) {
                    self.remote_target = uri;
                }
            } else {
                self.local_invite = None;
                if self.state == DialogState::Early {
                    self.state = DialogState::Terminated;
                }
            }
        } else if status.is_success() && method == Method::Update {
            if let Some(uri) = contact_uri(&resp.headers) {
                self.remote_target = uri;
            }
        }
        if matches!(status.code(), 408 | 481) {
            self.state = DialogState::Terminated;
        }
        match self.offer_answer.handle(&OaMessage {
            from: Side::Remote,
            kind: OaKind::Response {
                method,
                status,
                reliable,
            },
            cseq: seq,
            has_sdp: has_sdp(&resp.headers, &resp.body),
        }) {
            Ok(role) => out.sdp = role,
            Err(e) => out.offer_answer_error = Some(e),
        }
        Ok(out)
    }

    /// A request this dialog built got no response: its transaction timed out or the
    /// transport failed. Handled as the 408 the transaction layer stands in for
    /// (§8.1.3.1), which ends the dialog (§12.2.1.2) and withdraws an offer it carried.
    pub fn handle_request_failed(&mut self, method: Method, cseq: u32) -> ResponseOutcome {
        let mut r = Response::new(StatusCode::REQUEST_TIMEOUT);
        r.headers.push(Header::From(self.local_uri.clone()));
        r.headers.push(Header::To(self.remote_uri.clone()));
        r.headers.push(Header::CallId(self.id.call_id.clone()));
        r.headers
            .push(Header::CSeq(sb_sip_msg::CSeq { seq: cseq, method }));
        // Built from our own fields, so it always matches this dialog.
        self.handle_response(&r).unwrap_or_default()
    }
}
