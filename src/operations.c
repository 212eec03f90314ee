/*
 * operations.c
 *		The C parts of the operations on feature views (DESIGN "Operations"):
 *		the checked key set of fs_delete_keys, the recording of failed jobs,
 *		re-raising an error caught in PL/pgSQL, and the event trigger that
 *		unschedules pushsource's pg_cron jobs when the extension is dropped.
 *		The operations themselves are PL/pgSQL in the install script: they
 *		run rarely and are set-based statements.
 *
 * A failed job must leave a row in pushsource.jobs although its
 * transaction rolls back: the row is written by a short-lived background
 * worker, in its own transaction, while the failing backend waits (an
 * autonomous transaction).  The backend has already rolled back the job's
 * subtransaction, so it holds no lock of the job's; the worker gives up
 * after lock_timeout if something else holds one.
 */
#include "pushsource.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_extension.h"
#include "catalog/indexing.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

/* read by the maintenance run (SQL, through current_setting), which checks them */
static char *rejected_retention_setting = NULL;
static char *job_retention_setting = NULL;

void
ps_operations_init(void)
{
	DefineCustomStringVariable("pushsource.rejected_retention",
							   "How long maintenance keeps rejected records (an interval).",
							   "Maintenance (fs_run_maintenance, fs_schedule_maintenance) deletes "
							   "pushsource.rejected_records older than this.",
							   &rejected_retention_setting, "30 days", PGC_USERSET, 0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("pushsource.job_retention",
							   "How long maintenance keeps job rows (an interval).",
							   "Maintenance deletes rows of pushsource.jobs that finished longer ago "
							   "than this, except succeeded materializations.",
							   &job_retention_setting, "90 days", PGC_USERSET, 0,
							   NULL, NULL, NULL);
}

/* ---------------------------------------------------------------------
 * The key set of fs_delete_keys
 * --------------------------------------------------------------------- */

static char *
key_list(PsView *v)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < v->nkeys; i++)
		appendStringInfo(&buf, "%s%s", i ? ", " : "", v->source->cols[v->key_cols[i]].name);
	return buf.data;
}

static char *
source_columns(PsSource *src)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int c = 0; c < src->ncols; c++)
		if (c != src->ts_col)
			appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", src->cols[c].name);
	return buf.data;
}

/*
 * The key set of a source-level fs_delete_keys: a view without stores whose
 * join keys are the source's columns names (in the source's order), so that
 * the key parser and the delete statement of views serve it too.
 */
static PsView *
source_key_view(PsSource *src, List *names)
{
	PsView	   *v = palloc0(sizeof(PsView));
	ListCell   *lc;

	v->name = src->name;
	v->kind = "push source";
	v->source = src;
	v->key_cols = palloc(sizeof(int) * Max(list_length(names), 1));
	for (int c = 0; c < src->ncols; c++)
		foreach(lc, names)
			if (strcmp(lfirst(lc), src->cols[c].name) == 0)
			{
				if (c == src->ts_col)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("push source \"%s\": \"%s\" is its timestamp field, not a key", src->name,
									src->cols[c].name),
							 errhint("A key is an object of some of the source's columns: %s.", source_columns(src))));
				if (!OidIsValid(lookup_type_cache(src->cols[c].type->typid, TYPECACHE_EQ_OPR)->eq_opr))
					ereport(ERROR,
							(errcode(ERRCODE_UNDEFINED_FUNCTION),
							 errmsg("push source \"%s\": column \"%s\" (%s) cannot name keys: its values cannot be compared for equality",
									src->name, src->cols[c].name, src->cols[c].type->display),
							 errhint("Name the rows to delete by other columns, such as the join keys of its views.")));
				v->key_cols[v->nkeys++] = c;
			}
	foreach(lc, names)
		if (!ps_view_is_join_key(v, lfirst(lc), strlen(lfirst(lc))))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("push source \"%s\": \"%s\" is not a column of it", src->name, (char *) lfirst(lc)),
					 errhint("Its columns are: %s.", source_columns(src))));
	return v;
}

