//! Two ICE agents over an in-test packet pump on a virtual clock: A plays Switchboard (the
//! answerer), B the client. Links have a fixed 10 ms delay, seeded loss, optional black
//! holes and an optional NAT in front of B.

use sb_ice::stun::short_term_key;
use sb_ice::{
    Attribute, Class, Credentials, IceAgent, IceConfig, IceEvent, IceRole, IceState, Message,
    Method, RemoteChange, SelectedPair, TransactionId,
};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn config(role: IceRole) -> IceConfig {
    let mut c = IceConfig::default();
    c.role = role;
    c
}

fn creds(n: u8) -> Credentials {
    Credentials::from_entropy(&[n; 24])
}

/// B's signalled address is `private`; A sees it as `public`.
struct Nat {
    private: SocketAddr,
    public: SocketAddr,
}

struct Packet {
    at: Instant,
    to: usize,
    local: SocketAddr,
    from: SocketAddr,
    bytes: Vec<u8>,
}

struct Net {
    start: Instant,
    now: Instant,
    agents: [IceAgent; 2],
    addrs: [Vec<SocketAddr>; 2],
    nat: Option<Nat>,
    /// Addresses packets to which vanish.
    unreachable: HashSet<SocketAddr>,
    /// Drop everything agent i sends.
    mute: [bool; 2],
    /// Drop the requests agent i sends (it still answers): a stand-in for an ICE-lite peer.
    answer_only: [bool; 2],
    loss: f64,
    /// Extra random delay (0..jitter) per packet, which reorders them; and the chance a
    /// packet is delivered twice.
    jitter_ms: u64,
    duplicate: f64,
    /// One-way delay.
    delay: Duration,
    rng: u64,
    queue: Vec<Packet>,
    events: [Vec<(Duration, IceEvent)>; 2],
    /// (time, sender, message) of every STUN message sent.
    sent: Vec<(Duration, usize, Message)>,
}

impl Net {
    fn new(a: IceAgent, a_addrs: &[&str], b: IceAgent, b_addrs: &[&str]) -> Net {
        let now = Instant::now();
        Net {
            start: now,
            now,
            agents: [a, b],
            addrs: [
                a_addrs.iter().map(|s| addr(s)).collect(),
                b_addrs.iter().map(|s| addr(s)).collect(),
            ],
            nat: None,
            unreachable: HashSet::new(),
            mute: [false; 2],
            answer_only: [false; 2],
            loss: 0.0,
            jitter_ms: 0,
            duplicate: 0.0,
            delay: Duration::from_millis(10),
            rng: 1,
            queue: Vec::new(),
            events: [Vec::new(), Vec::new()],
            sent: Vec::new(),
        }
    }

    fn remote_of(&self, i: usize) -> sb_sdp::RemoteIce {
        let a = &self.agents[i];
        sb_sdp::RemoteIce {
            ufrag: a.local_credentials().ufrag.clone(),
            pwd: a.local_credentials().pwd.clone(),
            lite: false,
            candidates: a.local_candidates().iter().map(|c| c.to_sdp()).collect(),
        }
    }

    /// Offer/answer: each side learns the other's credentials and candidates.
    fn exchange(&mut self) {
        let (ra, rb) = (self.remote_of(0), self.remote_of(1));
        let now = self.now;
        self.agents[1].set_remote(now, &ra, || creds(201));
        self.agents[0].set_remote(now, &rb, || creds(200));
        self.drain();
    }

    fn chance(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }

    fn drain(&mut self) {
        for i in 0..2 {
            while let Some(t) = self.agents[i].poll_transmit() {
                let elapsed = self.now - self.start;
                self.sent.push((
                    elapsed,
                    i,
                    Message::decode(&t.payload).expect("we send valid STUN"),
                ));
                let request = t.payload.get(..2) == Some(&[0, 1]);
                if self.answer_only[i] && request {
                    continue;
                }
                if self.mute[i] || (self.loss > 0.0 && self.chance() < self.loss) {
                    continue;
                }
                let mut from = t.local;
                let mut to = t.remote;
                if let Some(nat) = &self.nat {
                    if i == 1 && from == nat.private {
                        from = nat.public;
                    } else if i == 0 && to == nat.public {
                        to = nat.private;
                    } else if i == 0 && to == nat.private {
                        continue; // a private address is unreachable from outside
                    }
                }
                if self.unreachable.contains(&to) {
                    continue;
                }
                let j = 1 - i;
                if !self.addrs[j].contains(&to) {
                    continue;
                }
                let copies = if self.chance() < self.duplicate { 2 } else { 1 };
                for _ in 0..copies {
                    let extra = (self.chance() * self.jitter_ms as f64) as u64;
                    self.queue.push(Packet {
                        at: self.now + self.delay + Duration::from_millis(extra),
                        to: j,
                        local: to,
                        from,
                        bytes: t.payload.clone(),
                    });
                }
            }
            while let Some(e) = self.agents[i].poll_event() {
                self.events[i].push((self.now - self.start, e));
            }
        }
    }

