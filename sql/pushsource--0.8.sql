/*
 * pushsource--0.8.sql
 *
 * Catalog tables, catalog views, roles, and the registration functions.
 * The registration functions are PL/pgSQL: they run rarely and build DDL,
 * always with format('%I') for identifiers and USING for values.  The hot
 * paths (validation, fan-out, ingest, serving) are C, in pushsource.so.
 */
\echo Use "CREATE EXTENSION pushsource" to load this file. \quit

-- Roles (cluster-wide; created once, kept if the extension is dropped).
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pushsource_admin') THEN
        CREATE ROLE pushsource_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pushsource_writer') THEN
        CREATE ROLE pushsource_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pushsource_reader') THEN
        CREATE ROLE pushsource_reader NOLOGIN;
    END IF;
END
$roles$;

-- The schemas are created here, not by the control file (which names
-- pg_catalog, as pg_cron does): a schema the script creates belongs to the
-- extension, so DROP EXTENSION pushsource refuses while push sources exist
-- (their tables live in pushsource_source) and DROP EXTENSION ... CASCADE
-- drops them with every source table.  Each schema holds one kind of
-- thing, so that no later version's new name can collide with a user's:
-- pushsource the API (fs_* functions, types, catalog views, the job and
-- rejected-record tables), pushsource_internal the catalog tables and the
-- `_` helpers, pushsource_source the users' source tables.
CREATE SCHEMA pushsource;
COMMENT ON SCHEMA pushsource IS 'pushsource: the API of feature store push sources (fs_* functions, types, catalog views, jobs, rejected records)';
CREATE SCHEMA pushsource_internal;
COMMENT ON SCHEMA pushsource_internal IS 'pushsource internals: catalog tables and helper functions; not an API';
CREATE SCHEMA pushsource_source;
COMMENT ON SCHEMA pushsource_source IS 'the tables of pushsource push sources (fs_create_push_source), one per source';

-- Feature view stores live in their own schema, so that their names can
-- never collide with push source tables.
CREATE SCHEMA pushsource_store;
COMMENT ON SCHEMA pushsource_store IS 'online and offline stores of pushsource feature views';

-- The time partitions of source logs and offline stores (partition_interval):
-- read and written through their parents, so no role needs it.
CREATE SCHEMA pushsource_partition;
COMMENT ON SCHEMA pushsource_partition IS 'time partitions of pushsource source logs and offline stores (use them through their parent tables)';

GRANT USAGE ON SCHEMA pushsource, pushsource_internal, pushsource_source, pushsource_store
    TO pushsource_admin, pushsource_writer, pushsource_reader;
-- No role but the extension owner may CREATE in the extension's schemas:
-- a function planted there (an overload of fs_push, say) would be found by
-- every caller with pushsource in its search_path.  Registration creates
-- source tables and stores as the extension owner (SECURITY DEFINER).

------------------------------------------------------------------------
-- C helpers used by the registration functions and triggers
------------------------------------------------------------------------

CREATE FUNCTION pushsource_internal._check_name(name text, what text)
RETURNS void LANGUAGE c CALLED ON NULL INPUT
AS 'MODULE_PATHNAME', 'fs_check_name';
COMMENT ON FUNCTION pushsource_internal._check_name(text, text) IS
  'internal: rejects names outside ^[a-z_][a-z0-9_]*$ or longer than 48 bytes';

CREATE FUNCTION pushsource_internal._parse_schema(schema text,
    OUT column_name text, OUT declared_type text, OUT pg_type text)
RETURNS SETOF record LANGUAGE c STRICT
AS 'MODULE_PATHNAME', 'fs_parse_schema';
COMMENT ON FUNCTION pushsource_internal._parse_schema(text) IS
  'internal: parses a push schema (PostgreSQL or Tecton type names)';

CREATE FUNCTION pushsource_internal._catalog_changed() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'fs_catalog_changed';
COMMENT ON FUNCTION pushsource_internal._catalog_changed() IS
  'internal: invalidates every backend''s cached catalog when it changes';

CREATE FUNCTION pushsource_internal._push_row() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'fs_push_row_trigger';
COMMENT ON FUNCTION pushsource_internal._push_row() IS
  'internal: BEFORE ROW trigger of push source tables: validates and buffers each row';

CREATE FUNCTION pushsource_internal._push_replicated() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'fs_push_replicated_trigger';
COMMENT ON FUNCTION pushsource_internal._push_replicated() IS
  'internal: the fan-out of a replicated source at commit of logical replication''s apply (deferred constraint trigger)';

CREATE FUNCTION pushsource_internal._replicated_event() RETURNS boolean
LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'fs_replicated_event';
COMMENT ON FUNCTION pushsource_internal._replicated_event() IS
  'internal: WHEN clause of a replicated source''s deferred fan-out trigger: true for the one row of a buffer that queues the event';

CREATE FUNCTION pushsource_internal._push_statement() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'fs_push_statement_trigger';
COMMENT ON FUNCTION pushsource_internal._push_statement() IS
  'internal: AFTER STATEMENT trigger of push source tables: fans the rows out to feature views';

-- One aggregation of an aggregate feature view (built with fs_agg).
CREATE TYPE pushsource.aggregation AS ("column" text, function text, time_window interval, name text);
COMMENT ON TYPE pushsource.aggregation IS
  'one windowed aggregation of a feature view: fs_agg(column, function, time_window, name)';

CREATE FUNCTION pushsource.fs_agg("column" text, function text, time_window interval, name text DEFAULT NULL)
RETURNS pushsource.aggregation LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'fs_agg';
COMMENT ON FUNCTION pushsource.fs_agg(text, text, interval, text) IS
  'an aggregation for fs_create_feature_view(aggregations => ...): function of column over time_window; name defaults to {column}_{function}_{window}_{interval|continuous}';

CREATE FUNCTION pushsource_internal._resolve_aggregations(view text, source_table regclass,
    aggregations pushsource.aggregation[], aggregation_interval interval)
RETURNS pushsource.aggregation[] LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'fs_resolve_aggregations';
COMMENT ON FUNCTION pushsource_internal._resolve_aggregations(text, regclass, pushsource.aggregation[], interval) IS
  'internal: checks a view''s aggregations against its source and interval, fills in default names';

CREATE FUNCTION pushsource_internal._tecton_type(pg_type oid) RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'fs_tecton_type';
COMMENT ON FUNCTION pushsource_internal._tecton_type(oid) IS
  'internal: Tecton''s name of a PostgreSQL type (Int64 for bigint), or NULL';

CREATE FUNCTION pushsource_internal._agg_result_type(function text, column_type regtype)
RETURNS text LANGUAGE c STABLE STRICT
AS 'MODULE_PATHNAME', 'fs_agg_result_type';
COMMENT ON FUNCTION pushsource_internal._agg_result_type(text, regtype) IS
  'internal: the type of an aggregate feature';

CREATE FUNCTION pushsource_internal._agg_name_part(function text)
RETURNS text LANGUAGE c IMMUTABLE STRICT
AS 'MODULE_PATHNAME', 'fs_agg_name_part';
COMMENT ON FUNCTION pushsource_internal._agg_name_part(text) IS
  'internal: a function''s part of a feature name, last_n_3 for last_n(3)';

------------------------------------------------------------------------
-- Catalog
------------------------------------------------------------------------

CREATE SEQUENCE pushsource_internal.ingest_batch_seq;
COMMENT ON SEQUENCE pushsource_internal.ingest_batch_seq IS
  'one value per pushed statement; ingest order = value << 24 + row position';

-- One namespace for every object: a name is an entity, a source, a view or
-- a service, never two of them (fs_drop and serving take bare names).
CREATE TABLE pushsource_internal.object_registry (
    name text PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('entity', 'push_source', 'feature_view', 'feature_service'))
);

CREATE TABLE pushsource_internal.entity_catalog (
    name        text PRIMARY KEY REFERENCES pushsource_internal.object_registry ON DELETE CASCADE,
    join_keys   text[] NOT NULL,
    description text,
    owner       text,
    tags        jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);

CREATE TABLE pushsource_internal.source_catalog (
    name            text PRIMARY KEY REFERENCES pushsource_internal.object_registry ON DELETE CASCADE,
    source_table    regclass NOT NULL,
    column_names    text[] NOT NULL,
    column_types    text[] NOT NULL,
    timestamp_field text NOT NULL,
    log_offline     boolean NOT NULL,
    batch_table     regclass,
    description     text,
    owner           text,
    tags            jsonb NOT NULL DEFAULT '{}',
    prevent_destroy boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    partition_interval interval,      -- NULL: the log is one table
    source_retention   interval,      -- NULL: the log keeps every row
    data_delay         interval,      -- scheduled backfills stop this long before now (NULL: at now)
    replicated         boolean NOT NULL DEFAULT false  -- filled by logical replication (a serving node)
);

CREATE TABLE pushsource_internal.view_catalog (
    name               text PRIMARY KEY REFERENCES pushsource_internal.object_registry ON DELETE CASCADE,
    source             text NOT NULL REFERENCES pushsource_internal.source_catalog,
    entities           text[] NOT NULL,
    join_keys          text[] NOT NULL,
    features           text[] NOT NULL,   -- feature names
    value_columns      text[] NOT NULL,   -- source columns of the features (or that they aggregate); keys and time are stored once
    aggregations       pushsource.aggregation[],  -- NULL: attribute features
    aggregation_interval interval,        -- NULL: continuous (when aggregations is set)
    ttl                interval,
    online             boolean NOT NULL,
    offline            boolean NOT NULL,
    feature_start_time timestamptz,
    batch_schedule     text,              -- cron expression of pushsource:materialize:<name>
    online_table       regclass,
    offline_table      regclass,
    description        text,
    owner              text,
    tags               jsonb NOT NULL DEFAULT '{}',
    prevent_destroy    boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    partition_interval interval,          -- NULL: the offline store is one table
    offline_retention  interval           -- NULL: the offline store keeps every row
);
CREATE INDEX ON pushsource_internal.view_catalog (source);

CREATE TABLE pushsource_internal.service_catalog (
    name        text PRIMARY KEY REFERENCES pushsource_internal.object_registry ON DELETE CASCADE,
    features    text[] NOT NULL,
    description text,
    owner       text,
    tags        jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);

CREATE TABLE pushsource_internal.service_feature (
    service      text NOT NULL REFERENCES pushsource_internal.service_catalog ON DELETE CASCADE,
    position     int NOT NULL,
    feature_view text NOT NULL REFERENCES pushsource_internal.view_catalog,
    feature      text NOT NULL,
    PRIMARY KEY (service, position),
    UNIQUE (service, feature_view, feature)
);
CREATE INDEX ON pushsource_internal.service_feature (feature_view);

-- A plain sequence, not an identity column: pg_extension_config_dump can
-- mark it, so a restored database goes on numbering after the dumped rows.
CREATE SEQUENCE pushsource.rejected_records_id_seq;
CREATE TABLE pushsource.rejected_records (
    id           bigint PRIMARY KEY DEFAULT pg_catalog.nextval('pushsource.rejected_records_id_seq'),
    source       text NOT NULL,
    record_index int NOT NULL,
    record       jsonb,
    field        text,
    sqlstate     text NOT NULL,
    error        text NOT NULL,
    rejected_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    rejected_by  name NOT NULL DEFAULT CURRENT_USER
);
CREATE INDEX ON pushsource.rejected_records (source, rejected_at);
COMMENT ON TABLE pushsource.rejected_records IS
  'records refused by fs_push(on_error => ''skip''), with the reason: nothing is lost silently';

-- Every catalog change invalidates the per-backend caches.
DO $trg$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['source_catalog', 'view_catalog', 'service_catalog', 'service_feature'] LOOP
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I.%I'
            ' FOR EACH STATEMENT EXECUTE FUNCTION %I._catalog_changed()',
            'pushsource_internal', t, 'pushsource_internal');
    END LOOP;
