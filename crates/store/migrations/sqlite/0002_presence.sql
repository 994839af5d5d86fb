-- Presence (issue 6). Provisioning rows (manual state, access rules, contact lists,
-- calendar sources) belong to a user and go with them; live rows (publications,
-- subscriptions, in-call flags) are keyed by address like bindings, without a foreign
-- key, because the server writes them at protocol rate and may hold them for addresses
-- it does not provision (a contact list URI, a foreign watcher).
-- The placeholder table of the initial schema was never written; it is replaced.

DROP TABLE presence_states;

CREATE TABLE presence_manual (
    address TEXT PRIMARY KEY REFERENCES users (address) ON DELETE CASCADE,
    availability TEXT NOT NULL,
    note TEXT,
    until_at INTEGER,
    updated_at INTEGER NOT NULL
);

CREATE TABLE presence_access (
    owner TEXT NOT NULL REFERENCES users (address) ON DELETE CASCADE,
    watcher_kind TEXT NOT NULL CHECK (watcher_kind IN ('user', 'domain', 'everyone')),
    watcher TEXT NOT NULL,
    level TEXT NOT NULL,
    PRIMARY KEY (owner, watcher_kind, watcher)
);

CREATE TABLE contact_lists (
    owner TEXT NOT NULL REFERENCES users (address) ON DELETE CASCADE,
    member TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (owner, member)
);

CREATE TABLE presence_calendars (
    owner TEXT PRIMARY KEY REFERENCES users (address) ON DELETE CASCADE,
    source TEXT NOT NULL
);

CREATE TABLE presence_publications (
    entity TEXT NOT NULL,
    etag TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    body TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (entity, etag)
);
CREATE INDEX presence_publications_expires_at ON presence_publications (expires_at);

CREATE TABLE presence_subscriptions (
    id TEXT PRIMARY KEY,
    entity TEXT NOT NULL,
    watcher TEXT NOT NULL,
    event TEXT NOT NULL,
    dialog TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX presence_subscriptions_entity ON presence_subscriptions (entity, id);
CREATE INDEX presence_subscriptions_expires_at ON presence_subscriptions (expires_at);

CREATE TABLE presence_in_call (
    address TEXT PRIMARY KEY,
    in_call BOOLEAN NOT NULL,
    updated_at INTEGER NOT NULL
);
