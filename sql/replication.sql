-- Serving nodes' sources (replicated => true), on one server: logical
-- replication's apply worker runs with session_replication_role = replica
-- and fires row triggers only; a superuser's session with that setting
-- takes the same path, which is what is tested here (test/t/008_logical.pl
-- runs real subscriptions).
SET search_path = pushsource, pushsource_source, public;
SET timezone = 'UTC';
SET datestyle = ISO;

CREATE FUNCTION public.rep_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

SELECT fs_create_entity('rep_user', ARRAY['user_id']);
SELECT fs_create_push_source('rep_clicks', 'user_id String, ts Timestamp, clicks Int64', 'ts', replicated => true);
SELECT fs_create_push_source('rep_nolog', 'user_id String, ts Timestamp, note String', 'ts',
                             log_offline => false, replicated => true);
SELECT fs_create_feature_view('rep_last', 'rep_clicks', ARRAY['rep_user']);
SELECT fs_create_feature_view('rep_sum', 'rep_clicks', ARRAY['rep_user'],
    aggregations => ARRAY[fs_agg('clicks', 'sum', '1 day')], aggregation_interval => '1 hour');
SELECT fs_create_feature_view('rep_note', 'rep_nolog', ARRAY['rep_user']);
SELECT name, replicated, log_offline FROM pushsource.push_sources WHERE name LIKE 'rep\_%' ORDER BY name;
-- its triggers: the row trigger and the deferred flush fire always
SELECT tgname, tgenabled, tgdeferrable, tginitdeferred FROM pg_trigger
 WHERE tgrelid = 'pushsource_source.rep_clicks'::regclass ORDER BY tgname;
SELECT fs_validate('rep_clicks') ->> 'valid' AS valid;

-- local pushes are refused, naming the source; nothing is written
SELECT rep_try($$SELECT fs_push('rep_clicks', '{"user_id": "a", "ts": "2024-01-01T00:00:00Z", "clicks": 1}')$$);
SELECT rep_try($$INSERT INTO pushsource_source.rep_clicks VALUES ('a', '2024-01-01', 1)$$);
SELECT rep_try($$SELECT fs_ingest('{"workspace_name": "w", "records": {"rep_clicks": [
    {"record": {"user_id": "a", "ts": "2024-01-01T00:00:00Z", "clicks": 1}}]}}')$$);
SELECT count(*) AS rows FROM pushsource_source.rep_clicks;

