-- The UI's API: when each workspace was last opened (`GET /v1/workspaces` lists the most
-- recent first; `POST /v1/index` and `weft serve PATH` bump it), and small JSON values the UI
-- keeps across reloads (`/v1/ui-state/{key}`: layout, open tabs, ...).
ALTER TABLE workspaces ADD COLUMN opened_ms INTEGER NOT NULL DEFAULT 0;
UPDATE workspaces SET opened_ms = added_ms;
CREATE TABLE ui_state (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_ms INTEGER NOT NULL
);
