/*
 * pit.c
 *		Point-in-time-correct training data: fs_get_historical_features and
 *		fs_historical_features_columns.
 *
 * For every spine row (entity keys, time T) and every requested feature
 * view, the feature row with the same join-key tuple and the greatest event
 * timestamp <= T (>= T - ttl when the view has a ttl; ties to the latest
 * ingested) is found by an as-of merge join, not by a lookup per row:
 *
 *	1. the spine is read once through a cursor; each row gets its position
 *	   and is kept in a tuplestore (for output in spine order); for each view
 *	   its (keys, T, position) goes into a tuplesort;
 *	2. per view, the sorted spine is merged with the view's offline store
 *	   (or the source table) streamed through a cursor in (keys, ts, ingest
 *	   order) order, restricted to the time range the spine can reach; the
 *	   matched values go, keyed by spine position, into another tuplesort;
 *	3. the spine tuplestore and the per-view results, all in position order,
 *	   are zipped into the output.
 *
 * Every intermediate is a tuplesort or tuplestore, so memory stays within
 * work_mem-sized buffers and spills to disk beyond.  Keys are compared as
 * typed tuples with their types' btree comparators, never as strings.
 */
#include "pushsource.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "parser/parse_coerce.h"
#include "parser/parse_oper.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "tcop/dest.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/sortsupport.h"
#include "utils/timestamp.h"
#include "utils/tuplesort.h"
#include "utils/tuplestore.h"


/* One requested feature view and what the join needs of it. */
typedef struct PitView
{
	PsView	   *view;
	int			nfeat;
	int		   *feat_cols;		/* indexes into source->cols */
	char	  **out_names;
	Oid		   *feat_types;
	int32	   *feat_typmods;
	int		   *spine_key_att;	/* 0-based column of the key in the read spine */
	SortSupportData *ssup;		/* per join key */
	TupleDesc	sort_desc;		/* keys..., T, position */
	Tuplesortstate *spine_sort;
	TupleTableSlot *sort_slot;
	TupleDesc	result_desc;	/* position, features... */
	Tuplesortstate *result_sort;
	TupleTableSlot *result_slot;
} PitView;

typedef struct PitPlan
{
	char	   *spine_sql;		/* SELECT s.*, casts..., T FROM (...) s */
	TupleDesc	spine_desc;		/* the spine's own columns */
	int			nspine;
	int			t_att;			/* 0-based column of T in the read spine */
	List	   *views;			/* PitView * */
	TupleDesc	out_desc;
	char	   *columns;		/* "name type, ..." for AS t(...) */
	bool		from_source;
} PitPlan;

/* ---------------------------------------------------------------------
 * Resolving the arguments
 * --------------------------------------------------------------------- */

/* Does s start with keyword kw as a whole word (withdrawals is a name)? */
static bool
starts_with_keyword(const char *s, const char *kw)
{
	size_t		n = strlen(kw);
	unsigned char next = (unsigned char) s[n];

	return pg_strncasecmp(s, kw, n) == 0 &&
		!(isalnum(next) || next == '_' || next == '$' || next >= 0x80);
}

static bool
looks_like_query(const char *s)
{
	while (*s == '(' || isspace((unsigned char) *s))
		s++;
	return starts_with_keyword(s, "select") || starts_with_keyword(s, "with") ||
		starts_with_keyword(s, "values") || starts_with_keyword(s, "table");
}

/* The spine as a FROM item: a query in parentheses or a quoted relation. */
static char *
spine_from_item(const char *spine)
{
	List	   *names;
	RangeVar   *rv;
	Oid			relid;

	if (looks_like_query(spine))
		return psprintf("(%s)", spine);
	names = stringToQualifiedNameList(spine);
	rv = makeRangeVarFromNameList(names);
	relid = RangeVarGetRelid(rv, AccessShareLock, true);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("spine \"%s\" is neither a table or view nor a SELECT query", spine),
				 errhint("Pass a table or view name, or a query such as 'SELECT user_id, ts FROM labels'.")));
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

static PitView *
find_or_add_view(List **views, PsView *v)
{
	ListCell   *lc;
	PitView    *pv;

	foreach(lc, *views)
	{
		pv = lfirst(lc);
		if (pv->view == v)
			return pv;
	}
	pv = palloc0(sizeof(PitView));
	pv->view = v;
	pv->feat_cols = palloc(sizeof(int) * Max(v->nfeatures, 1));
	*views = lappend(*views, pv);
	return pv;
}

