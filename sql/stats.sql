-- pushsource.stat_sources and stat_feature_views: counters since
-- fs_stat_reset(), kept in shared memory (the test server preloads
-- pushsource; test/t/008_logical.pl checks a server that does not).
-- Every figure is checked against what was pushed, worked out by hand or
-- by SQL over the log.
SET search_path = pushsource, pushsource_source, public;
SET timezone = 'UTC';
SET datestyle = ISO;

CREATE FUNCTION public.st_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

SELECT fs_create_entity('st_user', ARRAY['user_id']);
CREATE TABLE public.st_batch (user_id text, ts timestamptz, clicks bigint);
GRANT SELECT ON public.st_batch TO pushsource_admin;
SELECT fs_create_push_source('st_clicks', 'user_id String, ts Timestamp, clicks Int64', 'ts',
                             batch_table => 'public.st_batch');
SELECT fs_create_feature_view('st_last', 'st_clicks', ARRAY['st_user']);
SELECT fs_create_feature_view('st_sum', 'st_clicks', ARRAY['st_user'],
    aggregations => ARRAY[fs_agg('clicks', 'sum', '1 day')], aggregation_interval => '1 hour');
SELECT fs_stat_reset() >= 0 AS reset;
-- nothing yet: every source and view is listed, with zeros
SELECT source, pushes, records, rejected, bytes, applied, last_push, newest_event, lag
  FROM stat_sources WHERE source = 'st_clicks';
SELECT feature_view, source, online_rows, offline_rows, late_ignored, last_materialization, last_status
  FROM stat_feature_views WHERE feature_view LIKE 'st\_%' ORDER BY 1;

-- one push of 3 records (u1 twice), one INSERT of 2 rows
SELECT fs_push('st_clicks', '[{"user_id": "u1", "ts": "2024-01-01T10:00:00Z", "clicks": 1},
                              {"user_id": "u1", "ts": "2024-01-01T11:00:00Z", "clicks": 2},
                              {"user_id": "u2", "ts": "2024-01-01T10:30:00Z", "clicks": 3}]') ->> 'records' AS pushed;
INSERT INTO st_clicks VALUES ('u3', '2024-01-01 09:00+00', 4), ('u3', '2024-01-01 12:00+00', 5);
-- 2 batches, 5 records; bytes are the stored rows' (their tuples' lengths
-- on the log's one page); the newest event is 12:00
CREATE EXTENSION pageinspect;
SELECT pushes, records, rejected, applied,
       bytes = (SELECT sum(lp_len) FROM heap_page_items(get_raw_page('pushsource_source.st_clicks', 0))
                 WHERE lp_len > 0) AS bytes_are_the_rows,
       newest_event, lag = now() - newest_event AS lag_is_now_minus_newest,
       last_push BETWEEN now() - interval '1 hour' AND now() AS last_push_is_recent
  FROM stat_sources WHERE source = 'st_clicks';
-- st_last: 5 offline rows; online, 3 keys written (u1 newest of its two in
-- the batch, u2, u3 newest of its two); nothing late.  st_sum: 5 events
-- offline; online its tile blocks (one per key: a block holds a day)
SELECT feature_view, online_rows, offline_rows, late_ignored FROM stat_feature_views
 WHERE feature_view LIKE 'st\_%' ORDER BY 1;

-- a late event (older than u1's stored 11:00) is not written online: late_ignored
SELECT fs_push('st_clicks', '[{"user_id": "u1", "ts": "2024-01-01T09:00:00Z", "clicks": 7},
                              {"user_id": "u4", "ts": "2024-01-01T09:00:00Z", "clicks": 1}]') ->> 'records' AS pushed;
SELECT feature_view, online_rows, offline_rows, late_ignored FROM stat_feature_views
 WHERE feature_view = 'st_last';
-- a one-record push of a late event counts it too
SELECT fs_push('st_clicks', '{"user_id": "u2", "ts": "2024-01-01T08:00:00Z", "clicks": 1}') ->> 'records' AS pushed;
SELECT online_rows, offline_rows, late_ignored FROM stat_feature_views WHERE feature_view = 'st_last';

-- rejected records count when refused, committed or not: 1 skipped, 1 that
-- fails its push, 1 refused by the row trigger of an INSERT
SELECT fs_push('st_clicks', '[{"user_id": "u5", "ts": "2024-01-01T10:00:00Z", "clicks": 1},
                              {"user_id": null, "ts": "2024-01-01T10:00:00Z", "clicks": 1}]',
               on_error => 'skip') ->> 'rejected' AS rejected;
SELECT st_try($$SELECT fs_push('st_clicks', '{"user_id": "u5", "ts": "not a time", "clicks": 1}')$$) LIKE '22007%' AS refused;
SELECT st_try($$INSERT INTO st_clicks VALUES (NULL, '2024-01-01', 1)$$) LIKE '23502%' AS refused;
SELECT pushes, records, rejected FROM stat_sources WHERE source = 'st_clicks';

