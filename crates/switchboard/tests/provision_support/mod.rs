//! Running `switchboard user ...` and `switchboard site apply` as a person would: the real
//! binary, a temporary data directory, and the exit status, stdout and stderr it gave.

#![allow(dead_code)] // each test binary uses a part

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What one command did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with the whole output unless the command exited with `code`.
    #[track_caller]
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(self.code, code, "exit status; output:\n{self:#?}");
        self
    }
}

/// Where a test's commands find the store: a data directory, plus a config file when the
/// store is PostgreSQL.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: Option<PathBuf>,
}

impl Env {
    /// A fresh SQLite data directory.
    pub fn sqlite() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
            config: None,
        }
    }

    /// A fresh PostgreSQL database at `url`.
    pub fn postgres(url: &str) -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("switchboard.toml");
        std::fs::write(
            &config,
            format!("[store]\nbackend = \"postgres\"\nurl = \"{url}\"\n"),
        )
        .unwrap();
        Env {
            dir,
            config: Some(config),
        }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `switchboard ARGS --data DIR [--config FILE]`, with `stdin` as standard input.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        cmd.args(args).arg("--data").arg(self.data());
        if let Some(c) = &self.config {
            cmd.arg("--config").arg(c);
        }
        run(cmd, stdin)
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, "")
    }

    /// `switchboard site apply --config FILE --data DIR` for a config with `text`.
    pub fn site_apply(&self, text: &str) -> Run {
        let file = self.path("site.toml");
        let store = match &self.config {
            Some(c) => std::fs::read_to_string(c).unwrap(),
            None => String::new(),
        };
        std::fs::write(&file, format!("{store}\n{text}")).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        cmd.args(["site", "apply", "--config"])
            .arg(&file)
            .arg("--data")
            .arg(self.data());
        run(cmd, "")
    }
}

fn run(mut cmd: Command, stdin: &str) -> Run {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start switchboard");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait for switchboard");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A CSV file of `n` users `sip:uI@example.org` with names, passwords and numbers.
pub fn users_csv(path: &Path, n: usize) {
    let mut s = String::from("address,name,password,number,line_uri\n");
    for i in 0..n {
        s.push_str(&format!(
            "sip:u{i}@example.org,User {i},pw-{i},+1206{i:07},\n"
        ));
    }
    std::fs::write(path, s).unwrap();
}

/// The CLI round trip every backend must pass: add, show, set, list paging, remove, and
/// the refusals that name the field.
pub fn round_trip(env: &Env) {
    let add = env
        .run_with_stdin(
            &[
                "user",
                "add",
                "sip:alice@example.com",
                "--name",
                "Alice Smith",
                "--password-stdin",
                "--number",
                "+14255550100",
            ],
            "correct horse\n",
        )
        .expect(0);
    assert!(
        add.stdout.contains("added sip:alice@example.com"),
        "{add:?}"
    );

    let show = env
        .run(&["user", "show", "sip:alice@example.com"])
        .expect(0);
    for want in [
        "name:      Alice Smith",
        "line uri:  tel:+14255550100",
        "numbers:   +14255550100",
        "MD5 for realm example.com",
        "SHA-256 for realm example.com",
        "registrations: 0",
    ] {
        assert!(show.stdout.contains(want), "{want:?} in\n{}", show.stdout);
    }
    assert!(!show.stdout.contains("correct horse"));

    // A second user may not take Alice's number; the refusal names it.
    let dup = env
        .run(&[
            "user",
            "add",
            "sip:bob@example.com",
            "--number",
            "+14255550100",
        ])
        .expect(1);
    assert!(
        dup.stderr.contains("number +14255550100 is already taken"),
        "{dup:?}"
    );
    env.run(&["user", "show", "sip:bob@example.com"]).expect(1);

    let bad = env.run(&["user", "add", "bob@example.com"]).expect(1);
    assert!(
        bad.stderr
            .contains("address: \"bob@example.com\" is not a SIP address"),
        "{bad:?}"
    );
    let bad = env
        .run(&["user", "add", "sip:bob@example.com", "--number", "+1 425"])
        .expect(1);
    assert!(
        bad.stderr.contains("--number: \"+1 425\" is not E.164"),
        "{bad:?}"
    );
    let bad = env
        .run(&[
            "user",
            "add",
            "sip:bob@example.com",
            "--line-uri",
            "tel:+1425;ext=x",
        ])
        .expect(1);
    assert!(bad.stderr.contains("--line-uri:"), "{bad:?}");

    // An extension behind Alice's number is a different line and is allowed.
    env.run(&[
        "user",
        "add",
        "sip:bob@example.com",
        "--password",
        "pw",
        "--line-uri",
        "tel:+14255550100;ext=200",
    ])
    .expect(0);
    for who in ["carol", "dave", "erin"] {
        env.run(&["user", "add", &format!("sip:{who}@example.com")])
            .expect(0);
    }

    let set = env
        .run(&[
            "user",
            "set",
            "sip:alice@example.com",
            "--name",
            "Alice S.",
            "--add-number",
            "+14255550199",
            "--disable",
        ])
        .expect(0);
    assert!(
        set.stdout.contains("changed sip:alice@example.com"),
        "{set:?}"
    );
    let show = env
        .run(&["user", "show", "sip:alice@example.com"])
        .expect(0);
    assert!(
        show.stdout.contains("name:      Alice S."),
        "{}",
        show.stdout
    );
    assert!(show.stdout.contains("enabled:   no"), "{}", show.stdout);
    assert!(
        show.stdout
            .contains("numbers:   +14255550100, +14255550199"),
        "{}",
        show.stdout
    );
    let again = env
        .run(&["user", "set", "sip:alice@example.com", "--name", "Alice S."])
        .expect(0);
    assert!(again.stdout.contains("unchanged"), "{again:?}");
    let missing = env
        .run(&["user", "set", "sip:zoe@example.com", "--name", "Z"])
        .expect(1);
    assert!(missing.stderr.contains("not found"), "{missing:?}");

    // Five users in address order: alice, bob, carol, dave, erin.
    let page2 = env
        .run(&["user", "list", "--limit", "2", "--page", "2"])
        .expect(0);
    let listed: Vec<&str> = page2
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.starts_with("sip:"))
        .collect();
    assert_eq!(listed, ["sip:carol@example.com", "sip:dave@example.com"]);
    assert!(
        page2
            .stdout
            .contains("users 3-4 of 5; next page: --offset 4 --limit 2"),
        "{}",
        page2.stdout
    );
    let other = env
        .run(&["user", "list", "--domain", "example.net"])
        .expect(0);
    assert!(
        other.stdout.contains("no users in domain example.net"),
        "{other:?}"
    );
    let last = env.run(&["user", "list", "--offset", "4"]).expect(0);
    assert!(
        last.stdout.contains("sip:erin@example.com"),
        "{}",
        last.stdout
    );
    assert!(
        !last.stdout.contains("sip:dave@example.com"),
        "{}",
        last.stdout
    );
    assert!(last.stdout.contains("users 5-5 of 5"), "{}", last.stdout);

    env.run(&["user", "remove", "sip:alice@example.com"])
        .expect(0);
    let gone = env
        .run(&["user", "show", "sip:alice@example.com"])
        .expect(1);
    assert!(gone.stderr.contains("not found"), "{gone:?}");
    env.run(&["user", "remove", "sip:alice@example.com"])
        .expect(1);
    // Her number is free again.
    env.run(&[
        "user",
        "set",
        "sip:carol@example.com",
        "--number",
        "+14255550100",
    ])
    .expect(0);
}
