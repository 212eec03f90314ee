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
 *	1. the spine is read once (a DestReceiver under SPI); each row gets its
 *	   position and is kept in a tuplestore for the output; for each view its
 *	   (keys, T, position) is written, hash-partitioned by key, to temp files;
 *	2. per view, the feature rows of the time range the spine can reach are
 *	   read by a direct heap scan of the offline store (or the source table)
 *	   and partitioned the same way, skipping keys no spine row has;
 *	3. each partition is loaded, grouped by hash bucket and sorted by (hash,
 *	   time, ingest order) on both sides, and merged run by run of equal
 *	   hash; typed key comparisons are needed only where different keys share
 *	   a hash.  Matches go to temp-file buckets of spine positions;
 *	4. bucket by bucket, the spine is emitted in its order with its features.
 *
 * Partitions and buckets are sized from the store's real size and work_mem,
 * so memory stays near work_mem and the cost grows linearly.  Keys are
 * compared as typed tuples (hash functions and btree comparators of their
 * types), never as strings.
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
	FmgrInfo   *hashfn;			/* per join key */
	Oid		   *hashcoll;
	/* partitions by key hash: spine (keys, T, pos) and feature rows */
	int			nparts;
	TupleDesc	spine_part_desc;
	BufFile   **spine_parts;
	BufFile   **feat_parts;
	int64	   *spine_n;		/* records and bytes per partition */
	int64	   *spine_bytes;
	int64	   *feat_n;
	int64	   *feat_bytes;
	int			ncodec;			/* columns of a feature record */
	int16	   *codec_len;		/* keys, ts, order, features */
	bool	   *codec_byval;
	int			nscodec;		/* columns of a spine record: keys, T, pos */
	int16	   *scodec_len;
	bool	   *scodec_byval;
	StringInfoData enc;			/* encoding buffer */
	MemoryContext filecxt;		/* holds the BufFile structs (not SPI's memory) */
	uint64	   *seen;			/* bitset of spine key hashes */
	bool		ord_is_tid;		/* from_source: physical order breaks ties */
	/* results (pos, features), bucketed by spine position */
	TupleDesc	result_desc;
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
	bool		from_source;
	int64		nrows;			/* spine rows read */
	int64		bucket_rows;	/* spine positions per result bucket */
	int			nbuckets;
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

/*
 * Prepare a statement built around the user's spine query, which must stay
 * one SELECT: a spine like "SELECT 1) s; DROP TABLE t; SELECT (1" is
 * refused, not run.
 */
