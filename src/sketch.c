/*
 * sketch.c
 *		The approximate states of fs_partial (partial.c): approx_count_distinct
 *		as HyperLogLog over 64-bit hashes that are the same on every
 *		platform, and approx_percentile as a DDSketch with 1% relative
 *		accuracy.
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

/* The hash of a value as the state keeps it (pp_own_value's form). */
uint64
pp_hash_value(PsValType vt, Datum v)
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

void
pp_hll_add_hash(PsPartial *p, uint64 h)
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

void
pp_hll_combine(PsPartial *a, PsPartial *b)
{
	Size		m = (Size) 1 << a->n;

	if (b->regs == NULL)
	{
		for (int i = 0; i < b->nhash; i++)
			pp_hll_add_hash(a, b->hashes[i]);
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

int64
pp_hll_count(PsPartial *p)
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

void
pp_dd_side_add(PsPartial *p, PsSketchSide *s, int32 idx, int64 cnt)
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

void
pp_dd_add(PsPartial *p, float8 x)
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
		pp_dd_side_add(p, &p->pos, dd_index(x), 1);
	else
		pp_dd_side_add(p, &p->neg, dd_index(-x), 1);
}

void
pp_dd_combine(PsPartial *a, PsPartial *b)
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
			pp_dd_side_add(a, &a->pos, i, b->pos.cnt[i - b->pos.lo]);
	for (int32 i = b->neg.lo; i < b->neg.hi; i++)
		if (b->neg.cnt[i - b->neg.lo] != 0)
			pp_dd_side_add(a, &a->neg, i, b->neg.cnt[i - b->neg.lo]);
}

float8
pp_dd_percentile(PsPartial *p)
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

int64
pp_dd_side_total(const PsSketchSide *s)
{
	int64		t = 0;

	for (int32 i = s->lo; i < s->hi; i++)
		t += s->cnt[i - s->lo];
	return t;
}

