//! The stored data: domains, users, digest credentials, numbers and registrar bindings,
//! plus placeholders (call records, presence) that later work fills in.
//!
//! Identifiers are newtypes that can only hold a valid value: parsing one is the
//! validation, so a `User` in memory is always storable.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::validate;

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = StoreError;
            fn try_from(s: String) -> Result<Self> {
                $name::parse(&s)
            }
        }

        impl std::str::FromStr for $name {
            type Err = StoreError;
            fn from_str(s: &str) -> Result<Self> {
                $name::parse(s)
            }
        }
    };
}

string_newtype!(
    /// A domain this server is responsible for, lower-cased (`example.com`).
    DomainName
);

impl DomainName {
    /// Validates and lower-cases a domain name; host names are case-insensitive
    /// (RFC 4343 §3).
    pub fn parse(s: &str) -> Result<Self> {
        let lower = s.trim().to_ascii_lowercase();
        validate::domain(&lower).map_err(|r| StoreError::invalid("domain", r))?;
        Ok(DomainName(lower))
    }
}

string_newtype!(
    /// A person's SIP address, which is also the address of record of their bindings:
    /// `sip:alice@example.com`. Scheme and host are lower-cased; the user part keeps its
    /// case because RFC 3261 §19.1.4 compares it case-sensitively.
    SipAddress
);

impl SipAddress {
    /// Validates `sip:user@host` (or `sips:`): no parameters, headers or port, because an
    /// address of record names a person at a domain, not a device.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        let invalid = |r: String| StoreError::invalid("sip address", format!("{s:?}: {r}"));
        let (scheme, rest) = s
            .split_once(':')
            .ok_or_else(|| invalid("missing the sip: scheme".into()))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "sip" && scheme != "sips" {
            return Err(invalid(format!("scheme {scheme:?} is not sip or sips")));
        }
        // The user part may contain ';' and '?' (user-unreserved), the host may not, so
        // the last '@' separates them.
        let (user, host) = rest
            .rsplit_once('@')
            .ok_or_else(|| invalid("missing '@' between user and domain".into()))?;
        validate::sip_user(user).map_err(invalid)?;
        let host = host.to_ascii_lowercase();
        validate::sip_host(&host).map_err(invalid)?;
        Ok(SipAddress(format!("{scheme}:{user}@{host}")))
    }

    /// The user part (`alice`).
    pub fn user(&self) -> &str {
        let rest = self.rest();
        rest.rsplit_once('@').map_or(rest, |(u, _)| u)
    }

    /// The host part (`example.com`), which names the user's domain.
    pub fn host(&self) -> &str {
        self.rest().rsplit_once('@').map_or("", |(_, h)| h)
    }

    fn rest(&self) -> &str {
        self.0.split_once(':').map_or("", |(_, r)| r)
    }
}

string_newtype!(
    /// A telephone number in E.164 global form: `+14255550100`.
    E164
);

impl E164 {
    /// Validates `+` followed by 1 to 15 digits.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        validate::e164(s).map_err(|r| StoreError::invalid("number", r))?;
        Ok(E164(s.to_owned()))
    }
}

/// A user's line URI (RFC 3966): a number and an optional extension,
/// `tel:+14255550100;ext=100`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LineUri {
    /// The E.164 number.
    pub number: E164,
    /// The extension behind that number (digits only), if any.
    pub extension: Option<String>,
}

impl LineUri {
    /// Parses `tel:+NUMBER` with an optional `;ext=DIGITS` (RFC 3966 §3); no other
    /// parameters are accepted, so what is stored is what routing will match.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        let invalid = |r: String| StoreError::invalid("line uri", format!("{s:?}: {r}"));
        let rest = s
            .get(..4)
            .filter(|p| p.eq_ignore_ascii_case("tel:"))
            .map(|_| &s[4..])
            .ok_or_else(|| invalid("does not start with tel:".into()))?;
        let mut parts = rest.split(';');
        let number = parts.next().unwrap_or_default();
        validate::e164(number).map_err(invalid)?;
        let mut extension = None;
        for param in parts {
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            if !name.eq_ignore_ascii_case("ext") {
                return Err(invalid(format!("parameter {name:?} is not supported")));
            }
            if extension.is_some() {
                return Err(invalid("ext given twice".into()));
            }
            validate::extension(value).map_err(|r| invalid(format!("extension: {r}")))?;
            extension = Some(value.to_owned());
        }
        Ok(LineUri {
            number: E164(number.to_owned()),
            extension,
        })
    }
}

