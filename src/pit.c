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
 * The index is sized against the join's memory budget (pit_memory_budget:
 * pushsource.pit_memory); a bigger spine is split into partitions by key
 * hash and the feature rows of all but the first spill to temp files, so
 * memory stays bounded and the cost grows linearly.  Keys are
 * compared as typed tuples (hash functions and btree comparators of their
 * types), never as strings.
 */
#include "pit_int.h"
#include "nodes/makefuncs.h"
#include "catalog/dependency.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_inherits.h"
#include "utils/inval.h"
#include "commands/extension.h"

/*
 * One view: size the spine's index against the memory budget, index
 * it whole or partition 0 of it, scan the feature rows, then finish the
 * other partitions from their temp files.
 */
static void
join_view(PitPlan *plan, PitView *pv, TimestampTz min_t, TimestampTz max_t)
{
	double		need;
	int			nparts;
	char	   *buf;
	instr_time	t0;

	INSTR_TIME_SET_CURRENT(t0);
	if (pv->spine_n == 0)
		return;					/* no spine row with keys and a time */
	if (pv->is_agg)
	{
		pit_join_agg_view(plan, pv);
		pit_phase(&t0, "aggregate windows swept", pv->spine_n);
		return;
	}

	nparts = pit_plan_parts(pv, (double) pv->spine_n, (double) pv->spine_bytes,
							(double) plan->nrows, &need);
	if (pv->pre_parts > 0 && nparts == 1)
	{
		/* fewer records than the table's size promised: all in memory */
		int64		off = 0;

		pv->spine_mem = palloc_extended(Max(pv->spine_bytes, 1), MCXT_ALLOC_HUGE);
		for (int slot = 0; slot < pv->pre_parts; slot++)
			if (pv->spine_parts[slot] != NULL)
			{
				pit_read_whole(pv->spine_parts[slot], pv->spine_mem + off, pv->spine_part_bytes[slot]);
				off += pv->spine_part_bytes[slot];
				pit_file_close(pv->spine_parts[slot]);
				pv->spine_parts[slot] = NULL;
			}
		pv->pre_parts = 0;
	}
	else if (pv->pre_parts > 0 && nparts <= pv->pre_parts)
		nparts = pv->pre_parts; /* the hash slots as the records were written */
	pv->nparts = nparts;
	/* the partitions' files are written at once: an eighth of the budget */
	pv->part_buf = pit_file_buffer(pit_memory_budget() / 8.0, nparts);
	if (nparts > 1)
	{
		/*
		 * Partition 0 is probed during the scan and never spills: give it
		 * as many slots as a third of the budget holds (the scan keeps its index,
		 * a shared copy for the workers and their candidates), at most half
		 * of them.
		 */
		double		per_slot = need / nparts;

		pv->p0_slots = (int) Min(Max((double) pit_memory_budget() / 3 / per_slot, 1), nparts / 2);
		ereport(DEBUG1,
				(errmsg_internal("pushsource: the spine's " INT64_FORMAT " records for feature view %s in %d partitions (the first takes %d of %d hash slots)",
								 pv->spine_n, pv->view->name, nparts - pv->p0_slots + 1, pv->p0_slots, nparts)));
	}

	if (nparts == 1)
	{
		/* all in memory until the output is written */
		pv->res = palloc_extended(sizeof(Cand *) * Max(plan->nrows, 1), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
		if (pv->spine_file != NULL)
		{
			buf = pit_read_partition(pv->spine_file, pv->spine_bytes);
			pit_file_close(pv->spine_file);
			pv->spine_file = NULL;
			pit_phase(&t0, "spine records read back", pv->spine_n);
		}
		else
			buf = pv->spine_mem;

		pv->ix = pit_build_index(pv, buf, pv->spine_n);
		pit_phase(&t0, "index built", pv->ix->ngroups);
		pit_scan_features(plan, pv, min_t, max_t);
		pit_probe_batch(pv, pv->ix);
		pit_phase(&t0, "feature rows scanned and probed", 0);
		pit_finish_index(plan, pv, pv->ix);
		pit_phase(&t0, "as-of matches found", pv->spine_n);
		return;
	}

	/* split the spine's records into partitions, unless they are already */
	if (pv->pre_parts != nparts)
	{
		PitFile   **src = NULL;
		int			nsrc = 0;

		if (pv->pre_parts > 0)
		{
			/* more records than the table's size promised: split further */
			ereport(DEBUG1,
					(errmsg_internal("pushsource: the spine's " INT64_FORMAT " records for feature view %s need more partitions than the %d of the table's size",
									 pv->spine_n, pv->view->name, pv->pre_parts)));
			src = pv->spine_parts;
			nsrc = pv->pre_parts;
			pv->pre_parts = 0;
		}
		else if (pv->spine_file != NULL)
		{
			src = &pv->spine_file;
			nsrc = 1;
		}
		pv->spine_parts = palloc0(sizeof(PitFile *) * nparts);
		pv->spine_part_n = palloc0(sizeof(int64) * nparts);
		pv->spine_part_bytes = palloc0(sizeof(int64) * nparts);
		for (int i = 0; i < Max(nsrc, 1); i++)
		{
			if (src != NULL && src[i] == NULL)
				continue;
			if (src != NULL)
				pit_rewind_run(src[i]);
			for (int64 off = 0;;)
			{
				StringInfoData rec;
				int			p;

				if (src != NULL)
				{
					if ((buf = pit_read_encoded(src[i], &pv->rbuf)) == NULL)
						break;
					rec = pv->rbuf;
				}
				else
				{
					if ((buf = pit_next_spine_record(pv, &off)) == NULL)
						break;
					rec.data = buf;
					rec.len = ((uint32 *) buf)[1];
				}
				p = pit_part_of(pv, ((uint32 *) buf)[0]);
				pit_write_encoded(pv->filecxt, &pv->spine_parts[p], pv->part_buf, &rec, ((uint32 *) buf)[0],
								  &pv->spine_part_n[p], &pv->spine_part_bytes[p]);
			}
			if (src != NULL)
				pit_file_close(src[i]);
		}
		pv->spine_file = NULL;
		if (pv->spine_mem != NULL)
			pfree(pv->spine_mem);
		pv->spine_mem = NULL;
	}
	pv->feat_parts = palloc0(sizeof(PitFile *) * nparts);
	/* the feature rows' partition files take their buffers' place */
	for (int p = 1; p < nparts; p++)
		if (pv->spine_parts[p] != NULL)
			pit_file_park(pv->spine_parts[p]);
	pit_phase(&t0, "spine records partitioned", nparts);

	/* partition 0: indexed while the scan spills the others' rows */
	{
		MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "pit partition",
												  ALLOCSET_DEFAULT_SIZES);
		MemoryContext old = MemoryContextSwitchTo(cxt);

		int64		n0 = 0;
		int64		bytes0 = 0;
		int64		off0;

		/*
		 * its records: in the file of partition 0, or (written by hash slot
		 * as read) in the files of its slots
		 */
		for (int slot = 0; slot < Max(pv->p0_slots, 1); slot++)
		{
			n0 += pv->spine_part_n[slot];
			bytes0 += pv->spine_part_bytes[slot];
		}
		buf = n0 == 0 ? NULL : palloc_extended(bytes0, MCXT_ALLOC_HUGE);
		off0 = 0;
		for (int slot = 0; slot < Max(pv->p0_slots, 1); slot++)
		{
			if (pv->spine_parts[slot] != NULL)
			{
				pit_read_whole(pv->spine_parts[slot], buf + off0, pv->spine_part_bytes[slot]);
				off0 += pv->spine_part_bytes[slot];
				pit_file_close(pv->spine_parts[slot]);
				pv->spine_parts[slot] = NULL;
			}
			pv->spine_part_n[slot] = pv->spine_part_bytes[slot] = 0;
		}
		pv->spine_part_n[0] = n0;
		pv->spine_part_bytes[0] = bytes0;
		pv->ix = pit_build_index(pv, buf, n0);
		if (buf != NULL && !pv->has_byref)
			pfree(buf);			/* by-value keys are copied into the index */
		MemoryContextSwitchTo(old);
		pit_scan_features(plan, pv, min_t, max_t);
		/* the parallel scan finishes partition 0 itself, before the others */
		if (pv->ix != NULL)
		{
			pit_probe_batch(pv, pv->ix);
			pit_finish_index(plan, pv, pv->ix);
			pv->ix = NULL;
		}
		pit_phase(&t0, pv->parts_done ? "feature rows scanned in parallel, partitions joined" :
				  "feature rows scanned, partition 0 probed, others spilled", 0);
		MemoryContextDelete(cxt);
	}
	/* the others, from their temp files (unless the parallel scan did) */
	for (int p = Max(1, pv->p0_slots); p < nparts && !pv->parts_done; p++)
		pit_join_partition(plan, pv, pv->spine_parts[p], pv->spine_part_n[p],
						   pv->spine_part_bytes[p], &pv->feat_parts[p], 1);
	pit_phase(&t0, "partitions probed", nparts);
}

