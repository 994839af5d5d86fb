//! `sb-media-load`: sets up calls on an ng-controlled relay (rtpengine or
//! `sb-media-relay`), sends 20 ms RTP packets on both legs of every call, and reports
//! loss, added latency per packet, the relay's CPU per packet and its memory per call.
//!
//! ```text
//! sb-media-load --ng 127.0.0.1:2223 --mode relay|srtp|transcode --calls N
//!               [--seconds 10] [--warmup 2] [--pid RELAY_PID] [--sockets 4]
//! ```
//!
//! Modes, per call (caller A, callee B, both played by this process):
//! - `relay`: PCMU both sides; every payload carries a [`Stamp`].
//! - `srtp`: A is SRTP (RTP/SAVP, SDES), B plain RTP (ng `transport-protocol`); this
//!   side protects what A sends and unprotects what A receives, with sb-srtp.
//! - `transcode`: A speaks Opus, B PCMU (ng `codec` → `transcode` PCMU, `mask` opus);
//!   payloads are real Opus and G.711 audio, so packets are named by RTP timestamp.
//!
//! One thread sends and receives (pin it with taskset): every 1 ms it sends the packets
//! of the streams whose 20 ms phase falls in that millisecond, batched per socket with
//! sendmmsg, and between ticks it drains its sockets with recvmmsg. Only packets sent in
//! the measurement window count, toward loss and latency; packets of the warm-up before it
//! and of a short tail after it are sent but not counted, so the window sees steady load.
//!
//! Output: a human summary on stderr, and one tab-separated line on stdout:
//! mode, calls, streams, sent, received, loss %, latency p50 µs, p99 µs, relay CPU µs per
//! packet, relay CPU %, generator CPU %, relay VmRSS KiB before and after set-up, KiB per
//! call, datagrams dropped at the generator's sockets, the generator's worst lag in ms.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use anyhow::{bail, Context};
use sb_bench_media::bencode::Value;
use sb_bench_media::ng::NgClient;
use sb_bench_media::sdp::{self, Format, SdesKey};
use sb_bench_media::stamp::{Histogram, SendLog, Stamp, TsIndex};
use sb_bench_media::sys::{
    bind_socket, clk_tck, cpu_ticks, now_ns, recv_batch, send_batch, sockaddr, socket_drops,
    vm_rss_kib,
};
use sb_codecs::{Codec, OpusRate};
use sb_srtp::SrtpContext;

const TICK_NS: u64 = 1_000_000;
const PHASES: usize = 20;
const BATCH: usize = 512;
const SUITE: &str = "AES_CM_128_HMAC_SHA1_80";
/// Room for an RTP header, a 160-byte G.711 payload (Opus ones are smaller) and an
/// SRTP tag.
const SEND_BUF: usize = 256;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Relay,
    Srtp,
    Transcode,
}

struct Options {
    ng: SocketAddr,
    mode: Mode,
    calls: usize,
    seconds: f64,
    warmup: f64,
    pid: Option<u32>,
    sockets: usize,
}

