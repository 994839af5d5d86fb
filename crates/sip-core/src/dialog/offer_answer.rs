//! Offer/answer bookkeeping for one dialog (RFC 3261 §13.2.1, RFC 3262 §5, RFC 3311 §5,
//! RFC 6337 §3).
//!
//! The dialog feeds every message it sends or receives here; the state says who holds an
//! outstanding offer, and whether an SDP body is an offer, an answer or a copy of an answer
//! already given. The exchanges RFC 6337 Table 1 allows:
//!
//! | offer in                  | answer in            |
//! |---------------------------|----------------------|
//! | INVITE                    | reliable 1xx or 2xx  |
//! | 2xx (INVITE had no offer) | ACK                  |
//! | reliable 1xx (INVITE had no offer) | PRACK       |
//! | PRACK                     | 200 to the PRACK     |
//! | UPDATE                    | 2xx to the UPDATE    |
//!
//! SDP in an unreliable 1xx is a preview of the answer and changes nothing; SDP in the 2xx
//! after a reliable 1xx already answered is a copy (RFC 6337 §3.1). A non-2xx final response
//! to the transaction that carried the offer withdraws it (RFC 6337 §3.2).

use sb_sip_msg::{Method, StatusCode};

use super::error::DialogError;

/// Which end of the dialog sent a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// This UA sent it.
    Local,
    /// The peer sent it.
    Remote,
}

impl Side {
    /// The other end.
    pub fn other(self) -> Side {
        match self {
            Side::Local => Side::Remote,
            Side::Remote => Side::Local,
        }
    }
}

/// What an SDP body is in the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdpRole {
    Offer,
    Answer,
    /// Not a new offer or answer: a preview in an unreliable 1xx, a repeat of an answer
    /// already given, or SDP where the rules allow none (ignored, RFC 6337 §3.1).
    Copy,
}

/// The message that carried an outstanding offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// The request itself (INVITE, UPDATE, PRACK).
    Request,
    /// A reliable provisional response to an INVITE without an offer (answer in PRACK).
    Reliable1xx,
    /// A 2xx to an INVITE without an offer (answer in ACK).
    Success,
}

/// Who owes what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OaState {
    /// No offer is outstanding: either side may offer (in a request that allows one).
    Stable,
    /// `by` sent an INVITE without an offer; the other side's reliable 1xx or 2xx must
    /// carry one (§13.2.1).
    OfferSolicited { by: Side, cseq: u32 },
    /// `by` made an offer that is not answered yet. `method` and `cseq` name the
    /// transaction (an INVITE, when the offer travelled in its response).
    Offered {
        by: Side,
        method: Method,
        cseq: u32,
        carrier: Carrier,
    },
}

/// One message as the bookkeeping sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OaMessage {
    pub from: Side,
    pub kind: OaKind,
    /// The CSeq number of the message (a response carries its request's).
    pub cseq: u32,
    pub has_sdp: bool,
}

/// Request or response, with what classification needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OaKind {
    Request(Method),
    Response {
        method: Method,
        status: StatusCode,
        /// A provisional response sent reliably (RFC 3262: RSeq and Require: 100rel).
        reliable: bool,
    },
}

/// The offer/answer state machine of one dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferAnswer {
    state: OaState,
    exchanges: u32,
}

impl Default for OfferAnswer {
    fn default() -> Self {
        Self::new()
    }
}

impl OfferAnswer {
    pub fn new() -> Self {
        OfferAnswer {
            state: OaState::Stable,
            exchanges: 0,
        }
    }

    pub fn state(&self) -> &OaState {
        &self.state
    }

    /// Completed offer/answer exchanges so far (0 until the first session is agreed).
    pub fn exchanges(&self) -> u32 {
        self.exchanges
    }

    /// True when an offer is outstanding or solicited, so no new offer may start.
    pub fn is_pending(&self) -> bool {
        self.state != OaState::Stable
    }

    /// True when a new offer may start in a request now.
    pub fn can_offer(&self) -> bool {
        !self.is_pending()
    }

    /// Classifies `msg` and advances the state.
    ///
    /// Errors for a received request are the wire answers: [`DialogError::RequestPending`]
    /// (491) when our own offer is outstanding, [`DialogError::RetryLater`] (500 +
    /// Retry-After) when the peer's previous offer is not answered yet; the state is left
    /// as it was, because the request will be refused. For a local message the same case is
    /// [`DialogError::OfferPending`]. A message that had to carry an answer or offer and did
    /// not gives [`DialogError::MissingAnswer`] / [`DialogError::MissingOffer`] and returns
    /// the state to stable: the exchange failed and the caller ends the session (RFC 6337
    /// §3.1 asks for BYE after an ACK without the answer).
    pub fn handle(&mut self, msg: &OaMessage) -> Result<Option<SdpRole>, DialogError> {
        match &msg.kind {
            OaKind::Request(m) => self.on_request(msg, m),
            OaKind::Response {
                method,
                status,
                reliable,
            } => self.on_response(msg, method, *status, *reliable),
        }
    }

