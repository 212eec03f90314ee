-- Operations: backfill from a batch table (fs_materialize, incremental),
-- key deletion (fs_delete_keys), the job table and its status functions,
-- maintenance, and pg_cron schedules (asserted on cron.job; the job bodies
-- are called directly, no test waits for a tick).
SET search_path = pushsource, pushsource_source, public;
SET timezone = 'UTC';
SET datestyle = ISO;
SET intervalstyle = postgres;

CREATE FUNCTION public.ops_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
-- an admin who is not a superuser runs the operations
CREATE ROLE ops_admin LOGIN IN ROLE pushsource_admin;
GRANT CREATE ON SCHEMA public TO ops_admin;
SET ROLE ops_admin;
-- a job's row without its times and id
CREATE VIEW public.ops_jobs AS
SELECT kind, object, window_start, CASE WHEN NOT scheduled THEN window_end END AS window_end, -- a scheduled run ends at now()
       state, rows, error, sqlstate, attempt, scheduled, run_by
  FROM pushsource.jobs ORDER BY id;

SELECT fs_create_entity('ops_user', ARRAY['user_id']);
SELECT fs_create_entity('ops_device', ARRAY['device']);
CREATE TABLE public.ops_batch (user_id text, ts timestamptz, clicks int8, note text);
GRANT SELECT ON public.ops_batch TO pushsource_admin;
SELECT fs_create_push_source('ops_clicks', 'user_id text, ts timestamptz, clicks int8', 'ts',
                             batch_table => 'public.ops_batch');
-- attribute view (ttl 1 day), tiled aggregates (1 hour tiles), continuous aggregates
SELECT fs_create_feature_view('ops_fv', 'ops_clicks', ARRAY['ops_user'], ttl => '1 day');
SELECT fs_create_feature_view('ops_tiled', 'ops_clicks', ARRAY['ops_user'],
    aggregations => ARRAY[fs_agg('clicks', 'sum', '1 day'), fs_agg('clicks', 'count', '2 hours')],
    aggregation_interval => '1 hour');
SELECT fs_create_feature_view('ops_cont', 'ops_clicks', ARRAY['ops_user'],
    aggregations => ARRAY[fs_agg('clicks', 'sum', '1 day')]);

------------------------------------------------------------------------
-- fs_materialize: argument errors (no job row: there is no run)
------------------------------------------------------------------------
SELECT ops_try($$SELECT fs_materialize('ops_nope', '2024-01-01', '2024-01-02')$$);
SELECT ops_try($$SELECT fs_materialize('Bad Name', '2024-01-01', '2024-01-02')$$);
SELECT ops_try($$SELECT fs_materialize('ops_fv', NULL, '2024-01-02')$$);
SELECT ops_try($$SELECT fs_materialize('ops_fv', '2024-01-02', '2024-01-02')$$);
SELECT ops_try($$SELECT fs_materialize('ops_fv', '2024-01-02', '2024-01-01')$$);
SELECT ops_try($$SELECT fs_materialize('ops_fv', '-infinity', '2024-01-01')$$);
SELECT ops_try($$SELECT fs_materialize_incremental('ops_fv', NULL)$$);
-- a source without a batch table cannot be backfilled
-- (without a batch table or a log there is nothing to backfill from)
SELECT fs_create_push_source('ops_nobatch', 'user_id text, ts timestamptz, clicks int8', 'ts', log_offline => false);
SELECT fs_create_feature_view('ops_nobatch_fv', 'ops_nobatch', ARRAY['ops_user']);
SELECT ops_try($$SELECT fs_materialize('ops_nobatch_fv', '2024-01-01', '2024-01-02')$$);
SELECT ops_try($$SELECT fs_materialize_incremental('ops_nobatch_fv', '2024-01-02')$$);
SELECT count(*) AS jobs FROM pushsource.jobs;

