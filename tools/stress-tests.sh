#!/usr/bin/env bash
# Runs every test file that kills, stops, stalls or waits for something RUNS times in a row
# (default 20), in each pass `npm test` runs it in (saga, 2pc, and on Redis Clusters), while
# stress-ng keeps both cores LOAD % busy (default 60), and stops at the first failure. A test that
# passes here only because the machine was quick enough is a test that waits for a time instead of
# a situation. Needs stress-ng (apt-get install stress-ng).
# Usage: tools/stress-tests.sh [RUNS] [LOAD]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
load=${2:-60}
# The files, by the passes of `npm test` (package.json) they run in.
saga_only=(test/chart-cluster.test.ts test/docs.test.ts orchestrator/http/transport.test.ts orchestrator/engine.property.test.ts common/redis.test.ts
  test/package.test.ts test/storage-conformance.test.ts orchestrator/redis/log.test.ts test/signals.test.ts)
every_protocol=(test/resilience.test.ts test/observability.test.ts test/chaos.test.ts test/stalls.test.ts test/recovery.test.ts
  test/crash.test.ts test/gateway.test.ts test/checkout.test.ts test/prometheus.test.ts test/auth.test.ts test/cluster.test.ts test/parked.test.ts
  test/bench.test.ts)
also_on_clusters=(test/idempotency.test.ts)
npm run build --silent
stress-ng --cpu "$(nproc)" --cpu-load "$load" --timeout 14400s >/dev/null 2>&1 &
stress=$!
trap 'kill $stress 2>/dev/null || true' EXIT
pass() { # NAME ENV... -- FILES...
  local name=$1 log; shift
  local env=(); while [ "$1" != -- ]; do env+=("$1"); shift; done; shift
  log="/tmp/shardshop-stress.$i.$name.log"
  env "${env[@]}" npx vitest run "$@" >"$log" 2>&1 || { echo "run $i, $name pass failed: $log"; exit 1; }
}
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  pass saga TX_PROTOCOL=saga -- "${saga_only[@]}" "${every_protocol[@]}" "${also_on_clusters[@]}"
  pass 2pc TX_PROTOCOL=2pc -- "${every_protocol[@]}" "${also_on_clusters[@]}"
  pass cluster REDIS_MODE=cluster -- "${also_on_clusters[@]}"
  echo "run $i of $runs passed in $(($(date +%s) - start)) s"
done
