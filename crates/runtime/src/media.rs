//! The media host: the sockets and the clock around the sans-IO media engine.
//!
//! One task owns a [`sb_media::MediaEngine`]. Signalling (the B2BUA's event loop) hands it
//! [`sb_media_api::Command`]s through a [`MediaHost`] handle and receives the engine's
//! [`sb_media_api::Event`]s through a callback; neither side waits for the other.
//!
//! Sockets: an `AddLeg` naming a local address the host has not bound yet binds it (and
//! its RTCP address) on the spot, so a signalling core that owns its port range (the
//! B2BUA) needs no round trip; a leg's sockets close once `RemoveLeg` or
//! `DestroySession` has been handled and the engine's last packets (RTCP BYE) have left.
//! A caller without a range of its own takes pairs from the host's with
//! [`MediaHost::allocate`]: an even RTP port and the odd port above it for RTCP (RFC 3550
//! §11), bound at once so the addresses written into SDP are already ours. A socket's
//! datagrams are read by a small task of their own and passed to the engine with the
//! socket's local address; the engine says from which local socket each datagram leaves.
//!
//! Time: the engine counts microseconds from the host's start ([`Instant`] based, so a
//! wall-clock step never moves it); the wall clock is read once, for RTCP's NTP stamps.
//! Legs with ICE get `sb-ice`'s full agent ([`sb_media::ice_agent::AgentFactory`]).
//!
//! Overload: datagrams wait for the engine in a bounded queue (32,768 datagrams); when it
//! is full, readers drop what arrives (`media_packets_dropped_total{reason="overload"}`)
//! so every call degrades a little instead of all of them queueing for seconds.
//!
//! Metrics: `media_legs` and `media_sessions` (gauges), `media_ports_in_use` (gauge),
//! `media_packets_sent_total`, `media_packets_dropped_total`, `media_send_errors_total`,
//! `media_command_errors_total`, `media_bind_errors_total`.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sb_media::{EngineConfig, MediaEngine};
use sb_media_api::{Command, Event, LegId, SessionId};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Where media sockets live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaHostConfig {
    /// The address bound and written into SDP.
    pub address: IpAddr,
    /// First port of the range (rounded up to even).
    pub port_min: u16,
    /// Last port of the range.
    pub port_max: u16,
}

impl Default for MediaHostConfig {
    fn default() -> Self {
        MediaHostConfig {
            address: IpAddr::from([127, 0, 0, 1]),
            port_min: 20_000,
            port_max: 29_999,
        }
    }
}

/// The two sockets of one leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LegPorts {
    pub rtp: SocketAddr,
    pub rtcp: SocketAddr,
}

/// Why ports could not be had.
#[derive(Debug, thiserror::Error)]
pub enum AllocError {
    #[error("no free media port pair left in {min}-{max}")]
    Exhausted { min: u16, max: u16 },
    #[error("media host stopped")]
    Stopped,
}

enum Input {
    Command(Box<Command>),
    Socket(SocketAddr, StdUdpSocket),
    Release(LegPorts),
}

/// A datagram read from one of the host's sockets.
struct Packet {
    local: SocketAddr,
    from: SocketAddr,
    bytes: Vec<u8>,
}

/// Datagrams waiting for the engine. When the engine falls behind, readers drop what does
/// not fit rather than queue it without end: an unbounded queue turns a sustained overload
/// into seconds of delay and growing memory for every call at once. The bound is large
/// enough to absorb a burst (a sender that stalled and caught up, a scheduling hiccup) of
/// about a third of a second at 100,000 packets a second, and caps the memory at a few MB.
const PACKET_QUEUE: usize = 32_768;
/// Datagrams handled per turn of the loop before the engine's output is flushed.
const PACKET_BATCH: usize = 64;

/// The next pair to try and which pairs are taken.
struct PortPool {
    min: u16,
    max: u16,
    next: u16,
    taken: std::collections::HashSet<u16>,
}

