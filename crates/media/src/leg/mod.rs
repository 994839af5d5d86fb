//! One leg: an RTP stream to one peer on one local socket (RFC 3550), with its SRTP
//! contexts, latching, receive statistics, DTMF state and outgoing stream.
//!
//! The leg never touches its partner: what it receives that the partner should hear comes
//! back as [`Forward`]s, which the engine hands to the partner's send side. So both legs
//! are never borrowed at once, and the relay/transcode decision lives in one place.

use std::net::SocketAddr;

use sb_codecs::dtmf::{DtmfDetector, DtmfDigit};
use sb_codecs::{Codec, Decoder};
use sb_media_api::{CommandError, DtmfSource, Event, LegId, LegSpec, RtcpSpec, SessionId};
use sb_rtp::{
    DtmfReceiver, DtmfSender, ReceiveStats, RtpPacket, RttEstimator, SenderStats, Ssrc,
    StreamRewriter, Verdict,
};
use sb_srtp::SrtpContext;

use crate::engine::Out;
use crate::ice::{IceHandler, IceState};
use crate::tone::Override;
use crate::transcode::{Packetizer, Playout};

mod crypto;
mod send;

use crypto::contexts;

/// RFC 3551 §4.5.14 / RFC 3389: comfort noise. Accepted (and relayed) but never decoded.
const PT_CN: u8 = 13;
/// An RFC 4733 event with no packet for this long is closed (several 50 ms intervals).
const DTMF_RX_TIMEOUT_US: u64 = 250_000;
/// Packets in a row a new source address must send before a latched leg moves to it.
const RELATCH_PACKETS: u32 = 3;
/// A generated stream that paused longer than this many frames restarts its timestamps
/// from the leg's clock (and marks the packet), rather than continuing where it stopped.
const GEN_GAP_FRAMES: u64 = 3;

/// What a received packet or a playout tick gives the partner leg.
#[derive(Debug)]
pub(crate) enum Forward {
    /// A plain (decrypted) RTP packet to relay: audio or RFC 4733, by `kind`.
    Relay { packet: Vec<u8>, kind: Kind },
    /// A finished key press to regenerate on the partner (RFC 4733 or in-band there).
    Dtmf { event: u8, duration_ms: u32 },
    /// One frame of decoded audio at `rate` Hz.
    Pcm { pcm: Vec<i16>, rate: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Audio,
    Event,
}

/// How this leg's received audio reaches its partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Same codec: packets are relayed with their headers rewritten.
    Relay,
    /// Different codecs: decoded here, encoded on the partner.
    Transcode,
}

/// What the leg needs to know about its partner when it receives.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PartnerView {
    pub mode: Mode,
    /// The partner's telephone-event clock rate, when it negotiated telephone-event.
    pub telephone_event_rate: Option<u32>,
}

impl PartnerView {
    pub fn has_telephone_event(&self) -> bool {
        self.telephone_event_rate.is_some()
    }

    /// Whether RFC 4733 packets received at `rate` go to the partner as they are: the
    /// audio is relayed and the partner counts events at the same rate. An Opus client's
    /// telephone-event/8000 toward a telephone-event/48000 peer is regenerated instead,
    /// since its durations would be read six times too short.
    fn relays_events_at(&self, rate: Option<u32>) -> bool {
        self.mode == Mode::Relay && rate.is_some() && self.telephone_event_rate == rate
    }
}

pub(crate) fn codec_of(spec: &LegSpec) -> Option<Codec> {
    let c = &spec.codec;
    Codec::from_rtpmap(&c.name, c.clock_rate, u16::from(c.channels)).ok()
}

