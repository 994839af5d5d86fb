//! The jitter buffer on a virtual clock against synthetic networks: a sender emits one
//! 20 ms frame per interval, a network model gives each packet an arrival time (or drops or
//! duplicates it), and a playout clock pops one frame per interval.

use sb_media::jitter::{Frame, JitterBuffer, JitterConfig, PushOutcome};

const FRAME_US: u64 = 20_000;
const SAMPLES: u32 = 160; // 20 ms at 8 kHz

/// A small deterministic generator (SplitMix64), so every run is reproducible by seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, permille: u64) -> bool {
        self.below(1000) < permille
    }
}

#[derive(Debug, Clone)]
struct Arrival {
    at_us: u64,
    seq: u64,
    ts: u32,
    marker: bool,
}

/// Packet `seq` as sent: sampled at `seq * 20 ms`, timestamp `ts0 + seq * 160`.
fn sent(seq: u64, ts0: u32) -> Arrival {
    Arrival {
        at_us: seq * FRAME_US,
        seq,
        ts: ts0.wrapping_add(seq as u32 * SAMPLES),
        marker: seq == 0,
    }
}

fn payload(seq: u64) -> Vec<u8> {
    seq.to_be_bytes().to_vec()
}

fn seq_of(payload: &[u8]) -> u64 {
    u64::from_be_bytes(payload.try_into().expect("test payloads are 8 bytes"))
}

#[derive(Debug, Default)]
struct Run {
    /// (tick time, frame) for every pop.
    frames: Vec<(u64, Frame)>,
    outcomes: Vec<(u64, PushOutcome)>,
    /// Late count and delay sampled after each pop.
    late_at: Vec<(u64, u64, u64)>,
    /// Discarded count after each pop.
    discarded_at: Vec<u64>,
}

impl Run {
    fn played(&self) -> Vec<u64> {
        self.frames
            .iter()
            .filter_map(|(_, f)| match f {
                Frame::Audio(p) => Some(seq_of(p)),
                _ => None,
            })
            .collect()
    }
    fn late_after(&self, t_us: u64) -> u64 {
        let before = self
            .late_at
            .iter()
            .take_while(|(t, _, _)| *t < t_us)
            .last()
            .map_or(0, |(_, l, _)| *l);
        self.late_at.last().map_or(0, |(_, l, _)| *l) - before
    }
    fn max_delay_after(&self, t_us: u64) -> u64 {
        self.late_at
            .iter()
            .filter(|(t, _, _)| *t >= t_us)
            .map(|(_, _, d)| *d)
            .max()
            .unwrap_or(0)
    }
}

/// Delivers `arrivals` (any order) and pops every 20 ms from `phase_us` until `end_us`.
fn drive(jb: &mut JitterBuffer, mut arrivals: Vec<Arrival>, phase_us: u64, end_us: u64) -> Run {
    arrivals.sort_by_key(|a| a.at_us);
    let mut run = Run::default();
    let mut next = arrivals.into_iter().peekable();
    let mut tick = phase_us;
    while tick <= end_us {
        while let Some(a) = next.next_if(|a| a.at_us <= tick) {
            let outcome = if a.marker {
                jb.push_marked(a.at_us, a.seq, a.ts, payload(a.seq))
            } else {
                jb.push(a.at_us, a.seq, a.ts, payload(a.seq))
            };
            run.outcomes.push((a.seq, outcome));
        }
        let frame = jb.pop(tick);
        run.frames.push((tick, frame));
        let stats = jb.stats();
        run.late_at.push((tick, stats.late, stats.delay_us));
        run.discarded_at.push(stats.discarded);
        tick += FRAME_US;
    }
    if std::env::var_os("JB_TRACE").is_some() {
        let line: String = run
            .frames
            .iter()
            .map(|(_, f)| match f {
                Frame::Audio(_) => 'A',
                Frame::Missing => 'M',
                Frame::Silence => '.',
            })
            .collect();
        eprintln!("{line}\n{:?}", jb.stats());
    }
    run
}

fn g711() -> JitterBuffer {
    JitterBuffer::new(JitterConfig::new(8000, FRAME_US)).expect("default config is valid")
}

fn with_delay(
    seqs: std::ops::Range<u64>,
    ts0: u32,
    mut delay: impl FnMut(u64) -> u64,
) -> Vec<Arrival> {
    seqs.map(|s| {
        let mut a = sent(s, ts0);
        a.at_us += delay(s);
        a
    })
    .collect()
}

