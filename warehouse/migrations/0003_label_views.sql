-- 0003: the labels of the current model per task, one row per post.

CREATE VIEW current_models AS
SELECT task, arg_max(model_id, created_at) AS model_id, max(created_at) AS labelled_at
FROM labels
GROUP BY task;

CREATE VIEW post_labels AS
WITH current AS (
    SELECT l.* FROM labels l JOIN current_models USING (task, model_id)
)
SELECT
    p.post_id,
    s.label AS sentiment,
    s.score AS sentiment_score,
    c.label AS copyright,
    CASE c.label WHEN 'concern' THEN c.score ELSE 1 - c.score END AS concern_prob
FROM posts p
LEFT JOIN (SELECT * FROM current WHERE task = 'sentiment') s USING (post_id)
LEFT JOIN (SELECT * FROM current WHERE task = 'copyright') c USING (post_id);
