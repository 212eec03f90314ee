/*
 * pushsource--0.4--0.5.sql
 *
 * Tecton/Feast parity and correctness fixes (see README, "Changes"):
 * - a view may aggregate its join key or its timestamp column
 *   (fs_agg('user_id', 'count', ...)): the stores keep such a column once;
 * - fs_delete_keys of a view leaves the source's log (which the source's
 *   other views read) alone; fs_delete_keys of a push source deletes the
 *   log's rows and the keys of the views keyed by the same columns;
 * - a feature service refuses views whose shared join key has two types;
 * - a view without features, or with online and offline both false, is
 *   refused;
 * - fs_summary shows a dropped batch table as null, with the problem;
 * - pushsource.features.type names types the Tecton way for every
 *   feature; the new column pg_type has PostgreSQL's name;
 * - a push source's timestamp field may be declared String (RFC 3339
 *   text, as Tecton's seed sources do): it is stored as a Timestamp;
 * - fs_materialize backfills from the log of a log_offline source without
 *   a batch_table; fs_get_dataframe of a source reads its batch table;
 * - fs_materialization_status and fs_deletion_status take verbose, limit
 *   and sort_columns, as Tecton's do (new signatures: dropped and made);
 * - fs_create_push_source takes data_delay (scheduled backfills end that
 *   long before now); fs_summary of a view shows max_data_delay;
 * - fs_run_stream: Tecton's run_stream, pulled with a cursor.
 */
\echo Use "ALTER EXTENSION pushsource UPDATE TO '0.5'" to load this file. \quit


-- the status functions take Tecton's verbose, limit and sort_columns
DROP FUNCTION pushsource.fs_deletion_status(text, boolean);
DROP FUNCTION pushsource.fs_materialization_status(text, boolean);
DROP FUNCTION pushsource_internal._jobs(text, text, boolean);

-- push sources take Tecton's data_delay
ALTER TABLE pushsource_internal.source_catalog ADD COLUMN data_delay interval;
DROP FUNCTION pushsource.fs_create_push_source(text, text, text, boolean, regclass, text, text, jsonb, boolean, interval, interval);

CREATE FUNCTION pushsource_internal._store_columns(p_keys text[], p_ts text, p_values text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT p_keys OPERATOR(pg_catalog.||) p_ts OPERATOR(pg_catalog.||)
           ARRAY(SELECT c FROM unnest(p_values) WITH ORDINALITY AS x(c, o)
                  WHERE c OPERATOR(pg_catalog.<>) ALL (p_keys OPERATOR(pg_catalog.||) p_ts) ORDER BY x.o)
$$;
COMMENT ON FUNCTION pushsource_internal._store_columns(text[], text, text[]) IS
  'internal: the columns of a view''s stores: keys, event time, the value columns that are neither';

CREATE FUNCTION pushsource_internal._tecton_type(pg_type oid) RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'fs_tecton_type';
COMMENT ON FUNCTION pushsource_internal._tecton_type(oid) IS
  'internal: Tecton''s name of a PostgreSQL type (Int64 for bigint), or NULL';

CREATE FUNCTION pushsource_internal._service_key_types(p_service text)
RETURNS TABLE (view text, k text, typ text, pg_type oid) LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT DISTINCT v.name, k, s.column_types[pg_catalog.array_position(s.column_names, k)], a.atttypid
      FROM pushsource_internal.service_feature sf
      JOIN pushsource_internal.view_catalog v ON v.name = sf.feature_view
      JOIN pushsource_internal.source_catalog s ON s.name = v.source
      CROSS JOIN unnest(v.join_keys) AS k
      LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) s.source_table
            AND a.attname OPERATOR(pg_catalog.=) k AND a.attnum > 0 AND NOT a.attisdropped
     WHERE sf.service = p_service
$$;
COMMENT ON FUNCTION pushsource_internal._service_key_types(text) IS
  'internal: the join keys of a feature service''s views and their declared types';

CREATE FUNCTION pushsource_internal._source_for(p_source text, p_what text)
RETURNS pushsource_internal.source_catalog LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s pushsource_internal.source_catalog;
BEGIN
    PERFORM pushsource_internal._check_name(p_source, 'push source');
    SELECT * INTO s FROM pushsource_internal.source_catalog x WHERE x.name = p_source FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION '%: push source "%" does not exist', p_what, p_source
            USING ERRCODE = 'undefined_object', HINT = 'Push sources are listed in pushsource.push_sources.';
    END IF;
    RETURN s;
END
$$;
COMMENT ON FUNCTION pushsource_internal._source_for(text, text) IS 'internal: a push source, locked for an operation';

CREATE FUNCTION pushsource_internal._backfill_table(p_source pushsource_internal.source_catalog) RETURNS regclass
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN (p_source).batch_table IS NOT NULL THEN (p_source).batch_table
                WHEN (p_source).log_offline THEN (p_source).source_table END
$$;
COMMENT ON FUNCTION pushsource_internal._backfill_table(pushsource_internal.source_catalog) IS
  'internal: the table a view''s backfill reads: the batch table, else the log of a log_offline source';

CREATE FUNCTION pushsource_internal._jobs(p_name text, p_kind text, p_errors_only boolean,
    p_verbose boolean, p_limit int, p_sort_columns text)
RETURNS SETOF pushsource.jobs LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ord  text := '';
    item text;
    col  text;
    dir  text;
BEGIN
    IF p_name IS NOT NULL THEN
        PERFORM pushsource_internal._check_name(p_name, 'feature view');
    END IF;
    IF p_limit IS NULL OR p_limit < 0 THEN
        RAISE EXCEPTION 'limit must be zero or more, got %', coalesce(p_limit::text, 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- sort_columns, as Tecton's: comma-separated columns of pushsource.jobs,
    -- each optionally ASC or DESC; ties (and no sort_columns) go by id
    FOREACH item IN ARRAY coalesce(pg_catalog.string_to_array(p_sort_columns, ','), '{}') LOOP
        item := pg_catalog.btrim(item);
        col := pg_catalog.split_part(item, ' ', 1);
        dir := pg_catalog.upper(pg_catalog.btrim(pg_catalog.substr(item, pg_catalog.length(col) + 1)));
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                        WHERE a.attrelid OPERATOR(pg_catalog.=) 'pushsource.jobs'::pg_catalog.regclass
                          AND a.attnum > 0 AND NOT a.attisdropped AND a.attname OPERATOR(pg_catalog.=) col) THEN
            RAISE EXCEPTION 'sort_columns: "%" is not a column of the job rows', col
                USING ERRCODE = 'undefined_column',
                      HINT = 'Columns: ' || (SELECT pg_catalog.string_agg(a.attname, ', ' ORDER BY a.attnum)
                                               FROM pg_catalog.pg_attribute a
                                              WHERE a.attrelid OPERATOR(pg_catalog.=) 'pushsource.jobs'::pg_catalog.regclass
                                                AND a.attnum > 0 AND NOT a.attisdropped) || '; each may be followed by ASC or DESC.';
        END IF;
        IF dir NOT IN ('', 'ASC', 'DESC') THEN
            RAISE EXCEPTION 'sort_columns: "%" must be a column, optionally followed by ASC or DESC', item
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        ord := ord || pg_catalog.format('%I %s, ', col, dir);
    END LOOP;
    -- the newest p_limit jobs; without verbose, a materialization window's
    -- latest attempt only (every attempt with verbose)
    RETURN QUERY EXECUTE pg_catalog.format(
        'SELECT * FROM (SELECT * FROM pushsource.jobs j'
        ' WHERE ($1 IS NULL OR j.kind = $1) AND ($2 IS NULL OR j.object = $2)'
        '   AND (NOT $3 OR j.state = ''failed'')'
        '   AND ($4 OR j.kind <> ''materialization'' OR NOT EXISTS (SELECT 1 FROM pushsource.jobs l'
        '        WHERE l.kind = j.kind AND l.object = j.object AND l.window_start IS NOT DISTINCT FROM j.window_start'
        '          AND l.window_end IS NOT DISTINCT FROM j.window_end AND l.id > j.id))'
        ' ORDER BY j.id DESC LIMIT $5) j ORDER BY %sid', ord)
        USING p_kind, p_name, coalesce(p_errors_only, false), coalesce(p_verbose, false), p_limit;
END
$$;
COMMENT ON FUNCTION pushsource_internal._jobs(text, text, boolean, boolean, int, text) IS
  'internal: the job rows of fs_deletion_status and fs_materialization_status';

CREATE FUNCTION pushsource.fs_deletion_status(name text DEFAULT NULL, errors_only boolean DEFAULT false,
    verbose boolean DEFAULT false, "limit" int DEFAULT 1000, sort_columns text DEFAULT NULL)
RETURNS SETOF pushsource.jobs LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM pushsource_internal._jobs($1, 'deletion', $2, $3, $4, $5)
$$;
COMMENT ON FUNCTION pushsource.fs_deletion_status(text, boolean, boolean, int, text) IS
  'the key deletions of a feature view or push source (all when name is NULL), oldest first; errors_only: the failed ones; the newest "limit"; sort_columns: job columns, each optionally ASC or DESC';

CREATE FUNCTION pushsource.fs_materialization_status(name text DEFAULT NULL, errors_only boolean DEFAULT false,
    verbose boolean DEFAULT false, "limit" int DEFAULT 1000, sort_columns text DEFAULT NULL)
