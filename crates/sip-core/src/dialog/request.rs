//! Building requests inside a dialog (RFC 3261 §12.2.1.1), the ACK for a 2xx
//! (§13.2.2.4) and PRACK (RFC 3262 §7.2).

use sb_sip_msg::{CSeq, Header, Method, NameAddr, Request, Uri};

use super::error::DialogError;
use super::offer_answer::{OaKind, OaMessage, Side};
use super::prack::RAck;
use super::{has_sdp, Body, Dialog, DialogState};

/// Max-Forwards of a request we originate (§8.1.1.6).
const MAX_FORWARDS: u32 = 70;

/// Methods whose request refreshes the target and so carries our Contact (§12.2.1.1,
/// RFC 3311 §5.1, RFC 6665 §4 for SUBSCRIBE/NOTIFY, RFC 3515 for REFER).
fn is_target_refresh(m: &Method) -> bool {
    matches!(
        m,
        Method::Invite | Method::Update | Method::Subscribe | Method::Notify | Method::Refer
    )
}

/// A loose router puts `lr` in its URI (§16.12.1.1, RFC 3261 §19.1.1).
fn is_loose(route: &NameAddr) -> bool {
    match &route.uri {
        Uri::Sip(u) => u.params.contains("lr"),
        // Only SIP URIs route; anything else cannot be a strict router's Request-URI.
        _ => true,
    }
}

/// A route URI made fit for the Request-URI: §19.1.1 Table 1 allows neither `method` nor
/// URI headers there.
fn as_request_uri(uri: &Uri) -> Uri {
    let mut uri = uri.clone();
    if let Uri::Sip(u) = &mut uri {
        u.params.remove("method");
        u.headers.clear();
    }
    uri
}

impl Dialog {
    /// The Request-URI and Route headers of the next request (§12.2.1.1).
    ///
    /// * Empty route set: the remote target, no Route.
    /// * First route is a loose router (`;lr`): the remote target, Route = the route set.
    /// * First route is a strict router (RFC 2543): it becomes the Request-URI, the rest
    ///   follow as Route, and the remote target goes last, so the strict router can put it
    ///   back into the Request-URI when it is the next hop.
    pub fn request_target(&self) -> (Uri, Vec<NameAddr>) {
        match self.route_set.first() {
            None => (self.remote_target.clone(), Vec::new()),
            Some(first) if is_loose(first) => (self.remote_target.clone(), self.route_set.clone()),
            Some(first) => {
                let mut routes: Vec<NameAddr> = self.route_set[1..].to_vec();
                routes.push(NameAddr::new(self.remote_target.clone()));
                (as_request_uri(&first.uri), routes)
            }
        }
    }

    fn build(&self, method: Method, seq: u32, body: Option<Body>) -> Request {
        let (uri, routes) = self.request_target();
        let mut req = Request::new(method.clone(), uri);
        let h = &mut req.headers;
        h.0.extend(routes.into_iter().map(Header::Route));
        h.push(Header::MaxForwards(MAX_FORWARDS));
        h.push(Header::From(self.local_uri.clone()));
        h.push(Header::To(self.remote_uri.clone()));
        h.push(Header::CallId(self.id.call_id.clone()));
        h.push(Header::CSeq(CSeq { seq, method }));
        if is_target_refresh(&req.method) {
            if let Some(c) = &self.local_contact {
                req.headers
                    .push(Header::Contact(sb_sip_msg::ContactValue::Addr(c.clone())));
            }
        }
        if let Some(b) = body {
            req.headers.push(Header::ContentType(b.content_type));
            req.body = b.bytes;
        }
        req
    }

    fn next_seq(&self) -> Result<u32, DialogError> {
        match self.local_seq {
            // A UAS's first request: any value below 2^31 (§8.1.1.5); 1 keeps traces short.
            None => Ok(1),
            Some(s) => s.checked_add(1).ok_or(DialogError::CSeqExhausted),
        }
    }

    /// Builds the next request of `method` without a body (§12.2.1.1). See
    /// [`Dialog::request_with_body`].
    pub fn request(&mut self, method: Method) -> Result<Request, DialogError> {
        self.request_with_body(method, None)
    }

    /// Builds the next request of `method` and commits to sending it: the local CSeq moves
    /// on, an INVITE counts as in progress, a BYE ends the dialog (§15.1.1: the caller
    /// considers the session over once BYE is handed to its transaction).
    ///
    /// Refused, with nothing changed: CANCEL ([`DialogError::CancelIsNotInDialog`], §9.1),
    /// ACK and PRACK (their own builders), any request on a terminated dialog, a re-INVITE
    /// while an INVITE is in progress either way (§14.1), and an SDP offer while an offer is
    /// outstanding (RFC 6337 §3) — all [`DialogError::OfferPending`].
    pub fn request_with_body(
        &mut self,
        method: Method,
        body: Option<Body>,
    ) -> Result<Request, DialogError> {
        match method {
            Method::Cancel => return Err(DialogError::CancelIsNotInDialog),
            Method::Ack => return Err(DialogError::UseDedicatedBuilder("ACK")),
            Method::Prack => return Err(DialogError::UseDedicatedBuilder("PRACK")),
            _ => {}
        }
        if self.state == DialogState::Terminated {
            return Err(DialogError::Terminated);
        }
        if method == Method::Invite && self.invite_in_progress() {
            return Err(DialogError::OfferPending);
        }
        let seq = self.next_seq()?;
        let req = self.build(method, seq, body);
        self.commit(&req, seq)?;
        Ok(req)
    }

    /// Runs offer/answer on a copy, so a refused request changes nothing, then commits.
    fn commit(&mut self, req: &Request, seq: u32) -> Result<(), DialogError> {
        let mut oa = self.offer_answer.clone();
        oa.handle(&OaMessage {
            from: Side::Local,
            kind: OaKind::Request(req.method.clone()),
            cseq: seq,
            has_sdp: has_sdp(&req.headers, &req.body),
        })?;
        self.offer_answer = oa;
        if req.method != Method::Ack {
            self.local_seq = Some(seq);
        }
        match req.method {
            Method::Invite => self.local_invite = Some(seq),
            Method::Bye => self.state = DialogState::Terminated,
            _ => {}
        }
        Ok(())
    }

    /// The ACK for the 2xx to our INVITE (§13.2.2.4): the INVITE's CSeq number with method
    /// ACK, the dialog's route set and remote target, and the answer when the 2xx carried
    /// the offer. The ACK is kept ([`Dialog::last_ack`]) to resend for each retransmitted
    /// 2xx; the caller gives it a Via with a new branch.
    pub fn ack(&mut self, body: Option<Body>) -> Result<Request, DialogError> {
        let seq = self.ack_due.ok_or(DialogError::NoAckDue)?;
        let req = self.build(Method::Ack, seq, body);
        self.commit(&req, seq)?;
        self.ack_due = None;
        self.last_ack = Some(req.clone());
        Ok(req)
    }

    /// A PRACK for the reliable provisional response `rack` names (RFC 3262 §7.2), with
    /// the answer when that response carried an offer (or a new offer, RFC 3262 §5).
    pub fn prack(&mut self, rack: &RAck, body: Option<Body>) -> Result<Request, DialogError> {
        if self.state == DialogState::Terminated {
            return Err(DialogError::Terminated);
        }
        let seq = self.next_seq()?;
        let mut req = self.build(Method::Prack, seq, body);
        req.headers.push(rack.header());
        self.commit(&req, seq)?;
        Ok(req)
    }
}
