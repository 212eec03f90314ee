-- Benchmark 6, baseline: the same 100 keys by hand, one SELECT ... = ANY of
-- the same list of bench.keysets as a text array.
\set c random(0, 999)
SELECT user_id, clicks, score FROM bl.online
WHERE user_id = ANY ((SELECT arr FROM bench.keysets WHERE c = :c)::text[]);
