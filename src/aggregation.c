/*
 * aggregation.c
 *		Aggregate feature views: their online state (tiles or the raw events
 *		of the window), the fan-out into it, and the online computation at
 *		request time.  Their declarations (fs_agg, windows, names, the
 *		catalog's view of them) are aggdecl.c's.
 *
 * A view keeps one partial state (partial.c) per distinct (column,
 * function) pair, a "slot"; its features are slots over windows, so
 * sum(amount) over 1h, 1d and 7d share one state per tile.
 *
 * Tiled mode (aggregation_interval I): the online state is a table with one
 * row per entity per block of TILES_PER_BLOCK tiles (an hour of one-minute
 * tiles).  A row holds the block's totals (one state per slot) and its
 * tiles (each occupied tile's offset and states).  A window [F - W, F) with
 * F = floor(request time, I) reads the totals of the blocks it covers whole
 * and the tiles of at most a few edge blocks: a 7-day window of one-minute
 * tiles reads about 170 rows, not 10,080.  The fan-out groups a statement's
 * events by (entity, block) with the aggregate _tile_agg and upserts the
 * blocks, combining states with the stored ones; a late event updates its
 * old tile.  Tiles are aligned to multiples of I since the Unix epoch.
 *
 * Continuous mode: the online state is the raw events (keys, time, the
 * aggregated columns, ingest order), indexed by (keys, time); a read
 * aggregates the events of (R - W, R].  Each push prunes, per pushed key,
 * the events no window at or after its newest event can see.
 *
 * Windows and intervals are fixed durations in whole seconds: a day is 24
 * hours, months and years are refused.
 */
#include "pushsource.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "common/jsonapi.h"



/* ---------------------------------------------------------------------
 * Tile sets: the states of one tile (or a block's totals), one per slot
 *
 *	set:    per slot: int32 length, the state (ps_partial_write)
 *	tiles:  per occupied tile, by offset: int32 offset, int32 set length, set
 *	block:  int32 totals length, totals (a set), tiles (what _tile_agg makes)
 * --------------------------------------------------------------------- */

static void
put_int32(StringInfo buf, int32 v)
{
	appendBinaryStringInfo(buf, (char *) &v, 4);
}

static int32
get_int32(const char *p)
{
	int32		v;

	memcpy(&v, p, 4);
	return v;
}

static void
tile_corrupt(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid tile data: %s", what),
			 errhint("The tiles of an aggregate feature view are written by pushsource only.")));
}

static void
write_set(StringInfo buf, PsPartial **set, int m)
{
	for (int i = 0; i < m; i++)
	{
		int			at = buf->len;

		put_int32(buf, 0);
		ps_partial_write(buf, set[i]);
		memcpy(buf->data + at, &(int32) {buf->len - at - 4}, 4);
	}
}

/* Decodes a set into its states (palloc'd); *m is how many. */
static PsPartial **
read_set(const char *p, int len, int *m)
{
	int			pos = 0;
	int			cap = 4;
	PsPartial **out = palloc(sizeof(PsPartial *) * cap);

	*m = 0;
	while (pos < len)
	{
		int32		l;

		if (len - pos < 4 || (l = get_int32(p + pos)) < 0 || l > len - pos - 4)
			tile_corrupt("a state ends early");
		if (*m == cap)
			out = repalloc(out, sizeof(PsPartial *) * (cap *= 2));
		out[(*m)++] = ps_partial_read(p + pos + 4, l);
		pos += 4 + l;
	}
	return out;
}

/* A set that must have the view's m states. */
static PsPartial **
read_set_of(const char *p, int len, int m)
{
	int			got;
	PsPartial **set = read_set(p, len, &got);

	if (got != m)
		tile_corrupt("a set does not have one state per slot of the view");
	return set;
}

/* ---------------------------------------------------------------------
 * _tile_agg(spec, ts, ord, VARIADIC values): the block of a group's events
 *
 * spec: "<interval microseconds> <function> <function> ...", one function
 * per value argument.
 * --------------------------------------------------------------------- */

typedef struct TileSpec
{
	int64		interval;
	int64		block;
	int			m;
	PsAggFn    *fn;
	int		   *n;
	PsValType  *vt;
	Oid		   *typid;
} TileSpec;

typedef struct Tile
{
	int			offset;
	PsPartial **set;
} Tile;

typedef struct TileAgg
{
	TileSpec   *spec;
	TimestampTz block_start;
	int			ntiles;
	Tile		tiles[TILES_PER_BLOCK];
} TileAgg;

