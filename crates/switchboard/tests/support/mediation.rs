//! The site the mediation end-to-end tests share: numbers matching `+1` and ten digits are
//! national and go to the pool "pstn" (every caller may call them), the pool's gateways
//! speak PCMU on loopback, mediation listens on a UDP port of the test's choosing, and
//! mediation's media sits on 127.0.0.2, the phones' address.
//!
//! Media on the phones' address: baresip binds its media sockets to the wildcard address,
//! so what it sends to 127.0.0.1 leaves from 127.0.0.1, not from the 127.0.0.2 of its
//! candidates; an ICE check we sent to 127.0.0.2 would be answered from elsewhere, which
//! fails the pair (RFC 8445 §7.2.5.2.1). On a real network the addresses agree.

use super::Site;

/// One `[[gateways]]` entry of the pool, in pool order.
pub struct Gw<'a> {
    pub name: &'a str,
    pub port: u16,
    /// More lines of the entry (`options_interval_s = 5`, `rfc4733 = false`, ...).
    pub extra: &'a str,
}

/// A site with the gateways of the pool "pstn", mediation on `mediation_port`, and
/// `mediation_extra` lines in `[mediation]` (such as `offer_srtp = true`).
pub fn mediation_site(
    tag: &str,
    gateways: &[Gw<'_>],
    mediation_port: u16,
    mediation_extra: &str,
) -> Site {
    let mut text = String::from(
        r#"
[routing]
domains = ["127.0.0.1"]
default_voice_policy = "national"

[[routing.routes]]
name = "us"
pattern = '^\+1\d{10}$'
usage = "national"
trunks = ["pstn"]

[[routing.voice_policies]]
name = "national"
usages = ["national"]
"#,
    );
    for g in gateways {
        text.push_str(&format!(
            "\n[[gateways]]\nname = \"{}\"\naddress = \"127.0.0.1:{}\"\ncodecs = [\"PCMU\"]\n{}\n",
            g.name, g.port, g.extra
        ));
    }
    let names: Vec<String> = gateways.iter().map(|g| format!("\"{}\"", g.name)).collect();
    text.push_str(&format!(
        "\n[[pools]]\nname = \"pstn\"\ngateways = [{}]\n\n[mediation]\nudp = [\"127.0.0.1:{mediation_port}\"]\n{mediation_extra}\n\n[media]\naddress = \"127.0.0.2\"\n",
        names.join(", ")
    ));
    Site::new(tag, &text)
}
