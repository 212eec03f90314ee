-- fs_get_historical_features: the point-in-time (as-of) join.  Spine order
-- and duplicates, typed key tuples, <= T, ttl bounds, ties, NULL values,
-- feature_start_time, timestamp types and zones, several views and feature
-- services, output names, spine forms, from_source, the column list,
-- fs_save_historical_features, the no-spine variant, errors, and a
-- randomized differential test against a brute-force reference in SQL.
SET search_path = pushsource, pushsource_source, public;
SET timezone = 'UTC';

-- Runs a statement and shows its SQLSTATE and message (and hint) instead
-- of failing.
CREATE FUNCTION public.pit_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    h text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
    RETURN SQLSTATE || ': ' || SQLERRM || CASE WHEN h <> '' THEN E'\nHINT: ' || h ELSE '' END;
END
$$;

------------------------------------------------------------------------
-- Objects
------------------------------------------------------------------------
-- pit_tx: a user's transactions.  pit_fv: no ttl; pit_ttl_fv: ttl 1 hour;
-- pit_start_fv: feature_start_time 10:30; pit_online_only_fv: no offline store
SELECT fs_create_entity('pit_user', ARRAY['user_id']);
SELECT fs_create_push_source('pit_tx', 'user_id Int64, ts Timestamp, amount Int64, note String', 'ts');
SELECT fs_create_feature_view('pit_fv', 'pit_tx', ARRAY['pit_user']);
SELECT fs_create_feature_view('pit_ttl_fv', 'pit_tx', ARRAY['pit_user'],
                              features => ARRAY['amount'], ttl => '1 hour');
SELECT fs_create_feature_view('pit_start_fv', 'pit_tx', ARRAY['pit_user'],
                              features => ARRAY['amount'],
                              feature_start_time => '2024-01-01 10:30:00+00');
SELECT fs_create_feature_view('pit_online_only_fv', 'pit_tx', ARRAY['pit_user'],
                              features => ARRAY['amount'], offline => false);
-- composite keys: integers ((1,12) vs (11,2)) and strings (('a','bc') vs ('ab','c'))
SELECT fs_create_entity('pit_pair', ARRAY['a', 'b']);
SELECT fs_create_push_source('pit_pairs', 'a Int64, b Int64, ts Timestamp, v String', 'ts');
SELECT fs_create_feature_view('pit_pair_fv', 'pit_pairs', ARRAY['pit_pair']);
SELECT fs_create_entity('pit_spair', ARRAY['x', 'y']);
SELECT fs_create_push_source('pit_spairs', 'x String, y String, ts Timestamp, w String', 'ts');
SELECT fs_create_feature_view('pit_spair_fv', 'pit_spairs', ARRAY['pit_spair']);
-- a view without entities
SELECT fs_create_push_source('pit_global', 'ts Timestamp, level Int64', 'ts');
SELECT fs_create_feature_view('pit_global_fv', 'pit_global', '{}');
-- a merchant view whose feature "amount" collides with pit_fv's
SELECT fs_create_entity('pit_merchant', ARRAY['merchant']);
SELECT fs_create_push_source('pit_merchants', 'merchant String, ts Timestamp, amount Float64', 'ts');
SELECT fs_create_feature_view('pit_merchant_fv', 'pit_merchants', ARRAY['pit_merchant']);
-- a source that keeps no log (from_source has nothing to read)
SELECT fs_create_push_source('pit_nolog', 'user_id Int64, ts Timestamp, z Int64', 'ts', log_offline => false);
SELECT fs_create_feature_view('pit_nolog_fv', 'pit_nolog', ARRAY['pit_user']);
-- services
SELECT fs_create_feature_service('pit_svc', ARRAY['pit_fv.amount', 'pit_pair_fv']);
SELECT fs_create_feature_service('pit_svc_ttl', ARRAY['pit_ttl_fv']);

------------------------------------------------------------------------
-- Data (all on 2024-01-01 unless said otherwise)
------------------------------------------------------------------------
-- user 1: 10:00 -> 10 'a'; 11:00 -> 11 'b' and 12 'c' (a tie, 12 pushed
-- later); 12:00 -> amount NULL 'null-amt'.  user 2: 09:00 -> 20 'x' twice
-- (an exact duplicate).
SELECT fs_push('pit_tx', '[
  {"user_id": 1, "ts": "2024-01-01T10:00:00Z", "amount": 10, "note": "a"},
  {"user_id": 1, "ts": "2024-01-01T11:00:00Z", "amount": 11, "note": "b"},
  {"user_id": 1, "ts": "2024-01-01T11:00:00Z", "amount": 12, "note": "c"},
  {"user_id": 1, "ts": "2024-01-01T12:00:00Z", "amount": null, "note": "null-amt"},
  {"user_id": 2, "ts": "2024-01-01T09:00:00Z", "amount": 20, "note": "x"},
  {"user_id": 2, "ts": "2024-01-01T09:00:00Z", "amount": 20, "note": "x"}
]') -> 'records' AS pushed;
-- a tie across batches: user 2 at 13:00, 21 first, then 22
SELECT fs_push('pit_tx', '[{"user_id": 2, "ts": "2024-01-01T13:00:00Z", "amount": 21, "note": "first batch"}]') -> 'records' AS pushed;
INSERT INTO pit_tx VALUES (2, '2024-01-01 13:00:00+00', 22, 'second batch');
-- a late event: user 1 at 10:30, pushed after the 11:00 and 12:00 ones
SELECT fs_push('pit_tx', '[{"user_id": 1, "ts": "2024-01-01T10:30:00Z", "amount": 105, "note": "late"}]') -> 'records' AS pushed;
-- user 4, the next day at 02:00 UTC (for the time zone cases)
SELECT fs_push('pit_tx', '[{"user_id": 4, "ts": "2024-01-02T02:00:00Z", "amount": 40, "note": "jan 2"}]') -> 'records' AS pushed;
-- the offline stores: every row, in ingest order (pit_start_fv lacks the
-- rows before 10:30)
SELECT user_id, ts, amount, note FROM pushsource_store.pit_fv_offline ORDER BY _fs_ingest_id;
SELECT user_id, ts, amount FROM pushsource_store.pit_start_fv_offline ORDER BY _fs_ingest_id;

SELECT fs_push('pit_pairs', '[
  {"a": 1,  "b": 12, "ts": "2024-01-01T10:00:00Z", "v": "1,12"},
  {"a": 11, "b": 2,  "ts": "2024-01-01T10:00:00Z", "v": "11,2"}
]') -> 'records' AS pushed;
SELECT fs_push('pit_spairs', '[
  {"x": "a",  "y": "bc", "ts": "2024-01-01T10:00:00Z", "w": "a|bc"},
  {"x": "ab", "y": "c",  "ts": "2024-01-01T10:00:00Z", "w": "ab|c"}
]') -> 'records' AS pushed;
SELECT fs_push('pit_global', '[
  {"ts": "2024-01-01T10:00:00Z", "level": 1},
  {"ts": "2024-01-01T12:00:00Z", "level": 2}
]') -> 'records' AS pushed;
SELECT fs_push('pit_merchants', '[{"merchant": "m1", "ts": "2024-01-01T08:00:00Z", "amount": 2.5}]') -> 'records' AS pushed;
SELECT fs_push('pit_nolog', '[{"user_id": 1, "ts": "2024-01-01T08:00:00Z", "z": 7}]') -> 'records' AS pushed;

------------------------------------------------------------------------
-- The spine: every row comes out once, in order, unchanged
------------------------------------------------------------------------
CREATE TABLE public.pit_spine (user_id bigint, ts timestamptz, label text);
INSERT INTO public.pit_spine VALUES
  (1,    '2024-01-01 11:00:00+00',        'r1  tie at 11:00 -> 12 c'),
  (1,    '2024-01-01 09:59:59+00',        'r2  before any row -> null'),
  (2,    '2024-01-01 13:00:00+00',        'r3  tie across batches -> 22'),
  (1,    '2024-01-01 12:00:00+00',        'r4  latest amount is null -> null, null-amt'),
  (1,    '2024-01-01 10:45:00+00',        'r5  late event -> 105'),
  (3,    '2024-01-01 12:00:00+00',        'r6  unknown user -> null'),
  (2,    '2024-01-01 12:59:00+00',        'r7  -> 20 (ttl: null)'),
  (1,    '2024-01-01 11:00:00+00',        'r1  tie at 11:00 -> 12 c'),
  (NULL, '2024-01-01 12:00:00+00',        'r9  null key -> null'),
  (1,    NULL,                            'r10 null time -> null'),
  (1,    '2024-01-01 10:00:00+00',        'r11 exactly at 10:00 -> 10'),
  (2,    '2024-01-01 10:00:00+00',        'r12 ttl edge: 09:00 + 1h -> 20'),
  (2,    '2024-01-01 10:00:00.000001+00', 'r13 ttl edge + 1us -> 20 (ttl: null)'),
  (1,    '2024-01-01 10:29:59.999999+00', 'r14 start_time edge - 1us -> 10 (start: null)'),
  (1,    '2024-01-01 10:30:00+00',        'r15 start_time edge -> 105');

SELECT fs_historical_features_columns('pit_spine', ARRAY['pit_fv']);
SELECT * FROM fs_get_historical_features('pit_spine', ARRAY['pit_fv'])
    AS t(user_id bigint, ts timestamptz, label text, pit_fv__amount bigint, pit_fv__note text);
-- ttl 1 hour (both bounds inclusive) and feature_start_time 10:30, in one call
SELECT * FROM fs_get_historical_features('pit_spine', ARRAY['pit_ttl_fv', 'pit_start_fv.amount'])
    AS t(user_id bigint, ts timestamptz, label text, ttl_amount bigint, start_amount bigint);
-- 'fv.feature', in the order asked
SELECT * FROM fs_get_historical_features('pit_spine', ARRAY['pit_fv.note', 'pit_fv.amount'])
    AS t(user_id bigint, ts timestamptz, label text, note text, amount bigint);
-- an empty spine gives no rows; a spine whose times are all NULL gives
-- every row with NULL features
SELECT * FROM fs_get_historical_features('SELECT * FROM pit_spine WHERE false', ARRAY['pit_fv'])
    AS t(user_id bigint, ts timestamptz, label text, amount bigint, note text);
SELECT * FROM fs_get_historical_features('SELECT user_id, NULL::timestamptz AS ts FROM pit_spine WHERE user_id = 2', ARRAY['pit_fv'])
    AS t(user_id bigint, ts timestamptz, amount bigint, note text);
-- infinite times: +infinity sees the latest row (outside any ttl),
-- -infinity sees nothing
SELECT * FROM fs_get_historical_features(
    'SELECT * FROM (VALUES (2, timestamptz ''infinity''), (2, ''-infinity''), (1, ''infinity'')) s(user_id, ts)',
    ARRAY['pit_fv', 'pit_ttl_fv']) AS t(user_id int, ts timestamptz, amount bigint, note text, ttl_amount bigint);

------------------------------------------------------------------------
-- Keys are typed tuples
------------------------------------------------------------------------
-- (1,12) and (11,2) never collide, nor ('a','bc') and ('ab','c')
SELECT * FROM fs_get_historical_features(
    'SELECT * FROM (VALUES (1, 12), (11, 2), (1, 2), (11, 12), (12, 1)) AS s(a, b),
            LATERAL (SELECT timestamptz ''2024-01-01 11:00+00'' AS ts) t',
    ARRAY['pit_pair_fv']) AS t(a int, b int, ts timestamptz, v text);
