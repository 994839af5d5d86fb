//! Call set-up in both directions (RFC 3261 §13, §16.7-style failover, RFC 3326 Reason).
//!
//! An INVITE without a To tag starts a call. Where it came from decides the direction:
//! from a provisioned gateway (by source IP) it is inbound and goes to the front end;
//! from the front end it is outbound and goes to a gateway of the pool its Request-URI
//! names (`;pool=NAME`, else the configured default pool). Anyone else gets 403.
//!
//! The B leg is a new dialog: new Call-ID, From tag, Via and Contact, our own SDP offer.
//! Nothing of the A leg's Via, Record-Route, Route, Contact, Call-ID, tags or SDP
//! addresses reaches the B leg (topology hiding): only the called and calling numbers,
//! through the gateway's number rules and identity profile.

use std::time::Instant;

use sb_gateways::{inbound_caller, outbound_identity, CallerIdentity, NumberRole, PoolName};
use sb_media_api::{Command, LegId};
use sb_sip_core::dialog::{DialogId, Refresher, SessionTimerConfig};
use sb_sip_core::{response_for, Dialog, Peer, TsxId, Uas2xxRetransmitter};
use sb_sip_msg::{
    CSeq, CallId, Header, Method, NameAddr, Params, Request, Response, SipUri, StatusCode, Uri,
};

use crate::call::{Call, CallDirection, Failure, Leg, LegKind, Phase};
use crate::config::Side;
use crate::core::{B2bua, B2buaEvent, Owner};
use crate::media::{self, IceCreds};
use crate::wire;

/// Max-Forwards of the B leg's INVITE when the A leg's is higher (§8.1.1.6).
const MAX_FORWARDS: u32 = 70;

impl B2bua {
    pub(crate) fn on_request(&mut self, now: Instant, tsx: TsxId, req: Request, from: Peer) {
        let to_tag = req.headers.to().and_then(|t| t.tag()).map(str::to_string);
        if let Some(tag) = to_tag {
            match self.by_tag.get(&tag).copied() {
                Some((id, kind)) => {
                    self.with_call(id, |b, call| b.on_in_dialog(now, call, kind, tsx, &req))
                }
                None => self.respond(
                    now,
                    tsx,
                    response_for(&req, StatusCode::CALL_DOES_NOT_EXIST),
                ),
            }
            return;
        }
        match req.method {
            Method::Invite => self.on_new_invite(now, tsx, req, from),
            Method::Options => {
                let mut resp = response_for(&req, StatusCode::OK);
                wire::capabilities_headers(&mut resp.headers, &[]);
                self.respond(now, tsx, resp);
            }
            Method::Bye | Method::Info | Method::Update | Method::Prack => {
                self.respond(
                    now,
                    tsx,
                    response_for(&req, StatusCode::CALL_DOES_NOT_EXIST),
                );
            }
            _ => {
                let mut resp = response_for(&req, StatusCode::METHOD_NOT_ALLOWED);
                wire::capabilities_headers(&mut resp.headers, &[]);
                self.respond(now, tsx, resp);
            }
        }
    }

    fn refuse(&mut self, now: Instant, tsx: TsxId, req: &Request, status: u16, why: &str) {
        let resp = response_for(req, StatusCode(status));
        let host = self.cfg.sip_addr.ip().to_string();
        let resp = wire::with_warning(resp, 399, &host, why);
        self.respond(now, tsx, resp);
    }

