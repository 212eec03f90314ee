/*
 * online.c
 *		fs_get_online_features: feature values by key, for a feature view or
 *		a feature service.
 *
 * Each view has one prepared plan, a primary-key lookup on its online store
 * that returns the event timestamp and the features already shaped as a
 * jsonb object ("view.feature": value), so every PostgreSQL type is rendered
 * by PostgreSQL's own JSON conversion.  Keys are read from JSON with the
 * push validator's rules.  ttl is enforced here, at read time: a value
 * older than now() - ttl is served as NULL with status OUTSIDE_TTL.
 */
#include "pushsource.h"

#include "access/genam.h"
#include "access/nbtree.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_am.h"
#include "executor/tuptable.h"
#include "nodes/makefuncs.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

/*
 * pushsource.request_time: the time online reads are computed at (windows
 * of aggregate features, ttl); empty means now(), the transaction's start.
 */
static char *request_time_setting = NULL;

/*
 * SET checks the value, so that a bad one is refused naming the setting.
 * It is read as pushed timestamps are (RFC 3339; without a zone, UTC), not
 * by the session's TimeZone: one rule for every time pushsource parses.
 */
static bool
check_request_time(char **newval, void **extra, GucSource source)
{
	TimestampTz ts;

	if (*newval == NULL || **newval == '\0')
		return true;
	if (!ps_parse_rfc3339(*newval, &ts))
	{
		GUC_check_errdetail("It must be empty (now()) or an RFC 3339 timestamp, such as '2024-05-01T12:00:00Z' or '2024-05-01 12:00:00+02'; one without a zone is UTC.");
		return false;
	}
	return true;
}

void
ps_online_init(void)
{
	DefineCustomStringVariable("pushsource.request_time",
							   "Time at which online reads compute aggregate windows and ttl.",
							   "Empty (the default) means now(), the start of the transaction. "
							   "Set it to replay or test reads at a fixed time.",
							   &request_time_setting, "", PGC_USERSET, 0,
							   check_request_time, NULL, NULL);
}

TimestampTz
ps_request_time(void)
{
	TimestampTz ts;

	if (request_time_setting == NULL || request_time_setting[0] == '\0')
		return GetCurrentTransactionStartTimestamp();
	if (!ps_parse_rfc3339(request_time_setting, &ts))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for parameter \"pushsource.request_time\": \"%s\"", request_time_setting)));
	return ts;
}

static SPIPlanPtr
read_plan(PsView *v)
{
	int			spi_nest;
	char	   *sql;
	Oid		   *argtypes;
	SPIPlanPtr	plan;

	if (v->read_plan != NULL)
		return v->read_plan;
	sql = ps_store_online_read_sql(v, &argtypes);
	spi_nest = ps_spi_connect();
	plan = SPI_prepare(sql, v->nkeys, argtypes);
	if (plan == NULL)
		elog(ERROR, "pushsource: could not prepare the online read of feature view \"%s\": %s",
			 v->name, SPI_result_code_string(SPI_result));
	ps_keep_plan(plan);
	ps_spi_finish(spi_nest);
	v->read_plan = plan;
	return plan;
}

/*
 * The online row of one key, read through the online store's primary key
 * index directly: what the SPI read plan does, without its executor
 * start-up (a third of a one-key read's time).  The same snapshot (the
 * active one: the function is STABLE, as the SPI read is read-only), the
 * same locks, the same privilege (ps_serve_check_view has checked SELECT
 * on the store), and the same JSON: each feature through to_jsonb, as
 * jsonb_build_object in the SQL converts it.  A store with row security
 * that applies, or one whose primary key is not a btree over the view's
 * keys (a DBA changed it), is read by SQL instead.
 */
typedef struct PsDirectRead
{
	FmgrInfo   *to_json;		/* per feature: to_jsonb of its column's type */
	RegProcedure *eq;			/* per key: the btree equality of its type */
} PsDirectRead;

/*
 * Feature i's JSON value of val (not null), in the caller's memory: as
 * to_jsonb renders it, for the common types without calling it.
 */
