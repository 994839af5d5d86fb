//! The RFC 3261 §25 grammar pieces shared by the header parsers: character classes, LWS,
//! quoted strings, parameters, hosts and URIs.
//!
//! Every function here works on one already-unfolded header value (or the Request-URI) and
//! returns the problem as a `String` without the header name; the caller prefixes it.
//! Positions are byte offsets and only ever land on ASCII delimiters, so slicing a `&str`
//! at them is always on a character boundary.

use crate::params::Params;
use crate::uri::{Host, SipUri, TelUri, Uri};
use std::net::{Ipv4Addr, Ipv6Addr};

pub(crate) type GResult<T> = Result<T, String>;

/// `token` characters (RFC 3261 §25.1).
pub(crate) fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&c)
}

/// `unreserved` = alphanum / mark.
fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&c)
}

/// RFC 3261 user characters, plus `#`: dial strings such as `*97#` reach us unescaped from
/// real phones and gateways, and `#` is unambiguous inside a userinfo.
fn is_user_char(c: u8) -> bool {
    is_unreserved(c) || b"&=+$,;?/%#".contains(&c)
}

fn is_password_char(c: u8) -> bool {
    is_unreserved(c) || b"&=+$,%".contains(&c)
}

fn is_uri_param_char(c: u8) -> bool {
    is_unreserved(c) || b"[]/:&+$%".contains(&c)
}

fn is_uri_header_char(c: u8) -> bool {
    is_unreserved(c) || b"[]/?:+$%".contains(&c)
}

/// Characters of a generic-param value: token, host (IPv6 references included) and the
/// bare IPv6 form of `received` (RFC 3261 §20.42 allows `received=2001:db8::1`).
fn is_gen_value_char(c: u8) -> bool {
    is_token_char(c) || b":[]".contains(&c)
}

fn is_domain_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_'
}

/// Linear white space after unfolding: SP, HT (CR and LF of a fold were turned into SP).
pub(crate) fn is_ws(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

pub(crate) fn skip_ws(s: &str, mut pos: usize) -> usize {
    let b = s.as_bytes();
    while pos < b.len() && is_ws(b[pos]) {
        pos += 1;
    }
    pos
}

/// The end of the run of bytes starting at `pos` for which `f` holds.
fn run(s: &str, pos: usize, f: impl Fn(u8) -> bool) -> usize {
    let b = s.as_bytes();
    let mut end = pos;
    while end < b.len() && f(b[end]) {
        end += 1;
    }
    end
}

/// Every `%` is followed by two hex digits (RFC 3261 §25.1 `escaped`).
fn escapes_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let ok = b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

fn check_chars(what: &str, s: &str, f: impl Fn(u8) -> bool) -> GResult<()> {
    if let Some(c) = s.bytes().find(|&c| !f(c)) {
        return Err(format!(
            "{what} '{s}' contains the character {:?}",
            c as char
        ));
    }
    if !escapes_ok(s) {
        return Err(format!(
            "{what} '{s}' has a '%' not followed by two hex digits"
        ));
    }
    Ok(())
}

/// Scans a quoted-string starting at the `"` at `pos`. Returns the position after the closing
/// quote and the content with quoted-pairs resolved (RFC 3261 §25.1).
pub(crate) fn scan_quoted(s: &str, pos: usize) -> GResult<(usize, String)> {
    let mut out = String::new();
    let rest = s.get(pos + 1..).ok_or("unterminated quoted string")?;
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((pos + 1 + i + 1, out)),
            '\\' => match chars.next() {
                Some((_, q)) if (q as u32) <= 0x7f && q != '\r' && q != '\n' => out.push(q),
                _ => return Err("invalid quoted-pair in quoted string".into()),
            },
            // UTF8-NONASCII is qdtext, C1 controls included; only ASCII controls must be escaped.
            c if c == ' ' || c == '\t' || !c.is_ascii_control() => out.push(c),
            c => {
                return Err(format!(
                    "control character {:?} in quoted string (it must be escaped with '\\')",
                    c
                ))
            }
        }
    }
    Err("unterminated quoted string".into())
}