/* The caller's column definition list must have the join's column types. */
void
pit_check_expected_desc(TupleDesc exp, PitPlan *plan)
{
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

/*
 * The join of fs_get_historical_features(spine, features, timestamp_key,
 * full_feature_names, from_source), from its five arguments (the SRF's, or
 * the custom scan's evaluated ones).
 */
PitPlan *
pit_plan_from_args(Datum *args, bool *argnull)
{
	if (argnull[0] || argnull[1])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("spine and features must not be null")));
	return pit_plan_join(TextDatumGetCString(args[0]),
						 DatumGetArrayTypeP(args[1]),
						 argnull[2] ? NULL : TextDatumGetCString(args[2]),
						 argnull[3] ? true : DatumGetBool(args[3]),
						 argnull[4] ? false : DatumGetBool(args[4]), NULL, InvalidOid);
}

static PitPlan *
plan_from_args(FunctionCallInfo fcinfo, int first)
{
	Datum		args[5];
	bool		argnull[5];

	for (int i = 0; i < 5; i++)
	{
		argnull[i] = PG_ARGISNULL(first + i);
		args[i] = argnull[i] ? (Datum) 0 : PG_GETARG_DATUM(first + i);
	}
	return pit_plan_from_args(args, argnull);
}

/*
 * An output row without NULLs is the spine row's tuple as it was stored,
 * with the feature values appended: the same bytes heap_form_minimal_tuple
 * would make of the deformed values, without deforming and forming each
 * row.  Only for a stored tuple without NULLs and features of fixed-width
 * by-value types; NULL: form the row from its values instead.
 */
