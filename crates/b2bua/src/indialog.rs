//! Requests inside a mediated call: BYE (RFC 3261 §15, Reason per RFC 3326), re-INVITE
//! and UPDATE (hold and resume, RFC 3264 §8.4, RFC 6337 §5; glare per §14.1 and RFC 3311
//! §5.2), and INFO with `application/dtmf-relay`.
//!
//! The media is anchored, so each leg's offer/answer is answered here, on the spot, with
//! our own SDP; what crosses to the other leg is only the meaning: a change of hold
//! state becomes our own re-offer toward the other leg with the same direction.

use std::time::Instant;

use sb_media_api::Command;
use sb_sdp::SessionDescription;
use sb_sip_core::dialog::{Body, Refresher};
use sb_sip_core::{response_for, TsxId, Uas2xxRetransmitter};
use sb_sip_msg::{Method, Request, Response, StatusCode};

use crate::call::{Call, LegKind, PendingReoffer, Phase};
use crate::core::{B2bua, Owner};
use crate::media;
use crate::wire;

/// Retry-After for a 500 to an overlapping re-INVITE (§14.2 wants 0–10 s).
const RETRY_AFTER_S: u32 = 2;

impl B2bua {
    pub(crate) fn on_in_dialog(
        &mut self,
        now: Instant,
        call: &mut Call,
        kind: LegKind,
        tsx: TsxId,
        req: &Request,
    ) -> bool {
        let checked = match call.leg_mut(kind).dialog.as_mut() {
            Some(d) => d.handle_request(req),
            None => Err(sb_sip_core::DialogError::NoSuchDialog),
        };
        if let Err(e) = checked {
            let resp = e
                .response(req, RETRY_AFTER_S)
                .unwrap_or_else(|| response_for(req, StatusCode::SERVER_INTERNAL_ERROR));
            self.respond(now, tsx, resp);
            return true;
        }
        match req.method {
            Method::Bye => self.on_bye(now, call, kind, tsx, req),
            Method::Invite | Method::Update => {
                self.on_offer_request(now, call, kind, tsx, req);
                true
            }
            Method::Info => {
                self.on_info(now, call, kind, tsx, req);
                true
            }
            Method::Options => {
                self.reply(now, call, kind, tsx, req, StatusCode::OK, None);
                true
            }
            // Transfer is done by holding the gateway leg and moving the call, never by
            // passing REFER to a gateway (see the transfer module).
            Method::Refer => {
                self.on_refer(now, call, kind, tsx, req);
                true
            }
            _ => {
                self.reply(now, call, kind, tsx, req, StatusCode::NOT_IMPLEMENTED, None);
                true
            }
        }
    }

