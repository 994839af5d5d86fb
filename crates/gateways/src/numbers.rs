//! Number manipulation toward and from a gateway: ordered rules, each a regex-free
//! pattern and the changes it makes (E.164 ↔ national conversion, strip digits, add a
//! prefix). The first rule that matches and applies wins; a number no rule takes is left
//! as it is.
//!
//! Patterns are the dial-plan letters PBX administrators know: digits, `*`, `#` and a
//! leading `+` match themselves, `X` any digit, `Z` 1–9, `N` 2–9, and a final `.` any
//! number of further characters (none included). Without the `.` the length must match:
//! `+1NXXNXXXXXX` is a NANP number, `0.` anything starting with 0, `.` everything.
//!
//! Numbers are compared without RFC 3966 §5.1.1 visual separators (`-`, `.`, `(`, `)`),
//! so `+1-425-555-1212` matches `+1XXXXXXXXXX`.

use serde::{Deserialize, Serialize};

use sb_sip_msg::{Header, NameAddr, OtherHeader, Request, Uri};

/// Which numbers of a call a rule applies to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Called and calling numbers alike.
    #[default]
    Both,
    /// The Request-URI and To: who is being called.
    Called,
    /// From, P-Asserted-Identity and Remote-Party-ID: who is calling.
    Calling,
}

/// The role of one number in a request, to match against a rule's [`Scope`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberRole {
    Called,
    Calling,
}

impl Scope {
    fn covers(self, role: NumberRole) -> bool {
        match self {
            Scope::Both => true,
            Scope::Called => role == NumberRole::Called,
            Scope::Calling => role == NumberRole::Calling,
        }
    }
}

/// E.164 ↔ national conversion (ITU-T E.164: country code, national significant
/// number; the trunk prefix is what callers dial in front of it within the country).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case", deny_unknown_fields)]
pub enum Conversion {
    /// `+<country_code><nsn>` → `<trunk_prefix><nsn>`; another country's number becomes
    /// `<international_prefix><cc><nsn>` if that prefix is set (the rule does not apply
    /// otherwise).
    National {
        country_code: String,
        #[serde(default)]
        trunk_prefix: String,
        #[serde(default)]
        international_prefix: Option<String>,
    },
    /// The reverse: `<international_prefix>…` → `+…`, `<trunk_prefix><nsn>` →
    /// `+<country_code><nsn>` (with no trunk prefix every national number takes the
    /// country code). A number already in E.164 is not converted.
    E164 {
        country_code: String,
        #[serde(default)]
        trunk_prefix: String,
        #[serde(default)]
        international_prefix: Option<String>,
    },
}

/// One rule as provisioned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberRuleConfig {
    /// The pattern (see the module docs); `.` matches every number.
    #[serde(rename = "match")]
    pub pattern: String,
    /// Applied first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convert: Option<Conversion>,
    /// Characters removed from the start after conversion (a leading `+` counts as one).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub strip: usize,
    /// Added in front last.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
    #[serde(default, skip_serializing_if = "is_both")]
    pub scope: Scope,
    /// A note for listings ("national numbers without the trunk prefix").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn is_both(s: &Scope) -> bool {
    *s == Scope::Both
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    Lit(u8),
    /// `X`
    Digit,
    /// `Z`
    NonZero,
    /// `N`
    TwoToNine,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberPattern {
    elems: Vec<Elem>,
    /// Ends in `.`: further characters allowed.
    open: bool,
}

impl NumberPattern {
    /// Compiles a pattern; the error says which character is wrong.
    pub fn parse(s: &str) -> Result<NumberPattern, String> {
        let (body, open) = match s.strip_suffix('.') {
            Some(b) => (b, true),
            None => (s, false),
        };
        if body.is_empty() && !open {
            return Err("empty pattern (write \".\" to match every number)".into());
        }
        let mut elems = Vec::with_capacity(body.len());
        for (i, c) in body.bytes().enumerate() {
            elems.push(match c {
                b'+' if i == 0 => Elem::Lit(c),
                b'0'..=b'9' | b'*' | b'#' => Elem::Lit(c),
                b'X' | b'x' => Elem::Digit,
                b'Z' | b'z' => Elem::NonZero,
                b'N' | b'n' => Elem::TwoToNine,
                _ => {
                    return Err(format!(
                        "{:?} at position {} is not a digit, *, #, a leading +, X, Z, N \
                         or a final .",
                        c as char,
                        i + 1
                    ))
                }
            });
        }
        Ok(NumberPattern { elems, open })
    }

