//! The HTTP management plane: `/health` and `/metrics` (Prometheus text format).
//!
//! The binary installs the process-wide metrics recorder once with [`install_recorder`];
//! every crate records through the `metrics` facade, so no protocol core depends on this
//! crate. [`serve`] runs the HTTP server on a listener the caller bound, until the shutdown
//! future completes. The admin API of later work hangs off the same router.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Installs the global Prometheus recorder. Call once per process; later calls fail
/// because the `metrics` facade takes only one recorder.
pub fn install_recorder() -> Result<PrometheusHandle, String> {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    describe_metrics();
    Ok(handle)
}

/// Registers help texts, so `/metrics` explains each family.
fn describe_metrics() {
    metrics::describe_gauge!("switchboard_up", "1 while the server is running");
    metrics::describe_gauge!(
        "switchboard_start_time_seconds",
        "Unix time at which the server started"
    );
}

/// Live facts the health endpoint reports; the binary flips `ready` when every listener
/// is bound and clears it when shutdown starts.
#[derive(Clone)]
pub struct Health {
    ready: Arc<AtomicBool>,
    started: Instant,
}

impl Health {
    /// `started` is the process start time, taken by the binary (this crate reads no clock
    /// for protocol purposes; uptime is reporting only).
    pub fn new(started: Instant) -> Self {
        Health {
            ready: Arc::new(AtomicBool::new(false)),
            started,
        }
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
struct AppState {
    metrics: PrometheusHandle,
    health: Health,
}

/// The router: `GET /health` (200 when ready, 503 while starting or stopping, JSON body)
/// and `GET /metrics`.
pub fn router(metrics: PrometheusHandle, health: Health) -> Router {
    Router::new()
        .route("/health", get(health_handler))
        .route("/metrics", get(metrics_handler))
        .with_state(AppState { metrics, health })
}

async fn health_handler(State(st): State<AppState>) -> impl IntoResponse {
    let ready = st.health.is_ready();
    let body = format!(
        "{{\"status\":\"{}\",\"version\":\"{}\",\"uptime_seconds\":{}}}\n",
        if ready { "ok" } else { "unavailable" },
        env!("CARGO_PKG_VERSION"),
        st.health.started.elapsed().as_secs()
    );
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, [(header::CONTENT_TYPE, "application/json")], body)
}

async fn metrics_handler(State(st): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics.render(),
    )
}

/// Serves the router on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: PrometheusHandle,
    health: Health,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(metrics, health);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(addr: std::net::SocketAddr, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn health_and_metrics_answer() {
        // A local recorder, so this test does not fight others for the global one.
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            metrics::counter!("sip_requests_received_total", "method" => "OPTIONS").increment(3);
        });
        let health = Health::new(Instant::now());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, handle, health.clone(), async {
            let _ = rx.await;
        }));

        let starting = get(addr, "/health").await;
        assert!(starting.starts_with("HTTP/1.1 503"), "{starting}");
        health.set_ready(true);
        let ok = get(addr, "/health").await;
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert!(ok.contains("\"status\":\"ok\""), "{ok}");

        let m = get(addr, "/metrics").await;
        assert!(m.starts_with("HTTP/1.1 200"), "{m}");
        assert!(
            m.contains("sip_requests_received_total{method=\"OPTIONS\"} 3"),
            "{m}"
        );
        let _ = tx.send(());
        server.await.unwrap().unwrap();
    }
}
