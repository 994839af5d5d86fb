//! Tools for the media benchmark (`bench/run.sh media`), which measures Switchboard's media
//! host beside rtpengine on the same machine in the same run.
//!
//! - `sb-media-relay` runs [`sb_runtime::MediaHost`] behind a subset of rtpengine's ng
//!   control protocol (bencoded dictionaries over UDP: `offer`, `answer`, `delete`,
//!   `ping`), so one load generator can drive both relays identically.
//! - `sb-media-load` sets up N calls over ng, sends paced 20 ms packets on both legs of
//!   every call from one thread (sendmmsg/recvmmsg), and reports loss, added latency per
//!   packet, the relay's CPU per packet and its memory per call.
//! - `sb-opus-loop` times a plain libopus decode + G.711 encode and back loop: the upper
//!   bound for transcoding calls per core.
//!
//! The modules here are what those binaries share: the bencode codec ([`bencode`]), the
//! packet stamps and latency accounting ([`stamp`]), the SDP they read and write
//! ([`sdp`]), and an ng client ([`ng`]). Nothing here is part of the server.

pub mod bencode;
pub mod ng;
pub mod sdp;
pub mod stamp;
pub mod sys;
