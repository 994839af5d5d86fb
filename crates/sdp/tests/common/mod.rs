//! Offers written in the style of the clients and gateways mediation meets. They are ours,
//! modelled on what each kind of peer sends (attribute sets, order, line ends), not captures.
#![allow(dead_code)]

use sb_sdp::*;

/// A PSTN media gateway: G.711 only, telephone-event, LF line ends, ptime, no t= bounds.
pub const GATEWAY_G711: &str = "v=0\n\
o=MediaGW 1706 1 IN IP4 198.51.100.20\n\
s=Gateway Call\n\
c=IN IP4 198.51.100.20\n\
t=0 0\n\
m=audio 16384 RTP/AVP 0 8 101\n\
a=rtpmap:0 PCMU/8000\n\
a=rtpmap:8 PCMA/8000\n\
a=rtpmap:101 telephone-event/8000\n\
a=fmtp:101 0-15\n\
a=ptime:20\n\
a=sendrecv\n";

/// A baresip-style offer: Opus, G722, PCMU, SDES (two suites), rtcp-mux, a=rtcp, ICE
/// host candidate, CRLF and a trailing space on one line.
pub const BARESIP_SDES: &str = "v=0\r\n\
o=- 1183718392 2304958713 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
a=tool:baresip 1.0.0\r\n\
m=audio 10002 RTP/SAVP 111 9 0 101\r\n\
b=AS:96 \r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=fmtp:111 stereo=1;sprop-stereo=1\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=rtcp:10003\r\n\
a=rtcp-mux\r\n\
a=sendrecv\r\n\
a=label:1\r\n\
a=ssrc:3842519827 cname:a1b2c3d4-e5f6\r\n\
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31\r\n\
a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:bmV4dCBrZXkgc2FsdCBmb3IgdGhlIDMyIHN1aXRl|2^31\r\n\
a=ice-ufrag:Xy7q\r\n\
a=ice-pwd:q9Vv2bMx3h1kq8WzX0r4TnP1\r\n\
a=candidate:1 1 UDP 2130706431 192.0.2.10 10002 typ host\r\n\
a=candidate:2 1 UDP 1694498815 203.0.113.7 41234 typ srflx raddr 192.0.2.10 rport 10002\r\n";

/// A linphone-style offer: several codecs incl. ones we lack, telephone-event at two
/// rates, rtcp-fb and other attributes we only keep, AVPF, no crypto.
pub const LINPHONE: &str = "v=0\r\n\
o=alice 3203 1190 IN IP4 192.0.2.30\r\n\
s=Talk\r\n\
c=IN IP4 192.0.2.30\r\n\
t=0 0\r\n\
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r\n\
a=record:off\r\n\
m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=fmtp:96 useinbandfec=1\r\n\
a=rtpmap:97 SILK/16000\r\n\
a=rtpmap:98 speex/16000\r\n\
a=fmtp:98 vbr=on\r\n\
a=rtpmap:18 G729/8000\r\n\
a=fmtp:18 annexb=yes\r\n\
a=rtpmap:101 telephone-event/48000\r\n\
a=rtpmap:99 telephone-event/16000\r\n\
a=rtpmap:100 telephone-event/8000\r\n\
a=rtcp:7079\r\n\
a=rtcp-fb:* trr-int 1000\r\n\
a=rtcp-fb:* ccm tmmbr\r\n";

/// A Chrome-style WebRTC offer with legacy SDES (RTP/SAVPF + a=crypto), ICE with
/// mDNS-hidden host and relay candidates, rtcp-mux, mid, bundle group, extmap, ssrc.
pub const CHROME_SDES: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0\r\n\
a=extmap-allow-mixed\r\n\
a=msid-semantic: WMS stream0\r\n\
m=audio 9 RTP/SAVPF 111 63 9 0 8 13 110 126\r\n\
c=IN IP4 203.0.113.50\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=candidate:842163049 1 udp 1677729535 203.0.113.50 50113 typ srflx raddr 0.0.0.0 rport 0 generation 0 network-cost 999\r\n\
a=candidate:1467250027 1 udp 2122260223 3e2b1c9a-6f1d-4b1e-9d3c-0c6f0a1b2c3d.local 50113 typ host generation 0 network-id 1\r\n\
a=candidate:3 1 udp 41885439 198.51.100.99 3478 typ relay raddr 203.0.113.50 rport 50113 generation 0\r\n\
a=ice-ufrag:4ZcD\r\n\
a=ice-pwd:2/1muCWoOi3uLifh0NuRHlb3\r\n\
a=ice-options:trickle\r\n\
a=mid:0\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
a=sendrecv\r\n\
a=msid:stream0 track0\r\n\
a=rtcp-mux\r\n\
a=crypto:1 AEAD_AES_256_GCM inline:QUVTLTI1Ni1HQ00ga2V5IG1hdGVyaWFsIGZvciB0ZXN0cyEhISEhISEhISE=\r\n\
a=crypto:2 AEAD_AES_128_GCM inline:Y2hyb21lIGdjbSBrZXkgYW5kIHNhbHQhISEhIQ==\r\n\
a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:Y2hyb21lIGFlcyBjbSBrZXkgYW5kIHNhbHQgMzBi\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=rtcp-fb:111 transport-cc\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:63 red/48000/2\r\n\
a=fmtp:63 111/111\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:13 CN/8000\r\n\
a=rtpmap:110 telephone-event/48000\r\n\
a=rtpmap:126 telephone-event/8000\r\n\
a=ssrc:1001 cname:yvKy0XlWr3YsmK7q\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
c=IN IP4 0.0.0.0\r\n\
a=mid:1\r\n\
a=sctp-port:5000\r\n";

