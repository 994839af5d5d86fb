//! Challenging and verifying requests (RFC 3261 §22.1-22.4, RFC 2617 §3.2, RFC 8760 §2.4).
//!
//! A request is checked in two steps, because the HA1 lives in the store and the store is
//! outside the core:
//!
//! 1. [`DigestAuth::start`] picks our credentials out of the request. It answers at once
//!    ([`Step::Done`]) when there are none (a challenge), or when they are unusable (403);
//!    otherwise it asks for the HA1 of (username, realm, algorithm) ([`Step::NeedHa1`]).
//! 2. The caller looks the HA1 up. For an unknown user it passes
//!    [`DigestAuth::dummy_ha1`] instead, so the check does the same work and gives the
//!    same answer as for a wrong password: nothing tells an attacker who exists.
//!    [`DigestAuth::verify`] then gives the [`Outcome`].
//!
//! Answers: 401 with `WWW-Authenticate` from a registrar, 407 with `Proxy-Authenticate`
//! from a proxy (§22.1, §22.3), 403 when retrying cannot help.

use crate::hash::{request_digest, Algorithm, Ha1, QopParts};
use crate::header::{parse_credentials, AuthValue, Challenge, Credentials};
use crate::nonce::{NonceConfig, NonceError, Nonces};
use sb_sip_msg::{Header, Method, OtherHeader, Request, StatusCode, Uri};

/// Who is asking for credentials; decides the status code and header names (§22.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthRole {
    /// A registrar or other UAS: 401, `WWW-Authenticate`, `Authorization`.
    Registrar,
    /// A proxy: 407, `Proxy-Authenticate`, `Proxy-Authorization`.
    Proxy,
}

impl AuthRole {
    /// The role for a request reaching the front end: the registrar challenges REGISTER
    /// with 401; everything else from our users goes through the proxy, which uses 407
    /// (RFC 3261 §22.3).
    pub fn for_method(method: &Method) -> AuthRole {
        match method {
            Method::Register => AuthRole::Registrar,
            _ => AuthRole::Proxy,
        }
    }

    pub fn challenge_status(self) -> StatusCode {
        match self {
            AuthRole::Registrar => StatusCode(401),
            AuthRole::Proxy => StatusCode(407),
        }
    }

    pub fn challenge_header(self) -> &'static str {
        match self {
            AuthRole::Registrar => "WWW-Authenticate",
            AuthRole::Proxy => "Proxy-Authenticate",
        }
    }

    pub fn credentials_header(self) -> &'static str {
        match self {
            AuthRole::Registrar => "Authorization",
            AuthRole::Proxy => "Proxy-Authorization",
        }
    }
}

/// Why credentials were refused outright (403) rather than challenged again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ForbiddenReason {
    #[error("malformed credentials: {0}")]
    Malformed(String),
    #[error("credentials for another realm")]
    RealmMismatch,
    /// The digest `uri` is not the Request-URI (RFC 2617 §3.2.2.5).
    #[error("credentials for another URI")]
    UriMismatch,
    #[error("unsupported digest algorithm")]
    UnsupportedAlgorithm,
    #[error("unsupported qop")]
    UnsupportedQop,
    /// The legacy form without qop, when the configuration refuses it.
    #[error("qop required")]
    QopRequired,
}

/// The verdict on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The credentials are good; `user` is the digest username.
    Authorized { user: String },
    /// Answer 401/407 with fresh challenges. `stale` is true when the password was right
    /// but the nonce expired or its count was replayed (RFC 2617 §3.2.1): the client
    /// retries with the new nonce without asking its user.
    Challenge { stale: bool },
    /// Answer 403: retrying with the same configuration cannot succeed.
    Forbidden { reason: ForbiddenReason },
}

impl Outcome {
    /// The status to answer with: `None` when authorized, 401 or 407 for a challenge
    /// (by role), 403 when forbidden.
    pub fn status(&self, role: AuthRole) -> Option<StatusCode> {
        match self {
            Outcome::Authorized { .. } => None,
            Outcome::Challenge { .. } => Some(role.challenge_status()),
            Outcome::Forbidden { .. } => Some(StatusCode(403)),
        }
    }
}

/// The first step's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Look up the HA1 for `(credentials.username, credentials.realm, algorithm)` and call
    /// [`DigestAuth::verify`].
    NeedHa1 {
        credentials: Box<Credentials>,
        algorithm: Algorithm,
    },
    /// No lookup needed: this is the answer.
    Done(Outcome),
}

