//! PIDF presence documents (RFC 3863) with RPID extensions (RFC 4480) in the RFC 4479 data
//! model: rendering a person's (already access-filtered) state for watchers, and parsing
//! what a device PUBLISHes (RFC 3903).
//!
//! The rendered shape is the one deployed clients read:
//!
//! ```xml
//! <presence xmlns="urn:ietf:params:xml:ns:pidf"
//!     xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"
//!     xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:alice@example.com">
//!   <tuple id="sb-t"><status><basic>open</basic></status>
//!     <contact>sip:alice@example.com</contact><note>Quarterly review</note></tuple>
//!   <dm:person id="sb-p">
//!     <rpid:activities><rpid:on-the-phone/></rpid:activities>
//!     <dm:note>Quarterly review</dm:note></dm:person>
//! </presence>
//! ```
//!
//! The PIDF elements use the default namespace and the RPID ones the `rpid:` prefix,
//! because some clients find `<basic>`, `<note>` and `<rpid:away/>` by matching text
//! rather than by resolving namespaces. The note appears both in the tuple (RFC 3863
//! §4.1.6, what older clients show) and in the person (RFC 4479 §3.2, what newer ones
//! show). Element order follows the schemas: in `<presence>` tuples, then notes, then
//! extensions (RFC 3863 §4.4), so `<dm:person>` comes last.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use super::escape;
use crate::model::{Activity, Availability, PersonState, Published};

/// The media type of a PIDF body (RFC 3863 §7).
pub const CONTENT_TYPE: &str = "application/pidf+xml";
/// RFC 3863 §4.4 namespace.
pub const NS_PIDF: &str = "urn:ietf:params:xml:ns:pidf";
/// RFC 4479 §4 namespace (`<dm:person>`, `<dm:note>`).
pub const NS_DATA_MODEL: &str = "urn:ietf:params:xml:ns:pidf:data-model";
/// RFC 4480 §6 namespace (`<rpid:activities>`, `<rpid:user-input>`).
pub const NS_RPID: &str = "urn:ietf:params:xml:ns:pidf:rpid";

/// RFC 4119 §2.2.1 namespace of the PIDF-LO `<geopriv>` object.
pub const NS_GEOPRIV: &str = "urn:ietf:params:xml:ns:pidf:geopriv10";
/// RFC 5139 §4 civic address namespace.
pub const NS_CIVIC_ADDR: &str = "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr";

/// The largest PUBLISH body accepted. Real device documents are a few hundred bytes to a
/// few kilobytes; the limit bounds the work one request can cause.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// Deepest element nesting accepted (real documents nest four or five levels).
pub const MAX_DEPTH: usize = 32;
/// Most elements accepted in one document.
pub const MAX_ELEMENTS: usize = 2_000;
/// Notes and other texts longer than this many characters are cut.
pub const MAX_TEXT_CHARS: usize = 1_000;
/// Most activities kept from one document.
pub const MAX_ACTIVITIES: usize = 16;
/// Most tuple ids and contacts kept from one document.
pub const MAX_TUPLES: usize = 16;

/// The activity names RFC 4480 §3.2 defines as elements of `<rpid:activities>`.
/// Anything else travels as `<rpid:other>text</rpid:other>`.
const RPID_ACTIVITIES: [&str; 24] = [
    "appointment",
    "away",
    "breakfast",
    "busy",
    "dinner",
    "holiday",
    "in-transit",
    "looking-for-work",
    "meal",
    "meeting",
    "on-the-phone",
    "performance",
    "permanent-absence",
    "playing",
    "presentation",
    "shopping",
    "sleeping",
    "spectator",
    "steering",
    "travel",
    "tv",
    "vacation",
    "working",
    "worship",
];

/// Why a PUBLISH body was not accepted as PIDF. All of these are the publisher's fault
/// and answer 400 (RFC 3903 §6 step 5 leaves the code to the body's validity); a body
/// over the limit may instead answer 413.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PidfError {
    #[error("empty presence document")]
    Empty,
    #[error("presence document of {len} bytes exceeds the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("presence document is not UTF-8")]
    NotUtf8,
    #[error("malformed XML: {0}")]
    Xml(String),
    #[error("document type declarations are not accepted")]
    Doctype,
    #[error("root element is not <presence> in the PIDF namespace")]
    NotPidf,
    #[error("<presence> lacks the entity attribute")]
    MissingEntity,
    #[error("presence document nests deeper than {0} elements")]
    TooDeep(usize),
    #[error("presence document has more than {0} elements")]
    TooManyElements(usize),
    #[error("presence document ends inside an element")]
    Truncated,
}

/// A parsed PUBLISH body: whose presence it is, and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidfDocument {
    /// The `entity` attribute of `<presence>` (RFC 3863 §4.1.1), e.g. `sip:bob@example.com`.
    pub entity: String,
    /// The device's state; `received_at` is 0 and is for the caller to set.
    pub published: Published,
}