/// Everything pushed is accounted for: played, late, duplicate, discarded or still queued.
fn assert_accounted(jb: &JitterBuffer) {
    let s = jb.stats();
    assert_eq!(
        s.played + s.late + s.duplicate + s.discarded + jb.len() as u64,
        s.pushed,
        "{s:?}"
    );
}

#[test]
fn no_jitter_plays_every_frame_in_order_at_the_minimal_delay() {
    let mut jb = g711();
    // Timestamps wrap past 2^32 a hundred frames in.
    let ts0 = u32::MAX - 100 * SAMPLES + 1;
    let arrivals = with_delay(0..500, ts0, |_| 30_000);
    let run = drive(&mut jb, arrivals, 7_000, 500 * FRAME_US + 300_000);
    let first_audio = run
        .frames
        .iter()
        .position(|(_, f)| matches!(f, Frame::Audio(_)))
        .expect("playout starts");
    let talk: Vec<_> = run.frames[first_audio..first_audio + 500]
        .iter()
        .map(|(_, f)| f.clone())
        .collect();
    let expected: Vec<_> = (0..500).map(|s| Frame::Audio(payload(s))).collect();
    assert_eq!(talk, expected);
    let s = jb.stats();
    assert_eq!((s.late, s.lost, s.duplicate, s.discarded), (0, 0, 0, 0));
    // Only the end of the stream is concealed, briefly, before silence.
    assert_eq!(s.concealed, u64::from(jb.config().max_conceal_frames));
    assert_eq!(s.played, 500);
    // The target is the configured minimum; the tick phase adds less than one frame.
    assert_eq!(s.target_delay_us, 20_000);
    assert!(
        (20_000..40_000).contains(&s.delay_us),
        "delay {}",
        s.delay_us
    );
    // Silence before the first packet had waited, and after the stream ended.
    assert!(run.frames[..first_audio]
        .iter()
        .all(|(_, f)| *f == Frame::Silence));
    assert_eq!(
        run.frames.last().map(|(_, f)| f.clone()),
        Some(Frame::Silence)
    );
}

#[test]
fn uniform_jitter_adapts_then_drops_nothing_and_stays_within_bounds() {
    for seed in 1..=5u64 {
        let mut rng = Rng(seed);
        let mut jb = g711();
        let arrivals = with_delay(0..3000, 1234, |_| 20_000 + rng.below(80_001));
        let run = drive(&mut jb, arrivals, 3_000, 3000 * FRAME_US + 500_000);
        assert_eq!(run.late_after(5_000_000), 0, "seed {seed}");
        let s = jb.stats();
        assert!(s.late < 20, "seed {seed}: {s:?}");
        // 80 ms of jitter, a 10 ms margin, and less than 1.5 frames of hysteresis.
        let worst = run.max_delay_after(5_000_000);
        assert!(
            (80_000..=130_000).contains(&worst),
            "seed {seed}: delay {worst}"
        );
        let played = run.played();
        assert!(played.windows(2).all(|w| w[0] < w[1]), "seed {seed}");
        assert_eq!(s.played as usize, played.len());
        assert_accounted(&jb);
    }
}

#[test]
fn bursty_jitter_grows_at_the_first_burst_and_then_drops_nothing() {
    for seed in 1..=5u64 {
        let mut rng = Rng(seed * 77);
        let mut jb = g711();
        // Every 3 s the path stalls for 200 ms and then delivers the backlog at once.
        let arrivals = with_delay(0..3000, 0, |s| {
            let sent_at = s * FRAME_US;
            let phase = sent_at % 3_000_000;
            let stall = if (1_000_000..1_200_000).contains(&phase) {
                1_200_000 - phase
            } else {
                0
            };
            15_000 + rng.below(5_001) + stall
        });
        let run = drive(&mut jb, arrivals, 11_000, 3000 * FRAME_US + 500_000);
        // Once the first stall has been seen, playout never pauses again.
        let gaps = run
            .frames
            .iter()
            .filter(|(t, f)| (2_000_000..59_900_000).contains(t) && !matches!(f, Frame::Audio(_)))
            .count();
        assert_eq!(gaps, 0, "seed {seed}");
        assert_eq!(
            run.late_after(2_000_000),
            0,
            "seed {seed}: adapted after one burst"
        );
        let s = jb.stats();
        assert!(
            s.delay_us <= jb.config().max_delay_us + FRAME_US,
            "seed {seed}: {s:?}"
        );
        assert!(run.max_delay_after(0) <= jb.config().max_delay_us + FRAME_US);
        assert!(s.target_delay_us >= 200_000, "seed {seed}: {s:?}");
        assert_accounted(&jb);
    }
}