/// Authentication settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The realm we challenge with (RFC 3261 §22.1: usually the domain).
    pub realm: String,
    /// Algorithms offered, one challenge each, in order of preference. RFC 8760 §2.4:
    /// the strongest first, MD5 last for older clients.
    pub algorithms: Vec<Algorithm>,
    /// Accept the RFC 2069 form without qop (RFC 3261 §22.4 keeps it for compatibility).
    /// It cannot be protected against replay within the nonce lifetime.
    pub allow_no_qop: bool,
    pub nonces: NonceConfig,
}

impl AuthConfig {
    pub fn new(realm: impl Into<String>) -> AuthConfig {
        AuthConfig {
            realm: realm.into(),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            allow_no_qop: true,
            nonces: NonceConfig::default(),
        }
    }
}

/// A configuration that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthConfigError {
    #[error("realm is empty or contains '\"' or a line break")]
    BadRealm,
    #[error("no digest algorithm offered")]
    NoAlgorithm,
    #[error("nonce lifetime must be at least one second")]
    NoLifetime,
}

impl AuthConfig {
    /// Checks the settings before use: clients could never authenticate against an empty
    /// algorithm list or a zero nonce lifetime.
    pub fn validate(&self) -> Result<(), AuthConfigError> {
        let r = &self.realm;
        if r.is_empty() || r.contains(['"', '\r', '\n']) {
            return Err(AuthConfigError::BadRealm);
        }
        if self.algorithms.is_empty() {
            return Err(AuthConfigError::NoAlgorithm);
        }
        if self.nonces.lifetime_secs == 0 {
            return Err(AuthConfigError::NoLifetime);
        }
        Ok(())
    }
}

/// Digest authentication for one realm. Sans-IO: time (Unix seconds) is an argument.
#[derive(Debug)]
pub struct DigestAuth {
    config: AuthConfig,
    nonces: Nonces,
    opaque: String,
}

impl DigestAuth {
    /// `secret` signs nonces (share it among front ends); `seed` differs per process;
    /// `now` is Unix seconds.
    pub fn new(config: AuthConfig, secret: &[u8], seed: u64, now: u64) -> DigestAuth {
        let nonces = Nonces::new(config.nonces.clone(), secret, seed, now);
        let opaque = crate::hash::to_hex(&nonces.derive(b"opaque", &[])[..8]);
        DigestAuth {
            config,
            nonces,
            opaque,
        }
    }

    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Nonces whose counts are tracked (a gauge for metrics).
    pub fn tracked_nonces(&self) -> usize {
        self.nonces.tracked()
    }

    /// One challenge per configured algorithm, sharing one fresh nonce.
    pub fn challenges(&mut self, now: u64, stale: bool) -> Vec<Challenge> {
        let nonce = self.nonces.issue(now);
        self.config
            .algorithms
            .iter()
            .map(|a| Challenge {
                realm: self.config.realm.clone(),
                nonce: nonce.clone(),
                opaque: Some(self.opaque.clone()),
                algorithm: Some(a.as_str().to_string()),
                qop: vec!["auth".to_string()],
                stale,
                domain: None,
                other: Vec::new(),
            })
            .collect()
    }

    /// The challenge headers to add to a 401/407 (one per algorithm, RFC 8760 §2.4).
    pub fn challenge_headers(&mut self, now: u64, role: AuthRole, stale: bool) -> Vec<Header> {
        self.challenges(now, stale)
            .into_iter()
            .map(|c| {
                Header::Other(OtherHeader {
                    name: role.challenge_header().to_string(),
                    value: format!(" {c}"),
                })
            })
            .collect()
    }

