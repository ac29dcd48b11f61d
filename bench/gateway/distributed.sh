#!/usr/bin/env bash
# Distributed gateway benchmark: LLM Marketplace as 1, 2 and 3 replicas on one PostgreSQL and Redis, behind an
# nginx load balancer, under the same total load, next to the embedded default (one process, SQLite, no Redis)
# behind the same load balancer. Calls use an API key with a rate limit and a budget, so every call takes from the
# shared buckets and budget counters and writes a usage record. Loopback only. Writes bench/results/gateway-distributed.md.
#
# Usage: bench/gateway/distributed.sh   (knobs: BENCH_* variables below)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"

THREADS=${BENCH_THREADS:-2}
SAT_CONNECTIONS=${BENCH_SAT_CONNECTIONS:-64}
SAT_DURATION=${BENCH_SAT_DURATION:-10}
RATE=${BENCH_RATE:-500}                       # fixed total rate for the latency run, requests/s
RATE_CONNECTIONS=${BENCH_RATE_CONNECTIONS:-32}
RATE_DURATION=${BENCH_RATE_DURATION:-10}
WARMUP_DURATION=${BENCH_WARMUP_DURATION:-60}       # seconds of unmeasured load per configuration: after 30-40 s the JIT still takes 5-10 % of a core
REPLICAS=${BENCH_REPLICAS:-1 2 3}
ROUNDS=${BENCH_ROUNDS:-3}                     # embedded and one replica, alternated this many times: the share is their median
SKIP_BUILD=${BENCH_SKIP_BUILD:-0}
WORK=${BENCH_WORK_DIR:-bench/.work}
RESULTS=${BENCH_RESULTS:-bench/results/gateway-distributed.md}
LUA=bench/gateway/chat.lua
RUN_DIR=$(mkdir -p "$WORK" && cd "$WORK" && pwd)/distributed-run
LOGS=$RUN_DIR/logs

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

. "$HERE/lib.sh"

PIDS=()
PG_BIN=""; PG_DATA=""; PG_USER=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$PG_DATA" ] && [ -f "$PG_DATA/postmaster.pid" ]; then "${PG_USER[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in nginx wrk curl redis-server redis-cli dotnet python3; do command -v "$tool" >/dev/null || die "$tool is needed (Debian packages nginx wrk curl redis-server; the .NET SDK)"; done
for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V); do [ -x "$d/initdb" ] && PG_BIN=$d; done
[ -n "$PG_BIN" ] || die "PostgreSQL server programs are needed (Debian package postgresql-15)"

rm -rf "$RUN_DIR"; mkdir -p "$RUN_DIR" "$LOGS" "$(dirname "$RESULTS")"
UP_PORT=$(free_port)
nginx_conf "$RUN_DIR/upstream" "$(upstream_server "$UP_PORT")"
nginx -p "$RUN_DIR/upstream/" -c "$RUN_DIR/upstream/nginx.conf" >"$LOGS/upstream.log" 2>&1 & PIDS+=($!)
wait_http "http://127.0.0.1:$UP_PORT/v1/chat/completions" 10 POST

# ---------------------------------------------------------------- PostgreSQL and Redis
PG_DIR=$RUN_DIR/postgres; mkdir -p "$PG_DIR"; PG_DATA=$PG_DIR/data
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$PG_DIR"; PG_USER=(runuser -u postgres --); fi
PG_PORT=$(free_port)
"${PG_USER[@]}" "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --no-locale >"$LOGS/initdb.log" 2>&1 || die "initdb failed"
"${PG_USER[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DIR/server.log" -w -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$PG_DIR -c max_connections=300 -c shared_preload_libraries=pg_stat_statements" start >/dev/null
psql_q() { "${PG_USER[@]}" "$PG_BIN/psql" -h "$PG_DIR" -p "$PG_PORT" -U postgres -qAt "$@"; }
REDIS_PORT=$(free_port)
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly yes --appendfsync everysec --dir "$RUN_DIR" >"$LOGS/redis.log" 2>&1 & PIDS+=($!); REDIS_PID=$!

# ---------------------------------------------------------------- build
if [ "$SKIP_BUILD" != 1 ] || [ ! -f "$WORK/gateway/llm-marketplace.dll" ]; then
  log "publishing the gateway (Release) to $WORK/gateway"
  dotnet publish src/Host/Host.csproj -c Release -o "$WORK/gateway" --nologo -nodeReuse:false -p:UseSharedCompilation=false >"$LOGS/publish.log" 2>&1 \
    || { tail -30 "$LOGS/publish.log" >&2; die "dotnet publish failed"; }
fi
gateway_yaml "$RUN_DIR/gateway.yaml" "http://127.0.0.1:$UP_PORT/v1"
MASTER_KEY=bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)

