-- Registration: entities, push sources, feature views, feature services,
-- the catalog views and the introspection functions (fs_summary,
-- fs_validate, fs_get_columns, fs_get_dataframe).  Every object is named reg_*.
SET search_path = pushsource, pushsource_source, public;
SET timezone = 'UTC';
\set SHOW_CONTEXT never

-- reg_try(sql): 'ok', or the error's SQLSTATE, message and detail
CREATE FUNCTION public.reg_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
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

-- reg_columns(table): the columns of a table as \d shows them
CREATE FUNCTION public.reg_columns(tbl regclass)
RETURNS TABLE (attnum int2, attname name, type text, not_null boolean)
LANGUAGE sql STABLE AS $$
    SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
      FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY a.attnum
$$;

------------------------------------------------------------------------
-- fs_create_entity
------------------------------------------------------------------------

-- returns the name; one key, and a composite key with description/owner/tags
SELECT fs_create_entity('reg_user', ARRAY['user_id']);
SELECT fs_create_entity('reg_merchant', ARRAY['merchant_id', 'region'],
                        description => 'a shop', owner => 'risk-team',
                        tags => '{"tier": "gold"}');
-- a second entity with the same key name (used for the duplicate-key case)
SELECT fs_create_entity('reg_account', ARRAY['user_id']);
-- an entity keyed by what is a timestamp column in reg_clicks
SELECT fs_create_entity('reg_by_ts', ARRAY['ts']);
SELECT name, join_keys, description, owner, tags
  FROM entities WHERE name LIKE 'reg\_%' ORDER BY name;

-- invalid names (42602), null name (22004)
SELECT reg_try($$SELECT fs_create_entity('Reg_Upper', ARRAY['k'])$$);
SELECT reg_try($$SELECT fs_create_entity('9reg', ARRAY['k'])$$);
SELECT reg_try($$SELECT fs_create_entity('', ARRAY['k'])$$);
SELECT reg_try($$SELECT fs_create_entity(NULL, ARRAY['k'])$$);
-- null and empty join keys
SELECT reg_try($$SELECT fs_create_entity('reg_e1', NULL)$$);
SELECT reg_try($$SELECT fs_create_entity('reg_e1', '{}')$$);
-- bad join key names, a null join key
SELECT reg_try($$SELECT fs_create_entity('reg_e1', ARRAY['user id'])$$);
SELECT reg_try($$SELECT fs_create_entity('reg_e1', ARRAY['UserId'])$$);
SELECT reg_try($$SELECT fs_create_entity('reg_e1', ARRAY['a', NULL])$$);
-- a repeated join key
SELECT reg_try($$SELECT fs_create_entity('reg_e1', ARRAY['a', 'b', 'a'])$$);
-- tags must be an object; NULL tags mean no tags
SELECT reg_try($$SELECT fs_create_entity('reg_e1', ARRAY['a'], tags => '["x"]')$$);
SELECT reg_try($$SELECT fs_create_entity('reg_e1', ARRAY['a'], tags => '"x"')$$);
SELECT fs_create_entity('reg_e2', ARRAY['a'], tags => NULL);
SELECT tags FROM entities WHERE name = 'reg_e2';
-- a failed call claims no name: reg_e1 is free
SELECT count(*) FROM pushsource_internal.object_registry WHERE name = 'reg_e1';
-- the name is taken (by an entity here; other kinds below)
SELECT reg_try($$SELECT fs_create_entity('reg_user', ARRAY['x'])$$);

------------------------------------------------------------------------
-- fs_create_push_source
------------------------------------------------------------------------

-- PostgreSQL column list: returns the table, pushsource_source.reg_clicks
SELECT t, pg_typeof(t), t::oid = to_regclass('pushsource_source.reg_clicks')::oid AS is_pushsource_reg_clicks
  FROM fs_create_push_source('reg_clicks',
        'user_id text, ts timestamptz, clicked int8, amount numeric(10,2), note varchar(20)',
        'ts') t;
-- a real table: its columns, owner, triggers
SELECT * FROM reg_columns('pushsource_source.reg_clicks');
SELECT relowner = (SELECT extowner FROM pg_extension WHERE extname = 'pushsource') AS extension_owner, relkind
  FROM pg_class WHERE oid = 'pushsource_source.reg_clicks'::regclass;