-- rows applied as replication applies them (one statement per row, in
-- one transaction) are fanned out at commit, as one batch: newest wins at
-- equal times by apply order (b's second row), the tiles sum every row
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO pushsource_source.rep_clicks VALUES ('a', '2024-01-01 00:10+00', 1);
INSERT INTO pushsource_source.rep_clicks VALUES ('b', '2024-01-01 00:20+00', 2);
INSERT INTO pushsource_source.rep_clicks VALUES ('b', '2024-01-01 00:20+00', 3);
INSERT INTO pushsource_source.rep_clicks VALUES ('a', '2024-01-01 00:30+00', 4);
INSERT INTO pushsource_source.rep_nolog VALUES ('a', '2024-01-01 00:00+00', 'hello');
-- before commit: buffered, in the log, in no store yet
SELECT (SELECT count(*) FROM pushsource_store.rep_last_online) AS online_rows,
       (SELECT count(*) FROM pushsource_source.rep_nolog) AS nolog_rows;
COMMIT;
SET pushsource.request_time = '2024-01-01 12:00+00';
SELECT fs_get_online_features('rep_last', '[{"user_id": "a"}, {"user_id": "b"}]');
SELECT fs_get_online_features('rep_sum', '[{"user_id": "a"}, {"user_id": "b"}]');
SELECT fs_get_online_features('rep_note', '{"user_id": "a"}');
-- the log keeps the four rows; the source without a log none
SELECT (SELECT count(*) FROM pushsource_source.rep_clicks) AS log_rows,
       (SELECT count(*) FROM pushsource_store.rep_last_offline) AS offline_rows,
       (SELECT count(*) FROM pushsource_source.rep_nolog) AS nolog_rows;
-- a transaction rolled back (an apply that failed) applies nothing
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO pushsource_source.rep_clicks VALUES ('c', '2024-01-01 00:10+00', 1);
ROLLBACK;
SELECT fs_get_online_features('rep_last', '{"user_id": "c"}');
-- rows in a subtransaction that rolled back are not fanned out
BEGIN;
SET LOCAL session_replication_role = replica;
SAVEPOINT s;
INSERT INTO pushsource_source.rep_clicks VALUES ('d', '2024-01-01 00:10+00', 1);
ROLLBACK TO SAVEPOINT s;
INSERT INTO pushsource_source.rep_clicks VALUES ('e', '2024-01-01 00:10+00', 5);
COMMIT;
SELECT fs_get_online_features('rep_last', '[{"user_id": "d"}, {"user_id": "e"}]');

-- key deletions for serving nodes: fs_delete_keys writes each one for a
-- publication and leaves the table empty; a replicated one (applied by
-- replication) runs the deletion here, and one for an object this node
-- does not have, or has as another kind (a view here, a source there), is
-- ignored
SELECT fs_delete_keys('rep_last', '[{"user_id": "e"}]') - 'job' AS deleted;
SELECT count(*) AS kept FROM pushsource_internal.replicated_deletions;
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO pushsource_internal.replicated_deletions (target, kind, keys, online, offline)
VALUES ('rep_clicks', 'push_source', '[{"user_id": "b"}]', true, true),
       ('not_here', 'feature_view', '[{"user_id": "a"}]', true, true),
       ('rep_last', 'push_source', '[{"user_id": "a"}]', true, true);
COMMIT;
SELECT count(*) AS kept FROM pushsource_internal.replicated_deletions;
SELECT fs_get_online_features('rep_last', '[{"user_id": "a"}, {"user_id": "b"}]');
SELECT (SELECT count(*) FROM pushsource_source.rep_clicks WHERE user_id = 'b') AS log_rows_b;
SELECT object, state, details -> 'feature_views' AS views FROM pushsource.jobs
 WHERE kind = 'deletion' AND object LIKE 'rep\_%' ORDER BY id;
-- a replicated deletion that fails here is a failed job and a WARNING; the
-- transaction (replication's) goes on
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO pushsource_internal.replicated_deletions (target, kind, keys, online, offline)
VALUES ('rep_last', 'feature_view', '[{"no_such_key": 1}]', true, true);
COMMIT;
SELECT object, state FROM pushsource.jobs WHERE kind = 'deletion' AND object = 'rep_last' ORDER BY id DESC LIMIT 1;

-- Found in review.  A deletion comes after the rows pushed before it in
-- its transaction (before: the deletion ran first, the rows were fanned out
-- after it and stayed); a source without a log then has nothing left to
-- delete at commit (before: XX000, attempted to delete invisible tuple)
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO pushsource_source.rep_clicks VALUES ('f', '2024-01-01 00:10+00', 9);
INSERT INTO pushsource_source.rep_nolog VALUES ('f', '2024-01-01 00:10+00', 'gone');
INSERT INTO pushsource_internal.replicated_deletions (target, kind, keys, online, offline)
VALUES ('rep_clicks', 'push_source', '[{"user_id": "f"}]', true, true),
       ('rep_nolog', 'push_source', '[{"user_id": "f"}]', true, true);
COMMIT;
SELECT fs_get_online_features('rep_last', '{"user_id": "f"}') AS f_last,
       fs_get_online_features('rep_note', '{"user_id": "f"}') AS f_note,
       (SELECT count(*) FROM pushsource_source.rep_clicks WHERE user_id = 'f') AS f_log_rows;
-- a row this serving node's validator refuses (a view of its own needs a
-- join key the ingest node's views do not) is skipped with a WARNING and
-- kept in rejected_records; the rest of the transaction is applied
-- (before: 23502, and the apply worker would retry it for ever)
SELECT fs_create_entity('rep_region', ARRAY['region']);
SELECT fs_create_push_source('rep_wide', 'user_id String, region String, ts Timestamp, v Int64', 'ts', replicated => true);
SELECT fs_create_feature_view('rep_by_user', 'rep_wide', ARRAY['rep_user']);
SELECT fs_create_feature_view('rep_by_region', 'rep_wide', ARRAY['rep_region']);
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO pushsource_source.rep_wide VALUES ('g', NULL, '2024-01-01 00:10+00', 1);
INSERT INTO pushsource_source.rep_wide VALUES ('h', 'eu', '2024-01-01 00:10+00', 2);
COMMIT;
SELECT fs_get_online_features('rep_by_user', '[{"user_id": "g"}, {"user_id": "h"}]');
SELECT source, record, field, sqlstate FROM pushsource.rejected_records WHERE source = 'rep_wide';
-- Found in review: each refused row was saved by an INSERT of its own,
-- with a WARNING each.  Once a row of the transaction has queued the
-- fan-out, the refused ones wait for it: saved in one statement, in their
-- order, with one WARNING for all (at COMMIT)
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO pushsource_source.rep_wide VALUES ('i', 'us', '2024-01-01 00:10+00', 3);
INSERT INTO pushsource_source.rep_wide VALUES ('j', NULL, '2024-01-01 00:11+00', 4);
INSERT INTO pushsource_source.rep_wide VALUES ('k', 'us', '2024-01-01 00:12+00', 5);
INSERT INTO pushsource_source.rep_wide VALUES ('l', NULL, '2024-01-01 00:13+00', 6);
INSERT INTO pushsource_source.rep_wide VALUES ('m', NULL, '2024-01-01 00:14+00', 7);
SELECT count(*) AS saved_before_commit FROM pushsource.rejected_records WHERE source = 'rep_wide';
COMMIT;
SELECT record ->> 'user_id' AS user_id, record_index, field, sqlstate
  FROM pushsource.rejected_records WHERE source = 'rep_wide' ORDER BY id;
SELECT fs_get_online_features('rep_by_user', '[{"user_id": "i"}, {"user_id": "j"}, {"user_id": "k"}]');
-- saved 1000 at a time: 1001 refused rows give two statements and WARNINGs
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO pushsource_source.rep_wide VALUES ('n', 'us', '2024-01-01 00:15+00', 8);
INSERT INTO pushsource_source.rep_wide
SELECT 'o' || i, NULL, '2024-01-01 00:16+00', i FROM generate_series(1, 1001) i;
COMMIT;
SELECT count(*), min(record_index), max(record_index), count(DISTINCT record ->> 'user_id')
  FROM pushsource.rejected_records WHERE source = 'rep_wide' AND record ->> 'user_id' LIKE 'o%';

-- refused settings
SELECT rep_try($$SELECT fs_create_push_source('rep_part', 'user_id String, ts Timestamp', 'ts',
                                              replicated => true, partition_interval => '1 day')$$);
-- fs_validate: triggers that are not a replicated source's
ALTER TABLE pushsource_source.rep_clicks ENABLE TRIGGER zz_pushsource_row;
SELECT fs_validate('rep_clicks') -> 'problems' AS problems;
ALTER TABLE pushsource_source.rep_clicks ENABLE ALWAYS TRIGGER zz_pushsource_row;
SELECT fs_validate('rep_clicks') ->> 'valid' AS valid;

SELECT fs_drop('rep_wide', cascade => true), fs_drop('rep_region');
SELECT fs_drop('rep_clicks', cascade => true), fs_drop('rep_nolog', cascade => true), fs_drop('rep_user');
DROP FUNCTION public.rep_try(text);