static TileSpec *
parse_tile_spec(FunctionCallInfo fcinfo)
{
	TileSpec   *ts = fcinfo->flinfo->fn_extra;
	char	   *s;
	char	   *tok;
	char	   *save;
	int			nargs;

	if (ts != NULL)
		return ts;
	if (PG_ARGISNULL(1))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("_tile_agg: spec must not be null")));
	ts = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(TileSpec));
	s = text_to_cstring(PG_GETARG_TEXT_PP(1));
	nargs = PG_NARGS() - 4;
	ts->fn = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(PsAggFn) * Max(nargs, 1));
	ts->n = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(int) * Max(nargs, 1));
	ts->vt = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(PsValType) * Max(nargs, 1));
	ts->typid = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(Oid) * Max(nargs, 1));
	tok = strtok_r(s, " ", &save);
	ts->interval = tok ? strtoi64(tok, NULL, 10) : 0;
	/* an interval is at most 36525 days (fs_agg's bound): the block fits */
	if (ts->interval <= 0 || ts->interval > (int64) 36525 * USECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("_tile_agg: the spec must start with the tile interval in microseconds, from 1 to 36525 days, not \"%s\"",
						tok ? tok : "")));
	ts->block = ts->interval * TILES_PER_BLOCK;
	while ((tok = strtok_r(NULL, " ", &save)) != NULL)
	{
		if (ts->m == nargs)
			ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("_tile_agg: more functions than values")));
		ts->fn[ts->m] = ps_agg_fn_parse(tok, &ts->n[ts->m], "_tile_agg");
		ts->typid[ts->m] = get_fn_expr_argtype(fcinfo->flinfo, 4 + ts->m);
		ts->vt[ts->m] = ps_agg_check_input(ts->fn[ts->m], ts->typid[ts->m], "_tile_agg");
		ts->m++;
	}
	if (ts->m != nargs)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("_tile_agg: %d functions for %d values", ts->m, nargs)));
	fcinfo->flinfo->fn_extra = ts;
	return ts;
}

static PsPartial **
new_set(TileSpec *spec)
{
	PsPartial **set = palloc(sizeof(PsPartial *) * spec->m);

	for (int i = 0; i < spec->m; i++)
		set[i] = ps_partial_new(spec->fn[i], spec->n[i], spec->vt[i]);
	return set;
}

PG_FUNCTION_INFO_V1(fs_tile_agg_add);
Datum
fs_tile_agg_add(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	TileAgg    *st;
	TileSpec   *spec;
	TimestampTz ts;
	int64		ord;
	int			off;
	Tile	   *tile = NULL;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "_tile_agg_add called in non-aggregate context");
	spec = parse_tile_spec(fcinfo);
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("_tile_agg: event time and ingest order must not be null")));
	ts = PG_GETARG_TIMESTAMPTZ(2);
	ord = PG_GETARG_INT64(3);
	old = MemoryContextSwitchTo(aggcxt);
	if (PG_ARGISNULL(0))
	{
		st = palloc(offsetof(TileAgg, tiles));
		st->spec = spec;
		st->block_start = ps_floor_to(ts, spec->block);
		st->ntiles = 0;
	}
	else
		st = (TileAgg *) PG_GETARG_POINTER(0);
	off = (int) ((ps_floor_to(ts, spec->interval) - st->block_start) / spec->interval);
	if (off < 0 || off >= TILES_PER_BLOCK)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("_tile_agg: an event outside the group's block")));
	for (int i = 0; i < st->ntiles; i++)
		if (st->tiles[i].offset == off)
			tile = &st->tiles[i];
	if (tile == NULL)
	{
		/* grow by one tile: most groups of a statement hold one event */
		st = repalloc(st, offsetof(TileAgg, tiles) + sizeof(Tile) * (st->ntiles + 1));
		tile = &st->tiles[st->ntiles++];
		tile->offset = off;
		tile->set = new_set(spec);
	}
	for (int i = 0; i < spec->m; i++)
		if (!PG_ARGISNULL(4 + i))
			ps_partial_add(tile->set[i], spec->typid[i], PG_GETARG_DATUM(4 + i), ts, ord);
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(st);
}

static int
cmp_tile(const void *a, const void *b)
{
	return ((const Tile *) a)->offset - ((const Tile *) b)->offset;
}

PG_FUNCTION_INFO_V1(fs_tile_agg_final);
Datum
fs_tile_agg_final(PG_FUNCTION_ARGS)
{
	TileAgg    *st;
	TileSpec   *spec;
	PsPartial **totals;
	StringInfoData buf;
	bytea	   *result;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (TileAgg *) PG_GETARG_POINTER(0);
	spec = st->spec;
	qsort(st->tiles, st->ntiles, sizeof(Tile), cmp_tile);
	totals = new_set(spec);
	for (int t = 0; t < st->ntiles; t++)
		for (int i = 0; i < spec->m; i++)
			ps_partial_combine(totals[i], st->tiles[t].set[i]);
	initStringInfo(&buf);
	put_int32(&buf, 0);
	write_set(&buf, totals, spec->m);
	memcpy(buf.data, &(int32) {buf.len - 4}, 4);
	for (int t = 0; t < st->ntiles; t++)
	{
		int			at;

		put_int32(&buf, st->tiles[t].offset);
		at = buf.len;
		put_int32(&buf, 0);
		write_set(&buf, st->tiles[t].set, spec->m);
		memcpy(buf.data + at, &(int32) {buf.len - at - 4}, 4);
	}
	result = palloc(VARHDRSZ + buf.len);
	SET_VARSIZE(result, VARHDRSZ + buf.len);
	memcpy(VARDATA(result), buf.data, buf.len);
	PG_RETURN_BYTEA_P(result);
}

