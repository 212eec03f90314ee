/*
 * partial.c
 *		pushsource.fs_partial: the partial state of one windowed aggregation
 *		(Tecton's tiles).  A state summarizes the non-NULL values of some
 *		events; two states of the same function combine into the state of
 *		both sets of events, and a state finalizes into the feature value.
 *
 *		count                 count
 *		sum, mean             count, a 128-bit integer sum or a compensated
 *		                      (Neumaier) float sum: no silent overflow, no
 *		                      drift from the order tiles are combined in
 *		var_*, stddev_*       count, mean, M2 (Welford; Chan et al. to combine)
 *		min, max              the value
 *		last                  the value with the greatest (event time, order)
 *		last_n, first_n       up to n values, the latest / earliest
 *		last_distinct_n,      up to n distinct values, each at its latest /
 *		first_distinct_n      earliest (event time, order)
 *		approx_count_distinct the sorted 64-bit hashes of up to 2^precision / 8
 *		                      distinct values, then 2^precision HyperLogLog
 *		                      registers
 *		approx_percentile     DDSketch bucket counts (1% relative accuracy),
 *		                      special-value counts, the exact min and max
 *
 * Values are bigint (any integer input), double precision (float4/float8),
 * boolean, timestamptz (timestamp is read as UTC) or text; the order of
 * events is (event time, ingest order), as everywhere else.
 *
 * The type is written like pgvector's: the text form (JSON, one field per
 * part of the state) and the binary form are both checked completely on
 * input, so a state read back is always one this code could have made.
 *
 * This file holds the functions and value types, states in memory,
 * adding, combining and finalizing; the sketches are sketch.c's, the
 * stored and text forms partial_io.c's and the SQL interface
 * partial_sql.c's (partial_int.h is what they share).
 */
#include "partial_int.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "port/pg_bitutils.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#ifndef HAVE_INT128
#error "pushsource needs a compiler with 128-bit integers"
#endif


/* ---------------------------------------------------------------------
 * Functions and value types
 * --------------------------------------------------------------------- */

const PsAggFnInfo pp_agg_fns[] = {
	[PS_AGG_COUNT] = {"count", PARAM_NONE, false, false},
	[PS_AGG_SUM] = {"sum", PARAM_NONE, true, false},
	[PS_AGG_MEAN] = {"mean", PARAM_NONE, true, false},
	[PS_AGG_MIN] = {"min", PARAM_NONE, false, true},
	[PS_AGG_MAX] = {"max", PARAM_NONE, false, true},
	[PS_AGG_LAST] = {"last", PARAM_NONE, false, false},
	[PS_AGG_LAST_N] = {"last_n", PARAM_N, false, false},
	[PS_AGG_LAST_DISTINCT_N] = {"last_distinct_n", PARAM_N, false, false},
	[PS_AGG_FIRST_N] = {"first_n", PARAM_N, false, false},
	[PS_AGG_FIRST_DISTINCT_N] = {"first_distinct_n", PARAM_N, false, false},
	[PS_AGG_STDDEV_SAMP] = {"stddev_samp", PARAM_NONE, true, false},
	[PS_AGG_STDDEV_POP] = {"stddev_pop", PARAM_NONE, true, false},
	[PS_AGG_VAR_SAMP] = {"var_samp", PARAM_NONE, true, false},
	[PS_AGG_VAR_POP] = {"var_pop", PARAM_NONE, true, false},
	[PS_AGG_APPROX_COUNT_DISTINCT] = {"approx_count_distinct", PARAM_PRECISION, false, false},
	[PS_AGG_APPROX_PERCENTILE] = {"approx_percentile", PARAM_P, true, false},
};

/* The argument's name in messages and in the text form, and its range. */
const char *const pp_param_names[] = {"", "n", "precision", "p"};


bool
pp_param_ok(int fn, int64 n)
{
	switch (pp_agg_fns[fn].param)
	{
		case PARAM_NONE:
			return n == 0;
		case PARAM_N:
			return n >= 1 && n <= PS_MAX_N;
		case PARAM_PRECISION:
			return n >= HLL_MIN_PRECISION && n <= HLL_MAX_PRECISION;
		case PARAM_P:
			return n >= 0 && n <= P_SCALE;
	}
	return false;
}

