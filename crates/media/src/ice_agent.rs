//! [`sb_ice::IceAgent`] behind the engine's [`IceFactory`] seam: full ICE (RFC 8445) with
//! consent freshness (RFC 7675) on every leg whose spec asks for it.
//!
//! The agent keeps time as [`Instant`]s and the engine as microseconds; the factory is
//! given the instant the engine's zero stands for, so both count the same clock. Each leg
//! gets one host candidate, its own local socket (one component: the engine's ICE legs
//! use rtcp-mux), the credentials signalling chose for our SDP, and the peer's
//! credentials and candidates; a re-INVITE with new remote credentials restarts ICE
//! (RFC 8445 §9) with the local credentials of the new spec.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use sb_ice::{Credentials, IceAgent, IceConfig, IceRole, RemoteCandidate};
use sb_media_api::{CandidateKind, IceCandidate, IceSpec};

use crate::ice::{IceFactory, IceHandler, IceState};

/// Builds one [`IceAgent`] per ICE leg.
#[derive(Debug, Clone)]
pub struct AgentFactory {
    origin: Instant,
    seed: u64,
    config: IceConfig,
}

impl AgentFactory {
    /// `origin` is the instant of the engine's `now_us = 0`; `seed` (from the operating
    /// system's entropy) drives each agent's transaction ids and tie-breaker.
    pub fn new(origin: Instant, seed: u64) -> AgentFactory {
        AgentFactory {
            origin,
            seed,
            config: IceConfig::default(),
        }
    }

    /// Timer settings other than the role (which each leg's spec decides).
    pub fn with_config(mut self, config: IceConfig) -> AgentFactory {
        self.config = config;
        self
    }

