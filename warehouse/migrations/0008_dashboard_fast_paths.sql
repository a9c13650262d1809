-- 0008: tables and columns that let the Posts and Topics pages read a large warehouse
-- without joining a million rows to a million (issue #6):
-- post_facts.text_lc, the lower-cased text ("text contains" scans it in place of joining
-- posts), in post_entities the rest of the post's facts (the entity filter reads
-- post_entities alone instead of joining post_facts), and topic_facts (below).

ALTER TABLE post_facts ADD COLUMN text_lc VARCHAR;
ALTER TABLE post_entities ADD COLUMN sentiment_score DOUBLE;
ALTER TABLE post_entities ADD COLUMN copyright VARCHAR;
ALTER TABLE post_entities ADD COLUMN concern_prob DOUBLE;
ALTER TABLE post_entities ADD COLUMN is_simulated BOOLEAN;

CREATE OR REPLACE VIEW post_facts_live AS
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
    t.post_id IS NOT NULL AS is_simulated,
    lower(p.text) AS text_lc
FROM posts p
LEFT JOIN latest_metrics m USING (post_id)
LEFT JOIN post_labels l USING (post_id)
LEFT JOIN simulated_truth t USING (post_id);

CREATE OR REPLACE VIEW post_entities_live AS
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
       f.sentiment, f.sentiment_score, f.copyright, f.concern_prob, f.is_simulated
FROM mentions m
JOIN post_facts_live f USING (post_id);

-- Fill the new columns of the rows already there (no refresh needed after upgrading).
UPDATE post_facts f SET text_lc = lower(p.text) FROM posts p WHERE p.post_id = f.post_id;

UPDATE post_entities e
SET sentiment_score = f.sentiment_score, copyright = f.copyright,
    concern_prob = f.concern_prob, is_simulated = f.is_simulated
FROM post_facts f
WHERE f.post_id = e.post_id;

-- Topic assignments with the post's facts and near-duplicate/bot flag: what the Topics
-- page counts, without joining post_topics to post_facts and post_flags (a million rows
-- each) at query time. Materializes topic_facts_live; maintained by refresh_aggregates()
-- (new post_topics rows, posts whose facts changed, any change of post_flags).
CREATE VIEW topic_facts_live AS
SELECT pt.run_id, pt.post_id, pt.topic_id, f.campaign, f.platform, f.lang, f.created_at,
       f.engagement, f.sentiment, f.copyright, fl.flag
FROM post_topics pt
JOIN post_facts_live f USING (post_id)
LEFT JOIN post_flags fl USING (post_id);

CREATE TABLE topic_facts (
    run_id      BIGINT NOT NULL,
    post_id     VARCHAR NOT NULL,
    topic_id    INTEGER NOT NULL,
    campaign    VARCHAR,
    platform    VARCHAR NOT NULL,
    lang        VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    engagement  BIGINT NOT NULL,
    sentiment   VARCHAR,
    copyright   VARCHAR,
    flag        VARCHAR
);

-- Fill it from the refreshed facts and record what it saw, when the aggregates were ever
-- refreshed (else the first refresh builds everything).
INSERT INTO topic_facts
SELECT pt.run_id, pt.post_id, pt.topic_id, f.campaign, f.platform, f.lang, f.created_at,
       f.engagement, f.sentiment, f.copyright, fl.flag
FROM post_topics pt
JOIN post_facts f USING (post_id)
LEFT JOIN post_flags fl USING (post_id)
WHERE EXISTS (SELECT 1 FROM aggregate_state)
ORDER BY f.created_at;

INSERT INTO aggregate_state
SELECT 'rows:post_topics', (SELECT coalesce(max(rowid) + 1, 0) FROM post_topics)::VARCHAR
WHERE EXISTS (SELECT 1 FROM aggregate_state)
UNION ALL
SELECT 'flags', (
    SELECT count(*) || ':' || coalesce(bit_xor(hash(post_id, flag)), 0) FROM post_flags
)
WHERE EXISTS (SELECT 1 FROM aggregate_state);
