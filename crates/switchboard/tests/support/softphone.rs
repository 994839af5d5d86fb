//! Media tests with real softphones: baresip (Debian's 1.0) sending a tone from a WAV file
//! and dumping what it decoded, in a network namespace the test makes for itself.
//!
//! baresip will not put `lo` in its SDP, so each media test runs in a private network
//! namespace ([`in_private_network`]) holding `lo` and a veth pair with 127.0.0.2: the
//! phones' media goes to 127.0.0.2, their signalling and the server stay on 127.0.0.1, and
//! nothing leaves the namespace. A namespace per test also means each test has all the
//! ports to itself.
//!
//! Audio is checked as audio: each phone plays its own tone, the `sndfile` module writes
//! what the phone decoded to a WAV file, and [`tone_share`] tells how much of it is the
//! other party's tone (a Goertzel filter).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Dir, Site};

/// The interface with the media address inside the namespace.
pub const MEDIA_IF: &str = "sbm0";
/// The address baresip puts in its SDP.
pub const MEDIA_ADDR: &str = "127.0.0.2";

/// Runs `f` on a thread of its own inside a new network namespace with `lo` up and
/// [`MEDIA_IF`] holding [`MEDIA_ADDR`]. Every process `f` starts inherits the namespace,
/// so they see each other and nothing else. Needs root (CAP_SYS_ADMIN), as CI has. A
/// panic in `f` is re-raised here, so the test fails with its message.
pub fn in_private_network<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let worker = std::thread::spawn(move || {
        // SAFETY: unshare(2) with CLONE_NEWNET only moves this thread into a new network
        // namespace; it touches no memory of ours.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(
            rc,
            0,
            "a media test makes its own network namespace and needs root for it: unshare: {}",
            std::io::Error::last_os_error()
        );
        for args in [
            vec!["link", "set", "lo", "up"],
            vec![
                "link", "add", MEDIA_IF, "type", "veth", "peer", "name", "sbm1",
            ],
            vec!["addr", "add", "127.0.0.2/32", "dev", MEDIA_IF],
            vec!["link", "set", MEDIA_IF, "up"],
            vec!["link", "set", "sbm1", "up"],
        ] {
            let status = Command::new("ip")
                .args(&args)
                .status()
                .expect("run ip (install Debian's iproute2)");
            assert!(status.success(), "ip {args:?} failed in the test namespace");
        }
        f()
    });
    match worker.join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// How a phone's SIP reaches the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SipTransport {
    Udp,
    Tls,
}

/// One phone's settings.
#[derive(Clone, Debug)]
pub struct PhoneSpec {
    pub user: String,
    pub password: String,
    pub transport: SipTransport,
    /// baresip's codec name, `opus/48000/2` or `PCMU/8000`.
    pub codec: &'static str,
    /// Mandatory SDES-SRTP (`mediaenc=srtp-mand`).
    pub srtp: bool,
    /// ICE (`medianat=ice`).
    pub ice: bool,
    /// The tone this phone sends, in Hz.
    pub tone_hz: f64,
    /// Play a PSTN gateway instead of a user's phone: listen for SIP on this UDP port,
    /// never register, answer whatever INVITE arrives (`user` and `password` unused).
    pub gateway_port: Option<u16>,
}

impl PhoneSpec {
    /// A user's phone.
    pub fn user(user: &str, password: &str, transport: SipTransport, codec: &'static str) -> Self {
        PhoneSpec {
            user: user.into(),
            password: password.into(),
            transport,
            codec,
            srtp: false,
            ice: false,
            tone_hz: 1000.0,
            gateway_port: None,
        }
    }

    /// A gateway on UDP `port` speaking plain RTP with `codec`.
    pub fn gateway(name: &str, port: u16, codec: &'static str) -> Self {
        PhoneSpec {
            gateway_port: Some(port),
            ..PhoneSpec::user(name, "", SipTransport::Udp, codec)
        }
    }

    pub fn secure(mut self) -> Self {
        self.srtp = true;
        self.ice = true;
        self
    }

    pub fn tone(mut self, hz: f64) -> Self {
        self.tone_hz = hz;
        self
    }
}

/// A running baresip with a control connection, killed by pid on drop.
pub struct Softphone {
    child: Child,
    dir: Dir,
    pub spec: PhoneSpec,
    ctrl: TcpStream,
    events: Arc<Mutex<Vec<String>>>,
    token: u64,
}