/// Splits a header value at commas that are outside quoted strings and `<...>`
/// (RFC 3261 §7.3.1).
pub(crate) fn split_commas(s: &str) -> Vec<&str> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let (mut in_q, mut in_angle, mut esc) = (false, false, false);
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        if in_q {
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_q = false;
            }
            continue;
        }
        match c {
            b'"' => in_q = true,
            b'<' => in_angle = true,
            b'>' => in_angle = false,
            b',' if !in_angle => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// Parses `*( SEMI generic-param )` from `pos` to the end of `s` (RFC 3261 §25.1), with
/// LWS allowed around `;` and `=`. Values are kept as written (quotes included).
pub(crate) fn parse_header_params(s: &str, mut pos: usize, params: &mut Params) -> GResult<()> {
    let b = s.as_bytes();
    loop {
        pos = skip_ws(s, pos);
        if pos >= b.len() {
            return Ok(());
        }
        if b[pos] != b';' {
            let rest = &s[pos..];
            let shown: String = rest.chars().take(20).collect();
            return Err(format!(
                "unexpected '{shown}' where ';' or the end was expected"
            ));
        }
        pos = skip_ws(s, pos + 1);
        let end = run(s, pos, is_token_char);
        if end == pos {
            return Err("empty parameter (';' not followed by a name)".into());
        }
        let name = &s[pos..end];
        pos = skip_ws(s, end);
        if pos < b.len() && b[pos] == b'=' {
            pos = skip_ws(s, pos + 1);
            if pos < b.len() && b[pos] == b'"' {
                let (e, _) = scan_quoted(s, pos)?;
                params
                    .0
                    .push((name.to_string(), Some(s[pos..e].to_string())));
                pos = e;
            } else {
                let e = run(s, pos, is_gen_value_char);
                if e == pos {
                    return Err(format!("parameter '{name}' has an empty value"));
                }
                params
                    .0
                    .push((name.to_string(), Some(s[pos..e].to_string())));
                pos = e;
            }
        } else {
            params.0.push((name.to_string(), None));
        }
    }
}

/// An IPv6 reference's inside. The three-colon form RFC 3261's ABNF admits
/// (`2001:db8:::192.0.2.1`) is repaired to the RFC 4291 form, as RFC 5118 §4.10 asks.
pub(crate) fn parse_ipv6(s: &str) -> GResult<Ipv6Addr> {
    if let Ok(a) = s.parse::<Ipv6Addr>() {
        return Ok(a);
    }
    if s.contains(":::") {
        if let Ok(a) = s.replacen(":::", "::", 1).parse::<Ipv6Addr>() {
            return Ok(a);
        }
    }
    Err(format!("'{s}' is not an IPv6 address"))
}

/// A host without port: `[v6]`, dotted IPv4 or a domain name.
pub(crate) fn parse_host(s: &str) -> GResult<Host> {
    if let Some(inner) = s.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| format!("IPv6 reference '{s}' lacks its closing ']'"))?;
        return parse_ipv6(inner).map(Host::V6);
    }
    if s.is_empty() {
        return Err("empty host".into());
    }
    if s.contains(':') {
        return Err(format!(
            "host '{s}' looks like an IPv6 address without '[' ']' (RFC 5118 §4.2)"
        ));
    }
    if s.bytes().all(|c| c.is_ascii_digit() || c == b'.') && s.split('.').count() == 4 {
        return s
            .parse::<Ipv4Addr>()
            .map(Host::V4)
            .map_err(|_| format!("'{s}' is not an IPv4 address"));
    }
    if !s.bytes().all(is_domain_char) || s.starts_with('.') || s.starts_with('-') {
        return Err(format!("'{s}' is not a valid host name"));
    }
    Ok(Host::Domain(s.to_string()))
}

pub(crate) fn parse_port(s: &str) -> GResult<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!("port '{s}' is not a number in 0..=65535"));
    }
    s.parse::<u16>()
        .map_err(|_| format!("port '{s}' is not a number in 0..=65535"))
}

/// `host [":" port]`; a colon outside brackets separates the port.
pub(crate) fn parse_hostport(s: &str) -> GResult<(Host, Option<u16>)> {
    if s.starts_with('[') {
        let close = s
            .find(']')
            .ok_or_else(|| format!("IPv6 reference '{s}' lacks its closing ']'"))?;
        let host = parse_host(&s[..=close])?;
        let rest = &s[close + 1..];
        if rest.is_empty() {
            return Ok((host, None));
        }
        let port = rest
            .strip_prefix(':')
            .ok_or_else(|| format!("unexpected '{rest}' after the IPv6 reference"))?;
        return Ok((host, Some(parse_port(port)?)));
    }
    match s.split_once(':') {
        Some((h, p)) if p.contains(':') => Err(format!(
            "host '{h}:{p}' looks like an IPv6 address without '[' ']' (RFC 5118 §4.2)"
        )),
        Some((h, p)) => Ok((parse_host(h)?, Some(parse_port(p)?))),
        None => Ok((parse_host(s)?, None)),
    }
}

