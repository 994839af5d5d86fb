//! Parses and prints the benchmark INVITE a fixed number of times: run it under
//! `valgrind --tool=callgrind` for instruction counts that, unlike wall time, do not move
//! with the machine's load (divide by the iteration count).
//!
//! `cargo build --release -p sb-sip-msg --example parse_loop`, then
//! `valgrind --tool=callgrind target/release/examples/parse_loop 1000`.

use sb_sip_msg::parse_datagram;
use std::hint::black_box;

/// A typical INVITE with an SDP offer, as a softphone sends it (exact wire bytes).
const INVITE: &[u8] = include_bytes!("../benches/invite.sip");

fn invite() -> Vec<u8> {
    INVITE.to_vec()
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let bytes = invite();
    let mut total = 0usize;
    for _ in 0..n {
        let m = parse_datagram(black_box(&bytes)).expect("the INVITE parses");
        total += black_box(m.to_bytes()).len();
    }
    println!("{n} parse+print rounds, {total} bytes printed");
}
