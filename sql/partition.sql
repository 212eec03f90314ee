-- Time-partitioned history: a source log and an offline store created with
-- partition_interval are range-partitioned by event time.  Partitions are
-- made ahead by maintenance and on demand by backfills, a default
-- partition takes what no partition does (maintenance moves it out later),
-- retention (source_retention, offline_retention) drops whole partitions,
-- and the point-in-time join reads only the partitions its spine reaches.
-- Every time here is fixed through pushsource.request_time, so partition
-- names and counts are the same on every run.  Objects are named pt_*.
SET search_path = pushsource, pushsource_source, public;
SET timezone = 'UTC';
SET datestyle = ISO;
SET intervalstyle = postgres;
\set SHOW_CONTEXT never

-- pt_try(sql): 'ok', or the error's SQLSTATE and message
CREATE FUNCTION public.pt_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- pt_parts(table): its partitions, bounds and row counts (read through the
-- parent: only the extension's owner may name a partition)
CREATE FUNCTION public.pt_parts(tbl regclass)
RETURNS TABLE (part text, lower timestamptz, upper timestamptz, is_default boolean, n bigint)
LANGUAGE plpgsql AS $$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT * FROM pushsource_internal._partitions(tbl) x ORDER BY x.is_default DESC, x.lower LOOP
        part := p.partition::text; lower := p.lower; upper := p.upper; is_default := p.is_default;
        EXECUTE format('SELECT count(*) FROM %s WHERE tableoid = $1', tbl) INTO n USING p.partition;
        RETURN NEXT;
    END LOOP;
END
$$;

CREATE ROLE pt_admin LOGIN IN ROLE pushsource_admin;
CREATE ROLE pt_writer LOGIN IN ROLE pushsource_writer, pushsource_reader;
GRANT CREATE ON SCHEMA public TO pt_admin;
SET ROLE pt_admin;

------------------------------------------------------------------------
-- Creation: the parent, its default partition, now's and 4 more
------------------------------------------------------------------------

SET pushsource.request_time = '2024-03-10 12:00:00+00';
SELECT fs_create_entity('pt_user', ARRAY['user_id']);
SELECT fs_create_push_source('pt_ev', 'user_id text, ts timestamptz, amount int8', 'ts',
                             partition_interval => interval '1 day', source_retention => interval '5 days');
-- pt_attr: partitioned offline store; pt_twin: the same view, one table
SELECT fs_create_feature_view('pt_attr', 'pt_ev', ARRAY['pt_user'], ttl => interval '1 day',
                              partition_interval => interval '1 day', offline_retention => interval '8 days');
SELECT fs_create_feature_view('pt_twin', 'pt_ev', ARRAY['pt_user'], ttl => interval '1 day',
                              offline_retention => interval '8 days');
-- hourly partitions are named by their hour too
SELECT fs_create_feature_view('pt_hourly', 'pt_ev', ARRAY['pt_user'], online => false,
                              partition_interval => interval '6 hours');
SELECT relkind FROM pg_class WHERE oid IN ('pushsource_source.pt_ev'::regclass, 'pushsource_store.pt_attr_offline'::regclass,
                                           'pushsource_store.pt_twin_offline'::regclass) ORDER BY relname;
SELECT * FROM pt_parts('pushsource_source.pt_ev');
SELECT part, lower, upper FROM pt_parts('pushsource_store.pt_hourly_offline');
SELECT name, partition_interval, source_retention FROM pushsource.push_sources WHERE name = 'pt_ev';
SELECT name, partition_interval, offline_retention FROM pushsource.feature_views WHERE name LIKE 'pt\_%' ORDER BY name;
SELECT fs_summary('pt_attr') -> 'partition_interval' AS summary_interval, fs_validate('pt_ev') ->> 'valid' AS ev_valid,
       fs_validate('pt_attr') ->> 'valid' AS attr_valid;
-- every partition can be published (replica identity) and has no grants;
-- a source log's partitions fan out an INSERT made straight into them
SELECT c.relname, c.relreplident, c.relacl,
       (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = 'zz_pushsource_fanout'
           AND NOT t.tgisinternal AND t.tgparentid = 0) AS own_fanout_trigger
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'pushsource_partition' AND c.relname LIKE 'pt\_ev\_%' ORDER BY c.relname;

------------------------------------------------------------------------
-- Pushes go where their event time belongs
------------------------------------------------------------------------

-- one event per hour for u0, u1, u2 from 1 March 00:00 to 10 March 11:00:
-- 228 hours, 684 events; 10 March's 36 land in its partition, the 648
-- older ones in the default partition
SELECT fs_push('pt_ev', (SELECT jsonb_agg(jsonb_build_object('user_id', 'u' || u, 'ts', timestamptz '2024-03-01' + make_interval(hours => h),
                                                               'amount', h * 10 + u))
                           FROM generate_series(0, 227) h, generate_series(0, 2) u)) ->> 'records' AS pushed;
SELECT * FROM pt_parts('pushsource_source.pt_ev');
SELECT part, n FROM pt_parts('pushsource_store.pt_attr_offline') WHERE n > 0;
SELECT count(*) AS twin_rows FROM pushsource_store.pt_twin_offline;
-- INSERT and COPY into the parent take the same road
INSERT INTO pt_ev VALUES ('u3', '2024-03-11 01:00+00', 1);
COPY pt_ev FROM stdin;
u3	2024-03-11 02:00:00+00	2
\.
SELECT part, n FROM pt_parts('pushsource_store.pt_attr_offline') WHERE part LIKE '%20240311';
SELECT fs_get_online_features('pt_attr', '{"user_id": "u3"}');

-- nobody but the extension's owner names a partition: the parent's
-- privileges are the ones that count
SET ROLE pt_writer;
SELECT pt_try($$INSERT INTO pushsource_partition.pt_ev_p20240311 VALUES ('u4', '2024-03-11 03:00+00', 4)$$);
SELECT count(*) AS writer_reads_parent FROM pushsource_source.pt_ev;
SET ROLE pt_admin;
-- an INSERT straight into a partition (as its owner) is fanned out too
RESET ROLE;
INSERT INTO pushsource_partition.pt_ev_p20240311 VALUES ('u4', '2024-03-11 03:00+00', 4);
SET ROLE pt_admin;
SELECT fs_get_online_features('pt_attr', '{"user_id": "u4"}');
SELECT count(*) AS u4_offline FROM pushsource_store.pt_attr_offline WHERE user_id = 'u4';

------------------------------------------------------------------------
-- The point-in-time join reads only the partitions its spine reaches
------------------------------------------------------------------------

CREATE TABLE public.pt_spine AS
SELECT 'u' || u AS user_id, timestamptz '2024-03-10 05:30+00' - make_interval(hours => 7 * k) AS ts
  FROM generate_series(0, 3) u, generate_series(0, 2) k;
-- ttl 1 day, spine from 9 March 15:30 to 10 March 05:30: rows from 8 March
-- 15:30 on, which only the default partition (all before 10 March, until
-- maintenance) and 10 March's hold: 2 of the 6
SET client_min_messages = debug1;
SELECT count(*) FROM fs_get_historical_features('pt_spine', ARRAY['pt_attr.amount'])
    AS t(user_id text, ts timestamptz, amount int8);
SELECT count(*) FROM fs_get_historical_features('pt_spine', ARRAY['pt_attr.amount'], from_source => true)
    AS t(user_id text, ts timestamptz, amount int8);
RESET client_min_messages;
-- the same answers as the one-table twin, from the store and from the log;
-- by hand: u0 at 10 March 05:30 has the event of 05:00, 9*24+5 = 221 hours
-- after 1 March: 2210
SELECT md5(string_agg(format('%s|%s|%s', user_id, ts, amount), ',' ORDER BY user_id, ts)) AS partitioned
  FROM fs_get_historical_features('pt_spine', ARRAY['pt_attr.amount']) AS t(user_id text, ts timestamptz, amount int8)
\gset
SELECT md5(string_agg(format('%s|%s|%s', user_id, ts, amount), ',' ORDER BY user_id, ts)) = :'partitioned' AS same_as_twin
  FROM fs_get_historical_features('pt_spine', ARRAY['pt_twin.amount']) AS t(user_id text, ts timestamptz, amount int8);
SELECT md5(string_agg(format('%s|%s|%s', user_id, ts, amount), ',' ORDER BY user_id, ts)) = :'partitioned' AS same_from_log
  FROM fs_get_historical_features('pt_spine', ARRAY['pt_attr.amount'], from_source => true)
       AS t(user_id text, ts timestamptz, amount int8);
SELECT * FROM fs_get_historical_features('pt_spine', ARRAY['pt_attr.amount']) AS t(user_id text, ts timestamptz, amount int8)
 WHERE user_id IN ('u0', 'u3') ORDER BY user_id, ts;
-- a range read of one day: 3 users x 24 hours
SELECT count(*) AS one_day FROM fs_get_historical_features('pt_attr', '2024-03-09'::timestamptz, '2024-03-10'::timestamptz, NULL)
    AS t(user_id text, ts timestamptz, amount int8);

------------------------------------------------------------------------
-- Maintenance: partitions ahead, rows out of the default partition,
-- retention by whole partitions
------------------------------------------------------------------------

-- now 10 March 12:00, source_retention 5 days: kept from 5 March 12:00.
-- 5 to 9 March get partitions (5 x 72 rows moved: the whole day of 5
-- March, retention drops whole partitions); 1 to 4 March (4 x 72 = 288
-- rows) are deleted from the default partition.  The offline store keeps
-- 8 days (from 2 March 12:00): 2 to 9 March move (8 x 72 = 576), 1 March
-- (72) is deleted.  The one-table twin deletes row by row: 1 March and 2
-- March before noon, 72 + 36 = 108.
SELECT j ->> 'state' AS state, jsonb_pretty(j -> 'history') AS history FROM fs_run_maintenance() j;
SELECT * FROM pt_parts('pushsource_source.pt_ev');
SELECT count(*) AS attr_rows, min(ts) AS attr_oldest FROM pushsource_store.pt_attr_offline;
SELECT count(*) AS twin_rows, min(ts) AS twin_oldest FROM pushsource_store.pt_twin_offline;
-- nothing moved or lost: a second run changes nothing
SELECT j -> 'history' FROM fs_run_maintenance() j;
-- the same spine now reads 8, 9 and 10 March and the (empty) default
-- partition: 4 of the 14 (the store keeps 2 March on); the answers are
-- the twin's still
SET client_min_messages = debug1;
SELECT md5(string_agg(format('%s|%s|%s', user_id, ts, amount), ',' ORDER BY user_id, ts)) = :'partitioned' AS same_after
  FROM fs_get_historical_features('pt_spine', ARRAY['pt_attr.amount']) AS t(user_id text, ts timestamptz, amount int8);
RESET client_min_messages;

-- two days later (12 March 12:00): kept from 7 March 12:00, so 5 and 6
-- March are dropped whole (7 March is kept: it ends after the cutoff);
-- 15 and 16 March are made ahead
SET pushsource.request_time = '2024-03-12 12:00:00+00';
SELECT j -> 'history' -> 'pt_ev' FROM fs_run_maintenance() j;
SELECT part, lower, n FROM pt_parts('pushsource_source.pt_ev');
-- the join after retention: 6 March 12:00 is gone from the log (kept
-- from 7 March) but not from the offline store (kept from 4 March 12:00):
-- the event of 6 March 12:00 is 5*24+12 = 132 hours in, 1320
SELECT 'log' AS read_from, * FROM fs_get_historical_features($$SELECT 'u0'::text AS user_id, timestamptz '2024-03-06 12:00+00' AS ts$$,
                                        ARRAY['pt_attr.amount'], from_source => true) AS t(user_id text, ts timestamptz, amount int8)
UNION ALL
SELECT 'store', * FROM fs_get_historical_features($$SELECT 'u0'::text AS user_id, timestamptz '2024-03-06 12:00+00' AS ts$$,
                                        ARRAY['pt_attr.amount']) AS t(user_id text, ts timestamptz, amount int8);

------------------------------------------------------------------------
-- Backfill creates the partitions of its window
------------------------------------------------------------------------

CREATE TABLE public.pt_batch (user_id text, ts timestamptz, amount int8);
GRANT SELECT ON public.pt_batch TO pushsource_admin;
INSERT INTO public.pt_batch
SELECT 'u' || u, timestamptz '2024-02-01' + make_interval(hours => h), h
  FROM generate_series(0, 47) h, generate_series(0, 1) u;
SELECT fs_create_push_source('pt_bsrc', 'user_id text, ts timestamptz, amount int8', 'ts',
                             batch_table => 'public.pt_batch');
SELECT fs_create_feature_view('pt_bview', 'pt_bsrc', ARRAY['pt_user'],
                              partition_interval => interval '1 day');
SELECT j ->> 'state' AS state, j ->> 'rows' AS rows, j ->> 'offline' AS offline
  FROM fs_materialize('pt_bview', '2024-02-01', '2024-02-03') j;
SELECT part, lower, n FROM pt_parts('pushsource_store.pt_bview_offline') WHERE n > 0 OR lower < '2024-03-01';

------------------------------------------------------------------------
-- Keys are deleted in every partition; a FOR ALL TABLES publication
-- publishes the deletes (every partition has a replica identity)
------------------------------------------------------------------------

RESET ROLE;
SET client_min_messages = error;   -- (wal_level is not logical here: a WARNING)
CREATE PUBLICATION pt_all FOR ALL TABLES;
RESET client_min_messages;
SET ROLE pt_admin;
SELECT j - 'job' FROM fs_delete_keys('pt_attr', '[{"user_id": "u1"}]') j;
SELECT count(*) AS u1_left FROM pushsource_store.pt_attr_offline WHERE user_id = 'u1';
SELECT count(*) AS u1_log_kept FROM pushsource_source.pt_ev WHERE user_id = 'u1';
SELECT j - 'job' FROM fs_delete_keys('pt_ev', '[{"user_id": "u1"}]') j;
SELECT count(*) AS u1_log_left FROM pushsource_source.pt_ev WHERE user_id = 'u1';
SET pushsource.request_time = '2024-03-20 12:00:00+00';
SELECT j -> 'history' -> 'pt_ev' -> 'source log' ->> 'partitions_dropped' AS dropped, j ->> 'state' AS state
  FROM fs_run_maintenance() j;
RESET ROLE;
DROP PUBLICATION pt_all;
SET ROLE pt_admin;

------------------------------------------------------------------------
-- Errors
------------------------------------------------------------------------

SELECT pt_try($$SELECT fs_create_push_source('pt_bad', 'id text, ts timestamptz', 'ts', partition_interval => interval '1 month')$$);
SELECT pt_try($$SELECT fs_create_push_source('pt_bad', 'id text, ts timestamptz', 'ts', partition_interval => interval '30 minutes')$$);
SELECT pt_try($$SELECT fs_create_push_source('pt_bad', 'id text, ts timestamptz', 'ts', partition_interval => interval '-1 day')$$);
SELECT pt_try($$SELECT fs_create_push_source('pt_bad', 'id text, ts timestamptz', 'ts', partition_interval => interval '4000 days')$$);
SELECT pt_try($$SELECT fs_create_push_source('pt_bad', 'id text, ts timestamptz', 'ts', source_retention => interval '0')$$);
SELECT pt_try($$SELECT fs_create_push_source('pt_bad', 'id text, ts timestamptz', 'ts', log_offline => false,
                                             partition_interval => interval '1 day')$$);
SELECT pt_try($$SELECT fs_create_push_source('pt_bad', 'id text, ts timestamptz', 'ts', log_offline => false,
                                             source_retention => interval '1 day')$$);
SELECT pt_try($$SELECT fs_create_feature_view('pt_bad', 'pt_ev', ARRAY['pt_user'], offline => false,
                                              partition_interval => interval '1 day')$$);
SELECT pt_try($$SELECT fs_create_feature_view('pt_bad', 'pt_ev', ARRAY['pt_user'], offline => false,
                                              offline_retention => interval '1 day')$$);
SELECT pt_try($$SELECT fs_create_feature_view('pt_bad', 'pt_ev', ARRAY['pt_user'], offline_retention => interval '-2 days')$$);
-- nothing of a refused creation is left
SELECT count(*) AS leftovers FROM pg_class WHERE relname LIKE 'pt\_bad%';
SELECT count(*) AS leftovers FROM pushsource_internal.object_registry WHERE name = 'pt_bad';

------------------------------------------------------------------------
-- Dropping drops the partitions
------------------------------------------------------------------------

SELECT fs_drop('pt_ev', "cascade" => true);
SELECT fs_drop('pt_bsrc', "cascade" => true);
SELECT count(*) AS partitions_left FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'pushsource_partition' AND c.relname LIKE 'pt\_%';
SELECT fs_drop('pt_user');
RESET pushsource.request_time;
RESET ROLE;
DROP TABLE public.pt_spine, public.pt_batch;
DROP FUNCTION public.pt_try(text), public.pt_parts(regclass);
REVOKE CREATE ON SCHEMA public FROM pt_admin;
DROP ROLE pt_admin, pt_writer;
