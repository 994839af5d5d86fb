-- Initial schema: provisioning (domains, users, credentials, numbers), registrar
-- bindings, a provisioning generation counter, and placeholder tables for call records
-- and presence that later migrations extend.

CREATE TABLE store_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO store_generation (id, value) VALUES (1, 0);

CREATE TABLE domains (
    name TEXT PRIMARY KEY
);

CREATE TABLE users (
    address TEXT PRIMARY KEY,
    domain TEXT NOT NULL REFERENCES domains (name),
    display_name TEXT NOT NULL DEFAULT '',
    line_uri TEXT,
    enabled BOOLEAN NOT NULL DEFAULT 1,
    policies TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX users_domain ON users (domain, address);
CREATE UNIQUE INDEX users_line_uri ON users (line_uri);

CREATE TABLE credentials (
    address TEXT NOT NULL REFERENCES users (address) ON DELETE CASCADE,
    realm TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    ha1 TEXT NOT NULL,
    PRIMARY KEY (address, realm, algorithm)
);

CREATE TABLE numbers (
    number TEXT PRIMARY KEY,
    address TEXT NOT NULL REFERENCES users (address) ON DELETE CASCADE
);
CREATE INDEX numbers_address ON numbers (address);

CREATE TABLE bindings (
    aor TEXT NOT NULL,
    binding_key TEXT NOT NULL,
    contact TEXT NOT NULL,
    q INTEGER,
    expires_at INTEGER NOT NULL,
    call_id TEXT NOT NULL,
    cseq INTEGER NOT NULL,
    instance_id TEXT,
    reg_id INTEGER,
    transport TEXT NOT NULL,
    source TEXT NOT NULL,
    received TEXT,
    path TEXT NOT NULL DEFAULT '[]',
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (aor, binding_key)
);
CREATE INDEX bindings_expires_at ON bindings (expires_at);

CREATE TABLE call_records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT NOT NULL,
    caller TEXT NOT NULL,
    callee TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    answered_at INTEGER,
    ended_at INTEGER,
    disposition TEXT NOT NULL DEFAULT ''
);
CREATE INDEX call_records_started_at ON call_records (started_at);

CREATE TABLE presence_states (
    address TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    note TEXT,
    updated_at INTEGER NOT NULL
);
