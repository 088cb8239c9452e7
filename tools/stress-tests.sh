#!/usr/bin/env bash
# Runs the timing-dependent test files RUNS times in a row (default 20) while stress-ng keeps both
# cores LOAD % busy (default 70), and stops at the first failure. Needs stress-ng
# (apt-get install stress-ng). Usage: tools/stress-tests.sh [RUNS] [LOAD]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
load=${2:-70}
files=(test/resilience.test.ts test/observability.test.ts test/chaos.test.ts test/stalls.test.ts orchestrator/http-transport.test.ts
  test/recovery.test.ts test/crash.test.ts test/gateway.test.ts test/checkout.test.ts test/idempotency.test.ts)
npm run build --silent
stress-ng --cpu "$(nproc)" --cpu-load "$load" --timeout 7200s >/dev/null 2>&1 &
stress=$!
trap 'kill $stress 2>/dev/null || true' EXIT
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  npx vitest run "${files[@]}" >"/tmp/shardshop-stress.$i.log" 2>&1 || { echo "run $i failed: /tmp/shardshop-stress.$i.log"; exit 1; }
  echo "run $i of $runs passed in $(($(date +%s) - start)) s"
done
