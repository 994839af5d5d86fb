//! Any datagram on an SRTP port: unprotecting it as SRTP and as SRTCP, under every suite
//! and with an MKI, must not panic. Whatever the bytes, a context that does not hold the
//! key that made them refuses them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sb_srtp::{SrtpContext, SrtpSuite};

const SUITES: [SrtpSuite; 3] = [
    SrtpSuite::AesCm128HmacSha1_80,
    SrtpSuite::AesCm128HmacSha1_32,
    SrtpSuite::AeadAes128Gcm,
];

fuzz_target!(|data: &[u8]| {
    for suite in SUITES {
        let salt = vec![0x5a; suite.master_salt_len()];
        for mki in [None, Some((vec![1], 4))] {
            let mut rx = SrtpContext::new(suite, &[0x42; 16], &salt, mki)
                .expect("fixed parameters are valid");
            let _ = rx.unprotect_rtp(&mut data.to_vec());
            let _ = rx.unprotect_rtcp(&mut data.to_vec());
            // The same bytes again, now that the context may have state.
            let _ = rx.unprotect_rtp(&mut data.to_vec());
        }
    }
});
