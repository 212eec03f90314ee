-- search_path trojans: an unprivileged role that may CREATE in public plants
-- look-alikes of the functions and operators pushsource uses, each of
-- which records that it ran (and tries to make its author a superuser).
-- A superuser then runs every entry point with public first in its
-- search_path, pg_catalog last.  None of the look-alikes may run.
--
-- Why they would win: an exact-type function beats a polymorphic one
-- whatever the schema order (public.unnest(text[]) over
-- pg_catalog.unnest(anyarray)), and with pg_catalog listed last a
-- same-typed public.lower(text) or operator = (text, text) wins too.
SET timezone = 'UTC';
SET datestyle = ISO;
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_cron;
RESET client_min_messages;

CREATE ROLE tro_attacker LOGIN IN ROLE pushsource_writer;
GRANT CREATE ON SCHEMA public TO tro_attacker;
CREATE TABLE public.tro_hits (what text, run_as name);
GRANT INSERT ON public.tro_hits TO PUBLIC;
CREATE TABLE public.tro_batch (user_id text, ts timestamptz, clicks int8);
INSERT INTO public.tro_batch VALUES ('b1', '2024-01-01 00:10+00', 5), ('b2', '2024-01-01 00:20+00', 6);
GRANT SELECT ON public.tro_batch TO PUBLIC;

------------------------------------------------------------------------
-- the attacker plants its look-alikes
------------------------------------------------------------------------
SET ROLE tro_attacker;
-- tro_hit(what): log, and if we run as a superuser, promote the attacker
CREATE FUNCTION public.tro_hit(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.tro_hits VALUES (what, current_user);
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) current_user) THEN
        EXECUTE 'ALTER ROLE tro_attacker SUPERUSER';
    END IF;
END
$$;
-- every look-alike: (name, argument types, result type, setof), each a
-- PL/pgSQL function that logs, then does what pg_catalog's would
DO $plant$
DECLARE
    f record;
    args text;
    call text;
BEGIN
    FOR f IN SELECT * FROM (VALUES
        ('unnest', ARRAY['text[]'], 'text', true),
        ('unnest', ARRAY['bigint[]'], 'bigint', true),
        ('unnest', ARRAY['pushsource.aggregation[]'], 'pushsource.aggregation', true),
        ('format', ARRAY['text', 'text'], 'text', false),
        ('format', ARRAY['text', 'text', 'text'], 'text', false),
        ('format', ARRAY['text', 'regclass'], 'text', false),
        ('to_jsonb', ARRAY['text'], 'jsonb', false),
        ('to_jsonb', ARRAY['bigint'], 'jsonb', false),
        ('to_jsonb', ARRAY['timestamptz'], 'jsonb', false),
        ('jsonb_build_object', ARRAY['text', 'text'], 'jsonb', false),
        ('jsonb_build_object', ARRAY['text', 'bigint'], 'jsonb', false),
        ('jsonb_build_object', ARRAY['text', 'jsonb'], 'jsonb', false),
        ('array_length', ARRAY['text[]', 'integer'], 'integer', false),
        ('array_to_string', ARRAY['text[]', 'text'], 'text', false),
        ('array_position', ARRAY['text[]', 'text'], 'integer', false),
        ('cardinality', ARRAY['text[]'], 'integer', false),
        ('lower', ARRAY['text'], 'text', false),
        ('replace', ARRAY['text', 'text', 'text'], 'text', false),
        ('quote_ident', ARRAY['text'], 'text', false),
        ('jsonb_typeof', ARRAY['jsonb'], 'text', false),
        ('jsonb_array_length', ARRAY['jsonb'], 'integer', false),
        ('jsonb_array_elements', ARRAY['jsonb'], 'jsonb', true),
        ('to_regclass', ARRAY['text'], 'regclass', false),
        ('now', ARRAY[]::text[], 'timestamptz', false),
        ('current_setting', ARRAY['text', 'boolean'], 'text', false),
        ('nextval', ARRAY['regclass'], 'bigint', false),
        ('date_bin', ARRAY['interval', 'timestamptz', 'timestamptz'], 'timestamptz', false),
        ('pg_has_role', ARRAY['name', 'text'], 'boolean', false),
        ('has_table_privilege', ARRAY['regclass', 'text'], 'boolean', false)
      ) AS t(name, types, result, setof)
    LOOP
        SELECT string_agg(format('a%s %s', i, ty), ', ' ORDER BY i),
               string_agg(format('a%s', i), ', ' ORDER BY i)
          INTO args, call
          FROM unnest(f.types) WITH ORDINALITY AS x(ty, i);
        EXECUTE format('CREATE FUNCTION public.%I(%s) RETURNS %s%s LANGUAGE plpgsql AS $f$ BEGIN '
                       'PERFORM public.tro_hit(%L); %s END $f$',
                       f.name, coalesce(args, ''), CASE WHEN f.setof THEN 'SETOF ' ELSE '' END, f.result,
                       f.name || '(' || array_to_string(f.types, ', ') || ')',
                       CASE WHEN f.setof THEN format('RETURN QUERY SELECT pg_catalog.%I(%s);', f.name, coalesce(call, ''))
                            ELSE format('RETURN pg_catalog.%I(%s);', f.name, coalesce(call, '')) END);
    END LOOP;
