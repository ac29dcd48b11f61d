#!/usr/bin/env bash
# Runs every test of LLM Marketplace on a Debian machine with the .NET SDK, installing what the
# tests need when it is missing. Extra arguments go to `dotnet test` (e.g. --filter Name~Stream).
#
# What the tests get, as environment variables:
#   LLMM_TEST_NODE_MODULES  absolute path of tests/node/node_modules (@dwmkerr/mock-llm, openai,
#                           kubernetes-models); its parent holds mock-llm.yaml, openai-client.mjs and
#                           validate-kubernetes.mjs
# kubectl, promtool (Debian package prometheus), openssl and python3-botocore are installed when missing.
#   LLMM_TEST_POSTGRES      Npgsql connection string of a throwaway PostgreSQL on 127.0.0.1
#                           (superuser "postgres", database "llmm_test")
#   LLMM_TEST_REDIS         "127.0.0.1:PORT" of a throwaway Redis
#   LLMM_TEST_CHROMIUM      the Chromium executable the portal's Playwright tests drive (Debian package chromium)
#   LLMM_TEST_RESULTS       the results directory; the portal tests save screenshots under portal-screenshots/ there
# Each is unset when that thing could not be had; tests that need it fail then (they never skip). .ci/run
# sets LLMM_TEST_DISTRIBUTED=1, so in CI a missing PostgreSQL or Redis fails the run at once.
#
# Knobs:
#   LLMM_TEST_DISTRIBUTED=0  do not start PostgreSQL and Redis
#   LLMM_TEST_DISTRIBUTED=1  they are required: fail if either cannot be installed or started
#   (unset)                  best effort: start them, warn and go on without them on failure
#   LLMM_TEST_RESULTS=DIR    where the .trx files go (default: TestResults/test-sh, emptied first)
#
# The last line printed is "N passed, N failed, N skipped", counted from the .trx files.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export DEBIAN_FRONTEND=noninteractive

