//! Table tests: one request in, the status (and the headers that matter) out.

use crate::{Frontend, FrontendConfig};
use sb_sip_msg::{
    CSeq, CallId, Header, Host, Invalid, Method, NameAddr, Params, ParseError, ParseErrorKind,
    Request, SipUri, StatusCode, TelUri, Transport, Uri, Via,
};

fn sip(user: &str, host: &str) -> Uri {
    Uri::Sip(SipUri {
        secure: false,
        user: Some(user.into()),
        password: None,
        host: Host::Domain(host.into()),
        port: None,
        params: Params::new(),
        headers: Vec::new(),
    })
}

fn req(method: Method, uri: Uri) -> Request {
    let mut r = Request::new(method.clone(), uri);
    let mut vp = Params::new();
    vp.set("branch", Some("z9hG4bK-1"));
    r.headers.push(Header::Via(Via {
        protocol: "SIP".into(),
        version: "2.0".into(),
        transport: Transport::Udp,
        host: Host::Domain("client.example.org".into()),
        port: Some(5060),
        params: vp,
    }));
    r.headers.push(Header::MaxForwards(70));
    r.headers
        .push(Header::To(NameAddr::new(sip("bob", "example.com"))));
    let mut from = NameAddr::new(sip("alice", "example.org"));
    from.params.set("tag", Some("ftag"));
    r.headers.push(Header::From(from));
    r.headers.push(Header::CallId(CallId("call-1".into())));
    r.headers.push(Header::CSeq(CSeq { seq: 1, method }));
    r
}

fn with(mut r: Request, h: Header) -> Request {
    r.headers.push(h);
    r
}

fn max_forwards(mut r: Request, n: u32) -> Request {
    r.headers.remove(sb_sip_msg::HeaderName::MaxForwards);
    r.headers.push(Header::MaxForwards(n));
    r
}

fn fe(domains: &[&str]) -> Frontend {
    Frontend::new(FrontendConfig {
        domains: domains.iter().map(|d| d.to_string()).collect(),
        supported: vec!["path".into()],
        tag_seed: 42,
        server_name: "switchboard-test".into(),
    })
}

fn other_uri() -> Uri {
    Uri::Other {
        scheme: "nobodyknowsthisscheme".into(),
        rest: "totallyopaquecontent".into(),
    }
}

fn tel() -> Uri {
    Uri::Tel(TelUri {
        number: "+12125551212".into(),
        params: Params::new(),
    })
}