END
$plant$;
-- aggregates: array_agg(text) and count(text) beat array_agg(anynonarray)
-- and count("any"); string_agg, min and max have pg_catalog's own types
CREATE FUNCTION public.tro_append(s text[], v text) RETURNS text[] LANGUAGE plpgsql AS $$
BEGIN PERFORM public.tro_hit('array_agg/string_agg'); RETURN s || v; END $$;
CREATE FUNCTION public.tro_append2(s text[], v text, d text) RETURNS text[] LANGUAGE plpgsql AS $$
BEGIN PERFORM public.tro_hit('string_agg(text, text)'); RETURN s || v; END $$;
CREATE FUNCTION public.tro_count(s bigint, v text) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN PERFORM public.tro_hit('count(text)'); RETURN s + 1; END $$;
CREATE FUNCTION public.tro_join(s text[]) RETURNS text LANGUAGE sql AS $$ SELECT pg_catalog.array_to_string(s, ',') $$;
CREATE FUNCTION public.tro_max(s timestamptz, v timestamptz) RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN PERFORM public.tro_hit('max/min(timestamptz)'); RETURN pg_catalog.timestamptz_larger(s, v); END $$;
CREATE AGGREGATE public.array_agg(text) (sfunc = public.tro_append, stype = text[]);
CREATE AGGREGATE public.count(text) (sfunc = public.tro_count, stype = bigint, initcond = '0');
CREATE AGGREGATE public.string_agg(text, text) (sfunc = public.tro_append2, stype = text[], finalfunc = public.tro_join);
CREATE AGGREGATE public.max(timestamptz) (sfunc = public.tro_max, stype = timestamptz);
CREATE AGGREGATE public.min(timestamptz) (sfunc = public.tro_max, stype = timestamptz);
-- operators: = and || on text, = on the extension's own aggregation type,
-- < on timestamptz, = on bigint, = on regclass
CREATE FUNCTION public.tro_texteq(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.tro_hit('=(text, text)'); RETURN pg_catalog.texteq(a, b); END $$;
CREATE FUNCTION public.tro_textcat(a text, b text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM public.tro_hit('||(text, text)'); RETURN pg_catalog.textcat(a, b); END $$;
CREATE FUNCTION public.tro_aggeq(a pushsource.aggregation, b pushsource.aggregation) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.tro_hit('=(aggregation, aggregation)'); RETURN a::text OPERATOR(pg_catalog.=) b::text; END $$;
CREATE FUNCTION public.tro_tslt(a timestamptz, b timestamptz) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.tro_hit('<(timestamptz, timestamptz)'); RETURN pg_catalog.timestamptz_lt(a, b); END $$;
CREATE FUNCTION public.tro_int8eq(a bigint, b bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.tro_hit('=(bigint, bigint)'); RETURN pg_catalog.int8eq(a, b); END $$;
CREATE FUNCTION public.tro_oideq(a regclass, b regclass) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM public.tro_hit('=(regclass, regclass)'); RETURN pg_catalog.oideq(a, b); END $$;
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.tro_texteq);
CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = public.tro_textcat);
CREATE OPERATOR public.= (LEFTARG = pushsource.aggregation, RIGHTARG = pushsource.aggregation, FUNCTION = public.tro_aggeq);
CREATE OPERATOR public.< (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = public.tro_tslt);
CREATE OPERATOR public.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.tro_int8eq);
CREATE OPERATOR public.= (LEFTARG = regclass, RIGHTARG = regclass, FUNCTION = public.tro_oideq);
-- the look-alikes work: called unqualified with public first, they run
-- (here as the attacker itself, who stays what it was)
SET search_path = public, pushsource, pushsource_source, pg_catalog;
SELECT count(*) FROM unnest(ARRAY['a', 'b']::text[]);
SELECT count(*) FROM pg_catalog.unnest(ARRAY['a', 'b']::text[]);
RESET ROLE;
RESET search_path;
SELECT what, run_as FROM public.tro_hits;
TRUNCATE public.tro_hits;
SELECT rolsuper FROM pg_roles WHERE rolname = 'tro_attacker';
SET search_path = public, pushsource, pushsource_source, pg_catalog;