    fn step(&mut self, limit: Instant) -> bool {
        let next = self
            .queue
            .iter()
            .map(|p| p.at)
            .chain(self.agents.iter().filter_map(|a| a.poll_timeout()))
            .min();
        let Some(next) = next.filter(|t| *t <= limit) else {
            return false;
        };
        self.now = self.now.max(next);
        let now = self.now;
        let due: Vec<Packet> = {
            let (due, rest) = self.queue.drain(..).partition(|p| p.at <= now);
            self.queue = rest;
            due
        };
        for p in due {
            let stun = self.agents[p.to].handle_packet(now, p.local, p.from, &p.bytes);
            assert!(stun, "only STUN flows here");
        }
        for a in &mut self.agents {
            if a.poll_timeout().is_some_and(|t| t <= now) {
                a.handle_timeout(now);
            }
            // Whatever was due is done: a timer never asks to be run again at once.
            assert!(
                !matches!(a.poll_timeout(), Some(t) if t <= now),
                "busy timer"
            );
        }
        self.drain();
        true
    }

    fn run_for(&mut self, d: Duration) {
        let limit = self.now + d;
        let mut steps = 0;
        while self.step(limit) {
            steps += 1;
            assert!(steps < 200_000, "the agents spin without progress");
        }
        self.now = limit;
    }

    fn selected_event(&self, i: usize) -> Option<(Duration, SelectedPair)> {
        self.events[i].iter().rev().find_map(|(t, e)| match e {
            IceEvent::SelectedPair(p) => Some((*t, *p)),
            _ => None,
        })
    }
}

/// Both sides without rtcp-mux: RTCP one port up.
fn pair_with_rtcp(a_role: IceRole, b_role: IceRole) -> Net {
    let (a_rtp, a_rtcp) = ("192.0.2.10:40000", "192.0.2.10:40001");
    let (b_rtp, b_rtcp) = ("198.51.100.7:5000", "198.51.100.7:5001");
    let a = IceAgent::new_with_rtcp(
        config(a_role),
        &[addr(a_rtp)],
        &[addr(a_rtcp)],
        creds(1),
        11,
    );
    let b = IceAgent::new_with_rtcp(
        config(b_role),
        &[addr(b_rtp)],
        &[addr(b_rtcp)],
        creds(2),
        22,
    );
    Net::new(a, &[a_rtp, a_rtcp], b, &[b_rtp, b_rtcp])
}

fn pair(a_role: IceRole, b_role: IceRole) -> Net {
    let a = IceAgent::new(config(a_role), &[addr("192.0.2.10:40000")], creds(1), 11);
    let b = IceAgent::new(config(b_role), &[addr("198.51.100.7:5000")], creds(2), 22);
    Net::new(a, &["192.0.2.10:40000"], b, &["198.51.100.7:5000"])
}

fn assert_connected(net: &Net, within: Duration) {
    let (ta, pa) = net.selected_event(0).expect("A selected a pair");
    let (tb, pb) = net.selected_event(1).expect("B selected a pair");
    assert!(
        ta <= within && tb <= within,
        "selected at {ta:?} and {tb:?}"
    );
    assert_eq!(net.agents[0].selected(), Some(pa));
    assert_eq!(net.agents[0].state(), IceState::Selected(pa));
    assert_eq!(net.agents[1].selected(), Some(pb));
    // The two ends agree: what A sends to is where B sends from, and back (behind a NAT
    // B's side is its private address).
    assert_eq!(pa.local, net.addrs[0][0]);
    assert_eq!(pb.remote, pa.local);
}

#[test]
fn controlled_answerer_selects_the_pair_the_client_nominates() {
    let mut net = pair(IceRole::Controlled, IceRole::Controlling);
    net.exchange();
    net.run_for(Duration::from_secs(3));
    assert_connected(&net, Duration::from_secs(1));
    assert_eq!(
        net.agents[0].selected().unwrap().remote,
        addr("198.51.100.7:5000")
    );
    // Only the controlling side sent USE-CANDIDATE.
    assert!(net
        .sent
        .iter()
        .any(|(_, i, m)| *i == 1 && m.use_candidate()));
    assert!(!net
        .sent
        .iter()
        .any(|(_, i, m)| *i == 0 && m.use_candidate()));
    assert!(!net.events[0]
        .iter()
        .any(|(_, e)| matches!(e, IceEvent::Failed)));
}

#[test]
fn controlling_agent_nominates_the_best_working_pair() {
    // A has two addresses (the first preferred); B has two, and its preferred one is
    // unreachable. A must nominate A1 <-> B2, the best pair that works.
    let a = IceAgent::new(
        config(IceRole::Controlling),
        &[addr("192.0.2.10:40000"), addr("192.0.2.11:40000")],
        creds(1),
        5,
    );
    let b = IceAgent::new(
        config(IceRole::Controlled),
        &[addr("198.51.100.7:5000"), addr("198.51.100.8:5000")],
        creds(2),
        6,
    );
    let mut net = Net::new(
        a,
        &["192.0.2.10:40000", "192.0.2.11:40000"],
        b,
        &["198.51.100.7:5000", "198.51.100.8:5000"],
    );
    net.unreachable.insert(addr("198.51.100.7:5000"));
    net.exchange();
    net.run_for(Duration::from_secs(10));
    let want = SelectedPair {
        component: 1,
        local: addr("192.0.2.10:40000"),
        remote: addr("198.51.100.8:5000"),
    };
    assert_eq!(net.agents[0].selected(), Some(want));
    assert_eq!(
        net.agents[1].selected(),
        Some(SelectedPair {
            component: 1,
            local: want.remote,
            remote: want.local
        })
    );
    let nominations: Vec<_> = net
        .sent
        .iter()
        .filter(|(_, _, m)| m.use_candidate())
        .collect();
    assert!(!nominations.is_empty() && nominations.iter().all(|(_, i, _)| *i == 0));
}

