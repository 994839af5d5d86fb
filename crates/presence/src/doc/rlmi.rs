//! RFC 4662 resource list notifications: one NOTIFY carrying the state of many resources
//! (a user's contact list) as a `multipart/related` body (RFC 2387) whose root part is an
//! RLMI document (`application/rlmi+xml`, §5) and whose other parts are the resources'
//! own documents (PIDF here), linked by Content-ID (RFC 2392).
//!
//! The first NOTIFY of a list subscription is full state (`fullState="true"`, every
//! resource listed); later ones are partial and list only the resources whose state
//! changed (§4.5). Each document carries the next value of the subscription's version
//! counter ([`super::VersionCounter`]).

use super::escape;

/// The media type of the root part (RFC 4662 §5).
pub const CONTENT_TYPE_RLMI: &str = "application/rlmi+xml";
/// RFC 4662 §5.2 namespace.
pub const NS_RLMI: &str = "urn:ietf:params:xml:ns:rlmi";

/// The list being notified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListView {
    /// The list's URI, the Request-URI of the list SUBSCRIBE.
    pub uri: String,
    /// The next value of the subscription's version counter.
    pub version: u32,
    /// Full state (every resource) or partial (only the changed ones).
    pub full_state: bool,
}

/// The state of a back-end subscription to one resource (RFC 4662 §5.2 `state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstanceState {
    Active,
    Pending,
    Terminated,
}

impl InstanceState {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Active => "active",
            InstanceState::Pending => "pending",
            InstanceState::Terminated => "terminated",
        }
    }
}

/// One back-end subscription to a resource (RFC 4662 §5.2 `<instance>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Stable within the list subscription: a later document with the same id updates it.
    pub id: String,
    pub state: InstanceState,
    /// The resource's PIDF document (already access-filtered for the list's owner), sent
    /// as its own part. `None` for pending and terminated instances, which carry no state.
    pub pidf: Option<String>,
    /// Why a terminated instance ended (RFC 6665 §4.2.2 reason codes, e.g. `rejected`).
    pub reason: Option<String>,
}

/// One resource of the list (RFC 4662 §5.2 `<resource>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceView {
    pub uri: String,
    /// Display name, as the list owner stored the contact.
    pub name: Option<String>,
    /// `None` when there is no back-end subscription yet: the resource is listed
    /// without state (§5.2 allows a `<resource>` with no `<instance>`).
    pub instance: Option<Instance>,
}

/// Renders a list NOTIFY body. Returns the Content-Type header value (with the boundary,
/// `type="application/rlmi+xml"` and the root part's `start`) and the body bytes.
///
/// `boundary` is the caller's choice so output is deterministic; if it occurs inside any
/// part it is lengthened until it does not (RFC 2046 §5.1.1).
pub fn render(list: &ListView, resources: &[ResourceView], boundary: &str) -> (String, Vec<u8>) {
    let domain = host_of(&list.uri);
    let root_cid = format!("list.{}@{domain}", list.version);

    let mut xml = String::with_capacity(256 + 160 * resources.len());
    let mut parts: Vec<(String, &str)> = Vec::new();
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<list xmlns=\"{NS_RLMI}\" uri=\"{}\" version=\"{}\" fullState=\"{}\">\n",
        escape(&list.uri),
        list.version,
        list.full_state
    ));
    for (i, r) in resources.iter().enumerate() {
        xml.push_str(&format!("  <resource uri=\"{}\">\n", escape(&r.uri)));
        if let Some(name) = &r.name {
            xml.push_str(&format!("    <name>{}</name>\n", escape(name)));
        }
        if let Some(inst) = &r.instance {
            xml.push_str(&format!(
                "    <instance id=\"{}\" state=\"{}\"",
                escape(&inst.id),
                inst.state.as_str()
            ));
            if let Some(reason) = &inst.reason {
                xml.push_str(&format!(" reason=\"{}\"", escape(reason)));
            }
            if let Some(doc) = &inst.pidf {
                let cid = format!("r{i}.{}@{domain}", cid_safe(&inst.id));
                xml.push_str(&format!(" cid=\"{cid}\""));
                parts.push((cid, doc));
            }
            xml.push_str("/>\n");
        }
        xml.push_str("  </resource>\n");
    }
    xml.push_str("</list>\n");

    let mut boundary = if boundary.is_empty() {
        "sb-rlmi".to_owned()
    } else {
        boundary.to_owned()
    };
    while xml.contains(&boundary) || parts.iter().any(|(_, d)| d.contains(&boundary)) {
        boundary.push('x');
    }

    let mut body =
        String::with_capacity(xml.len() + parts.iter().map(|p| p.1.len() + 160).sum::<usize>());
    push_part(&mut body, &boundary, &root_cid, CONTENT_TYPE_RLMI, &xml);
    for (cid, doc) in &parts {
        push_part(&mut body, &boundary, cid, super::pidf::CONTENT_TYPE, doc);
    }
    body.push_str(&format!("--{boundary}--\r\n"));

    let content_type = format!(
        "multipart/related;type=\"{CONTENT_TYPE_RLMI}\";start=\"<{root_cid}>\";boundary=\"{boundary}\""
    );
    (content_type, body.into_bytes())
}

fn push_part(body: &mut String, boundary: &str, cid: &str, content_type: &str, doc: &str) {
    body.push_str(&format!("--{boundary}\r\n"));
    body.push_str("Content-Transfer-Encoding: binary\r\n");
    body.push_str(&format!("Content-ID: <{cid}>\r\n"));
    body.push_str(&format!(
        "Content-Type: {content_type};charset=\"UTF-8\"\r\n\r\n"
    ));
    body.push_str(doc);
    // The CRLF before the next delimiter belongs to the delimiter (RFC 2046 §5.1.1).
    body.push_str("\r\n");
}

/// The host of a SIP URI, for the right-hand side of Content-IDs; any valid domain
/// would do, this one makes them unique per list server.
fn host_of(uri: &str) -> String {
    let after_at = uri.rsplit_once('@').map(|(_, h)| h).unwrap_or("");
    let host: String = after_at
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .collect();
    if host.is_empty() {
        "switchboard.invalid".to_owned()
    } else {
        host
    }
}

/// Keeps a Content-ID local part within RFC 5322 dot-atom text that needs no quoting.
fn cid_safe(id: &str) -> String {
    let s: String = id
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() {
        "i".to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests;
