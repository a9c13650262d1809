-- 0012: which engine ran an analysis (`hypewatch analyze --engine local|ray`) and with how
-- many workers (Ray actors), so runs on one machine and on a cluster can be compared.
--   engine   `local` (this process) or `ray` (an actor pool on a Ray cluster)
--   workers  Ray actors (NULL for local runs)

ALTER TABLE analysis_runs ADD COLUMN engine VARCHAR DEFAULT 'local';
ALTER TABLE analysis_runs ADD COLUMN workers INTEGER;
