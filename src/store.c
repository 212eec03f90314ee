/*
 * store.c
 *		The store layer: the layout of the stores (a view's online, offline,
 *		tile and event tables) as the statements over them spell it, and the
 *		statements themselves.  The fan-out (fanout.c) has its offline
 *		append and online upsert made here; the aggregate fan-out
 *		(aggregation.c) builds its statements from the same column lists.
 *		Backfill (backfill.c) reads batch rows and clears its earlier
 *		writes with statements made here, and writes through the fan-out.
 */
#include "pushsource.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

/*
 * Is value column i of v a column of its own in the stores?  A view may
 * aggregate its join key or its event time (count of user_id): the stores
 * keep such a column once, as the key or the time (as
 * pushsource_internal._store_columns lays the tables out).
 */
bool
ps_store_value_apart(PsView *v, int i)
{
	int			col = v->feature_cols[i];

	if (col == v->source->ts_col)
		return false;
	for (int k = 0; k < v->nkeys; k++)
		if (v->key_cols[k] == col)
			return false;
	return true;
}

/* "k1, k2, ts, f1, f2, _fs_ingest_id" with an optional prefix per name */
void
ps_append_store_columns(StringInfo buf, PsView *v, const char *prefix)
{
	PsSource   *src = v->source;

	for (int i = 0; i < v->nkeys; i++)
		appendStringInfo(buf, "%s%s, ", prefix, quote_identifier(src->cols[v->key_cols[i]].name));
	appendStringInfo(buf, "%s%s", prefix, quote_identifier(src->cols[src->ts_col].name));
	for (int i = 0; i < v->nfeatures; i++)
		if (ps_store_value_apart(v, i))
			appendStringInfo(buf, ", %s%s", prefix, quote_identifier(src->cols[v->feature_cols[i]].name));
	appendStringInfo(buf, ", %s%s", prefix, PS_INGEST_COL);
}

SPIPlanPtr
ps_prepare_fanout(const char *sql, PsView *v)
{
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	SPIPlanPtr	plan = SPI_prepare(sql, v->has_start_time ? 1 : 0, argtypes);

	if (plan == NULL)
		elog(ERROR, "pushsource: could not prepare fan-out for feature view \"%s\": %s",
			 v->name, SPI_result_code_string(SPI_result));
	ps_keep_plan(plan);
	return plan;
}

/* Append the batch's rows (from feature_start_time on) to relid, a store of v's. */
static SPIPlanPtr
batch_append_plan(PsView *v, Oid relid)
{
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfo(&sql, "INSERT INTO %s (", ps_qualified_relname(relid));
	ps_append_store_columns(&sql, v, "");
	appendStringInfoString(&sql, ") SELECT ");
	ps_append_store_columns(&sql, v, "");
	appendStringInfoString(&sql, " FROM " PS_BATCH_ENR);
	if (v->has_start_time)
		appendStringInfo(&sql, " WHERE %s OPERATOR(pg_catalog.>=) $1",
						 quote_identifier(v->source->cols[v->source->ts_col].name));
	return ps_prepare_fanout(sql.data, v);
}

/*
 * A view's fan-out statements over the statement's batch (PS_BATCH_ENR):
 * the append to its offline store, and the newest-wins upsert into its
 * online store -- the newest row per key by (event time, ingest order),
 * replacing the stored one only if that is older, so concurrent pushes end
 * with the newest event whatever the commit order.  Prepared once per
 * catalog generation.  (Aggregate views' online state is aggregation.c's.)
 */
