#!/usr/bin/env bash
# `make bench`: the performance targets of DESIGN.md, each measured against a
# hand-written baseline on plain tables in the same run, on a throwaway
# cluster.  Prints pushsource figure, baseline figure and their ratio; the
# ratios are what matter (the machine may be busy).  Exit status is non-zero
# only when a correctness check fails, never because of speed.
#
#   BENCH_SCALE=0.1      scale the data sizes (default 1: 1M events, 100k keys,
#                        200 batches of 1,000 records)
#   BENCH_SECONDS=15     duration of each pgbench run
#   BENCH_ROUNDS=3       timed runs per side of benchmarks 1 and 2 (median)
#   BENCH_PGB_ROUNDS=2   pgbench runs per side of benchmarks 3 and 4 (mean tps)
#   BENCH_PORT=55499     port of the throwaway cluster (unix socket only)
#
# Runs as root, like `make test`; the server runs as the postgres user.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bench=$top/test/bench
cd "$top"


# shellcheck source=test/bench/cluster.sh
. test/bench/cluster.sh
require_root bench
build_and_install

SCALE=${BENCH_SCALE:-1}
SECS=${BENCH_SECONDS:-15}
ROUNDS=${BENCH_ROUNDS:-3}
PGB_ROUNDS=${BENCH_PGB_ROUNDS:-2}
PORT=${BENCH_PORT:-55499}
N_BULK=$(scaled 1000000 1000)
N_KEYS=$(scaled 100000 100)
N_BATCHES=$(scaled 200 1)
BATCH=1000

mkdir -p "$bench/results"
results=$bench/results/latest.txt
: >"$results"

# ---------------------------------------------------------------------------
# Throwaway cluster
# ---------------------------------------------------------------------------
start_cluster bench "$PORT"

mean() { tr ' ' '\n' | grep . | awk '{ s += $1 } END { printf "%.1f\n", s / NR }'; }

sql -v nkeys="$N_KEYS" -f "$bench/setup.sql" >/dev/null

ncores=$(nproc)
pgver=$(sql -c "SHOW server_version")
say "pushsource benchmarks  $(date -u '+%Y-%m-%d %H:%M UTC')  commit $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')"
say "machine: $ncores cores ($(uname -m)), $(awk '/MemTotal/ { printf "%.0f GB RAM", $2 / 1048576 }' /proc/meminfo); PostgreSQL $pgver"
say "settings: shared_buffers=1GB max_wal_size=8GB checkpoint_timeout=30min, other settings default (synchronous_commit=on, work_mem=$(sql -c 'SHOW work_mem'))"
say "sizes: BENCH_SCALE=$SCALE: $N_BULK bulk events, $N_KEYS keys, $N_BATCHES batches of $BATCH records; pgbench ${SECS}s x $PGB_ROUNDS per side; $ROUNDS timed runs per side (median)"
say "indexes: $(sql -c "SELECT string_agg(t || ' ' || coalesce((SELECT string_agg(regexp_replace(pg_get_indexdef(indexrelid), '^CREATE (UNIQUE )?INDEX \S+ ON \S+ (USING )?', '\1'), ', ') FROM pg_index WHERE indrelid = t::regclass), 'none'), '; ') FROM unnest(ARRAY['pushsource_source.ev', 'bl.log', 'pushsource_store.fv_online', 'bl.online', 'pushsource_store.fv_offline', 'bl.hist']) t")"
say "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
say ""

PS_TABLES="pushsource_source.ev, pushsource_store.fv_online, pushsource_store.fv_offline"
BL_TABLES="bl.log, bl.online, bl.hist"
# fresh [ps|bl]: empty that side's tables (both sides without argument)
fresh() {
  local t="$PS_TABLES, $BL_TABLES"
  case "${1:-}" in ps) t=$PS_TABLES ;; bl) t=$BL_TABLES ;; esac
  sql -c "TRUNCATE $t" -c "VACUUM ANALYZE $t" -c "CHECKPOINT"
}

