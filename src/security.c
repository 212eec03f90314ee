/*
 * security.c
 *		Where our SQL resolves names, and which role writes the stores.
 *
 * Every SQL text the C code runs (catalog reads, the fan-out's statements,
 * online reads, job rows) goes through ps_spi_connect(), which pins the
 * search path to pg_catalog for the SPI session, as a `SET search_path =
 * pg_catalog, pg_temp` clause does for a SQL function.  A function planted
 * in a schema the caller searches (public.unnest(text[]) beats
 * pg_catalog.unnest(anyarray) by exact type) can then never run in place
 * of the one we meant, whoever calls us.  Plans prepared inside keep that
 * path when they are replanned (the plan cache saves it), and executing
 * them under the same path keeps them from being replanned per call.
 *
 * The one SQL text that must see the caller's search_path is the caller's
 * own: a spine query or relation of fs_get_historical_features.  pit.c
 * prepares it with ps_spi_connect_caller(), and wraps it only in SQL that
 * names nothing unqualified.
 *
 * The fan-out writes stores as one fixed role, pushsource_admin (granted
 * INSERT, UPDATE and DELETE on every store, which the extension's owner
 * owns), never as a role read from a catalog row or a relation's owner:
 * ps_store_role().
 */
#include "pushsource.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_extension.h"
#include "utils/fmgroids.h"
#include "catalog/namespace.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#define PS_SEARCH_PATH "pg_catalog, pg_temp"

int
ps_spi_connect(void)
{
	int			nest = 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
#if PG_VERSION_NUM < 170000
	{
		/*
		 * An override search path: pg_catalog alone, without the GUC
		 * machinery (which costs an online read about 8,000 instructions,
		 * AtEOXact_GUC walking every setting).  Relations are never looked
		 * up unqualified here, so leaving pg_temp out changes nothing.
		 * (Transaction and subtransaction abort pop it.)
		 */
		OverrideSearchPath path = {0};

		path.schemas = NIL;
		path.addCatalog = true;
		path.addTemp = false;
		PushOverrideSearchPath(&path);
	}
#else
	nest = NewGUCNestLevel();
	(void) set_config_option("search_path", PS_SEARCH_PATH,
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
#endif
	return nest;
}

void
ps_spi_finish(int nest)
{
#if PG_VERSION_NUM < 170000
	PopOverrideSearchPath();
#else
	AtEOXact_GUC(true, nest);
#endif
	SPI_finish();
}

/* SPI for the caller's own SQL text: their search_path, on purpose. */
void
ps_spi_connect_caller(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)	/* search_path: the caller's */
		elog(ERROR, "SPI_connect failed");
}

/*
 * The role the fan-out writes stores as: pushsource_admin, created by the
 * install script.  Looked up by name each time the catalog is loaded (a
 * role's OID survives nothing but itself), never taken from a table.
 */
Oid
ps_store_role(void)
{
	Oid			role = get_role_oid("pushsource_admin", true);

	if (!OidIsValid(role))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"pushsource_admin\" does not exist"),
				 errhint("It is created by CREATE EXTENSION pushsource; the fan-out writes the stores as it.  Recreate it with CREATE ROLE pushsource_admin NOLOGIN and grant it INSERT, UPDATE, DELETE on the stores.")));
	return role;
}

/*
 * The extension's owner (the superuser who ran CREATE EXTENSION): the only
 * role that writes the catalog and rejected_records directly.
 */
Oid
ps_extension_owner(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			owner = BOOTSTRAP_SUPERUSERID;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("pushsource"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return owner;
}
