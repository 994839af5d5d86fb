//! Receive statistics against RFC 3550 Appendix A and §6.4.1, and the MOS estimate.

use sb_rtp::{
    estimate_mos, rtt_compact, NtpTime, ReceiveStats, ReportBlock, RttEstimator, SenderReport,
    Ssrc, Verdict,
};

/// 20 ms of 8 kHz audio per packet.
const STEP_US: u64 = 20_000;
const STEP_TS: u32 = 160;

/// Feeds packets named by their unwrapped number `n` (sequence `n mod 2^16`). Each was
/// sent at `n * 20 ms` and arrives with the same delay, so jitter stays zero whatever
/// the order.
fn feed(stats: &mut ReceiveStats, ns: impl IntoIterator<Item = u32>) -> Vec<Verdict> {
    ns.into_iter()
        .map(|n| stats.handle_packet(u64::from(n) * STEP_US, n as u16, n.wrapping_mul(STEP_TS)))
        .collect()
}

fn trusted() -> ReceiveStats {
    ReceiveStats::new(Ssrc(0xABCD), 8000, 1)
}

#[test]
fn sequence_rollover_at_65535_extends_the_sequence_number() {
    let mut st = trusted();
    let verdicts = feed(&mut st, 65_530..65_542); // 65530..=65535, then 0..=5
    assert!(verdicts.iter().all(|v| *v == Verdict::Accepted));
    assert_eq!(st.extended_max_seq(), 65_536 + 5);
    assert_eq!(st.expected(), 12);
    assert_eq!(st.received(), 12);
    assert_eq!(st.lost(), 0);
    assert_eq!(st.jitter(), 0);
    // A second wrap counts a second cycle.
    feed(&mut st, (65_542..131_080).step_by(100));
    feed(&mut st, [131_080, 131_081]);
    assert_eq!(st.extended_max_seq(), 131_081);
}

#[test]
fn reordering_duplicates_and_loss() {
    let mut st = trusted();
    // 1..=10 with 5/6 swapped, 7 delivered twice and 9 lost; then 3 again (a late copy).
    let v = feed(&mut st, [1, 2, 3, 4, 6, 5, 7, 7, 8, 10, 3]);
    assert_eq!(v[5], Verdict::Accepted, "a reordered packet still counts");
    assert_eq!(v[7], Verdict::Duplicate);
    assert_eq!(v[10], Verdict::Duplicate);
    assert_eq!(st.expected(), 10);
    assert_eq!(st.received(), 9);
    assert_eq!(st.lost(), 1);
    // The lost packet turns up late: no longer lost.
    assert_eq!(feed(&mut st, [9]), vec![Verdict::Accepted]);
    assert_eq!(st.lost(), 0);
    assert_eq!(st.extended_max_seq(), 10);
}

#[test]
fn reordering_across_the_wrap() {
    let mut st = trusted();
    // 65534, 0, 65535, 1: the late 65535 must not count a second cycle.
    feed(&mut st, [65_534, 65_536, 65_535, 65_537]);
    assert_eq!(st.extended_max_seq(), 65_537);
    assert_eq!(st.expected(), 4);
    assert_eq!(st.lost(), 0);
}

#[test]
fn probation_and_restart() {
    let mut st = ReceiveStats::new(Ssrc(1), 8000, 2);
    assert_eq!(feed(&mut st, [100]), vec![Verdict::Probation]);
    assert!(!st.is_valid());
    assert!(st.report_block(0).is_none());
    // Out of order during probation: start over.
    assert_eq!(feed(&mut st, [150]), vec![Verdict::Probation]);
    assert_eq!(feed(&mut st, [151]), vec![Verdict::Accepted]);
    assert!(st.is_valid());
    // A.1: counting starts at the packet that ended probation.
    assert_eq!((st.expected(), st.received()), (1, 1));
    // A late copy of a probation packet is not counted either.
    assert_eq!(feed(&mut st, [150]), vec![Verdict::Late]);
    assert_eq!((st.expected(), st.received()), (1, 1));
    feed(&mut st, 152..160);
    assert_eq!((st.expected(), st.lost()), (9, 0));
    // A jump of 20000 is dropped once, then accepted as a restart when confirmed.
    assert_eq!(feed(&mut st, [20_000]), vec![Verdict::Bad]);
    assert_eq!(st.extended_max_seq(), 159);
    assert_eq!(feed(&mut st, [20_001]), vec![Verdict::Accepted]);
    assert_eq!(
        (st.extended_max_seq(), st.expected(), st.received()),
        (20_001, 1, 1)
    );
}

#[test]
fn jitter_follows_the_rfc_formula_on_known_delay_variation() {
    // Every other packet is delayed by an extra 10 ms (80 units): |D(i-1,i)| = 80 for every
    // pair, so A.8 gives J_n = J_{n-1} + (80 - J_{n-1}) / 16.
    let mut st = trusted();
    let mut expected = 0.0f64;
    for n in 0u32..200 {
        let extra_us = if n % 2 == 1 { 10_000 } else { 0 };
        let now = 1_000_000 + u64::from(n) * STEP_US + extra_us;
        st.handle_packet(now, n as u16, 12_345u32.wrapping_add(n * STEP_TS));
        if n > 0 {
            expected += (80.0 - expected) / 16.0;
        }
        assert_eq!(st.jitter(), expected as u32, "packet {n}");
    }
    // Converged to the 10 ms variation.
    assert!((st.jitter_ms() - 10.0).abs() < 0.01, "{}", st.jitter_ms());
    assert_eq!(st.jitter(), 79);

    // A constant network delay, however large, is no jitter.
    let mut flat = trusted();
    for n in 0u32..50 {
        flat.handle_packet(7_000_000 + u64::from(n) * STEP_US, n as u16, n * STEP_TS);
    }
    assert_eq!(flat.jitter(), 0);
}

