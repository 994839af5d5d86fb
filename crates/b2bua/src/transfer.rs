//! Transfer by a client without REFER toward the gateway (RFC 3515 REFER, RFC 5589 call
//! transfer, RFC 3891 Replaces).
//!
//! Gateways and IP-PBXs on the other side rarely take REFER, and passing one would show
//! them the client side's addresses. So a REFER from the client leg of a connected call
//! is served here:
//!
//! 1. 202 to the REFER and a NOTIFY `SIP/2.0 100 Trying` (RFC 3515 §2.4.4–§2.4.5); the
//!    gateway leg is re-INVITEd on hold (`a=sendonly`, our media address unchanged);
//! 2. a new client-side leg: our INVITE to the front end for the Refer-To target, from
//!    the PSTN party's identity (as for an inbound call), with `Referred-By` copied and,
//!    for attended transfer, the `Replaces` header from the Refer-To URI (RFC 3891 §3:
//!    the target's phone swaps its consultation call for ours);
//! 3. on its 2xx the new leg takes the transferor's place: the engine disconnects the old
//!    pair and connects the gateway leg to the new one, the gateway is re-INVITEd back to
//!    `sendrecv` (its media address on our side never changed), the transferor gets a
//!    NOTIFY `SIP/2.0 200 OK` with the subscription terminated, and then our BYE;
//! 4. on a failure (4xx–6xx, a timeout, no answer within [`NO_ANSWER`]) the transferor
//!    gets the failure in a terminating NOTIFY and the gateway is taken off hold: the
//!    original call goes on as it was.
//!
//! The gateway sees two re-INVITEs and nothing of the new party: its dialog, Call-ID,
//! tags and our media address stay the same.

use std::time::{Duration, Instant};

use sb_media_api::{Command, LegId};
use sb_sdp::Direction;
use sb_sip_core::dialog::Body;
use sb_sip_core::{response_for, Dialog, Peer, TsxId};
use sb_sip_msg::{CSeq, CallId, Header, Method, NameAddr, Request, Response, StatusCode, Uri};

use crate::call::{Call, CallDirection, Leg, LegKind, PendingReoffer, Phase};
use crate::config::Side;
use crate::core::{B2bua, B2buaEvent, Owner};
use crate::media::{self, IceCreds};
use crate::wire;

/// How long the transfer target may ring before we give up and the call goes back to
/// the transferor (the INVITE is cancelled; the transferor is told 408).
pub const NO_ANSWER: Duration = Duration::from_secs(45);

/// Expiry we grant the implicit subscription of a REFER (RFC 3515 §2.4.4).
const SUBSCRIPTION_S: u32 = 60;

/// A transfer in progress on a call.
#[derive(Debug)]
pub(crate) struct Transfer {
    /// The transferor's leg: the call's client-side leg, which sent the REFER.
    pub from_kind: LegKind,
    /// The REFER's CSeq: the `id` of the subscription it created (RFC 3515 §2.4.6).
    pub refer_seq: u32,
    /// The leg toward the transfer target, joining the call when it answers.
    pub leg: Leg,
    pub invite: Option<Request>,
    pub tsx: Option<TsxId>,
    /// When the target has rung long enough.
    pub deadline: Option<Instant>,
    /// We cancelled the target's INVITE because nobody answered.
    pub timed_out: bool,
    /// The transferor hung up after the 202 (RFC 5589 §6 allows it): no more NOTIFYs,
    /// and if the target fails, nobody is left for the gateway.
    pub transferor_gone: bool,
}

/// What a Refer-To names: the target to call and an RFC 3891 Replaces value.
struct ReferTarget {
    uri: Uri,
    replaces: Option<String>,
}

