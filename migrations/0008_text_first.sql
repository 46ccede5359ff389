-- Text first: on a big first index, a scan writes new files as plain line windows (FTS rows,
-- no symbols) ahead of their syntax chunks, so keyword search covers the tree about twice as
-- soon; the syntax pass replaces the windows right after. Such a window has `pending = 2`:
-- the embedder never takes it (it reads `pending = 1`), and deleting it leaves no vector
-- tombstone, since it never had a vector. Its file row stays `discovered` until the syntax
-- pass, so a restart finishes the job.
DROP TRIGGER chunks_after_delete;
CREATE TRIGGER chunks_after_delete AFTER DELETE ON chunks BEGIN
  DELETE FROM chunks_fts WHERE rowid = old.id;
  INSERT OR IGNORE INTO vector_tombstones (chunk_key) SELECT old.chunk_key WHERE old.pending <> 2;
END;
