//! Reliable provisional responses: RSeq, RAck and PRACK (RFC 3262).
//!
//! RSeq numbers are per dialog: each early dialog of a forked INVITE has its own
//! [`Prack`]. The UAS numbers its reliable 1xx and holds each until the PRACK that names
//! it (RFC 3262 §3); the UAC acknowledges each new one exactly once, in order, and ignores
//! retransmissions and responses that skip ahead (RFC 3262 §4).
//!
//! Retransmitting an unacknowledged reliable 1xx is the UAS core's job, not the
//! transaction's (the INVITE server transaction sends a 1xx once): [`Reliable1xxRetransmitter`]
//! is its schedule, like [`crate::uas::Uas2xxRetransmitter`] for the 2xx.

use std::fmt;
use std::time::{Duration, Instant};

use sb_sip_msg::{Header, Method, OtherHeader, Request, Response};

use super::error::DialogError;
use crate::transaction::TimerConfig;

/// The RAck header value (RFC 3262 §7.2): which reliable 1xx a PRACK acknowledges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RAck {
    /// The RSeq of the provisional response.
    pub rseq: u32,
    /// The CSeq number of the request it answered.
    pub cseq: u32,
    /// The CSeq method of that request (INVITE).
    pub method: Method,
}

impl RAck {
    /// Parses `776656 1 INVITE`.
    pub fn parse(s: &str) -> Result<RAck, DialogError> {
        let bad = || DialogError::BadHeader("RAck");
        let mut it = s.split_ascii_whitespace();
        let rseq = parse_rseq_number(it.next().ok_or_else(bad)?).ok_or_else(bad)?;
        let cseq = it.next().and_then(|c| c.parse().ok()).ok_or_else(bad)?;
        let method = it.next().ok_or_else(bad)?;
        if it.next().is_some() || !method.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad());
        }
        Ok(RAck {
            rseq,
            cseq,
            method: Method::from_token(method),
        })
    }

    /// The RAck of a request, if it carries exactly one that parses.
    pub fn of(req: &Request) -> Result<RAck, DialogError> {
        let mut values = req.headers.other("RAck");
        let v = values.next().ok_or(DialogError::MissingHeader("RAck"))?;
        if values.next().is_some() {
            return Err(DialogError::BadHeader("RAck"));
        }
        RAck::parse(v)
    }

    /// This value as a header.
    pub fn header(&self) -> Header {
        other_header("RAck", self.to_string())
    }
}

impl fmt::Display for RAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.rseq, self.cseq, self.method)
    }
}

/// RSeq is 1..=2^32-1 on the wire (RFC 3262 §7.1).
fn parse_rseq_number(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|n| *n != 0)
}

fn other_header(name: &str, value: String) -> Header {
    Header::Other(OtherHeader {
        name: name.to_string(),
        value,
    })
}

/// The RSeq of a response: `Ok(None)` when absent, an error when present but malformed or
/// repeated.
pub fn rseq_of(resp: &Response) -> Result<Option<u32>, DialogError> {
    let mut values = resp.headers.other("RSeq");
    let Some(v) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(DialogError::BadHeader("RSeq"));
    }
    parse_rseq_number(v)
        .map(Some)
        .ok_or(DialogError::BadHeader("RSeq"))
}

/// True for a 101–199 response sent reliably: Require: 100rel and an RSeq (RFC 3262 §3).
pub fn is_reliable(resp: &Response) -> bool {
    (101..200).contains(&resp.status.code())
        && resp
            .headers
            .require()
            .any(|r| r.eq_ignore_ascii_case("100rel"))
        && resp.headers.other("RSeq").next().is_some()
}

/// What a UAC does with a provisional response (RFC 3262 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provisional {
    /// Not sent reliably: no PRACK.
    Unreliable,
    /// A new reliable 1xx, next in order: send a PRACK with this RAck.
    New(RAck),
    /// A retransmission of one already acknowledged (or older): the PRACK transaction
    /// already covers it; process nothing.
    Retransmission,
    /// RSeq skipped ahead of the next expected: discard; the UAS retransmits it after the
    /// one in between arrives.
    OutOfOrder,
}

/// The RFC 3262 state of one dialog, both roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prack {
    next_rseq: u32,
    issued_any: bool,
    unacked: Option<RAck>,
    last_received: Option<u32>,
}

impl Prack {
    /// `first_rseq` is the UAS's first RSeq; RFC 3262 §3 wants it random in 1..=2^31-1 and
    /// this core has no randomness, so the caller draws it (it is forced into range).
    pub fn new(first_rseq: u32) -> Prack {
        Prack {
            next_rseq: first_rseq.clamp(1, (1 << 31) - 1),
            issued_any: false,
            unacked: None,
            last_received: None,
        }
    }

    /// Sets the first RSeq, as [`Prack::new`] does; ignored (returning false) once a
    /// reliable provisional response was issued, because RSeq only counts up.
    pub fn set_first_rseq(&mut self, first_rseq: u32) -> bool {
        if self.issued_any {
            return false;
        }
        self.next_rseq = first_rseq.clamp(1, (1 << 31) - 1);
        true
    }