RETURNS SETOF pushsource.jobs LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM pushsource_internal._jobs($1, NULL, $2, $3, $4, $5)
$$;
COMMENT ON FUNCTION pushsource.fs_materialization_status(text, boolean, boolean, int, text) IS
  'the jobs (materializations, deletions, maintenance) of a feature view, or all when name is NULL, oldest first; errors_only: the failed ones; verbose: every attempt of a window, not only the latest; the newest "limit"; sort_columns: job columns, each optionally ASC or DESC';

CREATE FUNCTION pushsource.fs_create_push_source(
    name text, schema text, timestamp_field text,
    log_offline boolean DEFAULT true, batch_table regclass DEFAULT NULL,
    description text DEFAULT NULL, owner text DEFAULT NULL, tags jsonb DEFAULT '{}',
    prevent_destroy boolean DEFAULT false,
    partition_interval interval DEFAULT NULL, source_retention interval DEFAULT NULL,
    data_delay interval DEFAULT NULL)
RETURNS regclass LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p_name  text := fs_create_push_source.name;
    cols    text[];
    types   text[];
    pgtypes text[];
    ddl     text := '';
    ts_type text;
    tbl     regclass;
    missing text;
BEGIN
    PERFORM pushsource_internal._claim_name(p_name, 'push_source');
    IF fs_create_push_source.schema IS NULL THEN
        RAISE EXCEPTION 'push source "%": schema must not be null', p_name
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example: ''user_id String, ts Timestamp, clicked Int64''.';
    END IF;
    SELECT pg_catalog.array_agg(column_name ORDER BY o), pg_catalog.array_agg(declared_type ORDER BY o),
           pg_catalog.array_agg(pg_type ORDER BY o)
      INTO cols, types, pgtypes
      FROM pushsource_internal._parse_schema(fs_create_push_source.schema) WITH ORDINALITY AS p(column_name, declared_type, pg_type, o);
    IF (SELECT pg_catalog.count(DISTINCT c) FROM unnest(cols) c) <> pg_catalog.cardinality(cols) THEN
        RAISE EXCEPTION 'push source "%": schema repeats a column name', p_name
            USING ERRCODE = 'duplicate_column';
    END IF;
    IF fs_create_push_source.timestamp_field IS NULL THEN
        RAISE EXCEPTION 'push source "%": timestamp_field must not be null', p_name
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF pg_catalog.array_position(cols, fs_create_push_source.timestamp_field) IS NULL THEN
        RAISE EXCEPTION 'push source "%": timestamp field "%" is not a column of the schema', p_name,
                        fs_create_push_source.timestamp_field
            USING ERRCODE = 'undefined_column',
                  HINT = pg_catalog.format('The schema''s columns are: %s.', pg_catalog.array_to_string(cols, ', '));
    END IF;
    ts_type := pgtypes[pg_catalog.array_position(cols, fs_create_push_source.timestamp_field)];
    -- Tecton sources may declare the timestamp a String of RFC 3339 text:
    -- it is read as pushed Timestamps are (strictly; no zone is UTC) and
    -- stored as one, so every store, join and window has a time to order by
    IF types[pg_catalog.array_position(cols, fs_create_push_source.timestamp_field)] = 'String' THEN
        types[pg_catalog.array_position(cols, fs_create_push_source.timestamp_field)] := 'Timestamp';
        pgtypes[pg_catalog.array_position(cols, fs_create_push_source.timestamp_field)] := 'timestamp with time zone';
        ts_type := 'timestamp with time zone';
    END IF;
    IF ts_type <> 'timestamp with time zone' THEN
        RAISE EXCEPTION 'push source "%": timestamp field "%" must be of type Timestamp (timestamptz), not %',
                        p_name, fs_create_push_source.timestamp_field, ts_type
            USING ERRCODE = 'datatype_mismatch';
    END IF;
    PERFORM pushsource_internal._check_history(pg_catalog.format('push source "%s"', p_name),
        fs_create_push_source.partition_interval, fs_create_push_source.source_retention, 'source_retention',
        coalesce(fs_create_push_source.log_offline, true), 'log_offline => true (a source without a log keeps no rows)');
    IF fs_create_push_source.data_delay IS NOT NULL THEN
        IF fs_create_push_source.batch_table IS NULL THEN
            RAISE EXCEPTION 'push source "%": data_delay needs a batch_table (it delays the scheduled backfills from it)', p_name
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF fs_create_push_source.data_delay < interval '0' OR fs_create_push_source.data_delay > interval '36525 days' THEN
            RAISE EXCEPTION 'push source "%": data_delay must be between 0 and 36525 days, got %', p_name,
                            fs_create_push_source.data_delay
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    IF pg_catalog.to_regclass(pg_catalog.format('%I.%I', 'pushsource_source', p_name)) IS NOT NULL THEN
        RAISE EXCEPTION 'push source "%": table pushsource_source.% already exists', p_name, p_name
            USING ERRCODE = 'duplicate_table';
    END IF;
    IF fs_create_push_source.batch_table IS NOT NULL THEN
        PERFORM pushsource_internal._check_batch_table(pg_catalog.format('push source "%s"', p_name),
                                              fs_create_push_source.batch_table);
        SELECT pg_catalog.string_agg(pg_catalog.format('%s %s', c, t), ', ') INTO missing
          FROM unnest(cols, pgtypes) AS x(c, t)
         WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
                            WHERE a.attrelid = fs_create_push_source.batch_table
                              AND a.attname = x.c AND NOT a.attisdropped AND a.attnum > 0
                              AND pg_catalog.format_type(a.atttypid, a.atttypmod) = x.t);
        IF missing IS NOT NULL THEN
            RAISE EXCEPTION 'push source "%": batch table % lacks columns of the push schema: %',
                            p_name, fs_create_push_source.batch_table, missing
                USING ERRCODE = 'undefined_column',
                      HINT = 'A batch table must contain every column of the push schema with the same type.';
        END IF;
    END IF;

    FOR i IN 1 .. pg_catalog.cardinality(cols) LOOP
        -- pgtypes come from format_type() of a resolved type OID, not from user text
        ddl := ddl || CASE WHEN i > 1 THEN ', ' ELSE '' END || pg_catalog.format('%I %s', cols[i], pgtypes[i]);
    END LOOP;
    EXECUTE pg_catalog.format('CREATE TABLE %I.%I (%s)%s', 'pushsource_source', p_name, ddl,
        CASE WHEN fs_create_push_source.partition_interval IS NOT NULL
             THEN pg_catalog.format(' PARTITION BY RANGE (%I)', fs_create_push_source.timestamp_field) ELSE '' END);
    tbl := pg_catalog.format('%I.%I', 'pushsource_source', p_name)::regclass;
    -- no key: the whole row identifies a deleted one to logical replication
    -- (retention, fs_delete_keys under a FOR ALL TABLES publication)
    EXECUTE pg_catalog.format('ALTER TABLE %s REPLICA IDENTITY FULL', tbl);
    EXECUTE pg_catalog.format('CREATE TRIGGER zz_pushsource_row BEFORE INSERT OR UPDATE ON %s'
                              ' FOR EACH ROW EXECUTE FUNCTION %I._push_row()', tbl, 'pushsource_internal');
    EXECUTE pg_catalog.format('CREATE TRIGGER zz_pushsource_fanout AFTER INSERT ON %s'
                              ' FOR EACH STATEMENT EXECUTE FUNCTION %I._push_statement()', tbl, 'pushsource_internal');
    -- a log is appended in roughly event-time order: BRIN serves time ranges
    -- (fs_get_dataframe, backfills) at almost no cost per pushed row
    EXECUTE pg_catalog.format('CREATE INDEX ON %s USING brin (%I)', tbl, fs_create_push_source.timestamp_field);
    -- The extension's owner keeps the table: an owner could add triggers,
    -- rules or row security that run as whoever pushes or reads.  Admins
    -- get what the operations need (DELETE and TRUNCATE: log retention).
    EXECUTE pg_catalog.format('GRANT SELECT, INSERT, DELETE, TRUNCATE ON %s TO pushsource_admin', tbl);
    EXECUTE pg_catalog.format('GRANT SELECT, INSERT ON %s TO pushsource_writer', tbl);
    EXECUTE pg_catalog.format('GRANT SELECT ON %s TO pushsource_reader', tbl);
    EXECUTE pg_catalog.format('COMMENT ON TABLE %s IS %L', tbl,
                              pg_catalog.format('pushsource push source %s: INSERT or COPY events here, or call fs_push', p_name));
    IF fs_create_push_source.partition_interval IS NOT NULL THEN
        PERFORM pushsource_internal._partition_init(tbl, fs_create_push_source.timestamp_field,
                                                    fs_create_push_source.partition_interval, true);
    END IF;

    INSERT INTO pushsource_internal.source_catalog (name, source_table, column_names, column_types,
        timestamp_field, log_offline, batch_table, description, owner, tags, prevent_destroy,
        partition_interval, source_retention, data_delay)
    VALUES (p_name, tbl, cols, types, fs_create_push_source.timestamp_field,
            coalesce(fs_create_push_source.log_offline, true), fs_create_push_source.batch_table,
            fs_create_push_source.description, fs_create_push_source.owner,
            pushsource_internal._check_tags('push source', p_name, fs_create_push_source.tags),
            coalesce(fs_create_push_source.prevent_destroy, false),
            fs_create_push_source.partition_interval, fs_create_push_source.source_retention,
            fs_create_push_source.data_delay);
    RETURN tbl;
