-- An agent serves one or more campaigns, each with a priority (higher
-- first), as JSON: [{"campaign_id": "c", "priority": 0}]. The old column
-- stays as the first campaign (a foreign key SQLite cannot drop).
ALTER TABLE agents ADD COLUMN serves TEXT NOT NULL DEFAULT '[]';
UPDATE agents SET serves = json_array(json_object('campaign_id', campaign_id, 'priority', 0));

-- A callback bound to an agent: only that agent takes it until
-- agent_until_ms, then the campaign's pool does.
ALTER TABLE tasks ADD COLUMN agent_id TEXT;
ALTER TABLE tasks ADD COLUMN agent_until_ms INTEGER;

-- When the agent's wrap-up of the call ended: talk plus wrap-up is the
-- handle time.
ALTER TABLE attempts ADD COLUMN wrap_end_ms INTEGER;

-- What the agent said the call came to, written with the task's
-- settlement in one transaction: a disposition is never lost, and never
-- recorded without its effect.
CREATE TABLE dispositions (
    call_id     TEXT PRIMARY KEY,
    task_id     INTEGER NOT NULL,
    campaign_id TEXT NOT NULL,
    agent_id    TEXT NOT NULL,
    code        TEXT NOT NULL,
    notes       TEXT,
    callback_ms INTEGER,
    at_ms       INTEGER NOT NULL
);
CREATE INDEX dispositions_task ON dispositions(task_id);

-- Each agent state change, for occupancy and handle times.
CREATE TABLE agent_states (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id TEXT NOT NULL,
    state    TEXT NOT NULL,
    reason   TEXT,
    at_ms    INTEGER NOT NULL
);
CREATE INDEX agent_states_agent ON agent_states(agent_id, at_ms);
CREATE INDEX agent_states_at ON agent_states(at_ms);

-- Stats read attempts by time (dials a minute, answer rate, handle time).
CREATE INDEX attempts_originate ON attempts(originate_ms);
CREATE INDEX dispositions_campaign ON dispositions(campaign_id, at_ms);

-- API tokens with a role (admin, supervisor, tasks), kept as hashes; the
-- config file's token is an admin one beside these.
CREATE TABLE api_tokens (
    name       TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL
);
