//! Per-user call handling rules from the command line and the site file, run as the real
//! binary: set, shown, cleared, and refused (naming the flag or entry and the rule, with
//! nothing written) when they do not fit the `[routing]` configuration.

mod provision_support;
#[path = "route_explain/support.rs"]
mod support;

use provision_support::{Env, Run};
use support::{fixture, sign_in, site};

fn show(env: &Env, user: &str) -> String {
    env.run(&["user", "show", user]).expect(0).stdout
}

#[track_caller]
fn refused(run: Run, starts: &str) -> String {
    let run = run.expect(1);
    let msg = run
        .stderr
        .strip_prefix("switchboard: refused: ")
        .unwrap_or_else(|| panic!("{run:#?}"))
        .to_string();
    assert!(msg.starts_with(starts), "want {starts:?}, got {msg:?}");
    msg
}

#[test]
fn rules_are_set_shown_and_cleared() {
    let env = site();
    env.run(&[
        "user",
        "add",
        "sip:dave@example.com",
        "--number",
        "+14255550400",
        "--rule",
        "forward_busy=sip:carol@example.com",
        "--rule",
        "forward_unanswered=+1 425 555 0100",
        "--rule",
        "forward_unanswered_secs=10",
    ])
    .expect(0);
    let out = show(&env, "sip:dave@example.com");
    for want in [
        "rule:      forward_busy = sip:carol@example.com",
        "rule:      forward_unanswered = +1 425 555 0100",
        "rule:      forward_unanswered_secs = 10",
    ] {
        assert!(out.contains(want), "{want:?} in\n{out}");
    }
    env.run(&[
        "user",
        "set",
        "sip:dave@example.com",
        "--clear-rule",
        "forward_busy",
        "--rule",
        "simultaneous_ring=5550200",
    ])
    .expect(0);
    let out = show(&env, "sip:dave@example.com");
    assert!(!out.contains("forward_busy"), "{out}");
    assert!(
        out.contains("rule:      simultaneous_ring = 5550200"),
        "{out}"
    );
    assert!(
        out.contains("forward_unanswered = +1 425 555 0100"),
        "{out}"
    );

    // The rules route calls: Alice calls Dave's number, which rings his phone and
    // Carol's at once.
    sign_in(&env, "sip:dave@example.com", "sip:dave@192.0.2.40:5060");
    sign_in(&env, "sip:carol@example.com", "sip:carol@192.0.2.30:5060");
    let run = env
        .run(&[
            "route",
            "explain",
            "--from",
            "sip:alice@example.com",
            "5550400",
        ])
        .expect(0);
    assert!(
        run.stdout
            .contains("sip:dave@example.com: simultaneous ring -> 5550200"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("1. sip:dave@192.0.2.40:5060")
            && run.stdout.contains("2. sip:carol@192.0.2.30:5060"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("if unanswered after 10 s:"),
        "{}",
        run.stdout
    );

    for name in [
        "simultaneous_ring",
        "forward_unanswered",
        "forward_unanswered_secs",
    ] {
        env.run(&["user", "set", "sip:dave@example.com", "--clear-rule", name])
            .expect(0);
    }
    let out = show(&env, "sip:dave@example.com");
    assert!(out.contains("rules:     - "), "{out}");
    assert!(!out.contains("rule: "), "{out}");
}

#[test]
fn bad_rules_are_refused_by_flag_and_name_and_nothing_is_written() {
    let env = site();
    let add = |rule: &str| {
        env.run(&[
            "user",
            "add",
            "sip:erin@example.com",
            "--rule",
            "site=hq",
            "--rule",
            rule,
        ])
    };
    let m = refused(
        add("forward_bsy=5550200"),
        "--rule: \"forward_bsy\" is not a rule",
    );
    assert!(m.contains("forward_busy"), "lists the rules: {m}");
    refused(
        add("forward_all"),
        "--rule: \"forward_all\" is not NAME=VALUE",
    );
    refused(
        add("forward_all=mailto:erin@example.com"),
        "--rule forward_all: ",
    );
    refused(add("forward_busy=12"), "--rule forward_busy: ");
    let m = refused(add("dial_plan=paris"), "--rule dial_plan: ");
    assert!(m.contains("\"paris\" is not defined"), "{m}");
    refused(add("voice_policy=everything"), "--rule voice_policy: ");
    refused(add("pbx_line=other:1234"), "--rule pbx_line: ");
    let m = refused(
        add("forward_unanswered_secs=900"),
        "--rule forward_unanswered_secs: ",
    );
    assert!(m.contains("900"), "{m}");
    refused(
        add("follow_deflections=maybe"),
        "--rule follow_deflections: ",
    );
    // Erin's policy (the default, domestic) cannot call abroad: refused now, not when a
    // call is forwarded.
    let m = refused(
        add("forward_unanswered=+44 20 7946 0000"),
        "--rule forward_unanswered: ",
    );
    assert!(
        m.contains("international calls are not allowed by policy 'domestic'"),
        "{m}"
    );
    // Forwarding to a user who does not exist, or back to herself.
    let m = refused(
        add("forward_all=sip:zed@example.com"),
        "--rule forward_all: ",
    );
    assert!(m.contains("404"), "{m}");
    refused(
        add("forward_all=sip:erin@example.com"),
        "--rule forward_all: ",
    );
    // None of it was written.
    let missing = env.run(&["user", "show", "sip:erin@example.com"]).expect(1);
    assert!(missing.stderr.contains("not found"), "{missing:#?}");

    // With a policy that allows it, the same forward is accepted.
    env.run(&[
        "user",
        "add",
        "sip:erin@example.com",
        "--rule",
        "voice_policy=global",
        "--rule",
        "forward_unanswered=+44 20 7946 0000",
    ])
    .expect(0);
    // Taking the policy away again would strand the forward: refused, rule kept.
    let m = refused(
        env.run(&[
            "user",
            "set",
            "sip:erin@example.com",
            "--clear-rule",
            "voice_policy",
        ]),
        "stored rule forward_unanswered: ",
    );
    assert!(m.contains("403"), "{m}");
    assert!(show(&env, "sip:erin@example.com").contains("voice_policy = global"));
    refused(
        env.run(&[
            "user",
            "set",
            "sip:erin@example.com",
            "--rule",
            "forward_busy=5550200",
            "--clear-rule",
            "forward_busy",
        ]),
        "--clear-rule: forward_busy is also given with --rule",
    );
}

#[test]
fn without_a_config_file_rules_are_checked_against_the_empty_routing_config() {
    let env = Env::sqlite();
    env.run(&["user", "add", "sip:frank@example.com"]).expect(0);
    // No dial plan: a number target must already be E.164.
    refused(
        env.run(&[
            "user",
            "set",
            "sip:frank@example.com",
            "--rule",
            "forward_busy=5550200",
        ]),
        "--rule forward_busy: ",
    );
    refused(
        env.run(&["user", "set", "sip:frank@example.com", "--rule", "site=hq"]),
        "--rule site: ",
    );
    env.run(&[
        "user",
        "set",
        "sip:frank@example.com",
        "--rule",
        "forward_offline=sip:voicemail@example.net",
    ])
    .expect(0);
    assert!(
        show(&env, "sip:frank@example.com").contains("forward_offline = sip:voicemail@example.net")
    );
}

#[test]
fn site_file_rules_are_checked_and_refused_by_entry() {
    let env = site();
    // Carol forwards to a number the same file gives Dave; Dave's timer is written bare.
    let good = r#"
[[site.users]]
address = "sip:carol@example.com"
rules = { site = "hq", forward_busy = "5550400" }

[[site.users]]
address = "sip:dave@example.com"
number = "+14255550400"
rules = { forward_unanswered = "sip:carol@example.com", forward_unanswered_secs = 15, follow_deflections = false }
"#;
    let base = std::fs::read_to_string(fixture()).unwrap();
    // The fixture's four users come first; added entries count from site.users[4].
    let file = env.path("good.toml");
    std::fs::write(&file, format!("{base}{good}")).unwrap();
    let apply = |file: &std::path::Path| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"));
        cmd.args(["site", "apply", "--config"])
            .arg(file)
            .arg("--data")
            .arg(env.data());
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Carol is already listed in the fixture: refused as such.
    let (code, err) = apply(&file);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("already listed"), "{err}");

    let good = good.replacen(
        "address = \"sip:carol@example.com\"",
        "address = \"sip:hana@example.com\"",
        1,
    );
    std::fs::write(&file, format!("{base}{good}")).unwrap();
    let (code, err) = apply(&file);
    assert_eq!(code, Some(0), "{err}");
    let dave = show(&env, "sip:dave@example.com");
    assert!(
        dave.contains("rule:      forward_unanswered_secs = 15"),
        "{dave}"
    );
    assert!(
        dave.contains("rule:      follow_deflections = off"),
        "{dave}"
    );
    assert!(show(&env, "sip:hana@example.com").contains("rule:      forward_busy = 5550400"));

    // A bad rule names the entry and the rule, and nothing of the file is written.
    let bad = format!(
        "{base}{good}\n[[site.users]]\naddress = \"sip:ivan@example.com\"\n\
         rules = {{ forward_busy = \"+44 20 7946 0000\" }}\n\
         [[site.users]]\naddress = \"sip:judy@example.com\"\n\
         rules = {{ forwad_all = \"sip:carol@example.com\" }}\n"
    );
    std::fs::write(&file, bad).unwrap();
    let (code, err) = apply(&file);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("site.users[7].rules: \"forwad_all\" is not a rule"),
        "{err}"
    );
    // Names are checked first; with them fixed, the policy check names the entry.
    let bad = format!(
        "{base}{good}\n[[site.users]]\naddress = \"sip:ivan@example.com\"\n\
         rules = {{ forward_busy = \"+44 20 7946 0000\" }}\n"
    );
    std::fs::write(&file, bad).unwrap();
    let (code, err) = apply(&file);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("site.users[6].rules.forward_busy: "), "{err}");
    assert!(err.contains("403"), "{err}");
    let ivan = env.run(&["user", "show", "sip:ivan@example.com"]).expect(1);
    assert!(ivan.stderr.contains("not found"), "{ivan:#?}");
}