static MinimalTuple
append_features(PitPlan *plan, TupleTableSlot *spine_slot, Datum *values, bool *nulls,
				StringInfo buf)
{
	MinimalTuple st;
	uint32		len;
	int			hoff;
	int			natts = plan->out_desc->natts;
	Size		off;
	bool		should_free;

	if (!plan->append_ok)
		return NULL;
	for (int i = plan->nspine; i < natts; i++)
		if (nulls[i])
			return NULL;
	if (TTS_IS_MINIMALTUPLE(spine_slot))
	{
		st = ExecFetchSlotMinimalTuple(spine_slot, &should_free);
		Assert(!should_free);
		len = st->t_len;
	}
	else
	{
		/* a table's row (pit_spine_direct): its header as a minimal one's */
		HeapTuple	ht = ExecFetchSlotHeapTuple(spine_slot, false, NULL);

		st = (MinimalTuple) ((char *) ht->t_data + MINIMAL_TUPLE_OFFSET);
		len = ht->t_len - MINIMAL_TUPLE_OFFSET;
	}
	if ((st->t_infomask & (HEAP_HASNULL | HEAP_HASEXTERNAL)) || HeapTupleHeaderGetNatts(st) != plan->nspine)
		return NULL;
	hoff = st->t_hoff - MINIMAL_TUPLE_OFFSET;
	off = len - hoff;			/* the end of the spine's data */
	resetStringInfo(buf);
	enlargeStringInfo(buf, len + MAXIMUM_ALIGNOF + sizeof(Datum) * (natts - plan->nspine));
	memcpy(buf->data, st, len);
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
	return (MinimalTuple) buf->data;
}

