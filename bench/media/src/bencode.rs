//! Bencoding, the encoding of rtpengine's ng control protocol: integers `i42e`, byte
//! strings `4:spam`, lists `l...e` and dictionaries `d...e` whose keys are byte strings
//! in sorted order.
//!
//! The relay decodes what arrives on its control socket, so decoding is bounded: nesting
//! is limited to [`MAX_DEPTH`], lengths are checked against the input before anything is
//! allocated, and every malformed input is an error, never a panic.

use std::collections::BTreeMap;

/// How deep lists and dictionaries may nest; ng messages use three levels at most.
pub const MAX_DEPTH: usize = 32;

/// One bencoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    /// Keys are kept sorted, so encoding gives the canonical form.
    Dict(BTreeMap<Vec<u8>, Value>),
}

/// Why a datagram is not bencoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("input ends inside a value at byte {0}")]
    Truncated(usize),
    #[error("unexpected byte {byte:#04x} at {at}")]
    Unexpected { byte: u8, at: usize },
    #[error("bad integer at byte {0}")]
    BadInt(usize),
    #[error("dictionary key at byte {0} is not a byte string")]
    KeyNotBytes(usize),
    #[error("nesting deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("{0} bytes left after the value")]
    Trailing(usize),
    #[error("no cookie before the message")]
    NoCookie,
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Bytes(s.as_bytes().to_vec())
    }

    /// A dictionary from `(key, value)` pairs.
    pub fn dict<'a>(pairs: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
        Value::Dict(
            pairs
                .into_iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v))
                .collect(),
        )
    }

    /// A list of strings.
    pub fn strs<'a>(items: impl IntoIterator<Item = &'a str>) -> Value {
        Value::List(items.into_iter().map(Value::str).collect())
    }

    /// The value under `key`, when this is a dictionary that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(d) => d.get(key.as_bytes()),
            _ => None,
        }
    }

    /// The text of a byte string (None when it is not one, or not UTF-8).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// The string under `key`.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// The strings of the list under `key`; a single string counts as a list of one, as
    /// rtpengine accepts both.
    pub fn get_strs(&self, key: &str) -> Vec<&str> {
        match self.get(key) {
            Some(Value::List(items)) => items.iter().filter_map(Value::as_str).collect(),
            Some(v) => v.as_str().into_iter().collect(),
            None => Vec::new(),
        }
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(i) => {
                out.push(b'i');
                out.extend_from_slice(i.to_string().as_bytes());
                out.push(b'e');
            }
            Value::Bytes(b) => encode_bytes(b, out),
            Value::List(items) => {
                out.push(b'l');
                for item in items {
                    item.encode_into(out);
                }
                out.push(b'e');
            }
            Value::Dict(d) => {
                out.push(b'd');
                for (k, v) in d {
                    encode_bytes(k, out);
                    v.encode_into(out);
                }
                out.push(b'e');
            }
        }
    }
}

fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

/// Decodes exactly one value filling the whole input.
pub fn decode(input: &[u8]) -> Result<Value, DecodeError> {
    let mut pos = 0;
    let v = decode_at(input, &mut pos, 0)?;
    if pos != input.len() {
        return Err(DecodeError::Trailing(input.len() - pos));
    }
    Ok(v)
}

fn decode_at(input: &[u8], pos: &mut usize, depth: usize) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep);
    }
    let start = *pos;
    let &first = input.get(start).ok_or(DecodeError::Truncated(start))?;
    match first {
        b'i' => {
            let end = find(input, start + 1, b'e')?;
            let text = &input[start + 1..end];
            // No leading zeros or "-0", as the format requires; parse checks the digits.
            let canonical = matches!(text, [b'0'] | [b'-', b'1'..=b'9', ..] | [b'1'..=b'9', ..]);
            let n = std::str::from_utf8(text)
                .ok()
                .filter(|_| canonical)
                .and_then(|t| t.parse::<i64>().ok())
                .ok_or(DecodeError::BadInt(start))?;
            *pos = end + 1;
            Ok(Value::Int(n))
        }
        b'0'..=b'9' => decode_bytes(input, pos).map(Value::Bytes),
        b'l' => {
            *pos += 1;
            let mut items = Vec::new();
            loop {
                match input.get(*pos) {
                    None => return Err(DecodeError::Truncated(*pos)),
                    Some(b'e') => {
                        *pos += 1;
                        return Ok(Value::List(items));
                    }
                    Some(_) => items.push(decode_at(input, pos, depth + 1)?),
                }
            }
        }
        b'd' => {
            *pos += 1;
            let mut dict = BTreeMap::new();
            loop {
                match input.get(*pos) {
                    None => return Err(DecodeError::Truncated(*pos)),
                    Some(b'e') => {
                        *pos += 1;
                        return Ok(Value::Dict(dict));
                    }
                    Some(b'0'..=b'9') => {
                        let key = decode_bytes(input, pos)?;
                        let value = decode_at(input, pos, depth + 1)?;
                        // Unsorted or repeated keys are tolerated (peers are not all
                        // strict); the last one wins.
                        dict.insert(key, value);
                    }
                    Some(_) => return Err(DecodeError::KeyNotBytes(*pos)),
                }
            }
        }
        byte => Err(DecodeError::Unexpected { byte, at: start }),
    }
}