SELECT tgname, tgenabled, pg_get_triggerdef(oid)
  FROM pg_trigger WHERE tgrelid = 'pushsource_source.reg_clicks'::regclass AND NOT tgisinternal
 ORDER BY tgname;

-- Tecton type names, with description/owner/tags and log_offline => false
SELECT fs_create_push_source('reg_tecton',
        'user_id String, ts Timestamp, n32 Int32, n64 Int64, f32 Float32, f64 Float64, '
        'ok Bool, tags Array(String), scores Array(Float64), '
        'meta Struct(a Int64, b String), counts Map(String, Int64)',
        'ts', log_offline => false, description => 'tecton types',
        owner => 'ml-team', tags => '{"env": "test"}');
SELECT * FROM reg_columns('pushsource_source.reg_tecton');

-- composite-key source for reg_merchant, and one with both user and merchant keys
SELECT fs_create_push_source('reg_orders',
        'merchant_id text, region text, ts timestamptz, total float8, items int4', 'ts');
SELECT fs_create_push_source('reg_pairs',
        'user_id text, merchant_id text, region text, ts timestamptz, spent float8', 'ts');

-- a batch table with every column of the push schema (same types), that
-- pushsource_admin may read (backfills read it as that role), is accepted
CREATE TABLE public.reg_batch_ok (user_id text, ts timestamptz, v int8, extra text);
SELECT reg_try($$SELECT fs_create_push_source('reg_batched', 'user_id text, ts timestamptz, v int8', 'ts',
                                              batch_table => 'public.reg_batch_ok')$$);
GRANT SELECT ON public.reg_batch_ok TO pushsource_admin;
SELECT fs_create_push_source('reg_batched', 'user_id text, ts timestamptz, v int8', 'ts',
                             batch_table => 'public.reg_batch_ok');

-- errors: bad name, null / empty / malformed schemas
SELECT reg_try($$SELECT fs_create_push_source('reg-src', 'a text, ts timestamptz', 'ts')$$);
SELECT reg_try($$SELECT fs_create_push_source('reg_src', NULL, 'ts')$$);
SELECT reg_try($$SELECT fs_create_push_source('reg_src', '', 'ts')$$);
SELECT reg_try($$SELECT fs_create_push_source('reg_src', 'a text,, ts timestamptz', 'ts')$$);
SELECT reg_try($$SELECT fs_create_push_source('reg_src', 'a, ts timestamptz', 'ts')$$);
SELECT reg_try($$SELECT fs_create_push_source('reg_src', 'a Array(String, ts Timestamp', 'ts')$$);
SELECT reg_try($$SELECT fs_create_push_source('reg_src', 'a String), ts Timestamp', 'ts')$$);
-- unknown types, PostgreSQL and Tecton
SELECT reg_try($$SELECT fs_create_push_source('reg_src', 'a nosuchtype, ts timestamptz', 'ts')$$);
SELECT reg_try($$SELECT fs_create_push_source('reg_src', 'a Array(Strin), ts Timestamp', 'ts')$$);
SELECT reg_try($$SELECT fs_create_push_source('reg_src', 'a Map(Int64, String), ts Timestamp', 'ts')$$);
-- bad column names: reserved prefix, invalid name, duplicate
SELECT reg_try($$SELECT fs_create_push_source('reg_src', '_fs_ingest_id int8, ts timestamptz', 'ts')$$);
SELECT reg_try($$SELECT fs_create_push_source('reg_src', 'Amount int8, ts timestamptz', 'ts')$$);
SELECT reg_try($$SELECT fs_create_push_source('reg_src', 'a int8, ts timestamptz, a text', 'ts')$$);
-- timestamp field: null, not a column, not timestamptz
SELECT reg_try($$SELECT fs_create_push_source('reg_src', 'a text, ts timestamptz', NULL)$$);
SELECT reg_try($$SELECT fs_create_push_source('reg_src', 'a text, ts timestamptz', 'event_time')$$);
SELECT reg_try($$SELECT fs_create_push_source('reg_src', 'a text, ts timestamp', 'ts')$$);
SELECT reg_try($$SELECT fs_create_push_source('reg_src', 'a text, ts text', 'ts')$$);
-- batch table lacking a column, or with a column of another type
CREATE TABLE public.reg_batch_bad (user_id text, ts timestamptz, v int4);
GRANT SELECT ON public.reg_batch_bad TO pushsource_admin;
SELECT reg_try($$SELECT fs_create_push_source('reg_src', 'user_id text, ts timestamptz, v int8, w text', 'ts',
                                              batch_table => 'public.reg_batch_bad')$$);