/// Chrome's default DTLS-SRTP offer, which this crate does not answer.
pub const CHROME_DTLS: &str = "v=0\r\n\
o=- 1 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\n\
c=IN IP4 0.0.0.0\r\n\
a=ice-ufrag:abcd\r\n\
a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
a=fingerprint:sha-256 49:66:12:17:0D:1C:91:AE:57:4C:C6:36:DD:D5:97:D2:7D:62:C9:9A:7F:B9:A3:F4:70:03:E7:43:91:73:23:5E\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\n";

/// An older TDM gateway: vendor attributes, A-law preferred, session-level direction,
/// an `i=` line, a media-level `c=`, ptime as a fraction, and no telephone-event.
pub const GATEWAY_VENDOR: &str = "v=0\r\n\
o=CiscoSystemsSIP-GW-UserAgent 4433 5411 IN IP4 198.51.100.40\r\n\
s=SIP Call\r\n\
i=trunk group 7\r\n\
c=IN IP4 198.51.100.40\r\n\
t=0 0\r\n\
a=sendrecv\r\n\
m=audio 18290 RTP/AVP 8 0 19\r\n\
c=IN IP4 198.51.100.41\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:19 CN/8000\r\n\
a=ptime:20.0\r\n\
a=silenceSupp:off - - - -\r\n\
a=X-sqn:0\r\n\
a=X-cap: 1 audio RTP/AVP 100\r\n\
a=X-cpar: a=rtpmap:100 X-NSE/8000\r\n";

pub fn codec(name: &str, rate: u32, channels: u8, pt: u8) -> Codec {
    Codec {
        name: name.into(),
        clock_rate: rate,
        channels,
        pt: Pt::new(pt).unwrap(),
    }
}

/// The gateway side of mediation: G.711 only, plain RTP.
pub fn gateway_caps() -> Capabilities {
    Capabilities {
        codecs: vec![codec("PCMU", 8000, 1, 0), codec("PCMA", 8000, 1, 8)],
        telephone_event_rates: vec![8000],
        crypto_suites: vec![],
        max_mki_len: 0,
        allow_plain_rtp: true,
        direction: Direction::SendRecv,
    }
}

/// The client side: Opus (our PT 100), G722, G.711, SDES mandatory.
pub fn client_caps() -> Capabilities {
    Capabilities {
        codecs: vec![
            codec("opus", 48000, 2, 100),
            codec("G722", 8000, 1, 9),
            codec("PCMU", 8000, 1, 0),
            codec("PCMA", 8000, 1, 8),
        ],
        telephone_event_rates: vec![8000, 48000],
        crypto_suites: vec![
            CryptoSuite::AesCm128HmacSha1_80,
            CryptoSuite::AesCm128HmacSha1_32,
            CryptoSuite::AeadAes128Gcm,
        ],
        max_mki_len: 4,
        allow_plain_rtp: false,
        direction: Direction::SendRecv,
    }
}

pub fn local(ice: bool) -> LocalMedia {
    LocalMedia {
        address: "192.0.2.1".into(),
        port: 20000,
        rtcp_port: None,
        session_id: "77".into(),
        session_version: 1,
        srtp_key_material: (1..=44).collect(),
        ice: ice.then(|| LocalIce {
            ufrag: "sbUf".into(),
            pwd: "sbpasswordsbpasswordsb".into(),
            lite: true,
            candidates: vec![Candidate {
                foundation: "1".into(),
                component: 1,
                transport: "UDP".into(),
                priority: 2130706431,
                address: "192.0.2.1".into(),
                port: 20000,
                kind: CandidateType::Host,
                related_address: None,
                related_port: None,
                extensions: vec![],
            }],
        }),
    }
}

pub fn sdp(text: &str) -> SessionDescription {
    parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"))
}
