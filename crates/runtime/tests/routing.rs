//! RFC 3261 §18.2.2: a response whose connection closed before it was ready goes over a
//! new connection to the Via sent-by.

mod common;

use common::{loopback, read_message, status_of, SlowCore, DEADLINE};
use sb_runtime::{RuntimeConfig, Server, TransportKind};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

#[tokio::test]
async fn a_late_response_dials_the_sent_by_when_the_connection_is_gone() {
    let config = RuntimeConfig {
        tcp: vec![loopback()],
        ..Default::default()
    };
    let server = Server::bind(config, SlowCore::new(Some(Duration::from_millis(300))))
        .await
        .unwrap();
    let addr = server
        .local_addrs()
        .iter()
        .find(|a| a.0 == TransportKind::Tcp)
        .unwrap()
        .1;
    let stop = server.shutdown_handle();
    let task = tokio::spawn(server.run());

    // The client listens where its Via says, as a SIP UA over TCP does.
    let back = TcpListener::bind(loopback()).await.unwrap();
    let port = back.local_addr().unwrap().port();
    let req = format!(
        "OPTIONS sip:bob@example.com SIP/2.0\r\n\
         Via: SIP/2.0/TCP 127.0.0.1:{port};branch=z9hG4bKlate\r\n\
         Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\n\
         Call-ID: late@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    let mut first = TcpStream::connect(addr).await.unwrap();
    first.write_all(req.as_bytes()).await.unwrap();
    assert_eq!(status_of(&read_message(&mut first).await), 100);
    drop(first);

    let (mut s, _) = tokio::time::timeout(DEADLINE, back.accept())
        .await
        .expect("the server dials back")
        .unwrap();
    let resp = read_message(&mut s).await;
    assert_eq!(status_of(&resp), 200, "{resp}");
    assert!(resp.contains("branch=z9hG4bKlate"), "{resp}");
    stop.shutdown();
    let _ = tokio::time::timeout(DEADLINE, task).await;
}
