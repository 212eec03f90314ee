/*
 * catalog.c
 *		Per-backend cache of the pushsource catalog, and the small
 *		SQL-callable helpers the registration functions use.
 *
 * The catalog itself is plain SQL tables in schema pushsource (edited by the
 * PL/pgSQL registration functions in the install script).  Hot paths (the
 * fan-out trigger, fs_push, fs_get_online_features) must not query it per
 * call, so a source is loaded once, with its columns' type specs, its
 * feature views and their prepared plans, into a "generation".
 *
 * A statement trigger on the catalog tables sends a relcache invalidation
 * for the table (as pg_cron does for cron.job); our relcache callback then
 * marks the generation stale.  The callback may run at any lock acquisition,
 * even while a plan of the generation is executing, so it never frees
 * anything: the next entry point starts a fresh generation and the stale one
 * is freed at the end of the transaction, when nobody can still hold it.
 */
#include "pushsource.h"
#include "catalog_columns.h"

#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "commands/extension.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

typedef struct PsGeneration
{
	MemoryContext cxt;
	List	   *sources;		/* PsSource * */
	List	   *plans;			/* kept SPIPlanPtr, freed with the generation */
	List	   *relids;			/* relations whose invalidation makes us stale */
	SPIPlanPtr	service_plan;	/* ps_lookup_service's query */
	List	   *services;		/* ServiceEntry *: services read so far */
	List	   *not_views;		/* char *: names read and found not to be views */
	const char *internal_schema;	/* ps_internal_schema() */
	bool		stale;
	struct PsGeneration *next;	/* in the retired list */
} PsGeneration;

/* A feature service as ps_lookup_service found it, kept for its generation. */
typedef struct ServiceEntry
{
	char	   *name;
	List	   *view_names;		/* char * */
	List	   *features;		/* per view, a List of char * */
} ServiceEntry;

static PsGeneration *current_gen = NULL;
static PsGeneration *retired_gens = NULL;
static Oid	catalog_relids[4];

/* ---------------------------------------------------------------------
 * Schema parsing for the registration functions
 * --------------------------------------------------------------------- */

/*
 * _parse_schema(schema) -> (column_name, declared_type, pg_type)
 * pg_type is rendered by format_type from a resolved type OID, so the
 * registration code may use it in CREATE TABLE without splicing user text.
 */
PG_FUNCTION_INFO_V1(fs_parse_schema);
Datum
fs_parse_schema(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *types;
	List	   *names;
	ListCell   *ln,
			   *lt;

	InitMaterializedSRF(fcinfo, 0);
	names = ps_split_schema(text_to_cstring(PG_GETARG_TEXT_PP(0)), &types);
	forboth(ln, names, lt, types)
	{
		char	   *name = lfirst(ln);
		PsTypeSpec *spec;
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		ps_check_name(name, "column");
		if (strncmp(name, "_fs_", 4) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_RESERVED_NAME),
					 errmsg("column name \"%s\" is reserved", name),
					 errdetail("Names starting with \"_fs_\" are used by pushsource's stores.")));
		spec = ps_parse_type(lfirst(lt), name);
		values[0] = CStringGetTextDatum(name);
		values[1] = CStringGetTextDatum(spec->display);
		values[2] = CStringGetTextDatum(format_type_with_typemod(spec->typid, spec->typmod));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* ---------------------------------------------------------------------
 * Invalidation
 * --------------------------------------------------------------------- */

/* Statement trigger on the catalog tables. */
PG_FUNCTION_INFO_V1(fs_catalog_changed);
Datum
fs_catalog_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("_catalog_changed() must be called as a trigger")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}

static void
relcache_callback(Datum arg, Oid relid)
{
	ListCell   *lc;

	if (current_gen == NULL || current_gen->stale)
		return;
	if (relid == InvalidOid)
	{
		current_gen->stale = true;
		return;
	}
	for (int i = 0; i < (int) lengthof(catalog_relids); i++)
		if (catalog_relids[i] == relid)
		{
			current_gen->stale = true;
			return;
		}
	foreach(lc, current_gen->relids)
		if (lfirst_oid(lc) == relid)
		{
			current_gen->stale = true;
			return;
		}
}

static void
free_generation(PsGeneration *gen)
{
	ListCell   *lc;

	foreach(lc, gen->plans)
		SPI_freeplan((SPIPlanPtr) lfirst(lc));
	MemoryContextDelete(gen->cxt);
}