/// Checks what the engine cannot do with a spec before anything changes.
pub(crate) fn validate(spec: &LegSpec) -> Result<(), CommandError> {
    let pts = [spec.codec.send_pt.0, spec.codec.recv_pt.0]
        .into_iter()
        .chain(
            spec.telephone_event
                .iter()
                .flat_map(|t| [t.send_pt.0, t.recv_pt.0]),
        );
    for pt in pts {
        if pt > 127 {
            return Err(CommandError::BadPayloadType(pt));
        }
    }
    let p = spec.ptime_ms;
    if !(crate::transcode::MIN_PTIME_MS..=crate::transcode::MAX_PTIME_MS).contains(&p) {
        return Err(CommandError::BadPtime(p));
    }
    if let Some(s) = &spec.srtp {
        contexts(s, None)?;
    }
    Ok(())
}

/// Receive totals across source changes (a new SSRC starts new RFC 3550 statistics).
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    packets: u64,
    bytes: u64,
    lost: i64,
    expected: u64,
}

/// An in-band key press heard and not yet over.
#[derive(Debug, Clone, Copy)]
struct Press {
    digit: DtmfDigit,
    start_sample: u64,
}

struct InbandDetector {
    decoder: Box<dyn Decoder>,
    detector: DtmfDetector,
    press: Option<Press>,
}

pub(crate) struct Leg {
    pub id: LegId,
    pub session: SessionId,
    pub local: SocketAddr,
    pub local_rtcp: Option<SocketAddr>,
    pub spec: LegSpec,
    pub codec: Option<Codec>,
    pub partner: Option<LegId>,
    /// How received audio reaches the partner; `None` while unconnected.
    pub mode: Option<Mode>,
    // Addressing.
    rtp_to: SocketAddr,
    rtcp_to: SocketAddr,
    latched: Option<SocketAddr>,
    /// A source other than the latched one, and how many packets in a row it sent.
    contender: Option<(SocketAddr, u32)>,
    pub ice: Option<Box<dyn IceHandler>>,
    pub ice_state: Option<IceState>,
    // Crypto: (send, receive).
    srtp: Option<(SrtpContext, SrtpContext)>,
    // Receive side.
    rx: Option<ReceiveStats>,
    totals: Totals,
    last_rx_us: u64,
    timed_out: bool,
    dtmf_rx: Option<DtmfReceiver>,
    detector: Option<InbandDetector>,
    pub playout: Option<Playout>,
    // Send side.
    pub out_ssrc: Ssrc,
    rewriter: StreamRewriter,
    /// XORed into relayed sources' SSRCs as the rewriter sees them; changed after a
    /// pause so the rewriter treats the resumed source as new (see `send_relayed`).
    relay_salt: u32,
    relay_paused: bool,
    gen_seq: u16,
    /// The leg's RTP clock for generated packets: timestamp `gen_ts0` at `t0_us`.
    gen_ts0: u32,
    t0_us: u64,
    /// Where the generated audio stream continues: next timestamp and when it was set.
    gen_next: Option<(u32, u64)>,
    sender: SenderStats,
    packets_sent: u64,
    bytes_sent: u64,
    last_tx_us: Option<u64>,
    packetizer: Option<Packetizer>,
    pub tone: Override,
    tone_tick_us: Option<u64>,
    dtmf_tx: Option<DtmfSender>,
    /// The leg's RTP timestamp when `dtmf_tx` was made, where its clock starts.
    dtmf_ts0: u32,
    // RTCP.
    pub rtt: RttEstimator,
    pub remote_report: Option<sb_media_api::RemoteReport>,
    pub next_rtcp_us: u64,
}

impl std::fmt::Debug for Leg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leg")
            .field("id", &self.id)
            .field("local", &self.local)
            .field("rtp_to", &self.rtp_to)
            .field("partner", &self.partner)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// Per-leg numbers the engine draws from its seeded generator.
pub(crate) struct Seeds {
    pub ssrc: u32,
    pub seq: u16,
    pub ts: u32,
    pub first_rtcp_us: u64,
}

