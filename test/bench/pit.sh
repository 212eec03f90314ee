#!/usr/bin/env bash
# `make bench-pit`: the point-in-time join target of DESIGN.md (issue 3),
# measured against two baselines in the same run, on a throwaway cluster:
#
#   pushsource   SELECT <aggregate> FROM pushsource.fs_get_historical_features(
#                    'pit_spine', ARRAY['pit_fv']) AS t(...)
#   LATERAL      SELECT <aggregate> FROM pit_spine s LEFT JOIN LATERAL (SELECT
#                    ... ORDER BY ts DESC, _fs_ingest_id DESC LIMIT 1) ON true,
#                    btree index on the offline store's (user_id, ts)
#   DuckDB       SELECT <aggregate> FROM spine s ASOF LEFT JOIN features f
#                    ON s.user_id = f.user_id AND s.ts >= f.ts (ttl applied
#                    after), threads = 2, on tables loaded beforehand from CSV
#                    files exported from the same PostgreSQL tables
#
# All three compute the same aggregate over the joined rows, which is also
# the correctness check: count(*), count(value) and sum((value * 2^20 + 1) *
# row_id) (values are multiples of 2^-20, so the sum is an exact integer that
# depends on which spine row got which value).  The three must agree exactly,
# or the script fails.  Speed never fails it.
#
# Timed: the one query, in a fresh session (psql \timing) for PostgreSQL; the
# one query after the CSV load (performance.now() around runAndReadAll) for
# DuckDB.  The loads and the export are not timed.
#
#   BENCH_SCALE=0.1          scale the sizes (default 1: 1M spine rows, 5M
#                            feature rows, 100k keys)
#   BENCH_ROUNDS=3           timed runs of pushsource and of DuckDB (median)
#   BENCH_LATERAL_ROUNDS=1   timed runs of the LATERAL baseline (median)
#   BENCH_PS_WORK_MEM=256MB  also time pushsource in sessions with this
#                            work_mem (PGOPTIONS), as a DBA would set it for
#                            a training-set query: the spine's index then
#                            fits whole and the scan runs in parallel; the
#                            cluster's work_mem stays the default (empty:
#                            skip)
#   BENCH_PS_INDEX=1         also time pushsource with the baseline's index
#                            on the offline store (0: skip)
#   BENCH_PERF=0             1: after the timed runs, profile one more
#                            pushsource run with perf record -g on its backend
#                            (report in test/bench/results/pit-perf.txt)
#   BENCH_PERF_CALLGRAPH=fp  perf's call graphs: fp (perf record -g) or dwarf
#                            (unwinds through PostgreSQL's frame-pointer-less,
#                            stripped code; bigger perf.data)
#   BENCH_GROWTH="1 2 4"     the growth series: the same workload at these
#                            multiples of the sizes (spine, feature rows and
#                            keys), each in a database of its own, at the
#                            cluster's defaults: pushsource (median of
#                            BENCH_ROUNDS), DuckDB and LATERAL (1 run), and
#                            the peak private memory (RssAnon) of the backend
#                            and its parallel workers; a table and
#                            results/pit_growth.png (gnuplot).  The first
#                            multiple 1 reuses the runs above.  Empty: skip
#   BENCH_WORK_MEM=          work_mem of the cluster (default: PostgreSQL's)
#   BENCH_DUCKDB_VERSION=1.5.6-r.1   @duckdb/node-api version to install
#   BENCH_PORT=55498         port of the throwaway cluster (unix socket only)
#
# DuckDB is installed by this script only (npm, into test/bench/.duckdb,
# gitignored); it is no dependency of the extension.  Runs as root, like
# `make test`; the server runs as the postgres user.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bench=$top/test/bench
cd "$top"

command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "bench-pit: needs node and npm (for DuckDB, the baseline)" >&2; exit 1; }

# shellcheck source=test/bench/cluster.sh
. test/bench/cluster.sh
require_root bench-pit
build_and_install