static void
catalog_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT)
	{
		while (retired_gens != NULL)
		{
			PsGeneration *g = retired_gens;

			retired_gens = g->next;
			free_generation(g);
		}
	}
}

/* Entry points call this first: a stale generation is retired. */
void
ps_catalog_refresh(void)
{
	if (current_gen != NULL && current_gen->stale)
	{
		current_gen->next = retired_gens;
		retired_gens = current_gen;
		current_gen = NULL;
	}
}

/*
 * The schema of the extension's internals (catalog tables, `_` functions):
 * pushsource_internal since 0.4, pushsource in a database whose extension
 * is not updated yet -- the library serves both.  A schema of that name
 * counts only if it belongs to the extension: anyone with CREATE on the
 * database could make one and fill it with a catalog of their own.
 */
static const char *
find_internal_schema(void)
{
	Oid			nsp = get_namespace_oid("pushsource_internal", true);
	Oid			ext = get_extension_oid("pushsource", true);

	if (OidIsValid(nsp) && OidIsValid(ext) &&
		getExtensionOfObject(NamespaceRelationId, nsp) == ext)
		return "pushsource_internal";
	return "pushsource";
}

static PsGeneration *
generation(void)
{
	if (current_gen == NULL)
	{
		MemoryContext cxt = AllocSetContextCreate(TopMemoryContext,
												  "pushsource catalog cache",
												  ALLOCSET_DEFAULT_SIZES);
		PsGeneration *gen = MemoryContextAllocZero(cxt, sizeof(PsGeneration));
		Oid			nsp;
		static const char *const tables[] = {"source_catalog", "view_catalog",
		"service_catalog", "service_feature"};

		gen->internal_schema = find_internal_schema();
		nsp = get_namespace_oid(gen->internal_schema, false);
		for (int i = 0; i < (int) lengthof(tables); i++)
			catalog_relids[i] = get_relname_relid(tables[i], nsp);
		gen->cxt = cxt;
		current_gen = gen;
	}
	return current_gen;
}

const char *
ps_internal_schema(void)
{
	return generation()->internal_schema;
}

/* The memory of the cached catalog: what is kept beside a PsView lives here */
MemoryContext
ps_catalog_cxt(void)
{
	return generation()->cxt;
}

void
ps_keep_plan(SPIPlanPtr plan)
{
	MemoryContext old = MemoryContextSwitchTo(generation()->cxt);

	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	current_gen->plans = lappend(current_gen->plans, plan);
	MemoryContextSwitchTo(old);
}

/* pushsource.workspace: the Tecton workspace this database is ("": any) */
static char *workspace_setting = "";

void
ps_catalog_init(void)
{
	CacheRegisterRelcacheCallback(relcache_callback, (Datum) 0);
	RegisterXactCallback(catalog_xact_callback, NULL);
	DefineCustomStringVariable("pushsource.workspace",
							   "The Tecton workspace this database is.",
							   "Ingest and serving requests naming another workspace_name are "
							   "refused. Empty (the default): any workspace_name is accepted.",
							   &workspace_setting, "", PGC_SUSET, 0,
							   NULL, NULL, NULL);
}

/*
 * One database is one Tecton workspace: NULL when a request's
 * workspace_name may be served here, else why not (for its error).
 */
char *
ps_workspace_mismatch(const char *name)
{
	if (workspace_setting == NULL || workspace_setting[0] == '\0' ||
		strcmp(name, workspace_setting) == 0)
		return NULL;
	return psprintf("workspace \"%s\" does not exist: this database is workspace \"%s\" (pushsource.workspace)",
					name, workspace_setting);
}

/* ---------------------------------------------------------------------
 * Loading
 * --------------------------------------------------------------------- */

static char *
get_text(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static List *
get_text_array(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);
	Datum	   *elems;
	bool	   *enulls;
	int			n;
	List	   *result = NIL;

	if (isnull)
		return NIL;
	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &enulls, &n);
	for (int i = 0; i < n; i++)
		result = lappend(result, enulls[i] ? NULL : TextDatumGetCString(elems[i]));
	return result;
}

