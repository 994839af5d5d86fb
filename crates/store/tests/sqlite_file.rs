//! What only the embedded backend has: a file under the data directory that another
//! process (the CLI) writes while the server holds it open.

use std::process::Command;

use sb_store::{Change, Domain, DomainName, SipAddress, SqliteStore, Store, User};

const CHILD_DB: &str = "SB_STORE_CHILD_DB";
const CHILD_USERS: usize = 50;

fn user(i: usize, who: &str) -> User {
    User::new(SipAddress::parse(&format!("sip:{who}{i}@example.com")).unwrap())
}

#[tokio::test]
async fn data_dir_holds_switchboard_db_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("switchboard-data");
    let store = SqliteStore::open_dir(&data).await.unwrap();
    assert_eq!(store.path(), data.join("switchboard.db"));
    assert!(data.join("switchboard.db").is_file());
    store.close().await;

    use sqlx::Connection as _;
    let mut conn = sqlx::SqliteConnection::connect(&format!(
        "sqlite:{}",
        data.join("switchboard.db").display()
    ))
    .await
    .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn open_url_picks_the_backend() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.db");
    let store = sb_store::open_url(&format!("sqlite:{}", file.display()))
        .await
        .unwrap();
    assert_eq!(store.backend(), sb_store::BackendKind::Sqlite);
    store
        .add_domain(&Domain {
            name: DomainName::parse("example.com").unwrap(),
        })
        .await
        .unwrap();
    store.close().await;
    // A bare path opens the same file.
    let again = sb_store::open_url(file.to_str().unwrap()).await.unwrap();
    assert_eq!(again.list_domains().await.unwrap().len(), 1);

    let empty = sb_store::open_url("sqlite:").await.unwrap_err();
    assert!(
        empty.to_string().starts_with("invalid store url"),
        "{empty}"
    );
}

/// Runs inside the child process started by the test below: a second program writing
/// the same file, as the CLI does while the server runs.
#[tokio::test]
#[ignore = "started as a child process by another_process_writes_while_the_store_is_open"]
async fn child_writer() {
    let path = std::env::var(CHILD_DB).expect("run by the parent test");
    let store = SqliteStore::open(path.as_ref()).await.unwrap();
    for i in 0..CHILD_USERS {
        store.add_user(&user(i, "child")).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_writes_while_the_store_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let server = SqliteStore::open_dir(dir.path()).await.unwrap();
    server
        .add_domain(&Domain {
            name: DomainName::parse("example.com").unwrap(),
        })
        .await
        .unwrap();
    let seen = server.generation().await.unwrap();

    let db = server.path().to_owned();
    let child = tokio::task::spawn_blocking(move || {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_writer", "--ignored", "--test-threads=1"])
            .env(CHILD_DB, db)
            .output()
            .unwrap()
    });
    // The server writes at the same time; neither side may fail on the lock.
    for i in 0..CHILD_USERS {
        server
            .apply_batch(vec![Change::AddUser(user(i, "server"))])
            .await
            .unwrap();
    }
    let out = child.await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("test child_writer ... ok"),
        "child failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert_eq!(
        server.generation().await.unwrap(),
        seen + 2 * CHILD_USERS as i64
    );
    assert_eq!(
        server.count_users(None).await.unwrap(),
        2 * CHILD_USERS as u64
    );
    assert!(server
        .get_user(&user(7, "child").address)
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn a_row_edited_by_hand_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_dir(dir.path()).await.unwrap();
    store
        .add_domain(&Domain {
            name: DomainName::parse("example.com").unwrap(),
        })
        .await
        .unwrap();
    store.add_user(&user(1, "alice")).await.unwrap();

    use sqlx::Connection as _;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite:{}", store.path().display()))
        .await
        .unwrap();
    sqlx::query("UPDATE users SET line_uri = 'tel:12345'")
        .execute(&mut conn)
        .await
        .unwrap();
    let err = store.get_user(&user(1, "alice").address).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("stored users.line_uri is unreadable"),
        "{err}"
    );
    assert!(!err.is_caller_fault());
}