static void
feature_json(PsView *v, PsDirectRead *d, int i, Datum val, JsonbValue *out)
{
	PsColumn   *c = &v->source->cols[v->feature_cols[i]];
	Jsonb	   *j;

	if (ps_json_scalar(val, c->type->typid, v->name, c->name, out))
		return;
	j = DatumGetJsonbP(FunctionCall1(&d->to_json[i], val));
	if (JB_ROOT_IS_SCALAR(j))
		JsonbExtractScalar(&j->root, out);
	else
	{
		out->type = jbvBinary;
		out->val.binary.data = &j->root;
		out->val.binary.len = VARSIZE(j) - VARHDRSZ;
	}
}

static PsDirectRead *
direct_read_for(PsView *v, Relation index)
{
	PsSource   *src = v->source;
	PsDirectRead *d;
	MemoryContext old;

	if (v->direct_read != NULL)
		return v->direct_read;
	old = MemoryContextSwitchTo(ps_catalog_cxt());
	d = palloc0(sizeof(PsDirectRead));
	d->to_json = palloc0(sizeof(FmgrInfo) * Max(v->nfeatures, 1));
	d->eq = palloc0(sizeof(RegProcedure) * Max(v->nkeys, 1));
	for (int i = 0; i < v->nfeatures; i++)
	{
		Oid			type = src->cols[v->feature_cols[i]].type->typid;

		fmgr_info_cxt(F_TO_JSONB, &d->to_json[i], CurrentMemoryContext);
		/* to_jsonb(anyelement) reads its argument's type from its call */
		d->to_json[i].fn_expr = (Node *) makeFuncExpr(F_TO_JSONB, JSONBOID,
													  list_make1(makeNullConst(type, -1, InvalidOid)),
													  InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	}
	for (int k = 0; k < v->nkeys; k++)
	{
		Oid			opr = get_opfamily_member(index->rd_opfamily[k], index->rd_opcintype[k],
											  index->rd_opcintype[k], BTEqualStrategyNumber);

		d->eq[k] = OidIsValid(opr) ? get_opcode(opr) : InvalidOid;
	}
	MemoryContextSwitchTo(old);
	v->direct_read = d;
	return d;
}

/*
 * An online store open for direct reads: its relations, an index scan
 * rescanned per key, a slot, and the attribute numbers of the event time
 * and the features.  One read opens and closes it; a call that reads many
 * keys (fs_get_online_features with a list) keeps one per store open
 * until it ends (ps_online_batch_begin/end), so each key costs a rescan,
 * not a scan's set-up (its ~30 kB of btree state, allocated and freed per
 * key, made the C library return and refetch memory from the kernel).
 */
typedef struct PsOpenScan
{
	PsView	   *view;
	bool		direct;			/* false: the store must be read by SQL */
	Relation	heap;
	Relation	index;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	AttrNumber	ts_att;
	AttrNumber *feat_att;		/* per feature; 0: no such column */
	ScanKeyData *sk;			/* per key; the argument set per read */
} PsOpenScan;

static List *batch_scans = NIL;
static MemoryContext batch_cxt = NULL;

static PsOpenScan *
open_scan(PsView *v, MemoryContext cxt)
{
	PsSource   *src = v->source;
	MemoryContext old = MemoryContextSwitchTo(cxt);
	PsOpenScan *s = palloc0(sizeof(PsOpenScan));
	Oid			indexoid;
	TupleDesc	desc;
	PsDirectRead *d;

	s->view = v;
	if (v->nkeys == 0 || v->nkeys > INDEX_MAX_KEYS)
		goto sql;
	s->heap = table_open(v->online_relid, AccessShareLock);
	indexoid = RelationGetPrimaryKeyIndex(s->heap);
	if (s->heap->rd_rel->relkind != RELKIND_RELATION || !OidIsValid(indexoid) ||
		check_enable_rls(v->online_relid, InvalidOid, true) == RLS_ENABLED)
		goto sql;
	s->index = index_open(indexoid, AccessShareLock);
	desc = RelationGetDescr(s->heap);
	s->ts_att = get_attnum(v->online_relid, src->cols[src->ts_col].name);
	if (s->index->rd_rel->relam != BTREE_AM_OID || s->index->rd_index->indnkeyatts != v->nkeys ||
		s->ts_att == InvalidAttrNumber)
		goto sql;
	d = direct_read_for(v, s->index);
	s->sk = palloc(sizeof(ScanKeyData) * v->nkeys);
	for (int k = 0; k < v->nkeys; k++)
	{
		PsColumn   *c = &src->cols[v->key_cols[k]];
		AttrNumber	att = s->index->rd_index->indkey.values[k];

		if (!OidIsValid(d->eq[k]) || att <= 0 ||
			strcmp(NameStr(TupleDescAttr(desc, att - 1)->attname), c->name) != 0)
			goto sql;
		ScanKeyEntryInitialize(&s->sk[k], 0, k + 1, BTEqualStrategyNumber, s->index->rd_opcintype[k],
							   s->index->rd_indcollation[k], d->eq[k], (Datum) 0);
	}
	s->feat_att = palloc0(sizeof(AttrNumber) * Max(v->nfeatures, 1));
	for (int i = 0; i < v->nfeatures; i++)
		s->feat_att[i] = get_attnum(v->online_relid, src->cols[v->feature_cols[i]].name);
	s->slot = table_slot_create(s->heap, NULL);
	s->scan = index_beginscan(s->heap, s->index, GetActiveSnapshot(), v->nkeys, 0);
	s->direct = true;
	MemoryContextSwitchTo(old);
	return s;

sql:
	if (s->index != NULL)
		index_close(s->index, AccessShareLock);
	if (s->heap != NULL)
		table_close(s->heap, AccessShareLock);
	s->index = NULL;
	s->heap = NULL;
	MemoryContextSwitchTo(old);
	return s;
}

static void
close_scan(PsOpenScan *s)
{
	if (!s->direct)
		return;
	index_endscan(s->scan);
	ExecDropSingleTupleTableSlot(s->slot);
	index_close(s->index, NoLock);
	table_close(s->heap, NoLock);
	s->direct = false;
}

/*
 * Many keys read in one statement: the stores read stay open until
 * ps_online_batch_end (or the transaction's abort, which releases their
 * scans and relations).  cxt must outlive the reads.
 */
void
ps_online_batch_begin(MemoryContext cxt)
{
	batch_scans = NIL;
	batch_cxt = cxt;
}

void
ps_online_batch_end(bool close)
{
	ListCell   *lc;

	if (close)
		foreach(lc, batch_scans)
			close_scan(lfirst(lc));
	batch_scans = NIL;
	batch_cxt = NULL;
}

/*
 * Reads v's online row of keys: false if it must be read by SQL; else
 * *found, and with it the event time and each feature's JSON value (in
 * the caller's memory).
 */
static bool
read_online_direct(PsView *v, Datum *keys, bool *found, TimestampTz *ts, JsonbValue *values)
{
	PsOpenScan *s = NULL;
	ListCell   *lc;
	PsDirectRead *d;
	MemoryContext old;

	if (batch_cxt != NULL)
	{
		foreach(lc, batch_scans)
			if (((PsOpenScan *) lfirst(lc))->view == v)
				s = lfirst(lc);
		if (s == NULL)
		{
			old = MemoryContextSwitchTo(batch_cxt);
			s = open_scan(v, batch_cxt);
			batch_scans = lappend(batch_scans, s);
			MemoryContextSwitchTo(old);
		}
	}
	else
		s = open_scan(v, CurrentMemoryContext);
	if (!s->direct)
		return false;
	d = v->direct_read;
	for (int k = 0; k < v->nkeys; k++)
		s->sk[k].sk_argument = keys[k];

	/*
	 * The scan runs in the memory it was opened in: nbtree allocates some
	 * of its state lazily (the killed-items array of a scan that meets
	 * dead rows), which must outlive the caller's per-key memory.
	 */
	old = MemoryContextSwitchTo(batch_cxt != NULL ? batch_cxt : CurrentMemoryContext);
	index_rescan(s->scan, s->sk, v->nkeys, NULL, 0);
	*found = index_getnext_slot(s->scan, ForwardScanDirection, s->slot);
	MemoryContextSwitchTo(old);
	if (*found)
	{
		bool		isnull;

		*ts = DatumGetTimestampTz(slot_getattr(s->slot, s->ts_att, &isnull));
		for (int i = 0; i < v->nfeatures; i++)
		{
			AttrNumber	att = s->feat_att[i];
			Datum		val = att > 0 ? slot_getattr(s->slot, att, &isnull) : (Datum) 0;

			if (att <= 0 || isnull)
				values[i].type = jbvNull;
			else
				feature_json(v, d, i, val, &values[i]);
		}
	}
	ExecClearTuple(s->slot);
	if (batch_cxt == NULL)
		close_scan(s);
	return true;
}

/* Does t want the feature named so (NIL features: every one)? */
bool
ps_serve_wants(const PsServeTarget *t, const char *feature)
{
	ListCell   *lc;

	if (t->features == NIL)
		return true;
	foreach(lc, t->features)
		if (strcmp(lfirst(lc), feature) == 0)
			return true;
	return false;
}

/* How many features v serves, and the i-th one's name, in the view's order. */
int
ps_view_nserved(const PsView *v)
{
	return v->naggs > 0 ? v->naggs : v->nfeatures;
}

const char *
ps_view_served_name(const PsView *v, int i)
{
	return v->naggs > 0 ? v->aggs[i].name : v->source->cols[v->feature_cols[i]].name;
}

/* "view.feature" of v's i-th served feature, made once per catalog generation */
static char *
served_full_name(PsView *v, int i)
{
	if (v->served_full_names == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(ps_catalog_cxt());
		int			n = ps_view_nserved(v);

		v->served_full_names = palloc(sizeof(char *) * Max(n, 1));
		for (int j = 0; j < n; j++)
			v->served_full_names[j] = psprintf("%s.%s", v->name, ps_view_served_name(v, j));
		MemoryContextSwitchTo(old);
	}
	return v->served_full_names[i];
}

/* f's effective time as RFC 3339 UTC text, or NULL: formatted when asked */
const char *
ps_served_effective_time(PsServed *f)
{
	if (f->effective_time == NULL && f->has_time)
		f->effective_time = ps_format_timestamp_utc(f->time);
	return f->effective_time;
}

static PsServed *
served(PsView *v, int i, PsTypeSpec *type, const TimestampTz *effective, const char *status)
{
	PsServed   *f = palloc0(sizeof(PsServed));

	f->view = v;
	f->feature = ps_view_served_name(v, i);
	f->name = served_full_name(v, i);
	f->type = type;
	f->has_time = effective != NULL;
	f->time = effective != NULL ? *effective : 0;
	f->status = status;
	f->value.type = jbvNull;
	return f;
}

/*
 * The type an aggregate feature is served as: the result type of its
 * function (int8, float8, an array of the column's type, ...).
 */
static PsTypeSpec *
agg_type(PsView *v, int agg)
{
	return ps_type_for_column("", ps_agg_feature_type(v, agg), -1, v->aggs[agg].name);
}

/*
 * The features of an aggregate view, computed at the request time.  Status
 * PRESENT when the window held events, MISSING_DATA when it was empty (the
 * value is then 0, [] or null), OUT_OF_RANGE when an Int64 sum left bigint's
 * range (the value is null; the view's other features are served as
 * usual); effective_time is the end of the window.
 */
static void
read_aggregates(PsServeTarget *t, Datum *keys, List **out)
{
	int			spi_nest;
	PsView	   *v = t->view;
	Datum	   *values = palloc(sizeof(Datum) * v->naggs);
	bool	   *nulls = palloc(sizeof(bool) * v->naggs);
	int64	   *counts = palloc(sizeof(int64) * v->naggs);
	TimestampTz request = ps_request_time();
	TimestampTz end;
	MemoryContext outer = CurrentMemoryContext;

	spi_nest = ps_spi_connect();
	MemoryContextSwitchTo(outer);
	ps_agg_read(v, keys, request, values, nulls, counts, &end);
	ps_spi_finish(spi_nest);
	for (int a = 0; a < v->naggs; a++)
	{
		PsServed   *f;
		JsonbParseState *st = NULL;
		JsonbValue *obj;

		if (!ps_serve_wants(t, v->aggs[a].name))
			continue;
		f = served(v, a, agg_type(v, a), &end,
				   counts[a] < 0 ? "OUT_OF_RANGE" : counts[a] > 0 ? "PRESENT" : "MISSING_DATA");
		/* the value as JSON: rendered as the value of a one-key object */
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		ps_jsonb_key(&st, "v");
		ps_push_json_value(&st, values[a], ps_agg_feature_type(v, a), nulls[a]);
		obj = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
		if (IsAJsonbScalar(&obj->val.object.pairs[0].value))
			f->value = obj->val.object.pairs[0].value;
		else
		{
			Jsonb	   *j = JsonbValueToJsonb(obj);

			f->value = *getKeyJsonValueFromContainer(&j->root, "v", 1, NULL);
		}
		*out = lappend(*out, f);
	}
}

/* formatted only when an error is raised */
#define KEY_AT(index) ((index) < 0 ? "" : psprintf(", key %d", (index)))

/*
 * The values of a view's join keys in a JSON key object, checked with the
 * rules of pushes: every join key present and not null, typed as the source
 * declares it.  index >= 0 names the object's place in a list of keys
 * (fs_delete_keys); online reads pass -1.  nulls may be NULL.
 */
void
ps_view_key_from_json(PsView *v, JsonbValue *keyobj, int index, Datum *values, bool *nulls)
{
	StringInfoData path,
				expected,
				got;

	initStringInfo(&path);
	initStringInfo(&expected);
	initStringInfo(&got);
	for (int i = 0; i < v->nkeys; i++)
	{
		PsColumn   *c = &v->source->cols[v->key_cols[i]];
		JsonbValue *kv = getKeyJsonValueFromContainer(keyobj->val.binary.data, c->name,
													  strlen(c->name), NULL);
		bool		isnull;
		int			code;

		if (kv == NULL || kv->type == jbvNull)
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("%s \"%s\"%s: join key \"%s\" is %s", PS_VIEW_KIND(v), v->name, KEY_AT(index), c->name,
							kv == NULL ? "missing" : "null"),
					 index < 0 ?
					 errhint("Pass every join key of the view: a JSON object like {\"%s\": ...}.", c->name) :
					 errhint("A key names every join key of the view: a partial key would match other entities' rows.")));
		resetStringInfo(&path);
		resetStringInfo(&expected);
		resetStringInfo(&got);
		appendStringInfoString(&path, c->name);
		code = ps_value_from_json(c->type, kv, &values[i], &isnull, &path, &expected, &got);
		if (code != 0)
			ereport(ERROR,
					(errcode(code),
					 errmsg("%s \"%s\"%s, join key \"%s\": expected %s, got %s",
							PS_VIEW_KIND(v), v->name, KEY_AT(index), c->name, expected.data, got.data)));
		if (nulls)
			nulls[i] = isnull;
	}
}

