/*
 * push.c
 *		fs_push and fs_ingest: JSON records in, rows into the source table.
 *
 * Both parse and validate every record with validate.c first, so that
 * on_error => 'abort' writes nothing when any record is bad, then insert the
 * good rows with one prepared INSERT ... SELECT from an ephemeral relation.
 * That insert fires the source table's triggers (fanout.c), exactly as a
 * user's INSERT or COPY would: there is one fan-out path.
 */
#include "pushsource.h"

#include "access/xact.h"
#include "access/transam.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/queryenvironment.h"
#include "utils/resowner.h"
#include "utils/tuplestore.h"

/* Where a batch of JSON records comes from. */
typedef struct RecordList
{
	JsonbContainer *array;		/* array of records, or NULL */
	JsonbValue	single;			/* the one record when array is NULL */
	bool		wrapped;		/* fs_ingest: elements are {"record": {...}} */
	int			n;
} RecordList;


/*
 * Where rejected records go: fs_push(on_error => 'skip') saves them to
 * pushsource.rejected_records in batches, fs_ingest keeps the first
 * PS_MAX_RECORD_ERRORS for its reply; both count them all.  Memory stays
 * bounded however many records are bad.
 */
#define PS_REJECT_BATCH 1000

typedef struct Rejects
{
	bool		save;			/* write them to rejected_records */
	int64		count;
	List	   *kept;			/* RejectedRecord * */
	MemoryContext cxt;
} Rejects;



/* ---------------------------------------------------------------------
 * JSON building helpers (also used by online.c)
 * --------------------------------------------------------------------- */

void
ps_jsonb_key(JsonbParseState **st, const char *key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) key;
	v.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &v);
}

void
ps_jsonb_string(JsonbParseState **st, const char *key, const char *value)
{
	JsonbValue	v;

	ps_jsonb_key(st, key);
	if (value == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) value;
		v.val.string.len = strlen(value);
	}
	pushJsonbValue(st, WJB_VALUE, &v);
}

static void
push_int(JsonbParseState **st, const char *key, int64 value)
{
	JsonbValue	v;

	ps_jsonb_key(st, key);
	v.type = jbvNumeric;
	v.val.numeric = DatumGetNumeric(DirectFunctionCall1(int8_numeric, Int64GetDatum(value)));
	pushJsonbValue(st, WJB_VALUE, &v);
}

static void
push_bool(JsonbParseState **st, const char *key, bool value)
{
	JsonbValue	v;

	ps_jsonb_key(st, key);
	v.type = jbvBool;
	v.val.boolean = value;
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* ---------------------------------------------------------------------
 * The push itself
 * --------------------------------------------------------------------- */

static PsPushMode
parse_mode(const char *mode)
{
	if (strcmp(mode, "online_and_offline") == 0)
		return PS_MODE_ONLINE_AND_OFFLINE;
	if (strcmp(mode, "online") == 0)
		return PS_MODE_ONLINE;
	if (strcmp(mode, "offline") == 0)
		return PS_MODE_OFFLINE;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid push mode \"%s\"", mode),
			 errhint("mode must be 'online_and_offline', 'online' or 'offline'.")));
	return PS_MODE_ONLINE_AND_OFFLINE;
}

/*
 * May this transaction push to src?  It needs INSERT on the source table,
 * and a writable transaction: on a standby, or in a read-only transaction,
 * the push is refused before any record is read, with the source's name,
 * rather than by the first INSERT of the fan-out.
 */
static void
check_can_push(PsSource *src)
{
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot push to push source \"%s\" in a read-only transaction", src->name),
				 TransactionStartedDuringRecovery() ?
				 errdetail("This server is a standby; it serves reads only.") :
				 errdetail("transaction_read_only is on."),
				 TransactionStartedDuringRecovery() ?
				 errhint("Push to the primary.") :
				 errhint("Push in a read-write transaction.")));
	if (pg_class_aclcheck(src->relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to push to push source \"%s\"", src->name),
				 errdetail("Pushing requires INSERT on table %s.",
						   ps_qualified_relname(src->relid)),
				 errhint("GRANT pushsource_writer, or INSERT on that table, to the pushing role.")));
}

/* The i-th record, or false with *err set when the element is malformed. */
static bool
get_record(RecordList *list, int i, JsonbValue *out, JsonbValue *raw)
{
	if (list->array == NULL)
	{
		*out = list->single;
		*raw = list->single;
		return true;
	}
	*raw = *getIthJsonbValueFromContainer(list->array, i);
	if (!list->wrapped)
	{
		*out = *raw;
		return true;
	}
	/* exactly {"record": {...}}: other keys are typos, as in records */
	if (raw->type == jbvBinary && JsonContainerIsObject(raw->val.binary.data) &&
		JsonContainerSize(raw->val.binary.data) == 1)
	{
		JsonbValue *rec = getKeyJsonValueFromContainer(raw->val.binary.data, "record", 6, NULL);

		if (rec != NULL)
		{
			*out = *rec;
			return true;
		}
	}
	return false;
}