static SPIPlanPtr
prepare_spine_statement(const char *sql, const char *spine)
{
	SPIPlanPtr	plan = SPI_prepare(sql, 0, NULL);
	List	   *sources;

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
		if (SPI_execute_plan(prepare_spine_statement(psprintf("SELECT * FROM %s s LIMIT 0", from), spine),
							 NULL, NULL, true, 0) != SPI_OK_SELECT)
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

/* ---------------------------------------------------------------------
 * Temp-file runs of hashed minimal tuples
 *
 * A record is the 32-bit key hash followed by a MinimalTuple (whose first
 * field is its length).  Partitions and result buckets are BufFiles, so
 * they cost memory only for their buffers and spill as a temp file would.
 * --------------------------------------------------------------------- */

/*
 * BufFile structs are allocated in filecxt: the receivers run inside SPI,
 * whose executor memory is gone at SPI_finish.
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
	enlargeStringInfo(buf, n);
	memset(buf->data + buf->len, 0, n);
	buf->len += n;
}

/*
 * Partition records are encoded compactly instead of as minimal tuples:
 * [hash][length][null bitmap][values, each MAXALIGNed], the whole record
 * padded to MAXALIGN, so that a partition read into one buffer has every
 * value aligned and needs no per-row allocation or tuple deforming.
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
			appendBinaryStringInfo(buf, (char *) &vals[i], sizeof(Datum));
		else if (len[i] > 0)
			appendBinaryStringInfo(buf, DatumGetPointer(vals[i]), len[i]);
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
	(*n)++;
	*bytes += enc->len;
}

/* A whole partition in one buffer. */
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

#define SEEN_BITS (1 << 20)

static uint32
hash_keys(PitView *pv, Datum *vals)
{
	uint32		h = 0;

	for (int k = 0; k < pv->view->nkeys; k++)
		h = hash_combine(h, DatumGetUInt32(FunctionCall1Coll(&pv->hashfn[k], pv->hashcoll[k], vals[k])));
	return h;
}

/* Hash functions, partition files and descriptors of one view. */
static void
begin_view_join(PitView *pv, int nparts, bool from_source)
{
	PsView	   *v = pv->view;
	PsSource   *src = v->source;
	int			nk = v->nkeys;

	pv->hashfn = palloc0(sizeof(FmgrInfo) * Max(nk, 1));
	pv->hashcoll = palloc0(sizeof(Oid) * Max(nk, 1));
	pv->spine_part_desc = CreateTemplateTupleDesc(nk + 2);
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
		TupleDescInitEntry(pv->spine_part_desc, k + 1, c->name, c->type->typid, c->type->typmod, 0);
	}
	TupleDescInitEntry(pv->spine_part_desc, nk + 1, "t", TIMESTAMPTZOID, -1, 0);
	TupleDescInitEntry(pv->spine_part_desc, nk + 2, "pos", INT8OID, -1, 0);

	pv->result_desc = CreateTemplateTupleDesc(pv->nfeat + 1);
	TupleDescInitEntry(pv->result_desc, 1, "pos", INT8OID, -1, 0);
	for (int f = 0; f < pv->nfeat; f++)
		TupleDescInitEntry(pv->result_desc, f + 2, pv->out_names[f], pv->feat_types[f],
						   pv->feat_typmods[f], 0);

	pv->nparts = nparts;
	pv->spine_parts = palloc0(sizeof(BufFile *) * nparts);
	pv->feat_parts = palloc0(sizeof(BufFile *) * nparts);
	pv->spine_n = palloc0(sizeof(int64) * nparts);
	pv->spine_bytes = palloc0(sizeof(int64) * nparts);
	pv->feat_n = palloc0(sizeof(int64) * nparts);
	pv->feat_bytes = palloc0(sizeof(int64) * nparts);
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
	pv->filecxt = CurrentMemoryContext;
	pv->seen = palloc0(SEEN_BITS / 8);
	pv->ord_is_tid = from_source;
}

/* The feature rows a view can contribute: keys, ts, ingest order, features. */
static char *
feature_query(PitView *pv, bool from_source, bool bounded_below)
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
	for (int f = 0; f < pv->nfeat; f++)
		appendStringInfo(&sql, ", %s", quote_identifier(src->cols[pv->feat_cols[f]].name));
	appendStringInfo(&sql, " FROM %s WHERE %s OPERATOR(pg_catalog.<=) $1",
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(from_source ? src->relid : v->offline_relid)),
												get_rel_name(from_source ? src->relid : v->offline_relid)),
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
 * (keys, T, position) partitioned by key hash.
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
			write_encoded(pv->filecxt, &pv->spine_parts[h & (pv->nparts - 1)], &pv->enc, h,
						  &pv->spine_n[h & (pv->nparts - 1)], &pv->spine_bytes[h & (pv->nparts - 1)]);
		}
	}
	r->pos++;
	CHECK_FOR_INTERRUPTS();
	return true;
}

/* ---------------------------------------------------------------------
 * Scanning the feature rows: partitioned by key hash, as they come,
 * skipping keys no spine row has.
 * --------------------------------------------------------------------- */

