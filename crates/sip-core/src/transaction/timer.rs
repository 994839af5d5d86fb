//! RFC 3261 §17 timers as data: one slot per timer, and the values of Table 4 (§A).
//!
//! A transaction never reads a clock; it stores deadlines here and the layer asks for the
//! earliest one. T1, T2 and T4 are configuration so tests can run whole timeouts on a
//! virtual clock and deployments on slow links can raise them (§17.1.1.1).

use std::time::{Duration, Instant};

/// The transaction timers of RFC 3261 Table 4 (Timer C belongs to the proxy, §16.6), plus
/// Timers L and M from RFC 6026 and the 200 ms "send 100 Trying" wait of §17.2.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// INVITE request retransmission, unreliable transports only (§17.1.1.2).
    A,
    /// INVITE transaction timeout while Calling (§17.1.1.2).
    B,
    /// Wait for response retransmissions in INVITE Completed (§17.1.1.2).
    D,
    /// Non-INVITE request retransmission, unreliable transports only (§17.1.2.2).
    E,
    /// Non-INVITE transaction timeout (§17.1.2.2).
    F,
    /// INVITE final response retransmission, unreliable transports only (§17.2.1).
    G,
    /// Wait for ACK receipt (§17.2.1).
    H,
    /// Wait for ACK retransmissions in Confirmed (§17.2.1).
    I,
    /// Wait for non-INVITE request retransmissions (§17.2.2).
    J,
    /// Wait for non-INVITE response retransmissions (§17.1.2.2).
    K,
    /// Wait for INVITE retransmissions in Accepted (RFC 6026 §7.1).
    L,
    /// Wait for 2xx retransmissions in Accepted (RFC 6026 §7.2).
    M,
    /// Send 100 Trying if the TU has not answered an INVITE by now (§17.2.1).
    Trying,
}

const TIMERS: [Timer; 13] = [
    Timer::A,
    Timer::B,
    Timer::D,
    Timer::E,
    Timer::F,
    Timer::G,
    Timer::H,
    Timer::I,
    Timer::J,
    Timer::K,
    Timer::L,
    Timer::M,
    Timer::Trying,
];

impl Timer {
    fn slot(self) -> usize {
        self as usize
    }
}

/// Deadlines of one transaction, one optional slot per [`Timer`].
#[derive(Debug, Clone, Default)]
pub struct TimerTable {
    slots: [Option<Instant>; 13],
}

impl TimerTable {
    pub fn set(&mut self, timer: Timer, at: Instant) {
        self.slots[timer.slot()] = Some(at);
    }

    pub fn stop(&mut self, timer: Timer) {
        self.slots[timer.slot()] = None;
    }

    pub fn stop_all(&mut self) {
        self.slots = [None; 13];
    }

    pub fn get(&self, timer: Timer) -> Option<Instant> {
        self.slots[timer.slot()]
    }

    pub fn is_set(&self, timer: Timer) -> bool {
        self.get(timer).is_some()
    }

    /// The earliest deadline of any running timer.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.slots.iter().flatten().min().copied()
    }

    /// Clears and returns the earliest timer due at `now` with its deadline, so expiries are
    /// handled in deadline order even when the caller woke up late, and a retransmission
    /// timer can be re-armed from its deadline (keeping the RFC schedule) rather than from
    /// the late wake-up.
    pub fn pop_expired(&mut self, now: Instant) -> Option<(Timer, Instant)> {
        let (timer, at) = TIMERS
            .iter()
            .filter_map(|t| self.get(*t).filter(|at| *at <= now).map(|at| (*t, at)))
            .min_by_key(|(_, at)| *at)?;
        self.stop(timer);
        Some((timer, at))
    }
}

/// The next deadline of a retransmission timer that was due at `due`: on the RFC grid
/// (`due + interval`) when the wake-up was on time, `now + interval` when it was so late that
/// the grid point has passed, so a stalled shard sends one retransmission, not a burst.
pub fn rearm(due: Instant, interval: Duration, now: Instant) -> Instant {
    let next = due + interval;
    if next <= now {
        now + interval
    } else {
        next
    }
}

/// T1, T2, T4 and the fixed waits, with the RFC 3261 Table 4 defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// RTT estimate (default 500 ms).
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses (4 s).
    pub t2: Duration,
    /// Maximum duration a message remains in the network (5 s).
    pub t4: Duration,
    /// Timer D on unreliable transports: "at least 32 seconds" (§17.1.1.2).
    pub timer_d: Duration,
    /// How long an INVITE server transaction waits for the TU before sending 100 Trying
    /// (§17.2.1 says 200 ms).
    pub trying_delay: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_d: Duration::from_secs(32),
            trying_delay: Duration::from_millis(200),
        }
    }
}

impl TimerConfig {
    /// 64*T1: Timers B, F, H, J (unreliable), L and M.
    pub fn t1_x64(&self) -> Duration {
        self.t1 * 64
    }

    /// Timer D: `timer_d` on unreliable transports, zero on reliable ones.
    pub fn d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.timer_d
        }
    }

    /// Timers I and K: T4 on unreliable transports, zero on reliable ones.
    pub fn t4_or_zero(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t4
        }
    }

    /// Timer J: 64*T1 on unreliable transports, zero on reliable ones.
    pub fn j(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.t1_x64()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pop_expired_returns_earliest_first_and_clears_it() {
        let t0 = Instant::now();
        let mut t = TimerTable::default();
        t.set(Timer::B, t0 + Duration::from_millis(30));
        t.set(Timer::A, t0 + Duration::from_millis(10));
        t.set(Timer::E, t0 + Duration::from_millis(50));
        assert_eq!(t.next_timeout(), Some(t0 + Duration::from_millis(10)));
        let now = t0 + Duration::from_millis(40);
        assert_eq!(
            t.pop_expired(now),
            Some((Timer::A, t0 + Duration::from_millis(10)))
        );
        assert_eq!(
            t.pop_expired(now),
            Some((Timer::B, t0 + Duration::from_millis(30)))
        );
        assert_eq!(t.pop_expired(now), None);
        assert_eq!(t.next_timeout(), Some(t0 + Duration::from_millis(50)));
    }

    #[test]
    fn reliable_transports_zero_the_wait_timers() {
        let c = TimerConfig::default();
        assert_eq!(c.d(true), Duration::ZERO);
        assert_eq!(c.d(false), Duration::from_secs(32));
        assert_eq!(c.t4_or_zero(false), Duration::from_secs(5));
        assert_eq!(c.j(false), Duration::from_secs(32));
        assert_eq!(c.j(true), Duration::ZERO);
    }
}
