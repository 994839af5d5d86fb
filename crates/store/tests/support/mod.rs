//! What the behaviour tests run against: a fresh store of either backend that can be
//! opened more than once (to reopen after a restart, or as a second writer).

pub mod postgres;
pub mod presence;
pub mod suite;

use std::sync::Arc;

use sb_store::{
    Binding, Domain, DomainName, LineUri, PgStore, SipAddress, SqliteStore, Store, User,
};

/// A fresh, empty database of one backend.
pub enum Fixture {
    /// A SQLite file in a temporary directory.
    Sqlite(tempfile::TempDir),
    /// A database of its own on the shared test server.
    Postgres(String),
}

impl Fixture {
    pub fn sqlite() -> Fixture {
        Fixture::Sqlite(tempfile::tempdir().expect("temp dir"))
    }

    /// `None` when PostgreSQL is absent on a developer machine (the harness says so).
    pub async fn postgres(test: &str) -> Option<Fixture> {
        postgres::database_for(test).await.map(Fixture::Postgres)
    }

    /// A new handle with its own connection pool on the same database.
    pub async fn open(&self) -> Arc<dyn Store> {
        match self {
            Fixture::Sqlite(dir) => Arc::new(SqliteStore::open_dir(dir.path()).await.unwrap()),
            Fixture::Postgres(url) => Arc::new(PgStore::connect(url).await.unwrap()),
        }
    }
}

pub fn addr(s: &str) -> SipAddress {
    SipAddress::parse(s).unwrap()
}

pub fn domain(s: &str) -> Domain {
    Domain {
        name: DomainName::parse(s).unwrap(),
    }
}

/// A user with a display name and, if given, a line URI.
pub fn user(address: &str, line: Option<&str>) -> User {
    let mut u = User::new(addr(address));
    u.display_name = format!("User {}", u.address.user());
    u.line_uri = line.map(|l| LineUri::parse(l).unwrap());
    u
}

/// A binding as a registrar would write it after a REGISTER over UDP.
pub fn binding(aor: &str, contact: &str, expires_at: i64) -> Binding {
    Binding {
        aor: addr(aor),
        key: Binding::default_key(contact, None, None),
        contact: contact.to_owned(),
        q: None,
        expires_at,
        call_id: format!("call-{contact}"),
        cseq: 1,
        instance_id: None,
        reg_id: None,
        transport: "udp".into(),
        source: "192.0.2.10:5060".into(),
        received: None,
        path: vec![],
        updated_at: expires_at - 3600,
    }
}
