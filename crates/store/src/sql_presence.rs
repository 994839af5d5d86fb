//! The presence SQL both backends share (see `sql.rs` for why this is a macro). Expanded
//! by `impl_store!` beside the main store, so `apply_change` can hand the presence
//! [`Change`](crate::Change)s to [`presence_change`] inside the batch's transaction.

/// Implements [`crate::PresenceStore`] for `$store` and defines the module
/// `presence_shared` with the provisioning changes.
macro_rules! impl_presence_store {
    ($store:ident, $db:ty, $begin:literal) => {
        mod presence_shared {
            use super::$store;

            type Conn = <$db as sqlx::Database>::Connection;
            type DbRow = <$db as sqlx::Database>::Row;

            use sqlx::Row as _;
            use $crate::error::{Result, StoreError};
            use $crate::model::{Change, Outcome, SipAddress};
            use $crate::presence::{
                check_calendar, check_contact_list, AccessRule, CalendarSource, InCallFlag,
                ManualPresence, PresenceRow, Publication, Subscription, Watcher,
            };
            use $crate::rows::parse_column;

            const MANUAL_COLUMNS: &str = "address, availability, note, until_at, updated_at";
            const PUBLICATION_COLUMNS: &str = "entity, etag, expires_at, body, updated_at";
            const SUBSCRIPTION_COLUMNS: &str = "id, entity, watcher, event, dialog, expires_at";

            fn address(field: &'static str, s: &str) -> Result<SipAddress> {
                parse_column(field, s, SipAddress::parse)
            }

            fn manual_from_row(row: &DbRow) -> Result<ManualPresence> {
                Ok(ManualPresence {
                    user: address("presence_manual.address", row.try_get("address")?)?,
                    availability: row.try_get("availability")?,
                    note: row.try_get("note")?,
                    until: row.try_get("until_at")?,
                    updated_at: row.try_get("updated_at")?,
                })
            }

            fn rule_from_row(row: &DbRow) -> Result<AccessRule> {
                let kind: &str = row.try_get("watcher_kind")?;
                let watcher: &str = row.try_get("watcher")?;
                Ok(AccessRule {
                    owner: address("presence_access.owner", row.try_get("owner")?)?,
                    watcher: parse_column("presence_access.watcher", watcher, |w| {
                        Watcher::from_columns(kind, w)
                    })?,
                    level: row.try_get("level")?,
                })
            }

            fn publication_from_row(row: &DbRow) -> Result<Publication> {
                Ok(Publication {
                    entity: address("presence_publications.entity", row.try_get("entity")?)?,
                    etag: row.try_get("etag")?,
                    expires_at: row.try_get("expires_at")?,
                    body: row.try_get("body")?,
                    updated_at: row.try_get("updated_at")?,
                })
            }

            fn subscription_from_row(row: &DbRow) -> Result<Subscription> {
                Ok(Subscription {
                    id: row.try_get("id")?,
                    entity: address("presence_subscriptions.entity", row.try_get("entity")?)?,
                    watcher: row.try_get("watcher")?,
                    event: row.try_get("event")?,
                    dialog: row.try_get("dialog")?,
                    expires_at: row.try_get("expires_at")?,
                })
            }

            fn in_call_from_row(row: &DbRow) -> Result<InCallFlag> {
                Ok(InCallFlag {
                    address: address("presence_in_call.address", row.try_get("address")?)?,
                    in_call: row.try_get("in_call")?,
                    updated_at: row.try_get("updated_at")?,
                })
            }

            async fn require_user(conn: &mut Conn, user: &SipAddress) -> Result<()> {
                let found: Option<String> =
                    sqlx::query_scalar("SELECT address FROM users WHERE address = $1")
                        .bind(user.as_str())
                        .fetch_optional(&mut *conn)
                        .await?;
                match found {
                    Some(_) => Ok(()),
                    None => Err(StoreError::NotFound {
                        entity: "user",
                        key: user.to_string(),
                    }),
                }
            }

            async fn access_rules(conn: &mut Conn, owner: &SipAddress) -> Result<Vec<AccessRule>> {
                sqlx::query(
                    "SELECT owner, watcher_kind, watcher, level FROM presence_access \
                     WHERE owner = $1 ORDER BY watcher_kind, watcher",
                )
                .bind(owner.as_str())
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(rule_from_row)
                .collect()
            }

            async fn contact_list(conn: &mut Conn, owner: &SipAddress) -> Result<Vec<SipAddress>> {
                let members: Vec<String> = sqlx::query_scalar(
                    "SELECT member FROM contact_lists WHERE owner = $1 ORDER BY position",
                )
                .bind(owner.as_str())
                .fetch_all(&mut *conn)
                .await?;
                members
                    .iter()
                    .map(|m| address("contact_lists.member", m))
                    .collect()
            }

            async fn upsert_rule(conn: &mut Conn, rule: &AccessRule) -> Result<()> {
                sqlx::query(
                    "INSERT INTO presence_access (owner, watcher_kind, watcher, level) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (owner, watcher_kind, watcher) \
                     DO UPDATE SET level = excluded.level",
                )
                .bind(rule.owner.as_str())
                .bind(rule.watcher.kind())
                .bind(rule.watcher.value())
                .bind(&rule.level)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            fn changed(existed: bool) -> Outcome {
                if existed {
                    Outcome::Changed
                } else {
                    Outcome::Added
                }
            }

            /// Applies one presence provisioning change inside the caller's transaction.
            pub(super) async fn presence_change(
                conn: &mut Conn,
                change: &Change,
            ) -> Result<Outcome> {
                match change {
                    Change::SetManualPresence(m) => {
                        m.validate()?;
                        require_user(conn, &m.user).await?;
                        let sql = format!(
                            "SELECT {MANUAL_COLUMNS} FROM presence_manual WHERE address = $1"
                        );
                        let old = sqlx::query(&sql)
                            .bind(m.user.as_str())
                            .fetch_optional(&mut *conn)
                            .await?
                            .as_ref()
                            .map(manual_from_row)
                            .transpose()?;
                        let same = old.as_ref().is_some_and(|o| {
                            (&o.availability, &o.note, o.until)
                                == (&m.availability, &m.note, m.until)
                        });
                        if same {
                            return Ok(Outcome::Unchanged);
                        }
                        sqlx::query(
                            "INSERT INTO presence_manual \
                             (address, availability, note, until_at, updated_at) \
                             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (address) DO UPDATE SET \
                             availability = excluded.availability, note = excluded.note, \
                             until_at = excluded.until_at, updated_at = excluded.updated_at",
                        )
                        .bind(m.user.as_str())
                        .bind(&m.availability)
                        .bind(m.note.as_deref())
                        .bind(m.until)
                        .bind(m.updated_at)
                        .execute(&mut *conn)
                        .await?;
                        Ok(changed(old.is_some()))
                    }
                    Change::ClearManualPresence(user) => {
                        require_user(conn, user).await?;
                        let done = sqlx::query("DELETE FROM presence_manual WHERE address = $1")
                            .bind(user.as_str())
                            .execute(&mut *conn)
                            .await?;
                        Ok(if done.rows_affected() > 0 {
                            Outcome::Removed
                        } else {
                            Outcome::Unchanged
                        })
                    }
                    Change::SetAccessRule(rule) => {
                        rule.validate()?;
                        require_user(conn, &rule.owner).await?;
                        let old = access_rules(conn, &rule.owner)
                            .await?
                            .into_iter()
                            .find(|r| r.watcher == rule.watcher);
                        if old.as_ref() == Some(rule) {
                            return Ok(Outcome::Unchanged);
                        }
                        upsert_rule(conn, rule).await?;
                        Ok(changed(old.is_some()))
                    }
                    Change::RemoveAccessRule(owner, watcher) => {
                        require_user(conn, owner).await?;
                        let done = sqlx::query(
                            "DELETE FROM presence_access \
                             WHERE owner = $1 AND watcher_kind = $2 AND watcher = $3",
                        )
                        .bind(owner.as_str())
                        .bind(watcher.kind())
                        .bind(watcher.value())
                        .execute(&mut *conn)
                        .await?;
                        if done.rows_affected() == 0 {
                            return Err(StoreError::NotFound {
                                entity: "access rule for",
                                key: watcher.to_string(),
                            });
                        }
                        Ok(Outcome::Removed)
                    }
                    Change::ReplaceAccessRules(owner, rules) => {
                        for r in rules {
                            r.validate()?;
                            if &r.owner != owner {
                                return Err(StoreError::invalid(
                                    "access",
                                    format!("a rule of {} given for {owner}", r.owner),
                                ));
                            }
                        }
                        require_user(conn, owner).await?;
                        let mut wanted = rules.clone();
                        wanted.sort_by(|a, b| a.watcher.cmp(&b.watcher));
                        wanted.dedup_by(|a, b| a.watcher == b.watcher);
                        if wanted.len() != rules.len() {
                            return Err(StoreError::invalid("access", "a watcher is listed twice"));
                        }
                        let mut old = access_rules(conn, owner).await?;
                        old.sort_by(|a, b| a.watcher.cmp(&b.watcher));
                        if old == wanted {
                            return Ok(Outcome::Unchanged);
                        }
                        sqlx::query("DELETE FROM presence_access WHERE owner = $1")
                            .bind(owner.as_str())
                            .execute(&mut *conn)
                            .await?;
                        for r in &wanted {
                            upsert_rule(conn, r).await?;
                        }
                        Ok(changed(!old.is_empty()))
                    }
                    Change::SetContactList(owner, members) => {
                        check_contact_list(owner, members)?;
                        require_user(conn, owner).await?;
                        let old = contact_list(conn, owner).await?;
                        if &old == members {
                            return Ok(Outcome::Unchanged);
                        }
                        sqlx::query("DELETE FROM contact_lists WHERE owner = $1")
                            .bind(owner.as_str())
                            .execute(&mut *conn)
                            .await?;
                        for (position, m) in members.iter().enumerate() {
                            sqlx::query(
                                "INSERT INTO contact_lists (owner, member, position) \
                                 VALUES ($1, $2, $3)",
                            )
                            .bind(owner.as_str())
                            .bind(m.as_str())
                            .bind(i64::try_from(position).unwrap_or(i64::MAX))
                            .execute(&mut *conn)
                            .await?;
                        }
                        Ok(changed(!old.is_empty()))
                    }
                    Change::SetCalendar(owner, source) => {
                        if let Some(s) = source {
                            check_calendar(s)?;
                        }
                        require_user(conn, owner).await?;
                        let old: Option<String> = sqlx::query_scalar(
                            "SELECT source FROM presence_calendars WHERE owner = $1",
                        )
                        .bind(owner.as_str())
                        .fetch_optional(&mut *conn)
                        .await?;
                        if &old == source {
                            return Ok(Outcome::Unchanged);
                        }
                        match source {
                            Some(s) => {
                                sqlx::query(
                                    "INSERT INTO presence_calendars (owner, source) \
                                     VALUES ($1, $2) ON CONFLICT (owner) \
                                     DO UPDATE SET source = excluded.source",
                                )
                                .bind(owner.as_str())
                                .bind(s)
                                .execute(&mut *conn)
                                .await?;
                                Ok(changed(old.is_some()))
                            }
                            None => {
                                sqlx::query("DELETE FROM presence_calendars WHERE owner = $1")
                                    .bind(owner.as_str())
                                    .execute(&mut *conn)
                                    .await?;
                                Ok(Outcome::Removed)
                            }
                        }
                    }
                    other => Err(StoreError::invalid(
                        "change",
                        format!("{other:?} is not a presence change"),
                    )),
                }
            }

            /// Live rows of a user that go with them (no foreign key; see the migration).
            pub(super) async fn forget_user(conn: &mut Conn, user: &SipAddress) -> Result<()> {
                for sql in [
                    "DELETE FROM presence_publications WHERE entity = $1",
                    "DELETE FROM presence_in_call WHERE address = $1",
                ] {
                    sqlx::query(sql).bind(user.as_str()).execute(&mut *conn).await?;
                }
                Ok(())
            }

            #[async_trait::async_trait]
            impl $crate::PresenceStore for $store {
                async fn apply_presence(&self, change: Change) -> Result<Outcome> {
                    $crate::Store::apply(self, change).await
                }

                async fn get_presence_row(&self, user: &SipAddress) -> Result<PresenceRow> {
                    let mut conn = self.pool.acquire().await?;
                    let sql =
                        format!("SELECT {MANUAL_COLUMNS} FROM presence_manual WHERE address = $1");
                    let manual = sqlx::query(&sql)
                        .bind(user.as_str())
                        .fetch_optional(&mut *conn)
                        .await?
                        .as_ref()
                        .map(manual_from_row)
                        .transpose()?;
                    let access = access_rules(&mut conn, user).await?;
                    let calendar: Option<String> =
                        sqlx::query_scalar("SELECT source FROM presence_calendars WHERE owner = $1")
                            .bind(user.as_str())
                            .fetch_optional(&mut *conn)
                            .await?;
                    let in_call = sqlx::query(
                        "SELECT address, in_call, updated_at FROM presence_in_call \
                         WHERE address = $1",
                    )
                    .bind(user.as_str())
                    .fetch_optional(&mut *conn)
                    .await?
                    .as_ref()
                    .map(in_call_from_row)
                    .transpose()?;
                    drop(conn);
                    let publications = self.list_publications(Some(user)).await?;
                    Ok(PresenceRow {
                        manual,
                        access,
                        calendar,
                        in_call,
                        publications,
                    })
                }

                async fn list_manual_presence(&self) -> Result<Vec<ManualPresence>> {
                    let sql =
                        format!("SELECT {MANUAL_COLUMNS} FROM presence_manual ORDER BY address");
                    sqlx::query(&sql)
                        .fetch_all(&self.pool)
                        .await?
                        .iter()
                        .map(manual_from_row)
                        .collect()
                }

                async fn list_access_rules(&self, owner: &SipAddress) -> Result<Vec<AccessRule>> {
                    let mut conn = self.pool.acquire().await?;
                    access_rules(&mut conn, owner).await
                }

                async fn list_all_access_rules(&self) -> Result<Vec<AccessRule>> {
                    sqlx::query(
                        "SELECT owner, watcher_kind, watcher, level FROM presence_access \
                         ORDER BY owner, watcher_kind, watcher",
                    )
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(rule_from_row)
                    .collect()
                }

                async fn list_contact_list(&self, owner: &SipAddress) -> Result<Vec<SipAddress>> {
                    let mut conn = self.pool.acquire().await?;
                    contact_list(&mut conn, owner).await
                }

                async fn list_calendars(&self) -> Result<Vec<CalendarSource>> {
                    let rows: Vec<(String, String)> = sqlx::query_as(
                        "SELECT owner, source FROM presence_calendars ORDER BY owner",
                    )
                    .fetch_all(&self.pool)
                    .await?;
                    rows.into_iter()
                        .map(|(owner, source)| {
                            Ok(CalendarSource {
                                owner: address("presence_calendars.owner", &owner)?,
                                source,
                            })
                        })
                        .collect()
                }

                async fn put_publication(
                    &self,
                    p: &Publication,
                    replacing: Option<&str>,
                ) -> Result<()> {
                    p.validate()?;
                    let mut tx = self.pool.begin_with($begin).await?;
                    if let Some(old) = replacing.filter(|old| *old != p.etag) {
                        sqlx::query(
                            "DELETE FROM presence_publications WHERE entity = $1 AND etag = $2",
                        )
                        .bind(p.entity.as_str())
                        .bind(old)
                        .execute(&mut *tx)
                        .await?;
                    }
                    sqlx::query(
                        "INSERT INTO presence_publications \
                         (entity, etag, expires_at, body, updated_at) VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (entity, etag) DO UPDATE SET \
                         expires_at = excluded.expires_at, body = excluded.body, \
                         updated_at = excluded.updated_at",
                    )
                    .bind(p.entity.as_str())
                    .bind(&p.etag)
                    .bind(p.expires_at)
                    .bind(&p.body)
                    .bind(p.updated_at)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn remove_publication(
                    &self,
                    entity: &SipAddress,
                    etag: &str,
                ) -> Result<bool> {
                    let done = sqlx::query(
                        "DELETE FROM presence_publications WHERE entity = $1 AND etag = $2",
                    )
                    .bind(entity.as_str())
                    .bind(etag)
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected() > 0)
                }

                async fn list_publications(
                    &self,
                    entity: Option<&SipAddress>,
                ) -> Result<Vec<Publication>> {
                    let sql = format!(
                        "SELECT {PUBLICATION_COLUMNS} FROM presence_publications \
                         WHERE ($1 IS NULL OR entity = $1) ORDER BY entity, updated_at, etag"
                    );
                    sqlx::query(&sql)
                        .bind(entity.map(|e| e.as_str()))
                        .fetch_all(&self.pool)
                        .await?
                        .iter()
                        .map(publication_from_row)
                        .collect()
                }

                async fn remove_publications_expired_before(&self, t: i64) -> Result<u64> {
                    Ok(
                        sqlx::query("DELETE FROM presence_publications WHERE expires_at < $1")
                            .bind(t)
                            .execute(&self.pool)
                            .await?
                            .rows_affected(),
                    )
                }

                async fn put_subscription(&self, s: &Subscription) -> Result<()> {
                    s.validate()?;
                    sqlx::query(
                        "INSERT INTO presence_subscriptions \
                         (id, entity, watcher, event, dialog, expires_at) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET \
                         entity = excluded.entity, watcher = excluded.watcher, \
                         event = excluded.event, dialog = excluded.dialog, \
                         expires_at = excluded.expires_at",
                    )
                    .bind(&s.id)
                    .bind(s.entity.as_str())
                    .bind(&s.watcher)
                    .bind(&s.event)
                    .bind(&s.dialog)
                    .bind(s.expires_at)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }

                async fn remove_subscription(&self, id: &str) -> Result<bool> {
                    let done = sqlx::query("DELETE FROM presence_subscriptions WHERE id = $1")
                        .bind(id)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() > 0)
                }

                async fn list_subscriptions(
                    &self,
                    entity: Option<&SipAddress>,
                ) -> Result<Vec<Subscription>> {
                    let sql = format!(
                        "SELECT {SUBSCRIPTION_COLUMNS} FROM presence_subscriptions \
                         WHERE ($1 IS NULL OR entity = $1) ORDER BY entity, id"
                    );
                    sqlx::query(&sql)
                        .bind(entity.map(|e| e.as_str()))
                        .fetch_all(&self.pool)
                        .await?
                        .iter()
                        .map(subscription_from_row)
                        .collect()
                }

                async fn remove_subscriptions_expired_before(&self, t: i64) -> Result<u64> {
                    Ok(
                        sqlx::query("DELETE FROM presence_subscriptions WHERE expires_at < $1")
                            .bind(t)
                            .execute(&self.pool)
                            .await?
                            .rows_affected(),
                    )
                }

                async fn set_in_call(&self, flag: &InCallFlag) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO presence_in_call (address, in_call, updated_at) \
                         VALUES ($1, $2, $3) ON CONFLICT (address) DO UPDATE SET \
                         in_call = excluded.in_call, updated_at = excluded.updated_at",
                    )
                    .bind(flag.address.as_str())
                    .bind(flag.in_call)
                    .bind(flag.updated_at)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }

                async fn list_in_call(&self) -> Result<Vec<InCallFlag>> {
                    sqlx::query(
                        "SELECT address, in_call, updated_at FROM presence_in_call \
                         WHERE in_call ORDER BY address",
                    )
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(in_call_from_row)
                    .collect()
                }
            }
        }
    };
}

pub(crate) use impl_presence_store;
