//! Why the dialog layer refused a message or a command, and what goes on the wire for it.

use sb_sip_msg::{Header, OtherHeader, Request, Response, StatusCode};

use crate::transaction::response_for;

/// A refusal by the dialog layer.
///
/// Errors from [`crate::dialog::Dialog::handle_request`] are the peer's doing and map to a
/// response with [`DialogError::response`]; the others are the caller's mistakes (building a
/// request the dialog cannot send) and have no wire form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DialogError {
    /// The message lacks a header a dialog needs (Call-ID, CSeq, From, To, a tag).
    #[error("the message has no usable {0} header")]
    MissingHeader(&'static str),
    /// A 2xx or 1xx to an INVITE without a To tag cannot create a dialog (§12.1.2).
    #[error("the response has no To tag, so it creates no dialog (§12.1.2)")]
    NoToTag,
    /// Only 101–199 with a To tag and 2xx create a dialog (§12.1).
    #[error("a {0} response does not create a dialog (§12.1)")]
    NotDialogCreating(u16),
    /// A dialog is created only by an INVITE here (§12.1; SUBSCRIBE dialogs are not ours).
    #[error("{0} does not create an INVITE dialog")]
    NotInvite(String),
    /// The message does not belong to this dialog (Call-ID or tags differ): 481 (§12.2.2).
    #[error("no such dialog (§12.2.2)")]
    NoSuchDialog,
    /// The dialog has ended; a request inside it gets 481 (§12.3, §15).
    #[error("the dialog is terminated")]
    Terminated,
    /// The remote CSeq is not above the last one: 500 (§12.2.2).
    #[error("CSeq {got} is out of order (last {last}) (§12.2.2)")]
    CSeqOutOfOrder { got: u32, last: u32 },
    /// The local CSeq reached 2^32-1 and the dialog can send nothing more (§8.1.1.5).
    #[error("the local CSeq space is exhausted")]
    CSeqExhausted,
    /// Glare: the peer offered (or re-INVITEd) while our own offer or INVITE is pending.
    /// 491 Request Pending (RFC 3261 §14.2, RFC 3311 §5.2).
    #[error("a request of ours is pending; 491 (§14.2)")]
    RequestPending,
    /// The peer sent a second offer (or re-INVITE) before we answered its first one:
    /// 500 with Retry-After (RFC 3261 §14.2, RFC 3311 §5.2).
    #[error(
        "the peer's previous offer or INVITE is still being answered; 500 with Retry-After (§14.2)"
    )]
    RetryLater,
    /// The caller tried to offer while an offer is outstanding, or to start a re-INVITE
    /// while an INVITE is in progress in either direction (§14.1, RFC 6337 §3).
    #[error("an offer or INVITE is already outstanding (§14.1)")]
    OfferPending,
    /// A message that must carry an answer carried none (RFC 3261 §13.2.1, RFC 6337 §3.1).
    #[error("the {0} must carry the answer (§13.2.1)")]
    MissingAnswer(&'static str),
    /// A 2xx to an INVITE without an offer must carry the offer (§13.2.1).
    #[error("the 2xx must carry an offer: the INVITE had none (§13.2.1)")]
    MissingOffer,
    /// CANCEL is a hop-by-hop request of the INVITE's transaction, never a dialog request
    /// (§9.1): build it from the INVITE.
    #[error("CANCEL is not a dialog request; build it from the INVITE (§9.1)")]
    CancelIsNotInDialog,
    /// The method has its own builder ([`crate::dialog::Dialog::ack`],
    /// [`crate::dialog::Dialog::prack`]).
    #[error("{0} has its own builder")]
    UseDedicatedBuilder(&'static str),
    /// `ack()` was called but no 2xx to an INVITE awaits an ACK.
    #[error("no 2xx awaits an ACK")]
    NoAckDue,
    /// A PRACK matched no unacknowledged reliable provisional response: 481 (RFC 3262 §3).
    #[error("the PRACK matches no unacknowledged reliable provisional response (RFC 3262 §3)")]
    NoMatchingProvisional,
    /// Only a 101–199 can be sent reliably (RFC 3262 §3).
    #[error("a {0} response cannot be sent reliably (RFC 3262 §3)")]
    NotProvisional(u16),
    /// A second reliable provisional response before the first was PRACKed (RFC 3262 §3).
    #[error("the previous reliable provisional response is not yet acknowledged (RFC 3262 §3)")]
    UnacknowledgedProvisional,
    /// A malformed RSeq, RAck, Session-Expires or Min-SE value: 400.
    #[error("bad {0} header")]
    BadHeader(&'static str),
    /// The requested session interval is below our Min-SE: 422 with Min-SE (RFC 4028 §8.1).
    #[error("session interval too small; our Min-SE is {min_se} (RFC 4028 §8.1)")]
    SessionIntervalTooSmall { min_se: u32 },
}

impl TryFrom<&DialogError> for StatusCode {
    type Error = ();

    /// The status a UAS answers a refused request with; `Err(())` for the caller's own
    /// mistakes, which never reach the wire.
    fn try_from(e: &DialogError) -> Result<StatusCode, ()> {
        Ok(StatusCode(match e {
            DialogError::MissingHeader(_) | DialogError::BadHeader(_) => 400,
            DialogError::NoSuchDialog
            | DialogError::Terminated
            | DialogError::NoMatchingProvisional => 481,
            DialogError::CSeqOutOfOrder { .. } | DialogError::RetryLater => 500,
            DialogError::RequestPending => 491,
            DialogError::SessionIntervalTooSmall { .. } => 422,
            DialogError::MissingAnswer(_) | DialogError::MissingOffer => 488,
            _ => return Err(()),
        }))
    }
}

impl DialogError {
    /// The response to `req` for this error, with the headers the RFCs ask for: Min-SE on
    /// 422 (RFC 4028 §8.1), Retry-After on the 500 for an overlapping INVITE or offer (§14.2
    /// wants a random value in 0..=10 s; the caller chooses it, the core has no randomness).
    /// `None` when the error is not the peer's, and for an ACK, which is never answered
    /// (§17.1.1.3): an ACK without the owed answer calls for BYE instead.
    pub fn response(&self, req: &Request, retry_after_secs: u32) -> Option<Response> {
        if req.method == sb_sip_msg::Method::Ack {
            return None;
        }
        let status = StatusCode::try_from(self).ok()?;
        let mut resp = response_for(req, status);
        let extra = match self {
            DialogError::SessionIntervalTooSmall { min_se } => Some(("Min-SE", min_se)),
            DialogError::RetryLater => Some(("Retry-After", &retry_after_secs)),
            _ => None,
        };
        if let Some((name, v)) = extra {
            resp.headers.push(Header::Other(OtherHeader {
                name: name.to_string(),
                value: v.to_string(),
            }));
        }
        Some(resp)
    }
}
