#!/usr/bin/env bash
# `make bench-freshness` (also run by `make bench`): serving nodes fed by
# logical replication (README, Scaling out), on two throwaway clusters of
# this machine -- an ingest node and a serving node subscribed to it, each
# with the same attribute and tiled aggregate views:
#
#   1. freshness: 10,000 single-record fs_push calls on the ingest node
#      (pgbench, 4 clients); for each record, the time from its push's
#      commit on the ingest node (its commit timestamp:
#      track_commit_timestamp = on there, the one setting this benchmark
#      changes besides wal_level = logical) to the moment the serving
#      node's apply transaction has fanned it out and commits.  That moment
#      is stamped by a deferred trigger of the benchmark's, which fires at
#      commit right after the fan-out's (triggers fire in name order); the
#      serving node's own commit timestamps are no use here, as an apply
#      worker records the origin's.  Same machine, same clock; p50, p99, max.
#   2. apply throughput: with the subscription disabled (and the stamping
#      trigger dropped), pgbench pushes single records for BENCH_SECONDS;
#      the ingest node's push rate is its records over the span of their
#      commits.  Then the subscription is enabled and the serving node
#      applies the backlog; its apply rate is the records over the time
#      from the enabling to its reported replay position reaching the
#      ingest node's WAL position (polled every 0.1 s).  Target: apply /
#      push >= 1.0 (the serving node keeps up).
#
# Checks (the exit status fails only on these, never on speed): after each
# part the serving node's online values and offline rows equal the ingest
# node's.
#
#   BENCH_SCALE=0.1      scale the number of pushes of part 1 (default 10,000)
#   BENCH_SECONDS=15     duration of part 2's pushing
#   BENCH_PORT=55494     ports of the clusters: this one and the next
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bench=$top/test/bench
cd "$top"

# shellcheck source=test/bench/cluster.sh
. test/bench/cluster.sh
require_root bench-freshness
build_and_install

SCALE=${BENCH_SCALE:-1}
SECS=${BENCH_SECONDS:-15}
PORT=${BENCH_PORT:-55494}
N=$(scaled 10000 100)
CLIENTS=4
KEYS=10000

mkdir -p "$bench/results"
results=$bench/results/freshness-latest.txt
: >"$results"

start_cluster bench-ingest "$PORT" "wal_level = logical" "track_commit_timestamp = on" \
  "shared_preload_libraries = 'pg_cron,pushsource'"
ingest_work=$work
INGEST=("${PSQL[@]}")
start_cluster bench-serve "$((PORT + 1))" "shared_preload_libraries = 'pg_cron,pushsource'"
SERVE=("${PSQL[@]}")
isql() { "${INGEST[@]}" -At "$@"; }
ssql() { "${SERVE[@]}" -At "$@"; }

say "pushsource freshness benchmark (logical replication)  $(date -u '+%Y-%m-%d %H:%M UTC')  commit $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')"
say "machine: $(nproc) cores ($(uname -m)), $(awk '/MemTotal/ { printf "%.0f GB RAM", $2 / 1048576 }' /proc/meminfo); PostgreSQL $(isql -c 'SHOW server_version'); both nodes on this machine"
say "settings: shared_buffers=1GB max_wal_size=8GB checkpoint_timeout=30min, other settings default; the ingest node: wal_level=logical track_commit_timestamp=on"
say "sizes: BENCH_SCALE=$SCALE: $N single-record pushes by $CLIENTS pgbench clients over $KEYS keys; then ${SECS}s of pushes behind a disabled subscription"
say "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
say ""

schema="
CREATE EXTENSION pushsource;
SET search_path = pushsource;
SELECT fs_create_entity('user', ARRAY['user_id']);
SELECT fs_create_push_source('ev', 'user_id Int64, ts Timestamp, n Int64, amount Float64', 'ts' %s);
SELECT fs_create_feature_view('fv', 'ev', ARRAY['user']);
SELECT fs_create_feature_view('fv_sum', 'ev', ARRAY['user'],
    aggregations => ARRAY[fs_agg('amount', 'sum', '1 hour'), fs_agg('amount', 'count', '1 day')],
    aggregation_interval => '1 minute');