END
$$;
COMMENT ON FUNCTION pushsource.fs_create_push_source(text, text, text, boolean, regclass, text, text, jsonb, boolean, interval, interval, interval) IS
  'registers a push source and creates its table (INSERT, COPY or fs_push into it)';

CREATE FUNCTION pushsource.fs_run_stream(feature_view text, after bigint DEFAULT 0, "limit" int DEFAULT 1000)
RETURNS TABLE (ingest_id bigint, record jsonb) LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tbl regclass;
BEGIN
    PERFORM pushsource_internal._check_name(fs_run_stream.feature_view, 'feature view');
    SELECT v.offline_table INTO tbl FROM pushsource_internal.view_catalog v WHERE v.name = fs_run_stream.feature_view;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'fs_run_stream: feature view "%" does not exist', fs_run_stream.feature_view
            USING ERRCODE = 'undefined_object', HINT = 'Feature views are listed in pushsource.feature_views.';
    END IF;
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'fs_run_stream: feature view "%" has no offline store to stream from', fs_run_stream.feature_view
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Create the view with offline => true.';
    END IF;
    IF fs_run_stream.after IS NULL OR fs_run_stream."limit" IS NULL OR fs_run_stream."limit" < 0 THEN
        RAISE EXCEPTION 'fs_run_stream("%"): after must not be null and limit must be zero or more', fs_run_stream.feature_view
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY EXECUTE pg_catalog.format(
        'SELECT t._fs_ingest_id, pg_catalog.to_jsonb(t) OPERATOR(pg_catalog.-) ''_fs_ingest_id'''
        ' FROM %s t WHERE t._fs_ingest_id OPERATOR(pg_catalog.>) $1 ORDER BY t._fs_ingest_id LIMIT $2', tbl)
        USING fs_run_stream.after, fs_run_stream."limit";
END
$$;
COMMENT ON FUNCTION pushsource.fs_run_stream(text, bigint, int) IS
  'Tecton''s run_stream, pulled: the rows pushes wrote to a view''s offline store after the ingest order "after", oldest first';

CREATE OR REPLACE VIEW pushsource.features AS
SELECT v.name AS feature_view, f.name AS feature, f.position::int AS position,
       -- Tecton's name of the type (Int64, Array(String)); the declared
       -- type for Struct, Map and types Tecton has no name for
       coalesce(pushsource_internal._tecton_type(t.pg_type),
                CASE WHEN v.aggregations IS NULL
                     THEN s.column_types[pg_catalog.array_position(s.column_names, f.name)] END,
                pg_catalog.format_type(t.pg_type, t.typmod)) AS type,
       CASE WHEN v.aggregations IS NULL THEN 'attribute' ELSE 'aggregate' END AS kind,
       a."column" AS aggregated_column, a.function, a.time_window,
       v.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) f.name AS full_name,
       pg_catalog.format_type(t.pg_type, t.typmod) AS pg_type
FROM pushsource_internal.view_catalog v
JOIN pushsource_internal.source_catalog s ON s.name OPERATOR(pg_catalog.=) v.source
CROSS JOIN LATERAL unnest(v.features) WITH ORDINALITY AS f(name, position)
LEFT JOIN LATERAL (SELECT x.* FROM unnest(v.aggregations) x
                    WHERE x.name OPERATOR(pg_catalog.=) f.name) a ON true
-- the type in the stores and reads: the source column's, or the aggregation's result
CROSS JOIN LATERAL (SELECT CASE WHEN v.aggregations IS NULL THEN at.atttypid
                                ELSE pushsource_internal._agg_result_type(a.function, at.atttypid::regtype)::regtype::oid
                           END AS pg_type,
                           CASE WHEN v.aggregations IS NULL THEN at.atttypmod ELSE -1 END AS typmod
                      FROM pg_catalog.pg_attribute at
                     WHERE at.attrelid OPERATOR(pg_catalog.=) s.source_table
                       AND at.attname OPERATOR(pg_catalog.=) coalesce(a."column", f.name) AND NOT at.attisdropped) t;
COMMENT ON VIEW pushsource.features IS
  'every feature of every feature view, with its type (Tecton''s name, and pg_type PostgreSQL''s); aggregate features with their column, function and window';

CREATE OR REPLACE VIEW pushsource.push_sources AS
SELECT s.name, s.source_table,
       (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('name', n, 'type', t) ORDER BY o)
          FROM unnest(s.column_names, s.column_types) WITH ORDINALITY AS c(n, t, o)) AS schema,
       s.timestamp_field, s.log_offline, s.batch_table,
       (SELECT pg_catalog.array_agg(v.name ORDER BY v.name) FROM pushsource_internal.view_catalog v
         WHERE v.source = s.name) AS feature_views,
       s.description, s.owner, s.tags, s.prevent_destroy, s.created_at,
       s.partition_interval, s.source_retention, s.data_delay
FROM pushsource_internal.source_catalog s;
COMMENT ON VIEW pushsource.push_sources IS 'registered push sources, their tables and schemas';

CREATE OR REPLACE FUNCTION pushsource_internal._create_feature_view(
    name text, source text, entities text[],
    features text[] DEFAULT NULL,
    aggregations pushsource.aggregation[] DEFAULT NULL,
    aggregation_interval interval DEFAULT NULL,
    ttl interval DEFAULT NULL,
    online boolean DEFAULT true, offline boolean DEFAULT true,
    feature_start_time timestamptz DEFAULT NULL,
    batch_schedule text DEFAULT NULL,
    description text DEFAULT NULL, owner text DEFAULT NULL, tags jsonb DEFAULT '{}',
    prevent_destroy boolean DEFAULT false,
    partition_interval interval DEFAULT NULL, offline_retention interval DEFAULT NULL)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p_name text := _create_feature_view.name;
    src    pushsource_internal.source_catalog;
    keys   text[] := '{}';
    feats  text[];
    e      text;
    ekeys  text[];
    k      text;
    f      text;
    coldefs text := '';
    online_tbl regclass;
    offline_tbl regclass;
    ts_col text;
    aggs   pushsource.aggregation[];
    valcols text[];
    keydefs text;
    keylist text;
