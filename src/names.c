/*
 * names.c
 *		The rules for names: what a pushsource object or column may be
 *		called, a relation's qualified name for SQL and messages, and a
 *		view's column in its source.  Depends on nothing of pushsource's.
 */
#include "pushsource.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

/* ---------------------------------------------------------------------
 * Names
 * --------------------------------------------------------------------- */

/* schema.table of a relation, each part quoted as needed: for SQL and messages */
char *
ps_qualified_relname(Oid relid)
{
	char	   *rel = get_rel_name(relid);
	char	   *nsp = get_namespace_name(get_rel_namespace(relid));

	/* a relation dropped behind the catalog's back: never a NULL name */
	if (rel == NULL || nsp == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation %u of pushsource does not exist", relid),
				 errhint("SELECT pushsource.fs_validate(name) lists what is broken.")));
	return quote_qualified_identifier(nsp, rel);
}

bool
ps_name_is_valid(const char *name)
{
	size_t		len = name ? strlen(name) : 0;
	bool		ok = len > 0 && len <= PS_MAX_NAME_LEN &&
		((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_');

	for (size_t i = 1; ok && i < len; i++)
		ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
			name[i] == '_';
	return ok;
}

void
ps_check_name(const char *name, const char *what)
{
	if (!ps_name_is_valid(name))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid %s name \"%s\"", what, name ? name : ""),
				 errdetail("Names must match ^[a-z_][a-z0-9_]*$ and be at most %d bytes long.",
						   PS_MAX_NAME_LEN)));
}

PG_FUNCTION_INFO_V1(fs_check_name);
Datum
fs_check_name(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s name must not be null",
						PG_ARGISNULL(1) ? "object" : text_to_cstring(PG_GETARG_TEXT_PP(1)))));
	ps_check_name(text_to_cstring(PG_GETARG_TEXT_PP(0)),
				  PG_ARGISNULL(1) ? "object" : text_to_cstring(PG_GETARG_TEXT_PP(1)));
	PG_RETURN_VOID();
}

/* The index of column name in src; the catalog is broken if it is not there. */
int
ps_column_index(PsSource *src, const char *name, const char *view)
{
	for (int i = 0; i < src->ncols; i++)
		if (strcmp(src->cols[i].name, name) == 0)
			return i;
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("feature view \"%s\" uses column \"%s\", which push source \"%s\" does not have",
					view, name, src->name),
			 errhint("Run SELECT pushsource.fs_validate('%s') to check the catalog.", view)));
	return -1;
}
