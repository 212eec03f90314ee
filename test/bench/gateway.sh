#!/usr/bin/env bash
# `make bench-gateway` (also the last part of `make bench`): the HTTP
# gateway against the same work over libpq, in one run, same clients.
#
#   1. single-record POST /ingest (wrk, keep-alive) vs pgbench running
#      SELECT fs_ingest(...) with the same one-record body;
#   2. one-key get-features and /get-online-features vs pgbench running
#      SELECT fs_get_online_features(...) for one key;
#   each: peak throughput of both sides, their ratio, then p99 latency of
#   both at half of their own peak rate (wrk: Poisson arrivals by delay(),
#   pgbench: -R);
#   3. the same peak throughputs (get-features, /ingest) at each client
#      count of BENCH_GW_SWEEP, with the HTTP ceiling: test/bench/
#      http_ceiling.c, libmicrohttpd set up as the gateway sets it up,
#      answering a fixed reply with no database -- what HTTP alone costs
#      here; a table in results/gateway_clients.txt and, when gnuplot is
#      there, the plot results/gateway_clients.png (the README shows a copy
#      of one run's, test/bench/plots/gateway_clients.png);
#   4. the gateway's RSS at the start and end of a BENCH_GW_MEM_SECONDS run.
#
# Keys are drawn at random from BENCH_GW_KEYS pre-pushed users on both
# sides.  Nothing here fails on speed; a request that does not answer 200
# is a correctness failure.
#
#   BENCH_SECONDS=10          duration of each throughput run
#   BENCH_GW_CLIENTS=4        connections (wrk) and clients (pgbench)
#   BENCH_GW_POOL=4           the gateway's --pool
#   BENCH_GW_MEM_SECONDS=60   the run the gateway's memory is watched over
#   BENCH_GW_SWEEP="4 8 16 32 64"  client counts of part 3 ("" skips it)
#   BENCH_GW_SWEEP_SECONDS=5  duration of each run of part 3
#   BENCH_GW_KEYS=10000
#   BENCH_PORT=55496          port of the throwaway cluster (unix socket)
#   BENCH_GW_HTTP_PORT=18080  port of the gateway
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bench=$top/test/bench
cd "$top"

# shellcheck source=test/bench/cluster.sh
. test/bench/cluster.sh
require_root bench-gateway
build_and_install
command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null
command -v gnuplot >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q gnuplot-nox >/dev/null ||
  echo "gateway.sh: gnuplot could not be installed; the client sweep is written as a table only" >&2

SECS=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_GW_CLIENTS:-4}
POOL=${BENCH_GW_POOL:-4}
MEMSECS=${BENCH_GW_MEM_SECONDS:-60}
SWEEP=${BENCH_GW_SWEEP-4 8 16 32 64}
SWEEP_SECS=${BENCH_GW_SWEEP_SECONDS:-5}
KEYS=${BENCH_GW_KEYS:-10000}
PORT=${BENCH_PORT:-55496}
HTTP=${BENCH_GW_HTTP_PORT:-18080}
mkdir -p "$bench/results"
results=$bench/results/gateway.txt
: >"$results"

start_cluster bench-gw "$PORT"
sql -c "CREATE EXTENSION pushsource" -c "SET search_path = pushsource" \
    -c "SELECT fs_create_entity('user', ARRAY['user_id'])" \
    -c "SELECT fs_create_push_source('ev', 'user_id String, ts Timestamp, clicks Int64, amount Float64', 'ts')" \
    -c "SELECT fs_create_feature_view('fv', 'ev', ARRAY['user'])" \
    -c "SELECT fs_create_feature_service('svc', ARRAY['fv'])" \
    -c "INSERT INTO pushsource_source.ev SELECT 'u' || i, '2024-05-01T00:00:00Z', i, i / 10.0 FROM generate_series(1, $KEYS) i" \
    -c "CREATE ROLE gw LOGIN IN ROLE pushsource_gateway" \
    -c "CREATE ROLE app IN ROLE pushsource_writer, pushsource_reader" \
    -c "GRANT app TO gw" -c "VACUUM ANALYZE" >/dev/null
