//! Each transport answers over real loopback sockets: UDP, TCP, TLS, WS, WSS.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use sb_runtime::TransportKind;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

async fn udp_exchange(to: std::net::SocketAddr, msg: &[u8]) -> (String, std::net::SocketAddr) {
    let sock = UdpSocket::bind(loopback()).await.unwrap();
    sock.send_to(msg, to).await.unwrap();
    let mut buf = vec![0u8; 65536];
    let (n, _) = tokio::time::timeout(DEADLINE, sock.recv_from(&mut buf))
        .await
        .expect("udp answer")
        .unwrap();
    (
        String::from_utf8_lossy(&buf[..n]).to_string(),
        sock.local_addr().unwrap(),
    )
}

#[tokio::test]
async fn udp_options_is_answered_200_to_the_source_port_with_rport_filled() {
    let srv = start(|_| {}).await;
    let (resp, me) = udp_exchange(
        srv.addr(TransportKind::Udp),
        options("u1", "UDP", "").as_bytes(),
    )
    .await;
    assert_eq!(status_of(&resp), 200, "{resp}");
    // RFC 3581: the response names where the request came from.
    assert!(resp.contains(&format!("rport={}", me.port())), "{resp}");
    assert!(resp.contains("received=127.0.0.1"), "{resp}");
    assert!(resp.contains("Call-ID: u1@client"), "{resp}");
}

#[tokio::test]
async fn udp_malformed_request_gets_400_with_the_reason() {
    let srv = start(|_| {}).await;
    let bad = options("u2", "UDP", "").replace("Content-Length: 0", "Content-Length: -5");
    let (resp, _) = udp_exchange(srv.addr(TransportKind::Udp), bad.as_bytes()).await;
    assert_eq!(status_of(&resp), 400, "{resp}");
    // The detail travels in a Warning (399) after the other headers.
    let warning = resp
        .lines()
        .find(|l| l.starts_with("Warning: 399 "))
        .unwrap_or_else(|| panic!("no Warning in {resp}"));
    assert!(warning.contains("Content-Length"), "{warning}");
    assert!(resp.contains("branch=z9hG4bKu2"), "{resp}");
}

#[tokio::test]
async fn udp_oversized_datagram_gets_513() {
    let srv = start(|c| c.max_message_size = 2048).await;
    let big = options("u3", "UDP", &format!("Subject: {}\r\n", "x".repeat(3000)));
    let (resp, _) = udp_exchange(srv.addr(TransportKind::Udp), big.as_bytes()).await;
    assert_eq!(status_of(&resp), 513, "{resp}");
}

#[tokio::test]
async fn udp_unsupported_version_gets_505() {
    let srv = start(|_| {}).await;
    let bad = options("u4", "UDP", "").replacen("SIP/2.0\r\n", "SIP/7.0\r\n", 1);
    let (resp, _) = udp_exchange(srv.addr(TransportKind::Udp), bad.as_bytes()).await;
    assert_eq!(status_of(&resp), 505, "{resp}");
}

#[tokio::test]
async fn tcp_answers_several_requests_on_one_connection() {
    let srv = start(|_| {}).await;
    let mut s = TcpStream::connect(srv.addr(TransportKind::Tcp))
        .await
        .unwrap();
    s.write_all(options("t1", "TCP", "").as_bytes())
        .await
        .unwrap();
    let r1 = read_message(&mut s).await;
    s.write_all(options("t2", "TCP", "Require: foo\r\n").as_bytes())
        .await
        .unwrap();
    let r2 = read_message(&mut s).await;
    assert_eq!(status_of(&r1), 200, "{r1}");
    assert_eq!(status_of(&r2), 420, "{r2}");
    assert!(r2.contains("Unsupported: foo"), "{r2}");
}

