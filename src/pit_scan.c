/*
 * pit_scan.c
 *		fs_get_historical_features(...) in FROM as a custom scan: the rows
 *		of the join stream to the query as they are produced, instead of
 *		going into the tuplestore every set-returning function in FROM
 *		fills (and, beyond work_mem, writes to a temp file and reads back)
 *		before the query sees the first.
 *
 * The planner hook (set_rel_pathlist_hook) replaces the function scan of
 * pushsource.fs_get_historical_features(spine, features, timestamp_key,
 * full_feature_names, from_source) by a CustomScan "PointInTimeJoin" when
 * the call stands alone in FROM: one function, no WITH ORDINALITY, no
 * argument that refers to another FROM item (LATERAL) or holds a subquery,
 * no reference to the whole row (t::text, whose row type is the function
 * scan's),
 * no fmgr hook that wants to see the call (a security label provider) and
 * track_functions not 'all' (which counts the calls).  Everything else
 * keeps the function scan, as does pushsource.enable_pit_scan = off.
 *
 * The scan does what calling the function would: it checks the role's
 * EXECUTE privilege on it (also for EXPLAIN) and runs the object access
 * hook.  A function made SECURITY DEFINER or given SET clauses (by ALTER
 * FUNCTION) keeps the function scan, whose call switches user and settings.
 *
 * Rows stream: the spine table's second heap scan (pit_spine_direct) then
 * runs while the rest of the query does, so a statement that writes
 * (INSERT ... SELECT, a data-modifying WITH) has the spine read once by its
 * query instead, as its own writes would be visible to that second scan.
 * Where the plan may rescan the node with the same arguments (the executor
 * says so: EXEC_FLAG_REWIND, as the inner side of a nested loop), the rows
 * are also kept in a tuplestore, as the function scan keeps them, and a
 * rescan replays them instead of joining again; a rescan after a parameter
 * of the arguments changed runs the join again.
 *
 * The planner hook is installed when the library is loaded, and the
 * planner loads it first: fs_get_historical_features has a support
 * function (SUPPORT pushsource_internal._historical_features_support),
 * which the planner calls for the function's row estimate before it
 * builds the paths of the query.  The estimate is the spine table's
 * pg_class.reltuples when the spine is a constant table name.
 */
#include "pit_int.h"

#include "access/htup_details.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_proc.h"
#include "executor/executor.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/supportnodes.h"
#include "parser/parsetree.h"
#include "optimizer/pathnode.h"
#include "optimizer/clauses.h"
#include "optimizer/restrictinfo.h"
#include "parser/parse_func.h"
#include "pgstat.h"
#include "commands/explain.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

static bool enable_pit_scan = true;
static set_rel_pathlist_hook_type prev_set_rel_pathlist = NULL;

typedef struct PitScanState
{
	CustomScanState css;
	Oid			funcid;
	List	   *args;			/* ExprStates of the five arguments */
	MemoryContext cxt;			/* the join's memory, reset by a rescan */
	PitOutput  *out;
	bool		finished;
	bool		writes;			/* the statement writes: read the spine once */
	Tuplestorestate *store;		/* the rows, when the node may be rescanned */
	TupleTableSlot *replay_slot;	/* a row of the store */
	bool		replay;			/* a rescan: the rows come from the store */
} PitScanState;

static Plan *pit_plan_custom_path(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
								  List *tlist, List *clauses, List *custom_plans);
static Node *pit_create_scan_state(CustomScan *cscan);
static void pit_begin_scan(CustomScanState *node, EState *estate, int eflags);
static TupleTableSlot *pit_exec_scan(CustomScanState *node);
static void pit_end_scan(CustomScanState *node);
static void pit_rescan(CustomScanState *node);
static void pit_explain(CustomScanState *node, List *ancestors, ExplainState *es);

static const CustomPathMethods pit_path_methods = {
	.CustomName = "PointInTimeJoin",
	.PlanCustomPath = pit_plan_custom_path,
};

static const CustomScanMethods pit_scan_methods = {
	.CustomName = "PointInTimeJoin",
	.CreateCustomScanState = pit_create_scan_state,
};

static const CustomExecMethods pit_exec_methods = {
	.CustomName = "PointInTimeJoin",
	.BeginCustomScan = pit_begin_scan,
	.ExecCustomScan = pit_exec_scan,
	.EndCustomScan = pit_end_scan,
	.ReScanCustomScan = pit_rescan,
	.ExplainCustomScan = pit_explain,
};

