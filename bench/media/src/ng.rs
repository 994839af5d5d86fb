//! A blocking ng client: one request at a time, retransmitted until its reply comes.
//!
//! Requests carry a fresh cookie each; a reply with another cookie (a late answer to an
//! earlier retransmission) is skipped.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::bencode::{ng_datagram, split_ng, Value};

pub struct NgClient {
    sock: UdpSocket,
    server: SocketAddr,
    next_cookie: u64,
    prefix: String,
}

#[derive(Debug, thiserror::Error)]
pub enum NgError {
    #[error("ng: {0}")]
    Io(#[from] io::Error),
    #[error("ng: no reply from {0} to {1}")]
    Timeout(SocketAddr, String),
    #[error("ng: {command} refused: {reason}")]
    Refused { command: String, reason: String },
}

impl NgClient {
    pub fn new(server: SocketAddr) -> io::Result<NgClient> {
        let sock = UdpSocket::bind(SocketAddr::new(server.ip(), 0))?;
        Ok(NgClient {
            sock,
            server,
            next_cookie: 1,
            prefix: format!("{}", std::process::id()),
        })
    }

    /// Sends `message` and waits for its reply: up to `attempts` tries, `wait` apart. A
    /// reply whose `result` is not `ok` or `pong` is an error naming the reason given.
    pub fn request(
        &mut self,
        message: &Value,
        wait: Duration,
        attempts: u32,
    ) -> Result<Value, NgError> {
        let cookie = format!("{}_{}", self.prefix, self.next_cookie);
        self.next_cookie += 1;
        let datagram = ng_datagram(cookie.as_bytes(), message);
        let command = message.get_str("command").unwrap_or("?").to_owned();
        let mut buf = vec![0u8; 65_536];
        for _ in 0..attempts.max(1) {
            self.sock.send_to(&datagram, self.server)?;
            let deadline = Instant::now() + wait;
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                self.sock
                    .set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
                let n = match self.sock.recv(&mut buf) {
                    Ok(n) => n,
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) =>
                    {
                        break
                    }
                    Err(e) => return Err(e.into()),
                };
                let Ok((c, reply)) = split_ng(&buf[..n]) else {
                    continue;
                };
                if c != cookie.as_bytes() {
                    continue;
                }
                return match reply.get_str("result") {
                    Some("ok" | "pong") => Ok(reply),
                    other => Err(NgError::Refused {
                        command,
                        reason: reply
                            .get_str("error-reason")
                            .or(other)
                            .unwrap_or("no result")
                            .to_owned(),
                    }),
                };
            }
        }
        Err(NgError::Timeout(self.server, command))
    }
}
