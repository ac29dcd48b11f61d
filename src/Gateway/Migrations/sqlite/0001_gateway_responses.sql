-- Stored responses of the Responses API (store: true), scoped to the owner (the caller's team) that created them.
-- context holds the items of the earlier responses in the chain (previous_response_id), input the request's own
-- items, response the response object as answered.
CREATE TABLE gateway_responses (
    id TEXT NOT NULL PRIMARY KEY,
    owner TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    context TEXT NOT NULL,
    input TEXT NOT NULL,
    response TEXT NOT NULL
);
CREATE INDEX ix_gateway_responses_owner ON gateway_responses (owner, created_ms);
