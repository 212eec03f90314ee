/*
 * fanout.c
 *		The trigger pair on every push source's table: the one fan-out path
 *		shared by fs_push, fs_ingest, INSERT and COPY.
 *
 * BEFORE INSERT FOR EACH ROW (fs_push_row_trigger): checks the row with the
 * shared validator, stamps it with an ingest order, and appends it to a
 * per-statement buffer (a tuplestore, which spills to disk past work_mem, so
 * a 1M-row INSERT ... SELECT has flat memory).  The row is kept in the
 * source table unless the source has log_offline => false or the push is
 * online-only.
 *
 * AFTER INSERT FOR EACH STATEMENT (fs_push_statement_trigger): hands the
 * buffer to SQL as an ephemeral named relation and runs, per feature view,
 * two prepared set-based statements: an append to the offline store and a
 * newest-wins upsert into the online store, deduplicated per key by
 * (event timestamp, ingest order) so that a batch may hold a key several
 * times and a late, older event never overwrites a newer one.  The upsert's
 * WHERE clause is evaluated on the latest row version under the row lock,
 * so concurrent pushes end with the newest event whatever the commit order.
 *
 * An aggregate feature view gets the same offline append; its online state
 * (tiles, or the raw events of its windows) is written by ps_agg_fanout in
 * aggregation.c, in the same SPI connection and transaction.
 *
 * The stores' writes run as pushsource_admin, which may write every store
 * (as PostgreSQL's own RI triggers run as a table's owner), so pushing
 * needs INSERT on the source table only.  The role is fixed (ps_store_role), not
 * read from a catalog row or from whoever owns the relation a row names,
 * and the writes are a security-restricted operation.
 *
 * Ingest order: one sequence value per statement, shifted left 24 bits,
 * plus the row's position in the statement.  It orders rows within a batch
 * by arrival and batches by the order they took their number, without a
 * sequence call per row.
 */
#include "pushsource.h"

#include "storage/lmgr.h"
#include "utils/syscache.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/heapam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_publication.h"
#include "catalog/pg_inherits.h"
#include "utils/snapmgr.h"
#include "utils/jsonb.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/queryenvironment.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"


typedef struct PsBuffer
{
	Oid			relid;
	SubTransactionId subid;
	MemoryContext cxt;
	Tuplestorestate *rows;
	TupleDesc	desc;			/* source columns + ingest id */
	int64		nrows;
	int64		bytes;			/* of the rows as stored (pushsource.stat_sources) */
	TimestampTz newest;			/* their newest event time */
	int64		batch;			/* current batch id << 24 */
	PsPushMode	mode;
	bool		publish_only;	/* rows the table keeps none of, written for
								 * logical decoding and deleted (see
								 * publish_rows) */
	bool		event_queued;	/* replicated: a row of this buffer has
								 * queued the deferred fan-out event */
	List	   *rejects;		/* replicated: rows refused here, not yet
								 * saved (RejectedRecord, in cxt) */
	int64		nrejected;		/* replicated: rows refused here, in all */
	Datum	   *rvalues;		/* scratch for heap_deform_tuple */
	bool	   *rnulls;
	int			rnatts;			/* their length */
	Datum	   *values;			/* scratch for the buffered row */
	bool	   *nulls;
	struct PsBuffer *next;
} PsBuffer;

static PsBuffer *buffers = NULL;

/*
 * Set by the row trigger of a replicated source for the row it has just
 * buffered: does that row queue the deferred fan-out event?  Read (and
 * cleared) by _replicated_event(), the WHEN clause of that event's
 * trigger, which runs next, right after the row is inserted.
 */
static bool replicated_event_due = false;

/* The fs_push in progress, if any: its mode and where its counts go. */
static Oid	push_relid = InvalidOid;
static PsPushMode push_mode = PS_MODE_ONLINE_AND_OFFLINE;
static List *push_counts = NIL;
static MemoryContext push_cxt = NULL;

static Oid	ingest_seq_relid = InvalidOid;

/*
 * The time partition of a source table the last routed row went to, its
 * push source's table and its attribute numbers by source column: a row
 * trigger on a partitioned source fires on the partition.  Valid for the
 * transaction (which holds the partition's lock, so it cannot move).
 */
static Oid	part_relid = InvalidOid;
static Oid	part_parent = InvalidOid;
static AttrNumber *part_attnums = NULL;

void
ps_fanout_begin_push(Oid relid, PsPushMode mode)
{
	push_relid = relid;
	push_mode = mode;
	push_counts = NIL;
	push_cxt = CurrentMemoryContext;
}

List *
ps_fanout_end_push(void)
{
	List	   *counts = push_counts;

	ps_fanout_abort_push();
	return counts;
}

