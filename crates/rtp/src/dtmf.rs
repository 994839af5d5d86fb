//! RFC 4733 telephone events: the payload format (§2.3), a sender (§2.5.1) and a
//! receiver (§2.5.2) that reports each key press exactly once.
//!
//! Pitfalls handled here, once: every packet of one event carries the same RTP timestamp
//! (the event's start, §2.5.1.2) and a growing duration; the end packet is sent three times
//! because it alone carries the final duration (§2.5.1.4); a receiver that never sees an
//! end (all three lost) must still report the event, so it times out (§2.5.2.1 suggests
//! treating silence as the end).

use std::collections::VecDeque;

/// The 4-byte payload of one telephone-event packet (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code; 0–15 are the DTMF digits (§3.2).
    pub event: u8,
    /// E bit: this packet ends the event.
    pub end: bool,
    /// Power level in -dBm0, 0–63 (§2.3.4).
    pub volume: u8,
    /// Duration so far in RTP timestamp units (§2.3.5).
    pub duration: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DtmfError {
    #[error("telephone-event payload of {0} bytes, expected at least 4")]
    TooShort(usize),
}

impl TelephoneEvent {
    /// Parses the first event of a payload. Redundant (RFC 2198) blocks are not handled.
    pub fn parse(payload: &[u8]) -> Result<Self, DtmfError> {
        let b = payload.get(..4).ok_or(DtmfError::TooShort(payload.len()))?;
        Ok(Self {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3F,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }

    /// The wire form; the reserved R bit is sent as zero (§2.3.3).
    pub fn to_bytes(self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            u8::from(self.end) << 7 | (self.volume & 0x3F),
            d[0],
            d[1],
        ]
    }
}

/// The DTMF event code of a key (RFC 4733 §3.2): `0`–`9`, `*`=10, `#`=11, `A`–`D`=12–15.
pub fn event_from_char(c: char) -> Option<u8> {
    match c.to_ascii_uppercase() {
        d @ '0'..='9' => Some(d as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        l @ 'A'..='D' => Some(l as u8 - b'A' + 12),
        _ => None,
    }
}

/// The key of a DTMF event code, if it is one.
pub fn event_to_char(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + event - 12)),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfSenderConfig {
    /// RTP clock rate of the telephone-event payload type (8000 in practice).
    pub clock_rate: u32,
    /// Time between packets of one event (§2.5.1.2 suggests 50 ms; many peers use 20).
    pub interval_ms: u32,
    /// Silence between the end of one queued tone and the start of the next (at least
    /// until the previous end packets are all sent).
    pub gap_ms: u32,
    /// Volume field to send, 0–63 (-dBm0).
    pub volume: u8,
    /// How many times the end packet is sent (§2.5.1.4: three).
    pub end_repeats: u8,
}

impl Default for DtmfSenderConfig {
    fn default() -> Self {
        Self {
            clock_rate: 8000,
            interval_ms: 50,
            gap_ms: 50,
            volume: 10,
            end_repeats: 3,
        }
    }
}

/// One packet the sender wants on the wire; the caller wraps it in RTP with its own
/// SSRC, sequence number and the negotiated telephone-event payload type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfPacket {
    /// Marker bit: set on the first packet of an event (§2.5.1.2).
    pub marker: bool,
    pub timestamp: u32,
    pub payload: TelephoneEvent,
}

#[derive(Debug, Clone, Copy)]
struct Active {
    event: u8,
    timestamp: u32,
    started_us: u64,
    total: u16,
    next_us: u64,
    /// Packets sent so far, continuation and end alike.
    sent: u32,
    ends_sent: u8,
}

/// RFC 4733 §2.5.1 sender. Sans-IO: `send_event` queues a key press, `handle_timeout`
/// advances time, `poll_transmit` yields packets, `poll_timeout` says when to call again.
///
/// Timing: packet k of an event leaves at `start + k * interval` and announces the
/// duration `(k + 1) * interval`, capped at the tone's length; the first leaves at once
/// so the far end starts the tone without waiting an interval. The packet whose duration
/// reaches the tone's length carries the E bit and is repeated `end_repeats` times, one
/// interval apart, with the same duration. Durations are capped at 0xFFFF units (8.19 s at
/// 8 kHz); longer tones (§2.5.1.3 segments) are not produced.
#[derive(Debug)]
pub struct DtmfSender {
    cfg: DtmfSenderConfig,
    /// The RTP clock: timestamp `ts0` at time `t0_us`.
    t0_us: u64,
    ts0: u32,
    queue: VecDeque<(u8, u32)>,
    active: Option<Active>,
    /// No event may start before this time (inter-event gap).
    idle_from_us: u64,
    out: VecDeque<DtmfPacket>,
}

impl DtmfSender {
    /// `ts_at_now` is the RTP timestamp of the media stream at `now_us`, so events land on
    /// the same timeline as the audio they replace.
    pub fn new(cfg: DtmfSenderConfig, now_us: u64, ts_at_now: u32) -> Self {
        Self {
            cfg,
            t0_us: now_us,
            ts0: ts_at_now,
            queue: VecDeque::new(),
            active: None,
            idle_from_us: now_us,
            out: VecDeque::new(),
        }
    }

    /// True while an event is being sent or waits in the queue.
    pub fn is_busy(&self) -> bool {
        self.active.is_some() || !self.queue.is_empty()
    }

    /// Queues `event` lasting `duration_ms`, clamped so the duration fits 16 bits.
    pub fn send_event(&mut self, now_us: u64, event: u8, duration_ms: u32) {
        self.queue.push_back((event, duration_ms));
        self.handle_timeout(now_us);
    }