static int64 tid_order(Datum d);

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
	uint32		h;
	int			p;

	slot_getallattrs(slot);
	h = hash_keys(pv, slot->tts_values);
	if ((pv->seen[(h % SEEN_BITS) / 64] & (UINT64CONST(1) << (h % 64))) == 0)
		return true;
	if (pv->ord_is_tid)
		slot->tts_values[nk + 1] = Int64GetDatum(tid_order(slot->tts_values[nk + 1]));
	encode_values(&pv->enc, pv->ncodec, pv->codec_len, pv->codec_byval,
				  slot->tts_values, slot->tts_isnull);
	p = h & (pv->nparts - 1);
	write_encoded(pv->filecxt, &pv->feat_parts[p], &pv->enc, h, &pv->feat_n[p], &pv->feat_bytes[p]);
	CHECK_FOR_INTERRUPTS();
	return true;
}

/* ---------------------------------------------------------------------
 * The as-of merge of one partition, in memory.  Both sides are sorted by
 * (key hash, keys, time): any total order on keys works for an as-of merge
 * as long as both sides share it, and comparing hashes first is cheap.
 * --------------------------------------------------------------------- */

typedef struct SpineEnt
{
	uint32		hash;
	TimestampTz t;
	int64		pos;
	Datum	   *keys;
} SpineEnt;

typedef struct FeatEnt
{
	uint32		hash;
	TimestampTz ts;
	int64		ord;
	Datum	   *keys;
	char	   *rec;			/* the encoded row */
} FeatEnt;

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

static int
cmp_feat(const void *a, const void *b, void *arg)
{
	const FeatEnt *x = a;
	const FeatEnt *y = b;
	int			c;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if ((c = compare_key_datums(arg, x->keys, y->keys)) != 0)
		return c;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->ord < y->ord ? -1 : x->ord > y->ord;
}

/*
 * The main sorts compare only (hash, time, order): integers, inlined.  Rows
 * of different keys that share a hash are told apart per run in
 * merge_partition, with the typed comparators above.
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

#define ST_SORT sort_feat_fast
#define ST_ELEMENT_TYPE FeatEnt
#define ST_COMPARE(a, b) \
	((a)->hash != (b)->hash ? ((a)->hash < (b)->hash ? -1 : 1) : \
	 (a)->ts != (b)->ts ? ((a)->ts < (b)->ts ? -1 : 1) : \
	 ((a)->ord < (b)->ord ? -1 : (a)->ord > (b)->ord))
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * Within a partition, rows are first grouped by a bucket of hash bits above
 * the partition bits (one counting pass), then each small bucket is sorted:
 * the order is (bucket, hash, time, order), the same on both sides.
 */
typedef struct Bucketing
{
	int			shift;
	uint32		mask;
} Bucketing;

static inline uint64
order_key(Bucketing *bk, uint32 hash)
{
	return ((uint64) ((hash >> bk->shift) & bk->mask) << 32) | hash;
}

#define DEFINE_BUCKET_SORT(name, type, sortfn) \
static type * \
name(type *a, int64 n, Bucketing *bk) \
{ \
	int64	   *start = palloc0(sizeof(int64) * ((Size) bk->mask + 2)); \
	type	   *out = palloc_extended(sizeof(type) * Max(n, 1), MCXT_ALLOC_HUGE); \
	for (int64 i = 0; i < n; i++) \
		start[((a[i].hash >> bk->shift) & bk->mask) + 1]++; \
	for (uint32 b = 0; b <= bk->mask; b++) \
		start[b + 1] += start[b]; \
	{ \
		int64	   *next = palloc(sizeof(int64) * ((Size) bk->mask + 1)); \
		memcpy(next, start, sizeof(int64) * ((Size) bk->mask + 1)); \
		for (int64 i = 0; i < n; i++) \
			out[next[(a[i].hash >> bk->shift) & bk->mask]++] = a[i]; \
		pfree(next); \
	} \
	for (uint32 b = 0; b <= bk->mask; b++) \
		if (start[b + 1] - start[b] > 1) \
			sortfn(out + start[b], start[b + 1] - start[b]); \
	pfree(start); \
	return out; \
}

DEFINE_BUCKET_SORT(bucket_sort_spine, SpineEnt, sort_spine_fast)
DEFINE_BUCKET_SORT(bucket_sort_feat, FeatEnt, sort_feat_fast)