    /// Step 1: find our digest credentials in the request (RFC 3261 §22.4: the one whose
    /// realm is ours; other schemes and other realms are ignored, RFC 4475 `regaut01`).
    pub fn start(&self, req: &Request, role: AuthRole) -> Step {
        let mut first_error = None;
        let mut other_realm = false;
        for value in req.headers.other(role.credentials_header()) {
            match parse_credentials(value) {
                Ok(AuthValue::Digest(c)) if c.realm == self.config.realm => {
                    return self.check_shape(c, &req.uri);
                }
                Ok(AuthValue::Digest(_)) => other_realm = true,
                Ok(AuthValue::Other { .. }) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        // Malformed credentials that might have been ours: say so rather than challenge
        // forever. A proxy ignores credentials for other realms (they are for a proxy
        // further on, §22.3) and challenges for its own; a registrar is the last hop, so
        // digest credentials for another realm mean a misconfigured client, and a new
        // challenge would only loop.
        let reason = match (first_error, other_realm, role) {
            (Some(e), _, _) => ForbiddenReason::Malformed(e.to_string()),
            (None, true, AuthRole::Registrar) => ForbiddenReason::RealmMismatch,
            _ => return Step::Done(Outcome::Challenge { stale: false }),
        };
        Step::Done(Outcome::Forbidden { reason })
    }

    fn check_shape(&self, c: Credentials, req_uri: &Uri) -> Step {
        let forbid = |reason| Step::Done(Outcome::Forbidden { reason });
        let Some(algorithm) = c.algorithm() else {
            return forbid(ForbiddenReason::UnsupportedAlgorithm);
        };
        if !self.config.algorithms.contains(&algorithm) {
            return forbid(ForbiddenReason::UnsupportedAlgorithm);
        }
        match c.qop.as_deref() {
            Some(q) if !q.eq_ignore_ascii_case("auth") => {
                return forbid(ForbiddenReason::UnsupportedQop)
            }
            None if !self.config.allow_no_qop => return forbid(ForbiddenReason::QopRequired),
            _ => {}
        }
        if !uri_matches(&c.uri, req_uri) {
            return forbid(ForbiddenReason::UriMismatch);
        }
        Step::NeedHa1 {
            credentials: Box::new(c),
            algorithm,
        }
    }

    /// A stand-in HA1 for a user that does not exist: derived from the secret and the
    /// name, so it is stable per name (the same answer every time) and unguessable (it
    /// never matches).
    pub fn dummy_ha1(&self, username: &str, realm: &str, algorithm: Algorithm) -> Ha1 {
        let k = self.nonces.derive(
            b"dummy-ha1",
            &[
                algorithm.as_str().as_bytes(),
                username.as_bytes(),
                realm.as_bytes(),
            ],
        );
        let hex = crate::hash::to_hex(&k);
        Ha1::from_parts(algorithm, hex[..algorithm.hex_len()].to_string())
    }

    /// Step 2: check the response against `ha1` (RFC 2617 §3.2.2.1), in constant time,
    /// then the nonce and its count. A wrong response is a plain challenge whatever the
    /// nonce; a right response with an expired or replayed nonce is `stale=true`.
    pub fn verify(
        &mut self,
        now: u64,
        method: &Method,
        credentials: &Credentials,
        ha1: &Ha1,
    ) -> Outcome {
        let c = credentials;
        if c.algorithm() != Some(ha1.algorithm()) {
            // The caller looked up the wrong HA1; treat it like a wrong password.
            return Outcome::Challenge { stale: false };
        }
        let qop = match (&c.qop, &c.nc, &c.cnonce) {
            (Some(qop), Some(nc), Some(cnonce)) => Some(QopParts { qop, nc, cnonce }),
            _ => None,
        };
        let expected = request_digest(ha1, &c.nonce, qop, method.as_str(), &c.uri);
        let given = c.response.to_ascii_lowercase();
        let same: bool =
            subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), given.as_bytes()).into();
        if !same {
            return Outcome::Challenge { stale: false };
        }
        let nc = if qop.is_some() { c.nc_value() } else { None };
        match self.nonces.accept(&c.nonce, nc, now) {
            Ok(()) => Outcome::Authorized {
                user: c.username.clone(),
            },
            Err(NonceError::Forged) => Outcome::Challenge { stale: false },
            // A replayed count with the right password is a replay or a client that
            // reordered its requests; a fresh nonce (stale) lets the honest one recover
            // and gives a replayer nothing.
            Err(NonceError::Stale | NonceError::Replayed) => Outcome::Challenge { stale: true },
        }
    }
}

/// RFC 2617 §3.2.2.5: the digest-uri must name the Request-URI. Compared as text
/// (hosts and schemes case-insensitively, via an ASCII case-insensitive compare), since
/// the client computed the digest over the text it sent.
fn uri_matches(digest_uri: &str, req_uri: &Uri) -> bool {
    let ours = req_uri.to_string();
    digest_uri == ours || digest_uri.eq_ignore_ascii_case(&ours)
}
