//! Caller identity toward and from a gateway.
//!
//! Outbound ([`outbound_identity`]): the caller's display name, number and privacy wish
//! become the From and the identity headers the gateway's profile wants:
//! P-Asserted-Identity with `Privacy: id` (RFC 3325 §9.1, RFC 3323 §4.2), Remote-Party-ID
//! with `party`, `screen` and `privacy` parameters for gateways older than RFC 3325
//! (draft-ietf-sip-privacy-04), or the From alone. A caller who withholds their
//! identity always gets the anonymous From of RFC 3323 §4.1, so the number never
//! travels in a header the gateway might copy to the PSTN unasked.
//!
//! Inbound ([`inbound_caller`]): the caller's number is read from P-Asserted-Identity,
//! then Remote-Party-ID, then From, and the privacy the gateway signals (a `Privacy`
//! header, an RPID `privacy` parameter, an anonymous From) is kept with it, so the number
//! can route and be recorded while callees are shown "withheld".
//!
//! A gateway is provisioned, so what it asserts is trusted (RFC 3325 §2.3): the front end
//! must not accept these headers from anyone else, which is the caller's check to make.

use sb_sip_msg::{Header, Host, NameAddr, OtherHeader, Params, Request, SipUri, Uri};

use crate::config::{GatewayConfig, IdentityMode, PrivacyHandling};
use crate::numbers::{escape_user, split_values, uri_number, NumberRole};

/// Who is calling, as the server knows it (an authenticated user and their settings).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerIdentity {
    pub display: Option<String>,
    /// The number to present, already through the gateway's outbound rules.
    pub number: Option<String>,
    /// The caller asked to withhold their identity (CLIR).
    pub private: bool,
}

/// What to put in an INVITE toward a gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundIdentity {
    /// The From, without a tag (the dialog layer adds one).
    pub from: NameAddr,
    /// P-Asserted-Identity, Privacy or Remote-Party-ID headers, in that order.
    pub headers: Vec<Header>,
}

/// The anonymous From of RFC 3323 §4.1.
pub fn anonymous_from() -> NameAddr {
    let mut na = NameAddr::new(Uri::Sip(SipUri {
        secure: false,
        user: Some("anonymous".into()),
        password: None,
        host: Host::Domain("anonymous.invalid".into()),
        port: None,
        params: Params::new(),
        headers: Vec::new(),
    }));
    na.display = Some("Anonymous".into());
    na
}

/// `"display" <sip:NUMBER@host;user=phone>`.
fn number_addr(display: Option<&str>, number: &str, host: &Host) -> NameAddr {
    let mut params = Params::new();
    params.set("user", Some("phone"));
    let mut na = NameAddr::new(Uri::Sip(SipUri {
        secure: false,
        user: Some(escape_user(number)),
        password: None,
        host: host.clone(),
        port: None,
        params,
        headers: Vec::new(),
    }));
    na.display = display.map(str::to_string);
    na
}

fn other(name: &str, value: String) -> Header {
    Header::Other(OtherHeader {
        name: name.to_string(),
        // The printer writes values as received, that is after the colon's space.
        value: format!(" {value}"),
    })
}

/// The From and identity headers for a call from `caller` to the gateway `gw`; `host`
/// is the host part of the identity URIs (the domain the numbers belong to).
pub fn outbound_identity(
    gw: &GatewayConfig,
    caller: &CallerIdentity,
    host: &Host,
) -> OutboundIdentity {
    let display = caller.display.as_deref();
    let Some(number) = caller.number.as_deref() else {
        // Nothing to assert; keep the name if it may be shown.
        let mut from = anonymous_from();
        if !caller.private {
            from.display = display.map(str::to_string);
        }
        return OutboundIdentity {
            from,
            headers: Vec::new(),
        };
    };
    let asserted = number_addr(display, number, host);
    if !caller.private {
        let headers = match gw.identity {
            IdentityMode::Pai => vec![other("P-Asserted-Identity", asserted.to_string())],
            IdentityMode::Rpid => vec![other("Remote-Party-ID", rpid_value(&asserted, false))],
            IdentityMode::None => Vec::new(),
        };
        return OutboundIdentity {
            from: asserted,
            headers,
        };
    }
    let headers = match (gw.privacy, gw.identity) {
        (PrivacyHandling::Enforce, _) | (_, IdentityMode::None) => Vec::new(),
        (PrivacyHandling::Forward, IdentityMode::Pai) => vec![
            other("P-Asserted-Identity", asserted.to_string()),
            other("Privacy", "id".into()),
        ],
        (PrivacyHandling::Forward, IdentityMode::Rpid) => {
            vec![other("Remote-Party-ID", rpid_value(&asserted, true))]
        }
    };
    OutboundIdentity {
        from: anonymous_from(),
        headers,
    }
}

/// An RPID value for a caller whose number we checked (`screen=yes`: the user signed in
/// and the number is theirs).
fn rpid_value(asserted: &NameAddr, private: bool) -> String {
    let mut na = asserted.clone();
    na.params.set("party", Some("calling"));
    na.params.set("screen", Some("yes"));
    na.params
        .set("privacy", Some(if private { "full" } else { "off" }));
    na.to_string()
}

