-- push: fs_push modes, dry_run, on_error, newest-wins online state, and the
-- same validation and fan-out for plain INSERT and COPY into a source table.
SET search_path = pushsource, pushsource_source, public;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

-- Runs a statement; returns 'ok' or "SQLSTATE: message".  Test helpers live
-- in schema public, not in the extension's schema.
CREATE FUNCTION public.push_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

------------------------------------------------------------------------
-- One source read by two feature views
------------------------------------------------------------------------
SELECT fs_create_entity('push_user', ARRAY['user_id']);
SELECT fs_create_push_source('push_src', 'user_id String, ts Timestamp, clicked Int64, page String', 'ts');
SELECT fs_create_feature_view('push_fv1', 'push_src', ARRAY['push_user']);
SELECT fs_create_feature_view('push_fv2', 'push_src', ARRAY['push_user'], ARRAY['clicked']);

-- Rows in the source table, both views' stores, and rejected_records.
CREATE FUNCTION public.push_counts() RETURNS TABLE (src bigint, fv1_off bigint, fv1_on bigint,
                                             fv2_off bigint, fv2_on bigint, rejected bigint)
LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM pushsource_source.push_src),
           (SELECT count(*) FROM pushsource_store.push_fv1_offline),
           (SELECT count(*) FROM pushsource_store.push_fv1_online),
           (SELECT count(*) FROM pushsource_store.push_fv2_offline),
           (SELECT count(*) FROM pushsource_store.push_fv2_online),
           (SELECT count(*) FROM pushsource.rejected_records WHERE source = 'push_src')
$$;

-- Empties the source table, the stores and the rejects.
CREATE FUNCTION public.push_reset() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM pushsource_source.push_src;
    TRUNCATE pushsource_store.push_fv1_offline, pushsource_store.push_fv1_online,
             pushsource_store.push_fv2_offline, pushsource_store.push_fv2_online;
    DELETE FROM pushsource.rejected_records WHERE source = 'push_src';
END $$;

-- the stores start empty
SELECT * FROM push_counts();

------------------------------------------------------------------------
-- mode => 'online_and_offline' (the default): source log, offline, online
------------------------------------------------------------------------
SELECT fs_push('push_src', '[{"user_id": "u1", "ts": "2024-01-01T10:00:00Z", "clicked": 1, "page": "a"},
                             {"user_id": "u2", "ts": "2024-01-01T10:00:00Z", "clicked": 2, "page": "b"}]');
SELECT * FROM push_counts();
SELECT user_id, ts, clicked, page FROM push_src ORDER BY user_id;
SELECT user_id, ts, clicked, page FROM pushsource_store.push_fv1_offline ORDER BY user_id;
SELECT user_id, ts, clicked FROM pushsource_store.push_fv2_online ORDER BY user_id;
-- a single object is one record
SELECT fs_push('push_src', '{"user_id": "u3", "ts": "2024-01-01T10:00:00Z", "clicked": 3}',
               mode => 'online_and_offline');
SELECT * FROM push_counts();
-- an empty array writes nothing
SELECT fs_push('push_src', '[]');
SELECT * FROM push_counts();

------------------------------------------------------------------------
-- mode => 'online': online state only, no history (no source row, no offline row)
------------------------------------------------------------------------
SELECT fs_push('push_src', '[{"user_id": "u1", "ts": "2024-01-01T11:00:00Z", "clicked": 11, "page": "on"},
                             {"user_id": "u4", "ts": "2024-01-01T11:00:00Z", "clicked": 4}]', mode => 'online');
SELECT * FROM push_counts();
SELECT user_id, ts, clicked, page FROM pushsource_store.push_fv1_online ORDER BY user_id;
SELECT count(*) FROM push_src WHERE page = 'on' OR user_id = 'u4';

------------------------------------------------------------------------
-- mode => 'offline': history only; online state unchanged even for a newer event
------------------------------------------------------------------------
SELECT fs_push('push_src', '{"user_id": "u1", "ts": "2024-01-01T12:00:00Z", "clicked": 12, "page": "off"}',
               mode => 'offline');
SELECT * FROM push_counts();
SELECT user_id, ts, clicked FROM pushsource_store.push_fv1_offline WHERE user_id = 'u1' ORDER BY ts;
SELECT user_id, ts, clicked, page FROM pushsource_store.push_fv1_online WHERE user_id = 'u1';
SELECT user_id, ts, clicked FROM push_src WHERE user_id = 'u1' ORDER BY ts;