impl fmt::Display for LineUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tel:{}", self.number)?;
        if let Some(ext) = &self.extension {
            write!(f, ";ext={ext}")?;
        }
        Ok(())
    }
}

impl From<LineUri> for String {
    fn from(v: LineUri) -> String {
        v.to_string()
    }
}

impl TryFrom<String> for LineUri {
    type Error = StoreError;
    fn try_from(s: String) -> Result<Self> {
        LineUri::parse(&s)
    }
}

impl std::str::FromStr for LineUri {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        LineUri::parse(s)
    }
}

/// A SIP domain served here. Users belong to one; a domain with users cannot be removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    /// The domain name.
    pub name: DomainName,
}

/// Small per-user settings for later features (dial plan, voicemail, call forwarding),
/// kept as name → value so the site file and the CLI can set them without a migration.
pub type Policies = BTreeMap<String, String>;

/// Longest display name accepted.
pub const DISPLAY_NAME_MAX: usize = 256;

/// One identity per person: every device they sign in on registers against `address`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The SIP address (the key); its host must be a provisioned domain.
    pub address: SipAddress,
    /// The name shown to callees; may be empty.
    #[serde(default)]
    pub display_name: String,
    /// The user's phone number, unique among users. Without an extension it is the
    /// user's own number and is assigned to them; with one it hangs off a shared main
    /// number that stays unassigned (or belongs to whoever it was given to).
    #[serde(default)]
    pub line_uri: Option<LineUri>,
    /// A disabled user keeps their data but may not register or call.
    #[serde(default = "enabled_default")]
    pub enabled: bool,
    /// Per-user settings.
    #[serde(default)]
    pub policies: Policies,
}

fn enabled_default() -> bool {
    true
}

impl User {
    /// An enabled user with no display name, number or policies.
    pub fn new(address: SipAddress) -> Self {
        User {
            address,
            display_name: String::new(),
            line_uri: None,
            enabled: true,
            policies: Policies::new(),
        }
    }

    /// Checks the fields the types do not already guarantee.
    pub fn validate(&self) -> Result<()> {
        validate::text(&self.display_name, DISPLAY_NAME_MAX)
            .map_err(|r| StoreError::invalid("display name", r))?;
        for (name, value) in &self.policies {
            validate::token(name, 64).map_err(|r| StoreError::invalid("policy name", r))?;
            validate::text(value, 1024)
                .map_err(|r| StoreError::invalid("policy value", format!("{name}: {r}")))?;
        }
        Ok(())
    }
}

/// Digest algorithms a credential can be stored for (RFC 8760 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DigestAlgorithm {
    /// `MD5` (RFC 2617), for older clients.
    #[serde(rename = "MD5")]
    Md5,
    /// `SHA-256` (RFC 8760).
    #[serde(rename = "SHA-256")]
    Sha256,
}

impl DigestAlgorithm {
    /// The name as it appears in a challenge's `algorithm` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Sha256 => "SHA-256",
        }
    }

    /// Hex digits in an HA1 of this algorithm.
    pub fn hex_len(self) -> usize {
        match self {
            DigestAlgorithm::Md5 => 32,
            DigestAlgorithm::Sha256 => 64,
        }
    }

    /// Parses an algorithm name, case-insensitively.
    pub fn parse(s: &str) -> Result<Self> {
        if s.eq_ignore_ascii_case("MD5") {
            Ok(DigestAlgorithm::Md5)
        } else if s.eq_ignore_ascii_case("SHA-256") {
            Ok(DigestAlgorithm::Sha256)
        } else {
            Err(StoreError::invalid(
                "algorithm",
                format!("{s:?} is not MD5 or SHA-256"),
            ))
        }
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A digest credential: HA1 = H(username ":" realm ":" password) (RFC 8760 §3.4.2), never
/// the password itself. The digest username is the user part of `user`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// Whose credential this is.
    pub user: SipAddress,
    /// The realm the HA1 was computed for.
    pub realm: String,
    /// The hash function of `ha1`.
    pub algorithm: DigestAlgorithm,
    /// HA1 in lower-case hex.
    pub ha1: String,
}