fn options() -> anyhow::Result<Options> {
    let mut o = Options {
        ng: "127.0.0.1:2223".parse()?,
        mode: Mode::Relay,
        calls: 100,
        seconds: 10.0,
        warmup: 2.0,
        pid: None,
        sockets: 4,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--ng" => o.ng = value()?.parse()?,
            "--mode" => {
                o.mode = match value()?.as_str() {
                    "relay" => Mode::Relay,
                    "srtp" => Mode::Srtp,
                    "transcode" => Mode::Transcode,
                    m => bail!("unknown mode {m}"),
                }
            }
            "--calls" => o.calls = value()?.parse()?,
            "--seconds" => o.seconds = value()?.parse()?,
            "--warmup" => o.warmup = value()?.parse()?,
            "--pid" => o.pid = Some(value()?.parse()?),
            "--sockets" => o.sockets = value()?.parse::<usize>()?.max(1),
            "-h" | "--help" => {
                println!("sb-media-load --ng ADDR --mode relay|srtp|transcode --calls N [--seconds S] [--warmup S] [--pid PID] [--sockets K]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(o)
}

/// One direction of one call.
struct Stream {
    /// Index of the sending socket in `Gen::socks`.
    sock: usize,
    dest: libc::sockaddr_in,
    ssrc: u32,
    seq: u16,
    ts: u32,
    ts_step: u32,
    pt: u8,
    /// Precomputed payloads sent in turn (real audio for transcoding); relayed payloads
    /// are one silence frame with the stamp written over its start.
    payloads: Vec<Vec<u8>>,
    tx_srtp: Option<SrtpContext>,
    next_index: u64,
    log: Option<SendLog>,
    rx_srtp: Option<SrtpContext>,
    rx_step: u32,
    rx_index: TsIndex,
    received: u64,
}

/// Sine frames: a 440 Hz + 1 kHz mix, enough signal that the codecs do real work.
fn audio_frames(codec: Codec, frames: usize) -> Vec<Vec<u8>> {
    let mut enc = codec.encoder();
    let rate = enc.sample_rate();
    let per = (rate / 50) as usize;
    let mut pcm = sb_codecs::audio::sine(440.0, 6000.0, rate, per * frames);
    sb_codecs::audio::add_sine(&mut pcm, 1000.0, 3000.0, rate, 0, per * frames);
    pcm.chunks(per)
        .map(|c| {
            let mut out = Vec::new();
            enc.encode(c, &mut out);
            out
        })
        .collect()
}

fn srtp_context(key: &SdesKey) -> anyhow::Result<SrtpContext> {
    let suite = sdp::srtp_suite(&key.suite).context("SRTP suite")?;
    let n = suite.master_key_len();
    if key.key_salt.len() != n + suite.master_salt_len() {
        bail!("SDES key of {} bytes", key.key_salt.len());
    }
    Ok(SrtpContext::new(
        suite,
        &key.key_salt[..n],
        &key.key_salt[n..],
        None,
    )?)
}

struct CallSetup {
    a_to_b: Stream,
    b_to_a: Stream,
    /// The relay's ports A's and B's streams come from.
    relay_a: u16,
    relay_b: u16,
}

fn ssrc_for(stream: usize) -> u32 {
    0x5B00_0000 ^ (stream as u32).wrapping_mul(2_654_435_761)
}

#[allow(clippy::too_many_arguments)]
fn set_up_call(
    ng: &mut NgClient,
    o: &Options,
    call: usize,
    a_sock: (usize, SocketAddr),
    b_sock: (usize, SocketAddr),
    opus: &[Vec<u8>],
    pcmu: &[Vec<u8>],
) -> anyhow::Result<CallSetup> {
    let call_id = format!("sbbench-{}-{call}", std::process::id());
    let wait = Duration::from_millis(500);
    let a_format = match o.mode {
        Mode::Transcode => Format::opus(96),
        _ => Format::pcmu(),
    };
    let a_key = (o.mode == Mode::Srtp).then(|| SdesKey {
        tag: 1,
        suite: SUITE.into(),
        key_salt: sdp::random_bytes(30),
    });
    let a_proto = if a_key.is_some() {
        "RTP/SAVP"
    } else {
        "RTP/AVP"
    };
    let a_sdp = sdp::write_audio(
        call as u64,
        a_sock.1,
        a_proto,
        std::slice::from_ref(&a_format),
        a_key.as_ref(),
    );
    let mut offer = vec![
        ("command", Value::str("offer")),
        ("call-id", Value::str(&call_id)),
        ("from-tag", Value::str("a")),
        ("sdp", Value::str(&a_sdp)),
        ("ICE", Value::str("remove")),
        ("replace", Value::strs(["origin", "session-connection"])),
    ];
    match o.mode {
        Mode::Relay => {}
        Mode::Srtp => offer.push(("transport-protocol", Value::str("RTP/AVP"))),
        Mode::Transcode => offer.push((
            "codec",
            Value::dict([
                ("transcode", Value::strs(["PCMU"])),
                ("mask", Value::strs(["opus"])),
            ]),
        )),
    }
    let reply = ng.request(&Value::dict(offer), wait, 6)?;
    let to_b = sdp::read_audio(
        reply
            .get("sdp")
            .and_then(as_bytes)
            .context("offer reply without sdp")?,
    )?;
    let b_format = to_b
        .formats
        .iter()
        .find(|f| f.same_codec(&Format::pcmu()))
        .cloned()
        .with_context(|| format!("the relay's offer has no PCMU: {:?}", to_b.formats))?;
    if to_b.is_srtp() {
        bail!("the relay offered {} to the plain side", to_b.proto);
    }
    let b_sdp = sdp::write_audio(
        call as u64,
        b_sock.1,
        "RTP/AVP",
        std::slice::from_ref(&b_format),
        None,
    );
    let answer = Value::dict([
        ("command", Value::str("answer")),
        ("call-id", Value::str(&call_id)),
        ("from-tag", Value::str("a")),
        ("to-tag", Value::str("b")),
        ("sdp", Value::str(&b_sdp)),
        ("ICE", Value::str("remove")),
        ("replace", Value::strs(["origin", "session-connection"])),
    ]);
    let reply = ng.request(&answer, wait, 6)?;
    let to_a = sdp::read_audio(
        reply
            .get("sdp")
            .and_then(as_bytes)
            .context("answer reply without sdp")?,
    )?;
    let a_answered = to_a
        .formats
        .first()
        .context("the relay's answer has no codec")?;
    if !a_answered.same_codec(&a_format) {
        bail!(
            "the relay answered {} to an offer of {}",
            a_answered.name,
            a_format.name
        );
    }
    let (tx_srtp, rx_srtp) = match &a_key {
        Some(k) => {
            let relay_key = to_a
                .keys
                .first()
                .context("the relay's answer to SRTP has no a=crypto")?;
            (Some(srtp_context(k)?), Some(srtp_context(relay_key)?))
        }
        None => (None, None),
    };
    let stamped = o.mode != Mode::Transcode;
    let silence = vec![vec![0xffu8; 160]];
    let (a_payloads, a_step) = match o.mode {
        Mode::Transcode => (opus.to_vec(), 960),
        _ => (silence.clone(), 160),
    };
    let b_payloads = if stamped { silence } else { pcmu.to_vec() };
    let sa = 2 * call;
    let a_to_b = Stream {
        sock: a_sock.0,
        dest: sockaddr(to_a.addr)?,
        ssrc: ssrc_for(sa),
        seq: (sa as u16).wrapping_mul(7919),
        ts: ssrc_for(sa) >> 3,
        ts_step: a_step,
        pt: a_format.pt,
        payloads: a_payloads,
        tx_srtp,
        next_index: 0,
        log: (!stamped).then(|| SendLog::new(512)),
        rx_srtp: None,
        rx_step: 160,
        rx_index: TsIndex::default(),
        received: 0,
    };
    let b_to_a = Stream {
        sock: b_sock.0,
        dest: sockaddr(to_b.addr)?,
        ssrc: ssrc_for(sa + 1),
        seq: ((sa + 1) as u16).wrapping_mul(7919),
        ts: ssrc_for(sa + 1) >> 3,
        ts_step: 160,
        pt: b_format.pt,
        payloads: b_payloads,
        tx_srtp: None,
        next_index: 0,
        log: (!stamped).then(|| SendLog::new(512)),
        rx_srtp,
        rx_step: a_step,
        rx_index: TsIndex::default(),
        received: 0,
    };
    Ok(CallSetup {
        a_to_b,
        b_to_a,
        relay_a: to_a.addr.port(),
        relay_b: to_b.addr.port(),
    })
}

fn as_bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::Bytes(b) => Some(b),
        _ => None,
    }
}

/// Counters of the measurement window.
#[derive(Default)]
struct Window {
    start_ns: u64,
    end_ns: u64,
    sent: u64,
    received: u64,
    latency: Histogram,
    /// The same by direction: caller to callee (even streams) and back (odd).
    by_direction: [Histogram; 2],
    unmatched: u64,
}

struct Gen {
    socks: Vec<UdpSocket>,
    streams: Vec<Stream>,
    /// The stream arriving from each relay port (u32::MAX: none).
    by_port: Vec<u32>,
    stamped: bool,
    window: Window,
    send_bufs: Vec<Vec<u8>>,
    recv_bufs: Vec<[u8; 2048]>,
}

impl Gen {
    /// Sends one packet of every stream in `phase`, batched per socket.
    fn send_phase(&mut self, phase: usize) -> io::Result<()> {
        let now = now_ns();
        let counting = now >= self.window.start_ns && now < self.window.end_ns;
        for sock in 0..self.socks.len() {
            let mut targets: Vec<libc::sockaddr_in> = Vec::with_capacity(BATCH);
            let mut i = phase;
            let mut used = 0;
            while i < self.streams.len() {
                let s = &mut self.streams[i];
                if s.sock == sock {
                    let buf = &mut self.send_bufs[used];
                    buf.clear();
                    buf.extend_from_slice(&[0x80, s.pt & 0x7f]);
                    buf.extend_from_slice(&s.seq.to_be_bytes());
                    buf.extend_from_slice(&s.ts.to_be_bytes());
                    buf.extend_from_slice(&s.ssrc.to_be_bytes());
                    let payload = &s.payloads[(s.next_index % s.payloads.len() as u64) as usize];
                    let at = buf.len();
                    buf.extend_from_slice(payload);
                    if self.stamped {
                        Stamp {
                            stream: i as u32,
                            index: s.next_index,
                            sent_ns: now,
                        }
                        .write(&mut buf[at..]);
                    }
                    if let Some(log) = &mut s.log {
                        log.record(s.next_index, now);
                    }
                    if let Some(ctx) = &mut s.tx_srtp {
                        if ctx.protect_rtp(buf).is_err() {
                            i += PHASES;
                            continue;
                        }
                    }
                    s.seq = s.seq.wrapping_add(1);
                    s.ts = s.ts.wrapping_add(s.ts_step);
                    s.next_index += 1;
                    targets.push(s.dest);
                    used += 1;
                    if counting {
                        self.window.sent += 1;
                    }
                    if used == BATCH {
                        send_batch(&self.socks[sock], &self.send_bufs[..used], &targets)?;
                        used = 0;
                        targets.clear();
                    }
                }
                i += PHASES;
            }
            if used > 0 {
                send_batch(&self.socks[sock], &self.send_bufs[..used], &targets)?;
            }
        }
        Ok(())
    }

    /// Reads whatever is waiting on every socket.
    fn drain(&mut self) -> io::Result<usize> {
        let mut total = 0;
        for sock in 0..self.socks.len() {
            loop {
                let (n, froms, lens) = recv_batch(&self.socks[sock], &mut self.recv_bufs)?;
                if n == 0 {
                    break;
                }
                let now = now_ns();
                for k in 0..n {
                    let bytes = self.recv_bufs[k][..lens[k]].to_vec();
                    self.account(froms[k], bytes, now);
                }
                total += n;
            }
        }
        Ok(total)
    }

    fn account(&mut self, from_port: u16, mut bytes: Vec<u8>, now: u64) {
        let id = self.by_port[usize::from(from_port)];
        if id == u32::MAX || bytes.len() < 12 || bytes[0] >> 6 != 2 {
            return;
        }
        // RTCP sent to the RTP port (rtcp-mux) is not media (RFC 5761 §4).
        if (72..=76).contains(&(bytes[1] & 0x7f)) {
            return;
        }
        let stamped = self.stamped;
        let s = &mut self.streams[id as usize];
        if let Some(ctx) = &mut s.rx_srtp {
            if ctx.unprotect_rtp(&mut bytes).is_err() {
                self.window.unmatched += 1;
                return;
            }
        }
        let Some(payload) = rtp_payload(&bytes) else {
            return;
        };
        s.received += 1;
        let sent_ns = if stamped {
            match Stamp::read(payload) {
                Some(st) if st.stream == id => Some(st.sent_ns),
                _ => None,
            }
        } else {
            let ts = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
            s.rx_index
                .index(ts, s.rx_step)
                .and_then(|i| s.log.as_ref()?.sent_at(i))
        };
        match sent_ns {
            Some(t) if t >= self.window.start_ns && t < self.window.end_ns => {
                self.window.received += 1;
                let us = now.saturating_sub(t) / 1000;
                self.window.latency.add(us);
                self.window.by_direction[id as usize & 1].add(us);
            }
            Some(_) => {}
            None => self.window.unmatched += 1,
        }
    }
}

/// The payload of an RTP packet: after the CSRCs and any header extension (RFC 3550
/// §5.1, §5.3.1), before any padding.
fn rtp_payload(p: &[u8]) -> Option<&[u8]> {
    let cc = usize::from(p.first()? & 0x0f);
    let mut off = 12 + 4 * cc;
    if p[0] & 0x10 != 0 {
        let words = u16::from_be_bytes([*p.get(off + 2)?, *p.get(off + 3)?]);
        off += 4 + 4 * usize::from(words);
    }
    let mut end = p.len();
    if p[0] & 0x20 != 0 {
        end = end.checked_sub(usize::from(*p.last()?))?;
    }
    p.get(off..end)
}

fn main() -> anyhow::Result<()> {
    let o = options()?;
    let mut ng = NgClient::new(o.ng)?;
    ng.request(
        &Value::dict([("command", Value::str("ping"))]),
        Duration::from_millis(500),
        10,
    )
    .context("the relay does not answer ping")?;

    let a_socks: Vec<UdpSocket> = (0..o.sockets)
        .map(|_| bind_socket())
        .collect::<Result<_, _>>()?;
    let b_socks: Vec<UdpSocket> = (0..o.sockets)
        .map(|_| bind_socket())
        .collect::<Result<_, _>>()?;
    let opus = audio_frames(Codec::opus(OpusRate::Hz48000), 50);
    let pcmu = audio_frames(Codec::Pcmu, 50);

    let rss_before = o.pid.and_then(vm_rss_kib);
    let setup_start = now_ns();
    let mut streams = Vec::with_capacity(2 * o.calls);
    let mut by_port = vec![u32::MAX; 65_536];
    for c in 0..o.calls {
        let k = c % o.sockets;
        let a = (k, a_socks[k].local_addr()?);
        let b = (o.sockets + k, b_socks[k].local_addr()?);
        let call = set_up_call(&mut ng, &o, c, a, b, &opus, &pcmu)
            .with_context(|| format!("setting up call {c}"))?;
        // A's packets come out of the relay's B-facing port, and B's out of the A-facing.
        by_port[usize::from(call.relay_b)] = (2 * c) as u32;
        by_port[usize::from(call.relay_a)] = (2 * c + 1) as u32;
        streams.push(call.a_to_b);
        streams.push(call.b_to_a);
    }
    let setup_ms = (now_ns() - setup_start) / 1_000_000;
    // Let the relay apply the last commands before its memory is read.
    std::thread::sleep(Duration::from_millis(300));
    let rss_after = o.pid.and_then(vm_rss_kib);

    let socks: Vec<UdpSocket> = a_socks.into_iter().chain(b_socks).collect();
    let ports: Vec<u16> = socks
        .iter()
        .filter_map(|s| s.local_addr().ok().map(|a| a.port()))
        .collect();
    let mut g = Gen {
        socks,
        streams,
        by_port,
        stamped: o.mode != Mode::Transcode,
        window: Window::default(),
        send_bufs: (0..BATCH).map(|_| Vec::with_capacity(SEND_BUF)).collect(),
        recv_bufs: vec![[0u8; 2048]; 256],
    };

    let start = now_ns();
    let secs = |s: f64| (s * 1e9) as u64;
    g.window.start_ns = start + secs(o.warmup);
    g.window.end_ns = g.window.start_ns + secs(o.seconds);
    // Keep sending a little after the window, so its last packets meet the same load.
    let stop_sending = g.window.end_ns + secs(0.3);
    let stop = stop_sending + secs(0.3);
    let drops_before = socket_drops(&ports);
    let tck = clk_tck();
    let pid = o.pid.map(|p| p.to_string());
    let mut relay_cpu0 = None;
    let mut gen_cpu0 = None;
    let mut relay_cpu1 = None;
    let mut gen_cpu1 = None;
    let mut tick: u64 = 0;
    let mut max_lag_ns = 0;
    let mut pfds: Vec<libc::pollfd> = g
        .socks
        .iter()
        .map(|s| libc::pollfd {
            fd: s.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        let now = now_ns();
        if relay_cpu0.is_none() && now >= g.window.start_ns {
            relay_cpu0 = pid.as_deref().and_then(cpu_ticks);
            gen_cpu0 = cpu_ticks("self");
        }
        if relay_cpu1.is_none() && now >= g.window.end_ns {
            relay_cpu1 = pid.as_deref().and_then(cpu_ticks);
            gen_cpu1 = cpu_ticks("self");
        }
        if now >= stop {
            break;
        }
        let due = start + tick * TICK_NS;
        if now >= due && due < stop_sending {
            if now >= g.window.start_ns && now < g.window.end_ns {
                max_lag_ns = max_lag_ns.max(now - due);
            }
            g.send_phase((tick % PHASES as u64) as usize)?;
            tick += 1;
            continue;
        }
        let next = if due < stop_sending { due } else { stop };
        let wait = next.saturating_sub(now_ns());
        let ts = libc::timespec {
            tv_sec: (wait / 1_000_000_000) as libc::time_t,
            tv_nsec: (wait % 1_000_000_000) as libc::c_long,
        };
        // SAFETY: `pfds` is a valid array of pollfd for the sockets we own; no signal mask.
        unsafe {
            libc::ppoll(
                pfds.as_mut_ptr(),
                pfds.len() as libc::nfds_t,
                &ts,
                std::ptr::null(),
            )
        };
        g.drain()?;
    }
    g.drain()?;
    let gen_drops = socket_drops(&ports).saturating_sub(drops_before);

    // Tear down, so a relay that is kept running is left as it was found.
    for c in 0..o.calls {
        let call_id = format!("sbbench-{}-{c}", std::process::id());
        let _ = ng.request(
            &Value::dict([
                ("command", Value::str("delete")),
                ("call-id", Value::str(&call_id)),
                ("from-tag", Value::str("a")),
            ]),
            Duration::from_millis(300),
            3,
        );
    }

    let w = &g.window;
    let window_s = o.seconds;
    let per_second = |t0: Option<u64>, t1: Option<u64>| match (t0, t1) {
        (Some(a), Some(b)) => Some((b - a) as f64 / tck as f64 / window_s),
        _ => None,
    };
    let relay_busy = per_second(relay_cpu0, relay_cpu1);
    let gen_busy = per_second(gen_cpu0, gen_cpu1);
    let loss = if w.sent > 0 {
        100.0 * (1.0 - w.received as f64 / w.sent as f64)
    } else {
        100.0
    };
    let cpu_us = relay_busy.map(|b| b * window_s * 1e6 / w.sent.max(1) as f64);
    let per_call = match (rss_before, rss_after) {
        (Some(a), Some(b)) if o.calls > 0 => Some(b.saturating_sub(a) as f64 / o.calls as f64),
        _ => None,
    };
    let opt = |v: Option<f64>, prec: usize| v.map_or("n/a".into(), |x| format!("{x:.prec$}"));
    let q = |p: f64| {
        w.latency
            .quantile(p)
            .map_or("n/a".into(), |v| v.to_string())
    };
    let silent = g.streams.iter().filter(|s| s.received == 0).count();
    let dir = |d: usize, p: f64| {
        w.by_direction[d]
            .quantile(p)
            .map_or("n/a".into(), |v| v.to_string())
    };
    eprintln!(
        "latency by direction, p50/p99 µs: caller to callee {}/{}, callee to caller {}/{}",
        dir(0, 0.5),
        dir(0, 0.99),
        dir(1, 0.5),
        dir(1, 0.99)
    );
    eprintln!(
        "{:?} {} calls (set up in {setup_ms} ms): sent {} received {} loss {:.3} % latency p50 {} µs p99 {} µs; relay CPU {} µs/packet ({} % busy), generator {} % busy, max lag {:.1} ms; relay VmRSS {} -> {} KiB ({} KiB/call); {} datagrams dropped at the generator, {} unmatched, {} streams silent",
        o.mode, o.calls, w.sent, w.received, loss, q(0.5), q(0.99),
        opt(cpu_us, 2), opt(relay_busy.map(|b| b * 100.0), 1), opt(gen_busy.map(|b| b * 100.0), 1),
        max_lag_ns as f64 / 1e6,
        rss_before.map_or("n/a".into(), |v| v.to_string()),
        rss_after.map_or("n/a".into(), |v| v.to_string()),
        opt(per_call, 1), gen_drops, w.unmatched, silent,
    );
    let mode = match o.mode {
        Mode::Relay => "relay",
        Mode::Srtp => "srtp",
        Mode::Transcode => "transcode",
    };
    println!(
        "{mode}\t{}\t{}\t{}\t{}\t{:.3}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.1}",
        o.calls,
        2 * o.calls,
        w.sent,
        w.received,
        loss,
        q(0.5),
        q(0.99),
        opt(cpu_us, 2),
        opt(relay_busy.map(|b| b * 100.0), 1),
        opt(gen_busy.map(|b| b * 100.0), 1),
        rss_before.map_or("n/a".into(), |v| v.to_string()),
        rss_after.map_or("n/a".into(), |v| v.to_string()),
        opt(per_call, 1),
        gen_drops,
        max_lag_ns as f64 / 1e6,
    );
    Ok(())
}