BEGIN
    PERFORM pushsource_internal._claim_name(p_name, 'feature_view');
    SELECT * INTO src FROM pushsource_internal.source_catalog s WHERE s.name = _create_feature_view.source;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feature view "%": push source "%" does not exist', p_name, _create_feature_view.source
            USING ERRCODE = 'undefined_object',
                  HINT = 'Push sources are listed in pushsource.push_sources.';
    END IF;
    IF _create_feature_view.entities IS NULL THEN
        RAISE EXCEPTION 'feature view "%": entities must not be null (use ''{}'' for a view without entities)', p_name
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOREACH e IN ARRAY _create_feature_view.entities LOOP
        SELECT ec.join_keys INTO ekeys FROM pushsource_internal.entity_catalog ec WHERE ec.name = e;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'feature view "%": entity "%" does not exist', p_name, e
                USING ERRCODE = 'undefined_object',
                      HINT = 'Create it with fs_create_entity().';
        END IF;
        FOREACH k IN ARRAY ekeys LOOP
            IF k = ANY (keys) THEN
                RAISE EXCEPTION 'feature view "%": join key "%" appears in more than one entity', p_name, k
                    USING ERRCODE = 'duplicate_column';
            END IF;
            IF pg_catalog.array_position(src.column_names, k) IS NULL THEN
                RAISE EXCEPTION 'feature view "%": join key "%" of entity "%" is not a column of push source "%"',
                                p_name, k, e, src.name
                    USING ERRCODE = 'undefined_column',
                          HINT = pg_catalog.format('The source''s columns are: %s.', pg_catalog.array_to_string(src.column_names, ', '));
            END IF;
            IF k = src.timestamp_field THEN
                RAISE EXCEPTION 'feature view "%": join key "%" is the timestamp field of push source "%"', p_name, k, src.name
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            keys := keys || k;
        END LOOP;
    END LOOP;
    IF _create_feature_view.aggregations IS NOT NULL THEN
        IF _create_feature_view.features IS NOT NULL THEN
            RAISE EXCEPTION 'feature view "%": a view has attribute features or aggregations, not both', p_name
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Make two feature views on the same source: one with features, one with aggregations.';
        END IF;
        IF _create_feature_view.ttl IS NOT NULL THEN
            RAISE EXCEPTION 'feature view "%": ttl applies to attribute features; aggregate features are bounded by their windows', p_name
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        aggs := pushsource_internal._resolve_aggregations(p_name, src.source_table, _create_feature_view.aggregations,
                                                  _create_feature_view.aggregation_interval);
        feats := ARRAY(SELECT a.name FROM unnest(aggs) WITH ORDINALITY AS a(c, f, w, name, o) ORDER BY a.o);
        -- a feature is a column of fs_run and the stores' rows beside the
        -- keys and the event time: it may not take their names
        FOREACH f IN ARRAY feats LOOP
            IF f = ANY (keys) OR f = src.timestamp_field THEN
                RAISE EXCEPTION 'feature view "%": aggregation "%" has the name of the view''s % "%"', p_name, f,
                                CASE WHEN f = ANY (keys) THEN 'join key' ELSE 'timestamp field' END, f
                    USING ERRCODE = 'duplicate_column',
                          HINT = 'Name it with fs_agg(..., name => ''...'').';
            END IF;
            IF f LIKE '\_fs\_%' THEN
                RAISE EXCEPTION 'feature view "%": aggregation "%" starts with _fs_, which is reserved for pushsource''s own columns', p_name, f
                    USING ERRCODE = 'reserved_name',
                          HINT = 'Name it with fs_agg(..., name => ''...'').';
            END IF;
        END LOOP;
        -- the aggregated columns, each once, in order of first use
        valcols := ARRAY(SELECT a.c FROM unnest(aggs) WITH ORDINALITY AS a(c, f, w, name, o)
                          GROUP BY a.c ORDER BY pg_catalog.min(a.o));
    ELSIF _create_feature_view.aggregation_interval IS NOT NULL THEN
        RAISE EXCEPTION 'feature view "%": aggregation_interval needs aggregations', p_name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass aggregations => ARRAY[fs_agg(column, function, time_window), ...].';
    ELSIF _create_feature_view.features IS NULL THEN
        SELECT coalesce(pg_catalog.array_agg(c ORDER BY o), '{}') INTO feats
          FROM unnest(src.column_names) WITH ORDINALITY AS x(c, o)
         WHERE c <> ALL (keys) AND c <> src.timestamp_field;
    ELSE
        feats := _create_feature_view.features;
        FOREACH f IN ARRAY feats LOOP
            IF f IS NULL OR pg_catalog.array_position(src.column_names, f) IS NULL THEN
                RAISE EXCEPTION 'feature view "%": feature "%" is not a column of push source "%"', p_name, f, src.name
                    USING ERRCODE = 'undefined_column',
                          HINT = pg_catalog.format('The source''s columns are: %s.', pg_catalog.array_to_string(src.column_names, ', '));
            END IF;
            IF f = ANY (keys) OR f = src.timestamp_field THEN
                RAISE EXCEPTION 'feature view "%": "%" is a join key or the timestamp field, not a feature', p_name, f
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
        END LOOP;
        IF (SELECT pg_catalog.count(DISTINCT x) FROM unnest(feats) x) <> pg_catalog.cardinality(feats) THEN
            RAISE EXCEPTION 'feature view "%": features % repeat a name', p_name, feats
                USING ERRCODE = 'duplicate_column';
        END IF;
    END IF;
    IF pg_catalog.cardinality(feats) = 0 THEN
        RAISE EXCEPTION 'feature view "%" has no features', p_name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = CASE WHEN _create_feature_view.features IS NULL
                              THEN pg_catalog.format('Push source "%s" has no column besides the join keys and the timestamp field: pass aggregations => ARRAY[fs_agg(...)], for example fs_agg(''%s'', ''count'', ''1 day'').',
                                                     src.name, coalesce(keys[1], src.timestamp_field))
                              ELSE 'Pass features => ARRAY[''column'', ...] with at least one of the source''s columns, or aggregations.' END;
    END IF;
    IF _create_feature_view.online IS NOT NULL AND _create_feature_view.offline IS NOT NULL
       AND NOT _create_feature_view.online AND NOT _create_feature_view.offline THEN
        RAISE EXCEPTION 'feature view "%": online and offline are both false: it would store and serve nothing', p_name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Keep online => true to serve the newest values, offline => true to keep the history for training sets.';
    END IF;
    IF _create_feature_view.ttl IS NOT NULL AND _create_feature_view.ttl > interval '36525 days' THEN
        RAISE EXCEPTION 'feature view "%": ttl must be at most 36525 days, got %', p_name, _create_feature_view.ttl
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use NULL for values that never expire.';
    END IF;
    IF _create_feature_view.ttl IS NOT NULL AND _create_feature_view.ttl <= interval '0' THEN
        RAISE EXCEPTION 'feature view "%": ttl must be positive, got %', p_name, _create_feature_view.ttl
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use NULL for values that never expire.';
    END IF;
    -- (also refused when scheduling; checked here too, for a direct call)
    IF _create_feature_view.batch_schedule IS NOT NULL AND src.batch_table IS NULL THEN
        RAISE EXCEPTION 'feature view "%": batch_schedule needs a batch_table on its push source', p_name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Register the source with fs_create_push_source(..., batch_table => ''schema.table'').';
    END IF;
    IF _create_feature_view.online IS NULL OR _create_feature_view.offline IS NULL THEN
        RAISE EXCEPTION 'feature view "%": online and offline must be true or false', p_name
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM pushsource_internal._check_history(pg_catalog.format('feature view "%s"', p_name),
        _create_feature_view.partition_interval, _create_feature_view.offline_retention, 'offline_retention',
        _create_feature_view.offline, 'offline => true (a view without an offline store keeps no history)');

    IF aggs IS NULL THEN
        valcols := feats;
    END IF;
    -- store columns: keys, event timestamp, values, ingest order; types as in the source table
    SELECT pg_catalog.string_agg(pg_catalog.format('%I %s%s', a.attname,
               pg_catalog.format_type(a.atttypid, a.atttypmod),
               CASE WHEN a.attname = ANY (keys) OR a.attname = src.timestamp_field THEN ' NOT NULL' ELSE '' END),
               ', ' ORDER BY o),
           pg_catalog.string_agg(pg_catalog.format('%I %s NOT NULL', a.attname,
               pg_catalog.format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY o) FILTER (WHERE a.attname = ANY (keys))
      INTO coldefs, keydefs
      FROM unnest(pushsource_internal._store_columns(keys, src.timestamp_field, valcols)) WITH ORDINALITY AS x(c, o)
      JOIN pg_catalog.pg_attribute a ON a.attrelid = src.source_table AND a.attname = x.c
                                    AND NOT a.attisdropped AND a.attnum > 0;
    ts_col := src.timestamp_field;
    keylist := (SELECT pg_catalog.string_agg(pg_catalog.format('%I', x) || ', ', '') FROM unnest(keys) x);

    IF _create_feature_view.online AND aggs IS NOT NULL AND _create_feature_view.aggregation_interval IS NOT NULL THEN
        -- tiled: one row per entity per block of 60 tiles (see aggregation.c);
        -- a backfill's states (_fs_batch) are kept apart from the pushed ones
        -- so that fs_materialize can replace them
        EXECUTE pg_catalog.format('CREATE TABLE pushsource_store.%I (%s block_start timestamptz NOT NULL,'
                                  ' totals bytea NOT NULL, tiles bytea NOT NULL,'
                                  ' _fs_batch boolean NOT NULL DEFAULT false, PRIMARY KEY (%s block_start, _fs_batch))',
            p_name || '_tiles', coalesce(keydefs || ',', ''), coalesce(keylist, ''));
        online_tbl := pg_catalog.format('pushsource_store.%I', p_name || '_tiles')::regclass;
        EXECUTE pg_catalog.format('COMMENT ON TABLE %s IS %L', online_tbl,
            pg_catalog.format('online state of aggregate feature view %s: partial aggregates per entity, block and tile', p_name));
    ELSIF _create_feature_view.online AND aggs IS NOT NULL THEN
        -- continuous: the raw events of the longest window
        EXECUTE pg_catalog.format('CREATE TABLE pushsource_store.%I (%s, _fs_ingest_id bigint NOT NULL)',
            p_name || '_events', coldefs);
        online_tbl := pg_catalog.format('pushsource_store.%I', p_name || '_events')::regclass;
        EXECUTE pg_catalog.format('ALTER TABLE %s REPLICA IDENTITY FULL', online_tbl);
        EXECUTE pg_catalog.format('CREATE INDEX ON %s (%s %I)', online_tbl, coalesce(keylist, ''), ts_col);
        EXECUTE pg_catalog.format('COMMENT ON TABLE %s IS %L', online_tbl,
            pg_catalog.format('online state of aggregate feature view %s: the events of its longest window', p_name));
    ELSIF _create_feature_view.online THEN
        EXECUTE pg_catalog.format('CREATE TABLE pushsource_store.%I (%s, _fs_ingest_id bigint NOT NULL%s)',
            p_name || '_online', coldefs,
            CASE WHEN pg_catalog.cardinality(keys) = 0
                 THEN ', _fs_singleton boolean NOT NULL DEFAULT true PRIMARY KEY CHECK (_fs_singleton)'
                 ELSE pg_catalog.format(', PRIMARY KEY (%s)',
                        (SELECT pg_catalog.string_agg(pg_catalog.format('%I', x), ', ') FROM unnest(keys) x)) END);
        online_tbl := pg_catalog.format('pushsource_store.%I', p_name || '_online')::regclass;
        EXECUTE pg_catalog.format('COMMENT ON TABLE %s IS %L', online_tbl,
            pg_catalog.format('online store of feature view %s: newest row per entity', p_name));
    END IF;
    IF online_tbl IS NOT NULL THEN
        -- owned by the extension's owner (see fs_create_push_source); the
        -- fan-out and the operations write as pushsource_admin
        EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO pushsource_admin', online_tbl);
        EXECUTE pg_catalog.format('GRANT SELECT ON %s TO pushsource_reader', online_tbl);
    END IF;
    IF _create_feature_view.offline THEN
        EXECUTE pg_catalog.format('CREATE TABLE pushsource_store.%I (%s, _fs_ingest_id bigint NOT NULL)%s',
            p_name || '_offline', coldefs,
            CASE WHEN _create_feature_view.partition_interval IS NOT NULL
                 THEN pg_catalog.format(' PARTITION BY RANGE (%I)', ts_col) ELSE '' END);
        offline_tbl := pg_catalog.format('pushsource_store.%I', p_name || '_offline')::regclass;
        EXECUTE pg_catalog.format('ALTER TABLE %s REPLICA IDENTITY FULL', offline_tbl);
        EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO pushsource_admin', offline_tbl);
        EXECUTE pg_catalog.format('GRANT SELECT ON %s TO pushsource_reader', offline_tbl);
        EXECUTE pg_catalog.format('COMMENT ON TABLE %s IS %L', offline_tbl,
            pg_catalog.format('offline store of feature view %s: every row with event time and ingest order', p_name));
        IF _create_feature_view.partition_interval IS NOT NULL THEN
            PERFORM pushsource_internal._partition_init(offline_tbl, ts_col, _create_feature_view.partition_interval, false);
        END IF;
    END IF;

    INSERT INTO pushsource_internal.view_catalog (name, source, entities, join_keys, features, value_columns,
        aggregations, aggregation_interval, ttl, online, offline,
        feature_start_time, batch_schedule, online_table, offline_table, description, owner, tags, prevent_destroy,
        partition_interval, offline_retention)
    VALUES (p_name, src.name, _create_feature_view.entities, keys, feats, valcols,
            aggs, CASE WHEN aggs IS NOT NULL THEN _create_feature_view.aggregation_interval END,
            _create_feature_view.ttl,
            _create_feature_view.online, _create_feature_view.offline,
            _create_feature_view.feature_start_time, _create_feature_view.batch_schedule, online_tbl, offline_tbl,
            _create_feature_view.description, _create_feature_view.owner,
            pushsource_internal._check_tags('feature view', p_name, _create_feature_view.tags),
            coalesce(_create_feature_view.prevent_destroy, false),
            _create_feature_view.partition_interval, _create_feature_view.offline_retention);
    RETURN p_name;
END
$$;
COMMENT ON FUNCTION pushsource_internal._create_feature_view(text, text, text[], text[], pushsource.aggregation[], interval, interval, boolean, boolean, timestamptz, text, text, text, jsonb, boolean, interval, interval) IS
  'internal: fs_create_feature_view as the extension owner: checks, stores, the catalog row (not the schedule)';

CREATE OR REPLACE FUNCTION pushsource.fs_create_feature_service(
    name text, features text[],
    description text DEFAULT NULL, owner text DEFAULT NULL, tags jsonb DEFAULT '{}')
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p_name text := fs_create_feature_service.name;
    ref    text;
    fv     text;
    feat   text;
    vfeats text[];
    pos    int := 0;
    clash  record;
BEGIN
    PERFORM pushsource_internal._claim_name(p_name, 'feature_service');
    IF fs_create_feature_service.features IS NULL OR pg_catalog.cardinality(fs_create_feature_service.features) = 0 THEN
        RAISE EXCEPTION 'feature service "%" needs at least one feature', p_name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'List feature views (''fv'') or single features (''fv.feature'').';
    END IF;
    INSERT INTO pushsource_internal.service_catalog (name, features, description, owner, tags)
    VALUES (p_name, fs_create_feature_service.features, fs_create_feature_service.description,
            fs_create_feature_service.owner,
            pushsource_internal._check_tags('feature service', p_name, fs_create_feature_service.tags));
    FOREACH ref IN ARRAY fs_create_feature_service.features LOOP
        fv := pg_catalog.split_part(ref, '.', 1);
        feat := CASE WHEN pg_catalog.strpos(ref, '.') > 0 THEN pg_catalog.substr(ref, pg_catalog.strpos(ref, '.') + 1) END;
        SELECT v.features INTO vfeats FROM pushsource_internal.view_catalog v WHERE v.name = fv;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'feature service "%": feature view "%" does not exist', p_name, fv
                USING ERRCODE = 'undefined_object',
                      HINT = 'Feature views are listed in pushsource.feature_views.';
        END IF;
        IF feat IS NOT NULL AND NOT feat = ANY (vfeats) THEN
            RAISE EXCEPTION 'feature service "%": feature view "%" has no feature "%"', p_name, fv, feat
                USING ERRCODE = 'undefined_column',
                      HINT = pg_catalog.format('Its features are: %s.', pg_catalog.array_to_string(vfeats, ', '));
        END IF;
        FOREACH feat IN ARRAY CASE WHEN feat IS NULL THEN vfeats ELSE ARRAY[feat] END LOOP
            IF EXISTS (SELECT 1 FROM pushsource_internal.service_feature sf
                        WHERE sf.service = p_name AND sf.feature_view = fv AND sf.feature = feat) THEN
                RAISE EXCEPTION 'feature service "%": feature "%.%" is listed twice', p_name, fv, feat
                    USING ERRCODE = 'duplicate_column';
            END IF;
            pos := pos + 1;
            INSERT INTO pushsource_internal.service_feature (service, position, feature_view, feature)
            VALUES (p_name, pos, fv, feat);
        END LOOP;
    END LOOP;
    -- one request's join keys serve every view: a key two views name must
    -- have one type in both
    SELECT a.k, a.view AS view_a, a.typ AS typ_a, b.view AS view_b, b.typ AS typ_b INTO clash
      FROM pushsource_internal._service_key_types(p_name) a
      JOIN pushsource_internal._service_key_types(p_name) b ON b.k = a.k AND b.pg_type <> a.pg_type AND a.view < b.view
     ORDER BY a.k, a.view, b.view LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'feature service "%": join key "%" is % in feature view "%" but % in feature view "%"',
                        p_name, clash.k, clash.typ_a, clash.view_a, clash.typ_b, clash.view_b
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'A request''s join keys are read once for every view of the service: give the key one type in every source, or serve the views separately.';
    END IF;
    RETURN p_name;
END
$$;
COMMENT ON FUNCTION pushsource.fs_create_feature_service(text, text[], text, text, jsonb) IS
  'registers a feature service: a named list of feature views (''fv'') and features (''fv.feature'')';

CREATE OR REPLACE FUNCTION pushsource_internal._run_plan(feature_view text, start_time timestamptz,
    end_time timestamptz, aggregation_level text,
    OUT sql text, OUT columns text, OUT spine text, OUT specs text[])
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v       pushsource_internal.view_catalog;
    ts      text;
    tstype  text;
    tsdef   text;
    keys    text;
    keydefs text;
    tiles   text;
    aggs    text;
    defs    text;
BEGIN
    SELECT p.sql, p.columns INTO sql, columns
      FROM pushsource_internal._range_plan(feature_view, start_time, end_time, NULL) p;
    IF aggregation_level IS NULL OR aggregation_level NOT IN ('disabled', 'partial', 'full') THEN
        RAISE EXCEPTION 'feature view "%": aggregation_level must be ''disabled'', ''partial'' or ''full'', not %',
                        feature_view, coalesce(pg_catalog.quote_literal(aggregation_level), 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO v FROM pushsource_internal.view_catalog x WHERE x.name = feature_view;
    IF aggregation_level = 'disabled' OR (v.aggregations IS NULL AND aggregation_level = 'full') THEN
        RETURN;                 -- the rows as stored: an attribute view aggregates nothing
    END IF;
    IF v.aggregation_interval IS NULL AND aggregation_level = 'partial' THEN
        RAISE EXCEPTION 'feature view "%" has no tiles: aggregation_level ''partial'' needs an aggregation_interval',
                        feature_view
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = CASE WHEN v.aggregations IS NULL
                              THEN 'It is an attribute view: ''disabled'' or ''full'' gives its rows.'
                              ELSE 'It aggregates continuously: ''disabled'' gives its events, ''full'' its features at each event.' END;
    END IF;
    SELECT s.timestamp_field INTO ts FROM pushsource_internal.source_catalog s WHERE s.name = v.source;
    SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO tstype
      FROM pg_catalog.pg_attribute a WHERE a.attrelid = v.offline_table AND a.attname = ts;
    tsdef := pg_catalog.format('%I %s', ts, tstype);
    SELECT pg_catalog.string_agg(pg_catalog.format('%I, ', j.k), '' ORDER BY j.o),
           pg_catalog.string_agg(pg_catalog.format('%I %s, ', j.k, pg_catalog.format_type(a.atttypid, a.atttypmod)), '' ORDER BY j.o)
      INTO keys, keydefs
      FROM unnest(v.join_keys) WITH ORDINALITY AS j(k, o)
      JOIN pg_catalog.pg_attribute a ON a.attrelid = v.offline_table AND a.attname = j.k;
    keys := coalesce(keys, '');
    keydefs := coalesce(keydefs, '');
    -- the tiles that overlap [start, end), whole: their events, each with
    -- its tile, aligned by the C code that aligns the online tiles
    -- (_tile_block of one tile's microseconds is the start of its tile)
    tiles := pg_catalog.format(
        'SELECT pushsource_internal._tile_block(%1$I, %3$s) AS _fs_tile, * FROM %2$s'
        ' WHERE %1$I >= pushsource_internal._tile_block($1, %3$s) AND %1$I < $2 + $3'
        ' AND pushsource_internal._tile_block(%1$I, %3$s) < $2 AND pg_catalog.isfinite(%1$I)',
        ts, v.offline_table, (EXTRACT(epoch FROM v.aggregation_interval) * 1000000)::int8);
    IF aggregation_level = 'partial' THEN
        -- one state per (column, function) and tile, as the online tiles keep
        SELECT pg_catalog.string_agg(pg_catalog.format(', pushsource.fs_partial_agg(($4)[%s], %I, %I, _fs_ingest_id) AS %I',
                                                       x.n, x."column", ts, x.name), '' ORDER BY x.n),
               pg_catalog.string_agg(pg_catalog.format(', %I %s', x.name, pg_catalog.format_type('pushsource.fs_partial'::pg_catalog.regtype, NULL)), '' ORDER BY x.n),
               pg_catalog.array_agg(x.function ORDER BY x.n)
          INTO aggs, defs, specs
          FROM (SELECT d."column", d.function, d."column" || '_' || pushsource_internal._agg_name_part(d.function) AS name,
                       pg_catalog.row_number() OVER (ORDER BY d.first) AS n
                  FROM (SELECT a."column", a.function, pg_catalog.min(a.o) AS first
                          FROM unnest(v.aggregations) WITH ORDINALITY AS a("column", function, time_window, name, o)
                         GROUP BY a."column", a.function) d) x;
        sql := pg_catalog.format(
            'SELECT %s_fs_tile AS tile_start_time, _fs_tile + $3 AS tile_end_time%s FROM (%s) e'
            ' GROUP BY %s_fs_tile ORDER BY %s_fs_tile', keys, aggs, tiles, keys, keys);
        columns := keydefs || pg_catalog.format('tile_start_time %1$s, tile_end_time %1$s', tstype) || defs;
        RETURN;
    END IF;
    -- full: the features at every tile end (tiled) or event time (continuous)
    spine := CASE WHEN v.aggregation_interval IS NOT NULL
                  THEN pg_catalog.format('SELECT DISTINCT %s_fs_tile + $3 AS %I FROM (%s) e', keys, ts, tiles)
                  ELSE pg_catalog.format('SELECT DISTINCT %s%I FROM %s WHERE %I >= $1 AND %I < $2 AND pg_catalog.isfinite(%I)',
                                         keys, ts, v.offline_table, ts, ts, ts) END;
    SELECT pg_catalog.string_agg(pg_catalog.format(', %I %s', f.feature, f.pg_type), '' ORDER BY f.position)
      INTO defs FROM pushsource.features f WHERE f.feature_view = v.name;
    columns := keydefs || tsdef || defs;
    sql := pg_catalog.format('SELECT * FROM pushsource_internal._run_features($1, $2, $3, $4, $5) AS t(%s)', columns);
    spine := spine || pg_catalog.format(' ORDER BY %s%I', keys, ts);
END
$$;
COMMENT ON FUNCTION pushsource_internal._run_plan(text, timestamptz, timestamptz, text) IS
  'internal: the queries and column list of fs_run';

CREATE OR REPLACE FUNCTION pushsource.fs_summary(name text) RETURNS jsonb LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k text := pushsource_internal._kind(fs_summary.name);
    r jsonb;
BEGIN
    IF k = 'entity' THEN
        SELECT pg_catalog.to_jsonb(e) INTO r FROM pushsource.entities e WHERE e.name = fs_summary.name;
    ELSIF k = 'push_source' THEN
        -- a dropped batch table is null here (not its old OID), and named
        -- in the problems
        SELECT pg_catalog.to_jsonb(s) || pg_catalog.jsonb_build_object('batch_table',
                   CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) s.batch_table)
                        THEN s.batch_table::text END)
          INTO r FROM pushsource.push_sources s WHERE s.name = fs_summary.name;
    ELSIF k = 'feature_view' THEN
        -- Tecton's max_data_delay: the most any source of the view delays
        SELECT pg_catalog.to_jsonb(v) || pg_catalog.jsonb_build_object('max_data_delay', s.data_delay)
          INTO r FROM pushsource.feature_views v JOIN pushsource_internal.source_catalog s ON s.name = v.source
         WHERE v.name = fs_summary.name;
    ELSE
        SELECT pg_catalog.to_jsonb(s) INTO r FROM pushsource.feature_services s WHERE s.name = fs_summary.name;
    END IF;
    IF k IN ('push_source', 'feature_view') AND NOT (pushsource.fs_validate(fs_summary.name) ->> 'valid')::boolean THEN
        r := r || pg_catalog.jsonb_build_object('problems', pushsource.fs_validate(fs_summary.name) -> 'problems');
    END IF;
    RETURN pg_catalog.jsonb_build_object('kind', k) || r - 'created_at';
END
$$;
COMMENT ON FUNCTION pushsource.fs_summary(text) IS
  'describes an entity, push source, feature view or feature service as jsonb';

CREATE OR REPLACE FUNCTION pushsource.fs_validate(name text) RETURNS jsonb LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k        text := pushsource_internal._kind(fs_validate.name);
    problems text[] := '{}';
    s        pushsource_internal.source_catalog;
    v        pushsource_internal.view_catalog;
    c        text;
    cols     text[];
    types    text[];
BEGIN
    IF k = 'push_source' THEN
        SELECT * INTO s FROM pushsource_internal.source_catalog x WHERE x.name = fs_validate.name;
        -- the types the declared schema gives, as when the table was created
        SELECT pg_catalog.array_agg(p.pg_type ORDER BY p.o) INTO types
          FROM pushsource_internal._parse_schema(pg_catalog.array_to_string(ARRAY(
                   SELECT pg_catalog.format('%s %s', n, t) FROM unnest(s.column_names, s.column_types) WITH ORDINALITY AS d(n, t, o)
                    ORDER BY d.o), ', ')) WITH ORDINALITY AS p(column_name, declared_type, pg_type, o);
        problems := pushsource_internal._table_problems(s.source_table, pg_catalog.format('table of push source "%s"', s.name),
                                                'pushsource_source', s.column_names, types);
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_class r WHERE r.oid OPERATOR(pg_catalog.=) s.source_table) THEN
            FOREACH c IN ARRAY ARRAY['zz_pushsource_row', 'zz_pushsource_fanout'] LOOP
                IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid = s.source_table
                                  AND t.tgname = c AND t.tgenabled <> 'D') THEN
                    problems := problems || pg_catalog.format('trigger "%s" on %s is missing or disabled', c, s.source_table);
                END IF;
            END LOOP;
        END IF;
        IF s.batch_table IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class r
                                                      WHERE r.oid OPERATOR(pg_catalog.=) s.batch_table) THEN
            problems := problems || pg_catalog.format('batch table of push source "%s" is missing', s.name);
        END IF;
    ELSIF k = 'feature_view' THEN
        SELECT * INTO v FROM pushsource_internal.view_catalog x WHERE x.name = fs_validate.name;
        SELECT * INTO s FROM pushsource_internal.source_catalog x WHERE x.name = v.source;
        -- keys, event time and values, typed as in the source's table
        SELECT pg_catalog.array_agg(x.c ORDER BY x.o),
               pg_catalog.array_agg(pg_catalog.format_type(a.atttypid, a.atttypmod) ORDER BY x.o)
          INTO cols, types
          FROM unnest(pushsource_internal._store_columns(v.join_keys, s.timestamp_field, v.value_columns)) WITH ORDINALITY AS x(c, o)
          LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) s.source_table
                AND a.attname OPERATOR(pg_catalog.=) x.c AND a.attnum > 0 AND NOT a.attisdropped;
        IF v.online AND v.aggregations IS NOT NULL AND v.aggregation_interval IS NOT NULL THEN
            problems := problems || pushsource_internal._table_problems(v.online_table, pg_catalog.format('online store of feature view "%s"', v.name), 'pushsource_store',
                v.join_keys || ARRAY['block_start', 'totals', 'tiles', '_fs_batch'],
                types[1:pg_catalog.cardinality(v.join_keys)] || ARRAY['timestamp with time zone', 'bytea', 'bytea', 'boolean']);
        ELSIF v.online THEN
            problems := problems || pushsource_internal._table_problems(v.online_table, pg_catalog.format('online store of feature view "%s"', v.name), 'pushsource_store',
                cols || '_fs_ingest_id'::text, types || 'bigint'::text);
        END IF;
        IF v.offline THEN
            problems := problems || pushsource_internal._table_problems(v.offline_table, pg_catalog.format('offline store of feature view "%s"', v.name), 'pushsource_store',
                cols || '_fs_ingest_id'::text, types || 'bigint'::text);
        END IF;
        problems := problems || ARRAY(SELECT pg_catalog.jsonb_array_elements_text(
                                          pushsource.fs_validate(v.source) -> 'problems'));
    ELSIF k = 'feature_service' THEN
        SELECT problems || coalesce(pg_catalog.array_agg(p), '{}') INTO problems
          FROM (SELECT DISTINCT sf.feature_view FROM pushsource_internal.service_feature sf
                 WHERE sf.service = fs_validate.name) x,
               LATERAL pg_catalog.jsonb_array_elements_text(pushsource.fs_validate(x.feature_view) -> 'problems') p;
    END IF;
    RETURN pg_catalog.jsonb_build_object('name', fs_validate.name, 'kind', k,
                                         'valid', pg_catalog.cardinality(problems) = 0,
                                         'problems', pg_catalog.to_jsonb(problems));
