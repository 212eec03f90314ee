-- fs_drop: each kind, refusal with dependents unless cascade, cascade,
-- prevent_destroy, unknown names, and re-creating a dropped name.
-- Every object is named drop_*.
SET search_path = pushsource, pushsource_source, public;
SET timezone = 'UTC';
\set SHOW_CONTEXT never

-- drop_try(sql): 'ok', or the error's SQLSTATE, message and detail
CREATE FUNCTION public.drop_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    d text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || SQLERRM || coalesce(' DETAIL: ' || nullif(d, ''), '');
END
$$;

-- drop_state(): every drop_* object in the catalog and every drop_* table
CREATE FUNCTION public.drop_state() RETURNS TABLE (what text, name text) LANGUAGE sql STABLE AS $$
    SELECT 'object: ' || r.kind, r.name FROM pushsource_internal.object_registry r WHERE r.name LIKE 'drop\_%'
    UNION ALL
    SELECT 'service_feature', sf.service || ' -> ' || sf.feature_view || '.' || sf.feature
      FROM pushsource_internal.service_feature sf WHERE sf.service LIKE 'drop\_%'
    UNION ALL
    SELECT 'table', c.relnamespace::regnamespace || '.' || c.relname FROM pg_class c
     WHERE c.relnamespace IN ('pushsource'::regnamespace, 'pushsource_source'::regnamespace, 'pushsource_store'::regnamespace)
       AND c.relname LIKE 'drop\_%' AND c.relkind = 'r'
    ORDER BY 1, 2
$$;

------------------------------------------------------------------------
-- one object of each kind, with a chain of dependents:
-- entity drop_user, source drop_events <- view drop_fv <- service drop_svc
------------------------------------------------------------------------
SELECT fs_create_entity('drop_user', ARRAY['user_id']);
SELECT fs_create_push_source('drop_events', 'user_id text, ts timestamptz, v int8', 'ts');
SELECT fs_create_feature_view('drop_fv', 'drop_events', ARRAY['drop_user']);
SELECT fs_create_feature_service('drop_svc', ARRAY['drop_fv.v']);
SELECT * FROM drop_state();

-- refused while something depends on them (2BP01, the detail names the dependents)
SELECT drop_try($$SELECT fs_drop('drop_events')$$);
SELECT drop_try($$SELECT fs_drop('drop_user')$$);
SELECT drop_try($$SELECT fs_drop('drop_fv')$$);
-- cascade => false is the same as the default
SELECT drop_try($$SELECT fs_drop('drop_fv', cascade => false)$$);
-- nothing was dropped
SELECT * FROM drop_state();

-- unknown, invalid and null names
SELECT drop_try($$SELECT fs_drop('drop_nosuch')$$);
SELECT drop_try($$SELECT fs_drop('drop_nosuch', true)$$);
SELECT drop_try($$SELECT fs_drop('Drop_FV')$$);
SELECT drop_try($$SELECT fs_drop(NULL)$$);

-- each kind, leaves first: service, view (its stores go), source (its table goes), entity
SELECT fs_drop('drop_svc');
SELECT count(*) FROM pushsource_internal.service_catalog WHERE name = 'drop_svc';
SELECT fs_drop('drop_fv');
SELECT to_regclass('pushsource_store.drop_fv_online') AS online,
       to_regclass('pushsource_store.drop_fv_offline') AS offline,
       (SELECT count(*) FROM pushsource_internal.view_catalog WHERE name = 'drop_fv') AS catalog_rows;
SELECT fs_drop('drop_events');
SELECT to_regclass('pushsource_source.drop_events') AS tbl,
       (SELECT count(*) FROM pushsource_internal.source_catalog WHERE name = 'drop_events') AS catalog_rows;
SELECT fs_drop('drop_user');
SELECT count(*) FROM pushsource_internal.entity_catalog WHERE name = 'drop_user';
SELECT * FROM drop_state();
-- a dropped object is really gone: dropping it again, pushing, serving fail
SELECT drop_try($$SELECT fs_drop('drop_events')$$);
SELECT drop_try($$SELECT fs_push('drop_events', '{"user_id": "u1", "ts": "2024-01-01T00:00:00Z", "v": 1}')$$);
SELECT drop_try($$SELECT fs_get_online_features('drop_fv', '{"user_id": "u1"}')$$);
SELECT drop_try($$SELECT fs_get_online_features('drop_svc', '{"user_id": "u1"}')$$);

