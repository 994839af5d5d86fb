//! Any datagram, from a stranger or from a PBX trunk (the first byte picks which), into the
//! forking proxy with the front end answering its routing questions, the way the server
//! runs them: nothing a peer sends may panic, and every question gets an answer.
#![no_main]

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use sb_frontend::{
    CallSettings, Frontend, FrontendConfig, RegistrarConfig, ReqKey, ServicesConfig, Source,
    TrunkAddr, WallClock,
};
use sb_proxy::{Proxy, ProxyConfig, Query, QueryId, RouteKind};
use sb_routing::{
    apply_settings, MemoryDirectory, RoutingConfig, RoutingTable, TrunkName, UserEntry, UserId,
    E164,
};
use sb_sip_core::{Peer, TimerConfig, TransportKind};
use sb_sip_msg::{Message, Transport};

const CONFIG: &str = r#"
domains = ["example.com"]
default_dial_plan = "p"
default_voice_policy = "all"
[[dial_plans]]
name = "p"
rules = [ { pattern = '^(\d{7})$', translation = '+1425$1' }, { pattern = '^(\d{4})$', translation = '$1' } ]
[[routes]]
name = "any"
pattern = '^\+'
usage = "international"
trunks = ["gw", "pbx-trunk"]
[[voice_policies]]
name = "all"
usages = ["international"]
[[pbxes]]
name = "pbx"
trunk = "pbx-trunk"
mark_secret = "s"
"#;

fn table() -> Arc<RoutingTable> {
    static T: OnceLock<Arc<RoutingTable>> = OnceLock::new();
    T.get_or_init(|| {
        let c: RoutingConfig = toml::from_str(CONFIG).expect("fuzz config parses");
        Arc::new(RoutingTable::compile(c).expect("fuzz config compiles"))
    })
    .clone()
}

fn directory(table: &RoutingTable) -> Arc<MemoryDirectory> {
    let mut dir = MemoryDirectory::default();
    let mut bob = UserEntry::new(UserId::new("bob", "example.com"));
    bob.number = E164::parse("+14255550100");
    let rules: BTreeMap<String, String> = [
        ("forward_busy", "sip:carol@example.com"),
        ("forward_unanswered", "+14255550199"),
        ("pbx_line", "pbx:4567"),
        ("follow_deflections", "on"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    apply_settings(table, &mut bob, &rules).expect("fuzz rules are valid");
    dir.add_user(bob, None);
    dir.add_user(UserEntry::new(UserId::new("carol", "example.com")), None);
    Arc::new(dir)
}

fn peer(addr: &str) -> Peer {
    Peer::new(TransportKind::Udp, addr.parse().expect("an address"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else { return };
    let Ok(msg) = sb_sip_msg::parse_datagram(bytes) else { return };
    if sb_sip_msg::validate(&msg).is_err() {
        return;
    }
    let t0 = Instant::now();
    let table = table();
    let services = ServicesConfig::new(RegistrarConfig::default(), None);
    let clock = WallClock { at: t0, unix: 1_800_000_000 };
    let mut fe = Frontend::with_services(FrontendConfig::default(), services, clock)
        .with_calls(CallSettings {
            table: table.clone(),
            trunks: vec![
                TrunkAddr { name: TrunkName::from("gw"), peer: peer("192.0.2.60:5060"), host: "192.0.2.60:5060".into(), uri_params: String::new() },
                TrunkAddr { name: TrunkName::from("pbx-trunk"), peer: peer("192.0.2.70:5060"), host: "192.0.2.70:5060".into(), uri_params: String::new() },
            ],
            trunk_answer_timeout: Duration::from_secs(2),
            record_route: true,
        });
    fe.set_directory(directory(&table));
    let mut proxy = Proxy::new(ProxyConfig::udp("192.0.2.10:5060".parse().unwrap()), TimerConfig::default(), 1);
    let from = match pick % 3 {
        0 => peer("198.51.100.1:5060"),
        1 => peer("192.0.2.70:5060"),
        _ => peer("192.0.2.60:5060"),
    };
    proxy.handle_message(t0, msg, from);
    // Questions and answers until both are quiet, then time runs out every timer.
    let mut now = t0;
    for _ in 0..64 {
        let mut asked = false;
        while let Some(q) = proxy.poll_query() {
            asked = true;
            let Query::Route { id, kind, request, from } = q else { continue };
            let key = ReqKey(id.0);
            let source = Source { transport: Transport::Udp, addr: from.addr };
            match kind {
                RouteKind::Initial => fe.handle_proxied_at(now, key, &request, source),
                RouteKind::InDialog { next_hop } => fe.handle_next_hop(key, &next_hop),
                RouteKind::InDialogToUser { uri } => fe.handle_in_dialog_to_user(key, &uri),
                RouteKind::Redirect { contacts, .. } => fe.handle_redirect(now, key, &request, &contacts),
                RouteKind::Exhausted { best, timed_out } => fe.handle_exhausted(now, key, &request, best, timed_out),
                _ => fe.handle_next_hop(key, &request.uri),
            }
        }
        while let Some((key, d)) = fe.poll_route() {
            asked = true;
            proxy.handle_route_decision(now, QueryId(key.0), d);
        }
        while proxy.poll_transmit().is_some() {}
        while proxy.poll_event().is_some() {}
        if !asked {
            match proxy.poll_timeout() {
                Some(at) => {
                    now = at.max(now);
                    proxy.handle_timeout(now);
                }
                None => break,
            }
        }
    }
    let _ = Message::Request; // the target reads messages of both kinds
});
