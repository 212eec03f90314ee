-- Aggregate feature views: fs_agg, the aggregations of fs_create_feature_view
-- and their errors; online reads of tiled and continuous windows at request
-- time (pushsource.request_time), at exact boundaries by hand, and every
-- function at many request times against plain SQL aggregates written
-- here over the offline history; late events; pruning of raw events.
SET search_path = pushsource, pushsource_source, public;
SET timezone = 'UTC';
SET extra_float_digits = 0;
SET datestyle = ISO;
SET intervalstyle = postgres;

CREATE FUNCTION public.agg_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

SELECT fs_create_entity('agg_user', ARRAY['user_id']);
SELECT fs_create_push_source('agg_events',
    'user_id String, ts Timestamp, i Int64, f Float64, b Bool, t String, at Timestamp, j Struct(x Int64)', 'ts');

------------------------------------------------------------------------
-- fs_agg
------------------------------------------------------------------------
SELECT fs_agg('i', 'sum', '1 hour');
SELECT fs_agg('t', 'last_distinct_n(3)', '1 day 2 hours', 'recent_pages');
SELECT * FROM fs_agg('f', 'stddev_samp', '90 seconds');
SELECT agg_try($$SELECT fs_agg(NULL, 'sum', '1h')$$);
SELECT agg_try($$SELECT fs_agg('i', NULL, '1h')$$);
SELECT agg_try($$SELECT fs_agg('i', 'sum', NULL)$$);
SELECT agg_try($$SELECT fs_agg('I', 'sum', '1h')$$);
SELECT agg_try($$SELECT fs_agg('i', 'median', '1h')$$);
SELECT agg_try($$SELECT fs_agg('i', 'SUM', '1h')$$);
SELECT agg_try($$SELECT fs_agg('i', 'last_n', '1h')$$);
SELECT agg_try($$SELECT fs_agg('i', 'last_n(0)', '1h')$$);
SELECT agg_try($$SELECT fs_agg('i', 'last_n(1001)', '1h')$$);
SELECT agg_try($$SELECT fs_agg('i', 'first_n(2.5)', '1h')$$);
SELECT agg_try($$SELECT fs_agg('i', 'sum(2)', '1h')$$);
SELECT agg_try($$SELECT fs_agg('i', 'approx_percentile', '1h')$$);
SELECT agg_try($$SELECT fs_agg('i', 'approx_percentile(95)', '1h')$$);
SELECT agg_try($$SELECT fs_agg('i', 'approx_count_distinct(20)', '1h')$$);
SELECT fs_agg('i', 'approx_count_distinct(8)', '1h') AS default_precision_is_dropped,
       fs_agg('f', 'approx_percentile(0.50)', '1h') AS p_as_written_shortest;
SELECT agg_try($$SELECT fs_agg('i', 'sum', '1 month')$$);
SELECT agg_try($$SELECT fs_agg('i', 'sum', '0')$$);
SELECT agg_try($$SELECT fs_agg('i', 'sum', '-1 hour')$$);
SELECT agg_try($$SELECT fs_agg('i', 'sum', '1.5 seconds')$$);
SELECT agg_try($$SELECT fs_agg('i', 'sum', '36526 days')$$);
SELECT agg_try($$SELECT fs_agg('i', 'sum', '1h', 'Bad Name')$$);

------------------------------------------------------------------------
-- Bad declarations in fs_create_feature_view
------------------------------------------------------------------------
-- unknown column, a column of a type the function cannot take, a struct
SELECT agg_try($$SELECT fs_create_feature_view('agg_bad', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('nope', 'sum', '1h')])$$);
SELECT agg_try($$SELECT fs_create_feature_view('agg_bad', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('i', 'sum', '1h'), fs_agg('t', 'sum', '1h')])$$);
SELECT agg_try($$SELECT fs_create_feature_view('agg_bad', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('b', 'max', '1h')])$$);
SELECT agg_try($$SELECT fs_create_feature_view('agg_bad', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('t', 'approx_percentile(0.5)', '1h')])$$);
SELECT agg_try($$SELECT fs_create_feature_view('agg_bad', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('j', 'count', '1h')])$$);
-- windows and intervals
SELECT agg_try($$SELECT fs_create_feature_view('agg_bad', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('i', 'sum', '1h'), fs_agg('i', 'sum', '45 minutes')],
    aggregation_interval => '10 minutes')$$);
SELECT agg_try($$SELECT fs_create_feature_view('agg_bad', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('i', 'sum', '1h')], aggregation_interval => '30 seconds')$$);
SELECT agg_try($$SELECT fs_create_feature_view('agg_bad', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('i', 'sum', '1h')], aggregation_interval => '1 mon')$$);
SELECT agg_try($$SELECT fs_create_feature_view('agg_bad', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('i', 'sum', '1h')], aggregation_interval => '90.5 seconds')$$);
-- names: two the same, a default name too long, a null element, empty
SELECT agg_try($$SELECT fs_create_feature_view('agg_bad', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('i', 'sum', '1h'), fs_agg('f', 'sum', '1h', 'i_sum_1h_continuous')])$$);
SELECT fs_create_push_source('agg_long', 'user_id String, ts Timestamp, amount_in_cents_before_tax Int64', 'ts');
SELECT agg_try($$SELECT fs_create_feature_view('agg_bad', 'agg_long', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('amount_in_cents_before_tax', 'first_distinct_n(100)', '1 day 23:59:59')])$$);
SELECT fs_drop('agg_long');
SELECT agg_try($$SELECT fs_create_feature_view('agg_bad', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('i', 'sum', '1h'), NULL])$$);
SELECT agg_try($$SELECT fs_create_feature_view('agg_bad', 'agg_events', ARRAY['agg_user'],
    aggregations => '{}')$$);
-- a feature may not take the name of a join key, of the timestamp field or
-- of a pushsource column (fs_run failed with 42701 on such a view)
SELECT agg_try($$SELECT fs_create_feature_view('agg_bad', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('i', 'count', '1h', 'user_id')])$$);
SELECT agg_try($$SELECT fs_create_feature_view('agg_bad', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('i', 'sum', '1h', 'ts')], aggregation_interval => '1 minute')$$);
SELECT agg_try($$SELECT fs_create_feature_view('agg_bad', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('i', 'sum', '1h', '_fs_ingest_id')])$$);
-- nor may a join key (entity registration refuses the prefix)
SELECT agg_try($$SELECT fs_create_entity('agg_bad', ARRAY['user_id', '_fs_ingest_id'])$$);
-- the internal helpers refuse what would be a crash or an internal error
-- (a zero block length was a division by zero: SIGFPE)
SELECT agg_try($$SELECT pushsource_internal._tile_block(now(), 0)$$);
SELECT agg_try($$SELECT pushsource_internal._reraise(NULL, NULL, NULL, NULL)$$);
SELECT agg_try($$SELECT pushsource_internal._tile_agg('4611686018427387904 sum', now(), 1::bigint, 1::bigint)$$);
-- a tile block moved off the block grid by hand is data_corrupted naming
-- the view (XX000 before)
SELECT fs_create_push_source('agg_grid', 'user_id String, ts Timestamp, i Int64', 'ts');
SELECT fs_create_feature_view('agg_grid_fv', 'agg_grid', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('i', 'sum', '1h')], aggregation_interval => '1 minute');
SELECT fs_push('agg_grid', '{"user_id": "u1", "ts": "2024-01-01T00:10:00Z", "i": 1}') ->> 'records' AS pushed;
UPDATE pushsource_store.agg_grid_fv_tiles SET block_start = block_start + interval '30 seconds';
SET pushsource.request_time = '2024-01-01 00:30:00+00';
SELECT agg_try($$SELECT fs_get_online_features('agg_grid_fv', '{"user_id": "u1"}')$$);
RESET pushsource.request_time;
SELECT fs_drop('agg_grid', cascade => true);
-- a composite built by hand is checked like fs_agg's
SELECT agg_try($$SELECT fs_create_feature_view('agg_bad', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[ROW('i', 'sum', NULL, NULL)::aggregation])$$);
SELECT agg_try($$SELECT fs_create_feature_view('agg_bad', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[ROW('i', 'sum', '1 month', NULL)::aggregation])$$);
-- not with features or ttl; no interval without aggregations
SELECT agg_try($$SELECT fs_create_feature_view('agg_bad', 'agg_events', ARRAY['agg_user'],
    features => ARRAY['i'], aggregations => ARRAY[fs_agg('i', 'sum', '1h')])$$);