END
$trg$;

-- The catalog survives pg_dump / pg_restore.
SELECT pg_catalog.pg_extension_config_dump('pushsource_internal.object_registry', '');
SELECT pg_catalog.pg_extension_config_dump('pushsource_internal.entity_catalog', '');
SELECT pg_catalog.pg_extension_config_dump('pushsource_internal.source_catalog', '');
SELECT pg_catalog.pg_extension_config_dump('pushsource_internal.view_catalog', '');
SELECT pg_catalog.pg_extension_config_dump('pushsource_internal.service_catalog', '');
SELECT pg_catalog.pg_extension_config_dump('pushsource_internal.service_feature', '');
SELECT pg_catalog.pg_extension_config_dump('pushsource.rejected_records', '');
SELECT pg_catalog.pg_extension_config_dump('pushsource.rejected_records_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('pushsource_internal.ingest_batch_seq', '');

GRANT SELECT ON ALL TABLES IN SCHEMA pushsource, pushsource_internal TO pushsource_admin, pushsource_writer, pushsource_reader;
-- The catalog is written only by the registration functions (SECURITY
-- DEFINER, executable by pushsource_admin): no role but the extension's
-- owner may INSERT, UPDATE or DELETE its rows directly.
-- Rejected records: only the push path writes them (as the extension's
-- owner, from C); a role sees the records of the sources it may read.
GRANT DELETE ON pushsource.rejected_records TO pushsource_admin;

-- May the current role read push source p_source (SELECT on its table)?
CREATE FUNCTION pushsource_internal._may_read_source(p_source text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((SELECT pg_catalog.has_table_privilege(s.source_table, 'SELECT')
                       FROM pushsource_internal.source_catalog s
                      WHERE s.name OPERATOR(pg_catalog.=) p_source
                        AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                                     WHERE c.oid OPERATOR(pg_catalog.=) s.source_table)), false)
$$;
COMMENT ON FUNCTION pushsource_internal._may_read_source(text) IS
  'internal: whether the current role may SELECT from a push source''s table (rejected records follow it)';
ALTER TABLE pushsource.rejected_records ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable_source ON pushsource.rejected_records FOR SELECT
    USING (pushsource_internal._may_read_source(source));
CREATE POLICY admin_retention ON pushsource.rejected_records FOR DELETE TO pushsource_admin
    USING (true);

------------------------------------------------------------------------
-- Catalog views
------------------------------------------------------------------------

CREATE VIEW pushsource.entities AS
SELECT name, join_keys, description, owner, tags, created_at
FROM pushsource_internal.entity_catalog;
COMMENT ON VIEW pushsource.entities IS 'registered entities and their join keys';

CREATE VIEW pushsource.push_sources AS
SELECT s.name, s.source_table,
       (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('name', n, 'type', t) ORDER BY o)
          FROM unnest(s.column_names, s.column_types) WITH ORDINALITY AS c(n, t, o)) AS schema,
       s.timestamp_field, s.log_offline, s.batch_table,
       (SELECT pg_catalog.array_agg(v.name ORDER BY v.name) FROM pushsource_internal.view_catalog v
         WHERE v.source = s.name) AS feature_views,
       s.description, s.owner, s.tags, s.prevent_destroy, s.created_at,
       s.partition_interval, s.source_retention, s.data_delay, s.replicated
FROM pushsource_internal.source_catalog s;
COMMENT ON VIEW pushsource.push_sources IS 'registered push sources, their tables and schemas';

CREATE VIEW pushsource.feature_views AS
SELECT name, source, entities, join_keys, features, aggregations, aggregation_interval, ttl, online, offline,
       feature_start_time, batch_schedule, online_table, offline_table,
       description, owner, tags, prevent_destroy, created_at, partition_interval, offline_retention
FROM pushsource_internal.view_catalog;
COMMENT ON VIEW pushsource.feature_views IS 'registered feature views and their stores';

CREATE VIEW pushsource.features AS
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

CREATE VIEW pushsource.feature_services AS
SELECT name, features, description, owner, tags, created_at
FROM pushsource_internal.service_catalog;
COMMENT ON VIEW pushsource.feature_services IS 'registered feature services';

GRANT SELECT ON pushsource.entities, pushsource.push_sources, pushsource.feature_views,
    pushsource.features, pushsource.feature_services
    TO pushsource_admin, pushsource_writer, pushsource_reader;

------------------------------------------------------------------------
-- Time partitions of history: source logs and offline stores
------------------------------------------------------------------------

-- A source created with partition_interval keeps its log, and a view
-- created with it keeps its offline store, range-partitioned by event time:
-- one partition per interval (aligned to the Unix epoch, UTC), created
-- ahead by maintenance and on demand by backfills, a default partition for
-- the rows no partition takes (maintenance moves them out), and retention
-- (source_retention, offline_retention) drops whole partitions.  The
-- partitions live in pushsource_partition under names for people; what
-- counts is their bounds, which _partitions reads from the catalog.
CREATE FUNCTION pushsource_internal._partitions(tbl regclass)
RETURNS TABLE (partition regclass, lower timestamptz, upper timestamptz, is_default boolean)
LANGUAGE c STRICT STABLE AS 'MODULE_PATHNAME', 'fs_partitions';
COMMENT ON FUNCTION pushsource_internal._partitions(regclass) IS
  'internal: the partitions of a partitioned table and the event times each holds (NULL: open)';

-- How many partitions ahead of now maintenance keeps.
CREATE FUNCTION pushsource_internal._partition_premake() RETURNS int
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$ SELECT 4 $$;
COMMENT ON FUNCTION pushsource_internal._partition_premake() IS
  'internal: partitions kept ready ahead of now';

