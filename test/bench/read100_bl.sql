-- Benchmark 6, baseline: the same 100 keys by hand, one SELECT ... = ANY.
\set id random(0, :nkeys - 1)
SELECT user_id, clicks, score FROM bl.online
 WHERE user_id = ANY (ARRAY(SELECT 'u' || ((:id + i * 997) % :nkeys)::text FROM generate_series(1, 100) i));