    fn next_seed(&mut self) -> u64 {
        // splitmix64: a distinct, well-mixed seed per agent from one starting value.
        self.seed = self.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl IceFactory for AgentFactory {
    fn create(
        &mut self,
        now_us: u64,
        local: SocketAddr,
        spec: &IceSpec,
    ) -> Result<Box<dyn IceHandler>, String> {
        self.create_with_rtcp(now_us, local, None, spec)
    }

    fn create_with_rtcp(
        &mut self,
        now_us: u64,
        local: SocketAddr,
        local_rtcp: Option<SocketAddr>,
        spec: &IceSpec,
    ) -> Result<Box<dyn IceHandler>, String> {
        if spec.local_ufrag.is_empty() || spec.local_pwd.is_empty() {
            return Err("ICE leg without local credentials".to_owned());
        }
        let mut config = self.config.clone();
        config.role = if spec.controlling {
            IceRole::Controlling
        } else {
            IceRole::Controlled
        };
        let rtcp: Vec<SocketAddr> = local_rtcp.into_iter().collect();
        let seed = self.next_seed();
        let agent = IceAgent::new_with_rtcp(config, &[local], &rtcp, local_credentials(spec), seed);
        let mut handler = AgentHandler {
            agent,
            origin: self.origin,
            local,
            components: if rtcp.is_empty() { 1 } else { 2 },
            now_us,
            failed_since: None,
        };
        handler.update(now_us, spec);
        Ok(Box::new(handler))
    }
}

/// How long every pair may stay failed before the leg's ICE counts as failed (and the
/// call ends). A peer's own check arriving meanwhile starts a triggered check on the
/// failed pair (RFC 8445 §7.3.1.4), which can still succeed: our checks can fail for a
/// reason that the peer's do not share (a reply from another address of a multi-homed
/// host fails the pair, §7.2.5.2.1), and the peer may simply be slower to start.
pub const FAILURE_GRACE_US: u64 = 10_000_000;

struct AgentHandler {
    agent: IceAgent,
    origin: Instant,
    local: SocketAddr,
    /// 1 with rtcp-mux, 2 with a separate RTCP socket.
    components: u16,
    /// The latest time an input carried.
    now_us: u64,
    /// Since when the agent has reported failure (cleared when it recovers).
    failed_since: Option<u64>,
}

impl AgentHandler {
    fn at(&self, now_us: u64) -> Instant {
        self.origin + Duration::from_micros(now_us)
    }

    /// The engine reads [`IceHandler::state`] rather than events; drop the agent's
    /// events so they do not pile up, and note when failure began or ended.
    fn after_input(&mut self, now_us: u64) {
        while self.agent.poll_event().is_some() {}
        self.now_us = self.now_us.max(now_us);
        if matches!(self.agent.state(), sb_ice::IceState::Failed) {
            self.failed_since.get_or_insert(self.now_us);
        } else {
            self.failed_since = None;
        }
    }

    /// When a failure becomes final, if the agent is failing now.
    fn failure_deadline(&self) -> Option<u64> {
        self.failed_since.map(|t| t + FAILURE_GRACE_US)
    }
}

impl IceHandler for AgentHandler {
    fn handle_stun(&mut self, now_us: u64, from: SocketAddr, bytes: &[u8]) {
        self.handle_stun_on(now_us, self.local, from, bytes);
    }

    fn handle_stun_on(&mut self, now_us: u64, local: SocketAddr, from: SocketAddr, bytes: &[u8]) {
        let now = self.at(now_us);
        self.agent.handle_packet(now, local, from, bytes);
        self.after_input(now_us);
    }

    fn poll_transmit_from(&mut self) -> Option<(Option<SocketAddr>, SocketAddr, Vec<u8>)> {
        self.agent
            .poll_transmit()
            .map(|t| (Some(t.local), t.remote, t.payload))
    }

    fn accepts_media_on(&self, local: SocketAddr, from: SocketAddr) -> bool {
        self.agent.accepts_media(local, from)
    }

    fn rtcp_remote(&self) -> Option<SocketAddr> {
        self.agent.selected_rtcp().map(|p| p.remote)
    }

    fn handle_timeout(&mut self, now_us: u64) {
        let now = self.at(now_us);
        self.agent.handle_timeout(now);
        self.after_input(now_us);
    }

    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        // One host candidate: every check leaves from the leg's own socket.
        self.agent.poll_transmit().map(|t| (t.remote, t.payload))
    }

    fn poll_timeout(&self) -> Option<u64> {
        let agent = self
            .agent
            .poll_timeout()
            .map(|at| at.saturating_duration_since(self.origin).as_micros() as u64);
        let grace = self.failure_deadline().filter(|&t| t > self.now_us);
        agent.into_iter().chain(grace).min()
    }

    fn state(&self) -> IceState {
        match self.agent.state() {
            sb_ice::IceState::Selected(p) => IceState::Selected { remote: p.remote },
            sb_ice::IceState::Checking => IceState::Checking,
            sb_ice::IceState::Failed => match self.failure_deadline() {
                Some(t) if self.now_us >= t => IceState::Failed,
                _ => IceState::Checking,
            },
            // Consent lost means "send nothing" (RFC 7675 §5.1), as after a failure.
            _ => IceState::Failed,
        }
    }

    fn accepts_media(&self, from: SocketAddr) -> bool {
        self.agent.accepts_media(self.local, from)
    }

    fn update(&mut self, now_us: u64, spec: &IceSpec) {
        let now = self.at(now_us);
        let remote = Credentials {
            ufrag: spec.remote_ufrag.clone(),
            pwd: spec.remote_pwd.clone(),
        };
        let candidates: Vec<RemoteCandidate> = spec
            .remote_candidates
            .iter()
            .filter(|c| u16::from(c.component) <= self.components)
            .filter_map(remote_candidate)
            .collect();
        let fresh = local_credentials(spec);
        self.agent
            .set_remote_parts(now, remote, spec.remote_lite, candidates, || fresh);
        self.after_input(now_us);
    }
}

fn local_credentials(spec: &IceSpec) -> Credentials {
    Credentials {
        ufrag: spec.local_ufrag.clone(),
        pwd: spec.local_pwd.clone(),
    }
}

/// A UDP candidate of component 1 (RTP) or 2 (RTCP) with an IP literal; mDNS names
/// (`….local`, which the runtime would have to resolve) are left out.
fn remote_candidate(c: &IceCandidate) -> Option<RemoteCandidate> {
    if !(1..=2).contains(&c.component) || !c.transport.eq_ignore_ascii_case("udp") {
        return None;
    }
    let ip: IpAddr = c.address.parse().ok()?;
    Some(RemoteCandidate {
        foundation: c.foundation.clone(),
        component: u16::from(c.component),
        address: SocketAddr::new(ip, c.port),
        priority: c.priority,
        kind: match c.kind {
            CandidateKind::Host => sb_ice::CandidateKind::Host,
            CandidateKind::ServerReflexive => sb_ice::CandidateKind::ServerReflexive,
            CandidateKind::PeerReflexive => sb_ice::CandidateKind::PeerReflexive,
            CandidateKind::Relayed => sb_ice::CandidateKind::Relayed,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(
        controlling: bool,
        local: (&str, &str),
        remote: (&str, &str),
        peer: SocketAddr,
    ) -> IceSpec {
        IceSpec {
            local_ufrag: local.0.into(),
            local_pwd: local.1.into(),
            remote_ufrag: remote.0.into(),
            remote_pwd: remote.1.into(),
            remote_candidates: vec![IceCandidate {
                foundation: "1".into(),
                component: 1,
                transport: "UDP".into(),
                priority: 2_130_706_431,
                address: peer.ip().to_string(),
                port: peer.port(),
                kind: CandidateKind::Host,
            }],
            controlling,
            remote_lite: false,
        }
    }

    /// Two handlers made by the factory find each other: checks both ways on a virtual
    /// clock, the controlling side nominates, and both select the pair and accept media
    /// from it and only from it.
    #[test]
    fn two_legs_select_the_pair_and_take_media_only_from_it() {
        let origin = Instant::now();
        let a_addr: SocketAddr = "192.0.2.1:40000".parse().unwrap();
        let b_addr: SocketAddr = "192.0.2.2:50000".parse().unwrap();
        let a_creds = ("aaaa", "aaaaaaaaaaaaaaaaaaaaaaaa");
        let b_creds = ("bbbb", "bbbbbbbbbbbbbbbbbbbbbbbb");
        let mut f = AgentFactory::new(origin, 42);
        let mut a = f
            .create(0, a_addr, &spec(true, a_creds, b_creds, b_addr))
            .unwrap();
        let mut b = f
            .create(0, b_addr, &spec(false, b_creds, a_creds, a_addr))
            .unwrap();
        let mut now = 0u64;
        for _ in 0..2000 {
            let mut moved = false;
            while let Some((to, bytes)) = a.poll_transmit() {
                assert_eq!(to, b_addr);
                b.handle_stun(now, a_addr, &bytes);
                moved = true;
            }
            while let Some((to, bytes)) = b.poll_transmit() {
                assert_eq!(to, a_addr);
                a.handle_stun(now, b_addr, &bytes);
                moved = true;
            }
            let sel = |h: &dyn IceHandler| matches!(h.state(), IceState::Selected { .. });
            if sel(a.as_ref()) && sel(b.as_ref()) {
                break;
            }
            if !moved {
                let next = [a.poll_timeout(), b.poll_timeout()]
                    .into_iter()
                    .flatten()
                    .min()
                    .expect("a pending check");
                now = next.max(now);
                a.handle_timeout(now);
                b.handle_timeout(now);
            }
        }
        assert_eq!(a.state(), IceState::Selected { remote: b_addr });
        assert_eq!(b.state(), IceState::Selected { remote: a_addr });
        assert!(a.accepts_media(b_addr));
        assert!(!a.accepts_media("192.0.2.66:50000".parse().unwrap()));
        assert!(
            now < 5_000_000,
            "selected within 5 s of virtual time, took {now} µs"
        );
    }

    /// Without rtcp-mux (baresip 1.0's default) both components run: the RTCP sockets
    /// select their own pair, and the engine learns where RTCP goes.
    #[test]
    fn two_components_select_rtp_and_rtcp_pairs() {
        let origin = Instant::now();
        let a: SocketAddr = "192.0.2.1:40000".parse().unwrap();
        let a2: SocketAddr = "192.0.2.1:40001".parse().unwrap();
        let b: SocketAddr = "192.0.2.2:50000".parse().unwrap();
        let b2: SocketAddr = "192.0.2.2:50001".parse().unwrap();
        let (ac, bc) = (
            ("aaaa", "aaaaaaaaaaaaaaaaaaaaaaaa"),
            ("bbbb", "bbbbbbbbbbbbbbbbbbbbbbbb"),
        );
        let with_rtcp = |mut s: IceSpec, peer2: SocketAddr| {
            let mut c = s.remote_candidates[0].clone();
            c.component = 2;
            c.port = peer2.port();
            c.priority -= 1;
            s.remote_candidates.push(c);
            s
        };
        let mut f = AgentFactory::new(origin, 7);
        let mut ha = f
            .create_with_rtcp(0, a, Some(a2), &with_rtcp(spec(true, ac, bc, b), b2))
            .unwrap();
        let mut hb = f
            .create_with_rtcp(0, b, Some(b2), &with_rtcp(spec(false, bc, ac, a), a2))
            .unwrap();
        let mut now = 0u64;
        for _ in 0..4000 {
            let mut moved = false;
            while let Some((from, to, bytes)) = ha.poll_transmit_from() {
                hb.handle_stun_on(now, to, from.unwrap_or(a), &bytes);
                moved = true;
            }
            while let Some((from, to, bytes)) = hb.poll_transmit_from() {
                ha.handle_stun_on(now, to, from.unwrap_or(b), &bytes);
                moved = true;
            }
            if ha.rtcp_remote().is_some() && hb.rtcp_remote().is_some() {
                break;
            }
            if !moved {
                let next = [ha.poll_timeout(), hb.poll_timeout()]
                    .into_iter()
                    .flatten()
                    .min()
                    .expect("a pending check");
                now = next.max(now);
                ha.handle_timeout(now);
                hb.handle_timeout(now);
            }
        }
        assert_eq!(ha.state(), IceState::Selected { remote: b });
        assert_eq!(ha.rtcp_remote(), Some(b2));
        assert_eq!(hb.rtcp_remote(), Some(a2));
        assert!(
            ha.accepts_media_on(a2, b2),
            "RTCP from the RTCP pair is taken"
        );
        assert!(!ha.accepts_media_on(a2, b), "but not from the RTP address");
    }

    /// Runs `h` alone (its checks go nowhere) until the agent has given up on every pair,
    /// and returns the time.
    fn run_until_agent_fails(h: &mut Box<dyn IceHandler>, mut now: u64) -> u64 {
        // While checking, the agent's timers are at most a few seconds apart (RTO capped
        // at 3 s); once it has given up, only the grace timer is left, far ahead.
        for _ in 0..10_000 {
            while h.poll_transmit_from().is_some() {}
            let next = h
                .poll_timeout()
                .expect("a timer while checking or in the grace");
            if next > now + 5_000_000 {
                return now;
            }
            now = next.max(now);
            h.handle_timeout(now);
        }
        panic!("the agent never gave up");
    }

    /// Our checks failing is not the end: within the grace the peer's own checks can
    /// still make a pair (a triggered check on the failed pair), and only a failure that
    /// lasts the whole grace ends the leg.
    #[test]
    fn a_failure_is_final_only_after_the_grace() {
        let origin = Instant::now();
        let a_addr: SocketAddr = "192.0.2.1:40000".parse().unwrap();
        let b_addr: SocketAddr = "192.0.2.2:50000".parse().unwrap();
        let (ac, bc) = (
            ("aaaa", "aaaaaaaaaaaaaaaaaaaaaaaa"),
            ("bbbb", "bbbbbbbbbbbbbbbbbbbbbbbb"),
        );
        let mut f = AgentFactory::new(origin, 9);

        // Nobody answers: Checking through the agent's retransmissions and the grace,
        // then Failed.
        let mut lonely = f.create(0, a_addr, &spec(false, ac, bc, b_addr)).unwrap();
        let mut now = 0;
        let mut saw_failed_at = None;
        while now < 60_000_000 {
            while lonely.poll_transmit_from().is_some() {}
            let Some(t) = lonely.poll_timeout() else {
                break;
            };
            now = t.max(now + 1);
            lonely.handle_timeout(now);
            if lonely.state() == IceState::Failed {
                saw_failed_at = Some(now);
                break;
            }
        }
        let failed_at = saw_failed_at.expect("a leg nobody answers fails in the end");
        assert!(
            failed_at >= FAILURE_GRACE_US,
            "not before the grace: failed at {failed_at} µs"
        );

        // Our checks all fail first, then the peer starts: the pair still forms.
        let mut a = f.create(0, a_addr, &spec(false, ac, bc, b_addr)).unwrap();
        let t_fail = run_until_agent_fails(&mut a, 0);
        assert_eq!(a.state(), IceState::Checking, "within the grace");
        let mut b = f
            .create(t_fail, b_addr, &spec(true, bc, ac, a_addr))
            .unwrap();
        let mut now = t_fail;
        for _ in 0..4000 {
            let mut moved = false;
            while let Some((_, to, bytes)) = b.poll_transmit_from() {
                assert_eq!(to, a_addr);
                a.handle_stun_on(now, a_addr, b_addr, &bytes);
                moved = true;
            }
            while let Some((_, to, bytes)) = a.poll_transmit_from() {
                if to == b_addr {
                    b.handle_stun_on(now, b_addr, a_addr, &bytes);
                }
                moved = true;
            }
            if matches!(a.state(), IceState::Selected { .. }) {
                break;
            }
            if !moved {
                let next = [a.poll_timeout(), b.poll_timeout()]
                    .into_iter()
                    .flatten()
                    .min()
                    .expect("a pending timer");
                now = next.max(now + 1);
                a.handle_timeout(now);
                b.handle_timeout(now);
            }
        }
        assert_eq!(a.state(), IceState::Selected { remote: b_addr });
        assert!(
            now < t_fail + FAILURE_GRACE_US,
            "recovered within the grace"
        );
    }

    #[test]
    fn mdns_and_unknown_component_candidates_are_left_out() {
        let mut c = spec(
            false,
            ("a", "b"),
            ("c", "d"),
            "192.0.2.1:1".parse().unwrap(),
        )
        .remote_candidates
        .remove(0);
        assert!(remote_candidate(&c).is_some());
        c.component = 3;
        assert!(remote_candidate(&c).is_none());
        c.component = 1;
        c.address = "2d1f6c9e-0000.local".into();
        assert!(remote_candidate(&c).is_none());
    }
}
