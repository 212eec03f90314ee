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
 * input, so a state read back is always one this file could have made.
 */
#include "pushsource.h"

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

#define PS_PARTIAL_VERSION 1
#define PS_MAX_N 1000

/* ---------------------------------------------------------------------
 * Functions and value types
 * --------------------------------------------------------------------- */

/* What the parenthesized argument of a function is. */
typedef enum PsParam
{
	PARAM_NONE,
	PARAM_N,					/* last_n(n) ...: 1 to 1000, required */
	PARAM_PRECISION,			/* approx_count_distinct(precision): 4 to 16, default 8 */
	PARAM_P						/* approx_percentile(p): 0 to 1, kept in millionths */
} PsParam;

typedef struct PsAggFnInfo
{
	const char *name;
	PsParam		param;
	bool		numeric_only;	/* sum, mean, variance, percentile: integers and floats */
	bool		ordered_only;	/* min, max: not boolean or text */
} PsAggFnInfo;

static const PsAggFnInfo agg_fns[] = {
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
static const char *const param_names[] = {"", "n", "precision", "p"};

#define HLL_MIN_PRECISION 4
#define HLL_MAX_PRECISION 16
#define HLL_DEFAULT_PRECISION 8		/* Tecton's default */
#define P_SCALE 1000000				/* p is kept in millionths */

static bool
param_ok(int fn, int64 n)
{
	switch (agg_fns[fn].param)
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

static const char *const vt_names[] = {
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

#define IS_LIST(fn) ((fn) == PS_AGG_LAST_N || (fn) == PS_AGG_LAST_DISTINCT_N || \
					 (fn) == PS_AGG_FIRST_N || (fn) == PS_AGG_FIRST_DISTINCT_N)
#define IS_VAR(fn) ((fn) >= PS_AGG_STDDEV_SAMP && (fn) <= PS_AGG_VAR_POP)
#define IS_LATEST(fn) ((fn) == PS_AGG_LAST_N || (fn) == PS_AGG_LAST_DISTINCT_N)
#define IS_DISTINCT(fn) ((fn) == PS_AGG_LAST_DISTINCT_N || (fn) == PS_AGG_FIRST_DISTINCT_N)

/* Does fn take values of type vt? (The one place that says so.) */
static bool
fn_takes(int fn, int vt)
{
	return !((agg_fns[fn].numeric_only && vt != PS_VT_INT8 && vt != PS_VT_FLOAT8) ||
			 (agg_fns[fn].ordered_only && (vt == PS_VT_BOOL || vt == PS_VT_TEXT)));
}

const char *
ps_agg_fn_name(PsAggFn fn)
{
	return agg_fns[fn].name;
}

/* The sketches: states whose size grows with the values, not fixed. */
bool
ps_agg_is_sketch(PsAggFn fn)
{
	return fn == PS_AGG_APPROX_COUNT_DISTINCT || fn == PS_AGG_APPROX_PERCENTILE;
}

/* p in millionths as the shortest decimal: 0, 0.5, 0.999, 1 */
static char *
p_text(int n)
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
static int
p_parse(const char *s, size_t len)
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
	switch (agg_fns[fn].param)
	{
		case PARAM_N:
			return psprintf("%s(%d)", agg_fns[fn].name, n);
		case PARAM_PRECISION:
			return n == HLL_DEFAULT_PRECISION ? pstrdup(agg_fns[fn].name) :
				psprintf("%s(%d)", agg_fns[fn].name, n);
		case PARAM_P:
			return psprintf("%s(%s)", agg_fns[fn].name, p_text(n));
		default:
			return pstrdup(agg_fns[fn].name);
	}
}

/*
 * The function's part of a feature name: "sum", "last_n_3",
 * "approx_count_distinct_12", "approx_percentile_p95", "..._p99_9".
 */
char *
ps_agg_name_part(PsAggFn fn, int n)
{
	switch (agg_fns[fn].param)
	{
		case PARAM_N:
			return psprintf("%s_%d", agg_fns[fn].name, n);
		case PARAM_PRECISION:
			return n == HLL_DEFAULT_PRECISION ? pstrdup(agg_fns[fn].name) :
				psprintf("%s_%d", agg_fns[fn].name, n);
		case PARAM_P:
			{
				/* as a percentage: whole part, then the decimals after "_" */
				int			whole = n / (P_SCALE / 100);
				int			frac = n % (P_SCALE / 100);
				char		digits[8];
				int			len;

				if (frac == 0)
					return psprintf("%s_p%d", agg_fns[fn].name, whole);
				len = snprintf(digits, sizeof(digits), "%04d", frac);
				while (digits[len - 1] == '0')
					digits[--len] = '\0';
				return psprintf("%s_p%d_%s", agg_fns[fn].name, whole, digits);
			}
		default:
			return pstrdup(agg_fns[fn].name);
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
		const PsAggFnInfo *info = &agg_fns[f];
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
							info->name, param_names[info->param], info->name,
							info->param == PARAM_P ? "0.95" : "10")));
		}
		arglen = strlen(paren + 1);
		if (info->param == PARAM_P)
		{
			int			p = arglen > 0 && paren[arglen] == ')' ? p_parse(paren + 1, arglen - 1) : -1;

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
		if (errno != 0 || end == paren + 1 || strcmp(end, ")") != 0 || !param_ok(f, v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: %s of %s must be an integer from %d to %d, not \"%s\"", what,
							param_names[info->param], info->name,
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

	if (vt < 0 || !fn_takes(fn, vt))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s: %s cannot aggregate a column of type %s", what, agg_fns[fn].name,
						format_type_be(typid)),
				 errhint(agg_fns[fn].numeric_only ? "It takes integer and floating-point columns." :
						 agg_fns[fn].ordered_only ? "It takes integer, floating-point and timestamp columns." :
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

/* Order of events: (event time, ingest order). */
static inline int
cmp_event(const PsItem *a, const PsItem *b)
{
	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	if (a->ord != b->ord)
		return a->ord < b->ord ? -1 : 1;
	return 0;
}

/* Order of values (min, max): float8 as PostgreSQL orders it (NaN last). */
static inline int
cmp_value(PsValType vt, Datum a, Datum b)
{
	if (vt == PS_VT_FLOAT8)
		return float8_cmp_internal(DatumGetFloat8(a), DatumGetFloat8(b));
	if (DatumGetInt64(a) != DatumGetInt64(b))
		return DatumGetInt64(a) < DatumGetInt64(b) ? -1 : 1;
	return 0;
}

/*
 * The total order of list items: event order, then the value (its bytes
 * last), so that items of equal (ts, ord) -- which fs_partial_agg may be
 * given, and a state combined with itself holds -- still sort one way and a
 * state stays a function of the multiset of its events.
 */
static inline int
cmp_item(PsValType vt, const PsItem *a, const PsItem *b)
{
	int			c = cmp_event(a, b);

	if (c != 0)
		return c;
	if (vt == PS_VT_TEXT)
	{
		int			la = VARSIZE_ANY_EXHDR(DatumGetPointer(a->v));
		int			lb = VARSIZE_ANY_EXHDR(DatumGetPointer(b->v));
		int			m = memcmp(VARDATA_ANY(DatumGetPointer(a->v)),
							   VARDATA_ANY(DatumGetPointer(b->v)), Min(la, lb));

		if (m != 0)
			return m < 0 ? -1 : 1;
		return la == lb ? 0 : (la < lb ? -1 : 1);
	}
	c = cmp_value(vt, a->v, b->v);
	if (c != 0)
		return c;
	/* -0 and 0, or two NaNs: their bits decide */
	if (DatumGetInt64(a->v) != DatumGetInt64(b->v))
		return DatumGetInt64(a->v) < DatumGetInt64(b->v) ? -1 : 1;
	return 0;
}

/* Equality of values (the distinct lists): as SQL's = (-0 = 0, NaN = NaN). */
static inline bool
eq_value(PsValType vt, Datum a, Datum b)
{
	if (vt == PS_VT_TEXT)
		return VARSIZE_ANY_EXHDR(DatumGetPointer(a)) == VARSIZE_ANY_EXHDR(DatumGetPointer(b)) &&
			memcmp(VARDATA_ANY(DatumGetPointer(a)), VARDATA_ANY(DatumGetPointer(b)),
				   VARSIZE_ANY_EXHDR(DatumGetPointer(a))) == 0;
	return cmp_value(vt, a, b) == 0;
}

/*
 * A value as the state compares it: integers as int8, char(n) without its
 * padding, text detoasted (in the caller's memory, not copied: keep_value
 * copies what a state keeps).
 */
static Datum
own_value(PsValType vt, Oid typid, Datum d)
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

/* ---------------------------------------------------------------------
 * approx_count_distinct: HyperLogLog
 *
 * Each value is hashed to 64 bits (below: the same bits on every
 * platform).  Up to 2^precision / 8 distinct hashes the state keeps them,
 * sorted, and the count is exact (up to 64-bit collisions); past that it
 * keeps 2^precision one-byte registers, each the greatest rank (position
 * of the first 1 bit after the register's precision index bits) of the
 * hashes that fall in it, and the count is estimated with Ertl's improved
 * estimator (standard error about 1.04 / sqrt(2^precision)).  Either form
 * is a function of the set of hashes alone, so states combine in any
 * order to the same state: tiles online and the sweep offline agree.
 * --------------------------------------------------------------------- */

#define HLL_C1 UINT64CONST(0x87c37b91114253d5)
#define HLL_C2 UINT64CONST(0x4cf5ad432745937f)
#define HLL_SEED UINT64CONST(0x9e3779b97f4a7c15)

static inline uint64
rotl64(uint64 x, int r)
{
	return (x << r) | (x >> (64 - r));
}

/* MurmurHash3's 64-bit finalizer: a bijection that mixes every bit */
static inline uint64
fmix64(uint64 k)
{
	k ^= k >> 33;
	k *= UINT64CONST(0xff51afd7ed558ccd);
	k ^= k >> 33;
	k *= UINT64CONST(0xc4ceb9fe1a85ec53);
	k ^= k >> 33;
	return k;
}

/* bytes, read little-endian whatever the machine: a Murmur-style hash */
static uint64
hash_bytes64(const unsigned char *d, size_t len)
{
	uint64		h = HLL_SEED ^ ((uint64) len * HLL_C2);
	size_t		i = 0;
	uint64		k;

	for (; i + 8 <= len; i += 8)
	{
		k = 0;
		for (int j = 7; j >= 0; j--)
			k = (k << 8) | d[i + j];
		k *= HLL_C1;
		k = rotl64(k, 31);
		k *= HLL_C2;
		h ^= k;
		h = rotl64(h, 27) * 5 + 0x52dce729;
	}
	k = 0;
	for (size_t j = len; j > i; j--)
		k = (k << 8) | d[j - 1];
	k *= HLL_C1;
	k = rotl64(k, 31);
	k *= HLL_C2;
	h ^= k;
	return fmix64(h);
}

/* The hash of a value as the state keeps it (own_value's form). */
static uint64
hash_value(PsValType vt, Datum v)
{
	if (vt == PS_VT_TEXT)
		return hash_bytes64((const unsigned char *) VARDATA_ANY(DatumGetPointer(v)),
							VARSIZE_ANY_EXHDR(DatumGetPointer(v)));
	if (vt == PS_VT_FLOAT8)
	{
		/* as SQL's =: -0 is 0, every NaN is one value */
		union
		{
			float8		f;
			uint64		u;
		}			x;

		x.f = DatumGetFloat8(v);
		if (x.f == 0.0)
			x.f = 0.0;
		else if (isnan(x.f))
			x.f = get_float8_nan();
		return fmix64(x.u + HLL_SEED);
	}
	return fmix64((uint64) DatumGetInt64(v) + HLL_SEED);
}

static inline int
hll_sparse_max(int precision)
{
	return (1 << precision) / 8;
}

static inline void
hll_register(uint8 *regs, int precision, uint64 h)
{
	uint32		idx = (uint32) (h >> (64 - precision));
	uint64		w = h << precision;
	uint8		rank = w == 0 ? (uint8) (64 - precision + 1) :
		(uint8) (64 - pg_leftmost_one_pos64(w));

	if (regs[idx] < rank)
		regs[idx] = rank;
}

static void
hll_to_dense(PsPartial *p)
{
	p->regs = MemoryContextAllocZero(p->cxt, (Size) 1 << p->n);
	for (int i = 0; i < p->nhash; i++)
		hll_register(p->regs, p->n, p->hashes[i]);
	if (p->hashes != NULL)
		pfree(p->hashes);
	p->hashes = NULL;
	p->nhash = 0;
	p->hcap = 0;
}

static void
hll_add_hash(PsPartial *p, uint64 h)
{
	int			lo = 0,
				hi = p->nhash;

	if (p->regs != NULL)
	{
		hll_register(p->regs, p->n, h);
		return;
	}
	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (p->hashes[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < p->nhash && p->hashes[lo] == h)
		return;
	if (p->nhash == hll_sparse_max(p->n))
	{
		hll_to_dense(p);
		hll_register(p->regs, p->n, h);
		return;
	}
	if (p->nhash == p->hcap)
	{
		int			cap = Min(Max(8, p->hcap * 2), hll_sparse_max(p->n));
		uint64	   *grown = MemoryContextAlloc(p->cxt, sizeof(uint64) * cap);

		if (p->nhash > 0)
			memcpy(grown, p->hashes, sizeof(uint64) * p->nhash);
		if (p->hashes != NULL)
			pfree(p->hashes);
		p->hashes = grown;
		p->hcap = cap;
	}
	memmove(&p->hashes[lo + 1], &p->hashes[lo], sizeof(uint64) * (p->nhash - lo));
	p->hashes[lo] = h;
	p->nhash++;
}

static void
hll_combine(PsPartial *a, PsPartial *b)
{
	Size		m = (Size) 1 << a->n;

	if (b->regs == NULL)
	{
		for (int i = 0; i < b->nhash; i++)
			hll_add_hash(a, b->hashes[i]);
		return;
	}
	if (a->regs == NULL)
		hll_to_dense(a);
	for (Size i = 0; i < m; i++)
		if (a->regs[i] < b->regs[i])
			a->regs[i] = b->regs[i];
}

/* Ertl (2017), "New cardinality estimation algorithms for HyperLogLog sketches" */
static double
hll_sigma(double x)
{
	double		y = 1.0,
				z = x,
				prev;

	if (x == 1.0)
		return get_float8_infinity();
	do
	{
		x *= x;
		prev = z;
		z += x * y;
		y += y;
	} while (z != prev);
	return z;
}

static double
hll_tau(double x)
{
	double		y = 1.0,
				z,
				prev;

	if (x == 0.0 || x == 1.0)
		return 0.0;
	z = 1.0 - x;
	do
	{
		x = sqrt(x);
		prev = z;
		y *= 0.5;
		z -= (1.0 - x) * (1.0 - x) * y;
	} while (z != prev);
	return z / 3.0;
}

static int64
hll_count(PsPartial *p)
{
	int			q = 64 - p->n;
	double		m = (double) ((Size) 1 << p->n);
	int64		c[66] = {0};
	double		z;

	if (p->regs == NULL)
		return p->nhash;
	for (Size i = 0; i < ((Size) 1 << p->n); i++)
		c[p->regs[i]]++;
	z = m * hll_tau(1.0 - (double) c[q + 1] / m);
	for (int k = q; k >= 1; k--)
	{
		z += (double) c[k];
		z *= 0.5;
	}
	z += m * hll_sigma((double) c[0] / m);
	return (int64) llround(m * m / (2.0 * M_LN2) / z);
}

/* ---------------------------------------------------------------------
 * approx_percentile: a DDSketch with 1% relative accuracy
 *
 * A value x > 0 counts in bucket ceil(log_g(x)), g = 1.01 / 0.99, whose
 * values all lie within 1% of 2 g^i / (g + 1); negative values likewise by
 * their magnitude; zero, -Infinity, Infinity and NaN have counters of
 * their own, and the exact minimum and maximum are kept.  The buckets are
 * never collapsed, so a state is a function of the values' multiset and
 * combines in any order to the same state.  The p-th percentile is the
 * value percentile_disc(p) would pick (the ceil(p * count)-th in
 * PostgreSQL's order, NaN last), within 1% of it: exact at the ends.
 * --------------------------------------------------------------------- */

#define DD_ALPHA 0.01
#define DD_INDEX_LIMIT 40000	/* |index| of every finite double is below */
#define DD_ZERO 0
#define DD_NEG_INF 1
#define DD_POS_INF 2
#define DD_NAN 3

static inline double
dd_gamma(void)
{
	return (1.0 + DD_ALPHA) / (1.0 - DD_ALPHA);
}

static inline int32
dd_index(double x)
{
	return (int32) ceil(log(x) / log(dd_gamma()));
}

static inline double
dd_value(int32 i)
{
	return 2.0 * pow(dd_gamma(), i) / (dd_gamma() + 1.0);
}

static void
dd_side_add(PsPartial *p, PsSketchSide *s, int32 idx, int64 cnt)
{
	if (s->cnt == NULL || idx < s->lo || idx >= s->hi)
	{
		int32		slack = s->cnt == NULL ? 8 : (s->hi - s->lo) / 2 + 8;
		int32		lo = s->cnt == NULL ? idx - slack : Min(s->lo, idx - slack);
		int32		hi = s->cnt == NULL ? idx + 1 + slack : Max(s->hi, idx + 1 + slack);
		int64	   *grown = MemoryContextAllocZero(p->cxt, sizeof(int64) * (hi - lo));

		if (s->cnt != NULL)
		{
			memcpy(grown + (s->lo - lo), s->cnt, sizeof(int64) * (s->hi - s->lo));
			pfree(s->cnt);
		}
		s->cnt = grown;
		s->lo = lo;
		s->hi = hi;
	}
	s->cnt[idx - s->lo] += cnt;
}

static void
dd_add(PsPartial *p, float8 x)
{
	if (p->count == 1 || float8_cmp_internal(x, p->min) < 0)
		p->min = x;
	if (p->count == 1 || float8_cmp_internal(x, p->max) > 0)
		p->max = x;
	if (isnan(x))
		p->special[DD_NAN]++;
	else if (x == 0.0)
		p->special[DD_ZERO]++;
	else if (isinf(x))
		p->special[x > 0 ? DD_POS_INF : DD_NEG_INF]++;
	else if (x > 0)
		dd_side_add(p, &p->pos, dd_index(x), 1);
	else
		dd_side_add(p, &p->neg, dd_index(-x), 1);
}

static void
dd_combine(PsPartial *a, PsPartial *b)
{
	/* a->count already includes b's */
	if (a->count == b->count || float8_cmp_internal(b->min, a->min) < 0)
		a->min = b->min;
	if (a->count == b->count || float8_cmp_internal(b->max, a->max) > 0)
		a->max = b->max;
	for (int i = 0; i < 4; i++)
		a->special[i] += b->special[i];
	for (int32 i = b->pos.lo; i < b->pos.hi; i++)
		if (b->pos.cnt[i - b->pos.lo] != 0)
			dd_side_add(a, &a->pos, i, b->pos.cnt[i - b->pos.lo]);
	for (int32 i = b->neg.lo; i < b->neg.hi; i++)
		if (b->neg.cnt[i - b->neg.lo] != 0)
			dd_side_add(a, &a->neg, i, b->neg.cnt[i - b->neg.lo]);
}

static float8
dd_percentile(PsPartial *p)
{
	double		pq = (double) p->n / P_SCALE;
	int64		rownum = (int64) ceil(pq * (double) p->count);
	int64		k = Max(rownum, 1) - 1; /* as percentile_disc: 0-based */
	int64		acc;
	float8		v;

	if (k >= p->count - 1)
		return p->max;
	if (k == 0)
		return p->min;
	acc = p->special[DD_NEG_INF];
	if (k < acc)
		return -get_float8_infinity();
	for (int32 i = p->neg.hi - 1; i >= p->neg.lo; i--)
	{
		acc += p->neg.cnt[i - p->neg.lo];
		if (k < acc)
		{
			v = -dd_value(i);
			goto found;
		}
	}
	acc += p->special[DD_ZERO];
	if (k < acc)
		return 0.0;
	for (int32 i = p->pos.lo; i < p->pos.hi; i++)
	{
		acc += p->pos.cnt[i - p->pos.lo];
		if (k < acc)
		{
			v = dd_value(i);
			goto found;
		}
	}
	acc += p->special[DD_POS_INF];
	if (k < acc)
		return get_float8_infinity();
	return get_float8_nan();
found:
	/* the value is between the extremes: closer to it, never farther */
	if (v < p->min)
		v = p->min;
	if (v > p->max)
		v = p->max;
	return v;
}

static int64
dd_side_total(const PsSketchSide *s)
{
	int64		t = 0;

	for (int32 i = s->lo; i < s->hi; i++)
		t += s->cnt[i - s->lo];
	return t;
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
			value = own_value(p->vt, typid, value);
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

				value = own_value(p->vt, typid, value);
				x = p->vt == PS_VT_INT8 ? (float8) DatumGetInt64(value) : DatumGetFloat8(value);
				delta = x - p->mean;
				p->mean += delta / (float8) p->count;
				p->m2 += delta * (x - p->mean);
				return;
			}
		case PS_AGG_APPROX_COUNT_DISTINCT:
			hll_add_hash(p, hash_value(p->vt, own_value(p->vt, typid, value)));
			return;
		case PS_AGG_APPROX_PERCENTILE:
			value = own_value(p->vt, typid, value);
			dd_add(p, p->vt == PS_VT_INT8 ? (float8) DatumGetInt64(value) : DatumGetFloat8(value));
			return;
		case PS_AGG_MIN:
		case PS_AGG_MAX:
			value = own_value(p->vt, typid, value);
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
			it.v = own_value(p->vt, typid, value);
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
			it.v = own_value(p->vt, typid, value);
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
						ps_agg_spec(a->fn, a->n), vt_names[a->vt],
						ps_agg_spec(b->fn, b->n), vt_names[b->vt])));
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
			hll_combine(a, b);
			return;
		case PS_AGG_APPROX_PERCENTILE:
			dd_combine(a, b);
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

/* The feature value; *isnull for an empty window (but count is 0). */
Datum
ps_partial_final(PsPartial *p, bool *isnull)
{
	*isnull = false;
	if (p->fn == PS_AGG_COUNT)
		return Int64GetDatum(p->count);
	if (p->fn == PS_AGG_APPROX_COUNT_DISTINCT)
		return Int64GetDatum(hll_count(p));
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
			return Float8GetDatum(dd_percentile(p));
		case PS_AGG_SUM:
			if (p->vt == PS_VT_FLOAT8)
				return Float8GetDatum(isfinite(p->fsum) ? p->fsum + p->fcomp : p->fsum);
			if (p->isum > PG_INT64_MAX || p->isum < PG_INT64_MIN)
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("sum of %lld values is out of range for type bigint",
								(long long) p->count)));
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