#[test]
fn reordered_packets_play_in_sequence_order() {
    let mut jb = g711();
    // Every tenth packet is held back 30 ms, so it arrives after its successor; the
    // timestamps wrap past 2^32 between packets 55 and 56, a reordered pair.
    let arrivals = with_delay(0..1000, u32::MAX - 55 * SAMPLES - 30, |s| {
        if s % 10 == 5 {
            60_000
        } else {
            30_000
        }
    });
    let run = drive(&mut jb, arrivals, 2_000, 1000 * FRAME_US + 300_000);
    let s = jb.stats();
    // The first held-back packet teaches the buffer; at most it is late.
    assert!(s.late <= 1, "{s:?}");
    assert_eq!(run.late_after(200_000), 0);
    let played = run.played();
    assert!(played.windows(2).all(|w| w[0] < w[1]));
    let late: Vec<u64> = run
        .outcomes
        .iter()
        .filter(|(_, o)| *o == PushOutcome::Late)
        .map(|(s, _)| *s)
        .collect();
    let expected: Vec<u64> = (0..1000).filter(|s| !late.contains(s)).collect();
    assert_eq!(played, expected);
    assert_accounted(&jb);
}

#[test]
fn lost_packets_become_missing_frames_exactly_where_they_were() {
    let lost = [50u64, 51, 120, 300];
    let mut jb = g711();
    let arrivals = with_delay(0..400, 5, |_| 25_000)
        .into_iter()
        .filter(|a| !lost.contains(&a.seq))
        .collect();
    let run = drive(&mut jb, arrivals, 1_000, 400 * FRAME_US + 300_000);
    let first = run
        .frames
        .iter()
        .position(|(_, f)| *f != Frame::Silence)
        .expect("playout starts");
    let talk: Vec<_> = run.frames[first..first + 400]
        .iter()
        .map(|(_, f)| f.clone())
        .collect();
    let expected: Vec<_> = (0..400)
        .map(|s| {
            if lost.contains(&s) {
                Frame::Missing
            } else {
                Frame::Audio(payload(s))
            }
        })
        .collect();
    assert_eq!(talk, expected);
    let s = jb.stats();
    let tail = u64::from(jb.config().max_conceal_frames);
    assert_eq!(
        (s.lost, s.concealed, s.late, s.played),
        (4, 4 + tail, 0, 396)
    );
}

#[test]
fn long_gap_falls_silent_and_resumes_without_late_or_invented_frames() {
    let mut jb = g711();
    // A two-second outage: packets 200..=300 never arrive; the sender's clock runs on.
    let arrivals = with_delay(0..500, 777, |_| 30_000)
        .into_iter()
        .filter(|a| !(200..=300).contains(&a.seq))
        .collect();
    let run = drive(&mut jb, arrivals, 4_000, 500 * FRAME_US + 300_000);
    let frames: Vec<_> = run.frames.iter().map(|(_, f)| f.clone()).collect();
    let after_199 = frames
        .iter()
        .position(|f| *f == Frame::Audio(payload(199)))
        .expect("packet 199 plays")
        + 1;
    // A few frames of concealment, then silence until the stream is back.
    let max_conceal = jb.config().max_conceal_frames as usize;
    assert!(frames[after_199..after_199 + max_conceal]
        .iter()
        .all(|f| *f == Frame::Missing));
    assert_eq!(frames[after_199 + max_conceal], Frame::Silence);
    let played = run.played();
    let expected: Vec<u64> = (0..500).filter(|s| !(200..=300).contains(s)).collect();
    assert_eq!(played, expected);
    let s = jb.stats();
    // Concealment at the outage and at the end of the stream, nowhere else.
    assert_eq!(
        (s.lost, s.late, s.concealed),
        (101, 0, 2 * max_conceal as u64)
    );
    assert_eq!(s.talk_spurts, 2);
    assert!((20_000..40_000).contains(&s.delay_us), "{s:?}");
}

