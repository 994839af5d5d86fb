//! Properties: printed messages parse back equal; no input panics the parser or the framer;
//! any chunking of a stream frames the same messages.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use sb_sip_msg::{
    parse_datagram, CSeq, CallId, ContactValue, Framed, Header, Headers, Host, Message, Method,
    NameAddr, OtherHeader, Params, Request, Response, SipUri, StatusCode, StreamFramer, TelUri,
    Transport, Uri, Via,
};
use std::net::{Ipv4Addr, Ipv6Addr};

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,11}"
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::Invite),
        Just(Method::Ack),
        Just(Method::Bye),
        Just(Method::Cancel),
        Just(Method::Register),
        Just(Method::Options),
        Just(Method::Refer),
        token().prop_map(|t| Method::from_token(&t)),
    ]
}

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,8}(\\.[a-z][a-zA-Z0-9-]{0,8}){0,3}".prop_map(Host::Domain),
        any::<u32>().prop_map(|a| Host::V4(Ipv4Addr::from(a))),
        any::<u128>().prop_map(|a| Host::V6(Ipv6Addr::from(a))),
    ]
}

/// Header parameters: token names, token or quoted values.
fn params() -> impl Strategy<Value = Params> {
    let value = prop_oneof![
        token(),
        "[ a-zA-Z0-9,;:<>@/=?-]{0,12}".prop_map(|s| format!("\"{s}\"")),
    ];
    vec((token(), option::of(value)), 0..3).prop_map(Params)
}

fn uri_params() -> impl Strategy<Value = Params> {
    vec(
        ("[a-z][a-z0-9-]{0,6}", option::of("[a-zA-Z0-9.:+$-]{1,8}")),
        0..3,
    )
    .prop_map(Params)
}

fn sip_uri() -> impl Strategy<Value = SipUri> {
    (
        any::<bool>(),
        option::of("[a-zA-Z0-9._!~*'()&=+$,;?/-]{1,10}(%[0-9A-F]{2})?"),
        option::of("[a-zA-Z0-9&=+$,]{0,6}"),
        host(),
        option::of(any::<u16>()),
        uri_params(),
        vec(("[a-zA-Z][a-zA-Z0-9-]{0,6}", "[a-zA-Z0-9%:?/]{0,8}"), 0..2),
    )
        .prop_map(
            |(secure, user, password, host, port, params, headers)| SipUri {
                secure,
                password: user.as_ref().and(password),
                user,
                host,
                port,
                params,
                headers: headers
                    .into_iter()
                    .map(|(n, v)| (n, v.replace('%', "%25")))
                    .collect(),
            },
        )
}

fn uri() -> impl Strategy<Value = Uri> {
    prop_oneof![
        4 => sip_uri().prop_map(Uri::Sip),
        1 => ("\\+?[0-9]{1,12}", uri_params())
            .prop_map(|(number, params)| Uri::Tel(TelUri { number, params })),
        1 => ("[a-z][a-z0-9+.-]{0,6}", "[a-zA-Z0-9:/.@-]{1,12}")
            .prop_filter("not a typed scheme", |(s, _)| !matches!(s.as_str(), "sip" | "sips" | "tel"))
            .prop_map(|(scheme, rest)| Uri::Other { scheme, rest }),
    ]
}

fn name_addr() -> impl Strategy<Value = NameAddr> {
    // Any text a quoted-string can carry: printable ASCII (quotes and backslashes escaped
    // by the printer), controls as quoted-pairs, non-ASCII as is.
    let display = option::of("[ -~\u{1}\u{7f}éß漢]{0,12}");
    (display, uri(), params()).prop_map(|(display, uri, params)| NameAddr {
        display,
        uri,
        params,
    })
}

fn via() -> impl Strategy<Value = Via> {
    let transport = prop_oneof![
        Just(Transport::Udp),
        Just(Transport::Tcp),
        Just(Transport::Tls),
        Just(Transport::Ws),
        "[A-Z]{2,6}".prop_map(|t| Transport::from_token(&t)),
    ];
    (
        transport,
        host(),
        option::of(any::<u16>()),
        "[a-zA-Z0-9]{1,10}",
        params(),
    )
        .prop_map(|(transport, host, port, branch, mut params)| {
            params
                .0
                .insert(0, ("branch".into(), Some(format!("z9hG4bK{branch}"))));
            Via {
                protocol: "SIP".into(),
                version: "2.0".into(),
                transport,
                host,
                port,
                params,
            }
        })
}