const char *const pp_vt_names[] = {
	[PS_VT_INT8] = "bigint",
	[PS_VT_FLOAT8] = "double precision",
	[PS_VT_BOOL] = "boolean",
	[PS_VT_TS] = "timestamp with time zone",
	[PS_VT_TEXT] = "text",
};

static const Oid vt_oids[] = {
	[PS_VT_INT8] = INT8OID,
	[PS_VT_FLOAT8] = FLOAT8OID,
	[PS_VT_BOOL] = BOOLOID,
	[PS_VT_TS] = TIMESTAMPTZOID,
	[PS_VT_TEXT] = TEXTOID,
};


/* Does fn take values of type vt? (The one place that says so.) */
bool
pp_fn_takes(int fn, int vt)
{
	return !((pp_agg_fns[fn].numeric_only && vt != PS_VT_INT8 && vt != PS_VT_FLOAT8) ||
			 (pp_agg_fns[fn].ordered_only && (vt == PS_VT_BOOL || vt == PS_VT_TEXT)));
}

const char *
ps_agg_fn_name(PsAggFn fn)
{
	return pp_agg_fns[fn].name;
}

/* The sketches: states whose size grows with the values, not fixed. */
bool
ps_agg_is_sketch(PsAggFn fn)
{
	return fn == PS_AGG_APPROX_COUNT_DISTINCT || fn == PS_AGG_APPROX_PERCENTILE;
}

/* p in millionths as the shortest decimal: 0, 0.5, 0.999, 1 */
char *
pp_p_text(int n)
{
	char		buf[16];
	int			len;

	if (n % P_SCALE == 0)
		return psprintf("%d", n / P_SCALE);
	len = snprintf(buf, sizeof(buf), "0.%06d", n);
	while (buf[len - 1] == '0')
		buf[--len] = '\0';
	return pstrdup(buf);
}

/* "0.95" -> 950000; -1 unless a number from 0 to 1 with at most 6 decimals */
int
pp_parse_p(const char *s, size_t len)
{
	char	   *str = pnstrdup(s, len);
	char	   *end;
	double		v;
	double		scaled;

	errno = 0;
	v = strtod(str, &end);
	if (errno != 0 || end == str || *end != '\0' || !(v >= 0.0 && v <= 1.0) ||
		strspn(str, "0123456789.") != len)
		return -1;
	scaled = v * P_SCALE;
	if (fabs(scaled - rint(scaled)) > 1e-6)
		return -1;
	return (int) rint(scaled);
}

/* The function as stored and shown: "sum", "last_n(3)", "approx_percentile(0.95)". */
char *
ps_agg_spec(PsAggFn fn, int n)
{
	switch (pp_agg_fns[fn].param)
	{
		case PARAM_N:
			return psprintf("%s(%d)", pp_agg_fns[fn].name, n);
		case PARAM_PRECISION:
			return n == HLL_DEFAULT_PRECISION ? pstrdup(pp_agg_fns[fn].name) :
				psprintf("%s(%d)", pp_agg_fns[fn].name, n);
		case PARAM_P:
			return psprintf("%s(%s)", pp_agg_fns[fn].name, pp_p_text(n));
		default:
			return pstrdup(pp_agg_fns[fn].name);
	}
}

/*
 * The function's part of a feature name: "sum", "last_n_3",
 * "approx_count_distinct_12", "approx_percentile_p95", "..._p99_9".
 */
char *
ps_agg_name_part(PsAggFn fn, int n)
{
	switch (pp_agg_fns[fn].param)
	{
		case PARAM_N:
			return psprintf("%s_%d", pp_agg_fns[fn].name, n);
		case PARAM_PRECISION:
			return n == HLL_DEFAULT_PRECISION ? pstrdup(pp_agg_fns[fn].name) :
				psprintf("%s_%d", pp_agg_fns[fn].name, n);
		case PARAM_P:
			{
				/* as a percentage: whole part, then the decimals after "_" */
				int			whole = n / (P_SCALE / 100);
				int			frac = n % (P_SCALE / 100);
				char		digits[8];
				int			len;

				if (frac == 0)
					return psprintf("%s_p%d", pp_agg_fns[fn].name, whole);
				len = snprintf(digits, sizeof(digits), "%04d", frac);
				while (digits[len - 1] == '0')
					digits[--len] = '\0';
				return psprintf("%s_p%d_%s", pp_agg_fns[fn].name, whole, digits);
			}
		default:
			return pstrdup(pp_agg_fns[fn].name);
	}
}

