-- 0011: who owns a run while it is `running`, so that a run whose process was killed (the
-- OOM killer, SIGKILL, a power cut) can be told from one still going and closed as
-- `interrupted` by the next command that opens the warehouse read-write
-- (warehouse/writes.py mark_interrupted_runs). NULL in rows written before this version.
--   owner_host   the host name of the process that started the run
--   owner_pid    its process id on that host
--   owner_start  when that process started, as the OS tells it (Linux: boot id and start
--                tick), so a later process given the same pid is not taken for the owner

ALTER TABLE collection_runs ADD COLUMN owner_host VARCHAR;
ALTER TABLE collection_runs ADD COLUMN owner_pid INTEGER;
ALTER TABLE collection_runs ADD COLUMN owner_start VARCHAR;

ALTER TABLE analysis_runs ADD COLUMN owner_host VARCHAR;
ALTER TABLE analysis_runs ADD COLUMN owner_pid INTEGER;
ALTER TABLE analysis_runs ADD COLUMN owner_start VARCHAR;

-- Runs still `running` now were started by an older hypewatch, which refuses to open a
-- warehouse at this version: they can never be closed by their process any more.
UPDATE collection_runs SET status = 'interrupted', ended_at = now()::TIMESTAMP,
    error = coalesce(error, 'the process ended without closing the run (found when the '
        || 'warehouse was upgraded to schema version 11)')
WHERE status = 'running';

UPDATE analysis_runs SET status = 'interrupted', ended_at = now()::TIMESTAMP,
    error = coalesce(error, 'the process ended without closing the run (found when the '
        || 'warehouse was upgraded to schema version 11)')
WHERE status = 'running';
