//! Seeded simulations: a UAC and a UAS, each a transaction layer plus a minimal TU, over a
//! link that loses, duplicates, delays and reorders messages. Every seed must end with
//! both sides agreeing on what happened; a failing seed is printed for replay.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use sb_netsim::sip::{node_addr, response_to, simple_request};
use sb_netsim::{run_seeds, LinkConfig, Node, NodeId, RunEnd, Sim};
use sb_sip_core::{
    Peer, TimerConfig, TransactionLayer, TransportKind, TsxEvent, TsxId, Uas2xxEvent,
    Uas2xxRetransmitter,
};
use sb_sip_msg::{Header, Message, Method, StatusCode};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
enum Outcome {
    #[default]
    Pending,
    Final(u16),
    Timeout,
}

#[derive(Default)]
struct UacLog {
    invite: Outcome,
    bye: Outcome,
    message: Outcome,
    two_xx_seen: usize,
    terminated: Vec<TsxId>,
}

#[derive(Default)]
struct UasLog {
    new_requests: Vec<Method>,
    acks: usize,
    ack_timeout: bool,
}

enum Role {
    Uac {
        invite: Option<TsxId>,
        bye: Option<TsxId>,
        message: Option<TsxId>,
        log: UacLog,
    },
    Uas {
        inv: Option<(TsxId, Uas2xxRetransmitter)>,
        log: UasLog,
    },
}

struct Ua {
    layer: TransactionLayer,
    role: Role,
    /// Messages the TU sends outside any transaction (the ACK for a 2xx).
    direct: VecDeque<(NodeId, Message)>,
    peer: Peer,
    transport: TransportKind,
    acks_sent: u32,
}

fn node_of(p: &Peer) -> NodeId {
    NodeId(
        usize::from(match p.addr.ip() {
            std::net::IpAddr::V4(a) => a.octets()[3],
            _ => 0,
        }) - 1,
    )
}

impl Ua {
    fn new(me: usize, role: Role, seed: u64, transport: TransportKind) -> Self {
        Ua {
            layer: TransactionLayer::new(TimerConfig::default(), seed ^ me as u64),
            role,
            direct: VecDeque::new(),
            peer: Peer::new(transport, node_addr(1 - me)),
            transport,
            acks_sent: 0,
        }
    }

    fn start_uac(&mut self, now: Instant, with_invite: bool) {
        let peer = self.peer;
        let Role::Uac {
            invite, message, ..
        } = &mut self.role
        else {
            return;
        };
        if with_invite {
            *invite = Some(
                self.layer
                    .send_request(now, simple_request(Method::Invite, "call", 1), peer)
                    .unwrap(),
            );
        }
        *message = Some(
            self.layer
                .send_request(now, simple_request(Method::Message, "im", 1), peer)
                .unwrap(),
        );
    }

    /// The TU: reacts to every event until there are none.
    fn process(&mut self, now: Instant) {
        while let Some(ev) = self.layer.poll_event() {
            match &mut self.role {
                Role::Uac {
                    invite,
                    bye,
                    message,
                    log,
                } => match ev {
                    TsxEvent::Response { tsx, resp } if resp.status.is_final() => {
                        let code = resp.status.code();
                        if Some(tsx) == *invite {
                            if resp.status.is_success() {
                                log.two_xx_seen += 1;
                                // Every 2xx (retransmissions included) is ACKed by the TU,
                                // end to end, in a transaction of its own (§13.2.2.4).
                                self.acks_sent += 1;
                                let mut ack = simple_request(Method::Ack, "call", 1);
                                if let Some(Header::To(t)) =
                                    resp.headers.iter().find(|h| matches!(h, Header::To(_)))
                                {
                                    ack.headers.0.retain(|h| !matches!(h, Header::To(_)));
                                    ack.headers.push(Header::To(t.clone()));
                                }
                                ack.headers
                                    .top_via_mut()
                                    .unwrap()
                                    .params
                                    .set("branch", Some(&format!("z9hG4bKack{}", self.acks_sent)));
                                self.direct
                                    .push_back((node_of(&self.peer), Message::Request(ack)));
                                if bye.is_none() {
                                    let mut b = simple_request(Method::Bye, "call", 2);
                                    b.headers.top_via_mut().unwrap().params.remove("branch");
                                    *bye =
                                        Some(self.layer.send_request(now, b, self.peer).unwrap());
                                }
                            }
                            if log.invite == Outcome::Pending {
                                log.invite = Outcome::Final(code);
                            }
                        } else if Some(tsx) == *bye {
                            assert_eq!(log.bye, Outcome::Pending, "one final per transaction");
                            log.bye = Outcome::Final(code);
                        } else if Some(tsx) == *message {
                            assert_eq!(log.message, Outcome::Pending, "one final per transaction");
                            log.message = Outcome::Final(code);
                        }
                    }
                    TsxEvent::Timeout { tsx } => {
                        let slot = if Some(tsx) == *invite {
                            &mut log.invite
                        } else if Some(tsx) == *bye {
                            &mut log.bye
                        } else {
                            &mut log.message
                        };
                        assert_eq!(*slot, Outcome::Pending, "timeout after a final response");
                        *slot = Outcome::Timeout;
                    }
                    TsxEvent::Terminated { tsx } => {
                        assert!(!log.terminated.contains(&tsx), "terminated twice");
                        log.terminated.push(tsx);
                    }
                    _ => {}
                },
                Role::Uas { inv, log } => match ev {
                    TsxEvent::NewRequest { tsx, req, .. } => {
                        log.new_requests.push(req.method.clone());
                        if req.method == Method::Invite {
                            let ringing = response_to(&req, StatusCode::RINGING, Some("uas"));
                            self.layer.send_response(now, tsx, ringing).unwrap();
                            let ok = response_to(&req, StatusCode::OK, Some("uas"));
                            self.layer.send_response(now, tsx, ok.clone()).unwrap();
                            *inv =
                                Some((tsx, Uas2xxRetransmitter::new(now, ok, self.layer.config())));
                        } else {
                            let ok = response_to(&req, StatusCode::OK, Some("uas"));
                            self.layer.send_response(now, tsx, ok).unwrap();
                        }
                    }
                    TsxEvent::Ack2xx { req, .. } => {
                        assert_eq!(req.method, Method::Ack);
                        log.acks += 1;
                        if let Some((_, r)) = inv {
                            r.handle_ack();
                        }
                    }
                    _ => {}
                },
            }
        }
    }

