//! Provisioning from the command line on the embedded SQLite store: `switchboard user ...`,
//! CSV import and `switchboard site apply`, run as the real binary.

mod provision_support;

use provision_support::{users_csv, Env};
use std::time::Instant;

#[test]
fn user_commands_round_trip_on_sqlite() {
    provision_support::round_trip(&Env::sqlite());
}

#[test]
fn show_lists_the_registrations_of_every_device() {
    let env = Env::sqlite();
    env.run(&["user", "add", "sip:alice@example.com", "--password", "pw"])
        .expect(0);
    // Two devices registered, as the registrar writes them into the same store.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    rt.block_on(async {
        let store = sb_store::open_data_dir(&env.data()).await.unwrap();
        for (contact, transport, source, expires) in [
            (
                "<sip:alice@192.0.2.10:5060>",
                "udp",
                "192.0.2.10:5060",
                3600,
            ),
            (
                "<sip:alice@192.0.2.11:5061;transport=tls>",
                "tls",
                "192.0.2.11:40000",
                600,
            ),
        ] {
            store
                .upsert_binding(&sb_store::Binding {
                    aor: sb_store::SipAddress::parse("sip:alice@example.com").unwrap(),
                    key: format!("contact:{contact}"),
                    contact: contact.into(),
                    q: None,
                    expires_at: now + expires,
                    call_id: format!("c-{source}"),
                    cseq: 1,
                    instance_id: None,
                    reg_id: None,
                    transport: transport.into(),
                    source: source.into(),
                    received: None,
                    path: vec![],
                    updated_at: now,
                })
                .await
                .unwrap();
        }
        store.close().await;
    });
    let show = env
        .run(&["user", "show", "sip:alice@example.com"])
        .expect(0);
    let out = &show.stdout;
    assert!(out.contains("registrations: 2"), "{out}");
    assert!(
        out.contains("CONTACT") && out.contains("EXPIRES IN"),
        "{out}"
    );
    let udp = out
        .lines()
        .find(|l| l.contains("<sip:alice@192.0.2.10:5060>"))
        .unwrap_or_else(|| panic!("udp binding in {out}"));
    assert!(
        udp.contains(" udp ") && udp.contains("192.0.2.10:5060"),
        "{udp}"
    );
    // Seconds left: at most the hour registered, and not much less a moment later.
    let secs: i64 = udp
        .split_whitespace()
        .find_map(|w| w.strip_suffix('s').and_then(|n| n.parse().ok()))
        .unwrap();
    assert!((3500..=3600).contains(&secs), "{udp}");
    assert!(out.contains("192.0.2.11:40000"), "{out}");
    // Removing the user removes the registrations with it.
    env.run(&["user", "remove", "sip:alice@example.com"])
        .expect(0);
    let left = rt.block_on(async {
        let store = sb_store::open_data_dir(&env.data()).await.unwrap();
        store.count_bindings().await.unwrap()
    });
    assert_eq!(left, 0);
}

#[test]
fn read_commands_do_not_create_a_store_where_there_is_none() {
    let env = Env::sqlite();
    let r = env.run(&["user", "list"]).expect(2);
    assert!(r.stderr.contains("no store at"), "{r:?}");
    assert!(!env.data().join("switchboard.db").exists());
    // An existing but empty store answers with how to add the first user.
    env.run(&["user", "add", "sip:a@example.com"]).expect(0);
    env.run(&["user", "remove", "sip:a@example.com"]).expect(0);
    let r = env.run(&["user", "list"]).expect(0);
    assert!(r.stdout.contains("No users yet"), "{r:?}");
    assert!(r.stdout.contains("switchboard user add sip:"), "{r:?}");
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::sqlite();
    let r = env
        .run(&[
            "user",
            "add",
            "sip:a@example.com",
            "--number",
            "+1",
            "--line-uri",
            "tel:+1",
        ])
        .expect(2);
    assert!(r.stderr.contains("cannot be used with"), "{r:?}");
    env.run(&["user", "frobnicate"]).expect(2);
}

/// Peak resident memory of the largest child process waited for so far, in KiB.
fn children_peak_rss_kib() -> i64 {
    // struct rusage on Linux: two timevals, then ru_maxrss (a long) and 13 more longs.
    extern "C" {
        fn getrusage(who: i32, usage: *mut [i64; 18]) -> i32;
    }
    const RUSAGE_CHILDREN: i32 = -1;
    let mut usage = [0i64; 18];
    // SAFETY: the buffer is as large as struct rusage on 64-bit Linux.
    let rc = unsafe { getrusage(RUSAGE_CHILDREN, &mut usage) };
    if rc == 0 {
        usage[4]
    } else {
        -1
    }
}

