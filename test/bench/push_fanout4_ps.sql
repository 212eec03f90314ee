-- Benchmark 5, pushsource side: one record per call into a source with four
-- online-only views (two attribute, a tiled sum, a continuous max).
\set id random(0, :nkeys - 1)
\set v random(0, 1023)
\set s random(0, 1048575)
SELECT pushsource.fs_push('ev4', jsonb_build_object('user_id', 'u' || :id::text, 'ts', now(), 'clicks', :v::bigint, 'score', :s::float8 / 1048576));
