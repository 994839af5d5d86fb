//! STUN (RFC 8489) and a sans-IO ICE agent (RFC 8445).