------------------------------------------------------------------------
-- a superuser runs every entry point with that search_path
------------------------------------------------------------------------
SELECT fs_create_entity('tro_user', ARRAY['user_id']);
SELECT fs_create_entity('tro_pair', ARRAY['user_id', 'item']);
SELECT fs_create_push_source('tro_src', 'user_id String, item Int64, ts Timestamp, clicks Int64, tags Array(String), meta Struct(a Int64)',
                             'ts');
SELECT fs_create_push_source('tro_pg', 'user_id text, ts timestamptz, clicks int8', 'ts', batch_table => 'public.tro_batch');
SELECT fs_create_feature_view('tro_fv', 'tro_src', ARRAY['tro_user'], features => ARRAY['clicks', 'tags'], ttl => '1 day');
SELECT fs_create_feature_view('tro_pair_fv', 'tro_src', ARRAY['tro_pair'], features => ARRAY['clicks']);
SELECT fs_create_feature_view('tro_tiled', 'tro_pg', ARRAY['tro_user'],
    aggregations => ARRAY[fs_agg('clicks', 'sum', '1 hour'), fs_agg('clicks', 'last_distinct_n(2)', '2 hours')],
    aggregation_interval => '1 minute', batch_schedule => '0 * * * *');
SELECT fs_create_feature_view('tro_cont', 'tro_pg', ARRAY['tro_user'],
    aggregations => ARRAY[fs_agg('clicks', 'count', '1 hour'), fs_agg('clicks', 'approx_percentile(0.5)', '1 hour')]);
SELECT fs_create_feature_view('tro_attr', 'tro_pg', ARRAY['tro_user']);
SELECT fs_create_feature_service('tro_svc', ARRAY['tro_fv.clicks', 'tro_tiled', 'tro_cont', 'tro_attr']);
SELECT name, join_keys FROM entities WHERE name LIKE 'tro%' ORDER BY name;
SELECT name, source, features FROM feature_views WHERE name LIKE 'tro%' ORDER BY name;
SELECT feature_view, feature, type FROM features WHERE feature_view LIKE 'tro%' ORDER BY 1, 2;
SELECT name, schema FROM push_sources WHERE name LIKE 'tro%' ORDER BY name;
SELECT name, features FROM feature_services WHERE name LIKE 'tro%';

-- pushes: fs_push (abort, skip, dry run, modes), fs_ingest, INSERT
SELECT fs_push('tro_src', '[{"user_id": "u1", "item": 1, "ts": "2024-01-01T00:30:00Z", "clicks": 3, "tags": ["a"], "meta": {"a": 1}},
                            {"user_id": "u1", "item": 2, "ts": "2024-01-01T00:40:00Z", "clicks": 4, "tags": [], "meta": {"a": 2}}]');
SELECT fs_push('tro_pg', '[{"user_id": "u1", "ts": "2024-01-01T00:30:00Z", "clicks": 3},
                           {"user_id": "u1", "ts": "2024-01-01T00:45:00Z", "clicks": 5},
                           {"user_id": "u1", "ts": "2024-01-01T00:50:00Z", "clicks": "x"}]', on_error => 'skip');
SELECT fs_push('tro_pg', '{"user_id": "u2", "ts": "2024-01-01T00:31:00Z", "clicks": 1}', dry_run => true);
SELECT fs_push('tro_pg', '{"user_id": "u2", "ts": "2024-01-01T00:32:00Z", "clicks": 2}', mode => 'online');
SELECT fs_push('tro_pg', '{"user_id": "u2", "ts": "2024-01-01T00:33:00Z", "clicks": 2}', mode => 'offline');
SELECT fs_ingest('{"workspace_name": "tro", "records": {"tro_pg": [{"record": {"user_id": "u3", "ts": "2024-01-01T00:34:00Z", "clicks": 7}}]}}');
SELECT fs_ingest('{"workspace_name": "tro", "records": {"tro_pg": [{"record": {"user_id": "u3", "ts": "bad", "clicks": 7}}]}}');
INSERT INTO pushsource_source.tro_pg VALUES ('u4', '2024-01-01 00:35+00', 8);
-- the HTTP gateway's push functions, and a request as an API key's role
SELECT fs_feast_push('{"push_source_name": "tro_pg", "df": {"user_id": ["u5"], "ts": ["2024-01-01T00:36:00Z"], "clicks": [9]}, "to": "both"}');
CREATE ROLE tro_app IN ROLE pushsource_writer, pushsource_reader;
SELECT fs_create_api_key('tro_app', 'trojan') AS tro_key \gset
SELECT status, records, pushed FROM fs_gateway_request('ingest',
  '{"workspace_name": "tro", "records": {"tro_pg": [{"record": {"user_id": "u6", "ts": "2024-01-01T00:37:00Z", "clicks": 1}}]}}', :'tro_key');