/* ---------------------------------------------------------------------
 * The flat form: the type's storage and binary form
 *
 *	version, fn, vt (1 byte each), n (int32), count (int64), then
 *	sum, mean: the int128 sum (two int64) or fsum, fcomp;
 *	variances: mean, m2; min, max, last, lists: nitems (int32), then each
 *	item: ts, ord (int64), the value (int64 / float8 bits, or for text its
 *	length (int32) and bytes);
 *	approx_count_distinct: nhash (int32) and the sorted hashes (uint64), or
 *	-1 and the 2^precision registers (bytes);
 *	approx_percentile: min, max (float8 bits), the zero, -Infinity,
 *	Infinity and NaN counts (int64), then for the positive and the negative
 *	buckets: their number (int32) and each non-empty one's index (int32)
 *	and count (int64), by increasing index.
 *
 * The binary form (send/recv) is the same fields in network order.
 * --------------------------------------------------------------------- */

static void
put_state(StringInfo buf, PsPartial *p, bool network)
{
#define PUT8(x) do { uint64 v_ = (uint64) (x); if (network) pq_sendint64(buf, v_); else appendBinaryStringInfo(buf, (char *) &v_, 8); } while (0)
#define PUT4(x) do { uint32 v_ = (uint32) (x); if (network) pq_sendint32(buf, v_); else appendBinaryStringInfo(buf, (char *) &v_, 4); } while (0)
	appendStringInfoChar(buf, PS_PARTIAL_VERSION);
	appendStringInfoChar(buf, (char) p->fn);
	appendStringInfoChar(buf, (char) p->vt);
	PUT4(p->n);
	PUT8(p->count);
	if (p->fn == PS_AGG_SUM || p->fn == PS_AGG_MEAN)
	{
		if (p->vt == PS_VT_INT8)
		{
			PUT8((int64) (p->isum >> 64));
			PUT8((uint64) p->isum);
		}
		else
		{
			union { float8 f; uint64 u; } a, b;

			a.f = p->fsum;
			b.f = p->fcomp;
			PUT8(a.u);
			PUT8(b.u);
		}
	}
	else if (IS_VAR(p->fn))
	{
		union { float8 f; uint64 u; } a, b;

		a.f = p->mean;
		b.f = p->m2;
		PUT8(a.u);
		PUT8(b.u);
	}
	else if (p->fn == PS_AGG_APPROX_COUNT_DISTINCT)
	{
		if (p->regs != NULL)
		{
			PUT4(-1);
			appendBinaryStringInfo(buf, (char *) p->regs, 1 << p->n);
		}
		else
		{
			PUT4(p->nhash);
			for (int i = 0; i < p->nhash; i++)
				PUT8(p->hashes[i]);
		}
	}
	else if (p->fn == PS_AGG_APPROX_PERCENTILE)
	{
		union { float8 f; uint64 u; } a, b;

		a.f = p->min;
		b.f = p->max;
		PUT8(a.u);
		PUT8(b.u);
		for (int i = 0; i < 4; i++)
			PUT8(p->special[i]);
		for (int side = 0; side < 2; side++)
		{
			PsSketchSide *sd = side == 0 ? &p->pos : &p->neg;
			int			nb = 0;

			for (int32 i = sd->lo; i < sd->hi; i++)
				nb += sd->cnt[i - sd->lo] != 0;
			PUT4(nb);
			for (int32 i = sd->lo; i < sd->hi; i++)
				if (sd->cnt[i - sd->lo] != 0)
				{
					PUT4(i);
					PUT8(sd->cnt[i - sd->lo]);
				}
		}
	}
	else if (p->fn != PS_AGG_COUNT)
	{
		PUT4(p->nitems);
		for (int i = 0; i < p->nitems; i++)
		{
			PUT8(p->items[i].ts);
			PUT8(p->items[i].ord);
			if (p->vt == PS_VT_TEXT)
			{
				text	   *t = DatumGetTextPP(p->items[i].v);

				PUT4(VARSIZE_ANY_EXHDR(t));
				appendBinaryStringInfo(buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
			}
			else
				PUT8(DatumGetInt64(p->items[i].v));
		}
	}
#undef PUT8
#undef PUT4
}

typedef struct Reader
{
	const char *data;
	int			len;
	int			pos;
	bool		network;
	int			errcode;
} Reader;

static void reader_fail(Reader *r, const char *what) pg_attribute_noreturn();

static void
reader_fail(Reader *r, const char *what)
{
	ereport(ERROR,
			(errcode(r->errcode),
			 errmsg("invalid fs_partial: %s", what)));
}

static uint64
get8(Reader *r)
{
	uint64		v;

	if (r->len - r->pos < 8)
		reader_fail(r, "the state ends early");
	memcpy(&v, r->data + r->pos, 8);
	r->pos += 8;
	return r->network ? pg_ntoh64(v) : v;
}

static uint32
get4(Reader *r)
{
	uint32		v;

	if (r->len - r->pos < 4)
		reader_fail(r, "the state ends early");
	memcpy(&v, r->data + r->pos, 4);
	r->pos += 4;
	return r->network ? pg_ntoh32(v) : v;
}

/*
 * Every rule a state made by this file keeps; a state read from outside
 * (text, binary) that breaks one is refused rather than trusted.
 */
static void
check_state(PsPartial *p, int errc, bool trusted)
{
	Reader		r = {.errcode = errc};

	if (p->count < 0)
		reader_fail(&r, "count is negative");
	if ((p->fn == PS_AGG_MIN || p->fn == PS_AGG_MAX || p->fn == PS_AGG_LAST) &&
		p->nitems != (p->count > 0 ? 1 : 0))
		reader_fail(&r, "a value must be there exactly when count is above 0");
	if (IS_LIST(p->fn))
	{
		if (p->nitems > p->n || p->nitems > p->count)
			reader_fail(&r, "more items than n or than count");
		if (!IS_DISTINCT(p->fn) && p->nitems != Min(p->n, p->count))
			reader_fail(&r, "a list must hold min(n, count) items");
		if (p->count > 0 && p->nitems == 0)
			reader_fail(&r, "no items although count is above 0");
		for (int i = 1; i < p->nitems; i++)
			if (cmp_item(p->vt, &p->items[i - 1], &p->items[i]) > 0)
				reader_fail(&r, "items are not in (ts, ord, value) order");
		/* quadratic: only for states from outside */
		if (IS_DISTINCT(p->fn) && !trusted)
			for (int i = 0; i < p->nitems; i++)
				for (int j = i + 1; j < p->nitems; j++)
					if (eq_value(p->vt, p->items[i].v, p->items[j].v))
						reader_fail(&r, "a distinct list repeats a value");
	}
	if (p->fn == PS_AGG_SUM || p->fn == PS_AGG_MEAN || IS_VAR(p->fn))
	{
		if (p->count == 0 && (p->isum != 0 || p->fsum != 0 || p->fcomp != 0 || p->mean != 0 || p->m2 != 0))
			reader_fail(&r, "an empty state must have zero sums");
		if (IS_VAR(p->fn) && p->m2 < 0)
			reader_fail(&r, "m2 is negative");
	}
	if (p->vt == PS_VT_BOOL)
		for (int i = 0; i < p->nitems; i++)
			if (DatumGetInt64(p->items[i].v) != 0 && DatumGetInt64(p->items[i].v) != 1)
				reader_fail(&r, "a boolean item is neither 0 nor 1");
	/* times PostgreSQL can hold: the binary form could carry any 64 bits */
	for (int i = 0; i < p->nitems; i++)
	{
		TimestampTz ts = p->items[i].ts;

		if (!TIMESTAMP_NOT_FINITE(ts) && !IS_VALID_TIMESTAMP(ts))
			reader_fail(&r, "an item's time is out of range");
		ts = DatumGetTimestampTz(p->items[i].v);
		if (p->vt == PS_VT_TS && !TIMESTAMP_NOT_FINITE(ts) && !IS_VALID_TIMESTAMP(ts))
			reader_fail(&r, "a timestamp value is out of range");
	}
	if (p->fn == PS_AGG_APPROX_COUNT_DISTINCT)
	{
		if (p->regs != NULL)
		{
			int			nonzero = 0;

			/* a dense state has more distinct values than the sparse form holds */
			if (p->count <= hll_sparse_max(p->n))
				reader_fail(&r, "registers although count is within the sparse form");
			for (int i = 0; i < (1 << p->n); i++)
			{
				if (p->regs[i] > 64 - p->n + 1)
					reader_fail(&r, "a register is above 65 - precision");
				nonzero += p->regs[i] != 0;
			}
			if (nonzero == 0)
				reader_fail(&r, "every register is empty");
		}
		else
		{
			if (p->nhash > p->count || (p->count > 0) != (p->nhash > 0))
				reader_fail(&r, "hashes do not fit count");
			for (int i = 1; i < p->nhash; i++)
				if (p->hashes[i - 1] >= p->hashes[i])
					reader_fail(&r, "hashes are not strictly increasing");
		}
	}
	if (p->fn == PS_AGG_APPROX_PERCENTILE)
	{
		int64		total = dd_side_total(&p->pos) + dd_side_total(&p->neg);

		for (int i = 0; i < 4; i++)
		{
			if (p->special[i] < 0)
				reader_fail(&r, "a count is negative");
			total += p->special[i];
		}
		if (total != p->count)
			reader_fail(&r, "the buckets do not add up to count");
		if (p->count == 0 ? (p->min != 0 || p->max != 0 || signbit(p->min) || signbit(p->max))
			: float8_cmp_internal(p->min, p->max) > 0)
			reader_fail(&r, "min and max do not fit the state");
		if (p->vt == PS_VT_INT8 && p->count > 0 &&
			(!isfinite(p->min) || !isfinite(p->max) || p->special[DD_NAN] != 0 ||
			 p->special[DD_NEG_INF] != 0 || p->special[DD_POS_INF] != 0))
			reader_fail(&r, "an integer state has no infinity or NaN");
	}
}

static PsPartial *
get_state(const char *data, int len, bool network, int errc, bool trusted)
{
	Reader		r = {data, len, 0, network, errc};
	PsPartial  *p;
	int			fn,
				vt,
				n;

	if (len < 3)
		reader_fail(&r, "the state ends early");
	if (data[0] != PS_PARTIAL_VERSION)
		reader_fail(&r, "unknown version");
	fn = (unsigned char) data[1];
	vt = (unsigned char) data[2];
	r.pos = 3;
	if (fn >= PS_AGG_NFNS || vt >= PS_VT_N)
		reader_fail(&r, "unknown function or value type");
	n = (int32) get4(&r);
	if (!param_ok(fn, n))
		reader_fail(&r, "n is out of range for the function");
	if (!fn_takes(fn, vt))
		reader_fail(&r, "the function does not take values of that type");
	p = ps_partial_new(fn, n, vt);
	p->count = (int64) get8(&r);
	if (fn == PS_AGG_SUM || fn == PS_AGG_MEAN)
	{
		if (vt == PS_VT_INT8)
		{
			int64		hi = (int64) get8(&r);
			uint64		lo = get8(&r);

			p->isum = (int128) (((uint128) (uint64) hi << 64) | lo);
		}
		else
		{
			union { float8 f; uint64 u; } a, b;

			a.u = get8(&r);
			b.u = get8(&r);
			p->fsum = a.f;
			p->fcomp = b.f;
		}
	}
	else if (IS_VAR(fn))
	{
		union { float8 f; uint64 u; } a, b;

		a.u = get8(&r);
		b.u = get8(&r);
		p->mean = a.f;
		p->m2 = b.f;
	}
	else if (fn == PS_AGG_APPROX_COUNT_DISTINCT)
	{
		int			nhash = (int32) get4(&r);

		if (nhash == -1)
		{
			int			m = 1 << n;

			if (r.len - r.pos < m)
				reader_fail(&r, "the state ends early");
			p->regs = palloc(m);
			memcpy(p->regs, r.data + r.pos, m);
			r.pos += m;
		}
		else
		{
			if (nhash < 0 || nhash > hll_sparse_max(n))
				reader_fail(&r, "more hashes than the sparse form holds");
			p->hashes = palloc(sizeof(uint64) * Max(nhash, 1));
			p->hcap = Max(nhash, 1);
			for (int i = 0; i < nhash; i++)
				p->hashes[i] = get8(&r);
			p->nhash = nhash;
		}
	}
	else if (fn == PS_AGG_APPROX_PERCENTILE)
	{
		union { float8 f; uint64 u; } a, b;

		a.u = get8(&r);
		b.u = get8(&r);
		p->min = a.f;
		p->max = b.f;
		for (int i = 0; i < 4; i++)
			p->special[i] = (int64) get8(&r);
		for (int side = 0; side < 2; side++)
		{
			PsSketchSide *sd = side == 0 ? &p->pos : &p->neg;
			int			nb = (int32) get4(&r);
			int32		prev = PG_INT32_MIN;

			if (nb < 0 || nb > 2 * DD_INDEX_LIMIT + 1)
				reader_fail(&r, "a bucket count is out of range");
			for (int i = 0; i < nb; i++)
			{
				int32		idx = (int32) get4(&r);
				int64		c = (int64) get8(&r);

				if (idx <= prev || idx < -DD_INDEX_LIMIT || idx > DD_INDEX_LIMIT)
					reader_fail(&r, "bucket indexes are not increasing within range");
				if (c <= 0)
					reader_fail(&r, "a bucket's count is not positive");
				dd_side_add(p, sd, idx, c);
				prev = idx;
			}
		}
	}
	else if (fn != PS_AGG_COUNT)
	{
		int			nitems = (int32) get4(&r);
		int			cap = IS_LIST(fn) ? n : 1;

		if (nitems < 0 || nitems > cap)
			reader_fail(&r, "too many items");
		for (int i = 0; i < nitems; i++)
		{
			p->items[i].ts = (int64) get8(&r);
			p->items[i].ord = (int64) get8(&r);
			if (vt == PS_VT_TEXT)
			{
				int			tl = (int32) get4(&r);

				if (tl < 0 || tl > r.len - r.pos)
					reader_fail(&r, "a text item ends early");
				p->items[i].v = PointerGetDatum(cstring_to_text_with_len(r.data + r.pos, tl));
				r.pos += tl;
			}
			else
				p->items[i].v = Int64GetDatum((int64) get8(&r));
		}
		p->nitems = nitems;
	}
	if (r.pos != r.len)
		reader_fail(&r, "bytes after the end of the state");
	check_state(p, errc, trusted);
	return p;
}

bytea *
ps_partial_flatten(PsPartial *p)
{
	StringInfoData buf;
	bytea	   *result;

	initStringInfo(&buf);
	put_state(&buf, p, false);
	result = palloc(VARHDRSZ + buf.len);
	SET_VARSIZE(result, VARHDRSZ + buf.len);
	memcpy(VARDATA(result), buf.data, buf.len);
	pfree(buf.data);
	return result;
}

PsPartial *
ps_partial_unflatten(Datum d)
{
	struct varlena *v = PG_DETOAST_DATUM_PACKED(d);

	/* its own storage: the cheap checks still run */
	return get_state(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), false, ERRCODE_DATA_CORRUPTED, true);
}