impl B2bua {
    /// A REFER inside a call. Only the client side may transfer, and only a connected
    /// call with no transfer in progress.
    pub(crate) fn on_refer(
        &mut self,
        now: Instant,
        call: &mut Call,
        kind: LegKind,
        tsx: TsxId,
        req: &Request,
    ) {
        let host = self.cfg.sip_addr.ip().to_string();
        let refuse = |b: &mut B2bua, call: &mut Call, code: u16, why: &str| {
            let resp = match call.leg_mut(kind).dialog.as_mut() {
                Some(d) => d.response(req, StatusCode(code)),
                None => response_for(req, StatusCode(code)),
            };
            let resp = wire::with_warning(resp, 399, &host, why);
            if let Some(d) = call.leg_mut(kind).dialog.as_mut() {
                let _ = d.record_sent_response(&resp);
            }
            b.respond(now, tsx, resp);
        };
        if call.leg(kind).side != Side::Client {
            // A gateway asking us to transfer: not offered (Allow does not list REFER).
            return refuse(self, call, 501, "transfer from the gateway side");
        }
        if call.phase != Phase::Connected {
            return refuse(self, call, 403, "the call is not answered yet");
        }
        if call.transfer.is_some() {
            // One transfer at a time; the transferor may try again when the NOTIFY
            // for the first says it is over.
            return refuse(self, call, 491, "a transfer is already in progress");
        }
        let target = match refer_target(req) {
            Ok(t) => t,
            Err((code, why)) => return refuse(self, call, code, why),
        };
        let Some(port) = self.ports.take() else {
            return refuse(self, call, 503, "no media ports left");
        };
        let refer_seq = req.headers.cseq().map_or(0, |c| c.seq);
        self.reply(now, call, kind, tsx, req, StatusCode(202), None);
        let peer = call.leg(kind).peer;
        let trying = call
            .leg_mut(kind)
            .live_dialog()
            .and_then(|d| notify(d, refer_seq, "SIP/2.0 100 Trying", false));
        if let Some(n) = trying {
            self.send_on_leg(now, peer, n, Owner::Fire);
        }
        self.reoffer_direction(now, call, kind.other(), Direction::SendOnly);
        let leg = self.target_leg(port);
        let mut transfer = Transfer {
            from_kind: kind,
            refer_seq,
            leg,
            invite: None,
            tsx: None,
            deadline: Some(now + NO_ANSWER),
            timed_out: false,
            transferor_gone: false,
        };
        let invite = self.target_invite(call, &mut transfer.leg, &target, req);
        let peer = transfer.leg.peer;
        let t = self.send_on_leg(now, peer, invite, Owner::TransferInvite(call.id));
        transfer.invite = t.and_then(|t| self.layer.request(t).cloned());
        transfer.tsx = t;
        call.transfer = Some(Box::new(transfer));
        if t.is_none() {
            let failed = StatusCode::SERVICE_UNAVAILABLE;
            self.transfer_failed(now, call, failed, "Service Unavailable");
        }
    }

    /// A new client-side leg toward the front end, on its own port and Call-ID.
    fn target_leg(&mut self, port: u16) -> Leg {
        let peer = Peer::new(self.cfg.client.transport, self.cfg.client.front_end);
        let leg_id = LegId(self.alloc_id());
        let tag = self.token();
        let call_id = CallId(self.token());
        let mut leg = Leg::new(Side::Client, peer, leg_id, tag, call_id);
        leg.port = port;
        leg.sdp_session = self.rng.next() >> 1;
        leg
    }

    /// Our INVITE to the transfer target: the PSTN party calls, as on an inbound call.
    fn target_invite(
        &mut self,
        call: &Call,
        leg: &mut Leg,
        target: &ReferTarget,
        refer: &Request,
    ) -> Request {
        let mut req = Request::new(Method::Invite, target.uri.clone());
        let (mut from, identity) = self.pstn_party(call);
        from.params.set("tag", Some(&leg.local_tag));
        req.headers.push(Header::MaxForwards(70));
        req.headers.push(Header::From(from));
        req.headers
            .push(Header::To(NameAddr::new(target.uri.clone())));
        req.headers.push(Header::CallId(leg.call_id.clone()));
        req.headers.push(Header::CSeq(CSeq {
            seq: 1,
            method: Method::Invite,
        }));
        let contact = wire::contact(self.cfg.sip_addr, leg.peer.transport);
        req.headers.push(wire::contact_header(&contact));
        // No 100rel: the target's provisionals carry nothing we act on.
        wire::capabilities_headers(&mut req.headers, &["timer"]);
        req.headers.0.extend(identity);
        if let Some(by) = refer.headers.other("Referred-By").next() {
            req.headers.push(wire::other("Referred-By", by));
        }
        if let Some(r) = &target.replaces {
            req.headers.push(wire::other("Replaces", r.clone()));
        }
        let caps = media::capabilities(&self.cfg, Side::Client, None);
        let opts = media::offer_options(&self.cfg, Side::Client, None);
        let ice = self
            .cfg
            .client
            .offer_ice
            .then(|| IceCreds::from_bytes(&self.ice_bytes()));
        let local = media::local_media(
            self.cfg.media.ip,
            leg.port,
            leg.sdp_session,
            self.keys_for(&mut leg.srtp_keys),
            ice.as_ref()
                .map(|i| i.local_ice(self.cfg.media.ip, leg.port)),
        );
        leg.ice = ice;
        let offer = sb_sdp::offer(&caps, &local, &opts);
        wire::set_sdp(&mut req.headers, &mut req.body, &offer);
        leg.local_sdp = Some(offer);
        req
    }

