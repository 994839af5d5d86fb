//! The SQL both backends share. SQLite and PostgreSQL accept the same statements here
//! (`$n` parameters, `ON CONFLICT ... DO UPDATE`, `excluded`), so one body serves both;
//! it is a macro because sqlx's drivers are distinct types and a generic body would need
//! a bound per column type. Backend-specific work (connecting, pragmas, migrations) lives
//! in `sqlite.rs` and `postgres.rs`.

pub(crate) const USER_COLUMNS: &str = "address, display_name, line_uri, enabled, policies";
pub(crate) const BINDING_COLUMNS: &str =
    "aor, binding_key, contact, q, expires_at, call_id, cseq, \
     instance_id, reg_id, transport, source, received, path, updated_at";

pub(crate) const UPSERT_USER: &str = "INSERT INTO users \
     (address, domain, display_name, line_uri, enabled, policies) \
     VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (address) DO UPDATE SET display_name = excluded.display_name, \
     line_uri = excluded.line_uri, enabled = excluded.enabled, policies = excluded.policies";

pub(crate) const SELECT_HA1: &str =
    "SELECT ha1 FROM credentials WHERE address = $1 AND realm = $2 AND algorithm = $3";

pub(crate) const SELECT_CREDENTIAL: &str = "SELECT algorithm, ha1 FROM credentials \
     WHERE address = $1 AND realm = $2 AND algorithm = $3";

pub(crate) const LIST_CREDENTIALS: &str = "SELECT realm, algorithm, ha1 FROM credentials \
     WHERE address = $1 ORDER BY realm, algorithm";

pub(crate) const UPSERT_CREDENTIAL: &str = "INSERT INTO credentials \
     (address, realm, algorithm, ha1) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (address, realm, algorithm) DO UPDATE SET ha1 = excluded.ha1";

/// One page of users; `$1` domain, `$2` the address to start after (both optional).
pub(crate) const LIST_USERS: &str = "SELECT address, display_name, line_uri, enabled, policies \
     FROM users WHERE ($1 IS NULL OR domain = $1) AND ($2 IS NULL OR address > $2) \
     ORDER BY address LIMIT $3";

/// Replaces the binding with the same key (`Binding::key`) in place.
pub(crate) const UPSERT_BINDING: &str = "INSERT INTO bindings \
     (aor, binding_key, contact, q, expires_at, call_id, cseq, instance_id, reg_id, \
     transport, source, received, path, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
     ON CONFLICT (aor, binding_key) DO UPDATE SET contact = excluded.contact, \
     q = excluded.q, expires_at = excluded.expires_at, call_id = excluded.call_id, \
     cseq = excluded.cseq, instance_id = excluded.instance_id, reg_id = excluded.reg_id, \
     transport = excluded.transport, source = excluded.source, \
     received = excluded.received, path = excluded.path, updated_at = excluded.updated_at";

