//! `VTIMEZONE` (RFC 5545 §3.6.5): local times with a `TZID` turned into UTC using the
//! zone definition the calendar carries, so no time zone database is needed.
//!
//! Each `STANDARD` or `DAYLIGHT` observance starts at its `DTSTART` (a local time in the
//! offset in force before it, `TZOFFSETFROM`) and, with a yearly `RRULE` such as
//! `FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU`, again every year; from then `TZOFFSETTO` applies.

use super::{civil_from_days, days_from_civil, days_in_month, parse_date, weekday, Property};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Zones {
    zones: Vec<Zone>,
    /// Set while inside a VTIMEZONE; the observance being read is the last one.
    reading: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Zone {
    id: String,
    observances: Vec<Observance>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Observance {
    /// Local date-time of the first onset, seconds since the epoch as if UTC.
    start_local: Option<i64>,
    offset_from: Option<i64>,
    offset_to: Option<i64>,
    /// Yearly onset: month, and weekday (0 = Monday) with its ordinal (-1 = last).
    yearly: Option<(u32, u8, i8)>,
    until: Option<i64>,
}

impl Zones {
    pub(super) fn begin(&mut self, what: &str) {
        match what {
            "VTIMEZONE" => {
                self.reading = true;
                self.zones.push(Zone::default());
            }
            "STANDARD" | "DAYLIGHT" if self.reading => {
                if let Some(z) = self.zones.last_mut() {
                    z.observances.push(Observance::default());
                }
            }
            _ => {}
        }
    }

    pub(super) fn end(&mut self, what: &str) {
        if what == "VTIMEZONE" {
            self.reading = false;
        }
    }

    pub(super) fn property(&mut self, stack: &[String], p: &Property) {
        if !self.reading {
            return;
        }
        let Some(zone) = self.zones.last_mut() else {
            return;
        };
        match stack.last().map(String::as_str) {
            Some("VTIMEZONE") if p.name == "TZID" => zone.id = p.value.trim().to_owned(),
            Some("STANDARD" | "DAYLIGHT") => {
                let Some(o) = zone.observances.last_mut() else {
                    return;
                };
                match p.name.as_str() {
                    "DTSTART" => o.start_local = local_time(p.value.trim()),
                    "TZOFFSETFROM" => o.offset_from = parse_offset(p.value.trim()),
                    "TZOFFSETTO" => o.offset_to = parse_offset(p.value.trim()),
                    "RRULE" => {
                        let (yearly, until) = parse_yearly(&p.value);
                        o.yearly = yearly;
                        o.until = until;
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// UTC for a local time in zone `tzid`; `None` for a zone the calendar does not
    /// define (other than UTC itself).
    pub(super) fn to_utc(&self, tzid: &str, local: i64) -> Option<i64> {
        let tzid = tzid.trim();
        if is_utc(tzid) {
            return Some(local);
        }
        let zone = self.zones.iter().find(|z| z.id == tzid)?;
        let (year, _, _) = civil_from_days(local.div_euclid(86_400));
        let mut transitions: Vec<(i64, i64, i64)> = Vec::new(); // (utc onset, from, to)
        for o in &zone.observances {
            let (Some(start), Some(to)) = (o.start_local, o.offset_to) else {
                continue;
            };
            let from = o.offset_from.unwrap_or(to);
            match o.yearly {
                None => transitions.push((start - from, from, to)),
                Some((month, wd, nth)) => {
                    let time_of_day = start.rem_euclid(86_400);
                    for y in year - 1..=year + 1 {
                        let Some(day) = nth_weekday(y, month, wd, nth) else {
                            continue;
                        };
                        let onset = days_from_civil(y, month, day) * 86_400 + time_of_day;
                        if onset < start || o.until.is_some_and(|u| onset - from > u) {
                            continue;
                        }
                        transitions.push((onset - from, from, to));
                    }
                }
            }
        }
        if transitions.is_empty() {
            return None;
        }
        transitions.sort_unstable();
        let offset_at = |utc: i64| {
            transitions
                .iter()
                .rev()
                .find(|t| t.0 <= utc)
                .map(|t| t.2)
                .unwrap_or(transitions[0].1)
        };
        // The offset depends on the UTC instant, which depends on the offset: two rounds
        // settle it except inside the skipped or repeated hour, where either is fine.
        let first = offset_at(local - transitions[0].1);
        let second = offset_at(local - first);
        Some(local - second)
    }
}

/// Zone names that mean UTC whether or not the calendar defines them.
pub(super) fn is_utc(tzid: &str) -> bool {
    ["UTC", "GMT", "Z", "Etc/UTC", "Etc/GMT", "Etc/Zulu"]
        .iter()
        .any(|u| u.eq_ignore_ascii_case(tzid.trim()))
}

/// `19701025T030000` (no zone) as seconds since the epoch as if UTC.
fn local_time(v: &str) -> Option<i64> {
    let (date, time) = v.split_once(['T', 't'])?;
    let time = time.trim_end_matches(['Z', 'z']);
    if time.len() != 6 || !time.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i64 = time[..2].parse().ok()?;
    let m: i64 = time[2..4].parse().ok()?;
    let s: i64 = time[4..].parse().ok()?;
    Some(parse_date(date)? * 86_400 + h * 3600 + m * 60 + s)
}

/// `+0100`, `-0500`, `+053000` (RFC 5545 §3.3.14) in seconds.
fn parse_offset(v: &str) -> Option<i64> {
    let (sign, digits) = match v.as_bytes().first()? {
        b'+' => (1, &v[1..]),
        b'-' => (-1, &v[1..]),
        _ => return None,
    };
    if !(digits.len() == 4 || digits.len() == 6) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i64 = digits[..2].parse().ok()?;
    let m: i64 = digits[2..4].parse().ok()?;
    let s: i64 = if digits.len() == 6 {
        digits[4..].parse().ok()?
    } else {
        0
    };
    Some(sign * (h * 3600 + m * 60 + s))
}

/// `FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU[;UNTIL=...]`.
fn parse_yearly(v: &str) -> (Option<(u32, u8, i8)>, Option<i64>) {
    let (mut yearly, mut month, mut day, mut until) = (false, None, None, None);
    for part in v.trim().split(';') {
        let Some((k, val)) = part.split_once('=') else {
            continue;
        };
        let val = val.trim().to_ascii_uppercase();
        match k.trim().to_ascii_uppercase().as_str() {
            "FREQ" => yearly = val == "YEARLY",
            "BYMONTH" => month = val.parse::<u32>().ok().filter(|m| (1..=12).contains(m)),
            "BYDAY" if val.is_ascii() => {
                let split = val.len().saturating_sub(2);
                let (n, wd) = val.split_at(split);
                let nth = if n.is_empty() || n == "+" {
                    Some(1)
                } else {
                    n.trim_start_matches('+').parse::<i8>().ok()
                };
                day = super::weekday_index(wd).zip(nth.filter(|n| *n != 0 && n.abs() <= 5));
            }
            "UNTIL" => until = local_time(&val),
            _ => {}
        }
    }
    let rule = match (yearly, month, day) {
        (true, Some(m), Some((wd, nth))) => Some((m, wd, nth)),
        _ => None,
    };
    (rule, until)
}

/// The day of the month of the `nth` (`-1` = last) weekday `wd` of a month.
pub(super) fn nth_weekday(y: i64, m: u32, wd: u8, nth: i8) -> Option<u32> {
    let dim = days_in_month(y, m);
    let day = if nth > 0 {
        let first = weekday(days_from_civil(y, m, 1));
        1 + u32::from((7 + wd - first) % 7) + (nth as u32 - 1) * 7
    } else {
        let last = weekday(days_from_civil(y, m, dim));
        let back = u32::from((7 + last - wd) % 7) + (nth.unsigned_abs() as u32 - 1) * 7;
        dim.checked_sub(back)?
    };
    (1..=dim).contains(&day).then_some(day)
}