SELECT agg_try($$SELECT fs_create_feature_view('agg_bad', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('i', 'sum', '1h')], ttl => '1 day')$$);
SELECT agg_try($$SELECT fs_create_feature_view('agg_bad', 'agg_events', ARRAY['agg_user'],
    aggregation_interval => '1 hour')$$);
-- nothing of the failed calls was left behind
SELECT count(*) FROM pushsource_internal.object_registry WHERE name = 'agg_bad';
SELECT count(*) FROM pg_class WHERE relname LIKE 'agg\_bad%';

------------------------------------------------------------------------
-- Views: a tiled one (15-minute tiles) and a continuous one, with every
-- function; an attribute view as the reference history (ingest order)
------------------------------------------------------------------------
CREATE TABLE public.agg_decl (fn text, col text, w interval);
INSERT INTO public.agg_decl VALUES
  ('count', 'i', '1 hour'), ('count', 't', '6 hours'), ('sum', 'i', '1 day'), ('sum', 'f', '1 hour'),
  ('sum', 'f', '6 hours'), ('sum', 'f', '1 day'), ('mean', 'i', '6 hours'), ('mean', 'f', '1 day'),
  ('min', 'i', '1 hour'), ('min', 'at', '1 day'), ('max', 'f', '6 hours'), ('max', 'at', '1 hour'),
  ('last', 't', '1 hour'), ('last', 'b', '1 day'), ('last', 'i', '6 hours'),
  ('last_n(3)', 't', '6 hours'), ('last_distinct_n(3)', 't', '1 day'), ('first_n(2)', 'i', '1 hour'),
  ('first_distinct_n(3)', 't', '6 hours'), ('last_distinct_n(2)', 'b', '1 day'),
  ('stddev_samp', 'f', '1 day'), ('stddev_pop', 'i', '6 hours'), ('var_samp', 'i', '1 hour'),
  ('var_pop', 'f', '1 day'), ('approx_count_distinct', 'i', '6 hours'), ('approx_count_distinct', 'at', '1 day'),
  ('approx_count_distinct(4)', 't', '6 hours'), ('approx_percentile(0.5)', 'f', '1 day'),
  ('approx_percentile(0.9)', 'i', '1 hour'), ('approx_percentile(0)', 'f', '6 hours'),
  ('approx_percentile(1)', 'i', '1 day');
SELECT fs_create_feature_view('agg_tiled', 'agg_events', ARRAY['agg_user'],
    aggregations => (SELECT array_agg(fs_agg(col, fn, w) ORDER BY fn, col, w) FROM agg_decl),
    aggregation_interval => '15 minutes');
-- the continuous view also keeps a 7-day window, so that nothing of the
-- test's two days is pruned
SELECT fs_create_feature_view('agg_cont', 'agg_events', ARRAY['agg_user'],
    aggregations => (SELECT array_agg(fs_agg(col, fn, w) ORDER BY fn, col, w) FROM agg_decl)
                    || fs_agg('i', 'count', '7 days', 'keep_week'));
SELECT fs_create_feature_view('agg_hist', 'agg_events', ARRAY['agg_user'],
    features => ARRAY['i', 'f', 'b', 't', 'at'], online => false);

SELECT feature, type, kind, aggregated_column, function, time_window, full_name
  FROM features WHERE feature_view = 'agg_tiled' ORDER BY position;
SELECT feature FROM features WHERE feature_view = 'agg_cont' ORDER BY position;
SELECT name, features[1:2], aggregation_interval, online_table, offline_table
  FROM feature_views WHERE name LIKE 'agg\_%' ORDER BY name;
SELECT fs_get_columns('agg_tiled');
\d pushsource_store.agg_tiled_tiles
\d pushsource_store.agg_cont_events
\d pushsource_store.agg_cont_offline

------------------------------------------------------------------------
-- Boundaries, by hand: key 'edge', values 1, 10, 100, 1000 at 10:00,
-- 10:15, 10:59:59.999999 and 11:00 (2024-05-01); a view summing i over 1h
------------------------------------------------------------------------
SELECT fs_create_feature_view('agg_edge_t', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('i', 'sum', '1h'), fs_agg('i', 'count', '30 minutes')],
    aggregation_interval => '15 minutes');
-- (keep_day: raw events are pruned by the longest window, counted back
-- from the newest pushed event; a day keeps all of these)
SELECT fs_create_feature_view('agg_edge_c', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('i', 'sum', '1h'), fs_agg('i', 'count', '30 minutes'),
                          fs_agg('i', 'count', '1 day', 'keep_day')]);
SELECT fs_push('agg_events', '[
  {"user_id": "edge", "ts": "2024-05-01T10:00:00Z", "i": 1},
  {"user_id": "edge", "ts": "2024-05-01T10:15:00Z", "i": 10},
  {"user_id": "edge", "ts": "2024-05-01T10:59:59.999999Z", "i": 100},
  {"user_id": "edge", "ts": "2024-05-01T11:00:00Z", "i": 1000}]') -> 'feature_views';
CREATE FUNCTION public.agg_at(r text, v text) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('pushsource.request_time', r, true);
    RETURN fs_get_online_features(v, '{"user_id": "edge"}');
END
$$;
-- tiled [floor(R, 15m) - W, floor(R, 15m)): the 10:00 event counts from
-- R = 10:15 (F = 10:15) until F = 11:00 (window [10:00, 11:00)), not at
-- F = 11:15; the 11:00 event from R = 11:15
SELECT r, agg_at(r, 'agg_edge_t') FROM unnest(ARRAY[
    '2024-05-01 10:14:59.999999+00', '2024-05-01 10:15:00+00', '2024-05-01 10:59:59.999999+00',
    '2024-05-01 11:00:00+00', '2024-05-01 11:14:59+00', '2024-05-01 11:15:00+00',
    '2024-05-01 12:14:59+00', '2024-05-01 12:15:00+00']) r;
-- continuous (R - W, R]: an event counts from R = its time; the 10:00
-- event until R = 10:59:59.999999, not at R = 11:00
SELECT r, agg_at(r, 'agg_edge_c') FROM unnest(ARRAY[
    '2024-05-01 09:59:59.999999+00', '2024-05-01 10:00:00+00', '2024-05-01 10:29:59.999999+00',
    '2024-05-01 10:30:00+00', '2024-05-01 10:59:59.999999+00', '2024-05-01 11:00:00+00',
    '2024-05-01 11:59:59.999999+00', '2024-05-01 12:00:00+00']) r;
