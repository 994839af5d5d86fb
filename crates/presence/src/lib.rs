//! Presence server core (sans-IO).
//!
//! The data model of a person's presence ([`model`]), how the sources of presence combine
//! into one state ([`aggregate`]), who may see how much of it ([`access`]), calendar-driven
//! busy state ([`calendar`]), and the documents that carry it on the wire ([`doc`]: PIDF per
//! RFC 3863 with RPID per RFC 4480, dialog-info per RFC 4235, RLMI per RFC 4662).
//! The protocol state machines (PUBLISH, SUBSCRIBE/NOTIFY, resource lists) build on these.
//!
//! Nothing here reads a clock, touches a socket or awaits: the current time is an input
//! (Unix seconds), documents come in and go out as bytes, and malformed peer input (PIDF
//! bodies, calendars) gives an error value, never a panic.

pub mod access;
pub mod aggregate;
pub mod calendar;
pub mod doc;
pub mod model;

// protocol modules below (PUBLISH, SUBSCRIBE/NOTIFY, resource lists)
mod fanout;
mod glue;
pub mod notify;
pub mod publish;
mod reply;
pub mod server;
pub mod snapshot;
pub mod subscribe;
mod throttle;
mod timers;

pub use glue::DialogView;
pub use notify::TerminatedReason;
pub use server::{
    ConfigError, ContactList, NotifyId, OutgoingNotify, PresenceConfig, PresenceEvent,
    PresenceServer, Refusal, RemoveReason, Reply,
};
pub use snapshot::{PersonRecord, PresenceSnapshot, PublicationRecord, SubscriptionRecord};
pub use subscribe::{entity_key, Package, SubscriptionId};
