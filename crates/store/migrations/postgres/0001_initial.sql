-- Initial schema: provisioning (domains, users, credentials, numbers), registrar
-- bindings, a provisioning generation counter, and placeholder tables for call records
-- and presence that later migrations extend. Keys use the "C" collation so ordering
-- (and so paging) is byte order, as on SQLite.

CREATE TABLE store_generation (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO store_generation (id, value) VALUES (1, 0);

CREATE TABLE domains (
    name TEXT COLLATE "C" PRIMARY KEY
);

CREATE TABLE users (
    address TEXT COLLATE "C" PRIMARY KEY,
    domain TEXT COLLATE "C" NOT NULL REFERENCES domains (name),
    display_name TEXT NOT NULL DEFAULT '',
    line_uri TEXT,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    policies TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX users_domain ON users (domain, address);
CREATE UNIQUE INDEX users_line_uri ON users (line_uri);

CREATE TABLE credentials (
    address TEXT COLLATE "C" NOT NULL REFERENCES users (address) ON DELETE CASCADE,
    realm TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    ha1 TEXT NOT NULL,
    PRIMARY KEY (address, realm, algorithm)
);

CREATE TABLE numbers (
    number TEXT COLLATE "C" PRIMARY KEY,
    address TEXT COLLATE "C" NOT NULL REFERENCES users (address) ON DELETE CASCADE
);
CREATE INDEX numbers_address ON numbers (address);

CREATE TABLE bindings (
    aor TEXT COLLATE "C" NOT NULL,
    binding_key TEXT COLLATE "C" NOT NULL,
    contact TEXT NOT NULL,
    q BIGINT,
    expires_at BIGINT NOT NULL,
    call_id TEXT NOT NULL,
    cseq BIGINT NOT NULL,
    instance_id TEXT,
    reg_id BIGINT,
    transport TEXT NOT NULL,
    source TEXT NOT NULL,
    received TEXT,
    path TEXT NOT NULL DEFAULT '[]',
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (aor, binding_key)
);
CREATE INDEX bindings_expires_at ON bindings (expires_at);

CREATE TABLE call_records (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_id TEXT NOT NULL,
    caller TEXT NOT NULL,
    callee TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    answered_at BIGINT,
    ended_at BIGINT,
    disposition TEXT NOT NULL DEFAULT ''
);
CREATE INDEX call_records_started_at ON call_records (started_at);

CREATE TABLE presence_states (
    address TEXT COLLATE "C" PRIMARY KEY,
    state TEXT NOT NULL,
    note TEXT,
    updated_at BIGINT NOT NULL
);