impl PortPool {
    fn new(min: u16, max: u16) -> PortPool {
        let min = min.saturating_add(min & 1);
        PortPool {
            min,
            max,
            next: min,
            taken: Default::default(),
        }
    }

    /// Even RTP ports from `min` whose odd neighbour is within `max`.
    fn pairs(&self) -> usize {
        if self.max <= self.min {
            0
        } else {
            usize::from((self.max - self.min).div_ceil(2))
        }
    }

    /// The next untaken even port, round-robin, so a port just released is not reused at
    /// once (late packets of the old call would land in the new one).
    fn candidate(&mut self) -> Option<u16> {
        for _ in 0..self.pairs() {
            let p = self.next;
            self.next = if p.saturating_add(3) > self.max {
                self.min
            } else {
                p + 2
            };
            if !self.taken.contains(&p) {
                return Some(p);
            }
        }
        None
    }
}

/// A handle on the media task; cheap to clone.
#[derive(Clone)]
pub struct MediaHost {
    tx: mpsc::UnboundedSender<Input>,
    pool: Arc<Mutex<PortPool>>,
    address: IpAddr,
}

impl MediaHost {
    /// Starts the media task. `on_event` runs on the task for every engine event; it must
    /// not block (send it on to the signalling loop).
    pub fn start(
        config: MediaHostConfig,
        seed: u64,
        on_event: impl FnMut(Event) + Send + 'static,
    ) -> (MediaHost, JoinHandle<()>) {
        let unix_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        let origin = Instant::now();
        let ice = sb_media::ice_agent::AgentFactory::new(origin, seed ^ 0x1CE);
        let engine = MediaEngine::with_ice(EngineConfig::new(seed, unix_us), Box::new(ice));
        Self::start_with(config, engine, origin, on_event)
    }

    /// As [`MediaHost::start`], with an engine the caller built (another ICE factory,
    /// say); `origin` is the instant the engine's `now_us = 0` stands for.
    pub fn start_with(
        config: MediaHostConfig,
        engine: MediaEngine,
        origin: Instant,
        on_event: impl FnMut(Event) + Send + 'static,
    ) -> (MediaHost, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(engine, origin, rx, on_event));
        let host = MediaHost {
            tx,
            pool: Arc::new(Mutex::new(PortPool::new(config.port_min, config.port_max))),
            address: config.address,
        };
        (host, task)
    }

    /// The address media sockets are bound to.
    pub fn address(&self) -> IpAddr {
        self.address
    }

    /// Binds an RTP/RTCP socket pair from the range and hands both to the engine's task.
    /// Ports another program holds are skipped.
    pub fn allocate(&self) -> Result<LegPorts, AllocError> {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        let (min, max) = (pool.min, pool.max);
        for _ in 0..pool.pairs() {
            let Some(port) = pool.candidate() else { break };
            let Ok(rtp) = bind(self.address, port) else {
                continue;
            };
            let Ok(rtcp) = bind(self.address, port + 1) else {
                continue;
            };
            let ports = LegPorts {
                rtp: SocketAddr::new(self.address, port),
                rtcp: SocketAddr::new(self.address, port + 1),
            };
            self.tx
                .send(Input::Socket(ports.rtp, rtp))
                .map_err(|_| AllocError::Stopped)?;
            self.tx
                .send(Input::Socket(ports.rtcp, rtcp))
                .map_err(|_| AllocError::Stopped)?;
            pool.taken.insert(port);
            metrics::gauge!("media_ports_in_use").set((pool.taken.len() * 2) as f64);
            return Ok(ports);
        }
        Err(AllocError::Exhausted { min, max })
    }

    /// Returns an allocated pair to the range (and closes its sockets if no `RemoveLeg`
    /// or `DestroySession` closed them already).
    pub fn release(&self, ports: LegPorts) {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if pool.taken.remove(&ports.rtp.port()) {
            metrics::gauge!("media_ports_in_use").set((pool.taken.len() * 2) as f64);
            let _ = self.tx.send(Input::Release(ports));
        }
    }

    /// Hands a command to the engine. A command the engine refuses is logged and counted
    /// (`media_command_errors_total`); signalling learns of a dead leg from the events.
    pub fn command(&self, cmd: Command) {
        let _ = self.tx.send(Input::Command(Box::new(cmd)));
    }
}

