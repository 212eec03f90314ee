-- typespec: push schemas (Tecton and PostgreSQL type names) become the
-- column types of the source table, and every JSON validation rule of
-- DESIGN.md "Ingest" holds for a source with one column of each kind.
SET search_path = pushsource, pushsource_source, public;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

-- Runs a statement; returns 'ok' or "SQLSTATE: message".  Test helpers live
-- in schema public, not in the extension's schema.
CREATE FUNCTION public.ts_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- Column names and types of a source table, as PostgreSQL sees them.
CREATE FUNCTION public.ts_columns(tbl regclass) RETURNS TABLE (col name, type text)
LANGUAGE sql AS $$
    SELECT a.attname, format_type(a.atttypid, a.atttypmod)
      FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY a.attnum
$$;

------------------------------------------------------------------------
-- Tecton type names and the column types they give
------------------------------------------------------------------------
SELECT fs_create_push_source('ts_tecton',
    'id String, ts Timestamp, i32 Int32, i64 Int64, f32 Float32, f64 Float64, b Bool,
     tags Array(String), ints Array(Int64), flags Array(Bool), stamps Array(Timestamp),
     structs Array(Struct(a Int64)), nested Array(Array(Int64)),
     meta Struct(x Int64, y String), m Map(String, Float64),
     deep Map (String, Struct(a Array(Int64)))',
    'ts');
SELECT * FROM ts_columns('pushsource_source.ts_tecton');
-- the catalog keeps the declared (Tecton) types, normalized
SELECT c->>'name' AS col, c->>'type' AS declared
  FROM push_sources, jsonb_array_elements(schema) c
 WHERE name = 'ts_tecton';

------------------------------------------------------------------------
-- PostgreSQL type names keep their type and typmod
------------------------------------------------------------------------
SELECT fs_create_push_source('ts_pg',
    'id text, ts timestamptz, n int8, amt numeric(10,2), code varchar(5), u uuid,
     j jsonb, ia int4[], d date, c char(3), sa varchar(4)[]',
    'ts');
SELECT * FROM ts_columns('pushsource_source.ts_pg');
SELECT c->>'name' AS col, c->>'type' AS declared
  FROM push_sources, jsonb_array_elements(schema) c
 WHERE name = 'ts_pg';

------------------------------------------------------------------------
-- Schema errors: each names the column and the problem; nothing is created
------------------------------------------------------------------------
SELECT n, s, ts_try(format('SELECT pushsource.fs_create_push_source(%L, %L, %L)', 'ts_bad' || n, s, 'ts'))
  FROM (VALUES
    (1,  'id String, ts Timestamp, x Foo'),                      -- unknown type
    (2,  'id string, ts Timestamp'),                             -- Tecton names are case-sensitive
    (3,  'id String, ts Timestamp, x Map(Int64, String)'),       -- Map key not String
    (4,  'id String, ts Timestamp, x Map(String)'),              -- Map needs two types
    (5,  'id String, ts Timestamp, x Struct(a Int64, a String)'),-- duplicate Struct field
    (6,  'id String, ts Timestamp, x Struct()'),                 -- Struct without fields
    (7,  'id String, ts Timestamp, x Struct(a)'),                -- Struct field without type
    (8,  'id String, ts Timestamp, x Struct(1a Int64)'),         -- bad Struct field name
    (9,  'id String, ts Timestamp, x Array('),                   -- malformed Array(
    (10, 'id String, ts Timestamp, x Array(String'),             -- unclosed
    (11, 'id String, ts Timestamp, x Array(String))'),           -- unbalanced )
    (12, 'id String, ts Timestamp, x Array(Foo)'),               -- bad element type
    (13, 'id String, ts Timestamp, x Array String'),             -- Array without ()
    (14, 'id String, ts Timestamp, x Arrayy(String)'),           -- near-miss name
    (15, 'id String, ts'),                                       -- column without type
    (16, 'id String,, ts Timestamp'),                            -- empty column
    (17, 'id String, ts Timestamp,'),                            -- trailing comma: empty column
    (18, ''),                                                    -- no columns
    (19, 'id String, ts Timestamp, x void'),                     -- pseudo-type
    (20, 'id String, ts Timestamp, x int8; drop table t'),       -- never spliced into SQL
    (21, 'ID String, ts Timestamp'),                             -- column names are identifiers
    (22, 'id String, ts Timestamp, _fs_x Int64')                 -- reserved prefix
  ) v(n, s)
 ORDER BY n;