/*
 * Validate every record of a list.  Good rows go to *good (created here);
 * with stop_at_error the first bad record raises its error, before anything
 * has been written; otherwise bad records are collected in *rejected.
 */
static int64
validate_records(PsSource *src, RecordList *list, bool stop_at_error,
				 Tuplestorestate **good, Rejects *rejects)
{
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext,
												 "pushsource record",
												 ALLOCSET_DEFAULT_SIZES);
	Datum	   *values = palloc(sizeof(Datum) * src->ncols);
	bool	   *nulls = palloc(sizeof(bool) * src->ncols);
	int64		accepted = 0;
	int64		rejected_before = rejects->count;

	*good = tuplestore_begin_heap(false, false, work_mem);
	for (int i = 0; i < list->n; i++)
	{
		JsonbValue	rec;
		JsonbValue	raw;
		PsRecordError err;
		bool		ok;

		MemoryContextSwitchTo(rowcxt);
		if (get_record(list, i, &rec, &raw))
			ok = ps_record_from_json(src, &rec, i, values, nulls, &err);
		else
		{
			err.sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
			err.field = NULL;
			err.message = psprintf("push source \"%s\", record %d: expected an object {\"record\": {...}}, got %s",
								   src->name, i, ps_json_text(&raw, 80));
			ok = false;
		}
		MemoryContextSwitchTo(outer);
		if (ok)
		{
			tuplestore_putvalues(*good, src->record_desc, values, nulls);
			accepted++;
		}
		else if (stop_at_error)
		{
			ps_stat_rejected(src->name, 1);
			ps_raise_record_error(&err);
		}
		else
		{
			rejects->count++;		/* counted below, once per call */
			if (rejects->save || list_length(rejects->kept) < PS_MAX_RECORD_ERRORS)
			{
				MemoryContext old = MemoryContextSwitchTo(rejects->cxt);
				RejectedRecord *r = palloc(sizeof(RejectedRecord));

				r->index = i;
				r->source = src->name;
				r->record = rejects->save ? JsonbValueToJsonb(&raw) : NULL;
				r->err.sqlstate = err.sqlstate;
				r->err.field = err.field ? pstrdup(err.field) : NULL;
				r->err.message = pstrdup(err.message);
				rejects->kept = lappend(rejects->kept, r);
				MemoryContextSwitchTo(old);
			}
			if (rejects->save && list_length(rejects->kept) >= PS_REJECT_BATCH)
			{
				ps_save_rejects(src, rejects->kept);
				rejects->kept = NIL;
				MemoryContextReset(rejects->cxt);
			}
		}
		MemoryContextReset(rowcxt);
	}
	MemoryContextDelete(rowcxt);
	ps_stat_rejected(src->name, rejects->count - rejected_before);
	return accepted;
}

/*
 * Insert validated rows through the source table, whose triggers fan them
 * out.  Returns the per-view counts.  A dry run does it all inside a
 * subtransaction that is rolled back, so its counts are exactly what a real
 * push would have written.
 */