/*
 * "sum", "last_n(3)", "approx_percentile(0.5)" -> the function and its
 * argument (n); the errors name the aggregation (what) and what is accepted.
 */
PsAggFn
ps_agg_fn_parse(const char *spec, int *n, const char *what)
{
	const char *paren = strchr(spec, '(');
	size_t		len = paren ? (size_t) (paren - spec) : strlen(spec);

	*n = 0;
	for (int f = 0; f < PS_AGG_NFNS; f++)
	{
		const PsAggFnInfo *info = &pp_agg_fns[f];
		char	   *end;
		long		v;
		size_t		arglen;

		if (strlen(info->name) != len || strncmp(spec, info->name, len) != 0)
			continue;
		if (info->param == PARAM_NONE)
		{
			if (paren)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s: aggregation function \"%s\" takes no argument", what, info->name)));
			return (PsAggFn) f;
		}
		if (!paren)
		{
			if (info->param == PARAM_PRECISION)
			{
				*n = HLL_DEFAULT_PRECISION;
				return (PsAggFn) f;
			}
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: aggregation function \"%s\" needs %s, as in %s(%s)", what,
							info->name, pp_param_names[info->param], info->name,
							info->param == PARAM_P ? "0.95" : "10")));
		}
		arglen = strlen(paren + 1);
		if (info->param == PARAM_P)
		{
			int			p = arglen > 0 && paren[arglen] == ')' ? pp_parse_p(paren + 1, arglen - 1) : -1;

			if (p < 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s: p of %s must be a number from 0 to 1 with at most 6 decimals, not \"%s\"",
								what, info->name, paren)));
			*n = p;
			return (PsAggFn) f;
		}
		errno = 0;
		v = strtol(paren + 1, &end, 10);
		if (errno != 0 || end == paren + 1 || strcmp(end, ")") != 0 || !pp_param_ok(f, v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: %s of %s must be an integer from %d to %d, not \"%s\"", what,
							pp_param_names[info->param], info->name,
							info->param == PARAM_N ? 1 : HLL_MIN_PRECISION,
							info->param == PARAM_N ? PS_MAX_N : HLL_MAX_PRECISION, paren)));
		*n = (int) v;
		return (PsAggFn) f;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s: unknown aggregation function \"%s\"", what, spec),
			 errhint("Functions are count, sum, mean, min, max, last, last_n(n), last_distinct_n(n), first_n(n), first_distinct_n(n), stddev_samp, stddev_pop, var_samp, var_pop, approx_count_distinct[(precision)] and approx_percentile(p).")));
	pg_unreachable();
}

/* The value type a column of type typid aggregates as; -1: none. */
int
ps_agg_value_type(Oid typid)
{
	switch (typid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return PS_VT_INT8;
		case FLOAT4OID:
		case FLOAT8OID:
			return PS_VT_FLOAT8;
		case BOOLOID:
			return PS_VT_BOOL;
		case TIMESTAMPTZOID:
		case TIMESTAMPOID:
			return PS_VT_TS;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			return PS_VT_TEXT;
		default:
			return -1;
	}
}

/* Can fn aggregate a column of type typid?  Errors name column and why. */
PsValType
ps_agg_check_input(PsAggFn fn, Oid typid, const char *what)
{
	int			vt = ps_agg_value_type(typid);

	if (vt < 0 || !pp_fn_takes(fn, vt))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s: %s cannot aggregate a column of type %s", what, pp_agg_fns[fn].name,
						format_type_be(typid)),
				 errhint(pp_agg_fns[fn].numeric_only ? "It takes integer and floating-point columns." :
						 pp_agg_fns[fn].ordered_only ? "It takes integer, floating-point and timestamp columns." :
						 "It takes integer, floating-point, boolean, timestamp and text columns.")));
	return (PsValType) vt;
}