/// Renders `state` (already filtered for the watcher by [`crate::access::view`]) as the
/// presence of `entity` (`sip:user@domain`).
pub fn render(entity: &str, state: &PersonState) -> String {
    render_inner(entity, state, None)
}

/// [`render`] with a `<timestamp>` (RFC 3863 §4.1.7) of `now_unix` on the main tuple, for
/// watchers that order documents by it.
pub fn render_at(entity: &str, state: &PersonState, now_unix: u64) -> String {
    render_inner(entity, state, Some(now_unix))
}

fn render_inner(entity: &str, state: &PersonState, now_unix: Option<u64>) -> String {
    let entity = escape(entity);
    let mut out = String::with_capacity(512);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<presence xmlns=\"{NS_PIDF}\" xmlns:dm=\"{NS_DATA_MODEL}\" xmlns:rpid=\"{NS_RPID}\" entity=\"{entity}\">\n"
    ));
    let basic = if state.availability.is_open() {
        "open"
    } else {
        "closed"
    };
    out.push_str(&format!(
        "  <tuple id=\"sb-t\">\n    <status><basic>{basic}</basic></status>\n"
    ));
    if entity.starts_with("sip:") || entity.starts_with("sips:") {
        out.push_str(&format!("    <contact>{entity}</contact>\n"));
    }
    let note = state.note.as_deref().map(clip).map(escape);
    if let Some(note) = &note {
        out.push_str(&format!("    <note>{note}</note>\n"));
    }
    if let Some(now) = now_unix {
        out.push_str(&format!("    <timestamp>{}</timestamp>\n", rfc3339(now)));
    }
    out.push_str("  </tuple>\n");
    // One more service per phone number (RFC 3863 §3.1: a tuple is a communication
    // means with its own contact address), with the same basic status as the main one
    // so text-matching clients never read a signed-out person as open.
    for (i, number) in state.phone_numbers.iter().enumerate() {
        if let Some(uri) = phone_uri(number, &entity) {
            out.push_str(&format!(
                "  <tuple id=\"sb-tel{i}\">\n    <status><basic>{basic}</basic></status>\n    <contact>{}</contact>\n  </tuple>\n",
                escape(&uri)
            ));
        }
    }

    let activities = rendered_activities(state);
    out.push_str("  <dm:person id=\"sb-p\">\n");
    if !activities.is_empty() {
        out.push_str("    <rpid:activities>");
        for a in &activities {
            let name = a.element_name();
            if RPID_ACTIVITIES.contains(&name) {
                out.push_str(&format!("<rpid:{name}/>"));
            } else {
                out.push_str(&format!("<rpid:other>{}</rpid:other>", escape(clip(name))));
            }
        }
        out.push_str("</rpid:activities>\n");
    }
    if let Some(location) = &state.location {
        // Free-text location as a civic address's LOC ("additional location
        // information", RFC 5139 §3.1) in a PIDF-LO geopriv object (RFC 4119 §2.2.1,
        // RFC 5491 §3.4 allows it under the person). No retention or redistribution is
        // granted: the usage rules stay empty, which RFC 4119 §2.2.2 reads as "no".
        out.push_str(&format!(
            "    <gp:geopriv xmlns:gp=\"{NS_GEOPRIV}\" xmlns:ca=\"{NS_CIVIC_ADDR}\"><gp:location-info><ca:civicAddress><ca:LOC>{}</ca:LOC></ca:civicAddress></gp:location-info><gp:usage-rules/></gp:geopriv>\n",
            escape(clip(location))
        ));
    }
    if let Some(note) = &note {
        out.push_str(&format!("    <dm:note>{note}</dm:note>\n"));
    }
    out.push_str("  </dm:person>\n</presence>\n");
    out
}

/// The activities to render: the state's own, plus the one that says its availability
/// when none of them does (a public watcher sees no activities, but must still tell busy
/// from away, and clients show that from `<rpid:busy/>` or `<rpid:away/>`).
fn rendered_activities(state: &PersonState) -> Vec<Activity> {
    let mut out = state.activities.clone();
    let implied = match state.availability {
        Availability::Busy | Availability::DoNotDisturb => Some(Activity::Busy),
        Availability::BeRightBack | Availability::Away => Some(Activity::Away),
        Availability::OffWork => Some(Activity::Other("off-work".to_owned())),
        Availability::Available | Availability::Offline => None,
    };
    let said = |out: &[Activity]| match state.availability {
        Availability::Busy | Availability::DoNotDisturb => out.iter().any(|a| {
            matches!(
                a,
                Activity::Busy | Activity::OnThePhone | Activity::Meeting | Activity::Appointment
            )
        }),
        Availability::BeRightBack | Availability::Away => out.contains(&Activity::Away),
        _ => !out.is_empty(),
    };
    if let Some(implied) = implied {
        if !said(&out) {
            out.push(implied);
        }
    }
    out
}

