//! Number manipulation: patterns, conversions, strip/prefix, and rewriting requests.

use sb_gateways::*;
use sb_sip_msg::{parse_datagram, Message, Request};

fn rules(toml_rules: &str) -> NumberRules {
    #[derive(serde::Deserialize)]
    struct R {
        rules: Vec<NumberRuleConfig>,
    }
    let r: R = toml::from_str(&format!("rules = {toml_rules}")).unwrap();
    NumberRules::compile(&r.rules).unwrap()
}

#[test]
fn patterns_match_the_dial_plan_letters() {
    let table = [
        ("+1NXXNXXXXXX", "+14255551212", true),
        ("+1NXXNXXXXXX", "+11255551212", false), // area code cannot start with 1
        ("+1NXXNXXXXXX", "+142555512123", false), // too long without '.'
        ("+1.", "+14255551212", true),
        ("+1.", "+1", true),
        ("+1.", "+4420", false),
        ("0.", "02079460000", true),
        ("0Z.", "00442079", false),
        ("XXXX", "1234", true),
        ("XXXX", "123", false),
        ("*XX", "*67", true),
        ("#", "#", true),
        (".", "+4420", true),
        (".", "", true),
    ];
    for (pattern, number, want) in table {
        let p = NumberPattern::parse(pattern).unwrap();
        assert_eq!(p.matches(number), want, "{pattern} vs {number}");
    }
}

#[test]
fn bad_patterns_say_which_character() {
    for (pattern, needle) in [
        ("", "empty"),
        ("1+2", "'+' at position 2"),
        ("+1[0-9]", "'[' at position 3"),
        ("+1.5", "'.' at position 3"),
    ] {
        let e = NumberPattern::parse(pattern).unwrap_err();
        assert!(e.contains(needle), "{pattern}: {e}");
    }
}

#[test]
fn outbound_table() {
    // A NANP gateway that wants 10 digits nationally and 011 internationally, with an
    // emergency number untouched and a site that dials out with a 9.
    let r = rules(
        r#"[
        { match = "911" },
        { match = "+1.", convert = { to = "national", country_code = "1" } },
        { match = "+.", convert = { to = "national", country_code = "1", international_prefix = "011" } },
        { match = "XXXX", prefix = "9" },
    ]"#,
    );
    let table = [
        ("+14255551212", Some((2, "4255551212"))),
        ("+1-425-555-1212", Some((2, "4255551212"))),
        ("+442079460000", Some((3, "011442079460000"))),
        ("911", Some((1, "911"))),
        ("5555", Some((4, "95555"))),
        ("55555", None),
    ];
    for (number, want) in table {
        let got = r.rewrite(number, NumberRole::Called);
        assert_eq!(
            got.as_ref().map(|(i, n)| (*i, n.as_str())),
            want,
            "{number}"
        );
    }
}

#[test]
fn uk_national_with_trunk_prefix_both_ways() {
    let out = rules(
        r#"[{ match = "+44.", convert = { to = "national", country_code = "44", trunk_prefix = "0" } },
            { match = "+.", convert = { to = "national", country_code = "44", trunk_prefix = "0", international_prefix = "00" } }]"#,
    );
    let inb = rules(
        r#"[{ match = ".", convert = { to = "e164", country_code = "44", trunk_prefix = "0", international_prefix = "00" } }]"#,
    );
    let pairs = [
        ("+442079460000", "02079460000"),
        ("+14255551212", "0014255551212"),
        ("+33142685300", "0033142685300"),
    ];
    for (e164, national) in pairs {
        assert_eq!(
            out.rewrite(e164, NumberRole::Called).unwrap().1,
            national,
            "{e164} out"
        );
        assert_eq!(
            inb.rewrite(national, NumberRole::Calling).unwrap().1,
            e164,
            "{national} in"
        );
    }
    // Already E.164: left as it is (no rule takes it).
    assert_eq!(inb.rewrite("+442079460000", NumberRole::Calling), None);
    // A local number without the trunk prefix is not national: not converted.
    assert_eq!(inb.rewrite("79460000", NumberRole::Calling), None);
}

#[test]
fn nanp_without_trunk_prefix_gets_the_country_code() {
    let inb = rules(
        r#"[{ match = "NXXNXXXXXX", convert = { to = "e164", country_code = "1" } },
            { match = "011.", convert = { to = "e164", country_code = "1", international_prefix = "011" } }]"#,
    );
    assert_eq!(
        inb.rewrite("4255551212", NumberRole::Calling).unwrap().1,
        "+14255551212"
    );
    assert_eq!(
        inb.rewrite("011442079460000", NumberRole::Calling)
            .unwrap()
            .1,
        "+442079460000"
    );
    assert_eq!(inb.rewrite("555121", NumberRole::Calling), None);
}

