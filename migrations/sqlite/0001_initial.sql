-- Times are milliseconds since the Unix epoch (portable to PostgreSQL).
CREATE TABLE customers (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    phone       TEXT NOT NULL,
    email       TEXT,
    tier        TEXT,
    vip         INTEGER NOT NULL DEFAULT 0,
    -- Other fields the pop shows, as a JSON object.
    fields      TEXT NOT NULL DEFAULT '{}',
    created_ms  INTEGER NOT NULL
);
CREATE INDEX customers_phone ON customers(phone);

CREATE TABLE campaigns (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    active              INTEGER NOT NULL DEFAULT 1,
    pop_trigger         TEXT NOT NULL DEFAULT 'answer',
    max_attempts        INTEGER NOT NULL DEFAULT 2,
    retry_delay_ms      INTEGER NOT NULL DEFAULT 300000,
    created_ms          INTEGER NOT NULL
);

CREATE TABLE agents (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    extension   TEXT NOT NULL,
    campaign_id TEXT NOT NULL REFERENCES campaigns(id),
    -- SHA-256 of the login token, hex. The token itself is never stored.
    token_hash  TEXT NOT NULL UNIQUE,
    created_ms  INTEGER NOT NULL
);

CREATE TABLE tasks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id     TEXT NOT NULL REFERENCES campaigns(id),
    customer_id     TEXT NOT NULL,
    phone           TEXT NOT NULL,
    priority        INTEGER NOT NULL DEFAULT 0,
    -- pending | dialing | done | failed
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL DEFAULT 0,
    last_cause      TEXT,
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL
);
CREATE INDEX tasks_next ON tasks(campaign_id, status, priority DESC, created_ms, id);

CREATE TABLE attempts (
    call_id       TEXT PRIMARY KEY,
    task_id       INTEGER NOT NULL REFERENCES tasks(id),
    agent_id      TEXT NOT NULL,
    switch_name   TEXT NOT NULL,
    originate_ms  INTEGER NOT NULL,
    ring_ms       INTEGER,
    answer_ms     INTEGER,
    hangup_ms     INTEGER,
    -- answered | busy | no_answer | failed | vanished; NULL while open
    outcome       TEXT,
    hangup_cause  TEXT
);
CREATE INDEX attempts_open ON attempts(hangup_ms);
CREATE INDEX attempts_task ON attempts(task_id);

CREATE TABLE pops (
    pop_id       TEXT PRIMARY KEY,
    call_id      TEXT NOT NULL,
    agent_id     TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    sent_ms      INTEGER NOT NULL,
    acked_ms     INTEGER,
    degraded     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX pops_call ON pops(call_id);
