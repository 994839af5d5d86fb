//! Property tests: every builder's output parses back to the same value, and no input
//! bytes make a parser or state machine panic.

use proptest::prelude::*;
use sb_rtp::rtcp::App;
use sb_rtp::{
    build_compound, demux, parse_compound, Bye, DtmfReceiver, ExtElement, Extension, NtpTime, Pt,
    ReceiveStats, ReceiverReport, ReportBlock, RtcpPacket, Rtp, RtpPacket, SdesChunk, SdesItem,
    SenderReport, Ssrc, TelephoneEvent,
};

fn ssrc() -> impl Strategy<Value = Ssrc> {
    any::<u32>().prop_map(Ssrc)
}

fn extension() -> impl Strategy<Value = Extension> {
    let one = prop::collection::vec(
        (1u8..=14, prop::collection::vec(any::<u8>(), 1..=16))
            .prop_map(|(id, data)| ExtElement { id, data }),
        0..6,
    )
    .prop_map(Extension::OneByte);
    let two = (
        0u8..16,
        prop::collection::vec(
            (1u8..=255, prop::collection::vec(any::<u8>(), 0..40))
                .prop_map(|(id, data)| ExtElement { id, data }),
            0..4,
        ),
    )
        .prop_map(|(appbits, elements)| Extension::TwoByte { appbits, elements });
    // Raw profiles that are neither RFC 8285 form; data in whole words.
    let raw = (
        any::<u16>().prop_filter("not 8285", |p| *p != 0xBEDE && p & 0xFFF0 != 0x1000),
        prop::collection::vec(any::<[u8; 4]>(), 0..4),
    )
        .prop_map(|(profile, words)| Extension::Raw {
            profile,
            data: words.concat(),
        });
    prop_oneof![one, two, raw]
}

prop_compose! {
    fn rtp()(
        marker in any::<bool>(),
        pt in 0u8..128,
        sequence in any::<u16>(),
        timestamp in any::<u32>(),
        ssrc in ssrc(),
        csrcs in prop::collection::vec(ssrc(), 0..=15),
        extension in prop::option::of(extension()),
        payload in prop::collection::vec(any::<u8>(), 0..200),
        padding in any::<u8>(),
    ) -> Rtp {
        Rtp { marker, payload_type: Pt(pt), sequence, timestamp, ssrc, csrcs, extension, payload, padding }
    }
}

fn block() -> impl Strategy<Value = ReportBlock> {
    (
        ssrc(),
        any::<u8>(),
        -0x80_0000i32..=0x7F_FFFF,
        any::<[u32; 4]>(),
    )
        .prop_map(
            |(ssrc, fraction_lost, cumulative_lost, [a, b, c, d])| ReportBlock {
                ssrc,
                fraction_lost,
                cumulative_lost,
                extended_highest_seq: a,
                jitter: b,
                last_sr: c,
                delay_since_last_sr: d,
            },
        )
}

fn rtcp_packet() -> impl Strategy<Value = RtcpPacket> {
    let blocks = || prop::collection::vec(block(), 0..=31);
    let sr = (ssrc(), any::<u64>(), any::<[u32; 3]>(), blocks()).prop_map(
        |(ssrc, ntp, [t, p, o], reports)| {
            RtcpPacket::SenderReport(SenderReport {
                ssrc,
                ntp: NtpTime(ntp),
                rtp_timestamp: t,
                packet_count: p,
                octet_count: o,
                reports,
            })
        },
    );
    let rr = (ssrc(), blocks())
        .prop_map(|(ssrc, reports)| RtcpPacket::ReceiverReport(ReceiverReport { ssrc, reports }));
    let item = (1u8..=255, prop::collection::vec(any::<u8>(), 0..=255))
        .prop_map(|(kind, value)| SdesItem { kind, value });
    let sdes = prop::collection::vec(
        (ssrc(), prop::collection::vec(item, 0..4))
            .prop_map(|(ssrc, items)| SdesChunk { ssrc, items }),
        0..=31,
    )
    .prop_map(RtcpPacket::Sdes);
    let bye = (
        prop::collection::vec(ssrc(), 0..=31),
        prop::option::of(prop::collection::vec(any::<u8>(), 1..=255)),
    )
        .prop_map(|(sources, reason)| RtcpPacket::Bye(Bye { sources, reason }));
    let app = (
        0u8..32,
        ssrc(),
        any::<[u8; 4]>(),
        prop::collection::vec(any::<[u8; 4]>(), 0..8),
    )
        .prop_map(|(subtype, ssrc, name, words)| {
            RtcpPacket::App(App {
                subtype,
                ssrc,
                name,
                data: words.concat(),
            })
        });
    let unknown = (
        (0u8..=255).prop_filter("known", |t| !(200..=204).contains(t)),
        0u8..32,
        prop::collection::vec(any::<[u8; 4]>(), 0..8),
    )
        .prop_map(|(packet_type, count, words)| RtcpPacket::Unknown {
            packet_type,
            count,
            body: words.concat(),
        });
    prop_oneof![sr, rr, sdes, bye, app, unknown]
}