/* The flat form, appended to buf (tiles keep several states in one value). */
void
ps_partial_write(StringInfo buf, PsPartial *p)
{
	put_state(buf, p, false);
}

/* A state from len bytes of ps_partial_write output. */
PsPartial *
ps_partial_read(const char *data, int len)
{
	return get_state(data, len, false, ERRCODE_DATA_CORRUPTED, true);
}

/* ---------------------------------------------------------------------
 * Text form: JSON
 *
 *	{"fn": "sum", "type": "bigint", "count": 3, "sum": 42}
 *	{"fn": "sum", "type": "double precision", "count": 2, "sum": 1.5, "compensation": 0}
 *	{"fn": "var_pop", "type": "bigint", "count": 2, "mean": 1.5, "m2": 0.5}
 *	{"fn": "max", "type": "bigint", "count": 3, "value": 7}
 *	{"fn": "last_n", "n": 2, "type": "text", "count": 3,
 *	 "items": [{"ts": "2024-01-01 10:00:00+00", "ord": 1, "value": "a"}, ...]}
 *
 * Floats that JSON cannot write (NaN, Infinity) are strings.
 * --------------------------------------------------------------------- */

static void
append_float(StringInfo buf, float8 f)
{
	if (isnan(f) || isinf(f))
		appendStringInfo(buf, "\"%s\"", float8out_internal(f));
	else
		appendStringInfoString(buf, float8out_internal(f));
}

