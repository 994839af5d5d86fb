//! Session timers (RFC 4028): the Session-Expires and Min-SE headers, negotiating the
//! interval and the refresher, and [`SessionTimer`], which says when to refresh and when
//! the session has expired.
//!
//! "uac" and "uas" in `refresher=` name the roles in the transaction that last refreshed
//! the session, not in the one that created the dialog (RFC 4028 §7.1): a re-INVITE from
//! the callee makes the callee the UAC.

use std::fmt;
use std::time::{Duration, Instant};

use sb_sip_msg::{Header, OtherHeader, Request, Response};

use super::error::DialogError;

/// The smallest Min-SE allowed (RFC 4028 §4).
pub const MIN_SE_FLOOR: u32 = 90;
/// The interval RFC 4028 §4 recommends.
pub const DEFAULT_INTERVAL: u32 = 1800;

/// Who sends the refreshes (RFC 4028 §4), by role in the refreshing transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refresher {
    Uac,
    Uas,
}

impl Refresher {
    pub fn as_str(self) -> &'static str {
        match self {
            Refresher::Uac => "uac",
            Refresher::Uas => "uas",
        }
    }
}

/// The Session-Expires value (RFC 4028 §4): `delta-seconds [;refresher=uac|uas]`. Other
/// parameters are ignored, as the grammar's generic-param allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionExpires {
    pub interval: u32,
    pub refresher: Option<Refresher>,
}

fn delta_seconds(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Long digit strings saturate: a huge interval is only ever made smaller.
    Some(s.parse::<u32>().unwrap_or(u32::MAX))
}

/// The single value of an untyped header, `Ok(None)` when absent.
fn single<'a>(
    headers: &'a sb_sip_msg::Headers,
    name: &'static str,
) -> Result<Option<&'a str>, DialogError> {
    let mut it = headers.other(name);
    let first = it.next();
    if it.next().is_some() {
        return Err(DialogError::BadHeader(name));
    }
    Ok(first)
}

impl SessionExpires {
    /// Parses `1800;refresher=uac`.
    pub fn parse(s: &str) -> Result<SessionExpires, DialogError> {
        let bad = DialogError::BadHeader("Session-Expires");
        let mut parts = s.split(';');
        let interval = delta_seconds(parts.next().unwrap_or("")).ok_or(bad.clone())?;
        let mut refresher = None;
        for p in parts {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            if name.trim().eq_ignore_ascii_case("refresher") {
                refresher = Some(match value.trim() {
                    v if v.eq_ignore_ascii_case("uac") => Refresher::Uac,
                    v if v.eq_ignore_ascii_case("uas") => Refresher::Uas,
                    _ => return Err(bad),
                });
            }
        }
        Ok(SessionExpires {
            interval,
            refresher,
        })
    }

    /// The Session-Expires (or compact `x`) of a message.
    pub fn of(headers: &sb_sip_msg::Headers) -> Result<Option<SessionExpires>, DialogError> {
        single(headers, "Session-Expires")?
            .map(SessionExpires::parse)
            .transpose()
    }

    pub fn header(&self) -> Header {
        Header::Other(OtherHeader {
            name: "Session-Expires".to_string(),
            value: self.to_string(),
        })
    }
}

impl fmt::Display for SessionExpires {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.interval)?;
        if let Some(r) = self.refresher {
            write!(f, ";refresher={}", r.as_str())?;
        }
        Ok(())
    }
}

/// The Min-SE value (RFC 4028 §5): the smallest interval the sender accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MinSe(pub u32);

impl MinSe {
    /// Parses `90` (parameters after `;` are ignored).
    pub fn parse(s: &str) -> Result<MinSe, DialogError> {
        let n = s.split(';').next().unwrap_or("");
        delta_seconds(n)
            .map(MinSe)
            .ok_or(DialogError::BadHeader("Min-SE"))
    }

    pub fn of(headers: &sb_sip_msg::Headers) -> Result<Option<MinSe>, DialogError> {
        single(headers, "Min-SE")?.map(MinSe::parse).transpose()
    }

    pub fn header(&self) -> Header {
        Header::Other(OtherHeader {
            name: "Min-SE".to_string(),
            value: self.0.to_string(),
        })
    }
}

