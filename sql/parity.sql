-- Tecton/Feast parity and correctness (issue 19): each numbered defect of
-- the issue has its regression case here, each checked against plain SQL
-- written in this file or against values worked out by hand.
SET search_path = pushsource, pushsource_source, public;
SET timezone = 'UTC';
SET datestyle = ISO;
SET intervalstyle = postgres;

CREATE FUNCTION public.par_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

------------------------------------------------------------------------
-- 2. A view aggregates its join key (count of events per key) and its
--    timestamp column (time of the last event): the stores keep each
--    column once.  Before: 42701 "column specified more than once".
------------------------------------------------------------------------
SELECT fs_create_entity('par_user', ARRAY['user_id']);
CREATE TABLE public.par_batch (user_id bigint, ts timestamptz, amount bigint);
GRANT SELECT ON public.par_batch TO pushsource_admin;
SELECT fs_create_push_source('par_clicks', 'user_id Int64, ts Timestamp, amount Int64', 'ts',
                             batch_table => 'public.par_batch');
SELECT fs_create_feature_view('par_cnt_tiled', 'par_clicks', ARRAY['par_user'],
    aggregations => ARRAY[fs_agg('user_id', 'count', '1 day', 'n'), fs_agg('ts', 'last', '1 day', 'last_ts'),
                          fs_agg('amount', 'sum', '1 day', 'total')],
    aggregation_interval => '1 hour');
SELECT fs_create_feature_view('par_cnt_cont', 'par_clicks', ARRAY['par_user'],
    aggregations => ARRAY[fs_agg('user_id', 'count', '1 day', 'n'), fs_agg('ts', 'max', '2 hours', 'max_ts')]);
-- keys and time once in every store; the continuous view stores nothing else
SELECT c.relname, string_agg(a.attname, ', ' ORDER BY a.attnum)
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
 WHERE c.relnamespace = 'pushsource_store'::regnamespace AND c.relname LIKE 'par\_cnt\_%' AND c.relkind = 'r'
 GROUP BY c.relname ORDER BY 1;
SELECT fs_validate('par_cnt_tiled') ->> 'valid' AS tiled_valid, fs_validate('par_cnt_cont') ->> 'valid' AS cont_valid;
SELECT fs_push('par_clicks', '[{"user_id": 1, "ts": "2026-12-05T00:10:00Z", "amount": 5},
                               {"user_id": 1, "ts": "2026-12-05T01:20:00Z", "amount": 7},
                               {"user_id": 2, "ts": "2026-12-05T01:30:00Z", "amount": 1}]');
-- the rest of user 1's events come from the batch table, by a backfill
INSERT INTO public.par_batch VALUES (1, '2026-12-04 23:00+00', 100), (1, '2026-12-05 01:40+00', 2);
SELECT fs_materialize('par_cnt_tiled', '2026-12-04', '2026-12-06') ->> 'state';
SELECT fs_materialize('par_cnt_cont', '2026-12-04', '2026-12-06') ->> 'state';
-- at 02:00: user 1 has 4 events in the day (23:00, 00:10, 01:20, 01:40),
-- total 114, the last at 01:40; within two hours (after 00:00) the
-- latest is 01:40 too
SET pushsource.request_time = '2026-12-05T02:00:00Z';
SELECT fs_get_online_features('par_cnt_tiled', '{"user_id": 1}');
SELECT fs_get_online_features('par_cnt_cont', '{"user_id": 1}');
SELECT fs_get_online_features('par_cnt_cont', '{"user_id": 2}');
RESET pushsource.request_time;
-- the point-in-time join agrees with plain SQL over the source's log and
-- the batch table
CREATE TABLE public.par_spine (user_id bigint, ts timestamptz);
INSERT INTO public.par_spine VALUES (1, '2026-12-05 00:30+00'), (1, '2026-12-05 02:00+00'), (2, '2026-12-05 02:00+00'),
                                    (3, '2026-12-05 02:00+00');
SELECT * FROM fs_get_historical_features('public.par_spine', ARRAY['par_cnt_tiled', 'par_cnt_cont'])
    AS t(user_id bigint, ts timestamptz, n bigint, last_ts timestamptz, total bigint, cn bigint, max_ts timestamptz)
 ORDER BY user_id, ts;
WITH ev AS (SELECT user_id, ts, amount FROM pushsource_source.par_clicks UNION ALL SELECT * FROM public.par_batch)
SELECT s.user_id, s.ts,
       (SELECT count(e.user_id) FROM ev e WHERE e.user_id = s.user_id AND e.ts > s.ts - interval '1 day' AND e.ts <= s.ts) AS n,
       (SELECT max(e.ts) FROM ev e WHERE e.user_id = s.user_id AND e.ts > s.ts - interval '2 hours' AND e.ts <= s.ts) AS max_ts
  FROM public.par_spine s ORDER BY 1, 2;

------------------------------------------------------------------------
-- 1. fs_delete_keys of one view leaves the source's log, which its other
--    views read, alone (before: it deleted the log, and another view's
--    from_source answer became NULL); a source-level delete removes the
--    log's rows and the keys of every view keyed by those columns.
------------------------------------------------------------------------
SELECT fs_create_entity('par_item', ARRAY['item']);
SELECT fs_create_push_source('par_buys', 'user_id Int64, item String, ts Timestamp, price Float64', 'ts');
SELECT fs_create_feature_view('par_buy_a', 'par_buys', ARRAY['par_user'], features => ARRAY['price']);
SELECT fs_create_feature_view('par_buy_b', 'par_buys', ARRAY['par_user'], features => ARRAY['item']);
SELECT fs_create_feature_view('par_buy_item', 'par_buys', ARRAY['par_item'], features => ARRAY['price']);
SELECT fs_push('par_buys', '[{"user_id": 1, "item": "x", "ts": "2026-12-05T00:00:00Z", "price": 1.5},
                             {"user_id": 1, "item": "y", "ts": "2026-12-05T01:00:00Z", "price": 2.5},
                             {"user_id": 2, "item": "x", "ts": "2026-12-05T01:00:00Z", "price": 9}]') ->> 'records';
CREATE TABLE public.par_buy_spine (user_id bigint, ts timestamptz);
INSERT INTO public.par_buy_spine VALUES (1, '2026-12-05 02:00+00'), (2, '2026-12-05 02:00+00');
SELECT * FROM fs_get_historical_features('public.par_buy_spine', ARRAY['par_buy_b'], from_source => true)
    AS t(user_id bigint, ts timestamptz, item text) ORDER BY 1;
-- the view's stores lose user 1; the log and the sibling view keep it
SELECT fs_delete_keys('par_buy_a', '[{"user_id": 1}]') - 'job';
SELECT (SELECT count(*) FROM pushsource_store.par_buy_a_online) AS a_online,
       (SELECT count(*) FROM pushsource_store.par_buy_a_offline) AS a_offline,
       (SELECT count(*) FROM pushsource_source.par_buys) AS log,
       (SELECT count(*) FROM pushsource_store.par_buy_b_offline) AS b_offline;
SELECT * FROM fs_get_historical_features('public.par_buy_spine', ARRAY['par_buy_b'], from_source => true)
    AS t(user_id bigint, ts timestamptz, item text) ORDER BY 1;
SELECT fs_get_online_features('par_buy_b', '{"user_id": 1}');
-- a source-level delete: the log's rows of user 1, and par_buy_b's (keyed
-- by user_id too); par_buy_item is keyed by item: kept, and listed
SELECT fs_delete_keys('par_buys', '[{"user_id": 1}]') - 'job';
SELECT (SELECT count(*) FROM pushsource_source.par_buys WHERE user_id = 1) AS log_user1,
       (SELECT count(*) FROM pushsource_source.par_buys) AS log,
       (SELECT count(*) FROM pushsource_store.par_buy_b_offline WHERE user_id = 1) AS b_offline_user1,
       (SELECT count(*) FROM pushsource_store.par_buy_b_online WHERE user_id = 1) AS b_online_user1,
       (SELECT count(*) FROM pushsource_store.par_buy_item_offline) AS item_offline;
