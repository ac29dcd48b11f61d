#!/usr/bin/env bash
# Gateway benchmark: the upstream (nginx returning a fixed OpenAI chat completion)
# measured directly, through LLM Marketplace, and through Portkey's open-source
# gateway, all with wrk in one run, on loopback only. Writes bench/results/gateway.md.
#
# Usage: bench/gateway/run.sh            (see bench/README.md for the knobs)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"

# ---------------------------------------------------------------- knobs
THREADS=${BENCH_THREADS:-2}                   # wrk threads (-t)
SAT_CONNECTIONS=${BENCH_SAT_CONNECTIONS:-64}  # saturation run (-c)
SAT_DURATION=${BENCH_SAT_DURATION:-10}        # seconds
LAT_CONNECTIONS=${BENCH_LAT_CONNECTIONS:-8}   # fixed-concurrency latency run (-c)
LAT_DURATION=${BENCH_LAT_DURATION:-10}
RATES=${BENCH_RATES:-5000 2000 1000}          # fixed-rate latency runs, requests/s in total each
RATE_CONNECTIONS=${BENCH_RATE_CONNECTIONS:-32}
RATE_DURATION=${BENCH_RATE_DURATION:-10}
WARMUP_DURATION=${BENCH_WARMUP_DURATION:-5}   # unmeasured load before each target's runs
WRK_TIMEOUT=${BENCH_WRK_TIMEOUT:-5}           # wrk --timeout, seconds
MEM_REQUESTS_1=${BENCH_MEM_REQUESTS_1:-100000}   # RSS checkpoint 1 (requests to our gateway)
MEM_REQUESTS_2=${BENCH_MEM_REQUESTS_2:-1000000}  # RSS checkpoint 2
MEM_MAX_SECONDS=${BENCH_MEM_MAX_SECONDS:-300}    # cap on load time spent reaching checkpoint 2
ONE_THREAD_CONNECTIONS=${BENCH_ONE_THREAD_CONNECTIONS:-32}  # the second saturation run: wrk -t1 -c32
TARGET_ROUNDS=${BENCH_TARGET_ROUNDS:-3}          # rounds of the runs the targets are read from; the targets take their medians
COUNTERS=${BENCH_COUNTERS:-1}                  # runtime counters (dotnet-counters) during our fixed-rate runs
PORTKEY_VERSION=${BENCH_PORTKEY_VERSION:-1.15.2}
SKIP_PORTKEY=${BENCH_SKIP_PORTKEY:-0}
SKIP_GATEWAY=${BENCH_SKIP_GATEWAY:-0}
SKIP_ACCESS=${BENCH_SKIP_ACCESS:-0}             # skip the access-path runs (bare gateway, API key)
SKIP_APIS=${BENCH_SKIP_APIS:-0}                 # skip the Responses and Messages runs
SKIP_BUILD=${BENCH_SKIP_BUILD:-0}             # reuse an earlier publish in bench/.work/gateway
WORK=${BENCH_WORK_DIR:-bench/.work}           # gitignored
RESULTS=${BENCH_RESULTS:-bench/results/gateway.md}

LUA=bench/gateway/chat.lua
PRELOAD=bench/gateway/loopback-only.cjs
RUN_DIR=$WORK/gateway-run
LOGS=$RUN_DIR/logs

# Loopback only: no proxy may sit between any client and server here.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

. "$HERE/lib.sh"

# ---------------------------------------------------------------- cleanup
PIDS=()
POLICY_RC_CREATED=0
stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  if [ "$POLICY_RC_CREATED" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- tools
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
missing=()
[ -x "$NGINX_BIN" ] || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} (Debian packages)"
  # Keep the package from starting a system nginx on port 80.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod +x /usr/sbin/policy-rc.d
    POLICY_RC_CREATED=1
  fi
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
  if [ "$POLICY_RC_CREATED" = 1 ]; then as_root rm -f /usr/sbin/policy-rc.d; POLICY_RC_CREATED=0; fi
fi
if [ "$SKIP_PORTKEY" != 1 ]; then command -v node >/dev/null && command -v npm >/dev/null || die "node and npm are needed for Portkey (or set BENCH_SKIP_PORTKEY=1)"; fi
if [ "$SKIP_GATEWAY" != 1 ]; then command -v dotnet >/dev/null || die "dotnet is needed (or set BENCH_SKIP_GATEWAY=1)"; fi

rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR" "$LOGS" "$(dirname "$RESULTS")"

# ---------------------------------------------------------------- helpers
# wait_ready NAME PID URL DEADLINE_SECONDS: poll URL until it answers 200.
wait_ready() {
  local name=$1 pid=$2 url=$3 deadline=$(( SECONDS + $4 )) code
  while :; do
    kill -0 "$pid" 2>/dev/null || die "$name exited during startup (see $LOGS/$name.log)"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)
    [ "$code" = 200 ] && return 0
    [ $SECONDS -ge $deadline ] && die "$name not ready at $url after $4 s (last status $code; see $LOGS/$name.log)"
    sleep 0.2
  done
}


declare -A M          # M[label.key] = value parsed from chat.lua's BENCH line
declare -A SENT       # SENT[target] = responses wrk counted for that target so far
declare -A URL AUTH PKHOST API PKPROV PID_OF
ISSUES=()

# counters_summary LABEL CSV SECONDS: the runtime counters dotnet-counters wrote during a run, summed over its
# window (which covers the whole run) and divided by the run's length.
counters_summary() {
  local label=$1 csv=$2 kv
  [ -s "$csv" ] || return 0
  for kv in $(awk -F, -v n="$3" '
    $3 == "dotnet.gc.pause.time (s / 1 sec)" { pause += $5; rows++ }
    $3 ~ /^dotnet.gc.collections .*gen0\]$/ { g0 += $5 }
    $3 ~ /^dotnet.gc.collections .*gen1\]$/ { g1 += $5 }
    $3 ~ /^dotnet.gc.collections .*gen2\]$/ { g2 += $5 }
    $3 == "dotnet.gc.heap.total_allocated (By / 1 sec)" { alloc += $5 }
    $3 == "dotnet.monitor.lock_contentions ({contention} / 1 sec)" { locks += $5 }
    END { if (rows > 0) printf "gc_pause_ms_s=%.2f gen0_s=%.2f gen1_s=%.2f gen2_s=%.2f alloc_mb_s=%.1f locks_s=%.1f", 1000 * pause / n, g0 / n, g1 / n, g2 / n, alloc / n / 1048576, locks / n }' "$csv"); do
    M[$label.${kv%%=*}]=${kv#*=}
  done
}

