//! Presence documents on the wire.
//!
//! - [`pidf`]: RFC 3863 PIDF with RFC 4480 RPID extensions (`application/pidf+xml`).
//! - [`dialog_info`]: RFC 4235 dialog state (`application/dialog-info+xml`).
//! - [`rlmi`]: RFC 4662 resource list notifications (`multipart/related` with
//!   `application/rlmi+xml`).
//!
//! Documents are rendered by hand into strings: they are small, their element order is
//! fixed by the schemas, and real clients (some of which match text rather than parse
//! XML) read the exact prefixes we choose. Parsing uses a namespace-aware reader.

pub mod dialog_info;
pub mod pidf;
pub mod rlmi;

/// The `version` counter of one subscription's dialog-info (RFC 4235 §4.1.2) or RLMI
/// (RFC 4662 §5.2) documents: 0 for the first document, one more for each after it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VersionCounter {
    next: u32,
}

impl VersionCounter {
    /// The version for the next document; advances the counter. Wraps after 2^32 - 1
    /// documents, which at one NOTIFY a second takes 136 years.
    pub fn take(&mut self) -> u32 {
        let v = self.next;
        self.next = self.next.wrapping_add(1);
        v
    }

    /// The version the next document will carry, without advancing.
    pub fn peek(&self) -> u32 {
        self.next
    }
}

/// Escapes text for XML content and double-quoted attribute values (XML 1.0 §2.4, §3.1).
/// Control characters other than tab, newline and carriage return are not allowed in XML
/// 1.0 at all, so they are dropped rather than producing a document no one can parse.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escape_covers_markup_and_drops_control_characters() {
        assert_eq!(
            super::escape("a<b>&\"c'\u{1}\td"),
            "a&lt;b&gt;&amp;&quot;c&apos;\td"
        );
    }
}
