//! The call media engine: legs joined in sessions, relaying or transcoding between
//! connected legs, DTMF interworking, tones, RTCP and quality reports.
//!
//! Sans-IO, in the same shape as every core here: inputs take the time (`now_us`,
//! microseconds on the caller's monotonic clock), outputs are polled.
//!
//! - [`MediaEngine::handle_command`]: what signalling asks ([`sb_media_api::Command`]).
//! - [`MediaEngine::handle_packet`]: a datagram arrived on a local socket.
//! - [`MediaEngine::handle_timeout`]: the time from [`MediaEngine::poll_timeout`] came.
//! - Then drain [`MediaEngine::poll_transmit`] and [`MediaEngine::poll_event`] until
//!   `None`, and re-arm the timer at [`MediaEngine::poll_timeout`].
//!
//! RTCP timing (RFC 3550 §6.2, §6.3, simplified): every leg is a two-party session whose
//! computed interval is far below the 5 s minimum at audio rates (two members sharing 5 %
//! of 64 kbit/s send a 100-byte report every 0.5 s), so the interval is the minimum,
//! `T = 5 s`, randomised to `T·U(0.5, 1.5)/1.21828` (§6.3.1, the `e - 3/2` compensation),
//! the first report after half of that (§6.2 "initial" halving). Reports are SR when the
//! leg sent RTP in the last two intervals (§6.4), RR otherwise, each with an SDES CNAME
//! (§6.1), and go out on hold too (RFC 3264 §5.1 keeps RTCP flowing).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;

use sb_media_api::{Command, CommandError, Event, IceSelected, LegId, RemoteReport, SessionId};
use sb_rtp::{build_compound, demux, parse_compound, Demux, NtpTime, RtcpPacket, SdesChunk};

use crate::ice::{IceFactory, IceState, NoIce};
use crate::leg::{self, Forward, Leg, Mode, PartnerView, Seeds};

/// The minimum RTCP interval, RFC 3550 §6.2.
const RTCP_MIN_INTERVAL_US: u64 = 5_000_000;
/// RFC 3550 §6.3.1: `e - 3/2`, so randomised intervals average the deterministic one.
const RTCP_COMPENSATION: f64 = 1.218_28;

/// A datagram to send: from which local socket, to where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub from_local: SocketAddr,
    pub to: SocketAddr,
    pub bytes: Vec<u8>,
}

/// Engine-wide settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EngineConfig {
    /// Seeds SSRCs, initial sequence numbers and timestamps (RFC 3550 §5.1 wants them
    /// unpredictable) and RTCP interval randomisation. The runtime passes real entropy;
    /// tests pass a constant for repeatable runs.
    pub seed: u64,
    /// Wall-clock time (microseconds since the Unix epoch) at `now_us = 0`, for the NTP
    /// timestamps of sender reports (RFC 3550 §6.4.1).
    pub unix_us_at_zero: u64,
    /// The SDES CNAME every leg reports (RFC 3550 §6.5.1; RFC 7022 suggests a random
    /// per-session value, which the runtime may pass).
    pub cname: String,
}

impl EngineConfig {
    pub fn new(seed: u64, unix_us_at_zero: u64) -> Self {
        Self {
            seed,
            unix_us_at_zero,
            cname: "switchboard".to_owned(),
        }
    }
}

/// Outputs collected while handling one input.
#[derive(Debug, Default)]
pub(crate) struct Out {
    pub transmits: VecDeque<Transmit>,
    pub events: VecDeque<Event>,
    /// Datagrams dropped: unknown socket, failed SRTP, malformed, unexpected payload type.
    pub dropped: u64,
}

/// splitmix64: small, seedable, and good enough for SSRCs and interval jitter.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn rtcp_interval_us(&mut self, initial: bool) -> u64 {
        let t = RTCP_MIN_INTERVAL_US as f64 * if initial { 0.5 } else { 1.0 };
        (t * (0.5 + self.unit()) / RTCP_COMPENSATION) as u64
    }
}