fn bind(ip: IpAddr, port: u16) -> io::Result<StdUdpSocket> {
    let s = StdUdpSocket::bind(SocketAddr::new(ip, port))?;
    s.set_nonblocking(true)?;
    Ok(s)
}

struct Socket {
    sock: Arc<UdpSocket>,
    reader: JoinHandle<()>,
}

async fn run(
    mut engine: MediaEngine,
    origin: Instant,
    mut rx: mpsc::UnboundedReceiver<Input>,
    mut on_event: impl FnMut(Event) + Send + 'static,
) {
    // The loop ends when every handle is gone (the command channel closes); readers only
    // hold the packet queue's senders.
    let (pkt_tx, mut pkt_rx) = mpsc::channel::<Packet>(PACKET_QUEUE);
    let now_us = |at: Instant| at.saturating_duration_since(origin).as_micros() as u64;
    let mut sockets: HashMap<SocketAddr, Socket> = HashMap::new();
    // The sockets each leg's AddLeg named, closed with the leg.
    let mut owned: HashMap<LegId, (SessionId, Vec<SocketAddr>)> = HashMap::new();
    loop {
        let deadline = engine
            .poll_timeout()
            .map(|us| origin + Duration::from_micros(us));
        let timer = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let input = tokio::select! {
            // Commands first: a hang-up must not wait behind a queue of media.
            biased;
            i = rx.recv() => i,
            p = pkt_rx.recv() => {
                let Some(p) = p else { break };
                let now = now_us(Instant::now());
                engine.handle_packet(now, p.local, p.from, &p.bytes);
                for _ in 1..PACKET_BATCH {
                    let Ok(p) = pkt_rx.try_recv() else { break };
                    engine.handle_packet(now, p.local, p.from, &p.bytes);
                }
                // A steady stream of packets must not starve the engine's timers
                // (playout ticks of transcoded legs, RTCP, ICE).
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    engine.handle_timeout(now_us(Instant::now()));
                }
                flush(&mut engine, &sockets, &mut on_event);
                continue;
            }
            _ = timer => {
                engine.handle_timeout(now_us(Instant::now()));
                flush(&mut engine, &sockets, &mut on_event);
                continue;
            }
        };
        let Some(input) = input else { break };
        let now = now_us(Instant::now());
        match input {
            Input::Command(cmd) => {
                let what = format!("{cmd:?}");
                if let Command::AddLeg {
                    session,
                    leg,
                    local,
                    local_rtcp,
                    ..
                } = &*cmd
                {
                    let mut addrs = Vec::new();
                    for addr in std::iter::once(*local).chain(*local_rtcp) {
                        if !sockets.contains_key(&addr) {
                            match bind(addr.ip(), addr.port()) {
                                Ok(s) => open_socket(&mut sockets, addr, s, pkt_tx.clone()),
                                Err(e) => {
                                    tracing::warn!(%addr, error = %e, "media port not bound");
                                    metrics::counter!("media_bind_errors_total").increment(1);
                                }
                            }
                        }
                        addrs.push(addr);
                    }
                    owned.insert(*leg, (*session, addrs));
                }
                let closing: Vec<LegId> = match &*cmd {
                    Command::RemoveLeg { leg } => vec![*leg],
                    Command::DestroySession { session } => owned
                        .iter()
                        .filter(|(_, (s, _))| s == session)
                        .map(|(l, _)| *l)
                        .collect(),
                    _ => Vec::new(),
                };
                if let Err(e) = engine.handle_command(now, *cmd) {
                    metrics::counter!("media_command_errors_total").increment(1);
                    tracing::warn!(error = %e, command = %what, "media command refused");
                }
                metrics::gauge!("media_sessions").set(engine.session_count() as f64);
                metrics::gauge!("media_legs").set(engine.leg_count() as f64);
                if !closing.is_empty() {
                    // The engine's goodbyes (RTCP BYE) leave before the sockets close.
                    flush(&mut engine, &sockets, &mut on_event);
                    for leg in closing {
                        for addr in owned.remove(&leg).map(|(_, a)| a).unwrap_or_default() {
                            if let Some(s) = sockets.remove(&addr) {
                                s.reader.abort();
                            }
                        }
                    }
                }
            }
            Input::Socket(local, std_sock) => {
                open_socket(&mut sockets, local, std_sock, pkt_tx.clone());
            }
            Input::Release(ports) => {
                for local in [ports.rtp, ports.rtcp] {
                    if let Some(s) = sockets.remove(&local) {
                        s.reader.abort();
                    }
                }
            }
        }
        flush(&mut engine, &sockets, &mut on_event);
    }
    for (_, s) in sockets {
        s.reader.abort();
    }
}

