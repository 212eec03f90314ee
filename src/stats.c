/*
 * stats.c
 *		pushsource.stat_sources and pushsource.stat_feature_views: counters
 *		per push source and feature view, pg_stat style.
 *
 * The counters live in shared memory, in a hash table sized by
 * pushsource.stat_max, when pushsource is in shared_preload_libraries (as
 * pg_stat_statements' do); without it the views refuse to show zeros that
 * would mean nothing.  What a push writes is counted when its transaction
 * commits (a rolled-back push, a dry run or a failed subtransaction counts
 * nothing): the fan-out adds to a backend-local table, keyed also by
 * subtransaction, which the commit (or a PREPARE TRANSACTION) adds to
 * shared memory.  Rejected
 * records are counted when they are refused, whether or not the
 * transaction then commits: a refused record is news even when the push
 * fails because of it.
 *
 * Entries are per database and name; fs_stat_reset() clears those of the
 * current database, and fs_drop forgets the dropped object's.
 */
#include "pushsource.h"

#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#define STAT_SOURCE 's'
#define STAT_VIEW 'v'

typedef struct PsStatKey
{
	Oid			dbid;
	char		kind;			/* STAT_SOURCE or STAT_VIEW */
	char		name[NAMEDATALEN];
} PsStatKey;

typedef struct PsStatCounters
{
	/* sources */
	int64		pushes;			/* batches fanned out: statements, or applied transactions */
	int64		records;
	int64		rejected;
	int64		bytes;			/* of the rows as stored */
	int64		applied;		/* records that came by logical replication */
	TimestampTz last_push;		/* DT_NOBEGIN: none */
	TimestampTz newest_event;
	/* views */
	int64		online_rows;
	int64		offline_rows;
	int64		late_ignored;
} PsStatCounters;

typedef struct PsStatEntry
{
	PsStatKey	key;
	slock_t		mutex;
	PsStatCounters c;
} PsStatEntry;

typedef struct PsStatShared
{
	LWLock	   *lock;			/* the hash table's entries (not their counters) */
	pg_atomic_uint64 dropped;	/* counts lost to a full table */
} PsStatShared;

/* a transaction's counts, until it commits */
typedef struct PsStatPendingKey
{
	PsStatKey	key;
	SubTransactionId subid;
} PsStatPendingKey;

typedef struct PsStatPending
{
	PsStatPendingKey key;
	PsStatCounters c;
} PsStatPending;

static int	stat_max = 5000;
static PsStatShared *shared = NULL;
static HTAB *stat_hash = NULL;
static HTAB *pending = NULL;
static shmem_request_hook_type prev_shmem_request = NULL;
static shmem_startup_hook_type prev_shmem_startup = NULL;

static void
stat_shmem_request(void)
{
	if (prev_shmem_request)
		prev_shmem_request();
	RequestAddinShmemSpace(MAXALIGN(sizeof(PsStatShared)) +
						   hash_estimate_size(stat_max, sizeof(PsStatEntry)));
	RequestNamedLWLockTranche("pushsource", 1);
}

static void
stat_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup)
		prev_shmem_startup();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("pushsource stats", sizeof(PsStatShared), &found);
	if (!found)
	{
		shared->lock = &(GetNamedLWLockTranche("pushsource"))->lock;
		pg_atomic_init_u64(&shared->dropped, 0);
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(PsStatKey);
	info.entrysize = sizeof(PsStatEntry);
	stat_hash = ShmemInitHash("pushsource stats hash", stat_max, stat_max, &info,
							  HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
}

static void
zero_counters(PsStatCounters *c)
{
	memset(c, 0, sizeof(*c));
	c->last_push = DT_NOBEGIN;
	c->newest_event = DT_NOBEGIN;
}

static void
add_counters(PsStatCounters *to, const PsStatCounters *from)
{
	to->pushes += from->pushes;
	to->records += from->records;
	to->rejected += from->rejected;
	to->bytes += from->bytes;
	to->applied += from->applied;
	to->last_push = Max(to->last_push, from->last_push);
	to->newest_event = Max(to->newest_event, from->newest_event);
	to->online_rows += from->online_rows;
	to->offline_rows += from->offline_rows;
	to->late_ignored += from->late_ignored;
}

static void
make_key(PsStatKey *key, char kind, const char *name)
{
	memset(key, 0, sizeof(*key));
	key->dbid = MyDatabaseId;
	key->kind = kind;
	strlcpy(key->name, name, NAMEDATALEN);
}

/*
 * A full table first sheds the entries of databases that are gone.  A
 * full table runs this for every count it cannot keep, so each database
 * is looked up once per sweep, not once per entry.  Called with the lock
 * held exclusively.
 */
static void
forget_dropped_databases(void)
{
	HASH_SEQ_STATUS seq;
	PsStatEntry *e;
	Oid			seen[32];
	bool		gone[32];
	int			nseen = 0;

	hash_seq_init(&seq, stat_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		Oid			db = e->key.dbid;
		bool		is_gone;
		int			j = 0;

		while (j < nseen && seen[j] != db)
			j++;
		if (j < nseen)
			is_gone = gone[j];
		else
		{
			is_gone = !SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(db));
			if (nseen < (int) lengthof(seen))
			{
				seen[nseen] = db;
				gone[nseen++] = is_gone;
			}
		}
		if (is_gone)
			hash_search(stat_hash, &e->key, HASH_REMOVE, NULL);
	}
}