------------------------------------------------------------------------
-- dry_run: counts of what would be written; nothing is written anywhere
------------------------------------------------------------------------
SELECT push_reset();
SELECT fs_push('push_src', '[{"user_id": "u1", "ts": "2024-01-01T10:00:00Z", "clicked": 1},
                             {"user_id": "u1", "ts": "2024-01-01T09:00:00Z", "clicked": 0},
                             {"user_id": "u2", "ts": "2024-01-01T10:00:00Z", "clicked": 2}]', dry_run => true);
SELECT * FROM push_counts();
-- dry_run validates: a bad record is still an error
SELECT push_try($$SELECT pushsource.fs_push('push_src', '[{"user_id": "u1", "ts": "2024-01-01T10:00:00Z", "clicked": "x"}]', dry_run => true)$$);
-- dry_run with skip reports the rejects but does not keep them
SELECT fs_push('push_src', '[{"user_id": "u1", "ts": "2024-01-01T10:00:00Z"}, {"user_id": "u2"}]',
               dry_run => true, on_error => 'skip');
SELECT * FROM push_counts();
-- a dry run of an online-only push counts online rows only
SELECT fs_push('push_src', '{"user_id": "u1", "ts": "2024-01-01T10:00:00Z"}', mode => 'online', dry_run => true);
SELECT * FROM push_counts();

