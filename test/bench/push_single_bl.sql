-- Benchmark 3, baseline: what a client does without pushsource, as two
-- statements in one transaction: append the event to the log table, then a
-- newest-wins upsert into the online table (no history insert: the target
-- compares with "single-row INSERT + upsert").
\set id random(0, :nkeys - 1)
\set v random(0, 1023)
\set s random(0, 1048575)
BEGIN;
INSERT INTO bl.log VALUES ('u' || :id::text, now(), :v::bigint, :s::float8 / 1048576);
INSERT INTO bl.online AS o VALUES ('u' || :id::text, now(), :v::bigint, :s::float8 / 1048576, nextval('bl.ingest_seq')) ON CONFLICT (user_id) DO UPDATE SET ts = excluded.ts, clicks = excluded.clicks, score = excluded.score, ingest_id = excluded.ingest_id WHERE (o.ts, o.ingest_id) < (excluded.ts, excluded.ingest_id);
COMMIT;
