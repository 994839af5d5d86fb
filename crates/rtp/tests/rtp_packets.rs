//! RTP packets as real peers send them, written out byte by byte with their meaning.

use sb_rtp::{ExtElement, Extension, Pt, Rtp, RtpError, RtpPacket, Ssrc};

/// A desk phone's G.711 µ-law packet: 20 ms of silence (0xFF) at 8 kHz, so 160 payload
/// bytes; marker set because it is the first packet after the call was answered.
fn pcmu_first_packet() -> Vec<u8> {
    let mut p = vec![
        0x80, // V=2, P=0, X=0, CC=0
        0x80, // M=1, PT=0 (PCMU)
        0x5A, 0x3C, // sequence 23100
        0x00, 0x01, 0xE2, 0x40, // timestamp 123456
        0x3B, 0x9A, 0xCA, 0x07, // SSRC 0x3B9ACA07
    ];
    p.extend_from_slice(&[0xFF; 160]);
    p
}

#[test]
fn pcmu_packet_from_a_desk_phone() {
    let bytes = pcmu_first_packet();
    let p = RtpPacket::parse(&bytes).unwrap();
    assert!(p.marker());
    assert_eq!(p.payload_type(), Pt(0));
    assert_eq!(p.sequence(), 23100);
    assert_eq!(p.timestamp(), 123_456);
    assert_eq!(p.ssrc(), Ssrc(0x3B9A_CA07));
    assert_eq!(p.csrcs().count(), 0);
    assert_eq!(p.payload().len(), 160);
    assert_eq!(p.extension_profile(), None);
    // Rebuilding gives the same bytes.
    assert_eq!(p.to_owned().to_bytes().unwrap(), bytes);
}

/// A browser's Opus packet (PT 111, 48 kHz) with the RFC 8285 one-byte extension:
/// id 1 = client-to-mixer audio level (RFC 6464: V bit + level 0x2A = -42 dBov),
/// id 3 = abs-send-time (3 bytes), then one zero padding octet to the 32-bit boundary.
#[test]
fn opus_packet_with_one_byte_extensions_from_a_browser() {
    let bytes = [
        0x90, // V=2, X=1
        0x6F, // M=0, PT=111
        0x12, 0x34, // sequence 0x1234
        0x00, 0x00, 0x03, 0xC0, // timestamp 960 (20 ms at 48 kHz)
        0xDE, 0xAD, 0xBE, 0xEF, // SSRC
        0xBE, 0xDE, 0x00, 0x02, // one-byte profile, 2 words follow
        0x10, 0xAA, // id 1, len 1: 0xAA = voice flag + level 42
        0x32, 0x01, 0x02, 0x03, // id 3, len 3: abs-send-time
        0x00, 0x00, // padding
        0xFC, 0xFF, 0xFE, // Opus TOC byte and frame data
    ];
    let p = RtpPacket::parse(&bytes).unwrap();
    assert_eq!(p.payload_type(), Pt(111));
    assert_eq!(p.extension_profile(), Some(0xBEDE));
    let exts: Vec<_> = p.extensions().collect();
    assert_eq!(exts, vec![(1, &[0xAA][..]), (3, &[1, 2, 3][..])]);
    assert_eq!(p.extension(1), Some(&[0xAA][..]));
    assert_eq!(p.extension(2), None);
    assert_eq!(p.payload(), &[0xFC, 0xFF, 0xFE]);
    assert_eq!(p.to_owned().to_bytes().unwrap(), bytes);
}

/// A conference mixer's packet: CC=2 names the two talkers mixed in, the two-byte
/// extension form (0x100 + appbits 0) carries a 0-byte and a 17-byte element, and the
/// packet is padded by 4 octets (P=1, last octet 4) as an SRTP sender might.
#[test]
fn mixer_packet_with_csrcs_two_byte_extension_and_padding() {
    let mut bytes = vec![
        0xB2, // V=2, P=1, X=1, CC=2
        0x08, // PT 8 (PCMA)
        0xFF, 0xFF, // sequence 65535
        0xFF, 0xFF, 0xFF, 0x60, // timestamp near the wrap
        0x00, 0x00, 0x00, 0x01, // SSRC 1
        0x00, 0x00, 0x00, 0x0A, // CSRC 10
        0x00, 0x00, 0x00, 0x0B, // CSRC 11
        0x10, 0x00, 0x00, 0x06, // two-byte profile, appbits 0, 6 words
        0x05, 0x00, // id 5, length 0
        0x07, 0x11, // id 7, length 17
    ];
    bytes.extend(1..=17u8);
    bytes.extend_from_slice(&[0x00, 0x00, 0x00]); // to the word boundary (24 bytes)
    bytes.extend_from_slice(&[0xD5; 4]); // PCMA payload
    bytes.extend_from_slice(&[0x00, 0x00, 0x00, 0x04]); // padding, count 4
    let p = RtpPacket::parse(&bytes).unwrap();
    assert_eq!(p.csrcs().collect::<Vec<_>>(), vec![Ssrc(10), Ssrc(11)]);
    assert_eq!(p.sequence(), 65535);
    assert_eq!(p.padding_len(), 4);
    assert_eq!(p.payload(), &[0xD5; 4]);
    let exts: Vec<_> = p.extensions().collect();
    assert_eq!(exts.len(), 2);
    assert_eq!(exts[0], (5, &[][..]));
    assert_eq!(exts[1].1, (1..=17u8).collect::<Vec<_>>().as_slice());
    let owned = p.to_owned();
    assert!(matches!(
        owned.extension,
        Some(Extension::TwoByte { appbits: 0, .. })
    ));
    assert_eq!(owned.to_bytes().unwrap(), bytes);
}

