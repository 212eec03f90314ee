-- fs_get_online_features: one key or many, metadata, ttl at read time,
-- composite and typed keys, feature services, value rendering, errors.
SET search_path = pushsource, pushsource_source, public;
SET timezone = 'UTC';

-- Runs a statement and shows its SQLSTATE and message instead of failing.
CREATE FUNCTION onl_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

------------------------------------------------------------------------
-- Objects
------------------------------------------------------------------------
-- a user source with values of many types; an attribute view over all of
-- them, a view with ttl '1 day', and an offline-only view
SELECT fs_create_entity('onl_user', ARRAY['user_id']);
SELECT fs_create_push_source('onl_events',
    'user_id String, ts Timestamp, i Int64, f Float64, b Bool, at Timestamp,'
    ' ints Array(Int64), tags Array(String), meta Struct(x Int64, y String), note String', 'ts');
SELECT fs_create_feature_view('onl_user_fv', 'onl_events', ARRAY['onl_user'],
                              features => ARRAY['i', 'f', 'b', 'at', 'ints', 'tags', 'meta', 'note']);
SELECT fs_create_feature_view('onl_ttl_fv', 'onl_events', ARRAY['onl_user'],
                              features => ARRAY['i', 'note'], ttl => '1 day');
SELECT fs_create_feature_view('onl_offline_fv', 'onl_events', ARRAY['onl_user'],
                              features => ARRAY['i'], online => false);
-- a merchant keyed by an Int64
SELECT fs_create_entity('onl_merchant', ARRAY['merchant_id']);
SELECT fs_create_push_source('onl_merchants', 'merchant_id Int64, ts Timestamp, rating Float64', 'ts');
SELECT fs_create_feature_view('onl_merchant_fv', 'onl_merchants', ARRAY['onl_merchant']);
-- composite keys: one entity with two keys, and two entities with one key each
SELECT fs_create_entity('onl_pair', ARRAY['a', 'b']);
SELECT fs_create_entity('onl_ea', ARRAY['a']);
SELECT fs_create_entity('onl_eb', ARRAY['b']);
SELECT fs_create_push_source('onl_pairs', 'a Int64, b Int64, ts Timestamp, v String', 'ts');
SELECT fs_create_feature_view('onl_pair_fv', 'onl_pairs', ARRAY['onl_pair']);
SELECT fs_create_feature_view('onl_pair2_fv', 'onl_pairs', ARRAY['onl_ea', 'onl_eb']);
-- services: two views of one entity, one of them a single feature; and
-- two views with different join keys
SELECT fs_create_feature_service('onl_svc', ARRAY['onl_ttl_fv', 'onl_user_fv.i']);
SELECT fs_create_feature_service('onl_mixed_svc', ARRAY['onl_user_fv.note', 'onl_merchant_fv']);

-- Data.  Timestamps are far in the past (outside any ttl) or in 2999
-- (inside it), so the output never depends on the clock.
SELECT fs_push('onl_events', '[
  {"user_id": "u1", "ts": "2999-01-01T00:00:00Z", "i": 7, "f": 1.5, "b": true,
   "at": "2024-05-06T07:08:09.5Z", "ints": [1, 2, 3], "tags": ["x", "y"],
   "meta": {"x": 1, "y": "why"}, "note": "first"},
  {"user_id": "u2", "ts": "2000-01-01T00:00:00Z", "i": -3, "f": "NaN", "b": false,
   "at": "1999-12-31T23:59:59+01:00", "ints": [], "tags": ["a", null],
   "meta": {"x": null}, "note": "old"},
  {"user_id": "u3", "ts": "2999-06-01T12:00:00Z", "i": 1, "note": "will be nulled"},
  {"user_id": "u3", "ts": "2999-06-02T12:00:00Z", "i": null, "note": null}
]') -> 'records' AS pushed;
SELECT fs_push('onl_merchants', '[{"merchant_id": 5, "ts": "2999-01-01T00:00:00Z", "rating": 4.5},
                                  {"merchant_id": 6, "ts": "2999-01-01T00:00:00Z", "rating": 1}]') -> 'records' AS pushed;