-- a batch table must be a plain permanent table without row security: a
-- view, a table with row security or a temporary table is refused (42809)
CREATE VIEW public.reg_batch_view AS SELECT * FROM public.reg_batch_ok;
GRANT SELECT ON public.reg_batch_view TO pushsource_admin;
SELECT reg_try($$SELECT fs_create_push_source('reg_src', 'user_id text, ts timestamptz, v int8', 'ts',
                                              batch_table => 'public.reg_batch_view')$$);
ALTER TABLE public.reg_batch_ok ENABLE ROW LEVEL SECURITY;
SELECT reg_try($$SELECT fs_create_push_source('reg_src', 'user_id text, ts timestamptz, v int8', 'ts',
                                              batch_table => 'public.reg_batch_ok')$$);
ALTER TABLE public.reg_batch_ok DISABLE ROW LEVEL SECURITY;
CREATE TEMP TABLE reg_batch_tmp (user_id text, ts timestamptz, v int8);
GRANT SELECT ON reg_batch_tmp TO pushsource_admin;
SELECT reg_try($$SELECT fs_create_push_source('reg_src', 'user_id text, ts timestamptz, v int8', 'ts',
                                              batch_table => 'reg_batch_tmp')$$);
DROP VIEW public.reg_batch_view;
DROP TABLE reg_batch_tmp;
SELECT count(*) AS left_behind FROM pushsource_internal.object_registry WHERE name = 'reg_src';
-- a table of that name already exists in schema pushsource
CREATE TABLE pushsource_source.reg_squatter (x int);
SELECT reg_try($$SELECT fs_create_push_source('reg_squatter', 'a text, ts timestamptz', 'ts')$$);
DROP TABLE pushsource_source.reg_squatter;
-- tags not an object
SELECT reg_try($$SELECT fs_create_push_source('reg_src', 'a text, ts timestamptz', 'ts', tags => '1')$$);
-- none of the failures left a name or a table behind
SELECT count(*) FROM pushsource_internal.object_registry WHERE name IN ('reg_src', 'reg_squatter');
SELECT to_regclass('pushsource_source.reg_src');
-- names are shared across kinds: a source named like an entity and vice versa
SELECT reg_try($$SELECT fs_create_push_source('reg_user', 'a text, ts timestamptz', 'ts')$$);
SELECT reg_try($$SELECT fs_create_entity('reg_clicks', ARRAY['user_id'])$$);

------------------------------------------------------------------------
-- fs_create_feature_view
------------------------------------------------------------------------

-- features default to every non-key, non-timestamp column, in schema order
SELECT fs_create_feature_view('reg_user_fv', 'reg_clicks', ARRAY['reg_user']);
-- explicit features (in the given order), ttl, online only, feature_start_time
SELECT fs_create_feature_view('reg_amount_fv', 'reg_clicks', ARRAY['reg_user'],
        features => ARRAY['amount', 'clicked'], ttl => interval '2 days',
        online => true, offline => false,
        feature_start_time => timestamptz '2024-01-01 00:00:00+00',
        description => 'amounts', owner => 'ml-team', tags => '{"v": 2}');
-- offline only
SELECT fs_create_feature_view('reg_history_fv', 'reg_clicks', ARRAY['reg_user'],
        features => ARRAY['clicked'], online => false);
-- composite key, and two entities
SELECT fs_create_feature_view('reg_merchant_fv', 'reg_orders', ARRAY['reg_merchant']);
SELECT fs_create_feature_view('reg_pair_fv', 'reg_pairs', ARRAY['reg_user', 'reg_merchant']);
-- no entities: one global row
SELECT fs_create_feature_view('reg_global_fv', 'reg_orders', '{}', features => ARRAY['total']);
SELECT name, source, entities, join_keys, features, ttl, online, offline, feature_start_time,
       online_table, offline_table, description, owner, tags, prevent_destroy
  FROM feature_views WHERE name LIKE 'reg\_%' ORDER BY name;