/* Is column name of relid there, of type typid?  NULL, or what is wrong. */
static char *
column_mismatch(Oid relid, const char *name, Oid typid, const char *what)
{
	AttrNumber	att = get_attnum(relid, name);
	Oid			has;

	if (att == InvalidAttrNumber)
		return psprintf("its %s store has no column \"%s\"", what, name);
	has = get_atttype(relid, att);
	if (has != typid)
		return psprintf("column \"%s\" of its %s store is of type %s, not %s",
						name, what, format_type_be(has), format_type_be(typid));
	return NULL;
}

/*
 * Are a store's columns what the view reads and writes?  The fan-out and the
 * point-in-time scan decode stored rows with the source's types: a store
 * column of another type (ALTER TABLE by hand) must stop the view, not be
 * decoded as something it is not.
 */
static char *
store_mismatch(PsView *v, Oid relid, const char *what, bool tiles)
{
	PsSource   *src = v->source;
	char	   *m = NULL;

	for (int i = 0; m == NULL && i < v->nkeys; i++)
		m = column_mismatch(relid, src->cols[v->key_cols[i]].name,
							src->cols[v->key_cols[i]].type->typid, what);
	if (tiles)
	{
		if (m == NULL)
			m = column_mismatch(relid, "block_start", TIMESTAMPTZOID, what);
		if (m == NULL)
			m = column_mismatch(relid, "totals", BYTEAOID, what);
		if (m == NULL)
			m = column_mismatch(relid, "tiles", BYTEAOID, what);
		if (m == NULL)
			m = column_mismatch(relid, "_fs_batch", BOOLOID, what);
		return m;
	}
	if (m == NULL)
		m = column_mismatch(relid, src->cols[src->ts_col].name, TIMESTAMPTZOID, what);
	for (int i = 0; m == NULL && i < v->nfeatures; i++)
		m = column_mismatch(relid, src->cols[v->feature_cols[i]].name,
							src->cols[v->feature_cols[i]].type->typid, what);
	if (m == NULL)
		m = column_mismatch(relid, PS_INGEST_COL, INT8OID, what);
	return m;
}

/*
 * Load one source (by name or by table OID) and its views into the current
 * generation.  Returns NULL when there is no such source.
 */
