//! PSTN gateways and pools: provisioning model, health monitoring, number and identity
//! adaptation.