    fn on_new_invite(&mut self, now: Instant, tsx: TsxId, req: Request, from: Peer) {
        // 100 at once: the B leg may take a while, and the caller's Timer A must stop.
        self.respond(now, tsx, response_for(&req, StatusCode::TRYING));
        if req.headers.max_forwards() == Some(0) {
            return self.refuse(now, tsx, &req, 483, "Max-Forwards reached zero");
        }
        let gateway = self.gateway_by_source(&from);
        let direction = match &gateway {
            Some(_) => CallDirection::Inbound,
            None if from.addr.ip() == self.cfg.client.front_end.ip() => CallDirection::Outbound,
            None => return self.refuse(now, tsx, &req, 403, "not a gateway or the front end"),
        };
        let offer = match media::body_sdp(&req.headers, &req.body) {
            Some(Ok(sd)) => Some(sd),
            Some(Err(e)) => return self.refuse(now, tsx, &req, 400, &format!("bad SDP: {e}")),
            None => None,
        };
        let Some(number) = sb_gateways::uri_number(&req.uri) else {
            return self.refuse(now, tsx, &req, 404, "the Request-URI carries no number");
        };
        let (a_port, b_port) = (self.ports.take(), self.ports.take());
        let (Some(a_port), Some(b_port)) = (a_port, b_port) else {
            if let Some(p) = a_port {
                self.ports.put(p);
            }
            return self.refuse(now, tsx, &req, 503, "no media ports left");
        };
        let (a_side, b_side) = match direction {
            CallDirection::Outbound => (Side::Client, Side::Gateway),
            CallDirection::Inbound => (Side::Gateway, Side::Client),
        };
        let id = crate::ids::CallRef(self.alloc_id());
        let session = self.new_session();
        let a_tag = self.token();
        let b_tag = self.token();
        let a_call_id = req
            .headers
            .call_id()
            .cloned()
            .unwrap_or_else(|| CallId(String::new()));
        let mut a = Leg::new(
            a_side,
            from,
            LegId(self.alloc_id()),
            a_tag.clone(),
            a_call_id,
        );
        a.port = a_port;
        a.sdp_session = self.rng.next() >> 1;
        a.gateway = gateway;
        let b_call_id = CallId(self.token());
        let b_peer = Peer::new(self.cfg.client.transport, self.cfg.client.front_end);
        let mut b = Leg::new(
            b_side,
            b_peer,
            LegId(self.alloc_id()),
            b_tag.clone(),
            b_call_id,
        );
        b.port = b_port;
        b.sdp_session = self.rng.next() >> 1;
        let a_contact = wire::contact(self.cfg.sip_addr, from.transport);
        let mut call = Call {
            id,
            direction,
            session,
            session_created: false,
            phase: Phase::Setup,
            a,
            b,
            a_invite: req.clone(),
            a_tsx: tsx,
            a_offer: None,
            a_answer: None,
            b_invite: None,
            b_tsx: None,
            failover: Vec::new(),
            number: number.clone(),
            last_failure: None,
            ringback: false,
            early_answer_sent: false,
            connected_media: false,
            give_up_at: None,
        };
        self.by_tag.insert(a_tag.clone(), (id, LegKind::A));
        self.by_tag.insert(b_tag, (id, LegKind::B));
        self.tsxs.insert(tsx, Owner::AInvite(id));
        match Dialog::uas(&req, &a_tag, a_contact) {
            Ok(d) => call.a.dialog = Some(d),
            Err(e) => {
                self.refuse(now, tsx, &req, 400, &e.to_string());
                self.forget(&mut call, Some(StatusCode::BAD_REQUEST));
                return;
            }
        }
        self.events.push_back(B2buaEvent::CallStarted {
            call: id,
            direction,
            number,
        });
        if let Some(offer) = offer {
            if let Err((code, why)) = self.answer_a(&mut call, offer) {
                let resp = response_for(&req, StatusCode(code));
                let host = self.cfg.sip_addr.ip().to_string();
                let resp = wire::with_warning(resp, 305, &host, &why);
                self.respond(now, tsx, resp);
                self.forget(&mut call, Some(StatusCode(code)));
                return;
            }
        }
        let keep = match direction {
            CallDirection::Outbound => self.start_outbound(now, &mut call),
            CallDirection::Inbound => self.start_inbound(now, &mut call),
        };
        if keep {
            self.calls.insert(id, call);
        }
    }

