-- Presence (issue 6). Provisioning rows (manual state, access rules, contact lists,
-- calendar sources) belong to a user and go with them; live rows (publications,
-- subscriptions, in-call flags) are keyed by address like bindings, without a foreign
-- key, because the server writes them at protocol rate and may hold them for addresses
-- it does not provision (a contact list URI, a foreign watcher).
-- Keys use the "C" collation, as in the initial schema.
-- The placeholder table of the initial schema was never written; it is replaced.

DROP TABLE presence_states;

CREATE TABLE presence_manual (
    address TEXT COLLATE "C" PRIMARY KEY REFERENCES users (address) ON DELETE CASCADE,
    availability TEXT NOT NULL,
    note TEXT,
    until_at BIGINT,
    updated_at BIGINT NOT NULL
);

CREATE TABLE presence_access (
    owner TEXT COLLATE "C" NOT NULL REFERENCES users (address) ON DELETE CASCADE,
    watcher_kind TEXT NOT NULL CHECK (watcher_kind IN ('user', 'domain', 'everyone')),
    watcher TEXT COLLATE "C" NOT NULL,
    level TEXT NOT NULL,
    PRIMARY KEY (owner, watcher_kind, watcher)
);

CREATE TABLE contact_lists (
    owner TEXT COLLATE "C" NOT NULL REFERENCES users (address) ON DELETE CASCADE,
    member TEXT COLLATE "C" NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (owner, member)
);

CREATE TABLE presence_calendars (
    owner TEXT COLLATE "C" PRIMARY KEY REFERENCES users (address) ON DELETE CASCADE,
    source TEXT NOT NULL
);

CREATE TABLE presence_publications (
    entity TEXT COLLATE "C" NOT NULL,
    etag TEXT COLLATE "C" NOT NULL,
    expires_at BIGINT NOT NULL,
    body TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (entity, etag)
);
CREATE INDEX presence_publications_expires_at ON presence_publications (expires_at);

CREATE TABLE presence_subscriptions (
    id TEXT COLLATE "C" PRIMARY KEY,
    entity TEXT COLLATE "C" NOT NULL,
    watcher TEXT COLLATE "C" NOT NULL,
    event TEXT NOT NULL,
    dialog TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX presence_subscriptions_entity ON presence_subscriptions (entity, id);
CREATE INDEX presence_subscriptions_expires_at ON presence_subscriptions (expires_at);

CREATE TABLE presence_in_call (
    address TEXT COLLATE "C" PRIMARY KEY,
    in_call BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL
);
