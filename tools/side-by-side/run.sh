#!/usr/bin/env bash
# Side by side: two running stacks (e.g. two builds, or one build under two settings) loaded at the
# same time, so the machine's drift hits both alike (BENCHMARKS.md). Each round runs wrk -t2 -c32
# for 10 s on both at once, on fresh order ids, and prints both rates and their ratio B/A.
#
#   tools/side-by-side/run.sh PORT_A PORT_B [ROUNDS]
#
# SCRIPT=add-funds.lua loads add_funds instead of checkouts; KEYED_A=1 / KEYED_B=1 make that side
# send a new Idempotency-Key with every request.
# Start the stacks first, e.g. `PORT=8101 DATA_DIR=/tmp/a GATEWAY=nginx npm start` in one clone and
# `PORT=8102 DATA_DIR=/tmp/b GATEWAY=nginx npm start` in the other; run again with the ports swapped.
set -euo pipefail
a=${1:?PORT_A}; b=${2:?PORT_B}; rounds=${3:-6}
here=$(cd "$(dirname "$0")" && pwd)
for port in "$a" "$b"; do
  curl -sf -X POST "localhost:$port/stock/batch_init/10000/1000000/1" >/dev/null
  curl -sf -X POST "localhost:$port/payment/batch_init/10000/1000000000" >/dev/null
  curl -sf -X POST "localhost:$port/orders/batch_init/300000/10000/10000/1" >/dev/null
done
out=$(mktemp -d)
for round in $(seq 1 "$rounds"); do
  offset=$(( (round - 1) * 40000 ))
  OFFSET=$offset KEYED=${KEYED_A:-0} wrk -t2 -c32 -d10s -s "$here/${SCRIPT:-fresh-orders.lua}" "http://localhost:$a" >"$out/a" 2>&1 &
  OFFSET=$offset KEYED=${KEYED_B:-0} wrk -t2 -c32 -d10s -s "$here/${SCRIPT:-fresh-orders.lua}" "http://localhost:$b" >"$out/b" 2>&1 &
  wait
  ra=$(awk '/Requests\/sec/ {print $2}' "$out/a"); rb=$(awk '/Requests\/sec/ {print $2}' "$out/b")
  echo "round $round: A($a)=$ra B($b)=$rb B/A=$(awk -v x="$rb" -v y="$ra" 'BEGIN {printf "%.3f", x / y}') non2xx=$(grep -c Non-2xx "$out/a" || true)/$(grep -c Non-2xx "$out/b" || true)"
done
rm -rf "$out"
