#!/usr/bin/env bash
# Compares the chat path of two builds of LLM Marketplace on one machine in one run: the
# same nginx upstream, both builds started side by side, saturated and fixed-concurrency wrk
# runs and a fixed-rate run alternating between them round after round (so a drift of the machine hits both),
# with the master key and with an API key (limits, budget, metering). Prints the medians and
# the ratios and writes bench/results/gateway-compare.md.
#
# Usage: bench/gateway/compare.sh BASE [HEAD]
#   BASE, HEAD: git revisions (HEAD defaults to the working tree as it is).
# Knobs: BENCH_ROUNDS (7), BENCH_SAT_DURATION (10 s), BENCH_LAT_DURATION (10 s),
#        BENCH_SAT_CONNECTIONS (64), BENCH_LAT_CONNECTIONS (8), BENCH_THREADS (2),
#        BENCH_RATE (2000 req/s), BENCH_RATE_CONNECTIONS (32), BENCH_RATE_DURATION (10 s).
#        BENCH_REPORT_ONLY=1 rewrites the report from the last run's rows without measuring again.
# On a busy machine throughput moves with the other load; CPU per request (the build's own CPU time
# divided by the requests it answered) moves far less, so the report gives both.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"

BASE=${1:?usage: compare.sh BASE [HEAD]}
HEAD_REV=${2:-}
ROUNDS=${BENCH_ROUNDS:-7}
SAT_DURATION=${BENCH_SAT_DURATION:-10}
LAT_DURATION=${BENCH_LAT_DURATION:-10}
SAT_CONNECTIONS=${BENCH_SAT_CONNECTIONS:-64}
LAT_CONNECTIONS=${BENCH_LAT_CONNECTIONS:-8}
THREADS=${BENCH_THREADS:-2}
RATE=${BENCH_RATE:-2000}
RATE_CONNECTIONS=${BENCH_RATE_CONNECTIONS:-32}
RATE_DURATION=${BENCH_RATE_DURATION:-10}
WORK=${BENCH_WORK_DIR:-bench/.work}
RESULTS=${BENCH_RESULTS:-bench/results/gateway-compare.md}
RUN_DIR=$WORK/compare-run
REPORT_ONLY=${BENCH_REPORT_ONLY:-0}
LOGS=$RUN_DIR/logs
LUA=bench/gateway/chat.lua

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

. "$HERE/lib.sh"
for tool in nginx wrk curl dotnet python3 git; do command -v "$tool" >/dev/null || die "$tool is needed"; done

