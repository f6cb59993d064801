-- Webhook alerts: which matches each alert has delivered, so a digest never
-- carries a match twice, and when each alert was first seen, so a new alert
-- starts with the matches that come after it rather than the whole history.

CREATE TABLE alerts (
    name       text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alert_deliveries (
    alert   text NOT NULL REFERENCES alerts (name) ON DELETE CASCADE,
    item_id bigint NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    sent_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (alert, item_id)
);

COMMENT ON TABLE alert_deliveries IS 'Matches delivered by each webhook alert.';