/*
 * _key_set(view, keys) AS k(<join keys with their types>): one row per key
 * object, each value checked with the rules of pushes and online reads.
 * keys is an array of objects (or one object) with exactly the view's join
 * keys, none null.  Errors name the view, the key's index and the join key.
 */
PG_FUNCTION_INFO_V1(fs_key_set);
Datum
fs_key_set(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name;
	PsView	   *v;
	Jsonb	   *keys;
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;
	Datum	   *values;
	bool	   *nulls;
	int			index = 0;
	bool		single;
	MemoryContext keycxt;
	MemoryContext oldcxt;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("feature view and keys must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	keys = PG_GETARG_JSONB_P(1);
	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) || rsinfo->expectedDesc == NULL)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						errmsg("_key_set must be called with a column list")));
	v = ps_lookup_view(name, true);
	if (v == NULL)
	{
		/* a source-level delete: the keys are the columns the list names */
		PsSource   *src = ps_lookup_source(name, false);
		List	   *names = NIL;

		for (int i = 0; i < rsinfo->expectedDesc->natts; i++)
			names = lappend(names, NameStr(TupleDescAttr(rsinfo->expectedDesc, i)->attname));
		v = source_key_view(src, names);
	}
	if (rsinfo->expectedDesc->natts != v->nkeys)
		ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
						errmsg("_key_set: the column list must have the view's %d join keys", v->nkeys)));
	for (int i = 0; i < v->nkeys; i++)
		if (TupleDescAttr(rsinfo->expectedDesc, i)->atttypid != v->source->cols[v->key_cols[i]].type->typid)
			ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH),
							errmsg("_key_set: column %d of the column list has the wrong type", i + 1)));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	if (JB_ROOT_IS_SCALAR(keys) || (!JB_ROOT_IS_ARRAY(keys) && !JB_ROOT_IS_OBJECT(keys)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s \"%s\": keys must be an array of join-key objects", PS_VIEW_KIND(v), name),
				 errhint("For example: '[{\"%s\": ...}]'.",
						 v->nkeys > 0 ? v->source->cols[v->key_cols[0]].name : "")));
	single = JB_ROOT_IS_OBJECT(keys);
	/*
	 * Each key is checked in memory reset after its row is stored: a read
	 * may pass a million entities (fs_get_historical_features).
	 */
	keycxt = AllocSetContextCreate(CurrentMemoryContext, "pushsource key set",
								   ALLOCSET_DEFAULT_SIZES);
	values = palloc(sizeof(Datum) * Max(v->nkeys, 1));
	nulls = palloc(sizeof(bool) * Max(v->nkeys, 1));
	it = JsonbIteratorInit(&keys->root);
	if (single)
	{
		/* one object: treat the whole document as element 0 */
		elem.type = jbvBinary;
		elem.val.binary.data = &keys->root;
		elem.val.binary.len = VARSIZE(keys);
	}
	for (;;)
	{
		JsonbIterator *kit;
		JsonbValue	k;
		JsonbValue	kv;

		if (!single)
		{
			/* (the iterator frees itself, and becomes NULL, at the end) */
			tok = JsonbIteratorNext(&it, &elem, true);
			if (tok == WJB_DONE)
				break;
			if (tok != WJB_ELEM)
				continue;
		}
		oldcxt = MemoryContextSwitchTo(keycxt);
		if (elem.type != jbvBinary || !JsonContainerIsObject(elem.val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s \"%s\", key %d: expected an object of join keys, got %s",
							PS_VIEW_KIND(v), name, index, ps_json_text(&elem, 80))));
		/* no other fields: a typo must not widen or narrow what is deleted */
		kit = JsonbIteratorInit(elem.val.binary.data);
		while ((tok = JsonbIteratorNext(&kit, &k, true)) != WJB_DONE)
		{
			if (tok != WJB_KEY)
				continue;
			JsonbIteratorNext(&kit, &kv, true);
			if (!ps_view_is_join_key(v, k.val.string.val, k.val.string.len))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("%s \"%s\", key %d: \"%.*s\" is not a join key", PS_VIEW_KIND(v), name, index,
								k.val.string.len, k.val.string.val),
						 v->kind ? errhint("Every key names the same columns as the first: %s.", key_list(v)) :
						 errhint("The view's join keys are: %s.", key_list(v))));
		}
		ps_view_key_from_json(v, &elem, index, values, nulls);
		/* (copies the values into the tuplestore's own memory) */
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(keycxt);
		index++;
		if (single)
			break;
	}
	return (Datum) 0;
}

