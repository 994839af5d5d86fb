//! Access levels: which watcher sees how much of a person's presence.
//!
//! RFC 3856 §6.6 requires a presence server to authorize subscriptions and lets it give
//! different watchers different views (RFC 5025 presence authorization rules are the
//! standard's full-blown form; this is the small, fixed form people actually use). Each
//! person keeps a list of [`AccessRule`]s placing watchers at an [`AccessLevel`]:
//!
//! | level       | sees                                                              |
//! |-------------|-------------------------------------------------------------------|
//! | blocked     | offline, nothing else (indistinguishable from a signed-out person) |
//! | public      | availability only                                                 |
//! | colleagues  | + note, activities, in-a-call and in-a-meeting                     |
//! | team        | + location and phone numbers; calls get through do not disturb    |
//! | personal    | the same as team                                                  |
//!
//! A watcher's level comes from the most specific matching rule: a rule naming the
//! watcher beats a rule for their domain, which beats a rule for everyone. Without any
//! matching rule, watchers in the owner's own domain are colleagues and everyone else is
//! public. When two rules of the same kind match, the lower level wins, so a mistaken
//! duplicate never reveals more.

use crate::model::{AccessLevel, AccessRule, PersonState, WatcherMatch};

/// The level `watcher` (`sip:user@domain`, scheme and parameters optional) has on the
/// presence of a person in `owner_domain` whose access list is `rules`.
pub fn level_for(rules: &[AccessRule], watcher: &str, owner_domain: &str) -> AccessLevel {
    let watcher = normalize_address(watcher);
    let domain = watcher.rsplit_once('@').map(|(_, d)| d).unwrap_or("");

    // 2 = the watcher by name, 1 = the watcher's domain, 0 = everyone.
    let mut best: Option<(u8, AccessLevel)> = None;
    for rule in rules {
        let specificity = match &rule.watcher {
            WatcherMatch::User(u) if !watcher.is_empty() && normalize_address(u) == watcher => 2,
            WatcherMatch::Domain(d)
                if !domain.is_empty() && d.trim().eq_ignore_ascii_case(domain) =>
            {
                1
            }
            WatcherMatch::Everyone => 0,
            _ => continue,
        };
        best = match best {
            Some((s, l)) if s > specificity => Some((s, l)),
            Some((s, l)) if s == specificity => Some((s, l.min(rule.level))),
            _ => Some((specificity, rule.level)),
        };
    }
    match best {
        Some((_, level)) => level,
        None if !domain.is_empty() && domain.eq_ignore_ascii_case(owner_domain.trim()) => {
            AccessLevel::Colleagues
        }
        None => AccessLevel::Public,
    }
}

/// What a watcher at `level` may see of `state`. Applying it twice changes nothing, and
/// a lower level never shows a field a higher one hides.
pub fn view(state: &PersonState, level: AccessLevel) -> PersonState {
    let mut out = PersonState::offline();
    if level == AccessLevel::Blocked {
        return out;
    }
    out.availability = state.availability;
    if level >= AccessLevel::Colleagues {
        out.note = state.note.clone();
        out.activities = state.activities.clone();
        out.in_call = state.in_call;
        out.in_meeting = state.in_meeting;
    }
    if level >= AccessLevel::Team {
        out.location = state.location.clone();
        out.phone_numbers = state.phone_numbers.clone();
    }
    out
}

/// Whether a call from a watcher at `level` rings through do not disturb.
pub fn passes_dnd(level: AccessLevel) -> bool {
    level >= AccessLevel::Team
}