    fn busy(&self, from: Side) -> DialogError {
        let holder = match &self.state {
            OaState::Offered { by, .. } | OaState::OfferSolicited { by, .. } => *by,
            OaState::Stable => from,
        };
        match (from, holder) {
            (Side::Local, _) => DialogError::OfferPending,
            (Side::Remote, Side::Local) => DialogError::RequestPending,
            (Side::Remote, Side::Remote) => DialogError::RetryLater,
        }
    }

    fn settle(&mut self) -> Option<SdpRole> {
        self.state = OaState::Stable;
        self.exchanges += 1;
        Some(SdpRole::Answer)
    }

    fn on_request(&mut self, msg: &OaMessage, m: &Method) -> Result<Option<SdpRole>, DialogError> {
        let from = msg.from;
        match m {
            Method::Ack => {
                let OaState::Offered {
                    by,
                    method: Method::Invite,
                    cseq,
                    carrier: Carrier::Success,
                } = self.state
                else {
                    return Ok(msg.has_sdp.then_some(SdpRole::Copy));
                };
                if by == from || cseq != msg.cseq {
                    return Ok(msg.has_sdp.then_some(SdpRole::Copy));
                }
                if msg.has_sdp {
                    Ok(self.settle())
                } else {
                    self.state = OaState::Stable;
                    Err(DialogError::MissingAnswer("ACK"))
                }
            }
            Method::Prack if msg.has_sdp => {
                if let OaState::Offered {
                    by,
                    method: Method::Invite,
                    carrier: Carrier::Reliable1xx,
                    ..
                } = self.state
                {
                    if by != from {
                        // RFC 3262 §5: the PRACK answers an offer in a reliable 1xx.
                        return Ok(self.settle());
                    }
                }
                self.offer_in_request(msg, m)
            }
            Method::Invite | Method::Update if msg.has_sdp => self.offer_in_request(msg, m),
            Method::Invite => {
                if self.is_pending() {
                    return Err(self.busy(from));
                }
                self.state = OaState::OfferSolicited {
                    by: from,
                    cseq: msg.cseq,
                };
                Ok(None)
            }
            _ => Ok(msg.has_sdp.then_some(SdpRole::Copy)),
        }
    }

    fn offer_in_request(
        &mut self,
        msg: &OaMessage,
        m: &Method,
    ) -> Result<Option<SdpRole>, DialogError> {
        if self.is_pending() {
            return Err(self.busy(msg.from));
        }
        self.state = OaState::Offered {
            by: msg.from,
            method: m.clone(),
            cseq: msg.cseq,
            carrier: Carrier::Request,
        };
        Ok(Some(SdpRole::Offer))
    }

    fn on_response(
        &mut self,
        msg: &OaMessage,
        method: &Method,
        status: StatusCode,
        reliable: bool,
    ) -> Result<Option<SdpRole>, DialogError> {
        let from = msg.from;
        let copy = msg.has_sdp.then_some(SdpRole::Copy);
        // Who sent the request this response answers.
        let requester = from.other();
        let same_tsx = |m: &Method, c: u32| m == method && c == msg.cseq;
        if status.is_provisional() && !reliable {
            return Ok(copy);
        }
        if status.code() >= 300 {
            let withdrawn = match &self.state {
                OaState::Offered {
                    by,
                    method: m,
                    cseq,
                    carrier,
                } => {
                    let req_from = if *carrier == Carrier::Request {
                        *by
                    } else {
                        by.other()
                    };
                    req_from == requester && same_tsx(m, *cseq)
                }
                OaState::OfferSolicited { by, cseq } => {
                    *by == requester && same_tsx(&Method::Invite, *cseq)
                }
                OaState::Stable => false,
            };
            if withdrawn {
                self.state = OaState::Stable;
            }
            return Ok(None);
        }
        let success = status.is_success();
        match self.state.clone() {
            OaState::Offered {
                by,
                method: m,
                cseq,
                carrier: Carrier::Request,
            } if by == requester && same_tsx(&m, cseq) => {
                if msg.has_sdp {
                    Ok(self.settle())
                } else if success {
                    self.state = OaState::Stable;
                    Err(DialogError::MissingAnswer("2xx"))
                } else {
                    Ok(None)
                }
            }
            OaState::OfferSolicited { by, cseq }
                if by == requester && same_tsx(&Method::Invite, cseq) =>
            {
                if msg.has_sdp {
                    self.state = OaState::Offered {
                        by: from,
                        method: Method::Invite,
                        cseq,
                        carrier: if success {
                            Carrier::Success
                        } else {
                            Carrier::Reliable1xx
                        },
                    };
                    Ok(Some(SdpRole::Offer))
                } else if success {
                    self.state = OaState::Stable;
                    Err(DialogError::MissingOffer)
                } else {
                    Ok(None)
                }
            }
            _ => Ok(copy),
        }
    }
}
