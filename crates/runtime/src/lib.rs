//! The tokio shell around the sans-IO cores: SIP transports, timers, and the event loop.
//!
//! This is the only crate below the binary that does IO. It binds UDP sockets and TCP, TLS
//! (RFC 3261 §18, §26), WebSocket and secure WebSocket (RFC 7118) listeners; parses
//! datagrams with `sb_sip_msg::parse_datagram` and frames streams with
//! `sb_sip_msg::StreamFramer` in per-socket tasks; stamps `received`/`rport` on requests
//! (RFC 3261 §18.2.1, RFC 3581); and hands the results to one event loop that owns a
//! [`Core`]. The loop feeds the core inputs with the current time, sleeps until the core's
//! `poll_timeout`, and sends what `poll_transmit` yields, routing responses per §18.2.2
//! ([`via`]).
//!
//! Stream connections are kept in a table keyed by connection id and by (transport, remote
//! address) for reuse; each has an idle timeout, and at most `max_connections` are open at
//! once (more are refused at accept). A CRLF CRLF keep-alive on a stream is answered with
//! CRLF (RFC 5626 §4.4.1); lost framing closes the connection.
//!
//! Shutdown is a command ([`ShutdownHandle::shutdown`]): listeners stop accepting, the core
//! answers new requests with 503, in-flight transactions get up to the grace period to
//! finish, then every connection is closed.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sb_runtime::RuntimeError> {
//! use sb_runtime::{RuntimeConfig, Server, ServerCore};
//! let core = ServerCore::new(Default::default(), 1, sb_frontend::Frontend::new(Default::default()));
//! let config = RuntimeConfig { udp: vec!["127.0.0.1:5060".parse().unwrap()], ..Default::default() };
//! let server = Server::bind(config, core).await?;
//! let stop = server.shutdown_handle();
//! tokio::spawn(async move { tokio::signal::ctrl_c().await.ok(); stop.shutdown() });
//! server.run().await;
//! # Ok(()) }
//! ```
//!
//! Metrics (through the `metrics` facade): `sip_requests_received_total{method}`,
//! `sip_responses_sent_total{status}`, `sip_parse_errors_total{transport}`,
//! `sip_connections{transport}`, `sip_connections_refused_total{transport}`,
//! `sip_undeliverable_total{transport}`, `sip_transactions`, `sip_registrations`,
//! `sip_register_total{status}`, `sip_auth_failures_total{reason}`,
//! `sip_auth_throttled_total`, `store_query_failures_total`, `store_write_failures_total`.
//!
//! The store (`sb_store::Store`, passed in with [`Server::with_store`]) is reached only
//! from here: the core's queries run in spawned tasks whose answers come back through the
//! event loop's input channel, and its binding writes go, in order, to one writer task
//! ([`store_io`]).

pub mod core;
pub mod media;
pub mod mediation;
pub mod server;
pub mod server_core;
pub mod store_io;
mod transport;
pub mod via;
mod ws;

pub use crate::core::{Core, Transmit};
pub use media::{LegPorts, MediaHost, MediaHostConfig};
pub use mediation::MediationCore;
pub use sb_sip_core::{ConnId, Peer, TransportKind};
pub use server::{Control, ControlHandle, RuntimeConfig, RuntimeError, Server, ShutdownHandle};
pub use server_core::ServerCore;
