//! `switchboard presence show|set|access|contacts|calendar` and the site file's presence
//! fields, run as the real binary on a temporary SQLite data directory.

mod provision_support;

use provision_support::{Env, Run};

const ALICE: &str = "sip:alice@example.com";

fn env_with_alice() -> Env {
    let env = Env::sqlite();
    env.run(&["user", "add", ALICE]).expect(0);
    env.run(&["user", "add", "sip:bob@example.com"]).expect(0);
    env
}

fn show(env: &Env, extra: &[&str]) -> String {
    let mut args = vec!["presence", "show", ALICE];
    args.extend_from_slice(extra);
    env.run(&args).expect(0).stdout
}

#[track_caller]
fn refused(r: Run, flag: &str) -> String {
    let r = r.expect(1);
    assert!(
        r.stderr.contains(&format!("refused: {flag}: ")),
        "expected a refusal naming {flag}: {r:?}"
    );
    r.stderr
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Writes presence live state (what a running server would write) straight to the store.
fn with_store(env: &Env, f: impl AsyncFnOnce(&dyn sb_store::Store)) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = sb_store::open_data_dir(&env.data()).await.unwrap();
        f(store.as_ref()).await;
        store.close().await;
    });
}

#[test]
fn set_show_and_clear_a_manual_state() {
    let env = env_with_alice();
    let before = show(&env, &[]);
    assert!(before.contains("availability: offline"), "{before}");
    assert!(before.contains("manual:     none"), "{before}");

    let set = env
        .run(&[
            "presence",
            "set",
            ALICE,
            "--state",
            "dnd",
            "--note",
            "focus time",
            "--for",
            "30",
        ])
        .expect(0);
    assert!(
        set.stdout.contains("sip:alice@example.com: dnd until 20"),
        "{set:?}"
    );
    let out = show(&env, &[]);
    assert!(out.contains("availability: do not disturb"), "{out}");
    assert!(out.contains("note:         focus time"), "{out}");
    assert!(
        out.contains("manual:     dnd \"focus time\" until 20"),
        "{out}"
    );

    // Long forms are accepted; an explicit end time in RFC 3339.
    env.run(&[
        "presence",
        "set",
        ALICE,
        "--state",
        "be-right-back",
        "--until",
        "2099-01-01T09:00:00+01:00",
    ])
    .expect(0);
    let out = show(&env, &[]);
    assert!(out.contains("availability: be right back"), "{out}");
    assert!(
        out.contains("manual:     brb until 2099-01-01T08:00:00Z"),
        "{out}"
    );
    assert!(
        !out.contains("focus time"),
        "the note went with the old state: {out}"
    );

    let cleared = env.run(&["presence", "set", ALICE, "--clear"]).expect(0);
    assert!(cleared.stdout.contains("cleared"), "{cleared:?}");
    let out = show(&env, &[]);
    assert!(out.contains("availability: offline"), "{out}");
    assert!(out.contains("manual:     none"), "{out}");
}

#[test]
fn bad_set_input_names_the_flag_and_writes_nothing() {
    let env = env_with_alice();
    env.run(&["presence", "set", ALICE, "--state", "away"])
        .expect(0);
    let e = refused(
        env.run(&["presence", "set", ALICE, "--state", "sleeping"]),
        "--state",
    );
    assert!(e.contains("off-work"), "the allowed states are listed: {e}");
    refused(
        env.run(&["presence", "set", ALICE, "--state", "offline"]),
        "--state",
    );
    refused(
        env.run(&[
            "presence",
            "set",
            ALICE,
            "--state",
            "busy",
            "--until",
            "2001-01-01T00:00:00Z",
        ]),
        "--until",
    );
    refused(
        env.run(&[
            "presence", "set", ALICE, "--state", "busy", "--until", "tomorrow",
        ]),
        "--until",
    );
    refused(
        env.run(&["presence", "set", ALICE, "--state", "busy", "--for", "0"]),
        "--for",
    );
    refused(
        env.run(&[
            "presence",
            "set",
            ALICE,
            "--state",
            "busy",
            "--note",
            "a\u{7}bell",
        ]),
        "--note",
    );
    refused(
        env.run(&[
            "presence",
            "set",
            "sip:nobody@example.com",
            "--state",
            "busy",
        ]),
        "USER",
    );
    // Usage errors (clap) exit 2.
    env.run(&["presence", "set", ALICE, "--note", "no state"])
        .expect(2);
    env.run(&["presence", "set", ALICE, "--state", "busy", "--clear"])
        .expect(2);
    let out = show(&env, &[]);
    assert!(
        out.contains("manual:     away\n"),
        "nothing was written: {out}"
    );
}