-- metadata: window end, PRESENT or MISSING_DATA (empty window)
SET pushsource.request_time = '2024-05-01 10:07:00+00';
SELECT fs_get_online_features('agg_edge_t', '{"user_id": "edge"}', include_metadata => true);
SELECT fs_get_online_features('agg_edge_c', '[{"user_id": "edge"}, {"user_id": "nobody"}]',
                              include_join_keys => true, include_metadata => true);
RESET pushsource.request_time;
-- a late event goes to its old tile; pushed again, it counts twice
SELECT fs_push('agg_events', '{"user_id": "edge", "ts": "2024-05-01T10:01:00Z", "i": 5}') -> 'feature_views';
SELECT agg_at('2024-05-01 11:00:00+00', 'agg_edge_t'), agg_at('2024-05-01 11:00:00+00', 'agg_edge_c');
SELECT fs_push('agg_events', '{"user_id": "edge", "ts": "2024-05-01T10:01:00Z", "i": 5}') -> 'feature_views';
SELECT agg_at('2024-05-01 11:00:00+00', 'agg_edge_t'), agg_at('2024-05-01 11:00:00+00', 'agg_edge_c');
-- online-only and offline-only pushes: the first changes the online
-- state, not the offline store; the second the other way round
SELECT fs_push('agg_events', '{"user_id": "edge", "ts": "2024-05-01T10:02:00Z", "i": 20000}', mode => 'online')
       -> 'feature_views';
SELECT fs_push('agg_events', '{"user_id": "edge", "ts": "2024-05-01T10:03:00Z", "i": 300000}', mode => 'offline')
       -> 'feature_views';
SELECT agg_at('2024-05-01 11:00:00+00', 'agg_edge_t'), agg_at('2024-05-01 11:00:00+00', 'agg_edge_c');
SELECT sum(i) FROM pushsource_store.agg_edge_c_offline WHERE user_id = 'edge';
SELECT fs_drop('agg_edge_t'), fs_drop('agg_edge_c');
SELECT relname FROM pg_class WHERE relname LIKE 'agg\_edge%';

------------------------------------------------------------------------
-- Every function at many request times, against plain SQL
------------------------------------------------------------------------
-- 3 users, 400 events over two days (2024-05-01 and 02) in 4 statements,
-- the last two of which hold late events; every 7th value NULL; values
-- repeat (the distinct lists); pairs of events share a timestamp (ingest
-- order breaks the tie)
CREATE TABLE public.agg_in AS
SELECT g, 'u' || (g % 3) AS user_id,
       timestamptz '2024-05-01 00:00+00' + ((g * 7919) % 1439) * interval '2 minutes' AS ts,
       CASE WHEN g % 7 = 0 THEN NULL ELSE (g * 37) % 23 - 11 END AS i,
       CASE WHEN g % 7 = 1 THEN NULL ELSE ((g * 53) % 29 - 14) / 4.0 END AS f,
       CASE WHEN g % 7 = 2 THEN NULL ELSE g % 5 = 0 END AS b,
       CASE WHEN g % 7 = 3 THEN NULL ELSE chr(97 + (g * 3) % 6) END AS t,
       CASE WHEN g % 7 = 4 THEN NULL ELSE timestamptz '2024-06-01 00:00+00' + ((g * 11) % 17) * interval '1 hour' END AS at
  FROM generate_series(1, 400) g;
INSERT INTO agg_events (user_id, ts, i, f, b, t, at)
SELECT user_id, ts, i, f, b, t, at FROM agg_in WHERE g <= 150 ORDER BY g;
INSERT INTO agg_events (user_id, ts, i, f, b, t, at)
SELECT user_id, ts, i, f, b, t, at FROM agg_in WHERE g > 150 AND g <= 300 ORDER BY g;
INSERT INTO agg_events (user_id, ts, i, f, b, t, at)
SELECT user_id, ts, i, f, b, t, at FROM agg_in WHERE g > 300 AND g <= 390 ORDER BY g;
-- ten events at the timestamps of earlier ones (ties broken by ingest order)
INSERT INTO agg_events (user_id, ts, i, f, b, t, at)
SELECT a.user_id, a.ts, b.i, b.f, b.b, b.t, b.at FROM agg_in a JOIN agg_in b ON b.g = a.g + 390
 WHERE a.g BETWEEN 1 AND 10 ORDER BY a.g;
SELECT count(*), count(DISTINCT (user_id, ts)) FROM pushsource_store.agg_hist_offline WHERE user_id <> 'edge';