void
ps_store_prepare_view(PsView *v)
{
	PsSource   *src = v->source;
	const char *ts = quote_identifier(src->cols[src->ts_col].name);
	StringInfoData sql;

	if (v->offline && v->offline_plan == NULL)
		v->offline_plan = batch_append_plan(v, v->offline_relid);
	if (v->online && v->online_plan == NULL && v->naggs == 0)
	{
		initStringInfo(&sql);
		appendStringInfo(&sql, "INSERT INTO %s AS t (", ps_qualified_relname(v->online_relid));
		ps_append_store_columns(&sql, v, "");
		appendStringInfoString(&sql, ") SELECT ");
		if (v->nkeys > 0)
		{
			appendStringInfoString(&sql, "DISTINCT ON (");
			for (int i = 0; i < v->nkeys; i++)
				appendStringInfo(&sql, "%s%s", i ? ", " : "",
								 quote_identifier(src->cols[v->key_cols[i]].name));
			appendStringInfoString(&sql, ") ");
		}
		ps_append_store_columns(&sql, v, "");
		appendStringInfoString(&sql, " FROM " PS_BATCH_ENR);
		if (v->has_start_time)
			appendStringInfo(&sql, " WHERE %s OPERATOR(pg_catalog.>=) $1", ts);
		appendStringInfoString(&sql, " ORDER BY ");
		for (int i = 0; i < v->nkeys; i++)
			appendStringInfo(&sql, "%s, ", quote_identifier(src->cols[v->key_cols[i]].name));
		appendStringInfo(&sql, "%s DESC, " PS_INGEST_COL " DESC", ts);
		if (v->nkeys == 0)
			appendStringInfoString(&sql, " LIMIT 1 ON CONFLICT (_fs_singleton)");
		else
		{
			appendStringInfoString(&sql, " ON CONFLICT (");
			for (int i = 0; i < v->nkeys; i++)
				appendStringInfo(&sql, "%s%s", i ? ", " : "",
								 quote_identifier(src->cols[v->key_cols[i]].name));
			appendStringInfoChar(&sql, ')');
		}
		appendStringInfo(&sql, " DO UPDATE SET %s = excluded.%s", ts, ts);
		for (int i = 0; i < v->nfeatures; i++)
		{
			const char *f = quote_identifier(src->cols[v->feature_cols[i]].name);

			if (ps_store_value_apart(v, i))
				appendStringInfo(&sql, ", %s = excluded.%s", f, f);
		}
		appendStringInfo(&sql, ", " PS_INGEST_COL " = excluded." PS_INGEST_COL
						 " WHERE (t.%s, t." PS_INGEST_COL ") OPERATOR(pg_catalog.<)"
						 " (excluded.%s, excluded." PS_INGEST_COL ")", ts, ts);
		v->online_plan = ps_prepare_fanout(sql.data, v);

		/*
		 * How many keys that upsert considers (one row per key, from
		 * feature_start_time on): the rows it did not write were older
		 * than the stored ones (stat_feature_views.late_ignored).
		 */
		resetStringInfo(&sql);
		appendStringInfoString(&sql, "SELECT pg_catalog.count(*) FROM (SELECT DISTINCT ");
		for (int i = 0; i < v->nkeys; i++)
			appendStringInfo(&sql, "%s%s", i ? ", " : "",
							 quote_identifier(src->cols[v->key_cols[i]].name));
		if (v->nkeys == 0)
			appendStringInfoString(&sql, "1");
		appendStringInfoString(&sql, " FROM " PS_BATCH_ENR);
		if (v->has_start_time)
			appendStringInfo(&sql, " WHERE %s OPERATOR(pg_catalog.>=) $1", ts);
		appendStringInfoString(&sql, ") d");
		v->online_keys_plan = ps_prepare_fanout(sql.data, v);
	}
}

/* ---------------------------------------------------------------------
 * Aggregate views' online state: tile blocks, or the raw events
 * (aggregation.c says what they mean; here is how they are written and read)
 * --------------------------------------------------------------------- */

static const char *
colname(PsView *v, int col)
{
	return quote_identifier(v->source->cols[col].name);
}

static void
append_keys(StringInfo sql, PsView *v, const char *prefix, bool trailing_comma)
{
	for (int i = 0; i < v->nkeys; i++)
		appendStringInfo(sql, "%s%s%s", prefix, colname(v, v->key_cols[i]),
						 trailing_comma || i < v->nkeys - 1 ? ", " : "");
}

