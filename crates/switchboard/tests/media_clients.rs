//! Two real softphones (baresip) call each other through `switchboard serve` and each hears
//! the other's tone: the server carries the signalling (registration, digest, the INVITE
//! through the proxy, the SDP untouched), the phones carry the media between themselves.
//!
//! - Secure clients: SIP over TLS, mandatory SDES-SRTP, ICE, Opus.
//! - Plain clients: SIP over UDP, RTP, G.711 µ-law: what a basic gateway or PBX speaks.
//!
//! Each phone plays its own tone (alice 1000 Hz, bob 1500 Hz) and dumps what it decoded;
//! the test checks alice's dump carries bob's tone and not her own, and the reverse, so it
//! proves who hears whom, through the codec and the encryption the call agreed.

mod support;

use std::time::Duration;

use support::softphone::{
    in_private_network, steady, tone_share, PhoneSpec, SipTransport, Softphone,
};
use support::Site;

const ALICE_HZ: f64 = 1000.0;
const BOB_HZ: f64 = 1500.0;

fn spec(user: &str, t: SipTransport, codec: &'static str, secure: bool, hz: f64) -> PhoneSpec {
    let p = PhoneSpec::user(user, &format!("{user}-secret"), t, codec).tone(hz);
    if secure {
        p.secure()
    } else {
        p
    }
}

/// alice calls bob, both talk for a few seconds, alice hangs up; returns what each decoded.
fn call_and_listen(t: SipTransport, codec: &'static str, secure: bool) {
    let site = Site::new("media-clients", "");
    site.add_user("sip:alice@127.0.0.1", "alice-secret");
    site.add_user("sip:bob@127.0.0.1", "bob-secret");
    let server = site.start();

    let mut alice = Softphone::start(&site, spec("alice", t, codec, secure, ALICE_HZ));
    let bob = Softphone::start(&site, spec("bob", t, codec, secure, BOB_HZ));
    alice.wait_registered(Duration::from_secs(30));
    bob.wait_registered(Duration::from_secs(30));

    alice.dial("sip:bob@127.0.0.1");
    let established = alice.wait_event("CALL_ESTABLISHED", Duration::from_secs(30));
    bob.wait_event("CALL_ESTABLISHED", Duration::from_secs(30));
    if secure {
        // baresip reports the negotiated SRTP suite once media is encrypted.
        let menc = alice.wait_event("CALL_MENC", Duration::from_secs(30));
        assert!(menc.contains("AES_CM_128_HMAC_SHA1"), "{menc}");
    }
    assert!(established.contains("sip:bob@127.0.0.1"), "{established}");

    // Four seconds of audio each way, then alice hangs up.
    alice.wait_decoded(4.0, Duration::from_secs(60));
    bob.wait_decoded(4.0, Duration::from_secs(60));
    alice.hangup();
    alice.wait_event("CALL_CLOSED", Duration::from_secs(30));
    bob.wait_event("CALL_CLOSED", Duration::from_secs(30));

    for (who, phone, hears, own) in [
        ("alice", &alice, BOB_HZ, ALICE_HZ),
        ("bob", &bob, ALICE_HZ, BOB_HZ),
    ] {
        let (rate, samples) = phone.decoded();
        let middle = steady(&samples, rate, 1.0, 2.0);
        assert!(
            middle.len() as f64 >= 1.5 * f64::from(rate),
            "{who} decoded too little audio: {} samples at {rate} Hz",
            samples.len()
        );
        let heard = tone_share(middle, rate, hears);
        let echo = tone_share(middle, rate, own);
        assert!(
            heard >= 0.9,
            "{who} should hear {hears} Hz: {:.0} % of 20 ms blocks carry it\n{}\n--- server ---\n{}",
            heard * 100.0,
            phone.log(),
            server.log()
        );
        assert!(echo == 0.0, "{who} hears its own {own} Hz tone back");
    }
}

#[test]
fn secure_clients_over_tls_with_srtp_ice_and_opus_hear_each_other() {
    in_private_network(|| call_and_listen(SipTransport::Tls, "opus/48000/2", true));
}

#[test]
fn plain_g711_clients_over_udp_hear_each_other() {
    in_private_network(|| call_and_listen(SipTransport::Udp, "PCMU/8000", false));
}
