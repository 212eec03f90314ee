-- Benchmark 6, pushsource side: the features of 100 keys in one call.
\set id random(0, :nkeys - 1)
SELECT pushsource.fs_get_online_features('fv',
    (SELECT jsonb_agg(jsonb_build_object('user_id', 'u' || ((:id + i * 997) % :nkeys)::text) ORDER BY i)
       FROM generate_series(1, 100) i));