KEY=$(sql -c "SELECT pushsource.fs_create_api_key('app', 'bench')")

as_pg "'$bindir/pushsource_gateway' --quiet --listen 127.0.0.1:$HTTP --pool $POOL \
  --db 'host=$work port=$PORT dbname=postgres user=gw' >'$work/gateway.log' 2>&1 & echo \$! >'$work/gateway.pid'"
sleep 0.5
GWPID=$(pgrep -n -f "pushsource_gateway --quiet --listen 127.0.0.1:$HTTP")
BGPIDS+=("$GWPID")
curl -sf "http://127.0.0.1:$HTTP/health" >/dev/null || fail "the gateway does not answer /health: $(cat "$work/gateway.log")"

# the bodies, with a random key per request
INGEST_BODY='{"workspace_name":"bench","records":{"ev":[{"record":{"user_id":"u%s","ts":"2024-05-01T00:00:00Z","clicks":1,"amount":1.5}}]}}'
TECTON_BODY='{"params":{"feature_service_name":"svc","workspace_name":"bench","join_key_map":{"user_id":"u%s"}}}'
FEAST_BODY='{"feature_service":"svc","entities":{"user_id":["u%s"]}}'

# wrk script: POST body (a format with one %s) to path; DELAY_MS > 0 spaces
# each connection's requests by exponential gaps of that mean (Poisson)
wrk_script() {
  cat >"$work/$1.lua" <<EOF
local body = '$2'
local mean = $3
wrk.method = "POST"
wrk.headers["Authorization"] = "Tecton-key $KEY"
wrk.headers["Content-Type"] = "application/json"
request = function()
  return wrk.format(nil, nil, nil, string.format(body, math.random(1, $KEYS)))
end
delay = function()
  if mean <= 0 then return 0 end
  return math.floor(-math.log(1 - math.random()) * mean)
end
local bad = 0
response = function(status, headers, body)
  if status ~= 200 then bad = bad + 1; if bad == 1 then io.stderr:write("status " .. status .. ": " .. body .. "\n") end end
end
done = function(summary, latency, requests)
  io.write(string.format("RPS %.1f\nP99 %.3f\nP50 %.3f\nERRORS %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(99) / 1000,
    latency:percentile(50) / 1000, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
EOF
}

# gw NAME PATH BODY MEAN_DELAY_MS SECONDS -> sets RPS P99 P50
gw() {
  wrk_script "$1" "$3" "$4"
  local out
  out=$(wrk -t 2 -c "$CLIENTS" -d "${5}s" -s "$work/$1.lua" "http://127.0.0.1:$HTTP$2" 2>"$work/wrk.err")
  [ "$(echo "$out" | awk '/^ERRORS/ { print $2 }')" = 0 ] || fail "$1: requests failed: $(head -c 300 "$work/wrk.err")"
  RPS=$(echo "$out" | awk '/^RPS/ { print $2 }')
  P99=$(echo "$out" | awk '/^P99/ { print $2 }')
  P50=$(echo "$out" | awk '/^P50/ { print $2 }')
}

# pg NAME SQL [RATE] -> sets TPS (and P99, P50 in ms when RATE is given)
pg() {
  local f="$work/$1.sql" out rate=${3:-}
  printf '\\set uid random(1, %d)\n%s\n' "$KEYS" "$2" >"$f"
  chmod 644 "$f"
  rm -f "$work"/pgbench_log.*
  out=$(as_pg "cd '$work' && '$bindir/pgbench' -n -M prepared -c $CLIENTS -j 2 -T $SECS \
      ${rate:+-R $rate -l} -f '$f' -h '$work' -p $PORT -U gw postgres" 2>&1) || fail "pgbench $1: $out"
  echo "$out" | grep -q 'failed: 0\|number of failed transactions: 0' || true
  TPS=$(echo "$out" | awk '/^tps/ { print $3 }')
  if [ -n "$rate" ]; then
    # service time: the log's latency (3rd field) less its schedule lag (7th),
    # as wrk measures from the send
    read -r P50 P99 < <(cat "$work"/pgbench_log.* | awk '{ print $3 - $7 }' | sort -n |
      awk '{ a[NR] = $1 } END { printf "%.3f %.3f\n", a[int(NR * 0.5)] / 1000, a[int(NR * 0.99)] / 1000 }')
  fi
}

rss() { awk '/VmRSS/ { print $2 }' "/proc/$GWPID/status"; }
half_delay() { awk -v c="$CLIENTS" -v r="$1" 'BEGIN { printf "%.3f", c / (r / 2) * 1000 }'; }

say "pushsource gateway benchmark  $(date -u '+%Y-%m-%d %H:%M UTC')  commit $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')"
say "machine: $(nproc) cores; server defaults (shared_buffers 1GB); $CLIENTS clients on each side; gateway --pool $POOL; ${SECS}s runs; $KEYS keys"
say ""
printf '%-40s %10s %10s %7s %16s %16s\n' "work" "gateway/s" "libpq/s" "ratio" "p99@half gw ms" "p99@half pg ms" | tee -a "$results"

row() { # label gw_rps pg_tps gw_p99 pg_p99
  printf '%-40s %10.0f %10.0f %6.2fx %16s %16s\n' "$1" "$2" "$3" "$(awk -v a="$2" -v b="$3" 'BEGIN { print a / b }')" "$4" "$5" | tee -a "$results"
}

# 1. single-record ingest
ING_SQL="SELECT pushsource.fs_ingest(format('$INGEST_BODY', :uid::int)::jsonb);"
pg ingest "$ING_SQL"; pg_tps=$TPS
gw ingest /ingest "$INGEST_BODY" 0 "$SECS"; gw_rps=$RPS
gw ingest_half /ingest "$INGEST_BODY" "$(half_delay "$gw_rps")" "$SECS"; gw_p99=$P99
pg ingest_half "$ING_SQL" "$(awk -v t="$pg_tps" 'BEGIN { printf "%d", t / 2 }')"; pg_p99=$P99
row "POST /ingest, 1 record" "$gw_rps" "$pg_tps" "$gw_p99" "$pg_p99"

# 2. one-key reads
READ_SQL="SELECT pushsource.fs_get_online_features('svc', jsonb_build_object('user_id', 'u' || :uid::int));"
pg read "$READ_SQL"; pg_tps=$TPS
pg read_half "$READ_SQL" "$(awk -v t="$pg_tps" 'BEGIN { printf "%d", t / 2 }')"; pg_p99=$P99
gw tecton /api/v1/feature-service/get-features "$TECTON_BODY" 0 "$SECS"; gw_rps=$RPS
gw tecton_half /api/v1/feature-service/get-features "$TECTON_BODY" "$(half_delay "$gw_rps")" "$SECS"
row "get-features, 1 key" "$gw_rps" "$pg_tps" "$P99" "$pg_p99"
gw feast /get-online-features "$FEAST_BODY" 0 "$SECS"; gw_rps=$RPS
gw feast_half /get-online-features "$FEAST_BODY" "$(half_delay "$gw_rps")" "$SECS"
row "/get-online-features, 1 key" "$gw_rps" "$pg_tps" "$P99" "$pg_p99"

# 3. throughput by client count, with the HTTP ceiling
if [ -n "$SWEEP" ]; then
  gcc -O2 -o "$work/http_ceiling" "$bench/http_ceiling.c" -lmicrohttpd
  "$work/http_ceiling" "$((HTTP + 1))" & BGPIDS+=("$!")
  sleep 0.3
  sweep=$bench/results/gateway_clients.txt
  say ""
  say "by client count (${SWEEP_SECS}s runs; ceiling: bare libmicrohttpd, no database):"
  printf '# clients get-features/s libpq-read/s http-ceiling/s ingest/s libpq-ingest/s\n' >"$sweep"
  printf '%8s %13s %11s %13s %11s %9s %13s %7s\n' clients get-features libpq-read http-ceiling "read ratio" ingest libpq-ingest ratio | tee -a "$results"
  saved_clients=$CLIENTS saved_secs=$SECS
  SECS=$SWEEP_SECS
  for CLIENTS in $SWEEP; do
    gw tecton /api/v1/feature-service/get-features "$TECTON_BODY" 0 "$SECS"; r_gw=$RPS
    pg read "$READ_SQL"; r_pg=$TPS
    ceiling=$(wrk -t 2 -c "$CLIENTS" -d "${SECS}s" -s "$work/tecton.lua" "http://127.0.0.1:$((HTTP + 1))/" 2>/dev/null |
      awk '/^RPS/ { print $2 }')
    gw ingest /ingest "$INGEST_BODY" 0 "$SECS"; i_gw=$RPS
    pg ingest "$ING_SQL"; i_pg=$TPS
    printf '%s %s %s %s %s %s\n' "$CLIENTS" "$r_gw" "$r_pg" "$ceiling" "$i_gw" "$i_pg" >>"$sweep"
    printf '%8d %13.0f %11.0f %13.0f %10.2fx %9.0f %13.0f %6.2fx\n' "$CLIENTS" "$r_gw" "$r_pg" "$ceiling" \
      "$(awk -v a="$r_gw" -v b="$r_pg" 'BEGIN { print a / b }')" "$i_gw" "$i_pg" \
      "$(awk -v a="$i_gw" -v b="$i_pg" 'BEGIN { print a / b }')" | tee -a "$results"
  done
  CLIENTS=$saved_clients SECS=$saved_secs
  if command -v gnuplot >/dev/null; then
    gnuplot <<EOF
set terminal pngcairo size 1100,460 font "sans,10" noenhanced
set output "$bench/results/gateway_clients.png"
set multiplot layout 1,2 title "pushsource_gateway (--pool $POOL) and the same SQL over libpq, by clients; $(nproc) cores, one machine"
set logscale x 2
set xrange [3.4:76]
set xtics ($(echo "$SWEEP" | sed 's/ /, /g'))
set xlabel "clients (wrk connections = pgbench clients)"
set grid
set key bottom right
set title "one-key reads: requests/s"
set yrange [0:*]
set format y "%.0s%c"
plot "$sweep" using 1:3 with linespoints lw 2 title "libpq: SELECT fs_get_online_features", \
     "$sweep" using 1:2 with linespoints lw 2 title "gateway: get-features", \
     "$sweep" using 1:4 with linespoints dt 2 title "HTTP alone (no database)"
set title "gateway / libpq throughput"
set format y "%.1f"
set yrange [0:1.6]
set key top left
plot "$sweep" using 1:(\$2/\$3) with linespoints lw 2 title "get-features, 1 key", \
     "$sweep" using 1:(\$5/\$6) with linespoints lw 2 title "POST /ingest, 1 record", \
     0.8 with lines lc rgb "black" dt 3 title "target 0.8"
unset multiplot
EOF
    say "plot: $bench/results/gateway_clients.png"
  fi
fi

# 4. memory over a long run

rss0=$(rss)
gw mem /api/v1/feature-service/get-features "$TECTON_BODY" 0 "$MEMSECS"
rss1=$(rss)
say ""
say "gateway RSS: ${rss0} kB at the start, ${rss1} kB after ${MEMSECS}s of get-features at $(printf '%.0f' "$RPS")/s"
check "every pushed record is in the store" \
  "SELECT (SELECT count(*) FROM pushsource_store.fv_online) = $KEYS"
say "results: $results"
