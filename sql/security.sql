-- Security: names are never spliced into SQL, and the roles pushsource_admin,
-- pushsource_writer and pushsource_reader (plus plain GRANT/REVOKE on the
-- tables) control who registers, pushes and reads.  Every object and role
-- is named sec_*.
SET search_path = pushsource, pushsource_source, public;
SET timezone = 'UTC';
\set SHOW_CONTEXT never

-- sec_try(sql): 'ok', or the error's SQLSTATE, message and detail
CREATE FUNCTION public.sec_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
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

-- sec_relations(): how many relations the extension's schemas hold
CREATE FUNCTION public.sec_relations() RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM pg_class
     WHERE relnamespace IN ('pushsource'::regnamespace, 'pushsource_store'::regnamespace)
$$;

-- what injected SQL would try to drop
CREATE TABLE public.sec_canary (x int);
CREATE TABLE pushsource_source.sec_y (x int);

-- a working set: entity, source, view, service
SELECT fs_create_entity('sec_user', ARRAY['user_id']);
SELECT fs_create_push_source('sec_events', 'user_id text, ts timestamptz, clicks int8', 'ts');
SELECT fs_create_feature_view('sec_fv', 'sec_events', ARRAY['sec_user']);
SELECT fs_create_feature_service('sec_svc', ARRAY['sec_fv']);
CREATE TEMP TABLE sec_before AS SELECT sec_relations() AS n;

------------------------------------------------------------------------
-- Names: ^[a-z_][a-z0-9_]*$, at most 48 bytes, for every function that
-- takes one.  Each cell is the SQLSTATE the call failed with.
------------------------------------------------------------------------
CREATE TEMP TABLE sec_names (i int, name text);
INSERT INTO sec_names VALUES
  (1, 'x; DROP TABLE sec_y'),
  (2, 'Robert"); DROP TABLE public.sec_canary; --'),
  (3, 'sec_y''; DROP TABLE public.sec_canary; --'),
  (4, 'Sec_Upper'),
  (5, 'sec-dash'),
  (6, 'pushsource_source.sec_y'),
  (7, ' sec_space'),
  (8, '1sec'),
  (9, 'sec_café'),
  (10, ''),
  (11, 'sec_' || repeat('x', 45));           -- 49 bytes
SELECT i, octet_length(name) AS bytes,
       split_part(sec_try(format($$SELECT fs_create_entity(%L, ARRAY['k'])$$, name)), ':', 1) AS entity,
       split_part(sec_try(format($$SELECT fs_create_push_source(%L, 'k text, ts timestamptz', 'ts')$$, name)), ':', 1) AS source,
       split_part(sec_try(format($$SELECT fs_create_feature_view(%L, 'sec_events', ARRAY['sec_user'])$$, name)), ':', 1) AS view,
       split_part(sec_try(format($$SELECT fs_create_feature_service(%L, ARRAY['sec_fv'])$$, name)), ':', 1) AS service,
       split_part(sec_try(format($$SELECT fs_push(%L, '{}')$$, name)), ':', 1) AS push,
       split_part(sec_try(format($$SELECT fs_get_online_features(%L, '{"user_id": "u1"}')$$, name)), ':', 1) AS online,
       split_part(sec_try(format($$SELECT fs_drop(%L, true)$$, name)), ':', 1) AS drop,
       split_part(sec_try(format($$SELECT fs_summary(%L)$$, name)), ':', 1) AS summary
  FROM sec_names ORDER BY i;
-- the messages quote the name and say what is allowed
SELECT sec_try($$SELECT fs_create_entity('x; DROP TABLE sec_y', ARRAY['k'])$$);
SELECT sec_try($$SELECT fs_push('Robert"); DROP TABLE public.sec_canary; --', '{}')$$);
SELECT sec_try($$SELECT fs_get_online_features('Robert"); --', '{}')$$);
SELECT sec_try(format($$SELECT fs_create_entity(%L, ARRAY['k'])$$, 'sec_' || repeat('x', 45)));
-- 48 bytes is the limit, inclusive, and the view's store names still fit
SELECT fs_create_entity('sec_' || repeat('e', 44), ARRAY['user_id']);
SELECT fs_create_feature_view('sec_' || repeat('v', 44), 'sec_events', ARRAY['sec_user']);
SELECT to_regclass('pushsource_store.sec_' || repeat('v', 44) || '_online') IS NOT NULL AS online,
       to_regclass('pushsource_store.sec_' || repeat('v', 44) || '_offline') IS NOT NULL AS offline;
