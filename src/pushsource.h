/*
 * pushsource.h
 *		Shared declarations of the pushsource extension.
 *
 * The extension is split by concept, and no two files call each other in
 * a loop (test/module_loops.pl): names.c holds the naming rules;
 * catalog.c caches the SQL catalog (sources, views, services) per backend,
 * reading rows by the column names of catalog_columns.h; aggdecl.c
 * declares aggregate features; store.c spells the stores' layout for the
 * statements that write them; typespec.c parses push schemas
 * (PostgreSQL or Tecton type names); validate.c turns JSON records and
 * table rows into checked values with one set of rules; fanout.c is the
 * trigger pair that buffers a statement's rows and writes every feature
 * view's stores; push.c holds fs_push and fs_ingest; online.c serves
 * features by key; pit.c builds point-in-time-correct training data (its
 * arguments in pit_plan.c, the as-of join in pit_join.c, aggregate views in
 * pit_agg.c);
 * partial.c is the partial aggregate state (fs_partial; its sketches in
 * sketch.c, its stored and text forms in partial_io.c, its SQL interface
 * in partial_sql.c) and aggregation.c the aggregate feature views built
 * on it (tiles, fan-out, online reads); partition.c reads the time
 * partitions of source logs and offline stores.
 */
#ifndef PUSHSOURCE_H
#define PUSHSOURCE_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"
#include "utils/tuplestore.h"

/* Tiles per block row of a tiled aggregate view's online state. */
#define TILES_PER_BLOCK 60

/* Longest object name accepted (DESIGN: at most 48 bytes). */
#define PS_MAX_NAME_LEN 48

/* Deepest nesting of types in a push schema: Array(Struct(x Map(...))). */
#define PS_MAX_TYPE_DEPTH 32

/* Name of the hidden ingest-order column in buffers and stores. */
#define PS_INGEST_COL "_fs_ingest_id"

/* Names of the ephemeral relations the C code hands to SQL. */
#define PS_BATCH_ENR "pushsource_batch"
#define PS_RECORDS_ENR "pushsource_records"

/* ---------------------------------------------------------------------
 * Types of push-schema columns (typespec.c)
 * --------------------------------------------------------------------- */
typedef enum PsTypeKind
{
	PS_STRING,					/* text, varchar(n), bpchar(n), Tecton String */
	PS_INT2,
	PS_INT4,					/* Tecton Int32 */
	PS_INT8,					/* Tecton Int64 */
	PS_FLOAT4,					/* Tecton Float32 */
	PS_FLOAT8,					/* Tecton Float64 */
	PS_NUMERIC,
	PS_BOOL,					/* Tecton Bool */
	PS_TIMESTAMPTZ,				/* Tecton Timestamp */
	PS_TIMESTAMP,
	PS_DATE,
	PS_JSON,					/* jsonb / json: any JSON value */
	PS_ARRAY,					/* JSON array of elem */
	PS_STRUCT,					/* Tecton Struct(...): JSON object, known fields */
	PS_MAP,						/* Tecton Map(String, T): JSON object */
	PS_OTHER					/* any other type: JSON string -> input function */
} PsTypeKind;

typedef struct PsTypeSpec
{
	PsTypeKind	kind;
	char	   *display;		/* what the user declared: "Int64", "text" */
	Oid			typid;			/* column type when stored as a column */
	int32		typmod;
	bool		as_jsonb;		/* value is kept as jsonb (Struct, Map, nested) */
	/* arrays */
	struct PsTypeSpec *elem;
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
	/* structs */
	int			nfields;
	char	  **fieldnames;
	struct PsTypeSpec **fields;
	/* PS_OTHER: input function */
	Oid			infunc;
	Oid			ioparam;
} PsTypeSpec;

extern PsTypeSpec *ps_parse_type(const char *str, const char *column);
extern PsTypeSpec *ps_type_for_column(const char *declared, Oid typid, int32 typmod,
									  const char *column);
extern List *ps_split_schema(const char *schema, List **types);

/* ---------------------------------------------------------------------
 * Catalog cache (catalog.c)
 * --------------------------------------------------------------------- */
struct PsSource;

/* One partial state a view keeps per tile or event: (column, function). */
typedef struct PsAggSlot
{
	int			col;			/* index into source->cols */
	int			arg;			/* index into the view's feature_cols */
	int			fn;				/* PsAggFn */
	int			n;
	int			vt;				/* PsValType */
	Oid			typid;			/* the column's type */
} PsAggSlot;

