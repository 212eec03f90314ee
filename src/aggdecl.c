/*
 * aggdecl.c
 *		The declarations of aggregate features: fs_agg and the registration
 *		helpers (names, result types), windows and intervals as fixed
 *		durations, and the catalog's view of an aggregate view (its slots:
 *		one partial state per distinct column and function, see
 *		aggregation.c).  Depends on the names and the partial states only,
 *		so the catalog loader can call it without a loop back into the
 *		catalog.
 *
 * Windows and intervals are fixed durations in whole seconds: a day is 24
 * hours, months and years are refused.
 */
#include "pushsource.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#define MIN_INTERVAL_US (60 * USECS_PER_SEC)
/* longest window or interval: 100 years keeps every sum of them in int64 */
#define MAX_DURATION_US (INT64CONST(36525) * USECS_PER_DAY)

/* ---------------------------------------------------------------------
 * Durations
 * --------------------------------------------------------------------- */

static char *
interval_text(Interval *iv)
{
	return DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(iv)));
}

/* A window or interval in microseconds; errors say what and why. */
static int64
duration_us(Interval *iv, const char *what, const char *arg)
{
	int128		us;

	if (iv->month != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: %s must be a fixed duration, not %s", what, arg, interval_text(iv)),
				 errhint("Months and years have no fixed length; use days, as in '30 days'.")));
	us = (int128) iv->day * USECS_PER_DAY + iv->time;
	if (us <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: %s must be positive, got %s", what, arg, interval_text(iv))));
	if (us % USECS_PER_SEC != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: %s must be a whole number of seconds, got %s", what, arg, interval_text(iv))));
	if (us > MAX_DURATION_US)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: %s must be at most 36525 days, got %s", what, arg, interval_text(iv))));
	return (int64) us;
}

int64
ps_agg_interval_us(Datum interval)
{
	Interval   *iv = DatumGetIntervalP(interval);

	return (int64) iv->day * USECS_PER_DAY + iv->time;
}

/* "1d", "1h30m", "45s": the window part of a feature name. */
static char *
duration_name(int64 us)
{
	StringInfoData buf;
	int64		s = us / USECS_PER_SEC;

	initStringInfo(&buf);
	if (s >= SECS_PER_DAY)
		appendStringInfo(&buf, INT64_FORMAT "d", s / SECS_PER_DAY);
	if (s % SECS_PER_DAY >= SECS_PER_HOUR)
		appendStringInfo(&buf, INT64_FORMAT "h", s % SECS_PER_DAY / SECS_PER_HOUR);
	if (s % SECS_PER_HOUR >= SECS_PER_MINUTE)
		appendStringInfo(&buf, INT64_FORMAT "m", s % SECS_PER_HOUR / SECS_PER_MINUTE);
	if (s % SECS_PER_MINUTE > 0)
		appendStringInfo(&buf, INT64_FORMAT "s", s % SECS_PER_MINUTE);
	return buf.data;
}

/* ---------------------------------------------------------------------
 * fs_agg and the registration helpers
 * --------------------------------------------------------------------- */

static char *
text_arg(FunctionCallInfo fcinfo, int i)
{
	return PG_ARGISNULL(i) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(i));
}

/*
 * fs_agg(column, function, time_window, name): one aggregation, checked as
 * far as it can be without its view (the column's type and the view's
 * interval are checked by fs_create_feature_view).
 */