-- The partition a time falls in: [_partition_start(t), + interval).
CREATE FUNCTION pushsource_internal._partition_start(p_every interval, p_ts timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_catalog.date_bin(p_every, p_ts, timestamptz '1970-01-01 00:00:00+00')
$$;
COMMENT ON FUNCTION pushsource_internal._partition_start(interval, timestamptz) IS
  'internal: the start of the partition an event time falls in (intervals from the Unix epoch)';

-- The columns of a view's offline store (and of its online store and events,
-- which have the same first columns): join keys, event time, then the value
-- columns that are neither (a view may aggregate its key or its time).
CREATE FUNCTION pushsource_internal._store_columns(p_keys text[], p_ts text, p_values text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT p_keys OPERATOR(pg_catalog.||) p_ts OPERATOR(pg_catalog.||)
           ARRAY(SELECT c FROM unnest(p_values) WITH ORDINALITY AS x(c, o)
                  WHERE c OPERATOR(pg_catalog.<>) ALL (p_keys OPERATOR(pg_catalog.||) p_ts) ORDER BY x.o)
$$;
COMMENT ON FUNCTION pushsource_internal._store_columns(text[], text, text[]) IS
  'internal: the columns of a view''s stores: keys, event time, the value columns that are neither';

-- The checks of partition_interval and a retention, for a source or a view.
CREATE FUNCTION pushsource_internal._check_history(p_what text, p_every interval, p_keep interval,
    p_keep_arg text, p_has_history boolean, p_no_history text)
RETURNS void LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF (p_every IS NOT NULL OR p_keep IS NOT NULL) AND NOT p_has_history THEN
        RAISE EXCEPTION '%: partition_interval and % need %', p_what, p_keep_arg, p_no_history
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_every IS NOT NULL AND (pg_catalog.date_part('month', p_every) <> 0
                                OR pg_catalog.date_part('year', p_every) <> 0
                                OR p_every < interval '1 hour' OR p_every > interval '3660 days') THEN
        RAISE EXCEPTION '%: partition_interval must be between 1 hour and 3660 days, in days, hours, minutes or seconds (not months), got %',
                        p_what, p_every
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example interval ''1 day'' (a partition per UTC day) or interval ''1 hour''.';
    END IF;
    IF p_keep IS NOT NULL AND p_keep <= interval '0' THEN
        RAISE EXCEPTION '%: % must be positive, got %', p_what, p_keep_arg, p_keep
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use NULL to keep every row.';
    END IF;
END
$$;
COMMENT ON FUNCTION pushsource_internal._check_history(text, interval, interval, text, boolean, text) IS
  'internal: refuses a bad partition_interval or retention (22023)';

-- Creates the partition [p_lo, p_lo + p_every) of a partitioned table,
-- moving the rows it takes out of the default partition, and returns how
-- many it moved.  The table is created apart and attached, which locks
-- the parent only against other DDL, not against pushes.
CREATE FUNCTION pushsource_internal._partition_add(p_tbl regclass, p_ts_col text, p_every interval,
    p_lo timestamptz, p_is_source boolean)
RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    hi    timestamptz := p_lo + p_every;
    def   regclass;
    base  text;
    pname text;
    n     int := 1;
    part  regclass;
    moved bigint := 0;
BEGIN
    SELECT p.partition INTO def FROM pushsource_internal._partitions(p_tbl) p WHERE p.is_default;
    SELECT pg_catalog.left(c.relname, 44)
           || '_p' || pg_catalog.to_char(p_lo AT TIME ZONE 'UTC',
                          CASE WHEN pg_catalog.date_part('epoch', p_every)::numeric % 86400 = 0
                               THEN 'YYYYMMDD' ELSE 'YYYYMMDD"_"HH24MISS' END)
      INTO base FROM pg_catalog.pg_class c WHERE c.oid = p_tbl;
    pname := base;
    WHILE pg_catalog.to_regclass(pg_catalog.format('%I.%I', 'pushsource_partition', pname)) IS NOT NULL LOOP
        n := n + 1;
        pname := base || '_' || n;
    END LOOP;
    EXECUTE pg_catalog.format('CREATE TABLE %I.%I (LIKE %s)', 'pushsource_partition', pname, p_tbl);
    part := pg_catalog.format('%I.%I', 'pushsource_partition', pname)::regclass;
    IF def IS NOT NULL THEN
        -- no push may add a row of the new range to the default partition
        -- between the move and the ATTACH (which would then fail): pushes
        -- routed to other partitions go on
        EXECUTE pg_catalog.format('LOCK TABLE %s IN EXCLUSIVE MODE', def);
        EXECUTE pg_catalog.format('WITH moved AS (DELETE FROM %s WHERE %I >= $1 AND %I < $2 RETURNING *)'
                                  ' INSERT INTO %s SELECT * FROM moved', def, p_ts_col, p_ts_col, part)
          USING p_lo, hi;
        GET DIAGNOSTICS moved = ROW_COUNT;
    END IF;
    EXECUTE pg_catalog.format('ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM (%L) TO (%L)',
                              p_tbl, part, p_lo, hi);
    PERFORM pushsource_internal._partition_setup(part, p_is_source);
    RETURN moved;
END
$$;
COMMENT ON FUNCTION pushsource_internal._partition_add(regclass, text, interval, timestamptz, boolean) IS
  'internal: creates one time partition, moving its rows out of the default partition';

-- What every partition has besides its parent's columns: a replica
-- identity (logical replication publishes partitions by their own), and on
-- a source log the fan-out for an INSERT straight into it (the parent's
-- statement trigger fires only for statements on the parent).  No grants:
-- users go through the parent, whose privileges are the ones checked.
CREATE FUNCTION pushsource_internal._partition_setup(p_part regclass, p_is_source boolean)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    EXECUTE pg_catalog.format('ALTER TABLE %s REPLICA IDENTITY FULL', p_part);
    IF p_is_source THEN
        EXECUTE pg_catalog.format('CREATE TRIGGER zz_pushsource_fanout AFTER INSERT ON %s'
                                  ' FOR EACH STATEMENT EXECUTE FUNCTION %I._push_statement()',
                                  p_part, 'pushsource_internal');
    END IF;
END
$$;
COMMENT ON FUNCTION pushsource_internal._partition_setup(regclass, boolean) IS
  'internal: replica identity and, on a source log, the fan-out trigger of a new partition';

-- Makes a new table partitioned by p_ts_col: its default partition and
-- the partitions from now to the premade ones.
CREATE FUNCTION pushsource_internal._partition_init(p_tbl regclass, p_ts_col text, p_every interval,
    p_is_source boolean)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    def regclass;
    lo  timestamptz;
BEGIN
    EXECUTE pg_catalog.format('CREATE TABLE %I.%I PARTITION OF %s DEFAULT', 'pushsource_partition',
        (SELECT pg_catalog.left(c.relname, 52) || '_default' FROM pg_catalog.pg_class c WHERE c.oid = p_tbl), p_tbl);
    SELECT p.partition INTO def FROM pushsource_internal._partitions(p_tbl) p WHERE p.is_default;
    PERFORM pushsource_internal._partition_setup(def, p_is_source);
    lo := pushsource_internal._partition_start(p_every, pushsource_internal._now());
    FOR i IN 0 .. pushsource_internal._partition_premake() LOOP
        PERFORM pushsource_internal._partition_add(p_tbl, p_ts_col, p_every, lo + p_every * i, p_is_source);
    END LOOP;
END
$$;
COMMENT ON FUNCTION pushsource_internal._partition_init(regclass, text, interval, boolean) IS
  'internal: the default partition and the first partitions of a new time-partitioned table';

-- The history tables: source logs and offline stores, how they are
-- partitioned and how long they keep rows.
CREATE FUNCTION pushsource_internal._history_tables(p_object text DEFAULT NULL)
RETURNS TABLE (object text, what text, tbl regclass, ts_col text, every interval, keep interval, is_source boolean)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT s.name, 'source log', s.source_table, s.timestamp_field, s.partition_interval, s.source_retention, true
      FROM pushsource_internal.source_catalog s
     WHERE s.log_offline AND (p_object IS NULL OR s.name = p_object)
    UNION ALL
    SELECT v.name, 'offline store', v.offline_table, s.timestamp_field, v.partition_interval, v.offline_retention, false
      FROM pushsource_internal.view_catalog v JOIN pushsource_internal.source_catalog s ON s.name = v.source
     WHERE v.offline_table IS NOT NULL AND (p_object IS NULL OR v.name = p_object)
$$;
COMMENT ON FUNCTION pushsource_internal._history_tables(text) IS
  'internal: source logs and offline stores with their partition interval and retention';

-- Creates the missing partitions of one history table for [p_from, p_to),
-- none older than its retention keeps and at most p_limit, moving their
-- rows out of the default partition.  Partitions that exist (whatever
-- their bounds) are left as they are.
CREATE FUNCTION pushsource_internal._partitions_cover(p_tbl regclass, p_ts_col text, p_every interval,
    p_keep interval, p_is_source boolean, p_now timestamptz, p_from timestamptz, p_to timestamptz,
    p_limit int, OUT created int, OUT moved bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    lo timestamptz;
BEGIN
    created := 0;
    moved := 0;
    IF p_keep IS NOT NULL THEN
        p_from := GREATEST(p_from, p_now - p_keep);
    END IF;
    IF p_from >= p_to OR NOT pg_catalog.isfinite(p_from) OR NOT pg_catalog.isfinite(p_to) THEN
        RETURN;
    END IF;
    FOR lo IN SELECT b FROM pg_catalog.generate_series(pushsource_internal._partition_start(p_every, p_from),
                                                      p_to - interval '1 microsecond', p_every) b
               WHERE NOT EXISTS (SELECT 1 FROM pushsource_internal._partitions(p_tbl) p
                                  WHERE NOT p.is_default
                                    AND (p.lower IS NULL OR p.lower < b + p_every)
                                    AND (p.upper IS NULL OR p.upper > b))
               LIMIT p_limit LOOP
        moved := moved + pushsource_internal._partition_add(p_tbl, p_ts_col, p_every, lo, p_is_source);
        created := created + 1;
    END LOOP;
END
$$;
COMMENT ON FUNCTION pushsource_internal._partitions_cover(regclass, text, interval, interval, boolean, timestamptz, timestamptz, timestamptz, int) IS
  'internal: creates the missing partitions of a range of event times';

-- On demand: the partitions a backfill of [p_start, p_end) writes into.
CREATE FUNCTION pushsource_internal._partitions_for(p_object text, p_start timestamptz, p_end timestamptz)
RETURNS int LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    h   record;
    r   record;
    n   int := 0;
BEGIN
    FOR h IN SELECT * FROM pushsource_internal._history_tables(p_object) t
              WHERE t.every IS NOT NULL
                AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = t.tbl AND c.relkind = 'p') LOOP
        r := pushsource_internal._partitions_cover(h.tbl, h.ts_col, h.every, h.keep, h.is_source,
                 pushsource_internal._now(), p_start, p_end, 1000);
        n := n + r.created;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION pushsource_internal._partitions_for(text, timestamptz, timestamptz) IS
  'internal: creates the partitions an object''s history needs for a range of event times (at most 1000 per table)';

-- The maintenance of history: partitions ahead of now, rows of the default
-- partition moved into partitions of their own, retention.  Per object:
-- partitions created and dropped, rows moved and deleted.
CREATE FUNCTION pushsource_internal._maintain_history(p_now timestamptz)
RETURNS jsonb LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    h       record;
    r       record;
    p       record;
    b       timestamptz;
    def     regclass;
    cutoff  timestamptz;
    created int;
    dropped int;
    moved   bigint;
    deleted bigint;
    n       bigint;
    out     jsonb := '{}';
BEGIN
    FOR h IN SELECT * FROM pushsource_internal._history_tables() t
              WHERE (t.every IS NOT NULL OR t.keep IS NOT NULL)
                AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = t.tbl
                               AND c.relkind = CASE WHEN t.every IS NULL THEN 'r' ELSE 'p' END)
              ORDER BY t.object, t.what LOOP
        created := 0; dropped := 0; moved := 0; deleted := 0;
        cutoff := p_now - h.keep;
        def := NULL;
        IF h.every IS NOT NULL THEN
            -- retention: whole partitions past the cutoff
            FOR p IN SELECT * FROM pushsource_internal._partitions(h.tbl) x
                      WHERE cutoff IS NOT NULL AND NOT x.is_default AND x.upper <= cutoff
                      ORDER BY x.upper LOOP
                EXECUTE pg_catalog.format('DROP TABLE %s', p.partition);
                dropped := dropped + 1;
            END LOOP;
            SELECT x.partition INTO def FROM pushsource_internal._partitions(h.tbl) x WHERE x.is_default;
            -- ahead of now
            r := pushsource_internal._partitions_cover(h.tbl, h.ts_col, h.every, h.keep, h.is_source, p_now,
                     p_now, pushsource_internal._partition_start(h.every, p_now)
                            + h.every * (pushsource_internal._partition_premake() + 1), 1000);
            created := created + r.created;
            moved := moved + r.moved;
            -- rows that landed in the default partition (late or backfilled
            -- events): into partitions of their own, up to the premade ones
            IF def IS NOT NULL THEN
                FOR b IN EXECUTE pg_catalog.format(
                        'SELECT DISTINCT %I._partition_start($1, %I) FROM %s WHERE %I < $2 AND %I >= $3 ORDER BY 1 LIMIT 1000',
                        'pushsource_internal', h.ts_col, def, h.ts_col, h.ts_col)
                      USING h.every,
                            pushsource_internal._partition_start(h.every, p_now)
                            + h.every * (pushsource_internal._partition_premake() + 1),
                            coalesce(cutoff, '-infinity') LOOP
                    r := pushsource_internal._partitions_cover(h.tbl, h.ts_col, h.every, h.keep, h.is_source,
                             p_now, b, b + h.every, 1);
                    created := created + r.created;
                    moved := moved + r.moved;
                END LOOP;
            END IF;
        END IF;
        -- retention of rows: in the default partition, or in a table that
        -- is not partitioned (row by row: partition_interval makes it cheap)
        IF cutoff IS NOT NULL AND (h.every IS NULL OR def IS NOT NULL) THEN
            EXECUTE pg_catalog.format('DELETE FROM %s WHERE %I < $1', coalesce(def, h.tbl), h.ts_col) USING cutoff;
            GET DIAGNOSTICS n = ROW_COUNT;
            deleted := deleted + n;
        END IF;
        out := out || pg_catalog.jsonb_build_object(h.object, coalesce(out -> h.object, '{}')
                   || pg_catalog.jsonb_build_object(h.what, pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                        'partitions_created', created, 'partitions_dropped', dropped,
                        'rows_moved', moved, 'rows_deleted', deleted, 'retention', h.keep,
                        'kept_from', cutoff))));
    END LOOP;
    RETURN out;
END
$$;
COMMENT ON FUNCTION pushsource_internal._maintain_history(timestamptz) IS
  'internal: partitions ahead of now, default-partition rows moved out, retention of source logs and offline stores';

------------------------------------------------------------------------
-- Registration
------------------------------------------------------------------------