/* One aggregate feature: a slot over a window. */
typedef struct PsAgg
{
	char	   *name;
	char	   *spec;			/* "sum", "last_n(3)" */
	int			slot;
	int64		window;			/* microseconds */
} PsAgg;

typedef struct PsView
{
	char	   *name;
	struct PsSource *source;
	int			nkeys;
	int		   *key_cols;		/* indexes into source->cols */
	int			nfeatures;
	int		   *feature_cols;	/* stored value columns: indexes into source->cols */
	/* aggregate views (naggs > 0): features are aggregations of feature_cols */
	int			naggs;
	PsAgg	   *aggs;
	int			nslots;
	PsAggSlot  *slots;
	int64		agg_interval;	/* microseconds; 0 = continuous */
	int64		max_window;
	bool		has_ttl;
	Interval	ttl;
	bool		online;
	bool		offline;
	bool		has_start_time;
	TimestampTz start_time;
	Oid			online_relid;
	Oid			offline_relid;
	Oid			owner;			/* pushsource_admin: the fan-out writes stores as it */
	char	   *problem;		/* why the view cannot be used (a store is gone), or NULL */
	const char *kind;			/* for messages: NULL = "feature view"; "push source" for
								 * the key set of a source-level fs_delete_keys */
	SPIPlanPtr	offline_plan;
	SPIPlanPtr	online_plan;
	SPIPlanPtr	online_keys_plan;	/* store.c: the keys a batch's online upsert considers */
	SPIPlanPtr	read_plan;
	struct PsDirectRead *direct_read;	/* online.c: the online row read by its index */
	char	  **served_full_names;	/* online.c: "view.feature", per served feature */
	SPIPlanPtr	prune_plan;		/* continuous aggregates: drop events out of every window */
	SPIPlanPtr	backfill_tiles_plan;	/* tiled: fs_materialize's blocks */
} PsView;

/* What a PsView is, in messages (see kind) */
#define PS_VIEW_KIND(v) ((v)->kind ? (v)->kind : "feature view")

typedef struct PsColumn
{
	char	   *name;
	PsTypeSpec *type;
	AttrNumber	attnum;			/* in the source table, 0 if dropped */
	bool		required;		/* timestamp field or a consumer's join key */
	int16		typlen;			/* of the column's type (-1: varlena) */
} PsColumn;

/*
 * The most bytes a record's join key values (of variable length) may
 * take together: every key of a view then fits in its online store's
 * primary key and its events' index, whose entries hold at most about
 * 2,700 bytes on 8 kB pages.
 */
#define PS_MAX_KEY_BYTES 2000

typedef struct PsSource
{
	char	   *name;
	Oid			relid;
	int			ncols;
	PsColumn   *cols;
	int			ts_col;
	bool		log_offline;
	Oid			batch_relid;	/* batch_table, InvalidOid if none */
	int			nviews;
	PsView	  **views;
	TupleDesc	record_desc;	/* push schema columns, as fs_push forms them */
	TupleDesc	buffer_desc;	/* push schema columns + ingest id */
	SPIPlanPtr	insert_plan;	/* INSERT INTO source SELECT FROM records */
} PsSource;

extern void ps_catalog_refresh(void);
extern PsSource *ps_lookup_source(const char *name, bool missing_ok);
extern PsSource *ps_lookup_source_by_relid(Oid relid);
extern PsView *ps_lookup_view(const char *name, bool missing_ok);
extern List *ps_lookup_service(const char *name, List **features);
extern void ps_check_view(PsView *v);
extern bool ps_view_is_join_key(const PsView *v, const char *name, int len);
extern bool ps_view_in_catalog(const char *name);
extern void ps_keep_plan(SPIPlanPtr plan);
extern const char *ps_internal_schema(void);
extern MemoryContext ps_catalog_cxt(void);
extern void ps_catalog_init(void);

/* stats.c: pushsource.stat_sources and stat_feature_views */
extern void ps_stats_init(void);
extern bool ps_stats_enabled(void);
extern void ps_stat_pushed(const char *source, int64 records, int64 bytes, TimestampTz newest, bool applied);
extern void ps_stat_view_written(const char *view, int64 online, int64 offline, int64 late);
extern void ps_stat_rejected(const char *source, int64 n);
extern char *ps_workspace_mismatch(const char *name);

/* names.c: what objects and columns may be called; qualified relation names */
extern bool ps_name_is_valid(const char *name);
extern void ps_check_name(const char *name, const char *what);

/* ---------------------------------------------------------------------
 * Time partitions of source logs and offline stores (partition.c)
 * --------------------------------------------------------------------- */