/* The OID of pushsource.fs_get_historical_features(text, text[], text, bool, bool), or InvalidOid. */
static Oid
historical_features_oid(void)
{
	Oid			argtypes[5] = {TEXTOID, TEXTARRAYOID, TEXTOID, BOOLOID, BOOLOID};

	return LookupFuncName(list_make2(makeString("pushsource"), makeString("fs_get_historical_features")),
						  5, argtypes, true);
}

static void
pit_set_rel_pathlist(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte)
{
	RangeTblFunction *rtfunc;
	FuncExpr   *fe;
	CustomPath *cp;
	Path	   *cheapest = NULL;
	ListCell   *lc;
	Bitmapset  *used = NULL;
	HeapTuple	tp;
	bool		plain;

	if (prev_set_rel_pathlist)
		prev_set_rel_pathlist(root, rel, rti, rte);
	if (!enable_pit_scan || rte->rtekind != RTE_FUNCTION || rte->funcordinality ||
		list_length(rte->functions) != 1 || rel->reloptkind != RELOPT_BASEREL ||
		!bms_is_empty(rel->lateral_relids) || pgstat_track_functions == TRACK_FUNC_ALL)
		return;
	rtfunc = linitial(rte->functions);
	if (!IsA(rtfunc->funcexpr, FuncExpr) || rtfunc->funccoltypes == NIL)
		return;
	fe = (FuncExpr *) rtfunc->funcexpr;
	if (list_length(fe->args) != 5 || !fe->funcretset || FmgrHookIsNeeded(fe->funcid) ||
		contain_subplans((Node *) fe->args) || fe->funcid != historical_features_oid())
		return;
	/* a call that switches user or settings stays a call */
	tp = SearchSysCache1(PROCOID, ObjectIdGetDatum(fe->funcid));
	if (!HeapTupleIsValid(tp))
		return;
	plain = !((Form_pg_proc) GETSTRUCT(tp))->prosecdef &&
		heap_attisnull(tp, Anum_pg_proc_proconfig, NULL);
	ReleaseSysCache(tp);
	if (!plain)
		return;
	/* a whole-row reference (t::text) needs the function scan's row type */
	pull_varattnos((Node *) rel->reltarget->exprs, rel->relid, &used);
	foreach(lc, rel->baserestrictinfo)
		pull_varattnos((Node *) ((RestrictInfo *) lfirst(lc))->clause, rel->relid, &used);
	if (bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, used))
		return;
	foreach(lc, rel->pathlist)
	{
		Path	   *p = lfirst(lc);

		if (p->param_info == NULL && (cheapest == NULL || p->total_cost < cheapest->total_cost))
			cheapest = p;
	}
	if (cheapest == NULL)
		return;

	cp = makeNode(CustomPath);
	cp->path.pathtype = T_CustomScan;
	cp->path.parent = rel;
	cp->path.pathtarget = rel->reltarget;
	cp->path.param_info = NULL;
	cp->path.parallel_aware = false;
	cp->path.parallel_safe = false;
	cp->path.parallel_workers = 0;
	cp->path.rows = rel->rows;
	/* the function scan's costs: the join is the same, the tuplestore is gone */
	cp->path.startup_cost = cheapest->startup_cost;
	cp->path.total_cost = cheapest->total_cost;
	cp->path.pathkeys = NIL;
	cp->flags = 0;
	cp->custom_paths = NIL;
	cp->custom_private = list_make1_oid(fe->funcid);
	cp->methods = &pit_path_methods;
	/* the only path: the function scan's would be fuzzily as cheap */
	rel->pathlist = NIL;
	add_path(rel, &cp->path);
}

static Plan *
pit_plan_custom_path(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
					 List *tlist, List *clauses, List *custom_plans)
{
	RangeTblEntry *rte = planner_rt_fetch(rel->relid, root);
	RangeTblFunction *rtfunc = linitial(rte->functions);
	CustomScan *cs = makeNode(CustomScan);
	List	   *scan_tlist = NIL;
	ListCell   *lt,
			   *lm,
			   *lc;
	AttrNumber	att = 1;

	/* the scan's tuples: every column of the column definition list */
	forthree(lt, rtfunc->funccoltypes, lm, rtfunc->funccoltypmods, lc, rtfunc->funccolcollations)
	{
		Var		   *v = makeVar(rel->relid, att, lfirst_oid(lt), lfirst_int(lm), lfirst_oid(lc), 0);

		scan_tlist = lappend(scan_tlist,
							 makeTargetEntry((Expr *) v, att,
											 pstrdup(strVal(list_nth(rte->eref->colnames, att - 1))),
											 false));
		att++;
	}
	cs->scan.plan.targetlist = tlist;
	cs->scan.plan.qual = extract_actual_clauses(clauses, false);
	cs->scan.scanrelid = 0;		/* a function, not a table: described by scan_tlist */
	cs->flags = best_path->flags;
	cs->custom_plans = NIL;
	/* the call itself, for EXPLAIN VERBOSE; its arguments are evaluated */
	cs->custom_exprs = list_make1(copyObject(rtfunc->funcexpr));
	cs->custom_private = best_path->custom_private;
	cs->custom_scan_tlist = scan_tlist;
	cs->methods = &pit_scan_methods;
	return &cs->scan.plan;
}

