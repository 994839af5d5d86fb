//! The registrar state machine (RFC 3261 §10.3; RFC 5626 §6).
//!
//! Persistence: the registrar owns the live bindings in memory and reports every change
//! as an [`Effect`] for the shell to write to the store; at start the shell hands the
//! stored bindings back through [`Registrar::restore`]. The core never waits for the
//! store: a REGISTER is answered from memory, and the write follows.
//!
//! Expiry is a timer, not a sweep: [`Registrar::poll_timeout`] gives the next instant a
//! binding lapses and [`Registrar::handle_timeout`] removes what has lapsed.

use crate::binding::{uri_key, Aor, Binding, BindingKey, Source, Q};
use sb_sip_msg::{ContactValue, Header, Method, NameAddr, OtherHeader, Request, StatusCode};
use std::collections::{BTreeSet, HashMap, VecDeque};

/// Registrar settings.
#[derive(Debug, Clone)]
pub struct RegistrarConfig {
    /// Domains we register users for (case-insensitive). Empty: every domain.
    pub domains: Vec<String>,
    /// Expiry when the request gives none (RFC 3261 §10.2.1.1 suggests 3600).
    pub default_expires: u32,
    /// Shorter non-zero intervals are refused with 423 (RFC 3261 §10.3 step 7).
    pub min_expires: u32,
    /// Longer intervals are shortened to this (§10.2.1.1 lets a registrar do so).
    pub max_expires: u32,
    /// Bindings one AOR may have. A REGISTER that would add more is refused with 403.
    pub max_bindings_per_aor: usize,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            domains: Vec::new(),
            default_expires: 3600,
            min_expires: 60,
            max_expires: 86_400,
            max_bindings_per_aor: 16,
        }
    }
}

/// A configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("need min_expires <= default_expires <= max_expires, got {0} / {1} / {2}")]
    ExpiresOrder(u32, u32, u32),
    #[error("max_bindings_per_aor must be at least 1")]
    NoBindings,
}

impl RegistrarConfig {
    /// Checks the settings a site file or the CLI gave: a default outside the bounds would
    /// make every REGISTER without an expiry fail with 423.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let (min, def, max) = (self.min_expires, self.default_expires, self.max_expires);
        if !(min <= def && def <= max) {
            return Err(ConfigError::ExpiresOrder(min, def, max));
        }
        if self.max_bindings_per_aor == 0 {
            return Err(ConfigError::NoBindings);
        }
        Ok(())
    }
}

/// Who the caller authenticated, decided before the registrar sees the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorized {
    /// The authenticated user's AOR: a REGISTER may only change this AOR (§10.3 step 4).
    Aor(Aor),
    /// Authentication is off by the caller's policy: any AOR may be registered.
    Unchecked,
}

/// Why a REGISTER was refused. [`RegisterError::status`] maps each to its response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    #[error("not a REGISTER request")]
    NotRegister,
    #[error("missing {0} header")]
    Missing(&'static str),
    /// To is not sip/sips (RFC 4475 §3.3.4 `unksm2`): 400.
    #[error("address of record must be a sip or sips URI")]
    AorScheme,
    /// To names a domain we do not serve (§10.3 step 3 and 5): 404.
    #[error("not a domain served here")]
    NotOurDomain,
    /// The authenticated user may not change this AOR (§10.3 step 4): 403.
    #[error("not allowed to register this address")]
    NotAuthorized,
    /// `Contact: *` with other contacts or a non-zero Expires (§10.3 step 6): 400.
    #[error("Contact * must be alone and have Expires: 0")]
    BadStar,
    #[error("malformed expires value")]
    BadExpires,
    #[error("malformed q value")]
    BadQ,
    #[error("malformed reg-id")]
    BadRegId,
    /// RFC 5626 §6: at most one Contact may carry a reg-id per REGISTER.
    #[error("more than one Contact with reg-id")]
    MultipleRegId,
    /// A non-zero interval below the minimum: 423 with Min-Expires (§10.3 step 7).
    #[error("interval too brief")]
    IntervalTooBrief { min: u32 },
    /// Same Call-ID and a CSeq not above the stored one (§10.3 step 7: the update "MUST
    /// be aborted and the request fails"). The RFC names no code; we answer 500, which
    /// a client treats as a transient failure and retries with a fresh CSeq.
    #[error("out of order CSeq for this Call-ID")]
    OutOfOrder,
    /// More than [`RegistrarConfig::max_bindings_per_aor`]. 403 rather than 503: it is a
    /// limit of policy, and retrying later (what 503 invites) would not help.
    #[error("too many registrations for this address")]
    TooManyBindings,
}

