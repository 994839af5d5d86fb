//! Answering real-style offers (RFC 3264) and reading the agreed facts back.

mod common;
use common::*;
use sb_sdp::*;

fn te_pts(a: &Answer) -> Vec<u8> {
    a.telephone_events.iter().map(|t| t.theirs.get()).collect()
}

/// (send payload type, receive payload type, clock rate) of a negotiated telephone-event.
fn te_of(t: TelephoneEvent) -> (u8, u8, u32) {
    (t.send_pt.get(), t.recv_pt.get(), t.clock_rate)
}

fn pt(n: u8) -> Pt {
    Pt::new(n).unwrap()
}

/// Answers, checks the answer survives its own printer, and returns it with the facts
/// as the answerer (us) and as the offerer (the peer) would read them.
fn exchange(offer: &str, caps: &Capabilities, ice: bool) -> (Answer, Stream, Stream) {
    let offer = sdp(offer);
    let answer = answer(&offer, caps, &local(ice)).unwrap();
    let printed = answer.sdp.to_string();
    assert_eq!(parse(printed.as_bytes()).unwrap(), answer.sdp);
    assert_eq!(answer.sdp.media.len(), offer.media.len());
    let ours = negotiated(&offer, &answer.sdp, Role::Answerer).unwrap();
    let theirs = negotiated(&offer, &answer.sdp, Role::Offerer).unwrap();
    assert_eq!(ours.streams.len(), 1);
    (answer, ours.streams[0].clone(), theirs.streams[0].clone())
}

#[test]
fn gateway_g711_offer() {
    let (a, us, gw) = exchange(GATEWAY_G711, &gateway_caps(), false);
    let names: Vec<&str> = a.codecs.iter().map(|c| c.codec.name.as_str()).collect();
    assert_eq!(names, ["PCMU", "PCMA"]);
    assert_eq!(te_pts(&a), [101]);
    assert_eq!(a.sdp.media[0].formats, ["0", "8", "101"]);
    assert_eq!(a.direction, Direction::SendRecv);
    assert!(a.crypto.is_none() && !a.rtcp_mux);
    let printed = a.sdp.to_string();
    assert!(printed.contains("a=fmtp:101 0-15\r\n"), "{printed}");
    assert!(printed.contains("a=ptime:20\r\n"));
    assert!(!printed.contains("ice-"));
    assert_eq!(us.codec.name, "PCMU");
    assert_eq!((us.send_pt, us.recv_pt), (pt(0), pt(0)));
    assert_eq!(us.telephone_event.map(te_of), Some((101, 101, 8000)));
    assert_eq!(
        (us.remote_address.as_str(), us.remote_port),
        ("198.51.100.20", 16384)
    );
    assert_eq!(us.remote_rtcp_port, 16385);
    assert_eq!(us.remote_rtcp_address, "198.51.100.20");
    assert_eq!(us.remote_ptime, Some(20));
    assert_eq!(us.direction, Direction::SendRecv);
    assert_eq!(
        (gw.remote_address.as_str(), gw.remote_port),
        ("192.0.2.1", 20000)
    );
}

#[test]
fn baresip_sdes_offer_keeps_its_payload_types_and_order() {
    let (a, us, peer) = exchange(BARESIP_SDES, &client_caps(), true);
    let maps: Vec<(&str, u8, u8)> = a
        .codecs
        .iter()
        .map(|c| (c.codec.name.as_str(), c.theirs.get(), c.ours.get()))
        .collect();
    // The offerer's order and payload types; our opus PT differs and is recorded.
    assert_eq!(maps, [("opus", 111, 100), ("G722", 9, 9), ("PCMU", 0, 0)]);
    assert_eq!(a.sdp.media[0].formats, ["111", "9", "0", "101"]);
    assert!(a.rtcp_mux);
    let (theirs, ours) = a.crypto.clone().unwrap();
    assert_eq!(
        (theirs.tag, &theirs.suite),
        (1, &CryptoSuite::AesCm128HmacSha1_80)
    );
    assert_eq!(ours.tag, 1);
    assert_eq!(
        ours.keys[0].decode().unwrap(),
        (1..=30).collect::<Vec<u8>>()
    );
    let printed = a.sdp.to_string();
    assert!(
        printed.contains("m=audio 20000 RTP/SAVP 111 9 0 101\r\n"),
        "{printed}"
    );
    assert!(printed.contains("a=rtcp-mux\r\n"));
    assert!(printed.contains("a=ice-ufrag:sbUf\r\n"));
    assert!(printed.contains("a=ice-lite\r\n"));
    assert!(printed.contains("a=candidate:1 1 UDP 2130706431 192.0.2.1 20000 typ host\r\n"));
    assert_eq!(us.codec.name, "opus");
    assert_eq!(us.send_pt, pt(111));
    // Opus with only telephone-event/8000: the events keep their own rate.
    assert_eq!(us.telephone_event.map(te_of), Some((101, 101, 8000)));
    assert!(us.rtcp_mux);
    assert_eq!(
        us.remote_rtcp_port, 10002,
        "rtcp-mux: RTCP goes to the RTP port"
    );
    let srtp = us.srtp.unwrap();
    assert_eq!(srtp.suite, CryptoSuite::AesCm128HmacSha1_80);
    assert_eq!(
        srtp.remote.key_salt,
        "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
    );
    assert_eq!(srtp.local, ours.keys[0]);
    let peer_srtp = peer.srtp.unwrap();
    assert_eq!(
        (peer_srtp.local, peer_srtp.remote),
        (srtp.remote, srtp.local)
    );
    let ice = us.remote_ice.unwrap();
    assert_eq!(
        (ice.ufrag.as_str(), ice.pwd.as_str()),
        ("Xy7q", "q9Vv2bMx3h1kq8WzX0r4TnP1")
    );
    assert_eq!(ice.candidates.len(), 2);
    assert!(!ice.lite);
    assert!(peer.remote_ice.unwrap().lite);
}

