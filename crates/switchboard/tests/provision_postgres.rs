//! The provisioning CLI against PostgreSQL: the same round trip as on SQLite, on a
//! throw-away server (Debian's `postgresql`) started on loopback by the store's own test
//! harness. Without PostgreSQL this fails under `CI=true` and is skipped, loudly, elsewhere.

mod provision_support;

#[path = "../../store/tests/support/postgres.rs"]
mod postgres;

use provision_support::{users_csv, Env};

fn database(test: &str) -> Option<String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(postgres::database_for(test))
}

#[test]
fn user_commands_round_trip_on_postgres() {
    let Some(url) = database("cli_round_trip") else {
        return;
    };
    let env = Env::postgres(&url);
    provision_support::round_trip(&env);
    // Nothing was written under the data directory: the data lives in PostgreSQL.
    assert!(!env.data().join("switchboard.db").exists());
}

#[test]
fn import_and_site_apply_on_postgres() {
    let Some(url) = database("cli_import") else {
        return;
    };
    let env = Env::postgres(&url);
    let csv = env.path("users.csv");
    users_csv(&csv, 2000);
    let r = env
        .run(&["user", "import", csv.to_str().unwrap()])
        .expect(0);
    assert!(r.stdout.contains("2000 added"), "{r:?}");
    let site = "[site]\ndomains = [\"example.org\"]\n[[site.users]]\naddress = \"sip:u7@example.org\"\nname = \"Seven\"\n";
    let first = env.site_apply(site).expect(0);
    assert!(
        first.stdout.contains("users 0 added, 1 changed"),
        "{first:?}"
    );
    assert!(
        first
            .stdout
            .contains("1999 users in the store are not in the site file"),
        "{first:?}"
    );
    let second = env.site_apply(site).expect(0);
    assert!(second.stdout.contains("(nothing to change)"), "{second:?}");
    let show = env.run(&["user", "show", "sip:u7@example.org"]).expect(0);
    assert!(show.stdout.contains("name:      Seven"), "{}", show.stdout);
    assert!(show.stdout.contains("tel:+12060000007"), "{}", show.stdout);
}