-- The expected value of one feature: plain SQL over the history (the
-- attribute view's offline store, which has the ingest order), rows with
-- lo < ts <= hi (continuous) or lo <= ts < hi (tiled).
CREATE FUNCTION public.agg_expected(fn text, col text, u text, lo timestamptz, hi timestamptz, tiled boolean)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    n int := substring(fn FROM '\((\d+)\)')::int;
    p text := substring(fn FROM '\(([0-9.]+)\)');
    base text := substring(fn FROM '^[a-z_]+');
    src text := format('(SELECT %I AS x, ts, _fs_ingest_id AS o FROM pushsource_store.agg_hist_offline'
                       ' WHERE user_id = %L AND %s AND %I IS NOT NULL)',
                       col, u, CASE WHEN tiled THEN format('ts >= %L AND ts < %L', lo, hi)
                                    ELSE format('ts > %L AND ts <= %L', lo, hi) END, col);
    q text;
    r jsonb;
BEGIN
    q := CASE base
        WHEN 'count' THEN 'SELECT to_jsonb(count(x)) FROM ' || src || ' s'
        WHEN 'sum' THEN 'SELECT to_jsonb(sum(x)) FROM ' || src || ' s'
        WHEN 'mean' THEN 'SELECT to_jsonb(avg(x)::float8) FROM ' || src || ' s'
        WHEN 'min' THEN 'SELECT to_jsonb(min(x)) FROM ' || src || ' s'
        WHEN 'max' THEN 'SELECT to_jsonb(max(x)) FROM ' || src || ' s'
        WHEN 'approx_count_distinct' THEN 'SELECT to_jsonb(count(DISTINCT x)) FROM ' || src || ' s'
        WHEN 'approx_percentile' THEN format('SELECT to_jsonb((percentile_disc(%s) WITHIN GROUP (ORDER BY x))::float8) FROM %s s',
                                             p, src)
        WHEN 'last' THEN 'SELECT to_jsonb(x) FROM ' || src || ' s ORDER BY ts DESC, o DESC LIMIT 1'
        WHEN 'last_n' THEN format('SELECT to_jsonb(coalesce(array_agg(x ORDER BY ts, o), ''{}''))'
                                  ' FROM (SELECT * FROM %s s ORDER BY ts DESC, o DESC LIMIT %s) l', src, n)
        WHEN 'first_n' THEN format('SELECT to_jsonb(coalesce(array_agg(x ORDER BY ts, o), ''{}''))'
                                   ' FROM (SELECT * FROM %s s ORDER BY ts, o LIMIT %s) l', src, n)
        WHEN 'last_distinct_n' THEN format(
            'SELECT to_jsonb(coalesce(array_agg(x ORDER BY ts, o), ''{}'')) FROM'
            ' (SELECT * FROM (SELECT DISTINCT ON (x) * FROM %s s ORDER BY x, ts DESC, o DESC) d'
            '   ORDER BY ts DESC, o DESC LIMIT %s) l', src, n)
        WHEN 'first_distinct_n' THEN format(
            'SELECT to_jsonb(coalesce(array_agg(x ORDER BY ts, o), ''{}'')) FROM'
            ' (SELECT * FROM (SELECT DISTINCT ON (x) * FROM %s s ORDER BY x, ts, o) d'
            '   ORDER BY ts, o LIMIT %s) l', src, n)
        ELSE format('SELECT to_jsonb(%s(x)::float8) FROM %s s', base, src) END;
    EXECUTE q INTO r;
    RETURN coalesce(r, 'null');
END
$$;
-- numbers within 1e-9 relative, everything else equal; or, for the
-- approximations against exact SQL, within a relative tolerance: 1% for
-- percentiles, three standard errors (3 * 1.04 / sqrt(16)) for a count
-- distinct of precision 4 (at most 2 values exact, then registers); the
-- other counts distinct here see at most 23 values, exact below 2^8 / 8
CREATE FUNCTION public.agg_same(a jsonb, b jsonb, tol numeric DEFAULT NULL) RETURNS boolean LANGUAGE sql AS $$
    SELECT CASE WHEN jsonb_typeof(a) = 'number' AND jsonb_typeof(b) = 'number'
                THEN abs(a::numeric - b::numeric) <= coalesce(tol * abs(b::numeric) * (1 + 1e-12),
                                                             1e-9 * greatest(1, abs(b::numeric)))
                ELSE a = b END
$$;
CREATE FUNCTION public.agg_tol(fn text) RETURNS numeric LANGUAGE sql AS $$
    SELECT CASE WHEN fn LIKE 'approx_percentile%' THEN 0.01
                WHEN fn = 'approx_count_distinct(4)' THEN 3 * 1.04 / 4 END
$$;

-- request times: arbitrary ones, tile edges, event times exactly, and
-- event times + one window (the continuous lower edge)
CREATE TABLE public.agg_times AS
SELECT DISTINCT r FROM (
    SELECT timestamptz '2024-05-01 00:00+00' + g * interval '97 minutes 13 seconds' AS r FROM generate_series(0, 30) g
    UNION ALL SELECT timestamptz '2024-05-01 00:00+00' + g * interval '15 minutes' FROM generate_series(0, 200, 23) g
    UNION ALL SELECT ts FROM agg_in WHERE g % 37 = 0
    UNION ALL SELECT ts + interval '1 hour' FROM agg_in WHERE g % 41 = 0
    UNION ALL SELECT ts + interval '6 hours' FROM agg_in WHERE g % 43 = 0
    UNION ALL SELECT ts + interval '1 day' FROM agg_in WHERE g % 47 = 0) x;
CREATE TABLE public.agg_results AS
SELECT v.name AS view, u AS user_id, t.r, f.feature, f.aggregated_column AS col, f.function AS fn,
       f.time_window AS w, v.aggregation_interval AS iv, NULL::jsonb AS got, NULL::jsonb AS expected
  FROM feature_views v JOIN features f ON f.feature_view = v.name,
       agg_times t, unnest(ARRAY['u0', 'u1', 'u2']) u
 WHERE v.name IN ('agg_tiled', 'agg_cont') AND f.feature <> 'keep_week';
-- one online read per (view, user, time), then every feature of it
CREATE TABLE public.agg_reads AS
SELECT view, user_id, r, NULL::jsonb AS got
  FROM (SELECT DISTINCT view, user_id, r FROM agg_results) x;
DO $$
DECLARE x record;
BEGIN
    FOR x IN SELECT * FROM agg_reads LOOP
        PERFORM set_config('pushsource.request_time', x.r::text, true);
        UPDATE agg_reads SET got = fs_get_online_features(x.view, jsonb_build_object('user_id', x.user_id))
         WHERE view = x.view AND user_id = x.user_id AND r = x.r;
    END LOOP;
END
$$;
RESET pushsource.request_time;
UPDATE agg_results a SET got = r.got -> (a.view || '.' || a.feature)
  FROM agg_reads r WHERE r.view = a.view AND r.user_id = a.user_id AND r.r = a.r;
UPDATE agg_results SET expected = CASE
    WHEN iv IS NULL THEN agg_expected(fn, col, user_id, r - w, r, false)
    ELSE agg_expected(fn, col, user_id, date_bin(iv, r, 'epoch') - w, date_bin(iv, r, 'epoch'), true) END;
-- how much was compared, how many empty windows and lists there were, and
-- the mismatches (none)
SELECT view, count(*) AS compared, count(*) FILTER (WHERE expected = 'null' OR expected = '[]' OR expected = '0') AS empty,
       count(*) FILTER (WHERE agg_same(got, expected, agg_tol(fn)) IS NOT TRUE) AS mismatches
  FROM agg_results GROUP BY view ORDER BY view;
SELECT view, user_id, r, feature, got, expected FROM agg_results
 WHERE agg_same(got, expected, agg_tol(fn)) IS NOT TRUE ORDER BY 1, 2, 3, 4 LIMIT 20;
-- every function produced non-empty values somewhere, in both views
SELECT fn, count(DISTINCT view) FROM agg_results
 WHERE NOT (expected = 'null' OR expected = '[]' OR expected = '0') GROUP BY fn ORDER BY fn;
-- one read shown whole (u1 at 2024-05-01 12:00): its 1h features checked by
-- hand against the two rows below, the rest by the comparison above
SET pushsource.request_time = '2024-05-01 12:00:00+00';
SELECT jsonb_pretty(fs_get_online_features('agg_cont', '{"user_id": "u1"}'));
RESET pushsource.request_time;
SELECT ts, i, f, b, t FROM pushsource_store.agg_hist_offline
 WHERE user_id = 'u1' AND ts > '2024-05-01 11:00+00' AND ts <= '2024-05-01 12:00+00' ORDER BY ts, _fs_ingest_id;

------------------------------------------------------------------------
-- Point-in-time: the same (user, time) pairs as spine rows of
-- fs_get_historical_features, against the same plain SQL; and online at
-- request time T equals historical at T
------------------------------------------------------------------------
CREATE TABLE public.agg_spine AS SELECT DISTINCT user_id, r AS spine_ts FROM agg_results;
CREATE FUNCTION public.agg_pit_into(tbl text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE public.%I AS SELECT * FROM fs_get_historical_features(%L, %L) AS t(%s)',
                   tbl, 'agg_spine', ARRAY['agg_tiled', 'agg_cont'],
                   fs_historical_features_columns('agg_spine', ARRAY['agg_tiled', 'agg_cont']));
END
$$;
SELECT agg_pit_into('agg_pit');
SELECT (SELECT count(*) FROM agg_spine) AS spine_rows, count(*) AS rows_out FROM agg_pit;
ALTER TABLE agg_results ADD COLUMN hist jsonb;
UPDATE agg_results a SET hist = to_jsonb(p) -> (a.view || '__' || a.feature)
  FROM agg_pit p WHERE p.user_id = a.user_id AND p.spine_ts = a.r;
SELECT view, count(*) AS compared, count(*) FILTER (WHERE hist IS NULL) AS missing,
       count(*) FILTER (WHERE agg_same(hist, expected, agg_tol(fn)) IS NOT TRUE) AS mismatches,
       count(*) FILTER (WHERE agg_same(hist, got) IS NOT TRUE) AS differ_from_online
  FROM agg_results GROUP BY view ORDER BY view;
SELECT view, user_id, r, feature, hist, expected FROM agg_results
 WHERE agg_same(hist, expected, agg_tol(fn)) IS NOT TRUE ORDER BY 1, 2, 3, 4 LIMIT 20;

-- the same with a work_mem so small that the sort of the events spills to
-- disk (trace_sort shows an external sort)
SET work_mem = '64kB';
SELECT agg_pit_into('agg_pit_small');
RESET work_mem;
SELECT count(*) AS rows_out,
       (SELECT count(*) FROM (SELECT * FROM agg_pit EXCEPT ALL SELECT * FROM agg_pit_small) d) AS differ
  FROM agg_pit_small;

-- Sketches over long windows: key 'many', 1,000 events a minute apart,
-- values repeating every 97 events.  A 3-hour window holds 180 events: the
-- sweep's front keeps a suffix sketch every 64 events and adds the events
-- before the nearest one; the tiled view's window spans three 60-tile
-- blocks (totals and cut blocks).  At 150 times, historical equals online
-- exactly, count distinct is exact (at most 97 values, within 2^10 / 8
-- hashes) and percentiles are within 1% of percentile_disc.
SELECT fs_create_push_source('agg_many', 'user_id String, ts Timestamp, v Int64, t String', 'ts');
SELECT fs_create_feature_view('agg_many_c', 'agg_many', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('t', 'approx_count_distinct(10)', '3 hours', 'd'),
                          fs_agg('v', 'approx_percentile(0.25)', '3 hours', 'p25'),
                          fs_agg('v', 'approx_percentile(0.999)', '3 hours', 'p999'),
                          fs_agg('v', 'count', '7 days', 'keep_week')]);
