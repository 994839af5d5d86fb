//! Deterministic simulation: random sequences of presence changes, publications and
//! NOTIFY outcomes against several watchers at different access levels, on a virtual
//! clock. Checked for every seed: no subscription gets two NOTIFYs within the throttle
//! interval, every watcher ends up holding exactly the view it is entitled to, and a
//! watcher never receives more than its level allows. The seed is printed on failure.

mod server_util;
use std::collections::HashMap;

use sb_presence::model::{AccessLevel, AccessRule, Availability, ManualState, WatcherMatch};
use server_util::*;

/// xorshift64*: small, seedable, good enough to pick operations.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const TEAM: &str = "sip:tina@example.com";
const BLOCKED: &str = "sip:mallory@example.com";
const COLLEAGUE: &str = "sip:carol@example.com";
const OUTSIDER: &str = "sip:eve@elsewhere.test";

fn run(seed: u64) {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut s = server(); // 5 s throttle
    let interval = config().notify_min_interval_ms;
    s.set_access_rules(
        T0,
        BOB,
        vec![
            AccessRule {
                watcher: WatcherMatch::User(TEAM.into()),
                level: AccessLevel::Team,
            },
            AccessRule {
                watcher: WatcherMatch::User(BLOCKED.into()),
                level: AccessLevel::Blocked,
            },
        ],
    );
    let watchers: [(&str, Option<&str>); 5] = [
        ("w-team", Some(TEAM)),
        ("w-blocked", Some(BLOCKED)),
        ("w-colleague", Some(COLLEAGUE)),
        ("w-outsider", Some(OUTSIDER)),
        ("w-anonymous", None),
    ];
    for (cid, who) in watchers {
        let from = who.unwrap_or("sip:anonymous@anonymous.invalid");
        assert_eq!(
            Sub::new(from, BOB, cid).send(&mut s, T0, 7_200, who).status,
            200
        );
    }
    // call-id -> (time, body) of every active NOTIFY
    let mut seen: HashMap<String, Vec<(u64, String)>> = HashMap::new();
    let mut record = |s: &mut sb_presence::PresenceServer, now: u64, rng: &mut Rng| {
        while let Some(n) = s.poll_notify() {
            let cid = n.request.headers.call_id().unwrap().as_str().to_string();
            seen.entry(cid).or_default().push((now, body(&n)));
            // Mostly 200; sometimes a 500, which must not end the subscription.
            let status = if rng.below(20) == 0 { 500 } else { 200 };
            s.handle_notify_response(now, n.id, status);
        }
    };
    record(&mut s, T0, &mut rng);

    let mut now = T0;
    let mut etag: Option<String> = None;
    for step in 0..400u64 {
        let until = now + rng.below(3_000);
        while let Some(t) = s.poll_timeout().filter(|t| *t <= until) {
            s.handle_timeout(t);
            record(&mut s, t, &mut rng);
        }
        now = until;
        match rng.below(5) {
            0 => {
                let a = Availability::ALL[rng.below(6) as usize];
                let note = (rng.below(2) == 0).then(|| format!("note-{step}"));
                s.set_manual(
                    now,
                    BOB,
                    Some(ManualState {
                        availability: a,
                        note,
                        until: None,
                    }),
                );
            }
            1 => s.set_manual(now, BOB, None),
            2 => s.set_in_call(now, BOB, rng.below(2) == 0),
            3 => s.set_signed_in(now, BOB, rng.below(2) == 0),
            _ => {
                let doc = pidf(BOB, rng.below(2) == 0, Some(&format!("note-pub-{step}")));
                let req = match etag.take() {
                    Some(e) if rng.below(3) == 0 => publish(BOB, Some(&e), Some(0), None),
                    Some(e) => publish(BOB, Some(&e), Some(120), Some(&doc)),
                    None => publish(BOB, None, Some(120), Some(&doc)),
                };
                let r = s.handle_publish(now, &req, BOB);
                etag = reply_header(&r, "SIP-ETag");
            }
        }
        record(&mut s, now, &mut rng);
    }
    // Quiesce: let every pending throttled NOTIFY out.
    let end = now + 2 * interval;
    while let Some(t) = s.poll_timeout().filter(|t| *t <= end) {
        s.handle_timeout(t);
        record(&mut s, t, &mut rng);
    }

    assert_eq!(
        s.subscriptions(),
        watchers.len(),
        "seed {seed}: nobody was dropped"
    );
    for (cid, who) in watchers {
        let list = &seen[cid];
        for pair in list.windows(2) {
            assert!(
                pair[1].0 - pair[0].0 >= interval,
                "seed {seed}: {cid} got NOTIFYs at {} and {}",
                pair[0].0,
                pair[1].0
            );
        }
        let expected = sb_presence::doc::pidf::render(BOB, &s.state_for(end, BOB, who));
        assert_eq!(
            list.last().unwrap().1,
            expected,
            "seed {seed}: {cid} holds a stale view"
        );
        for (_, b) in list {
            match cid {
                "w-blocked" => assert!(
                    b.contains("<basic>closed</basic>") && !b.contains("note-"),
                    "seed {seed}: {b}"
                ),
                "w-outsider" | "w-anonymous" => {
                    assert!(!b.contains("note-"), "seed {seed}: public sees a note")
                }
                _ => {}
            }
        }
    }
}

#[test]
fn random_changes_reach_every_watcher_throttled_and_filtered() {
    for seed in 1..=25 {
        run(seed);
    }
}
