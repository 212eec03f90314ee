/*
 * pushsource--0.3--0.4.sql
 *
 * Backfill through the push path: fs_materialize feeds batch rows through
 * the push validator and the push fan-out (src/backfill.c), instead of a
 * PL/pgSQL copy of the fan-out.  Bad batch rows are counted and listed in
 * the job's result ("rejected", "errors") instead of being skipped
 * silently; the tie rule, the tiles and the events are the push's.
 *
 * Key deletion and the pruning of online stores are C too (store.c
 * builds their statements, as it does the fan-out's).
 *
 * fs_materialize_proc: a long backfill window by window, each window its
 * own job and transaction, with progress (NOTICE, and the job's details).
 */
\echo Use "ALTER EXTENSION pushsource UPDATE TO '0.4'" to load this file. \quit

DROP FUNCTION pushsource._tiles_insert_sql(text, text);

CREATE FUNCTION pushsource._backfill(feature_view text, start_time timestamptz, end_time timestamptz)
RETURNS jsonb LANGUAGE c STRICT VOLATILE
AS 'MODULE_PATHNAME', 'fs_backfill';
COMMENT ON FUNCTION pushsource._backfill(text, timestamptz, timestamptz) IS
  'internal: a window of the batch table through the push validator and fan-out, to one view''s stores';

CREATE OR REPLACE FUNCTION pushsource._materialize(p_view text, p_start timestamptz, p_end timestamptz)
RETURNS jsonb LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.jsonb_build_object('feature_view', p_view, 'start_time', p_start, 'end_time', p_end)
           OPERATOR(pg_catalog.||) pushsource._backfill(p_view, p_start, p_end)
$$;
COMMENT ON FUNCTION pushsource._materialize(text, timestamptz, timestamptz) IS
  'internal: the work of fs_materialize';

