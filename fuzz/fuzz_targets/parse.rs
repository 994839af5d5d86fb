//! Any datagram: the parser must not panic, and whatever parses must print to bytes that
//! parse back to the same value and print identically again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sb_sip_msg::{lint, parse_datagram};

fuzz_target!(|data: &[u8]| {
    let _ = lint(data);
    let Ok(msg) = parse_datagram(data) else { return };
    let printed = msg.to_bytes();
    let again = parse_datagram(&printed).expect("a printed message parses");
    // The printer states the true Content-Length, so compare from the first print on.
    let reprinted = again.to_bytes();
    assert_eq!(reprinted, printed, "print -> parse -> print is not stable");
    assert_eq!(parse_datagram(&reprinted).as_ref(), Ok(&again));
});