------------------------------------------------------------------------
-- on_error => 'abort' (the default): one bad record, nothing written at all
------------------------------------------------------------------------
SELECT push_try($$SELECT pushsource.fs_push('push_src', '[
    {"user_id": "u1", "ts": "2024-01-01T10:00:00Z", "clicked": 1},
    {"user_id": "u2", "ts": "2024-01-01T10:00:00Z", "clicked": 1.5},
    {"user_id": "u3", "ts": "2024-01-01T10:00:00Z", "clicked": 3}]')$$);
SELECT push_try($$SELECT pushsource.fs_push('push_src', '[
    {"user_id": "u1", "ts": "2024-01-01T10:00:00Z", "clicked": 1},
    {"user_id": "u2", "ts": "2024-01-01T10:00:00Z", "clicked": 2},
    {"user_id": null, "ts": "2024-01-01T10:00:00Z", "clicked": 3}]', on_error => 'abort')$$);
SELECT * FROM push_counts();

------------------------------------------------------------------------
-- on_error => 'skip': good records written, each bad one kept with its reason
------------------------------------------------------------------------
SELECT fs_push('push_src', '[
    {"user_id": "u1", "ts": "2024-01-01T10:00:00Z", "clicked": 1},
    {"user_id": "u2", "ts": "2024-01-01T10:00:00Z", "clicked": 1.5},
    {"user_id": "u3", "ts": "2024-01-01T10:00:00Z", "clicked": 3},
    5,
    {"ts": "2024-01-01T10:00:00Z"},
    {"user_id": "u6", "ts": "2024-01-01T10:00:00Z", "clickd": 6}]', on_error => 'skip');
SELECT * FROM push_counts();
SELECT user_id, clicked FROM push_src ORDER BY user_id;
SELECT user_id, clicked FROM pushsource_store.push_fv1_online ORDER BY user_id;
SELECT source, record_index, field, sqlstate, error, record
  FROM rejected_records WHERE source = 'push_src' ORDER BY record_index;
-- all records bad: nothing written, all kept
SELECT fs_push('push_src', '[{"user_id": "u7"}, {"user_id": "u8", "ts": "yesterday"}]', on_error => 'skip');
SELECT * FROM push_counts();
SELECT record_index, field, sqlstate FROM rejected_records
 WHERE source = 'push_src' AND (record @> '{"user_id": "u7"}' OR record @> '{"user_id": "u8"}')
 ORDER BY record_index;

------------------------------------------------------------------------
-- Argument errors
------------------------------------------------------------------------
SELECT n, push_try(q) FROM (VALUES
    (1, $$SELECT pushsource.fs_push('push_src', '{}', mode => 'both')$$),
    (2, $$SELECT pushsource.fs_push('push_src', '{}', mode => 'Online')$$),
    (3, $$SELECT pushsource.fs_push('push_src', '{}', mode => NULL)$$),
    (4, $$SELECT pushsource.fs_push('push_src', '{}', on_error => 'ignore')$$),
    (5, $$SELECT pushsource.fs_push('push_src', '{}', on_error => NULL)$$),
    (6, $$SELECT pushsource.fs_push(NULL, '{}')$$),
    (7, $$SELECT pushsource.fs_push('push_src', NULL)$$),
    (8, $$SELECT pushsource.fs_push('push_nope', '{}')$$),
    (9, $$SELECT pushsource.fs_push('Push-Src', '{}')$$),
    (10, $$SELECT pushsource.fs_push('push_user', '{}')$$),
    (11, $$SELECT pushsource.fs_push('push_src', '{}', dry_run => NULL)$$)
  ) t(n, q) ORDER BY n;
SELECT * FROM push_counts();

------------------------------------------------------------------------
-- Newest wins online; offline keeps every event
------------------------------------------------------------------------
SELECT push_reset();
SELECT fs_push('push_src', '{"user_id": "u1", "ts": "2024-01-01T10:00:00Z", "clicked": 1}') -> 'feature_views';
-- a late, older event: offline gets it, online keeps the newer value
SELECT fs_push('push_src', '{"user_id": "u1", "ts": "2024-01-01T09:00:00Z", "clicked": 2}') -> 'feature_views';
SELECT user_id, ts, clicked FROM pushsource_store.push_fv1_online;
-- the same timestamp again: last write wins
SELECT fs_push('push_src', '{"user_id": "u1", "ts": "2024-01-01T10:00:00Z", "clicked": 3}') -> 'feature_views';
SELECT user_id, ts, clicked FROM pushsource_store.push_fv1_online;
-- within one batch: the same key several times; newest timestamp wins, and
-- on equal timestamps the later record wins
SELECT fs_push('push_src', '[
    {"user_id": "u2", "ts": "2024-01-01T10:00:00Z", "clicked": 21},
    {"user_id": "u2", "ts": "2024-01-01T10:00:00Z", "clicked": 22},
    {"user_id": "u3", "ts": "2024-01-01T11:00:00Z", "clicked": 31},
    {"user_id": "u3", "ts": "2024-01-01T10:00:00Z", "clicked": 32},
    {"user_id": "u3", "ts": "2024-01-01T10:30:00Z", "clicked": 33},
    {"user_id": "u1", "ts": "2024-01-01T08:00:00Z", "clicked": 4}]') -> 'feature_views';
SELECT user_id, ts, clicked FROM pushsource_store.push_fv1_online ORDER BY user_id;
SELECT user_id, ts, clicked FROM pushsource_store.push_fv2_online ORDER BY user_id;
SELECT user_id, count(*), sum(clicked) FROM pushsource_store.push_fv1_offline GROUP BY user_id ORDER BY user_id;
-- both views were written by the same statement: same offline rows
SELECT count(*) AS differing FROM (
    (SELECT user_id, ts, clicked, _fs_ingest_id FROM pushsource_store.push_fv1_offline
     EXCEPT SELECT user_id, ts, clicked, _fs_ingest_id FROM pushsource_store.push_fv2_offline)
    UNION ALL
    (SELECT user_id, ts, clicked, _fs_ingest_id FROM pushsource_store.push_fv2_offline
     EXCEPT SELECT user_id, ts, clicked, _fs_ingest_id FROM pushsource_store.push_fv1_offline)) d;
-- an equal timestamp in a later statement of one transaction wins too
BEGIN;
SELECT fs_push('push_src', '{"user_id": "u3", "ts": "2024-01-01T11:00:00Z", "clicked": 34}') -> 'records';
INSERT INTO push_src VALUES ('u3', '2024-01-01T11:00:00Z', 35);
COMMIT;
SELECT user_id, ts, clicked FROM pushsource_store.push_fv1_online WHERE user_id = 'u3';

------------------------------------------------------------------------
-- All views or none: a failure writing the second view undoes the first
------------------------------------------------------------------------
SELECT push_reset();
ALTER TABLE pushsource_store.push_fv2_online ADD CONSTRAINT push_small CHECK (clicked < 1000);
SELECT push_try($$SELECT pushsource.fs_push('push_src', '[{"user_id": "u1", "ts": "2024-01-01T10:00:00Z", "clicked": 1},
                                                          {"user_id": "u2", "ts": "2024-01-01T10:00:00Z", "clicked": 5000}]')$$);
SELECT * FROM push_counts();
ALTER TABLE pushsource_store.push_fv2_online DROP CONSTRAINT push_small;
SELECT fs_push('push_src', '{"user_id": "u2", "ts": "2024-01-01T10:00:00Z", "clicked": 5000}') -> 'feature_views';
SELECT * FROM push_counts();

------------------------------------------------------------------------
-- Plain INSERT and COPY: same validation, same fan-out
------------------------------------------------------------------------
SELECT push_reset();
INSERT INTO push_src (user_id, ts, clicked, page) VALUES
    ('u1', '2024-01-01 10:00:00+00', 1, 'a'),
    ('u2', '2024-01-01 10:00:00+00', 2, 'b'),
    ('u1', '2024-01-01 09:00:00+00', 3, 'c');
SELECT * FROM push_counts();
SELECT user_id, ts, clicked, page FROM pushsource_store.push_fv1_online ORDER BY user_id;
-- a null join key in the second row: error names record 1 and the field
SELECT push_try($$INSERT INTO pushsource_source.push_src (user_id, ts, clicked) VALUES
    ('u5', '2024-01-01 10:00:00+00', 5), (NULL, '2024-01-01 10:00:00+00', 6)$$);
SELECT push_try($$INSERT INTO pushsource_source.push_src (user_id, clicked) VALUES ('u5', 5)$$);
SELECT * FROM push_counts();
COPY push_src (user_id, ts, clicked, page) FROM STDIN;
u3	2024-01-01 10:00:00+00	30	x
u1	2024-01-01 11:00:00+00	10	y
u3	2024-01-01 09:00:00+00	31	z
\.
SELECT * FROM push_counts();
SELECT user_id, ts, clicked, page FROM pushsource_store.push_fv1_online ORDER BY user_id;
-- COPY with a null join key on line 2: nothing of the COPY is written
COPY push_src (user_id, ts, clicked) FROM STDIN;
u4	2024-01-01 10:00:00+00	40
\N	2024-01-01 10:00:00+00	41
\.
-- the same COPY, showing its SQLSTATE
\set VERBOSITY sqlstate
COPY push_src (user_id, ts, clicked) FROM STDIN;
u4	2024-01-01 10:00:00+00	40
\N	2024-01-01 10:00:00+00	41
\.
\set VERBOSITY default
SELECT * FROM push_counts();
-- INSERT ... RETURNING sees the stored row
INSERT INTO push_src VALUES ('u9', '2024-01-01 10:00:00+00', 9) RETURNING user_id, clicked;

------------------------------------------------------------------------
-- The source table is an append-only log: UPDATE refused, DELETE allowed
------------------------------------------------------------------------
SELECT push_try($$UPDATE pushsource_source.push_src SET clicked = 100 WHERE user_id = 'u1'$$);
SELECT push_try($$UPDATE pushsource_source.push_src SET clicked = 100 WHERE false$$);
SELECT count(*) FILTER (WHERE clicked = 100) FROM push_src;
DELETE FROM push_src WHERE user_id IN ('u1', 'u3');
SELECT * FROM push_counts();
SELECT user_id, clicked FROM pushsource_store.push_fv1_online ORDER BY user_id;

------------------------------------------------------------------------
-- A statement that fails after some rows leaves nothing in any store
------------------------------------------------------------------------
SELECT push_reset();
SELECT push_try($$INSERT INTO pushsource_source.push_src (user_id, ts, clicked)
    SELECT CASE WHEN i < 5 THEN 'g' || i END, '2024-01-01 10:00:00+00', i FROM generate_series(1, 5) i$$);
SELECT push_try($$INSERT INTO pushsource_source.push_src (user_id, ts, clicked)
    SELECT 'g' || i, '2024-01-01 10:00:00+00', 10 / (5 - i) FROM generate_series(1, 5) i$$);
SELECT * FROM push_counts();
-- the same at top level, outside any subtransaction
INSERT INTO push_src (user_id, ts, clicked)
    SELECT 'g' || i, '2024-01-01 10:00:00+00', 10 / (5 - i) FROM generate_series(1, 5) i;
SELECT * FROM push_counts();
-- the next statement writes its own rows only, nothing left over
SELECT fs_push('push_src', '{"user_id": "g9", "ts": "2024-01-01T10:00:00Z", "clicked": 9}') -> 'feature_views';
SELECT user_id, clicked FROM pushsource_store.push_fv1_offline ORDER BY user_id;

------------------------------------------------------------------------
-- Savepoints: ROLLBACK TO undoes a push in every store
------------------------------------------------------------------------
SELECT push_reset();
BEGIN;
SELECT fs_push('push_src', '{"user_id": "s1", "ts": "2024-01-01T10:00:00Z", "clicked": 1}') -> 'records';
SAVEPOINT a;
SELECT fs_push('push_src', '[{"user_id": "s1", "ts": "2024-01-01T11:00:00Z", "clicked": 2},
                             {"user_id": "s2", "ts": "2024-01-01T11:00:00Z", "clicked": 2}]') -> 'records';
INSERT INTO push_src VALUES ('s3', '2024-01-01 11:00:00+00', 3);
SELECT * FROM push_counts();
ROLLBACK TO a;
SELECT * FROM push_counts();
-- a failing statement after a savepoint, then a good one
SAVEPOINT b;
INSERT INTO push_src VALUES ('s4', '2024-01-01 12:00:00+00', 4), (NULL, '2024-01-01 12:00:00+00', 5);
ROLLBACK TO b;
INSERT INTO push_src VALUES ('s5', '2024-01-01 12:00:00+00', 5);
COMMIT;
SELECT * FROM push_counts();
SELECT user_id, ts, clicked FROM pushsource_store.push_fv1_online ORDER BY user_id;
SELECT user_id, ts, clicked FROM pushsource_store.push_fv2_offline ORDER BY user_id;
-- a whole transaction rolled back
BEGIN;
SELECT fs_push('push_src', '{"user_id": "s6", "ts": "2024-01-01T10:00:00Z"}') -> 'records';
ROLLBACK;
SELECT * FROM push_counts();

------------------------------------------------------------------------
-- log_offline => false: no source rows, but the views' stores are written
------------------------------------------------------------------------
SELECT fs_create_push_source('push_nolog', 'user_id String, ts Timestamp, v Int64', 'ts', log_offline => false);
SELECT fs_create_feature_view('push_nolog_fv', 'push_nolog', ARRAY['push_user']);
SELECT fs_push('push_nolog', '[{"user_id": "n1", "ts": "2024-01-01T10:00:00Z", "v": 1},
                               {"user_id": "n1", "ts": "2024-01-01T11:00:00Z", "v": 2},
                               {"user_id": "n2", "ts": "2024-01-01T10:00:00Z", "v": 3}]');
INSERT INTO push_nolog VALUES ('n3', '2024-01-01 10:00:00+00', 4);
SELECT count(*) AS source_rows FROM push_nolog;
SELECT user_id, ts, v FROM pushsource_store.push_nolog_fv_offline ORDER BY user_id, ts;
SELECT user_id, ts, v FROM pushsource_store.push_nolog_fv_online ORDER BY user_id;

------------------------------------------------------------------------
-- feature_start_time: earlier events are not written to that view
------------------------------------------------------------------------
SELECT fs_create_push_source('push_fst', 'user_id String, ts Timestamp, v Int64', 'ts');
SELECT fs_create_feature_view('push_fst_late', 'push_fst', ARRAY['push_user'],
                              feature_start_time => '2024-01-01 00:00:00+00');
SELECT fs_create_feature_view('push_fst_all', 'push_fst', ARRAY['push_user']);
SELECT fs_push('push_fst', '[{"user_id": "f1", "ts": "2023-12-31T23:59:59Z", "v": 1},
                             {"user_id": "f2", "ts": "2023-12-31T12:00:00Z", "v": 2},
                             {"user_id": "f2", "ts": "2024-01-01T00:00:00Z", "v": 3},
                             {"user_id": "f3", "ts": "2024-01-02T00:00:00Z", "v": 4}]');
-- f1 only before the start: not in push_fst_late at all
SELECT user_id, ts, v FROM pushsource_store.push_fst_late_offline ORDER BY user_id, ts;
SELECT user_id, ts, v FROM pushsource_store.push_fst_late_online ORDER BY user_id;
SELECT user_id, ts, v FROM pushsource_store.push_fst_all_offline ORDER BY user_id, ts;
SELECT user_id, ts, v FROM pushsource_store.push_fst_all_online ORDER BY user_id;
-- an event before the start time never reaches that view, not even offline
SELECT fs_push('push_fst', '{"user_id": "f3", "ts": "2023-06-01T00:00:00Z", "v": 5}') -> 'feature_views';
SELECT count(*) FROM pushsource_store.push_fst_late_offline WHERE v = 5;

------------------------------------------------------------------------
-- Composite join keys: newest wins per key tuple; (1,12) and (11,2) differ
------------------------------------------------------------------------
-- one entity with two keys (Int64)
SELECT fs_create_entity('push_pair', ARRAY['a', 'b']);
SELECT fs_create_push_source('push_ck', 'a Int64, b Int64, ts Timestamp, v Int64', 'ts');
SELECT fs_create_feature_view('push_ck_fv', 'push_ck', ARRAY['push_pair']);
SELECT fs_push('push_ck', '[{"a": 1, "b": 12, "ts": "2024-01-01T10:00:00Z", "v": 1},
                            {"a": 11, "b": 2, "ts": "2024-01-01T10:00:00Z", "v": 2},
                            {"a": 1, "b": 12, "ts": "2024-01-01T09:00:00Z", "v": 3},
                            {"a": 11, "b": 2, "ts": "2024-01-01T11:00:00Z", "v": 4},
                            {"a": 1, "b": 2, "ts": "2024-01-01T08:00:00Z", "v": 5}]') -> 'feature_views';
SELECT a, b, ts, v FROM pushsource_store.push_ck_fv_online ORDER BY a, b;
-- a missing second key is an error
SELECT push_try($$SELECT pushsource.fs_push('push_ck', '{"a": 1, "ts": "2024-01-01T10:00:00Z"}')$$);
-- two entities with String keys
SELECT fs_create_entity('push_store_e', ARRAY['store_id']);
SELECT fs_create_entity('push_item_e', ARRAY['item_id']);
SELECT fs_create_push_source('push_two', 'store_id String, item_id String, ts Timestamp, qty Int64', 'ts');
SELECT fs_create_feature_view('push_two_fv', 'push_two', ARRAY['push_store_e', 'push_item_e']);
SELECT fs_push('push_two', '[{"store_id": "1", "item_id": "12", "ts": "2024-01-01T10:00:00Z", "qty": 1},
                             {"store_id": "11", "item_id": "2", "ts": "2024-01-01T10:00:00Z", "qty": 2}]') -> 'feature_views';
SELECT fs_push('push_two', '[{"store_id": "11", "item_id": "2", "ts": "2024-01-01T09:00:00Z", "qty": 3},
                             {"store_id": "1", "item_id": "12", "ts": "2024-01-01T10:00:00Z", "qty": 4}]') -> 'feature_views';
SELECT store_id, item_id, ts, qty FROM pushsource_store.push_two_fv_online ORDER BY store_id, item_id;
SELECT push_try($$INSERT INTO pushsource_source.push_two (store_id, ts, qty) VALUES ('1', '2024-01-01', 5)$$);

------------------------------------------------------------------------
-- Bulk: 10,000 rows by INSERT ... SELECT, timestamps out of order
------------------------------------------------------------------------
SELECT fs_create_entity('push_bulk_e', ARRAY['k']);
SELECT fs_create_push_source('push_bulk', 'k Int64, ts Timestamp, v Int64', 'ts');
SELECT fs_create_feature_view('push_bulk_fv', 'push_bulk', ARRAY['push_bulk_e']);
-- (i * 7919) % 10007 is a permutation: every row has its own timestamp
INSERT INTO push_bulk
SELECT i % 100, '2024-01-01 00:00:00+00'::timestamptz + ((i * 7919) % 10007) * interval '1 second', i
  FROM generate_series(1, 10000) i;
SELECT count(*), sum(v) FROM push_bulk;
SELECT count(*), sum(v), count(DISTINCT k) FROM pushsource_store.push_bulk_fv_offline;
SELECT count(*) FROM pushsource_store.push_bulk_fv_online;
-- the online row of every key is its newest event in the source table
SELECT count(*) AS mismatches
  FROM pushsource_store.push_bulk_fv_online o
  FULL JOIN (SELECT DISTINCT ON (k) k, ts, v FROM push_bulk ORDER BY k, ts DESC) s USING (k)
 WHERE o.ts IS DISTINCT FROM s.ts OR o.v IS DISTINCT FROM s.v;
SELECT k, ts, v FROM pushsource_store.push_bulk_fv_online WHERE k IN (0, 1, 42, 99) ORDER BY k;
-- the same check via max(ts) per key
SELECT count(*) AS mismatches
  FROM (SELECT k, max(ts) AS ts FROM push_bulk GROUP BY k) m
  LEFT JOIN pushsource_store.push_bulk_fv_online o USING (k)
 WHERE o.ts IS DISTINCT FROM m.ts;
-- offline rows equal the source rows
SELECT count(*) AS differing FROM (
    (SELECT k, ts, v FROM push_bulk EXCEPT SELECT k, ts, v FROM pushsource_store.push_bulk_fv_offline)
    UNION ALL
    (SELECT k, ts, v FROM pushsource_store.push_bulk_fv_offline EXCEPT SELECT k, ts, v FROM push_bulk)) d;
-- ingest order follows row order within the statement
SELECT count(*) AS out_of_order FROM (
    SELECT v, lag(v) OVER (ORDER BY _fs_ingest_id) AS prev FROM pushsource_store.push_bulk_fv_offline) x
 WHERE prev IS NOT NULL AND prev >= v;

------------------------------------------------------------------------
-- Found by review: a pg_temp type that shadows a column's type name does
-- not change how the source's rows are read (it used to crash the server),
-- and a push nested in an INSERT ... SELECT (fs_push(dry_run) in its WHERE)
-- does not take the outer statement's rows with it.
------------------------------------------------------------------------
SELECT fs_create_push_source('push_shadow', 'user_id text, ts timestamptz, d date, v int8', 'ts');
SELECT fs_create_feature_view('push_shadow_fv', 'push_shadow', ARRAY['push_user']);
CREATE DOMAIN pg_temp.date AS text;
INSERT INTO pushsource_source.push_shadow VALUES ('u1', '2024-01-01 00:00+00', '2024-01-01', 1);
SELECT user_id, d, pg_typeof(d) FROM pushsource_store.push_shadow_fv_online;
DROP DOMAIN pg_temp.date;

SELECT fs_create_push_source('push_nest', 'user_id String, ts Timestamp, v Int64', 'ts');
SELECT fs_create_feature_view('push_nest_fv', 'push_nest', ARRAY['push_user']);
INSERT INTO pushsource_source.push_nest SELECT 'u' || g, '2024-01-01', g FROM generate_series(1, 3) g
 WHERE fs_push('push_nest', jsonb_build_object('user_id', 'x' || g, 'ts', '2024-01-02T00:00:00Z', 'v', g),
               dry_run => true) IS NOT NULL;
SELECT (SELECT string_agg(user_id, ',' ORDER BY user_id) FROM pushsource_source.push_nest) AS source,
       (SELECT string_agg(user_id, ',' ORDER BY user_id) FROM pushsource_store.push_nest_fv_online) AS online,
       (SELECT string_agg(user_id, ',' ORDER BY user_id) FROM pushsource_store.push_nest_fv_offline) AS offline;

------------------------------------------------------------------------
-- A read-only transaction (and so a standby) refuses a push, a dry run and
-- fs_ingest up front, naming the source; nothing is written.
------------------------------------------------------------------------
BEGIN READ ONLY;
SELECT fs_push('push_nest', '{"user_id": "r1", "ts": "2024-01-03T00:00:00Z", "v": 1}');
ROLLBACK;
BEGIN READ ONLY;
SELECT push_try($$SELECT fs_push('push_nest', '{"user_id": "r1", "ts": "2024-01-03T00:00:00Z", "v": 1}')$$);
SELECT push_try($$SELECT fs_push('push_nest', '{"user_id": "r1", "ts": "2024-01-03T00:00:00Z", "v": 1}', dry_run => true)$$);
SELECT push_try($$SELECT fs_ingest('{"workspace_name": "w", "records": {"push_nest": [{"record": {"user_id": "r1", "ts": "2024-01-03T00:00:00Z", "v": 1}}]}}')$$);
-- up front: before the records are read (this one is invalid)
SELECT push_try($$SELECT fs_push('push_nest', '{"user_id": "r1", "ts": "2024-01-03T00:00:00Z", "v": "x"}', on_error => 'skip')$$);
ROLLBACK;