void
ps_fanout_abort_push(void)
{
	push_relid = InvalidOid;
	push_mode = PS_MODE_ONLINE_AND_OFFLINE;
	push_counts = NIL;
	push_cxt = NULL;
}

static void
add_counts(const char *view, int64 online, int64 offline)
{
	MemoryContext old;
	ListCell   *lc;
	PsViewCounts *c;

	if (push_cxt == NULL)
		return;
	foreach(lc, push_counts)
	{
		c = lfirst(lc);
		if (strcmp(c->view, view) == 0)
		{
			c->online += online;
			c->offline += offline;
			return;
		}
	}
	old = MemoryContextSwitchTo(push_cxt);
	c = palloc(sizeof(PsViewCounts));
	c->view = pstrdup(view);
	c->online = online;
	c->offline = offline;
	push_counts = lappend(push_counts, c);
	MemoryContextSwitchTo(old);
}

/* ---------------------------------------------------------------------
 * Buffers
 * --------------------------------------------------------------------- */

/*
 * Is rel published for serving nodes: named (itself or, for a time
 * partition, its source table) in a publication of inserts?  A FOR ALL
 * TABLES or FOR TABLES IN SCHEMA publication, as change-data-capture
 * setups make, is not one: pushes to it behave as they always have.
 * Nothing is decoded below wal_level = logical.
 */
static bool
published_for_serving(Relation rel)
{
	List	   *pubids;
	ListCell   *lc;

	if (!XLogLogicalInfoActive())
		return false;
	pubids = GetRelationPublications(RelationGetRelid(rel));
	if (rel->rd_rel->relispartition)
		foreach(lc, get_partition_ancestors(RelationGetRelid(rel)))
			pubids = list_concat(pubids, GetRelationPublications(lfirst_oid(lc)));
	foreach(lc, pubids)
		if (GetPublication(lfirst_oid(lc))->pubactions.pubinsert)
			return true;
	return false;
}

/*
 * The buffer of a statement's rows pushed to src's table (or its
 * partitions); rel is the table the row trigger fired on.
 */
static PsBuffer *
get_buffer(PsSource *src, Relation rel)
{
	int			natts = RelationGetDescr(rel)->natts;
	Oid			relid = src->relid;
	SubTransactionId subid = GetCurrentSubTransactionId();
	PsBuffer   *buf;
	MemoryContext old;

	for (buf = buffers; buf != NULL; buf = buf->next)
		if (buf->relid == relid && buf->subid == subid)
		{
			if (natts > buf->rnatts)
			{
				/* a partition with more (dropped) attributes than the table */
				buf->rvalues = repalloc(buf->rvalues, sizeof(Datum) * natts);
				buf->rnulls = repalloc(buf->rnulls, sizeof(bool) * natts);
				buf->rnatts = natts;
			}
			return buf;
		}

	{
		MemoryContext cxt = AllocSetContextCreate(TopTransactionContext,
												  "pushsource statement buffer",
												  ALLOCSET_DEFAULT_SIZES);

		old = MemoryContextSwitchTo(cxt);
		buf = palloc0(sizeof(PsBuffer));
		buf->cxt = cxt;
	}
	buf->relid = relid;
	buf->subid = subid;
	buf->newest = DT_NOBEGIN;
	buf->desc = CreateTupleDescCopy(src->buffer_desc);
	{
		/*
		 * A spilled buffer's temp file must live as long as the buffer (the
		 * transaction), not end with the current statement's portal.
		 */
		ResourceOwner save = CurrentResourceOwner;

		CurrentResourceOwner = TopTransactionResourceOwner;
		buf->rows = tuplestore_begin_heap(false, false, work_mem);
		CurrentResourceOwner = save;
	}
	buf->mode = (relid == push_relid) ? push_mode : PS_MODE_ONLINE_AND_OFFLINE;
	if (published_for_serving(rel))
	{
		/*
		 * Serving nodes subscribed to the table fan out every row it
		 * publishes to both stores: a push to one store would make them
		 * differ from this node.  A source without a log still publishes
		 * its rows (publish_rows).
		 */
		if (buf->mode != PS_MODE_ONLINE_AND_OFFLINE)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("push source \"%s\" is published for logical replication: a push to it must write both stores",
							src->name),
					 errdetail("Serving nodes fan out every row the publication sends them to both stores."),
					 errhint("Push with mode => 'online_and_offline' (Feast: \"to\": \"online_and_offline\").")));
		buf->publish_only = !src->log_offline;
	}
	buf->rnatts = Max(natts, 1);
	buf->rvalues = palloc(sizeof(Datum) * buf->rnatts);
	buf->rnulls = palloc(sizeof(bool) * buf->rnatts);
	buf->values = palloc(sizeof(Datum) * (src->ncols + 1));
	buf->nulls = palloc(sizeof(bool) * (src->ncols + 1));
	buf->next = buffers;
	buffers = buf;
	MemoryContextSwitchTo(old);
	return buf;
}

