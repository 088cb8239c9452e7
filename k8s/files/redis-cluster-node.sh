#!/bin/sh
# Starts one Redis Cluster node of the chart's StatefulSet (redis.mode=cluster).
#
# Env: REDIS_PASSWORD; ANNOUNCE_HOSTNAME, the pod's stable DNS name, which the node gives clients
# (CLUSTER SLOTS, MOVED) instead of its pod IP; NODE_TIMEOUT_MS; DATA_DIR (default /data);
# REDIS_PORT (default 6379); CLUSTER_BUS_PORT (default REDIS_PORT + 10000).
#
# The nodes reach each other by IP on the cluster bus, and nodes.conf remembers those IPs. Pods
# get new IPs when they are rescheduled; when all of them are at once (a minikube restart, a node
# drain), nobody could reach anybody any more. So before starting, each known node's IP is looked
# up again by the hostname nodes.conf keeps beside it; a name that does not resolve yet keeps its
# old IP, and gossip corrects it once that peer is up and pings us.
set -eu
dir=${DATA_DIR:-/data}
conf="$dir/nodes.conf"
if [ -f "$conf" ]; then
  fresh="$conf.resolved"
  : >"$fresh"
  while read -r id addr rest; do
    case "$addr" in
      *:*@*,*)
        host=${addr#*,}
        host=${host%%,*}
        ip=$(getent hosts "$host" | awk '{ print $1; exit }' || true)
        [ -n "$ip" ] && addr="$ip:${addr##*:}"
        ;;
    esac
    printf '%s %s %s\n' "$id" "$addr" "$rest" >>"$fresh"
  done <"$conf"
  mv "$fresh" "$conf"
fi
exec redis-server --port "${REDIS_PORT:-6379}" --dir "$dir" \
  --appendonly yes --appendfsync everysec --save "" \
  --requirepass "$REDIS_PASSWORD" --masterauth "$REDIS_PASSWORD" \
  --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout "${NODE_TIMEOUT_MS:-5000}" \
  --cluster-port "${CLUSTER_BUS_PORT:-$((${REDIS_PORT:-6379} + 10000))}" \
  --cluster-announce-hostname "$ANNOUNCE_HOSTNAME" --cluster-preferred-endpoint-type hostname
