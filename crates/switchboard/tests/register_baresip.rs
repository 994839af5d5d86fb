//! baresip (Debian's `baresip` 1.0) registers with a password over UDP, TCP and TLS,
//! refreshes, and unregisters when it quits; two baresip instances of one user are two
//! devices, both listed by the registrar and by `switchboard user show`.
//!
//! baresip 1.0's SIP stack answers MD5 challenges only and gives up on a response that
//! also carries a SHA-256 challenge (it does not skip algorithms it lacks, as RFC 8760
//! §2.4 asks). The servers here run the default `[auth] algorithms` (MD5 alone, for
//! exactly such clients), so these tests also prove the defaults work with it.
//!
//! Each baresip runs with its own config directory and ports, is stopped with SIGINT (it
//! unregisters, then exits) and killed by pid if it outlives the test.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{free_port, wait_for, Dir, Server, Site};

/// Short registrations so a refresh comes within seconds.
const SITE: &str = "[registrar]\nmin_expires = 5\n";
const REGINT: u32 = 6;

#[derive(Clone, Copy, Debug)]
enum Tr {
    Udp,
    Tcp,
    Tls,
}

impl Tr {
    fn name(self) -> &'static str {
        match self {
            Tr::Udp => "udp",
            Tr::Tcp => "tcp",
            Tr::Tls => "tls",
        }
    }
}

struct Baresip {
    child: Child,
    dir: Dir,
    /// The port in baresip's Contact.
    port: u16,
}

