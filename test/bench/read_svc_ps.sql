-- Benchmark 7, pushsource side: one key's features from a feature service
-- over three views (fv: clicks, score; fv4a: clicks; fv4b: score).
\set id random(0, :nkeys - 1)
SELECT pushsource.fs_get_online_features('svc3', jsonb_build_object('user_id', 'u' || :id::text));
