#!/usr/bin/env bash
# `make demo`: installs what it needs, builds and installs pushsource, starts
# a throwaway PostgreSQL 15 cluster (pg_cron preloaded, Unix socket only, in a
# temporary directory), runs test/demo/demo.sql against it with every
# statement echoed, then stops the server and removes the directory, whatever
# happens (trap on EXIT).  Nothing is left running; safe to run repeatedly and
# after an interrupted run.
#
#   DEMO_PORT=55433   port of the throwaway server (socket in its own dir)
#   DEMO_HTTP_PORT=18433  port of the HTTP gateway (127.0.0.1)
#   DEMO_KEEP=1       keep the cluster directory and its server.log (the server
#                     is still stopped; the next run removes the directory)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
port=${DEMO_PORT:-55433}
http_port=${DEMO_HTTP_PORT:-18433}

test/setup.sh
make -s PG_CONFIG="$PG_CONFIG"
if [ "$(id -u)" = 0 ]; then
  make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
else
  sudo -n make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
fi
bindir=$("$PG_CONFIG" --bindir)

# The server refuses to run as root: as root, run it as the postgres user.
as_pg() { "$@"; }
if [ "$(id -u)" = 0 ]; then
  as_pg() { runuser -u postgres -- "$@"; }
fi

# A run killed outright (kill -9: no trap) leaves its server behind.  Each
# run records its own pid; stop the servers of runs that are gone.
for old in /tmp/pushsource-demo.*; do
  [ -f "$old/runner.pid" ] || continue
  opid=$(cat "$old/runner.pid" 2>/dev/null || true)
  if [ -n "$opid" ] && [ -d "/proc/$opid" ] &&
     tr '\0' ' ' <"/proc/$opid/cmdline" 2>/dev/null | grep -q run-demo.sh; then
    continue    # another demo is running right now: leave it alone
  fi
  if [ -f "$old/data/postmaster.pid" ]; then
    echo "demo: stopping the server left by an interrupted run in $old"
    as_pg "$bindir/pg_ctl" -D "$old/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$old"
done

work=$(mktemp -d /tmp/pushsource-demo.XXXXXX)
echo $$ >"$work/runner.pid"
data="$work/data"
sock="$work/sock"
# the gateway is a client: it runs as the caller, and stops on SIGTERM
stop_gateway() {
  if [ -n "${gw_pid:-}" ]; then
    kill -TERM "$gw_pid" 2>/dev/null || true
    wait "$gw_pid" 2>/dev/null || true
    gw_pid=
  fi
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  stop_gateway
  if [ -f "$data/postmaster.pid" ]; then
    as_pg "$bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || {
      # pg_ctl failed: stop exactly our postmaster, by the pid it wrote
      pid=$(head -n1 "$data/postmaster.pid" 2>/dev/null || true)
      [ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null || true
      sleep 1
    }
  fi
  if [ "${DEMO_KEEP:-}" = 1 ]; then
    echo "demo: cluster directory kept in $work" >&2
  else
    rm -rf "$work"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

mkdir -p "$sock"
chmod 700 "$work"
[ "$(id -u)" = 0 ] && chown -R postgres: "$work"

as_pg "$bindir/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$work/initdb.log" 2>&1 ||
  { cat "$work/initdb.log" >&2; exit 1; }
cat >>"$data/postgresql.conf" <<EOF
# pushsource demo: private, throwaway instance
port = $port
listen_addresses = ''
unix_socket_directories = '$sock'
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
max_worker_processes = 16
timezone = 'UTC'
logging_collector = off
EOF
as_pg "$bindir/pg_ctl" -D "$data" -l "$work/server.log" -w -t 60 start >/dev/null ||
  { cat "$work/server.log" >&2; exit 1; }

echo "demo: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') running in $data (socket $sock, port $port)"
echo
# a copy the postgres user can read wherever the tree lives
cp test/demo/demo.sql "$work/demo.sql"
[ "$(id -u)" = 0 ] && chown postgres: "$work/demo.sql"
# (run from $work so that psql's error prefix reads "psql:demo.sql:LINE:")
(cd "$work" && as_pg "$bindir/psql" -X -h "$sock" -p "$port" -U postgres -d postgres \
  -v ON_ERROR_STOP=1 -f demo.sql </dev/null 2>&1)

echo
echo "==== 11. Over HTTP: pushsource_gateway, with Tecton's and Feast's requests ===="
psql_q() { as_pg "$bindir/psql" -X -q -At -h "$sock" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
echo "-- a login for the gateway, a role for the producers and readers, an API key (shown once):"
echo "--   CREATE ROLE gateway LOGIN IN ROLE pushsource_gateway;"
echo "--   CREATE ROLE app IN ROLE pushsource_writer, pushsource_reader;  GRANT app TO gateway;"
echo "--   SELECT fs_create_api_key('app', 'demo producer');"
psql_q -c "CREATE ROLE gateway LOGIN IN ROLE pushsource_gateway" \
       -c "CREATE ROLE app IN ROLE pushsource_writer, pushsource_reader" -c "GRANT app TO gateway"
key=$(psql_q -c "SELECT pushsource.fs_create_api_key('app', 'demo producer')")
echo "$key"
echo "\$ pushsource_gateway --listen 127.0.0.1:$http_port --db 'host=$sock port=$port dbname=postgres user=gateway' &"
"$bindir/pushsource_gateway" --listen "127.0.0.1:$http_port" \
  --db "host=$sock port=$port dbname=postgres user=gateway" 2>"$work/gateway.log" &
gw_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$http_port/health" >/dev/null && break; sleep 0.1; done
body='{"workspace_name": "prod", "records": {"user_clicks": [{"record": {"user_id": "u7", "ts": "2024-05-01T12:00:00Z", "clicks": 7, "amount": 70}}]}}'
echo
echo "-- a push, as Tecton's Stream Ingest API takes it:"
echo "\$ curl -H 'Authorization: Tecton-key psk_...' -d '$body' http://127.0.0.1:$http_port/ingest"
curl -sS -H "Authorization: Tecton-key $key" -d "$body" "http://127.0.0.1:$http_port/ingest" -w '   (HTTP %{http_code})\n'
body='{"params": {"feature_service_name": "user_click_stats", "workspace_name": "prod", "join_key_map": {"user_id": "u7"}, "metadata_options": {"include_names": true, "include_serving_status": true}}}'
echo
echo "-- a read, as Tecton's feature-serving API takes it:"
echo "\$ curl -H 'Authorization: Tecton-key psk_...' -d '$body' http://127.0.0.1:$http_port/api/v1/feature-service/get-features"
curl -sS -H "Authorization: Tecton-key $key" -d "$body" "http://127.0.0.1:$http_port/api/v1/feature-service/get-features" -w '   (HTTP %{http_code})\n'
echo
echo "-- the gateway's log (one line per request):"
stop_gateway
grep -v '^pushsource_gateway: listening' "$work/gateway.log" || true

echo
echo "demo: done; stopping the server and removing $work"