#[test]
fn new_checks_are_paced_by_ta() {
    let a = IceAgent::new(
        config(IceRole::Controlled),
        &[addr("192.0.2.10:40000")],
        creds(1),
        3,
    );
    let b_addrs = [
        "198.51.100.1:1",
        "198.51.100.2:2",
        "198.51.100.3:3",
        "198.51.100.4:4",
    ];
    let b = IceAgent::new(
        config(IceRole::Controlling),
        &b_addrs.map(addr),
        creds(2),
        4,
    );
    let mut net = Net::new(a, &["192.0.2.10:40000"], b, &b_addrs);
    net.mute[1] = true; // B never answers; A's checks all go unanswered
    net.exchange();
    net.run_for(Duration::from_secs(2));
    let mut seen = HashSet::new();
    let firsts: Vec<Duration> = net
        .sent
        .iter()
        .filter(|(_, i, m)| *i == 0 && m.class == Class::Request && seen.insert(m.transaction_id))
        .map(|(t, _, _)| *t)
        .collect();
    assert_eq!(firsts.len(), 4, "one check per remote candidate");
    for w in firsts.windows(2) {
        assert!(w[1] - w[0] >= Duration::from_millis(50), "{firsts:?}");
    }
}

#[test]
fn checks_get_through_heavy_loss_reordering_and_duplication() {
    for seed in 1..100u64 {
        let mut net = pair(IceRole::Controlled, IceRole::Controlling);
        net.loss = 0.3;
        net.jitter_ms = 80;
        net.duplicate = 0.2;
        net.rng = seed;
        net.exchange();
        net.run_for(Duration::from_secs(20));
        let pa = net.agents[0]
            .selected()
            .unwrap_or_else(|| panic!("seed {seed}: A has no pair"));
        assert_eq!(pa.remote, addr("198.51.100.7:5000"), "seed {seed}");
        assert!(
            net.agents[1].selected().is_some(),
            "seed {seed}: B has no pair"
        );
    }
}

#[test]
fn role_conflict_between_two_controlled_agents_is_resolved() {
    let mut net = pair(IceRole::Controlled, IceRole::Controlled);
    net.exchange();
    net.run_for(Duration::from_secs(5));
    let roles = [net.agents[0].role(), net.agents[1].role()];
    assert_ne!(roles[0], roles[1], "exactly one agent became controlling");
    // RFC 8445 §7.3.1.1: the larger tie-breaker wins the controlling role.
    let winner = if net.agents[0].tie_breaker() > net.agents[1].tie_breaker() {
        0
    } else {
        1
    };
    assert_eq!(roles[winner], IceRole::Controlling);
    assert!(net.events[winner]
        .iter()
        .any(|(_, e)| *e == IceEvent::RoleChanged(IceRole::Controlling)));
    assert_connected(&net, Duration::from_secs(3));
}

#[test]
fn role_conflict_between_two_controlling_agents_is_resolved() {
    let mut net = pair(IceRole::Controlling, IceRole::Controlling);
    net.exchange();
    net.run_for(Duration::from_secs(5));
    assert_ne!(net.agents[0].role(), net.agents[1].role());
    // Someone answered a 487.
    assert!(net.sent.iter().any(|(_, _, m)| m.error_code() == Some(487)));
    let conflicts = net.agents[0].stats().role_conflicts + net.agents[1].stats().role_conflicts;
    assert!(
        conflicts >= 2,
        "a 487 is counted where it is sent and where it arrives"
    );
    assert_connected(&net, Duration::from_secs(3));
}

#[test]
fn a_client_behind_a_nat_is_learnt_as_peer_reflexive() {
    let mut net = pair(IceRole::Controlled, IceRole::Controlling);
    net.nat = Some(Nat {
        private: addr("198.51.100.7:5000"),
        public: addr("203.0.113.9:61000"),
    });
    net.exchange();
    net.run_for(Duration::from_secs(5));
    assert_connected(&net, Duration::from_secs(2));
    let pa = net.agents[0].selected().unwrap();
    assert_eq!(pa.remote, addr("203.0.113.9:61000"));
    let prflx = net.agents[0]
        .remote_candidates()
        .iter()
        .find(|c| c.address == pa.remote)
        .expect("learnt from B's check");
    assert_eq!(prflx.kind, sb_ice::CandidateKind::PeerReflexive);
    // Its priority is the one B put in PRIORITY (§7.3.1.3).
    let b_priority = net
        .sent
        .iter()
        .find_map(|(_, i, m)| if *i == 1 { m.priority() } else { None })
        .unwrap();
    assert_eq!(prflx.priority, b_priority);
    assert!(net.agents[0].accepts_media(pa.local, addr("203.0.113.9:61000")));
    assert!(!net.agents[0].accepts_media(pa.local, addr("198.51.100.7:5000")));
}