SELECT fs_create_feature_view('agg_many_t', 'agg_many', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('t', 'approx_count_distinct(10)', '3 hours', 'd'),
                          fs_agg('v', 'approx_percentile(0.25)', '3 hours', 'p25'),
                          fs_agg('v', 'approx_percentile(0.999)', '3 hours', 'p999')],
    aggregation_interval => '1 minute');
INSERT INTO agg_many SELECT 'many', timestamptz '2024-05-01 00:00:30+00' + g * interval '1 minute',
                            (g % 97) * 1000 + g % 13, 'k' || (g % 97)
  FROM generate_series(1, 1000) g;
CREATE TABLE public.agg_many_spine AS
SELECT 'many'::text AS user_id, timestamptz '2024-05-01 00:00+00' + g * interval '8 minutes' AS at
  FROM generate_series(0, 149) g;
CREATE TABLE public.agg_many_pit AS
SELECT * FROM fs_get_historical_features('agg_many_spine', ARRAY['agg_many_c.d', 'agg_many_c.p25', 'agg_many_c.p999', 'agg_many_t'])
    AS t(user_id text, at timestamptz, c_d bigint, c_p25 float8, c_p999 float8, t_d bigint, t_p25 float8, t_p999 float8);
CREATE FUNCTION public.agg_many_online(v text, r timestamptz) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('pushsource.request_time', r::text, true);
    RETURN fs_get_online_features(v, '{"user_id": "many"}');
END
$$;
CREATE TABLE public.agg_many_cmp AS
SELECT p.*, agg_many_online('agg_many_c', p.at) AS c_online, agg_many_online('agg_many_t', p.at) AS t_online,
       (SELECT jsonb_build_object('d', count(DISTINCT t), 'p25', percentile_disc(0.25) WITHIN GROUP (ORDER BY v),
                                  'p999', percentile_disc(0.999) WITHIN GROUP (ORDER BY v))
          FROM agg_many WHERE ts > p.at - interval '3 hours' AND ts <= p.at) AS c_sql,
       (SELECT jsonb_build_object('d', count(DISTINCT t), 'p25', percentile_disc(0.25) WITHIN GROUP (ORDER BY v),
                                  'p999', percentile_disc(0.999) WITHIN GROUP (ORDER BY v))
          FROM agg_many WHERE ts >= date_bin('1 minute', p.at, 'epoch') - interval '3 hours'
                          AND ts < date_bin('1 minute', p.at, 'epoch')) AS t_sql
  FROM agg_many_pit p;
SELECT count(*) AS times,
       count(*) FILTER (WHERE (c_sql ->> 'd')::int > 0) AS nonempty,
       max((c_sql ->> 'd')::int) AS most_distinct,
       count(*) FILTER (WHERE c_hist IS DISTINCT FROM c_on OR t_hist IS DISTINCT FROM t_on) AS online_differs,
       count(*) FILTER (WHERE c_hist -> 'd' IS DISTINCT FROM c_sql -> 'd' OR t_hist -> 'd' IS DISTINCT FROM t_sql -> 'd') AS distinct_wrong,
       count(*) FILTER (WHERE agg_same(c_hist -> 'p25', c_sql -> 'p25', 0.01) IS NOT TRUE
                           OR agg_same(c_hist -> 'p999', c_sql -> 'p999', 0.01) IS NOT TRUE
                           OR agg_same(t_hist -> 'p25', t_sql -> 'p25', 0.01) IS NOT TRUE
                           OR agg_same(t_hist -> 'p999', t_sql -> 'p999', 0.01) IS NOT TRUE) AS percentile_off
  FROM agg_many_cmp,
       LATERAL (SELECT jsonb_build_object('d', c_d, 'p25', c_p25, 'p999', c_p999) AS c_hist,
                       jsonb_build_object('d', t_d, 'p25', t_p25, 'p999', t_p999) AS t_hist,
                       jsonb_build_object('d', c_online -> 'agg_many_c.d', 'p25', c_online -> 'agg_many_c.p25',
                                          'p999', c_online -> 'agg_many_c.p999') AS c_on,
                       jsonb_build_object('d', t_online -> 'agg_many_t.d', 'p25', t_online -> 'agg_many_t.p25',
                                          'p999', t_online -> 'agg_many_t.p999') AS t_on) h;
SELECT fs_drop('agg_many', cascade => true);

-- Point-in-time by hand: key 'pit', values 1, 10, 100, 1000 (text a, b,
-- NULL, c) at 10:00, 10:15, 10:59:59.999999 and 11:00 (2024-05-01); sum
-- over 1h, count over 30 minutes, last_n(2) over 1h; tiled by 15 minutes
-- and continuous.  Spine rows at the edges (each line's expected values
-- are worked out below), a key without events, NULL keys and times,
-- infinity, a repeated row; the output keeps the spine's order.
SELECT fs_create_feature_view('agg_pit_t', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('i', 'sum', '1h'), fs_agg('i', 'count', '30 minutes'), fs_agg('t', 'last_n(2)', '1h')],
    aggregation_interval => '15 minutes');
SELECT fs_create_feature_view('agg_pit_c', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('i', 'sum', '1h'), fs_agg('i', 'count', '30 minutes'), fs_agg('t', 'last_n(2)', '1h')]);
SELECT fs_push('agg_events', '[
  {"user_id": "pit", "ts": "2024-05-01T10:00:00Z", "i": 1, "t": "a"},
  {"user_id": "pit", "ts": "2024-05-01T10:15:00Z", "i": 10, "t": "b"},
  {"user_id": "pit", "ts": "2024-05-01T10:59:59.999999Z", "i": 100},
  {"user_id": "pit", "ts": "2024-05-01T11:00:00Z", "i": 1000, "t": "c"}]') -> 'feature_views';
