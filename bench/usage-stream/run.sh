#!/usr/bin/env bash
# Usage stream benchmark: how fast one replica's consumer writes usage records from the Redis usage stream into
# PostgreSQL. It pushes N usage records into the real stream (redis-cli --pipe, as the replicas' writers would append
# them), with one real replica (src/Host, published in Release) consuming, and times until every record is a row of
# access_usage. Then it pushes the same N records again (a re-delivery: every record id is already stored) and times
# until the stream is drained with no row added. It runs a baseline build (BENCH_BASELINE_REF, by default the last
# commit that inserted the records of a batch one statement each; several commits may be given) and the working tree, on the same PostgreSQL and
# Redis, one after the other. Loopback only; every wait is bounded. Writes bench/results/usage-stream.md.
#
# Usage: bench/usage-stream/run.sh   (knobs: BENCH_* variables below)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"

RECORDS=${BENCH_RECORDS:-50000}
BATCH=${BENCH_BATCH:-512}                       # Access:MaxBatchSize of the replica
TIMEOUT=${BENCH_TIMEOUT:-300}                   # bound on each drain, seconds
BASELINE_REF=${BENCH_BASELINE_REF-8568264}      # commits to compare with (space separated); 8568264 inserts row by row; empty: none
SKIP_BUILD=${BENCH_SKIP_BUILD:-0}
WORK=${BENCH_WORK_DIR:-bench/.work}
RESULTS=${BENCH_RESULTS:-bench/results/usage-stream.md}
RUN_DIR=$(mkdir -p "$WORK" && cd "$WORK" && pwd)/usage-stream-run
BUILDS=$(cd "$WORK" && pwd)/usage-stream
LOGS=$RUN_DIR/logs

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
now() { date +%s.%N; }

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

for tool in curl redis-server redis-cli dotnet python3 git; do command -v "$tool" >/dev/null || die "$tool is needed (Debian packages curl redis-server redis-tools python3; the .NET SDK)"; done
for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V); do [ -x "$d/initdb" ] && PG_BIN=$d; done
[ -n "$PG_BIN" ] || die "PostgreSQL server programs are needed (Debian package postgresql-15)"

rm -rf "$RUN_DIR"; mkdir -p "$RUN_DIR" "$LOGS" "$BUILDS" "$(dirname "$RESULTS")"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() { # URL SECONDS
  local deadline=$(( SECONDS + $2 ))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true)" = 200 ]; do
    [ $SECONDS -ge $deadline ] && die "$1 not ready after $2 s"
    sleep 0.2
  done
}

# ---------------------------------------------------------------- builds
publish() { # NAME SOURCE-DIR
  if [ "$SKIP_BUILD" = 1 ] && [ -f "$BUILDS/$1/llm-marketplace.dll" ]; then return; fi
  log "publishing $1 (Release)"
  dotnet publish "$2/src/Host/Host.csproj" -c Release -o "$BUILDS/$1" --nologo -nodeReuse:false -p:UseSharedCompilation=false >"$LOGS/publish-$1.log" 2>&1 \
    || { tail -30 "$LOGS/publish-$1.log" >&2; die "dotnet publish of $1 failed"; }
}
NAMES=()
declare -A COMMIT
for ref in $BASELINE_REF; do
  commit=$(git rev-parse --short "$ref^{commit}") || die "unknown BENCH_BASELINE_REF $ref"
  name=baseline-$commit
  if [ "$SKIP_BUILD" != 1 ] || [ ! -f "$BUILDS/$name/llm-marketplace.dll" ]; then
    rm -rf "$BUILDS/$name-src"; mkdir -p "$BUILDS/$name-src"
    git archive "$commit" | tar -x -C "$BUILDS/$name-src"
  fi
  publish "$name" "$BUILDS/$name-src"
  NAMES+=("$name"); COMMIT[$name]=$commit
done
# What the working tree's build is, read when it is published.
CURRENT_DESC="working tree at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' (with uncommitted changes)')"
publish current "$ROOT"
NAMES+=(current)