# run_wrk TARGET LABEL CONNECTIONS SECONDS RATE(0=none) TALLY(0/1)
run_wrk() {
  local target=$1 label=$2 conns=$3 dur=$4 rate=$5 tally=$6 out line kv
  out=$LOGS/wrk-$label.txt
  local pid=${PID_OF[$target]:-} cpu0=0 counters_pid=""
  [ -n "$pid" ] && cpu0=$(proc_cpu "$pid")
  if [[ $label == *-rate* ]] && [ -n "$COUNTERS_BIN" ] && [ -n "$pid" ] && [[ " ${COUNTED_TARGETS[*]} " == *" $target "* ]]; then
    "$COUNTERS_BIN" collect -p "$pid" --refresh-interval 1 --format csv -o "$LOGS/counters-$label.csv" \
      --duration "00:00:00:$(( dur + 2 ))" --counters System.Runtime >"$LOGS/counters-$label.log" 2>&1 &
    counters_pid=$!
    # The session is collecting once its first sample is in the file: measure only then.
    local until=$(( SECONDS + 20 ))
    until grep -q ',Rate,' "$LOGS/counters-$label.csv" 2>/dev/null || [ $SECONDS -ge $until ]; do sleep 0.1; done
  fi
  WRK_AUTH=${AUTH[$target]} WRK_PORTKEY_HOST=${PKHOST[$target]} WRK_PORTKEY_PROVIDER=${PKPROV[$target]:-openai} \
  WRK_API=${API[$target]:-chat} WRK_THREADS=$THREADS WRK_RATE=$rate WRK_TALLY=$tally \
    timeout $(( dur + 30 )) wrk -t"$THREADS" -c"$conns" -d"${dur}s" --timeout "${WRK_TIMEOUT}s" --latency \
      -s "$LUA" "${URL[$target]}" >"$out" 2>&1 || die "wrk failed for $label (see $out)"
  if [ -n "$counters_pid" ]; then
    wait "$counters_pid" 2>/dev/null || true
    counters_summary "$label" "$LOGS/counters-$label.csv" "$dur"
  fi
  line=$(grep '^BENCH ' "$out" || true)
  [ -n "$line" ] || die "no result line from wrk for $label (see $out)"
  for kv in ${line#BENCH }; do M[$label.${kv%%=*}]=${kv#*=}; done
  # The gateway process's own CPU time during the run (user + system, its threads included), as cores.
  if [ -n "$pid" ]; then M[$label.cores]=$(calc "($(proc_cpu "$pid") - $cpu0) / $CLK_TCK / $dur" 3); fi
  SENT[$target]=$(( ${SENT[$target]:-0} + ${M[$label.requests]} ))
  if [ "$tally" = 1 ]; then
    M[$label.statuses]=$(sed -n 's/^STATUSES //p' "$out")
    M[$label.sample]=$(sed -n 's/^SAMPLE //p' "$out" | head -1)
  fi
}

# check_run TARGET LABEL: on errors or non-2xx, record them and tally status codes.
check_run() {
  local target=$1 label=$2 k bad=0 detail=""
  for k in err_connect err_read err_write err_timeout non2xx; do
    if [ "${M[$label.$k]}" != 0 ]; then bad=1; detail="$detail $k=${M[$label.$k]}"; fi
  done
  [ $bad = 1 ] || return 0
  log "$label: errors:$detail; tallying status codes for 3 s"
  run_wrk "$target" "$label-tally" "$SAT_CONNECTIONS" 3 0 1
  ISSUES+=("$label: ${M[$label.requests]} responses,$detail. Status tally over a further 3 s run: ${M[$label-tally.statuses]:-none}${M[$label-tally.sample]:+; first non-200: ${M[$label-tally.sample]}}")
}

# smoke TARGET: one request with curl; must be 200 and carry the usage object.
smoke() {
  local target=$1 body code
  local -a h=(-H 'Content-Type: application/json')
  [ -n "${AUTH[$target]}" ] && h+=(-H "Authorization: Bearer ${AUTH[$target]}")
  [ -n "${PKHOST[$target]}" ] && h+=(-H "x-portkey-provider: ${PKPROV[$target]:-openai}" -H "x-portkey-custom-host: ${PKHOST[$target]}")
  local request='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}'
  case ${API[$target]:-chat} in
    responses) request='{"model":"gpt-4o-mini","input":"Hello","store":false}' ;;
    messages)
      request='{"model":"gpt-4o-mini","max_tokens":64,"messages":[{"role":"user","content":"Hello"}]}'
      h+=(-H 'anthropic-version: 2023-06-01')
      [ -n "${AUTH[$target]}" ] && h+=(-H "x-api-key: ${AUTH[$target]}")
      ;;
  esac
  body=$(curl -s --max-time 10 -w '\n%{http_code}' -X POST "${h[@]}" -d "$request" "${URL[$target]}" || true)
  code=${body##*$'\n'}
  body=${body%$'\n'*}
  if [ "$code" != 200 ] || [[ "$body" != *'"usage"'* ]]; then
    die "$target: smoke request returned HTTP $code: ${body:0:500}"
  fi
  SENT[$target]=$(( ${SENT[$target]:-0} + 1 ))
}

# measure TARGET: saturation, fixed concurrency, fixed rate.
measure() {
  local t=$1
  log "$t: saturation ${SAT_DURATION}s at -c$SAT_CONNECTIONS"
  run_wrk "$t" "$t-sat" "$SAT_CONNECTIONS" "$SAT_DURATION" 0 0; check_run "$t" "$t-sat"
  log "$t: fixed concurrency ${LAT_DURATION}s at -c$LAT_CONNECTIONS"
  run_wrk "$t" "$t-lat" "$LAT_CONNECTIONS" "$LAT_DURATION" 0 0; check_run "$t" "$t-lat"
  local r
  for r in $RATES; do
    log "$t: fixed rate $r req/s for ${RATE_DURATION}s at -c$RATE_CONNECTIONS"
    run_wrk "$t" "$t-rate$r" "$RATE_CONNECTIONS" "$RATE_DURATION" "$r" 0; check_run "$t" "$t-rate$r"
  done
  log "$t: ${M[$t-sat.rps]} req/s saturated; p50/p99 ${M[$t-lat.p50_ms]}/${M[$t-lat.p99_ms]} ms at -c$LAT_CONNECTIONS"
}

# measure_one_thread TARGET: a second saturation run with one wrk thread and fewer connections (-t1 -c32).
measure_one_thread() {
  local t=$1 THREADS=1
  log "$t: saturation ${SAT_DURATION}s at -t1 -c$ONE_THREAD_CONNECTIONS"
  run_wrk "$t" "$t-sat1" "$ONE_THREAD_CONNECTIONS" "$SAT_DURATION" 0 0; check_run "$t" "$t-sat1"
}

# measure_rounds TARGET: rounds 2..TARGET_ROUNDS of the runs the targets are read from (saturation at both client
# settings; for the API key also -c8 and 2,000 req/s), labelled LABEL-rN. One run of each moves a lot between runs on
# a shared machine, so the targets take the median of the rounds.
measure_rounds() {
  local t=$1 k r
  for (( k = 2; k <= TARGET_ROUNDS; k++ )); do
    log "$t: target round $k of $TARGET_ROUNDS"
    run_wrk "$t" "$t-sat-r$k" "$SAT_CONNECTIONS" "$SAT_DURATION" 0 0; check_run "$t" "$t-sat-r$k"
    THREADS=1 run_wrk "$t" "$t-sat1-r$k" "$ONE_THREAD_CONNECTIONS" "$SAT_DURATION" 0 0; check_run "$t" "$t-sat1-r$k"
    [ "$t" = keyed ] || continue
    run_wrk "$t" "$t-lat-r$k" "$LAT_CONNECTIONS" "$LAT_DURATION" 0 0; check_run "$t" "$t-lat-r$k"
    for r in $RATES; do
      [ "$r" = 2000 ] || continue
      run_wrk "$t" "$t-rate$r-r$k" "$RATE_CONNECTIONS" "$RATE_DURATION" "$r" 0; check_run "$t" "$t-rate$r-r$k"
    done
  done
}

