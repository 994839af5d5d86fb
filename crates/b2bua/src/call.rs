//! One mediated call: the leg we answer, the leg we call, and their media.

use std::time::Instant;

use sb_gateways::GatewayName;
use sb_media_api::{LegId, LegSpec, SessionId};
use sb_sdp::{Direction, SessionDescription};
use sb_sip_core::dialog::{Negotiated, SessionTimerConfig};
use sb_sip_core::{Dialog, Peer, SessionTimer, TsxId, Uas2xxRetransmitter};
use sb_sip_msg::{CallId, Request, StatusCode};

use crate::config::Side;
use crate::ids::CallRef;
use crate::media::IceCreds;

/// Which of a call's two legs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum LegKind {
    /// The leg whose INVITE we answer (UAS).
    A,
    /// The leg we call (UAC).
    B,
}

impl LegKind {
    pub fn other(self) -> LegKind {
        match self {
            LegKind::A => LegKind::B,
            LegKind::B => LegKind::A,
        }
    }
}

/// Which way a call was set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallDirection {
    /// A client calls the PSTN: front end → us → gateway.
    Outbound,
    /// The PSTN calls in: gateway → us → front end.
    Inbound,
}

/// A re-offer we owe a leg (hold or resume mirrored from the other leg).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingReoffer {
    pub direction: Direction,
    /// After a 491, not before this (RFC 3261 §14.1).
    pub not_before: Option<Instant>,
}

/// One side of a call: a dialog, a local RTP port, and our SDP on it.
#[derive(Debug)]
pub(crate) struct Leg {
    pub side: Side,
    /// Where this leg's requests go.
    pub peer: Peer,
    pub leg_id: LegId,
    pub local_tag: String,
    pub call_id: CallId,
    pub dialog: Option<Dialog>,
    pub port: u16,
    /// Our `o=` session id on this leg.
    pub sdp_session: u64,
    /// The SDP we last had agreed on this leg (offer or answer, ours).
    pub local_sdp: Option<SessionDescription>,
    /// An offer of ours in flight (re-INVITE), committed on its 2xx.
    pub offer_in_flight: Option<SessionDescription>,
    /// The direction the peer last declared.
    pub remote_dir: Direction,
    /// What the engine has for this leg (`Some` once AddLeg went out).
    pub spec: Option<LegSpec>,
    /// Agreed but not yet given to the engine (our answer is not sent yet).
    pub pending_spec: Option<LegSpec>,
    pub ice: Option<IceCreds>,
    /// We sent an offer in a 2xx and wait for the answer in the ACK (delayed offer).
    pub answer_in_ack: bool,
    /// Retransmits our last 2xx to an INVITE from this leg until its ACK (§13.3.1.4).
    pub uas_2xx: Option<Uas2xxRetransmitter>,
    pub reoffer: Option<PendingReoffer>,
    /// Our SDES key material on this leg, drawn once: every SDP we send on the leg
    /// carries the same key, so a peer that does not re-key on a re-INVITE (baresip 1.0
    /// keeps its first keys) still decrypts what we send (RFC 4568 §7.1.4 lets a
    /// modified session keep its keys).
    pub srtp_keys: Vec<u8>,
    /// The gateway this leg faces, if any.
    pub gateway: Option<GatewayName>,
    /// This leg holds one of the gateway's call slots ([`sb_gateways::GatewayMonitor::reserve`]).
    pub reserved: bool,
    /// RFC 4028 policy on this leg (a gateway profile with `session_timer_s`).
    pub st_config: Option<SessionTimerConfig>,
    /// What was agreed and the running timer.
    pub st: Option<(Negotiated, SessionTimer)>,
}

impl Leg {
    pub fn new(side: Side, peer: Peer, leg_id: LegId, local_tag: String, call_id: CallId) -> Leg {
        Leg {
            side,
            peer,
            leg_id,
            local_tag,
            call_id,
            dialog: None,
            port: 0,
            sdp_session: 0,
            local_sdp: None,
            offer_in_flight: None,
            remote_dir: Direction::SendRecv,
            spec: None,
            pending_spec: None,
            ice: None,
            answer_in_ack: false,
            uas_2xx: None,
            reoffer: None,
            srtp_keys: Vec::new(),
            gateway: None,
            reserved: false,
            st_config: None,
            st: None,
        }
    }

    /// Starts or restarts the session timer after a 2xx agreed `n` (RFC 4028 §10).
    pub fn session_refreshed(&mut self, now: Instant, n: Negotiated, local_refreshes: bool) {
        match self.st.as_mut() {
            Some((agreed, t)) => {
                *agreed = n;
                t.handle_refresh(now, &n, local_refreshes);
            }
            None => self.st = Some((n, SessionTimer::new(now, &n, local_refreshes))),
        }
    }

    /// A confirmed or early dialog we may still send requests in.
    pub fn live_dialog(&mut self) -> Option<&mut Dialog> {
        self.dialog.as_mut().filter(|d| !d.is_terminated())
    }
}

/// Where a call is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The A leg's INVITE awaits its final response.
    Setup,
    /// The caller cancelled; waiting for the B leg's final response to close it.
    Cancelling,
    /// Both dialogs confirmed.
    Connected,
}

/// A failure of one gateway attempt, kept to tell the caller the best one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub status: StatusCode,
    /// The RFC 3326 Reason values the gateway sent with it.
    pub reason: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct Call {
    pub id: CallRef,
    pub direction: CallDirection,
    pub session: SessionId,
    pub session_created: bool,
    pub phase: Phase,
    pub a: Leg,
    pub b: Leg,
    /// The INVITE we answer and its server transaction.
    pub a_invite: Request,
    pub a_tsx: TsxId,
    /// The A leg's offer, when its INVITE had one.
    pub a_offer: Option<SessionDescription>,
    /// Our answer to it, computed on arrival and sent in 183 and 200 alike.
    pub a_answer: Option<SessionDescription>,
    /// The INVITE of the current B attempt and its client transaction.
    pub b_invite: Option<Request>,
    pub b_tsx: Option<TsxId>,
    /// Gateways left to try, in order (outbound calls).
    pub failover: Vec<GatewayName>,
    /// The called number, after the A side's rules and before the gateway's.
    pub number: String,
    pub last_failure: Option<Failure>,
    /// Ringback is playing toward the A leg.
    pub ringback: bool,
    /// A 1xx with our answer went to the A leg.
    pub early_answer_sent: bool,
    pub connected_media: bool,
    /// While cancelling: when to stop waiting for the B leg's final response.
    pub give_up_at: Option<Instant>,
    /// A transfer by the client side in progress.
    pub transfer: Option<Box<crate::transfer::Transfer>>,
}

impl Call {
    pub fn leg(&self, k: LegKind) -> &Leg {
        match k {
            LegKind::A => &self.a,
            LegKind::B => &self.b,
        }
    }

    pub fn leg_mut(&mut self, k: LegKind) -> &mut Leg {
        match k {
            LegKind::A => &mut self.a,
            LegKind::B => &mut self.b,
        }
    }

    /// The next moment one of the call's own timers is due.
    pub fn next_timeout(&self) -> Option<Instant> {
        [&self.a, &self.b]
            .iter()
            .flat_map(|l| {
                [
                    l.uas_2xx.as_ref().and_then(|r| r.poll_timeout()),
                    l.reoffer.as_ref().and_then(|r| r.not_before),
                    l.st.as_ref().and_then(|(_, t)| t.poll_timeout()),
                ]
            })
            .flatten()
            .chain(self.give_up_at)
            .chain(self.transfer.as_ref().and_then(|t| t.deadline))
            .min()
    }
}
