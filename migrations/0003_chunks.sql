-- Chunks, keyword search, symbols and the embedding bookkeeping (DESIGN.md §5, §6 "Index").
--
-- A file's chunks, their FTS rows and its symbols are written in the same transaction as the
-- file's row, so a crash leaves a file either fully indexed or not at all. Chunk text is not
-- stored: it is the byte range of the file whose blake3 the `files` row records, read again
-- when it is embedded or shown. Deleting a file row cascades to its chunks and symbols; the
-- trigger below removes the FTS row and leaves a tombstone so the vector store drops the
-- chunk's vector too.
CREATE TABLE chunks (
  id INTEGER PRIMARY KEY,                   -- rowid of the chunk's chunks_fts row
  workspace_id INTEGER NOT NULL,
  path TEXT NOT NULL,
  chunk_key TEXT NOT NULL UNIQUE,           -- deterministic: blake3(workspace, path, lines, content)
  start_line INTEGER NOT NULL,
  end_line INTEGER NOT NULL,
  start_byte INTEGER NOT NULL,
  end_byte INTEGER NOT NULL,
  lang TEXT NOT NULL,
  kind TEXT NOT NULL,
  symbol TEXT,
  header TEXT,
  content_hash TEXT NOT NULL,               -- blake3 of the text that is embedded (header + body)
  pending INTEGER NOT NULL DEFAULT 1,       -- 1 until the chunk is in the target vector table
  FOREIGN KEY (workspace_id, path) REFERENCES files(workspace_id, path) ON DELETE CASCADE
);
CREATE INDEX chunks_file ON chunks(workspace_id, path, start_line);
CREATE INDEX chunks_pending ON chunks(id) WHERE pending = 1;

-- Contentless: the index only, no second copy of the text. `terms` holds the camelCase parts
-- of compound identifiers (weft_chunk::split_terms), `symbol` the chunk's qualified symbol.
CREATE VIRTUAL TABLE chunks_fts USING fts5(
  body, terms, symbol, content = '', contentless_delete = 1, tokenize = 'unicode61'
);

CREATE TABLE symbols (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER NOT NULL,
  path TEXT NOT NULL,
  name TEXT NOT NULL,
  name_lower TEXT NOT NULL,
  kind TEXT NOT NULL,
  container TEXT,
  start_line INTEGER NOT NULL,
  end_line INTEGER NOT NULL,
  FOREIGN KEY (workspace_id, path) REFERENCES files(workspace_id, path) ON DELETE CASCADE
);
CREATE INDEX symbols_name ON symbols(name_lower);
CREATE INDEX symbols_file ON symbols(workspace_id, path);

-- Vectors already computed, by model and content: identical text is embedded once (vendored
-- copies, branch switches), and a lost vector table is rebuilt without the model.
CREATE TABLE embed_cache (
  model TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  vector BLOB NOT NULL,                     -- little-endian f32
  PRIMARY KEY (model, content_hash)
) WITHOUT ROWID;

-- Vector tables, one per embedding model. `active` is the one searched; a new model fills a
-- `building` table in the background and becomes active when every chunk is in it.
CREATE TABLE vector_tables (
  name TEXT PRIMARY KEY,
  model TEXT NOT NULL UNIQUE,
  dim INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('building', 'active', 'retired')),
  created_ms INTEGER NOT NULL
);

-- Chunks removed from SQLite whose vectors may still be in the vector store.
CREATE TABLE vector_tombstones (
  chunk_key TEXT PRIMARY KEY
) WITHOUT ROWID;

CREATE TRIGGER chunks_after_delete AFTER DELETE ON chunks BEGIN
  DELETE FROM chunks_fts WHERE rowid = old.id;
  INSERT OR IGNORE INTO vector_tombstones (chunk_key) VALUES (old.chunk_key);
END;
