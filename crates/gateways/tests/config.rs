//! The provisioning model: the documented TOML shape, defaults, and errors that name
//! the gateway or pool and the field.

use sb_gateways::*;
use sb_routing::{RouteConfig, TrunkName};

const SITE: &str = r#"
[[gateways]]
name = "gw-sea-1"
address = "gw1.sea.example.net:5060"
transport = "tcp"
codecs = ["PCMU", "PCMA"]
rfc4733 = true
capacity = 23
options_interval_s = 30
down_after = 2
fail_codes = [503, 502]
identity = "pai"
privacy = "forward"
require_100rel = true
session_timer_s = 1800
outbound = [
  { match = "+1.", convert = { to = "national", country_code = "1" } },
  { match = "+.", convert = { to = "national", country_code = "1", international_prefix = "011" } },
]
inbound = [
  { match = "NXXNXXXXXX", convert = { to = "e164", country_code = "1" }, scope = "calling" },
]

[[gateways]]
name = "gw-sea-2"
address = "[2001:db8::5]:5080"
codecs = ["pcma"]
rfc4733 = false
identity = "rpid"

[[gateways]]
name = "sbc-edge"
address = "sbc.example.net"
transport = "tls"
codecs = ["opus", "PCMU"]
srtp = true
ice_lite = true
media_bypass = true
privacy = "enforce"

[[pools]]
name = "pstn-sea"
gateways = ["gw-sea-1", "gw-sea-2"]

[[pools]]
name = "pstn-any"
gateways = ["gw-sea-2", "gw-sea-1", "sbc-edge"]
strategy = "round_robin"
"#;

fn compile(s: &str) -> Result<GatewayTable, ConfigError> {
    GatewayTable::compile(toml::from_str(s).expect("toml"))
}

#[test]
fn the_documented_example_reads_with_defaults() {
    let t = compile(SITE).unwrap();
    assert_eq!(t.gateways().len(), 3);
    let g1 = t.gateway(&"gw-sea-1".into()).unwrap();
    assert_eq!(g1.address.to_string(), "gw1.sea.example.net:5060");
    assert_eq!(g1.config.transport, GatewayTransport::Tcp);
    assert_eq!(g1.config.capacity, Some(23));
    assert_eq!(g1.config.fail_codes, [503, 502]);
    assert_eq!(g1.outbound.rules().len(), 2);
    assert_eq!(
        g1.request_uri("4255551212").to_string(),
        "sip:4255551212@gw1.sea.example.net:5060;user=phone;transport=tcp"
    );
    assert_eq!(
        g1.options_uri().to_string(),
        "sip:gw1.sea.example.net:5060;transport=tcp"
    );
    let g2 = t.gateway(&"gw-sea-2".into()).unwrap();
    assert_eq!(g2.address.to_string(), "[2001:db8::5]:5080");
    // Defaults: udp, 30 s keep-alives, down after one miss, no fail codes, unlimited.
    assert_eq!(g2.config.transport, GatewayTransport::Udp);
    assert_eq!(g2.config.options_interval_s, 30);
    assert_eq!(g2.config.down_after, 1);
    assert!(g2.config.fail_codes.is_empty());
    assert_eq!(g2.config.capacity, None);
    assert_eq!(g2.config.identity, IdentityMode::Rpid);
    assert!(!g2.config.rfc4733);
    let sbc = t.gateway(&"sbc-edge".into()).unwrap();
    assert!(sbc.config.media_bypass);
    assert_eq!(sbc.config.privacy, PrivacyHandling::Enforce);
    let pool = t.pool(&"pstn-any".into()).unwrap();
    assert_eq!(pool.strategy, Strategy::RoundRobin);
    assert_eq!(
        t.pool(&"pstn-sea".into()).unwrap().strategy,
        Strategy::Priority
    );
}

#[test]
fn the_model_round_trips_through_toml() {
    let c: GatewaysConfig = toml::from_str(SITE).unwrap();
    let again: GatewaysConfig = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
    assert_eq!(c, again);
}

#[test]
fn addresses() {
    let ok = [
        ("192.0.2.1", "192.0.2.1"),
        ("192.0.2.1:5070", "192.0.2.1:5070"),
        ("GW.Example.NET", "gw.example.net"),
        ("gw.example.net.", "gw.example.net."),
        ("localhost:5060", "localhost:5060"),
        ("[2001:db8::1]", "[2001:db8::1]"),
        ("2001:db8::1", "[2001:db8::1]"),
        ("[::1]:5062", "[::1]:5062"),
    ];
    for (input, shown) in ok {
        assert_eq!(
            GatewayAddress::parse(input)
                .map(|a| a.to_string())
                .as_deref(),
            Ok(shown),
            "{input}"
        );
    }
    for bad in [
        "",
        "gw.example.net:0",
        "gw.example.net:70000",
        "gw_1.example.net",
        "-gw.example.net",
        "[2001:db8::1",
        "[2001:db8::1]5060",
        "192.0.2",
        "gw..example.net",
    ] {
        assert!(GatewayAddress::parse(bad).is_err(), "{bad:?} accepted");
    }
}

/// One gateway with `extra` fields, and a pool, as TOML.
fn one(extra: &str) -> String {
    format!("[[gateways]]\nname = \"gw-a\"\naddress = \"192.0.2.1\"\n{extra}\n")
}