-- the stores: key and timestamp columns NOT NULL, then the features, then the ingest order
SELECT * FROM reg_columns('pushsource_store.reg_user_fv_online');
SELECT * FROM reg_columns('pushsource_store.reg_user_fv_offline');
SELECT * FROM reg_columns('pushsource_store.reg_amount_fv_online');
SELECT * FROM reg_columns('pushsource_store.reg_pair_fv_online');
-- the online store's primary key is the join keys (a singleton row without entities);
-- the offline store has none
SELECT conrelid::regclass, contype, pg_get_constraintdef(oid)
  FROM pg_constraint
 WHERE conrelid IN ('pushsource_store.reg_user_fv_online'::regclass,
                    'pushsource_store.reg_user_fv_offline'::regclass,
                    'pushsource_store.reg_merchant_fv_online'::regclass,
                    'pushsource_store.reg_pair_fv_online'::regclass,
                    'pushsource_store.reg_global_fv_online'::regclass)
   AND contype IN ('p', 'u', 'c')
 ORDER BY conrelid::regclass::text, contype;
-- no store where none was asked for
SELECT to_regclass('pushsource_store.reg_amount_fv_offline') AS amount_offline,
       to_regclass('pushsource_store.reg_history_fv_online') AS history_online;

-- errors
SELECT reg_try($$SELECT fs_create_feature_view('Reg_FV', 'reg_clicks', ARRAY['reg_user'])$$);
SELECT reg_try($$SELECT fs_create_feature_view('reg_fv', 'reg_nosuch', ARRAY['reg_user'])$$);
SELECT reg_try($$SELECT fs_create_feature_view('reg_fv', 'reg_user', ARRAY['reg_user'])$$);
SELECT reg_try($$SELECT fs_create_feature_view('reg_fv', 'reg_clicks', ARRAY['reg_nosuch'])$$);
SELECT reg_try($$SELECT fs_create_feature_view('reg_fv', 'reg_clicks', NULL)$$);
-- join key not a column of the source; join key that is the timestamp field
SELECT reg_try($$SELECT fs_create_feature_view('reg_fv', 'reg_clicks', ARRAY['reg_merchant'])$$);
SELECT reg_try($$SELECT fs_create_feature_view('reg_fv', 'reg_clicks', ARRAY['reg_by_ts'])$$);
-- the same key through two entities, or the same entity twice
SELECT reg_try($$SELECT fs_create_feature_view('reg_fv', 'reg_clicks', ARRAY['reg_user', 'reg_account'])$$);
SELECT reg_try($$SELECT fs_create_feature_view('reg_fv', 'reg_clicks', ARRAY['reg_user', 'reg_user'])$$);
-- features: unknown, a key, the timestamp, repeated, null
SELECT reg_try($$SELECT fs_create_feature_view('reg_fv', 'reg_clicks', ARRAY['reg_user'], features => ARRAY['nope'])$$);
SELECT reg_try($$SELECT fs_create_feature_view('reg_fv', 'reg_clicks', ARRAY['reg_user'], features => ARRAY['user_id'])$$);
SELECT reg_try($$SELECT fs_create_feature_view('reg_fv', 'reg_clicks', ARRAY['reg_user'], features => ARRAY['clicked', 'ts'])$$);
SELECT reg_try($$SELECT fs_create_feature_view('reg_fv', 'reg_clicks', ARRAY['reg_user'], features => ARRAY['clicked', 'note', 'clicked'])$$);
SELECT reg_try($$SELECT fs_create_feature_view('reg_fv', 'reg_clicks', ARRAY['reg_user'], features => ARRAY['clicked', NULL])$$);
-- ttl must be positive
SELECT reg_try($$SELECT fs_create_feature_view('reg_fv', 'reg_clicks', ARRAY['reg_user'], ttl => interval '0')$$);
SELECT reg_try($$SELECT fs_create_feature_view('reg_fv', 'reg_clicks', ARRAY['reg_user'], ttl => interval '-1 hour')$$);
-- online / offline must not be null
SELECT reg_try($$SELECT fs_create_feature_view('reg_fv', 'reg_clicks', ARRAY['reg_user'], online => NULL)$$);
SELECT reg_try($$SELECT fs_create_feature_view('reg_fv', 'reg_clicks', ARRAY['reg_user'], offline => NULL)$$);
-- tags; a name taken by a source
SELECT reg_try($$SELECT fs_create_feature_view('reg_fv', 'reg_clicks', ARRAY['reg_user'], tags => '[]')$$);
SELECT reg_try($$SELECT fs_create_feature_view('reg_clicks', 'reg_clicks', ARRAY['reg_user'])$$);
-- nothing was left behind by the failures
SELECT count(*) FROM pushsource_internal.object_registry WHERE name = 'reg_fv';
SELECT to_regclass('pushsource_store.reg_fv_online'), to_regclass('pushsource_store.reg_fv_offline');

