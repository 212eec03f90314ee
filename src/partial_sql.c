/*
 * partial_sql.c
 *		The SQL interface of fs_partial (partial.c): the type's input and
 *		output functions, combining and finalizing, and the aggregates over
 *		events.
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
 * SQL: the type, combining, finalizing, and aggregates over events
 * --------------------------------------------------------------------- */

PG_FUNCTION_INFO_V1(fs_partial_in);
Datum
fs_partial_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_BYTEA_P(ps_partial_flatten(pp_state_from_json(PG_GETARG_CSTRING(0))));
}

PG_FUNCTION_INFO_V1(fs_partial_out);
Datum
fs_partial_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(pp_state_to_json(ps_partial_unflatten(PG_GETARG_DATUM(0))));
}

PG_FUNCTION_INFO_V1(fs_partial_send);
Datum
fs_partial_send(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	pq_begintypsend(&buf);
	pp_put_state(&buf, ps_partial_unflatten(PG_GETARG_DATUM(0)), true);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(fs_partial_recv);
Datum
fs_partial_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	PsPartial  *p = pp_get_state(buf->data + buf->cursor, buf->len - buf->cursor, true,
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
						pp_vt_names[p->vt], format_type_be(type), format_type_be(want)),
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
						pp_agg_fns[p->fn].name, pp_agg_fns[fn].name)));
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
