use super::*;
use proptest::prelude::*;

fn state(availability: Availability, activities: &[Activity], note: Option<&str>) -> PersonState {
    PersonState {
        availability,
        activities: activities.to_vec(),
        note: note.map(str::to_owned),
        ..PersonState::offline()
    }
}

#[test]
fn rendered_documents_parse_back_to_what_was_rendered() {
    let table = [
        (
            state(Availability::Available, &[], None),
            true,
            vec![],
            None,
        ),
        (
            state(
                Availability::Busy,
                &[Activity::OnThePhone, Activity::Meeting],
                Some("Quarterly review"),
            ),
            true,
            vec![Activity::OnThePhone, Activity::Meeting],
            Some("Quarterly review"),
        ),
        // Public view: no activities in the state, but busy must still show.
        (
            state(Availability::DoNotDisturb, &[], None),
            true,
            vec![Activity::Busy],
            None,
        ),
        (
            state(
                Availability::BeRightBack,
                &[],
                Some("back at 3 <pm> & \"later\""),
            ),
            true,
            vec![Activity::Away],
            Some("back at 3 <pm> & \"later\""),
        ),
        (
            state(Availability::OffWork, &[], None),
            true,
            vec![Activity::Other("off-work".into())],
            None,
        ),
        (
            state(Availability::Away, &[Activity::Other("lunch".into())], None),
            true,
            vec![Activity::Other("lunch".into()), Activity::Away],
            None,
        ),
        (PersonState::offline(), false, vec![], None),
    ];
    for (s, open, activities, note) in table {
        let xml = render("sip:alice@example.com", &s);
        let doc = parse_document(xml.as_bytes()).unwrap_or_else(|e| panic!("{e}: {xml}"));
        assert_eq!(doc.entity, "sip:alice@example.com");
        assert_eq!(doc.published.basic_open, open, "{xml}");
        assert_eq!(doc.published.activities, activities, "{xml}");
        assert_eq!(doc.published.note.as_deref(), note, "{xml}");
        assert_eq!(doc.published.contacts, vec!["sip:alice@example.com"]);
    }
}

#[test]
fn rendered_document_has_the_shape_text_matching_clients_look_for() {
    let xml = render(
        "sip:alice@example.com",
        &state(Availability::Busy, &[Activity::OnThePhone], Some("call")),
    );
    assert!(xml.contains("<basic>open</basic>"), "{xml}");
    assert!(xml.contains("<note>call</note>"), "{xml}");
    assert!(
        xml.contains("<rpid:activities><rpid:on-the-phone/></rpid:activities>"),
        "{xml}"
    );
    // PIDF order: tuples before the person extension.
    assert!(xml.find("<tuple").unwrap() < xml.find("<dm:person").unwrap());
    let closed = render("sip:alice@example.com", &PersonState::offline());
    assert!(closed.contains("<basic>closed</basic>"), "{closed}");
    assert!(!closed.contains("rpid:activities"), "{closed}");
}

/// A document as a SIP phone publishes it: person before tuple (not schema order),
/// prefixed PIDF elements, a timestamp and an unknown extension.
const PHONE_DOC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<p:presence xmlns:p="urn:ietf:params:xml:ns:pidf"
    xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"
    xmlns:r="urn:ietf:params:xml:ns:pidf:rpid"
    xmlns:c="urn:ietf:params:xml:ns:pidf:cipid"
    xmlns:x="urn:example:vendor" entity="sip:bob@example.com">
  <dm:person id="p1">
    <r:activities><r:on-the-phone/><x:juggling/></r:activities>
    <r:user-input>active</r:user-input>
    <c:homepage>http://example.com/bob</c:homepage>
    <dm:note>On a call</dm:note>
  </dm:person>
  <p:tuple id="t1">
    <p:status><p:basic>open</p:basic><x:extra>1</x:extra></p:status>
    <p:contact priority="0.8">sip:bob@192.0.2.7:5060</p:contact>
    <p:note xml:lang="en">tuple note</p:note>
    <p:timestamp>2026-11-25T06:00:00Z</p:timestamp>
  </p:tuple>
  <p:note>presence note</p:note>
</p:presence>"#;