SELECT * FROM fs_get_historical_features(
    'SELECT * FROM (VALUES (''a'', ''bc''), (''ab'', ''c''), (''abc'', ''''), (''a'', ''b|c''), (''a|bc'', NULL)) AS s(x, y),
            LATERAL (SELECT timestamptz ''2024-01-01 11:00+00'' AS ts) t',
    ARRAY['pit_spair_fv']) AS t(x text, y text, ts timestamptz, w text);
-- an int4 spine column for an Int64 key is cast implicitly; the spine
-- column keeps its own type in the output
SELECT fs_historical_features_columns('SELECT user_id::int AS user_id, ts FROM pit_spine', ARRAY['pit_fv.amount']);
SELECT * FROM fs_get_historical_features('SELECT user_id::int AS user_id, ts FROM pit_spine WHERE label LIKE ''r1 %''', ARRAY['pit_fv.amount'])
    AS t(user_id int, ts timestamptz, amount bigint);
-- int2 and a domain over bigint work too
CREATE DOMAIN public.pit_id AS bigint;
SELECT * FROM fs_get_historical_features('SELECT 1::int2 AS user_id, 2::pit_id AS u, ts FROM pit_spine WHERE label LIKE ''r5%''', ARRAY['pit_fv.amount'])
    AS t(user_id int2, u pit_id, ts timestamptz, amount bigint);
SELECT * FROM fs_get_historical_features('SELECT 1::pit_id AS user_id, ts FROM pit_spine WHERE label LIKE ''r5%''', ARRAY['pit_fv.amount'])
    AS t(user_id pit_id, ts timestamptz, amount bigint);
-- Float64 keys compare as float8 does: -0 = 0 and NaN = NaN; 1.5000000001
-- is not 1.5
SELECT fs_create_entity('pit_fk', ARRAY['score']);
SELECT fs_create_push_source('pit_fks', 'score Float64, ts Timestamp, lvl Int64', 'ts');
SELECT fs_create_feature_view('pit_fk_fv', 'pit_fks', ARRAY['pit_fk']);
INSERT INTO pit_fks VALUES (0, '2024-01-01 10:00+00', 1), ('NaN', '2024-01-01 10:00+00', 2),
                           (1.5, '2024-01-01 10:00+00', 3);
SELECT * FROM fs_get_historical_features(
    'SELECT * FROM (VALUES (float8 ''-0''), (''NaN''), (1.5), (1.5000000001), (0)) AS s(score),
            LATERAL (SELECT timestamptz ''2024-01-01 11:00+00'' AS ts) t',
    ARRAY['pit_fk_fv']) AS t(score float8, ts timestamptz, lvl bigint);
-- a text spine column for a varchar(3) key: compared as it is, never cut
-- to the key's length ('abcd' is not 'abc')
SELECT fs_create_entity('pit_code', ARRAY['code']);
SELECT fs_create_push_source('pit_codes', 'code varchar(3), ts Timestamp, n Int64', 'ts');
SELECT fs_create_feature_view('pit_code_fv', 'pit_codes', ARRAY['pit_code']);
INSERT INTO pit_codes VALUES ('abc', '2024-01-01 10:00+00', 1);
SELECT * FROM fs_get_historical_features(
    'SELECT * FROM (VALUES (''abc''), (''abcd''), (''ab'')) AS s(code),
            LATERAL (SELECT timestamptz ''2024-01-01 11:00+00'' AS ts) t',
    ARRAY['pit_code_fv']) AS t(code text, ts timestamptz, n bigint);
-- types that PostgreSQL does not cast implicitly are errors, with a hint
SELECT pit_try($$SELECT * FROM fs_get_historical_features('SELECT user_id::text AS user_id, ts FROM pit_spine', ARRAY['pit_fv']) AS t(user_id text, ts timestamptz, a bigint, n text)$$);
SELECT pit_try($$SELECT * FROM fs_get_historical_features('SELECT user_id::numeric AS user_id, ts FROM pit_spine', ARRAY['pit_fv']) AS t(user_id numeric, ts timestamptz, a bigint, n text)$$);
SELECT pit_try($$SELECT fs_historical_features_columns('SELECT 1 AS x, 2 AS y, now() AS ts', ARRAY['pit_spair_fv'])$$);
-- a spine without a join key
SELECT pit_try($$SELECT fs_historical_features_columns('SELECT ts, label FROM pit_spine', ARRAY['pit_fv'])$$);
SELECT pit_try($$SELECT fs_historical_features_columns('SELECT 1 AS a, ts FROM pit_spine', ARRAY['pit_pair_fv'])$$);

------------------------------------------------------------------------
-- Several views, different join keys, feature services, output names
------------------------------------------------------------------------
-- single key, composite key and no key in one call
CREATE TABLE public.pit_multi (user_id bigint, a bigint, b bigint, ts timestamptz);
INSERT INTO public.pit_multi VALUES
  (1, 1,  12, '2024-01-01 11:00+00'),
  (2, 11, 2,  '2024-01-01 09:30+00'),
  (1, 11, 2,  '2024-01-01 12:00+00'),
  (3, 1,  2,  '2024-01-01 13:00+00'),
  (2, 1,  12, '2024-01-01 09:59:59.999999+00');
SELECT fs_historical_features_columns('pit_multi', ARRAY['pit_fv', 'pit_pair_fv', 'pit_global_fv']);
SELECT * FROM fs_get_historical_features('pit_multi', ARRAY['pit_fv', 'pit_pair_fv', 'pit_global_fv'])
    AS t(user_id bigint, a bigint, b bigint, ts timestamptz,
         amount bigint, note text, v text, level bigint);
-- a feature service: its features, in its order; mixed with a view
SELECT fs_historical_features_columns('pit_multi', ARRAY['pit_svc']);
SELECT * FROM fs_get_historical_features('pit_multi', ARRAY['pit_global_fv', 'pit_svc'])
    AS t(user_id bigint, a bigint, b bigint, ts timestamptz, level bigint, amount bigint, v text);
SELECT * FROM fs_get_historical_features('SELECT user_id, ts FROM pit_spine WHERE label ~ ''^r(7|12|13) ''', ARRAY['pit_svc_ttl'])
    AS t(user_id bigint, ts timestamptz, amount bigint);
-- full_feature_names => false: bare feature names
SELECT fs_historical_features_columns('pit_multi', ARRAY['pit_fv.amount', 'pit_global_fv', 'pit_pair_fv'],
                                      full_feature_names => false);
SELECT * FROM fs_get_historical_features('pit_multi', ARRAY['pit_fv.amount', 'pit_global_fv', 'pit_pair_fv'],
                                         full_feature_names => false)
    AS t(user_id bigint, a bigint, b bigint, ts timestamptz, amount bigint, level bigint, v text);
-- ... where two views' features collide, or a feature and a spine column
SELECT pit_try($$SELECT fs_historical_features_columns('SELECT user_id, ''m1'' AS merchant, ts FROM pit_spine', ARRAY['pit_fv', 'pit_merchant_fv'], full_feature_names => false)$$);
SELECT pit_try($$SELECT fs_historical_features_columns('SELECT user_id, ts, label AS note FROM pit_spine', ARRAY['pit_fv'], full_feature_names => false)$$);
SELECT pit_try($$SELECT fs_historical_features_columns('SELECT user_id, ts, label AS pit_fv__note FROM pit_spine', ARRAY['pit_fv'])$$);
-- with full names both come out
SELECT * FROM fs_get_historical_features('SELECT user_id, ''m1'' AS merchant, ts FROM pit_spine WHERE label LIKE ''r5%''',
                                         ARRAY['pit_fv.amount', 'pit_merchant_fv'])
    AS t(user_id bigint, merchant text, ts timestamptz, pit_fv__amount bigint, pit_merchant_fv__amount float8);
-- a feature asked twice, directly or through a service
SELECT pit_try($$SELECT fs_historical_features_columns('pit_spine', ARRAY['pit_fv', 'pit_fv.note'])$$);
SELECT pit_try($$SELECT fs_historical_features_columns('pit_multi', ARRAY['pit_svc', 'pit_pair_fv.v'])$$);

------------------------------------------------------------------------
-- Spine forms: table, view, queries; the query's order is kept
------------------------------------------------------------------------
CREATE VIEW public.pit_spine_v AS SELECT user_id, ts FROM public.pit_spine WHERE label ~ '^r(1|3|5) ';
SELECT * FROM fs_get_historical_features('pit_spine_v', ARRAY['pit_fv.amount'])
    AS t(user_id bigint, ts timestamptz, amount bigint);
SELECT * FROM fs_get_historical_features('public.pit_spine_v', ARRAY['pit_fv.amount'])
    AS t(user_id bigint, ts timestamptz, amount bigint);
SELECT * FROM fs_get_historical_features('SELECT * FROM pit_spine_v ORDER BY ts DESC, user_id', ARRAY['pit_fv.amount'])
    AS t(user_id bigint, ts timestamptz, amount bigint);
SELECT * FROM fs_get_historical_features(' (select * from pit_spine_v order by ts) ', ARRAY['pit_fv.amount'])
    AS t(user_id bigint, ts timestamptz, amount bigint);
SELECT * FROM fs_get_historical_features('TABLE pit_spine_v', ARRAY['pit_fv.amount'])
    AS t(user_id bigint, ts timestamptz, amount bigint);