------------------------------------------------------------------------
-- fs_materialize: backfill next to pushed events
------------------------------------------------------------------------
INSERT INTO public.ops_batch VALUES
    ('u1', '2024-01-01 10:00+00', 1, 'a'),
    ('u1', '2024-01-01 11:00+00', 2, 'b'),
    ('u2', '2024-01-01 10:30+00', 5, 'c'),   -- also pushed (same key and time): one event
    ('u2', '2024-01-01 13:00+00', 6, 'd'),   -- newer than u2's pushed event
    ('u3', '2024-01-02 09:00+00', 7, NULL),
    (NULL, '2024-01-01 10:00+00', 9, 'no key'),
    ('u4', 'infinity', 1, 'no finite time'),
    ('u5', '2024-01-05 00:00+00', 3, 'after the window');
SELECT fs_push('ops_clicks', '[{"user_id": "u1", "ts": "2024-01-01T12:00:00Z", "clicks": 100},
                               {"user_id": "u2", "ts": "2024-01-01T10:30:00Z", "clicks": 5}]') ->> 'records' AS pushed;
-- the window [2024-01-01, 2024-01-03) holds 6 batch rows (u4's infinite
-- time and u5 are outside): 4 are events (u1 10:00 and 11:00, u2 13:00,
-- u3); skipped: u2 10:30, which was pushed; rejected by the push
-- validator, as a pushed record would be: the null key, listed by its ctid
SELECT fs_materialize('ops_fv', '2024-01-01', '2024-01-03') - 'job';
SELECT fs_materialize('ops_tiled', '2024-01-01', '2024-01-03') - 'job';
SELECT fs_materialize('ops_cont', '2024-01-01', '2024-01-03') - 'job';
-- online: u1 keeps its pushed 12:00 value (fresher than the batch's 11:00);
-- u2's batch event at 13:00 is newer than the pushed 10:30; u3 is new
SELECT user_id, ts, clicks, _fs_ingest_id < 0 AS from_batch FROM pushsource_store.ops_fv_online ORDER BY 1;
-- offline: every event once, pushed and backfilled
SELECT user_id, ts, clicks, _fs_ingest_id < 0 AS from_batch FROM pushsource_store.ops_fv_offline ORDER BY 1, 2;
-- the pushed rows and the backfill's are separate tile rows of one block
SELECT user_id, block_start, _fs_batch FROM pushsource_store.ops_tiled_tiles ORDER BY 1, 2, 3;
-- served at 2024-01-02 10:00: 1-day window [01-01 10:00, 01-02 10:00):
-- u1 1 + 2 + 100 = 103, u2 5 + 6 = 11, u3 7; 2-hour [08:00, 10:00): u3's 1
SET pushsource.request_time = '2024-01-02 10:00+00';
SELECT fs_get_online_features('ops_tiled', '[{"user_id": "u1"}, {"user_id": "u2"}, {"user_id": "u3"}]');
-- continuous (01-01 10:00, 01-02 10:00]: u1's 10:00 is out: 2 + 100 = 102
SELECT fs_get_online_features('ops_cont', '[{"user_id": "u1"}, {"user_id": "u2"}, {"user_id": "u3"}]');
SELECT fs_get_online_features('ops_fv', '[{"user_id": "u1"}, {"user_id": "u2"}, {"user_id": "u3"}]');
RESET pushsource.request_time;
-- online and offline agree: the point-in-time join at 2024-01-02 10:00
SELECT * FROM fs_get_historical_features(
    $$SELECT * FROM (VALUES ('u1', '2024-01-02 10:00+00'::timestamptz), ('u2', '2024-01-02 10:00+00'),
                            ('u3', '2024-01-02 10:00+00')) s(user_id, ts)$$,
    ARRAY['ops_tiled', 'ops_cont', 'ops_fv']) AS t(user_id text, ts timestamptz,
    ops_tiled__clicks_sum_1d_1h int8, ops_tiled__clicks_count_2h_1h int8,
    ops_cont__clicks_sum_1d_continuous int8, ops_fv__clicks int8);

-- idempotent: the same window again changes no store's content
CREATE TABLE public.ops_before AS
SELECT 'online' AS store, to_jsonb(o) - '_fs_ingest_id' AS r FROM pushsource_store.ops_fv_online o
UNION ALL SELECT 'offline', to_jsonb(o) - '_fs_ingest_id' FROM pushsource_store.ops_fv_offline o
UNION ALL SELECT 'tiles', to_jsonb(o) FROM pushsource_store.ops_tiled_tiles o
UNION ALL SELECT 'events', to_jsonb(o) - '_fs_ingest_id' FROM pushsource_store.ops_cont_events o;
SELECT fs_materialize('ops_fv', '2024-01-01', '2024-01-03') ->> 'rows' AS rows;
SELECT fs_materialize('ops_tiled', '2024-01-01', '2024-01-03') ->> 'rows' AS rows;
SELECT fs_materialize('ops_cont', '2024-01-01', '2024-01-03') ->> 'rows' AS rows;
CREATE TABLE public.ops_after AS
SELECT 'online' AS store, to_jsonb(o) - '_fs_ingest_id' AS r FROM pushsource_store.ops_fv_online o
UNION ALL SELECT 'offline', to_jsonb(o) - '_fs_ingest_id' FROM pushsource_store.ops_fv_offline o
UNION ALL SELECT 'tiles', to_jsonb(o) FROM pushsource_store.ops_tiled_tiles o
UNION ALL SELECT 'events', to_jsonb(o) - '_fs_ingest_id' FROM pushsource_store.ops_cont_events o;
SELECT (SELECT count(*) FROM public.ops_before) AS rows_before,
       (SELECT count(*) FROM (SELECT * FROM public.ops_before EXCEPT ALL SELECT * FROM public.ops_after) x) AS only_before,
       (SELECT count(*) FROM (SELECT * FROM public.ops_after EXCEPT ALL SELECT * FROM public.ops_before) x) AS only_after;

-- a corrected batch row replaces its backfilled value in every store
UPDATE public.ops_batch SET clicks = 70 WHERE user_id = 'u3';
SELECT fs_materialize('ops_fv', '2024-01-02', '2024-01-03') ->> 'rows' AS rows;
SELECT fs_materialize('ops_tiled', '2024-01-02', '2024-01-03') ->> 'rows' AS rows;
SELECT user_id, clicks FROM pushsource_store.ops_fv_online WHERE user_id = 'u3';
SELECT user_id, ts, clicks FROM pushsource_store.ops_fv_offline WHERE user_id = 'u3';
-- the tiled view rebuilt its block [2023-12-31 12:00, 2024-01-03 00:00)
-- (60 one-hour tiles) from both materialized windows: u1 and u2 still count
SET pushsource.request_time = '2024-01-02 10:00+00';
SELECT fs_get_online_features('ops_tiled', '[{"user_id": "u1"}, {"user_id": "u2"}, {"user_id": "u3"}]');
RESET pushsource.request_time;

------------------------------------------------------------------------
-- fs_materialize_incremental
------------------------------------------------------------------------
-- continues from the last end (2024-01-03): picks up u5 at 2024-01-05
SELECT fs_materialize_incremental('ops_fv', '2024-01-06') - 'job';
SELECT fs_materialize_incremental('ops_fv', '2024-01-06') - 'job';
SELECT user_id, ts, clicks FROM pushsource_store.ops_fv_online WHERE user_id = 'u5';
-- a view never materialized starts at the batch table's first finite event
SELECT fs_create_feature_view('ops_fresh', 'ops_clicks', ARRAY['ops_user'], online => false);
SELECT fs_materialize_incremental('ops_fresh', '2024-01-02') ->> 'start_time' AS start_time;
-- or at its feature_start_time
SELECT fs_create_feature_view('ops_started', 'ops_clicks', ARRAY['ops_user'], online => false,
                              feature_start_time => '2024-01-01 10:45+00');
SELECT fs_materialize_incremental('ops_started', '2024-01-02') - 'job';

------------------------------------------------------------------------
-- A failing run is recorded, raised, and does not wedge the next runs
------------------------------------------------------------------------
-- (a batch row is refused by a trigger a DBA put on the offline store: the
-- run fails, not its checks)
RESET ROLE;
CREATE FUNCTION public.ops_sane() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    IF NEW.clicks >= 1000 THEN
        RAISE EXCEPTION 'ops_sane: % clicks is too many', NEW.clicks USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $f$;
CREATE TRIGGER ops_sane BEFORE INSERT ON pushsource_store.ops_fv_offline FOR EACH ROW EXECUTE FUNCTION public.ops_sane();
INSERT INTO public.ops_batch VALUES ('u9', '2024-01-06 12:00+00', 5000, 'too many');
SET ROLE ops_admin;
SELECT ops_try($$SELECT fs_materialize('ops_fv', '2024-01-06', '2024-01-07')$$);
SELECT ops_try($$SELECT fs_materialize('ops_fv', '2024-01-06', '2024-01-07')$$);
-- a scheduled run raises its failure too (pg_cron then records the run as
-- failed), after recording it as a job of its own
\set SHOW_CONTEXT never
SELECT pushsource_internal._scheduled_materialize('ops_fv') - 'job';
\set SHOW_CONTEXT errors
RESET ROLE;
DELETE FROM public.ops_batch WHERE user_id = 'u9';
DROP TRIGGER ops_sane ON pushsource_store.ops_fv_offline;
DROP FUNCTION public.ops_sane();
SET ROLE ops_admin;
-- a batch table pushsource_admin may not read is refused before the run
RESET ROLE;
REVOKE SELECT ON public.ops_batch FROM pushsource_admin;
SET ROLE ops_admin;
SELECT ops_try($$SELECT fs_materialize('ops_fv', '2024-01-06', '2024-01-07')$$);
RESET ROLE;
GRANT SELECT ON public.ops_batch TO pushsource_admin;
SET ROLE ops_admin;
SELECT fs_materialize('ops_fv', '2024-01-06', '2024-01-07') ->> 'state' AS state;
SELECT * FROM public.ops_jobs WHERE object = 'ops_fv';
SELECT object, window_start, state, error FROM fs_materialization_status('ops_fv', errors_only => true, verbose => true);
SELECT count(*) AS all_jobs, count(*) FILTER (WHERE state = 'failed') AS failed FROM fs_materialization_status(verbose => true);
SELECT ops_try($$SELECT * FROM fs_materialization_status('Not A Name')$$);

------------------------------------------------------------------------
-- fs_delete_keys
------------------------------------------------------------------------
-- errors before the job: no such view, nulls, nothing to delete
SELECT ops_try($$SELECT fs_delete_keys('ops_nope', '[{"user_id": "u1"}]')$$);
SELECT ops_try($$SELECT fs_delete_keys('ops_fv', NULL)$$);
SELECT ops_try($$SELECT fs_delete_keys('ops_fv', '[{"user_id": "u1"}]', online => false, offline => false)$$);
-- errors of the keys: each names the key's index and the join key; each is a failed job
SELECT ops_try($$SELECT fs_delete_keys('ops_fv', '"u1"')$$);
SELECT ops_try($$SELECT fs_delete_keys('ops_fv', '[{"user_id": "u1"}, 7]')$$);
SELECT ops_try($$SELECT fs_delete_keys('ops_fv', '[{"user_id": "u1"}, {"user_id": 7}]')$$);
SELECT ops_try($$SELECT fs_delete_keys('ops_fv', '[{"user_id": "u1", "device": "d"}]')$$);
SELECT ops_try($$SELECT fs_delete_keys('ops_fv', '[{}]')$$);
SELECT ops_try($$SELECT fs_delete_keys('ops_fv', '[{"user_id": null}]')$$);
SELECT object, state, rows, error, sqlstate FROM fs_deletion_status('ops_fv');
-- nothing was deleted by the failed calls
SELECT count(*) AS offline_rows FROM pushsource_store.ops_fv_offline WHERE user_id = 'u1';

-- u1 and u2 (u2 twice, and an unknown key): online and offline; the source's log,
-- which other views of the source read, keeps them (a source-level delete takes them)
SELECT fs_delete_keys('ops_fv', '[{"user_id": "u1"}, {"user_id": "u2"}, {"user_id": "u2"}, {"user_id": "zz"}]') - 'job';
SELECT user_id FROM pushsource_store.ops_fv_online ORDER BY 1;
SELECT user_id, count(*) FROM pushsource_store.ops_fv_offline GROUP BY 1 ORDER BY 1;
SELECT user_id, count(*) FROM pushsource_source.ops_clicks GROUP BY 1 ORDER BY 1;
-- other views of the source keep their rows: deletion is per view
SELECT user_id, count(*) FROM pushsource_store.ops_tiled_offline GROUP BY 1 ORDER BY 1;
-- online only: the tiled view's u3 (pushed and backfilled tile rows go)
SELECT fs_delete_keys('ops_tiled', '{"user_id": "u3"}', offline => false) - 'job';
SELECT user_id, _fs_batch FROM pushsource_store.ops_tiled_tiles ORDER BY 1, 2;
SELECT count(*) AS u3_offline FROM pushsource_store.ops_tiled_offline WHERE user_id = 'u3';
-- offline only, continuous view: its events stay online
SELECT fs_delete_keys('ops_cont', '[{"user_id": "u3"}]', online => false) - 'job';
SELECT user_id FROM pushsource_store.ops_cont_events WHERE user_id = 'u3';
SELECT count(*) AS u3_offline FROM pushsource_store.ops_cont_offline WHERE user_id = 'u3';
-- an empty key list deletes nothing, and is a job too
SELECT fs_delete_keys('ops_fv', '[]') - 'job';
SELECT object, state, rows, error FROM fs_deletion_status(errors_only => true) LIMIT 2;
SELECT count(*) AS deletions FROM fs_deletion_status();
SELECT ops_try($$SELECT * FROM fs_deletion_status('Not A Name')$$);
SELECT count(*) AS of_a_dropped_or_unknown_view FROM fs_deletion_status('ops_never');

-- compound keys: the full key is required; typed values
SELECT fs_create_push_source('ops_readings', 'user_id String, device Int64, ts Timestamp, v Float64', 'ts');
SELECT fs_create_feature_view('ops_pair', 'ops_readings', ARRAY['ops_user', 'ops_device']);
SELECT fs_push('ops_readings', '[{"user_id": "u1", "device": 1, "ts": "2024-01-01T00:00:00Z", "v": 1},
                                 {"user_id": "u1", "device": 2, "ts": "2024-01-01T00:00:00Z", "v": 2},
                                 {"user_id": "u2", "device": 1, "ts": "2024-01-01T00:00:00Z", "v": 3}]') ->> 'records' AS pushed;
SELECT ops_try($$SELECT fs_delete_keys('ops_pair', '[{"user_id": "u1"}]')$$);
SELECT ops_try($$SELECT fs_delete_keys('ops_pair', '[{"user_id": "u1", "device": "one"}]')$$);
SELECT fs_delete_keys('ops_pair', '[{"user_id": "u1", "device": "2"}, {"user_id": "u2", "device": 2}]') - 'job';
SELECT user_id, device, v FROM pushsource_store.ops_pair_online ORDER BY 1, 2;

-- a view without join keys: [{}] deletes its one entity
SELECT fs_create_push_source('ops_global', 'ts Timestamp, level Int64', 'ts');
SELECT fs_create_feature_view('ops_global_fv', 'ops_global', '{}');
SELECT fs_push('ops_global', '{"ts": "2024-01-01T00:00:00Z", "level": 4}') ->> 'records' AS pushed;
SELECT ops_try($$SELECT fs_delete_keys('ops_global_fv', '[{"x": 1}]')$$);
SELECT fs_delete_keys('ops_global_fv', '[{}]') - 'job';
SELECT count(*) AS online, (SELECT count(*) FROM pushsource_store.ops_global_fv_offline) AS offline
  FROM pushsource_store.ops_global_fv_online;

-- many keys in one call (no cap): 25,000 entities, all deleted
SELECT fs_create_push_source('ops_bulk', 'user_id text, ts timestamptz, clicks int8', 'ts');
SELECT fs_create_feature_view('ops_bulk_fv', 'ops_bulk', ARRAY['ops_user']);
SELECT fs_push('ops_bulk', (SELECT jsonb_agg(jsonb_build_object('user_id', 'm' || i, 'ts', '2024-02-01T00:00:00Z', 'clicks', i))
                                FROM generate_series(1, 25000) i)) ->> 'records' AS pushed;
SELECT fs_delete_keys('ops_bulk_fv', (SELECT jsonb_agg(jsonb_build_object('user_id', 'm' || i)) FROM generate_series(1, 25000) i))
       - 'job';
SELECT (SELECT count(*) FROM pushsource_store.ops_bulk_fv_online) AS online,
       (SELECT count(*) FROM pushsource_store.ops_bulk_fv_offline) AS offline,
       (SELECT count(*) FROM pushsource_source.ops_bulk) AS source_log_kept;
-- the source's log goes by a source-level delete (the view's stores are empty already)
SELECT fs_delete_keys('ops_bulk', (SELECT jsonb_agg(jsonb_build_object('user_id', 'm' || i)) FROM generate_series(1, 25000) i))
       - 'job';