fn open_socket(
    sockets: &mut HashMap<SocketAddr, Socket>,
    local: SocketAddr,
    std_sock: StdUdpSocket,
    tx: mpsc::Sender<Packet>,
) {
    let Ok(sock) = UdpSocket::from_std(std_sock) else {
        return;
    };
    let sock = Arc::new(sock);
    let reader = tokio::spawn(read_socket(Arc::clone(&sock), local, tx));
    if let Some(old) = sockets.insert(local, Socket { sock, reader }) {
        old.reader.abort();
    }
}

/// Sends what the engine produced and passes its events on. A full socket buffer drops the
/// datagram: late media is worse than lost media, and RTP copes with loss.
fn flush(
    engine: &mut MediaEngine,
    sockets: &HashMap<SocketAddr, Socket>,
    on_event: &mut impl FnMut(Event),
) {
    let mut sent = 0u64;
    while let Some(t) = engine.poll_transmit() {
        match sockets.get(&t.from_local) {
            Some(s) if s.sock.try_send_to(&t.bytes, t.to).is_ok() => sent += 1,
            _ => metrics::counter!("media_send_errors_total").increment(1),
        }
    }
    if sent > 0 {
        metrics::counter!("media_packets_sent_total").increment(sent);
    }
    while let Some(ev) = engine.poll_event() {
        on_event(ev);
    }
}

async fn read_socket(sock: Arc<UdpSocket>, local: SocketAddr, tx: mpsc::Sender<Packet>) {
    let mut buf = vec![0u8; 2048];
    loop {
        match sock.recv_from(&mut buf).await {
            Ok((n, from)) => {
                let p = Packet {
                    local,
                    from,
                    bytes: buf[..n].to_vec(),
                };
                match tx.try_send(p) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        metrics::counter!("media_packets_dropped_total", "reason" => "overload")
                            .increment(1);
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => return,
                }
            }
            // ICMP port unreachable surfaces as an error on some systems; keep reading.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => continue,
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_even_and_cycle_without_reusing_at_once() {
        let mut p = PortPool::new(30_001, 30_007);
        assert_eq!(p.pairs(), 3);
        assert_eq!(p.candidate(), Some(30_002));
        p.taken.insert(30_002);
        assert_eq!(p.candidate(), Some(30_004));
        assert_eq!(p.candidate(), Some(30_006));
        assert_eq!(
            p.candidate(),
            Some(30_004),
            "wraps, skipping the taken pair"
        );
        p.taken.extend([30_004, 30_006]);
        assert_eq!(p.candidate(), None);

        // An even last port has no RTCP neighbour inside the range: never handed out.
        let mut p = PortPool::new(30_002, 30_006);
        let seen: Vec<_> = (0..4).filter_map(|_| p.candidate()).collect();
        assert_eq!(seen, [30_002, 30_004, 30_002, 30_004]);
    }
}