------------------------------------------------------------------------
-- fs_create_feature_service
------------------------------------------------------------------------

-- whole views ('fv') and single features ('fv.feature')
SELECT fs_create_feature_service('reg_svc', ARRAY['reg_user_fv', 'reg_merchant_fv.total'],
                                 description => 'scoring', owner => 'ml-team', tags => '{"p": 1}');
SELECT service, position, feature_view, feature
  FROM pushsource_internal.service_feature WHERE service = 'reg_svc' ORDER BY position;
-- errors: empty / null list, unknown view, unknown feature, a feature twice,
-- a key is not a feature, bad name, a name taken by a view
SELECT reg_try($$SELECT fs_create_feature_service('reg_svc2', '{}')$$);
SELECT reg_try($$SELECT fs_create_feature_service('reg_svc2', NULL)$$);
SELECT reg_try($$SELECT fs_create_feature_service('reg_svc2', ARRAY['reg_nosuch_fv'])$$);
SELECT reg_try($$SELECT fs_create_feature_service('reg_svc2', ARRAY['reg_clicks'])$$);
SELECT reg_try($$SELECT fs_create_feature_service('reg_svc2', ARRAY['reg_user_fv.nope'])$$);
SELECT reg_try($$SELECT fs_create_feature_service('reg_svc2', ARRAY['reg_user_fv.user_id'])$$);
SELECT reg_try($$SELECT fs_create_feature_service('reg_svc2', ARRAY['reg_user_fv', 'reg_user_fv.clicked'])$$);
SELECT reg_try($$SELECT fs_create_feature_service('reg_svc2', ARRAY['reg_amount_fv.amount', 'reg_amount_fv.amount'])$$);
SELECT reg_try($$SELECT fs_create_feature_service('reg svc', ARRAY['reg_user_fv'])$$);
SELECT reg_try($$SELECT fs_create_feature_service('reg_user_fv', ARRAY['reg_user_fv'])$$);
SELECT reg_try($$SELECT fs_create_feature_service('reg_svc2', ARRAY['reg_user_fv'], tags => 'null')$$);
SELECT reg_try($$SELECT fs_create_feature_view('reg_svc', 'reg_clicks', ARRAY['reg_user'])$$);
SELECT count(*) FROM pushsource_internal.object_registry WHERE name = 'reg_svc2';
SELECT count(*) FROM pushsource_internal.service_feature WHERE service = 'reg_svc2';

------------------------------------------------------------------------
-- Catalog views
------------------------------------------------------------------------

SELECT name, kind FROM pushsource_internal.object_registry WHERE name LIKE 'reg\_%' ORDER BY name;
SELECT name, source_table, schema, timestamp_field, log_offline, batch_table, feature_views,
       description, owner, tags, prevent_destroy
  FROM push_sources WHERE name LIKE 'reg\_%' ORDER BY name;
SELECT * FROM features WHERE feature_view LIKE 'reg\_%' ORDER BY feature_view, position;
SELECT name, features, description, owner, tags
  FROM feature_services WHERE name LIKE 'reg\_%' ORDER BY name;

------------------------------------------------------------------------
-- fs_summary: one of each kind (no time-dependent keys)
------------------------------------------------------------------------

SELECT jsonb_pretty(fs_summary('reg_merchant'));
SELECT jsonb_pretty(fs_summary('reg_orders'));
SELECT jsonb_pretty(fs_summary('reg_amount_fv'));
SELECT jsonb_pretty(fs_summary('reg_svc'));
SELECT reg_try($$SELECT fs_summary('reg_nosuch')$$);
SELECT reg_try($$SELECT fs_summary('Reg')$$);
SELECT reg_try($$SELECT fs_summary(NULL)$$);