static void
add_feature(PitView *pv, int col, const char *ref)
{
	for (int i = 0; i < pv->nfeat; i++)
		if (pv->feat_cols[i] == col)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("feature \"%s.%s\" is requested twice (by \"%s\")",
							pv->view->name, pv->view->source->cols[col].name, ref)));
	pv->feat_cols[pv->nfeat++] = col;
}

static void
add_view_features(PitView *pv, List *names, const char *ref)
{
	PsView	   *v = pv->view;
	ListCell   *lc;

	if (names == NIL)
	{
		for (int i = 0; i < v->nfeatures; i++)
			add_feature(pv, v->feature_cols[i], ref);
		return;
	}
	foreach(lc, names)
	{
		const char *f = lfirst(lc);
		int			col = -1;

		for (int i = 0; i < v->nfeatures; i++)
			if (strcmp(v->source->cols[v->feature_cols[i]].name, f) == 0)
				col = v->feature_cols[i];
		if (col < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("feature view \"%s\" has no feature \"%s\"", v->name, f),
					 errhint("Its features are listed in pushsource.features.")));
		add_feature(pv, col, ref);
	}
}

/* 'fv', 'fv.feature' or a feature service, in the order given. */
static List *
resolve_features(ArrayType *arr)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	List	   *views = NIL;

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("features must name at least one feature view, feature or feature service")));
	for (int i = 0; i < n; i++)
	{
		char	   *ref;
		char	   *dot;
		PsView	   *v;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("features must not contain null")));
		ref = TextDatumGetCString(elems[i]);
		dot = strchr(ref, '.');
		if (dot != NULL)
		{
			char	   *fv = pnstrdup(ref, dot - ref);

			ps_check_name(fv, "feature view");
			ps_check_name(dot + 1, "feature");
			v = ps_lookup_view(fv, false);
			add_view_features(find_or_add_view(&views, v), list_make1(dot + 1), ref);
			continue;
		}
		ps_check_name(ref, "feature view or feature service");
		v = ps_lookup_view(ref, true);
		if (v != NULL)
			add_view_features(find_or_add_view(&views, v), NIL, ref);
		else
		{
			List	   *feats;
			List	   *svcviews = ps_lookup_service(ref, &feats);
			ListCell   *lv,
					   *lf;

			if (svcviews == NIL)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("feature view or feature service \"%s\" does not exist", ref),
						 errhint("They are listed in pushsource.feature_views and pushsource.feature_services.")));
			forboth(lv, svcviews, lf, feats)
				add_view_features(find_or_add_view(&views, lfirst(lv)), lfirst(lf), ref);
		}
	}
	return views;
}

static void
ps_lt_operator(Oid type, Oid *lt)
{
	Oid			eq;
	Oid			gt;
	bool		hashable;

	get_sort_group_operators(type, true, false, false, lt, &eq, &gt, &hashable);
}

static bool
is_time_type(Oid t)
{
	return t == TIMESTAMPTZOID || t == TIMESTAMPOID || t == DATEOID;
}

/*
 * Everything the join needs that does not depend on data: the spine's
 * columns, which one is T, the key columns (cast to the views' key types
 * where PostgreSQL would cast implicitly), the output columns.
 */
