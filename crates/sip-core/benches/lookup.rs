//! Matching a request or a response against many live transactions (§17.1.3, §17.2.3).
//! The figures should not depend on how many transactions are alive.

use std::time::Instant;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use sb_netsim::sip::{response_to, simple_request};
use sb_sip_core::{Peer, TimerConfig, TransactionLayer};
use sb_sip_msg::{Method, Request, Response, StatusCode};

fn peer() -> Peer {
    Peer::udp("192.0.2.9:5060".parse().expect("literal address"))
}

/// `n` server transactions in Trying, where a retransmission is matched and absorbed.
fn server_layer(n: usize, now: Instant) -> (TransactionLayer, Vec<Request>) {
    let mut layer = TransactionLayer::new(TimerConfig::default(), 1);
    let reqs: Vec<Request> = (0..n)
        .map(|i| simple_request(Method::Options, &format!("srv-{i}"), 1))
        .collect();
    for r in &reqs {
        layer.handle_request(now, r.clone(), peer());
    }
    while layer.poll_event().is_some() {}
    (layer, reqs)
}

/// `n` client transactions in Proceeding; a 183 is matched and handed to the TU.
fn client_layer(n: usize, now: Instant) -> (TransactionLayer, Vec<Response>) {
    let mut layer = TransactionLayer::new(TimerConfig::default(), 1);
    let mut resps = Vec::with_capacity(n);
    for i in 0..n {
        let req = simple_request(Method::Register, &format!("cli-{i}"), 1);
        resps.push(response_to(&req, StatusCode(183), Some("t")));
        layer.send_request(now, req, peer()).expect("unique branch");
    }
    while layer.poll_transmit().is_some() {}
    (layer, resps)
}

fn bench(c: &mut Criterion) {
    let now = Instant::now();
    for n in [1_000usize, 100_000] {
        let (mut layer, reqs) = server_layer(n, now);
        let mut i = 0;
        c.bench_function(&format!("server_match_request/{n}_live"), |b| {
            b.iter_batched(
                || {
                    i = (i + 7919) % reqs.len();
                    reqs[i].clone()
                },
                |r| layer.handle_request(now, r, peer()),
                BatchSize::SmallInput,
            )
        });
        assert_eq!(layer.len(), n, "retransmissions matched, none created");

        let (mut layer, resps) = client_layer(n, now);
        let mut i = 0;
        c.bench_function(&format!("client_match_response/{n}_live"), |b| {
            b.iter_batched(
                || {
                    i = (i + 7919) % resps.len();
                    resps[i].clone()
                },
                |r| {
                    layer.handle_response(now, r, peer());
                    layer.poll_event()
                },
                BatchSize::SmallInput,
            )
        });
        assert_eq!(layer.len(), n);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
