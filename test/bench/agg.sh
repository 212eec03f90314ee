#!/usr/bin/env bash
# `make bench-agg`: the aggregate-view targets of issue 4, each against a
# hand-written baseline on plain tables in the same run, on a throwaway
# cluster (test/bench/agg/setup.sql has both sides' objects):
#
#   1. ingest: N events (default 1M, 100k keys, 7 days) by INSERT ... SELECT
#      into a source with an attribute view and an aggregate view (sum over
#      1h, 1d, 7d; 1-minute tiles) vs one hand-written statement that appends
#      the log and history, upserts the newest row per key and upserts
#      per-minute (sum, count) tiles; median of BENCH_ROUNDS runs per side;
#   2. online read of the 3 windows of a busy key (10k events in the 7 days):
#      fs_get_online_features vs a SELECT over the baseline's tiles; p50 and
#      p99 of BENCH_READS calls, each timed alone;
#   3. continuous mode (exact sliding windows): read latency as a key's
#      events grow, 100 / 1k / 10k / 100k events in the window, vs a SELECT
#      over a plain events table indexed on (user_id, ts).
#
# Checks (the exit status fails only on these, never on speed): both sides
# hold the same events; the online features of 200 keys and of the busy key
# equal the baseline's SQL over its tiles, and the continuous reads equal
# the SQL over the events.
#
#   BENCH_SCALE=0.1   scale the ingest (default 1: 1M events, 100k keys)
#   BENCH_ROUNDS=3    timed ingest runs per side (median)
#   BENCH_READS=2000  timed reads per side (p50, p99) for 2. and 3.
#   BENCH_PORT=55497  port of the throwaway cluster (unix socket only)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bench=$top/test/bench
cd "$top"


# shellcheck source=test/bench/cluster.sh
. test/bench/cluster.sh
require_root bench-agg
build_and_install

SCALE=${BENCH_SCALE:-1}
ROUNDS=${BENCH_ROUNDS:-3}
READS=${BENCH_READS:-2000}
PORT=${BENCH_PORT:-55497}
N=$(scaled 1000000 1000)
N_KEYS=$(scaled 100000 100)
REQ='2024-01-08 00:00:00+00'

mkdir -p "$bench/results"
results=$bench/results/agg-latest.txt
: >"$results"

start_cluster bench-agg "$PORT"
sql -f "$bench/agg/setup.sql" >/dev/null

say "pushsource aggregate-view benchmark  $(date -u '+%Y-%m-%d %H:%M UTC')  commit $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')"
say "machine: $(nproc) cores ($(uname -m)), $(awk '/MemTotal/ { printf "%.0f GB RAM", $2 / 1048576 }' /proc/meminfo); PostgreSQL $(sql -c 'SHOW server_version')"
say "settings: shared_buffers=1GB max_wal_size=8GB checkpoint_timeout=30min, other settings default (synchronous_commit=on, work_mem=$(sql -c 'SHOW work_mem'))"
say "sizes: BENCH_SCALE=$SCALE: $N events, $N_KEYS keys over 7 days; $ROUNDS ingest runs per side (median); $READS reads per side"
say "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
say ""

PS_TABLES="pushsource_source.ev, pushsource_store.fv_online, pushsource_store.fv_offline, pushsource_store.agg_tiles, pushsource_store.agg_offline"
BL_TABLES="bl.log, bl.hist, bl.online, bl.tiles"
fresh() {
  local t
  case "$1" in ps) t=$PS_TABLES ;; bl) t=$BL_TABLES ;; esac
  sql -c "TRUNCATE $t" -c "VACUUM ANALYZE $t" -c "CHECKPOINT" >/dev/null
}
ps_load() { echo "INSERT INTO pushsource_source.ev (user_id, ts, amount) SELECT user_id, ts, amount FROM $1;"; }
bl_load() { sql -c "SELECT bench.bl_ingest_sql('$1')"; }