    fn units(&self, us: u64) -> u64 {
        us * u64::from(self.cfg.clock_rate) / 1_000_000
    }

    fn interval_us(&self) -> u64 {
        u64::from(self.cfg.interval_ms.max(1)) * 1000
    }

    pub fn handle_timeout(&mut self, now_us: u64) {
        loop {
            if self.active.is_none() {
                if now_us < self.idle_from_us {
                    return;
                }
                let Some((event, ms)) = self.queue.pop_front() else {
                    return;
                };
                let start = now_us.max(self.idle_from_us);
                let ts = self.ts0.wrapping_add(self.units(start - self.t0_us) as u32);
                let total = self.units(u64::from(ms) * 1000).clamp(1, 0xFFFF) as u16;
                self.active = Some(Active {
                    event,
                    timestamp: ts,
                    started_us: start,
                    total,
                    next_us: start,
                    sent: 0,
                    ends_sent: 0,
                });
            }
            let Some(mut a) = self.active else { return };
            if now_us < a.next_us {
                return;
            }
            // Duration covered once this packet's interval has played out.
            let elapsed_us = (u64::from(a.sent) + 1) * self.interval_us();
            let covered = self.units(elapsed_us).min(u64::from(a.total)) as u16;
            let end = covered >= a.total;
            self.out.push_back(DtmfPacket {
                marker: a.sent == 0,
                timestamp: a.timestamp,
                payload: TelephoneEvent {
                    event: a.event,
                    end,
                    volume: self.cfg.volume,
                    duration: covered,
                },
            });
            a.sent += 1;
            a.next_us += self.interval_us();
            if end {
                a.ends_sent += 1;
            }
            if end && a.ends_sent >= self.cfg.end_repeats.max(1) {
                let tone_end = a.started_us
                    + u64::from(a.total) * 1_000_000 / u64::from(self.cfg.clock_rate.max(1));
                // The next tone starts `gap_ms` after this one ended, but never while
                // this one's end packets are still going out.
                self.idle_from_us = (tone_end + u64::from(self.cfg.gap_ms) * 1000).max(a.next_us);
                self.active = None;
            } else {
                self.active = Some(a);
            }
        }
    }

    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<DtmfPacket> {
        self.out.pop_front()
    }

    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        match &self.active {
            Some(a) => Some(a.next_us),
            None if !self.queue.is_empty() => Some(self.idle_from_us),
            None => None,
        }
    }
}

/// A completed key press, reported once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfEvent {
    pub event: u8,
    /// RTP timestamp of the event start; identifies the key press.
    pub timestamp: u32,
    /// Longest duration seen, in timestamp units.
    pub duration: u16,
    /// True when no end packet arrived and the event was closed by the timeout.
    pub timed_out: bool,
}

#[derive(Debug, Clone, Copy)]
struct Current {
    event: u8,
    timestamp: u32,
    duration: u16,
    last_us: u64,
}

/// How many finished key presses are remembered to drop retransmitted end packets.
const RECENT: usize = 16;

/// RFC 4733 §2.5.2 receiver. An event is identified by (timestamp, event code); it is
/// reported when its first end packet arrives, when a different event starts, or when no
/// packet arrived for `timeout_us`.
#[derive(Debug)]
pub struct DtmfReceiver {
    timeout_us: u64,
    current: Option<Current>,
    recent: VecDeque<(u32, u8)>,
    out: VecDeque<DtmfEvent>,
}

impl DtmfReceiver {
    /// `timeout_us`: silence after which an event without an end is closed (a few
    /// packet intervals; 200 ms is a common choice).
    pub fn new(timeout_us: u64) -> Self {
        Self {
            timeout_us,
            current: None,
            recent: VecDeque::new(),
            out: VecDeque::new(),
        }
    }

    /// Feeds the payload of a telephone-event RTP packet and its RTP timestamp.
    pub fn handle_packet(
        &mut self,
        now_us: u64,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<(), DtmfError> {
        let ev = TelephoneEvent::parse(payload)?;
        let key = (timestamp, ev.event);
        if self.recent.contains(&key) {
            return Ok(()); // a retransmitted end or a late duplicate
        }
        match self.current {
            Some(c) if (c.timestamp, c.event) == key => {
                let c = Current {
                    duration: c.duration.max(ev.duration),
                    last_us: now_us,
                    ..c
                };
                self.current = Some(c);
            }
            Some(c) => {
                // A new event began before the old one ended: its end packets were lost.
                self.finish(c, true);
                self.current = Some(self.start(ev, timestamp, now_us));
            }
            None => self.current = Some(self.start(ev, timestamp, now_us)),
        }
        if ev.end {
            if let Some(c) = self.current.take() {
                self.finish(c, false);
            }
        }
        Ok(())
    }

    fn start(&self, ev: TelephoneEvent, timestamp: u32, now_us: u64) -> Current {
        Current {
            event: ev.event,
            timestamp,
            duration: ev.duration,
            last_us: now_us,
        }
    }

    fn finish(&mut self, c: Current, timed_out: bool) {
        self.out.push_back(DtmfEvent {
            event: c.event,
            timestamp: c.timestamp,
            duration: c.duration,
            timed_out,
        });
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back((c.timestamp, c.event));
    }

    pub fn handle_timeout(&mut self, now_us: u64) {
        if let Some(c) = self.current {
            if now_us >= c.last_us + self.timeout_us {
                self.current = None;
                self.finish(c, true);
            }
        }
    }

    #[must_use]
    pub fn poll_event(&mut self) -> Option<DtmfEvent> {
        self.out.pop_front()
    }

    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        self.current.map(|c| c.last_us + self.timeout_us)
    }
}
