#!/usr/bin/env bash
# `make bench-history`: time-partitioned history (issue 18) against the same
# data kept in one table, in the same run, on a throwaway cluster at its
# default settings (as test/bench/cluster.sh sets them):
#
#   two databases, each with a push source (30 days of events, N rows, 100k
#   keys) and an attribute view (ttl 1 day) on it:
#     part  fs_create_push_source(..., partition_interval => '1 day',
#               source_retention => '20 days') and the view with
#               partition_interval => '1 day', offline_retention => '20 days'
#     flat  the same without partition_interval (one table each)
#
#   1. ingest: INSERT INTO pushsource_source.ev SELECT ... (N rows; the
#      fan-out writes the offline and online stores) -- the cost of routing
#      rows to partitions;
#   2. retention: fs_run_maintenance() 30 days in, keeping 20 days: "part"
#      drops 10 daily partitions of the log and of the offline store, "flat"
#      deletes the same rows one by one (the cutoff is midnight, so both keep
#      exactly the same rows);
#   3. point-in-time join over the last day: a spine of S rows in the last
#      day, ttl 1 day: "part" reads only the partitions of the last two days
#      (the join's DEBUG1 line says how many), "flat" reads the whole store.
#
# Checks (the exit status fails only on these, never on speed): both
# databases hold the same rows after the load and after retention, and the
# join gives the same checksum in both.
#
#   BENCH_SCALE=0.1   scale the sizes (default 1: 10M rows, 100k spine rows)
#   BENCH_PORT=55496  port of the throwaway cluster (unix socket only)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bench=$top/test/bench
cd "$top"

# shellcheck source=test/bench/cluster.sh
. test/bench/cluster.sh
require_root bench-history
build_and_install

SCALE=${BENCH_SCALE:-1}
PORT=${BENCH_PORT:-55496}
N=$(scaled 10000000 10000)
S=$(scaled 100000 100)
KEYS=100000
START='2024-01-01 00:00:00+00'
NOW='2024-01-31 00:00:00+00'

mkdir -p "$bench/results"
results=$bench/results/history-latest.txt
: >"$results"

start_cluster bench-history "$PORT"

say "pushsource time-partitioned history benchmark  $(date -u '+%Y-%m-%d %H:%M UTC')  commit $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')"
say "machine: $(nproc) cores ($(uname -m)), $(awk '/MemTotal/ { printf "%.0f GB RAM", $2 / 1048576 }' /proc/meminfo); PostgreSQL $(sql -c 'SHOW server_version')"
say "settings: shared_buffers=1GB max_wal_size=8GB checkpoint_timeout=30min, other settings default (work_mem=$(sql -c 'SHOW work_mem'))"
say "sizes: BENCH_SCALE=$SCALE: $N events over 30 days, $KEYS keys; spine of $S rows in the last day"
say "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
say ""

# db NAME: psql on database NAME
db() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$PORT" -U postgres -d "$1" -At "${@:2}"; }
# timed_db NAME SQL: seconds of SQL in a fresh session of database NAME
timed_db() {
  local out
  out=$(printf '\\timing on\n%s\n' "$2" | "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$PORT" -U postgres -d "$1" -At 2>&1) ||
    { echo "$out" >&2; return 1; }
  echo "$out" | grep -o 'Time: [0-9.]* ms' | awk '{ s += $2 } END { printf "%.3f", s / 1000 }'
}

for d in part flat; do
  sql -c "CREATE DATABASE $d"
  if [ $d = part ]; then
    opts="partition_interval => interval '1 day', "
  else
    opts=""
  fi
  db $d <<SQL >/dev/null
CREATE EXTENSION pushsource;
SET pushsource.request_time = '$START';
SELECT pushsource.fs_create_entity('user', ARRAY['user_id']);
SELECT pushsource.fs_create_push_source('ev', 'user_id int8, ts timestamptz, amount float8', 'ts',
    ${opts}source_retention => interval '20 days');
SELECT pushsource.fs_create_feature_view('fv', 'ev', ARRAY['user'], ttl => interval '1 day',
    ${opts}offline_retention => interval '20 days');
-- the partitions of the 30 days, as maintenance and backfills make them
-- on the way (here all at once, before the load)
SELECT pushsource_internal._partitions_for(o, '$START', '$NOW') FROM unnest(ARRAY['ev', 'fv']) o;
SQL
done

