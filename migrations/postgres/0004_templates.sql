-- An agent's level picks its pop template and blocks; its locale the
-- language its pops are written in.
ALTER TABLE agents ADD COLUMN level TEXT;
ALTER TABLE agents ADD COLUMN locale TEXT;
-- What each pop showed, for the pop log: its template, the customer fields
-- on the screen, and what set it off (answer or ringing).
ALTER TABLE pops ADD COLUMN template TEXT;
ALTER TABLE pops ADD COLUMN shown TEXT;
ALTER TABLE pops ADD COLUMN pop_trigger TEXT;
-- The pop log lists pops newest first, by agent or over a time range.
CREATE INDEX pops_sent ON pops(sent_ms);
CREATE INDEX pops_agent_sent ON pops(agent_id, sent_ms);
