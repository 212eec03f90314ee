/*
 * backfill.c
 *		fs_materialize's work: a window of a source's batch table fed to one
 *		feature view through the push path.
 *
 * Every batch row goes through the validator a pushed row goes through
 * (ps_check_row: required join keys and timestamp, the shapes of Struct,
 * Map and nested Array columns); a bad row is counted and reported in the
 * job's result, with its ctid, and written nowhere.  The good rows are
 * stamped with backfill ingest ids (below every push's, so that at equal
 * event times a pushed row wins) and handed to the fan-out, which writes
 * the view's stores with the very statements of a push: the same append,
 * the same newest-wins upsert, the same tiles and events.
 *
 * PL/pgSQL orchestrates (_materialize): it locks the view,
 * checks the batch table, says which windows were backfilled before (a
 * tiled view's backfilled blocks are rebuilt whole from them), and keeps
 * the job row.  The statements over the stores are store.c's.
 */
#include "pushsource.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#define FETCH_ROWS 10000

typedef struct Batch
{
	Tuplestorestate *rows;
	int64		n;
} Batch;

static void
batch_init(Batch *b)
{
	b->rows = tuplestore_begin_heap(false, false, work_mem);
	b->n = 0;
}

/*
 * The view locked against other operations on it and against fs_drop, its
 * batch table (if it has one; else the log is read) checked under a lock
 * (a plain table with the source's column types: see
 * _check_batch_table), and the windows backfilled so far plus
 * [start, end): a tiled view's backfilled blocks are rebuilt whole from
 * them.  Read after the lock, so that a backfill that ran meanwhile is seen.
 */