static PitPlan *
plan_join(const char *spine, ArrayType *features, const char *timestamp_key,
		  bool full_names, bool from_source)
{
	PitPlan    *plan = palloc0(sizeof(PitPlan));
	char	   *from = spine_from_item(spine);
	StringInfoData sql;
	StringInfoData cols;
	ListCell   *lc;
	int			t_col = -1;
	int			extra;
	int			nout;

	plan->views = resolve_features(features);
	plan->from_source = from_source;

	/* the spine's columns */
	{
		MemoryContext outer = CurrentMemoryContext;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute(psprintf("SELECT * FROM %s s LIMIT 0", from), true, 0) != SPI_OK_SELECT)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("spine must be a SELECT query or a table or view")));
		MemoryContextSwitchTo(outer);
		plan->spine_desc = CreateTupleDescCopy(SPI_tuptable->tupdesc);
		SPI_finish();
	}
	plan->nspine = plan->spine_desc->natts;

	/* T: the named column, or the only timestamp-like column */
	for (int i = 0; i < plan->nspine; i++)
	{
		Form_pg_attribute a = TupleDescAttr(plan->spine_desc, i);

		if (timestamp_key != NULL)
		{
			if (strcmp(NameStr(a->attname), timestamp_key) == 0)
				t_col = i;
		}
		else if (is_time_type(a->atttypid))
		{
			if (t_col >= 0)
				ereport(ERROR,
						(errcode(ERRCODE_AMBIGUOUS_COLUMN),
						 errmsg("the spine has more than one timestamp column (\"%s\", \"%s\")",
								NameStr(TupleDescAttr(plan->spine_desc, t_col)->attname),
								NameStr(a->attname)),
						 errhint("Say which one is the event time with timestamp_key => '...'.")));
			t_col = i;
		}
	}
	if (t_col < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 timestamp_key ? errmsg("the spine has no column \"%s\" (timestamp_key)", timestamp_key)
				 : errmsg("the spine has no timestamp column"),
				 errhint("The spine needs the join keys and a timestamptz, timestamp or date column.")));
	if (!is_time_type(TupleDescAttr(plan->spine_desc, t_col)->atttypid))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("spine column \"%s\" (timestamp_key) is of type %s, not a timestamp",
						timestamp_key, format_type_be(TupleDescAttr(plan->spine_desc, t_col)->atttypid))));

	/* the read query: the spine's columns, then each view's keys, then T */
	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT s.*");
	extra = plan->nspine;
	foreach(lc, plan->views)
	{
		PitView    *pv = lfirst(lc);
		PsView	   *v = pv->view;
		PsSource   *src = v->source;

		if (!from_source && !v->offline)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("feature view \"%s\" has no offline store", v->name),
					 errhint("Create it with offline => true, or pass from_source => true to read the push source's table.")));
		if (from_source && !src->log_offline)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("push source \"%s\" of feature view \"%s\" keeps no rows (log_offline => false)",
							src->name, v->name),
					 errhint("Read the view's offline store instead (from_source => false).")));
		pv->spine_key_att = palloc(sizeof(int) * Max(v->nkeys, 1));
		pv->ssup = palloc0(sizeof(SortSupportData) * Max(v->nkeys, 1));
		for (int k = 0; k < v->nkeys; k++)
		{
			PsColumn   *c = &src->cols[v->key_cols[k]];
			int			sc = -1;
			Oid			ltOpr;
			Oid			stype;

			for (int i = 0; i < plan->nspine; i++)
				if (strcmp(NameStr(TupleDescAttr(plan->spine_desc, i)->attname), c->name) == 0)
					sc = i;
			if (sc < 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("the spine has no column \"%s\", a join key of feature view \"%s\"",
								c->name, v->name)));
			stype = TupleDescAttr(plan->spine_desc, sc)->atttypid;
			if (stype != c->type->typid &&
				!can_coerce_type(1, &stype, &c->type->typid, COERCION_IMPLICIT))
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("spine column \"%s\" is of type %s, but join key \"%s\" of feature view \"%s\" is %s",
								c->name, format_type_be(stype), c->name, v->name,
								format_type_be(c->type->typid)),
						 errhint("Cast the spine column in a spine query, e.g. SELECT %s::%s ...",
								 quote_identifier(c->name), format_type_be(c->type->typid))));
			appendStringInfo(&sql, ", s.%s::%s", quote_identifier(c->name),
							 format_type_with_typemod(c->type->typid, c->type->typmod));
			pv->spine_key_att[k] = extra++;
			ps_lt_operator(c->type->typid, &ltOpr);
			pv->ssup[k].ssup_cxt = CurrentMemoryContext;
			pv->ssup[k].ssup_collation = get_typcollation(c->type->typid);
			pv->ssup[k].ssup_nulls_first = false;
			PrepareSortSupportFromOrderingOp(ltOpr, &pv->ssup[k]);
		}
	}
	{
		Oid			ttype = TupleDescAttr(plan->spine_desc, t_col)->atttypid;
		const char *tname = quote_identifier(NameStr(TupleDescAttr(plan->spine_desc, t_col)->attname));

		/* a timestamp without zone (or a date) in the spine is UTC */
		if (ttype == TIMESTAMPTZOID)
			appendStringInfo(&sql, ", s.%s", tname);
		else if (ttype == TIMESTAMPOID)
			appendStringInfo(&sql, ", pg_catalog.timezone('UTC', s.%s)", tname);
		else
			appendStringInfo(&sql, ", pg_catalog.timezone('UTC', s.%s::pg_catalog.timestamp)", tname);
		plan->t_att = extra;
	}
	appendStringInfo(&sql, " FROM %s s", from);
	plan->spine_sql = sql.data;

	/* output columns: the spine's, then the features */
	nout = plan->nspine;
	foreach(lc, plan->views)
		nout += ((PitView *) lfirst(lc))->nfeat;
	plan->out_desc = CreateTemplateTupleDesc(nout);
	initStringInfo(&cols);
	for (int i = 0; i < plan->nspine; i++)
	{
		Form_pg_attribute a = TupleDescAttr(plan->spine_desc, i);

		TupleDescInitEntry(plan->out_desc, i + 1, NameStr(a->attname), a->atttypid, a->atttypmod, 0);
		appendStringInfo(&cols, "%s%s %s", i ? ", " : "", quote_identifier(NameStr(a->attname)),
						 format_type_with_typemod(a->atttypid, a->atttypmod));
	}
	nout = plan->nspine;
	foreach(lc, plan->views)
	{
		PitView    *pv = lfirst(lc);
		PsSource   *src = pv->view->source;

		pv->out_names = palloc(sizeof(char *) * Max(pv->nfeat, 1));
		pv->feat_types = palloc(sizeof(Oid) * Max(pv->nfeat, 1));
		pv->feat_typmods = palloc(sizeof(int32) * Max(pv->nfeat, 1));
		for (int f = 0; f < pv->nfeat; f++)
		{
			PsColumn   *c = &src->cols[pv->feat_cols[f]];
			char	   *name = full_names ? psprintf("%s__%s", pv->view->name, c->name) : c->name;

			for (int i = 0; i < nout; i++)
				if (strcmp(NameStr(TupleDescAttr(plan->out_desc, i)->attname), name) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_DUPLICATE_COLUMN),
							 errmsg("output column \"%s\" would appear twice", name),
							 errhint(full_names ? "Rename the spine column."
									 : "Use full_feature_names => true to name features view__feature.")));
			pv->out_names[f] = name;
			pv->feat_types[f] = c->type->typid;
			pv->feat_typmods[f] = c->type->typmod;
			TupleDescInitEntry(plan->out_desc, nout + 1, name, c->type->typid, c->type->typmod, 0);
			appendStringInfo(&cols, ", %s %s", quote_identifier(name),
							 format_type_with_typemod(c->type->typid, c->type->typmod));
			nout++;
		}
	}
	plan->columns = cols.data;
	return plan;
}