#[test]
fn a_watcher_sees_what_their_level_allows() {
    let env = env_with_alice();
    env.run(&[
        "presence",
        "set",
        ALICE,
        "--state",
        "dnd",
        "--note",
        "writing the report",
    ])
    .expect(0);
    for (watcher, level) in [
        ("sip:boss@example.com", "team"),
        ("example.com", "colleagues"),
        ("example.org", "blocked"),
        ("everyone", "public"),
    ] {
        let r = env
            .run(&[
                "presence",
                "access",
                ALICE,
                "--watcher",
                watcher,
                "--level",
                level,
            ])
            .expect(0);
        assert!(r.stdout.contains(&format!("is {level}")), "{r:?}");
    }
    let listed = env.run(&["presence", "access", ALICE]).expect(0).stdout;
    assert!(
        listed.contains("example.org") && listed.contains("blocked"),
        "{listed}"
    );

    // (watcher, level line, sees the note, what a call from them does)
    let cases = [
        (
            "sip:boss@example.com",
            "level team, passes do not disturb",
            true,
            "rings",
        ),
        (
            "sip:carol@example.com",
            "level colleagues, does not pass",
            true,
            "goes to the unavailable rule",
        ),
        (
            "sip:max@partner.example",
            "level public, does not pass",
            false,
            "goes to the unavailable rule",
        ),
        (
            "sip:eve@example.org",
            "level blocked",
            false,
            "goes to the unavailable rule",
        ),
    ];
    for (watcher, level, note, call) in cases {
        let out = show(&env, &["--as", watcher]);
        assert!(out.contains(level), "{watcher}: {out}");
        assert_eq!(out.contains("writing the report"), note, "{watcher}: {out}");
        assert!(
            out.contains(&format!("a call from {watcher} {call}")),
            "{watcher}: {out}"
        );
        assert!(
            !out.contains("sources:"),
            "a watcher's view shows no inputs: {out}"
        );
    }
    let blocked = show(&env, &["--as", "sip:eve@example.org"]);
    assert!(blocked.contains("availability: offline"), "{blocked}");
    let public = show(&env, &["--as", "sip:max@partner.example"]);
    assert!(public.contains("availability: do not disturb"), "{public}");

    let json = show(&env, &["--as", "sip:boss@example.com", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["as"]["level"], "team");
    assert_eq!(doc["as"]["passes_dnd"], true);
    assert_eq!(doc["as"]["state"]["note"], "writing the report");

    refused(
        env.run(&[
            "presence",
            "access",
            ALICE,
            "--watcher",
            "example.org",
            "--level",
            "boss",
        ]),
        "--level",
    );
    refused(
        env.run(&[
            "presence",
            "access",
            ALICE,
            "--watcher",
            "not a domain",
            "--level",
            "team",
        ]),
        "--watcher",
    );
    env.run(&[
        "presence",
        "access",
        ALICE,
        "--watcher",
        "example.org",
        "--remove",
    ])
    .expect(0);
    refused(
        env.run(&[
            "presence",
            "access",
            ALICE,
            "--watcher",
            "example.org",
            "--remove",
        ]),
        "--watcher",
    );
    let eve = show(&env, &["--as", "sip:eve@example.org"]);
    assert!(
        eve.contains("level public"),
        "the everyone rule now applies: {eve}"
    );
}

#[test]
fn contacts_are_added_removed_and_listed_in_order() {
    let env = env_with_alice();
    let r = env
        .run(&[
            "presence",
            "contacts",
            ALICE,
            "--add",
            "sip:bob@example.com",
            "--add",
            "sip:zoe@partner.example",
            "--add",
            "sip:carol@example.com",
            "--list",
        ])
        .expect(0);
    assert!(
        r.stdout.contains("contact list updated, 3 member(s)"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains("list sip:alice-contacts@example.com"),
        "{r:?}"
    );
    let order: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("  ")).collect();
    assert_eq!(
        order,
        [
            "  sip:bob@example.com",
            "  sip:zoe@partner.example",
            "  sip:carol@example.com"
        ]
    );
    env.run(&[
        "presence",
        "contacts",
        ALICE,
        "--remove",
        "sip:zoe@partner.example",
    ])
    .expect(0);
    refused(
        env.run(&[
            "presence",
            "contacts",
            ALICE,
            "--remove",
            "sip:zoe@partner.example",
        ]),
        "--remove",
    );
    refused(
        env.run(&[
            "presence",
            "contacts",
            ALICE,
            "--add",
            "sip:dan@example.com",
            "--add",
            "dan",
        ]),
        "--add",
    );
    refused(
        env.run(&["presence", "contacts", ALICE, "--add", ALICE]),
        "--add",
    );
    let listed = env.run(&["presence", "contacts", ALICE]).expect(0).stdout;
    assert_eq!(
        listed
            .lines()
            .filter(|l| l.starts_with("  "))
            .collect::<Vec<_>>(),
        ["  sip:bob@example.com", "  sip:carol@example.com"],
        "refused changes wrote nothing: {listed}"
    );
    assert!(show(&env, &[]).contains("contacts:     2 (list sip:alice-contacts@example.com)"));
}

/// An iCalendar file with one busy event around now and one cancelled one.
fn calendar_file(env: &Env) -> std::path::PathBuf {
    let stamp = |t: i64| {
        let out = std::process::Command::new("date")
            .args(["-u", "-d", &format!("@{t}"), "+%Y%m%dT%H%M%SZ"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let t = now();
    let ics = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//presence//EN\r\n\
         BEGIN:VEVENT\r\nUID:1@test\r\nDTSTAMP:{s}\r\nDTSTART:{s}\r\nDTEND:{e}\r\n\
         SUMMARY:Planning\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        s = stamp(t - 600),
        e = stamp(t + 3600),
    );
    let path = env.path("alice.ics");
    std::fs::write(&path, ics).unwrap();
    path
}

#[test]
fn a_calendar_file_puts_the_user_in_a_meeting() {
    let env = env_with_alice();
    let file = calendar_file(&env);
    let file = file.to_str().unwrap();
    env.run(&["presence", "calendar", ALICE, "--file", file])
        .expect(0);
    let out = show(&env, &[]);
    assert!(out.contains("availability: busy"), "{out}");
    assert!(out.contains("in a meeting: yes"), "{out}");
    assert!(
        out.contains(&format!("calendar:   {file} (busy now)")),
        "{out}"
    );

    refused(
        env.run(&[
            "presence",
            "calendar",
            ALICE,
            "--url",
            "ftp://cal.example.com/a.ics",
        ]),
        "--url",
    );
    refused(
        env.run(&[
            "presence",
            "calendar",
            ALICE,
            "--file",
            "/nonexistent/a.ics",
        ]),
        "--file",
    );
    let not_ics = env.path("notes.txt");
    std::fs::write(&not_ics, "shopping list").unwrap();
    refused(
        env.run(&[
            "presence",
            "calendar",
            ALICE,
            "--file",
            not_ics.to_str().unwrap(),
        ]),
        "--file",
    );
    let shown = env.run(&["presence", "calendar", ALICE]).expect(0).stdout;
    assert!(shown.contains(file), "refusals kept the file: {shown}");

    // The same calendar served over HTTP on loopback: `presence show` fetches it.
    let ics = std::fs::read_to_string(file).unwrap();
    let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/alice.ics", http.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in http.incoming() {
            let Ok(mut c) = conn else { break };
            let mut req = [0u8; 2048];
            let _ = std::io::Read::read(&mut c, &mut req);
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{ics}",
                ics.len()
            );
            let _ = std::io::Write::write_all(&mut c, resp.as_bytes());
        }
    });
    env.run(&["presence", "calendar", ALICE, "--url", &url])
        .expect(0);
    let out = show(&env, &[]);
    assert!(out.contains("in a meeting: yes"), "{out}");
    assert!(
        out.contains(&format!("calendar:   {url} (busy now)")),
        "{out}"
    );
    env.run(&["presence", "calendar", ALICE, "--clear"])
        .expect(0);
    assert!(show(&env, &[]).contains("calendar:   none"));
}