-- tiled [F - W, F), F = floor(T, 15m):
--   10:14:59.999999  F 10:00  [09:00, 10:00): null, 0, {}
--   10:15            F 10:15  [09:15, 10:15): 1; [09:45, 10:15): 1; {a}
--   11:00            F 11:00  [10:00, 11:00): 111; [10:30, 11:00): 1; {a,b}
--   11:14:59         F 11:00  the same
--   11:15            F 11:15  [10:15, 11:15): 1110; [10:45, 11:15): 2; {b,c}
--   12:14:59         F 12:00  [11:00, 12:00): 1000; [11:30, 12:00): 0; {c}
--   12:15            F 12:15  [11:15, 12:15): null, 0, {}
SELECT * FROM fs_get_historical_features($$SELECT * FROM (VALUES
    (1, 'pit', timestamptz '2024-05-01 10:14:59.999999+00'), (2, 'pit', '2024-05-01 10:15:00+00'),
    (3, 'pit', '2024-05-01 11:00:00+00'), (4, 'pit', '2024-05-01 11:14:59+00'),
    (5, 'pit', '2024-05-01 11:15:00+00'), (6, 'pit', '2024-05-01 12:14:59+00'),
    (7, 'pit', '2024-05-01 12:15:00+00'), (8, 'nobody', '2024-05-01 11:00:00+00'),
    (9, NULL, '2024-05-01 11:00:00+00'), (10, 'pit', NULL), (11, 'pit', 'infinity'),
    (12, 'pit', '-infinity'), (13, 'pit', '2024-05-01 11:00:00+00')) s(n, user_id, at)$$,
    ARRAY['agg_pit_t'], full_feature_names => false)
    AS t(n int, user_id text, at timestamptz, i_sum_1h_15m bigint, i_count_30m_15m bigint, t_last_n_2_1h_15m text[]);
-- continuous (T - W, T]:
--   09:59:59.999999  null, 0, {}
--   10:00            1; 1; {a}
--   10:29:59.999999  11; (09:59:59.999999, ...]: 2; {a,b}
--   10:30            11; (10:00, 10:30]: 1; {a,b}
--   10:59:59.999999  111; (10:29:59.999999, ...]: 1; {a,b}
--   11:00            (10:00, 11:00]: 1110; (10:30, 11:00]: 2; {b,c}
--   11:59:59.999999  (10:59:59.999999, ...]: 1000; 0; {c}
--   12:00            null, 0, {}
-- and one feature asked by name
SELECT * FROM fs_get_historical_features($$SELECT * FROM (VALUES
    (1, 'pit', timestamptz '2024-05-01 09:59:59.999999+00'), (2, 'pit', '2024-05-01 10:00:00+00'),
    (3, 'pit', '2024-05-01 10:29:59.999999+00'), (4, 'pit', '2024-05-01 10:30:00+00'),
    (5, 'pit', '2024-05-01 10:59:59.999999+00'), (6, 'pit', '2024-05-01 11:00:00+00'),
    (7, 'pit', '2024-05-01 11:59:59.999999+00'), (8, 'pit', '2024-05-01 12:00:00+00')) s(n, user_id, at)$$,
    ARRAY['agg_pit_c', 'agg_pit_t.i_sum_1h_15m'], full_feature_names => false)
    AS t(n int, user_id text, at timestamptz, i_sum_1h_continuous bigint, i_count_30m_continuous bigint,
         t_last_n_2_1h_continuous text[], i_sum_1h_15m bigint);
-- the push source's table as the history (from_source => true) gives the same
SELECT * FROM fs_get_historical_features($$SELECT 'pit'::text AS user_id, timestamptz '2024-05-01 11:00:00+00' AS at$$,
    ARRAY['agg_pit_c', 'agg_pit_t'], full_feature_names => false, from_source => true)
    AS t(user_id text, at timestamptz, i_sum_1h_continuous bigint, i_count_30m_continuous bigint,
         t_last_n_2_1h_continuous text[], i_sum_1h_15m bigint, i_count_30m_15m bigint, t_last_n_2_1h_15m text[]);
-- a view without entities: one window over all events, (T - 1h, T]:
-- 10:15 sees 1; 10:45 sees 1 and 2; 11:10 sees 2
SELECT fs_create_push_source('agg_glob', 'ts Timestamp, v Int64', 'ts');
SELECT fs_create_feature_view('agg_glob_fv', 'agg_glob', ARRAY[]::text[],
    aggregations => ARRAY[fs_agg('v', 'sum', '1h'), fs_agg('v', 'count', '1h')]);
SELECT fs_push('agg_glob', '[{"ts": "2024-05-01T10:00:00Z", "v": 1}, {"ts": "2024-05-01T10:30:00Z", "v": 2}]') -> 'records';
SELECT * FROM fs_get_historical_features($$SELECT * FROM (VALUES (timestamptz '2024-05-01 10:15+00'),
    ('2024-05-01 10:45+00'), ('2024-05-01 11:10+00')) s(at)$$, ARRAY['agg_glob_fv'], full_feature_names => false)
    AS t(at timestamptz, v_sum_1h_continuous bigint, v_count_1h_continuous bigint);
SELECT fs_drop('agg_glob', cascade => true);
-- errors: an unknown aggregate feature, one asked twice
SELECT agg_try($$SELECT fs_historical_features_columns('SELECT ''pit''::text AS user_id, now() AS at',
                                                       ARRAY['agg_pit_t.i_sum_2h_15m'])$$);
SELECT agg_try($$SELECT fs_historical_features_columns('SELECT ''pit''::text AS user_id, now() AS at',
                                                       ARRAY['agg_pit_t', 'agg_pit_t.i_sum_1h_15m'])$$);
SELECT fs_drop('agg_pit_t'), fs_drop('agg_pit_c');

------------------------------------------------------------------------
-- fs_run: a view's events ('disabled'), tiles ('partial') and features
-- ('full') over [start, end).  Key 'run': i = 1, 10, 100, 1000 (t a, b,
-- NULL, c) at 10:00, 10:20, 10:40, 11:05 (2024-05-01)
------------------------------------------------------------------------
SELECT fs_create_feature_view('agg_run_t', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('i', 'sum', '1h'), fs_agg('i', 'count', '30 minutes'),
                          fs_agg('t', 'last_n(2)', '1h'), fs_agg('i', 'sum', '30 minutes')],
    aggregation_interval => '15 minutes');
SELECT fs_create_feature_view('agg_run_c', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('i', 'sum', '1h'), fs_agg('i', 'count', '30 minutes'), fs_agg('t', 'last_n(2)', '1h')]);
SELECT fs_push('agg_events', '[
  {"user_id": "run", "ts": "2024-05-01T10:00:00Z", "i": 1, "t": "a"},
  {"user_id": "run", "ts": "2024-05-01T10:20:00Z", "i": 10, "t": "b"},
  {"user_id": "run", "ts": "2024-05-01T10:40:00Z", "i": 100},
  {"user_id": "run", "ts": "2024-05-01T11:05:00Z", "i": 1000, "t": "c"}]') -> 'feature_views';
SELECT level, fs_run_columns('agg_run_t', level) FROM unnest(ARRAY['disabled', 'partial', 'full']) level;
SELECT fs_run_columns('agg_run_c');
-- the sketches' tile columns are named as their features, without window
SELECT c FROM regexp_split_to_table(fs_run_columns('agg_tiled', 'partial'), ', ') c WHERE c LIKE '%approx%';
-- (the naming helper refuses what is not a function spec, as fs_agg does)
SELECT agg_try($$SELECT pushsource_internal._agg_name_part('median')$$), agg_try($$SELECT pushsource_internal._agg_name_part('approx_percentile(2)')$$);
-- disabled: the events of [10:10, 11:00)
SELECT * FROM fs_run('agg_run_t', '2024-05-01 10:10+00', '2024-05-01 11:00+00', 'disabled')
    AS t(user_id text, ts timestamptz, i bigint, t text);