------------------------------------------------------------------------
-- fs_validate
------------------------------------------------------------------------

SELECT fs_validate('reg_user');
SELECT fs_validate('reg_clicks');
SELECT fs_validate('reg_user_fv');
SELECT fs_validate('reg_svc');
-- break things by hand: a disabled trigger, a dropped store
SELECT fs_create_push_source('reg_broken', 'k text, ts timestamptz, v int8', 'ts');
SELECT fs_create_entity('reg_k', ARRAY['k']);
SELECT fs_create_feature_view('reg_broken_fv', 'reg_broken', ARRAY['reg_k']);
SELECT fs_create_feature_service('reg_broken_svc', ARRAY['reg_broken_fv']);
SELECT fs_create_feature_view('reg_broken_ok', 'reg_broken', ARRAY['reg_k']);
SELECT fs_push('reg_broken', '{"k": "a", "ts": "2024-01-01T00:00:00Z", "v": 1}') -> 'records' AS pushed;
ALTER TABLE pushsource_source.reg_broken DISABLE TRIGGER zz_pushsource_fanout;
DROP TABLE pushsource_store.reg_broken_fv_online;
SELECT fs_validate('reg_broken');
SELECT fs_validate('reg_broken_fv');
SELECT fs_validate('reg_broken_svc');
-- a view with a store dropped by hand is refused by name when it is used
-- (42P01, not a retryable 40001, nor "relation with OID n"): a push to its
-- source writes nothing; its sibling view is still served
ALTER TABLE pushsource_source.reg_broken ENABLE TRIGGER zz_pushsource_fanout;
SELECT reg_try($$SELECT fs_push('reg_broken', '{"k": "b", "ts": "2024-01-01T00:00:00Z", "v": 2}')$$);
SELECT reg_try($$INSERT INTO pushsource_source.reg_broken VALUES ('b', '2024-01-01 00:00+00', 2)$$);
SELECT reg_try($$SELECT fs_get_online_features('reg_broken_fv', '{"k": "a"}')$$);
SELECT reg_try($$SELECT fs_get_online_features('reg_broken_svc', '{"k": "a"}')$$);
SELECT reg_try($$SELECT * FROM fs_get_historical_features('SELECT ''a''::text AS k, now() AS t', ARRAY['reg_broken_fv']) AS t(k text, t timestamptz, v bigint)$$);
SELECT fs_get_online_features('reg_broken_ok', '{"k": "a"}');
SELECT count(*) FROM pushsource_source.reg_broken;
-- fs_validate sees a column's type changed, a store column dropped, and
-- a store owned by another role than the extension's owner
ALTER TABLE pushsource_source.reg_broken ALTER COLUMN v TYPE numeric;
ALTER TABLE pushsource_store.reg_broken_ok_offline DROP COLUMN _fs_ingest_id;
ALTER TABLE pushsource_store.reg_broken_ok_online OWNER TO pushsource_admin;
SELECT jsonb_array_elements_text(fs_validate('reg_broken_ok') -> 'problems');
-- and a view whose store no longer has the source's column types is refused
-- by name before any stored row is decoded (signal 11 before)
SELECT reg_try($$SELECT fs_get_online_features('reg_broken_ok', '{"k": "a"}')$$);
SELECT reg_try($$SELECT * FROM fs_get_historical_features('SELECT ''a''::text AS k, now() AS t', ARRAY['reg_broken_ok']) AS t(k text, t timestamptz, v numeric)$$);
SELECT reg_try($$SELECT fs_validate('reg_nosuch')$$);

------------------------------------------------------------------------
-- fs_get_columns
------------------------------------------------------------------------

SELECT fs_get_columns('reg_clicks');
SELECT fs_get_columns('reg_tecton');
SELECT fs_get_columns('reg_user_fv');
SELECT fs_get_columns('reg_amount_fv');
SELECT fs_get_columns('reg_pair_fv');
SELECT fs_get_columns('reg_global_fv');
SELECT reg_try($$SELECT fs_get_columns('reg_user')$$);
SELECT reg_try($$SELECT fs_get_columns('reg_svc')$$);
SELECT reg_try($$SELECT fs_get_columns('reg_nosuch')$$);