static void
unlink_buffer(PsBuffer *target)
{
	PsBuffer  **link = &buffers;

	while (*link != NULL)
	{
		if (*link == target)
		{
			*link = target->next;
			break;
		}
		link = &(*link)->next;
	}
}

static void
drop_buffer(PsBuffer *target)
{
	unlink_buffer(target);
	/* its temp file belongs to the transaction: close it ourselves */
	tuplestore_end(target->rows);
	MemoryContextDelete(target->cxt);
}

static void
fanout_xact_callback(XactEvent event, void *arg)
{
	/* the buffers' memory went with TopTransactionContext */
	buffers = NULL;
	part_relid = InvalidOid;
	part_parent = InvalidOid;
	part_attnums = NULL;
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		ps_fanout_abort_push();
}

static void
fanout_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	PsBuffer   *buf;
	PsBuffer   *next;

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	/* rows of a failed statement must never be fanned out */
	for (buf = buffers; buf != NULL; buf = next)
	{
		next = buf->next;
		if (buf->subid >= mySubid)
			drop_buffer(buf);
	}
}

void
ps_fanout_init(void)
{
	RegisterXactCallback(fanout_xact_callback, NULL);
	RegisterSubXactCallback(fanout_subxact_callback, NULL);
}

/* ---------------------------------------------------------------------
 * Row trigger
 * --------------------------------------------------------------------- */

static int64
next_batch_id(void)
{
	if (!OidIsValid(ingest_seq_relid) ||
		!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(ingest_seq_relid)))
	{
		ingest_seq_relid = get_relname_relid("ingest_batch_seq",
											 get_namespace_oid(ps_internal_schema(), false));
		if (!OidIsValid(ingest_seq_relid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("sequence %s.ingest_batch_seq is missing", ps_internal_schema()),
					 errdetail("Every push takes its ingest order from it."),
					 errhint("Recreate it with CREATE SEQUENCE %s.ingest_batch_seq, or reinstall the extension.",
							 ps_internal_schema())));
	}
	return nextval_internal(ingest_seq_relid, false) * PS_ROWS_PER_BATCH_ID;
}

/*
 * A backfill's batch ids: below every push's (which start at 1 << 24), so
 * that at equal event times a pushed row wins over a backfilled one, and
 * increasing, so that a later backfill wins over an earlier one.
 */
int64
ps_backfill_batch_id(void)
{
	return PG_INT64_MIN / 2 + next_batch_id();
}

/*
 * The rows of a replicated source this serving node refused (one of its
 * views needs what the ingest node's do not check) are saved to
 * pushsource.rejected_records in one statement per flush (or per
 * PS_REJECTS_PER_SAVE rows), with one WARNING for them all.
 */
#define PS_REJECTS_PER_SAVE 1000

static void
free_rejects(List *rejects)
{
	ListCell   *lc;

	foreach(lc, rejects)
	{
		RejectedRecord *r = lfirst(lc);

		pfree(r->record);
		if (r->err.field)
			pfree(r->err.field);
		pfree(r->err.message);
	}
	list_free_deep(rejects);
}

static void
save_replicated_rejects(PsSource *src, PsBuffer *buf)
{
	RejectedRecord *first;
	int			n = list_length(buf->rejects);

	if (n == 0)
		return;
	first = linitial(buf->rejects);
	ps_save_rejects(src, buf->rejects);
	if (n == 1)
		ereport(WARNING,
				(errcode(first->err.sqlstate),
				 errmsg("pushsource: a replicated row of push source \"%s\" is skipped here: %s",
						src->name, first->err.message),
				 errhint("It is kept in pushsource.rejected_records.")));
	else
		ereport(WARNING,
				(errcode(first->err.sqlstate),
				 errmsg("pushsource: %d replicated rows of push source \"%s\" are skipped here",
						n, src->name),
				 errdetail("The first: %s", first->err.message),
				 errhint("They are kept in pushsource.rejected_records.")));
	free_rejects(buf->rejects);
	buf->rejects = NIL;
}