#[test]
fn report_block_fraction_lost_per_interval_and_dlsr() {
    let mut st = trusted();
    // 100 expected, every 10th lost: fraction = 10 * 256 / 100 = 25 (A.3).
    feed(&mut st, (0..100).filter(|n| n % 10 != 5));
    let sr = SenderReport {
        ssrc: Ssrc(0xABCD),
        ntp: NtpTime(0xB705_2000_1234_0000),
        rtp_timestamp: 0,
        packet_count: 100,
        octet_count: 16_000,
        reports: vec![],
    };
    st.handle_sender_report(3_000_000, &sr);
    let rb = st.report_block(3_500_000).unwrap();
    assert_eq!(rb.ssrc, Ssrc(0xABCD));
    assert_eq!(rb.fraction_lost, 25);
    assert_eq!(rb.cumulative_lost, 10);
    assert_eq!(rb.extended_highest_seq, 99);
    assert_eq!(rb.last_sr, 0x2000_1234);
    assert_eq!(rb.delay_since_last_sr, 0x8000, "0.5 s in 1/65536 s");
    // The next interval has no loss: fraction back to 0, cumulative unchanged.
    feed(&mut st, 100..150);
    let rb = st.report_block(4_000_000).unwrap();
    assert_eq!((rb.fraction_lost, rb.cumulative_lost), (0, 10));
}

#[test]
fn rtt_from_the_rfc_3550_example() {
    // §6.4.1 figure: A = 46864.500 s (0xb710_8000), LSR = 46853.125 s (0xb705_2000),
    // DLSR = 5.250 s (0x0005_4000): delay 6.125 s (0x0006_2000).
    assert_eq!(
        rtt_compact(0xB710_8000, 0xB705_2000, 0x0005_4000),
        Some(0x0006_2000)
    );
    assert_eq!(
        rtt_compact(0xB710_8000, 0, 0x0005_4000),
        None,
        "no SR received yet"
    );
    assert_eq!(
        rtt_compact(0xB705_0000, 0xB705_2000, 0),
        None,
        "negative: bogus"
    );

    // The same exchange on our monotonic clock: we sent the SR at t = 10 s, the RR came
    // back 11.375 s later (A - LSR) after the peer held it 5.25 s: 6.125 s round trip.
    let mut est = RttEstimator::new();
    let ntp = NtpTime(0xB705_2000u64 << 16);
    est.on_sr_sent(10_000_000, NtpTime(0x0001_0000_0000_0000));
    est.on_sr_sent(10_000_000, ntp);
    let block = ReportBlock {
        last_sr: 0xB705_2000,
        delay_since_last_sr: 0x0005_4000,
        ..Default::default()
    };
    assert_eq!(est.handle_report_block(21_375_000, &block), Some(6_125_000));
    assert_eq!(est.rtt_us(), Some(6_125_000));
    // An LSR we never sent gives nothing.
    let stray = ReportBlock {
        last_sr: 0x1234_5678,
        ..block
    };
    assert_eq!(est.handle_report_block(17_000_000, &stray), None);
}

#[test]
fn ntp_time_from_unix_micros() {
    // 1970-01-01 plus 1.5 s is NTP 2208988801.5.
    let t = NtpTime::from_unix_micros(1_500_000);
    assert_eq!(t.0 >> 32, 2_208_988_801);
    assert_eq!(t.0 & 0xFFFF_FFFF, 0x8000_0000);
    assert_eq!(
        t.compact(),
        ((2_208_988_801u64 & 0xFFFF) << 16 | 0x8000) as u32
    );
}

#[test]
fn mos_estimate_degrades_with_loss_delay_and_jitter() {
    let clean = estimate_mos(0.0, 0.0, 20.0);
    // G.711 with no impairments sits just above 4.4 (R ≈ 93).
    assert!((4.35..=4.45).contains(&clean), "{clean}");
    let lossy = estimate_mos(0.05, 0.0, 20.0);
    let jittery = estimate_mos(0.0, 40.0, 20.0);
    let far = estimate_mos(0.0, 0.0, 600.0);
    assert!(lossy < clean && jittery < clean && far < clean);
    // 5% random loss without PLC is already poor (R ≈ 44).
    assert!((2.0..3.0).contains(&lossy), "{lossy}");
    // Total loss is the floor.
    assert_eq!(estimate_mos(1.0, 0.0, 0.0), 1.0);
    let mut prev = 5.0;
    for pct in 0..=20 {
        let m = estimate_mos(f64::from(pct) / 100.0, 5.0, 50.0);
        assert!(m < prev, "MOS must fall as loss rises");
        prev = m;
    }
}

#[test]
fn sender_report_counts_and_extrapolates_the_rtp_timestamp() {
    let mut tx = sb_rtp::SenderStats::new();
    assert!(!tx.has_sent());
    for n in 0..50u32 {
        tx.on_packet_sent(u64::from(n) * STEP_US, 1000 + n * STEP_TS, 160);
    }
    let ntp = NtpTime::from_unix_micros(1_700_000_000_000_000);
    // 5 ms after the last packet (sent at 980 ms with timestamp 1000 + 49 * 160).
    let sr = tx.sender_report(985_000, ntp, Ssrc(7), 8000, vec![]);
    assert_eq!((sr.packet_count, sr.octet_count), (50, 8000));
    assert_eq!(sr.rtp_timestamp, 1000 + 49 * 160 + 40);
    assert_eq!((sr.ssrc, sr.ntp), (Ssrc(7), ntp));
}
