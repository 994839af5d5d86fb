//! Any datagram on a media port: the RTP and RTCP parsers, the rtcp-mux demultiplexer,
//! the telephone-event receiver and the receive statistics must not panic, and whatever
//! parses must build again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sb_rtp::{build_compound, demux, parse_compound, Demux, DtmfReceiver, ReceiveStats, RtpPacket};

fuzz_target!(|data: &[u8]| {
    let _ = demux(data);
    if let Ok(p) = RtpPacket::parse(data) {
        let _ = p.extensions().count();
        let owned = p.to_owned();
        let bytes = owned
            .to_bytes()
            .expect("a parsed packet is always buildable");
        let again = RtpPacket::parse(&bytes).expect("a built packet parses");
        assert_eq!(again.to_owned(), owned);

        let mut stats = ReceiveStats::new(p.ssrc(), 8000, 2);
        let mut receiver = DtmfReceiver::new(200_000);
        // Replay the packet with its sequence number and timestamp perturbed by the
        // payload, so the statistics see reordering, jumps and wraps.
        for (i, b) in p.payload().iter().enumerate() {
            let now = i as u64 * 20_000;
            let seq = p.sequence().wrapping_add(u16::from(*b).wrapping_mul(257));
            let _ = stats.handle_packet(now, seq, p.timestamp().wrapping_add(u32::from(*b) * 160));
            let _ = receiver.handle_packet(now, p.timestamp(), &p.payload()[i..]);
            receiver.handle_timeout(now);
            while receiver.poll_event().is_some() {}
        }
        let _ = stats.report_block(1_000_000);
    }
    if demux(data) == Demux::Rtcp || data.first().is_some_and(|b| b >> 6 == 2) {
        if let Ok(packets) = parse_compound(data) {
            let bytes = build_compound(&packets).expect("parsed RTCP is always buildable");
            assert_eq!(parse_compound(&bytes).expect("built RTCP parses"), packets);
        }
    }
});