static List *
insert_records(PsSource *src, Tuplestorestate *good, int64 nrows,
			   PsPushMode mode, bool dry_run)
{
	int			spi_nest;
	MemoryContext outer = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	List	   *counts = NIL;

	if (nrows == 0)
		return NIL;
	if (dry_run)
	{
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(outer);
	}
	PG_TRY();
	{
		EphemeralNamedRelation enr;

		ps_fanout_begin_push(src->relid, mode);
		spi_nest = ps_spi_connect();
		enr = palloc0(sizeof(EphemeralNamedRelationData));
		enr->md.name = PS_RECORDS_ENR;
		enr->md.reliddesc = InvalidOid;
		enr->md.tupdesc = src->record_desc;
		enr->md.enrtype = ENR_NAMED_TUPLESTORE;
		enr->md.enrtuples = (double) nrows;
		enr->reldata = good;
		if (SPI_register_relation(enr) != SPI_OK_REL_REGISTER)
			elog(ERROR, "could not register the pushed records");
		if (src->insert_plan == NULL)
		{
			StringInfoData sql;
			StringInfoData cols;
			SPIPlanPtr	plan;

			initStringInfo(&sql);
			initStringInfo(&cols);
			for (int c = 0; c < src->ncols; c++)
				appendStringInfo(&cols, "%s%s", c ? ", " : "",
								 quote_identifier(src->cols[c].name));
			appendStringInfo(&sql, "INSERT INTO %s (%s) SELECT %s FROM " PS_RECORDS_ENR,
							 ps_qualified_relname(src->relid),
							 cols.data, cols.data);
			plan = SPI_prepare(sql.data, 0, NULL);
			if (plan == NULL)
				elog(ERROR, "pushsource: could not prepare the insert into push source \"%s\": %s",
					 src->name, SPI_result_code_string(SPI_result));
			ps_keep_plan(plan);
			src->insert_plan = plan;
		}
		if (SPI_execute_plan(src->insert_plan, NULL, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "pushsource: insert into push source \"%s\" failed", src->name);
		ps_spi_finish(spi_nest);
		MemoryContextSwitchTo(outer);
		counts = ps_fanout_end_push();
		if (dry_run)
		{
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(outer);
			CurrentResourceOwner = oldowner;
		}
	}
	PG_CATCH();
	{
		ps_fanout_abort_push();
		if (dry_run)
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(outer);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(outer);
			CurrentResourceOwner = oldowner;
			ReThrowError(edata);
		}
		PG_RE_THROW();
	}
	PG_END_TRY();
	return counts;
}

static int64
count_for(List *counts, const char *view, bool online)
{
	ListCell   *lc;

	foreach(lc, counts)
	{
		PsViewCounts *c = lfirst(lc);

		if (strcmp(c->view, view) == 0)
			return online ? c->online : c->offline;
	}
	return 0;
}

/*
 * Push records (a JSON array of objects, or one object) to the source
 * named: the one push path of fs_push and Feast's /push.  Returns fs_push's
 * reply; *accepted is the number of records written (may be NULL).
 */
Jsonb *
ps_push(const char *name, Jsonb *records, PsPushMode mode, bool dry_run, bool skip,
		int64 *accepted_out)
{
	PsSource   *src;
	RecordList	list;
	Tuplestorestate *good;
	Rejects		rejects = {0};
	List	   *counts;
	int64		accepted;
	JsonbParseState *st = NULL;
	JsonbValue *out;

	ps_check_name(name, "push source");
	src = ps_lookup_source(name, false);
	check_can_push(src);

	memset(&list, 0, sizeof(list));
	if (JB_ROOT_IS_ARRAY(records) && !JB_ROOT_IS_SCALAR(records))
	{
		list.array = &records->root;
		list.n = JsonContainerSize(&records->root);
	}
	else if (JB_ROOT_IS_OBJECT(records))
	{
		list.single.type = jbvBinary;
		list.single.val.binary.data = &records->root;
		list.single.val.binary.len = VARSIZE(records) - VARHDRSZ;
		list.n = 1;
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("records for push source \"%s\" must be a JSON array of objects or one object", name)));

	rejects.save = !dry_run;
	rejects.cxt = AllocSetContextCreate(CurrentMemoryContext, "pushsource rejects",
										ALLOCSET_DEFAULT_SIZES);
	accepted = validate_records(src, &list, !skip, &good, &rejects);
	counts = insert_records(src, good, accepted, mode, dry_run);
	tuplestore_end(good);
	/* the views as of the write: a view dropped while we waited is gone */
	src = ps_lookup_source(src->name, false);
	if (!dry_run)
		ps_save_rejects(src, rejects.kept);
	MemoryContextDelete(rejects.cxt);
	if (accepted_out)
		*accepted_out = dry_run ? 0 : accepted;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	ps_jsonb_string(&st, "source", src->name);
	push_int(&st, "records", accepted);
	push_int(&st, "rejected", rejects.count);
	if (dry_run)
		push_bool(&st, "dry_run", true);
	ps_jsonb_key(&st, "feature_views");
	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < src->nviews; i++)
	{
		PsView	   *v = src->views[i];

		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		ps_jsonb_string(&st, "name", v->name);
		push_int(&st, "online", count_for(counts, v->name, true));
		push_int(&st, "offline", count_for(counts, v->name, false));
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	out = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(out);
}

PsPushMode
ps_parse_push_mode(const char *mode)
{
	return parse_mode(mode);
}

/*
 * fs_push(source, records, mode, dry_run, on_error) returns jsonb
 */