------------------------------------------------------------------------
-- cascade
------------------------------------------------------------------------
-- source drop_a with views drop_a1, drop_a2; source drop_b with view drop_b1;
-- service drop_s1 uses drop_a1 and drop_b1, drop_s2 uses drop_a2 only,
-- drop_s3 uses drop_b1 only
SELECT fs_create_entity('drop_user', ARRAY['user_id']);
SELECT fs_create_push_source('drop_a', 'user_id text, ts timestamptz, x int8, y int8', 'ts');
SELECT fs_create_push_source('drop_b', 'user_id text, ts timestamptz, z float8', 'ts');
SELECT fs_create_feature_view('drop_a1', 'drop_a', ARRAY['drop_user'], features => ARRAY['x']);
SELECT fs_create_feature_view('drop_a2', 'drop_a', ARRAY['drop_user'], features => ARRAY['y'], online => false);
SELECT fs_create_feature_view('drop_b1', 'drop_b', ARRAY['drop_user']);
SELECT fs_create_feature_service('drop_s1', ARRAY['drop_a1', 'drop_b1']);
SELECT fs_create_feature_service('drop_s2', ARRAY['drop_a2.y']);
SELECT fs_create_feature_service('drop_s3', ARRAY['drop_b1']);
SELECT fs_push('drop_a', '{"user_id": "u1", "ts": "2024-01-01T00:00:00Z", "x": 1, "y": 2}') ->> 'records' AS pushed;
-- the detail names every direct dependent
SELECT drop_try($$SELECT fs_drop('drop_a')$$);
SELECT drop_try($$SELECT fs_drop('drop_user')$$);
SELECT drop_try($$SELECT fs_drop('drop_b1')$$);
-- cascade from a view: the services that use it go (drop_s1 and drop_s3),
-- the view's source and entity stay
SELECT fs_drop('drop_b1', cascade => true);
SELECT * FROM drop_state();
-- cascade from a source: its views, their stores and services, and its table go;
-- the entity stays
SELECT fs_drop('drop_a', cascade => true);
SELECT * FROM drop_state();
SELECT to_regclass('pushsource_source.drop_a') AS tbl,
       to_regclass('pushsource_store.drop_a1_online') AS a1_online,
       to_regclass('pushsource_store.drop_a1_offline') AS a1_offline,
       to_regclass('pushsource_store.drop_a2_offline') AS a2_offline;
-- cascade from an entity: views keyed by it go, their sources stay
SELECT fs_create_feature_view('drop_b2', 'drop_b', ARRAY['drop_user']);
SELECT fs_create_feature_service('drop_s4', ARRAY['drop_b2.z']);
SELECT fs_drop('drop_user', cascade => true);
SELECT * FROM drop_state();
-- the remaining source still takes pushes (no stale view in its fan-out)
SELECT fs_push('drop_b', '{"user_id": "u1", "ts": "2024-01-01T00:00:00Z", "z": 0.5}');
-- cascade on an object without dependents is a plain drop
SELECT fs_drop('drop_b', true);
SELECT * FROM drop_state();

------------------------------------------------------------------------
-- prevent_destroy
------------------------------------------------------------------------
SELECT fs_create_entity('drop_user', ARRAY['user_id']);
SELECT fs_create_push_source('drop_keep', 'user_id text, ts timestamptz, v int8', 'ts',
                             prevent_destroy => true);