    /// Who the target sees calling: the PSTN party of the call, with the identity
    /// headers the front end trusts from us.
    fn pstn_party(&self, call: &Call) -> (NameAddr, Vec<Header>) {
        match (call.direction, call.b_invite.as_ref()) {
            (CallDirection::Inbound, Some(inv)) => {
                // The caller as our inbound INVITE to the front end named it.
                let mut from = inv
                    .headers
                    .from()
                    .cloned()
                    .unwrap_or_else(sb_gateways::anonymous_from);
                from.params.remove("tag");
                let mut extra = Vec::new();
                for name in ["P-Asserted-Identity", "Privacy"] {
                    for v in inv.headers.other(name) {
                        extra.push(wire::other(name, v));
                    }
                }
                (from, extra)
            }
            _ => {
                // Outbound: the party is the number the client called.
                let na = NameAddr::new(crate::setup::number_uri(
                    &call.number,
                    &self.cfg.client.domain,
                ));
                let pai = wire::other("P-Asserted-Identity", na.to_string());
                (na, vec![pai])
            }
        }
    }

    /// A response to the target's INVITE (or a timeout, as 408).
    pub(crate) fn on_transfer_response(
        &mut self,
        now: Instant,
        call: &mut Call,
        tsx: TsxId,
        resp: Response,
    ) -> bool {
        let current = call.transfer.as_ref().is_some_and(|t| t.tsx == Some(tsx));
        if !current {
            self.stale_transfer_2xx(now, call, &resp);
            return true;
        }
        let code = resp.status.code();
        if code < 200 {
            return true;
        }
        if !resp.status.is_success() {
            let t = call.transfer.as_ref().is_some_and(|t| t.timed_out);
            let (status, reason) = if t {
                (StatusCode::REQUEST_TIMEOUT, "Request Timeout".to_string())
            } else {
                (resp.status, resp.reason.clone())
            };
            return self.transfer_failed(now, call, status, &reason);
        }
        let Some(mut t) = call.transfer.take() else {
            return true;
        };
        let Some(invite) = t.invite.clone() else {
            return true;
        };
        let Ok((mut dialog, _)) = Dialog::uac(&invite, &resp) else {
            call.transfer = Some(t);
            return self.transfer_failed(now, call, StatusCode(502), "Bad Gateway");
        };
        let peer = t.leg.peer;
        if let Ok(ack) = dialog.ack(None) {
            self.send_on_leg(now, peer, ack, Owner::Fire);
        }
        t.leg.dialog = Some(dialog);
        let spec = match (
            t.leg.local_sdp.as_ref(),
            media::body_sdp(&resp.headers, &resp.body),
        ) {
            (Some(offer), Some(Ok(answer))) => media::leg_spec(
                offer,
                &answer,
                true,
                t.leg.ice.as_ref(),
                Side::Client,
                None,
                &self.cfg.media,
            )
            .ok()
            .map(|s| (s, media::declared(&answer))),
            _ => None,
        };
        let Some((spec, dir)) = spec else {
            // An answer we cannot use (RFC 6337 §3.1): hang the new leg up and keep
            // the call as it was.
            if let Some(Ok(bye)) = t.leg.live_dialog().map(|d| d.request(Method::Bye)) {
                self.send_on_leg(now, peer, bye, Owner::Fire);
            }
            call.transfer = Some(t);
            return self.transfer_failed(now, call, StatusCode(488), "Not Acceptable Here");
        };
        t.leg.remote_dir = dir;
        self.complete_transfer(now, call, *t, spec);
        true
    }

