//! RTCP compounds as real peers send them, written out byte by byte, and rtcp-mux demux.

use sb_rtp::rtcp::App;
use sb_rtp::{
    build_compound, demux, parse_compound, Bye, Demux, NtpTime, ReceiverReport, ReportBlock,
    RtcpError, RtcpPacket, SdesChunk, SenderReport, Ssrc,
};

/// A phone's periodic compound: SR with one report block about the far end, then SDES
/// with its CNAME "ab12@pc" (7 bytes, so one null octet ends the item list).
fn phone_sr_sdes() -> Vec<u8> {
    vec![
        // SR: V=2, RC=1, PT=200, length 12 words
        0x81, 0xC8, 0x00, 0x0C, //
        0x3B, 0x9A, 0xCA, 0x07, // sender SSRC
        0xE9, 0x8A, 0x3B, 0x10, // NTP seconds
        0x80, 0x00, 0x00, 0x00, // NTP fraction: .5 s
        0x00, 0x01, 0xE2, 0x40, // RTP timestamp 123456
        0x00, 0x00, 0x01, 0xF4, // packets sent 500
        0x00, 0x01, 0x38, 0x80, // octets sent 80000
        // report block about SSRC 0x11223344
        0x11, 0x22, 0x33, 0x44, //
        0x0D, 0x00, 0x00, 0x2A, // fraction 13/256, cumulative lost 42
        0x00, 0x01, 0x00, 0x05, // extended highest seq: 1 cycle, seq 5
        0x00, 0x00, 0x00, 0x19, // jitter 25 units
        0xB7, 0x05, 0x20, 0x00, // LSR
        0x00, 0x05, 0x40, 0x00, // DLSR 5.25 s
        // SDES: V=2, SC=1, PT=202, length 4 words
        0x81, 0xCA, 0x00, 0x04, //
        0x3B, 0x9A, 0xCA, 0x07, // chunk SSRC
        0x01, 0x07, b'a', b'b', b'1', b'2', b'@', b'p', b'c', 0x00, // CNAME, end
        0x00, 0x00, // pad to the word boundary
    ]
}

#[test]
fn phone_sender_report_and_cname() {
    let bytes = phone_sr_sdes();
    let packets = parse_compound(&bytes).unwrap();
    assert_eq!(packets.len(), 2);
    let RtcpPacket::SenderReport(sr) = &packets[0] else {
        panic!("not an SR: {packets:?}")
    };
    assert_eq!(sr.ssrc, Ssrc(0x3B9A_CA07));
    assert_eq!(sr.ntp, NtpTime(0xE98A_3B10_8000_0000));
    assert_eq!(
        (sr.rtp_timestamp, sr.packet_count, sr.octet_count),
        (123_456, 500, 80_000)
    );
    assert_eq!(
        sr.reports,
        vec![ReportBlock {
            ssrc: Ssrc(0x1122_3344),
            fraction_lost: 13,
            cumulative_lost: 42,
            extended_highest_seq: 0x0001_0005,
            jitter: 25,
            last_sr: 0xB705_2000,
            delay_since_last_sr: 0x0005_4000,
        }]
    );
    assert_eq!(packets[1].cname(Ssrc(0x3B9A_CA07)), Some(&b"ab12@pc"[..]));
    assert_eq!(packets[1].cname(Ssrc(1)), None);
    assert_eq!(build_compound(&packets).unwrap(), bytes);
}

#[test]
fn receiver_report_with_negative_cumulative_loss_and_bye_with_reason() {
    let bytes = [
        // RR, RC=1, length 7
        0x81, 0xC9, 0x00, 0x07, //
        0x00, 0x00, 0x00, 0x02, // reporter SSRC
        0x00, 0x00, 0x00, 0x01, // about SSRC 1
        0x00, 0xFF, 0xFF, 0xFE, // fraction 0, cumulative lost -2 (duplicates)
        0x00, 0x00, 0x10, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //
        // BYE, SC=1, length 3: SSRC 2, reason "bye" (length 3)
        0x81, 0xCB, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x03, b'b', b'y', b'e',
    ];
    let packets = parse_compound(&bytes).unwrap();
    let RtcpPacket::ReceiverReport(rr) = &packets[0] else {
        panic!("{packets:?}")
    };
    assert_eq!(rr.reports[0].cumulative_lost, -2);
    assert_eq!(rr.reports[0].extended_highest_seq, 0x1000);
    assert_eq!(
        packets[1],
        RtcpPacket::Bye(Bye {
            sources: vec![Ssrc(2)],
            reason: Some(b"bye".to_vec())
        })
    );
    assert_eq!(build_compound(&packets).unwrap(), bytes);
}

#[test]
fn app_and_unknown_types_are_kept_raw() {
    let bytes = [
        0x83, 0xCC, 0x00, 0x03, 0, 0, 0, 9, b'S', b'B', b'T', b'1', 1, 2, 3, 4, // APP
        0x81, 0xCF, 0x00, 0x01, 0xAA, 0xBB, 0xCC, 0xDD, // XR (207), kept raw
    ];
    let packets = parse_compound(&bytes).unwrap();
    assert_eq!(
        packets[0],
        RtcpPacket::App(App {
            subtype: 3,
            ssrc: Ssrc(9),
            name: *b"SBT1",
            data: vec![1, 2, 3, 4]
        })
    );
    assert_eq!(
        packets[1],
        RtcpPacket::Unknown {
            packet_type: 207,
            count: 1,
            body: vec![0xAA, 0xBB, 0xCC, 0xDD]
        }
    );
    assert_eq!(build_compound(&packets).unwrap(), bytes);
}