#[test]
fn import_of_10000_rows_adds_them_all_in_one_go() {
    let env = Env::sqlite();
    let csv = env.path("users.csv");
    users_csv(&csv, 10_000);
    let started = Instant::now();
    let r = env
        .run(&["user", "import", csv.to_str().unwrap()])
        .expect(0);
    eprintln!(
        "import of 10,000 users: {:?}, peak RSS of the largest child so far {} KiB",
        started.elapsed(),
        children_peak_rss_kib()
    );
    assert!(
        r.stdout
            .contains("10000 rows: 10000 added, 0 changed, 0 unchanged, 0 refused"),
        "{r:?}"
    );
    // Not a terminal: plain progress lines, not bar redraws.
    assert!(r.stderr.contains("import: hashing 10000 rows"), "{r:?}");
    assert!(!r.stderr.contains('\r'), "{r:?}");
    let list = env.run(&["user", "list", "--limit", "1"]).expect(0);
    assert!(list.stdout.contains("of 10000"), "{}", list.stdout);
    let show = env
        .run(&["user", "show", "sip:u9999@example.org"])
        .expect(0);
    assert!(show.stdout.contains("tel:+12060009999"), "{}", show.stdout);
    assert!(
        show.stdout.contains("SHA-256 for realm example.org"),
        "{}",
        show.stdout
    );

    // The same file again changes nothing.
    let again = env
        .run(&["user", "import", csv.to_str().unwrap()])
        .expect(0);
    assert!(
        again.stdout.contains("0 added, 0 changed, 10000 unchanged"),
        "{again:?}"
    );
}

