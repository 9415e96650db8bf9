-- Why an answered call popped or did not, when its campaign filters pops.
ALTER TABLE attempts ADD COLUMN pop_rule TEXT;