SCALE=${BENCH_SCALE:-1}
ROUNDS=${BENCH_ROUNDS:-3}
LAT_ROUNDS=${BENCH_LATERAL_ROUNDS:-1}
PS_INDEX=${BENCH_PS_INDEX:-1}
PS_WORK_MEM=${BENCH_PS_WORK_MEM-256MB}
PERF=${BENCH_PERF:-0}
PERF_CG=${BENCH_PERF_CALLGRAPH:-fp}
WORK_MEM=${BENCH_WORK_MEM:-}
DUCKDB_VERSION=${BENCH_DUCKDB_VERSION:-1.5.6-r.1}
PORT=${BENCH_PORT:-55498}
GROWTH=${BENCH_GROWTH-1 2 4}
[ -z "$GROWTH" ] || command -v gnuplot >/dev/null ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q gnuplot-nox >/dev/null ||
  echo "bench-pit: gnuplot could not be installed; the growth series is written as a table only" >&2
N_SPINE=$(scaled 1000000 1000)
N_FEAT=$(scaled 5000000 5000)
N_KEYS=$(scaled 100000 100)
THREADS=2

mkdir -p "$bench/results"
results=$bench/results/pit-latest.txt
: >"$results"

# ---------------------------------------------------------------------------
# DuckDB (baseline only): installed into a gitignored directory
# ---------------------------------------------------------------------------
duckdir=$bench/.duckdb
have=$(node -p "require('$duckdir/node_modules/@duckdb/node-api/package.json').version" 2>/dev/null || true)
if [ "$have" != "$DUCKDB_VERSION" ]; then
  echo "bench-pit: npm install @duckdb/node-api@$DUCKDB_VERSION into $duckdir"
  mkdir -p "$duckdir"
  npm install --prefix "$duckdir" --no-audit --no-fund --loglevel=error \
      "@duckdb/node-api@$DUCKDB_VERSION" >/dev/null
fi

# ---------------------------------------------------------------------------
# Throwaway cluster
# ---------------------------------------------------------------------------
start_cluster bench-pit "$PORT" ${WORK_MEM:+"work_mem = '$WORK_MEM'"}


# timed SQL -> "SECONDS RESULT": one statement returning one row, in a fresh
# session; SECONDS from psql's \timing (the statement, as the client sees it)
timed() {
  local out secs res
  out=$(printf '\\timing on\n%s\n' "$1" | "${PSQL[@]}" -At 2>&1) || { echo "$out" >&2; return 1; }
  secs=$(echo "$out" | grep -o 'Time: [0-9.]* ms' | awk '{ s += $2 } END { printf "%.3f", s / 1000 }')
  res=$(echo "$out" | grep -E '^[0-9]+\|[0-9]+\|[0-9]*$' | tail -n 1)
  [ -n "$res" ] || { echo "$out" >&2; return 1; }
  echo "$secs $res"
}

# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------
t0=$(date +%s.%N)
sql -v nkeys="$N_KEYS" -v nfeat="$N_FEAT" -v nspine="$N_SPINE" -f "$bench/pit/setup.sql" >/dev/null
t1=$(date +%s.%N)
# the load's dirty pages and WAL written out before anything is timed, as
# before the index runs below (else the first runs share the disk with them)
sql -c "CREATE EXTENSION pg_prewarm" -c "CHECKPOINT" >/dev/null

