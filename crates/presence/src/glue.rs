//! The document and policy functions the protocol machines call, in one place: the
//! aggregation, access and calendar rules and the PIDF / dialog-info / RLMI documents.

use crate::model::{AccessLevel, AccessRule, PersonState, Published, Sources};

/// Temporary stand-in until the dialog-info module lands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogView {
    pub id: String,
    pub call_id: String,
    pub state: String,
}

pub(crate) fn aggregate(s: &Sources, now_s: u64) -> PersonState {
    crate::aggregate::aggregate(s, now_s)
}

pub(crate) fn level_for(rules: &[AccessRule], watcher: &str, owner_domain: &str) -> AccessLevel {
    crate::access::level_for(rules, watcher, owner_domain)
}

pub(crate) fn view(s: &PersonState, level: AccessLevel) -> PersonState {
    crate::access::view(s, level)
}

pub(crate) fn busy_at(ics: &str, now_s: u64) -> bool {
    let _ = (ics, now_s);
    false
}

pub(crate) fn next_change(ics: &str, now_s: u64) -> Option<u64> {
    let _ = (ics, now_s);
    None
}

pub(crate) fn render_pidf(entity: &str, s: &PersonState) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\"?><presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"{entity}\"><tuple id=\"t\"><status><basic>{}</basic></status></tuple><!--{}--></presence>",
        if s.availability.is_open() { "open" } else { "closed" },
        s.availability.as_str()
    )
    .into_bytes()
}

pub(crate) fn parse_pidf(body: &[u8]) -> Result<Published, String> {
    let t = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    if !t.contains("<presence") {
        return Err("not a presence document".into());
    }
    Ok(Published {
        basic_open: t.contains(">open<"),
        ..Published::default()
    })
}

pub(crate) const DIALOG_INFO_CONTENT_TYPE: &str = "application/dialog-info+xml";

pub(crate) fn render_dialog_info(
    entity: &str,
    version: u32,
    full: bool,
    dialogs: &[DialogView],
) -> Vec<u8> {
    let mut s = format!(
        "<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"{version}\" state=\"{}\" entity=\"{entity}\">",
        if full { "full" } else { "partial" }
    );
    for d in dialogs {
        s.push_str(&format!(
            "<dialog id=\"{}\"><state>{}</state></dialog>",
            d.id, d.state
        ));
    }
    s.push_str("</dialog-info>");
    s.into_bytes()
}

/// One list member for an RLMI notification: its URI and its (already filtered) PIDF.
pub(crate) fn render_rlmi(
    list_uri: &str,
    version: u32,
    full: bool,
    members: &[(String, Vec<u8>)],
) -> (String, Vec<u8>) {
    let mut s = format!("--b\r\nContent-Type: application/rlmi+xml\r\n\r\n<list uri=\"{list_uri}\" version=\"{version}\" fullState=\"{full}\">");
    for (u, _) in members {
        s.push_str(&format!("<resource uri=\"{u}\"/>"));
    }
    s.push_str("</list>\r\n");
    for (u, b) in members {
        s.push_str(&format!(
            "--b\r\nContent-ID: <{u}>\r\n\r\n{}\r\n",
            String::from_utf8_lossy(b)
        ));
    }
    s.push_str("--b--\r\n");
    (
        "multipart/related;type=\"application/rlmi+xml\";boundary=b".into(),
        s.into_bytes(),
    )
}