/// The agreed interval and refresher of one refresh transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    pub interval: u32,
    pub refresher: Refresher,
}

impl Negotiated {
    /// True when this UA sends the refreshes, given its role in the refreshing transaction.
    pub fn local_refreshes(&self, local_role: Refresher) -> bool {
        self.refresher == local_role
    }

    /// UAS: puts the agreement in the 2xx: Session-Expires with the refresher, and
    /// `Require: timer` when the UAC refreshes (RFC 4028 §9).
    pub fn apply(&self, resp: &mut Response) {
        resp.headers.remove_other("Session-Expires");
        resp.headers.push(
            SessionExpires {
                interval: self.interval,
                refresher: Some(self.refresher),
            }
            .header(),
        );
        let has_timer = resp
            .headers
            .require()
            .any(|r| r.eq_ignore_ascii_case("timer"));
        if self.refresher == Refresher::Uac && !has_timer {
            resp.headers.push(Header::Require("timer".to_string()));
        }
    }
}

/// Our session-timer policy, for both roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionTimerConfig {
    /// The interval we ask for, and the most we grant.
    pub interval: u32,
    /// The smallest interval we accept (never below [`MIN_SE_FLOOR`]).
    pub min_se: u32,
    /// Who refreshes when we are the UAS and the UAC left it to us.
    pub uas_prefers: Refresher,
}

impl Default for SessionTimerConfig {
    fn default() -> Self {
        SessionTimerConfig {
            interval: DEFAULT_INTERVAL,
            min_se: MIN_SE_FLOOR,
            uas_prefers: Refresher::Uas,
        }
    }
}

impl SessionTimerConfig {
    pub fn new(interval: u32, min_se: u32, uas_prefers: Refresher) -> Self {
        let min_se = min_se.max(MIN_SE_FLOOR);
        SessionTimerConfig {
            interval: interval.max(min_se),
            min_se,
            uas_prefers,
        }
    }

    /// UAC: adds `Supported: timer`, Session-Expires (no refresher: the UAS may choose) and
    /// Min-SE to an INVITE or UPDATE (RFC 4028 §7.1).
    pub fn apply_to_request(&self, req: &mut Request) {
        if !req
            .headers
            .supported()
            .any(|s| s.eq_ignore_ascii_case("timer"))
        {
            req.headers.push(Header::Supported("timer".to_string()));
        }
        req.headers.remove_other("Session-Expires");
        req.headers.remove_other("Min-SE");
        req.headers.push(
            SessionExpires {
                interval: self.interval,
                refresher: None,
            }
            .header(),
        );
        req.headers.push(MinSe(self.min_se).header());
    }

    /// UAS: decides interval and refresher for a received INVITE or UPDATE (RFC 4028 §9).
    ///
    /// An interval below our Min-SE is refused with
    /// [`DialogError::SessionIntervalTooSmall`] (422 with our Min-SE, §8.1). Without a
    /// Session-Expires we still run a timer, as §9 allows, refreshing ourselves when the
    /// UAC does not support `timer`. We may shorten a long interval to ours, never below
    /// the Min-SE the request carries.
    pub fn negotiate_uas(&self, req: &Request) -> Result<Negotiated, DialogError> {
        let se = SessionExpires::of(&req.headers)?;
        let their_min = MinSe::of(&req.headers)?.map_or(MIN_SE_FLOOR, |m| m.0);
        let uac_supports = req
            .headers
            .supported()
            .chain(req.headers.require())
            .any(|s| s.eq_ignore_ascii_case("timer"));
        let floor = their_min.max(self.min_se);
        let (interval, refresher) = match se {
            Some(se) if se.interval < self.min_se.max(MIN_SE_FLOOR) => {
                return Err(DialogError::SessionIntervalTooSmall {
                    min_se: self.min_se.max(MIN_SE_FLOOR),
                })
            }
            Some(se) => (se.interval.min(self.interval.max(floor)), se.refresher),
            None => (self.interval.max(floor), None),
        };
        let refresher = match refresher {
            Some(r) if uac_supports || r == Refresher::Uas => r,
            _ if uac_supports => self.uas_prefers,
            _ => Refresher::Uas,
        };
        Ok(Negotiated {
            interval,
            refresher,
        })
    }