# rounds LABEL KEY: the values of every round of LABEL's KEY, space separated (round 1 is LABEL itself).
rounds() {
  local k out=${M[$1.$2]}
  for (( k = 2; k <= TARGET_ROUNDS; k++ )); do [ -n "${M[$1-r$k.$2]:-}" ] && out="$out ${M[$1-r$k.$2]}"; done
  echo "$out"
}

# median VALUES...: the median (the mean of the two middle values for an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# load_until TARGET TOTAL MAX_SECONDS: load in chunks of whole seconds until wrk has
# counted about TOTAL responses for TARGET (or MAX_SECONDS of load have passed). Each
# chunk is paced at remaining/seconds, which saturates the target until the last one.
load_until() {
  local t=$1 total=$2 max=$3 spent=0 n=0 est=0 d rate remaining label
  while [ "${SENT[$t]:-0}" -lt $(( total * 99 / 100 )) ] && [ $spent -lt "$max" ]; do
    remaining=$(( total - ${SENT[$t]:-0} ))
    if [ "$est" = 0 ]; then d=1; else d=$(( (remaining + est - 1) / est )); fi
    [ "$d" -gt 30 ] && d=30
    [ $(( spent + d )) -gt "$max" ] && d=$(( max - spent ))
    rate=$(( (remaining + d - 1) / d ))
    n=$(( n + 1 )); label="$t-load$total-$n"
    run_wrk "$t" "$label" "$SAT_CONNECTIONS" "$d" "$rate" 0; check_run "$t" "$label"
    # Only a chunk that fell short of its pace tells the target's capacity.
    if [ "${M[$label.rps]%.*}" -lt $(( rate * 95 / 100 )) ] || [ "$est" = 0 ]; then
      est=${M[$label.rps]%.*}
      [ "$est" -gt 0 ] || est=1
    fi
    spent=$(( spent + d ))
  done
}

# ---------------------------------------------------------------- upstream: nginx
NGINX_PORT=$(free_port)
NGINX_DIR=$(cd "$RUN_DIR" && pwd)/nginx
nginx_conf "$NGINX_DIR" "$(upstream_server "$NGINX_PORT")"
log "starting nginx on 127.0.0.1:$NGINX_PORT"
"$NGINX_BIN" -p "$NGINX_DIR/" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/error.log" >"$LOGS/nginx.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
deadline=$(( SECONDS + 10 ))
until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X POST -d '{}' "http://127.0.0.1:$NGINX_PORT/v1/chat/completions" || true)" = 200 ]; do
  kill -0 "$NGINX_PID" 2>/dev/null || die "nginx exited: $(cat "$LOGS/nginx.log" "$NGINX_DIR/error.log" 2>/dev/null)"
  [ $SECONDS -ge $deadline ] && die "nginx not ready"
  sleep 0.1
done
UPSTREAM_BASE=http://127.0.0.1:$NGINX_PORT/v1
URL[direct]=$UPSTREAM_BASE/chat/completions; AUTH[direct]=""; PKHOST[direct]=""

# ---------------------------------------------------------------- build / install
if [ "$SKIP_GATEWAY" != 1 ]; then
  if [ "$SKIP_BUILD" != 1 ] || [ ! -f "$WORK/gateway/llm-marketplace.dll" ]; then
    log "publishing the gateway (Release) to $WORK/gateway"
    # No build servers left behind to use CPU during the measurements.
    dotnet publish src/Host/Host.csproj -c Release -o "$WORK/gateway" --nologo -nodeReuse:false \
      -p:UseSharedCompilation=false >"$LOGS/publish.log" 2>&1 \
      || { tail -30 "$LOGS/publish.log" >&2; die "dotnet publish failed (see $LOGS/publish.log)"; }
  fi
  if [ "$SKIP_ACCESS" != 1 ] && { [ "$SKIP_BUILD" != 1 ] || [ ! -f "$WORK/bare/LlmMarketplace.BareGateway.dll" ]; }; then
    log "publishing the bare gateway (Release) to $WORK/bare"
    dotnet publish bench/gateway/BareGateway/BareGateway.csproj -c Release -o "$WORK/bare" --nologo -nodeReuse:false \
      -p:UseSharedCompilation=false >"$LOGS/publish-bare.log" 2>&1 \
      || { tail -30 "$LOGS/publish-bare.log" >&2; die "dotnet publish failed (see $LOGS/publish-bare.log)"; }
  fi
fi
[ "$SKIP_GATEWAY" = 1 ] && SKIP_ACCESS=1
if [ "$SKIP_PORTKEY" != 1 ]; then
  PK_DIR=$WORK/portkey
  PK_PKG=$PK_DIR/node_modules/@portkey-ai/gateway
  have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$PK_PKG/package.json" 2>/dev/null | head -1 || true)
  if [ "$have" != "$PORTKEY_VERSION" ]; then
    log "installing @portkey-ai/gateway@$PORTKEY_VERSION into $PK_DIR"
    mkdir -p "$PK_DIR"
    printf '{ "name": "bench-portkey", "private": true, "dependencies": { "@portkey-ai/gateway": "%s" } }\n' "$PORTKEY_VERSION" >"$PK_DIR/package.json"
    (cd "$PK_DIR" && npm install --no-audit --no-fund --no-package-lock --ignore-scripts --loglevel=error) >"$LOGS/npm.log" 2>&1 \
      || { tail -30 "$LOGS/npm.log" >&2; die "npm install failed (see $LOGS/npm.log)"; }
  fi
fi

# Runtime counters of our fixed-rate runs (GC pauses, collections, allocation rate, lock contention).
COUNTERS_BIN=""
COUNTED_TARGETS=(ours keyed)
if [ "$COUNTERS" = 1 ] && [ "$SKIP_GATEWAY" != 1 ]; then
  COUNTERS_BIN=$WORK/tools/dotnet-counters
  if [ ! -x "$COUNTERS_BIN" ]; then
    log "installing dotnet-counters into $WORK/tools"
    dotnet tool install dotnet-counters --tool-path "$WORK/tools" >"$LOGS/counters-install.log" 2>&1 \
      || { log "warning: dotnet-counters could not be installed (see $LOGS/counters-install.log); no runtime counters"; COUNTERS_BIN=""; }
  fi
fi

