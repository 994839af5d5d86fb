//! The RFC 4475 / RFC 5118 torture corpus: every message gets the lint verdict of
//! `conformance/sip-torture/LINT-VERDICTS.md`, and the semantic facts `index.tsv` names.

use sb_sip_msg::{
    lint, parse_datagram, parse_datagram_with_warnings, ContactValue, Header, Host, Message,
    Method, ParseErrorKind, Request, Response, Transport, Uri,
};
use std::net::Ipv6Addr;
use std::path::PathBuf;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conformance/sip-torture")
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(corpus().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

struct Row {
    name: String,
    class: String,
    parser: String,
    file: String,
    bytes: usize,
}

fn rows() -> Vec<Row> {
    let idx = std::fs::read_to_string(corpus().join("index.tsv")).expect("index.tsv");
    let mut lines = idx.lines();
    let head: Vec<&str> = lines.next().expect("header row").split('\t').collect();
    let col = |n: &str| {
        head.iter()
            .position(|h| *h == n)
            .unwrap_or_else(|| panic!("column {n}"))
    };
    let (name, class, parser, file, bytes) = (
        col("name"),
        col("class"),
        col("parser"),
        col("file"),
        col("bytes"),
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            Row {
                name: c[name].into(),
                class: c[class].into(),
                parser: c[parser].into(),
                file: c[file].into(),
                bytes: c[bytes].parse().expect("bytes column"),
            }
        })
        .collect()
}

/// The LINT-VERDICTS.md table: `true` = ok, `false` = invalid.
fn expected_ok(r: &Row) -> bool {
    match (r.parser.as_str(), r.class.as_str()) {
        ("accept", "valid") => true,
        ("accept", "invalid") => {
            matches!(
                r.name.as_str(),
                "via-received-param-with-delim" | "ipv6-bug-abnf-3-colons"
            )
        }
        _ => false,
    }
}

/// Every file a row stands for: the RFC bytes, and for RFC 5118 also the CRLF form.
fn files(r: &Row) -> Vec<String> {
    let mut v = vec![r.file.clone()];
    if let Some(rest) = r.file.strip_prefix("rfc5118/") {
        v.push(format!("rfc5118-wire/{rest}"));
    }
    v
}

#[test]
fn index_has_every_message() {
    let rows = rows();
    assert_eq!(rows.len(), 62);
    for r in &rows {
        assert_eq!(
            read(&r.file).len(),
            r.bytes,
            "{}: size differs from index.tsv",
            r.file
        );
    }
}

#[test]
fn every_message_gets_its_lint_verdict() {
    let mut wrong = Vec::new();
    for r in rows() {
        for f in files(&r) {
            let got = lint(&read(&f));
            let want = expected_ok(&r);
            if got.is_ok() != want {
                wrong.push(format!(
                    "{f}: expected {}, got {:?}",
                    if want { "ok" } else { "invalid" },
                    got.as_ref().map(|_| ()).map_err(|e| e.to_string())
                ));
            }
            if let Err(e) = got {
                // Every refusal names what is wrong: "Header: problem".
                assert!(
                    e.reason().contains(": "),
                    "{f}: reason without a name: {}",
                    e.reason()
                );
            }
        }
    }
    assert!(wrong.is_empty(), "verdicts differ:\n{}", wrong.join("\n"));
}

#[test]
fn accept_rows_parse() {
    for r in rows().iter().filter(|r| r.parser == "accept") {
        for f in files(r) {
            assert!(parse_datagram(&read(&f)).is_ok(), "{f} must parse");
        }
    }
}

#[test]
fn reject_reasons_name_the_header() {
    let cases = [
        (
            "rfc4475/scalar02.dat",
            "CSeq: sequence number 36893488147419103232 exceeds 2^32-1",
        ),
        ("rfc4475/ncl.dat", "Content-Length"),
        ("rfc4475/clerr.dat", "Content-Length"),
        ("rfc4475/mcl01.dat", "Content-Length"),
        ("rfc4475/badinv01.dat", "Via"),
        ("rfc4475/quotbal.dat", "To"),
        ("rfc4475/baddn.dat", "From"),
        ("rfc4475/badaspec.dat", "To"),
        ("rfc4475/regbadct.dat", "Contact"),
        ("rfc4475/mismatch01.dat", "CSeq"),
        ("rfc4475/multi01.dat", "given more than once"),
        ("rfc4475/insuf.dat", "missing"),
        ("rfc4475/badbranch.dat", "Via"),
        ("rfc4475/baddate.dat", "Date"),
        ("rfc4475/escruri.dat", "Request-URI"),
        ("rfc4475/ltgtruri.dat", "Request-URI"),
        ("rfc4475/lwsstart.dat", "Request-Line"),
        ("rfc4475/trws.dat", "Request-Line"),
        ("rfc5118/ipv6-bad", "Request-URI"),
    ];
    for (f, needle) in cases {
        let e = lint(&read(f)).expect_err(f);
        assert!(
            e.reason().starts_with(needle) || e.reason().contains(needle),
            "{f}: {e}"
        );
    }
    let e = parse_datagram(&read("rfc4475/scalar02.dat")).unwrap_err();
    assert_eq!(e.header.as_deref(), Some("CSeq"));
    assert!(e.is_request);
}