/*
 * INSERT of the blocks of the events of "from" (a relation or a
 * parenthesized query with the store's columns) into the tiles.  Groups by
 * position: a source column may be named like any alias.  Blocks are
 * written in the primary key's order: the index is then written page after
 * page.  batch: the rows are a backfill's (_fs_batch), kept apart from
 * the pushed ones so that a later fs_materialize can replace them.
 */
static void
append_tiles_insert(StringInfo sql, PsView *v, const char *from, bool batch, bool start_filter)
{
	const char *ts = colname(v, v->source->ts_col);
	const char *nsp = ps_internal_schema();

	appendStringInfo(sql, "INSERT INTO %s AS t (", ps_qualified_relname(v->online_relid));
	append_keys(sql, v, "", true);
	appendStringInfo(sql, "block_start, totals, tiles%s) SELECT ", batch ? ", _fs_batch" : "");
	append_keys(sql, v, "s.", true);
	appendStringInfo(sql, "s._fs_block, %s._block_part(s._fs_tiles, 0),"
					 " %s._block_part(s._fs_tiles, 1)%s FROM (SELECT ", nsp, nsp, batch ? ", true" : "");
	append_keys(sql, v, "", true);
	appendStringInfo(sql, "%s._tile_block(%s, " INT64_FORMAT ") AS _fs_block, %s._tile_agg('" INT64_FORMAT,
					 nsp, ts, v->agg_interval * TILES_PER_BLOCK, nsp, v->agg_interval);
	for (int s = 0; s < v->nslots; s++)
		appendStringInfo(sql, " %s", ps_agg_spec(v->slots[s].fn, v->slots[s].n));
	appendStringInfo(sql, "', %s, " PS_INGEST_COL, ts);
	for (int s = 0; s < v->nslots; s++)
		appendStringInfo(sql, ", %s", colname(v, v->slots[s].col));
	appendStringInfo(sql, ") AS _fs_tiles FROM %s _fs_e WHERE pg_catalog.isfinite(%s)", from, ts);
	if (v->has_start_time && start_filter)
		appendStringInfo(sql, " AND %s OPERATOR(pg_catalog.>=) $1", ts);
	appendStringInfoString(sql, " GROUP BY ");
	for (int i = 0; i <= v->nkeys; i++)
		appendStringInfo(sql, "%s%d", i ? ", " : "", i + 1);
	appendStringInfoString(sql, ") s ORDER BY ");
	for (int i = 0; i <= v->nkeys; i++)
		appendStringInfo(sql, "%s%d", i ? ", " : "", i + 1);
}

/*
 * The statement that upserts a batch's blocks into the tiles: a push's,
 * or a backfill's (kept apart, _fs_batch).  A block already there is
 * merged with the batch's, tile by tile.
 */
SPIPlanPtr
ps_store_tiles_plan(PsView *v, bool backfill)
{
	StringInfoData sql;

	initStringInfo(&sql);
	append_tiles_insert(&sql, v, PS_BATCH_ENR, backfill, true);
	appendStringInfoString(&sql, " ON CONFLICT (");
	append_keys(&sql, v, "", true);
	appendStringInfo(&sql, "block_start, _fs_batch) DO UPDATE SET"
					 " totals = %1$s._tile_totals_merge(t.totals, excluded.totals),"
					 " tiles = %1$s._tiles_merge(t.tiles, excluded.tiles)", ps_internal_schema());
	return ps_prepare_fanout(sql.data, v);
}

/*
 * _tiles_insert_sql(view, from): the tile INSERT of the PL/pgSQL backfill
 * of SQL versions 0.1 to 0.3, from "from", a parenthesized query that
 * applies feature_start_time itself.  Kept so that a database keeps
 * backfilling until ALTER EXTENSION pushsource UPDATE; since 0.4 a
 * backfill goes through the fan-out (backfill.c).
 */