PG_FUNCTION_INFO_V1(fs_push);
Datum
fs_push(PG_FUNCTION_ARGS)
{
	char	   *name;
	char	   *on_error;
	bool		skip;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("push source name must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ps_check_name(name, "push source");
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("records to push to push source \"%s\" must not be null", name)));
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s of a push to push source \"%s\" must not be null",
						PG_ARGISNULL(2) ? "mode" : PG_ARGISNULL(3) ? "dry_run" : "on_error", name),
				 errhint("Leave the argument out to get its default.")));
	on_error = text_to_cstring(PG_GETARG_TEXT_PP(4));
	if (strcmp(on_error, "abort") == 0)
		skip = false;
	else if (strcmp(on_error, "skip") == 0)
		skip = true;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid on_error \"%s\"", on_error),
				 errhint("on_error must be 'abort' or 'skip'.")));
	PG_RETURN_JSONB_P(ps_push(name, PG_GETARG_JSONB_P(1),
							  parse_mode(text_to_cstring(PG_GETARG_TEXT_PP(2))),
							  PG_GETARG_BOOL(3), skip, NULL));
}

/* ---------------------------------------------------------------------
 * fs_ingest: the Tecton Stream Ingest API request and response shapes
 * --------------------------------------------------------------------- */

static Jsonb *
request_error(const char *fmt,...) pg_attribute_printf(1, 2);

static Jsonb *
request_error(const char *fmt,...)
{
	JsonbParseState *st = NULL;
	JsonbValue *out;
	StringInfoData msg;

	initStringInfo(&msg);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&msg, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&msg, needed);
	}
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	ps_jsonb_key(&st, "requestError");
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	ps_jsonb_string(&st, "errorMessage", msg.data);
	ps_jsonb_string(&st, "errorType", "RequestValidationError");
	pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	out = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(out);
}

/* a request error: the request is refused, nothing is written */
#define REFUSE(...) do { *bad = true; return request_error(__VA_ARGS__); } while (0)

typedef struct IngestSource
{
	PsSource   *src;
	RecordList	list;
	Tuplestorestate *good;
	int64		accepted;
} IngestSource;

/*
 * The feature view a rejected record concerns, for Tecton's recordErrors:
 * the first view (by name) whose join key is the field in error (a missing,
 * null or oversized key is refused because that view needs it), or NULL
 * when the error is the source's (its schema, its timestamp field).
 */
static const char *
view_concerned(RejectedRecord *r)
{
	PsSource   *src = ps_lookup_source(r->source, true);

	if (src == NULL || r->err.field == NULL)
		return NULL;
	for (int i = 0; i < src->nviews; i++)
		if (ps_view_is_join_key(src->views[i], r->err.field, strlen(r->err.field)))
			return src->views[i]->name;
	return NULL;
}

/*
 * The Tecton Stream Ingest request req (NULL: none) in, its reply out.
 * *bad is set when the reply is a requestError or recordErrors (nothing
 * was written); *pushed gets a PsPushed per source written.
 */
