-- Tollgate store, version 2 (PostgreSQL): budget holds shared by every node. A call holds its
-- worst-case cost against each capped owner before any provider is called; the hold is
-- deleted in the transaction that writes the call's spend row (so the owner's stored spend
-- and its holds never both miss the call), or ignored once expired (a node that died).

CREATE TABLE budget_holds (
    request_id TEXT NOT NULL,
    owner_table TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    amount DOUBLE PRECISION NOT NULL,
    expires_ms BIGINT NOT NULL,
    PRIMARY KEY (request_id, owner_table, owner_id)
);
CREATE INDEX budget_holds_owner ON budget_holds (owner_table, owner_id);
CREATE INDEX budget_holds_expires ON budget_holds (expires_ms);
