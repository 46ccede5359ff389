-- Supervision events: every start, exit, restart, give-up and escalation of the tree.
CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  ts_ms INTEGER NOT NULL,
  boot_id TEXT NOT NULL,
  supervisor TEXT NOT NULL,
  child TEXT NOT NULL,
  kind TEXT NOT NULL,
  generation INTEGER NOT NULL,
  reason TEXT,
  detail TEXT
);
CREATE INDEX events_ts ON events(ts_ms);