/* The type of the feature fn makes of values of type vt. */
Oid
ps_agg_result_type(PsAggFn fn, PsValType vt)
{
	switch (fn)
	{
		case PS_AGG_COUNT:
		case PS_AGG_APPROX_COUNT_DISTINCT:
			return INT8OID;
		case PS_AGG_SUM:
			return vt_oids[vt];
		case PS_AGG_MIN:
		case PS_AGG_MAX:
		case PS_AGG_LAST:
			return vt_oids[vt];
		case PS_AGG_LAST_N:
		case PS_AGG_LAST_DISTINCT_N:
		case PS_AGG_FIRST_N:
		case PS_AGG_FIRST_DISTINCT_N:
			return get_array_type(vt_oids[vt]);
		default:
			return FLOAT8OID;	/* mean, variances, deviations, percentiles */
	}
}

/* ---------------------------------------------------------------------
 * States in memory
 * --------------------------------------------------------------------- */

PsPartial *
ps_partial_new(PsAggFn fn, int n, PsValType vt)
{
	PsPartial  *p = palloc0(sizeof(PsPartial));

	p->cxt = CurrentMemoryContext;
	p->fn = fn;
	p->n = n;
	p->vt = vt;
	if (IS_LIST(fn))
		p->items = palloc(sizeof(PsItem) * (n + 1));
	else if (fn == PS_AGG_MIN || fn == PS_AGG_MAX || fn == PS_AGG_LAST)
		p->items = palloc(sizeof(PsItem));
	return p;
}

/*
 * A value as the state compares it: integers as int8, char(n) without its
 * padding, text detoasted (in the caller's memory, not copied: keep_value
 * copies what a state keeps).
 */
Datum
pp_own_value(PsValType vt, Oid typid, Datum d)
{
	switch (typid)
	{
		case INT2OID:
			return Int64GetDatum(DatumGetInt16(d));
		case INT4OID:
			return Int64GetDatum(DatumGetInt32(d));
		case FLOAT4OID:
			return Float8GetDatum((float8) DatumGetFloat4(d));
		case BOOLOID:
			return Int64GetDatum(DatumGetBool(d) ? 1 : 0);
		case BPCHAROID:
			return DirectFunctionCall1(rtrim1, d);	/* as text() would */
		default:
			break;
	}
	if (vt == PS_VT_TEXT)
		return PointerGetDatum(PG_DETOAST_DATUM_PACKED(d));
	return d;					/* int8, float8, timestamps */
}

/*
 * Text a state keeps is its own copy in the state's memory, freed when the
 * state drops it: a state over many events holds only what it keeps.
 */
static Datum
keep_value(PsPartial *p, Datum v)
{
	char	   *copy;

	if (p->vt != PS_VT_TEXT)
		return v;
	copy = MemoryContextAlloc(p->cxt, VARSIZE_ANY(DatumGetPointer(v)));
	memcpy(copy, DatumGetPointer(v), VARSIZE_ANY(DatumGetPointer(v)));
	return PointerGetDatum(copy);
}

static void
drop_value(PsPartial *p, Datum v)
{
	if (p->vt == PS_VT_TEXT)
		pfree(DatumGetPointer(v));
}

/*
 * Insert item into a list state: keeps up to n, the latest or earliest by
 * event order, and for the distinct lists one item per value (its latest
 * or earliest occurrence).  Items stay sorted by event order.
 */