static int64
tid_order(Datum d)
{
	ItemPointer ip = (ItemPointer) DatumGetPointer(d);

	return ((int64) ItemPointerGetBlockNumberNoCheck(ip) << 16) | ItemPointerGetOffsetNumberNoCheck(ip);
}

static void
write_result(PitPlan *plan, PitView *pv, int64 pos, FeatEnt *f, Datum *dvals, bool *dnulls,
			 Datum *vals, bool *nulls)
{
	int			nk = pv->view->nkeys;
	int64		b = pos / plan->bucket_rows;
	MinimalTuple mt;

	vals[0] = Int64GetDatum(pos);
	nulls[0] = false;
	decode_values(f->rec, pv->ncodec, pv->codec_len, pv->codec_byval, dvals, dnulls, pv->ncodec);
	for (int i = 0; i < pv->nfeat; i++)
	{
		vals[i + 1] = dvals[nk + 2 + i];
		nulls[i + 1] = dnulls[nk + 2 + i];
	}
	mt = heap_form_minimal_tuple(pv->result_desc, vals, nulls);
	write_record(pv->filecxt, &pv->buckets[b], 0, mt);
	pfree(mt);
}

/*
 * As-of merge of spine rows and feature rows sorted alike.  With uniform
 * all rows have the same keys and only times are compared.
 */
static void
merge_run(PitPlan *plan, PitView *pv, SpineEnt *sp, int64 ns, FeatEnt *fe, int64 nf,
		  bool uniform, Datum *dvals, bool *dnulls, Datum *vals, bool *nulls)
{
	PsView	   *v = pv->view;
	bool		ttl_fixed = v->has_ttl && v->ttl.month == 0 && v->ttl.day == 0;
	int64		fi = 0;
	int64		best = -1;

	for (int64 i = 0; i < ns; i++)
	{
		SpineEnt   *s = &sp[i];
		bool		match;

		/* every feature row before (keys, T) in the shared order is seen */
		while (fi < nf)
		{
			FeatEnt    *f = &fe[fi];
			int			c = uniform ? 0 : compare_key_datums(pv, s->keys, f->keys);

			if (c > 0 || (c == 0 && f->ts <= s->t))
			{
				best = fi++;
				continue;
			}
			break;
		}
		match = best >= 0 &&
			(uniform || compare_key_datums(pv, s->keys, fe[best].keys) == 0);
		if (match && v->has_ttl)
		{
			TimestampTz lo = ttl_fixed ? s->t - v->ttl.time :
			DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
													TimestampTzGetDatum(s->t),
													IntervalPGetDatum(&v->ttl)));

			match = fe[best].ts >= lo;
		}
		if (match && v->has_start_time && s->t < v->start_time)
			match = false;
		if (match)
			write_result(plan, pv, s->pos, &fe[best], dvals, dnulls, vals, nulls);
	}
	CHECK_FOR_INTERRUPTS();
}

