//! What the transaction layer hands back: transmits, events for the TU, and the shared
//! output queues the state machines write into.

use std::collections::VecDeque;
use std::fmt;

use sb_sip_msg::{Header, Message, Request, Response, StatusCode};

use crate::peer::Peer;

/// Identifies one transaction inside a [`super::TransactionLayer`]; never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TsxId(pub u64);

impl fmt::Display for TsxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tsx#{}", self.0)
    }
}

/// A message the shell must put on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub to: Peer,
    pub message: Message,
}

/// What happened, for the transaction user (UA core, proxy core).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TsxEvent {
    /// A request that created a server transaction; answer it with
    /// [`super::TransactionLayer::send_response`]. CANCEL arrives as [`TsxEvent::Cancel`].
    NewRequest {
        tsx: TsxId,
        req: Request,
        from: Peer,
    },
    /// A CANCEL created its own server transaction (§9.2). `target` is the INVITE server
    /// transaction it matches, if any; with none the TU answers 481, otherwise 200 to the
    /// CANCEL and 487 to the INVITE (§9.2).
    Cancel {
        tsx: TsxId,
        target: Option<TsxId>,
        req: Request,
        from: Peer,
    },
    /// A response for a client transaction: provisional, final, or (RFC 6026 §7.2) a
    /// retransmitted or forked 2xx while the INVITE client transaction is Accepted.
    Response { tsx: TsxId, resp: Response },
    /// An ACK the transaction layer does not absorb: the ACK for a 2xx, which is its own
    /// transaction (§17.1.1.3, §13.3.1.4), or an ACK matching an Accepted INVITE server
    /// transaction (RFC 6026 §8.7). `tsx` is that server transaction when one matched.
    Ack2xx {
        tsx: Option<TsxId>,
        req: Request,
        from: Peer,
    },
    /// A response matching no client transaction (§17.1.3); a UA drops it, a proxy may
    /// forward it statelessly (§16.7; RFC 6026 §8.4 for 2xx).
    StrayResponse { resp: Response, from: Peer },
    /// Timer B, F or H fired: the TU treats a client timeout as a 408 (§8.1.3.1); for a
    /// server transaction it means the ACK never came (§13.3.1.4 handles 2xx separately).
    Timeout { tsx: TsxId },
    /// The transport could not deliver; the TU treats it as a 503 (§8.1.3.1, §17.1.1.2,
    /// §17.1.2.2) or, for a server transaction, as a lost response (§17.2.4).
    TransportError { tsx: TsxId },
    /// The transaction is gone; its id will not appear again.
    Terminated { tsx: TsxId },
}

/// The queues the state machines write into; drained by the layer's `poll_*`.
#[derive(Debug, Default)]
pub(crate) struct Out {
    pub transmits: VecDeque<Transmit>,
    pub events: VecDeque<TsxEvent>,
}

impl Out {
    pub fn send(&mut self, to: Peer, message: Message) {
        self.transmits.push_back(Transmit { to, message });
    }

    pub fn event(&mut self, e: TsxEvent) {
        self.events.push_back(e);
    }
}

/// A response to `req` with the headers §8.2.6.2 says to copy: every Via in order, From,
/// To, Call-ID, CSeq, and Timestamp for a 100 (§8.2.6.1). The TU adds a To tag (other than
/// for 100) and whatever else the response needs.
pub fn response_for(req: &Request, status: StatusCode) -> Response {
    let mut resp = Response::new(status);
    for h in req.headers.iter() {
        let copy = match h {
            Header::Via(_) | Header::From(_) | Header::To(_) | Header::CallId(_) => true,
            Header::CSeq(_) => true,
            Header::Other(o) => {
                status == StatusCode::TRYING && o.name.eq_ignore_ascii_case("timestamp")
            }
            _ => false,
        };
        if copy {
            resp.headers.push(h.clone());
        }
    }
    resp
}