#[test]
fn consent_is_refreshed_and_then_lost_when_the_peer_goes_silent() {
    let mut net = pair(IceRole::Controlled, IceRole::Controlling);
    net.exchange();
    net.run_for(Duration::from_secs(60));
    assert!(
        net.agents[0].selected().is_some(),
        "consent held for a minute"
    );
    // Consent checks every ~5 s (±20%) after selection, from both sides.
    let from_a = net
        .sent
        .iter()
        .filter(|(t, i, m)| *i == 0 && m.class == Class::Request && *t > Duration::from_secs(2));
    let n = from_a.count();
    assert!((9..=15).contains(&n), "{n} consent checks in ~58 s");

    net.mute[1] = true;
    let silent_at = net.now - net.start;
    net.run_for(Duration::from_secs(40));
    let lost = net.events[0]
        .iter()
        .find_map(|(t, e)| matches!(e, IceEvent::ConsentLost(_)).then_some(*t))
        .expect("consent lost");
    let after = lost - silent_at;
    assert!(
        after > Duration::from_secs(24) && after <= Duration::from_secs(30),
        "lost {after:?} after the peer went silent (30 s after its last response)"
    );
    assert_eq!(
        net.agents[0].selected(),
        None,
        "no media once consent is lost"
    );
    // No more consent checks after that.
    let late = net
        .sent
        .iter()
        .filter(|(t, i, _)| *i == 0 && *t > lost + Duration::from_millis(1));
    assert_eq!(
        late.filter(|(_, _, m)| m.class == Class::Request).count(),
        0
    );
}

#[test]
fn failed_when_no_pair_works() {
    let mut net = pair(IceRole::Controlled, IceRole::Controlling);
    net.unreachable.insert(addr("198.51.100.7:5000"));
    net.mute[1] = true;
    net.exchange();
    net.run_for(Duration::from_secs(60));
    let failed = net.events[0].iter().find(|(_, e)| *e == IceEvent::Failed);
    let (t, _) = failed.expect("A reports failure");
    assert!(*t < Duration::from_secs(30), "failed after {t:?}");
    assert_eq!(net.agents[0].selected(), None);
    assert_eq!(net.agents[0].poll_timeout(), None, "nothing left to do");
    assert_eq!(net.agents[0].state(), IceState::Failed);
}

#[test]
fn ice_restart_moves_media_without_a_gap() {
    let mut net = pair(IceRole::Controlled, IceRole::Controlling);
    net.exchange();
    net.run_for(Duration::from_secs(2));
    let before = net.agents[0].selected().expect("connected");
    let old_a = net.agents[0].local_credentials().clone();

    // The client restarts: new credentials in a re-offer, which takes a while to arrive.
    net.agents[1].restart_local(creds(50));
    net.run_for(Duration::from_secs(8));
    assert_eq!(
        net.agents[0].selected(),
        Some(before),
        "media goes on meanwhile"
    );
    let offer = net.remote_of(1);
    let now = net.now;
    let change = net.agents[0].set_remote(now, &offer, || creds(60));
    assert_eq!(change, RemoteChange::Restarted);
    assert_eq!(net.agents[0].local_credentials(), &creds(60));
    assert_ne!(net.agents[0].local_credentials(), &old_a);
    assert_eq!(
        net.agents[0].selected(),
        Some(before),
        "media stays on the old pair"
    );
    let answer = net.remote_of(0);
    assert_eq!(
        net.agents[1].set_remote(now, &answer, || creds(99)),
        RemoteChange::Started
    );
    let events_before = net.events[0].len();
    net.drain();
    net.run_for(Duration::from_secs(40));
    // The new generation selects (here the same addresses) and says so.
    let after: Vec<_> = net.events[0][events_before..]
        .iter()
        .map(|(_, e)| e.clone())
        .collect();
    assert_eq!(after, vec![IceEvent::SelectedPair(before)]);
    assert_eq!(net.agents[0].selected(), Some(before));
    assert!(!net.events[0]
        .iter()
        .any(|(_, e)| matches!(e, IceEvent::ConsentLost(_))));
    // Checks after the restart use the new username.
    let last = net
        .sent
        .iter()
        .rev()
        .find(|(_, i, m)| *i == 0 && m.class == Class::Request)
        .unwrap();
    assert_eq!(
        last.2.username().unwrap(),
        format!("{}:{}", creds(50).ufrag, creds(60).ufrag)
    );
    // Same credentials again: nothing restarts.
    let again = net.remote_of(1);
    let now = net.now;
    assert_eq!(
        net.agents[0].set_remote(now, &again, || creds(70)),
        RemoteChange::Unchanged
    );
}

#[test]
fn a_lite_peer_makes_us_controlling() {
    let mut a = IceAgent::new(
        config(IceRole::Controlled),
        &[addr("192.0.2.10:40000")],
        creds(1),
        1,
    );
    let remote = sb_sdp::RemoteIce {
        ufrag: "abcd".into(),
        pwd: "x".repeat(22),
        lite: true,
        candidates: vec![],
    };
    a.set_remote(Instant::now(), &remote, || creds(3));
    assert_eq!(a.role(), IceRole::Controlling);
    assert_eq!(
        a.poll_event(),
        Some(IceEvent::RoleChanged(IceRole::Controlling))
    );
}

/// A Binding request as a client would send it to A.
fn request(tid: u8, username: Option<&str>, key: Option<&str>, extra: &[Attribute]) -> Vec<u8> {
    let mut m = Message::new(Class::Request, Method::BINDING, TransactionId([tid; 12]));
    if let Some(u) = username {
        m = m.with(Attribute::Username(u.into()));
    }
    m = m
        .with(Attribute::Priority(1_845_501_695))
        .with(Attribute::IceControlling(7));
    for a in extra {
        m = m.with(a.clone());
    }
    m.encode(key.map(short_term_key), true).unwrap()
}