REVOKE ALL ON FUNCTION pushsource._backfill(text, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pushsource._backfill(text, timestamptz, timestamptz) TO pushsource_admin;

CREATE OR REPLACE FUNCTION pushsource._job(p_kind text, p_object text, p_start timestamptz, p_end timestamptz,
    p_args jsonb, p_scheduled boolean)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    started timestamptz := pg_catalog.clock_timestamp();
    r       jsonb;
    jid     bigint;
    st      text;
    msg     text;
    det     text;
    hnt     text;
BEGIN
    -- a standby, or a read-only transaction, can neither run a job nor
    -- record its failure: refused before anything starts
    IF pg_catalog.current_setting('transaction_read_only')::boolean THEN
        RAISE EXCEPTION 'cannot run % in a read-only transaction',
                        CASE WHEN p_kind = 'maintenance' THEN 'maintenance'
                             ELSE pg_catalog.format('the %s of feature view "%s"', p_kind, p_object) END
            USING ERRCODE = 'read_only_sql_transaction',
                  DETAIL = CASE WHEN pg_catalog.pg_is_in_recovery() THEN 'This server is a standby; it serves reads only.'
                                ELSE 'transaction_read_only is on.' END,
                  HINT = CASE WHEN pg_catalog.pg_is_in_recovery() THEN 'Run it on the primary.'
                              ELSE 'Run it in a read-write transaction.' END;
    END IF;
    BEGIN
        IF p_kind = 'deletion' THEN
            r := pushsource._delete_keys(p_object, p_args -> 'keys', (p_args ->> 'online')::boolean,
                                          (p_args ->> 'offline')::boolean);
        ELSIF p_kind = 'materialization' THEN
            r := pushsource._materialize(p_object, p_start, p_end);
        ELSE
            r := pushsource._maintain();
        END IF;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
                                hnt = PG_EXCEPTION_HINT;
        jid := pushsource._job_failed(p_kind, p_object, p_start, p_end, msg, st, p_scheduled, started);
        -- raised for pg_cron too, so that cron.job_run_details says failed;
        -- the failure's row is in pushsource.jobs already (its own transaction)
        IF p_scheduled THEN
            det := pg_catalog.concat_ws(E'\n', NULLIF(det, ''),
                       pg_catalog.format('Recorded as job %s in pushsource.jobs.', coalesce(jid::text, '(not recorded)')));
        END IF;
        PERFORM pushsource._reraise(st, msg, det, hnt);
    END;
    -- a window of fs_materialize_proc: its progress, with this window's rows read
    IF p_kind = 'materialization' AND p_args ? 'progress' THEN
        r := r || pg_catalog.jsonb_build_object('progress', ((p_args -> 'progress') - 'rows_before')
                 || pg_catalog.jsonb_build_object('rows_done', (p_args #>> '{progress,rows_before}')::bigint
                        + coalesce((r ->> 'rows')::bigint, 0) + coalesce((r ->> 'skipped')::bigint, 0)
                        + coalesce((r ->> 'rejected')::bigint, 0)));
    END IF;
    INSERT INTO pushsource.jobs (kind, object, window_start, window_end, state, rows, details,
                                  attempt, scheduled, started_at)
    VALUES (p_kind, p_object, p_start, p_end, 'succeeded', coalesce((r ->> 'rows')::bigint, 0), r,
            pushsource._job_attempt(p_kind, p_object, p_start), p_scheduled, started)
    RETURNING id INTO jid;
    RETURN pg_catalog.jsonb_build_object('job', jid, 'state', 'succeeded') || r;
END
$$;

------------------------------------------------------------------------
-- Long backfills: window by window, each committed, with progress
------------------------------------------------------------------------

-- The windows of fs_materialize_proc, and how many batch rows they hold
-- (read once, for the progress report).
CREATE FUNCTION pushsource._materialize_windows(p_view text, p_start timestamptz, p_end timestamptz,
    p_window interval)
RETURNS TABLE (n int, windows int, window_start timestamptz, window_end timestamptz, rows_total bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s     pushsource.source_catalog;
    total bigint;
    cnt   bigint;
BEGIN
    PERFORM pushsource._check_materialize('fs_materialize_proc', p_view, p_start, p_end);
    IF p_window IS NULL OR p_start + p_window <= p_start THEN
        RAISE EXCEPTION 'fs_materialize_proc("%"): window_size must be a positive interval, got %', p_view,
                        coalesce(p_window::text, 'null')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example interval ''1 day''.';
    END IF;
    SELECT pg_catalog.count(*) INTO cnt FROM pg_catalog.generate_series(p_start, p_end - interval '1 microsecond', p_window);
    IF cnt > 100000 THEN
        RAISE EXCEPTION 'fs_materialize_proc("%"): [%, %) in windows of % makes % windows, more than 100000',
                        p_view, p_start, p_end, p_window, cnt
            USING ERRCODE = 'program_limit_exceeded', HINT = 'Choose a longer window_size.';
    END IF;
    SELECT x.* INTO s FROM pushsource.view_catalog v JOIN pushsource.source_catalog x ON x.name = v.source
     WHERE v.name = p_view;
    EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM %s WHERE %I >= $1 AND %I < $2',
                              s.batch_table, s.timestamp_field, s.timestamp_field)
       INTO total USING p_start, p_end;
    RETURN QUERY
    SELECT g.o::int, cnt::int, g.t, LEAST(g.t + p_window, p_end), total
      FROM pg_catalog.generate_series(p_start, p_end - interval '1 microsecond', p_window) WITH ORDINALITY AS g(t, o)
     ORDER BY g.o;
END
$$;
COMMENT ON FUNCTION pushsource._materialize_windows(text, timestamptz, timestamptz, interval) IS
  'internal: the windows of fs_materialize_proc and the batch rows they hold';

-- One window of fs_materialize_proc: a materialization job, its progress
-- in the job's details and as a NOTICE.  Returns the batch rows read so far.
CREATE FUNCTION pushsource._materialize_window(p_view text, p_n int, p_windows int,
    p_start timestamptz, p_end timestamptz, p_total bigint, p_done bigint)
RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r    jsonb;
    done bigint;
    st   text;
    msg  text;
    det  text;
    hnt  text;
BEGIN
    BEGIN
        r := pushsource._job('materialization', p_view, p_start, p_end,
                 jsonb_build_object('progress', jsonb_build_object('window', p_n, 'windows', p_windows,
                                                                   'rows_before', p_done, 'rows_total', p_total)),
                 false);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
                                hnt = PG_EXCEPTION_HINT;
        msg := pg_catalog.format('fs_materialize_proc("%s"), window %s of %s [%s, %s): %s',
                                 p_view, p_n, p_windows, p_start, p_end, msg);
        hnt := pg_catalog.concat_ws(E'\n', NULLIF(hnt, ''),
                   CASE WHEN p_n > 1 THEN pg_catalog.format('The windows before %s are committed; CALL the procedure again from there to go on.', p_start)
                        ELSE 'Nothing was committed.' END);
        PERFORM pushsource._reraise(st, msg, det, hnt);
    END;
    done := (r #>> '{progress,rows_done}')::bigint;
    RAISE NOTICE 'fs_materialize_proc("%"): window % of % [%, %) done, % rows written; batch rows read: % of % (%)',
        p_view, p_n, p_windows, p_start, p_end, r ->> 'rows', done, p_total,
        (CASE WHEN p_total > 0 THEN pg_catalog.round(100.0 * done / p_total) ELSE 100 END)::text || '%';
    RETURN done;
END
$$;
COMMENT ON FUNCTION pushsource._materialize_window(text, int, int, timestamptz, timestamptz, bigint, bigint) IS
  'internal: one window of fs_materialize_proc';

-- No SET clause: a procedure with one cannot commit.  Its body names only
-- schema-qualified functions of the extension and compares nothing, so
-- the caller's search_path can change nothing in it (sql/trojan.sql calls
-- it with a trojan path).
CREATE PROCEDURE pushsource.fs_materialize_proc(feature_view text, start_time timestamptz,
    end_time timestamptz, window_size interval DEFAULT '1 day')
LANGUAGE plpgsql AS $$
DECLARE
    w    record;
    done bigint := 0;
BEGIN
    FOR w IN SELECT * FROM pushsource._materialize_windows(feature_view, start_time, end_time, window_size) LOOP
        done := pushsource._materialize_window(feature_view, w.n, w.windows, w.window_start, w.window_end,
                                                w.rows_total, done);
        COMMIT;
    END LOOP;
END
$$;
COMMENT ON PROCEDURE pushsource.fs_materialize_proc(text, timestamptz, timestamptz, interval) IS
  'backfills [start_time, end_time) as fs_materialize does, one window_size at a time, each window its own job and transaction, reporting progress; CALL it outside a transaction block';

REVOKE ALL ON FUNCTION pushsource._materialize_windows(text, timestamptz, timestamptz, interval),
    pushsource._materialize_window(text, int, int, timestamptz, timestamptz, bigint, bigint) FROM PUBLIC;
REVOKE ALL ON PROCEDURE pushsource.fs_materialize_proc(text, timestamptz, timestamptz, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pushsource._materialize_windows(text, timestamptz, timestamptz, interval),
    pushsource._materialize_window(text, int, int, timestamptz, timestamptz, bigint, bigint) TO pushsource_admin;
GRANT EXECUTE ON PROCEDURE pushsource.fs_materialize_proc(text, timestamptz, timestamptz, interval) TO pushsource_admin;

CREATE OR REPLACE FUNCTION pushsource._delete_keys(p_view text, p_keys jsonb, p_online boolean, p_offline boolean)
RETURNS jsonb LANGUAGE c STRICT VOLATILE
AS 'MODULE_PATHNAME', 'fs_delete_keys_run';

CREATE FUNCTION pushsource._prune_online(feature_view text, now timestamptz)
RETURNS bigint LANGUAGE c STRICT VOLATILE
AS 'MODULE_PATHNAME', 'fs_prune_online';
COMMENT ON FUNCTION pushsource._prune_online(text, timestamptz) IS
  'internal: deletes from a view''s online store what no read at or after now can see (ttl, windows)';

CREATE OR REPLACE FUNCTION pushsource._maintain()
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t0      timestamptz := pushsource._now();
    v       record;
    n       bigint;
    total   bigint := 0;
    views   jsonb := '{}';
    keep    interval;
    keep_jobs interval;
    n_jobs  bigint;
BEGIN
    FOR v IN SELECT x.name FROM pushsource.view_catalog x
              WHERE x.online_table IS NOT NULL AND (x.ttl IS NOT NULL OR x.aggregations IS NOT NULL)
              ORDER BY x.name LOOP
        n := pushsource._prune_online(v.name, t0);
        views := views || pg_catalog.jsonb_build_object(v.name, n);
        total := total + n;
    END LOOP;
    keep := pushsource._retention('pushsource.rejected_retention', '30 days');
    keep_jobs := pushsource._retention('pushsource.job_retention', '90 days');
    DELETE FROM pushsource.rejected_records r WHERE r.rejected_at < t0 - keep;
    GET DIAGNOSTICS n = ROW_COUNT;
    -- A succeeded materialization is kept whatever its age: the windows
    -- backfilled so far are where fs_materialize_incremental goes on from,
    -- and the batch tiles are rebuilt from them.
    DELETE FROM pushsource.jobs j WHERE j.finished_at < t0 - keep_jobs
       AND NOT (j.kind = 'materialization' AND j.state = 'succeeded');
    GET DIAGNOSTICS n_jobs = ROW_COUNT;
    RETURN pg_catalog.jsonb_build_object('rows', total + n + n_jobs, 'as_of', t0, 'online', views,
                                         'rejected_records', n, 'rejected_retention', keep,
                                         'jobs', n_jobs, 'job_retention', keep_jobs);
END
$$;

REVOKE ALL ON FUNCTION pushsource._prune_online(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pushsource._prune_online(text, timestamptz) TO pushsource_admin;