/// Where an inbound caller's number was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentitySource {
    PAssertedIdentity,
    RemotePartyId,
    From,
    /// No header carried a number.
    None,
}

/// The caller of an inbound call, as the gateway told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundCaller {
    /// The number as sent (inbound number rules not yet applied), separators removed.
    pub number: Option<String>,
    pub display: Option<String>,
    pub source: IdentitySource,
    /// The number may route and be recorded but must not be shown to the callee.
    pub number_restricted: bool,
    pub name_restricted: bool,
}

impl InboundCaller {
    /// The number to show the callee, if they may see it.
    pub fn presented_number(&self) -> Option<&str> {
        self.number.as_deref().filter(|_| !self.number_restricted)
    }

    /// The name to show the callee, if they may see it.
    pub fn presented_name(&self) -> Option<&str> {
        self.display.as_deref().filter(|_| !self.name_restricted)
    }
}

/// Every parseable value of a name-addr header (values that do not parse are skipped:
/// one bad value does not hide a good one).
fn addrs(req: &Request, name: &str) -> Vec<NameAddr> {
    req.headers
        .other(name)
        .flat_map(split_values)
        .filter_map(|v| v.trim().parse::<NameAddr>().ok())
        .collect()
}

fn is_anonymous(uri: &Uri) -> bool {
    match uri {
        Uri::Sip(s) => {
            s.user
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case("anonymous"))
                || matches!(&s.host, Host::Domain(d) if d.eq_ignore_ascii_case("anonymous.invalid"))
        }
        _ => false,
    }
}

/// The `Privacy` values of a request (RFC 3323 §4.2: `;`-separated; commas tolerated),
/// lower-cased.
fn privacy_values(req: &Request) -> Vec<String> {
    req.headers
        .other("Privacy")
        .flat_map(|v| v.split([';', ',']))
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .collect()
}

/// Reads the caller of an inbound INVITE: P-Asserted-Identity first (a `tel:` or
/// numeric `sip:` value), then a Remote-Party-ID whose `party` is `calling` (or absent),
/// then the From. A `Privacy` of `id`, `user` or `header` (RFC 3323 §4.2, RFC 3325 §9.3)
/// restricts the number and the name; RPID's `privacy=full|uri|name` restricts what it
/// names; an anonymous From carries no number.
pub fn inbound_caller(req: &Request) -> InboundCaller {
    let privacy = privacy_values(req);
    let none = privacy.iter().any(|p| p == "none");
    let hidden = !none
        && privacy
            .iter()
            .any(|p| matches!(p.as_str(), "id" | "user" | "header"));
    let mut out = InboundCaller {
        number: None,
        display: None,
        source: IdentitySource::None,
        number_restricted: hidden,
        name_restricted: hidden,
    };
    let with_number = |na: &NameAddr| uri_number(&na.uri).map(|n| (n, na.display.clone()));
    if let Some((n, d)) = addrs(req, "P-Asserted-Identity")
        .iter()
        .find_map(with_number)
    {
        out.number = Some(n);
        out.display = d;
        out.source = IdentitySource::PAssertedIdentity;
        return out;
    }
    let calling = addrs(req, "Remote-Party-ID").into_iter().find(|na| {
        na.params
            .value("party")
            .is_none_or(|p| p.eq_ignore_ascii_case("calling"))
            && uri_number(&na.uri).is_some()
    });
    if let Some(na) = calling {
        let p = na
            .params
            .value("privacy")
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        out.number = uri_number(&na.uri);
        out.display = na.display;
        out.source = IdentitySource::RemotePartyId;
        out.number_restricted |= p == "full" || p == "uri";
        out.name_restricted |= p == "full" || p == "name";
        return out;
    }
    if let Some(from) = req.headers.from() {
        if !is_anonymous(&from.uri) {
            out.number = uri_number(&from.uri);
            if out.number.is_some() {
                out.source = IdentitySource::From;
            }
        }
        out.display = from
            .display
            .clone()
            .filter(|d| !d.eq_ignore_ascii_case("anonymous"));
    }
    out
}

impl crate::config::Gateway {
    /// [`outbound_identity`] for a caller whose number is as the server knows it
    /// (E.164): the number goes through this gateway's outbound rules first.
    pub fn outbound_identity(&self, caller: &CallerIdentity, host: &Host) -> OutboundIdentity {
        let mut caller = caller.clone();
        if let Some(n) = &caller.number {
            if let Some((_, out)) = self.outbound.rewrite(n, NumberRole::Calling) {
                caller.number = Some(out);
            }
        }
        outbound_identity(&self.config, &caller, host)
    }

    /// [`inbound_caller`] with the number through this gateway's inbound rules, as
    /// routing and call records want it.
    pub fn inbound_caller(&self, req: &Request) -> InboundCaller {
        let mut c = inbound_caller(req);
        if let Some(n) = &c.number {
            if let Some((_, out)) = self.inbound.rewrite(n, NumberRole::Calling) {
                c.number = Some(out);
            }
        }
        c
    }
}
