/*
 * pushsource--0.5--0.6.sql
 *
 * fs_run(..., mock_sources => table): Tecton's run(mock_sources=...), a
 * view's output computed from a table of the push source's rows instead of
 * its offline store (fs_run_columns takes it too);
 * - readers and writers may run fs_run on tiled views (they lacked EXECUTE
 *   on the function that aligns the tiles);
 * - fs_create_push_source(..., replicated => true): a serving node's source
 *   filled by logical replication, fanned out in the apply worker; key
 *   deletions reach serving nodes through replicated_deletions; a push to
 *   a published source writes both stores, and a source without a log
 *   still publishes its rows;
 * - pushsource.stat_sources and stat_feature_views (counters in shared
 *   memory when pushsource is in shared_preload_libraries), fs_stat_reset().
 */

-- complain if script is sourced in psql, rather than in ALTER EXTENSION
\echo Use "ALTER EXTENSION pushsource UPDATE TO '0.6'" to load this file. \quit

DROP FUNCTION pushsource.fs_run(text, timestamptz, timestamptz, text);
DROP FUNCTION pushsource.fs_run_columns(text, text);
DROP FUNCTION pushsource_internal._run_plan(text, timestamptz, timestamptz, text);
DROP FUNCTION pushsource_internal._run_features(text, text[], timestamptz, timestamptz, interval);
DROP FUNCTION pushsource_internal._range_plan(text, timestamptz, timestamptz, jsonb);