END
$$;
COMMENT ON FUNCTION pushsource.fs_validate(text) IS
  'checks that an object''s tables (owned by the extension''s owner), columns with their types and triggers are in place; returns {"valid": ..., "problems": [...]}';

CREATE OR REPLACE FUNCTION pushsource.fs_get_dataframe(name text, start_time timestamptz DEFAULT NULL,
                                             end_time timestamptz DEFAULT NULL)
RETURNS SETOF jsonb LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k   text := pushsource_internal._kind(fs_get_dataframe.name);
    tbl regclass;
    ts  text;
    cols text;
BEGIN
    IF k = 'push_source' THEN
        -- as Tecton's PushSource.get_dataframe: the batch source, if any
        SELECT coalesce(s.batch_table, s.source_table), s.timestamp_field,
               (SELECT pg_catalog.string_agg(pg_catalog.format('%I', c), ', ') FROM unnest(s.column_names) c)
          INTO tbl, ts, cols FROM pushsource_internal.source_catalog s WHERE s.name = fs_get_dataframe.name;
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) tbl) THEN
            RAISE EXCEPTION 'fs_get_dataframe("%"): its batch table was dropped (it was relation %)', fs_get_dataframe.name, tbl::oid
                USING ERRCODE = 'undefined_table';
        END IF;
    ELSIF k = 'feature_view' THEN
        SELECT v.offline_table, s.timestamp_field,
               (SELECT pg_catalog.string_agg(pg_catalog.format('%I', c), ', ')
                  FROM unnest(pushsource_internal._store_columns(v.join_keys, s.timestamp_field, v.value_columns)) c)
          INTO tbl, ts, cols
          FROM pushsource_internal.view_catalog v JOIN pushsource_internal.source_catalog s ON s.name = v.source
         WHERE v.name = fs_get_dataframe.name;
        IF tbl IS NULL THEN
            RAISE EXCEPTION 'feature view "%" has no offline store', fs_get_dataframe.name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Create the view with offline => true to keep its history.';
        END IF;
    ELSE
        RAISE EXCEPTION '"%" is %, not a push source or feature view', fs_get_dataframe.name,
                        CASE k WHEN 'entity' THEN 'an entity' ELSE 'a ' || pg_catalog.replace(k, '_', ' ') END
            USING ERRCODE = 'wrong_object_type';
    END IF;
    IF start_time IS NOT NULL AND end_time IS NOT NULL AND end_time < start_time THEN
        RAISE EXCEPTION '"%": end_time % is before start_time %', fs_get_dataframe.name, end_time, start_time
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY EXECUTE pg_catalog.format(
        'SELECT pg_catalog.to_jsonb(t) FROM (SELECT %s FROM %s WHERE ($1 IS NULL OR %I >= $1) AND ($2 IS NULL OR %I < $2)'
        ' ORDER BY %I%s) t',
        cols, tbl, ts, ts, ts, CASE WHEN k = 'feature_view' THEN ', _fs_ingest_id' ELSE '' END)
        USING fs_get_dataframe.start_time, fs_get_dataframe.end_time;
