//! Interop with another ICE implementation: baresip (Debian's 1.0, libre's ICE) and a
//! minimal SIP user agent in this test that puts the agent's attributes in its SDP. When
//! baresip calls, the agent is the controlled answerer, as in mediation; when the test
//! calls baresip, the agent controls and nominates. A call is good when the agent has
//! selected baresip's candidate and baresip's RTP arrives on that pair.
//!
//! By default Debian's baresip 1.0 offers two components (RTP and RTCP, no rtcp-mux), and
//! with ICE it sends no media until both are connected: it completes no check list our
//! answer leaves RTCP out of, nor falls back to plain media when the answer has no ICE at
//! all (tried: no RTP in 10 s either way). So both are tested: `rtcp_mux yes` with a
//! one-component agent, and the default with [`IceAgent::new_with_rtcp`].
//!
//! baresip will not put `lo` in its SDP, so the test runs in a private network namespace
//! with `lo` and a veth holding 127.0.0.2 (media) beside 127.0.0.1 (signalling); nothing
//! leaves it, and the fixed ports below are ours alone. Needs root, as CI has, and
//! baresip with its g711, ice and aufile modules (scripts/install-deps.sh installs it).

use sb_ice::{
    classify, Credentials, IceAgent, IceConfig, IceEvent, IceRole, IceStats, PacketKind,
    SelectedPair,
};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const MEDIA_IF: &str = "sbi0";
const SIP_US: &str = "127.0.0.1:5090";
const SIP_BARESIP: &str = "127.0.0.1:5070";

extern "C" {
    // From the C library std already links; unshare(2).
    fn unshare(flags: i32) -> i32;
}
const CLONE_NEWNET: i32 = 0x4000_0000;

/// Runs `f` on its own thread in a new network namespace with `lo` up and [`MEDIA_IF`]
/// holding 127.0.0.2; a panic in `f` fails the test with its message.
fn in_private_network<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let worker = std::thread::spawn(move || {
        // SAFETY: unshare(2) with CLONE_NEWNET moves only this thread into a new network
        // namespace; it touches no memory.
        let rc = unsafe { unshare(CLONE_NEWNET) };
        assert_eq!(
            rc,
            0,
            "the test makes its own network namespace and needs root: {}",
            std::io::Error::last_os_error()
        );
        for args in [
            "link set lo up",
            "link add sbi0 type veth peer name sbi1",
            "addr add 127.0.0.2/32 dev sbi0",
            "link set sbi0 up",
            "link set sbi1 up",
        ] {
            let status = Command::new("ip")
                .args(args.split(' '))
                .status()
                .expect("run ip (Debian's iproute2)");
            assert!(status.success(), "ip {args} failed in the test namespace");
        }
        f()
    });
    match worker.join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// baresip, killed by pid when dropped.
struct Baresip {
    child: Child,
    dir: PathBuf,
}

