//! A byte stream cut into chunks at places chosen by the input's first bytes frames exactly
//! what the whole stream framed in one push.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sb_sip_msg::{Framed, ParseError, StreamFramer};

const MAX: usize = 4096;

/// Everything framed until the framer wants more bytes or loses framing.
fn drain(f: &mut StreamFramer, out: &mut Vec<Result<Framed, ParseError>>) -> bool {
    loop {
        match f.next() {
            Ok(Some(item)) => out.push(Ok(item)),
            Ok(None) => return true,
            Err(e) => {
                out.push(Err(e));
                return false;
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // First byte: how many cut points (low bits) and which side of the connection (high
    // bit: client, which reads every CRLF as a pong); then one byte per cut (a chunk length).
    let Some((&n, rest)) = data.split_first() else { return };
    let client = n & 0x80 != 0;
    let n = usize::from(n % 16).min(rest.len());
    let framer = || if client { StreamFramer::new_client(MAX) } else { StreamFramer::new(MAX) };
    let (cuts, stream) = rest.split_at(n);

    let mut whole = framer();
    whole.push(stream);
    let mut want = Vec::new();
    drain(&mut whole, &mut want);

    let mut chunked = framer();
    let mut got = Vec::new();
    let mut pos = 0;
    let mut lens = cuts.iter().map(|&c| usize::from(c));
    while pos < stream.len() {
        let len = lens.next().unwrap_or(stream.len()).max(1);
        let end = (pos + len).min(stream.len());
        chunked.push(&stream[pos..end]);
        pos = end;
        if !drain(&mut chunked, &mut got) {
            break;
        }
    }
    // An oversize error can come earlier in a one-shot push of a stream that was already
    // going to fail; compare what was framed before any error.
    let ok = |v: &[Result<Framed, ParseError>]| v.iter().take_while(|r| r.is_ok()).count();
    let common = ok(&want).min(ok(&got));
    assert_eq!(&got[..common], &want[..common]);
    assert_eq!(ok(&want), ok(&got), "chunking changed what was framed");
});