static Node *
pit_create_scan_state(CustomScan *cscan)
{
	PitScanState *ps = palloc0(sizeof(PitScanState));

	NodeSetTag(ps, T_CustomScanState);
	ps->css.flags = cscan->flags;
	ps->css.methods = &pit_exec_methods;
	ps->funcid = linitial_oid(cscan->custom_private);
	return (Node *) ps;
}

static void
pit_begin_scan(CustomScanState *node, EState *estate, int eflags)
{
	PitScanState *ps = (PitScanState *) node;
	CustomScan *cs = (CustomScan *) node->ss.ps.plan;
	AclResult	acl;

	/* what calling the function checks */
	acl = pg_proc_aclcheck(ps->funcid, GetUserId(), ACL_EXECUTE);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_FUNCTION, get_func_name(ps->funcid));
	InvokeFunctionExecuteHook(ps->funcid);
	ps->args = ExecInitExprList(((FuncExpr *) linitial(cs->custom_exprs))->args, &node->ss.ps);
	ps->cxt = AllocSetContextCreate(estate->es_query_cxt, "pushsource point-in-time join",
									ALLOCSET_DEFAULT_SIZES);
	ps->writes = estate->es_plannedstmt->commandType != CMD_SELECT ||
		estate->es_plannedstmt->hasModifyingCTE;
	if (eflags & EXEC_FLAG_REWIND)
	{
		ps->store = tuplestore_begin_heap(false, false, work_mem);
		ps->replay_slot = MakeSingleTupleTableSlot(node->ss.ss_ScanTupleSlot->tts_tupleDescriptor,
												   &TTSOpsMinimalTuple);
	}
}

/* The join, up to its output. */
static void
pit_start(PitScanState *ps)
{
	ExprContext *econtext = ps->css.ss.ps.ps_ExprContext;
	MemoryContext old = MemoryContextSwitchTo(ps->cxt);
	Datum		args[5];
	bool		argnull[5];
	int			i = 0;
	PitPlan    *plan;
	ListCell   *lc;

	foreach(lc, ps->args)
	{
		args[i] = ExecEvalExpr(lfirst(lc), econtext, &argnull[i]);
		i++;
	}
	plan = pit_plan_from_args(args, argnull);
	pit_check_expected_desc(ps->css.ss.ss_ScanTupleSlot->tts_tupleDescriptor, plan);
	if (ps->writes && OidIsValid(plan->spine_relid))
	{
		ereport(DEBUG1,
				(errmsg_internal("pushsource: the statement writes: the spine is read once, by its query")));
		plan->spine_relid = InvalidOid;
	}
	ps->out = pit_output_begin(plan);
	MemoryContextSwitchTo(old);
}

static TupleTableSlot *
pit_next(ScanState *ss)
{
	PitScanState *ps = (PitScanState *) ss;
	TupleTableSlot *slot = ss->ss_ScanTupleSlot;
	MemoryContext old;
	bool		more;

	ExecClearTuple(slot);
	if (ps->replay)
	{
		if (tuplestore_gettupleslot(ps->store, true, false, ps->replay_slot))
			ExecCopySlot(slot, ps->replay_slot);
		return slot;
	}
	if (ps->finished)
		return slot;
	if (ps->out == NULL)
		pit_start(ps);
	old = MemoryContextSwitchTo(ps->cxt);
	more = pit_output_next_values(ps->out, slot->tts_values, slot->tts_isnull);
	MemoryContextSwitchTo(old);
	if (!more)
	{
		ps->finished = true;
		return slot;
	}
	ExecStoreVirtualTuple(slot);
	if (ps->store != NULL)
		tuplestore_puttupleslot(ps->store, slot);
	return slot;
}

static bool
pit_recheck(ScanState *ss, TupleTableSlot *slot)
{
	return true;
}

static TupleTableSlot *
pit_exec_scan(CustomScanState *node)
{
	return ExecScan(&node->ss, pit_next, pit_recheck);
}

static void
pit_stop(PitScanState *ps)
{
	if (ps->out != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(ps->cxt);

		pit_output_end(ps->out);
		MemoryContextSwitchTo(old);
		ps->out = NULL;
	}
	MemoryContextReset(ps->cxt);
}