/* The start of the block of tiles of v that holds ts. */
TimestampTz
ps_tile_block_start(PsView *v, TimestampTz ts)
{
	return ps_floor_to(ts, v->agg_interval * TILES_PER_BLOCK);
}

/*
 * _tile_block(ts, length in microseconds): the start of the span of that
 * length, counted from the Unix epoch, that holds ts; NULL if ts is not
 * finite.  SQL aligns tiles (a tile's length) and blocks with it, so that
 * one rule places an event in its tile.
 */
PG_FUNCTION_INFO_V1(fs_tile_block);
Datum
fs_tile_block(PG_FUNCTION_ARGS)
{
	TimestampTz ts = PG_GETARG_TIMESTAMPTZ(0);

	if (PG_GETARG_INT64(1) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("_tile_block: the block length must be positive, got " INT64_FORMAT,
						PG_GETARG_INT64(1))));
	if (TIMESTAMP_NOT_FINITE(ts))
		PG_RETURN_NULL();
	{
		/* in 128 bits: a long block could take the start out of range */
		int128		rel = (int128) ts - UNIX_EPOCH_TS;
		int128		step = PG_GETARG_INT64(1);
		int128		start = (rel / step - (rel % step < 0 ? 1 : 0)) * step + UNIX_EPOCH_TS;

		if (start < MIN_TIMESTAMP || start >= END_TIMESTAMP)
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("timestamp out of range: the block of " INT64_FORMAT " microseconds that holds %s starts out of range",
							PG_GETARG_INT64(1), timestamptz_to_str(ts))));
		PG_RETURN_TIMESTAMPTZ((TimestampTz) start);
	}
}

/* _block_part(block, 0 | 1): the totals or the tiles of a _tile_agg block */
PG_FUNCTION_INFO_V1(fs_block_part);
Datum
fs_block_part(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(b);
	int			len = VARSIZE_ANY_EXHDR(b);
	int32		tlen;

	if (len < 4 || (tlen = get_int32(p)) < 0 || tlen > len - 4)
		tile_corrupt("a block ends early");
	if (PG_GETARG_INT32(1) == 0)
		PG_RETURN_BYTEA_P(cstring_to_text_with_len(p + 4, tlen));
	PG_RETURN_BYTEA_P(cstring_to_text_with_len(p + 4 + tlen, len - 4 - tlen));
}

static bytea *
buf_to_bytea(StringInfo buf)
{
	return (bytea *) cstring_to_text_with_len(buf->data, buf->len);
}

/* _tile_totals_merge(a, b): the set of both sets' events */
PG_FUNCTION_INFO_V1(fs_tile_totals_merge);
Datum
fs_tile_totals_merge(PG_FUNCTION_ARGS)
{
	bytea	   *a = PG_GETARG_BYTEA_PP(0);
	bytea	   *b = PG_GETARG_BYTEA_PP(1);
	int			ma;
	PsPartial **sa = read_set(VARDATA_ANY(a), VARSIZE_ANY_EXHDR(a), &ma);
	PsPartial **sb = read_set_of(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b), ma);
	StringInfoData buf;

	for (int i = 0; i < ma; i++)
		ps_partial_combine(sa[i], sb[i]);
	initStringInfo(&buf);
	write_set(&buf, sa, ma);
	PG_RETURN_BYTEA_P(buf_to_bytea(&buf));
}

/* One tile of a tiles value: its offset and where its set is. */
typedef struct TileRef
{
	int			offset;
	const char *set;
	int			len;
} TileRef;

static int
read_tiles(const char *p, int len, TileRef *out)
{
	int			pos = 0;
	int			n = 0;

	while (pos < len)
	{
		int32		off;
		int32		l;

		if (len - pos < 8)
			tile_corrupt("a tile ends early");
		off = get_int32(p + pos);
		l = get_int32(p + pos + 4);
		if (off < 0 || off >= TILES_PER_BLOCK || (n > 0 && off <= out[n - 1].offset) ||
			l < 0 || l > len - pos - 8)
			tile_corrupt("tiles out of order or cut short");
		out[n].offset = off;
		out[n].set = p + pos + 8;
		out[n].len = l;
		n++;
		pos += 8 + l;
	}
	return n;
}

static void
put_tile(StringInfo buf, int offset, const char *set, int len)
{
	put_int32(buf, offset);
	put_int32(buf, len);
	appendBinaryStringInfo(buf, set, len);
}