/* Read one view for one key: append its features to *out. */
static void
read_view(PsServeTarget *t, JsonbValue *keyobj, List **out)
{
	int			spi_nest;
	PsView	   *v = t->view;
	PsSource   *src = v->source;
	Datum	   *args = palloc(sizeof(Datum) * Max(v->nkeys, 1));
	const char *status;
	TimestampTz *effective = NULL;
	TimestampTz row_ts = 0;
	Jsonb	   *features = NULL;
	MemoryContext outer = CurrentMemoryContext;

	ps_view_key_from_json(v, keyobj, -1, args, NULL);

	if (v->naggs > 0)
	{
		read_aggregates(t, args, out);
		return;
	}
	{
		JsonbValue *values = palloc(sizeof(JsonbValue) * Max(v->nfeatures, 1));
		bool		found;
		TimestampTz ts = 0;

		if (read_online_direct(v, args, &found, &ts, values))
		{
			status = found ? "PRESENT" : "MISSING_DATA";
			if (found)
			{
				row_ts = ts;
				effective = &row_ts;
				if (v->has_ttl &&
					ts < DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
																 TimestampTzGetDatum(ps_request_time()),
																 IntervalPGetDatum(&v->ttl))))
					status = "OUTSIDE_TTL";
			}
			for (int i = 0; i < v->nfeatures; i++)
			{
				PsColumn   *c = &src->cols[v->feature_cols[i]];
				PsServed   *f;

				if (!ps_serve_wants(t, c->name))
					continue;
				f = served(v, i, c->type, effective, status);
				if (strcmp(status, "PRESENT") == 0)
					f->value = values[i];
				*out = lappend(*out, f);
			}
			return;
		}
	}
	spi_nest = ps_spi_connect();
	if (SPI_execute_plan(read_plan(v), args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "pushsource: online read of feature view \"%s\" failed", v->name);
	if (SPI_processed == 0)
		status = "MISSING_DATA";
	else
	{
		bool		isnull;
		TimestampTz ts = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
														   SPI_tuptable->tupdesc, 1, &isnull));
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);

		MemoryContext spicxt = MemoryContextSwitchTo(outer);

		row_ts = ts;
		effective = &row_ts;
		status = "PRESENT";
		if (v->has_ttl)
		{
			TimestampTz horizon = DatumGetTimestampTz(
													  DirectFunctionCall2(timestamptz_mi_interval,
																		  TimestampTzGetDatum(ps_request_time()),
																		  IntervalPGetDatum(&v->ttl)));

			if (ts < horizon)
				status = "OUTSIDE_TTL";
		}
		if (strcmp(status, "PRESENT") == 0)
			features = DatumGetJsonbPCopy(d);
		MemoryContextSwitchTo(spicxt);
	}
	ps_spi_finish(spi_nest);

	for (int i = 0; i < v->nfeatures; i++)
	{
		PsColumn   *c = &src->cols[v->feature_cols[i]];
		PsServed   *f;

		if (!ps_serve_wants(t, c->name))
			continue;
		f = served(v, i, c->type, effective, status);
		if (features != NULL)
		{
			JsonbValue *found = getKeyJsonValueFromContainer(&features->root, f->name,
															 strlen(f->name), NULL);

			if (found != NULL)
				f->value = *found;
		}
		*out = lappend(*out, f);
	}
}

