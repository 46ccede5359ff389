-- Keyword index tuning for bulk indexing (measured on a 27,836-file `cargo vendor` corpus,
-- docs/benchmarks.md).
--
-- `hashsize`: FTS5 keeps new terms in memory until this many bytes, then writes a level-0
-- segment. A scan commits batches of ~4 MB of text; with the 1 MB default each batch became
-- several small segments that the automerge then had to read back and merge again.
-- `automerge`: merge once 8 segments of a level exist rather than 4, which halves the times
-- each term is rewritten while a big tree is indexed; queries read at most a few more
-- segments.
INSERT INTO chunks_fts (chunks_fts, rank) VALUES ('hashsize', 8388608);
INSERT INTO chunks_fts (chunks_fts, rank) VALUES ('automerge', 8);
