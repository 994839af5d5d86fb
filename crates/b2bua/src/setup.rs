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
use sb_media_api::LegId;
use sb_sip_core::dialog::{Refresher, SessionTimerConfig};
use sb_sip_core::{response_for, Dialog, Peer, TsxId};
use sb_sip_msg::{
    CSeq, CallId, Header, Method, NameAddr, Params, Request, SipUri, StatusCode, Uri,
};

use crate::call::{Call, CallDirection, Leg, LegKind, Phase};
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
        // We answer with plain provisionals; `timer` is the one extension we take as UAS
        // (RFC 3261 §8.2.2.3: anything else required gets 420 with Unsupported).
        let unsupported: Vec<String> = req
            .headers
            .require()
            .filter(|r| !r.eq_ignore_ascii_case("timer"))
            .map(str::to_string)
            .collect();
        if !unsupported.is_empty() {
            let mut resp = response_for(&req, StatusCode::BAD_EXTENSION);
            resp.headers
                .0
                .extend(unsupported.into_iter().map(Header::Unsupported));
            return self.respond(now, tsx, resp);
        }
        // The front end's own address is never a gateway, even on a shared host.
        let gateway = if from.addr == self.cfg.client.front_end {
            None
        } else {
            self.gateway_by_source(&from)
        };
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
        // An inbound call takes one of the gateway's circuits too; a gateway that is full
        // or marked down by our count still sent it, so it is taken all the same.
        a.reserved = gateway.as_ref().is_some_and(|g| self.monitor.reserve(g));
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
            transfer: None,
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
            self.keys_for(&mut call.a.srtp_keys),
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
    pub(crate) fn try_next_gateway(&mut self, now: Instant, call: &mut Call) -> bool {
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
            call.b.reserved = true;
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
                self.keys_for(&mut call.b.srtp_keys),
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
        // The answer decides whether ICE runs: without ICE attributes in it the leg's
        // spec carries none and media flows to the answer's c=/m= address.
        let ice = self
            .cfg
            .client
            .offer_ice
            .then(|| IceCreds::from_bytes(&self.ice_bytes()));
        let local = media::local_media(
            self.cfg.media.ip,
            call.b.port,
            call.b.sdp_session,
            self.keys_for(&mut call.b.srtp_keys),
            ice.as_ref()
                .map(|i| i.local_ice(self.cfg.media.ip, call.b.port)),
        );
        call.b.ice = ice;
        let offer = sb_sdp::offer(&caps, &local, &opts);
        let to = NameAddr::new(uri.clone());
        self.send_b_invite(now, call, uri, from, to, extra, offer);
        true
    }
}

/// `sip:NUMBER@DOMAIN;user=phone` (RFC 3261 §19.1.6).
pub(crate) fn number_uri(number: &str, domain: &str) -> Uri {
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