static void
append_value(StringInfo buf, PsValType vt, Datum v)
{
	switch (vt)
	{
		case PS_VT_INT8:
			appendStringInfo(buf, INT64_FORMAT, DatumGetInt64(v));
			break;
		case PS_VT_FLOAT8:
			append_float(buf, DatumGetFloat8(v));
			break;
		case PS_VT_BOOL:
			appendStringInfoString(buf, DatumGetInt64(v) ? "true" : "false");
			break;
		case PS_VT_TS:
			escape_json(buf, ps_format_timestamp_utc(DatumGetTimestampTz(v)));
			break;
		case PS_VT_TEXT:
			escape_json(buf, text_to_cstring(DatumGetTextPP(v)));
			break;
		case PS_VT_N:
			break;
	}
}

static char *
state_to_json(PsPartial *p)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"fn\": \"%s\"", agg_fns[p->fn].name);
	if (agg_fns[p->fn].param == PARAM_P)
		appendStringInfo(&buf, ", \"p\": %s", p_text(p->n));
	else if (agg_fns[p->fn].param != PARAM_NONE)
		appendStringInfo(&buf, ", \"%s\": %d", param_names[agg_fns[p->fn].param], p->n);
	appendStringInfo(&buf, ", \"type\": \"%s\", \"count\": " INT64_FORMAT, vt_names[p->vt], p->count);
	if (p->fn == PS_AGG_SUM || p->fn == PS_AGG_MEAN)
	{
		if (p->vt == PS_VT_INT8)
		{
			/* int128 in decimal */
			char		digits[48];
			int			i = sizeof(digits) - 1;
			uint128		u = p->isum < 0 ? -(uint128) p->isum : (uint128) p->isum;

			digits[i] = '\0';
			do
			{
				digits[--i] = '0' + (int) (u % 10);
				u /= 10;
			} while (u != 0);
			if (p->isum < 0)
				digits[--i] = '-';
			appendStringInfo(&buf, ", \"sum\": %s", digits + i);
		}
		else
		{
			appendStringInfoString(&buf, ", \"sum\": ");
			append_float(&buf, p->fsum);
			appendStringInfoString(&buf, ", \"compensation\": ");
			append_float(&buf, p->fcomp);
		}
	}
	else if (IS_VAR(p->fn))
	{
		appendStringInfoString(&buf, ", \"mean\": ");
		append_float(&buf, p->mean);
		appendStringInfoString(&buf, ", \"m2\": ");
		append_float(&buf, p->m2);
	}
	else if (p->fn == PS_AGG_APPROX_COUNT_DISTINCT)
	{
		if (p->regs != NULL)
		{
			appendStringInfoString(&buf, ", \"registers\": \"");
			for (int i = 0; i < (1 << p->n); i++)
				appendStringInfo(&buf, "%02x", p->regs[i]);
			appendStringInfoChar(&buf, '"');
		}
		else
		{
			appendStringInfoString(&buf, ", \"hashes\": [");
			for (int i = 0; i < p->nhash; i++)
				appendStringInfo(&buf, "%s\"%016" INT64_MODIFIER "x\"", i ? ", " : "", p->hashes[i]);
			appendStringInfoChar(&buf, ']');
		}
	}
	else if (p->fn == PS_AGG_APPROX_PERCENTILE)
	{
		static const char *const special[] = {"zero", "neg_inf", "pos_inf", "nan"};

		if (p->count > 0)
		{
			appendStringInfoString(&buf, ", \"min\": ");
			append_float(&buf, p->min);
			appendStringInfoString(&buf, ", \"max\": ");
			append_float(&buf, p->max);
		}
		for (int i = 0; i < 4; i++)
			appendStringInfo(&buf, ", \"%s\": " INT64_FORMAT, special[i], p->special[i]);
		for (int side = 0; side < 2; side++)
		{
			PsSketchSide *sd = side == 0 ? &p->pos : &p->neg;
			bool		first = true;

			appendStringInfo(&buf, ", \"%s\": [", side == 0 ? "positive" : "negative");
			for (int32 i = sd->lo; i < sd->hi; i++)
				if (sd->cnt[i - sd->lo] != 0)
				{
					appendStringInfo(&buf, "%s[%d, " INT64_FORMAT "]", first ? "" : ", ", i, sd->cnt[i - sd->lo]);
					first = false;
				}
			appendStringInfoChar(&buf, ']');
		}
	}
	else if (p->fn == PS_AGG_MIN || p->fn == PS_AGG_MAX)
	{
		if (p->nitems == 1)
		{
			appendStringInfoString(&buf, ", \"value\": ");
			append_value(&buf, p->vt, p->items[0].v);
		}
	}
	else if (p->fn != PS_AGG_COUNT)
	{
		bool		one = p->fn == PS_AGG_LAST;

		if (!one)
			appendStringInfoString(&buf, ", \"items\": [");
		for (int i = 0; i < p->nitems; i++)
		{
			appendStringInfoString(&buf, one ? ", " : i ? ", {" : "{");
			appendStringInfoString(&buf, "\"ts\": ");
			escape_json(&buf, ps_format_timestamp_utc(p->items[i].ts));
			appendStringInfo(&buf, ", \"ord\": " INT64_FORMAT ", \"value\": ", p->items[i].ord);
			append_value(&buf, p->vt, p->items[i].v);
			if (!one)
				appendStringInfoChar(&buf, '}');
		}
		if (!one)
			appendStringInfoChar(&buf, ']');
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* Parsing the JSON form: strict about keys and JSON kinds. */
typedef struct JsonIn
{
	const char *input;
} JsonIn;

static void json_fail(JsonIn *in, const char *fmt, const char *arg) pg_attribute_noreturn();

static void
json_fail(JsonIn *in, const char *fmt, const char *arg)
{
	char	   *msg = psprintf(fmt, arg);

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type fs_partial: %s", msg),
			 errdetail("Input: %s", in->input)));
}