END
$$;
COMMENT ON FUNCTION pushsource.fs_get_dataframe(text, timestamptz, timestamptz) IS
  'rows of a push source''s batch table (its log when it has none) or a feature view''s offline store with event time in [start_time, end_time), as jsonb';

CREATE OR REPLACE FUNCTION pushsource_internal._job(p_kind text, p_object text, p_start timestamptz, p_end timestamptz,
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
                             ELSE pg_catalog.format('the %s of %s "%s"', p_kind,
                                      CASE WHEN EXISTS (SELECT 1 FROM pushsource_internal.source_catalog x
                                                         WHERE x.name = p_object)
                                           THEN 'push source' ELSE 'feature view' END, p_object) END
            USING ERRCODE = 'read_only_sql_transaction',
                  DETAIL = CASE WHEN pg_catalog.pg_is_in_recovery() THEN 'This server is a standby; it serves reads only.'
                                ELSE 'transaction_read_only is on.' END,
                  HINT = CASE WHEN pg_catalog.pg_is_in_recovery() THEN 'Run it on the primary.'
                              ELSE 'Run it in a read-write transaction.' END;
    END IF;
    BEGIN
        IF p_kind = 'deletion' THEN
            r := pushsource_internal._delete_keys(p_object, p_args -> 'keys', (p_args ->> 'online')::boolean,
                                          (p_args ->> 'offline')::boolean);
        ELSIF p_kind = 'materialization' THEN
            r := pushsource_internal._materialize(p_object, p_start, p_end);
        ELSE
            r := pushsource_internal._maintain();
        END IF;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
                                hnt = PG_EXCEPTION_HINT;
        jid := pushsource_internal._job_failed(p_kind, p_object, p_start, p_end, msg, st, p_scheduled, started);
        -- raised for pg_cron too, so that cron.job_run_details says failed;
        -- the failure's row is in pushsource.jobs already (its own transaction)
        IF p_scheduled THEN
            det := pg_catalog.concat_ws(E'\n', NULLIF(det, ''),
                       pg_catalog.format('Recorded as job %s in pushsource.jobs.', coalesce(jid::text, '(not recorded)')));
        END IF;
        PERFORM pushsource_internal._reraise(st, msg, det, hnt);
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
            pushsource_internal._job_attempt(p_kind, p_object, p_start), p_scheduled, started)
    RETURNING id INTO jid;
    RETURN pg_catalog.jsonb_build_object('job', jid, 'state', 'succeeded') || r;
