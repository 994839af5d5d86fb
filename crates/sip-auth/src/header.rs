//! Parsing and printing of the authentication header values (RFC 3261 §20.7, §20.27,
//! §20.28, §20.44, §25.1; RFC 2617 §3.2; RFC 7616 §3.3, §3.4).
//!
//! sb-sip-msg keeps these headers as [`sb_sip_msg::Header::Other`]; their values are parsed
//! here. The grammar is `scheme LWS auth-param *(COMMA auth-param)` with
//! `auth-param = token EQUAL (token / quoted-string)`. Parameters may come in any order,
//! quoted strings may carry quoted-pairs (`\"`, `\\`), and unknown parameters are kept so a
//! proxy could relay them. A scheme other than `Digest` is not an error: the value comes
//! back as [`AuthValue::Other`] (RFC 4475 §3.3.7 `regaut01`: a registrar ignores it and
//! challenges with a scheme it knows).

use crate::hash::Algorithm;
use std::fmt::{self, Display, Formatter, Write as _};

/// Longest header value we look at. Credentials are a few hundred bytes; anything far
/// larger is hostile and refused before any work is done on it.
pub const MAX_VALUE_LEN: usize = 8192;

/// Why an authentication header value could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthParseError {
    #[error("empty authentication header")]
    Empty,
    #[error("authentication header longer than {MAX_VALUE_LEN} bytes")]
    TooLong,
    #[error("bad character at byte {0}")]
    BadChar(usize),
    #[error("unterminated quoted string")]
    UnterminatedQuote,
    #[error("parameter {0} has no value")]
    MissingValue(String),
    #[error("parameter {0} appears twice")]
    Duplicate(String),
    #[error("digest parameter {0} is missing")]
    MissingParam(&'static str),
    #[error("digest parameter {0} is malformed")]
    BadParam(&'static str),
}

/// One `name=value` pair. `value` is unquoted (quoted-pairs resolved); `quoted` says how it
/// was written so it prints back the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthParam {
    pub name: String,
    pub value: String,
    pub quoted: bool,
}

/// A parsed header value: digest, or some other scheme kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthValue<T> {
    Digest(T),
    /// A scheme we do not implement (compared case-insensitively with `Digest`).
    Other {
        scheme: String,
        params: Vec<AuthParam>,
    },
}

/// A digest challenge: the value of `WWW-Authenticate` or `Proxy-Authenticate`
/// (RFC 3261 §20.44, §20.27; RFC 7616 §3.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    /// The algorithm token as written; absent means MD5 (RFC 2617 §3.2.1).
    pub algorithm: Option<String>,
    /// The qop options offered (`qop="auth,auth-int"` split on commas).
    pub qop: Vec<String>,
    pub stale: bool,
    pub domain: Option<String>,
    /// Parameters we do not interpret, in wire order.
    pub other: Vec<AuthParam>,
}

/// Digest credentials: the value of `Authorization` or `Proxy-Authorization`
/// (RFC 3261 §20.7, §20.28; RFC 7616 §3.4).
///
/// `nc`, `qop` and `cnonce` are kept as written, because the response is computed over
/// the exact text the client sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Option<String>,
    pub cnonce: Option<String>,
    pub opaque: Option<String>,
    pub qop: Option<String>,
    pub nc: Option<String>,
    pub other: Vec<AuthParam>,
}

impl Challenge {
    /// The algorithm this challenge names: MD5 when absent, `None` when unknown.
    pub fn algorithm(&self) -> Option<Algorithm> {
        self.algorithm
            .as_deref()
            .map_or(Some(Algorithm::Md5), Algorithm::from_token)
    }
}

impl Credentials {
    /// The algorithm the client used: MD5 when absent, `None` when unknown or a `-sess`
    /// variant (which this server never offers).
    pub fn algorithm(&self) -> Option<Algorithm> {
        self.algorithm
            .as_deref()
            .map_or(Some(Algorithm::Md5), Algorithm::from_token)
    }

    /// The nonce count as a number (RFC 2617 §3.2.2: `nc-value = 8LHEX`). Fewer than eight
    /// digits and upper case are tolerated; more than eight or non-hex is `None`.
    pub fn nc_value(&self) -> Option<u32> {
        let nc = self.nc.as_deref()?;
        if nc.is_empty() || nc.len() > 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(nc, 16).ok()
    }
}

