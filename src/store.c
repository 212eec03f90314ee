/*
 * store.c
 *		The store layer: the layout of the stores (a view's online, offline,
 *		tile and event tables) as the statements over them spell it, and the
 *		preparing of those statements.  The fan-out (fanout.c) and the
 *		aggregate fan-out (aggregation.c) build their statements from here,
 *		so neither calls the other for it.  (Issue 18 moves the rest of the
 *		store SQL here, piece by piece.)
 */
#include "pushsource.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

/* "k1, k2, ts, f1, f2, _fs_ingest_id" with an optional prefix per name */
void
ps_append_store_columns(StringInfo buf, PsView *v, const char *prefix)
{
	PsSource   *src = v->source;

	for (int i = 0; i < v->nkeys; i++)
		appendStringInfo(buf, "%s%s, ", prefix, quote_identifier(src->cols[v->key_cols[i]].name));
	appendStringInfo(buf, "%s%s", prefix, quote_identifier(src->cols[src->ts_col].name));
	for (int i = 0; i < v->nfeatures; i++)
		appendStringInfo(buf, ", %s%s", prefix, quote_identifier(src->cols[v->feature_cols[i]].name));
	appendStringInfo(buf, ", %s%s", prefix, PS_INGEST_COL);
}

SPIPlanPtr
ps_prepare_fanout(const char *sql, PsView *v)
{
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	SPIPlanPtr	plan = SPI_prepare(sql, v->has_start_time ? 1 : 0, argtypes);

	if (plan == NULL)
		elog(ERROR, "pushsource: could not prepare fan-out for feature view \"%s\": %s",
			 v->name, SPI_result_code_string(SPI_result));
	ps_keep_plan(plan);
	return plan;
}