impl Leg {
    pub fn new(
        now_us: u64,
        session: SessionId,
        id: LegId,
        local: SocketAddr,
        local_rtcp: Option<SocketAddr>,
        spec: LegSpec,
        seeds: Seeds,
    ) -> Result<Self, CommandError> {
        validate(&spec)?;
        let srtp = match &spec.srtp {
            Some(s) => Some(contexts(s, None)?),
            None => None,
        };
        let codec = codec_of(&spec);
        let out_ssrc = Ssrc(seeds.ssrc);
        let mut leg = Self {
            id,
            session,
            local,
            local_rtcp,
            rtp_to: spec.remote_rtp,
            rtcp_to: spec.remote_rtp,
            codec,
            partner: None,
            mode: None,
            latched: None,
            contender: None,
            ice: None,
            ice_state: None,
            srtp,
            rx: None,
            totals: Totals::default(),
            last_rx_us: now_us,
            timed_out: false,
            dtmf_rx: None,
            detector: None,
            playout: None,
            out_ssrc,
            rewriter: StreamRewriter::new(out_ssrc, spec.codec.clock_rate),
            relay_salt: 0,
            relay_paused: false,
            gen_seq: seeds.seq,
            gen_ts0: seeds.ts,
            t0_us: now_us,
            gen_next: None,
            sender: SenderStats::new(),
            packets_sent: 0,
            bytes_sent: 0,
            last_tx_us: None,
            packetizer: None,
            tone: Override::default(),
            tone_tick_us: None,
            dtmf_tx: None,
            dtmf_ts0: 0,
            rtt: RttEstimator::new(),
            remote_report: None,
            next_rtcp_us: now_us + seeds.first_rtcp_us,
            spec: spec.clone(),
        };
        leg.apply_media_spec(&spec);
        leg.rtcp_to = leg.rtcp_target_from_spec();
        Ok(leg)
    }

    fn rtcp_target_from_spec(&self) -> SocketAddr {
        match self.spec.rtcp {
            RtcpSpec::Mux => self.rtp_to,
            RtcpSpec::Separate(a) => a,
        }
    }

    /// (Re)builds the codec-dependent parts.
    fn apply_media_spec(&mut self, spec: &LegSpec) {
        self.codec = codec_of(spec);
        self.packetizer = self.codec.map(|c| Packetizer::new(c, spec.ptime_ms));
        self.dtmf_rx = spec
            .telephone_event
            .map(|_| DtmfReceiver::new(DTMF_RX_TIMEOUT_US));
        self.dtmf_tx = None;
        self.detector = match (spec.inband_dtmf, self.codec) {
            (true, Some(c)) => Some(InbandDetector {
                decoder: c.decoder(),
                detector: DtmfDetector::new(c.sample_rate()),
                press: None,
            }),
            _ => None,
        };
        // Rebuilt by `join` for the new codec and packet time if the leg is connected.
        self.playout = None;
        self.gen_next = None;
    }

    /// A new offer/answer (re-INVITE). `validate` has already accepted `spec`.
    pub fn update(&mut self, now_us: u64, spec: LegSpec) -> Result<(), CommandError> {
        let srtp = match &spec.srtp {
            Some(s) => Some(contexts(s, self.srtp.take())?),
            None => None,
        };
        self.srtp = srtp;
        if spec.remote_rtp != self.spec.remote_rtp || spec.rtcp != self.spec.rtcp {
            // A new address in SDP is news from the peer: believe it over the old latch.
            self.latched = None;
            self.contender = None;
            if !matches!(self.ice_state, Some(IceState::Selected { .. })) {
                self.rtp_to = spec.remote_rtp;
            }
        }
        let media_changed = spec.codec != self.spec.codec
            || spec.ptime_ms != self.spec.ptime_ms
            || spec.telephone_event != self.spec.telephone_event
            || spec.inband_dtmf != self.spec.inband_dtmf;
        if spec.codec.clock_rate != self.spec.codec.clock_rate {
            self.rewriter = StreamRewriter::new(self.out_ssrc, spec.codec.clock_rate);
        }
        if let (Some(ice), Some(ice_spec)) = (&mut self.ice, &spec.ice) {
            ice.update(now_us, ice_spec);
        }
        let old_direction = self.spec.direction;
        self.spec = spec.clone();
        if media_changed {
            self.apply_media_spec(&spec);
        }
        if !old_direction.receives() && spec.direction.receives() {
            // Resuming: the peer has not been silent, it was told not to send.
            self.last_rx_us = now_us;
            self.timed_out = false;
        }
        self.rtcp_to = self.rtcp_target_from_spec();
        Ok(())
    }