static Datum historical_features(FunctionCallInfo fcinfo, PitPlan *plan);

/*
 * A spine named as a plain table, read as it is, is read by two heap scans
 * under one snapshot instead of a query whose rows are kept for the output:
 * the first gives the join its records, the second the output its rows, in
 * the same order (no synchronized scan; a heap table's scan returns its
 * rows in block order, another access method's need not).  Only where the
 * query would return exactly the table's rows: no child tables, no row
 * security, the role's SELECT on the whole table, the same columns as
 * planned.  Else NULL: the spine is read by its query.
 */
static Relation
pit_spine_direct(PitPlan *plan)
{
	Relation	rel;
	TupleDesc	desc;
	bool		ok;

	if (!OidIsValid(plan->spine_relid))
		return NULL;
	rel = table_open(plan->spine_relid, AccessShareLock);
	desc = RelationGetDescr(rel);
	ok = rel->rd_rel->relkind == RELKIND_RELATION && !rel->rd_rel->relhassubclass &&
		rel->rd_rel->relam == HEAP_TABLE_AM_OID && desc->natts == plan->nspine &&
		check_enable_rls(RelationGetRelid(rel), InvalidOid, true) == RLS_NONE &&
		pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_SELECT) == ACLCHECK_OK;
	for (int i = 0; ok && i < desc->natts; i++)
		ok = !TupleDescAttr(desc, i)->attisdropped &&
			TupleDescAttr(desc, i)->atttypid == TupleDescAttr(plan->spine_desc, i)->atttypid;
	if (!ok)
	{
		table_close(rel, AccessShareLock);
		return NULL;
	}
	ereport(DEBUG1,
			(errmsg_internal("pushsource: the spine table \"%s\" is read by heap scans",
							 RelationGetRelationName(rel))));
	return rel;
}

PG_FUNCTION_INFO_V1(fs_get_historical_features);
Datum
fs_get_historical_features(PG_FUNCTION_ARGS)
{
	return historical_features(fcinfo, plan_from_args(fcinfo, 0));
}

/*
 * _run_features(spine, features, start_time, end_time, interval, mock):
 * the features at the spine rows of fs_run's 'full' level, read from the
 * mock source when mock is not null.  The spine is a query fs_run builds,
 * with $1, $2, $3 bound to start_time, end_time and interval (no
 * temporary table: it runs in read-only transactions and on standbys).
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
	return historical_features(fcinfo, pit_plan_join(text_to_cstring(PG_GETARG_TEXT_PP(0)),
												 PG_GETARG_ARRAYTYPE_P(1), NULL, false, false, params,
												 PG_NARGS() < 6 || PG_ARGISNULL(5) ? InvalidOid : PG_GETARG_OID(5)));
}

/*
 * pushsource_internal._check_mock(feature_view, mock): refuses a mock
 * source fs_run cannot read as the view's push source (see pit_check_mock).
 */
PG_FUNCTION_INFO_V1(fs_check_mock);
Datum
fs_check_mock(PG_FUNCTION_ARGS)
{
	pit_check_mock(ps_lookup_view(text_to_cstring(PG_GETARG_TEXT_PP(0)), false), PG_GETARG_OID(1));
	PG_RETURN_VOID();
}

