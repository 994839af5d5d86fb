//! Any Authorization, Proxy-Authorization, WWW-Authenticate or Proxy-Authenticate value:
//! the digest parsers must not panic, whatever a peer writes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = sb_sip_auth::parse_credentials(text);
    let _ = sb_sip_auth::parse_challenge(text);
    let _ = sb_sip_auth::parse_auth_value(text);
});