SELECT count(*) AS source_log FROM pushsource_source.ops_bulk;

------------------------------------------------------------------------
-- Maintenance
------------------------------------------------------------------------
-- as of 2024-01-02 12:00: ops_fv's ttl (1 day) drops rows before
-- 2024-01-01 12:00 (u9, pushed for 2023-12-01; u3 and u5 stay); the tiled
-- view's 1-day window starts at 2024-01-01 12:00: u9's block, which ended
-- long before, goes; continuous events at or before 2024-01-01 12:00 go
-- (u9, u1 10:00, 11:00, 12:00 and u2 10:30); rejected records older than
-- 30 days go
SELECT fs_push('ops_clicks', '{"user_id": "u9", "ts": "2023-12-01T00:00:00Z", "clicks": 1}') ->> 'records' AS pushed;
SET pushsource.request_time = '2024-01-02 12:00+00';
RESET ROLE;
INSERT INTO pushsource.rejected_records (source, record_index, record, field, sqlstate, error, rejected_at)
VALUES ('ops_clicks', 0, '{}', NULL, '22023', 'old', '2023-11-01'),
       ('ops_clicks', 0, '{}', NULL, '22023', 'recent', '2023-12-20');
SET ROLE ops_admin;
SELECT user_id, block_start, _fs_batch FROM pushsource_store.ops_tiled_tiles ORDER BY 1, 2;
SELECT user_id, ts FROM pushsource_store.ops_cont_events ORDER BY 1, 2;
-- (the run covers every view of the database: this file's are shown)
CREATE TEMP TABLE ops_run AS SELECT fs_run_maintenance() AS r;
SELECT r ->> 'state' AS state, r -> 'rejected_records' AS rejected, r ->> 'rejected_retention' AS retention FROM ops_run;
SELECT key AS view, value AS deleted FROM ops_run, jsonb_each(r -> 'online') WHERE key LIKE 'ops\_%' ORDER BY key;
SELECT user_id, block_start, _fs_batch FROM pushsource_store.ops_tiled_tiles ORDER BY 1, 2;
SELECT user_id, ts FROM pushsource_store.ops_cont_events ORDER BY 1, 2;
SELECT error FROM pushsource.rejected_records WHERE source = 'ops_clicks' ORDER BY id;
SELECT user_id FROM pushsource_store.ops_fv_online ORDER BY 1;
-- the retention of rejected records is a setting, checked when used
SET pushsource.rejected_retention = '5 days';
SELECT fs_run_maintenance() -> 'rejected_records' AS rejected_deleted;
SET pushsource.rejected_retention = 'a week';
SELECT ops_try($$SELECT fs_run_maintenance()$$);
SET pushsource.rejected_retention = '-1 day';
SELECT ops_try($$SELECT fs_run_maintenance()$$);
RESET pushsource.rejected_retention;
-- job rows past pushsource.job_retention go, except succeeded
-- materializations, which say which windows are backfilled.  Four old rows
-- of a dropped view; every real job row here finished later.
RESET ROLE;
INSERT INTO pushsource.jobs (kind, object, window_start, window_end, state, rows, scheduled, run_by, started_at, finished_at)
VALUES ('materialization', 'ops_gone', '2023-01-01', '2023-01-02', 'succeeded', 1, true, 'x', '2023-01-02', '2023-01-02'),
       ('materialization', 'ops_gone', '2023-01-02', '2023-01-03', 'failed', 0, true, 'x', '2023-01-03', '2023-01-03'),
       ('deletion', 'ops_gone', NULL, NULL, 'succeeded', 1, false, 'x', '2023-01-03', '2023-01-03'),
       ('maintenance', '*', NULL, NULL, 'succeeded', 0, true, 'x', '2023-10-03', '2023-10-03 23:59');
SET ROLE ops_admin;
-- 1 year as of 2024-01-02 12:00 keeps what finished after 2023-01-02 12:00:
-- nothing goes (the succeeded materialization of 2023-01-02 is kept anyway)
SET pushsource.job_retention = '1 year';
SELECT r -> 'jobs' AS jobs_deleted, r ->> 'job_retention' AS job_retention FROM (SELECT fs_run_maintenance() AS r) x;
-- the default, 90 days, keeps what finished after 2023-10-04 12:00: the
-- failed materialization, the deletion and the maintenance row go
RESET pushsource.job_retention;
SELECT r -> 'jobs' AS jobs_deleted, r ->> 'job_retention' AS job_retention FROM (SELECT fs_run_maintenance() AS r) x;
SELECT kind, object, state, window_start FROM pushsource.jobs WHERE run_by = 'x';
SET pushsource.job_retention = 'forever';
SELECT ops_try($$SELECT fs_run_maintenance()$$);
RESET pushsource.job_retention;
RESET pushsource.request_time;
SELECT kind, object, state, error, attempt FROM public.ops_jobs WHERE kind = 'maintenance';

-- a read-only transaction (or a standby) runs no job, and records none
BEGIN READ ONLY;
SELECT fs_materialize('ops_fv', '2024-01-01', '2024-01-03');
ROLLBACK;
BEGIN READ ONLY;
SELECT ops_try($$SELECT fs_materialize_incremental('ops_fv', '2030-01-01')$$);
SELECT ops_try($$SELECT fs_delete_keys('ops_fv', '[{"user_id": "u1"}]')$$);
SELECT ops_try($$SELECT fs_run_maintenance()$$);
ROLLBACK;

------------------------------------------------------------------------
-- pg_cron
------------------------------------------------------------------------
-- without pg_cron in the database, scheduling fails with a hint; the rest works
SELECT ops_try($$SELECT fs_schedule_maintenance()$$);
SELECT ops_try($$SELECT fs_create_feature_view('ops_sched', 'ops_clicks', ARRAY['ops_user'], batch_schedule => '0 * * * *')$$);
SELECT count(*) AS ops_sched FROM pushsource.feature_views WHERE name = 'ops_sched';
RESET ROLE;
CREATE EXTENSION pg_cron;
GRANT USAGE ON SCHEMA cron TO pushsource_admin;
SET ROLE ops_admin;
SELECT fs_schedule_maintenance() > 0 AS scheduled;
SELECT fs_schedule_maintenance('*/10 * * * *') > 0 AS rescheduled;
SELECT fs_create_feature_view('ops_sched', 'ops_clicks', ARRAY['ops_user'], batch_schedule => '0 * * * *');
SELECT batch_schedule FROM pushsource.feature_views WHERE name = 'ops_sched';
SELECT jobname, schedule, command, database, username FROM cron.job ORDER BY jobname;
-- bad schedules: pg_cron's error, or ours for an empty one; a source without batch table
SELECT ops_try($$SELECT fs_create_feature_view('ops_sched2', 'ops_clicks', ARRAY['ops_user'], batch_schedule => 'every minute')$$);
SELECT ops_try($$SELECT fs_schedule_maintenance('')$$);
SELECT ops_try($$SELECT fs_create_feature_view('ops_sched3', 'ops_nobatch', ARRAY['ops_user'], batch_schedule => '0 * * * *')$$);
SELECT count(*) AS left_behind FROM pushsource.feature_views WHERE name IN ('ops_sched2', 'ops_sched3');
-- the job's body, called as pg_cron would: an incremental materialization
SELECT pushsource_internal._scheduled_materialize('ops_sched') ->> 'state' AS state;
SELECT kind, object, window_start, state, rows, scheduled FROM public.ops_jobs WHERE object = 'ops_sched';
SELECT pushsource_internal._scheduled_maintenance() ->> 'state' AS state;
-- dropping another view whose name matches it as a LIKE pattern ("_" is
-- any character) leaves its job alone (it removed it before)
SELECT fs_create_feature_view('ops_sche_', 'ops_clicks', ARRAY['ops_user']);
SELECT fs_drop('ops_sche_');
SELECT jobname FROM cron.job WHERE jobname LIKE 'pushsource:materialize:%' ORDER BY jobname;
-- dropping the view unschedules its job
SELECT fs_drop('ops_sched');
SELECT jobname FROM cron.job ORDER BY jobname;
-- a ttl is at most 36525 days, as windows are (a larger one broke every
-- maintenance run with 22008)
SELECT ops_try($$SELECT fs_create_feature_view('ops_ttl', 'ops_clicks', ARRAY['ops_user'], ttl => '1000000 years')$$);

-- a batch table's owner (any role) cannot run code as whoever backfills:
-- its column altered to the owner's type with an implicit cast is refused
-- (the cast ran as the superuser who materialized, before)
RESET ROLE;
CREATE ROLE ops_evil LOGIN;
GRANT CREATE ON SCHEMA public TO ops_evil;
CREATE TABLE public.ops_evil_ran (who name);
GRANT INSERT ON public.ops_evil_ran TO PUBLIC;
SET ROLE ops_evil;
CREATE TABLE public.ops_evil_bt (user_id text, ts timestamptz, clicks int8);
INSERT INTO public.ops_evil_bt VALUES ('e1', '2024-01-01 00:05+00', 5);
GRANT SELECT ON public.ops_evil_bt TO pushsource_admin;
SET ROLE ops_admin;
SELECT fs_create_push_source('ops_evil_src', 'user_id text, ts timestamptz, clicks int8', 'ts',
                             batch_table => 'public.ops_evil_bt');
SELECT fs_create_feature_view('ops_evil_fv', 'ops_evil_src', ARRAY['ops_user']);
SELECT fs_materialize('ops_evil_fv', '2024-01-01', '2024-01-02') ->> 'rows' AS rows;
SET ROLE ops_evil;
CREATE TYPE public.ops_evi AS (x bigint);
CREATE FUNCTION public.ops_evcast(public.ops_evi) RETURNS bigint LANGUAGE plpgsql AS $f$
BEGIN INSERT INTO public.ops_evil_ran VALUES (current_user); RETURN ($1).x; END $f$;
CREATE CAST (public.ops_evi AS bigint) WITH FUNCTION public.ops_evcast(public.ops_evi) AS IMPLICIT;
ALTER TABLE public.ops_evil_bt ALTER COLUMN clicks TYPE public.ops_evi USING ROW(clicks)::public.ops_evi;
RESET ROLE;
SELECT ops_try($$SELECT fs_materialize('ops_evil_fv', '2024-01-01', '2024-01-02')$$);
SELECT ops_try($$SELECT fs_materialize_incremental('ops_evil_fv', '2024-01-03')$$);
SELECT count(*) AS cast_ran FROM public.ops_evil_ran;
SELECT fs_drop('ops_evil_src', cascade => true);
DROP TABLE public.ops_evil_bt, public.ops_evil_ran;
SET client_min_messages = warning;
DROP TYPE public.ops_evi CASCADE;   -- and its cast and cast function
RESET client_min_messages;
REVOKE CREATE ON SCHEMA public FROM ops_evil;
DROP ROLE ops_evil;

RESET ROLE;
DROP VIEW public.ops_jobs;
DROP TABLE public.ops_before, public.ops_after, ops_run;
DROP FUNCTION public.ops_try(text);

-- (the request time of maintenance SET before the library loads: in
-- test/t/008_logical.pl, on a server that does not preload pushsource)

-- clean up: roles are cluster-wide, and installcheck may run again on this
-- server; the maintenance job runs as ops_admin, so it goes first (a job
-- of a dropped role makes pg_cron's launcher fail)
SET ROLE ops_admin;
SELECT cron.unschedule('pushsource:maintenance');
RESET ROLE;
SELECT count(*) AS jobs_of_ops_admin FROM cron.job WHERE username = 'ops_admin';
DROP OWNED BY ops_admin;
DROP ROLE ops_admin;
