-- 0005: topics (BERTopic on the stored embeddings) and trends (volumes, spikes, share of
-- voice, hype and debate indices, near-duplicate and bot-like flags).
-- Tables are written by `hypewatch topics` and `hypewatch trends` (analysis/topics.py,
-- analysis/trends.py); the views are plain SQL over them and the per-post facts of 0004
-- (post_facts, post_entities), so the dashboard, the reports and an analyst read the same
-- numbers. Flagged posts (post_flags) are left out of every count named `posts`.

CREATE SEQUENCE topic_run_ids START 1;
CREATE TABLE topic_runs (
    run_id           BIGINT PRIMARY KEY DEFAULT nextval('topic_run_ids'),
    campaign         VARCHAR,
    embedding_model  VARCHAR NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    fit_posts        BIGINT NOT NULL,
    topics           INTEGER NOT NULL,
    outlier_share    DOUBLE,
    seconds          DOUBLE,
    params           JSON NOT NULL,
    quality          JSON
);

CREATE TABLE topics (
    run_id                   BIGINT NOT NULL,
    topic_id                 INTEGER NOT NULL,
    name                     VARCHAR NOT NULL,
    keywords                 VARCHAR[] NOT NULL,
    fit_posts                BIGINT NOT NULL,
    representative_post_ids  VARCHAR[] NOT NULL,
    centroid                 FLOAT[384],
    PRIMARY KEY (run_id, topic_id)
);

CREATE TABLE post_topics (
    run_id       BIGINT NOT NULL,
    post_id      VARCHAR NOT NULL,
    topic_id     INTEGER NOT NULL,
    similarity   FLOAT,
    method       VARCHAR NOT NULL,
    assigned_at  TIMESTAMP NOT NULL
);

CREATE TABLE duplicate_clusters (
    cluster_id     BIGINT NOT NULL,
    campaign       VARCHAR,
    kind           VARCHAR NOT NULL,
    posts          BIGINT NOT NULL,
    authors        BIGINT NOT NULL,
    first_post_id  VARCHAR NOT NULL,
    computed_at    TIMESTAMP NOT NULL
);

CREATE TABLE post_flags (
    post_id      VARCHAR PRIMARY KEY,
    campaign     VARCHAR,
    flag         VARCHAR NOT NULL,
    cluster_id   BIGINT NOT NULL,
    computed_at  TIMESTAMP NOT NULL
);

CREATE TABLE spike_scores (
    campaign      VARCHAR,
    series        VARCHAR NOT NULL,
    hour_utc      TIMESTAMP NOT NULL,
    posts         BIGINT NOT NULL,
    baseline      DOUBLE,
    mad           DOUBLE,
    score         DOUBLE,
    is_spike      BOOLEAN NOT NULL,
    computed_at   TIMESTAMP NOT NULL
);

CREATE TABLE spikes (
    campaign         VARCHAR,
    series           VARCHAR NOT NULL,
    spike_id         INTEGER NOT NULL,
    start_hour       TIMESTAMP NOT NULL,
    end_hour         TIMESTAMP NOT NULL,
    peak_hour        TIMESTAMP NOT NULL,
    posts            BIGINT NOT NULL,
    peak_posts       BIGINT NOT NULL,
    peak_baseline    DOUBLE,
    peak_score       DOUBLE NOT NULL,
    top_topic_ids    INTEGER[],
    top_topics       VARCHAR[],
    top_post_ids     VARCHAR[],
    window_hours     INTEGER NOT NULL,
    threshold        DOUBLE NOT NULL,
    excludes_flagged BOOLEAN NOT NULL,
    computed_at      TIMESTAMP NOT NULL
);

-- The latest topic run of each campaign (campaign NULL: a run over all posts).
CREATE VIEW current_topic_runs AS
SELECT * FROM topic_runs
QUALIFY row_number() OVER (PARTITION BY campaign ORDER BY run_id DESC) = 1;

-- One row per post of a current topic run, with its facts and flag.
CREATE VIEW post_topic_facts AS
SELECT
    r.campaign AS run_campaign, pt.run_id, pt.post_id, pt.topic_id, t.name AS topic_name,
    pt.similarity, f.created_at, f.platform, f.lang, f.author_id, f.engagement,
    f.sentiment, f.copyright, f.concern_prob, fl.flag
FROM current_topic_runs r
JOIN post_topics pt USING (run_id)
JOIN topics t USING (run_id, topic_id)
JOIN post_facts f USING (post_id)
LEFT JOIN post_flags fl USING (post_id);