#[test]
fn parses_a_phone_document_namespace_aware_and_tolerant() {
    let doc = parse_document(PHONE_DOC.as_bytes()).unwrap();
    assert_eq!(doc.entity, "sip:bob@example.com");
    let p = doc.published;
    assert!(p.basic_open);
    assert_eq!(p.activities, vec![Activity::OnThePhone]);
    assert_eq!(p.note.as_deref(), Some("On a call"));
    assert!(!p.idle);
    assert_eq!(p.tuple_ids, vec!["t1"]);
    assert_eq!(p.contacts, vec!["sip:bob@192.0.2.7:5060"]);
}

#[test]
fn note_falls_back_from_person_to_presence_to_tuple() {
    let doc = r#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b">
        <tuple id="t"><status><basic>closed</basic></status><note>tuple</note></tuple>
        <note>presence</note></presence>"#;
    let p = parse(doc.as_bytes()).unwrap();
    assert!(!p.basic_open);
    assert_eq!(p.note.as_deref(), Some("presence"));
    let doc = r#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:a@b">
        <tuple id="t"><status><basic>open</basic></status><note>tuple</note></tuple></presence>"#;
    assert_eq!(
        parse(doc.as_bytes()).unwrap().note.as_deref(),
        Some("tuple")
    );
}

#[test]
fn idle_user_input_other_activity_and_no_namespace_are_understood() {
    let doc = r#"<presence entity="pres:c@d"
        xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"
        xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model">
        <tuple id="a"><status><basic>open</basic></status></tuple>
        <tuple id="b"><status><basic>closed</basic></status></tuple>
        <dm:person id="p"><rpid:activities><rpid:note>x</rpid:note><rpid:other> lunch </rpid:other></rpid:activities>
        <rpid:user-input idle-threshold="600">idle</rpid:user-input></dm:person></presence>"#;
    let p = parse(doc.as_bytes()).unwrap();
    assert!(p.basic_open, "one open tuple makes the device open");
    assert!(p.idle);
    assert_eq!(p.activities, vec![Activity::Other("lunch".into())]);
    assert_eq!(p.tuple_ids, vec!["a", "b"]);
    assert_eq!(p.note, None, "an activity note is not the person's note");
}

#[test]
fn a_basic_element_in_a_foreign_namespace_does_not_open_the_device() {
    let doc = r#"<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:x="urn:x" entity="sip:a@b">
        <tuple id="t"><status><x:basic>open</x:basic><basic>closed</basic></status></tuple></presence>"#;
    assert!(!parse(doc.as_bytes()).unwrap().basic_open);
}

#[test]
fn bad_documents_are_errors_not_panics() {
    let deep = format!(
        "<presence xmlns=\"{NS_PIDF}\" entity=\"sip:a@b\">{}{}</presence>",
        "<x>".repeat(40),
        "</x>".repeat(40)
    );
    let many = format!(
        "<presence xmlns=\"{NS_PIDF}\" entity=\"sip:a@b\">{}</presence>",
        "<x/>".repeat(MAX_ELEMENTS + 1)
    );
    let big = vec![b' '; MAX_DOCUMENT_BYTES + 1];
    let table: Vec<(&str, Vec<u8>, PidfError)> = vec![
        ("empty", b"  \n".to_vec(), PidfError::Empty),
        (
            "too large",
            big,
            PidfError::TooLarge {
                len: MAX_DOCUMENT_BYTES + 1,
                max: MAX_DOCUMENT_BYTES,
            },
        ),
        ("not utf-8", b"<presence \xff/>".to_vec(), PidfError::NotUtf8),
        (
            "wrong root",
            b"<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\"/>".to_vec(),
            PidfError::NotPidf,
        ),
        (
            "root in another namespace",
            b"<presence xmlns=\"urn:other\" entity=\"sip:a@b\"/>".to_vec(),
            PidfError::NotPidf,
        ),
        (
            "missing entity",
            format!("<presence xmlns=\"{NS_PIDF}\"/>").into_bytes(),
            PidfError::MissingEntity,
        ),
        (
            "doctype (entity expansion)",
            b"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">]><presence entity=\"sip:a@b\"/>".to_vec(),
            PidfError::Doctype,
        ),
        ("too deep", deep.into_bytes(), PidfError::TooDeep(MAX_DEPTH)),
        (
            "too many elements",
            many.into_bytes(),
            PidfError::TooManyElements(MAX_ELEMENTS),
        ),
        (
            "truncated",
            format!("<presence xmlns=\"{NS_PIDF}\" entity=\"sip:a@b\"><tuple id=\"t\">").into_bytes(),
            PidfError::Truncated,
        ),
        (
            "text only",
            b"hello".to_vec(),
            PidfError::NotPidf,
        ),
    ];
    for (what, body, want) in table {
        assert_eq!(parse(&body), Err(want), "{what}");
    }
    for (what, body) in [
        (
            "mismatched end tag",
            "<presence entity=\"a\"><tuple></note></presence>",
        ),
        (
            "unknown entity reference",
            "<presence entity=\"sip:a@b\"><note>&bogus;</note></presence>",
        ),
    ] {
        assert!(
            matches!(parse(body.as_bytes()), Err(PidfError::Xml(_))),
            "{what}: {:?}",
            parse(body.as_bytes())
        );
    }
}

