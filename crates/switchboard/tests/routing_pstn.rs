//! Calls to the telephone network, end to end: `switchboard serve` with a `[routing]` dial
//! plan, outbound routes over two `[[trunks]]` gateways and voice policies, driven by SIPp
//! (Debian's `sip-tester`) as the caller and as the gateways on free loopback ports.
//!
//! - Several local forms of one number ("0 425 555 1212", "5551212", "+1 (425) 555-1212",
//!   a tel: URI) reach the first gateway as `sip:+14255551212@GW;user=phone`.
//! - A gateway answering 503, or not answering at all within `[proxy]
//!   trunk_answer_timeout_ms`, sends the call to the second gateway.
//! - A voice policy without "international" gets 403 with the reason (and a Warning) for
//!   +44…; a user whose policy has it gets the call out.
//!
//! Callers are our users named by their From address (`[auth] enabled = false`, a closed
//! test network), so the Request-URI can carry any dialled form; one more test dials out
//! as a digest-authenticated user (407 first), with a raw UDP client that computes its
//! own digest over the dialled Request-URI.

mod support;

use std::net::UdpSocket;
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sb_sip_auth::{
    parse_challenge, request_digest, AuthValue, Challenge, Credentials, Ha1, QopParts,
};
use support::sipp_peer::{SippOutcome, SippPeer};
use support::{free_port, Server, Site};

/// Answer timeout of a silent gateway in these tests (the default is 5 s).
const ANSWER_TIMEOUT_MS: u64 = 2000;

/// The site: dial plan "redmond" (0 + 10 digits national, 7 digits local in 425), routes
/// "us" (national) and "world" (international), both over gw-a then gw-b; policy
/// "domestic" for everyone by default, "global" for bob. alice and bob are users.
fn pstn_site(tag: &str, gw_a: u16, gw_b: u16) -> Site {
    pstn_site_with(tag, gw_a, gw_b, "[auth]\nenabled = false\n")
}

/// [`pstn_site`] with its own `[auth]` section.
fn pstn_site_with(tag: &str, gw_a: u16, gw_b: u16, auth: &str) -> Site {
    let extra = format!(
        r#"{auth}

[proxy]
trunk_answer_timeout_ms = {ANSWER_TIMEOUT_MS}

[routing]
domains = ["127.0.0.1"]
default_dial_plan = "redmond"
default_voice_policy = "domestic"

[[routing.dial_plans]]
name = "redmond"
rules = [
  {{ pattern = '^0(\d{{10}})$', translation = '+1$1', description = "national, trunk prefix 0" }},
  {{ pattern = '^(\d{{7}})$', translation = '+1425$1', description = "7-digit local" }},
]

[[routing.routes]]
name = "us"
pattern = '^\+1\d{{10}}$'
usage = "national"
trunks = ["gw-a", "gw-b"]

[[routing.routes]]
name = "world"
pattern = '^\+[2-9]\d{{6,14}}$'
usage = "international"
trunks = ["gw-a", "gw-b"]

[[routing.voice_policies]]
name = "domestic"
usages = ["national"]

[[routing.voice_policies]]
name = "global"
usages = ["national", "international"]

[[trunks]]
name = "gw-a"
address = "127.0.0.1:{gw_a}"
transport = "udp"

[[trunks]]
name = "gw-b"
address = "127.0.0.1:{gw_b}"
transport = "udp"
"#
    );
    let site = Site::new(tag, &extra);
    site.add_user("sip:alice@127.0.0.1", "pw-alice-1");
    site.add_user("sip:bob@127.0.0.1", "pw-bob-1");
    site.cli(&[
        "user",
        "set",
        "sip:bob@127.0.0.1",
        "--rule",
        "voice_policy=global",
    ]);
    site
}

/// A UDP port where a gateway should be but nothing answers: it records what arrives
/// (with the wall-clock time) until the test ends.
struct SilentGateway {
    port: u16,
    rx: mpsc::Receiver<(f64, String)>,
}

impl SilentGateway {
    fn bind(port: u16) -> SilentGateway {
        let sock = UdpSocket::bind(("127.0.0.1", port)).expect("bind the silent gateway");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 65535];
            while let Ok((n, _)) = sock.recv_from(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                if tx.send((wall_clock(), text)).is_err() {
                    break;
                }
            }
        });
        SilentGateway { port, rx }
    }

    /// Everything received so far.
    fn received(&self) -> Vec<(f64, String)> {
        self.rx.try_iter().collect()
    }
}

