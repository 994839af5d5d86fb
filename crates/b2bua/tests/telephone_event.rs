//! telephone-event on the client leg runs at its own rate: an Opus client that pairs
//! opus/48000 with only telephone-event/8000 (baresip, most softphones) gets its events
//! answered and read at 8 kHz; one that offers telephone-event/48000 gets that one.

mod common;

use common::*;
use sb_media_api::{Command, LegSpec, PayloadType, TelephoneEventSpec};
use sb_sip_msg::Method;

/// The client's offer of Opus with telephone-event at `te_rate` (payload type 101).
fn opus_client_sdp(te_rate: u32) -> String {
    CLIENT_SDP.replace(
        "a=rtpmap:101 telephone-event/48000",
        &format!("a=rtpmap:101 telephone-event/{te_rate}"),
    )
}

/// Connects a call whose client offered `sdp`; returns the client's 200 body and the
/// client and gateway leg specs.
fn connect(sdp: &str) -> (String, LegSpec, LegSpec) {
    let mut h = Harness::new();
    h.deliver_text(&client_invite("+15551234567", Some(sdp)), FRONT_END);
    let inv = h.one_request(GW_A, Method::Invite);
    let ok = answer(&mut h, &inv);
    let body = String::from_utf8(ok.body.clone()).unwrap();
    let cmds: Vec<Command> = h.take_media();
    let legs = add_legs(&cmds);
    let spec = |name: &str| {
        legs.iter()
            .find(|l| l.1.codec.name == name)
            .map(|l| l.1.clone())
            .unwrap_or_else(|| panic!("a {name} leg in {cmds:?}"))
    };
    (body, spec("opus"), spec("PCMU"))
}

#[test]
fn opus_client_with_telephone_event_8000_gets_events_at_8000() {
    let (body, client, gw) = connect(&opus_client_sdp(8000));
    assert!(body.contains("a=rtpmap:101 telephone-event/8000"), "{body}");
    assert_eq!(client.codec.clock_rate, 48000);
    assert_eq!(
        client.telephone_event,
        Some(TelephoneEventSpec {
            send_pt: PayloadType(101),
            recv_pt: PayloadType(101),
            clock_rate: 8000,
        })
    );
    assert_eq!(gw.telephone_event.map(|t| t.clock_rate), Some(8000));
}

#[test]
fn opus_client_with_telephone_event_48000_gets_events_at_48000() {
    let (body, client, _) = connect(&opus_client_sdp(48000));
    assert!(
        body.contains("a=rtpmap:101 telephone-event/48000"),
        "{body}"
    );
    assert_eq!(client.telephone_event.map(|t| t.clock_rate), Some(48000));
}
