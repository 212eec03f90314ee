-- Benchmark 5, baseline: the same by hand, in one transaction: append to the
-- log, two newest-wins upserts, add to the hour's tile, append the event
-- the continuous max reads.
\set id random(0, :nkeys - 1)
\set v random(0, 1023)
\set s random(0, 1048575)
BEGIN;
INSERT INTO bl4.log VALUES ('u' || :id::text, now(), :v::bigint, :s::float8 / 1048576);
INSERT INTO bl4.online_a AS o VALUES ('u' || :id::text, now(), :v::bigint, nextval('bl.ingest_seq')) ON CONFLICT (user_id) DO UPDATE SET ts = excluded.ts, clicks = excluded.clicks, ingest_id = excluded.ingest_id WHERE (o.ts, o.ingest_id) < (excluded.ts, excluded.ingest_id);
INSERT INTO bl4.online_b AS o VALUES ('u' || :id::text, now(), :s::float8 / 1048576, nextval('bl.ingest_seq')) ON CONFLICT (user_id) DO UPDATE SET ts = excluded.ts, score = excluded.score, ingest_id = excluded.ingest_id WHERE (o.ts, o.ingest_id) < (excluded.ts, excluded.ingest_id);
INSERT INTO bl4.tiles AS t VALUES ('u' || :id::text, date_trunc('hour', now()), :v::bigint) ON CONFLICT (user_id, hour) DO UPDATE SET clicks_sum = t.clicks_sum + excluded.clicks_sum;
INSERT INTO bl4.events VALUES ('u' || :id::text, now(), :s::float8 / 1048576);
COMMIT;