    /// The reliable provisional response sent and not yet acknowledged, if any.
    pub fn unacknowledged(&self) -> Option<&RAck> {
        self.unacked.as_ref()
    }

    /// UAS: makes `resp` (a 101–199) reliable by adding `Require: 100rel` and the next RSeq
    /// (RFC 3262 §3). Refused while the previous one awaits its PRACK: the RFC forbids a
    /// second in flight.
    pub fn issue(&mut self, resp: &mut Response) -> Result<RAck, DialogError> {
        if !(101..200).contains(&resp.status.code()) {
            return Err(DialogError::NotProvisional(resp.status.code()));
        }
        if self.unacked.is_some() {
            return Err(DialogError::UnacknowledgedProvisional);
        }
        let cseq = resp
            .headers
            .cseq()
            .ok_or(DialogError::MissingHeader("CSeq"))?
            .clone();
        let rseq = self.next_rseq;
        self.next_rseq = rseq.checked_add(1).ok_or(DialogError::CSeqExhausted)?;
        self.issued_any = true;
        resp.headers.remove_other("RSeq");
        if !resp
            .headers
            .require()
            .any(|r| r.eq_ignore_ascii_case("100rel"))
        {
            resp.headers.push(Header::Require("100rel".to_string()));
        }
        resp.headers.push(other_header("RSeq", rseq.to_string()));
        let rack = RAck {
            rseq,
            cseq: cseq.seq,
            method: cseq.method,
        };
        self.unacked = Some(rack.clone());
        Ok(rack)
    }

    /// UAS: a PRACK arrived. It must name the unacknowledged reliable 1xx exactly, else
    /// 481 (RFC 3262 §3). On success the response is acknowledged: stop retransmitting it.
    pub fn handle_prack(&mut self, prack: &Request) -> Result<RAck, DialogError> {
        let rack = RAck::of(prack)?;
        if self.unacked.as_ref() != Some(&rack) {
            return Err(DialogError::NoMatchingProvisional);
        }
        self.unacked = None;
        Ok(rack)
    }

    /// UAC: a provisional response to our INVITE arrived in this dialog.
    pub fn handle_provisional(&mut self, resp: &Response) -> Result<Provisional, DialogError> {
        if !is_reliable(resp) {
            return Ok(Provisional::Unreliable);
        }
        let rseq = rseq_of(resp)?.ok_or(DialogError::BadHeader("RSeq"))?;
        let cseq = resp
            .headers
            .cseq()
            .ok_or(DialogError::MissingHeader("CSeq"))?;
        match self.last_received {
            Some(last) if rseq <= last => return Ok(Provisional::Retransmission),
            Some(last) if rseq != last.wrapping_add(1) => return Ok(Provisional::OutOfOrder),
            _ => {}
        }
        self.last_received = Some(rseq);
        Ok(Provisional::New(RAck {
            rseq,
            cseq: cseq.seq,
            method: cseq.method.clone(),
        }))
    }
}

/// What a [`Reliable1xxRetransmitter`] tells its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reliable1xxEvent {
    /// 64*T1 passed without the PRACK: the UAS SHOULD reject the INVITE with a 5xx
    /// (RFC 3262 §3).
    PrackTimeout,
}

/// The RFC 3262 §3 schedule of one reliable provisional response: resent at T1, the
/// interval doubling each time (with no T2 cap, unlike the 2xx of §13.3.1.4), until the
/// PRACK arrives or 64*T1 has passed.
#[derive(Debug, Clone)]
pub struct Reliable1xxRetransmitter {
    response: Response,
    interval: Duration,
    next: Option<Instant>,
    give_up: Instant,
    due: Option<Response>,
    event: Option<Reliable1xxEvent>,
}

impl Reliable1xxRetransmitter {
    /// Starts at `now`, when the response was first sent.
    pub fn new(now: Instant, response: Response, cfg: &TimerConfig) -> Self {
        Reliable1xxRetransmitter {
            response,
            interval: cfg.t1,
            next: Some(now + cfg.t1),
            give_up: now + cfg.t1_x64(),
            due: None,
            event: None,
        }
    }

    /// The PRACK for this response arrived ([`crate::dialog::Dialog::handle_request`]
    /// accepted it): stop.
    pub fn handle_prack(&mut self) {
        self.next = None;
        self.due = None;
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(next) = self.next else {
            return;
        };
        if now >= self.give_up {
            self.next = None;
            self.event = Some(Reliable1xxEvent::PrackTimeout);
        } else if now >= next {
            self.due = Some(self.response.clone());
            self.interval = self.interval.saturating_mul(2);
            self.next = Some(next + self.interval);
        }
    }

    /// A retransmission to hand to the transaction layer now.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Response> {
        self.due.take()
    }

    #[must_use]
    pub fn poll_event(&mut self) -> Option<Reliable1xxEvent> {
        self.event.take()
    }

    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next.map(|n| n.min(self.give_up))
    }

    /// True once the PRACK came or the schedule gave up.
    pub fn is_done(&self) -> bool {
        self.next.is_none()
    }
}
