//! Random sequences of REGISTERs and timer firings. After every step:
//! - a store that only applies the emitted effects holds exactly the registrar's bindings
//!   (so the shell can persist through effects alone, and a restart from that store
//!   gives the same registrar);
//! - no lapsed binding survives `handle_timeout`, and `poll_timeout` is the earliest
//!   expiry;
//! - the per-AOR cap holds.

use proptest::prelude::*;
use sb_registrar::*;
use sb_sip_msg::{parse_datagram, Message, Request, Transport};
use std::collections::BTreeMap;

const T0: u64 = 1_800_000_000;
const MAX: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    Register {
        user: u8,
        call: u8,
        cseq: u32,
        contacts: Vec<(u8, Option<u32>, bool)>,
        star: bool,
    },
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let contact = (
        0u8..5,
        prop::option::of(prop::sample::select(vec![0u32, 30, 60, 120, 3600, 200_000])),
        any::<bool>(),
    );
    prop_oneof![
        3 => (0u8..2, 0u8..2, 0u32..6, prop::collection::vec(contact, 0..4), prop::bool::weighted(0.1))
            .prop_map(|(user, call, cseq, contacts, star)| Op::Register { user, call, cseq, contacts, star }),
        1 => (0u64..200).prop_map(Op::Advance),
    ]
}

fn build(
    user: u8,
    call: u8,
    cseq: u32,
    contacts: &[(u8, Option<u32>, bool)],
    star: bool,
) -> Request {
    let mut s = format!(
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK{cseq}\r\n\
         From: <sip:u{user}@example.com>;tag=1\r\nTo: <sip:u{user}@example.com>\r\n\
         Call-ID: c{call}\r\nCSeq: {cseq} REGISTER\r\n"
    );
    if star {
        s.push_str("Contact: *\r\nExpires: 0\r\n");
    }
    for (host, expires, instance) in contacts {
        s.push_str(&format!("Contact: <sip:u@h{host}>"));
        if *instance {
            s.push_str(&format!(";+sip.instance=\"<urn:uuid:{host}>\";reg-id=1"));
        }
        if let Some(e) = expires {
            s.push_str(&format!(";expires={e}"));
        }
        s.push_str("\r\n");
    }
    s.push_str("Content-Length: 0\r\n\r\n");
    match parse_datagram(s.as_bytes()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!(),
    }
}

type Store = BTreeMap<(Aor, BindingKey), Binding>;

fn drain(r: &mut Registrar, store: &mut Store) {
    while let Some(e) = r.poll_effect() {
        match e {
            Effect::Upsert(b) => {
                store.insert((b.aor.clone(), b.key.clone()), *b);
            }
            Effect::Remove { binding, .. } => {
                store.remove(&(binding.aor, binding.key));
            }
        }
    }
}

fn all(r: &Registrar) -> Store {
    (0..2)
        .flat_map(|u| r.bindings(&Aor::from_canonical(format!("sip:u{u}@example.com"))))
        .map(|b| ((b.aor.clone(), b.key.clone()), b))
        .collect()
}

proptest! {
    #[test]
    fn effects_mirror_state_and_timers_are_exact(ops in prop::collection::vec(op(), 1..40)) {
        let mut r = Registrar::new(RegistrarConfig {
            max_bindings_per_aor: MAX,
            ..RegistrarConfig::default()
        });
        let mut store = Store::new();
        let mut now = T0;
        let source = Source { transport: Transport::Tcp, addr: "192.0.2.1:5060".parse().unwrap() };
        for op in ops {
            match op {
                Op::Register { user, call, cseq, contacts, star } => {
                    let req = build(user, call, cseq, &contacts, star);
                    let reply = r.handle_register(now, &req, &source, &Authorized::Unchecked);
                    prop_assert!([200, 400, 403, 423, 500].contains(&reply.status.0));
                }
                Op::Advance(d) => {
                    now += d;
                    r.handle_timeout(now);
                }
            }
            drain(&mut r, &mut store);
            let live = all(&r);
            prop_assert_eq!(&store, &live);
            prop_assert_eq!(r.len(), live.len());
            prop_assert_eq!(r.poll_timeout(), live.values().map(|b| b.expires_at).min());
            for u in 0..2 {
                let aor = Aor::from_canonical(format!("sip:u{u}@example.com"));
                prop_assert!(r.bindings(&aor).len() <= MAX);
            }
            // A restart from the store gives the same bindings.
            let mut again = Registrar::new(r.config().clone());
            again.restore(now, store.values().cloned());
            let restored: Vec<_> = all(&again).into_values().map(|b| (b.aor, b.key, b.expires_at)).collect();
            let expected: Vec<_> = live
                .into_values()
                .filter(|b| b.expires_at > now)
                .map(|b| (b.aor, b.key, b.expires_at))
                .collect();
            prop_assert_eq!(restored, expected);
        }
    }
}