PG_FUNCTION_INFO_V1(fs_push_row_trigger);
Datum
fs_push_row_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	PsSource   *src;
	PsBuffer   *buf;
	PsRecordError err;
	HeapTuple	tuple;
	bool		replicated;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("_push_row() must be a BEFORE ROW trigger")));
	rel = td->tg_relation;
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot update rows of push source table \"%s\"",
						RelationGetRelationName(rel)),
				 errdetail("A push source is an append-only log of events."),
				 errhint("Push a new event with a later timestamp instead; DELETE is allowed and does not change feature views.")));
	if (!TRIGGER_FIRED_BY_INSERT(td->tg_event))
		return PointerGetDatum(td->tg_trigtuple);

	tuple = td->tg_trigtuple;
	replicated_event_due = false;
	if (rel->rd_rel->relispartition)
	{
		/* a time-partitioned source: the row was routed to a partition */
		if (RelationGetRelid(rel) != part_relid)
		{
			part_relid = InvalidOid;
			part_parent = get_partition_parent(RelationGetRelid(rel), false);
			src = ps_lookup_source_by_relid(part_parent);
			part_attnums = MemoryContextAlloc(TopTransactionContext,
											  sizeof(AttrNumber) * Max(src->ncols, 1));
			for (int i = 0; i < src->ncols; i++)
				part_attnums[i] = get_attnum(RelationGetRelid(rel), src->cols[i].name);
			part_relid = RelationGetRelid(rel);
		}
		src = ps_lookup_source_by_relid(part_parent);
	}
	else
		src = ps_lookup_source_by_relid(RelationGetRelid(rel));
	/*
	 * A replicated source (its row trigger fires always, in replication
	 * apply too: see fs_create_push_source(replicated => true)) takes the
	 * rows logical replication applies, and no others.
	 */
	replicated = td->tg_trigger->tgenabled == TRIGGER_FIRES_ALWAYS;
	if (replicated && SessionReplicationRole != SESSION_REPLICATION_ROLE_REPLICA)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("push source \"%s\" is replicated: its rows come from the ingest node's publication",
						src->name),
				 errdetail("This serving node fans out the rows logical replication applies; a local push would make it differ from the ingest node."),
				 errhint("Push to the ingest node.")));
	buf = get_buffer(src, rel);

	heap_deform_tuple(tuple, RelationGetDescr(rel), buf->rvalues, buf->rnulls);
	for (int i = 0; i < src->ncols; i++)
	{
		AttrNumber	attnum = rel->rd_rel->relispartition ? part_attnums[i] : src->cols[i].attnum;

		if (attnum <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("push source \"%s\": column \"%s\" of its schema is missing from table \"%s\"",
							src->name, src->cols[i].name, RelationGetRelationName(rel)),
					 errhint("Run SELECT pushsource.fs_validate('%s').", src->name)));
		buf->values[i] = buf->rvalues[attnum - 1];
		buf->nulls[i] = buf->rnulls[attnum - 1];
	}
	if (!ps_check_row(src, buf->values, buf->nulls, (int) (buf->nrows + buf->nrejected), &err))
	{
		ps_stat_rejected(src->name, 1);
		if (replicated)
		{
			/*
			 * The ingest node took it; this serving node cannot (one of its
			 * views needs a join key the ingest node's do not): refusing
			 * it would stop replication for good, as the apply worker
			 * would retry it for ever.  It is skipped here, and kept in
			 * pushsource.rejected_records.
			 */
			Datum		row = heap_copy_tuple_as_datum(tuple, RelationGetDescr(rel));
			char	   *json = text_to_cstring(DatumGetTextPP(DirectFunctionCall1(row_to_json, row)));
			MemoryContext old = MemoryContextSwitchTo(buf->cxt);
			RejectedRecord *r = palloc(sizeof(RejectedRecord));

			/* saved with the buffer's other refused rows, at the flush */
			r->index = (int) (buf->nrows + buf->nrejected++);
			r->record = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
			r->err.sqlstate = err.sqlstate;
			r->err.field = err.field ? pstrdup(err.field) : NULL;
			r->err.message = pstrdup(err.message);
			r->err.problem = NULL;
			r->source = src->name;
			buf->rejects = lappend(buf->rejects, r);
			MemoryContextSwitchTo(old);

			/*
			 * Kept for the flush the buffer's deferred event makes; saved
			 * now if no row has queued that event yet (the transaction
			 * may have no row this node takes), or enough are waiting.
			 */
			if (!buf->event_queued || list_length(buf->rejects) >= PS_REJECTS_PER_SAVE)
				save_replicated_rejects(src, buf);
			return PointerGetDatum(NULL);
		}
		ps_raise_record_error(&err);
	}

	if (buf->nrows % PS_ROWS_PER_BATCH_ID == 0)
		buf->batch = next_batch_id();
	buf->values[src->ncols] = Int64GetDatum(buf->batch + buf->nrows % PS_ROWS_PER_BATCH_ID);
	buf->nulls[src->ncols] = false;
	tuplestore_putvalues(buf->rows, buf->desc, buf->values, buf->nulls);
	buf->nrows++;
	buf->bytes += tuple->t_len;
	buf->newest = Max(buf->newest, DatumGetTimestampTz(buf->values[src->ts_col]));

	if (replicated)
	{
		/*
		 * The buffer's first row queues the deferred event that fans the
		 * buffer out at commit (_push_replicated); the others queue none
		 * (the trigger's WHEN clause): one event per buffer, however many
		 * rows the apply transaction or the initial copy holds.  A source
		 * without a log keeps only that first row until the event deletes
		 * it; it needs no other.
		 */
		bool		first = !buf->event_queued;

		buf->event_queued = true;
		replicated_event_due = first;
		return first || src->log_offline ? PointerGetDatum(tuple) : PointerGetDatum(NULL);
	}
	if (buf->mode == PS_MODE_ONLINE || !src->log_offline)
		return PointerGetDatum(NULL);
	return PointerGetDatum(tuple);
}