    /// The target answered: it takes the transferor's place in the call.
    fn complete_transfer(
        &mut self,
        now: Instant,
        call: &mut Call,
        t: Transfer,
        spec: sb_media_api::LegSpec,
    ) {
        let kind = t.from_kind;
        let gw_kind = kind.other();
        let mut old = std::mem::replace(call.leg_mut(kind), t.leg);
        if call.connected_media {
            self.media.push_back(Command::Disconnect {
                a: old.leg_id,
                b: call.leg(gw_kind).leg_id,
            });
            call.connected_media = false;
        }
        if old.spec.take().is_some() {
            self.media.push_back(Command::RemoveLeg { leg: old.leg_id });
        }
        self.set_leg_media(call, kind, spec);
        self.connect_media(call);
        self.by_tag.remove(&old.local_tag);
        let new_tag = call.leg(kind).local_tag.clone();
        self.by_tag.insert(new_tag, (call.id, kind));
        if old.port != 0 {
            self.ports.put(old.port);
        }
        if kind == LegKind::B {
            // Later 2xx retransmissions are matched against the leg's INVITE.
            call.b_invite = t.invite;
            call.b_tsx = t.tsx;
        }
        let resume = call.leg(kind).remote_dir;
        self.reoffer_direction(now, call, gw_kind, resume);
        if !t.transferor_gone {
            let peer = old.peer;
            if let Some(d) = old.live_dialog() {
                if let Some(n) = notify(d, t.refer_seq, "SIP/2.0 200 OK", true) {
                    self.send_on_leg(now, peer, n, Owner::Fire);
                }
                // RFC 5589 §6: the transferor would hang up now; we do it for it, so
                // a transferor that does not is never left on a dead dialog.
                if let Ok(bye) = d.request(Method::Bye) {
                    self.send_on_leg(now, peer, bye, Owner::Fire);
                }
            }
        }
        self.events
            .push_back(B2buaEvent::CallTransferred { call: call.id });
    }

    /// The target could not be reached: the transferor is told, the gateway resumes.
    /// Returns whether the call lives on.
    pub(crate) fn transfer_failed(
        &mut self,
        now: Instant,
        call: &mut Call,
        status: StatusCode,
        reason: &str,
    ) -> bool {
        let Some(t) = call.transfer.take() else {
            return true;
        };
        if t.leg.port != 0 {
            self.ports.put(t.leg.port);
        }
        let kind = t.from_kind;
        if t.transferor_gone {
            // Nobody is left for the gateway to talk to.
            return self.end_call(now, call, None, &[]);
        }
        let peer = call.leg(kind).peer;
        if let Some(d) = call.leg_mut(kind).live_dialog() {
            let frag = format!("SIP/2.0 {} {}", status.code(), reason);
            if let Some(n) = notify(d, t.refer_seq, &frag, true) {
                self.send_on_leg(now, peer, n, Owner::Fire);
            }
        }
        let dir = call.leg(kind).remote_dir;
        self.reoffer_direction(now, call, kind.other(), dir);
        true
    }

    /// The target has rung for [`NO_ANSWER`]: cancel; its 487 ends the transfer as 408.
    pub(crate) fn on_transfer_timer(&mut self, now: Instant, call: &mut Call) -> bool {
        let Some(t) = call.transfer.as_mut() else {
            return true;
        };
        if t.deadline.is_none_or(|d| d > now) {
            return true;
        }
        t.deadline = None;
        t.timed_out = true;
        match t.tsx {
            Some(tsx) if self.layer.cancel_with_headers(now, tsx, &[]).is_ok() => true,
            _ => self.transfer_failed(now, call, StatusCode::REQUEST_TIMEOUT, "Request Timeout"),
        }
    }

    /// The transferor sent BYE during the transfer: the call stays for the target.
    pub(crate) fn transferor_left(&mut self, call: &mut Call, kind: LegKind) -> bool {
        match call.transfer.as_mut() {
            Some(t) if t.from_kind == kind => {
                t.transferor_gone = true;
                if call.connected_media {
                    self.media.push_back(Command::Disconnect {
                        a: call.a.leg_id,
                        b: call.b.leg_id,
                    });
                    call.connected_media = false;
                }
                true
            }
            _ => false,
        }
    }

    /// The call ends while a transfer runs: cancel or hang up the target's leg.
    pub(crate) fn abandon_transfer(&mut self, now: Instant, call: &mut Call) {
        let Some(mut t) = call.transfer.take() else {
            return;
        };
        if t.leg.port != 0 {
            self.ports.put(t.leg.port);
        }
        if let Some(tsx) = t.tsx {
            let _ = self.layer.cancel_with_headers(now, tsx, &[]);
            if let Some(inv) = t.invite.take() {
                self.tsxs.insert(tsx, Owner::OrphanInvite);
                self.orphans.insert(tsx, inv);
            }
        }
        let peer = t.leg.peer;
        if let Some(Ok(bye)) = t.leg.live_dialog().map(|d| d.request(Method::Bye)) {
            self.send_on_leg(now, peer, bye, Owner::Fire);
        }
    }