/// Seconds since the epoch, to compare with SIPp's trace stamps.
fn wall_clock() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Places one call from `caller` to `ruri` that must be answered, and returns the
/// caller's outcome (asserted successful, with every party's account on failure).
fn call_answered(
    site: &Site,
    server: &Server,
    caller: &str,
    ruri: &str,
    gws: &mut [&mut SippPeer],
) {
    let mut c = SippPeer::uac(
        "routing/gw_caller.xml",
        site.sip_port,
        &[("ruri", ruri), ("caller", caller)],
    );
    let out = c.finish(Duration::from_secs(60));
    if !out.ok {
        let gw: Vec<String> = gws
            .iter_mut()
            .map(|g| g.finish(Duration::from_secs(1)).report)
            .collect();
        panic!(
            "the call from {caller} to {ruri} was not answered:\n{}\n{}\n--- server log ---\n{}",
            out.report,
            gw.join("\n"),
            server.log()
        );
    }
}

/// The Request-URI of the one INVITE a gateway received; fails unless exactly one came.
fn invite_uri(gw: &SippOutcome, server: &Server) -> String {
    let invites = gw.requests("INVITE");
    assert_eq!(
        invites.len(),
        1,
        "expected one INVITE at the gateway:\n{}\n--- server log ---\n{}",
        gw.report,
        server.log()
    );
    let line = invites[0].lines().next().unwrap_or_default();
    line.split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

/// A gateway's SIPp run that must have passed.
fn finished_ok(gw: &mut SippPeer, server: &Server) -> SippOutcome {
    let out = gw.finish(Duration::from_secs(30));
    assert!(
        out.ok,
        "{}\n--- server log ---\n{}",
        out.report,
        server.log()
    );
    out
}

#[test]
fn local_forms_of_one_number_reach_the_first_gateway_as_the_same_e164() {
    let (a, b) = (free_port(), free_port());
    let site = pstn_site("pstn-forms", a, b);
    let server = site.start();
    // gw-b must stay untouched: the first gateway answers every call.
    let spare = SilentGateway::bind(b);
    let forms = [
        // "0 425 555 1212": national with the trunk prefix.
        "sip:04255551212@127.0.0.1;user=phone",
        // "555 1212": local, 7 digits.
        "sip:5551212@127.0.0.1;user=phone",
        // "+1 (425) 555-1212" as typed, spaces escaped (RFC 3966 visual separators).
        "sip:+1%20(425)%20555-1212@127.0.0.1;user=phone",
        "tel:+14255551212",
    ];
    for ruri in forms {
        let mut gw = SippPeer::uas("routing/gw_answer.xml", a, &[]);
        call_answered(&site, &server, "alice", ruri, &mut [&mut gw]);
        let out = finished_ok(&mut gw, &server);
        assert_eq!(
            invite_uri(&out, &server),
            format!("sip:+14255551212@127.0.0.1:{a};user=phone"),
            "dialled {ruri}"
        );
    }
    let stray = spare.received();
    assert!(
        stray.is_empty(),
        "gw-b got traffic although gw-a answered: {stray:?}"
    );
}

#[test]
fn a_gateway_answering_503_sends_the_call_to_the_second() {
    let (a, b) = (free_port(), free_port());
    let site = pstn_site("pstn-503", a, b);
    let server = site.start();
    let mut gw_a = SippPeer::uas("routing/gw_unavailable.xml", a, &[]);
    let mut gw_b = SippPeer::uas("routing/gw_answer.xml", b, &[]);
    call_answered(
        &site,
        &server,
        "alice",
        "sip:5551212@127.0.0.1;user=phone",
        &mut [&mut gw_a, &mut gw_b],
    );
    let out_a = finished_ok(&mut gw_a, &server);
    let out_b = finished_ok(&mut gw_b, &server);
    assert_eq!(
        invite_uri(&out_a, &server),
        format!("sip:+14255551212@127.0.0.1:{a};user=phone")
    );
    assert_eq!(
        invite_uri(&out_b, &server),
        format!("sip:+14255551212@127.0.0.1:{b};user=phone")
    );
    let a_at = out_a.traced_at(false, "INVITE ").unwrap();
    let b_at = out_b.traced_at(false, "INVITE ").unwrap();
    assert!(a_at <= b_at, "gw-b was tried before gw-a answered 503");
}

#[test]
fn a_gateway_that_never_answers_is_passed_over_after_the_answer_timeout() {
    let (a, b) = (free_port(), free_port());
    let site = pstn_site("pstn-silent", a, b);
    let server = site.start();
    let silent = SilentGateway::bind(a);
    let mut gw_b = SippPeer::uas("routing/gw_answer.xml", b, &[]);
    call_answered(
        &site,
        &server,
        "alice",
        "sip:04255551212@127.0.0.1;user=phone",
        &mut [&mut gw_b],
    );
    let out_b = finished_ok(&mut gw_b, &server);
    assert_eq!(
        invite_uri(&out_b, &server),
        format!("sip:+14255551212@127.0.0.1:{b};user=phone")
    );
    let got = silent.received();
    let invites: Vec<&(f64, String)> = got
        .iter()
        .filter(|(_, m)| m.starts_with("INVITE "))
        .collect();
    let first = invites.first().unwrap_or_else(|| {
        panic!(
            "the silent gateway gw-a (port {}) never got the INVITE: {got:?}\n{}",
            silent.port,
            server.log()
        )
    });
    assert!(
        first.1.starts_with(&format!(
            "INVITE sip:+14255551212@127.0.0.1:{a};user=phone "
        )),
        "{}",
        first.1
    );
    // gw-b got the call only once gw-a had had its time to answer, and not much later.
    let waited = out_b.traced_at(false, "INVITE ").unwrap() - first.0;
    let timeout = ANSWER_TIMEOUT_MS as f64 / 1000.0;
    assert!(
        waited >= timeout - 0.1,
        "gw-b got the INVITE {waited:.3} s after gw-a, before the {timeout} s answer timeout"
    );
    assert!(
        waited < timeout + 10.0,
        "gw-b got the INVITE {waited:.3} s after gw-a; the answer timeout is {timeout} s"
    );
}

#[test]
fn international_calls_need_a_policy_that_allows_them() {
    let (a, b) = (free_port(), free_port());
    let site = pstn_site("pstn-policy", a, b);
    let server = site.start();
    let mut gw = SippPeer::uas("routing/gw_answer.xml", a, &[]);
    let london = "sip:+442079460000@127.0.0.1;user=phone";

    // alice has the default policy, "domestic": refused, and the answer says why.
    let mut refused = SippPeer::uac(
        "routing/gw_caller_refused.xml",
        site.sip_port,
        &[("ruri", london), ("caller", "alice")],
    );
    let out = refused.finish(Duration::from_secs(60));
    assert!(
        out.ok,
        "{}\n--- server log ---\n{}",
        out.report,
        server.log()
    );
    let answer = out
        .received()
        .into_iter()
        .find(|m| m.starts_with("SIP/2.0 403 "))
        .expect("a 403 in the trace");
    // The reason travels in a Warning (RFC 3261 §20.43, code 399); the status line keeps
    // the standard phrase.
    let reason = "international calls are not allowed by policy 'domestic'";
    assert!(
        answer
            .lines()
            .any(|l| l == format!("Warning: 399 switchboard \"{reason}\"")),
        "{answer}"
    );

    // bob's policy, "global", allows it: out through gw-a. The gateway's SIPp takes one
    // call only, so had alice's call leaked out it would have been that one.
    call_answered(&site, &server, "bob", london, &mut [&mut gw]);
    let out = finished_ok(&mut gw, &server);
    assert_eq!(
        invite_uri(&out, &server),
        format!("sip:+442079460000@127.0.0.1:{a};user=phone")
    );
    let invite = &out.requests("INVITE")[0];
    assert!(
        invite
            .lines()
            .any(|l| l.starts_with("From:") && l.contains("sip:bob@127.0.0.1")),
        "{invite}"
    );
}

/// A raw UDP caller: one message out, the next one in (5 s at most).
struct RawCaller {
    sock: UdpSocket,
    server: u16,
}

impl RawCaller {
    fn send(&self, msg: &str) {
        self.sock
            .send_to(msg.as_bytes(), ("127.0.0.1", self.server))
            .unwrap();
    }

    /// The next final response to a `method` request (provisional ones, and a 2xx
    /// retransmitted for an earlier INVITE, are skipped).
    fn final_response(&self, method: &str, server: &Server) -> String {
        let mut buf = [0u8; 65535];
        loop {
            let (n, _) = self
                .sock
                .recv_from(&mut buf)
                .unwrap_or_else(|e| panic!("no answer from the server ({e})\n{}", server.log()));
            let m = String::from_utf8_lossy(&buf[..n]).into_owned();
            let for_method = header(&m, "CSeq").is_some_and(|c| c.ends_with(method));
            if for_method && !m.starts_with("SIP/2.0 1") {
                return m;
            }
        }
    }
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// The URI inside `<...>` of a name-addr header value.
fn addr_uri(v: &str) -> &str {
    v.split_once('<')
        .and_then(|(_, r)| r.split_once('>'))
        .map_or(v, |(u, _)| u)
}

#[test]
fn an_authenticated_user_answers_the_407_and_dials_out() {
    let (a, b) = (free_port(), free_port());
    let site = pstn_site_with("pstn-auth", a, b, "[auth]\nalgorithms = [\"MD5\"]\n");
    let server = site.start();
    let mut gw = SippPeer::uas("routing/gw_answer.xml", a, &[]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let local = sock.local_addr().unwrap();
    let caller = RawCaller {
        sock,
        server: site.sip_port,
    };
    let ruri = "sip:5551212@127.0.0.1;user=phone";
    // One request of the call; `extra` holds To (and Route, Proxy-Authorization).
    let request = |method: &str, uri: &str, cseq: u32, branch: &str, extra: &str| {
        format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};rport;branch=z9hG4bK-{branch}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=raw1\r\n{extra}\
             Call-ID: pstn-auth-{local}\r\nCSeq: {cseq} {method}\r\n\
             Contact: <sip:alice@{local}>\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let to = format!("To: <{ruri}>\r\n");

    // Our user's INVITE is challenged (RFC 3261 §22.3); the 407 is ACKed on its branch.
    caller.send(&request("INVITE", ruri, 1, "a1", &to));
    let resp = caller.final_response("INVITE", &server);
    assert!(resp.starts_with("SIP/2.0 407 "), "{resp}\n{}", server.log());
    let to_tagged = format!("To: {}\r\n", header(&resp, "To").unwrap());
    caller.send(&request("ACK", ruri, 1, "a1", &to_tagged));
    let ch: Challenge = match parse_challenge(header(&resp, "Proxy-Authenticate").unwrap()) {
        Ok(AuthValue::Digest(c)) => c,
        other => panic!("not a digest challenge: {other:?}\n{resp}"),
    };

    // The retry carries a digest over the dialled Request-URI, computed here.
    let ha1 = Ha1::compute(ch.algorithm().unwrap(), "alice", &ch.realm, "pw-alice-1");
    let q = QopParts {
        qop: "auth",
        nc: "00000001",
        cnonce: "c0ffee",
    };
    let creds = Credentials {
        username: "alice".into(),
        realm: ch.realm.clone(),
        nonce: ch.nonce.clone(),
        uri: ruri.into(),
        response: request_digest(&ha1, &ch.nonce, Some(q), "INVITE", ruri),
        algorithm: ch.algorithm.clone(),
        cnonce: Some("c0ffee".into()),
        opaque: ch.opaque.clone(),
        qop: Some("auth".into()),
        nc: Some("00000001".into()),
        other: Vec::new(),
    };
    let auth = format!("{to}Proxy-Authorization: {creds}\r\n");
    caller.send(&request("INVITE", ruri, 2, "a2", &auth));
    let ok = caller.final_response("INVITE", &server);
    assert!(ok.starts_with("SIP/2.0 200 "), "{ok}\n{}", server.log());

    // ACK and BYE go to the gateway's Contact through the server's Record-Route
    // (RFC 3261 §12.1.2: the route set is the Record-Route in reverse, one entry here).
    let contact = addr_uri(header(&ok, "Contact").expect("Contact in the 200")).to_string();
    let rr = header(&ok, "Record-Route").expect("the server Record-Routes the call");
    let route = format!("Route: {rr}\r\n");
    let to_tagged = format!("To: {}\r\n{route}", header(&ok, "To").unwrap());
    caller.send(&request("ACK", &contact, 2, "a3", &to_tagged));
    caller.send(&request("BYE", &contact, 3, "a4", &to_tagged));
    let bye_ok = caller.final_response("BYE", &server);
    assert!(
        bye_ok.starts_with("SIP/2.0 200 "),
        "{bye_ok}\n{}",
        server.log()
    );

    let out = finished_ok(&mut gw, &server);
    assert_eq!(
        invite_uri(&out, &server),
        format!("sip:+14255551212@127.0.0.1:{a};user=phone")
    );
}