# How busy the machine is before the run: other processes' CPU use skews every number.
cpu_sample() { awk '/^cpu / { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $5 + $6 }' /proc/stat; }
read -r total0 idle0 < <(cpu_sample); sleep 2; read -r total1 idle1 < <(cpu_sample)
BUSY_START=$(calc "100 * (1 - ($idle1 - $idle0) / ($total1 - $total0))" 0)
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
if [ "$BUSY_START" -gt 15 ]; then
  log "warning: the CPUs were ${BUSY_START}% busy before the run; the numbers will be skewed"
fi
# CPU time used during the measurements by processes this script did not start: the
# machine's user+system time minus this script's own (children included once reaped)
# and nginx's (still running when it is read).
cpu_jiffies() { awk '/^cpu / { print $2 + $3 + $4, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
read -r BUSY_J0 TOTAL_J0 < <(cpu_jiffies)
SELF_J0=$(proc_cpu $$)

# ---------------------------------------------------------------- 1. upstream directly
log "direct: warm-up ${WARMUP_DURATION}s"
smoke direct
run_wrk direct direct-warmup "$SAT_CONNECTIONS" "$WARMUP_DURATION" 0 0
measure direct
measure_one_thread direct

# ---------------------------------------------------------------- 2a. the bare gateway
# The Gateway module alone (bench/gateway/BareGateway): the baseline of the access path.
if [ "$SKIP_ACCESS" != 1 ]; then
  BARE_PORT=$(free_port)
  BARE_KEY=bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  cat >"$RUN_DIR/bare.json" <<EOF
{ "Providers": [ { "Name": "nginx", "Type": "openai", "BaseUrl": "$UPSTREAM_BASE" } ],
  "Models": [ { "Name": "gpt-4o-mini", "Deployments": [ { "Provider": "nginx", "Model": "gpt-4o-mini", "InputPerMTok": 0.15, "OutputPerMTok": 0.60 } ] } ] }
EOF
  log "starting the bare gateway on 127.0.0.1:$BARE_PORT"
  LLMM_MASTER_KEY=$BARE_KEY dotnet "$WORK/bare/LlmMarketplace.BareGateway.dll" --config "$RUN_DIR/bare.json" \
    --urls "http://127.0.0.1:$BARE_PORT" >"$LOGS/bare.log" 2>&1 &
  BARE_PID=$!
  PIDS+=("$BARE_PID")
  wait_ready bare "$BARE_PID" "http://127.0.0.1:$BARE_PORT/health/ready" 60
  URL[bare]=http://127.0.0.1:$BARE_PORT/v1/chat/completions; AUTH[bare]=$BARE_KEY; PKHOST[bare]=""; PID_OF[bare]=$BARE_PID
  smoke bare
  log "bare: warm-up ${WARMUP_DURATION}s"
  run_wrk bare bare-warmup "$SAT_CONNECTIONS" "$WARMUP_DURATION" 0 0
  measure bare
  stop_pid "$BARE_PID"
fi

# ---------------------------------------------------------------- 2. LLM Marketplace
if [ "$SKIP_GATEWAY" != 1 ]; then
  GW_PORT=$(free_port)
  GW_DATA=$RUN_DIR/gateway-data
  mkdir -p "$GW_DATA"
  gateway_yaml "$RUN_DIR/gateway.yaml" "$UPSTREAM_BASE"
  MASTER_KEY=bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  log "starting LLM Marketplace on 127.0.0.1:$GW_PORT"
  LLMM_MASTER_KEY=$MASTER_KEY \
    dotnet "$WORK/gateway/llm-marketplace.dll" serve --config "$RUN_DIR/gateway.yaml" \
      --urls "http://127.0.0.1:$GW_PORT" --data "$GW_DATA" >"$LOGS/gateway.log" 2>&1 &
  GW_PID=$!
  PIDS+=("$GW_PID")
  wait_ready gateway "$GW_PID" "http://127.0.0.1:$GW_PORT/health/ready" 60
  URL[ours]=http://127.0.0.1:$GW_PORT/v1/chat/completions; AUTH[ours]=$MASTER_KEY; PKHOST[ours]=""; PID_OF[ours]=$GW_PID
  GW_RSS_IDLE=$(rss_kb "$GW_PID")
  smoke ours
  log "ours: load until $MEM_REQUESTS_1 requests (this is also the warm-up)"
  load_until ours "$MEM_REQUESTS_1" "$MEM_MAX_SECONDS"
  GW_N1=${SENT[ours]}; GW_RSS1=$(rss_kb "$GW_PID"); GW_HWM1=$(hwm_kb "$GW_PID")
  measure ours
  if [ "$SKIP_ACCESS" != 1 ]; then
    # The access path: a consumer API key with request and token limits and a USD budget, all far
    # above the load, so every call runs the key lookup, both buckets, the prompt token estimate,
    # the budget reservation and its reconciliation, and the metering.
    created=$(curl -s --max-time 10 -X POST -H "Authorization: Bearer $MASTER_KEY" -H 'Content-Type: application/json' \
      -d '{"name":"bench","rpm":1000000000,"tpm":1000000000000,"budgetUsd":1000000,"budgetPeriod":"monthly"}' \
      "http://127.0.0.1:$GW_PORT/api/v1/keys")
    KEYED_KEY=$(printf '%s' "$created" | sed -n 's/.*"key": *"\([^"]*\)".*/\1/p')
    [ -n "$KEYED_KEY" ] || die "could not create an API key: ${created:0:300}"
    URL[keyed]=${URL[ours]}; AUTH[keyed]=$KEYED_KEY; PKHOST[keyed]=""; PID_OF[keyed]=$GW_PID
    smoke keyed
    log "keyed: warm-up ${WARMUP_DURATION}s"
    run_wrk keyed keyed-warmup "$SAT_CONNECTIONS" "$WARMUP_DURATION" 0 0
    measure keyed
    measure_one_thread keyed
    measure_rounds keyed
    SENT[ours]=$(( ${SENT[ours]} + ${SENT[keyed]} ))
  fi
  if [ "$SKIP_APIS" != 1 ]; then
    # The same client request in the Responses and the Anthropic Messages formats, translated to the
    # deployment's chat protocol and back (master key, as the chat rows above).
    for api in responses messages; do
      t=ours$api
      URL[$t]=http://127.0.0.1:$GW_PORT/v1/$api; AUTH[$t]=$MASTER_KEY; PKHOST[$t]=""; API[$t]=$api; PID_OF[$t]=$GW_PID
      smoke "$t"
      log "$t: warm-up ${WARMUP_DURATION}s"
      run_wrk "$t" "$t-warmup" "$SAT_CONNECTIONS" "$WARMUP_DURATION" 0 0
      measure "$t"
      SENT[ours]=$(( ${SENT[ours]} + ${SENT[$t]} ))
    done
  fi
  log "ours: load until $MEM_REQUESTS_2 requests (at most ${MEM_MAX_SECONDS}s)"
  load_until ours "$MEM_REQUESTS_2" "$MEM_MAX_SECONDS"
  GW_N2=${SENT[ours]}; GW_RSS2=$(rss_kb "$GW_PID"); GW_HWM2=$(hwm_kb "$GW_PID")
  GW_DATA_SIZE=$(du -sh "$GW_DATA" | cut -f1)
  stop_pid "$GW_PID"
fi

# ---------------------------------------------------------------- 3. Portkey
if [ "$SKIP_PORTKEY" != 1 ]; then
  PK_PORT=$(free_port)
  log "starting Portkey gateway $PORTKEY_VERSION on 127.0.0.1:$PK_PORT"
  NODE_ENV=production node --require "./$PRELOAD" "$PK_PKG/build/start-server.js" --port="$PK_PORT" --headless \
    >"$LOGS/portkey.log" 2>&1 &
  PK_PID=$!
  PIDS+=("$PK_PID")
  wait_ready portkey "$PK_PID" "http://127.0.0.1:$PK_PORT/" 60
  URL[portkey]=http://127.0.0.1:$PK_PORT/v1/chat/completions; AUTH[portkey]=sk-bench-unused; PKHOST[portkey]=$UPSTREAM_BASE; PID_OF[portkey]=$PK_PID
  PK_RSS_IDLE=$(rss_kb "$PK_PID")
  smoke portkey
  log "portkey: warm-up ${WARMUP_DURATION}s"
  run_wrk portkey portkey-warmup "$SAT_CONNECTIONS" "$WARMUP_DURATION" 0 0
  measure portkey
  measure_one_thread portkey
  measure_rounds portkey
  if [ "$SKIP_APIS" != 1 ]; then
    # Portkey's own /v1/responses (provider openai) and /v1/messages (provider anthropic): both pass the
    # request through to the upstream's matching path, which nginx answers in that format.
    for api in responses messages; do
      t=portkey$api
      URL[$t]=http://127.0.0.1:$PK_PORT/v1/$api; AUTH[$t]=sk-bench-unused; PKHOST[$t]=$UPSTREAM_BASE; API[$t]=$api; PID_OF[$t]=$PK_PID
      if [ "$api" = messages ]; then PKPROV[$t]=anthropic; fi
      smoke "$t"
      log "$t: warm-up ${WARMUP_DURATION}s"
      run_wrk "$t" "$t-warmup" "$SAT_CONNECTIONS" "$WARMUP_DURATION" 0 0
      measure "$t"
      SENT[portkey]=$(( ${SENT[portkey]} + ${SENT[$t]} ))
    done
  fi
  PK_N=${SENT[portkey]}; PK_RSS=$(rss_kb "$PK_PID"); PK_HWM=$(hwm_kb "$PK_PID")
  stop_pid "$PK_PID"
fi

# ---------------------------------------------------------------- report
TARGETS=(direct)
[ "$SKIP_GATEWAY" != 1 ] && TARGETS+=(ours)
[ "$SKIP_PORTKEY" != 1 ] && TARGETS+=(portkey)
declare -A NAME=([direct]="nginx upstream (direct)" [ours]="LLM Marketplace" [portkey]="Portkey gateway $PORTKEY_VERSION")
ACCESS_TARGETS=(bare ours keyed)
declare -A ACCESS_NAME=([bare]="Bare gateway (Gateway module only)" [ours]="LLM Marketplace, master key (metering, no limits)" [keyed]="LLM Marketplace, API key (key, limits, budget, metering)")
over_bare() { calc "${M[$1.$2]} - ${M[bare-${1#*-}.$2]}" 3; }

added() { # added LABEL KEY -> value minus the direct run's value, or "—" for direct
  local t=${1%%-*} kind=${1#*-}
  if [ "$t" = direct ]; then echo "—"; else calc "${M[$1.$2]} - ${M[direct-$kind.$2]}" 3; fi
}
ratio() { if [ -n "${M[$1]:-}" ] && [ -n "${M[$2]:-}" ]; then calc "${M[$1]} / ${M[$2]}" 2; else echo "n/a"; fi; }
errs() { local l=$1; echo $(( ${M[$l.err_connect]} + ${M[$l.err_read]} + ${M[$l.err_write]} + ${M[$l.err_timeout]} + ${M[$l.non2xx]} )); }

GIT_REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain -- src 2>/dev/null)" ]; then GIT_REV="$GIT_REV (with uncommitted changes under src/)"; fi
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
MEM_TOTAL=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
WRK_BASE="wrk -t$THREADS --timeout ${WRK_TIMEOUT}s --latency -s $LUA"

read -r BUSY_J1 TOTAL_J1 < <(cpu_jiffies)
SELF_J1=$(proc_cpu $$)
NGINX_J=$(proc_cpu "$NGINX_PID")
for pid in $(pgrep -P "$NGINX_PID" || true); do NGINX_J=$(( NGINX_J + $(proc_cpu "$pid") )); done
FOREIGN_PCT=$(calc "100 * (($BUSY_J1 - $BUSY_J0) - ($SELF_J1 - $SELF_J0) - $NGINX_J) / ($TOTAL_J1 - $TOTAL_J0)" 0)
[ "$FOREIGN_PCT" -lt 0 ] && FOREIGN_PCT=0
if [ "$FOREIGN_PCT" -gt 10 ]; then
  log "warning: other processes used ${FOREIGN_PCT}% of the CPUs during the measurements; the numbers are skewed"
fi

TMP_RESULTS=$RUN_DIR/gateway.md
{
  echo "# Gateway benchmark"
  echo
  echo "Generated by \`bench/gateway/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') in $SECONDS s, LLM Marketplace at commit $GIT_REV."
  echo
  echo "## Setup"
  echo
  echo "- Machine: $(nproc) CPUs (nproc), $CPU, $MEM_TOTAL RAM, Linux $(uname -r)."
  echo "  Client, upstream and gateway share these CPUs, so every number includes that contention."
  echo "  Before the run the CPUs were ${BUSY_START}% busy over 2 s (load average $LOADAVG_START); during the"
  echo "  measurements, processes this run did not start used ${FOREIGN_PCT}% of the CPUs' time."
  if [ "$BUSY_START" -gt 15 ] || [ "$FOREIGN_PCT" -gt 10 ]; then
    echo "  **Other processes were using the CPUs during this run: treat these numbers as skewed.**"
  fi
  echo "- Upstream: $("$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //'), 1 worker, access log off, answering"
  echo "  \`POST /v1/chat/completions\` with a fixed ${#COMPLETION}-byte chat completion (with \`usage\`) via \`return 200\`."
  [ "$SKIP_GATEWAY" != 1 ] && echo "- LLM Marketplace: \`dotnet publish -c Release\`, .NET $(dotnet --list-runtimes | awk '/Microsoft.NETCore.App/ { v = $2 } END { print v }'), defaults (server GC), one model with one OpenAI-type deployment on the upstream, master key auth, log level Warning (set in its YAML config), SQLite data dir."
  [ "$SKIP_PORTKEY" != 1 ] && echo "- Portkey: \`@portkey-ai/gateway@$PORTKEY_VERSION\` from npm, \`build/start-server.js --headless\`, \`NODE_ENV=production\`, node $(node --version), routed with \`x-portkey-provider: openai\` + \`x-portkey-custom-host: http://127.0.0.1:PORT/v1\`."
  echo "- Client: $(wrk -v 2>&1 | head -1 | awk '{ print $1, $2 }'), script \`$LUA\` posting \`{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}\` over keep-alive HTTP/1.1."
  echo "- Order: upstream, then the bare gateway, then LLM Marketplace (master key, then an API key), then Portkey; each gateway runs alone (the others are stopped) and"
  echo "  gets an unmeasured warm-up (${WARMUP_DURATION} s at -c$SAT_CONNECTIONS for the upstream and Portkey; the first memory checkpoint's load for LLM Marketplace)."
  echo
  echo "Exact wrk parameters (PORT is random per run):"
  echo
  echo '```'
  printf '%-22s%s\n' "saturation:" "$WRK_BASE -c$SAT_CONNECTIONS -d${SAT_DURATION}s URL"
  printf '%-22s%s\n' "fixed concurrency:" "$WRK_BASE -c$LAT_CONNECTIONS -d${LAT_DURATION}s URL"
  for r in $RATES; do
    printf '%-22s%s\n' "fixed rate $r/s:" "WRK_RATE=$r $WRK_BASE -c$RATE_CONNECTIONS -d${RATE_DURATION}s URL"
  done
  echo "URL = http://127.0.0.1:PORT/v1/chat/completions"
  echo "environment for chat.lua: WRK_THREADS=$THREADS; LLM Marketplace: WRK_AUTH=<master key>;"
  echo "Portkey: WRK_AUTH=<any>, WRK_PORTKEY_HOST=http://127.0.0.1:NGINX_PORT/v1"
  echo '```'
  echo
  echo "## Throughput at saturation (-c$SAT_CONNECTIONS, ${SAT_DURATION} s)"
  echo
  echo "| Target | Requests/s | p50 ms | p99 ms | Errors / non-2xx |"
  echo "| --- | ---: | ---: | ---: | ---: |"
  for t in "${TARGETS[@]}"; do
    l=$t-sat
    echo "| ${NAME[$t]} | $(calc "${M[$l.rps]}" 0) | ${M[$l.p50_ms]} | ${M[$l.p99_ms]} | $(errs "$l") |"
  done
  echo
  echo "## Latency at fixed concurrency (-c$LAT_CONNECTIONS, ${LAT_DURATION} s)"
  echo
  echo "Added = gateway minus the direct upstream at the same percentile. Each target runs as fast as it"
  echo "can here, so the direct run pushes several times the gateways' request rate through the same CPUs;"
  echo "its tail (p99) carries that extra contention, which can make an added p99 small or even negative."
  echo "The fixed-rate tables below compare the targets at the same request rate."
  echo
  echo "| Target | Requests/s | p50 ms | p99 ms | Added p50 ms | Added p99 ms | Errors / non-2xx |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  for t in "${TARGETS[@]}"; do
    l=$t-lat
    echo "| ${NAME[$t]} | $(calc "${M[$l.rps]}" 0) | ${M[$l.p50_ms]} | ${M[$l.p99_ms]} | $(added "$l" p50_ms) | $(added "$l" p99_ms) | $(errs "$l") |"
  done
  echo
  for r in $RATES; do
    echo "## Latency at a fixed rate (target $r req/s, -c$RATE_CONNECTIONS, ${RATE_DURATION} s)"
    echo
    echo "| Target | Achieved req/s | p50 ms | p99 ms | p99.9 ms | Added p50 ms | Added p99 ms | Errors / non-2xx |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for t in "${TARGETS[@]}"; do
      l=$t-rate$r
      mark=""
      if awk "BEGIN { exit !(${M[$l.rps]} < 0.95 * $r) }"; then mark=" (target not reached)"; fi
      echo "| ${NAME[$t]} | $(calc "${M[$l.rps]}" 0)$mark | ${M[$l.p50_ms]} | ${M[$l.p99_ms]} | ${M[$l.p999_ms]} | $(added "$l" p50_ms) | $(added "$l" p99_ms) | $(errs "$l") |"
    done
    echo
  done
  echo "wrk2 (a constant-throughput wrk) is not packaged in Debian 12, so the fixed rate comes from"
  echo "\`chat.lua\` pacing plain wrk: its \`delay()\` hands every request a send slot on a fixed schedule"
  echo "(${RATE_CONNECTIONS} connections, so the slots are not held up by slow responses). wrk still times each request"
  echo "from when it is written, not from its scheduled slot, so unlike wrk2 this does not correct for"
  echo "coordinated omission: a target that cannot keep up shows a lower achieved rate (marked \"target not"
  echo "reached\"), and its latency is then the latency at its own saturation, not at the target rate."
  echo
  if [ "$SKIP_ACCESS" != 1 ]; then
    echo "## The access path over the bare gateway"
    echo
    echo "The bare gateway is \`bench/gateway/BareGateway\`: the same Gateway module and authentication handler,"
    echo "without Access, Governance, Shield, Catalog and Insights. The master key row is the product with"
    echo "metering (a usage record per call, group-committed to SQLite) and no limits; the API key row adds the"
    echo "key lookup, request and token buckets (with the prompt's token estimate), a USD budget reservation and"
    echo "its reconciliation. Over bare = the row minus the bare gateway at the same percentile and load."
    echo
    for kind in lat $(for r in $RATES; do printf 'rate%s ' "$r"; done); do
      if [ "$kind" = lat ]; then echo "### Fixed concurrency (-c$LAT_CONNECTIONS, ${LAT_DURATION} s)"; else echo "### Fixed rate (target ${kind#rate} req/s, -c$RATE_CONNECTIONS, ${RATE_DURATION} s)"; fi
      echo
      echo "| Target | Achieved req/s | p50 ms | p99 ms | p99.9 ms | Over bare p50 ms | Over bare p99 ms | Errors / non-2xx |"
      echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
      for t in "${ACCESS_TARGETS[@]}"; do
        l=$t-$kind
        if [ "$t" = bare ]; then ob50="—"; ob99="—"; else ob50=$(over_bare "$l" p50_ms); ob99=$(over_bare "$l" p99_ms); fi
        echo "| ${ACCESS_NAME[$t]} | $(calc "${M[$l.rps]}" 0) | ${M[$l.p50_ms]} | ${M[$l.p99_ms]} | ${M[$l.p999_ms]} | $ob50 | $ob99 | $(errs "$l") |"
      done
      echo
    done
    first_rate=${RATES%% *}
    KEYED_P50=$(over_bare "keyed-rate$first_rate" p50_ms)
    if awk "BEGIN { exit !($KEYED_P50 <= 0.2) }"; then verdict="meets"; else verdict="misses"; fi
    echo "At $first_rate req/s the access path adds ${KEYED_P50} ms at p50 over the bare gateway: it $verdict the target of 0.2 ms."
    echo "Saturation throughput: bare $(calc "${M[bare-sat.rps]}" 0) req/s, master key $(calc "${M[ours-sat.rps]}" 0) req/s, API key $(calc "${M[keyed-sat.rps]}" 0) req/s."
    echo
  fi
  if [ "$SKIP_ACCESS" != 1 ] && [ "$SKIP_PORTKEY" != 1 ]; then
    echo "## Saturation with an API key beside Portkey"
    echo
    echo "The API key path (key, limits, budget, metering) against Portkey at two client settings: \`wrk -t1 -c$ONE_THREAD_CONNECTIONS\`"
    echo "and \`wrk -t$THREADS -c$SAT_CONNECTIONS\`, ${SAT_DURATION} s each: the first round; the targets below take the median of"
    echo "$TARGET_ROUNDS rounds."
    echo
    echo "| Client | Upstream direct req/s | LLM Marketplace, API key req/s | Portkey req/s | Ratio | p99 ms ours / Portkey |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: |"
    echo "| -t1 -c$ONE_THREAD_CONNECTIONS | $(calc "${M[direct-sat1.rps]}" 0) | $(calc "${M[keyed-sat1.rps]}" 0) | $(calc "${M[portkey-sat1.rps]}" 0) | $(ratio keyed-sat1.rps portkey-sat1.rps)x | ${M[keyed-sat1.p99_ms]} / ${M[portkey-sat1.p99_ms]} |"
    echo "| -t$THREADS -c$SAT_CONNECTIONS | $(calc "${M[direct-sat.rps]}" 0) | $(calc "${M[keyed-sat.rps]}" 0) | $(calc "${M[portkey-sat.rps]}" 0) | $(ratio keyed-sat.rps portkey-sat.rps)x | ${M[keyed-sat.p99_ms]} / ${M[portkey-sat.p99_ms]} |"
    echo
  fi
  if [ -n "$COUNTERS_BIN" ] && [ "$SKIP_GATEWAY" != 1 ]; then
    echo "## Where the time goes: runtime counters during the fixed-rate runs"
    echo
    echo "\`dotnet-counters collect --counters System.Runtime\` attached to LLM Marketplace for each fixed-rate run (per-second"
    echo "means). GC pauses stop every request in flight, so their time per second is a floor under the tail; bytes"
    echo "allocated per request include the work paid per interval (the usage rollup fold every 250 ms at most)."
    echo
    echo "| Target | Target req/s | Achieved req/s | GC pause ms/s | gen0 / gen1 / gen2 per s | Allocated MB/s | KB per request | Lock contentions/s |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for t in ours keyed; do
      for r in $RATES; do
        l=$t-rate$r
        [ -n "${M[$l.gc_pause_ms_s]:-}" ] || continue
        echo "| ${ACCESS_NAME[$t]} | $r | $(calc "${M[$l.rps]}" 0) | ${M[$l.gc_pause_ms_s]} | ${M[$l.gen0_s]} / ${M[$l.gen1_s]} / ${M[$l.gen2_s]} | ${M[$l.alloc_mb_s]} | $(calc "${M[$l.alloc_mb_s]} * 1024 / ${M[$l.rps]}" 1) | ${M[$l.locks_s]} |"
      done
    done
    echo
    echo "The investigation behind these figures, with the before and after of each change, is in \`bench/results/gateway-tail.md\`."
    echo
  fi
  if [ "$SKIP_ACCESS" != 1 ] && [ "$SKIP_PORTKEY" != 1 ]; then
    echo "## Targets"
    echo
    echo "Added latency is the API key row minus the direct upstream at the same rate and percentile. Each figure is the"
    echo "median of $TARGET_ROUNDS rounds of its runs (the rounds' values in brackets); throughput ratios divide the medians."
    echo
    echo "| Target | Goal | Measured | |"
    echo "| --- | --- | ---: | --- |"
    verdict() { if awk "BEGIN { exit !($1) }"; then echo met; else echo missed; fi; }
    # added_median LABEL KEY DIRECT_LABEL -> "median (r1, r2, ...)" of LABEL's KEY minus the direct run's, in ms
    added_median() {
      local v out=() d=${M[$3.$2]}
      for v in $(rounds "$1" "$2"); do out+=("$(calc "$v - $d" 3)"); done
      echo "$(median "${out[@]}") ms ($(IFS=,; echo "${out[*]}" | sed 's/,/, /g'))"
    }
    for r in $RATES; do
      [ "$r" = 2000 ] || continue
      a50=$(added_median "keyed-rate$r" p50_ms "direct-rate$r"); a99=$(added_median "keyed-rate$r" p99_ms "direct-rate$r")
      echo "| Added p50 at $r req/s, API key | ≤ 0.2 ms | $a50 | $(verdict "${a50%% *} <= 0.2") |"
      echo "| Added p99 at $r req/s, API key | ≤ 1 ms | $a99 | $(verdict "${a99%% *} <= 1") |"
    done
    a99=$(added_median keyed-lat p99_ms direct-lat)
    echo "| Added p99 at -c$LAT_CONNECTIONS, API key | ≤ 1 ms | $a99 | $(verdict "${a99%% *} <= 1") |"
    # sat_ratio LABEL_SUFFIX -> "ratio x (ours: r1, r2, ...; Portkey: r1, r2, ...)" of the medians
    sat_ratio() {
      local ours pk
      ours=$(median $(rounds "keyed-$1" rps)); pk=$(median $(rounds "portkey-$1" rps))
      whole() { awk '{ for (i = 1; i <= NF; i++) printf "%s%.0f", (i > 1 ? ", " : ""), $i }'; }
      echo "$(calc "$ours / $pk" 2)x (req/s, ours: $(rounds "keyed-$1" rps | whole); Portkey: $(rounds "portkey-$1" rps | whole))"
    }
    x=$(sat_ratio sat1); echo "| Throughput vs Portkey, API key, -t1 -c$ONE_THREAD_CONNECTIONS | ≥ 10x | $x | $(verdict "${x%%x *} >= 10") |"
    x=$(sat_ratio sat); echo "| Throughput vs Portkey, API key, -t$THREADS -c$SAT_CONNECTIONS | ≥ 15x | $x | $(verdict "${x%%x *} >= 15") |"
    g=$(calc "100 * ($GW_RSS2 - $GW_RSS1) / $GW_RSS1" 1); echo "| RSS growth from $GW_N1 to $GW_N2 requests | < 10 % | $g % | $(verdict "$g < 10") |"
    echo
    echo "The replica on PostgreSQL and Redis against the embedded default is in \`bench/results/gateway-distributed.md\`."
    echo
  fi
  if [ "$SKIP_GATEWAY" != 1 ] && [ "$SKIP_PORTKEY" != 1 ]; then
    echo "## Ratios (LLM Marketplace / Portkey)"
    echo
    echo "| Measure | Ratio |"
    echo "| --- | ---: |"
    echo "| Throughput at saturation | $(ratio ours-sat.rps portkey-sat.rps)x |"
    echo "| Throughput at -c$LAT_CONNECTIONS | $(ratio ours-lat.rps portkey-lat.rps)x |"
    echo "| p50 latency at -c$LAT_CONNECTIONS (lower is better) | $(ratio ours-lat.p50_ms portkey-lat.p50_ms)x |"
    echo "| p99 latency at -c$LAT_CONNECTIONS (lower is better) | $(ratio ours-lat.p99_ms portkey-lat.p99_ms)x |"
    for r in $RATES; do
      echo "| p50 latency at $r req/s target (lower is better) | $(ratio "ours-rate$r.p50_ms" "portkey-rate$r.p50_ms")x |"
      echo "| p99 latency at $r req/s target (lower is better) | $(ratio "ours-rate$r.p99_ms" "portkey-rate$r.p99_ms")x |"
    done
    echo
  fi
  if [ "$SKIP_GATEWAY" != 1 ] && [ "$SKIP_PORTKEY" != 1 ] && [ "$SKIP_APIS" != 1 ]; then
    echo "## Responses and Messages beside chat"
    echo
    echo "The same one-line prompt sent as an OpenAI chat completion, an OpenAI Responses request"
    echo "(\`{\"model\":\"gpt-4o-mini\",\"input\":\"Hello\",\"store\":false}\`) and an Anthropic Messages request (\`max_tokens\` 64,"
    echo "\`anthropic-version\`). LLM Marketplace translates Responses and Messages to the deployment's chat protocol"
    echo "and the answer back; Portkey passes \`/v1/responses\` (provider openai) and \`/v1/messages\` (provider"
    echo "anthropic) through to the upstream's own path, which nginx answers in that format. Added = the gateway's"
    echo "latency minus the direct chat upstream's at the same percentile."
    echo
    echo "| API | LLM Marketplace req/s (saturated) | Portkey req/s (saturated) | Throughput ratio | LLM Marketplace added p50 / p99 ms (-c$LAT_CONNECTIONS) | Portkey added p50 / p99 ms (-c$LAT_CONNECTIONS) |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: |"
    for api in chat responses messages; do
      if [ "$api" = chat ]; then o=ours; k=portkey; else o=ours$api; k=portkey$api; fi
      echo "| $api | $(calc "${M[$o-sat.rps]}" 0) | $(calc "${M[$k-sat.rps]}" 0) | $(ratio "$o-sat.rps" "$k-sat.rps")x | $(calc "${M[$o-lat.p50_ms]} - ${M[direct-lat.p50_ms]}" 3) / $(calc "${M[$o-lat.p99_ms]} - ${M[direct-lat.p99_ms]}" 3) | $(calc "${M[$k-lat.p50_ms]} - ${M[direct-lat.p50_ms]}" 3) / $(calc "${M[$k-lat.p99_ms]} - ${M[direct-lat.p99_ms]}" 3) |"
    done
    echo
    for r in $RATES; do
      echo "At a fixed $r req/s (p50 / p99 ms): $(for api in chat responses messages; do if [ "$api" = chat ]; then o=ours; k=portkey; else o=ours$api; k=portkey$api; fi; printf '%s: ours %s / %s, Portkey %s / %s; ' "$api" "${M[$o-rate$r.p50_ms]}" "${M[$o-rate$r.p99_ms]}" "${M[$k-rate$r.p50_ms]}" "${M[$k-rate$r.p99_ms]}"; done | sed 's/; $/./')"
      echo
    done
  fi
  echo "## CPU per 1,000 requests/s"
  echo
  echo "The gateway process's own CPU time (user + system from /proc/PID/stat, all its threads) during each"
  echo "fixed-rate run, divided by the run's length (cores busy) and by the achieved rate in thousands: the"
  echo "sizing figure of docs/deployment.md. The load generator and the upstream are not counted."
  echo
  echo "| Target | Target req/s | Achieved req/s | Cores busy | Cores per 1,000 req/s |"
  echo "| --- | ---: | ---: | ---: | ---: |"
  for t in bare ours keyed oursresponses oursmessages portkey portkeyresponses portkeymessages; do
    for r in $RATES; do
      l=$t-rate$r
      [ -n "${M[$l.cores]:-}" ] || continue
      case $t in
        bare) n="${ACCESS_NAME[bare]}" ;; ours) n="LLM Marketplace, chat, master key" ;; keyed) n="LLM Marketplace, chat, API key" ;;
        oursresponses) n="LLM Marketplace, Responses" ;; oursmessages) n="LLM Marketplace, Messages" ;;
        portkey) n="Portkey, chat" ;; portkeyresponses) n="Portkey, Responses" ;; portkeymessages) n="Portkey, Messages" ;;
      esac
      echo "| $n | $r | $(calc "${M[$l.rps]}" 0) | ${M[$l.cores]} | $(calc "${M[$l.cores]} / (${M[$l.rps]} / 1000)" 2) |"
    done
  done
  echo
  echo "## Resident memory (VmRSS from /proc/PID/status)"
  echo
  echo "Requests are the responses wrk counted for that process (warm-up and all runs included)."
  echo
  echo "| Process | After | Requests | VmRSS MiB | Peak (VmHWM) MiB |"
  echo "| --- | --- | ---: | ---: | ---: |"
  if [ "$SKIP_GATEWAY" != 1 ]; then
    echo "| LLM Marketplace | startup (idle) | 0 | $(mib "$GW_RSS_IDLE") | — |"
    echo "| LLM Marketplace | checkpoint 1 (target $MEM_REQUESTS_1) | $GW_N1 | $(mib "$GW_RSS1") | $(mib "$GW_HWM1") |"
    echo "| LLM Marketplace | checkpoint 2 (target $MEM_REQUESTS_2, at most ${MEM_MAX_SECONDS} s of load) | $GW_N2 | $(mib "$GW_RSS2") | $(mib "$GW_HWM2") |"
  fi
  if [ "$SKIP_PORTKEY" != 1 ]; then
    echo "| Portkey | startup (idle) | 0 | $(mib "$PK_RSS_IDLE") | — |"
    echo "| Portkey | end of its runs | $PK_N | $(mib "$PK_RSS") | $(mib "$PK_HWM") |"
  fi
  [ "$SKIP_GATEWAY" != 1 ] && { echo; echo "LLM Marketplace's data directory (SQLite) was $GW_DATA_SIZE after $GW_N2 requests."; }
  echo
  echo "## Errors"
  echo
  if [ ${#ISSUES[@]} -eq 0 ]; then
    echo "wrk: none; every run finished with no socket errors, no timeouts and only 2xx responses."
  else
    for i in "${ISSUES[@]}"; do echo "- $i"; done
  fi
  if [ "$SKIP_GATEWAY" != 1 ]; then
    n=$(grep -cE ' (fail|crit): ' "$LOGS/gateway.log" || true)
    echo
    if [ "$n" = 0 ]; then
      echo "LLM Marketplace's log: no fail or crit lines."
    else
      echo "LLM Marketplace's log: $n fail/crit lines; the first 5, without stack traces:"
      echo
      echo '```'
      grep -m5 -E ' (fail|crit): ' "$LOGS/gateway.log" | sed -e 's/ \{2,\}at .*//' -e "s#$ROOT/##g" | cut -c1-400
      echo '```'
    fi
  fi
} >"$TMP_RESULTS"

cp "$TMP_RESULTS" "$RESULTS"
echo
cat "$RESULTS"
echo
log "wrote $RESULTS (raw wrk output in $LOGS)"
