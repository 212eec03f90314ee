/*
 * init.c
 *		Module entry point: registers the backend callbacks the catalog cache
 *		and the fan-out buffers need, and the settings (each defined next to
 *		the code that reads it).  Everything else lives in one file per
 *		concept (see pushsource.h).
 */
#include "pushsource.h"

#include "fmgr.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	ps_catalog_init();
	ps_fanout_init();
	ps_online_init();
	ps_pit_plan_init();
	ps_pit_scan_init();
	ps_operations_init();
	ps_apikey_init();
	ps_stats_init();
	/* every setting is defined: the rest of the prefix is nobody's */
	MarkGUCPrefixReserved("pushsource");
}