Jsonb *
ps_ingest(Jsonb *req, bool *bad, List **pushed)
{
	JsonbValue *v;
	char	   *workspace;
	bool		dry_run = false;
	JsonbContainer *recs;
	JsonbIterator *it;
	JsonbValue	key;
	JsonbValue	val;
	JsonbIteratorToken tok;
	List	   *sources = NIL;
	Rejects		rejects = {0};
	ListCell   *lc;
	JsonbParseState *st = NULL;
	JsonbValue *out;

	*bad = false;
	*pushed = NIL;
	if (req == NULL)
		REFUSE("the request must not be null");
	if (!JB_ROOT_IS_OBJECT(req))
		REFUSE("the request must be a JSON object with \"workspace_name\" and \"records\"");

	/* top-level fields */
	it = JsonbIteratorInit(&req->root);
	while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		char	   *k;

		if (tok != WJB_KEY)
			continue;
		JsonbIteratorNext(&it, &val, true);
		k = pnstrdup(key.val.string.val, key.val.string.len);
		if (strcmp(k, "workspace_name") != 0 && strcmp(k, "dry_run") != 0 &&
			strcmp(k, "records") != 0)
			REFUSE("unknown request field \"%s\"; expected \"workspace_name\", \"dry_run\" and \"records\"", k);
	}
	v = getKeyJsonValueFromContainer(&req->root, "workspace_name", 14, NULL);
	if (v == NULL || v->type != jbvString || v->val.string.len == 0)
		REFUSE("\"workspace_name\" is required and must be a non-empty string");
	workspace = pnstrdup(v->val.string.val, v->val.string.len);
	if (ps_workspace_mismatch(workspace) != NULL)
		REFUSE("%s", ps_workspace_mismatch(workspace));
	v = getKeyJsonValueFromContainer(&req->root, "dry_run", 7, NULL);
	if (v != NULL)
	{
		if (v->type != jbvBool)
			REFUSE("\"dry_run\" must be true or false");
		dry_run = v->val.boolean;
	}
	v = getKeyJsonValueFromContainer(&req->root, "records", 7, NULL);
	if (v == NULL || v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		REFUSE("\"records\" is required and must be an object mapping push source names to arrays of {\"record\": {...}}");
	recs = v->val.binary.data;

	/* resolve every source before touching anything */
	it = JsonbIteratorInit(recs);
	while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		char	   *name;
		IngestSource *is;

		if (tok != WJB_KEY)
			continue;
		JsonbIteratorNext(&it, &val, true);
		name = pnstrdup(key.val.string.val, key.val.string.len);
		if (!ps_name_is_valid(name) || ps_lookup_source(name, true) == NULL)
			REFUSE("push source \"%s\" does not exist", name);
		if (val.type != jbvBinary || !JsonContainerIsArray(val.val.binary.data))
			REFUSE("records of push source \"%s\" must be an array of {\"record\": {...}}", name);
		is = palloc0(sizeof(IngestSource));
		is->src = ps_lookup_source(name, false);
		is->list.array = val.val.binary.data;
		is->list.wrapped = true;
		is->list.n = JsonContainerSize(val.val.binary.data);
		check_can_push(is->src);
		sources = lappend(sources, is);
	}

	/*
	 * Validate every record of every source; any error means no writes.
	 * The reply lists the first PS_MAX_RECORD_ERRORS errors and counts all.
	 */
	rejects.cxt = CurrentMemoryContext;
	foreach(lc, sources)
	{
		IngestSource *is = lfirst(lc);

		is->accepted = validate_records(is->src, &is->list, false, &is->good, &rejects);
	}
	if (rejects.count > 0)
	{
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		ps_jsonb_string(&st, "workspaceName", workspace);
		ps_jsonb_key(&st, "recordErrors");
		pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
		foreach(lc, rejects.kept)
		{
			RejectedRecord *r = lfirst(lc);

			pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
			ps_jsonb_string(&st, "pushSourceName", r->source);
			ps_jsonb_string(&st, "featureViewName", view_concerned(r));
			ps_jsonb_string(&st, "errorType", "TectonObjectValidationError");
			ps_jsonb_string(&st, "errorMessage", r->err.message);
			pushJsonbValue(&st, WJB_END_OBJECT, NULL);
		}
		pushJsonbValue(&st, WJB_END_ARRAY, NULL);
		if (rejects.count > list_length(rejects.kept))
		{
			JsonbValue	n;

			ps_jsonb_key(&st, "recordErrorCount");
			n.type = jbvNumeric;
			n.val.numeric = int64_to_numeric(rejects.count);
			pushJsonbValue(&st, WJB_VALUE, &n);
		}
		out = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
		*bad = true;
		return JsonbValueToJsonb(out);
	}

	/* write: the same path as fs_push */
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	ps_jsonb_string(&st, "workspaceName", workspace);
	ps_jsonb_key(&st, "ingestMetrics");
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	ps_jsonb_key(&st, "featureViewIngestMetrics");
	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	foreach(lc, sources)
	{
		IngestSource *is = lfirst(lc);
		List	   *counts = insert_records(is->src, is->good, is->accepted,
											PS_MODE_ONLINE_AND_OFFLINE, dry_run);

		is->src = ps_lookup_source(is->src->name, false);
		if (!dry_run && is->accepted > 0)
		{
			PsPushed   *p = palloc(sizeof(PsPushed));

			p->source = is->src->name;
			p->records = is->accepted;
			*pushed = lappend(*pushed, p);
		}

		for (int i = 0; i < is->src->nviews; i++)
		{
			PsView	   *view = is->src->views[i];

			pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
			ps_jsonb_string(&st, "featureViewName", view->name);
			ps_jsonb_string(&st, "onlineRecordIngestCount",
						psprintf(INT64_FORMAT, count_for(counts, view->name, true)));
			ps_jsonb_string(&st, "offlineRecordIngestCount",
						psprintf(INT64_FORMAT, count_for(counts, view->name, false)));
			pushJsonbValue(&st, WJB_END_OBJECT, NULL);
		}
	}
	pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	out = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(out);
}

PG_FUNCTION_INFO_V1(fs_ingest);
Datum
fs_ingest(PG_FUNCTION_ARGS)
{
	bool		bad;
	List	   *pushed;

	PG_RETURN_JSONB_P(ps_ingest(PG_ARGISNULL(0) ? NULL : PG_GETARG_JSONB_P(0), &bad, &pushed));
}