#[tokio::test]
async fn tcp_message_split_across_writes_is_framed() {
    let srv = start(|_| {}).await;
    let mut s = TcpStream::connect(srv.addr(TransportKind::Tcp))
        .await
        .unwrap();
    let msg = options("t3", "TCP", "");
    let (a, b) = msg.as_bytes().split_at(40);
    s.write_all(a).await.unwrap();
    s.flush().await.unwrap();
    tokio::task::yield_now().await;
    s.write_all(b).await.unwrap();
    assert_eq!(status_of(&read_message(&mut s).await), 200);
}

#[tokio::test]
async fn tcp_keepalive_ping_gets_a_pong() {
    let srv = start(|_| {}).await;
    let mut s = TcpStream::connect(srv.addr(TransportKind::Tcp))
        .await
        .unwrap();
    s.write_all(b"\r\n\r\n").await.unwrap();
    let mut pong = [0u8; 2];
    tokio::time::timeout(
        DEADLINE,
        tokio::io::AsyncReadExt::read_exact(&mut s, &mut pong),
    )
    .await
    .expect("pong before the deadline")
    .unwrap();
    assert_eq!(&pong, b"\r\n");
    // The connection still carries SIP afterwards.
    s.write_all(options("t4", "TCP", "").as_bytes())
        .await
        .unwrap();
    assert_eq!(status_of(&read_message(&mut s).await), 200);
}