static void
list_insert(PsPartial *p, PsItem *it)
{
	bool		latest = IS_LATEST(p->fn);
	int			i;

	if (IS_DISTINCT(p->fn))
	{
		for (i = 0; i < p->nitems; i++)
			if (eq_value(p->vt, p->items[i].v, it->v))
				break;
		if (i < p->nitems)
		{
			int			c = cmp_item(p->vt, it, &p->items[i]);

			if (latest ? c <= 0 : c >= 0)
				return;			/* the one kept is already the latest/earliest */
			drop_value(p, p->items[i].v);
			memmove(&p->items[i], &p->items[i + 1], sizeof(PsItem) * (p->nitems - i - 1));
			p->nitems--;
		}
	}
	/* where it goes in event order; a full list keeps it only if it beats an end */
	for (i = p->nitems; i > 0 && cmp_item(p->vt, &p->items[i - 1], it) > 0; i--)
		;
	if (p->nitems == p->n && (latest ? i == 0 : i == p->nitems))
		return;
	memmove(&p->items[i + 1], &p->items[i], sizeof(PsItem) * (p->nitems - i));
	p->items[i] = *it;
	p->items[i].v = keep_value(p, it->v);
	p->nitems++;
	if (p->nitems > p->n)		/* room for n + 1: back to n */
	{
		if (latest)
		{
			drop_value(p, p->items[0].v);	/* the earliest */
			memmove(&p->items[0], &p->items[1], sizeof(PsItem) * (p->nitems - 1));
		}
		else
			drop_value(p, p->items[p->nitems - 1].v);	/* the latest */
		p->nitems--;
	}
}

/*
 * Counts of combined states: states read from outside may hold any count,
 * so adding two can overflow; that is an error of the input (22003), never
 * a state that later fails its own checks.
 */
static inline void
count_add(int64 *count, int64 n)
{
	if (pg_add_s64_overflow(*count, n, count))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("fs_partial: count out of range")));
}

static inline void
isum_add(PsPartial *p, int128 n)
{
	if (__builtin_add_overflow(p->isum, n, &p->isum))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("fs_partial: sum out of range")));
}

/* Fold a float into a compensated sum (Neumaier). */
static inline void
fsum_add(PsPartial *p, float8 x)
{
	float8		t = p->fsum + x;

	if (isfinite(t))
	{
		if (fabs(p->fsum) >= fabs(x))
			p->fcomp += (p->fsum - t) + x;
		else
			p->fcomp += (x - t) + p->fsum;
	}
	p->fsum = t;
}

/*
 * Add one non-NULL value of an event (time ts, ingest order ord), given as
 * a Datum of type typid (one ps_agg_value_type maps to the state's type).
 */
void
ps_partial_add(PsPartial *p, Oid typid, Datum value, TimestampTz ts, int64 ord)
{
	PsItem		it;

	it.ts = ts;
	it.ord = ord;
	count_add(&p->count, 1);
	switch (p->fn)
	{
		case PS_AGG_COUNT:
			return;
		case PS_AGG_SUM:
		case PS_AGG_MEAN:
			value = pp_own_value(p->vt, typid, value);
			if (p->vt == PS_VT_INT8)
				isum_add(p, DatumGetInt64(value));
			else
				fsum_add(p, DatumGetFloat8(value));
			return;
		case PS_AGG_STDDEV_SAMP:
		case PS_AGG_STDDEV_POP:
		case PS_AGG_VAR_SAMP:
		case PS_AGG_VAR_POP:
			{
				float8		x;
				float8		delta;

				value = pp_own_value(p->vt, typid, value);
				x = p->vt == PS_VT_INT8 ? (float8) DatumGetInt64(value) : DatumGetFloat8(value);
				delta = x - p->mean;
				p->mean += delta / (float8) p->count;
				p->m2 += delta * (x - p->mean);
				return;
			}
		case PS_AGG_APPROX_COUNT_DISTINCT:
			pp_hll_add_hash(p, pp_hash_value(p->vt, pp_own_value(p->vt, typid, value)));
			return;
		case PS_AGG_APPROX_PERCENTILE:
			value = pp_own_value(p->vt, typid, value);
			pp_dd_add(p, p->vt == PS_VT_INT8 ? (float8) DatumGetInt64(value) : DatumGetFloat8(value));
			return;
		case PS_AGG_MIN:
		case PS_AGG_MAX:
			value = pp_own_value(p->vt, typid, value);
			if (p->nitems == 0 ||
				(p->fn == PS_AGG_MIN ? cmp_value(p->vt, value, p->items[0].v) < 0
				 : cmp_value(p->vt, value, p->items[0].v) > 0))
			{
				p->items[0].ts = 0;
				p->items[0].ord = 0;
				p->items[0].v = value;
				p->nitems = 1;
			}
			return;
		case PS_AGG_LAST:
			it.v = pp_own_value(p->vt, typid, value);
			if (p->nitems == 0 || cmp_item(p->vt, &it, &p->items[0]) > 0)
			{
				if (p->nitems == 1)
					drop_value(p, p->items[0].v);
				it.v = keep_value(p, it.v);
				p->items[0] = it;
				p->nitems = 1;
			}
			return;
		default:
			it.v = pp_own_value(p->vt, typid, value);
			list_insert(p, &it);
			return;
	}
}

