-- Objects of the aggregate-view benchmark (test/bench/agg.sh).
--
-- pushsource side: entity "user", push source "ev" (user_id, ts, amount),
-- an attribute view "fv" (amount) and an aggregate view "agg": sum(amount)
-- over 1h, 1d and 7d in 1-minute tiles; for the continuous read, a second
-- source "evc" with a continuous view "aggc" (the same three windows).
--
-- baseline side, schema bl, what a DBA would write on plain tables: the
-- log (the same indexes as pushsource_source.ev), the history of the attribute
-- view, its online table (PK user_id), and a tiles table (PK user_id,
-- tile_start) holding sum and count per minute; for the continuous read,
-- an events table with a btree on (user_id, ts), as aggc's event store.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION pushsource;
SELECT pushsource.fs_create_entity('user', ARRAY['user_id']);
SELECT pushsource.fs_create_push_source('ev', 'user_id String, ts Timestamp, amount Float64', 'ts');
SELECT pushsource.fs_create_feature_view('fv', 'ev', ARRAY['user']);
SELECT pushsource.fs_create_feature_view('agg', 'ev', ARRAY['user'],
    aggregations => ARRAY[pushsource.fs_agg('amount', 'sum', '1 hour'),
                          pushsource.fs_agg('amount', 'sum', '1 day'),
                          pushsource.fs_agg('amount', 'sum', '7 days')],
    aggregation_interval => '1 minute');
SELECT pushsource.fs_create_push_source('evc', 'user_id String, ts Timestamp, amount Float64', 'ts');
SELECT pushsource.fs_create_feature_view('aggc', 'evc', ARRAY['user'],
    aggregations => ARRAY[pushsource.fs_agg('amount', 'sum', '1 hour'),
                          pushsource.fs_agg('amount', 'sum', '1 day'),
                          pushsource.fs_agg('amount', 'sum', '7 days')],
    offline => false);

CREATE SCHEMA bl;
CREATE TABLE bl.log (user_id text, ts timestamptz, amount double precision);
DO $$
DECLARE d text;
BEGIN
    FOR d IN SELECT pg_get_indexdef(indexrelid) FROM pg_index
              WHERE indrelid = 'pushsource_source.ev'::regclass ORDER BY indexrelid LOOP
        EXECUTE regexp_replace(d, '^CREATE (UNIQUE )?INDEX \S+ ON pushsource_source\.ev ', 'CREATE \1INDEX ON bl.log ');
    END LOOP;
END
$$;
CREATE TABLE bl.hist (user_id text NOT NULL, ts timestamptz NOT NULL, amount double precision,
                      ingest_id bigint NOT NULL);
CREATE TABLE bl.online (user_id text NOT NULL PRIMARY KEY, ts timestamptz NOT NULL,
                        amount double precision, ingest_id bigint NOT NULL);
CREATE TABLE bl.tiles (user_id text NOT NULL, tile_start timestamptz NOT NULL,
                       amount_sum double precision NOT NULL, n bigint NOT NULL,
                       PRIMARY KEY (user_id, tile_start));
CREATE TABLE bl.events (user_id text NOT NULL, ts timestamptz NOT NULL, amount double precision);
CREATE INDEX ON bl.events (user_id, ts);

CREATE SCHEMA bench;
-- event i: nkeys users, times over the 7 days before 2024-01-08 (ms), an amount
CREATE FUNCTION bench.gen(lo bigint, hi bigint, nkeys int)
RETURNS TABLE (i bigint, user_id text, ts timestamptz, amount double precision)
LANGUAGE sql IMMUTABLE AS $$
    SELECT g, 'u' || ((hashint8extended(g, 1) & 9223372036854775807) % nkeys),
           timestamptz '2024-01-01 00:00:00+00'
             + ((hashint8extended(g, 2) & 9223372036854775807) % 604800000) * interval '1 millisecond',
           (hashint8extended(g, 4) & 1048575) / 1024.0::float8
      FROM generate_series(lo, hi) g
