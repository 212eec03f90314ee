/*
 * pit_int.h
 *		What the files of the point-in-time join share, and nobody else:
 *		pit.c (the SQL functions, the output, one view's join), pit_plan.c
 *		(resolving the arguments), pit_join.c (the as-of join: records,
 *		spill files, the index, the feature scan, the parallel scan) and
 *		pit_agg.c (aggregate views).  Names exported between them start
 *		with pit_.
 */
#ifndef PIT_INT_H
#define PIT_INT_H

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
#include "storage/fileset.h"
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
#include "storage/sharedfileset.h"


/* A spine record in memory: keys, time T, position in the spine. */
typedef struct PitFile PitFile;	/* pit_file.c */

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
	 * a quarter of the memory budget, else in a temp file; then their
	 * partitions
	 */
	char	   *spine_mem;
	Size		spine_cap;
	PitFile    *spine_file;
	int64		spine_n;
	int64		spine_bytes;
	int			nparts;
	int			pre_parts;		/* records written by hash slot as read (pit_prepartition) */
	PitFile   **spine_parts;
	int64	   *spine_part_n;
	int64	   *spine_part_bytes;
	bool		is_mock;		/* fs_run's mock source: never a parallel scan */
	PitFile   **feat_parts;		/* spilled feature rows, partitions 1.. */
	Size		part_buf;		/* write buffer of a partition's file */
	Size		bucket_buf;		/* write buffer of a result bucket's file */
	bool		parts_done;		/* partitions 1.. were joined by the parallel scan */
	int			p0_slots;		/* partition 0 is hash slots 0..p0_slots-1 */
	int			spill_fixed;	/* length of a spilled feature row, when fixed */
	/*
	 * In a parallel join of a partitioned spine, spilled feature rows (and a
	 * worker's results) go to files of this set, named by kind, process and
	 * number, so that every process can read them; NULL: private temp files
	 */
	SharedFileSet *fileset;
	int			procno;			/* ParallelWorkerNumber, or -1 in the leader */
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
	MemoryContext filecxt;		/* holds the PitFile structs (not SPI's memory) */
	uint64	   *seen;			/* bitset of spine key hashes */
	bool		ord_is_tid;		/* from_source: physical order breaks ties */
	/* results: by position in memory (one partition), or in buckets */
	Cand	  **res;
	TupleDesc	result_desc;
	Datum	   *rvals;
	bool	   *rnulls;
	PitFile   **buckets;
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
	bool		from_source;	/* rows as the push source holds them: its log or a mock */
	Oid			mock_relid;		/* fs_run's mock source read instead of the log, or InvalidOid */
	int64		nrows;			/* spine rows read */
	int64		bucket_rows;	/* spine positions per result bucket */
	int			nbuckets;
	bool		append_ok;		/* every feature is of a fixed-width by-value type */
	ParamListInfo spine_params; /* of an internal spine query (fs_run), or NULL */
	Oid			spine_relid;	/* a spine named as a table whose rows are
								 * the read spine's as they are (no cast, T a
								 * timestamptz): read by a heap scan (see
								 * pit_spine_direct), else InvalidOid */
} PitPlan;

/* The output of a join (pit.c): phase 3, row by row */
typedef struct PitOutput
{
	PitPlan    *plan;
	Tuplestorestate *spine;		/* the spine's rows, when read by its query */
	Relation	spine_rel;		/* else the table, read again (pit_spine_direct) */
	Snapshot	spine_snap;
	TableScanDesc spine_scan;
	TupleTableSlot *spine_slot;
	MemoryContext bucketcxt;	/* the current bucket's results */
	MemoryContext rowcxt;		/* a row formed from its values */
	Datum	   *values;
	bool	   *nulls;
	StringInfoData outbuf;		/* a row with the features appended */
	int			bucket;			/* the current bucket, -1 before the first */
	int64		pos;			/* the next spine position */
	int64		end;			/* the current bucket's end */
	bool		done;
	instr_time	started;
} PitOutput;

/* What every receiver of a view's feature rows begins with */
typedef struct PitViewReceiver
{
	DestReceiver pub;
	PitView    *pv;
} PitViewReceiver;

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

#define SEEN_BITS (1 << 20)

/* pit_file.c: temp files read and written in large chunks */
#define PIT_FILE_MIN_BUF ((Size) BLCKSZ)
#define PIT_FILE_MAX_BUF ((Size) 256 * 1024)
extern Size pit_file_buffer(double share, int nfiles);
extern PitFile *pit_file_create(FileSet *fs, const char *name, Size buf);
extern PitFile *pit_file_open(FileSet *fs, const char *name, bool missing_ok);
extern void pit_file_write(PitFile *f, const void *data, Size len);
extern Size pit_file_read(PitFile *f, void *data, Size len);
extern void pit_file_rewind(PitFile *f);
extern void pit_file_park(PitFile *f);
extern void pit_file_close(PitFile *f);

