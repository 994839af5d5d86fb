//! Back-to-back user agent for mediation (work in progress).
