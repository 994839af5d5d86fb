//! REGISTER handling rule by rule (RFC 3261 §10.3, RFC 5626 §6) on an injected clock.

use sb_registrar::*;
use sb_sip_msg::{parse_datagram, ContactValue, Header, Message, Request, StatusCode, Transport};

const T0: u64 = 1_800_000_000;

fn config() -> RegistrarConfig {
    RegistrarConfig {
        domains: vec!["example.com".into()],
        ..RegistrarConfig::default()
    }
}

fn source() -> Source {
    Source {
        transport: Transport::Udp,
        addr: "192.0.2.10:5060".parse().unwrap(),
    }
}

fn alice() -> Aor {
    Aor::from_canonical("sip:alice@example.com")
}

/// A REGISTER builder: To/From alice unless changed.
#[derive(Clone)]
struct Reg {
    to: String,
    call_id: String,
    cseq: u32,
    expires: Option<u32>,
    contacts: Vec<String>,
    extra: Vec<String>,
}

fn reg() -> Reg {
    Reg {
        to: "<sip:alice@example.com>".into(),
        call_id: "call-1".into(),
        cseq: 1,
        expires: None,
        contacts: Vec::new(),
        extra: Vec::new(),
    }
}

impl Reg {
    fn contact(mut self, c: &str) -> Self {
        self.contacts.push(c.into());
        self
    }
    fn header(mut self, line: &str) -> Self {
        self.extra.push(line.into());
        self
    }
    fn cseq(mut self, n: u32) -> Self {
        self.cseq = n;
        self
    }
    fn call_id(mut self, c: &str) -> Self {
        self.call_id = c.into();
        self
    }
    fn expires(mut self, e: u32) -> Self {
        self.expires = Some(e);
        self
    }
    fn to(mut self, t: &str) -> Self {
        self.to = t.into();
        self
    }
    fn build(&self) -> Request {
        let mut s = format!(
            "REGISTER sip:example.com SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK{}\r\n\
             From: <sip:alice@example.com>;tag=f\r\nTo: {}\r\n\
             Call-ID: {}\r\nCSeq: {} REGISTER\r\nMax-Forwards: 70\r\n",
            self.cseq, self.to, self.call_id, self.cseq
        );
        if let Some(e) = self.expires {
            s.push_str(&format!("Expires: {e}\r\n"));
        }
        for c in &self.contacts {
            s.push_str(&format!("Contact: {c}\r\n"));
        }
        for e in &self.extra {
            s.push_str(&format!("{e}\r\n"));
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        match parse_datagram(s.as_bytes()).expect("test message parses") {
            Message::Request(r) => r,
            Message::Response(_) => unreachable!(),
        }
    }
}

fn send(r: &mut Registrar, now: u64, b: &Reg) -> Reply {
    r.handle_register(now, &b.build(), &source(), &Authorized::Unchecked)
}

/// The Contact values of a reply, printed.
fn contacts(reply: &Reply) -> Vec<String> {
    reply
        .headers
        .iter()
        .filter_map(|h| match h {
            Header::Contact(c) => Some(c.to_string()),
            _ => None,
        })
        .collect()
}

fn effects(r: &mut Registrar) -> Vec<Effect> {
    std::iter::from_fn(|| r.poll_effect()).collect()
}

#[test]
fn add_refresh_fetch_and_remove() {
    let mut r = Registrar::new(config());
    let rep = send(&mut r, T0, &reg().contact("<sip:alice@192.0.2.10>"));
    assert_eq!(rep.status.0, 200);
    assert_eq!(contacts(&rep), ["<sip:alice@192.0.2.10>;expires=3600"]);
    assert!(matches!(&effects(&mut r)[..], [Effect::Upsert(b)] if b.aor == alice()));

    // A fetch (no Contact) lists the time left and changes nothing.
    let rep = send(&mut r, T0 + 600, &reg().cseq(2));
    assert_eq!(contacts(&rep), ["<sip:alice@192.0.2.10>;expires=3000"]);
    assert!(effects(&mut r).is_empty());

    let rep = send(
        &mut r,
        T0 + 700,
        &reg().cseq(3).contact("<sip:alice@192.0.2.10>"),
    );
    assert_eq!(contacts(&rep), ["<sip:alice@192.0.2.10>;expires=3600"]);
    assert_eq!(r.poll_timeout(), Some(T0 + 700 + 3600));

    let rep = send(
        &mut r,
        T0 + 800,
        &reg().cseq(4).contact("<sip:alice@192.0.2.10>;expires=0"),
    );
    assert_eq!(rep.status.0, 200);
    assert!(contacts(&rep).is_empty());
    assert!(r.is_empty());
    let fx = effects(&mut r);
    assert!(matches!(
        &fx[..],
        [
            Effect::Upsert(_),
            Effect::Remove {
                reason: RemoveReason::Unregistered,
                ..
            }
        ]
    ));
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn expires_come_from_the_param_then_the_header_then_the_default() {
    // (Contact parameter, Expires header, status, listed expires or Min-Expires).
    type Row = (Option<&'static str>, Option<u32>, u16, Option<u32>);
    let table: &[Row] = &[
        (Some("120"), Some(300), 200, Some(120)),
        (None, Some(300), 200, Some(300)),
        (None, None, 200, Some(3600)),
        (Some("60"), None, 200, Some(60)),
        (Some("100000"), None, 200, Some(86_400)),
        (Some("99999999999999999999"), None, 200, Some(86_400)),
        (None, Some(100_000), 200, Some(86_400)),
        (Some("59"), None, 423, Some(60)),
        (None, Some(1), 423, Some(60)),
        (Some("30"), Some(0), 423, Some(60)),
        (Some("0"), None, 200, None),
        (Some("abc"), None, 400, None),
        (Some("-1"), None, 400, None),
    ];
    for &(param, header, status, want) in table {
        let mut r = Registrar::new(config());
        let c = match param {
            Some(p) => format!("<sip:alice@192.0.2.10>;expires={p}"),
            None => "<sip:alice@192.0.2.10>".into(),
        };
        let mut b = reg().contact(&c);
        b.expires = header;
        let rep = send(&mut r, T0, &b);
        let case = format!("{param:?} {header:?}");
        assert_eq!(rep.status.0, status, "{case}");
        match (status, want) {
            (200, Some(e)) => assert_eq!(
                contacts(&rep),
                [format!("<sip:alice@192.0.2.10>;expires={e}")],
                "{case}"
            ),
            (423, Some(min)) => {
                assert!(rep.headers.contains(&Header::MinExpires(min)), "{case}");
                assert!(r.is_empty(), "{case}");
            }
            _ => assert!(contacts(&rep).is_empty(), "{case}"),
        }
    }
}

#[test]
fn star_removes_everything_only_alone_and_with_expires_zero() {
    let setup = || {
        let mut r = Registrar::new(config());
        let b = reg()
            .contact("<sip:alice@192.0.2.10>")
            .contact("<sip:alice@198.51.100.1>");
        assert_eq!(send(&mut r, T0, &b).status.0, 200);
        assert_eq!(r.len(), 2);
        effects(&mut r);
        r
    };
    // (request, status, bindings left).
    let table = [
        (reg().call_id("other").contact("*").expires(0), 200, 0),
        (reg().cseq(2).contact("*").expires(0), 200, 0),
        (reg().cseq(2).contact("*"), 400, 2),
        (reg().cseq(2).contact("*").expires(10), 400, 2),
        (
            reg().cseq(2).contact("*").contact("<sip:a@h>").expires(0),
            400,
            2,
        ),
        // Same Call-ID, CSeq not higher: aborted (§10.3 step 6 applies step 7's rule).
        (reg().cseq(1).contact("*").expires(0), 500, 2),
    ];
    for (b, status, left) in table {
        let mut r = setup();
        let rep = send(&mut r, T0 + 1, &b);
        assert_eq!(rep.status.0, status, "{:?}", b.contacts);
        assert_eq!(r.len(), left);
        let removes = effects(&mut r)
            .into_iter()
            .filter(|e| matches!(e, Effect::Remove { .. }))
            .count();
        assert_eq!(removes, 2 - left);
    }
}

#[test]
fn call_id_and_cseq_ordering() {
    // (Call-ID, CSeq of the second REGISTER, status). The first was call-1 / 5.
    let table = [
        ("call-1", 6, 200),
        ("call-1", 5, 500),
        ("call-1", 4, 500),
        ("call-2", 1, 200), // another Call-ID: a new client session, accepted
    ];
    for (call_id, cseq, status) in table {
        let mut r = Registrar::new(config());
        send(&mut r, T0, &reg().cseq(5).contact("<sip:alice@192.0.2.10>"));
        let b = reg()
            .call_id(call_id)
            .cseq(cseq)
            .contact("<sip:alice@192.0.2.10>;expires=120");
        let rep = send(&mut r, T0 + 1, &b);
        assert_eq!(rep.status.0, status, "{call_id} {cseq}");
        if status == 500 {
            // Nothing changed: still the first registration's expiry.
            assert_eq!(r.poll_timeout(), Some(T0 + 3600));
        }
    }
}

#[test]
fn q_values_are_checked_and_order_the_lookup() {
    let mut r = Registrar::new(config());
    let rep = send(&mut r, T0, &reg().contact("<sip:a@h1>;q=1.5"));
    assert_eq!(rep.status.0, 400);
    let rep = send(&mut r, T0, &reg().contact("<sip:a@h1>;q"));
    assert_eq!(rep.status.0, 400);
    send(&mut r, T0, &reg().contact("<sip:a@low>;q=0.1"));
    send(&mut r, T0 + 1, &reg().cseq(2).contact("<sip:a@mid>;q=0.5"));
    send(&mut r, T0 + 2, &reg().cseq(3).contact("<sip:a@older>"));
    send(
        &mut r,
        T0 + 3,
        &reg().cseq(4).contact("<sip:a@newer>;q=1.0"),
    );
    let order: Vec<String> = r
        .bindings(&alice())
        .iter()
        .map(|b| b.contact.uri.to_string())
        .collect();
    assert_eq!(
        order,
        ["sip:a@newer", "sip:a@older", "sip:a@mid", "sip:a@low"]
    );
    // The 200 lists them in the same order.
    let rep = send(&mut r, T0 + 4, &reg().cseq(5));
    assert!(contacts(&rep)[0].starts_with("<sip:a@newer>"));
}

const INST: &str = "+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"";

#[test]
fn same_instance_and_reg_id_replace_instead_of_piling_up() {
    let mut r = Registrar::new(config());
    let first = format!("<sip:alice@192.0.2.10;transport=tcp>;{INST};reg-id=1");
    let rep = send(&mut r, T0, &reg().contact(&first));
    assert_eq!(rep.status.0, 200);
    assert!(rep.headers.contains(&Header::Require("outbound".into())));
    // The device comes back from another address with a new Call-ID.
    let moved = format!("<sip:alice@203.0.113.5;transport=tcp>;{INST};reg-id=1");
    let rep = send(&mut r, T0 + 10, &reg().call_id("call-2").contact(&moved));
    assert_eq!(contacts(&rep).len(), 1);
    assert!(contacts(&rep)[0].contains("203.0.113.5"));
    // A second flow (reg-id 2) of the same instance is a second binding.
    let flow2 = format!("<sip:alice@203.0.113.5;transport=tcp>;{INST};reg-id=2");
    let rep = send(&mut r, T0 + 11, &reg().call_id("call-3").contact(&flow2));
    assert_eq!(contacts(&rep).len(), 2);
    let b = &r.bindings(&alice())[0];
    assert_eq!(b.reg_id, Some(2));
    assert_eq!(
        b.instance.as_deref(),
        Some("<urn:uuid:00000000-0000-1000-8000-000A95A0E128>")
    );
}

#[test]
fn instance_without_reg_id_and_reg_id_without_instance() {
    let mut r = Registrar::new(config());
    // Instance alone is the key (RFC 5627 behaviour).
    send(&mut r, T0, &reg().contact(&format!("<sip:a@h1>;{INST}")));
    let rep = send(
        &mut r,
        T0 + 1,
        &reg().cseq(2).contact(&format!("<sip:a@h2>;{INST}")),
    );
    assert_eq!(contacts(&rep).len(), 1);
    assert!(!rep.headers.contains(&Header::Require("outbound".into())));
    // reg-id without +sip.instance is ignored: keyed by URI, so two URIs, two bindings.
    let mut r = Registrar::new(config());
    send(&mut r, T0, &reg().contact("<sip:a@h1>;reg-id=1"));
    let rep = send(
        &mut r,
        T0 + 1,
        &reg().cseq(2).contact("<sip:a@h2>;reg-id=1"),
    );
    assert_eq!(contacts(&rep).len(), 2);
    // A binding made before the device sent its instance is taken over by it.
    let mut r = Registrar::new(config());
    send(&mut r, T0, &reg().contact("<sip:a@h1>"));
    effects(&mut r);
    let rep = send(
        &mut r,
        T0 + 1,
        &reg().cseq(2).contact(&format!("<sip:a@h1>;{INST}")),
    );
    assert_eq!(contacts(&rep).len(), 1);
    assert!(effects(&mut r).iter().any(|e| matches!(
        e,
        Effect::Remove {
            reason: RemoveReason::Replaced,
            ..
        }
    )));
}

#[test]
fn malformed_outbound_parameters_are_refused() {
    let table = [
        reg()
            .contact(&format!("<sip:a@h1>;{INST};reg-id=1"))
            .contact(&format!("<sip:a@h2>;{INST};reg-id=2")),
        reg().contact(&format!("<sip:a@h1>;{INST};reg-id=x")),
        reg().contact(&format!("<sip:a@h1>;{INST};reg-id=0")),
        reg().contact(&format!("<sip:a@h1>;{INST};reg-id")),
    ];
    for b in table {
        let mut r = Registrar::new(config());
        assert_eq!(send(&mut r, T0, &b).status.0, 400, "{:?}", b.contacts);
        assert!(r.is_empty());
    }
}

#[test]
fn to_must_be_a_sip_aor_of_a_served_domain_and_the_users_own() {
    let mut r = Registrar::new(config());
    let b = reg().contact("<sip:a@h>");
    // (To, authorized as, status).
    let table = [
        ("<tel:+14255550100>", Authorized::Unchecked, 400),
        ("<sip:alice@elsewhere.example>", Authorized::Unchecked, 404),
        ("<sip:alice@EXAMPLE.com>", Authorized::Aor(alice()), 200),
        ("<sips:alice@example.com>", Authorized::Aor(alice()), 200),
        ("<sip:bob@example.com>", Authorized::Aor(alice()), 403),
    ];
    for (n, (to, authz, status)) in (1..).zip(table) {
        let req = b.clone().to(to).cseq(n).build();
        let rep = r.handle_register(T0, &req, &source(), &authz);
        assert_eq!(rep.status.0, status, "{to}");
    }
}

#[test]
fn unknown_scheme_in_to_is_400_rfc4475_unksm2() {
    let wire = include_bytes!("../../../conformance/sip-torture/rfc4475/unksm2.dat");
    let Message::Request(req) = parse_datagram(wire).unwrap() else {
        unreachable!()
    };
    let mut r = Registrar::new(config());
    let rep = r.handle_register(T0, &req, &source(), &Authorized::Unchecked);
    assert_eq!(rep.status.0, 400);
    assert!(rep.reason.contains("sip or sips"), "{}", rep.reason);
    assert!(r.is_empty());
}

#[test]
fn bindings_per_aor_are_capped_but_refreshes_pass() {
    let mut r = Registrar::new(RegistrarConfig {
        max_bindings_per_aor: 2,
        ..config()
    });
    send(
        &mut r,
        T0,
        &reg().contact("<sip:a@h1>").contact("<sip:a@h2>"),
    );
    let rep = send(&mut r, T0 + 1, &reg().cseq(2).contact("<sip:a@h3>"));
    assert_eq!(rep.status.0, 403);
    assert_eq!(r.len(), 2);
    let rep = send(&mut r, T0 + 2, &reg().cseq(3).contact("<sip:a@h1>"));
    assert_eq!(rep.status.0, 200);
    // Removing one and adding another in one request stays within the cap.
    let b = reg()
        .cseq(4)
        .contact("<sip:a@h1>;expires=0")
        .contact("<sip:a@h3>");
    assert_eq!(send(&mut r, T0 + 3, &b).status.0, 200);
}

#[test]
fn a_refused_request_changes_nothing() {
    let mut r = Registrar::new(config());
    send(&mut r, T0, &reg().contact("<sip:a@h1>"));
    effects(&mut r);
    // The first contact is fine, the second has a bad q: neither is applied.
    let b = reg()
        .cseq(2)
        .contact("<sip:a@h1>;expires=0")
        .contact("<sip:a@h2>;q=7");
    assert_eq!(send(&mut r, T0 + 1, &b).status.0, 400);
    assert!(effects(&mut r).is_empty());
    assert_eq!(r.bindings(&alice())[0].contact.uri.to_string(), "sip:a@h1");
}

#[test]
fn expiry_is_a_timer() {
    let mut r = Registrar::new(config());
    send(&mut r, T0, &reg().contact("<sip:a@h1>;expires=100"));
    send(
        &mut r,
        T0 + 10,
        &reg().cseq(2).contact("<sip:a@h2>;expires=60"),
    );
    effects(&mut r);
    assert_eq!(r.poll_timeout(), Some(T0 + 70));
    r.handle_timeout(T0 + 69);
    assert_eq!(r.len(), 2);
    assert!(effects(&mut r).is_empty());
    r.handle_timeout(T0 + 70);
    assert_eq!(r.len(), 1);
    let fx = effects(&mut r);
    assert!(matches!(
        &fx[..],
        [Effect::Remove { reason: RemoveReason::Expired, binding }]
            if binding.key == BindingKey::Uri("sip:a@h2".into())
                && binding.contact.uri.to_string() == "sip:a@h2"
    ));
    assert_eq!(r.poll_timeout(), Some(T0 + 100));
    // A refresh moves the timer: the old deadline removes nothing.
    send(
        &mut r,
        T0 + 90,
        &reg().cseq(3).contact("<sip:a@h1>;expires=100"),
    );
    r.handle_timeout(T0 + 100);
    assert_eq!(r.len(), 1);
    assert_eq!(r.poll_timeout(), Some(T0 + 190));
    r.handle_timeout(T0 + 10_000);
    assert!(r.is_empty());
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn restore_keeps_live_bindings_and_drops_lapsed_ones() {
    let mut first = Registrar::new(config());
    send(&mut first, T0, &reg().contact("<sip:a@h1>;expires=100"));
    send(
        &mut first,
        T0,
        &reg().cseq(2).contact("<sip:a@h2>;expires=1000"),
    );
    let stored: Vec<Binding> = effects(&mut first)
        .into_iter()
        .filter_map(|e| match e {
            Effect::Upsert(b) => Some(*b),
            _ => None,
        })
        .collect();
    let mut again = Registrar::new(config());
    again.restore(T0 + 500, stored);
    assert_eq!(again.len(), 1);
    assert_eq!(again.poll_timeout(), Some(T0 + 1000));
    assert!(matches!(
        &effects(&mut again)[..],
        [Effect::Remove {
            reason: RemoveReason::Expired,
            ..
        }]
    ));
    // The restored binding keeps its Call-ID/CSeq: an old retransmission is refused.
    let rep = send(&mut again, T0 + 501, &reg().cseq(2).contact("<sip:a@h2>"));
    assert_eq!(rep.status.0, 500);
}

#[test]
fn contact_parameters_and_display_names_are_kept() {
    let mut r = Registrar::new(config());
    let c = "\"Alice Desk\" <sip:alice@192.0.2.10;transport=tcp>;q=0.7;+sip.ice;x-custom=\"a b\"";
    let rep = send(&mut r, T0, &reg().contact(c));
    assert_eq!(
        contacts(&rep),
        ["\"Alice Desk\" <sip:alice@192.0.2.10;transport=tcp>;q=0.7;+sip.ice;x-custom=\"a b\";expires=3600"]
    );
    let b = &r.bindings(&alice())[0];
    assert_eq!(b.source, source());
    assert_eq!(b.q.map(|q| q.thousandths()), Some(700));
}

fn torture(name: &str, wire: &[u8]) -> (Registrar, Reply) {
    let msg = parse_datagram(wire).unwrap();
    sb_sip_msg::validate(&msg).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let Message::Request(req) = msg else {
        unreachable!()
    };
    let mut r = Registrar::new(config());
    let rep = r.handle_register(T0, &req, &source(), &Authorized::Unchecked);
    assert_eq!(rep.status.0, 200, "{name}: {}", rep.reason);
    (r, rep)
}

fn only_binding(r: &Registrar, aor: &str) -> Binding {
    let b = r.bindings(&Aor::from_canonical(aor));
    assert_eq!(b.len(), 1);
    b[0].clone()
}

#[test]
fn rfc4475_cparam01_contact_header_parameter_is_not_a_uri_parameter() {
    let wire = include_bytes!("../../../conformance/sip-torture/rfc4475/cparam01.dat");
    let (r, rep) = torture("cparam01", wire);
    let b = only_binding(&r, "sip:watson@example.com");
    assert_eq!(
        b.contact.uri.to_string(),
        "sip:+19725552222@gw1.example.net"
    );
    assert!(b.contact.params.contains("unknownparam"));
    assert_eq!(
        contacts(&rep),
        ["<sip:+19725552222@gw1.example.net>;unknownparam;expires=3600"]
    );
}

#[test]
fn rfc4475_cparam02_uri_parameter_stays_on_the_uri() {
    let wire = include_bytes!("../../../conformance/sip-torture/rfc4475/cparam02.dat");
    let (r, rep) = torture("cparam02", wire);
    let b = only_binding(&r, "sip:watson@example.com");
    assert_eq!(
        b.contact.uri.to_string(),
        "sip:+19725552222@gw1.example.net;unknownparam"
    );
    assert!(!b.contact.params.contains("unknownparam"));
    assert_eq!(
        contacts(&rep),
        ["<sip:+19725552222@gw1.example.net;unknownparam>;expires=3600"]
    );
}

#[test]
fn rfc4475_regescrt_escaped_uri_header_is_kept() {
    let wire = include_bytes!("../../../conformance/sip-torture/rfc4475/regescrt.dat");
    let (r, rep) = torture("regescrt", wire);
    let b = only_binding(&r, "sip:user@example.com");
    assert_eq!(
        b.contact.uri.to_string(),
        "sip:user@example.com?Route=%3Csip:sip.example.com%3E"
    );
    assert_eq!(
        contacts(&rep),
        ["<sip:user@example.com?Route=%3Csip:sip.example.com%3E>;expires=3600"]
    );
    assert!(matches!(
        rep.headers.first(),
        Some(Header::Contact(ContactValue::Addr(_)))
    ));
}

#[test]
fn ok_carries_a_gmt_date() {
    let mut r = Registrar::new(config());
    let rep = send(&mut r, T0, &reg().contact("<sip:a@h1>"));
    let date: Vec<String> = rep
        .headers
        .iter()
        .filter(|h| matches!(h, Header::Other(o) if o.name == "Date"))
        .map(|h| h.to_string())
        .collect();
    assert_eq!(date, ["Date: Fri, 15 Jan 2027 08:00:00 GMT"]);
}

#[test]
fn a_flood_of_contacts_is_refused_before_any_work() {
    let mut r = Registrar::new(RegistrarConfig {
        max_bindings_per_aor: 2,
        ..config()
    });
    let mut b = reg();
    for i in 0..5 {
        b = b.contact(&format!("<sip:a@h{i}>;expires=0"));
    }
    let rep = send(&mut r, T0, &b);
    assert_eq!(rep.status.0, 403);
    assert_eq!(StatusCode::from(&RegisterError::TooManyBindings).0, 403);
}

#[test]
fn a_contact_listed_twice_in_one_request_is_not_out_of_order() {
    let mut r = Registrar::new(config());
    let b = reg()
        .contact("<sip:a@h1>;expires=100")
        .contact("<sip:a@H1>;expires=200");
    let rep = send(&mut r, T0, &b);
    assert_eq!(rep.status.0, 200);
    // One URI (hosts compare case-insensitively, RFC 3261 §19.1.4); the later one wins.
    assert_eq!(contacts(&rep), ["<sip:a@H1>;expires=200"]);
}

#[test]
fn path_is_stored_and_echoed_when_supported() {
    let path = |rep: &Reply| -> Vec<String> {
        rep.headers
            .iter()
            .filter(|h| matches!(h, Header::Other(o) if o.name == "Path"))
            .map(|h| h.to_string())
            .collect()
    };
    let mut r = Registrar::new(config());
    let b = reg()
        .contact("<sip:a@h1>")
        .header("Path: <sip:edge1.example.com;lr>")
        .header("Path: <sip:edge2.example.com;lr>");
    let rep = send(&mut r, T0, &b);
    assert!(path(&rep).is_empty(), "client did not say Supported: path");
    assert_eq!(
        r.bindings(&alice())[0].path,
        ["<sip:edge1.example.com;lr>", "<sip:edge2.example.com;lr>"]
    );
    let rep = send(&mut r, T0 + 1, &b.clone().cseq(2).header("Supported: path"));
    assert_eq!(
        path(&rep),
        [
            "Path: <sip:edge1.example.com;lr>",
            "Path: <sip:edge2.example.com;lr>"
        ]
    );
}

#[test]
fn configurations_that_cannot_work_are_refused() {
    assert_eq!(RegistrarConfig::default().validate(), Ok(()));
    let bad = RegistrarConfig {
        default_expires: 30,
        ..RegistrarConfig::default()
    };
    assert_eq!(
        bad.validate(),
        Err(ConfigError::ExpiresOrder(60, 30, 86_400))
    );
    let none = RegistrarConfig {
        max_bindings_per_aor: 0,
        ..RegistrarConfig::default()
    };
    assert_eq!(none.validate(), Err(ConfigError::NoBindings));
}

#[test]
fn the_port_in_to_names_the_same_address_of_record() {
    use sb_registrar::Aor;
    let with_port = match sb_sip_msg::parse_datagram(
        b"OPTIONS sip:alice@Example.COM:5060;transport=tcp SIP/2.0\r\nContent-Length: 0\r\n\r\n",
    ) {
        Ok(sb_sip_msg::Message::Request(r)) => r.uri,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        Aor::from_uri(&with_port).unwrap(),
        Aor::from_user("alice", "example.com")
    );
}

/// An in-dialog request sent to a device's Contact finds the binding (and so the flow the
/// device registered on) by that Contact, compared as RFC 3261 URIs; refreshed, it is
/// still found once; unregistered or expired, it is gone.
#[test]
fn a_binding_is_found_by_its_contact_until_it_goes() {
    let uri = |s: &str| s.parse::<sb_sip_msg::Uri>().unwrap();
    let mut r = Registrar::new(config());
    send(
        &mut r,
        T0,
        &reg().contact("<sip:alice-1@192.0.2.10:5061;transport=tls>"),
    );
    send(&mut r, T0, &reg().cseq(2).contact("<sip:alice@192.0.2.11>"));
    let b = r
        .binding_with_contact(&uri("sip:alice-1@192.0.2.10:5061;transport=TLS"))
        .expect("found with the parameter's case changed");
    assert_eq!(b.aor, alice());
    assert!(r
        .binding_with_contact(&uri("sip:alice-1@192.0.2.10:5062;transport=tls"))
        .is_none());

    send(
        &mut r,
        T0 + 10,
        &reg()
            .cseq(3)
            .contact("<sip:alice-1@192.0.2.10:5061;transport=tls>"),
    );
    assert!(r
        .binding_with_contact(&uri("sip:alice-1@192.0.2.10:5061;transport=tls"))
        .is_some());

    send(
        &mut r,
        T0 + 20,
        &reg()
            .cseq(4)
            .contact("<sip:alice-1@192.0.2.10:5061;transport=tls>;expires=0"),
    );
    assert!(r
        .binding_with_contact(&uri("sip:alice-1@192.0.2.10:5061;transport=tls"))
        .is_none());
    r.handle_timeout(T0 + 3600 * 2);
    assert!(r
        .binding_with_contact(&uri("sip:alice@192.0.2.11"))
        .is_none());
}
