//! REGISTER: digest authentication (RFC 3261 §22, RFC 8760) in front of the registrar
//! (RFC 3261 §10.3), with the credentials fetched from the store as queries.
//!
//! The store is slow and asynchronous; the core never waits for it. A REGISTER whose
//! credentials need checking leaves as a [`Query::Credentials`] and the transaction stays
//! open (the transaction layer absorbs retransmissions meanwhile). The shell answers with
//! [`crate::Frontend::handle_query_result`]. Every query has a deadline
//! ([`ServicesConfig::query_timeout`]): a store that does not answer in time makes the
//! request fail with 503 and Retry-After, never a transaction that hangs until the client's
//! Timer F.
//!
//! Registrar changes leave as [`Effect`]s for the shell to write ([`crate::Frontend::poll_write`]);
//! the registrar answers from memory, so the write may follow the response.
//!
//! What is challenged: REGISTER with 401 and `WWW-Authenticate` (the registrar role), and
//! every other request from a user of our domains with 407 and `Proxy-Authenticate` (the
//! proxy role, RFC 3261 §22.3): one whose From host is a served domain, the same notion of
//! "ours" that picks the REGISTER realm (`[sip] domains`; every host when that is empty),
//! and the From host is then the realm. Both go through one flow: authenticate (perhaps
//! after a store query), then continue with what the role does next: the registrar for
//! REGISTER, the stateless policy's answer for the rest. Never challenged:
//!
//! * ACK: it cannot be answered (§17.1.1.3), so a challenge could never reach the client;
//!   it belongs to a transaction or dialog that was authenticated already.
//! * CANCEL: it must match the request it cancels hop by hop (§9.1) and cannot carry new
//!   credentials to be checked against a fresh nonce (§22.1: it is not challengeable).
//! * OPTIONS: phones ping the server with it to keep NAT bindings open and to check that
//!   it is alive; it reveals only our capabilities, and challenging it would double the
//!   keep-alive traffic and make monitors report a healthy server as failing.
//!
//! Requests from other domains are not challenged: we cannot hold their users' passwords.
//!
//! Unknown users, disabled users and wrong passwords all get the same 401: the check runs
//! against [`DigestAuth::dummy_ha1`] when the store has no credential, so neither the
//! answer nor the work done tells who exists. Repeated failures from one source address
//! are refused with 403 and Retry-After ([`FailureTracker`]).

use sb_registrar::{Aor, Authorized, Effect, Registrar, RegistrarConfig, Source};
use sb_sip_auth::{
    Algorithm, AuthConfig, AuthRole, Credentials, DigestAuth, FailureTracker, Ha1, Outcome, Step,
    ThrottleConfig, Verdict,
};
use sb_sip_msg::{Header, Method, OtherHeader, Request, StatusCode};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Identifies a request awaiting an answer, chosen by the caller (the transaction id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReqKey(pub u64);

/// Identifies a query; the answer must carry it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueryId(pub u64);

/// Work that needs the store.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Query {
    /// The HA1 of the user with SIP address `address` (`sip:user@domain`) for `realm` and
    /// `algorithm`. Answer `Ok(None)` when there is none or the user is disabled.
    Credentials {
        id: QueryId,
        address: String,
        realm: String,
        algorithm: Algorithm,
    },
}

impl Query {
    pub fn id(&self) -> QueryId {
        match self {
            Query::Credentials { id, .. } => *id,
        }
    }
}

/// Why a query has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    #[error("store failed: {0}")]
    Store(String),
}

/// The answer to a [`Query::Credentials`].
pub type QueryResult = Result<Option<Ha1>, QueryError>;

/// Something worth counting, for the shell's metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Credentials were refused (`reason` is a metric label).
    AuthFailure { reason: &'static str },
    /// A request from a throttled source was refused.
    Throttled,
    /// The store failed (`error`) or did not answer a query in time (`None`).
    StoreUnavailable { error: Option<String> },
    /// A call was routed: placed (`allowed`) or refused; `trace` is the dry-run text.
    Routed { allowed: bool, trace: String },
}

