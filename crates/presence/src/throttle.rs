//! NOTIFY rate limiting per subscription (RFC 6665 §4.2.2: a notifier SHOULD NOT send
//! notifications more often than the package allows; RFC 3856 §6.4 suggests at most one
//! every five seconds for presence).
//!
//! The throttle does not queue documents. A subscription only remembers that it is *dirty*;
//! the document is rendered from the current state when the interval ends, so intermediate
//! states are coalesced and the watcher always gets the latest one.

/// When a subscription last sent a NOTIFY, and whether a change waits for the interval to end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Throttle {
    last_sent_ms: Option<u64>,
    /// A change happened that has not been sent yet.
    pub(crate) dirty: bool,
}

impl Throttle {
    /// The earliest time the next NOTIFY may leave.
    pub(crate) fn ready_at(&self, interval_ms: u64) -> u64 {
        self.last_sent_ms
            .map_or(0, |t| t.saturating_add(interval_ms))
    }

    /// Whether a NOTIFY may leave at `now_ms`.
    pub(crate) fn may_send(&self, now_ms: u64, interval_ms: u64) -> bool {
        now_ms >= self.ready_at(interval_ms)
    }

    /// Records that a NOTIFY left at `now_ms`: the change is no longer pending.
    pub(crate) fn sent(&mut self, now_ms: u64) {
        self.last_sent_ms = Some(now_ms);
        self.dirty = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_notify_is_free_then_one_per_interval() {
        let mut t = Throttle::default();
        assert!(t.may_send(0, 5_000));
        t.sent(1_000);
        assert!(!t.may_send(5_999, 5_000));
        assert_eq!(t.ready_at(5_000), 6_000);
        assert!(t.may_send(6_000, 5_000));
    }

    #[test]
    fn sending_clears_the_pending_change() {
        let mut t = Throttle {
            dirty: true,
            ..Throttle::default()
        };
        t.sent(10);
        assert!(!t.dirty);
    }
}