static void
merge_partition(PitPlan *plan, PitView *pv, int p, MemoryContext cxt)
{
	PsView	   *v = pv->view;
	int			nk = v->nkeys;
	MemoryContext old = MemoryContextSwitchTo(cxt);
	SpineEnt   *sp = NULL;
	FeatEnt    *fe = NULL;
	int64		ns = 0,
				nf = 0;
	Datum	   *dvals = palloc(sizeof(Datum) * (pv->ncodec + 1));
	bool	   *dnulls = palloc(sizeof(bool) * (pv->ncodec + 1));
	Datum	   *vals = palloc(sizeof(Datum) * (pv->nfeat + 1));
	bool	   *nulls = palloc(sizeof(bool) * (pv->nfeat + 1));
	int64		fi = 0;
	int64		si = 0;
	Bucketing	bk;
	char	   *buf;
	char	   *rec;
	Datum	   *keys;

	/* the spine part: one buffer, decoded in place */
	ns = pv->spine_n[p];
	buf = read_partition(pv->spine_parts[p], pv->spine_bytes[p]);
	BufFileClose(pv->spine_parts[p]);
	pv->spine_parts[p] = NULL;
	sp = palloc_extended(sizeof(SpineEnt) * Max(ns, 1), MCXT_ALLOC_HUGE);
	keys = palloc_extended(sizeof(Datum) * Max(ns * nk, 1), MCXT_ALLOC_HUGE);
	rec = buf;
	for (int64 i = 0; i < ns; i++)
	{
		decode_values(rec, nk + 2, pv->scodec_len, pv->scodec_byval, dvals, dnulls, pv->nscodec);
		sp[i].hash = ((uint32 *) rec)[0];
		sp[i].keys = keys + i * nk;
		memcpy(sp[i].keys, dvals, sizeof(Datum) * nk);
		sp[i].t = DatumGetTimestampTz(dvals[nk]);
		sp[i].pos = DatumGetInt64(dvals[nk + 1]);
		rec += ((uint32 *) rec)[1];
	}

	/* the feature part, likewise */
	if (pv->feat_parts[p] != NULL)
	{
		nf = pv->feat_n[p];
		buf = read_partition(pv->feat_parts[p], pv->feat_bytes[p]);
		BufFileClose(pv->feat_parts[p]);
		pv->feat_parts[p] = NULL;
		fe = palloc_extended(sizeof(FeatEnt) * Max(nf, 1), MCXT_ALLOC_HUGE);
		keys = palloc_extended(sizeof(Datum) * Max(nf * nk, 1), MCXT_ALLOC_HUGE);
		rec = buf;
		for (int64 i = 0; i < nf; i++)
		{
			decode_values(rec, nk + 2, pv->codec_len, pv->codec_byval, dvals, dnulls, pv->ncodec);
			fe[i].hash = ((uint32 *) rec)[0];
			fe[i].rec = rec;
			fe[i].keys = keys + i * nk;
			memcpy(fe[i].keys, dvals, sizeof(Datum) * nk);
			fe[i].ts = DatumGetTimestampTz(dvals[nk]);
			fe[i].ord = DatumGetInt64(dvals[nk + 1]);
			rec += ((uint32 *) rec)[1];
		}
	}

	{
		int64		most = Max(ns, nf);

		bk.shift = 0;
		while ((1 << bk.shift) < pv->nparts)
			bk.shift++;
		bk.mask = 0;
		while ((int64) bk.mask + 1 < most / 16 && bk.mask < (1u << 20) - 1)
			bk.mask = bk.mask * 2 + 1;
		if (bk.shift + 20 > 32)
			bk.mask &= (uint32) ((UINT64CONST(1) << (32 - bk.shift)) - 1);
	}
	sp = bucket_sort_spine(sp, ns, &bk);
	if (nf > 0)
		fe = bucket_sort_feat(fe, nf, &bk);

	/* merge run by run of equal hash */
	while (si < ns)
	{
		uint32		h = sp[si].hash;
		int64		s_end = si;
		int64		f_beg;
		int64		f_end;
		bool		uniform = true;

		while (s_end < ns && sp[s_end].hash == h)
			s_end++;
		while (fi < nf && order_key(&bk, fe[fi].hash) < order_key(&bk, h))
			fi++;
		f_beg = fi;
		while (fi < nf && fe[fi].hash == h)
			fi++;
		f_end = fi;
		if (f_beg == f_end)
		{
			si = s_end;			/* no feature row has these keys */
			continue;
		}
		for (int64 i = si + 1; uniform && i < s_end; i++)
			uniform = compare_key_datums(pv, sp[si].keys, sp[i].keys) == 0;
		for (int64 j = f_beg; uniform && j < f_end; j++)
			uniform = compare_key_datums(pv, sp[si].keys, fe[j].keys) == 0;
		if (!uniform)
		{
			/* a hash shared by different keys: order the run by keys too */
			qsort_arg(sp + si, s_end - si, sizeof(SpineEnt), cmp_spine, pv);
			qsort_arg(fe + f_beg, f_end - f_beg, sizeof(FeatEnt), cmp_feat, pv);
		}
		merge_run(plan, pv, sp + si, s_end - si, fe + f_beg, f_end - f_beg, uniform,
				  dvals, dnulls, vals, nulls);
		si = s_end;
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(cxt);
}

/*
 * The feature rows by a direct heap scan: no planner, executor or
 * projection per row.  The SELECT privilege is checked as the executor would;
 * a table with row security that applies, or anything but a plain table,
 * returns false and the SQL scan is used.
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
	AttrNumber *atts = palloc(sizeof(AttrNumber) * ncols);
	AttrNumber	maxatt = 0;
	Datum	   *vals = palloc(sizeof(Datum) * ncols);
	bool	   *nulls = palloc(sizeof(bool) * ncols);
	Relation	rel;
	TableScanDesc scan;
	TupleTableSlot *slot;
	AclResult	acl;

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

		atts[i] = name ? get_attnum(relid, name) : InvalidAttrNumber;
		if (name && atts[i] == InvalidAttrNumber)
			return false;		/* let SQL report what is missing */
		maxatt = Max(maxatt, atts[i]);
	}

	rel = table_open(relid, AccessShareLock);
	slot = table_slot_create(rel, NULL);
	scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		TimestampTz ts;
		bool		skip = false;
		uint32		h;
		int			p;

		slot_getsomeattrs(slot, maxatt);
		for (int i = 0; i < ncols; i++)
		{
			if (atts[i] == InvalidAttrNumber)
			{
				/* from_source: physical order stands in for ingest order */
				vals[i] = Int64GetDatum(((int64) ItemPointerGetBlockNumber(&slot->tts_tid) << 16) |
										ItemPointerGetOffsetNumber(&slot->tts_tid));
				nulls[i] = false;
				continue;
			}
			vals[i] = slot->tts_values[atts[i] - 1];
			nulls[i] = slot->tts_isnull[atts[i] - 1];
			if (i <= nk && nulls[i])
				skip = true;	/* no key or no time: never a match */
		}
		if (skip)
			continue;
		ts = DatumGetTimestampTz(vals[nk]);
		if (ts > max_t || (bounded && ts < lower) ||
			(plan->from_source && v->has_start_time && ts < v->start_time))
			continue;
		h = hash_keys(pv, vals);
		if ((pv->seen[(h % SEEN_BITS) / 64] & (UINT64CONST(1) << (h % 64))) == 0)
			continue;
		encode_values(&pv->enc, ncols, pv->codec_len, pv->codec_byval, vals, nulls);
		p = h & (pv->nparts - 1);
		write_encoded(pv->filecxt, &pv->feat_parts[p], &pv->enc, h, &pv->feat_n[p], &pv->feat_bytes[p]);
		CHECK_FOR_INTERRUPTS();
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	return true;
}

