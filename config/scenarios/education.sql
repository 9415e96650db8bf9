-- The education scenario's "lead CRM": each lead with where it came from,
-- the course it asked about, a booked trial lesson, and the log of past
-- consultations. dialpop only reads it (education.toml maps the columns).
CREATE TABLE lead (
  lead_id       TEXT PRIMARY KEY,
  stu_name      TEXT NOT NULL,
  mobile        TEXT NOT NULL,
  channel       TEXT,
  intent_course TEXT,
  trial_flag    INTEGER NOT NULL DEFAULT 0,
  -- RFC 3339 with the school's offset.
  trial_time    TEXT,
  consultant    TEXT
);
CREATE TABLE consult_log (
  lead_id      TEXT NOT NULL,
  consult_time TEXT NOT NULL,
  topic        TEXT NOT NULL,
  result       TEXT NOT NULL
);
CREATE INDEX consult_log_lead ON consult_log (lead_id, consult_time);