-- what does not commit counts nothing: a dry run, a rolled-back
-- transaction, a rolled-back savepoint
SELECT fs_push('st_clicks', '{"user_id": "u6", "ts": "2024-01-01T10:00:00Z", "clicks": 1}', dry_run => true) ->> 'records' AS dry;
BEGIN;
SELECT fs_push('st_clicks', '{"user_id": "u6", "ts": "2024-01-01T10:00:00Z", "clicks": 1}') ->> 'records' AS pushed;
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT fs_push('st_clicks', '{"user_id": "u6", "ts": "2024-01-01T10:00:00Z", "clicks": 1}') ->> 'records' AS pushed;
ROLLBACK TO SAVEPOINT s;
SAVEPOINT t;
SELECT fs_push('st_clicks', '{"user_id": "u7", "ts": "2024-01-01T13:00:00Z", "clicks": 1}') ->> 'records' AS pushed;
RELEASE SAVEPOINT t;
COMMIT;
-- only u7's push (in a released savepoint) counts: 6 pushes, 10 records
SELECT pushes, records, rejected, newest_event FROM stat_sources WHERE source = 'st_clicks';
SELECT online_rows, offline_rows, late_ignored FROM stat_feature_views WHERE feature_view = 'st_last';

-- Found in review.  A prepared transaction counts when it is prepared
-- (before: never, nor what a two-phase subscription applies); a
-- future-dated event counts as fresh as its commit, not as a newest event
-- far ahead that would hide a stale source (before: lag -62847 days)
BEGIN;
SELECT fs_push('st_clicks', '{"user_id": "u9", "ts": "2199-01-01T00:00:00Z", "clicks": 1}') ->> 'records' AS pushed;
PREPARE TRANSACTION 'st_prepared';
COMMIT PREPARED 'st_prepared';
SELECT pushes, records, newest_event <= now() AS newest_not_ahead, lag >= interval '0' AS lag_not_negative
  FROM stat_sources WHERE source = 'st_clicks';

-- rows applied by logical replication count as applied too (here a
-- session in replication's role, on a replicated source)
SELECT fs_create_push_source('st_rep', 'user_id String, ts Timestamp, clicks Int64', 'ts', replicated => true);
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO st_rep VALUES ('u1', '2024-01-02 00:00+00', 1);
INSERT INTO st_rep VALUES ('u2', '2024-01-02 00:00+00', 1);
COMMIT;
SELECT source, pushes, records, applied, replicated FROM stat_sources WHERE source = 'st_rep';

-- the last materialization of a view and its state come from pushsource.jobs
INSERT INTO public.st_batch VALUES ('u8', '2023-12-31 10:00+00', 1);
SELECT fs_materialize('st_last', '2023-12-31', '2024-01-01') ->> 'state' AS state;
SELECT last_materialization = (SELECT max(finished_at) FROM pushsource.jobs WHERE object = 'st_last' AND kind = 'materialization')
       AS from_jobs, last_status
  FROM stat_feature_views WHERE feature_view = 'st_last';
-- a backfill is not a push: the counters of pushes do not move
SELECT records FROM stat_sources WHERE source = 'st_clicks';

-- a reader reads them; only an admin resets them
CREATE ROLE st_reader IN ROLE pushsource_reader;
SET ROLE st_reader;
SELECT count(*) > 0 AS reads FROM stat_sources;
SELECT st_try($$SELECT fs_stat_reset()$$);
RESET ROLE;
DROP ROLE st_reader;

-- fs_stat_reset clears this database's counters; fs_drop forgets an
-- object's, so that one made again under its name starts at zero
SELECT fs_stat_reset() AS objects_reset;
SELECT source, pushes, records, rejected, last_push FROM stat_sources WHERE source LIKE 'st\_%' ORDER BY 1;
SELECT fs_push('st_rep' , '[]') ->> 'records' AS nothing;
SELECT fs_drop('st_rep');
SELECT fs_create_push_source('st_rep', 'user_id String, ts Timestamp, clicks Int64', 'ts');
SELECT fs_push('st_rep', '{"user_id": "u1", "ts": "2024-01-02T00:00:00Z", "clicks": 1}') ->> 'records' AS pushed;
SELECT fs_drop('st_rep');
SELECT fs_create_push_source('st_rep', 'user_id String, ts Timestamp, clicks Int64', 'ts');
SELECT source, pushes, records FROM stat_sources WHERE source = 'st_rep';

SELECT fs_drop('st_rep'), fs_drop('st_clicks', cascade => true), fs_drop('st_user');
DROP TABLE public.st_batch;
DROP FUNCTION public.st_try(text);
DROP EXTENSION pageinspect;
