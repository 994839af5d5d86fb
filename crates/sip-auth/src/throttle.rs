//! Throttling of repeated authentication failures per source address (sans-IO).
//!
//! Password guessing shows up as many failures from one place. After `max_failures`
//! failures within `window_secs` from one source, that source is refused for
//! `backoff_secs`; the caller answers 429 (or 403) with `Retry-After` and counts it in a
//! metric. Other sources, such as the real user on another network, are not affected.
//! The table is bounded: when full, the source touched least recently is forgotten.
//!
//! Which status: SIP's 429 is not HTTP's "Too Many Requests" but "Provide Referrer
//! Identity" (RFC 3892), so [`Verdict::status`] answers 403 with a reason phrase that says
//! why and a `Retry-After` (RFC 3261 §20.33) that says when.
//!
//! IPv6 sources are grouped by /64: one host usually has a whole /64 and could otherwise
//! change address at every attempt. Time is seconds from a caller-chosen epoch.

use sb_sip_msg::{Header, OtherHeader, StatusCode};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};

/// Throttle settings.
#[derive(Debug, Clone)]
pub struct ThrottleConfig {
    /// Failures allowed within the window before the source is throttled.
    pub max_failures: usize,
    pub window_secs: u64,
    /// How long a throttled source is refused.
    pub backoff_secs: u64,
    /// Sources remembered at most.
    pub capacity: usize,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            max_failures: 10,
            window_secs: 60,
            backoff_secs: 300,
            capacity: 65_536,
        }
    }
}

/// What to do with a request from a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Refuse; `retry_after` seconds remain (for the Retry-After header).
    Throttled {
        retry_after: u64,
    },
}

impl Verdict {
    /// The reason phrase for a throttled answer.
    pub const REASON: &'static str = "Forbidden (too many failed attempts)";

    /// 403 for a throttled source, `None` when allowed.
    pub fn status(self) -> Option<StatusCode> {
        match self {
            Verdict::Allow => None,
            Verdict::Throttled { .. } => Some(StatusCode(403)),
        }
    }

    /// `Retry-After: <seconds>` for a throttled source.
    pub fn retry_after_header(self) -> Option<Header> {
        match self {
            Verdict::Allow => None,
            Verdict::Throttled { retry_after } => Some(Header::Other(OtherHeader {
                name: "Retry-After".into(),
                value: format!(" {retry_after}"),
            })),
        }
    }
}

#[derive(Debug, Default)]
struct Source {
    failures: VecDeque<u64>,
    blocked_until: Option<u64>,
    touched: u64,
}

/// The failure tracker.
#[derive(Debug)]
pub struct FailureTracker {
    config: ThrottleConfig,
    sources: HashMap<IpAddr, Source>,
    /// (touch sequence, source) for least-recently-touched eviction.
    lru: BTreeSet<(u64, IpAddr)>,
    seq: u64,
}

impl FailureTracker {
    pub fn new(config: ThrottleConfig) -> Self {
        FailureTracker {
            config,
            sources: HashMap::new(),
            lru: BTreeSet::new(),
            seq: 0,
        }
    }

    /// Sources currently remembered.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Whether a request from `addr` may be processed now.
    pub fn check(&self, addr: IpAddr, now: u64) -> Verdict {
        match self.sources.get(&key(addr)).and_then(|s| s.blocked_until) {
            Some(until) if until > now => Verdict::Throttled {
                retry_after: until - now,
            },
            _ => Verdict::Allow,
        }
    }

    /// Records a failed authentication (a wrong response, not a first unauthenticated
    /// request, which is how every client starts). Returns the verdict for the next one.
    pub fn record_failure(&mut self, addr: IpAddr, now: u64) -> Verdict {
        let k = key(addr);
        let cfg = self.config.clone();
        self.touch(k);
        let s = self.sources.entry(k).or_default();
        if s.blocked_until.is_some_and(|u| u <= now) {
            s.blocked_until = None;
            s.failures.clear();
        }
        while s
            .failures
            .front()
            .is_some_and(|t| now.saturating_sub(*t) >= cfg.window_secs)
        {
            s.failures.pop_front();
        }
        s.failures.push_back(now);
        if s.failures.len() > cfg.max_failures {
            s.failures.pop_front();
        }
        if s.blocked_until.is_none() && s.failures.len() >= cfg.max_failures {
            s.blocked_until = Some(now.saturating_add(cfg.backoff_secs));
        }
        self.evict();
        self.check(addr, now)
    }

