//! Which telephone-event an answer takes, and at what rate both ends read it back
//! (RFC 4733 §2.1 and §7.1.1, RFC 7874 §3): the one at the chosen codec's rate when the
//! offer has it, else the 8000 Hz one, else none.

mod common;
use common::*;
use sb_sdp::*;

/// An offer of `formats` with their rtpmaps (`pt name/rate[/channels]`).
fn offer_of(maps: &[(u8, &str)]) -> SessionDescription {
    let pts: Vec<String> = maps.iter().map(|(pt, _)| pt.to_string()).collect();
    let mut text = format!(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
         m=audio 10000 RTP/AVP {}\r\n",
        pts.join(" ")
    );
    for (pt, map) in maps {
        text.push_str(&format!("a=rtpmap:{pt} {map}\r\n"));
    }
    sdp(&text)
}

/// Plain-RTP client capabilities with the given codecs, telephone-event at 8 and 48 kHz.
fn caps(codecs: Vec<Codec>) -> Capabilities {
    Capabilities {
        codecs,
        allow_plain_rtp: true,
        ..client_caps()
    }
}

fn opus() -> Codec {
    codec("opus", 48000, 2, 100)
}

fn pcmu() -> Codec {
    codec("PCMU", 8000, 1, 0)
}

struct Case {
    name: &'static str,
    offer: &'static [(u8, &'static str)],
    codecs: Vec<Codec>,
    /// Telephone-event rates we take.
    rates: Vec<u32>,
    /// The chosen codec's name.
    codec: &'static str,
    /// The telephone-event payload types in the answer, in its order.
    answered: &'static [u8],
    /// What both ends read back: (payload type, clock rate).
    negotiated: Option<(u8, u32)>,
}

