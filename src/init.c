/*
 * init.c
 *		Module entry point: registers the backend callbacks the catalog cache
 *		and the fan-out buffers need.  Everything else lives in one file per
 *		concept (see pushsource.h).
 */
#include "pushsource.h"

#include "fmgr.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	ps_catalog_init();
	ps_fanout_init();
	ps_online_init();
	ps_apikey_init();
}