# ---------------------------------------------------------------- PostgreSQL and Redis
PG_DIR=$RUN_DIR/postgres; mkdir -p "$PG_DIR"; PG_DATA=$PG_DIR/data
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$PG_DIR"; PG_USER=(runuser -u postgres --); fi
PG_PORT=$(free_port)
"${PG_USER[@]}" "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --no-locale >"$LOGS/initdb.log" 2>&1 || die "initdb failed"
"${PG_USER[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DIR/server.log" -w -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$PG_DIR" start >/dev/null
psql_q() { "${PG_USER[@]}" "$PG_BIN/psql" -h "$PG_DIR" -p "$PG_PORT" -U postgres -qAt "$@"; }
REDIS_PORT=$(free_port)
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly yes --appendfsync everysec --dir "$RUN_DIR" >"$LOGS/redis.log" 2>&1 & PIDS+=($!)
rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
deadline=$(( SECONDS + 10 )); until [ "$(rcli ping 2>/dev/null)" = PONG ]; do [ $SECONDS -ge $deadline ] && die "redis not ready"; sleep 0.1; done

# A model is configured so that the gateway starts as it would in production; no call is made.
cat >"$RUN_DIR/gateway.yaml" <<EOF
Providers:
  - Name: upstream
    Type: openai
    BaseUrl: http://127.0.0.1:9/v1
Models:
  - Name: gpt-4o-mini
    Deployments:
      - Provider: upstream
        Model: gpt-4o-mini
        InputPerMTok: 0.15
        OutputPerMTok: 0.60
Logging:
  LogLevel:
    Default: Warning
EOF
MASTER_KEY=bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')

# N XADD commands in the Redis protocol: usage records as the replicas' writers serialize them, each with its own record id.
records() { # KEY SEED
  python3 - "$1" "$2" "$RECORDS" <<'PY'
import json, sys
key, seed, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = sys.stdout.buffer
def resp(*args):
    b = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode()
        b.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(b)
t0 = 1_790_000_000_000
for i in range(n):
    row = {"RequestId": f"req-{seed}-{i}", "AtMs": t0 + i, "Operation": "chat.completions", "KeyId": f"key-{i % 50}",
           "AppId": f"app-{i % 10}", "TeamId": f"team-{i % 5}", "UserId": None, "SubscriptionId": None, "Model": "gpt-4o-mini",
           "Provider": "openai", "Deployment": "gpt-4o-mini/openai", "Listing": None, "ListingVersion": None,
           "PromptTokens": 120 + i % 300, "CompletionTokens": 40 + i % 200, "CachedTokens": 0, "ReasoningTokens": 0,
           "CostUsd": 0.000042, "LatencyMs": 12.5, "TtftMs": None, "Status": 200, "Cache": "none", "Stream": 0,
           "RecordId": f"{seed}{i:012d}"}
    out.write(resp("XADD", key, "*", "r", json.dumps(row, separators=(",", ":"))))
PY
}

