//! Aggregation: the many sources of a person's presence combined into one [`PersonState`].
//!
//! A person has several devices that each publish a PIDF document (RFC 3863; RFC 3903
//! PUBLISH), a state they may set by hand, calls the server sees them in, and a calendar.
//! RFC 3863 §3.3 leaves the composition policy to the presence server; ours, first match
//! wins for the availability:
//!
//! 1. **Manual state** that has not expired (`until` in the future): do not disturb, busy,
//!    be right back, away and off work win over everything else. A manual *available* does
//!    not: it means "nothing to add", so the automatic states below still show (someone who
//!    set available this morning is still busy while on a call).
//! 2. **In a call** through the server: busy, with the RFC 4480 `on-the-phone` activity.
//! 3. **Calendar busy** now: busy, with the `meeting` activity.
//! 4. **Published documents**: each device's document gives a device availability (closed
//!    tuple → offline; `on-the-phone`, `busy`, `meeting` or `appointment` → busy; `vacation`
//!    → off work; `away` or `user-input` idle → away; otherwise available). The most
//!    available device wins, and its activities are shown.
//! 5. **Registered, nothing published**: available (a registered phone rings).
//! 6. **Signed out** (no registered device, nothing published): offline.
//!
//! The facts (`in_call`, `in_meeting`) are always carried along with their activities,
//! even when a manual state decides the availability, so a colleague sees "do not disturb,
//! on the phone". The note is the manual note if a manual state is current (whatever its
//! availability), else the note of the newest published document that has one.
//! Location and phone numbers are copied; [`crate::access::view`] decides who sees them.

use crate::model::{Activity, Availability, PersonState, Published, Sources};

/// Combines everything known about a person at `now_unix` (Unix seconds).
pub fn aggregate(s: &Sources, now_unix: u64) -> PersonState {
    let manual = s.manual.as_ref().filter(|m| m.is_current(now_unix));
    let mut activities = Vec::new();

    let availability = if let Some(m) = manual.filter(|m| m.availability != Availability::Available)
    {
        activities.extend(manual_activity(m.availability));
        m.availability
    } else if s.in_call || s.in_meeting {
        // The activities for these two are added below, whatever decided the availability.
        Availability::Busy
    } else if let Some(best) = best_device(&s.published) {
        activities.extend(best.activities.iter().cloned());
        device_availability(best)
    } else if s.signed_in {
        Availability::Available
    } else {
        Availability::Offline
    };

    if s.in_call {
        activities.insert(0, Activity::OnThePhone);
    }
    if s.in_meeting {
        let at = usize::from(s.in_call);
        activities.insert(at, Activity::Meeting);
    }
    dedup(&mut activities);

    let note = match manual {
        Some(m) => m.note.clone(),
        None => newest_note(&s.published),
    };

    PersonState {
        availability,
        activities,
        note,
        in_call: s.in_call,
        in_meeting: s.in_meeting,
        location: s.location.clone(),
        phone_numbers: s.phone_numbers.clone(),
    }
}

/// The availability one device's document expresses (step 4 of the module docs).
pub fn device_availability(p: &Published) -> Availability {
    if !p.basic_open {
        return Availability::Offline;
    }
    let has = |a: &Activity| p.activities.contains(a);
    if has(&Activity::OnThePhone)
        || has(&Activity::Busy)
        || has(&Activity::Meeting)
        || has(&Activity::Appointment)
    {
        Availability::Busy
    } else if has(&Activity::Vacation) {
        Availability::OffWork
    } else if p.idle || has(&Activity::Away) {
        Availability::Away
    } else {
        Availability::Available
    }
}

/// The most available device; among equals the newest document, so a device that just
/// changed is the one whose activities show.
fn best_device(published: &[Published]) -> Option<&Published> {
    published.iter().min_by(|a, b| {
        device_availability(a)
            .cmp(&device_availability(b))
            .then(b.received_at.cmp(&a.received_at))
    })
}

/// The RFC 4480 activity a hand-set state implies, if any.
fn manual_activity(a: Availability) -> Option<Activity> {
    match a {
        Availability::Busy | Availability::DoNotDisturb => Some(Activity::Busy),
        Availability::BeRightBack | Availability::Away => Some(Activity::Away),
        Availability::OffWork | Availability::Available | Availability::Offline => None,
    }
}