SELECT * FROM fs_get_historical_features(
    'WITH s(user_id, ts) AS (VALUES (2, timestamptz ''2024-01-01 13:30+00''), (1, ''2024-01-01 10:15+00''))
     SELECT * FROM s', ARRAY['pit_fv.amount'])
    AS t(user_id int, ts timestamptz, amount bigint);
-- VALUES names its columns column1, ...: fine for a view without keys
SELECT * FROM fs_get_historical_features(
    'VALUES (timestamptz ''2024-01-01 12:00+00'', ''noon''), (''2024-01-01 11:59:59+00'', ''before''), (''2024-01-01 09:00+00'', ''early'')',
    ARRAY['pit_global_fv']) AS t(column1 timestamptz, column2 text, level bigint);
-- a table with a dropped column and a column added with a default: rows
-- written before the change come out with the default, as SELECT shows them
CREATE TABLE public.pit_altered (user_id bigint, junk int, ts timestamptz);
INSERT INTO public.pit_altered VALUES (1, 0, '2024-01-01 11:00+00');
ALTER TABLE public.pit_altered DROP COLUMN junk;
ALTER TABLE public.pit_altered ADD COLUMN tag text DEFAULT 'old';
INSERT INTO public.pit_altered VALUES (2, '2024-01-01 13:00+00', 'new'), (1, '2024-01-01 11:00+00', NULL);
SELECT * FROM fs_get_historical_features('pit_altered', ARRAY['pit_ttl_fv'])
    AS t(user_id bigint, ts timestamptz, tag text, amount bigint);
DROP TABLE public.pit_altered;
CREATE TABLE public.pit_added (user_id bigint, ts timestamptz);
INSERT INTO public.pit_added VALUES (1, '2024-01-01 11:00+00');
ALTER TABLE public.pit_added ADD COLUMN tag text DEFAULT 'old';
INSERT INTO public.pit_added VALUES (2, '2024-01-01 13:00+00', 'new');
SELECT * FROM fs_get_historical_features('pit_added', ARRAY['pit_ttl_fv'])
    AS t(user_id bigint, ts timestamptz, tag text, amount bigint);
DROP TABLE public.pit_added;
-- a quoted, mixed-case table name
CREATE TABLE public."Pit Spine" ("User_Id" bigint, "When" timestamptz);
INSERT INTO public."Pit Spine" VALUES (1, '2024-01-01 10:45+00');
SELECT * FROM fs_get_historical_features('public."Pit Spine"', ARRAY['pit_global_fv'])
    AS t("User_Id" bigint, "When" timestamptz, pit_global_fv__level bigint);
SELECT pit_try($$SELECT fs_historical_features_columns('"Pit Spine"', ARRAY['pit_fv'])$$);
-- a table whose name begins with a keyword (select..., with..., values...,
-- table...) is still a table
CREATE TABLE public.withdrawals_pit (user_id bigint, ts timestamptz);
INSERT INTO public.withdrawals_pit VALUES (1, '2024-01-01 10:45+00');
SELECT * FROM fs_get_historical_features('withdrawals_pit', ARRAY['pit_fv.amount'])
    AS t(user_id bigint, ts timestamptz, amount bigint);
DROP TABLE public.withdrawals_pit;
-- not a table or a query
SELECT pit_try($$SELECT fs_historical_features_columns('pit_no_such_table', ARRAY['pit_fv'])$$);
SELECT pit_try($$SELECT fs_historical_features_columns('SELECT nope FROM pit_spine', ARRAY['pit_fv'])$$);
SELECT pit_try($$SELECT fs_historical_features_columns('pit_spine; DROP TABLE pit_spine', ARRAY['pit_fv'])$$);
SELECT pit_try($$SELECT fs_historical_features_columns('SELECT 1 AS user_id, now() AS ts; DROP TABLE pit_spine', ARRAY['pit_fv'])$$);
-- a spine query that closes the subquery to smuggle in a statement is refused, not run
CREATE TABLE public.pit_canary (x int);
SELECT pit_try($$SELECT fs_historical_features_columns('SELECT * FROM pit_spine) s; DROP TABLE public.pit_canary; SELECT (1', ARRAY['pit_fv'])$$);
SELECT pit_try($$SELECT count(*) FROM fs_get_historical_features('SELECT * FROM pit_spine) s; DROP TABLE public.pit_canary; SELECT (1', ARRAY['pit_fv']) AS t(a int)$$);
SELECT to_regclass('public.pit_canary') IS NOT NULL AS canary_alive;
DROP TABLE public.pit_canary;
SELECT count(*) AS spine_still_there FROM pit_spine;

------------------------------------------------------------------------
-- The spine's time: timestamp_key, timestamp without zone is UTC, date
------------------------------------------------------------------------
CREATE TABLE public.pit_spine2 (user_id bigint, created_at timestamptz, ts timestamptz, label text);
INSERT INTO public.pit_spine2 VALUES
  (1, '2024-01-01 09:00+00', '2024-01-01 11:00+00', 'created 09:00, ts 11:00'),
  (1, '2024-01-01 12:00+00', '2024-01-01 10:00+00', 'created 12:00, ts 10:00');
SELECT pit_try($$SELECT fs_historical_features_columns('pit_spine2', ARRAY['pit_fv'])$$);
SELECT * FROM fs_get_historical_features('pit_spine2', ARRAY['pit_fv.note'], timestamp_key => 'ts')
    AS t(user_id bigint, created_at timestamptz, ts timestamptz, label text, note text);
SELECT * FROM fs_get_historical_features('pit_spine2', ARRAY['pit_fv.note'], timestamp_key => 'created_at')
    AS t(user_id bigint, created_at timestamptz, ts timestamptz, label text, note text);
SELECT pit_try($$SELECT fs_historical_features_columns('pit_spine2', ARRAY['pit_fv'], timestamp_key => 'label')$$);
SELECT pit_try($$SELECT fs_historical_features_columns('pit_spine2', ARRAY['pit_fv'], timestamp_key => 'nope')$$);
SELECT pit_try($$SELECT fs_historical_features_columns('SELECT user_id, label FROM pit_spine', ARRAY['pit_fv'])$$);
-- timestamp_key with a single timestamp column: that column, or an error
SELECT * FROM fs_get_historical_features('SELECT user_id, ts AS "Event Time" FROM pit_spine WHERE label LIKE ''r5%''',
                                         ARRAY['pit_fv.amount'], timestamp_key => 'Event Time')
    AS t(user_id bigint, "Event Time" timestamptz, amount bigint);
SELECT pit_try($$SELECT fs_historical_features_columns('pit_spine', ARRAY['pit_fv'], timestamp_key => 'TS')$$);

-- In another time zone: a timestamp without time zone in the spine is UTC,
-- a date is midnight UTC.  User 4 has one row, 2024-01-02 02:00 UTC
-- (2024-01-01 21:00 in New York).
SET timezone = 'America/New_York';
SELECT * FROM fs_get_historical_features(
    'SELECT 4 AS user_id, ts, label FROM (VALUES
        (timestamp ''2024-01-02 01:59:59'', ''01:59:59 UTC -> null''),
        (timestamp ''2024-01-02 02:00:00'', ''02:00 UTC -> 40''),
        (timestamp ''2024-01-01 22:00:00'', ''22:00 UTC -> null (in New York time it would be 40)'')) AS v(ts, label)',
    ARRAY['pit_fv.amount']) AS t(user_id int, ts timestamp, label text, amount bigint);
SELECT * FROM fs_get_historical_features(
    'SELECT 4 AS user_id, d, label FROM (VALUES
        (date ''2024-01-02'', ''midnight UTC -> null (New York midnight would be 40)''),
        (date ''2024-01-03'', ''-> 40'')) AS v(d, label)',
    ARRAY['pit_fv.amount']) AS t(user_id int, d date, label text, amount bigint);
SELECT fs_historical_features_columns('SELECT 4 AS user_id, timestamp ''2024-01-02 02:00'' AS ts, date ''2024-01-02'' AS d',
                                      ARRAY['pit_fv.amount'], timestamp_key => 'd');
-- timestamptz spine columns come out unchanged (shown in New York time)
SELECT * FROM fs_get_historical_features('SELECT user_id, ts FROM pit_spine WHERE label LIKE ''r5%''', ARRAY['pit_ttl_fv'])
    AS t(user_id bigint, ts timestamptz, amount bigint);
SET timezone = 'UTC';

------------------------------------------------------------------------
-- Errors: features, stores, arguments, the column definition list
------------------------------------------------------------------------
SELECT pit_try($$SELECT fs_historical_features_columns('pit_spine', ARRAY['pit_nope'])$$);
SELECT pit_try($$SELECT fs_historical_features_columns('pit_spine', ARRAY['pit_fv.nope'])$$);
SELECT pit_try($$SELECT fs_historical_features_columns('pit_spine', ARRAY['pit_nope.amount'])$$);
SELECT pit_try($$SELECT fs_historical_features_columns('pit_spine', ARRAY['pit_fv.'])$$);
SELECT pit_try($$SELECT fs_historical_features_columns('pit_spine', ARRAY['pit fv'])$$);
SELECT pit_try($$SELECT fs_historical_features_columns('pit_spine', ARRAY['pit_fv', NULL])$$);
SELECT pit_try($$SELECT fs_historical_features_columns('pit_spine', '{}')$$);
SELECT pit_try($$SELECT fs_historical_features_columns(NULL, ARRAY['pit_fv'])$$);
SELECT pit_try($$SELECT fs_historical_features_columns('pit_spine', NULL)$$);
-- an entity is not a feature view
SELECT pit_try($$SELECT fs_historical_features_columns('pit_spine', ARRAY['pit_user'])$$);
-- no offline store; a source without a log and from_source
SELECT pit_try($$SELECT fs_historical_features_columns('pit_spine', ARRAY['pit_online_only_fv'])$$);
SELECT * FROM fs_get_historical_features('SELECT user_id, ts FROM pit_spine WHERE label LIKE ''r5%''', ARRAY['pit_online_only_fv'], from_source => true)
    AS t(user_id bigint, ts timestamptz, amount bigint);
SELECT * FROM fs_get_historical_features('SELECT user_id, ts FROM pit_spine WHERE label LIKE ''r5%''', ARRAY['pit_nolog_fv'])
    AS t(user_id bigint, ts timestamptz, z bigint);
SELECT pit_try($$SELECT fs_historical_features_columns('pit_spine', ARRAY['pit_nolog_fv'], from_source => true)$$);
-- a wrong column definition list: the right one is in the hint
SELECT pit_try($$SELECT * FROM fs_get_historical_features('pit_spine', ARRAY['pit_fv']) AS t(user_id bigint, ts timestamptz, label text, amount int, note text)$$);
SELECT pit_try($$SELECT * FROM fs_get_historical_features('pit_spine', ARRAY['pit_fv']) AS t(user_id bigint, ts timestamptz, label text, amount bigint)$$);
SELECT pit_try($$SELECT * FROM fs_get_historical_features('pit_spine', ARRAY['pit_fv'], full_feature_names => false) AS t(user_id bigint, ts timestamptz, label text, amount bigint, note text, extra int)$$);
-- the names in the list are the caller's
SELECT * FROM fs_get_historical_features('SELECT user_id, ts FROM pit_spine WHERE label LIKE ''r5%''', ARRAY['pit_fv'])
    AS t(u bigint, t timestamptz, x bigint, y text);
-- overloads: named arguments (or typed values) pick the spine variant or
-- the no-spine variant; bare literals for all three are ambiguous
SELECT pit_try($$SELECT * FROM fs_get_historical_features('pit_fv', '2024-01-01', '2024-01-02') AS t(user_id bigint, ts timestamptz, amount bigint, note text)$$);
SELECT * FROM fs_get_historical_features(feature_view => 'pit_fv', start_time => '2024-01-01 10:00+00', end_time => '2024-01-01 10:30+00')
    AS t(user_id bigint, ts timestamptz, amount bigint, note text);
SELECT * FROM fs_get_historical_features('pit_fv', '2024-01-01 10:00+00'::timestamptz, '2024-01-01 10:30+00'::timestamptz)
    AS t(user_id bigint, ts timestamptz, amount bigint, note text);
SELECT * FROM fs_get_historical_features(spine => 'SELECT user_id, ts FROM pit_spine WHERE label LIKE ''r5%''', features => '{pit_fv}')
    AS t(user_id bigint, ts timestamptz, amount bigint, note text);
-- it is a set-returning function for FROM
SELECT pit_try($$SELECT fs_get_historical_features('pit_spine', ARRAY['pit_fv'])$$);