END
$$;
COMMENT ON FUNCTION pushsource_internal._job(text, text, timestamptz, timestamptz, jsonb, boolean) IS
  'internal: runs a materialization, deletion or maintenance and records it in pushsource.jobs';

CREATE OR REPLACE FUNCTION pushsource.fs_delete_keys(feature_view text, keys jsonb,
    online boolean DEFAULT true, offline boolean DEFAULT true)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k text;
BEGIN
    PERFORM pushsource_internal._check_name(feature_view, 'feature view');
    SELECT r.kind INTO k FROM pushsource_internal.object_registry r WHERE r.name = feature_view;
    IF k IS NULL OR k NOT IN ('feature_view', 'push_source') THEN
        RAISE EXCEPTION 'fs_delete_keys: % "%" %', CASE WHEN k IS NULL THEN 'feature view or push source' ELSE 'object' END,
                        feature_view, CASE WHEN k IS NULL THEN 'does not exist'
                                           ELSE 'is a' || CASE WHEN k = 'entity' THEN 'n ' ELSE ' ' END
                                                || pg_catalog.replace(k, '_', ' ') || ', not a feature view or a push source' END
            USING ERRCODE = CASE WHEN k IS NULL THEN 'undefined_object' ELSE 'wrong_object_type' END,
                  HINT = 'Feature views are listed in pushsource.feature_views, push sources in pushsource.push_sources.';
    END IF;
    IF keys IS NULL OR online IS NULL OR offline IS NULL THEN
        RAISE EXCEPTION 'fs_delete_keys("%"): keys, online and offline must not be null', feature_view
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT online AND NOT offline AND k = 'feature_view' THEN
        RAISE EXCEPTION 'fs_delete_keys("%"): online and offline are both false: nothing to delete', feature_view
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN pushsource_internal._job('deletion', feature_view, NULL, NULL,
        pg_catalog.jsonb_build_object('keys', keys, 'online', online, 'offline', offline), false);
END
$$;
COMMENT ON FUNCTION pushsource.fs_delete_keys(text, jsonb, boolean, boolean) IS
  'deletes the rows of some entities (an array of join-key objects): of a feature view, from its online store (online) and offline store (offline); of a push source, from its log and from the stores of its views keyed by those columns; in one transaction; returns the job';

CREATE OR REPLACE FUNCTION pushsource_internal._check_batch_table(p_what text, p_table regclass,
    p_source regclass DEFAULT NULL, p_cols text[] DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    c pg_catalog.pg_class;
    bad text;
BEGIN
    IF p_source IS NOT NULL AND EXISTS (SELECT 1 FROM pg_catalog.pg_class r WHERE r.oid OPERATOR(pg_catalog.=) p_table) THEN
        EXECUTE pg_catalog.format('LOCK TABLE %s IN ACCESS SHARE MODE', p_table);
    END IF;
    SELECT * INTO c FROM pg_catalog.pg_class r WHERE r.oid OPERATOR(pg_catalog.=) p_table;
    IF NOT FOUND THEN
        RAISE EXCEPTION '%: its batch table was dropped (it was relation %)', p_what, p_table::oid
            USING ERRCODE = 'undefined_table',
                  HINT = 'A batch table is named when the source is registered: drop the source and register it again with its new batch table.';
    END IF;
    IF c.relkind NOT IN ('r', 'p') OR c.relrowsecurity OR c.relpersistence = 't' THEN
        RAISE EXCEPTION '%: batch table % must be a plain, permanent table without row security', p_what, p_table
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'A view, a foreign table, row security policies or a temporary table would run code or vanish; copy the rows into a table.';
    END IF;
    IF NOT pg_catalog.has_table_privilege('pushsource_admin', p_table, 'SELECT') THEN
        RAISE EXCEPTION '%: role pushsource_admin may not read batch table %', p_what, p_table
            USING ERRCODE = 'insufficient_privilege',
                  HINT = pg_catalog.format('GRANT SELECT ON %s TO pushsource_admin;', p_table);
    END IF;
    IF p_source IS NOT NULL THEN
        IF EXISTS (SELECT 1 FROM unnest(p_cols) x(col)
                    WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute b
                                       WHERE b.attrelid OPERATOR(pg_catalog.=) p_table
                                         AND b.attname OPERATOR(pg_catalog.=) x.col
                                         AND b.attnum > 0 AND NOT b.attisdropped)) THEN
            RAISE EXCEPTION '%: batch table % lacks columns of the push schema: %', p_what, p_table,
                  (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(x.col), ', ') FROM unnest(p_cols) x(col)
                    WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute b
                                       WHERE b.attrelid OPERATOR(pg_catalog.=) p_table
                                         AND b.attname OPERATOR(pg_catalog.=) x.col
                                         AND b.attnum > 0 AND NOT b.attisdropped))
                USING ERRCODE = 'undefined_column',
                      HINT = 'A batch table must contain every column of the push schema with the same type.';
        END IF;
        SELECT pg_catalog.string_agg(pg_catalog.format('%I (%s, not %s)', x.col,
                   coalesce(pg_catalog.format_type(b.atttypid, b.atttypmod), 'missing'),
                   pg_catalog.format_type(s.atttypid, s.atttypmod)), ', ' ORDER BY x.o)
          INTO bad
          FROM unnest(p_cols) WITH ORDINALITY AS x(col, o)
          JOIN pg_catalog.pg_attribute s ON s.attrelid OPERATOR(pg_catalog.=) p_source
                AND s.attname OPERATOR(pg_catalog.=) x.col AND s.attnum > 0 AND NOT s.attisdropped
          LEFT JOIN pg_catalog.pg_attribute b ON b.attrelid OPERATOR(pg_catalog.=) p_table
                AND b.attname OPERATOR(pg_catalog.=) x.col AND b.attnum > 0 AND NOT b.attisdropped
         WHERE (b.atttypid, b.atttypmod) IS DISTINCT FROM (s.atttypid, s.atttypmod);
        IF bad IS NOT NULL THEN
            RAISE EXCEPTION '%: batch table % no longer has the push schema''s column types: %', p_what, p_table, bad
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'A batch table must contain every column of the push schema with the same type.';
        END IF;
    END IF;