static bool
json_get(JsonbContainer *c, const char *key, JsonbValue *out)
{
	return getKeyJsonValueFromContainer(c, key, strlen(key), out) != NULL;
}

/* Only these keys. */
static void
json_only_keys(JsonIn *in, Jsonb *jb, JsonbContainer *c, const char *const *keys)
{
	JsonbIterator *it = JsonbIteratorInit(c);
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			depth = 0;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
			depth++;
		else if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
			depth--;
		else if (tok == WJB_KEY && depth == 1)
		{
			char	   *k = pnstrdup(v.val.string.val, v.val.string.len);
			bool		ok = false;

			for (int i = 0; keys[i]; i++)
				ok |= strcmp(k, keys[i]) == 0;
			if (!ok)
				json_fail(in, "unknown key \"%s\"", k);
		}
	}
}

static int64
json_int8_value(JsonIn *in, JsonbValue *v, const char *key)
{
	if (v->type != jbvNumeric ||
		strspn(DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric))),
			   "-0123456789") !=
		strlen(DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)))))
		json_fail(in, "\"%s\" must be an integer", key);
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric)));
}

static int64
json_int8(JsonIn *in, JsonbContainer *c, const char *key, bool required, int64 dflt)
{
	JsonbValue	v;

	if (!json_get(c, key, &v))
	{
		if (required)
			json_fail(in, "\"%s\" is missing", key);
		return dflt;
	}
	return json_int8_value(in, &v, key);
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "registers" or "hashes" of an approx_count_distinct state */
static void
json_hll(JsonIn *in, PsPartial *p, JsonbContainer *c)
{
	JsonbValue	v;
	int			m = 1 << p->n;

	if (json_get(c, "registers", &v))
	{
		JsonbValue	other;

		if (json_get(c, "hashes", &other))
			json_fail(in, "%s", "a state has \"hashes\" or \"registers\", not both");
		if (v.type != jbvString || v.val.string.len != 2 * m)
			json_fail(in, "\"registers\" must be a string of %s hex digits (two per register)",
					  psprintf("%d", 2 * m));
		p->regs = palloc(m);
		for (int i = 0; i < m; i++)
		{
			int			hi = hex_digit(v.val.string.val[2 * i]);
			int			lo = hex_digit(v.val.string.val[2 * i + 1]);

			if (hi < 0 || lo < 0)
				json_fail(in, "%s", "\"registers\" must be lowercase hex digits");
			p->regs[i] = (uint8) (hi * 16 + lo);
		}
	}
	else
	{
		JsonbIterator *it;
		JsonbValue	e;
		JsonbIteratorToken tok;

		if (!json_get(c, "hashes", &v) || v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data))
			json_fail(in, "\"%s\" must be an array", "hashes");
		p->hcap = Max(1, hll_sparse_max(p->n));
		p->hashes = palloc(sizeof(uint64) * p->hcap);
		it = JsonbIteratorInit(v.val.binary.data);
		while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
		{
			uint64		h = 0;

			if (tok != WJB_ELEM)
				continue;
			if (p->nhash == hll_sparse_max(p->n))
				json_fail(in, "more than %s hashes: that many take \"registers\"",
						  psprintf("%d", hll_sparse_max(p->n)));
			if (e.type != jbvString || e.val.string.len != 16)
				json_fail(in, "%s", "every hash must be a string of 16 hex digits");
			for (int i = 0; i < 16; i++)
			{
				int			d = hex_digit(e.val.string.val[i]);

				if (d < 0)
					json_fail(in, "%s", "every hash must be a string of 16 lowercase hex digits");
				h = (h << 4) | (uint64) d;
			}
			p->hashes[p->nhash++] = h;
		}
	}
}