#[test]
fn live_state_in_the_store_is_aggregated() {
    let env = env_with_alice();
    let t = now();
    with_store(&env, async |store| {
        let alice = sb_store::SipAddress::parse(ALICE).unwrap();
        let body = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/pidf/sample.pidf"
        ))
        .unwrap_or_else(|_| {
            "<?xml version=\"1.0\"?><presence xmlns=\"urn:ietf:params:xml:ns:pidf\" \
             entity=\"sip:alice@example.com\"><tuple id=\"t1\"><status><basic>open</basic>\
             </status></tuple></presence>"
                .into()
        });
        let publication = sb_store::Publication {
            entity: alice.clone(),
            etag: "e1".into(),
            expires_at: t + 3600,
            body,
            updated_at: t,
        };
        store.put_publication(&publication, None).await.unwrap();
        let stale = sb_store::Publication {
            etag: "e0".into(),
            expires_at: t - 10,
            ..publication
        };
        store.put_publication(&stale, None).await.unwrap();
        store
            .set_in_call(&sb_store::InCallFlag {
                address: alice,
                in_call: true,
                updated_at: t,
            })
            .await
            .unwrap();
    });
    let out = show(&env, &[]);
    assert!(out.contains("availability: busy"), "{out}");
    assert!(out.contains("activities:   on-the-phone"), "{out}");
    assert!(
        out.contains("published:  1 document(s)"),
        "expired one left out: {out}"
    );
    assert!(out.contains("in a call:  yes"), "{out}");
    let doc: serde_json::Value = serde_json::from_str(&show(&env, &["--json"])).unwrap();
    assert_eq!(doc["state"]["availability"], "busy");
    assert_eq!(doc["state"]["in_call"], true);
    assert_eq!(doc["contact_list"]["uri"], "sip:alice-contacts@example.com");

    let colleague = show(&env, &["--as", "sip:bob@example.com"]);
    assert!(
        colleague.contains("a call from sip:bob@example.com gets the busy rule (in a call)"),
        "{colleague}"
    );
}

