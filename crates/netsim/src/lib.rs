//! Deterministic simulation for sans-IO cores (dev-only).
//!
//! * [`VirtualClock`]: a base `Instant` plus an offset that only moves when told to, so
//!   minutes of SIP timers run in microseconds and every run is reproducible.
//! * [`Rng`]: a tiny seeded PRNG (splitmix64); no `rand` dependency, stable across
//!   platforms and versions so a printed seed replays the same run forever.
//! * [`Network`]: links between nodes with seeded delay, loss, duplication and reordering,
//!   carrying any `Clone` payload (typed messages or bytes).
//! * [`Sim`] and [`Node`]: a driver that runs nodes until nothing is in flight and no timer
//!   is pending, or until a bound; [`run_seeds`] prints the seed of a failing run.
//! * [`sip`]: builders for SIP requests and responses, for tests that need no parser.
//!
//! This crate reads the wall clock exactly once (to pick a base `Instant`) and never
//! sleeps.

pub mod net;
pub mod sip;

pub use net::{Flight, LinkConfig, NetStats, Network, NodeId};

use std::ops::Range;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// Time for simulations: `base + offset`, moved only by `advance*`.
#[derive(Debug, Clone, Copy)]
pub struct VirtualClock {
    base: Instant,
    now: Instant,
}

impl Default for VirtualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl VirtualClock {
    pub fn new() -> Self {
        let base = Instant::now();
        VirtualClock { base, now: base }
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    pub fn base(&self) -> Instant {
        self.base
    }

    /// Time since the clock was created.
    pub fn elapsed(&self) -> Duration {
        self.now - self.base
    }

    /// `base + d`, for asserting absolute times ("at 1500 ms").
    pub fn at(&self, d: Duration) -> Instant {
        self.base + d
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    /// Moves to `t`; never backwards.
    pub fn advance_to(&mut self, t: Instant) {
        if t > self.now {
            self.now = t;
        }
    }
}

/// splitmix64 (Steele, Lea, Flood 2014): small state, full period, good enough mixing for
/// choosing delays and drops.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// Uniform in `[0, n)`; 0 when `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// Uniform in `[min, max]` at microsecond resolution.
    pub fn duration(&mut self, min: Duration, max: Duration) -> Duration {
        if max <= min {
            return min;
        }
        let span = (max - min).as_micros() as u64;
        min + Duration::from_micros(self.below(span + 1))
    }
}

/// A sans-IO core as the simulator sees it: the four kinds of method of our cores.
pub trait Node {
    type Msg: Clone;
    fn handle_input(&mut self, now: Instant, from: NodeId, msg: Self::Msg);
    fn handle_timeout(&mut self, now: Instant);
    fn poll_transmit(&mut self) -> Option<(NodeId, Self::Msg)>;
    fn poll_timeout(&self) -> Option<Instant>;
}

/// How a bounded run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Nothing in flight and no timer pending.
    Quiet,
    /// The time bound was reached with work still pending.
    TimeBound,
    /// The step bound was reached (a livelock, most likely).
    StepBound,
}

/// Nodes joined by a [`Network`], on a [`VirtualClock`].
#[derive(Debug)]
pub struct Sim<N: Node> {
    pub clock: VirtualClock,
    pub net: Network<N::Msg>,
    pub nodes: Vec<N>,
    seed: u64,
}