typedef struct PsPartition
{
	Oid			relid;
	bool		leaf;			/* a plain table (not sub-partitioned) */
	bool		is_default;
	bool		has_lower;		/* lower: first event time it holds */
	bool		has_upper;		/* upper: first event time it does not */
	TimestampTz lower;
	TimestampTz upper;
} PsPartition;

extern PsPartition *ps_partitions(Oid relid, int *n);
extern bool ps_partition_overlaps(const PsPartition *p, bool bounded_below,
								  TimestampTz lower, TimestampTz upper);

extern char *ps_qualified_relname(Oid relid);
extern int	ps_column_index(PsSource *src, const char *name, const char *view);

/* store.c: the stores' layout as statements spell it */
extern void ps_append_store_columns(StringInfo buf, PsView *v, const char *prefix);
extern SPIPlanPtr ps_prepare_fanout(const char *sql, PsView *v);
extern void ps_store_prepare_view(PsView *v);
extern bool ps_store_value_apart(PsView *v, int i);
extern SPIPlanPtr ps_store_tiles_plan(PsView *v, bool backfill);
extern SPIPlanPtr ps_store_events_plan(PsView *v);
extern SPIPlanPtr ps_store_prune_plan(PsView *v);
extern SPIPlanPtr ps_store_agg_read_plan(PsView *v);
extern char *ps_store_backfill_reader(PsView *v, Oid batch_relid, bool dedupe);
extern char *ps_store_delete_keys_sql(PsView *v, bool online, bool offline, bool log);
extern char *ps_store_online_read_sql(PsView *v, Oid **argtypes);
extern char *ps_store_history_sql(PsView *v, Oid relid, bool from_source, bool bounded_below, int ncols,
								  const int *cols);
extern void ps_store_clear_backfill(PsView *v, TimestampTz start, TimestampTz end,
									TimestampTz block_lo, TimestampTz block_hi, bool all);

/* aggdecl.c: declarations of aggregate features, the catalog's view of them */
extern void ps_view_set_aggregations(PsView *v, Datum aggs, int64 interval);
extern int64 ps_agg_interval_us(Datum interval);
extern Oid	ps_agg_feature_type(PsView *v, int agg);

/* security.c: our SQL runs with search_path pinned; stores' fixed writer */
extern int	ps_spi_connect(void);
extern void ps_spi_finish(int nest);
extern void ps_spi_connect_caller(void);
extern Oid	ps_store_role(void);
extern Oid	ps_extension_owner(void);

/* apikey.c: the HTTP gateway's API keys */
extern void ps_apikey_init(void);
extern Oid	ps_api_key_role(const char *key);

/* ---------------------------------------------------------------------
 * Validation (validate.c)
 * --------------------------------------------------------------------- */
typedef struct PsRecordError
{
	int			sqlstate;
	char	   *field;			/* path of the field, NULL for the record */
	char	   *message;		/* full sentence, names source/record/field */
	char	   *problem;		/* the part after the record: field, expected, got */
} PsRecordError;

extern bool ps_record_from_json(PsSource *src, JsonbValue *record, int index,
								Datum *values, bool *nulls, PsRecordError *err);
extern bool ps_check_row(PsSource *src, Datum *values, bool *nulls, int index,
						 PsRecordError *err);
extern int	ps_value_from_json(PsTypeSpec *type, JsonbValue *v,
							   Datum *value, bool *isnull, StringInfo path,
							   StringInfo expected, StringInfo got);
extern void ps_raise_record_error(PsRecordError *err);

/* validate.c: pushsource.rejected_records, where refused records are kept */
typedef struct RejectedRecord
{
	int			index;
	Jsonb	   *record;			/* NULL unless it is to be saved */
	PsRecordError err;
	const char *source;
} RejectedRecord;
extern void ps_save_rejects(PsSource *src, List *rejected);
extern void ps_save_rejected_row(PsSource *src, int index, Jsonb *record, const PsRecordError *err);

/* the bad records a reply or a job's result lists (all are counted) */
#define PS_MAX_RECORD_ERRORS 100

/* jsonb building (push.c) */
extern void ps_jsonb_key(JsonbParseState **st, const char *key);
extern void ps_jsonb_string(JsonbParseState **st, const char *key, const char *value);
extern char *ps_json_text(JsonbValue *v, int maxlen);
extern bool ps_parse_rfc3339(const char *s, TimestampTz *out);
extern char *ps_format_timestamp_utc(TimestampTz ts);

/* ---------------------------------------------------------------------
 * Fan-out (fanout.c)
 * --------------------------------------------------------------------- */