SELECT fs_drop('sec_' || repeat('v', 44));
SELECT fs_drop('sec_' || repeat('e', 44));

-- names inside the other arguments are checked or looked up, never spliced:
-- join keys, column names and types, entity lists, features, service refs
SELECT sec_try($$SELECT fs_create_entity('sec_e', ARRAY['k; DROP TABLE sec_y'])$$);
SELECT sec_try($$SELECT fs_create_push_source('sec_s', 'k text, "x" int8, ts timestamptz', 'ts')$$);
SELECT sec_try($$SELECT fs_create_push_source('sec_s', 'k text); DROP TABLE public.sec_canary; --', 'ts')$$);
SELECT sec_try($$SELECT fs_create_push_source('sec_s', 'k text DEFAULT 1, ts timestamptz', 'ts')$$);
SELECT sec_try($$SELECT fs_create_push_source('sec_s', 'k "text; DROP TABLE sec_y", ts timestamptz', 'ts')$$);
SELECT sec_try($$SELECT fs_create_push_source('sec_s', 'k text, ts timestamptz', 'ts; DROP TABLE sec_y')$$);
SELECT sec_try($$SELECT fs_create_feature_view('sec_v', 'sec_events', ARRAY['sec_user; DROP TABLE sec_y'])$$);
SELECT sec_try($$SELECT fs_create_feature_view('sec_v', 'sec_events; DROP TABLE sec_y', ARRAY['sec_user'])$$);
SELECT sec_try($$SELECT fs_create_feature_view('sec_v', 'sec_events', ARRAY['sec_user'], features => ARRAY['clicks"; DROP TABLE sec_y; --'])$$);
SELECT sec_try($$SELECT fs_create_feature_service('sec_v', ARRAY['sec_fv.clicks; DROP TABLE sec_y'])$$);
-- field names and values in pushed records and in serving keys are data
SELECT sec_try($$SELECT fs_push('sec_events', '{"user_id": "u1", "ts": "2024-01-01T00:00:00Z", "x\"; DROP TABLE sec_y; --": 1}')$$);
SELECT sec_try($$SELECT fs_get_online_features('sec_fv', '{"user_id; DROP TABLE sec_y": "u1"}')$$);
SELECT fs_push('sec_events', '{"user_id": "u''); DROP TABLE sec_y; --", "ts": "2024-01-01T00:00:00Z", "clicks": 7}') ->> 'records' AS pushed;
SELECT fs_get_online_features('sec_fv', '{"user_id": "u''); DROP TABLE sec_y; --"}');
SELECT fs_get_online_features('sec_fv', '{"user_id": "x'' OR ''1''=''1"}');
-- nothing was created or dropped by any of it
SELECT to_regclass('public.sec_canary') IS NOT NULL AS canary, to_regclass('pushsource_source.sec_y') IS NOT NULL AS sec_y,
       sec_relations() = (SELECT n FROM sec_before) AS same_relations;
SELECT name, kind FROM pushsource_internal.object_registry WHERE name LIKE 'sec\_%' ORDER BY name;

------------------------------------------------------------------------
-- Privileges of the extension's own objects
------------------------------------------------------------------------
-- no function is executable by PUBLIC
SELECT p.oid::regprocedure FROM pg_proc p
 WHERE p.pronamespace = 'pushsource'::regnamespace
   AND (p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'))
 ORDER BY p.oid::regprocedure::text;
-- every SQL and PL/pgSQL function pins its search_path (a C function pins
-- it around the SQL it runs, src/security.c; test/run-tests.sh checks that
-- the C code connects to SPI nowhere else); none is left out but one
-- procedure, fs_materialize_proc: a procedure with a SET clause cannot
-- commit, and its body names only schema-qualified functions and no
-- operator (sql/trojan.sql calls it with a trojan search_path)
SELECT l.lanname, count(*) > 0 AS some,
       count(*) FILTER (WHERE NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)) AS unpinned
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'pushsource'::regnamespace AND l.lanname IN ('sql', 'plpgsql')
 GROUP BY 1 ORDER BY 1;
SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'pushsource'::regnamespace AND l.lanname NOT IN ('c', 'internal')
   AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false);
