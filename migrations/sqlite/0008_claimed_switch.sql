-- The switch a task was claimed for (see the PostgreSQL migration: a
-- cluster needs PostgreSQL, but the claim's statement is the same).
ALTER TABLE tasks ADD COLUMN claimed_switch TEXT;
