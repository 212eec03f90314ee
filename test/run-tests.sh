#!/usr/bin/env bash
# `make test`: installs what it needs, builds, installs, then starts a
# throwaway server (pg_cron preloaded, test/regress.conf) and runs
# `make installcheck` against it twice -- pg_regress and the isolation
# specs, the way a developer runs them against their own server, again and
# again -- checking after each that the suites left no roles behind, stops
# it, and runs the TAP tests (each starts its own clusters).  The server
# refuses to run as root, so as root the suites run as the postgres user in
# a scratch copy of the tree.  Override the lists with REGRESS=... /
# ISOLATION=...
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

test/setup.sh
# Static check: the C code runs SQL only through the SPI helpers of
# src/security.c, which pin search_path (DESIGN.md, Security).
if grep -n 'SPI_connect\s*(' src/*.c | grep -v '^src/security.c:'; then
  echo "make test: SPI_connect outside src/security.c (use ps_spi_connect)" >&2; exit 1
fi
# Static check: no two C modules call each other in a loop (one owner per
# concern; see test/module_loops.pl).
perl test/module_loops.pl || exit 1
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
make -s PG_CONFIG="$PG_CONFIG"
if [ "$(id -u)" = 0 ]; then
  make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
else
  sudo -n make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
fi

work=$(mktemp -d /tmp/pushsource-test.XXXXXX)
bindir=$("$PG_CONFIG" --bindir)
run() { bash -c "$1"; }
if [ "$(id -u)" = 0 ]; then
  run() { su postgres -s /bin/bash -c "$1"; }
fi
# the server is stopped whatever happens; the tree is kept when a suite
# fails, so its results/ can be read
finish() {
  [ -f "$work/data/postmaster.pid" ] && run "'$bindir/pg_ctl' -D '$work/data' -m immediate -w stop" >/dev/null 2>&1
  if [ "${status:-1}" = 0 ]; then rm -rf "$work"; else echo "test results kept in $work" >&2; fi
}
trap finish EXIT
tar --exclude=.git -cf - . | tar -xf - -C "$work"
[ "$(id -u)" = 0 ] && chown -R postgres "$work"

# the throwaway server: a unix socket in the scratch directory only
port=55432
run "'$bindir/initdb' -D '$work/data' -U postgres -A trust -E UTF8 --no-sync" >"$work/initdb.log" 2>&1 ||
  { cat "$work/initdb.log" >&2; exit 1; }
{ cat test/regress.conf
  echo "port = $port"
  echo "listen_addresses = ''"
  echo "unix_socket_directories = '$work'"
} >>"$work/data/postgresql.conf"
run "'$bindir/pg_ctl' -D '$work/data' -l '$work/server.log' -w start" >/dev/null ||
  { cat "$work/server.log" >&2; exit 1; }
pgenv="PGHOST='$work' PGPORT=$port PGUSER=postgres"
roles_sql="SELECT string_agg(rolname, ' ' ORDER BY rolname) FROM pg_roles
            WHERE rolname !~ '^pg_' AND rolname <> 'postgres' AND rolname !~ '^pushsource_'"

# REGRESS / ISOLATION select a subset; ISOLATION= (set but empty) skips it.
args=""
[ -n "${REGRESS+x}" ] && args+=" REGRESS='$REGRESS'"
[ -n "${ISOLATION+x}" ] && args+=" ISOLATION='$ISOLATION'"
# twice: a developer runs installcheck again and again on their server
status=0
for pass in 1 2; do
  run "cd '$work' && $pgenv make -s installcheck PG_CONFIG='$PG_CONFIG' $args" || status=$?
  [ $status -eq 0 ] || { echo "make test: installcheck failed (pass $pass on one server)" >&2; break; }
  status=1   # kept if the check below fails
  left=$(run "$pgenv '$bindir/psql' -X -At -d postgres -c \"$roles_sql\"")
  if [ -n "$left" ]; then
    echo "make test: the suites left roles behind (a second installcheck on this server would fail): $left" >&2
    exit 1
  fi
  status=0
done
run "'$bindir/pg_ctl' -D '$work/data' -m fast -w stop" >/dev/null
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