/// Parses a `WWW-Authenticate` / `Proxy-Authenticate` value.
pub fn parse_challenge(value: &str) -> Result<AuthValue<Challenge>, AuthParseError> {
    let (scheme, params) = parse_auth_value(value)?;
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Ok(AuthValue::Other { scheme, params });
    }
    let mut c = Challenge::default();
    let (mut realm, mut nonce) = (None, None);
    for p in params {
        match p.name.to_ascii_lowercase().as_str() {
            "realm" => realm = Some(p.value),
            "nonce" => nonce = Some(p.value),
            "opaque" => c.opaque = Some(p.value),
            "algorithm" => c.algorithm = Some(p.value),
            "domain" => c.domain = Some(p.value),
            "stale" => c.stale = p.value.eq_ignore_ascii_case("true"),
            "qop" => {
                c.qop = p
                    .value
                    .split(',')
                    .map(|q| q.trim().to_string())
                    .filter(|q| !q.is_empty())
                    .collect();
            }
            _ => c.other.push(p),
        }
    }
    c.realm = realm.ok_or(AuthParseError::MissingParam("realm"))?;
    c.nonce = nonce.ok_or(AuthParseError::MissingParam("nonce"))?;
    Ok(AuthValue::Digest(c))
}

/// Parses an `Authorization` / `Proxy-Authorization` value. The parameters RFC 3261 §22.4
/// requires (username, realm, nonce, uri, response) must be there; `nc` must be hex and
/// `cnonce` must accompany `qop` (RFC 2617 §3.2.2).
pub fn parse_credentials(value: &str) -> Result<AuthValue<Credentials>, AuthParseError> {
    let (scheme, params) = parse_auth_value(value)?;
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Ok(AuthValue::Other { scheme, params });
    }
    let mut c = Credentials::default();
    let mut seen = [false; 5];
    for p in params {
        let name = p.name.to_ascii_lowercase();
        let v = Some(p.value.clone());
        match name.as_str() {
            "username" => (seen[0], c.username) = (true, p.value),
            "realm" => (seen[1], c.realm) = (true, p.value),
            "nonce" => (seen[2], c.nonce) = (true, p.value),
            "uri" => (seen[3], c.uri) = (true, p.value),
            "response" => (seen[4], c.response) = (true, p.value),
            "algorithm" => c.algorithm = v,
            "cnonce" => c.cnonce = v,
            "opaque" => c.opaque = v,
            "qop" => c.qop = v,
            "nc" => c.nc = v,
            _ => c.other.push(p),
        }
    }
    const REQUIRED: [&str; 5] = ["username", "realm", "nonce", "uri", "response"];
    if let Some(i) = seen.iter().position(|s| !s) {
        return Err(AuthParseError::MissingParam(REQUIRED[i]));
    }
    if c.nc.is_some() && c.nc_value().is_none() {
        return Err(AuthParseError::BadParam("nc"));
    }
    if c.qop.is_some() && (c.cnonce.is_none() || c.nc.is_none()) {
        return Err(AuthParseError::MissingParam("cnonce"));
    }
    Ok(AuthValue::Digest(c))
}

/// Splits a value into its scheme and parameters. Duplicate parameter names are refused:
/// two `nonce`s or two `response`s leave it open which one a check looked at.
pub fn parse_auth_value(value: &str) -> Result<(String, Vec<AuthParam>), AuthParseError> {
    if value.len() > MAX_VALUE_LEN {
        return Err(AuthParseError::TooLong);
    }
    let b = value.as_bytes();
    let mut i = skip_lws(b, 0);
    let start = i;
    while i < b.len() && is_token(b[i]) {
        i += 1;
    }
    if i == start {
        return Err(if i >= b.len() {
            AuthParseError::Empty
        } else {
            AuthParseError::BadChar(i)
        });
    }
    let scheme = value[start..i].to_string();
    if i < b.len() && !is_lws(b[i]) {
        return Err(AuthParseError::BadChar(i));
    }
    let mut params: Vec<AuthParam> = Vec::new();
    loop {
        i = skip_lws(b, i);
        // Empty list elements (`a=1,,b=2`, a trailing comma) are allowed by the #rule.
        while i < b.len() && b[i] == b',' {
            i = skip_lws(b, i + 1);
        }
        if i >= b.len() {
            break;
        }
        let n0 = i;
        while i < b.len() && is_token(b[i]) {
            i += 1;
        }
        if i == n0 {
            return Err(AuthParseError::BadChar(i));
        }
        let name = value[n0..i].to_string();
        i = skip_lws(b, i);
        if i >= b.len() || b[i] != b'=' {
            return Err(AuthParseError::MissingValue(name));
        }
        i = skip_lws(b, i + 1);
        let (val, quoted);
        if i < b.len() && b[i] == b'"' {
            let (v, next) = unquote(value, i)?;
            val = v;
            quoted = true;
            i = next;
        } else {
            let v0 = i;
            while i < b.len() && is_token(b[i]) {
                i += 1;
            }
            if i == v0 {
                return Err(AuthParseError::MissingValue(name));
            }
            val = value[v0..i].to_string();
            quoted = false;
        }
        if params.iter().any(|p| p.name.eq_ignore_ascii_case(&name)) {
            return Err(AuthParseError::Duplicate(name));
        }
        params.push(AuthParam {
            name,
            value: val,
            quoted,
        });
        i = skip_lws(b, i);
        if i < b.len() && b[i] != b',' {
            return Err(AuthParseError::BadChar(i));
        }
    }
    Ok((scheme, params))
}