/* Scan one view's feature rows into partitions, then merge partition by partition. */
static void
join_view(PitPlan *plan, PitView *pv, TimestampTz min_t, TimestampTz max_t)
{
	PsView	   *v = pv->view;
	FeatureReceiver r;
	ParamListInfo params = makeParamList(3);
	Oid			argtypes[3] = {TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	SPIExecuteOptions opts;
	SPIPlanPtr	splan;
	bool		bounded = v->has_ttl;
	int			ret;
	int			save_nestlevel;
	MemoryContext cxt;

	memset(&r, 0, sizeof(r));
	r.pub.receiveSlot = feature_receive;
	r.pub.rStartup = receiver_noop_startup;
	r.pub.rShutdown = receiver_noop;
	r.pub.rDestroy = receiver_noop;
	r.pub.mydest = DestNone;
	r.pv = pv;

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

	if (scan_features_direct(plan, pv, max_t, bounded, DatumGetTimestampTz(params->params[1].value)))
		goto merge;

	/* a plain scan: JIT compilation would cost more than it saves */
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("jit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	splan = SPI_prepare(feature_query(pv, plan->from_source, bounded), 3, argtypes);
	if (splan == NULL)
		elog(ERROR, "pushsource: could not prepare the feature scan of \"%s\": %s",
			 v->name, SPI_result_code_string(SPI_result));
	memset(&opts, 0, sizeof(opts));
	opts.params = params;
	opts.read_only = true;
	opts.dest = (DestReceiver *) &r;
	ret = SPI_execute_plan_extended(splan, &opts);
	if (ret != SPI_OK_SELECT && ret != SPI_OK_UTILITY)
		elog(ERROR, "pushsource: the feature scan of \"%s\" failed", v->name);
	SPI_finish();
	AtEOXact_GUC(true, save_nestlevel);

merge:
	cxt = AllocSetContextCreate(CurrentMemoryContext, "pit partition", ALLOCSET_DEFAULT_SIZES);
	for (int p = 0; p < pv->nparts; p++)
		if (pv->spine_parts[p] != NULL)
			merge_partition(plan, pv, p, cxt);
		else if (pv->feat_parts[p] != NULL)
		{
			BufFileClose(pv->feat_parts[p]);
			pv->feat_parts[p] = NULL;
		}
	MemoryContextDelete(cxt);
}

/* Partitions so that one partition's rows fit in about work_mem. */
static int
choose_partitions(PitPlan *plan)
{
	double		bytes = 0;
	ListCell   *lc;
	int			n = 1;

	foreach(lc, plan->views)
	{
		PitView    *pv = lfirst(lc);
		Oid			relid = plan->from_source ? pv->view->source->relid : pv->view->offline_relid;
		Relation	rel = table_open(relid, AccessShareLock);

		bytes = Max(bytes, (double) RelationGetNumberOfBlocks(rel) * BLCKSZ);
		table_close(rel, NoLock);
	}
	/* in memory a row costs about twice its on-disk size; spine rows too */
	while (n < 4096 && bytes * 3 / n > (double) work_mem * 1024)
		n *= 2;
	return n;
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
	int			nparts;
	int			maxkeys = 0;
	ListCell   *lc;
	Datum	   *values;
	bool	   *nulls;
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext bucketcxt;
	int64		per_row;

	plan = plan_from_args(fcinfo, 0);
	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) || rsinfo->expectedDesc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("fs_get_historical_features must be called in FROM: SELECT * FROM fs_get_historical_features(...) AS t(...)")));
	check_expected_desc(rsinfo, plan);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	/* 1. read the spine once, partitioning each view's (keys, T, position) */
	nparts = choose_partitions(plan);
	foreach(lc, plan->views)
	{
		begin_view_join(lfirst(lc), nparts, plan->from_source);
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
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	sp = prepare_spine_statement(plan->spine_sql, plan->spine_sql);
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
	plan->nrows = sr.pos;

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

	/* 2. per view: scan its feature rows into partitions, merge each */
	if (sr.max_t >= sr.min_t)
		foreach(lc, plan->views)
			join_view(plan, lfirst(lc), sr.min_t, sr.max_t);
	foreach(lc, plan->views)
	{
		PitView    *pv = lfirst(lc);

		for (int p = 0; p < pv->nparts; p++)
			if (pv->spine_parts[p] != NULL)
				BufFileClose(pv->spine_parts[p]);
	}

	/* 3. emit in spine order, one bucket of positions at a time */
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
			slot_getallattrs(spine_slot);
			memcpy(values, spine_slot->tts_values, sizeof(Datum) * plan->nspine);
			memcpy(nulls, spine_slot->tts_isnull, sizeof(bool) * plan->nspine);
			foreach(lc, plan->views)
			{
				PitView    *pv = lfirst(lc);
				MinimalTuple mt = pv->loaded[pos - base];

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
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
		MemoryContextReset(bucketcxt);
	}
	MemoryContextDelete(bucketcxt);
	tuplestore_end(spine);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(fs_historical_features_columns);
Datum
fs_historical_features_columns(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(plan_from_args(fcinfo, 0)->columns));
}