-- The feature rows of one view with event time in [start_time, end_time),
-- optionally only for some entities: keys, event time, features; read
-- from its offline store, or from mock (fs_run's mock source): the rows
-- the push fan-out would write to the store, numbered (_fs_ingest_id) in
-- physical order.  rel: the relation (or subquery) read, with
-- _fs_ingest_id.
CREATE FUNCTION pushsource_internal._range_plan(feature_view text, start_time timestamptz,
    end_time timestamptz, entities jsonb, mock regclass DEFAULT NULL,
    OUT sql text, OUT columns text, OUT rel text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v    pushsource_internal.view_catalog;
    ts   text;
    src  regclass;
    cols text;
    keys text;
    defs text;
BEGIN
    PERFORM pushsource_internal._check_name(feature_view, 'feature view');
    SELECT * INTO v FROM pushsource_internal.view_catalog x WHERE x.name = feature_view;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feature view "%" does not exist', feature_view
            USING ERRCODE = 'undefined_object', HINT = 'Feature views are listed in pushsource.feature_views.';
    END IF;
    IF v.offline_table IS NULL AND mock IS NULL THEN
        RAISE EXCEPTION 'feature view "%" has no offline store', feature_view
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Create the view with offline => true to keep its history.';
    END IF;
    IF start_time IS NULL OR end_time IS NULL THEN
        RAISE EXCEPTION 'feature view "%": start_time and end_time must not be null', feature_view
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF end_time < start_time THEN
        RAISE EXCEPTION 'feature view "%": end_time % is before start_time %', feature_view, end_time, start_time
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT s.timestamp_field, s.source_table INTO ts, src FROM pushsource_internal.source_catalog s WHERE s.name = v.source;
    IF mock IS NULL THEN
        SELECT pg_catalog.string_agg(pg_catalog.format('%I', a.attname), ', ' ORDER BY a.attnum),
               pg_catalog.string_agg(pg_catalog.format('%I %s', a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum)
          INTO cols, columns
          FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = v.offline_table AND a.attnum > 0 AND NOT a.attisdropped
           AND a.attname <> '_fs_ingest_id';
        rel := v.offline_table::text;
    ELSE
        -- the join reads the mock as it reads the source's log: checked once, in C
        PERFORM pushsource_internal._check_mock(feature_view, mock);
        SELECT pg_catalog.string_agg(pg_catalog.format('%I', x.c), ', ' ORDER BY x.o),
               pg_catalog.string_agg(pg_catalog.format('%I %s', x.c, pg_catalog.format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY x.o)
          INTO cols, columns
          FROM unnest(pushsource_internal._store_columns(v.join_keys, ts, v.value_columns)) WITH ORDINALITY AS x(c, o)
          JOIN pg_catalog.pg_attribute a ON a.attrelid = src AND a.attname = x.c;
        -- what the fan-out stores: rows with every key, from feature_start_time on
        SELECT pg_catalog.string_agg(pg_catalog.format(' AND %I IS NOT NULL', k), '')
          INTO keys FROM unnest(v.join_keys) AS k;
        rel := pg_catalog.format('(SELECT %s, pg_catalog.row_number() OVER (ORDER BY ctid) AS _fs_ingest_id'
                                 ' FROM %s WHERE true%s%s) _fs_mock',
                                 cols, mock, coalesce(keys, ''),
                                 CASE WHEN v.feature_start_time IS NULL THEN ''
                                      ELSE pg_catalog.format(' AND %I >= %L::timestamptz', ts, v.feature_start_time) END);
        keys := NULL;
    END IF;
    sql := pg_catalog.format('SELECT %s FROM %s WHERE %I >= $1 AND %I < $2', cols, rel, ts, ts);
    IF entities IS NOT NULL AND pg_catalog.cardinality(v.join_keys) = 0 THEN
        -- a view without entities: each element is {} (one object is one
        -- entity, as for views with keys); [] selects nothing
        IF pg_catalog.jsonb_typeof(entities) = 'object' THEN
            entities := pg_catalog.jsonb_build_array(entities);
        END IF;
        IF pg_catalog.jsonb_typeof(entities) <> 'array' OR EXISTS (
               SELECT 1 FROM pg_catalog.jsonb_array_elements(entities) e WHERE e <> '{}'::jsonb) THEN
            RAISE EXCEPTION 'feature view "%" has no join keys: entities must be {} or an array of {}', feature_view
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        sql := sql || ' AND (pg_catalog.jsonb_typeof($3) = ''object'' OR pg_catalog.jsonb_array_length($3) > 0)';
    ELSIF entities IS NOT NULL THEN
        -- the keys are read by the one key parser (pushes, online reads,
        -- fs_delete_keys): each value checked by its type's rules, an
        -- error naming the entity and the join key
        SELECT pg_catalog.string_agg(pg_catalog.format('%I', k), ', ' ORDER BY o),
               pg_catalog.string_agg(pg_catalog.format('%I %s', k, pg_catalog.format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY o)
          INTO keys, defs
          FROM unnest(v.join_keys) WITH ORDINALITY AS j(k, o)
          JOIN pg_catalog.pg_attribute a ON a.attrelid = coalesce(v.offline_table, src) AND a.attname = j.k;
        -- checked now, so that fs_historical_features_columns refuses bad keys too
        EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM pushsource_internal._key_set(%L, $1) AS e(%s)',
                                  feature_view, defs) USING entities;
        sql := sql || pg_catalog.format(' AND (%s) IN (SELECT %s FROM pushsource_internal._key_set(%L, $3) AS e(%s))',
                                        keys, keys, feature_view, defs);
    END IF;
    sql := sql || pg_catalog.format(' ORDER BY %I, _fs_ingest_id', ts);
END
$$;
COMMENT ON FUNCTION pushsource_internal._range_plan(text, timestamptz, timestamptz, jsonb, regclass) IS
  'internal: query and columns of the no-spine fs_get_historical_features and of fs_run';

-- The query of each level and its column list; 'full' of an aggregate view
-- also gives the spine query (tile ends or event times) whose rows get the
-- features.  Parameters: $1 start, $2 end, $3 the interval, $4 the slots'
-- function specs; the 'full' query takes $1 the spine, $2 the view, then
-- start, end and interval, which _run_features binds to the spine's $1-$3,
-- and $6 the mock.  With mock, everything reads it instead of the store.
CREATE FUNCTION pushsource_internal._run_plan(feature_view text, start_time timestamptz,
    end_time timestamptz, aggregation_level text, mock regclass DEFAULT NULL,
    OUT sql text, OUT columns text, OUT spine text, OUT specs text[])
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v       pushsource_internal.view_catalog;
    rel     text;
    typrel  regclass;
    ts      text;
    tstype  text;
    tsdef   text;
    keys    text;
    keydefs text;
    tiles   text;
    aggs    text;
    defs    text;
BEGIN
    SELECT p.sql, p.columns, p.rel INTO sql, columns, rel
      FROM pushsource_internal._range_plan(feature_view, start_time, end_time, NULL, mock) p;
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
    SELECT s.timestamp_field, CASE WHEN mock IS NULL THEN v.offline_table ELSE s.source_table END
      INTO ts, typrel FROM pushsource_internal.source_catalog s WHERE s.name = v.source;
    SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO tstype
      FROM pg_catalog.pg_attribute a WHERE a.attrelid = typrel AND a.attname = ts;
    tsdef := pg_catalog.format('%I %s', ts, tstype);
    SELECT pg_catalog.string_agg(pg_catalog.format('%I, ', j.k), '' ORDER BY j.o),
           pg_catalog.string_agg(pg_catalog.format('%I %s, ', j.k, pg_catalog.format_type(a.atttypid, a.atttypmod)), '' ORDER BY j.o)
      INTO keys, keydefs
      FROM unnest(v.join_keys) WITH ORDINALITY AS j(k, o)
      JOIN pg_catalog.pg_attribute a ON a.attrelid = typrel AND a.attname = j.k;
    keys := coalesce(keys, '');
    keydefs := coalesce(keydefs, '');
    -- the tiles that overlap [start, end), whole: their events, each with
    -- its tile, aligned by the C code that aligns the online tiles
    -- (_tile_block of one tile's microseconds is the start of its tile)
    tiles := pg_catalog.format(
        'SELECT pushsource_internal._tile_block(%1$I, %3$s) AS _fs_tile, * FROM %2$s'
        ' WHERE %1$I >= pushsource_internal._tile_block($1, %3$s) AND %1$I < $2 + $3'
        ' AND pushsource_internal._tile_block(%1$I, %3$s) < $2 AND pg_catalog.isfinite(%1$I)',
        ts, rel, (EXTRACT(epoch FROM v.aggregation_interval) * 1000000)::int8);
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
                                         keys, ts, rel, ts, ts, ts) END;
    SELECT pg_catalog.string_agg(pg_catalog.format(', %I %s', f.feature, f.pg_type), '' ORDER BY f.position)
      INTO defs FROM pushsource.features f WHERE f.feature_view = v.name;
    columns := keydefs || tsdef || defs;
    sql := pg_catalog.format('SELECT * FROM pushsource_internal._run_features($1, $2, $3, $4, $5, $6) AS t(%s)', columns);
    spine := spine || pg_catalog.format(' ORDER BY %s%I', keys, ts);
END
$$;
COMMENT ON FUNCTION pushsource_internal._run_plan(text, timestamptz, timestamptz, text, regclass) IS
  'internal: the queries and column list of fs_run';

CREATE FUNCTION pushsource.fs_run(feature_view text, start_time timestamptz, end_time timestamptz,
    aggregation_level text DEFAULT 'full', mock_sources regclass DEFAULT NULL)
RETURNS SETOF record LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p   record;
    iv  interval;
BEGIN
    p := pushsource_internal._run_plan(feature_view, start_time, end_time, aggregation_level, mock_sources);
    SELECT v.aggregation_interval INTO iv FROM pushsource_internal.view_catalog v WHERE v.name = feature_view;
    IF iv IS NOT NULL AND aggregation_level IN ('partial', 'full')
       AND NOT (pg_catalog.isfinite(start_time) AND pg_catalog.isfinite(end_time)) THEN
        RAISE EXCEPTION 'feature view "%" is tiled: aggregation_level ''%'' needs a finite start_time and end_time, got % and %',
                        feature_view, aggregation_level, start_time, end_time
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Its tiles are aligned to them; give the range of the events, e.g. from the earliest event''s day.';
    END IF;
    IF p.spine IS NULL THEN
        RETURN QUERY EXECUTE p.sql USING start_time, end_time, iv, p.specs;
        RETURN;
    END IF;
    RETURN QUERY EXECUTE p.sql USING p.spine, ARRAY[feature_view], start_time, end_time, iv, mock_sources;
END
$$;
CREATE FUNCTION pushsource_internal._run_features(spine text, features text[], start_time timestamptz,
    end_time timestamptz, iv interval, mock regclass)
RETURNS SETOF record LANGUAGE c CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'fs_run_features';
COMMENT ON FUNCTION pushsource_internal._run_features(text, text[], timestamptz, timestamptz, interval, regclass) IS
  'internal: fs_get_historical_features over fs_run''s spine query, its $1-$3 bound to start_time, end_time and iv, reading mock if not null';
CREATE FUNCTION pushsource_internal._check_mock(feature_view text, mock regclass)
RETURNS void LANGUAGE c STRICT STABLE
AS 'MODULE_PATHNAME', 'fs_check_mock';
COMMENT ON FUNCTION pushsource_internal._check_mock(text, regclass) IS
  'internal: refuses a mock source that is not a table with the columns, of the push source''s types, the view reads';

COMMENT ON FUNCTION pushsource.fs_run(text, timestamptz, timestamptz, text, regclass) IS
  'what a feature view computes over [start_time, end_time) from its offline store or a mock source table: its events (disabled), tiles (partial) or features (full); AS t(...) from fs_run_columns()';

CREATE FUNCTION pushsource.fs_run_columns(feature_view text, aggregation_level text DEFAULT 'full',
    mock_sources regclass DEFAULT NULL)
RETURNS text LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT (pushsource_internal._run_plan(feature_view, '-infinity', 'infinity', aggregation_level, mock_sources)).columns
$$;
COMMENT ON FUNCTION pushsource.fs_run_columns(text, text, regclass) IS
  'the column definition list to write after fs_run(...) AS t(...)';


REVOKE ALL ON FUNCTION pushsource_internal._range_plan(text, timestamptz, timestamptz, jsonb, regclass),
    pushsource_internal._run_plan(text, timestamptz, timestamptz, text, regclass),
    pushsource.fs_run(text, timestamptz, timestamptz, text, regclass),
    pushsource.fs_run_columns(text, text, regclass),
    pushsource_internal._run_features(text, text[], timestamptz, timestamptz, interval, regclass),
    pushsource_internal._check_mock(text, regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pushsource_internal._range_plan(text, timestamptz, timestamptz, jsonb, regclass),
    pushsource_internal._run_plan(text, timestamptz, timestamptz, text, regclass),
    pushsource.fs_run(text, timestamptz, timestamptz, text, regclass),
    pushsource.fs_run_columns(text, text, regclass),
    pushsource_internal._run_features(text, text[], timestamptz, timestamptz, interval, regclass),
    pushsource_internal._check_mock(text, regclass)
    TO pushsource_reader, pushsource_writer, pushsource_admin;
REVOKE ALL ON FUNCTION pushsource_internal._tile_block(timestamptz, bigint) FROM pushsource_admin;
GRANT EXECUTE ON FUNCTION pushsource_internal._tile_block(timestamptz, bigint)
    TO pushsource_reader, pushsource_writer, pushsource_admin;

-- 0.6: replicated sources (serving nodes fed by logical replication)
ALTER TABLE pushsource_internal.source_catalog ADD COLUMN replicated boolean NOT NULL DEFAULT false;
CREATE OR REPLACE VIEW pushsource.push_sources AS
SELECT s.name, s.source_table,
       (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('name', n, 'type', t) ORDER BY o)
          FROM unnest(s.column_names, s.column_types) WITH ORDINALITY AS c(n, t, o)) AS schema,
       s.timestamp_field, s.log_offline, s.batch_table,
       (SELECT pg_catalog.array_agg(v.name ORDER BY v.name) FROM pushsource_internal.view_catalog v
         WHERE v.source = s.name) AS feature_views,
       s.description, s.owner, s.tags, s.prevent_destroy, s.created_at,
       s.partition_interval, s.source_retention, s.data_delay, s.replicated
FROM pushsource_internal.source_catalog s;
CREATE FUNCTION pushsource_internal._push_replicated() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'fs_push_replicated_trigger';
COMMENT ON FUNCTION pushsource_internal._push_replicated() IS
  'internal: the fan-out of a replicated source at commit of logical replication''s apply (deferred constraint trigger)';

DROP FUNCTION pushsource.fs_create_push_source(text, text, text, boolean, regclass, text, text, jsonb, boolean, interval, interval, interval);
CREATE FUNCTION pushsource.fs_create_push_source(
    name text, schema text, timestamp_field text,
    log_offline boolean DEFAULT true, batch_table regclass DEFAULT NULL,
    description text DEFAULT NULL, owner text DEFAULT NULL, tags jsonb DEFAULT '{}',
    prevent_destroy boolean DEFAULT false,
    partition_interval interval DEFAULT NULL, source_retention interval DEFAULT NULL,
    data_delay interval DEFAULT NULL, replicated boolean DEFAULT false)
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
    IF fs_create_push_source.replicated AND fs_create_push_source.partition_interval IS NOT NULL THEN
        RAISE EXCEPTION 'push source "%": a replicated source cannot be time-partitioned', p_name
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Leave partition_interval NULL on the serving node (the ingest node''s source may be partitioned: publish it with publish_via_partition_root = true), and bound it with source_retention.';
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
    IF fs_create_push_source.replicated THEN
        -- logical replication's apply fires row triggers enabled always
        -- (or replica), never statement triggers: the row trigger buffers
        -- the applied rows (and refuses local pushes), a deferred one fans
        -- them out at commit
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER zz_pushsource_row', tbl);
        EXECUTE pg_catalog.format('CREATE CONSTRAINT TRIGGER zz_pushsource_replicated AFTER INSERT ON %s'
                                  ' DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION %I._push_replicated()',
                                  tbl, 'pushsource_internal');
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER zz_pushsource_replicated', tbl);
    END IF;
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
        partition_interval, source_retention, data_delay, replicated)
    VALUES (p_name, tbl, cols, types, fs_create_push_source.timestamp_field,
            coalesce(fs_create_push_source.log_offline, true), fs_create_push_source.batch_table,
            fs_create_push_source.description, fs_create_push_source.owner,
            pushsource_internal._check_tags('push source', p_name, fs_create_push_source.tags),
            coalesce(fs_create_push_source.prevent_destroy, false),
            fs_create_push_source.partition_interval, fs_create_push_source.source_retention,
            fs_create_push_source.data_delay, coalesce(fs_create_push_source.replicated, false));
    RETURN tbl;
END
$$;
COMMENT ON FUNCTION pushsource.fs_create_push_source(text, text, text, boolean, regclass, text, text, jsonb, boolean, interval, interval, interval, boolean) IS
  'registers a push source and creates its table (INSERT, COPY or fs_push into it; replicated: filled by a logical replication subscription)';

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
            -- replication: a replicated source's triggers fire in the apply
            -- worker; a subscribed table of a source that is not would get
            -- rows its views never see
            IF s.replicated AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid = s.source_table
                                               AND t.tgname = 'zz_pushsource_replicated' AND t.tgenabled = 'A')
                            OR s.replicated <> EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid = s.source_table
                                                          AND t.tgname = 'zz_pushsource_row' AND t.tgenabled = 'A') THEN
                problems := problems || pg_catalog.format('the triggers on %s are not those of a %s source', s.source_table,
                                                          CASE WHEN s.replicated THEN 'replicated' ELSE 'local' END);
            END IF;
            IF NOT s.replicated AND EXISTS (SELECT 1 FROM pg_catalog.pg_subscription_rel sr WHERE sr.srrelid = s.source_table) THEN
                problems := problems || pg_catalog.format(
                    'push source "%s" is not replicated, but a subscription fills %s: its views never see the rows it applies (fs_drop it and create it again with replicated => true before subscribing)',
                    s.name, s.source_table);
            END IF;
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

CREATE OR REPLACE FUNCTION pushsource.fs_delete_keys(feature_view text, keys jsonb,
    online boolean DEFAULT true, offline boolean DEFAULT true)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k text;
    r jsonb;
BEGIN
    PERFORM pushsource_internal._check_name(feature_view, 'feature view');
    SELECT x.kind INTO k FROM pushsource_internal.object_registry x WHERE x.name = feature_view;
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
    r := pushsource_internal._job('deletion', feature_view, NULL, NULL,
        pg_catalog.jsonb_build_object('keys', keys, 'online', online, 'offline', offline), false);
    PERFORM pushsource_internal._publish_deletion(feature_view, k, keys, online, offline);
    RETURN r;
END
$$;
COMMENT ON FUNCTION pushsource.fs_delete_keys(text, jsonb, boolean, boolean) IS
  'deletes the rows of some entities (an array of join-key objects): of a feature view, from its online store (online) and offline store (offline); of a push source, from its log and from the stores of its views keyed by those columns; in one transaction; returns the job';

-- Key deletions reach serving nodes (logical replication): each one done
-- here is written to replicated_deletions and deleted at once, so that a
-- publication of the table (publish = 'insert') sends it while the table
-- stays empty; on a serving node, whose subscription applies it, a trigger
-- enabled for replication only runs the same deletion on the object of the
-- same name and kind, if there is one, after fanning out the rows applied
-- before it (a failure is a failed job there, and replication goes on).
CREATE TABLE pushsource_internal.replicated_deletions (
    target  text NOT NULL,
    kind    text NOT NULL,        -- feature_view or push_source
    keys    jsonb NOT NULL,
    online  boolean NOT NULL,
    offline boolean NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
ALTER TABLE pushsource_internal.replicated_deletions REPLICA IDENTITY FULL;
COMMENT ON TABLE pushsource_internal.replicated_deletions IS
  'key deletions for serving nodes: publish it with the sources (publish = ''insert''); it stays empty';

CREATE FUNCTION pushsource_internal._publish_deletion(p_target text, p_kind text, p_keys jsonb, p_online boolean,
    p_offline boolean)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t tid;
BEGIN
    INSERT INTO pushsource_internal.replicated_deletions (target, kind, keys, online, offline)
    VALUES (p_target, p_kind, p_keys, p_online, p_offline) RETURNING ctid INTO t;
    DELETE FROM pushsource_internal.replicated_deletions d WHERE d.ctid OPERATOR(pg_catalog.=) t;
END
$$;
COMMENT ON FUNCTION pushsource_internal._publish_deletion(text, text, jsonb, boolean, boolean) IS
  'internal: writes a done deletion for logical decoding (see replicated_deletions)';

CREATE FUNCTION pushsource_internal._flush_replicated() RETURNS void
LANGUAGE c STRICT VOLATILE AS 'MODULE_PATHNAME', 'fs_flush_replicated';
COMMENT ON FUNCTION pushsource_internal._flush_replicated() IS
  'internal: fans out the rows replication has applied in this transaction so far';

CREATE FUNCTION pushsource_internal._apply_deletion() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k   text;
    msg text;
BEGIN
    -- the rows pushed before the deletion on the ingest node come first
    PERFORM pushsource_internal._flush_replicated();
    SELECT x.kind INTO k FROM pushsource_internal.object_registry x WHERE x.name = NEW.target;
    IF k = NEW.kind AND k IN ('feature_view', 'push_source') THEN
        BEGIN
            PERFORM pushsource_internal._job('deletion', NEW.target, NULL, NULL,
                pg_catalog.jsonb_build_object('keys', NEW.keys, 'online', NEW.online, 'offline', NEW.offline), false);
        EXCEPTION WHEN OTHERS THEN
            -- a failed job in pushsource.jobs already; replication goes on
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
            RAISE WARNING 'pushsource: the replicated deletion of keys of "%" failed here: %', NEW.target, msg;
        END;
    END IF;
    RETURN NULL;                -- nothing is kept
END
$$;
COMMENT ON FUNCTION pushsource_internal._apply_deletion() IS
  'internal: on a serving node, runs a replicated key deletion (trigger enabled for replication only)';
CREATE TRIGGER apply_deletion BEFORE INSERT ON pushsource_internal.replicated_deletions
    FOR EACH ROW EXECUTE FUNCTION pushsource_internal._apply_deletion();
ALTER TABLE pushsource_internal.replicated_deletions ENABLE REPLICA TRIGGER apply_deletion;

REVOKE ALL ON FUNCTION pushsource_internal._push_replicated(),
    pushsource.fs_create_push_source(text, text, text, boolean, regclass, text, text, jsonb, boolean, interval, interval, interval, boolean),
    pushsource_internal._publish_deletion(text, text, jsonb, boolean, boolean),
    pushsource_internal._flush_replicated(),
    pushsource_internal._apply_deletion() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    pushsource.fs_create_push_source(text, text, text, boolean, regclass, text, text, jsonb, boolean, interval, interval, interval, boolean)
    TO pushsource_admin;
GRANT EXECUTE ON FUNCTION pushsource_internal._publish_deletion(text, text, jsonb, boolean, boolean) TO pushsource_admin;

CREATE OR REPLACE FUNCTION pushsource.fs_drop(name text, "cascade" boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p_name text := fs_drop.name;
    p_kind text;
    deps   text;
    d      record;
    prevent boolean := false;
    tbl    regclass;
BEGIN
    PERFORM pushsource_internal._check_name(p_name, 'object');
    SELECT r.kind INTO p_kind FROM pushsource_internal.object_registry r WHERE r.name = p_name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'object "%" does not exist', p_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'fs_drop takes the name of an entity, push source, feature view or feature service.';
    END IF;
    IF p_kind = 'push_source' THEN
        SELECT s.prevent_destroy INTO prevent FROM pushsource_internal.source_catalog s WHERE s.name = p_name;
    ELSIF p_kind = 'feature_view' THEN
        SELECT v.prevent_destroy INTO prevent FROM pushsource_internal.view_catalog v WHERE v.name = p_name;
    END IF;
    IF prevent THEN
        RAISE EXCEPTION 'cannot drop % "%": prevent_destroy is set', pg_catalog.replace(p_kind, '_', ' '), p_name
            USING ERRCODE = 'object_in_use',
                  HINT = pg_catalog.format('Clear it first: SELECT pushsource.fs_set_prevent_destroy(%L, false);', p_name);
    END IF;
    SELECT pg_catalog.string_agg(pg_catalog.format('%s "%s"', pg_catalog.replace(x.kind, '_', ' '), x.name), ', ' ORDER BY x.name)
      INTO deps FROM pushsource_internal._dependents(p_name) x;
    IF deps IS NOT NULL AND NOT coalesce(fs_drop."cascade", false) THEN
        RAISE EXCEPTION 'cannot drop % "%" because other objects depend on it', pg_catalog.replace(p_kind, '_', ' '), p_name
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = pg_catalog.format('Used by %s.', deps),
                  HINT = 'Drop them first, or use fs_drop(name, cascade => true).';
    END IF;
    FOR d IN SELECT * FROM pushsource_internal._dependents(p_name) x ORDER BY x.kind DESC LOOP
        -- services before views: a view's services go with it
        IF EXISTS (SELECT 1 FROM pushsource_internal.object_registry r WHERE r.name = d.name) THEN
            PERFORM pushsource.fs_drop(d.name, true);
        END IF;
    END LOOP;

    IF p_kind = 'push_source' THEN
        SELECT s.source_table INTO tbl FROM pushsource_internal.source_catalog s WHERE s.name = p_name;
        DELETE FROM pushsource_internal.source_catalog s WHERE s.name = p_name;
        -- its rejected records go with it: a source made again under the
        -- name, with other privileges, must not show them
        DELETE FROM pushsource.rejected_records r WHERE r.source = p_name;
        PERFORM pushsource_internal._stat_forget(p_name);
        -- a table dropped by hand is gone already; the catalog entry still goes
        IF tbl IS NOT NULL AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = tbl) THEN
            EXECUTE pg_catalog.format('DROP TABLE %s', tbl);
        END IF;
    ELSIF p_kind = 'feature_view' THEN
        -- Locks in the order a push takes them: the source table, then the
        -- stores.  SHARE ROW EXCLUSIVE waits for pushes in flight and holds
        -- off new ones (as fs_delete_keys does); dropping a store first
        -- would deadlock with a push that holds the other one.
        SELECT s.source_table INTO tbl FROM pushsource_internal.view_catalog v
          JOIN pushsource_internal.source_catalog s ON s.name = v.source WHERE v.name = p_name;
        IF tbl IS NOT NULL AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = tbl) THEN
            EXECUTE pg_catalog.format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', tbl);
        END IF;
        -- a LIKE pattern: the name's underscores are literal
        PERFORM pushsource_internal._cron_unschedule('pushsource:materialize:' || pg_catalog.replace(p_name, '_', '\_'));
        FOR tbl IN SELECT t FROM pushsource_internal.view_catalog v, LATERAL (VALUES (v.online_table), (v.offline_table)) x(t)
                    WHERE v.name = p_name AND t IS NOT NULL
                      AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = t) LOOP
            EXECUTE pg_catalog.format('DROP TABLE %s', tbl);
        END LOOP;
        DELETE FROM pushsource_internal.view_catalog v WHERE v.name = p_name;
        PERFORM pushsource_internal._stat_forget(p_name);
    ELSIF p_kind = 'feature_service' THEN
        DELETE FROM pushsource_internal.service_catalog s WHERE s.name = p_name;
    ELSE
        DELETE FROM pushsource_internal.entity_catalog en WHERE en.name = p_name;
    END IF;
    DELETE FROM pushsource_internal.object_registry r WHERE r.name = p_name;
