/*
 * partial_int.h
 *		What the files of the partial aggregate state share, and nobody
 *		else: partial.c (functions, states in memory, adding, combining,
 *		finalizing), sketch.c (HyperLogLog and DDSketch), partial_io.c (the
 *		flat, binary and JSON forms, and their checks) and partial_sql.c
 *		(the SQL interface).  Names exported between them start with pp_.
 */
#ifndef PARTIAL_INT_H
#define PARTIAL_INT_H

#include "pushsource.h"

#include "utils/float.h"

#define PS_PARTIAL_VERSION 1
#define PS_MAX_N 1000
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

#define HLL_MIN_PRECISION 4
#define HLL_MAX_PRECISION 16
#define HLL_DEFAULT_PRECISION 8		/* Tecton's default */
#define P_SCALE 1000000				/* p is kept in millionths */
#define IS_LIST(fn) ((fn) == PS_AGG_LAST_N || (fn) == PS_AGG_LAST_DISTINCT_N || \
					 (fn) == PS_AGG_FIRST_N || (fn) == PS_AGG_FIRST_DISTINCT_N)
#define IS_VAR(fn) ((fn) >= PS_AGG_STDDEV_SAMP && (fn) <= PS_AGG_VAR_POP)
#define IS_LATEST(fn) ((fn) == PS_AGG_LAST_N || (fn) == PS_AGG_LAST_DISTINCT_N)
#define IS_DISTINCT(fn) ((fn) == PS_AGG_LAST_DISTINCT_N || (fn) == PS_AGG_FIRST_DISTINCT_N)
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

#define DD_ALPHA 0.01
#define DD_INDEX_LIMIT 40000	/* |index| of every finite double is below */
#define DD_ZERO 0
#define DD_NEG_INF 1
#define DD_POS_INF 2
#define DD_NAN 3
static inline int
hll_sparse_max(int precision)
{
	return (1 << precision) / 8;
}


extern const PsAggFnInfo pp_agg_fns[];
extern const char *const pp_param_names[];
extern const char *const pp_vt_names[];

/* partial.c */
extern bool pp_param_ok(int fn, int64 n);
extern bool pp_fn_takes(int fn, int vt);
extern char *pp_p_text(int n);
extern int pp_parse_p(const char *s, size_t len);
extern Datum pp_own_value(PsValType vt, Oid typid, Datum d);

/* sketch.c */
extern uint64 pp_hash_value(PsValType vt, Datum v);
extern void pp_hll_add_hash(PsPartial *p, uint64 h);
extern void pp_hll_combine(PsPartial *a, PsPartial *b);
extern int64 pp_hll_count(PsPartial *p);
extern void pp_dd_side_add(PsPartial *p, PsSketchSide *s, int32 idx, int64 cnt);
extern void pp_dd_add(PsPartial *p, float8 x);
extern void pp_dd_combine(PsPartial *a, PsPartial *b);
extern float8 pp_dd_percentile(PsPartial *p);
extern int64 pp_dd_side_total(const PsSketchSide *s);

/* partial_io.c */
extern void pp_put_state(StringInfo buf, PsPartial *p, bool network);
extern PsPartial *pp_get_state(const char *data, int len, bool network, int errc, bool trusted);
extern char *pp_state_to_json(PsPartial *p);
extern PsPartial *pp_state_from_json(const char *str);

#endif							/* PARTIAL_INT_H */
