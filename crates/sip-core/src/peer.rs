//! Where a message came from or goes to: transport kind, remote address, connection.

use std::fmt;
use std::net::SocketAddr;

/// The transport a message travels over (RFC 3261 §18, RFC 7118 for WebSocket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    Udp,
    Tcp,
    Tls,
    Ws,
    Wss,
}

impl TransportKind {
    /// Reliable transports need no retransmissions at the transaction layer (§17.1.1.2,
    /// §17.1.2.2, §17.2.1) and zero the "absorb retransmissions" wait timers D, I, J, K.
    pub fn is_reliable(self) -> bool {
        !matches!(self, TransportKind::Udp)
    }
}

/// Identifies one stream connection held by the transport shell, so that responses go back
/// over the connection the request came in on (RFC 3261 §18.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// The far end of a message: transport, remote address and, for stream transports, the
/// connection the shell holds for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    pub transport: TransportKind,
    pub addr: SocketAddr,
    pub conn: Option<ConnId>,
}

impl Peer {
    pub fn new(transport: TransportKind, addr: SocketAddr) -> Self {
        Peer {
            transport,
            addr,
            conn: None,
        }
    }

    pub fn udp(addr: SocketAddr) -> Self {
        Peer::new(TransportKind::Udp, addr)
    }

    /// The same peer reached over a given connection.
    pub fn with_conn(mut self, conn: ConnId) -> Self {
        self.conn = Some(conn);
        self
    }

    pub fn is_reliable(&self) -> bool {
        self.transport.is_reliable()
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}:{}", self.transport, self.addr)?;
        if let Some(c) = self.conn {
            write!(f, "#{}", c.0)?;
        }
        Ok(())
    }
}
