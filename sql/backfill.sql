-- Backfill goes through the push path: fs_materialize feeds batch rows
-- through the push validator and the push fan-out.  The same events give
-- the same stores and the same answers whether they were all pushed, half
-- pushed and half backfilled, or half backfilled first and half pushed
-- after; bad batch rows are rejected as a bad pushed record would be.
SET search_path = pushsource, pushsource_source, public;
SET timezone = 'UTC';
SET datestyle = ISO;
SET intervalstyle = postgres;

CREATE ROLE bf_admin LOGIN IN ROLE pushsource_admin;
GRANT CREATE ON SCHEMA public TO bf_admin;
SET ROLE bf_admin;

SELECT fs_create_entity('bf_user', ARRAY['user_id']);

-- The events: 12 users, 40 events each over six hours, distinct times per
-- user (no ties), values from a fixed formula.  Even events are "pushed",
-- odd ones are in the batch table: the two halves interleave in time, so
-- that a backfilled event is sometimes newer, sometimes older than a
-- pushed one of the same key.
CREATE TABLE public.bf_events AS
SELECT 'u' || u AS user_id,
       timestamptz '2024-03-01 00:00+00' + make_interval(mins => 9 * e + u) AS ts,
       ((u * 7 + e * 13) % 50)::int8 AS clicks,
       jsonb_build_object('x', e, 'y', 'n' || u) AS meta,
       e % 2 = 0 AS pushed
  FROM generate_series(1, 12) u, generate_series(0, 39) e;

