//! A virtual-time harness for the media engine: simulated peers that send RTP built with
//! sb-rtp/sb-codecs (optionally SRTP with sb-srtp) and record what the engine sends them.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;

use sb_codecs::{audio, Codec};
use sb_media::{EngineConfig, MediaEngine};
use sb_media_api::*;
use sb_rtp::{Pt, Rtp, RtpPacket, Ssrc};
use sb_srtp::SrtpContext;

pub const MS: u64 = 1000;

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A packet the engine sent, as a peer received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub at_us: u64,
    pub from_local: SocketAddr,
    pub bytes: Vec<u8>,
}

pub struct Sim {
    pub engine: MediaEngine,
    pub now: u64,
    pub inbox: HashMap<SocketAddr, Vec<Received>>,
    pub events: Vec<Event>,
}

impl Sim {
    pub fn new() -> Self {
        Self::with_engine(MediaEngine::new(EngineConfig::new(
            42,
            1_700_000_000_000_000,
        )))
    }

    pub fn with_engine(engine: MediaEngine) -> Self {
        Self {
            engine,
            now: 0,
            inbox: HashMap::new(),
            events: Vec::new(),
        }
    }

    pub fn cmd(&mut self, c: Command) {
        self.engine
            .handle_command(self.now, c)
            .expect("command accepted");
        self.drain();
    }

    pub fn try_cmd(&mut self, c: Command) -> Result<(), CommandError> {
        let r = self.engine.handle_command(self.now, c);
        self.drain();
        r
    }

    pub fn drain(&mut self) {
        while let Some(t) = self.engine.poll_transmit() {
            self.inbox.entry(t.to).or_default().push(Received {
                at_us: self.now,
                from_local: t.from_local,
                bytes: t.bytes,
            });
        }
        while let Some(e) = self.engine.poll_event() {
            self.events.push(e);
        }
    }

    /// Runs the engine's timers up to `t`.
    pub fn advance_to(&mut self, t: u64) {
        // Bounded, so an engine that keeps asking for the past fails instead of hanging.
        let mut rounds = 0u32;
        while let Some(next) = self.engine.poll_timeout() {
            if next > t {
                break;
            }
            rounds += 1;
            assert!(rounds < 100_000, "timer loop stuck at {next} µs");
            self.now = self.now.max(next);
            self.engine.handle_timeout(self.now);
            self.drain();
        }
        self.now = self.now.max(t);
    }

    pub fn deliver(&mut self, local: SocketAddr, from: SocketAddr, bytes: &[u8]) {
        self.engine.handle_packet(self.now, local, from, bytes);
        self.drain();
    }

    pub fn take(&mut self, to: SocketAddr) -> Vec<Received> {
        self.inbox.remove(&to).unwrap_or_default()
    }

    pub fn dtmf_events(&self) -> Vec<(LegId, char, DtmfSource)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::DtmfReceived {
                    leg, digit, how, ..
                } => Some((*leg, *digit, *how)),
                _ => None,
            })
            .collect()
    }
}

/// A simulated RTP peer.
pub struct Peer {
    pub addr: SocketAddr,
    pub codec: Codec,
    pub pt: u8,
    pub ssrc: Ssrc,
    pub seq: u16,
    pub ts: u32,
    pub srtp_tx: Option<SrtpContext>,
    pub srtp_rx: Option<SrtpContext>,
    enc: Box<dyn sb_codecs::Encoder>,
    phase: usize,
}

impl Peer {
    pub fn new(addr: SocketAddr, codec: Codec) -> Self {
        Self {
            addr,
            codec,
            pt: codec.static_payload_type().unwrap_or(111),
            ssrc: Ssrc(0x1111_0000 + u32::from(addr.port())),
            seq: 65_500, // wraps during longer tests
            ts: 4_294_960_000,
            srtp_tx: None,
            srtp_rx: None,
            enc: codec.encoder(),
            phase: 0,
        }
    }

    /// The next 20 ms of a `freq` Hz tone at -10 dBm0 as an RTP packet (SRTP if keyed).
    pub fn tone_packet(&mut self, freq: f64) -> Vec<u8> {
        let n = self.codec.frame_samples(20);
        let rate = self.codec.sample_rate();
        let all = audio::sine(freq, audio::dbm0_to_amplitude(-10.0), rate, self.phase + n);
        self.phase += n;
        self.audio_packet(&all[all.len() - n..])
    }

    /// One packet of the given PCM.
    pub fn audio_packet(&mut self, pcm: &[i16]) -> Vec<u8> {
        let mut payload = Vec::new();
        self.enc.encode(pcm, &mut payload);
        let p = self.packet(self.pt, false, self.ts, payload);
        let ticks = pcm.len() as u64 * u64::from(self.codec.clock_rate())
            / u64::from(self.codec.sample_rate());
        self.ts = self.ts.wrapping_add(ticks as u32);
        p
    }

