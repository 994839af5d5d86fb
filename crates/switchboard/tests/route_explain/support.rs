//! The site both `route_explain.rs` and `rules.rs` work on, and signing a device in.

use super::provision_support::Env;
use std::path::PathBuf;

/// `site.toml` beside this file.
pub fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/route_explain/site.toml")
}

/// A fresh store provisioned from the fixture's `[site]` section, with the fixture as
/// the `--config` of every command.
pub fn site() -> Env {
    let mut env = Env::sqlite();
    env.config = Some(fixture());
    env.site_apply("").expect(0);
    env
}

/// Registers a device for `user`, as the registrar would have written it.
pub fn sign_in(env: &Env, user: &str, contact: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    rt.block_on(async {
        let store = sb_store::open_data_dir(&env.data()).await.unwrap();
        store
            .upsert_binding(&sb_store::Binding {
                aor: sb_store::SipAddress::parse(user).unwrap(),
                key: format!("contact:{contact}"),
                contact: format!("<{contact}>"),
                q: None,
                expires_at: now + 3600,
                call_id: format!("reg-{user}"),
                cseq: 1,
                instance_id: None,
                reg_id: None,
                transport: "udp".into(),
                source: "192.0.2.20:5060".into(),
                received: None,
                path: vec![],
                updated_at: now,
            })
            .await
            .unwrap();
        store.close().await;
    });
}