/// Reads the quoted-string starting at `at` (the opening quote); returns the unescaped
/// text and the index after the closing quote.
fn unquote(value: &str, at: usize) -> Result<(String, usize), AuthParseError> {
    let mut out = String::new();
    let mut chars = value[at + 1..].char_indices();
    while let Some((off, c)) = chars.next() {
        match c {
            '"' => return Ok((out, at + 1 + off + 1)),
            '\\' => match chars.next() {
                // A quoted-pair may not carry CR or LF (RFC 3261 §25.1).
                Some((_, '\r' | '\n')) | None => return Err(AuthParseError::UnterminatedQuote),
                Some((_, e)) => out.push(e),
            },
            c => out.push(c),
        }
    }
    Err(AuthParseError::UnterminatedQuote)
}

fn skip_lws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_lws(b[i]) {
        i += 1;
    }
    i
}

fn is_lws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// RFC 3261 §25.1 token characters.
fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&c)
}

/// Writes a quoted-string, escaping `"` and `\`; CR and LF (which no quoted-pair may
/// carry) become spaces so a value from a peer can never split a header line.
fn write_quoted(f: &mut Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                f.write_char('\\')?;
                f.write_char(c)?;
            }
            '\r' | '\n' => f.write_char(' ')?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

/// Writes `, name=value` (or without the comma for the first parameter).
struct ParamWriter<'a, 'b> {
    f: &'a mut Formatter<'b>,
    first: bool,
}

impl ParamWriter<'_, '_> {
    fn quoted(&mut self, name: &str, value: &str) -> fmt::Result {
        self.sep()?;
        write!(self.f, "{name}=")?;
        write_quoted(self.f, value)
    }

    /// A token value; written quoted if it is not a valid token, so printing never
    /// produces something that does not parse back.
    fn token(&mut self, name: &str, value: &str) -> fmt::Result {
        if value.is_empty() || !value.bytes().all(is_token) {
            return self.quoted(name, value);
        }
        self.sep()?;
        write!(self.f, "{name}={value}")
    }

    fn param(&mut self, p: &AuthParam) -> fmt::Result {
        if p.quoted {
            self.quoted(&p.name, &p.value)
        } else {
            self.token(&p.name, &p.value)
        }
    }

    fn sep(&mut self) -> fmt::Result {
        if !self.first {
            self.f.write_str(", ")?;
        }
        self.first = false;
        Ok(())
    }
}

impl Display for Challenge {
    /// `Digest realm="..", nonce="..", ...` in the order RFC 7616 §3.9 examples use.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("Digest ")?;
        let mut w = ParamWriter { f, first: true };
        w.quoted("realm", &self.realm)?;
        if let Some(d) = &self.domain {
            w.quoted("domain", d)?;
        }
        w.quoted("nonce", &self.nonce)?;
        if let Some(o) = &self.opaque {
            w.quoted("opaque", o)?;
        }
        if self.stale {
            w.token("stale", "true")?;
        }
        if let Some(a) = &self.algorithm {
            w.token("algorithm", a)?;
        }
        if !self.qop.is_empty() {
            w.quoted("qop", &self.qop.join(","))?;
        }
        self.other.iter().try_for_each(|p| w.param(p))
    }
}