/*
 * Phases 1 and 2 of the join: the spine read, every view joined.  The rows
 * then come from pit_output_next, in spine order, and pit_output_end
 * releases what the output holds (the spine's scan and snapshot, its
 * tuplestore, the indexes).  The set-returning functions put the rows into
 * their tuplestore; the custom scan (pit_scan.c) returns them as they
 * come.
 */
PitOutput *
pit_output_begin(PitPlan *plan)
{
	PitOutput  *o = palloc0(sizeof(PitOutput));
	SPIPlanPtr	sp;
	SPIExecuteOptions opts;
	SpineReceiver sr;
	int			ret;
	int			maxkeys = 0;
	ListCell   *lc;
	MemoryContext outer = CurrentMemoryContext;
	int64		per_row;
	instr_time	t0;

	INSTR_TIME_SET_CURRENT(t0);
	o->plan = plan;

	/* 1. read the spine once, writing each view's (keys, T, position) */
	foreach(lc, plan->views)
	{
		pit_begin_view_join(lfirst(lc), plan->from_source);
		maxkeys = Max(maxkeys, ((PitView *) lfirst(lc))->view->nkeys);
	}
	memset(&sr, 0, sizeof(sr));
	sr.pub.receiveSlot = pit_spine_receive;
	sr.pub.rStartup = pit_receiver_noop_startup;
	sr.pub.rShutdown = pit_receiver_noop;
	sr.pub.rDestroy = pit_receiver_noop;
	sr.pub.mydest = DestNone;
	sr.plan = plan;
	sr.min_t = DT_NOEND;
	sr.max_t = DT_NOBEGIN;
	sr.vals = palloc(sizeof(Datum) * (maxkeys + 2));
	sr.nulls = palloc(sizeof(bool) * (maxkeys + 2));
	foreach(lc, plan->views)
		((PitView *) lfirst(lc))->is_mock = OidIsValid(plan->mock_relid);
	if ((o->spine_rel = pit_spine_direct(plan)) != NULL)
	{
		/* as SPI would run the spine's query: a new snapshot */
		CommandCounterIncrement();
		o->spine_snap = RegisterSnapshot(GetTransactionSnapshot());
		/* the lock is held already: catch up with catalog changes first */
		AcceptInvalidationMessages();
		if (find_inheritance_children(RelationGetRelid(o->spine_rel), NoLock) != NIL)
		{
			/* a child table attached since the table was opened */
			UnregisterSnapshot(o->spine_snap);
			o->spine_snap = NULL;
			table_close(o->spine_rel, AccessShareLock);
			o->spine_rel = NULL;
		}
	}
	if (o->spine_rel != NULL)
	{
		TableScanDesc scan;
		TupleTableSlot *slot;

		/* the rows are read again for the output */
		pit_prepartition(plan, o->spine_rel);
		scan = table_beginscan_strat(o->spine_rel, o->spine_snap, 0, NULL, true, false);
		slot = table_slot_create(o->spine_rel, NULL);
		while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
			pit_spine_receive(slot, (DestReceiver *) &sr);
		table_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		pit_prepartition_done(plan);
	}
	else
	{
		o->spine = sr.spine = tuplestore_begin_heap(false, false, work_mem);
		ps_spi_connect_caller();	/* the spine is the caller's SQL */
		sp = pit_prepare_spine_statement(plan->spine_sql, plan->spine_sql, plan->spine_params);
		memset(&opts, 0, sizeof(opts));
		opts.read_only = false; /* the spine query is the user's own */
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
	}
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

		pv->buckets = palloc0(sizeof(PitFile *) * Max(plan->nbuckets, 1));
		/* one view's result files written at a time (see below): work_mem */
		pv->bucket_buf = pit_file_buffer((double) work_mem * 1024, plan->nbuckets);
		pv->loaded = palloc(sizeof(MinimalTuple) * plan->bucket_rows);
	}

	/* 2. per view: index the spine's records, stream the feature rows */
	if (sr.max_t >= sr.min_t)
		foreach(lc, plan->views)
		{
			PitView    *pv = lfirst(lc);

			join_view(plan, pv, sr.min_t, sr.max_t);
			/* its result files' buffers freed while the next view is joined */
			for (int b = 0; pv->res == NULL && b < plan->nbuckets; b++)
				if (pv->buckets[b] != NULL)
					pit_file_park(pv->buckets[b]);
		}
	pit_phase(&t0, "views joined", list_length(plan->views));

	/* 3. the output, in spine order, one bucket of positions at a time */
	initStringInfo(&o->outbuf);
	plan->append_ok = true;
	for (int i = plan->nspine; i < plan->out_desc->natts; i++)
		if (TupleDescAttr(plan->out_desc, i)->attlen <= 0 || !TupleDescAttr(plan->out_desc, i)->attbyval)
			plan->append_ok = false;
	o->values = palloc(sizeof(Datum) * plan->out_desc->natts);
	o->nulls = palloc(sizeof(bool) * plan->out_desc->natts);
	if (o->spine_rel != NULL)
	{
		/* the same rows again, in the same order */
		o->spine_scan = table_beginscan_strat(o->spine_rel, o->spine_snap, 0, NULL, true, false);
		o->spine_slot = table_slot_create(o->spine_rel, NULL);
	}
	else
		o->spine_slot = MakeSingleTupleTableSlot(plan->spine_desc, &TTSOpsMinimalTuple);
	o->bucketcxt = AllocSetContextCreate(CurrentMemoryContext, "pit bucket", ALLOCSET_DEFAULT_SIZES);
	o->rowcxt = AllocSetContextCreate(CurrentMemoryContext, "pit output row", ALLOCSET_SMALL_SIZES);
	o->bucket = -1;
	INSTR_TIME_SET_CURRENT(o->started);
	return o;
}