SELECT fs_push('onl_pairs', '[{"a": 1, "b": 12, "ts": "2999-01-01T00:00:00Z", "v": "one-twelve"},
                              {"a": 11, "b": 2, "ts": "2999-01-01T00:00:00Z", "v": "eleven-two"}]') -> 'records' AS pushed;

------------------------------------------------------------------------
-- One key object -> {"fv.f": value, ...}, values rendered by type
------------------------------------------------------------------------
-- int, float, bool, timestamp, arrays, struct (jsonb), string
SELECT jsonb_pretty(fs_get_online_features('onl_user_fv', '{"user_id": "u1"}'));
-- negative int, NaN, false, a timestamp given with an offset, empty array,
-- an array with a null element, a struct with a null field
SELECT jsonb_pretty(fs_get_online_features('onl_user_fv', '{"user_id": "u2"}'));
-- the jsonb types of the values
SELECT key, jsonb_typeof(value) FROM jsonb_each(fs_get_online_features('onl_user_fv', '{"user_id": "u1"}'))
 ORDER BY key;

------------------------------------------------------------------------
-- An array of keys -> an array of results, in input order (with repeats
-- and unknown keys in place)
------------------------------------------------------------------------
SELECT jsonb_pretty(fs_get_online_features('onl_ttl_fv',
    '[{"user_id": "u2"}, {"user_id": "nobody"}, {"user_id": "u1"}, {"user_id": "u2"}]'));
SELECT fs_get_online_features('onl_ttl_fv', '[]');
SELECT fs_get_online_features('onl_ttl_fv', '[{"user_id": "u1"}]');

------------------------------------------------------------------------
-- Unknown key: every feature null; MISSING_DATA with no effective_time
------------------------------------------------------------------------
SELECT fs_get_online_features('onl_ttl_fv', '{"user_id": "nobody"}');
SELECT jsonb_pretty(fs_get_online_features('onl_ttl_fv', '{"user_id": "nobody"}', include_metadata => true));

------------------------------------------------------------------------
-- include_join_keys and include_metadata
------------------------------------------------------------------------
SELECT fs_get_online_features('onl_ttl_fv', '{"user_id": "u1"}', include_join_keys => true);
SELECT fs_get_online_features('onl_ttl_fv', '{"user_id": "u1"}', false, false);
SELECT jsonb_pretty(fs_get_online_features('onl_ttl_fv', '{"user_id": "u1"}', true, true));
-- NULL flags mean false
SELECT fs_get_online_features('onl_ttl_fv', '{"user_id": "u1"}', NULL, NULL);

------------------------------------------------------------------------
-- ttl is enforced at read time: older than now() - ttl -> null, OUTSIDE_TTL
-- (the view without ttl serves the same old row as PRESENT)
------------------------------------------------------------------------
SELECT jsonb_pretty(fs_get_online_features('onl_ttl_fv',
    '[{"user_id": "u1"}, {"user_id": "u2"}]', include_metadata => true));
SELECT fs_get_online_features('onl_user_fv', '{"user_id": "u2"}', include_metadata => true)
       -> 'metadata' -> 'onl_user_fv.i' AS no_ttl_meta;
-- a newer event inside the ttl brings the key back
SELECT fs_push('onl_events', '{"user_id": "u2", "ts": "2999-02-01T00:00:00Z", "i": 30, "note": "fresh"}') -> 'records' AS pushed;
SELECT fs_get_online_features('onl_ttl_fv', '{"user_id": "u2"}', include_metadata => true);

------------------------------------------------------------------------
-- The newest row's NULL value is served as null, PRESENT: no fallback to
-- the older non-null value
------------------------------------------------------------------------
SELECT fs_get_online_features('onl_ttl_fv', '{"user_id": "u3"}', include_metadata => true);