    /// Our answer to the A leg's offer, made once and sent in 183 and 200 alike.
    fn answer_a(
        &mut self,
        call: &mut Call,
        offer: sb_sdp::SessionDescription,
    ) -> Result<(), (u16, String)> {
        let gw = call
            .a
            .gateway
            .as_ref()
            .and_then(|g| self.cfg.gateways.gateway(g))
            .cloned();
        let caps = media::capabilities(&self.cfg, call.a.side, gw.as_ref());
        let is_ufrag = |a: &sb_sdp::Attribute| matches!(a, sb_sdp::Attribute::IceUfrag(_));
        let wants_ice = offer.attributes.iter().any(is_ufrag)
            || offer
                .media
                .iter()
                .any(|m| m.attributes.iter().any(is_ufrag));
        let ice = wants_ice.then(|| IceCreds::from_bytes(&self.ice_bytes()));
        let local = media::local_media(
            self.cfg.media.ip,
            call.a.port,
            call.a.sdp_session,
            self.key_material(),
            ice.as_ref()
                .map(|i| i.local_ice(self.cfg.media.ip, call.a.port)),
        );
        let ans = sb_sdp::answer(&offer, &caps, &local).map_err(|e| (488, e.to_string()))?;
        let spec = media::leg_spec(
            &offer,
            &ans.sdp,
            false,
            ice.as_ref(),
            call.a.side,
            gw.as_ref(),
            &self.cfg.media,
        )
        .map_err(|e| (488, e.to_string()))?;
        call.a.remote_dir = media::declared(&offer);
        call.a.ice = ice;
        call.a.pending_spec = Some(spec);
        call.a.local_sdp = Some(ans.sdp.clone());
        call.a_offer = Some(offer);
        call.a_answer = Some(ans.sdp);
        Ok(())
    }

    // ---- outbound: client → gateway

    fn start_outbound(&mut self, now: Instant, call: &mut Call) -> bool {
        let pool = wire::pool_param(&call.a_invite)
            .map(PoolName::new)
            .or_else(|| self.cfg.default_pool.clone());
        let candidates = pool
            .as_ref()
            .and_then(|p| self.cfg.gateways.pool(p))
            .map(|p| sb_gateways::candidates(p, &self.monitor))
            .unwrap_or_default();
        if pool.is_none() || candidates.is_empty() {
            let st = StatusCode::SERVICE_UNAVAILABLE;
            self.final_to_a(now, call, st, &[wire::NO_CIRCUIT.to_string()]);
            self.forget(call, Some(st));
            return false;
        }
        call.failover = candidates;
        call.failover.reverse();
        self.try_next_gateway(now, call)
    }

