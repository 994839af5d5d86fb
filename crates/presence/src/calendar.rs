//! Minimal iCalendar (RFC 5545) reading for "in a meeting": is a person's calendar busy
//! at an instant, and when does that next change (so the server can set a timer rather
//! than poll).
//!
//! What is understood:
//! - content lines unfolded (§3.1), property parameters, `BEGIN`/`END` nesting;
//! - `VEVENT`s (§3.6.1) with `DTSTART` and `DTEND` or `DURATION` (§3.8.2.2, §3.8.2.5):
//!   UTC date-times (`19980119T070000Z`), and `DATE` values (`VALUE=DATE:19980119`)
//!   as all-day events; an event with a `DATE` start and no end lasts one day, one with
//!   a date-time start and no end is an instant and never busy (§3.6.1);
//! - `TZID` date-times when the zone is UTC, or is defined by a `VTIMEZONE` in the same
//!   file with a fixed offset or yearly `BYMONTH`/`BYDAY` transitions (§3.6.5), which is
//!   what calendar servers export; floating times (no `Z`, no `TZID`) are read as UTC;
//! - `TRANSP:TRANSPARENT` events (§3.8.2.7: "does not block time") and
//!   `STATUS:CANCELLED` events (§3.8.1.11) are not busy;
//! - recurrence (§3.8.5.3): `RRULE` with `FREQ` `DAILY`, `WEEKLY` (with `BYDAY`),
//!   `MONTHLY` (same day, ordinal `BYDAY` such as `1MO` or `-1FR`, or `BYMONTHDAY`) and
//!   `YEARLY` (same day as the start), `INTERVAL`, `COUNT` and `UNTIL`, plus `EXDATE`;
//!   occurrences step in the event's local time, so a 09:00 meeting stays at 09:00
//!   across a daylight-saving change. Other rule parts make the event count once, at its
//!   start, and are reported in [`Calendar::unsupported`]. An event with a
//!   `RECURRENCE-ID` (§3.8.4.4) replaces that occurrence of its series, or removes it
//!   when cancelled.
//!
//! Malformed events are skipped (one bad event must not blank a whole calendar) and
//! counted; only a document that is not a calendar at all is an error.

/// Largest iCalendar text accepted (a busy person's year is a few hundred kilobytes).
pub const MAX_ICS_BYTES: usize = 4 * 1024 * 1024;
/// Most events read from one calendar.
pub const MAX_EVENTS: usize = 20_000;
/// Longest event accepted (an event is skipped beyond it): ten years.
const MAX_EVENT_SECS: i64 = 10 * 366 * 86_400;
/// Largest recurrence `INTERVAL` accepted; it keeps occurrence arithmetic in range.
const MAX_INTERVAL: i64 = 10_000;
/// How far past the instant asked about recurrences are expanded.
const HORIZON_SECS: i64 = 400 * 86_400;
/// Upper bound on occurrences generated per recurring event and query.
const MAX_OCCURRENCES: usize = 50_000;

/// Why a calendar could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CalendarError {
    #[error("calendar of {len} bytes exceeds the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("not an iCalendar object (no BEGIN:VCALENDAR)")]
    NotCalendar,
    #[error("BEGIN:{0} without a matching END")]
    Unterminated(String),
    #[error("END:{found} where END:{expected} was due")]
    Mismatched { expected: String, found: String },
}