END
$$;
COMMENT ON FUNCTION pushsource.fs_drop(text, boolean) IS
  'drops an entity, push source, feature view or feature service; refuses prevent_destroy, and dependents unless cascade';

------------------------------------------------------------------------
-- Counters (pg_stat style; stats.c): in shared memory when pushsource is
-- in shared_preload_libraries, else the views refuse with 55000
------------------------------------------------------------------------

CREATE FUNCTION pushsource_internal._stat(kind "char",
    OUT name text, OUT n1 bigint, OUT n2 bigint, OUT n3 bigint, OUT n4 bigint, OUT n5 bigint,
    OUT t1 timestamptz, OUT t2 timestamptz)
RETURNS SETOF record LANGUAGE c STRICT VOLATILE
AS 'MODULE_PATHNAME', 'fs_stat_entries';
COMMENT ON FUNCTION pushsource_internal._stat("char") IS
  'internal: the current database''s counters of push sources (s) or feature views (v)';
CREATE FUNCTION pushsource_internal._stat_forget(name text) RETURNS void
LANGUAGE c STRICT VOLATILE AS 'MODULE_PATHNAME', 'fs_stat_forget';
COMMENT ON FUNCTION pushsource_internal._stat_forget(text) IS
  'internal: a dropped object''s counters go with it';