    /// Calls the next gateway of the pool; with none left, the caller gets 503 with the
    /// last gateway's Reason (or Q.850 cause 34).
    fn try_next_gateway(&mut self, now: Instant, call: &mut Call) -> bool {
        while let Some(name) = call.failover.pop() {
            let Some(gw) = self.cfg.gateways.gateway(&name).cloned() else {
                continue;
            };
            let Some(peer) = self.gateway_peer(&gw) else {
                continue;
            };
            if !self.monitor.reserve(&name) {
                continue;
            }
            call.b.gateway = Some(name.clone());
            call.b.peer = peer;
            call.b.call_id = CallId(self.token());
            call.b.dialog = None;
            call.b.spec = None;
            let called = gw
                .outbound
                .rewrite(&call.number, NumberRole::Called)
                .map_or_else(|| call.number.clone(), |(_, n)| n);
            let uri = gw.request_uri(&called);
            let caller = self.outbound_caller(call, &gw);
            let host = sb_sip_msg::Host::Domain(self.cfg.identity_host.clone());
            let ident = outbound_identity(&gw.config, &caller, &host);
            let mut extra = ident.headers;
            call.b.st_config = gw.config.session_timer_s.map(session_config);
            if gw.config.require_100rel {
                extra.push(Header::Require("100rel".into()));
            }
            let to = NameAddr::new(uri.clone());
            let caps = media::capabilities(&self.cfg, Side::Gateway, Some(&gw));
            let opts = media::offer_options(&self.cfg, Side::Gateway, Some(&gw));
            let local = media::local_media(
                self.cfg.media.ip,
                call.b.port,
                call.b.sdp_session,
                self.key_material(),
                None,
            );
            let offer = sb_sdp::offer(&caps, &local, &opts);
            self.send_b_invite(now, call, uri, ident.from, to, extra, offer);
            return true;
        }
        let reason = call
            .last_failure
            .as_ref()
            .map(|f| f.reason.clone())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| vec![wire::NO_CIRCUIT.to_string()]);
        let st = StatusCode::SERVICE_UNAVAILABLE;
        self.final_to_a(now, call, st, &reason);
        self.forget(call, Some(st));
        false
    }

    /// Who is calling, from what the front end asserted (P-Asserted-Identity, else
    /// From), with the gateway's outbound rules applied to the number.
    fn outbound_caller(&self, call: &Call, gw: &sb_gateways::Gateway) -> CallerIdentity {
        let c = inbound_caller(&call.a_invite);
        let number = c.number.as_ref().map(|n| {
            gw.outbound
                .rewrite(n, NumberRole::Calling)
                .map_or_else(|| n.clone(), |(_, out)| out)
        });
        CallerIdentity {
            display: c.display,
            number,
            private: c.number_restricted,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn send_b_invite(
        &mut self,
        now: Instant,
        call: &mut Call,
        uri: Uri,
        mut from: NameAddr,
        to: NameAddr,
        extra: Vec<Header>,
        offer: sb_sdp::SessionDescription,
    ) {
        from.params.set("tag", Some(&call.b.local_tag));
        let mut req = Request::new(Method::Invite, uri);
        let mf = call
            .a_invite
            .headers
            .max_forwards()
            .map_or(MAX_FORWARDS, |m| m.saturating_sub(1).min(MAX_FORWARDS));
        req.headers.push(Header::MaxForwards(mf));
        req.headers.push(Header::From(from));
        req.headers.push(Header::To(to));
        req.headers.push(Header::CallId(call.b.call_id.clone()));
        req.headers.push(Header::CSeq(CSeq {
            seq: 1,
            method: Method::Invite,
        }));
        let contact = wire::contact(self.cfg.sip_addr, call.b.peer.transport);
        req.headers.push(wire::contact_header(&contact));
        wire::capabilities_headers(&mut req.headers, &["100rel", "timer"]);
        req.headers.0.extend(extra);
        wire::set_sdp(&mut req.headers, &mut req.body, &offer);
        if let Some(st) = &call.b.st_config {
            st.apply_to_request(&mut req);
        }
        call.b.local_sdp = Some(offer);
        let peer = call.b.peer;
        let tsx = self.send_on_leg(now, peer, req, Owner::Invite(call.id));
        if let Some(t) = tsx {
            call.b_invite = self.layer.request(t).cloned();
        }
        call.b_tsx = tsx;
    }

    // ---- inbound: gateway → front end

    fn start_inbound(&mut self, now: Instant, call: &mut Call) -> bool {
        let gw = call
            .a
            .gateway
            .as_ref()
            .and_then(|g| self.cfg.gateways.gateway(g))
            .cloned();
        let Some(gw) = gw else {
            return false;
        };
        call.a.st_config = gw.config.session_timer_s.map(session_config);
        let called = gw
            .inbound
            .rewrite(&call.number, NumberRole::Called)
            .map_or_else(|| call.number.clone(), |(_, n)| n);
        call.number.clone_from(&called);
        let caller = inbound_caller(&call.a_invite);
        let caller_number = caller.number.as_ref().map(|n| {
            gw.inbound
                .rewrite(n, NumberRole::Calling)
                .map_or_else(|| n.clone(), |(_, out)| out)
        });
        let domain = self.cfg.client.domain.clone();
        let uri = number_uri(&called, &domain);
        let mut extra = Vec::new();
        let from = match caller_number {
            Some(n) => {
                let mut na = NameAddr::new(number_uri(&n, &domain));
                na.display = caller.display.clone().filter(|_| !caller.name_restricted);
                // We vouch for what the gateway told us (RFC 3325 §9.1): the front end
                // trusts mediation as a trunk.
                extra.push(wire::other("P-Asserted-Identity", na.to_string()));
                if caller.number_restricted {
                    extra.push(wire::other("Privacy", "id"));
                    sb_gateways::anonymous_from()
                } else {
                    na
                }
            }
            None => sb_gateways::anonymous_from(),
        };
        let caps = media::capabilities(&self.cfg, Side::Client, None);
        let opts = media::offer_options(&self.cfg, Side::Client, None);
        let local = media::local_media(
            self.cfg.media.ip,
            call.b.port,
            call.b.sdp_session,
            self.key_material(),
            None,
        );
        let offer = sb_sdp::offer(&caps, &local, &opts);
        let to = NameAddr::new(uri.clone());
        self.send_b_invite(now, call, uri, from, to, extra, offer);
        true
    }

    // ---- responses on the B leg

    pub(crate) fn on_b_response(
        &mut self,
        now: Instant,
        call: &mut Call,
        tsx: TsxId,
        resp: Response,
    ) -> bool {
        if call.b_tsx != Some(tsx) {
            // A stale attempt (failover moved on); only a 2xx needs closing.
            return true;
        }
        let code = resp.status.code();
        if code == 100 {
            return true;
        }
        if call.phase == Phase::Connected {
            self.late_b_2xx(now, call, &resp);
            return true;
        }
        if code < 300 && resp.headers.to().and_then(|t| t.tag()).is_some() {
            self.b_dialog_update(now, call, &resp);
        }
        if call.phase == Phase::Cancelling {
            if resp.status.is_success() {
                // CANCEL crossed the 2xx (§9.1): confirm, then hang up at once.
                call.phase = Phase::Connected;
                return self.end_call(now, call, None, &[]);
            }
            if resp.status.is_final() {
                self.forget(call, Some(StatusCode::REQUEST_TERMINATED));
                return false;
            }
            return true;
        }
        match code {
            101..=199 => self.on_b_provisional(now, call, &resp),
            200..=299 => self.on_b_success(now, call, &resp),
            _ => self.on_b_failure(now, call, &resp),
        }
    }

    /// A 2xx after the call connected (RFC 6026 §7.2 passes them up): a retransmission
    /// of the one we took means our ACK was lost, so it is sent again; a 2xx from
    /// another fork is a second dialog nobody wants: ACK it, then BYE it (§13.2.2.4).
    fn late_b_2xx(&mut self, now: Instant, call: &mut Call, resp: &Response) {
        if !resp.status.is_success() {
            return;
        }
        let peer = call.b.peer;
        let same = call
            .b
            .dialog
            .as_ref()
            .is_some_and(|d| DialogId::of_received_response(resp).as_ref() == Some(d.id()));
        if same {
            if let Some(ack) = call.b.dialog.as_ref().and_then(|d| d.last_ack()).cloned() {
                self.send_on_leg(now, peer, ack, Owner::Fire);
            }
            return;
        }
        let Some(invite) = call.b_invite.as_ref() else {
            return;
        };
        if let Ok((mut stray, _)) = Dialog::uac(invite, resp) {
            if let Ok(ack) = stray.ack(None) {
                self.send_on_leg(now, peer, ack, Owner::Fire);
            }
            if let Ok(bye) = stray.request(Method::Bye) {
                self.send_on_leg(now, peer, bye, Owner::Fire);
            }
        }
    }

    /// Creates or advances the B leg's dialog; PRACKs a reliable 1xx (RFC 3262 §4);
    /// ACKs a 2xx.
    fn b_dialog_update(&mut self, now: Instant, call: &mut Call, resp: &Response) {
        let Some(invite) = call.b_invite.clone() else {
            return;
        };
        let same = call
            .b
            .dialog
            .as_ref()
            .is_some_and(|d| DialogId::of_received_response(resp).as_ref() == Some(d.id()));
        let outcome = if same {
            call.b
                .dialog
                .as_mut()
                .and_then(|d| d.handle_response(resp).ok())
        } else {
            match Dialog::uac(&invite, resp) {
                Ok((d, o)) => {
                    call.b.dialog = Some(d);
                    Some(o)
                }
                Err(_) => None,
            }
        };
        let Some(outcome) = outcome else {
            return;
        };
        let peer = call.b.peer;
        if let Some(rack) = outcome.prack {
            if let Some(Ok(p)) = call.b.dialog.as_mut().map(|d| d.prack(&rack, None)) {
                self.send_on_leg(now, peer, p, Owner::Fire);
            }
        }
        if resp.status.is_success() {
            if let Some(Ok(ack)) = call.b.dialog.as_mut().map(|d| d.ack(None)) {
                self.send_on_leg(now, peer, ack, Owner::Fire);
            }
        }
    }

    /// The B leg's answer to our offer, when a response carries one.
    fn b_answer(&mut self, call: &mut Call, resp: &Response) -> bool {
        let Some(Ok(answer)) = media::body_sdp(&resp.headers, &resp.body) else {
            return false;
        };
        let Some(offer) = call.b.local_sdp.clone() else {
            return false;
        };
        let gw = call
            .b
            .gateway
            .as_ref()
            .and_then(|g| self.cfg.gateways.gateway(g))
            .cloned();
        match media::leg_spec(
            &offer,
            &answer,
            true,
            call.b.ice.as_ref(),
            call.b.side,
            gw.as_ref(),
            &self.cfg.media,
        ) {
            Ok(spec) => {
                call.b.remote_dir = media::declared(&answer);
                self.set_leg_media(call, LegKind::B, spec);
                true
            }
            Err(_) => false,
        }
    }

    fn on_b_provisional(&mut self, now: Instant, call: &mut Call, resp: &Response) -> bool {
        let early_media = self.b_answer(call, resp);
        if early_media {
            self.stop_ringback(call);
            self.early_to_a(now, call, 183);
            self.connect_media(call);
        } else if resp.status.code() == 180
            && call.direction == CallDirection::Outbound
            && call.a_answer.is_some()
            && call.b.spec.is_none()
        {
            // A gateway that rings without early media: the client hears our ringback.
            self.early_to_a(now, call, 183);
            if !call.ringback {
                self.media.push_back(Command::PlayTone {
                    leg: call.a.leg_id,
                    tone: self.cfg.client.ringback.clone(),
                });
                call.ringback = true;
            }
        } else if call.early_answer_sent {
            self.early_to_a(now, call, 183);
        } else {
            let code = if resp.status.code() == 181 { 181 } else { 180 };
            if let Some(d) = call.a.dialog.as_mut() {
                let r = d.response(&call.a_invite, StatusCode(code));
                let _ = d.record_sent_response(&r);
                self.respond(now, call.a_tsx, r);
            }
        }
        true
    }

    /// A 1xx with our answer toward the A leg (early media or our ringback); the A leg's
    /// media starts with it.
    fn early_to_a(&mut self, now: Instant, call: &mut Call, code: u16) {
        let Some(answer) = call.a_answer.clone() else {
            return;
        };
        self.start_a_media(call);
        let Some(d) = call.a.dialog.as_mut() else {
            return;
        };
        let mut r = d.response(&call.a_invite, StatusCode(code));
        wire::set_sdp(&mut r.headers, &mut r.body, &answer);
        let _ = d.record_sent_response(&r);
        call.early_answer_sent = true;
        self.respond(now, call.a_tsx, r);
    }

    fn on_b_success(&mut self, now: Instant, call: &mut Call, resp: &Response) -> bool {
        self.b_answer(call, resp);
        if let Some(Ok(Some(n))) = call.b.st_config.map(|c| c.negotiate_uac(resp)) {
            call.b
                .session_refreshed(now, n, n.local_refreshes(Refresher::Uac));
        }
        if call.b.spec.is_none() {
            // A 2xx without the answer to our offer breaks offer/answer (RFC 6337 §3.1):
            // end both legs.
            call.phase = Phase::Connected;
            self.final_to_a(now, call, StatusCode(502), &[]);
            call.a.dialog = None;
            return self.end_call(now, call, None, &[]);
        }
        self.stop_ringback(call);
        let body = match (&call.a_answer, &call.a.local_sdp) {
            (Some(ans), _) => ans.clone(),
            (None, _) => {
                // Delayed offer: the A leg's INVITE had no SDP, so our 2xx offers and the
                // ACK answers (RFC 3261 §13.2.1).
                let gw = call
                    .a
                    .gateway
                    .as_ref()
                    .and_then(|g| self.cfg.gateways.gateway(g))
                    .cloned();
                let caps = media::capabilities(&self.cfg, call.a.side, gw.as_ref());
                let opts = media::offer_options(&self.cfg, call.a.side, gw.as_ref());
                let local = media::local_media(
                    self.cfg.media.ip,
                    call.a.port,
                    call.a.sdp_session,
                    self.key_material(),
                    None,
                );
                let offer = sb_sdp::offer(&caps, &local, &opts);
                call.a.local_sdp = Some(offer.clone());
                call.a.answer_in_ack = true;
                offer
            }
        };
        if call.a_answer.is_some() {
            self.start_a_media(call);
            self.connect_media(call);
        } else {
            self.ensure_session(call);
        }
        let Some(d) = call.a.dialog.as_mut() else {
            return false;
        };
        let mut ok = d.response(&call.a_invite, StatusCode::OK);
        wire::capabilities_headers(&mut ok.headers, &[]);
        wire::set_sdp(&mut ok.headers, &mut ok.body, &body);
        let agreed = call
            .a
            .st_config
            .and_then(|c| c.negotiate_uas(&call.a_invite).ok());
        if let Some(n) = agreed {
            n.apply(&mut ok);
        }
        let _ = d.record_sent_response(&ok);
        if let Some(n) = agreed {
            call.a
                .session_refreshed(now, n, n.local_refreshes(Refresher::Uas));
        }
        if !call.a.peer.is_reliable() {
            call.a.uas_2xx = Some(Uas2xxRetransmitter::new(
                now,
                ok.clone(),
                self.layer.config(),
            ));
        }
        self.respond(now, call.a_tsx, ok);
        call.phase = Phase::Connected;
        self.events.push_back(B2buaEvent::CallAnswered {
            call: call.id,
            gateway: call.b.gateway.clone(),
        });
        true
    }

    fn on_b_failure(&mut self, now: Instant, call: &mut Call, resp: &Response) -> bool {
        let reason = wire::reasons(&resp.headers);
        if let Some(gw) = call.b.gateway.clone() {
            self.monitor.call_failed(now, &gw, resp.status);
            self.monitor.release(&gw);
            call.b.gateway = None;
            self.events.push_back(B2buaEvent::GatewayFailed {
                call: call.id,
                gateway: gw,
                status: resp.status,
            });
        }
        let code = resp.status.code();
        // 408 and 5xx say this gateway (or its trunk) could not take the call; another
        // one may. 4xx and 6xx are about the callee (busy, declined, no such number):
        // they go back to the caller as they are.
        let retry = call.direction == CallDirection::Outbound
            && (code == 408 || (500..600).contains(&code));
        call.b.dialog = None;
        call.b_tsx = None;
        if call.b.spec.take().is_some() {
            self.media
                .push_back(Command::RemoveLeg { leg: call.b.leg_id });
            call.connected_media = false;
        }
        if retry {
            call.last_failure = Some(Failure {
                status: resp.status,
                reason,
            });
            return self.try_next_gateway(now, call);
        }
        // Authentication challenges are between the gateway and us, never the caller.
        let status = match code {
            401 | 407 => StatusCode(403),
            _ => resp.status,
        };
        self.final_to_a(now, call, status, &reason);
        self.forget(call, Some(status));
        false
    }

    // ---- CANCEL and ACK from the A leg

    pub(crate) fn on_cancel(
        &mut self,
        now: Instant,
        tsx: TsxId,
        target: Option<TsxId>,
        req: &Request,
    ) {
        let owner = target.and_then(|t| self.tsxs.get(&t).cloned());
        let Some(Owner::AInvite(id)) = owner else {
            self.respond(now, tsx, response_for(req, StatusCode::CALL_DOES_NOT_EXIST));
            return;
        };
        self.respond(now, tsx, response_for(req, StatusCode::OK));
        let reason = wire::reasons(&req.headers);
        self.with_call(id, |b, call| {
            if call.phase != Phase::Setup {
                return true;
            }
            b.final_to_a(now, call, StatusCode::REQUEST_TERMINATED, &[]);
            b.stop_ringback(call);
            let Some(btsx) = call.b_tsx else {
                b.forget(call, Some(StatusCode::REQUEST_TERMINATED));
                return false;
            };
            // The B leg's INVITE ends with its own final response: 487, or a 2xx that
            // crossed our CANCEL, which we ACK and BYE (§9.1, §15).
            let _ = b
                .layer
                .cancel_with_headers(now, btsx, &wire::reason_headers(&reason));
            b.start_cancelling(now, call);
            true
        });
    }

    pub(crate) fn on_ack(&mut self, now: Instant, req: &Request) {
        let Some(did) = DialogId::of_received_request(req) else {
            return;
        };
        let Some((id, kind)) = self.by_tag.get(did.local_tag.as_str()).copied() else {
            return;
        };
        self.with_call(id, |b, call| {
            let leg = call.leg_mut(kind);
            if let Some(d) = leg.dialog.as_mut() {
                let _ = d.handle_request(req);
            }
            if let Some(r) = leg.uas_2xx.as_mut() {
                r.handle_ack();
            }
            leg.uas_2xx = None;
            if !leg.answer_in_ack {
                return true;
            }
            leg.answer_in_ack = false;
            // The answer to the offer in our 2xx (delayed offer, §13.2.1).
            let Some(Ok(answer)) = media::body_sdp(&req.headers, &req.body) else {
                return b.end_call(now, call, None, &[]);
            };
            let Some(offer) = call.leg(kind).local_sdp.clone() else {
                return true;
            };
            let gw = call
                .leg(kind)
                .gateway
                .as_ref()
                .and_then(|g| b.cfg.gateways.gateway(g))
                .cloned();
            let leg = call.leg(kind);
            match media::leg_spec(
                &offer,
                &answer,
                true,
                leg.ice.as_ref(),
                leg.side,
                gw.as_ref(),
                &b.cfg.media,
            ) {
                Ok(spec) => {
                    call.leg_mut(kind).remote_dir = media::declared(&answer);
                    b.set_leg_media(call, kind, spec);
                    b.connect_media(call);
                    true
                }
                Err(_) => b.end_call(now, call, None, &[]),
            }
        });
        let _ = now;
    }

    // ---- media

    pub(crate) fn ensure_session(&mut self, call: &mut Call) {
        if !call.session_created {
            self.media.push_back(Command::CreateSession {
                session: call.session,
            });
            call.session_created = true;
        }
    }

    /// The A leg's media from the answer computed on arrival.
    fn start_a_media(&mut self, call: &mut Call) {
        if let Some(spec) = call.a.pending_spec.take() {
            self.set_leg_media(call, LegKind::A, spec);
        }
    }

    /// AddLeg the first time, UpdateLeg when the spec changed.
    pub(crate) fn set_leg_media(
        &mut self,
        call: &mut Call,
        kind: LegKind,
        spec: sb_media_api::LegSpec,
    ) {
        self.ensure_session(call);
        let ip = self.cfg.media.ip;
        let session = call.session;
        let leg = call.leg_mut(kind);
        match &leg.spec {
            None => {
                let local = std::net::SocketAddr::new(ip, leg.port);
                let rtcp = std::net::SocketAddr::new(ip, leg.port.wrapping_add(1));
                self.media.push_back(Command::AddLeg {
                    session,
                    leg: leg.leg_id,
                    local,
                    local_rtcp: Some(rtcp),
                    spec: spec.clone(),
                });
                leg.spec = Some(spec);
            }
            Some(old) if *old != spec => {
                self.media.push_back(Command::UpdateLeg {
                    leg: leg.leg_id,
                    spec: spec.clone(),
                });
                leg.spec = Some(spec);
            }
            Some(_) => {}
        }
    }

    pub(crate) fn connect_media(&mut self, call: &mut Call) {
        if !call.connected_media && call.a.spec.is_some() && call.b.spec.is_some() {
            self.media.push_back(Command::Connect {
                a: call.a.leg_id,
                b: call.b.leg_id,
            });
            call.connected_media = true;
        }
    }

    fn stop_ringback(&mut self, call: &mut Call) {
        if call.ringback {
            self.media
                .push_back(Command::StopTone { leg: call.a.leg_id });
            call.ringback = false;
        }
    }
}

/// `sip:NUMBER@DOMAIN;user=phone` (RFC 3261 §19.1.6).
fn number_uri(number: &str, domain: &str) -> Uri {
    let mut params = Params::new();
    params.set("user", Some("phone"));
    Uri::Sip(SipUri {
        secure: false,
        user: Some(number.to_string()),
        password: None,
        host: sb_sip_msg::Host::Domain(domain.to_string()),
        port: None,
        params,
        headers: Vec::new(),
    })
}

/// Our RFC 4028 policy toward a gateway whose profile asks for `interval` seconds: we
/// refresh when it leaves the choice to us.
fn session_config(interval: u32) -> SessionTimerConfig {
    SessionTimerConfig::new(interval, sb_sip_core::dialog::MIN_SE_FLOOR, Refresher::Uas)
}
