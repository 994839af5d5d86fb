//! The mediation role on the event loop: the B2BUA core ([`sb_b2bua::B2bua`]) as a
//! [`Core`], with its media commands handed to a [`MediaHost`].
//!
//! Mediation is a SIP endpoint of its own (its own listen addresses, its own
//! [`crate::Server`]): the front end's proxy sends PSTN-bound calls to it, and gateways send
//! their calls to it. Media events come back from the host's task through
//! [`MediationCore::handle_media_event`], which the caller reaches with the server's
//! [`crate::ControlHandle`] ([`spawn_media_events`] does the plumbing).
//!
//! Metrics: `mediation_calls` (gauge: calls in progress), `mediation_calls_total{outcome}`
//! (answered, or the final status of a call that never connected), `mediation_gateway_up
//! {gateway}` (gauge, 1 up, 0 down, absent until its first keep-alive is answered or
//! missed), `mediation_gateway_calls{gateway}` (gauge: calls on it now),
//! `mediation_gateway_failures_total{gateway,status}`. `switchboard gateway list` reads
//! them to show live state.

use std::time::Instant;

use sb_b2bua::{B2bua, B2buaEvent};
use sb_gateways::MonitorEvent;
use sb_media_api::Event;
use sb_sip_core::{ConnId, Peer};
use sb_sip_msg::{Message, ParseError};
use tokio::sync::mpsc;

use crate::core::{Core, Transmit};
use crate::media::MediaHost;
use crate::server::ControlHandle;

/// The B2BUA and the media host it drives.
pub struct MediationCore {
    b2bua: B2bua,
    media: MediaHost,
}

impl MediationCore {
    pub fn new(b2bua: B2bua, media: MediaHost) -> MediationCore {
        let mut core = MediationCore { b2bua, media };
        core.after_input();
        core.publish_gateways();
        core
    }

    /// Each gateway's health and calls as gauges.
    fn publish_gateways(&self) {
        use sb_gateways::Health;
        for (name, state) in self.b2bua.monitor().states() {
            let gateway = name.to_string();
            match state.health {
                Health::Up => {
                    metrics::gauge!("mediation_gateway_up", "gateway" => gateway.clone()).set(1.0)
                }
                Health::Down => {
                    metrics::gauge!("mediation_gateway_up", "gateway" => gateway.clone()).set(0.0)
                }
                _ => {}
            }
            metrics::gauge!("mediation_gateway_calls", "gateway" => gateway)
                .set(f64::from(state.active_calls));
        }
    }

    pub fn b2bua(&self) -> &B2bua {
        &self.b2bua
    }

    /// An event from the media engine (latching, DTMF, timeouts, quality reports).
    pub fn handle_media_event(&mut self, now: Instant, ev: Event) {
        self.b2bua.handle_media_event(now, ev);
        self.after_input();
    }

    /// Hands media commands to the host and turns the B2BUA's events into logs and metrics.
    fn after_input(&mut self) {
        while let Some(cmd) = self.b2bua.poll_media() {
            self.media.command(cmd);
        }
        let mut any = false;
        while let Some(ev) = self.b2bua.poll_event() {
            record(&ev);
            any = true;
        }
        if any {
            self.publish_gateways();
        }
        metrics::gauge!("mediation_calls").set(self.b2bua.len() as f64);
    }
}

fn record(ev: &B2buaEvent) {
    match ev {
        B2buaEvent::CallStarted {
            call,
            direction,
            number,
        } => tracing::info!(?call, ?direction, number = %number, "mediation call started"),
        B2buaEvent::GatewayFailed {
            call,
            gateway,
            status,
        } => {
            tracing::warn!(?call, gateway = %gateway, status = status.code(), "gateway failed a call");
            metrics::counter!(
                "mediation_gateway_failures_total",
                "gateway" => gateway.to_string(),
                "status" => status.code().to_string()
            )
            .increment(1);
        }
        B2buaEvent::CallAnswered { call, gateway } => {
            tracing::info!(?call, gateway = ?gateway.as_ref().map(|g| g.to_string()), "mediation call answered");
            metrics::counter!("mediation_calls_total", "outcome" => "answered").increment(1);
        }
        B2buaEvent::CallEnded { call, status } => {
            tracing::info!(?call, status = ?status.map(|s| s.code()), "mediation call ended");
            if let Some(s) = status {
                metrics::counter!("mediation_calls_total", "outcome" => s.code().to_string())
                    .increment(1);
            }
        }
        B2buaEvent::Gateway(MonitorEvent::GatewayUp { gateway, reason }) => {
            tracing::info!(gateway = %gateway, reason = ?reason, "gateway up");
        }
        B2buaEvent::Gateway(MonitorEvent::GatewayDown { gateway, reason }) => {
            tracing::warn!(gateway = %gateway, reason = ?reason, "gateway down");
        }
        #[allow(unreachable_patterns)]
        other => tracing::debug!(event = ?other, "mediation event"),
    }
}

impl Core for MediationCore {
    fn handle_message(&mut self, now: Instant, from: Peer, msg: Message) {
        self.b2bua.handle_message(now, msg, from);
        self.after_input();
    }

    fn handle_malformed(&mut self, _now: Instant, from: Peer, _bytes: &[u8], err: &ParseError) {
        // The transport layer counts parse errors; a datagram that is not SIP gets no
        // answer (RFC 3261 §18.3 asks for none when the message cannot be parsed).
        tracing::debug!(?from, error = %err, "unparseable message at mediation");
    }

    fn handle_connection_lost(&mut self, _now: Instant, _conn: ConnId) {
        // Transactions over a lost connection time out (Timer B/F) and their calls fail
        // over or end; nothing to do at once.
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.b2bua.handle_timeout(now);
        self.after_input();
    }

    fn begin_shutdown(&mut self, _now: Instant) {
        // Calls in progress end with the process; gateways see their transactions time
        // out. A drain that BYEs every call is future work (see docs/mediation.md).
    }

    fn transactions(&self) -> usize {
        self.b2bua.transactions()
    }

    fn in_flight(&self) -> usize {
        0
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.b2bua.poll_transmit().map(|t| Transmit {
            peer: t.to,
            message: t.message,
        })
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.b2bua.poll_timeout()
    }
}

/// A sender for [`MediaHost::start`]'s event callback, and a task that feeds what it
/// receives to the mediation core once its server runs.
pub fn media_event_channel() -> (
    impl FnMut(Event) + Send + 'static,
    mpsc::UnboundedReceiver<Event>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        move |ev| {
            let _ = tx.send(ev);
        },
        rx,
    )
}

/// Forwards media events into the mediation server's loop until either side stops.
pub fn spawn_media_events(
    mut rx: mpsc::UnboundedReceiver<Event>,
    control: ControlHandle<MediationCore>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            control.send(move |core, now| core.handle_media_event(now, ev));
        }
    })
}