/* Every key of the object must be a join key of some target. */
static void
check_key_object(const char *name, List *targets, JsonbValue *keyobj, int index)
{
	JsonbIterator *it;
	JsonbValue	k;
	JsonbValue	val;
	JsonbIteratorToken tok;

	if (keyobj->type != jbvBinary || !JsonContainerIsObject(keyobj->val.binary.data))
	{
		if (index < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("join keys for \"%s\" must be a JSON object or an array of objects, got %s",
							name, ps_json_text(keyobj, 80))));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("join keys for \"%s\" must be a JSON object or an array of objects; element %d is %s",
						name, index, ps_json_text(keyobj, 80))));
	}
	it = JsonbIteratorInit(keyobj->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		bool		known = false;
		ListCell   *lc;

		if (tok != WJB_KEY)
			continue;
		JsonbIteratorNext(&it, &val, true);
		foreach(lc, targets)
		{
			known = known || ps_view_is_join_key(((PsServeTarget *) lfirst(lc))->view,
												 k.val.string.val, k.val.string.len);
		}
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("\"%.*s\" is not a join key of \"%s\"", k.val.string.len,
							k.val.string.val, name)));
	}
}

/*
 * The features of every target for one key object (index >= 0: its place
 * in a list of keys, for messages), as a list of PsServed in target order.
 * Unknown fields in the key object are errors; name is what the caller
 * asked for (a view, a service), for messages.
 */