declare -A R   # R[case.key]
CLK_TCK=$(getconf CLK_TCK)
# CPU time (user + system, jiffies) of processes: the replicas, or PostgreSQL's postmaster and its backends.
cpu_of() { local p s=0; for p in "$@"; do s=$(( s + $(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$p/stat" 2>/dev/null || echo 0) )); done; echo "$s"; }
# CPU time of the whole machine (every process, the kernel's interrupts included), jiffies; idle, I/O wait and time the hypervisor took left out.
machine_cpu() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat; }
pg_pids() { local main; main=$(head -1 "$PG_DATA/postmaster.pid"); echo "$main" $(pgrep -P "$main" || true); }
run_wrk() { # URL KEY LABEL CONNECTIONS SECONDS RATE
  local out=$LOGS/wrk-$3.txt line kv
  WRK_AUTH=$2 WRK_THREADS=$THREADS WRK_RATE=$6 WRK_TALLY=0 timeout $(( $5 + 30 )) \
    wrk -t"$THREADS" -c"$4" -d"$5s" --timeout 5s --latency -s "$LUA" "$1" >"$out" 2>&1 || die "wrk failed for $3"
  line=$(grep '^BENCH ' "$out") || die "no BENCH line for $3"
  for kv in ${line#BENCH }; do R[$3.${kv%%=*}]=${kv#*=}; done
}

# The upstream alone, at the same loads: the base for the added latency.
run_wrk "http://127.0.0.1:$UP_PORT/v1/chat/completions" "" direct-warmup "$SAT_CONNECTIONS" "$WARMUP_DURATION" 0
run_wrk "http://127.0.0.1:$UP_PORT/v1/chat/completions" "" direct-rate "$RATE_CONNECTIONS" "$RATE_DURATION" "$RATE"

# Each distributed case starts on an empty Redis whose append-only file holds nothing: the earlier cases' keys and the
# AOF would otherwise grow from case to case, and a later case would pay for the earlier ones' AOF rewrites.
fresh_redis() {
  redis-cli -p "$REDIS_PORT" FLUSHALL >/dev/null
  redis-cli -p "$REDIS_PORT" BGREWRITEAOF >/dev/null
  local deadline=$(( SECONDS + 60 ))
  until redis-cli -p "$REDIS_PORT" INFO persistence | tr -d '\r' | grep -q '^aof_rewrite_in_progress:0' && ! redis-cli -p "$REDIS_PORT" INFO persistence | tr -d '\r' | grep -q '^aof_rewrite_scheduled:1'; do
    [ $SECONDS -ge $deadline ] && die "Redis did not finish rewriting its append-only file"
    sleep 0.2
  done
}

CASES=()
run_case() { # NAME REPLICAS PROVIDER [ROUND]
  local name=$1 n=$2 provider=$3 round=${4:-} i port ports=() env=() lb dir key keyid db before after commits0 commits1 total0 total1
  log "$name: $n replica(s) on $provider"
  if [ "$provider" = postgres ]; then
    fresh_redis
    db=bench_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
    psql_q -d postgres -c "CREATE DATABASE $db"
    env=(LLMM__Storage__Provider=postgres "LLMM__Storage__ConnectionString=Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=$db"
      LLMM__Redis__Configuration=127.0.0.1:$REDIS_PORT LLMM__Redis__KeyPrefix=$db:
      # One root key for every replica, as a deployment of replicas has (tokens, secrets and data protection keys).
      LLMM__Security__EncryptionKey=env:LLMM_BENCH_ENCRYPTION_KEY "LLMM_BENCH_ENCRYPTION_KEY=$ENCRYPTION_KEY")
  fi
  local pids=()
  for i in $(seq 1 "$n"); do
    port=$(free_port); ports+=("$port"); dir=$RUN_DIR/$name-data$i; mkdir -p "$dir"
    env "${env[@]}" LLMM_MASTER_KEY=$MASTER_KEY dotnet "$WORK/gateway/llm-marketplace.dll" serve --config "$RUN_DIR/gateway.yaml" \
      --urls "http://127.0.0.1:$port" --data "$dir" >"$LOGS/$name-$i.log" 2>&1 & pids+=($!); PIDS+=($!)
    # The first replica migrates the database; the others start on it.
    [ "$i" = 1 ] && wait_http "http://127.0.0.1:$port/health/ready" 90
  done
  for port in "${ports[@]}"; do wait_http "http://127.0.0.1:$port/health/ready" 90; done
  lb=$(free_port)
  local servers=""; for port in "${ports[@]}"; do servers="$servers server 127.0.0.1:$port;"; done
  nginx_conf "$RUN_DIR/lb-$name" "  upstream replicas { $servers keepalive 128; }
  server { listen 127.0.0.1:$lb; location / { proxy_pass http://replicas; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
  nginx -p "$RUN_DIR/lb-$name/" -c "$RUN_DIR/lb-$name/nginx.conf" >"$LOGS/lb-$name.log" 2>&1 & pids+=($!); PIDS+=($!)
  wait_http "http://127.0.0.1:$lb/health/live" 10
  key=$(curl -s -H "Authorization: Bearer $MASTER_KEY" -H 'Content-Type: application/json' \
    -d '{"name":"bench","rpm":100000000,"tpm":1000000000,"budgetUsd":1000000,"budgetPeriod":"monthly"}' "http://127.0.0.1:$lb/api/v1/keys")
  keyid=$(printf '%s' "$key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  key=$(printf '%s' "$key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
  # Let the key reach every replica (invalidation message; the embedded one has one replica).
  for port in "${ports[@]}"; do
    until [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
      -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}' "http://127.0.0.1:$port/v1/chat/completions")" = 200 ]; do sleep 0.1; done
  done
  local url=http://127.0.0.1:$lb/v1/chat/completions
  usage_total() { curl -s -H "Authorization: Bearer $MASTER_KEY" "http://127.0.0.1:$lb/api/v1/usage?keyId=$keyid&limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'; }
  run_wrk "$url" "$key" "$name-warmup" "$SAT_CONNECTIONS" "$WARMUP_DURATION" 0
  sleep 2
  total0=$(usage_total); [ "$provider" = postgres ] && commits0=$(psql_q -d postgres -c "SELECT xact_commit FROM pg_stat_database WHERE datname = '$db'")
  local redis_sat0=0 app_sat0 db_sat0=0 machine_sat0 statements=0
  if [ "$provider" = postgres ]; then
    redis-cli -p "$REDIS_PORT" CONFIG RESETSTAT >/dev/null; redis_sat0=$(cpu_of "$REDIS_PID"); db_sat0=$(cpu_of $(pg_pids))
    # What PostgreSQL executed for the first distributed case's saturation run, statement by statement.
    if [ -z "${PG_STATEMENTS_CASE:-}" ] && psql_q -d "$db" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null 2>&1; then
      PG_STATEMENTS_CASE=$name; statements=1; psql_q -d "$db" -c "SELECT pg_stat_statements_reset()" >/dev/null
    fi
  fi
  app_sat0=$(cpu_of "${pids[@]:0:$n}"); machine_sat0=$(machine_cpu)
  run_wrk "$url" "$key" "$name-sat" "$SAT_CONNECTIONS" "$SAT_DURATION" 0
  sleep 2   # the usage stream drains
  # Where the machine's CPU went during the saturation run and the drain after it, per request wrk counted.
  R[$name.sat_app_us]=$(calc "1000000 * ($(cpu_of "${pids[@]:0:$n}") - $app_sat0) / $CLK_TCK / ${R[$name-sat.requests]}" 0)
  R[$name.sat_machine_us]=$(calc "1000000 * ($(machine_cpu) - $machine_sat0) / $CLK_TCK / ${R[$name-sat.requests]}" 0)
  R[$name.sat_db_us]=0; R[$name.sat_redis_us]=0
  if [ "$provider" = postgres ]; then
    R[$name.redis_sat_cpu_s]=$(calc "($(cpu_of "$REDIS_PID") - $redis_sat0) / $CLK_TCK" 3)
    R[$name.sat_redis_us]=$(calc "1000000 * ${R[$name.redis_sat_cpu_s]} / ${R[$name-sat.requests]}" 0)
    R[$name.sat_db_us]=$(calc "1000000 * ($(cpu_of $(pg_pids)) - $db_sat0) / $CLK_TCK / ${R[$name-sat.requests]}" 0)
    [ "$statements" = 1 ] && psql_q -F $'\t' -d "$db" -c "SELECT calls, total_exec_time, rows, regexp_replace(query, '\s+', ' ', 'g') FROM pg_stat_statements
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY total_exec_time DESC LIMIT 10" >"$LOGS/$name-pg-statements.tsv"
  fi
  # What Redis executed for the saturation run (and the stream's drain after it): calls and time per command.
  [ "$provider" = postgres ] && redis-cli -p "$REDIS_PORT" INFO commandstats | tr -d '\r' | grep '^cmdstat_' >"$LOGS/$name-redis-commands.txt"
  total1=$(usage_total); [ "$provider" = postgres ] && commits1=$(psql_q -d postgres -c "SELECT xact_commit FROM pg_stat_database WHERE datname = '$db'")
  R[$name.rows_per_s]=$(calc "($total1 - $total0) / ${R[$name-sat.duration_s]}" 0)
  R[$name.commits_per_s]=$([ "$provider" = postgres ] && calc "($commits1 - $commits0) / (${R[$name-sat.duration_s]} + 2)" 0 || echo "n/a")
  # The fixed-rate run also gives the sizing figures: CPU of the replicas, and of PostgreSQL and Redis, per 1,000 req/s.
  local app0 db0 redis0
  app0=$(cpu_of "${pids[@]:0:$n}"); db0=0; redis0=0
  if [ "$provider" = postgres ]; then db0=$(cpu_of $(pg_pids)); redis0=$(cpu_of "$REDIS_PID"); fi
  run_wrk "$url" "$key" "$name-rate" "$RATE_CONNECTIONS" "$RATE_DURATION" "$RATE"
  R[$name.app_cores]=$(calc "($(cpu_of "${pids[@]:0:$n}") - $app0) / $CLK_TCK / ${R[$name-rate.duration_s]}" 3)
  if [ "$provider" = postgres ]; then
    R[$name.db_cores]=$(calc "($(cpu_of $(pg_pids)) - $db0) / $CLK_TCK / ${R[$name-rate.duration_s]}" 3)
    R[$name.redis_cores]=$(calc "($(cpu_of "$REDIS_PID") - $redis0) / $CLK_TCK / ${R[$name-rate.duration_s]}" 3)
  else
    R[$name.db_cores]=0; R[$name.redis_cores]=0
  fi
  R[$name.rss_mib]=$(for p in "${pids[@]:0:$n}"; do awk '/^VmRSS:/ { print $2 }' "/proc/$p/status"; done | awk '{ s += $1 } END { printf "%.0f", s / NR / 1024 }')
  if [ "$provider" = postgres ]; then R[$name.desc]="$n × LLM Marketplace on PostgreSQL + Redis"; else R[$name.desc]="1 × LLM Marketplace, embedded (SQLite, no Redis)"; fi
  [ -n "$round" ] && R[$name.desc]="${R[$name.desc]}, round $round"
  CASES+=("$name")
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  # The next case starts on a database server without this one's data and dirty pages.
  if [ "$provider" = postgres ]; then psql_q -d postgres -c "DROP DATABASE $db WITH (FORCE)"; psql_q -d postgres -c "CHECKPOINT"; fi
}

# The embedded default and one replica take turns, so that a drift of the shared machine during the run weighs on both.
SHARES=()
for r in $(seq 1 "$ROUNDS"); do
  suffix=$([ "$r" = 1 ] || echo "-r$r")
  run_case "embedded$suffix" 1 sqlite "$([ "$ROUNDS" -gt 1 ] && echo "$r")"
  if [[ " $REPLICAS " == *" 1 "* ]]; then
    run_case "replicas1$suffix" 1 postgres "$([ "$ROUNDS" -gt 1 ] && echo "$r")"
    SHARES+=("$(calc "100 * ${R[replicas1$suffix-sat.rps]} / ${R[embedded$suffix-sat.rps]}" 1)")
  fi
done
for n in $REPLICAS; do [ "$n" = 1 ] || run_case "replicas$n" "$n" postgres; done

{
  echo "# Gateway benchmark: replicas on PostgreSQL and Redis"
  echo
  echo "Generated by \`bench/gateway/distributed.sh\` on $(date -u '+%Y-%m-%d %H:%M') UTC, LLM Marketplace at commit $(git rev-parse --short HEAD)."
  echo
  echo "- Machine: $(nproc) CPUs; client (wrk), load balancer (nginx), upstream (nginx), every replica, PostgreSQL"
  echo "  $("$PG_BIN/postgres" --version | sed -n 's/.*(PostgreSQL) \([0-9.]*\).*/\1/p') and Redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') share them: more replicas on the same CPUs add"
  echo "  coordination, not capacity. The numbers compare configurations on one machine; they are not a scaling curve."
  echo "- Every case runs behind the same nginx load balancer (keep-alive to the replicas). Calls use an API key with a"
  echo "  rate limit and a budget (taken from Redis in the distributed cases) and each writes a usage record (through the"
  echo "  Redis usage stream and its consumer group in the distributed cases, group commit to SQLite in the embedded one)."
  echo "- Saturation: \`wrk -t$THREADS -c$SAT_CONNECTIONS -d${SAT_DURATION}s\`; latency at the same total load: \`WRK_RATE=$RATE wrk -t$THREADS -c$RATE_CONNECTIONS -d${RATE_DURATION}s\`,"
  echo "  added latency = p99 through the gateway minus p99 of the upstream alone at that rate (${R[direct-rate.p99_ms]} ms)."
  echo "- Each configuration first takes ${WARMUP_DURATION} s of unmeasured load at saturation, so that the JIT has settled."
  echo "- DB writes/s: usage rows stored per second during the saturation run, and PostgreSQL commits per second"
  echo "  (\`pg_stat_database.xact_commit\`). Where usage rows/s is below requests/s, the usage stream holds the rest"
  echo "  and its consumers write it once the load stops: the database write rate, not the calls, is the limit there."
  echo
  echo "| Configuration | Requests/s (saturation) | p99 ms (saturation) | p99 added ms at $RATE req/s | usage rows/s | PostgreSQL commits/s | errors |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  for c in "${CASES[@]}"; do
    errors=$(( ${R[$c-sat.err_connect]} + ${R[$c-sat.err_read]} + ${R[$c-sat.err_timeout]} + ${R[$c-sat.non2xx]} + ${R[$c-rate.non2xx]} ))
    echo "| ${R[$c.desc]} | $(calc "${R[$c-sat.rps]}" 0) | ${R[$c-sat.p99_ms]} | $(calc "${R[$c-rate.p99_ms]} - ${R[direct-rate.p99_ms]}" 3) | ${R[$c.rows_per_s]} | ${R[$c.commits_per_s]} | $errors |"
  done
  echo
  if [ "${#SHARES[@]}" -gt 0 ]; then
    share=$(printf '%s\n' "${SHARES[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "%.0f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    echo "One replica on PostgreSQL + Redis serves ${share} % of the embedded default's saturated throughput, the median of" \
      "${#SHARES[@]} round(s) that alternate the two ($(printf '%s %%, ' "${SHARES[@]}" | sed 's/, $//')) (target: at least 80 %:" \
      "$([ "$share" -ge 80 ] && echo met || echo missed))."
    echo
  fi
  # Redis's work per request in the first distributed case: Redis runs its commands on one thread, so this is what
  # bounds one replica's throughput once that thread is busy.
  for c in "${CASES[@]}"; do
    f=$LOGS/$c-redis-commands.txt
    [ -s "$f" ] || continue
    requests=${R[$c-sat.requests]}
    echo "## Redis per request: ${R[$c.desc]}, saturation run"
    echo
    echo "\`INFO commandstats\` after \`CONFIG RESETSTAT\` before the saturation run, read 2 s after it (so the usage"
    echo "stream's drain is counted), divided by the $requests requests wrk counted."
    echo
    echo "| Command | Calls per request | µs per call | µs per request |"
    echo "| --- | ---: | ---: | ---: |"
    sed -n 's/^cmdstat_\([^:]*\):calls=\([0-9]*\),usec=\([0-9]*\),.*/\1 \2 \3/p' "$f" | sort -k3 -n -r | while read -r cmd calls usec; do
      echo "| $cmd | $(calc "$calls / $requests" 2) | $(calc "$usec / $calls" 1) | $(calc "$usec / $requests" 1) |"
    done
    cpu_us=$(calc "1000000 * ${R[$c.redis_sat_cpu_s]} / $requests" 1)
    echo
    echo "A command a script calls is counted on its own line and again inside the script's time, so the lines do not add"
    echo "up. Redis's own CPU time over the same span (user and system, from /proc) was ${R[$c.redis_sat_cpu_s]} s: $cpu_us µs per request,"
    echo "network reads and writes and the append-only file included, which bounds it at about $(calc "1000000 / $cpu_us" 0) requests/s with"
    echo "its one thread busy."
    echo
    break
  done
  echo "## Where the CPU goes at saturation"
  echo
  echo "CPU time (user + system) during each saturation run and the 2 s after it, divided by the requests wrk counted:"
  echo "the replicas, PostgreSQL (postmaster and backends) and Redis from /proc/PID/stat, the machine from /proc/stat."
  echo "The rest is the load generator, the load balancer, the upstream and the kernel's network work not charged to a"
  echo "process. The machine's $(nproc) CPUs give $(( $(nproc) * 1000000 )) µs per second, so µs per request bounds the throughput."
  echo
  echo "| Configuration | Requests/s | Replicas µs/request | PostgreSQL µs/request | Redis µs/request | Rest µs/request | Machine µs/request |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  for c in "${CASES[@]}"; do
    echo "| ${R[$c.desc]} | $(calc "${R[$c-sat.rps]}" 0) | ${R[$c.sat_app_us]} | ${R[$c.sat_db_us]} | ${R[$c.sat_redis_us]} |" \
      "$(calc "${R[$c.sat_machine_us]} - ${R[$c.sat_app_us]} - ${R[$c.sat_db_us]} - ${R[$c.sat_redis_us]}" 0) | ${R[$c.sat_machine_us]} |"
  done
  echo
  if [ -n "${PG_STATEMENTS_CASE:-}" ] && [ -s "$LOGS/$PG_STATEMENTS_CASE-pg-statements.tsv" ]; then
    c=$PG_STATEMENTS_CASE; requests=${R[$c-sat.requests]}
    echo "## PostgreSQL per request: ${R[$c.desc]}, saturation run"
    echo
    echo "\`pg_stat_statements\` reset before the saturation run, read 2 s after it, divided by the $requests requests wrk"
    echo "counted: the ten statements that took the most execution time (the time includes waiting for the client to read"
    echo "the rows, and for the CPU the other processes hold)."
    echo
    echo "| Statement | Calls per request | Rows per call | Execution µs per request |"
    echo "| --- | ---: | ---: | ---: |"
    while IFS=$'\t' read -r calls total rows query; do
      [ "$calls" -gt 0 ] || continue
      query=${query:0:110}; query=${query//|/\\|}
      echo "| \`$query\` | $(calc "$calls / $requests" 3) | $(calc "$rows / $calls" 1) | $(calc "1000 * $total / $requests" 1) |"
    done <"$LOGS/$c-pg-statements.tsv"
    echo
  elif [[ " ${CASES[*]} " == *" replicas"* ]]; then
    echo "PostgreSQL's statements per request are missing: \`pg_stat_statements\` could not be created (it ships with the"
    echo "Debian package postgresql-15)."
    echo
  fi
  echo "## Sizing: CPU per 1,000 requests/s at $RATE req/s"
  echo
  echo "CPU time (user + system from /proc/PID/stat) during the fixed-rate run, divided by its length (cores busy) and by"
  echo "the achieved rate in thousands. Replicas are the LLM Marketplace processes together; PostgreSQL is its postmaster"
  echo "and backends. The load generator, the load balancer and the upstream are not counted. Memory is each replica's"
  echo "resident set (VmRSS) after the run, averaged over the replicas."
  echo
  echo "| Configuration | Achieved req/s | Replicas: cores | Replicas: cores per 1,000 req/s | PostgreSQL: cores per 1,000 req/s | Redis: cores per 1,000 req/s | MiB per replica |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  for c in "${CASES[@]}"; do
    k=$(calc "${R[$c-rate.rps]} / 1000" 4)
    echo "| ${R[$c.desc]} | $(calc "${R[$c-rate.rps]}" 0) | ${R[$c.app_cores]} | $(calc "${R[$c.app_cores]} / $k" 2) | $(calc "${R[$c.db_cores]} / $k" 2) | $(calc "${R[$c.redis_cores]} / $k" 2) | ${R[$c.rss_mib]} |"
  done
} >"$RESULTS"
log "wrote $RESULTS"
cat "$RESULTS"
