-- 0010: the detected language of every post beside the platform's own tag (issue #14), and
-- the one rule for the language the dashboard shows.
--
-- Detections live in their own append-only table, not in new columns of posts: posts is
-- written by ingest alone (its upsert compares and rewrites the platform's fields), and the
-- dashboard's incremental refresh finds changed posts through new rows of append-only tables
-- (warehouse/aggregates.py); an UPDATE of posts would be invisible to it. Like labels, a
-- detection names the detector that made it; a post's current detection is its latest.

CREATE TABLE language_detections (
    post_id      VARCHAR NOT NULL,
    detector     VARCHAR NOT NULL,
    lang         VARCHAR NOT NULL,
    confidence   FLOAT NOT NULL,
    detected_at  TIMESTAMP NOT NULL
);

-- A platform's language tag as an ISO 639-1 code: the primary subtag, lower-cased
-- ('en-US' -> 'en', 'zh_Hant' -> 'zh'), old or alternative codes mapped to fastText's
-- ('iw' -> 'he', 'in' -> 'id', 'ji' -> 'yi', 'nb' -> 'no', 'fil' -> 'tl'); NULL for no tag
-- and for the tags that say "no language" (X's und, zxx, qme, qht, qam, qct, qst, art).
CREATE MACRO lang_primary(tag) AS lower(split_part(replace(trim(tag), '_', '-'), '-', 1));

CREATE MACRO lang_tag(tag) AS
    CASE lang_primary(tag)
        WHEN '' THEN NULL
        WHEN 'und' THEN NULL WHEN 'zxx' THEN NULL WHEN 'mul' THEN NULL WHEN 'mis' THEN NULL
        WHEN 'qme' THEN NULL WHEN 'qht' THEN NULL WHEN 'qam' THEN NULL WHEN 'qct' THEN NULL
        WHEN 'qst' THEN NULL WHEN 'art' THEN NULL
        WHEN 'iw' THEN 'he' WHEN 'in' THEN 'id' WHEN 'ji' THEN 'yi' WHEN 'nb' THEN 'no'
        WHEN 'fil' THEN 'tl'
        ELSE lang_primary(tag)
    END;

-- THE rule for the language the dashboard shows (post_facts.lang and every chart, filter
-- and "by language" bar built on it): a confident detection wins (when the platform's tag
-- agrees, it is the same code); a detection that is `und` (too few letters, or fastText's
-- probability under the detector's threshold) or missing leaves the platform's tag; `und`
-- when there is neither.
CREATE MACRO lang_effective(tag, detected) AS
    CASE WHEN detected IS NOT NULL AND detected <> 'und' THEN detected
         ELSE coalesce(lang_tag(tag), 'und') END;

-- True when the platform tagged the post with one language and a confident detection says
-- another (e.g. Bluesky's 'fr' on an English post): the tag is kept, flagged.
CREATE MACRO lang_mismatch(tag, detected) AS
    coalesce(lang_tag(tag) <> detected AND detected <> 'und', false);

CREATE VIEW post_languages AS
WITH d AS (
    SELECT * FROM language_detections
    QUALIFY row_number() OVER (PARTITION BY post_id ORDER BY detected_at DESC, detector DESC) = 1
)
SELECT
    p.post_id,
    p.lang AS lang_platform,
    d.lang AS lang_detected,
    d.confidence AS lang_confidence,
    d.detector,
    lang_effective(p.lang, d.lang) AS lang_effective,
    lang_mismatch(p.lang, d.lang) AS lang_mismatch
FROM posts p
LEFT JOIN d USING (post_id);

CREATE OR REPLACE VIEW posts_enriched AS
SELECT
    p.post_id, p.platform, p.campaign, p.created_at, p.lang,
    l.lang_detected, l.lang_confidence, l.lang_effective, l.lang_mismatch,
    p.text, p.url,
    p.author_id, a.handle AS author_handle, a.followers AS author_followers,
    p.reply_to_id, p.quote_of_id, p.repost_of_id, p.conversation_id, p.hashtags,
    coalesce(m.likes, 0) AS likes, coalesce(m.reposts, 0) AS reposts,
    coalesce(m.replies, 0) AS replies, coalesce(m.quotes, 0) AS quotes, m.views,
    coalesce(m.likes, 0) + coalesce(m.reposts, 0) + coalesce(m.replies, 0)
        + coalesce(m.quotes, 0) AS engagement,
    p.post_id IN (SELECT post_id FROM simulated_truth) AS is_simulated
FROM posts p
LEFT JOIN post_languages l USING (post_id)
LEFT JOIN authors a USING (author_id)
LEFT JOIN latest_metrics m USING (post_id);

CREATE OR REPLACE VIEW post_facts_live AS
SELECT
    p.post_id,
    p.campaign,
    p.platform,
    lang_effective(p.lang, d.lang_detected) AS lang,
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
LEFT JOIN post_languages d USING (post_id)
LEFT JOIN latest_metrics m USING (post_id)
LEFT JOIN post_labels l USING (post_id)
LEFT JOIN simulated_truth t USING (post_id);

-- The stored aggregates take the rule now (no post is detected yet: the normalized tag);
-- the refresh after the next `hypewatch analyze` brings in the detections.
UPDATE post_facts f SET lang = lang_effective(p.lang, NULL)
FROM posts p
WHERE p.post_id = f.post_id AND f.lang IS DISTINCT FROM lang_effective(p.lang, NULL);

UPDATE post_entities e SET lang = f.lang
FROM post_facts f
WHERE f.post_id = e.post_id AND e.lang IS DISTINCT FROM f.lang;

UPDATE topic_facts t SET lang = f.lang
FROM post_facts f
WHERE f.post_id = t.post_id AND t.lang IS DISTINCT FROM f.lang;

UPDATE post_signatures s SET lang = f.lang
FROM post_facts f
WHERE f.post_id = s.post_id AND s.lang IS DISTINCT FROM f.lang;
