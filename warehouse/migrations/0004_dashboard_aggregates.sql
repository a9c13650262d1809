-- 0004: pre-aggregated per-post tables for the dashboard, refreshed by
-- warehouse.aggregates.refresh_aggregates() after each write stage. The *_live views define
-- what post_facts and post_entities hold; the tables are their materialization.

CREATE VIEW post_facts_live AS
SELECT
    p.post_id,
    p.campaign,
    p.platform,
    coalesce(p.lang, 'und') AS lang,
    p.created_at,
    p.author_id,
    coalesce(m.likes, 0) + coalesce(m.reposts, 0) + coalesce(m.replies, 0)
        + coalesce(m.quotes, 0) AS engagement,
    l.sentiment,
    l.sentiment_score,
    l.copyright,
    l.concern_prob,
    t.post_id IS NOT NULL AS is_simulated
FROM posts p
LEFT JOIN latest_metrics m USING (post_id)
LEFT JOIN post_labels l USING (post_id)
LEFT JOIN simulated_truth t USING (post_id);

CREATE TABLE post_facts (
    post_id          VARCHAR NOT NULL,
    campaign         VARCHAR,
    platform         VARCHAR NOT NULL,
    lang             VARCHAR NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    author_id        VARCHAR,
    engagement       BIGINT NOT NULL,
    sentiment        VARCHAR,
    sentiment_score  DOUBLE,
    copyright        VARCHAR,
    concern_prob     DOUBLE,
    is_simulated     BOOLEAN NOT NULL
);

-- What the aggregates were last computed from: the current model of each task
-- ('model:TASK') and the rows seen of each append-only source table ('rows:TABLE').
CREATE TABLE aggregate_state (
    name   VARCHAR NOT NULL,
    value  VARCHAR NOT NULL
);

-- An alias counts as a mention when it appears in the lower-cased text with no ASCII letter,
-- digit or underscore on either side ("reve" matches "reve's", not "revealed"; "ジブリ"
-- matches "ジブリ風"). Call it as mentions_alias(lower(text), lower(alias)).
CREATE MACRO is_word_char(c) AS
    c <> '' AND contains('abcdefghijklmnopqrstuvwxyz0123456789_', c);

CREATE MACRO mentions_alias(t, alias) AS
    contains(t, alias) AND list_bool_or([
        NOT is_word_char(right(string_split(t, alias)[i], 1))
            AND NOT is_word_char(left(string_split(t, alias)[i + 1], 1))
        FOR i IN generate_series(1, len(string_split(t, alias)) - 1)
    ]);

CREATE VIEW post_entities_live AS
WITH aliases AS (
    SELECT DISTINCT campaign, entity, lower(unnest(aliases)) AS alias FROM entities
),
mentions AS (
    SELECT DISTINCT p.post_id, a.campaign, a.entity
    FROM (SELECT post_id, campaign, lower(text) AS t FROM posts) p
    JOIN aliases a ON a.campaign = p.campaign
    WHERE mentions_alias(p.t, a.alias)
)
SELECT m.post_id, m.campaign, m.entity, f.created_at, f.platform, f.lang, f.engagement,
       f.sentiment
FROM mentions m
JOIN post_facts_live f USING (post_id);

CREATE TABLE post_entities (
    post_id     VARCHAR NOT NULL,
    campaign    VARCHAR NOT NULL,
    entity      VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    platform    VARCHAR NOT NULL,
    lang        VARCHAR NOT NULL,
    engagement  BIGINT NOT NULL,
    sentiment   VARCHAR
);

-- The entities and aliases post_entities was last computed with: when the campaign's
-- entities change, the mentions are recomputed for every post.
CREATE TABLE mention_aliases (
    campaign  VARCHAR NOT NULL,
    entity    VARCHAR NOT NULL,
    aliases   VARCHAR[] NOT NULL
);

-- Sign bits of each post's embedding (384 bits in six words): the cheap first pass of
-- "similar posts" (Hamming distance, filtered like post_facts), before the exact cosine of
-- the best candidates, fetched by embedding_row.
CREATE TABLE post_signatures (
    post_id        VARCHAR NOT NULL,
    model_id       VARCHAR NOT NULL,
    embedding_row  BIGINT NOT NULL,
    campaign       VARCHAR,
    created_at     TIMESTAMP NOT NULL,
    platform       VARCHAR NOT NULL,
    lang           VARCHAR NOT NULL,
    sig0           BIGINT NOT NULL,
    sig1           BIGINT NOT NULL,
    sig2           BIGINT NOT NULL,
    sig3           BIGINT NOT NULL,
    sig4           BIGINT NOT NULL,
    sig5           BIGINT NOT NULL
);
