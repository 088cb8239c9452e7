#!/usr/bin/env bash
# CPU per 1 000 checkouts of every process of one running stack, over a 10 s wrk run on fresh
# orders (from /proc/<pid>/stat, user + system, with reaped children: a Redis's AOF rewrites):
#
#   tools/side-by-side/cpu.sh PORT STACK_PID [OFFSET]
#
# STACK_PID is the `npm start` process (node dist/local/main.js); its descendants are measured.
set -euo pipefail
port=${1:?PORT}; root=${2:?STACK_PID}; offset=${3:-0}
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t pids < <(pstree -pT "$root" | grep -o '([0-9]*)' | tr -d '()')
ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat" 2>/dev/null || echo 0; }
declare -A before
for pid in "${pids[@]}"; do before[$pid]=$(ticks "$pid"); done
out=$(mktemp)
OFFSET=$offset wrk -t2 -c32 -d10s -s "$here/fresh-orders.lua" "http://localhost:$port" >"$out" 2>&1
requests=$(awk '/requests in/ {print $1}' "$out")
echo "requests $requests, $(awk '/Requests\/sec/ {print $2}' "$out") req/s"
hz=$(getconf CLK_TCK)
for pid in "${pids[@]}"; do
  used=$(( $(ticks "$pid") - ${before[$pid]:-0} ))
  [ "$used" -gt 0 ] || continue
  name=$(tr '\0' ' ' <"/proc/$pid/cmdline" | sed 's#.*dist/##; s#--port \([0-9]*\).*#\1#' | cut -c1-50)
  awk -v u="$used" -v hz="$hz" -v n="$requests" -v name="$name" 'BEGIN {printf "%6.1f ms/1k  %s\n", u * 1e6 / hz / n, name}'
done | sort -rn
rm -f "$out"