# the events: N rows, evenly over the 30 days in time order (as pushes
# arrive), keys spread; the same rows in both databases
gen="SELECT (i * 7919) % $KEYS AS user_id,
            timestamptz '$START' + (interval '30 days' / $N) * i AS ts,
            ((i * 31) % 1000)::float8 / 8 AS amount
       FROM generate_series(0::int8, $N - 1) i"

say "== 1. ingest: INSERT INTO pushsource_source.ev SELECT ... ($N rows, one attribute view)"
for d in flat part; do
  t=$(timed_db $d "INSERT INTO pushsource_source.ev (user_id, ts, amount) $gen;")
  eval "ingest_$d=$t"
  say "    $d: ${t} s"
  db $d -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
done
for t in pushsource_source.ev pushsource_store.fv_offline; do
  a=$(db part -c "SELECT count(*) || ' ' || sum(user_id) FROM $t")
  b=$(db flat -c "SELECT count(*) || ' ' || sum(user_id) FROM $t")
  [ "$a" = "$b" ] || fail "after the load, $t differs: part $a, flat $b"
  echo "    check ok: $t holds the same rows in both ($a)"
done
say "    partitions of the log: $(db part -c "SELECT count(*) FROM pushsource_internal._partitions('pushsource_source.ev')") (30 days, 4 ahead, the default)"
say ""

say "== 2. retention: fs_run_maintenance() at $NOW, keeping 20 days (source_retention, offline_retention)"
for d in flat part; do
  t=$(timed_db $d "SET pushsource.request_time = '$NOW'; SELECT pushsource.fs_run_maintenance();")
  eval "ret_$d=$t"
  h=$(db $d -c "SET pushsource.request_time = '$NOW'" -c "SELECT pushsource.fs_run_maintenance() -> 'history'")
  say "    $d: ${t} s"
  echo "      (a second run, which finds nothing to do: $h)"
done
for t in pushsource_source.ev pushsource_store.fv_offline; do
  a=$(db part -c "SELECT count(*) || ' ' || min(ts) FROM $t")
  b=$(db flat -c "SELECT count(*) || ' ' || min(ts) FROM $t")
  [ "$a" = "$b" ] || fail "after retention, $t differs: part $a, flat $b"
  echo "    check ok: after retention $t holds the same rows in both ($a)"
done
say ""

say "== 3. point-in-time join, spine of $S rows in the last day, ttl 1 day"
for d in part flat; do
  db $d -c "CREATE TABLE spine AS SELECT ((i * 104729) % $KEYS)::int8 AS user_id,
              timestamptz '$NOW' - interval '1 day' + (interval '1 day' / $S) * i AS ts
              FROM generate_series(0::int8, $S - 1) i" -c "ANALYZE spine" >/dev/null
done
q="SELECT count(*) || ' ' || count(amount) || ' ' || sum(amount * (user_id + 1))
     FROM pushsource.fs_get_historical_features('spine', ARRAY['fv.amount'])
       AS t(user_id int8, ts timestamptz, amount float8)"
sum_part=$(db part -c "$q")
sum_flat=$(db flat -c "$q")
[ "$sum_part" = "$sum_flat" ] || fail "the join differs: part $sum_part, flat $sum_flat"
echo "    check ok: same join result in both ($sum_part)"
reads=$(printf 'SET client_min_messages = debug1;\n%s;\n' "$q" | "$bindir/psql" -X -q -h "$work" -p "$PORT" -U postgres -d part -At 2>&1 |
        grep -o 'reads [0-9]* of [0-9]* partitions' || true)
for d in part flat; do
  ts=""
  for r in 1 2 3; do ts+=" $(timed_db $d "$q;")"; done
  m=$(echo "$ts" | median)
  eval "pit_$d=$m"
  say "    $d: ${m} s (median of 3:$ts)"
done
say "    the join on part $reads"
say ""

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
say "bench                                   partitioned    one table      ratio"
printf '%-40s%-15s%-15s%s\n' "ingest $N rows" "${ingest_part} s" "${ingest_flat} s" "$(ratio "$ingest_part" "$ingest_flat")" | tee -a "$results"
printf '%-40s%-15s%-15s%s\n' "retention run (keep 20 of 30 days)" "${ret_part} s" "${ret_flat} s" "$(ratio "$ret_part" "$ret_flat")" | tee -a "$results"
printf '%-40s%-15s%-15s%s\n' "PIT join, last day ($S spine rows)" "${pit_part} s" "${pit_flat} s" "$(ratio "$pit_part" "$pit_flat")" | tee -a "$results"
say ""
say "ratios are partitioned/one-table, measured in this run; all correctness checks passed"
say "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