/* _tiles_merge(a, b): tiles of both, a tile in both combined */
PG_FUNCTION_INFO_V1(fs_tiles_merge);
Datum
fs_tiles_merge(PG_FUNCTION_ARGS)
{
	bytea	   *a = PG_GETARG_BYTEA_PP(0);
	bytea	   *b = PG_GETARG_BYTEA_PP(1);
	TileRef		ta[TILES_PER_BLOCK];
	TileRef		tb[TILES_PER_BLOCK];
	int			na = read_tiles(VARDATA_ANY(a), VARSIZE_ANY_EXHDR(a), ta);
	int			nb = read_tiles(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b), tb);
	int			i = 0,
				j = 0;
	StringInfoData buf;

	initStringInfo(&buf);
	while (i < na || j < nb)
	{
		if (j == nb || (i < na && ta[i].offset < tb[j].offset))
		{
			put_tile(&buf, ta[i].offset, ta[i].set, ta[i].len);
			i++;
		}
		else if (i == na || tb[j].offset < ta[i].offset)
		{
			put_tile(&buf, tb[j].offset, tb[j].set, tb[j].len);
			j++;
		}
		else
		{
			int			ma;
			PsPartial **sa = read_set(ta[i].set, ta[i].len, &ma);
			PsPartial **sb = read_set_of(tb[j].set, tb[j].len, ma);
			int			at;

			for (int k = 0; k < ma; k++)
				ps_partial_combine(sa[k], sb[k]);
			put_int32(&buf, ta[i].offset);
			at = buf.len;
			put_int32(&buf, 0);
			write_set(&buf, sa, ma);
			memcpy(buf.data + at, &(int32) {buf.len - at - 4}, 4);
			i++;
			j++;
		}
	}
	PG_RETURN_BYTEA_P(buf_to_bytea(&buf));
}

/* Errors inside a view's online state (damaged tiles) name the view. */
static void
view_context(void *arg)
{
	errcontext("online state of aggregate feature view \"%s\"", ((PsView *) arg)->name);
}

/* ---------------------------------------------------------------------
 * Fan-out
 * --------------------------------------------------------------------- */








/*
 * The online part of the fan-out of an aggregate view, inside the fan-out's
 * SPI connection with the batch registered.  Returns the rows written.
 */