typedef enum PsPushMode
{
	PS_MODE_ONLINE_AND_OFFLINE,
	PS_MODE_ONLINE,
	PS_MODE_OFFLINE
} PsPushMode;

typedef struct PsViewCounts
{
	char	   *view;
	int64		online;
	int64		offline;
} PsViewCounts;

/* push.c: the push path of fs_push, fs_ingest and Feast's /push */
typedef struct PsPushed
{
	const char *source;
	int64		records;
} PsPushed;

extern Jsonb *ps_push(const char *name, Jsonb *records, PsPushMode mode, bool dry_run,
					  bool skip, int64 *accepted);
extern Jsonb *ps_ingest(Jsonb *req, bool *bad, List **pushed);
extern PsPushMode ps_parse_push_mode(const char *mode);

extern void ps_fanout_begin_push(Oid relid, PsPushMode mode);
extern List *ps_fanout_end_push(void);
extern void ps_fanout_abort_push(void);
extern void ps_fanout_init(void);

/* ingest order: a batch id (a sequence value << 24) + the row's position */
#define PS_ROWS_PER_BATCH_ID (INT64CONST(1) << 24)
extern int64 ps_backfill_batch_id(void);
extern void ps_fanout_backfill(PsView *v, Tuplestorestate *rows, int64 nrows, bool offline,
							   bool online, int64 *n_online, int64 *n_offline);

/* ---------------------------------------------------------------------
 * Partial aggregate states (partial.c)
 * --------------------------------------------------------------------- */
typedef enum PsAggFn
{
	PS_AGG_COUNT,
	PS_AGG_SUM,
	PS_AGG_MEAN,
	PS_AGG_MIN,
	PS_AGG_MAX,
	PS_AGG_LAST,
	PS_AGG_LAST_N,
	PS_AGG_LAST_DISTINCT_N,
	PS_AGG_FIRST_N,
	PS_AGG_FIRST_DISTINCT_N,
	PS_AGG_STDDEV_SAMP,			/* the four variance kinds stay together */
	PS_AGG_STDDEV_POP,
	PS_AGG_VAR_SAMP,
	PS_AGG_VAR_POP,
	PS_AGG_APPROX_COUNT_DISTINCT,	/* HyperLogLog; n is the precision */
	PS_AGG_APPROX_PERCENTILE,	/* DDSketch; n is p in millionths */
	PS_AGG_NFNS
} PsAggFn;

typedef enum PsValType
{
	PS_VT_INT8,					/* any integer column */
	PS_VT_FLOAT8,				/* float4, float8 */
	PS_VT_BOOL,					/* kept as 0 / 1 */
	PS_VT_TS,					/* timestamptz; timestamp read as UTC */
	PS_VT_TEXT,
	PS_VT_N
} PsValType;

typedef struct PsItem
{
	TimestampTz ts;				/* the event's time and ingest order */
	int64		ord;
	Datum		v;
} PsItem;

/* One sign of a percentile sketch: counts of indexes [lo, hi). */
typedef struct PsSketchSide
{
	int32		lo;
	int32		hi;
	int64	   *cnt;
} PsSketchSide;

typedef struct PsPartial
{
	PsAggFn		fn;
	int			n;				/* the *_n lists: at most n items */
	PsValType	vt;
	int64		count;			/* non-NULL values summarized */
	int128		isum;			/* sum, mean of integers */
	float8		fsum;			/* sum, mean of floats: compensated */
	float8		fcomp;
	float8		mean;			/* variances: Welford */
	float8		m2;
	int			nitems;			/* min, max, last: 0 or 1; lists */
	PsItem	   *items;
	/* approx_count_distinct: sorted distinct hashes, or 2^n registers */
	int			nhash;
	int			hcap;
	uint64	   *hashes;
	uint8	   *regs;
	/* approx_percentile: bucket counts by log index, both signs */
	PsSketchSide pos;
	PsSketchSide neg;
	int64		special[4];		/* zero, -Infinity, Infinity, NaN */
	float8		min;			/* exact extremes, in PostgreSQL's float order */
	float8		max;
	MemoryContext cxt;			/* the state's memory: what it points to lives here */
} PsPartial;

