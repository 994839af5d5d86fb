//! What a gateway sends never panics the identity reader or the number rewriter.

use proptest::prelude::*;
use sb_gateways::*;
use sb_sip_msg::{Header, Method, NameAddr, OtherHeader, Request, Uri};

fn other(name: &str, value: String) -> Header {
    Header::Other(OtherHeader {
        name: name.into(),
        value,
    })
}

proptest! {
    #[test]
    fn arbitrary_identity_headers_do_not_panic(
        pai in ".{0,60}",
        rpid in "[\"<>;,=a-z0-9:@+#%. ]{0,60}",
        privacy in "[a-z;, ]{0,20}",
        user in "[+0-9*#a-z%;=.()-]{1,20}",
    ) {
        let uri: Uri = format!("sip:{user}@gw.example.net")
            .parse()
            .unwrap_or_else(|_| "sip:gw.example.net".parse().unwrap());
        let mut req = Request::new(Method::Invite, uri.clone());
        req.headers.push(Header::From(NameAddr::new(uri.clone())));
        req.headers.push(Header::To(NameAddr::new(uri)));
        req.headers.push(other("P-Asserted-Identity", pai));
        req.headers.push(other("Remote-Party-ID", rpid));
        req.headers.push(other("Privacy", privacy));
        let caller = inbound_caller(&req);
        if let Some(n) = caller.number {
            prop_assert!(!n.is_empty());
        }
        let cfg = NumberRuleConfig {
            pattern: ".".into(),
            convert: Some(Conversion::E164 {
                country_code: "1".into(),
                trunk_prefix: String::new(),
                international_prefix: Some("011".into()),
            }),
            strip: 0,
            prefix: String::new(),
            scope: Scope::Both,
            description: String::new(),
        };
        let rules = NumberRules::compile(&[cfg]).unwrap();
        for r in rules.rewrite_request(&mut req) {
            prop_assert!(r.after.starts_with('+'), "{r:?}");
        }
    }
}