#[tokio::test]
async fn tcp_lost_framing_closes_the_connection() {
    let srv = start(|_| {}).await;
    let mut s = TcpStream::connect(srv.addr(TransportKind::Tcp))
        .await
        .unwrap();
    let bad = options("t5", "TCP", "").replace("Content-Length: 0", "Content-Length: -999");
    s.write_all(bad.as_bytes()).await.unwrap();
    expect_closed(&mut s, DEADLINE).await;
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused() {
    let srv = start(|c| c.max_connections = 1).await;
    let mut first = TcpStream::connect(srv.addr(TransportKind::Tcp))
        .await
        .unwrap();
    first
        .write_all(options("l1", "TCP", "").as_bytes())
        .await
        .unwrap();
    assert_eq!(status_of(&read_message(&mut first).await), 200);
    let mut second = TcpStream::connect(srv.addr(TransportKind::Tcp))
        .await
        .unwrap();
    expect_closed(&mut second, DEADLINE).await;
    // Closing the first frees the slot.
    drop(first);
    let ok = tokio::time::timeout(DEADLINE, async {
        loop {
            let mut s = TcpStream::connect(srv.addr(TransportKind::Tcp))
                .await
                .unwrap();
            if s.write_all(options("l2", "TCP", "").as_bytes())
                .await
                .is_ok()
            {
                let mut buf = [0u8; 12];
                if tokio::io::AsyncReadExt::read_exact(&mut s, &mut buf)
                    .await
                    .is_ok()
                {
                    return buf.to_vec();
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a slot frees up once the first connection closes");
    assert_eq!(&ok, b"SIP/2.0 200 ");
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let srv = start(|c| c.idle_timeout = Duration::from_millis(200)).await;
    let mut s = TcpStream::connect(srv.addr(TransportKind::Tcp))
        .await
        .unwrap();
    expect_closed(&mut s, DEADLINE).await;
}

#[tokio::test]
async fn tls_options_is_answered_200() {
    let srv = start(|_| {}).await;
    let tcp = TcpStream::connect(srv.addr(TransportKind::Tls))
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut s = tls_connector(&srv.cert_der)
        .connect(name, tcp)
        .await
        .expect("TLS handshake");
    s.write_all(options("s1", "TLS", "").as_bytes())
        .await
        .unwrap();
    let resp = read_message(&mut s).await;
    assert_eq!(status_of(&resp), 200, "{resp}");
}

async fn ws_exchange<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>, msg: String) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    ws.send(WsMessage::text(msg)).await.unwrap();
    let m = tokio::time::timeout(DEADLINE, ws.next())
        .await
        .expect("ws answer")
        .unwrap()
        .unwrap();
    m.into_text().unwrap().to_string()
}

fn ws_request(
    addr: std::net::SocketAddr,
    scheme: &str,
    subprotocol: bool,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut req = format!("{scheme}://localhost:{}/", addr.port())
        .into_client_request()
        .unwrap();
    if subprotocol {
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", "sip".parse().unwrap());
    }
    req
}

#[tokio::test]
async fn ws_options_is_answered_200_with_the_sip_subprotocol() {
    let srv = start(|_| {}).await;
    let addr = srv.addr(TransportKind::Ws);
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut ws, resp) = tokio_tungstenite::client_async(ws_request(addr, "ws", true), tcp)
        .await
        .unwrap();
    assert_eq!(resp.headers().get("Sec-WebSocket-Protocol").unwrap(), "sip");
    let answer = ws_exchange(&mut ws, options("w1", "WS", "")).await;
    assert_eq!(status_of(&answer), 200, "{answer}");
}

#[tokio::test]
async fn ws_without_the_sip_subprotocol_is_refused() {
    let srv = start(|_| {}).await;
    let addr = srv.addr(TransportKind::Ws);
    let tcp = TcpStream::connect(addr).await.unwrap();
    let r = tokio_tungstenite::client_async(ws_request(addr, "ws", false), tcp).await;
    assert!(r.is_err(), "handshake without 'sip' must fail");
}

#[tokio::test]
async fn wss_options_is_answered_200() {
    let srv = start(|_| {}).await;
    let addr = srv.addr(TransportKind::Wss);
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tls_connector(&srv.cert_der)
        .connect(name, tcp)
        .await
        .expect("TLS handshake");
    let (mut ws, _) = tokio_tungstenite::client_async(ws_request(addr, "wss", true), tls)
        .await
        .unwrap();
    let answer = ws_exchange(&mut ws, options("w2", "WSS", "")).await;
    assert_eq!(status_of(&answer), 200, "{answer}");
}

#[tokio::test]
async fn shutdown_completes_and_closes_connections() {
    let srv = start(|_| {}).await;
    let mut s = TcpStream::connect(srv.addr(TransportKind::Tcp))
        .await
        .unwrap();
    s.write_all(options("x1", "TCP", "").as_bytes())
        .await
        .unwrap();
    assert_eq!(status_of(&read_message(&mut s).await), 200);
    srv.stop.shutdown();
    tokio::time::timeout(DEADLINE, srv.task)
        .await
        .expect("run() returns")
        .unwrap();
    expect_closed(&mut s, DEADLINE).await;
}

#[tokio::test]
async fn tcp_malformed_message_with_intact_framing_gets_400_and_the_connection_stays() {
    let srv = start(|_| {}).await;
    let mut s = TcpStream::connect(srv.addr(TransportKind::Tcp))
        .await
        .unwrap();
    let bad = options("t6", "TCP", "").replace(";rport", ";rport;;");
    s.write_all(bad.as_bytes()).await.unwrap();
    let r = read_message(&mut s).await;
    assert_eq!(status_of(&r), 400, "{r}");
    assert!(r.contains("branch=z9hG4bKt6"), "{r}");
    s.write_all(options("t7", "TCP", "").as_bytes())
        .await
        .unwrap();
    assert_eq!(status_of(&read_message(&mut s).await), 200);
}

#[tokio::test]
async fn tcp_message_over_the_size_limit_closes_the_connection() {
    let srv = start(|c| c.max_message_size = 2048).await;
    let mut s = TcpStream::connect(srv.addr(TransportKind::Tcp))
        .await
        .unwrap();
    let big = options("t8", "TCP", &format!("Subject: {}\r\n", "x".repeat(4096)));
    // The server may close while we are still writing; that is the point.
    let _ = s.write_all(big.as_bytes()).await;
    expect_closed(&mut s, DEADLINE).await;
}