#[test]
fn linphone_avpf_offer_without_crypto() {
    let (a, us, _) = exchange(LINPHONE, &gateway_caps(), false);
    let names: Vec<&str> = a.codecs.iter().map(|c| c.codec.name.as_str()).collect();
    assert_eq!(names, ["PCMU", "PCMA"]);
    // telephone-event matched by rate: 100 is the 8 kHz one, not 101 (48 kHz).
    assert_eq!(te_pts(&a), [100]);
    assert_eq!(us.remote_rtcp_port, 7079);
    assert_eq!(us.telephone_event.map(te_of), Some((100, 100, 8000)));
    // The client side refuses plain RTP.
    let e = answer(&sdp(LINPHONE), &client_caps(), &local(false)).unwrap_err();
    assert_eq!(e.reasons, [(0, Rejection::PlainRtp)]);
    assert!(e.to_string().contains("m-line 0: plain RTP is not allowed"));
    assert_eq!(e.warning_code(), 302);
}

#[test]
fn chrome_sdes_offer_picks_first_supported_suite_and_rejects_data_channel() {
    let (a, us, _) = exchange(CHROME_SDES, &client_caps(), true);
    let (theirs, ours) = a.crypto.clone().unwrap();
    // AEAD_AES_256_GCM is offered first but not enabled: the first we support is tag 2.
    assert_eq!(
        (theirs.tag, &theirs.suite),
        (2, &CryptoSuite::AeadAes128Gcm)
    );
    assert_eq!(ours.keys[0].decode().unwrap().len(), 28);
    assert_eq!(a.rejected, [(1, Rejection::Duplicate)]);
    let data = &a.sdp.media[1];
    assert_eq!(
        (data.port, data.formats.as_slice()),
        (0, &["webrtc-datachannel".to_string()][..])
    );
    assert!(data.attributes.contains(&Attribute::Mid("1".into())));
    assert!(a.sdp.media[0]
        .attributes
        .contains(&Attribute::Mid("0".into())));
    let names: Vec<&str> = a.codecs.iter().map(|c| c.codec.name.as_str()).collect();
    assert_eq!(names, ["opus", "G722", "PCMU", "PCMA"]);
    // One telephone-event per rate of an answered codec (RFC 4733 §7.1.1).
    assert_eq!(te_pts(&a), [110, 126]);
    assert_eq!(a.sdp.media[0].formats, ["111", "9", "0", "8", "110", "126"]);
    assert_eq!(us.telephone_event.map(te_of), Some((110, 110, 48000)));
    assert_eq!(us.remote_address, "203.0.113.50");
    assert_eq!(us.remote_ice.unwrap().candidates.len(), 3);
}

#[test]
fn dtls_only_offer_is_refused_with_reason() {
    let e = answer(&sdp(CHROME_DTLS), &client_caps(), &local(true)).unwrap_err();
    assert_eq!(
        e.reasons,
        [(0, Rejection::Proto("UDP/TLS/RTP/SAVPF".into()))]
    );
}