int64
ps_agg_fanout(PsView *v, Datum start, bool backfill)
{
	SPIPlanPtr	plan;
	Datum		args[1] = {start};
	int64		n;
	ErrorContextCallback ctx = {error_context_stack, view_context, v};

	error_context_stack = &ctx;

	if (v->online_plan == NULL)
		v->online_plan = v->agg_interval > 0 ? ps_store_tiles_plan(v, false) : ps_store_events_plan(v);
	plan = v->online_plan;
	if (backfill && v->agg_interval > 0)
	{
		if (v->backfill_tiles_plan == NULL)
			v->backfill_tiles_plan = ps_store_tiles_plan(v, true);
		plan = v->backfill_tiles_plan;
	}
	if (SPI_execute_plan(plan, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "pushsource: online write of aggregate feature view \"%s\" failed", v->name);
	n = (int64) SPI_processed;
	if (v->agg_interval == 0)
	{
		if (v->prune_plan == NULL)
			v->prune_plan = ps_store_prune_plan(v);
		if (SPI_execute_plan(v->prune_plan, args, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "pushsource: pruning the events of feature view \"%s\" failed", v->name);
	}
	error_context_stack = ctx.previous;
	return n;
}

/* ---------------------------------------------------------------------
 * Online computation
 * --------------------------------------------------------------------- */


static void
run_read(PsView *v, Datum *args)
{
	if (SPI_execute_plan(ps_store_agg_read_plan(v), args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pushsource: online read of feature view \"%s\" failed", v->name);
}

static void
add_edge(Datum *edges, int *nedges, TimestampTz t, int64 block)
{
	TimestampTz b = ps_floor_to(t, block);

	if (b == t)
		return;					/* a block boundary: no block is cut */
	for (int i = 0; i < *nedges; i++)
		if (DatumGetTimestampTz(edges[i]) == b)
			return;
	edges[(*nedges)++] = TimestampTzGetDatum(b);
}

/* Tiled: the states of every aggregation's window [F - W, F). */
static void
read_tiled(PsView *v, Datum *args, TimestampTz F, PsPartial **acc)
{
	int64		block = v->agg_interval * TILES_PER_BLOCK;
	Datum	   *edges = palloc(sizeof(Datum) * (v->naggs + 1));
	int			nedges = 0;

	for (int a = 0; a < v->naggs; a++)
		add_edge(edges, &nedges, F - v->aggs[a].window, block);
	add_edge(edges, &nedges, F, block);
	args[v->nkeys] = TimestampTzGetDatum(ps_floor_to(F - v->max_window, block));
	args[v->nkeys + 1] = TimestampTzGetDatum(F);
	args[v->nkeys + 2] = PointerGetDatum(construct_array(edges, nedges, TIMESTAMPTZOID, 8,
														   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	run_read(v, args);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		bool		tiles_null;
		TimestampTz bs = DatumGetTimestampTz(SPI_getbinval(tup, desc, 1, &isnull));
		Datum		totals = SPI_getbinval(tup, desc, 2, &isnull);
		Datum		td = SPI_getbinval(tup, desc, 3, &tiles_null);
		PsPartial **set = NULL;
		TileRef		tiles[TILES_PER_BLOCK];
		PsPartial **tile_sets[TILES_PER_BLOCK];
		int			ntiles = -1;

		for (int a = 0; a < v->naggs; a++)
		{
			TimestampTz lo = F - v->aggs[a].window;
			int			s = v->aggs[a].slot;

			if (bs + block <= lo || bs >= F)
				continue;
			if (bs >= lo && bs + block <= F)
			{
				/* the whole block is in the window */
				if (set == NULL)
				{
					bytea	   *tb = DatumGetByteaPP(totals);

					set = read_set_of(VARDATA_ANY(tb), VARSIZE_ANY_EXHDR(tb), v->nslots);
				}
				ps_partial_combine(acc[a], set[s]);
				continue;
			}
			if (ntiles < 0)
			{
				bytea	   *tb;

				if (tiles_null)
					ereport(ERROR,
							(errcode(ERRCODE_DATA_CORRUPTED),
							 errmsg("feature view \"%s\": a tile block of its online store is not on the block grid",
									v->name),
							 errhint("The tiles table was written by hand; fs_materialize the window again, or fs_drop and recreate the view.")));
				tb = DatumGetByteaPP(td);
				ntiles = read_tiles(VARDATA_ANY(tb), VARSIZE_ANY_EXHDR(tb), tiles);
				memset(tile_sets, 0, sizeof(tile_sets));
			}
			for (int t = 0; t < ntiles; t++)
			{
				TimestampTz start = bs + tiles[t].offset * v->agg_interval;

				if (start < lo || start >= F)
					continue;
				if (tile_sets[t] == NULL)
					tile_sets[t] = read_set_of(tiles[t].set, tiles[t].len, v->nslots);
				ps_partial_combine(acc[a], tile_sets[t][s]);
			}
		}
	}
}

/* Continuous: the states of every aggregation's window (R - W, R]. */
static void
read_continuous(PsView *v, Datum *args, TimestampTz R, PsPartial **acc)
{
	args[v->nkeys] = TimestampTzGetDatum(R - v->max_window);
	args[v->nkeys + 1] = TimestampTzGetDatum(R);
	run_read(v, args);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		TimestampTz ts = DatumGetTimestampTz(SPI_getbinval(tup, desc, 1, &isnull));
		int64		ord = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));

		for (int a = 0; a < v->naggs; a++)
		{
			PsAggSlot  *sl = &v->slots[v->aggs[a].slot];
			Datum		d;

			if (ts <= R - v->aggs[a].window)
				continue;
			d = SPI_getbinval(tup, desc, 3 + sl->arg, &isnull);
			if (!isnull)
				ps_partial_add(acc[a], sl->typid, d, ts, ord);
		}
	}
}

/*
 * The features of an aggregate view for one key at request time R: values,
 * nulls and the number of events of each window (-1 for a value out of
 * its type's range, which is null), in the current memory
 * context.  *window_end is the end of the windows (R, or floor(R, I) when
 * tiled).  The caller is connected to SPI.
 */
void
ps_agg_read(PsView *v, Datum *keys, TimestampTz R, Datum *values, bool *nulls,
			int64 *counts, TimestampTz *window_end)
{
	MemoryContext outer = CurrentMemoryContext;
	Datum	   *args = palloc(sizeof(Datum) * (v->nkeys + 3));
	PsPartial **acc = palloc(sizeof(PsPartial *) * v->naggs);
	ErrorContextCallback ctx = {error_context_stack, view_context, v};

	error_context_stack = &ctx;

	memcpy(args, keys, sizeof(Datum) * v->nkeys);
	for (int a = 0; a < v->naggs; a++)
	{
		PsAggSlot  *sl = &v->slots[v->aggs[a].slot];

		acc[a] = ps_partial_new(sl->fn, sl->n, sl->vt);
	}
	if (v->agg_interval > 0)
	{
		*window_end = ps_floor_to(R, v->agg_interval);
		read_tiled(v, args, *window_end, acc);
	}
	else
	{
		*window_end = R;
		read_continuous(v, args, R, acc);
	}
	error_context_stack = ctx.previous;
	/* SPI calls return in SPI's memory, which goes with SPI_finish */
	MemoryContextSwitchTo(outer);
	for (int a = 0; a < v->naggs; a++)
	{
		/* -1: out of range (served as NULL, status OUT_OF_RANGE) */
		counts[a] = ps_partial_out_of_range(acc[a]) ? -1 : acc[a]->count;
		values[a] = ps_partial_final(acc[a], &nulls[a]);
	}
}

/* ---------------------------------------------------------------------
 * Historical windows: a sweep over one key's sorted events
 *
 * fs_get_historical_features gives each spine row (keys, T) the features
 * of the window ending at T, with the online boundaries: continuous (T - W,
 * T], tiled [F - W, F) with F = floor(T, I).  In whole microseconds both
 * are (hi - W, hi], with hi = T or F - 1.  For one key, the events sorted
 * by (time, ingest order) and the rows sorted by T, both window edges only
 * move forward, so each feature is a sliding window:
 *
 *	- count, sum, mean, min, max and the variances: the two-stack queue.
 *	  Events enter a "back" state as the end moves; when the start passes
 *	  the events of the "front", the back's events are turned into suffix
 *	  states (each the state of its event and all after it up to the turn).
 *	  A window is the front's suffix state at its start combined with the
 *	  back.  Every event is added twice and every row costs one combine, so
 *	  the cost is linear, however long the window.
 *	- last and the *_n lists: walked from the window's newest (last,
 *	  last_n, last_distinct_n) or oldest (first_n, first_distinct_n) edge
 *	  until n values are found: O(n) per row, more where a distinct list
 *	  meets repeated values.
 *	- the sketches (approx_count_distinct, approx_percentile): the same
 *	  queue, but a sketch is too big to keep one per event, so the front
 *	  keeps a suffix state every SKETCH_STEP events; a window copies the
 *	  nearest one at or after its start and adds the fewer than
 *	  SKETCH_STEP events before it.  A sketch is a function of its values'
 *	  (multi)set, so the result is the state the tiles would give.
 *
 * The states are partial.c's, combined and finalized as the online read
 * combines tiles: a feature is the same value online and offline (floating
 * point sums up to rounding: they add in another order).
 * --------------------------------------------------------------------- */

/* A state with its own item (min, max): copied by value. */
typedef struct WinState
{
	PsPartial	p;
	PsItem		item;
} WinState;

static inline void
win_init(WinState *w, const PsAggSlot *s)
{
	memset(w, 0, sizeof(WinState));
	w->p.fn = (PsAggFn) s->fn;
	w->p.n = s->n;
	w->p.vt = (PsValType) s->vt;
	w->p.cxt = CurrentMemoryContext;
	w->p.items = &w->item;
}

static inline void
win_copy(WinState *dst, const WinState *src)
{
	*dst = *src;
	dst->p.items = &dst->item;
}

#define SKETCH_STEP 64

static inline bool
is_walked(PsAggFn fn)
{
	return fn == PS_AGG_LAST || fn == PS_AGG_LAST_N || fn == PS_AGG_LAST_DISTINCT_N ||
		fn == PS_AGG_FIRST_N || fn == PS_AGG_FIRST_DISTINCT_N;
}

/* The inclusive end of the window of a row at T (finite). */
TimestampTz
ps_agg_window_hi(PsView *v, TimestampTz t)
{
	return v->agg_interval > 0 ? ps_floor_to(t, v->agg_interval) - 1 : t;
}

/*
 * The sweep of one sketch feature (see above): results go to out[r *
 * stride], outnull[r * stride].
 */
static void
sweep_sketch(PsView *v, PsAgg *ag, const PsAggEvents *ev, int64 nrec, const TimestampTz *t,
			 Datum *out, bool *outnull, int stride, MemoryContext scratch)
{
	PsAggSlot  *s = &v->slots[ag->slot];
	int			nv = v->nfeatures;
	MemoryContext keycxt = CurrentMemoryContext;
	MemoryContext backcxt = AllocSetContextCreate(keycxt, "sketch window back", ALLOCSET_DEFAULT_SIZES);
	MemoryContext frontcxt = AllocSetContextCreate(keycxt, "sketch window front", ALLOCSET_DEFAULT_SIZES);
	PsPartial  *back;
	PsPartial **ckpt = NULL;	/* ckpt[j]: the state of [sufbase + j * STEP, mid) */
	int64		a = 0,
				b = 0,
				mid = 0,
				sufbase = 0;

#define ADD_EVENT(p, i) \
	do { \
		if (!ev->nulls[(i) * nv + s->arg]) \
			ps_partial_add((p), s->typid, ev->vals[(i) * nv + s->arg], ev->ts[i], ev->ord[i]); \
	} while (0)

	MemoryContextSwitchTo(backcxt);
	back = ps_partial_new((PsAggFn) s->fn, s->n, (PsValType) s->vt);
	for (int64 r = 0; r < nrec; r++)
	{
		TimestampTz hi = ps_agg_window_hi(v, t[r]);
		TimestampTz lo = hi - ag->window;
		PsPartial  *q;
		int64		j,
					stop;

		while (b < ev->n && ev->ts[b] <= hi)
		{
			ADD_EVENT(back, b);
			b++;
		}
		while (a < b && ev->ts[a] <= lo)
			a++;
		if (a > mid)
		{
			/* the front is used up: the back's events become the new front */
			PsPartial  *run;

			MemoryContextReset(frontcxt);
			MemoryContextSwitchTo(frontcxt);
			ckpt = palloc_extended(sizeof(PsPartial *) * ((b - mid) / SKETCH_STEP + 1), MCXT_ALLOC_HUGE);
			run = ps_partial_new((PsAggFn) s->fn, s->n, (PsValType) s->vt);
			for (int64 i = b - 1; i >= mid; i--)
			{
				ADD_EVENT(run, i);
				if ((i - mid) % SKETCH_STEP == 0)
					ckpt[(i - mid) / SKETCH_STEP] = ps_partial_copy(run);
			}
			sufbase = mid;
			mid = b;
			MemoryContextReset(backcxt);
			MemoryContextSwitchTo(backcxt);
			back = ps_partial_new((PsAggFn) s->fn, s->n, (PsValType) s->vt);
		}
		MemoryContextSwitchTo(scratch);
		/* the nearest suffix state at or after a, and the events before it */
		j = (a - sufbase + SKETCH_STEP - 1) / SKETCH_STEP;
		stop = Min(sufbase + j * SKETCH_STEP, mid);
		q = stop < mid ? ps_partial_copy(ckpt[j]) :
			ps_partial_new((PsAggFn) s->fn, s->n, (PsValType) s->vt);
		for (int64 i = a; i < stop; i++)
			ADD_EVENT(q, i);
		ps_partial_combine(q, back);
		MemoryContextSwitchTo(keycxt);
		out[r * stride] = ps_partial_final(q, &outnull[r * stride]);
		MemoryContextReset(scratch);
	}
#undef ADD_EVENT
	MemoryContextSwitchTo(keycxt);
	MemoryContextDelete(backcxt);
	MemoryContextDelete(frontcxt);
}

/*
 * One key: its events ev (sorted by time, ingest order), its rows' times t
 * (finite, ascending).  out and outnull get nrec * nsel values, row by row,
 * of the aggregates sel (indexes into v->aggs), in the current memory
 * context.
 */
void
ps_agg_sweep(PsView *v, int nsel, const int *sel, const PsAggEvents *ev,
			 int64 nrec, const TimestampTz *t, Datum *out, bool *outnull)
{
	MemoryContext keycxt = CurrentMemoryContext;
	MemoryContext scratch = AllocSetContextCreate(keycxt, "aggregate window",
												  ALLOCSET_DEFAULT_SIZES);
	int			nv = v->nfeatures;

	for (int k = 0; k < nsel; k++)
	{
		PsAgg	   *ag = &v->aggs[sel[k]];
		PsAggSlot  *s = &v->slots[ag->slot];
		PsAggFn		fn = (PsAggFn) s->fn;
		bool		walked = is_walked(fn);
		bool		latest = fn == PS_AGG_LAST || fn == PS_AGG_LAST_N || fn == PS_AGG_LAST_DISTINCT_N;
		int			cap = fn == PS_AGG_LAST ? 1 : s->n;
		Oid			rtype = ps_agg_result_type(fn, (PsValType) s->vt);
		int16		rlen;
		bool		rbyval;
		int64		a = 0,
					b = 0,
					mid = 0;	/* the front is [a, mid), the back [mid, b) */
		WinState	back;
		WinState   *suf = NULL; /* suffix states of [sufbase, mid) */
		int64		sufbase = 0;
		int64		sufcap = 0;

		get_typlenbyval(rtype, &rlen, &rbyval);
		if (ps_agg_is_sketch(fn))
		{
			sweep_sketch(v, ag, ev, nrec, t, out + k, outnull + k, nsel, scratch);
			continue;
		}
		win_init(&back, s);
		for (int64 r = 0; r < nrec; r++)
		{
			TimestampTz hi = ps_agg_window_hi(v, t[r]);
			TimestampTz lo = hi - ag->window;
			Datum		d;
			bool		isnull;

			while (b < ev->n && ev->ts[b] <= hi)
			{
				if (!walked && !ev->nulls[b * nv + s->arg])
					ps_partial_add(&back.p, s->typid, ev->vals[b * nv + s->arg], ev->ts[b], ev->ord[b]);
				b++;
			}
			while (a < b && ev->ts[a] <= lo)
				a++;

			MemoryContextSwitchTo(scratch);
			if (walked)
			{
				PsPartial  *p = ps_partial_new(fn, s->n, (PsValType) s->vt);

				if (latest)
				{
					for (int64 i = b - 1; i >= a && p->nitems < cap; i--)
						if (!ev->nulls[i * nv + s->arg])
							ps_partial_add(p, s->typid, ev->vals[i * nv + s->arg], ev->ts[i], ev->ord[i]);
				}
				else
				{
					for (int64 i = a; i < b && p->nitems < cap; i++)
						if (!ev->nulls[i * nv + s->arg])
							ps_partial_add(p, s->typid, ev->vals[i * nv + s->arg], ev->ts[i], ev->ord[i]);
				}
				MemoryContextSwitchTo(keycxt);
				d = ps_partial_final(p, &isnull);
			}
			else
			{
				WinState	q;

				if (a > mid)
				{
					/* the front is used up: the back's events become suffix states */
					if (b - mid > sufcap)
					{
						sufcap = Max(b - mid, sufcap * 2);
						MemoryContextSwitchTo(keycxt);
						if (suf != NULL)
							pfree(suf);
						suf = palloc_extended(sizeof(WinState) * sufcap, MCXT_ALLOC_HUGE);
						MemoryContextSwitchTo(scratch);
					}
					sufbase = mid;
					for (int64 i = b - 1; i >= mid; i--)
					{
						WinState   *w = &suf[i - sufbase];

						if (i == b - 1)
							win_init(w, s);
						else
							win_copy(w, &suf[i + 1 - sufbase]);
						if (!ev->nulls[i * nv + s->arg])
							ps_partial_add(&w->p, s->typid, ev->vals[i * nv + s->arg], ev->ts[i], ev->ord[i]);
					}
					mid = b;
					win_init(&back, s);
				}
				if (a < mid)
					win_copy(&q, &suf[a - sufbase]);
				else
					win_init(&q, s);
				ps_partial_combine(&q.p, &back.p);
				MemoryContextSwitchTo(keycxt);
				d = ps_partial_final(&q.p, &isnull);
			}
			/* last's text is the state's, in scratch memory */
			out[r * nsel + k] = fn == PS_AGG_LAST && !isnull && !rbyval ? datumCopy(d, rbyval, rlen) : d;
			outnull[r * nsel + k] = isnull;
			MemoryContextReset(scratch);
		}
		if (suf != NULL)
			pfree(suf);
	}
	MemoryContextDelete(scratch);
}

/* ---------------------------------------------------------------------
 * Values as JSON, as to_jsonb renders them
 * --------------------------------------------------------------------- */

/*
 * value (not null) of type typid as to_jsonb renders it, in the caller's
 * memory, without to_jsonb's per-call type lookups and the jsonb it builds
 * only to be unpacked: integers as numbers; floats and numerics through
 * their output and numeric_in, as to_jsonb does (shortest exact digits;
 * NaN and Infinity, which are no JSON numbers, as strings); booleans;
 * text and varchar as strings of their content (copied: value may point
 * into a buffer page); timestamptz in ISO 8601.  False for other types:
 * the caller renders them (to_jsonb).  view and feature name the value in
 * errors, or are NULL.
 */
bool
ps_json_scalar(Datum value, Oid typid, const char *view, const char *feature, JsonbValue *jv)
{
	switch (typid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			jv->type = jbvNumeric;
			jv->val.numeric = int64_to_numeric(typid == INT8OID ? DatumGetInt64(value) :
											   typid == INT4OID ? (int64) DatumGetInt32(value) :
											   (int64) DatumGetInt16(value));
			return true;
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			{
				char	   *str = DatumGetCString(DirectFunctionCall1(typid == FLOAT4OID ? float4out :
																	  typid == FLOAT8OID ? float8out :
																	  numeric_out, value));
				int			len = strlen(str);

				if (IsValidJsonNumber(str, len))
				{
					jv->type = jbvNumeric;
					jv->val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(str),
																		  ObjectIdGetDatum(InvalidOid),
																		  Int32GetDatum(-1)));
				}
				else
				{
					jv->type = jbvString;
					jv->val.string.val = str;
					jv->val.string.len = len;
				}
				return true;
			}
		case BOOLOID:
			jv->type = jbvBool;
			jv->val.boolean = DatumGetBool(value);
			return true;
		case TEXTOID:
		case VARCHAROID:
			{
				text	   *t = DatumGetTextPP(value);
				Size		len = VARSIZE_ANY_EXHDR(t);

				if (len > JENTRY_OFFLENMASK)
					ereport(ERROR,
							(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							 view != NULL ?
							 errmsg("the text of feature \"%s.%s\" is too long for a JSON string (%zu bytes)",
									view, feature, len) :
							 errmsg("a text is too long for a JSON string (%zu bytes)", len),
							 errdetail("JSON strings cannot exceed %d bytes.", JENTRY_OFFLENMASK)));
				jv->type = jbvString;
				jv->val.string.len = (int) len;
				if ((Pointer) t != DatumGetPointer(value))
					jv->val.string.val = VARDATA_ANY(t);	/* detoasted: a copy */
				else
				{
					jv->val.string.val = palloc(len + 1);
					memcpy(jv->val.string.val, VARDATA_ANY(t), len);
					jv->val.string.val[len] = '\0';
				}
				return true;
			}
		case TIMESTAMPTZOID:
			jv->type = jbvString;
			jv->val.string.val = JsonEncodeDateTime(NULL, value, TIMESTAMPTZOID, NULL);
			jv->val.string.len = strlen(jv->val.string.val);
			return true;
		default:
			return false;
	}
}