------------------------------------------------------------------------
-- Composite join keys: (1, 12) and (11, 2) are different keys, for an
-- entity with two keys and for two entities; key order in the object does
-- not matter
------------------------------------------------------------------------
SELECT fs_get_online_features('onl_pair_fv', '[{"a": 1, "b": 12}, {"a": 11, "b": 2}, {"b": 12, "a": 1},
                                               {"a": 1, "b": 2}, {"a": 11, "b": 12}]');
SELECT fs_get_online_features('onl_pair2_fv', '[{"a": 1, "b": 12}, {"a": 11, "b": 2}, {"a": 1, "b": 2}]');
SELECT fs_get_online_features('onl_pair2_fv', '{"a": 11, "b": 2}', include_join_keys => true);
-- every key of the tuple is required
SELECT onl_try($$SELECT fs_get_online_features('onl_pair_fv', '{"a": 1}')$$);
SELECT onl_try($$SELECT fs_get_online_features('onl_pair2_fv', '{"b": 12}')$$);

------------------------------------------------------------------------
-- Typed keys: an Int64 key takes 5 or "5" (or 5.0), never 5.5 or "5x"
------------------------------------------------------------------------
SELECT fs_get_online_features('onl_merchant_fv', '{"merchant_id": 5}');
SELECT fs_get_online_features('onl_merchant_fv', '{"merchant_id": "5"}');
SELECT fs_get_online_features('onl_merchant_fv', '{"merchant_id": 5.0}');
SELECT fs_get_online_features('onl_merchant_fv', '[{"merchant_id": 6}, {"merchant_id": "-6"}]');
SELECT onl_try($$SELECT fs_get_online_features('onl_merchant_fv', '{"merchant_id": 5.5}')$$);
SELECT onl_try($$SELECT fs_get_online_features('onl_merchant_fv', '{"merchant_id": "5.5"}')$$);
SELECT onl_try($$SELECT fs_get_online_features('onl_merchant_fv', '{"merchant_id": "5x"}')$$);
SELECT onl_try($$SELECT fs_get_online_features('onl_merchant_fv', '{"merchant_id": true}')$$);
SELECT onl_try($$SELECT fs_get_online_features('onl_merchant_fv', '{"merchant_id": 99999999999999999999}')$$);
-- a String key takes only a JSON string
SELECT onl_try($$SELECT fs_get_online_features('onl_user_fv', '{"user_id": 1}')$$);
SELECT onl_try($$SELECT fs_get_online_features('onl_user_fv', '{"user_id": ["u1"]}')$$);

------------------------------------------------------------------------
-- Feature services
------------------------------------------------------------------------
-- a whole view plus a single feature of another view, same join key
SELECT fs_get_online_features('onl_svc', '{"user_id": "u1"}');
SELECT jsonb_pretty(fs_get_online_features('onl_svc', '[{"user_id": "u3"}, {"user_id": "nobody"}]',
                                           include_join_keys => true, include_metadata => true));
-- views with different join keys: the key object carries the union
SELECT fs_get_online_features('onl_mixed_svc', '{"user_id": "u1", "merchant_id": 5}');
SELECT fs_get_online_features('onl_mixed_svc', '[{"merchant_id": "6", "user_id": "u2"}, {"user_id": "nobody", "merchant_id": 7}]');
SELECT fs_get_online_features('onl_mixed_svc', '{"merchant_id": 6, "user_id": "u2"}', include_join_keys => true);
-- ... and needs every key of the union
SELECT onl_try($$SELECT fs_get_online_features('onl_mixed_svc', '{"user_id": "u1"}')$$);
SELECT onl_try($$SELECT fs_get_online_features('onl_mixed_svc', '{"merchant_id": 5}')$$);

