-- Benchmark 4, pushsource side: the features of one key.
\set id random(0, :nkeys - 1)
SELECT pushsource.fs_get_online_features('fv', jsonb_build_object('user_id', 'u' || :id::text));