/* the buckets of an approx_percentile state: [[index, count], ...] */
static void
json_buckets(JsonIn *in, PsPartial *p, JsonbContainer *c, const char *key, PsSketchSide *sd)
{
	JsonbIterator *it;
	JsonbValue	v,
				e;
	JsonbIteratorToken tok;
	int64		prev = PG_INT64_MIN;

	if (!json_get(c, key, &v) || v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data))
		json_fail(in, "\"%s\" must be an array", key);
	it = JsonbIteratorInit(v.val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		JsonbValue *x,
				   *y;
		int64		idx,
					cnt;

		if (tok != WJB_ELEM)
			continue;
		if (e.type != jbvBinary || !JsonContainerIsArray(e.val.binary.data) ||
			JsonContainerSize(e.val.binary.data) != 2)
			json_fail(in, "every bucket of \"%s\" must be an [index, count] pair", key);
		x = getIthJsonbValueFromContainer(e.val.binary.data, 0);
		y = getIthJsonbValueFromContainer(e.val.binary.data, 1);
		idx = json_int8_value(in, x, "index");
		cnt = json_int8_value(in, y, "count");
		if (idx <= prev || idx < -DD_INDEX_LIMIT || idx > DD_INDEX_LIMIT)
			json_fail(in, "bucket indexes of \"%s\" must increase, from -40000 to 40000", key);
		if (cnt <= 0)
			json_fail(in, "bucket counts of \"%s\" must be above 0", key);
		dd_side_add(p, sd, (int32) idx, cnt);
		prev = idx;
	}
}