/// `2026-11-25T06:00:00Z` (RFC 3339, the xs:dateTime form PIDF uses).
fn rfc3339(unix: u64) -> String {
    let secs = i64::try_from(unix)
        .unwrap_or(i64::MAX / 2)
        .min(253_402_300_799);
    let (y, m, d) = crate::calendar::civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        t / 3600,
        t % 3600 / 60,
        t % 60
    )
}

/// A phone number as a contact URI: `+49 30 1234567` becomes `tel:+49-30-1234567`
/// (RFC 3966 §3: spaces are not visual separators, hyphens are); a number without a
/// country code needs a context, so it becomes a SIP URI in the entity's domain with
/// `user=phone` (RFC 3261 §19.1.1). Nothing dialable gives `None`.
fn phone_uri(number: &str, escaped_entity: &str) -> Option<String> {
    let cleaned: String = number
        .trim()
        .chars()
        .filter_map(|c| match c {
            '0'..='9' | '+' | '-' | '.' | '(' | ')' => Some(c),
            ' ' | '/' => Some('-'),
            _ => None,
        })
        .collect();
    let cleaned = cleaned.trim_matches('-');
    if !cleaned.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    if let Some(rest) = cleaned.strip_prefix('+') {
        if !rest.contains('+') {
            return Some(format!("tel:+{rest}"));
        }
        return None;
    }
    let digits: String = cleaned.chars().filter(|c| c.is_ascii_digit()).collect();
    let domain = escaped_entity.rsplit_once('@').map(|(_, d)| d)?;
    let domain: String = domain
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .collect();
    (!domain.is_empty()).then(|| format!("sip:{digits}@{domain};user=phone"))
}

/// Parses a PUBLISH body into the device's state (see [`parse_document`]).
pub fn parse(body: &[u8]) -> Result<Published, PidfError> {
    parse_document(body).map(|d| d.published)
}

/// Which PIDF-related namespace an element is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    Pidf,
    DataModel,
    Rpid,
    /// No namespace: accepted for PIDF elements only, as some clients omit the xmlns.
    None,
    Other,
}

fn ns_of(r: &ResolveResult<'_>) -> Ns {
    match r {
        ResolveResult::Bound(ns) => match ns.0 {
            b"urn:ietf:params:xml:ns:pidf" => Ns::Pidf,
            b"urn:ietf:params:xml:ns:pidf:data-model" => Ns::DataModel,
            b"urn:ietf:params:xml:ns:pidf:rpid" => Ns::Rpid,
            _ => Ns::Other,
        },
        ResolveResult::Unbound => Ns::None,
        ResolveResult::Unknown(_) => Ns::Other,
    }
}

/// What text inside the current element is collected into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Collect {
    Basic,
    Contact,
    TupleNote,
    PresenceNote,
    PersonNote,
    OtherActivity,
    UserInput,
}

