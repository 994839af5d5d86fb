//! Call routing policy, as a pure function.
//!
//! Given the facts of a new request (its Request-URI, Call-ID and co-existence mark), who
//! is calling, a [`Directory`] of users, numbers and registered devices, and the compiled
//! configuration ([`RoutingTable`]: dial plans, outbound routes, voice policies, sites,
//! PBXs), [`route()`] decides where the call goes and records why:
//!
//! - dial plans normalize what was dialled into E.164 or an extension (first matching rule
//!   wins; RFC 3966 §5.1.1 visual separators are ignored);
//! - reverse number lookup finds the user (or the PBX, in a partitioned deployment) that
//!   owns the number;
//! - a user's call handling rules apply: forward all / when unanswered / when busy / when
//!   not signed in, simultaneous ring, deflections; each redirection adds History-Info
//!   (RFC 7044) and Diversion (RFC 5806) values;
//! - the callee's presence, as the directory reports it ([`PresenceFacts`]): do not
//!   disturb sends the call to their unavailable rule unless the caller passes DND, and
//!   "in a call" applies the busy rule without ringing (see [`presence`]);
//! - co-existence: a user with a PBX line is also rung through the PBX's trunk, with a mark,
//!   and a call that comes back from the PBX with that mark rings the devices only;
//! - an outbound number takes the first route whose pattern matches it, if the payer's
//!   voice policy allows that route's usage; otherwise 403 with the reason.
//!
//! The [`Decision`] is data for the forking proxy: branches (Request-URI, trunks in
//! failover order, extra headers), how to fork, and follow-ups computed in advance (what
//! to do when unanswered after N seconds, or busy). The [`Trace`] prints as a dry run for
//! `switchboard route explain` and serializes to JSON.
//!
//! Carrying a [`Delivery`] out (the proxy's part): fork to every branch (trying a trunk
//! branch's `trunks` in order while [`FailoverPolicy::fails_over_on`] says so); add
//! `headers_to_add` (and each branch's own); if `on_no_answer` is set, cancel everything
//! after `after_secs` and carry out its decision; if the best response is 486/600 and
//! `on_busy` is set, carry that out instead; if a device of the callee answers 302 and
//! `follow_deflections` holds, ask [`follow_deflection`] with the delivery's `history`.
//!
//! It never does IO, never reads a clock, never blocks, and never panics on what a peer
//! sends: the caller gathers what the call needs into a `Directory` snapshot first.
//! Per-user settings as the store keeps them (name → value) are read with
//! [`apply_settings`]; `examples/explain.rs` is a dry run from a site file.
//!
//! ```
//! use sb_routing::*;
//!
//! let config: RoutingConfig = toml::from_str(r#"
//!     domains = ["example.com"]
//!     default_dial_plan = "redmond"
//!     default_voice_policy = "domestic"
//!     [[dial_plans]]
//!     name = "redmond"
//!     rules = [ { pattern = '^(\d{7})$', translation = '+1425$1' } ]
//!     [[routes]]
//!     name = "us"
//!     pattern = '^\+1\d{10}$'
//!     usage = "national"
//!     trunks = ["gw-a", "gw-b"]
//!     [[voice_policies]]
//!     name = "domestic"
//!     usages = ["national"]
//! "#).unwrap();
//! let table = RoutingTable::compile(config).unwrap();
//! let mut dir = MemoryDirectory::default();
//! let alice = UserId::new("alice", "example.com");
//! dir.add_user(UserEntry::new(alice.clone()), None);
//!
//! let facts = RequestFacts::new("sip:555-1212@example.com;user=phone".parse().unwrap(), "c1");
//! let routed = route(&facts, &Caller::User(alice), &dir, &table);
//! let Decision::Deliver(d) = &routed.decision else { panic!("{}", routed.trace) };
//! assert_eq!(d.branches[0].request_uri.to_string(), "tel:+14255551212");
//! assert_eq!(d.branches[0].trunks, [TrunkName::from("gw-a"), TrunkName::from("gw-b")]);
//! println!("{}", routed.trace); // the dry run
//! ```

mod branches;
pub mod config;
pub mod decision;
pub mod dialplan;
pub mod directory;
pub mod error;
pub mod history;
pub mod ids;
pub mod pbx;
pub mod presence;
pub mod route;
pub mod rules;
pub mod settings;
pub mod trace;

pub use config::{
    FailoverPolicy, Limits, MarkConfig, PbxConfig, Route, RouteConfig, RoutingConfig, RoutingTable,
    SiteConfig, StatusMatch, VoicePolicyConfig,
};
pub use decision::{Branch, BranchKind, Decision, Delivery, Fork, NoAnswer, Routed};
pub use dialplan::{
    dialled_from_uri, strip_visual_separators, DialPlan, DialPlanConfig, Normalization,
    NormalizationRule, Normalized,
};
pub use directory::{Contact, Directory, MemoryDirectory, NumberOwner, PbxLine, UserEntry};
pub use error::{ConfigError, RulesError};
pub use history::{Diversion, HeaderField, History, HistoryEntry, RedirectCause};
pub use ids::{
    DialPlanName, PbxName, PolicyName, RouteName, SiteName, TrunkName, Usage, UserId, E164,
};
pub use pbx::{mark_value, read_mark};
pub use presence::PresenceFacts;
pub use route::{follow_deflection, plan_for, route, Caller, RequestFacts};
pub use rules::{validate_rules, CallRules, ForwardTarget, Unanswered};
pub use settings::apply_settings;
pub use trace::{Step, Trace, TraceLine};