# The same work, two ways, for one input (bench.gen rows FROM..TO or the
# every-key seed): the pushsource side is the plain INSERT into the source
# table (its triggers do the fan-out); the baseline is what a good DBA would
# write by hand: one statement that computes the input once (MATERIALIZED
# CTE), appends it to the log and the history table, and upserts the newest
# row per key (DISTINCT ON with the ingest order as tie-breaker, like ours)
# with a WHERE that keeps a newer stored row.
ps_load() { echo "INSERT INTO pushsource_source.ev (user_id, ts, clicks, score) SELECT user_id, ts, clicks, score FROM $1;"; }
bl_load() {
  cat <<EOF
WITH src AS MATERIALIZED (SELECT i, user_id, ts, clicks, score FROM $1),
     l AS (INSERT INTO bl.log SELECT user_id, ts, clicks, score FROM src),
     h AS (INSERT INTO bl.hist SELECT user_id, ts, clicks, score, i FROM src)
INSERT INTO bl.online AS o
SELECT DISTINCT ON (user_id) user_id, ts, clicks, score, i FROM src ORDER BY user_id, ts DESC, i DESC
ON CONFLICT (user_id) DO UPDATE
   SET ts = excluded.ts, clicks = excluded.clicks, score = excluded.score, ingest_id = excluded.ingest_id
 WHERE (o.ts, o.ingest_id) < (excluded.ts, excluded.ingest_id);
EOF
}

# The online stores hold the same (key, ts, features), and both logs, both
# histories hold N rows.
check_same_online() {
  check "$1: online store = baseline online table ($2 keys)" \
    "SELECT (SELECT count(*) FROM pushsource_store.fv_online) = (SELECT count(*) FROM bl.online)
        AND (SELECT count(*) FROM bl.online) = $2
        AND NOT EXISTS (SELECT user_id, ts, clicks, score FROM pushsource_store.fv_online
                        EXCEPT SELECT user_id, ts, clicks, score FROM bl.online)
        AND NOT EXISTS (SELECT user_id, ts, clicks, score FROM bl.online
                        EXCEPT SELECT user_id, ts, clicks, score FROM pushsource_store.fv_online)"
}
check_counts() {
  check "$1: $2 rows in source table, offline store, baseline log and history" \
    "SELECT (SELECT count(*) FROM pushsource_source.ev) = $2 AND (SELECT count(*) FROM pushsource_store.fv_offline) = $2
        AND (SELECT count(*) FROM bl.log) = $2 AND (SELECT count(*) FROM bl.hist) = $2"
}

declare -A PS BL

# ---------------------------------------------------------------------------
# 1. bulk INSERT ... SELECT
# ---------------------------------------------------------------------------
say "== 1. bulk: INSERT INTO pushsource_source.ev SELECT ... ($N_BULK events, $N_KEYS keys) vs hand-written fan-out"
input="bench.gen(1, $N_BULK, $N_KEYS)"
ps_times=""; bl_times=""
for r in $(seq 1 "$ROUNDS"); do
  # alternate which side goes first
  if [ $((r % 2)) = 1 ]; then order="ps bl"; else order="bl ps"; fi
  for side in $order; do
    fresh $side
    if [ $side = ps ]; then t=$(timed "$(ps_load "$input")"); ps_times+=" $t"
    else t=$(timed "$(bl_load "$input")"); bl_times+=" $t"; fi
    say "    run $r $side: ${t} s"
  done
done
PS[bulk]=$(echo "$ps_times" | median); BL[bulk]=$(echo "$bl_times" | median)
check_counts bulk "$N_BULK"
check_same_online bulk "$(sql -c "SELECT count(DISTINCT user_id) FROM $input")"
check "bulk: offline store = baseline history (every event, EXCEPT ALL both ways)" \
  "SELECT NOT EXISTS (SELECT user_id, ts, clicks, score FROM pushsource_store.fv_offline
                      EXCEPT ALL SELECT user_id, ts, clicks, score FROM bl.hist)
      AND NOT EXISTS (SELECT user_id, ts, clicks, score FROM bl.hist
                      EXCEPT ALL SELECT user_id, ts, clicks, score FROM pushsource_store.fv_offline)"

# ---------------------------------------------------------------------------
# 2. fs_push of 1,000-record JSON batches
# ---------------------------------------------------------------------------
say "== 2. fs_push of $N_BATCHES batches of $BATCH JSON records vs jsonb_to_recordset + upsert + history"
sql -c "INSERT INTO bench.batches
        SELECT (i - 1) / $BATCH + 1, count(*),
               jsonb_agg(jsonb_build_object('user_id', user_id, 'ts', ts, 'clicks', clicks, 'score', score) ORDER BY i)
          FROM bench.gen(1, $((N_BATCHES * BATCH)), $N_KEYS) GROUP BY (i - 1) / $BATCH" \
    -c "VACUUM ANALYZE bench.batches"
