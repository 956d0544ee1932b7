-- Tollgate store, version 1 (PostgreSQL). Applied once by src/store/migrate.rs.
-- Entities are LiteLLM's records as JSON documents; the columns beside `doc` are the ones
-- the store filters or adds on (owner ids copied from the document, spend, reset time).

CREATE TABLE keys (
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
CREATE INDEX keys_updated_ms ON keys (updated_ms);
CREATE INDEX keys_created_ms ON keys (created_ms, id);

CREATE TABLE users (
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
CREATE INDEX users_updated_ms ON users (updated_ms);
CREATE INDEX users_created_ms ON users (created_ms, id);

CREATE TABLE teams (
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
CREATE INDEX teams_updated_ms ON teams (updated_ms);
CREATE INDEX teams_created_ms ON teams (created_ms, id);

CREATE TABLE organizations (
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
CREATE INDEX organizations_updated_ms ON organizations (updated_ms);
CREATE INDEX organizations_created_ms ON organizations (created_ms, id);

CREATE TABLE customers (
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
CREATE INDEX customers_updated_ms ON customers (updated_ms);
CREATE INDEX customers_created_ms ON customers (created_ms, id);

CREATE TABLE budgets (
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
CREATE INDEX budgets_updated_ms ON budgets (updated_ms);
CREATE INDEX budgets_created_ms ON budgets (created_ms, id);

CREATE INDEX keys_user_id ON keys (user_id);
CREATE INDEX keys_team_id ON keys (team_id);
CREATE INDEX keys_organization_id ON keys (organization_id);
CREATE INDEX keys_key_alias ON keys (key_alias);
CREATE INDEX teams_organization_id ON teams (organization_id);
CREATE INDEX users_organization_id ON users (organization_id);

-- One row per call (LiteLLM_SpendLogs), unless disable_spend_logs.
CREATE TABLE spend_logs (
    request_id TEXT PRIMARY KEY,
    call_type TEXT NOT NULL DEFAULT '',
    api_key TEXT NOT NULL DEFAULT '',
    spend DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_tokens BIGINT NOT NULL DEFAULT 0,
    prompt_tokens BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    start_time TEXT COLLATE "C" NOT NULL DEFAULT '',
    end_time TEXT COLLATE "C" NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    model_group TEXT NOT NULL DEFAULT '',
    model_id TEXT NOT NULL DEFAULT '',
    api_base TEXT NOT NULL DEFAULT '',
    custom_llm_provider TEXT NOT NULL DEFAULT '',
    "user" TEXT NOT NULL DEFAULT '',
    team_id TEXT NOT NULL DEFAULT '',
    organization_id TEXT NOT NULL DEFAULT '',
    end_user TEXT NOT NULL DEFAULT '',
    metadata JSONB NOT NULL DEFAULT 'null',
    cache_hit TEXT NOT NULL DEFAULT '',
    request_tags JSONB NOT NULL DEFAULT '[]',
    status TEXT NOT NULL DEFAULT '',
    messages JSONB NOT NULL DEFAULT 'null',
    response JSONB NOT NULL DEFAULT 'null'
);
CREATE INDEX spend_logs_api_key ON spend_logs (api_key);
CREATE INDEX spend_logs_user ON spend_logs ("user");
CREATE INDEX spend_logs_team_id ON spend_logs (team_id);
CREATE INDEX spend_logs_start_time ON spend_logs (start_time);

-- Every request id ever counted, kept even when spend_logs rows are not, so a retried
-- batch never adds spend twice.
CREATE TABLE spend_log_ids (
    request_id TEXT PRIMARY KEY,
    created_ms BIGINT NOT NULL
);

-- Per-day totals (LiteLLM's daily spend tables, in one).
CREATE TABLE daily_spend (
    date TEXT COLLATE "C" NOT NULL,
    api_key TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    model_group TEXT NOT NULL DEFAULT '',
    custom_llm_provider TEXT NOT NULL DEFAULT '',
    user_id TEXT NOT NULL DEFAULT '',
    team_id TEXT NOT NULL DEFAULT '',
    organization_id TEXT NOT NULL DEFAULT '',
    end_user TEXT NOT NULL DEFAULT '',
    spend DOUBLE PRECISION NOT NULL DEFAULT 0,
    prompt_tokens BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    total_tokens BIGINT NOT NULL DEFAULT 0,
    requests BIGINT NOT NULL DEFAULT 0,
    upserted_ms BIGINT NOT NULL,
    UNIQUE (date, api_key, model, model_group, custom_llm_provider, user_id, team_id,
        organization_id, end_user)
);
CREATE INDEX daily_spend_date ON daily_spend (date);