#[test]
fn strip_then_prefix_and_scope() {
    let r = rules(
        r#"[{ match = "+1425.", strip = 5, prefix = "8", scope = "called" },
            { match = "+1425.", strip = 2, scope = "calling" }]"#,
    );
    assert_eq!(
        r.rewrite("+14255551212", NumberRole::Called),
        Some((1, "85551212".into()))
    );
    assert_eq!(
        r.rewrite("+14255551212", NumberRole::Calling),
        Some((2, "4255551212".into()))
    );
}

#[test]
fn a_rule_that_cannot_apply_passes_to_the_next() {
    // Stripping more than the number has, or converting a foreign number without an
    // international prefix, leaves the number to the next rule.
    let r = rules(
        r#"[{ match = "X.", strip = 6 },
            { match = "+.", convert = { to = "national", country_code = "1" } },
            { match = ".", prefix = "0" }]"#,
    );
    assert_eq!(
        r.rewrite("1234", NumberRole::Called),
        Some((3, "01234".into()))
    );
    assert_eq!(
        r.rewrite("1234567", NumberRole::Called),
        Some((1, "7".into()))
    );
    // No rule can make "+4420" a number: "0+4420" is not one, so it stays as it is.
    assert_eq!(r.rewrite("+4420", NumberRole::Called), None);
}

fn request(wire: &str) -> Request {
    match parse_datagram(wire.replace('\n', "\r\n").as_bytes()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => panic!("not a request"),
    }
}

#[test]
fn every_number_of_a_request_is_rewritten_and_other_parts_kept() {
    let out = rules(r#"[{ match = "+1.", convert = { to = "national", country_code = "1" } }]"#);
    let mut req = request(
        "INVITE sip:+14255551212@gw.example.net;user=phone SIP/2.0
Via: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK1
Max-Forwards: 70
From: \"Alice, Sales\" <sip:+12065550100@example.com;user=phone>;tag=a
To: <tel:+1-425-555-1212>
P-Asserted-Identity: \"Alice, Sales\" <sip:+12065550100@example.com;user=phone>, <tel:+12065550100>
Remote-Party-ID: <sip:+12065550100;isub=12@example.com;user=phone>;party=calling;privacy=off
Subject: +14255551212
Call-ID: c1
CSeq: 1 INVITE
Content-Length: 0

",
    );
    let done = out.rewrite_request(&mut req);
    let wire = String::from_utf8(req.to_bytes()).unwrap();
    assert!(
        wire.starts_with("INVITE sip:4255551212@gw.example.net;user=phone SIP/2.0\r\n"),
        "{wire}"
    );
    assert!(wire.contains("To: <tel:4255551212>\r\n"), "{wire}");
    assert!(
        wire.contains("From: \"Alice, Sales\" <sip:2065550100@example.com;user=phone>;tag=a\r\n"),
        "{wire}"
    );
    assert!(
        wire.contains(
            "P-Asserted-Identity: \"Alice, Sales\" <sip:2065550100@example.com;user=phone>, <tel:2065550100>\r\n"
        ),
        "{wire}"
    );
    assert!(
        wire.contains("Remote-Party-ID: <sip:2065550100;isub=12@example.com;user=phone>;party=calling;privacy=off\r\n"),
        "{wire}"
    );
    // Not a number-carrying header: untouched.
    assert!(wire.contains("Subject: +14255551212\r\n"), "{wire}");
    let headers: Vec<&str> = done.iter().map(|r| r.header).collect();
    assert_eq!(
        headers,
        [
            "Request-URI",
            "From",
            "To",
            "P-Asserted-Identity",
            "P-Asserted-Identity",
            "Remote-Party-ID"
        ]
    );
    assert_eq!(done[0].before, "+14255551212");
    assert_eq!(done[0].after, "4255551212");
    assert!(done.iter().all(|r| r.rule == 1));
}

#[test]
fn names_and_unparseable_values_are_left_alone() {
    let out = rules(r#"[{ match = ".", prefix = "9" }]"#);
    let mut req = request(
        "INVITE sip:alice@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1
From: <sip:bob@example.com>;tag=b
To: <sip:alice@example.com>
P-Asserted-Identity:   <<garbage
Call-ID: c1
CSeq: 1 INVITE
Content-Length: 0

",
    );
    let before = req.clone();
    assert!(out.rewrite_request(&mut req).is_empty());
    assert_eq!(req, before);
}