    /// Whether `number` (visual separators already removed) matches.
    pub fn matches(&self, number: &str) -> bool {
        let b = number.as_bytes();
        if b.len() < self.elems.len() || (!self.open && b.len() != self.elems.len()) {
            return false;
        }
        self.elems.iter().zip(b).all(|(e, &c)| match *e {
            Elem::Lit(l) => l == c,
            Elem::Digit => c.is_ascii_digit(),
            Elem::NonZero => (b'1'..=b'9').contains(&c),
            Elem::TwoToNine => (b'2'..=b'9').contains(&c),
        })
    }
}

/// A compiled rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberRule {
    pub config: NumberRuleConfig,
    pattern: NumberPattern,
}

impl NumberRule {
    /// Compiles and checks one rule; the error names the field (`match`, `convert`, ...).
    pub fn compile(config: NumberRuleConfig) -> Result<NumberRule, (&'static str, String)> {
        let pattern = NumberPattern::parse(&config.pattern).map_err(|e| ("match", e))?;
        if let Some(c) = &config.convert {
            check_conversion(c).map_err(|e| ("convert", e))?;
        }
        let p = &config.prefix;
        if !p.is_empty() && p != "+" && !is_number(p) {
            return Err((
                "prefix",
                format!("{p:?} is not digits (with * # or a leading +)"),
            ));
        }
        Ok(NumberRule { config, pattern })
    }

    /// The rewritten number, or `None` when this rule does not take the number.
    fn apply(&self, number: &str) -> Option<String> {
        if !self.pattern.matches(number) {
            return None;
        }
        let converted = match &self.config.convert {
            Some(c) => convert(c, number)?,
            None => number.to_string(),
        };
        let rest = converted.get(self.config.strip..)?;
        let out = format!("{}{rest}", self.config.prefix);
        is_number(&out).then_some(out)
    }
}

fn digits(s: &str, what: &str, len: std::ops::RangeInclusive<usize>) -> Result<(), String> {
    if s.bytes().all(|b| b.is_ascii_digit()) && len.contains(&s.len()) {
        Ok(())
    } else {
        Err(format!(
            "{what} {s:?} must be {} to {} digits",
            len.start(),
            len.end()
        ))
    }
}

fn check_conversion(c: &Conversion) -> Result<(), String> {
    let (Conversion::National {
        country_code,
        trunk_prefix,
        international_prefix,
    }
    | Conversion::E164 {
        country_code,
        trunk_prefix,
        international_prefix,
    }) = c;
    digits(country_code, "country_code", 1..=3)?;
    if country_code.starts_with('0') {
        return Err(format!("country_code {country_code:?} cannot start with 0"));
    }
    digits(trunk_prefix, "trunk_prefix", 0..=4)?;
    if let Some(i) = international_prefix {
        digits(i, "international_prefix", 1..=5)?;
    }
    Ok(())
}

fn convert(c: &Conversion, n: &str) -> Option<String> {
    match c {
        Conversion::National {
            country_code,
            trunk_prefix,
            international_prefix,
        } => {
            let e164 = n.strip_prefix('+')?;
            match e164.strip_prefix(country_code.as_str()) {
                Some(nsn) => Some(format!("{trunk_prefix}{nsn}")),
                None => international_prefix.as_ref().map(|i| format!("{i}{e164}")),
            }
        }
        Conversion::E164 {
            country_code,
            trunk_prefix,
            international_prefix,
        } => {
            if n.starts_with('+') {
                return None;
            }
            if let Some(rest) = international_prefix
                .as_deref()
                .and_then(|i| n.strip_prefix(i))
            {
                return Some(format!("+{rest}"));
            }
            let nsn = n.strip_prefix(trunk_prefix.as_str())?;
            Some(format!("+{country_code}{nsn}"))
        }
    }
}

/// `+`? followed by at least one of `0-9 * #`.
pub(crate) fn is_number(s: &str) -> bool {
    let d = s.strip_prefix('+').unwrap_or(s);
    !d.is_empty()
        && d.bytes()
            .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
}

/// A number as a SIP URI user part: `#` is not allowed there unescaped (RFC 3261
/// §25.1 `user-unreserved`), `+` and `*` are.
pub fn escape_user(number: &str) -> String {
    number.replace('#', "%23")
}

/// Removes RFC 3966 §5.1.1 visual separators.
pub(crate) fn without_separators(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '-' | '.' | '(' | ')' | ' '))
        .collect()
}

/// The number a URI carries: a `tel:` number, or a `sip:` user part that is a number
/// (its RFC 3966 parameters after `;` left aside). Separators removed.
pub fn uri_number(uri: &Uri) -> Option<String> {
    let raw = match uri {
        Uri::Tel(t) => t.number.clone(),
        Uri::Sip(s) => {
            let user = String::from_utf8(s.user_unescaped()?).ok()?;
            user.split(';').next().unwrap_or_default().to_string()
        }
        Uri::Other { .. } => return None,
    };
    let n = without_separators(&raw);
    is_number(&n).then_some(n)
}