impl<N: Node> Sim<N> {
    /// Every pair of nodes is joined by `link` until [`Network::set_link`] says otherwise.
    pub fn new(seed: u64, nodes: Vec<N>, link: LinkConfig) -> Self {
        Sim {
            clock: VirtualClock::new(),
            net: Network::new(seed, link),
            nodes,
            seed,
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Moves every queued transmit of every node onto the network.
    pub fn flush(&mut self) {
        let now = self.clock.now();
        for (i, node) in self.nodes.iter_mut().enumerate() {
            while let Some((to, msg)) = node.poll_transmit() {
                self.net.send(now, NodeId(i), to, msg);
            }
        }
    }

    /// The next moment anything happens: a delivery or a node's timer.
    pub fn next_event(&self) -> Option<Instant> {
        let timers = self.nodes.iter().filter_map(|n| n.poll_timeout()).min();
        match (timers, self.net.next_delivery()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Advances to the next event and processes everything due then. Returns false when
    /// there is nothing left to do.
    pub fn step(&mut self) -> bool {
        self.flush();
        let Some(t) = self.next_event() else {
            return false;
        };
        self.clock.advance_to(t);
        let now = self.clock.now();
        while let Some(f) = self.net.pop_due(now) {
            self.nodes[f.to.0].handle_input(now, f.from, f.msg);
        }
        for node in &mut self.nodes {
            if node.poll_timeout().is_some_and(|at| at <= now) {
                node.handle_timeout(now);
            }
        }
        self.flush();
        true
    }

    /// Steps until quiet, until `limit` of virtual time has passed since the call, or
    /// until `max_steps`.
    pub fn run(&mut self, limit: Duration, max_steps: usize) -> RunEnd {
        let deadline = self.clock.now() + limit;
        for _ in 0..max_steps {
            self.flush();
            match self.next_event() {
                None => return RunEnd::Quiet,
                Some(t) if t > deadline => {
                    self.clock.advance_to(deadline);
                    return RunEnd::TimeBound;
                }
                Some(_) => {
                    self.step();
                }
            }
        }
        RunEnd::StepBound
    }

    /// Steps until virtual time `t` (processing everything due up to and at `t`).
    pub fn run_until(&mut self, t: Instant) {
        loop {
            self.flush();
            match self.next_event() {
                Some(at) if at <= t => {
                    self.step();
                }
                _ => break,
            }
        }
        self.clock.advance_to(t);
    }
}

/// Runs `f` once per seed; if a run panics, prints the seed (so `cargo test` shows how to
/// replay it) and re-raises.
pub fn run_seeds(seeds: Range<u64>, f: impl Fn(u64)) {
    for seed in seeds {
        if let Err(e) = catch_unwind(AssertUnwindSafe(|| f(seed))) {
            eprintln!(
                "simulation failed with seed {seed} (replay: run_seeds({seed}..{}, ..))",
                seed + 1
            );
            resume_unwind(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_reproducible_and_in_range() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..1000 {
            let x = a.duration(Duration::from_millis(5), Duration::from_millis(9));
            assert_eq!(
                x,
                b.duration(Duration::from_millis(5), Duration::from_millis(9))
            );
            assert!(x >= Duration::from_millis(5) && x <= Duration::from_millis(9));
        }
        let hits = (0..10_000).filter(|_| a.chance(0.25)).count();
        assert!((2_000..3_000).contains(&hits), "{hits}");
    }

    #[test]
    fn clock_moves_only_forward() {
        let mut c = VirtualClock::new();
        c.advance(Duration::from_millis(10));
        c.advance_to(c.base());
        assert_eq!(c.elapsed(), Duration::from_millis(10));
    }

    /// A node that echoes each number back, minus one, until zero.
    struct Echo {
        peer: NodeId,
        out: Vec<(NodeId, u32)>,
        got: Vec<(Duration, u32)>,
        base: Instant,
    }

    impl Node for Echo {
        type Msg = u32;
        fn handle_input(&mut self, now: Instant, from: NodeId, msg: u32) {
            self.got.push((now - self.base, msg));
            if msg > 0 {
                self.out.push((from, msg - 1));
            }
        }
        fn handle_timeout(&mut self, _now: Instant) {}
        fn poll_transmit(&mut self) -> Option<(NodeId, u32)> {
            self.out.pop()
        }
        fn poll_timeout(&self) -> Option<Instant> {
            None
        }
    }

    #[test]
    fn fixed_delay_link_delivers_on_time_until_quiet() {
        let link = LinkConfig::fixed(Duration::from_millis(10));
        let mut sim = Sim::new(1, Vec::new(), link);
        let base = sim.clock.base();
        for peer in [1, 0] {
            sim.nodes.push(Echo {
                peer: NodeId(peer),
                out: Vec::new(),
                got: Vec::new(),
                base,
            });
        }
        let first = sim.nodes[0].peer;
        sim.nodes[0].out.push((first, 3));
        assert_eq!(sim.run(Duration::from_secs(1), 100), RunEnd::Quiet);
        let ms = |m| Duration::from_millis(m);
        assert_eq!(sim.nodes[1].got, vec![(ms(10), 3), (ms(30), 1)]);
        assert_eq!(sim.nodes[0].got, vec![(ms(20), 2), (ms(40), 0)]);
    }

    #[test]
    fn lossy_link_drops_about_the_configured_share() {
        let link = LinkConfig {
            loss: 0.3,
            ..LinkConfig::fixed(Duration::from_millis(1))
        };
        let mut net: Network<u32> = Network::new(3, link);
        let t0 = Instant::now();
        for i in 0..10_000 {
            net.send(t0, NodeId(0), NodeId(1), i);
        }
        let s = net.stats();
        assert!((2_500..3_500).contains(&s.lost), "{s:?}");
        assert_eq!(s.sent, 10_000);
    }
}
