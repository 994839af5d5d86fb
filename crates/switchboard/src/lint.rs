//! `switchboard sip lint FILE...`: one verdict per file, as DESIGN.md fixes it.
//!
//! A file is one raw SIP message, bytes exactly as on the wire. `ok` means the server would
//! process it (possibly ending in 416, 420, ...); `invalid` means it would answer 400 or
//! 505, or drop it (conformance/sip-torture/LINT-VERDICTS.md).

use std::io::Write;
use std::path::PathBuf;

/// Exit status: all valid.
pub const EXIT_OK: u8 = 0;
/// Exit status: at least one file is invalid.
pub const EXIT_INVALID: u8 = 1;
/// Exit status: usage or IO error (takes precedence over [`EXIT_INVALID`]).
pub const EXIT_USAGE: u8 = 2;

/// Lints each file, printing verdicts on `out` and IO errors on `err`; returns the exit code.
pub fn run(files: &[PathBuf], out: &mut impl Write, err: &mut impl Write) -> u8 {
    let mut code = EXIT_OK;
    for f in files {
        let bytes = match std::fs::read(f) {
            Ok(b) => b,
            Err(e) => {
                let _ = writeln!(err, "switchboard: cannot read {}: {e}", f.display());
                code = EXIT_USAGE;
                continue;
            }
        };
        // Reasons and warnings quote file content: keep each on one line.
        let line = match sb_sip_msg::lint(&bytes).map_err(|e| one_line(e.reason())) {
            Ok(ok) => {
                for w in &ok.warnings {
                    let w = one_line(&w.to_string());
                    let _ = writeln!(err, "{}: warning: {w}", f.display());
                }
                format!("{}: ok", f.display())
            }
            Err(reason) => {
                if code == EXIT_OK {
                    code = EXIT_INVALID;
                }
                format!("{}: invalid: {reason}", f.display())
            }
        };
        let _ = writeln!(out, "{line}");
    }
    code
}

/// Reasons and warnings quote file content; control characters would break the
/// one-line-per-file output that scripts read.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