    /// Answers a request of a leg's dialog, keeping the dialog's bookkeeping; a 2xx to
    /// an INVITE is retransmitted until its ACK on unreliable transports (§13.3.1.4).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn reply(
        &mut self,
        now: Instant,
        call: &mut Call,
        kind: LegKind,
        tsx: TsxId,
        req: &Request,
        status: StatusCode,
        sdp: Option<&SessionDescription>,
    ) {
        let leg = call.leg_mut(kind);
        let Some(d) = leg.dialog.as_mut() else {
            self.respond(now, tsx, response_for(req, status));
            return;
        };
        let mut resp = d.response(req, status);
        if let Some(sd) = sdp {
            wire::set_sdp(&mut resp.headers, &mut resp.body, sd);
        }
        let refresh = matches!(req.method, Method::Invite | Method::Update) && status.is_success();
        let mut agreed = None;
        if let (true, Some(cfg)) = (refresh, leg.st_config) {
            // Any 2xx to a re-INVITE or UPDATE is a refresh (RFC 4028 §10).
            if let Ok(n) = cfg.negotiate_uas(req) {
                n.apply(&mut resp);
                agreed = Some(n);
            }
        }
        let _ = d.record_sent_response(&resp);
        if let Some(n) = agreed {
            leg.session_refreshed(now, n, n.local_refreshes(Refresher::Uas));
        }
        if req.method == Method::Invite && status.is_success() && !leg.peer.is_reliable() {
            leg.uas_2xx = Some(Uas2xxRetransmitter::new(
                now,
                resp.clone(),
                self.layer.config(),
            ));
        }
        self.respond(now, tsx, resp);
    }

    fn on_bye(
        &mut self,
        now: Instant,
        call: &mut Call,
        kind: LegKind,
        tsx: TsxId,
        req: &Request,
    ) -> bool {
        self.reply(now, call, kind, tsx, req, StatusCode::OK, None);
        if call.phase == Phase::Connected && self.transferor_left(call, kind) {
            return true;
        }
        let reason = wire::reasons(&req.headers);
        match call.phase {
            Phase::Connected => self.end_call(now, call, None, &reason),
            // The caller hung up on an early dialog (§15): as a CANCEL would.
            Phase::Setup if kind == LegKind::A => {
                self.end_call(now, call, Some(StatusCode::REQUEST_TERMINATED), &reason)
            }
            _ => true,
        }
    }

    fn on_info(&mut self, now: Instant, call: &mut Call, kind: LegKind, tsx: TsxId, req: &Request) {
        if req.body.is_empty() {
            return self.reply(now, call, kind, tsx, req, StatusCode::OK, None);
        }
        if !wire::content_type_is(&req.headers, "application/dtmf-relay") {
            return self.reply(now, call, kind, tsx, req, StatusCode(415), None);
        }
        match wire::dtmf_relay(&req.body) {
            Some((digit, duration_ms)) => {
                // The digit leaves toward the other leg as RFC 4733 events or tones,
                // whatever that leg negotiated.
                self.media.push_back(Command::SendDtmf {
                    leg: call.leg(kind.other()).leg_id,
                    digit,
                    duration_ms,
                });
                self.reply(now, call, kind, tsx, req, StatusCode::OK, None);
            }
            None => self.reply(now, call, kind, tsx, req, StatusCode::BAD_REQUEST, None),
        }
    }

    /// A re-INVITE or UPDATE from a leg: answered here; a change of hold state is
    /// mirrored to the other leg by our own re-INVITE.
    fn on_offer_request(
        &mut self,
        now: Instant,
        call: &mut Call,
        kind: LegKind,
        tsx: TsxId,
        req: &Request,
    ) {
        let offer = match media::body_sdp(&req.headers, &req.body) {
            Some(Ok(sd)) => sd,
            Some(Err(_)) => {
                return self.reply(now, call, kind, tsx, req, StatusCode::BAD_REQUEST, None)
            }
            None if req.method == Method::Invite => {
                // An offerless re-INVITE: our 2xx offers what we have, the ACK answers.
                let ours = call.leg(kind).local_sdp.clone();
                call.leg_mut(kind).answer_in_ack = ours.is_some();
                return self.reply(now, call, kind, tsx, req, StatusCode::OK, ours.as_ref());
            }
            None => return self.reply(now, call, kind, tsx, req, StatusCode::OK, None),
        };
        let keys = self.keys_for(&mut call.leg_mut(kind).srtp_keys);
        let leg = call.leg(kind);
        let gw = leg
            .gateway
            .as_ref()
            .and_then(|g| self.cfg.gateways.gateway(g))
            .cloned();
        let caps = media::capabilities(&self.cfg, leg.side, gw.as_ref());
        let version = leg
            .local_sdp
            .as_ref()
            .map_or(1, |s| s.origin.session_version.wrapping_add(1));
        let ice = leg.ice.clone();
        let mut local = media::local_media(
            self.cfg.media.ip,
            leg.port,
            leg.sdp_session,
            keys,
            ice.as_ref()
                .map(|i| i.local_ice(self.cfg.media.ip, call.leg(kind).port)),
        );
        local.session_version = version;
        let side = call.leg(kind).side;
        let agreed = sb_sdp::answer(&offer, &caps, &local)
            .map_err(|e| e.to_string())
            .and_then(|ans| {
                media::leg_spec(
                    &offer,
                    &ans.sdp,
                    false,
                    ice.as_ref(),
                    side,
                    gw.as_ref(),
                    &self.cfg.media,
                )
                .map(|spec| (ans, spec))
                .map_err(|e| e.to_string())
            });
        let (ans, spec) = match agreed {
            Ok(x) => x,
            Err(_) => {
                return self.reply(now, call, kind, tsx, req, StatusCode(488), None);
            }
        };
        self.set_leg_media(call, kind, spec);
        let dir = media::declared(&offer);
        let leg = call.leg_mut(kind);
        let changed = dir != leg.remote_dir;
        leg.remote_dir = dir;
        leg.local_sdp = Some(ans.sdp.clone());
        self.reply(now, call, kind, tsx, req, StatusCode::OK, Some(&ans.sdp));
        if changed && call.phase == Phase::Connected {
            let other = kind.other();
            call.leg_mut(other).reoffer = Some(PendingReoffer {
                direction: dir,
                not_before: None,
            });
            self.send_reoffer(now, call, other);
        }
    }

    /// Sends the re-offer a leg is owed, unless one is in flight or a 491 back-off runs.
    pub(crate) fn send_reoffer(&mut self, now: Instant, call: &mut Call, kind: LegKind) {
        let leg = call.leg_mut(kind);
        let Some(r) = leg.reoffer.clone() else {
            return;
        };
        if r.not_before.is_some() || leg.offer_in_flight.is_some() {
            return;
        }
        let Some(base) = leg.local_sdp.clone() else {
            return;
        };
        let offer = base.reoffer_with_direction(0, r.direction);
        let peer = leg.peer;
        let Some(d) = leg.live_dialog() else {
            return;
        };
        // Refused while an INVITE is in progress either way (§14.1): it goes out when
        // that one completes.
        if let Ok(mut req) = d.request_with_body(Method::Invite, Some(Body::sdp(offer.to_string())))
        {
            if let Some(st) = &leg.st_config {
                st.apply_to_request(&mut req);
            }
            leg.offer_in_flight = Some(offer);
            leg.reoffer = None;
            self.send_on_leg(now, peer, req, Owner::Reoffer(call.id, kind));
        }
    }

    pub(crate) fn on_reoffer_response(
        &mut self,
        now: Instant,
        call: &mut Call,
        kind: LegKind,
        resp: Response,
    ) -> bool {
        let leg = call.leg_mut(kind);
        if let Some(d) = leg.dialog.as_mut() {
            let _ = d.handle_response(&resp);
        }
        let code = resp.status.code();
        if code < 200 {
            return true;
        }
        let in_flight = leg.offer_in_flight.take();
        if resp.status.is_success() {
            if let Some(Ok(Some(n))) = leg.st_config.map(|c| c.negotiate_uac(&resp)) {
                leg.session_refreshed(now, n, n.local_refreshes(Refresher::Uac));
            }
            let peer = leg.peer;
            if let Some(Ok(ack)) = leg.dialog.as_mut().map(|d| d.ack(None)) {
                self.send_on_leg(now, peer, ack, Owner::Fire);
            }
            if let (Some(offer), Some(Ok(answer))) =
                (in_flight, media::body_sdp(&resp.headers, &resp.body))
            {
                let leg = call.leg(kind);
                let gw = leg
                    .gateway
                    .as_ref()
                    .and_then(|g| self.cfg.gateways.gateway(g))
                    .cloned();
                if let Ok(spec) = media::leg_spec(
                    &offer,
                    &answer,
                    true,
                    leg.ice.as_ref(),
                    leg.side,
                    gw.as_ref(),
                    &self.cfg.media,
                ) {
                    self.set_leg_media(call, kind, spec);
                    let leg = call.leg_mut(kind);
                    leg.local_sdp = Some(offer);
                    leg.remote_dir = media::declared(&answer);
                }
            }
        } else if code == 491 {
            // Glare (§14.1): try again after a random wait; the Call-ID's owner (we
            // made the B leg's) waits longer, so the two sides do not collide again.
            let delay = self.glare_delay(kind == LegKind::B);
            let leg = call.leg_mut(kind);
            if leg.reoffer.is_none() {
                if let Some(offer) = in_flight {
                    leg.reoffer = Some(PendingReoffer {
                        direction: media::declared(&offer),
                        not_before: None,
                    });
                }
            }
            if let Some(r) = leg.reoffer.as_mut() {
                r.not_before = Some(now + delay);
            }
            return true;
        } else if matches!(code, 408 | 481) {
            // The leg's dialog is gone (§12.2.1.2): so is the call.
            return self.end_call(now, call, None, &wire::reasons(&resp.headers));
        }
        self.send_reoffer(now, call, kind);
        true
    }
}
