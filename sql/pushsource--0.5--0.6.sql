/*
 * pushsource--0.5--0.6.sql
 *
 * fs_run(..., mock_sources => table): Tecton's run(mock_sources=...), a
 * view's output computed from a table of the push source's rows instead of
 * its offline store (fs_run_columns takes it too);
 * - readers and writers may run fs_run on tiled views (they lacked EXECUTE
 *   on the function that aligns the tiles).
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