List *
ps_serve_key(List *targets, const char *name, JsonbValue *keyobj, int index)
{
	List	   *out = NIL;
	ListCell   *lc;

	check_key_object(name, targets, keyobj, index);
	foreach(lc, targets)
		read_view(lfirst(lc), keyobj, &out);
	return out;
}

/* fs_get_online_features' shape: {"view.feature": value, ..., "metadata": {...}} */
static Jsonb *
features_for_key(const char *name, List *targets, JsonbValue *keyobj, int index,
				 bool include_join_keys, bool include_metadata)
{
	JsonbParseState *st = NULL;
	List	   *features = ps_serve_key(targets, name, keyobj, index);
	ListCell   *lc;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	if (include_join_keys)
	{
		JsonbIterator *it = JsonbIteratorInit(keyobj->val.binary.data);
		JsonbValue	k;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
			if (tok == WJB_KEY || tok == WJB_VALUE)
				pushJsonbValue(&st, tok, &k);
	}
	foreach(lc, features)
	{
		PsServed   *f = lfirst(lc);

		ps_jsonb_key(&st, f->name);
		pushJsonbValue(&st, WJB_VALUE, &f->value);
	}
	if (include_metadata)
	{
		ps_jsonb_key(&st, "metadata");
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		foreach(lc, features)
		{
			PsServed   *f = lfirst(lc);

			ps_jsonb_key(&st, f->name);
			pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
			ps_jsonb_string(&st, "effective_time", ps_served_effective_time(f));
			ps_jsonb_string(&st, "status", f->status);
			pushJsonbValue(&st, WJB_END_OBJECT, NULL);
		}
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

/* May the current user serve v online?  Else an error naming it. */
void
ps_serve_check_view(PsView *v)
{
	ps_check_view(v);
	if (!v->online || !OidIsValid(v->online_relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("feature view \"%s\" is not served online", v->name),
				 errhint("Create the view with online => true to serve it by key.")));
	if (pg_class_aclcheck(v->online_relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to read feature view \"%s\"", v->name),
				 errdetail("Reading requires SELECT on table %s.",
						   ps_qualified_relname(v->online_relid)),
				 errhint("GRANT pushsource_reader, or SELECT on that table, to the reading role.")));
}

/*
 * What serving `name` reads: the view, or each view of the service with
 * the features the service takes from it.  42704 when neither exists;
 * each view is checked with ps_serve_check_view.
 */
List *
ps_serve_targets(const char *name)
{
	PsView	   *view = ps_lookup_view(name, true);
	List	   *targets = NIL;
	ListCell   *lc;

	if (view != NULL)
	{
		PsServeTarget *t = palloc0(sizeof(PsServeTarget));

		t->view = view;
		targets = list_make1(t);
	}
	else
	{
		List	   *features;
		List	   *views = ps_lookup_service(name, &features);
		ListCell   *lf;

		if (views == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("feature view or feature service \"%s\" does not exist", name),
					 errhint("They are listed in pushsource.feature_views and pushsource.feature_services.")));
		forboth(lc, views, lf, features)
		{
			PsServeTarget *t = palloc0(sizeof(PsServeTarget));

			t->view = lfirst(lc);
			t->features = lfirst(lf);
			targets = lappend(targets, t);
		}
	}
	foreach(lc, targets)
		ps_serve_check_view(((PsServeTarget *) lfirst(lc))->view);
	return targets;
}

