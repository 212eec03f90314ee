# Sourced by the benchmarks: a throwaway PostgreSQL cluster whose server
# runs as the postgres user, on a unix socket in a private temp directory,
# stopped and removed on exit.
#
#   require_root NAME, scaled BASE MIN
#   build_and_install
#   start_cluster NAME PORT [EXTRA_CONF_LINE...]
#     sets: work (the directory), PSQL (array), and the functions as_pg, sql;
#     called again it starts another cluster (PSQL and work then name the
#     new one; every cluster started is stopped on exit)
#     BGPIDS: background processes to kill on exit (append to it)
#   say, fail, check, median, timed: reporting helpers; the caller sets
#     results (the file say appends to) first

# require_root NAME: the benchmarks run as root, the server as postgres
require_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "$1: run as root (the cluster is started as the postgres user)" >&2
    exit 1
  fi
}

# scaled BASE MIN: BASE * $SCALE, at least MIN
scaled() { awk -v s="$SCALE" -v b="$1" -v m="$2" 'BEGIN { n = int(b * s); print (n < m ? m : n) }'; }

# Packages, build and install; sets PG_CONFIG and bindir.
build_and_install() {
  test/setup.sh
  export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
  make -s PG_CONFIG="$PG_CONFIG"
  make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
  bindir=$("$PG_CONFIG" --bindir)
}

as_pg() { su postgres -s /bin/bash -c "$1"; }
BGPIDS=()
WORKS=()

cleanup_cluster() {
  local w
  for p in "${BGPIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for w in "${WORKS[@]}"; do
    if [ -f "$w/data/postmaster.pid" ]; then
      as_pg "'$bindir/pg_ctl' -D '$w/data' -m fast -w stop" >/dev/null 2>&1 || true
    fi
    rm -rf "$w"
  done
}

start_cluster() {
  local name=$1 port=$2 line
  shift 2
  work=$(mktemp -d "/tmp/pushsource-$name.XXXXXX")
  WORKS+=("$work")
  chown postgres: "$work"
  chmod 700 "$work"
  trap cleanup_cluster EXIT
  trap 'exit 130' INT TERM
  as_pg "'$bindir/initdb' -D '$work/data' -U postgres -A trust -E UTF8 --no-sync" >"$work/initdb.log" 2>&1 ||
    { cat "$work/initdb.log" >&2; exit 1; }
  cat >>"$work/data/postgresql.conf" <<CONF
# pushsource $name: defaults, except memory and checkpoint spacing
port = $port
listen_addresses = ''
unix_socket_directories = '$work'
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
shared_buffers = 1GB
max_wal_size = 8GB
checkpoint_timeout = 30min
CONF
  for line in "$@"; do echo "$line" >>"$work/data/postgresql.conf"; done
  as_pg "'$bindir/pg_ctl' -D '$work/data' -l '$work/server.log' -w start" >/dev/null ||
    { cat "$work/server.log" >&2; exit 1; }
  PSQL=("$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres -d postgres)
}

sql() { "${PSQL[@]}" -At "$@"; }

say() { echo "$*" | tee -a "$results"; }
fail() { say "CORRECTNESS FAILURE: $*"; exit 1; }

# check DESCRIPTION SQL: SQL must return exactly 't'
check() {
  local r
  r=$(sql -c "$2" 2>&1) || fail "$1: $r"
  [ "$r" = t ] || fail "$1 (got: $r)"
  echo "    check ok: $1"
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# Wall time of SQL run in one session, in seconds (psql \timing: the
# statement including its commit; each call is a fresh backend).
timed() {
  local out
  out=$(printf '\\timing on\n%s\n' "$1" | "${PSQL[@]}" -At 2>&1) || { echo "$out" >&2; return 1; }
  # server warnings (not errors) are shown, once, on the log
  echo "$out" | grep -o 'WARNING: .*' | sort -u | sed 's/^/    server: /' | tee -a "$results" >&2 || true
  echo "$out" | grep -o 'Time: [0-9.]* ms' | awk '{ s += $2 } END { printf "%.3f", s / 1000 }'
}
