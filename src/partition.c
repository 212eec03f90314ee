/*
 * partition.c
 *		The time partitions of a source log or an offline store: which leaf
 *		partitions a range-partitioned table has and the event times each
 *		holds.  Maintenance (SQL, through _partitions) creates and drops them
 *		by these bounds; the point-in-time join (pit_join.c) scans only the
 *		partitions its spine can reach.  Depends on nothing of pushsource's.
 *
 * The bounds are read from pg_class.relpartbound, not from partition names:
 * names are for people (and survive pg_dump), bounds are what PostgreSQL
 * routes rows by.
 */
#include "pushsource.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "fmgr.h"
#include "funcapi.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

/*
 * One bound of a range partition on a timestamptz column; false if the
 * bound is not a plain value (MINVALUE/MAXVALUE, another type): such a
 * side is open.
 */
static bool
range_bound(List *datums, TimestampTz *ts)
{
	PartitionRangeDatum *d;
	Const	   *c;

	if (list_length(datums) != 1)
		return false;
	d = lfirst_node(PartitionRangeDatum, list_head(datums));
	if (d->kind != PARTITION_RANGE_DATUM_VALUE || !IsA(d->value, Const))
		return false;
	c = (Const *) d->value;
	if (c->consttype != TIMESTAMPTZOID || c->constisnull)
		return false;
	*ts = DatumGetTimestampTz(c->constvalue);
	return true;
}

/*
 * The leaf partitions of a range-partitioned table, with their bounds, in
 * no particular order.  Takes AccessShareLock on each.  A partition that is
 * itself partitioned, or not a range partition, has open bounds and
 * leaf = false: callers treat it as "may hold anything".
 */
PsPartition *
ps_partitions(Oid relid, int *n)
{
	List	   *children = find_inheritance_children(relid, AccessShareLock);
	PsPartition *parts = palloc0(sizeof(PsPartition) * Max(list_length(children), 1));
	ListCell   *lc;
	int			i = 0;

	foreach(lc, children)
	{
		Oid			child = lfirst_oid(lc);
		PsPartition *p = &parts[i];
		HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(child));
		Datum		d;
		bool		isnull;

		if (!HeapTupleIsValid(tup))
			continue;			/* dropped while we looked */
		p->relid = child;
		p->leaf = ((Form_pg_class) GETSTRUCT(tup))->relkind == RELKIND_RELATION;
		d = SysCacheGetAttr(RELOID, tup, Anum_pg_class_relpartbound, &isnull);
		if (!isnull)
		{
			PartitionBoundSpec *spec = (PartitionBoundSpec *) stringToNode(TextDatumGetCString(d));

			if (IsA(spec, PartitionBoundSpec))
			{
				p->is_default = spec->is_default;
				if (!spec->is_default && spec->strategy == PARTITION_STRATEGY_RANGE)
				{
					p->has_lower = range_bound(spec->lowerdatums, &p->lower);
					p->has_upper = range_bound(spec->upperdatums, &p->upper);
				}
			}
		}
		ReleaseSysCache(tup);
		i++;
	}
	*n = i;
	return parts;
}

/*
 * May partition p hold a row with event time in [lower, upper]?  An open
 * side (no bound on the partition or none asked) always may.
 */
bool
ps_partition_overlaps(const PsPartition *p, bool bounded_below, TimestampTz lower,
					  TimestampTz upper)
{
	if (p->is_default)
		return true;
	if (p->has_lower && p->lower > upper)
		return false;
	if (bounded_below && p->has_upper && p->upper <= lower)
		return false;
	return true;
}

/*
 * _partitions(table regclass): the partitions of a partitioned table,
 * their bounds (NULL: open or the default partition) and whether each is
 * the default.  Nothing for a table that is not partitioned.
 */
PG_FUNCTION_INFO_V1(fs_partitions);
Datum
fs_partitions(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid = PG_GETARG_OID(0);
	PsPartition *parts;
	int			n = 0;

	InitMaterializedSRF(fcinfo, 0);
	if (get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE)
		PG_RETURN_NULL();
	parts = ps_partitions(relid, &n);
	for (int i = 0; i < n; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, !parts[i].has_lower, !parts[i].has_upper, false};

		values[0] = ObjectIdGetDatum(parts[i].relid);
		values[1] = TimestampTzGetDatum(parts[i].lower);
		values[2] = TimestampTzGetDatum(parts[i].upper);
		values[3] = BoolGetDatum(parts[i].is_default);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_NULL();
}