/*
 * _replicated_event(): the WHEN clause of a replicated source's deferred
 * fan-out trigger: true for the row that queues the event (see above).
 */
PG_FUNCTION_INFO_V1(fs_replicated_event);
Datum
fs_replicated_event(PG_FUNCTION_ARGS)
{
	bool		due = replicated_event_due;

	replicated_event_due = false;
	PG_RETURN_BOOL(due);
}

/* ---------------------------------------------------------------------
 * Statement trigger: the fan-out
 * --------------------------------------------------------------------- */

/*
 * Locks the stores a push writes, and checks that they still exist: a push
 * that waited for a concurrent fs_drop of the view would otherwise fail on
 * a missing table.  It fails clearly instead, and a retry (the view gone
 * from the catalog) writes the views that remain.
 */
static void
lock_stores(PsView *v, bool offline, bool online)
{
	Oid			rels[2];
	int			n = 0;

	if (offline && OidIsValid(v->offline_relid))
		rels[n++] = v->offline_relid;
	if (online && OidIsValid(v->online_relid))
		rels[n++] = v->online_relid;
	ps_check_view(v);
	for (int i = 0; i < n; i++)
	{
		LockRelationOid(rels[i], RowExclusiveLock);
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(rels[i])) &&
			ps_view_in_catalog(v->name))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("feature view \"%s\" is broken: its %s store was dropped",
							v->name, rels[i] == v->online_relid ? "online" : "offline"),
					 errdetail("Nothing of this push was written."),
					 errhint("SELECT pushsource.fs_validate('%s') lists its problems; fs_drop('%s') and create it again to start over.",
							 v->name, v->name)));
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(rels[i])))
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("feature view \"%s\" was dropped while this push waited for it", v->name),
					 errdetail("Nothing of this push was written."),
					 errhint("Push again: the push then writes the feature views that remain.")));
	}
}

/*
 * The offline store is append-only and, as created, a heap without indexes,
 * triggers, CHECK constraints or row security: then its rows are written with
 * table_multi_insert (batched pages and WAL) instead of INSERT ... SELECT.
 * Anything a DBA added to the table sends us back to the SQL path, which
 * honours it.  Returns the number of rows, or -1 to use SQL.
 */
#define OFFLINE_BATCH 1000

