//! Presence fan-out: how fast one person's state change turns into NOTIFYs for 10,000
//! watchers, and how many bytes of heap one subscription costs.
//!
//! `cargo bench -p sb-presence --bench fanout`. The NOTIFY rate is criterion's
//! throughput (elements = NOTIFYs); the memory figure is printed once before the timing,
//! measured with a counting global allocator over 10,000 live subscriptions (dialog
//! state, last view, indexes, timers; NOTIFYs already answered).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sb_presence::model::{Availability, ManualState};
use sb_presence::{PresenceConfig, PresenceServer};
use sb_sip_msg::{parse_datagram, Message, Request};

/// Counts live heap bytes, so the benchmark can report bytes per subscription.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: `p` came from `alloc` above with this layout.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        // SAFETY: as for `dealloc`, and `new` is the caller's valid new size.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const WATCHERS: usize = 10_000;
const BOB: &str = "sip:bob@example.com";
const T0: u64 = 1_700_000_000_000;

fn subscribe(i: usize) -> Request {
    let text = format!(
        "SUBSCRIBE {BOB} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.{a}.{b}:5060;branch=z9hG4bK{i}\r\n\
         From: <sip:user{i}@example.com>;tag=f{i}\r\nTo: <{BOB}>\r\nCall-ID: sub-{i}\r\n\
         CSeq: 1 SUBSCRIBE\r\nMax-Forwards: 70\r\nContact: <sip:user{i}@10.0.{a}.{b}:5060>\r\n\
         Event: presence\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n",
        a = i / 250,
        b = i % 250 + 1,
    );
    match parse_datagram(text.as_bytes()).expect("benchmark SUBSCRIBE parses") {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!("a request"),
    }
}

/// A server with `WATCHERS` colleagues watching bob, initial NOTIFYs sent and answered.
fn watched_server(interval_ms: u64) -> PresenceServer {
    let mut s = PresenceServer::new(PresenceConfig {
        notify_min_interval_ms: interval_ms,
        max_subscriptions_per_watcher: 10,
        ..PresenceConfig::default()
    });
    s.set_signed_in(T0, BOB, true);
    let reqs: Vec<Request> = (0..WATCHERS).map(subscribe).collect();
    for (i, req) in reqs.iter().enumerate() {
        let watcher = format!("sip:user{i}@example.com");
        let reply = s.handle_subscribe(T0, req, BOB, Some(&watcher), i as u64);
        assert_eq!(reply.status, 200);
    }
    answer_all(&mut s, T0);
    while s.poll_event().is_some() {}
    s
}

fn answer_all(s: &mut PresenceServer, now: u64) -> usize {
    let mut n = 0;
    while let Some(notify) = s.poll_notify() {
        black_box(&notify.request);
        s.handle_notify_response(now, notify.id, 200);
        n += 1;
    }
    n
}

fn bytes_per_subscription() -> isize {
    let before = LIVE.load(Ordering::Relaxed);
    let s = watched_server(0);
    let after = LIVE.load(Ordering::Relaxed);
    assert_eq!(s.subscriptions(), WATCHERS);
    let per = (after - before) / WATCHERS as isize;
    drop(s);
    per
}

fn manual(i: u64) -> Option<ManualState> {
    let availability = if i & 1 == 0 {
        Availability::Busy
    } else {
        Availability::Away
    };
    Some(ManualState {
        availability,
        note: Some(format!("note {i}")),
        until: None,
    })
}

fn bench(c: &mut Criterion) {
    println!(
        "presence: {} bytes of heap per subscription ({WATCHERS} subscriptions, counting allocator)",
        bytes_per_subscription()
    );
    let mut g = c.benchmark_group("presence_fanout");
    g.sample_size(10);
    g.measurement_time(std::time::Duration::from_secs(5));
    g.throughput(Throughput::Elements(WATCHERS as u64));

    let mut s = watched_server(0);
    let mut i = 0u64;
    g.bench_function("one_change_to_10k_watchers", |b| {
        b.iter(|| {
            i += 1;
            let now = T0 + i;
            s.set_manual(now, BOB, manual(i));
            let n = answer_all(&mut s, now);
            assert_eq!(n, WATCHERS);
        })
    });

    let mut s = watched_server(0);
    g.bench_function("one_change_to_10k_watchers_encoded", |b| {
        b.iter(|| {
            i += 1;
            let now = T0 + i;
            s.set_manual(now, BOB, manual(i));
            let mut n = 0;
            while let Some(notify) = s.poll_notify() {
                black_box(notify.request.to_bytes());
                s.handle_notify_response(now, notify.id, 200);
                n += 1;
            }
            assert_eq!(n, WATCHERS);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