#[test]
fn requests_are_answered_or_refused_per_rfc_8489() {
    let local = addr("192.0.2.10:40000");
    let from = addr("198.51.100.7:5000");
    let a_creds = creds(1);
    let user = format!("{}:peer", a_creds.ufrag);
    let mut a = IceAgent::new(config(IceRole::Controlled), &[local], a_creds.clone(), 9);
    let now = Instant::now();
    let mut answer = |bytes: Vec<u8>| {
        assert!(a.handle_packet(now, local, from, &bytes));
        let t = a.poll_transmit().expect("an answer");
        assert_eq!((t.local, t.remote), (local, from));
        let m = Message::decode(&t.payload).expect("valid STUN");
        (m, t.payload)
    };
    let pwd = a_creds.pwd.as_str();

    let (ok, bytes) = answer(request(1, Some(&user), Some(pwd), &[]));
    assert_eq!(ok.class, Class::Success);
    assert_eq!(ok.xor_mapped_address(), Some(from));
    assert!(ok.verify_integrity(&bytes, pwd.as_bytes()));

    let (m, _) = answer(request(2, None, Some(pwd), &[]));
    assert_eq!(m.error_code(), Some(400), "no USERNAME");
    let (m, _) = answer(request(3, Some(&user), None, &[]));
    assert_eq!(m.error_code(), Some(400), "no MESSAGE-INTEGRITY");
    let (m, _) = answer(request(4, Some("someone:peer"), Some(pwd), &[]));
    assert_eq!(m.error_code(), Some(401), "not our ufrag");
    let (m, _) = answer(request(5, Some(&user), Some("wrong password here!!!"), &[]));
    assert_eq!(m.error_code(), Some(401), "bad MAC");
    let odd = Attribute::Other {
        kind: 0x0042,
        value: vec![1, 2, 3, 4],
    };
    let (m, bytes) = answer(request(6, Some(&user), Some(pwd), &[odd]));
    assert_eq!(m.error_code(), Some(420));
    assert!(m
        .attributes
        .contains(&Attribute::UnknownAttributes(vec![0x0042])));
    assert!(m.verify_integrity(&bytes, pwd.as_bytes()));

    // Not STUN: left to the media path, nothing sent.
    assert!(!a.handle_packet(now, local, from, &[0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]));
    assert!(a.poll_transmit().is_none());

    // Malformed STUN and a stray response: dropped silently, and counted.
    assert!(a.handle_packet(now, local, from, &[0, 1, 0, 0, 0x21, 0x12]));
    let stray = Message::new(Class::Success, Method::BINDING, TransactionId([9; 12]));
    assert!(a.handle_packet(now, local, from, &stray.encode(None, true).unwrap()));
    assert!(a.poll_transmit().is_none());
    let s = a.stats();
    assert_eq!(
        (
            s.requests_accepted,
            s.requests_refused,
            s.malformed,
            s.responses_dropped
        ),
        (1, 5, 1, 1)
    );
}

#[test]
fn use_candidate_before_our_check_succeeds_still_selects() {
    // The client nominates in its very first check (aggressive-style); A, controlled,
    // selects the pair once its own triggered check on it succeeds.
    let mut net = pair(IceRole::Controlled, IceRole::Controlling);
    let (ra, rb) = (net.remote_of(0), net.remote_of(1));
    let now = net.now;
    net.agents[0].set_remote(now, &rb, || creds(3));
    net.drain();
    let b_creds = net.agents[1].local_credentials().clone();
    let bytes = request(
        42,
        Some(&format!("{}:{}", ra.ufrag, b_creds.ufrag)),
        Some(&ra.pwd),
        &[Attribute::UseCandidate],
    );
    net.queue.push(Packet {
        at: now,
        to: 0,
        local: addr("192.0.2.10:40000"),
        from: addr("198.51.100.7:5000"),
        bytes,
    });
    net.agents[1].set_remote(now, &ra, || creds(4));
    net.drain();
    net.run_for(Duration::from_secs(1));
    let (_, p) = net.selected_event(0).expect("A selected");
    assert_eq!(p.remote, addr("198.51.100.7:5000"));
}

