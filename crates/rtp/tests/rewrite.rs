//! One outgoing stream across a change of source, as after a transfer.

use sb_rtp::{Ssrc, StreamRewriter};

#[test]
fn a_new_source_continues_the_sequence_and_timestamp() {
    let mut rw = StreamRewriter::new(Ssrc(0xAAAA), 8000);
    // The caller's stream: seq 100.., ts 5000.., every 20 ms.
    let mut outs = Vec::new();
    for n in 0..5u16 {
        outs.push(rw.rewrite(
            u64::from(n) * 20_000,
            Ssrc(1),
            100 + n,
            5000 + u32::from(n) * 160,
            false,
        ));
    }
    assert_eq!(
        outs[0].sequence, 100,
        "the first source passes through unshifted"
    );
    assert!(outs[0].marker, "the first packet starts the stream");
    assert!(outs.iter().all(|o| o.ssrc == Ssrc(0xAAAA)));
    // Transfer: a new party's stream with unrelated numbers starts 60 ms after the last
    // packet (sent at 80 ms).
    let first = rw.rewrite(140_000, Ssrc(2), 40_000, 9_999_999, false);
    assert_eq!(first.ssrc, Ssrc(0xAAAA));
    assert_eq!(first.sequence, 105);
    assert_eq!(first.timestamp, 5000 + 4 * 160 + 480);
    assert!(first.marker);
    let next = rw.rewrite(160_000, Ssrc(2), 40_001, 9_999_999 + 160, false);
    assert_eq!(
        (next.sequence, next.timestamp, next.marker),
        (106, first.timestamp + 160, false)
    );
    assert_eq!(rw.current_source(), Some(Ssrc(2)));
}

#[test]
fn a_reordered_packet_keeps_its_place_and_does_not_move_the_join_point() {
    let mut rw = StreamRewriter::new(Ssrc(9), 8000);
    rw.rewrite(0, Ssrc(1), 65_534, 0, false);
    rw.rewrite(40_000, Ssrc(1), 0, 320, false); // wrapped past 65535
    let late = rw.rewrite(41_000, Ssrc(1), 65_535, 160, false);
    assert_eq!(late.sequence, 65_535);
    // The next source continues after seq 0, not after the late 65535.
    let joined = rw.rewrite(60_000, Ssrc(2), 7, 7, false);
    assert_eq!(joined.sequence, 1);
    assert_eq!(joined.timestamp, 320 + 160);
}
