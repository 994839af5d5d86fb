//! Errors of the commands the TU gives the transaction layer. Peer input never produces an
//! error value: a malformed or unmatched message is dropped and counted (see
//! [`crate::transaction::Stats`]).

use crate::transaction::TsxId;

/// Why a command from the TU was refused. These are all the TU's mistakes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TsxError {
    #[error("no live transaction {0}")]
    NoSuchTransaction(TsxId),
    #[error("{0} is not a server transaction")]
    NotServer(TsxId),
    #[error("{0} is not an INVITE client transaction")]
    NotInviteClient(TsxId),
    #[error("{tsx} cannot take a {status} response in state {state}")]
    InvalidState {
        tsx: TsxId,
        status: u16,
        state: &'static str,
    },
    #[error("the request has no Via header (the TU adds one with its sent-by, §8.1.1.7)")]
    MissingVia,
    #[error("the request has no CSeq header")]
    MissingCSeq,
    #[error("the CSeq method does not match the request method (§8.1.1.5)")]
    CSeqMismatch,
    #[error(
        "ACK is never a client transaction of its own (§17.1.1.3, §13.2.2.4); send it directly"
    )]
    AckIsNotATransaction,
    #[error("a client transaction with branch {0} already exists")]
    DuplicateBranch(String),
    #[error("{0} already finished; CANCEL is only for a pending INVITE (§9.1)")]
    NothingToCancel(TsxId),
}