PG_FUNCTION_INFO_V1(fs_tiles_insert_sql);
Datum
fs_tiles_insert_sql(PG_FUNCTION_ARGS)
{
	PsView	   *v = ps_lookup_view(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	StringInfoData sql;

	if (v->naggs == 0 || v->agg_interval == 0 || !OidIsValid(v->online_relid))
		ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
						errmsg("_tiles_insert_sql: feature view \"%s\" has no tiles", v->name)));
	initStringInfo(&sql);
	append_tiles_insert(&sql, v, text_to_cstring(PG_GETARG_TEXT_PP(1)), true, false);
	PG_RETURN_TEXT_P(cstring_to_text(sql.data));
}

/* Continuous mode: the batch's events, as the offline store takes them. */
SPIPlanPtr
ps_store_events_plan(PsView *v)
{
	return batch_append_plan(v, v->online_relid);
}

/*
 * Continuous mode: per pushed key, the events no window sees at any request
 * time at or after min(the key's newest pushed event, now()).
 */
SPIPlanPtr
ps_store_prune_plan(PsView *v)
{
	StringInfoData sql;
	const char *ts = colname(v, v->source->ts_col);

	initStringInfo(&sql);
	appendStringInfo(&sql, "DELETE FROM %s e USING (SELECT ", ps_qualified_relname(v->online_relid));
	append_keys(&sql, v, "", true);
	appendStringInfo(&sql, "pg_catalog.max(%s) AS m FROM " PS_BATCH_ENR, ts);
	if (v->nkeys > 0)
	{
		appendStringInfoString(&sql, " GROUP BY ");
		append_keys(&sql, v, "", false);
	}
	appendStringInfoString(&sql, ") b WHERE ");
	for (int i = 0; i < v->nkeys; i++)
		appendStringInfo(&sql, "e.%s OPERATOR(pg_catalog.=) b.%s AND ",
						 colname(v, v->key_cols[i]), colname(v, v->key_cols[i]));
	appendStringInfo(&sql, "e.%s OPERATOR(pg_catalog.<=) (LEAST(b.m, pg_catalog.now())"
					 " OPERATOR(pg_catalog.-) pg_catalog.make_interval(secs => " INT64_FORMAT "))",
					 ts, v->max_window / USECS_PER_SEC);
	return ps_prepare_fanout(sql.data, v);
}

SPIPlanPtr
ps_store_agg_read_plan(PsView *v)
{
	StringInfoData sql;
	Oid		   *argtypes = palloc(sizeof(Oid) * (v->nkeys + 3));
	int			nargs = v->nkeys + 2;
	SPIPlanPtr	plan;
	const char *ts = colname(v, v->source->ts_col);

	if (v->read_plan != NULL)
		return v->read_plan;
	initStringInfo(&sql);
	if (v->agg_interval > 0)
	{
		appendStringInfo(&sql, "SELECT block_start, totals, CASE WHEN block_start OPERATOR(pg_catalog.=) ANY ($%d)"
						 " THEN tiles END FROM %s WHERE block_start OPERATOR(pg_catalog.>=) $%d"
						 " AND block_start OPERATOR(pg_catalog.<) $%d",
						 v->nkeys + 3, ps_qualified_relname(v->online_relid), v->nkeys + 1, v->nkeys + 2);
		argtypes[v->nkeys + 2] = TIMESTAMPTZARRAYOID;
		nargs++;
	}
	else
	{
		appendStringInfo(&sql, "SELECT %s, " PS_INGEST_COL, ts);
		for (int f = 0; f < v->nfeatures; f++)
			appendStringInfo(&sql, ", %s", colname(v, v->feature_cols[f]));
		appendStringInfo(&sql, " FROM %s WHERE %s OPERATOR(pg_catalog.>) $%d AND %s OPERATOR(pg_catalog.<=) $%d",
						 ps_qualified_relname(v->online_relid), ts, v->nkeys + 1, ts, v->nkeys + 2);
	}
	for (int i = 0; i < v->nkeys; i++)
	{
		appendStringInfo(&sql, " AND %s OPERATOR(pg_catalog.=) $%d", colname(v, v->key_cols[i]), i + 1);
		argtypes[i] = v->source->cols[v->key_cols[i]].type->typid;
	}
	argtypes[v->nkeys] = TIMESTAMPTZOID;
	argtypes[v->nkeys + 1] = TIMESTAMPTZOID;
	plan = SPI_prepare(sql.data, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "pushsource: could not prepare the online read of feature view \"%s\": %s",
			 v->name, SPI_result_code_string(SPI_result));
	ps_keep_plan(plan);
	v->read_plan = plan;
	return plan;
}