    /// A 2xx from a target whose call ended while it rang crossed our CANCEL (RFC 3261
    /// §9.1): confirm the dialog and end it at once, so the target is not left waiting
    /// for an ACK.
    pub(crate) fn on_orphan_response(&mut self, now: Instant, tsx: TsxId, resp: &Response) {
        if !resp.status.is_success() {
            return;
        }
        let Some(inv) = self.orphans.get(&tsx).cloned() else {
            return;
        };
        let peer = Peer::new(self.cfg.client.transport, self.cfg.client.front_end);
        if let Ok((mut d, _)) = Dialog::uac(&inv, resp) {
            if let Ok(ack) = d.ack(None) {
                self.send_on_leg(now, peer, ack, Owner::Fire);
            }
            if let Ok(bye) = d.request(Method::Bye) {
                self.send_on_leg(now, peer, bye, Owner::Fire);
            }
        }
    }

    /// A retransmitted 2xx of a target's INVITE after the transfer completed: our ACK
    /// was lost, send it again (RFC 3261 §13.2.2.4).
    fn stale_transfer_2xx(&mut self, now: Instant, call: &mut Call, resp: &Response) {
        if !resp.status.is_success() {
            return;
        }
        let Some(did) = sb_sip_core::dialog::DialogId::of_received_response(resp) else {
            return;
        };
        for kind in [LegKind::A, LegKind::B] {
            let leg = call.leg(kind);
            if leg.dialog.as_ref().map(|d| d.id()) == Some(&did) {
                if let Some(ack) = leg.dialog.as_ref().and_then(|d| d.last_ack()).cloned() {
                    let peer = leg.peer;
                    self.send_on_leg(now, peer, ack, Owner::Fire);
                }
            }
        }
    }

    /// Queues and sends a re-offer with `dir` on a leg (hold or resume toward the
    /// gateway); one in flight is followed by this one when it completes.
    fn reoffer_direction(&mut self, now: Instant, call: &mut Call, kind: LegKind, dir: Direction) {
        call.leg_mut(kind).reoffer = Some(PendingReoffer {
            direction: dir,
            not_before: None,
        });
        self.send_reoffer(now, call, kind);
    }
}

/// A NOTIFY of the REFER's implicit subscription carrying a status line as
/// `message/sipfrag` (RFC 3515 §2.4.5, RFC 3420).
fn notify(d: &mut Dialog, refer_seq: u32, status_line: &str, terminated: bool) -> Option<Request> {
    let body = Body {
        content_type: "message/sipfrag;version=2.0".to_string(),
        bytes: format!("{status_line}\r\n").into_bytes(),
    };
    let mut n = d.request_with_body(Method::Notify, Some(body)).ok()?;
    n.headers
        .push(wire::other("Event", format!("refer;id={refer_seq}")));
    let state = if terminated {
        "terminated;reason=noresource".to_string()
    } else {
        format!("active;expires={SUBSCRIPTION_S}")
    };
    n.headers.push(wire::other("Subscription-State", state));
    Some(n)
}

/// The Refer-To of a REFER: a SIP or tel URI, its `?Replaces=` header taken out (RFC 3515
/// §2.1, RFC 3891 §3). Errors carry the status to refuse with.
fn refer_target(req: &Request) -> Result<ReferTarget, (u16, &'static str)> {
    let mut values = req.headers.other("Refer-To");
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err((400, "exactly one Refer-To is required"));
    };
    let na: NameAddr = value
        .trim()
        .parse()
        .map_err(|_| (400, "Refer-To does not parse"))?;
    let mut uri = na.uri;
    let mut replaces = None;
    match &mut uri {
        Uri::Sip(u) => {
            for (name, v) in std::mem::take(&mut u.headers) {
                if name.eq_ignore_ascii_case("Replaces") {
                    let raw = percent_decode(&v);
                    replaces = Some(raw);
                }
            }
            // A Refer-To may carry a method other than INVITE (RFC 3515 §2.1); the
            // URI parameter is not ours to pass on.
            if u.params
                .value("method")
                .is_some_and(|m| !m.eq_ignore_ascii_case("INVITE"))
            {
                return Err((403, "only INVITE transfers are served"));
            }
            u.params.remove("method");
        }
        Uri::Tel(_) => {}
        Uri::Other { .. } => return Err((416, "Refer-To is not a SIP or tel URI")),
    }
    Ok(ReferTarget { uri, replaces })
}

/// `%HH` escapes in a URI header value decoded once (RFC 3261 §19.1.1).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
