//! Caller identity toward gateways (PAI + Privacy, RPID, none) and from them.

use sb_gateways::*;
use sb_sip_msg::{parse_datagram, Header, Host, Message, Request};

fn gw(identity: IdentityMode, privacy: PrivacyHandling) -> GatewayConfig {
    let mut g = GatewayConfig::new("gw-a", "192.0.2.1");
    g.identity = identity;
    g.privacy = privacy;
    g
}

fn alice(private: bool) -> CallerIdentity {
    CallerIdentity {
        display: Some("Alice Smith".into()),
        number: Some("+14255550100".into()),
        private,
    }
}

/// The identity as header lines, From first.
fn lines(id: &OutboundIdentity) -> Vec<String> {
    let mut out = vec![Header::From(id.from.clone()).to_string()];
    out.extend(id.headers.iter().map(Header::to_string));
    out
}

const PUBLIC_FROM: &str = "From: \"Alice Smith\" <sip:+14255550100@example.com;user=phone>";
const ANON_FROM: &str = "From: \"Anonymous\" <sip:anonymous@anonymous.invalid>";

#[test]
fn outbound_identity_per_profile() {
    use IdentityMode::*;
    use PrivacyHandling::*;
    let pai = "P-Asserted-Identity: \"Alice Smith\" <sip:+14255550100@example.com;user=phone>";
    let rpid = |p: &str| {
        format!(
            "Remote-Party-ID: \"Alice Smith\" <sip:+14255550100@example.com;user=phone>\
             ;party=calling;screen=yes;privacy={p}"
        )
    };
    let table: Vec<(IdentityMode, PrivacyHandling, bool, Vec<String>)> = vec![
        (Pai, Forward, false, vec![PUBLIC_FROM.into(), pai.into()]),
        (
            Pai,
            Forward,
            true,
            vec![ANON_FROM.into(), pai.into(), "Privacy: id".into()],
        ),
        (Pai, Enforce, false, vec![PUBLIC_FROM.into(), pai.into()]),
        (Pai, Enforce, true, vec![ANON_FROM.into()]),
        (Rpid, Forward, false, vec![PUBLIC_FROM.into(), rpid("off")]),
        (Rpid, Forward, true, vec![ANON_FROM.into(), rpid("full")]),
        (Rpid, Enforce, true, vec![ANON_FROM.into()]),
        (None, Forward, false, vec![PUBLIC_FROM.into()]),
        (None, Forward, true, vec![ANON_FROM.into()]),
    ];
    let host = Host::Domain("example.com".into());
    for (mode, privacy, private, want) in table {
        let id = outbound_identity(&gw(mode, privacy), &alice(private), &host);
        assert_eq!(lines(&id), want, "{mode:?} {privacy:?} private={private}");
    }
}

#[test]
fn a_caller_without_a_number_asserts_nothing() {
    let host = Host::Domain("example.com".into());
    let caller = CallerIdentity {
        display: Some("Lobby".into()),
        number: None,
        private: false,
    };
    let id = outbound_identity(
        &gw(IdentityMode::Pai, PrivacyHandling::Forward),
        &caller,
        &host,
    );
    assert_eq!(
        lines(&id),
        ["From: \"Lobby\" <sip:anonymous@anonymous.invalid>"]
    );
}

#[test]
fn outbound_headers_parse_back_and_read_as_the_same_caller() {
    // What we send a gateway is what we would read from it: the loop closes.
    let host = Host::Domain("example.com".into());
    for mode in [IdentityMode::Pai, IdentityMode::Rpid, IdentityMode::None] {
        for private in [false, true] {
            let id = outbound_identity(&gw(mode, PrivacyHandling::Forward), &alice(private), &host);
            let mut wire = String::from(
                "INVITE sip:4255551212@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK1\r\n",
            );
            for l in lines(&id) {
                wire.push_str(&l);
                wire.push_str("\r\n");
            }
            wire.push_str("To: <sip:4255551212@192.0.2.1>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n");
            let req = request(&wire);
            let c = inbound_caller(&req);
            let what = format!("{mode:?} private={private}");
            if private && mode == IdentityMode::None {
                assert_eq!(c.number, Option::None, "{what}");
            } else {
                assert_eq!(c.number.as_deref(), Some("+14255550100"), "{what}");
            }
            // With no identity header an anonymous From carries nothing to restrict.
            let withheld = private && mode != IdentityMode::None;
            assert_eq!(c.number_restricted, withheld, "{what}");
            assert_eq!(c.presented_number().is_some(), !private, "{what}");
        }
    }
}

fn request(wire: &str) -> Request {
    match parse_datagram(wire.as_bytes()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => panic!("not a request"),
    }
}

/// An INVITE from a gateway with these extra header lines and From.
fn invite(from: &str, extra: &[&str]) -> Request {
    let mut wire = String::from(
        "INVITE sip:+14255551212@sb.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n",
    );
    wire.push_str(&format!("From: {from};tag=g1\r\n"));
    for l in extra {
        wire.push_str(l);
        wire.push_str("\r\n");
    }
    wire.push_str("To: <sip:+14255551212@sb.example.com>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n");
    request(&wire)
}