# ---------------------------------------------------------------------------
say "== 1. ingest: INSERT INTO pushsource_source.ev SELECT ... ($N events) vs hand-written fan-out with tiles"
input="bench.gen(1, $N, $N_KEYS)"
ps_times=""; bl_times=""; pair_ratios=""
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then order="ps bl"; else order="bl ps"; fi
  for side in $order; do
    fresh $side
    if [ $side = ps ]; then t=$(timed "$(ps_load "$input")"); ps_times+=" $t"
    else t=$(timed "$(bl_load "$input");"); bl_times+=" $t"; fi
    say "    run $r $side: ${t} s"
  done
  # each round's two runs are back to back: their ratio is less exposed to
  # the machine's slow phases than the ratio of the two medians
  pair_ratios+=" $(awk -v a="${ps_times##* }" -v b="${bl_times##* }" 'BEGIN { printf "%.3f", a / b }')"
done
PAIR_RATIO=$(echo "$pair_ratios" | median)
say "    ratio of each round (pushsource/baseline):$pair_ratios; median $PAIR_RATIO"
PS_INGEST=$(echo "$ps_times" | median); BL_INGEST=$(echo "$bl_times" | median)
check "ingest: $N events in the source, both offline stores, the baseline log and history" \
  "SELECT (SELECT count(*) FROM pushsource_source.ev) = $N AND (SELECT count(*) FROM pushsource_store.fv_offline) = $N
      AND (SELECT count(*) FROM pushsource_store.agg_offline) = $N
      AND (SELECT count(*) FROM bl.log) = $N AND (SELECT count(*) FROM bl.hist) = $N"

# SQL: the online features of the keys in $1 (a list of literals) equal
# the baseline's SQL over its tiles, at request time $REQ
tiled_same() {
  cat <<SQL
SET pushsource.request_time = '$REQ';
WITH f AS (SELECT date_bin('1 minute', timestamptz '$REQ', '1970-01-01 00:00+00') AS f),
     b AS (SELECT user_id, coalesce(sum(amount_sum) FILTER (WHERE tile_start >= f - interval '1 hour'), 0) AS h,
                  coalesce(sum(amount_sum) FILTER (WHERE tile_start >= f - interval '1 day'), 0) AS d,
                  sum(amount_sum) AS w
             FROM bl.tiles, f WHERE user_id IN ($1) AND tile_start >= f - interval '7 days' AND tile_start < f
            GROUP BY user_id),
     p AS (SELECT k AS user_id, pushsource.fs_get_online_features('agg', jsonb_build_object('user_id', k)) AS j
             FROM unnest(ARRAY[$1]) k)
SELECT count(*) > 0 AND count(*) = (SELECT count(*) FROM b) AND bool_and(
         abs(coalesce((p.j ->> 'agg.amount_sum_1h_1m')::float8, 0) - b.h) <= 1e-9 * greatest(1, abs(b.w))
     AND abs(coalesce((p.j ->> 'agg.amount_sum_1d_1m')::float8, 0) - b.d) <= 1e-9 * greatest(1, abs(b.w))
     AND abs((p.j ->> 'agg.amount_sum_7d_1m')::float8 - b.w) <= 1e-9 * greatest(1, abs(b.w)))
  FROM p JOIN b USING (user_id)
SQL
}
keys=$(sql -c "SELECT string_agg(quote_literal('u' || g), ', ') FROM generate_series(0, $N_KEYS - 1, greatest($N_KEYS / 200, 1)) g")
check "ingest: the 3 windows of 200 keys online = SQL over the baseline's tiles" "$(tiled_same "$keys")"
say ""

# ---------------------------------------------------------------------------
say "== 2. online read of 1h, 1d, 7d on a busy key (10,000 events in the 7 days), $READS calls per side"
sql -c "$(ps_load "bench.gen_key('busy', 10000)")" -c "$(bl_load "bench.gen_key(''busy'', 10000)")" \
    -c "ANALYZE" >/dev/null
check "read: the busy key online = SQL over the baseline's tiles" "$(tiled_same "'busy'")"
say "    pushsource reads $(sql -c "SELECT count(*) FROM pushsource_store.agg_tiles WHERE user_id = 'busy'") block rows (60 tiles each); the baseline $(sql -c "SELECT count(*) FROM bl.tiles WHERE user_id = 'busy'") tile rows"
lat() { sql -c "SET pushsource.request_time = '$REQ'" -c "SELECT round(p50::numeric, 3) || ' ' || round(p99::numeric, 3) FROM bench.latencies('$1', '$2', $3)"; }
read -r PS_P50 PS_P99 <<<"$(lat ps_tiled busy "$READS")"
read -r BL_P50 BL_P99 <<<"$(lat bl_tiled busy "$READS")"
say "    pushsource p50 $PS_P50 ms, p99 $PS_P99 ms; baseline p50 $BL_P50 ms, p99 $BL_P99 ms"
say ""

# ---------------------------------------------------------------------------
say "== 3. continuous mode: one read of 1h, 1d, 7d as the key's events grow (exact sliding windows)"
CURVE=""
for n in 100 1000 10000 100000; do
  k="k$n"
  sql -c "INSERT INTO pushsource_source.evc (user_id, ts, amount) SELECT user_id, ts, amount FROM bench.gen_key('$k', $n)" \
      -c "INSERT INTO bl.events SELECT user_id, ts, amount FROM bench.gen_key('$k', $n)" -c "ANALYZE" >/dev/null
  check "continuous: key $k ($n events) online = SQL over the baseline's events" \
    "SET pushsource.request_time = '$REQ';
     SELECT abs((j ->> 'aggc.amount_sum_7d_continuous')::float8 - s) <= 1e-9 * greatest(1, abs(s))
       FROM pushsource.fs_get_online_features('aggc', '{\"user_id\": \"$k\"}') j,
            (SELECT sum(amount) AS s FROM bl.events WHERE user_id = '$k'
                AND ts > timestamptz '$REQ' - interval '7 days' AND ts <= '$REQ') b"
  reads=$(( n >= 100000 ? READS / 40 : n >= 10000 ? READS / 4 : READS ))
  reads=$(( reads < 20 ? 20 : reads ))
  read -r p50 p99 <<<"$(lat ps_cont "$k" "$reads")"
  read -r b50 b99 <<<"$(lat bl_cont "$k" "$reads")"
  say "    $n events: pushsource p50 $p50 ms (p99 $p99), baseline p50 $b50 ms (p99 $b99), $reads reads each"
  CURVE+="$n $p50 $b50"$'\n'
done
say ""

# ---------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
say "$(printf '%-46s %-12s %-12s %7s   %s' bench pushsource baseline ratio target)"
say "$(printf '%-46s %-12s %-12s %6sx   %s' "ingest $N events (attr + agg view)" "$PS_INGEST s" "$BL_INGEST s" "$(ratio "$PS_INGEST" "$BL_INGEST")" "<= 1.0x time")"
say "$(printf '%-46s %-12s %-12s %6sx   %s' "  the same, median of the rounds' ratios" "" "" "$(printf '%.2f' "$PAIR_RATIO")" "<= 1.0x time")"
say "$(printf '%-46s %-12s %-12s %6sx   %s' "busy key read 1h/1d/7d, p50" "$PS_P50 ms" "$BL_P50 ms" "$(ratio "$PS_P50" "$BL_P50")" "")"
say "$(printf '%-46s %-12s %-12s %6sx   %s' "busy key read 1h/1d/7d, p99" "$PS_P99 ms" "$BL_P99 ms" "$(ratio "$PS_P99" "$BL_P99")" "p99 <= 2 ms")"
while read -r n p b; do
  [ -n "$n" ] || continue
  say "$(printf '%-46s %-12s %-12s %6sx   %s' "continuous read, $n events in window, p50" "$p ms" "$b ms" "$(ratio "$p" "$b")" "(curve)")"
done <<<"$CURVE"
say ""
say "ratios are pushsource/baseline, measured in this run; all correctness checks passed"
say "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