/// Settings for authentication.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `config.realm` is the realm challenged with, unless `realm_per_domain`.
    pub config: AuthConfig,
    /// Challenge with the domain of the AOR being registered as the realm (RFC 3261
    /// §22.1: the realm usually is the domain), so each domain's users keep credentials
    /// for their own domain. `config.realm` then serves requests for other hosts.
    pub realm_per_domain: bool,
    /// Signs nonces; front ends sharing a store should share it.
    pub secret: Vec<u8>,
    pub throttle: ThrottleConfig,
}

/// Settings for the services behind the policy.
#[derive(Debug, Clone)]
pub struct ServicesConfig {
    pub registrar: RegistrarConfig,
    /// `None`: REGISTER is accepted for any AOR without credentials (tests, closed labs).
    pub auth: Option<AuthSettings>,
    /// How long a query may take before the request fails with 503.
    pub query_timeout: Duration,
    /// Seconds a client is told to wait after a 503 (Retry-After, RFC 3261 §21.5.4).
    pub retry_after_secs: u32,
    /// Most requests waiting for the store at once; beyond it a request gets 503 at
    /// once, so a flood of credentials cannot queue unbounded work for the store.
    pub max_pending: usize,
}

impl ServicesConfig {
    pub fn new(registrar: RegistrarConfig, auth: Option<AuthSettings>) -> Self {
        ServicesConfig {
            registrar,
            auth,
            query_timeout: Duration::from_secs(4),
            retry_after_secs: 5,
            max_pending: 10_000,
        }
    }
}

/// Maps the monotonic `Instant`s the event loop passes in to the Unix seconds that nonces
/// and bindings are measured in (both outlive the process). Fixed at construction, so the
/// core never reads a clock and a test's virtual clock moves both together.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    pub at: Instant,
    pub unix: u64,
}

impl WallClock {
    pub fn unix(&self, now: Instant) -> u64 {
        self.unix + now.saturating_duration_since(self.at).as_secs()
    }

    pub fn instant(&self, unix: u64) -> Instant {
        self.at + Duration::from_secs(unix.saturating_sub(self.unix))
    }
}

/// A request waiting for its credentials.
#[derive(Debug)]
struct Pending {
    key: ReqKey,
    req: Request,
    source: Source,
    /// Registrar: register next; proxy: the policy answers next.
    role: AuthRole,
    realm: String,
    credentials: Box<Credentials>,
    deadline: Instant,
}

/// Most realms kept when the realm follows the domain (each costs a nonce table). With
/// `[sip] domains` empty any host can be named, so a new one evicts the least recently
/// used instead of being refused: a flood of made-up hosts cannot lock a real domain out.
/// An evicted realm's clients get `stale=true` once and carry on (its nonces still verify;
/// only their counts were forgotten).
const MAX_REALMS: usize = 256;

/// A realm's digest state and when it was last used.
#[derive(Debug)]
struct RealmAuth {
    auth: DigestAuth,
    used: u64,
}

/// Authentication, throttling, the registrar, and the requests waiting on the store.
#[derive(Debug)]
pub(crate) struct Services {
    config: ServicesConfig,
    clock: WallClock,
    pub(crate) registrar: Registrar,
    /// One per realm in use; the fallback realm's is created first and never evicted.
    auths: HashMap<String, RealmAuth>,
    uses: u64,
    seed: u64,
    throttle: FailureTracker,
    pending: HashMap<QueryId, Pending>,
    deadlines: BTreeSet<(Instant, QueryId)>,
    next_query: u64,
    pub(crate) queries: VecDeque<Query>,
    pub(crate) events: VecDeque<Event>,
}

/// What the flow decided for a request; the front end turns it into a response.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub reason: Option<String>,
    pub headers: Vec<Header>,
}

/// Where an authenticated request goes next.
pub(crate) enum Flow {
    /// Answer with this (a challenge, a refusal, or the registrar's reply).
    Answer(Answer),
    /// Authenticated (as this user, `sip:USER@DOMAIN`, when digest proved who it is):
    /// the policy or routing takes it from here.
    Continue(Option<String>),
}

impl Answer {
    fn status(status: StatusCode) -> Answer {
        Answer {
            status,
            reason: None,
            headers: Vec::new(),
        }
    }
}

