-- The e-commerce scenario's "order system": members, their orders with
-- the logistics status, and an open return if there is one. dialpop only
-- reads it (ecommerce.toml maps the columns to dialpop's fields).
CREATE TABLE member (
  member_id      TEXT PRIMARY KEY,
  nick_name      TEXT NOT NULL,
  mobile         TEXT NOT NULL,
  member_level   TEXT,
  is_vip         INTEGER NOT NULL DEFAULT 0,
  -- Yuan, an exact decimal kept as text.
  total_spent    TEXT,
  service_rep    TEXT,
  return_no      TEXT,
  return_state   TEXT
);
CREATE TABLE trade_order (
  member_id       TEXT NOT NULL,
  order_no        TEXT NOT NULL,
  pay_amt         TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  logistics_state TEXT NOT NULL
);
CREATE INDEX trade_order_member ON trade_order (member_id, created_at);
