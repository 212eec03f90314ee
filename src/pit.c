/*
 * pit.c
 *		Point-in-time-correct training data: fs_get_historical_features and
 *		fs_historical_features_columns.
 *
 * For every spine row (entity keys, time T) and every requested feature
 * view, the feature row with the same join-key tuple and the greatest event
 * timestamp <= T (>= T - ttl when the view has a ttl; ties to the latest
 * ingested) is found by an as-of join over the sorted spine, not by a lookup
 * per spine row:
 *
 *	1. the spine is read once (a DestReceiver under SPI); each row gets its
 *	   position and is kept in a tuplestore for the output; for each view its
 *	   (keys, T, position) records go to a temp file;
 *	2. per view, the records are indexed: sorted by (key hash, keys, T),
 *	   grouped by key, a hash directory over the groups, and a candidate
 *	   slot per record;
 *	3. the feature rows of the time range the spine can reach stream past
 *	   the index in any order (a direct heap scan of the offline store or
 *	   the source table): each lands on the slot of its key's first record
 *	   with T >= ts when it is newer than the candidate there; a running
 *	   maximum per key, in T order, then gives every record its as-of match;
 *	4. the spine is emitted in its order with its features.
 *
 * The index is sized against the hash memory limit (work_mem *
 * hash_mem_multiplier, as a hash join's); a bigger spine is split into
 * partitions by key hash and the feature rows of all but the first spill to
 * temp files, so memory stays bounded and the cost grows linearly.  Keys are
 * compared as typed tuples (hash functions and btree comparators of their
 * types), never as strings.
 */
#include "pushsource.h"

#include "access/htup_details.h"
#include "access/nbtree.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "parser/parse_coerce.h"
#include "parser/parse_oper.h"
#include "utils/builtins.h"
#include "utils/acl.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "miscadmin.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/typcache.h"
#include "access/table.h"
#include "common/hashfn.h"
#include "storage/buffile.h"
#include "storage/bufmgr.h"
#include "utils/plancache.h"
#include "tcop/dest.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/sortsupport.h"
#include "utils/timestamp.h"
#include "utils/tuplesort.h"
#include "utils/tuplestore.h"
#include "common/int.h"
#include "pgtime.h"
#include "access/parallel.h"
#include "optimizer/paths.h"
#include "optimizer/optimizer.h"
#include "optimizer/cost.h"
#include "access/heapam.h"
#include "access/tableam.h"
#include "executor/nodeHash.h"
#include "portability/instr_time.h"


/* A spine record in memory: keys, time T, position in the spine. */
typedef struct SpineEnt
{
	uint32		hash;
	TimestampTz t;
	TimestampTz oldest;			/* the oldest event time the ttl lets match */
	int64		pos;
	Datum	   *keys;
} SpineEnt;

/* The records of one key, [start, end) of the sorted records. */
typedef struct SpineGroup
{
	int64		start;
	int64		end;
	Datum		key0;			/* the key, when there is one */
} SpineGroup;

/* The hash directory over the groups: open addressing. */
typedef struct DirEnt
{
	uint32		hash;
	uint32		group;			/* group + 1; 0 is an empty slot */
} DirEnt;

/* A record's candidate: the newest feature row seen for it so far. */
typedef struct Cand
{
	TimestampTz ts;
	int64		ord;
	/* followed by nfeat Datums, a "has a row" flag and nfeat null flags */
} Cand;

#define GROUP_KEYS(ix, g, nk) \
	((nk) == 1 ? &(ix)->groups[g].key0 : (ix)->gkeys + (int64) (g) * (nk))
#define CAND_VALS(c) ((Datum *) ((char *) (c) + sizeof(Cand)))
#define CAND_HAS(c, nfeat) (*(bool *) (CAND_VALS(c) + (nfeat)))
#define CAND_NULLS(c, nfeat) ((bool *) (CAND_VALS(c) + (nfeat)) + 1)

/* The index of (one partition of) a view's spine records. */
typedef struct PitIndex
{
	MemoryContext cxt;			/* holds all of it */
	MemoryContext valcxt;		/* copies of by-reference feature values */
	SpineEnt   *ents;			/* sorted by (hash, keys, T, position) */
	TimestampTz *times;			/* their T, in the same order */
	int64		nents;
	SpineGroup *groups;
	int64		ngroups;
	Datum	   *gkeys;			/* with several keys: nkeys per group */
	TimestampTz *oldest;		/* per record, for a ttl with months or days */
	DirEnt	   *dir;
	uint32		dirmask;
	char	   *cands;			/* one candidate per record, stride apart */
} PitIndex;

/*
 * Feature rows are probed in batches, stage by stage, prefetching what the
 * next stage reads: the index is far bigger than the CPU caches, and one
 * row's lookups depend on each other, so batches keep many cache misses in
 * flight instead of one.
 */
#define PROBE_BATCH 64

/* how many spine positions ahead the output prefetches their candidates */
#define OUTPUT_PREFETCH 16

typedef struct ProbeBatch
{
	int			n;
	uint32		hash[PROBE_BATCH];
	uint32		slot[PROBE_BATCH];	/* directory slot */
	int64		at[PROBE_BATCH];	/* group, then record; -1: no match */
	Datum	   *vals;			/* PROBE_BATCH rows of ncodec values */
	bool	   *nulls;
	MemoryContext arena;		/* copies of by-reference values, per batch */
} ProbeBatch;

/* One requested feature view and what the join needs of it. */
typedef struct PitView
{
	PsView	   *view;
	bool		is_agg;			/* an aggregate view: a window per spine row */
	int			nfeat;
	int		   *feat_cols;		/* indexes into source->cols; aggregates: into
								 * view->aggs */
	char	  **out_names;
	Oid		   *feat_types;
	int32	   *feat_typmods;
	int		   *spine_key_att;	/* 0-based column of the key in the read spine */
	SortSupportData *ssup;		/* per join key */
	Oid		   *key_ltop;		/* per join key: its "<" (for the workers) */
	FmgrInfo   *hashfn;			/* per join key */
	Oid		   *hashcoll;
	bool	   *key_image;		/* per join key: equal values have equal images */
	/*
	 * the spine's records (keys, T, position): in memory while they fit in
	 * the hash memory limit, else in a temp file; then their partitions
	 */
	char	   *spine_mem;
	Size		spine_cap;
	BufFile    *spine_file;
	int64		spine_n;
	int64		spine_bytes;
	int			nparts;
	BufFile   **spine_parts;
	int64	   *spine_part_n;
	int64	   *spine_part_bytes;
	BufFile   **feat_parts;		/* spilled feature rows, partitions 1.. */
	PitIndex   *ix;				/* the index the scan probes */
	ProbeBatch	batch;
	bool		has_byref;		/* by-reference keys or features */
	bool		ttl_fixed;		/* the ttl is a fixed number of microseconds */
	int64		ttl_usec;
	int			ncodec;			/* columns of a feature record */
	int16	   *codec_len;		/* keys, ts, order, features */
	bool	   *codec_byval;
	int			nscodec;		/* columns of a spine record: keys, T, pos */
	int16	   *scodec_len;
	bool	   *scodec_byval;
	Size		stride;			/* of a candidate */
	StringInfoData enc;			/* encoding buffer */
	StringInfoData rbuf;		/* reading buffer */
	MemoryContext filecxt;		/* holds the BufFile structs (not SPI's memory) */
	uint64	   *seen;			/* bitset of spine key hashes */
	bool		ord_is_tid;		/* from_source: physical order breaks ties */
	/* results: by position in memory (one partition), or in buckets */
	Cand	  **res;
	TupleDesc	result_desc;
	Datum	   *rvals;
	bool	   *rnulls;
	BufFile   **buckets;
	MinimalTuple *loaded;		/* the current bucket, indexed by pos - base */
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
	char	   *columns_qualified;	/* the same, every type schema-qualified */
	bool		from_source;
	int64		nrows;			/* spine rows read */
	int64		bucket_rows;	/* spine positions per result bucket */
	int			nbuckets;
	bool		append_ok;		/* every feature is of a fixed-width by-value type */
	ParamListInfo spine_params; /* of an internal spine query (fs_run), or NULL */
} PitPlan;

/*
 * Phase timings at DEBUG2 (SET client_min_messages = debug2): where the
 * time of one call goes, for tuning work_mem and for profiling.
 */
static void
pit_phase(instr_time *since, const char *what, int64 n)
{
	instr_time	now;

	if (!message_level_is_interesting(DEBUG2))
		return;
	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, *since);
	ereport(DEBUG2,
			(errmsg_internal("pushsource: %s (" INT64_FORMAT "): %.3f ms",
							 what, n, INSTR_TIME_GET_MILLISEC(now))));
	INSTR_TIME_SET_CURRENT(*since);
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
	return ps_qualified_relname(relid);
}

/*
 * Prepare a statement built around the user's spine query, which must stay
 * one SELECT: a spine like "SELECT 1) s; DROP TABLE t; SELECT (1" is
 * refused, not run.
 */