/* Adds c to the shared entry of key, making it if there is room (stat_max). */
static void
add_shared(const PsStatKey *key, const PsStatCounters *c)
{
	PsStatEntry *e;

	LWLockAcquire(shared->lock, LW_SHARED);
	e = hash_search(stat_hash, key, HASH_FIND, NULL);
	if (e == NULL)
	{
		LWLockRelease(shared->lock);
		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		/* another backend may have made it meanwhile */
		e = hash_search(stat_hash, key, HASH_FIND, NULL);
		if (e == NULL)
		{
			bool		found;

			if (hash_get_num_entries(stat_hash) >= stat_max)
				forget_dropped_databases();
			if (hash_get_num_entries(stat_hash) < stat_max)
				e = hash_search(stat_hash, key, HASH_ENTER_NULL, &found);
			if (e == NULL)
			{
				LWLockRelease(shared->lock);
				pg_atomic_fetch_add_u64(&shared->dropped, 1);
				return;
			}
			SpinLockInit(&e->mutex);
			zero_counters(&e->c);
		}
	}
	SpinLockAcquire(&e->mutex);
	add_counters(&e->c, c);
	SpinLockRelease(&e->mutex);
	LWLockRelease(shared->lock);
}

/* The pending counters of an object in the current subtransaction. */
static PsStatCounters *
pending_for(char kind, const char *name)
{
	PsStatPendingKey pk;
	PsStatPending *p;
	bool		found;

	if (pending == NULL)
	{
		HASHCTL		info;

		memset(&info, 0, sizeof(info));
		info.keysize = sizeof(PsStatPendingKey);
		info.entrysize = sizeof(PsStatPending);
		info.hcxt = TopMemoryContext;
		pending = hash_create("pushsource pending stats", 16, &info,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&pk, 0, sizeof(pk));
	make_key(&pk.key, kind, name);
	pk.subid = GetCurrentSubTransactionId();
	p = hash_search(pending, &pk, HASH_ENTER, &found);
	if (!found)
		zero_counters(&p->c);
	return &p->c;
}

bool
ps_stats_enabled(void)
{
	return shared != NULL && stat_hash != NULL;
}

void
ps_stat_pushed(const char *source, int64 records, int64 bytes, TimestampTz newest, bool applied)
{
	PsStatCounters *c;

	if (!ps_stats_enabled() || records == 0)
		return;
	c = pending_for(STAT_SOURCE, source);
	c->pushes++;
	c->records += records;
	c->bytes += bytes;
	if (applied)
		c->applied += records;
	c->newest_event = Max(c->newest_event, newest);
}

void
ps_stat_view_written(const char *view, int64 online, int64 offline, int64 late)
{
	PsStatCounters *c;

	if (!ps_stats_enabled())
		return;
	c = pending_for(STAT_VIEW, view);
	c->online_rows += online;
	c->offline_rows += offline;
	c->late_ignored += late;
}

void
ps_stat_rejected(const char *source, int64 n)
{
	PsStatKey	key;
	PsStatCounters c;

	if (!ps_stats_enabled() || n == 0)
		return;
	make_key(&key, STAT_SOURCE, source);
	zero_counters(&c);
	c.rejected = n;
	add_shared(&key, &c);
}

static void
stat_xact_callback(XactEvent event, void *arg)
{
	HASH_SEQ_STATUS seq;
	PsStatPending *p;

	if (pending == NULL || hash_get_num_entries(pending) == 0)
		return;
	/*
	 * Added just before the commit (still in the transaction, which may
	 * look at the catalog; nothing can fail between this and the commit
	 * record but the server itself).  A prepared transaction counts when it
	 * is prepared: it commits in another session (as two-phase
	 * subscriptions apply).
	 */
	if ((event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PRE_PREPARE) && ps_stats_enabled())
	{
		TimestampTz now = GetCurrentTimestamp();

		hash_seq_init(&seq, pending);
		while ((p = hash_seq_search(&seq)) != NULL)
		{
			if (p->key.key.kind == STAT_SOURCE && p->c.pushes > 0)
				p->c.last_push = now;
			/* a future event is as fresh as now: it cannot hide a stale source for ever */
			p->c.newest_event = Min(p->c.newest_event, now);
			add_shared(&p->key.key, &p->c);
		}
	}
	if (event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PRE_PREPARE || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		hash_destroy(pending);
		pending = NULL;
	}
}

static void
stat_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	HASH_SEQ_STATUS seq;
	PsStatPending *p;
	List	   *moved = NIL;
	ListCell   *lc;

	if (pending == NULL || (event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB))
		return;
	hash_seq_init(&seq, pending);
	while ((p = hash_seq_search(&seq)) != NULL)
	{
		if (p->key.subid < mySubid)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
		{
			PsStatPending *copy = MemoryContextAlloc(TopTransactionContext, sizeof(PsStatPending));

			*copy = *p;
			moved = lappend(moved, copy);
		}
		/* removing the entry just returned is allowed during a scan */
		hash_search(pending, &p->key, HASH_REMOVE, NULL);
	}
	/* a committed subtransaction's counts are its parent's */
	foreach(lc, moved)
	{
		PsStatPending *m = lfirst(lc);
		PsStatPendingKey pk = m->key;
		bool		found;

		pk.subid = parentSubid;
		p = hash_search(pending, &pk, HASH_ENTER, &found);
		if (!found)
			zero_counters(&p->c);
		add_counters(&p->c, &m->c);
	}
	list_free_deep(moved);
}