#[test]
fn inbound_caller_table() {
    use IdentitySource as S;
    // (From, extra headers, number, display, source, number restricted, name restricted)
    type Row<'a> = (
        &'a str,
        Vec<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        S,
        bool,
        bool,
    );
    let from = "\"GW\" <sip:2065550199@192.0.2.1>";
    let table: Vec<Row> = vec![
        // Only From.
        (from, vec![], Some("2065550199"), Some("GW"), S::From, false, false),
        // PAI wins over RPID and From; the tel: value is used when the sip: one is a name.
        (
            from,
            vec![
                "P-Asserted-Identity: <sip:trunk@192.0.2.1>, \"Bob\" <tel:+1-206-555-0111>",
                "Remote-Party-ID: <sip:2065550122@192.0.2.1>;party=calling",
            ],
            Some("+12065550111"),
            Some("Bob"),
            S::PAssertedIdentity,
            false,
            false,
        ),
        // Privacy: id hides what PAI asserts, but the number is still read.
        (
            "\"Anonymous\" <sip:anonymous@anonymous.invalid>",
            vec!["P-Asserted-Identity: <sip:+12065550111@192.0.2.1;user=phone>", "Privacy: id"],
            Some("+12065550111"),
            None,
            S::PAssertedIdentity,
            true,
            true,
        ),
        // Privacy: none means none.
        (
            from,
            vec!["P-Asserted-Identity: <sip:+12065550111@192.0.2.1>", "Privacy: none"],
            Some("+12065550111"),
            None,
            S::PAssertedIdentity,
            false,
            false,
        ),
        // RPID: the calling party's value, not the called party's; privacy=full.
        (
            from,
            vec![
                "Remote-Party-ID: <sip:4255551212@sb.example.com>;party=called",
                "Remote-Party-ID: \"Carol\" <sip:2065550122@192.0.2.1>;party=calling;privacy=full;screen=yes",
            ],
            Some("2065550122"),
            Some("Carol"),
            S::RemotePartyId,
            true,
            true,
        ),
        // RPID privacy=name hides the name only; privacy=uri the number only.
        (
            from,
            vec!["Remote-Party-ID: \"Carol\" <sip:2065550122@192.0.2.1>;privacy=name"],
            Some("2065550122"),
            Some("Carol"),
            S::RemotePartyId,
            false,
            true,
        ),
        (
            from,
            vec!["Remote-Party-ID: \"Carol\" <sip:2065550122@192.0.2.1>;privacy=uri"],
            Some("2065550122"),
            Some("Carol"),
            S::RemotePartyId,
            true,
            false,
        ),
        // An anonymous From without identity headers: no number at all.
        (
            "\"Anonymous\" <sip:anonymous@anonymous.invalid>",
            vec![],
            None,
            None,
            S::None,
            false,
            false,
        ),
        // Privacy: user on a From-only call (RFC 3323 §4.2), Privacy values with ';'.
        (
            from,
            vec!["Privacy: user;critical"],
            Some("2065550199"),
            Some("GW"),
            S::From,
            true,
            true,
        ),
        // An unparseable PAI does not hide the From.
        (
            from,
            vec!["P-Asserted-Identity: <<<"],
            Some("2065550199"),
            Some("GW"),
            S::From,
            false,
            false,
        ),
    ];
    for (from, extra, number, display, source, nr, dr) in table {
        let c = inbound_caller(&invite(from, &extra));
        let what = format!("{from} {extra:?}");
        assert_eq!(c.number.as_deref(), number, "{what}");
        assert_eq!(c.display.as_deref(), display, "{what}");
        assert_eq!(c.source, source, "{what}");
        assert_eq!(c.number_restricted, nr, "{what}");
        assert_eq!(c.name_restricted, dr, "{what}");
        assert_eq!(c.presented_number(), number.filter(|_| !nr), "{what}");
        assert_eq!(c.presented_name(), display.filter(|_| !dr), "{what}");
    }
}

#[test]
fn a_gateway_applies_its_number_rules_to_identities() {
    let t = GatewayTable::compile(
        toml::from_str(
            r#"
            [[gateways]]
            name = "gw-a"
            address = "192.0.2.1"
            identity = "pai"
            outbound = [ { match = "+1.", convert = { to = "national", country_code = "1" } } ]
            inbound = [ { match = "NXXNXXXXXX", convert = { to = "e164", country_code = "1" } } ]
            "#,
        )
        .unwrap(),
    )
    .unwrap();
    let g = t.gateway_by_ip("192.0.2.1".parse().unwrap()).unwrap();
    assert!(t.gateway_by_ip("192.0.2.2".parse().unwrap()).is_none());
    let id = g.outbound_identity(&alice(false), &Host::Domain("example.com".into()));
    assert_eq!(
        lines(&id),
        [
            "From: \"Alice Smith\" <sip:4255550100@example.com;user=phone>",
            "P-Asserted-Identity: \"Alice Smith\" <sip:4255550100@example.com;user=phone>"
        ]
    );
    let c = g.inbound_caller(&invite("<sip:2065550199@192.0.2.1>", &[]));
    assert_eq!(c.number.as_deref(), Some("+12065550199"));
    assert_eq!(c.source, IdentitySource::From);
}