    /// Joins a partner: `mode` says whether this leg's audio is relayed or decoded for it,
    /// `codec` what this leg runs (for Opus, at the PCM rate the bridge chose).
    pub fn join(&mut self, mode: Mode, codec: Option<Codec>) {
        self.mode = Some(mode);
        if let Some(c) = codec {
            if self.packetizer.as_ref().map(|p| p.codec()) != Some(c) {
                self.packetizer = Some(Packetizer::new(c, self.spec.ptime_ms));
            }
            self.codec = Some(c);
        }
        self.playout = match (mode, self.codec) {
            (Mode::Transcode, Some(c)) => match self.playout.take() {
                Some(p) if p.codec() == c => Some(p),
                _ => Some(Playout::new(c, self.spec.ptime_ms)),
            },
            _ => None,
        };
    }

    pub fn leave(&mut self) {
        self.partner = None;
        self.mode = None;
        self.playout = None;
    }

    /// The clock rate RFC 4733 durations count at on this leg: the negotiated
    /// telephone-event's, which need not be the codec's (RFC 4733 §2.1).
    pub fn telephone_event_rate(&self) -> Option<u32> {
        self.spec.telephone_event.map(|t| t.clock_rate.max(1))
    }

    pub fn rtp_target(&self) -> SocketAddr {
        self.rtp_to
    }

    /// The RTCP component's selected remote becomes the RTCP target (no rtcp-mux).
    pub fn set_ice_rtcp_target(&mut self, remote: SocketAddr) {
        if self.spec.rtcp != RtcpSpec::Mux {
            self.rtcp_to = remote;
        }
    }

    /// The ICE-selected remote becomes the media target.
    pub fn set_ice_target(&mut self, remote: SocketAddr) {
        self.rtp_to = remote;
        if self.spec.rtcp == RtcpSpec::Mux {
            self.rtcp_to = remote;
        }
    }

    /// An event's start timestamp from the RFC 4733 sender, whose clock runs at the
    /// telephone-event rate from `dtmf_ts0`, moved onto the leg's audio clock.
    ///
    /// With Opus and telephone-event/8000 the two rates differ. The durations stay at the
    /// event rate (RFC 4733 §2.5.1.3: that is what the receiver measures a press by), but
    /// the start is stamped where the audio stream is at that moment: the events replace
    /// audio on the same SSRC, whose timestamps must keep one monotone timeline (RFC 3550
    /// §5.1) for the peer's jitter buffer and for our own rewriter, which keeps a source's
    /// timestamp offset fixed. When the rates are equal this is the identity.
    fn event_ts_on_audio_clock(&self, ts: u32, event_rate: u32) -> u32 {
        let audio_rate = self.spec.codec.clock_rate;
        if event_rate == audio_rate || event_rate == 0 {
            return ts;
        }
        let units = u64::from(ts.wrapping_sub(self.dtmf_ts0));
        let audio_units = u128::from(units) * u128::from(audio_rate) / u128::from(event_rate);
        self.dtmf_ts0.wrapping_add(audio_units as u32)
    }

    fn gen_clock(&self, now_us: u64) -> u32 {
        let units = u128::from(now_us.saturating_sub(self.t0_us))
            * u128::from(self.spec.codec.clock_rate)
            / 1_000_000;
        self.gen_ts0.wrapping_add(units as u32)
    }