void
ps_stats_init(void)
{
	RegisterXactCallback(stat_xact_callback, NULL);
	RegisterSubXactCallback(stat_subxact_callback, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("pushsource.stat_max",
							"How many push sources and feature views (of every database) the counters keep.",
							"Counts of objects beyond it are dropped, after those of dropped databases.",
							&stat_max, 5000, 100, 1000000, PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	prev_shmem_request = shmem_request_hook;
	shmem_request_hook = stat_shmem_request;
	prev_shmem_startup = shmem_startup_hook;
	shmem_startup_hook = stat_shmem_startup;
}

static void
require_stats(const char *what)
{
	if (!ps_stats_enabled())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s needs pushsource in shared_preload_libraries", what),
				 errdetail("Its counters live in shared memory, which only a library loaded at server start can have."),
				 errhint("Add pushsource to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/*
 * _stat(kind): the current database's entries of one kind, with the
 * counters that kind has.
 */
PG_FUNCTION_INFO_V1(fs_stat_entries);
Datum
fs_stat_entries(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char		kind = PG_GETARG_CHAR(0);
	HASH_SEQ_STATUS seq;
	PsStatEntry *e;

	require_stats(kind == STAT_SOURCE ? "pushsource.stat_sources" : "pushsource.stat_feature_views");
	InitMaterializedSRF(fcinfo, 0);
	LWLockAcquire(shared->lock, LW_SHARED);
	hash_seq_init(&seq, stat_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		Datum		values[8];
		bool		nulls[8] = {0};
		PsStatCounters c;

		if (e->key.dbid != MyDatabaseId || e->key.kind != kind)
			continue;
		SpinLockAcquire(&e->mutex);
		c = e->c;
		SpinLockRelease(&e->mutex);
		values[0] = CStringGetTextDatum(e->key.name);
		if (kind == STAT_SOURCE)
		{
			values[1] = Int64GetDatum(c.pushes);
			values[2] = Int64GetDatum(c.records);
			values[3] = Int64GetDatum(c.rejected);
			values[4] = Int64GetDatum(c.bytes);
			values[5] = Int64GetDatum(c.applied);
			values[6] = TimestampTzGetDatum(c.last_push);
			nulls[6] = c.last_push == DT_NOBEGIN;
			values[7] = TimestampTzGetDatum(c.newest_event);
			nulls[7] = c.newest_event == DT_NOBEGIN;
		}
		else
		{
			values[1] = Int64GetDatum(c.online_rows);
			values[2] = Int64GetDatum(c.offline_rows);
			values[3] = Int64GetDatum(c.late_ignored);
			for (int i = 4; i < 8; i++)
				nulls[i] = true;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(shared->lock);
	return (Datum) 0;
}

/* Removes the current database's entries (name NULL: all of them). */
static int64
forget(const char *name)
{
	HASH_SEQ_STATUS seq;
	PsStatEntry *e;
	int64		n = 0;

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	hash_seq_init(&seq, stat_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (e->key.dbid == MyDatabaseId && (name == NULL || strcmp(e->key.name, name) == 0))
		{
			hash_search(stat_hash, &e->key, HASH_REMOVE, NULL);
			n++;
		}
	LWLockRelease(shared->lock);
	return n;
}

/* fs_stat_reset(): clears the current database's counters */
PG_FUNCTION_INFO_V1(fs_stat_reset);
Datum
fs_stat_reset(PG_FUNCTION_ARGS)
{
	require_stats("fs_stat_reset()");
	PG_RETURN_INT64(forget(NULL));
}

/* _stat_forget(name): a dropped object's counters go with it */
PG_FUNCTION_INFO_V1(fs_stat_forget);
Datum
fs_stat_forget(PG_FUNCTION_ARGS)
{
	if (ps_stats_enabled())
		forget(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	PG_RETURN_VOID();
}

/* _stat_dropped(): counts lost since the server started because the table was full */
PG_FUNCTION_INFO_V1(fs_stat_dropped);
Datum
fs_stat_dropped(PG_FUNCTION_ARGS)
{
	require_stats("pushsource.stat_sources");
	PG_RETURN_INT64((int64) pg_atomic_read_u64(&shared->dropped));
}

static void
put_metric(StringInfo out, const char *name, const char *help, const char *type)
{
	appendStringInfo(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * fs_gateway_metrics(): the current database's counters in Prometheus'
 * text format, for the gateway's GET /metrics (as the same figures as
 * pushsource.stat_sources and stat_feature_views).  Object names are
 * pushsource names ([a-z0-9_]), which need no escaping in a label.
 */
PG_FUNCTION_INFO_V1(fs_gateway_metrics);
Datum
fs_gateway_metrics(PG_FUNCTION_ARGS)
{
	static const struct
	{
		char		kind;
		const char *name;
		const char *help;
		const char *type;
		const char *label;
	}			metrics[] = {
		{STAT_SOURCE, "pushsource_source_pushes_total", "Batches fanned out (statements, or transactions applied by logical replication).", "counter", "source"},
		{STAT_SOURCE, "pushsource_source_records_total", "Records fanned out, counted at commit.", "counter", "source"},
		{STAT_SOURCE, "pushsource_source_rejected_total", "Records refused by the validator, counted when refused.", "counter", "source"},
		{STAT_SOURCE, "pushsource_source_bytes_total", "Bytes of the records fanned out, as stored rows.", "counter", "source"},
		{STAT_SOURCE, "pushsource_source_applied_total", "Records applied by logical replication.", "counter", "source"},
		{STAT_SOURCE, "pushsource_source_newest_event_timestamp_seconds", "Newest event time pushed.", "gauge", "source"},
		{STAT_VIEW, "pushsource_feature_view_online_rows_total", "Online rows written by pushes.", "counter", "feature_view"},
		{STAT_VIEW, "pushsource_feature_view_offline_rows_total", "Offline rows written by pushes.", "counter", "feature_view"},
		{STAT_VIEW, "pushsource_feature_view_late_ignored_total", "Pushed events older than the stored online row.", "counter", "feature_view"},
	};
	StringInfoData out;

	initStringInfo(&out);
	if (!ps_stats_enabled())
	{
		appendStringInfoString(&out, "# pushsource counters are off: pushsource is not in shared_preload_libraries\n");
		PG_RETURN_TEXT_P(cstring_to_text(out.data));
	}
	LWLockAcquire(shared->lock, LW_SHARED);
	for (int m = 0; m < (int) lengthof(metrics); m++)
	{
		HASH_SEQ_STATUS seq;
		PsStatEntry *e;

		put_metric(&out, metrics[m].name, metrics[m].help, metrics[m].type);
		hash_seq_init(&seq, stat_hash);
		while ((e = hash_seq_search(&seq)) != NULL)
		{
			PsStatCounters c;
			int64		v;

			if (e->key.dbid != MyDatabaseId || e->key.kind != metrics[m].kind)
				continue;
			SpinLockAcquire(&e->mutex);
			c = e->c;
			SpinLockRelease(&e->mutex);
			switch (m)
			{
				case 0: v = c.pushes; break;
				case 1: v = c.records; break;
				case 2: v = c.rejected; break;
				case 3: v = c.bytes; break;
				case 4: v = c.applied; break;
				case 5:
					if (c.newest_event == DT_NOBEGIN)
						continue;
					appendStringInfo(&out, "%s{%s=\"%s\"} %.6f\n", metrics[m].name, metrics[m].label,
									 e->key.name, (double) (c.newest_event - SetEpochTimestamp()) / USECS_PER_SEC);
					continue;
				case 6: v = c.online_rows; break;
				case 7: v = c.offline_rows; break;
				default: v = c.late_ignored; break;
			}
			appendStringInfo(&out, "%s{%s=\"%s\"} " INT64_FORMAT "\n", metrics[m].name, metrics[m].label,
							 e->key.name, v);
		}
	}
	LWLockRelease(shared->lock);
	PG_RETURN_TEXT_P(cstring_to_text(out.data));
}