------------------------------------------------------------------------
-- from_source => true reads the push sources' tables: same answer
------------------------------------------------------------------------
SELECT count(*) AS rows_offline,
       (SELECT count(*) FROM (
            SELECT * FROM fs_get_historical_features('pit_spine', ARRAY['pit_fv', 'pit_ttl_fv', 'pit_start_fv'])
                AS t(user_id bigint, ts timestamptz, label text, a bigint, n text, ta bigint, sa bigint)
            EXCEPT ALL
            SELECT * FROM fs_get_historical_features('pit_spine', ARRAY['pit_fv', 'pit_ttl_fv', 'pit_start_fv'], from_source => true)
                AS t(user_id bigint, ts timestamptz, label text, a bigint, n text, ta bigint, sa bigint)) x) AS only_offline,
       (SELECT count(*) FROM (
            SELECT * FROM fs_get_historical_features('pit_spine', ARRAY['pit_fv', 'pit_ttl_fv', 'pit_start_fv'], from_source => true)
                AS t(user_id bigint, ts timestamptz, label text, a bigint, n text, ta bigint, sa bigint)
            EXCEPT ALL
            SELECT * FROM fs_get_historical_features('pit_spine', ARRAY['pit_fv', 'pit_ttl_fv', 'pit_start_fv'])
                AS t(user_id bigint, ts timestamptz, label text, a bigint, n text, ta bigint, sa bigint)) x) AS only_source
  FROM fs_get_historical_features('pit_spine', ARRAY['pit_fv', 'pit_ttl_fv', 'pit_start_fv'])
       AS t(user_id bigint, ts timestamptz, label text, a bigint, n text, ta bigint, sa bigint);
SELECT * FROM fs_get_historical_features('pit_spine', ARRAY['pit_fv', 'pit_ttl_fv', 'pit_start_fv'], from_source => true)
    AS t(user_id bigint, ts timestamptz, label text, a bigint, n text, ta bigint, sa bigint);
SELECT * FROM fs_get_historical_features('pit_multi', ARRAY['pit_pair_fv', 'pit_global_fv'], from_source => true)
    AS t(user_id bigint, a bigint, b bigint, ts timestamptz, v text, level bigint);

------------------------------------------------------------------------
-- fs_save_historical_features
------------------------------------------------------------------------
-- nothing is created when the arguments are wrong (pit_spine has no merchant)
-- a training set is the user's table: never created in one of the
-- extension's schemas (pushsource is first in this file's search_path)
SELECT pit_try($$SELECT fs_save_historical_features('pit_saved', 'pit_spine', ARRAY['pit_fv'])$$);
SELECT regexp_replace(pit_try($$SELECT fs_save_historical_features(NULL, 'pit_spine', ARRAY['pit_fv'])$$), '\d{8}_\d{6}_\d{6}', 'TIME');
SELECT pit_try($$SELECT fs_save_historical_features('pushsource_store.pit_saved', 'pit_spine', ARRAY['pit_fv'])$$);
SET search_path = public, pushsource, pushsource_source;
SELECT pit_try($$SELECT fs_save_historical_features('pit_saved', 'pit_spine', ARRAY['pit_fv', 'pit_merchant_fv'])$$);
SELECT to_regclass('pit_saved') IS NULL AS not_created;
SELECT fs_save_historical_features('pit_saved', 'pit_spine', ARRAY['pit_fv', 'pit_ttl_fv']);
SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
 WHERE a.attrelid = 'pit_saved'::regclass AND a.attnum > 0 ORDER BY a.attnum;
SELECT * FROM pit_saved;
SELECT (SELECT count(*) FROM pit_saved) AS saved,
       (SELECT count(*) FROM (SELECT * FROM pit_saved EXCEPT ALL
                              SELECT * FROM fs_get_historical_features('pit_spine', ARRAY['pit_fv', 'pit_ttl_fv'])
                                  AS t(user_id bigint, ts timestamptz, label text, a bigint, n text, ta bigint)) x) AS only_saved,
       (SELECT count(*) FROM (SELECT * FROM fs_get_historical_features('pit_spine', ARRAY['pit_fv', 'pit_ttl_fv'])
                                  AS t(user_id bigint, ts timestamptz, label text, a bigint, n text, ta bigint)
                              EXCEPT ALL SELECT * FROM pit_saved) x) AS only_returned;
-- schema-qualified, bare feature names, a timestamp spine, mixed case
CREATE SCHEMA pit_out;
SELECT fs_save_historical_features('pit_out.Pit_Saved2', 'SELECT 4 AS user_id, timestamp ''2024-01-02 03:00'' AS at',
                                   ARRAY['pit_fv'], full_feature_names => false);
SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
 WHERE a.attrelid = 'pit_out.pit_saved2'::regclass AND a.attnum > 0 ORDER BY a.attnum;
SELECT * FROM pit_out.pit_saved2;
SELECT fs_save_historical_features('pit_out."Pit Saved 3"', 'pit_multi', ARRAY['pit_svc']);
SELECT * FROM pit_out."Pit Saved 3";
-- errors
SELECT pit_try($$SELECT fs_save_historical_features('pit_saved', 'pit_spine', ARRAY['pit_fv'])$$);
SELECT pit_try($$SELECT fs_save_historical_features('pit_spine', 'pit_spine', ARRAY['pit_fv'])$$);
SELECT pit_try($$SELECT fs_save_historical_features('a.b.c', 'pit_spine', ARRAY['pit_fv'])$$);
SELECT pit_try($$SELECT fs_save_historical_features('pit saved', 'pit_spine', ARRAY['pit_fv'])$$);
SELECT pit_try($$SELECT fs_save_historical_features('', 'pit_spine', ARRAY['pit_fv'])$$);
SELECT pit_try($$SELECT fs_save_historical_features('pit_x; DROP TABLE pit_spine', 'pit_spine', ARRAY['pit_fv'])$$);
-- (a NULL save_as names the table itself: sql/parity.sql)
SELECT pit_try($$SELECT fs_save_historical_features('pit_no_schema.pit_t', 'pit_spine', ARRAY['pit_fv'])$$);
SELECT pit_try($$SELECT fs_save_historical_features('pit_saved4', 'pit_spine', ARRAY['pit_nope'])$$);
SELECT to_regclass('pit_saved4') IS NULL AS not_created;

------------------------------------------------------------------------
-- No spine: the rows of one view with event time in [start, end)
------------------------------------------------------------------------
SELECT fs_historical_features_columns(feature_view => 'pit_fv', start_time => '2024-01-01 00:00+00', end_time => '2024-01-02 00:00+00');
SELECT * FROM fs_get_historical_features(feature_view => 'pit_fv', start_time => '2024-01-01 10:00+00', end_time => '2024-01-01 12:00+00')
    AS t(user_id bigint, ts timestamptz, amount bigint, note text);
SELECT * FROM fs_get_historical_features(feature_view => 'pit_fv', start_time => '2024-01-01 00:00+00', end_time => '2024-01-03 00:00+00',
                                         entities => '[{"user_id": 2}, {"user_id": 4}, {"user_id": 99}]')
    AS t(user_id bigint, ts timestamptz, amount bigint, note text);
SELECT * FROM fs_get_historical_features(feature_view => 'pit_start_fv', start_time => '2024-01-01 00:00+00', end_time => '2024-01-02 00:00+00',
                                         entities => '[{"user_id": 1}]')
    AS t(user_id bigint, ts timestamptz, amount bigint);
SELECT * FROM fs_get_historical_features(feature_view => 'pit_pair_fv', start_time => '2024-01-01 00:00+00', end_time => '2024-01-02 00:00+00',
                                         entities => '[{"a": 11, "b": 2}, {"a": 1, "b": 2}]')
    AS t(a bigint, b bigint, ts timestamptz, v text);
SELECT * FROM fs_get_historical_features(feature_view => 'pit_global_fv', start_time => '2024-01-01 00:00+00', end_time => '2024-01-02 00:00+00')
    AS t(ts timestamptz, level bigint);
SELECT * FROM fs_get_historical_features(feature_view => 'pit_global_fv', start_time => '2024-01-01 00:00+00', end_time => '2024-01-02 00:00+00',
                                         entities => '[{}]')
    AS t(ts timestamptz, level bigint);
-- one object is one entity here too; anything but {} is refused
SELECT count(*) AS one_object FROM fs_get_historical_features(feature_view => 'pit_global_fv', start_time => '2024-01-01 00:00+00', end_time => '2024-01-02 00:00+00',
                                         entities => '{}')
    AS t(ts timestamptz, level bigint);
SELECT pit_try($$SELECT * FROM fs_get_historical_features(feature_view => 'pit_global_fv', start_time => '2024-01-01', end_time => '2024-01-02', entities => '[{"x": 1}]') AS t(ts timestamptz, level bigint)$$);
-- an empty range, an empty entity list
SELECT count(*) FROM fs_get_historical_features(feature_view => 'pit_fv', start_time => '2024-01-01 10:00+00', end_time => '2024-01-01 10:00+00')
    AS t(user_id bigint, ts timestamptz, amount bigint, note text);
SELECT count(*) FROM fs_get_historical_features(feature_view => 'pit_fv', start_time => '2024-01-01 00:00+00', end_time => '2024-01-02 00:00+00', entities => '[]')
    AS t(user_id bigint, ts timestamptz, amount bigint, note text);
-- errors
SELECT pit_try($$SELECT * FROM fs_get_historical_features(feature_view => 'pit_nope', start_time => '2024-01-01', end_time => '2024-01-02') AS t(x int)$$);
SELECT pit_try($$SELECT * FROM fs_get_historical_features(feature_view => 'pit_svc', start_time => '2024-01-01', end_time => '2024-01-02') AS t(x int)$$);
SELECT pit_try($$SELECT * FROM fs_get_historical_features(feature_view => 'pit_online_only_fv', start_time => '2024-01-01', end_time => '2024-01-02') AS t(x int)$$);
SELECT pit_try($$SELECT * FROM fs_get_historical_features(feature_view => 'pit_fv', start_time => '2024-01-02', end_time => '2024-01-01') AS t(user_id bigint, ts timestamptz, amount bigint, note text)$$);
SELECT pit_try($$SELECT * FROM fs_get_historical_features(feature_view => 'pit_fv', start_time => NULL, end_time => '2024-01-01') AS t(user_id bigint, ts timestamptz, amount bigint, note text)$$);
-- entities are read by the one key parser (as fs_delete_keys and online
-- reads): one object is one entity; errors name the entity and join key
SELECT pit_try($$SELECT * FROM fs_get_historical_features(feature_view => 'pit_fv', start_time => '2024-01-01', end_time => '2024-01-02', entities => '{"user_id": 1}') AS t(user_id bigint, ts timestamptz, amount bigint, note text)$$);
SELECT count(*) AS one_object FROM fs_get_historical_features(feature_view => 'pit_fv', start_time => '2024-01-01 00:00+00', end_time => '2024-01-02 00:00+00', entities => '{"user_id": 1}')
    AS t(user_id bigint, ts timestamptz, amount bigint, note text);
SELECT count(*) AS same_as_array FROM fs_get_historical_features(feature_view => 'pit_fv', start_time => '2024-01-01 00:00+00', end_time => '2024-01-02 00:00+00', entities => '[{"user_id": 1}]')
    AS t(user_id bigint, ts timestamptz, amount bigint, note text);
-- a string holding an integer is an Int64, as in pushes
SELECT count(*) AS string_integer FROM fs_get_historical_features(feature_view => 'pit_fv', start_time => '2024-01-01 00:00+00', end_time => '2024-01-02 00:00+00', entities => '[{"user_id": "1"}]')
    AS t(user_id bigint, ts timestamptz, amount bigint, note text);