PG_FUNCTION_INFO_V1(fs_agg);
Datum
fs_agg(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	char	   *col = text_arg(fcinfo, 0);
	char	   *spec = text_arg(fcinfo, 1);
	char	   *name = text_arg(fcinfo, 3);
	char	   *what;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	PsAggFn		fn;
	int			n;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "fs_agg must return pushsource.aggregation");
	if (col == NULL || spec == NULL || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("fs_agg: column, function and time_window must not be null"),
				 errhint("For example: fs_agg('amount', 'sum', '1 hour').")));
	ps_check_name(col, "column");
	what = psprintf("aggregation of column \"%s\"", col);
	fn = ps_agg_fn_parse(spec, &n, what);
	duration_us(PG_GETARG_INTERVAL_P(2), what, "time_window");
	if (name != NULL)
		ps_check_name(name, "feature");

	values[0] = CStringGetTextDatum(col);
	values[1] = CStringGetTextDatum(ps_agg_spec(fn, n));
	values[2] = PG_GETARG_DATUM(2);
	if (name != NULL)
		values[3] = CStringGetTextDatum(name);
	else
		nulls[3] = true;
	desc = BlessTupleDesc(desc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/* The fields of one pushsource.aggregation value. */
typedef struct AggDecl
{
	char	   *col;
	char	   *spec;
	Interval   *window;
	char	   *name;
} AggDecl;

static List *
decode_aggregations(Datum arr, const char *view)
{
	ArrayType  *a = DatumGetArrayTypeP(arr);
	Datum	   *elems;
	bool	   *enulls;
	int			n;
	int16		len;
	bool		byval;
	char		align;
	List	   *result = NIL;

	get_typlenbyvalalign(ARR_ELEMTYPE(a), &len, &byval, &align);
	deconstruct_array(a, ARR_ELEMTYPE(a), len, byval, align, &elems, &enulls, &n);
	for (int i = 0; i < n; i++)
	{
		AggDecl    *d = palloc0(sizeof(AggDecl));
		HeapTupleHeader t;
		bool		isnull;
		Datum		f;

		if (enulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("feature view \"%s\": aggregation %d is null", view, i + 1)));
		t = DatumGetHeapTupleHeader(elems[i]);
		f = GetAttributeByNum(t, 1, &isnull);
		d->col = isnull ? NULL : TextDatumGetCString(f);
		f = GetAttributeByNum(t, 2, &isnull);
		d->spec = isnull ? NULL : TextDatumGetCString(f);
		f = GetAttributeByNum(t, 3, &isnull);
		d->window = isnull ? NULL : DatumGetIntervalP(f);
		f = GetAttributeByNum(t, 4, &isnull);
		d->name = isnull ? NULL : TextDatumGetCString(f);
		result = lappend(result, d);
	}
	return result;
}

/*
 * _resolve_aggregations(view, source_table, aggregations, interval): checks
 * the aggregations of a new view against its source's columns and its
 * interval, and returns them with every name filled in (Tecton style:
 * {column}_{function}[_{n}]_{window}_{interval|continuous}).
 */
PG_FUNCTION_INFO_V1(fs_resolve_aggregations);
Datum
fs_resolve_aggregations(PG_FUNCTION_ARGS)
{
	char	   *view = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Oid			relid = PG_GETARG_OID(1);
	List	   *decls;
	int64		interval = 0;
	char	   *suffix = "continuous";
	Datum	   *out;
	TupleDesc	desc;
	Oid			elemtype;
	ListCell   *lc;
	int			i = 0;
	List	   *names = NIL;

	if (PG_ARGISNULL(2))
		PG_RETURN_NULL();
	elemtype = ARR_ELEMTYPE(PG_GETARG_ARRAYTYPE_P(2));
	decls = decode_aggregations(PG_GETARG_DATUM(2), view);
	if (decls == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("feature view \"%s\": aggregations is empty", view),
				 errhint("Pass NULL for a view of attribute features, or at least one fs_agg(...).")));
	if (!PG_ARGISNULL(3))
	{
		char	   *what = psprintf("feature view \"%s\"", view);

		interval = duration_us(PG_GETARG_INTERVAL_P(3), what, "aggregation_interval");
		if (interval < MIN_INTERVAL_US)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: aggregation_interval must be at least 1 minute, got %s", what,
							interval_text(PG_GETARG_INTERVAL_P(3))),
					 errhint("Leave it NULL for exact sliding windows over the raw events.")));
		suffix = duration_name(interval);
	}
	desc = lookup_rowtype_tupdesc(elemtype, -1);
	out = palloc(sizeof(Datum) * list_length(decls));
	foreach(lc, decls)
	{
		AggDecl    *d = lfirst(lc);
		char	   *what;
		AttrNumber	attnum;
		PsAggFn		fn;
		int			n;
		int64		window;
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		ListCell   *ln;

		i++;
		if (d->col == NULL || d->spec == NULL || d->window == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("feature view \"%s\": aggregation %d needs a column, a function and a time_window",
							view, i),
					 errhint("Build aggregations with fs_agg(column, function, time_window).")));
		what = psprintf("feature view \"%s\", aggregation %d (%s of \"%s\")", view, i, d->spec, d->col);
		ps_check_name(d->col, "column");
		attnum = get_attnum(relid, d->col);
		if (attnum <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("%s: \"%s\" is not a column of push source table %s", what, d->col,
							get_rel_name(relid) ? get_rel_name(relid) : psprintf("%u", relid)),
					 errhint("The source's columns are listed by fs_get_columns(source).")));
		fn = ps_agg_fn_parse(d->spec, &n, what);
		ps_agg_check_input(fn, get_atttype(relid, attnum), what);
		window = duration_us(d->window, what, "time_window");
		if (interval > 0 && window % interval != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: time_window %s is not a multiple of aggregation_interval %s", what,
							interval_text(d->window), interval_text(PG_GETARG_INTERVAL_P(3))),
					 errhint("A tiled window is a whole number of tiles.")));
		if (d->name == NULL)
		{
			d->name = psprintf("%s_%s_%s_%s", d->col, ps_agg_name_part(fn, n),
							   duration_name(window), suffix);
			if (!ps_name_is_valid(d->name))
				ereport(ERROR,
						(errcode(ERRCODE_NAME_TOO_LONG),
						 errmsg("%s: its default name \"%s\" is longer than %d bytes", what, d->name,
								PS_MAX_NAME_LEN),
						 errhint("Name it: fs_agg(column, function, time_window, name => '...').")));
		}
		else
			ps_check_name(d->name, "feature");
		foreach(ln, names)
			if (strcmp(lfirst(ln), d->name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("feature view \"%s\": two aggregations are named \"%s\"", view, d->name),
						 errhint("Give one of them another name with fs_agg(..., name => '...').")));
		names = lappend(names, d->name);
		values[0] = CStringGetTextDatum(d->col);
		values[1] = CStringGetTextDatum(ps_agg_spec(fn, n));
		values[2] = IntervalPGetDatum(d->window);
		values[3] = CStringGetTextDatum(d->name);
		out[i - 1] = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
	}
	ReleaseTupleDesc(desc);
	PG_RETURN_ARRAYTYPE_P(construct_array(out, list_length(decls), elemtype, -1, false, TYPALIGN_DOUBLE));
}