    fn drive_retransmitter(&mut self, now: Instant) {
        if let Role::Uas {
            inv: Some((tsx, r)),
            log,
        } = &mut self.role
        {
            r.handle_timeout(now);
            while let Some(resp) = r.poll_transmit() {
                // The INVITE server transaction is Accepted for the same 64*T1.
                self.layer.send_response(now, *tsx, resp).unwrap();
            }
            if r.poll_event() == Some(Uas2xxEvent::AckTimeout) {
                log.ack_timeout = true;
            }
        }
    }
}

impl Node for Ua {
    type Msg = Message;

    fn handle_input(&mut self, now: Instant, from: NodeId, msg: Message) {
        let peer = Peer::new(self.transport, node_addr(from.0));
        match msg {
            Message::Request(r) => self.layer.handle_request(now, r, peer),
            Message::Response(r) => self.layer.handle_response(now, r, peer),
        }
        self.process(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.layer.poll_timeout().is_some_and(|t| t <= now) {
            self.layer.handle_timeout(now);
        }
        self.drive_retransmitter(now);
        self.process(now);
    }

    fn poll_transmit(&mut self) -> Option<(NodeId, Message)> {
        if let Some(x) = self.direct.pop_front() {
            return Some(x);
        }
        self.layer
            .poll_transmit()
            .map(|t| (node_of(&t.to), t.message))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let r = match &self.role {
            Role::Uas {
                inv: Some((_, r)), ..
            } => r.poll_timeout(),
            _ => None,
        };
        match (self.layer.poll_timeout(), r) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

fn pair(seed: u64, link: LinkConfig, with_invite: bool) -> Sim<Ua> {
    pair_over(seed, link, with_invite, TransportKind::Udp)
}

fn pair_over(seed: u64, link: LinkConfig, with_invite: bool, t: TransportKind) -> Sim<Ua> {
    let uac = Ua::new(
        0,
        Role::Uac {
            invite: None,
            bye: None,
            message: None,
            log: UacLog::default(),
        },
        seed,
        t,
    );
    let uas = Ua::new(
        1,
        Role::Uas {
            inv: None,
            log: UasLog::default(),
        },
        seed,
        t,
    );
    let mut sim = Sim::new(seed, vec![uac, uas], link);
    let now = sim.now();
    sim.nodes[0].start_uac(now, with_invite);
    sim
}

fn logs(sim: &Sim<Ua>) -> (&UacLog, &UasLog) {
    match (&sim.nodes[0].role, &sim.nodes[1].role) {
        (Role::Uac { log: a, .. }, Role::Uas { log: b, .. }) => (a, b),
        _ => unreachable!("node 0 is the UAC, node 1 the UAS"),
    }
}

fn count(m: &[Method], which: Method) -> usize {
    m.iter().filter(|x| **x == which).count()
}

/// What both ends must agree on for one non-INVITE transaction.
fn check_non_invite(outcome: &Outcome, seen_by_uas: usize) {
    match outcome {
        Outcome::Final(200) => assert_eq!(seen_by_uas, 1, "answered once, seen once"),
        Outcome::Timeout => assert!(seen_by_uas <= 1, "retransmissions absorbed"),
        other => panic!("unexpected outcome {other:?}"),
    }
}

#[test]
fn invite_and_non_invite_complete_over_a_lossy_reordering_link() {
    let completed = std::cell::Cell::new(0);
    let net = std::cell::Cell::new(sb_netsim::NetStats::default());
    run_seeds(0..200, |seed| {
        let link = LinkConfig::lossy(
            Duration::from_millis(5),
            Duration::from_millis(80),
            0.2,
            0.1,
            0.1,
        );
        let mut sim = pair(seed, link, true);
        let end = sim.run(Duration::from_secs(300), 100_000);
        assert_eq!(end, RunEnd::Quiet, "seed {seed}");
        let (uac, uas) = logs(&sim);
        assert!(
            count(&uas.new_requests, Method::Invite) <= 1,
            "INVITE retransmissions absorbed"
        );
        match uac.invite {
            Outcome::Final(200) => {
                completed.set(completed.get() + 1);
                assert_eq!(count(&uas.new_requests, Method::Invite), 1);
                check_non_invite(&uac.bye, count(&uas.new_requests, Method::Bye));
                // Either an ACK got through, or every one was lost and the UAS gave up.
                assert!(uas.acks >= 1 || uas.ack_timeout);
                assert!(uac.two_xx_seen >= 1);
            }
            Outcome::Timeout => assert_eq!(uac.bye, Outcome::Pending, "no BYE without a 2xx"),
            ref other => panic!("unexpected INVITE outcome {other:?}"),
        }
        check_non_invite(&uac.message, count(&uas.new_requests, Method::Message));
        // Quiet means every transaction ended, on both sides.
        assert_eq!(sim.nodes[0].layer.len(), 0);
        assert_eq!(sim.nodes[1].layer.len(), 0);
        let expected = 1 + usize::from(uac.bye != Outcome::Pending) + 1;
        assert_eq!(uac.terminated.len(), expected);
        let (mut n, s) = (net.get(), sim.net.stats());
        n.lost += s.lost;
        n.duplicated += s.duplicated;
        n.reordered += s.reordered;
        net.set(n);
    });
    assert!(
        completed.get() >= 195,
        "only {} of 200 calls completed",
        completed.get()
    );
    // The runs did meet the trouble they were meant to.
    let n = net.get();
    assert!(
        n.lost > 200 && n.duplicated > 100 && n.reordered > 100,
        "{n:?}"
    );
}

#[test]
fn non_invite_over_a_very_lossy_link_completes_or_times_out_consistently() {
    let (ok, timed_out) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    run_seeds(1000..1200, |seed| {
        let link = LinkConfig::lossy(
            Duration::from_millis(1),
            Duration::from_millis(30),
            0.5,
            0.2,
            0.2,
        );
        let mut sim = pair(seed, link, false);
        let start = sim.now();
        assert_eq!(sim.run(Duration::from_secs(120), 100_000), RunEnd::Quiet);
        let (uac, uas) = logs(&sim);
        check_non_invite(&uac.message, count(&uas.new_requests, Method::Message));
        if uac.message == Outcome::Timeout {
            timed_out.set(timed_out.get() + 1);
        } else {
            ok.set(ok.get() + 1);
        }
        // Timer F bounds the client; Timer J (64*T1 after the answer) the server.
        assert!(
            sim.now() - start <= Duration::from_secs(70),
            "{:?}",
            sim.now() - start
        );
    });
    assert!(
        ok.get() > 150 && timed_out.get() > 0,
        "ok {} timed out {}",
        ok.get(),
        timed_out.get()
    );
}

#[test]
fn a_lossless_call_takes_the_textbook_path() {
    let mut sim = pair(7, LinkConfig::fixed(Duration::from_millis(10)), true);
    assert_eq!(sim.run(Duration::from_secs(300), 10_000), RunEnd::Quiet);
    let (uac, uas) = logs(&sim);
    assert_eq!(
        (uac.invite.clone(), uac.bye.clone(), uac.message.clone()),
        (
            Outcome::Final(200),
            Outcome::Final(200),
            Outcome::Final(200)
        )
    );
    assert_eq!(
        uac.two_xx_seen, 1,
        "ACK arrived before the first 2xx retransmission"
    );
    assert_eq!(uas.acks, 1);
    assert_eq!(
        uas.new_requests,
        vec![Method::Invite, Method::Message, Method::Bye]
    );
    let s = sim.net.stats();
    assert_eq!(s.lost, 0);
    // INVITE, MESSAGE, 180, 200, 200 (MESSAGE), ACK, BYE, 200 (BYE).
    assert_eq!(s.sent, 8);
}

#[test]
fn over_tcp_nothing_is_retransmitted_and_the_wait_states_are_skipped() {
    let mut sim = pair_over(
        11,
        LinkConfig::fixed(Duration::from_millis(10)),
        true,
        TransportKind::Tcp,
    );
    let start = sim.now();
    sim.run_until(start + Duration::from_secs(1));
    let (uac, uas) = logs(&sim);
    assert_eq!(uac.bye, Outcome::Final(200));
    assert_eq!(uas.acks, 1);
    // The BYE, MESSAGE and their server transactions ended on their final responses
    // (Timers J and K are zero); only the INVITE pair waits out Timers L and M.
    assert_eq!(sim.nodes[0].layer.len(), 1);
    assert_eq!(sim.nodes[1].layer.len(), 1);
    assert_eq!(sim.run(Duration::from_secs(300), 10_000), RunEnd::Quiet);
    assert_eq!(sim.net.stats().sent, 8, "not one retransmission");
}
