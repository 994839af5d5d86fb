//! A Redmond site: its dial plan, routes, policies, a PBX, and a handful of users.
#![allow(dead_code)]

use sb_routing::*;

pub const CONFIG: &str = r#"
domains = ["example.com"]
default_dial_plan = "redmond"

[[dial_plans]]
name = "redmond"
rules = [
  { pattern = '^0(\d{3})(\d{7})$', translation = '+1$1$2', description = "national with trunk prefix" },
  { pattern = '^(\d{7})$',         translation = '+1425$1', description = "7-digit local" },
  { pattern = '^(\d{4})$',         translation = 'ext:$1',  description = "extension" },
  { pattern = '^\+\d+$',           translation = '$0',      description = "already E.164" },
  { pattern = '^011(\d+)$',        translation = '+$1',     description = "international" },
]

[[sites]]
name = "redmond"
dial_plan = "redmond"
main_number = "+14255550000"

[[routes]]
name = "premium"
pattern = '^\+1900\d{7}$'
usage = "premium"
trunks = ["gw-a"]

[[routes]]
name = "local"
pattern = '^\+1425\d{7}$'
usage = "local"
trunks = ["gw-a", "gw-b"]

[[routes]]
name = "national"
pattern = '^\+1\d{10}$'
usage = "national"
trunks = ["gw-a", "gw-b"]
failover = { on_status = ["408", "5xx"], on_timeout = true, honour_retry_after = true }

[[routes]]
name = "international"
pattern = '^\+[2-9]\d{6,14}$'
usage = "international"
trunks = ["gw-intl", "gw-a"]

[[voice_policies]]
name = "local-only"
usages = ["local"]

[[voice_policies]]
name = "domestic"
usages = ["local", "national"]

[[voice_policies]]
name = "global"
usages = ["local", "national", "international"]

[[voice_policies]]
name = "everything"
usages = ["local", "national", "international", "premium"]

[[pbxes]]
name = "legacy"
trunk = "pbx-trunk"
mark_secret = "s3cret"
"#;

pub fn config() -> RoutingConfig {
    toml::from_str(CONFIG).expect("the fixture parses")
}

pub fn table() -> RoutingTable {
    RoutingTable::compile(config()).expect("the fixture compiles")
}

pub fn id(user: &str) -> UserId {
    UserId::new(user, "example.com")
}

pub fn e164(s: &str) -> E164 {
    E164::parse(s).expect("a valid number")
}

pub fn user(name: &str, policy: &str) -> UserEntry {
    let mut u = UserEntry::new(id(name));
    u.site = Some(SiteName::from("redmond"));
    u.voice_policy = Some(PolicyName::from(policy));
    u
}

/// alice (domestic, one device), bob (+14255551212, ext 1212, two devices),
/// carol (global, +14255553333, one device), dave (a PBX line 4567, one device),
/// erin (one device); +14255557777 belongs to a PBX user.
pub fn directory() -> MemoryDirectory {
    let main = e164("+14255550000");
    let mut d = MemoryDirectory::default();
    d.add_user(user("alice", "domestic"), Some(&main));
    let mut bob = user("bob", "domestic");
    bob.number = Some(e164("+14255551212"));
    bob.extension = Some("1212".into());
    d.add_user(bob, Some(&main));
    let mut carol = user("carol", "global");
    carol.number = Some(e164("+14255553333"));
    d.add_user(carol, Some(&main));
    let mut dave = user("dave", "domestic");
    dave.pbx_line = Some(PbxLine {
        pbx: PbxName::from("legacy"),
        number: "4567".into(),
    });
    d.add_user(dave, Some(&main));
    d.add_user(user("erin", "domestic"), Some(&main));
    d.add_contact(&id("alice"), "sip:alice@192.0.2.10:5060");
    d.add_contact(&id("bob"), "sip:bob@192.0.2.21:5060;transport=tcp");
    d.add_contact(&id("bob"), "sip:bob@192.0.2.22:5061;transport=tls");
    d.add_contact(&id("carol"), "sip:carol@192.0.2.30");
    d.add_contact(&id("dave"), "sip:dave@192.0.2.40");
    d.add_contact(&id("erin"), "sip:erin@192.0.2.50");
    d.numbers.insert(
        e164("+14255557777"),
        NumberOwner::Pbx(PbxName::from("legacy")),
    );
    d
}

pub fn set_rules(d: &mut MemoryDirectory, name: &str, f: impl FnOnce(&mut CallRules)) {
    let u = d.users.get_mut(&id(name)).expect("a fixture user");
    f(&mut u.rules);
}

pub fn target(s: &str) -> ForwardTarget {
    ForwardTarget::parse(s).expect("a valid target")
}

pub fn facts(uri: &str) -> RequestFacts {
    RequestFacts::new(uri.parse().expect("a valid URI"), "call-1@192.0.2.10")
}

pub fn call(d: &MemoryDirectory, from: &str, uri: &str) -> Routed {
    route(&facts(uri), &Caller::User(id(from)), d, &table())
}

pub fn delivery(r: &Routed) -> &Delivery {
    match &r.decision {
        Decision::Deliver(d) => d,
        Decision::Reject { status, reason } => {
            panic!("expected a delivery, got {status} {reason}\n{}", r.trace)
        }
    }
}

pub fn rejection(r: &Routed) -> (u16, &str) {
    match &r.decision {
        Decision::Reject { status, reason } => (*status, reason),
        Decision::Deliver(_) => panic!("expected a rejection\n{}", r.trace),
    }
}

pub fn uris(d: &Delivery) -> Vec<String> {
    d.branches
        .iter()
        .map(|b| b.request_uri.to_string())
        .collect()
}

pub fn header_values<'a>(d: &'a Delivery, name: &str) -> Vec<&'a str> {
    d.headers_to_add
        .iter()
        .filter(|h| h.name == name)
        .map(|h| h.value.as_str())
        .collect()
}
