//! Presence end-to-end helpers (issue 6): watchers, PIDF checks by a parser other than
//! ours, and timing of NOTIFYs. Filled in by the presence tests.