/* pit_plan.c */
extern SPIPlanPtr pit_prepare_spine_statement(const char *sql, const char *spine, ParamListInfo params);
extern void pit_lt_operator(Oid type, Oid *lt);
extern PitPlan *pit_plan_join(const char *spine, ArrayType *features, const char *timestamp_key, bool full_names, bool from_source, ParamListInfo spine_params, Oid mock_relid);
extern void pit_check_mock(PsView *v, Oid mock);
extern void pit_check_feature_desc(PsView *v, TupleDesc desc);
extern Size pit_memory_budget(void);
extern int	pit_max_workers(void);

/*
 * The partition of a key hash: its low bits pick one of nparts slots, and
 * partition 0 (probed during the scan, never spilled) takes the first
 * p0_slots of them, as many as the memory of the scan allows.
 */
static inline int
pit_part_of(const PitView *pv, uint32 h)
{
	int			slot = (int) (h & (uint32) (pv->nparts - 1));

	return slot < pv->p0_slots ? 0 : slot;
}

/* pit_join.c */
extern void pit_phase(instr_time *since, const char *what, int64 n);
extern void pit_write_record(PitView *pv, PitFile **file, uint32 hash, MinimalTuple tup);
extern int	pit_plan_parts(PitView *pv, double spine_n, double spine_bytes, double nrows, double *need);
extern PitFile *pit_spill_file(PitView *pv, char kind, int n);
extern MinimalTuple pit_read_record(PitFile *file, uint32 *hash);
extern int64 pit_result_pos(PitView *pv, MinimalTuple mt);
extern void pit_rewind_run(PitFile *file);
extern void pit_decode_values(char *rec, int n, int16 *len, bool *byval, Datum *vals, bool *nulls, int natts);
extern void pit_write_encoded(MemoryContext filecxt, PitFile **file, Size buf, StringInfo enc, uint32 hash, int64 *n, int64 *bytes);
extern char *pit_next_spine_record(PitView *pv, int64 *off);
extern char *pit_read_partition(PitFile *file, int64 bytes);
extern void pit_read_whole(PitFile *file, char *buf, int64 bytes);
extern void pit_prepartition(PitPlan *plan, Relation rel);
extern void pit_prepartition_done(PitPlan *plan);
extern char *pit_read_encoded(PitFile *file, StringInfo buf);
extern uint32 pit_hash_keys(PitView *pv, Datum *vals);
extern void pit_begin_view_join(PitView *pv, bool from_source);
extern void pit_spill_format(PitView *pv);
extern Oid	pit_history_relid(PitPlan *plan, PsView *v);
extern char *pit_feature_query(PitView *pv, PitPlan *plan, bool bounded_below, int ncols, const int *cols);
extern void pit_receiver_noop_startup(DestReceiver *self, int operation, TupleDesc typeinfo);
extern void pit_feature_receiver_startup(DestReceiver *self, int operation, TupleDesc typeinfo);
extern void pit_receiver_noop(DestReceiver *self);
extern bool pit_spine_receive(TupleTableSlot *slot, DestReceiver *self);
extern int pit_compare_key_datums(PitView *pv, Datum *a, Datum *b);
extern PitIndex *pit_build_index(PitView *pv, char *buf, int64 n);
extern void pit_probe_batch(PitView *pv, PitIndex *ix);
extern void pit_probe_row(PitView *pv, PitIndex *ix, uint32 h, Datum *vals, bool *nulls);
extern void pit_finish_index(PitPlan *plan, PitView *pv, PitIndex *ix);
extern void pit_join_partition(PitPlan *plan, PitView *pv, PitFile *spine, int64 n, int64 bytes, PitFile **feat, int nfeat);
extern int64 pit_tid_order(ItemPointer ip);
extern void pit_run_feature_query(PitView *pv, const char *sql, TimestampTz p1, TimestampTz p2, TimestampTz p3, DestReceiver *dest);
extern void pit_scan_features(PitPlan *plan, PitView *pv, TimestampTz min_t, TimestampTz max_t);

/* pit.c */
extern PitPlan *pit_plan_from_args(Datum *args, bool *argnull);
extern void pit_check_expected_desc(TupleDesc exp, PitPlan *plan);
extern PitOutput *pit_output_begin(PitPlan *plan);
extern MinimalTuple pit_output_next(PitOutput *o);
extern bool pit_output_next_values(PitOutput *o, Datum *values, bool *nulls);
extern void pit_output_end(PitOutput *o);

/* pit_agg.c */
extern void pit_join_agg_view(PitPlan *plan, PitView *pv);

#endif							/* PIT_INT_H */