static float8
json_float8_value(JsonIn *in, JsonbValue *v, const char *key)
{
	if (v->type == jbvNumeric)
		return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
	if (v->type == jbvString)
	{
		char	   *s = pnstrdup(v->val.string.val, v->val.string.len);

		if (strcmp(s, "NaN") == 0)
			return get_float8_nan();
		if (strcmp(s, "Infinity") == 0)
			return get_float8_infinity();
		if (strcmp(s, "-Infinity") == 0)
			return -get_float8_infinity();
	}
	json_fail(in, "\"%s\" must be a number, \"NaN\", \"Infinity\" or \"-Infinity\"", key);
}

static float8
json_float8(JsonIn *in, JsonbContainer *c, const char *key)
{
	JsonbValue	v;

	if (!json_get(c, key, &v))
		json_fail(in, "\"%s\" is missing", key);
	return json_float8_value(in, &v, key);
}

static Datum
json_value(JsonIn *in, PsValType vt, JsonbValue *v)
{
	switch (vt)
	{
		case PS_VT_INT8:
			if (v->type == jbvNumeric)
				return DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric));
			break;
		case PS_VT_FLOAT8:
			return Float8GetDatum(json_float8_value(in, v, "value"));
		case PS_VT_BOOL:
			if (v->type == jbvBool)
				return Int64GetDatum(v->val.boolean ? 1 : 0);
			break;
		case PS_VT_TS:
			if (v->type == jbvString)
				return DirectFunctionCall3(timestamptz_in,
										   CStringGetDatum(pnstrdup(v->val.string.val, v->val.string.len)),
										   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
			break;
		case PS_VT_TEXT:
			if (v->type == jbvString)
				return PointerGetDatum(cstring_to_text_with_len(v->val.string.val, v->val.string.len));
			break;
	case PS_VT_N:
			break;
	}
	json_fail(in, "a value is not a JSON %s", vt == PS_VT_BOOL ? "boolean" : vt == PS_VT_INT8 ? "integer" : "string");
}

static void
json_item(JsonIn *in, PsPartial *p, JsonbContainer *c, PsItem *it, bool whole)
{
	static const char *const keys[] = {"ts", "ord", "value", NULL};
	JsonbValue	v;

	if (whole)
		json_only_keys(in, NULL, c, keys);
	if (!json_get(c, "ts", &v) || v.type != jbvString)
		json_fail(in, "an item's \"%s\" must be a timestamp string", "ts");
	it->ts = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
													 CStringGetDatum(pnstrdup(v.val.string.val, v.val.string.len)),
													 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
	it->ord = json_int8(in, c, "ord", true, 0);
	if (!json_get(c, "value", &v) || v.type == jbvNull)
		json_fail(in, "an item's \"%s\" is missing or null", "value");
	it->v = json_value(in, p->vt, &v);
}

static PsPartial *
state_from_json(const char *str)
{
	static const char *const keys[] = {"fn", "n", "precision", "p", "type", "count", "sum",
		"compensation", "mean", "m2", "value", "items", "ts", "ord", "hashes", "registers", "min",
	"max", "zero", "neg_inf", "pos_inf", "nan", "positive", "negative", NULL};
	JsonIn		in = {str};
	Jsonb	   *jb;
	JsonbContainer *c;
	JsonbValue	v;
	PsPartial  *p;
	int			fn = -1,
				vt = -1,
				n = 0;
	char	   *s;

	if (str[strspn(str, " \t\r\n")] != '{')
		json_fail(&in, "%s", "not a JSON object");
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(str)));
	c = &jb->root;
	json_only_keys(&in, jb, c, keys);
	if (!json_get(c, "fn", &v) || v.type != jbvString)
		json_fail(&in, "\"%s\" must be a function name", "fn");
	s = pnstrdup(v.val.string.val, v.val.string.len);
	for (int f = 0; f < PS_AGG_NFNS; f++)
		if (strcmp(s, agg_fns[f].name) == 0)
			fn = f;
	if (fn < 0)
		json_fail(&in, "unknown function \"%s\"", s);
	if (!json_get(c, "type", &v) || v.type != jbvString)
		json_fail(&in, "\"%s\" must be a type name", "type");
	s = pnstrdup(v.val.string.val, v.val.string.len);
	for (int t = 0; t < PS_VT_N; t++)
		if (strcmp(s, vt_names[t]) == 0)
			vt = t;
	if (vt < 0)
		json_fail(&in, "unknown value type \"%s\"", s);
	for (int k = PARAM_N; k <= PARAM_P; k++)
		if (k != (int) agg_fns[fn].param && json_get(c, param_names[k], &v))
			json_fail(&in, "%s", psprintf("%s takes no \"%s\"", agg_fns[fn].name, param_names[k]));
	if (agg_fns[fn].param == PARAM_P)
	{
		char	   *digits;

		if (!json_get(c, "p", &v) || v.type != jbvNumeric)
			json_fail(&in, "\"%s\" must be a number from 0 to 1", "p");
		digits = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
		n = p_parse(digits, strlen(digits));
		if (n < 0)
			json_fail(&in, "\"p\" must be a number from 0 to 1 with at most 6 decimals, not %s", digits);
	}
	else if (agg_fns[fn].param != PARAM_NONE)
	{
		const char *key = param_names[agg_fns[fn].param];
		int64		n64 = json_int8(&in, c, key, true, 0);

		if (!param_ok(fn, n64))
			json_fail(&in, "%s", agg_fns[fn].param == PARAM_N ?
					  psprintf("\"n\" must be from 1 to %d", PS_MAX_N) :
					  psprintf("\"%s\" must be from %d to %d", key, HLL_MIN_PRECISION, HLL_MAX_PRECISION));
		n = (int) n64;
	}
	if (!fn_takes(fn, vt))
		json_fail(&in, "%s does not take values of that type", agg_fns[fn].name);
	p = ps_partial_new(fn, n, vt);
	p->count = json_int8(&in, c, "count", true, 0);

	/* the keys each function has, and no others */
	{
		bool		sum = fn == PS_AGG_SUM || fn == PS_AGG_MEAN;
		bool		fsum = sum && vt == PS_VT_FLOAT8;
		bool		var = IS_VAR(fn);
		bool		one = fn == PS_AGG_MIN || fn == PS_AGG_MAX;
		bool		last = fn == PS_AGG_LAST;
		bool		list = IS_LIST(fn);
		bool		hll = fn == PS_AGG_APPROX_COUNT_DISTINCT;
		bool		dd = fn == PS_AGG_APPROX_PERCENTILE;
		struct
		{
			const char *key;
			bool		allowed;
		}			rules[] = {
			{"sum", sum}, {"compensation", fsum}, {"mean", var}, {"m2", var},
			{"value", one || last}, {"ts", last}, {"ord", last}, {"items", list},
			{"hashes", hll}, {"registers", hll}, {"min", dd && p->count > 0},
			{"max", dd && p->count > 0}, {"zero", dd}, {"neg_inf", dd}, {"pos_inf", dd},
			{"nan", dd}, {"positive", dd}, {"negative", dd}
		};

		for (int i = 0; i < (int) lengthof(rules); i++)
			if (!rules[i].allowed && json_get(c, rules[i].key, &v))
				json_fail(&in, "this function's state has no \"%s\"", rules[i].key);
		if (sum && vt == PS_VT_INT8)
		{
			char	   *digits;
			int128		acc = 0;
			bool		neg;
			uint128		u = 0;
			bool		over = false;

			if (!json_get(c, "sum", &v) || v.type != jbvNumeric)
				json_fail(&in, "\"%s\" must be an integer", "sum");
			digits = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
			neg = digits[0] == '-';
			if (strlen(digits + neg) == 0 ||
				strspn(digits + neg, "0123456789") != strlen(digits + neg))
				json_fail(&in, "\"sum\" must be an integer, not %s", digits);
			/* the whole 128-bit range, as the binary form and the output have it */
			for (char *d = digits + neg; *d && !over; d++)
				over = __builtin_mul_overflow(u, (uint128) 10, &u) ||
					__builtin_add_overflow(u, (uint128) (*d - '0'), &u);
			if (over || u > ((uint128) 1 << 127) - (neg ? 0 : 1))
				json_fail(&in, "\"sum\" %s is out of the range of a 128-bit integer", digits);
			acc = neg ? (int128) (-u) : (int128) u;
			p->isum = acc;
		}
		else if (fsum)
		{
			p->fsum = json_float8(&in, c, "sum");
			p->fcomp = json_float8(&in, c, "compensation");
		}
		else if (var)
		{
			p->mean = json_float8(&in, c, "mean");
			p->m2 = json_float8(&in, c, "m2");
		}
		else if (hll)
			json_hll(&in, p, c);
		else if (dd)
		{
			if (p->count > 0)
			{
				p->min = json_float8(&in, c, "min");
				p->max = json_float8(&in, c, "max");
			}
			p->special[DD_ZERO] = json_int8(&in, c, "zero", true, 0);
			p->special[DD_NEG_INF] = json_int8(&in, c, "neg_inf", true, 0);
			p->special[DD_POS_INF] = json_int8(&in, c, "pos_inf", true, 0);
			p->special[DD_NAN] = json_int8(&in, c, "nan", true, 0);
			json_buckets(&in, p, c, "positive", &p->pos);
			json_buckets(&in, p, c, "negative", &p->neg);
		}
		else if (one)
		{
			if (json_get(c, "value", &v) && v.type != jbvNull)
			{
				p->items[0].ts = 0;
				p->items[0].ord = 0;
				p->items[0].v = json_value(&in, vt, &v);
				p->nitems = 1;
			}
		}
		else if (last)
		{
			if (json_get(c, "value", &v))
			{
				json_item(&in, p, c, &p->items[0], false);
				p->nitems = 1;
			}
			else if (json_get(c, "ts", &v) || json_get(c, "ord", &v))
				json_fail(&in, "\"ts\" and \"ord\" go with a \"%s\"", "value");
		}
		else if (list)
		{
			JsonbIterator *it;
			JsonbValue	e;
			JsonbIteratorToken tok;
			int			k = 0;

			if (!json_get(c, "items", &v) || v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data))
				json_fail(&in, "\"%s\" must be an array", "items");
			it = JsonbIteratorInit(v.val.binary.data);
			while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
			{
				if (tok != WJB_ELEM)
					continue;
				if (e.type != jbvBinary || !JsonContainerIsObject(e.val.binary.data))
					json_fail(&in, "%s", "every item must be an object");
				if (k >= n)
					json_fail(&in, "more than n = %s items", psprintf("%d", n));
				json_item(&in, p, e.val.binary.data, &p->items[k++], true);
			}
			p->nitems = k;
		}
	}
	check_state(p, ERRCODE_INVALID_TEXT_REPRESENTATION, false);
	return p;
}

