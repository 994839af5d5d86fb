//! Dial plans (location profiles): ordered normalization rules that turn what a person
//! dialled into an E.164 number or an extension. The first rule that matches wins.
//!
//! A rule is a regular expression over the dialled string (after RFC 3966 §5.1.1 visual
//! separators are removed, so rules never have to allow for `-`, `.`, `(`, `)` or spaces)
//! and a template: `$1`/`${1}` insert capture groups, `$$` is a literal `$`. A template
//! that starts with `ext:` yields an extension to be looked up within the caller's site.

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::ids::{DialPlanName, E164};
use sb_sip_msg::Uri;

/// One normalization rule as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalizationRule {
    /// A regular expression; anchor it (`^...$`) unless a partial match is meant.
    pub pattern: String,
    /// The result: `+1$1$2`, `ext:$1`, or `$0` for "unchanged".
    pub translation: String,
    /// A note shown in traces ("7-digit local").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// A dial plan as configured: a name and its rules in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialPlanConfig {
    pub name: DialPlanName,
    #[serde(default)]
    pub rules: Vec<NormalizationRule>,
}

/// What a dialled string normalizes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalized {
    Number(E164),
    /// An extension (digits) to look up within the caller's site.
    Extension(String),
}

/// The outcome of normalizing, with the rule that decided it (1-based, as the
/// configuration and error messages count), so a trace can say which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Normalization {
    Matched {
        rule: usize,
        pattern: String,
        result: Normalized,
    },
    /// The string was already E.164 and no rule matched it: kept as is.
    AlreadyE164(E164),
    /// A rule matched but its template produced neither E.164 nor `ext:digits`.
    BadResult {
        rule: usize,
        produced: String,
    },
    NoMatch,
}

#[derive(Debug, Clone)]
struct CompiledRule {
    regex: Regex,
    template: Vec<Piece>,
    source: NormalizationRule,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Lit(String),
    Group(usize),
}

/// A dial plan with its rules compiled; built once when configuration is loaded.
#[derive(Debug, Clone)]
pub struct DialPlan {
    name: DialPlanName,
    rules: Vec<CompiledRule>,
}

/// Longest dialled string considered; anything longer is not a phone number, and the
/// bound keeps regex work on peer input small.
pub const MAX_DIALLED_LEN: usize = 64;

impl DialPlan {
    /// Compiles and validates every rule; an error names the plan and the rule number.
    pub fn compile(cfg: &DialPlanConfig) -> Result<DialPlan, ConfigError> {
        let mut rules = Vec::with_capacity(cfg.rules.len());
        for (i, r) in cfg.rules.iter().enumerate() {
            let err = |reason: String| ConfigError::DialPlanRule {
                plan: cfg.name.clone(),
                rule: i + 1,
                reason,
            };
            let regex =
                Regex::new(&r.pattern).map_err(|e| err(format!("pattern {:?}: {e}", r.pattern)))?;
            let template = parse_template(&r.translation)
                .map_err(|e| err(format!("translation {:?}: {e}", r.translation)))?;
            let groups = regex.captures_len() - 1;
            if let Some(g) = template.iter().find_map(|p| match p {
                Piece::Group(g) if *g > groups => Some(*g),
                _ => None,
            }) {
                return Err(err(format!(
                    "translation {:?} uses ${g} but the pattern has {groups} group(s)",
                    r.translation
                )));
            }
            if template.is_empty() {
                return Err(err("translation is empty".into()));
            }
            rules.push(CompiledRule {
                regex,
                template,
                source: r.clone(),
            });
        }
        Ok(DialPlan {
            name: cfg.name.clone(),
            rules,
        })
    }

    pub fn name(&self) -> &DialPlanName {
        &self.name
    }

    /// The configured rule `n` (1-based).
    pub fn rule(&self, n: usize) -> Option<&NormalizationRule> {
        n.checked_sub(1)
            .and_then(|i| self.rules.get(i))
            .map(|r| &r.source)
    }