proptest! {
    #[test]
    fn rtp_build_then_parse_is_identity(p in rtp()) {
        let bytes = p.to_bytes().unwrap();
        let parsed = RtpPacket::parse(&bytes).unwrap();
        prop_assert_eq!(parsed.to_owned(), p);
    }

    #[test]
    fn rtcp_build_then_parse_is_identity(ps in prop::collection::vec(rtcp_packet(), 1..5)) {
        let bytes = build_compound(&ps).unwrap();
        prop_assert_eq!(parse_compound(&bytes).unwrap(), ps);
    }

    #[test]
    fn telephone_event_round_trip(event in any::<u8>(), end in any::<bool>(), volume in 0u8..64, duration in any::<u16>()) {
        let ev = TelephoneEvent { event, end, volume, duration };
        prop_assert_eq!(TelephoneEvent::parse(&ev.to_bytes()).unwrap(), ev);
    }

    #[test]
    fn any_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        // Whatever parses rebuilds, and the rebuilt bytes parse to the same value (the
        // fuzz target asserts the same).
        if let Ok(p) = RtpPacket::parse(&bytes) {
            let owned = p.to_owned();
            let rebuilt = owned.to_bytes().unwrap();
            prop_assert_eq!(RtpPacket::parse(&rebuilt).unwrap().to_owned(), owned);
        }
        if let Ok(ps) = parse_compound(&bytes) {
            let rebuilt = build_compound(&ps).unwrap();
            prop_assert_eq!(parse_compound(&rebuilt).unwrap(), ps);
        }
        let _ = demux(&bytes);
        let mut r = DtmfReceiver::new(100_000);
        let _ = r.handle_packet(0, 0, &bytes);
    }

    #[test]
    fn any_rtp_like_header_with_valid_version_never_panics(
        mut bytes in prop::collection::vec(any::<u8>(), 12..200)
    ) {
        // Force V=2 so the deeper CSRC/extension/padding checks are reached.
        bytes[0] = (bytes[0] & 0x3F) | 0x80;
        if let Ok(p) = RtpPacket::parse(&bytes) {
            let owned = p.to_owned();
            prop_assert_eq!(RtpPacket::parse(&owned.to_bytes().unwrap()).unwrap().to_owned(), owned);
        }
        // And as an RTCP compound: a known type and a length that fits the datagram.
        bytes[1] = 200 + bytes[1] % 5;
        let words = (bytes.len() / 4 - 1) as u16;
        bytes[2..4].copy_from_slice(&words.to_be_bytes());
        bytes.truncate(4 * (usize::from(words) + 1));
        if let Ok(ps) = parse_compound(&bytes) {
            prop_assert_eq!(parse_compound(&build_compound(&ps).unwrap()).unwrap(), ps);
        }
    }

    #[test]
    fn stats_never_panic_and_stay_consistent(
        pkts in prop::collection::vec((any::<u16>(), any::<u32>(), 0u64..10_000_000), 1..300)
    ) {
        let mut st = ReceiveStats::new(Ssrc(1), 8000, 2);
        let mut now = 0u64;
        for (seq, ts, dt) in pkts {
            now += dt;
            let _ = st.handle_packet(now, seq, ts);
            if let Some(rb) = st.report_block(now) {
                prop_assert_eq!(rb.extended_highest_seq, st.extended_max_seq());
            }
        }
        // Duplicates are never counted, so the loss never goes negative.
        prop_assert!(st.lost() >= 0 || !st.is_valid());
    }

    #[test]
    fn near_sequential_streams_never_count_more_than_expected(
        start in any::<u16>(),
        steps in prop::collection::vec(-120i32..=130, 1..400),
    ) {
        // Mostly forward with reordering, duplicates, gaps and the odd wrap.
        let mut st = ReceiveStats::new(Ssrc(1), 8000, 2);
        let mut n = i64::from(start) + 70_000;
        for (i, step) in steps.into_iter().enumerate() {
            n += i64::from(step.clamp(-3, 5));
            if step > 125 {
                n += 2_000; // a burst of loss
            }
            let _ = st.handle_packet(i as u64 * 20_000, n as u16, (n as u32).wrapping_mul(160));
            prop_assert!(st.received() <= st.expected() || !st.is_valid());
        }
    }
}
