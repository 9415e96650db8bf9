-- The finance scenario's "core banking system": the customer master and
-- the repayment plan, with the column names such a system has. dialpop
-- only reads it (finance.toml maps the columns to dialpop's fields).
CREATE TABLE cust_info (
  cust_no     TEXT PRIMARY KEY,
  cust_nm     TEXT NOT NULL,
  mobile_no   TEXT NOT NULL,
  cust_grade  TEXT,
  vip_ind     INTEGER NOT NULL DEFAULT 0,
  crdt_score  INTEGER,
  -- Yuan, an exact decimal kept as text (never a float).
  loan_bal    TEXT,
  rm_nm       TEXT,
  rm_tel      TEXT,
  -- The instalment plan offered, when the score allows one.
  instl_terms INTEGER,
  instl_rate  TEXT,
  next_due_dt TEXT
);
CREATE TABLE repay_plan (
  cust_no   TEXT NOT NULL,
  due_dt    TEXT NOT NULL,
  amt       TEXT NOT NULL,
  repay_sts TEXT NOT NULL
);
CREATE INDEX repay_plan_cust ON repay_plan (cust_no, due_dt);
