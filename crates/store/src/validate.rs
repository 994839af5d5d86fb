//! Checks that belong to the data, not to a protocol: the syntax a SIP address, a domain,
//! an E.164 number or an extension must have before it is stored. Each check returns the
//! reason a value is refused; the caller wraps it in [`StoreError::Invalid`] with the name
//! of the field.
//!
//! [`StoreError::Invalid`]: crate::StoreError::Invalid

/// Longest E.164 number: ITU-T E.164 §6 allows at most 15 digits.
pub const E164_MAX_DIGITS: usize = 15;
/// Longest extension we accept. Extensions are local; 15 digits is more than any PBX uses.
pub const EXTENSION_MAX_DIGITS: usize = 15;
/// RFC 1035 §2.3.4: a host name is at most 253 characters in text form.
const DOMAIN_MAX_LEN: usize = 253;
const LABEL_MAX_LEN: usize = 63;

/// A domain name (RFC 1035 §2.3.1 labels: letters, digits, inner hyphens) or an IPv4
/// literal. IPv6 references are accepted in SIP addresses only, see [`sip_host`].
pub fn domain(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty".into());
    }
    if s.len() > DOMAIN_MAX_LEN {
        return Err(format!("longer than {DOMAIN_MAX_LEN} characters"));
    }
    for label in s.split('.') {
        if label.is_empty() {
            return Err(format!("empty label in {s:?}"));
        }
        if label.len() > LABEL_MAX_LEN {
            return Err(format!(
                "label {label:?} is longer than {LABEL_MAX_LEN} characters"
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!("character {c:?} is not allowed in a domain"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label {label:?} starts or ends with '-'"));
        }
    }
    Ok(())
}

/// The host of a SIP address: a domain, an IPv4 literal or an IPv6 reference in brackets
/// (RFC 3261 §25.1 `host`). No port: an address of record names a domain, not a socket.
pub fn sip_host(s: &str) -> Result<(), String> {
    if let Some(inner) = s.strip_prefix('[') {
        let Some(inner) = inner.strip_suffix(']') else {
            return Err("IPv6 reference without ']'".into());
        };
        if inner.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("{inner:?} is not an IPv6 address"));
        }
        return Ok(());
    }
    if s.contains(':') {
        return Err("a port is not allowed in an address of record".into());
    }
    domain(s)
}

/// The user part of a SIP URI (RFC 3261 §25.1 `user`): unreserved characters, the
/// user-unreserved set and `%HH` escapes.
pub fn sip_user(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("the user part is empty".into());
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3);
            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return Err("'%' is not followed by two hex digits".into());
            }
            i += 3;
            continue;
        }
        let allowed = b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/".contains(&b);
        if !allowed {
            return Err(format!(
                "character {:?} is not allowed in the user part",
                char::from(b)
            ));
        }
        i += 1;
    }
    Ok(())
}

/// An E.164 number in its global form: `+`, then 1 to 15 digits, the first not `0`
/// (no country code starts with 0).
pub fn e164(s: &str) -> Result<(), String> {
    let Some(digits) = s.strip_prefix('+') else {
        return Err(format!("{s:?} does not start with '+'"));
    };
    if digits.is_empty() {
        return Err("no digits after '+'".into());
    }
    if digits.len() > E164_MAX_DIGITS {
        return Err(format!(
            "{} digits, at most {E164_MAX_DIGITS} allowed",
            digits.len()
        ));
    }
    if let Some(c) = digits.chars().find(|c| !c.is_ascii_digit()) {
        return Err(format!("{c:?} is not a digit"));
    }
    if digits.starts_with('0') {
        return Err("a country code never starts with 0".into());
    }
    Ok(())
}

/// An extension: 1 to 15 digits.
pub fn extension(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty".into());
    }
    if s.len() > EXTENSION_MAX_DIGITS {
        return Err(format!("more than {EXTENSION_MAX_DIGITS} digits"));
    }
    if let Some(c) = s.chars().find(|c| !c.is_ascii_digit()) {
        return Err(format!("{c:?} is not a digit"));
    }
    Ok(())
}

/// Free text shown to people (display names, realms): no control characters, bounded.
pub fn text(s: &str, max: usize) -> Result<(), String> {
    if s.chars().count() > max {
        return Err(format!("longer than {max} characters"));
    }
    if s.chars().any(char::is_control) {
        return Err("contains a control character".into());
    }
    Ok(())
}

/// Opaque protocol tokens we store verbatim (Contact URIs, Call-IDs, transport names):
/// non-empty, bounded, no whitespace or control characters.
pub fn token(s: &str, max: usize) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty".into());
    }
    if s.len() > max {
        return Err(format!("longer than {max} bytes"));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains whitespace or a control character".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_accepts_global_numbers_and_names_the_problem() {
        assert!(e164("+14255550100").is_ok());
        assert!(e164("+1").is_ok());
        assert!(e164("+123456789012345").is_ok());
        assert!(e164("14255550100").unwrap_err().contains("'+'"));
        assert!(e164("+").unwrap_err().contains("no digits"));
        assert!(e164("+1234567890123456").unwrap_err().contains("16 digits"));
        assert!(e164("+1425-555").unwrap_err().contains("'-'"));
        assert!(e164("+0441").unwrap_err().contains("0"));
    }

    #[test]
    fn extension_is_digits() {
        assert!(extension("100").is_ok());
        assert!(extension("").is_err());
        assert!(extension("12a").unwrap_err().contains("'a'"));
        assert!(extension("1234567890123456").is_err());
    }

    #[test]
    fn domains_follow_rfc1035_labels() {
        assert!(domain("example.com").is_ok());
        assert!(domain("192.0.2.1").is_ok());
        assert!(domain("a-b.example").is_ok());
        assert!(domain("").is_err());
        assert!(domain("a..b").is_err());
        assert!(domain("-a.example").is_err());
        assert!(domain("exa mple.com").is_err());
        assert!(domain(&"a".repeat(64)).is_err());
    }

    #[test]
    fn sip_user_allows_escapes_and_user_unreserved() {
        assert!(sip_user("alice").is_ok());
        assert!(sip_user("+14255550100").is_ok());
        assert!(sip_user("a%20b").is_ok());
        assert!(sip_user("a%2").is_err());
        assert!(sip_user("a b").is_err());
        assert!(sip_user("a@b").is_err());
        assert!(sip_user("").is_err());
    }

    #[test]
    fn sip_host_takes_ipv6_references_but_no_port() {
        assert!(sip_host("[2001:db8::1]").is_ok());
        assert!(sip_host("[2001:db8::zz]").is_err());
        assert!(sip_host("example.com:5060").unwrap_err().contains("port"));
    }

    #[test]
    fn tokens_and_text() {
        assert!(token("sip:a@192.0.2.1:5060;transport=tcp", 100).is_ok());
        assert!(token("a b", 100).is_err());
        assert!(token("", 100).is_err());
        assert!(text("Alice Smith", 10).is_err());
        assert!(text("Alice", 10).is_ok());
        assert!(text("A\nB", 10).is_err());
    }
}
