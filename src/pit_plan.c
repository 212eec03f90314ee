/*
 * pit_plan.c
 *		The point-in-time join's arguments (pit.c): the spine, as a table,
 *		a view or one SELECT statement that stays one, and everything the
 *		join needs that does not depend on data -- the spine's columns,
 *		which one is T, the key columns cast to the views' key types, the
 *		output columns.
 */
#include "pit_int.h"

#include "utils/guc.h"
#include "storage/lmgr.h"
#include "postmaster/bgworker_internals.h"

#include <unistd.h>

/*
 * pushsource.historical_feature_names: how full feature names are spelled
 * in point-in-time results -- view__feature (Feast's and the default) or
 * view.feature (Tecton's online names, which training code written against
 * Tecton's feature vectors expects).  A session setting.
 */
typedef enum
{
	NAMES_DOUBLE_UNDERSCORE,
	NAMES_DOTTED
} FeatureNames;

static const struct config_enum_entry feature_name_options[] = {
	{"double_underscore", NAMES_DOUBLE_UNDERSCORE, false},
	{"dotted", NAMES_DOTTED, false},
	{NULL, 0, false}
};
static int	feature_names = NAMES_DOUBLE_UNDERSCORE;

/* pushsource.pit_memory in kB; -1: see pit_memory_budget */
static int	pit_memory = -1;

/* pushsource.pit_workers; -1: see pit_max_workers */
static int	pit_workers = -1;

static bool
check_pit_memory(int *newval, void **extra, GucSource source)
{
	if (*newval == 0)
	{
		GUC_check_errdetail("Use -1 for the default, or a size of at least 1kB.");
		return false;
	}
	return true;
}

/*
 * The memory a point-in-time join plans for: pushsource.pit_memory, or
 * when it is -1 (the default) the larger of maintenance_work_mem and the
 * hash memory limit (work_mem * hash_mem_multiplier).  A training-set
 * build is one batch statement, like CREATE INDEX, not one of many OLTP
 * queries that share work_mem.
 */
Size
pit_memory_budget(void)
{
	if (pit_memory > 0)
		return (Size) pit_memory * 1024;
	return Max(get_hash_memory_limit(), (Size) maintenance_work_mem * 1024);
}

/*
 * The parallel workers a point-in-time join may use:
 * max_parallel_workers_per_gather, and by default (pushsource.pit_workers
 * -1) at most one less than the CPUs online.  Unlike a Gather's leader,
 * the join's leader does a full share of the scan and of the partitions,
 * so with as many workers as CPUs the processes only take turns: on two
 * CPUs, a 1M-row spine over 5M feature rows took 1.72 s with two workers
 * and 1.53 s with one.  A setting >= 0 takes the place of the CPU count's
 * limit (never above max_parallel_workers_per_gather).
 */
int
pit_max_workers(void)
{
	int			n = max_parallel_workers_per_gather;

	if (pit_workers >= 0)
		return Min(n, pit_workers);
#ifdef _SC_NPROCESSORS_ONLN
	{
		long		cpus = sysconf(_SC_NPROCESSORS_ONLN);

		if (cpus > 0)
			n = Min(n, (int) Min(cpus - 1, (long) MAX_PARALLEL_WORKER_LIMIT));
	}
#endif
	return Max(n, 0);
}

void
ps_pit_plan_init(void)
{
	DefineCustomEnumVariable("pushsource.historical_feature_names",
							 "How point-in-time results name features when full_feature_names is on.",
							 "double_underscore: view__feature (Feast); dotted: view.feature (Tecton's names).",
							 &feature_names, NAMES_DOUBLE_UNDERSCORE, feature_name_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pushsource.pit_memory",
							"Memory a point-in-time join plans for; beyond it the spine is split into partitions that spill to temp files.",
							"-1 (the default): the larger of maintenance_work_mem and work_mem * hash_mem_multiplier.",
							&pit_memory, -1, -1, MAX_KILOBYTES, PGC_USERSET, GUC_UNIT_KB,
							check_pit_memory, NULL, NULL);
	DefineCustomIntVariable("pushsource.pit_workers",
							"Parallel workers a point-in-time join may use, within max_parallel_workers_per_gather.",
							"-1 (the default): one less than the CPUs online, as the join's leader does a worker's share.",
							&pit_workers, -1, -1, MAX_PARALLEL_WORKER_LIMIT, PGC_USERSET, 0,
							NULL, NULL, NULL);
}

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

/*
 * The spine as a FROM item: a query in parentheses or a quoted relation
 * (*relid: the relation, or InvalidOid for a query).
 */
