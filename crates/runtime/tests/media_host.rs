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

/// `n` even ports whose odd neighbours are free too, on 127.0.0.1, right now (all held
/// while searching, so they differ).
fn free_pairs(n: usize) -> Vec<SocketAddr> {
    let mut held = Vec::new();
    let mut found = Vec::new();
    for port in (42_000..44_000).step_by(2) {
        let a = std::net::UdpSocket::bind(("127.0.0.1", port));
        let b = std::net::UdpSocket::bind(("127.0.0.1", port + 1));
        if let (Ok(a), Ok(b)) = (a, b) {
            held.push((a, b));
            found.push(SocketAddr::from(([127, 0, 0, 1], port)));
            if found.len() == n {
                return found;
            }
        }
    }
    panic!("no {n} free port pairs");
}

/// The B2BUA owns its port range and names the local addresses in AddLeg: the host binds
/// them then, and closes them when the session is destroyed.
#[tokio::test]
async fn add_leg_binds_the_named_ports_and_destroy_closes_them() {
    let (host, task) = MediaHost::start(MediaHostConfig::default(), 9, |_| {});
    let alice = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let gateway = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let pairs = free_pairs(2);
    let (a_local, g_local) = (pairs[0], pairs[1]);
    let a_rtcp = SocketAddr::from(([127, 0, 0, 1], a_local.port() + 1));
    let session = SessionId(5);
    host.command(Command::CreateSession { session });
    host.command(Command::AddLeg {
        session,
        leg: LegId(51),
        local: a_local,
        local_rtcp: Some(a_rtcp),
        spec: LegSpec::plain(alice.local_addr().unwrap(), CodecSpec::pcmu()),
    });
    host.command(Command::AddLeg {
        session,
        leg: LegId(52),
        local: g_local,
        local_rtcp: Some(SocketAddr::from(([127, 0, 0, 1], g_local.port() + 1))),
        spec: LegSpec::plain(gateway.local_addr().unwrap(), CodecSpec::pcmu()),
    });
    host.command(Command::Connect {
        a: LegId(51),
        b: LegId(52),
    });
    // Bound: the port is taken now.
    let bound = async {
        while std::net::UdpSocket::bind(a_local).is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), bound)
        .await
        .expect("AddLeg binds the leg's port");

    let sender = tokio::spawn(async move {
        for i in 0..50u16 {
            let p = rtp(0, i, u32::from(i) * 160, &[0x7F; 160]);
            alice.send_to(&p, a_local).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let got = receive_rtp(&gateway, 5, Duration::from_secs(20)).await;
    assert!(got.len() >= 5, "the gateway got {} RTP packets", got.len());
    assert!(got.iter().all(|p| p[1] & 0x7f == 0), "PCMU relayed as PCMU");
    sender.await.unwrap();

    host.command(Command::DestroySession { session });
    let closed = async {
        loop {
            if std::net::UdpSocket::bind(a_local).is_ok()
                && std::net::UdpSocket::bind(a_rtcp).is_ok()
                && std::net::UdpSocket::bind(g_local).is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), closed)
        .await
        .expect("DestroySession closes the legs' sockets");
    drop(host);
    task.abort();
}