/// Parses a whole absolute URI (already cut out of its context).
pub(crate) fn parse_uri(s: &str) -> GResult<Uri> {
    let colon = s
        .find(':')
        .ok_or_else(|| format!("'{}' is not an absolute URI (no scheme)", shorten(s)))?;
    let scheme = &s[..colon];
    let sb = scheme.as_bytes();
    let scheme_ok = sb.first().is_some_and(u8::is_ascii_alphabetic)
        && sb
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || b"+-.".contains(&c));
    if !scheme_ok {
        return Err(format!(
            "'{}' is not an absolute URI (bad scheme)",
            shorten(s)
        ));
    }
    let rest = &s[colon + 1..];
    let lower = scheme.to_ascii_lowercase();
    match lower.as_str() {
        "sip" => parse_sip(rest, false).map(Uri::Sip),
        "sips" => parse_sip(rest, true).map(Uri::Sip),
        "tel" => parse_tel(rest).map(Uri::Tel),
        _ => {
            let bad = |c: char| c.is_whitespace() || c.is_control() || "<>\"".contains(c);
            if rest.is_empty() || rest.chars().any(bad) {
                return Err(format!("'{}' is not a valid {lower} URI", shorten(s)));
            }
            Ok(Uri::Other {
                scheme: lower,
                rest: rest.to_string(),
            })
        }
    }
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 60 {
        let mut t: String = s.chars().take(60).collect();
        t.push_str("...");
        t
    } else {
        s.to_string()
    }
}

/// The part of a `sip:`/`sips:` URI after the scheme (RFC 3261 §19.1.1, §25.1).
fn parse_sip(rest: &str, secure: bool) -> GResult<SipUri> {
    // Neither hostport, uri-parameters nor headers may contain an unescaped '@', so the
    // first one ends the userinfo even when the user part holds ';' or '?' (RFC 4475
    // §3.1.1.2 and §3.1.1.9).
    let (user, password, hostpart) = match rest.find('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            let (u, p) = match userinfo.find(':') {
                Some(c) => (&userinfo[..c], Some(&userinfo[c + 1..])),
                None => (userinfo, None),
            };
            if u.is_empty() {
                return Err("empty user part before '@'".into());
            }
            check_chars("user part", u, is_user_char)?;
            if let Some(p) = p {
                check_chars("password", p, is_password_char)?;
            }
            (Some(u.to_string()), p.map(str::to_string), &rest[at + 1..])
        }
        None => (None, None, rest),
    };
    let hp_end = hostpart.find([';', '?']).unwrap_or(hostpart.len());
    let (host, port) = parse_hostport(&hostpart[..hp_end])?;
    let mut uri = SipUri {
        secure,
        user,
        password,
        host,
        port,
        params: Params::new(),
        headers: Vec::new(),
    };
    let mut tail = &hostpart[hp_end..];
    while let Some(p) = tail.strip_prefix(';') {
        let end = p.find([';', '?']).unwrap_or(p.len());
        let item = &p[..end];
        let (name, value) = match item.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (item, None),
        };
        if name.is_empty() {
            return Err("empty URI parameter (';' not followed by a name)".into());
        }
        check_chars("URI parameter", name, is_uri_param_char)?;
        if let Some(v) = value {
            if v.is_empty() {
                return Err(format!("URI parameter '{name}' has an empty value"));
            }
            check_chars("URI parameter value", v, is_uri_param_char)?;
        }
        uri.params
            .0
            .push((name.to_string(), value.map(str::to_string)));
        tail = &p[end..];
    }
    if let Some(h) = tail.strip_prefix('?') {
        for item in h.split('&') {
            let (n, v) = item
                .split_once('=')
                .ok_or_else(|| format!("URI header '{item}' lacks '='"))?;
            if n.is_empty() {
                return Err("URI header with an empty name".into());
            }
            check_chars("URI header", n, is_uri_header_char)?;
            check_chars("URI header value", v, is_uri_header_char)?;
            uri.headers.push((n.to_string(), v.to_string()));
        }
    }
    Ok(uri)
}

/// A `tel:` URI (RFC 3966): number, then `;name[=value]` parameters.
fn parse_tel(rest: &str) -> GResult<TelUri> {
    let mut parts = rest.split(';');
    let number = parts.next().unwrap_or_default();
    let number_ok = |c: u8| c.is_ascii_hexdigit() || b"+*#-.()pPwW".contains(&c);
    if number.is_empty() || !number.bytes().all(number_ok) {
        return Err(format!("'{number}' is not a telephone number"));
    }
    let mut params = Params::new();
    for item in parts {
        let (name, value) = match item.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (item, None),
        };
        if name.is_empty() {
            return Err("empty tel parameter (';' not followed by a name)".into());
        }
        check_chars("tel parameter", name, is_uri_param_char)?;
        if let Some(v) = value {
            check_chars("tel parameter value", v, is_uri_param_char)?;
        }
        params.0.push((name.to_string(), value.map(str::to_string)));
    }
    Ok(TelUri {
        number: number.to_string(),
        params,
    })
}