-- a source's table and a view's stores are owned by the extension's owner
-- (no member of a pushsource role may alter them, add triggers, rules or
-- row security); admins may write what the operations write, writers may
-- insert into the source, readers may read the stores
SELECT c.oid::regclass, c.relowner = (SELECT extowner FROM pg_extension WHERE extname = 'pushsource') AS extension_owner,
       has_table_privilege('pushsource_admin', c.oid, 'INSERT') AS admin_insert,
       has_table_privilege('pushsource_admin', c.oid, 'UPDATE') AS admin_update,
       has_table_privilege('pushsource_admin', c.oid, 'DELETE') AS admin_delete,
       has_table_privilege('pushsource_admin', c.oid, 'TRUNCATE') AS admin_truncate,
       has_table_privilege('pushsource_writer', c.oid, 'INSERT') AS writer_insert,
       has_table_privilege('pushsource_writer', c.oid, 'SELECT') AS writer_select,
       has_table_privilege('pushsource_reader', c.oid, 'INSERT') AS reader_insert,
       has_table_privilege('pushsource_reader', c.oid, 'SELECT') AS reader_select
  FROM pg_class c
 WHERE c.oid IN ('pushsource_source.sec_events'::regclass, 'pushsource_store.sec_fv_online'::regclass,
                 'pushsource_store.sec_fv_offline'::regclass)
 ORDER BY c.oid::regclass::text;

------------------------------------------------------------------------
-- Roles
------------------------------------------------------------------------
CREATE ROLE sec_nobody NOLOGIN;
CREATE ROLE sec_reader NOLOGIN IN ROLE pushsource_reader;
CREATE ROLE sec_writer NOLOGIN IN ROLE pushsource_writer;
CREATE ROLE sec_admin NOLOGIN IN ROLE pushsource_admin;
SELECT fs_create_push_source('sec_other', 'user_id text, ts timestamptz, n int8', 'ts');
SELECT fs_create_feature_view('sec_other_fv', 'sec_other', ARRAY['sec_user']);

-- a role with no privileges: not even the schema (42501)
SET ROLE sec_nobody;
SELECT sec_try($$SELECT pushsource.fs_create_entity('sec_e', ARRAY['k'])$$);
SELECT sec_try($$SELECT pushsource.fs_push('sec_events', '{"user_id": "u1", "ts": "2024-01-01T00:00:00Z"}')$$);
SELECT sec_try($$INSERT INTO pushsource_source.sec_events VALUES ('u1', '2024-01-01 00:00:00+00', 1)$$);
RESET ROLE;
-- with USAGE on the schema it still may not call anything (42501)
GRANT USAGE ON SCHEMA pushsource TO sec_nobody;
SET ROLE sec_nobody;
SELECT sec_try($$SELECT pushsource.fs_create_entity('sec_e', ARRAY['k'])$$);
SELECT sec_try($$SELECT pushsource.fs_create_push_source('sec_s', 'k text, ts timestamptz', 'ts')$$);
SELECT sec_try($$SELECT pushsource.fs_create_feature_view('sec_v', 'sec_events', ARRAY['sec_user'])$$);
SELECT sec_try($$SELECT pushsource.fs_create_feature_service('sec_v', ARRAY['sec_fv'])$$);
SELECT sec_try($$SELECT pushsource.fs_drop('sec_fv', true)$$);
SELECT sec_try($$SELECT pushsource.fs_push('sec_events', '{"user_id": "u1", "ts": "2024-01-01T00:00:00Z"}')$$);
SELECT sec_try($$SELECT pushsource.fs_ingest('{"workspace_name": "w", "records": {}}')$$);
SELECT sec_try($$SELECT pushsource.fs_get_online_features('sec_fv', '{"user_id": "u1"}')$$);
SELECT sec_try($$SELECT * FROM pushsource_internal.source_catalog$$);
RESET ROLE;
SELECT count(*) FROM pushsource_internal.object_registry WHERE name IN ('sec_e', 'sec_s', 'sec_v');

