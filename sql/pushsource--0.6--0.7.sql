/*
 * pushsource--0.6--0.7.sql
 *
 * A replicated source's deferred fan-out trigger queues one event per
 * buffer of applied rows (its first row), not one per row: a WHEN clause,
 * pushsource_internal._replicated_event().  Before, the after-trigger
 * queue of an apply transaction (and of the initial copy) grew by an event
 * for every row it applied.  The triggers of existing replicated sources
 * are made again here.
 */

-- complain if script is sourced in psql, rather than in ALTER EXTENSION
\echo Use "ALTER EXTENSION pushsource UPDATE TO '0.7'" to load this file. \quit

CREATE FUNCTION pushsource_internal._replicated_event() RETURNS boolean
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fs_replicated_event';
COMMENT ON FUNCTION pushsource_internal._replicated_event() IS
  'internal: WHEN clause of a replicated source''s deferred fan-out trigger: true for the one row of a buffer that queues the event';
REVOKE ALL ON FUNCTION pushsource_internal._replicated_event() FROM PUBLIC;

CREATE OR REPLACE FUNCTION pushsource.fs_create_push_source(
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
        -- (one event per buffer of applied rows, not one per row: WHEN)
        EXECUTE pg_catalog.format('CREATE CONSTRAINT TRIGGER zz_pushsource_replicated AFTER INSERT ON %s'
                                  ' DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (%I._replicated_event())'
                                  ' EXECUTE FUNCTION %I._push_replicated()',
                                  tbl, 'pushsource_internal', 'pushsource_internal');
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

-- the existing replicated sources' triggers, with the WHEN clause (the
-- table's lock until commit: no apply transaction runs between the drop
-- and the create)
DO $$
DECLARE
    tbl regclass;
BEGIN
    FOR tbl IN SELECT s.source_table FROM pushsource_internal.source_catalog s
                WHERE s.replicated ORDER BY s.name LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS zz_pushsource_replicated ON %s', tbl);
        EXECUTE pg_catalog.format('CREATE CONSTRAINT TRIGGER zz_pushsource_replicated AFTER INSERT ON %s'
                                  ' DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (%I._replicated_event())'
                                  ' EXECUTE FUNCTION %I._push_replicated()',
                                  tbl, 'pushsource_internal', 'pushsource_internal');
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER zz_pushsource_replicated', tbl);
    END LOOP;
END
$$;