"
# shellcheck disable=SC2059
isql -c "$(printf "$schema" '')" >/dev/null
# shellcheck disable=SC2059
ssql -c "$(printf "$schema" ', replicated => true')" >/dev/null
isql -c "CREATE SEQUENCE bench_n; CREATE PUBLICATION fs_pub FOR TABLE pushsource_source.ev,
         pushsource_internal.replicated_deletions WITH (publish = 'insert')" >/dev/null
# the stamp of part 1 (see above): after the fan-out's deferred trigger
ssql -c "CREATE TABLE public.bench_seen (n bigint, t timestamptz);
         CREATE FUNCTION public.bench_seen() RETURNS trigger LANGUAGE plpgsql AS
           \$\$BEGIN INSERT INTO public.bench_seen VALUES (NEW.n, clock_timestamp()); RETURN NULL; END\$\$;
         CREATE CONSTRAINT TRIGGER zzz_bench_seen AFTER INSERT ON pushsource_source.ev
           DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.bench_seen();
         ALTER TABLE pushsource_source.ev ENABLE ALWAYS TRIGGER zzz_bench_seen" >/dev/null
ssql -c "CREATE SUBSCRIPTION fs_sub CONNECTION 'host=$ingest_work port=$PORT dbname=postgres user=postgres'
         PUBLICATION fs_pub" >/dev/null 2>&1

push_script=$work/push.sql
cat >"$push_script" <<'SQL'
\set k random(1, 10000)
SELECT pushsource.fs_push('ev', jsonb_build_object('user_id', :k, 'ts', clock_timestamp(),
       'n', nextval('bench_n'), 'amount', random()));
SQL
chmod 644 "$push_script"

# wait until the serving node has applied everything the ingest node wrote
caught_up() {
  local lsn
  lsn=$(isql -c "SELECT pg_current_wal_lsn()")
  for _ in $(seq 1 1200); do
    [ "$(isql -c "SELECT coalesce(bool_and(replay_lsn >= '$lsn'), false) FROM pg_stat_replication WHERE application_name = 'fs_sub'")" = t ] && return 0
    sleep 0.1
  done
  tail -5 "$work/server.log" >&2
  fail "the serving node did not catch up in 120 s"
}

# the stores of both nodes, as text to compare
stores_sql="SET pushsource.request_time = '2100-01-01';
SELECT md5(pushsource.fs_get_online_features('fv', (SELECT jsonb_agg(jsonb_build_object('user_id', i)) FROM generate_series(1, $KEYS) i))::text);
SELECT count(*) || ' ' || md5(string_agg(t::text, ',' ORDER BY t::text))
  FROM pushsource.fs_get_historical_features('fv', '-infinity'::timestamptz, 'infinity')
       AS t(user_id bigint, ts timestamptz, n bigint, amount float8);"
same_stores() {
  local a b
  a=$(isql -c "$stores_sql")
  b=$(ssql -c "$stores_sql")
  [ "$a" = "$b" ] || fail "$1: the serving node's stores differ from the ingest node's"
  echo "    check ok: $1: the serving node's online values and $(echo "$a" | tail -1 | cut -d' ' -f1) offline rows equal the ingest node's"
}

# (n, commit time) of every row of a node, for rows n in [lo, hi]
commit_times() {
  "$1" -At -c "\\copy (SELECT n, pg_xact_commit_timestamp(xmin) FROM pushsource_source.ev WHERE n BETWEEN $2 AND $3) TO STDOUT"
}
isql_f() { "${INGEST[@]}" "$@"; }
ssql_f() { "${SERVE[@]}" "$@"; }

# --- 1. freshness ----------------------------------------------------------
say "1. freshness: push commit on the ingest node -> applied and fanned out on the serving node"
caught_up
as_pg "'$bindir/pgbench' -n -h '$ingest_work' -p $PORT -U postgres -c $CLIENTS -j $CLIENTS -t $((N / CLIENTS)) -f '$push_script' postgres" >"$work/pgbench1.log" 2>&1 ||
  { cat "$work/pgbench1.log" >&2; fail "pgbench (part 1) failed"; }