static PsSource *
load_source(const char *name, Oid relid)
{
	int			spi_nest;
	PsGeneration *gen = generation();
	MemoryContext old;
	PsSource   *src;
	Datum		arg;
	Oid			argtype;
	int			ret;
	HeapTuple	tup;
	TupleDesc	desc;
	List	   *colnames;
	List	   *coltypes;
	char	   *tsname;
	int			nviews;
	Oid			store_role;

	spi_nest = ps_spi_connect();
	if (name != NULL)
	{
		arg = CStringGetTextDatum(name);
		argtype = TEXTOID;
		ret = SPI_execute_with_args(psprintf(SOURCE_CATALOG_SELECT " WHERE name = $1", ps_internal_schema()),
									1, &argtype, &arg, NULL, true, 1);
	}
	else
	{
		arg = ObjectIdGetDatum(relid);
		argtype = OIDOID;
		ret = SPI_execute_with_args(psprintf(SOURCE_CATALOG_SELECT " WHERE source_table::oid = $1", ps_internal_schema()),
									1, &argtype, &arg, NULL, true, 1);
	}
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the catalog table source_catalog");
	if (SPI_processed == 0)
	{
		ps_spi_finish(spi_nest);
		return NULL;
	}

	old = MemoryContextSwitchTo(gen->cxt);
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	src = palloc0(sizeof(PsSource));
	src->name = get_text(tup, desc, Anum_source_name);
	src->relid = DatumGetObjectId(SPI_getbinval(tup, desc, Anum_source_relid, &(bool) {false}));
	colnames = get_text_array(tup, desc, Anum_source_column_names);
	coltypes = get_text_array(tup, desc, Anum_source_column_types);
	tsname = get_text(tup, desc, Anum_source_timestamp_field);
	src->log_offline = DatumGetBool(SPI_getbinval(tup, desc, Anum_source_log_offline, &(bool) {false}));
	{
		bool		isnull;
		Datum		d = SPI_getbinval(tup, desc, Anum_source_batch_relid, &isnull);

		src->batch_relid = isnull ? InvalidOid : DatumGetObjectId(d);
	}
	src->ncols = list_length(colnames);
	src->cols = palloc0(sizeof(PsColumn) * src->ncols);
	src->record_desc = CreateTemplateTupleDesc(src->ncols);
	src->buffer_desc = CreateTemplateTupleDesc(src->ncols + 1);
	for (int i = 0; i < src->ncols; i++)
	{
		PsColumn   *c = &src->cols[i];

		c->name = list_nth(colnames, i);
		c->attnum = get_attnum(src->relid, c->name);
		if (c->attnum == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("push source \"%s\": column \"%s\" of its schema is missing from its table",
							src->name, c->name),
					 errhint("Run SELECT pushsource.fs_validate('%s').", src->name)));
		{
			Oid			typid;
			int32		typmod;
			Oid			coll;

			get_atttypetypmodcoll(src->relid, c->attnum, &typid, &typmod, &coll);
			c->type = ps_type_for_column(list_nth(coltypes, i), typid, typmod, c->name);
			c->typlen = get_typlen(typid);
		}
		if (strcmp(c->name, tsname) == 0)
		{
			src->ts_col = i;
			c->required = true;
		}
		TupleDescInitEntry(src->record_desc, i + 1, c->name, c->type->typid, c->type->typmod, 0);
		TupleDescInitEntry(src->buffer_desc, i + 1, c->name, c->type->typid, c->type->typmod, 0);
	}
	TupleDescInitEntry(src->buffer_desc, src->ncols + 1, PS_INGEST_COL, INT8OID, -1, 0);
	gen->relids = lappend_oid(gen->relids, src->relid);
	MemoryContextSwitchTo(old);

	/* its feature views */
	arg = CStringGetTextDatum(src->name);
	argtype = TEXTOID;
	ret = SPI_execute_with_args(psprintf(VIEW_CATALOG_SELECT
										 " WHERE v.source OPERATOR(pg_catalog.=) $1 ORDER BY v.name",
										 ps_internal_schema()),
								1, &argtype, &arg, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the catalog table view_catalog");
	nviews = SPI_processed;
	store_role = ps_store_role();
	old = MemoryContextSwitchTo(gen->cxt);
	src->nviews = nviews;
	src->views = palloc0(sizeof(PsView *) * Max(nviews, 1));
	desc = SPI_tuptable->tupdesc;
	for (int r = 0; r < nviews; r++)
	{
		PsView	   *v = palloc0(sizeof(PsView));
		List	   *keys;
		List	   *features;
		bool		isnull;
		Datum		d;

		tup = SPI_tuptable->vals[r];
		v->name = get_text(tup, desc, Anum_view_name);
		v->source = src;
		keys = get_text_array(tup, desc, Anum_view_join_keys);
		features = get_text_array(tup, desc, Anum_view_value_columns);
		v->nkeys = list_length(keys);
		v->key_cols = palloc(sizeof(int) * Max(v->nkeys, 1));
		for (int i = 0; i < v->nkeys; i++)
		{
			v->key_cols[i] = ps_column_index(src, list_nth(keys, i), v->name);
			src->cols[v->key_cols[i]].required = true;
		}
		v->nfeatures = list_length(features);
		v->feature_cols = palloc(sizeof(int) * Max(v->nfeatures, 1));
		for (int i = 0; i < v->nfeatures; i++)
			v->feature_cols[i] = ps_column_index(src, list_nth(features, i), v->name);
		d = SPI_getbinval(tup, desc, Anum_view_ttl, &isnull);
		v->has_ttl = !isnull;
		if (!isnull)
			v->ttl = *DatumGetIntervalP(d);
		v->online = DatumGetBool(SPI_getbinval(tup, desc, Anum_view_online, &isnull));
		v->offline = DatumGetBool(SPI_getbinval(tup, desc, Anum_view_offline, &isnull));
		d = SPI_getbinval(tup, desc, Anum_view_feature_start_time, &isnull);
		v->has_start_time = !isnull;
		if (!isnull)
			v->start_time = DatumGetTimestampTz(d);
		d = SPI_getbinval(tup, desc, Anum_view_online_relid, &isnull);
		v->online_relid = isnull ? InvalidOid : DatumGetObjectId(d);
		d = SPI_getbinval(tup, desc, Anum_view_offline_relid, &isnull);
		v->offline_relid = isnull ? InvalidOid : DatumGetObjectId(d);
		v->owner = store_role;
		d = SPI_getbinval(tup, desc, Anum_view_aggregations, &isnull);
		if (!isnull)
		{
			bool		ivnull;
			Datum		iv = SPI_getbinval(tup, desc, Anum_view_aggregation_interval, &ivnull);

			ps_view_set_aggregations(v, d, ivnull ? 0 : ps_agg_interval_us(iv));
		}
		/*
		 * A store that is not in the catalog, or was dropped by hand, makes
		 * the view unusable (ps_check_view says so when it is used), not
		 * its sibling views: they are served and pushed to as before.
		 */
		if (v->online && !OidIsValid(v->online_relid))
			v->problem = "its online store is not in the catalog";
		else if (v->offline && !OidIsValid(v->offline_relid))
			v->problem = "its offline store is not in the catalog";
		else if (OidIsValid(v->online_relid) &&
				 !SearchSysCacheExists1(RELOID, ObjectIdGetDatum(v->online_relid)))
			v->problem = "its online store was dropped";
		else if (OidIsValid(v->offline_relid) &&
				 !SearchSysCacheExists1(RELOID, ObjectIdGetDatum(v->offline_relid)))
			v->problem = "its offline store was dropped";
		if (v->problem == NULL && OidIsValid(v->online_relid))
			v->problem = store_mismatch(v, v->online_relid, "online",
										v->naggs > 0 && v->agg_interval > 0);
		if (v->problem == NULL && OidIsValid(v->offline_relid))
			v->problem = store_mismatch(v, v->offline_relid, "offline", false);
		if (OidIsValid(v->online_relid))
			gen->relids = lappend_oid(gen->relids, v->online_relid);
		if (OidIsValid(v->offline_relid))
			gen->relids = lappend_oid(gen->relids, v->offline_relid);
		src->views[r] = v;
	}
	gen->sources = lappend(gen->sources, src);
	MemoryContextSwitchTo(old);
	ps_spi_finish(spi_nest);
	return src;
}