/// Counters for monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EngineStats {
    /// Datagrams dropped (unknown socket, SRTP failure, malformed, unknown payload type).
    pub dropped: u64,
}

/// The media engine. See the module docs for the drive loop.
pub struct MediaEngine {
    config: EngineConfig,
    rng: Rng,
    ice: Box<dyn IceFactory>,
    sessions: HashMap<SessionId, Vec<LegId>>,
    legs: HashMap<LegId, Leg>,
    by_local: HashMap<SocketAddr, LegId>,
    /// Each leg's next deadline, ordered, so finding due work does not scan every leg
    /// (thousands of legs tick every 20 ms, each at its own phase).
    timers: BTreeSet<(u64, LegId)>,
    scheduled: HashMap<LegId, u64>,
    out: Out,
    stats: EngineStats,
}

impl std::fmt::Debug for MediaEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaEngine")
            .field("sessions", &self.sessions.len())
            .field("legs", &self.legs.len())
            .finish_non_exhaustive()
    }
}

impl MediaEngine {
    /// An engine without an ICE agent ([`NoIce`]).
    pub fn new(config: EngineConfig) -> Self {
        Self::with_ice(config, Box::new(NoIce))
    }

    /// An engine that runs ICE on legs that ask for it through `ice`.
    pub fn with_ice(config: EngineConfig, ice: Box<dyn IceFactory>) -> Self {
        Self {
            rng: Rng(config.seed),
            config,
            ice,
            sessions: HashMap::new(),
            legs: HashMap::new(),
            by_local: HashMap::new(),
            timers: BTreeSet::new(),
            scheduled: HashMap::new(),
            out: Out::default(),
            stats: EngineStats::default(),
        }
    }

    // ---- getters ----

    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    pub fn leg_count(&self) -> usize {
        self.legs.len()
    }

    /// Where the leg sends RTP now (SDP address, latched source or ICE-selected pair).
    pub fn rtp_target(&self, leg: LegId) -> Option<SocketAddr> {
        self.legs.get(&leg).map(|l| l.rtp_target())
    }

    /// The SSRC the leg sends with.
    pub fn local_ssrc(&self, leg: LegId) -> Option<sb_rtp::Ssrc> {
        self.legs.get(&leg).map(|l| l.out_ssrc)
    }

    /// The leg's quality figures now.
    pub fn quality(&self, leg: LegId) -> Option<sb_media_api::QualityReport> {
        self.legs.get(&leg).map(|l| l.quality())
    }

    pub fn stats(&self) -> EngineStats {
        EngineStats {
            dropped: self.stats.dropped + self.out.dropped,
        }
    }