SELECT * FROM fs_get_historical_features('public.par_buy_spine', ARRAY['par_buy_b'], from_source => true)
    AS t(user_id bigint, ts timestamptz, item text) ORDER BY 1;
-- keys of several columns, in any order of the objects' fields; a key
-- naming columns no view is keyed by deletes only from the log
SELECT fs_delete_keys('par_buys', '[{"item": "x", "user_id": 2}]', online => false) - 'job';
SELECT count(*) AS log_left FROM pushsource_source.par_buys;
SELECT object, state, rows FROM fs_deletion_status('par_buys') ORDER BY id;
SELECT fs_push('par_buys', '[{"user_id": 3, "item": "z", "ts": "2026-12-05T00:00:00Z", "price": 1}]') ->> 'records';
-- errors: each names the source, the key and what was expected
SELECT par_try($$SELECT fs_delete_keys('par_buys', '[{"ts": "2026-12-05T00:00:00Z"}]')$$);
SELECT par_try($$SELECT fs_delete_keys('par_buys', '[{"nope": 1}]')$$);
SELECT par_try($$SELECT fs_delete_keys('par_buys', '[{}]')$$);
SELECT par_try($$SELECT fs_delete_keys('par_buys', '[1]')$$);
SELECT par_try($$SELECT fs_delete_keys('par_buys', '"x"')$$);
SELECT par_try($$SELECT fs_delete_keys('par_buys', '[{"user_id": 3}, {"item": "y"}]')$$);
SELECT par_try($$SELECT fs_delete_keys('par_buys', '[{"user_id": "three"}]')$$);
SELECT par_try($$SELECT fs_delete_keys('par_buys', '[{"user_id": null}]')$$);
SELECT par_try($$SELECT fs_delete_keys('par_user', '[{"user_id": 3}]')$$);
SELECT par_try($$SELECT fs_delete_keys('par_nothing', '[{"user_id": 3}]')$$);
-- a failed delete deleted nothing (user 3's key came before the bad key)
SELECT count(*) AS log_unchanged, count(*) FILTER (WHERE user_id = 3) AS user3 FROM pushsource_source.par_buys;
SELECT fs_delete_keys('par_buys', '[]') - 'job';

------------------------------------------------------------------------
-- 3. An Int64 sum that leaves bigint's range is NULL with status
--    OUT_OF_RANGE; the view's other features are served (before: 22003
--    from every read of the key, even through a service without the sum).
------------------------------------------------------------------------
SELECT fs_create_push_source('par_ovf', 'user_id Int64, ts Timestamp, amount Int64', 'ts');
SELECT fs_create_feature_view('par_ovf_tiled', 'par_ovf', ARRAY['par_user'],
    aggregations => ARRAY[fs_agg('amount', 'sum', '1 day', 's'), fs_agg('amount', 'count', '1 day', 'c'),
                          fs_agg('amount', 'max', '1 day', 'mx')],
    aggregation_interval => '1 hour');
SELECT fs_create_feature_view('par_ovf_cont', 'par_ovf', ARRAY['par_user'],
    aggregations => ARRAY[fs_agg('amount', 'sum', '1 day', 's'), fs_agg('amount', 'count', '1 day', 'c')]);
SELECT fs_create_feature_service('par_ovf_counts', ARRAY['par_ovf_tiled.c', 'par_ovf_cont.c']);
-- user 1: 2^63-1 twice (the sum overflows); user 2: 2^63-1 and -5 (it does not)
SELECT fs_push('par_ovf', '[{"user_id": 1, "ts": "2026-12-05T00:10:00Z", "amount": 9223372036854775807},
                            {"user_id": 1, "ts": "2026-12-05T00:20:00Z", "amount": 9223372036854775807},
                            {"user_id": 2, "ts": "2026-12-05T00:10:00Z", "amount": 9223372036854775807},
                            {"user_id": 2, "ts": "2026-12-05T00:20:00Z", "amount": -5}]') ->> 'records';
SET pushsource.request_time = '2026-12-05T02:00:00Z';
SELECT fs_get_online_features('par_ovf_tiled', '{"user_id": 1}', include_metadata => true);
SELECT fs_get_online_features('par_ovf_cont', '{"user_id": 1}', include_metadata => true);
SELECT fs_get_online_features('par_ovf_counts', '{"user_id": 1}');
SELECT fs_get_online_features('par_ovf_tiled', '{"user_id": 2}');
RESET pushsource.request_time;
CREATE TABLE public.par_ovf_spine (user_id bigint, ts timestamptz);
INSERT INTO public.par_ovf_spine VALUES (1, '2026-12-05 02:00+00'), (2, '2026-12-05 02:00+00'), (1, '2026-12-05 00:15+00');
SELECT * FROM fs_get_historical_features('public.par_ovf_spine', ARRAY['par_ovf_tiled', 'par_ovf_cont'])
    AS t(user_id bigint, ts timestamptz, s bigint, c bigint, mx bigint, cs bigint, cc bigint) ORDER BY 1, 2;

------------------------------------------------------------------------
-- 4. A dropped batch_table: fs_validate names it, fs_summary shows no raw
--    OID (null, and the problem), fs_materialize says it was dropped.
------------------------------------------------------------------------
CREATE TABLE public.par_gone (user_id bigint, ts timestamptz, amount bigint);
GRANT SELECT ON public.par_gone TO pushsource_admin;
SELECT fs_create_push_source('par_gone_src', 'user_id Int64, ts Timestamp, amount Int64', 'ts',
                             batch_table => 'public.par_gone');
SELECT fs_create_feature_view('par_gone_fv', 'par_gone_src', ARRAY['par_user'], features => ARRAY['amount']);
SELECT fs_summary('par_gone_src') ->> 'batch_table' AS before_drop;
DROP TABLE public.par_gone;
SELECT fs_validate('par_gone_src');
SELECT fs_validate('par_gone_fv') -> 'problems' AS view_problems;
SELECT fs_summary('par_gone_src') -> 'batch_table' AS batch_table, fs_summary('par_gone_src') -> 'problems' AS problems;
SELECT fs_summary('par_gone_fv') -> 'problems' AS view_summary_problems;
SELECT regexp_replace(par_try($$SELECT fs_materialize('par_gone_fv', '2026-12-01', '2026-12-02')$$), '\d+\)', 'N)');
-- pushes and reads go on
SELECT fs_push('par_gone_src', '[{"user_id": 1, "ts": "2026-12-05T00:10:00Z", "amount": 3}]') ->> 'records';
SELECT fs_get_online_features('par_gone_fv', '{"user_id": 1}');

------------------------------------------------------------------------
-- 5. A feature service refuses views whose shared join key has different
--    types (before: accepted, then reads failed one way or the other);
--    the same type declared two ways (Int64, bigint) is one type.
------------------------------------------------------------------------
SELECT fs_create_push_source('par_skey', 'user_id String, ts Timestamp, v Int64', 'ts');
SELECT fs_create_push_source('par_pgkey', 'user_id bigint, ts timestamptz, w bigint', 'ts');
SELECT fs_create_feature_view('par_skey_fv', 'par_skey', ARRAY['par_user'], features => ARRAY['v']);
SELECT fs_create_feature_view('par_pgkey_fv', 'par_pgkey', ARRAY['par_user'], features => ARRAY['w']);
SELECT par_try($$SELECT fs_create_feature_service('par_mixed', ARRAY['par_buy_a', 'par_skey_fv'])$$);
SELECT par_try($$SELECT fs_create_feature_service('par_mixed', ARRAY['par_skey_fv.v', 'par_buy_b', 'par_buy_item'])$$);
SELECT count(*) AS no_service_left FROM pushsource.feature_services WHERE name = 'par_mixed';
SELECT fs_create_feature_service('par_same', ARRAY['par_buy_a', 'par_pgkey_fv', 'par_buy_item']);
SELECT fs_push('par_pgkey', '[{"user_id": 2, "ts": "2026-12-05T00:10:00Z", "w": 4}]') ->> 'records';
SELECT fs_get_online_features('par_same', '{"user_id": 2, "item": "x"}');

