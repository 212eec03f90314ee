/*
 * pushsource--0.1--0.2.sql
 *
 * Replicable stores: every table the extension creates has a replica
 * identity, so a FOR ALL TABLES publication (CDC) does not make pushes,
 * fs_delete_keys, maintenance or backfills fail.  Tables with a primary
 * key (catalog, online stores, tiles) already had one; source logs,
 * offline stores and the events of continuous aggregates have no key and
 * get REPLICA IDENTITY FULL (no cost without wal_level = logical; with it,
 * a deleted row is logged whole).
 */
\echo Use "ALTER EXTENSION pushsource UPDATE TO '0.2'" to load this file. \quit

-- new stores are created replicable
CREATE OR REPLACE FUNCTION pushsource.fs_create_push_source(
    name text, schema text, timestamp_field text,
    log_offline boolean DEFAULT true, batch_table regclass DEFAULT NULL,
    description text DEFAULT NULL, owner text DEFAULT NULL, tags jsonb DEFAULT '{}',
    prevent_destroy boolean DEFAULT false)
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
    PERFORM pushsource._claim_name(p_name, 'push_source');
    IF fs_create_push_source.schema IS NULL THEN
        RAISE EXCEPTION 'push source "%": schema must not be null', p_name
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example: ''user_id String, ts Timestamp, clicked Int64''.';
    END IF;
    SELECT pg_catalog.array_agg(column_name ORDER BY o), pg_catalog.array_agg(declared_type ORDER BY o),
           pg_catalog.array_agg(pg_type ORDER BY o)
      INTO cols, types, pgtypes
      FROM pushsource._parse_schema(fs_create_push_source.schema) WITH ORDINALITY AS p(column_name, declared_type, pg_type, o);
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
    IF ts_type <> 'timestamp with time zone' THEN
        RAISE EXCEPTION 'push source "%": timestamp field "%" must be of type Timestamp (timestamptz), not %',
                        p_name, fs_create_push_source.timestamp_field, ts_type
            USING ERRCODE = 'datatype_mismatch';
    END IF;
    IF pg_catalog.to_regclass(pg_catalog.format('%I.%I', 'pushsource', p_name)) IS NOT NULL THEN
        RAISE EXCEPTION 'push source "%": table pushsource.% already exists', p_name, p_name
            USING ERRCODE = 'duplicate_table';
    END IF;
    IF fs_create_push_source.batch_table IS NOT NULL THEN
        PERFORM pushsource._check_batch_table(pg_catalog.format('push source "%s"', p_name),
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
    EXECUTE pg_catalog.format('CREATE TABLE %I.%I (%s)', 'pushsource', p_name, ddl);
    tbl := pg_catalog.format('%I.%I', 'pushsource', p_name)::regclass;
    -- no key: the whole row identifies a deleted one to logical replication
    -- (retention, fs_delete_keys under a FOR ALL TABLES publication)
    EXECUTE pg_catalog.format('ALTER TABLE %s REPLICA IDENTITY FULL', tbl);
    EXECUTE pg_catalog.format('CREATE TRIGGER zz_pushsource_row BEFORE INSERT OR UPDATE ON %s'
                              ' FOR EACH ROW EXECUTE FUNCTION %I._push_row()', tbl, 'pushsource');
    EXECUTE pg_catalog.format('CREATE TRIGGER zz_pushsource_fanout AFTER INSERT ON %s'
                              ' FOR EACH STATEMENT EXECUTE FUNCTION %I._push_statement()', tbl, 'pushsource');
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

    INSERT INTO pushsource.source_catalog (name, source_table, column_names, column_types,
        timestamp_field, log_offline, batch_table, description, owner, tags, prevent_destroy)
    VALUES (p_name, tbl, cols, types, fs_create_push_source.timestamp_field,
            coalesce(fs_create_push_source.log_offline, true), fs_create_push_source.batch_table,
            fs_create_push_source.description, fs_create_push_source.owner,
            pushsource._check_tags('push source', p_name, fs_create_push_source.tags),
            coalesce(fs_create_push_source.prevent_destroy, false));
    RETURN tbl;
END
$$;

CREATE OR REPLACE FUNCTION pushsource._create_feature_view(
    name text, source text, entities text[],
    features text[] DEFAULT NULL,
    aggregations pushsource.aggregation[] DEFAULT NULL,
    aggregation_interval interval DEFAULT NULL,
    ttl interval DEFAULT NULL,
    online boolean DEFAULT true, offline boolean DEFAULT true,
    feature_start_time timestamptz DEFAULT NULL,
    batch_schedule text DEFAULT NULL,
    description text DEFAULT NULL, owner text DEFAULT NULL, tags jsonb DEFAULT '{}',
    prevent_destroy boolean DEFAULT false)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p_name text := _create_feature_view.name;
    src    pushsource.source_catalog;
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
    PERFORM pushsource._claim_name(p_name, 'feature_view');
    SELECT * INTO src FROM pushsource.source_catalog s WHERE s.name = _create_feature_view.source;
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
        SELECT ec.join_keys INTO ekeys FROM pushsource.entity_catalog ec WHERE ec.name = e;
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
        aggs := pushsource._resolve_aggregations(p_name, src.source_table, _create_feature_view.aggregations,
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
      FROM unnest(keys || src.timestamp_field || valcols) WITH ORDINALITY AS x(c, o)
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
        EXECUTE pg_catalog.format('CREATE TABLE pushsource_store.%I (%s, _fs_ingest_id bigint NOT NULL)',
            p_name || '_offline', coldefs);
        offline_tbl := pg_catalog.format('pushsource_store.%I', p_name || '_offline')::regclass;
        EXECUTE pg_catalog.format('ALTER TABLE %s REPLICA IDENTITY FULL', offline_tbl);
        EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO pushsource_admin', offline_tbl);
        EXECUTE pg_catalog.format('GRANT SELECT ON %s TO pushsource_reader', offline_tbl);
        EXECUTE pg_catalog.format('COMMENT ON TABLE %s IS %L', offline_tbl,
            pg_catalog.format('offline store of feature view %s: every row with event time and ingest order', p_name));
    END IF;

    INSERT INTO pushsource.view_catalog (name, source, entities, join_keys, features, value_columns,
        aggregations, aggregation_interval, ttl, online, offline,
        feature_start_time, batch_schedule, online_table, offline_table, description, owner, tags, prevent_destroy)
    VALUES (p_name, src.name, _create_feature_view.entities, keys, feats, valcols,
            aggs, CASE WHEN aggs IS NOT NULL THEN _create_feature_view.aggregation_interval END,
            _create_feature_view.ttl,
            _create_feature_view.online, _create_feature_view.offline,
            _create_feature_view.feature_start_time, _create_feature_view.batch_schedule, online_tbl, offline_tbl,
            _create_feature_view.description, _create_feature_view.owner,
            pushsource._check_tags('feature view', p_name, _create_feature_view.tags),
            coalesce(_create_feature_view.prevent_destroy, false));
    RETURN p_name;
END
$$;

-- the stores made by 0.1
DO $upgrade$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT c.oid::regclass
          FROM pg_catalog.pg_class c
         WHERE c.oid IN (SELECT s.source_table FROM pushsource.source_catalog s
                         UNION ALL SELECT v.online_table FROM pushsource.view_catalog v
                         UNION ALL SELECT v.offline_table FROM pushsource.view_catalog v)
           AND c.relreplident = 'd'
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k
                            WHERE k.conrelid = c.oid AND k.contype = 'p')
         ORDER BY 1
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s REPLICA IDENTITY FULL', t);
    END LOOP;
END
$upgrade$;
