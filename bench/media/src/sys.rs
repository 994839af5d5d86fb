//! The system calls the load generator is made of: a monotonic clock, batched UDP
//! (sendmmsg/recvmmsg, so one core can pace thousands of streams), and the /proc
//! readings that give a relay's CPU time, memory and socket drops.

use std::io;
use std::mem;
use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;

use anyhow::bail;

pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `ts` is.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// utime + stime of a process in clock ticks (/proc/PID/stat fields 14 and 15; the name
/// in field 2 may hold spaces, so fields are counted after its closing parenthesis).
pub fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

pub fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Datagrams the kernel dropped at our sockets (the last column of /proc/net/udp).
pub fn socket_drops(ports: &[u16]) -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/net/udp") else {
        return 0;
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let port = u16::from_str_radix(f.get(1)?.rsplit(':').next()?, 16).ok()?;
            ports
                .contains(&port)
                .then(|| f.last()?.parse::<u64>().ok())
                .flatten()
        })
        .sum()
}

pub fn clk_tck() -> u64 {
    // SAFETY: sysconf has no memory effects.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

pub fn sockaddr(addr: SocketAddr) -> anyhow::Result<libc::sockaddr_in> {
    let SocketAddr::V4(v4) = addr else {
        bail!("IPv4 only: {addr}");
    };
    Ok(sockaddr_v4(v4))
}

pub fn sockaddr_v4(v4: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*v4.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// Binds a non-blocking loopback socket with large buffers, so a burst of a whole phase
/// of packets is not dropped at this end (the forced variants need root; the plain ones
/// are capped by `net.core.{r,w}mem_max`).
pub fn bind_socket() -> anyhow::Result<UdpSocket> {
    let s = UdpSocket::bind("127.0.0.1:0")?;
    s.set_nonblocking(true)?;
    let size: libc::c_int = 16 << 20;
    for (forced, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        for opt in [forced, plain] {
            // SAFETY: the option value is one c_int, as these options take.
            let r = unsafe {
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    (&size as *const libc::c_int).cast(),
                    mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if r == 0 {
                break;
            }
        }
    }
    Ok(s)
}

pub fn send_batch(sock: &UdpSocket, bufs: &[Vec<u8>], to: &[libc::sockaddr_in]) -> io::Result<()> {
    let mut iovs: Vec<libc::iovec> = bufs
        .iter()
        .map(|b| libc::iovec {
            iov_base: b.as_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        })
        .collect();
    let mut msgs: Vec<libc::mmsghdr> = iovs
        .iter_mut()
        .zip(to)
        .map(|(iov, addr)| {
            // SAFETY: an all-zero msghdr is a valid empty header; the fields set below
            // point into `iovs` and `to`, which outlive the sendmmsg calls.
            let mut h: libc::mmsghdr = unsafe { mem::zeroed() };
            h.msg_hdr.msg_name = (addr as *const libc::sockaddr_in).cast_mut().cast();
            h.msg_hdr.msg_namelen = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            h.msg_hdr.msg_iov = iov;
            h.msg_hdr.msg_iovlen = 1;
            h
        })
        .collect();
    let mut done = 0;
    while done < msgs.len() {
        // SAFETY: `msgs[done..]` are valid headers as built above.
        let r = unsafe {
            libc::sendmmsg(
                sock.as_raw_fd(),
                msgs[done..].as_mut_ptr(),
                (msgs.len() - done) as libc::c_uint,
                0,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            match e.kind() {
                // A full send buffer: wait for room rather than lose our own packets.
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => {
                    std::thread::yield_now();
                    continue;
                }
                // ICMP unreachable from a relay port that went away: skip that one.
                io::ErrorKind::ConnectionRefused => {
                    done += 1;
                    continue;
                }
                _ => return Err(e),
            }
        }
        done += r as usize;
    }
    Ok(())
}

/// One recvmmsg: the count, each datagram's source port and its length.
pub fn recv_batch(
    sock: &UdpSocket,
    bufs: &mut [[u8; 2048]],
) -> io::Result<(usize, Vec<u16>, Vec<usize>)> {
    let n = bufs.len();
    let mut names: Vec<libc::sockaddr_in> = vec![
        // SAFETY: an all-zero sockaddr_in is valid.
        unsafe { mem::zeroed() };
        n
    ];
    let mut iovs: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect();
    let mut msgs: Vec<libc::mmsghdr> = iovs
        .iter_mut()
        .zip(names.iter_mut())
        .map(|(iov, name)| {
            // SAFETY: as in send_batch; the pointers outlive the call.
            let mut h: libc::mmsghdr = unsafe { mem::zeroed() };
            h.msg_hdr.msg_name = (name as *mut libc::sockaddr_in).cast();
            h.msg_hdr.msg_namelen = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            h.msg_hdr.msg_iov = iov;
            h.msg_hdr.msg_iovlen = 1;
            h
        })
        .collect();
    // SAFETY: `msgs` holds `n` valid headers whose buffers are `bufs`.
    let r = unsafe {
        libc::recvmmsg(
            sock.as_raw_fd(),
            msgs.as_mut_ptr(),
            n as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok((0, vec![], vec![])),
            io::ErrorKind::ConnectionRefused => Ok((0, vec![], vec![])),
            _ => Err(e),
        };
    }
    let r = r as usize;
    let ports = names[..r]
        .iter()
        .map(|a| u16::from_be(a.sin_port))
        .collect();
    let lens = msgs[..r].iter().map(|m| m.msg_len as usize).collect();
    Ok((r, ports, lens))
}
