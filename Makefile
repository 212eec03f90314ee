# pushsource: PGXS build.  `make && make install` builds against the
# PostgreSQL found by pg_config; `make test` and `make demo` also install
# what they need first (see test/setup.sh).

EXTENSION   = pushsource
MODULE_big  = pushsource
OBJS        = src/init.o src/catalog.o src/typespec.o src/validate.o \
              src/fanout.o src/push.o src/online.o src/pit.o src/partial.o \
              src/aggregation.o src/operations.o src/security.o
DATA        = sql/pushsource--0.1.sql
HEADERS     =

REGRESS      ?= setup registration typespec push ingest online pit partial aggregate operations trojan security drop
REGRESS_OPTS = --temp-instance=tmp_check --temp-config=test/regress.conf
ISOLATION      ?= concurrent_push delete_push materialize_push drop_push
ISOLATION_OPTS = --temp-instance=tmp_check_iso --temp-config=test/regress.conf \
                 --inputdir=test/isolation \
                 --outputdir=test/isolation

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

# Every object includes the shared header: a changed struct must rebuild
# them all (PGXS tracks no header dependencies by default).
$(OBJS): src/pushsource.h

.PHONY: test demo bench bench-pit bench-agg
test:
	test/run-tests.sh

demo:
	test/demo/run-demo.sh

bench:
	test/bench/run.sh

bench-pit:
	test/bench/pit.sh

bench-agg:
	test/bench/agg.sh