-- the column list function checks the entities too
SELECT pit_try($$SELECT fs_historical_features_columns(feature_view => 'pit_fv', start_time => '2024-01-01', end_time => '2024-01-02', entities => '[{"user_id": true}]')$$);
SELECT pit_try($$SELECT * FROM fs_get_historical_features(feature_view => 'pit_fv', start_time => '2024-01-01', end_time => '2024-01-02', entities => '[{"user": 1}]') AS t(user_id bigint, ts timestamptz, amount bigint, note text)$$);
SELECT pit_try($$SELECT * FROM fs_get_historical_features(feature_view => 'pit_fv', start_time => '2024-01-01', end_time => '2024-01-02', entities => '[{"user_id": 1, "x": 2}]') AS t(user_id bigint, ts timestamptz, amount bigint, note text)$$);
SELECT pit_try($$SELECT * FROM fs_get_historical_features(feature_view => 'pit_fv', start_time => '2024-01-01', end_time => '2024-01-02', entities => '[1]') AS t(user_id bigint, ts timestamptz, amount bigint, note text)$$);
SELECT pit_try($$SELECT * FROM fs_get_historical_features(feature_view => 'pit_pair_fv', start_time => '2024-01-01', end_time => '2024-01-02', entities => '[{"a": 1}]') AS t(a bigint, b bigint, ts timestamptz, v text)$$);
SELECT pit_try($$SELECT * FROM fs_get_historical_features(feature_view => 'pit_fv', start_time => '2024-01-01', end_time => '2024-01-02', entities => '[{"user_id": "abc"}]') AS t(user_id bigint, ts timestamptz, amount bigint, note text)$$);
-- a wrong column definition list
SELECT pit_try($$SELECT * FROM fs_get_historical_features(feature_view => 'pit_fv', start_time => '2024-01-01', end_time => '2024-01-02') AS t(user_id bigint, ts timestamptz, amount bigint)$$);

------------------------------------------------------------------------
-- Randomized differential test: fs_get_historical_features against a
-- brute-force LATERAL ... LIMIT 1 reference, row for row
------------------------------------------------------------------------
-- four views on one source: composite key (k, k2) without ttl; (k, k2)
-- with ttl 2 hours; k alone with ttl 90 minutes; k2 alone with
-- feature_start_time
SELECT fs_create_entity('pit_rk', ARRAY['k']);
SELECT fs_create_entity('pit_rk2', ARRAY['k2']);
SELECT fs_create_push_source('pit_rnd', 'k Int64, k2 String, ts Timestamp, x Int64, y String', 'ts');
SELECT fs_create_feature_view('pit_rnd_fv', 'pit_rnd', ARRAY['pit_rk', 'pit_rk2']);
SELECT fs_create_feature_view('pit_rnd_ttl_fv', 'pit_rnd', ARRAY['pit_rk', 'pit_rk2'], features => ARRAY['x'], ttl => '2 hours');
SELECT fs_create_feature_view('pit_rnd_k_fv', 'pit_rnd', ARRAY['pit_rk'], features => ARRAY['y', 'x'], ttl => '90 minutes');
SELECT fs_create_feature_view('pit_rnd_start_fv', 'pit_rnd', ARRAY['pit_rk2'], features => ARRAY['x'],
                              feature_start_time => '2024-03-01 12:00+00');
-- k alone, x, ttl 90 minutes again: keys and features passed by value, so
-- its scan can run in parallel (below)
SELECT fs_create_feature_view('pit_rnd_kx_fv', 'pit_rnd', ARRAY['pit_rk'], features => ARRAY['x'], ttl => '90 minutes');
SELECT setseed(0.42);
-- 300 keys (k 1..100 x k2 a/b/c), event times on a 30-minute grid over a
-- day (many ties), 15% NULL values.  Batch 1: INSERT ... SELECT
INSERT INTO pit_rnd
SELECT 1 + floor(random() * 100)::int, (ARRAY['a', 'b', 'c'])[1 + floor(random() * 3)::int],
       timestamptz '2024-03-01 00:00+00' + floor(random() * 48) * interval '30 minutes',
       CASE WHEN random() < 0.15 THEN NULL ELSE floor(random() * 1000)::int END,
       CASE WHEN random() < 0.15 THEN NULL ELSE 'y' || floor(random() * 1000)::int END
  FROM generate_series(1, 1500);
-- batch 2: fs_push of 1000 records
SELECT fs_push('pit_rnd', (
    SELECT jsonb_agg(jsonb_build_object('k', k, 'k2', k2, 'ts', ts, 'x', x, 'y', y) ORDER BY i)
      FROM (SELECT i, 1 + floor(random() * 100)::int AS k, (ARRAY['a', 'b', 'c'])[1 + floor(random() * 3)::int] AS k2,
                   timestamptz '2024-03-01 00:00+00' + floor(random() * 48) * interval '30 minutes' AS ts,
                   CASE WHEN random() < 0.15 THEN NULL ELSE floor(random() * 1000)::int END AS x,
                   CASE WHEN random() < 0.15 THEN NULL ELSE 'y' || floor(random() * 1000)::int END AS y
              FROM generate_series(1, 1000) i) r)) -> 'records' AS pushed;
-- batch 3: exact duplicates of about 10% of the rows; batch 4: ties (same
-- key and time, another value, some NULL) for about 10%
WITH ins AS (INSERT INTO pit_rnd SELECT k, k2, ts, x, y FROM pit_rnd WHERE random() < 0.1 RETURNING 1)
SELECT count(*) > 150 AS duplicates_pushed FROM ins;
WITH ins AS (INSERT INTO pit_rnd
             SELECT k, k2, ts, CASE WHEN random() < 0.3 THEN NULL ELSE x + 1 END, 'tie' FROM pit_rnd WHERE random() < 0.1
             RETURNING 1)
SELECT count(*) > 150 AS ties_pushed FROM ins;
-- batch 5: 12000 more rows for keys k <= 20 only: dense keys, and feature
-- scans that cross fetch batches; keys k > 20 stay sparse (gaps, so ttl
-- edges and expiry happen)
INSERT INTO pit_rnd
SELECT 1 + floor(random() * 20)::int, (ARRAY['a', 'b', 'c'])[1 + floor(random() * 3)::int],
       timestamptz '2024-03-01 00:00+00' + floor(random() * 48) * interval '30 minutes',
       CASE WHEN random() < 0.15 THEN NULL ELSE floor(random() * 1000)::int END,
       CASE WHEN random() < 0.15 THEN NULL ELSE 'y' || floor(random() * 1000)::int END
  FROM generate_series(1, 12000);
SELECT count(*) > 15000 AS offline_rows, count(DISTINCT (k, k2)) AS keys
  FROM pushsource_store.pit_rnd_fv_offline;

-- The spine, ordered by pos: 1500 random rows (unknown keys k > 100 and
-- k2 = 'd', 2% NULL keys, 1% NULL times; times on the grid, 1 microsecond
-- either side, or off it); 300 rows at a feature row's time, + ttl, + ttl
-- + 1 microsecond, - 1 microsecond; and 200 exact copies of rows, all at
-- random positions.
CREATE TABLE public.pit_rnd_spine (pos float8, k bigint, k2 text, ts timestamptz);
INSERT INTO public.pit_rnd_spine
SELECT i, CASE WHEN random() < 0.02 THEN NULL ELSE 1 + floor(random() * 105)::int END,
       (ARRAY['a', 'b', 'c', 'd'])[1 + floor(random() * 4)::int],
       CASE WHEN random() < 0.01 THEN NULL
            ELSE timestamptz '2024-03-01 00:00+00' + floor(random() * 52 - 2) * interval '30 minutes'
                 + (ARRAY[interval '0', interval '0', interval '0', interval '-1 microsecond',
                          interval '1 microsecond', interval '7 minutes'])[1 + floor(random() * 6)::int] END
  FROM generate_series(1, 1500) i;
INSERT INTO public.pit_rnd_spine
SELECT floor(random() * 1500) + 0.25 + n / 1e6, k, k2,
       ts + (ARRAY[interval '0', interval '2 hours', interval '90 minutes', interval '2 hours 0.000001 seconds',
                   interval '90 minutes 0.000001 seconds', interval '-1 microsecond'])[1 + floor(random() * 6)::int]
  FROM (SELECT row_number() OVER (ORDER BY _fs_ingest_id) AS n, k, k2, ts
          FROM pushsource_store.pit_rnd_fv_offline WHERE k > 20) o
 WHERE random() < 0.15 ORDER BY n LIMIT 300;
INSERT INTO public.pit_rnd_spine
SELECT floor(random() * 1800) + 0.5 + pos / 1e6, k, k2, ts FROM public.pit_rnd_spine
 WHERE pos::int % 8 = 0 ORDER BY pos LIMIT 200;
SELECT count(*) AS spine_rows, count(*) - count(DISTINCT (k, k2, ts)) >= 200 AS has_duplicates,
       count(DISTINCT pos) AS distinct_pos FROM public.pit_rnd_spine;

-- The reference: for each spine row (in pos order), the latest row by
-- (ts, ingest order) of the same keys with ts <= T (and >= T - ttl, and
-- ts >= feature_start_time), computed from a copy of the offline store.
CREATE TABLE public.pit_rnd_ref AS
SELECT k, k2, ts, x, y, _fs_ingest_id AS ingest FROM pushsource_store.pit_rnd_fv_offline;
CREATE INDEX ON public.pit_rnd_ref (k, k2, ts, ingest);
CREATE INDEX ON public.pit_rnd_ref (k, ts, ingest);
CREATE INDEX ON public.pit_rnd_ref (k2, ts, ingest);
ANALYZE public.pit_rnd_ref;
CREATE TABLE public.pit_rnd_expected AS
WITH s AS (SELECT row_number() OVER (ORDER BY pos) AS n, k, k2, ts FROM public.pit_rnd_spine)
SELECT s.n, s.k, s.k2, s.ts, a.x, a.y, b.x AS ttl_x, c.y AS k_y, c.x AS k_x, d.x AS start_x,
       a.ts AS a_ts, b.ts AS b_ts, c.ts AS c_ts
  FROM s
  LEFT JOIN LATERAL (SELECT o.x, o.y, o.ts FROM public.pit_rnd_ref o
                      WHERE o.k = s.k AND o.k2 = s.k2 AND o.ts <= s.ts
                      ORDER BY o.ts DESC, o.ingest DESC LIMIT 1) a ON true
  LEFT JOIN LATERAL (SELECT o.x, o.ts FROM public.pit_rnd_ref o
                      WHERE o.k = s.k AND o.k2 = s.k2 AND o.ts <= s.ts AND o.ts >= s.ts - interval '2 hours'
                      ORDER BY o.ts DESC, o.ingest DESC LIMIT 1) b ON true
  LEFT JOIN LATERAL (SELECT o.x, o.y, o.ts FROM public.pit_rnd_ref o
                      WHERE o.k = s.k AND o.ts <= s.ts AND o.ts >= s.ts - interval '90 minutes'
                      ORDER BY o.ts DESC, o.ingest DESC LIMIT 1) c ON true
  LEFT JOIN LATERAL (SELECT o.x FROM public.pit_rnd_ref o
                      WHERE o.k2 = s.k2 AND o.ts <= s.ts AND o.ts >= timestamptz '2024-03-01 12:00+00'
                        AND s.ts >= timestamptz '2024-03-01 12:00+00'
                      ORDER BY o.ts DESC, o.ingest DESC LIMIT 1) d ON true;