/* _agg_name_part(function): "last_n_3" for "last_n(3)", as in feature names. */
PG_FUNCTION_INFO_V1(fs_agg_name_part);
Datum
fs_agg_name_part(PG_FUNCTION_ARGS)
{
	int			n;
	PsAggFn		fn = ps_agg_fn_parse(text_to_cstring(PG_GETARG_TEXT_PP(0)), &n, "aggregation");

	PG_RETURN_TEXT_P(cstring_to_text(ps_agg_name_part(fn, n)));
}

/* _agg_result_type(function, column type): the feature's type name. */
PG_FUNCTION_INFO_V1(fs_agg_result_type);
Datum
fs_agg_result_type(PG_FUNCTION_ARGS)
{
	int			n;
	PsAggFn		fn = ps_agg_fn_parse(text_to_cstring(PG_GETARG_TEXT_PP(0)), &n, "aggregation");
	int			vt = ps_agg_value_type(PG_GETARG_OID(1));

	if (vt < 0)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(format_type_be(ps_agg_result_type(fn, (PsValType) vt))));
}

/* ---------------------------------------------------------------------
 * The catalog's view of an aggregate view
 * --------------------------------------------------------------------- */

/* Called by the catalog loader, in the generation's memory. */
void
ps_view_set_aggregations(PsView *v, Datum aggs, int64 interval)
{
	List	   *decls = decode_aggregations(aggs, v->name);
	ListCell   *lc;
	int			i = 0;

	v->naggs = list_length(decls);
	v->aggs = palloc0(sizeof(PsAgg) * v->naggs);
	v->slots = palloc0(sizeof(PsAggSlot) * v->naggs);
	v->nslots = 0;
	v->agg_interval = interval;
	v->max_window = 0;
	foreach(lc, decls)
	{
		AggDecl    *d = lfirst(lc);
		PsAgg	   *a = &v->aggs[i++];
		int			col = ps_column_index(v->source, d->col, v->name);
		int			n;
		PsAggFn		fn = ps_agg_fn_parse(d->spec, &n, v->name);
		int			s;

		a->name = d->name;
		a->spec = d->spec;
		a->window = ps_agg_interval_us(IntervalPGetDatum(d->window));
		v->max_window = Max(v->max_window, a->window);
		for (s = 0; s < v->nslots; s++)
			if (v->slots[s].col == col && v->slots[s].fn == (int) fn && v->slots[s].n == n)
				break;
		if (s == v->nslots)
		{
			PsAggSlot  *sl = &v->slots[v->nslots++];

			sl->col = col;
			sl->fn = fn;
			sl->n = n;
			sl->typid = v->source->cols[col].type->typid;
			sl->vt = ps_agg_check_input(fn, sl->typid, v->name);
			sl->arg = -1;
			for (int f = 0; f < v->nfeatures; f++)
				if (v->feature_cols[f] == col)
					sl->arg = f;
			if (sl->arg < 0)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("feature view \"%s\" aggregates column \"%s\", which it does not store",
								v->name, d->col),
						 errhint("Run SELECT pushsource.fs_validate('%s').", v->name)));
		}
		a->slot = s;
	}
}

Oid
ps_agg_feature_type(PsView *v, int agg)
{
	PsAggSlot  *sl = &v->slots[v->aggs[agg].slot];

	return ps_agg_result_type(sl->fn, sl->vt);
}