/* Is the JSON key name[0 .. len) one of v's join keys? */
bool
ps_view_is_join_key(const PsView *v, const char *name, int len)
{
	for (int i = 0; i < v->nkeys; i++)
	{
		const char *kn = v->source->cols[v->key_cols[i]].name;

		if ((int) strlen(kn) == len && memcmp(kn, name, len) == 0)
			return true;
	}
	return false;
}

/*
 * Refuses a view whose stores are not what the catalog says (see
 * load_source): 42P01 naming the view, never a crash or a relation OID.
 */
void
ps_check_view(PsView *v)
{
	if (v->problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("feature view \"%s\" is broken: %s", v->name, v->problem),
				 errhint("SELECT pushsource.fs_validate('%s') lists its problems; fs_drop('%s') and create it again to start over.",
						 v->name, v->name)));
}

/* Is the view in the catalog now (a fresh snapshot in READ COMMITTED)? */
bool
ps_view_in_catalog(const char *name)
{
	Datum		arg = CStringGetTextDatum(name);
	Oid			argtype = TEXTOID;
	int			spi_nest = ps_spi_connect();
	bool		found;

	if (SPI_execute_with_args(psprintf("SELECT 1 FROM %s.view_catalog WHERE name OPERATOR(pg_catalog.=) $1", ps_internal_schema()),
							  1, &argtype, &arg, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the catalog table view_catalog");
	found = SPI_processed > 0;
	ps_spi_finish(spi_nest);
	return found;
}

PsSource *
ps_lookup_source(const char *name, bool missing_ok)
{
	ListCell   *lc;
	PsSource   *src;

	ps_catalog_refresh();
	foreach(lc, generation()->sources)
	{
		src = lfirst(lc);
		if (strcmp(src->name, name) == 0)
			return src;
	}
	src = load_source(name, InvalidOid);
	if (src == NULL && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("push source \"%s\" does not exist", name),
				 errhint("Push sources are listed in pushsource.push_sources.")));
	return src;
}

PsSource *
ps_lookup_source_by_relid(Oid relid)
{
	ListCell   *lc;
	PsSource   *src;

	ps_catalog_refresh();
	foreach(lc, generation()->sources)
	{
		src = lfirst(lc);
		if (src->relid == relid)
			return src;
	}
	src = load_source(NULL, relid);
	if (src == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("table \"%s\" is not the table of a registered push source",
						get_rel_name(relid)),
				 errhint("Drop the trigger, or register the source with pushsource.fs_create_push_source().")));
	return src;
}