/* ---------------------------------------------------------------------
 * Re-raising a caught error
 * --------------------------------------------------------------------- */

/*
 * _reraise(sqlstate, message, detail, hint): raises the error a job caught
 * (after recording it) as it was, without empty DETAIL / HINT lines.
 */
PG_FUNCTION_INFO_V1(fs_reraise);
Datum
fs_reraise(PG_FUNCTION_ARGS)
{
	const char *state = PG_ARGISNULL(0) ? "P0001" : text_to_cstring(PG_GETARG_TEXT_PP(0));
	const char *msg = PG_ARGISNULL(1) ? "unknown error" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	const char *detail = PG_ARGISNULL(2) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(2));
	const char *hint = PG_ARGISNULL(3) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(3));
	int			code = ERRCODE_RAISE_EXCEPTION;

	if (strlen(state) == 5)
		code = MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4]);
	ereport(ERROR,
			(errcode(code),
			 errmsg_internal("%s", msg),
			 detail[0] ? errdetail_internal("%s", detail) : 0,
			 hint[0] ? errhint("%s", hint) : 0));
	PG_RETURN_VOID();
}

/* ---------------------------------------------------------------------
 * Recording a failed job (autonomously)
 * --------------------------------------------------------------------- */

typedef struct FailedJob
{
	Oid			dboid;
	Oid			roleid;
	int64		job_id;			/* out: 0 if the worker could not write it */
	bool		scheduled;
	bool		has_start;
	bool		has_end;
	TimestampTz window_start;
	TimestampTz window_end;
	TimestampTz started_at;
	char		kind[32];
	char		object[PS_MAX_NAME_LEN + 16];
	char		run_by[NAMEDATALEN];
	char		sqlstate[8];
	char		error[FLEXIBLE_ARRAY_MEMBER];
} FailedJob;

#define MAX_ERROR_LEN 4000


PGDLLEXPORT void ps_job_worker_main(Datum arg);

