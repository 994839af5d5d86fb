//! SIP over WebSocket (RFC 7118): the `sip` subprotocol, one SIP message per WebSocket
//! message (§5.1), over plain (ws) or TLS (wss) connections.

use crate::transport::{deliver_datagram, ConnCtx, ConnGuard};
use futures_util::{SinkExt, StreamExt};
use sb_sip_core::Peer;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// RFC 7118 §4.1: the client offers `sip` in Sec-WebSocket-Protocol and the server echoes
/// it; a client that does not offer it is not speaking SIP and is refused.
#[allow(clippy::result_large_err)] // the signature is tungstenite's callback type
fn negotiate(req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
    let offers_sip = req
        .headers()
        .get_all("Sec-WebSocket-Protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("sip"));
    if !offers_sip {
        let mut err =
            ErrorResponse::new(Some("the 'sip' WebSocket subprotocol is required".into()));
        *err.status_mut() = StatusCode::BAD_REQUEST;
        return Err(err);
    }
    resp.headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
    Ok(resp)
}

/// Runs one WebSocket connection: handshake, then messages both ways until either side
/// closes, the connection idles out, or the event loop drops its sender.
pub(crate) async fn run_ws<S>(
    stream: S,
    peer: Peer,
    ctx: ConnCtx,
    tx: mpsc::Sender<Vec<u8>>,
    mut rx: mpsc::Receiver<Vec<u8>>,
    permit: OwnedSemaphorePermit,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = WebSocketConfig::default()
        .max_message_size(Some(ctx.max_message_size))
        .max_frame_size(Some(ctx.max_message_size));
    let handshake =
        tokio_tungstenite::accept_hdr_async_with_config(stream, negotiate, Some(config));
    let mut ws = match tokio::time::timeout(std::time::Duration::from_secs(10), handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "WebSocket handshake failed");
            return;
        }
        Err(_) => return,
    };
    let _guard = ConnGuard::open(peer, &ctx, tx, permit).await;
    let idle = tokio::time::sleep(ctx.idle_timeout);
    tokio::pin!(idle);
    loop {
        tokio::select! {
            m = ws.next() => {
                let bytes = match m {
                    Some(Ok(WsMessage::Text(t))) => t.as_bytes().to_vec(),
                    Some(Ok(WsMessage::Binary(b))) => b.to_vec(),
                    // tungstenite answers pings itself; pongs and frames carry nothing for us.
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_))) => continue,
                    Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => break,
                };
                idle.as_mut().reset(tokio::time::Instant::now() + ctx.idle_timeout);
                deliver_datagram(&ctx.inputs, peer, &bytes).await;
            }
            out = rx.recv() => {
                let Some(bytes) = out else { break };
                // RFC 7118 §5.1: text frames for UTF-8 messages, binary otherwise.
                let msg = match String::from_utf8(bytes) {
                    Ok(s) => WsMessage::text(s),
                    Err(e) => WsMessage::binary(e.into_bytes()),
                };
                if ws.send(msg).await.is_err() {
                    break;
                }
                idle.as_mut().reset(tokio::time::Instant::now() + ctx.idle_timeout);
            }
            _ = &mut idle => break,
        }
    }
    let _ = ws.close(None).await;
}