#[test]
fn talk_spurt_after_silence_suppression_re_anchors_without_loss() {
    let mut jb = g711();
    // RFC 3551 §4.1: 100 frames, one second of silence not sent, then 100 more frames with
    // the next sequence number, a timestamp one second on, and the marker bit.
    let mut arrivals = with_delay(0..100, 42, |_| 30_000);
    for s in 100..200u64 {
        let mut a = sent(s + 50, 42);
        a.seq = s;
        a.at_us += 30_000;
        a.marker = s == 100;
        arrivals.push(a);
    }
    let run = drive(&mut jb, arrivals, 9_000, 260 * FRAME_US);
    assert_eq!(run.played(), (0..200).collect::<Vec<_>>());
    assert!(run.outcomes.contains(&(100, PushOutcome::NewTalkSpurt)));
    let s = jb.stats();
    assert_eq!((s.lost, s.late, s.talk_spurts), (0, 0, 2));
    // The end of each talk spurt is concealed briefly before silence.
    assert_eq!(s.concealed, 2 * u64::from(jb.config().max_conceal_frames));
    let frames: String = run
        .frames
        .iter()
        .map(|(_, f)| match f {
            Frame::Audio(_) => 'A',
            Frame::Missing => 'M',
            Frame::Silence => '.',
        })
        .collect();
    // The silence between the spurts lasts as long as the sender's (50 frames), and the
    // second spurt plays through: the delay carried over unchanged.
    let a100 = "A".repeat(100);
    assert!(
        frames.contains(&format!("{a100}MMM{}{a100}", ".".repeat(47))),
        "{frames}"
    );
}

#[test]
fn timestamp_jump_without_marker_is_a_new_talk_spurt() {
    let mut jb = g711();
    let mut arrivals = with_delay(0..100, 42, |_| 30_000);
    for s in 100..200u64 {
        let mut a = sent(s + 25, 42);
        a.seq = s;
        a.at_us += 30_000;
        a.marker = false;
        arrivals.push(a);
    }
    let run = drive(&mut jb, arrivals, 9_000, 260 * FRAME_US);
    assert!(run.outcomes.contains(&(100, PushOutcome::NewTalkSpurt)));
    assert_eq!(run.played(), (0..200).collect::<Vec<_>>());
    assert_eq!(jb.stats().talk_spurts, 2);
}

#[test]
fn timestamps_restarting_backwards_resynchronise() {
    let mut jb = g711();
    let mut arrivals = with_delay(0..100, 1_000_000, |_| 30_000);
    for s in 100..300u64 {
        // The source restarts its timestamp clock at 5 (a relay switched sources without
        // telling us); sequence numbers continue.
        let mut a = sent(s, 1_000_000);
        a.ts = 5 + (s - 100) as u32 * SAMPLES;
        a.at_us += 30_000;
        a.marker = false;
        arrivals.push(a);
    }
    let run = drive(&mut jb, arrivals, 9_000, 320 * FRAME_US);
    assert!(run.outcomes.contains(&(100, PushOutcome::Held)));
    assert!(run.outcomes.contains(&(101, PushOutcome::Resynchronised)));
    let s = jb.stats();
    assert_eq!(s.late, 0, "{s:?}");
    // Frames of the old time line still queued at the jump are dropped, nothing else.
    assert!(s.discarded <= 2, "{s:?}");
    let played = run.played();
    assert!(played.windows(2).all(|w| w[0] < w[1]));
    assert!((100..300).all(|s| played.contains(&s)));
    assert!((20_000..40_000).contains(&s.delay_us), "{s:?}");
    assert_accounted(&jb);
}

#[test]
fn ssrc_change_signalled_by_reset_starts_fresh() {
    let mut jb = g711();
    let first = with_delay(0..50, 0, |_| 30_000);
    let run = drive(&mut jb, first, 3_000, 50 * FRAME_US + 10_000);
    assert!(!run.played().is_empty());
    jb.reset();
    assert!(!jb.is_playing() && jb.is_empty());
    // The new source starts with its own sequence and timestamp spaces, and its own delay.
    let second: Vec<_> = with_delay(0..100, 3_000_000_000, |_| 50_000)
        .into_iter()
        .map(|mut a| {
            a.at_us += 2_000_000;
            a
        })
        .collect();
    let run = drive(
        &mut jb,
        second,
        2_003_000,
        2_000_000 + 100 * FRAME_US + 100_000,
    );
    assert_eq!(run.played(), (0..100).collect::<Vec<_>>());
    let s = jb.stats();
    assert_eq!((s.late, s.duplicate), (0, 0), "{s:?}");
    assert!((20_000..40_000).contains(&s.delay_us), "{s:?}");
    assert_accounted(&jb);
}

