-- Benchmark 3, pushsource side: one record per call, one call per transaction.
\set id random(0, :nkeys - 1)
\set v random(0, 1023)
\set s random(0, 1048575)
SELECT pushsource.fs_push('ev', jsonb_build_object('user_id', 'u' || :id::text, 'ts', now(), 'clicks', :v::bigint, 'score', :s::float8 / 1048576));