-- a reader serves features, reads the catalog, but cannot push, insert or register
SET ROLE sec_reader;
SELECT fs_get_online_features('sec_fv', '{"user_id": "u''); DROP TABLE sec_y; --"}');
SELECT fs_get_online_features('sec_svc', '{"user_id": "u''); DROP TABLE sec_y; --"}');
SELECT name, features FROM feature_views WHERE name = 'sec_fv';
SELECT fs_summary('sec_events') ->> 'timestamp_field' AS ts_field;
SELECT count(*) FROM fs_get_dataframe('sec_fv', '2024-01-01 00:00:00+00', '2024-01-02 00:00:00+00');
SELECT sec_try($$SELECT fs_push('sec_events', '{"user_id": "u2", "ts": "2024-01-01T00:00:00Z", "clicks": 1}')$$);
SELECT sec_try($$SELECT fs_ingest('{"workspace_name": "w", "records": {"sec_events": [{"record": {"user_id": "u2", "ts": "2024-01-01T00:00:00Z"}}]}}')$$);
SELECT sec_try($$INSERT INTO pushsource_source.sec_events VALUES ('u2', '2024-01-01 00:00:00+00', 1)$$);
SELECT sec_try($$INSERT INTO pushsource_store.sec_fv_online VALUES ('u2', '2024-01-01 00:00:00+00', 1, 1)$$);
SELECT sec_try($$SELECT fs_create_entity('sec_e', ARRAY['k'])$$);
SELECT sec_try($$SELECT fs_drop('sec_svc')$$);
SELECT sec_try($$DELETE FROM pushsource_internal.object_registry WHERE name = 'sec_svc'$$);
RESET ROLE;
SELECT count(*) FROM pushsource_source.sec_events WHERE user_id = 'u2';

-- a writer pushes (fs_push, fs_ingest, INSERT); the fan-out writes the stores
-- although the writer has no privilege on them
SET ROLE sec_writer;
SELECT fs_push('sec_events', '[{"user_id": "u2", "ts": "2024-01-01T01:00:00Z", "clicks": 1},
                               {"user_id": "u2", "ts": "2024-01-01T02:00:00Z", "clicks": 2}]');
SELECT fs_ingest('{"workspace_name": "sec", "records": {"sec_events": [{"record": {"user_id": "u3", "ts": "2024-01-01T01:00:00Z", "clicks": 3}}]}}')
       -> 'ingestMetrics';
INSERT INTO pushsource_source.sec_events VALUES ('u4', '2024-01-01 01:00:00+00', 4), ('u2', '2024-01-01 00:30:00+00', 0);
-- bad records with on_error => 'skip' are kept in rejected_records by the writer
SELECT fs_push('sec_events', '[{"user_id": "u5", "ts": "2024-01-01T01:00:00Z", "clicks": "many"}]', on_error => 'skip') ->> 'rejected' AS rejected;
-- but the writer cannot read or write the stores directly, nor serve
SELECT sec_try($$SELECT * FROM pushsource_store.sec_fv_online$$);
SELECT sec_try($$INSERT INTO pushsource_store.sec_fv_online VALUES ('u9', '2024-01-01 00:00:00+00', 1, 1)$$);
SELECT sec_try($$DELETE FROM pushsource_store.sec_fv_offline$$);
SELECT sec_try($$SELECT fs_get_online_features('sec_fv', '{"user_id": "u2"}')$$);
SELECT sec_try($$SELECT fs_create_entity('sec_e', ARRAY['k'])$$);
RESET ROLE;
SELECT user_id, ts, clicks FROM pushsource_store.sec_fv_online WHERE user_id IN ('u2', 'u3', 'u4') ORDER BY user_id;
SELECT user_id, ts, clicks FROM pushsource_store.sec_fv_offline WHERE user_id IN ('u2', 'u3', 'u4') ORDER BY user_id, ts;
SELECT source, record_index, field, sqlstate, rejected_by FROM rejected_records WHERE source = 'sec_events';
SET ROLE sec_reader;
SELECT fs_get_online_features('sec_svc', '[{"user_id": "u2"}, {"user_id": "u3"}, {"user_id": "u4"}]');
RESET ROLE;

