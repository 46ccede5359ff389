-- Terminals, git history and session snapshots (issue 6).
--
-- terminal_sessions: one row per shell Weft started. `ended_ms` stays NULL while it runs; a
-- daemon killed mid-session leaves it NULL and the next start marks it `lost`.
CREATE TABLE terminal_sessions (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER REFERENCES workspaces(id) ON DELETE SET NULL,
  shell TEXT NOT NULL,
  cwd TEXT NOT NULL,
  boot_id TEXT NOT NULL,
  started_ms INTEGER NOT NULL,
  ended_ms INTEGER,
  exit_code INTEGER,
  end_reason TEXT
);

-- One row per command the shell integration marked (OSC 133 B..D). `command` and `output`
-- are redacted before they are written; `output` is the tail of the command's output with
-- ANSI sequences removed, at most [terminal] max_output_bytes, `truncated` when cut.
CREATE TABLE terminal_commands (
  id INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL REFERENCES terminal_sessions(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  command TEXT NOT NULL,
  cwd TEXT,
  started_ms INTEGER NOT NULL,
  ended_ms INTEGER,
  duration_ms INTEGER,
  exit_code INTEGER,
  output TEXT NOT NULL DEFAULT '',
  output_bytes INTEGER NOT NULL DEFAULT 0,
  truncated INTEGER NOT NULL DEFAULT 0,
  UNIQUE (session_id, seq)
);
CREATE INDEX terminal_commands_started ON terminal_commands (started_ms);

CREATE VIRTUAL TABLE terminal_commands_fts USING fts5(
  command, output, cwd, content = 'terminal_commands', content_rowid = 'id', tokenize = 'unicode61'
);
CREATE TRIGGER terminal_commands_ai AFTER INSERT ON terminal_commands BEGIN
  INSERT INTO terminal_commands_fts (rowid, command, output, cwd)
  VALUES (new.id, new.command, new.output, new.cwd);
END;
CREATE TRIGGER terminal_commands_ad AFTER DELETE ON terminal_commands BEGIN
  INSERT INTO terminal_commands_fts (terminal_commands_fts, rowid, command, output, cwd)
  VALUES ('delete', old.id, old.command, old.output, old.cwd);
END;
CREATE TRIGGER terminal_commands_au AFTER UPDATE ON terminal_commands BEGIN
  INSERT INTO terminal_commands_fts (terminal_commands_fts, rowid, command, output, cwd)
  VALUES ('delete', old.id, old.command, old.output, old.cwd);
  INSERT INTO terminal_commands_fts (rowid, command, output, cwd)
  VALUES (new.id, new.command, new.output, new.cwd);
END;

-- The text of each command (command line + output) cut into pieces for the embedding
-- table `terminal_<model>`; `embedded` flips to 1 once its vector is stored.
CREATE TABLE terminal_chunks (
  id INTEGER PRIMARY KEY,
  command_id INTEGER NOT NULL REFERENCES terminal_commands(id) ON DELETE CASCADE,
  ord INTEGER NOT NULL,
  text TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  embedded INTEGER NOT NULL DEFAULT 0,
  UNIQUE (command_id, ord)
);
CREATE INDEX terminal_chunks_pending ON terminal_chunks (id) WHERE embedded = 0;

-- The git event log: one row per reflog entry of HEAD, branches and the stash, classified
-- (commit, checkout, merge, rebase, pull, stash, reset, ...). The unique key makes
-- re-reading a reflog after a restart idempotent.
CREATE TABLE git_events (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  ref_name TEXT NOT NULL,
  old_oid TEXT NOT NULL,
  new_oid TEXT NOT NULL,
  summary TEXT NOT NULL,
  author TEXT,
  ts_ms INTEGER NOT NULL,
  detail TEXT,
  recorded_ms INTEGER NOT NULL,
  UNIQUE (workspace_id, ref_name, old_oid, new_oid, ts_ms, summary)
);
CREATE INDEX git_events_by_time ON git_events (workspace_id, ts_ms, id);

-- Session snapshots (open files, cursor, terminals and their cwd, layout, workspace,
-- profile) as JSON; the newest is restored at start. Old ones are pruned.
CREATE TABLE session_snapshots (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER REFERENCES workspaces(id) ON DELETE SET NULL,
  taken_ms INTEGER NOT NULL,
  reason TEXT NOT NULL,
  state TEXT NOT NULL
);
