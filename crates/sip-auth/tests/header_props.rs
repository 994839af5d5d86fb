//! Parsing never panics on arbitrary input, and printed values parse back to themselves.

use proptest::prelude::*;
use sb_sip_auth::{parse_challenge, parse_credentials, AuthValue, Challenge, Credentials};

/// Text a peer might put in a quoted string (no CR/LF, which printing replaces).
fn text() -> impl Strategy<Value = String> {
    "[^\r\n]{0,24}"
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9.!%*_+`'~-]{1,12}"
}

proptest! {
    #[test]
    fn arbitrary_input_never_panics(s in any::<String>()) {
        let _ = parse_credentials(&s);
        let _ = parse_challenge(&s);
    }

    #[test]
    fn near_miss_input_never_panics(s in "(Digest|digest|Basic)?[ ,=\"\\\\a-z0-9\t\r\n]{0,60}") {
        let _ = parse_credentials(&s);
        let _ = parse_challenge(&s);
    }

    #[test]
    fn credentials_round_trip(
        username in text(), realm in text(), nonce in text(), uri in text(),
        response in token(), cnonce in text(), nc in 1u32.., opaque in prop::option::of(text()),
        algorithm in prop::option::of(token()),
    ) {
        let c = Credentials {
            username, realm, nonce, uri, response, algorithm, opaque,
            cnonce: Some(cnonce),
            qop: Some("auth".into()),
            nc: Some(format!("{nc:08x}")),
            other: Vec::new(),
        };
        prop_assert_eq!(parse_credentials(&c.to_string()), Ok(AuthValue::Digest(c)));
    }

    #[test]
    fn challenge_round_trip(
        realm in text(), nonce in text(), opaque in prop::option::of(text()),
        stale in any::<bool>(), algorithm in prop::option::of(token()),
    ) {
        let c = Challenge {
            realm, nonce, opaque, stale, algorithm,
            qop: vec!["auth".into()],
            domain: None,
            other: Vec::new(),
        };
        prop_assert_eq!(parse_challenge(&c.to_string()), Ok(AuthValue::Digest(c)));
    }
}