/// `"Alice" <SIP:Alice@Example.COM;transport=tcp>` → `alice@example.com`: the part of an
/// address that identifies a person, compared case-insensitively. User parts are
/// case-sensitive in RFC 3261 §19.1.4, but two accounts differing only in case are a
/// provisioning mistake, and matching them lets no one see more than the other rules say.
fn normalize_address(s: &str) -> String {
    let s = s.trim();
    let s = match (s.find('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => &s[a + 1..b],
        _ => s,
    };
    let lower = s.to_ascii_lowercase();
    let s = lower
        .strip_prefix("sips:")
        .or_else(|| lower.strip_prefix("sip:"))
        .or_else(|| lower.strip_prefix("pres:"))
        .unwrap_or(&lower);
    let end = s.find([';', '?']).unwrap_or(s.len());
    let s = &s[..end];
    // A port names a device, not a person: `bob@example.com:5061` is bob@example.com.
    match s.rsplit_once('@') {
        Some((user, host)) => {
            let host = match host.strip_prefix('[') {
                Some(v6) => &host[..v6.find(']').map_or(host.len(), |i| i + 2)],
                None => host.split(':').next().unwrap_or(host),
            };
            format!("{user}@{host}")
        }
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Activity, Availability};
    use proptest::prelude::*;

    fn rule(watcher: WatcherMatch, level: AccessLevel) -> AccessRule {
        AccessRule { watcher, level }
    }

    #[test]
    fn most_specific_rule_wins() {
        use AccessLevel::*;
        let rules = vec![
            rule(WatcherMatch::Everyone, Blocked),
            rule(WatcherMatch::Domain("partner.example".into()), Colleagues),
            rule(WatcherMatch::User("sip:bob@partner.example".into()), Team),
            rule(WatcherMatch::User("sip:eve@example.com".into()), Blocked),
            rule(WatcherMatch::User("carol@example.com".into()), Personal),
        ];
        let table = [
            ("sip:bob@partner.example", Team),
            ("<sip:BOB@Partner.Example;transport=tcp>", Team),
            ("\"Bob\" <sip:bob@partner.example:5061>", Team),
            ("sip:dave@[2001:db8::1]:5060", Blocked),
            ("sip:dave@partner.example", Colleagues),
            ("sip:mallory@elsewhere.example", Blocked),
            ("sip:eve@example.com", Blocked),
            ("sips:carol@example.com", Personal),
            // Everyone=blocked beats the default colleague level for the own domain.
            ("sip:frank@example.com", Blocked),
        ];
        for (watcher, want) in table {
            assert_eq!(level_for(&rules, watcher, "example.com"), want, "{watcher}");
        }
    }

    #[test]
    fn defaults_colleagues_in_own_domain_public_outside() {
        use AccessLevel::*;
        assert_eq!(
            level_for(&[], "sip:bob@example.com", "Example.com"),
            Colleagues
        );
        assert_eq!(
            level_for(&[], "sip:bob@other.example", "example.com"),
            Public
        );
        assert_eq!(level_for(&[], "garbage", "example.com"), Public);
        assert_eq!(
            level_for(&[], "sip:bob@example.com:5061", "example.com"),
            Colleagues
        );
        let v6 = [rule(WatcherMatch::Domain("[2001:db8::1]".into()), Team)];
        assert_eq!(
            level_for(&v6, "sip:x@[2001:db8::1]:5060", "example.com"),
            Team
        );
        assert_eq!(level_for(&[], "", "example.com"), Public);
        // A domain rule never matches a watcher without a domain.
        let rules = [rule(WatcherMatch::Domain("".into()), Personal)];
        assert_eq!(level_for(&rules, "anonymous", "example.com"), Public);
    }

    #[test]
    fn conflicting_rules_of_one_kind_give_the_lower_level() {
        let rules = [
            rule(
                WatcherMatch::User("sip:bob@x.example".into()),
                AccessLevel::Team,
            ),
            rule(
                WatcherMatch::User("sip:bob@x.example".into()),
                AccessLevel::Public,
            ),
        ];
        assert_eq!(
            level_for(&rules, "sip:bob@x.example", "example.com"),
            AccessLevel::Public
        );
    }

    fn full_state() -> PersonState {
        PersonState {
            availability: Availability::Busy,
            activities: vec![Activity::OnThePhone, Activity::Meeting],
            note: Some("Quarterly review".into()),
            in_call: true,
            in_meeting: true,
            location: Some("Berlin office, room 4.12".into()),
            phone_numbers: vec!["+49 30 1234567".into()],
        }
    }

    #[test]
    fn four_levels_give_four_views_never_more_than_allowed() {
        use AccessLevel::*;
        let s = full_state();
        let blocked = view(&s, Blocked);
        let public = view(&s, Public);
        let colleagues = view(&s, Colleagues);
        let team = view(&s, Team);

        assert_eq!(blocked, PersonState::offline());

        assert_eq!(public.availability, Availability::Busy);
        assert_eq!(public.note, None);
        assert!(public.activities.is_empty());
        assert!(!public.in_call && !public.in_meeting);
        assert_eq!(public.location, None);
        assert!(public.phone_numbers.is_empty());

        assert_eq!(colleagues.note.as_deref(), Some("Quarterly review"));
        assert_eq!(colleagues.activities, s.activities);
        assert!(colleagues.in_call && colleagues.in_meeting);
        assert_eq!(colleagues.location, None);
        assert!(colleagues.phone_numbers.is_empty());

        assert_eq!(team, s);
        assert_eq!(view(&s, Personal), s);

        let views = [&blocked, &public, &colleagues, &team];
        for (i, a) in views.iter().enumerate() {
            for b in &views[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn only_team_and_personal_pass_dnd() {
        let passing: Vec<_> = AccessLevel::ALL
            .into_iter()
            .filter(|l| passes_dnd(*l))
            .collect();
        assert_eq!(passing, vec![AccessLevel::Team, AccessLevel::Personal]);
    }

    fn arb_state() -> impl Strategy<Value = PersonState> {
        (
            0usize..7,
            proptest::collection::vec(0usize..7, 0..4),
            proptest::option::of("[a-z ]{0,12}"),
            any::<bool>(),
            any::<bool>(),
            proptest::option::of("[a-z ]{0,12}"),
            proptest::collection::vec("[+0-9]{1,12}", 0..3),
        )
            .prop_map(|(a, acts, note, in_call, in_meeting, location, phones)| {
                PersonState {
                    availability: Availability::ALL[a],
                    activities: acts
                        .into_iter()
                        .map(|i| match i {
                            0 => Activity::OnThePhone,
                            1 => Activity::Meeting,
                            2 => Activity::Away,
                            3 => Activity::Busy,
                            4 => Activity::Vacation,
                            5 => Activity::Appointment,
                            _ => Activity::Other("lunch".into()),
                        })
                        .collect(),
                    note,
                    in_call,
                    in_meeting,
                    location,
                    phone_numbers: phones,
                }
            })
    }

    proptest! {
        #[test]
        fn view_is_idempotent(s in arb_state(), l in 0usize..5) {
            let l = AccessLevel::ALL[l];
            prop_assert_eq!(view(&view(&s, l), l), view(&s, l));
        }

        #[test]
        fn lower_levels_never_see_more(s in arb_state(), lo in 0usize..5, hi in 0usize..5) {
            prop_assume!(lo <= hi);
            let (lo, hi) = (AccessLevel::ALL[lo], AccessLevel::ALL[hi]);
            let (vl, vh) = (view(&s, lo), view(&s, hi));
            // What the lower level sees is derivable from what the higher one sees.
            prop_assert_eq!(view(&vh, lo), vl.clone());
            // Field by field: hidden above means hidden below.
            prop_assert!(vh.note.is_some() || vl.note.is_none());
            prop_assert!(!vh.activities.is_empty() || vl.activities.is_empty());
            prop_assert!(vh.in_call || !vl.in_call);
            prop_assert!(vh.in_meeting || !vl.in_meeting);
            prop_assert!(vh.location.is_some() || vl.location.is_none());
            prop_assert!(!vh.phone_numbers.is_empty() || vl.phone_numbers.is_empty());
        }
    }
}
