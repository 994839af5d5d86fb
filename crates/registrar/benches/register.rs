//! REGISTER refresh and lookup with 10 000 AORs already registered.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use sb_registrar::{Aor, Authorized, Registrar, RegistrarConfig, Source};
use sb_sip_msg::{parse_datagram, Message, Request, Transport};
use std::hint::black_box;

const T0: u64 = 1_800_000_000;
const USERS: u32 = 10_000;

fn register(user: u32, cseq: u32) -> Request {
    let s = format!(
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK{cseq}\r\n\
         From: <sip:u{user}@example.com>;tag=1\r\nTo: <sip:u{user}@example.com>\r\n\
         Call-ID: c{user}\r\nCSeq: {cseq} REGISTER\r\n\
         Contact: <sip:u{user}@192.0.2.1:5060>;+sip.instance=\"<urn:uuid:{user}>\";reg-id=1\r\n\
         Content-Length: 0\r\n\r\n"
    );
    match parse_datagram(s.as_bytes()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

fn bench(c: &mut Criterion) {
    let source = Source {
        transport: Transport::Udp,
        addr: "192.0.2.1:5060".parse().unwrap(),
    };
    let mut reg = Registrar::new(RegistrarConfig::default());
    for u in 0..USERS {
        reg.handle_register(T0, &register(u, 1), &source, &Authorized::Unchecked);
    }
    while reg.poll_effect().is_some() {}
    let mut cseq = 1;
    c.bench_function("refresh one binding among 10k AORs", |b| {
        b.iter_batched(
            || {
                // Each refresh needs a higher CSeq; building it is not measured.
                cseq += 1;
                register(4242, cseq)
            },
            |req| {
                let r = reg.handle_register(T0, &req, &source, &Authorized::Unchecked);
                assert_eq!(r.status.0, 200);
                while reg.poll_effect().is_some() {}
                black_box(r)
            },
            BatchSize::SmallInput,
        )
    });
    let aor = Aor::from_user("u77", "example.com");
    c.bench_function("lookup bindings of one AOR among 10k", |b| {
        b.iter(|| black_box(reg.bindings(black_box(&aor))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
