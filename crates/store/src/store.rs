//! The `Store` trait: what the server, the CLI and the importer ask of the database.

use std::fmt;

use async_trait::async_trait;

use crate::error::{Result, StoreError};
use crate::model::{
    Binding, Change, Credential, DigestAlgorithm, Domain, DomainName, LineUri, Number, Outcome,
    Page, SipAddress, User, E164,
};
use crate::presence::{
    AccessRule, CalendarSource, InCallFlag, ManualPresence, PresenceRow, Publication, Subscription,
    Watcher,
};

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Provisioning data and registrar bindings, behind one interface for SQLite and
/// PostgreSQL.
///
/// Every provisioning write (domains, users, credentials, numbers) runs in one
/// transaction that also bumps [`Store::generation`], so another process that polls the
/// counter sees a change exactly when the data has changed. Binding writes do not bump
/// it: they come from the registrar of the server that polls, at registration rate.
///
/// Methods take `&self` and may be called concurrently; each implementation holds a
/// connection pool. The presence methods are on the supertrait [`PresenceStore`] (bring
/// it into scope to call them on a `dyn Store`).
#[async_trait]
pub trait Store: PresenceStore + Send + Sync + fmt::Debug {
    /// The database behind this store.
    fn backend(&self) -> BackendKind;

    /// Closes the pool, waiting for connections in use to be returned.
    async fn close(&self);

    /// A counter bumped by every committed provisioning write, from any process.
    async fn generation(&self) -> Result<i64>;

    /// Applies all changes in one transaction: all of them or, on the first failure,
    /// none (the error is [`StoreError::Batch`] with the index of the failing change).
    /// Returns what each change did, in order. An empty batch writes nothing.
    async fn apply_batch(&self, changes: Vec<Change>) -> Result<Vec<Outcome>>;

    /// All domains, by name.
    async fn list_domains(&self) -> Result<Vec<Domain>>;

    /// The user with this address.
    async fn get_user(&self, address: &SipAddress) -> Result<Option<User>>;

    /// The user a number belongs to (reverse number lookup).
    async fn get_user_by_number(&self, number: &E164) -> Result<Option<User>>;

    /// The user whose line URI is exactly this one (number and extension).
    async fn get_user_by_line_uri(&self, line_uri: &LineUri) -> Result<Option<User>>;

    /// One page of users in address order; see [`Page::next`] for the following page.
    async fn list_users(&self, page: &Page) -> Result<Vec<User>>;

    /// How many users exist, in `domain` if given.
    async fn count_users(&self, domain: Option<&DomainName>) -> Result<u64>;

    /// The credential of `user` for `realm` and `algorithm`.
    async fn get_credential(
        &self,
        user: &SipAddress,
        realm: &str,
        algorithm: DigestAlgorithm,
    ) -> Result<Option<Credential>>;

    /// Every credential of a user, by realm then algorithm.
    async fn list_credentials(&self, user: &SipAddress) -> Result<Vec<Credential>>;

    /// Who holds a number.
    async fn lookup_number(&self, number: &E164) -> Result<Option<Number>>;

    /// The numbers of a user, in order.
    async fn list_numbers(&self, user: &SipAddress) -> Result<Vec<Number>>;

    /// Every assigned number with its user, in number order (to build routing's reverse
    /// number lookup in one query rather than one per user).
    async fn list_all_numbers(&self) -> Result<Vec<Number>>;

    /// In one transaction, removes the bindings of `aor` whose [`Binding::key`] is in
    /// `remove`, then stores `upsert` (each replacing the binding with the same key). This
    /// is what one REGISTER does. Every binding in `upsert` must have `aor` as its AOR.
    /// Returns how many bindings were removed.
    async fn write_bindings(
        &self,
        aor: &SipAddress,
        remove: &[String],
        upsert: &[Binding],
    ) -> Result<u64>;

    /// Removes every binding of `aor` (`Contact: *`, RFC 3261 §10.3 step 6); returns how
    /// many there were.
    async fn remove_bindings(&self, aor: &SipAddress) -> Result<u64>;

    /// The bindings of `aor`, highest q first, then by Contact.
    async fn list_bindings(&self, aor: &SipAddress) -> Result<Vec<Binding>>;

