-- The switch a task was claimed for, while it is dialing. In a cluster
-- each switch's node claims for it alone, so a task left dialing with no
-- open attempt (its claimer died between the claim and the attempt) is
-- settled by whoever takes that switch over, and by nobody else. NULL:
-- claimed by a single node, whose own start settles it.
ALTER TABLE tasks ADD COLUMN claimed_switch TEXT;