OFF=pushsource_store.pit_fv_offline
ncores=$(nproc)
say "pushsource point-in-time join benchmark  $(date -u '+%Y-%m-%d %H:%M UTC')  commit $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$top" diff --quiet HEAD -- src sql 2>/dev/null || echo ' (+ uncommitted changes to src/sql)')"
say "machine: $ncores cores ($(uname -m)), $(awk '/MemTotal/ { printf "%.0f GB RAM", $2 / 1048576 }' /proc/meminfo); PostgreSQL $(sql -c 'SHOW server_version'); DuckDB $(node -p "require('$duckdir/node_modules/@duckdb/node-api/package.json').version") (node $(node --version)), threads=$THREADS"
say "settings: shared_buffers=1GB max_wal_size=8GB checkpoint_timeout=30min work_mem=$(sql -c 'SHOW work_mem') max_parallel_workers_per_gather=$(sql -c 'SHOW max_parallel_workers_per_gather'), other settings default"
say "data: BENCH_SCALE=$SCALE: spine $N_SPINE rows (user_id int8 uniform over $N_KEYS keys, ts uniform over 30 days);"
say "      $N_FEAT feature rows (80% on 20% of the keys), 1% NULL values, unique (user_id, ts), loaded by INSERT INTO pushsource_source.pit_src SELECT in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s (with the spine)"
say "view: pit_fv, ttl 7 days, one float8 feature; offline store $(sql -c "SELECT pg_size_pretty(pg_table_size('$OFF'))")"
say "timed: the query only, aggregate of the joined rows (count(*), count(value), sum((value*2^20+1)*row_id)), one row out;"
say "       PostgreSQL: psql \\timing, fresh session; DuckDB: in-memory, tables loaded from CSV first (not timed), then the ASOF query"
say "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
say ""

n=$(sql -c "SELECT count(*) FROM $OFF")
[ "$n" = "$N_FEAT" ] || fail "offline store holds $n rows, expected $N_FEAT"
dups=$(sql -c "SELECT count(*) FROM (SELECT 1 FROM $OFF GROUP BY user_id, ts HAVING count(*) > 1) d")
[ "$dups" = 0 ] || fail "the generated feature rows repeat (user_id, ts) $dups times: the three joins may break ties differently"
cols=$(sql -c "SELECT pushsource.fs_historical_features_columns('pit_spine', ARRAY['pit_fv'])")
[ "$cols" = "row_id bigint, user_id bigint, ts timestamp with time zone, pit_fv__score double precision" ] ||
  fail "unexpected column list of fs_get_historical_features: $cols"

AGG="count(*), count(v), sum(coalesce(round(v * 1048576)::bigint + 1, 0) * row_id)"
PS_Q="SELECT $AGG FROM pushsource.fs_get_historical_features('pit_spine', ARRAY['pit_fv'])
        AS t(row_id bigint, user_id bigint, ts timestamptz, v double precision)"
LAT_Q="SELECT $AGG FROM pit_spine s LEFT JOIN LATERAL (
         SELECT o.score AS v FROM $OFF o
          WHERE o.user_id = s.user_id AND o.ts <= s.ts AND o.ts >= s.ts - interval '7 days'
          ORDER BY o.ts DESC, o._fs_ingest_id DESC LIMIT 1) f ON true"

