#!/usr/bin/env bash
# `make test`: installs what it needs, builds, installs, then runs every
# suite against temporary instances (pg_regress with pg_cron preloaded, the
# isolation specs, and TAP tests when there are any).  The server refuses to
# run as root, so as root the suites run as the postgres user in a scratch
# copy of the tree.  Override the lists with REGRESS=... / ISOLATION=...
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

test/setup.sh
# Static check: the C code runs SQL only through the SPI helpers of
# src/security.c, which pin search_path (DESIGN.md, Security).
if grep -n 'SPI_connect\s*(' src/*.c | grep -v '^src/security.c:'; then
  echo "make test: SPI_connect outside src/security.c (use ps_spi_connect)" >&2; exit 1
fi
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
make -s PG_CONFIG="$PG_CONFIG"
if [ "$(id -u)" = 0 ]; then
  make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
else
  sudo -n make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
fi

work=$(mktemp -d /tmp/pushsource-test.XXXXXX)
# kept when a suite fails, so its results/ can be read
trap 'if [ "${status:-1}" = 0 ]; then rm -rf "$work"; else echo "test results kept in $work" >&2; fi' EXIT
tar --exclude=.git -cf - . | tar -xf - -C "$work"
# specs live in test/isolation/*.spec; pg_isolation_regress reads <dir>/specs/
mkdir -p "$work/test/isolation/specs"
cp test/isolation/*.spec "$work/test/isolation/specs/"
run() { bash -c "$1"; }
if [ "$(id -u)" = 0 ]; then
  chown -R postgres "$work"
  run() { su postgres -s /bin/bash -c "$1"; }
fi

# REGRESS / ISOLATION select a subset; ISOLATION= (set but empty) skips it.
args=""
[ -n "${REGRESS+x}" ] && args+=" REGRESS='$REGRESS'"
[ -n "${ISOLATION+x}" ] && args+=" ISOLATION='$ISOLATION'"
status=0
run "cd '$work' && make -s installcheck PG_CONFIG='$PG_CONFIG' $args" || status=$?
if [ $status -ne 0 ]; then
  for f in "$work/regression.diffs" "$work/test/isolation/regression.diffs"; do
    [ -s "$f" ] && { echo "==== $f"; cat "$f"; }
  done
  exit $status
fi
status=1
if ls test/t/*.pl >/dev/null 2>&1; then
  run "cd '$work' && PG_REGRESS=\$($PG_CONFIG --pgxs | sed 's|makefiles/pgxs.mk|test/regress/pg_regress|') \
       PERL5LIB=\$($PG_CONFIG --pgxs | sed 's|makefiles/pgxs.mk|test/perl|') \
       PATH=\$($PG_CONFIG --bindir):\$PATH prove -v test/t/*.pl"
fi
status=0
echo "make test: all suites passed"