/* The next bucket's results of every view whose results are in files. */
static void
load_bucket(PitOutput *o)
{
	PitPlan    *plan = o->plan;
	int			b = o->bucket;
	int64		base = (int64) b * plan->bucket_rows;
	MemoryContext old;
	ListCell   *lc;

	MemoryContextReset(o->bucketcxt);
	old = MemoryContextSwitchTo(o->bucketcxt);
	foreach(lc, plan->views)
	{
		PitView    *pv = lfirst(lc);
		MinimalTuple mt;
		uint32		h;

		if (pv->res != NULL)
			continue;			/* results in memory */
		memset(pv->loaded, 0, sizeof(MinimalTuple) * plan->bucket_rows);
		if (pv->buckets[b] == NULL)
			continue;
		pit_rewind_run(pv->buckets[b]);
		while ((mt = pit_read_record(pv->buckets[b], &h)) != NULL)
			pv->loaded[pit_result_pos(pv, mt) - base] = mt;
		pit_file_close(pv->buckets[b]);
		pv->buckets[b] = NULL;
	}
	MemoryContextSwitchTo(old);
	o->pos = base;
	o->end = Min(base + plan->bucket_rows, plan->nrows);
}

/*
 * The next output row: the spine row in o->spine_slot, the features in
 * values and nulls from the join's first feature column on; false after the
 * last row.
 */
