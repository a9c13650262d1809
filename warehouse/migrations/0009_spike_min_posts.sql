-- 0009: spikes record the minimum posts per hour their rule used, next to the window and
-- threshold they already record, so the dashboard and reports state the rule from the data
-- (not from this process's settings). Spikes stored before this migration have NULL.

ALTER TABLE spikes ADD COLUMN min_posts INTEGER;
