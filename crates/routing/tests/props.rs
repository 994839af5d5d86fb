//! Properties: normalization is idempotent on E.164 and never panics; routing never panics
//! whatever the Request-URI.

mod common;

use common::*;
use proptest::prelude::*;
use sb_routing::*;
use std::sync::OnceLock;

/// Compiled once: building regexes per case would dominate the run time.
fn shared() -> &'static (RoutingTable, MemoryDirectory) {
    static SHARED: OnceLock<(RoutingTable, MemoryDirectory)> = OnceLock::new();
    SHARED.get_or_init(|| (table(), directory()))
}

fn plan() -> &'static DialPlan {
    shared()
        .0
        .dial_plan(&DialPlanName::from("redmond"))
        .unwrap()
}

fn result_of(n: Normalization) -> Option<Normalized> {
    match n {
        Normalization::Matched { result, .. } => Some(result),
        Normalization::AlreadyE164(n) => Some(Normalized::Number(n)),
        _ => None,
    }
}

proptest! {
    #[test]
    fn e164_numbers_normalize_to_themselves(digits in "[1-9][0-9]{0,14}") {
        let n = E164::parse(&format!("+{digits}")).unwrap();
        prop_assert_eq!(result_of(plan().normalize(n.as_str())), Some(Normalized::Number(n)));
    }

    #[test]
    fn normalizing_twice_changes_nothing(s in "[0-9 ()+.-]{0,20}") {
        let p = plan();
        if let Some(Normalized::Number(n)) = result_of(p.normalize(&s)) {
            prop_assert_eq!(result_of(p.normalize(n.as_str())), Some(Normalized::Number(n)));
        }
    }

    #[test]
    fn normalize_never_panics(s in any::<String>()) {
        let _ = plan().normalize(&s);
    }

    #[test]
    fn route_never_panics(user in "[a-zA-Z0-9%;=.+()-]{0,24}", phone in any::<bool>()) {
        let (t, d) = shared();
        let suffix = if phone { ";user=phone" } else { "" };
        if let Ok(uri) = format!("sip:{user}@example.com{suffix}").parse() {
            let f = RequestFacts::new(uri, "c");
            for caller in [
                Caller::User(id("alice")),
                Caller::Trunk(TrunkName::from("pbx-trunk")),
                Caller::Anonymous,
            ] {
                let r = route(&f, &caller, d, t);
                // Every decision is explained, ending with its outcome.
                let last = r.trace.steps().last();
                let ends = matches!(last, Some(Step::Outcome { .. }));
                prop_assert!(ends, "{}", r.trace);
            }
        }
    }

    #[test]
    fn forward_targets_parse_or_refuse_without_panicking(s in any::<String>()) {
        if let Ok(t) = ForwardTarget::parse(&s) {
            // What parses prints to something that parses to the same target.
            prop_assert_eq!(ForwardTarget::parse(&t.to_string()), Ok(t));
        }
    }

    #[test]
    fn tel_uris_route_without_panicking(number in "[0-9+*#()., -]{0,20}") {
        let (t, d) = shared();
        if let Ok(uri) = format!("tel:{number}").parse() {
            let r = route(&RequestFacts::new(uri, "c"), &Caller::User(id("alice")), d, t);
            let ends = matches!(r.trace.steps().last(), Some(Step::Outcome { .. }));
            prop_assert!(ends, "{}", r.trace);
        }
    }
}