impl From<&RegisterError> for StatusCode {
    fn from(e: &RegisterError) -> StatusCode {
        e.status()
    }
}

impl RegisterError {
    /// The response status for this refusal.
    pub fn status(&self) -> StatusCode {
        use RegisterError::*;
        StatusCode(match self {
            NotRegister => 405,
            NotOurDomain => 404,
            NotAuthorized | TooManyBindings => 403,
            IntervalTooBrief { .. } => 423,
            OutOfOrder => 500,
            Missing(_) | AorScheme | BadStar | BadExpires | BadQ | BadRegId | MultipleRegId => 400,
        })
    }
}

/// The answer to a REGISTER: status, reason and the headers to add to the §8.2.6 response
/// the caller builds (it owns the To tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: StatusCode,
    pub reason: String,
    pub headers: Vec<Header>,
}

impl Reply {
    fn error(e: &RegisterError) -> Reply {
        let status = e.status();
        let reason = match e {
            RegisterError::IntervalTooBrief { .. } | RegisterError::NotRegister => {
                status.default_reason().to_string()
            }
            _ => format!("{} ({e})", status.default_reason()),
        };
        let mut headers = Vec::new();
        if let RegisterError::IntervalTooBrief { min } = e {
            headers.push(Header::MinExpires(*min));
        }
        Reply {
            status,
            reason,
            headers,
        }
    }
}

/// Why a binding went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveReason {
    /// Expires 0 or `Contact: *` (§10.2.2).
    Unregistered,
    /// The timer ran out.
    Expired,
    /// A binding of the same Contact URI without an instance id was superseded by one
    /// with an instance id (RFC 5626 §6).
    Replaced,
}

/// What the shell must do after an input: persist a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Insert or overwrite the binding `(aor, key)`.
    Upsert(Box<Binding>),
    /// Delete this binding (the whole binding as it was, so a store keyed by Contact or by
    /// instance finds its row).
    Remove {
        binding: Box<Binding>,
        reason: RemoveReason,
    },
}

/// The registrar. See the module docs for how to drive it.
#[derive(Debug, Default)]
pub struct Registrar {
    config: RegistrarConfig,
    aors: HashMap<Aor, Vec<Binding>>,
    /// (expires_at, aor, key): one entry per live binding.
    timers: BTreeSet<(u64, Aor, BindingKey)>,
    /// Contact URI key (RFC 3261 §19.1.4 comparison) → the bindings with that Contact, so
    /// an in-dialog request sent to a device's Contact finds its flow without a scan.
    by_contact: HashMap<String, Vec<(Aor, BindingKey)>>,
    effects: VecDeque<Effect>,
    seq: u64,
}

/// One Contact after its parameters were read.
struct Wanted {
    key: BindingKey,
    contact: NameAddr,
    q: Option<Q>,
    expires: u32,
    instance: Option<String>,
    reg_id: Option<u32>,
}

impl Registrar {
    pub fn new(config: RegistrarConfig) -> Self {
        Registrar {
            config,
            ..Default::default()
        }
    }

    pub fn config(&self) -> &RegistrarConfig {
        &self.config
    }

    /// Number of live bindings, all AORs together.
    pub fn len(&self) -> usize {
        self.timers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.timers.is_empty()
    }

    /// The bindings of an AOR for routing: highest q first, then most recently refreshed.
    /// The binding whose Contact is `uri` (compared as RFC 3261 §19.1.4 keys), if any,
    /// the most recently registered when several share it: how a request inside a
    /// dialog, sent to a device's Contact, finds the connection the device registered
    /// over.
    pub fn binding_with_contact(&self, uri: &sb_sip_msg::Uri) -> Option<Binding> {
        self.by_contact
            .get(&crate::binding::uri_key(uri))?
            .iter()
            .filter_map(|(aor, key)| self.aors.get(aor)?.iter().find(|b| b.key == *key))
            .max_by_key(|b| (b.updated_at, b.seq))
            .cloned()
    }