#[test]
fn duplicates_are_counted_and_played_once() {
    let mut jb = g711();
    let mut arrivals = with_delay(0..300, 0, |_| 30_000);
    let dups: Vec<_> = arrivals
        .iter()
        .filter(|a| a.seq % 7 == 3)
        .map(|a| Arrival {
            at_us: a.at_us + 5_000,
            ..a.clone()
        })
        .collect();
    let late_dups: Vec<_> = arrivals
        .iter()
        .filter(|a| a.seq % 50 == 10)
        .map(|a| Arrival {
            at_us: a.at_us + 200_000,
            ..a.clone()
        })
        .collect();
    let expected_dups = (dups.len() + late_dups.len()) as u64;
    arrivals.extend(dups);
    arrivals.extend(late_dups);
    let run = drive(&mut jb, arrivals, 1_000, 300 * FRAME_US + 100_000);
    assert_eq!(run.played(), (0..300).collect::<Vec<_>>());
    let s = jb.stats();
    assert_eq!((s.duplicate, s.late), (expected_dups, 0));
    assert_accounted(&jb);
}

#[test]
fn bad_configurations_are_rejected() {
    let mut c = JitterConfig::new(8000, FRAME_US);
    c.min_delay_us = 500_000;
    assert!(JitterBuffer::new(c).is_err());
    assert!(JitterBuffer::new(JitterConfig::new(0, FRAME_US)).is_err());
    assert!(JitterBuffer::new(JitterConfig::new(8000, 10)).is_err());
    assert!(JitterBuffer::new(JitterConfig::new(48_000, FRAME_US)).is_ok());
}

#[test]
fn opus_clock_plays_in_order_under_jitter() {
    let mut jb = JitterBuffer::new(JitterConfig::new(48_000, FRAME_US)).expect("valid");
    let mut rng = Rng(9);
    let arrivals: Vec<_> = (0..1000u64)
        .map(|s| Arrival {
            at_us: s * FRAME_US + 10_000 + rng.below(40_001),
            seq: s,
            ts: (s as u32).wrapping_mul(960),
            marker: s == 0,
        })
        .collect();
    let run = drive(&mut jb, arrivals, 5_000, 1000 * FRAME_US + 300_000);
    assert_eq!(run.late_after(5_000_000), 0);
    let played = run.played();
    assert!(played.windows(2).all(|w| w[0] < w[1]));
    assert!(played.len() >= 990, "{}", played.len());
    assert_accounted(&jb);
}

/// Seeded random networks (jitter, loss, duplication, reordering bursts): every pushed packet
/// is played at most once and in order, or counted as late, duplicate or discarded; every
/// frame played was pushed; every `Missing` is counted.
#[test]
fn every_packet_is_played_once_or_counted() {
    for seed in 0..300u64 {
        let mut rng = Rng(seed);
        let mut jb = g711();
        let count = 200 + rng.below(400);
        let jitter = rng.below(150_001);
        let loss = rng.below(150);
        let dup = rng.below(100);
        let spike = rng.below(50);
        let ts0 = rng.next() as u32;
        let mut arrivals = Vec::new();
        for s in 0..count {
            let mut a = sent(s, ts0);
            a.at_us += 5_000 + rng.below(jitter + 1);
            if rng.chance(spike) {
                a.at_us += rng.below(600_000);
            }
            if rng.chance(loss) {
                continue;
            }
            if rng.chance(dup) {
                let mut d = a.clone();
                d.at_us += rng.below(300_000);
                arrivals.push(d);
            }
            arrivals.push(a);
        }
        let pushed = arrivals.len() as u64;
        let run = drive(
            &mut jb,
            arrivals,
            rng.below(FRAME_US),
            count * FRAME_US + 2_000_000,
        );
        let s = jb.stats();
        let played = run.played();
        assert_eq!(s.pushed, pushed, "seed {seed}");
        assert!(
            played.windows(2).all(|w| w[0] < w[1]),
            "seed {seed}: order or repeat"
        );
        assert!(played.iter().all(|p| *p < count), "seed {seed}: invented");
        assert_eq!(s.played as usize, played.len(), "seed {seed}");
        assert_eq!(jb.len(), 0, "seed {seed}: drained");
        assert_eq!(
            s.played + s.late + s.duplicate + s.discarded,
            pushed,
            "seed {seed}: {s:?}"
        );
        let missing = run
            .frames
            .iter()
            .filter(|(_, f)| *f == Frame::Missing)
            .count() as u64;
        assert_eq!(missing, s.concealed, "seed {seed}");
        assert!(s.target_delay_us <= jb.config().max_delay_us, "seed {seed}");
        let late_outcomes = run
            .outcomes
            .iter()
            .filter(|(_, o)| *o == PushOutcome::Late)
            .count();
        assert_eq!(late_outcomes as u64, s.late, "seed {seed}");
    }
}