void
ps_job_worker_main(Datum arg)
{
	int			spi_nest;
	dsm_segment *seg;
	FailedJob  *job;
	Oid			argtypes[9] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID,
	TEXTOID, BOOLOID, TIMESTAMPTZOID, NAMEOID};
	Datum		args[9];
	char		nulls[10] = "         ";
	NameData	run_by;

	BackgroundWorkerUnblockSignals();
	seg = dsm_attach(DatumGetUInt32(arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pushsource job recorder: could not attach to its shared memory")));
	job = dsm_segment_address(seg);
	BackgroundWorkerInitializeConnectionByOid(job->dboid, job->roleid, 0);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	spi_nest = ps_spi_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "pushsource: recording a failed job");
	SPI_execute("SET LOCAL lock_timeout = '10s'", false, 0);
	SPI_execute("SET LOCAL search_path = pg_catalog, pg_temp", false, 0);
	args[0] = CStringGetTextDatum(job->kind);
	args[1] = CStringGetTextDatum(job->object);
	args[2] = TimestampTzGetDatum(job->window_start);
	nulls[2] = job->has_start ? ' ' : 'n';
	args[3] = TimestampTzGetDatum(job->window_end);
	nulls[3] = job->has_end ? ' ' : 'n';
	args[4] = CStringGetTextDatum(job->error);
	args[5] = CStringGetTextDatum(job->sqlstate);
	args[6] = BoolGetDatum(job->scheduled);
	args[7] = TimestampTzGetDatum(job->started_at);
	namestrcpy(&run_by, job->run_by);
	args[8] = NameGetDatum(&run_by);
	if (SPI_execute_with_args(psprintf("INSERT INTO pushsource.jobs (kind, object, window_start, window_end, state,"
							  " error, sqlstate, attempt, scheduled, run_by, started_at, finished_at)"
							  " VALUES ($1, $2, $3, $4, 'failed', $5, $6,"
									   " %s._job_attempt($1, $2, $3), $7, $9, $8, pg_catalog.clock_timestamp())"
									   " RETURNING id", ps_internal_schema()),
							  9, argtypes, args, nulls, false, 1) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "pushsource job recorder: the insert failed");
	{
		bool		isnull;

		job->job_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	ps_spi_finish(spi_nest);
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	dsm_detach(seg);
	proc_exit(0);
}

/*
 * _job_failed(kind, object, window_start, window_end, error, sqlstate,
 * scheduled, started_at) RETURNS bigint: writes the failed run's row in
 * its own transaction and returns its id, or NULL (with a WARNING) if it
 * could not.
 */
PG_FUNCTION_INFO_V1(fs_job_failed);
Datum
fs_job_failed(PG_FUNCTION_ARGS)
{
	const char *error = PG_ARGISNULL(4) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(4));
	Size		len = Min(strlen(error), MAX_ERROR_LEN);
	dsm_segment *seg;
	FailedJob  *job;
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	BgwHandleStatus status;
	pid_t		pid;
	int64		id;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(7))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("_job_failed: kind, object and started_at must not be null")));
	seg = dsm_create(offsetof(FailedJob, error) + len + 1, 0);
	job = dsm_segment_address(seg);
	memset(job, 0, offsetof(FailedJob, error));
	job->dboid = MyDatabaseId;
	/*
	 * The recorder connects as the extension's owner: the failing user may
	 * be a role that cannot log in (SET ROLE); the row names the user.
	 */
	job->roleid = ps_extension_owner();
	strlcpy(job->run_by, GetUserNameFromId(GetUserId(), false), NAMEDATALEN);
	strlcpy(job->kind, text_to_cstring(PG_GETARG_TEXT_PP(0)), sizeof(job->kind));
	strlcpy(job->object, text_to_cstring(PG_GETARG_TEXT_PP(1)), sizeof(job->object));
	job->has_start = !PG_ARGISNULL(2);
	job->window_start = job->has_start ? PG_GETARG_TIMESTAMPTZ(2) : 0;
	job->has_end = !PG_ARGISNULL(3);
	job->window_end = job->has_end ? PG_GETARG_TIMESTAMPTZ(3) : 0;
	strlcpy(job->sqlstate, PG_ARGISNULL(5) ? "XX000" : text_to_cstring(PG_GETARG_TEXT_PP(5)),
			sizeof(job->sqlstate));
	job->scheduled = !PG_ARGISNULL(6) && PG_GETARG_BOOL(6);
	job->started_at = PG_GETARG_TIMESTAMPTZ(7);
	memcpy(job->error, error, len);
	job->error[len] = '\0';

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "pushsource", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "ps_job_worker_main", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "pushsource job recorder for PID %d", MyProcPid);
	strlcpy(worker.bgw_type, "pushsource job recorder", BGW_MAXLEN);
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		dsm_detach(seg);
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("pushsource: the failed %s of \"%s\" is not recorded in pushsource.jobs: no background worker slot is free",
						job->kind, job->object),
				 errhint("Raise max_worker_processes.")));
		PG_RETURN_NULL();
	}
	status = WaitForBackgroundWorkerStartup(handle, &pid);
	if (status == BGWH_STARTED || status == BGWH_STOPPED)
		status = WaitForBackgroundWorkerShutdown(handle);
	id = job->job_id;
	dsm_detach(seg);
	if (status != BGWH_STOPPED || id == 0)
	{
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pushsource: the failed %s is not recorded in pushsource.jobs",
						text_to_cstring(PG_GETARG_TEXT_PP(0))),
				 errhint("The server log says why the job recorder failed.")));
		PG_RETURN_NULL();
	}
	PG_RETURN_INT64(id);
}