-- rejected records: only the push path writes them (a writer may not
-- forge one), and a role sees those of the sources it may read
SELECT fs_push('sec_other', '[{"user_id": "u1", "ts": "2024-01-01T00:00:00Z", "n": "x"}]', on_error => 'skip') ->> 'rejected' AS rejected;
SET ROLE sec_writer;
SELECT sec_try($$INSERT INTO pushsource.rejected_records (source, record_index, sqlstate, error) VALUES ('sec_events', 0, '22P02', 'forged')$$);
SELECT sec_try($$UPDATE pushsource.rejected_records SET error = 'forged'$$);
SELECT sec_try($$DELETE FROM pushsource.rejected_records$$);
SELECT source, count(*) FROM pushsource.rejected_records WHERE source LIKE 'sec\_%' GROUP BY source ORDER BY source;
SET ROLE sec_reader;
SELECT source, count(*) FROM pushsource.rejected_records WHERE source LIKE 'sec\_%' GROUP BY source ORDER BY source;
RESET ROLE;
REVOKE SELECT ON pushsource_source.sec_other FROM pushsource_writer, pushsource_reader;
SET ROLE sec_writer;
SELECT source, count(*) FROM pushsource.rejected_records WHERE source LIKE 'sec\_%' GROUP BY source ORDER BY source;
SET ROLE sec_reader;
SELECT source, count(*) FROM pushsource.rejected_records WHERE source LIKE 'sec\_%' GROUP BY source ORDER BY source;
SET ROLE sec_nobody;
SELECT sec_try($$SELECT count(*) FROM pushsource.rejected_records$$);
RESET ROLE;
GRANT SELECT ON pushsource_source.sec_other TO pushsource_writer, pushsource_reader;
SELECT source, count(*) FROM pushsource.rejected_records WHERE source LIKE 'sec\_%' GROUP BY source ORDER BY source;
DELETE FROM pushsource.rejected_records WHERE source = 'sec_other';

-- per-object control: REVOKE INSERT on one source from pushsource_writer
REVOKE INSERT ON pushsource_source.sec_other FROM pushsource_writer;
SET ROLE sec_writer;
SELECT sec_try($$SELECT fs_push('sec_other', '{"user_id": "u1", "ts": "2024-01-01T00:00:00Z", "n": 1}')$$);
SELECT sec_try($$SELECT fs_push('sec_other', '{"user_id": "u1", "ts": "2024-01-01T00:00:00Z", "n": 1}', dry_run => true)$$);
SELECT sec_try($$INSERT INTO pushsource_source.sec_other VALUES ('u1', '2024-01-01 00:00:00+00', 1)$$);
-- the other source is unaffected
SELECT fs_push('sec_events', '{"user_id": "u6", "ts": "2024-01-01T00:00:00Z", "clicks": 6}') ->> 'records' AS pushed;
RESET ROLE;
SELECT count(*) FROM pushsource_source.sec_other;
SELECT count(*) FROM pushsource_store.sec_other_fv_offline;
-- GRANT gives it back
GRANT INSERT ON pushsource_source.sec_other TO pushsource_writer;
SET ROLE sec_writer;
SELECT fs_push('sec_other', '{"user_id": "u1", "ts": "2024-01-01T00:00:00Z", "n": 1}') ->> 'records' AS pushed;
RESET ROLE;
-- and per view for readers: REVOKE SELECT on one view's online store
REVOKE SELECT ON pushsource_store.sec_other_fv_online FROM pushsource_reader;
SET ROLE sec_reader;
SELECT sec_try($$SELECT fs_get_online_features('sec_other_fv', '{"user_id": "u1"}')$$);
SELECT fs_get_online_features('sec_fv', '{"user_id": "u1"}');
RESET ROLE;
GRANT SELECT ON pushsource_store.sec_other_fv_online TO pushsource_reader;

-- an admin registers, pushes and drops
SET ROLE sec_admin;
SELECT fs_create_entity('sec_admin_user', ARRAY['user_id']);
SELECT fs_create_push_source('sec_admin_src', 'user_id text, ts timestamptz, v float8', 'ts');
SELECT fs_create_feature_view('sec_admin_fv', 'sec_admin_src', ARRAY['sec_admin_user']);
SELECT fs_create_feature_service('sec_admin_svc', ARRAY['sec_admin_fv', 'sec_fv.clicks']);
SELECT fs_push('sec_admin_src', '{"user_id": "u1", "ts": "2024-01-01T00:00:00Z", "v": 0.5}') ->> 'records' AS pushed;
SELECT fs_get_online_features('sec_admin_svc', '{"user_id": "u2"}');
SELECT fs_validate('sec_admin_src') ->> 'valid' AS valid;
RESET ROLE;
SELECT c.oid::regclass, c.relowner = (SELECT extowner FROM pg_extension WHERE extname = 'pushsource') AS extension_owner
  FROM pg_class c
 WHERE c.oid IN (to_regclass('pushsource_source.sec_admin_src'), to_regclass('pushsource_store.sec_admin_fv_online'),
                 to_regclass('pushsource_store.sec_admin_fv_offline'))
 ORDER BY c.oid::regclass::text;