SELECT fs_create_feature_view('drop_keep_fv', 'drop_keep', ARRAY['drop_user']);
-- refused with or without cascade (55006), even with no dependents in the way
SELECT drop_try($$SELECT fs_drop('drop_keep')$$);
SELECT drop_try($$SELECT fs_drop('drop_keep', cascade => true)$$);
-- its views can still be dropped
SELECT fs_drop('drop_keep_fv');
SELECT drop_try($$SELECT fs_drop('drop_keep', cascade => true)$$);
SELECT to_regclass('pushsource_source.drop_keep') IS NOT NULL AS table_kept;
-- a protected view under an unprotected source: the cascade is refused as a
-- whole, so the other view (drop_v1, dropped first) survives as well
SELECT fs_create_push_source('drop_src', 'user_id text, ts timestamptz, v int8', 'ts');
SELECT fs_create_feature_view('drop_v1', 'drop_src', ARRAY['drop_user']);
SELECT fs_create_feature_view('drop_v2', 'drop_src', ARRAY['drop_user'], prevent_destroy => true);
SELECT fs_create_feature_service('drop_v_svc', ARRAY['drop_v1', 'drop_v2']);
SELECT drop_try($$SELECT fs_drop('drop_v2')$$);
SELECT drop_try($$SELECT fs_drop('drop_src', cascade => true)$$);
SELECT drop_try($$SELECT fs_drop('drop_user', cascade => true)$$);
SELECT * FROM drop_state();
-- the service on a protected view is not protected itself
SELECT fs_drop('drop_v_svc');
-- clearing the flag as the hint says allows the drop; it is set and
-- cleared through the API only (entities and services have no flag)
SELECT fs_set_prevent_destroy('drop_v2', false);
SELECT fs_set_prevent_destroy('drop_keep', true);
SELECT drop_try($$SELECT fs_drop('drop_keep')$$);
SELECT fs_set_prevent_destroy('drop_keep', false);
SELECT name, prevent_destroy FROM push_sources WHERE name = 'drop_keep'
UNION ALL SELECT name, prevent_destroy FROM feature_views WHERE name = 'drop_v2';
SELECT drop_try($$SELECT fs_set_prevent_destroy('drop_user', true)$$);
SELECT drop_try($$SELECT fs_set_prevent_destroy('drop_nosuch', true)$$);
SELECT drop_try($$SELECT fs_set_prevent_destroy('drop_keep', NULL)$$);
SELECT drop_try($$SELECT fs_set_prevent_destroy('Drop Keep', true)$$);
SELECT fs_drop('drop_src', cascade => true);
SELECT fs_drop('drop_keep');
SELECT fs_drop('drop_user');
SELECT * FROM drop_state();

------------------------------------------------------------------------
-- a store or table removed by hand does not block fs_drop
------------------------------------------------------------------------
SELECT fs_create_entity('drop_gone_user', ARRAY['user_id']);
SELECT fs_create_push_source('drop_gone', 'user_id text, ts timestamptz, v int8', 'ts');
SELECT fs_create_feature_view('drop_gone_fv', 'drop_gone', ARRAY['drop_gone_user']);
-- the view's online store was dropped: fs_drop drops the rest
DROP TABLE pushsource_store.drop_gone_fv_online;
SELECT drop_try($$SELECT fs_drop('drop_gone_fv')$$);
SELECT to_regclass('pushsource_store.drop_gone_fv_offline') AS offline;
-- the source's table was dropped: fs_drop removes the registration
DROP TABLE pushsource_source.drop_gone;
SELECT drop_try($$SELECT fs_drop('drop_gone')$$);
SELECT drop_try($$SELECT fs_drop('drop_gone_user')$$);
SELECT * FROM drop_state();