ps_times=""; bl_times=""
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then order="ps bl"; else order="bl ps"; fi
  for side in $order; do
    fresh $side
    t=$(timed "CALL bench.${side}_batches($N_BATCHES);")
    if [ $side = ps ]; then ps_times+=" $t"; else bl_times+=" $t"; fi
    say "    run $r $side: ${t} s"
  done
done
PS[batch]=$(echo "$ps_times" | median); BL[batch]=$(echo "$bl_times" | median)
check_counts batch $((N_BATCHES * BATCH))
check_same_online batch "$(sql -c "SELECT count(DISTINCT user_id) FROM bench.gen(1, $((N_BATCHES * BATCH)), $N_KEYS)")"

# ---------------------------------------------------------------------------
# pgbench helpers
# ---------------------------------------------------------------------------
# Both stores seeded with every key once, through the same two paths.
seed() {
  fresh
  timed "$(ps_load "bench.gen_each_key($N_KEYS)")" >/dev/null
  timed "$(bl_load "bench.gen_each_key($N_KEYS)")" >/dev/null
  sql -c "VACUUM ANALYZE $PS_TABLES, $BL_TABLES" -c "CHECKPOINT"
}
# pgb SCRIPT -> "tps processed"; -M prepared on both sides (a good client
# prepares its statements), 4 clients on 2 threads.
pgb() {
  local out tps n failed
  out=$("$bindir/pgbench" -n -M prepared -c 4 -j 2 -T "$SECS" -D nkeys="$N_KEYS" \
          -h "$work" -p "$PORT" -U postgres -f "$bench/$1" postgres 2>&1) ||
    { echo "$out" >&2; fail "pgbench $1 exited with an error"; }
  failed=$(echo "$out" | sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p')
  [ "${failed:-0}" = 0 ] || { echo "$out" >&2; fail "pgbench $1: $failed failed transactions"; }
  tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
  n=$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
  [ -n "$tps" ] && [ -n "$n" ] || { echo "$out" >&2; fail "pgbench $1: no tps in its output"; }
  echo "$tps $n"
}

# ---------------------------------------------------------------------------
# 3. single-record fs_push, pgbench 4 clients
# ---------------------------------------------------------------------------
say "== 3. single-record fs_push vs INSERT + upsert (pgbench -c 4 -j 2 -T $SECS, $N_KEYS keys)"
seed
ps_tps=""; bl_tps=""; ps_n=0; bl_n=0
for r in $(seq 1 "$PGB_ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then order="ps bl"; else order="bl ps"; fi
  for side in $order; do
    sql -c "CHECKPOINT"
    res=$(pgb "push_single_$side.sql"); read -r tps n <<<"$res"
    if [ $side = ps ]; then ps_tps+=" $tps"; ps_n=$((ps_n + n)); else bl_tps+=" $tps"; bl_n=$((bl_n + n)); fi
    say "    run $r $side: $tps tps ($n transactions)"
  done
done
PS[single]=$(echo "$ps_tps" | mean); BL[single]=$(echo "$bl_tps" | mean)
check "single: every push is in the source table and the offline store ($ps_n pushes)" \
  "SELECT (SELECT count(*) FROM pushsource_source.ev) = $N_KEYS + $ps_n
      AND (SELECT count(*) FROM pushsource_store.fv_offline) = $N_KEYS + $ps_n
      AND (SELECT count(*) FROM bl.log) = $N_KEYS + $bl_n"
check "single: after concurrent pushes the online store holds the newest offline row of every key" \
  "WITH newest AS (SELECT DISTINCT ON (user_id) user_id, ts, clicks, score, _fs_ingest_id
                     FROM pushsource_store.fv_offline ORDER BY user_id, ts DESC, _fs_ingest_id DESC)
   SELECT (SELECT count(*) FROM pushsource_store.fv_online) = $N_KEYS
      AND NOT EXISTS (SELECT * FROM newest EXCEPT SELECT user_id, ts, clicks, score, _fs_ingest_id FROM pushsource_store.fv_online)
      AND NOT EXISTS (SELECT user_id, ts, clicks, score, _fs_ingest_id FROM pushsource_store.fv_online EXCEPT SELECT * FROM newest)"

# ---------------------------------------------------------------------------
# 4. online read of one key, pgbench 4 clients
# ---------------------------------------------------------------------------
say "== 4. fs_get_online_features, 1 key vs primary-key SELECT (pgbench -c 4 -j 2 -T $SECS, $N_KEYS keys)"
seed
check_same_online read "$N_KEYS"
check "read: fs_get_online_features returns the baseline row's features (1,000 keys)" \
  "SELECT bool_and(pushsource.fs_get_online_features('fv', jsonb_build_object('user_id', user_id))
                   = jsonb_build_object('fv.clicks', clicks, 'fv.score', score))
     FROM (SELECT * FROM bl.online ORDER BY hashtext(user_id) LIMIT 1000) b"
