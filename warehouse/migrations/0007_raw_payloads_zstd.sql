-- 0007: raw payloads are stored with ZSTD compression. The ~1 KB JSON payload of every post
-- is by far the largest column of the warehouse; DuckDB's default string compression
-- analysis (FSST/dictionary) made each checkpoint slow and compressed JSON poorly. ZSTD
-- checkpoints about twice as fast and stores the payloads in about a third of the space.
-- DuckDB cannot change a column's compression in place, so the table is rebuilt; nothing
-- else refers to it (no views, no constraints).

CREATE TABLE raw_payloads_0007 (
    post_id       VARCHAR NOT NULL,
    format        VARCHAR NOT NULL,
    collected_at  TIMESTAMP NOT NULL,
    payload_md5   VARCHAR NOT NULL,
    payload       VARCHAR NOT NULL USING COMPRESSION zstd
);
INSERT INTO raw_payloads_0007
SELECT post_id, format, collected_at, payload_md5, payload FROM raw_payloads;
DROP TABLE raw_payloads;
ALTER TABLE raw_payloads_0007 RENAME TO raw_payloads;
