//! Arbitrary sequences of peer input, TU commands and time against one transaction layer:
//! nothing panics, every transaction ends exactly once, and once time runs on with no
//! input, only server transactions still waiting for their TU remain.

mod common;

use std::collections::HashSet;

use common::{peer, Harness};
use proptest::prelude::*;
use sb_netsim::sip::{response_to, simple_request};
use sb_sip_core::{
    InviteClientState, InviteServerState, NonInviteServerState, TransportKind, TsxEvent, TsxId,
    TsxState,
};
use sb_sip_msg::{Method, StatusCode};

#[derive(Debug, Clone)]
enum Op {
    RecvRequest {
        method: u8,
        call: u8,
        cookie: bool,
        reliable: bool,
    },
    RecvResponse {
        method: u8,
        call: u8,
        status: u16,
    },
    SendRequest {
        method: u8,
        call: u8,
        reliable: bool,
    },
    Respond {
        pick: usize,
        status: u16,
    },
    Cancel {
        pick: usize,
    },
    TransportError {
        pick: usize,
    },
    Advance {
        ms: u64,
    },
}

fn method(m: u8) -> Method {
    [
        Method::Invite,
        Method::Ack,
        Method::Cancel,
        Method::Options,
        Method::Bye,
    ][m as usize % 5]
        .clone()
}

fn op() -> impl Strategy<Value = Op> {
    let status = prop::sample::select(vec![100u16, 180, 183, 200, 202, 302, 486, 503]);
    prop_oneof![
        (0u8..5, 0u8..4, any::<bool>(), any::<bool>()).prop_map(
            |(method, call, cookie, reliable)| Op::RecvRequest {
                method,
                call,
                cookie,
                reliable
            }
        ),
        (0u8..5, 0u8..4, status.clone()).prop_map(|(method, call, status)| Op::RecvResponse {
            method,
            call,
            status
        }),
        (0u8..5, 0u8..4, any::<bool>()).prop_map(|(method, call, reliable)| Op::SendRequest {
            method,
            call,
            reliable
        }),
        (any::<usize>(), status).prop_map(|(pick, status)| Op::Respond { pick, status }),
        any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        any::<usize>().prop_map(|pick| Op::TransportError { pick }),
        (0u64..40_000).prop_map(|ms| Op::Advance { ms }),
    ]
}

fn kind(reliable: bool) -> TransportKind {
    if reliable {
        TransportKind::Tcp
    } else {
        TransportKind::Udp
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn any_sequence_keeps_the_layer_consistent(ops in prop::collection::vec(op(), 1..60)) {
        let mut h = Harness::new();
        let mut ids: Vec<TsxId> = Vec::new();
        for op in ops {
            match op {
                Op::RecvRequest { method: m, call, cookie, reliable } => {
                    let mut req = simple_request(method(m), &format!("s{call}"), 1);
                    if !cookie {
                        req.headers.top_via_mut().unwrap().params.remove("branch");
                    }
                    h.recv_request(req, peer(kind(reliable)));
                }
                Op::RecvResponse { method: m, call, status } => {
                    let req = simple_request(method(m), &format!("c{call}"), 1);
                    h.recv_response(response_to(&req, StatusCode(status), Some("t")), peer(TransportKind::Udp));
                }
                Op::SendRequest { method: m, call, reliable } => {
                    let req = simple_request(method(m), &format!("c{call}"), 1);
                    if let Ok(id) = h.layer.send_request(h.now(), req, peer(kind(reliable))) {
                        ids.push(id);
                    }
                    h.drain();
                }
                Op::Respond { pick, status } if !ids.is_empty() => {
                    let id = ids[pick % ids.len()];
                    if let Some(req) = h.layer.request(id).cloned() {
                        let _ = h.layer.send_response(h.now(), id, response_to(&req, StatusCode(status), Some("u")));
                    }
                    h.drain();
                }
                Op::Cancel { pick } if !ids.is_empty() => {
                    if let Ok(id) = h.layer.cancel(h.now(), ids[pick % ids.len()]) {
                        ids.push(id);
                    }
                    h.drain();
                }
                Op::TransportError { pick } if !ids.is_empty() => {
                    h.layer.handle_transport_error(h.now(), ids[pick % ids.len()]);
                    h.drain();
                }
                Op::Advance { ms } => {
                    let target = h.ms() + ms;
                    h.run_until(target);
                    let now = h.now();
                    prop_assert!(!matches!(h.layer.poll_timeout(), Some(t) if t <= now), "a due timer was left behind");
                }
                _ => {}
            }
            for (_, e) in &h.events {
                if let TsxEvent::NewRequest { tsx, .. } | TsxEvent::Cancel { tsx, .. } = e {
                    if !ids.contains(tsx) {
                        ids.push(*tsx);
                    }
                }
            }
        }
        let end = h.ms() + 300_000;
        h.run_until(end);

        let mut terminated = HashSet::new();
        for (_, e) in &h.events {
            if let TsxEvent::Terminated { tsx } = e {
                prop_assert!(terminated.insert(*tsx), "{tsx} terminated twice");
            }
        }
        let live: Vec<TsxId> = ids.iter().copied().filter(|i| !terminated.contains(i)).collect();
        prop_assert_eq!(h.layer.len(), live.len());
        for id in live {
            // No timer ends these: RFC 3261 leaves them to the TU (an INVITE client that saw
            // a provisional waits for the TU to CANCEL, §17.1.1.2; Timer C is a proxy's).
            let st = h.layer.state(id);
            prop_assert!(
                matches!(
                    st,
                    Some(TsxState::InviteServer(InviteServerState::Proceeding))
                        | Some(TsxState::InviteClient(InviteClientState::Proceeding))
                        | Some(TsxState::NonInviteServer(NonInviteServerState::Trying | NonInviteServerState::Proceeding))
                ),
                "{id} still {st:?} after five idle minutes"
            );
        }
        prop_assert_eq!(h.layer.poll_timeout(), None);
    }
}