ps_tps=""; bl_tps=""
for r in $(seq 1 "$PGB_ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then order="ps bl"; else order="bl ps"; fi
  for side in $order; do
    res=$(pgb "read_$side.sql"); read -r tps n <<<"$res"
    if [ $side = ps ]; then ps_tps+=" $tps"; else bl_tps+=" $tps"; fi
    say "    run $r $side: $tps tps ($n transactions)"
  done
done
PS[read]=$(echo "$ps_tps" | mean); BL[read]=$(echo "$bl_tps" | mean)

# ---------------------------------------------------------------------------
# 6. online read of 100 keys in one call, pgbench 4 clients (same stores)
# ---------------------------------------------------------------------------
say "== 6. fs_get_online_features, 100 keys vs SELECT ... WHERE key = ANY (pgbench -c 4 -j 2 -T $SECS, $N_KEYS keys)"
check "read100: the 100 keys' features are the baseline rows' (10 calls)" \
  "SELECT bool_and((SELECT jsonb_agg(jsonb_build_object('fv.clicks', b.clicks, 'fv.score', b.score) ORDER BY k.i)
                      FROM generate_series(1, 100) k(i)
                      JOIN bl.online b ON b.user_id = 'u' || ((c.id + k.i * 997) % $N_KEYS))
                   = pushsource.fs_get_online_features('fv',
                       (SELECT jsonb_agg(jsonb_build_object('user_id', 'u' || ((c.id + i * 997) % $N_KEYS)) ORDER BY i)
                          FROM generate_series(1, 100) i)))
     FROM generate_series(0, 9) c(id)"
ps_tps=""; bl_tps=""
for r in $(seq 1 "$PGB_ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then order="ps bl"; else order="bl ps"; fi
  for side in $order; do
    res=$(pgb "read100_$side.sql"); read -r tps n <<<"$res"
    if [ $side = ps ]; then ps_tps+=" $tps"; else bl_tps+=" $tps"; fi
    say "    run $r $side: $tps tps ($n transactions)"
  done
done
PS[read100]=$(echo "$ps_tps" | mean); BL[read100]=$(echo "$bl_tps" | mean)

# ---------------------------------------------------------------------------
# 5. single-record fs_push into a source with four views, pgbench 4 clients
# ---------------------------------------------------------------------------
say "== 5. single-record fs_push to 4 online views (2 attribute, tiled sum, continuous max) vs the same by hand (pgbench -c 4 -j 2 -T $SECS, $N_KEYS keys)"
ps_tps=""; bl_tps=""; ps_n=0; bl_n=0
for r in $(seq 1 "$PGB_ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then order="ps bl"; else order="bl ps"; fi
  for side in $order; do
    sql -c "CHECKPOINT"
    res=$(pgb "push_fanout4_$side.sql"); read -r tps n <<<"$res"
    if [ $side = ps ]; then ps_tps+=" $tps"; ps_n=$((ps_n + n)); else bl_tps+=" $tps"; bl_n=$((bl_n + n)); fi
    say "    run $r $side: $tps tps ($n transactions)"
  done
done
PS[fanout4]=$(echo "$ps_tps" | mean); BL[fanout4]=$(echo "$bl_tps" | mean)
check "fanout4: every push is in both logs, and both sides hold the same keys online ($ps_n and $bl_n pushes)" \
  "SELECT (SELECT count(*) FROM pushsource_source.ev4) = $ps_n AND (SELECT count(*) FROM bl4.log) = $bl_n
      AND (SELECT count(*) FROM pushsource_store.fv4a_online) = (SELECT count(DISTINCT user_id) FROM pushsource_source.ev4)
      AND (SELECT count(*) FROM bl4.online_a) = (SELECT count(DISTINCT user_id) FROM bl4.log)"
check "fanout4: the online values are the newest pushed rows (200 keys whose newest time is unique)" \
  "SELECT count(*) = 200 AND bool_and(pushsource.fs_get_online_features('fv4a', jsonb_build_object('user_id', n.user_id))
                                      = jsonb_build_object('fv4a.clicks', n.clicks))
     FROM (SELECT user_id, clicks
             FROM (SELECT user_id, clicks, ts, max(ts) OVER (PARTITION BY user_id) AS newest,
                          count(*) OVER (PARTITION BY user_id, ts) AS at_ts
                     FROM pushsource_source.ev4) x
            WHERE ts = newest AND at_ts = 1 ORDER BY user_id LIMIT 200) n"

# ---------------------------------------------------------------------------
# 7. a feature service over three views, one key, pgbench 4 clients
# ---------------------------------------------------------------------------
say "== 7. fs_get_online_features of a feature service over 3 views, 1 key vs the 3 tables joined (pgbench -c 4 -j 2 -T $SECS, $N_KEYS keys)"
# benchmark 5's two sides pushed different random keys: the baseline's
# tables get the same rows as the views' online stores, and both sides'
# tables are vacuumed (the stores hold benchmark 5's dead row versions,
# the baseline's refilled tables none)
sql -c "TRUNCATE bl4.online_a, bl4.online_b" \
    -c "INSERT INTO bl4.online_a SELECT user_id, ts, clicks, _fs_ingest_id FROM pushsource_store.fv4a_online" \
    -c "INSERT INTO bl4.online_b SELECT user_id, ts, score, _fs_ingest_id FROM pushsource_store.fv4b_online" \
    -c "VACUUM ANALYZE bl4.online_a, bl4.online_b, bl.online" \
    -c "VACUUM ANALYZE pushsource_store.fv4a_online, pushsource_store.fv4b_online, pushsource_store.fv_online" >/dev/null
check "svc: the service's features are the baseline join's (1,000 keys, some of them in fv4a/fv4b)" \
  "SELECT bool_and(pushsource.fs_get_online_features('svc3', jsonb_build_object('user_id', o.user_id))
                   = jsonb_build_object('fv.clicks', o.clicks, 'fv.score', o.score,
                                        'fv4a.clicks', a.clicks, 'fv4b.score', b.score))
          AND count(a.user_id) > 0
     FROM (SELECT * FROM bl.online ORDER BY hashtext(user_id) LIMIT 1000) o
     LEFT JOIN bl4.online_a a ON a.user_id = o.user_id
     LEFT JOIN bl4.online_b b ON b.user_id = o.user_id"