declare -A R
run_build() { # NAME
  local name=$1 db port dir pid t0 t1 t2 rows commits0 commits1 len pending
  db=bench_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
  psql_q -d postgres -c "CREATE DATABASE $db"
  port=$(free_port); dir=$RUN_DIR/$name-data; mkdir -p "$dir"
  env LLMM__Storage__Provider=postgres "LLMM__Storage__ConnectionString=Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=$db" \
    LLMM__Redis__Configuration=127.0.0.1:$REDIS_PORT LLMM__Redis__KeyPrefix=$db: LLMM__Access__MaxBatchSize=$BATCH \
    LLMM_MASTER_KEY=$MASTER_KEY dotnet "$BUILDS/$name/llm-marketplace.dll" serve --config "$RUN_DIR/gateway.yaml" \
    --urls "http://127.0.0.1:$port" --data "$dir" >"$LOGS/$name.log" 2>&1 & pid=$!; PIDS+=($pid)
  wait_http "http://127.0.0.1:$port/health/ready" 90
  # The replica's consumer group exists once it has polled the stream.
  local deadline=$(( SECONDS + 30 ))
  until rcli xinfo groups "$db:usage" 2>/dev/null | grep -q usage-writers; do [ $SECONDS -ge $deadline ] && die "$name: no consumer group"; sleep 0.1; done
  records "$db:usage" 1 >"$RUN_DIR/records.resp"

  log "$name: pushing $RECORDS usage records into the stream"
  R[$name.load]=$(cut -d' ' -f1 /proc/loadavg)
  commits0=$(psql_q -d postgres -c "SELECT xact_commit FROM pg_stat_database WHERE datname = '$db'")
  t0=$(now)
  rcli --pipe <"$RUN_DIR/records.resp" >"$LOGS/$name-pipe.log" 2>&1 || die "$name: redis-cli --pipe failed"
  t1=$(now)
  deadline=$(( SECONDS + TIMEOUT ))
  while rows=$(psql_q -d "$db" -c "SELECT COUNT(*) FROM access_usage"); [ "$rows" -lt "$RECORDS" ]; do
    [ $SECONDS -ge $deadline ] && die "$name: only $rows of $RECORDS rows after $TIMEOUT s"
    sleep 0.05
  done
  t2=$(now)
  commits1=$(psql_q -d postgres -c "SELECT xact_commit FROM pg_stat_database WHERE datname = '$db'")
  R[$name.push_s]=$(calc "$t1 - $t0" 2)
  R[$name.drain_s]=$(calc "$t2 - $t0" 2)
  R[$name.rows_per_s]=$(calc "$RECORDS / ($t2 - $t0)" 0)
  R[$name.commits]=$(( commits1 - commits0 ))
  R[$name.distinct]=$(psql_q -d "$db" -c "SELECT COUNT(DISTINCT record_id) FROM access_usage")
  R[$name.rows]=$(psql_q -d "$db" -c "SELECT COUNT(*) FROM access_usage")

  log "$name: pushing the same $RECORDS records again (a re-delivery)"
  t0=$(now)
  rcli --pipe <"$RUN_DIR/records.resp" >>"$LOGS/$name-pipe.log" 2>&1 || die "$name: redis-cli --pipe failed"
  deadline=$(( SECONDS + TIMEOUT ))
  while len=$(rcli xlen "$db:usage"); pending=$(rcli xpending "$db:usage" usage-writers | head -1); [ "$len" != 0 ] || [ "$pending" != 0 ]; do
    [ $SECONDS -ge $deadline ] && die "$name: $len entries still in the stream after $TIMEOUT s"
    sleep 0.05
  done
  t2=$(now)
  R[$name.redelivery_per_s]=$(calc "$RECORDS / ($t2 - $t0)" 0)
  R[$name.rows_after]=$(psql_q -d "$db" -c "SELECT COUNT(*) FROM access_usage")
  log "$name: ${R[$name.rows_per_s]} rows/s; re-delivery ${R[$name.redelivery_per_s]} records/s; rows ${R[$name.rows]} -> ${R[$name.rows_after]}"
  kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
}

for name in "${NAMES[@]}"; do run_build "$name"; done

desc() { if [ "$1" = current ]; then echo "$CURRENT_DESC"; else echo "commit ${COMMIT[$1]}"; fi; }
{
  echo "# Usage stream benchmark: stream to PostgreSQL"
  echo
  echo "Generated by \`bench/usage-stream/run.sh\` on $(date -u '+%Y-%m-%d %H:%M') UTC."
  echo
  echo "- Machine: $(nproc) CPUs shared by redis-cli, Redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), PostgreSQL"
  echo "  $("$PG_BIN/postgres" --version | sed -n 's/.*(PostgreSQL) \([0-9.]*\).*/\1/p') (default settings, \`synchronous_commit\` on) and one LLM Marketplace replica (Release), all on loopback."
  echo "- $RECORDS usage records (24 columns each, distinct record ids) are appended to the replica's usage stream with"
  echo "  \`redis-cli --pipe\` while the replica runs; rows/s = records / time from the first append until"
  echo "  \`SELECT COUNT(*) FROM access_usage\` reaches $RECORDS (polled every 50 ms). One replica = one consumer;"
  echo "  \`Access:MaxBatchSize\` = $BATCH. Commits = PostgreSQL \`xact_commit\` of the database during that time (includes the poll queries)."
  echo "- Re-delivery: the same $RECORDS records appended again; records/s until the stream is empty and nothing is pending."
  echo "  Every record id is already stored, so no row may be added."
  echo "- Load: the machine's 1-minute load average when the build's run started (other work on the machine skews a run)."
  echo
  echo "| Build | load | append s | stored rows/s | commits | rows (distinct record ids) | re-delivery records/s | rows after re-delivery |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for name in "${NAMES[@]}"; do
    echo "| $(desc "$name") | ${R[$name.load]} | ${R[$name.push_s]} | ${R[$name.rows_per_s]} | ${R[$name.commits]} | ${R[$name.rows]} (${R[$name.distinct]}) | ${R[$name.redelivery_per_s]} | ${R[$name.rows_after]} |"
  done
} >"$RESULTS"
cat "$RESULTS"
