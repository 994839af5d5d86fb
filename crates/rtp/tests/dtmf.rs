//! RFC 4733 telephone events: payload bytes, the sender's packet train, and the receiver
//! reporting each key press once through loss, duplicates and missing ends.

use sb_rtp::dtmf::{event_from_char, event_to_char, DtmfPacket};
use sb_rtp::{DtmfEvent, DtmfReceiver, DtmfSender, DtmfSenderConfig, TelephoneEvent};

#[test]
fn payload_bytes_from_a_gateway() {
    // Digit 5, E=1, volume 10, duration 1600 (200 ms at 8 kHz).
    let wire = [0x05, 0x8A, 0x06, 0x40];
    let ev = TelephoneEvent::parse(&wire).unwrap();
    assert_eq!(
        ev,
        TelephoneEvent {
            event: 5,
            end: true,
            volume: 10,
            duration: 1600
        }
    );
    assert_eq!(ev.to_bytes(), wire);
    // The reserved R bit (0x40) is ignored on receipt and sent as zero.
    let with_r = TelephoneEvent::parse(&[0x0B, 0x4A, 0x00, 0xA0]).unwrap();
    assert_eq!(
        with_r,
        TelephoneEvent {
            event: 11,
            end: false,
            volume: 10,
            duration: 160
        }
    );
    assert_eq!(with_r.to_bytes(), [0x0B, 0x0A, 0x00, 0xA0]);
    assert!(TelephoneEvent::parse(&[1, 2, 3]).is_err());
}

#[test]
fn keys_map_to_event_codes() {
    let keys = "0123456789*#ABCD";
    for (code, key) in keys.chars().enumerate() {
        assert_eq!(event_from_char(key), Some(code as u8));
        assert_eq!(event_to_char(code as u8), Some(key));
    }
    assert_eq!(event_from_char('d'), Some(15));
    assert_eq!(event_from_char('E'), None);
    assert_eq!(event_to_char(16), None);
}

/// Runs the sender until idle, returning each packet with the time it was due.
fn drain(sender: &mut DtmfSender, mut now: u64) -> Vec<(u64, DtmfPacket)> {
    let mut out = Vec::new();
    loop {
        while let Some(p) = sender.poll_transmit() {
            out.push((now, p));
        }
        let Some(t) = sender.poll_timeout() else {
            return out;
        };
        assert!(t >= now, "timeout must not go back in time");
        now = t;
        sender.handle_timeout(now);
    }
}

#[test]
fn sender_packet_train_for_one_digit() {
    let cfg = DtmfSenderConfig {
        interval_ms: 50,
        ..DtmfSenderConfig::default()
    };
    let mut s = DtmfSender::new(cfg, 1_000_000, 8000);
    s.send_event(1_000_000, 1, 200);
    let train = drain(&mut s, 1_000_000);
    let durations: Vec<_> = train.iter().map(|(_, p)| p.payload.duration).collect();
    // 200 ms = 1600 units in 50 ms (400-unit) steps, then two more end packets.
    assert_eq!(durations, vec![400, 800, 1200, 1600, 1600, 1600]);
    let ends: Vec<_> = train.iter().map(|(_, p)| p.payload.end).collect();
    assert_eq!(ends, vec![false, false, false, true, true, true]);
    let markers: Vec<_> = train.iter().map(|(_, p)| p.marker).collect();
    assert_eq!(markers, vec![true, false, false, false, false, false]);
    // Every packet carries the event's start timestamp.
    assert!(train.iter().all(|(_, p)| p.timestamp == 8000));
    let times: Vec<_> = train.iter().map(|(t, _)| t - 1_000_000).collect();
    assert_eq!(times, vec![0, 50_000, 100_000, 150_000, 200_000, 250_000]);
    assert!(!s.is_busy());
}

#[test]
fn all_sixteen_events_round_trip_with_lost_continuation_packets() {
    let cfg = DtmfSenderConfig {
        interval_ms: 20,
        gap_ms: 60,
        ..DtmfSenderConfig::default()
    };
    let start = 5_000_000;
    let mut s = DtmfSender::new(cfg, start, 0xFFFF_F000); // timestamps wrap mid-run
    for code in 0..16 {
        s.send_event(start, code, 100);
    }
    let train = drain(&mut s, start);
    let mut r = DtmfReceiver::new(200_000);
    let mut got = Vec::new();
    for (i, (t, p)) in train.iter().enumerate() {
        // Lose every third packet that is not an end packet, the first packet included
        // for some events, and deliver every end packet twice (network duplicate).
        if !p.payload.end && i % 3 == 0 {
            continue;
        }
        let copies = if p.payload.end { 2 } else { 1 };
        for _ in 0..copies {
            r.handle_packet(*t, p.timestamp, &p.payload.to_bytes())
                .unwrap();
        }
        r.handle_timeout(*t);
        while let Some(e) = r.poll_event() {
            got.push(e);
        }
    }
    let codes: Vec<u8> = got.iter().map(|e| e.event).collect();
    assert_eq!(
        codes,
        (0..16).collect::<Vec<_>>(),
        "each key exactly once, in order"
    );
    assert!(got.iter().all(|e| e.duration == 800 && !e.timed_out));
    // Distinct start timestamps, 100 ms tone + 60 ms gap apart in 8 kHz units.
    for w in got.windows(2) {
        assert_eq!(w[1].timestamp.wrapping_sub(w[0].timestamp), 1280);
    }
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn missing_end_is_reported_by_timeout_and_late_ends_are_ignored() {
    let mut r = DtmfReceiver::new(200_000);
    let ev = |event, end, duration| {
        TelephoneEvent {
            event,
            end,
            volume: 10,
            duration,
        }
        .to_bytes()
    };
    r.handle_packet(0, 1000, &ev(7, false, 160)).unwrap();
    r.handle_packet(20_000, 1000, &ev(7, false, 320)).unwrap();
    assert_eq!(r.poll_event(), None);
    assert_eq!(r.poll_timeout(), Some(220_000));
    r.handle_timeout(219_999);
    assert_eq!(r.poll_event(), None);
    r.handle_timeout(220_000);
    assert_eq!(
        r.poll_event(),
        Some(DtmfEvent {
            event: 7,
            timestamp: 1000,
            duration: 320,
            timed_out: true
        })
    );
    // The end packets finally arrive: the key press was already reported.
    r.handle_packet(230_000, 1000, &ev(7, true, 480)).unwrap();
    assert_eq!(r.poll_event(), None);

    // A new event while another is open closes the old one without its end.
    r.handle_packet(300_000, 5000, &ev(2, false, 160)).unwrap();
    r.handle_packet(400_000, 6000, &ev(3, false, 160)).unwrap();
    assert_eq!(
        r.poll_event().map(|e| (e.event, e.timed_out)),
        Some((2, true))
    );
    // Only an end packet of a press (start and continuation lost) still reports it.
    r.handle_packet(450_000, 7000, &ev(4, true, 800)).unwrap();
    assert_eq!(r.poll_event().map(|e| e.event), Some(3));
    assert_eq!(
        r.poll_event().map(|e| (e.event, e.duration, e.timed_out)),
        Some((4, 800, false))
    );
    assert_eq!(r.poll_event(), None);
    // The same digit pressed again has a new timestamp and is a new press.
    r.handle_packet(600_000, 9000, &ev(4, true, 800)).unwrap();
    assert_eq!(r.poll_event().map(|e| e.timestamp), Some(9000));
    assert!(r.handle_packet(0, 0, &[1]).is_err());
}