#[test]
fn responses_that_fail_are_dropped_and_versions_get_505() {
    for f in ["rfc4475/bigcode.dat", "rfc4475/scalarlg.dat"] {
        let e = parse_datagram(&read(f)).unwrap_err();
        assert!(!e.is_request, "{f}");
        assert!(
            sb_sip_msg::StatusCode::try_from(&e).is_err(),
            "{f}: must be dropped"
        );
    }
    let e = parse_datagram(&read("rfc4475/badvers.dat")).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::Version);
    assert_eq!(
        sb_sip_msg::StatusCode::try_from(&e),
        Ok(sb_sip_msg::StatusCode(505))
    );
}

fn req(f: &str) -> Request {
    match parse_datagram(&read(f)).unwrap_or_else(|e| panic!("{f}: {e}")) {
        Message::Request(r) => r,
        Message::Response(_) => panic!("{f}: not a request"),
    }
}

fn resp(f: &str) -> Response {
    match parse_datagram(&read(f)).unwrap_or_else(|e| panic!("{f}: {e}")) {
        Message::Response(r) => r,
        Message::Request(_) => panic!("{f}: not a response"),
    }
}

fn contact_uris(r: &Request) -> Vec<&Uri> {
    r.headers
        .contacts()
        .filter_map(|c| match c {
            ContactValue::Addr(a) => Some(&a.uri),
            ContactValue::Star => None,
        })
        .collect()
}

#[test]
fn wsinv_folds_spaces_and_unknown_headers() {
    let r = req("rfc4475/wsinv.dat");
    assert_eq!(r.method, Method::Invite);
    let h = &r.headers;
    assert_eq!(h.max_forwards(), Some(68));
    assert_eq!(
        h.cseq().map(|c| (c.seq, c.method.clone())),
        Some((9, Method::Invite))
    );
    assert_eq!(h.to().and_then(|t| t.tag()), Some("1918181833n"));
    assert_eq!(
        h.from().and_then(|f| f.display.as_deref()),
        Some("J Rosenberg \\\"")
    );
    assert_eq!(h.from().and_then(|f| f.tag()), Some("98asjd8"));
    let vias: Vec<_> = h.vias().collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].branch(), Some("390skdjuw"));
    assert_eq!(vias[1].transport, Transport::Tcp);
    assert_eq!(vias[2].branch(), Some("z9hG4bK30239"));
    // Kept byte-exact, as a proxy must forward it.
    let odd = h
        .iter()
        .find_map(|x| match x {
            Header::Other(o) if o.name == "UnknownHeaderWithUnusualValue" => Some(o.value.as_str()),
            _ => None,
        })
        .expect("unknown header kept");
    assert_eq!(odd, " ;;,,;;,;");
    let folded: Vec<_> = h.other("NewFangledHeader").collect();
    assert_eq!(folded, ["newfangled value\r\n continued newfangled value"]);
    assert_eq!(h.other("s").collect::<Vec<_>>(), [""]);
    let c = contact_uris(&r);
    assert_eq!(c.len(), 1);
    assert_eq!(r.body.len(), 150);
}

