//! HTTP management plane.
