/*
 * store.c
 *		The store layer: the layout of the stores (a view's online, offline,
 *		tile and event tables) as the statements over them spell it, and the
 *		statements themselves.  The fan-out (fanout.c) has its offline
 *		append and online upsert made here; the aggregate fan-out
 *		(aggregation.c) builds its statements from the same column lists.
 *		(Issue 18 moves the rest of the store SQL here, piece by piece:
 *		tiles and events, pruning, deletion of keys.)
 */
#include "pushsource.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

/* "k1, k2, ts, f1, f2, _fs_ingest_id" with an optional prefix per name */
void
ps_append_store_columns(StringInfo buf, PsView *v, const char *prefix)
{
	PsSource   *src = v->source;

	for (int i = 0; i < v->nkeys; i++)
		appendStringInfo(buf, "%s%s, ", prefix, quote_identifier(src->cols[v->key_cols[i]].name));
	appendStringInfo(buf, "%s%s", prefix, quote_identifier(src->cols[src->ts_col].name));
	for (int i = 0; i < v->nfeatures; i++)
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

			appendStringInfo(&sql, ", %s = excluded.%s", f, f);
		}
		appendStringInfo(&sql, ", " PS_INGEST_COL " = excluded." PS_INGEST_COL
						 " WHERE (t.%s, t." PS_INGEST_COL ") OPERATOR(pg_catalog.<)"
						 " (excluded.%s, excluded." PS_INGEST_COL ")", ts, ts);
		v->online_plan = ps_prepare_fanout(sql.data, v);
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
 * page.  batch: the rows are the backfill's (_fs_batch), kept apart from
 * the pushed ones so that fs_materialize can replace them.
 */
static void
append_tiles_insert(StringInfo sql, PsView *v, const char *from, bool batch)
{
	const char *ts = colname(v, v->source->ts_col);

	appendStringInfo(sql, "INSERT INTO %s AS t (", ps_qualified_relname(v->online_relid));
	append_keys(sql, v, "", true);
	appendStringInfo(sql, "block_start, totals, tiles%s) SELECT ", batch ? ", _fs_batch" : "");
	append_keys(sql, v, "s.", true);
	appendStringInfo(sql, "s._fs_block, pushsource._block_part(s._fs_tiles, 0),"
					 " pushsource._block_part(s._fs_tiles, 1)%s FROM (SELECT ", batch ? ", true" : "");
	append_keys(sql, v, "", true);
	appendStringInfo(sql, "pushsource._tile_block(%s, " INT64_FORMAT ") AS _fs_block, pushsource._tile_agg('" INT64_FORMAT,
					 ts, v->agg_interval * TILES_PER_BLOCK, v->agg_interval);
	for (int s = 0; s < v->nslots; s++)
		appendStringInfo(sql, " %s", ps_agg_spec(v->slots[s].fn, v->slots[s].n));
	appendStringInfo(sql, "', %s, " PS_INGEST_COL, ts);
	for (int s = 0; s < v->nslots; s++)
		appendStringInfo(sql, ", %s", colname(v, v->slots[s].col));
	appendStringInfo(sql, ") AS _fs_tiles FROM %s _fs_e WHERE pg_catalog.isfinite(%s)", from, ts);
	if (v->has_start_time && !batch)
		appendStringInfo(sql, " AND %s OPERATOR(pg_catalog.>=) $1", ts);
	appendStringInfoString(sql, " GROUP BY ");
	for (int i = 0; i <= v->nkeys; i++)
		appendStringInfo(sql, "%s%d", i ? ", " : "", i + 1);
	appendStringInfoString(sql, ") s ORDER BY ");
	for (int i = 0; i <= v->nkeys; i++)
		appendStringInfo(sql, "%s%d", i ? ", " : "", i + 1);
}

/* The statement that upserts a pushed batch's blocks into the tiles. */
SPIPlanPtr
ps_store_tiles_plan(PsView *v)
{
	StringInfoData sql;

	initStringInfo(&sql);
	append_tiles_insert(&sql, v, PS_BATCH_ENR, false);
	appendStringInfoString(&sql, " ON CONFLICT (");
	append_keys(&sql, v, "", true);
	appendStringInfoString(&sql, "block_start, _fs_batch) DO UPDATE SET"
						   " totals = pushsource._tile_totals_merge(t.totals, excluded.totals),"
						   " tiles = pushsource._tiles_merge(t.tiles, excluded.tiles)");
	return ps_prepare_fanout(sql.data, v);
}

/*
 * _tiles_insert_sql(view, from): the INSERT of fs_materialize's tile
 * blocks, from "from", a parenthesized query the caller built with quoted
 * identifiers, which applies the view's feature_start_time itself.
 */
PG_FUNCTION_INFO_V1(fs_tiles_insert_sql);
Datum
fs_tiles_insert_sql(PG_FUNCTION_ARGS)
{
	PsView	   *v = ps_lookup_view(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	StringInfoData sql;

	if (v->naggs == 0 || v->agg_interval == 0 || !OidIsValid(v->online_relid))
		ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE), errmsg("_tiles_insert_sql: feature view \"%s\" has no tiles", v->name)));
	initStringInfo(&sql);
	append_tiles_insert(&sql, v, text_to_cstring(PG_GETARG_TEXT_PP(1)), true);
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