static PsView *
find_view(const char *name)
{
	ListCell   *lc;

	foreach(lc, generation()->sources)
	{
		PsSource   *src = lfirst(lc);

		for (int i = 0; i < src->nviews; i++)
			if (strcmp(src->views[i]->name, name) == 0)
				return src->views[i];
	}
	return NULL;
}

PsView *
ps_lookup_view(const char *name, bool missing_ok)
{
	int			spi_nest;
	PsView	   *v;
	Datum		arg;
	Oid			argtype = TEXTOID;
	char	   *source = NULL;
	ListCell   *lc;
	bool		known_missing = false;

	ps_catalog_refresh();
	v = find_view(name);
	if (v != NULL)
		return v;
	/*
	 * A name read before and found not to be a view is not read again in
	 * this generation (fs_get_online_features tries a name as a view before
	 * a service: each service read would query the catalog).
	 */
	foreach(lc, generation()->not_views)
		if (strcmp(lfirst(lc), name) == 0)
			known_missing = true;

	if (!known_missing)
	{
		spi_nest = ps_spi_connect();
		arg = CStringGetTextDatum(name);
		if (SPI_execute_with_args(psprintf("SELECT source FROM %s.view_catalog WHERE name = $1", ps_internal_schema()),
								  1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read the catalog table view_catalog");
		if (SPI_processed > 0)
		{
			MemoryContext old = MemoryContextSwitchTo(generation()->cxt);

			source = get_text(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
			MemoryContextSwitchTo(old);
		}
		ps_spi_finish(spi_nest);
		if (source != NULL)
		{
			ps_lookup_source(source, false);
			v = find_view(name);
		}
		else if (list_length(generation()->not_views) < 256)
		{
			/* a few hundred names at most: a flood of unknown ones must not grow it */
			MemoryContext old = MemoryContextSwitchTo(generation()->cxt);

			current_gen->not_views = lappend(current_gen->not_views, pstrdup(name));
			MemoryContextSwitchTo(old);
		}
	}
	if (v == NULL && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("feature view \"%s\" does not exist", name),
				 errhint("Feature views are listed in pushsource.feature_views.")));
	return v;
}

/*
 * The views of a feature service, in its order, and for each the list of
 * feature names it selects (a List of char *).  NIL if no such service.
 */
List *
ps_lookup_service(const char *name, List **features)
{
	int			spi_nest;
	Datum		arg;
	Oid			argtype = TEXTOID;
	List	   *views = NIL;
	ListCell   *lc;
	ServiceEntry *e = NULL;
	MemoryContext old;
	MemoryContext outer = CurrentMemoryContext;
	bool		keep;

	ps_catalog_refresh();
	foreach(lc, generation()->services)
		if (strcmp(((ServiceEntry *) lfirst(lc))->name, name) == 0)
			e = lfirst(lc);
	if (e == NULL)
	{
		PsGeneration *gen = current_gen;

		spi_nest = ps_spi_connect();
		arg = CStringGetTextDatum(name);
		/* prepared once per catalog generation: a service read is a hot path */
		if (gen->service_plan == NULL)
		{
			SPIPlanPtr	plan = SPI_prepare(psprintf(SERVICE_FEATURE_SELECT " WHERE service = $1"
													" GROUP BY feature_view ORDER BY min(position)",
													ps_internal_schema()),
										   1, &argtype);

			if (plan == NULL)
				elog(ERROR, "could not prepare the read of the catalog table service_feature: %s",
					 SPI_result_code_string(SPI_result));
			ps_keep_plan(plan);
			gen->service_plan = plan;
		}
		if (SPI_execute_plan(gen->service_plan, &arg, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read the catalog table service_feature");
		/*
		 * Kept with the generation (an unknown name too: NIL views), up to
		 * a few hundred names: a flood of unknown ones must not grow it.
		 */
		keep = list_length(gen->services) < 256;
		old = MemoryContextSwitchTo(keep ? gen->cxt : outer);
		e = palloc0(sizeof(ServiceEntry));
		e->name = pstrdup(name);
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			e->view_names = lappend(e->view_names, get_text(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, Anum_service_view));
			e->features = lappend(e->features, get_text_array(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, Anum_service_features));
		}
		if (keep)
			gen->services = lappend(gen->services, e);
		MemoryContextSwitchTo(old);
		ps_spi_finish(spi_nest);
	}
	foreach(lc, e->view_names)
		views = lappend(views, ps_lookup_view(lfirst(lc), false));
	*features = e->features;
	return views;
}
