use super::*;

/// Unix seconds of a UTC date-time.
fn at(y: i64, mo: u32, d: u32, h: i64, mi: i64) -> u64 {
    (days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60) as u64
}

fn cal(events: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example Corp.//Calendar 1.0//EN\r\n{events}END:VCALENDAR\r\n"
    )
}

const MEETINGS: &str = "BEGIN:VEVENT\r
UID:19970901T130000Z-123401@example.com\r
DTSTAMP:20261101T120000Z\r
DTSTART:20261125T090000Z\r
DTEND:20261125T100000Z\r
SUMMARY:Quarterly review with a summary long enough to be folded by the exp\r
 orting calendar\r
BEGIN:VALARM\r
TRIGGER:-PT15M\r
ACTION:DISPLAY\r
DESCRIPTION:Reminder\r
END:VALARM\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:back-to-back@example.com\r
DTSTART:20261125T100000Z\r
DURATION:PT30M\r
SUMMARY:Standup\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:focus@example.com\r
DTSTART:20261125T130000Z\r
DTEND:20261125T150000Z\r
TRANSP:TRANSPARENT\r
SUMMARY:Focus time (free)\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:cancelled@example.com\r
DTSTART:20261125T160000Z\r
DTEND:20261125T170000Z\r
STATUS:CANCELLED\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:holiday@example.com\r
DTSTART;VALUE=DATE:20261127\r
SUMMARY:Day off\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:conference@example.com\r
DTSTART;VALUE=DATE:20261201\r
DTEND;VALUE=DATE:20261203\r
SUMMARY:Conference\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:reminder@example.com\r
DTSTART:20261125T180000Z\r
SUMMARY:Instant, never busy\r
END:VEVENT\r
";

#[test]
fn busy_table_over_a_day_of_meetings() {
    let ics = cal(MEETINGS);
    let table = [
        ("before the first meeting", at(2026, 11, 25, 8, 59), false),
        ("meeting start is busy", at(2026, 11, 25, 9, 0), true),
        ("inside the meeting", at(2026, 11, 25, 9, 30), true),
        ("back-to-back standup", at(2026, 11, 25, 10, 0), true),
        ("after the standup", at(2026, 11, 25, 10, 30), false),
        ("transparent focus time", at(2026, 11, 25, 14, 0), false),
        ("cancelled meeting", at(2026, 11, 25, 16, 30), false),
        ("instant event", at(2026, 11, 25, 18, 0), false),
        ("all-day event, morning", at(2026, 11, 27, 0, 0), true),
        ("all-day event, night", at(2026, 11, 27, 23, 59), true),
        ("the day after the day off", at(2026, 11, 28, 0, 0), false),
        (
            "two-day conference, second day",
            at(2026, 12, 2, 12, 0),
            true,
        ),
        ("DTEND date is exclusive", at(2026, 12, 3, 0, 0), false),
    ];
    for (what, now, want) in table {
        assert_eq!(busy_at(&ics, now), Ok(want), "{what}");
    }
}

#[test]
fn next_change_finds_starts_and_ends_and_skips_seams() {
    let ics = cal(MEETINGS);
    let table = [
        (at(2026, 11, 25, 8, 0), Some(at(2026, 11, 25, 9, 0))),
        // 09:00-10:00 and 10:00-10:30 touch: the next change is 10:30, not 10:00.
        (at(2026, 11, 25, 9, 0), Some(at(2026, 11, 25, 10, 30))),
        (at(2026, 11, 25, 9, 59), Some(at(2026, 11, 25, 10, 30))),
        (at(2026, 11, 25, 11, 0), Some(at(2026, 11, 27, 0, 0))),
        (at(2026, 11, 27, 5, 0), Some(at(2026, 11, 28, 0, 0))),
        (at(2026, 12, 2, 0, 0), Some(at(2026, 12, 3, 0, 0))),
        (at(2026, 12, 3, 0, 0), None),
    ];
    for (now, want) in table {
        assert_eq!(next_change(&ics, now), want, "at {now}");
    }
}

