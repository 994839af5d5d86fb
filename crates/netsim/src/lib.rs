//! Virtual clock and seeded simulated network (dev-only).
