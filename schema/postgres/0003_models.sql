-- Tollgate store, version 3 (PostgreSQL): models added at runtime through the model API
-- (`/model/new`, with `store_model_in_db`). One row per deployment, keyed by its model id; the
-- document is LiteLLM's `{model_name, litellm_params, model_info}` with secrets encrypted.
-- Same columns as the other entity tables, so the same code reads and refreshes it.

CREATE TABLE models (
    id TEXT PRIMARY KEY,
    doc JSONB NOT NULL,
    spend DOUBLE PRECISION NOT NULL DEFAULT 0,
    budget_reset_at BIGINT,
    user_id TEXT,
    team_id TEXT,
    organization_id TEXT,
    key_alias TEXT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    deleted BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX models_updated_ms ON models (updated_ms);
CREATE INDEX models_created_ms ON models (created_ms, id);