impl Credential {
    /// Checks the realm and that `ha1` is hex of the algorithm's length; lower-cases it.
    pub fn normalized(mut self) -> Result<Self> {
        if self.realm.is_empty() {
            return Err(StoreError::invalid("realm", "empty"));
        }
        validate::text(&self.realm, 256).map_err(|r| StoreError::invalid("realm", r))?;
        if self.realm.contains('"') {
            return Err(StoreError::invalid("realm", "contains '\"'"));
        }
        let want = self.algorithm.hex_len();
        if self.ha1.len() != want || !self.ha1.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::invalid(
                "ha1",
                format!("{} HA1 must be {want} hex digits", self.algorithm),
            ));
        }
        self.ha1.make_ascii_lowercase();
        Ok(self)
    }
}

/// A telephone number and the one user it reaches (reverse number lookup).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Number {
    /// The number.
    pub number: E164,
    /// The user it belongs to.
    pub user: SipAddress,
}

/// Longest Contact URI, Path entry or Call-ID stored.
pub const URI_MAX: usize = 2048;

/// One registered contact of an address of record (RFC 3261 §10.3), with what RFC 5626
/// needs to recognise the same device re-registering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The address of record.
    pub aor: SipAddress,
    /// What identifies the binding within its AOR, chosen by the registrar (which owns
    /// the rules for when two Contacts are the same binding); [`Binding::default_key`]
    /// gives the usual choice. Storing a binding replaces the one with the same key.
    pub key: String,
    /// The Contact as the registrar lists it (it may carry a display name and
    /// parameters).
    pub contact: String,
    /// The Contact's q-value in thousandths (0..=1000); RFC 3261 §20.10 allows at most
    /// three decimals, so this is exact. `None` when the client sent none.
    pub q: Option<u16>,
    /// When the binding expires, in Unix seconds.
    pub expires_at: i64,
    /// Call-ID of the REGISTER that last wrote the binding (RFC 3261 §10.3 step 7).
    pub call_id: String,
    /// CSeq number of that REGISTER.
    pub cseq: u32,
    /// `+sip.instance` (RFC 5626 §4.1), e.g. `<urn:uuid:...>`.
    pub instance_id: Option<String>,
    /// `reg-id` (RFC 5626 §4.2).
    pub reg_id: Option<u32>,
    /// Transport the REGISTER came over (`udp`, `tcp`, `tls`, `ws`, `wss`).
    pub transport: String,
    /// Source address of the REGISTER, `ip:port`.
    pub source: String,
    /// The `received` address when it differs from the Contact (RFC 3581, RFC 5626 §5).
    pub received: Option<String>,
    /// Path header values (RFC 3327), in order.
    pub path: Vec<String>,
    /// When the binding was last written, in Unix seconds.
    pub updated_at: i64,
}

impl Binding {
    /// The usual key: the instance and reg-id when the device sent them (RFC 5626 §6,
    /// RFC 5627 §4), otherwise the Contact URI (compared as text, so pass it in a
    /// canonical form). A device that re-registers from a new address then replaces its
    /// old binding instead of piling up stale ones.
    pub fn default_key(
        contact_uri: &str,
        instance_id: Option<&str>,
        reg_id: Option<u32>,
    ) -> String {
        match (instance_id, reg_id) {
            (Some(instance), Some(reg_id)) => format!("instance:{instance};reg-id={reg_id}"),
            (Some(instance), None) => format!("instance:{instance}"),
            (None, _) => format!("contact:{contact_uri}"),
        }
    }