#[test]
fn delay_shrinks_back_at_a_bounded_rate_once_jitter_subsides() {
    let mut jb = g711();
    let mut rng = Rng(4242);
    // Five seconds of up to 150 ms jitter, then 40 s of a quiet path.
    let arrivals = with_delay(0..2250, 0, |s| {
        if s < 250 {
            10_000 + rng.below(150_001)
        } else {
            10_000
        }
    });
    let run = drive(&mut jb, arrivals, 13_000, 2250 * FRAME_US + 300_000);
    let high = run
        .late_at
        .iter()
        .filter(|(t, _, _)| (4_000_000..5_000_000).contains(t))
        .map(|(_, _, d)| *d)
        .max()
        .unwrap_or(0);
    assert!(high >= 120_000, "grew to cover the jitter: {high}");
    let s = jb.stats();
    // Back to the minimum target, within the 1.5 frames of hysteresis above it.
    assert_eq!(s.target_delay_us, 20_000);
    assert!((20_000..50_000).contains(&s.delay_us), "{s:?}");
    assert_eq!(run.late_after(5_000_000), 0);
    // Every frame dropped to shrink is at least `shrink_interval` after the previous one.
    let mut last_drop: Option<u64> = None;
    let mut prev = 0;
    let mut drops = 0;
    for (i, (t, f)) in run.frames.iter().enumerate() {
        let discarded = run.discarded_at[i];
        if discarded > prev {
            assert_eq!(discarded - prev, 1, "one frame at a time");
            assert!(matches!(f, Frame::Audio(_)), "playout stays continuous");
            if let Some(last) = last_drop {
                assert!(
                    t - last >= jb.config().shrink_interval_us,
                    "drop rate bounded"
                );
            }
            last_drop = Some(*t);
            drops += 1;
        }
        prev = discarded;
    }
    assert!(drops > 0, "the delay came down by dropping frames in talk");
    assert_accounted(&jb);
}

#[test]
fn route_change_to_a_longer_path_grows_the_delay_within_a_few_frames() {
    let mut jb = g711();
    // The path lengthens from 20 ms to 170 ms at the 5 s mark and stays there.
    let arrivals = with_delay(0..750, 0, |s| if s < 250 { 20_000 } else { 170_000 });
    let run = drive(&mut jb, arrivals, 3_000, 750 * FRAME_US + 600_000);
    let s = jb.stats();
    assert_eq!(
        s.late, 0,
        "the slower packets queue behind, none is late: {s:?}"
    );
    let gap_frames = run
        .frames
        .iter()
        .filter(|(t, f)| (5_000_000..6_000_000).contains(t) && !matches!(f, Frame::Audio(_)))
        .count();
    // The stream pauses for the extra 150 ms of transit (plus a frame of tick phase).
    assert!((7..=9).contains(&gap_frames), "{gap_frames}");
    let played = run.played();
    let missing: Vec<u64> = (0..750).filter(|s| !played.contains(s)).collect();
    assert_eq!(missing, Vec::<u64>::new(), "{:?}", jb.stats());
    assert_eq!(played, (0..750).collect::<Vec<_>>());
}