-- Claims a name in the single namespace; errors if it is taken.
CREATE FUNCTION pushsource_internal._claim_name(p_name text, p_kind text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    existing text;
BEGIN
    PERFORM pushsource_internal._check_name(p_name, pg_catalog.replace(p_kind, '_', ' '));
    SELECT kind INTO existing FROM pushsource_internal.object_registry WHERE name = p_name;
    IF FOUND THEN
        RAISE EXCEPTION '% "%" already exists', pg_catalog.replace(existing, '_', ' '), p_name
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Names are shared by entities, push sources, feature views and feature services; drop it with fs_drop() or pick another name.';
    END IF;
    INSERT INTO pushsource_internal.object_registry (name, kind) VALUES (p_name, p_kind);
END
$$;
COMMENT ON FUNCTION pushsource_internal._claim_name(text, text) IS 'internal: reserves an object name';

CREATE FUNCTION pushsource_internal._check_tags(p_what text, p_name text, p_tags jsonb)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_tags IS NULL THEN
        RETURN '{}'::jsonb;
    END IF;
    IF pg_catalog.jsonb_typeof(p_tags) <> 'object' THEN
        RAISE EXCEPTION '% "%": tags must be a JSON object, got %', p_what, p_name, p_tags
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN p_tags;
END
$$;
COMMENT ON FUNCTION pushsource_internal._check_tags(text, text, jsonb) IS 'internal: validates tags';

CREATE FUNCTION pushsource.fs_create_entity(
    name text, join_keys text[],
    description text DEFAULT NULL, owner text DEFAULT NULL, tags jsonb DEFAULT '{}')
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k text;
BEGIN
    PERFORM pushsource_internal._claim_name(fs_create_entity.name, 'entity');
    IF fs_create_entity.join_keys IS NULL OR pg_catalog.cardinality(fs_create_entity.join_keys) = 0 THEN
        RAISE EXCEPTION 'entity "%" needs at least one join key', fs_create_entity.name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example: fs_create_entity(''user'', ARRAY[''user_id'']).';
    END IF;
    FOREACH k IN ARRAY fs_create_entity.join_keys LOOP
        PERFORM pushsource_internal._check_name(k, 'join key');
        IF k LIKE '\_fs\_%' THEN
            RAISE EXCEPTION 'entity "%": join key "%" starts with _fs_, which is reserved for pushsource''s own columns',
                            fs_create_entity.name, k
                USING ERRCODE = 'reserved_name';
        END IF;
    END LOOP;
    IF (SELECT pg_catalog.count(DISTINCT x) FROM unnest(fs_create_entity.join_keys) x)
       <> pg_catalog.cardinality(fs_create_entity.join_keys) THEN
        RAISE EXCEPTION 'entity "%": join keys % repeat a name', fs_create_entity.name, fs_create_entity.join_keys
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO pushsource_internal.entity_catalog (name, join_keys, description, owner, tags)
    VALUES (fs_create_entity.name, fs_create_entity.join_keys, fs_create_entity.description,
            fs_create_entity.owner,
            pushsource_internal._check_tags('entity', fs_create_entity.name, fs_create_entity.tags));
    RETURN fs_create_entity.name;
END
$$;
COMMENT ON FUNCTION pushsource.fs_create_entity(text, text[], text, text, jsonb) IS
  'registers an entity: a name and the join keys that identify it';

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
COMMENT ON FUNCTION pushsource.fs_create_push_source(text, text, text, boolean, regclass, text, text, jsonb, boolean, interval, interval, interval, boolean) IS
  'registers a push source and creates its table (INSERT, COPY or fs_push into it; replicated: filled by a logical replication subscription)';

CREATE FUNCTION pushsource_internal._create_feature_view(
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

-- The pg_cron job is scheduled as the caller (pg_cron runs it as its
-- owner), after the view was registered as the extension's owner.
CREATE FUNCTION pushsource.fs_create_feature_view(
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
RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pushsource_internal._create_feature_view(name, source, entities, features, aggregations,
        aggregation_interval, ttl, online, offline, feature_start_time, batch_schedule,
        description, owner, tags, prevent_destroy, partition_interval, offline_retention);
    IF batch_schedule IS NOT NULL THEN
        PERFORM pushsource_internal._schedule_materialize(name, batch_schedule);
    END IF;
    RETURN name;
END
$$;
COMMENT ON FUNCTION pushsource.fs_create_feature_view(text, text, text[], text[], pushsource.aggregation[], interval, interval, boolean, boolean, timestamptz, text, text, text, jsonb, boolean, interval, interval) IS
  'registers a feature view on a push source (attribute features or windowed aggregations) and creates its online and offline stores';

-- The join keys of a service's views, with the type each view's source
-- declares for them.
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

CREATE FUNCTION pushsource.fs_create_feature_service(
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

------------------------------------------------------------------------
-- Drop
------------------------------------------------------------------------

CREATE FUNCTION pushsource_internal._dependents(p_name text)
RETURNS TABLE (name text, kind text) LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT v.name, 'feature_view' FROM pushsource_internal.view_catalog v
     WHERE v.source = p_name OR p_name = ANY (v.entities)
    UNION
    SELECT DISTINCT sf.service, 'feature_service' FROM pushsource_internal.service_feature sf
     WHERE sf.feature_view = p_name
$$;
COMMENT ON FUNCTION pushsource_internal._dependents(text) IS 'internal: objects that use an object';

CREATE FUNCTION pushsource.fs_drop(name text, "cascade" boolean DEFAULT false)
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

CREATE FUNCTION pushsource.fs_set_prevent_destroy(name text, prevent_destroy boolean)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p_kind text;
BEGIN
    PERFORM pushsource_internal._check_name(fs_set_prevent_destroy.name, 'object');
    IF fs_set_prevent_destroy.prevent_destroy IS NULL THEN
        RAISE EXCEPTION '"%": prevent_destroy must be true or false', fs_set_prevent_destroy.name
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT r.kind INTO p_kind FROM pushsource_internal.object_registry r WHERE r.name = fs_set_prevent_destroy.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'object "%" does not exist', fs_set_prevent_destroy.name
            USING ERRCODE = 'undefined_object';
    ELSIF p_kind = 'push_source' THEN
        UPDATE pushsource_internal.source_catalog s SET prevent_destroy = fs_set_prevent_destroy.prevent_destroy
         WHERE s.name = fs_set_prevent_destroy.name;
    ELSIF p_kind = 'feature_view' THEN
        UPDATE pushsource_internal.view_catalog v SET prevent_destroy = fs_set_prevent_destroy.prevent_destroy
         WHERE v.name = fs_set_prevent_destroy.name;
    ELSE
        RAISE EXCEPTION '% "%" has no prevent_destroy', pg_catalog.replace(p_kind, '_', ' '), fs_set_prevent_destroy.name
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Push sources and feature views have one.';
    END IF;
END
$$;
COMMENT ON FUNCTION pushsource.fs_set_prevent_destroy(text, boolean) IS
  'sets or clears prevent_destroy of a push source or feature view (fs_drop refuses while it is set)';

------------------------------------------------------------------------
-- Ingest and serving (C)
------------------------------------------------------------------------

CREATE FUNCTION pushsource.fs_push(source text, records jsonb,
    mode text DEFAULT 'online_and_offline', dry_run boolean DEFAULT false,
    on_error text DEFAULT 'abort')
RETURNS jsonb LANGUAGE c CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'fs_push';
COMMENT ON FUNCTION pushsource.fs_push(text, jsonb, text, boolean, text) IS
  'validates JSON records and writes them to a push source and every feature view that reads it';

CREATE FUNCTION pushsource.fs_ingest(request jsonb)
RETURNS jsonb LANGUAGE c CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'fs_ingest';
COMMENT ON FUNCTION pushsource.fs_ingest(jsonb) IS
  'Tecton Stream Ingest API request in, its response out; atomic across records and sources';

CREATE FUNCTION pushsource.fs_get_online_features(name text, join_keys jsonb,
    include_join_keys boolean DEFAULT false, include_metadata boolean DEFAULT false)
RETURNS jsonb LANGUAGE c CALLED ON NULL INPUT STABLE
AS 'MODULE_PATHNAME', 'fs_get_online_features';
COMMENT ON FUNCTION pushsource.fs_get_online_features(text, jsonb, boolean, boolean) IS
  'serves the newest feature values of a feature view or feature service for one key object or an array of them';

------------------------------------------------------------------------
-- Point-in-time retrieval
------------------------------------------------------------------------

CREATE FUNCTION pushsource_internal._historical_features_support(internal) RETURNS internal
LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'fs_historical_features_support';
COMMENT ON FUNCTION pushsource_internal._historical_features_support(internal) IS
  'internal: planner support of fs_get_historical_features (its row estimate; loads the planner hook that streams its rows)';
REVOKE ALL ON FUNCTION pushsource_internal._historical_features_support(internal) FROM PUBLIC;

CREATE FUNCTION pushsource.fs_get_historical_features(spine text, features text[],
    timestamp_key text DEFAULT NULL, full_feature_names boolean DEFAULT true,
    from_source boolean DEFAULT false)
RETURNS SETOF record LANGUAGE c CALLED ON NULL INPUT VOLATILE
SUPPORT pushsource_internal._historical_features_support
AS 'MODULE_PATHNAME', 'fs_get_historical_features';
COMMENT ON FUNCTION pushsource.fs_get_historical_features(text, text[], text, boolean, boolean) IS
  'point-in-time-correct features for every spine row (as-of merge join in C); use AS t(...) from fs_historical_features_columns()';

CREATE FUNCTION pushsource.fs_historical_features_columns(spine text, features text[],
    timestamp_key text DEFAULT NULL, full_feature_names boolean DEFAULT true,
    from_source boolean DEFAULT false)
RETURNS text LANGUAGE c CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'fs_historical_features_columns';
COMMENT ON FUNCTION pushsource.fs_historical_features_columns(text, text[], text, boolean, boolean) IS
  'the column definition list to write after fs_get_historical_features(...) AS t(...)';

CREATE FUNCTION pushsource.fs_save_historical_features(save_as text, spine text, features text[],
    timestamp_key text DEFAULT NULL, full_feature_names boolean DEFAULT true,
    from_source boolean DEFAULT false)
RETURNS regclass LANGUAGE c CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'fs_save_historical_features';
COMMENT ON FUNCTION pushsource.fs_save_historical_features(text, text, text[], text, boolean, boolean) IS
  'creates table save_as with proper column types and fills it with fs_get_historical_features (Tecton''s save_as)';

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

CREATE FUNCTION pushsource.fs_get_historical_features(feature_view text, start_time timestamptz,
    end_time timestamptz, entities jsonb DEFAULT NULL)
RETURNS SETOF record LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY EXECUTE (pushsource_internal._range_plan(feature_view, start_time, end_time, entities)).sql
        USING start_time, end_time, entities;
END
$$;
COMMENT ON FUNCTION pushsource.fs_get_historical_features(text, timestamptz, timestamptz, jsonb) IS
  'every feature row of a view with event time in [start_time, end_time), optionally for some entities';

CREATE FUNCTION pushsource.fs_historical_features_columns(feature_view text, start_time timestamptz,
    end_time timestamptz, entities jsonb DEFAULT NULL)
RETURNS text LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT (pushsource_internal._range_plan(feature_view, start_time, end_time, entities)).columns
$$;
COMMENT ON FUNCTION pushsource.fs_historical_features_columns(text, timestamptz, timestamptz, jsonb) IS
  'the column definition list of the no-spine fs_get_historical_features';

------------------------------------------------------------------------
-- fs_run: what a feature view computes over [start_time, end_time)
------------------------------------------------------------------------

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

-- Tecton's run_stream, pulled: the rows pushes fanned out to a view's
-- offline store after a cursor (an ingest order), oldest first.  Poll with
-- the last ingest_id seen.  Rows are numbered when they are pushed, not
-- when they commit: a push that commits after a later-numbered one is
-- seen by a poll only if its cursor is older than the push.
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

------------------------------------------------------------------------
-- Introspection
------------------------------------------------------------------------

CREATE FUNCTION pushsource_internal._kind(p_name text) RETURNS text LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k text;
BEGIN
    PERFORM pushsource_internal._check_name(p_name, 'object');
    SELECT r.kind INTO k FROM pushsource_internal.object_registry r WHERE r.name = p_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'object "%" does not exist', p_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'Objects are listed in pushsource.entities, push_sources, feature_views and feature_services.';
    END IF;
    RETURN k;
END
$$;
COMMENT ON FUNCTION pushsource_internal._kind(text) IS 'internal: kind of a named object, or an error';

CREATE FUNCTION pushsource.fs_summary(name text) RETURNS jsonb LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
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

-- The problems of one table against what it should hold: it exists, is
-- owned by the extension's owner (nobody else may alter it), and has each
-- column with its type (format_type).
CREATE FUNCTION pushsource_internal._table_problems(p_tbl regclass, p_what text, p_schema text, p_cols text[], p_types text[])
RETURNS text[] LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    problems text[] := '{}';
    t        text;
    own      regrole;
    nsp      text;
BEGIN
    IF p_tbl IS NULL THEN
        RETURN ARRAY[pg_catalog.format('%s is not in the catalog', p_what)];
    END IF;
    SELECT c.relowner::regrole, c.relnamespace::regnamespace::text INTO own, nsp
      FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) p_tbl;
    IF NOT FOUND THEN
        RETURN ARRAY[pg_catalog.format('%s is missing', p_what)];
    END IF;
    IF nsp <> p_schema THEN
        problems := problems || pg_catalog.format('%s (%s) is not in schema %s', p_what, p_tbl, p_schema);
    END IF;
    IF own OPERATOR(pg_catalog.<>) (SELECT e.extowner FROM pg_catalog.pg_extension e
                                     WHERE e.extname OPERATOR(pg_catalog.=) 'pushsource') THEN
        problems := problems || pg_catalog.format('%s (%s) is owned by %s, not by the extension''s owner', p_what, p_tbl, own);
    END IF;
    FOR i IN 1 .. coalesce(pg_catalog.cardinality(p_cols), 0) LOOP
        SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO t FROM pg_catalog.pg_attribute a
         WHERE a.attrelid OPERATOR(pg_catalog.=) p_tbl AND a.attname OPERATOR(pg_catalog.=) p_cols[i]
           AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            problems := problems || pg_catalog.format('column "%s" is missing from %s (%s)', p_cols[i], p_what, p_tbl);
        ELSIF t <> p_types[i] THEN
            problems := problems || pg_catalog.format('column "%s" of %s (%s) is of type %s, not %s',
                                                      p_cols[i], p_what, p_tbl, t, p_types[i]);
        END IF;
    END LOOP;
    RETURN problems;
END
$$;
COMMENT ON FUNCTION pushsource_internal._table_problems(regclass, text, text, text[], text[]) IS
  'internal: fs_validate''s checks of one table: present, in its schema, owned by the extension''s owner, its columns and their types';

CREATE FUNCTION pushsource.fs_validate(name text) RETURNS jsonb LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
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

CREATE FUNCTION pushsource.fs_get_columns(name text) RETURNS text[] LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k text := pushsource_internal._kind(fs_get_columns.name);
    r text[];
BEGIN
    IF k = 'push_source' THEN
        SELECT s.column_names INTO r FROM pushsource_internal.source_catalog s WHERE s.name = fs_get_columns.name;
    ELSIF k = 'feature_view' THEN
        SELECT v.join_keys || s.timestamp_field || v.features INTO r
          FROM pushsource_internal.view_catalog v JOIN pushsource_internal.source_catalog s ON s.name = v.source
         WHERE v.name = fs_get_columns.name;
    ELSE
        RAISE EXCEPTION '"%" is %, not a push source or feature view', fs_get_columns.name,
                        CASE k WHEN 'entity' THEN 'an entity' ELSE 'a ' || pg_catalog.replace(k, '_', ' ') END
            USING ERRCODE = 'wrong_object_type';
    END IF;
    RETURN r;
END
$$;
COMMENT ON FUNCTION pushsource.fs_get_columns(text) IS
  'column names of a push source (its schema) or a feature view (join keys, timestamp, features)';

CREATE FUNCTION pushsource.fs_get_dataframe(name text, start_time timestamptz DEFAULT NULL,
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

------------------------------------------------------------------------
-- fs_partial: the partial state of one windowed aggregation (tiles)
------------------------------------------------------------------------

CREATE TYPE pushsource.fs_partial;
CREATE FUNCTION pushsource.fs_partial_in(cstring) RETURNS pushsource.fs_partial
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'fs_partial_in';
CREATE FUNCTION pushsource.fs_partial_out(pushsource.fs_partial) RETURNS cstring
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'fs_partial_out';
CREATE FUNCTION pushsource.fs_partial_recv(internal) RETURNS pushsource.fs_partial
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'fs_partial_recv';
CREATE FUNCTION pushsource.fs_partial_send(pushsource.fs_partial) RETURNS bytea
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'fs_partial_send';
COMMENT ON FUNCTION pushsource.fs_partial_in(cstring) IS 'fs_partial from its JSON text form, checked';
COMMENT ON FUNCTION pushsource.fs_partial_out(pushsource.fs_partial) IS 'fs_partial as JSON text';
COMMENT ON FUNCTION pushsource.fs_partial_recv(internal) IS 'fs_partial from its binary form, checked';
COMMENT ON FUNCTION pushsource.fs_partial_send(pushsource.fs_partial) IS 'fs_partial in binary form';
CREATE TYPE pushsource.fs_partial (
    INPUT = pushsource.fs_partial_in, OUTPUT = pushsource.fs_partial_out,
    RECEIVE = pushsource.fs_partial_recv, SEND = pushsource.fs_partial_send,
    INTERNALLENGTH = VARIABLE, STORAGE = extended);
COMMENT ON TYPE pushsource.fs_partial IS
  'partial state of a windowed aggregation: combine with fs_partial_combine, finalize with fs_partial_final';

CREATE FUNCTION pushsource.fs_partial_combine(pushsource.fs_partial, pushsource.fs_partial)
RETURNS pushsource.fs_partial
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'fs_partial_combine';
COMMENT ON FUNCTION pushsource.fs_partial_combine(pushsource.fs_partial, pushsource.fs_partial) IS
  'the state of both states'' events (NULL is the empty state)';
CREATE FUNCTION pushsource.fs_partial_final(pushsource.fs_partial, anyelement) RETURNS anyelement
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'fs_partial_final';
COMMENT ON FUNCTION pushsource.fs_partial_final(pushsource.fs_partial, anyelement) IS
  'the feature value of a state; the second argument, a NULL of the result type, names the type';

CREATE FUNCTION pushsource_internal._partial_agg_add(internal, text, anyelement, timestamptz, bigint)
RETURNS internal
LANGUAGE c PARALLEL SAFE AS 'MODULE_PATHNAME', 'fs_partial_agg_add';
CREATE FUNCTION pushsource_internal._partial_merge_add(internal, pushsource.fs_partial)
RETURNS internal
LANGUAGE c PARALLEL SAFE AS 'MODULE_PATHNAME', 'fs_partial_merge_add';
CREATE FUNCTION pushsource_internal._partial_agg_final(internal) RETURNS pushsource.fs_partial
LANGUAGE c PARALLEL SAFE AS 'MODULE_PATHNAME', 'fs_partial_agg_final';
COMMENT ON FUNCTION pushsource_internal._partial_agg_add(internal, text, anyelement, timestamptz, bigint) IS
  'transition function of fs_partial_agg';
COMMENT ON FUNCTION pushsource_internal._partial_merge_add(internal, pushsource.fs_partial) IS
  'transition function of fs_partial_merge';
COMMENT ON FUNCTION pushsource_internal._partial_agg_final(internal) IS
  'final function of fs_partial_agg and fs_partial_merge';
CREATE AGGREGATE pushsource.fs_partial_agg(text, anyelement, timestamptz, bigint) (
    SFUNC = pushsource_internal._partial_agg_add, STYPE = internal,
    FINALFUNC = pushsource_internal._partial_agg_final);
COMMENT ON AGGREGATE pushsource.fs_partial_agg(text, anyelement, timestamptz, bigint) IS
  'fs_partial_agg(function, value, event time, ingest order): the state of a set of events';
CREATE AGGREGATE pushsource.fs_partial_merge(pushsource.fs_partial) (
    SFUNC = pushsource_internal._partial_merge_add, STYPE = internal,
    FINALFUNC = pushsource_internal._partial_agg_final);
COMMENT ON AGGREGATE pushsource.fs_partial_merge(pushsource.fs_partial) IS
  'the combination of a set of states';

------------------------------------------------------------------------
-- Aggregate feature views: tiles (internal, called by the fan-out)
------------------------------------------------------------------------

CREATE FUNCTION pushsource_internal._tile_agg_add(internal, text, timestamptz, bigint, VARIADIC "any")
RETURNS internal LANGUAGE c PARALLEL SAFE AS 'MODULE_PATHNAME', 'fs_tile_agg_add';
CREATE FUNCTION pushsource_internal._tile_agg_final(internal) RETURNS bytea
LANGUAGE c PARALLEL SAFE AS 'MODULE_PATHNAME', 'fs_tile_agg_final';
COMMENT ON FUNCTION pushsource_internal._tile_agg_add(internal, text, timestamptz, bigint, VARIADIC "any") IS
  'internal: transition function of _tile_agg';
COMMENT ON FUNCTION pushsource_internal._tile_agg_final(internal) IS 'internal: final function of _tile_agg';
CREATE AGGREGATE pushsource_internal._tile_agg(text, timestamptz, bigint, VARIADIC "any") (
    SFUNC = pushsource_internal._tile_agg_add, STYPE = internal,
    FINALFUNC = pushsource_internal._tile_agg_final);
COMMENT ON AGGREGATE pushsource_internal._tile_agg(text, timestamptz, bigint, VARIADIC "any") IS
  'internal: the tile block (totals and tiles) of a group of events';
CREATE FUNCTION pushsource_internal._tile_block(timestamptz, bigint) RETURNS timestamptz
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'fs_tile_block';
COMMENT ON FUNCTION pushsource_internal._tile_block(timestamptz, bigint) IS
  'internal: start of the block (microseconds since the Unix epoch, a multiple of the block) of an event';
CREATE FUNCTION pushsource_internal._block_part(bytea, int) RETURNS bytea
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'fs_block_part';
COMMENT ON FUNCTION pushsource_internal._block_part(bytea, int) IS
  'internal: the totals (0) or tiles (1) of a _tile_agg block';
CREATE FUNCTION pushsource_internal._tile_totals_merge(bytea, bytea) RETURNS bytea
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'fs_tile_totals_merge';
COMMENT ON FUNCTION pushsource_internal._tile_totals_merge(bytea, bytea) IS
  'internal: combines two blocks'' totals';
CREATE FUNCTION pushsource_internal._tiles_merge(bytea, bytea) RETURNS bytea
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'fs_tiles_merge';
COMMENT ON FUNCTION pushsource_internal._tiles_merge(bytea, bytea) IS
  'internal: combines two blocks'' tiles, tile by tile';

------------------------------------------------------------------------
-- Operations: the job table, key deletion, backfill from batch tables,
-- pg_cron schedules
------------------------------------------------------------------------

CREATE SEQUENCE pushsource.job_id_seq;
COMMENT ON SEQUENCE pushsource.job_id_seq IS 'ids of pushsource.jobs';

CREATE TABLE pushsource.jobs (
    id           bigint PRIMARY KEY DEFAULT pg_catalog.nextval('pushsource.job_id_seq'),
    kind         text NOT NULL CHECK (kind IN ('materialization', 'deletion', 'maintenance')),
    object       text NOT NULL,           -- the feature view; '*' for maintenance
    window_start timestamptz,             -- materialization: [window_start, window_end)
    window_end   timestamptz,
    state        text NOT NULL CHECK (state IN ('succeeded', 'failed')),
    rows         bigint NOT NULL DEFAULT 0,
    details      jsonb NOT NULL DEFAULT '{}',
    error        text,
    sqlstate     text,
    attempt      int NOT NULL DEFAULT 1,
    scheduled    boolean NOT NULL DEFAULT false,
    run_by       name NOT NULL DEFAULT CURRENT_USER,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
CREATE INDEX ON pushsource.jobs (object, kind, id);
COMMENT ON TABLE pushsource.jobs IS
  'every materialization, key deletion and maintenance run: what, which window, state, rows, error, attempt, times';
SELECT pg_catalog.pg_extension_config_dump('pushsource.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('pushsource.job_id_seq', '');
GRANT SELECT ON pushsource.jobs TO pushsource_admin, pushsource_writer, pushsource_reader;
GRANT INSERT ON pushsource.jobs TO pushsource_admin;
GRANT DELETE ON pushsource.jobs TO pushsource_admin;
GRANT USAGE ON SEQUENCE pushsource.job_id_seq, pushsource_internal.ingest_batch_seq TO pushsource_admin;

-- The try this is of a run: 1 + the failed runs of the same kind, object
-- and window start since the last that succeeded.  Deletions of different
-- keys are different jobs: each is its first attempt.
CREATE FUNCTION pushsource_internal._job_attempt(p_kind text, p_object text, p_start timestamptz)
RETURNS int LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN p_kind = 'deletion' THEN 1 ELSE 1 + pg_catalog.count(*)::int END FROM pushsource.jobs j
     WHERE j.kind = p_kind AND j.object = p_object AND j.window_start IS NOT DISTINCT FROM p_start
       AND j.state = 'failed'
       AND j.id > coalesce((SELECT pg_catalog.max(s.id) FROM pushsource.jobs s
                             WHERE s.kind = p_kind AND s.object = p_object
                               AND s.window_start IS NOT DISTINCT FROM p_start AND s.state = 'succeeded'), 0)
$$;
COMMENT ON FUNCTION pushsource_internal._job_attempt(text, text, timestamptz) IS
  'internal: the attempt number of the next run of a job';

CREATE FUNCTION pushsource_internal._job_failed(kind text, object text, window_start timestamptz,
    window_end timestamptz, error text, sqlstate text, scheduled boolean, started_at timestamptz)
RETURNS bigint LANGUAGE c CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'fs_job_failed';
COMMENT ON FUNCTION pushsource_internal._job_failed(text, text, timestamptz, timestamptz, text, text, boolean, timestamptz) IS
  'internal: records a failed run in pushsource.jobs in its own transaction (a background worker)';

CREATE FUNCTION pushsource_internal._reraise(sqlstate text, message text, detail text, hint text)
RETURNS void LANGUAGE c CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'fs_reraise';
COMMENT ON FUNCTION pushsource_internal._reraise(text, text, text, text) IS
  'internal: raises a caught error again, as it was';

CREATE FUNCTION pushsource_internal._key_set(feature_view text, keys jsonb)
RETURNS SETOF record LANGUAGE c CALLED ON NULL INPUT STABLE
AS 'MODULE_PATHNAME', 'fs_key_set';
COMMENT ON FUNCTION pushsource_internal._key_set(text, jsonb) IS
  'internal: the checked, typed join keys of fs_delete_keys; AS k(<join keys>)';

-- Runs one job: its row in pushsource.jobs says how it went.  A failure is
-- recorded (in its own transaction) and raised again; a scheduled run
-- (pg_cron) returns it instead, so that the next run starts afresh.
CREATE FUNCTION pushsource_internal._job(p_kind text, p_object text, p_start timestamptz, p_end timestamptz,
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

-- A feature view for an operation, locked against other operations on it
-- and against fs_drop (pushes do not take this lock).  As the owner: a row
-- lock needs UPDATE on the catalog, which no other role has.
CREATE FUNCTION pushsource_internal._view_for(p_view text, p_what text)
RETURNS pushsource_internal.view_catalog LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v pushsource_internal.view_catalog;
BEGIN
    PERFORM pushsource_internal._check_name(p_view, 'feature view');
    SELECT * INTO v FROM pushsource_internal.view_catalog x WHERE x.name = p_view FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION '%: feature view "%" does not exist', p_what, p_view
            USING ERRCODE = 'undefined_object', HINT = 'Feature views are listed in pushsource.feature_views.';
    END IF;
    RETURN v;
END
$$;
COMMENT ON FUNCTION pushsource_internal._view_for(text, text) IS 'internal: a feature view, locked for an operation';

-- The same for a push source (a source-level fs_delete_keys).
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

------------------------------------------------------------------------
-- Key deletion
------------------------------------------------------------------------

CREATE FUNCTION pushsource_internal._delete_keys(p_view text, p_keys jsonb, p_online boolean, p_offline boolean)
RETURNS jsonb LANGUAGE c STRICT VOLATILE
AS 'MODULE_PATHNAME', 'fs_delete_keys_run';
COMMENT ON FUNCTION pushsource_internal._delete_keys(text, jsonb, boolean, boolean) IS
  'internal: the work of fs_delete_keys';

CREATE FUNCTION pushsource.fs_delete_keys(feature_view text, keys jsonb,
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

-- The rows of both status functions.  A dropped view's jobs stay: the name
-- need not exist, but must be a name.  p_kind NULL: every kind.
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

------------------------------------------------------------------------
-- Backfill from a push source's batch table
------------------------------------------------------------------------

CREATE FUNCTION pushsource_internal._backfill(feature_view text, start_time timestamptz, end_time timestamptz)
RETURNS jsonb LANGUAGE c STRICT VOLATILE
AS 'MODULE_PATHNAME', 'fs_backfill';
COMMENT ON FUNCTION pushsource_internal._backfill(text, timestamptz, timestamptz) IS
  'internal: a window of the batch table through the push validator and fan-out, to one view''s stores';

CREATE FUNCTION pushsource_internal._materialize(p_view text, p_start timestamptz, p_end timestamptz)
RETURNS jsonb LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    -- the partitions of the window first (a backfill writes the past)
    SELECT pushsource_internal._partitions_for(p_view, p_start, p_end);
    SELECT pg_catalog.jsonb_build_object('feature_view', p_view, 'start_time', p_start, 'end_time', p_end)
           OPERATOR(pg_catalog.||) pushsource_internal._backfill(p_view, p_start, p_end)
$$;
COMMENT ON FUNCTION pushsource_internal._materialize(text, timestamptz, timestamptz) IS
  'internal: the work of fs_materialize';

-- Checks what needs no job: the view, its batch table, the window.
-- A batch table backfills read: a plain table (a view's or a function's
-- code would run as whoever backfills), without row security (its
-- policies too), not temporary, readable by pushsource_admin, and -- when
-- p_source is given, before a backfill reads it -- with the source table's
-- column types (a type of its owner's, with an implicit cast, would run
-- the owner's code as the backfiller).  Locked first, so that its owner
-- cannot change any of this before the backfill has read it.
CREATE FUNCTION pushsource_internal._check_batch_table(p_what text, p_table regclass,
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

-- What a view's backfill reads: its source's batch table, or, for a
-- source without one that keeps its log (log_offline), the log itself
-- (Tecton's managed log is there to backfill new views from).
CREATE FUNCTION pushsource_internal._backfill_table(p_source pushsource_internal.source_catalog) RETURNS regclass
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN (p_source).batch_table IS NOT NULL THEN (p_source).batch_table
                WHEN (p_source).log_offline THEN (p_source).source_table END
$$;
COMMENT ON FUNCTION pushsource_internal._backfill_table(pushsource_internal.source_catalog) IS
  'internal: the table a view''s backfill reads: the batch table, else the log of a log_offline source';

CREATE FUNCTION pushsource_internal._check_materialize(p_what text, p_view text, p_start timestamptz, p_end timestamptz)
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

CREATE FUNCTION pushsource.fs_materialize(feature_view text, start_time timestamptz, end_time timestamptz)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pushsource_internal._check_materialize('fs_materialize', feature_view, start_time, end_time);
    RETURN pushsource_internal._job('materialization', feature_view, start_time, end_time, NULL, false);
END
$$;
COMMENT ON FUNCTION pushsource.fs_materialize(text, timestamptz, timestamptz) IS
  'backfills [start_time, end_time) of a view''s stores from its source''s batch_table (or the log of a log_offline source without one); idempotent; a fresher pushed online value stays';

-- Where the next incremental run starts: the end of the last successful
-- one, else feature_start_time, else the batch table's first event.
CREATE FUNCTION pushsource_internal._materialize_next_start(p_view text)
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

CREATE FUNCTION pushsource_internal._materialize_incremental(p_view text, p_end timestamptz, p_scheduled boolean)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    s timestamptz;
BEGIN
    IF p_end IS NULL OR NOT pg_catalog.isfinite(p_end) THEN
        RAISE EXCEPTION 'fs_materialize_incremental("%"): end_time must be a finite time, got %', p_view,
                        coalesce(p_end::text, 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- the view and its batch table (the window below is checked when known)
    PERFORM pushsource_internal._check_materialize('fs_materialize_incremental', p_view, p_end - interval '1 microsecond', p_end);
    s := pushsource_internal._materialize_next_start(p_view);
    IF s IS NULL OR s >= p_end THEN
        RETURN pg_catalog.jsonb_build_object('feature_view', p_view, 'state', 'up_to_date',
                                             'start_time', s, 'end_time', p_end, 'rows', 0);
    END IF;
    RETURN pushsource_internal._job('materialization', p_view, s, p_end, NULL, p_scheduled);
END
$$;
COMMENT ON FUNCTION pushsource_internal._materialize_incremental(text, timestamptz, boolean) IS
  'internal: fs_materialize_incremental, and its scheduled runs';

CREATE FUNCTION pushsource.fs_materialize_incremental(feature_view text, end_time timestamptz DEFAULT pg_catalog.now())
RETURNS jsonb LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT pushsource_internal._materialize_incremental(feature_view, end_time, false)
$$;
COMMENT ON FUNCTION pushsource.fs_materialize_incremental(text, timestamptz) IS
  'backfills from where the last successful materialization of the view ended (or its feature_start_time, or the batch table''s first event) to end_time';

CREATE FUNCTION pushsource.fs_materialization_status(name text DEFAULT NULL, errors_only boolean DEFAULT false,
    verbose boolean DEFAULT false, "limit" int DEFAULT 1000, sort_columns text DEFAULT NULL)
RETURNS SETOF pushsource.jobs LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM pushsource_internal._jobs($1, NULL, $2, $3, $4, $5)
$$;
COMMENT ON FUNCTION pushsource.fs_materialization_status(text, boolean, boolean, int, text) IS
  'the jobs (materializations, deletions, maintenance) of a feature view, or all when name is NULL, oldest first; errors_only: the failed ones; verbose: every attempt of a window, not only the latest; the newest "limit"; sort_columns: job columns, each optionally ASC or DESC';

------------------------------------------------------------------------
-- Long backfills: window by window, each committed, with progress
------------------------------------------------------------------------

CREATE FUNCTION pushsource_internal._check_can_commit(what text)
RETURNS void LANGUAGE c STRICT VOLATILE
AS 'MODULE_PATHNAME', 'fs_check_can_commit';
COMMENT ON FUNCTION pushsource_internal._check_can_commit(text) IS
  'internal: refuses to start a procedure that commits inside a transaction block';

-- The windows of fs_materialize_proc, and how many batch rows they hold
-- (read once, for the progress report).
CREATE FUNCTION pushsource_internal._materialize_windows(p_view text, p_start timestamptz, p_end timestamptz,
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

-- One window of fs_materialize_proc: a materialization job, its progress
-- in the job's details and as a NOTICE.  Returns the batch rows read so far.
CREATE FUNCTION pushsource_internal._materialize_window(p_view text, p_n int, p_windows int,
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
        r := pushsource_internal._job('materialization', p_view, p_start, p_end,
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
        PERFORM pushsource_internal._reraise(st, msg, det, hnt);
    END;
    done := (r #>> '{progress,rows_done}')::bigint;
    RAISE NOTICE 'fs_materialize_proc("%"): window % of % [%, %) done, % rows written; batch rows read: % of % (%)',
        p_view, p_n, p_windows, p_start, p_end, r ->> 'rows', done, p_total,
        (CASE WHEN p_total > 0 THEN pg_catalog.round(100.0 * done / p_total) ELSE 100 END)::text || '%';
    RETURN done;
END
$$;
COMMENT ON FUNCTION pushsource_internal._materialize_window(text, int, int, timestamptz, timestamptz, bigint, bigint) IS
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
    FOR w IN SELECT * FROM pushsource_internal._materialize_windows(feature_view, start_time, end_time, window_size) LOOP
        done := pushsource_internal._materialize_window(feature_view, w.n, w.windows, w.window_start, w.window_end,
                                                w.rows_total, done);
        COMMIT;
    END LOOP;
END
$$;
COMMENT ON PROCEDURE pushsource.fs_materialize_proc(text, timestamptz, timestamptz, interval) IS
  'backfills [start_time, end_time) as fs_materialize does, one window_size at a time, each window its own job and transaction, reporting progress; CALL it outside a transaction block';

------------------------------------------------------------------------
-- Maintenance: what no window or ttl can see any more
------------------------------------------------------------------------

-- "Now" of maintenance: pushsource.request_time when set (replay, tests).
-- In C: calling it loads the library, whose check of the setting then
-- refuses what was SET before it was loaded (infinity would have made
-- maintenance delete every row).
CREATE FUNCTION pushsource_internal._now() RETURNS timestamptz LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'fs_request_time';
COMMENT ON FUNCTION pushsource_internal._now() IS 'internal: pushsource.request_time, or now()';

-- A retention setting's value, checked when maintenance uses it.
CREATE FUNCTION pushsource_internal._retention(p_setting text, p_default interval)
RETURNS interval LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    raw  text := pg_catalog.current_setting(p_setting, true);
    keep interval;
BEGIN
    BEGIN
        keep := coalesce(NULLIF(raw, '')::interval, p_default);
    EXCEPTION WHEN data_exception THEN
        keep := NULL;
    END;
    IF keep IS NULL OR keep < interval '0' THEN
        RAISE EXCEPTION '% must be an interval of zero or more, such as ''30 days'', got %',
                        p_setting, pg_catalog.quote_literal(raw)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN keep;
END
$$;
COMMENT ON FUNCTION pushsource_internal._retention(text, interval) IS
  'internal: the interval of a retention setting (empty: the default), or 22023 naming the setting';

CREATE FUNCTION pushsource_internal._prune_online(feature_view text, now timestamptz)
RETURNS bigint LANGUAGE c STRICT VOLATILE
AS 'MODULE_PATHNAME', 'fs_prune_online';
COMMENT ON FUNCTION pushsource_internal._prune_online(text, timestamptz) IS
  'internal: deletes from a view''s online store what no read at or after now can see (ttl, windows)';

CREATE FUNCTION pushsource_internal._maintain()
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t0      timestamptz := pushsource_internal._now();
    v       record;
    n       bigint;
    total   bigint := 0;
    views   jsonb := '{}';
    keep    interval;
    keep_jobs interval;
    n_jobs  bigint;
    history jsonb;
BEGIN
    FOR v IN SELECT x.name FROM pushsource_internal.view_catalog x
              WHERE x.online_table IS NOT NULL AND (x.ttl IS NOT NULL OR x.aggregations IS NOT NULL)
              ORDER BY x.name LOOP
        n := pushsource_internal._prune_online(v.name, t0);
        views := views || pg_catalog.jsonb_build_object(v.name, n);
        total := total + n;
    END LOOP;
    keep := pushsource_internal._retention('pushsource.rejected_retention', '30 days');
    keep_jobs := pushsource_internal._retention('pushsource.job_retention', '90 days');
    DELETE FROM pushsource.rejected_records r WHERE r.rejected_at < t0 - keep;
    GET DIAGNOSTICS n = ROW_COUNT;
    -- A succeeded materialization is kept whatever its age: the windows
    -- backfilled so far are where fs_materialize_incremental goes on from,
    -- and the batch tiles are rebuilt from them.
    DELETE FROM pushsource.jobs j WHERE j.finished_at < t0 - keep_jobs
       AND NOT (j.kind = 'materialization' AND j.state = 'succeeded');
    GET DIAGNOSTICS n_jobs = ROW_COUNT;
    history := pushsource_internal._maintain_history(t0);
    RETURN pg_catalog.jsonb_build_object('rows', total + n + n_jobs, 'as_of', t0, 'online', views,
                                         'rejected_records', n, 'rejected_retention', keep,
                                         'jobs', n_jobs, 'job_retention', keep_jobs)
           || CASE WHEN history <> '{}' THEN pg_catalog.jsonb_build_object('history', history) ELSE '{}' END;
END
$$;
COMMENT ON FUNCTION pushsource_internal._maintain() IS 'internal: the work of a maintenance run';

CREATE FUNCTION pushsource.fs_run_maintenance() RETURNS jsonb LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT pushsource_internal._job('maintenance', '*', NULL, NULL, NULL, false)
$$;
COMMENT ON FUNCTION pushsource.fs_run_maintenance() IS
  'one maintenance run now: online rows past ttl, tiles and events out of every window, rejected records past pushsource.rejected_retention (default 30 days), job rows past pushsource.job_retention (default 90 days) except succeeded materializations; partitions of source logs and offline stores made ahead, default-partition rows moved out, source_retention and offline_retention applied';

------------------------------------------------------------------------
-- pg_cron (optional)
------------------------------------------------------------------------

CREATE FUNCTION pushsource_internal._cron_check(p_what text) RETURNS void LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF pg_catalog.to_regprocedure('cron.schedule(text,text,text)') IS NULL THEN
        RAISE EXCEPTION '%: pg_cron is not installed in database "%"', p_what, pg_catalog.current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'CREATE EXTENSION pg_cron; it must be in shared_preload_libraries, with cron.database_name set to this database.';
    END IF;
END
$$;
COMMENT ON FUNCTION pushsource_internal._cron_check(text) IS 'internal: fails with a hint when pg_cron is missing';

CREATE FUNCTION pushsource_internal._cron_schedule(p_job text, p_schedule text, p_command text, p_what text)
RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
BEGIN
    PERFORM pushsource_internal._cron_check(p_what);
    IF p_schedule IS NULL OR pg_catalog.btrim(p_schedule) = '' THEN
        RAISE EXCEPTION '%: the schedule must be a cron expression, got %', p_what, coalesce(pg_catalog.quote_literal(p_schedule), 'null')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example ''*/5 * * * *'' (every five minutes).';
    END IF;
    EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO id USING p_job, p_schedule, p_command;
    RETURN id;
END
$$;
COMMENT ON FUNCTION pushsource_internal._cron_schedule(text, text, text, text) IS
  'internal: schedules (or reschedules) a pg_cron job by name';

CREATE FUNCTION pushsource_internal._cron_unschedule(p_pattern text) RETURNS int LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n int := 0;
BEGIN
    IF pg_catalog.to_regclass('cron.job') IS NULL THEN
        RETURN 0;
    END IF;
    EXECUTE 'SELECT pg_catalog.count(cron.unschedule(j.jobid))::int FROM cron.job j'
            ' WHERE j.jobname LIKE $1 AND j.database = pg_catalog.current_database()'
       INTO n USING p_pattern;
    RETURN n;
END
$$;
COMMENT ON FUNCTION pushsource_internal._cron_unschedule(text) IS
  'internal: unschedules the pg_cron jobs of this database whose names match a LIKE pattern';

CREATE FUNCTION pushsource_internal._unschedule_all() RETURNS int LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT pushsource_internal._cron_unschedule('pushsource:%')
$$;
COMMENT ON FUNCTION pushsource_internal._unschedule_all() IS 'internal: unschedules every pushsource pg_cron job';

CREATE FUNCTION pushsource_internal._unschedule_on_drop() RETURNS event_trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'fs_drop_extension_trigger';
COMMENT ON FUNCTION pushsource_internal._unschedule_on_drop() IS
  'internal: DROP EXTENSION pushsource unschedules its pg_cron jobs first';
CREATE EVENT TRIGGER pushsource_unschedule_on_drop ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA')
    EXECUTE FUNCTION pushsource_internal._unschedule_on_drop();

CREATE FUNCTION pushsource_internal._scheduled_materialize(p_view text) RETURNS jsonb LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    -- Tecton's data_delay: the window ends that long before the schedule's
    -- time, so that late batch rows have arrived
    SELECT pushsource_internal._materialize_incremental(p_view,
               pg_catalog.now() OPERATOR(pg_catalog.-) coalesce((SELECT s.data_delay
                   FROM pushsource_internal.view_catalog v JOIN pushsource_internal.source_catalog s ON s.name = v.source
                  WHERE v.name = p_view), interval '0'), true)
$$;
COMMENT ON FUNCTION pushsource_internal._scheduled_materialize(text) IS
  'internal: the body of job pushsource:materialize:<view> (records a failure instead of raising it)';

CREATE FUNCTION pushsource_internal._scheduled_maintenance() RETURNS jsonb LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT pushsource_internal._job('maintenance', '*', NULL, NULL, NULL, true)
$$;
COMMENT ON FUNCTION pushsource_internal._scheduled_maintenance() IS
  'internal: the body of job pushsource:maintenance (records a failure instead of raising it)';

CREATE FUNCTION pushsource_internal._schedule_materialize(p_view text, p_schedule text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pushsource_internal.view_catalog v JOIN pushsource_internal.source_catalog s ON s.name = v.source
                    WHERE v.name = p_view AND s.batch_table IS NOT NULL) THEN
        RAISE EXCEPTION 'feature view "%": batch_schedule needs a batch_table on its push source', p_view
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Register the source with fs_create_push_source(..., batch_table => ''schema.table'').';
    END IF;
    RETURN pushsource_internal._cron_schedule('pushsource:materialize:' || p_view, p_schedule,
        pg_catalog.format('SELECT pushsource_internal._scheduled_materialize(%L)', p_view),
        pg_catalog.format('feature view "%s": batch_schedule', p_view));
END
$$;
COMMENT ON FUNCTION pushsource_internal._schedule_materialize(text, text) IS
  'internal: schedules job pushsource:materialize:<view>';

CREATE FUNCTION pushsource.fs_schedule_maintenance(schedule text DEFAULT '*/5 * * * *')
RETURNS bigint LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT pushsource_internal._cron_schedule('pushsource:maintenance', schedule,
                                      'SELECT pushsource_internal._scheduled_maintenance()', 'fs_schedule_maintenance')
$$;
COMMENT ON FUNCTION pushsource.fs_schedule_maintenance(text) IS
  'schedules the maintenance run (pg_cron job pushsource:maintenance); returns the cron job id';

------------------------------------------------------------------------
-- HTTP gateway: API keys and the endpoints' SQL functions (C)
------------------------------------------------------------------------

-- The role pushsource_gateway's login role belongs to: it may call
-- fs_gateway_request, which runs each request as its API key's role (the
-- login must also be a member of that role, as SET ROLE requires).
DO $gw$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pushsource_gateway') THEN
        CREATE ROLE pushsource_gateway NOLOGIN;
    END IF;
END
$gw$;
GRANT USAGE ON SCHEMA pushsource, pushsource_internal TO pushsource_gateway;

-- Keys are kept as their SHA-256 digest only; the role is a regrole so a
-- dump restores it by name.  Written only by fs_create_api_key and
-- fs_revoke_api_key (as the extension's owner).
CREATE SEQUENCE pushsource_internal.api_key_id_seq;
CREATE TABLE pushsource_internal.api_key_catalog (
    id          bigint PRIMARY KEY DEFAULT pg_catalog.nextval('pushsource_internal.api_key_id_seq'),
    role        regrole NOT NULL,
    role_name   name NOT NULL,      -- checked at each request: a new role reusing a dropped one's OID is not it
    description text NOT NULL DEFAULT '',
    key_prefix  text NOT NULL,
    key_hash    bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by  regrole NOT NULL,
    revoked_at  timestamptz
);
COMMENT ON TABLE pushsource_internal.api_key_catalog IS
  'API keys of the HTTP gateway: the SHA-256 of each key and the role it acts as';
CREATE TRIGGER catalog_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON pushsource_internal.api_key_catalog
    FOR EACH STATEMENT EXECUTE FUNCTION pushsource_internal._catalog_changed();
SELECT pg_catalog.pg_extension_config_dump('pushsource_internal.api_key_catalog', '');
SELECT pg_catalog.pg_extension_config_dump('pushsource_internal.api_key_id_seq', '');

CREATE VIEW pushsource.api_keys AS
    SELECT id, role, description, key_prefix, created_at, created_by, revoked_at,
           revoked_at IS NULL AS active
      FROM pushsource_internal.api_key_catalog;
COMMENT ON VIEW pushsource.api_keys IS
  'API keys of the HTTP gateway (without their digests): key_prefix is how a key starts';
GRANT SELECT ON pushsource.api_keys TO pushsource_admin;

CREATE FUNCTION pushsource.fs_create_api_key(role regrole, description text DEFAULT '')
RETURNS text LANGUAGE c CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'fs_create_api_key';
COMMENT ON FUNCTION pushsource.fs_create_api_key(regrole, text) IS
  'makes an API key for the HTTP gateway that acts as role; the key is shown once, only its SHA-256 is kept';

CREATE FUNCTION pushsource.fs_revoke_api_key(key_id bigint)
RETURNS boolean LANGUAGE c CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'fs_revoke_api_key';
COMMENT ON FUNCTION pushsource.fs_revoke_api_key(bigint) IS
  'revokes an API key (by its id in pushsource.api_keys): refused from its next request on';

CREATE FUNCTION pushsource.fs_tecton_get_features(request jsonb)
RETURNS jsonb LANGUAGE c CALLED ON NULL INPUT STABLE
AS 'MODULE_PATHNAME', 'fs_tecton_get_features';
COMMENT ON FUNCTION pushsource.fs_tecton_get_features(jsonb) IS
  'Tecton feature serving: a get-features request in ({"params": ...}), its reply out';

CREATE FUNCTION pushsource.fs_tecton_get_features_batch(request jsonb)
RETURNS jsonb LANGUAGE c CALLED ON NULL INPUT STABLE
AS 'MODULE_PATHNAME', 'fs_tecton_get_features_batch';
COMMENT ON FUNCTION pushsource.fs_tecton_get_features_batch(jsonb) IS
  'Tecton feature serving: a get-features-batch request in ({"params": {"request_data": [...]}}), its reply out';

CREATE FUNCTION pushsource.fs_feast_push(request jsonb)
RETURNS jsonb LANGUAGE c CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'fs_feast_push';
COMMENT ON FUNCTION pushsource.fs_feast_push(jsonb) IS
  'Feast feature server /push: {"push_source_name", "df": {column: [values]}, "to"} in, JSON null out';

CREATE FUNCTION pushsource.fs_feast_get_online_features(request jsonb)
RETURNS jsonb LANGUAGE c CALLED ON NULL INPUT STABLE
AS 'MODULE_PATHNAME', 'fs_feast_get_online_features';
COMMENT ON FUNCTION pushsource.fs_feast_get_online_features(jsonb) IS
  'Feast feature server /get-online-features: features or feature_service and entities in, columnar results out';

-- The body is text, parsed as JSON only once the key is known.
CREATE FUNCTION pushsource.fs_gateway_request(endpoint text, request text, api_key text,
    OUT status int, OUT body jsonb, OUT records bigint, OUT pushed text)
RETURNS record LANGUAGE c CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'fs_gateway_request';
COMMENT ON FUNCTION pushsource.fs_gateway_request(text, text, text) IS
  'the HTTP gateway''s call: runs one endpoint as the role of the API key, returns the HTTP status and body';

CREATE FUNCTION pushsource.fs_gateway_error(endpoint text, sqlstate text, message text,
    detail text DEFAULT NULL, hint text DEFAULT NULL, OUT status int, OUT body jsonb)
RETURNS record LANGUAGE c CALLED ON NULL INPUT IMMUTABLE
AS 'MODULE_PATHNAME', 'fs_gateway_error';
COMMENT ON FUNCTION pushsource.fs_gateway_error(text, text, text, text, text) IS
  'the HTTP status and error body (in the endpoint''s API shape) of an error a gateway request raised';


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

------------------------------------------------------------------------
-- Privileges
------------------------------------------------------------------------

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pushsource, pushsource_internal FROM PUBLIC;
REVOKE ALL ON ALL PROCEDURES IN SCHEMA pushsource FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE pushsource.fs_materialize_proc(text, timestamptz, timestamptz, interval) TO pushsource_admin;
GRANT EXECUTE ON FUNCTION pushsource_internal._check_name(text, text), pushsource_internal._kind(text),
    pushsource_internal._parse_schema(text), pushsource_internal._may_read_source(text),
    pushsource_internal._partitions(regclass), pushsource_internal._partition_start(interval, timestamptz),
    pushsource_internal._store_columns(text[], text, text[]), pushsource_internal._tecton_type(oid)
    TO pushsource_admin, pushsource_writer, pushsource_reader;
GRANT EXECUTE ON FUNCTION pushsource_internal._dependents(text),
    pushsource.fs_create_entity(text, text[], text, text, jsonb),
    pushsource.fs_create_push_source(text, text, text, boolean, regclass, text, text, jsonb, boolean, interval, interval, interval, boolean),
    pushsource.fs_create_feature_view(text, text, text[], text[], pushsource.aggregation[], interval, interval, boolean, boolean, timestamptz, text, text, text, jsonb, boolean, interval, interval),
    pushsource_internal._create_feature_view(text, text, text[], text[], pushsource.aggregation[], interval, interval, boolean, boolean, timestamptz, text, text, text, jsonb, boolean, interval, interval),
    pushsource.fs_create_feature_service(text, text[], text, text, jsonb),
    pushsource.fs_drop(text, boolean), pushsource.fs_set_prevent_destroy(text, boolean)
    TO pushsource_admin;
GRANT EXECUTE ON FUNCTION pushsource.fs_push(text, jsonb, text, boolean, text),
    pushsource.fs_ingest(jsonb) TO pushsource_writer, pushsource_admin;
GRANT EXECUTE ON FUNCTION pushsource.fs_get_historical_features(text, text[], text, boolean, boolean),
    pushsource.fs_historical_features_columns(text, text[], text, boolean, boolean),
    pushsource.fs_save_historical_features(text, text, text[], text, boolean, boolean),
    pushsource_internal._range_plan(text, timestamptz, timestamptz, jsonb, regclass),
    pushsource.fs_get_historical_features(text, timestamptz, timestamptz, jsonb),
    pushsource.fs_historical_features_columns(text, timestamptz, timestamptz, jsonb),
    pushsource_internal._run_plan(text, timestamptz, timestamptz, text, regclass),
    pushsource.fs_run(text, timestamptz, timestamptz, text, regclass), pushsource.fs_run_columns(text, text, regclass),
    pushsource.fs_run_stream(text, bigint, int),
    pushsource_internal._run_features(text, text[], timestamptz, timestamptz, interval, regclass),
    pushsource_internal._check_mock(text, regclass)
    TO pushsource_reader, pushsource_writer, pushsource_admin;
GRANT EXECUTE ON FUNCTION pushsource.fs_get_online_features(text, jsonb, boolean, boolean),
    pushsource.fs_summary(text), pushsource.fs_validate(text), pushsource_internal._table_problems(regclass, text, text, text[], text[]),
    pushsource.fs_get_columns(text),
    pushsource.fs_get_dataframe(text, timestamptz, timestamptz)
    TO pushsource_reader, pushsource_writer, pushsource_admin;
GRANT EXECUTE ON FUNCTION pushsource.fs_create_api_key(regrole, text),
    pushsource.fs_revoke_api_key(bigint) TO pushsource_admin;
GRANT EXECUTE ON FUNCTION pushsource.fs_feast_push(jsonb) TO pushsource_writer, pushsource_admin;
GRANT EXECUTE ON FUNCTION pushsource.fs_tecton_get_features(jsonb),
    pushsource.fs_tecton_get_features_batch(jsonb),
    pushsource.fs_feast_get_online_features(jsonb)
    TO pushsource_reader, pushsource_writer, pushsource_admin;
GRANT EXECUTE ON FUNCTION pushsource.fs_gateway_request(text, text, text),
    pushsource.fs_gateway_error(text, text, text, text, text) TO pushsource_gateway;
-- fs_partial: values in, values out
-- operations: admins run them (as themselves: they own the stores); anyone reads their status
-- counters: anyone of pushsource reads them; admins reset them
GRANT SELECT ON pushsource.stat_sources, pushsource.stat_feature_views
    TO pushsource_reader, pushsource_writer, pushsource_admin;
GRANT EXECUTE ON FUNCTION pushsource_internal._stat("char"), pushsource_internal._stat_dropped()
    TO pushsource_reader, pushsource_writer, pushsource_admin;
GRANT EXECUTE ON FUNCTION pushsource.fs_stat_reset(), pushsource_internal._stat_forget(text) TO pushsource_admin;
GRANT EXECUTE ON FUNCTION pushsource.fs_gateway_metrics() TO pushsource_gateway, pushsource_admin;
GRANT EXECUTE ON FUNCTION pushsource_internal._job_attempt(text, text, timestamptz),
    pushsource_internal._job_failed(text, text, timestamptz, timestamptz, text, text, boolean, timestamptz),
    pushsource_internal._reraise(text, text, text, text), pushsource_internal._key_set(text, jsonb),
    pushsource_internal._job(text, text, timestamptz, timestamptz, jsonb, boolean),
    pushsource_internal._view_for(text, text), pushsource_internal._source_for(text, text),
    pushsource_internal._delete_keys(text, jsonb, boolean, boolean),
    pushsource_internal._publish_deletion(text, text, jsonb, boolean, boolean),
    pushsource_internal._prune_online(text, timestamptz),
    pushsource.fs_delete_keys(text, jsonb, boolean, boolean),
    pushsource_internal._materialize(text, timestamptz, timestamptz),
    pushsource_internal._backfill(text, timestamptz, timestamptz),
    pushsource_internal._check_materialize(text, text, timestamptz, timestamptz),
    pushsource_internal._check_batch_table(text, regclass, regclass, text[]),
    pushsource_internal._backfill_table(pushsource_internal.source_catalog),
    pushsource.fs_materialize(text, timestamptz, timestamptz),
    pushsource_internal._materialize_windows(text, timestamptz, timestamptz, interval),
    pushsource_internal._check_can_commit(text),
    pushsource_internal._materialize_window(text, int, int, timestamptz, timestamptz, bigint, bigint),
    pushsource_internal._materialize_next_start(text), pushsource_internal._materialize_incremental(text, timestamptz, boolean),
    pushsource.fs_materialize_incremental(text, timestamptz),
    pushsource_internal._now(), pushsource_internal._retention(text, interval), pushsource_internal._maintain(),
    pushsource_internal._maintain_history(timestamptz), pushsource_internal._partitions_for(text, timestamptz, timestamptz),
    pushsource.fs_run_maintenance(),
    pushsource_internal._cron_check(text), pushsource_internal._cron_schedule(text, text, text, text),
    pushsource_internal._cron_unschedule(text), pushsource_internal._unschedule_all(),
    pushsource_internal._scheduled_materialize(text), pushsource_internal._scheduled_maintenance(),
    pushsource_internal._schedule_materialize(text, text), pushsource.fs_schedule_maintenance(text)
    TO pushsource_admin;
-- the key parser of fs_get_historical_features(view, ..., entities) too
GRANT EXECUTE ON FUNCTION pushsource_internal._key_set(text, jsonb) TO pushsource_reader, pushsource_writer;
GRANT EXECUTE ON FUNCTION pushsource_internal._jobs(text, text, boolean, boolean, int, text),
    pushsource.fs_deletion_status(text, boolean, boolean, int, text),
    pushsource.fs_materialization_status(text, boolean, boolean, int, text)
    TO pushsource_reader, pushsource_writer, pushsource_admin;
GRANT EXECUTE ON FUNCTION pushsource.fs_partial_in(cstring), pushsource.fs_partial_out(pushsource.fs_partial),
    pushsource.fs_partial_recv(internal), pushsource.fs_partial_send(pushsource.fs_partial),
    pushsource.fs_partial_combine(pushsource.fs_partial, pushsource.fs_partial),
    pushsource.fs_partial_final(pushsource.fs_partial, anyelement),
    pushsource_internal._partial_agg_add(internal, text, anyelement, timestamptz, bigint),
    pushsource_internal._partial_merge_add(internal, pushsource.fs_partial),
    pushsource_internal._partial_agg_final(internal),
    pushsource.fs_partial_agg(text, anyelement, timestamptz, bigint),
    pushsource.fs_partial_merge(pushsource.fs_partial)
    TO pushsource_reader, pushsource_writer, pushsource_admin;
-- aggregate views: declaring, describing, and the fan-out (which runs as the stores' owner)
GRANT EXECUTE ON FUNCTION pushsource.fs_agg(text, text, interval, text),
    pushsource_internal._agg_result_type(text, regtype), pushsource_internal._agg_name_part(text)
    TO pushsource_reader, pushsource_writer, pushsource_admin;
GRANT EXECUTE ON FUNCTION pushsource_internal._resolve_aggregations(text, regclass, pushsource.aggregation[], interval),
    pushsource_internal._tile_agg_add(internal, text, timestamptz, bigint, VARIADIC "any"),
    pushsource_internal._tile_agg_final(internal),
    pushsource_internal._tile_agg(text, timestamptz, bigint, VARIADIC "any"),
    pushsource_internal._block_part(bytea, int),
    pushsource_internal._tile_totals_merge(bytea, bytea), pushsource_internal._tiles_merge(bytea, bytea)
    TO pushsource_admin;
-- fs_run's tiles align with it, for whoever may run fs_run
GRANT EXECUTE ON FUNCTION pushsource_internal._tile_block(timestamptz, bigint)
    TO pushsource_reader, pushsource_writer, pushsource_admin;
