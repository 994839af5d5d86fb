//! One user as the site file, the CLI and the CSV importer describe it: fields given as
//! text, checked one by one so a refusal names the field, then merged over what the store
//! already holds (fields not given keep their stored value).

use std::collections::BTreeMap;
use std::fmt;

use sb_sip_auth::{Algorithm, Ha1};
use sb_store::{Change, Credential, DigestAlgorithm, LineUri, SipAddress, StoreError, User};

/// Longest password accepted; digest clients send it hashed, so length is only a sanity
/// bound on input.
const PASSWORD_MAX: usize = 1024;

/// A refused field: which one and why. Callers put where it came from in front
/// (`site.users[3]`, `line 57`, `--number`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field as the input spells it (`address`, `number`, `line_uri`, `password`).
    pub field: &'static str,
    /// Why, with the offending value.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field,
            message: message.into(),
        }
    }
}

/// The store's reason for refusing a value, without the value when the reason already
/// starts with it.
fn reason(e: StoreError, value: &str) -> String {
    let r = match e {
        StoreError::Invalid { reason, .. } => reason,
        other => other.to_string(),
    };
    let quoted = format!("{value:?}: ");
    r.strip_prefix(&quoted).map(str::to_owned).unwrap_or(r)
}

pub fn parse_address(field: &'static str, s: &str) -> Result<SipAddress, FieldError> {
    SipAddress::parse(s).map_err(|e| {
        FieldError::new(
            field,
            format!(
                "{s:?} is not a SIP address like sip:alice@example.com: {}",
                reason(e, s.trim())
            ),
        )
    })
}

/// A number in E.164 form becomes the line URI `tel:NUMBER`, which makes it the user's
/// own number.
pub fn parse_number(field: &'static str, s: &str) -> Result<LineUri, FieldError> {
    sb_store::E164::parse(s)
        .map(|number| LineUri {
            number,
            extension: None,
        })
        .map_err(|e| {
            FieldError::new(
                field,
                format!(
                    "{s:?} is not E.164 (+ and up to 15 digits): {}",
                    reason(e, s.trim())
                ),
            )
        })
}

pub fn parse_line_uri(field: &'static str, s: &str) -> Result<LineUri, FieldError> {
    LineUri::parse(s).map_err(|e| {
        FieldError::new(
            field,
            format!(
                "{s:?} is not a line URI like tel:+14255550100;ext=100: {}",
                reason(e, s.trim())
            ),
        )
    })
}

pub fn check_name(field: &'static str, s: &str) -> Result<String, FieldError> {
    let mut u = User::new(SipAddress::parse("sip:x@x").expect("a valid address"));
    u.display_name = s.to_owned();
    u.validate()
        .map_err(|e| FieldError::new(field, reason(e, s)))?;
    Ok(s.to_owned())
}

pub fn check_password(field: &'static str, s: &str) -> Result<String, FieldError> {
    if s.is_empty() {
        return Err(FieldError::new(field, "empty"));
    }
    if s.chars().count() > PASSWORD_MAX {
        return Err(FieldError::new(
            field,
            format!("longer than {PASSWORD_MAX} characters"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(FieldError::new(field, "contains a control character"));
    }
    Ok(s.to_owned())
}

/// How a user's digest credentials are given.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// A password, hashed on apply and then dropped.
    Password(String),
    /// HA1 values computed elsewhere, for the realm of the user's domain.
    Ha1 {
        md5: Option<String>,
        sha256: Option<String>,
    },
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Secret::Password(_) => "Password(<redacted>)",
            Secret::Ha1 { .. } => "Ha1(<redacted>)",
        })
    }
}

/// The digest realms a user's credentials are stored for: their domain (RFC 3261 §22.1
/// recommends the realm name the domain, and the server challenges with it), plus the
/// fixed realm of `[auth] realm` when one is configured, so both setups authenticate.
pub fn realms_for(address: &SipAddress, fixed: Option<&str>) -> Vec<String> {
    let mut realms = vec![address.host().to_owned()];
    if let Some(f) = fixed.filter(|f| *f != address.host()) {
        realms.push(f.to_owned());
    }
    realms
}

/// The credentials to store for `address`: one HA1 per algorithm and realm, with the user
/// part as the digest username. A password is hashed for every realm of [`realms_for`];
/// pre-hashed values were made for one realm, the fixed one if configured, else the
/// domain.
pub fn credentials(
    address: &SipAddress,
    secret: &Secret,
    fixed_realm: Option<&str>,
) -> Result<Vec<Credential>, FieldError> {
    let make = |realm: &str, algorithm, ha1: String| Credential {
        user: address.clone(),
        realm: realm.to_owned(),
        algorithm,
        ha1,
    };
    match secret {
        Secret::Password(p) => Ok(realms_for(address, fixed_realm)
            .iter()
            .flat_map(|realm| {
                [
                    (DigestAlgorithm::Md5, Algorithm::Md5),
                    (DigestAlgorithm::Sha256, Algorithm::Sha256),
                ]
                .map(|(stored, alg)| {
                    let ha1 = Ha1::compute(alg, address.user(), realm, p);
                    make(realm, stored, ha1.as_hex().to_owned())
                })
            })
            .collect()),
        Secret::Ha1 { md5, sha256 } => {
            let realm = fixed_realm.unwrap_or(address.host());
            let mut out = Vec::new();
            for (field, algorithm, alg, value) in [
                ("ha1_md5", DigestAlgorithm::Md5, Algorithm::Md5, md5),
                (
                    "ha1_sha256",
                    DigestAlgorithm::Sha256,
                    Algorithm::Sha256,
                    sha256,
                ),
            ] {
                if let Some(v) = value {
                    let ha1 =
                        Ha1::from_hex(alg, v).map_err(|e| FieldError::new(field, e.to_string()))?;
                    out.push(make(realm, algorithm, ha1.as_hex().to_owned()));
                }
            }
            if out.is_empty() {
                return Err(FieldError::new(
                    "ha1_md5",
                    "neither ha1_md5 nor ha1_sha256 is given",
                ));
            }
            Ok(out)
        }
    }
}