-- partial: one state per (column, function) for each tile that overlaps
-- [10:10, 11:00), whole: 10:00-10:15 (i 1, t a), 10:15-10:30 (10, b),
-- 10:30-10:45 (100, no t); 10:45-11:00 has no event
SELECT user_id, tile_start_time, tile_end_time, fs_partial_final(i_sum, NULL::bigint) AS i_sum,
       fs_partial_final(i_count, NULL::bigint) AS i_count, fs_partial_final(t_last_n_2, NULL::text[]) AS t_last_n_2
  FROM fs_run('agg_run_t', '2024-05-01 10:10+00', '2024-05-01 11:00+00', 'partial')
    AS t(user_id text, tile_start_time timestamptz, tile_end_time timestamptz,
         i_sum fs_partial, i_count fs_partial, t_last_n_2 fs_partial);
-- full, tiled: the features at the end of each of those tiles, [F - W, F):
--   10:15  [09:15, 10:15): 1; [09:45, 10:15): 1; {a}; [09:45, 10:15): 1
--   10:30  [09:30, 10:30): 11; [10:00, 10:30): 2; {a,b}; 11
--   10:45  [09:45, 10:45): 111; [10:15, 10:45): 2; {a,b}; [10:15, 10:45): 110
SELECT * FROM fs_run('agg_run_t', '2024-05-01 10:10+00', '2024-05-01 11:00+00')
    AS t(user_id text, ts timestamptz, i_sum_1h_15m bigint, i_count_30m_15m bigint,
         t_last_n_2_1h_15m text[], i_sum_30m_15m bigint);
-- full, continuous: the features at each event time of [10:10, 11:10), (T - W, T]:
--   10:20  (09:20, 10:20]: 11; (09:50, 10:20]: 2; {a,b}
--   10:40  111; (10:10, 10:40]: 2; {a,b}
--   11:05  (10:05, 11:05]: 1110; (10:35, 11:05]: 2; {b,c}
SELECT * FROM fs_run('agg_run_c', '2024-05-01 10:10+00', '2024-05-01 11:10+00', 'full')
    AS t(user_id text, ts timestamptz, i_sum_1h_continuous bigint, i_count_30m_continuous bigint,
         t_last_n_2_1h_continuous text[]);
-- it writes nothing: a read-only transaction may run it
BEGIN TRANSACTION READ ONLY;
SELECT count(*) FROM fs_run('agg_run_c', '2024-05-01 10:10+00', '2024-05-01 11:10+00')
    AS t(user_id text, ts timestamptz, i_sum_1h_continuous bigint, i_count_30m_continuous bigint,
         t_last_n_2_1h_continuous text[]);
COMMIT;
-- an attribute view aggregates nothing: 'full' is its rows, as 'disabled'
SELECT * FROM fs_run('agg_hist', '2024-05-01 10:10+00', '2024-05-01 11:00+00')
    AS t(user_id text, ts timestamptz, i bigint, f float8, b boolean, t text, at timestamptz)
 WHERE user_id = 'run';
-- errors
SELECT agg_try($$SELECT fs_run_columns('agg_run_t', 'tiles')$$);
SELECT agg_try($$SELECT fs_run_columns('agg_run_t', NULL)$$);
SELECT agg_try($$SELECT fs_run_columns('agg_run_c', 'partial')$$);
SELECT agg_try($$SELECT fs_run_columns('agg_hist', 'partial')$$);
SELECT agg_try($$SELECT fs_run_columns('agg_nope')$$);
SELECT agg_try($$SELECT * FROM fs_run('agg_run_t', NULL, '2024-05-02', 'full') AS t(a text)$$);
SELECT agg_try($$SELECT * FROM fs_run('agg_run_t', '2024-05-02', '2024-05-01', 'full') AS t(a text)$$);
SELECT fs_create_feature_view('agg_run_on', 'agg_events', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('i', 'sum', '1h')], offline => false);
SELECT agg_try($$SELECT * FROM fs_run('agg_run_on', '2024-05-01', '2024-05-02') AS t(a text)$$);
-- the internal join behind 'full' refuses a null spine or feature list too
SELECT agg_try($$SELECT * FROM pushsource_internal._run_features(NULL, ARRAY['agg_run_c'], NULL, NULL, NULL, NULL) AS t(a text)$$);
SELECT agg_try($$SELECT * FROM pushsource_internal._run_features('SELECT 1', NULL, NULL, NULL, NULL, NULL) AS t(a text)$$);
SELECT fs_drop('agg_run_t'), fs_drop('agg_run_c'), fs_drop('agg_run_on');

------------------------------------------------------------------------
-- A feature service mixing attribute and aggregate features
------------------------------------------------------------------------
SELECT fs_create_feature_service('agg_service', ARRAY['agg_cont.i_count_1h_continuous', 'agg_cont.t_last_1h_continuous']);
SET pushsource.request_time = '2024-05-01 12:00:00+00';
SELECT fs_get_online_features('agg_service', '{"user_id": "u1"}');
RESET pushsource.request_time;
SELECT agg_try($$SELECT fs_get_online_features('agg_tiled', '{"user": "u1"}')$$);
-- pushsource.request_time takes a finite timestamp; a bad value is refused
-- by SET, naming the setting, and the setting keeps its value
SELECT agg_try($$SET pushsource.request_time = 'not a time'$$);
SELECT agg_try($$SET pushsource.request_time = 'infinity'$$);
SELECT current_setting('pushsource.request_time') = '' AS unchanged;

------------------------------------------------------------------------
-- Pruning (continuous): a push drops the key's events no window at or
-- after min(its newest event, now()) sees; other keys keep theirs
------------------------------------------------------------------------
SELECT fs_create_entity('agg_prune_user', ARRAY['pid']);
SELECT fs_create_push_source('agg_prune', 'pid Int64, ts Timestamp, v Int64', 'ts');
SELECT fs_create_feature_view('agg_prune_fv', 'agg_prune', ARRAY['agg_prune_user'],
    aggregations => ARRAY[fs_agg('v', 'sum', '1 hour'), fs_agg('v', 'sum', '2 hours')]);
SELECT fs_push('agg_prune', '[{"pid": 1, "ts": "2024-05-01T08:00:00Z", "v": 1},
                              {"pid": 1, "ts": "2024-05-01T09:00:00Z", "v": 2},
                              {"pid": 2, "ts": "2024-05-01T08:00:00Z", "v": 4}]') -> 'feature_views';
SELECT pid, ts FROM pushsource_store.agg_prune_fv_events ORDER BY pid, ts;
-- pid 1 at 10:00: 08:00 is exactly 2 hours back, outside every window
SELECT fs_push('agg_prune', '{"pid": 1, "ts": "2024-05-01T10:00:00Z", "v": 8}') -> 'feature_views';
SELECT pid, ts FROM pushsource_store.agg_prune_fv_events ORDER BY pid, ts;
SET pushsource.request_time = '2024-05-01 10:00:00+00';
SELECT fs_get_online_features('agg_prune_fv', '[{"pid": 1}, {"pid": 2}]');
RESET pushsource.request_time;
-- a late event is kept online until a push of a newer event of its key
-- prunes it (reads skip it: it is in no window); offline keeps all
SELECT fs_push('agg_prune', '{"pid": 1, "ts": "2024-05-01T07:00:00Z", "v": 16}') -> 'feature_views';
SELECT pid, ts FROM pushsource_store.agg_prune_fv_events ORDER BY pid, ts;
SELECT count(*) FROM pushsource_store.agg_prune_fv_offline;
-- an event in the future prunes only up to now(): the year-2500 event
-- stays (the 08:00 one goes)
SELECT fs_push('agg_prune', '[{"pid": 2, "ts": "2500-01-01T00:00:00Z", "v": 32},
                              {"pid": 2, "ts": "2999-01-01T00:00:00Z", "v": 64}]') -> 'feature_views';