/* ---------------------------------------------------------------------
 * Backfill (backfill.c orchestrates; here is what it reads and clears)
 * --------------------------------------------------------------------- */

/* The store a batch row's pushed twin would be in, if any. */
static Oid
pushed_store(PsView *v)
{
	if (OidIsValid(v->offline_relid))
		return v->offline_relid;
	if (OidIsValid(v->online_relid) && v->naggs > 0 && v->agg_interval == 0)
		return v->online_relid;
	return InvalidOid;
}

/*
 * The batch table's rows with event times in [$1, $2) and in $3 (a
 * tstzmultirange: the windows backfilled so far), as the push schema's
 * columns in order, followed by whether the same event (join keys and
 * time) was pushed to the view (then the batch row is not added again)
 * and by the row's ctid, which names it in error reports.  dedupe false
 * (a backfill from the source's own log, which rebuilds its window whole):
 * every row is read as not pushed.
 */
char *
ps_store_backfill_reader(PsView *v, Oid batch_relid, bool dedupe)
{
	PsSource   *src = v->source;
	const char *ts = colname(v, src->ts_col);
	Oid			store = dedupe ? pushed_store(v) : InvalidOid;
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (int i = 0; i < src->ncols; i++)
		appendStringInfo(&sql, "b.%s, ", quote_identifier(src->cols[i].name));
	appendStringInfo(&sql, "%s, b.ctid FROM %s b",
					 OidIsValid(store) ? "p._fs_pushed IS NOT NULL" : "false",
					 ps_qualified_relname(batch_relid));
	if (OidIsValid(store))
	{
		/*
		 * A join, not a correlated EXISTS per row: the planner can hash the
		 * window's pushed events once (an offline store has no index).
		 */
		appendStringInfoString(&sql, " LEFT JOIN (SELECT DISTINCT ");
		append_keys(&sql, v, "o.", true);
		appendStringInfo(&sql, "o.%s, true AS _fs_pushed FROM %s o WHERE o." PS_INGEST_COL
						 " OPERATOR(pg_catalog.>) 0 AND o.%s OPERATOR(pg_catalog.>=) $1"
						 " AND o.%s OPERATOR(pg_catalog.<) $2) p ON ",
						 ts, ps_qualified_relname(store), ts, ts);
		for (int i = 0; i < v->nkeys; i++)
			appendStringInfo(&sql, "p.%s OPERATOR(pg_catalog.=) b.%s AND ",
							 colname(v, v->key_cols[i]), colname(v, v->key_cols[i]));
		appendStringInfo(&sql, "p.%s OPERATOR(pg_catalog.=) b.%s", ts, ts);
	}
	appendStringInfo(&sql, " WHERE b.%s OPERATOR(pg_catalog.>=) $1 AND b.%s OPERATOR(pg_catalog.<) $2"
					 " AND $3 OPERATOR(pg_catalog.@>) b.%s", ts, ts, ts);
	return sql.data;
}

