//! Rendered documents checked by a validator other than our own code: libxml2's
//! `xmllint --schema` against the schemas in `tests/schema/` (see the provenance comment
//! at the top of each file). xmllint comes from Debian's libxml2-utils, which the test
//! command installs: without it these tests fail rather than pass unchecked.

use std::path::{Path, PathBuf};
use std::process::Command;

use sb_presence::access::view;
use sb_presence::doc::{dialog_info, pidf, rlmi};
use sb_presence::model::{AccessLevel, Activity, Availability, PersonState};

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schema")
}

fn have_xmllint() -> bool {
    let found = Command::new("xmllint")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "xmllint is not installed (Debian: libxml2-utils; scripts/install-deps.sh installs it)"
    );
    found
}

/// Runs xmllint on `doc` against `schema`; Err carries xmllint's complaint.
fn validate(schema: &str, name: &str, doc: &str) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("sb-presence-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let file = dir.join(name);
    std::fs::write(&file, doc).map_err(|e| e.to_string())?;
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(schema_dir().join(schema))
        .arg(&file)
        .output()
        .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&file);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}\n{doc}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn full_state() -> PersonState {
    PersonState {
        availability: Availability::Busy,
        activities: vec![
            Activity::OnThePhone,
            Activity::Meeting,
            Activity::Other("lunch & learn".into()),
        ],
        note: Some("Quarterly review <all hands>".into()),
        in_call: true,
        in_meeting: true,
        location: Some("Berlin, room 4.12".into()),
        phone_numbers: vec!["+49 30 1234567".into()],
    }
}

#[test]
fn pidf_at_every_access_level_validates() {
    if !have_xmllint() {
        return;
    }
    let mut docs = Vec::new();
    for level in AccessLevel::ALL {
        let doc = pidf::render("sip:alice@example.com", &view(&full_state(), level));
        validate("presence-all.xsd", &format!("{level:?}.xml"), &doc)
            .unwrap_or_else(|e| panic!("{level:?}: {e}"));
        docs.push(doc);
    }
    // Blocked, public, colleagues and team see four different documents.
    for i in 0..4 {
        for j in i + 1..4 {
            assert_ne!(docs[i], docs[j], "levels {i} and {j}");
        }
    }
    for availability in Availability::ALL {
        let s = PersonState {
            availability,
            ..PersonState::offline()
        };
        let doc = pidf::render_at("sip:bob@example.com", &s, 1_795_586_400);
        validate("presence-all.xsd", "availability.xml", &doc)
            .unwrap_or_else(|e| panic!("{availability:?}: {e}"));
    }
}

#[test]
fn the_validator_rejects_what_the_schemas_forbid() {
    if !have_xmllint() {
        return;
    }
    let good = pidf::render("sip:alice@example.com", &full_state());
    validate("presence-all.xsd", "good.xml", &good).unwrap();
    for (what, bad) in [
        ("unknown basic", good.replace("<basic>open", "<basic>ajar")),
        (
            "unknown rpid activity",
            good.replace("rpid:meeting/>", "rpid:meetings/>"),
        ),
        ("missing tuple id", good.replace(" id=\"sb-t\"", "")),
    ] {
        assert!(
            validate("presence-all.xsd", "bad.xml", &bad).is_err(),
            "{what} passed"
        );
    }
}

#[test]
fn dialog_info_validates() {
    if !have_xmllint() {
        return;
    }
    use dialog_info::{DialogState, DialogView, Direction, StateEvent};
    let dialogs = [
        DialogView {
            id: "d1".into(),
            call_id: Some("a84b4c76e66710@pc33.example.com".into()),
            local_tag: Some("1928301774".into()),
            remote_tag: None,
            direction: Some(Direction::Initiator),
            state: DialogState::Early,
            event: None,
            code: None,
            remote_identity: Some("sip:bob@example.com".into()),
            local_identity: Some("sip:alice@example.com".into()),
            duration_secs: None,
        },
        DialogView {
            id: "d2".into(),
            call_id: Some("x@y".into()),
            local_tag: Some("a".into()),
            remote_tag: Some("b".into()),
            direction: Some(Direction::Recipient),
            state: DialogState::Confirmed,
            event: None,
            code: None,
            remote_identity: None,
            local_identity: None,
            duration_secs: Some(42),
        },
        DialogView {
            id: "d3".into(),
            call_id: None,
            local_tag: None,
            remote_tag: None,
            direction: None,
            state: DialogState::Terminated,
            event: Some(StateEvent::Rejected),
            code: Some(486),
            remote_identity: None,
            local_identity: None,
            duration_secs: None,
        },
    ];
    for full in [true, false] {
        let doc = dialog_info::render("sip:alice@example.com", 7, full, &dialogs);
        validate("dialog-info.xsd", "dialog-info.xml", &doc).unwrap_or_else(|e| panic!("{e}"));
    }
    let empty = dialog_info::render("sip:alice@example.com", 0, true, &[]);
    validate("dialog-info.xsd", "dialog-info-empty.xml", &empty).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn rlmi_and_its_pidf_parts_validate() {
    if !have_xmllint() {
        return;
    }
    let alice = pidf::render("sip:alice@example.com", &full_state());
    let resources = vec![
        rlmi::ResourceView {
            uri: "sip:alice@example.com".into(),
            name: Some("Alice".into()),
            instance: Some(rlmi::Instance {
                id: "i1".into(),
                state: rlmi::InstanceState::Active,
                pidf: Some(alice),
                reason: None,
            }),
        },
        rlmi::ResourceView {
            uri: "sip:carol@example.com".into(),
            name: None,
            instance: Some(rlmi::Instance {
                id: "i2".into(),
                state: rlmi::InstanceState::Terminated,
                pidf: None,
                reason: Some("rejected".into()),
            }),
        },
        rlmi::ResourceView {
            uri: "sip:dave@example.com".into(),
            name: None,
            instance: None,
        },
    ];
    let list = rlmi::ListView {
        uri: "sip:alice-contacts@example.com".into(),
        version: 3,
        full_state: true,
    };
    let (_ct, body) = rlmi::render(&list, &resources, "sbBoundary42");
    let body = String::from_utf8(body).unwrap();
    let rlmi_xml = body
        .split("\r\n\r\n")
        .nth(1)
        .and_then(|s| s.split("\r\n--sbBoundary42").next())
        .expect("an RLMI part");
    validate("rlmi.xsd", "rlmi.xml", rlmi_xml).unwrap_or_else(|e| panic!("{e}"));
}
