//! Deterministic simulation of a list subscription: random presence changes of random
//! members and random edits of the list, on a virtual clock. The subscriber applies each
//! NOTIFY the way RFC 4662 §5 says (full state replaces, partial updates the resources
//! listed); at the end what it holds must equal what the owner may see of every member,
//! and NOTIFYs must respect the throttle interval. The seed is printed on failure.

mod server_util;
use std::collections::BTreeMap;

use sb_presence::model::{Availability, ManualState};
use server_util::*;

const LIST: &str = "sip:alice-contacts@example.com";

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn member(i: u64) -> String {
    format!("sip:m{i}@example.com")
}

/// Applies one RLMI NOTIFY to the subscriber's picture of the list.
fn apply(view: &mut BTreeMap<String, String>, n: &sb_presence::OutgoingNotify) {
    let ctype = n.request.headers.content_type().unwrap();
    let boundary = ctype
        .split("boundary=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let b = body(n);
    let mut full = false;
    let mut docs = Vec::new();
    for part in b.split(&format!("--{boundary}")).skip(1) {
        let Some((_, doc)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let doc = doc.strip_suffix("\r\n").unwrap_or(doc);
        if doc.contains("<list ") {
            full = doc.contains("fullState=\"true\"");
        } else if doc.contains("<presence ") {
            let entity = doc
                .split("entity=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            docs.push((entity.to_string(), doc.to_string()));
        }
    }
    if full {
        view.clear();
    }
    view.extend(docs);
}

fn run(seed: u64) {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut s = server();
    let interval = config().notify_min_interval_ms;
    let mut members: Vec<u64> = (0..50).collect();
    s.set_contact_list(
        T0,
        ALICE,
        LIST,
        members.iter().map(|i| member(*i)).collect(),
    );
    let mut w = Sub::new(ALICE, LIST, "sim-list").header("Supported: eventlist");
    assert_eq!(w.send(&mut s, T0, 7_200, Some(ALICE)).status, 200);

    let mut view = BTreeMap::new();
    let mut times = Vec::new();
    let mut take = |s: &mut sb_presence::PresenceServer, now: u64| {
        while let Some(n) = s.poll_notify() {
            apply(&mut view, &n);
            times.push(now);
            s.handle_notify_response(now, n.id, 200);
        }
    };
    take(&mut s, T0);
    let mut now = T0;
    for step in 0..300u64 {
        let until = now + rng.below(2_000);
        while let Some(t) = s.poll_timeout().filter(|t| *t <= until) {
            s.handle_timeout(t);
            take(&mut s, t);
        }
        now = until;
        let who = member(rng.below(60)); // some are not (or no longer) on the list
        match rng.below(6) {
            0 => s.set_signed_in(now, &who, rng.below(2) == 0),
            1 => s.set_in_call(now, &who, rng.below(2) == 0),
            2 => {
                let a = Availability::ALL[rng.below(6) as usize];
                let note = Some(format!("n{step}"));
                s.set_manual(
                    now,
                    &who,
                    Some(ManualState {
                        availability: a,
                        note,
                        until: None,
                    }),
                );
            }
            3 => s.set_manual(now, &who, None),
            4 if rng.below(4) == 0 => {
                // Edit the list: drop one member, add one.
                members.retain(|m| *m != rng.below(60));
                let add = rng.below(60);
                if !members.contains(&add) {
                    members.push(add);
                }
                s.set_contact_list(
                    now,
                    ALICE,
                    LIST,
                    members.iter().map(|i| member(*i)).collect(),
                );
            }
            _ => {}
        }
        take(&mut s, now);
    }
    let end = now + 2 * interval;
    while let Some(t) = s.poll_timeout().filter(|t| *t <= end) {
        s.handle_timeout(t);
        take(&mut s, t);
    }

    for pair in times.windows(2) {
        assert!(
            pair[1] - pair[0] >= interval,
            "seed {seed}: NOTIFYs at {} and {}",
            pair[0],
            pair[1]
        );
    }
    let expected: BTreeMap<String, String> = members
        .iter()
        .map(|i| {
            let m = member(*i);
            let doc = sb_presence::doc::pidf::render(&m, &s.state_for(end, &m, Some(ALICE)));
            (m, doc)
        })
        .collect();
    assert_eq!(
        view.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "seed {seed}"
    );
    for (m, doc) in &expected {
        assert_eq!(&view[m], doc, "seed {seed}: stale state for {m}");
    }
}

#[test]
fn a_list_subscriber_ends_up_with_every_members_current_state() {
    for seed in 1..=20 {
        run(seed);
    }
}