------------------------------------------------------------------------
-- More serving paths
------------------------------------------------------------------------
-- effective_time keeps fractional seconds; a string key with quotes and
-- non-ASCII characters is just a value
SELECT fs_push('onl_events', '{"user_id": "o''Brien \"ü\"", "ts": "2999-03-03T03:03:03.25Z", "i": 4}') -> 'records' AS pushed;
SELECT fs_get_online_features('onl_ttl_fv', '{"user_id": "o''Brien \"ü\""}', true, true);
-- reads see the transaction's own pushes, and a rolled-back push is gone
BEGIN;
SELECT fs_push('onl_events', '{"user_id": "u1", "ts": "2999-12-31T00:00:00Z", "i": 8, "note": "uncommitted"}') -> 'records' AS pushed;
SELECT fs_get_online_features('onl_ttl_fv', '{"user_id": "u1"}');
ROLLBACK;
SELECT fs_get_online_features('onl_ttl_fv', '{"user_id": "u1"}');
-- a view without entities has one row, read with an empty key object
SELECT fs_create_push_source('onl_global', 'ts Timestamp, total Int64', 'ts');
SELECT fs_create_feature_view('onl_global_fv', 'onl_global', '{}');
SELECT fs_get_online_features('onl_global_fv', '{}', include_metadata => true);
SELECT fs_push('onl_global', '[{"ts": "2999-01-02T00:00:00Z", "total": 2}, {"ts": "2999-01-01T00:00:00Z", "total": 1}]') -> 'records' AS pushed;
SELECT fs_get_online_features('onl_global_fv', '[{}, {}]');
SELECT onl_try($$SELECT fs_get_online_features('onl_global_fv', '{"user_id": "u1"}')$$);
-- a view with more than 50 features (the read builds its object in chunks)
SELECT fs_create_push_source('onl_wide',
    (SELECT 'user_id String, ts Timestamp, ' || string_agg(format('c%s Int64', g), ', ' ORDER BY g)
       FROM generate_series(1, 120) g), 'ts');
SELECT fs_create_feature_view('onl_wide_fv', 'onl_wide', ARRAY['onl_user']);
SELECT fs_push('onl_wide', (SELECT jsonb_build_object('user_id', 'w', 'ts', '2999-01-01T00:00:00Z')
                                   || jsonb_object_agg(format('c%s', g), g * 10)
                              FROM generate_series(1, 120) g)) -> 'records' AS pushed;
SELECT count(*) AS features, count(*) FILTER (WHERE value = to_jsonb(substr(key, 14)::int * 10)) AS correct
  FROM jsonb_each(fs_get_online_features('onl_wide_fv', '{"user_id": "w"}'));