#[test]
fn crypto_refusals_say_why() {
    let base = "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\n";
    let key = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";
    let cases = [
        (
            format!("a=crypto:1 F8_128_HMAC_SHA1_80 inline:{key}"),
            "unknown suite F8_128_HMAC_SHA1_80",
        ),
        (
            format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^31|1:8"),
            "MKI on tag 1 longer than 4 bytes",
        ),
        (
            format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key};inline:{key}"),
            "2 master keys",
        ),
        (
            format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key} UNENCRYPTED_SRTP"),
            "session parameters UNENCRYPTED_SRTP",
        ),
        (
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUFBQQ==".to_string(),
            "not 30 bytes",
        ),
        ("a=sendrecv".to_string(), "no a=crypto"),
    ];
    for (line, why) in cases {
        let offer = sdp(&format!("{base}{line}\r\n"));
        let e = answer(&offer, &client_caps(), &local(false)).unwrap_err();
        assert!(e.to_string().contains(why), "{line}: {e}");
        assert_eq!(e.warning_code(), 306);
    }
    // A 4-byte MKI is within what we handle: accepted, echoed in our key.
    let offer = sdp(&format!(
        "{base}a=crypto:5 AES_CM_128_HMAC_SHA1_32 inline:{key}|2^20|7:4\r\n"
    ));
    let a = answer(&offer, &client_caps(), &local(false)).unwrap();
    let (theirs, ours) = a.crypto.unwrap();
    assert_eq!(
        theirs.keys[0].mki,
        Some(Mki {
            value: 7,
            length: 4
        })
    );
    assert_eq!(theirs.keys[0].lifetime.unwrap().packets(), 1 << 20);
    assert_eq!(ours.keys[0].mki.map(|m| m.length), Some(4));
    assert_eq!(ours.tag, 5);
}

#[test]
fn no_common_codec_and_disabled_streams() {
    let offer = sdp(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
        m=audio 0 RTP/AVP 0\r\nm=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
        m=audio 4000 RTP/AVP 18 96\r\na=rtpmap:96 AMR/8000\r\n",
    );
    let e = answer(&offer, &gateway_caps(), &local(false)).unwrap_err();
    assert_eq!(
        e.reasons,
        [
            (0, Rejection::Disabled),
            (1, Rejection::Media("video".into())),
            (2, Rejection::NoCodec)
        ]
    );
    assert_eq!(
        e.warning_code(),
        305,
        "the audio stream's reason, not the video's"
    );
}

#[test]
fn second_audio_stream_and_video_rejected_with_port_zero_in_order() {
    let offer = sdp(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
        m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
        m=audio 4000 RTP/AVP 8\r\nm=audio 4002 RTP/AVP 0\r\n",
    );
    let a = answer(&offer, &gateway_caps(), &local(false)).unwrap();
    let ports: Vec<u16> = a.sdp.media.iter().map(|m| m.port).collect();
    assert_eq!(ports, [0, 20000, 0]);
    assert_eq!(a.sdp.media[0].media, "video");
    assert_eq!(a.sdp.media[0].formats, ["96"]);
    assert_eq!(a.index, 1);
    let s = negotiated(&offer, &a.sdp, Role::Answerer).unwrap();
    assert_eq!(s.streams.len(), 1);
    assert_eq!(
        (s.streams[0].index, s.streams[0].codec.name.as_str()),
        (1, "PCMA")
    );
}

/// Hold and resume re-offers from a client, as RFC 6337 §5 describes them.
#[test]
fn hold_and_resume_re_offers() {
    let base = |version: u32, c: &str, dir: &str| {
        format!(
            "v=0\r\no=- 5 {version} IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 {c}\r\nt=0 0\r\n\
             m=audio 4000 RTP/AVP 0\r\n{dir}"
        )
    };
    let cases = [
        (
            base(2, "192.0.2.9", "a=sendonly\r\n"),
            Direction::RecvOnly,
            true,
            Direction::RecvOnly,
        ),
        (
            base(3, "192.0.2.9", "a=inactive\r\n"),
            Direction::Inactive,
            true,
            Direction::Inactive,
        ),
        // RFC 2543 hold: the offerer cannot receive, so we do not send.
        (
            base(4, "0.0.0.0", ""),
            Direction::RecvOnly,
            true,
            Direction::RecvOnly,
        ),
        (
            base(5, "0.0.0.0", "a=recvonly\r\n"),
            Direction::Inactive,
            true,
            Direction::Inactive,
        ),
        (
            base(6, "192.0.2.9", "a=recvonly\r\n"),
            Direction::SendOnly,
            false,
            Direction::SendOnly,
        ),
        (
            base(7, "192.0.2.9", "a=sendrecv\r\n"),
            Direction::SendRecv,
            false,
            Direction::SendRecv,
        ),
        (
            base(8, "192.0.2.9", ""),
            Direction::SendRecv,
            false,
            Direction::SendRecv,
        ),
    ];
    for (text, answered, hold, ours) in cases {
        let offer = sdp(&text);
        assert_eq!(is_hold(&offer, &offer.media[0]), hold, "{text}");
        let a = answer(&offer, &gateway_caps(), &local(false)).unwrap();
        assert_eq!(a.direction, answered, "{text}");
        assert!(a
            .sdp
            .to_string()
            .contains(&format!("a={}\r\n", answered.as_str())));
        let s = negotiated(&offer, &a.sdp, Role::Answerer).unwrap();
        assert_eq!(s.streams[0].direction, ours, "{text}");
        assert_eq!(s.streams[0].remote_hold, hold);
    }
}