-- none of them left a table or a catalog row behind
SELECT count(*) FROM push_sources WHERE name LIKE 'ts\_bad%';
SELECT count(*) FROM pg_class WHERE relname LIKE 'ts\_bad%';

------------------------------------------------------------------------
-- JSON validation: a source with one column of each kind.  A feature view
-- on entity ts_user makes "id" a required join key.
------------------------------------------------------------------------
SELECT fs_create_push_source('ts_all',
    'id String, ts Timestamp, i64 Int64, i32 Int32, f64 Float64, f32 Float32,
     b Bool, s String, v5 varchar(5), tags Array(String), ints Array(Int64),
     structs Array(Struct(a Int64)), meta Struct(x Int64, y String),
     m Map(String, Int64), amt numeric(10,2), u uuid, j jsonb, d date',
    'ts');
SELECT fs_create_entity('ts_user', ARRAY['id']);
SELECT fs_create_feature_view('ts_all_fv', 'ts_all', ARRAY['ts_user'], ARRAY['i64']);

-- Pushes one record {"id": "k", "ts": ..., field: value}; returns the
-- stored column as text ("ok: ...") or "SQLSTATE: message".  The row is
-- deleted again (DELETE is allowed on a source table).
CREATE FUNCTION public.ts_push(field text, val jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    PERFORM pushsource.fs_push('ts_all',
        jsonb_build_object('id', 'k', 'ts', '2024-01-01T00:00:00Z') || jsonb_build_object(field, val));
    EXECUTE format('SELECT %I::text FROM pushsource_source.ts_all', field) INTO STRICT r;
    DELETE FROM pushsource_source.ts_all;
    RETURN 'ok: ' || coalesce(r, 'NULL');
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- Int64: a JSON integer or a string of one; no fractions, no junk, no overflow
SELECT n, v, ts_push('i64', v::jsonb) FROM (VALUES
    (1, '12'), (2, '"12"'), (3, '1e3'), (4, '12.0'), (5, '-9223372036854775808'),
    (6, '"-9223372036854775808"'), (7, '9223372036854775807'), (8, 'null'),
    (9, '1.5'), (10, '"12abc"'), (11, '"1.0"'), (12, '""'), (13, '" 12"'),
    (14, '"-"'), (15, '9223372036854775808'), (16, '"9223372036854775808"'),
    (17, '-9223372036854775809'), (18, '1e19'), (19, 'true'), (20, '[1]'), (21, '{}')
  ) t(n, v) ORDER BY n;

-- Int32: the same rules, 32-bit range
SELECT n, v, ts_push('i32', v::jsonb) FROM (VALUES
    (1, '2147483647'), (2, '"-2147483648"'), (3, '2147483648'), (4, '"-2147483649"'), (5, '1.5')
  ) t(n, v) ORDER BY n;

-- Float64: JSON numbers and "NaN" / "Infinity" / "-Infinity"; no other strings
SELECT n, v, ts_push('f64', v::jsonb) FROM (VALUES
    (1, '1.5'), (2, '-2'), (3, '1e308'), (4, '"NaN"'), (5, '"Infinity"'), (6, '"-Infinity"'),
    (7, '1e309'), (8, '"1.5"'), (9, '"nan"'), (10, 'true'), (11, 'null')
  ) t(n, v) ORDER BY n;

-- Float32: the same, float4 range
SELECT n, v, ts_push('f32', v::jsonb) FROM (VALUES
    (1, '1.5'), (2, '3.4e38'), (3, '"NaN"'), (4, '1e39'), (5, '-1e39'), (6, '"x"')
  ) t(n, v) ORDER BY n;

-- Bool: only true / false
SELECT n, v, ts_push('b', v::jsonb) FROM (VALUES
    (1, 'true'), (2, 'false'), (3, '"true"'), (4, '1'), (5, '0'), (6, 'null')
  ) t(n, v) ORDER BY n;

-- String: only JSON strings; varchar(5) at most 5 characters
SELECT n, f, v, ts_push(f, v::jsonb) FROM (VALUES
    (1, 's', '"x"'), (2, 's', '12'), (3, 's', 'true'), (4, 's', '{"a": 1}'),
    (5, 'v5', '"abcde"'), (6, 'v5', '"abcdef"')
  ) t(n, f, v) ORDER BY n;

-- Timestamp: RFC 3339 / ISO 8601 strings; no zone means UTC
SELECT n, v, ts_push('ts', v::jsonb) FROM (VALUES
    (1, '"2024-01-02T03:04:05Z"'),
    (2, '"2024-01-02T03:04:05+02:00"'),
    (3, '"2024-01-02T03:04:05+0530"'),
    (4, '"2024-01-02T03:04:05-08"'),
    (5, '"2024-01-02 03:04:05"'),
    (6, '"2024-01-02t03:04:05z"'),
    (7, '"2024-01-02T03:04:05.123Z"'),
    (8, '"2024-01-02T03:04:05.1234564Z"'),
    (9, '"2024-01-02T03:04:05.1234565Z"'),
    (10, '"2024-01-02T03:04:05.9999996Z"'),
    (11, '"2024-01-02"'),
    (12, '"2024-02-29T00:00:00Z"'),
    (13, '"2024-01-02T03:04Z"'),
    (14, '"2024-02-30"'),
    (15, '"2023-02-29"'),
    (16, '"2024-13-01"'),
    (17, '"2024-01-02T24:00:00Z"'),
    (18, '"2024-01-02T03:60:00Z"'),
    (19, '"2024-01-02T03:04:05+24:00"'),
    (20, '"2024-01-02T03:04:05Zjunk"'),
    (21, '"2024-1-2"'),
    (22, '"not a date"'),
    (23, '""'),
    (24, '1704164645'),
    (25, 'null')
  ) t(n, v) ORDER BY n;

-- a zone-less string is UTC whatever the session TimeZone
SET timezone = 'America/New_York';
SELECT fs_push('ts_all', '[{"id": "tz", "ts": "2024-01-02 03:04:05"},
                           {"id": "tz2", "ts": "2024-07-02T03:04:05"},
                           {"id": "tz3", "ts": "2024-01-02T03:04:05-05:00"}]') ->> 'records' AS records;
SELECT id, ts = '2024-01-02 03:04:05+00'::timestamptz AS utc_winter,
           ts = '2024-07-02 03:04:05+00'::timestamptz AS utc_summer,
           ts = '2024-01-02 08:04:05+00'::timestamptz AS offset_honored
  FROM ts_all ORDER BY id;
SET timezone = 'UTC';
SELECT id, ts FROM ts_all ORDER BY id;
DELETE FROM ts_all;

-- Arrays: JSON arrays of the element type; null elements are allowed;
-- the offending element is named by its path
SELECT n, f, v, ts_push(f, v::jsonb) FROM (VALUES
    (1, 'tags', '["a", "b", null]'),
    (2, 'tags', '[]'),
    (3, 'tags', '["a", "b", 3]'),
    (4, 'tags', '"a"'),
    (5, 'tags', '{"a": 1}'),
    (6, 'ints', '[1, "2", null, 1e2]'),
    (7, 'ints', '[1, 1.5]'),
    (8, 'ints', '[[1]]'),
    (9, 'structs', '[{"a": 1}, {"a": null}, null]'),
    (10, 'structs', '[{"a": 1}, {"a": "x"}]'),
    (11, 'structs', '[{"a": 1}, {"b": 2}]')
  ) t(n, f, v) ORDER BY n;

-- Struct: objects with known fields only, each field checked; Map: any
-- keys, values checked; both stored with values of the declared types
SELECT n, f, v, ts_push(f, v::jsonb) FROM (VALUES
    (1, 'meta', '{"x": 1, "y": "a"}'),
    (2, 'meta', '{}'),
    (3, 'meta', '{"x": null}'),
    (4, 'meta', '{"x": 1, "zz": 2}'),
    (5, 'meta', '{"x": "abc"}'),
    (6, 'meta', '{"y": 5}'),
    (7, 'meta', '[1]'),
    (8, 'meta', '"x"'),
    (9, 'm', '{"a": 1, "b": -2}'),
    (10, 'm', '{}'),
    (11, 'm', '{"a": 1, "b": 1.5}'),
    (12, 'm', '{"a": true}'),
    (13, 'm', '[["a", 1]]'),
    (14, 'm', '{"a": "2", "b": 3}'),           -- stored as the declared type: 2, not "2"
    (15, 'meta', '{"x": "5", "y": "b"}')
  ) t(n, f, v) ORDER BY n;

-- numeric(10,2), uuid, jsonb, date: numbers / strings through the type's rules
SELECT n, f, v, ts_push(f, v::jsonb) FROM (VALUES
    (1, 'amt', '12.345'),
    (2, 'amt', '"12.5"'),
    (3, 'amt', '123456789012'),
    (4, 'amt', '"abc"'),
    (5, 'amt', 'true'),
    (6, 'u', '"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"'),
    (7, 'u', '"xyz"'),
    (8, 'u', '123'),
    (9, 'j', '{"a": [1, null]}'),
    (10, 'j', '5'),
    (11, 'j', '"s"'),
    (12, 'd', '"2024-01-02"'),
    (13, 'd', '"2024-01-02T00:00:00Z"'),
    (14, 'd', '"2024-02-30"')
  ) t(n, f, v) ORDER BY n;

-- Unknown fields are rejected; the message lists the known ones
SELECT ts_try($$SELECT pushsource.fs_push('ts_all', '{"id": "k", "ts": "2024-01-01T00:00:00Z", "i46": 1}')$$);

-- Join keys and the timestamp field are required and non-null: 23502
SELECT n, v, ts_try(format('SELECT pushsource.fs_push(%L, %L)', 'ts_all', v)) FROM (VALUES
    (1, '{"ts": "2024-01-01T00:00:00Z"}'),
    (2, '{"id": null, "ts": "2024-01-01T00:00:00Z"}'),
    (3, '{"id": "k"}'),
    (4, '{"id": "k", "ts": null}')
  ) t(n, v) ORDER BY n;

-- Each record must be an object; the error names the record's index
SELECT n, v, ts_try(format('SELECT pushsource.fs_push(%L, %L)', 'ts_all', v)) FROM (VALUES
    (1, '[{"id": "k", "ts": "2024-01-01T00:00:00Z"}, 1]'),
    (2, '[{"id": "k", "ts": "2024-01-01T00:00:00Z"}, [{"id": "k"}]]'),
    (3, '[{"id": "k", "ts": "2024-01-01T00:00:00Z"}, {"id": "k", "ts": "2024-01-01T00:00:00Z", "i64": 1.5}]')
  ) t(n, v) ORDER BY n;

-- records must be an array or one object
SELECT n, v, ts_try(format('SELECT pushsource.fs_push(%L, %L)', 'ts_all', v)) FROM (VALUES
    (1, '5'), (2, '"x"'), (3, 'null'), (4, 'true')
  ) t(n, v) ORDER BY n;

-- a source table written by plain INSERT gets the checks its column types
-- cannot express: Struct / Map shapes and required fields
SELECT ts_try($$INSERT INTO pushsource_source.ts_all (id, ts, meta) VALUES ('k', '2024-01-01', '{"x": 1, "zz": 2}')$$);
SELECT ts_try($$INSERT INTO pushsource_source.ts_all (id, ts, meta) VALUES ('k', '2024-01-01', '5')$$);
SELECT ts_try($$INSERT INTO pushsource_source.ts_all (id, ts, m) VALUES ('k', '2024-01-01', '{"a": "x"}')$$);
SELECT ts_try($$INSERT INTO pushsource_source.ts_all (id, ts, structs) VALUES ('k', '2024-01-01', '[{"a": 1}, {"a": 1.5}]')$$);
SELECT ts_try($$INSERT INTO pushsource_source.ts_all (ts) VALUES ('2024-01-01')$$);
SELECT ts_try($$INSERT INTO pushsource_source.ts_all (id, ts, meta, m) VALUES ('k', '2024-01-01', '{"x": 1}', '{"a": 2}')$$);
SELECT id, meta, m FROM ts_all;

-- after all of the above: nothing rejected was written anywhere.  The
-- offline store holds exactly the 60 accepted records ("ok" rows above: 57
-- for "k" incl. 1 INSERT, 3 for the tz test); online keeps the newest per id
SELECT count(*) AS source_rows FROM ts_all WHERE id <> 'k';
SELECT id, count(*) AS offline_rows FROM pushsource_store.ts_all_fv_offline GROUP BY id ORDER BY id;
SELECT id, ts, i64 FROM pushsource_store.ts_all_fv_online ORDER BY id;

------------------------------------------------------------------------
-- Built-in types only: a domain's CHECK (or any user-defined type's code)
-- would run as whoever pushes or reads, a superuser too.  Refused when the
-- source is registered, and when a column was altered to one afterwards.
------------------------------------------------------------------------
CREATE TABLE public.ts_ran (who name);
CREATE FUNCTION public.ts_spy(v text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.ts_ran VALUES (current_user); RETURN true; END $$;
CREATE DOMAIN public.ts_key AS text CHECK (public.ts_spy(VALUE));
SELECT ts_try($$SELECT fs_create_push_source('ts_dom', 'id public.ts_key, ts Timestamp', 'ts')$$);
CREATE TEMP TABLE ts_tmp_type_holder (x int);
SELECT ts_try($$SELECT fs_create_push_source('ts_dom', 'id text, ts Timestamp, c pg_temp.ts_tmp_type_holder', 'ts')$$);
SELECT fs_create_entity('ts_dom_e', ARRAY['id']);
SELECT fs_create_push_source('ts_dom', 'id text, ts Timestamp, v Int64', 'ts');
SELECT fs_create_feature_view('ts_dom_fv', 'ts_dom', ARRAY['ts_dom_e']);
ALTER TABLE pushsource_source.ts_dom ALTER COLUMN id TYPE public.ts_key;
SELECT ts_try($$SELECT fs_get_online_features('ts_dom_fv', '{"id": "x"}')$$);
SELECT ts_try($$SELECT fs_push('ts_dom', '{"id": "x", "ts": "2024-01-01T00:00:00Z", "v": 1}')$$);
SELECT count(*) AS check_ran FROM public.ts_ran;
SELECT fs_drop('ts_dom', cascade => true);
SELECT fs_drop('ts_dom_e');
DROP DOMAIN public.ts_key;
DROP FUNCTION public.ts_spy(text);
DROP TABLE public.ts_ran;

------------------------------------------------------------------------
-- Nesting: at most 32 levels of types; deeper is 54000 (it crashed the
-- server at about 50,000 levels before the bound and stack checks)
------------------------------------------------------------------------
SELECT ts_try(format($$SELECT fs_create_push_source('ts_deep', %L, 'ts')$$,
              'a ' || repeat('Array(', 50000) || 'String' || repeat(')', 50000) || ', ts Timestamp'));
SELECT ts_try(format($$SELECT fs_create_push_source('ts_deep', %L, 'ts')$$,
              'a ' || repeat('Struct(x ', 50000) || 'Int64' || repeat(')', 50000) || ', ts Timestamp'));
SELECT ts_try(format($$SELECT fs_create_push_source('ts_deep', %L, 'ts')$$,
              'a ' || repeat('Map(String, ', 33) || 'Bool' || repeat(')', 33) || ', ts Timestamp'));
-- 32 levels are accepted, and a record nested that deep is validated
SELECT fs_create_push_source('ts_deep', 'a ' || repeat('Struct(x ', 31) || 'Array(Int64' || repeat(')', 32) || ', ts Timestamp', 'ts');
SELECT fs_push('ts_deep', format('{"a": %s, "ts": "2024-01-01T00:00:00Z"}',
               repeat('{"x": ', 31) || '[1, 2]' || repeat('}', 31))::jsonb) ->> 'records' AS pushed;
SELECT ts_try(format($$SELECT fs_push('ts_deep', %L)$$,
              format('{"a": %s, "ts": "2024-01-01T00:00:00Z"}', repeat('{"x": ', 31) || '[1, "z"]' || repeat('}', 31))));
SELECT fs_drop('ts_deep');
