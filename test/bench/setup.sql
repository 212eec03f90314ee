-- Objects of the pushsource benchmarks (test/bench/run.sh).
--
-- pushsource side: entity "user", push source "ev" (table pushsource_source.ev,
-- which the extension indexes on ts), attribute feature view "fv" with an
-- online store (PK on user_id) and an offline store (no index).
--
-- baseline side, schema bl: plain tables with the same columns and the same
-- indexes: bl.log like pushsource_source.ev (index on ts), bl.online like
-- fv_online (PK on user_id, plus an ingest-order column as the tie-breaker of
-- newest-wins, like _fs_ingest_id), bl.hist like fv_offline (no index).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION pushsource;
SELECT pushsource.fs_create_entity('user', ARRAY['user_id']);
SELECT pushsource.fs_create_push_source('ev',
    'user_id String, ts Timestamp, clicks Int64, score Float64', 'ts');
SELECT pushsource.fs_create_feature_view('fv', 'ev', ARRAY['user']);

CREATE SCHEMA bl;
CREATE TABLE bl.log (user_id text, ts timestamptz, clicks bigint, score double precision);
-- the same indexes as the push source table, whatever the extension creates
-- there (a BRIN or btree on ts): copied from pg_index
DO $$
DECLARE d text;
BEGIN
    FOR d IN SELECT pg_get_indexdef(indexrelid) FROM pg_index
              WHERE indrelid = 'pushsource_source.ev'::regclass ORDER BY indexrelid LOOP
        EXECUTE regexp_replace(d, '^CREATE (UNIQUE )?INDEX \S+ ON pushsource_source\.ev ', 'CREATE \1INDEX ON bl.log ');
    END LOOP;
END
$$;
CREATE TABLE bl.online (user_id text NOT NULL, ts timestamptz NOT NULL, clicks bigint,
                        score double precision, ingest_id bigint NOT NULL, PRIMARY KEY (user_id));
CREATE TABLE bl.hist (user_id text NOT NULL, ts timestamptz NOT NULL, clicks bigint,
                      score double precision, ingest_id bigint NOT NULL);
CREATE SEQUENCE bl.ingest_seq;

CREATE SCHEMA bench;

-- The deterministic input of every benchmark: event i of a stream, from
-- hashes of i (not random()), so both sides get exactly the same rows.
-- nkeys distinct user ids 'u0'..'u<nkeys-1>', timestamps spread over 30 days
-- (millisecond resolution) in random order, an int8 and a float8 feature.
-- IMMUTABLE, not STRICT, one SELECT: the planner inlines it (no extra
-- materialization on either side).
CREATE FUNCTION bench.gen(lo bigint, hi bigint, nkeys int)
RETURNS TABLE (i bigint, user_id text, ts timestamptz, clicks bigint, score double precision)
LANGUAGE sql IMMUTABLE AS $$
    SELECT g,
           'u' || ((hashint8extended(g, 1) & 9223372036854775807) % nkeys),
           timestamptz '2024-01-01 00:00:00+00'
             + ((hashint8extended(g, 2) & 9223372036854775807) % 2592000000) * interval '1 millisecond',
           (hashint8extended(g, 3) & 1023),
           (hashint8extended(g, 4) & 1048575) / 1048576.0::float8
      FROM generate_series(lo, hi) g
$$;

-- Every key exactly once (seed of the pgbench benchmarks).
CREATE FUNCTION bench.gen_each_key(nkeys int)
RETURNS TABLE (i bigint, user_id text, ts timestamptz, clicks bigint, score double precision)
LANGUAGE sql IMMUTABLE AS $$
    SELECT g.i, 'u' || (g.i - 1), g.ts, g.clicks, g.score FROM bench.gen(1, nkeys, nkeys) g
$$;

-- Benchmark 2 input: prebuilt JSON arrays of 1,000 records, one per row.
CREATE TABLE bench.batches (id int PRIMARY KEY, n int NOT NULL, records jsonb NOT NULL);

-- Benchmark 2, pushsource side: one fs_push call per batch, one transaction
-- per batch (COMMIT in the loop), as a client pushing batches would.
CREATE PROCEDURE bench.ps_batches(nb int) LANGUAGE plpgsql AS $$
DECLARE
    j jsonb;
    cnt int;
    res jsonb;
BEGIN
    FOR b IN 1 .. nb LOOP
        SELECT records, n INTO STRICT j, cnt FROM bench.batches WHERE id = b;
        res := pushsource.fs_push('ev', j);
        IF (res ->> 'records')::int IS DISTINCT FROM cnt OR (res ->> 'rejected')::int <> 0 THEN
            RAISE EXCEPTION 'fs_push of batch % returned %', b, res;
        END IF;
        COMMIT;
    END LOOP;
END
$$;

