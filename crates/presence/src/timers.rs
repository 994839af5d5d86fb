//! The presence server's timers as data: one slot per timer key, so re-arming a timer
//! replaces it instead of leaving a stale entry behind (the same idea as one slot per
//! RFC 3261 timer in the transaction layer).

use std::collections::{BTreeSet, HashMap};

use crate::subscribe::SubscriptionId;

/// What a timer is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// A subscription's interval ran out (RFC 6665 §4.2.2: NOTIFY terminated;reason=timeout).
    SubscriptionExpiry(SubscriptionId),
    /// A throttled subscription may send its pending NOTIFY.
    Throttle(SubscriptionId),
    /// A publication's Expires ran out (RFC 3903 §6 step 9).
    Publication(String),
    /// A person's state changes on its own: a manual state's `until`, or a calendar event
    /// starting or ending.
    Person(String),
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    by_time: BTreeSet<(u64, Timer)>,
    by_key: HashMap<Timer, u64>,
}

impl Timers {
    /// Arms `key` at `at_ms`, replacing any earlier arming of the same key.
    pub(crate) fn set(&mut self, key: Timer, at_ms: u64) {
        if let Some(old) = self.by_key.insert(key.clone(), at_ms) {
            self.by_time.remove(&(old, key.clone()));
        }
        self.by_time.insert((at_ms, key));
    }

    pub(crate) fn clear(&mut self, key: &Timer) {
        if let Some(old) = self.by_key.remove(key) {
            self.by_time.remove(&(old, key.clone()));
        }
    }

    /// The earliest armed time.
    pub(crate) fn next(&self) -> Option<u64> {
        self.by_time.first().map(|(t, _)| *t)
    }

    /// Removes and returns one timer due at `now_ms`, earliest first.
    pub(crate) fn pop_due(&mut self, now_ms: u64) -> Option<Timer> {
        let (t, _) = self.by_time.first()?;
        if *t > now_ms {
            return None;
        }
        let (_, key) = self.by_time.pop_first()?;
        self.by_key.remove(&key);
        Some(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rearming_replaces_and_due_timers_come_out_in_order() {
        let mut t = Timers::default();
        t.set(Timer::Person("a".into()), 50);
        t.set(Timer::Person("a".into()), 10);
        t.set(Timer::Publication("e".into()), 20);
        assert_eq!(t.next(), Some(10));
        assert_eq!(t.pop_due(15), Some(Timer::Person("a".into())));
        assert_eq!(t.pop_due(15), None);
        t.clear(&Timer::Publication("e".into()));
        assert_eq!(t.next(), None);
    }
}