------------------------------------------------------------------------
-- a dropped name can be registered again, as the same or another kind,
-- and the new definition is the one in use
------------------------------------------------------------------------
SELECT fs_create_entity('drop_user', ARRAY['user_id']);
SELECT fs_create_push_source('drop_re', 'user_id text, ts timestamptz, v int8', 'ts');
SELECT fs_create_feature_view('drop_re_fv', 'drop_re', ARRAY['drop_user']);
SELECT fs_push('drop_re', '{"user_id": "u1", "ts": "2024-01-01T00:00:00Z", "v": 1}') ->> 'records' AS pushed;
SELECT fs_get_online_features('drop_re_fv', '{"user_id": "u1"}');
SELECT fs_drop('drop_re', cascade => true);
-- same names, another schema: the old columns are gone, the new one is served
SELECT fs_create_push_source('drop_re', 'user_id text, ts timestamptz, w text', 'ts');
SELECT fs_create_feature_view('drop_re_fv', 'drop_re', ARRAY['drop_user']);
SELECT drop_try($$SELECT fs_push('drop_re', '{"user_id": "u1", "ts": "2024-01-01T00:00:00Z", "v": 1}')$$);
SELECT fs_push('drop_re', '{"user_id": "u1", "ts": "2024-01-02T00:00:00Z", "w": "new"}') ->> 'records' AS pushed;
SELECT fs_get_online_features('drop_re_fv', '{"user_id": "u1"}');
SELECT * FROM fs_get_dataframe('drop_re_fv');
-- a dropped view's name reused for a service, a dropped source's for an entity
SELECT fs_drop('drop_re_fv');
SELECT fs_create_feature_view('drop_re_fv2', 'drop_re', ARRAY['drop_user']);
SELECT fs_create_feature_service('drop_re_fv', ARRAY['drop_re_fv2']);
SELECT fs_push('drop_re', '{"user_id": "u1", "ts": "2024-01-03T00:00:00Z", "w": "newer"}') ->> 'records' AS pushed;
SELECT fs_get_online_features('drop_re_fv', '{"user_id": "u1"}');
SELECT fs_drop('drop_re', cascade => true);
SELECT fs_create_entity('drop_re', ARRAY['k']);
SELECT name, kind FROM pushsource_internal.object_registry WHERE name IN ('drop_re', 'drop_re_fv', 'drop_re_fv2', 'drop_user') ORDER BY name;
SELECT fs_drop('drop_re');
SELECT fs_drop('drop_user');

-- nothing drop_* is left
SELECT * FROM drop_state();

DROP FUNCTION public.drop_try(text), public.drop_state();

------------------------------------------------------------------------
-- DROP EXTENSION: the schemas pushsource and pushsource_store are the
-- extension's own, so it refuses while push sources exist (their tables
-- live in pushsource) and CASCADE drops them with their data; then
-- nothing of it is left and a source of an old name can be made again.
-- (In a database of its own: the other test files leave their sources.)
------------------------------------------------------------------------
CREATE DATABASE drop_ext_db;
\c drop_ext_db
SET search_path = pushsource, pushsource_source, public;
CREATE FUNCTION public.ext_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
CREATE EXTENSION pushsource;
SELECT n.nspname, d.deptype FROM pg_depend d JOIN pg_namespace n ON n.oid = d.objid
 WHERE d.classid = 'pg_namespace'::regclass AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pushsource')
 ORDER BY 1;
-- without sources (an entity only): dropped, and created again
SELECT fs_create_entity('drop_ext_user', ARRAY['user_id']);
SELECT ext_try('DROP EXTENSION pushsource');
CREATE EXTENSION pushsource;
SELECT fs_create_entity('drop_ext_user', ARRAY['user_id']);
SELECT fs_create_push_source('drop_ext_src', 'user_id text, ts timestamptz, v int8', 'ts');
SELECT fs_create_feature_view('drop_ext_fv', 'drop_ext_src', ARRAY['drop_ext_user']);
SELECT fs_push('drop_ext_src', '{"user_id": "u1", "ts": "2024-01-01T00:00:00Z", "v": 1}') ->> 'records' AS pushed;
SELECT ext_try('DROP EXTENSION pushsource') AS refused;
SELECT extname FROM pg_extension WHERE extname = 'pushsource';
SELECT count(*) FROM pushsource_source.drop_ext_src;
SET client_min_messages = warning;
DROP EXTENSION pushsource CASCADE;
RESET client_min_messages;
SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pushsource%';
SELECT count(*) AS pushsource_relations FROM pg_class WHERE relname LIKE 'drop\_ext%';
CREATE EXTENSION pushsource;
SELECT fs_create_push_source('drop_ext_src', 'user_id text, ts timestamptz, v int8', 'ts');
SELECT count(*) FROM pushsource_source.drop_ext_src;
\c contrib_regression
DROP DATABASE drop_ext_db;
