//! The seam between the media engine and an ICE agent (RFC 8445).
//!
//! The engine owns the sockets' traffic; an ICE agent only needs the STUN packets that
//! arrive on a leg's socket (RFC 7983 §7: first byte 0–3) and a way to send its own checks
//! from that socket. The engine asks a [`IceFactory`] for one [`IceHandler`] per leg whose
//! spec has ICE, feeds it STUN and time, sends what it polls out, and once it reports a
//! selected pair sends the leg's media there (latching is off on ICE legs: ICE, not the
//! source of the first packet, decides the path).
//!
//! [`NoIce`] is the default factory: it refuses every ICE leg, which the engine turns into
//! [`sb_media_api::CommandError::IceUnavailable`].

use std::net::SocketAddr;

use sb_media_api::IceSpec;

/// Where ICE stands on one leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceState {
    /// Still checking; media goes to the SDP address meanwhile.
    Checking,
    /// A pair was nominated: media goes to `remote`.
    Selected { remote: SocketAddr },
    /// Every pair failed (RFC 8445 §8.1.2 / consent lost, RFC 7675).
    Failed,
}

/// One leg's ICE agent, sans-IO like the engine (time in microseconds, the caller's
/// monotonic clock).
pub trait IceHandler: Send {
    /// A STUN packet arrived on the leg's local socket from `from`.
    fn handle_stun(&mut self, now_us: u64, from: SocketAddr, bytes: &[u8]);
    /// Time passed; run due checks and retransmissions.
    fn handle_timeout(&mut self, now_us: u64);
    /// A STUN packet to send from the leg's local socket: (destination, bytes).
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)>;
    /// When [`IceHandler::handle_timeout`] wants to be called next.
    fn poll_timeout(&self) -> Option<u64>;
    /// The current state; the engine reports changes as events.
    fn state(&self) -> IceState;
    /// Whether media from `from` may be used: RFC 8445 §11 (and RFC 7675 consent) has
    /// an agent take media only on a pair it verified, so a third party cannot inject
    /// audio by guessing the port. Media refused here is dropped before SRTP and latching.
    fn accepts_media(&self, from: SocketAddr) -> bool {
        let _ = from;
        true
    }
    /// A re-INVITE changed the remote credentials or candidates (an ICE restart when the
    /// credentials changed, RFC 8445 §9).
    fn update(&mut self, now_us: u64, spec: &IceSpec);

    // Two components (RTP and RTCP on separate sockets, no rtcp-mux): the engine calls
    // these, whose defaults fall back to the one-component methods above.

    /// A STUN packet arrived on the leg's socket `local` (RTP or RTCP) from `from`.
    fn handle_stun_on(&mut self, now_us: u64, local: SocketAddr, from: SocketAddr, bytes: &[u8]) {
        let _ = local;
        self.handle_stun(now_us, from, bytes);
    }
    /// A STUN packet to send: from which local socket (`None`: the RTP socket), to where.
    fn poll_transmit_from(&mut self) -> Option<(Option<SocketAddr>, SocketAddr, Vec<u8>)> {
        self.poll_transmit().map(|(to, bytes)| (None, to, bytes))
    }
    /// Whether media arriving on `local` from `from` may be used.
    fn accepts_media_on(&self, local: SocketAddr, from: SocketAddr) -> bool {
        let _ = local;
        self.accepts_media(from)
    }
    /// Where RTCP goes once the RTCP component selected a pair (no rtcp-mux).
    fn rtcp_remote(&self) -> Option<SocketAddr> {
        None
    }
}

/// Builds an [`IceHandler`] for a leg with ICE.
pub trait IceFactory: Send {
    /// A handler for a leg whose local socket is `local`; `Err` names why ICE cannot run.
    fn create(
        &mut self,
        now_us: u64,
        local: SocketAddr,
        spec: &IceSpec,
    ) -> Result<Box<dyn IceHandler>, String>;

    /// As [`IceFactory::create`], for a leg that also has a separate RTCP socket (two
    /// components, RFC 8445 §5.1.1: peers without rtcp-mux). The default runs one
    /// component and leaves RTCP to latching.
    fn create_with_rtcp(
        &mut self,
        now_us: u64,
        local: SocketAddr,
        local_rtcp: Option<SocketAddr>,
        spec: &IceSpec,
    ) -> Result<Box<dyn IceHandler>, String> {
        let _ = local_rtcp;
        self.create(now_us, local, spec)
    }
}

/// No ICE agent: every leg with ICE is refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoIce;

impl IceFactory for NoIce {
    fn create(
        &mut self,
        _now_us: u64,
        _local: SocketAddr,
        _spec: &IceSpec,
    ) -> Result<Box<dyn IceHandler>, String> {
        Err("no ICE agent configured".to_owned())
    }
}