#[test]
fn sdp_candidates_the_agent_cannot_use_are_skipped_and_ours_print() {
    // A browser-like offer: host, an mDNS name, TCP, an RTCP component and a srflx.
    let sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n\
        a=ice-ufrag:F7gI\r\na=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\n\
        a=candidate:1 1 udp 2122260223 10.0.0.5 50000 typ host generation 0\r\n\
        a=candidate:2 1 udp 2122194687 3f1b2c4d-1111-2222-3333-444455556666.local 50001 typ host\r\n\
        a=candidate:3 1 tcp 1518280447 10.0.0.5 9 typ host tcptype active\r\n\
        a=candidate:1 2 udp 2122260222 10.0.0.5 50002 typ host\r\n\
        a=candidate:4 1 udp 1686052607 203.0.113.9 61000 typ srflx raddr 10.0.0.5 rport 50000\r\n\
        a=candidate:5 1 udp 2122262783 2001:db8::5 50003 typ host\r\n\
        a=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n";
    let parsed = sb_sdp::parse_str(sdp).expect("valid SDP");
    let m = &parsed.media[0];
    let get = |f: &dyn Fn(&sb_sdp::Attribute) -> Option<String>| m.attributes.iter().find_map(f);
    let remote = sb_sdp::RemoteIce {
        ufrag: get(&|a| match a {
            sb_sdp::Attribute::IceUfrag(u) => Some(u.clone()),
            _ => None,
        })
        .unwrap(),
        pwd: get(&|a| match a {
            sb_sdp::Attribute::IcePwd(p) => Some(p.clone()),
            _ => None,
        })
        .unwrap(),
        lite: false,
        candidates: m
            .attributes
            .iter()
            .filter_map(|a| match a {
                sb_sdp::Attribute::Candidate(c) => Some(c.clone()),
                _ => None,
            })
            .collect(),
    };
    let mut a = IceAgent::new(
        config(IceRole::Controlled),
        &[addr("192.0.2.10:40000")],
        creds(1),
        1,
    );
    assert_eq!(
        a.set_remote(Instant::now(), &remote, || creds(2)),
        RemoteChange::Started
    );
    let kept: Vec<_> = a.remote_candidates().iter().map(|c| c.address).collect();
    assert_eq!(
        kept,
        vec![
            addr("10.0.0.5:50000"),
            addr("203.0.113.9:61000"),
            addr("[2001:db8::5]:50003")
        ]
    );
    // Only the IPv4 pairs are checked from an IPv4-only server.
    let mut checked = HashSet::new();
    let start = Instant::now();
    for ms in 0..2000 {
        a.handle_timeout(start + Duration::from_millis(ms));
        while let Some(t) = a.poll_transmit() {
            checked.insert(t.remote);
        }
    }
    assert_eq!(
        checked,
        HashSet::from([addr("10.0.0.5:50000"), addr("203.0.113.9:61000")])
    );

    let lines: Vec<String> = a.sdp_attributes().iter().map(|x| x.to_string()).collect();
    assert_eq!(lines[0], format!("ice-ufrag:{}", creds(1).ufrag));
    assert_eq!(lines[1], format!("ice-pwd:{}", creds(1).pwd));
    assert_eq!(
        lines[2],
        "candidate:1 1 UDP 2130706431 192.0.2.10 40000 typ host"
    );
}

#[test]
fn a_request_on_an_address_that_is_not_ours_teaches_nothing() {
    let local = addr("192.0.2.10:40000");
    let a_creds = creds(1);
    let mut a = IceAgent::new(config(IceRole::Controlled), &[local], a_creds.clone(), 9);
    let bytes = request(
        1,
        Some(&format!("{}:peer", a_creds.ufrag)),
        Some(&a_creds.pwd),
        &[],
    );
    let elsewhere = addr("192.0.2.99:40000");
    assert!(a.handle_packet(Instant::now(), elsewhere, addr("198.51.100.7:5000"), &bytes));
    let t = a.poll_transmit().expect("still answered");
    assert_eq!(t.local, elsewhere);
    assert!(a.remote_candidates().is_empty());
}

#[test]
fn an_unanswered_check_is_retransmitted_with_doubling_timeouts_then_fails() {
    let mut net = pair(IceRole::Controlled, IceRole::Controlling);
    net.mute[1] = true;
    net.unreachable.insert(addr("198.51.100.7:5000"));
    net.exchange();
    net.run_for(Duration::from_secs(30));
    let times: Vec<u128> = net
        .sent
        .iter()
        .filter(|(_, i, m)| *i == 0 && m.class == Class::Request)
        .map(|(t, _, _)| t.as_millis())
        .collect();
    // RFC 8489 §6.2.1: Rc = 7 transmissions, the timeout doubling from 500 ms (capped here
    // at 3 s); the same transaction each time.
    assert_eq!(times, vec![0, 500, 1500, 3500, 6500, 9500, 12500]);
    let tids: HashSet<_> = net
        .sent
        .iter()
        .filter(|(_, i, _)| *i == 0)
        .map(|(_, _, m)| m.transaction_id)
        .collect();
    assert_eq!(tids.len(), 1);
    let failed_at = net.events[0]
        .iter()
        .find(|(_, e)| *e == IceEvent::Failed)
        .map(|(t, _)| t.as_millis());
    assert_eq!(failed_at, Some(15_500), "the last wait is one more timeout");
}