#[test]
fn weekly_recurrence_with_exdate_count_and_until() {
    // Tuesdays and Thursdays 14:00-14:30 UTC from Tue 2026-11-03, except 2026-11-12.
    let ics = cal("BEGIN:VEVENT\r
UID:weekly@example.com\r
DTSTART:20261103T140000Z\r
DTEND:20261103T143000Z\r
RRULE:FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20261201T000000Z\r
EXDATE:20261112T140000Z\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:daily@example.com\r
DTSTART:20261102T080000Z\r
DURATION:PT15M\r
RRULE:FREQ=DAILY;INTERVAL=2;COUNT=3\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:monthly@example.com\r
DTSTART:20260131T120000Z\r
DTEND:20260131T130000Z\r
RRULE:FREQ=MONTHLY\r
END:VEVENT\r
");
    let table = [
        ("first Tuesday", at(2026, 11, 3, 14, 10), true),
        ("first Thursday", at(2026, 11, 5, 14, 10), true),
        ("a Wednesday", at(2026, 11, 4, 14, 10), false),
        ("Tuesday two weeks on", at(2026, 11, 17, 14, 0), true),
        ("excluded Thursday", at(2026, 11, 12, 14, 10), false),
        ("after UNTIL", at(2026, 12, 1, 14, 10), false),
        ("daily #1", at(2026, 11, 2, 8, 5), true),
        ("daily, off day", at(2026, 11, 3, 8, 5), false),
        ("daily #3", at(2026, 11, 6, 8, 5), true),
        ("daily #4 is past COUNT", at(2026, 11, 8, 8, 5), false),
        ("monthly on the 31st: March", at(2026, 3, 31, 12, 30), true),
        ("monthly: no 31 November", at(2026, 11, 30, 12, 30), false),
        ("monthly: December 31st", at(2026, 12, 31, 12, 30), true),
    ];
    for (what, now, want) in table {
        assert_eq!(busy_at(&ics, now), Ok(want), "{what}");
    }
    assert_eq!(
        next_change(&ics, at(2026, 11, 12, 0, 0)),
        Some(at(2026, 11, 17, 14, 0)),
        "the excluded Thursday is skipped"
    );
}

#[test]
fn tzid_times_use_the_calendars_own_vtimezone() {
    let ics = cal("BEGIN:VTIMEZONE\r
TZID:Europe/Berlin\r
BEGIN:DAYLIGHT\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
TZNAME:CEST\r
DTSTART:19700329T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
TZNAME:CET\r
DTSTART:19701025T030000\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
END:STANDARD\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
UID:winter@example.com\r
DTSTART;TZID=Europe/Berlin:20261125T090000\r
DTEND;TZID=Europe/Berlin:20261125T100000\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:summer@example.com\r
DTSTART;TZID=Europe/Berlin:20260701T090000\r
DTEND;TZID=Europe/Berlin:20260701T100000\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:utc-named@example.com\r
DTSTART;TZID=UTC:20260801T090000\r
DTEND;TZID=UTC:20260801T100000\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:unknown-zone@example.com\r
DTSTART;TZID=Mars/Olympus:20260901T090000\r
DTEND;TZID=Mars/Olympus:20260901T100000\r
END:VEVENT\r
");
    let table = [
        ("09:00 CET is 08:00 UTC", at(2026, 11, 25, 8, 0), true),
        (
            "09:00 UTC is 10:00 CET, after the end",
            at(2026, 11, 25, 9, 0),
            false,
        ),
        ("09:00 CEST is 07:00 UTC", at(2026, 7, 1, 7, 0), true),
        ("08:00 UTC is 10:00 CEST", at(2026, 7, 1, 8, 0), false),
        ("TZID=UTC", at(2026, 8, 1, 9, 0), true),
        ("an undefined zone is skipped", at(2026, 9, 1, 8, 30), false),
    ];
    for (what, now, want) in table {
        assert_eq!(busy_at(&ics, now), Ok(want), "{what}");
    }
    let parsed = parse(&ics).unwrap();
    assert_eq!(parsed.skipped, 1);
}

#[test]
fn unsupported_rules_count_once_and_are_reported() {
    let ics = cal("BEGIN:VEVENT\r
DTSTART:20261102T090000Z\r
DTEND:20261102T100000Z\r
RRULE:FREQ=YEARLY;BYWEEKNO=45\r
END:VEVENT\r
");
    let parsed = parse(&ics).unwrap();
    assert_eq!(parsed.unsupported, 1);
    assert!(parsed.busy_at(at(2026, 11, 2, 9, 30)));
    assert!(!parsed.busy_at(at(2027, 11, 8, 9, 30)));
}

const BERLIN: &str = "BEGIN:VTIMEZONE\r
TZID:Europe/Berlin\r
BEGIN:DAYLIGHT\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
DTSTART:19700329T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
DTSTART:19701025T030000\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
END:STANDARD\r
END:VTIMEZONE\r
";

#[test]
fn weekly_meeting_keeps_its_local_time_across_daylight_saving() {
    // Mondays 09:00-09:30 Berlin time from 2026-10-19 (CEST) into November (CET).
    let ics = cal(&format!(
        "{BERLIN}BEGIN:VEVENT\r
UID:standup@example.com\r
DTSTART;TZID=Europe/Berlin:20261019T090000\r
DTEND;TZID=Europe/Berlin:20261019T093000\r
RRULE:FREQ=WEEKLY;BYDAY=MO\r
END:VEVENT\r
"
    ));
    let table = [
        ("Oct 19, CEST: 07:00 UTC", at(2026, 10, 19, 7, 10), true),
        (
            "Oct 19, 08:00 UTC is 10:00 CEST",
            at(2026, 10, 19, 8, 10),
            false,
        ),
        ("Oct 26, CET: 08:00 UTC", at(2026, 10, 26, 8, 10), true),
        (
            "Oct 26, 07:00 UTC is 08:00 CET",
            at(2026, 10, 26, 7, 10),
            false,
        ),
        ("Nov 30, CET", at(2026, 11, 30, 8, 10), true),
    ];
    for (what, now, want) in table {
        assert_eq!(busy_at(&ics, now), Ok(want), "{what}");
    }
}

#[test]
fn monthly_ordinal_weekdays_and_month_days() {
    let ics = cal("BEGIN:VEVENT\r
UID:first-monday@example.com\r
DTSTART:20261102T100000Z\r
DTEND:20261102T110000Z\r
RRULE:FREQ=MONTHLY;BYDAY=1MO\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:last-friday@example.com\r
DTSTART:20261127T150000Z\r
DTEND:20261127T160000Z\r
RRULE:FREQ=MONTHLY;BYDAY=-1FR;COUNT=3\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:month-end@example.com\r
DTSTART:20261130T170000Z\r
DTEND:20261130T180000Z\r
RRULE:FREQ=MONTHLY;BYMONTHDAY=-1\r
END:VEVENT\r
");
    let table = [
        ("first Monday of November", at(2026, 11, 2, 10, 30), true),
        ("second Monday of November", at(2026, 11, 9, 10, 30), false),
        ("first Monday of December", at(2026, 12, 7, 10, 30), true),
        ("first Monday of February", at(2027, 2, 1, 10, 30), true),
        ("last Friday of December", at(2026, 12, 25, 15, 30), true),
        ("last Friday of January", at(2027, 1, 29, 15, 30), true),
        ("COUNT=3 ends it", at(2027, 2, 26, 15, 30), false),
        ("last day of February", at(2027, 2, 28, 17, 30), true),
        ("not the 30th of December", at(2026, 12, 30, 17, 30), false),
        ("the 31st of December", at(2026, 12, 31, 17, 30), true),
    ];
    for (what, now, want) in table {
        assert_eq!(busy_at(&ics, now), Ok(want), "{what}");
    }
}

#[test]
fn recurrence_id_moves_or_cancels_one_occurrence() {
    let ics = cal("BEGIN:VEVENT\r
UID:daily-sync@example.com\r
DTSTART:20261123T090000Z\r
DTEND:20261123T093000Z\r
RRULE:FREQ=DAILY;COUNT=5\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:daily-sync@example.com\r
RECURRENCE-ID:20261124T090000Z\r
DTSTART:20261124T140000Z\r
DTEND:20261124T143000Z\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:daily-sync@example.com\r
RECURRENCE-ID:20261125T090000Z\r
DTSTART:20261125T090000Z\r
DTEND:20261125T093000Z\r
STATUS:CANCELLED\r
END:VEVENT\r
");
    let table = [
        ("Monday as planned", at(2026, 11, 23, 9, 10), true),
        (
            "Tuesday moved away from 09:00",
            at(2026, 11, 24, 9, 10),
            false,
        ),
        ("Tuesday moved to 14:00", at(2026, 11, 24, 14, 10), true),
        ("Wednesday cancelled", at(2026, 11, 25, 9, 10), false),
        ("Thursday as planned", at(2026, 11, 26, 9, 10), true),
    ];
    for (what, now, want) in table {
        assert_eq!(busy_at(&ics, now), Ok(want), "{what}");
    }
}

#[test]
fn malformed_events_are_skipped_and_broken_documents_are_errors() {
    let ics = cal("BEGIN:VEVENT\r
DTSTART:2026-11-25 09:00\r
DTEND:20261125T100000Z\r
END:VEVENT\r
BEGIN:VEVENT\r
SUMMARY:no start\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART:20261325T090000Z\r
DTEND:20261325T100000Z\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART:20261125T090000Z\r
DURATION:P1X\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART:20261125T110000Z\r
DTEND:20261125T120000Z\r
END:VEVENT\r
");
    let parsed = parse(&ics).unwrap();
    assert_eq!(parsed.skipped, 4);
    assert!(parsed.busy_at(at(2026, 11, 25, 11, 30)));

    let table = [
        ("", CalendarError::NotCalendar),
        ("hello world", CalendarError::NotCalendar),
        ("BEGIN:VEVENT\r\nEND:VEVENT\r\n", CalendarError::NotCalendar),
        (
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n",
            CalendarError::Unterminated("VEVENT".into()),
        ),
        (
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VCALENDAR\r\n",
            CalendarError::Mismatched {
                expected: "VEVENT".into(),
                found: "VCALENDAR".into(),
            },
        ),
    ];
    for (ics, want) in table {
        assert_eq!(busy_at(ics, 0), Err(want), "{ics:?}");
        assert_eq!(next_change(ics, 0), None);
    }
    let huge = "X".repeat(MAX_ICS_BYTES + 1);
    assert!(matches!(
        busy_at(&huge, 0),
        Err(CalendarError::TooLarge { .. })
    ));
}

#[test]
fn lf_only_line_endings_and_quoted_parameters_are_read() {
    let ics = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;X-NOTE=\"a:b\":20261125T090000Z\nDTEND:20261125T1\n 00000Z\nEND:VEVENT\nEND:VCALENDAR\n";
    assert_eq!(busy_at(ics, at(2026, 11, 25, 9, 30)), Ok(true));
}

#[test]
fn durations_and_dates_convert() {
    assert_eq!(parse_duration("PT1H30M"), Some(5400));
    assert_eq!(parse_duration("P1W"), Some(604_800));
    assert_eq!(parse_duration("P1DT2H"), Some(93_600));
    assert_eq!(parse_duration("-PT15M"), Some(-900));
    assert_eq!(parse_duration("P"), None);
    assert_eq!(parse_duration("PT5"), None);
    assert_eq!(parse_duration("P99999999999999999999D"), None);
    for days in [-800_000, -1, 0, 1, 19_000, 20_417, 2_000_000] {
        let (y, m, d) = civil_from_days(days);
        assert_eq!(days_from_civil(y, m, d), days);
    }
    assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    assert_eq!(weekday(days_from_civil(2026, 11, 25)), 2, "a Wednesday");
}

#[test]
fn absurd_numbers_are_refused_not_overflowed() {
    let ics = cal("BEGIN:VEVENT\r
DTSTART:20261102T090000Z\r
DURATION:P9999999999999W\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART:20261102T090000Z\r
DTEND:99991231T235959Z\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART:20261102T090000Z\r
DURATION:PT1H\r
RRULE:FREQ=YEARLY;INTERVAL=9223372036854775807\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART:20261102T090000Z\r
DURATION:PT1H\r
RRULE:FREQ=DAILY;INTERVAL=10000;COUNT=4294967295\r
END:VEVENT\r
");
    let parsed = parse(&ics).unwrap();
    assert_eq!(parsed.skipped, 2);
    for now in [0, at(2026, 11, 2, 9, 30), at(9999, 12, 31, 0, 0), u64::MAX] {
        let _ = parsed.busy_at(now);
        let _ = parsed.next_change(now);
    }
    assert!(parsed.busy_at(at(2026, 11, 2, 9, 30)));
}

#[test]
fn non_ascii_rule_parts_do_not_panic() {
    let ics = cal(&format!(
        "{BERLIN}BEGIN:VEVENT\r
DTSTART:20261102T090000Z\r
DTEND:20261102T100000Z\r
RRULE:FREQ=MONTHLY;BYDAY=1éMO,éX\r
END:VEVENT\r
"
    ));
    let zone_rule = BERLIN.replace("BYDAY=-1SU", "BYDAY=éX");
    let ics2 = cal(&format!(
        "{zone_rule}BEGIN:VEVENT\r
DTSTART;TZID=Europe/Berlin:20261102T090000\r
DTEND;TZID=Europe/Berlin:20261102T100000\r
END:VEVENT\r
"
    ));
    assert!(busy_at(&ics, at(2026, 11, 2, 9, 30)).is_ok());
    assert!(busy_at(&ics2, at(2026, 11, 2, 8, 30)).is_ok());
}

proptest::proptest! {
    #[test]
    fn arbitrary_text_never_panics(body in "[A-Z:;=\\r\\n 0-9TZ,é+-]{0,300}", now in 0u64..4_000_000_000) {
        let ics = format!("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n{body}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n");
        let _ = busy_at(&ics, now);
        let _ = next_change(&ics, now);
        // The same text inside a zone definition and as a recurrence rule.
        let zoned = cal(&format!("BEGIN:VTIMEZONE\r\nTZID:X\r\nBEGIN:STANDARD\r\n{body}\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nDTSTART;TZID=X:20261102T090000\r\nDURATION:PT1H\r\nRRULE:{body}\r\nEND:VEVENT\r\n"));
        let _ = busy_at(&zoned, now);
        let _ = next_change(&zoned, now);
    }
}
