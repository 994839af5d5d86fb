//! Graceful shutdown: new requests get 503, in-flight ones finish, then run() returns;
//! the grace period bounds the wait. Driven by a core that answers after a delay.

mod common;

use common::{loopback, options, status_of, SlowCore, DEADLINE};
use sb_runtime::{RuntimeConfig, Server, TransportKind};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

async fn recv(sock: &UdpSocket) -> String {
    let mut buf = vec![0u8; 65536];
    let (n, _) = tokio::time::timeout(DEADLINE, sock.recv_from(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).to_string()
}

async fn start(
    core: SlowCore,
    grace: Duration,
) -> (
    std::net::SocketAddr,
    sb_runtime::ShutdownHandle,
    tokio::task::JoinHandle<SlowCore>,
) {
    let config = RuntimeConfig {
        udp: vec![loopback()],
        shutdown_grace: grace,
        ..Default::default()
    };
    let server = Server::bind(config, core).await.unwrap();
    let addr = server
        .local_addrs()
        .iter()
        .find(|a| a.0 == TransportKind::Udp)
        .unwrap()
        .1;
    let stop = server.shutdown_handle();
    (addr, stop, tokio::spawn(server.run()))
}

#[tokio::test]
async fn in_flight_requests_finish_and_new_ones_get_503() {
    let (addr, stop, task) = start(
        SlowCore::new(Some(Duration::from_millis(300))),
        Duration::from_secs(30),
    )
    .await;
    let client = UdpSocket::bind(loopback()).await.unwrap();
    client
        .send_to(options("a", "UDP", "").as_bytes(), addr)
        .await
        .unwrap();
    assert_eq!(
        status_of(&recv(&client).await),
        100,
        "the first request is in flight"
    );

    let begun = Instant::now();
    stop.shutdown();
    client
        .send_to(options("b", "UDP", "").as_bytes(), addr)
        .await
        .unwrap();
    let mut statuses = vec![];
    for _ in 0..2 {
        let r = recv(&client).await;
        let branch = if r.contains("z9hG4bKa") { "a" } else { "b" };
        statuses.push((branch, status_of(&r)));
    }
    statuses.sort();
    assert_eq!(statuses, [("a", 200), ("b", 503)]);
    let core = tokio::time::timeout(DEADLINE, task)
        .await
        .expect("run() returns")
        .unwrap();
    assert!(core.pending.is_empty());
    assert!(
        begun.elapsed() < Duration::from_secs(10),
        "did not wait for the 30 s grace period"
    );
}

#[tokio::test]
async fn the_grace_period_bounds_the_wait() {
    let (addr, stop, task) = start(SlowCore::new(None), Duration::from_millis(200)).await;
    let client = UdpSocket::bind(loopback()).await.unwrap();
    client
        .send_to(options("c", "UDP", "").as_bytes(), addr)
        .await
        .unwrap();
    assert_eq!(status_of(&recv(&client).await), 100);
    stop.shutdown();
    let core = tokio::time::timeout(DEADLINE, task)
        .await
        .expect("run() returns after the grace period")
        .unwrap();
    assert_eq!(
        core.pending.len(),
        1,
        "the unanswered request was still pending when we gave up"
    );
}