    pub fn bindings(&self, aor: &Aor) -> Vec<Binding> {
        let mut v = self.aors.get(aor).cloned().unwrap_or_default();
        v.sort_by(|a, b| {
            b.effective_q()
                .cmp(&a.effective_q())
                .then(b.updated_at.cmp(&a.updated_at))
                .then(b.seq.cmp(&a.seq))
        });
        v
    }

    /// Loads bindings from the store at start. Lapsed ones are dropped and reported as
    /// [`Effect::Remove`] so the store forgets them too.
    pub fn restore(&mut self, now: u64, bindings: impl IntoIterator<Item = Binding>) {
        for mut b in bindings {
            if b.expires_at <= now {
                self.effects.push_back(Effect::Remove {
                    binding: Box::new(b),
                    reason: RemoveReason::Expired,
                });
                continue;
            }
            self.seq = self.seq.max(b.seq);
            b.seq = self.seq;
            self.insert(b);
        }
    }

    /// The next time (Unix seconds) a binding lapses.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        self.timers.first().map(|(t, _, _)| *t)
    }

    /// Removes every binding that has lapsed by `now` (a binding registered at `t` for
    /// `e` seconds is gone at `t + e`).
    pub fn handle_timeout(&mut self, now: u64) {
        while let Some((t, _, _)) = self.timers.first() {
            if *t > now {
                break;
            }
            let Some((_, aor, key)) = self.timers.pop_first() else {
                break;
            };
            if let Some(b) = self.take(&aor, &key) {
                self.effects.push_back(Effect::Remove {
                    binding: Box::new(b),
                    reason: RemoveReason::Expired,
                });
            }
        }
    }

    /// The next change to persist.
    #[must_use]
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// Processes a REGISTER that the caller has authenticated (RFC 3261 §10.3). `now` is
    /// Unix seconds; `source` is where it came from. All contacts are applied or none
    /// (§10.3 step 7: "committed ... if and only if all binding updates and additions
    /// succeed").
    pub fn handle_register(
        &mut self,
        now: u64,
        req: &Request,
        source: &Source,
        authorized: &Authorized,
    ) -> Reply {
        // Whatever lapsed before this request is gone for it, even if the shell's timer
        // has not fired yet.
        self.handle_timeout(now);
        match self.process(now, req, source, authorized) {
            Ok(reply) => reply,
            Err(e) => Reply::error(&e),
        }
    }

    fn process(
        &mut self,
        now: u64,
        req: &Request,
        source: &Source,
        authorized: &Authorized,
    ) -> Result<Reply, RegisterError> {
        if req.method != Method::Register {
            return Err(RegisterError::NotRegister);
        }
        let h = &req.headers;
        let to = h.to().ok_or(RegisterError::Missing("To"))?;
        let call_id = h.call_id().ok_or(RegisterError::Missing("Call-ID"))?;
        let cseq = h.cseq().ok_or(RegisterError::Missing("CSeq"))?.seq;
        let aor = Aor::from_uri(&to.uri).ok_or(RegisterError::AorScheme)?;
        if !self.serves(aor.host()) {
            return Err(RegisterError::NotOurDomain);
        }
        if let Authorized::Aor(a) = authorized {
            if *a != aor {
                return Err(RegisterError::NotAuthorized);
            }
        }
        let header_expires = h.iter().find_map(|h| match h {
            Header::Expires(e) => Some(*e),
            _ => None,
        });
        let contacts: Vec<&ContactValue> = h
            .iter()
            .filter_map(|h| match h {
                Header::Contact(c) => Some(c),
                _ => None,
            })
            .collect();
        let current = self.aors.get(&aor).cloned().unwrap_or_default();
        // RFC 3327 §5.3: Path values are stored with the bindings (requests to the device
        // go back through those proxies) and returned if the client supports path.
        let path: Vec<String> = h.other("Path").map(str::to_string).collect();
        let supports_path = h.supported().any(|t| t.trim().eq_ignore_ascii_case("path"));
        let echo_path = if supports_path {
            path.clone()
        } else {
            Vec::new()
        };
        // Ordering is checked against the bindings as they were before this request, so
        // a Contact listed twice in one REGISTER is not its own predecessor.
        let check_order = |key: &BindingKey| match current.iter().find(|b| b.key == *key) {
            Some(b) if b.call_id == *call_id && cseq <= b.cseq => Err(RegisterError::OutOfOrder),
            _ => Ok(()),
        };

        // Each Contact costs a scan of the AOR's bindings; more than a full removal plus
        // a full set of additions cannot succeed anyway.
        if contacts.len() > 2 * self.config.max_bindings_per_aor.max(1) {
            return Err(RegisterError::TooManyBindings);
        }
        if contacts.iter().any(|c| matches!(c, ContactValue::Star)) {
            if contacts.len() != 1 || header_expires != Some(0) {
                return Err(RegisterError::BadStar);
            }
            current.iter().try_for_each(|b| check_order(&b.key))?;
            for b in &current {
                self.remove(&aor, &b.key, RemoveReason::Unregistered);
            }
            return Ok(self.ok(now, &aor, false, &[]));
        }

        let wanted = contacts
            .iter()
            .filter_map(|c| match c {
                ContactValue::Addr(a) => Some(self.read_contact(a, header_expires)),
                ContactValue::Star => None,
            })
            .collect::<Result<Vec<Wanted>, _>>()?;
        if wanted.iter().filter(|w| w.reg_id.is_some()).count() > 1 {
            return Err(RegisterError::MultipleRegId);
        }
        let min = self.config.min_expires;
        if wanted.iter().any(|w| w.expires != 0 && w.expires < min) {
            return Err(RegisterError::IntervalTooBrief { min });
        }
        let outbound = wanted.iter().any(|w| w.reg_id.is_some() && w.expires != 0);

        // Work on a copy, commit at the end.
        let mut next: Vec<Binding> = current.clone();
        let mut removed: Vec<(BindingKey, RemoveReason)> = Vec::new();
        let mut upserts: Vec<BindingKey> = Vec::new();
        for w in wanted {
            if matches!(w.key, BindingKey::Instance { .. }) && w.expires != 0 {
                // The device registered this URI before it sent an instance id: the new
                // binding takes the old one's place rather than doubling it.
                let by_uri = BindingKey::Uri(uri_key(&w.contact.uri));
                check_order(&by_uri)?;
                if let Some(i) = next.iter().position(|b| b.key == by_uri) {
                    let b = next.remove(i);
                    upserts.retain(|k| *k != b.key);
                    removed.push((b.key, RemoveReason::Replaced));
                }
            }
            check_order(&w.key)?;
            let at = next.iter().position(|b| b.key == w.key);
            if w.expires == 0 {
                if let Some(i) = at {
                    let b = next.remove(i);
                    upserts.retain(|k| *k != b.key);
                    removed.push((b.key, RemoveReason::Unregistered));
                }
                continue;
            }
            let expires = w.expires.min(self.config.max_expires);
            self.seq += 1;
            let b = Binding {
                aor: aor.clone(),
                key: w.key.clone(),
                contact: w.contact,
                q: w.q,
                expires_at: now.saturating_add(u64::from(expires)),
                call_id: call_id.clone(),
                cseq,
                instance: w.instance,
                reg_id: w.reg_id,
                source: source.clone(),
                path: path.clone(),
                updated_at: now,
                seq: self.seq,
            };
            match at {
                Some(i) => next[i] = b,
                None => next.push(b),
            }
            removed.retain(|(k, _)| *k != w.key);
            if !upserts.contains(&w.key) {
                upserts.push(w.key);
            }
        }
        let max = self.config.max_bindings_per_aor;
        if next.len() > max && next.len() > current.len() {
            return Err(RegisterError::TooManyBindings);
        }

        // Commit.
        for (key, reason) in removed {
            self.remove(&aor, &key, reason);
        }
        for key in upserts {
            if let Some(b) = next.iter().find(|b| b.key == key) {
                self.take(&aor, &key);
                self.insert(b.clone());
                self.effects.push_back(Effect::Upsert(Box::new(b.clone())));
            }
        }
        Ok(self.ok(now, &aor, outbound, &echo_path))
    }

    /// Expires, q, +sip.instance and reg-id of one Contact (§10.3 steps 6-7, RFC 5626 §6).
    fn read_contact(
        &self,
        a: &NameAddr,
        header_expires: Option<u32>,
    ) -> Result<Wanted, RegisterError> {
        let expires = match a.params.get("expires") {
            Some(Some(v)) => parse_delta(v)?,
            Some(None) => return Err(RegisterError::BadExpires),
            None => header_expires.unwrap_or(self.config.default_expires),
        };
        let q = match a.params.get("q") {
            Some(Some(v)) => Some(Q::parse(v).ok_or(RegisterError::BadQ)?),
            Some(None) => return Err(RegisterError::BadQ),
            None => None,
        };
        let instance = a
            .params
            .value("+sip.instance")
            .map(|v| unquote(v).to_string())
            .filter(|v| !v.is_empty());
        // RFC 5626 §6: reg-id without +sip.instance is ignored.
        let reg_id = match (a.params.get("reg-id"), &instance) {
            (Some(Some(v)), Some(_)) => Some(
                v.parse::<u32>()
                    .ok()
                    .filter(|r| *r > 0)
                    .ok_or(RegisterError::BadRegId)?,
            ),
            (Some(None), Some(_)) => return Err(RegisterError::BadRegId),
            _ => None,
        };
        let key = match &instance {
            Some(i) => BindingKey::Instance {
                instance: i.clone(),
                reg_id,
            },
            None => BindingKey::Uri(uri_key(&a.uri)),
        };
        Ok(Wanted {
            key,
            contact: a.clone(),
            q,
            expires,
            instance,
            reg_id,
        })
    }

    /// 200 with every current binding (§10.3 step 8); `Require: outbound` when a flow
    /// was registered (RFC 5626 §6); the request's Path echoed when the client supports
    /// it (RFC 3327 §5.3).
    fn ok(&self, now: u64, aor: &Aor, outbound: bool, path: &[String]) -> Reply {
        let mut headers: Vec<Header> = self
            .bindings(aor)
            .iter()
            .map(|b| Header::Contact(ContactValue::Addr(b.listed_contact(now))))
            .collect();
        if outbound {
            headers.push(Header::Require("outbound".into()));
        }
        headers.extend(path.iter().map(|p| {
            Header::Other(OtherHeader {
                name: "Path".into(),
                value: format!(" {p}"),
            })
        }));
        // §10.3 step 8: a Date lets a client without a clock of its own set one.
        headers.push(Header::Other(OtherHeader {
            name: "Date".into(),
            value: format!(" {}", crate::date::http_date(now)),
        }));
        Reply {
            status: StatusCode::OK,
            reason: StatusCode::OK.default_reason().to_string(),
            headers,
        }
    }

    fn serves(&self, host: &str) -> bool {
        self.config.domains.is_empty()
            || self
                .config
                .domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(host))
    }

    fn insert(&mut self, b: Binding) {
        // One binding per key, even if a store handed back duplicates.
        self.take(&b.aor, &b.key);
        self.timers
            .insert((b.expires_at, b.aor.clone(), b.key.clone()));
        self.by_contact
            .entry(crate::binding::uri_key(&b.contact.uri))
            .or_default()
            .push((b.aor.clone(), b.key.clone()));
        self.aors.entry(b.aor.clone()).or_default().push(b);
    }

    /// Removes a binding from memory and its timer; no effect emitted.
    fn take(&mut self, aor: &Aor, key: &BindingKey) -> Option<Binding> {
        let list = self.aors.get_mut(aor)?;
        let i = list.iter().position(|b| b.key == *key)?;
        let b = list.remove(i);
        if list.is_empty() {
            self.aors.remove(aor);
        }
        self.timers
            .remove(&(b.expires_at, aor.clone(), key.clone()));
        let contact = crate::binding::uri_key(&b.contact.uri);
        if let Some(v) = self.by_contact.get_mut(&contact) {
            v.retain(|(a, k)| !(a == aor && k == key));
            if v.is_empty() {
                self.by_contact.remove(&contact);
            }
        }
        Some(b)
    }

    fn remove(&mut self, aor: &Aor, key: &BindingKey, reason: RemoveReason) {
        if let Some(b) = self.take(aor, key) {
            self.effects.push_back(Effect::Remove {
                binding: Box::new(b),
                reason,
            });
        }
    }
}

/// delta-seconds (RFC 3261 §25.1); values past 2^32-1 saturate (§20.19 asks the same of
/// Expires), and then are clamped to the maximum anyway.
fn parse_delta(v: &str) -> Result<u32, RegisterError> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RegisterError::BadExpires);
    }
    Ok(v.parse::<u64>()
        .map_or(u32::MAX, |n| u32::try_from(n).unwrap_or(u32::MAX)))
}

fn unquote(v: &str) -> &str {
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
}