/* ---------------------------------------------------------------------
 * The join
 * --------------------------------------------------------------------- */

static void
begin_view_sorts(PitView *pv)
{
	PsView	   *v = pv->view;
	PsSource   *src = v->source;
	int			nk = v->nkeys;
	AttrNumber *atts = palloc(sizeof(AttrNumber) * (nk + 2));
	Oid		   *ops = palloc(sizeof(Oid) * (nk + 2));
	Oid		   *colls = palloc(sizeof(Oid) * (nk + 2));
	bool	   *nf = palloc(sizeof(bool) * (nk + 2));
	Oid			ltOpr;

	pv->sort_desc = CreateTemplateTupleDesc(nk + 2);
	for (int k = 0; k < nk; k++)
	{
		PsColumn   *c = &src->cols[v->key_cols[k]];

		TupleDescInitEntry(pv->sort_desc, k + 1, c->name, c->type->typid, c->type->typmod, 0);
		atts[k] = k + 1;
		ps_lt_operator(c->type->typid, &ops[k]);
		colls[k] = get_typcollation(c->type->typid);
		nf[k] = false;
	}
	TupleDescInitEntry(pv->sort_desc, nk + 1, "t", TIMESTAMPTZOID, -1, 0);
	TupleDescInitEntry(pv->sort_desc, nk + 2, "pos", INT8OID, -1, 0);
	ps_lt_operator(TIMESTAMPTZOID, &ltOpr);
	atts[nk] = nk + 1;
	ops[nk] = ltOpr;
	colls[nk] = InvalidOid;
	nf[nk] = false;
	pv->spine_sort = tuplesort_begin_heap(pv->sort_desc, nk + 1, atts, ops, colls, nf,
										  work_mem, NULL, TUPLESORT_NONE);
	pv->sort_slot = MakeSingleTupleTableSlot(pv->sort_desc, &TTSOpsMinimalTuple);

	pv->result_desc = CreateTemplateTupleDesc(pv->nfeat + 1);
	TupleDescInitEntry(pv->result_desc, 1, "pos", INT8OID, -1, 0);
	for (int f = 0; f < pv->nfeat; f++)
		TupleDescInitEntry(pv->result_desc, f + 2, pv->out_names[f], pv->feat_types[f],
						   pv->feat_typmods[f], 0);
	ps_lt_operator(INT8OID, &ltOpr);
	atts[0] = 1;
	ops[0] = ltOpr;
	colls[0] = InvalidOid;
	nf[0] = false;
	pv->result_sort = tuplesort_begin_heap(pv->result_desc, 1, atts, ops, colls, nf,
										   work_mem, NULL, TUPLESORT_NONE);
	pv->result_slot = MakeSingleTupleTableSlot(pv->result_desc, &TTSOpsMinimalTuple);
}