    /// How many bindings exist, over all AORs.
    async fn count_bindings(&self) -> Result<u64>;

    /// Every binding, by AOR then Contact (to load the registrar at start).
    async fn list_all_bindings(&self) -> Result<Vec<Binding>>;

    /// Bindings whose `expires_at` is before `t` (Unix seconds), soonest first.
    async fn bindings_expired_before(&self, t: i64) -> Result<Vec<Binding>>;

    /// Removes the bindings whose `expires_at` is before `t`; returns how many.
    async fn remove_expired_before(&self, t: i64) -> Result<u64>;

    /// Applies one change in its own transaction; its error is the change's own, not a
    /// [`StoreError::Batch`].
    async fn apply(&self, change: Change) -> Result<Outcome> {
        match self.apply_batch(vec![change]).await {
            Ok(mut outcomes) => Ok(outcomes.pop().expect("one outcome per change")),
            Err(StoreError::Batch { source, .. }) => Err(*source),
            Err(e) => Err(e),
        }
    }

    /// Adds a domain; [`StoreError::Conflict`] if it exists.
    async fn add_domain(&self, domain: &Domain) -> Result<()> {
        self.apply(Change::AddDomain(domain.clone()))
            .await
            .map(drop)
    }

    /// Removes a domain; [`StoreError::InUse`] while it has users.
    async fn remove_domain(&self, name: &DomainName) -> Result<()> {
        self.apply(Change::RemoveDomain(name.clone()))
            .await
            .map(drop)
    }

    /// Adds a user; [`StoreError::Conflict`] if the address or the line URI is taken.
    /// A line URI without an extension also assigns its number to the user (refused if
    /// another user holds it); one with an extension shares its main number.
    async fn add_user(&self, user: &User) -> Result<()> {
        self.apply(Change::AddUser(user.clone())).await.map(drop)
    }

    /// Replaces an existing user's fields; a changed line number moves with it.
    async fn update_user(&self, user: &User) -> Result<Outcome> {
        self.apply(Change::UpdateUser(user.clone())).await
    }

    /// Removes a user with their credentials, numbers and bindings.
    async fn remove_user(&self, address: &SipAddress) -> Result<()> {
        self.apply(Change::RemoveUser(address.clone()))
            .await
            .map(drop)
    }

    /// Stores or replaces a credential.
    async fn set_credential(&self, credential: &Credential) -> Result<Outcome> {
        self.apply(Change::SetCredential(credential.clone())).await
    }

    /// Gives a number to a user; [`StoreError::Conflict`] naming the number if another
    /// user holds it.
    async fn assign_number(&self, number: &Number) -> Result<Outcome> {
        self.apply(Change::AssignNumber(number.clone())).await
    }

    /// Takes a number away; [`StoreError::InUse`] if it is a user's line number.
    async fn unassign_number(&self, number: &E164) -> Result<()> {
        self.apply(Change::UnassignNumber(number.clone()))
            .await
            .map(drop)
    }

    /// Stores one binding (replacing the one with the same key).
    async fn upsert_binding(&self, binding: &Binding) -> Result<()> {
        self.write_bindings(&binding.aor, &[], std::slice::from_ref(binding))
            .await
            .map(drop)
    }

    /// Removes the binding of `aor` with this key; returns whether one existed.
    async fn remove_binding(&self, aor: &SipAddress, key: &str) -> Result<bool> {
        let removed = self.write_bindings(aor, &[key.to_owned()], &[]).await?;
        Ok(removed > 0)
    }
}

/// Presence rows (see [`crate::presence`]): provisioning (manual state, access rules,
/// contact lists, calendar), whose writes are [`Change`]s that bump the generation, and
/// live state (publications, subscriptions, in-call flags), whose writes do not.
#[async_trait]
pub trait PresenceStore: Send + Sync {
    /// Runs one provisioning change in its own transaction, bumping the generation.
    #[doc(hidden)]
    async fn apply_presence(&self, change: Change) -> Result<Outcome>;

    /// Sets a user's manual state ([`StoreError::NotFound`] for an unknown user).
    async fn put_manual_presence(&self, state: &ManualPresence) -> Result<Outcome> {
        self.apply_presence(Change::SetManualPresence(state.clone()))
            .await
    }