/// A change made to one number of a request, for logs and traces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    /// `Request-URI`, `To`, `From`, `P-Asserted-Identity` or `Remote-Party-ID`.
    pub header: &'static str,
    pub before: String,
    pub after: String,
    /// 1-based, as the site file counts.
    pub rule: usize,
}

/// One direction's rules, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NumberRules {
    rules: Vec<NumberRule>,
}

impl NumberRules {
    /// Compiles rules in order; an error carries the 0-based index and the field.
    pub fn compile(
        configs: &[NumberRuleConfig],
    ) -> Result<NumberRules, (usize, &'static str, String)> {
        let rules = configs
            .iter()
            .enumerate()
            .map(|(i, c)| NumberRule::compile(c.clone()).map_err(|(f, e)| (i, f, e)))
            .collect::<Result<_, _>>()?;
        Ok(NumberRules { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn rules(&self) -> &[NumberRule] {
        &self.rules
    }

    /// The number after the first rule that takes it, with that rule's 1-based index;
    /// `None` when no rule does (the number stays as it is).
    pub fn rewrite(&self, number: &str, role: NumberRole) -> Option<(usize, String)> {
        let n = without_separators(number);
        self.rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.config.scope.covers(role))
            .find_map(|(i, r)| r.apply(&n).map(|out| (i + 1, out)))
    }

    /// Rewrites the number a URI carries in place (see [`uri_number`]); a `sip:` user's
    /// RFC 3966 parameters are kept. Returns the change, if any.
    pub fn rewrite_uri(&self, uri: &mut Uri, role: NumberRole) -> Option<(usize, String, String)> {
        let before = uri_number(uri)?;
        let (rule, after) = self.rewrite(&before, role)?;
        match uri {
            Uri::Tel(t) => t.number.clone_from(&after),
            Uri::Sip(s) => {
                let user = s.user.as_deref().unwrap_or_default();
                let params = user.find(';').map_or("", |i| &user[i..]);
                s.user = Some(format!("{}{params}", escape_user(&after)));
            }
            Uri::Other { .. } => return None,
        }
        Some((rule, before, after))
    }

    /// Applies the rules to every number of a request: the Request-URI and To as the
    /// called number, From, P-Asserted-Identity and Remote-Party-ID as the calling one.
    /// Values that do not parse are left untouched (they are the peer's business, and a
    /// gateway profile decides whether identity headers pass at all).
    pub fn rewrite_request(&self, req: &mut Request) -> Vec<Rewritten> {
        let mut done = Vec::new();
        let mut note = |header, change: Option<(usize, String, String)>| {
            if let Some((rule, before, after)) = change {
                done.push(Rewritten {
                    header,
                    before,
                    after,
                    rule,
                });
            }
        };
        note(
            "Request-URI",
            self.rewrite_uri(&mut req.uri, NumberRole::Called),
        );
        for h in req.headers.0.iter_mut() {
            match h {
                Header::To(na) => note("To", self.rewrite_uri(&mut na.uri, NumberRole::Called)),
                Header::From(na) => {
                    note("From", self.rewrite_uri(&mut na.uri, NumberRole::Calling))
                }
                Header::Other(o) => {
                    let header = if o.name.eq_ignore_ascii_case("P-Asserted-Identity") {
                        "P-Asserted-Identity"
                    } else if o.name.eq_ignore_ascii_case("Remote-Party-ID") {
                        "Remote-Party-ID"
                    } else {
                        continue;
                    };
                    for change in self.rewrite_other(o) {
                        note(header, Some(change));
                    }
                }
                _ => {}
            }
        }
        done
    }

    /// Rewrites each value of a comma-separated name-addr header, reprinting only when a
    /// number changed (so an untouched header stays byte-exact).
    fn rewrite_other(&self, o: &mut OtherHeader) -> Vec<(usize, String, String)> {
        let mut changes = Vec::new();
        let mut values = Vec::new();
        for v in split_values(&o.value) {
            match v.trim().parse::<NameAddr>() {
                Ok(mut na) => {
                    if let Some(c) = self.rewrite_uri(&mut na.uri, NumberRole::Calling) {
                        changes.push(c);
                    }
                    values.push(na.to_string());
                }
                Err(_) => values.push(v.trim().to_string()),
            }
        }
        if !changes.is_empty() {
            o.value = format!(" {}", values.join(", "));
        }
        changes
    }
}

/// Splits a header value at the commas that separate values: not inside a quoted
/// display name, not inside `<...>`.
pub(crate) fn split_values(s: &str) -> Vec<&str> {
    let (mut out, mut start, mut quoted, mut angle, mut escaped) =
        (Vec::new(), 0, false, false, false);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' if !angle => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.retain(|v| !v.trim().is_empty());
    out
}