impl Softphone {
    /// Writes the phone's tone, config and account, starts baresip and connects to its
    /// control port. The phone signs in through the site's server over `spec.transport`.
    pub fn start(site: &Site, spec: PhoneSpec) -> Softphone {
        let dir = Dir::new(&format!("phone-{}", spec.user));
        let tone = dir.path().join("tone.wav");
        // baresip 1.0 has no resampler: the file's rate must be the codec's.
        let rate = if spec.codec.starts_with("opus") {
            48_000
        } else {
            8_000
        };
        write_tone_wav(&tone, spec.tone_hz, 120, rate);
        let snd = dir.path().join("snd");
        std::fs::create_dir_all(&snd).unwrap();
        // baresip listens for TLS one port above its UDP/TCP port.
        // Ports outside the ephemeral range: the control connection's retries (and any
        // other outgoing connection) take ephemeral ports, and one of them took a port
        // free_port() had just handed out before baresip could bind it.
        let sip_port = spec.gateway_port.unwrap_or_else(|| quiet_port(2));
        let ctrl_port = quiet_port(1);
        let cafile = dir.path().join("ca.pem");
        std::fs::copy(site.cert(), &cafile).expect("the server's certificate (start it first)");
        let config = format!(
            "module_path /usr/lib/baresip/modules\n\
             sip_listen 127.0.0.1:{sip_port}\n\
             sip_cafile {ca}\n\
             net_interface {MEDIA_IF}\n\
             module g711.so\n\
             module opus.so\n\
             module srtp.so\n\
             module ice.so\n\
             module aufile.so\n\
             module aubridge.so\n\
             module sndfile.so\n\
             module_app account.so\n\
             module_app menu.so\n\
             module_app ctrl_tcp.so\n\
             ctrl_tcp_listen 127.0.0.1:{ctrl_port}\n\
             snd_path {snd}\n\
             audio_source aufile,{tone}\n\
             audio_player aubridge,nil\n\
             audio_alert aubridge,nil\n\
             ausrc_channels 1\n\
             auplay_channels 1\n",
            ca = cafile.display(),
            snd = snd.display(),
            tone = tone.display(),
        );
        std::fs::write(dir.path().join("config"), config).unwrap();
        let (t, server_port) = match spec.transport {
            SipTransport::Udp => ("udp", site.sip_port),
            SipTransport::Tls => ("tls", site.tls_port),
        };
        let mut params = format!(
            "auth_pass={};answermode=auto;audio_codecs={};regint=600",
            spec.password, spec.codec
        );
        if spec.srtp {
            params.push_str(";mediaenc=srtp-mand");
        }
        if spec.ice {
            params.push_str(";medianat=ice");
        }
        let account = match spec.gateway_port {
            Some(port) => format!(
                "<sip:{user}@127.0.0.1:{port};transport=udp>;answermode=auto;\
                 audio_codecs={codec};regint=0\n",
                user = spec.user,
                codec = spec.codec
            ),
            None => format!(
                "<sip:{user}@127.0.0.1;transport={t}>;{params};\
                 outbound=\"sip:127.0.0.1:{server_port};transport={t}\"\n",
                user = spec.user
            ),
        };
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
        let mut phone_child = Some(child);
        let ctrl = super::wait_for("baresip's control port", Duration::from_secs(30), || {
            if let Some(c) = phone_child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!(
                        "baresip exited ({status}):\n{}",
                        std::fs::read_to_string(dir.path().join("baresip.log")).unwrap_or_default()
                    );
                }
            }
            TcpStream::connect(("127.0.0.1", ctrl_port)).ok()
        });
        let events = Arc::new(Mutex::new(Vec::new()));
        let reader = ctrl.try_clone().unwrap();
        let sink = Arc::clone(&events);
        std::thread::spawn(move || read_netstrings(reader, sink));
        Softphone {
            child: phone_child.take().unwrap(),
            dir,
            spec,
            ctrl,
            events,
            token: 0,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("baresip.log")).unwrap_or_default()
    }

    /// Waits until its REGISTER has been accepted (the trace shows a 200 to it).
    pub fn wait_registered(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let log = self.log();
            if registered(&log) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} not registered within {within:?}:\n{log}",
                self.spec.user
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn command(&mut self, command: &str, params: &str) {
        self.token += 1;
        let body = format!(
            "{{\"command\":\"{command}\",\"params\":\"{params}\",\"token\":\"t{}\"}}",
            self.token
        );
        let frame = format!("{}:{body},", body.len());
        self.ctrl
            .write_all(frame.as_bytes())
            .expect("send to baresip");
    }

    /// Sends one of baresip's menu commands over ctrl_tcp (`hold`, `resume`,
    /// `sndcode`, ...) with its parameter text (no quotes or backslashes in it).
    pub fn send_command(&mut self, command: &str, params: &str) {
        self.command(command, params);
    }

    /// [`Softphone::wait_event`] that prints `context` (other traces, the server's log)
    /// when it fails.
    pub fn wait_event_or(
        &self,
        kind: &str,
        within: Duration,
        context: &dyn Fn() -> String,
    ) -> String {
        let needle = format!("\"type\":\"{kind}\"");
        let deadline = Instant::now() + within;
        loop {
            if let Some(e) = self.events().into_iter().find(|e| e.contains(&needle)) {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no {kind} within {within:?}; events: {:?}\n{}",
                self.spec.user,
                self.events(),
                context()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// How many events of `kind` have arrived so far.
    pub fn count_events(&self, kind: &str) -> usize {
        let needle = format!("\"type\":\"{kind}\"");
        self.events().iter().filter(|e| e.contains(&needle)).count()
    }

    /// Waits until `n` events of `kind` have arrived in all (for a phone's second or
    /// third call) and returns the `n`th.
    pub fn wait_events(&self, kind: &str, n: usize, within: Duration) -> String {
        let needle = format!("\"type\":\"{kind}\"");
        let deadline = Instant::now() + within;
        loop {
            if let Some(e) = self
                .events()
                .into_iter()
                .filter(|e| e.contains(&needle))
                .nth(n.saturating_sub(1))
            {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "{}: fewer than {n} {kind} within {within:?}; events: {:?}\n{}",
                self.spec.user,
                self.events(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// baresip's process id (to stop and continue it with signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether baresip is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Calls `uri` (no `;transport=`: baresip uses its account's).
    pub fn dial(&mut self, uri: &str) {
        self.command("dial", uri);
    }

    pub fn hangup(&mut self) {
        self.command("hangup", "");
    }

    /// The events seen so far (their JSON text).
    pub fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }

    /// Waits for an event of `kind` (`CALL_ESTABLISHED`, `CALL_CLOSED`, ...).
    pub fn wait_event(&self, kind: &str, within: Duration) -> String {
        let needle = format!("\"type\":\"{kind}\"");
        let deadline = Instant::now() + within;
        loop {
            if let Some(e) = self.events().into_iter().find(|e| e.contains(&needle)) {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no {kind} within {within:?}; events: {:?}\n{}",
                self.spec.user,
                self.events(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The decoded-audio dump of the current or last call.
    fn decoded_path(&self) -> Option<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("snd"))
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
            .collect();
        files.sort();
        files.pop()
    }

    /// Seconds of the call's audio the phone has decoded so far.
    pub fn decoded_secs(&self) -> f64 {
        self.decoded_path()
            .and_then(|p| read_wav_first_channel(&p))
            .map_or(0.0, |(rate, s)| s.len() as f64 / f64::from(rate))
    }

    /// Waits until the phone has decoded at least `secs` seconds of the call's audio.
    pub fn wait_decoded(&self, secs: f64, within: Duration) {
        let deadline = Instant::now() + within;
        while self.decoded_secs() < secs {
            assert!(
                Instant::now() < deadline,
                "{} decoded only {:.1} s of audio within {within:?}:\n{}",
                self.spec.user,
                self.decoded_secs(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The audio the phone decoded (first channel) and its sample rate.
    pub fn decoded(&self) -> (u32, Vec<i16>) {
        let path = self.decoded_path().expect("a decoded-audio dump");
        read_wav_first_channel(&path).expect("a readable WAV dump")
    }
}

impl Drop for Softphone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first of `n` consecutive ports, free for TCP and UDP on 127.0.0.1, picked from
/// 10000-19999: below both the kernel's ephemeral range (32768 up), from which outgoing
/// connections take their ports, and mediation's default media ports (20000 up).
pub fn quiet_port(n: u16) -> u16 {
    use std::net::{TcpListener, UdpSocket};
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let seed = std::process::id().wrapping_mul(7919)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
    for _ in 0..2000 {
        let k = NEXT.fetch_add(1, Ordering::SeqCst);
        let first = 10_000 + (seed.wrapping_add(k.wrapping_mul(97)) % 9_990) as u16;
        let free = (first..first + n).all(|p| {
            TcpListener::bind(("127.0.0.1", p)).is_ok() && UdpSocket::bind(("127.0.0.1", p)).is_ok()
        });
        if free {
            return first;
        }
    }
    panic!("no free port below the ephemeral range");
}

/// Whether a baresip trace shows a 200 to a REGISTER.
fn registered(log: &str) -> bool {
    log.split("SIP/2.0 200 ").skip(1).any(|after| {
        after
            .lines()
            .take(12)
            .any(|l| l.starts_with("CSeq:") && l.ends_with("REGISTER"))
    })
}

/// Collects baresip's netstring-framed JSON events until the connection closes.
fn read_netstrings(mut s: TcpStream, sink: Arc<Mutex<Vec<String>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        while let Some(colon) = buf.iter().position(|&b| b == b':') {
            let Some(len) = std::str::from_utf8(&buf[..colon])
                .ok()
                .and_then(|l| l.parse::<usize>().ok())
            else {
                return;
            };
            if buf.len() < colon + 1 + len + 1 {
                break;
            }
            let body = String::from_utf8_lossy(&buf[colon + 1..colon + 1 + len]).into_owned();
            sink.lock().unwrap().push(body);
            buf.drain(..colon + 1 + len + 1);
        }
    }
}

/// A mono 16-bit WAV of a sine at `hz` (half of full scale) lasting `secs` seconds.
pub fn write_tone_wav(path: &Path, hz: f64, secs: u32, rate: u32) {
    let w = 2.0 * std::f64::consts::PI * hz / f64::from(rate);
    let data: Vec<u8> = (0..rate * secs)
        .flat_map(|n| ((16_000.0 * (w * f64::from(n)).sin()) as i16).to_le_bytes())
        .collect();
    let mut out = Vec::with_capacity(44 + data.len());
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    std::fs::write(path, out).unwrap();
}

/// The first channel of a 16-bit PCM WAV file and its rate. The data chunk may still be
/// growing (its size field not yet written), so it runs to the end of the file.
pub fn read_wav_first_channel(path: &Path) -> Option<(u32, Vec<i16>)> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return None;
    }
    let (mut channels, mut rate, mut bits) = (0u16, 0u32, 0u16);
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        let body = at + 8;
        if id == b"fmt " && body + 16 <= bytes.len() {
            channels = u16::from_le_bytes([bytes[body + 2], bytes[body + 3]]);
            rate = u32::from_le_bytes(bytes[body + 4..body + 8].try_into().unwrap());
            bits = u16::from_le_bytes([bytes[body + 14], bytes[body + 15]]);
        } else if id == b"data" {
            if channels == 0 || bits != 16 {
                return None;
            }
            let frame = 2 * channels as usize;
            let samples = bytes[body..]
                .chunks_exact(frame)
                .map(|f| i16::from_le_bytes([f[0], f[1]]))
                .collect();
            return Some((rate, samples));
        }
        at = body + size + (size & 1);
    }
    None
}

/// The share of 20 ms blocks in `samples` that carry a tone at `hz` (at least 80 % of the
/// block's energy at that frequency, and not silence), from 0 to 1.
pub fn tone_share(samples: &[i16], rate: u32, hz: f64) -> f64 {
    let block = rate as usize / 50;
    let blocks: Vec<&[i16]> = samples.chunks_exact(block).collect();
    if blocks.is_empty() {
        return 0.0;
    }
    let hits = blocks.iter().filter(|b| is_tone(b, rate, hz)).count();
    hits as f64 / blocks.len() as f64
}

/// Whether at least 80 % of the block's energy sits at `hz` and the block is louder than
/// about -50 dBFS. The Goertzel recurrence evaluates the one DFT term; the test's own
/// implementation, so the check does not lean on the codec code under test.
fn is_tone(block: &[i16], rate: u32, hz: f64) -> bool {
    let energy: f64 = block.iter().map(|&x| f64::from(x).powi(2)).sum();
    let rms = (energy / block.len() as f64).sqrt();
    if rms < 32768.0 * 10f64.powf(-50.0 / 20.0) {
        return false;
    }
    let coeff = 2.0 * (2.0 * std::f64::consts::PI * hz / f64::from(rate)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in block {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0);
    // A sine of peak A over N samples has |X|² = (N·A/2)² and energy N·A²/2.
    2.0 * power / (block.len() as f64 * energy) >= 0.8
}

/// The middle stretch of a recording: drops `skip` seconds at each end (call set-up and
/// tear-down), then returns at most `secs` seconds.
pub fn steady(samples: &[i16], rate: u32, skip: f64, secs: f64) -> &[i16] {
    let skip = (skip * f64::from(rate)) as usize;
    if samples.len() <= 2 * skip {
        return &[];
    }
    let inner = &samples[skip..samples.len() - skip];
    let want = (secs * f64::from(rate)) as usize;
    &inner[..inner.len().min(want)]
}

/// Waits until every phone in `phones` has an established call (`n` of them in all, for
/// a phone's later calls); `context` is printed on failure beside the phones' traces.
pub fn wait_all_established(
    phones: &[&Softphone],
    n: usize,
    within: Duration,
    context: &dyn Fn() -> String,
) {
    let deadline = Instant::now() + within;
    let needle = "\"type\":\"CALL_ESTABLISHED\"";
    loop {
        let done = phones
            .iter()
            .all(|p| p.events().iter().filter(|e| e.contains(needle)).count() >= n);
        if done {
            return;
        }
        if Instant::now() >= deadline {
            let traces: String = phones
                .iter()
                .map(|p| {
                    format!(
                        "--- {} (events {:?}) ---\n{}\n",
                        p.spec.user,
                        p.events(),
                        p.log()
                    )
                })
                .collect();
            panic!(
                "the call did not connect within {within:?}\n{traces}{}",
                context()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Asserts that the `secs` seconds of `samples` carry the tone at `hears` (at least 90 %
/// of 20 ms blocks) and never the phone's own tone `own` (no echo path).
pub fn assert_tone(
    who: &str,
    samples: &[i16],
    rate: u32,
    hears: f64,
    own: f64,
    context: &dyn Fn() -> String,
) {
    assert!(
        samples.len() as f64 >= 1.0 * f64::from(rate),
        "{who}: too little audio decoded ({} samples)\n{}",
        samples.len(),
        context()
    );
    let heard = tone_share(samples, rate, hears);
    assert!(
        heard >= 0.9,
        "{who} should hear {hears} Hz: {:.0} % of 20 ms blocks carry it\n{}",
        heard * 100.0,
        context()
    );
    assert_eq!(
        tone_share(samples, rate, own),
        0.0,
        "{who} hears its own tone\n{}",
        context()
    );
}

/// The value of header `name` (or its compact form `short`) in the first request in a
/// baresip trace whose request line starts with `request_line` (`"INVITE sip:"`), after
/// skipping `skip` such requests.
pub fn request_header(log: &str, request_line: &str, skip: usize, name: &str) -> Option<String> {
    let start = log.match_indices(request_line).nth(skip)?.0;
    log[start..]
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
}

/// The SIP messages of a baresip trace (`-s`) whose start line begins with
/// `start_line_prefix` (`"INVITE sip:"`, `"SIP/2.0 200"`), in order, each from its start
/// line to the end of its body. baresip prints each message between a colour escape
/// (`ESC[36;1m#` and the addresses) and a reset (`ESC[;m`).
pub fn traced_messages(log: &str, start_line_prefix: &str) -> Vec<String> {
    log.split("\u{1b}[;m")
        .filter_map(|chunk| {
            let start = chunk
                .match_indices(start_line_prefix)
                .map(|(i, _)| i)
                .find(|&i| i == 0 || chunk.as_bytes()[i - 1] == b'\n')?;
            Some(chunk[start..].to_string())
        })
        .collect()
}

/// The phones' traces, the server's log and its metrics, for a failure message.
pub fn report(phones: &[&Softphone], server: &super::Server) -> String {
    let mut out: String = phones
        .iter()
        .map(|p| format!("--- {} ---\n{}\n", p.spec.user, p.log()))
        .collect();
    out.push_str(&format!(
        "--- server ---\n{}\n--- metrics ---\n{}",
        server.log(),
        server.metrics()
    ));
    out
}