/// A calendar read once and asked many times.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calendar {
    events: Vec<Event>,
    zones: tz::Zones,
    /// Events left out because a date, time or zone could not be read.
    pub skipped: usize,
    /// Recurring events whose rule was only partly understood (counted once, at start).
    pub unsupported: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Event {
    /// The first start as a local date-time in `zone` (seconds as if UTC), or in UTC
    /// when `zone` is `None`. Recurrences step in local time, so a weekly 09:00 meeting
    /// stays at 09:00 across a daylight-saving change.
    start_local: i64,
    zone: Option<String>,
    /// Length in seconds (> 0).
    len: i64,
    rule: Option<Rule>,
    /// Excluded occurrence starts, UTC.
    exdates: Vec<i64>,
    uid: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freq {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    freq: Freq,
    interval: i64,
    count: Option<u32>,
    until: Option<i64>,
    /// Weekdays (0 = Monday) for weekly rules; empty means the start's weekday.
    by_day: Vec<u8>,
    /// Ordinal weekdays of monthly rules (`1MO` = (1, 0), `-1FR` = (-1, 4)).
    by_day_nth: Vec<(i8, u8)>,
    /// Days of the month of monthly rules (`-1` = the last).
    by_month_day: Vec<i8>,
}

/// Whether the calendar is busy at `now_unix` (Unix seconds).
pub fn busy_at(ics: &str, now_unix: u64) -> Result<bool, CalendarError> {
    Ok(parse(ics)?.busy_at(now_unix))
}

/// The next instant after `now_unix` at which [`busy_at`] changes, if any within the
/// expansion horizon (about a year). `None` also for an unreadable calendar.
pub fn next_change(ics: &str, now_unix: u64) -> Option<u64> {
    parse(ics).ok()?.next_change(now_unix)
}

impl Calendar {
    /// Whether any busy event covers `now_unix` (start inclusive, end exclusive).
    pub fn busy_at(&self, now_unix: u64) -> bool {
        let now = clamp_u64(now_unix);
        self.events.iter().any(|e| {
            let mut hit = false;
            e.occurrences(&self.zones, now - e.len, now + 1, |s, end| {
                hit = s <= now && now < end;
                !hit
            });
            hit
        })
    }

    /// The next instant after `now_unix` at which the busy state changes.
    pub fn next_change(&self, now_unix: u64) -> Option<u64> {
        let now = clamp_u64(now_unix);
        let horizon = now.saturating_add(HORIZON_SECS);
        let mut intervals: Vec<(i64, i64)> = Vec::new();
        for e in &self.events {
            e.occurrences(&self.zones, now - e.len, horizon, |s, end| {
                if end > now {
                    intervals.push((s, end));
                }
                intervals.len() < MAX_OCCURRENCES
            });
        }
        intervals.sort_unstable();
        // Merge overlapping and touching intervals so back-to-back meetings do not
        // cause a wake-up in between where nothing changes.
        let mut merged: Vec<(i64, i64)> = Vec::new();
        for (s, e) in intervals {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        merged
            .iter()
            .flat_map(|&(s, e)| [s, e])
            .find(|&t| t > now)
            .and_then(|t| u64::try_from(t).ok())
    }
}

impl Event {
    /// Calls `f(start, end)` (UTC) for each occurrence whose start is in `[from, to)`,
    /// in order, until `f` returns false.
    fn occurrences(
        &self,
        zones: &tz::Zones,
        from: i64,
        to: i64,
        mut f: impl FnMut(i64, i64) -> bool,
    ) {
        let utc = |local: i64| match &self.zone {
            Some(z) => zones.to_utc(z, local),
            None => Some(local),
        };
        let Some(rule) = &self.rule else {
            if let Some(s) = utc(self.start_local).filter(|s| (from..to).contains(s)) {
                f(s, s + self.len);
            }
            return;
        };
        let mut emitted = 0u32;
        let mut periods = 0usize;
        let first_day = self.start_local.div_euclid(86_400);
        let (y0, m0, d0) = civil_from_days(first_day);
        let time_of_day = self.start_local.rem_euclid(86_400);
        let weekday0 = weekday(first_day);
        let mut local_days: Vec<i64> = Vec::with_capacity(8);
        for period in 0i64.. {
            periods += 1;
            if periods > MAX_OCCURRENCES {
                return;
            }
            // Candidate days for this period, in order.
            local_days.clear();
            let step = period * rule.interval;
            match rule.freq {
                Freq::Daily => local_days.push(first_day + step),
                Freq::Weekly if rule.by_day.is_empty() => local_days.push(first_day + 7 * step),
                Freq::Weekly => {
                    let monday = first_day - i64::from(weekday0) + 7 * step;
                    local_days.extend(rule.by_day.iter().map(|&wd| monday + i64::from(wd)));
                }
                Freq::Monthly => {
                    let months = i64::from(m0) - 1 + step;
                    let (y, m) = (
                        y0 + months.div_euclid(12),
                        (months.rem_euclid(12) + 1) as u32,
                    );
                    let dim = days_in_month(y, m);
                    let mut days: Vec<u32> = Vec::new();
                    for &(nth, wd) in &rule.by_day_nth {
                        days.extend(tz::nth_weekday(y, m, wd, nth));
                    }
                    for &md in &rule.by_month_day {
                        let d = if md > 0 {
                            md as i64
                        } else {
                            i64::from(dim) + 1 + i64::from(md)
                        };
                        if (1..=i64::from(dim)).contains(&d) {
                            days.push(d as u32);
                        }
                    }
                    if rule.by_day_nth.is_empty() && rule.by_month_day.is_empty() && d0 <= dim {
                        days.push(d0);
                    }
                    days.sort_unstable();
                    days.dedup();
                    local_days.extend(days.into_iter().map(|d| days_from_civil(y, m, d)));
                }
                Freq::Yearly => {
                    let y = y0 + step;
                    if d0 <= days_in_month(y, m0) {
                        local_days.push(days_from_civil(y, m0, d0));
                    }
                }
            }
            for &day in &local_days {
                let local = day * 86_400 + time_of_day;
                if local < self.start_local {
                    continue;
                }
                // An occurrence the zone cannot place is dropped, not guessed.
                let Some(s) = utc(local) else { continue };
                if s >= to || rule.until.is_some_and(|u| s > u) {
                    return;
                }
                if rule.count.is_some_and(|c| emitted >= c) {
                    return;
                }
                emitted += 1;
                if self.exdates.contains(&s) || s < from {
                    continue;
                }
                if !f(s, s + self.len) {
                    return;
                }
            }
        }
    }
}

/// Reads an iCalendar document.
pub fn parse(ics: &str) -> Result<Calendar, CalendarError> {
    if ics.len() > MAX_ICS_BYTES {
        return Err(CalendarError::TooLarge {
            len: ics.len(),
            max: MAX_ICS_BYTES,
        });
    }
    let lines = unfold(ics);
    let mut cal = Calendar::default();
    let mut stack: Vec<String> = Vec::new();
    let mut seen_calendar = false;
    // Properties of the VEVENT being read, and of the VTIMEZONE components.
    let mut event: Vec<Property> = Vec::new();
    let mut zones = tz::Zones::default();
    let mut raw_events: Vec<Vec<Property>> = Vec::new();

    for line in &lines {
        let Some(prop) = Property::parse(line) else {
            continue;
        };
        match prop.name.as_str() {
            "BEGIN" => {
                let what = prop.value.trim().to_ascii_uppercase();
                if stack.is_empty() && what != "VCALENDAR" {
                    return Err(CalendarError::NotCalendar);
                }
                if what == "VCALENDAR" {
                    seen_calendar = true;
                }
                if what == "VEVENT" {
                    event.clear();
                }
                zones.begin(&what);
                stack.push(what);
            }
            "END" => {
                let what = prop.value.trim().to_ascii_uppercase();
                match stack.pop() {
                    Some(open) if open == what => {}
                    Some(open) => {
                        return Err(CalendarError::Mismatched {
                            expected: open,
                            found: what,
                        })
                    }
                    None => return Err(CalendarError::NotCalendar),
                }
                zones.end(&what);
                if what == "VEVENT" && raw_events.len() < MAX_EVENTS {
                    raw_events.push(std::mem::take(&mut event));
                }
            }
            _ => match stack.last().map(String::as_str) {
                // Only the event's own properties: a VALARM inside has its own.
                Some("VEVENT") => event.push(prop),
                Some(_) => zones.property(&stack, &prop),
                None => {}
            },
        }
    }
    if let Some(open) = stack.pop() {
        return Err(CalendarError::Unterminated(open));
    }
    if !seen_calendar {
        return Err(CalendarError::NotCalendar);
    }
    // RFC 5545 §3.8.4.4: an event with a RECURRENCE-ID replaces (or, cancelled,
    // removes) one occurrence of the recurring event with the same UID.
    let mut overridden: Vec<(String, i64)> = Vec::new();
    for props in &raw_events {
        let uid = props.iter().find(|p| p.name == "UID");
        let rid = props.iter().find(|p| p.name == "RECURRENCE-ID");
        if let (Some(uid), Some(rid)) = (uid, rid) {
            if let Ok((t, _)) = read_time(rid, &zones) {
                overridden.push((uid.value.trim().to_owned(), t));
            }
        }
    }
    for props in raw_events {
        let is_override = props.iter().any(|p| p.name == "RECURRENCE-ID");
        match read_event(&props, &zones) {
            Ok(Some((mut e, partly))) => {
                cal.unsupported += usize::from(partly);
                if !is_override && e.rule.is_some() {
                    if let Some(uid) = &e.uid {
                        e.exdates
                            .extend(overridden.iter().filter(|(u, _)| u == uid).map(|(_, t)| *t));
                    }
                }
                cal.events.push(e);
            }
            Ok(None) => {}
            Err(()) => cal.skipped += 1,
        }
    }
    cal.zones = zones;
    Ok(cal)
}

/// One content line: `NAME;PARAM=value;...:value` (RFC 5545 §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Property {
    name: String,
    params: Vec<(String, String)>,
    value: String,
}

impl Property {
    fn parse(line: &str) -> Option<Property> {
        // The value starts at the first colon outside a quoted parameter value.
        let mut in_quotes = false;
        let mut colon = None;
        for (i, c) in line.char_indices() {
            match c {
                '"' => in_quotes = !in_quotes,
                ':' if !in_quotes => {
                    colon = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let colon = colon?;
        let (head, value) = (&line[..colon], &line[colon + 1..]);
        let mut parts = head.split(';');
        let name = parts.next()?.trim().to_ascii_uppercase();
        if name.is_empty() {
            return None;
        }
        let params = parts
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                Some((
                    k.trim().to_ascii_uppercase(),
                    v.trim().trim_matches('"').to_owned(),
                ))
            })
            .collect();
        Some(Property {
            name,
            params,
            value: value.to_owned(),
        })
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Joins folded lines: a line break followed by a space or tab continues the previous
/// line, the break and that one character removed (RFC 5545 §3.1).
fn unfold(ics: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for raw in ics.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = line.strip_prefix([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.push_str(rest);
                continue;
            }
        }
        if !line.is_empty() {
            out.push(line.to_owned());
        }
    }
    out
}

/// Reads an event; `Ok(None)` for events that are never busy, `Err` for unreadable ones.
/// The flag says the recurrence rule was only partly understood.
fn read_event(props: &[Property], zones: &tz::Zones) -> Result<Option<(Event, bool)>, ()> {
    let get = |name: &str| props.iter().find(|p| p.name == name);
    if get("STATUS").is_some_and(|p| p.value.trim().eq_ignore_ascii_case("CANCELLED"))
        || get("TRANSP").is_some_and(|p| p.value.trim().eq_ignore_ascii_case("TRANSPARENT"))
    {
        return Ok(None);
    }
    let dtstart = get("DTSTART").ok_or(())?;
    let (start, all_day) = read_time(dtstart, zones)?;
    let (start_local, zone) = match read_local(dtstart)? {
        (local, _, Some(zone)) if !tz::is_utc(&zone) => (local, Some(zone)),
        _ => (start, None),
    };
    let end = if let Some(dtend) = get("DTEND") {
        read_time(dtend, zones)?.0
    } else if let Some(d) = get("DURATION") {
        start
            .checked_add(parse_duration(d.value.trim()).ok_or(())?)
            .ok_or(())?
    } else if all_day {
        start + 86_400
    } else {
        start
    };
    if end <= start {
        return Ok(None);
    }
    if end - start > MAX_EVENT_SECS {
        return Err(());
    }
    let mut partly = false;
    let rule = match get("RRULE") {
        Some(r) => match parse_rule(&r.value, zones) {
            Some((rule, complete)) => {
                partly = !complete;
                Some(rule)
            }
            None => {
                partly = true;
                None
            }
        },
        None => None,
    };
    let mut exdates = Vec::new();
    for ex in props.iter().filter(|p| p.name == "EXDATE") {
        for v in ex.value.split(',') {
            let p = Property {
                value: v.to_owned(),
                ..ex.clone()
            };
            if let Ok((t, _)) = read_time(&p, zones) {
                exdates.push(t);
            }
        }
    }
    Ok(Some((
        Event {
            start_local,
            zone,
            len: end - start,
            rule,
            exdates,
            uid: get("UID").map(|p| p.value.trim().to_owned()),
        },
        partly,
    )))
}

/// A `DATE` or `DATE-TIME` property value as Unix seconds, and whether it was a date.
fn read_time(p: &Property, zones: &tz::Zones) -> Result<(i64, bool), ()> {
    match read_local(p)? {
        (local, is_date, None) => Ok((local, is_date)),
        (local, is_date, Some(zone)) => zones.to_utc(&zone, local).map(|t| (t, is_date)).ok_or(()),
    }
}

/// A property value as written: seconds as if UTC, whether it was a date, and the zone
/// it is local to (`None` for UTC (`Z`), dates and floating times, all taken as UTC).
fn read_local(p: &Property) -> Result<(i64, bool, Option<String>), ()> {
    let v = p.value.trim();
    let is_date = p
        .param("VALUE")
        .is_some_and(|t| t.eq_ignore_ascii_case("DATE"))
        || v.len() == 8;
    if is_date {
        let days = parse_date(v).ok_or(())?;
        return Ok((days * 86_400, true, None));
    }
    let (date, time) = v.split_once(['T', 't']).ok_or(())?;
    let days = parse_date(date).ok_or(())?;
    let (time, utc) = match time.strip_suffix(['Z', 'z']) {
        Some(t) => (t, true),
        None => (time, false),
    };
    if time.len() != 6 || !time.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    let n = |i: usize| {
        i64::from(time.as_bytes()[i] - b'0') * 10 + i64::from(time.as_bytes()[i + 1] - b'0')
    };
    let (h, m, s) = (n(0), n(2), n(4));
    if h > 23 || m > 59 || s > 60 {
        return Err(());
    }
    let local = days * 86_400 + h * 3600 + m * 60 + s;
    let zone = match (utc, p.param("TZID")) {
        (false, Some(zone)) => Some(zone.trim().to_owned()),
        _ => None,
    };
    Ok((local, false, zone))
}

/// `YYYYMMDD` as days since 1970-01-01.
fn parse_date(s: &str) -> Option<i64> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: i64 = s[..4].parse().ok()?;
    let m: u32 = s[4..6].parse().ok()?;
    let d: u32 = s[6..].parse().ok()?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// RFC 5545 §3.3.6 duration (`P1D`, `PT1H30M`, `P2W`, `-PT15M`) in seconds.
fn parse_duration(s: &str) -> Option<i64> {
    let (sign, s) = match s.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, s.strip_prefix('+').unwrap_or(s)),
    };
    let s = s.strip_prefix(['P', 'p'])?;
    let mut total = 0i64;
    let mut num = String::new();
    let mut any = false;
    for c in s.chars() {
        match c.to_ascii_uppercase() {
            '0'..='9' => num.push(c),
            'T' if num.is_empty() => {}
            unit @ ('W' | 'D' | 'H' | 'M' | 'S') => {
                let n: i64 = num.parse().ok()?;
                num.clear();
                let secs = match unit {
                    'W' => 7 * 86_400,
                    'D' => 86_400,
                    'H' => 3600,
                    'M' => 60,
                    _ => 1,
                };
                total = total.checked_add(n.checked_mul(secs)?)?;
                any = true;
            }
            _ => return None,
        }
    }
    // Longer than any real event, and large enough to overflow the arithmetic after it.
    (any && num.is_empty() && total <= MAX_EVENT_SECS).then_some(sign * total)
}

/// An `RRULE` value; the flag is false when some part was not understood.
fn parse_rule(value: &str, zones: &tz::Zones) -> Option<(Rule, bool)> {
    let mut rule = Rule {
        freq: Freq::Daily,
        interval: 1,
        count: None,
        until: None,
        by_day: Vec::new(),
        by_day_nth: Vec::new(),
        by_month_day: Vec::new(),
    };
    let mut freq = None;
    let mut complete = true;
    for part in value.trim().split(';') {
        let (k, v) = part.split_once('=')?;
        let v = v.trim().to_ascii_uppercase();
        match k.trim().to_ascii_uppercase().as_str() {
            "FREQ" => {
                freq = Some(match v.as_str() {
                    "DAILY" => Freq::Daily,
                    "WEEKLY" => Freq::Weekly,
                    "MONTHLY" => Freq::Monthly,
                    "YEARLY" => Freq::Yearly,
                    _ => return None,
                })
            }
            "INTERVAL" => {
                rule.interval = v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=MAX_INTERVAL).contains(n))?
            }
            "COUNT" => rule.count = Some(v.parse().ok()?),
            "UNTIL" => {
                let p = Property {
                    name: "UNTIL".into(),
                    params: Vec::new(),
                    value: v,
                };
                rule.until = Some(read_time(&p, zones).ok()?.0);
            }
            "BYDAY" => {
                for d in v.split(',') {
                    let d = d.trim();
                    if let Some(wd) = weekday_index(d) {
                        rule.by_day.push(wd);
                        continue;
                    }
                    // `1MO`, `-1FR`: ordinal weekdays, for monthly rules.
                    // Weekday codes are ASCII; anything else would not split on a
                    // character boundary.
                    if !d.is_ascii() {
                        complete = false;
                        continue;
                    }
                    let (n, wd) = d.split_at(d.len().saturating_sub(2));
                    let nth = n.trim_start_matches('+').parse::<i8>().ok();
                    match (nth.filter(|n| *n != 0 && n.abs() <= 5), weekday_index(wd)) {
                        (Some(nth), Some(wd)) => rule.by_day_nth.push((nth, wd)),
                        _ => complete = false,
                    }
                }
            }
            "BYMONTHDAY" => {
                for d in v.split(',') {
                    match d.trim().parse::<i8>() {
                        Ok(n) if n != 0 && (-31..=31).contains(&n) => rule.by_month_day.push(n),
                        _ => complete = false,
                    }
                }
            }
            "WKST" => {}
            _ => complete = false,
        }
    }
    rule.freq = freq?;
    // Plain weekdays belong to weekly rules; ordinals and month days to monthly ones.
    if rule.freq != Freq::Weekly && !rule.by_day.is_empty() {
        complete = false;
        rule.by_day.clear();
    }
    if rule.freq != Freq::Monthly && !(rule.by_day_nth.is_empty() && rule.by_month_day.is_empty()) {
        complete = false;
        rule.by_day_nth.clear();
        rule.by_month_day.clear();
    }
    rule.by_day.sort_unstable();
    rule.by_day.dedup();
    if !complete {
        // Counting a rule we do not fully follow could mark someone busy at the wrong
        // times, every week, forever; only its first occurrence is certain.
        rule.count = Some(1);
    }
    Some((rule, complete))
}

fn weekday_index(s: &str) -> Option<u8> {
    Some(match s.trim() {
        "MO" => 0,
        "TU" => 1,
        "WE" => 2,
        "TH" => 3,
        "FR" => 4,
        "SA" => 5,
        "SU" => 6,
        _ => return None,
    })
}

/// Day of the week of a day number, 0 = Monday (1970-01-01 was a Thursday).
fn weekday(days: i64) -> u8 {
    (days + 3).rem_euclid(7) as u8
}

fn clamp_u64(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX / 2).min(i64::MAX / 2)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date. Shifting the year to start in
/// March puts the leap day last, so each 400-year era has a fixed day count.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

mod tz;

#[cfg(test)]
mod tests;