#[test]
fn overflow_duplicates_and_late_packets_report_their_outcome() {
    let mut config = JitterConfig::new(8000, FRAME_US);
    config.capacity = 10;
    let mut jb = JitterBuffer::new(config).expect("valid");
    // A burst of 15 packets at once: 10 fit.
    let outcomes: Vec<_> = (0..15u64)
        .map(|s| jb.push(0, s, s as u32 * SAMPLES, payload(s)))
        .collect();
    assert_eq!(outcomes[0], PushOutcome::NewTalkSpurt);
    assert!(outcomes[1..10].iter().all(|o| *o == PushOutcome::Queued));
    assert!(outcomes[10..].iter().all(|o| *o == PushOutcome::Discarded));
    assert_eq!(
        jb.push(1, 3, 3 * SAMPLES, payload(3)),
        PushOutcome::Duplicate
    );
    let mut now = 0;
    while !matches!(jb.pop(now), Frame::Audio(_)) {
        now += FRAME_US;
    }
    assert_eq!(jb.pop(now + FRAME_US), Frame::Audio(payload(1)));
    // Packet 0 again is a duplicate even though it was already played.
    assert_eq!(jb.push(now, 0, 0, payload(0)), PushOutcome::Duplicate);
    let s = jb.stats();
    assert_eq!(
        (s.pushed, s.discarded, s.duplicate, s.played),
        (17, 5, 2, 2)
    );
    assert!(jb.is_playing());
    assert_accounted(&jb);
}

/// Arbitrary numbers from a peer (sequence, timestamp, wild arrival times) never panic and
/// the accounting still holds.
#[test]
fn hostile_input_never_panics() {
    for seed in 0..50u64 {
        let mut rng = Rng(seed ^ 0xDEAD_BEEF);
        let mut jb = g711();
        let mut now = rng.below(u64::MAX / 4);
        for _ in 0..2000 {
            now = now.saturating_add(rng.below(40_000));
            let seq = if rng.chance(500) {
                rng.next()
            } else {
                rng.below(64)
            };
            let ts = rng.next() as u32;
            let len = rng.below(4) as usize;
            if rng.chance(50) {
                jb.push_marked(now, seq, ts, vec![0; len]);
            } else {
                jb.push(now, seq, ts, vec![0; len]);
            }
            if rng.chance(500) {
                let _ = jb.pop(now);
            }
            if rng.chance(2) {
                jb.reset();
            }
        }
        assert_accounted(&jb);
        assert!(jb.stats().target_delay_us <= jb.config().max_delay_us);
    }
}

/// Seeded talk spurts with silence suppression (timestamp jumps, marker bits, some marker
/// bits lost), a source change in the middle, plus jitter, loss and duplication: the same
/// accounting holds, and within each source the played frames keep sequence order.
#[test]
fn talk_spurts_and_source_changes_lose_nothing_silently() {
    for seed in 0..150u64 {
        let mut rng = Rng(seed.wrapping_mul(0x1234_5678));
        let mut jb = g711();
        let jitter = rng.below(100_001);
        let loss = rng.below(100);
        let dup = rng.below(80);
        let mut arrivals_a = Vec::new();
        let mut arrivals_b = Vec::new();
        for (source, arrivals) in [&mut arrivals_a, &mut arrivals_b].into_iter().enumerate() {
            let ts0 = rng.next() as u32;
            let start = source as u64 * 60_000_000;
            let mut slot = 0u64; // frame slots on the sender's clock, silence included
            for seq in 0..(300 + rng.below(300)) {
                let mut marker = seq == 0;
                if seq > 0 && rng.chance(20) {
                    slot += 5 + rng.below(100); // a silent stretch that is not sent
                    marker = !rng.chance(200); // the marker itself may be missing
                }
                let a = Arrival {
                    at_us: start + slot * FRAME_US + 5_000 + rng.below(jitter + 1),
                    seq,
                    ts: ts0.wrapping_add((slot as u32).wrapping_mul(SAMPLES)),
                    marker,
                };
                slot += 1;
                if rng.chance(loss) {
                    continue;
                }
                if rng.chance(dup) {
                    let mut d = a.clone();
                    d.at_us += rng.below(200_000);
                    arrivals.push(d);
                }
                arrivals.push(a);
            }
        }
        let pushed = (arrivals_a.len() + arrivals_b.len()) as u64;
        let run_a = drive(&mut jb, arrivals_a, rng.below(FRAME_US), 59_000_000);
        let before_reset = jb.stats();
        jb.reset();
        let run_b = drive(
            &mut jb,
            arrivals_b,
            59_000_000 + rng.below(FRAME_US),
            120_000_000,
        );
        let s = jb.stats();
        assert_eq!(s.pushed, pushed, "seed {seed}");
        assert!(
            before_reset.played > 0,
            "seed {seed}: the first source played"
        );
        for run in [&run_a, &run_b] {
            let played = run.played();
            assert!(
                played.windows(2).all(|w| w[0] < w[1]),
                "seed {seed}: order or repeat"
            );
        }
        assert_eq!(
            s.played as usize,
            run_a.played().len() + run_b.played().len(),
            "seed {seed}"
        );
        assert_eq!(jb.len(), 0, "seed {seed}: drained");
        assert_eq!(
            s.played + s.late + s.duplicate + s.discarded,
            pushed,
            "seed {seed}: {s:?}"
        );
        let missing = [&run_a, &run_b]
            .iter()
            .flat_map(|r| r.frames.iter())
            .filter(|(_, f)| *f == Frame::Missing)
            .count() as u64;
        assert_eq!(missing, s.concealed, "seed {seed}");
    }
}