const SITE: &str = r#"
[site]
domains = ["example.com"]

[[site.users]]
address = "sip:alice@example.com"
contacts = ["sip:bob@example.com", "sip:max@partner.example"]
access = { "sip:boss@example.com" = "team", "example.com" = "colleagues", "everyone" = "public" }
calendar = "http://127.0.0.1:9/alice.ics"

[[site.users]]
address = "sip:bob@example.com"
"#;

#[test]
fn the_site_file_provisions_contacts_access_and_calendar() {
    let env = Env::sqlite();
    let first = env.site_apply(SITE).expect(0);
    assert!(first.stdout.contains("presence 3 added"), "{first:?}");
    let second = env.site_apply(SITE).expect(0);
    assert!(second.stdout.contains("(nothing to change)"), "{second:?}");

    let contacts = env.run(&["presence", "contacts", ALICE]).expect(0).stdout;
    assert!(
        contacts.contains("  sip:bob@example.com\n  sip:max@partner.example"),
        "{contacts}"
    );
    let access = env.run(&["presence", "access", ALICE]).expect(0).stdout;
    for (w, l) in [
        ("sip:boss@example.com", "team"),
        ("example.com", "colleagues"),
        ("everyone", "public"),
    ] {
        let line = access
            .lines()
            .find(|x| x.starts_with(w))
            .unwrap_or_default();
        assert!(line.ends_with(l), "{w} {l}: {access}");
    }
    let boss = show(&env, &["--as", "sip:boss@example.com"]);
    assert!(boss.contains("level team"), "{boss}");

    // The whole set: a watcher left out loses their rule; a bad entry changes nothing.
    let fewer = SITE.replace(", \"everyone\" = \"public\"", "");
    let r = env.site_apply(&fewer).expect(0);
    assert!(
        r.stdout
            .contains("presence 0 added, 1 changed, 2 unchanged"),
        "{r:?}"
    );
    let bad = SITE
        .replace("\"team\"", "\"boss\"")
        .replace("sip:max@partner.example", "max");
    let r = env.site_apply(&bad).expect(1);
    assert!(r.stderr.contains("site.users[0].contacts:"), "{r:?}");
    let r = env
        .site_apply(&SITE.replace("\"team\"", "\"boss\""))
        .expect(1);
    assert!(
        r.stderr
            .contains("site.users[0].access: \"sip:boss@example.com\""),
        "{r:?}"
    );
    let access = env.run(&["presence", "access", ALICE]).expect(0).stdout;
    assert!(!access.contains("everyone"), "{access}");
    assert!(access.contains("team"), "{access}");
}