#[test]
fn an_import_with_a_bad_row_in_the_middle_applies_nothing_and_names_the_line() {
    let env = Env::sqlite();
    let csv = env.path("users.csv");
    users_csv(&csv, 1000);
    let mut lines: Vec<String> = std::fs::read_to_string(&csv)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    // Line 501 (the header is line 1) gets a number that is not E.164, line 701 repeats
    // the address of line 7, line 801 takes the number of line 11.
    lines[500] = "sip:x@example.org,X,pw,+1 425,".into();
    lines[700] = "sip:u5@example.org,Again,pw,,".into();
    lines[800] = "sip:y@example.org,Y,pw,+12060000009,".into();
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();

    let r = env
        .run(&["user", "import", csv.to_str().unwrap()])
        .expect(1);
    assert!(
        r.stderr
            .contains("users.csv:501: refused: number: \"+1 425\" is not E.164"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("users.csv:701: refused: address: sip:u5@example.org is already on line 7"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("users.csv:801: refused: number: +12060000009"),
        "{r:?}"
    );
    assert!(r.stdout.contains("3 refused: nothing was written"), "{r:?}");
    let list = env.run(&["user", "list"]).expect(0);
    assert!(list.stdout.contains("No users yet"), "{}", list.stdout);

    // With --skip-invalid the other rows are written and the refusals still listed.
    let r = env
        .run(&["user", "import", "--skip-invalid", csv.to_str().unwrap()])
        .expect(0);
    assert!(
        r.stdout
            .contains("997 added, 0 changed, 0 unchanged, 3 refused"),
        "{r:?}"
    );
    assert!(r.stderr.contains("users.csv:501:"), "{r:?}");
}

#[test]
fn a_row_that_only_the_store_can_refuse_fails_the_whole_import() {
    let env = Env::sqlite();
    env.run(&["user", "add", "sip:owner@example.org"]).expect(0);
    env.run(&[
        "user",
        "set",
        "sip:owner@example.org",
        "--add-number",
        "+12060000003",
    ])
    .expect(0);
    let csv = env.path("users.csv");
    users_csv(&csv, 10);
    let r = env
        .run(&["user", "import", csv.to_str().unwrap()])
        .expect(1);
    assert!(
        r.stderr
            .contains("users.csv:5: refused: number +12060000003 is already taken"),
        "{r:?}"
    );
    let list = env.run(&["user", "list"]).expect(0);
    assert!(list.stdout.contains("users 1-1 of 1"), "{}", list.stdout);
}

#[test]
fn import_updates_existing_users_and_keeps_what_a_row_leaves_empty() {
    let env = Env::sqlite();
    let csv = env.path("users.csv");
    users_csv(&csv, 3);
    env.run(&["user", "import", csv.to_str().unwrap()])
        .expect(0);
    std::fs::write(
        &csv,
        "name,address,enabled\nRenamed,sip:u1@example.org,\n,sip:u2@example.org,no\n,sip:new@example.org,\n",
    )
    .unwrap();
    let dry = env
        .run(&["user", "import", "--dry-run", csv.to_str().unwrap()])
        .expect(0);
    assert!(
        dry.stdout.contains(
            "3 rows: 1 added, 2 changed, 0 unchanged, 0 refused (dry run: nothing written)"
        ),
        "{dry:?}"
    );
    env.run(&["user", "show", "sip:new@example.org"]).expect(1);
    let r = env
        .run(&["user", "import", csv.to_str().unwrap()])
        .expect(0);
    assert!(
        r.stdout.contains("3 rows: 1 added, 2 changed, 0 unchanged"),
        "{r:?}"
    );
    let u1 = env.run(&["user", "show", "sip:u1@example.org"]).expect(0);
    assert!(u1.stdout.contains("name:      Renamed"), "{}", u1.stdout);
    assert!(u1.stdout.contains("tel:+12060000001"), "{}", u1.stdout);
    let u2 = env.run(&["user", "show", "sip:u2@example.org"]).expect(0);
    assert!(u2.stdout.contains("enabled:   no"), "{}", u2.stdout);
    assert!(u2.stdout.contains("name:      User 2"), "{}", u2.stdout);

    std::fs::write(&csv, "address,phone\nsip:a@example.org,1\n").unwrap();
    let r = env
        .run(&["user", "import", csv.to_str().unwrap()])
        .expect(1);
    assert!(r.stderr.contains("unknown column \"phone\""), "{r:?}");
}

const SITE: &str = r#"
[site]
domains = ["example.com"]

[[site.users]]
address = "sip:alice@example.com"
name = "Alice Smith"
password = "correct horse"
number = "+14255550100"

[[site.users]]
address = "sip:bob@example.com"
name = "Bob"
ha1_md5 = "0123456789ABCDEF0123456789abcdef"
line_uri = "tel:+14255550100;ext=200"

[[site.numbers]]
number = "+14255550199"
user = "sip:alice@example.com"
"#;

#[test]
fn the_site_file_applied_twice_changes_nothing_the_second_time() {
    let env = Env::sqlite();
    let first = env.site_apply(SITE).expect(0);
    assert!(first.stdout.contains("users 2 added"), "{first:?}");
    assert!(first.stdout.contains("credentials 3 added"), "{first:?}");
    let second = env.site_apply(SITE).expect(0);
    assert!(
        second.stdout.contains(
            "domains 0 added, 0 changed, 1 unchanged; users 0 added, 0 changed, 2 unchanged; \
             credentials 0 added, 0 changed, 3 unchanged; numbers 0 added, 0 changed, 1 unchanged"
        ),
        "{second:?}"
    );
    assert!(second.stdout.contains("(nothing to change)"), "{second:?}");
    let alice = env
        .run(&["user", "show", "sip:alice@example.com"])
        .expect(0);
    assert!(
        alice
            .stdout
            .contains("numbers:   +14255550100, +14255550199"),
        "{}",
        alice.stdout
    );
    let bob = env.run(&["user", "show", "sip:bob@example.com"]).expect(0);
    assert!(
        bob.stdout.contains("set (MD5 for realm example.com)"),
        "{}",
        bob.stdout
    );

    // A user added by hand is kept, and reported.
    env.run(&["user", "add", "sip:carol@example.com"]).expect(0);
    let third = env.site_apply(SITE).expect(0);
    assert!(
        third.stdout.contains(
            "1 users in the store are not in the site file and were kept: sip:carol@example.com"
        ),
        "{third:?}"
    );
}

#[test]
fn a_site_file_with_bad_entries_names_each_and_changes_nothing() {
    let env = Env::sqlite();
    let bad = SITE
        .replace("number = \"+14255550100\"", "number = \"+1 425\"")
        .replace("sip:bob@example.com", "sip:bob@example.net")
        .replace(
            "user = \"sip:alice@example.com\"",
            "user = \"sip:nobody@example.com\"",
        );
    let r = env.site_apply(&bad).expect(1);
    assert!(
        r.stderr
            .contains("site.users[0].number: \"+1 425\" is not E.164"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("site.users[1].address: domain example.net"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("site.numbers[0].user: sip:nobody@example.com"),
        "{r:?}"
    );
    env.run(&["user", "list"]).expect(0);
    let none = env
        .run(&["user", "show", "sip:alice@example.com"])
        .expect(1);
    assert!(none.stderr.contains("not found"), "{none:?}");

    // Two users of the file claiming one number: the second is named.
    let twice = SITE.replace(
        "line_uri = \"tel:+14255550100;ext=200\"",
        "number = \"+14255550100\"",
    );
    let r = env.site_apply(&twice).expect(1);
    assert!(
        r.stderr
            .contains("site.users[1].number: +14255550100 is already the number of site.users[0]"),
        "{r:?}"
    );
}

#[test]
fn a_configured_realm_gets_credentials_too() {
    let mut env = Env::sqlite();
    let config = env.path("switchboard.toml");
    std::fs::write(&config, "[auth]\nrealm = \"corp\"\n").unwrap();
    env.config = Some(config);
    env.run(&["user", "add", "sip:alice@example.com", "--password", "pw"])
        .expect(0);
    let show = env
        .run(&["user", "show", "sip:alice@example.com"])
        .expect(0);
    assert!(
        show.stdout.contains(
            "set (MD5 for realm corp, SHA-256 for realm corp, \
             MD5 for realm example.com, SHA-256 for realm example.com)"
        ),
        "{}",
        show.stdout
    );
}

#[test]
fn set_password_stores_the_ha1_of_the_new_password_only() {
    use sb_sip_auth::{Algorithm, Ha1};
    use sb_store::{DigestAlgorithm, SipAddress};
    let env = Env::sqlite();
    env.run_with_stdin(
        &["user", "add", "sip:alice@example.com", "--password-stdin"],
        "first\n",
    )
    .expect(0);
    env.run_with_stdin(
        &["user", "set", "sip:alice@example.com", "--password-stdin"],
        "second pass\r\n",
    )
    .expect(0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (md5, sha) = rt.block_on(async {
        let store = sb_store::open_data_dir(&env.data()).await.unwrap();
        let alice = SipAddress::parse("sip:alice@example.com").unwrap();
        let get = |alg| {
            let (store, alice) = (store.clone(), alice.clone());
            async move {
                store
                    .get_credential(&alice, "example.com", alg)
                    .await
                    .unwrap()
                    .expect("a credential")
                    .ha1
            }
        };
        (
            get(DigestAlgorithm::Md5).await,
            get(DigestAlgorithm::Sha256).await,
        )
    });
    // HA1 = H(username ":" realm ":" password), RFC 8760 §3.4.2; the line ending is not
    // part of the password.
    let want = |alg| Ha1::compute(alg, "alice", "example.com", "second pass");
    assert_eq!(md5, want(Algorithm::Md5).as_hex());
    assert_eq!(sha, want(Algorithm::Sha256).as_hex());
    let empty = env
        .run_with_stdin(
            &["user", "set", "sip:alice@example.com", "--password-stdin"],
            "\n",
        )
        .expect(1);
    assert!(empty.stderr.contains("password: empty"), "{empty:?}");
}

#[test]
fn a_spreadsheet_csv_with_a_byte_order_mark_and_crlf_imports() {
    let env = Env::sqlite();
    let csv = env.path("excel.csv");
    std::fs::write(
        &csv,
        "\u{feff}address,name,number\r\nsip:a@example.com,\"Smith, Ann\",+14255550101\r\n",
    )
    .unwrap();
    let r = env
        .run(&["user", "import", csv.to_str().unwrap()])
        .expect(0);
    assert!(r.stdout.contains("1 rows: 1 added"), "{r:?}");
    let show = env.run(&["user", "show", "sip:a@example.com"]).expect(0);
    assert!(
        show.stdout.contains("name:      Smith, Ann"),
        "{}",
        show.stdout
    );
}

#[test]
fn on_a_terminal_the_import_shows_a_bar_instead_of_log_lines() {
    let env = Env::sqlite();
    let csv = env.path("users.csv");
    users_csv(&csv, 3000);
    // `script` (util-linux, in every Debian) runs the command on a pseudo-terminal.
    let command = format!(
        "{} user import {} --data {}",
        env!("CARGO_BIN_EXE_switchboard"),
        csv.display(),
        env.data().display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run script(1)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("3000 rows: 3000 added"), "{text}");
    assert!(!text.contains("import: checking"), "{text}");
}
