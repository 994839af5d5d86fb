//! A single transaction layer on a virtual clock, recording what it sends and reports with
//! the time it happened, in milliseconds since the start.
#![allow(dead_code)]

use std::time::Duration;

use sb_netsim::VirtualClock;
use sb_sip_core::{Peer, TimerConfig, TransactionLayer, Transmit, TransportKind, TsxEvent};
use sb_sip_msg::{Message, Method, Request, Response, StatusCode};

pub fn peer(kind: TransportKind) -> Peer {
    Peer::new(kind, "192.0.2.9:5060".parse().expect("literal address"))
}

pub struct Harness {
    pub layer: TransactionLayer,
    pub clock: VirtualClock,
    pub sent: Vec<(u64, Transmit)>,
    pub events: Vec<(u64, TsxEvent)>,
}

impl Harness {
    pub fn new() -> Self {
        Harness {
            layer: TransactionLayer::new(TimerConfig::default(), 42),
            clock: VirtualClock::new(),
            sent: Vec::new(),
            events: Vec::new(),
        }
    }

    pub fn ms(&self) -> u64 {
        self.clock.elapsed().as_millis() as u64
    }

    pub fn now(&self) -> std::time::Instant {
        self.clock.now()
    }

    pub fn drain(&mut self) {
        let t = self.ms();
        while let Some(x) = self.layer.poll_transmit() {
            self.sent.push((t, x));
        }
        while let Some(e) = self.layer.poll_event() {
            self.events.push((t, e));
        }
    }

    /// Fires every timer up to `ms`, in order, at its own deadline.
    pub fn run_until(&mut self, ms: u64) {
        let target = self.clock.at(Duration::from_millis(ms));
        while let Some(at) = self.layer.poll_timeout() {
            if at > target {
                break;
            }
            self.clock.advance_to(at);
            let now = self.clock.now();
            self.layer.handle_timeout(now);
            self.drain();
        }
        self.clock.advance_to(target);
    }

    pub fn recv_request(&mut self, req: Request, from: Peer) {
        let now = self.now();
        self.layer.handle_request(now, req, from);
        self.drain();
    }

    pub fn recv_response(&mut self, resp: Response, from: Peer) {
        let now = self.now();
        self.layer.handle_response(now, resp, from);
        self.drain();
    }

    /// Times at which a request with this method was sent.
    pub fn request_times(&self, method: Method) -> Vec<u64> {
        self.sent
            .iter()
            .filter(|(_, t)| matches!(&t.message, Message::Request(r) if r.method == method))
            .map(|(ms, _)| *ms)
            .collect()
    }

    /// Times at which a response with this status was sent.
    pub fn response_times(&self, status: StatusCode) -> Vec<u64> {
        self.sent
            .iter()
            .filter(|(_, t)| matches!(&t.message, Message::Response(r) if r.status == status))
            .map(|(ms, _)| *ms)
            .collect()
    }

    pub fn sent_requests(&self, method: Method) -> Vec<Request> {
        self.sent
            .iter()
            .filter_map(|(_, t)| match &t.message {
                Message::Request(r) if r.method == method => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    /// Events matching a predicate, with their times.
    pub fn events_where(&self, f: impl Fn(&TsxEvent) -> bool) -> Vec<(u64, TsxEvent)> {
        self.events.iter().filter(|(_, e)| f(e)).cloned().collect()
    }

    pub fn clear(&mut self) {
        self.sent.clear();
        self.events.clear();
    }
}