/*
 * The JSON array of n objects already serialized, laid out as jsonb lays
 * out an array: its header, a JEntry per element, then the elements, each
 * 4-byte aligned with its padding counted in its length, and an end offset
 * instead of a length every JB_OFFSET_STRIDE elements.  Each element's
 * bytes are copied, not unpacked into values and serialized again.
 */
static Jsonb *
jsonb_array_of(Jsonb **elems, int n, const char *name)
{
	Size		datalen = 0;
	Size		size;
	Jsonb	   *out;
	char	   *data;
	uint32		end = 0;

	for (int i = 0; i < n; i++)
	{
		Assert(!JB_ROOT_IS_SCALAR(elems[i]));
		datalen = INTALIGN(datalen) + VARSIZE(elems[i]) - VARHDRSZ;
	}
	size = VARHDRSZ + sizeof(uint32) + sizeof(JEntry) * n + datalen;
	if (size - VARHDRSZ > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the features of \"%s\" for %d keys are too large for one jsonb reply (%zu bytes)",
						name, n, size - VARHDRSZ),
				 errdetail("A jsonb value cannot exceed %d bytes.", JENTRY_OFFLENMASK),
				 errhint("Read the keys in several calls.")));
	out = palloc0(size);		/* the padding zeroed */
	SET_VARSIZE(out, size);
	out->root.header = (uint32) n | JB_FARRAY;
	data = (char *) &out->root.children[n];
	for (int i = 0; i < n; i++)
	{
		uint32		start = INTALIGN(end);
		uint32		len = VARSIZE(elems[i]) - VARHDRSZ;

		memcpy(data + start, &elems[i]->root, len);
		if (i % JB_OFFSET_STRIDE == 0)
			out->root.children[i] = JENTRY_ISCONTAINER | JENTRY_HAS_OFF | (start + len);
		else
			out->root.children[i] = JENTRY_ISCONTAINER | (start + len - end);
		end = start + len;
	}
	return out;
}