static SPIPlanPtr
prepare_spine_statement(const char *sql, const char *spine, ParamListInfo params)
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
		  bool full_names, bool from_source, ParamListInfo spine_params)
{
	PitPlan    *plan = palloc0(sizeof(PitPlan));
	char	   *from = spine_from_item(spine);
	StringInfoData sql;
	StringInfoData cols;
	StringInfoData qcols;
	ListCell   *lc;
	int			t_col = -1;
	int			extra;
	int			nout;

	plan->views = resolve_features(features);
	plan->from_source = from_source;
	plan->spine_params = spine_params;

	/* the spine's columns */
	{
		MemoryContext outer = CurrentMemoryContext;

		ps_spi_connect_caller();	/* the spine is the caller's SQL */
		if (SPI_execute_plan_with_paramlist(prepare_spine_statement(psprintf("SELECT * FROM %s s LIMIT 0", from),
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
			ps_lt_operator(c->type->typid, &ltOpr);
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
			char	   *name = full_names ? psprintf("%s__%s", pv->view->name, fname) : pstrdup(fname);
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

/* ---------------------------------------------------------------------
 * The join
 *
 * Per view, the spine's (keys, T, position) records are indexed in memory:
 * sorted by (key hash, keys, T), grouped by key, with a hash directory over
 * the groups, and a candidate slot per record.  The feature rows then
 * stream past the index in any order: a row with keys K and event time ts
 * goes to the slot of K's first record with T >= ts, if it beats the
 * candidate there (a later ts, or the same ts and a later ingest).  At the
 * end a running maximum over each key's records, in T order, gives every
 * record the newest row with ts <= T, which is the as-of match: the spine
 * is sorted, the feature rows are not (they are the big side).
 *
 * When the index would not fit in the hash memory limit (work_mem *
 * hash_mem_multiplier, as for a hash join), the spine's records are split
 * into partitions by key hash.  Partition 0 is indexed during the scan; the
 * feature rows of the others go to temp files and stream past their
 * partition's index afterwards, as a hybrid hash join spills.
 * --------------------------------------------------------------------- */

/*
 * Result buckets hold MinimalTuples of (position, features), each written
 * after a 32-bit word.  BufFile structs are allocated in filecxt: the
 * receivers run inside SPI, whose executor memory is gone at SPI_finish.
 */
static void
write_record(MemoryContext filecxt, BufFile **file, uint32 hash, MinimalTuple tup)
{
	if (*file == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(filecxt);

		*file = BufFileCreateTemp(false);
		MemoryContextSwitchTo(old);
	}
	BufFileWrite(*file, &hash, sizeof(hash));
	BufFileWrite(*file, tup, tup->t_len);
}

/* Next record of a run being read, allocated in the current context. */
static MinimalTuple
read_record(BufFile *file, uint32 *hash)
{
	uint32		len;
	MinimalTuple tup;

	if (BufFileRead(file, hash, sizeof(uint32)) != sizeof(uint32))
		return NULL;
	if (BufFileRead(file, &len, sizeof(len)) != sizeof(len))
		elog(ERROR, "pushsource: truncated point-in-time temp file");
	tup = palloc(len);
	tup->t_len = len;
	if (BufFileRead(file, (char *) tup + sizeof(len), len - sizeof(len)) != len - sizeof(len))
		elog(ERROR, "pushsource: truncated point-in-time temp file");
	return tup;
}

static void
rewind_run(BufFile *file)
{
	if (BufFileSeek(file, 0, 0, SEEK_SET) != 0)
		elog(ERROR, "pushsource: could not rewind a point-in-time temp file");
}

/* Zero bytes up to the next MAXALIGN boundary (or n bytes). */
static inline void
pad_zero(StringInfo buf, int n)
{
	if (buf->maxlen - buf->len <= n)
		enlargeStringInfo(buf, n);
	memset(buf->data + buf->len, 0, n);
	buf->len += n;
}

static inline void
append_bytes(StringInfo buf, const void *data, int n)
{
	if (buf->maxlen - buf->len <= n)
		enlargeStringInfo(buf, n);
	memcpy(buf->data + buf->len, data, n);
	buf->len += n;
	buf->data[buf->len] = '\0';
}

/*
 * Spine and spilled feature records are encoded compactly instead of as
 * minimal tuples: [hash][length][null bitmap][values, each MAXALIGNed], the
 * whole record padded to MAXALIGN, so that records read into a buffer have
 * every value aligned and need no per-row allocation or tuple deforming.
 */
static void
encode_values(StringInfo buf, int n, int16 *len, bool *byval, Datum *vals, bool *nulls)
{
	int			nb = (n + 7) / 8;

	resetStringInfo(buf);
	pad_zero(buf, 8 + nb);		/* hash, length, null bitmap */
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
		{
			buf->data[8 + i / 8] |= 1 << (i % 8);
			continue;
		}
		pad_zero(buf, MAXALIGN(buf->len) - buf->len);
		if (byval[i])
			append_bytes(buf, &vals[i], sizeof(Datum));
		else if (len[i] > 0)
			append_bytes(buf, DatumGetPointer(vals[i]), len[i]);
		else if (len[i] == -1)
		{
			struct varlena *v = PG_DETOAST_DATUM_PACKED(vals[i]);

			appendBinaryStringInfo(buf, (char *) v, VARSIZE_ANY(v));
			if ((Pointer) v != DatumGetPointer(vals[i]))
				pfree(v);		/* the receivers' memory is per query */
		}
		else
			appendBinaryStringInfo(buf, DatumGetCString(vals[i]), strlen(DatumGetCString(vals[i])) + 1);
	}
	pad_zero(buf, MAXALIGN(buf->len) - buf->len);
	((uint32 *) buf->data)[1] = (uint32) buf->len;
}

/* Decode the first n values of a record (rec points at its start). */
static void
decode_values(char *rec, int n, int16 *len, bool *byval, Datum *vals, bool *nulls, int natts)
{
	int			nb = (natts + 7) / 8;
	Size		off = 8 + nb;

	for (int i = 0; i < n; i++)
	{
		nulls[i] = (rec[8 + i / 8] & (1 << (i % 8))) != 0;
		if (nulls[i])
		{
			vals[i] = (Datum) 0;
			continue;
		}
		off = MAXALIGN(off);
		if (byval[i])
		{
			memcpy(&vals[i], rec + off, sizeof(Datum));
			off += sizeof(Datum);
		}
		else
		{
			vals[i] = PointerGetDatum(rec + off);
			off += len[i] > 0 ? (Size) len[i] : len[i] == -1 ? VARSIZE_ANY(rec + off) : strlen(rec + off) + 1;
		}
	}
}

static void
write_encoded(MemoryContext filecxt, BufFile **file, StringInfo enc, uint32 hash,
			  int64 *n, int64 *bytes)
{
	if (*file == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(filecxt);

		*file = BufFileCreateTemp(false);
		MemoryContextSwitchTo(old);
	}
	((uint32 *) enc->data)[0] = hash;
	BufFileWrite(*file, enc->data, enc->len);
	if (n)
		(*n)++;
	if (bytes)
		*bytes += enc->len;
}

/*
 * One spine record of a view: into memory while the records fit in the
 * hash memory limit (the index needs more than that anyway, so a spine
 * whose records do not fit is partitioned from the file).
 */
static void
write_spine_record(PitView *pv, uint32 hash)
{
	StringInfo	enc = &pv->enc;

	if (pv->spine_file == NULL &&
		(Size) pv->spine_bytes + enc->len > get_hash_memory_limit())
	{
		/* too many: the ones so far go to a temp file first */
		MemoryContext old = MemoryContextSwitchTo(pv->filecxt);

		pv->spine_file = BufFileCreateTemp(false);
		MemoryContextSwitchTo(old);
		if (pv->spine_mem != NULL)
		{
			BufFileWrite(pv->spine_file, pv->spine_mem, pv->spine_bytes);
			pfree(pv->spine_mem);
			pv->spine_mem = NULL;
		}
	}
	if (pv->spine_file != NULL)
	{
		write_encoded(pv->filecxt, &pv->spine_file, enc, hash, &pv->spine_n, &pv->spine_bytes);
		return;
	}
	if ((Size) pv->spine_bytes + enc->len > pv->spine_cap)
	{
		Size		cap = Max(pv->spine_cap * 2, (Size) 64 * 1024);

		while (cap < (Size) pv->spine_bytes + enc->len)
			cap *= 2;
		pv->spine_mem = pv->spine_mem == NULL ?
			MemoryContextAllocHuge(pv->filecxt, cap) : repalloc_huge(pv->spine_mem, cap);
		pv->spine_cap = cap;
	}
	((uint32 *) enc->data)[0] = hash;
	memcpy(pv->spine_mem + pv->spine_bytes, enc->data, enc->len);
	pv->spine_bytes += enc->len;
	pv->spine_n++;
}

/* The next record of the spine's in memory, or NULL. */
static char *
next_spine_record(PitView *pv, int64 *off)
{
	char	   *rec;

	if (*off >= pv->spine_bytes)
		return NULL;
	rec = pv->spine_mem + *off;
	*off += ((uint32 *) rec)[1];
	return rec;
}

/* A whole file of records in one buffer. */
static char *
read_partition(BufFile *file, int64 bytes)
{
	char	   *buf = palloc_extended(Max(bytes, 1), MCXT_ALLOC_HUGE);
	int64		done = 0;

	rewind_run(file);
	while (done < bytes)
	{
		size_t		got = BufFileRead(file, buf + done, Min(bytes - done, (int64) 1 << 30));

		if (got == 0)
			elog(ERROR, "pushsource: truncated point-in-time temp file");
		done += got;
	}
	return buf;
}

/* The next record of a file being streamed (into buf, reused), or NULL. */
static char *
read_encoded(BufFile *file, StringInfo buf)
{
	uint32		head[2];
	size_t		got = BufFileRead(file, head, sizeof(head));

	if (got == 0)
		return NULL;
	if (got != sizeof(head) || head[1] < sizeof(head))
		elog(ERROR, "pushsource: truncated point-in-time temp file");
	resetStringInfo(buf);
	enlargeStringInfo(buf, head[1]);
	memcpy(buf->data, head, sizeof(head));
	if (BufFileRead(file, buf->data + sizeof(head), head[1] - sizeof(head)) != head[1] - sizeof(head))
		elog(ERROR, "pushsource: truncated point-in-time temp file");
	buf->len = head[1];
	return buf->data;
}

#define SEEN_BITS (1 << 20)

/*
 * Does the key type's default btree opclass say that equal values are
 * bitwise equal (btequalimage: integers, timestamps, text under a
 * deterministic collation; not floats or numeric)?  Then keys are compared
 * by their images, and by-value keys hashed by their bits: the hash only
 * has to agree between the spine and the feature rows of one join.
 */
static bool
key_equal_is_image(Oid typid, Oid coll)
{
	TypeCacheEntry *tc = lookup_type_cache(typid, TYPECACHE_BTREE_OPFAMILY);
	Oid			proc;

	if (!OidIsValid(tc->btree_opf))
		return false;
	proc = get_opfamily_proc(tc->btree_opf, tc->btree_opintype, tc->btree_opintype,
							 BTEQUALIMAGE_PROC);
	if (!OidIsValid(proc))
		return false;
	return DatumGetBool(OidFunctionCall1Coll(proc, coll, ObjectIdGetDatum(tc->btree_opintype)));
}

/* MurmurHash3's 64-bit finalizer, folded to 32 bits */
static inline uint32
mix_datum(Datum d)
{
	uint64		x = (uint64) d;

	x ^= x >> 33;
	x *= UINT64CONST(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64CONST(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return (uint32) x;
}

static uint32
hash_keys(PitView *pv, Datum *vals)
{
	uint32		h = 0;

	for (int k = 0; k < pv->view->nkeys; k++)
		h = hash_combine(h, pv->key_image[k] && pv->codec_byval[k] ? mix_datum(vals[k]) :
						 DatumGetUInt32(FunctionCall1Coll(&pv->hashfn[k], pv->hashcoll[k], vals[k])));
	return h;
}

/*
 * A ttl is a fixed length when it has no months, and no days either unless
 * the session's time zone has one fixed offset (no daylight saving time):
 * then T - ttl is plain arithmetic, as timestamptz_mi_interval would get.
 */
static void
set_ttl_fixed(PitView *pv)
{
	Interval   *ttl = &pv->view->ttl;
	long		gmtoff;
	int64		days;

	pv->ttl_fixed = false;
	if (!pv->view->has_ttl || ttl->month != 0 ||
		(ttl->day != 0 && !pg_get_timezone_offset(session_timezone, &gmtoff)))
		return;
	if (pg_mul_s64_overflow((int64) ttl->day, USECS_PER_DAY, &days) ||
		pg_add_s64_overflow(days, ttl->time, &pv->ttl_usec))
		return;
	pv->ttl_fixed = true;
}

/* T - ttl for a fixed ttl; infinite times stay as they are */
static inline TimestampTz
ttl_oldest(PitView *pv, TimestampTz t)
{
	TimestampTz r;

	if (TIMESTAMP_NOT_FINITE(t))
		return t;
	if (pg_sub_s64_overflow(t, pv->ttl_usec, &r))
		return DT_NOBEGIN;
	return r;
}

static void
init_batch(PitView *pv)
{
	pv->batch.vals = palloc(sizeof(Datum) * PROBE_BATCH * pv->ncodec);
	pv->batch.nulls = palloc(sizeof(bool) * PROBE_BATCH * pv->ncodec);
	pv->batch.arena = AllocSetContextCreate(CurrentMemoryContext, "pit probe batch",
											ALLOCSET_DEFAULT_SIZES);
}

/* Hash functions, codecs and descriptors of one view. */
static void
begin_view_join(PitView *pv, bool from_source)
{
	PsView	   *v = pv->view;
	PsSource   *src = v->source;
	int			nk = v->nkeys;

	pv->hashfn = palloc0(sizeof(FmgrInfo) * Max(nk, 1));
	pv->hashcoll = palloc0(sizeof(Oid) * Max(nk, 1));
	pv->key_image = palloc0(sizeof(bool) * Max(nk, 1));
	for (int k = 0; k < nk; k++)
	{
		PsColumn   *c = &src->cols[v->key_cols[k]];
		TypeCacheEntry *tc = lookup_type_cache(c->type->typid, TYPECACHE_HASH_PROC_FINFO);

		if (!OidIsValid(tc->hash_proc_finfo.fn_oid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("join key \"%s\" of feature view \"%s\" has type %s, which has no hash function",
							c->name, v->name, format_type_be(c->type->typid))));
		fmgr_info_copy(&pv->hashfn[k], &tc->hash_proc_finfo, CurrentMemoryContext);
		pv->hashcoll[k] = get_typcollation(c->type->typid);
		pv->key_image[k] = key_equal_is_image(c->type->typid, pv->hashcoll[k]);
	}

	pv->result_desc = CreateTemplateTupleDesc(pv->nfeat + 1);
	TupleDescInitEntry(pv->result_desc, 1, "pos", INT8OID, -1, 0);
	for (int f = 0; f < pv->nfeat; f++)
		TupleDescInitEntry(pv->result_desc, f + 2, pv->out_names[f], pv->feat_types[f],
						   pv->feat_typmods[f], 0);
	pv->rvals = palloc(sizeof(Datum) * (pv->nfeat + 1));
	pv->rnulls = palloc(sizeof(bool) * (pv->nfeat + 1));

	pv->nscodec = nk + 2;
	pv->scodec_len = palloc(sizeof(int16) * pv->nscodec);
	pv->scodec_byval = palloc(sizeof(bool) * pv->nscodec);
	pv->ncodec = nk + 2 + pv->nfeat;
	pv->codec_len = palloc(sizeof(int16) * pv->ncodec);
	pv->codec_byval = palloc(sizeof(bool) * pv->ncodec);
	for (int i = 0; i < pv->ncodec; i++)
	{
		Oid			t = i < nk ? src->cols[v->key_cols[i]].type->typid
			: i == nk ? TIMESTAMPTZOID : i == nk + 1 ? INT8OID : pv->feat_types[i - nk - 2];

		get_typlenbyval(t, &pv->codec_len[i], &pv->codec_byval[i]);
		if (i < nk + 2)
		{
			pv->scodec_len[i] = pv->codec_len[i];
			pv->scodec_byval[i] = pv->codec_byval[i];
		}
	}
	pv->scodec_len[nk] = 8;		/* T and position: by value */
	pv->scodec_byval[nk] = true;
	pv->scodec_len[nk + 1] = 8;
	pv->scodec_byval[nk + 1] = true;
	initStringInfo(&pv->enc);
	initStringInfo(&pv->rbuf);
	pv->filecxt = CurrentMemoryContext;
	pv->seen = palloc0(SEEN_BITS / 8);
	pv->ord_is_tid = from_source;
	pv->stride = MAXALIGN(sizeof(Cand) + pv->nfeat * sizeof(Datum) + 1 + pv->nfeat);
	set_ttl_fixed(pv);
	for (int i = 0; i < pv->ncodec; i++)
		if (i != nk && i != nk + 1 && !pv->codec_byval[i])
			pv->has_byref = true;
	init_batch(pv);
}

/*
 * The feature rows a view can contribute: keys, ts, ingest order, the
 * columns cols (its features; an aggregate view's value columns).
 */
static char *
feature_query(PitView *pv, bool from_source, bool bounded_below, int ncols, const int *cols)
{
	PsView	   *v = pv->view;
	PsSource   *src = v->source;
	const char *ts = quote_identifier(src->cols[src->ts_col].name);
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (int k = 0; k < v->nkeys; k++)
		appendStringInfo(&sql, "%s, ", quote_identifier(src->cols[v->key_cols[k]].name));
	/*
	 * The source log has no ingest-order column: its physical order is
	 * insertion order for an append-only table, and only breaks ties of
	 * equal event times.
	 */
	appendStringInfo(&sql, "%s, %s", ts, from_source ? "ctid" : PS_INGEST_COL);
	for (int f = 0; f < ncols; f++)
		appendStringInfo(&sql, ", %s", quote_identifier(src->cols[cols[f]].name));
	appendStringInfo(&sql, " FROM %s WHERE %s OPERATOR(pg_catalog.<=) $1",
					 ps_qualified_relname(from_source ? src->relid : v->offline_relid),
					 ts);
	if (from_source && v->has_start_time)
		appendStringInfo(&sql, " AND %s OPERATOR(pg_catalog.>=) $3", ts);
	for (int k = 0; k < v->nkeys; k++)
		appendStringInfo(&sql, " AND %s IS NOT NULL", quote_identifier(src->cols[v->key_cols[k]].name));
	if (bounded_below)
		appendStringInfo(&sql, " AND %s OPERATOR(pg_catalog.>=) $2", ts);
	return sql.data;
}

static void
receiver_noop_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
receiver_noop(DestReceiver *self)
{
}

/* ---------------------------------------------------------------------
 * Reading the spine: kept in order for the output, and per view its
 * (keys, T, position) records written to a temp file.
 * --------------------------------------------------------------------- */

typedef struct SpineReceiver
{
	DestReceiver pub;
	PitPlan    *plan;
	Tuplestorestate *spine;
	int64		pos;
	TimestampTz min_t;
	TimestampTz max_t;
	Datum	   *vals;
	bool	   *nulls;
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
	if (slot->tts_tupleDescriptor->natts == plan->nspine &&
		(TTS_IS_BUFFERTUPLE(slot) || TTS_IS_HEAPTUPLE(slot)) &&
		HeapTupleHeaderGetNatts(ExecFetchSlotHeapTuple(slot, false, NULL)->t_data) == plan->nspine)
	{
		/* a table's row as it is (no dropped or added columns): a copy */
		tuplestore_puttuple(r->spine, ExecFetchSlotHeapTuple(slot, false, NULL));
	}
	else
		tuplestore_putvalues(r->spine, plan->spine_desc, sv, sn);
	if (!sn[plan->t_att])
	{
		TimestampTz t = DatumGetTimestampTz(sv[plan->t_att]);

		r->min_t = Min(r->min_t, t);
		r->max_t = Max(r->max_t, t);
		foreach(lc, plan->views)
		{
			PitView    *pv = lfirst(lc);
			int			nk = pv->view->nkeys;
			bool		null_key = false;
			uint32		h;

			for (int k = 0; k < nk; k++)
			{
				r->vals[k] = sv[pv->spine_key_att[k]];
				r->nulls[k] = sn[pv->spine_key_att[k]];
				null_key |= r->nulls[k];
			}
			if (null_key)
				continue;		/* never matches: its features stay NULL */
			r->vals[nk] = sv[plan->t_att];
			r->nulls[nk] = false;
			r->vals[nk + 1] = Int64GetDatum(r->pos);
			r->nulls[nk + 1] = false;
			h = hash_keys(pv, r->vals);
			pv->seen[(h % SEEN_BITS) / 64] |= UINT64CONST(1) << (h % 64);
			encode_values(&pv->enc, pv->nscodec, pv->scodec_len, pv->scodec_byval, r->vals, r->nulls);
			write_spine_record(pv, h);
		}
	}
	r->pos++;
	CHECK_FOR_INTERRUPTS();
	return true;
}

/* ---------------------------------------------------------------------
 * The index of one partition of spine records
 * --------------------------------------------------------------------- */

/* Are two key tuples equal? */
static inline bool
keys_equal(PitView *pv, Datum *a, Datum *b)
{
	for (int k = 0; k < pv->view->nkeys; k++)
	{
		if (!pv->key_image[k])
		{
			if (ApplySortComparator(a[k], false, b[k], false, &pv->ssup[k]) != 0)
				return false;
		}
		else if (pv->codec_byval[k] ? a[k] != b[k] :
				 !datum_image_eq(a[k], b[k], false, pv->codec_len[k]))
			return false;
	}
	return true;
}

static int
compare_key_datums(PitView *pv, Datum *a, Datum *b)
{
	for (int k = 0; k < pv->view->nkeys; k++)
	{
		int			c = ApplySortComparator(a[k], false, b[k], false, &pv->ssup[k]);

		if (c != 0)
			return c;
	}
	return 0;
}

static int
cmp_spine(const void *a, const void *b, void *arg)
{
	const SpineEnt *x = a;
	const SpineEnt *y = b;
	int			c;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if ((c = compare_key_datums(arg, x->keys, y->keys)) != 0)
		return c;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * The main sort compares only (hash, time, position): integers, inlined.
 * Runs of one hash shared by different keys are sorted again by keys, with
 * the typed comparators above, in build_index.
 */
#define ST_SORT sort_spine_fast
#define ST_ELEMENT_TYPE SpineEnt
#define ST_COMPARE(a, b) \
	((a)->hash != (b)->hash ? ((a)->hash < (b)->hash ? -1 : 1) : \
	 (a)->t != (b)->t ? ((a)->t < (b)->t ? -1 : 1) : \
	 ((a)->pos < (b)->pos ? -1 : (a)->pos > (b)->pos))
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * Records are first grouped by a bucket of hash bits above the partition
 * bits (one counting pass), then each small bucket is sorted: the order is
 * (bucket, hash, time, position).
 */
static SpineEnt *
bucket_sort_spine(SpineEnt *a, int64 n, int shift)
{
	uint32		mask = 0;
	int64	   *start;
	int64	   *next;
	SpineEnt   *out;

	while ((int64) mask + 1 < n / 16 && mask < (1u << 20) - 1)
		mask = mask * 2 + 1;
	if (shift + 20 > 32)
		mask &= (uint32) ((UINT64CONST(1) << (32 - shift)) - 1);
	start = palloc0(sizeof(int64) * ((Size) mask + 2));
	next = palloc(sizeof(int64) * ((Size) mask + 1));
	out = palloc_extended(sizeof(SpineEnt) * Max(n, 1), MCXT_ALLOC_HUGE);
	for (int64 i = 0; i < n; i++)
		start[((a[i].hash >> shift) & mask) + 1]++;
	for (uint32 b = 0; b <= mask; b++)
		start[b + 1] += start[b];
	memcpy(next, start, sizeof(int64) * ((Size) mask + 1));
	for (int64 i = 0; i < n; i++)
		out[next[(a[i].hash >> shift) & mask]++] = a[i];
	for (uint32 b = 0; b <= mask; b++)
		if (start[b + 1] - start[b] > 1)
			sort_spine_fast(out + start[b], start[b + 1] - start[b]);
	pfree(start);
	pfree(next);
	return out;
}

/*
 * Index n encoded spine records (in buf, which the keys keep pointing
 * into) in a new context under the current one.
 */
static PitIndex *
build_index(PitView *pv, char *buf, int64 n)
{
	PsView	   *v = pv->view;
	int			nk = v->nkeys;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "pit index", ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	PitIndex   *ix = palloc0(sizeof(PitIndex));
	Datum	   *dvals = palloc(sizeof(Datum) * pv->nscodec);
	bool	   *dnulls = palloc(sizeof(bool) * pv->nscodec);
	SpineEnt   *ents = palloc_extended(sizeof(SpineEnt) * Max(n, 1), MCXT_ALLOC_HUGE);
	Datum	   *keys = palloc_extended(sizeof(Datum) * Max(n * nk, 1), MCXT_ALLOC_HUGE);
	char	   *rec = buf;
	int			shift = 0;
	Size		dirsize = 16;
	int64		ng = 0;

	ix->cxt = cxt;
	ix->valcxt = AllocSetContextCreate(cxt, "pit feature values", ALLOCSET_DEFAULT_SIZES);
	for (int64 i = 0; i < n; i++)
	{
		TimestampTz t;

		decode_values(rec, nk + 2, pv->scodec_len, pv->scodec_byval, dvals, dnulls, pv->nscodec);
		ents[i].hash = ((uint32 *) rec)[0];
		ents[i].keys = keys + i * nk;
		memcpy(ents[i].keys, dvals, sizeof(Datum) * nk);
		t = DatumGetTimestampTz(dvals[nk]);
		ents[i].t = t;
		ents[i].pos = DatumGetInt64(dvals[nk + 1]);
		/* the oldest event time the ttl lets match at T */
		ents[i].oldest = !v->has_ttl ? DT_NOBEGIN : pv->ttl_fixed ? ttl_oldest(pv, t) :
			DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval, TimestampTzGetDatum(t),
													IntervalPGetDatum(&v->ttl)));
		rec += ((uint32 *) rec)[1];
	}
	while ((1 << shift) < pv->nparts)
		shift++;
	ix->ents = bucket_sort_spine(ents, n, shift);
	pfree(ents);
	ix->nents = n;
	ents = ix->ents;

	/* runs of one hash: ordered by keys too where keys differ, then grouped */
	ix->groups = palloc_extended(sizeof(SpineGroup) * Max(n, 1), MCXT_ALLOC_HUGE);
	if (nk > 1)
		ix->gkeys = palloc_extended(sizeof(Datum) * n * nk, MCXT_ALLOC_HUGE);
	for (int64 i = 0; i < n;)
	{
		int64		j = i + 1;
		bool		uniform = true;

		while (j < n && ents[j].hash == ents[i].hash)
		{
			uniform = uniform && keys_equal(pv, ents[i].keys, ents[j].keys);
			j++;
		}
		if (!uniform)
			qsort_arg(ents + i, j - i, sizeof(SpineEnt), cmp_spine, pv);
		for (int64 k = i; k < j;)
		{
			int64		m = k + 1;

			while (m < j && (uniform || keys_equal(pv, ents[k].keys, ents[m].keys)))
				m++;
			ix->groups[ng].start = k;
			ix->groups[ng].end = m;
			/* one key: where the probe reads the group anyway */
			ix->groups[ng].key0 = nk == 1 ? ents[k].keys[0] : (Datum) 0;
			if (nk > 1)
				memcpy(ix->gkeys + ng * nk, ents[k].keys, sizeof(Datum) * nk);
			ng++;
			k = m;
		}
		i = j;
	}
	ix->ngroups = ng;
	if (ng >= (int64) PG_UINT32_MAX / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct join keys in the spine for feature view \"%s\"", v->name),
				 errhint("Lower work_mem, so that the spine is split into more partitions.")));

	/* the directory: every group under its hash, by open addressing */
	while (dirsize < (Size) ng * 2)
		dirsize *= 2;
	ix->dir = palloc_extended(sizeof(DirEnt) * dirsize, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	ix->dirmask = (uint32) (dirsize - 1);
	for (int64 g = 0; g < ng; g++)
	{
		uint32		h = ents[ix->groups[g].start].hash;
		uint32		d = murmurhash32(h) & ix->dirmask;

		while (ix->dir[d].group != 0)
			d = (d + 1) & ix->dirmask;
		ix->dir[d].hash = h;
		ix->dir[d].group = (uint32) (g + 1);
	}
	ix->times = palloc_extended(sizeof(TimestampTz) * Max(n, 1), MCXT_ALLOC_HUGE);
	for (int64 i = 0; i < n; i++)
		ix->times[i] = ents[i].t;
	if (v->has_ttl && !pv->ttl_fixed)
	{
		ix->oldest = palloc_extended(sizeof(TimestampTz) * Max(n, 1), MCXT_ALLOC_HUGE);
		for (int64 i = 0; i < n; i++)
			ix->oldest[i] = ents[i].oldest;
	}
	ix->cands = palloc_extended(pv->stride * Max(n, 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	MemoryContextSwitchTo(old);
	return ix;
}

/* A copy of a feature value that outlives the row it came from. */
static Datum
copy_feature_value(MemoryContext cxt, Datum d, int16 len)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	Datum		res;

	if (len == -1)
	{
		struct varlena *v = PG_DETOAST_DATUM_PACKED(d);

		if ((Pointer) v == DatumGetPointer(d))
		{
			Size		sz = VARSIZE_ANY(v);

			v = palloc(sz);
			memcpy(v, DatumGetPointer(d), sz);
		}
		res = PointerGetDatum(v);
	}
	else
		res = datumCopy(d, false, len);
	MemoryContextSwitchTo(old);
	return res;
}

/*
 * A batch of feature rows (keys, ts, order, features) meets the index: a
 * row becomes the candidate of its key's first spine record with T >= ts
 * if it is newer than the candidate there.  A row older than that record's
 * ttl bound can match no later record either (their bounds are later), so
 * it is dropped.  Stages: directory slot, group, keys and times, record,
 * candidate; each prefetches what the next one reads.
 */
static void
probe_batch(PitView *pv, PitIndex *ix)
{
	ProbeBatch *b = &pv->batch;
	int			nk = pv->view->nkeys;
	int			nc = pv->ncodec;
	DirEnt	   *dir = ix->dir;
	uint32		mask = ix->dirmask;

	for (int i = 0; i < b->n; i++)
	{
		b->slot[i] = murmurhash32(b->hash[i]) & mask;
		__builtin_prefetch(&dir[b->slot[i]]);
	}
	for (int i = 0; i < b->n; i++)
	{
		uint32		d = b->slot[i];

		while (dir[d].group != 0 && dir[d].hash != b->hash[i])
			d = (d + 1) & mask;
		b->slot[i] = d;
		b->at[i] = (int64) dir[d].group - 1;
		if (b->at[i] >= 0)
			__builtin_prefetch(&ix->groups[b->at[i]]);
	}
	for (int i = 0; i < b->n; i++)
	{
		int64		g = b->at[i];
		uint32		d = b->slot[i];
		SpineGroup *gr;

		if (g < 0)
			continue;
		/* different keys may share the hash: later entries of the directory */
		while (nk > 0 && !keys_equal(pv, b->vals + i * nc, GROUP_KEYS(ix, g, nk)))
		{
			do
				d = (d + 1) & mask;
			while (dir[d].group != 0 && dir[d].hash != b->hash[i]);
			g = (int64) dir[d].group - 1;
			if (g < 0)
				break;
		}
		b->at[i] = g;
		if (g < 0)
			continue;
		gr = &ix->groups[g];
		__builtin_prefetch(&ix->times[gr->start]);
		if (gr->end - gr->start > 8)
			__builtin_prefetch(&ix->times[gr->start + (gr->end - gr->start) / 2]);
	}
	for (int i = 0; i < b->n; i++)
	{
		SpineGroup *gr;
		TimestampTz ts;
		int64		lo,
					hi;

		if (b->at[i] < 0)
			continue;
		gr = &ix->groups[b->at[i]];
		ts = DatumGetTimestampTz(b->vals[i * nc + nk]);
		lo = gr->start;
		hi = gr->end;
		while (lo < hi)
		{
			int64		mid = lo + (hi - lo) / 2;

			if (ix->times[mid] < ts)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == gr->end ||
			(pv->view->has_ttl &&
			 ts < (pv->ttl_fixed ? ttl_oldest(pv, ix->times[lo]) : ix->oldest[lo])))
			lo = -1;
		b->at[i] = lo;
		if (lo >= 0)
			__builtin_prefetch(ix->cands + lo * pv->stride);
	}
	for (int i = 0; i < b->n; i++)
	{
		Datum	   *vals = b->vals + i * nc;
		bool	   *nulls = b->nulls + i * nc;
		TimestampTz ts = DatumGetTimestampTz(vals[nk]);
		int64		ord = DatumGetInt64(vals[nk + 1]);
		Cand	   *c;
		Datum	   *cv;
		bool	   *cn;
		bool		had;

		if (b->at[i] < 0)
			continue;
		c = (Cand *) (ix->cands + b->at[i] * pv->stride);
		had = CAND_HAS(c, pv->nfeat);
		if (had && (c->ts > ts || (c->ts == ts && c->ord >= ord)))
			continue;
		cv = CAND_VALS(c);
		cn = CAND_NULLS(c, pv->nfeat);
		for (int f = 0; f < pv->nfeat; f++)
		{
			int			k = nk + 2 + f;

			if (had && !cn[f] && !pv->codec_byval[k])
				pfree(DatumGetPointer(cv[f]));
			cv[f] = nulls[k] ? (Datum) 0 : pv->codec_byval[k] ? vals[k] :
				copy_feature_value(ix->valcxt, vals[k], pv->codec_len[k]);
			cn[f] = nulls[k];
		}
		c->ts = ts;
		c->ord = ord;
		CAND_HAS(c, pv->nfeat) = true;
	}
	b->n = 0;
	if (pv->has_byref)
		MemoryContextReset(b->arena);
}

/* Queue a feature row for the index; by-reference values are copied. */
static void
probe_row(PitView *pv, PitIndex *ix, uint32 h, Datum *vals, bool *nulls)
{
	ProbeBatch *b = &pv->batch;
	int			nc = pv->ncodec;
	Datum	   *bv = b->vals + b->n * nc;
	bool	   *bn = b->nulls + b->n * nc;

	if (bv != vals)
	{
		memcpy(bv, vals, sizeof(Datum) * nc);
		memcpy(bn, nulls, sizeof(bool) * nc);
	}
	if (pv->has_byref)
		for (int i = 0; i < nc; i++)
			if (!bn[i] && !pv->codec_byval[i])
				bv[i] = copy_feature_value(b->arena, bv[i], pv->codec_len[i]);
	b->hash[b->n++] = h;
	if (b->n == PROBE_BATCH)
		probe_batch(pv, ix);
}

/* A feature row of the scan: probed now, or kept for its partition. */
static void
feature_row(PitView *pv, Datum *vals, bool *nulls)
{
	uint32		h = hash_keys(pv, vals);
	int			p = h & (pv->nparts - 1);

	if (p == 0)
	{
		probe_row(pv, pv->ix, h, vals, nulls);
		return;
	}
	if ((pv->seen[(h % SEEN_BITS) / 64] & (UINT64CONST(1) << (h % 64))) == 0)
		return;					/* no spine row has these keys */
	encode_values(&pv->enc, pv->ncodec, pv->codec_len, pv->codec_byval, vals, nulls);
	write_encoded(pv->filecxt, &pv->feat_parts[p], &pv->enc, h, NULL, NULL);
}

/*
 * The running maximum over each key's records in T order: the newest
 * candidate at or before a record is its as-of match, subject to the ttl
 * and the view's feature_start_time.  Results go to the position-indexed
 * array, or to the position buckets when the spine was partitioned.
 */
static void
finish_index(PitPlan *plan, PitView *pv, PitIndex *ix)
{
	PsView	   *v = pv->view;

	for (int64 g = 0; g < ix->ngroups; g++)
	{
		Cand	   *best = NULL;

		for (int64 i = ix->groups[g].start; i < ix->groups[g].end; i++)
		{
			SpineEnt   *e = &ix->ents[i];
			Cand	   *c = (Cand *) (ix->cands + i * pv->stride);

			if (CAND_HAS(c, pv->nfeat) &&
				(best == NULL || c->ts > best->ts || (c->ts == best->ts && c->ord > best->ord)))
				best = c;
			if (best == NULL || best->ts < e->oldest ||
				(v->has_start_time && e->t < v->start_time))
				continue;
			if (pv->res != NULL)
			{
				pv->res[e->pos] = best;
				continue;
			}
			pv->rvals[0] = Int64GetDatum(e->pos);
			pv->rnulls[0] = false;
			memcpy(pv->rvals + 1, CAND_VALS(best), sizeof(Datum) * pv->nfeat);
			memcpy(pv->rnulls + 1, CAND_NULLS(best, pv->nfeat), sizeof(bool) * pv->nfeat);
			{
				MinimalTuple mt = heap_form_minimal_tuple(pv->result_desc, pv->rvals, pv->rnulls);

				write_record(pv->filecxt, &pv->buckets[e->pos / plan->bucket_rows], 0, mt);
				pfree(mt);
			}
		}
		if ((g & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
}

static int64
tid_order(ItemPointer ip)
{
	return ((int64) ItemPointerGetBlockNumberNoCheck(ip) << 16) | ItemPointerGetOffsetNumberNoCheck(ip);
}

/* ---------------------------------------------------------------------
 * Scanning the feature rows
 * --------------------------------------------------------------------- */

typedef struct FeatureReceiver
{
	DestReceiver pub;
	PitView    *pv;
} FeatureReceiver;

static bool
feature_receive(TupleTableSlot *slot, DestReceiver *self)
{
	PitView    *pv = ((FeatureReceiver *) self)->pv;
	int			nk = pv->view->nkeys;

	slot_getallattrs(slot);
	if (pv->ord_is_tid)
		slot->tts_values[nk + 1] = Int64GetDatum(tid_order((ItemPointer) DatumGetPointer(slot->tts_values[nk + 1])));
	feature_row(pv, slot->tts_values, slot->tts_isnull);
	CHECK_FOR_INTERRUPTS();
	return true;
}

/* What the scan of a view's feature rows reads and keeps. */
typedef struct PitScanSpec
{
	AttrNumber	maxatt;
	bool		from_source;	/* order by ctid; feature_start_time applies */
	bool		bounded;		/* a lower bound (ttl) */
	bool		has_start_time;
	TimestampTz max_t;
	TimestampTz lower;
	TimestampTz start_time;
	AttrNumber	atts[FLEXIBLE_ARRAY_MEMBER];	/* per codec column; 0: ctid */
} PitScanSpec;

/* Feed every row of a heap scan in range to the index (or its partition). */
static void
scan_loop(PitView *pv, Relation rel, TableScanDesc scan, PitScanSpec *spec)
{
	int			nk = pv->view->nkeys;
	int			ncols = pv->ncodec;
	ProbeBatch *b = &pv->batch;
	TupleDesc	desc = RelationGetDescr(rel);
	TupleTableSlot *slot = NULL;
	int32	   *offs = palloc(sizeof(int32) * ncols);
	Form_pg_attribute *attrs = palloc(sizeof(Form_pg_attribute) * ncols);
	HeapTuple	tup;
	int64		n = 0;

	/*
	 * When the columns up to the last one read all have a fixed width, a
	 * tuple without NULLs has each value at a fixed offset: read there.
	 * Other tuples are deformed by a slot up to that column.
	 */
	slot = MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple);
	for (int a = 1, off = 0; a <= spec->maxatt; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a - 1);

		if (att->attlen <= 0)
		{
			offs = NULL;
			break;
		}
		off = att_align_nominal(off, att->attalign);
		for (int i = 0; i < ncols; i++)
			if (spec->atts[i] == a)
			{
				offs[i] = off;
				attrs[i] = att;
			}
		off += att->attlen;
	}
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		TimestampTz ts;
		bool		skip = false;
		bool		fixed = offs != NULL && !HeapTupleHasNulls(tup) &&
			HeapTupleHeaderGetNatts(tup->t_data) >= spec->maxatt;
		/* decoded straight into the probe batch's next row */
		Datum	   *vals = b->vals + b->n * ncols;
		bool	   *nulls = b->nulls + b->n * ncols;

		if (!fixed)
		{
			ExecStoreHeapTuple(tup, slot, false);
			slot_getsomeattrs(slot, spec->maxatt);
		}
		for (int i = 0; i < ncols; i++)
		{
			AttrNumber	a = spec->atts[i];

			if (a == InvalidAttrNumber)
			{
				/* from_source: physical order stands in for ingest order */
				vals[i] = Int64GetDatum(tid_order(&tup->t_self));
				nulls[i] = false;
				continue;
			}
			if (fixed)
			{
				vals[i] = fetchatt(attrs[i], (char *) tup->t_data + tup->t_data->t_hoff + offs[i]);
				nulls[i] = false;
				continue;
			}
			vals[i] = slot->tts_values[a - 1];
			nulls[i] = slot->tts_isnull[a - 1];
			if (i <= nk && nulls[i])
				skip = true;	/* no key or no time: never a match */
		}
		if (skip)
			continue;
		ts = DatumGetTimestampTz(vals[nk]);
		if (ts > spec->max_t || (spec->bounded && ts < spec->lower) ||
			(spec->from_source && spec->has_start_time && ts < spec->start_time))
			continue;
		feature_row(pv, vals, nulls);
		if ((++n & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	ExecDropSingleTupleTableSlot(slot);
}

/* ---------------------------------------------------------------------
 * The parallel scan
 *
 * When the spine's index fits in memory whole and its keys and features
 * are passed by value, parallel workers scan parts of the table with the
 * leader (a parallel heap scan, sized as the planner sizes a parallel
 * sequential scan: max_parallel_workers_per_gather,
 * min_parallel_table_scan_size).  The index is copied into the dynamic
 * shared memory segment; every worker fills candidates of its own there,
 * and the leader takes the newest of each record's candidates.
 * --------------------------------------------------------------------- */

#define PIT_KEY_SHARED	UINT64CONST(0x7053504954000001)
#define PIT_KEY_SCAN	UINT64CONST(0x7053504954000002)
#define PIT_KEY_INDEX	UINT64CONST(0x7053504954000003)
#define PIT_KEY_CANDS	UINT64CONST(0x7053504954000004)

typedef struct PitSharedCol
{
	int16		len;
	bool		byval;
	Oid			hashproc;		/* keys: hash function, collation, "<" */
	Oid			coll;
	Oid			ltop;
	bool		image;			/* keys: equality is image equality */
} PitSharedCol;

typedef struct PitShared
{
	Oid			relid;
	int			nkeys;
	int			nfeat;
	bool		has_ttl;
	bool		ttl_fixed;
	int64		ttl_usec;
	Interval	ttl;
	Size		stride;
	int64		nents;
	int64		ngroups;
	uint32		dirmask;
	Size		off_groups;		/* offsets into the index chunk */
	Size		off_gkeys;
	Size		off_dir;
	Size		off_times;
	Size		off_oldest;
	Size		index_size;
	Size		cands_size;		/* per worker */
	Size		spec_size;
	/* the codec columns, then the scan spec */
	PitSharedCol cols[FLEXIBLE_ARRAY_MEMBER];
} PitShared;

#define PIT_SHARED_SPEC(sh, ncodec) \
	((PitScanSpec *) ((char *) (sh) + MAXALIGN(offsetof(PitShared, cols) + sizeof(PitSharedCol) * (ncodec))))

/* How many workers, as for a parallel sequential scan of the table; 0: none. */
static int
parallel_workers_for(PitView *pv, Relation rel)
{
	BlockNumber pages;
	double		threshold;
	int			n = 0;

	if (IsInParallelMode() || max_parallel_workers_per_gather <= 0 || pv->nparts != 1)
		return 0;
	for (int i = 0; i < pv->ncodec; i++)
		if (!pv->codec_byval[i])
			return 0;			/* candidates in shared memory hold values only */
	pages = RelationGetNumberOfBlocks(rel);
	threshold = Max(min_parallel_table_scan_size, 1);
	if (pages < (BlockNumber) min_parallel_table_scan_size)
		return 0;
	n = 1;
	while ((double) pages >= threshold * 3 && n < max_parallel_workers_per_gather)
	{
		n++;
		threshold *= 3;
	}
	return Min(n, max_parallel_workers_per_gather);
}

static void
scan_parallel(PitView *pv, Relation rel, PitScanSpec *spec, Size spec_size, int nworkers)
{
	PitIndex   *ix = pv->ix;
	int			nk = pv->view->nkeys;
	int			nc = pv->ncodec;
	Snapshot	snapshot = GetActiveSnapshot();
	ParallelContext *pcxt;
	Size		shared_size = MAXALIGN(offsetof(PitShared, cols) + sizeof(PitSharedCol) * nc) + spec_size;
	Size		pscan_size;
	Size		off = 0;
	Size		cands_size = pv->stride * Max(ix->nents, 1);
	PitShared  *sh;
	ParallelTableScanDesc pscan;
	char	   *index;
	char	   *cands;
	TableScanDesc scan;

	EnterParallelMode();
	pcxt = CreateParallelContext("pushsource", "pit_parallel_main", nworkers);
	pscan_size = table_parallelscan_estimate(rel, snapshot);

	/* the index chunk: groups, their keys, directory, times, ttl bounds */
	sh = palloc0(shared_size);
	sh->off_groups = off;
	off += MAXALIGN(sizeof(SpineGroup) * ix->ngroups);
	sh->off_gkeys = off;
	off += nk > 1 ? MAXALIGN(sizeof(Datum) * nk * ix->ngroups) : 0;
	sh->off_dir = off;
	off += MAXALIGN(sizeof(DirEnt) * ((Size) ix->dirmask + 1));
	sh->off_times = off;
	off += MAXALIGN(sizeof(TimestampTz) * ix->nents);
	sh->off_oldest = off;
	off += ix->oldest ? MAXALIGN(sizeof(TimestampTz) * ix->nents) : 0;
	sh->index_size = Max(off, 1);
	sh->cands_size = cands_size;
	sh->spec_size = spec_size;

	shm_toc_estimate_chunk(&pcxt->estimator, shared_size);
	shm_toc_estimate_chunk(&pcxt->estimator, pscan_size);
	shm_toc_estimate_chunk(&pcxt->estimator, sh->index_size);
	shm_toc_estimate_chunk(&pcxt->estimator, cands_size * nworkers);
	shm_toc_estimate_keys(&pcxt->estimator, 4);
	InitializeParallelDSM(pcxt);

	/* the header: what a worker needs to hash, compare and decode */
	{
		PitShared  *dst = shm_toc_allocate(pcxt->toc, shared_size);

		memcpy(dst, sh, shared_size);
		pfree(sh);
		sh = dst;
	}
	sh->relid = RelationGetRelid(rel);
	sh->nkeys = nk;
	sh->nfeat = pv->nfeat;
	sh->has_ttl = pv->view->has_ttl;
	sh->ttl = pv->view->ttl;
	sh->ttl_fixed = pv->ttl_fixed;
	sh->ttl_usec = pv->ttl_usec;
	sh->stride = pv->stride;
	sh->nents = ix->nents;
	sh->ngroups = ix->ngroups;
	sh->dirmask = ix->dirmask;
	for (int i = 0; i < nc; i++)
	{
		sh->cols[i].len = pv->codec_len[i];
		sh->cols[i].byval = pv->codec_byval[i];
		if (i < nk)
		{
			sh->cols[i].hashproc = pv->hashfn[i].fn_oid;
			sh->cols[i].coll = pv->hashcoll[i];
			sh->cols[i].ltop = pv->key_ltop[i];
			sh->cols[i].image = pv->key_image[i];
		}
	}
	memcpy(PIT_SHARED_SPEC(sh, nc), spec, spec_size);
	shm_toc_insert(pcxt->toc, PIT_KEY_SHARED, sh);

	pscan = shm_toc_allocate(pcxt->toc, pscan_size);
	table_parallelscan_initialize(rel, pscan, snapshot);
	shm_toc_insert(pcxt->toc, PIT_KEY_SCAN, pscan);

	index = shm_toc_allocate(pcxt->toc, sh->index_size);
	memcpy(index + sh->off_groups, ix->groups, sizeof(SpineGroup) * ix->ngroups);
	if (nk > 1)
		memcpy(index + sh->off_gkeys, ix->gkeys, sizeof(Datum) * nk * ix->ngroups);
	memcpy(index + sh->off_dir, ix->dir, sizeof(DirEnt) * ((Size) ix->dirmask + 1));
	memcpy(index + sh->off_times, ix->times, sizeof(TimestampTz) * ix->nents);
	if (ix->oldest)
		memcpy(index + sh->off_oldest, ix->oldest, sizeof(TimestampTz) * ix->nents);
	shm_toc_insert(pcxt->toc, PIT_KEY_INDEX, index);

	cands = shm_toc_allocate(pcxt->toc, Max(cands_size * nworkers, 1));
	shm_toc_insert(pcxt->toc, PIT_KEY_CANDS, cands);

	LaunchParallelWorkers(pcxt);
	ereport(DEBUG1,
			(errmsg_internal("pushsource: point-in-time scan of \"%s\" with %d of %d parallel workers",
							 RelationGetRelationName(rel), pcxt->nworkers_launched, nworkers)));

	/* the leader scans too, into its own candidates */
	scan = table_beginscan_parallel(rel, pscan);
	scan_loop(pv, rel, scan, spec);
	probe_batch(pv, ix);
	table_endscan(scan);
	WaitForParallelWorkersToFinish(pcxt);

	/* each record's newest candidate (by value: a plain copy) */
	for (int w = 0; w < pcxt->nworkers_launched; w++)
	{
		char	   *wc = cands + cands_size * w;

		for (int64 i = 0; i < ix->nents; i++)
		{
			Cand	   *c = (Cand *) (wc + i * pv->stride);
			Cand	   *mine = (Cand *) (ix->cands + i * pv->stride);

			if (CAND_HAS(c, pv->nfeat) &&
				(!CAND_HAS(mine, pv->nfeat) || c->ts > mine->ts ||
				 (c->ts == mine->ts && c->ord > mine->ord)))
				memcpy(mine, c, pv->stride);
		}
		CHECK_FOR_INTERRUPTS();
	}
	DestroyParallelContext(pcxt);
	ExitParallelMode();
}

/* A parallel worker: its share of the scan, against the shared index. */
PGDLLEXPORT void pit_parallel_main(dsm_segment *seg, shm_toc *toc);

void
pit_parallel_main(dsm_segment *seg, shm_toc *toc)
{
	PitShared  *sh = shm_toc_lookup(toc, PIT_KEY_SHARED, false);
	ParallelTableScanDesc pscan = shm_toc_lookup(toc, PIT_KEY_SCAN, false);
	char	   *index = shm_toc_lookup(toc, PIT_KEY_INDEX, false);
	char	   *cands = shm_toc_lookup(toc, PIT_KEY_CANDS, false);
	int			nk = sh->nkeys;
	int			nc = nk + 2 + sh->nfeat;
	PitView    *pv = palloc0(sizeof(PitView));
	PsView	   *v = palloc0(sizeof(PsView));
	PitIndex   *ix = palloc0(sizeof(PitIndex));
	Relation	rel;
	TableScanDesc scan;

	v->nkeys = nk;
	v->has_ttl = sh->has_ttl;
	v->ttl = sh->ttl;
	pv->view = v;
	pv->nfeat = sh->nfeat;
	pv->ncodec = nc;
	pv->nparts = 1;
	pv->stride = sh->stride;
	pv->ttl_fixed = sh->ttl_fixed;
	pv->ttl_usec = sh->ttl_usec;
	pv->codec_len = palloc(sizeof(int16) * nc);
	pv->codec_byval = palloc(sizeof(bool) * nc);
	pv->hashfn = palloc0(sizeof(FmgrInfo) * Max(nk, 1));
	pv->hashcoll = palloc0(sizeof(Oid) * Max(nk, 1));
	pv->key_image = palloc0(sizeof(bool) * Max(nk, 1));
	pv->ssup = palloc0(sizeof(SortSupportData) * Max(nk, 1));
	for (int i = 0; i < nc; i++)
	{
		pv->codec_len[i] = sh->cols[i].len;
		pv->codec_byval[i] = sh->cols[i].byval;
		if (i < nk)
		{
			fmgr_info(sh->cols[i].hashproc, &pv->hashfn[i]);
			pv->hashcoll[i] = sh->cols[i].coll;
			pv->key_image[i] = sh->cols[i].image;
			pv->ssup[i].ssup_cxt = CurrentMemoryContext;
			pv->ssup[i].ssup_collation = sh->cols[i].coll;
			pv->ssup[i].ssup_nulls_first = false;
			PrepareSortSupportFromOrderingOp(sh->cols[i].ltop, &pv->ssup[i]);
		}
	}
	init_batch(pv);

	ix->groups = (SpineGroup *) (index + sh->off_groups);
	ix->gkeys = nk > 1 ? (Datum *) (index + sh->off_gkeys) : NULL;
	ix->dir = (DirEnt *) (index + sh->off_dir);
	ix->dirmask = sh->dirmask;
	ix->times = (TimestampTz *) (index + sh->off_times);
	ix->oldest = sh->has_ttl && !pv->ttl_fixed ? (TimestampTz *) (index + sh->off_oldest) : NULL;
	ix->nents = sh->nents;
	ix->ngroups = sh->ngroups;
	ix->cands = cands + sh->cands_size * ParallelWorkerNumber;
	memset(ix->cands, 0, sh->cands_size);
	pv->ix = ix;

	rel = table_open(sh->relid, AccessShareLock);
	scan = table_beginscan_parallel(rel, pscan);
	scan_loop(pv, rel, scan, PIT_SHARED_SPEC(sh, nc));
	probe_batch(pv, ix);
	table_endscan(scan);
	table_close(rel, AccessShareLock);
}

/*
 * The feature rows by a direct heap scan: no planner, executor or
 * projection per row, no buffer pin per row, in parallel where it pays.
 * The SELECT privilege is checked as the executor would; a table with row
 * security that applies, or anything but a plain heap table, returns false
 * and the SQL scan is used.
 */
static bool
scan_features_direct(PitPlan *plan, PitView *pv, TimestampTz max_t, bool bounded,
					 TimestampTz lower)
{
	PsView	   *v = pv->view;
	PsSource   *src = v->source;
	Oid			relid = plan->from_source ? src->relid : v->offline_relid;
	int			nk = v->nkeys;
	int			ncols = pv->ncodec;
	Size		spec_size = offsetof(PitScanSpec, atts) + sizeof(AttrNumber) * ncols;
	PitScanSpec *spec = palloc0(spec_size);
	Relation	rel;
	TableScanDesc scan;
	AclResult	acl;
	int			nworkers;

	if (get_rel_relkind(relid) != RELKIND_RELATION ||
		check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED)
		return false;
	acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, get_rel_name(relid));

	for (int i = 0; i < ncols; i++)
	{
		const char *name = i < nk ? src->cols[v->key_cols[i]].name
			: i == nk ? src->cols[src->ts_col].name
			: i == nk + 1 ? (plan->from_source ? NULL : PS_INGEST_COL)
			: src->cols[pv->feat_cols[i - nk - 2]].name;

		spec->atts[i] = name ? get_attnum(relid, name) : InvalidAttrNumber;
		if (name && spec->atts[i] == InvalidAttrNumber)
			return false;		/* let SQL report what is missing */
		spec->maxatt = Max(spec->maxatt, spec->atts[i]);
	}
	spec->from_source = plan->from_source;
	spec->bounded = bounded;
	spec->has_start_time = v->has_start_time;
	spec->max_t = max_t;
	spec->lower = lower;
	spec->start_time = v->start_time;

	rel = table_open(relid, AccessShareLock);
	if (rel->rd_tableam != GetHeapamTableAmRoutine())
	{
		table_close(rel, AccessShareLock);
		return false;
	}
	nworkers = parallel_workers_for(pv, rel);
	if (nworkers > 0)
		scan_parallel(pv, rel, spec, spec_size, nworkers);
	else
	{
		scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
		scan_loop(pv, rel, scan, spec);
		table_endscan(scan);
	}
	table_close(rel, NoLock);
	return true;
}

/*
 * Run a feature query ($1, $2, $3: timestamptz) into a receiver, in a plain
 * scan: JIT compilation would cost more than it saves.
 */
static void
run_feature_query(PitView *pv, const char *sql, TimestampTz p1, TimestampTz p2,
				  TimestampTz p3, DestReceiver *dest)
{
	int			spi_nest;
	MemoryContext outer = CurrentMemoryContext;
	ParamListInfo params = makeParamList(3);
	Oid			argtypes[3] = {TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	SPIExecuteOptions opts;
	SPIPlanPtr	splan;
	int			ret;
	int			save_nestlevel;

	params->numParams = 3;
	for (int i = 0; i < 3; i++)
	{
		params->params[i].ptype = TIMESTAMPTZOID;
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].isnull = false;
	}
	params->params[0].value = TimestampTzGetDatum(p1);
	params->params[1].value = TimestampTzGetDatum(p2);
	params->params[2].value = TimestampTzGetDatum(p3);

	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("jit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	spi_nest = ps_spi_connect();
	splan = SPI_prepare(sql, 3, argtypes);
	if (splan == NULL)
		elog(ERROR, "pushsource: could not prepare the feature scan of \"%s\": %s",
			 pv->view->name, SPI_result_code_string(SPI_result));
	memset(&opts, 0, sizeof(opts));
	opts.params = params;
	opts.read_only = true;
	opts.dest = dest;
	ret = SPI_execute_plan_extended(splan, &opts);
	if (ret != SPI_OK_SELECT && ret != SPI_OK_UTILITY)
		elog(ERROR, "pushsource: the feature scan of \"%s\" failed", pv->view->name);
	ps_spi_finish(spi_nest);
	AtEOXact_GUC(true, save_nestlevel);
	MemoryContextSwitchTo(outer);
}

/* Scan the feature rows of the time range the spine can reach. */
static void
scan_features(PitPlan *plan, PitView *pv, TimestampTz min_t, TimestampTz max_t)
{
	PsView	   *v = pv->view;
	FeatureReceiver r;
	bool		bounded = v->has_ttl;
	TimestampTz lower = bounded ?
		DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval, TimestampTzGetDatum(min_t),
												IntervalPGetDatum(&v->ttl))) : min_t;

	if (scan_features_direct(plan, pv, max_t, bounded, lower))
		return;

	memset(&r, 0, sizeof(r));
	r.pub.receiveSlot = feature_receive;
	r.pub.rStartup = receiver_noop_startup;
	r.pub.rShutdown = receiver_noop;
	r.pub.rDestroy = receiver_noop;
	r.pub.mydest = DestNone;
	r.pv = pv;
	run_feature_query(pv, feature_query(pv, plan->from_source, bounded, pv->nfeat, pv->feat_cols),
					  max_t, lower, v->start_time, (DestReceiver *) &r);
}

/* ---------------------------------------------------------------------
 * Aggregate views
 *
 * An aggregate feature is a window of events, not one row, so the as-of
 * index does not serve.  Both sides are sorted by (key hash, keys, time)
 * with tuplesorts (within work_mem, spilling beyond it): the spine's
 * records, and the events of the time range the windows reach whose keys
 * the spine has (the bitset of spine key hashes filters them).  A merge by
 * key hands each key's events and record times to aggregation.c's sweep;
 * the results go to the position buckets.  Memory beyond the sorts: one
 * key's events in the span of its records' windows.
 * --------------------------------------------------------------------- */

typedef struct AggEventReceiver
{
	DestReceiver pub;
	PitView    *pv;
	Tuplesortstate *sort;
	TupleTableSlot *slot;		/* hash, keys, ts, order, value columns */
} AggEventReceiver;

static bool
agg_event_receive(TupleTableSlot *in, DestReceiver *self)
{
	AggEventReceiver *r = (AggEventReceiver *) self;
	PitView    *pv = r->pv;
	int			nk = pv->view->nkeys;
	int			ncols = nk + 2 + pv->view->nfeatures;
	TupleTableSlot *slot = r->slot;
	uint32		h;

	slot_getallattrs(in);
	h = hash_keys(pv, in->tts_values);
	if ((pv->seen[(h % SEEN_BITS) / 64] & (UINT64CONST(1) << (h % 64))) == 0)
		return true;			/* no spine row has these keys */
	ExecClearTuple(slot);
	slot->tts_values[0] = Int64GetDatum((int64) h);
	slot->tts_isnull[0] = false;
	memcpy(slot->tts_values + 1, in->tts_values, sizeof(Datum) * ncols);
	memcpy(slot->tts_isnull + 1, in->tts_isnull, sizeof(bool) * ncols);
	if (pv->ord_is_tid)
		slot->tts_values[nk + 2] = Int64GetDatum(tid_order((ItemPointer) DatumGetPointer(in->tts_values[nk + 1])));
	ExecStoreVirtualTuple(slot);
	tuplesort_puttupleslot(r->sort, slot);
	CHECK_FOR_INTERRUPTS();
	return true;
}

/* A tuplesort by (hash, keys, time[, order]): the first 2 + nk (+1) columns. */
static Tuplesortstate *
agg_sort_begin(PitView *pv, TupleDesc desc, int nsort)
{
	AttrNumber *atts = palloc(sizeof(AttrNumber) * nsort);
	Oid		   *ops = palloc(sizeof(Oid) * nsort);
	Oid		   *colls = palloc0(sizeof(Oid) * nsort);
	bool	   *nf = palloc0(sizeof(bool) * nsort);
	int			nk = pv->view->nkeys;

	for (int i = 0; i < nsort; i++)
	{
		atts[i] = i + 1;
		if (i >= 1 && i <= nk)
		{
			ops[i] = pv->key_ltop[i - 1];
			colls[i] = pv->ssup[i - 1].ssup_collation;
		}
		else
			ps_lt_operator(TupleDescAttr(desc, i)->atttypid, &ops[i]);
	}
	return tuplesort_begin_heap(desc, nsort, atts, ops, colls, nf, work_mem, NULL, TUPLESORT_NONE);
}

/* (hash, keys) of a sorted slot against the current key's: <0, 0, >0 */
static int
agg_cmp_key(PitView *pv, TupleTableSlot *slot, int64 h, Datum *keys)
{
	int64		sh = DatumGetInt64(slot->tts_values[0]);

	if (sh != h)
		return sh < h ? -1 : 1;
	return compare_key_datums(pv, slot->tts_values + 1, keys);
}

static void
join_agg_view(PitPlan *plan, PitView *pv)
{
	PsView	   *v = pv->view;
	PsSource   *src = v->source;
	int			nk = v->nkeys;
	int			nv = v->nfeatures;
	TupleDesc	sdesc = CreateTemplateTupleDesc(nk + 3);
	TupleDesc	edesc = CreateTemplateTupleDesc(nk + 3 + nv);
	TupleTableSlot *sslot;
	TupleTableSlot *eslot;
	Tuplesortstate *ss;
	Tuplesortstate *es;
	Datum	   *dvals = palloc(sizeof(Datum) * pv->nscodec);
	bool	   *dnulls = palloc(sizeof(bool) * pv->nscodec);
	TimestampTz min_hi = DT_NOEND;
	TimestampTz max_hi = DT_NOBEGIN;
	int64		nrecs = 0;
	bool		have_s;
	bool		have_e;
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext keycxt;
	int16	   *vlen = palloc(sizeof(int16) * Max(nv, 1));
	bool	   *vbyval = palloc(sizeof(bool) * Max(nv, 1));

	TupleDescInitEntry(sdesc, 1, "hash", INT8OID, -1, 0);
	TupleDescInitEntry(edesc, 1, "hash", INT8OID, -1, 0);
	for (int k = 0; k < nk; k++)
	{
		PsColumn   *c = &src->cols[v->key_cols[k]];

		TupleDescInitEntry(sdesc, k + 2, c->name, c->type->typid, -1, 0);
		TupleDescInitEntry(edesc, k + 2, c->name, c->type->typid, -1, 0);
	}
	TupleDescInitEntry(sdesc, nk + 2, "t", TIMESTAMPTZOID, -1, 0);
	TupleDescInitEntry(sdesc, nk + 3, "pos", INT8OID, -1, 0);
	TupleDescInitEntry(edesc, nk + 2, "ts", TIMESTAMPTZOID, -1, 0);
	TupleDescInitEntry(edesc, nk + 3, "ord", INT8OID, -1, 0);
	for (int f = 0; f < nv; f++)
	{
		PsColumn   *c = &src->cols[v->feature_cols[f]];

		TupleDescInitEntry(edesc, nk + 4 + f, c->name, c->type->typid, -1, 0);
		get_typlenbyval(c->type->typid, &vlen[f], &vbyval[f]);
	}
	sslot = MakeSingleTupleTableSlot(sdesc, &TTSOpsVirtual);
	ss = agg_sort_begin(pv, sdesc, nk + 2);

	/* 1. the spine's records with a finite time, sorted */
	{
		int64		off = 0;
		char	   *rec;

		if (pv->spine_file != NULL)
			rewind_run(pv->spine_file);
		for (;;)
		{
			TimestampTz t;
			TimestampTz hi;

			rec = pv->spine_file != NULL ? read_encoded(pv->spine_file, &pv->rbuf)
				: next_spine_record(pv, &off);
			if (rec == NULL)
				break;
			decode_values(rec, nk + 2, pv->scodec_len, pv->scodec_byval, dvals, dnulls, pv->nscodec);
			t = DatumGetTimestampTz(dvals[nk]);
			if (TIMESTAMP_NOT_FINITE(t))
				continue;		/* no window ends at infinity: NULL features */
			hi = ps_agg_window_hi(v, t);
			min_hi = Min(min_hi, hi);
			max_hi = Max(max_hi, hi);
			ExecClearTuple(sslot);
			sslot->tts_values[0] = Int64GetDatum((int64) ((uint32 *) rec)[0]);
			sslot->tts_isnull[0] = false;
			memcpy(sslot->tts_values + 1, dvals, sizeof(Datum) * (nk + 2));
			memset(sslot->tts_isnull + 1, false, nk + 2);
			ExecStoreVirtualTuple(sslot);
			tuplesort_puttupleslot(ss, sslot);
			nrecs++;
		}
		if (pv->spine_file != NULL)
			BufFileClose(pv->spine_file);
		pv->spine_file = NULL;
	}
	tuplesort_performsort(ss);
	ExecDropSingleTupleTableSlot(sslot);
	if (nrecs == 0)
	{
		tuplesort_end(ss);
		return;
	}

	/* 2. the events the windows reach, (hi - W, hi], of the spine's keys, sorted */
	{
		AggEventReceiver r;

		es = agg_sort_begin(pv, edesc, nk + 3);
		memset(&r, 0, sizeof(r));
		r.pub.receiveSlot = agg_event_receive;
		r.pub.rStartup = receiver_noop_startup;
		r.pub.rShutdown = receiver_noop;
		r.pub.rDestroy = receiver_noop;
		r.pub.mydest = DestNone;
		r.pv = pv;
		r.sort = es;
		r.slot = MakeSingleTupleTableSlot(edesc, &TTSOpsVirtual);
		run_feature_query(pv, feature_query(pv, plan->from_source, true, nv, v->feature_cols),
						  max_hi, min_hi - v->max_window + 1, v->start_time, (DestReceiver *) &r);
		ExecDropSingleTupleTableSlot(r.slot);
		tuplesort_performsort(es);
	}

	/* 3. merge by key; sweep each key's windows */
	sslot = MakeSingleTupleTableSlot(sdesc, &TTSOpsMinimalTuple);
	eslot = MakeSingleTupleTableSlot(edesc, &TTSOpsMinimalTuple);
	keycxt = AllocSetContextCreate(outer, "aggregate key", ALLOCSET_DEFAULT_SIZES);
	have_s = tuplesort_gettupleslot(ss, true, false, sslot, NULL);
	have_e = tuplesort_gettupleslot(es, true, false, eslot, NULL);
	while (have_s)
	{
		int64		h;
		Datum	   *keys;
		int64		n = 0,
					cap = 64;
		TimestampTz *t;
		int64	   *pos;
		PsAggEvents ev;
		int64		ecap = 64;
		Datum	   *out;
		bool	   *outnull;
		TimestampTz lo;
		TimestampTz hi;

		MemoryContextReset(keycxt);
		MemoryContextSwitchTo(keycxt);
		slot_getallattrs(sslot);
		h = DatumGetInt64(sslot->tts_values[0]);
		keys = palloc(sizeof(Datum) * Max(nk, 1));
		for (int k = 0; k < nk; k++)
			keys[k] = datumCopy(sslot->tts_values[k + 1], pv->codec_byval[k], pv->codec_len[k]);
		t = palloc(sizeof(TimestampTz) * cap);
		pos = palloc(sizeof(int64) * cap);
		do
		{
			if (n == cap)
			{
				cap *= 2;
				t = repalloc_huge(t, sizeof(TimestampTz) * cap);
				pos = repalloc_huge(pos, sizeof(int64) * cap);
			}
			t[n] = DatumGetTimestampTz(sslot->tts_values[nk + 1]);
			pos[n] = DatumGetInt64(sslot->tts_values[nk + 2]);
			n++;
			have_s = tuplesort_gettupleslot(ss, true, false, sslot, NULL);
			if (have_s)
				slot_getallattrs(sslot);
		} while (have_s && agg_cmp_key(pv, sslot, h, keys) == 0);

		/* this key's events in the span of its windows */
		lo = ps_agg_window_hi(v, t[0]) - v->max_window;
		hi = ps_agg_window_hi(v, t[n - 1]);
		ev.n = 0;
		ev.ts = palloc(sizeof(TimestampTz) * ecap);
		ev.ord = palloc(sizeof(int64) * ecap);
		ev.vals = palloc(sizeof(Datum) * ecap * Max(nv, 1));
		ev.nulls = palloc(sizeof(bool) * ecap * Max(nv, 1));
		for (; have_e; have_e = tuplesort_gettupleslot(es, true, false, eslot, NULL))
		{
			int			c;
			TimestampTz ts;

			slot_getallattrs(eslot);
			c = agg_cmp_key(pv, eslot, h, keys);
			if (c > 0)
				break;
			if (c < 0)
				continue;		/* a key before this one: no spine record of its own */
			ts = DatumGetTimestampTz(eslot->tts_values[nk + 1]);
			if (ts <= lo || ts > hi)
				continue;
			if (ev.n == ecap)
			{
				ecap *= 2;
				ev.ts = repalloc_huge(ev.ts, sizeof(TimestampTz) * ecap);
				ev.ord = repalloc_huge(ev.ord, sizeof(int64) * ecap);
				ev.vals = repalloc_huge(ev.vals, sizeof(Datum) * ecap * Max(nv, 1));
				ev.nulls = repalloc_huge(ev.nulls, sizeof(bool) * ecap * Max(nv, 1));
			}
			ev.ts[ev.n] = ts;
			ev.ord[ev.n] = DatumGetInt64(eslot->tts_values[nk + 2]);
			for (int f = 0; f < nv; f++)
			{
				bool		isnull = eslot->tts_isnull[nk + 3 + f];

				ev.nulls[ev.n * nv + f] = isnull;
				ev.vals[ev.n * nv + f] = isnull || vbyval[f] ? eslot->tts_values[nk + 3 + f] :
					datumCopy(eslot->tts_values[nk + 3 + f], false, vlen[f]);
			}
			ev.n++;
		}

		out = palloc_extended(sizeof(Datum) * n * pv->nfeat, MCXT_ALLOC_HUGE);
		outnull = palloc_extended(sizeof(bool) * n * pv->nfeat, MCXT_ALLOC_HUGE);
		ps_agg_sweep(v, pv->nfeat, pv->feat_cols, &ev, n, t, out, outnull);
		for (int64 i = 0; i < n; i++)
		{
			MinimalTuple mt;

			pv->rvals[0] = Int64GetDatum(pos[i]);
			pv->rnulls[0] = false;
			memcpy(pv->rvals + 1, out + i * pv->nfeat, sizeof(Datum) * pv->nfeat);
			memcpy(pv->rnulls + 1, outnull + i * pv->nfeat, sizeof(bool) * pv->nfeat);
			mt = heap_form_minimal_tuple(pv->result_desc, pv->rvals, pv->rnulls);
			write_record(pv->filecxt, &pv->buckets[pos[i] / plan->bucket_rows], 0, mt);
			pfree(mt);
		}
		MemoryContextSwitchTo(outer);
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(keycxt);
	ExecDropSingleTupleTableSlot(sslot);
	ExecDropSingleTupleTableSlot(eslot);
	tuplesort_end(ss);
	tuplesort_end(es);
}

/*
 * One view: size the spine's index against the hash memory limit, index
 * it whole or partition 0 of it, scan the feature rows, then finish the
 * other partitions from their temp files.
 */
static void
join_view(PitPlan *plan, PitView *pv, TimestampTz min_t, TimestampTz max_t)
{
	int			nk = pv->view->nkeys;
	double		need;
	double		budget = (double) get_hash_memory_limit();
	int			nparts = 1;
	double		byref_guess = 0;
	char	   *buf;
	instr_time	t0;

	INSTR_TIME_SET_CURRENT(t0);
	if (pv->spine_n == 0)
		return;					/* no spine row with keys and a time */
	if (pv->is_agg)
	{
		join_agg_view(plan, pv);
		pit_phase(&t0, "aggregate windows swept", pv->spine_n);
		return;
	}

	/*
	 * The records, their entries, groups (at most one per record), directory
	 * (half full at most), times and candidates, copies of by-reference
	 * feature values (a guess), and the result array.
	 */
	for (int f = 0; f < pv->nfeat; f++)
		if (!pv->codec_byval[nk + 2 + f])
			byref_guess += 16.0;
	need = (double) pv->spine_bytes +
		(double) pv->spine_n * (sizeof(SpineEnt) + sizeof(Datum) * nk + sizeof(SpineGroup) +
								2 * sizeof(DirEnt) + sizeof(TimestampTz) + pv->stride +
								byref_guess) +
		(double) plan->nrows * sizeof(Cand *);
	while (nparts < 4096 && need / nparts > budget)
		nparts *= 2;
	pv->nparts = nparts;

	if (nparts == 1)
	{
		/* all in memory until the output is written */
		pv->res = palloc_extended(sizeof(Cand *) * Max(plan->nrows, 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
		if (pv->spine_file != NULL)
		{
			buf = read_partition(pv->spine_file, pv->spine_bytes);
			BufFileClose(pv->spine_file);
			pv->spine_file = NULL;
			pit_phase(&t0, "spine records read back", pv->spine_n);
		}
		else
			buf = pv->spine_mem;

		pv->ix = build_index(pv, buf, pv->spine_n);
		pit_phase(&t0, "index built", pv->ix->ngroups);
		scan_features(plan, pv, min_t, max_t);
		probe_batch(pv, pv->ix);
		pit_phase(&t0, "feature rows scanned and probed", 0);
		finish_index(plan, pv, pv->ix);
		pit_phase(&t0, "as-of matches found", pv->spine_n);
		return;
	}

	/* split the spine's records into partitions */
	pv->spine_parts = palloc0(sizeof(BufFile *) * nparts);
	pv->spine_part_n = palloc0(sizeof(int64) * nparts);
	pv->spine_part_bytes = palloc0(sizeof(int64) * nparts);
	pv->feat_parts = palloc0(sizeof(BufFile *) * nparts);
	if (pv->spine_file != NULL)
		rewind_run(pv->spine_file);
	for (int64 off = 0;;)
	{
		StringInfoData rec;
		int			p;

		if (pv->spine_file != NULL)
		{
			if ((buf = read_encoded(pv->spine_file, &pv->rbuf)) == NULL)
				break;
			rec = pv->rbuf;
		}
		else
		{
			if ((buf = next_spine_record(pv, &off)) == NULL)
				break;
			rec.data = buf;
			rec.len = ((uint32 *) buf)[1];
		}
		p = ((uint32 *) buf)[0] & (nparts - 1);
		write_encoded(pv->filecxt, &pv->spine_parts[p], &rec, ((uint32 *) buf)[0],
					  &pv->spine_part_n[p], &pv->spine_part_bytes[p]);
	}
	if (pv->spine_file != NULL)
		BufFileClose(pv->spine_file);
	pv->spine_file = NULL;
	if (pv->spine_mem != NULL)
		pfree(pv->spine_mem);
	pv->spine_mem = NULL;
	pit_phase(&t0, "spine records partitioned", nparts);

	for (int p = 0; p < nparts; p++)
	{
		MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "pit partition",
												  ALLOCSET_DEFAULT_SIZES);
		MemoryContext old = MemoryContextSwitchTo(cxt);
		PitIndex   *ix;

		if (pv->spine_parts[p] != NULL)
		{
			buf = read_partition(pv->spine_parts[p], pv->spine_part_bytes[p]);
			BufFileClose(pv->spine_parts[p]);
			pv->spine_parts[p] = NULL;
		}
		else
			buf = NULL;
		ix = build_index(pv, buf, pv->spine_part_n[p]);
		if (p == 0)
		{
			/* the scan probes partition 0 and spills the others' rows */
			pv->ix = ix;
			MemoryContextSwitchTo(old);
			scan_features(plan, pv, min_t, max_t);
			probe_batch(pv, ix);
			MemoryContextSwitchTo(cxt);
			pv->ix = NULL;
			pit_phase(&t0, "feature rows scanned, partition 0 probed, others spilled", 0);
		}
		else if (pv->feat_parts[p] != NULL)
		{
			Datum	   *vals = palloc(sizeof(Datum) * pv->ncodec);
			bool	   *nulls = palloc(sizeof(bool) * pv->ncodec);
			char	   *rec;

			rewind_run(pv->feat_parts[p]);
			while ((rec = read_encoded(pv->feat_parts[p], &pv->rbuf)) != NULL)
			{
				decode_values(rec, pv->ncodec, pv->codec_len, pv->codec_byval, vals, nulls, pv->ncodec);
				probe_row(pv, ix, ((uint32 *) rec)[0], vals, nulls);
			}
			probe_batch(pv, ix);
			BufFileClose(pv->feat_parts[p]);
			pv->feat_parts[p] = NULL;
		}
		finish_index(plan, pv, ix);
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		CHECK_FOR_INTERRUPTS();
	}
	pit_phase(&t0, "partitions probed", nparts);
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
					 PG_ARGISNULL(first + 4) ? false : PG_GETARG_BOOL(first + 4), NULL);
}

/*
 * An output row without NULLs is the spine row's tuple as it was stored,
 * with the feature values appended: the same bytes heap_form_minimal_tuple
 * would make of the deformed values, without deforming and forming each
 * row.  Only for a stored tuple without NULLs and features of fixed-width
 * by-value types; false: form the row from its values instead.
 */
static bool
append_features(PitPlan *plan, TupleTableSlot *spine_slot, Datum *values, bool *nulls,
				StringInfo buf, Tuplestorestate *out)
{
	MinimalTuple st;
	int			hoff;
	int			natts = plan->out_desc->natts;
	Size		off;
	HeapTupleData htup;
	bool		should_free;

	if (!plan->append_ok)
		return false;
	for (int i = plan->nspine; i < natts; i++)
		if (nulls[i])
			return false;
	st = ExecFetchSlotMinimalTuple(spine_slot, &should_free);
	Assert(!should_free);
	if ((st->t_infomask & HEAP_HASNULL) || HeapTupleHeaderGetNatts(st) != plan->nspine)
		return false;
	hoff = st->t_hoff - MINIMAL_TUPLE_OFFSET;
	off = st->t_len - hoff;		/* the end of the spine's data */
	resetStringInfo(buf);
	enlargeStringInfo(buf, st->t_len + MAXIMUM_ALIGNOF + sizeof(Datum) * (natts - plan->nspine));
	memcpy(buf->data, st, st->t_len);
	for (int i = plan->nspine; i < natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(plan->out_desc, i);
		Size		aligned = att_align_nominal(off, att->attalign);

		memset(buf->data + hoff + off, 0, aligned - off);
		store_att_byval(buf->data + hoff + aligned, values[i], att->attlen);
		off = aligned + att->attlen;
	}
	((MinimalTuple) buf->data)->t_len = hoff + off;
	HeapTupleHeaderSetNatts((MinimalTuple) buf->data, natts);
	htup.t_len = hoff + off + MINIMAL_TUPLE_OFFSET;
	htup.t_data = (HeapTupleHeader) (buf->data - MINIMAL_TUPLE_OFFSET);
	tuplestore_puttuple(out, &htup);
	return true;
}

static Datum historical_features(FunctionCallInfo fcinfo, PitPlan *plan);

PG_FUNCTION_INFO_V1(fs_get_historical_features);
Datum
fs_get_historical_features(PG_FUNCTION_ARGS)
{
	return historical_features(fcinfo, plan_from_args(fcinfo, 0));
}

/*
 * _run_features(spine, features, start_time, end_time, interval): the
 * features at the spine rows of fs_run's 'full' level.  The spine is a
 * query fs_run builds, with $1, $2, $3 bound to the last three arguments
 * (no temporary table: it runs in read-only transactions and on standbys).
 */
PG_FUNCTION_INFO_V1(fs_run_features);
Datum
fs_run_features(PG_FUNCTION_ARGS)
{
	ParamListInfo params = makeParamList(3);
	Oid			types[3] = {TIMESTAMPTZOID, TIMESTAMPTZOID, INTERVALOID};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("spine and features must not be null")));
	params->numParams = 3;
	for (int i = 0; i < 3; i++)
	{
		params->params[i].ptype = types[i];
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].isnull = PG_ARGISNULL(i + 2);
		params->params[i].value = PG_ARGISNULL(i + 2) ? (Datum) 0 : PG_GETARG_DATUM(i + 2);
	}
	return historical_features(fcinfo, plan_join(text_to_cstring(PG_GETARG_TEXT_PP(0)),
												 PG_GETARG_ARRAYTYPE_P(1), NULL, false, false, params));
}

static Datum
historical_features(FunctionCallInfo fcinfo, PitPlan *plan)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Tuplestorestate *spine;
	TupleTableSlot *spine_slot;
	SPIPlanPtr	sp;
	SPIExecuteOptions opts;
	SpineReceiver sr;
	int			ret;
	int			maxkeys = 0;
	ListCell   *lc;
	Datum	   *values;
	bool	   *nulls;
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext bucketcxt;
	int64		per_row;
	instr_time	t0;
	StringInfoData outbuf;

	INSTR_TIME_SET_CURRENT(t0);
	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) || rsinfo->expectedDesc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("fs_get_historical_features must be called in FROM: SELECT * FROM fs_get_historical_features(...) AS t(...)")));
	check_expected_desc(rsinfo, plan);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	/* 1. read the spine once, writing each view's (keys, T, position) */
	foreach(lc, plan->views)
	{
		begin_view_join(lfirst(lc), plan->from_source);
		maxkeys = Max(maxkeys, ((PitView *) lfirst(lc))->view->nkeys);
	}
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
	sr.vals = palloc(sizeof(Datum) * (maxkeys + 2));
	sr.nulls = palloc(sizeof(bool) * (maxkeys + 2));
	ps_spi_connect_caller();	/* the spine is the caller's SQL */
	sp = prepare_spine_statement(plan->spine_sql, plan->spine_sql, plan->spine_params);
	memset(&opts, 0, sizeof(opts));
	opts.read_only = false;		/* the spine query is the user's own */
	opts.params = plan->spine_params;
	opts.dest = (DestReceiver *) &sr;
	/* with our own receiver (DestNone) SPI reports SPI_OK_UTILITY */
	ret = SPI_execute_plan_extended(sp, &opts);
	if (ret != SPI_OK_SELECT && ret != SPI_OK_UTILITY)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("the spine must be a query that returns rows")));
	SPI_finish();
	MemoryContextSwitchTo(outer);
	plan->nrows = sr.pos;
	pit_phase(&t0, "spine read", plan->nrows);

	/* results go to buckets of spine positions small enough to load */
	per_row = 64;
	foreach(lc, plan->views)
		per_row += 24 + 16 * ((PitView *) lfirst(lc))->nfeat;
	plan->bucket_rows = Max((int64) work_mem * 1024 / per_row, 1024);
	plan->nbuckets = (int) ((plan->nrows + plan->bucket_rows - 1) / plan->bucket_rows);
	foreach(lc, plan->views)
	{
		PitView    *pv = lfirst(lc);

		pv->buckets = palloc0(sizeof(BufFile *) * Max(plan->nbuckets, 1));
		pv->loaded = palloc(sizeof(MinimalTuple) * plan->bucket_rows);
	}

	/* 2. per view: index the spine's records, stream the feature rows */
	if (sr.max_t >= sr.min_t)
		foreach(lc, plan->views)
			join_view(plan, lfirst(lc), sr.min_t, sr.max_t);
	pit_phase(&t0, "views joined", list_length(plan->views));

	/* 3. emit in spine order, one bucket of positions at a time */
	initStringInfo(&outbuf);
	plan->append_ok = true;
	for (int i = plan->nspine; i < plan->out_desc->natts; i++)
		if (TupleDescAttr(plan->out_desc, i)->attlen <= 0 || !TupleDescAttr(plan->out_desc, i)->attbyval)
			plan->append_ok = false;
	values = palloc(sizeof(Datum) * plan->out_desc->natts);
	nulls = palloc(sizeof(bool) * plan->out_desc->natts);
	spine_slot = MakeSingleTupleTableSlot(plan->spine_desc, &TTSOpsMinimalTuple);
	bucketcxt = AllocSetContextCreate(CurrentMemoryContext, "pit bucket", ALLOCSET_DEFAULT_SIZES);
	for (int b = 0; b < plan->nbuckets; b++)
	{
		int64		base = (int64) b * plan->bucket_rows;
		int64		end = Min(base + plan->bucket_rows, plan->nrows);
		MemoryContext old = MemoryContextSwitchTo(bucketcxt);

		foreach(lc, plan->views)
		{
			PitView    *pv = lfirst(lc);
			MinimalTuple mt;
			uint32		h;

			if (pv->res != NULL)
				continue;		/* results in memory */
			memset(pv->loaded, 0, sizeof(MinimalTuple) * plan->bucket_rows);
			if (pv->buckets[b] == NULL)
				continue;
			rewind_run(pv->buckets[b]);
			while ((mt = read_record(pv->buckets[b], &h)) != NULL)
			{
				bool		isnull;
				HeapTupleData htup;
				int64		pos;

				htup.t_len = mt->t_len + MINIMAL_TUPLE_OFFSET;
				htup.t_data = (HeapTupleHeader) ((char *) mt - MINIMAL_TUPLE_OFFSET);
				pos = DatumGetInt64(heap_getattr(&htup, 1, pv->result_desc, &isnull));
				pv->loaded[pos - base] = mt;
			}
			BufFileClose(pv->buckets[b]);
			pv->buckets[b] = NULL;
		}
		MemoryContextSwitchTo(old);

		for (int64 pos = base; pos < end; pos++)
		{
			int			o = plan->nspine;

			if (!tuplestore_gettupleslot(spine, true, false, spine_slot))
				elog(ERROR, "pushsource: spine ended early");
			foreach(lc, plan->views)
			{
				PitView    *pv = lfirst(lc);
				MinimalTuple mt;

				if (pv->res != NULL)
				{
					Cand	   *c = pv->res[pos];

					/* the candidates are in key order, not spine order */
					if (pos + OUTPUT_PREFETCH < end && pv->res[pos + OUTPUT_PREFETCH] != NULL)
						__builtin_prefetch(pv->res[pos + OUTPUT_PREFETCH]);

					if (c == NULL)
						memset(nulls + o, true, sizeof(bool) * pv->nfeat);
					else
					{
						memcpy(values + o, CAND_VALS(c), sizeof(Datum) * pv->nfeat);
						memcpy(nulls + o, CAND_NULLS(c, pv->nfeat), sizeof(bool) * pv->nfeat);
					}
					o += pv->nfeat;
					continue;
				}
				mt = pv->loaded[pos - base];
				if (mt == NULL)
				{
					for (int f = 0; f < pv->nfeat; f++)
						nulls[o + f] = true;
				}
				else
				{
					HeapTupleData htup;

					htup.t_len = mt->t_len + MINIMAL_TUPLE_OFFSET;
					htup.t_data = (HeapTupleHeader) ((char *) mt - MINIMAL_TUPLE_OFFSET);
					for (int f = 0; f < pv->nfeat; f++)
						values[o + f] = heap_getattr(&htup, f + 2, pv->result_desc, &nulls[o + f]);
				}
				o += pv->nfeat;
			}
			if (!append_features(plan, spine_slot, values, nulls, &outbuf, rsinfo->setResult))
			{
				slot_getallattrs(spine_slot);
				memcpy(values, spine_slot->tts_values, sizeof(Datum) * plan->nspine);
				memcpy(nulls, spine_slot->tts_isnull, sizeof(bool) * plan->nspine);
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			}
		}
		MemoryContextReset(bucketcxt);
	}
	MemoryContextDelete(bucketcxt);
	tuplestore_end(spine);
	pit_phase(&t0, "output written", plan->nrows);
	foreach(lc, plan->views)
	{
		PitView    *pv = lfirst(lc);

		if (pv->ix != NULL)
			MemoryContextDelete(pv->ix->cxt);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(fs_historical_features_columns);
Datum
fs_historical_features_columns(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(plan_from_args(fcinfo, 0)->columns));
}

