/*
 * pushsource--0.2--0.3.sql
 *
 * One key parser: fs_get_historical_features(feature_view, start_time,
 * end_time, entities) reads its entities with _key_set, the parser of
 * pushes, online reads and fs_delete_keys (values checked by their types'
 * rules, errors naming the entity and the join key; one object is one
 * entity), instead of jsonb_to_recordset's own rules.
 */
\echo Use "ALTER EXTENSION pushsource UPDATE TO '0.3'" to load this file. \quit

CREATE OR REPLACE FUNCTION pushsource._range_plan(feature_view text, start_time timestamptz,
    end_time timestamptz, entities jsonb,
    OUT sql text, OUT columns text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v    pushsource.view_catalog;
    ts   text;
    cols text;
    keys text;
    defs text;
BEGIN
    PERFORM pushsource._check_name(feature_view, 'feature view');
    SELECT * INTO v FROM pushsource.view_catalog x WHERE x.name = feature_view;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'feature view "%" does not exist', feature_view
            USING ERRCODE = 'undefined_object', HINT = 'Feature views are listed in pushsource.feature_views.';
    END IF;
    IF v.offline_table IS NULL THEN
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
    SELECT s.timestamp_field INTO ts FROM pushsource.source_catalog s WHERE s.name = v.source;
    SELECT pg_catalog.string_agg(pg_catalog.format('%I', a.attname), ', ' ORDER BY a.attnum),
           pg_catalog.string_agg(pg_catalog.format('%I %s', a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum)
      INTO cols, columns
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = v.offline_table AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attname <> '_fs_ingest_id';
    sql := pg_catalog.format('SELECT %s FROM %s WHERE %I >= $1 AND %I < $2', cols, v.offline_table, ts, ts);
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
          JOIN pg_catalog.pg_attribute a ON a.attrelid = v.offline_table AND a.attname = j.k;
        -- checked now, so that fs_historical_features_columns refuses bad keys too
        EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM pushsource._key_set(%L, $1) AS e(%s)',
                                  feature_view, defs) USING entities;
        sql := sql || pg_catalog.format(' AND (%s) IN (SELECT %s FROM pushsource._key_set(%L, $3) AS e(%s))',
                                        keys, keys, feature_view, defs);
    END IF;
    sql := sql || pg_catalog.format(' ORDER BY %I, _fs_ingest_id', ts);
END
$$;

-- readers call it through fs_get_historical_features(view, ..., entities)
GRANT EXECUTE ON FUNCTION pushsource._key_set(text, jsonb) TO pushsource_reader, pushsource_writer;