impl Baresip {
    /// baresip with an account that answers calls at once; it dials `dial` if given.
    fn start(dial: Option<&str>, rtcp_mux: bool) -> Baresip {
        let rtcp_mux = if rtcp_mux { "yes" } else { "no" };
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sb-ice-baresip-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let tone = dir.join("tone.wav");
        std::fs::write(&tone, tone_wav(440.0, 30)).unwrap();
        std::fs::write(
            dir.join("config"),
            format!(
                "poll_method epoll\n\
                 sip_listen {SIP_BARESIP}\n\
                 module_path /usr/lib/baresip/modules\n\
                 net_interface {MEDIA_IF}\n\
                 rtcp_mux {rtcp_mux}\n\
                 audio_source aufile,{tone}\n\
                 audio_player aubridge,nil\n\
                 audio_alert aubridge,nil\n\
                 ausrc_channels 1\n\
                 auplay_channels 1\n\
                 module g711.so\n\
                 module ice.so\n\
                 module aufile.so\n\
                 module aubridge.so\n\
                 module account.so\n\
                 module menu.so\n",
                tone = tone.display(),
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("accounts"),
            format!(
                "<sip:bob@{SIP_BARESIP};transport=udp>;regint=0;answermode=auto;\
                 audio_codecs=PCMU/8000;medianat=ice\n"
            ),
        )
        .unwrap();
        let mut cmd = Command::new("baresip");
        cmd.arg("-f").arg(&dir).args(["-t", "30"]);
        if let Some(uri) = dial {
            cmd.args(["-e", &format!("/dial {uri}")]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run baresip (Debian's baresip package)");
        Baresip { child, dir }
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A WAV file (8 kHz, mono, 16-bit) of `secs` seconds of a `hz` tone, for baresip to send.
fn tone_wav(hz: f64, secs: u32) -> Vec<u8> {
    let rate = 8000u32;
    let data: Vec<u8> = (0..rate * secs)
        .flat_map(|i| {
            let x = (2.0 * std::f64::consts::PI * hz * f64::from(i) / f64::from(rate)).sin();
            ((x * 8000.0) as i16).to_le_bytes()
        })
        .collect();
    let mut out = Vec::with_capacity(44 + data.len());
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}

/// The header lines of a SIP message named `name` (case-insensitive), in order.
fn headers<'a>(msg: &'a str, name: &str) -> Vec<&'a str> {
    msg.split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .lines()
        .filter(|l| {
            l.split_once(':')
                .is_some_and(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        })
        .collect()
}

fn body(msg: &str) -> &str {
    msg.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// The 200 OK to `invite` carrying `sdp`.
fn ok(invite: &str, sdp: &str) -> String {
    let mut out = String::from("SIP/2.0 200 OK\r\n");
    for v in headers(invite, "Via") {
        out.push_str(v);
        out.push_str("\r\n");
    }
    for name in ["From", "Call-ID", "CSeq"] {
        out.push_str(headers(invite, name)[0]);
        out.push_str("\r\n");
    }
    out.push_str(&format!("{};tag=sbice1\r\n", headers(invite, "To")[0]));
    out.push_str(&format!(
        "Contact: <sip:alice@{SIP_US}>\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    ));
    out
}

/// An agent on `local` with credentials and seed from the clock and pid (test-grade
/// randomness is enough here).
fn agent(role: IceRole, local: SocketAddr) -> IceAgent {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id());
    let mut entropy = [0u8; 24];
    for (i, b) in entropy.iter_mut().enumerate() {
        *b = (seed.rotate_left(i as u32 * 7) >> 8) as u8 ^ i as u8;
    }
    let mut config = IceConfig::default();
    config.role = role;
    IceAgent::new(config, &[local], Credentials::from_entropy(&entropy), seed)
}

/// An audio section on `local` with rtcp-mux and the agent's ICE attributes.
fn sdp_of(agent: &IceAgent, local: SocketAddr) -> String {
    let mut sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n",
        local.port()
    );
    // One component means RTCP rides on the RTP port (RFC 5761).
    if agent.local_candidates().iter().all(|c| c.component == 1) {
        sdp.push_str("a=rtcp-mux\r\n");
    }
    for a in agent.sdp_attributes() {
        sdp.push_str(&format!("a={a}\r\n"));
    }
    sdp
}

/// The peer's first candidate address.
fn first_candidate(remote: &sb_sdp::RemoteIce) -> SocketAddr {
    let c = &remote.candidates[0];
    format!("{}:{}", c.address, c.port).parse().unwrap()
}

/// What a call's media path did.
struct Outcome {
    selected: Option<SelectedPair>,
    selected_rtcp: Option<SelectedPair>,
    rtp_on_pair: usize,
    stats: IceStats,
}

/// Runs the agent on the real sockets (one per component) and clock until every component
/// has a pair and the peer's RTP flows on the first (25 packets, half a second of audio),
/// or 15 s pass. Signalling that arrives meanwhile (ACK, provisional responses) is read and
/// ignored.
fn run_media(agent: &mut IceAgent, sockets: &[&UdpSocket], sip: &UdpSocket) -> Outcome {
    sip.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut buf = vec![0u8; 65536];
    let (mut selected, mut selected_rtcp) = (None, None);
    let mut rtp_on_pair = 0;
    let done = |s: &Option<SelectedPair>, r: &Option<SelectedPair>, n: usize| {
        s.is_some() && (sockets.len() == 1 || r.is_some()) && n >= 25
    };
    while Instant::now() < deadline && !done(&selected, &selected_rtcp, rtp_on_pair) {
        while let Some(t) = agent.poll_transmit() {
            let socket = sockets
                .iter()
                .find(|s| s.local_addr().unwrap() == t.local)
                .expect("the agent sends from our sockets");
            socket.send_to(&t.payload, t.remote).unwrap();
        }
        while let Some(e) = agent.poll_event() {
            match e {
                IceEvent::SelectedPair(p) if p.component == 1 => selected = Some(p),
                IceEvent::SelectedPair(p) => selected_rtcp = Some(p),
                other => panic!("unexpected {other:?}"),
            }
        }
        while sip.recv_from(&mut buf).is_ok() {}
        let now = Instant::now();
        let wait = agent
            .poll_timeout()
            .map_or(Duration::from_millis(20), |t| {
                t.saturating_duration_since(now)
            })
            .clamp(Duration::from_millis(1), Duration::from_millis(20));
        for socket in sockets {
            let local = socket.local_addr().unwrap();
            socket
                .set_read_timeout(Some(wait / sockets.len() as u32))
                .unwrap();
            if let Ok((n, from)) = socket.recv_from(&mut buf) {
                let now = Instant::now();
                match classify(&buf[..n]) {
                    PacketKind::Stun => assert!(agent.handle_packet(now, local, from, &buf[..n])),
                    // RTP (not RTCP) on the first socket, from the selected pair.
                    PacketKind::Rtp
                        if local == sockets[0].local_addr().unwrap()
                            && agent.accepts_media(local, from) =>
                    {
                        rtp_on_pair += 1
                    }
                    _ => {}
                }
            }
        }
        agent.handle_timeout(Instant::now());
    }
    Outcome {
        selected,
        selected_rtcp,
        rtp_on_pair,
        stats: agent.stats(),
    }
}

#[test]
fn baresip_calls_us_and_nominates_our_candidate() {
    in_private_network(|| {
        let sip = UdpSocket::bind(SIP_US).unwrap();
        let media = UdpSocket::bind("127.0.0.2:0").unwrap();
        let local = media.local_addr().unwrap();
        let _phone = Baresip::start(Some(&format!("sip:alice@{SIP_US}")), true);

        // The INVITE and its offer.
        sip.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = vec![0u8; 65536];
        let (n, phone_sip) = sip
            .recv_from(&mut buf)
            .expect("baresip's INVITE within 10 s");
        let invite = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(invite.starts_with("INVITE "), "{invite}");
        let offer = sb_sdp::parse_str(body(&invite)).expect("baresip's offer parses");

        // Our answer carries the agent's attributes, as sb-sdp prints them; as the
        // answerer we are the controlled agent.
        let mut agent = agent(IceRole::Controlled, local);
        let sdp = sdp_of(&agent, local);
        let answer = sb_sdp::parse_str(&sdp).unwrap();
        let session = sb_sdp::negotiated(&offer, &answer, sb_sdp::Role::Answerer).unwrap();
        let remote = session.streams[0]
            .remote_ice
            .clone()
            .expect("baresip offers ICE");
        agent.set_remote(Instant::now(), &remote, || unreachable!("no restart"));
        sip.send_to(ok(&invite, &sdp).as_bytes(), phone_sip)
            .unwrap();

        let out = run_media(&mut agent, &[&media], &sip);
        let pair = out
            .selected
            .unwrap_or_else(|| panic!("no pair selected: {:?}", out.stats));
        assert_eq!(pair.local, local);
        assert_eq!(pair.remote, first_candidate(&remote));
        assert!(
            out.rtp_on_pair >= 25,
            "{} RTP packets on the pair",
            out.rtp_on_pair
        );
        assert_eq!(out.stats.requests_refused, 0, "{:?}", out.stats);
        assert_eq!(agent.role(), IceRole::Controlled);
    });
}

#[test]
fn we_call_baresip_and_nominate_its_candidate() {
    in_private_network(|| {
        let sip = UdpSocket::bind(SIP_US).unwrap();
        let media = UdpSocket::bind("127.0.0.2:0").unwrap();
        let local = media.local_addr().unwrap();
        let _phone = Baresip::start(None, true);

        // As the offerer we are the controlling agent.
        let mut agent = agent(IceRole::Controlling, local);
        let sdp = sdp_of(&agent, local);
        let invite = format!(
            "INVITE sip:bob@{SIP_BARESIP} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {SIP_US};branch=z9hG4bK-sbice-1;rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:alice@{SIP_US}>;tag=a1\r\n\
             To: <sip:bob@{SIP_BARESIP}>\r\nCall-ID: sbice-1@127.0.0.1\r\n\
             CSeq: 1 INVITE\r\nContact: <sip:alice@{SIP_US}>\r\n\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        );
        // Until baresip listens and answers: the INVITE again every half second (as
        // Timer A would), for at most 10 s.
        sip.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = vec![0u8; 65536];
        let reply = loop {
            assert!(
                Instant::now() < deadline,
                "no 200 OK from baresip within 10 s"
            );
            sip.send_to(invite.as_bytes(), SIP_BARESIP).unwrap();
            if let Ok((n, _)) = sip.recv_from(&mut buf) {
                let r = String::from_utf8_lossy(&buf[..n]).into_owned();
                if r.starts_with("SIP/2.0 200") {
                    break r;
                }
            }
        };
        let contact = headers(&reply, "Contact")[0];
        let target = contact
            .split_once('<')
            .and_then(|(_, r)| r.split_once('>'))
            .map_or(format!("sip:bob@{SIP_BARESIP}"), |(uri, _)| uri.to_string());
        let ack = format!(
            "ACK {target} SIP/2.0\r\nVia: SIP/2.0/UDP {SIP_US};branch=z9hG4bK-sbice-2;rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:alice@{SIP_US}>;tag=a1\r\n{}\r\n\
             Call-ID: sbice-1@127.0.0.1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
            headers(&reply, "To")[0]
        );
        sip.send_to(ack.as_bytes(), SIP_BARESIP).unwrap();

        let offer = sb_sdp::parse_str(&sdp).unwrap();
        let answer = sb_sdp::parse_str(body(&reply)).expect("baresip's answer parses");
        let session = sb_sdp::negotiated(&offer, &answer, sb_sdp::Role::Offerer).unwrap();
        let remote = session.streams[0]
            .remote_ice
            .clone()
            .expect("baresip answers with ICE");
        agent.set_remote(Instant::now(), &remote, || unreachable!("no restart"));

        let out = run_media(&mut agent, &[&media], &sip);
        let pair = out
            .selected
            .unwrap_or_else(|| panic!("no pair selected: {:?}", out.stats));
        assert_eq!(pair.remote, first_candidate(&remote));
        assert!(
            out.rtp_on_pair >= 25,
            "{} RTP packets on the pair",
            out.rtp_on_pair
        );
        assert_eq!(agent.role(), IceRole::Controlling);
    });
}

#[test]
fn baresip_without_rtcp_mux_connects_both_components() {
    in_private_network(|| {
        let sip = UdpSocket::bind(SIP_US).unwrap();
        // RTCP on the port above RTP, as SDP without `a=rtcp` implies (RFC 3605 §1).
        let (rtp, rtcp) = loop {
            let rtp = UdpSocket::bind("127.0.0.2:0").unwrap();
            let port = rtp.local_addr().unwrap().port();
            if let Ok(rtcp) = UdpSocket::bind(("127.0.0.2", port.wrapping_add(1))) {
                break (rtp, rtcp);
            }
        };
        let (rtp_addr, rtcp_addr) = (rtp.local_addr().unwrap(), rtcp.local_addr().unwrap());
        let _phone = Baresip::start(Some(&format!("sip:alice@{SIP_US}")), false);

        sip.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = vec![0u8; 65536];
        let (n, phone_sip) = sip
            .recv_from(&mut buf)
            .expect("baresip's INVITE within 10 s");
        let invite = String::from_utf8_lossy(&buf[..n]).into_owned();
        let offer = sb_sdp::parse_str(body(&invite)).expect("baresip's offer parses");

        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(7, |d| d.as_nanos() as u64);
        let mut agent = IceAgent::new_with_rtcp(
            IceConfig::default(),
            &[rtp_addr],
            &[rtcp_addr],
            Credentials::from_entropy(&[(seed % 251) as u8; 24]),
            seed,
        );
        let sdp = sdp_of(&agent, rtp_addr);
        assert!(!sdp.contains("rtcp-mux"));
        let answer = sb_sdp::parse_str(&sdp).unwrap();
        let session = sb_sdp::negotiated(&offer, &answer, sb_sdp::Role::Answerer).unwrap();
        let remote = session.streams[0]
            .remote_ice
            .clone()
            .expect("baresip offers ICE");
        assert!(
            remote.candidates.iter().any(|c| c.component == 2),
            "an RTCP candidate"
        );
        agent.set_remote(Instant::now(), &remote, || unreachable!("no restart"));
        sip.send_to(ok(&invite, &sdp).as_bytes(), phone_sip)
            .unwrap();

        let out = run_media(&mut agent, &[&rtp, &rtcp], &sip);
        let pair = out
            .selected
            .unwrap_or_else(|| panic!("no RTP pair: {:?}", out.stats));
        let rtcp_pair = out
            .selected_rtcp
            .unwrap_or_else(|| panic!("no RTCP pair: {:?}", out.stats));
        assert_eq!((pair.component, pair.local), (1, rtp_addr));
        assert_eq!((rtcp_pair.component, rtcp_pair.local), (2, rtcp_addr));
        assert_eq!(rtcp_pair.remote.port(), pair.remote.port() + 1);
        assert!(
            out.rtp_on_pair >= 25,
            "{} RTP packets on the pair",
            out.rtp_on_pair
        );
        assert_eq!(agent.selected_rtcp(), Some(rtcp_pair));
    });
}
