-- Benchmark 6, pushsource side: the features of 100 keys in one call; the
-- list is one of bench.keysets, as a client would send it (JSON objects).
\set c random(0, 999)
SELECT pushsource.fs_get_online_features('fv', (SELECT keys FROM bench.keysets WHERE c = :c));