/* The feature rows a view can contribute, in (keys, ts, ingest order) order. */
static char *
feature_query(PitView *pv, bool from_source, bool bounded_below)
{
	PsView	   *v = pv->view;
	PsSource   *src = v->source;
	const char *ts = quote_identifier(src->cols[src->ts_col].name);
	StringInfoData sql;
	StringInfoData order;

	initStringInfo(&sql);
	initStringInfo(&order);
	appendStringInfoString(&sql, "SELECT ");
	for (int k = 0; k < v->nkeys; k++)
	{
		const char *kn = quote_identifier(src->cols[v->key_cols[k]].name);

		appendStringInfo(&sql, "%s, ", kn);
		appendStringInfo(&order, "%s, ", kn);
	}
	appendStringInfo(&sql, "%s", ts);
	for (int f = 0; f < pv->nfeat; f++)
		appendStringInfo(&sql, ", %s", quote_identifier(src->cols[pv->feat_cols[f]].name));
	if (from_source)
	{
		/*
		 * The log has no ingest-order column: physical order is insertion
		 * order for an append-only table, and only breaks ties of equal
		 * event times.
		 */
		appendStringInfo(&sql, " FROM %s WHERE %s OPERATOR(pg_catalog.<=) $1",
						 quote_qualified_identifier(get_namespace_name(get_rel_namespace(src->relid)),
													get_rel_name(src->relid)), ts);
		if (v->has_start_time)
			appendStringInfo(&sql, " AND %s OPERATOR(pg_catalog.>=) $3", ts);
		appendStringInfo(&order, "%s, ctid", ts);
	}
	else
	{
		appendStringInfo(&sql, " FROM %s WHERE %s OPERATOR(pg_catalog.<=) $1",
						 quote_qualified_identifier(get_namespace_name(get_rel_namespace(v->offline_relid)),
													get_rel_name(v->offline_relid)), ts);
		appendStringInfo(&order, "%s, " PS_INGEST_COL, ts);
	}
	for (int k = 0; k < v->nkeys; k++)
		appendStringInfo(&sql, " AND %s IS NOT NULL", quote_identifier(src->cols[v->key_cols[k]].name));
	if (bounded_below)
		appendStringInfo(&sql, " AND %s OPERATOR(pg_catalog.>=) $2", ts);
	appendStringInfo(&sql, " ORDER BY %s", order.data);
	return sql.data;
}

/* ---------------------------------------------------------------------
 * The as-of merge, as a DestReceiver: the feature scan pushes its rows,
 * in (keys, ts, ingest order) order, straight from the executor, and each
 * spine row (pulled from the sorted spine) is answered as soon as a feature
 * row beyond it in (keys, time) arrives.  'best' is the last feature row
 * seen; it answers a spine row when it has the same keys.
 * --------------------------------------------------------------------- */

typedef struct MergeReceiver
{
	DestReceiver pub;
	PitView    *pv;
	int			nk;
	bool		spine_done;
	bool		has_best;
	int			nbest;			/* keys, ts, features */
	Datum	   *best_vals;
	bool	   *best_nulls;
	bool	   *byval;
	int16	   *typlen;
	MemoryContext bestcxt[2];
	int			which;
	TimestampTz t;				/* T of the current spine row */
	bool		t_null;
	bool		key_null;
} MergeReceiver;

static void
receiver_noop_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
receiver_noop(DestReceiver *self)
{
}

static void
advance_spine(MergeReceiver *r)
{
	TupleTableSlot *s = r->pv->sort_slot;

	if (!tuplesort_gettupleslot(r->pv->spine_sort, true, false, s, NULL))
	{
		r->spine_done = true;
		return;
	}
	slot_getallattrs(s);
	r->key_null = false;
	for (int k = 0; k < r->nk; k++)
		r->key_null |= s->tts_isnull[k];
	r->t_null = s->tts_isnull[r->nk];
	r->t = r->t_null ? 0 : DatumGetTimestampTz(s->tts_values[r->nk]);
}

/* Spine keys against a row's keys (nulls last, as the spine is sorted). */
static int
compare_spine_keys(MergeReceiver *r, Datum *vals, bool *nulls)
{
	TupleTableSlot *s = r->pv->sort_slot;

	for (int k = 0; k < r->nk; k++)
	{
		int			c = ApplySortComparator(s->tts_values[k], s->tts_isnull[k],
											vals[k], nulls[k], &r->pv->ssup[k]);

		if (c != 0)
			return c;
	}
	return 0;
}