    /// Clears a user's manual state; [`Outcome::Unchanged`] if there was none.
    async fn clear_manual_presence(&self, user: &SipAddress) -> Result<Outcome> {
        self.apply_presence(Change::ClearManualPresence(user.clone()))
            .await
    }

    /// Places a watcher at a level, replacing that watcher's previous rule.
    async fn set_access_rule(&self, rule: &AccessRule) -> Result<Outcome> {
        self.apply_presence(Change::SetAccessRule(rule.clone()))
            .await
    }

    /// Removes the owner's rule for `watcher`; [`StoreError::NotFound`] if none.
    async fn remove_access_rule(&self, owner: &SipAddress, watcher: &Watcher) -> Result<()> {
        self.apply_presence(Change::RemoveAccessRule(owner.clone(), watcher.clone()))
            .await
            .map(drop)
    }

    /// Replaces the owner's contact list, in this order (see
    /// [`crate::presence::contact_list_uri`] for the list's URI).
    async fn set_contact_list(
        &self,
        owner: &SipAddress,
        members: &[SipAddress],
    ) -> Result<Outcome> {
        self.apply_presence(Change::SetContactList(owner.clone(), members.to_vec()))
            .await
    }

    /// Sets (a path or an http(s) URL) or, with `None`, clears the calendar source.
    async fn set_calendar(&self, owner: &SipAddress, source: Option<&str>) -> Result<Outcome> {
        self.apply_presence(Change::SetCalendar(
            owner.clone(),
            source.map(str::to_owned),
        ))
        .await
    }

    /// Everything stored about one user's presence (empty parts when nothing is set).
    async fn get_presence_row(&self, user: &SipAddress) -> Result<PresenceRow>;

    /// Every manual state, by user (to load the server's view at start and on reload).
    async fn list_manual_presence(&self) -> Result<Vec<ManualPresence>>;

    /// The owner's access rules, in (kind, watcher) order.
    async fn list_access_rules(&self, owner: &SipAddress) -> Result<Vec<AccessRule>>;

    /// Every access rule, by owner then (kind, watcher).
    async fn list_all_access_rules(&self) -> Result<Vec<AccessRule>>;

    /// The members of the owner's contact list, in list order.
    async fn list_contact_list(&self, owner: &SipAddress) -> Result<Vec<SipAddress>>;

    /// Every calendar source, by owner.
    async fn list_calendars(&self) -> Result<Vec<CalendarSource>>;

    /// Stores a publication; with `replacing`, removes that entity tag of the same entity
    /// in the same transaction (an RFC 3903 refresh or modify issues a new tag).
    async fn put_publication(
        &self,
        publication: &Publication,
        replacing: Option<&str>,
    ) -> Result<()>;

    /// Removes one publication; returns whether it existed.
    async fn remove_publication(&self, entity: &SipAddress, etag: &str) -> Result<bool>;

    /// The publications of `entity`, or with `None` every publication; by entity, then
    /// oldest first.
    async fn list_publications(&self, entity: Option<&SipAddress>) -> Result<Vec<Publication>>;

    /// Removes publications whose `expires_at` is before `t`; returns how many.
    async fn remove_publications_expired_before(&self, t: i64) -> Result<u64>;

    /// Stores a subscription, replacing the one with the same id.
    async fn put_subscription(&self, subscription: &Subscription) -> Result<()>;

    /// Removes a subscription; returns whether it existed.
    async fn remove_subscription(&self, id: &str) -> Result<bool>;

    /// The subscriptions to `entity`, or with `None` every subscription; by entity then id.
    async fn list_subscriptions(&self, entity: Option<&SipAddress>) -> Result<Vec<Subscription>>;

    /// Removes subscriptions whose `expires_at` is before `t`; returns how many.
    async fn remove_subscriptions_expired_before(&self, t: i64) -> Result<u64>;

    /// Records whether a user is in a call (a row per user, replaced).
    async fn set_in_call(&self, flag: &InCallFlag) -> Result<()>;

    /// Every user flagged as in a call now, by address.
    async fn list_in_call(&self) -> Result<Vec<InCallFlag>>;
}
