//! PSTN gateways and pools: provisioning model, health monitoring, number and identity
//! adaptation.
mod config;
mod error;
mod identity;
mod ids;
mod monitor;
mod numbers;
mod select;
pub use config::*;
pub use error::*;
pub use identity::*;
pub use ids::*;
pub use monitor::*;
pub use numbers::*;
pub use select::*;