#[test]
fn we_hold_the_peer_by_answering_sendonly() {
    let mut caps = gateway_caps();
    caps.direction = Direction::SendOnly;
    let a = answer(&sdp(GATEWAY_G711), &caps, &local(false)).unwrap();
    assert_eq!(a.direction, Direction::SendOnly);
    assert_eq!(
        answer_direction(Direction::RecvOnly, Direction::SendOnly),
        Direction::SendOnly
    );
    assert_eq!(
        answer_direction(Direction::SendOnly, Direction::SendOnly),
        Direction::Inactive
    );
}

#[test]
fn negotiated_as_offerer_uses_the_answerers_payload_types() {
    // We offered opus as 100; the answer maps it to 111: we send 111, receive 100.
    let offer = sdp("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
        m=audio 20000 RTP/AVP 100 0 101\r\na=rtpmap:100 opus/48000/2\r\na=rtpmap:101 telephone-event/48000\r\n");
    let ans = sdp("v=0\r\no=- 9 1 IN IP4 192.0.2.50\r\ns=-\r\nt=0 0\r\n\
        m=audio 30000 RTP/AVP 111 96\r\nc=IN IP4 192.0.2.50\r\na=rtpmap:111 OPUS/48000/2\r\n\
        a=rtpmap:96 telephone-event/48000\r\na=rtcp:30005 IN IP4 192.0.2.51\r\n");
    let s = negotiated(&offer, &ans, Role::Offerer).unwrap();
    let st = &s.streams[0];
    assert_eq!((st.send_pt, st.recv_pt), (pt(111), pt(100)));
    assert_eq!(st.codec.pt, pt(100));
    assert_eq!(st.telephone_event.map(te_of), Some((96, 101, 48000)));
    assert_eq!(
        (
            st.remote_address.as_str(),
            st.remote_port,
            st.remote_rtcp_port
        ),
        ("192.0.2.50", 30000, 30005)
    );
    assert_eq!(st.remote_rtcp_address, "192.0.2.51");
    let short = sdp("v=0\r\no=- 9 1 IN IP4 192.0.2.50\r\ns=-\r\nt=0 0\r\n");
    assert_eq!(
        negotiated(&offer, &short, Role::Offerer).unwrap_err(),
        NegotiationError::SectionCount {
            offer: 1,
            answer: 0
        }
    );
}

/// Mediation's two legs: our offer toward a gateway, answered by a G.711-only peer; and
/// an SRTP offer toward a client, answered by a peer with our client capabilities.
#[test]
fn our_offers_answered_and_read_back_consistently() {
    let opts = OfferOptions {
        proto: Proto::RtpAvp,
        rtcp_mux: false,
        ptime: Some(20),
    };
    let ours = offer(&client_caps(), &local(false), &opts);
    let text = ours.to_string();
    assert!(
        text.contains("m=audio 20000 RTP/AVP 100 9 0 8 101 102\r\n"),
        "{text}"
    );
    assert!(text.contains("a=rtpmap:100 opus/48000/2\r\n"));
    assert!(text.contains("a=rtpmap:101 telephone-event/48000\r\n"));
    assert!(text.contains("a=rtpmap:102 telephone-event/8000\r\n"));
    assert!(!text.contains("crypto"));
    let a = answer(&ours, &gateway_caps(), &local(false)).unwrap();
    assert_eq!(a.sdp.media[0].formats, ["0", "8", "102"]);
    let s = negotiated(&ours, &a.sdp, Role::Offerer).unwrap();
    assert_eq!(s.streams[0].codec.name, "PCMU");
    assert_eq!(
        s.streams[0].telephone_event.map(te_of),
        Some((102, 102, 8000))
    );

    let opts = OfferOptions {
        proto: Proto::RtpSavp,
        rtcp_mux: true,
        ptime: None,
    };
    let ours = offer(&client_caps(), &local(true), &opts);
    let text = ours.to_string();
    assert_eq!(text.matches("a=crypto:").count(), 3, "{text}");
    assert!(text.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"));
    let a = answer(&ours, &client_caps(), &local(true)).unwrap();
    let st = &negotiated(&ours, &a.sdp, Role::Offerer).unwrap().streams[0];
    assert_eq!(st.codec.name, "opus");
    assert!(st.rtcp_mux);
    assert_eq!(
        st.srtp.as_ref().unwrap().suite,
        CryptoSuite::AesCm128HmacSha1_80
    );
    assert_eq!(st.remote_ice.as_ref().unwrap().ufrag, "sbUf");
}

/// Mediation holds the gateway leg (during a transfer) and resumes it.
#[test]
fn hold_and_resume_reoffers_we_send() {
    let opts = OfferOptions {
        proto: Proto::RtpAvp,
        rtcp_mux: false,
        ptime: None,
    };
    let first = offer(&gateway_caps(), &local(false), &opts);
    let held = first.reoffer_with_direction(0, Direction::SendOnly);
    assert_eq!(held.origin.session_version, 2);
    assert!(is_hold(&held, &held.media[0]));
    let a = answer(&held, &gateway_caps(), &local(false)).unwrap();
    assert_eq!(a.direction, Direction::RecvOnly);
    let st = &negotiated(&held, &a.sdp, Role::Offerer).unwrap().streams[0];
    assert_eq!(st.direction, Direction::SendOnly);
    let resumed = held.reoffer_with_direction(0, Direction::SendRecv);
    assert_eq!(resumed.origin.session_version, 3);
    assert!(!is_hold(&resumed, &resumed.media[0]));
    let count = resumed.media[0]
        .attributes
        .iter()
        .filter(|a| matches!(a, Attribute::Direction(_)))
        .count();
    assert_eq!(count, 1);
    let a = answer(&resumed, &gateway_caps(), &local(false)).unwrap();
    assert_eq!(a.direction, Direction::SendRecv);
}

#[test]
fn codec_matching_by_name_rate_and_channels() {
    let head = "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 96 97 98\r\n";
    let mut caps = client_caps();
    caps.allow_plain_rtp = true;
    // Opus without "/2" still matches; stereo PCMU and G722 at 16 kHz do not.
    let offer = sdp(&format!(
        "{head}a=rtpmap:96 PCMU/8000/2\r\na=rtpmap:97 g722/16000\r\na=rtpmap:98 OPUS/48000\r\n"
    ));
    let a = answer(&offer, &caps, &local(false)).unwrap();
    let maps: Vec<(&str, u8)> = a
        .codecs
        .iter()
        .map(|c| (c.codec.name.as_str(), c.theirs.get()))
        .collect();
    assert_eq!(maps, [("opus", 98)]);
    // The answer keeps the offerer's spelling in its rtpmap.
    assert!(a.sdp.to_string().contains("a=rtpmap:98 OPUS/48000\r\n"));
}

#[test]
fn vendor_gateway_media_address_and_session_level_direction() {
    let (a, us, _) = exchange(GATEWAY_VENDOR, &gateway_caps(), false);
    let names: Vec<&str> = a.codecs.iter().map(|c| c.codec.name.as_str()).collect();
    assert_eq!(names, ["PCMA", "PCMU"], "the offerer's order, CN dropped");
    assert!(a.telephone_events.is_empty());
    assert_eq!(us.codec.name, "PCMA");
    assert_eq!(us.telephone_event, None);
    // The media-level c= wins over the session's.
    assert_eq!(us.remote_address, "198.51.100.41");
    // A session-level a=sendonly holds every section that does not say otherwise.
    let held = sdp(&GATEWAY_VENDOR.replace("a=sendrecv\r\n", "a=sendonly\r\n"));
    assert!(is_hold(&held, &held.media[0]));
    let a = answer(&held, &gateway_caps(), &local(false)).unwrap();
    assert_eq!(a.direction, Direction::RecvOnly);
}

/// Found by the fuzz run: a second m-line whose only format is a vertical tab. We refuse
/// the stream (port 0) and copy its format; the printed answer must read back the same, so
/// a vertical tab at the end of a line is content, not trimmed away as white space.
#[test]
fn refused_stream_with_an_odd_format_reparses() {
    let offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
                 m=audio 4000 RTP/AVP 0\r\nm=audio 4002 R \u{b} 0\r\n";
    let offer = sdp(offer);
    let a = answer(&offer, &gateway_caps(), &local(false)).unwrap();
    assert_eq!(a.sdp.media[1].port, 0, "the unknown profile is refused");
    let printed = a.sdp.to_string();
    assert_eq!(parse(printed.as_bytes()).unwrap(), a.sdp);
}