static void
check_same_kind(PsPartial *a, PsPartial *b)
{
	if (a->fn != b->fn || a->n != b->n || a->vt != b->vt)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine a state of %s over %s with a state of %s over %s",
						ps_agg_spec(a->fn, a->n), pp_vt_names[a->vt],
						ps_agg_spec(b->fn, b->n), pp_vt_names[b->vt])));
}

/* a := the state of a's events and b's. */
void
ps_partial_combine(PsPartial *a, PsPartial *b)
{
	check_same_kind(a, b);
	if (b->count == 0)
		return;
	if (IS_VAR(a->fn))
	{
		/* Chan, Golub and LeVeque's pairwise update */
		float8		na = (float8) a->count;
		float8		nb = (float8) b->count;
		float8		n = na + nb;
		float8		delta = b->mean - a->mean;

		if (a->count == 0)
		{
			a->mean = b->mean;
			a->m2 = b->m2;
		}
		else
		{
			a->mean += delta * nb / n;
			a->m2 += b->m2 + delta * delta * na * nb / n;
		}
		count_add(&a->count, b->count);
		return;
	}
	count_add(&a->count, b->count);
	switch (a->fn)
	{
		case PS_AGG_COUNT:
			return;
		case PS_AGG_APPROX_COUNT_DISTINCT:
			pp_hll_combine(a, b);
			return;
		case PS_AGG_APPROX_PERCENTILE:
			pp_dd_combine(a, b);
			return;
		case PS_AGG_SUM:
		case PS_AGG_MEAN:
			if (a->vt == PS_VT_INT8)
				isum_add(a, b->isum);
			else
			{
				fsum_add(a, b->fsum);
				a->fcomp += b->fcomp;
			}
			return;
		case PS_AGG_MIN:
		case PS_AGG_MAX:
			if (b->nitems == 1 &&
				(a->nitems == 0 ||
				 (a->fn == PS_AGG_MIN ? cmp_value(a->vt, b->items[0].v, a->items[0].v) < 0
				  : cmp_value(a->vt, b->items[0].v, a->items[0].v) > 0)))
			{
				a->items[0] = b->items[0];
				a->nitems = 1;
			}
			return;
		case PS_AGG_LAST:
			if (b->nitems == 1 && (a->nitems == 0 || cmp_item(a->vt, &b->items[0], &a->items[0]) > 0))
			{
				if (a->nitems == 1)
					drop_value(a, a->items[0].v);
				a->items[0] = b->items[0];
				a->items[0].v = keep_value(a, b->items[0].v);
				a->nitems = 1;
			}
			return;
		default:
			for (int i = 0; i < b->nitems; i++)
				list_insert(a, &b->items[i]);
			return;
	}
}

/* A copy of p, with its own memory in the current context. */
PsPartial *
ps_partial_copy(PsPartial *p)
{
	PsPartial  *c = ps_partial_new(p->fn, p->n, p->vt);
	PsItem	   *items = c->items;

	*c = *p;
	c->cxt = CurrentMemoryContext;
	c->items = items;
	for (int i = 0; i < p->nitems; i++)
	{
		c->items[i] = p->items[i];
		c->items[i].v = keep_value(c, p->items[i].v);
	}
	if (p->hashes != NULL)
	{
		c->hashes = palloc(sizeof(uint64) * p->hcap);
		memcpy(c->hashes, p->hashes, sizeof(uint64) * p->nhash);
	}
	if (p->regs != NULL)
	{
		c->regs = palloc((Size) 1 << p->n);
		memcpy(c->regs, p->regs, (Size) 1 << p->n);
	}
	for (int side = 0; side < 2; side++)
	{
		PsSketchSide *from = side == 0 ? &p->pos : &p->neg;
		PsSketchSide *to = side == 0 ? &c->pos : &c->neg;

		if (from->cnt != NULL)
		{
			to->cnt = palloc(sizeof(int64) * (from->hi - from->lo));
			memcpy(to->cnt, from->cnt, sizeof(int64) * (from->hi - from->lo));
		}
	}
	return c;
}