SELECT pid, ts FROM pushsource_store.agg_prune_fv_events WHERE pid = 2 ORDER BY ts;

------------------------------------------------------------------------
-- Infinite event times belong to no window: kept offline, not in tiles
------------------------------------------------------------------------
SELECT fs_create_feature_view('agg_inf_fv', 'agg_prune', ARRAY['agg_prune_user'],
    aggregations => ARRAY[fs_agg('v', 'count', '1 hour')], aggregation_interval => '1 hour');
INSERT INTO agg_prune VALUES (3, 'infinity', 1), (3, '-infinity', 1), (3, '2024-05-01 10:30+00', 1);
SELECT pid, block_start FROM pushsource_store.agg_inf_fv_tiles ORDER BY 1, 2;
SELECT count(*) FROM pushsource_store.agg_inf_fv_offline;
SET pushsource.request_time = '2024-05-01 11:00:00+00';
SELECT fs_get_online_features('agg_inf_fv', '{"pid": 3}');
RESET pushsource.request_time;

-- feature_start_time: earlier events reach neither store
SELECT fs_create_feature_view('agg_start_c', 'agg_prune', ARRAY['agg_prune_user'],
    aggregations => ARRAY[fs_agg('v', 'sum', '1 day')], feature_start_time => '2024-05-01 09:30+00');
SELECT fs_create_feature_view('agg_start_t', 'agg_prune', ARRAY['agg_prune_user'],
    aggregations => ARRAY[fs_agg('v', 'sum', '1 day')], aggregation_interval => '1 hour',
    feature_start_time => '2024-05-01 09:30+00');
SELECT fs_push('agg_prune', '[{"pid": 4, "ts": "2024-05-01T09:00:00Z", "v": 1},
                              {"pid": 4, "ts": "2024-05-01T09:30:00Z", "v": 2},
                              {"pid": 4, "ts": "2024-05-01T09:45:00Z", "v": 4}]') -> 'feature_views';
SET pushsource.request_time = '2024-05-01 12:00:00+00';
SELECT fs_get_online_features('agg_start_c', '{"pid": 4}'), fs_get_online_features('agg_start_t', '{"pid": 4}');
RESET pushsource.request_time;
SELECT (SELECT sum(v) FROM pushsource_store.agg_start_c_offline WHERE pid = 4),
       (SELECT sum(v) FROM pushsource_store.agg_start_t_offline WHERE pid = 4);
-- and point-in-time from the push source's table, which has the 09:00
-- event, does not count it either (2 + 4 at 12:00)
SELECT * FROM fs_get_historical_features($$SELECT 4::bigint AS pid, timestamptz '2024-05-01 12:00+00' AS at$$,
    ARRAY['agg_start_c', 'agg_start_t'], from_source => true)
    AS t(pid bigint, at timestamptz, c bigint, t bigint);

-- ttl is judged at the request time too: a value is OUTSIDE_TTL once its
-- event time is before request time - ttl (10:00 + 1h: still in at 11:00)
SELECT fs_create_feature_view('agg_ttl_fv', 'agg_prune', ARRAY['agg_prune_user'],
    features => ARRAY['v'], ttl => '1 hour', offline => false);
SELECT fs_push('agg_prune', '{"pid": 5, "ts": "2024-05-01T10:00:00Z", "v": 7}') -> 'records';
SET pushsource.request_time = '2024-05-01 11:00:00+00';
SELECT fs_get_online_features('agg_ttl_fv', '{"pid": 5}', include_metadata => true);
SET pushsource.request_time = '2024-05-01 11:00:00.000001+00';
SELECT fs_get_online_features('agg_ttl_fv', '{"pid": 5}', include_metadata => true);
RESET pushsource.request_time;

-- tiles damaged by hand are refused when read or merged, not trusted:
-- hourly tiles make 60-hour blocks; at R = 05-02 12:00 the 3-day window
-- holds the block of 05-01 10:00 whole (its totals are read), at R =
-- 05-01 11:00 it cuts it (its tiles are read)
SELECT fs_create_feature_view('agg_dmg_fv', 'agg_prune', ARRAY['agg_prune_user'],
    aggregations => ARRAY[fs_agg('v', 'sum', '3 days')], aggregation_interval => '1 hour');
SELECT fs_push('agg_prune', '{"pid": 6, "ts": "2024-05-01T10:00:00Z", "v": 1}') -> 'records';
UPDATE pushsource_store.agg_dmg_fv_tiles SET totals = '\x0100000001', tiles = '\x00000000' WHERE pid = 6;
SET pushsource.request_time = '2024-05-02 12:00:00+00';
SELECT agg_try($$SELECT fs_get_online_features('agg_dmg_fv', '{"pid": 6}')$$);
SET pushsource.request_time = '2024-05-01 11:00:00+00';
SELECT agg_try($$SELECT fs_get_online_features('agg_dmg_fv', '{"pid": 6}')$$);
RESET pushsource.request_time;
SELECT agg_try($$SELECT fs_push('agg_prune', '{"pid": 6, "ts": "2024-05-01T10:30:00Z", "v": 1}')$$);
SELECT count(*) FROM agg_prune WHERE pid = 6;
-- the error's context names the view
\set VERBOSITY default
SET pushsource.request_time = '2024-05-01 11:00:00+00';
SELECT fs_get_online_features('agg_dmg_fv', '{"pid": 6}');
RESET pushsource.request_time;

-- an aggregate's float is rendered as to_jsonb renders it, as an
-- attribute view of the same source renders it: at the server's default
-- extra_float_digits (1; pg_regress sets 0) the shortest exact digits.  It
-- used to be cut to 15 digits whatever the setting (1.23456789012346, and
-- 0.3 for the sum)
SELECT fs_create_push_source('agg_prec', 'user_id String, ts Timestamp, f Float64', 'ts');
SELECT fs_create_feature_view('agg_prec_attr', 'agg_prec', ARRAY['agg_user']);
SELECT fs_create_feature_view('agg_prec_fv', 'agg_prec', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('f', 'max', '1 day'), fs_agg('f', 'sum', '1 day')]);
SELECT fs_create_feature_view('agg_prec_tiled', 'agg_prec', ARRAY['agg_user'],
    aggregations => ARRAY[fs_agg('f', 'sum', '1 day')], aggregation_interval => '1 hour');
SELECT fs_push('agg_prec', '[{"user_id": "p", "ts": "2024-05-01T10:00:00Z", "f": 1.2345678901234567},
                             {"user_id": "q", "ts": "2024-05-01T10:00:00Z", "f": 0.1},
                             {"user_id": "q", "ts": "2024-05-01T10:10:00Z", "f": 0.2}]') -> 'records';
SET pushsource.request_time = '2024-05-01 11:00:00+00';
SET extra_float_digits = 1;
SELECT k, fs_get_online_features('agg_prec_attr', jsonb_build_object('user_id', k)) AS attr,
       fs_get_online_features('agg_prec_fv', jsonb_build_object('user_id', k)) AS agg,
       fs_get_online_features('agg_prec_tiled', jsonb_build_object('user_id', k)) AS tiled,
       to_jsonb(0.1::float8 + 0.2::float8) AS sql_sum
  FROM unnest(ARRAY['p', 'q']) k;
RESET extra_float_digits;
RESET pushsource.request_time;
SELECT fs_drop('agg_prec', cascade => true);
