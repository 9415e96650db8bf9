-- A customer's past calls (the internal history source) are found through
-- their tasks.
CREATE INDEX tasks_customer ON tasks(customer_id);