SELECT status, body, records FROM fs_gateway_request('push',
  '{"push_source_name": "tro_pg", "df": {"user_id": ["u7"], "ts": ["2024-01-01T00:38:00Z"], "clicks": [2]}}', :'tro_key');
SELECT status, body FROM fs_gateway_error('ingest', '42501', 'permission denied', NULL, NULL);

-- serving: views, a service, metadata, several keys
SET pushsource.request_time = '2024-01-01 01:00+00';
SELECT fs_get_online_features('tro_fv', '{"user_id": "u1"}', include_metadata => true);
SELECT fs_get_online_features('tro_pair_fv', '[{"user_id": "u1", "item": 1}, {"user_id": "u1", "item": "2"}]', include_join_keys => true);
SELECT fs_get_online_features('tro_svc', '[{"user_id": "u1"}, {"user_id": "u3"}]', include_metadata => true);
-- ... and through the HTTP gateway's shapes
SELECT fs_tecton_get_features('{"params": {"feature_service_name": "tro_svc", "workspace_name": "w",
  "join_key_map": {"user_id": "u1"}, "metadata_options": {"include_names": true, "include_data_types": true,
  "include_effective_times": true, "include_serving_status": true}}}');
SELECT fs_tecton_get_features_batch('{"params": {"feature_service_name": "tro_pair_fv", "workspace_name": "w",
  "request_data": [{"join_key_map": {"user_id": "u1", "item": "1"}}, {"join_key_map": {"user_id": "u9", "item": 2}}]}}');
SELECT fs_feast_get_online_features('{"features": ["tro_fv:clicks", "tro_tiled:clicks_sum_1h_1m"],
  "entities": {"user_id": ["u1", "u3"]}, "full_feature_names": true}');
SELECT status, records FROM fs_gateway_request('get-online-features',
  '{"feature_service": "tro_svc", "entities": {"user_id": ["u1"]}, "full_feature_names": true}', :'tro_key');
SELECT fs_revoke_api_key(id) FROM api_keys WHERE role = 'tro_app'::regrole;
RESET pushsource.request_time;

-- point in time: a spine table, a spine query, columns, save, no-spine, fs_run
CREATE TABLE public.tro_spine (user_id text, item bigint, at timestamptz);
INSERT INTO public.tro_spine VALUES ('u1', 1, '2024-01-01 00:35+00'), ('u1', 2, '2024-01-01 01:00+00');
SELECT fs_historical_features_columns('tro_spine', ARRAY['tro_svc', 'tro_pair_fv']);
SELECT * FROM fs_get_historical_features('tro_spine', ARRAY['tro_svc', 'tro_pair_fv'])
    AS t(user_id text, item bigint, at timestamptz, tro_fv__clicks bigint, tro_tiled__clicks_sum_1h_1m bigint,
         tro_tiled__clicks_last_distinct_n_2_2h_1m bigint[], tro_cont__clicks_count_1h_continuous bigint,
         tro_cont__clicks_approx_percentile_p50_1h_continuous double precision, tro_attr__clicks bigint,
         tro_pair_fv__clicks bigint);
SELECT * FROM fs_get_historical_features('SELECT user_id, at FROM tro_spine', ARRAY['tro_attr'], from_source => true)
    AS t(user_id text, at timestamptz, tro_attr__clicks bigint);
SELECT fs_save_historical_features('tro_saved', 'tro_spine', ARRAY['tro_fv']);
SELECT * FROM public.tro_saved;
SELECT * FROM fs_get_historical_features(feature_view => 'tro_pair_fv', start_time => '2024-01-01',
          end_time => '2024-01-02', entities => '[{"user_id": "u1", "item": 2}]')
    AS t(user_id text, item bigint, ts timestamptz, clicks bigint);