/* ---------------------------------------------------------------------
 * SQL: the type, combining, finalizing, and aggregates over events
 * --------------------------------------------------------------------- */

PG_FUNCTION_INFO_V1(fs_partial_in);
Datum
fs_partial_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_BYTEA_P(ps_partial_flatten(state_from_json(PG_GETARG_CSTRING(0))));
}

PG_FUNCTION_INFO_V1(fs_partial_out);
Datum
fs_partial_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(state_to_json(ps_partial_unflatten(PG_GETARG_DATUM(0))));
}

PG_FUNCTION_INFO_V1(fs_partial_send);
Datum
fs_partial_send(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	pq_begintypsend(&buf);
	put_state(&buf, ps_partial_unflatten(PG_GETARG_DATUM(0)), true);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(fs_partial_recv);
Datum
fs_partial_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	PsPartial  *p = get_state(buf->data + buf->cursor, buf->len - buf->cursor, true,
							  ERRCODE_INVALID_BINARY_REPRESENTATION, false);

	buf->cursor = buf->len;
	PG_RETURN_BYTEA_P(ps_partial_flatten(p));
}

/* fs_partial_combine(a, b): NULL is the empty state */
PG_FUNCTION_INFO_V1(fs_partial_combine);
Datum
fs_partial_combine(PG_FUNCTION_ARGS)
{
	PsPartial  *a;

	if (PG_ARGISNULL(0) && PG_ARGISNULL(1))
		PG_RETURN_NULL();
	if (PG_ARGISNULL(0))
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));
	if (PG_ARGISNULL(1))
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	a = ps_partial_unflatten(PG_GETARG_DATUM(0));
	ps_partial_combine(a, ps_partial_unflatten(PG_GETARG_DATUM(1)));
	PG_RETURN_BYTEA_P(ps_partial_flatten(a));
}

/*
 * fs_partial_final(state, NULL::type): the feature value, of the type the
 * function makes (bigint for count, double precision for mean, ...; an
 * array for the *_n lists).
 */
PG_FUNCTION_INFO_V1(fs_partial_final);
Datum
fs_partial_final(PG_FUNCTION_ARGS)
{
	Oid			want = get_fn_expr_argtype(fcinfo->flinfo, 1);
	PsPartial  *p;
	Oid			type;
	bool		isnull;
	Datum		d;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	p = ps_partial_unflatten(PG_GETARG_DATUM(0));
	type = ps_agg_result_type(p->fn, p->vt);
	if (want != type)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("a state of %s over %s finalizes to %s, not %s", ps_agg_spec(p->fn, p->n),
						vt_names[p->vt], format_type_be(type), format_type_be(want)),
				 errhint("Pass NULL::%s as the second argument.", format_type_be(type))));
	d = ps_partial_final(p, &isnull);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(d);
}

/* Aggregates: the transition state is a PsPartial in the aggregate's memory. */
static MemoryContext
agg_context(FunctionCallInfo fcinfo)
{
	MemoryContext cxt;

	if (!AggCheckCallContext(fcinfo, &cxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("called outside an aggregate")));
	return cxt;
}

/*
 * fs_partial_agg(function text, value anyelement, ts timestamptz, ord
 * bigint): the state of a set of events; NULL values are left out.
 */
PG_FUNCTION_INFO_V1(fs_partial_agg_add);
Datum
fs_partial_agg_add(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = agg_context(fcinfo);
	PsPartial  *p = PG_ARGISNULL(0) ? NULL : (PsPartial *) PG_GETARG_POINTER(0);
	Oid			type = get_fn_expr_argtype(fcinfo->flinfo, 2);

	int			n;
	PsAggFn		fn;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("fs_partial_agg: the function must not be NULL")));
	fn = ps_agg_fn_parse(text_to_cstring(PG_GETARG_TEXT_PP(1)), &n, "fs_partial_agg");
	if (p == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(aggcxt);

		p = ps_partial_new(fn, n, ps_agg_check_input(fn, type, "fs_partial_agg"));
		MemoryContextSwitchTo(old);
	}
	else if (p->fn != fn || p->n != n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("fs_partial_agg: the function changed within one group, from %s to %s",
						agg_fns[p->fn].name, agg_fns[fn].name)));
	if (!PG_ARGISNULL(2))
	{
		TimestampTz ts;

		if (PG_ARGISNULL(3) || PG_ARGISNULL(4))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("fs_partial_agg: an event's time and order must not be NULL")));
		ts = PG_GETARG_TIMESTAMPTZ(3);
		/* what the state keeps is copied into its memory */
		ps_partial_add(p, type, PG_GETARG_DATUM(2), ts, PG_GETARG_INT64(4));
	}
	PG_RETURN_POINTER(p);
}

/* fs_partial_merge(state): the combination of states */
PG_FUNCTION_INFO_V1(fs_partial_merge_add);
Datum
fs_partial_merge_add(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = agg_context(fcinfo);
	PsPartial  *p = PG_ARGISNULL(0) ? NULL : (PsPartial *) PG_GETARG_POINTER(0);

	if (!PG_ARGISNULL(1))
	{
		if (p == NULL)
		{
			/* the first state becomes the aggregate's */
			MemoryContext old = MemoryContextSwitchTo(aggcxt);

			p = ps_partial_unflatten(PG_GETARG_DATUM(1));
			MemoryContextSwitchTo(old);
		}
		else
			ps_partial_combine(p, ps_partial_unflatten(PG_GETARG_DATUM(1)));
	}
	if (p == NULL)
		PG_RETURN_NULL();
	PG_RETURN_POINTER(p);
}

PG_FUNCTION_INFO_V1(fs_partial_agg_final);
Datum
fs_partial_agg_final(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_BYTEA_P(ps_partial_flatten((PsPartial *) PG_GETARG_POINTER(0)));
}