/* ---------------------------------------------------------------------
 * DROP EXTENSION unschedules the pg_cron jobs
 * --------------------------------------------------------------------- */

/* Does the statement drop the extension (or its schema, which takes it)? */
static bool
drops_pushsource(Node *parsetree)
{
	DropStmt   *stmt;
	ListCell   *lc;

	if (parsetree == NULL || !IsA(parsetree, DropStmt))
		return false;
	stmt = (DropStmt *) parsetree;
	if (stmt->removeType != OBJECT_EXTENSION &&
		!(stmt->removeType == OBJECT_SCHEMA && stmt->behavior == DROP_CASCADE))
		return false;
	foreach(lc, stmt->objects)
	{
		Node	   *obj = lfirst(lc);

		if (IsA(obj, String) && strcmp(strVal(obj), "pushsource") == 0)
			return true;
	}
	return false;
}

/*
 * ddl_command_start event trigger: before DROP EXTENSION pushsource (or
 * DROP SCHEMA pushsource CASCADE) removes the functions our pg_cron jobs
 * call, remove the jobs.  If the drop fails, its transaction takes the
 * unscheduling back with it.
 */
PG_FUNCTION_INFO_V1(fs_drop_extension_trigger);
Datum
fs_drop_extension_trigger(PG_FUNCTION_ARGS)
{
	int			spi_nest;
	EventTriggerData *trigdata;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		elog(ERROR, "_unschedule_on_drop: not called by an event trigger");
	trigdata = (EventTriggerData *) fcinfo->context;
	if (!drops_pushsource(trigdata->parsetree))
		PG_RETURN_VOID();
	spi_nest = ps_spi_connect();
	if (SPI_execute(psprintf("SELECT %s._unschedule_all()", ps_internal_schema()), false, 0) != SPI_OK_SELECT)
		elog(ERROR, "pushsource: could not unschedule the pg_cron jobs");
	ps_spi_finish(spi_nest);
	PG_RETURN_VOID();
}

/* Runs one delete statement of store.c; n: keys, online, offline, log rows. */
static void
run_delete(PsView *v, text *name_t, Jsonb *keys, bool online, bool offline, bool log, int64 *n)
{
	Oid			argtypes[2] = {JSONBOID, TEXTOID};
	Datum		args[2];

	args[0] = JsonbPGetDatum(keys);
	args[1] = PointerGetDatum(name_t);
	if (SPI_execute_with_args(ps_store_delete_keys_sql(v, online, offline, log), 2, argtypes, args,
							  NULL, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "pushsource: deleting keys of %s \"%s\" failed", PS_VIEW_KIND(v), v->name);
	for (int i = 0; i < 4; i++)
	{
		bool		isnull;

		n[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &isnull));
	}
}