log() { echo "[test.sh] $*"; }
warn() { echo "[test.sh] WARNING: $*" >&2; }
die() { echo "[test.sh] ERROR: $*" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/llmm-test.XXXXXX")"
chmod 755 "$work"

# ---------------------------------------------------------------------------------------------
# Cleanup: every service started here registers a stop function; they run on any exit.
# ---------------------------------------------------------------------------------------------
cleanups=()
cleanup() {
  local rc=$? i
  set +e
  for ((i = ${#cleanups[@]} - 1; i >= 0; i--)); do "${cleanups[i]}"; done
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Installing Debian packages: `apt-get update` once, and only when something must be installed.
# ---------------------------------------------------------------------------------------------
sudo_cmd=()
if [[ $EUID -ne 0 ]] && command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo -n); fi
apt_updated=0

apt_install() {
  command -v apt-get >/dev/null 2>&1 || { warn "apt-get is not available to install: $*"; return 1; }
  if [[ $apt_updated -eq 0 ]]; then
    log "apt-get update"
    "${sudo_cmd[@]}" apt-get update -qq || return 1
    apt_updated=1
  fi
  log "apt-get install $*"
  # Keep package scripts from starting the packaged services (their clusters on 5432, 6379):
  # the tests start their own instances below.
  local policy=/usr/sbin/policy-rc.d added_policy=0 rc=0
  if [[ ! -e $policy ]] && printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null 2>&1; then
    "${sudo_cmd[@]}" chmod 755 "$policy"
    added_policy=1
  fi
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null || rc=$?
  if [[ $added_policy -eq 1 ]]; then "${sudo_cmd[@]}" rm -f "$policy"; fi
  return "$rc"
}

# A TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
  if command -v python3 >/dev/null 2>&1 &&
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null; then
    return 0
  fi
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
  done
  return 1
}

# ---------------------------------------------------------------------------------------------
# Node.js packages: @dwmkerr/mock-llm (the upstream) and openai (the official client).
# ---------------------------------------------------------------------------------------------
ensure_node() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm || die "Node.js and npm are needed and could not be installed"
  fi
}

ensure_node_modules() {
  local dir="$root/tests/node" stamp want
  stamp="$dir/node_modules/.llmm-installed"
  if [[ -f $dir/package-lock.json ]]; then
    want="$(cat "$dir/package.json" "$dir/package-lock.json" | cksum)"
    if [[ ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
      log "npm ci in tests/node"
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in tests/node"
      echo "$want" >"$stamp"
    fi
  else
    log "npm install in tests/node (no package-lock.json)"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error) || die "npm install failed in tests/node"
  fi
  [[ -f $dir/node_modules/@dwmkerr/mock-llm/dist/main.js ]] || die "tests/node lacks @dwmkerr/mock-llm after npm"
  [[ -d $dir/node_modules/openai ]] || die "tests/node lacks openai after npm"
  [[ -d $dir/node_modules/kubernetes-models ]] || die "tests/node lacks kubernetes-models after npm"
  export LLMM_TEST_NODE_MODULES="$dir/node_modules"
  log "LLMM_TEST_NODE_MODULES=$LLMM_TEST_NODE_MODULES"
}

# ---------------------------------------------------------------------------------------------
# Chromium for the portal's end-to-end tests (Playwright drives it; no browser download).
# ---------------------------------------------------------------------------------------------
ensure_chromium() {
  local exe="${LLMM_TEST_CHROMIUM:-}"
  if [[ -z $exe ]]; then
    exe="$(command -v chromium || true)"
    if [[ -z $exe ]]; then
      apt_install chromium || die "Chromium is needed by the portal tests and could not be installed"
      exe="$(command -v chromium || true)"
    fi
  fi
  [[ -n $exe && -x $exe ]] || die "no Chromium executable (install the Debian package chromium or set LLMM_TEST_CHROMIUM)"
  export LLMM_TEST_CHROMIUM="$exe"
  log "LLMM_TEST_CHROMIUM=$LLMM_TEST_CHROMIUM"
}

# ---------------------------------------------------------------------------------------------
# Deployment checks: kubectl renders the kustomize overlays, promtool checks the alert rules,
# openssl makes the HTTPS test's certificate (Debian packages kubectl, or kubernetes-client where no kubectl package is offered, prometheus, openssl).
# ---------------------------------------------------------------------------------------------
ensure_deploy_tools() {
  command -v kubectl >/dev/null 2>&1 || apt_install kubectl || apt_install kubernetes-client || die "kubectl is needed by the deployment tests and could not be installed"
  command -v promtool >/dev/null 2>&1 || apt_install prometheus || die "promtool (Debian package prometheus) is needed by the deployment tests and could not be installed"
  command -v openssl >/dev/null 2>&1 || apt_install openssl || die "openssl is needed by the HTTPS test and could not be installed"
  log "kubectl $(kubectl version --client 2>/dev/null | head -1 | sed 's/.*: //'), $(promtool --version 2>&1 | head -1)"
}

# ---------------------------------------------------------------------------------------------
# The Bedrock stand-in checks SigV4 signatures with botocore: Debian's python3-botocore, for /usr/bin/python3.
# ---------------------------------------------------------------------------------------------
ensure_botocore() {
  /usr/bin/python3 -c 'import botocore' >/dev/null 2>&1 || apt_install python3 python3-botocore || die "python3-botocore is needed by the Bedrock tests and could not be installed"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL: a throwaway cluster in the temp dir, on 127.0.0.1 and a free port.
# ---------------------------------------------------------------------------------------------
pg_bin=""
pg_data=""
pg_user=()   # how to run the server's programs: as "postgres" when we are root (initdb refuses root)

find_pg_bin() {
  local d
  pg_bin=""
  for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V); do
    [[ -x $d/initdb && -x $d/pg_ctl ]] && pg_bin="$d"
  done
  [[ -n $pg_bin ]]
}

stop_postgres() {
  if [[ -n $pg_data && -f $pg_data/postmaster.pid ]]; then
    log "stopping PostgreSQL"
    "${pg_user[@]}" "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      kill "$(head -1 "$pg_data/postmaster.pid")" 2>/dev/null
  fi
}

ensure_postgres() {
  if ! find_pg_bin; then
    apt_install postgresql-15 || apt_install postgresql || { warn "could not install PostgreSQL"; return 1; }
    find_pg_bin || { warn "no initdb/pg_ctl under /usr/lib/postgresql/*/bin after installing"; return 1; }
  fi
  local dir="$work/postgres" port
  mkdir -p "$dir"
  if [[ $EUID -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || { warn "no 'postgres' user to run PostgreSQL as"; return 1; }
    chown postgres: "$dir"
    # shellcheck disable=SC2016 # $0 and $@ are expanded by the postgres user's shell
    if command -v runuser >/dev/null 2>&1; then pg_user=(runuser -u postgres --); else pg_user=(su postgres -s /bin/sh -c '"$0" "$@"'); fi
  fi
  port="$(free_port)" || { warn "no free port for PostgreSQL"; return 1; }
  pg_data="$dir/data"
  echo postgres >"$dir/pwfile"
  chmod 644 "$dir/pwfile"
  if ! "${pg_user[@]}" "$pg_bin/initdb" -D "$pg_data" -U postgres --pwfile="$dir/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale >"$dir/initdb.log" 2>&1; then
    warn "initdb failed:"; tail -20 "$dir/initdb.log" >&2; pg_data=""; return 1
  fi
  cleanups+=(stop_postgres)
  if ! "${pg_user[@]}" "$pg_bin/pg_ctl" -D "$pg_data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null 2>&1; then
    warn "PostgreSQL did not start:"; tail -20 "$dir/server.log" >&2; return 1
  fi
  if ! "${pg_user[@]}" "$pg_bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -qAt \
    -c 'CREATE DATABASE llmm_test' >/dev/null 2>"$dir/psql.log"; then
    warn "could not create the llmm_test database:"; cat "$dir/psql.log" >&2; return 1
  fi
  export LLMM_TEST_POSTGRES="Host=127.0.0.1;Port=$port;Username=postgres;Password=postgres;Database=llmm_test"
  log "PostgreSQL $("$pg_bin/postgres" --version | sed -n "s/.*) \([0-9.]*\).*/\1/p") on 127.0.0.1:$port: LLMM_TEST_POSTGRES=$LLMM_TEST_POSTGRES"
}

# ---------------------------------------------------------------------------------------------
# Redis: a throwaway server in the temp dir, on 127.0.0.1 and a free port, no persistence.
# ---------------------------------------------------------------------------------------------
redis_pidfile=""

stop_redis() {
  local pid
  if [[ -n $redis_pidfile && -f $redis_pidfile ]]; then
    pid="$(cat "$redis_pidfile")"
    log "stopping Redis"
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
}

ensure_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    apt_install redis-server || { warn "could not install Redis"; return 1; }
  fi
  local dir="$work/redis" port
  mkdir -p "$dir"
  port="$(free_port)" || { warn "no free port for Redis"; return 1; }
  redis_pidfile="$dir/redis.pid"
  cleanups+=(stop_redis)
  if ! redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' --appendonly no \
    --daemonize yes --pidfile "$redis_pidfile" --logfile "$dir/redis.log" >/dev/null 2>&1; then
    warn "Redis did not start:"; tail -20 "$dir/redis.log" >&2 2>/dev/null; return 1
  fi
  local ok=0
  for _ in $(seq 1 100); do
    if [[ -s $redis_pidfile ]] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then ok=1; break; fi
    sleep 0.1
  done
  [[ $ok -eq 1 ]] || { warn "Redis does not answer on 127.0.0.1:$port:"; tail -20 "$dir/redis.log" >&2 2>/dev/null; return 1; }
  export LLMM_TEST_REDIS="127.0.0.1:$port"
  log "Redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') on $LLMM_TEST_REDIS: LLMM_TEST_REDIS=$LLMM_TEST_REDIS"
}

start_distributed() {
  local mode="${LLMM_TEST_DISTRIBUTED:-}" name
  unset LLMM_TEST_POSTGRES LLMM_TEST_REDIS
  if [[ $mode == 0 ]]; then
    log "LLMM_TEST_DISTRIBUTED=0: not starting PostgreSQL and Redis"
    return 0
  fi
  for name in postgres redis; do
    if ! "ensure_$name"; then
      [[ $mode == 1 ]] && die "LLMM_TEST_DISTRIBUTED=1 and $name could not be started"
      warn "going on without $name: tests that need it read an unset variable"
    fi
  done
}

# ---------------------------------------------------------------------------------------------
# .NET tests and the summary line from the .trx files.
# ---------------------------------------------------------------------------------------------
trx_attr() { # FILE ATTRIBUTE: that attribute of the file's <Counters .../>, 0 when absent
  local v
  v="$(grep -o '<Counters [^>]*>' "$1" | head -1 | sed -n "s/.* $2=\"\([0-9]*\)\".*/\1/p")"
  echo "${v:-0}"
}

summarize() { # DIR: prints "N passed, N failed, N skipped" over all .trx files in DIR
  local passed=0 failed=0 skipped=0 f n
  while IFS= read -r -d '' f; do
    passed=$((passed + $(trx_attr "$f" passed)))
    for n in failed error timeout aborted; do failed=$((failed + $(trx_attr "$f" "$n"))); done
    skipped=$((skipped + $(trx_attr "$f" notExecuted)))
  done < <(find "$1" -name '*.trx' -print0 2>/dev/null)
  echo "$passed passed, $failed failed, $skipped skipped"
}

stop_services() { # runs the registered stop functions now, so that nothing prints after the summary
  local i
  for ((i = ${#cleanups[@]} - 1; i >= 0; i--)); do "${cleanups[i]}" || true; done
  cleanups=()
}

run_dotnet_tests() {
  command -v dotnet >/dev/null 2>&1 || die "the .NET SDK (dotnet) is not on PATH"
  local results="${LLMM_TEST_RESULTS:-$root/TestResults/test-sh}" rc=0 line
  rm -rf "$results"
  mkdir -p "$results"
  results="$(cd "$results" && pwd)"
  export LLMM_TEST_RESULTS="$results"
  log "dotnet test LlmMarketplace.slnx -c Release $*"
  dotnet test LlmMarketplace.slnx -c Release \
    --logger trx --logger "console;verbosity=minimal" --results-directory "$results" "$@" || rc=$?
  if [[ -z "$(find "$results" -name '*.trx' -print -quit)" ]]; then
    warn "no .trx results were written (the build or the test host failed before any test ran)"
  fi
  line="$(summarize "$results")"
  if [[ $rc -eq 0 && ${line#*passed, } != 0\ failed* ]]; then rc=1; fi
  log "dotnet test exited with $rc; results in $results"
  stop_services
  echo "$line"
  return "$rc"
}

ensure_node
ensure_node_modules
ensure_chromium
ensure_deploy_tools
ensure_botocore
start_distributed
run_dotnet_tests "$@"