    // ---- receive side ----

    /// Symmetric RTP (RFC 4961): the first good packet latches; a different source takes
    /// over only after several packets in a row, so one stray or spoofed packet cannot
    /// redirect the stream. (With SRTP a spoofed packet never gets here: it fails
    /// authentication first.)
    fn latch(&mut self, from: SocketAddr, out: &mut Out) {
        if !self.spec.symmetric_latching || self.ice.is_some() {
            return;
        }
        match self.latched {
            Some(cur) if cur == from => self.contender = None,
            Some(_) => {
                let n = match self.contender {
                    Some((a, n)) if a == from => n + 1,
                    _ => 1,
                };
                if n >= RELATCH_PACKETS {
                    self.set_latched(from, out);
                } else {
                    self.contender = Some((from, n));
                }
            }
            None => self.set_latched(from, out),
        }
    }

    fn set_latched(&mut self, from: SocketAddr, out: &mut Out) {
        self.latched = Some(from);
        self.contender = None;
        self.rtp_to = from;
        if self.spec.rtcp == RtcpSpec::Mux {
            self.rtcp_to = from;
        }
        out.events.push_back(Event::Latched {
            leg: self.id,
            remote: from,
        });
    }

    /// An RTP packet arrived from `from`. Returns what the partner should get.
    pub fn on_rtp(
        &mut self,
        now_us: u64,
        from: SocketAddr,
        bytes: &[u8],
        partner: Option<PartnerView>,
        out: &mut Out,
    ) -> Vec<Forward> {
        let mut buf = bytes.to_vec();
        if let Some((_, rx)) = &mut self.srtp {
            if rx.unprotect_rtp(&mut buf).is_err() {
                out.dropped += 1;
                return Vec::new();
            }
        }
        let Ok(pkt) = RtpPacket::parse(&buf) else {
            out.dropped += 1;
            return Vec::new();
        };
        let pt = pkt.payload_type().0;
        let te_pt = self.spec.telephone_event.map(|t| t.recv_pt.0);
        let kind = if pt == self.spec.codec.recv_pt.0 || pt == PT_CN {
            Kind::Audio
        } else if Some(pt) == te_pt {
            Kind::Event
        } else {
            out.dropped += 1;
            return Vec::new();
        };
        self.latch(from, out);
        self.last_rx_us = now_us;
        self.timed_out = false;
        let (ssrc, seq, ts, marker) = (pkt.ssrc(), pkt.sequence(), pkt.timestamp(), pkt.marker());
        let payload_len = pkt.payload().len();
        let clock = self.spec.codec.clock_rate;
        let stats = match &mut self.rx {
            Some(s) if s.ssrc() == ssrc => s,
            _ => {
                if let Some(old) = self.rx.take() {
                    self.totals.lost += old.lost();
                    self.totals.expected += u64::from(old.expected());
                }
                self.rx.insert(ReceiveStats::new(ssrc, clock, 1))
            }
        };
        match stats.handle_packet(now_us, seq, ts) {
            Verdict::Accepted | Verdict::Probation => {}
            Verdict::Duplicate | Verdict::Late | Verdict::Bad => return Vec::new(),
        }
        self.totals.packets += 1;
        self.totals.bytes += payload_len as u64;
        if !self.spec.direction.receives() {
            return Vec::new();
        }
        let mut fwd = Vec::new();
        match kind {
            Kind::Event => self.on_event_packet(now_us, buf, partner, &mut fwd, out),
            Kind::Audio => {
                let payload = pkt.payload();
                if pt != PT_CN {
                    self.detect_inband(payload, partner, &mut fwd, out);
                }
                match partner.map(|p| p.mode) {
                    // The decrypted buffer itself goes on; no copy per relayed packet.
                    Some(Mode::Relay) => fwd.push(Forward::Relay { packet: buf, kind }),
                    Some(Mode::Transcode) if pt != PT_CN => {
                        if let Some(p) = &mut self.playout {
                            p.push(now_us, seq, ts, marker, payload.to_vec());
                        }
                    }
                    _ => {}
                }
            }
        }
        fwd
    }