/// Parses a PUBLISH body (RFC 3863 §4, RFC 4480 §3): namespace-aware, tolerant of
/// unknown elements and extensions, bounded in size, depth and element count.
///
/// The device is open if any tuple's `<basic>` says `open`. Activities come from any
/// `<rpid:activities>` (normally inside `<dm:person>`). The note is the first person
/// note, else the first presence-level note, else the first tuple note.
pub fn parse_document(body: &[u8]) -> Result<PidfDocument, PidfError> {
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(PidfError::TooLarge {
            len: body.len(),
            max: MAX_DOCUMENT_BYTES,
        });
    }
    let text = std::str::from_utf8(body).map_err(|_| PidfError::NotUtf8)?;
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(PidfError::Empty);
    }

    let mut reader = NsReader::from_str(text);
    reader.config_mut().trim_text(true);

    let mut stack: Vec<(Ns, String)> = Vec::new();
    let mut elements = 0usize;
    let mut entity = None;
    let mut seen_root = false;
    let mut p = Published::default();
    let (mut person_note, mut presence_note, mut tuple_note) = (None, None, None);
    let mut collect: Option<(Collect, String)> = None;

    loop {
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| PidfError::Xml(e.to_string()))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_empty = matches!(event, Event::Empty(_));
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(PidfError::TooManyElements(MAX_ELEMENTS));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(PidfError::TooDeep(MAX_DEPTH));
                }
                let ns = ns_of(&resolved);
                let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();

                if stack.is_empty() {
                    if seen_root || local != "presence" || !matches!(ns, Ns::Pidf | Ns::None) {
                        return Err(PidfError::NotPidf);
                    }
                    seen_root = true;
                    for attr in e.attributes().flatten() {
                        if attr.key.local_name().as_ref() == b"entity"
                            && attr.key.prefix().is_none()
                        {
                            let v = attr
                                .unescape_value()
                                .map_err(|e| PidfError::Xml(e.to_string()))?;
                            entity = Some(v.trim().to_owned());
                        }
                    }
                } else {
                    let parent = stack.last().map(|(n, l)| (*n, l.as_str()));
                    let in_activities = stack
                        .iter()
                        .any(|(n, l)| *n == Ns::Rpid && l == "activities");
                    let pidf = |n: Ns| matches!(n, Ns::Pidf | Ns::None);
                    let what = match (ns, local.as_str(), parent) {
                        (n, "basic", Some((pn, "status"))) if pidf(n) && pidf(pn) => {
                            Some(Collect::Basic)
                        }
                        (n, "contact", Some((pn, "tuple"))) if pidf(n) && pidf(pn) => {
                            Some(Collect::Contact)
                        }
                        (n, "note", Some((pn, "tuple"))) if pidf(n) && pidf(pn) => {
                            Some(Collect::TupleNote)
                        }
                        (n, "note", Some((pn, "presence"))) if pidf(n) && pidf(pn) => {
                            Some(Collect::PresenceNote)
                        }
                        (Ns::DataModel, "note", Some((Ns::DataModel, "person"))) => {
                            Some(Collect::PersonNote)
                        }
                        (Ns::Rpid, "user-input", _) => Some(Collect::UserInput),
                        (Ns::Rpid, "other", _) if in_activities => Some(Collect::OtherActivity),
                        (Ns::Rpid, name, Some((Ns::Rpid, "activities")))
                            if name != "note" && name != "unknown" =>
                        {
                            push_activity(&mut p.activities, Activity::from_element_name(name));
                            None
                        }
                        _ => None,
                    };
                    if local == "tuple" && pidf(ns) {
                        for attr in e.attributes().flatten() {
                            if attr.key.as_ref() == b"id" {
                                if let Ok(v) = attr.unescape_value() {
                                    if p.tuple_ids.len() < MAX_TUPLES {
                                        p.tuple_ids.push(clip(&v).to_owned());
                                    }
                                }
                            }
                        }
                    }
                    if let Some(what) = what {
                        if !is_empty {
                            collect = Some((what, String::new()));
                        }
                    }
                }
                if !is_empty {
                    stack.push((ns, local));
                }
            }
            Event::Text(t) => {
                if let Some((_, buf)) = collect.as_mut() {
                    let s = t.unescape().map_err(|e| PidfError::Xml(e.to_string()))?;
                    if buf.chars().count() < MAX_TEXT_CHARS {
                        buf.push_str(&s);
                    }
                }
            }
            Event::CData(c) => {
                if let Some((_, buf)) = collect.as_mut() {
                    if buf.chars().count() < MAX_TEXT_CHARS {
                        buf.push_str(&String::from_utf8_lossy(&c));
                    }
                }
            }
            Event::End(_) => {
                stack.pop();
                if let Some((what, buf)) = collect.take() {
                    let value = clip(buf.trim()).to_owned();
                    match what {
                        Collect::Basic => p.basic_open |= value.eq_ignore_ascii_case("open"),
                        Collect::Contact if !value.is_empty() => {
                            if p.contacts.len() < MAX_TUPLES {
                                p.contacts.push(value);
                            }
                        }
                        Collect::TupleNote => set_once(&mut tuple_note, value),
                        Collect::PresenceNote => set_once(&mut presence_note, value),
                        Collect::PersonNote => set_once(&mut person_note, value),
                        Collect::OtherActivity if !value.is_empty() => {
                            push_activity(&mut p.activities, Activity::Other(value));
                        }
                        Collect::UserInput => p.idle |= value.eq_ignore_ascii_case("idle"),
                        Collect::Contact | Collect::OtherActivity => {}
                    }
                }
            }
            Event::DocType(_) => return Err(PidfError::Doctype),
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(PidfError::Truncated);
    }
    if !seen_root {
        return Err(PidfError::NotPidf);
    }
    let entity = entity
        .filter(|e| !e.is_empty())
        .ok_or(PidfError::MissingEntity)?;
    p.note = person_note.or(presence_note).or(tuple_note);
    Ok(PidfDocument {
        entity: clip(&entity).to_owned(),
        published: p,
    })
}

fn push_activity(list: &mut Vec<Activity>, a: Activity) {
    if list.len() < MAX_ACTIVITIES && !list.contains(&a) {
        list.push(a);
    }
}

fn set_once(slot: &mut Option<String>, value: String) {
    if slot.is_none() && !value.is_empty() {
        *slot = Some(value);
    }
}

/// At most [`MAX_TEXT_CHARS`] characters of `s`.
fn clip(s: &str) -> &str {
    match s.char_indices().nth(MAX_TEXT_CHARS) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests;