if [ "$REPORT_ONLY" != 1 ]; then
PIDS=(); TREES=()
cleanup() {
  local pid t
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for t in "${TREES[@]}"; do git worktree remove --force "$t" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
rm -rf "$RUN_DIR"; mkdir -p "$RUN_DIR" "$LOGS" "$(dirname "$RESULTS")"

# publish NAME REV: a Release publish of REV (or of the working tree when REV is empty) into $WORK/compare-NAME.
publish() {
  local name=$1 rev=$2 src=$ROOT out
  out=$(cd "$WORK" && pwd)/compare-$name
  if [ -n "$rev" ]; then
    src=$(cd "$WORK" && pwd)/compare-src-$name
    git worktree remove --force "$src" >/dev/null 2>&1 || rm -rf "$src"
    git worktree add --detach "$src" "$rev" >"$LOGS/worktree-$name.log" 2>&1 || die "cannot check out $rev"
    TREES+=("$src")
  fi
  log "publishing $name (${rev:-working tree}) to $out"
  rm -rf "$out"
  (cd "$src" && dotnet publish src/Host/Host.csproj -c Release -o "$out" --nologo -nodeReuse:false \
    -p:UseSharedCompilation=false) >"$LOGS/publish-$name.log" 2>&1 || { tail -30 "$LOGS/publish-$name.log" >&2; die "publish of $name failed"; }
}
BASE_DESC=$(git log -1 --format='%h %s' "$BASE" | cut -c1-90)
HEAD_DESC=$([ -n "$HEAD_REV" ] && git log -1 --format='%h %s' "$HEAD_REV" | cut -c1-90 || echo "working tree at $(git log -1 --format=%h)$(git diff --quiet HEAD || echo ' with changes')")
printf '%s\n%s\n%s\n' "$BASE_DESC" "$HEAD_DESC" "$(cut -d' ' -f1-3 /proc/loadavg)" >"$RUN_DIR/meta"
publish base "$BASE"
publish head "$HEAD_REV"

# ---------------------------------------------------------------- upstream and the two builds
UP_PORT=$(free_port)
nginx_conf "$(cd "$RUN_DIR" && pwd)/upstream" "$(upstream_server "$UP_PORT")"
nginx -p "$(cd "$RUN_DIR" && pwd)/upstream/" -c "$(cd "$RUN_DIR" && pwd)/upstream/nginx.conf" >"$LOGS/upstream.log" 2>&1 & PIDS+=($!)
wait_http "http://127.0.0.1:$UP_PORT/v1/chat/completions" 10 POST

gateway_yaml "$RUN_DIR/gateway.yaml" "http://127.0.0.1:$UP_PORT/v1"

declare -A PORT PID MASTER KEYED
for b in base head; do
  PORT[$b]=$(free_port)
  MASTER[$b]=bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  mkdir -p "$RUN_DIR/data-$b"
  LLMM_MASTER_KEY=${MASTER[$b]} dotnet "$WORK/compare-$b/llm-marketplace.dll" serve --config "$RUN_DIR/gateway.yaml" \
    --urls "http://127.0.0.1:${PORT[$b]}" --data "$RUN_DIR/data-$b" >"$LOGS/gateway-$b.log" 2>&1 &
  PID[$b]=$!; PIDS+=("${PID[$b]}")
done
for b in base head; do
  wait_http "http://127.0.0.1:${PORT[$b]}/health/ready" 90
  created=$(curl -s --max-time 10 -X POST -H "Authorization: Bearer ${MASTER[$b]}" -H 'Content-Type: application/json' \
    -d '{"name":"bench","rpm":1000000000,"tpm":1000000000000,"budgetUsd":1000000,"budgetPeriod":"monthly"}' \
    "http://127.0.0.1:${PORT[$b]}/api/v1/keys")
  KEYED[$b]=$(printf '%s' "$created" | sed -n 's/.*"key": *"\([^"]*\)".*/\1/p')
  [ -n "${KEYED[$b]}" ] || die "$b: could not create an API key: ${created:0:300}"
done

# run BUILD AUTH CONNECTIONS SECONDS LABEL [RATE]: one wrk run (paced at RATE req/s when given); appends
# "label rps p50 p99 errors cores p99.9" to $RUN_DIR/rows.
run() {
  local b=$1 auth=$2 conns=$3 dur=$4 label=$5 rate=${6:-0} out line cpu0 cores
  out=$LOGS/wrk-$label.txt
  cpu0=$(proc_cpu "${PID[$b]}")
  WRK_AUTH=$auth WRK_THREADS=$THREADS WRK_RATE=$rate timeout $(( dur + 30 )) wrk -t"$THREADS" -c"$conns" -d"${dur}s" --timeout 5s --latency \
    -s "$LUA" "http://127.0.0.1:${PORT[$b]}/v1/chat/completions" >"$out" 2>&1 || die "wrk failed ($out)"
  cores=$(calc "($(proc_cpu "${PID[$b]}") - $cpu0) / $CLK_TCK / $dur" 3)
  line=$(grep '^BENCH ' "$out") || die "no result line in $out"
  declare -A m=(); local kv
  for kv in ${line#BENCH }; do m[${kv%%=*}]=${kv#*=}; done
  local errors=$(( m[err_connect] + m[err_read] + m[err_write] + m[err_timeout] + m[non2xx] ))
  echo "$label ${m[rps]} ${m[p50_ms]} ${m[p99_ms]} $errors $cores ${m[p999_ms]}" >>"$RUN_DIR/rows"
}

# Warm both builds (JIT, tiered compilation, connection pools) before anything counts.
for b in base head; do
  for a in master keyed; do
    if [ $a = master ]; then auth=${MASTER[$b]}; else auth=${KEYED[$b]}; fi
    run "$b" "$auth" "$SAT_CONNECTIONS" 10 "warm-$b-$a"
  done
done
: >"$RUN_DIR/rows"

# Rounds: each round measures both builds, in an order that alternates, so neither always goes first.
for r in $(seq 1 "$ROUNDS"); do
  if [ $(( r % 2 )) = 1 ]; then order="base head"; else order="head base"; fi
  for b in $order; do
    for a in master keyed; do
      if [ $a = master ]; then auth=${MASTER[$b]}; else auth=${KEYED[$b]}; fi
      log "round $r/$ROUNDS: $b, $a key"
      run "$b" "$auth" "$SAT_CONNECTIONS" "$SAT_DURATION" "sat-$b-$a"
      run "$b" "$auth" "$LAT_CONNECTIONS" "$LAT_DURATION" "lat-$b-$a"
      run "$b" "$auth" "$RATE_CONNECTIONS" "$RATE_DURATION" "rate-$b-$a" "$RATE"
    done
  done
done

fi
{ read -r BASE_DESC; read -r HEAD_DESC; read -r LOAD_BEFORE; } <"$RUN_DIR/meta"

# median LABEL COLUMN (2 = rps, 3 = p50, 4 = p99, 5 = errors, 6 = cores, 7 = p99.9, 8 = CPU µs per request)
median() { awk -v l="$1" -v c="$2" '$1 == l { $8 = $6 * 1000000 / $2; print $c }' "$RUN_DIR/rows" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
values() { awk -v l="$1" -v c="$2" '$1 == l { $8 = sprintf("%.1f", $6 * 1000000 / $2); printf "%s%s", sep, $c; sep = ", " }' "$RUN_DIR/rows"; }
total_errors() { awk '{ s += $5 } END { print s + 0 }' "$RUN_DIR/rows"; }

{
  echo "# Gateway: one build against another, chat path"
  echo
  echo "Generated by \`bench/gateway/compare.sh\` on $(date -u +%Y-%m-%d) ($(nproc) CPUs, $(uname -m)); load average before the run: $LOAD_BEFORE."
  echo
  echo "- base: $BASE_DESC"
  echo "- head: $HEAD_DESC"
  echo "- Both builds run side by side on one nginx upstream (a canned chat completion), each with its own SQLite data directory."
  echo "  $ROUNDS rounds; each round measures both builds in alternating order: a saturated run (${SAT_DURATION} s, -t$THREADS -c$SAT_CONNECTIONS) and a"
  echo "  fixed-concurrency run (${LAT_DURATION} s, -c$LAT_CONNECTIONS) and a run paced at $RATE req/s (${RATE_DURATION} s, -c$RATE_CONNECTIONS), with the master key and with an API key that has request and token limits, a budget and metering."
  echo "  Absolute figures depend on what else the machine was doing (see the load above); the rounds alternate, so both builds meet the same load."
  echo "  CPU per request is the build's own CPU time over the requests it answered, which the other load moves far less than throughput."
  echo "  Figures are medians over the rounds; every run is listed below. Errors (connect, read, write, timeout, non-2xx) over all runs: $(total_errors)."
  echo
  echo "| path | measure | base | head | head / base |"
  echo "| --- | --- | --- | --- | --- |"
  for a in master keyed; do
    name="master key"; [ $a = keyed ] && name="API key"
    bs=$(median "sat-base-$a" 2); hs=$(median "sat-head-$a" 2)
    echo "| $name | saturated req/s | $(calc "$bs" 0) | $(calc "$hs" 0) | $(calc "$hs / $bs" 3) |"
    bc=$(median "sat-base-$a" 8); hc=$(median "sat-head-$a" 8)
    echo "| $name | CPU µs per request when saturated | $(calc "$bc" 1) | $(calc "$hc" 1) | $(calc "$hc / $bc" 3) |"
    bp=$(median "lat-base-$a" 3); hp=$(median "lat-head-$a" 3)
    echo "| $name | p50 ms at -c$LAT_CONNECTIONS | $bp | $hp | $(calc "$hp / $bp" 3) |"
    bp=$(median "lat-base-$a" 4); hp=$(median "lat-head-$a" 4)
    echo "| $name | p99 ms at -c$LAT_CONNECTIONS | $bp | $hp | $(calc "$hp / $bp" 3) |"
    for c in 3:p50 4:p99 7:p99.9; do
      bp=$(median "rate-base-$a" "${c%%:*}"); hp=$(median "rate-head-$a" "${c%%:*}")
      echo "| $name | ${c#*:} ms at $RATE req/s (-c$RATE_CONNECTIONS) | $bp | $hp | $(calc "$hp / $bp" 3) |"
    done
  done
  echo
  echo "Every run (in round order):"
  echo
  echo "| run | req/s | p50 ms | p99 ms | p99.9 ms | CPU µs per request |"
  echo "| --- | --- | --- | --- | --- | --- |"
  for l in sat-base-master sat-head-master sat-base-keyed sat-head-keyed lat-base-master lat-head-master lat-base-keyed lat-head-keyed \
    rate-base-master rate-head-master rate-base-keyed rate-head-keyed; do
    echo "| $l | $(values "$l" 2) | $(values "$l" 3) | $(values "$l" 4) | $(values "$l" 7) | $(values "$l" 8) |"
  done
} >"$RESULTS"
cat "$RESULTS"
log "wrote $RESULTS"