#[test]
fn every_error_names_the_gateway_and_field() {
    let table = [
        (one("codecs = []"), "gateways \"gw-a\": codecs: lists no codec"),
        (one("codecs = [\"PCMU\", \"G729\"]"), "codecs[1]: \"G729\" is not one of"),
        (one("codecs = [\"PCMU\", \"pcmu\"]"), "codecs[1]: PCMU is listed twice"),
        (one("codecs = [\"telephone-event\"]"), "codecs[0]: DTMF is set with rfc4733"),
        (one("capacity = 0"), "capacity: 0 would refuse every call"),
        (one("options_interval_s = 0"), "options_interval_s: must be 1 to 3600"),
        (one("down_after = 0"), "down_after: must be 1 to 10"),
        (one("fail_codes = [302]"), "fail_codes[0]: 302 is not a failure status"),
        (one("session_timer_s = 60"), "session_timer_s: 60 is below the 90 s minimum"),
        (one("srtp = true"), "srtp: SDES keys travel in SDP"),
        (
            one("media_bypass = true\ntransport = \"tls\""),
            "media_bypass: needs srtp = true, ice_lite = true",
        ),
        (
            one("media_bypass = true"),
            "media_bypass: needs transport = \"tls\", srtp = true, ice_lite = true",
        ),
        (
            one("outbound = [{ match = \".\" }, { match = \"+1[2-9]\" }]"),
            "gateways \"gw-a\": outbound[1].match: '[' at position 3",
        ),
        (
            one("inbound = [{ match = \".\", prefix = \"9a\" }]"),
            "inbound[0].prefix: \"9a\" is not digits",
        ),
        (
            one("inbound = [{ match = \".\", convert = { to = \"e164\", country_code = \"01\" } }]"),
            "inbound[0].convert: country_code \"01\" cannot start with 0",
        ),
        (
            one("outbound = [{ match = \".\", convert = { to = \"national\", country_code = \"1\", trunk_prefix = \"x\" } }]"),
            "outbound[0].convert: trunk_prefix \"x\" must be 0 to 4 digits",
        ),
        (
            "[[gateways]]\nname = \"gw a\"\naddress = \"192.0.2.1\"\n".to_string(),
            "gateways \"gw a\": name: must be 1 to 64",
        ),
        (
            "[[gateways]]\nname = \"gw-a\"\naddress = \"gw:x\"\n".to_string(),
            "gateways \"gw-a\": address: port \"x\" is not 1 to 65535",
        ),
        (
            format!("{}{}", one(""), one("")),
            "gateway \"gw-a\" is defined twice",
        ),
        (
            format!("{}[[pools]]\nname = \"p\"\ngateways = []\n", one("")),
            "pools \"p\": gateways: lists no gateway",
        ),
        (
            format!("{}[[pools]]\nname = \"p\"\ngateways = [\"gw-a\", \"gw-b\"]\n", one("")),
            "pools \"p\": gateways[1]: \"gw-b\" is not a defined gateway",
        ),
        (
            format!("{}[[pools]]\nname = \"p\"\ngateways = [\"gw-a\", \"gw-a\"]\n", one("")),
            "pools \"p\": gateways[1]: \"gw-a\" is listed twice",
        ),
        (
            format!(
                "{}[[pools]]\nname = \"p\"\ngateways = [\"gw-a\"]\n[[pools]]\nname = \"p\"\ngateways = [\"gw-a\"]\n",
                one("")
            ),
            "pool \"p\" is defined twice",
        ),
    ];
    for (toml, want) in table {
        let e = compile(&toml).expect_err(&toml).to_string();
        assert!(e.contains(want), "{toml}\n  got: {e}\n want: {want}");
    }
}

#[test]
fn unknown_fields_and_values_are_refused_by_name() {
    let e = toml::from_str::<GatewaysConfig>(&one("capacty = 3")).unwrap_err();
    assert!(e.to_string().contains("capacty"), "{e}");
    let e = toml::from_str::<GatewaysConfig>(&one("identity = \"ppi\"")).unwrap_err();
    assert!(e.to_string().contains("ppi"), "{e}");
    let e = toml::from_str::<GatewaysConfig>(&one("transport = \"sctp\"")).unwrap_err();
    assert!(e.to_string().contains("sctp"), "{e}");
}

fn route(name: &str, trunks: &[&str]) -> RouteConfig {
    RouteConfig {
        name: name.into(),
        pattern: "^\\+1".into(),
        usage: "national".into(),
        trunks: trunks.iter().map(|t| TrunkName::from(*t)).collect(),
        failover: Default::default(),
    }
}

#[test]
fn route_targets_must_be_pools_or_known_trunks() {
    let t = compile(SITE).unwrap();
    let is_trunk = |n: &TrunkName| n.as_str() == "carrier-sip";
    let ok = [
        route("us", &["pstn-sea", "pstn-any"]),
        route("intl", &["carrier-sip"]),
    ];
    assert_eq!(t.check_route_targets(&ok, is_trunk), Ok(()));
    let bad = [route("us", &["pstn-sea"]), route("intl", &["gw-sea-1"])];
    let e = t.check_route_targets(&bad, is_trunk).unwrap_err();
    assert_eq!(
        e.to_string(),
        "routing.routes \"intl\": trunks: \"gw-sea-1\" is neither a gateway pool nor a trunk"
    );
}

#[test]
fn codecs_are_kept_in_sdp_spelling_and_hash_is_escaped_in_uris() {
    let t = compile(&one("codecs = [\"pcma\", \"OPUS\", \"g722\"]")).unwrap();
    let g = t.gateway(&"gw-a".into()).unwrap();
    assert_eq!(g.codecs, ["PCMA", "opus", "G722"]);
    let uri = g.request_uri("*67#4255551212");
    assert_eq!(uri.to_string(), "sip:*67%234255551212@192.0.2.1;user=phone");
    assert_eq!(uri_number(&uri).as_deref(), Some("*67#4255551212"));
}