#[test]
fn a_request_on_a_pair_under_check_cancels_it_for_a_fresh_check() {
    // RFC 8445 §7.3.1.4: the in-progress check stops retransmitting; a triggered check
    // takes over at once.
    let local = addr("192.0.2.10:40000");
    let peer = addr("198.51.100.7:5000");
    let a_creds = creds(1);
    let peer_creds = creds(2);
    let mut a = IceAgent::new(config(IceRole::Controlled), &[local], a_creds.clone(), 9);
    let start = Instant::now();
    let remote = sb_sdp::RemoteIce {
        ufrag: peer_creds.ufrag.clone(),
        pwd: peer_creds.pwd.clone(),
        lite: false,
        candidates: sb_ice::host_candidates(&[peer])
            .iter()
            .map(|c| c.to_sdp())
            .collect(),
    };
    a.set_remote(start, &remote, || creds(3));
    let first = Message::decode(&a.poll_transmit().expect("first check").payload).unwrap();

    let user = format!("{}:{}", a_creds.ufrag, peer_creds.ufrag);
    let req = request(7, Some(&user), Some(&a_creds.pwd), &[]);
    a.handle_packet(start + Duration::from_millis(100), local, peer, &req);
    let sent: Vec<Message> = std::iter::from_fn(|| a.poll_transmit())
        .map(|t| Message::decode(&t.payload).unwrap())
        .collect();
    assert_eq!(sent.len(), 2, "the answer and a triggered check");
    assert_eq!(sent[0].class, Class::Success);
    let fresh = &sent[1];
    assert_eq!(fresh.class, Class::Request);
    assert_ne!(fresh.transaction_id, first.transaction_id);

    let mut retransmitted = Vec::new();
    for ms in (100..5000).step_by(10) {
        a.handle_timeout(start + Duration::from_millis(ms));
        while let Some(t) = a.poll_transmit() {
            retransmitted.push(Message::decode(&t.payload).unwrap().transaction_id);
        }
    }
    assert!(!retransmitted.contains(&first.transaction_id));
    assert!(retransmitted.contains(&fresh.transaction_id));
}

#[test]
fn chaos_then_a_restart_always_recovers() {
    // Random roles, one or two components, loss, reordering, duplication, NAT, a restart
    // at a random moment and a silent peer for a random while; the pump asserts that no
    // timer spins. Then the network heals and the client restarts ICE: both ends must
    // agree on a pair (each) again.
    for seed in 0..150u64 {
        let mut r = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            r
        };
        let role = |x: u64| {
            if x % 2 == 0 {
                IceRole::Controlled
            } else {
                IceRole::Controlling
            }
        };
        let two = next() % 2 == 0;
        let (ra, rb) = (role(next()), role(next()));
        let mut net = if two {
            pair_with_rtcp(ra, rb)
        } else {
            pair(ra, rb)
        };
        net.rng = next() | 1;
        net.loss = (next() % 30) as f64 / 100.0;
        net.jitter_ms = next() % 100;
        net.duplicate = (next() % 20) as f64 / 100.0;
        if next() % 2 == 0 {
            net.nat = Some(Nat {
                private: addr("198.51.100.7:5000"),
                public: addr("203.0.113.9:61000"),
            });
        }
        net.exchange();
        net.run_for(Duration::from_millis(next() % 5000));
        if next() % 2 == 0 {
            let who = (next() % 2) as usize;
            net.agents[who].restart_local(creds(100 + who as u8));
            net.run_for(Duration::from_millis(next() % 3000));
            let (ra, rb) = (net.remote_of(0), net.remote_of(1));
            let now = net.now;
            net.agents[1 - who].set_remote(now, if who == 0 { &ra } else { &rb }, || creds(110));
            net.agents[who].set_remote(now, if who == 0 { &rb } else { &ra }, || creds(111));
            net.drain();
        }
        net.mute[1] = next() % 3 == 0;
        net.run_for(Duration::from_millis(next() % 40_000));
        net.mute[1] = false;

        net.loss = 0.0;
        net.agents[1].restart_local(creds(120));
        let offer = net.remote_of(1);
        let now = net.now;
        net.agents[0].set_remote(now, &offer, || creds(121));
        let answer = net.remote_of(0);
        net.agents[1].set_remote(now, &answer, || creds(122));
        net.drain();
        net.run_for(Duration::from_secs(10));
        let (a, b) = (net.agents[0].selected(), net.agents[1].selected());
        let (Some(a), Some(b)) = (a, b) else {
            panic!("seed {seed}: no pair after recovery: {a:?} {b:?}");
        };
        assert_eq!(b.remote, a.local, "seed {seed}");
        let rtcp = (net.agents[0].selected_rtcp(), net.agents[1].selected_rtcp());
        if two {
            let (Some(a), Some(b)) = rtcp else {
                panic!("seed {seed}: no RTCP pair after recovery: {rtcp:?}");
            };
            assert_eq!((a.component, b.remote), (2, a.local), "seed {seed}");
        } else {
            assert_eq!(rtcp, (None, None), "seed {seed}");
        }
        assert_ne!(net.agents[0].role(), net.agents[1].role(), "seed {seed}");
    }
}

#[test]
fn offer_and_answer_through_sb_sdp_connect_the_agents() {
    // The answerer's path end to end: a softphone's offer, our answer carrying the agent's
    // attributes as sb-sdp prints them, `negotiated` on each side, then the checks.
    let client = IceAgent::new(
        config(IceRole::Controlling),
        &[addr("198.51.100.7:5000")],
        creds(2),
        22,
    );
    let mut offer = String::from(
        "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
         m=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=rtcp-mux\r\n",
    );
    for a in client.sdp_attributes() {
        offer.push_str(&format!("a={a}\r\n"));
    }
    let server = IceAgent::new(
        config(IceRole::Controlled),
        &[addr("192.0.2.10:40000")],
        creds(1),
        11,
    );
    let mut answer = String::from(
        "v=0\r\no=- 2 2 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
         m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=rtcp-mux\r\n",
    );
    for a in server.sdp_attributes() {
        answer.push_str(&format!("a={a}\r\n"));
    }
    let (offer, answer) = (
        sb_sdp::parse_str(&offer).unwrap(),
        sb_sdp::parse_str(&answer).unwrap(),
    );
    let at_server = sb_sdp::negotiated(&offer, &answer, sb_sdp::Role::Answerer).unwrap();
    let at_client = sb_sdp::negotiated(&offer, &answer, sb_sdp::Role::Offerer).unwrap();
    let client_ice = at_server.streams[0]
        .remote_ice
        .clone()
        .expect("the offer has ICE");
    let server_ice = at_client.streams[0]
        .remote_ice
        .clone()
        .expect("the answer has ICE");

    let mut net = Net::new(
        server,
        &["192.0.2.10:40000"],
        client,
        &["198.51.100.7:5000"],
    );
    let now = net.now;
    net.agents[0].set_remote(now, &client_ice, || creds(3));
    net.agents[1].set_remote(now, &server_ice, || creds(4));
    net.drain();
    net.run_for(Duration::from_secs(2));
    assert_connected(&net, Duration::from_secs(1));
}

