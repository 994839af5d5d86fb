//! The media host over real UDP sockets on loopback: two legs relaying G.711 between two
//! peers, PCMU on one side and PCMA on the other (so the engine transcodes), and the
//! ports going back to the range when the call ends.

use std::net::SocketAddr;
use std::time::Duration;

use sb_media_api::{CodecSpec, Command, Event, LegId, LegSpec, SessionId};
use sb_runtime::{MediaHost, MediaHostConfig};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// A 12-byte RTP header and 160 bytes of payload.
fn rtp(pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt & 0x7f];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// RTP packets (not RTCP) that `sock` receives within `within`.
async fn receive_rtp(sock: &UdpSocket, want: usize, within: Duration) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    let deadline = tokio::time::Instant::now() + within;
    while got.len() < want {
        let Ok(Ok((n, _))) = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await
        else {
            break;
        };
        // RTCP packet types 200-204 sit in the second byte (RFC 5761 §4).
        if n >= 12 && !(200..=204).contains(&buf[1]) {
            got.push(buf[..n].to_vec());
        }
    }
    got
}

#[tokio::test]
async fn two_legs_relay_and_transcode_between_real_sockets() {
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    let config = MediaHostConfig {
        address: "127.0.0.1".parse().unwrap(),
        port_min: 41_000,
        port_max: 41_999,
    };
    let (host, task) = MediaHost::start(config, 7, move |e: Event| {
        let _ = ev_tx.send(e);
    });
    let alice = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let gateway = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let a_ports = host.allocate().unwrap();
    let g_ports = host.allocate().unwrap();
    assert_eq!(a_ports.rtp.port() % 2, 0, "RTP on an even port");
    assert_eq!(a_ports.rtcp.port(), a_ports.rtp.port() + 1);
    assert_ne!(a_ports, g_ports);

    let session = SessionId(1);
    let spec =
        |peer: &UdpSocket, codec: CodecSpec| LegSpec::plain(peer.local_addr().unwrap(), codec);
    host.command(Command::CreateSession { session });
    host.command(Command::AddLeg {
        session,
        leg: LegId(1),
        local: a_ports.rtp,
        local_rtcp: Some(a_ports.rtcp),
        spec: spec(&alice, CodecSpec::pcmu()),
    });
    host.command(Command::AddLeg {
        session,
        leg: LegId(2),
        local: g_ports.rtp,
        local_rtcp: Some(g_ports.rtcp),
        spec: spec(&gateway, CodecSpec::pcma()),
    });
    host.command(Command::Connect {
        a: LegId(1),
        b: LegId(2),
    });

    // Alice sends µ-law silence (0xFF) every 20 ms; the gateway must get A-law packets.
    let to: SocketAddr = a_ports.rtp;
    let sender = tokio::spawn(async move {
        for i in 0..100u16 {
            let p = rtp(0, i, u32::from(i) * 160, &[0xFF; 160]);
            alice.send_to(&p, to).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        alice
    });
    let got = receive_rtp(&gateway, 10, Duration::from_secs(20)).await;
    assert!(got.len() >= 10, "the gateway got {} RTP packets", got.len());
    for p in &got {
        assert_eq!(p[1] & 0x7f, 8, "PCMA toward the gateway");
        assert_eq!(p.len(), 12 + 160, "20 ms of A-law");
    }
    let _alice = sender.await.unwrap();

    // Latching reported the peer as its source address.
    let latched = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(e) = ev_rx.recv().await {
            if let Event::Latched { leg, .. } = e {
                if leg == LegId(1) {
                    return true;
                }
            }
        }
        false
    })
    .await;
    assert_eq!(latched, Ok(true), "alice's leg latched");

    host.command(Command::DestroySession { session });
    host.release(a_ports);
    host.release(g_ports);
    // The released pair is bindable again (the host closed its sockets).
    let rebind = async {
        loop {
            if std::net::UdpSocket::bind(a_ports.rtp).is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), rebind)
        .await
        .expect("the host closes a released leg's sockets");
    drop(host);
    task.abort();
}
