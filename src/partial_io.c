/*
 * partial_io.c
 *		The forms of an fs_partial state outside memory: the flat form (the
 *		type's storage, and in network order its binary send/recv form) and
 *		the text form (JSON), each checked completely on input, so a state
 *		read back is always one partial.c could have made.
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

void
pp_put_state(StringInfo buf, PsPartial *p, bool network)
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
		int64		total = pp_dd_side_total(&p->pos) + pp_dd_side_total(&p->neg);

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

PsPartial *
pp_get_state(const char *data, int len, bool network, int errc, bool trusted)
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
	if (!pp_param_ok(fn, n))
		reader_fail(&r, "n is out of range for the function");
	if (!pp_fn_takes(fn, vt))
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
				pp_dd_side_add(p, sd, idx, c);
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
	pp_put_state(&buf, p, false);
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
	return pp_get_state(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), false, ERRCODE_DATA_CORRUPTED, true);
}

/* The flat form, appended to buf (tiles keep several states in one value). */
void
ps_partial_write(StringInfo buf, PsPartial *p)
{
	pp_put_state(buf, p, false);
}

/* A state from len bytes of ps_partial_write output. */
PsPartial *
ps_partial_read(const char *data, int len)
{
	return pp_get_state(data, len, false, ERRCODE_DATA_CORRUPTED, true);
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

char *
pp_state_to_json(PsPartial *p)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"fn\": \"%s\"", pp_agg_fns[p->fn].name);
	if (pp_agg_fns[p->fn].param == PARAM_P)
		appendStringInfo(&buf, ", \"p\": %s", pp_p_text(p->n));
	else if (pp_agg_fns[p->fn].param != PARAM_NONE)
		appendStringInfo(&buf, ", \"%s\": %d", pp_param_names[pp_agg_fns[p->fn].param], p->n);
	appendStringInfo(&buf, ", \"type\": \"%s\", \"count\": " INT64_FORMAT, pp_vt_names[p->vt], p->count);
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
		pp_dd_side_add(p, sd, (int32) idx, cnt);
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

PsPartial *
pp_state_from_json(const char *str)
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
		if (strcmp(s, pp_agg_fns[f].name) == 0)
			fn = f;
	if (fn < 0)
		json_fail(&in, "unknown function \"%s\"", s);
	if (!json_get(c, "type", &v) || v.type != jbvString)
		json_fail(&in, "\"%s\" must be a type name", "type");
	s = pnstrdup(v.val.string.val, v.val.string.len);
	for (int t = 0; t < PS_VT_N; t++)
		if (strcmp(s, pp_vt_names[t]) == 0)
			vt = t;
	if (vt < 0)
		json_fail(&in, "unknown value type \"%s\"", s);
	for (int k = PARAM_N; k <= PARAM_P; k++)
		if (k != (int) pp_agg_fns[fn].param && json_get(c, pp_param_names[k], &v))
			json_fail(&in, "%s", psprintf("%s takes no \"%s\"", pp_agg_fns[fn].name, pp_param_names[k]));
	if (pp_agg_fns[fn].param == PARAM_P)
	{
		char	   *digits;

		if (!json_get(c, "p", &v) || v.type != jbvNumeric)
			json_fail(&in, "\"%s\" must be a number from 0 to 1", "p");
		digits = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
		n = pp_parse_p(digits, strlen(digits));
		if (n < 0)
			json_fail(&in, "\"p\" must be a number from 0 to 1 with at most 6 decimals, not %s", digits);
	}
	else if (pp_agg_fns[fn].param != PARAM_NONE)
	{
		const char *key = pp_param_names[pp_agg_fns[fn].param];
		int64		n64 = json_int8(&in, c, key, true, 0);

		if (!pp_param_ok(fn, n64))
			json_fail(&in, "%s", pp_agg_fns[fn].param == PARAM_N ?
					  psprintf("\"n\" must be from 1 to %d", PS_MAX_N) :
					  psprintf("\"%s\" must be from %d to %d", key, HLL_MIN_PRECISION, HLL_MAX_PRECISION));
		n = (int) n64;
	}
	if (!pp_fn_takes(fn, vt))
		json_fail(&in, "%s does not take values of that type", pp_agg_fns[fn].name);
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