#[test]
fn intmeth_method_is_an_extension_with_odd_characters() {
    let r = req("rfc4475/intmeth.dat");
    assert_eq!(
        r.method,
        Method::Extension("!interesting-Method0123456789_*+`.%indeed'~".into())
    );
    let to = r.headers.to().expect("To");
    assert_eq!(to.display.as_deref(), Some("BEL:\x07 NUL:\0 DEL:\x7f"));
    let u = r.uri.as_sip().expect("sip R-URI");
    assert_eq!(
        u.user.as_deref(),
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        u.password.as_deref(),
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
}

#[test]
fn esc01_user_unescapes_once() {
    let r = req("rfc4475/esc01.dat");
    let u = r.uri.as_sip().expect("sip");
    assert_eq!(u.user.as_deref(), Some("sips%3Auser%40example.com"));
    assert_eq!(
        u.user_unescaped().as_deref(),
        Some(&b"sips:user@example.com"[..])
    );
    let c = contact_uris(&r);
    let cu = c[0].as_sip().expect("sip contact");
    // name=value%25%34%31 decodes to "value%41", never to "valueA".
    let v = cu
        .params
        .value("n%61me")
        .expect("escaped param name kept as written");
    assert_eq!(sb_sip_msg::uri::unescape(v), b"value%41");
}

#[test]
fn escnull_registers_two_contacts() {
    let r = req("rfc4475/escnull.dat");
    let c = contact_uris(&r);
    assert_eq!(c.len(), 2);
    let users: Vec<_> = c
        .iter()
        .map(|u| u.as_sip().and_then(|s| s.user_unescaped()))
        .collect();
    assert_eq!(users, [Some(vec![0u8]), Some(vec![0u8, 0])]);
    let to = r
        .headers
        .to()
        .and_then(|t| t.uri.as_sip())
        .and_then(|u| u.user_unescaped());
    assert_eq!(to.as_deref(), Some(&b"null-\0-null"[..]));
}

#[test]
fn esc02_method_is_not_register() {
    let r = req("rfc4475/esc02.dat");
    assert_eq!(r.method, Method::Extension("RE%47IST%45R".into()));
    assert_eq!(
        r.headers.from().and_then(|f| f.display.as_deref()),
        Some("%Z%45")
    );
    assert_eq!(r.headers.contacts().count(), 2);
    assert_eq!(r.headers.other("C%6Fntact").count(), 1);
}

#[test]
fn semiuri_user_holds_the_semicolon() {
    let r = req("rfc4475/semiuri.dat");
    let u = r.uri.as_sip().expect("sip");
    assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
    assert_eq!(u.host, Host::Domain("example.com".into()));
    assert!(u.params.is_empty());
}

#[test]
fn cparam_params_go_where_the_brackets_say() {
    let r = req("rfc4475/cparam01.dat");
    let ContactValue::Addr(a) = r.headers.contacts().next().expect("contact") else {
        panic!("star")
    };
    assert!(a.params.contains("unknownparam"));
    assert!(!a.uri.as_sip().expect("sip").params.contains("unknownparam"));
    let r = req("rfc4475/cparam02.dat");
    let ContactValue::Addr(a) = r.headers.contacts().next().expect("contact") else {
        panic!("star")
    };
    assert!(!a.params.contains("unknownparam"));
    assert!(a.uri.as_sip().expect("sip").params.contains("unknownparam"));
}

#[test]
fn regescrt_keeps_the_escaped_route_header() {
    let r = req("rfc4475/regescrt.dat");
    let u = contact_uris(&r)[0].as_sip().expect("sip").clone();
    assert_eq!(
        u.headers,
        [("Route".to_string(), "%3Csip:sip.example.com%3E".to_string())]
    );
}

#[test]
fn ipv6_ports() {
    for dir in ["rfc5118", "rfc5118-wire"] {
        let r = req(&format!("{dir}/port-ambiguous"));
        let u = r.uri.as_sip().expect("sip");
        assert_eq!(
            u.host,
            Host::V6("2001:db8::10:5070".parse::<Ipv6Addr>().expect("v6"))
        );
        assert_eq!(u.port, None);
        let r = req(&format!("{dir}/port-unambiguous"));
        let u = r.uri.as_sip().expect("sip");
        assert_eq!(
            u.host,
            Host::V6("2001:db8::10".parse::<Ipv6Addr>().expect("v6"))
        );
        assert_eq!(u.port, Some(5070));
        let r = req(&format!("{dir}/ipv6-bug-abnf-3-colons"));
        let want: Ipv6Addr = "2001:db8::192.0.2.1".parse().expect("v6");
        assert_eq!(r.uri.as_sip().map(|u| &u.host), Some(&Host::V6(want)));
        let r = req(&format!("{dir}/via-received-param-with-delim"));
        let v = r.headers.top_via().expect("via");
        assert_eq!(
            v.received_ip(),
            Some("2001:db8::9:255".parse().expect("ip"))
        );
        assert_eq!(v.branch(), Some("z9hG4bKas3-111"));
        let r = req(&format!("{dir}/via-received-param-no-delim"));
        let v = r.headers.top_via().expect("via");
        assert_eq!(v.received(), Some("2001:db8::9:255"));
        assert_eq!(v.branch(), Some("z9hG4bKas3"));
    }
}

#[test]
fn dblreq_ignores_the_trailing_request() {
    let r = req("rfc4475/dblreq.dat");
    assert_eq!(r.method, Method::Register);
    assert!(r.body.is_empty());
}

#[test]
fn mpart01_body_is_framed_by_content_length() {
    let r = req("rfc4475/mpart01.dat");
    assert_eq!(r.headers.content_length(), Some(553));
    assert_eq!(r.body.len(), 553);
    assert!(r.body.contains(&0));
}

#[test]
fn inv2543_body_is_the_rest_of_the_datagram() {
    let b = read("rfc4475/inv2543.dat");
    let r = req("rfc4475/inv2543.dat");
    assert_eq!(r.headers.content_length(), None);
    assert!(b.ends_with(&r.body) && r.body.starts_with(b"v=0"));
}

#[test]
fn transports_keeps_every_via_transport() {
    let r = req("rfc4475/transports.dat");
    let t: Vec<_> = r.headers.vias().map(|v| v.transport.clone()).collect();
    assert_eq!(
        t,
        [
            Transport::Udp,
            Transport::Sctp,
            Transport::Tls,
            Transport::Other("UNKNOWN".into()),
            Transport::Tcp
        ]
    );
}

#[test]
fn reason_phrases() {
    let r = resp("rfc4475/noreason.dat");
    assert_eq!(r.status.code(), 100);
    assert_eq!(r.reason, "");
    let r = resp("rfc4475/unreason.dat");
    assert_eq!(r.status.code(), 200);
    assert!(r.reason.starts_with("= 2**3 * 5**2 "));
    assert!(r.reason.contains("сто"));
}

#[test]
fn unknown_schemes_are_kept() {
    let r = req("rfc4475/unkscm.dat");
    assert_eq!(r.uri.scheme(), "nobodyknowsthisscheme");
    let r = req("rfc4475/novelsc.dat");
    assert_eq!(
        r.uri,
        Uri::Other {
            scheme: "soap.beep".into(),
            rest: "//192.0.2.103:3002".into()
        }
    );
    let r = req("rfc4475/unksm2.dat");
    assert_eq!(r.headers.to().map(|t| t.uri.scheme()), Some("isbn"));
    assert_eq!(r.headers.from().map(|t| t.uri.scheme()), Some("http"));
}

#[test]
fn bext01_option_tags_are_split() {
    let r = req("rfc4475/bext01.dat");
    assert_eq!(
        r.headers.require().collect::<Vec<_>>(),
        ["nothingSupportsThis", "nothingSupportsThisEither"]
    );
    assert_eq!(r.headers.proxy_require().count(), 2);
}

#[test]
fn bare_lf_copies_warn_and_wire_copies_do_not() {
    for name in ["ipv6-in-sdp", "mult-ip-in-sdp"] {
        let (_, w) = parse_datagram_with_warnings(&read(&format!("rfc5118/{name}"))).expect(name);
        assert!(
            w.iter()
                .any(|w| w.header.as_deref() == Some("Content-Length")),
            "{name}"
        );
    }
    for name in ["ipv6-bug-abnf-3-colons", "ipv6-correct-abnf-2-colons"] {
        let (_, w) = parse_datagram_with_warnings(&read(&format!("rfc5118/{name}"))).expect(name);
        assert!(w.iter().any(|w| w.message.contains("empty line")), "{name}");
    }
    for r in rows()
        .iter()
        .filter(|r| r.file.starts_with("rfc5118/") && expected_ok(r))
    {
        let f = r.file.replace("rfc5118/", "rfc5118-wire/");
        let ok = lint(&read(&f)).expect(&f);
        assert!(ok.warnings.is_empty(), "{f}: {:?}", ok.warnings);
    }
}

#[test]
fn crlf_messages_are_held_to_content_length() {
    // clerr in the bare-LF tolerance would pass; with CRLF it stays refused.
    assert!(parse_datagram(&read("rfc4475/clerr.dat")).is_err());
}

#[test]
fn every_parsed_message_prints_back_to_itself() {
    for r in rows() {
        for f in files(&r) {
            let Ok(m) = parse_datagram(&read(&f)) else {
                continue;
            };
            let printed = m.to_bytes();
            let again = parse_datagram(&printed).unwrap_or_else(|e| panic!("{f}: reprint: {e}"));
            // The printer states the true Content-Length, so compare after one print.
            assert_eq!(again.to_bytes(), printed, "{f}");
            let cl_true = m.headers().content_length() == Some(m.body().len() as u32);
            if cl_true
                && m.headers()
                    .iter()
                    .filter(|h| matches!(h, Header::ContentLength(_)))
                    .count()
                    == 1
            {
                assert_eq!(again, m, "{f}");
            }
            assert_eq!(
                lint(&printed).is_ok(),
                lint(&read(&f)).is_ok(),
                "{f}: verdict changed"
            );
        }
    }
}
