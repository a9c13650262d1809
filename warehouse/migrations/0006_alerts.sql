-- 0006: alerts. A rule from the campaign file's [alerts] table (spike_score, negative_share,
-- concern_share) that a bucket of the campaign crossed. Written by the alerts step that runs
-- after `hypewatch trends` (analysis/alerts.py); read by the dashboard's overview and the
-- reports. One row per (campaign, rule, bucket): re-evaluating never fires twice.
-- delivery_attempts counts the webhook POSTs made for the alert over all runs; a failed
-- alert is not retried once it reaches alert_webhook_max_attempts (hypewatch/webhooks.py).

CREATE TABLE alerts (
    alert_id         VARCHAR PRIMARY KEY,
    campaign         VARCHAR NOT NULL,
    rule             VARCHAR NOT NULL,
    bucket_start     TIMESTAMP NOT NULL,
    grain            VARCHAR NOT NULL,
    value            DOUBLE NOT NULL,
    threshold        DOUBLE NOT NULL,
    posts            BIGINT,
    message          VARCHAR NOT NULL,
    fired_at         TIMESTAMP NOT NULL,
    delivery_status  VARCHAR NOT NULL DEFAULT 'not_sent',
    delivered_at     TIMESTAMP,
    delivery_error   VARCHAR,
    delivery_attempts INTEGER NOT NULL DEFAULT 0
);
