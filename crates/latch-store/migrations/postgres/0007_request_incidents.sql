-- Incident-bound access: which incident integration validated a request's ticket and task, and when the task
-- expires. Grants are found by incident through their request (grants.request_id), so closing an incident revokes
-- every grant its requests gave, whatever the policy says by then.

CREATE TABLE request_incidents (
    request_id TEXT PRIMARY KEY REFERENCES access_requests (id) ON DELETE CASCADE,
    integration TEXT NOT NULL,
    ticket TEXT NOT NULL,
    task TEXT NOT NULL,
    task_expires_at BIGINT NOT NULL,
    validated_at BIGINT NOT NULL
);
CREATE INDEX request_incidents_ticket ON request_incidents (integration, ticket);
CREATE INDEX grants_request_for_incidents ON grants (request_id);