/* Locks a view (or a source) for an operation, by its catalog row. */
static void
lock_for_delete(const char *fn, const char *name)
{
	Oid			argtype = TEXTOID;
	Datum		arg = CStringGetTextDatum(name);

	if (SPI_execute_with_args(psprintf("SELECT FROM %s.%s($1, 'fs_delete_keys')", ps_internal_schema(), fn),
							  1, &argtype, &arg, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "pushsource: could not lock \"%s\"", name);
}

static void
lock_source_table(PsSource *src)
{
	if (SPI_execute(psprintf("LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE",
							 ps_qualified_relname(src->relid)), false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "pushsource: could not lock the table of push source \"%s\"", src->name);
}

/*
 * A source-level delete: the rows of the keys in the source's log, which
 * every view of the source reads (from_source joins, backfills from the
 * log), and the keys in the stores of each view whose join keys are the
 * keys given (a view keyed otherwise cannot say which of its rows came
 * from them: it is listed as kept).  The columns are those of the first
 * key object; every other object names the same.
 */
static char *
delete_source_keys(text *name_t, Jsonb *keys, bool online, bool offline)
{
	char	   *name = text_to_cstring(name_t);
	PsSource   *src;
	PsView	   *kv;
	List	   *names = NIL;
	int64		n[4];
	int64		total;
	StringInfoData views;
	StringInfoData kept;
	StringInfoData res;
	JsonbContainer *first = NULL;
	bool	   *same;

	lock_for_delete("_source_for", name);
	src = ps_lookup_source(name, false);
	if (JB_ROOT_IS_SCALAR(keys) || (!JB_ROOT_IS_ARRAY(keys) && !JB_ROOT_IS_OBJECT(keys)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("push source \"%s\": keys must be an array of key objects", name),
				 errhint("A key is an object of some of the source's columns: %s.", source_columns(src))));
	if (JB_ROOT_IS_OBJECT(keys))
		first = &keys->root;
	else if (JB_ROOT_COUNT(keys) > 0)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(&keys->root, 0);

		if (e->type != jbvBinary || !JsonContainerIsObject(e->val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("push source \"%s\", key 0: expected an object of keys, got %s",
							name, ps_json_text(e, 80))));
		first = e->val.binary.data;
	}
	if (first != NULL)
	{
		JsonbIterator *it = JsonbIteratorInit(first);
		JsonbValue	k;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
			if (tok == WJB_KEY)
				names = lappend(names, pnstrdup(k.val.string.val, k.val.string.len));
		if (names == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("push source \"%s\", key 0: a key names at least one column", name),
					 errhint("A key is an object of some of the source's columns: %s.", source_columns(src))));
	}
	kv = source_key_view(src, names);
	/*
	 * The locks in the order of the other operations: the views' catalog
	 * rows (as fs_materialize and a view's fs_delete_keys take them), then
	 * the source's table.
	 */
	same = palloc0(sizeof(bool) * Max(src->nviews, 1));
	for (int i = 0; i < src->nviews; i++)
	{
		PsView	   *v = src->views[i];

		same[i] = v->nkeys == kv->nkeys && kv->nkeys > 0;
		for (int k = 0; same[i] && k < v->nkeys; k++)
			same[i] = ps_view_is_join_key(kv, src->cols[v->key_cols[k]].name,
										  strlen(src->cols[v->key_cols[k]].name));
		if (same[i])
			lock_for_delete("_view_for", v->name);
	}
	lock_source_table(src);
	memset(n, 0, sizeof(n));
	if (kv->nkeys > 0)
		run_delete(kv, name_t, keys, false, false, true, n);
	total = n[3];
	initStringInfo(&res);
	initStringInfo(&views);
	initStringInfo(&kept);
	appendStringInfoString(&res, "{\"push_source\": ");
	escape_json(&res, src->name);
	appendStringInfo(&res, ", \"keys\": " INT64_FORMAT ", \"source_log\": " INT64_FORMAT, n[0], n[3]);
	for (int i = 0; i < src->nviews; i++)
	{
		PsView	   *v = src->views[i];
		int64		vn[4];

		if (!same[i])
		{
			if (kept.len > 0)
				appendStringInfoString(&kept, ", ");
			escape_json(&kept, v->name);
			continue;
		}
		ps_check_view(v);
		run_delete(v, cstring_to_text(v->name), keys, online, offline, false, vn);
		total += vn[1] + vn[2];
		appendStringInfo(&views, "%s{\"name\": ", views.len ? ", " : "");
		escape_json(&views, v->name);
		appendStringInfo(&views, ", \"online\": " INT64_FORMAT ", \"offline\": " INT64_FORMAT "}", vn[1], vn[2]);
	}
	appendStringInfo(&res, ", \"rows\": " INT64_FORMAT ", \"feature_views\": [%s], \"feature_views_kept\": [%s]}",
					 total, views.data, kept.data);
	return res.data;
}