fn other() -> impl Strategy<Value = Header> {
    ("X-[A-Za-z0-9-]{1,10}", "[ -~]{0,20}").prop_map(|(name, value)| {
        Header::Other(OtherHeader {
            name,
            value: value.trim_end().to_string(),
        })
    })
}

fn header() -> impl Strategy<Value = Header> {
    prop_oneof![
        via().prop_map(Header::Via),
        name_addr().prop_map(Header::From),
        name_addr().prop_map(Header::To),
        "[a-zA-Z0-9.!%*_+`'~()<>:\\\\/\\[\\]?{}-]{1,16}(@[a-z0-9.]{1,8})?"
            .prop_map(|c| Header::CallId(CallId(c))),
        (any::<u32>(), method()).prop_map(|(seq, method)| Header::CSeq(CSeq { seq, method })),
        any::<u32>().prop_map(Header::MaxForwards),
        any::<u32>().prop_map(Header::Expires),
        any::<u32>().prop_map(Header::MinExpires),
        "(application|text)/[a-z]{1,8}".prop_map(Header::ContentType),
        prop_oneof![
            1 => Just(ContactValue::Star),
            5 => name_addr().prop_map(ContactValue::Addr)
        ]
        .prop_map(Header::Contact),
        name_addr().prop_map(Header::Route),
        name_addr().prop_map(Header::RecordRoute),
        token().prop_map(Header::Require),
        token().prop_map(Header::ProxyRequire),
        token().prop_map(Header::Supported),
        token().prop_map(Header::Unsupported),
        method().prop_map(Header::Allow),
        other(),
    ]
}

/// A message with a true Content-Length somewhere among its headers (the printer always
/// states the body's length, so that is what a parse gives back).
fn message() -> impl Strategy<Value = Message> {
    let body = vec(any::<u8>(), 0..64);
    (
        any::<bool>(),
        method(),
        uri(),
        100u16..=699,
        "[ -~]{0,16}",
        vec(header(), 0..10),
        body,
        any::<prop::sample::Index>(),
    )
        .prop_map(|(is_req, method, uri, code, reason, mut hs, body, at)| {
            let at = at.index(hs.len() + 1);
            hs.insert(at, Header::ContentLength(body.len() as u32));
            let headers = Headers(hs);
            if is_req {
                Message::Request(Request {
                    method,
                    uri,
                    headers,
                    body,
                })
            } else {
                Message::Response(Response {
                    status: StatusCode(code),
                    reason,
                    headers,
                    body,
                })
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        // Integration tests have no lib.rs beside them to anchor regression files.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn print_then_parse_is_identity(m in message()) {
        let bytes = m.to_bytes();
        let back = parse_datagram(&bytes);
        prop_assert_eq!(back.as_ref(), Ok(&m), "printed:\n{}", String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        let _ = parse_datagram(&bytes);
        let _ = sb_sip_msg::lint(&bytes);
        let mut f = StreamFramer::new(1024);
        f.push(&bytes);
        while let Ok(Some(_)) = f.next() {}
    }

    #[test]
    fn mutated_messages_never_panic(m in message(), edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = m.to_bytes();
        for (i, b) in edits {
            let i = i.index(bytes.len());
            bytes[i] = b;
        }
        if let Ok(p) = parse_datagram(&bytes) {
            // Whatever parses prints to something that parses to the same value.
            let printed = p.to_bytes();
            let again = parse_datagram(&printed);
            prop_assert!(again.is_ok(), "{:?}", again);
            prop_assert_eq!(again.map(|a| a.to_bytes()).unwrap_or_default(), printed);
        }
    }

    #[test]
    fn any_chunking_frames_the_same(
        items in vec(prop_oneof![3 => message().prop_map(Some), 1 => Just(None)], 1..6),
        cuts in vec(any::<prop::sample::Index>(), 0..12),
    ) {
        // None is a keep-alive ping between messages.
        let mut stream = Vec::new();
        let mut want = Vec::new();
        for it in &items {
            match it {
                Some(m) => {
                    stream.extend_from_slice(&m.to_bytes());
                    want.push(Framed::Message(Ok(m.clone())));
                }
                None => {
                    stream.extend_from_slice(b"\r\n\r\n");
                    want.push(Framed::Ping);
                }
            }
        }
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        cuts.sort_unstable();
        let mut f = StreamFramer::new(1 << 20);
        let mut got = Vec::new();
        let mut last = 0;
        for c in cuts.into_iter().chain([stream.len()]) {
            f.push(&stream[last..c]);
            last = c;
            while let Some(item) = f.next().expect("framing intact") {
                got.push(item);
            }
        }
        prop_assert_eq!(got, want);
        prop_assert_eq!(f.buffered(), 0);
    }
}