/* Answer the current spine row with 'best', then move to the next one. */
static void
emit_spine_row(MergeReceiver *r)
{
	PitView    *pv = r->pv;
	PsView	   *v = pv->view;
	TupleTableSlot *out = pv->result_slot;
	bool		match = r->has_best && !r->key_null && !r->t_null &&
		compare_spine_keys(r, r->best_vals, r->best_nulls) == 0;

	if (match && v->has_ttl)
	{
		TimestampTz lo = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
																 TimestampTzGetDatum(r->t),
																 IntervalPGetDatum(&v->ttl)));

		match = DatumGetTimestampTz(r->best_vals[r->nk]) >= lo;
	}
	if (match && v->has_start_time && r->t < v->start_time)
		match = false;

	ExecClearTuple(out);
	out->tts_values[0] = pv->sort_slot->tts_values[r->nk + 1];
	out->tts_isnull[0] = false;
	for (int f = 0; f < pv->nfeat; f++)
	{
		out->tts_values[f + 1] = match ? r->best_vals[r->nk + 1 + f] : (Datum) 0;
		out->tts_isnull[f + 1] = match ? r->best_nulls[r->nk + 1 + f] : true;
	}
	ExecStoreVirtualTuple(out);
	tuplesort_puttupleslot(pv->result_sort, out);
	advance_spine(r);
}

static bool
merge_receive(TupleTableSlot *slot, DestReceiver *self)
{
	MergeReceiver *r = (MergeReceiver *) self;
	int			nk = r->nk;
	TimestampTz fts;
	MemoryContext old;

	slot_getallattrs(slot);
	fts = DatumGetTimestampTz(slot->tts_values[nk]);

	/* every spine row before this feature row in (keys, time) is answered */
	while (!r->spine_done)
	{
		int			c = compare_spine_keys(r, slot->tts_values, slot->tts_isnull);

		if (c < 0 || (c == 0 && !r->t_null && r->t < fts))
			emit_spine_row(r);
		else
			break;
	}

	/* this row is now the latest seen */
	r->which ^= 1;
	MemoryContextReset(r->bestcxt[r->which]);
	old = MemoryContextSwitchTo(r->bestcxt[r->which]);
	for (int i = 0; i < r->nbest; i++)
	{
		r->best_nulls[i] = slot->tts_isnull[i];
		r->best_vals[i] = (slot->tts_isnull[i] || r->byval[i]) ? slot->tts_values[i]
			: datumCopy(slot->tts_values[i], false, r->typlen[i]);
	}
	MemoryContextSwitchTo(old);
	r->has_best = true;
	CHECK_FOR_INTERRUPTS();
	return true;
}

static void
merge_view(PitView *pv, bool from_source, TimestampTz min_t, TimestampTz max_t)
{
	PsView	   *v = pv->view;
	PsSource   *src = v->source;
	MergeReceiver r;
	ParamListInfo params = makeParamList(3);
	Oid			argtypes[3] = {TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	SPIExecuteOptions opts;
	SPIPlanPtr	plan;
	bool		bounded = v->has_ttl;
	int			ret;

	memset(&r, 0, sizeof(r));
	r.pub.receiveSlot = merge_receive;
	r.pub.rStartup = receiver_noop_startup;
	r.pub.rShutdown = receiver_noop;
	r.pub.rDestroy = receiver_noop;
	r.pub.mydest = DestNone;
	r.pv = pv;
	r.nk = v->nkeys;
	r.nbest = v->nkeys + 1 + pv->nfeat;
	r.best_vals = palloc(sizeof(Datum) * r.nbest);
	r.best_nulls = palloc(sizeof(bool) * r.nbest);
	r.byval = palloc(sizeof(bool) * r.nbest);
	r.typlen = palloc(sizeof(int16) * r.nbest);
	for (int i = 0; i < r.nbest; i++)
	{
		Oid			t = i < r.nk ? src->cols[v->key_cols[i]].type->typid
			: i == r.nk ? TIMESTAMPTZOID : pv->feat_types[i - r.nk - 1];

		get_typlenbyval(t, &r.typlen[i], &r.byval[i]);
	}
	r.bestcxt[0] = AllocSetContextCreate(CurrentMemoryContext, "pit best", ALLOCSET_SMALL_SIZES);
	r.bestcxt[1] = AllocSetContextCreate(CurrentMemoryContext, "pit best", ALLOCSET_SMALL_SIZES);

	params->numParams = 3;
	for (int i = 0; i < 3; i++)
	{
		params->params[i].ptype = TIMESTAMPTZOID;
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].isnull = false;
	}
	params->params[0].value = TimestampTzGetDatum(max_t);
	params->params[1].value = bounded ?
		DirectFunctionCall2(timestamptz_mi_interval, TimestampTzGetDatum(min_t),
							IntervalPGetDatum(&v->ttl)) : TimestampTzGetDatum(min_t);
	params->params[2].value = TimestampTzGetDatum(v->start_time);

	tuplesort_performsort(pv->spine_sort);
	advance_spine(&r);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/*
	 * Run to completion into our receiver, so the scan and its sort may use
	 * parallel workers (a cursor could not).
	 */
	plan = SPI_prepare_cursor(feature_query(pv, from_source, bounded), 3, argtypes,
							  CURSOR_OPT_PARALLEL_OK);
	if (plan == NULL)
		elog(ERROR, "pushsource: could not prepare the feature scan of \"%s\": %s",
			 v->name, SPI_result_code_string(SPI_result));
	memset(&opts, 0, sizeof(opts));
	opts.params = params;
	opts.read_only = true;
	opts.dest = (DestReceiver *) &r;
	ret = SPI_execute_plan_extended(plan, &opts);
	if (ret != SPI_OK_SELECT && ret != SPI_OK_UTILITY)
		elog(ERROR, "pushsource: the feature scan of \"%s\" failed", v->name);
	SPI_finish();

	/* spine rows after the last feature row */
	while (!r.spine_done)
		emit_spine_row(&r);

	MemoryContextDelete(r.bestcxt[0]);
	MemoryContextDelete(r.bestcxt[1]);
	tuplesort_end(pv->spine_sort);
	pv->spine_sort = NULL;
	tuplesort_performsort(pv->result_sort);
}

