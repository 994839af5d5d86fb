//! `switchboard sip lint` over the whole torture corpus, with the verdicts of
//! conformance/sip-torture/LINT-VERDICTS.md, and its exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/sip-torture")
}

fn lint(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("sip")
        .arg("lint")
        .args(args)
        .output()
        .expect("run switchboard")
}

/// The RFC 5118 messages the RFC asks us to tolerate although its grammar says invalid.
const TOLERATED: [&str; 2] = ["via-received-param-with-delim", "ipv6-bug-abnf-3-colons"];

/// (file, expected verdict is ok) for every message in index.tsv, in every copy.
fn expectations() -> Vec<(PathBuf, bool)> {
    let index = std::fs::read_to_string(corpus().join("index.tsv")).unwrap();
    let mut lines = index.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (c_name, c_class, c_parser, c_file) =
        (col("name"), col("class"), col("parser"), col("file"));
    let mut out = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        let name = f[c_name];
        let ok = match (f[c_parser], f[c_class]) {
            ("accept", "valid") => true,
            ("accept", "invalid") => TOLERATED.contains(&name),
            ("reject" | "reject-or-repair" | "either", _) => false,
            other => panic!("index.tsv row {name}: unmapped parser/class {other:?}"),
        };
        let file = if f[c_file].is_empty() {
            format!("rfc5118/{name}")
        } else {
            f[c_file].to_string()
        };
        out.push((corpus().join(&file), ok));
        if let Some(base) = file.strip_prefix("rfc5118/") {
            // The CRLF copies must lint the same.
            out.push((corpus().join("rfc5118-wire").join(base), ok));
        }
    }
    out
}

#[test]
fn every_torture_message_gets_its_verdict() {
    let exp = expectations();
    assert!(
        exp.len() >= 60,
        "the whole corpus is covered ({} files)",
        exp.len()
    );
    let files: Vec<&Path> = exp.iter().map(|(p, _)| p.as_path()).collect();
    let out = lint(&files);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), exp.len(), "one line per file:\n{stdout}");
    let mut wrong = Vec::new();
    for ((path, ok), line) in exp.iter().zip(&lines) {
        let prefix = format!("{}: ", path.display());
        let verdict = line
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("line {line:?} names {prefix:?}"));
        let got_ok = verdict == "ok";
        if !got_ok {
            let reason = verdict
                .strip_prefix("invalid: ")
                .expect("`ok` or `invalid: <reason>`");
            assert!(!reason.trim().is_empty(), "{line}: a reason is given");
        }
        if got_ok != *ok {
            wrong.push(line.to_string());
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
    assert_eq!(out.status.code(), Some(1), "some messages are invalid");
}

#[test]
fn all_valid_files_exit_0() {
    let ok: Vec<PathBuf> = expectations()
        .into_iter()
        .filter(|e| e.1)
        .map(|e| e.0)
        .collect();
    let files: Vec<&Path> = ok.iter().map(|p| p.as_path()).collect();
    let out = lint(&files);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .lines()
        .all(|l| l.ends_with(": ok")));
}

#[test]
fn one_invalid_file_exits_1_with_the_reason() {
    let f = corpus().join("rfc4475/badvers.dat");
    let out = lint(&[&f]);
    assert_eq!(out.status.code(), Some(1));
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.starts_with(&format!("{}: invalid: ", f.display())), "{s}");
    assert!(s.contains("SIP/7.0"), "the reason names the problem: {s}");
}

#[test]
fn an_unreadable_file_exits_2_and_is_named_while_the_others_are_still_checked() {
    let good = corpus().join("rfc4475/wsinv.dat");
    let missing = Path::new("/nonexistent/switchboard-lint-test.sip");
    let out = lint(&[&good, missing]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("wsinv.dat: ok"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/switchboard-lint-test.sip"));
}

#[test]
fn usage_errors_exit_2() {
    let out = lint(&[]);
    assert_eq!(out.status.code(), Some(2), "no FILE given");
    assert!(String::from_utf8_lossy(&out.stderr).contains("FILE"));
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["sip", "frobnicate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "unknown subcommand");
}

#[test]
fn every_command_has_help() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["sip", "--help"],
        &["sip", "lint", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage:"), "{args:?}: {text}");
    }
}

#[test]
fn warnings_go_to_stderr_and_keep_the_verdict_ok() {
    // The bare-LF archive copy: its Content-Length disagrees with its body (LINT-VERDICTS.md).
    let f = corpus().join("rfc5118/ipv6-in-sdp");
    let out = lint(&[&f]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{}: ok", f.display())
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning") && err.contains("Content-Length"),
        "{err}"
    );
}
