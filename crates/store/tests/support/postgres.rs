//! A throw-away PostgreSQL server for the test binary: Debian's `postgresql` package,
//! `initdb` into a temporary directory, started on a free loopback port, shared by every
//! test in the binary (each test gets its own database) and stopped by pid when the binary
//! exits.
//!
//! Without PostgreSQL installed the tests fail under `CI=true` and are skipped, loudly,
//! elsewhere.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long the server may take to start accepting connections.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// How long it may take to stop after SIGINT (fast shutdown) before it is killed.
const STOP_DEADLINE: Duration = Duration::from_secs(20);

/// The running server, stopped by [`stop_at_exit`] (a static is never dropped).
static SERVER: Mutex<Option<PgServer>> = Mutex::new(None);
/// The outcome of the one start attempt: the port, or why there is no server.
static STARTED: OnceLock<Result<u16, NoServer>> = OnceLock::new();

#[derive(Debug, Clone)]
enum NoServer {
    /// PostgreSQL is not installed.
    Absent(String),
    /// It is installed but did not start.
    Failed(String),
}

/// A PostgreSQL server in a temporary directory; dropping it stops the server.
struct PgServer {
    pid: u32,
    dir: tempfile::TempDir,
}

extern "C" {
    fn atexit(callback: extern "C" fn()) -> std::os::raw::c_int;
    fn geteuid() -> u32;
}

extern "C" fn stop_at_exit() {
    if let Ok(mut server) = SERVER.lock() {
        server.take();
    }
}

/// The URL of a fresh, empty database named after the test, on the shared server; `None`
/// (after a loud message) when PostgreSQL is not installed and this is not CI.
pub async fn database_for(test: &str) -> Option<String> {
    let started = STARTED.get_or_init(|| {
        let server = start()?;
        let port = server.port();
        *SERVER.lock().expect("server lock") = Some(server);
        // SAFETY: registers a plain function with no arguments; it runs at process exit.
        let rc = unsafe { atexit(stop_at_exit) };
        assert_eq!(rc, 0, "atexit registration failed");
        Ok(port)
    });
    let port = match started {
        Ok(port) => *port,
        Err(NoServer::Failed(why)) => panic!("PostgreSQL did not start: {why}"),
        Err(NoServer::Absent(why)) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("PostgreSQL is required in CI: {why}");
            }
            eprintln!(
                "\n!!! SKIPPING PostgreSQL test {test}: {why}\n!!! install it with \
                 scripts/install-deps.sh (Debian package postgresql)\n"
            );
            return None;
        }
    };
    let admin = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let db = format!("t_{test}");
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to the test server");
    sqlx::query(&format!("CREATE DATABASE \"{db}\""))
        .execute(&mut conn)
        .await
        .expect("create the test database");
    conn.close().await.expect("close the admin connection");
    Some(format!("postgres://postgres@127.0.0.1:{port}/{db}"))
}

/// The server binaries: Debian puts them under /usr/lib/postgresql/VERSION/bin.
fn bin_dir() -> Result<PathBuf, NoServer> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| NoServer::Absent(format!("/usr/lib/postgresql: {e}")))?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    // Newest version last; the directory names are the major versions.
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found
        .pop()
        .ok_or_else(|| NoServer::Absent("no initdb under /usr/lib/postgresql/*/bin".into()))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { geteuid() == 0 }
}

/// Runs a PostgreSQL tool; as root it runs as the `postgres` user, which the tools require.
fn run(tool: &Path, args: &[&str]) -> Result<(), NoServer> {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(tool);
        c
    } else {
        Command::new(tool)
    };
    let out = cmd
        .args(args)
        .output()
        .map_err(|e| NoServer::Failed(format!("{}: {e}", tool.display())))?;
    if !out.status.success() {
        return Err(NoServer::Failed(format!(
            "{} {args:?}: {}\n{}{}",
            tool.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

fn start() -> Result<PgServer, NoServer> {
    let bin = bin_dir()?;
    let failed = |what: &str, e: std::io::Error| NoServer::Failed(format!("{what}: {e}"));
    // As root the server runs as `postgres`, which must reach the directory: /tmp, not
    // a TMPDIR that may sit under root's home.
    let parent = if is_root() {
        PathBuf::from("/tmp")
    } else {
        std::env::temp_dir()
    };
    let dir = tempfile::Builder::new()
        .prefix("sb-store-pg")
        .tempdir_in(parent)
        .map_err(|e| failed("temp dir", e))?;
    if is_root() {
        let status = Command::new("chown")
            .arg("postgres:postgres")
            .arg(dir.path())
            .status()
            .map_err(|e| failed("chown", e))?;
        if !status.success() {
            return Err(NoServer::Failed(format!("chown postgres {status}")));
        }
    }
    let data = dir.path().join("data");
    let data_s = data.to_str().expect("temp paths are UTF-8");
    let dir_s = dir.path().to_str().expect("temp paths are UTF-8");
    run(
        &bin.join("initdb"),
        &[
            "-D",
            data_s,
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
    )?;
    let log = format!("{dir_s}/server.log");
    // The free port may be taken by someone else before the server binds it: try again
    // on another.
    let mut attempts = 0;
    let port = loop {
        let port = free_port();
        // fsync off: a test database never needs to survive a crash.
        let options = format!("-k {dir_s} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off");
        let args = [
            "-D", data_s, "-l", &log, "-w", "-t", "60", "-o", &options, "start",
        ];
        match run(&bin.join("pg_ctl"), &args) {
            Ok(()) => break port,
            Err(NoServer::Failed(why)) if attempts == 2 => {
                return Err(NoServer::Failed(format!(
                    "{why}\nserver log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )))
            }
            Err(_) => attempts += 1,
        }
    };
    // postmaster.pid: first line is the pid, fourth the port.
    let pidfile = std::fs::read_to_string(data.join("postmaster.pid"))
        .map_err(|e| failed("postmaster.pid", e))?;
    let pid: u32 = pidfile
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| NoServer::Failed(format!("bad postmaster.pid: {pidfile:?}")))?;
    let server = PgServer { pid, dir };
    let deadline = Instant::now() + START_DEADLINE;
    while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        if Instant::now() > deadline {
            return Err(NoServer::Failed(format!(
                "port {port} not accepting after {START_DEADLINE:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.port(), port);
    Ok(server)
}

impl PgServer {
    fn port(&self) -> u16 {
        let pidfile = std::fs::read_to_string(self.dir.path().join("data/postmaster.pid"))
            .unwrap_or_default();
        pidfile
            .lines()
            .nth(3)
            .and_then(|l| l.trim().parse().ok())
            .expect("port in postmaster.pid")
    }

    /// Whether the process still runs (a zombie left for a non-reaping init counts as gone).
    fn alive(&self) -> bool {
        match std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) {
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
            Err(_) => false,
        }
    }

    fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([sig, &self.pid.to_string()])
            .status();
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        // SIGINT is PostgreSQL's fast shutdown: roll back and exit.
        self.signal("-INT");
        let deadline = Instant::now() + STOP_DEADLINE;
        while self.alive() {
            if Instant::now() > deadline {
                self.signal("-KILL");
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