fn decode_bytes(input: &[u8], pos: &mut usize) -> Result<Vec<u8>, DecodeError> {
    let start = *pos;
    let colon = find(input, start, b':')?;
    let len: usize = std::str::from_utf8(&input[start..colon])
        .ok()
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
        .ok_or(DecodeError::BadInt(start))?;
    // Checked against what is there before anything is allocated.
    let end = colon
        .checked_add(1)
        .and_then(|s| s.checked_add(len))
        .filter(|&e| e <= input.len())
        .ok_or(DecodeError::Truncated(input.len()))?;
    *pos = end;
    Ok(input[colon + 1..end].to_vec())
}

fn find(input: &[u8], from: usize, byte: u8) -> Result<usize, DecodeError> {
    input
        .get(from..)
        .and_then(|rest| rest.iter().position(|&b| b == byte))
        .map(|i| from + i)
        .ok_or(DecodeError::Truncated(input.len()))
}

/// An ng datagram: `<cookie> <bencoded dictionary>`. The cookie pairs a reply with its
/// request and lets a server answer a retransmission from a cache.
pub fn split_ng(datagram: &[u8]) -> Result<(&[u8], Value), DecodeError> {
    let space = datagram
        .iter()
        .position(|&b| b == b' ')
        .filter(|&i| i > 0)
        .ok_or(DecodeError::NoCookie)?;
    let value = decode(&datagram[space + 1..])?;
    Ok((&datagram[..space], value))
}

/// Builds an ng datagram from a cookie and a message.
pub fn ng_datagram(cookie: &[u8], message: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(cookie.len() + 256);
    out.extend_from_slice(cookie);
    out.push(b' ');
    message.encode_into(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offer_encodes_with_sorted_keys_and_decodes_back() {
        let offer = Value::dict([
            ("sdp", Value::str("v=0\r\n")),
            ("command", Value::str("offer")),
            ("call-id", Value::str("c1")),
            ("flags", Value::strs(["trust-address"])),
            ("codec", Value::dict([("transcode", Value::strs(["PCMU"]))])),
        ]);
        let bytes = offer.encode();
        assert_eq!(
            bytes,
            b"d7:call-id2:c15:codecd9:transcodel4:PCMUee7:command5:offer5:flagsl13:trust-addresse3:sdp5:v=0\r\ne"
        );
        assert_eq!(decode(&bytes).unwrap(), offer);
        assert_eq!(offer.get_str("command"), Some("offer"));
        assert_eq!(
            offer.get("codec").unwrap().get_strs("transcode"),
            vec!["PCMU"]
        );
    }

    #[test]
    fn integers_and_their_edge_cases() {
        assert_eq!(decode(b"i0e").unwrap(), Value::Int(0));
        assert_eq!(decode(b"i-42e").unwrap(), Value::Int(-42));
        assert_eq!(Value::Int(-42).encode(), b"i-42e");
        for bad in [
            &b"i01e"[..],
            b"i-0e",
            b"ie",
            b"i1x2e",
            b"i99999999999999999999e",
        ] {
            assert_eq!(decode(bad), Err(DecodeError::BadInt(0)), "{bad:?}");
        }
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let cases: [&[u8]; 10] = [
            b"",
            b"5:abc",
            b"99999999999999999999999:x",
            b"l",
            b"d3:key",
            b"di1ei2ee",
            b"x",
            b"4:spamextra",
            b":abc",
            b"d3:keyi1e",
        ];
        for c in cases {
            assert!(decode(c).is_err(), "{c:?} should not decode");
        }
        let deep = [vec![b'l'; MAX_DEPTH + 2], vec![b'e'; MAX_DEPTH + 2]].concat();
        assert_eq!(decode(&deep), Err(DecodeError::TooDeep));
    }

    #[test]
    fn ng_datagrams_carry_the_cookie() {
        let msg = Value::dict([("result", Value::str("pong"))]);
        let d = ng_datagram(b"5323_1", &msg);
        assert_eq!(d, b"5323_1 d6:result4:ponge");
        let (cookie, back) = split_ng(&d).unwrap();
        assert_eq!(cookie, b"5323_1");
        assert_eq!(back, msg);
        assert_eq!(split_ng(b"d6:result4:ponge"), Err(DecodeError::NoCookie));
        assert_eq!(split_ng(b" d6:result4:ponge"), Err(DecodeError::NoCookie));
    }

    #[test]
    fn a_single_string_reads_as_a_list_of_one() {
        let v = Value::dict([("flags", Value::str("asymmetric"))]);
        assert_eq!(v.get_strs("flags"), vec!["asymmetric"]);
        assert!(v.get_strs("missing").is_empty());
    }
}
