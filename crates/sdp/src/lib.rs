//! SDP (placeholder, filled in next commit).