PG_FUNCTION_INFO_V1(fs_get_online_features);
Datum
fs_get_online_features(PG_FUNCTION_ARGS)
{
	char	   *name;
	Jsonb	   *keys;
	bool		include_join_keys = PG_ARGISNULL(2) ? false : PG_GETARG_BOOL(2);
	bool		include_metadata = PG_ARGISNULL(3) ? false : PG_GETARG_BOOL(3);
	List	   *targets;
	JsonbValue	root;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("feature view or feature service name must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ps_check_name(name, "feature view or feature service");
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("join keys for \"%s\" must not be null", name)));
	keys = PG_GETARG_JSONB_P(1);
	targets = ps_serve_targets(name);

	if (JB_ROOT_IS_SCALAR(keys) || !JB_ROOT_IS_ARRAY(keys))
	{
		root.type = jbvBinary;
		root.val.binary.data = &keys->root;
		root.val.binary.len = VARSIZE(keys) - VARHDRSZ;
		if (JB_ROOT_IS_SCALAR(keys))
			JsonbExtractScalar(&keys->root, &root);
		PG_RETURN_JSONB_P(features_for_key(name, targets, &root, -1,
										   include_join_keys, include_metadata));
	}
	else
	{
		int			n = JsonContainerSize(&keys->root);
		Jsonb	  **replies = palloc(sizeof(Jsonb *) * Max(n, 1));
		MemoryContext outer = CurrentMemoryContext;

		/*
		 * Each key's work in memory of its own, reset after it: only its
		 * reply is kept (a hundred keys' scratch would otherwise grow the
		 * backend's memory, page by page, for every call)
		 */
		MemoryContext keycxt = AllocSetContextCreate(CurrentMemoryContext, "pushsource key",
													 ALLOCSET_DEFAULT_SIZES);

		ps_online_batch_begin(outer);
		PG_TRY();
		{
		for (int i = 0; i < n; i++)
		{
			JsonbValue *elem;
			Jsonb	   *one;

			MemoryContextSwitchTo(keycxt);
			elem = getIthJsonbValueFromContainer(&keys->root, i);
			one = features_for_key(name, targets, elem, i, include_join_keys, include_metadata);
			MemoryContextSwitchTo(outer);
			replies[i] = palloc(VARSIZE(one));
			memcpy(replies[i], one, VARSIZE(one));
			MemoryContextReset(keycxt);
		}
		}
		PG_CATCH();
		{
			ps_online_batch_end(false);	/* the abort releases them */
			PG_RE_THROW();
		}
		PG_END_TRY();
		ps_online_batch_end(true);
		MemoryContextDelete(keycxt);
		PG_RETURN_JSONB_P(jsonb_array_of(replies, n, name));
	}
}

/* _now(): the request time (pushsource.request_time, or now()) */
PG_FUNCTION_INFO_V1(fs_request_time);
Datum
fs_request_time(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(ps_request_time());
}