$$;
-- n events of one key over the same 7 days
CREATE FUNCTION bench.gen_key(key text, n int)
RETURNS TABLE (i bigint, user_id text, ts timestamptz, amount double precision)
LANGUAGE sql IMMUTABLE AS $$
    SELECT g.i, key, g.ts, g.amount FROM bench.gen(1, n, 1) g
$$;

-- The baseline's ingest: one statement, the input computed once
CREATE FUNCTION bench.bl_ingest_sql(src text) RETURNS text LANGUAGE sql AS $f$
SELECT format($$
WITH src AS MATERIALIZED (SELECT i, user_id, ts, amount FROM %s),
     l AS (INSERT INTO bl.log SELECT user_id, ts, amount FROM src),
     h AS (INSERT INTO bl.hist SELECT user_id, ts, amount, i FROM src),
     o AS (INSERT INTO bl.online AS o
           SELECT DISTINCT ON (user_id) user_id, ts, amount, i FROM src ORDER BY user_id, ts DESC, i DESC
           ON CONFLICT (user_id) DO UPDATE SET ts = excluded.ts, amount = excluded.amount, ingest_id = excluded.ingest_id
            WHERE (o.ts, o.ingest_id) < (excluded.ts, excluded.ingest_id))
INSERT INTO bl.tiles AS t
SELECT user_id, date_bin('1 minute', ts, '1970-01-01 00:00+00'), coalesce(sum(amount), 0), count(amount)
  FROM src GROUP BY 1, 2
ON CONFLICT (user_id, tile_start) DO UPDATE SET amount_sum = t.amount_sum + excluded.amount_sum, n = t.n + excluded.n
$$, src)
$f$;

-- Latencies (ms) of n calls of one read, each timed alone (clock_timestamp)
CREATE FUNCTION bench.latencies(side text, key text, n int) RETURNS TABLE (p50 float8, p99 float8)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    r text;
    ms float8[] := '{}';
    f timestamptz := date_bin('1 minute', current_setting('pushsource.request_time')::timestamptz, '1970-01-01 00:00+00');
    rt timestamptz := current_setting('pushsource.request_time')::timestamptz;
BEGIN
    FOR k IN 1 .. n LOOP
        t0 := clock_timestamp();
        IF side = 'ps_tiled' THEN
            r := pushsource.fs_get_online_features('agg', jsonb_build_object('user_id', key))::text;
        ELSIF side = 'bl_tiled' THEN
            SELECT jsonb_build_object('agg.amount_sum_1h_1m', sum(amount_sum) FILTER (WHERE tile_start >= f - interval '1 hour'),
                                      'agg.amount_sum_1d_1m', sum(amount_sum) FILTER (WHERE tile_start >= f - interval '1 day'),
                                      'agg.amount_sum_7d_1m', sum(amount_sum))::text INTO r
              FROM bl.tiles WHERE user_id = key AND tile_start >= f - interval '7 days' AND tile_start < f;
        ELSIF side = 'ps_cont' THEN
            r := pushsource.fs_get_online_features('aggc', jsonb_build_object('user_id', key))::text;
        ELSE
            SELECT jsonb_build_object('aggc.amount_sum_1h_continuous', sum(amount) FILTER (WHERE ts > rt - interval '1 hour'),
                                      'aggc.amount_sum_1d_continuous', sum(amount) FILTER (WHERE ts > rt - interval '1 day'),
                                      'aggc.amount_sum_7d_continuous', sum(amount))::text INTO r
              FROM bl.events WHERE user_id = key AND ts > rt - interval '7 days' AND ts <= rt;
        END IF;
        ms := ms || extract(epoch FROM clock_timestamp() - t0) * 1000;
    END LOOP;
    RETURN QUERY SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x), percentile_cont(0.99) WITHIN GROUP (ORDER BY x)
                   FROM unnest(ms) x;
END
$$;
