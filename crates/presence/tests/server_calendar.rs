//! Calendar-driven presence: "in a meeting" appears and clears on its own at the event
//! times, because the server asks to be woken when the calendar changes.

mod server_util;
use sb_presence::model::{Activity, Availability};
use server_util::*;

// T0 is 2023-11-14T22:13:20Z; the meeting runs 23:00-00:00 UTC.
const START_S: u64 = 1_700_002_800;
const END_S: u64 = 1_700_006_400;
const ICS: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VEVENT\r\nUID:m1@example.com\r\nDTSTAMP:20231101T000000Z\r\n\
DTSTART:20231114T230000Z\r\nDTEND:20231115T000000Z\r\nSUMMARY:Planning\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";

#[test]
fn in_a_meeting_appears_and_clears_at_the_event_times() {
    let mut s = server();
    s.set_signed_in(T0, BOB, true);
    let mut w = Sub::new(ALICE, BOB, "cal-1");
    w.send(&mut s, T0, 7_200, Some(ALICE));
    drain(&mut s, T0);
    s.set_calendar(T0, BOB, Some(ICS.to_string()));
    assert!(
        drain(&mut s, T0).is_empty(),
        "no meeting yet: nothing to tell"
    );
    assert_eq!(
        s.poll_timeout(),
        Some(START_S * 1000),
        "woken when the meeting starts"
    );

    let n = run_until(&mut s, START_S * 1000);
    assert_eq!(n.len(), 1);
    let doc = read_pidf(&n[0].1);
    assert!(
        doc.activities.contains(&Activity::Meeting),
        "{:?}",
        doc.activities
    );
    let seen = s.state_for(START_S * 1000, BOB, Some(ALICE));
    assert_eq!(seen.availability, Availability::Busy);
    assert!(seen.in_meeting);

    let n = run_until(&mut s, END_S * 1000 - 1);
    assert!(n.is_empty());
    let n = run_until(&mut s, END_S * 1000);
    assert_eq!(n.len(), 1);
    assert!(!read_pidf(&n[0].1).activities.contains(&Activity::Meeting));
    assert_eq!(
        s.state_for(END_S * 1000, BOB, Some(ALICE)).availability,
        Availability::Available
    );
}

#[test]
fn removing_the_calendar_clears_the_meeting_and_its_timer() {
    let mut s = server();
    s.set_signed_in(T0, BOB, true);
    s.set_calendar(T0, BOB, Some(ICS.to_string()));
    s.handle_timeout(START_S * 1000);
    assert!(s.state_for(START_S * 1000, BOB, Some(BOB)).in_meeting);
    s.set_calendar(START_S * 1000 + 1, BOB, None);
    assert!(!s.state_for(START_S * 1000 + 1, BOB, Some(BOB)).in_meeting);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn an_unreadable_calendar_is_never_busy() {
    let mut s = server();
    s.set_signed_in(T0, BOB, true);
    s.set_calendar(T0, BOB, Some("this is not iCalendar".into()));
    assert_eq!(
        s.state_for(T0, BOB, Some(BOB)).availability,
        Availability::Available
    );
}