-- the reference covers the interesting cases
SELECT count(*) FILTER (WHERE a_ts = ts) > 100 AS exact_hits,
       count(*) FILTER (WHERE b_ts = ts - interval '2 hours') > 20 AS ttl_edge_hits,
       count(*) FILTER (WHERE c_ts = ts - interval '90 minutes') > 20 AS ttl_edge_hits_k,
       count(*) FILTER (WHERE a_ts IS NOT NULL AND b_ts IS NULL) > 50 AS expired_by_ttl,
       count(*) FILTER (WHERE a_ts IS NOT NULL AND x IS NULL) > 50 AS latest_value_null,
       count(*) FILTER (WHERE y = 'tie') > 50 AS ties_won_by_later_row,
       count(*) FILTER (WHERE a_ts IS NULL) > 100 AS no_match,
       count(*) FILTER (WHERE start_x IS NOT NULL) > 500 AS start_matches,
       count(*) FILTER (WHERE ts < '2024-03-01 12:00+00' AND k2 <> 'd') > 300 AS before_start
  FROM public.pit_rnd_expected;

CREATE FUNCTION public.pit_rnd_check(from_source boolean, time_type text DEFAULT 'timestamptz',
                                     spine text DEFAULT NULL)
RETURNS TABLE (spine_rows bigint, result_rows bigint, mismatches bigint) LANGUAGE plpgsql AS $$
DECLARE
    -- a timestamp spine column holds the UTC wall time
    spine_ts text := CASE time_type WHEN 'timestamptz' THEN 'ts' ELSE $x$ts AT TIME ZONE 'UTC'$x$ END;
    out_ts   text := CASE time_type WHEN 'timestamptz' THEN 'g.ts' ELSE $x$g.ts AT TIME ZONE 'UTC'$x$ END;
BEGIN
    RETURN QUERY EXECUTE format($q$
    SELECT (SELECT count(*) FROM public.pit_rnd_expected),
           count(g.n),
           count(*) FILTER (WHERE e.n IS NULL OR g.n IS NULL
                               OR (g.k, g.k2, %3$s, g.x, g.y, g.ttl_x, g.k_y, g.k_x, g.start_x)
                                  IS DISTINCT FROM (e.k, e.k2, e.ts, e.x, e.y, e.ttl_x, e.k_y, e.k_x, e.start_x))
      FROM public.pit_rnd_expected e
      FULL JOIN ROWS FROM (pushsource.fs_get_historical_features(
                    %4$L, ARRAY['pit_rnd_fv', 'pit_rnd_ttl_fv', 'pit_rnd_k_fv', 'pit_rnd_start_fv'],
                    from_source => %2$L)
                AS (k bigint, k2 text, ts %1$s, x bigint, y text, ttl_x bigint, k_y text, k_x bigint, start_x bigint))
           WITH ORDINALITY AS g(k, k2, ts, x, y, ttl_x, k_y, k_x, start_x, n)
        ON g.n = e.n$q$, time_type, from_source, out_ts,
        coalesce(spine, format('SELECT k, k2, %s AS ts FROM public.pit_rnd_spine ORDER BY pos', spine_ts)));
END
$$;
SELECT * FROM pit_rnd_check(false);
SELECT * FROM pit_rnd_check(true);
-- with a memory budget so small that the spine is split into partitions
-- and the feature rows spill to temp files (on one process: this store is
-- too small for parallel workers; by-reference keys would keep them out)
SET pushsource.pit_memory = 0;  -- refused: -1 is the default, else a size
SET pushsource.pit_memory = '64kB';
SET client_min_messages = debug1;
SELECT * FROM pit_rnd_check(false);
RESET client_min_messages;
SELECT * FROM pit_rnd_check(true);
RESET pushsource.pit_memory;
-- work_mem no longer sizes the join (pushsource.pit_memory does; by
-- default the larger of maintenance_work_mem and the hash memory limit)
SET work_mem = '64kB';
SELECT * FROM pit_rnd_check(false);
-- both small: the spine in partitions and each of the four views' results
-- in two temp-file buckets, parked (buffers freed) while the next view is
-- joined, then read back for the output
SET pushsource.pit_memory = '64kB';
SELECT * FROM pit_rnd_check(false);
RESET pushsource.pit_memory;
RESET work_mem;
-- a timestamp-without-time-zone spine (UTC) in another time zone
SET timezone = 'Asia/Kathmandu';
SELECT * FROM pit_rnd_check(false, 'timestamp');
SET timezone = 'UTC';

-- The parallel scan, forced on this small store: pit_rnd_kx_fv must give
-- the reference's k_x (k alone, ttl 90 minutes) row for row, from the
-- offline store and from the source table, with parallel workers (the
-- DEBUG line says how many were planned).
CREATE FUNCTION public.pit_kx_check(from_source boolean,
                                    spine text DEFAULT 'SELECT k, ts FROM public.pit_rnd_spine ORDER BY pos')
RETURNS TABLE (result_rows bigint, mismatches bigint) LANGUAGE sql AS $$
    SELECT count(g.n),
           count(*) FILTER (WHERE e.n IS NULL OR g.n IS NULL OR g.x IS DISTINCT FROM e.k_x)
      FROM public.pit_rnd_expected e
      FULL JOIN ROWS FROM (pushsource.fs_get_historical_features(
                    spine, ARRAY['pit_rnd_kx_fv'],
                    from_source => from_source)
                AS (k bigint, ts timestamptz, x bigint))
           WITH ORDINALITY AS g(k, ts, x, n)
        ON g.n = e.n
$$;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
-- by default the join leaves one CPU to its leader (009_pit_workers.pl);
-- pushsource.pit_workers sets the number for these tests, whatever the CPUs
SET pushsource.pit_workers = 2;
SET client_min_messages = debug1;
SELECT * FROM pit_kx_check(false);
SELECT * FROM pit_kx_check(true);
-- inside INSERT ... SELECT, in a transaction that has created a table
SELECT fs_save_historical_features('public.pit_kx_saved', 'SELECT pos, k, ts FROM public.pit_rnd_spine',
                                   ARRAY['pit_rnd_kx_fv']);
RESET client_min_messages;
SELECT count(*) AS saved_rows, count(*) FILTER (WHERE s.pit_rnd_kx_fv__x IS DISTINCT FROM e.k_x) AS mismatches
  FROM public.pit_kx_saved s
  JOIN (SELECT row_number() OVER (ORDER BY pos) AS n, pos FROM public.pit_rnd_spine) sp ON sp.pos = s.pos
  JOIN public.pit_rnd_expected e ON e.n = sp.n;
-- a spine in partitions, joined in parallel: the scan spills every
-- process's rows of partitions 1.. to a shared file set, then the leader
-- and the workers join a partition each at a time
SET pushsource.pit_memory = '64kB';
SET client_min_messages = debug1;
SELECT * FROM pit_kx_check(false);
SELECT * FROM pit_kx_check(true);
RESET client_min_messages;
-- and a 1kB budget: so many partitions that most are empty or hold one key
SET pushsource.pit_memory = '1kB';
SELECT * FROM pit_kx_check(false);
RESET pushsource.pit_memory;
-- one worker: pushsource.pit_workers = 1; five: never more than
-- max_parallel_workers_per_gather
SET pushsource.pit_memory = '64kB';
SET client_min_messages = debug1;
SET pushsource.pit_workers = 1;
SELECT * FROM pit_kx_check(false);
SET pushsource.pit_workers = 5;
SELECT * FROM pit_kx_check(false);
RESET client_min_messages;
SET pushsource.pit_workers = 2;
RESET pushsource.pit_memory;
-- and without workers
SET max_parallel_workers_per_gather = 0;
SELECT * FROM pit_kx_check(false);
SET pushsource.pit_memory = '64kB';
SELECT * FROM pit_kx_check(false);
RESET pushsource.pit_memory;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;

-- A spine named as a plain table is read by two heap scans under one
-- snapshot, not by a query whose rows are kept for the output (DEBUG1
-- says so): the differential tests again with the spine as a table in the
-- reference's order, in memory, in partitions, and in parallel
CREATE TABLE public.pit_rnd_spine_t AS SELECT k, k2, ts FROM public.pit_rnd_spine ORDER BY pos;
CREATE TABLE public.pit_rnd_kspine_t AS SELECT k, ts FROM public.pit_rnd_spine ORDER BY pos;
-- (with statistics: in partitions, its records go to them as they are read)
ANALYZE public.pit_rnd_kspine_t;
SET client_min_messages = debug1;
SELECT * FROM pit_rnd_check(false, spine => 'public.pit_rnd_spine_t');
RESET client_min_messages;
SELECT * FROM pit_rnd_check(true, spine => 'public.pit_rnd_spine_t');
SET pushsource.pit_memory = '64kB';
SELECT * FROM pit_rnd_check(false, spine => 'public.pit_rnd_spine_t');
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET client_min_messages = debug1;
SELECT * FROM pit_kx_check(false, 'public.pit_rnd_kspine_t');
RESET client_min_messages;
SELECT * FROM pit_kx_check(true, 'public.pit_rnd_kspine_t');
RESET pushsource.pit_memory;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET pushsource.pit_workers;
DROP TABLE public.pit_rnd_spine_t, public.pit_rnd_kspine_t;
-- ... but only where that query would return the table's rows as they
-- are: a child table's rows, row security and column privileges stay the
-- query's (no heap-scan line).  User 1 at 10:45 gets the late 10:30 row
-- (105), user 2 at 13:30 the later-pushed row of the 13:00 tie (22).
CREATE TABLE public.pit_inh (user_id bigint, ts timestamptz);
CREATE TABLE public.pit_inh_child () INHERITS (public.pit_inh);
INSERT INTO public.pit_inh VALUES (1, '2024-01-01 10:45+00');
INSERT INTO public.pit_inh_child VALUES (2, '2024-01-01 13:30+00');
SET client_min_messages = debug1;
SELECT * FROM fs_get_historical_features('public.pit_inh', ARRAY['pit_fv.amount'])
    AS t(user_id bigint, ts timestamptz, amount bigint) ORDER BY user_id;
RESET client_min_messages;
DROP TABLE public.pit_inh CASCADE;
CREATE TABLE public.pit_rls (user_id bigint, ts timestamptz);
INSERT INTO public.pit_rls VALUES (1, '2024-01-01 10:45+00'), (2, '2024-01-01 13:30+00');
ALTER TABLE public.pit_rls ENABLE ROW LEVEL SECURITY;
CREATE POLICY pit_rls_one ON public.pit_rls FOR SELECT USING (user_id = 1);
CREATE ROLE pit_rls_reader NOLOGIN;
GRANT pushsource_reader TO pit_rls_reader;
GRANT SELECT ON public.pit_rls TO pit_rls_reader;
SET ROLE pit_rls_reader;
SET client_min_messages = debug1;
SELECT * FROM fs_get_historical_features('public.pit_rls', ARRAY['pit_fv.amount'])
    AS t(user_id bigint, ts timestamptz, amount bigint);
RESET client_min_messages;
RESET ROLE;
ALTER TABLE public.pit_rls DISABLE ROW LEVEL SECURITY;
REVOKE SELECT ON public.pit_rls FROM pit_rls_reader;
GRANT SELECT (user_id, ts) ON public.pit_rls TO pit_rls_reader;
SET ROLE pit_rls_reader;
SET client_min_messages = debug1;
SELECT * FROM fs_get_historical_features('public.pit_rls', ARRAY['pit_fv.amount'])
    AS t(user_id bigint, ts timestamptz, amount bigint);