CREATE FUNCTION pushsource_internal._stat_dropped() RETURNS bigint
LANGUAGE c STRICT VOLATILE AS 'MODULE_PATHNAME', 'fs_stat_dropped';
COMMENT ON FUNCTION pushsource_internal._stat_dropped() IS
  'internal: counts lost since the last reset because pushsource.stat_max objects were counted already';

CREATE FUNCTION pushsource.fs_stat_reset() RETURNS bigint
LANGUAGE c STRICT VOLATILE AS 'MODULE_PATHNAME', 'fs_stat_reset';
COMMENT ON FUNCTION pushsource.fs_stat_reset() IS
  'clears the counters of pushsource.stat_sources and stat_feature_views in the current database; returns how many objects had counters';

CREATE FUNCTION pushsource.fs_gateway_metrics() RETURNS text
LANGUAGE c STRICT VOLATILE AS 'MODULE_PATHNAME', 'fs_gateway_metrics';
COMMENT ON FUNCTION pushsource.fs_gateway_metrics() IS
  'the counters of pushsource.stat_sources and stat_feature_views in Prometheus'' text format (the gateway''s GET /metrics)';

CREATE VIEW pushsource.stat_sources AS
SELECT s.name AS source,
       coalesce(x.n1, 0) AS pushes, coalesce(x.n2, 0) AS records, coalesce(x.n3, 0) AS rejected,
       coalesce(x.n4, 0) AS bytes, coalesce(x.n5, 0) AS applied,
       x.t1 AS last_push, x.t2 AS newest_event, pg_catalog.now() OPERATOR(pg_catalog.-) x.t2 AS lag,
       s.replicated
  FROM pushsource_internal.source_catalog s
  LEFT JOIN pushsource_internal._stat('s') x ON x.name OPERATOR(pg_catalog.=) s.name;
