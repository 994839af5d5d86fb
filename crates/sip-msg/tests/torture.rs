//! The RFC 4475 / RFC 5118 torture corpus: every message gets the lint verdict of
//! `conformance/sip-torture/LINT-VERDICTS.md`.

use sb_sip_msg::{lint, parse_datagram};
use std::path::PathBuf;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conformance/sip-torture")
}

#[test]
fn dump() {
    let idx = std::fs::read_to_string(corpus().join("index.tsv")).unwrap();
    for row in idx.lines().skip(1) {
        let c: Vec<&str> = row.split('\t').collect();
        let mut files = vec![c[8].to_string()];
        if c[8].starts_with("rfc5118/") {
            files.push(c[8].replace("rfc5118/", "rfc5118-wire/"));
        }
        for f in files {
            let b = std::fs::read(corpus().join(&f)).unwrap();
            let r = lint(&b);
            println!(
                "{:40} {:8} {:18} {:?}",
                f,
                c[1],
                c[7],
                r.as_ref()
                    .map(|o| o.warnings.len())
                    .map_err(|e| e.reason().to_string())
            );
            if let Ok(m) = parse_datagram(&b) {
                let p = m.to_bytes();
                let m2 = parse_datagram(&p);
                if m2.as_ref() != Ok(&m) {
                    println!(
                        "ROUNDTRIP FAIL {f}: {}\n{:?}",
                        String::from_utf8_lossy(&p),
                        m2.map(|_| ())
                    );
                }
            }
        }
    }
}
