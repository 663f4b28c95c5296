#!/usr/bin/env bash
# Runs the whole test suite: set-up (Node 24, pnpm, the Docker engine, images), typecheck, lint and
# package boundaries, unit and property tests over fakes, then the real-Docker suite.
# The Docker suite never skips: if the engine cannot start, set-up fails and so does this script.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH=/usr/local/bin:$PATH

results=.dtma/test-results
rm -rf "$results" && mkdir -p "$results"
status=0
echo "==> typecheck"; pnpm -s typecheck || status=1
echo "==> lint and package boundaries"; pnpm -s lint || status=1
echo "==> unit and property tests (fakes, no Docker)"
pnpm -s exec vitest run --project unit --reporter=default --reporter=json --outputFile="$results/unit.json" || status=1
echo "==> real-Docker suite"
docker version --format 'Docker engine {{.Server.Version}} (API {{.Server.APIVersion}})'
pnpm -s exec vitest run --project docker --reporter=default --reporter=json --outputFile="$results/docker.json" || status=1
echo "==> chaos soak (2 minutes; fails on a lost call or a leak)"
SOAK_OUT_DIR="$results/soak" pnpm -s soak 2m | tee "$results/soak.txt" || status=1
echo "==> benchmark, quick (a smoke run of pnpm bench: no timing assertions; fails if it crashes)"
pnpm -s bench --quick || status=1
echo "==> summary"
node scripts/summarize-tests.mjs "$results/unit.json" "$results/docker.json" || status=1
grep -E '^soak (PASS|FAIL)' "$results/soak.txt" || { echo "soak: no summary (the run did not finish)"; status=1; }
exit $status
