//! Presence state lives in the store: a watcher's subscription made before the server
//! restarts still gets NOTIFYs after it, without subscribing again, and a state set with
//! the CLI while the server runs reaches the watcher (the server reloads provisioning).

mod support;

use std::net::UdpSocket;
use std::time::{Duration, Instant};
use support::Site;

/// Reads datagrams until one starts with `NOTIFY` and contains `needle`; answers every
/// NOTIFY with 200 (RFC 6665 §4.1.3) so the subscription stays alive.
fn notify_containing(sock: &UdpSocket, needle: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    let mut buf = vec![0u8; 65536];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "no NOTIFY containing {needle:?} in {within:?}"
        );
        sock.set_read_timeout(Some(left)).unwrap();
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            panic!("no NOTIFY containing {needle:?} in {within:?}");
        };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if !text.starts_with("NOTIFY ") {
            continue;
        }
        let copy = |name: &str| {
            text.lines()
                .filter(|l| {
                    l.split(':')
                        .next()
                        .is_some_and(|h| h.trim().eq_ignore_ascii_case(name))
                })
                .map(|l| format!("{l}\r\n"))
                .collect::<String>()
        };
        let ok = format!(
            "SIP/2.0 200 OK\r\n{}{}{}{}{}Content-Length: 0\r\n\r\n",
            copy("Via"),
            copy("From"),
            copy("To"),
            copy("Call-ID"),
            copy("CSeq")
        );
        sock.send_to(ok.as_bytes(), from).unwrap();
        if text.contains(needle) {
            return text;
        }
    }
}

fn response(sock: &UdpSocket) -> String {
    let mut buf = vec![0u8; 65536];
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    loop {
        let (n, _) = sock.recv_from(&mut buf).expect("a response within 10 s");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if text.starts_with("SIP/2.0 ") {
            return text;
        }
    }
}

#[test]
fn a_subscription_survives_a_restart_and_hears_the_cli_state_change() {
    let site = Site::new(
        "presence-restart",
        "[auth]\nenabled = false\n\
         [site]\ndomains = [\"127.0.0.1\"]\n\
         [[site.users]]\naddress = \"sip:alice@127.0.0.1\"\n\
         [[site.users]]\naddress = \"sip:bob@127.0.0.1\"\n",
    );
    let server = site.start();
    let watcher = UdpSocket::bind("127.0.0.1:0").unwrap();
    let local = watcher.local_addr().unwrap();
    let subscribe = format!(
        "SUBSCRIBE sip:bob@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-restart-1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=w1\r\nTo: <sip:bob@127.0.0.1>\r\n\
         Call-ID: restart-sub\r\nCSeq: 1 SUBSCRIBE\r\nContact: <sip:alice@{local}>\r\n\
         Event: presence\r\nAccept: application/pidf+xml\r\nExpires: 3600\r\n\
         Content-Length: 0\r\n\r\n"
    );
    watcher
        .send_to(subscribe.as_bytes(), ("127.0.0.1", site.sip_port))
        .unwrap();
    let ok = response(&watcher);
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}\n{}", server.log());
    notify_containing(&watcher, "<basic>", Duration::from_secs(10));

    // The subscription is written to the store within a couple of seconds; a clean stop
    // writes the last state too.
    let log = server.stop();
    assert!(!log.contains("cannot save presence"), "{log}");

    let server = site.start();
    // A state set by hand with the CLI while the server runs: the server reloads it and
    // the watcher, subscribed before the restart, hears it.
    site.cli(&[
        "presence",
        "set",
        "sip:bob@127.0.0.1",
        "--state",
        "dnd",
        "--note",
        "Writing the quarterly report",
    ]);
    let n = notify_containing(
        &watcher,
        "Writing the quarterly report",
        Duration::from_secs(15),
    );
    assert!(n.contains("Call-ID: restart-sub"), "{n}");
    assert!(
        server.log().contains("subscriptions=1"),
        "the subscription came back from the store: {}",
        server.log()
    );
}

/// `YYYYMMDDTHHMMSSZ` for Unix seconds (RFC 5545 §3.3.5 UTC form).
fn ical_utc(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[test]
fn a_calendar_at_a_url_puts_the_user_in_a_meeting() {
    // A calendar server on loopback: every request gets the same .ics, chunked.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let ics = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:m1\r\n\
         DTSTAMP:{0}\r\nDTSTART:{0}\r\nDTEND:{1}\r\nSUMMARY:Budget review\r\nEND:VEVENT\r\n\
         END:VCALENDAR\r\n",
        ical_utc(now - 600),
        ical_utc(now + 3600)
    );
    let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/bob.ics", http.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in http.incoming() {
            let Ok(mut c) = conn else { break };
            let mut req = [0u8; 2048];
            let _ = std::io::Read::read(&mut c, &mut req);
            let body = format!("{:x}\r\n{ics}\r\n0\r\n\r\n", ics.len());
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\n\
                 Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{body}"
            );
            let _ = std::io::Write::write_all(&mut c, resp.as_bytes());
        }
    });
    let site = Site::new(
        "presence-calendar",
        &format!(
            "[auth]\nenabled = false\n\
             [site]\ndomains = [\"127.0.0.1\"]\n\
             [[site.users]]\naddress = \"sip:alice@127.0.0.1\"\n\
             [[site.users]]\naddress = \"sip:bob@127.0.0.1\"\ncalendar = \"{url}\"\n"
        ),
    );
    let server = site.start();
    let watcher = UdpSocket::bind("127.0.0.1:0").unwrap();
    let local = watcher.local_addr().unwrap();
    let subscribe = format!(
        "SUBSCRIBE sip:bob@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-cal-1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=c1\r\nTo: <sip:bob@127.0.0.1>\r\n\
         Call-ID: cal-sub\r\nCSeq: 1 SUBSCRIBE\r\nContact: <sip:alice@{local}>\r\n\
         Event: presence\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n"
    );
    watcher
        .send_to(subscribe.as_bytes(), ("127.0.0.1", site.sip_port))
        .unwrap();
    let ok = response(&watcher);
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}\n{}", server.log());
    // alice is a colleague (same domain): she sees the meeting activity (RFC 4480).
    let n = notify_containing(&watcher, "meeting", Duration::from_secs(15));
    assert!(n.contains("application/pidf+xml"), "{n}");
}