static char *
spine_from_item(const char *spine, Oid *relid_out)
{
	List	   *names;
	RangeVar   *rv;
	Oid			relid;

	*relid_out = InvalidOid;
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
	*relid_out = relid;
	return ps_qualified_relname(relid);
}

/*
 * Prepare a statement built around the user's spine query, which must stay
 * one SELECT: a spine like "SELECT 1) s; DROP TABLE t; SELECT (1" is
 * refused, not run.
 */
SPIPlanPtr
pit_prepare_spine_statement(const char *sql, const char *spine, ParamListInfo params)
{
	Oid			types[FUNC_MAX_ARGS];
	int			n = params ? params->numParams : 0;
	SPIPlanPtr	plan;
	List	   *sources;

	for (int i = 0; i < n; i++)
		types[i] = params->params[i].ptype;
	plan = SPI_prepare(sql, n, types);
	if (plan == NULL)
		elog(ERROR, "pushsource: could not prepare the spine query: %s",
			 SPI_result_code_string(SPI_result));
	sources = SPI_plan_get_plan_sources(plan);
	if (list_length(sources) != 1 ||
		((CachedPlanSource *) linitial(sources))->commandTag != CMDTAG_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("spine must be a single SELECT query or a table or view name"),
				 errdetail("Got: %s", spine)));
	return plan;
}

static PitView *
find_or_add_view(List **views, PsView *v)
{
	ListCell   *lc;
	PitView    *pv;

	ps_check_view(v);

	foreach(lc, *views)
	{
		pv = lfirst(lc);
		if (pv->view == v)
			return pv;
	}
	pv = palloc0(sizeof(PitView));
	pv->view = v;
	pv->is_agg = v->naggs > 0;
	pv->feat_cols = palloc(sizeof(int) * Max(Max(v->nfeatures, v->naggs), 1));
	*views = lappend(*views, pv);
	return pv;
}

/* A feature's name: its column's, or its aggregate's. */
static const char *
feature_name(PitView *pv, int col)
{
	return pv->is_agg ? pv->view->aggs[col].name : pv->view->source->cols[col].name;
}

static void
add_feature(PitView *pv, int col, const char *ref)
{
	for (int i = 0; i < pv->nfeat; i++)
		if (pv->feat_cols[i] == col)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("feature \"%s.%s\" is requested twice (by \"%s\")",
							pv->view->name, feature_name(pv, col), ref)));
	pv->feat_cols[pv->nfeat++] = col;
}

static void
add_view_features(PitView *pv, List *names, const char *ref)
{
	PsView	   *v = pv->view;
	ListCell   *lc;

	if (names == NIL)
	{
		if (pv->is_agg)
			for (int i = 0; i < v->naggs; i++)
				add_feature(pv, i, ref);
		else
			for (int i = 0; i < v->nfeatures; i++)
				add_feature(pv, v->feature_cols[i], ref);
		return;
	}
	foreach(lc, names)
	{
		const char *f = lfirst(lc);
		int			col = -1;

		if (pv->is_agg)
		{
			for (int i = 0; i < v->naggs; i++)
				if (strcmp(v->aggs[i].name, f) == 0)
					col = i;
		}
		else
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

void
pit_lt_operator(Oid type, Oid *lt)
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
 * fs_run's mock source for view v: a table (or materialized view: its
 * physical order breaks ties of equal event times, as the log's does)
 * with every column the view reads, each of the push source's type,
 * typmod and collation, so that the join reads it as it reads the
 * source's log.  Locked until the end of the transaction, so that no
 * other session changes it while it is read; the readers check the types
 * again as they read (pit_check_feature_desc), against this session.
 */
void
pit_check_mock(PsView *v, Oid mock)
{
	PsSource   *src = v->source;
	char		relkind;
	const char *mockname;
	AclResult	acl;

	LockRelationOid(mock, AccessShareLock);
	mockname = get_rel_name(mock);
	if (mockname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("mock source of feature view \"%s\": relation %u does not exist", v->name, mock)));
	acl = pg_namespace_aclcheck(get_rel_namespace(mock), GetUserId(), ACL_USAGE);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_SCHEMA, get_namespace_name(get_rel_namespace(mock)));
	relkind = get_rel_relkind(mock);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_MATVIEW)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("mock source \"%s\" of feature view \"%s\" is not a plain table or materialized view",
						mockname, v->name),
				 errdetail("Its rows are read in physical (ctid) order, which breaks ties of equal event times as the push source's log does; a view, a foreign or a partitioned table has none."),
				 errhint("Copy the rows into a table: CREATE TEMP TABLE m AS SELECT ... ORDER BY ...")));
	for (int i = 0; i < v->nkeys + 1 + v->nfeatures; i++)
	{
		PsColumn   *c = &src->cols[i < v->nkeys ? v->key_cols[i]
								   : i == v->nkeys ? src->ts_col
								   : v->feature_cols[i - v->nkeys - 1]];
		AttrNumber	att = get_attnum(mock, c->name);
		Oid			type;
		int32		typmod;
		Oid			coll;
		Oid			want_coll;
		int32		want_typmod;

		if (att == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("mock source \"%s\" has no column \"%s\", which feature view \"%s\" reads",
							mockname, c->name, v->name),
					 errhint("Give it the columns of push source \"%s\" that the view reads: its join keys, \"%s\" and the columns of its features.",
							 src->name, src->cols[src->ts_col].name)));
		get_atttypetypmodcoll(mock, att, &type, &typmod, &coll);
		get_atttypetypmodcoll(src->relid, c->attnum, &(Oid) {InvalidOid}, &want_typmod, &want_coll);
		if (type != c->type->typid || typmod != want_typmod)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("mock source \"%s\": column \"%s\" is of type %s, expected %s as in push source \"%s\"",
							mockname, c->name, format_type_with_typemod(type, typmod),
							format_type_with_typemod(c->type->typid, want_typmod), src->name)));
		if (coll != want_coll)
			ereport(ERROR,
					(errcode(ERRCODE_COLLATION_MISMATCH),
					 errmsg("mock source \"%s\": column \"%s\" has collation %s, expected %s as in push source \"%s\"",
							mockname, c->name,
							OidIsValid(coll) ? get_collation_name(coll) : "none",
							OidIsValid(want_coll) ? get_collation_name(want_coll) : "none", src->name),
					 errdetail("Keys that compare equal under one collation and not the other would be one entity in some results and two in others.")));
	}
}

