-- 0002: bookkeeping for analysis runs, and a last-write marker readers can cache on.

CREATE SEQUENCE analysis_run_ids START 1;
CREATE TABLE analysis_runs (
    run_id       BIGINT PRIMARY KEY DEFAULT nextval('analysis_run_ids'),
    stage        VARCHAR NOT NULL,
    campaign     VARCHAR,
    models       VARCHAR[],
    device       VARCHAR,
    backend      VARCHAR,
    posts        BIGINT NOT NULL DEFAULT 0,
    seconds      DOUBLE,
    started_at   TIMESTAMP NOT NULL,
    ended_at     TIMESTAMP,
    status       VARCHAR NOT NULL,
    error        VARCHAR
);

CREATE TABLE write_marks (
    stage       VARCHAR PRIMARY KEY,
    written_at  TIMESTAMP NOT NULL,
    rows        BIGINT NOT NULL
);