    /// Checks the fields a peer sent.
    pub fn validate(&self) -> Result<()> {
        let tok = |field: &'static str, v: &str| {
            validate::token(v, URI_MAX).map_err(|r| StoreError::invalid(field, r))
        };
        let text = |field: &'static str, v: &str| {
            if v.is_empty() {
                return Err(StoreError::invalid(field, "empty"));
            }
            validate::text(v, URI_MAX).map_err(|r| StoreError::invalid(field, r))
        };
        text("key", &self.key)?;
        text("contact", &self.contact)?;
        tok("call-id", &self.call_id)?;
        tok("transport", &self.transport)?;
        tok("source", &self.source)?;
        if let Some(i) = &self.instance_id {
            tok("instance id", i)?;
        }
        if let Some(r) = &self.received {
            tok("received", r)?;
        }
        for p in &self.path {
            validate::text(p, URI_MAX).map_err(|r| StoreError::invalid("path", r))?;
        }
        if self.q.is_some_and(|q| q > 1000) {
            return Err(StoreError::invalid("q", "above 1.000"));
        }
        Ok(())
    }
}

/// A finished or running call, for the call-record table (filled in by later work).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Row id.
    pub id: i64,
    /// Call-ID of the caller's leg.
    pub call_id: String,
    /// Who called (SIP or tel URI).
    pub caller: String,
    /// Who was called.
    pub callee: String,
    /// Unix seconds.
    pub started_at: i64,
    /// Unix seconds, when answered.
    pub answered_at: Option<i64>,
    /// Unix seconds, when ended.
    pub ended_at: Option<i64>,
    /// How the call ended (`answered`, `busy`, `no-answer`, a status code...).
    pub disposition: String,
}

/// Keyset paging over users in address order: robust against rows added while a client
/// pages through.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// Only users in this domain, when set.
    pub domain: Option<DomainName>,
    /// Start after this address (the last one of the previous page).
    pub after: Option<SipAddress>,
    /// At most this many users; 0 means none.
    pub limit: u32,
}

impl Page {
    /// The first page of `limit` users.
    pub fn first(limit: u32) -> Self {
        Page {
            domain: None,
            after: None,
            limit,
        }
    }

    /// The page that follows the given list, which was returned for `self`.
    pub fn next(&self, previous: &[User]) -> Self {
        Page {
            domain: self.domain.clone(),
            after: previous
                .last()
                .map(|u| u.address.clone())
                .or(self.after.clone()),
            limit: self.limit,
        }
    }
}

/// One provisioning write, for [`Store::apply_batch`](crate::Store::apply_batch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Change {
    /// Add a domain; refused if it exists.
    AddDomain(Domain),
    /// Remove a domain; refused while it has users.
    RemoveDomain(DomainName),
    /// Add a user; refused if the address exists or the line number is taken.
    AddUser(User),
    /// Replace an existing user's fields; refused if there is no such user.
    UpdateUser(User),
    /// Add the user, or replace it if it exists (what an importer wants).
    PutUser(User),
    /// Remove a user with their credentials, numbers and bindings.
    RemoveUser(SipAddress),
    /// Store or replace the credential for (user, realm, algorithm).
    SetCredential(Credential),
    /// Give a number to a user; refused if another user holds it.
    AssignNumber(Number),
    /// Take a number away from whoever holds it.
    UnassignNumber(E164),
    /// Set a user's manual presence state (replacing the previous one).
    SetManualPresence(crate::presence::ManualPresence),
    /// Clear a user's manual presence state.
    ClearManualPresence(SipAddress),
    /// Place a watcher at a level for an owner (replacing the rule for that watcher).
    SetAccessRule(crate::presence::AccessRule),
    /// Remove the owner's rule for a watcher; refused if there is none.
    RemoveAccessRule(SipAddress, crate::presence::Watcher),
    /// Replace all of an owner's access rules (the site file's `access` table).
    ReplaceAccessRules(SipAddress, Vec<crate::presence::AccessRule>),
    /// Replace an owner's contact list with these members, in order.
    SetContactList(SipAddress, Vec<SipAddress>),
    /// Set (a path or an http(s) URL) or, with `None`, clear a user's calendar source.
    SetCalendar(SipAddress, Option<String>),
}

