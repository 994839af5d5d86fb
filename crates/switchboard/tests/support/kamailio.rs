//! Kamailio (Debian's package) as the IP-PBX of the co-existence tests, with the
//! configuration in `tests/kamailio/pbx.cfg`: it forks a call for its extension to its own
//! desk phone and back to Switchboard, and relays its users' calls to Switchboard without
//! a mark. Started in the foreground (`-DD -E`, log to a file) on a free loopback UDP port
//! in its own process group; stopped by signalling that group (the main process and the
//! workers it forked), never by name.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, Dir};

/// Where the PBX sends what it forks.
pub struct PbxPlan<'a> {
    /// Switchboard's SIP port on 127.0.0.1: requests from there come from Switchboard.
    pub switchboard_port: u16,
    /// The extension (the user part Switchboard's INVITE must carry), e.g. `4567`.
    pub extension: &'a str,
    /// The PBX's own phone for that extension, e.g. `sip:4567@127.0.0.1:PORT`.
    pub desk: &'a str,
    /// Where the PBX forks the call back to: the user's number at Switchboard.
    pub back: &'a str,
}

pub struct Kamailio {
    child: Child,
    pub port: u16,
    dir: Dir,
    ctl: String,
}

impl Kamailio {
    /// Starts Kamailio as the PBX of `plan` on a free port and waits until its control
    /// socket answers (the workers are up by then).
    pub fn start_pbx(plan: &PbxPlan<'_>) -> Kamailio {
        Kamailio::start_pbx_on(free_port(), plan)
    }

    /// [`Kamailio::start_pbx`] on a given port (the test wrote it into a `[[trunks]]`
    /// entry before starting anything).
    pub fn start_pbx_on(port: u16, plan: &PbxPlan<'_>) -> Kamailio {
        let dir = Dir::new("kamailio");
        let ctl = format!("unix:{}", dir.path().join("ctl.sock").display());
        let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kamailio/pbx.cfg");
        let log = std::fs::File::create(dir.path().join("kamailio.log")).unwrap();
        let run = dir.path().display().to_string();
        let child = Command::new("kamailio")
            .arg("-f")
            .arg(&cfg)
            .args(["-DD", "-E", "-m", "32", "-M", "4"])
            .args(["-l", &format!("udp:127.0.0.1:{port}")])
            .args(["-Y", &run, "-w", &run])
            .arg("-A")
            .arg("SB_IP=\"127.0.0.1\"")
            .arg("-A")
            .arg(format!("SB_PORT={}", plan.switchboard_port))
            .arg("-A")
            .arg(format!("EXT=\"{}\"", plan.extension))
            .arg("-A")
            .arg(format!("DESK=\"{}\"", plan.desk))
            .arg("-A")
            .arg(format!("BACK=\"{}\"", plan.back))
            .arg("-A")
            .arg(format!("CTL=\"{ctl}\""))
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start kamailio (install Debian's kamailio)");
        let mut k = Kamailio {
            child,
            port,
            dir,
            ctl,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = k.child.try_wait().unwrap() {
                panic!("kamailio exited early ({status}):\n{}", k.log());
            }
            if k.rpc("core.uptime").is_some() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "kamailio not ready within 60 s:\n{}",
                k.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        k
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("kamailio.log")).unwrap_or_default()
    }

    /// The script's log lines that start with `tag` (`PBX-INVITE`, `PBX-FORK`,
    /// `PBX-CANCEL`, `PBX-OUT`), from the tag on.
    pub fn lines(&self, tag: &str) -> Vec<String> {
        self.log()
            .lines()
            .filter_map(|l| l.find(tag).map(|i| l[i..].to_string()))
            .filter(|l| l.starts_with(&format!("{tag} ")))
            .collect()
    }

    /// A management command over the control socket (`kamcmd`); `None` if it failed.
    pub fn rpc(&self, command: &str) -> Option<String> {
        let out = Command::new("kamcmd")
            .args(["-s", &self.ctl, command])
            .stdin(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Transactions tm holds right now (`tm.stats` "current").
    pub fn transactions(&self) -> Option<u64> {
        let stats = self.rpc("tm.stats")?;
        stats.lines().find_map(|l| {
            let (k, v) = l.trim().split_once(':')?;
            (k.trim() == "current").then(|| v.trim().parse().ok())?
        })
    }

    /// Waits until tm holds no transaction (every branch got its final answer and the
    /// wait timer ran out); panics with `tm.stats` and the log otherwise.
    pub fn wait_drained(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while self.transactions() != Some(0) {
            assert!(
                Instant::now() < deadline,
                "Kamailio still holds transactions after {within:?}:\n{}\n--- log ---\n{}",
                self.rpc("tm.stats").unwrap_or_default(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        // The group we created at spawn: Kamailio's main process and its workers.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let stopped = wait_for_exit(&mut self.child, Duration::from_secs(10));
        if !stopped {
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = self.child.wait();
        }
        // Workers can outlive the main process by a moment; make sure none is left.
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
    }
}

fn wait_for_exit(child: &mut Child, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