------------------------------------------------------------------------
-- 6. A join key too large for the stores' key index is a bad record:
--    skipped with on_error => 'skip', a recordError from fs_ingest, an
--    error naming the record and field from INSERT (before: it passed
--    validation, then failed the whole batch's store write).
------------------------------------------------------------------------
SELECT fs_create_entity('par_page', ARRAY['page']);
SELECT fs_create_push_source('par_pages', 'page String, ts Timestamp, hits Int64', 'ts');
SELECT fs_create_feature_view('par_pages_fv', 'par_pages', ARRAY['par_page']);
CREATE TABLE public.par_big AS
SELECT string_agg(md5(i::text), '') AS k6400,          -- 6,400 bytes of digits, hardly compressible
       repeat('x', 2000) AS k2000, repeat('x', 2001) AS k2001
  FROM generate_series(1, 200) i;
SELECT fs_push('par_pages', jsonb_build_array(
           jsonb_build_object('page', k6400, 'ts', '2026-12-05T00:00:00Z', 'hits', 1),
           jsonb_build_object('page', 'home', 'ts', '2026-12-05T00:00:00Z', 'hits', 2),
           jsonb_build_object('page', k2000, 'ts', '2026-12-05T00:00:00Z', 'hits', 3),
           jsonb_build_object('page', k2001, 'ts', '2026-12-05T00:00:00Z', 'hits', 4)),
           on_error => 'skip') FROM public.par_big;
SELECT length(page), hits FROM pushsource_store.par_pages_fv_online ORDER BY hits;
SELECT regexp_replace(par_try(format($$SELECT fs_push('par_pages', %L)$$,
           jsonb_build_array(jsonb_build_object('page', k6400, 'ts', '2026-12-05T00:00:00Z', 'hits', 1)))), '\s+', ' ', 'g')
  FROM public.par_big;
SELECT fs_ingest(jsonb_build_object('workspace_name', 'prod', 'records', jsonb_build_object('par_pages',
           jsonb_build_array(jsonb_build_object('record', jsonb_build_object('page', 'ok', 'ts', '2026-12-05T00:00:00Z', 'hits', 5)),
                             jsonb_build_object('record', jsonb_build_object('page', k6400, 'ts', '2026-12-05T00:00:00Z', 'hits', 6))))))
  FROM public.par_big;
SELECT par_try($$INSERT INTO pushsource_source.par_pages SELECT k6400, '2026-12-05 00:00+00', 7 FROM public.par_big$$);
SELECT count(*) AS online_rows FROM pushsource_store.par_pages_fv_online;

------------------------------------------------------------------------
-- 7. A view that would store or serve nothing is refused (before: made).
------------------------------------------------------------------------
SELECT par_try($$SELECT fs_create_feature_view('par_empty', 'par_buys', ARRAY['par_user'], features => ARRAY[]::text[])$$);
SELECT par_try($$SELECT fs_create_feature_view('par_nowhere', 'par_buys', ARRAY['par_user'], features => ARRAY['price'],
                                               online => false, offline => false)$$);
SELECT fs_create_push_source('par_keys_only', 'user_id Int64, ts Timestamp', 'ts');
SELECT par_try($$SELECT fs_create_feature_view('par_keys_only_fv', 'par_keys_only', ARRAY['par_user'])$$);
-- what the hint says works: counting events per key
SELECT fs_create_feature_view('par_keys_only_cnt', 'par_keys_only', ARRAY['par_user'],
                              aggregations => ARRAY[fs_agg('user_id', 'count', '1 day', 'events')]);
SELECT name FROM pushsource.feature_views WHERE name IN ('par_empty', 'par_nowhere', 'par_keys_only_fv');
SELECT count(*) AS no_stores_left FROM pg_class
 WHERE relname LIKE 'par\_empty%' OR relname LIKE 'par\_nowhere%' OR relname LIKE 'par\_keys\_only\_fv%';

------------------------------------------------------------------------
-- 8. pushsource.features.type names every type the Tecton way, attribute
--    and aggregate features alike (before: bigint, double precision for
--    aggregates); pg_type has PostgreSQL's name.
------------------------------------------------------------------------
SELECT fs_create_push_source('par_types', 'user_id Int64, ts Timestamp, i Int64, f Float32, s String, b Bool,
    a Array(Int64), st Struct(x Int64), n numeric, pi bigint, ptxt text[]', 'ts');
SELECT fs_create_feature_view('par_types_attr', 'par_types', ARRAY['par_user']);
SELECT fs_create_feature_view('par_types_agg', 'par_types', ARRAY['par_user'],
    aggregations => ARRAY[fs_agg('i', 'sum', '1 day', 'i_sum'), fs_agg('i', 'mean', '1 day', 'i_mean'),
                          fs_agg('f', 'max', '1 day', 'f_max'), fs_agg('s', 'last_distinct_n(2)', '1 day', 's_last2'),
                          fs_agg('b', 'last', '1 day', 'b_last'), fs_agg('ts', 'min', '1 day', 'ts_first'),
                          fs_agg('user_id', 'count', '1 day', 'n'), fs_agg('s', 'approx_count_distinct', '1 day', 's_distinct')]);
SELECT feature_view, feature, type, pg_type, kind FROM pushsource.features
 WHERE feature_view LIKE 'par\_types\_%' ORDER BY feature_view, position;

------------------------------------------------------------------------
-- 9. One rule for an event dated after the request time: an attribute
--    view's online store holds the newest event by event time, and online
--    reads serve it at once (as Tecton's online store does); a
--    point-in-time read at T sees only events at or before T, so the two
--    agree once T reaches the event's time.  Aggregate windows end at the
--    request time online and offline alike.
------------------------------------------------------------------------
SELECT fs_create_push_source('par_future', 'user_id Int64, ts Timestamp, v Int64', 'ts');
SELECT fs_create_feature_view('par_future_fv', 'par_future', ARRAY['par_user']);
SELECT fs_create_feature_view('par_future_agg', 'par_future', ARRAY['par_user'],
    aggregations => ARRAY[fs_agg('v', 'sum', '30 days', 's')]);
SELECT fs_push('par_future', '[{"user_id": 1, "ts": "2026-12-05T00:00:00Z", "v": 1},
                               {"user_id": 1, "ts": "2126-01-01T00:00:00Z", "v": 2}]') ->> 'records';
SET pushsource.request_time = '2026-12-06T00:00:00Z';
SELECT fs_get_online_features('par_future_fv', '{"user_id": 1}', include_metadata => true);
SELECT fs_get_online_features('par_future_agg', '{"user_id": 1}');
RESET pushsource.request_time;
CREATE TABLE public.par_future_spine (user_id bigint, ts timestamptz);
INSERT INTO public.par_future_spine VALUES (1, '2026-12-06 00:00+00'), (1, '2126-01-01 00:00+00');
SELECT * FROM fs_get_historical_features('public.par_future_spine', ARRAY['par_future_fv', 'par_future_agg'])
    AS t(user_id bigint, ts timestamptz, v bigint, s bigint) ORDER BY ts;

------------------------------------------------------------------------
-- 10. Every time pushsource parses itself is UTC when it has no zone:
--     pushed JSON and pushsource.request_time alike, whatever the
--     session's TimeZone (before: request_time followed it).  Arguments
--     of type timestamptz (start_time, end_time) are PostgreSQL's to
--     read, before pushsource sees them: they follow TimeZone (README).
------------------------------------------------------------------------
SET timezone = 'America/New_York';
SET pushsource.request_time = '2026-12-05 01:00:00';
SELECT pushsource_internal._now() AS request_time_utc;
SELECT fs_get_online_features('par_cnt_cont', '{"user_id": 1}');   -- events 23:00, 00:10 UTC
SET pushsource.request_time = '2026-12-05T01:00:00-05:00';
SELECT pushsource_internal._now() AS request_time_with_zone;
SELECT par_try($$SET pushsource.request_time = '05 Dec 2026 01:00'$$);
SELECT par_try($$SET pushsource.request_time = 'infinity'$$);
RESET pushsource.request_time;
SELECT fs_push('par_future', '[{"user_id": 2, "ts": "2026-12-05 03:00:00", "v": 5}]') ->> 'records';
SELECT ts FROM pushsource_source.par_future WHERE user_id = 2;
SET timezone = 'UTC';
SELECT ts FROM pushsource_source.par_future WHERE user_id = 2;

------------------------------------------------------------------------
-- Tecton's seed sources declare the timestamp field a String: accepted,
-- read with the strict RFC 3339 rules of pushed timestamps (no zone is
-- UTC) and stored as a Timestamp.
------------------------------------------------------------------------
SELECT fs_create_push_source('par_strts', 'user_id Int64, event_time String, v Int64', 'event_time');
SELECT schema FROM pushsource.push_sources WHERE name = 'par_strts';
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'pushsource_source.par_strts'::regclass AND attname = 'event_time';
SELECT fs_create_feature_view('par_strts_fv', 'par_strts', ARRAY['par_user']);
SELECT fs_push('par_strts', '[{"user_id": 1, "event_time": "2026-12-05T10:00:00+02:00", "v": 1},
                              {"user_id": 2, "event_time": "2026-12-05 10:00:00", "v": 2},
                              {"user_id": 3, "event_time": "Dec 5 2026", "v": 3},
                              {"user_id": 4, "event_time": 1764928800, "v": 4}]', on_error => 'skip');
SELECT user_id, event_time FROM pushsource_source.par_strts ORDER BY user_id;
SELECT par_try($$SELECT fs_push('par_strts', '[{"user_id": 3, "event_time": "Dec 5 2026", "v": 3}]')$$);
-- declared as PostgreSQL text, it is still refused: text is not a time
SELECT par_try($$SELECT fs_create_push_source('par_textts', 'user_id Int64, ts text', 'ts')$$);

------------------------------------------------------------------------
-- A log_offline source without a batch_table backfills a new view from
-- its own log (before: "has no batch_table"); the window is rebuilt from
-- the log whole, so events the view already has (pushed after it was
-- made) are not added twice.
------------------------------------------------------------------------
SELECT fs_create_push_source('par_logsrc', 'user_id Int64, ts Timestamp, v Int64', 'ts');
SELECT fs_create_feature_view('par_log_old', 'par_logsrc', ARRAY['par_user'],
    aggregations => ARRAY[fs_agg('v', 'sum', '1 day', 's')]);
SELECT fs_push('par_logsrc', '[{"user_id": 1, "ts": "2026-12-05T00:10:00Z", "v": 1},
                               {"user_id": 1, "ts": "2026-12-05T00:20:00Z", "v": 2}]') ->> 'records';
-- views made after those pushes: attribute, continuous and tiled with history
SELECT fs_create_feature_view('par_log_attr', 'par_logsrc', ARRAY['par_user']);
SELECT fs_create_feature_view('par_log_cont', 'par_logsrc', ARRAY['par_user'],
    aggregations => ARRAY[fs_agg('v', 'sum', '1 day', 's')]);
SELECT fs_create_feature_view('par_log_tiled', 'par_logsrc', ARRAY['par_user'],
    aggregations => ARRAY[fs_agg('v', 'sum', '1 day', 's')], aggregation_interval => '1 hour');
SELECT fs_create_feature_view('par_log_tiles_only', 'par_logsrc', ARRAY['par_user'],
    aggregations => ARRAY[fs_agg('v', 'sum', '1 day', 's')], aggregation_interval => '1 hour', offline => false);
SELECT fs_push('par_logsrc', '[{"user_id": 1, "ts": "2026-12-05T00:30:00Z", "v": 4}]') ->> 'records';
SET pushsource.request_time = '2026-12-05T02:00:00Z';
-- before the backfill: the new views have only the last push
SELECT fs_get_online_features('par_log_cont', '{"user_id": 1}') AS cont_before,
       fs_get_online_features('par_log_tiled', '{"user_id": 1}') AS tiled_before;
SELECT j - 'job' - 'end_time' - 'start_time' FROM fs_materialize('par_log_cont', '2026-12-05', '2026-12-06') j;
SELECT j - 'job' - 'end_time' - 'start_time' FROM fs_materialize('par_log_tiled', '2026-12-05', '2026-12-06') j;
SELECT j - 'job' - 'end_time' - 'start_time' FROM fs_materialize('par_log_attr', '2026-12-05', '2026-12-06') j;
-- after: 1 + 2 + 4 = 7 in every view, as in the view made before the pushes
SELECT fs_get_online_features('par_log_old', '{"user_id": 1}') AS made_before,
       fs_get_online_features('par_log_cont', '{"user_id": 1}') AS cont,
       fs_get_online_features('par_log_tiled', '{"user_id": 1}') AS tiled,
       fs_get_online_features('par_log_attr', '{"user_id": 1}') AS attr;
-- again: idempotent
SELECT fs_materialize('par_log_cont', '2026-12-05', '2026-12-06') ->> 'rows' AS rows_again;
SELECT fs_get_online_features('par_log_cont', '{"user_id": 1}') AS cont_again;
RESET pushsource.request_time;
SELECT count(*) AS offline_rows FROM pushsource_store.par_log_cont_offline;
-- a backfill from the log rebuilds its window whole (pushed rows and
-- blocks too), so a view with tiles only is right as well
SELECT fs_materialize('par_log_tiles_only', '2026-12-05', '2026-12-06') ->> 'state' AS tiles_only;
SET pushsource.request_time = '2026-12-05T02:00:00Z';
SELECT fs_get_online_features('par_log_tiles_only', '{"user_id": 1}') AS tiles_only;
-- found in review: two events of one key and time are two events in a log
-- (before: the one pushed before the view was made was taken for the
-- pushed one and lost); rows the view lost (a view-level delete of its
-- offline rows) come back from the log, and its tiles count nothing twice
-- (before: 3 events, sum 21)
SELECT fs_push('par_logsrc', '[{"user_id": 7, "ts": "2026-12-05T00:10:00Z", "v": 5}]') ->> 'records';
SELECT fs_create_feature_view('par_log_late', 'par_logsrc', ARRAY['par_user'],
    aggregations => ARRAY[fs_agg('v', 'sum', '1 day', 's'), fs_agg('v', 'count', '1 day', 'c')],
    aggregation_interval => '1 hour');
SELECT fs_push('par_logsrc', '[{"user_id": 7, "ts": "2026-12-05T00:10:00Z", "v": 7}]') ->> 'records';
SELECT fs_materialize('par_log_late', '2026-12-05', '2026-12-06') ->> 'rows' AS rows;
SELECT fs_get_online_features('par_log_late', '{"user_id": 7}') AS both_events;
SELECT fs_delete_keys('par_log_late', '[{"user_id": 7}]', online => false) ->> 'offline' AS offline_deleted;
SELECT fs_materialize('par_log_late', '2026-12-05', '2026-12-06') ->> 'rows' AS rows;
SELECT fs_get_online_features('par_log_late', '{"user_id": 7}') AS still_both,
       (SELECT count(*) FROM pushsource_store.par_log_late_offline WHERE user_id = 7) AS offline_rows;
RESET pushsource.request_time;
SELECT * FROM fs_get_historical_features('SELECT 7::bigint AS user_id, timestamptz ''2026-12-05 02:00+00'' AS ts',
                                         ARRAY['par_log_late']) AS t(user_id bigint, ts timestamptz, s bigint, c bigint);
CALL fs_materialize_proc('par_log_attr', '2026-12-05', '2026-12-06', window_size => '12 hours');
-- a source with neither a batch table nor a log
SELECT fs_create_push_source('par_nolog', 'user_id Int64, ts Timestamp, v Int64', 'ts', log_offline => false);
SELECT fs_create_feature_view('par_nolog_fv', 'par_nolog', ARRAY['par_user']);
SELECT par_try($$SELECT fs_materialize('par_nolog_fv', '2026-12-05', '2026-12-06')$$);

-- fs_get_dataframe of a source reads its batch table when it has one (as
-- Tecton's PushSource.get_dataframe), its log otherwise
SELECT * FROM fs_get_dataframe('par_clicks') ORDER BY 1::text;
SELECT * FROM fs_get_dataframe('par_logsrc') ORDER BY 1::text;
SELECT regexp_replace(par_try($$SELECT fs_get_dataframe('par_gone_src')$$), '\d+\)', 'N)');

------------------------------------------------------------------------
-- The ingest API's recordErrors name the feature view a record error
-- concerns (a join key it needs), null for the source's own fields.
------------------------------------------------------------------------
SELECT e ->> 'featureViewName' AS view, e ->> 'errorMessage' AS message
  FROM jsonb_array_elements(fs_ingest('{"workspace_name": "prod", "records": {"par_buys": [
           {"record": {"item": "x", "ts": "2026-12-05T00:00:00Z", "price": 1}},
           {"record": {"user_id": 5, "ts": "2026-12-05T00:00:00Z", "price": 1}},
           {"record": {"user_id": 5, "item": "x", "ts": "never", "price": 1}},
           {"record": {"user_id": 5, "item": "x", "ts": "2026-12-05T00:00:00Z", "price": "cheap"}}]}}') -> 'recordErrors') e;
-- ingest counts (README): offline = the view's records; online = keys whose
-- stored row changed (attribute view), tile blocks written (tiled view)
SELECT fs_create_push_source('par_cnt', 'user_id Int64, ts Timestamp, v Int64', 'ts');
SELECT fs_create_feature_view('par_cnt_attr', 'par_cnt', ARRAY['par_user']);
SELECT fs_create_feature_view('par_cnt_tiles', 'par_cnt', ARRAY['par_user'],
    aggregations => ARRAY[fs_agg('v', 'sum', '1 day')], aggregation_interval => '1 hour');
SELECT fs_ingest('{"workspace_name": "w", "records": {"par_cnt": [
    {"record": {"user_id": 1, "ts": "2026-12-05T00:00:00Z", "v": 1}},
    {"record": {"user_id": 1, "ts": "2026-12-05T01:00:00Z", "v": 2}},
    {"record": {"user_id": 2, "ts": "2026-12-05T01:00:00Z", "v": 2}}]}}') -> 'ingestMetrics';
SELECT fs_ingest('{"workspace_name": "w", "records": {"par_cnt": [
    {"record": {"user_id": 1, "ts": "2026-12-04T00:00:00Z", "v": 1}}]}}') -> 'ingestMetrics';