    /// UAC: what a 2xx to our INVITE or UPDATE agreed (RFC 4028 §7.2). `None`: the UAS did
    /// not take part, and no timer runs. A 2xx that names no refresher leaves it to us.
    pub fn negotiate_uac(&self, resp: &Response) -> Result<Option<Negotiated>, DialogError> {
        Ok(SessionExpires::of(&resp.headers)?.map(|se| Negotiated {
            interval: se.interval.max(MIN_SE_FLOOR),
            refresher: se.refresher.unwrap_or(Refresher::Uac),
        }))
    }

    /// UAC: a 422 said our interval was too small (RFC 4028 §7.3). Raises our interval and
    /// Min-SE to its Min-SE, so the retried request (built again with
    /// [`SessionTimerConfig::apply_to_request`]) is acceptable. Returns the new interval.
    pub fn handle_422(&mut self, resp: &Response) -> Result<u32, DialogError> {
        let their = MinSe::of(&resp.headers)?.ok_or(DialogError::MissingHeader("Min-SE"))?;
        self.min_se = self.min_se.max(their.0);
        self.interval = self.interval.max(their.0);
        Ok(self.interval)
    }
}

/// What a [`SessionTimer`] asks of its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionTimerEvent {
    /// Half the interval passed: send a re-INVITE or UPDATE now (RFC 4028 §10).
    Refresh,
    /// No refresh came in time: send BYE (RFC 4028 §10).
    Expired,
}

/// The running session timer of one dialog. Time is an input: call
/// [`SessionTimer::handle_timeout`] at [`SessionTimer::poll_timeout`], then drain
/// [`SessionTimer::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTimer {
    refresh_at: Option<Instant>,
    expires_at: Option<Instant>,
    event: Option<SessionTimerEvent>,
}

impl SessionTimer {
    /// Starts at `now`, the moment the agreeing 2xx was sent or received.
    pub fn new(now: Instant, agreed: &Negotiated, local_refreshes: bool) -> Self {
        let mut t = SessionTimer {
            refresh_at: None,
            expires_at: None,
            event: None,
        };
        t.handle_refresh(now, agreed, local_refreshes);
        t
    }

    /// A refresh succeeded (2xx to a re-INVITE or UPDATE, either direction): restart the
    /// clock with what it agreed.
    ///
    /// The refresher refreshes at half the interval. The other side gives up at the
    /// interval minus the lesser of 32 s and a third of it (RFC 4028 §10), so its BYE goes
    /// out before the refresher's own view of the session runs out; the refresher ends the
    /// session at the full interval if its refresh never succeeded.
    pub fn handle_refresh(&mut self, now: Instant, agreed: &Negotiated, local_refreshes: bool) {
        let interval = Duration::from_secs(u64::from(agreed.interval));
        if local_refreshes {
            self.refresh_at = Some(now + interval / 2);
            self.expires_at = Some(now + interval);
        } else {
            let margin = Duration::from_secs(32).min(interval / 3);
            self.refresh_at = None;
            self.expires_at = Some(now + interval - margin);
        }
        self.event = None;
    }

    /// The session ended (BYE): no more timers.
    pub fn stop(&mut self) {
        self.refresh_at = None;
        self.expires_at = None;
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.expires_at.is_some_and(|t| now >= t) {
            self.stop();
            self.event = Some(SessionTimerEvent::Expired);
        } else if self.refresh_at.is_some_and(|t| now >= t) {
            self.refresh_at = None;
            self.event = Some(SessionTimerEvent::Refresh);
        }
    }

    #[must_use]
    pub fn poll_event(&mut self) -> Option<SessionTimerEvent> {
        self.event.take()
    }

    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.refresh_at, self.expires_at) {
            (Some(r), Some(e)) => Some(r.min(e)),
            (r, e) => r.or(e),
        }
    }

    /// When the refresh is due, if this UA refreshes and has not yet been told to.
    pub fn refresh_at(&self) -> Option<Instant> {
        self.refresh_at
    }

    /// When the session is considered expired.
    pub fn expires_at(&self) -> Option<Instant> {
        self.expires_at
    }
}