SELECT count(*) AS metadata FROM jsonb_each(fs_get_online_features('onl_wide_fv', '{"user_id": "w"}', false, true) -> 'metadata');
-- each feature's JSON is to_jsonb of its stored value, whatever the type
-- (the common types are converted without to_jsonb): edge values of each,
-- compared as values and as text, and nulls left out of neither
SELECT fs_create_push_source('onl_kinds',
    'user_id String, ts Timestamp, i2 int2, i4 Int32, i8 Int64, f4 Float32, f8 Float64, n numeric, n2 numeric(10,2),
     b Bool, s String, v varchar(5), c char(3), u uuid, a Array(Int64), t timestamptz', 'ts');
SELECT fs_create_feature_view('onl_kinds_fv', 'onl_kinds', ARRAY['onl_user']);
INSERT INTO pushsource_source.onl_kinds VALUES
  ('k1', '2999-01-01', 1, 2, 3, 1.5, 0.1, 12.340, 1.5, true, 'x', 'ab', 'a', '00000000-0000-0000-0000-000000000001', '{1,2}', '2024-01-01 12:00+00'),
  ('k2', '2999-01-01', -32768, -2147483648, -9223372036854775808, 'NaN', 'NaN', 'NaN', -0.01, false, '', '', '', NULL, '{}', '-infinity'),
  ('k3', '2999-01-01', 32767, 2147483647, 9223372036854775807, 'Infinity', '-Infinity', 'Infinity', 99999999.99, NULL, E'q"\\ \u00e9\n', 'é', 'é', NULL, '{NULL}', NULL),
  ('k4', '2999-01-01', 0, 0, 0, '-0', '-0', '-Infinity', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  ('k5', '2999-01-01', NULL, NULL, NULL, 3.4028235e38, 1.7976931348623157e308, 1e-100, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  ('k6', '2999-01-01', NULL, NULL, NULL, 1e-45, 5e-324, 123456789012345678901234567890.123456789, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  -- a long text, compressed in the store: read detoasted
  ('k7', '2999-01-01', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, repeat('xy', 50000), NULL, NULL, NULL, NULL, NULL);
SELECT pg_column_size(s) < octet_length(s) AS compressed FROM pushsource_store.onl_kinds_fv_online WHERE user_id = 'k7';
SELECT count(*) AS features,
       count(*) FILTER (WHERE r.value = coalesce(to_jsonb(c.value), 'null')) AS same_value,
       count(*) FILTER (WHERE r.value::text = coalesce(to_jsonb(c.value), 'null')::text) AS same_text,
       count(*) FILTER (WHERE r.value = 'null') AS nulls
  FROM pushsource_store.onl_kinds_fv_online o
  CROSS JOIN LATERAL jsonb_each(fs_get_online_features('onl_kinds_fv', jsonb_build_object('user_id', o.user_id))) r
  JOIN LATERAL jsonb_each(to_jsonb(o) - 'user_id' - 'ts' - '_fs_ingest_id') c ON r.key = 'onl_kinds_fv.' || c.key;
SELECT jsonb_pretty(fs_get_online_features('onl_kinds_fv', '[{"user_id": "k2"}, {"user_id": "k3"}]'));
SELECT fs_drop('onl_kinds', cascade => true);
-- a view dropped and re-created under the same name with other features
-- is served with its new definition in the same session
SELECT fs_create_push_source('onl_re', 'user_id String, ts Timestamp, x Int64', 'ts');
SELECT fs_create_feature_view('onl_re_fv', 'onl_re', ARRAY['onl_user']);
SELECT fs_push('onl_re', '{"user_id": "u1", "ts": "2999-01-01T00:00:00Z", "x": 1}') -> 'records' AS pushed;
SELECT fs_get_online_features('onl_re_fv', '{"user_id": "u1"}');
SELECT fs_drop('onl_re', cascade => true);
SELECT onl_try($$SELECT fs_get_online_features('onl_re_fv', '{"user_id": "u1"}')$$);
SELECT fs_create_push_source('onl_re', 'user_id String, ts Timestamp, y String, z Bool', 'ts');
SELECT fs_create_feature_view('onl_re_fv', 'onl_re', ARRAY['onl_user'], ttl => '1 day');
SELECT fs_get_online_features('onl_re_fv', '{"user_id": "u1"}');
SELECT fs_push('onl_re', '{"user_id": "u1", "ts": "2000-01-01T00:00:00Z", "y": "new", "z": true}') -> 'records' AS pushed;
SELECT fs_get_online_features('onl_re_fv', '{"user_id": "u1"}', include_metadata => true);

------------------------------------------------------------------------
-- Errors, with SQLSTATEs
------------------------------------------------------------------------
-- unknown name; names of objects that are not views or services
SELECT onl_try($$SELECT fs_get_online_features('onl_nope', '{"user_id": "u1"}')$$);
SELECT onl_try($$SELECT fs_get_online_features('onl_events', '{"user_id": "u1"}')$$);
SELECT onl_try($$SELECT fs_get_online_features('onl_user', '{"user_id": "u1"}')$$);
-- invalid names are rejected before any lookup
SELECT onl_try($$SELECT fs_get_online_features('Onl_User_FV', '{"user_id": "u1"}')$$);
SELECT onl_try($$SELECT fs_get_online_features('onl_user_fv; DROP TABLE x', '{"user_id": "u1"}')$$);
SELECT onl_try($$SELECT fs_get_online_features('', '{"user_id": "u1"}')$$);
-- null name, null keys
SELECT onl_try($$SELECT fs_get_online_features(NULL, '{"user_id": "u1"}')$$);
SELECT onl_try($$SELECT fs_get_online_features('onl_user_fv', NULL)$$);
-- missing, null, extra/unknown key fields
SELECT onl_try($$SELECT fs_get_online_features('onl_user_fv', '{}')$$);
SELECT onl_try($$SELECT fs_get_online_features('onl_user_fv', '{"userid": "u1"}')$$);
SELECT onl_try($$SELECT fs_get_online_features('onl_user_fv', '{"user_id": null}')$$);
SELECT onl_try($$SELECT fs_get_online_features('onl_user_fv', '{"user_id": "u1", "merchant_id": 5}')$$);
SELECT onl_try($$SELECT fs_get_online_features('onl_user_fv', '[{"user_id": "u1"}, {"user_id": "u2", "x": 1}]')$$);
-- a feature name is not a key field
SELECT onl_try($$SELECT fs_get_online_features('onl_user_fv', '{"user_id": "u1", "i": 7}')$$);
-- the key argument must be an object or an array of objects
SELECT onl_try($$SELECT fs_get_online_features('onl_user_fv', '5')$$);
SELECT onl_try($$SELECT fs_get_online_features('onl_user_fv', '"u1"')$$);
SELECT onl_try($$SELECT fs_get_online_features('onl_user_fv', 'null')$$);
SELECT onl_try($$SELECT fs_get_online_features('onl_user_fv', '[{"user_id": "u1"}, 5]')$$);
SELECT onl_try($$SELECT fs_get_online_features('onl_user_fv', '[["u1"]]')$$);
-- a view with online => false is not served
SELECT onl_try($$SELECT fs_get_online_features('onl_offline_fv', '{"user_id": "u1"}')$$);

-- a name read and found to be neither a view nor a service, then created
-- as a view in the same session (the cache of names that are not views
-- forgets them when the catalog changes): it is served at once
SELECT onl_try($$SELECT fs_get_online_features('onl_late_fv', '{"user_id": "u1"}')$$);
SELECT fs_create_feature_view('onl_late_fv', 'onl_events', ARRAY['onl_user'], features => ARRAY['i']);
SELECT fs_get_online_features('onl_late_fv', '{"user_id": "u1"}');
-- and in one transaction
BEGIN;
SELECT onl_try($$SELECT fs_get_online_features('onl_later_fv', '{"user_id": "u1"}')$$);
SELECT fs_create_feature_view('onl_later_fv', 'onl_events', ARRAY['onl_user'], features => ARRAY['i']);
SELECT fs_get_online_features('onl_later_fv', '{"user_id": "u1"}');
COMMIT;

-- A one-key read goes to the online store's primary key index directly;
-- a store with row security that applies to the reader is read by SQL
-- instead, which honours it.  The two give the same JSON for every type
-- of onl_user_fv (u1 as the index read it, read again by SQL), and the
-- policy hides u2 from the reader.
CREATE TEMP TABLE onl_direct AS
SELECT fs_get_online_features('onl_user_fv', '[{"user_id": "u1"}, {"user_id": "u2"}]') AS j;
ALTER TABLE pushsource_store.onl_user_fv_online ENABLE ROW LEVEL SECURITY;
CREATE POLICY onl_hide ON pushsource_store.onl_user_fv_online FOR SELECT USING (user_id <> 'u2');
CREATE ROLE onl_reader IN ROLE pushsource_reader;
GRANT SELECT ON onl_direct TO onl_reader;
SET ROLE onl_reader;
SELECT r -> 0 = (SELECT j -> 0 FROM onl_direct) AS u1_same_by_sql,
       (SELECT j -> 1 ->> 'onl_user_fv.i' FROM onl_direct) AS u2_by_index,
       r -> 1 ->> 'onl_user_fv.i' AS u2_by_sql_hidden
  FROM fs_get_online_features('onl_user_fv', '[{"user_id": "u1"}, {"user_id": "u2"}]') r;
RESET ROLE;
DROP POLICY onl_hide ON pushsource_store.onl_user_fv_online;
ALTER TABLE pushsource_store.onl_user_fv_online DISABLE ROW LEVEL SECURITY;
DROP OWNED BY onl_reader;
DROP ROLE onl_reader;

-- Many keys in one call read each store through one index scan, rescanned
-- per key, with each key's scratch memory reset after it.  Keys deleted and
-- pushed again leave dead index entries for the scan to step over.  301
-- keys in one call: d1..d100 deleted and pushed again (n = 10 * g),
-- d101..d250 as first pushed (n = g), d251..d300 never pushed, and d7
-- again at the end; each must be as pushed, and as read alone.
SELECT fs_create_push_source('onl_dead', 'user_id String, ts Timestamp, n Int64', 'ts');
SELECT fs_create_feature_view('onl_dead_fv', 'onl_dead', ARRAY['onl_user']);
INSERT INTO pushsource_source.onl_dead
SELECT 'd' || g, timestamptz '2024-01-01 00:00+00' + g * interval '1 minute', g FROM generate_series(1, 250) g;
-- (deleted from the store directly: fs_delete_keys would leave a job row,
-- and operations.sql counts them)
DELETE FROM pushsource_store.onl_dead_fv_online WHERE user_id IN (SELECT 'd' || g FROM generate_series(1, 100) g);
INSERT INTO pushsource_source.onl_dead
SELECT 'd' || g, timestamptz '2024-02-01 00:00+00', 10 * g FROM generate_series(1, 100) g;
CREATE TEMP TABLE onl_dead_keys AS
SELECT g, CASE WHEN g = 301 THEN 7 ELSE g END AS d FROM generate_series(1, 301) g;
CREATE TEMP TABLE onl_dead_batch AS
SELECT fs_get_online_features('onl_dead_fv',
         (SELECT jsonb_agg(jsonb_build_object('user_id', 'd' || d) ORDER BY g) FROM onl_dead_keys)) AS j;
SELECT count(*) AS keys,
       count(*) FILTER (WHERE (b.j -> (k.g - 1)::int ->> 'onl_dead_fv.n')::bigint IS NOT DISTINCT FROM
                              CASE WHEN k.d <= 100 THEN 10 * k.d WHEN k.d <= 250 THEN k.d END) AS as_expected,
       count(*) FILTER (WHERE b.j -> (k.g - 1)::int =
                              fs_get_online_features('onl_dead_fv', jsonb_build_object('user_id', 'd' || k.d))) AS same_one_by_one
  FROM onl_dead_keys k, onl_dead_batch b;
-- the list's reply is assembled from the keys' serialized objects: it must
-- be what jsonb makes of its own text, size for size (an end offset every
-- 32 elements, the elements' alignment) and value for value
WITH r AS MATERIALIZED (
  SELECT fs_get_online_features('onl_dead_fv',
           (SELECT jsonb_agg(jsonb_build_object('user_id', 'd' || d) ORDER BY g) FROM onl_dead_keys),
           include_join_keys => true, include_metadata => true) AS j)
SELECT jsonb_array_length(j) AS n, pg_column_size(j) = pg_column_size(j::text::jsonb) AS same_size,
       j = j::text::jsonb AS same_value, j -> 300 ->> 'user_id' AS last_key,
       (SELECT count(*) FROM jsonb_array_elements(j) e WHERE e ? 'metadata') AS with_metadata
  FROM r;
SELECT fs_drop('onl_dead', cascade => true);

-- clean up
SELECT fs_drop('onl_events', cascade => true);
SELECT fs_drop('onl_merchants', cascade => true);
SELECT fs_drop('onl_pairs', cascade => true);
SELECT fs_drop('onl_global', cascade => true);
SELECT fs_drop('onl_wide', cascade => true);
SELECT fs_drop('onl_re', cascade => true);
SELECT fs_drop(e, cascade => true) FROM unnest(ARRAY['onl_user', 'onl_merchant', 'onl_pair', 'onl_ea', 'onl_eb']) e;
SELECT count(*) AS leftovers FROM pushsource_internal.object_registry WHERE name LIKE 'onl\_%';
DROP FUNCTION onl_try(text);