caught_up
same_stores "after part 1"
commit_times isql_f 1 "$N" >"$work/ingest1.tsv"
ssql -c "CREATE TEMP TABLE a (n bigint, t timestamptz); CREATE TEMP TABLE b (n bigint, t timestamptz)" \
     -c "\\copy a FROM '$work/ingest1.tsv'" \
     -c "INSERT INTO b SELECT n, t FROM public.bench_seen WHERE n BETWEEN 1 AND $N" \
     -c "SELECT count(*), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
                round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2), round(max(ms)::numeric, 2),
                round(avg(ms)::numeric, 2)
           FROM (SELECT extract(epoch FROM b.t - a.t) * 1000 AS ms FROM a JOIN b USING (n)) x" \
  | tail -1 >"$work/lat.txt"
IFS='|' read -r matched p50 p99 pmax pavg <"$work/lat.txt"
[ "$matched" = "$N" ] || fail "part 1: $matched of $N records matched on both nodes"
tps1=$(grep -o 'tps = [0-9.]*' "$work/pgbench1.log" | head -1 | awk '{ printf "%.0f", $3 }')
say "   $N pushes at $tps1 pushes/s; freshness p50 ${p50} ms, p99 ${p99} ms, max ${pmax} ms (mean ${pavg} ms)"
say ""

# --- 2. apply throughput -----------------------------------------------------
say "2. apply throughput: a backlog of ${SECS}s of single-record pushes, applied after the subscription is enabled"
ssql -c "ALTER SUBSCRIPTION fs_sub DISABLE; DROP TRIGGER zzz_bench_seen ON pushsource_source.ev" >/dev/null
first=$(($(isql -c "SELECT last_value FROM bench_n") + 1))
as_pg "'$bindir/pgbench' -n -h '$ingest_work' -p $PORT -U postgres -c $CLIENTS -j $CLIENTS -T $SECS -f '$push_script' postgres" >"$work/pgbench2.log" 2>&1 ||
  { cat "$work/pgbench2.log" >&2; fail "pgbench (part 2) failed"; }
last=$(isql -c "SELECT last_value FROM bench_n")
read -r pushed push_secs < <(isql -c "SELECT count(*), round(extract(epoch FROM max(pg_xact_commit_timestamp(xmin)) - min(pg_xact_commit_timestamp(xmin)))::numeric, 2)
                                       FROM pushsource_source.ev WHERE n BETWEEN $first AND $last" | tr '|' ' ')
t0=$(date +%s.%N)
ssql -c "ALTER SUBSCRIPTION fs_sub ENABLE" >/dev/null
caught_up
t1=$(date +%s.%N)
apply_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
applied=$(ssql -c "SELECT count(*) FROM pushsource_source.ev WHERE n BETWEEN $first AND $last")
[ "$applied" = "$pushed" ] || fail "part 2: $applied of $pushed records applied"
same_stores "after part 2"
push_rate=$(awk -v n="$pushed" -v s="$push_secs" 'BEGIN { printf "%.0f", n / s }')
apply_rate=$(awk -v n="$applied" -v s="$apply_secs" 'BEGIN { printf "%.0f", n / s }')
ratio=$(awk -v a="$apply_rate" -v p="$push_rate" 'BEGIN { printf "%.2f", a / p }')
say "   ingest: $pushed records pushed in ${push_secs} s = $push_rate records/s (pgbench $CLIENTS clients)"
say "   serving node: applied and fanned out in ${apply_secs} s = $apply_rate records/s (one apply worker)"
say "   apply / push = ${ratio}x  (target >= 1.0: the serving node keeps up)"
say ""
say "counters: ingest $(isql -c "SELECT records || ' records, ' || pushes || ' pushes' FROM pushsource.stat_sources WHERE source = 'ev'"); serving node $(ssql -c "SELECT applied || ' applied in ' || pushes || ' transactions, lag ' || lag FROM pushsource.stat_sources WHERE source = 'ev'")"
