//! The site file: domains, users and numbers declared in the `[site]` part of the
//! configuration, applied to the store at start.

use serde::Deserialize;

/// `[site]`: what the store must contain.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteConfig {
    /// Domains to serve.
    pub domains: Vec<String>,
}
