//! The B leg's answers and the A leg's CANCEL and ACK (RFC 3261 §13.2.2, §9, §13.3.1.4),
//! and the media commands they lead to.
//!
//! Media follows signalling: the A leg's media starts when our answer first goes to it
//! (183 or 200), the B leg's when its answer arrives; the legs are connected as soon as
//! both exist, so early media flows; ringback plays toward the client while a gateway
//! rings without early media, and stops before the legs are connected.

use std::time::Instant;

use sb_media_api::Command;
use sb_sip_core::dialog::{DialogId, Refresher};
use sb_sip_core::{response_for, Dialog, TsxId, Uas2xxRetransmitter};
use sb_sip_msg::{Method, Request, Response, StatusCode};

use crate::call::{Call, CallDirection, Failure, LegKind, Phase};
use crate::core::{B2bua, B2buaEvent, Owner};
use crate::media;
use crate::wire;

impl B2bua {
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

    pub(crate) fn on_b_provisional(
        &mut self,
        now: Instant,
        call: &mut Call,
        resp: &Response,
    ) -> bool {
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

    pub(crate) fn on_b_success(&mut self, now: Instant, call: &mut Call, resp: &Response) -> bool {
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
                    self.keys_for(&mut call.a.srtp_keys),
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

    pub(crate) fn on_b_failure(&mut self, now: Instant, call: &mut Call, resp: &Response) -> bool {
        let reason = wire::reasons(&resp.headers);
        if let Some(gw) = call.b.gateway.clone() {
            self.monitor.call_failed(now, &gw, resp.status);
            if call.b.reserved {
                self.monitor.release(&gw);
            }
            call.b.reserved = false;
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
