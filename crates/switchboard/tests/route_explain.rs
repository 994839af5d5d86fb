//! `switchboard route explain` as an administrator runs it: the real binary, the store the
//! site file in `tests/route_explain/site.toml` provisions (a Redmond office with a dial
//! plan, a main number with extensions, two gateways, a PBX, two voice policies), and the
//! printed steps and exit status they would read.

mod provision_support;
#[path = "route_explain/support.rs"]
mod support;

use provision_support::{Env, Run};
use support::{sign_in, site};

fn explain(env: &Env, from: &str, dialled: &str) -> Run {
    env.run(&["route", "explain", "--from", from, dialled])
}

/// The printed line that starts with `step` (the trace's first column) and contains
/// `text`, or a panic showing the whole trace.
#[track_caller]
fn line_with<'a>(run: &'a Run, step: &str, text: &str) -> &'a str {
    run.stdout
        .lines()
        .find(|l| l.trim_start().starts_with(step) && l.contains(text))
        .unwrap_or_else(|| panic!("no {step:?} line with {text:?} in:\n{}", run.stdout))
}

#[test]
fn local_forms_of_one_number_normalize_alike_and_leave_by_the_national_route() {
    let env = site();
    for (dialled, rule) in [
        ("0 425 555 1212", Some("rule 1")),
        ("1-425-555-1212", Some("rule 2")),
        ("5551212", Some("rule 3")),
        ("+1 (425) 555-1212", None),
        ("tel:+14255551212", None),
    ] {
        let run = explain(&env, "sip:alice@example.com", dialled).expect(0);
        let norm = line_with(&run, "normalize", "+14255551212");
        match rule {
            Some(rule) => assert!(
                norm.contains(&format!("{dialled:?} -> +14255551212"))
                    && norm.contains(&format!("dial plan \"redmond\" {rule}")),
                "{dialled}: {norm}"
            ),
            None => assert!(norm.contains("is already E.164"), "{dialled}: {norm}"),
        }
        line_with(&run, "lookup", "+14255551212 -> nobody here");
        line_with(&run, "route", "\"us\" matches");
        line_with(&run, "route", "via gw-a, then gw-b");
        line_with(&run, "policy", "\"domestic\" allows national");
        line_with(&run, "targets", "1. tel:+14255551212 via gw-a, then gw-b");
        line_with(&run, "result", "deliver");
        assert!(run.stderr.is_empty(), "{}", run.stderr);
    }
}

