#!/usr/bin/env bash
# Starts LLM Marketplace on its embedded default (SQLite under ./data) with the quickstart configuration.
# The quickstart's upstream is the OpenAI-compatible mock server @dwmkerr/mock-llm on 127.0.0.1:6556,
# started here when nothing listens there; edit samples/quickstart.yaml to point at a real provider.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Absolute paths: `dotnet run` starts the program in the project's directory, not in this one.
quickstart="$root/samples/quickstart.yaml"
config="$(realpath -m "${LLMM_CONFIG:-$quickstart}")"
data="$(realpath -m "${LLMM_DATA:-data}")"
urls="${LLMM_URLS:-http://127.0.0.1:8080}"
mkdir -p "$data"

if [[ -z "${LLMM_MASTER_KEY:-}" ]]; then
  keyfile="$data/master.key"
  if [[ ! -s "$keyfile" ]]; then
    (umask 077; head -c 32 /dev/urandom | base64 | tr -d '/+=' | head -c 40 > "$keyfile")
    echo "A master key was generated into $keyfile (readable by you only). Use it as your API key."
  fi
  LLMM_MASTER_KEY="$(cat "$keyfile")"
  export LLMM_MASTER_KEY
fi

mock_pid=""
cleanup() { [[ -n "$mock_pid" ]] && kill "$mock_pid" 2>/dev/null || true; }
trap cleanup EXIT

if [[ "$config" == "$quickstart" ]] && ! (exec 3<>/dev/tcp/127.0.0.1/6556) 2>/dev/null; then
  if [[ ! -d tests/node/node_modules/@dwmkerr/mock-llm ]]; then
    (cd tests/node && npm ci --no-audit --no-fund >/dev/null)
  fi
  HOST=127.0.0.1 PORT=6556 node tests/node/node_modules/@dwmkerr/mock-llm/dist/main.js --config tests/node/mock-llm.yaml >"$data/mock-llm.log" 2>&1 &
  mock_pid=$!
  echo "Started the quickstart upstream (mock-llm) on 127.0.0.1:6556."
fi

dotnet run --project src/Host/Host.csproj -c Release -- serve --config "$config" --data "$data" --urls "$urls"