impl Display for Credentials {
    /// `Digest username="..", ...`; `qop` and `nc` unquoted as RFC 2617 §3.2.2 requires.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("Digest ")?;
        let mut w = ParamWriter { f, first: true };
        w.quoted("username", &self.username)?;
        w.quoted("realm", &self.realm)?;
        w.quoted("nonce", &self.nonce)?;
        w.quoted("uri", &self.uri)?;
        w.quoted("response", &self.response)?;
        if let Some(a) = &self.algorithm {
            w.token("algorithm", a)?;
        }
        if let Some(c) = &self.cnonce {
            w.quoted("cnonce", c)?;
        }
        if let Some(o) = &self.opaque {
            w.quoted("opaque", o)?;
        }
        if let Some(q) = &self.qop {
            w.token("qop", q)?;
        }
        if let Some(n) = &self.nc {
            w.token("nc", n)?;
        }
        self.other.iter().try_for_each(|p| w.param(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest<T: std::fmt::Debug>(v: AuthValue<T>) -> T {
        match v {
            AuthValue::Digest(d) => d,
            other => panic!("not digest: {other:?}"),
        }
    }

    #[test]
    fn credentials_in_any_order_with_escapes_and_unknown_params() {
        let v = "digest  response=\"6629fae49393a05397450978507c4ef1\" ,nc=00000001,\r\n \
                 username=\"Mu\\\"fa\\\\sa\", realm = \"testrealm@host.com\", qop=auth, \
                 nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", \
                 cnonce=\"0a4f113b\", x-ext=tok, opaque=\"5ccc, 069c\",";
        let c = digest(parse_credentials(v).unwrap());
        assert_eq!(c.username, "Mu\"fa\\sa");
        assert_eq!(c.realm, "testrealm@host.com");
        assert_eq!(c.uri, "/dir/index.html");
        assert_eq!(c.qop.as_deref(), Some("auth"));
        assert_eq!(c.nc_value(), Some(1));
        assert_eq!(c.opaque.as_deref(), Some("5ccc, 069c"));
        assert_eq!(c.algorithm(), Some(Algorithm::Md5));
        assert_eq!(
            c.other,
            vec![AuthParam {
                name: "x-ext".into(),
                value: "tok".into(),
                quoted: false
            }]
        );
        // Printing and parsing again gives the same value.
        let again = digest(parse_credentials(&c.to_string()).unwrap());
        assert_eq!(again, c);
    }

    #[test]
    fn unknown_scheme_is_not_an_error() {
        // RFC 4475 §3.3.7 regaut01.
        let v = parse_credentials("NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert_eq!(
            v,
            AuthValue::Other {
                scheme: "NoOneKnowsThisScheme".into(),
                params: vec![AuthParam {
                    name: "opaque-data".into(),
                    value: "here".into(),
                    quoted: false
                }]
            }
        );
        assert!(matches!(
            parse_challenge("Basic realm=\"x\"").unwrap(),
            AuthValue::Other { .. }
        ));
    }

    #[test]
    fn malformed_values_are_errors_not_panics() {
        use AuthParseError::*;
        let cases: &[(&str, AuthParseError)] = &[
            ("", Empty),
            ("   ", Empty),
            ("Digest realm=\"x", UnterminatedQuote),
            ("Digest realm=\"x\\", UnterminatedQuote),
            ("Digest realm", MissingValue("realm".into())),
            ("Digest realm=", MissingValue("realm".into())),
            ("Digest realm=\"a\", realm=\"b\"", Duplicate("realm".into())),
            ("Digest realm=\"a\" nonce=\"b\"", BadChar(17)),
            ("Digest username=\"a\"", MissingParam("realm")),
            (
                "Digest username=\"a\",realm=\"r\",nonce=\"n\",uri=\"u\",response=\"r\",nc=zz",
                BadParam("nc"),
            ),
            (
                "Digest username=\"a\",realm=\"r\",nonce=\"n\",uri=\"u\",response=\"r\",qop=auth",
                MissingParam("cnonce"),
            ),
        ];
        for (v, want) in cases {
            assert_eq!(parse_credentials(v).unwrap_err(), *want, "{v:?}");
        }
        assert_eq!(
            parse_credentials(&"a".repeat(MAX_VALUE_LEN + 1)).unwrap_err(),
            TooLong
        );
        // Non-ASCII inside quotes is kept; outside it is refused.
        assert!(parse_challenge("Digest realm=\"é\", nonce=\"n\"").is_ok());
        assert!(parse_challenge("Digest réalm=\"x\"").is_err());
    }

    #[test]
    fn challenge_prints_and_parses_back() {
        let c = Challenge {
            realm: "example.com".into(),
            nonce: "abc".into(),
            opaque: Some("o".into()),
            algorithm: Some("SHA-256".into()),
            qop: vec!["auth".into()],
            stale: true,
            ..Default::default()
        };
        let s = c.to_string();
        assert_eq!(
            s,
            "Digest realm=\"example.com\", nonce=\"abc\", opaque=\"o\", stale=true, \
             algorithm=SHA-256, qop=\"auth\""
        );
        let back = digest(parse_challenge(&s).unwrap());
        assert_eq!(back, c);
        assert_eq!(back.algorithm(), Some(Algorithm::Sha256));
    }

    #[test]
    fn printing_never_splits_a_line() {
        let c = Credentials {
            username: "a\r\nVia: x".into(),
            nc: Some("bad value".into()),
            ..Default::default()
        };
        let s = c.to_string();
        assert!(!s.contains('\r') && !s.contains('\n'));
        assert!(s.contains("nc=\"bad value\""));
    }
}
