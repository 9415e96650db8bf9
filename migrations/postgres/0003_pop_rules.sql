-- See migrations/sqlite/0005_pop_rules.sql.
ALTER TABLE attempts ADD COLUMN pop_rule TEXT;