impl Baresip {
    fn start(site: &Site, tr: Tr, password: &str) -> Baresip {
        let dir = Dir::new("baresip");
        let port = free_port();
        let ctrl = free_port();
        let config = format!(
            "module_path /usr/lib/baresip/modules\n\
             sip_listen 127.0.0.1:{port}\n\
             sip_cafile {cafile}\n\
             module g711.so\n\
             module_app account.so\n\
             module_app menu.so\n\
             module_app ctrl_tcp.so\n\
             ctrl_tcp_listen 127.0.0.1:{ctrl}\n\
             audio_player aubridge,nil\n\
             audio_source aubridge,nil\n",
            cafile = site.cert().display(),
        );
        std::fs::write(dir.path().join("config"), config).unwrap();
        let server_port = match tr {
            Tr::Tls => site.tls_port,
            _ => site.sip_port,
        };
        let t = tr.name();
        let account = format!(
            "<sip:alice@127.0.0.1;transport={t}>;auth_pass={password};regint={REGINT};\
             outbound=\"sip:127.0.0.1:{server_port};transport={t}\"\n"
        );
        std::fs::write(dir.path().join("accounts"), account).unwrap();
        let log = std::fs::File::create(dir.path().join("baresip.log")).unwrap();
        let child = Command::new("baresip")
            .arg("-f")
            .arg(dir.path())
            .arg("-s")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start baresip (install Debian's baresip)");
        // baresip listens for TLS one port above `sip_listen`, and says so in Contact.
        let port = match tr {
            Tr::Tls => port + 1,
            _ => port,
        };
        Baresip { child, dir, port }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("baresip.log")
    }

    /// REGISTER transactions that ended in 200 with a non-zero expiry, as baresip's SIP
    /// trace shows them.
    fn registered(&self) -> usize {
        let log = self.log();
        log.split("SIP/2.0 200 OK")
            .skip(1)
            .filter(|resp| {
                let head = resp.split("\r\n\r\n").next().unwrap_or(resp);
                let head = head.split("\n\n").next().unwrap_or(head);
                head.contains("REGISTER") && head.contains(&format!(":{}", self.port))
            })
            .count()
    }

    /// SIGINT: baresip unregisters, then exits. Waits for it.
    fn quit(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "baresip did not quit:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.log()
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn registrations(server: &Server) -> f64 {
    server.metric("sip_registrations").unwrap_or(-1.0)
}

fn registers_refreshes_and_unregisters(tr: Tr) {
    let site = Site::new(tr.name(), SITE);
    site.add_user("sip:alice@127.0.0.1", "pw-alice-1");
    let server = site.start();
    let phone = Baresip::start(&site, tr, "pw-alice-1");
    let ctx = |phone: &Baresip| {
        format!(
            "--- baresip ---\n{}\n--- server ---\n{}",
            phone.log(),
            server.log()
        )
    };
    let started = Instant::now();
    while phone.registered() < 1 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not registered within 30 s\n{}",
            ctx(&phone)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(registrations(&server), 1.0, "{}", ctx(&phone));
    let shown = site.cli(&["user", "show", "sip:alice@127.0.0.1"]);
    assert!(shown.contains("registrations: 1"), "{shown}");
    assert!(
        shown.contains(&format!("127.0.0.1:{}", phone.port)),
        "{shown}"
    );
    assert!(shown.contains(tr.name()), "{shown}");
    // A refresh: a second successful REGISTER within the registration interval.
    let started = Instant::now();
    let deadline = Duration::from_secs(u64::from(REGINT) * 3);
    while phone.registered() < 2 {
        assert!(
            started.elapsed() < deadline,
            "no refresh within {deadline:?}\n{}",
            ctx(&phone)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(registrations(&server), 1.0, "a refresh replaces, not adds");
    // Quitting unregisters: the binding is gone from the server and the store.
    let log = phone.quit();
    wait_for("the binding to go", Duration::from_secs(10), || {
        (registrations(&server) == 0.0).then_some(())
    });
    let shown = site.cli(&["user", "show", "sip:alice@127.0.0.1"]);
    assert!(shown.contains("registrations: 0"), "{shown}\n{log}");
}

#[test]
fn baresip_over_udp() {
    registers_refreshes_and_unregisters(Tr::Udp);
}

#[test]
fn baresip_over_tcp() {
    registers_refreshes_and_unregisters(Tr::Tcp);
}

#[test]
fn baresip_over_tls() {
    registers_refreshes_and_unregisters(Tr::Tls);
}

#[test]
fn baresip_wrong_password_is_not_registered() {
    let site = Site::new("badpw", SITE);
    site.add_user("sip:alice@127.0.0.1", "pw-alice-1");
    let server = site.start();
    let phone = Baresip::start(&site, Tr::Udp, "not-the-password");
    wait_for("two refusals", Duration::from_secs(30), || {
        (phone.log().matches("SIP/2.0 401 Unauthorized").count() >= 2).then_some(())
    });
    assert_eq!(phone.registered(), 0, "{}", phone.log());
    assert_eq!(registrations(&server), 0.0);
}

#[test]
fn two_devices_of_one_user_are_both_listed() {
    let site = Site::new("devices", SITE);
    site.add_user("sip:alice@127.0.0.1", "pw-alice-1");
    let server = site.start();
    let desk = Baresip::start(&site, Tr::Udp, "pw-alice-1");
    let laptop = Baresip::start(&site, Tr::Tcp, "pw-alice-1");
    wait_for("both devices", Duration::from_secs(30), || {
        (desk.registered() >= 1 && laptop.registered() >= 1).then_some(())
    });
    wait_for("two bindings", Duration::from_secs(10), || {
        (registrations(&server) == 2.0).then_some(())
    });
    let shown = site.cli(&["user", "show", "sip:alice@127.0.0.1"]);
    assert!(shown.contains("registrations: 2"), "{shown}");
    for port in [desk.port, laptop.port] {
        assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");
    }
    // One device leaves; the other stays.
    desk.quit();
    wait_for("one binding", Duration::from_secs(10), || {
        (registrations(&server) == 1.0).then_some(())
    });
    let shown = site.cli(&["user", "show", "sip:alice@127.0.0.1"]);
    assert!(
        shown.contains(&format!("127.0.0.1:{}", laptop.port)),
        "{shown}"
    );
    assert!(shown.contains("registrations: 1"), "{shown}");
}
