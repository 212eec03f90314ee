# pushsource: PGXS build.  `make && make install` builds against the
# PostgreSQL found by pg_config; `make test` and `make demo` also install
# what they need first (see test/setup.sh).

EXTENSION   = pushsource
MODULE_big  = pushsource
OBJS        = src/init.o src/names.o src/catalog.o src/typespec.o src/validate.o \
              src/fanout.o src/push.o src/online.o src/pit.o src/pit_plan.o src/pit_join.o \
              src/pit_agg.o src/pit_file.o src/pit_scan.o src/partial.o src/sketch.o \
              src/partial_io.o src/partial_sql.o src/aggdecl.o \
              src/aggregation.o src/store.o src/partition.o src/backfill.o src/operations.o src/security.o \
              src/apikey.o src/endpoints.o src/stats.o
DATA        = sql/pushsource--0.1.sql sql/pushsource--0.2.sql sql/pushsource--0.1--0.2.sql \
              sql/pushsource--0.3.sql sql/pushsource--0.2--0.3.sql \
              sql/pushsource--0.4.sql sql/pushsource--0.3--0.4.sql \
              sql/pushsource--0.5.sql sql/pushsource--0.4--0.5.sql \
              sql/pushsource--0.6.sql sql/pushsource--0.5--0.6.sql \
              sql/pushsource--0.7.sql sql/pushsource--0.6--0.7.sql \
              sql/pushsource--0.8.sql sql/pushsource--0.7--0.8.sql
HEADERS     =

# `make installcheck` runs against the server of PGHOST/PGPORT (as
# pgvector's does); it needs pg_cron preloaded there, with the settings of
# test/regress.conf.  `make test` starts a throwaway server for it.
REGRESS      ?= setup registration typespec push ingest online pit partial aggregate operations backfill partition parity replication stats trojan security gateway drop
ISOLATION      ?= concurrent_push delete_push delete_source_order materialize_push materialize_blocks drop_push partition_push
ISOLATION_OPTS = --inputdir=test/isolation --outputdir=test/isolation
# installcheck-prep (its rule is below the PGXS include) clears the way
REGRESS_PREP   = installcheck-prep

# Warnings are errors; unused-parameter and missing-field-initializers are
# PostgreSQL's own header/macro noise (PG_FUNCTION_ARGS, designated inits).
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
else
# No server headers yet: only the targets that install them work.
all install installcheck:
	@echo "PostgreSQL server development files not found; run 'make test' or 'make demo' (they install them), or apt-get install postgresql-server-dev-15" >&2; exit 1
endif

# The HTTP gateway: a separate program (libmicrohttpd + libpq), built and
# installed next to the extension, into PostgreSQL's bindir.
GATEWAY      = src/gateway/pushsource_gateway
GATEWAY_OBJS = src/gateway/main.o src/gateway/http.o src/gateway/pool.o src/gateway/metrics.o
GATEWAY_CFLAGS = -O2 -g -Wall -Wextra -Werror -I$(shell $(PG_CONFIG) --includedir)
EXTRA_CLEAN  = $(GATEWAY) $(GATEWAY_OBJS)

all: $(GATEWAY)
$(GATEWAY): $(GATEWAY_OBJS)
	$(CC) $(GATEWAY_CFLAGS) -o $@ $(GATEWAY_OBJS) -L$(shell $(PG_CONFIG) --libdir) -lpq -lmicrohttpd
src/gateway/%.o: src/gateway/%.c src/gateway/gateway.h
	$(CC) $(GATEWAY_CFLAGS) -c -o $@ $<
install: install-gateway
.PHONY: install-gateway
install-gateway: $(GATEWAY)
	$(INSTALL_PROGRAM) $(GATEWAY) '$(DESTDIR)$(bindir)/pushsource_gateway'

# Every object includes the shared header: a changed struct must rebuild
# them all (PGXS tracks no header dependencies by default).
$(OBJS): src/pushsource.h src/catalog_columns.h src/partial_int.h src/pit_int.h

# pg_regress starts by dropping contrib_regression, which fails while
# pg_cron's launcher is connected to it (cron.database_name): a second run
# on the same server drops it first, with FORCE.  (The launcher then stays
# down until the server restarts; the suites do not need it.)
.PHONY: installcheck-prep
installcheck-prep:
	$(shell $(PG_CONFIG) --bindir)/psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS contrib_regression WITH (FORCE)'

.PHONY: test demo bench bench-pit bench-agg bench-gateway bench-history bench-freshness
test:
	test/run-tests.sh

demo:
	test/demo/run-demo.sh

bench:
	test/bench/run.sh
	test/bench/gateway.sh
	test/bench/freshness.sh

bench-pit:
	test/bench/pit.sh

bench-agg:
	test/bench/agg.sh

bench-history:
	test/bench/history.sh

bench-gateway:
	test/bench/gateway.sh

bench-freshness:
	test/bench/freshness.sh