/* ---------------------------------------------------------------------
 * Reading the spine, also as a DestReceiver
 * --------------------------------------------------------------------- */

typedef struct SpineReceiver
{
	DestReceiver pub;
	PitPlan    *plan;
	Tuplestorestate *spine;
	int64		pos;
	TimestampTz min_t;
	TimestampTz max_t;
} SpineReceiver;

static bool
spine_receive(TupleTableSlot *slot, DestReceiver *self)
{
	SpineReceiver *r = (SpineReceiver *) self;
	PitPlan    *plan = r->plan;
	ListCell   *lc;
	Datum	   *sv;
	bool	   *sn;

	slot_getallattrs(slot);
	sv = slot->tts_values;
	sn = slot->tts_isnull;
	tuplestore_putvalues(r->spine, plan->spine_desc, sv, sn);
	if (!sn[plan->t_att])
	{
		TimestampTz t = DatumGetTimestampTz(sv[plan->t_att]);

		r->min_t = Min(r->min_t, t);
		r->max_t = Max(r->max_t, t);
	}
	foreach(lc, plan->views)
	{
		PitView    *pv = lfirst(lc);
		TupleTableSlot *s = pv->sort_slot;
		int			nk = pv->view->nkeys;

		ExecClearTuple(s);
		for (int k = 0; k < nk; k++)
		{
			s->tts_values[k] = sv[pv->spine_key_att[k]];
			s->tts_isnull[k] = sn[pv->spine_key_att[k]];
		}
		s->tts_values[nk] = sv[plan->t_att];
		s->tts_isnull[nk] = sn[plan->t_att];
		s->tts_values[nk + 1] = Int64GetDatum(r->pos);
		s->tts_isnull[nk + 1] = false;
		ExecStoreVirtualTuple(s);
		tuplesort_puttupleslot(pv->spine_sort, s);
	}
	r->pos++;
	CHECK_FOR_INTERRUPTS();
	return true;
}

static void
check_expected_desc(ReturnSetInfo *rsinfo, PitPlan *plan)
{
	TupleDesc	exp = rsinfo->expectedDesc;
	bool		ok = exp != NULL && exp->natts == plan->out_desc->natts;

	for (int i = 0; ok && i < exp->natts; i++)
		ok = TupleDescAttr(exp, i)->atttypid == TupleDescAttr(plan->out_desc, i)->atttypid;
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("the column definition list does not match the spine and the features"),
				 errdetail("The result has %d columns: %s.", plan->out_desc->natts, plan->columns),
				 errhint("Write ... AS t(%s), as returned by fs_historical_features_columns() with the same arguments.",
						 plan->columns)));
}

static PitPlan *
plan_from_args(FunctionCallInfo fcinfo, int first)
{
	if (PG_ARGISNULL(first) || PG_ARGISNULL(first + 1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("spine and features must not be null")));
	return plan_join(text_to_cstring(PG_GETARG_TEXT_PP(first)),
					 PG_GETARG_ARRAYTYPE_P(first + 1),
					 PG_ARGISNULL(first + 2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(first + 2)),
					 PG_ARGISNULL(first + 3) ? true : PG_GETARG_BOOL(first + 3),
					 PG_ARGISNULL(first + 4) ? false : PG_GETARG_BOOL(first + 4));
}