    fn on_event_packet(
        &mut self,
        now_us: u64,
        buf: Vec<u8>,
        partner: Option<PartnerView>,
        fwd: &mut Vec<Forward>,
        out: &mut Out,
    ) {
        let Ok(pkt) = RtpPacket::parse(&buf) else {
            return;
        };
        if let Some(rx) = &mut self.dtmf_rx {
            if rx
                .handle_packet(now_us, pkt.timestamp(), pkt.payload())
                .is_err()
            {
                out.dropped += 1;
                return;
            }
        }
        // Same codec and telephone-event rate on both sides: relay the packets themselves,
        // so the far end sees the key press as it happens (RFC 4733 §2.3 timing kept).
        let relay = partner.is_some_and(|p| p.relays_events_at(self.telephone_event_rate()));
        if relay {
            fwd.push(Forward::Relay {
                packet: buf,
                kind: Kind::Event,
            });
        }
        self.drain_dtmf_rx(!relay && partner.is_some(), fwd, out);
    }

    fn drain_dtmf_rx(&mut self, regenerate: bool, fwd: &mut Vec<Forward>, out: &mut Out) {
        let Some(rx) = &mut self.dtmf_rx else { return };
        let rate = self
            .spec
            .telephone_event
            .map_or(8000, |t| t.clock_rate)
            .max(1);
        while let Some(ev) = rx.poll_event() {
            let Some(digit) = sb_rtp::dtmf::event_to_char(ev.event) else {
                continue; // a non-DTMF event (flash, tones): not reported
            };
            let duration_ms = (u64::from(ev.duration) * 1000 / u64::from(rate)) as u32;
            out.events.push_back(Event::DtmfReceived {
                leg: self.id,
                digit,
                duration_ms,
                how: DtmfSource::Rfc4733,
            });
            if regenerate {
                fwd.push(Forward::Dtmf {
                    event: ev.event,
                    duration_ms,
                });
            }
        }
    }

    /// In-band detection (ITU-T Q.24) on the audio as received. A press is reported when
    /// it ends, with its measured length; toward a partner with telephone-event it is
    /// regenerated as RFC 4733 then. (The tones themselves still reach the partner in the
    /// audio; suppressing them would need the press to be known before it is heard.)
    fn detect_inband(
        &mut self,
        payload: &[u8],
        partner: Option<PartnerView>,
        fwd: &mut Vec<Forward>,
        out: &mut Out,
    ) {
        let Some(d) = &mut self.detector else { return };
        let mut pcm = Vec::new();
        d.decoder.decode(payload, &mut pcm);
        d.detector.push(&pcm);
        while let Some(ev) = d.detector.poll_event() {
            d.press = Some(Press {
                digit: ev.digit,
                start_sample: ev.start_sample,
            });
        }
        if let Some(p) = d.press {
            if d.detector.current().is_none() {
                d.press = None;
                let rate = u64::from(d.detector.rate().max(1));
                let samples = d.detector.samples_seen().saturating_sub(p.start_sample);
                let duration_ms = (samples * 1000 / rate) as u32;
                out.events.push_back(Event::DtmfReceived {
                    leg: self.id,
                    digit: p.digit.as_char(),
                    duration_ms,
                    how: DtmfSource::InBand,
                });
                if partner.is_some_and(|p| p.has_telephone_event()) {
                    fwd.push(Forward::Dtmf {
                        event: p.digit.event_code(),
                        duration_ms,
                    });
                }
            }
        }
    }