/*
 * _delete_keys(name, keys, online, offline): the work of fs_delete_keys,
 * whose arguments are checked.  Of a feature view: the keys' rows in its
 * stores (online, offline) and nowhere else -- the source's log is read by
 * its other views too.  Of a push source: see delete_source_keys.  The
 * view is locked against other operations and fs_drop; the source table in
 * SHARE ROW EXCLUSIVE mode, so that pushes in flight finish first and new
 * ones wait: every store loses the same pushes, none is left half-deleted.
 * The statements are store.c's.
 */
PG_FUNCTION_INFO_V1(fs_delete_keys_run);
Datum
fs_delete_keys_run(PG_FUNCTION_ARGS)
{
	text	   *name_t = PG_GETARG_TEXT_PP(0);
	char	   *name = text_to_cstring(name_t);
	Jsonb	   *keys = PG_GETARG_JSONB_P(1);
	bool		online = PG_GETARG_BOOL(2);
	bool		offline = PG_GETARG_BOOL(3);
	int64		n[4];
	int			spi_nest;
	PsView	   *v;
	char	   *res;

	ps_catalog_refresh();		/* an entry point: the schema below comes from the catalog */
	spi_nest = ps_spi_connect();
	if (ps_lookup_view(name, true) == NULL && ps_lookup_source(name, true) != NULL)
	{
		res = delete_source_keys(name_t, keys, online, offline);
		ps_spi_finish(spi_nest);
		PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(res)));
	}
	lock_for_delete("_view_for", name);
	v = ps_lookup_view(name, false);
	ps_check_view(v);
	lock_source_table(v->source);
	if (v->nkeys == 0)
	{
		/* one object is the one entity; otherwise an array of {} */
		bool		ok = true;

		if (JB_ROOT_IS_OBJECT(keys))
			keys = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(
								  psprintf("[%s]", JsonbToCString(NULL, &keys->root, VARSIZE(keys))))));
		if (!JB_ROOT_IS_ARRAY(keys) || JB_ROOT_IS_SCALAR(keys))
			ok = false;
		else
		{
			JsonbIterator *it = JsonbIteratorInit(&keys->root);
			JsonbValue	jv;
			JsonbIteratorToken tok;

			while ((tok = JsonbIteratorNext(&it, &jv, true)) != WJB_DONE)
				if (tok == WJB_ELEM && (jv.type != jbvBinary || !JsonContainerIsObject(jv.val.binary.data) ||
										JsonContainerSize(jv.val.binary.data) != 0))
					ok = false;
		}
		if (!ok)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("feature view \"%s\" has no join keys: keys must be an array of {}", v->name),
					 errhint("'[{}]' deletes the view's one entity; '[]' deletes nothing.")));
	}
	run_delete(v, name_t, keys, online, offline, false, n);
	ps_spi_finish(spi_nest);
	{
		StringInfoData buf;

		initStringInfo(&buf);
		appendStringInfoString(&buf, "{\"feature_view\": ");
		escape_json(&buf, v->name);
		appendStringInfo(&buf, ", \"keys\": " INT64_FORMAT ", \"rows\": " INT64_FORMAT
						 ", \"online\": " INT64_FORMAT ", \"offline\": " INT64_FORMAT "}",
						 n[0], n[1] + n[2], n[1], n[2]);
		res = buf.data;
	}
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(res)));
}

/*
 * _check_can_commit(what): a procedure that commits as it goes refuses,
 * before any work, to start inside a transaction block (where its first
 * COMMIT would fail and take the work done so far with it).
 */
PG_FUNCTION_INFO_V1(fs_check_can_commit);
Datum
fs_check_can_commit(PG_FUNCTION_ARGS)
{
	char	   *what = text_to_cstring(PG_GETARG_TEXT_PP(0));

	if (IsTransactionBlock())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("%s commits after each window: it cannot run inside a transaction block", what),
				 errhint("CALL it on its own, outside BEGIN ... COMMIT; fs_materialize backfills in one transaction.")));
	PG_RETURN_VOID();
}