/*
 * Does the state's value leave its type's range?  Only an Int64 sum can
 * (its state is 128 bits wide): its feature is then NULL, and an online
 * read says OUT_OF_RANGE, so that one feature's overflow leaves the view's
 * other features servable.
 */
bool
ps_partial_out_of_range(const PsPartial *p)
{
	return p->fn == PS_AGG_SUM && p->vt != PS_VT_FLOAT8 && p->count > 0 &&
		(p->isum > PG_INT64_MAX || p->isum < PG_INT64_MIN);
}

/*
 * The feature value; *isnull for an empty window (but count is 0) and for
 * a value out of its type's range (ps_partial_out_of_range).
 */
Datum
ps_partial_final(PsPartial *p, bool *isnull)
{
	*isnull = false;
	if (p->fn == PS_AGG_COUNT)
		return Int64GetDatum(p->count);
	if (p->fn == PS_AGG_APPROX_COUNT_DISTINCT)
		return Int64GetDatum(pp_hll_count(p));
	if (IS_LIST(p->fn))
	{
		Datum	   *elems = palloc(sizeof(Datum) * Max(p->nitems, 1));
		int16		len;
		bool		byval;
		char		align;

		for (int i = 0; i < p->nitems; i++)
			elems[i] = p->vt == PS_VT_BOOL ? BoolGetDatum(DatumGetInt64(p->items[i].v) != 0)
				: p->items[i].v;
		get_typlenbyvalalign(vt_oids[p->vt], &len, &byval, &align);
		return PointerGetDatum(construct_array(elems, p->nitems, vt_oids[p->vt], len, byval, align));
	}
	if (p->count == 0)
	{
		*isnull = true;
		return (Datum) 0;
	}
	switch (p->fn)
	{
		case PS_AGG_APPROX_PERCENTILE:
			return Float8GetDatum(pp_dd_percentile(p));
		case PS_AGG_SUM:
			if (p->vt == PS_VT_FLOAT8)
				return Float8GetDatum(isfinite(p->fsum) ? p->fsum + p->fcomp : p->fsum);
			if (ps_partial_out_of_range(p))
			{
				*isnull = true;
				return (Datum) 0;
			}
			return Int64GetDatum((int64) p->isum);
		case PS_AGG_MEAN:
			if (p->vt == PS_VT_FLOAT8)
				return Float8GetDatum((isfinite(p->fsum) ? p->fsum + p->fcomp : p->fsum) / (float8) p->count);
			return Float8GetDatum((float8) p->isum / (float8) p->count);
		case PS_AGG_VAR_POP:
		case PS_AGG_STDDEV_POP:
		case PS_AGG_VAR_SAMP:
		case PS_AGG_STDDEV_SAMP:
			{
				bool		samp = p->fn == PS_AGG_VAR_SAMP || p->fn == PS_AGG_STDDEV_SAMP;
				float8		v;

				if (samp && p->count < 2)
				{
					*isnull = true;
					return (Datum) 0;
				}
				v = Max(p->m2, 0.0) / (float8) (samp ? p->count - 1 : p->count);
				if (isnan(p->m2))
					v = p->m2;
				return Float8GetDatum(p->fn == PS_AGG_VAR_POP || p->fn == PS_AGG_VAR_SAMP ? v : sqrt(v));
			}
		default:
			/* min, max, last */
			if (p->vt == PS_VT_BOOL)
				return BoolGetDatum(DatumGetInt64(p->items[0].v) != 0);
			return p->items[0].v;
	}
}