------------------------------------------------------------------------
-- fs_get_dataframe: rows with event time in [start, end)
------------------------------------------------------------------------

SELECT fs_push('reg_clicks', '[
  {"user_id": "u1", "ts": "2024-01-01T00:00:00Z", "clicked": 1, "amount": 1.50, "note": "a"},
  {"user_id": "u2", "ts": "2024-01-01T00:30:00Z", "clicked": 2, "amount": 2.25, "note": null},
  {"user_id": "u1", "ts": "2024-01-01T01:00:00Z", "clicked": 3, "amount": 3.00, "note": "c"},
  {"user_id": "u1", "ts": "2024-01-01T02:00:00Z", "clicked": 4, "amount": 4.75, "note": "d"}
]') ->> 'records' AS pushed;
-- a plain INSERT goes through the same path
INSERT INTO pushsource_source.reg_clicks VALUES ('u3', '2023-12-31 23:59:59+00', 9, 9.99, 'early');
-- the online stores hold the newest row per user; reg_amount_fv ignores events
-- before its feature_start_time (2024-01-01), so u3 is not there
SELECT user_id, ts, clicked, amount, note FROM pushsource_store.reg_user_fv_online ORDER BY user_id;
SELECT user_id, ts, amount, clicked FROM pushsource_store.reg_amount_fv_online ORDER BY user_id;
-- source: the start is included, the end (02:00) excluded
SELECT * FROM fs_get_dataframe('reg_clicks', '2024-01-01 00:00:00+00', '2024-01-01 02:00:00+00');
-- feature view: its own columns (keys, timestamp, its features)
SELECT * FROM fs_get_dataframe('reg_history_fv', '2024-01-01 00:30:00+00', '2024-01-02 00:00:00+00');
SELECT * FROM fs_get_dataframe('reg_user_fv', '2024-01-01 00:00:00+00', '2024-01-01 00:30:00+00');
-- open bounds: everything
SELECT count(*) FROM fs_get_dataframe('reg_clicks');
SELECT count(*) FROM fs_get_dataframe('reg_user_fv', NULL, '2024-01-01 00:00:00+00');
-- an empty range is not an error
SELECT count(*) FROM fs_get_dataframe('reg_clicks', '2024-01-01 01:00:00+00', '2024-01-01 01:00:00+00');
-- errors: end before start, a service, an entity, a view without offline store
SELECT reg_try($$SELECT fs_get_dataframe('reg_clicks', '2024-01-02 00:00:00+00', '2024-01-01 00:00:00+00')$$);
SELECT reg_try($$SELECT fs_get_dataframe('reg_svc', '2024-01-01 00:00:00+00', '2024-01-02 00:00:00+00')$$);
SELECT reg_try($$SELECT fs_get_dataframe('reg_user', '2024-01-01 00:00:00+00', '2024-01-02 00:00:00+00')$$);
SELECT reg_try($$SELECT fs_get_dataframe('reg_amount_fv', '2024-01-01 00:00:00+00', '2024-01-02 00:00:00+00')$$);
SELECT reg_try($$SELECT fs_get_dataframe('reg_nosuch')$$);

------------------------------------------------------------------------
-- clean up: everything reg_* goes
------------------------------------------------------------------------
SELECT fs_drop('reg_broken_svc');
-- the hand-broken view is removed by hand (fs_drop of a view whose store
-- is missing is tested in drop.sql)
DROP TABLE pushsource_store.reg_broken_fv_offline;
DELETE FROM pushsource_internal.object_registry WHERE name = 'reg_broken_fv';
SELECT fs_drop('reg_broken_ok');
SELECT fs_drop(name, cascade => true) FROM push_sources WHERE name LIKE 'reg\_%' ORDER BY name;
SELECT fs_drop(name) FROM entities WHERE name LIKE 'reg\_%' ORDER BY name;
SELECT count(*) FROM pushsource_internal.object_registry WHERE name LIKE 'reg\_%';
SELECT c.oid::regclass FROM pg_class c
 WHERE c.relnamespace IN ('pushsource'::regnamespace, 'pushsource_store'::regnamespace)
   AND c.relname LIKE 'reg\_%' AND c.relkind = 'r';
DROP TABLE public.reg_batch_ok, public.reg_batch_bad;
DROP FUNCTION public.reg_try(text), public.reg_columns(regclass);
