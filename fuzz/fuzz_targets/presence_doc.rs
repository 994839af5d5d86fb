//! Any PUBLISH body and any calendar file: the PIDF parser (RFC 3863, RFC 4480) and the
//! iCalendar reader (RFC 5545) must not panic, whatever a client or a calendar export holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sb_presence::{calendar, doc::pidf};

fuzz_target!(|data: &[u8]| {
    let _ = pidf::parse(data);
    let _ = pidf::parse_document(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = calendar::busy_at(text, 1_800_000_000);
        let _ = calendar::next_change(text, 1_800_000_000);
    }
});