PG_FUNCTION_INFO_V1(fs_get_historical_features);
Datum
fs_get_historical_features(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PitPlan    *plan;
	Tuplestorestate *spine;
	TupleTableSlot *spine_slot;
	SPIPlanPtr	sp;
	SPIExecuteOptions opts;
	SpineReceiver sr;
	int			ret;
	int64		pos;
	TimestampTz min_t;
	TimestampTz max_t;
	ListCell   *lc;
	Datum	   *values;
	bool	   *nulls;
	MemoryContext outer = CurrentMemoryContext;

	plan = plan_from_args(fcinfo, 0);
	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) || rsinfo->expectedDesc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("fs_get_historical_features must be called in FROM: SELECT * FROM fs_get_historical_features(...) AS t(...)")));
	check_expected_desc(rsinfo, plan);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	/* 1. read the spine once */
	foreach(lc, plan->views)
		begin_view_sorts(lfirst(lc));
	spine = tuplestore_begin_heap(false, false, work_mem);
	memset(&sr, 0, sizeof(sr));
	sr.pub.receiveSlot = spine_receive;
	sr.pub.rStartup = receiver_noop_startup;
	sr.pub.rShutdown = receiver_noop;
	sr.pub.rDestroy = receiver_noop;
	sr.pub.mydest = DestNone;
	sr.plan = plan;
	sr.spine = spine;
	sr.min_t = DT_NOEND;
	sr.max_t = DT_NOBEGIN;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	sp = SPI_prepare(plan->spine_sql, 0, NULL);
	if (sp == NULL)
		elog(ERROR, "pushsource: could not read the spine: %s", SPI_result_code_string(SPI_result));
	memset(&opts, 0, sizeof(opts));
	opts.read_only = false;		/* the spine query is the user's own */
	opts.dest = (DestReceiver *) &sr;
	/* with our own receiver (DestNone) SPI reports SPI_OK_UTILITY */
	ret = SPI_execute_plan_extended(sp, &opts);
	if (ret != SPI_OK_SELECT && ret != SPI_OK_UTILITY)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("the spine must be a query that returns rows")));
	SPI_finish();
	MemoryContextSwitchTo(outer);
	pos = sr.pos;
	min_t = sr.min_t;
	max_t = sr.max_t;

	/* 2. the as-of merge per view */
	foreach(lc, plan->views)
	{
		if (pos == 0 || max_t < min_t)
		{
			tuplesort_end(((PitView *) lfirst(lc))->spine_sort);
			tuplesort_performsort(((PitView *) lfirst(lc))->result_sort);
		}
		else
			merge_view(lfirst(lc), plan->from_source, min_t, max_t);
	}

	/* 3. zip in spine order */
	values = palloc(sizeof(Datum) * plan->out_desc->natts);
	nulls = palloc(sizeof(bool) * plan->out_desc->natts);
	spine_slot = MakeSingleTupleTableSlot(plan->spine_desc, &TTSOpsMinimalTuple);
	for (int64 p = 0; p < pos; p++)
	{
		int			o = plan->nspine;

		if (!tuplestore_gettupleslot(spine, true, false, spine_slot))
			elog(ERROR, "pushsource: spine ended early");
		slot_getallattrs(spine_slot);
		memcpy(values, spine_slot->tts_values, sizeof(Datum) * plan->nspine);
		memcpy(nulls, spine_slot->tts_isnull, sizeof(bool) * plan->nspine);
		foreach(lc, plan->views)
		{
			PitView    *pv = lfirst(lc);

			if (!tuplesort_gettupleslot(pv->result_sort, true, false, pv->result_slot, NULL))
			{
				/* no spine row had a usable key and time: all null */
				for (int f = 0; f < pv->nfeat; f++)
					nulls[o + f] = true;
				o += pv->nfeat;
				continue;
			}
			slot_getallattrs(pv->result_slot);
			if (DatumGetInt64(pv->result_slot->tts_values[0]) != p)
				elog(ERROR, "pushsource: point-in-time results out of step");
			for (int f = 0; f < pv->nfeat; f++)
			{
				values[o + f] = pv->result_slot->tts_values[f + 1];
				nulls[o + f] = pv->result_slot->tts_isnull[f + 1];
			}
			o += pv->nfeat;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	foreach(lc, plan->views)
		tuplesort_end(((PitView *) lfirst(lc))->result_sort);
	tuplestore_end(spine);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(fs_historical_features_columns);
Datum
fs_historical_features_columns(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(plan_from_args(fcinfo, 0)->columns));
}