#[test]
fn facing_an_ice_lite_peer_we_control_and_nominate() {
    // RFC 8445 §6.1.1: a full agent facing a lite one is controlling, even as answerer; the
    // lite peer only answers checks (§2.5).
    let mut net = pair(IceRole::Controlled, IceRole::Controlled);
    net.answer_only[1] = true;
    let mut lite = net.remote_of(1);
    lite.lite = true;
    let a_side = net.remote_of(0);
    let now = net.now;
    net.agents[0].set_remote(now, &lite, || creds(5));
    net.agents[1].set_remote(now, &a_side, || creds(6));
    net.drain();
    net.run_for(Duration::from_secs(3));
    assert_eq!(net.agents[0].role(), IceRole::Controlling);
    let (t, p) = net.selected_event(0).expect("A selected");
    assert!(
        t < Duration::from_millis(200),
        "no waiting for better pairs: {t:?}"
    );
    assert_eq!(p.remote, addr("198.51.100.7:5000"));
    assert!(net
        .sent
        .iter()
        .any(|(_, i, m)| *i == 0 && m.use_candidate()));
}

#[test]
fn slow_consent_responses_still_count() {
    // RFC 7675 §5.1: a response to any request of the last 30 s refreshes consent, however
    // long it took (here 14 s round trip, longer than the 5 s between checks).
    let mut net = pair(IceRole::Controlled, IceRole::Controlling);
    net.exchange();
    net.run_for(Duration::from_secs(2));
    assert!(net.agents[0].selected().is_some());
    net.delay = Duration::from_secs(7);
    net.run_for(Duration::from_secs(90));
    assert!(
        !net.events[0]
            .iter()
            .any(|(_, e)| matches!(e, IceEvent::ConsentLost(_))),
        "{:?}",
        net.events[0]
    );
    assert!(net.agents[0].selected().is_some());
}

#[test]
fn without_rtcp_mux_each_component_gets_its_pair_and_consent() {
    let a = IceAgent::new_with_rtcp(
        config(IceRole::Controlled),
        &[addr("192.0.2.10:40000")],
        &[addr("192.0.2.10:40001")],
        creds(1),
        11,
    );
    let b = IceAgent::new_with_rtcp(
        config(IceRole::Controlling),
        &[addr("198.51.100.7:5000")],
        &[addr("198.51.100.7:5001")],
        creds(2),
        22,
    );
    // RFC 8445 §5.1.2.1: the RTCP candidate's priority is one below the RTP one's.
    let prios: Vec<u32> = a.local_candidates().iter().map(|c| c.priority).collect();
    assert_eq!(prios, vec![2_130_706_431, 2_130_706_430]);
    let mut net = Net::new(
        a,
        &["192.0.2.10:40000", "192.0.2.10:40001"],
        b,
        &["198.51.100.7:5000", "198.51.100.7:5001"],
    );
    net.loss = 0.1;
    net.exchange();
    net.run_for(Duration::from_secs(60));
    let want = |c: u16, l: &str, r: &str| SelectedPair {
        component: c,
        local: addr(l),
        remote: addr(r),
    };
    assert_eq!(
        net.agents[0].selected(),
        Some(want(1, "192.0.2.10:40000", "198.51.100.7:5000"))
    );
    assert_eq!(
        net.agents[0].selected_rtcp(),
        Some(want(2, "192.0.2.10:40001", "198.51.100.7:5001"))
    );
    assert_eq!(
        net.agents[1].selected_rtcp(),
        Some(want(2, "198.51.100.7:5001", "192.0.2.10:40001"))
    );
    let selections = net.events[0]
        .iter()
        .filter(|(_, e)| matches!(e, IceEvent::SelectedPair(_)))
        .count();
    assert_eq!(selections, 2, "one per component");
    // Consent is kept per pair: silence on RTCP alone loses consent for RTCP alone, while
    // RTP's goes on being refreshed.
    net.unreachable.insert(addr("192.0.2.10:40001"));
    net.run_for(Duration::from_secs(40));
    let lost: Vec<u16> = net.events[0]
        .iter()
        .filter_map(|(_, e)| match e {
            IceEvent::ConsentLost(p) => Some(p.component),
            _ => None,
        })
        .collect();
    assert_eq!(lost, vec![2]);
    assert!(net.agents[0].selected().is_some());
    assert_eq!(net.agents[0].selected_rtcp(), None);
}
