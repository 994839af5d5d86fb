//! Calls per second of the proxy core alone: one INVITE → 180 → 200 → ACK → BYE → 200
//! through `Proxy`, every message in memory, routing answered at once. Time advances
//! 1 ms per call on a virtual clock so finished transactions expire as in production.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sb_netsim::sip::{response_to, sip_uri, RequestBuilder};
use sb_proxy::{Plan, Proxy, ProxyConfig, Query, RouteDecision, Target};
use sb_sip_core::{Peer, TimerConfig};
use sb_sip_msg::{CSeq, ContactValue, Header, Message, Method, NameAddr, Request, StatusCode, Uri};

fn ua_uri(host: &str) -> Uri {
    let mut u = sip_uri("bob", host);
    if let Uri::Sip(s) = &mut u {
        s.port = Some(5060);
    }
    u
}

struct Bench {
    proxy: Proxy,
    now: Instant,
    caller: Peer,
    callee: Peer,
    n: u64,
}

impl Bench {
    fn forwarded(&mut self) -> Option<Request> {
        let mut fwd = None;
        while let Some(t) = self.proxy.poll_transmit() {
            if let Message::Request(r) = t.message {
                fwd = Some(r);
            }
        }
        while self.proxy.poll_event().is_some() {}
        fwd
    }

    fn call(&mut self) {
        self.n += 1;
        self.now += Duration::from_millis(1);
        self.proxy.handle_timeout(self.now);
        let now = self.now;
        let call_id = format!("bench-{}", self.n);
        let invite = RequestBuilder::new(Method::Invite, "bob", "example.com")
            .via_udp("192.0.2.2", 5060, Some(&format!("z9hG4bKi{}", self.n)))
            .from("alice", "example.com", "a1")
            .to("bob", "example.com", None)
            .call_id(&call_id)
            .header(Header::Contact(ContactValue::Addr(NameAddr::new(ua_uri(
                "192.0.2.2",
            )))))
            .cseq(1)
            .build();
        self.proxy.handle_request(now, invite, self.caller);
        while let Some(Query::Route { id, .. }) = self.proxy.poll_query() {
            let t = Target::new(ua_uri("192.0.2.3"), self.callee);
            let plan = Plan::parallel(vec![t]);
            self.proxy
                .handle_route_decision(now, id, RouteDecision::Forward(plan));
        }
        let fwd = self.forwarded().expect("INVITE forwarded");
        let ringing = response_to(&fwd, StatusCode::RINGING, Some("b1"));
        self.proxy.handle_response(now, ringing, self.callee);
        self.forwarded();
        let mut ok = response_to(&fwd, StatusCode::OK, Some("b1"));
        for h in fwd.headers.iter() {
            if matches!(h, Header::RecordRoute(_)) {
                ok.headers.push(h.clone());
            }
        }
        ok.headers
            .push(Header::Contact(ContactValue::Addr(NameAddr::new(ua_uri(
                "192.0.2.3",
            )))));
        self.proxy.handle_response(now, ok.clone(), self.callee);
        self.forwarded();

        let in_dialog = |method: Method, seq: u32, branch: String| {
            let mut r = Request::new(method.clone(), ua_uri("192.0.2.3"));
            r.headers.push(Header::Via(sb_netsim::sip::via(
                sb_sip_msg::Transport::Udp,
                "192.0.2.2",
                5060,
                Some(&branch),
            )));
            for rr in ok.headers.record_routes() {
                r.headers.push(Header::Route(rr.clone()));
            }
            r.headers.push(Header::MaxForwards(70));
            for h in ok.headers.iter() {
                if matches!(h, Header::From(_) | Header::To(_) | Header::CallId(_)) {
                    r.headers.push(h.clone());
                }
            }
            r.headers.push(Header::CSeq(CSeq { seq, method }));
            r
        };
        let ack = in_dialog(Method::Ack, 1, format!("z9hG4bKa{}", self.n));
        self.proxy.handle_request(now, ack, self.caller);
        self.forwarded().expect("ACK forwarded");
        let bye = in_dialog(Method::Bye, 2, format!("z9hG4bKb{}", self.n));
        self.proxy.handle_request(now, bye, self.caller);
        let fbye = self.forwarded().expect("BYE forwarded");
        let bye_ok = response_to(&fbye, StatusCode::OK, Some("b1"));
        self.proxy.handle_response(now, bye_ok, self.callee);
        self.forwarded();
    }
}

fn proxy_call(c: &mut Criterion) {
    let me: SocketAddr = "192.0.2.1:5060".parse().expect("addr");
    let mut b = Bench {
        proxy: Proxy::new(ProxyConfig::udp(me), TimerConfig::default(), 1),
        now: Instant::now(),
        caller: Peer::udp("192.0.2.2:5060".parse().expect("addr")),
        callee: Peer::udp("192.0.2.3:5060".parse().expect("addr")),
        n: 0,
    };
    let mut g = c.benchmark_group("proxy");
    g.throughput(Throughput::Elements(1));
    g.bench_function("invite_180_200_ack_bye_200", |bench| {
        bench.iter(|| b.call())
    });
    g.finish();
    eprintln!(
        "after {} calls: {} contexts, {} transactions alive",
        b.n,
        b.proxy.contexts(),
        b.proxy.transactions()
    );
}

criterion_group!(benches, proxy_call);
criterion_main!(benches);
