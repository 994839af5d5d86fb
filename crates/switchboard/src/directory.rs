//! The routing directory built from the store (users, their numbers and rules).

use sb_routing::{MemoryDirectory, NumberOwner, RoutingTable, RulesError, UserEntry, UserId, E164};

/// Every user in the store as routing sees them.
pub struct LoadedDirectory {
    pub dir: MemoryDirectory,
    pub warnings: Vec<String>,
}

/// A stored user as routing sees them; their rules are checked against `table`.
pub fn user_entry(table: &RoutingTable, user: &sb_store::User) -> Result<UserEntry, RulesError> {
    let mut e = base_entry(user);
    sb_routing::apply_settings(table, &mut e, &user.policies)?;
    Ok(e)
}

fn base_entry(user: &sb_store::User) -> UserEntry {
    let mut e = UserEntry::new(UserId::from_canonical(user.address.as_str()));
    e.enabled = user.enabled;
    if let Some(line) = &user.line_uri {
        match &line.extension {
            None => e.number = E164::parse(line.number.as_str()),
            Some(ext) => e.extension = Some(ext.clone()),
        }
    }
    e
}

/// Every user of the store; users whose rules no longer validate are loaded without them.
pub async fn load_directory(
    store: &dyn sb_store::Store,
    table: &RoutingTable,
) -> anyhow::Result<LoadedDirectory> {
    let mut dir = MemoryDirectory::default();
    let mut warnings = Vec::new();
    let mut page = sb_store::Page::first(1000);
    loop {
        let users = store.list_users(&page).await?;
        if users.is_empty() {
            break;
        }
        for u in &users {
            let entry = match user_entry(table, u) {
                Ok(e) => e,
                Err(err) => {
                    warnings.push(format!("{}: {err}", u.address));
                    base_entry(u)
                }
            };
            let main = u
                .line_uri
                .as_ref()
                .filter(|l| l.extension.is_some())
                .and_then(|l| E164::parse(l.number.as_str()));
            let id = entry.id.clone();
            dir.add_user(entry, main.as_ref());
            let _ = NumberOwner::User(id);
        }
        page = page.next(&users);
    }
    Ok(LoadedDirectory { dir, warnings })
}