static void
lock_view(const char *name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {CStringGetTextDatum(name)};

	if (SPI_execute_with_args(psprintf("SELECT FROM %s._view_for($1, 'fs_materialize')", ps_internal_schema()),
							  1, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "pushsource: could not lock feature view \"%s\"", name);
}

static Datum
prepare_backfill(const char *name, TimestampTz start, TimestampTz end)
{
	Oid			argtypes[3] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		args[3] = {CStringGetTextDatum(name), TimestampTzGetDatum(start), TimestampTzGetDatum(end)};
	bool		isnull;
	const char *nsp = ps_internal_schema();

	if (SPI_execute_with_args(psprintf("SELECT %1$s._check_batch_table(pg_catalog.format('fs_materialize(\"%%s\")', $1),"
									   " s.batch_table, s.source_table, s.column_names)"
									   " FROM %1$s.view_catalog v JOIN %1$s.source_catalog s"
									   " ON s.name OPERATOR(pg_catalog.=) v.source WHERE v.name OPERATOR(pg_catalog.=) $1"
									   " AND s.batch_table IS NOT NULL",
									   nsp),
							  1, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "pushsource: could not check the batch table of feature view \"%s\"", name);
	/* not read_only: a snapshot taken now, after the lock, sees a backfill that committed while we waited */
	if (SPI_execute_with_args(psprintf("SELECT COALESCE(pg_catalog.range_agg(pg_catalog.tstzrange(j.window_start, j.window_end)),"
									   " '{}'::pg_catalog.tstzmultirange)"
									   " OPERATOR(pg_catalog.+) pg_catalog.tstzmultirange(pg_catalog.tstzrange($2, $3))"
									   " FROM pushsource.jobs j JOIN %s.view_catalog v ON v.name OPERATOR(pg_catalog.=) j.object"
									   " WHERE j.kind OPERATOR(pg_catalog.=) 'materialization' AND j.object OPERATOR(pg_catalog.=) $1"
									   " AND j.state OPERATOR(pg_catalog.=) 'succeeded' AND j.started_at OPERATOR(pg_catalog.>=) v.created_at",
									   nsp),
							  3, argtypes, args, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "pushsource: could not read the backfilled windows of feature view \"%s\"", name);
	return SPI_datumTransfer(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull),
							 false, -1);
}

/*
 * _backfill(view, start, end): feeds the batch rows of [start, end), and
 * for a tiled view those of the windows backfilled before that share a
 * block with it, through the validator and the fan-out.  Returns the
 * counts: rows written, skipped (pushed already, or before
 * feature_start_time), rejected (with the first errors), and each store's.
 */
PG_FUNCTION_INFO_V1(fs_backfill);
Datum
fs_backfill(PG_FUNCTION_ARGS)
{
	char	   *name;
	TimestampTz start;
	TimestampTz end;
	Datum		done;
	PsView	   *v;
	PsSource   *src;
	bool		tiled;
	Oid			from;
	bool		from_log;
	TimestampTz lo;
	TimestampTz hi;
	Oid			argtypes[3] = {TIMESTAMPTZOID, TIMESTAMPTZOID, TSTZMULTIRANGEOID};
	Datum		args[3];
	Portal		portal;
	Batch		window;			/* [start, end): every store */
	Batch		tiles;			/* tiled: the window and its blocks' other windows */
	Datum	   *values;
	bool	   *nulls;
	MemoryContext rowcxt;
	MemoryContext outer;
	int64		nread = 0;
	int64		skipped = 0;
	int64		rejected = 0;
	int64		batch_id = 0;
	int64		nstamped = 0;
	int64		n_online = 0;
	int64		n_offline = 0;
	int64		n_tiles = 0;
	int			spi_nest;
	StringInfoData errors;
	StringInfoData res;
	Oid			save_userid;
	int			save_sec;

	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	start = PG_GETARG_TIMESTAMPTZ(1);
	end = PG_GETARG_TIMESTAMPTZ(2);
	if (TIMESTAMP_NOT_FINITE(start) || TIMESTAMP_NOT_FINITE(end) || end <= start)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("_backfill(\"%s\"): the window must be finite and end after it starts", name)));
	initStringInfo(&errors);	/* outlives the SPI connection */
	ps_catalog_refresh();		/* an entry point: lock_view names the catalog's schema */
	spi_nest = ps_spi_connect();
	lock_view(name);
	v = ps_lookup_view(name, false);
	ps_check_view(v);
	src = v->source;
	tiled = v->naggs > 0 && v->agg_interval > 0 && OidIsValid(v->online_relid);
	values = palloc(sizeof(Datum) * (src->ncols + 1));
	nulls = palloc(sizeof(bool) * (src->ncols + 1));
	/* the batch table, or the log of a log_offline source without one */
	from = OidIsValid(src->batch_relid) ? src->batch_relid : src->log_offline ? src->relid : InvalidOid;
	if (!OidIsValid(from))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("fs_materialize(\"%s\"): push source \"%s\" has no batch_table and keeps no log",
						v->name, src->name)));
	from_log = from == src->relid;
	done = prepare_backfill(name, start, end);
	lo = start;
	hi = end;
	if (tiled)
	{
		lo = ps_tile_block_start(v, start);
		hi = ps_tile_block_start(v, end - 1) + v->agg_interval * TILES_PER_BLOCK;
	}
	if (from_log)
	{
		/*
		 * The log holds every event of the window, pushed before the view
		 * was made or after: the window is rebuilt from it whole -- its
		 * rows in the offline store and events, pushed or backfilled, and
		 * its tile blocks -- so that no event counts twice or goes missing
		 * (two events of one key and time are two events in a log).
		 * Pushes wait meanwhile (SHARE), so none lands between the read
		 * and the rebuild; the view's row was locked first, as every
		 * operation locks.
		 */
		if (SPI_execute(psprintf("LOCK TABLE %s IN SHARE MODE", ps_qualified_relname(src->relid)),
						false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "pushsource: could not lock the table of push source \"%s\"", src->name);
		{
			Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
			Datum		bounds[2] = {TimestampTzGetDatum(lo), TimestampTzGetDatum(hi)};
			bool		isnull;

			/* every event of the blocks [lo, hi) */
			if (SPI_execute_with_args("SELECT pg_catalog.tstzmultirange(pg_catalog.tstzrange($1, $2))",
									  2, types, bounds, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
				elog(ERROR, "pushsource: could not form the window of feature view \"%s\"", name);
			done = SPI_datumTransfer(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull),
									 false, -1);
		}
	}
	batch_init(&window);
	batch_init(&tiles);

	/* the window's earlier backfill goes, as the stores' writer */
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(v->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION | SECURITY_NOFORCE_RLS);
	ps_store_clear_backfill(v, start, end, lo, hi, from_log);
	SetUserIdAndSecContext(save_userid, save_sec);

	/* the batch rows, read as the caller */
	args[0] = TimestampTzGetDatum(lo);
	args[1] = TimestampTzGetDatum(hi);
	args[2] = done;
	portal = SPI_cursor_open_with_args(NULL, ps_store_backfill_reader(v, from, !from_log),
									   3, argtypes, args, NULL, false, 0);
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "pushsource backfill row",
								   ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		pushed;
			bool		in_window;
			bool		isnull;
			TimestampTz ts;
			PsRecordError err;
			bool		ok;

			CHECK_FOR_INTERRUPTS();
			for (int c = 0; c < src->ncols; c++)
				values[c] = SPI_getbinval(tup, desc, c + 1, &nulls[c]);
			pushed = DatumGetBool(SPI_getbinval(tup, desc, src->ncols + 1, &isnull));
			/* the reader's WHERE clause saw a time: never null here */
			ts = DatumGetTimestampTz(values[src->ts_col]);
			in_window = ts >= start && ts < end;
			if (in_window)
				nread++;
			if (pushed)
			{
				skipped += in_window;
				continue;
			}
			outer = MemoryContextSwitchTo(rowcxt);
			ok = ps_check_row(src, values, nulls, 0, &err);
			MemoryContextSwitchTo(outer);
			if (!ok)
			{
				/* a row of another window was reported by that window's run */
				if (in_window && rejected++ < PS_MAX_RECORD_ERRORS)
				{
					appendStringInfo(&errors, "%s{\"ctid\": ", errors.len ? ", " : "");
					escape_json(&errors, SPI_getvalue(tup, desc, src->ncols + 2));
					appendStringInfoString(&errors, ", \"field\": ");
					if (err.field)
						escape_json(&errors, err.field);
					else
						appendStringInfoString(&errors, "null");
					appendStringInfo(&errors, ", \"sqlstate\": \"%s\", \"error\": ",
									 unpack_sql_state(err.sqlstate));
					escape_json(&errors, psprintf("feature view \"%s\", %s %s, row %s, %s",
												  v->name, from == src->relid ? "log" : "batch table",
												  ps_qualified_relname(from),
												  SPI_getvalue(tup, desc, src->ncols + 2), err.problem));
					appendStringInfoChar(&errors, '}');
				}
				MemoryContextReset(rowcxt);
				continue;
			}
			MemoryContextReset(rowcxt);
			if (v->has_start_time && ts < v->start_time)
			{
				skipped += in_window;
				continue;
			}
			if (nstamped % PS_ROWS_PER_BATCH_ID == 0)
				batch_id = ps_backfill_batch_id();
			values[src->ncols] = Int64GetDatum(batch_id + nstamped % PS_ROWS_PER_BATCH_ID);
			nulls[src->ncols] = false;
			nstamped++;
			if (in_window && (!tiled || OidIsValid(v->offline_relid)))
			{
				tuplestore_putvalues(window.rows, src->buffer_desc, values, nulls);
				window.n++;
			}
			else if (!in_window && !tiled)
				continue;
			if (tiled)
			{
				tuplestore_putvalues(tiles.rows, src->buffer_desc, values, nulls);
				tiles.n++;
			}
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);

	/* the same fan-out as a push, to this view's stores only */
	ps_fanout_backfill(v, window.rows, window.n, true, !tiled, &n_online, &n_offline);
	if (tiled)
	{
		int64		ignored;

		ps_fanout_backfill(v, tiles.rows, tiles.n, false, true, &n_tiles, &ignored);
	}
	tuplestore_end(window.rows);
	tuplestore_end(tiles.rows);
	ps_spi_finish(spi_nest);

	initStringInfo(&res);
	appendStringInfo(&res, "{\"rows\": " INT64_FORMAT ", \"skipped\": " INT64_FORMAT
					 ", \"rejected\": " INT64_FORMAT ", \"offline\": " INT64_FORMAT ", ",
					 nread - skipped - rejected, skipped, rejected, n_offline);
	if (tiled)
		appendStringInfo(&res, "\"tile_blocks\": " INT64_FORMAT, n_tiles);
	else if (v->naggs > 0)
		appendStringInfo(&res, "\"online_events\": " INT64_FORMAT, n_online);
	else
		appendStringInfo(&res, "\"online\": " INT64_FORMAT, n_online);
	if (rejected > 0)
		appendStringInfo(&res, ", \"errors\": [%s]", errors.data);
	appendStringInfoChar(&res, '}');
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(res.data)));
}