#[test]
fn one_stray_timestamp_is_discarded_without_disturbing_playout() {
    let mut jb = g711();
    let arrivals: Vec<_> = with_delay(0..300, 500, |_| 30_000)
        .into_iter()
        .map(|mut a| {
            if a.seq == 150 {
                a.ts = a.ts.wrapping_add(0x4000_0000); // a garbage timestamp
            }
            a
        })
        .collect();
    let run = drive(&mut jb, arrivals, 6_000, 300 * FRAME_US + 300_000);
    assert!(run.outcomes.contains(&(150, PushOutcome::Held)));
    assert!(!run
        .outcomes
        .iter()
        .any(|(_, o)| *o == PushOutcome::Resynchronised));
    let expected: Vec<u64> = (0..300).filter(|s| *s != 150).collect();
    assert_eq!(run.played(), expected);
    let s = jb.stats();
    assert_eq!(
        (s.discarded, s.lost, s.late, s.talk_spurts),
        (1, 1, 0, 1),
        "{s:?}"
    );
    // The stray's slot is concealed, once.
    let first = run
        .frames
        .iter()
        .position(|(_, f)| *f != Frame::Silence)
        .expect("playout starts");
    assert_eq!(run.frames[first + 150].1, Frame::Missing);
    assert_eq!(run.frames[first + 151].1, Frame::Audio(payload(151)));
    assert_accounted(&jb);
}

/// Under jitter, once adapted: between two consecutive played packets there is exactly one
/// `Missing` frame per packet the network lost, and none for a packet the buffer dropped
/// to shrink its delay.
#[test]
fn under_jitter_missing_frames_match_network_losses_one_for_one() {
    for seed in 1..=3u64 {
        let mut rng = Rng(seed * 31);
        let mut jb = g711();
        let lost = |s: u64| s > 300 && s % 37 == 0;
        let arrivals = with_delay(0..2500, 7, |_| 10_000 + rng.below(60_001))
            .into_iter()
            .filter(|a| !lost(a.seq))
            .collect();
        let run = drive(&mut jb, arrivals, 17_000, 2500 * FRAME_US + 400_000);
        assert_eq!(run.late_after(6_000_000), 0, "seed {seed}");
        let mut prev: Option<(usize, u64)> = None;
        let mut checked = 0;
        for (i, (t, f)) in run.frames.iter().enumerate() {
            let Frame::Audio(p) = f else { continue };
            let seq = seq_of(p);
            if let Some((j, a)) = prev.filter(|_| *t > 6_000_000) {
                let dropped = run.discarded_at[i] - run.discarded_at[i - 1];
                let skipped = seq - a - 1;
                assert!(
                    (a + 1..seq).all(|s| lost(s) || dropped > 0),
                    "seed {seed}: {a}..{seq}"
                );
                let between = &run.frames[j + 1..i];
                assert!(
                    between.iter().all(|(_, f)| *f == Frame::Missing),
                    "seed {seed}"
                );
                assert_eq!(
                    between.len() as u64,
                    skipped - dropped,
                    "seed {seed}: {a}..{seq}"
                );
                checked += u64::from(skipped > 0);
            }
            prev = Some((i, seq));
        }
        assert!(checked >= 50, "seed {seed}: {checked} losses seen");
    }
}