RESET client_min_messages;
RESET ROLE;
-- and with the table's SELECT, the heap scans
GRANT SELECT ON public.pit_rls TO pit_rls_reader;
SET ROLE pit_rls_reader;
SET client_min_messages = debug1;
SELECT * FROM fs_get_historical_features('public.pit_rls', ARRAY['pit_fv.amount'])
    AS t(user_id bigint, ts timestamptz, amount bigint);
RESET client_min_messages;
RESET ROLE;
DROP TABLE public.pit_rls;
DROP ROLE pit_rls_reader;

-- A ttl in days follows the calendar of the session's time zone, as
-- timestamptz - interval does.  In Europe/Berlin the day before
-- 2024-03-31 12:00 CEST (10:00 UTC) is 2024-03-30 12:00 CET (11:00 UTC),
-- 23 hours: user 1's row at 10:30 UTC is too old, user 2's at 11:00 UTC is
-- just in.  In UTC, and in Asia/Kathmandu (a fixed offset), a day is 24
-- hours and both match.
SELECT fs_create_push_source('pit_dst', 'user_id Int64, ts Timestamp, v Int64', 'ts');
SELECT fs_create_feature_view('pit_dst_fv', 'pit_dst', ARRAY['pit_user'], ttl => '1 day');
SELECT fs_push('pit_dst', '[{"user_id": 1, "ts": "2024-03-30T10:30:00Z", "v": 7},
                            {"user_id": 2, "ts": "2024-03-30T11:00:00Z", "v": 8}]') -> 'records' AS pushed;
SET timezone = 'Europe/Berlin';
SELECT * FROM fs_get_historical_features(
    'SELECT user_id, timestamptz ''2024-03-31 10:00+00'' AS ts FROM (VALUES (1), (2)) v(user_id)',
    ARRAY['pit_dst_fv']) AS t(user_id int, ts timestamptz, v bigint);
SET timezone = 'Asia/Kathmandu';
SELECT * FROM fs_get_historical_features(
    'SELECT user_id, timestamptz ''2024-03-31 10:00+00'' AS ts FROM (VALUES (1), (2)) v(user_id)',
    ARRAY['pit_dst_fv']) AS t(user_id int, ts timestamptz, v bigint);
SET timezone = 'UTC';
SELECT * FROM fs_get_historical_features(
    'SELECT user_id, timestamptz ''2024-03-31 10:00+00'' AS ts FROM (VALUES (1), (2)) v(user_id)',
    ARRAY['pit_dst_fv']) AS t(user_id int, ts timestamptz, v bigint);

-- the function is re-entrant: a spine that is itself a point-in-time join
-- (the outer values must equal the inner ones, row for row)
SELECT count(*) AS rows, count(amount) AS with_value,
       bool_and(amount IS NOT DISTINCT FROM pit_fv__amount) AS same_values
  FROM fs_get_historical_features(
         $$SELECT * FROM fs_get_historical_features('pit_spine', ARRAY['pit_fv.amount'],
                                                    full_feature_names => false)
                  AS i(user_id bigint, ts timestamptz, label text, amount bigint)$$,
         ARRAY['pit_fv.amount'])
       AS t(user_id bigint, ts timestamptz, label text, amount bigint, pit_fv__amount bigint);
SELECT count(*) AS rows, count(pit_fv__amount) AS with_value
  FROM fs_get_historical_features('pit_spine', ARRAY['pit_fv.amount'])
       AS t(user_id bigint, ts timestamptz, label text, pit_fv__amount bigint);

-- reading a view's history needs SELECT on its offline store, also now that
-- the store is scanned directly (not through the executor)
CREATE ROLE pit_noread NOLOGIN;
GRANT pushsource_reader TO pit_noread;
REVOKE SELECT ON pushsource_store.pit_fv_offline FROM pushsource_reader;
SET ROLE pit_noread;
SELECT pit_try($$SELECT count(*) FROM fs_get_historical_features('SELECT 1::bigint AS user_id, timestamptz ''2024-01-01 12:00+00'' AS ts', ARRAY['pit_fv.amount']) AS t(user_id bigint, ts timestamptz, a bigint)$$);
RESET ROLE;
GRANT SELECT ON pushsource_store.pit_fv_offline TO pushsource_reader;
SET ROLE pit_noread;
SELECT * FROM fs_get_historical_features('SELECT 1::bigint AS user_id, timestamptz ''2024-01-01 12:00+00'' AS ts', ARRAY['pit_fv.amount'])
    AS t(user_id bigint, ts timestamptz, a bigint);
RESET ROLE;
DROP ROLE pit_noread;

-- keys 2775 and 131913 have the same int8 hash (found by
-- SELECT ... ON hashint8(a) = hashint8(b)): rows of both land in one hash
-- run and must be told apart by typed comparison, never mixed
SELECT hashint8(2775) = hashint8(131913) AS same_hash;
SELECT fs_create_entity('pit_coll_e', ARRAY['ck']);
SELECT fs_create_push_source('pit_coll_src', 'ck Int64, ts Timestamp, v Int64', 'ts');
SELECT fs_create_feature_view('pit_coll_fv', 'pit_coll_src', ARRAY['pit_coll_e']);
INSERT INTO pushsource_source.pit_coll_src VALUES
    (2775,   '2024-01-01 10:00+00', 1),
    (131913, '2024-01-01 10:30+00', 2),
    (2775,   '2024-01-01 11:00+00', 3),
    (131913, '2024-01-01 11:30+00', 4);
SELECT * FROM fs_get_historical_features(
    $$SELECT * FROM (VALUES (1, 2775::int8, timestamptz '2024-01-01 10:45+00'),
                            (2, 131913,     timestamptz '2024-01-01 10:45+00'),
                            (3, 2775,       timestamptz '2024-01-01 11:40+00'),
                            (4, 131913,     timestamptz '2024-01-01 11:40+00'),
                            (5, 131913,     timestamptz '2024-01-01 10:15+00'),
                            (6, 2775,       timestamptz '2024-01-01 09:00+00')) s(n, ck, ts)$$,
    ARRAY['pit_coll_fv'])
    AS t(n int, ck bigint, ts timestamptz, v bigint);

------------------------------------------------------------------------
-- fs_get_historical_features alone in FROM is planned as a custom scan
-- that streams the join's rows (pit_scan.c), instead of a function scan
-- that puts them into a tuplestore first.  WITH ORDINALITY, a LATERAL
-- argument, a whole-row reference, SECURITY DEFINER or SET on the function
-- and pushsource.enable_pit_scan = off keep the function scan.  Both give
-- the same rows.
------------------------------------------------------------------------
CREATE TABLE public.pit_cs_spine AS SELECT pos, k, k2, ts FROM public.pit_rnd_spine ORDER BY pos;
ANALYZE public.pit_cs_spine;
-- every spine row against the brute-force reference, by pos
CREATE FUNCTION public.pit_cs_check(spine text DEFAULT 'public.pit_cs_spine', from_source boolean DEFAULT false)
RETURNS TABLE (result_rows bigint, mismatches bigint) LANGUAGE sql AS $$
    SELECT count(g.pos),
           count(*) FILTER (WHERE e.n IS NULL OR g.pos IS NULL
                               OR (g.k, g.k2, g.ts, g.x, g.y, g.ttl_x, g.k_y, g.k_x, g.start_x)
                                  IS DISTINCT FROM (e.k, e.k2, e.ts, e.x, e.y, e.ttl_x, e.k_y, e.k_x, e.start_x))
      FROM (SELECT row_number() OVER (ORDER BY pos) AS n, pos FROM public.pit_rnd_spine) sp
      JOIN public.pit_rnd_expected e ON e.n = sp.n
      FULL JOIN pushsource.fs_get_historical_features(spine,
                    ARRAY['pit_rnd_fv', 'pit_rnd_ttl_fv', 'pit_rnd_k_fv', 'pit_rnd_start_fv'],
                    from_source => from_source)
                AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text, ttl_x bigint,
                     k_y text, k_x bigint, start_x bigint)
        ON g.pos = sp.pos
$$;
-- the plan of a query (its first line's node and rows, or every node)
CREATE FUNCTION public.pit_cs_plan(q text, whole boolean DEFAULT false) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN ' || q LOOP
        IF whole THEN
            RETURN NEXT regexp_replace(line, '  \(cost=.*$', '');
        ELSIF line !~ '^ *->' AND line ~ 'cost=' THEN
            RETURN NEXT regexp_replace(line, '\(cost=[0-9.]+ rows=([0-9]+) .*$', 'rows=\1');
        END IF;
    END LOOP;
END
$$;
-- the scan, with the spine table's row estimate (reltuples: 2000)
SELECT pit_cs_plan($$SELECT * FROM fs_get_historical_features('public.pit_cs_spine', ARRAY['pit_rnd_fv'])
                     AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text)$$);
-- a spine query: the planner's default estimate
SELECT pit_cs_plan($$SELECT * FROM fs_get_historical_features('SELECT pos, k, k2, ts FROM public.pit_cs_spine', ARRAY['pit_rnd_fv'])
                     AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text)$$);
-- the spine as a table (two heap scans), as a query (kept in a tuplestore),
-- in partitions, in parallel, and from the source: no mismatch
SELECT * FROM pit_cs_check();
SELECT * FROM pit_cs_check('SELECT pos, k, k2, ts FROM public.pit_rnd_spine');
SELECT * FROM pit_cs_check(from_source => true);
SET pushsource.pit_memory = '64kB';
-- (the table's size says its records need partitions: they go to them as
-- they are read)
SET client_min_messages = debug1;
SELECT * FROM pit_cs_check();
RESET client_min_messages;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET pushsource.pit_workers = 2;
SELECT * FROM pit_cs_check();
RESET pushsource.pit_workers;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
-- a table whose statistics promise fewer rows than it holds (its rows per
-- page measured when they were wide): its records go to the partitions of
-- the estimate as read, then are split further
CREATE TABLE public.pit_cs_grow (pos float8, k bigint, k2 text, ts timestamptz) WITH (autovacuum_enabled = off);
INSERT INTO public.pit_cs_grow SELECT pos, k, repeat('w', 1500), ts FROM public.pit_cs_spine ORDER BY pos LIMIT 100;
ANALYZE public.pit_cs_grow;
DELETE FROM public.pit_cs_grow;
INSERT INTO public.pit_cs_grow SELECT * FROM public.pit_cs_spine ORDER BY pos;
SET pushsource.pit_memory = '1kB';
SET client_min_messages = debug1;
SELECT * FROM pit_cs_check('public.pit_cs_grow');
RESET client_min_messages;
DROP TABLE public.pit_cs_grow;
-- ... and one that promises more: 20000 rows by its size, 2000 after a
-- DELETE: partitions as read, then all in memory, one partition (before:
-- kept the four partitions, most feature rows spilled)
CREATE TABLE public.pit_cs_shrink (pos float8, k bigint, k2 text, ts timestamptz) WITH (autovacuum_enabled = off);
INSERT INTO public.pit_cs_shrink SELECT pos + 10000 * i, k, k2, ts FROM public.pit_cs_spine, generate_series(0, 9) i ORDER BY i, pos;
ANALYZE public.pit_cs_shrink;
DELETE FROM public.pit_cs_shrink WHERE pos > 10000;
SET pushsource.pit_memory = '1MB';
SET client_min_messages = debug1;
SELECT * FROM pit_cs_check('public.pit_cs_shrink');
RESET client_min_messages;
DROP TABLE public.pit_cs_shrink;
-- the files of every view written at once keep their buffers within an
-- eighth of the budget (or 1 MB): at 1kB, two views of 512 partitions each
-- are split after the read instead (before: 8 MB of buffers)
SET pushsource.pit_memory = '1kB';
SET pushsource.pit_workers = 2;  -- the budget's shares do not depend on the CPUs
SET client_min_messages = debug1;
SELECT count(*), count(g.y), count(g.x2)
  FROM fs_get_historical_features('public.pit_cs_spine', ARRAY['pit_rnd_k_fv', 'pit_rnd_kx_fv'])
       AS g(pos float8, k bigint, k2 text, ts timestamptz, y text, x bigint, x2 bigint);