static bool
output_advance(PitOutput *o, Datum *values, bool *nulls)
{
	PitPlan    *plan = o->plan;
	TupleTableSlot *spine_slot = o->spine_slot;
	int64		pos;
	int			c = plan->nspine;
	ListCell   *lc;

	while (o->pos >= o->end)
	{
		if (o->done || o->bucket + 1 >= plan->nbuckets)
		{
			if (!o->done)
			{
				o->done = true;
				if (o->spine_scan != NULL &&
					table_scan_getnextslot(o->spine_scan, ForwardScanDirection, spine_slot))
					elog(ERROR, "pushsource: the spine table's second scan returned more rows than its first");
				pit_phase(&o->started, "output written", plan->nrows);
			}
			return false;
		}
		o->bucket++;
		load_bucket(o);
	}
	pos = o->pos++;
	CHECK_FOR_INTERRUPTS();

	if (o->spine_scan != NULL ? !table_scan_getnextslot(o->spine_scan, ForwardScanDirection, spine_slot) :
		!tuplestore_gettupleslot(o->spine, true, false, spine_slot))
		elog(ERROR, "pushsource: spine ended early");
	foreach(lc, plan->views)
	{
		PitView    *pv = lfirst(lc);
		MinimalTuple mt;

		if (pv->res != NULL)
		{
			Cand	   *cand = pv->res[pos];

			/* the candidates are in key order, not spine order */
			if (pos + OUTPUT_PREFETCH < o->end && pv->res[pos + OUTPUT_PREFETCH] != NULL)
				__builtin_prefetch(pv->res[pos + OUTPUT_PREFETCH]);

			if (cand == NULL)
				memset(nulls + c, true, sizeof(bool) * pv->nfeat);
			else
			{
				memcpy(values + c, CAND_VALS(cand), sizeof(Datum) * pv->nfeat);
				memcpy(nulls + c, CAND_NULLS(cand, pv->nfeat), sizeof(bool) * pv->nfeat);
			}
			c += pv->nfeat;
			continue;
		}
		mt = pv->loaded[pos - (int64) o->bucket * plan->bucket_rows];
		if (mt == NULL)
		{
			for (int f = 0; f < pv->nfeat; f++)
				nulls[c + f] = true;
		}
		else
		{
			HeapTupleData htup;

			htup.t_len = mt->t_len + MINIMAL_TUPLE_OFFSET;
			htup.t_data = (HeapTupleHeader) ((char *) mt - MINIMAL_TUPLE_OFFSET);
			for (int f = 0; f < pv->nfeat; f++)
				values[c + f] = heap_getattr(&htup, f + 2, pv->result_desc, &nulls[c + f]);
		}
		c += pv->nfeat;
	}
	return true;
}

/*
 * The next output row as a minimal tuple, valid until the next call; NULL
 * after the last.
 */
MinimalTuple
pit_output_next(PitOutput *o)
{
	PitPlan    *plan = o->plan;
	MinimalTuple mt;
	MemoryContext old;

	if (!output_advance(o, o->values, o->nulls))
		return NULL;
	mt = append_features(plan, o->spine_slot, o->values, o->nulls, &o->outbuf);
	if (mt != NULL)
		return mt;
	slot_getallattrs(o->spine_slot);
	memcpy(o->values, o->spine_slot->tts_values, sizeof(Datum) * plan->nspine);
	memcpy(o->nulls, o->spine_slot->tts_isnull, sizeof(bool) * plan->nspine);
	MemoryContextReset(o->rowcxt);
	old = MemoryContextSwitchTo(o->rowcxt);
	mt = heap_form_minimal_tuple(plan->out_desc, o->values, o->nulls);
	MemoryContextSwitchTo(old);
	return mt;
}

/*
 * The next output row as values (as many as the join has columns), valid
 * until the next call; false after the last.
 */
bool
pit_output_next_values(PitOutput *o, Datum *values, bool *nulls)
{
	if (!output_advance(o, values, nulls))
		return false;
	slot_getallattrs(o->spine_slot);
	memcpy(values, o->spine_slot->tts_values, sizeof(Datum) * o->plan->nspine);
	memcpy(nulls, o->spine_slot->tts_isnull, sizeof(bool) * o->plan->nspine);
	return true;
}