fn newest_note(published: &[Published]) -> Option<String> {
    published
        .iter()
        .filter(|p| p.note.is_some())
        .max_by_key(|p| p.received_at)
        .and_then(|p| p.note.clone())
}

/// Removes repeated activities, keeping the first of each.
fn dedup(activities: &mut Vec<Activity>) {
    let mut seen = Vec::with_capacity(activities.len());
    activities.retain(|a| {
        if seen.contains(a) {
            false
        } else {
            seen.push(a.clone());
            true
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ManualState;

    const NOW: u64 = 1_700_000_000;

    fn device(open: bool, activities: &[Activity], note: Option<&str>, at: u64) -> Published {
        Published {
            basic_open: open,
            activities: activities.to_vec(),
            note: note.map(str::to_owned),
            received_at: at,
            ..Published::default()
        }
    }

    fn manual(a: Availability, note: Option<&str>, until: Option<u64>) -> Option<ManualState> {
        Some(ManualState {
            availability: a,
            note: note.map(str::to_owned),
            until,
        })
    }

    #[test]
    fn precedence_table() {
        use Availability::*;
        let open = device(true, &[], None, NOW - 10);
        let idle = Published {
            idle: true,
            ..device(true, &[], None, NOW - 5)
        };
        let closed = device(false, &[], None, NOW - 1);
        let on_phone = device(true, &[Activity::OnThePhone], None, NOW);
        let signed_in = Sources {
            signed_in: true,
            published: vec![open.clone()],
            ..Sources::default()
        };
        // (what, sources, expected availability, expected activities)
        let table: Vec<(&str, Sources, Availability, Vec<Activity>)> = vec![
            ("nothing at all", Sources::default(), Offline, vec![]),
            (
                "registered, nothing published",
                Sources {
                    signed_in: true,
                    ..Sources::default()
                },
                Available,
                vec![],
            ),
            ("one open device", signed_in.clone(), Available, vec![]),
            (
                "manual DND beats a call",
                Sources {
                    manual: manual(DoNotDisturb, None, None),
                    in_call: true,
                    ..signed_in.clone()
                },
                DoNotDisturb,
                vec![Activity::OnThePhone, Activity::Busy],
            ),
            (
                "manual off work beats the calendar",
                Sources {
                    manual: manual(OffWork, None, Some(NOW + 1)),
                    in_meeting: true,
                    ..signed_in.clone()
                },
                OffWork,
                vec![Activity::Meeting],
            ),
            (
                "manual BRB",
                Sources {
                    manual: manual(BeRightBack, None, None),
                    ..signed_in.clone()
                },
                BeRightBack,
                vec![Activity::Away],
            ),
            (
                "expired manual busy no longer applies",
                Sources {
                    manual: manual(Busy, None, Some(NOW)),
                    ..signed_in.clone()
                },
                Available,
                vec![],
            ),
            (
                "manual available lets the call show",
                Sources {
                    manual: manual(Available, None, None),
                    in_call: true,
                    ..signed_in.clone()
                },
                Busy,
                vec![Activity::OnThePhone],
            ),
            (
                "call beats calendar, both shown",
                Sources {
                    in_call: true,
                    in_meeting: true,
                    ..signed_in.clone()
                },
                Busy,
                vec![Activity::OnThePhone, Activity::Meeting],
            ),
            (
                "calendar busy",
                Sources {
                    in_meeting: true,
                    ..signed_in.clone()
                },
                Busy,
                vec![Activity::Meeting],
            ),
            (
                "most available device wins over an idle one",
                Sources {
                    published: vec![idle.clone(), open.clone()],
                    signed_in: true,
                    ..Sources::default()
                },
                Available,
                vec![],
            ),
            (
                "only an idle device: away",
                Sources {
                    published: vec![idle.clone(), closed.clone()],
                    signed_in: true,
                    ..Sources::default()
                },
                Away,
                vec![],
            ),
            (
                "a device on the phone (call not through us): busy",
                Sources {
                    published: vec![on_phone.clone(), closed.clone()],
                    ..Sources::default()
                },
                Busy,
                vec![Activity::OnThePhone],
            ),
            (
                "all devices closed",
                Sources {
                    published: vec![closed.clone()],
                    signed_in: true,
                    ..Sources::default()
                },
                Offline,
                vec![],
            ),
            (
                "vacation activity: off work",
                Sources {
                    published: vec![device(true, &[Activity::Vacation], None, NOW)],
                    ..Sources::default()
                },
                OffWork,
                vec![Activity::Vacation],
            ),
        ];
        for (what, sources, want, want_activities) in table {
            let got = aggregate(&sources, NOW);
            assert_eq!(got.availability, want, "{what}");
            assert_eq!(got.activities, want_activities, "{what}");
            assert_eq!(got.in_call, sources.in_call, "{what}");
            assert_eq!(got.in_meeting, sources.in_meeting, "{what}");
        }
    }

    #[test]
    fn note_is_manual_else_newest_published() {
        let old = device(true, &[], Some("old"), NOW - 100);
        let new = device(true, &[], Some("new"), NOW - 1);
        let silent = device(true, &[], None, NOW);
        let mut s = Sources {
            published: vec![old, new, silent],
            signed_in: true,
            ..Sources::default()
        };
        assert_eq!(aggregate(&s, NOW).note.as_deref(), Some("new"));

        s.manual = manual(Availability::Available, Some("in Berlin"), None);
        assert_eq!(aggregate(&s, NOW).note.as_deref(), Some("in Berlin"));

        s.manual = manual(Availability::Away, Some("lunch"), Some(NOW + 60));
        assert_eq!(aggregate(&s, NOW).note.as_deref(), Some("lunch"));
        // Once the manual state has expired its note goes with it.
        assert_eq!(aggregate(&s, NOW + 60).note.as_deref(), Some("new"));
    }

    #[test]
    fn location_and_numbers_are_carried() {
        let s = Sources {
            signed_in: true,
            location: Some("Room 4.12".into()),
            phone_numbers: vec!["+4930123456".into()],
            ..Sources::default()
        };
        let got = aggregate(&s, NOW);
        assert_eq!(got.location.as_deref(), Some("Room 4.12"));
        assert_eq!(got.phone_numbers, vec!["+4930123456".to_owned()]);
    }

    fn arb_sources() -> impl proptest::strategy::Strategy<Value = Sources> {
        use proptest::prelude::*;
        let device = (
            any::<bool>(),
            any::<bool>(),
            0usize..4,
            proptest::option::of("[a-z]{1,6}"),
            0u64..10,
        )
            .prop_map(|(open, idle, act, note, at)| Published {
                basic_open: open,
                idle,
                activities: match act {
                    0 => vec![],
                    1 => vec![Activity::OnThePhone],
                    2 => vec![Activity::Away],
                    _ => vec![Activity::Vacation, Activity::Busy],
                },
                note,
                received_at: NOW - at,
                ..Published::default()
            });
        let manual = proptest::option::of((
            0usize..7,
            proptest::option::of("[a-z]{1,6}"),
            proptest::option::of(NOW - 5..NOW + 5),
        ))
        .prop_map(|m| {
            m.map(|(a, note, until)| ManualState {
                availability: Availability::ALL[a],
                note,
                until,
            })
        });
        (
            proptest::collection::vec(device, 0..4),
            manual,
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(published, manual, in_call, in_meeting, signed_in)| Sources {
                    published,
                    manual,
                    in_call,
                    in_meeting,
                    signed_in,
                    ..Sources::default()
                },
            )
    }

    proptest::proptest! {
        #[test]
        fn precedence_invariants(s in arb_sources()) {
            let got = aggregate(&s, NOW);
            let manual = s.manual.as_ref().filter(|m| m.is_current(NOW));
            match manual {
                Some(m) if m.availability != Availability::Available => {
                    proptest::prop_assert_eq!(got.availability, m.availability);
                }
                _ if s.in_call || s.in_meeting => {
                    proptest::prop_assert_eq!(got.availability, Availability::Busy);
                }
                _ => {}
            }
            if let Some(m) = manual {
                proptest::prop_assert_eq!(&got.note, &m.note);
            }
            if s.in_call {
                proptest::prop_assert!(got.activities.contains(&Activity::OnThePhone));
            }
            if s.in_meeting {
                proptest::prop_assert!(got.activities.contains(&Activity::Meeting));
            }
            for (i, a) in got.activities.iter().enumerate() {
                proptest::prop_assert!(
                    !got.activities[i + 1..].contains(a),
                    "repeated {:?}",
                    a
                );
            }
            if manual.is_none() && !s.in_call && !s.in_meeting && s.published.is_empty() {
                let want = if s.signed_in {
                    Availability::Available
                } else {
                    Availability::Offline
                };
                proptest::prop_assert_eq!(got.availability, want);
            }
        }
    }
}