/*
 * Before a backfill of [start, end): the rows an earlier backfill of the
 * window wrote (pushed rows stay), and, for tiles, the backfilled blocks
 * of [block_lo, block_hi), which the backfill rebuilds whole.  all: the
 * pushed rows and blocks too (a backfill from the log rebuilds them).  An
 * attribute view's online rows stay: the newest event still wins.
 */
void
ps_store_clear_backfill(PsView *v, TimestampTz start, TimestampTz end,
						TimestampTz block_lo, TimestampTz block_hi, bool all)
{
	const char *ts = colname(v, v->source->ts_col);
	Oid			argtypes[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		window[2] = {TimestampTzGetDatum(start), TimestampTzGetDatum(end)};
	Datum		blocks[2] = {TimestampTzGetDatum(block_lo), TimestampTzGetDatum(block_hi)};
	Oid			rels[2];
	int			n = 0;

	if (OidIsValid(v->offline_relid))
		rels[n++] = v->offline_relid;
	if (OidIsValid(v->online_relid) && v->naggs > 0 && v->agg_interval == 0)
		rels[n++] = v->online_relid;
	for (int i = 0; i < n; i++)
	{
		char	   *sql = psprintf("DELETE FROM %s WHERE %s OPERATOR(pg_catalog.>=) $1"
								   " AND %s OPERATOR(pg_catalog.<) $2%s",
								   ps_qualified_relname(rels[i]), ts, ts,
								   all ? "" : " AND " PS_INGEST_COL " OPERATOR(pg_catalog.<) 0");

		if (SPI_execute_with_args(sql, 2, argtypes, window, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "pushsource: clearing the backfill of feature view \"%s\" failed", v->name);
	}
	if (OidIsValid(v->online_relid) && v->naggs > 0 && v->agg_interval > 0)
	{
		char	   *sql = psprintf("DELETE FROM %s WHERE %sblock_start OPERATOR(pg_catalog.>=) $1"
								   " AND block_start OPERATOR(pg_catalog.<) $2",
								   ps_qualified_relname(v->online_relid), all ? "" : "_fs_batch AND ");

		if (SPI_execute_with_args(sql, 2, argtypes, blocks, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "pushsource: clearing the backfilled tiles of feature view \"%s\" failed", v->name);
	}
}

/* ---------------------------------------------------------------------
 * Deletion of keys, and pruning of what no read can see
 * --------------------------------------------------------------------- */

/*
 * fs_delete_keys's one statement: the keys ($1, a jsonb array of join-key
 * objects; $2 the view's name) checked once by _key_set into a hashed set
 * that each store's DELETE joins.  Returns the keys and the rows deleted
 * from the online store, the offline store and the source's log.  The log
 * is shared by every view of the source: only a source-level delete (v is
 * then the source's key set, without stores) deletes from it.
 */
char *
ps_store_delete_keys_sql(PsView *v, bool online, bool offline, bool log)
{
	PsSource   *src = v->source;
	StringInfoData sql;
	StringInfoData cond;
	Oid			rels[3];
	const char *names[3] = {"d_online", "d_offline", "d_log"};

	initStringInfo(&cond);
	if (v->nkeys == 0)
		appendStringInfoString(&cond, "true");
	for (int i = 0; i < v->nkeys; i++)
		appendStringInfo(&cond, "%ss.%s OPERATOR(pg_catalog.=) k.%s", i ? " AND " : "",
						 colname(v, v->key_cols[i]), colname(v, v->key_cols[i]));

	initStringInfo(&sql);
	appendStringInfoString(&sql, "WITH k AS MATERIALIZED (");
	if (v->nkeys == 0)
		appendStringInfoString(&sql, "SELECT WHERE pg_catalog.jsonb_array_length($1) OPERATOR(pg_catalog.>) 0");
	else
	{
		appendStringInfo(&sql, "SELECT DISTINCT * FROM %s._key_set($2, $1) AS k(", ps_internal_schema());
		for (int i = 0; i < v->nkeys; i++)
		{
			PsTypeSpec *t = src->cols[v->key_cols[i]].type;

			appendStringInfo(&sql, "%s%s %s", i ? ", " : "", colname(v, v->key_cols[i]),
							 format_type_with_typemod(t->typid, t->typmod));
		}
		appendStringInfoChar(&sql, ')');
	}
	appendStringInfoChar(&sql, ')');
	rels[0] = online ? v->online_relid : InvalidOid;
	rels[1] = offline ? v->offline_relid : InvalidOid;
	rels[2] = log ? src->relid : InvalidOid;
	for (int i = 0; i < 3; i++)
	{
		if (OidIsValid(rels[i]))
			appendStringInfo(&sql, ", %s AS (DELETE FROM %s s USING k WHERE %s RETURNING 1)",
							 names[i], ps_qualified_relname(rels[i]), cond.data);
		else
			appendStringInfo(&sql, ", %s AS (SELECT 1 WHERE false)", names[i]);
	}
	appendStringInfoString(&sql, " SELECT (SELECT pg_catalog.count(*) FROM k),"
						   " (SELECT pg_catalog.count(*) FROM d_online),"
						   " (SELECT pg_catalog.count(*) FROM d_offline),"
						   " (SELECT pg_catalog.count(*) FROM d_log)");
	return sql.data;
}

/*
 * _prune_online(view, now): deletes from a view's online store what no
 * read at or after now can see: an attribute view's rows older than its
 * ttl (they would be served as OUTSIDE_TTL), tile blocks that end before
 * the longest window of the current tile starts, continuous-mode events
 * out of the longest window (now - W, now].  Returns the rows deleted.
 */
PG_FUNCTION_INFO_V1(fs_prune_online);
Datum
fs_prune_online(PG_FUNCTION_ARGS)
{
	PsView	   *v = ps_lookup_view(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	TimestampTz now = PG_GETARG_TIMESTAMPTZ(1);
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	Datum		args[1];
	const char *ts;
	char	   *sql;
	int			spi_nest;
	uint64		n;

	if (TIMESTAMP_NOT_FINITE(now))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("_prune_online(\"%s\"): the time must be finite", v->name)));
	if (!OidIsValid(v->online_relid) || (v->naggs == 0 && !v->has_ttl))
		PG_RETURN_INT64(0);
	if (v->problem != NULL)
	{
		/* one broken view does not stop the maintenance of the others */
		ereport(WARNING,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("maintenance skips feature view \"%s\": %s", v->name, v->problem),
				 errhint("SELECT pushsource.fs_validate('%s') lists its problems.", v->name)));
		PG_RETURN_INT64(0);
	}
	ts = colname(v, v->source->ts_col);
	if (v->naggs == 0)
	{
		args[0] = DirectFunctionCall2(timestamptz_mi_interval, TimestampTzGetDatum(now),
									  IntervalPGetDatum(&v->ttl));
		sql = psprintf("DELETE FROM %s WHERE %s OPERATOR(pg_catalog.<) $1",
					   ps_qualified_relname(v->online_relid), ts);
	}
	else if (v->agg_interval > 0)
	{
		/* a block ends before F - W when it starts at or before F - W - block */
		args[0] = TimestampTzGetDatum(ps_floor_to(now, v->agg_interval) - v->max_window -
									  v->agg_interval * TILES_PER_BLOCK);
		sql = psprintf("DELETE FROM %s WHERE block_start OPERATOR(pg_catalog.<=) $1",
					   ps_qualified_relname(v->online_relid));
	}
	else
	{
		args[0] = TimestampTzGetDatum(now - v->max_window);
		sql = psprintf("DELETE FROM %s WHERE %s OPERATOR(pg_catalog.<=) $1",
					   ps_qualified_relname(v->online_relid), ts);
	}
	spi_nest = ps_spi_connect();
	if (SPI_execute_with_args(sql, 1, argtypes, args, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "pushsource: pruning the online store of feature view \"%s\" failed", v->name);
	n = SPI_processed;
	ps_spi_finish(spi_nest);
	PG_RETURN_INT64((int64) n);
}

/* ---------------------------------------------------------------------
 * Reads: an attribute view's online row, and the history the
 * point-in-time join reads
 * --------------------------------------------------------------------- */

/*
 * The online read of an attribute view by its join keys ($1..$n, of the
 * types *argtypes): the event time, and the features as one jsonb object
 * named "view.feature" (jsonb_build_object takes at most 50 pairs, so
 * chunks are concatenated).
 */
char *
ps_store_online_read_sql(PsView *v, Oid **argtypes)
{
	PsSource   *src = v->source;
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT %s, ", quote_identifier(src->cols[src->ts_col].name));
	if (v->nfeatures == 0)
		appendStringInfoString(&sql, "'{}'::pg_catalog.jsonb");
	/* jsonb_build_object takes at most 50 pairs: concatenate chunks */
	for (int i = 0; i < v->nfeatures; i += 50)
	{
		if (i > 0)
			appendStringInfoString(&sql, " OPERATOR(pg_catalog.||) ");
		appendStringInfoString(&sql, "pg_catalog.jsonb_build_object(");
		for (int j = i; j < v->nfeatures && j < i + 50; j++)
		{
			const char *f = src->cols[v->feature_cols[j]].name;

			appendStringInfo(&sql, "%s%s, %s", j > i ? ", " : "",
							 quote_literal_cstr(psprintf("%s.%s", v->name, f)),
							 quote_identifier(f));
		}
		appendStringInfoChar(&sql, ')');
	}
	appendStringInfo(&sql, " FROM %s", ps_qualified_relname(v->online_relid));
	*argtypes = palloc(sizeof(Oid) * Max(v->nkeys, 1));
	for (int i = 0; i < v->nkeys; i++)
	{
		PsColumn   *c = &src->cols[v->key_cols[i]];

		(*argtypes)[i] = c->type->typid;
		appendStringInfo(&sql, "%s %s OPERATOR(pg_catalog.=) $%d",
						 i == 0 ? " WHERE" : " AND", quote_identifier(c->name), i + 1);
	}
	return sql.data;
}

/*
 * The rows of history a view contributes to a point-in-time join: join
 * keys, event time, ingest order (the source log has none: its ctid, the
 * insertion order of an append-only table, breaks ties of equal times),
 * and the columns cols, read from relid: the view's offline store, or
 * (from_source) a table with the source's columns, its log or fs_run's
 * mock.  $1: the latest time wanted; $2 (bounded_below): the earliest;
 * $3 (from_source, a view with feature_start_time): that.
 */
char *
ps_store_history_sql(PsView *v, Oid relid, bool from_source, bool bounded_below, int ncols, const int *cols)
{
	PsSource   *src = v->source;
	const char *ts = quote_identifier(src->cols[src->ts_col].name);
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (int k = 0; k < v->nkeys; k++)
		appendStringInfo(&sql, "%s, ", quote_identifier(src->cols[v->key_cols[k]].name));
	appendStringInfo(&sql, "%s, %s", ts, from_source ? "ctid" : PS_INGEST_COL);
	for (int f = 0; f < ncols; f++)
		appendStringInfo(&sql, ", %s", quote_identifier(src->cols[cols[f]].name));
	appendStringInfo(&sql, " FROM %s WHERE %s OPERATOR(pg_catalog.<=) $1",
					 ps_qualified_relname(relid), ts);
	if (from_source && v->has_start_time)
		appendStringInfo(&sql, " AND %s OPERATOR(pg_catalog.>=) $3", ts);
	for (int k = 0; k < v->nkeys; k++)
		appendStringInfo(&sql, " AND %s IS NOT NULL", quote_identifier(src->cols[v->key_cols[k]].name));
	if (bounded_below)
		appendStringInfo(&sql, " AND %s OPERATOR(pg_catalog.>=) $2", ts);
	return sql.data;
}