/* an aggregate's value: its types are ps_agg_value_type's, else text */
static void
scalar_json(JsonbValue *jv, Datum value, Oid typid)
{
	if (ps_json_scalar(value, typid, NULL, NULL, jv))
		return;
	jv->type = jbvString;
	jv->val.string.val = TextDatumGetCString(value);
	jv->val.string.len = strlen(jv->val.string.val);
}

/* Push one feature value (a scalar or a one-dimensional array) as a value. */
void
ps_push_json_value(JsonbParseState **st, Datum value, Oid typid, bool isnull)
{
	JsonbValue	jv;
	Oid			elemtype = get_element_type(typid);

	if (isnull)
	{
		jv.type = jbvNull;
		pushJsonbValue(st, WJB_VALUE, &jv);
		return;
	}
	if (OidIsValid(elemtype))
	{
		ArrayType  *arr = DatumGetArrayTypeP(value);
		Datum	   *elems;
		bool	   *enulls;
		int			n;
		int16		len;
		bool		byval;
		char		align;

		get_typlenbyvalalign(elemtype, &len, &byval, &align);
		deconstruct_array(arr, elemtype, len, byval, align, &elems, &enulls, &n);
		pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
		for (int i = 0; i < n; i++)
		{
			if (enulls[i])
				jv.type = jbvNull;
			else
				scalar_json(&jv, elems[i], elemtype);
			pushJsonbValue(st, WJB_ELEM, &jv);
		}
		pushJsonbValue(st, WJB_END_ARRAY, NULL);
		return;
	}
	scalar_json(&jv, value, typid);
	pushJsonbValue(st, WJB_VALUE, &jv);
}