END
$$;
COMMENT ON FUNCTION pushsource_internal._check_batch_table(text, regclass, regclass, text[]) IS
  'internal: a batch table must be a plain permanent table without row security that pushsource_admin may read, with the source''s column types (checked under a lock before a backfill)';

CREATE OR REPLACE FUNCTION pushsource_internal._check_materialize(p_what text, p_view text, p_start timestamptz, p_end timestamptz)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    bt regclass;
    sn text;
    st regclass;
    sc text[];
    reads regclass;
BEGIN
    PERFORM pushsource_internal._check_name(p_view, 'feature view');
    SELECT s.batch_table, s.name, s.source_table, ARRAY[s.timestamp_field], pushsource_internal._backfill_table(s)
      INTO bt, sn, st, sc, reads FROM pushsource_internal.view_catalog v
      JOIN pushsource_internal.source_catalog s ON s.name = v.source WHERE v.name = p_view;
    IF NOT FOUND THEN
        RAISE EXCEPTION '%: feature view "%" does not exist', p_what, p_view
            USING ERRCODE = 'undefined_object', HINT = 'Feature views are listed in pushsource.feature_views.';
    END IF;
    IF reads IS NULL THEN
        RAISE EXCEPTION '%: push source "%" of feature view "%" has no batch_table and keeps no log', p_what, sn, p_view
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Register the source with fs_create_push_source(..., batch_table => ''schema.table''), or with log_offline => true to backfill from its log.';
    END IF;
    IF bt IS NOT NULL THEN
        PERFORM pushsource_internal._check_batch_table(pg_catalog.format('%s("%s")', p_what, p_view), bt, st, sc);
    END IF;
    IF p_start IS NULL OR p_end IS NULL THEN
        RAISE EXCEPTION '%("%"): start_time and end_time must not be null', p_what, p_view
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT pg_catalog.isfinite(p_start) OR NOT pg_catalog.isfinite(p_end) OR p_end <= p_start THEN
        RAISE EXCEPTION '%("%"): [%, %) is not a window: end_time must be after start_time, both finite',
                        p_what, p_view, p_start, p_end
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
COMMENT ON FUNCTION pushsource_internal._check_materialize(text, text, timestamptz, timestamptz) IS
  'internal: argument checks of fs_materialize';

CREATE OR REPLACE FUNCTION pushsource.fs_materialize(feature_view text, start_time timestamptz, end_time timestamptz)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pushsource_internal._check_materialize('fs_materialize', feature_view, start_time, end_time);
    RETURN pushsource_internal._job('materialization', feature_view, start_time, end_time, NULL, false);
END
$$;
COMMENT ON FUNCTION pushsource.fs_materialize(text, timestamptz, timestamptz) IS
  'backfills [start_time, end_time) of a view''s stores from its source''s batch_table (or the log of a log_offline source without one); idempotent; a fresher pushed online value stays';

CREATE OR REPLACE FUNCTION pushsource_internal._materialize_next_start(p_view text)
RETURNS timestamptz LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v  pushsource_internal.view_catalog;
    s  pushsource_internal.source_catalog;
    t  timestamptz;
BEGIN
    SELECT * INTO v FROM pushsource_internal.view_catalog x WHERE x.name = p_view;
    SELECT * INTO s FROM pushsource_internal.source_catalog x WHERE x.name = v.source;
    SELECT pg_catalog.max(j.window_end) INTO t FROM pushsource.jobs j
     WHERE j.kind = 'materialization' AND j.object = p_view AND j.state = 'succeeded'
       AND j.started_at >= v.created_at;
    IF t IS NULL THEN
        t := v.feature_start_time;
    END IF;
    IF t IS NULL THEN
        EXECUTE pg_catalog.format('SELECT pg_catalog.min(%I) FROM %s WHERE pg_catalog.isfinite(%I)',
                                  s.timestamp_field, pushsource_internal._backfill_table(s), s.timestamp_field) INTO t;
    END IF;
    RETURN t;
END
$$;
COMMENT ON FUNCTION pushsource_internal._materialize_next_start(text) IS
  'internal: the start of the next fs_materialize_incremental window';

CREATE OR REPLACE FUNCTION pushsource_internal._materialize_windows(p_view text, p_start timestamptz, p_end timestamptz,
    p_window interval)
RETURNS TABLE (n int, windows int, window_start timestamptz, window_end timestamptz, rows_total bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s     pushsource_internal.source_catalog;
    total bigint;
    cnt   bigint;
BEGIN
    PERFORM pushsource_internal._check_can_commit('fs_materialize_proc');
    PERFORM pushsource_internal._check_materialize('fs_materialize_proc', p_view, p_start, p_end);
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
    SELECT x.* INTO s FROM pushsource_internal.view_catalog v JOIN pushsource_internal.source_catalog x ON x.name = v.source
     WHERE v.name = p_view;
    EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM %s WHERE %I >= $1 AND %I < $2',
                              pushsource_internal._backfill_table(s), s.timestamp_field, s.timestamp_field)
       INTO total USING p_start, p_end;
    RETURN QUERY
    SELECT g.o::int, cnt::int, g.t, LEAST(g.t + p_window, p_end), total
      FROM pg_catalog.generate_series(p_start, p_end - interval '1 microsecond', p_window) WITH ORDINALITY AS g(t, o)
     ORDER BY g.o;
END
$$;
COMMENT ON FUNCTION pushsource_internal._materialize_windows(text, timestamptz, timestamptz, interval) IS
  'internal: the windows of fs_materialize_proc and the batch rows they hold';

CREATE OR REPLACE FUNCTION pushsource_internal._scheduled_materialize(p_view text) RETURNS jsonb LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    -- Tecton's data_delay: the window ends that long before the schedule's
    -- time, so that late batch rows have arrived
    SELECT pushsource_internal._materialize_incremental(p_view,
               pg_catalog.now() OPERATOR(pg_catalog.-) coalesce((SELECT s.data_delay
                   FROM pushsource_internal.view_catalog v JOIN pushsource_internal.source_catalog s ON s.name = v.source
                  WHERE v.name = p_view), interval '0'), true)
$$;
COMMENT ON FUNCTION pushsource_internal._scheduled_materialize(text) IS
  'internal: the body of job pushsource:materialize:<view> (records a failure instead of raising it)';

REVOKE ALL ON FUNCTION pushsource_internal._store_columns(text[], text, text[]),
    pushsource_internal._tecton_type(oid), pushsource_internal._service_key_types(text),
    pushsource_internal._source_for(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pushsource_internal._store_columns(text[], text, text[]), pushsource_internal._tecton_type(oid)
    TO pushsource_admin, pushsource_writer, pushsource_reader;
GRANT EXECUTE ON FUNCTION pushsource_internal._source_for(text, text) TO pushsource_admin;
REVOKE ALL ON FUNCTION pushsource_internal._backfill_table(pushsource_internal.source_catalog) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pushsource_internal._backfill_table(pushsource_internal.source_catalog) TO pushsource_admin;
REVOKE ALL ON FUNCTION pushsource_internal._jobs(text, text, boolean, boolean, int, text),
    pushsource.fs_deletion_status(text, boolean, boolean, int, text),
    pushsource.fs_materialization_status(text, boolean, boolean, int, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pushsource_internal._jobs(text, text, boolean, boolean, int, text),
    pushsource.fs_deletion_status(text, boolean, boolean, int, text),
    pushsource.fs_materialization_status(text, boolean, boolean, int, text)
    TO pushsource_reader, pushsource_writer, pushsource_admin;
REVOKE ALL ON FUNCTION pushsource.fs_create_push_source(text, text, text, boolean, regclass, text, text, jsonb, boolean, interval, interval, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pushsource.fs_create_push_source(text, text, text, boolean, regclass, text, text, jsonb, boolean, interval, interval, interval) TO pushsource_admin;
REVOKE ALL ON FUNCTION pushsource.fs_run_stream(text, bigint, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pushsource.fs_run_stream(text, bigint, int) TO pushsource_reader, pushsource_writer, pushsource_admin;