#[test]
fn telephone_event_rate_table() {
    let cases = [
        Case {
            name: "Opus with telephone-event/8000 only (baresip, most softphones)",
            offer: &[(111, "opus/48000/2"), (101, "telephone-event/8000")],
            codecs: vec![opus(), pcmu()],
            rates: vec![48000, 8000],
            codec: "opus",
            answered: &[101],
            negotiated: Some((101, 8000)),
        },
        Case {
            name: "Opus with telephone-event/8000, Opus the only codec we have",
            offer: &[(111, "opus/48000/2"), (101, "telephone-event/8000")],
            codecs: vec![opus()],
            rates: vec![48000, 8000],
            codec: "opus",
            answered: &[101],
            negotiated: Some((101, 8000)),
        },
        Case {
            name: "Opus with telephone-event/48000 and /8000 (browsers): 48000 wins",
            offer: &[
                (111, "opus/48000/2"),
                (110, "telephone-event/48000"),
                (126, "telephone-event/8000"),
            ],
            codecs: vec![opus()],
            rates: vec![48000, 8000],
            codec: "opus",
            answered: &[110],
            negotiated: Some((110, 48000)),
        },
        Case {
            name: "Opus and PCMU with both rates: one per answered codec, Opus's read back",
            offer: &[
                (111, "opus/48000/2"),
                (0, "PCMU/8000"),
                (126, "telephone-event/8000"),
                (110, "telephone-event/48000"),
            ],
            codecs: vec![opus(), pcmu()],
            rates: vec![48000, 8000],
            codec: "opus",
            answered: &[126, 110],
            negotiated: Some((110, 48000)),
        },
        Case {
            name: "PCMU with telephone-event/8000",
            offer: &[(0, "PCMU/8000"), (101, "telephone-event/8000")],
            codecs: vec![opus(), pcmu()],
            rates: vec![48000, 8000],
            codec: "PCMU",
            answered: &[101],
            negotiated: Some((101, 8000)),
        },
        Case {
            name: "PCMU offered with telephone-event/48000 only: no common rate",
            offer: &[(0, "PCMU/8000"), (110, "telephone-event/48000")],
            codecs: vec![opus(), pcmu()],
            rates: vec![48000, 8000],
            codec: "PCMU",
            answered: &[],
            negotiated: None,
        },
        Case {
            name: "Opus with telephone-event/8000 when we take events at 48 kHz only",
            offer: &[(111, "opus/48000/2"), (101, "telephone-event/8000")],
            codecs: vec![opus()],
            rates: vec![48000],
            codec: "opus",
            answered: &[],
            negotiated: None,
        },
        Case {
            name: "Opus with telephone-event/16000 only: neither its rate nor 8000",
            offer: &[(111, "opus/48000/2"), (99, "telephone-event/16000")],
            codecs: vec![opus()],
            rates: vec![48000, 16000, 8000],
            codec: "opus",
            answered: &[],
            negotiated: None,
        },
        Case {
            name: "no telephone-event offered",
            offer: &[(111, "opus/48000/2"), (0, "PCMU/8000")],
            codecs: vec![opus(), pcmu()],
            rates: vec![48000, 8000],
            codec: "opus",
            answered: &[],
            negotiated: None,
        },
    ];
    for case in cases {
        let offer = offer_of(case.offer);
        let caps = Capabilities {
            telephone_event_rates: case.rates.clone(),
            ..caps(case.codecs.clone())
        };
        let a = answer(&offer, &caps, &local(false)).unwrap();
        let answered: Vec<u8> = a.telephone_events.iter().map(|t| t.theirs.get()).collect();
        assert_eq!(answered, case.answered, "{}: answered", case.name);
        // The printed answer lists exactly those, each with its rtpmap.
        let printed = a.sdp.to_string();
        assert_eq!(
            printed.matches("telephone-event/").count(),
            case.answered.len(),
            "{}: {printed}",
            case.name
        );
        let reparsed = parse(printed.as_bytes()).unwrap();
        for role in [Role::Answerer, Role::Offerer] {
            let s = negotiated(&offer, &reparsed, role).unwrap();
            let st = &s.streams[0];
            assert_eq!(st.codec.name, case.codec, "{}: codec", case.name);
            let te = st
                .telephone_event
                .map(|t| (t.send_pt.get(), t.recv_pt.get(), t.clock_rate));
            let want = case.negotiated.map(|(pt, rate)| (pt, pt, rate));
            assert_eq!(te, want, "{}: negotiated as {role:?}", case.name);
        }
    }
}

/// Our own offer toward a client carries telephone-event at 48 and 8 kHz; an Opus client
/// that answers with only the 8 kHz one still gets its events read at 8 kHz.
#[test]
fn our_offer_answered_with_opus_and_telephone_event_8000() {
    let opts = OfferOptions {
        proto: Proto::RtpAvp,
        rtcp_mux: false,
        ptime: None,
    };
    let ours = offer(&caps(vec![opus(), pcmu()]), &local(false), &opts);
    let text = ours.to_string();
    assert!(
        text.contains("a=rtpmap:101 telephone-event/48000\r\n"),
        "{text}"
    );
    assert!(
        text.contains("a=rtpmap:102 telephone-event/8000\r\n"),
        "{text}"
    );
    let reply = sdp(
        "v=0\r\no=- 5 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\n\
        t=0 0\r\nm=audio 10000 RTP/AVP 96 97\r\na=rtpmap:96 opus/48000/2\r\n\
        a=rtpmap:97 telephone-event/8000\r\n",
    );
    let s = negotiated(&ours, &reply, Role::Offerer).unwrap();
    let st = &s.streams[0];
    assert_eq!(st.codec.name, "opus");
    let te = st.telephone_event.expect("telephone-event/8000 taken");
    // We send with the answerer's 97 and receive on our own 102, both at 8 kHz.
    assert_eq!(
        (te.send_pt.get(), te.recv_pt.get(), te.clock_rate),
        (97, 102, 8000)
    );
}