-- what the admin registered, a writer can push to and a reader can serve
SET ROLE sec_writer;
SELECT fs_push('sec_admin_src', '{"user_id": "u2", "ts": "2024-01-01T00:00:00Z", "v": 1.5}') ->> 'records' AS pushed;
SET ROLE sec_reader;
SELECT fs_get_online_features('sec_admin_fv', '{"user_id": "u2"}');
SET ROLE sec_admin;
SELECT fs_drop('sec_admin_src', cascade => true);
SELECT fs_drop('sec_admin_user');
RESET ROLE;

------------------------------------------------------------------------
-- The catalog changes only through the API
------------------------------------------------------------------------
-- an admin may not write a catalog table directly (42501), nor plant
-- objects in the extension's schemas
CREATE TABLE public.sec_victim (user_id text PRIMARY KEY, ts timestamptz, clicks int8, _fs_ingest_id int8);
SET ROLE sec_admin;
SELECT t, sec_try(format('INSERT INTO pushsource_internal.%I SELECT * FROM pushsource_internal.%I LIMIT 1', t, t)) AS ins,
          sec_try(format('UPDATE pushsource_internal.%I SET %I = %I', t, c, c)) AS upd,
          sec_try(format('DELETE FROM pushsource_internal.%I', t)) AS del
  FROM (VALUES ('object_registry', 'kind'), ('entity_catalog', 'tags'), ('source_catalog', 'log_offline'),
               ('view_catalog', 'online_table'), ('service_catalog', 'tags'), ('service_feature', 'position')) x(t, c);
SELECT sec_try($$UPDATE pushsource_internal.view_catalog SET online_table = 'public.sec_victim' WHERE name = 'sec_fv'$$);
SELECT sec_try($$CREATE FUNCTION pushsource.fs_push(source text, records text) RETURNS jsonb LANGUAGE sql AS 'SELECT NULL::jsonb'$$);
SELECT sec_try($$CREATE TABLE pushsource_source.sec_planted (x int)$$);
SELECT sec_try($$CREATE TABLE pushsource.sec_planted (x int)$$);
SELECT sec_try($$CREATE FUNCTION pushsource_internal._check_name(name text, what text) RETURNS void LANGUAGE sql AS 'SELECT'$$);
SELECT sec_try($$CREATE TABLE pushsource_store.sec_planted (x int)$$);
-- nor alter, trigger, police or rewrite a source table or a store, nor take
-- them over: they are the extension owner's (an admin's trigger, policy or
-- rule would run as whoever pushes or reads; an altered column type made
-- the point-in-time scan decode garbage, signal 11)
SELECT sec_try($$ALTER TABLE pushsource_store.sec_fv_offline ALTER COLUMN clicks TYPE text$$);
SELECT sec_try($$CREATE TRIGGER sec_t BEFORE INSERT ON pushsource_source.sec_events FOR EACH ROW EXECUTE FUNCTION pushsource_internal._push_row()$$);
SELECT sec_try($$ALTER TABLE pushsource_store.sec_fv_online ENABLE ROW LEVEL SECURITY$$);
SELECT sec_try($$CREATE RULE "_RETURN" AS ON SELECT TO pushsource_store.sec_fv_offline DO INSTEAD SELECT 1$$);
SELECT sec_try($$REASSIGN OWNED BY pushsource_admin TO sec_admin$$);
SELECT count(*) AS taken FROM pg_class WHERE relowner = 'sec_admin'::regrole;
-- but it may still trim a source's log and write the stores (operations)
SELECT sec_try($$DELETE FROM pushsource_source.sec_events WHERE false$$), sec_try($$TRUNCATE pushsource_source.sec_other$$);
-- nor run the registration's internals or the trigger functions as itself
SELECT sec_try($$SELECT pushsource_internal._claim_name('sec_x', 'entity')$$);
-- the definer part of fs_create_feature_view, called directly, checks what
-- the wrapper would (a schedule needs a batch table)
SELECT sec_try($$SELECT pushsource_internal._create_feature_view('sec_x', 'sec_events', ARRAY['sec_user'], batch_schedule => '0 * * * *')$$);
RESET ROLE;
SELECT online_table FROM pushsource_internal.view_catalog WHERE name = 'sec_fv';