CREATE VIEW topic_overview AS
SELECT
    run_campaign AS campaign, run_id, topic_id, any_value(topic_name) AS name,
    count(*) FILTER (flag IS NULL) AS posts,
    count(*) FILTER (flag IS NULL) / sum(count(*) FILTER (flag IS NULL)) OVER (PARTITION BY run_id)
        AS share,
    count(*) FILTER (flag IS NOT NULL) AS flagged_posts,
    coalesce(sum(engagement) FILTER (flag IS NULL), 0)::BIGINT AS engagement,
    avg((sentiment = 'positive')::INTEGER) FILTER (flag IS NULL) AS positive_share,
    avg((sentiment = 'negative')::INTEGER) FILTER (flag IS NULL) AS negative_share,
    avg((copyright = 'concern')::INTEGER) FILTER (flag IS NULL) AS concern_share,
    min(created_at) AS first_post_at,
    max(created_at) AS last_post_at
FROM post_topic_facts
GROUP BY run_campaign, run_id, topic_id;

CREATE VIEW topic_hourly AS
WITH bins AS (
    SELECT
        run_campaign AS campaign, run_id, topic_id, any_value(topic_name) AS name,
        date_trunc('hour', created_at) AS hour_utc,
        count(*) FILTER (flag IS NULL) AS posts,
        count(*) FILTER (flag IS NOT NULL) AS flagged_posts,
        coalesce(sum(engagement) FILTER (flag IS NULL), 0)::BIGINT AS engagement,
        count(sentiment) FILTER (flag IS NULL) AS labelled,
        count(*) FILTER (flag IS NULL AND sentiment = 'positive') AS positive,
        count(*) FILTER (flag IS NULL AND sentiment = 'neutral') AS neutral,
        count(*) FILTER (flag IS NULL AND sentiment = 'negative') AS negative,
        avg((copyright = 'concern')::INTEGER) FILTER (flag IS NULL) AS concern_share
    FROM post_topic_facts
    GROUP BY ALL
)
SELECT
    campaign, run_id, topic_id, name, hour_utc, posts, flagged_posts,
    posts / nullif(sum(posts) OVER (PARTITION BY run_id, hour_utc), 0) AS share,
    engagement,
    CASE WHEN labelled = 0 THEN NULL
         WHEN negative >= positive AND negative >= neutral THEN 'negative'
         WHEN positive >= neutral THEN 'positive' ELSE 'neutral' END AS dominant_sentiment,
    concern_share
FROM bins;

CREATE VIEW topic_daily AS
WITH bins AS (
    SELECT
        run_campaign AS campaign, run_id, topic_id, any_value(topic_name) AS name,
        date_trunc('day', created_at) AS day_utc,
        count(*) FILTER (flag IS NULL) AS posts,
        count(*) FILTER (flag IS NOT NULL) AS flagged_posts,
        coalesce(sum(engagement) FILTER (flag IS NULL), 0)::BIGINT AS engagement,
        count(sentiment) FILTER (flag IS NULL) AS labelled,
        count(*) FILTER (flag IS NULL AND sentiment = 'positive') AS positive,
        count(*) FILTER (flag IS NULL AND sentiment = 'neutral') AS neutral,
        count(*) FILTER (flag IS NULL AND sentiment = 'negative') AS negative,
        avg((copyright = 'concern')::INTEGER) FILTER (flag IS NULL) AS concern_share
    FROM post_topic_facts
    GROUP BY ALL
)
SELECT
    campaign, run_id, topic_id, name, day_utc, posts, flagged_posts,
    posts / nullif(sum(posts) OVER (PARTITION BY run_id, day_utc), 0) AS share,
    engagement,
    CASE WHEN labelled = 0 THEN NULL
         WHEN negative >= positive AND negative >= neutral THEN 'negative'
         WHEN positive >= neutral THEN 'positive' ELSE 'neutral' END AS dominant_sentiment,
    concern_share
FROM bins;

-- Hourly volume by platform and language. weighted_posts counts each post 1 + ln(1 + its
-- engagement), so a viral post weighs more than a silent one, but not without bound.
CREATE VIEW volume_hourly AS
SELECT
    f.campaign, date_trunc('hour', f.created_at) AS hour_utc, f.platform, f.lang,
    count(*) FILTER (fl.post_id IS NULL) AS posts,
    count(*) FILTER (fl.post_id IS NOT NULL) AS flagged_posts,
    coalesce(sum(f.engagement) FILTER (fl.post_id IS NULL), 0)::BIGINT AS engagement,
    coalesce(sum(1 + ln(1 + f.engagement)) FILTER (fl.post_id IS NULL), 0) AS weighted_posts
FROM post_facts f
LEFT JOIN post_flags fl USING (post_id)
GROUP BY ALL;

-- Mentions of each tracked entity per hour, and its share of voice: its mentions over the
-- mentions of all the campaign's entities in that hour.
CREATE VIEW entity_hourly AS
WITH m AS (
    SELECT
        e.campaign, e.entity, date_trunc('hour', f.created_at) AS hour_utc,
        count(*) FILTER (fl.post_id IS NULL) AS mentions,
        count(*) FILTER (fl.post_id IS NOT NULL) AS flagged_mentions,
        coalesce(sum(f.engagement) FILTER (fl.post_id IS NULL), 0)::BIGINT AS engagement
    FROM post_entities e
    JOIN post_facts f USING (post_id)
    LEFT JOIN post_flags fl USING (post_id)
    GROUP BY ALL
)
SELECT
    *, mentions / nullif(sum(mentions) OVER (PARTITION BY campaign, hour_utc), 0)
        AS share_of_voice