/* What the output holds, released (also when not every row was read). */
void
pit_output_end(PitOutput *o)
{
	ListCell   *lc;

	if (o->spine_scan != NULL)
		table_endscan(o->spine_scan);
	o->spine_scan = NULL;
	if (o->spine_slot != NULL)
		ExecDropSingleTupleTableSlot(o->spine_slot);
	o->spine_slot = NULL;
	if (o->spine_snap != NULL)
		UnregisterSnapshot(o->spine_snap);
	o->spine_snap = NULL;
	if (o->spine_rel != NULL)
		table_close(o->spine_rel, NoLock);
	o->spine_rel = NULL;
	if (o->spine != NULL)
		tuplestore_end(o->spine);
	o->spine = NULL;
	foreach(lc, o->plan->views)
	{
		PitView    *pv = lfirst(lc);

		for (int b = 0; pv->buckets != NULL && b < o->plan->nbuckets; b++)
			if (pv->buckets[b] != NULL)
			{
				pit_file_close(pv->buckets[b]);
				pv->buckets[b] = NULL;
			}
		if (pv->ix != NULL)
			MemoryContextDelete(pv->ix->cxt);
		pv->ix = NULL;
	}
	MemoryContextDelete(o->bucketcxt);
	MemoryContextDelete(o->rowcxt);
}

static Datum
historical_features(FunctionCallInfo fcinfo, PitPlan *plan)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PitOutput  *o;
	MinimalTuple mt;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) || rsinfo->expectedDesc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("fs_get_historical_features must be called in FROM: SELECT * FROM fs_get_historical_features(...) AS t(...)")));
	pit_check_expected_desc(rsinfo->expectedDesc, plan);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	o = pit_output_begin(plan);
	while ((mt = pit_output_next(o)) != NULL)
	{
		HeapTupleData htup;

		htup.t_len = mt->t_len + MINIMAL_TUPLE_OFFSET;
		htup.t_data = (HeapTupleHeader) ((char *) mt - MINIMAL_TUPLE_OFFSET);
		tuplestore_puttuple(rsinfo->setResult, &htup);
	}
	pit_output_end(o);
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
	Oid			ext;

	if (PG_ARGISNULL(0))
	{
		/*
		 * No name (Tecton's save=True): historical_features_<UTC time of
		 * the call, to the microsecond>, in the caller's creation schema,
		 * with a counter if that is taken.  The name is returned.
		 */
		struct pg_tm tm;
		fsec_t		fsec;
		char	   *base;
		Oid			create_in;

		if (timestamp2tm(GetCurrentTimestamp(), NULL, &tm, &fsec, NULL, NULL) != 0)
			elog(ERROR, "pushsource: could not read the clock");
		base = psprintf("historical_features_%04d%02d%02d_%02d%02d%02d_%06d", tm.tm_year, tm.tm_mon,
						tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec);
		create_in = RangeVarGetCreationNamespace(makeRangeVar(NULL, base, -1));
		save_as = base;
		for (int n = 2; OidIsValid(get_relname_relid(save_as, create_in)); n++)
			save_as = psprintf("%s_%d", base, n);
		names = list_make1(makeString(save_as));
	}
	else
	{
		ArrayType  *parts = DatumGetArrayTypeP(DirectFunctionCall2(parse_ident,
																	PG_GETARG_DATUM(0),
																	BoolGetDatum(true)));
		Datum	   *elems;
		int			nelems;

		save_as = text_to_cstring(PG_GETARG_TEXT_PP(0));
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
	/* a training set is the user's table, never one of the extension's schemas */
	ext = get_extension_oid("pushsource", true);
	if (OidIsValid(ext) && getExtensionOfObject(NamespaceRelationId, nsp) == ext)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_SCHEMA_NAME),
				 errmsg("save_as \"%s\" would be created in schema \"%s\", which belongs to the extension pushsource",
						save_as, get_namespace_name(nsp)),
				 errhint("Name a schema of your own (schema.table), or put one first in search_path.")));
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