static int64
write_offline_direct(PsView *v, Tuplestorestate *rows, TupleDesc bdesc, int64 nrows)
{
	PsSource   *src = v->source;
	Relation	rel;
	TupleDesc	desc;
	int		   *map;
	TupleTableSlot *in;
	TupleTableSlot **slots;
	BulkInsertState bistate;
	CommandId	cid;
	int			n = 0;
	int64		total = 0;
	int			ts_col = src->ts_col;
	int			nslots = (int) Min(nrows, OFFLINE_BATCH);

	rel = table_open(v->offline_relid, RowExclusiveLock);
	desc = RelationGetDescr(rel);
	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relhasindex ||
		rel->rd_rel->relhastriggers || rel->rd_rel->relrowsecurity ||
		(desc->constr != NULL && desc->constr->num_check > 0) ||
		pg_class_aclcheck(v->offline_relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK)
	{
		table_close(rel, NoLock);
		return -1;
	}
	/* every store column must come from the buffer, by name */
	map = palloc(sizeof(int) * desc->natts);
	for (int j = 0; j < desc->natts; j++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, j);

		map[j] = -2;
		if (att->attisdropped)
			continue;
		for (int c = 0; c < bdesc->natts; c++)
			if (strcmp(NameStr(att->attname), NameStr(TupleDescAttr(bdesc, c)->attname)) == 0 &&
				att->atttypid == TupleDescAttr(bdesc, c)->atttypid &&
				att->atttypmod == TupleDescAttr(bdesc, c)->atttypmod)
				map[j] = c;
		if (map[j] < 0)
		{
			table_close(rel, NoLock);
			return -1;
		}
		/* keys and the timestamp are validated non-null; other NOT NULLs are a DBA's */
		if (att->attnotnull)
		{
			bool		ours = map[j] == src->ts_col;

			for (int k = 0; k < v->nkeys && !ours; k++)
				ours = map[j] == v->key_cols[k];
			if (!ours)
			{
				table_close(rel, NoLock);
				return -1;
			}
		}
	}

	in = MakeSingleTupleTableSlot(bdesc, &TTSOpsMinimalTuple);
	/* a slot per row of a batch, no more: a one-row push makes one slot */
	slots = palloc(sizeof(TupleTableSlot *) * nslots);
	for (int i = 0; i < nslots; i++)
		slots[i] = table_slot_create(rel, NULL);
	bistate = GetBulkInsertState();
	cid = GetCurrentCommandId(true);

	tuplestore_rescan(rows);
	while (tuplestore_gettupleslot(rows, true, false, in))
	{
		TupleTableSlot *slot = slots[n];

		slot_getallattrs(in);
		if (v->has_start_time &&
			DatumGetTimestampTz(in->tts_values[ts_col]) < v->start_time)
			continue;
		ExecClearTuple(slot);
		for (int j = 0; j < desc->natts; j++)
		{
			if (map[j] < 0)
			{
				slot->tts_values[j] = (Datum) 0;
				slot->tts_isnull[j] = true;
				continue;
			}
			slot->tts_values[j] = in->tts_values[map[j]];
			slot->tts_isnull[j] = in->tts_isnull[map[j]];
		}
		ExecStoreVirtualTuple(slot);
		ExecMaterializeSlot(slot);
		if (++n == nslots)
		{
			table_multi_insert(rel, slots, n, cid, 0, bistate);
			total += n;
			n = 0;
		}
	}
	if (n > 0)
	{
		table_multi_insert(rel, slots, n, cid, 0, bistate);
		total += n;
	}
	FreeBulkInsertState(bistate);
	table_finish_bulk_insert(rel, 0);
	for (int i = 0; i < nslots; i++)
		ExecDropSingleTupleTableSlot(slots[i]);
	ExecDropSingleTupleTableSlot(in);
	table_close(rel, NoLock);
	return total;
}

/*
 * Registers a batch of buffered rows (source columns + ingest id) as
 * PS_BATCH_ENR in the current SPI connection.
 */
static void
register_batch(Tuplestorestate *rows, TupleDesc desc, int64 nrows)
{
	EphemeralNamedRelation enr = palloc0(sizeof(EphemeralNamedRelationData));

	enr->md.name = PS_BATCH_ENR;
	enr->md.reliddesc = InvalidOid;
	enr->md.tupdesc = desc;
	enr->md.enrtype = ENR_NAMED_TUPLESTORE;
	enr->md.enrtuples = (double) nrows;
	enr->reldata = rows;
	if (SPI_register_relation(enr) != SPI_OK_REL_REGISTER)
		elog(ERROR, "could not register the pushsource batch");
}

/*
 * One view's share of a batch (registered as PS_BATCH_ENR): the append to
 * its offline store and the write of its online state, as the store role.
 * backfill: the rows are a backfill's (fs_materialize), whose tile blocks
 * are kept apart from the pushed ones so that a later backfill of the same
 * window can replace them.
 */
/*
 * How many entities a batch (PS_BATCH_ENR) writes online to attribute view
 * v: the rows its newest-wins upsert considers, one per key (store.c's
 * online_keys_plan), of which those it did not write were older than the
 * stored row (pushsource.stat_feature_views.late_ignored).  Counted only
 * for the counters, and without a query for a one-row batch.
 */
