-- 0001: the foundation schema. Times are TIMESTAMP holding UTC wall-clock values.

CREATE TABLE campaigns (
    campaign     VARCHAR PRIMARY KEY,
    title        VARCHAR,
    description  VARCHAR,
    start_at     TIMESTAMP,
    end_at       TIMESTAMP,
    config       JSON,
    loaded_at    TIMESTAMP NOT NULL
);

CREATE TABLE posts (
    post_id          VARCHAR PRIMARY KEY,
    platform         VARCHAR NOT NULL,
    native_id        VARCHAR NOT NULL,
    campaign         VARCHAR,
    author_id        VARCHAR,
    created_at       TIMESTAMP NOT NULL,
    collected_at     TIMESTAMP NOT NULL,
    lang             VARCHAR,
    text             VARCHAR NOT NULL,
    url              VARCHAR,
    reply_to_id      VARCHAR,
    quote_of_id      VARCHAR,
    repost_of_id     VARCHAR,
    conversation_id  VARCHAR,
    hashtags         VARCHAR[]
);

CREATE TABLE authors (
    author_id     VARCHAR PRIMARY KEY,
    platform      VARCHAR NOT NULL,
    native_id     VARCHAR NOT NULL,
    handle        VARCHAR,
    display_name  VARCHAR,
    followers     BIGINT,
    following     BIGINT,
    post_count    BIGINT,
    verified      BOOLEAN,
    created_at    TIMESTAMP,
    first_seen    TIMESTAMP NOT NULL,
    last_seen     TIMESTAMP NOT NULL
);

CREATE TABLE post_metrics (
    post_id      VARCHAR NOT NULL,
    observed_at  TIMESTAMP NOT NULL,
    likes        BIGINT,
    reposts      BIGINT,
    replies      BIGINT,
    quotes       BIGINT,
    views        BIGINT
);

CREATE TABLE raw_payloads (
    post_id       VARCHAR NOT NULL,
    format        VARCHAR NOT NULL,
    collected_at  TIMESTAMP NOT NULL,
    payload_md5   VARCHAR NOT NULL,
    payload       VARCHAR NOT NULL
);

CREATE SEQUENCE collection_run_ids START 1;
CREATE TABLE collection_runs (
    run_id         BIGINT PRIMARY KEY DEFAULT nextval('collection_run_ids'),
    source         VARCHAR NOT NULL,
    campaign       VARCHAR,
    query          VARCHAR,
    cursor_before  VARCHAR,
    cursor_after   VARCHAR,
    started_at     TIMESTAMP NOT NULL,
    ended_at       TIMESTAMP,
    requests       BIGINT NOT NULL DEFAULT 0,
    fetched        BIGINT NOT NULL DEFAULT 0,
    new            BIGINT NOT NULL DEFAULT 0,
    updated        BIGINT NOT NULL DEFAULT 0,
    rejected       BIGINT NOT NULL DEFAULT 0,
    status         VARCHAR NOT NULL,
    error          VARCHAR
);

CREATE TABLE rejects (
    run_id       BIGINT,
    format       VARCHAR NOT NULL,
    reason       VARCHAR NOT NULL,
    payload      VARCHAR,
    rejected_at  TIMESTAMP NOT NULL
);

CREATE TABLE labels (
    post_id     VARCHAR NOT NULL,
    task        VARCHAR NOT NULL,
    label       VARCHAR NOT NULL,
    score       DOUBLE NOT NULL,
    probs       MAP(VARCHAR, DOUBLE),
    model_id    VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (post_id, task, model_id)
);

CREATE TABLE embeddings (
    post_id     VARCHAR NOT NULL,
    model_id    VARCHAR NOT NULL,
    embedding   FLOAT[384] NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (post_id, model_id)
);

CREATE TABLE events (
    campaign     VARCHAR NOT NULL,
    event_at     TIMESTAMP NOT NULL,
    title        VARCHAR NOT NULL,
    kind         VARCHAR,
    description  VARCHAR,
    url          VARCHAR
);

CREATE TABLE entities (
    campaign  VARCHAR NOT NULL,
    entity    VARCHAR NOT NULL,
    kind      VARCHAR,
    aliases   VARCHAR[] NOT NULL,
    PRIMARY KEY (campaign, entity)
);

CREATE TABLE simulated_truth (
    post_id    VARCHAR PRIMARY KEY,
    storyline  VARCHAR NOT NULL,
    sentiment  VARCHAR NOT NULL,
    copyright  VARCHAR NOT NULL,
    is_spam    BOOLEAN NOT NULL
);

CREATE VIEW latest_metrics AS
SELECT * EXCLUDE (rn) FROM (
    SELECT *, row_number() OVER (PARTITION BY post_id ORDER BY observed_at DESC) AS rn
    FROM post_metrics
) WHERE rn = 1;

CREATE VIEW posts_enriched AS
SELECT
    p.post_id, p.platform, p.campaign, p.created_at, p.lang, p.text, p.url,
    p.author_id, a.handle AS author_handle, a.followers AS author_followers,
    p.reply_to_id, p.quote_of_id, p.repost_of_id, p.conversation_id, p.hashtags,
    coalesce(m.likes, 0) AS likes, coalesce(m.reposts, 0) AS reposts,
    coalesce(m.replies, 0) AS replies, coalesce(m.quotes, 0) AS quotes, m.views,
    coalesce(m.likes, 0) + coalesce(m.reposts, 0) + coalesce(m.replies, 0)
        + coalesce(m.quotes, 0) AS engagement,
    p.post_id IN (SELECT post_id FROM simulated_truth) AS is_simulated
FROM posts p
LEFT JOIN authors a USING (author_id)
LEFT JOIN latest_metrics m USING (post_id);