/*
 * The columns of the rows a feature scan returns (desc) are those of the
 * view's push source, by name: a mock altered since pit_check_mock (by a
 * function of this very session) is refused here, before a value of one
 * type is read as another.
 */
void
pit_check_feature_desc(PsView *v, TupleDesc desc)
{
	PsSource   *src = v->source;

	for (int a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);

		for (int i = 0; i < src->ncols; i++)
			if (strcmp(NameStr(att->attname), src->cols[i].name) == 0 &&
				att->atttypid != src->cols[i].type->typid)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("feature view \"%s\": column \"%s\" of the rows read is of type %s, expected %s",
								v->name, src->cols[i].name, format_type_be(att->atttypid),
								format_type_be(src->cols[i].type->typid)),
						 errdetail("The table read was changed while the join ran.")));
	}
}

/*
 * Everything the join needs that does not depend on data: the spine's
 * columns, which one is T, the key columns (cast to the views' key types
 * where PostgreSQL would cast implicitly), the output columns.
 */
PitPlan *
pit_plan_join(const char *spine, ArrayType *features, const char *timestamp_key,
		  bool full_names, bool from_source, ParamListInfo spine_params, Oid mock_relid)
{
	PitPlan    *plan = palloc0(sizeof(PitPlan));
	Oid			spine_rel;
	char	   *from = spine_from_item(spine, &spine_rel);
	StringInfoData sql;
	StringInfoData cols;
	StringInfoData qcols;
	ListCell   *lc;
	int			t_col = -1;
	int			extra;
	int			nout;

	plan->views = resolve_features(features);
	plan->from_source = from_source || OidIsValid(mock_relid);
	plan->mock_relid = mock_relid;
	plan->spine_params = spine_params;
	if (OidIsValid(mock_relid))
		foreach(lc, plan->views)
			pit_check_mock(((PitView *) lfirst(lc))->view, mock_relid);

	/* the spine's columns */
	{
		MemoryContext outer = CurrentMemoryContext;

		ps_spi_connect_caller();	/* the spine is the caller's SQL */
		if (SPI_execute_plan_with_paramlist(pit_prepare_spine_statement(psprintf("SELECT * FROM %s s LIMIT 0", from),
																	spine, spine_params),
											spine_params, true, 0) != SPI_OK_SELECT)
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

		if (!plan->from_source && !v->offline)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("feature view \"%s\" has no offline store", v->name),
					 errhint("Create it with offline => true, or pass from_source => true to read the push source's table.")));
		if (from_source && !src->log_offline && !OidIsValid(mock_relid))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("push source \"%s\" of feature view \"%s\" keeps no rows (log_offline => false)",
							src->name, v->name),
					 errhint("Read the view's offline store instead (from_source => false).")));
		pv->spine_key_att = palloc(sizeof(int) * Max(v->nkeys, 1));
		pv->ssup = palloc0(sizeof(SortSupportData) * Max(v->nkeys, 1));
		pv->key_ltop = palloc0(sizeof(Oid) * Max(v->nkeys, 1));
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
			/*
			 * Another type is cast to the key's, without a typmod: a typmod
			 * would round or cut the value into one that matches another key.
			 */
			if (stype == c->type->typid)
				pv->spine_key_att[k] = sc;
			else
			{
				appendStringInfo(&sql, ", s.%s::%s", quote_identifier(c->name),
								 format_type_be_qualified(c->type->typid));
				pv->spine_key_att[k] = extra++;
			}
			pit_lt_operator(c->type->typid, &ltOpr);
			pv->key_ltop[k] = ltOpr;
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
			plan->t_att = t_col;
		else
		{
			if (ttype == TIMESTAMPOID)
				appendStringInfo(&sql, ", pg_catalog.timezone('UTC', s.%s)", tname);
			else
				appendStringInfo(&sql, ", pg_catalog.timezone('UTC', s.%s::pg_catalog.timestamp)", tname);
			plan->t_att = extra;
		}
	}
	appendStringInfo(&sql, " FROM %s s", from);
	plan->spine_sql = sql.data;
	/* every column read is the table's own: a heap scan may read it */
	if (OidIsValid(spine_rel) && extra == plan->nspine && spine_params == NULL)
		plan->spine_relid = spine_rel;

	/* output columns: the spine's, then the features */
	nout = plan->nspine;
	foreach(lc, plan->views)
		nout += ((PitView *) lfirst(lc))->nfeat;
	plan->out_desc = CreateTemplateTupleDesc(nout);
	initStringInfo(&cols);
	initStringInfo(&qcols);
	for (int i = 0; i < plan->nspine; i++)
	{
		Form_pg_attribute a = TupleDescAttr(plan->spine_desc, i);

		TupleDescInitEntry(plan->out_desc, i + 1, NameStr(a->attname), a->atttypid, a->atttypmod, 0);
		appendStringInfo(&cols, "%s%s %s", i ? ", " : "", quote_identifier(NameStr(a->attname)),
						 format_type_with_typemod(a->atttypid, a->atttypmod));
		appendStringInfo(&qcols, "%s%s %s", i ? ", " : "", quote_identifier(NameStr(a->attname)),
						 format_type_extended(a->atttypid, a->atttypmod,
											  FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY));
	}
	nout = plan->nspine;
	foreach(lc, plan->views)
	{
		PitView    *pv = lfirst(lc);

		pv->out_names = palloc(sizeof(char *) * Max(pv->nfeat, 1));
		pv->feat_types = palloc(sizeof(Oid) * Max(pv->nfeat, 1));
		pv->feat_typmods = palloc(sizeof(int32) * Max(pv->nfeat, 1));
		for (int f = 0; f < pv->nfeat; f++)
		{
			const char *fname = feature_name(pv, pv->feat_cols[f]);
			char	   *name = !full_names ? pstrdup(fname) :
				psprintf(feature_names == NAMES_DOTTED ? "%s.%s" : "%s__%s", pv->view->name, fname);
			Oid			type;
			int32		typmod = -1;

			for (int i = 0; i < nout; i++)
				if (strcmp(NameStr(TupleDescAttr(plan->out_desc, i)->attname), name) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_DUPLICATE_COLUMN),
							 errmsg("output column \"%s\" would appear twice", name),
							 errhint(full_names ? "Rename the spine column."
									 : "Use full_feature_names => true to name features view__feature.")));
			if (pv->is_agg)
				type = ps_agg_feature_type(pv->view, pv->feat_cols[f]);
			else
			{
				PsColumn   *c = &pv->view->source->cols[pv->feat_cols[f]];

				type = c->type->typid;
				typmod = c->type->typmod;
			}
			pv->out_names[f] = name;
			pv->feat_types[f] = type;
			pv->feat_typmods[f] = typmod;
			TupleDescInitEntry(plan->out_desc, nout + 1, name, type, typmod, 0);
			appendStringInfo(&cols, ", %s %s", quote_identifier(name),
							 format_type_with_typemod(type, typmod));
			appendStringInfo(&qcols, ", %s %s", quote_identifier(name),
							 format_type_extended(type, typmod,
												  FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY));
			nout++;
		}
	}
	plan->columns = cols.data;
	plan->columns_qualified = qcols.data;
	return plan;
}

