//! `sb-media-relay`: Switchboard's media host behind rtpengine's ng control protocol, for
//! the media benchmark.
//!
//! ```text
//! sb-media-relay --ng 127.0.0.1:2223 [--address 127.0.0.1] [--ports 30000-39999]
//! ```
//!
//! The subset of ng understood (bencoded dictionaries over UDP, each behind a cookie that
//! the reply repeats):
//!
//! - `ping` → `pong`.
//! - `offer` (`call-id`, `from-tag`, `sdp`): binds a socket pair for each side and returns
//!   the offer rewritten for the callee. `transport-protocol` (`RTP/AVP`, `RTP/SAVP`)
//!   sets the callee side's protocol (an SDES key of ours goes in for SAVP);
//!   `codec` → `transcode` adds codecs the callee may pick, `codec` → `mask` takes
//!   the caller's codecs out of the callee's offer.
//! - `answer` (`call-id`, `sdp`): sets up both legs in the engine, connects them, and
//!   returns the answer rewritten for the caller: the caller's own codec (the callee's
//!   when the caller offered it, otherwise the caller's first, transcoded), the
//!   caller's protocol, and an SDES key of ours when the caller offered SRTP.
//! - `delete` (`call-id`): destroys the session and frees its ports.
//!
//! A retransmitted request (same cookie) gets the reply already sent, as rtpengine does,
//! so a lost reply never sets up a call twice. Everything runs on one thread (a
//! current-thread tokio runtime), so pinning the process to a core pins the relay.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::{bail, Context};
use sb_bench_media::bencode::{ng_datagram, split_ng, Value};
use sb_bench_media::sdp::{self, Audio, Format, SdesKey};
use sb_media_api::{
    CodecSpec, Command, LegId, LegSpec, PayloadType, SessionId, SrtpKey, SrtpSpec, SrtpSuite,
};
use sb_runtime::{LegPorts, MediaHost, MediaHostConfig};
use tokio::net::UdpSocket;

/// Replies remembered for retransmissions.
const REPLY_CACHE: usize = 4096;

struct Options {
    ng: SocketAddr,
    address: IpAddr,
    port_min: u16,
    port_max: u16,
}