------------------------------------------------------------------------
-- fs_save_historical_features without a name (Tecton's save=True) makes
-- one: historical_features_<UTC time>, returned.
------------------------------------------------------------------------
SET search_path = public, pushsource, pushsource_source;   -- (never into the extension's schemas: sql/pit.sql)
CREATE TEMP TABLE par_saved AS
SELECT fs_save_historical_features(NULL, 'public.par_spine', ARRAY['par_cnt_cont']) AS t1,
       fs_save_historical_features(NULL, 'public.par_spine', ARRAY['par_cnt_cont']) AS t2;
SELECT t1::text ~ '^historical_features_\d{8}_\d{6}_\d{6}(_\d+)?$' AS named, t2::text ~ '^historical_features_\d{8}_\d{6}_\d{6}(_\d+)?$' AND t2 <> t1 AS second_named,
       (SELECT count(*) FROM pg_class WHERE oid = t1) AS exists
  FROM par_saved;
DO $$
DECLARE t regclass := (SELECT t1 FROM par_saved);
        n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s', t) INTO n;
    RAISE NOTICE 'rows saved: %', n;
    EXECUTE format('DROP TABLE %s, %s', t, (SELECT t2 FROM par_saved));
END
$$;
SET search_path = pushsource, pushsource_source, public;

------------------------------------------------------------------------
-- fs_materialization_status / fs_deletion_status take Tecton's verbose,
-- limit and sort_columns: without verbose a window's latest attempt only.
------------------------------------------------------------------------
SELECT id IS NOT NULL AS has_id, kind, window_start, attempt, rows
  FROM fs_materialization_status('par_log_cont') ORDER BY id;
SELECT kind, window_start, attempt, rows
  FROM fs_materialization_status('par_log_cont', verbose => true) ORDER BY id;
SELECT object, attempt FROM fs_materialization_status(NULL, "limit" => 2, verbose => true);
SELECT object, window_start FROM fs_materialization_status('par_log_attr', verbose => true,
                                                           sort_columns => 'window_start DESC, attempt');
SELECT object, rows FROM fs_deletion_status('par_buys', sort_columns => 'rows');
SELECT par_try($$SELECT * FROM fs_deletion_status('par_buys', sort_columns => 'nope')$$);
SELECT par_try($$SELECT * FROM fs_deletion_status('par_buys', sort_columns => 'rows sideways')$$);
SELECT par_try($$SELECT * FROM fs_deletion_status('par_buys', "limit" => -1)$$);
SELECT par_try($$SELECT * FROM fs_deletion_status('par_buys', sort_columns => 'rows; DROP TABLE x')$$);

------------------------------------------------------------------------
-- Tecton's feature names in point-in-time results, as an option:
-- SET pushsource.historical_feature_names = dotted gives "view.feature".
------------------------------------------------------------------------
SET pushsource.historical_feature_names = dotted;
SELECT fs_historical_features_columns('public.par_spine', ARRAY['par_cnt_cont', 'par_buy_a.price']);
SELECT "par_cnt_cont.n", "par_buy_a.price"
  FROM fs_get_historical_features('public.par_spine', ARRAY['par_cnt_cont', 'par_buy_a.price'])
    AS t(user_id bigint, ts timestamptz, "par_cnt_cont.n" bigint, "par_cnt_cont.max_ts" timestamptz,
         "par_buy_a.price" double precision)
 ORDER BY user_id, ts;
RESET pushsource.historical_feature_names;
SELECT fs_historical_features_columns('public.par_spine', ARRAY['par_cnt_cont']);
SELECT par_try($$SET pushsource.historical_feature_names = 'camel'$$);

------------------------------------------------------------------------
-- Tecton's data_delay: a scheduled backfill's window ends that long
-- before now, so that late batch rows have arrived; fs_summary of a view
-- shows it as max_data_delay.
------------------------------------------------------------------------
CREATE TABLE public.par_late (user_id bigint, ts timestamptz, v bigint);
GRANT SELECT ON public.par_late TO pushsource_admin;
INSERT INTO public.par_late VALUES (1, now() - interval '3 hours', 1), (1, now() - interval '30 minutes', 2);
SELECT fs_create_push_source('par_late_src', 'user_id Int64, ts Timestamp, v Int64', 'ts',
                             batch_table => 'public.par_late', data_delay => '1 hour');
SELECT fs_create_feature_view('par_late_fv', 'par_late_src', ARRAY['par_user'],
                              feature_start_time => now() - interval '1 day');
SELECT data_delay FROM pushsource.push_sources WHERE name = 'par_late_src';
SELECT fs_summary('par_late_fv') ->> 'max_data_delay' AS max_data_delay,
       fs_summary('par_buy_a') -> 'max_data_delay' AS none;
-- the scheduled run (as pg_cron would call it): the window ends at now() - 1 hour,
-- so the row of 30 minutes ago waits for the next run
SELECT (j ->> 'rows')::int AS rows FROM pushsource_internal._scheduled_materialize('par_late_fv') j;
SELECT window_end BETWEEN now() - interval '1 hour 1 minute' AND now() - interval '1 hour' AS ends_an_hour_ago
  FROM pushsource.jobs
 WHERE object = 'par_late_fv' ORDER BY id DESC LIMIT 1;
SELECT v FROM pushsource_store.par_late_fv_online;
SELECT par_try($$SELECT fs_create_push_source('par_late2', 'user_id Int64, ts Timestamp', 'ts', data_delay => '1 hour')$$);
SELECT par_try($$SELECT fs_create_push_source('par_late2', 'user_id Int64, ts Timestamp, v Int64', 'ts',
                                              batch_table => 'public.par_late', data_delay => '-1 hour')$$);

------------------------------------------------------------------------
-- Found in review: the key-size limit is per view (each view's stores
-- index only its own keys): two views keyed by two 1,500-byte columns
-- accept the record (before: refused as 3,000 bytes together).
------------------------------------------------------------------------
SELECT fs_create_entity('par_ka', ARRAY['ka']);
SELECT fs_create_entity('par_kb', ARRAY['kb']);
SELECT fs_create_push_source('par_two_keys', 'ka String, kb String, ts Timestamp, v Int64, j json', 'ts');
SELECT fs_create_feature_view('par_two_keys_a', 'par_two_keys', ARRAY['par_ka'], features => ARRAY['v']);
SELECT fs_create_feature_view('par_two_keys_b', 'par_two_keys', ARRAY['par_kb'], features => ARRAY['v']);
SELECT fs_push('par_two_keys', jsonb_build_array(jsonb_build_object('ka', repeat('x', 1500), 'kb', repeat('y', 1500),
                                                                    'ts', '2026-12-05T00:00:00Z', 'v', 1))) ->> 'records';
SELECT par_try(format($$SELECT fs_push('par_two_keys', %L)$$, jsonb_build_array(jsonb_build_object(
           'ka', repeat('x', 2001), 'kb', 'y', 'ts', '2026-12-05T00:00:00Z', 'v', 1))));
-- a source-level delete by a column whose values cannot be compared is
-- refused naming it (before: 42883 naming no object)
SELECT par_try($$SELECT fs_delete_keys('par_two_keys', '[{"j": {"x": 1}}]')$$);

------------------------------------------------------------------------
-- Tecton's run_stream, pulled: fs_run_stream(view, after) returns the rows
-- pushes wrote to the view's offline store after a cursor, oldest first.
------------------------------------------------------------------------
SELECT fs_create_push_source('par_stream', 'user_id Int64, ts Timestamp, v Int64', 'ts');
SELECT fs_create_feature_view('par_stream_fv', 'par_stream', ARRAY['par_user']);
SELECT fs_create_feature_view('par_stream_online', 'par_stream', ARRAY['par_user'], offline => false);
SELECT fs_push('par_stream', '[{"user_id": 1, "ts": "2026-12-05T00:00:00Z", "v": 1},
                               {"user_id": 2, "ts": "2026-12-04T00:00:00Z", "v": 2}]') ->> 'records';
SELECT record FROM fs_run_stream('par_stream_fv') ORDER BY ingest_id;
CREATE TEMP TABLE par_cursor AS SELECT max(ingest_id) AS c FROM fs_run_stream('par_stream_fv');
SELECT fs_push('par_stream', '[{"user_id": 1, "ts": "2026-12-05T01:00:00Z", "v": 3}]') ->> 'records';
-- from the cursor: the new row only
SELECT record FROM fs_run_stream('par_stream_fv', (SELECT c FROM par_cursor));
SELECT count(*) AS first_one FROM fs_run_stream('par_stream_fv', 0, 1);
SELECT par_try($$SELECT * FROM fs_run_stream('par_nope')$$);
SELECT par_try($$SELECT * FROM fs_run_stream('par_stream_online')$$);
SELECT par_try($$SELECT * FROM fs_run_stream('par_stream_fv', NULL)$$);
SELECT par_try($$SELECT * FROM fs_run_stream('par_stream_fv', 0, -1)$$);

------------------------------------------------------------------------
-- Tecton's run(mock_sources=...): fs_run(..., mock_sources => table)
-- computes a view's output from a table of the push source's rows instead
-- of its offline store, writing nothing.
------------------------------------------------------------------------
SELECT fs_create_push_source('par_mocked', 'user_id Int64, ts Timestamp, amount Int64, note String', 'ts');
SELECT fs_create_feature_view('par_mock_tiled', 'par_mocked', ARRAY['par_user'],
    aggregations => ARRAY[fs_agg('amount', 'sum', '2 hours', 'total'), fs_agg('amount', 'last', '1 day', 'last_amount'),
                          fs_agg('user_id', 'count', '1 day', 'n')],
    aggregation_interval => '1 hour');
SELECT fs_create_feature_view('par_mock_cont', 'par_mocked', ARRAY['par_user'],
    aggregations => ARRAY[fs_agg('amount', 'sum', '1 hour', 'total'), fs_agg('user_id', 'count', '1 day', 'n')],
    feature_start_time => '2026-12-05T00:00:00Z');
SELECT fs_create_feature_view('par_mock_attr', 'par_mocked', ARRAY['par_user'], features => ARRAY['amount', 'note'],
    offline => false);
-- the same rows pushed and in a mock table, in the same order (ties of
-- equal times break by it: two events of user 1 at 01:00)
CREATE TABLE public.par_mock_rows (user_id bigint, ts timestamptz, amount bigint, note text);
INSERT INTO public.par_mock_rows VALUES
    (1, '2026-12-05 00:10+00', 5, 'a'), (1, '2026-12-05 01:00+00', 7, 'b'), (1, '2026-12-05 01:00+00', 4, 'c'),
    (2, '2026-12-05 00:20+00', 10, 'd'), (1, '2026-12-05 02:30+00', 1, 'e'), (2, '2026-12-04 23:00+00', 3, 'f');
SELECT fs_push('par_mocked', (SELECT jsonb_agg(to_jsonb(r) - 'ctid' ORDER BY r.ctid) FROM
                              (SELECT ctid, * FROM public.par_mock_rows) r)) ->> 'records' AS pushed;
-- the mock path gives what the store path gives, at every level (the
-- store path is checked against hand-worked values in aggregate.sql)
CREATE TEMP TABLE par_mock_cmp (level text, src text, r text);
INSERT INTO par_mock_cmp
SELECT 'disabled', s, t::text FROM unnest(ARRAY['store', 'mock']) s,
       LATERAL fs_run('par_mock_tiled', '2026-12-04', '2026-12-06', 'disabled',
                      CASE s WHEN 'mock' THEN 'public.par_mock_rows'::regclass END)
       AS t(user_id bigint, ts timestamptz, amount bigint);
INSERT INTO par_mock_cmp
SELECT 'partial', s, (t.user_id, t.tile_start_time, fs_partial_final(t.amount_sum, NULL::bigint),
                      fs_partial_final(t.amount_last, NULL::bigint), fs_partial_final(t.user_id_count, NULL::bigint))::text
  FROM unnest(ARRAY['store', 'mock']) s,
       LATERAL fs_run('par_mock_tiled', '2026-12-04', '2026-12-06', 'partial',
                      CASE s WHEN 'mock' THEN 'public.par_mock_rows'::regclass END)
       AS t(user_id bigint, tile_start_time timestamptz, tile_end_time timestamptz,
            amount_sum fs_partial, amount_last fs_partial, user_id_count fs_partial);
INSERT INTO par_mock_cmp
SELECT 'full', s, t::text FROM unnest(ARRAY['store', 'mock']) s,
       LATERAL fs_run('par_mock_tiled', '2026-12-04', '2026-12-06', 'full',
                      CASE s WHEN 'mock' THEN 'public.par_mock_rows'::regclass END)
       AS t(user_id bigint, ts timestamptz, total bigint, last_amount bigint, n bigint);
INSERT INTO par_mock_cmp
SELECT 'continuous', s, t::text FROM unnest(ARRAY['store', 'mock']) s,
       LATERAL fs_run('par_mock_cont', '2026-12-04', '2026-12-06', 'full',
                      CASE s WHEN 'mock' THEN 'public.par_mock_rows'::regclass END)
       AS t(user_id bigint, ts timestamptz, total bigint, n bigint);
SELECT level, count(*) FILTER (WHERE src = 'store') AS store_rows, count(*) FILTER (WHERE src = 'mock') AS mock_rows,
       (SELECT count(*) FROM (SELECT r FROM par_mock_cmp x WHERE x.level = c.level AND x.src = 'store'
                              EXCEPT ALL SELECT r FROM par_mock_cmp x WHERE x.level = c.level AND x.src = 'mock') d) AS only_store,
       (SELECT count(*) FROM (SELECT r FROM par_mock_cmp x WHERE x.level = c.level AND x.src = 'mock'
                              EXCEPT ALL SELECT r FROM par_mock_cmp x WHERE x.level = c.level AND x.src = 'store') d) AS only_mock
  FROM par_mock_cmp c GROUP BY level ORDER BY level;
-- a mock with other rows, worked out by hand: user 7 at 00:00 (amount 2),
-- 00:30 (3), 01:20 (4); a row without its key and one before the view's
-- feature_start_time are not the view's, as a push would not store them.
-- Continuous, 1-hour sum and 1-day count at each event:
-- 00:00 → 2, 1; 00:30 → 5, 2; 01:20 → 3+4 = 7 (00:00 is out of (00:20, 01:20]), 3
CREATE TABLE public.par_mock_other (note text, amount bigint, ts timestamptz, user_id bigint, extra int);
INSERT INTO public.par_mock_other VALUES ('x', 2, '2026-12-05 00:00+00', 7, 0), ('y', 3, '2026-12-05 00:30+00', 7, 0),
    ('z', 4, '2026-12-05 01:20+00', 7, 0), ('w', 100, '2026-12-05 01:00+00', NULL, 0),
    ('v', 50, '2026-12-04 23:59+00', 7, 0);
SELECT * FROM fs_run('par_mock_cont', '2026-12-04', '2026-12-06', 'full', 'public.par_mock_other')
    AS t(user_id bigint, ts timestamptz, total bigint, n bigint);
-- tiled: the end of each 1-hour tile in [start, end) with events; the
-- 23:59 row is kept (the tiled view has no feature_start_time), and its
-- tile, ending at 00:00, is before start.  At 01:00: total over the 2
-- hours (23:00, 01:00] = 50+2+3 = 55, last 3, n 3; at 02:00: total over
-- (00:00, 02:00] = 2+3+4 = 9, last 4, n (1 day) 4
SELECT * FROM fs_run('par_mock_tiled', '2026-12-05', '2026-12-06', 'full', 'public.par_mock_other')
    AS t(user_id bigint, ts timestamptz, total bigint, last_amount bigint, n bigint);
-- a view without an offline store runs over a mock; its columns come from the source
SELECT fs_run_columns('par_mock_attr', 'disabled', 'public.par_mock_other');
SELECT * FROM fs_run('par_mock_attr', '2026-12-05', '2026-12-06', 'disabled', 'public.par_mock_other')
    AS t(user_id bigint, ts timestamptz, amount bigint, note text);
-- nothing was written: the stores hold the six pushed rows only
SELECT count(*) AS offline_rows FROM fs_get_historical_features('par_mock_tiled', '-infinity'::timestamptz, 'infinity')
    AS t(user_id bigint, ts timestamptz, amount bigint);
-- errors: each names the mock, the column and what was expected
CREATE VIEW public.par_mock_view AS SELECT * FROM public.par_mock_rows;
CREATE TABLE public.par_mock_int4 (user_id int, ts timestamptz, amount bigint, note text);
CREATE TABLE public.par_mock_short (user_id bigint, ts timestamptz);
SELECT par_try($$SELECT * FROM fs_run('par_mock_tiled', '2026-12-05', '2026-12-06', 'full', 'public.par_mock_view')
                 AS t(user_id bigint, ts timestamptz, total bigint, last_amount bigint, n bigint)$$);
SELECT par_try($$SELECT * FROM fs_run('par_mock_tiled', '2026-12-05', '2026-12-06', 'full', 'public.par_mock_int4')
                 AS t(user_id bigint, ts timestamptz, total bigint, last_amount bigint, n bigint)$$);
SELECT par_try($$SELECT * FROM fs_run('par_mock_tiled', '2026-12-05', '2026-12-06', 'partial', 'public.par_mock_short')
                 AS t(user_id bigint, tile_start_time timestamptz, tile_end_time timestamptz,
                      amount_sum fs_partial, amount_last fs_partial, user_id_count fs_partial)$$);
SELECT par_try($$SELECT fs_run_columns('par_mock_attr', 'disabled', 'public.par_mock_short')$$);
SELECT par_try($$SELECT * FROM fs_run('par_mock_tiled', '2026-12-05', '2026-12-06', 'full', 'public.par_mock_nope')
                 AS t(user_id bigint, ts timestamptz, total bigint, last_amount bigint, n bigint)$$);
-- without a mock, a view without an offline store is still refused
SELECT par_try($$SELECT fs_run_columns('par_mock_attr', 'disabled')$$);
-- Found in review.  An aggregate view without an offline store runs over
-- a mock at every level (before: 'full' refused it, 55000): by hand, the
-- mock's user 7 at 00:00 (2), 00:30 (3), 01:20 (4), 1-hour sums 2, 5, 7
SELECT fs_create_feature_view('par_mock_cont_noff', 'par_mocked', ARRAY['par_user'],
    aggregations => ARRAY[fs_agg('amount', 'sum', '1 hour', 'total')], offline => false,
    feature_start_time => '2026-12-05T00:00:00Z');
SELECT * FROM fs_run('par_mock_cont_noff', '2026-12-04', '2026-12-06', 'full', 'public.par_mock_other')
    AS t(user_id bigint, ts timestamptz, total bigint);
-- typmods and collations must be the source's too (before: accepted, then
-- 42804 from an internal query, or values longer than the type allows, or
-- keys equal in one result and not in another)
SELECT fs_create_push_source('par_mocked_v', 'user_id bigint, ts timestamptz, tag varchar(3), label text', 'ts');
SELECT fs_create_feature_view('par_mock_v', 'par_mocked_v', ARRAY['par_user']);
CREATE TABLE public.par_mock_vc (user_id bigint, ts timestamptz, tag varchar, label text);
CREATE TABLE public.par_mock_coll (user_id bigint, ts timestamptz, tag varchar(3), label text COLLATE "C");
SELECT par_try($$SELECT * FROM fs_run('par_mock_v', '2026-12-05', '2026-12-06', 'disabled', 'public.par_mock_vc')
                 AS t(user_id bigint, ts timestamptz, tag varchar(3), label text)$$);
SELECT par_try($$SELECT * FROM fs_run('par_mock_v', '2026-12-05', '2026-12-06', 'disabled', 'public.par_mock_coll')
                 AS t(user_id bigint, ts timestamptz, tag varchar(3), label text)$$);
-- a partitioned table has no one physical order
CREATE TABLE public.par_mock_parted (user_id bigint, ts timestamptz, amount bigint, note text) PARTITION BY RANGE (ts);
SELECT par_try($$SELECT fs_run_columns('par_mock_attr', 'disabled', 'public.par_mock_parted')$$);
-- a mock changed while it is read (here by a function of the spine, in
-- this very session) is refused as it is read, not decoded as its old type
-- (before: the server crashed)
CREATE TEMP TABLE par_mock_flip (user_id bigint, ts timestamptz, amount bigint, note text);
INSERT INTO par_mock_flip VALUES (7, '2026-12-05 00:10+00', 1, 'a');
CREATE FUNCTION pg_temp.par_flip() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    ALTER TABLE par_mock_flip DROP COLUMN note;
    ALTER TABLE par_mock_flip ADD COLUMN note bigint DEFAULT 12345678;
    RETURN 7;
END
$$;
SELECT fs_create_feature_view('par_mock_attr_off', 'par_mocked', ARRAY['par_user'], features => ARRAY['amount', 'note']);
SELECT par_try($$SELECT * FROM pushsource_internal._run_features('SELECT pg_temp.par_flip() AS user_id, now() AS ts',
                 ARRAY['par_mock_attr_off'], NULL, NULL, NULL, 'par_mock_flip')
                 AS t(user_id bigint, ts timestamptz, par_mock_attr_off__amount bigint, par_mock_attr_off__note text)$$);
-- a temporary mock is never read by parallel workers (before: 25000,
-- cannot access temporary tables during a parallel operation)
SELECT fs_create_feature_view('par_mock_amount', 'par_mocked', ARRAY['par_user'], features => ARRAY['amount']);
CREATE TEMP TABLE par_mock_tmp AS SELECT * FROM public.par_mock_rows;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET pushsource.pit_workers = 2;
SELECT * FROM pushsource_internal._run_features('SELECT 1::bigint AS user_id, timestamptz ''2026-12-05 02:00+00'' AS ts',
    ARRAY['par_mock_amount'], NULL, NULL, NULL, 'par_mock_tmp') AS t(user_id bigint, ts timestamptz, par_mock_amount__amount bigint);
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET pushsource.pit_workers;
-- a tiled view's 'partial' and 'full' need finite bounds (before: no rows, silently)
SELECT par_try($$SELECT * FROM fs_run('par_mock_tiled', '-infinity', 'infinity')
                 AS t(user_id bigint, ts timestamptz, total bigint, last_amount bigint, n bigint)$$);
-- tiles out of the timestamp range are an error, not an invalid timestamp
-- (before: timestamps before the first valid one, which cannot be read back)
SELECT par_try($$SELECT pushsource_internal._tile_block('4714-11-24 00:00:00+00 BC', 7)$$);
SELECT par_try($$SELECT pushsource_internal._tile_block('1960-01-01', 9223372036854775807)$$);
SELECT pushsource_internal._tile_block('4714-11-24 00:00:00+00 BC', 1000000) AS first_block;
-- a mock in a schema the caller may not use is refused, even by OID
CREATE SCHEMA par_hidden;
CREATE TABLE par_hidden.m (user_id bigint, ts timestamptz, amount bigint, note text);
CREATE TEMP TABLE par_hidden_oid AS SELECT 'par_hidden.m'::regclass::oid AS o;
GRANT SELECT ON par_hidden_oid TO PUBLIC;
-- a reader runs a tiled view (before: 42501, permission denied for the
-- function that aligns tiles), and reads only the mocks it may read
CREATE ROLE par_mock_reader IN ROLE pushsource_reader;
SET ROLE par_mock_reader;
SELECT * FROM fs_run('par_mock_tiled', '2026-12-05', '2026-12-05 02:00', 'full')
    AS t(user_id bigint, ts timestamptz, total bigint, last_amount bigint, n bigint);
SELECT par_try($$SELECT count(*) FROM fs_run('par_mock_tiled', '2026-12-05', '2026-12-06', 'full', 'public.par_mock_other')
                 AS t(user_id bigint, ts timestamptz, total bigint, last_amount bigint, n bigint)$$);
SELECT par_try($$SELECT count(*) FROM fs_run('par_mock_tiled', '2026-12-05', '2026-12-06', 'disabled', 'public.par_mock_other')
                 AS t(user_id bigint, ts timestamptz, amount bigint)$$);
RESET ROLE;
GRANT SELECT ON par_hidden.m TO par_mock_reader;
SET ROLE par_mock_reader;
SELECT par_try(format($$SELECT count(*) FROM fs_run('par_mock_tiled', '2026-12-05', '2026-12-06', 'disabled', %s::regclass)
                 AS t(user_id bigint, ts timestamptz, amount bigint)$$, (SELECT o FROM par_hidden_oid)));
RESET ROLE;
GRANT SELECT ON public.par_mock_other TO par_mock_reader;
SET ROLE par_mock_reader;
SELECT count(*) AS reader_rows FROM fs_run('par_mock_tiled', '2026-12-05', '2026-12-06', 'full', 'public.par_mock_other')
    AS t(user_id bigint, ts timestamptz, total bigint, last_amount bigint, n bigint);
RESET ROLE;
DROP OWNED BY par_mock_reader;
DROP ROLE par_mock_reader;
DROP SCHEMA par_hidden CASCADE;

------------------------------------------------------------------------
-- Workspaces: one database is one Tecton workspace.  With
-- pushsource.workspace set (ALTER DATABASE ... SET, by a superuser),
-- ingest and serving requests naming another workspace are refused;
-- unset (the default), any workspace_name is accepted.
------------------------------------------------------------------------
SET pushsource.workspace = 'prod';
SELECT fs_ingest('{"workspace_name": "staging", "records": {"par_mocked": [
  {"record": {"user_id": 9, "ts": "2026-12-05T00:00:00Z", "amount": 1, "note": "n"}}]}}');