#[test]
fn app_data_not_in_whole_words_is_padded_with_a_count() {
    let app = RtcpPacket::App(App {
        subtype: 0,
        ssrc: Ssrc(1),
        name: *b"TEST",
        data: vec![9; 5],
    });
    let bytes = build_compound(std::slice::from_ref(&app)).unwrap();
    // 4 header + 8 + 5 data + 3 padding (0, 0, count 3), P bit set.
    assert_eq!(bytes.len(), 20);
    assert_eq!(bytes[0] & 0x20, 0x20);
    assert_eq!(&bytes[17..], &[0, 0, 3]);
    assert_eq!(parse_compound(&bytes).unwrap(), vec![app]);
}

#[test]
fn padded_packet_and_framing_errors() {
    // An RR with no blocks padded by 4 octets (P=1), as an SRTCP sender may do.
    let padded = [0xA0, 0xC9, 0x00, 0x02, 0, 0, 0, 7, 0, 0, 0, 4];
    let p = parse_compound(&padded).unwrap();
    assert_eq!(
        p,
        vec![RtcpPacket::ReceiverReport(ReceiverReport {
            ssrc: Ssrc(7),
            reports: vec![]
        })]
    );

    assert_eq!(parse_compound(&[]).unwrap_err(), RtcpError::Empty);
    assert_eq!(
        parse_compound(&[0x80, 0xC9]).unwrap_err(),
        RtcpError::Truncated
    );
    // Length field claims 2 words more than the datagram holds.
    assert_eq!(
        parse_compound(&[0x80, 0xC9, 0x00, 0x03, 0, 0, 0, 1]).unwrap_err(),
        RtcpError::Truncated
    );
    assert_eq!(
        parse_compound(&[0x40, 0xC9, 0x00, 0x00]).unwrap_err(),
        RtcpError::BadVersion(1)
    );
    // RC=1 but no room for the block.
    assert_eq!(
        parse_compound(&[0x81, 0xC9, 0x00, 0x01, 0, 0, 0, 1]).unwrap_err(),
        RtcpError::BadBody("RR")
    );
    // SDES item length runs past the packet.
    assert_eq!(
        parse_compound(&[0x81, 0xCA, 0x00, 0x02, 0, 0, 0, 1, 0x01, 0x09, b'x', 0]).unwrap_err(),
        RtcpError::BadBody("SDES")
    );
}

#[test]
fn builder_limits() {
    let rr = ReceiverReport {
        ssrc: Ssrc(1),
        reports: vec![ReportBlock::default(); 32],
    };
    assert_eq!(
        build_compound(&[RtcpPacket::ReceiverReport(rr)]).unwrap_err(),
        RtcpError::TooManyItems
    );
    let long = SdesChunk::cname(Ssrc(1), &"x".repeat(256));
    assert_eq!(
        build_compound(&[RtcpPacket::Sdes(vec![long])]).unwrap_err(),
        RtcpError::ItemTooLong
    );
    assert_eq!(build_compound(&[]).unwrap_err(), RtcpError::Empty);
    // Cumulative loss beyond 24 bits is clamped, not wrapped into the wrong sign.
    let sr = SenderReport {
        ssrc: Ssrc(1),
        ntp: NtpTime(0),
        rtp_timestamp: 0,
        packet_count: 0,
        octet_count: 0,
        reports: vec![ReportBlock {
            cumulative_lost: 0x0100_0000,
            ..ReportBlock::default()
        }],
    };
    let bytes = build_compound(&[RtcpPacket::SenderReport(sr)]).unwrap();
    let RtcpPacket::SenderReport(back) = &parse_compound(&bytes).unwrap()[0] else {
        panic!()
    };
    assert_eq!(back.reports[0].cumulative_lost, 0x7F_FFFF);
}

#[test]
fn rtcp_mux_demultiplexing_follows_rfc_5761_and_7983() {
    let rtp_pcmu = [0x80, 0x00, 0, 1];
    let rtp_marker_pt_63 = [0x80, 0xBF, 0, 1]; // M=1, PT=63: still RTP
    let rtp_marker_pt_96 = [0x80, 0xE0, 0, 1]; // M=1, PT=96: second octet 224, RTP
    let sr = [0x80, 0xC8, 0, 6];
    let rr = [0x81, 0xC9, 0, 7];
    let fb = [0x81, 0xCD, 0, 2]; // RTPFB 205
    let stun = [0x00, 0x01, 0x00, 0x00]; // Binding request
    let dtls = [0x16, 0xFE, 0xFD]; // handshake record
    assert_eq!(demux(&rtp_pcmu), Demux::Rtp);
    assert_eq!(demux(&rtp_marker_pt_63), Demux::Rtp);
    assert_eq!(demux(&rtp_marker_pt_96), Demux::Rtp);
    assert_eq!(demux(&sr), Demux::Rtcp);
    assert_eq!(demux(&rr), Demux::Rtcp);
    assert_eq!(demux(&fb), Demux::Rtcp);
    assert_eq!(demux(&stun), Demux::Stun);
    assert_eq!(demux(&dtls), Demux::Dtls);
    assert_eq!(demux(&[0x80]), Demux::Other);
    assert_eq!(demux(&[]), Demux::Other);
    assert_eq!(demux(&[0x40, 0x00]), Demux::Other);
}