/// What one [`Change`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// A new row.
    Added,
    /// An existing row now has other values.
    Changed,
    /// The row already had these values.
    Unchanged,
    /// A row was removed.
    Removed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_address_normalizes_scheme_and_host_but_not_user() {
        let a = SipAddress::parse("SIP:Alice@Example.COM").unwrap();
        assert_eq!(a.as_str(), "sip:Alice@example.com");
        assert_eq!(a.user(), "Alice");
        assert_eq!(a.host(), "example.com");
        let b = SipAddress::parse("sips:+14255550100@[2001:db8::1]").unwrap();
        assert_eq!(b.host(), "[2001:db8::1]");
    }

    #[test]
    fn sip_address_errors_name_the_field() {
        for bad in [
            "alice@example.com",
            "tel:+1425",
            "sip:example.com",
            "sip:@example.com",
            "sip:alice@example.com:5060",
            "sip:al ice@example.com",
        ] {
            let e = SipAddress::parse(bad).unwrap_err();
            assert!(
                e.to_string().starts_with("invalid sip address: "),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn line_uri_round_trips_and_refuses_bad_numbers() {
        let l = LineUri::parse("TEL:+14255550100;EXT=100").unwrap();
        assert_eq!(l.number.as_str(), "+14255550100");
        assert_eq!(l.extension.as_deref(), Some("100"));
        assert_eq!(l.to_string(), "tel:+14255550100;ext=100");
        assert_eq!(LineUri::parse(&l.to_string()).unwrap(), l);
        let e = LineUri::parse("tel:4255550100").unwrap_err().to_string();
        assert!(e.contains("line uri") && e.contains("'+'"), "{e}");
        assert!(LineUri::parse("tel:+1425;ext=1a").is_err());
        assert!(LineUri::parse("tel:+1425;phone-context=x").is_err());
    }

    #[test]
    fn credential_checks_ha1_length_for_its_algorithm() {
        let user = SipAddress::parse("sip:alice@example.com").unwrap();
        let c = Credential {
            user,
            realm: "example.com".into(),
            algorithm: DigestAlgorithm::Sha256,
            ha1: "AB".repeat(16),
        };
        let e = c.clone().normalized().unwrap_err().to_string();
        assert!(e.contains("ha1") && e.contains("64"), "{e}");
        let md5 = Credential {
            algorithm: DigestAlgorithm::Md5,
            ..c
        };
        assert_eq!(md5.normalized().unwrap().ha1, "ab".repeat(16));
    }

    #[test]
    fn default_binding_key_prefers_instance_and_reg_id() {
        let uri = "sip:alice@192.0.2.1:5060";
        assert_eq!(
            Binding::default_key(uri, None, None),
            format!("contact:{uri}")
        );
        assert_eq!(
            Binding::default_key(uri, None, Some(1)),
            format!("contact:{uri}")
        );
        assert_eq!(
            Binding::default_key(uri, Some("<urn:uuid:1>"), None),
            "instance:<urn:uuid:1>"
        );
        assert_eq!(
            Binding::default_key(uri, Some("<urn:uuid:1>"), Some(2)),
            "instance:<urn:uuid:1>;reg-id=2"
        );
    }

    #[test]
    fn user_deserializes_with_validation() {
        let u: User = serde_json::from_str(
            r#"{"address":"sip:bob@example.com","line_uri":"tel:+14255550101"}"#,
        )
        .unwrap();
        assert!(u.enabled);
        assert_eq!(u.line_uri.unwrap().number.as_str(), "+14255550101");
        let bad = serde_json::from_str::<User>(r#"{"address":"bob"}"#).unwrap_err();
        assert!(bad.to_string().contains("sip address"), "{bad}");
    }
}
