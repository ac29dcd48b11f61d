#!/usr/bin/env bash
# The auto-router benchmark: builds and runs bench/optimizer, writes bench/results/optimizer.md.
# Options are passed through: --seed N, --mmlu-sample N, --targets 0.9,0.95, --out FILE, --trace.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -d ../shared/data/routellm ]; then
  echo "The RouteLLM data is expected in ../shared/data/routellm relative to the repository root." >&2
  exit 1
fi
dotnet run -c Release --project bench/optimizer/OptimizerBench.csproj -- "$@"
