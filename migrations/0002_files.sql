-- Workspace index: the workspaces being indexed, one row per file walked in them (size+mtime
-- for the fast path, BLAKE3 of the contents, and how far indexing got), and the durable job
-- queue, so a crash or restart resumes where it stopped. Deleting a workspace removes all.
CREATE TABLE workspaces (
  id INTEGER PRIMARY KEY,
  root TEXT NOT NULL UNIQUE,
  added_ms INTEGER NOT NULL
);
CREATE TABLE files (
  workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  blake3 TEXT,
  state TEXT NOT NULL CHECK (state IN ('discovered', 'chunked', 'embedded', 'skipped')),
  skip_reason TEXT,
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, path)
);
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  path TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL,
  UNIQUE (workspace_id, kind, path)
);
CREATE INDEX jobs_path ON jobs(workspace_id, path);