SELECT fs_run_columns('tro_tiled', 'partial');
SELECT count(*) FROM fs_run('tro_tiled', '2024-01-01', '2024-01-02', 'partial')
    AS t(user_id text, tile_start_time timestamptz, tile_end_time timestamptz, clicks_sum pushsource.fs_partial,
         clicks_last_distinct_n_2 pushsource.fs_partial);
SELECT count(*) FROM fs_run('tro_cont', '2024-01-01', '2024-01-02')
    AS t(user_id text, ts timestamptz, clicks_count_1h_continuous bigint,
         clicks_approx_percentile_p50_1h_continuous double precision);
SELECT count(*) FROM fs_run('tro_attr', '2024-01-01', '2024-01-02', 'disabled')
    AS t(user_id text, ts timestamptz, clicks bigint);

-- introspection
SELECT fs_summary('tro_src') ->> 'name' AS summary, fs_summary('tro_tiled') ->> 'name' AS view_summary,
       fs_summary('tro_svc') ->> 'name' AS service_summary;
SELECT fs_validate('tro_src'), fs_validate('tro_svc');
SELECT fs_get_columns('tro_src'), fs_get_columns('tro_tiled');
SELECT count(*) FROM fs_get_dataframe('tro_src', '2024-01-01', '2024-01-02');
SELECT count(*) FROM fs_get_dataframe('tro_attr');

-- fs_partial
SELECT fs_partial_final(fs_partial_agg('sum', x, '2024-01-01'::timestamptz, x), NULL::bigint)
  FROM (VALUES (1::bigint), (2)) v(x);
SELECT fs_partial_final(fs_partial_merge(p), NULL::text[])
  FROM (SELECT fs_partial_agg('last_n(2)', x, '2024-01-01'::timestamptz, o) p FROM (VALUES ('a', 1::bigint), ('b', 2)) v(x, o)) s;
SELECT fs_partial_combine('{"fn": "count", "type": "bigint", "count": 1}', '{"fn": "count", "type": "bigint", "count": 2}');

-- operations: backfill, incremental, the cron job bodies, deletion, maintenance
SELECT fs_materialize('tro_attr', '2024-01-01', '2024-01-02') ->> 'state' AS state;
SELECT fs_materialize('tro_tiled', '2024-01-01', '2024-01-02') ->> 'state' AS state;
SELECT fs_materialize_incremental('tro_cont', '2024-01-02') ->> 'state' AS state;
CALL fs_materialize_proc('tro_attr', '2024-01-01', '2024-01-03', '1 day');
SELECT fs_schedule_maintenance('*/5 * * * *') > 0 AS scheduled;
-- what pg_cron would run, run here under the same search_path
DO $cron$
DECLARE c text;
BEGIN
    FOR c IN SELECT command FROM cron.job WHERE jobname LIKE 'pushsource:%' ORDER BY jobname LOOP
        EXECUTE c;
    END LOOP;
END
$cron$;
SELECT fs_delete_keys('tro_pair_fv', '[{"user_id": "u1", "item": 1}]') ->> 'state' AS state;
SELECT fs_delete_keys('tro_tiled', '{"user_id": "u2"}') ->> 'state' AS state;
SELECT fs_run_maintenance() ->> 'state' AS state;
SELECT count(*) FROM fs_materialization_status('tro_tiled');
SELECT count(*) FROM fs_deletion_status('tro_tiled', errors_only => true);

-- drop: a service, a view (unschedules), a source with cascade, entities
SELECT fs_drop('tro_svc');
SELECT fs_drop('tro_tiled');
SELECT fs_drop('tro_src', cascade => true);
SELECT fs_drop('tro_pg', cascade => true);
SELECT fs_drop('tro_user');
SELECT fs_drop('tro_pair');
SELECT pushsource_internal._unschedule_all() >= 0 AS unscheduled;

------------------------------------------------------------------------
-- none of the look-alikes ran, and the attacker is no superuser
------------------------------------------------------------------------
RESET search_path;
SELECT what, run_as FROM public.tro_hits;
SELECT rolsuper FROM pg_roles WHERE rolname = 'tro_attacker';

-- clean up
DELETE FROM pushsource.rejected_records WHERE source LIKE 'tro\_%';
DROP TABLE public.tro_spine, public.tro_saved, public.tro_batch, public.tro_hits;
DROP OWNED BY tro_attacker, tro_app;
DROP ROLE tro_attacker, tro_app;