impl Services {
    pub(crate) fn new(config: ServicesConfig, clock: WallClock, seed: u64) -> Services {
        let mut auths = HashMap::new();
        if let Some(a) = &config.auth {
            let auth = DigestAuth::new(a.config.clone(), &a.secret, seed, clock.unix);
            auths.insert(a.config.realm.clone(), RealmAuth { auth, used: 0 });
        }
        let throttle = FailureTracker::new(
            config
                .auth
                .as_ref()
                .map(|a| a.throttle.clone())
                .unwrap_or_default(),
        );
        Services {
            registrar: Registrar::new(config.registrar.clone()),
            config,
            clock,
            auths,
            uses: 0,
            seed,
            throttle,
            pending: HashMap::new(),
            deadlines: BTreeSet::new(),
            next_query: 0,
            queries: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Whether digest authentication is configured at all.
    pub(crate) fn auth_enabled(&self) -> bool {
        self.config.auth.is_some()
    }

    pub(crate) fn clock(&self) -> WallClock {
        self.clock
    }

    pub(crate) fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Starts a REGISTER: an answer now, or `None` when a query went out.
    pub(crate) fn on_register(
        &mut self,
        now: Instant,
        key: ReqKey,
        req: &Request,
        source: Source,
    ) -> Option<Answer> {
        let unix = self.clock.unix(now);
        let Some(realm) = self.realm_for(req, AuthRole::Registrar) else {
            return Some(self.register(unix, req, &source, &Authorized::Unchecked));
        };
        match self.authenticate(now, key, req, source, AuthRole::Registrar, realm)? {
            Flow::Answer(a) => Some(a),
            Flow::Continue(_) => Some(Answer::status(StatusCode::SERVER_INTERNAL_ERROR)),
        }
    }

    /// Whether a request other than REGISTER must be authenticated (proxy role): it comes
    /// from a user of our domains and its method is challengeable (see the module doc).
    pub(crate) fn challenges(&self, req: &Request) -> bool {
        !matches!(
            req.method,
            Method::Register | Method::Ack | Method::Cancel | Method::Options
        ) && self.realm_for(req, AuthRole::Proxy).is_some()
    }

    /// Starts authenticating a request that [`Services::challenges`]: a flow now, or
    /// `None` when a query went out.
    pub(crate) fn on_proxied(
        &mut self,
        now: Instant,
        key: ReqKey,
        req: &Request,
        source: Source,
    ) -> Option<Flow> {
        let Some(realm) = self.realm_for(req, AuthRole::Proxy) else {
            return Some(Flow::Continue(None));
        };
        self.authenticate(now, key, req, source, AuthRole::Proxy, realm)
    }

    /// Throttling, then digest for `role` in `realm`: a flow now, or `None` when the HA1
    /// was asked of the store (the flow then comes from [`Services::on_query_result`]).
    fn authenticate(
        &mut self,
        now: Instant,
        key: ReqKey,
        req: &Request,
        source: Source,
        role: AuthRole,
        realm: String,
    ) -> Option<Flow> {
        let unix = self.clock.unix(now);
        let verdict = self.throttle.check(source.addr.ip(), unix);
        if let Verdict::Throttled { .. } = verdict {
            self.events.push_back(Event::Throttled);
            return Some(Flow::Answer(Answer {
                status: StatusCode(403),
                reason: Some(Verdict::REASON.to_string()),
                headers: verdict.retry_after_header().into_iter().collect(),
            }));
        }
        match self.auth_mut(&realm, unix).start(req, role) {
            Step::Done(outcome) => Some(self.on_outcome(unix, req, &source, role, &realm, outcome)),
            Step::NeedHa1 {
                credentials,
                algorithm,
            } => {
                let Some(address) = address_of(req, role, &credentials.username) else {
                    // No To URI to take the domain from: validation lets none through,
                    // so this is a defence only.
                    return Some(Flow::Answer(Answer::status(StatusCode::BAD_REQUEST)));
                };
                if self.pending.len() >= self.config.max_pending {
                    self.events.push_back(Event::StoreUnavailable {
                        error: Some("too many requests waiting for the store".into()),
                    });
                    return Some(Flow::Answer(self.unavailable()));
                }
                self.next_query += 1;
                let id = QueryId(self.next_query);
                let deadline = now + self.config.query_timeout;
                self.queries.push_back(Query::Credentials {
                    id,
                    address,
                    realm: credentials.realm.clone(),
                    algorithm,
                });
                self.deadlines.insert((deadline, id));
                self.pending.insert(
                    id,
                    Pending {
                        key,
                        req: req.clone(),
                        source,
                        role,
                        realm,
                        credentials,
                        deadline,
                    },
                );
                None
            }
        }
    }

    /// The store answered: verify, then register or continue. Returns the request's key
    /// and flow; `None` when the query is unknown (it timed out and was answered already).
    pub(crate) fn on_query_result(
        &mut self,
        now: Instant,
        id: QueryId,
        result: QueryResult,
    ) -> Option<(ReqKey, Request, Flow)> {
        let p = self.pending.remove(&id)?;
        self.deadlines.remove(&(p.deadline, id));
        let unix = self.clock.unix(now);
        let auth = self.auth_mut(&p.realm, unix);
        let c = &p.credentials;
        let ha1 = match result {
            Ok(Some(ha1)) => ha1,
            Ok(None) => {
                let alg = c.algorithm().unwrap_or(Algorithm::Md5);
                auth.dummy_ha1(&c.username, &c.realm, alg)
            }
            Err(e) => {
                self.events.push_back(Event::StoreUnavailable {
                    error: Some(e.to_string()),
                });
                return Some((p.key, p.req, Flow::Answer(self.unavailable())));
            }
        };
        let outcome = auth.verify(unix, &p.req.method, c, &ha1);
        let flow = self.on_outcome(unix, &p.req, &p.source, p.role, &p.realm, outcome);
        Some((p.key, p.req, flow))
    }

    /// Requests whose query passed its deadline, answered 503.
    pub(crate) fn on_timeout(&mut self, now: Instant) -> Vec<(ReqKey, Request, Answer)> {
        let mut out = Vec::new();
        while let Some(&(deadline, id)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(p) = self.pending.remove(&id) {
                self.events
                    .push_back(Event::StoreUnavailable { error: None });
                out.push((p.key, p.req, self.unavailable()));
            }
        }
        self.registrar.handle_timeout(self.clock.unix(now));
        out
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let query = self.deadlines.first().map(|(t, _)| *t);
        let binding = self.registrar.poll_timeout().map(|t| self.clock.instant(t));
        [query, binding].into_iter().flatten().min()
    }

    fn unavailable(&self) -> Answer {
        Answer {
            status: StatusCode::SERVICE_UNAVAILABLE,
            reason: None,
            headers: vec![Header::Other(OtherHeader {
                name: "Retry-After".into(),
                value: format!(" {}", self.config.retry_after_secs),
            })],
        }
    }

    /// The realm to challenge `req` with in `role`; `None` when authentication is off.
    /// The registrar challenges every REGISTER, in the fallback realm when the AOR's host
    /// is not served; the proxy only requests whose From host is served (`None` for the
    /// rest: not our users, so not ours to authenticate).
    fn realm_for(&self, req: &Request, role: AuthRole) -> Option<String> {
        let a = self.config.auth.as_ref()?;
        let fallback = a.config.realm.clone();
        let host = user_host(req, role);
        let domains = &self.config.registrar.domains;
        let served = host.as_ref().is_some_and(|h| {
            domains.is_empty()
                || domains.iter().any(|d| d.eq_ignore_ascii_case(h))
                || (!a.realm_per_domain && h.eq_ignore_ascii_case(&fallback))
        });
        if role == AuthRole::Proxy && !served {
            return None;
        }
        if !a.realm_per_domain {
            return Some(fallback);
        }
        let Some(host) = host else {
            return Some(fallback);
        };
        let usable = !host.contains(['"', '\\', '\r', '\n']);
        Some(if served && usable { host } else { fallback })
    }

    /// The realm's digest state, created at `unix` if new: nonces issued before that (by
    /// an evicted predecessor) are then stale, so no nonce-count is accepted twice.
    fn auth_mut(&mut self, realm: &str, unix: u64) -> &mut DigestAuth {
        let seed = self.seed;
        let a = self
            .config
            .auth
            .as_ref()
            .expect("a realm implies auth settings");
        if !self.auths.contains_key(realm) && self.auths.len() >= MAX_REALMS {
            let fallback = &a.config.realm;
            let oldest = self
                .auths
                .iter()
                .filter(|(name, _)| *name != fallback)
                .min_by_key(|(_, r)| r.used)
                .map(|(name, _)| name.clone());
            if let Some(name) = oldest {
                self.auths.remove(&name);
            }
        }
        self.uses += 1;
        let used = self.uses;
        let entry = self.auths.entry(realm.to_string()).or_insert_with(|| {
            let mut config = a.config.clone();
            config.realm = realm.to_string();
            RealmAuth {
                auth: DigestAuth::new(config, &a.secret, seed, unix),
                used,
            }
        });
        entry.used = used;
        &mut entry.auth
    }

    fn on_outcome(
        &mut self,
        unix: u64,
        req: &Request,
        source: &Source,
        role: AuthRole,
        realm: &str,
        o: Outcome,
    ) -> Flow {
        let ip = source.addr.ip();
        match o {
            Outcome::Authorized { user } => {
                self.throttle.record_success(ip);
                if role == AuthRole::Proxy {
                    return Flow::Continue(address_of(req, role, &user));
                }
                let domain = to_host(req).unwrap_or_default();
                let who = Authorized::Aor(Aor::from_user(&user, &domain));
                Flow::Answer(self.register(unix, req, source, &who))
            }
            Outcome::Challenge { stale } => {
                // A request without credentials is how every client starts; only a
                // wrong answer is a failure.
                if has_credentials(req, role) {
                    if stale {
                        self.events
                            .push_back(Event::AuthFailure { reason: "stale" });
                    } else {
                        self.events.push_back(Event::AuthFailure {
                            reason: "bad_credentials",
                        });
                        self.throttle.record_failure(ip, unix);
                    }
                }
                let auth = self.auth_mut(realm, unix);
                Flow::Answer(Answer {
                    status: role.challenge_status(),
                    reason: None,
                    headers: auth.challenge_headers(unix, role, stale),
                })
            }
            Outcome::Forbidden { reason } => {
                self.events.push_back(Event::AuthFailure {
                    reason: "forbidden",
                });
                self.throttle.record_failure(ip, unix);
                Flow::Answer(Answer {
                    status: StatusCode(403),
                    reason: Some(format!("Forbidden ({reason})")),
                    headers: Vec::new(),
                })
            }
        }
    }

    fn register(&mut self, unix: u64, req: &Request, source: &Source, who: &Authorized) -> Answer {
        let reply = self.registrar.handle_register(unix, req, source, who);
        Answer {
            status: reply.status,
            reason: Some(reply.reason),
            headers: reply.headers,
        }
    }

    pub(crate) fn poll_write(&mut self) -> Option<Effect> {
        self.registrar.poll_effect()
    }
}

fn has_credentials(req: &Request, role: AuthRole) -> bool {
    req.headers
        .other(role.credentials_header())
        .next()
        .is_some()
}

fn to_host(req: &Request) -> Option<String> {
    host_of(&req.headers.to()?.uri)
}

/// The host of the user being authenticated: the AOR being registered (To) for the
/// registrar, the originator (From) for the proxy.
fn user_host(req: &Request, role: AuthRole) -> Option<String> {
    match role {
        AuthRole::Registrar => to_host(req),
        AuthRole::Proxy => host_of(&req.headers.from()?.uri),
    }
}

fn host_of(uri: &sb_sip_msg::Uri) -> Option<String> {
    let sip = uri.as_sip()?;
    Some(match &sip.host {
        sb_sip_msg::Host::Domain(d) => d.to_ascii_lowercase(),
        sb_sip_msg::Host::V4(a) => a.to_string(),
        sb_sip_msg::Host::V6(a) => format!("[{a}]"),
    })
}

/// The store address of the digest user: `sip:USER@DOMAIN` with the domain of the AOR
/// being registered (To) or of the originator (From), so one realm can serve users of
/// several domains.
fn address_of(req: &Request, role: AuthRole, username: &str) -> Option<String> {
    Some(format!("sip:{username}@{}", user_host(req, role)?))
}