/*
 * fs_save_historical_features(save_as, spine, features, timestamp_key,
 * full_feature_names, from_source): CREATE TABLE save_as with the join's
 * column types, filled by fs_get_historical_features.  save_as and the
 * spine are the caller's names, resolved in the caller's search_path; the
 * statements we build around them name everything else qualified
 * (pg_catalog.text, pushsource.fs_get_historical_features), and the
 * CREATE TABLE runs with our pinned search_path.
 */
PG_FUNCTION_INFO_V1(fs_save_historical_features);
Datum
fs_save_historical_features(PG_FUNCTION_ARGS)
{
	char	   *save_as;
	List	   *names;
	RangeVar   *rv;
	Oid			nsp;
	char	   *target;
	PitPlan    *plan;
	Oid			argtypes[5] = {TEXTOID, TEXTARRAYOID, TEXTOID, BOOLOID, BOOLOID};
	Datum		args[5];
	char		nulls[5];
	int			spi_nest;
	Oid			relid;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("save_as must not be null")));
	save_as = text_to_cstring(PG_GETARG_TEXT_PP(0));
	{
		ArrayType  *parts = DatumGetArrayTypeP(DirectFunctionCall2(parse_ident,
																	PG_GETARG_DATUM(0),
																	BoolGetDatum(true)));
		Datum	   *elems;
		int			nelems;

		deconstruct_array(parts, TEXTOID, -1, false, TYPALIGN_INT, &elems, NULL, &nelems);
		names = NIL;
		for (int i = 0; i < nelems; i++)
			names = lappend(names, makeString(TextDatumGetCString(elems[i])));
	}
	if (list_length(names) > 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("save_as \"%s\" must be a table name or schema.table", save_as)));
	rv = makeRangeVarFromNameList(names);
	nsp = RangeVarGetCreationNamespace(rv);
	if (OidIsValid(get_relname_relid(rv->relname, nsp)) ||
		OidIsValid(RangeVarGetRelid(rv, NoLock, true)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation \"%s\" already exists", save_as),
				 errhint("Pick another save_as name, or drop the old training set first.")));
	target = quote_qualified_identifier(isTempNamespace(nsp) ? "pg_temp" : get_namespace_name(nsp),
										rv->relname);
	plan = plan_from_args(fcinfo, 1);

	spi_nest = ps_spi_connect();
	if (SPI_execute(psprintf("CREATE TABLE %s (%s)", target, plan->columns_qualified),
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "pushsource: could not create \"%s\"", save_as);
	relid = RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(target)),
							 NoLock, false);
	ps_spi_finish(spi_nest);

	/* the join, with the spine resolved as the caller wrote it */
	for (int i = 0; i < 5; i++)
	{
		nulls[i] = PG_ARGISNULL(i + 1) ? 'n' : ' ';
		args[i] = PG_ARGISNULL(i + 1) ? (Datum) 0 : PG_GETARG_DATUM(i + 1);
	}
	ps_spi_connect_caller();
	if (SPI_execute_with_args(psprintf("INSERT INTO %s SELECT * FROM pushsource.fs_get_historical_features("
									   "$1, $2, $3, $4, $5) AS t(%s)",
									   target, plan->columns_qualified),
							  5, argtypes, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "pushsource: could not fill \"%s\"", save_as);
	SPI_finish();
	PG_RETURN_OID(relid);
}