SELECT count(*) AS written FROM pushsource_source.par_mocked WHERE user_id = 9;
SELECT fs_ingest('{"workspace_name": "prod", "records": {"par_mocked": [
  {"record": {"user_id": 9, "ts": "2026-12-05T00:00:00Z", "amount": 1, "note": "n"}}]}}') -> 'workspaceName';
SELECT count(*) AS written FROM pushsource_source.par_mocked WHERE user_id = 9;
SELECT par_try($$SELECT fs_tecton_get_features('{"params": {"feature_service_name": "par_mock_attr",
  "workspace_name": "staging", "join_key_map": {"user_id": 9}}}')$$);
SELECT par_try($$SELECT fs_tecton_get_features_batch('{"params": {"feature_service_name": "par_mock_attr",
  "workspace_name": "staging", "request_data": [{"join_key_map": {"user_id": 9}}]}}')$$);
SELECT fs_tecton_get_features('{"params": {"feature_service_name": "par_mock_attr",
  "workspace_name": "prod", "join_key_map": {"user_id": 9}}}') -> 'result';
RESET pushsource.workspace;
SELECT fs_tecton_get_features('{"params": {"feature_service_name": "par_mock_attr",
  "workspace_name": "staging", "join_key_map": {"user_id": 9}}}') -> 'result';
-- only a superuser sets it
CREATE ROLE par_ws_role IN ROLE pushsource_writer;
SET ROLE par_ws_role;
SELECT par_try($$SET pushsource.workspace = 'staging'$$);
RESET ROLE;
DROP ROLE par_ws_role;