COMMENT ON VIEW pushsource.stat_sources IS
  'per push source since fs_stat_reset(): batches and records fanned out (at commit), records rejected, bytes, records applied by logical replication, last push, newest event time and lag = now() - newest event';

CREATE VIEW pushsource.stat_feature_views AS
SELECT v.name AS feature_view, v.source,
       coalesce(x.n1, 0) AS online_rows, coalesce(x.n2, 0) AS offline_rows, coalesce(x.n3, 0) AS late_ignored,
       j.finished_at AS last_materialization, j.state AS last_status
  FROM pushsource_internal.view_catalog v
  LEFT JOIN pushsource_internal._stat('v') x ON x.name OPERATOR(pg_catalog.=) v.name
  LEFT JOIN LATERAL (SELECT jb.finished_at, jb.state FROM pushsource.jobs jb
                      WHERE jb.object OPERATOR(pg_catalog.=) v.name AND jb.kind OPERATOR(pg_catalog.=) 'materialization'
                      ORDER BY jb.id DESC LIMIT 1) j ON true;
COMMENT ON VIEW pushsource.stat_feature_views IS
  'per feature view since fs_stat_reset(): online and offline rows written by pushes, pushed events older than the online row (attribute views), and the last materialization and its state';

REVOKE ALL ON FUNCTION pushsource_internal._stat("char"), pushsource_internal._stat_forget(text),
    pushsource_internal._stat_dropped(), pushsource.fs_stat_reset(), pushsource.fs_gateway_metrics() FROM PUBLIC;
GRANT SELECT ON pushsource.stat_sources, pushsource.stat_feature_views
    TO pushsource_reader, pushsource_writer, pushsource_admin;
GRANT EXECUTE ON FUNCTION pushsource_internal._stat("char"), pushsource_internal._stat_dropped()
    TO pushsource_reader, pushsource_writer, pushsource_admin;
GRANT EXECUTE ON FUNCTION pushsource.fs_stat_reset(), pushsource_internal._stat_forget(text) TO pushsource_admin;
GRANT EXECUTE ON FUNCTION pushsource.fs_gateway_metrics() TO pushsource_gateway, pushsource_admin;
