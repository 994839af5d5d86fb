//! The tokio shell around the sans-IO cores.