-- three runs, each its own source and views: a (push only),
-- b (push, then backfill), c (backfill, then push)
CREATE FUNCTION public.bf_setup(run text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE public.%I (user_id text, ts timestamptz, clicks int8, meta jsonb)', 'bf_batch_' || run);
    EXECUTE format('GRANT SELECT ON public.%I TO pushsource_admin', 'bf_batch_' || run);
    PERFORM fs_create_push_source('bf_src_' || run,
        'user_id String, ts Timestamp, clicks Int64, meta Struct(x Int64, y String)', 'ts',
        batch_table => ('public.bf_batch_' || run)::regclass);
    PERFORM fs_create_feature_view('bf_' || run || '_attr', 'bf_src_' || run, ARRAY['bf_user']);
    PERFORM fs_create_feature_view('bf_' || run || '_tiled', 'bf_src_' || run, ARRAY['bf_user'],
        aggregations => ARRAY[fs_agg('clicks', 'sum', '2 hours'), fs_agg('clicks', 'count', '1 day'),
                              fs_agg('clicks', 'last_distinct_n(3)', '3 hours')],
        aggregation_interval => '10 minutes');
    PERFORM fs_create_feature_view('bf_' || run || '_cont', 'bf_src_' || run, ARRAY['bf_user'],
        aggregations => ARRAY[fs_agg('clicks', 'max', '1 hour'), fs_agg('clicks', 'mean', '30 minutes')]);
END
$$;
SELECT bf_setup('a'), bf_setup('b'), bf_setup('c');

-- a: every event pushed (INSERT goes through the push path)
INSERT INTO pushsource_source.bf_src_a SELECT user_id, ts, clicks, meta FROM bf_events ORDER BY ts;
-- b: the pushed half, then a backfill of the other half in two windows
-- that share a tile block (the second rebuilds the block from both)
INSERT INTO pushsource_source.bf_src_b SELECT user_id, ts, clicks, meta FROM bf_events WHERE pushed ORDER BY ts;
INSERT INTO public.bf_batch_b SELECT user_id, ts, clicks, meta FROM bf_events WHERE NOT pushed;
SELECT fs_materialize('bf_' || 'b' || v, '2024-03-01', '2024-03-01 03:00') ->> 'rows' AS rows_1,
       fs_materialize('bf_' || 'b' || v, '2024-03-01 03:00', '2024-03-02') ->> 'rows' AS rows_2
  FROM unnest(ARRAY['_attr', '_tiled', '_cont']) v;
-- c: the backfill first, then the pushed half
INSERT INTO public.bf_batch_c SELECT user_id, ts, clicks, meta FROM bf_events WHERE NOT pushed;
SELECT fs_materialize('bf_c' || v, '2024-03-01', '2024-03-02') ->> 'rows' AS rows
  FROM unnest(ARRAY['_attr', '_tiled', '_cont']) v;
INSERT INTO pushsource_source.bf_src_c SELECT user_id, ts, clicks, meta FROM bf_events WHERE pushed ORDER BY ts;

-- offline stores: the same events, each once
CREATE FUNCTION public.bf_offline(run text, v text) RETURNS TABLE (n bigint, digest text) LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format(
        'SELECT count(*), md5(string_agg((to_jsonb(o) - ''_fs_ingest_id'')::text, '','' ORDER BY o.user_id, o.ts))
           FROM pushsource_store.%I o', 'bf_' || run || '_' || v || '_offline');
END
$$;
SELECT v, a.n, a.digest = b.digest AS b_same, a.digest = c.digest AS c_same
  FROM unnest(ARRAY['attr', 'tiled', 'cont']) v,
       LATERAL bf_offline('a', v) a, LATERAL bf_offline('b', v) b, LATERAL bf_offline('c', v) c
 ORDER BY v;

-- the attribute view's online store: each user's newest event
SELECT count(*) AS users,
       count(*) FILTER (WHERE (a.ts, a.clicks, a.meta) IS NOT DISTINCT FROM (b.ts, b.clicks, b.meta)) AS b_same,
       count(*) FILTER (WHERE (a.ts, a.clicks, a.meta) IS NOT DISTINCT FROM (c.ts, c.clicks, c.meta)) AS c_same
  FROM pushsource_store.bf_a_attr_online a
  FULL JOIN pushsource_store.bf_b_attr_online b USING (user_id)
  FULL JOIN pushsource_store.bf_c_attr_online c USING (user_id);
-- which is the newest of all 40, pushed or not
SELECT count(*) AS newest_is_last FROM pushsource_store.bf_a_attr_online o
 WHERE o.ts = (SELECT max(e.ts) FROM bf_events e WHERE e.user_id = o.user_id);

-- online answers of every view, at several request times: the same in
-- every run (the features, named without their view, which differs).
-- answers_move: an aggregate's answer an hour earlier differs (so the
-- comparison compares something); the attribute view serves its newest
-- event at any request time, and the continuous view's events out of every
-- window at the newest event were pruned, as a push prunes them.
CREATE FUNCTION public.bf_online(run text, v text, at timestamptz) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
BEGIN
    PERFORM set_config('pushsource.request_time', at::text, true);
    SELECT jsonb_agg((SELECT jsonb_object_agg(split_part(f.key, '.', 2), f.value)
                        FROM jsonb_each(fs_get_online_features('bf_' || run || '_' || v,
                                                               jsonb_build_object('user_id', 'u' || u))) f)
                     ORDER BY u)
      INTO r FROM generate_series(1, 12) u;
    RETURN r;
END
$$;
SELECT v, at, bf_online('a', v, at) = bf_online('b', v, at) AS b_same,
       bf_online('a', v, at) = bf_online('c', v, at) AS c_same,
       bf_online('a', v, at) <> bf_online('a', v, at - interval '1 hour') AS answers_move
  FROM unnest(ARRAY['attr', 'tiled', 'cont']) v,
       unnest(ARRAY[timestamptz '2024-03-01 02:00+00', '2024-03-01 04:35+00', '2024-03-01 06:10+00']) at
 ORDER BY v, at;
-- one answer by hand: u1's sum of clicks in the 2 hours of tiles before
-- 06:10 (tiled windows end at the last full tile: [04:10, 06:10))
BEGIN;
SET LOCAL pushsource.request_time = '2024-03-01 06:10+00';
SELECT fs_get_online_features('bf_b_tiled', '{"user_id": "u1"}') -> 'bf_b_tiled.clicks_sum_2h_10m' AS b_u1,
       (SELECT sum(clicks) FROM bf_events WHERE user_id = 'u1'
           AND ts >= '2024-03-01 04:10+00' AND ts < '2024-03-01 06:10+00') AS by_hand;
COMMIT;

-- point-in-time joins over a spine of every user at every 7 minutes
CREATE TABLE public.bf_spine AS
SELECT 'u' || u AS user_id, timestamptz '2024-03-01 00:00+00' + make_interval(mins => 7 * s) AS ts
  FROM generate_series(1, 12) u, generate_series(0, 55) s;
CREATE FUNCTION public.bf_pit(run text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    spine text := 'SELECT user_id, ts FROM public.bf_spine';
    views text[] := ARRAY['bf_' || run || '_attr', 'bf_' || run || '_tiled', 'bf_' || run || '_cont'];
    d text;
BEGIN
    EXECUTE format('SELECT count(*) || '' rows, '' || md5(string_agg(t::text, '','' ORDER BY t::text))'
                   ' FROM fs_get_historical_features(%L, %L) AS t(%s)',
                   spine, views, fs_historical_features_columns(spine, views))
       INTO d;
    RETURN d;
END
$$;
SELECT split_part(bf_pit('a'), ',', 1) AS a_rows;
SELECT bf_pit('a') = bf_pit('b') AS b_same, bf_pit('a') = bf_pit('c') AS c_same;

-- a second backfill of the same window changes nothing (idempotent)
SELECT fs_materialize('bf_b' || v, '2024-03-01', '2024-03-01 03:00') ->> 'rows' AS rows
  FROM unnest(ARRAY['_attr', '_tiled', '_cont']) v;
SELECT v, a.digest = b.digest AS b_same
  FROM unnest(ARRAY['attr', 'tiled', 'cont']) v, LATERAL bf_offline('a', v) a, LATERAL bf_offline('b', v) b
 ORDER BY v;
SELECT bf_online('a', 'tiled', '2024-03-01 04:35+00') = bf_online('b', 'tiled', '2024-03-01 04:35+00') AS tiled_same,
       bf_pit('a') = bf_pit('b') AS pit_same;

------------------------------------------------------------------------
-- Bad batch rows: rejected by the push validator, listed in the job
------------------------------------------------------------------------
INSERT INTO public.bf_batch_b VALUES
    ('u1', '2024-03-02 01:00+00', 5, '{"x": 1, "y": "ok"}'),
    ('u1', '2024-03-02 02:00+00', 6, '{"x": "one", "y": "ok"}'),   -- x is not an Int64
    ('u2', '2024-03-02 03:00+00', 7, '{"x": 1, "z": 2}'),           -- z is no field of the Struct
    (NULL, '2024-03-02 04:00+00', 8, NULL);                        -- no join key
-- the same rows pushed are refused with the same words
SELECT fs_push('bf_src_b', '[{"user_id": "u1", "ts": "2024-03-02T02:00:00Z", "clicks": 6, "meta": {"x": "one", "y": "ok"}}]',
               on_error => 'skip') -> 'rejected' AS rejected;
SELECT error, sqlstate, field FROM pushsource.rejected_records WHERE source = 'bf_src_b' ORDER BY id;
SELECT j - 'job' - 'start_time' - 'end_time' AS result
  FROM fs_materialize('bf_b_attr', '2024-03-02', '2024-03-03') j;
SELECT jsonb_array_elements(details -> 'errors') ->> 'error' AS error FROM pushsource.jobs
 WHERE object = 'bf_b_attr' ORDER BY id DESC LIMIT 3;
-- only the good row reached the stores
SELECT user_id, ts, clicks FROM pushsource_store.bf_b_attr_offline WHERE ts >= '2024-03-02' ORDER BY ts;

------------------------------------------------------------------------
-- fs_materialize_proc: a long backfill window by window, each window its
-- own job and transaction, with progress
------------------------------------------------------------------------
CREATE TABLE public.bf_batch_p (user_id text, ts timestamptz, clicks int8);
GRANT SELECT ON public.bf_batch_p TO pushsource_admin;
SELECT fs_create_push_source('bf_src_p', 'user_id String, ts Timestamp, clicks Int64', 'ts',
                             batch_table => 'public.bf_batch_p');
SELECT fs_create_feature_view('bf_p_attr', 'bf_src_p', ARRAY['bf_user']);
-- 3 days of 4 users x 6 events (24 a day), one null key on day 2, one
-- event after the range
INSERT INTO public.bf_batch_p
SELECT 'u' || u, timestamptz '2024-04-01 00:00+00' + make_interval(days => d, hours => 3 * e), u * 10 + e
  FROM generate_series(0, 2) d, generate_series(1, 4) u, generate_series(1, 6) e;
INSERT INTO public.bf_batch_p VALUES (NULL, '2024-04-02 12:30+00', 1), ('u1', '2024-04-04 10:00+00', 2);
CALL fs_materialize_proc('bf_p_attr', '2024-04-01', '2024-04-04');
SELECT window_start, window_end, state, rows, details -> 'rejected' AS rejected, details -> 'progress' AS progress
  FROM pushsource.jobs WHERE object = 'bf_p_attr' ORDER BY id;
SELECT count(*) AS offline_rows FROM pushsource_store.bf_p_attr_offline;
-- the last window is shorter when the range is not a multiple
CALL fs_materialize_proc('bf_p_attr', '2024-04-03 12:00', '2024-04-04 12:00', '18 hours');
-- errors: before anything runs
CALL fs_materialize_proc('bf_p_attr', '2024-04-01', '2024-04-04', '0 days');
CALL fs_materialize_proc('bf_p_attr', '2024-04-01', '2024-04-04', NULL);
CALL fs_materialize_proc('bf_p_attr', '2024-04-01', '2034-04-04', '1 minute');
CALL fs_materialize_proc('bf_p_attr', '2024-04-04', '2024-04-01');
CALL fs_materialize_proc('bf_nope', '2024-04-01', '2024-04-04');
-- in a transaction block it cannot commit
BEGIN;
CALL fs_materialize_proc('bf_p_attr', '2024-04-01', '2024-04-02');
ROLLBACK;
-- a window that fails: the windows before it stay committed, the error
-- names the window and says where to go on from
RESET ROLE;
CREATE FUNCTION public.bf_no_999() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.clicks = 999 THEN
        RAISE EXCEPTION 'bf_no_999: no 999 here' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER bf_no_999 BEFORE INSERT ON pushsource_store.bf_p_attr_offline
    FOR EACH ROW EXECUTE FUNCTION public.bf_no_999();
SET ROLE bf_admin;
INSERT INTO public.bf_batch_p VALUES ('u2', '2024-04-05 10:00+00', 999), ('u2', '2024-04-06 10:00+00', 3);
CALL fs_materialize_proc('bf_p_attr', '2024-04-04', '2024-04-07');
-- failing in its first window, it has committed nothing
CALL fs_materialize_proc('bf_p_attr', '2024-04-05', '2024-04-06 12:00');
SELECT window_start, window_end, state, rows, sqlstate FROM pushsource.jobs
 WHERE object = 'bf_p_attr' AND window_start >= '2024-04-04' ORDER BY id;
SELECT user_id, ts, clicks FROM pushsource_store.bf_p_attr_offline WHERE ts >= '2024-04-04' ORDER BY ts;

RESET ROLE;
SELECT fs_drop(name, "cascade" => true) FROM pushsource.push_sources WHERE name LIKE 'bf\_src\_%' ORDER BY name;
SELECT fs_drop('bf_user');
DROP TABLE public.bf_events, public.bf_spine, public.bf_batch_a, public.bf_batch_b, public.bf_batch_c,
    public.bf_batch_p;
DROP FUNCTION public.bf_no_999(), public.bf_setup(text), public.bf_offline(text, text), public.bf_online(text, text, timestamptz),
    public.bf_pit(text);
DELETE FROM pushsource.jobs WHERE object LIKE 'bf\_%';
REVOKE CREATE ON SCHEMA public FROM bf_admin;
DROP ROLE bf_admin;
