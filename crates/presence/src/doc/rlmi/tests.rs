use super::*;
use crate::doc::pidf;
use crate::model::{Availability, PersonState};

/// A part of a multipart body: its headers (name lower-cased) and content.
struct Part {
    headers: Vec<(String, String)>,
    content: String,
}

impl Part {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits a multipart body the way a receiver does (RFC 2046 §5.1.1), independently of
/// how `render` builds it.
fn split(content_type: &str, body: &[u8]) -> Vec<Part> {
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .expect("boundary parameter")
        .trim_matches('"')
        .to_owned();
    let body = std::str::from_utf8(body).unwrap();
    let delimiter = format!("\r\n--{boundary}");
    let body = format!("\r\n{body}");
    let mut sections: Vec<&str> = body.split(delimiter.as_str()).collect();
    assert_eq!(sections.remove(0), "", "nothing before the first delimiter");
    let last = sections.pop().expect("close delimiter");
    assert_eq!(last, "--\r\n", "close delimiter ends the body");
    sections
        .into_iter()
        .map(|s| {
            let s = s.strip_prefix("\r\n").expect("CRLF after the delimiter");
            let (head, content) = s.split_once("\r\n\r\n").expect("blank line after headers");
            let headers = head
                .split("\r\n")
                .map(|l| {
                    let (n, v) = l.split_once(':').unwrap();
                    (n.trim().to_ascii_lowercase(), v.trim().to_owned())
                })
                .collect();
            Part {
                headers,
                content: content.to_owned(),
            }
        })
        .collect()
}

/// The value of attribute `name` in `element`, the text after an element's name.
fn attr<'a>(element: &'a str, name: &str) -> Option<&'a str> {
    let start = if element.starts_with(&format!("{name}=\"")) {
        name.len() + 2
    } else {
        element.find(&format!(" {name}=\""))? + name.len() + 3
    };
    let len = element[start..].find('"')?;
    Some(&element[start..start + len])
}

fn contact(i: usize, availability: Availability) -> ResourceView {
    let uri = format!("sip:user{i}@example.com");
    let doc = pidf::render(
        &uri,
        &PersonState {
            availability,
            ..PersonState::offline()
        },
    );
    ResourceView {
        uri,
        name: Some(format!("User {i}")),
        instance: Some(Instance {
            id: format!("inst{i}"),
            state: InstanceState::Active,
            pidf: Some(doc),
            reason: None,
        }),
    }
}

#[test]
fn full_state_of_200_contacts_links_every_part_by_content_id() {
    let resources: Vec<_> = (0..200)
        .map(|i| contact(i, Availability::ALL[i % 7]))
        .collect();
    let list = ListView {
        uri: "sip:alice-contacts@example.com".into(),
        version: 0,
        full_state: true,
    };
    let (ct, body) = render(&list, &resources, "boundary-1");
    assert!(ct.starts_with("multipart/related;"), "{ct}");
    assert!(ct.contains("type=\"application/rlmi+xml\""), "{ct}");
    assert!(ct.contains("boundary=\"boundary-1\""), "{ct}");

    let parts = split(&ct, &body);
    assert_eq!(parts.len(), 201);
    let root = &parts[0];
    let start = ct
        .split(';')
        .find_map(|p| p.strip_prefix("start="))
        .unwrap()
        .trim_matches('"');
    assert_eq!(root.header("content-id"), Some(start));
    assert!(root
        .header("content-type")
        .unwrap()
        .starts_with("application/rlmi+xml"));
    assert!(root.content.contains(
        "<list xmlns=\"urn:ietf:params:xml:ns:rlmi\" uri=\"sip:alice-contacts@example.com\" version=\"0\" fullState=\"true\">"
    ));

    let instances: Vec<&str> = root.content.split("<instance ").skip(1).collect();
    assert_eq!(instances.len(), 200);
    for (i, inst) in instances.iter().enumerate() {
        let cid = attr(inst, "cid").expect("cid");
        let part = parts
            .iter()
            .find(|p| p.header("content-id") == Some(&format!("<{cid}>")))
            .unwrap_or_else(|| panic!("no part for {cid}"));
        assert!(part
            .header("content-type")
            .unwrap()
            .starts_with("application/pidf+xml"));
        assert_eq!(
            Some(&part.content),
            resources[i].instance.as_ref().unwrap().pidf.as_ref()
        );
        assert_eq!(attr(inst, "id"), Some(format!("inst{i}").as_str()));
        assert_eq!(attr(inst, "state"), Some("active"));
    }
    // Content-IDs are unique.
    let mut cids: Vec<_> = parts
        .iter()
        .map(|p| p.header("content-id").unwrap())
        .collect();
    cids.sort();
    cids.dedup();
    assert_eq!(cids.len(), 201);
}

#[test]
fn partial_state_lists_only_given_resources_and_stateless_instances_have_no_part() {
    let list = ListView {
        uri: "sip:bob-list@example.com".into(),
        version: 5,
        full_state: false,
    };
    let resources = vec![
        contact(1, Availability::Busy),
        ResourceView {
            uri: "sip:eve@example.com".into(),
            name: None,
            instance: Some(Instance {
                id: "x".into(),
                state: InstanceState::Terminated,
                pidf: None,
                reason: Some("rejected".into()),
            }),
        },
        ResourceView {
            uri: "sip:new@example.com".into(),
            name: None,
            instance: None,
        },
    ];
    let (ct, body) = render(&list, &resources, "b");
    let parts = split(&ct, &body);
    assert_eq!(parts.len(), 2, "the RLMI root and one PIDF part");
    let root = &parts[0].content;
    assert!(root.contains("version=\"5\" fullState=\"false\""), "{root}");
    assert!(
        root.contains("<instance id=\"x\" state=\"terminated\" reason=\"rejected\"/>"),
        "{root}"
    );
    assert!(
        root.contains("<resource uri=\"sip:new@example.com\">\n  </resource>"),
        "{root}"
    );
    assert_eq!(root.matches("<resource ").count(), 3);
}

#[test]
fn a_boundary_found_inside_a_part_is_lengthened() {
    let mut r = contact(1, Availability::Available);
    r.instance.as_mut().unwrap().pidf = Some("text mentioning --frontier inside\n".into());
    let list = ListView {
        uri: "sip:l@example.com".into(),
        version: 1,
        full_state: true,
    };
    let (ct, body) = render(&list, &[r], "frontier");
    assert!(ct.contains("boundary=\"frontierx\""), "{ct}");
    let parts = split(&ct, &body);
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[1].content, "text mentioning --frontier inside\n");
}

#[test]
fn content_ids_stay_valid_for_odd_instance_ids_and_list_uris() {
    let mut r = contact(1, Availability::Available);
    r.instance.as_mut().unwrap().id = "a b<c>@d".into();
    let list = ListView {
        uri: "sip:list".into(),
        version: 1,
        full_state: true,
    };
    let (ct, body) = render(&list, &[r], "b");
    let parts = split(&ct, &body);
    assert_eq!(
        parts[1].header("content-id"),
        Some("<r0.a-b-c--d@switchboard.invalid>")
    );
    assert!(parts[0].content.contains("id=\"a b&lt;c&gt;@d\""));
}