    /// Seen from the runtime: liveness for the media timeout counts RTCP too (a held peer
    /// often sends only RTCP, RFC 3264 §5.1).
    pub fn touch(&mut self, now_us: u64) {
        self.last_rx_us = now_us;
        self.timed_out = false;
    }

    pub fn unprotect_rtcp(&mut self, buf: &mut Vec<u8>) -> bool {
        match &mut self.srtp {
            Some((_, rx)) => rx.unprotect_rtcp(buf).is_ok(),
            None => true,
        }
    }

    pub fn latch_rtcp(&mut self, from: SocketAddr) {
        if self.spec.symmetric_latching && self.ice.is_none() {
            self.rtcp_to = from;
        }
    }

    pub fn receive_stats(&mut self) -> Option<&mut ReceiveStats> {
        self.rx.as_mut()
    }

    // ---- time ----

    pub fn poll_timeout(&self) -> Option<u64> {
        let timeout = self.media_deadline();
        [
            Some(self.next_rtcp_us),
            self.tone_tick_us,
            self.playout.as_ref().and_then(|p| p.poll_timeout()),
            self.dtmf_tx.as_ref().and_then(|d| d.poll_timeout()),
            self.dtmf_rx.as_ref().and_then(|d| d.poll_timeout()),
            self.ice.as_ref().and_then(|i| i.poll_timeout()),
            timeout,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn media_deadline(&self) -> Option<u64> {
        let ms = self.spec.media_timeout_ms?;
        (self.spec.direction.receives() && !self.timed_out)
            .then(|| self.last_rx_us + u64::from(ms) * 1000)
    }

    /// Runs what is due on this leg except RTCP (the engine builds reports); returns what
    /// the partner gets.
    pub fn handle_timeout(
        &mut self,
        now_us: u64,
        partner: Option<PartnerView>,
        out: &mut Out,
    ) -> Vec<Forward> {
        let mut fwd = Vec::new();
        if self.media_deadline().is_some_and(|d| d <= now_us) {
            self.timed_out = true;
            out.events.push_back(Event::MediaTimeout { leg: self.id });
        }
        if let Some(rx) = &mut self.dtmf_rx {
            rx.handle_timeout(now_us);
            let own = self.telephone_event_rate();
            let regenerate = partner.is_some_and(|p| !p.relays_events_at(own));
            self.drain_dtmf_rx(regenerate, &mut fwd, out);
        }
        if let Some(tx) = &mut self.dtmf_tx {
            tx.handle_timeout(now_us);
        }
        while let Some(p) = self.dtmf_tx.as_mut().and_then(|d| d.poll_transmit()) {
            let Some(te) = self.spec.telephone_event else {
                break;
            };
            self.gen_next = None;
            let ts = self.event_ts_on_audio_clock(p.timestamp, te.clock_rate);
            self.send_generated(
                now_us,
                te.send_pt.0,
                p.marker,
                ts,
                p.payload.to_bytes().to_vec(),
                out,
            );
        }
        // Tone and clip frames, one per packet time.
        let frame_us = u64::from(self.spec.ptime_ms) * 1000;
        while let Some(t) = self.tone_tick_us.filter(|&t| t <= now_us) {
            let len = self.packetizer.as_ref().map_or(0, |p| p.frame_samples());
            match self.tone.next_frame(len) {
                Some(pcm) if len > 0 => {
                    self.tone_tick_us = Some(t + frame_us);
                    if let Some(p) = &mut self.packetizer {
                        let payload = p.encode_frame(&pcm);
                        self.send_audio_frame(t, payload, out);
                    }
                }
                _ => self.tone_tick_us = None,
            }
        }
        if partner.is_some() {
            while let Some(pcm) = self.playout.as_mut().and_then(|p| p.tick(now_us)) {
                let rate = self.playout.as_ref().map_or(8000, |p| p.sample_rate());
                fwd.push(Forward::Pcm { pcm, rate });
            }
        }
        fwd
    }
}