#[path = "../../store/tests/support/postgres.rs"]
mod postgres;

/// The same commands on PostgreSQL (a throw-away server on loopback; skipped loudly
/// without PostgreSQL, required under `CI=true`).
#[test]
fn presence_commands_on_postgres() {
    let url = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(postgres::database_for("presence_cli"));
    let Some(url) = url else {
        return;
    };
    let env = Env::postgres(&url);
    env.site_apply(SITE).expect(0);
    env.run(&[
        "presence",
        "set",
        ALICE,
        "--state",
        "dnd",
        "--note",
        "on a deadline",
    ])
    .expect(0);
    env.run(&[
        "presence",
        "contacts",
        ALICE,
        "--remove",
        "sip:bob@example.com",
    ])
    .expect(0);
    let out = show(&env, &[]);
    assert!(out.contains("availability: do not disturb"), "{out}");
    assert!(out.contains("contacts:     1 (list"), "{out}");
    let boss = show(&env, &["--as", "sip:boss@example.com"]);
    assert!(
        boss.contains("on a deadline") && boss.contains("rings"),
        "{boss}"
    );
    let stranger = show(&env, &["--as", "sip:max@partner.example"]);
    assert!(!stranger.contains("on a deadline"), "{stranger}");
    assert!(!env.data().join("switchboard.db").exists());
}

#[test]
fn route_explain_shows_the_presence_it_used() {
    let env = env_with_alice();
    env.run(&["presence", "set", "sip:bob@example.com", "--state", "dnd"])
        .expect(0);
    let explain =
        |from: &str| env.run(&["route", "explain", "--from", from, "sip:bob@example.com"]);
    let r = explain(ALICE).expect(1);
    assert!(
        r.stdout
            .contains("presence   sip:bob@example.com: do not disturb -> unavailable"),
        "{r:?}"
    );
    assert!(r.stderr.contains("480 do not disturb"), "{r:?}");

    // A team member gets through do not disturb (bob has no device, so 480 still, but
    // for that reason).
    env.run(&[
        "presence",
        "access",
        "sip:bob@example.com",
        "--watcher",
        ALICE,
        "--level",
        "team",
    ])
    .expect(0);
    let r = explain(ALICE).expect(1);
    assert!(
        r.stdout
            .contains("do not disturb -> the caller passes do not disturb: ring"),
        "{r:?}"
    );
    assert!(r.stderr.contains("is not signed in"), "{r:?}");
}
