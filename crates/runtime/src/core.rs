//! The contract between the event loop and the sans-IO cores it drives.

use sb_frontend::{Effect, Query, QueryId, QueryResult};
use sb_sip_core::{ConnId, Peer};
use sb_sip_msg::{Message, ParseError};
use std::time::Instant;

/// A message to send. Responses are routed by their top Via (RFC 3261 §18.2.2), using the
/// peer the request came from for the connection; requests go to `peer`.
#[derive(Debug, Clone)]
pub struct Transmit {
    pub peer: Peer,
    pub message: Message,
}

/// What the event loop drives: the transaction layer and the policy above it. Inputs take
/// `now`; after every input the loop drains [`Core::poll_transmit`] and re-arms its timer
/// from [`Core::poll_timeout`].
pub trait Core: Send + 'static {
    /// A message that parsed. Requests arrive with `received`/`rport` already stamped.
    fn handle_message(&mut self, now: Instant, from: Peer, msg: Message);

    /// Bytes that did not parse as a message (whole datagram, or one framed stream message).
    fn handle_malformed(&mut self, now: Instant, from: Peer, bytes: &[u8], err: &ParseError);

    /// A stream connection closed; transactions waiting to send over it learn so.
    fn handle_connection_lost(&mut self, now: Instant, conn: ConnId);

    /// The deadline from [`Core::poll_timeout`] passed.
    fn handle_timeout(&mut self, now: Instant);

    /// Shutdown began: answer new requests with 503, let the ones in flight finish.
    fn begin_shutdown(&mut self, now: Instant);

    /// Live transactions, for the `sip_transactions` gauge.
    fn transactions(&self) -> usize;

    /// Transactions still waiting for a final response (from us or from a peer). After
    /// [`Core::begin_shutdown`] the loop stops once this reaches zero (or the grace period
    /// ends). Transactions that only absorb retransmissions do not count.
    fn in_flight(&self) -> usize;

    #[must_use]
    fn poll_transmit(&mut self) -> Option<Transmit>;

    /// The answer to a query from [`Core::poll_query`].
    fn handle_query_result(&mut self, _now: Instant, _id: QueryId, _result: QueryResult) {}

    /// Work for the store; the loop runs it off the loop and answers with
    /// [`Core::handle_query_result`].
    #[must_use]
    fn poll_query(&mut self) -> Option<Query> {
        None
    }

    /// A change to persist; the loop writes them in order, off the loop.
    #[must_use]
    fn poll_write(&mut self) -> Option<Effect> {
        None
    }

    #[must_use]
    fn poll_timeout(&self) -> Option<Instant>;
}