-- the fan-out writes the stores as pushsource_admin, whoever pushes: a
-- trigger on a store sees that role, for a writer and for a superuser
CREATE TABLE public.sec_seen (pusher name, writer name);
GRANT INSERT ON public.sec_seen TO PUBLIC;
CREATE FUNCTION public.sec_seen_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.sec_seen VALUES (session_user, current_user);
    RETURN NULL;
END
$$;
CREATE TRIGGER sec_seen AFTER INSERT ON pushsource_store.sec_fv_offline
    FOR EACH STATEMENT EXECUTE FUNCTION public.sec_seen_trg();
SET ROLE sec_writer;
SELECT fs_push('sec_events', '{"user_id": "u7", "ts": "2024-01-01T00:00:00Z", "clicks": 7}') ->> 'records' AS pushed;
RESET ROLE;
SELECT fs_push('sec_events', '{"user_id": "u8", "ts": "2024-01-01T00:00:00Z", "clicks": 8}') ->> 'records' AS pushed;
SELECT writer FROM public.sec_seen;
DROP TRIGGER sec_seen ON pushsource_store.sec_fv_offline;

-- a catalog a superuser broke by hand: a view pointed at another table is
-- written as pushsource_admin (who may not), never as that table's owner;
-- stores set to NULL are a clear error, not a crash; fs_validate names both
UPDATE pushsource_internal.view_catalog SET online_table = 'public.sec_victim' WHERE name = 'sec_fv';
SELECT sec_try($$SELECT fs_push('sec_events', '{"user_id": "u9", "ts": "2024-01-01T00:00:00Z", "clicks": 9}')$$);
SELECT count(*) FROM public.sec_victim;
SELECT jsonb_array_elements_text(fs_validate('sec_fv') -> 'problems');
UPDATE pushsource_internal.view_catalog SET online_table = NULL, offline_table = NULL WHERE name = 'sec_fv';
SELECT sec_try($$SELECT fs_push('sec_events', '{"user_id": "u9", "ts": "2024-01-01T00:00:00Z", "clicks": 9}')$$);
SELECT sec_try($$SELECT fs_get_online_features('sec_fv', '{"user_id": "u1"}')$$);
SELECT jsonb_array_elements_text(fs_validate('sec_fv') -> 'problems');
UPDATE pushsource_internal.view_catalog SET online_table = 'pushsource_store.sec_fv_online',
                                   offline_table = 'pushsource_store.sec_fv_offline' WHERE name = 'sec_fv';
SELECT fs_push('sec_events', '{"user_id": "u9", "ts": "2024-01-01T00:00:00Z", "clicks": 9}') ->> 'records' AS pushed;
SELECT fs_validate('sec_fv') ->> 'valid' AS valid;
DROP TABLE public.sec_victim, public.sec_seen;
DROP FUNCTION public.sec_seen_trg();

------------------------------------------------------------------------
-- clean up: objects, roles, and the helpers
------------------------------------------------------------------------
-- a source's rejected records go with it (a source made again under the
-- name, with other privileges, showed them)
SELECT count(*) AS rejected_before FROM rejected_records WHERE source = 'sec_events';
SELECT fs_drop('sec_events', cascade => true);
SELECT count(*) AS rejected_after FROM rejected_records WHERE source = 'sec_events';
SELECT fs_drop('sec_other', cascade => true);
SELECT fs_drop('sec_user');
SELECT fs_drop(name, cascade => true) FROM pushsource_internal.object_registry WHERE name LIKE 'sec\_%' ORDER BY name;  -- none left
DROP OWNED BY sec_nobody, sec_reader, sec_writer, sec_admin;
DROP ROLE sec_nobody, sec_reader, sec_writer, sec_admin;
DROP TABLE public.sec_canary, pushsource_source.sec_y;
DROP FUNCTION public.sec_try(text), public.sec_relations();
SELECT count(*) FROM pg_roles WHERE rolname LIKE 'sec\_%';
SELECT c.oid::regclass FROM pg_class c
 WHERE c.relnamespace IN ('pushsource'::regnamespace, 'pushsource_store'::regnamespace)
   AND c.relname LIKE 'sec\_%';