/// Implements [`crate::Store`] for `$store`, whose field `pool` is a `sqlx::Pool<$db>`.
/// `$begin` is the statement that opens a write transaction.
macro_rules! impl_store {
    ($store:ident, $db:ty, $begin:literal) => {
        mod shared {
            use super::$store;

            type Conn = <$db as sqlx::Database>::Connection;
            type DbRow = <$db as sqlx::Database>::Row;

            use sqlx::Row as _;
            use $crate::error::{Result, StoreError};
            use $crate::model::{
                Binding, Change, Credential, DigestAlgorithm, Domain, DomainName, LineUri, Number,
                Outcome, Page, SipAddress, User, E164,
            };
            use $crate::sql::{
                BINDING_COLUMNS, LIST_CREDENTIALS, LIST_USERS, SELECT_CREDENTIAL, SELECT_HA1,
                UPSERT_BINDING, UPSERT_CREDENTIAL, UPSERT_USER, USER_COLUMNS,
            };

            fn user_from_row(row: &DbRow) -> Result<User> {
                $crate::rows::user_from_columns(
                    row.try_get::<&str, _>("address")?,
                    row.try_get("display_name")?,
                    row.try_get("line_uri")?,
                    row.try_get("enabled")?,
                    row.try_get::<&str, _>("policies")?,
                )
            }

            fn binding_from_row(row: &DbRow) -> Result<Binding> {
                $crate::rows::binding_from_columns(
                    row.try_get::<&str, _>("aor")?,
                    row.try_get("binding_key")?,
                    row.try_get("contact")?,
                    $crate::rows::BindingInts {
                        q: row.try_get("q")?,
                        expires_at: row.try_get("expires_at")?,
                        cseq: row.try_get("cseq")?,
                        reg_id: row.try_get("reg_id")?,
                        updated_at: row.try_get("updated_at")?,
                    },
                    row.try_get("call_id")?,
                    row.try_get("instance_id")?,
                    row.try_get("transport")?,
                    row.try_get("source")?,
                    row.try_get("received")?,
                    row.try_get::<&str, _>("path")?,
                )
            }

            async fn fetch_user(conn: &mut Conn, address: &SipAddress) -> Result<Option<User>> {
                let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE address = $1");
                sqlx::query(&sql)
                    .bind(address.as_str())
                    .fetch_optional(&mut *conn)
                    .await?
                    .as_ref()
                    .map(user_from_row)
                    .transpose()
            }

            async fn number_holder(conn: &mut Conn, number: &E164) -> Result<Option<String>> {
                Ok(
                    sqlx::query_scalar("SELECT address FROM numbers WHERE number = $1")
                        .bind(number.as_str())
                        .fetch_optional(&mut *conn)
                        .await?,
                )
            }

            async fn require_user(conn: &mut Conn, address: &SipAddress) -> Result<()> {
                let found: Option<String> =
                    sqlx::query_scalar("SELECT address FROM users WHERE address = $1")
                        .bind(address.as_str())
                        .fetch_optional(&mut *conn)
                        .await?;
                match found {
                    Some(_) => Ok(()),
                    None => Err(StoreError::NotFound {
                        entity: "user",
                        key: address.to_string(),
                    }),
                }
            }

            /// Assigns `number` to `address` unless another user holds it.
            async fn claim_number(
                conn: &mut Conn,
                number: &E164,
                address: &SipAddress,
            ) -> Result<Outcome> {
                match number_holder(conn, number).await? {
                    Some(holder) if holder == address.as_str() => Ok(Outcome::Unchanged),
                    Some(_) => Err(StoreError::Conflict {
                        field: "number",
                        value: number.to_string(),
                    }),
                    None => {
                        sqlx::query("INSERT INTO numbers (number, address) VALUES ($1, $2)")
                            .bind(number.as_str())
                            .bind(address.as_str())
                            .execute(&mut *conn)
                            .await?;
                        Ok(Outcome::Added)
                    }
                }
            }

            #[derive(Clone, Copy, PartialEq)]
            enum PutMode {
                Add,
                Update,
                Either,
            }

            async fn put_user(conn: &mut Conn, user: &User, mode: PutMode) -> Result<Outcome> {
                user.validate()?;
                let domain: Option<String> =
                    sqlx::query_scalar("SELECT name FROM domains WHERE name = $1")
                        .bind(user.address.host())
                        .fetch_optional(&mut *conn)
                        .await?;
                if domain.is_none() {
                    return Err(StoreError::NotFound {
                        entity: "domain",
                        key: user.address.host().to_owned(),
                    });
                }
                let existing = fetch_user(conn, &user.address).await?;
                match (&existing, mode) {
                    (Some(_), PutMode::Add) => {
                        return Err(StoreError::Conflict {
                            field: "sip address",
                            value: user.address.to_string(),
                        })
                    }
                    (None, PutMode::Update) => {
                        return Err(StoreError::NotFound {
                            entity: "user",
                            key: user.address.to_string(),
                        })
                    }
                    (Some(old), _) if old == user => return Ok(Outcome::Unchanged),
                    _ => {}
                }
                // A line URI without an extension is the user's own number and claims it;
                // one with an extension hangs off a shared main number, so only the whole
                // URI must be unique.
                let claimed = |u: &User| {
                    u.line_uri
                        .as_ref()
                        .filter(|l| l.extension.is_none())
                        .map(|l| l.number.clone())
                };
                let old_number = existing.as_ref().and_then(claimed);
                let new_number = claimed(user);
                if let Some(number) = &new_number {
                    // Checked before the row is written, whose unique line URI would
                    // otherwise clash first with a less helpful error.
                    if number_holder(conn, number)
                        .await?
                        .is_some_and(|holder| holder != user.address.as_str())
                    {
                        return Err(StoreError::Conflict {
                            field: "number",
                            value: number.to_string(),
                        });
                    }
                }
                if let Some(line) = user.line_uri.as_ref().filter(|l| l.extension.is_some()) {
                    let holder: Option<String> = sqlx::query_scalar(
                        "SELECT address FROM users WHERE line_uri = $1 AND address <> $2",
                    )
                    .bind(line.to_string())
                    .bind(user.address.as_str())
                    .fetch_optional(&mut *conn)
                    .await?;
                    if holder.is_some() {
                        return Err(StoreError::Conflict {
                            field: "line uri",
                            value: line.to_string(),
                        });
                    }
                }
                if let Some(old) = old_number.filter(|old| Some(old) != new_number.as_ref()) {
                    // The line number moves with the line URI; numbers given separately stay.
                    sqlx::query("DELETE FROM numbers WHERE number = $1 AND address = $2")
                        .bind(old.as_str())
                        .bind(user.address.as_str())
                        .execute(&mut *conn)
                        .await?;
                }
                // The row is written before the number is claimed: the number refers to it.
                let policies =
                    serde_json::to_string(&user.policies).expect("a string map serializes");
                sqlx::query(UPSERT_USER)
                    .bind(user.address.as_str())
                    .bind(user.address.host())
                    .bind(&user.display_name)
                    .bind(user.line_uri.as_ref().map(|l| l.to_string()))
                    .bind(user.enabled)
                    .bind(policies)
                    .execute(&mut *conn)
                    .await?;
                if let Some(number) = &new_number {
                    claim_number(conn, number, &user.address).await?;
                }
                Ok(if existing.is_some() {
                    Outcome::Changed
                } else {
                    Outcome::Added
                })
            }

            async fn apply_change(conn: &mut Conn, change: &Change) -> Result<Outcome> {
                match change {
                    Change::AddDomain(Domain { name }) => {
                        let done = sqlx::query(
                            "INSERT INTO domains (name) VALUES ($1) ON CONFLICT DO NOTHING",
                        )
                        .bind(name.as_str())
                        .execute(&mut *conn)
                        .await?;
                        if done.rows_affected() == 0 {
                            return Err(StoreError::Conflict {
                                field: "domain",
                                value: name.to_string(),
                            });
                        }
                        Ok(Outcome::Added)
                    }
                    Change::RemoveDomain(name) => {
                        let users: i64 =
                            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE domain = $1")
                                .bind(name.as_str())
                                .fetch_one(&mut *conn)
                                .await?;
                        if users > 0 {
                            return Err(StoreError::InUse {
                                entity: "domain",
                                key: name.to_string(),
                                reason: format!("{users} users belong to it"),
                            });
                        }
                        let done = sqlx::query("DELETE FROM domains WHERE name = $1")
                            .bind(name.as_str())
                            .execute(&mut *conn)
                            .await?;
                        if done.rows_affected() == 0 {
                            return Err(StoreError::NotFound {
                                entity: "domain",
                                key: name.to_string(),
                            });
                        }
                        Ok(Outcome::Removed)
                    }
                    Change::AddUser(u) => put_user(conn, u, PutMode::Add).await,
                    Change::UpdateUser(u) => put_user(conn, u, PutMode::Update).await,
                    Change::PutUser(u) => put_user(conn, u, PutMode::Either).await,
                    Change::RemoveUser(address) => {
                        // Credentials and numbers go by ON DELETE CASCADE; bindings are keyed by
                        // AOR without a foreign key, so they go here.
                        sqlx::query("DELETE FROM bindings WHERE aor = $1")
                            .bind(address.as_str())
                            .execute(&mut *conn)
                            .await?;
                        super::presence_shared::forget_user(conn, address).await?;
                        let done = sqlx::query("DELETE FROM users WHERE address = $1")
                            .bind(address.as_str())
                            .execute(&mut *conn)
                            .await?;
                        if done.rows_affected() == 0 {
                            return Err(StoreError::NotFound {
                                entity: "user",
                                key: address.to_string(),
                            });
                        }
                        Ok(Outcome::Removed)
                    }
                    Change::SetCredential(c) => {
                        let c = c.clone().normalized()?;
                        require_user(conn, &c.user).await?;
                        let old: Option<String> = sqlx::query_scalar(SELECT_HA1)
                            .bind(c.user.as_str())
                            .bind(&c.realm)
                            .bind(c.algorithm.as_str())
                            .fetch_optional(&mut *conn)
                            .await?;
                        if old.as_deref() == Some(c.ha1.as_str()) {
                            return Ok(Outcome::Unchanged);
                        }
                        sqlx::query(UPSERT_CREDENTIAL)
                            .bind(c.user.as_str())
                            .bind(&c.realm)
                            .bind(c.algorithm.as_str())
                            .bind(&c.ha1)
                            .execute(&mut *conn)
                            .await?;
                        Ok(if old.is_some() {
                            Outcome::Changed
                        } else {
                            Outcome::Added
                        })
                    }
                    Change::AssignNumber(n) => {
                        require_user(conn, &n.user).await?;
                        claim_number(conn, &n.number, &n.user).await
                    }
                    Change::UnassignNumber(number) => {
                        // Only a line URI without an extension claims its number.
                        let line_of: Option<String> =
                            sqlx::query_scalar("SELECT address FROM users WHERE line_uri = $1")
                                .bind(format!("tel:{number}"))
                                .fetch_optional(&mut *conn)
                                .await?;
                        if let Some(user) = line_of {
                            return Err(StoreError::InUse {
                                entity: "number",
                                key: number.to_string(),
                                reason: format!("it is the line uri of {user}; change that first"),
                            });
                        }
                        let done = sqlx::query("DELETE FROM numbers WHERE number = $1")
                            .bind(number.as_str())
                            .execute(&mut *conn)
                            .await?;
                        if done.rows_affected() == 0 {
                            return Err(StoreError::NotFound {
                                entity: "number",
                                key: number.to_string(),
                            });
                        }
                        Ok(Outcome::Removed)
                    }
                    presence => super::presence_shared::presence_change(conn, presence).await,
                }
            }

            async fn upsert_binding_row(conn: &mut Conn, b: &Binding) -> Result<()> {
                b.validate()?;
                let path = serde_json::to_string(&b.path).expect("a string list serializes");
                sqlx::query(UPSERT_BINDING)
                    .bind(b.aor.as_str())
                    .bind(&b.key)
                    .bind(&b.contact)
                    .bind(b.q.map(i64::from))
                    .bind(b.expires_at)
                    .bind(&b.call_id)
                    .bind(i64::from(b.cseq))
                    .bind(b.instance_id.as_deref())
                    .bind(b.reg_id.map(i64::from))
                    .bind(&b.transport)
                    .bind(&b.source)
                    .bind(b.received.as_deref())
                    .bind(path)
                    .bind(b.updated_at)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            async fn fetch_bindings(
                pool: &sqlx::Pool<$db>,
                filter: &str,
                order: &str,
                arg: Option<&str>,
                t: Option<i64>,
            ) -> Result<Vec<Binding>> {
                let sql =
                    format!("SELECT {BINDING_COLUMNS} FROM bindings {filter} ORDER BY {order}");
                let mut q = sqlx::query(&sql);
                if let Some(a) = arg {
                    q = q.bind(a);
                }
                if let Some(t) = t {
                    q = q.bind(t);
                }
                q.fetch_all(pool)
                    .await?
                    .iter()
                    .map(binding_from_row)
                    .collect()
            }

            #[async_trait::async_trait]
            impl $crate::Store for $store {
                fn backend(&self) -> $crate::BackendKind {
                    Self::KIND
                }

                async fn close(&self) {
                    self.pool.close().await;
                }

                async fn generation(&self) -> Result<i64> {
                    Ok(
                        sqlx::query_scalar("SELECT value FROM store_generation WHERE id = 1")
                            .fetch_one(&self.pool)
                            .await?,
                    )
                }

                async fn apply_batch(&self, changes: Vec<Change>) -> Result<Vec<Outcome>> {
                    if changes.is_empty() {
                        return Ok(vec![]);
                    }
                    let mut tx = self.pool.begin_with($begin).await?;
                    // The first statement writes, so concurrent writers queue on the lock
                    // here instead of failing later when a read would upgrade to a write.
                    sqlx::query("UPDATE store_generation SET value = value + 1 WHERE id = 1")
                        .execute(&mut *tx)
                        .await?;
                    let mut outcomes = Vec::with_capacity(changes.len());
                    for (index, change) in changes.iter().enumerate() {
                        match apply_change(&mut tx, change).await {
                            Ok(o) => outcomes.push(o),
                            Err(e) => {
                                tx.rollback().await?;
                                return Err(StoreError::Batch {
                                    index,
                                    source: Box::new(e),
                                });
                            }
                        }
                    }
                    tx.commit().await?;
                    Ok(outcomes)
                }

                async fn list_domains(&self) -> Result<Vec<Domain>> {
                    let names: Vec<String> =
                        sqlx::query_scalar("SELECT name FROM domains ORDER BY name")
                            .fetch_all(&self.pool)
                            .await?;
                    names
                        .iter()
                        .map(|n| {
                            Ok(Domain {
                                name: $crate::rows::parse_column(
                                    "domains.name",
                                    n,
                                    DomainName::parse,
                                )?,
                            })
                        })
                        .collect()
                }

                async fn get_user(&self, address: &SipAddress) -> Result<Option<User>> {
                    let mut conn = self.pool.acquire().await?;
                    fetch_user(&mut conn, address).await
                }

                async fn get_user_by_number(&self, number: &E164) -> Result<Option<User>> {
                    let mut conn = self.pool.acquire().await?;
                    match number_holder(&mut conn, number).await? {
                        Some(holder) => {
                            let address = $crate::rows::parse_column(
                                "numbers.address",
                                &holder,
                                SipAddress::parse,
                            )?;
                            fetch_user(&mut conn, &address).await
                        }
                        None => Ok(None),
                    }
                }

                async fn get_user_by_line_uri(&self, line_uri: &LineUri) -> Result<Option<User>> {
                    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE line_uri = $1");
                    sqlx::query(&sql)
                        .bind(line_uri.to_string())
                        .fetch_optional(&self.pool)
                        .await?
                        .as_ref()
                        .map(user_from_row)
                        .transpose()
                }

                async fn list_users(&self, page: &Page) -> Result<Vec<User>> {
                    sqlx::query(LIST_USERS)
                        .bind(page.domain.as_ref().map(|d| d.as_str()))
                        .bind(page.after.as_ref().map(|a| a.as_str()))
                        .bind(i64::from(page.limit))
                        .fetch_all(&self.pool)
                        .await?
                        .iter()
                        .map(user_from_row)
                        .collect()
                }

                async fn count_users(&self, domain: Option<&DomainName>) -> Result<u64> {
                    let n: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM users WHERE ($1 IS NULL OR domain = $1)",
                    )
                    .bind(domain.map(|d| d.as_str()))
                    .fetch_one(&self.pool)
                    .await?;
                    Ok(u64::try_from(n).unwrap_or(0))
                }

                async fn get_credential(
                    &self,
                    user: &SipAddress,
                    realm: &str,
                    algorithm: DigestAlgorithm,
                ) -> Result<Option<Credential>> {
                    let row = sqlx::query(SELECT_CREDENTIAL)
                        .bind(user.as_str())
                        .bind(realm)
                        .bind(algorithm.as_str())
                        .fetch_optional(&self.pool)
                        .await?;
                    row.map(|row| {
                        Ok(Credential {
                            user: user.clone(),
                            realm: realm.to_owned(),
                            algorithm: $crate::rows::algorithm_from_column(
                                row.try_get::<&str, _>("algorithm")?,
                            )?,
                            ha1: row.try_get("ha1")?,
                        })
                    })
                    .transpose()
                }

                async fn list_credentials(&self, user: &SipAddress) -> Result<Vec<Credential>> {
                    sqlx::query(LIST_CREDENTIALS)
                        .bind(user.as_str())
                        .fetch_all(&self.pool)
                        .await?
                        .iter()
                        .map(|row| {
                            Ok(Credential {
                                user: user.clone(),
                                realm: row.try_get("realm")?,
                                algorithm: $crate::rows::algorithm_from_column(
                                    row.try_get::<&str, _>("algorithm")?,
                                )?,
                                ha1: row.try_get("ha1")?,
                            })
                        })
                        .collect()
                }

                async fn lookup_number(&self, number: &E164) -> Result<Option<Number>> {
                    let mut conn = self.pool.acquire().await?;
                    number_holder(&mut conn, number)
                        .await?
                        .map(|holder| {
                            Ok(Number {
                                number: number.clone(),
                                user: $crate::rows::parse_column(
                                    "numbers.address",
                                    &holder,
                                    SipAddress::parse,
                                )?,
                            })
                        })
                        .transpose()
                }

                async fn list_numbers(&self, user: &SipAddress) -> Result<Vec<Number>> {
                    let numbers: Vec<String> = sqlx::query_scalar(
                        "SELECT number FROM numbers WHERE address = $1 ORDER BY number",
                    )
                    .bind(user.as_str())
                    .fetch_all(&self.pool)
                    .await?;
                    numbers
                        .iter()
                        .map(|n| {
                            Ok(Number {
                                number: $crate::rows::parse_column(
                                    "numbers.number",
                                    n,
                                    E164::parse,
                                )?,
                                user: user.clone(),
                            })
                        })
                        .collect()
                }

                async fn list_all_numbers(&self) -> Result<Vec<Number>> {
                    let rows: Vec<(String, String)> =
                        sqlx::query_as("SELECT number, address FROM numbers ORDER BY number")
                            .fetch_all(&self.pool)
                            .await?;
                    rows.iter()
                        .map(|(n, a)| {
                            Ok(Number {
                                number: $crate::rows::parse_column(
                                    "numbers.number",
                                    n,
                                    E164::parse,
                                )?,
                                user: $crate::rows::parse_column(
                                    "numbers.address",
                                    a,
                                    SipAddress::parse,
                                )?,
                            })
                        })
                        .collect()
                }

                async fn write_bindings(
                    &self,
                    aor: &SipAddress,
                    remove: &[String],
                    upsert: &[Binding],
                ) -> Result<u64> {
                    if let Some(b) = upsert.iter().find(|b| &b.aor != aor) {
                        return Err(StoreError::invalid(
                            "aor",
                            format!("binding for {} written under {aor}", b.aor),
                        ));
                    }
                    let mut tx = self.pool.begin_with($begin).await?;
                    let mut removed = 0;
                    for key in remove {
                        removed +=
                            sqlx::query("DELETE FROM bindings WHERE aor = $1 AND binding_key = $2")
                                .bind(aor.as_str())
                                .bind(key)
                                .execute(&mut *tx)
                                .await?
                                .rows_affected();
                    }
                    for b in upsert {
                        upsert_binding_row(&mut tx, b).await?;
                    }
                    tx.commit().await?;
                    Ok(removed)
                }

                async fn remove_bindings(&self, aor: &SipAddress) -> Result<u64> {
                    Ok(sqlx::query("DELETE FROM bindings WHERE aor = $1")
                        .bind(aor.as_str())
                        .execute(&self.pool)
                        .await?
                        .rows_affected())
                }

                async fn list_bindings(&self, aor: &SipAddress) -> Result<Vec<Binding>> {
                    // An absent q ranks as 1.0, the highest preference.
                    fetch_bindings(
                        &self.pool,
                        "WHERE aor = $1",
                        "COALESCE(q, 1000) DESC, contact",
                        Some(aor.as_str()),
                        None,
                    )
                    .await
                }

                async fn count_bindings(&self) -> Result<u64> {
                    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bindings")
                        .fetch_one(&self.pool)
                        .await?;
                    Ok(u64::try_from(n).unwrap_or(0))
                }

                async fn list_all_bindings(&self) -> Result<Vec<Binding>> {
                    fetch_bindings(&self.pool, "", "aor, contact", None, None).await
                }

                async fn bindings_expired_before(&self, t: i64) -> Result<Vec<Binding>> {
                    fetch_bindings(
                        &self.pool,
                        "WHERE expires_at < $1",
                        "expires_at, aor, contact",
                        None,
                        Some(t),
                    )
                    .await
                }

                async fn remove_expired_before(&self, t: i64) -> Result<u64> {
                    Ok(sqlx::query("DELETE FROM bindings WHERE expires_at < $1")
                        .bind(t)
                        .execute(&self.pool)
                        .await?
                        .rows_affected())
                }
            }
        }

        $crate::sql_presence::impl_presence_store!($store, $db, $begin);
    };
}

pub(crate) use impl_store;