FROM m;

-- The hype and debate indices per campaign and hour (docs/metrics.md defines them), over a
-- dense hour series: hours without posts are rows with 0 posts. Shares need 5 labelled posts.
CREATE VIEW trend_indices AS
WITH clean AS (
    SELECT f.* FROM post_facts f ANTI JOIN post_flags USING (post_id)
),
span AS (
    SELECT campaign, date_trunc('hour', min(created_at)) AS lo,
           date_trunc('hour', max(created_at)) AS hi
    FROM post_facts GROUP BY campaign
),
hours AS (
    SELECT campaign, unnest(generate_series(lo, hi, INTERVAL 1 HOUR)) AS hour_utc FROM span
),
counts AS (
    SELECT
        campaign, date_trunc('hour', created_at) AS hour_utc,
        count(*) AS posts,
        count(sentiment) AS labelled,
        count(*) FILTER (sentiment = 'positive') AS positive,
        count(*) FILTER (sentiment = 'negative') AS negative,
        count(copyright) AS copyright_labelled,
        count(*) FILTER (copyright = 'concern') AS concern
    FROM clean GROUP BY ALL
),
series AS (
    SELECT
        h.campaign, h.hour_utc, coalesce(c.posts, 0) AS posts,
        coalesce(avg(coalesce(c.posts, 0)) OVER (
            PARTITION BY h.campaign ORDER BY h.hour_utc
            ROWS BETWEEN 24 PRECEDING AND 1 PRECEDING
        ), 0) AS baseline_posts,
        coalesce(c.labelled, 0) AS labelled_posts,
        CASE WHEN c.labelled >= 5 THEN c.positive / c.labelled END AS positive_share,
        CASE WHEN c.labelled >= 5 THEN c.negative / c.labelled END AS negative_share,
        CASE WHEN c.copyright_labelled >= 5 THEN c.concern / c.copyright_labelled END
            AS concern_share
    FROM hours h
    LEFT JOIN counts c ON c.campaign IS NOT DISTINCT FROM h.campaign AND c.hour_utc = h.hour_utc
)
SELECT
    *,
    (posts + 1) / (posts + baseline_posts + 2) AS momentum,
    100 * positive_share * (posts + 1) / (posts + baseline_posts + 2) AS hype_index,
    100 * (concern_share + negative_share) / 2 AS debate_index
FROM series;

-- Campaign events on the hourly timeline.
CREATE VIEW timeline_events AS
SELECT
    e.campaign, e.event_at, date_trunc('hour', e.event_at) AS hour_utc, e.title, e.kind,
    i.posts, i.hype_index, i.debate_index
FROM events e
LEFT JOIN trend_indices i
    ON i.campaign = e.campaign AND i.hour_utc = date_trunc('hour', e.event_at);

-- Posts by engagement, ranked within their campaign, with their flag and topic (from the
-- campaign's current topic run, else the current run over all posts).
CREATE VIEW top_posts AS
SELECT
    row_number() OVER (PARTITION BY f.campaign ORDER BY f.engagement DESC, f.post_id)
        AS rank,
    f.campaign, f.post_id, f.created_at, f.platform, f.author_id, a.handle AS author_handle,
    f.engagement, p.text, fl.flag, fl.cluster_id,
    coalesce(tc.topic_id, ta.topic_id) AS topic_id,
    coalesce(tc.topic_name, ta.topic_name) AS topic_name
FROM post_facts f
JOIN posts p USING (post_id)
LEFT JOIN authors a ON a.author_id = f.author_id
LEFT JOIN post_flags fl ON fl.post_id = f.post_id
LEFT JOIN post_topic_facts tc ON tc.post_id = f.post_id AND tc.run_campaign = f.campaign
LEFT JOIN post_topic_facts ta ON ta.post_id = f.post_id AND ta.run_campaign IS NULL;

-- Accounts by engagement, with how many of their posts are flagged.
CREATE VIEW top_authors AS
SELECT
    row_number() OVER (PARTITION BY f.campaign ORDER BY sum(f.engagement) DESC, f.author_id)
        AS rank,
    f.campaign, f.author_id, any_value(a.handle) AS handle, any_value(a.platform) AS platform,
    any_value(a.followers) AS followers,
    count(*) AS posts,
    sum(f.engagement)::BIGINT AS engagement,
    count(fl.post_id) AS flagged_posts,
    count(*) FILTER (fl.flag = 'bot_like') > 0 AS bot_like
FROM post_facts f
LEFT JOIN authors a USING (author_id)
LEFT JOIN post_flags fl USING (post_id)
WHERE f.author_id IS NOT NULL
GROUP BY f.campaign, f.author_id;