    /// Records a success: the source's failure history is forgotten.
    pub fn record_success(&mut self, addr: IpAddr) {
        let k = key(addr);
        if let Some(s) = self.sources.remove(&k) {
            self.lru.remove(&(s.touched, k));
        }
    }

    fn touch(&mut self, k: IpAddr) {
        self.seq += 1;
        let s = self.sources.entry(k).or_default();
        self.lru.remove(&(s.touched, k));
        s.touched = self.seq;
        self.lru.insert((self.seq, k));
    }

    fn evict(&mut self) {
        while self.sources.len() > self.config.capacity.max(1) {
            let Some((_, k)) = self.lru.pop_first() else {
                break;
            };
            self.sources.remove(&k);
        }
    }
}

fn key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = a.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn tracker() -> FailureTracker {
        FailureTracker::new(ThrottleConfig {
            max_failures: 3,
            window_secs: 10,
            backoff_secs: 60,
            capacity: 4,
        })
    }

    #[test]
    fn third_failure_within_the_window_throttles_only_that_source() {
        let mut t = tracker();
        let bad = ip("192.0.2.1");
        assert_eq!(t.record_failure(bad, 100), Verdict::Allow);
        assert_eq!(t.record_failure(bad, 105), Verdict::Allow);
        assert_eq!(
            t.record_failure(bad, 109),
            Verdict::Throttled { retry_after: 60 }
        );
        assert_eq!(t.check(bad, 130), Verdict::Throttled { retry_after: 39 });
        assert_eq!(t.check(ip("198.51.100.7"), 130), Verdict::Allow);
        // The back-off ends on time.
        assert_eq!(t.check(bad, 169), Verdict::Allow);
    }

    #[test]
    fn throttled_answer_is_403_with_retry_after() {
        let v = Verdict::Throttled { retry_after: 42 };
        assert_eq!(v.status(), Some(StatusCode(403)));
        assert_eq!(
            v.retry_after_header().map(|h| h.to_string()).as_deref(),
            Some("Retry-After: 42")
        );
        assert_eq!(Verdict::Allow.status(), None);
        assert_eq!(Verdict::Allow.retry_after_header(), None);
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let mut t = tracker();
        let a = ip("192.0.2.1");
        // Table: (time of failure, verdict after it).
        let steps = [
            (0, Verdict::Allow),
            (5, Verdict::Allow),
            (10, Verdict::Allow), // the one at 0 slid out
            (16, Verdict::Allow), // the one at 5 slid out
            (17, Verdict::Throttled { retry_after: 60 }),
        ];
        for (now, want) in steps {
            assert_eq!(t.record_failure(a, now), want, "at {now}");
        }
    }

    #[test]
    fn success_clears_history() {
        let mut t = tracker();
        let a = ip("192.0.2.1");
        t.record_failure(a, 0);
        t.record_failure(a, 1);
        t.record_success(a);
        assert_eq!(t.record_failure(a, 2), Verdict::Allow);
        assert_eq!(t.record_failure(a, 3), Verdict::Allow);
    }

    #[test]
    fn ipv6_sources_are_grouped_by_prefix() {
        let mut t = tracker();
        t.record_failure(ip("2001:db8:1:2::1"), 0);
        t.record_failure(ip("2001:db8:1:2::2"), 0);
        t.record_failure(ip("2001:db8:1:2:ffff::3"), 0);
        assert!(matches!(
            t.check(ip("2001:db8:1:2::99"), 1),
            Verdict::Throttled { .. }
        ));
        assert_eq!(t.check(ip("2001:db8:1:3::1"), 1), Verdict::Allow);
    }

    #[test]
    fn memory_is_bounded_and_the_least_recent_source_goes() {
        let mut t = tracker();
        for i in 0..4 {
            t.record_failure(ip(&format!("192.0.2.{i}")), 0);
        }
        // Touch .0 again so .1 is the least recent.
        t.record_failure(ip("192.0.2.0"), 1);
        t.record_failure(ip("192.0.2.200"), 2);
        assert_eq!(t.len(), 4);
        // .0 kept its two failures: one more throttles it.
        assert!(matches!(
            t.record_failure(ip("192.0.2.0"), 3),
            Verdict::Throttled { .. }
        ));
        // .1 was forgotten: it starts over.
        t.record_failure(ip("192.0.2.1"), 3);
        assert_eq!(t.record_failure(ip("192.0.2.1"), 3), Verdict::Allow);
    }
}