static int64
batch_keys(PsView *v, int64 nrows, Datum *args)
{
	bool		isnull;

	if (nrows <= 1)
		return nrows;
	if (SPI_execute_plan(v->online_keys_plan, args, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "pushsource: could not count the keys of a batch of feature view \"%s\"", v->name);
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

static void
fanout_view(PsView *v, Tuplestorestate *rows, TupleDesc desc, int64 nrows,
			bool do_offline, bool do_online, bool backfill,
			int64 *n_online, int64 *n_offline, int64 *n_late)
{
	Datum		args[1];
	Oid			save_userid;
	int			save_sec;

	*n_online = 0;
	*n_offline = 0;
	if (n_late != NULL)
		*n_late = 0;
	if (!do_offline && !do_online)
		return;
	lock_stores(v, do_offline, do_online);
	ps_store_prepare_view(v);
	args[0] = TimestampTzGetDatum(v->start_time);

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(v->owner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION | SECURITY_NOFORCE_RLS);
	if (do_offline)
	{
		*n_offline = write_offline_direct(v, rows, desc, nrows);
		if (*n_offline < 0)
		{
			if (SPI_execute_plan(v->offline_plan, args, NULL, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "pushsource: offline write of feature view \"%s\" failed", v->name);
			*n_offline = SPI_processed;
		}
	}
	if (do_online && v->naggs > 0)
		*n_online = ps_agg_fanout(v, args[0], backfill);
	else if (do_online)
	{
		if (SPI_execute_plan(v->online_plan, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "pushsource: online write of feature view \"%s\" failed", v->name);
		*n_online = SPI_processed;
		if (n_late != NULL && ps_stats_enabled())
			*n_late = batch_keys(v, nrows, args) - *n_online;
	}
	SetUserIdAndSecContext(save_userid, save_sec);
}

static void
flush_buffer(PsSource *src, PsBuffer *buf)
{
	int			spi_nest;

	ps_stat_pushed(src->name, buf->nrows, buf->bytes, buf->newest,
				   SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA);
	if (buf->nrows == 0 || src->nviews == 0)
		return;
	spi_nest = ps_spi_connect();
	register_batch(buf->rows, buf->desc, buf->nrows);
	for (int i = 0; i < src->nviews; i++)
	{
		PsView	   *v = src->views[i];
		int64		n_online;
		int64		n_offline;
		int64		n_late;

		fanout_view(v, buf->rows, buf->desc, buf->nrows,
					v->offline && buf->mode != PS_MODE_ONLINE,
					v->online && buf->mode != PS_MODE_OFFLINE, false,
					&n_online, &n_offline, &n_late);
		add_counts(v->name, n_online, n_offline);
		ps_stat_view_written(v->name, n_online, n_offline, n_late);
	}
	ps_spi_finish(spi_nest);
}

/*
 * A backfill's rows (fs_materialize), already checked by the validator and
 * stamped with backfill ingest ids (ps_backfill_batch_id), fanned out to
 * one view's stores by the same statements as a push.
 */
void
ps_fanout_backfill(PsView *v, Tuplestorestate *rows, int64 nrows, bool offline, bool online,
				   int64 *n_online, int64 *n_offline)
{
	int			spi_nest;

	*n_online = 0;
	*n_offline = 0;
	if (nrows == 0)
		return;
	spi_nest = ps_spi_connect();
	register_batch(rows, v->source->buffer_desc, nrows);
	fanout_view(v, rows, v->source->buffer_desc, nrows, offline && v->offline,
				online && v->online, true, n_online, n_offline, NULL);
	ps_spi_finish(spi_nest);
}

/*
 * The rows of a source without a log whose table is published: written to
 * the table and deleted at once, so that logical decoding sends their
 * inserts to the serving nodes (a publication with publish = 'insert'
 * sends nothing else) while the table keeps no rows, as log_offline =>
 * false says.  Written as the table's owner would; no trigger fires.
 */
#define PUBLISH_CHUNK 1000

static void
publish_rows(PsSource *src, PsBuffer *buf)
{
	Relation	rel = table_open(src->relid, RowExclusiveLock);
	TupleDesc	desc = RelationGetDescr(rel);
	TupleTableSlot *in = MakeSingleTupleTableSlot(buf->desc, &TTSOpsMinimalTuple);
	Datum	   *values = palloc0(sizeof(Datum) * desc->natts);
	bool	   *nulls = palloc(sizeof(bool) * desc->natts);
	ItemPointerData tids[PUBLISH_CHUNK];
	bool		more = true;

	tuplestore_rescan(buf->rows);
	while (more)
	{
		int			n = 0;

		/* a chunk at a time: memory does not grow with the batch */
		while (n < PUBLISH_CHUNK &&
			   (more = tuplestore_gettupleslot(buf->rows, true, false, in)))
		{
			HeapTuple	tup;

			slot_getallattrs(in);
			memset(nulls, true, sizeof(bool) * desc->natts);
			for (int i = 0; i < src->ncols; i++)
			{
				AttrNumber	attnum = src->cols[i].attnum;

				if (attnum <= 0)
					continue;
				values[attnum - 1] = in->tts_values[i];
				nulls[attnum - 1] = in->tts_isnull[i];
			}
			tup = heap_form_tuple(desc, values, nulls);
			simple_heap_insert(rel, tup);
			tids[n++] = tup->t_self;
			heap_freetuple(tup);
		}
		/* the deletes must see the inserts */
		CommandCounterIncrement();
		for (int i = 0; i < n; i++)
			simple_heap_delete(rel, &tids[i]);
	}
	ExecDropSingleTupleTableSlot(in);
	table_close(rel, NoLock);
}

PG_FUNCTION_INFO_V1(fs_push_statement_trigger);
Datum
fs_push_statement_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Oid			relid;
	PsSource   *src;
	PsBuffer   *buf;
	PsBuffer   *next;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("_push_statement() must be an AFTER STATEMENT trigger")));
	relid = RelationGetRelid(td->tg_relation);
	/* an INSERT straight into a time partition (as its owner) */
	if (td->tg_relation->rd_rel->relispartition)
		relid = get_partition_parent(relid, false);
	src = ps_lookup_source_by_relid(relid);

	/*
	 * The pending buffers of this table in this subtransaction: normally just
	 * this statement's.  A buffer of an enclosing statement in an outer
	 * subtransaction (fs_push(dry_run) inside an INSERT ... SELECT) is not
	 * ours to flush.  A buffer is unlinked before its flush, so rows that
	 * the flush itself causes to be pushed (a trigger on a store) start a
	 * new buffer instead of growing the one being read.
	 */
	for (buf = buffers; buf != NULL; buf = next)
	{
		next = buf->next;
		if (buf->relid != relid || buf->subid != GetCurrentSubTransactionId())
			continue;
		unlink_buffer(buf);
		flush_buffer(src, buf);
		if (buf->publish_only)
			publish_rows(src, buf);
		tuplestore_end(buf->rows);
		MemoryContextDelete(buf->cxt);
		next = buffers;			/* the list may have changed under us */
	}
	return PointerGetDatum(NULL);
}

/*
 * Fans out the buffered rows replication applied to relid (InvalidOid:
 * to every source) in this transaction, whatever their subtransaction.
 */
static void
flush_applied(Oid relid)
{
	PsBuffer   *buf;
	PsBuffer   *next;

	for (buf = buffers; buf != NULL; buf = next)
	{
		next = buf->next;
		if (OidIsValid(relid) && buf->relid != relid)
			continue;
		unlink_buffer(buf);
		save_replicated_rejects(ps_lookup_source_by_relid(buf->relid), buf);
		flush_buffer(ps_lookup_source_by_relid(buf->relid), buf);
		tuplestore_end(buf->rows);
		MemoryContextDelete(buf->cxt);
		next = buffers;			/* the list may have changed under us */
	}
}

/*
 * The fan-out of a replicated source, on a serving node: a deferred
 * constraint trigger, AFTER INSERT FOR EACH ROW, enabled always, queued
 * by the first row of each buffer only (WHEN _replicated_event()).
 * Logical replication's apply worker fires row triggers only, one change
 * at a time; the row trigger buffers each row, and at commit the first of
 * these deferred events fans out every buffered row of the table in one
 * batch (as a statement's would be), in the apply worker's transaction:
 * what is applied is fanned out exactly once.  Any other finds nothing
 * left to flush.  A source without a log deletes the event's row here:
 * kept until now only so that this event exists.  (A trigger made by
 * version 0.6, without the WHEN clause, queues an event per row: the same
 * result, at the cost of a longer queue.)
 */
PG_FUNCTION_INFO_V1(fs_push_replicated_trigger);
Datum
fs_push_replicated_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Oid			relid;
	PsSource   *src;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || !TRIGGER_FIRED_BY_INSERT(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("_push_replicated() must be an AFTER INSERT ROW trigger")));
	relid = RelationGetRelid(td->tg_relation);
	src = ps_lookup_source_by_relid(relid);
	flush_applied(relid);
	if (!src->log_offline)
	{
		TupleTableSlot *slot = table_slot_create(td->tg_relation, NULL);

		/* unless a replicated key deletion of this transaction took it */
		CommandCounterIncrement();
		if (table_tuple_fetch_row_version(td->tg_relation, &td->tg_trigtuple->t_self, SnapshotSelf, slot))
			simple_heap_delete(td->tg_relation, &td->tg_trigtuple->t_self);
		ExecDropSingleTupleTableSlot(slot);
	}
	return PointerGetDatum(NULL);
}

/*
 * _flush_replicated(): fans out every row the transaction has applied so
 * far, before a replicated key deletion runs (it must come after the rows
 * pushed before it on the ingest node, as it did there).
 */
PG_FUNCTION_INFO_V1(fs_flush_replicated);
Datum
fs_flush_replicated(PG_FUNCTION_ARGS)
{
	flush_applied(InvalidOid);
	PG_RETURN_VOID();
}