/// `(name-addr / addr-spec) *(SEMI param)` (RFC 3261 §20.10, §20.20, §20.39).
///
/// In the addr-spec form the URI stops at the first `;`: any parameter after it belongs
/// to the header, not the URI (RFC 3261 §20, RFC 4475 §3.3.12).
pub(crate) fn parse_name_addr(s: &str) -> GResult<crate::header::NameAddr> {
    let b = s.as_bytes();
    let mut pos = skip_ws(s, 0);
    if pos >= b.len() {
        return Err("empty value".into());
    }
    let mut display = None;
    let lt;
    if b[pos] == b'"' {
        let (end, d) = scan_quoted(s, pos)?;
        display = Some(d);
        pos = skip_ws(s, end);
        if b.get(pos) != Some(&b'<') {
            return Err("a quoted display name must be followed by '<' URI '>'".into());
        }
        lt = pos;
    } else {
        let stop = run(s, pos, |c| is_token_char(c) || is_ws(c));
        if b.get(stop) == Some(&b'<') {
            let words: Vec<&str> = s[pos..stop]
                .split([' ', '\t'])
                .filter(|w| !w.is_empty())
                .collect();
            if !words.is_empty() {
                display = Some(words.join(" "));
            }
            lt = stop;
        } else if s[stop..].contains('<') && stop < b.len() && b[stop] != b':' {
            return Err(format!(
                "display name '{}' is neither a token sequence nor a quoted string",
                s[pos..s.find('<').unwrap_or(stop)].trim()
            ));
        } else {
            return parse_addr_spec(s, pos);
        }
    }
    let close = s[lt..]
        .find('>')
        .map(|i| lt + i)
        .ok_or("'<' without a closing '>'")?;
    let inner = &s[lt + 1..close];
    if inner.bytes().any(is_ws) {
        return Err(format!("whitespace inside '<{inner}>'"));
    }
    let uri = parse_uri(inner)?;
    let mut na = crate::header::NameAddr {
        display,
        uri,
        params: Params::new(),
    };
    parse_header_params(s, close + 1, &mut na.params)?;
    Ok(na)
}

fn parse_addr_spec(s: &str, pos: usize) -> GResult<crate::header::NameAddr> {
    let end = s[pos..]
        .find([';', '?', ' ', '\t'])
        .map_or(s.len(), |i| pos + i);
    if s.as_bytes().get(end) == Some(&b'?') {
        return Err("a URI with headers ('?') must be enclosed in '<' '>' (RFC 3261 §20)".into());
    }
    let uri = parse_uri(&s[pos..end])?;
    let mut na = crate::header::NameAddr::new(uri);
    parse_header_params(s, end, &mut na.params)?;
    Ok(na)
}

/// One Via value: `sent-protocol LWS sent-by *(SEMI via-params)` (RFC 3261 §20.42).
pub(crate) fn parse_via(s: &str) -> GResult<crate::header::Via> {
    let b = s.as_bytes();
    let mut pos = skip_ws(s, 0);
    let mut parts: [&str; 3] = [""; 3];
    for (i, slot) in parts.iter_mut().enumerate() {
        if i > 0 {
            pos = skip_ws(s, pos);
            if b.get(pos) != Some(&b'/') {
                return Err("sent-protocol must be 'SIP/2.0/transport'".into());
            }
            pos = skip_ws(s, pos + 1);
        }
        let end = run(s, pos, is_token_char);
        if end == pos {
            return Err("sent-protocol must be 'SIP/2.0/transport'".into());
        }
        *slot = &s[pos..end];
        pos = end;
    }
    let after = skip_ws(s, pos);
    if after == pos || after >= b.len() {
        return Err("missing sent-by after the transport".into());
    }
    pos = after;
    let host_end = if b[pos] == b'[' {
        s[pos..]
            .find(']')
            .map(|i| pos + i + 1)
            .ok_or("IPv6 reference lacks its closing ']'")?
    } else {
        run(s, pos, is_domain_char)
    };
    let host = parse_host(&s[pos..host_end])?;
    pos = skip_ws(s, host_end);
    let mut port = None;
    if b.get(pos) == Some(&b':') {
        pos = skip_ws(s, pos + 1);
        let end = run(s, pos, |c| c.is_ascii_digit());
        port = Some(parse_port(&s[pos..end])?);
        pos = end;
    }
    let mut via = crate::header::Via {
        protocol: parts[0].to_string(),
        version: parts[1].to_string(),
        transport: crate::header::Transport::from_token(parts[2]),
        host,
        port,
        params: Params::new(),
    };
    parse_header_params(s, pos, &mut via.params)?;
    Ok(via)
}