extern const char *ps_agg_fn_name(PsAggFn fn);
extern PsAggFn ps_agg_fn_parse(const char *spec, int *n, const char *what);
extern char *ps_agg_spec(PsAggFn fn, int n);
extern char *ps_agg_name_part(PsAggFn fn, int n);
extern bool ps_agg_is_sketch(PsAggFn fn);
extern int	ps_agg_value_type(Oid typid);
extern PsValType ps_agg_check_input(PsAggFn fn, Oid typid, const char *what);
extern Oid	ps_agg_result_type(PsAggFn fn, PsValType vt);
extern PsPartial *ps_partial_new(PsAggFn fn, int n, PsValType vt);
extern void ps_partial_add(PsPartial *p, Oid typid, Datum value, TimestampTz ts, int64 ord);
extern void ps_partial_combine(PsPartial *a, PsPartial *b);
extern PsPartial *ps_partial_copy(PsPartial *p);
extern Datum ps_partial_final(PsPartial *p, bool *isnull);
extern bool ps_partial_out_of_range(const PsPartial *p);
extern bytea *ps_partial_flatten(PsPartial *p);
extern PsPartial *ps_partial_unflatten(Datum d);
extern void ps_partial_write(StringInfo buf, PsPartial *p);
extern PsPartial *ps_partial_read(const char *data, int len);

/* ---------------------------------------------------------------------
 * Aggregate feature views (aggregation.c)
 * --------------------------------------------------------------------- */
extern int64 ps_agg_fanout(PsView *v, Datum start, bool backfill);
extern TimestampTz ps_tile_block_start(PsView *v, TimestampTz ts);

/* 1970-01-01 00:00 UTC as a TimestampTz */
#define UNIX_EPOCH_TS ((int64) (UNIX_EPOCH_JDATE - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY)

/* The greatest multiple of step since the Unix epoch that is <= ts. */
static inline TimestampTz
ps_floor_to(TimestampTz ts, int64 step)
{
	int128		rel = (int128) ts - UNIX_EPOCH_TS;
	int128		q = rel / step;

	if (rel % step < 0)
		q--;
	return (TimestampTz) (q * step + UNIX_EPOCH_TS);
}

extern void ps_agg_read(PsView *v, Datum *keys, TimestampTz request,
						Datum *values, bool *nulls, int64 *counts, TimestampTz *window_end);
extern void ps_push_json_value(JsonbParseState **st, Datum value, Oid typid, bool isnull);
extern bool ps_json_scalar(Datum value, Oid typid, const char *view, const char *feature,
						   JsonbValue *jv);

/* One key's events for the historical sweep, sorted by (ts, ord). */
typedef struct PsAggEvents
{
	int64		n;
	TimestampTz *ts;
	int64	   *ord;
	Datum	   *vals;			/* n rows of the view's nfeatures value columns */
	bool	   *nulls;
} PsAggEvents;

extern TimestampTz ps_agg_window_hi(PsView *v, TimestampTz t);
extern void ps_agg_sweep(PsView *v, int nsel, const int *sel, const PsAggEvents *ev,
						 int64 nrec, const TimestampTz *t, Datum *out, bool *outnull);

/* online.c: one reader; every serving shape is rendered from its PsServed */
typedef struct PsServeTarget
{
	PsView	   *view;
	List	   *features;		/* names wanted from the view, NIL = all */
} PsServeTarget;

typedef struct PsServed
{
	PsView	   *view;
	const char *feature;		/* the feature's name in its view */
	char	   *name;			/* "view.feature" */
	PsTypeSpec *type;			/* what the value is (a column's or an aggregate's type) */
	JsonbValue	value;			/* jbvNull when there is none */
	bool		has_time;		/* false when no row */
	TimestampTz time;			/* the row's event time (a window's end) */
	char	   *effective_time; /* its RFC 3339 UTC text, once asked for */
	const char *status;			/* PRESENT, MISSING_DATA, OUTSIDE_TTL */
} PsServed;

extern const char *ps_served_effective_time(PsServed *f);

extern List *ps_serve_targets(const char *name);
extern bool ps_serve_wants(const PsServeTarget *t, const char *feature);
extern int	ps_view_nserved(const PsView *v);
extern const char *ps_view_served_name(const PsView *v, int i);
extern void ps_serve_check_view(PsView *v);
extern List *ps_serve_key(List *targets, const char *name, JsonbValue *keyobj, int index);
extern TimestampTz ps_request_time(void);
extern void ps_online_init(void);
extern void ps_online_batch_begin(MemoryContext cxt);
extern void ps_online_batch_end(bool close);
extern void ps_pit_plan_init(void);
extern void ps_pit_scan_init(void);
extern void ps_operations_init(void);
extern void ps_view_key_from_json(PsView *v, JsonbValue *keyobj, int index,
								  Datum *values, bool *nulls);

#endif							/* PUSHSOURCE_H */
