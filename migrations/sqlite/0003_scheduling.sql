-- The store is the truth for campaigns: their state and settings live
-- here (settings as JSON, checked by the daemon), and a config file only
-- seeds campaigns that are not here yet.
ALTER TABLE campaigns ADD COLUMN state TEXT NOT NULL DEFAULT 'created';
ALTER TABLE campaigns ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
ALTER TABLE campaigns ADD COLUMN updated_ms INTEGER NOT NULL DEFAULT 0;
-- What the first schema kept in columns moves into the settings.
UPDATE campaigns SET
    state = CASE active WHEN 0 THEN 'paused' ELSE 'running' END,
    updated_ms = created_ms,
    settings = json_object(
        'retry', json_object(
            'busy', json_object('max_attempts', max_attempts, 'delay_seconds', retry_delay_ms / 1000.0, 'backoff', 1.0),
            'no_answer', json_object('max_attempts', max_attempts, 'delay_seconds', retry_delay_ms / 1000.0, 'backoff', 1.0)),
        'pop_trigger', pop_trigger);
ALTER TABLE campaigns DROP COLUMN active;
ALTER TABLE campaigns DROP COLUMN max_attempts;
ALTER TABLE campaigns DROP COLUMN retry_delay_ms;
ALTER TABLE campaigns DROP COLUMN pop_trigger;

-- Tags as ",a,b," so that one substring test finds a tag.
ALTER TABLE tasks ADD COLUMN tags TEXT NOT NULL DEFAULT ',';
ALTER TABLE tasks ADD COLUMN not_before_ms INTEGER;
ALTER TABLE tasks ADD COLUMN not_after_ms INTEGER;
ALTER TABLE tasks ADD COLUMN time_zone TEXT;
ALTER TABLE tasks ADD COLUMN variables TEXT NOT NULL DEFAULT '{}';
ALTER TABLE tasks ADD COLUMN idempotency_key TEXT;
ALTER TABLE tasks ADD COLUMN submitted_by TEXT;
CREATE UNIQUE INDEX tasks_idempotency ON tasks(campaign_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- The claim's order: highest priority, then the longest due. A task
-- put off (a retry, a closed window) moves back in its priority, so the
-- claim's walk meets due tasks first.
DROP INDEX tasks_next;
CREATE INDEX tasks_next ON tasks(campaign_id, status, priority DESC, next_attempt_ms, id);
CREATE INDEX tasks_due ON tasks(campaign_id, status, next_attempt_ms);

-- Do-not-call lists: campaign_id '' is the global list.
CREATE TABLE dnc (
    phone       TEXT NOT NULL,
    campaign_id TEXT NOT NULL DEFAULT '',
    reason      TEXT,
    added_ms    INTEGER NOT NULL,
    PRIMARY KEY (phone, campaign_id)
);

-- Every dial and every refusal, with its reason: the compliance record.
CREATE TABLE dial_decisions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms       INTEGER NOT NULL,
    task_id     INTEGER NOT NULL,
    campaign_id TEXT NOT NULL,
    -- dial | defer | refuse
    verdict     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    detail      TEXT,
    call_id     TEXT
);
CREATE INDEX dial_decisions_task ON dial_decisions(task_id);
CREATE INDEX dial_decisions_campaign ON dial_decisions(campaign_id, at_ms);