-- Benchmark 2, baseline: the same batches, the same transactions, by hand.
-- What a good DBA would write: parse the JSON once (MATERIALIZED CTE over
-- jsonb_to_recordset, with ordinality as the batch-local ingest order), then
-- in the same statement append it to the log and the history table and do a
-- newest-wins upsert of the newest record per key (DISTINCT ON: a batch may
-- hold a key twice, which ON CONFLICT DO UPDATE cannot take).
CREATE PROCEDURE bench.bl_batches(nb int) LANGUAGE plpgsql AS $$
DECLARE
    j jsonb;
    cnt int;
    base bigint;
BEGIN
    FOR b IN 1 .. nb LOOP
        SELECT records, n INTO STRICT j, cnt FROM bench.batches WHERE id = b;
        base := nextval('bl.ingest_seq') << 24;
        WITH r AS MATERIALIZED (
                 SELECT x.user_id, x.ts, x.clicks, x.score, base + x.n AS ingest_id
                   FROM ROWS FROM (jsonb_to_recordset(j) AS (user_id text, ts timestamptz,
                                                             clicks bigint, score double precision))
                        WITH ORDINALITY AS x(user_id, ts, clicks, score, n)),
             l AS (INSERT INTO bl.log SELECT user_id, ts, clicks, score FROM r),
             h AS (INSERT INTO bl.hist SELECT user_id, ts, clicks, score, ingest_id FROM r)
        INSERT INTO bl.online AS o
        SELECT DISTINCT ON (user_id) user_id, ts, clicks, score, ingest_id
          FROM r ORDER BY user_id, ts DESC, ingest_id DESC
        ON CONFLICT (user_id) DO UPDATE
           SET ts = excluded.ts, clicks = excluded.clicks, score = excluded.score,
               ingest_id = excluded.ingest_id
         WHERE (o.ts, o.ingest_id) < (excluded.ts, excluded.ingest_id);
        COMMIT;
    END LOOP;
END
$$;

-- Benchmark 5: one source feeding four views, online only (2 attribute,
-- 2 aggregate: tiled sum, continuous max), against the hand-written
-- equivalent in schema bl4: the log insert, two newest-wins upserts, an
-- upsert into per-hour tiles and an event append, in one transaction.
SELECT pushsource.fs_create_push_source('ev4',
    'user_id String, ts Timestamp, clicks Int64, score Float64', 'ts');
SELECT pushsource.fs_create_feature_view('fv4a', 'ev4', ARRAY['user'], features => ARRAY['clicks'], offline => false);
SELECT pushsource.fs_create_feature_view('fv4b', 'ev4', ARRAY['user'], features => ARRAY['score'], offline => false);
SELECT pushsource.fs_create_feature_view('fv4s', 'ev4', ARRAY['user'],
    aggregations => ARRAY[pushsource.fs_agg('clicks', 'sum', '1 day')], aggregation_interval => '1 hour', offline => false);
SELECT pushsource.fs_create_feature_view('fv4c', 'ev4', ARRAY['user'],
    aggregations => ARRAY[pushsource.fs_agg('score', 'max', '1 hour')], offline => false);
CREATE SCHEMA bl4;
CREATE TABLE bl4.log (LIKE bl.log);
CREATE INDEX ON bl4.log USING brin (ts);
CREATE TABLE bl4.online_a (user_id text PRIMARY KEY, ts timestamptz NOT NULL, clicks bigint, ingest_id bigint NOT NULL);
CREATE TABLE bl4.online_b (user_id text PRIMARY KEY, ts timestamptz NOT NULL, score double precision, ingest_id bigint NOT NULL);
CREATE TABLE bl4.tiles (user_id text, hour timestamptz, clicks_sum bigint, PRIMARY KEY (user_id, hour));
CREATE TABLE bl4.events (user_id text NOT NULL, ts timestamptz NOT NULL, score double precision);
CREATE INDEX ON bl4.events (user_id, ts);

-- Benchmark 7: a feature service over three attribute views (fv, and fv4a
-- and fv4b once benchmark 5 has filled them), one key per call, against
-- the hand-written join of the baseline's three tables on the key.
SELECT pushsource.fs_create_feature_service('svc3', ARRAY['fv', 'fv4a', 'fv4b']);

-- Benchmark 6 input: 1,000 lists of 100 keys, each as a client would send
-- it: JSON objects for fs_get_online_features, a text array for the
-- baseline's = ANY.  Both sides read their list by primary key, so the
-- lists cost the same on both and neither builds JSON in SQL per call.
CREATE TABLE bench.keysets (c int PRIMARY KEY, keys jsonb NOT NULL, arr text[] NOT NULL);
INSERT INTO bench.keysets
SELECT c, (SELECT jsonb_agg(jsonb_build_object('user_id', 'u' || ((c + i * 997) % :nkeys)) ORDER BY i) FROM generate_series(1, 100) i),
       ARRAY(SELECT 'u' || ((c + i * 997) % :nkeys) FROM generate_series(1, 100) i ORDER BY i)
  FROM generate_series(0, 999) c;