ps_tps=""; bl_tps=""
for r in $(seq 1 "$PGB_ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then order="ps bl"; else order="bl ps"; fi
  for side in $order; do
    res=$(pgb "read_svc_$side.sql"); read -r tps n <<<"$res"
    if [ $side = ps ]; then ps_tps+=" $tps"; else bl_tps+=" $tps"; fi
    say "    run $r $side: $tps tps ($n transactions)"
  done
done
PS[svc]=$(echo "$ps_tps" | mean); BL[svc]=$(echo "$bl_tps" | mean)

# ---------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------
# row LABEL PS BL UNIT KIND(time|tps) TARGET
row() {
  awk -v l="$1" -v p="$2" -v b="$3" -v u="$4" -v k="$5" -v t="$6" 'BEGIN {
        r = p / b
        ok = (k == "time") ? (r <= t) : (r >= t)
        printf "%-42s %-14s %-14s %6.2fx   %s %.1fx (%s)  %s\n", l, p " " u, b " " u, r,
               (k == "time") ? "<=" : ">=", t, k, ok ? "met" : "MISSED" }'
}
say ""
say "$(printf '%-42s %-14s %-14s %7s   %s' bench pushsource baseline ratio target)"
say "$(row "bulk INSERT..SELECT $N_BULK" "${PS[bulk]}" "${BL[bulk]}" s time 1.0)"
say "$(row "fs_push $BATCH-record batches x$N_BATCHES" "${PS[batch]}" "${BL[batch]}" s time 1.2)"
say "$(row "single-record push (pgbench 4 clients)" "${PS[single]}" "${BL[single]}" tps tps 0.7)"
say "$(row "online read 1 key (pgbench 4 clients)" "${PS[read]}" "${BL[read]}" tps tps 1.0)"
say "$(row "online read 100 keys (pgbench 4 clients)" "${PS[read100]}" "${BL[read100]}" tps tps 0.9)"
say "$(row "push to 4 views (pgbench 4 clients)" "${PS[fanout4]}" "${BL[fanout4]}" tps tps 0.7)"
say "$(row "service over 3 views, 1 key (pgbench 4)" "${PS[svc]}" "${BL[svc]}" tps tps 0.9)"
say ""
say "ratios are pushsource/baseline, measured in this run; all correctness checks passed"
say "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