    /// Normalizes a dialled string (separators are removed first). Never panics, whatever
    /// the input.
    pub fn normalize(&self, dialled: &str) -> Normalization {
        let s = strip_visual_separators(dialled);
        if s.len() > MAX_DIALLED_LEN {
            return Normalization::NoMatch;
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let Some(caps) = rule.regex.captures(&s) else {
                continue;
            };
            let mut out = String::new();
            for p in &rule.template {
                match p {
                    Piece::Lit(l) => out.push_str(l),
                    Piece::Group(g) => out.push_str(caps.get(*g).map_or("", |m| m.as_str())),
                }
            }
            let rule_no = i + 1;
            return match classify(&out) {
                Some(result) => Normalization::Matched {
                    rule: rule_no,
                    pattern: rule.source.pattern.clone(),
                    result,
                },
                None => Normalization::BadResult {
                    rule: rule_no,
                    produced: out,
                },
            };
        }
        match E164::parse(&s) {
            Some(n) => Normalization::AlreadyE164(n),
            None => Normalization::NoMatch,
        }
    }
}

fn classify(out: &str) -> Option<Normalized> {
    if let Some(ext) = out.strip_prefix("ext:") {
        let ok = !ext.is_empty() && ext.len() <= 16 && ext.bytes().all(|b| b.is_ascii_digit());
        return ok.then(|| Normalized::Extension(ext.to_string()));
    }
    E164::parse(out).map(Normalized::Number)
}

fn parse_template(t: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut chars = t.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '$' {
            lit.push(c);
            continue;
        }
        let braced = chars.next_if(|(_, c)| *c == '{').is_some();
        if !braced && chars.next_if(|(_, c)| *c == '$').is_some() {
            lit.push('$');
            continue;
        }
        let mut num = String::new();
        while let Some((_, d)) = chars.next_if(|(_, c)| c.is_ascii_digit()) {
            num.push(d);
        }
        if braced && chars.next_if(|(_, c)| *c == '}').is_none() {
            return Err("'${' without a closing '}' after the group number".into());
        }
        let g: usize = num
            .parse()
            .map_err(|_| "'$' must be followed by a group number, '{n}' or '$'".to_string())?;
        if !lit.is_empty() {
            pieces.push(Piece::Lit(std::mem::take(&mut lit)));
        }
        pieces.push(Piece::Group(g));
    }
    if !lit.is_empty() {
        pieces.push(Piece::Lit(lit));
    }
    Ok(pieces)
}

/// Removes RFC 3966 §5.1.1 visual separators (`-`, `.`, `(`, `)`) and spaces, which
/// people type and clients pass through but which never change the number.
pub fn strip_visual_separators(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '-' | '.' | '(' | ')' | ' ' | '\t'))
        .collect()
}

/// The dialled string a Request-URI carries: a `tel:` number, or the user part of a
/// `sip:`/`sips:` URI (escapes decoded; for `user=phone` URIs the telephone-subscriber
/// parameters such as `;phone-context=` are cut off, RFC 3261 §19.1.6). `None` when the
/// URI has no user part or is of another scheme.
pub fn dialled_from_uri(uri: &Uri) -> Option<String> {
    match uri {
        Uri::Tel(t) => Some(t.number.clone()),
        Uri::Sip(s) => {
            let user = String::from_utf8(s.user_unescaped()?).ok()?;
            let phone = s
                .params
                .value("user")
                .is_some_and(|v| v.eq_ignore_ascii_case("phone"));
            Some(if phone {
                user.split(';').next().unwrap_or_default().to_string()
            } else {
                user
            })
        }
        Uri::Other { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_forms() {
        assert_eq!(
            parse_template("+1${1}0$$"),
            Ok(vec![
                Piece::Lit("+1".into()),
                Piece::Group(1),
                Piece::Lit("0$".into())
            ])
        );
        assert!(parse_template("$x").is_err());
        assert!(parse_template("${1").is_err());
        assert!(parse_template("$").is_err());
    }
}