#[test]
fn one_byte_id_15_stops_processing() {
    let bytes = [
        0x90, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, //
        0xBE, 0xDE, 0x00, 0x01, //
        0x10, 0x01, 0xF0, 0x55, // id 1 then id 15 (stop): 0x55 is never read
    ];
    let p = RtpPacket::parse(&bytes).unwrap();
    assert_eq!(p.extensions().collect::<Vec<_>>(), vec![(1, &[1][..])]);
}

#[test]
fn an_unknown_extension_profile_is_kept_raw() {
    let bytes = [
        0x90, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, //
        0xAB, 0xCD, 0x00, 0x01, 1, 2, 3, 4,
    ];
    let p = RtpPacket::parse(&bytes).unwrap();
    assert_eq!(p.extensions().count(), 0);
    assert_eq!(p.extension_body(), Some(&[1, 2, 3, 4][..]));
    assert_eq!(
        p.to_owned().extension,
        Some(Extension::Raw {
            profile: 0xABCD,
            data: vec![1, 2, 3, 4]
        })
    );
}

#[test]
fn malformed_packets_are_errors() {
    let ok = pcmu_first_packet();
    assert_eq!(
        RtpPacket::parse(&ok[..11]).unwrap_err(),
        RtpError::TooShort(11)
    );
    let mut v1 = ok.clone();
    v1[0] = 0x40;
    assert_eq!(RtpPacket::parse(&v1).unwrap_err(), RtpError::BadVersion(1));
    // CC=15 with no room for the CSRC list.
    let mut cc = ok[..20].to_vec();
    cc[0] = 0x8F;
    assert_eq!(
        RtpPacket::parse(&cc).unwrap_err(),
        RtpError::CsrcOverrun(15)
    );
    // X=1 but the extension header claims more words than there are bytes.
    let ext = [
        0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xBE, 0xDE, 0x00, 0x09, 0, 0, 0, 0,
    ];
    assert_eq!(
        RtpPacket::parse(&ext).unwrap_err(),
        RtpError::ExtensionOverrun
    );
    // A one-byte element whose length runs past the extension body.
    let el = [
        0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xBE, 0xDE, 0x00, 0x01, 0x1F, 0, 0, 0,
    ];
    assert_eq!(
        RtpPacket::parse(&el).unwrap_err(),
        RtpError::BadExtensionElement
    );
    // P=1 with a zero count, and with a count larger than the payload.
    let mut pad = ok.clone();
    pad[0] |= 0x20;
    *pad.last_mut().unwrap() = 0;
    assert_eq!(RtpPacket::parse(&pad).unwrap_err(), RtpError::BadPadding(0));
    let short = [0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x00, 0x05];
    assert_eq!(
        RtpPacket::parse(&short).unwrap_err(),
        RtpError::BadPadding(5)
    );
}

#[test]
fn builder_rejects_what_the_header_cannot_carry() {
    let mut p = Rtp::new(Pt(0), 1, 2, Ssrc(3), vec![]);
    p.csrcs = (0..16).map(Ssrc).collect();
    assert_eq!(p.to_bytes().unwrap_err(), RtpError::TooManyCsrcs);
    p.csrcs.clear();
    p.extension = Some(Extension::OneByte(vec![ExtElement {
        id: 15,
        data: vec![1],
    }]));
    assert_eq!(
        p.to_bytes().unwrap_err(),
        RtpError::ExtensionOutOfRange(15, 1)
    );
    p.extension = Some(Extension::OneByte(vec![ExtElement {
        id: 2,
        data: vec![0; 17],
    }]));
    assert_eq!(
        p.to_bytes().unwrap_err(),
        RtpError::ExtensionOutOfRange(2, 17)
    );
}

#[test]
fn relay_rewrites_the_header_in_place() {
    let mut bytes = pcmu_first_packet();
    let mut p = sb_rtp::RtpPacketMut::parse(&mut bytes).unwrap();
    p.set_ssrc(Ssrc(0x0102_0304));
    p.set_sequence(9);
    p.set_timestamp(0xFFFF_FFFF);
    p.set_payload_type(Pt(101));
    p.set_marker(false);
    p.payload_mut()[0] = 0x7F;
    let v = p.view();
    assert_eq!(
        (
            v.ssrc(),
            v.sequence(),
            v.timestamp(),
            v.payload_type(),
            v.marker()
        ),
        (Ssrc(0x0102_0304), 9, 0xFFFF_FFFF, Pt(101), false)
    );
    assert_eq!(v.header_len(), 12);
    assert_eq!(v.payload()[0], 0x7F);
    assert_eq!(v.payload().len(), 160);
    // Only the fixed fields and the payload byte changed.
    let mut expected = pcmu_first_packet();
    expected[1] = 101;
    expected[2..12].copy_from_slice(&[0, 9, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4]);
    expected[12] = 0x7F;
    assert_eq!(bytes, expected);
    let mut bad = Rtp::new(Pt(128), 0, 0, Ssrc(0), vec![]);
    assert_eq!(bad.to_bytes().unwrap_err(), RtpError::BadPayloadType(128));
    bad.payload_type = Pt(127);
    assert!(bad.to_bytes().is_ok());
}
