//! One typed header at a time: parse it inside a minimal request, check the fields, print it,
//! parse the print, and get the same value.

use sb_sip_msg::{
    parse_datagram, CSeq, ContactValue, Header, Host, Message, Method, ParseError, Transport, Uri,
};
use std::net::{Ipv4Addr, Ipv6Addr};

const BASE: &str = "OPTIONS sip:bob@example.com SIP/2.0\r\n";

/// Parses `line` as the only header of a request; returns the headers it produced.
fn headers_of(line: &str) -> Result<Vec<Header>, ParseError> {
    let raw = format!("{BASE}{line}\r\nContent-Length: 0\r\n\r\n");
    match parse_datagram(raw.as_bytes())? {
        Message::Request(r) => Ok(r
            .headers
            .0
            .into_iter()
            .filter(|h| !matches!(h, Header::ContentLength(_)))
            .collect()),
        Message::Response(_) => unreachable!("a request was given"),
    }
}

/// Parses, prints each header with `Display`, parses again and compares.
fn round_trip(line: &str) -> Vec<Header> {
    let hs = headers_of(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    let printed: Vec<String> = hs.iter().map(|h| h.to_string()).collect();
    let again = headers_of(&printed.join("\r\n")).unwrap_or_else(|e| panic!("{printed:?}: {e}"));
    assert_eq!(again, hs, "{line} printed as {printed:?}");
    hs
}

fn one(line: &str) -> Header {
    let mut hs = round_trip(line);
    assert_eq!(hs.len(), 1, "{line}");
    hs.remove(0)
}

fn err(line: &str) -> String {
    headers_of(line).expect_err(line).reason
}

#[test]
fn via() {
    let Header::Via(v) =
        one("v: SIP/2.0/tcp [2001:db8::1]:5061;branch=z9hG4bKx;rport;received=192.0.2.1")
    else {
        panic!()
    };
    assert_eq!(v.transport, Transport::Tcp);
    assert_eq!(v.host, Host::V6("2001:db8::1".parse::<Ipv6Addr>().unwrap()));
    assert_eq!(v.port, Some(5061));
    assert_eq!(v.branch(), Some("z9hG4bKx"));
    assert_eq!(v.rport(), Some(None));
    assert_eq!(v.received_ip(), Some("192.0.2.1".parse().unwrap()));
    let hs = round_trip(
        "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/WSS b.example.com:443;rport=5060",
    );
    assert_eq!(hs.len(), 2);
    let Header::Via(v) = &hs[1] else { panic!() };
    assert_eq!(
        (v.transport.clone(), v.rport(), v.response_port()),
        (Transport::Wss, Some(Some(5060)), Some(5060))
    );
    assert!(err("Via: SIP/2.0/UDP").starts_with("Via: "));
    assert!(err("Via: SIP/2.0/UDP host;;x").contains("empty parameter"));
    assert!(err("Via: SIP/2.0/UDP host:99999").contains("port"));
}

#[test]
fn from_and_to() {
    let Header::From(f) = one(r#"f: "A \"B\" \\ C" <sip:alice@example.com;transport=tcp>;tag=88"#)
    else {
        panic!()
    };
    assert_eq!(f.display.as_deref(), Some(r#"A "B" \ C"#));
    assert_eq!(f.tag(), Some("88"));
    assert_eq!(
        f.uri.as_sip().and_then(|u| u.params.value("transport")),
        Some("tcp")
    );
    let Header::To(t) = one("t: Bob  Smith<sip:bob@example.com>") else {
        panic!()
    };
    assert_eq!(t.display.as_deref(), Some("Bob Smith"));
    let Header::To(t) = one("To: sip:bob@192.0.2.4:5070;tag=x") else {
        panic!()
    };
    let u = t.uri.as_sip().unwrap();
    assert_eq!(
        (u.host.clone(), u.port),
        (Host::V4(Ipv4Addr::new(192, 0, 2, 4)), Some(5070))
    );
    assert_eq!(t.tag(), Some("x"));
    assert!(err("To: \"open <sip:a@b>").contains("unterminated"));
    assert!(err("To: <sip:a@b").contains(">"));
}

#[test]
fn call_id_cseq_numbers() {
    assert_eq!(
        one("i: abc@[::1]").clone(),
        Header::CallId(sb_sip_msg::CallId("abc@[::1]".into()))
    );
    assert_eq!(
        one("CSeq: 4294967295 ACK"),
        Header::CSeq(CSeq {
            seq: u32::MAX,
            method: Method::Ack
        })
    );
    assert_eq!(
        err("CSeq: 4294967296 ACK"),
        "CSeq: sequence number 4294967296 exceeds 2^32-1"
    );
    assert_eq!(one("Max-Forwards: 070"), Header::MaxForwards(70));
    assert_eq!(one("Expires: 3600"), Header::Expires(3600));
    assert_eq!(one("Min-Expires: 60"), Header::MinExpires(60));
    assert_eq!(
        err("Expires: 99999999999"),
        "Expires: value 99999999999 exceeds 2^32-1"
    );
    assert!(err("Max-Forwards: -1").starts_with("Max-Forwards: "));
    assert!(err("Call-ID: a b").starts_with("Call-ID: "));
    // Deployed UAs put base64 padding or a second '@' in Call-IDs; they are opaque.
    assert_eq!(
        one("Call-ID: YWJj==@h@x"),
        Header::CallId(sb_sip_msg::CallId("YWJj==@h@x".into()))
    );
}

#[test]
fn content_type() {
    assert_eq!(
        one("c: multipart/mixed;boundary=xyz"),
        Header::ContentType("multipart/mixed;boundary=xyz".into())
    );
    assert!(err("Content-Type: sdp").starts_with("Content-Type: "));
}

#[test]
fn contact_route_record_route() {
    assert_eq!(one("m: *"), Header::Contact(ContactValue::Star));
    let hs = round_trip(
        r#"Contact: "x, y" <sip:a@b>;q=0.5;expires=60, <tel:+1-555;ext=2>, sip:c@d;+sip.instance="<urn:uuid:1>""#,
    );
    assert_eq!(hs.len(), 3);
    let Header::Contact(ContactValue::Addr(a)) = &hs[0] else {
        panic!()
    };
    assert_eq!(a.display.as_deref(), Some("x, y"));
    assert_eq!(a.params.value("q"), Some("0.5"));
    let Header::Contact(ContactValue::Addr(a)) = &hs[1] else {
        panic!()
    };
    let Uri::Tel(t) = &a.uri else { panic!() };
    assert_eq!(
        (t.number.as_str(), t.params.value("ext")),
        ("+1-555", Some("2"))
    );
    let Header::Contact(ContactValue::Addr(a)) = &hs[2] else {
        panic!()
    };
    assert_eq!(a.params.value("+sip.instance"), Some("\"<urn:uuid:1>\""));
    let hs = round_trip("Route: <sip:p1.example.com;lr>,<sip:p2.example.com;lr>");
    assert!(matches!(&hs[..], [Header::Route(_), Header::Route(_)]));
    let Header::RecordRoute(r) = one("Record-Route: <sips:[2001:db8::2]:5061;lr>") else {
        panic!()
    };
    let u = r.uri.as_sip().unwrap();
    assert!(u.secure && u.params.contains("lr") && u.port == Some(5061));
    assert!(err("Contact: <sip:a@b>;;").contains("empty parameter"));
    assert!(err("Contact: <sip:a@b>,,<sip:c@d>").contains("empty element"));
}

#[test]
fn option_tags_and_allow() {
    let hs = round_trip("k: 100rel, timer ,path");
    assert_eq!(
        hs,
        [
            Header::Supported("100rel".into()),
            Header::Supported("timer".into()),
            Header::Supported("path".into())
        ]
    );
    assert_eq!(round_trip("Require: a,b").len(), 2);
    assert_eq!(round_trip("Proxy-Require: a").len(), 1);
    assert_eq!(round_trip("Unsupported: x").len(), 1);
    let hs = round_trip("Allow: INVITE, ACK, FOO");
    assert_eq!(
        hs,
        [
            Header::Allow(Method::Invite),
            Header::Allow(Method::Ack),
            Header::Allow(Method::Extension("FOO".into()))
        ]
    );
    // An empty Supported says "nothing" and is kept as written.
    let Header::Other(o) = one("Supported:") else {
        panic!()
    };
    assert_eq!((o.name.as_str(), o.value.as_str()), ("Supported", ""));
    assert!(err("Require: a b").starts_with("Require: "));
}

#[test]
fn other_headers_are_byte_exact() {
    let Header::Other(o) = one("X-Thing :  spaced value ;;,, \"q\"") else {
        panic!()
    };
    assert_eq!(o.name, "X-Thing");
    assert_eq!(o.value, "  spaced value ;;,, \"q\"");
    let Header::Other(o) = one("Subject: a\r\n  b") else {
        panic!()
    };
    assert_eq!(o.value, " a\r\n  b");
    assert_eq!(Header::Other(o).to_string(), "Subject: a\r\n  b");
}

#[test]
fn uris_print_as_parsed() {
    for u in [
        "sip:alice@example.com",
        "sips:alice:secret@example.com:5061;transport=tcp;lr?subject=hi&x=%20",
        "sip:[2001:db8::1]:5060",
        "sip:192.0.2.1",
        "tel:+1-212-555-0100;phone-context=example.com",
        "urn:service:sos",
        "sip:%61lice@example.com",
    ] {
        let line = format!("To: <{u}>");
        let Header::To(t) = one(&line) else { panic!() };
        assert_eq!(t.uri.to_string(), u.replace("URN:", "urn:"));
    }
}

#[test]
fn untyped_compact_forms_are_found_by_either_name() {
    let raw = format!(
        "{BASE}o: presence;id=1\r\nSubject: hi\r\nr: <sip:c@d>\r\nContent-Length: 0\r\n\r\n"
    );
    let m = parse_datagram(raw.as_bytes()).expect("parses");
    let mut h = m.headers().clone();
    assert_eq!(h.other("Event").collect::<Vec<_>>(), ["presence;id=1"]);
    assert_eq!(h.other("s").collect::<Vec<_>>(), ["hi"]);
    assert_eq!(h.other("refer-to").count(), 1);
    assert_eq!(h.other("x").count(), 0);
    h.remove_other("Refer-To");
    assert_eq!(h.other("r").count(), 0);
}

#[test]
fn consecutive_token_list_values_share_one_line() {
    use sb_sip_msg::{Header, Method, Response, StatusCode};
    let mut r = Response::new(StatusCode::OK);
    r.headers.push(Header::Allow(Method::Invite));
    r.headers.push(Header::Allow(Method::Ack));
    r.headers.push(Header::Supported("timer".into()));
    r.headers.push(Header::Allow(Method::Bye));
    r.headers.push(Header::ContentLength(0));
    let text = String::from_utf8(r.to_bytes()).unwrap();
    assert!(
        text.contains("\r\nAllow: INVITE, ACK\r\nSupported: timer\r\nAllow: BYE\r\n"),
        "{text}"
    );
    let back = match sb_sip_msg::parse_datagram(text.as_bytes()).unwrap() {
        sb_sip_msg::Message::Response(back) => back,
        other => panic!("not a response: {other:?}"),
    };
    assert_eq!(back.headers, r.headers);
}