declare -A RES TIME
# run_rounds KEY LABEL SQL ROUNDS: timed runs, median into TIME[KEY], every
# run's result must be the same (into RES[KEY])
run_rounds() {
  local key=$1 label=$2 q=$3 rounds=$4 times="" out secs res
  for r in $(seq 1 "$rounds"); do
    out=$(timed "$q") || fail "$label: the query failed"
    secs=${out%% *}; res=${out#* }
    say "    run $r $label: $secs s   result $res"
    [ -z "${RES[$key]:-}" ] || [ "${RES[$key]}" = "$res" ] || fail "$label: run $r gave $res, an earlier run ${RES[$key]}"
    RES[$key]=$res
    times+=" $secs"
  done
  TIME[$key]=$(echo "$times" | median)
}

prewarm() { sql -c "SELECT sum(pg_prewarm(c::regclass)) FROM unnest(ARRAY[$1]) c" >/dev/null; }

# ---------------------------------------------------------------------------
# 1. pushsource, offline store without index (as the extension creates it)
# ---------------------------------------------------------------------------
say "== pushsource: fs_get_historical_features, offline store without index"
prewarm "'$OFF', 'pit_spine'"
run_rounds ps "pushsource" "$PS_Q" "$ROUNDS"
if [ -n "$PS_WORK_MEM" ]; then
  say "== pushsource: the same, in sessions with work_mem = $PS_WORK_MEM"
  export PGOPTIONS="-c work_mem=$PS_WORK_MEM"
  run_rounds psmem "pushsource/wm" "$PS_Q" "$ROUNDS"
  unset PGOPTIONS
fi

# ---------------------------------------------------------------------------
# 2. DuckDB ASOF JOIN on the same data
# ---------------------------------------------------------------------------
say "== DuckDB: ASOF LEFT JOIN, threads=$THREADS (same rows, exported to CSV)"
mkdir -p "$work/csv"
chown postgres: "$work/csv"
sql -c "SET timezone = 'UTC'" \
    -c "COPY (SELECT row_id, user_id, ts::timestamp FROM pit_spine) TO '$work/csv/spine.csv' (FORMAT csv)" \
    -c "COPY (SELECT user_id, ts::timestamp, score FROM $OFF) TO '$work/csv/features.csv' (FORMAT csv)" >/dev/null
duck=$(node "$bench/pit/duckdb.cjs" "$work/csv" "$ROUNDS" "$THREADS") || fail "the DuckDB script failed"
rm -rf "$work/csv"
say "    load (not timed in the comparison): $(echo "$duck" | awk '$1 == "load" { print $2 }') s"
times=""
while read -r _ r secs res; do
  say "    run $r duckdb: $secs s   result $res"
  [ -z "${RES[duck]:-}" ] || [ "${RES[duck]}" = "$res" ] || fail "duckdb: run $r gave $res, an earlier run ${RES[duck]}"
  RES[duck]=$res
  times+=" $secs"
done < <(echo "$duck" | grep '^run ')
TIME[duck]=$(echo "$times" | median)

# ---------------------------------------------------------------------------
# 3. the baseline's index; pushsource again with it
# ---------------------------------------------------------------------------
sql -c "CREATE INDEX pit_fv_offline_user_ts ON $OFF (user_id, ts)" -c "VACUUM ANALYZE $OFF" -c "CHECKPOINT"
prewarm "'$OFF', 'pushsource_store.pit_fv_offline_user_ts', 'pit_spine'"
if [ "$PS_INDEX" != 0 ]; then
  say "== pushsource: fs_get_historical_features, offline store with btree (user_id, ts)"
  run_rounds psidx "pushsource+index" "$PS_Q" "$ROUNDS"
fi

# ---------------------------------------------------------------------------
# 4. LEFT JOIN LATERAL ... LIMIT 1 with the index
# ---------------------------------------------------------------------------
say "== LATERAL: LEFT JOIN LATERAL (... ORDER BY ts DESC, _fs_ingest_id DESC LIMIT 1), btree (user_id, ts)"
say "    plan: $(sql -c "EXPLAIN (COSTS OFF) $LAT_Q" | sed 's/^ *//; s/ *-> */ -> /' | paste -sd ' ' -)"
run_rounds lat "lateral" "$LAT_Q" "$LAT_ROUNDS"

# ---------------------------------------------------------------------------
# Correctness: the same aggregate everywhere
# ---------------------------------------------------------------------------
for k in duck lat ${RES[psidx]:+psidx} ${RES[psmem]:+psmem}; do
  [ "${RES[$k]}" = "${RES[ps]}" ] ||
    fail "results differ: pushsource ${RES[ps]}, $k ${RES[$k]} (count|count(value)|checksum)"
done
IFS='|' read -r rn rnv _ <<<"${RES[ps]}"
[ "$rn" = "$N_SPINE" ] || fail "$rn result rows for $N_SPINE spine rows"
say "    check ok: pushsource, DuckDB and LATERAL agree: $rn rows, $rnv with a value, checksum ${RES[ps]##*|}"
nomatch=$(sql -c "SELECT count(*) FROM pit_spine s WHERE NOT EXISTS (SELECT 1 FROM $OFF o WHERE o.user_id = s.user_id AND o.ts <= s.ts)")
say "    (of the $((rn - rnv)) NULLs: $nomatch spine rows have no feature row at or before T; the others are cut by the ttl or a NULL value)"

# ---------------------------------------------------------------------------
# Optional diagnostics of pushsource (index dropped again): the plans of its
# nested queries (auto_explain, one run), then a profile of one more run.
# The profile is system-wide (perf record -a) and keeps the postgres
# processes: the feature scan may run with parallel workers, which are other
# processes than the backend.
# ---------------------------------------------------------------------------
if [ "$PERF" = 1 ] && command -v perf >/dev/null; then
  sql -c "DROP INDEX pushsource_store.pit_fv_offline_user_ts" >/dev/null
  perfout=$bench/results/pit-perf.txt
  perfdata=$bench/results/pit-perf.data
  : >"$perfout"

  logpos=$(stat -c %s "$work/server.log")
  out=$(timed "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 10; SET auto_explain.log_nested_statements = on;
               SET auto_explain.log_analyze = on; SET auto_explain.log_timing = off; SET auto_explain.log_buffers = on;
               $PS_Q") || fail "pushsource under auto_explain failed"
  {
    echo "== plans of the statements (>= 10 ms) of one pushsource run (auto_explain, ANALYZE without timing: $out)"
    tail -c +$((logpos + 1)) "$work/server.log" | grep -v 'NOTICE\|STATEMENT' | sed 's/^[0-9-]* [0-9:.]* [A-Z]* \[[0-9]*\] //'
    echo
  } >>"$perfout"

  marker="pit-profile-$$"
  "${PSQL[@]}" -At -c "/* $marker */ SELECT pg_sleep(1); $PS_Q" >/dev/null &
  qpid=$!; BGPIDS+=("$qpid")
  bpid=""
  for _ in $(seq 1 50); do
    bpid=$(sql -c "SELECT pid FROM pg_stat_activity WHERE query LIKE '%$marker%' AND pid <> pg_backend_pid()")
    [ -n "$bpid" ] && break
    sleep 0.1
  done
  [ -n "$bpid" ] || fail "perf: the profiled backend was not found"
  if [ "$PERF_CG" = dwarf ]; then cg=(-F 999 --call-graph dwarf); else cg=(-g); fi
  perf record -q -a "${cg[@]}" -o "$perfdata" >/dev/null 2>&1 &
  ppid=$!; BGPIDS+=("$ppid")
  wait "$qpid"
  kill -INT "$ppid" 2>/dev/null || true
  wait "$ppid" || true
  rep() { perf report -i "$perfdata" --comms postgres --percentage relative --stdio -g none "$@" 2>/dev/null | grep -v '^#' | grep -v '^$' | sed 's/  *$//; s/   */  /g'; }
  {
    echo "== perf record -a ${cg[*]} over one pushsource run (plus 1 s pg_sleep before it), postgres processes only, BENCH_SCALE=$SCALE"
    echo "perf.data kept: $perfdata (backend pid $bpid; other pids are parallel workers)."
    echo "PostgreSQL is stripped: its static functions show as addresses; postgres addresses between"
    echo "ssup_datum_int32_cmp and tuplesort_begin_heap are tuplesort.c's static functions (sort, compare, merge)"
    echo
    if command -v python3 >/dev/null; then
      echo "== summary (test/bench/pit/perf_summary.py: static functions of the stripped binary resolved by address)"
      perf script -i "$perfdata" --comms postgres -F pid,ip,sym,dso 2>/dev/null | python3 "$bench/pit/perf_summary.py" "$bpid"
      echo
    fi
    echo "== by process"
    rep --no-children --sort pid
    echo
    echo "== self time by shared object"
    rep --no-children --sort dso
    echo
    echo "== self time by symbol"
    rep --no-children --sort dso,symbol --percent-limit 0.4
    echo
    echo "== with children (inclusive)"
    rep --children --sort symbol --percent-limit 2
    echo
    echo "== self time with callers (top entries)"
    perf report -i "$perfdata" --comms postgres --percentage relative --stdio --no-children --sort symbol \
        --percent-limit 1.5 -g caller,2,callee,function,percent --max-stack 12 2>/dev/null | grep -v '^#' | grep -v '^$' | sed 's/  *$//'
  } >>"$perfout"
  say ""
  say "profile of one pushsource run: $perfout (perf.data: $perfdata)"
fi


# ---------------------------------------------------------------------------
# Growth series (issue 21): the same workload at multiples of its size, at
# the cluster's defaults, each in a database of its own.  Time must grow at
# most 1.15x linearly; peak memory must stay within the join's budget.
# ---------------------------------------------------------------------------
# peak_run DB: one more pushsource run in DB, its peak private memory
# (kB, backend + workers, and the backend alone) sampled by peak_rss.py
peak_run() {
  local db=$1 marker="pit-peak-$$-$1" bpid="" stop qpid spid out
  stop=$(mktemp -u /tmp/pit-peak.XXXXXX)
  "${PSQL[@]:0:${#PSQL[@]}-2}" -d "$db" -At -c "/* $marker */ SELECT pg_sleep(0.5); $PS_Q" >/dev/null &
  qpid=$!; BGPIDS+=("$qpid")
  for _ in $(seq 1 50); do
    bpid=$(sql -c "SELECT pid FROM pg_stat_activity WHERE query LIKE '%$marker%' AND pid <> pg_backend_pid()")
    [ -n "$bpid" ] && break
    sleep 0.05
  done
  [ -n "$bpid" ] || fail "peak memory: the backend of the run was not found"
  python3 "$bench/pit/peak_rss.py" "$bpid" "$stop" >"$stop.out" &
  spid=$!
  wait "$qpid" || fail "peak memory: the pushsource run failed"
  touch "$stop"
  wait "$spid"
  out=$(cat "$stop.out")
  rm -f "$stop" "$stop.out"
  echo "$out"
}

declare -A G_PS G_DUCK G_LAT G_PEAK G_PEAKL G_SPINE G_FEAT
if [ -n "$GROWTH" ]; then
  say ""
  say "== growth series at the cluster's defaults (work_mem $(sql -c 'SHOW work_mem'), maintenance_work_mem $(sql -c 'SHOW maintenance_work_mem'), pushsource.pit_memory $(sql -c "LOAD 'pushsource'" -c 'SHOW pushsource.pit_memory'))"
  sql -c "DROP INDEX IF EXISTS pushsource_store.pit_fv_offline_user_ts" >/dev/null
  for m in $GROWTH; do
    gs=$(awk -v a="$N_SPINE" -v m="$m" 'BEGIN { printf "%d", a * m }')
    gf=$(awk -v a="$N_FEAT" -v m="$m" 'BEGIN { printf "%d", a * m }')
    gk=$(awk -v a="$N_KEYS" -v m="$m" 'BEGIN { printf "%d", a * m }')
    G_SPINE[$m]=$gs; G_FEAT[$m]=$gf
    if [ "$m" = 1 ]; then
      db=postgres
      G_PS[$m]=${TIME[ps]}; G_DUCK[$m]=${TIME[duck]}; G_LAT[$m]=${TIME[lat]}
      say "    x$m: spine $gs x $gf feature rows, $gk keys: the runs above"
    else
      db=pit_x$m
      sql -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
      DB_PSQL=("${PSQL[@]:0:${#PSQL[@]}-2}" -d "$db")
      t0=$(date +%s.%N)
      "${DB_PSQL[@]}" -At -v nkeys="$gk" -v nfeat="$gf" -v nspine="$gs" -f "$bench/pit/setup.sql" >/dev/null
      "${DB_PSQL[@]}" -At -c "CREATE EXTENSION pg_prewarm" -c "CHECKPOINT" -c "SELECT sum(pg_prewarm(c::regclass)) FROM unnest(ARRAY['$OFF', 'pit_spine']) c" >/dev/null
      say "    x$m: spine $gs x $gf feature rows, $gk keys, loaded in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }') s; offline store $("${DB_PSQL[@]}" -At -c "SELECT pg_size_pretty(pg_table_size('$OFF'))")"
      saved=("${PSQL[@]}"); PSQL=("${DB_PSQL[@]}")
      run_rounds "ps$m" "pushsource x$m" "$PS_Q" "$ROUNDS"
      G_PS[$m]=${TIME[ps$m]}
      mkdir -p "$work/csv"; chown postgres: "$work/csv"
      sql -c "SET timezone = 'UTC'" \
          -c "COPY (SELECT row_id, user_id, ts::timestamp FROM pit_spine) TO '$work/csv/spine.csv' (FORMAT csv)" \
          -c "COPY (SELECT user_id, ts::timestamp, score FROM $OFF) TO '$work/csv/features.csv' (FORMAT csv)" >/dev/null
      duck=$(node "$bench/pit/duckdb.cjs" "$work/csv" "$ROUNDS" "$THREADS") || fail "the DuckDB script failed (x$m)"
      rm -rf "$work/csv"
      times=""
      while read -r _ r secs res; do
        say "    run $r duckdb x$m: $secs s   result $res"
        [ "$res" = "${RES[ps$m]}" ] || fail "x$m: DuckDB gave $res, pushsource ${RES[ps$m]}"
        times+=" $secs"
      done < <(echo "$duck" | grep '^run ')
      G_DUCK[$m]=$(echo "$times" | median)
      sql -c "CREATE INDEX pit_fv_offline_user_ts ON $OFF (user_id, ts)" -c "VACUUM ANALYZE $OFF" >/dev/null
      prewarm "'$OFF', 'pushsource_store.pit_fv_offline_user_ts', 'pit_spine'"
      run_rounds "lat$m" "lateral x$m" "$LAT_Q" "$LAT_ROUNDS"
      [ "${RES[lat$m]}" = "${RES[ps$m]}" ] || fail "x$m: LATERAL gave ${RES[lat$m]}, pushsource ${RES[ps$m]}"
      G_LAT[$m]=${TIME[lat$m]}
      sql -c "DROP INDEX pushsource_store.pit_fv_offline_user_ts" >/dev/null
      PSQL=("${saved[@]}")
    fi
    read -r pk pkl < <(peak_run "$db")
    G_PEAK[$m]=$pk; G_PEAKL[$m]=$pkl
    say "    x$m: peak private memory (RssAnon) $((pk / 1024)) MB, backend and workers together ($((pkl / 1024)) MB the backend)"
    [ "$m" = 1 ] || sql -c "DROP DATABASE $db" >/dev/null
  done
fi

# ---------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------
say ""
say "$(printf '%-52s %-12s %-12s %8s   %s' bench pushsource baseline ratio target)"
# ratio_line LABEL PUSHSOURCE_SECS BASELINE_SECS duck|lat: one row of the table
ratio_line() {
  awk -v label="$1" -v p="$2" -v b="$3" -v kind="$4" 'BEGIN {
    if (kind == "duck")
      printf "%-52s %-12s %-12s %7.2fx   <= 1.5x (pushsource time / DuckDB time)  %s\n",
             label, p " s", b " s", p / b, (p / b <= 1.5) ? "met" : "MISSED"
    else
      printf "%-52s %-12s %-12s %7.2fx   >= 5.0x (LATERAL time / pushsource time) %s\n",
             label, p " s", b " s", b / p, (b / p >= 5) ? "met" : "MISSED" }'
}
wm=$(sql -c 'SHOW work_mem')
say "$(ratio_line "PIT join vs DuckDB ASOF (2 thr.), work_mem $wm" "${TIME[ps]}" "${TIME[duck]}" duck)"
say "$(ratio_line "PIT join vs LATERAL LIMIT 1 + index, work_mem $wm" "${TIME[ps]}" "${TIME[lat]}" lat)"
if [ -n "${TIME[psmem]:-}" ]; then
  say "$(ratio_line "PIT join vs DuckDB, pushsource work_mem $PS_WORK_MEM" "${TIME[psmem]}" "${TIME[duck]}" duck)"
  say "$(ratio_line "PIT join vs LATERAL, pushsource work_mem $PS_WORK_MEM" "${TIME[psmem]}" "${TIME[lat]}" lat)"
fi
if [ -n "${TIME[psidx]:-}" ]; then
  say "$(awk -v p="${TIME[psidx]}" -v d="${TIME[duck]}" -v l="${TIME[lat]}" 'BEGIN {
    printf "%-52s %-12s %-12s   (vs DuckDB %.2fx, LATERAL %.2fx faster)\n",
           "(pushsource with the btree (user_id, ts) present)", p " s", "", p / d, l / p }')"