RESET client_min_messages;
SELECT count(*), count(k_y), count(k_x) FROM public.pit_rnd_expected;
RESET pushsource.pit_workers;
RESET pushsource.pit_memory;
-- a condition on the scan's columns is evaluated on its rows
SELECT (SELECT count(*) FROM fs_get_historical_features('public.pit_cs_spine', ARRAY['pit_rnd_k_fv'])
          AS g(pos float8, k bigint, k2 text, ts timestamptz, y text, x bigint) WHERE g.x > 500 AND g.y IS NOT NULL)
     = (SELECT count(*) FROM public.pit_rnd_expected WHERE k_x > 500 AND k_y IS NOT NULL) AS same_filtered_count;
-- off: the function scan, the same rows
SET pushsource.enable_pit_scan = off;
SELECT pit_cs_plan($$SELECT * FROM fs_get_historical_features('public.pit_cs_spine', ARRAY['pit_rnd_fv'])
                     AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text)$$);
SELECT * FROM pit_cs_check();
RESET pushsource.enable_pit_scan;
-- WITH ORDINALITY, a whole-row reference, a LATERAL argument: function scans
SELECT pit_cs_plan($$SELECT * FROM ROWS FROM (fs_get_historical_features('public.pit_cs_spine', ARRAY['pit_rnd_fv'])
                     AS (pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text)) WITH ORDINALITY AS g$$);
SELECT pit_cs_plan($$SELECT g::text FROM fs_get_historical_features('public.pit_cs_spine', ARRAY['pit_rnd_fv'])
                     AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text)$$, true);
SELECT pit_cs_plan($$SELECT count(*) FROM (VALUES ('public.pit_cs_spine'), ('pit_cs_spine')) s(name),
                     LATERAL fs_get_historical_features(s.name, ARRAY['pit_rnd_fv'])
                     AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text)$$, true);
SELECT count(*) FROM (VALUES ('public.pit_cs_spine'), ('pit_cs_spine')) s(name),
       LATERAL fs_get_historical_features(s.name, ARRAY['pit_rnd_fv'])
       AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text);
-- (one row of VALUES is folded into a constant: no LATERAL reference left)
SELECT pit_cs_plan($$SELECT count(*) FROM (VALUES ('public.pit_cs_spine')) s(name),
                     LATERAL fs_get_historical_features(s.name, ARRAY['pit_rnd_fv'])
                     AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text)$$, true);
-- the inner side of a nested loop without a Material: rescanned, the join
-- runs again (3 x 2000 rows)
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_material = off;
SELECT pit_cs_plan($$SELECT count(*) FROM (VALUES (1), (2), (3)) v(i),
                     fs_get_historical_features('public.pit_cs_spine', ARRAY['pit_rnd_fv'])
                     AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text)$$, true);
SELECT count(*), count(DISTINCT (v.i, g.pos)), count(g.x) = 3 * (SELECT count(x) FROM public.pit_rnd_expected) AS same_x
  FROM (VALUES (1), (2), (3)) v(i),
       fs_get_historical_features('public.pit_cs_spine', ARRAY['pit_rnd_fv'])
       AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text);
-- ... where the executor may rescan it with the same arguments, the rows
-- are kept as they stream and replayed: the join runs once (one DEBUG1
-- line of its spine read)
SET client_min_messages = debug1;
SELECT count(*) FROM (VALUES (1), (2), (3)) v(i),
       fs_get_historical_features('public.pit_cs_spine', ARRAY['pit_rnd_fv'])
       AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text);
RESET client_min_messages;
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_material;
-- a rescan with other arguments (a parameter of the outer row) joins again
CREATE TABLE public.pit_cs_half AS SELECT * FROM public.pit_cs_spine WHERE pos <= 1000;
SELECT s.name, (SELECT count(*) FROM fs_get_historical_features(s.name, ARRAY['pit_rnd_fv'])
                  AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text)) AS result_rows
  FROM (VALUES ('public.pit_cs_spine'), ('public.pit_cs_half')) s(name);
DROP TABLE public.pit_cs_half;
-- EXPLAIN VERBOSE shows the call, as for a function scan
SELECT pit_cs_plan($$VERBOSE SELECT pos FROM fs_get_historical_features('public.pit_cs_spine', ARRAY['pit_rnd_fv'])
                     AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text)$$, true);
-- a statement that writes reads the spine once, by its query: its own
-- writes must not reach a second scan of the spine while the rows stream
-- (before: an INSERT into the spine table from its own join failed with
-- XX000, the second scan returned more rows than the first)
CREATE TABLE public.pit_cs_w AS SELECT * FROM public.pit_cs_spine;
SET client_min_messages = debug1;
INSERT INTO public.pit_cs_w
SELECT pos + 10000, k, k2, ts FROM fs_get_historical_features('public.pit_cs_w', ARRAY['pit_rnd_fv'])
    AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text);
RESET client_min_messages;
SELECT count(*) FROM public.pit_cs_w;
-- and a DELETE in WITH that runs while the rows stream (at the first row's
-- condition): every row of the spine as it was, the copies with the same
-- features as the originals (before: XX000, the spine ended early)
BEGIN;
WITH d AS (DELETE FROM public.pit_cs_w WHERE pos > 10000 RETURNING pos)
SELECT count(*), sum(g.x) = 2 * (SELECT sum(x) FROM public.pit_rnd_expected) AS same_features
  FROM fs_get_historical_features('public.pit_cs_w', ARRAY['pit_rnd_fv'])
       AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text)
 WHERE g.pos <= (SELECT max(pos) FROM d);
ROLLBACK;
DROP TABLE public.pit_cs_w;
-- a function made SECURITY DEFINER or given settings stays a function call
ALTER FUNCTION pushsource.fs_get_historical_features(text, text[], text, boolean, boolean) SET work_mem = '4MB';
SELECT pit_cs_plan($$SELECT * FROM fs_get_historical_features('public.pit_cs_spine', ARRAY['pit_rnd_fv'])
                     AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text)$$);
ALTER FUNCTION pushsource.fs_get_historical_features(text, text[], text, boolean, boolean) RESET ALL;
ALTER FUNCTION pushsource.fs_get_historical_features(text, text[], text, boolean, boolean) SECURITY DEFINER;
SELECT pit_cs_plan($$SELECT * FROM fs_get_historical_features('public.pit_cs_spine', ARRAY['pit_rnd_fv'])
                     AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text)$$);
ALTER FUNCTION pushsource.fs_get_historical_features(text, text[], text, boolean, boolean) SECURITY INVOKER;
SELECT pit_cs_plan($$SELECT * FROM fs_get_historical_features('public.pit_cs_spine', ARRAY['pit_rnd_fv'])
                     AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text)$$);
-- a scan stopped early (LIMIT, a cursor closed after two rows) leaves
-- nothing behind: the next statements run as before
SELECT pos, k FROM fs_get_historical_features('public.pit_cs_spine', ARRAY['pit_rnd_fv'])
    AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text) LIMIT 2;
BEGIN;
DECLARE pit_cs_cur SCROLL CURSOR FOR
    SELECT pos FROM fs_get_historical_features('public.pit_cs_spine', ARRAY['pit_rnd_fv'])
    AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text);
FETCH 3 FROM pit_cs_cur;
FETCH BACKWARD 1 FROM pit_cs_cur;
CLOSE pit_cs_cur;
COMMIT;
SELECT * FROM pit_cs_check();
-- arguments as parameters: a prepared statement
PREPARE pit_cs_prep(text, text[]) AS
    SELECT count(*), count(x) FROM fs_get_historical_features($1, $2)
    AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text);
SELECT pit_cs_plan($$EXECUTE pit_cs_prep('public.pit_cs_spine', ARRAY['pit_rnd_fv'])$$, true);
EXECUTE pit_cs_prep('public.pit_cs_spine', ARRAY['pit_rnd_fv']);
SELECT count(*), count(x) FROM public.pit_rnd_expected;
-- the scan checks EXECUTE on the function, as calling it does: a role
-- without it is refused, also by EXPLAIN and by a plan prepared while it
-- had the right
CREATE ROLE pit_cs_role NOLOGIN;
GRANT USAGE ON SCHEMA pushsource TO pit_cs_role;
GRANT SELECT ON public.pit_cs_spine TO pit_cs_role;
SET ROLE pit_cs_role;
SELECT pit_try($$SELECT count(*) FROM fs_get_historical_features('public.pit_cs_spine', ARRAY['pit_rnd_fv'])
                 AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text)$$);
SELECT pit_try($$EXPLAIN SELECT count(*) FROM fs_get_historical_features('public.pit_cs_spine', ARRAY['pit_rnd_fv'])
                 AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text)$$);
RESET ROLE;
GRANT pushsource_reader TO pit_cs_role;
SET ROLE pit_cs_role;
PREPARE pit_cs_role_prep AS SELECT count(*) FROM fs_get_historical_features('public.pit_cs_spine', ARRAY['pit_rnd_fv'])
    AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text);
EXECUTE pit_cs_role_prep;
RESET ROLE;
REVOKE pushsource_reader FROM pit_cs_role;
SET ROLE pit_cs_role;
SELECT pit_try('EXECUTE pit_cs_role_prep');
RESET ROLE;
DEALLOCATE pit_cs_role_prep;
DEALLOCATE pit_cs_prep;
REVOKE ALL ON public.pit_cs_spine FROM pit_cs_role;
REVOKE USAGE ON SCHEMA pushsource FROM pit_cs_role;
DROP ROLE pit_cs_role;
-- errors of the join come from the scan as from the function
SELECT pit_try($$SELECT * FROM fs_get_historical_features('public.pit_cs_spine', ARRAY['pit_no_such_fv'])
                 AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint)$$);
SELECT pit_try($$SELECT * FROM fs_get_historical_features('public.pit_cs_spine', ARRAY['pit_rnd_fv'])
                 AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint)$$);
SELECT pit_try($$SELECT * FROM fs_get_historical_features(NULL, ARRAY['pit_rnd_fv'])
                 AS g(pos float8, k bigint, k2 text, ts timestamptz, x bigint, y text)$$);
DROP FUNCTION public.pit_cs_check(text, boolean), public.pit_cs_plan(text, boolean);
DROP TABLE public.pit_cs_spine;