    // ---- outputs ----

    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.events.pop_front()
    }

    /// The earliest time [`MediaEngine::handle_timeout`] has work (a playout tick, a tone
    /// frame, a DTMF packet, an RTCP report, a media timeout, an ICE check).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        let next = self.timers.first().map(|&(t, _)| t);
        // The index must agree with the legs themselves; debug builds (the tests) check.
        debug_assert_eq!(
            next,
            self.legs.values().filter_map(|l| l.poll_timeout()).min(),
            "timer index out of date"
        );
        next
    }

    /// Re-files a leg's deadline after anything that may have moved it.
    fn resched(&mut self, id: LegId) {
        if let Some(old) = self.scheduled.remove(&id) {
            self.timers.remove(&(old, id));
        }
        if let Some(t) = self.legs.get(&id).and_then(|l| l.poll_timeout()) {
            self.scheduled.insert(id, t);
            self.timers.insert((t, id));
        }
    }

    /// Re-files a leg and its partner (what one receives, the other may send).
    fn resched_pair(&mut self, id: LegId) {
        let partner = self.legs.get(&id).and_then(|l| l.partner);
        self.resched(id);
        if let Some(p) = partner {
            self.resched(p);
        }
    }

    /// The legs a command may touch, with their partners as they are before it runs.
    fn touched_by(&self, cmd: &Command) -> Vec<LegId> {
        let mut ids = match cmd {
            Command::CreateSession { .. } => Vec::new(),
            Command::DestroySession { session } => {
                self.sessions.get(session).cloned().unwrap_or_default()
            }
            Command::AddLeg { leg, .. }
            | Command::UpdateLeg { leg, .. }
            | Command::SendDtmf { leg, .. }
            | Command::PlayTone { leg, .. }
            | Command::StopTone { leg }
            | Command::RemoveLeg { leg }
            | Command::RequestStats { leg } => vec![*leg],
            Command::Connect { a, b } | Command::Disconnect { a, b } => vec![*a, *b],
        };
        let partners: Vec<LegId> = ids
            .iter()
            .filter_map(|id| self.legs.get(id).and_then(|l| l.partner))
            .collect();
        ids.extend(partners);
        ids
    }

    // ---- inputs ----

    /// Applies a command whole, or refuses it and changes nothing.
    pub fn handle_command(&mut self, now_us: u64, cmd: Command) -> Result<(), CommandError> {
        let touched = self.touched_by(&cmd);
        let result = self.apply(now_us, cmd);
        for id in touched {
            self.resched_pair(id);
        }
        result
    }

    fn apply(&mut self, now_us: u64, cmd: Command) -> Result<(), CommandError> {
        match cmd {
            Command::CreateSession { session } => {
                if self.sessions.contains_key(&session) {
                    return Err(CommandError::SessionExists(session));
                }
                self.sessions.insert(session, Vec::new());
                Ok(())
            }
            Command::AddLeg {
                session,
                leg,
                local,
                local_rtcp,
                spec,
            } => self.add_leg(now_us, session, leg, local, local_rtcp, spec),
            Command::UpdateLeg { leg, spec } => self.update_leg(now_us, leg, spec),
            Command::Connect { a, b } => self.connect(a, b),
            Command::Disconnect { a, b } => {
                let (la, lb) = (self.leg(a)?, self.leg(b)?);
                if la.partner != Some(b) || lb.partner != Some(a) {
                    return Err(CommandError::NotConnected { a, b });
                }
                self.unlink(a);
                Ok(())
            }
            Command::SendDtmf {
                leg,
                digit,
                duration_ms,
            } => {
                let event = sb_rtp::dtmf::event_from_char(digit.to_ascii_uppercase())
                    .ok_or(CommandError::BadDigit(digit))?;
                let duration_ms = duration_ms.clamp(40, 5000);
                self.leg_mut(leg)?.send_dtmf(now_us, event, duration_ms)
            }
            Command::PlayTone { leg, tone } => self.leg_mut(leg)?.play_tone(now_us, tone),
            Command::StopTone { leg } => {
                self.leg_mut(leg)?.stop_tone();
                Ok(())
            }
            Command::RemoveLeg { leg } => {
                self.leg(leg)?;
                self.remove_leg(now_us, leg);
                Ok(())
            }
            Command::DestroySession { session } => {
                let legs = self
                    .sessions
                    .get(&session)
                    .ok_or(CommandError::UnknownSession(session))?
                    .clone();
                for leg in legs {
                    self.remove_leg(now_us, leg);
                }
                self.sessions.remove(&session);
                Ok(())
            }
            Command::RequestStats { leg } => {
                let stats = self.leg(leg)?.quality();
                self.out.events.push_back(Event::LegStats { leg, stats });
                Ok(())
            }
        }
    }

    fn leg(&self, id: LegId) -> Result<&Leg, CommandError> {
        self.legs.get(&id).ok_or(CommandError::UnknownLeg(id))
    }

    fn leg_mut(&mut self, id: LegId) -> Result<&mut Leg, CommandError> {
        self.legs.get_mut(&id).ok_or(CommandError::UnknownLeg(id))
    }

    fn add_leg(
        &mut self,
        now_us: u64,
        session: SessionId,
        id: LegId,
        local: SocketAddr,
        local_rtcp: Option<SocketAddr>,
        spec: sb_media_api::LegSpec,
    ) -> Result<(), CommandError> {
        if !self.sessions.contains_key(&session) {
            return Err(CommandError::UnknownSession(session));
        }
        if self.legs.contains_key(&id) {
            return Err(CommandError::LegExists(id));
        }
        for addr in std::iter::once(local).chain(local_rtcp) {
            if self.by_local.contains_key(&addr) {
                return Err(CommandError::LocalAddressInUse(addr));
            }
        }
        let ice = match &spec.ice {
            Some(ice_spec) => Some(
                self.ice
                    .create_with_rtcp(now_us, local, ice_rtcp(&spec, local_rtcp), ice_spec)
                    .map_err(|_| CommandError::IceUnavailable)?,
            ),
            None => None,
        };
        let r = self.rng.next();
        let seeds = Seeds {
            ssrc: r as u32,
            seq: (r >> 32) as u16,
            ts: self.rng.next() as u32,
            first_rtcp_us: self.rng.rtcp_interval_us(true),
        };
        let mut leg = Leg::new(now_us, session, id, local, local_rtcp, spec, seeds)?;
        if let Some(ice) = ice {
            leg.ice = Some(ice);
            leg.ice_state = Some(IceState::Checking);
        }
        self.by_local.insert(local, id);
        if let Some(r) = local_rtcp {
            self.by_local.insert(r, id);
        }
        self.legs.insert(id, leg);
        self.sessions.entry(session).or_default().push(id);
        Ok(())
    }

    fn update_leg(
        &mut self,
        now_us: u64,
        id: LegId,
        spec: sb_media_api::LegSpec,
    ) -> Result<(), CommandError> {
        leg::validate(&spec)?;
        let partner = self.leg(id)?.partner;
        // A codec change may turn a relay into a transcode; check before changing anything.
        if let Some(p) = partner {
            let other = self.leg(p)?;
            mode_between(&spec, &other.spec)?;
        }
        let has_ice = self.leg(id)?.ice.is_some();
        let new_ice = match (&spec.ice, has_ice) {
            (Some(ice_spec), false) => {
                let leg = self.leg(id)?;
                let (local, rtcp) = (leg.local, ice_rtcp(&spec, leg.local_rtcp));
                Some(
                    self.ice
                        .create_with_rtcp(now_us, local, rtcp, ice_spec)
                        .map_err(|_| CommandError::IceUnavailable)?,
                )
            }
            _ => None,
        };
        let leg = self.leg_mut(id)?;
        leg.update(now_us, spec)?;
        if let Some(ice) = new_ice {
            leg.ice = Some(ice);
            leg.ice_state = Some(IceState::Checking);
        }
        if let Some(p) = partner {
            self.link(id, p)?;
        }
        Ok(())
    }

    fn connect(&mut self, a: LegId, b: LegId) -> Result<(), CommandError> {
        if a == b {
            return Err(CommandError::SelfConnect(a));
        }
        let (la, lb) = (self.leg(a)?, self.leg(b)?);
        if la.session != lb.session {
            return Err(CommandError::DifferentSessions { a, b });
        }
        mode_between(&la.spec, &lb.spec)?;
        for x in [a, b] {
            if self.legs[&x].partner.is_some() {
                self.unlink(x);
            }
        }
        self.link(a, b)
    }

    /// Sets both legs' partner and mode, and the transcoding stages the mode needs
    /// (sb-codecs' `transcode_plan` picks each side's codec rate and resampling).
    fn link(&mut self, a: LegId, b: LegId) -> Result<(), CommandError> {
        let mode = mode_between(&self.leg(a)?.spec, &self.leg(b)?.spec)?;
        let codecs = match (self.leg(a)?.codec, self.leg(b)?.codec) {
            (Some(ca), Some(cb)) if mode == Mode::Transcode => {
                match sb_codecs::transcode_plan(ca, cb) {
                    sb_codecs::TranscodePlan::Transcode(bridge) => (Some(bridge.a), Some(bridge.b)),
                    _ => (Some(ca), Some(cb)),
                }
            }
            (ca, cb) => (ca, cb),
        };
        for (x, y, codec) in [(a, b, codecs.0), (b, a, codecs.1)] {
            let l = self.leg_mut(x)?;
            l.partner = Some(y);
            l.join(mode, codec);
        }
        Ok(())
    }

    fn unlink(&mut self, a: LegId) {
        let Some(leg) = self.legs.get_mut(&a) else {
            return;
        };
        let partner = leg.partner;
        leg.leave();
        if let Some(b) = partner.and_then(|b| self.legs.get_mut(&b)) {
            b.leave();
        }
    }

    fn remove_leg(&mut self, now_us: u64, id: LegId) {
        self.unlink(id);
        // A BYE tells the peer the stream ended; the last quality report goes to the call
        // record.
        self.send_report(now_us, id, true);
        if let Some(leg) = self.legs.remove(&id) {
            self.by_local.remove(&leg.local);
            if let Some(r) = leg.local_rtcp {
                self.by_local.remove(&r);
            }
            if let Some(legs) = self.sessions.get_mut(&leg.session) {
                legs.retain(|&l| l != id);
            }
        }
    }

    fn partner_view(&self, id: LegId) -> Option<PartnerView> {
        let leg = self.legs.get(&id)?;
        let partner = self.legs.get(&leg.partner?)?;
        Some(PartnerView {
            mode: leg.mode?,
            telephone_event_rate: partner.telephone_event_rate(),
        })
    }

    /// A datagram arrived on the local socket `local` from `from`. Datagrams for no leg,
    /// or that fail SRTP or parsing, are dropped and counted ([`MediaEngine::stats`]).
    pub fn handle_packet(
        &mut self,
        now_us: u64,
        local: SocketAddr,
        from: SocketAddr,
        bytes: &[u8],
    ) {
        let Some(&id) = self.by_local.get(&local) else {
            self.stats.dropped += 1;
            return;
        };
        // RFC 7983 §7 and RFC 5761 §4: one socket may carry STUN, RTP and RTCP; the first
        // two octets tell them apart. A leg's separate RTCP socket is demultiplexed the
        // same way, which also copes with peers that mux without saying so.
        let kind = demux(bytes);
        if matches!(kind, Demux::Rtp | Demux::Rtcp) {
            let refused = self
                .legs
                .get(&id)
                .and_then(|l| l.ice.as_ref())
                .is_some_and(|ice| !ice.accepts_media_on(local, from));
            if refused {
                self.stats.dropped += 1;
                return;
            }
        }
        match kind {
            Demux::Stun => self.on_stun(now_us, id, local, from, bytes),
            Demux::Rtcp => self.on_rtcp(now_us, id, from, bytes),
            Demux::Rtp => {
                let view = self.partner_view(id);
                let Some(leg) = self.legs.get_mut(&id) else {
                    return;
                };
                let fwd = leg.on_rtp(now_us, from, bytes, view, &mut self.out);
                self.forward(now_us, id, fwd);
            }
            Demux::Dtls | Demux::Other => {
                self.stats.dropped += 1;
                return;
            }
        }
        self.resched_pair(id);
    }

    fn on_stun(
        &mut self,
        now_us: u64,
        id: LegId,
        local: SocketAddr,
        from: SocketAddr,
        bytes: &[u8],
    ) {
        let Some(leg) = self.legs.get_mut(&id) else {
            return;
        };
        match &mut leg.ice {
            Some(ice) => ice.handle_stun_on(now_us, local, from, bytes),
            None => {
                self.stats.dropped += 1;
                return;
            }
        }
        self.drain_ice(id);
    }

    fn drain_ice(&mut self, id: LegId) {
        let Some(leg) = self.legs.get_mut(&id) else {
            return;
        };
        let Some(ice) = &mut leg.ice else { return };
        while let Some((from, to, bytes)) = ice.poll_transmit_from() {
            self.out.transmits.push_back(Transmit {
                from_local: from.unwrap_or(leg.local),
                to,
                bytes,
            });
        }
        let rtcp = ice.rtcp_remote();
        let state = ice.state();
        if let Some(rtcp) = rtcp {
            leg.set_ice_rtcp_target(rtcp);
        }
        if leg.ice_state != Some(state) {
            leg.ice_state = Some(state);
            match state {
                IceState::Selected { remote } => {
                    leg.set_ice_target(remote);
                    self.out.events.push_back(Event::IceSelected {
                        leg: id,
                        pair: IceSelected {
                            local: leg.local,
                            remote,
                        },
                    });
                }
                IceState::Failed => self.out.events.push_back(Event::IceFailed { leg: id }),
                IceState::Checking => {}
            }
        }
    }

    fn on_rtcp(&mut self, now_us: u64, id: LegId, from: SocketAddr, bytes: &[u8]) {
        let Some(leg) = self.legs.get_mut(&id) else {
            return;
        };
        let mut buf = bytes.to_vec();
        if !leg.unprotect_rtcp(&mut buf) {
            self.stats.dropped += 1;
            return;
        }
        let Ok(packets) = parse_compound(&buf) else {
            self.stats.dropped += 1;
            return;
        };
        leg.touch(now_us);
        leg.latch_rtcp(from);
        let ours = leg.out_ssrc;
        for p in &packets {
            let blocks = match p {
                RtcpPacket::SenderReport(sr) => {
                    if let Some(rx) = leg.receive_stats().filter(|s| s.ssrc() == sr.ssrc) {
                        rx.handle_sender_report(now_us, sr);
                    }
                    &sr.reports
                }
                RtcpPacket::ReceiverReport(rr) => &rr.reports,
                _ => continue,
            };
            for b in blocks.iter().filter(|b| b.ssrc == ours) {
                leg.rtt.handle_report_block(now_us, b);
                let rate = f64::from(leg.spec.codec.clock_rate.max(1));
                leg.remote_report = Some(RemoteReport {
                    fraction_lost: f32::from(b.fraction_lost) / 256.0,
                    cumulative_lost: b.cumulative_lost,
                    jitter_ms: (f64::from(b.jitter) * 1000.0 / rate) as f32,
                });
            }
        }
    }

    /// Hands what leg `from` produced to its partner.
    fn forward(&mut self, now_us: u64, from: LegId, fwd: Vec<Forward>) {
        if fwd.is_empty() {
            return;
        }
        let Some(to) = self.legs.get(&from).and_then(|l| l.partner) else {
            return;
        };
        let Some(dst) = self.legs.get_mut(&to) else {
            return;
        };
        for f in fwd {
            match f {
                Forward::Relay { packet, kind } => {
                    dst.send_relayed(now_us, packet, kind, &mut self.out)
                }
                Forward::Pcm { pcm, rate } => dst.send_pcm(now_us, &pcm, rate, &mut self.out),
                Forward::Dtmf { event, duration_ms } => {
                    // Cannot fail for an event that came from a DTMF digit on a leg whose
                    // codec is known; a leg with an unknown codec just misses the digit.
                    let _ = dst.send_dtmf(now_us, event, duration_ms);
                }
            }
        }
    }

    /// Runs everything due at `now_us`: playout ticks, tone frames, DTMF packets, RTCP
    /// reports, media timeouts and ICE.
    pub fn handle_timeout(&mut self, now_us: u64) {
        // The legs due now, in (deadline, id) order, so simulations repeat exactly. Work
        // that falls due while these run (a partner's DTMF, say) is left to the next call,
        // which poll_timeout asks for at once; so a leg that keeps asking for the past
        // cannot trap this loop.
        let ids: Vec<LegId> = self
            .timers
            .range(..=(now_us, LegId(u64::MAX)))
            .map(|&(_, id)| id)
            .collect();
        for id in ids {
            if let Some(leg) = self.legs.get_mut(&id) {
                if let Some(ice) = &mut leg.ice {
                    ice.handle_timeout(now_us);
                }
            }
            self.drain_ice(id);
            let view = self.partner_view(id);
            let Some(leg) = self.legs.get_mut(&id) else {
                continue;
            };
            let fwd = leg.handle_timeout(now_us, view, &mut self.out);
            self.forward(now_us, id, fwd);
            self.maybe_rtcp(now_us, id);
            self.resched_pair(id);
        }
    }

    fn maybe_rtcp(&mut self, now_us: u64, id: LegId) {
        let Some(leg) = self.legs.get_mut(&id) else {
            return;
        };
        if leg.next_rtcp_us > now_us {
            return;
        }
        let interval = self.rng.rtcp_interval_us(false);
        leg.next_rtcp_us = now_us + interval;
        self.send_report(now_us, id, false);
    }

    /// Sends the leg's compound report (SR or RR, SDES CNAME, and BYE when it leaves,
    /// RFC 3550 §6.6) and reports its quality.
    fn send_report(&mut self, now_us: u64, id: LegId, bye: bool) {
        let Some(leg) = self.legs.get_mut(&id) else {
            return;
        };
        let ssrc = leg.out_ssrc;
        let blocks: Vec<_> = leg
            .receive_stats()
            .and_then(|s| s.report_block(now_us))
            .into_iter()
            .collect();
        let report = if leg.sent_since(now_us.saturating_sub(2 * RTCP_MIN_INTERVAL_US)) {
            let ntp = NtpTime::from_unix_micros(self.config.unix_us_at_zero + now_us);
            leg.rtt.on_sr_sent(now_us, ntp);
            let sr = leg.sender_stats().sender_report(
                now_us,
                ntp,
                ssrc,
                leg.spec.codec.clock_rate,
                blocks,
            );
            RtcpPacket::SenderReport(sr)
        } else {
            RtcpPacket::ReceiverReport(sb_rtp::ReceiverReport {
                ssrc,
                reports: blocks,
            })
        };
        let mut packets = vec![
            report,
            RtcpPacket::Sdes(vec![SdesChunk::cname(ssrc, &self.config.cname)]),
        ];
        if bye {
            packets.push(RtcpPacket::Bye(sb_rtp::Bye {
                sources: vec![ssrc],
                reason: None,
            }));
        }
        if let Ok(mut bytes) = build_compound(&packets) {
            if leg.protect_rtcp(&mut bytes) {
                let (from_local, to) = leg.rtcp_target();
                self.out.transmits.push_back(Transmit {
                    from_local,
                    to,
                    bytes,
                });
            }
        }
        self.out.events.push_back(Event::LegStats {
            leg: id,
            stats: leg.quality(),
        });
    }
}

/// Relay when both legs carry the same codec (whether or not this engine implements it);
/// transcode otherwise, which needs both codecs implemented.
fn mode_between(
    a: &sb_media_api::LegSpec,
    b: &sb_media_api::LegSpec,
) -> Result<Mode, CommandError> {
    let (ca, cb) = (&a.codec, &b.codec);
    if ca.name.eq_ignore_ascii_case(&cb.name)
        && ca.clock_rate == cb.clock_rate
        && ca.channels == cb.channels
    {
        return Ok(Mode::Relay);
    }
    for (spec, c) in [(a, ca), (b, cb)] {
        if leg::codec_of(spec).is_none() {
            return Err(CommandError::UnsupportedCodec {
                name: c.name.clone(),
                clock_rate: c.clock_rate,
                channels: c.channels,
            });
        }
    }
    Ok(Mode::Transcode)
}

/// The leg's RTCP socket takes part in ICE as component 2 only without rtcp-mux.
fn ice_rtcp(spec: &sb_media_api::LegSpec, local_rtcp: Option<SocketAddr>) -> Option<SocketAddr> {
    match spec.rtcp {
        sb_media_api::RtcpSpec::Mux => None,
        sb_media_api::RtcpSpec::Separate(_) => local_rtcp,
    }
}
