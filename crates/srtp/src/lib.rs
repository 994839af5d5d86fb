//! SRTP and SRTCP (RFC 3711, RFC 7714) for SDES-keyed streams.
