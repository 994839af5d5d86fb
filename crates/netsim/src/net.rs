//! Links with seeded delay, loss, duplication and reordering.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use crate::Rng;

/// A node's address in a simulation: an index into [`crate::Sim::nodes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub usize);

/// What one direction of a link does to the packets on it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    pub delay_min: Duration,
    pub delay_max: Duration,
    /// Probability a packet is dropped.
    pub loss: f64,
    /// Probability a delivered packet arrives twice (the copy with its own delay).
    pub duplicate: f64,
    /// Probability a packet is held back by `reorder_extra`, so later ones overtake it.
    pub reorder: f64,
    pub reorder_extra: Duration,
}

impl LinkConfig {
    /// No loss, no jitter.
    pub fn fixed(delay: Duration) -> Self {
        LinkConfig {
            delay_min: delay,
            delay_max: delay,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_extra: Duration::ZERO,
        }
    }

    /// A bad network: jitter between `min` and `max` and the given loss, duplication and
    /// reordering rates.
    pub fn lossy(min: Duration, max: Duration, loss: f64, duplicate: f64, reorder: f64) -> Self {
        LinkConfig {
            delay_min: min,
            delay_max: max,
            loss,
            duplicate,
            reorder,
            reorder_extra: max * 3,
        }
    }
}

/// A packet in flight. Ordered by delivery time, then by send order, so equal times keep
/// FIFO order and runs are deterministic.
#[derive(Debug, Clone)]
pub struct Flight<M> {
    pub at: Instant,
    pub seq: u64,
    pub from: NodeId,
    pub to: NodeId,
    pub msg: M,
}

impl<M> PartialEq for Flight<M> {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl<M> Eq for Flight<M> {}
impl<M> PartialOrd for Flight<M> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<M> Ord for Flight<M> {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// Counters of what the network did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    pub sent: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub delivered: u64,
}

/// The links and everything in flight on them.
#[derive(Debug)]
pub struct Network<M> {
    rng: Rng,
    default_link: LinkConfig,
    links: HashMap<(NodeId, NodeId), LinkConfig>,
    in_flight: BinaryHeap<Reverse<Flight<M>>>,
    seq: u64,
    stats: NetStats,
}

impl<M: Clone> Network<M> {
    pub fn new(seed: u64, default_link: LinkConfig) -> Self {
        Network {
            rng: Rng::new(seed),
            default_link,
            links: HashMap::new(),
            in_flight: BinaryHeap::new(),
            seq: 0,
            stats: NetStats::default(),
        }
    }

    /// Sets the link from `from` to `to` (one direction).
    pub fn set_link(&mut self, from: NodeId, to: NodeId, link: LinkConfig) {
        self.links.insert((from, to), link);
    }

    pub fn link(&self, from: NodeId, to: NodeId) -> LinkConfig {
        self.links
            .get(&(from, to))
            .copied()
            .unwrap_or(self.default_link)
    }

    pub fn stats(&self) -> NetStats {
        self.stats
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Puts a packet on the link; it may be lost, delayed, held back or duplicated.
    pub fn send(&mut self, now: Instant, from: NodeId, to: NodeId, msg: M) {
        let link = self.link(from, to);
        self.stats.sent += 1;
        if self.rng.chance(link.loss) {
            self.stats.lost += 1;
            return;
        }
        let copies = if self.rng.chance(link.duplicate) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut delay = self.rng.duration(link.delay_min, link.delay_max);
            if self.rng.chance(link.reorder) {
                self.stats.reordered += 1;
                delay += link.reorder_extra;
            }
            self.seq += 1;
            let f = Flight {
                at: now + delay,
                seq: self.seq,
                from,
                to,
                msg: msg.clone(),
            };
            self.in_flight.push(Reverse(f));
        }
    }

    pub fn next_delivery(&self) -> Option<Instant> {
        self.in_flight.peek().map(|Reverse(f)| f.at)
    }

    /// The next packet due at `now`, in delivery order.
    pub fn pop_due(&mut self, now: Instant) -> Option<Flight<M>> {
        if self.next_delivery()? > now {
            return None;
        }
        self.stats.delivered += 1;
        self.in_flight.pop().map(|Reverse(f)| f)
    }
}