fi
if [ -n "$GROWTH" ]; then
  budget_kb=$(sql -c "LOAD 'pushsource'" -c "SELECT CASE WHEN current_setting('pushsource.pit_memory') IN ('-1', '0') THEN greatest(pg_size_bytes(current_setting('maintenance_work_mem')), pg_size_bytes(current_setting('work_mem')) * current_setting('hash_mem_multiplier')::float8)::bigint / 1024 ELSE pg_size_bytes(current_setting('pushsource.pit_memory')) / 1024 END")
  first=${GROWTH%% *}
  say ""
  say "growth series (cluster defaults; the join's memory budget $((budget_kb / 1024)) MB):"
  say "$(printf '%-22s %12s %12s %12s %10s %10s %12s' 'spine x feature rows' pushsource DuckDB LATERAL 'ps/DuckDB' 'vs linear' 'peak memory')"
  gdat=$bench/results/pit_growth.dat
  echo "# spine_rows feature_rows pushsource_s duckdb_s lateral_s peak_kb" >"$gdat"
  for m in $GROWTH; do
    say "$(awk -v s="${G_SPINE[$m]}" -v f="${G_FEAT[$m]}" -v p="${G_PS[$m]}" -v d="${G_DUCK[$m]}" -v l="${G_LAT[$m]}" \
               -v p1="${G_PS[$first]}" -v m="$m" -v m1="$first" -v pk="${G_PEAK[$m]}" 'BEGIN {
      lin = (p / p1) / (m / m1);
      printf "%-22s %10.2f s %10.2f s %10.2f s %9.2fx %9.2fx %9d MB %s\n", sprintf("%gM x %gM", s / 1e6, f / 1e6), p, d, l, p / d, lin,
             pk / 1024, (lin <= 1.15 ? "" : "(more than 1.15x linear)") }')"
    echo "${G_SPINE[$m]} ${G_FEAT[$m]} ${G_PS[$m]} ${G_DUCK[$m]} ${G_LAT[$m]} ${G_PEAK[$m]}" >>"$gdat"
  done
  say "(vs linear: time per spine row against the first size's, target <= 1.15x; peak memory: RssAnon of the backend plus its parallel workers, sampled every 20 ms in one more run, each process's own few MB included)"
  if command -v gnuplot >/dev/null; then
    gnuplot -e "dat='$gdat'; out='$bench/results/pit_growth.png'; budget=$((budget_kb / 1024)); cores=$(nproc)" \
            "$bench/pit/growth.gp"
    say "plot: $bench/results/pit_growth.png"
  fi
fi
say ""
say "medians of $ROUNDS runs (pushsource, DuckDB), $LAT_ROUNDS run(s) (LATERAL); results identical on all sides"
say "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
