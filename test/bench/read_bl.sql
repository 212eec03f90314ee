-- Benchmark 4, baseline: primary-key SELECT on a plain table.
\set id random(0, :nkeys - 1)
SELECT * FROM bl.online WHERE user_id = 'u' || :id::text;