#[test]
fn long_notes_are_clipped() {
    let long = "n".repeat(MAX_TEXT_CHARS * 3);
    let xml = render("sip:a@b", &state(Availability::Available, &[], Some(&long)));
    let p = parse(xml.as_bytes()).unwrap();
    assert_eq!(p.note.map(|n| n.chars().count()), Some(MAX_TEXT_CHARS));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&body);
    }

    #[test]
    fn arbitrary_xml_like_text_never_panics(body in "[<>/a-z:=\" &;!?\\[\\]-]{0,200}") {
        let _ = parse(format!("<presence entity=\"sip:a@b\">{body}</presence>").as_bytes());
    }

    #[test]
    fn any_note_and_activity_survive_render_and_parse(
        note in "[^\u{0}-\u{1f}\u{fffe}\u{ffff}]{1,80}",
        other in "[a-z][a-z-]{0,15}",
    ) {
        prop_assume!(!note.trim().is_empty() && note.trim() == note);
        let s = state(Availability::Available, &[Activity::Other(other.clone())], Some(&note));
        let p = parse(render("sip:a@b", &s).as_bytes()).unwrap();
        prop_assert_eq!(p.note, Some(note));
        prop_assert_eq!(p.activities, vec![Activity::from_element_name(&other)]);
    }
}

#[test]
fn location_and_phone_numbers_render_as_geopriv_and_extra_tuples() {
    let s = PersonState {
        location: Some("Berlin, room 4.12".into()),
        phone_numbers: vec!["+49 30 1234567".into(), "0301234567".into(), "n/a".into()],
        ..state(Availability::Available, &[], None)
    };
    let xml = render("sip:alice@example.com", &s);
    assert!(xml.contains("<ca:LOC>Berlin, room 4.12</ca:LOC>"), "{xml}");
    assert!(
        xml.contains("<contact>tel:+49-30-1234567</contact>"),
        "{xml}"
    );
    assert!(
        xml.contains("<contact>sip:0301234567@example.com;user=phone</contact>"),
        "{xml}"
    );
    assert_eq!(xml.matches("<tuple ").count(), 3, "{xml}");
    let p = parse(xml.as_bytes()).unwrap();
    assert_eq!(p.tuple_ids, vec!["sb-t", "sb-tel0", "sb-tel1"]);

    // A signed-out person's phone tuples are closed too.
    let offline = PersonState {
        availability: Availability::Offline,
        ..s
    };
    let xml = render("sip:alice@example.com", &offline);
    assert!(!xml.contains("<basic>open</basic>"), "{xml}");
    assert!(!parse(xml.as_bytes()).unwrap().basic_open);
}

#[test]
fn render_at_adds_a_utc_timestamp_to_the_main_tuple() {
    let xml = render_at(
        "sip:a@example.com",
        &state(Availability::Available, &[], Some("hi")),
        1_795_586_400,
    );
    assert!(
        xml.contains(
            "<note>hi</note>\n    <timestamp>2026-11-25T06:00:00Z</timestamp>\n  </tuple>"
        ),
        "{xml}"
    );
    assert!(parse(xml.as_bytes()).unwrap().basic_open);
    assert!(!render("sip:a@example.com", &PersonState::offline()).contains("timestamp"));
    assert!(render_at("sip:a@b", &PersonState::offline(), u64::MAX)
        .contains("<timestamp>9999-12-31T23:59:59Z</timestamp>"));
}