    /// An RTP packet with the next sequence number.
    pub fn packet(&mut self, pt: u8, marker: bool, ts: u32, payload: Vec<u8>) -> Vec<u8> {
        let mut rtp = Rtp::new(Pt(pt), self.seq, ts, self.ssrc, payload);
        rtp.marker = marker;
        self.seq = self.seq.wrapping_add(1);
        let mut bytes = rtp.to_bytes().unwrap();
        if let Some(tx) = &mut self.srtp_tx {
            tx.protect_rtp(&mut bytes).unwrap();
        }
        bytes
    }

    /// Unprotects (if keyed) and parses what the engine sent this peer.
    pub fn open(&mut self, rx: &[Received]) -> Vec<Rtp> {
        rx.iter()
            .filter_map(|r| {
                let mut b = r.bytes.clone();
                if sb_rtp::demux(&b) != sb_rtp::Demux::Rtp {
                    return None;
                }
                if let Some(ctx) = &mut self.srtp_rx {
                    ctx.unprotect_rtp(&mut b).expect("engine's SRTP verifies");
                }
                Some(
                    RtpPacket::parse(&b)
                        .expect("engine sends valid RTP")
                        .to_owned(),
                )
            })
            .collect()
    }
}

/// Decodes the audio packets (payload type `pt`) of a stream with `codec`.
pub fn decode(codec: Codec, pt: u8, pkts: &[Rtp]) -> Vec<i16> {
    let mut dec = codec.decoder();
    let mut pcm = Vec::new();
    for p in pkts.iter().filter(|p| p.payload_type.0 == pt) {
        dec.decode(&p.payload, &mut pcm);
    }
    pcm
}

/// Sequence numbers step by one and timestamps by `frame` units between packets.
pub fn assert_continuous(pkts: &[Rtp], frame: u32) {
    assert!(!pkts.is_empty());
    for w in pkts.windows(2) {
        assert_eq!(w[1].sequence, w[0].sequence.wrapping_add(1), "sequence gap");
        assert_eq!(
            w[1].timestamp.wrapping_sub(w[0].timestamp),
            frame,
            "timestamp step at seq {}",
            w[1].sequence
        );
        assert_eq!(w[1].ssrc, w[0].ssrc, "one SSRC per leg");
    }
}

pub const SESSION: SessionId = SessionId(1);
pub const A: LegId = LegId(1);
pub const B: LegId = LegId(2);
pub const A_LOCAL: &str = "10.0.0.1:20000";
pub const B_LOCAL: &str = "10.0.0.1:20002";
pub const A_PEER: &str = "192.0.2.1:4000";
pub const B_PEER: &str = "198.51.100.7:5000";

/// A session with legs A and B on the given specs, connected.
pub fn two_legs(a: LegSpec, b: LegSpec) -> Sim {
    let mut sim = Sim::new();
    sim.cmd(Command::CreateSession { session: SESSION });
    sim.cmd(Command::AddLeg {
        session: SESSION,
        leg: A,
        local: addr(A_LOCAL),
        local_rtcp: None,
        spec: a,
    });
    sim.cmd(Command::AddLeg {
        session: SESSION,
        leg: B,
        local: addr(B_LOCAL),
        local_rtcp: None,
        spec: b,
    });
    sim.cmd(Command::Connect { a: A, b: B });
    sim
}

pub fn spec(peer: &str, codec: CodecSpec) -> LegSpec {
    let mut s = LegSpec::plain(addr(peer), codec);
    s.rtcp = RtcpSpec::Mux;
    s
}

/// Sends `frames` 20 ms tone packets from each (peer, local, freq) at 20 ms spacing
/// (plus `delay_us`), running the engine's timers in between; `keep(i)` decides whether
/// packet `i` reaches the engine, `order` may permute each frame index.
pub fn stream_tones(
    sim: &mut Sim,
    senders: &mut [(&mut Peer, SocketAddr, f64)],
    frames: usize,
    start_us: u64,
    mut keep: impl FnMut(usize) -> bool,
) {
    for i in 0..frames {
        sim.advance_to(start_us + i as u64 * 20 * MS);
        for (peer, local, freq) in senders.iter_mut() {
            let p = peer.tone_packet(*freq);
            if keep(i) {
                let from = peer.addr;
                sim.deliver(*local, from, &p);
            }
        }
    }
    sim.advance_to(start_us + frames as u64 * 20 * MS + 200 * MS);
}