fn options() -> anyhow::Result<Options> {
    let mut o = Options {
        ng: "127.0.0.1:2223".parse()?,
        address: IpAddr::from([127, 0, 0, 1]),
        port_min: 30_000,
        port_max: 39_999,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--ng" => o.ng = value()?.parse()?,
            "--address" => o.address = value()?.parse()?,
            "--ports" => {
                let v = value()?;
                let (lo, hi) = v.split_once('-').context("--ports LOW-HIGH")?;
                (o.port_min, o.port_max) = (lo.parse()?, hi.parse()?);
            }
            "-h" | "--help" => {
                println!("sb-media-relay --ng ADDR:PORT [--address IP] [--ports LOW-HIGH]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(o)
}

/// One side of a call: the sockets facing that party and what it said.
struct Side {
    ports: LegPorts,
    leg: LegId,
    /// The party's own description (its offer or answer).
    remote: Option<Audio>,
    /// Our SDES key toward the party, when its side is SRTP.
    our_key: Option<SdesKey>,
    proto: String,
}

struct Call {
    session: SessionId,
    caller: Side,
    callee: Side,
    /// The codecs put in the callee's offer.
    offered_callee: Vec<Format>,
    connected: bool,
}

struct Relay {
    host: MediaHost,
    calls: HashMap<String, Call>,
    next_id: u64,
}

fn error(reason: impl std::fmt::Display) -> Value {
    Value::dict([
        ("result", Value::str("error")),
        ("error-reason", Value::str(&reason.to_string())),
    ])
}

fn ok_sdp(sdp: String) -> Value {
    Value::dict([
        ("result", Value::str("ok")),
        ("sdp", Value::Bytes(sdp.into())),
    ])
}

/// An SDES key of ours for `suite`, tagged as the party's first crypto line was.
fn our_key(tag: u32, suite: &str) -> anyhow::Result<SdesKey> {
    let s = sdp::srtp_suite(suite).with_context(|| format!("SRTP suite {suite} unsupported"))?;
    Ok(SdesKey {
        tag,
        suite: suite.to_owned(),
        key_salt: sdp::random_bytes(s.master_key_len() + s.master_salt_len()),
    })
}

fn srtp_key(k: &SdesKey) -> anyhow::Result<(SrtpSuite, SrtpKey)> {
    let suite = sdp::srtp_suite(&k.suite).context("unsupported suite")?;
    let n = suite.master_key_len();
    let api = match suite {
        sb_srtp::SrtpSuite::AesCm128HmacSha1_80 => SrtpSuite::AesCm128HmacSha1_80,
        sb_srtp::SrtpSuite::AesCm128HmacSha1_32 => SrtpSuite::AesCm128HmacSha1_32,
        _ => SrtpSuite::AeadAes128Gcm,
    };
    if k.key_salt.len() != n + suite.master_salt_len() {
        bail!("SDES key of {} bytes for {}", k.key_salt.len(), k.suite);
    }
    Ok((
        api,
        SrtpKey {
            master_key: k.key_salt[..n].to_vec(),
            master_salt: k.key_salt[n..].to_vec(),
            mki: None,
            lifetime: None,
        },
    ))
}

fn codec_spec(f: &Format) -> CodecSpec {
    CodecSpec {
        name: f.name.clone(),
        clock_rate: f.clock_rate,
        channels: f.channels,
        send_pt: PayloadType(f.pt),
        recv_pt: PayloadType(f.pt),
        fmtp: None,
    }
}

/// A codec named in a `transcode` flag (`PCMU`, `PCMA`, `opus`, or `name/rate[/ch]`).
fn named_format(name: &str, dynamic_pt: u8) -> Option<Format> {
    let mut parts = name.split('/');
    let n = parts.next()?;
    let f = match n.to_ascii_uppercase().as_str() {
        "PCMU" => Format::pcmu(),
        "PCMA" => Format {
            pt: 8,
            name: "PCMA".into(),
            clock_rate: 8000,
            channels: 1,
        },
        "G722" => Format {
            pt: 9,
            name: "G722".into(),
            clock_rate: 8000,
            channels: 1,
        },
        "OPUS" => Format::opus(dynamic_pt),
        _ => return None,
    };
    Some(f)
}

impl Relay {
    fn leg_spec(side: &Side, format: &Format) -> anyhow::Result<LegSpec> {
        let remote = side
            .remote
            .as_ref()
            .context("no description from this side")?;
        let mut spec = LegSpec::plain(remote.addr, codec_spec(format));
        if let Some(ours) = &side.our_key {
            let theirs = remote.keys.first().context("SRTP without a=crypto")?;
            let (suite, send) = srtp_key(ours)?;
            let (_, recv) = srtp_key(theirs)?;
            spec.srtp = Some(SrtpSpec { suite, send, recv });
        }
        Ok(spec)
    }

    fn allocate_side(&mut self, proto: String) -> anyhow::Result<Side> {
        let ports = self.host.allocate()?;
        self.next_id += 1;
        Ok(Side {
            ports,
            leg: LegId(self.next_id),
            remote: None,
            our_key: None,
            proto,
        })
    }

    fn offer(&mut self, msg: &Value) -> anyhow::Result<String> {
        let call_id = msg
            .get_str("call-id")
            .context("offer without call-id")?
            .to_owned();
        let offer = sdp::read_audio(
            msg.get("sdp")
                .and_then(bytes)
                .context("offer without sdp")?,
        )?;
        if let Some(old) = self.calls.remove(&call_id) {
            // A re-offer: this subset starts the call afresh.
            self.destroy(old);
        }
        let callee_proto = msg
            .get_str("transport-protocol")
            .unwrap_or(&offer.proto)
            .to_owned();
        let codec = msg.get("codec");
        let masked: Vec<&str> = codec.map(|c| c.get_strs("mask")).unwrap_or_default();
        let mut formats: Vec<Format> = offer
            .formats
            .iter()
            .filter(|f| !masked.iter().any(|m| m.eq_ignore_ascii_case(&f.name)))
            .cloned()
            .collect();
        let mut dynamic = 96u8;
        for name in codec.map(|c| c.get_strs("transcode")).unwrap_or_default() {
            while offer
                .formats
                .iter()
                .chain(&formats)
                .any(|f| f.pt == dynamic)
            {
                dynamic += 1;
            }
            let Some(f) = named_format(name, dynamic) else {
                bail!("cannot transcode to {name}");
            };
            if !formats.iter().any(|g| g.same_codec(&f)) {
                formats.push(f);
            }
        }
        if formats.is_empty() {
            bail!("no codec left to offer");
        }
        let mut caller = self.allocate_side(offer.proto.clone())?;
        if offer.is_srtp() {
            let theirs = offer.keys.first().context("SAVP offer without a=crypto")?;
            caller.our_key = Some(our_key(theirs.tag, &theirs.suite)?);
        }
        caller.remote = Some(offer);
        let mut callee = match self.allocate_side(callee_proto.clone()) {
            Ok(s) => s,
            Err(e) => {
                self.host.release(caller.ports);
                return Err(e);
            }
        };
        if callee_proto.contains("SAVP") {
            callee.our_key = Some(our_key(1, "AES_CM_128_HMAC_SHA1_80")?);
        }
        self.next_id += 1;
        let session = SessionId(self.next_id);
        let sdp = sdp::write_audio(
            session.0,
            callee.ports.rtp,
            &callee_proto,
            &formats,
            callee.our_key.as_ref(),
        );
        self.calls.insert(
            call_id,
            Call {
                session,
                caller,
                callee,
                offered_callee: formats,
                connected: false,
            },
        );
        Ok(sdp)
    }

    fn answer(&mut self, msg: &Value) -> anyhow::Result<String> {
        let call_id = msg.get_str("call-id").context("answer without call-id")?;
        let answer = sdp::read_audio(
            msg.get("sdp")
                .and_then(bytes)
                .context("answer without sdp")?,
        )?;
        let call = self.calls.get_mut(call_id).context("unknown call-id")?;
        if call.connected {
            bail!("call already answered (re-negotiation is not in this subset)");
        }
        let callee_format = answer
            .formats
            .first()
            .filter(|f| call.offered_callee.iter().any(|o| o.same_codec(f)))
            .context("the answer picks no codec we offered")?
            .clone();
        if call.callee.our_key.is_some() && answer.keys.is_empty() {
            bail!("SAVP answer without a=crypto");
        }
        call.callee.remote = Some(answer);
        let offer = call.caller.remote.as_ref().context("no offer")?;
        // The caller keeps the callee's codec when it offered it: no transcoding then.
        let caller_format = offer
            .formats
            .iter()
            .find(|f| f.same_codec(&callee_format))
            .or(offer.formats.first())
            .context("offer without codecs")?
            .clone();
        let caller_spec = Self::leg_spec(&call.caller, &caller_format)?;
        let callee_spec = Self::leg_spec(&call.callee, &callee_format)?;
        let session = call.session;
        for cmd in [
            Command::CreateSession { session },
            Command::AddLeg {
                session,
                leg: call.caller.leg,
                local: call.caller.ports.rtp,
                local_rtcp: Some(call.caller.ports.rtcp),
                spec: caller_spec,
            },
            Command::AddLeg {
                session,
                leg: call.callee.leg,
                local: call.callee.ports.rtp,
                local_rtcp: Some(call.callee.ports.rtcp),
                spec: callee_spec,
            },
            Command::Connect {
                a: call.caller.leg,
                b: call.callee.leg,
            },
        ] {
            self.host.command(cmd);
        }
        call.connected = true;
        Ok(sdp::write_audio(
            session.0,
            call.caller.ports.rtp,
            &call.caller.proto,
            &[caller_format],
            call.caller.our_key.as_ref(),
        ))
    }

    fn destroy(&mut self, call: Call) {
        if call.connected {
            self.host.command(Command::DestroySession {
                session: call.session,
            });
        }
        self.host.release(call.caller.ports);
        self.host.release(call.callee.ports);
    }

    fn handle(&mut self, msg: &Value) -> Value {
        let result = match msg.get_str("command") {
            Some("ping") => return Value::dict([("result", Value::str("pong"))]),
            Some("offer") => self.offer(msg).map(ok_sdp),
            Some("answer") => self.answer(msg).map(ok_sdp),
            Some("delete") => match msg.get_str("call-id").and_then(|c| self.calls.remove(c)) {
                Some(call) => {
                    self.destroy(call);
                    Ok(Value::dict([("result", Value::str("ok"))]))
                }
                None => Err(anyhow::anyhow!("unknown call-id")),
            },
            Some(other) => Err(anyhow::anyhow!("command {other} not supported")),
            None => Err(anyhow::anyhow!("no command")),
        };
        result.unwrap_or_else(|e| error(format!("{e:#}")))
    }
}

fn bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::Bytes(b) => Some(b),
        _ => None,
    }
}

fn main() -> anyhow::Result<()> {
    let o = options()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let sock = Arc::new(UdpSocket::bind(o.ng).await?);
        let (host, _task) = MediaHost::start(
            MediaHostConfig {
                address: o.address,
                port_min: o.port_min,
                port_max: o.port_max,
            },
            u64::from(std::process::id()),
            |_event| {},
        );
        let mut relay = Relay {
            host,
            calls: HashMap::new(),
            next_id: 0,
        };
        eprintln!("sb-media-relay: ng on {}", sock.local_addr()?);
        let mut cache: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        let mut order: VecDeque<Vec<u8>> = VecDeque::new();
        let mut buf = vec![0u8; 65_536];
        let mut shutdown = std::pin::pin!(tokio::signal::ctrl_c());
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        loop {
            let (n, from) = tokio::select! {
                r = sock.recv_from(&mut buf) => r?,
                _ = &mut shutdown => break,
                _ = term.recv() => break,
            };
            let Ok((cookie, msg)) = split_ng(&buf[..n]) else {
                continue; // not ng: nothing to answer with
            };
            if let Some(reply) = cache.get(cookie) {
                let _ = sock.send_to(reply, from).await;
                continue;
            }
            let reply = ng_datagram(cookie, &relay.handle(&msg));
            let _ = sock.send_to(&reply, from).await;
            if order.len() == REPLY_CACHE {
                if let Some(old) = order.pop_front() {
                    cache.remove(&old);
                }
            }
            order.push_back(cookie.to_vec());
            cache.insert(cookie.to_vec(), reply);
        }
        anyhow::Ok(())
    })
}
