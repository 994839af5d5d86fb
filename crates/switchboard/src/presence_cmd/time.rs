//! RFC 3339 times for `--until` and for showing them (UTC), without a date library.

/// Seconds since 1970 now; the clock is read here, in the command, and nowhere below.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (shifting the year to start in
/// March puts the leap day last, so each 400-year era has a fixed length).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    days_from_civil(if m == 12 { y + 1 } else { y }, m % 12 + 1, 1) - days_from_civil(y, m, 1)
}

/// `2026-11-25T17:00:00Z`, `2026-11-25T17:00:00.5+01:00`, `2026-11-25 17:00Z` (RFC 3339
/// §5.6; seconds optional, fractions dropped).
pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    let bad = || format!("{s:?} is not an RFC 3339 time like 2026-11-25T17:00:00Z");
    let s = s.trim();
    let num = |t: &str| -> Result<i64, String> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse().map_err(|_| bad())
    };
    let (date, rest) = s.split_once(['T', 't', ' ']).ok_or_else(bad)?;
    let mut d = date.splitn(3, '-');
    let (y, mo, da) = (
        num(d.next().unwrap_or(""))?,
        num(d.next().unwrap_or(""))?,
        num(d.next().unwrap_or(""))?,
    );
    let (clock, offset) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let at = rest.rfind(['+', '-']).ok_or_else(bad)?;
        let (c, off) = rest.split_at(at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':').ok_or_else(bad)?;
        let (oh, om) = (num(oh)?, num(om)?);
        if oh > 23 || om > 59 {
            return Err(bad());
        }
        (c, sign * (oh * 3600 + om * 60))
    };
    let clock = clock.split('.').next().unwrap_or("");
    let mut c = clock.split(':');
    let h = num(c.next().unwrap_or(""))?;
    let mi = num(c.next().unwrap_or(""))?;
    let se = match c.next() {
        Some(x) => num(x)?,
        None => 0,
    };
    if c.next().is_some()
        || !(1..=12).contains(&mo)
        || !(1970..=9999).contains(&y)
        || da < 1
        || da > days_in_month(y, mo)
        || h > 23
        || mi > 59
        || se > 60
    {
        return Err(bad());
    }
    Ok(days_from_civil(y, mo, da) * 86_400 + h * 3600 + mi * 60 + se - offset)
}

/// Unix seconds as `2026-11-25T17:00:00Z`.
pub fn format_rfc3339(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_parse_and_print() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339("2026-11-25T17:00:00Z"), Ok(1_795_626_000));
        assert_eq!(
            parse_rfc3339("2026-11-25T18:00:00.250+01:00"),
            Ok(1_795_626_000)
        );
        assert_eq!(parse_rfc3339("2026-11-25 12:00-05:00"), Ok(1_795_626_000));
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z"), Ok(1_709_164_800));
        for bad in [
            "2026-11-25",
            "2023-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-25T24:00:00Z",
            "2026-11-25T17:00:00",
            "tomorrow",
            "2026-11-25T17:00:00+1:0x",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
        for t in [0, 1_709_164_800, 1_795_626_000, 4_102_444_799] {
            assert_eq!(parse_rfc3339(&format_rfc3339(t)), Ok(t));
        }
        assert_eq!(format_rfc3339(1_795_626_000), "2026-11-25T17:00:00Z");
    }
}