#[test]
fn international_needs_a_policy_that_allows_it() {
    let env = site();
    let refused = explain(&env, "sip:alice@example.com", "+44 20 7946 0000").expect(1);
    line_with(&refused, "normalize", "+442079460000 is already E.164");
    line_with(&refused, "route", "\"world\" matches");
    line_with(
        &refused,
        "policy",
        "\"domestic\" does not allow international",
    );
    line_with(&refused, "result", "reject 403");
    assert!(
        refused
            .stderr
            .contains("403 international calls are not allowed by policy 'domestic'"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stdout.contains("targets"), "{}", refused.stdout);

    // Gail's policy allows it; 011 is the international prefix in the dial plan.
    let placed = explain(&env, "sip:gail@example.com", "011 44 20 7946 0000").expect(0);
    line_with(&placed, "normalize", "-> +442079460000");
    line_with(&placed, "policy", "\"global\" allows international");
    line_with(&placed, "targets", "1. tel:+442079460000 via gw-b");

    // The first matching route decides the usage: +1900 is premium, which neither allows.
    let premium = explain(&env, "sip:gail@example.com", "1 900 555 1212").expect(1);
    line_with(&premium, "route", "\"us-premium\" matches");
    line_with(&premium, "policy", "\"global\" does not allow premium");
}

#[test]
fn an_extension_rings_the_devices_and_the_pbx_line_with_forwards_prepared() {
    let env = site();
    sign_in(&env, "sip:bob@example.com", "sip:bob@192.0.2.20:5060");
    sign_in(&env, "sip:carol@example.com", "sip:carol@192.0.2.30:5060");
    let run = explain(&env, "sip:alice@example.com", "1212").expect(0);
    line_with(&run, "normalize", "\"1212\" -> extension 1212");
    line_with(
        &run,
        "lookup",
        "extension 1212 of +14255550000 -> user sip:bob@example.com",
    );
    line_with(
        &run,
        "callee",
        "sip:bob@example.com: signed in on 1 device(s)",
    );
    line_with(&run, "pbx", "fork to PBX \"legacy\" line 4567 with mark");
    // Targets in order: Bob's phone, then his PBX extension carrying the mark.
    let out = &run.stdout;
    let first = out.find("1. sip:bob@192.0.2.20:5060").expect(out);
    let second = out
        .find("2. tel:4567;phone-context=legacy via pbx")
        .expect(out);
    assert!(first < second, "{out}");
    assert!(out.contains("[X-Switchboard-Fork: "), "{out}");
    // Follow-ups computed in advance, indented under their condition.
    let unanswered = out.find("then       if unanswered after 10 s:").expect(out);
    let busy = out.find("then       if busy:").expect(out);
    assert!(second < unanswered && unanswered < busy, "{out}");
    line_with(
        &run,
        "rule",
        "sip:bob@example.com: forward unanswered -> 5550200",
    );
    line_with(&run, "lookup", "+14255550200 -> user sip:carol@example.com");
    line_with(
        &run,
        "rule",
        "sip:bob@example.com: forward busy -> sip:carol@example.com",
    );
    line_with(&run, "targets", "1. sip:carol@192.0.2.30:5060");
    assert!(
        out.lines().any(|l| l.starts_with("  rule ")),
        "follow-up steps are indented:\n{out}"
    );
}

#[test]
fn a_user_nobody_can_reach_is_refused_with_the_reason() {
    let env = site();
    // Carol has no device and no forward: 480, exit 1.
    let run = explain(&env, "sip:alice@example.com", "carol").expect(1);
    line_with(
        &run,
        "callee",
        "sip:carol@example.com: signed in on 0 device(s)",
    );
    line_with(&run, "result", "reject 480");
    assert!(run.stderr.contains("480"), "{}", run.stderr);
    // An extension nobody has.
    let run = explain(&env, "sip:alice@example.com", "9999").expect(1);
    line_with(
        &run,
        "lookup",
        "extension 9999 of +14255550000 -> nobody here",
    );
    line_with(&run, "result", "reject 404");
}

#[test]
fn json_output_carries_the_decision_and_every_step() {
    let env = site();
    let run = env
        .run(&[
            "route",
            "explain",
            "--from",
            "sip:alice@example.com",
            "5551212",
            "--json",
        ])
        .expect(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect(&run.stdout);
    assert_eq!(doc["allowed"], true);
    assert_eq!(doc["decision"]["decision"], "deliver");
    assert_eq!(
        doc["decision"]["branches"][0]["request_uri"],
        "tel:+14255551212"
    );
    let steps: Vec<&str> = doc["trace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "request",
            "normalized",
            "lookup",
            "route",
            "policy",
            "targets",
            "outcome"
        ]
    );
    let refused = env
        .run(&[
            "route",
            "explain",
            "--from",
            "sip:alice@example.com",
            "+442079460000",
            "--json",
        ])
        .expect(1);
    let doc: serde_json::Value = serde_json::from_str(&refused.stdout).expect(&refused.stdout);
    assert_eq!(doc["allowed"], false);
    assert_eq!(doc["decision"]["status"], 403);
}

#[test]
fn usage_and_configuration_errors_exit_2() {
    let env = site();
    let unknown = explain(&env, "sip:nobody@example.com", "5551212").expect(2);
    assert!(
        unknown
            .stderr
            .contains("--from: no user sip:nobody@example.com"),
        "{}",
        unknown.stderr
    );
    let bad = explain(&env, "sip:alice@example.com", "sip:").expect(2);
    assert!(bad.stderr.contains("DIALLED"), "{}", bad.stderr);
    // A configuration whose route names an undefined trunk.
    let broken = env.path("broken.toml");
    std::fs::write(
        &broken,
        "[[routing.routes]]\nname = \"us\"\npattern = '^\\+1'\nusage = \"national\"\ntrunks = [\"nope\"]\n",
    )
    .unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.args([
        "route",
        "explain",
        "--from",
        "sip:alice@example.com",
        "5551212",
    ])
    .arg("--config")
    .arg(&broken)
    .arg("--data")
    .arg(env.data());
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"nope\" is neither a [[trunks]] nor a [[pools]] name"),
        "{err}"
    );
    // No store at all.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.args([
        "route",
        "explain",
        "--from",
        "sip:alice@example.com",
        "5551212",
    ])
    .arg("--data")
    .arg(env.path("missing"));
    assert_eq!(cmd.output().unwrap().status.code(), Some(2));
    // DIALLED missing.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.args(["route", "explain", "--from", "sip:alice@example.com"]);
    assert_eq!(cmd.output().unwrap().status.code(), Some(2));
}