#[test]
fn status_table() {
    let ext = || Method::Extension("FOO".into());
    let cases: Vec<(&str, Request, &[&str], Option<u16>)> = vec![
        (
            "OPTIONS for us",
            req(Method::Options, sip("bob", "example.com")),
            &["example.com"],
            Some(200),
        ),
        (
            "OPTIONS, any domain by default",
            req(Method::Options, sip("bob", "x.test")),
            &[],
            Some(200),
        ),
        (
            "OPTIONS to tel",
            req(Method::Options, tel()),
            &["example.com"],
            Some(200),
        ),
        (
            "domain case-insensitive",
            req(Method::Options, sip("bob", "EXAMPLE.com")),
            &["example.com"],
            Some(200),
        ),
        (
            "zeromf OPTIONS for us",
            max_forwards(req(Method::Options, sip("bob", "example.com")), 0),
            &["example.com"],
            Some(200),
        ),
        (
            "zeromf INVITE for us",
            max_forwards(req(Method::Invite, sip("bob", "example.com")), 0),
            &["example.com"],
            Some(405),
        ),
        (
            "zeromf not for us",
            max_forwards(req(Method::Options, sip("bob", "elsewhere.net")), 0),
            &["example.com"],
            Some(483),
        ),
        (
            "zeromf INVITE not for us",
            max_forwards(req(Method::Invite, sip("bob", "elsewhere.net")), 0),
            &["example.com"],
            Some(483),
        ),
        (
            "not for us",
            req(Method::Options, sip("bob", "elsewhere.net")),
            &["example.com"],
            Some(404),
        ),
        (
            "unknown scheme",
            req(Method::Options, other_uri()),
            &[],
            Some(416),
        ),
        (
            "unknown scheme beats max-forwards",
            max_forwards(req(Method::Invite, other_uri()), 0),
            &["example.com"],
            Some(416),
        ),
        (
            "INVITE",
            req(Method::Invite, sip("bob", "example.com")),
            &[],
            Some(405),
        ),
        (
            "REGISTER",
            req(Method::Register, sip("", "example.com")),
            &[],
            Some(405),
        ),
        (
            "SUBSCRIBE",
            req(Method::Subscribe, sip("bob", "example.com")),
            &[],
            Some(405),
        ),
        (
            "MESSAGE",
            req(Method::Message, sip("bob", "example.com")),
            &[],
            Some(405),
        ),
        (
            "extension method",
            req(ext(), sip("bob", "example.com")),
            &[],
            Some(501),
        ),
        (
            "lower-case invite is an extension",
            req(
                Method::Extension("invite".into()),
                sip("bob", "example.com"),
            ),
            &[],
            Some(501),
        ),
        (
            "CANCEL without a transaction",
            req(Method::Cancel, sip("bob", "example.com")),
            &[],
            Some(481),
        ),
        (
            "ACK is never answered",
            req(Method::Ack, sip("bob", "example.com")),
            &[],
            None,
        ),
        (
            "ACK with a bad scheme is never answered",
            req(Method::Ack, other_uri()),
            &[],
            None,
        ),
        (
            "Require unknown",
            with(
                req(Method::Options, sip("bob", "example.com")),
                Header::Require("foo".into()),
            ),
            &[],
            Some(420),
        ),
        (
            "Proxy-Require unknown",
            with(
                req(Method::Options, sip("bob", "example.com")),
                Header::ProxyRequire("bar".into()),
            ),
            &[],
            Some(420),
        ),
        (
            "Require supported",
            with(
                req(Method::Options, sip("bob", "example.com")),
                Header::Require("PATH".into()),
            ),
            &[],
            Some(200),
        ),
        (
            "Require before method",
            with(
                req(Method::Invite, sip("bob", "example.com")),
                Header::Require("foo".into()),
            ),
            &[],
            Some(420),
        ),
    ];
    for (name, r, domains, want) in cases {
        let got = fe(domains)
            .handle_request(&r)
            .map(|resp| resp.status.code());
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn ip_hosts_match_configured_addresses() {
    let with_host = |host: Host| match sip("bob", "x") {
        Uri::Sip(mut u) => {
            u.host = host;
            Uri::Sip(u)
        }
        _ => unreachable!("sip() builds a SIP URI"),
    };
    let status = |domains: &[&str], host: Host| {
        let r = req(Method::Options, with_host(host));
        fe(domains).handle_request(&r).unwrap().status.code()
    };
    let v6 = |a: &str| Host::V6(a.parse().unwrap());
    let v4 = |a: &str| Host::V4(a.parse().unwrap());
    assert_eq!(status(&["[2001:db8::1]"], v6("2001:db8::1")), 200);
    assert_eq!(status(&["2001:DB8::1"], v6("2001:db8::1")), 200);
    assert_eq!(status(&["192.0.2.1"], v4("192.0.2.1")), 200);
    assert_eq!(status(&["192.0.2.1"], v4("192.0.2.2")), 404);
}

#[test]
fn response_copies_dialog_headers_and_adds_a_to_tag() {
    let r = req(Method::Options, sip("bob", "example.com"));
    let resp = fe(&[]).handle_request(&r).unwrap();
    assert_eq!(
        resp.headers.vias().collect::<Vec<_>>(),
        r.headers.vias().collect::<Vec<_>>()
    );
    assert_eq!(resp.headers.from(), r.headers.from());
    assert_eq!(resp.headers.call_id(), r.headers.call_id());
    assert_eq!(resp.headers.cseq(), r.headers.cseq());
    let to = resp.headers.to().unwrap();
    assert_eq!(to.uri, r.headers.to().unwrap().uri);
    assert!(
        to.tag().is_some_and(|t| t.len() >= 8),
        "final responses carry a To tag"
    );
    assert!(
        resp.headers.max_forwards().is_none(),
        "Max-Forwards is not copied"
    );
}

#[test]
fn an_existing_to_tag_is_kept_and_tags_differ_between_responses() {
    let mut r = req(Method::Options, sip("bob", "example.com"));
    r.headers.to_mut().unwrap().params.set("tag", Some("mine"));
    let mut f = fe(&[]);
    assert_eq!(
        f.handle_request(&r).unwrap().headers.to().unwrap().tag(),
        Some("mine")
    );
    let r2 = req(Method::Options, sip("bob", "example.com"));
    let a = f.handle_request(&r2).unwrap();
    let b = f.handle_request(&r2).unwrap();
    assert_ne!(a.headers.to().unwrap().tag(), b.headers.to().unwrap().tag());
}

#[test]
fn options_200_advertises_allow_accept_supported() {
    let resp = fe(&[])
        .handle_request(&req(Method::Options, sip("b", "h")))
        .unwrap();
    let allow: Vec<_> = resp.headers.allow().cloned().collect();
    assert_eq!(allow, [Method::Options, Method::Ack, Method::Cancel]);
    assert_eq!(
        resp.headers.other("Accept").collect::<Vec<_>>(),
        ["application/sdp"]
    );
    assert_eq!(resp.headers.supported().collect::<Vec<_>>(), ["path"]);
    assert_eq!(
        resp.headers.other("Server").collect::<Vec<_>>(),
        ["switchboard-test"]
    );

    let mut bare = Frontend::new(FrontendConfig::default());
    let resp = bare
        .handle_request(&req(Method::Options, sip("b", "h")))
        .unwrap();
    assert_eq!(resp.headers.other("Supported").collect::<Vec<_>>(), [""]);
    assert_eq!(resp.headers.other("Server").count(), 0);
}

#[test]
fn method_refusals_carry_allow() {
    for m in [Method::Invite, Method::Extension("FOO".into())] {
        let resp = fe(&[]).handle_request(&req(m, sip("b", "h"))).unwrap();
        assert_eq!(resp.headers.allow().count(), 3, "{}", resp.status);
    }
}

#[test]
fn bad_extension_lists_each_unsupported_tag_once() {
    let r = req(Method::Options, sip("b", "h"));
    let r = with(r, Header::Require("foo".into()));
    let r = with(r, Header::Require("path".into()));
    let r = with(r, Header::ProxyRequire("bar".into()));
    let r = with(r, Header::ProxyRequire("FOO".into()));
    let resp = fe(&[]).handle_request(&r).unwrap();
    assert_eq!(resp.status, StatusCode::BAD_EXTENSION);
    assert_eq!(
        resp.headers
            .0
            .iter()
            .filter_map(|h| match h {
                Header::Unsupported(t) => Some(t.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>(),
        ["foo", "bar"]
    );
}

#[test]
fn invalid_requests_get_400_with_the_reason() {
    let r = req(Method::Options, sip("b", "h"));
    let why = Invalid {
        header: Some("CSeq".into()),
        reason: "CSeq method does not\r\nmatch".into(),
    };
    let resp = fe(&[]).handle_invalid(&r, &why).unwrap();
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert_eq!(resp.reason, "Bad Request");
    // The detail rides in a Warning, after every other header (see bad_request_warning).
    let last = resp.headers.0.last().unwrap().to_string();
    assert_eq!(
        last,
        "Warning: 399 switchboard \"CSeq method does not match\""
    );
    assert!(fe(&[])
        .handle_invalid(&req(Method::Ack, sip("b", "h")), &why)
        .is_none());
}

#[test]
fn parse_errors_map_to_400_505_or_drop() {
    let bytes =
        b"OPTIONS sip:h SIP/7.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nCSeq: 1 OPTIONS\r\n\r\n";
    let err = |kind, is_request| ParseError {
        kind,
        header: None,
        reason: "bad\nthing".into(),
        is_request,
    };
    let cases = [
        (ParseErrorKind::Syntax, true, Some(400), "Bad Request"),
        (ParseErrorKind::Framing, true, Some(400), "Bad Request"),
        (
            ParseErrorKind::Version,
            true,
            Some(505),
            "Version Not Supported",
        ),
        (
            ParseErrorKind::TooLarge,
            true,
            Some(513),
            "Message Too Large",
        ),
        (ParseErrorKind::Syntax, false, None, ""),
    ];
    for (kind, is_request, want, reason) in cases {
        let got = fe(&[]).handle_parse_error(bytes, &err(kind.clone(), is_request));
        assert_eq!(got.as_ref().map(|r| r.status.code()), want, "{kind:?}");
        if let Some(r) = got {
            assert_eq!(r.reason, reason);
            let warning = r.headers.other("Warning").next();
            if r.status.code() == 400 {
                assert_eq!(warning, Some("399 switchboard \"bad thing\""));
            } else {
                assert_eq!(warning, None);
            }
        }
    }
    let ack = b"ACK sip:h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nCSeq: 1 ACK\r\n\r\n";
    assert!(fe(&[])
        .handle_parse_error(ack, &err(ParseErrorKind::Syntax, true))
        .is_none());
}

#[test]
fn shutdown_refusal_is_503_except_for_ack() {
    let resp = fe(&[])
        .refuse_unavailable(&req(Method::Options, sip("b", "h")))
        .unwrap();
    assert_eq!(resp.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(fe(&[])
        .refuse_unavailable(&req(Method::Ack, sip("b", "h")))
        .is_none());
}