/// One user to create or update. `None` fields keep what the store holds (or the default
/// for a new user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    pub address: SipAddress,
    pub name: Option<String>,
    pub secret: Option<Secret>,
    /// `Some(None)` removes the line URI.
    pub line_uri: Option<Option<LineUri>>,
    pub enabled: Option<bool>,
    /// Rules to set (`Some`) or clear (`None`), by setting name; other policies stay.
    pub rules: BTreeMap<&'static str, Option<String>>,
    /// Clear every rule not in `rules` first (the site file lists a user's rules in full).
    pub replace_rules: bool,
}

impl UserSpec {
    pub fn new(address: SipAddress) -> Self {
        UserSpec {
            address,
            name: None,
            secret: None,
            line_uri: None,
            enabled: None,
            rules: BTreeMap::new(),
            replace_rules: false,
        }
    }

    /// Whether the rules change at all (then they are checked before writing).
    pub fn touches_rules(&self) -> bool {
        self.replace_rules || !self.rules.is_empty()
    }

    /// The user as it will be stored: `existing` with the given fields replaced.
    pub fn merge(&self, existing: Option<&User>) -> User {
        let mut u = existing
            .cloned()
            .unwrap_or_else(|| User::new(self.address.clone()));
        if let Some(name) = &self.name {
            u.display_name = name.clone();
        }
        if let Some(line) = &self.line_uri {
            u.line_uri = line.clone();
        }
        if let Some(enabled) = self.enabled {
            u.enabled = enabled;
        }
        if self.replace_rules {
            u.policies
                .retain(|name, _| !crate::directory::RULE_NAMES.contains(&name.as_str()));
        }
        for (name, value) in &self.rules {
            match value {
                Some(v) => u.policies.insert((*name).to_owned(), v.clone()),
                None => u.policies.remove(*name),
            };
        }
        u
    }

    /// The changes that make the store hold this user: the user row, then its
    /// credentials (hashed here, so the password goes no further). `fixed_realm` is
    /// `[auth] realm`, if configured.
    pub fn changes(
        &self,
        existing: Option<&User>,
        fixed_realm: Option<&str>,
    ) -> Result<Vec<Change>, FieldError> {
        let mut out = vec![Change::PutUser(self.merge(existing))];
        if let Some(secret) = &self.secret {
            out.extend(
                credentials(&self.address, secret, fixed_realm)?
                    .into_iter()
                    .map(Change::SetCredential),
            );
        }
        Ok(out)
    }
}

/// The number a user's line URI claims (one without an extension), if any.
pub fn claimed_number(user: &User) -> Option<&sb_store::E164> {
    user.line_uri
        .as_ref()
        .filter(|l| l.extension.is_none())
        .map(|l| &l.number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_field_and_the_value() {
        let e = parse_number("number", "+1 425").unwrap_err();
        assert_eq!(e.field, "number");
        assert!(
            e.to_string().starts_with("number: \"+1 425\" is not E.164"),
            "{e}"
        );
        let e = parse_address("address", "alice@example.com").unwrap_err();
        assert!(e.to_string().contains("scheme"), "{e}");
        let e = parse_line_uri("line_uri", "tel:+1425;ext=x").unwrap_err();
        assert!(
            e.to_string().starts_with("line_uri: \"tel:+1425;ext=x\""),
            "{e}"
        );
        assert!(check_password("password", "").is_err());
    }

    #[test]
    fn a_password_becomes_ha1_for_the_domain_realm() {
        let a = parse_address("address", "sip:alice@example.com").unwrap();
        let creds = credentials(&a, &Secret::Password("secret".into()), None).unwrap();
        assert_eq!(creds.len(), 2);
        // MD5("alice:example.com:secret"), RFC 2617 §3.2.2.2.
        let md5 = Ha1::compute(Algorithm::Md5, "alice", "example.com", "secret");
        assert_eq!(creds[0].ha1, md5.as_hex());
        assert_eq!(creds[0].realm, "example.com");
        assert!(creds.iter().all(|c| !c.ha1.contains("secret")));
        assert_eq!(creds[1].ha1.len(), 64);
        // With `[auth] realm` set, the password also works for that realm.
        let both = credentials(&a, &Secret::Password("secret".into()), Some("corp")).unwrap();
        let realms: Vec<&str> = both.iter().map(|c| c.realm.as_str()).collect();
        assert_eq!(realms, ["example.com", "example.com", "corp", "corp"]);
        let corp = Ha1::compute(Algorithm::Md5, "alice", "corp", "secret");
        assert_eq!(both[2].ha1, corp.as_hex());
    }

    #[test]
    fn merge_keeps_fields_not_given() {
        let a = parse_address("address", "sip:bob@example.com").unwrap();
        let mut old = User::new(a.clone());
        old.display_name = "Bob".into();
        old.policies.insert("voicemail".into(), "on".into());
        let mut spec = UserSpec::new(a);
        spec.line_uri = Some(Some(parse_number("number", "+14255550100").unwrap()));
        let u = spec.merge(Some(&old));
        assert_eq!(u.display_name, "Bob");
        assert_eq!(u.policies.get("voicemail").map(String::as_str), Some("on"));
        assert_eq!(u.line_uri.unwrap().to_string(), "tel:+14255550100");
    }
}