static void
pit_end_scan(CustomScanState *node)
{
	PitScanState *ps = (PitScanState *) node;

	pit_stop(ps);
	if (ps->store != NULL)
	{
		tuplestore_end(ps->store);
		ExecDropSingleTupleTableSlot(ps->replay_slot);
	}
	ps->store = NULL;
}

static void
pit_rescan(CustomScanState *node)
{
	PitScanState *ps = (PitScanState *) node;

	if (node->ss.ps.chgParam != NULL || ps->store == NULL)
	{
		/* new arguments, or no store: the join again */
		pit_stop(ps);
		ps->finished = false;
		ps->replay = false;
		if (ps->store != NULL)
			tuplestore_clear(ps->store);
	}
	else if (ps->out != NULL || ps->finished)
	{
		/* the same arguments: the rest of the rows into the store, then all again */
		if (!ps->finished)
		{
			TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;

			while (ExecClearTuple(slot),
				   pit_output_next_values(ps->out, slot->tts_values, slot->tts_isnull))
				tuplestore_puttupleslot(ps->store, ExecStoreVirtualTuple(slot));
			ExecClearTuple(slot);
			ps->finished = true;
		}
		pit_stop(ps);
		ps->replay = true;
		tuplestore_rescan(ps->store);
	}
	ExecScanReScan(&node->ss);
}

/* EXPLAIN VERBOSE: the call, as a function scan shows it. */
static void
pit_explain(CustomScanState *node, List *ancestors, ExplainState *es)
{
	CustomScan *cs = (CustomScan *) node->ss.ps.plan;
	List	   *context;

	if (!es->verbose)
		return;
	context = set_deparse_context_plan(es->deparse_cxt, &cs->scan.plan, ancestors);
	ExplainPropertyText("Function Call",
						deparse_expression(linitial(cs->custom_exprs), context, true, false), es);
}

/*
 * pushsource_internal._historical_features_support(internal): the row
 * estimate of fs_get_historical_features, the spine table's reltuples when
 * the spine is a constant table name (else the planner's default).  That
 * the planner calls it also loads the library, whose planner hook then
 * plans the custom scan.
 */
PG_FUNCTION_INFO_V1(fs_historical_features_support);
Datum
fs_historical_features_support(PG_FUNCTION_ARGS)
{
	Node	   *req = (Node *) PG_GETARG_POINTER(0);
	SupportRequestRows *r;
	FuncExpr   *fe;
	Const	   *spine;
	char	   *name;
	List	   *names;
	Oid			relid;
	HeapTuple	tp;

	if (!IsA(req, SupportRequestRows))
		PG_RETURN_POINTER(NULL);
	r = (SupportRequestRows *) req;
	if (r->node == NULL || !IsA(r->node, FuncExpr))
		PG_RETURN_POINTER(NULL);
	fe = (FuncExpr *) r->node;
	if (list_length(fe->args) < 1 || !IsA(linitial(fe->args), Const))
		PG_RETURN_POINTER(NULL);
	spine = linitial(fe->args);
	if (spine->constisnull || spine->consttype != TEXTOID)
		PG_RETURN_POINTER(NULL);
	/* a name, never an error here: a query or a bad name is left to the call */
	name = TextDatumGetCString(spine->constvalue);
	if (!SplitIdentifierString(name, '.', &names) || list_length(names) < 1 || list_length(names) > 2)
		PG_RETURN_POINTER(NULL);
	if (list_length(names) == 2)
	{
		Oid			nsp = get_namespace_oid(linitial(names), true);

		relid = OidIsValid(nsp) ? get_relname_relid(lsecond(names), nsp) : InvalidOid;
	}
	else
		relid = RelnameGetRelid(linitial(names));
	if (!OidIsValid(relid))
		PG_RETURN_POINTER(NULL);
	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tp))
		PG_RETURN_POINTER(NULL);
	if (((Form_pg_class) GETSTRUCT(tp))->reltuples >= 0)
		r->rows = Max(((Form_pg_class) GETSTRUCT(tp))->reltuples, 1);
	else
		r = NULL;
	ReleaseSysCache(tp);
	PG_RETURN_POINTER(r);
}

void
ps_pit_scan_init(void)
{
	DefineCustomBoolVariable("pushsource.enable_pit_scan",
							 "Plans fs_get_historical_features in FROM as a scan that streams its rows.",
							 "off: a function scan, whose rows go through a tuplestore first.",
							 &enable_pit_scan, true, PGC_USERSET, 0, NULL, NULL, NULL);
	RegisterCustomScanMethods(&pit_scan_methods);
	prev_set_rel_pathlist = set_rel_pathlist_hook;
	set_rel_pathlist_hook = pit_set_rel_pathlist;
}
