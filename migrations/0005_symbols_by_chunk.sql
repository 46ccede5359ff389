-- Symbols hang off the chunk that holds their first line instead of repeating the file's
-- (workspace, path). On a 27,836-file corpus the old table held 1.1M symbols in 233 MB
-- (rows 125 MB, the (workspace_id, path) index 75 MB, the lower-cased name index 33 MB), more
-- than the keyword index itself, and writing it was a large part of the single writer's
-- time. Now: an integer chunk id (deleted with its chunk by cascade, so a file's symbols go
-- with its chunks) and one NOCASE index on the name, which serves exact and prefix lookups.
CREATE TABLE symbols_new (
  id INTEGER PRIMARY KEY,
  chunk_id INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
  name TEXT NOT NULL COLLATE NOCASE,
  kind TEXT NOT NULL,
  container TEXT,
  start_line INTEGER NOT NULL,
  end_line INTEGER NOT NULL
);
INSERT INTO symbols_new (chunk_id, name, kind, container, start_line, end_line)
  SELECT c.id, s.name, s.kind, s.container, s.start_line, s.end_line
  FROM symbols s
  JOIN chunks c ON c.workspace_id = s.workspace_id AND c.path = s.path
    AND c.start_line <= s.start_line AND c.end_line >= s.start_line;
DROP TABLE symbols;
ALTER TABLE symbols_new RENAME TO symbols;
CREATE INDEX symbols_name ON symbols(name);
CREATE INDEX symbols_chunk ON symbols(chunk_id);
