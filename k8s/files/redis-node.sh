#!/bin/sh
# Starts one Redis node of the chart's StatefulSet, in either mode.
#
# Env: SERVICE, the service whose data it holds, and its users' passwords SERVICE_PASSWORD,
# REPLICATION_PASSWORD, ADMIN_PASSWORD with their rules (DEFAULT_USER_LINE, HEALTH_USER_LINE, SERVICE_USER_RULES,
# REPLICATION_USER_RULES, ADMIN_USER_RULES, from deploy/redis-acl.ts by way of the chart);
# MAXMEMORY; ACL_FILE (default /acl/users.acl, a memory-backed volume); DATA_DIR (default /data);
# REDIS_PORT (default 6379). Cluster mode (CLUSTER=yes) also: ANNOUNCE_HOSTNAME, the pod's stable
# DNS name, which the node gives clients (CLUSTER SLOTS, MOVED) instead of its pod IP;
# NODE_TIMEOUT_MS; CLUSTER_BUS_PORT (default REDIS_PORT + 10000).
#
# The ACL file holds each password only as its SHA-256. A node follows its master as the
# replication user.
#
# In cluster mode the nodes reach each other by IP on the cluster bus, and nodes.conf remembers
# those IPs. Pods get new IPs when they are rescheduled; when all of them are at once (a minikube
# restart, a node drain), nobody could reach anybody any more. So before starting, each known
# node's IP is looked up again by the hostname nodes.conf keeps beside it; a name that does not
# resolve yet keeps its old IP, and gossip corrects it once that peer is up and pings us.
set -eu
umask 077
dir=${DATA_DIR:-/data}
acl=${ACL_FILE:-/acl/users.acl}
hash() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
{
  echo "$DEFAULT_USER_LINE"
  echo "$HEALTH_USER_LINE"
  echo "user $SERVICE on #$(hash "$SERVICE_PASSWORD") $SERVICE_USER_RULES"
  echo "user replica on #$(hash "$REPLICATION_PASSWORD") $REPLICATION_USER_RULES"
  echo "user admin on #$(hash "$ADMIN_PASSWORD") $ADMIN_USER_RULES"
} >"$acl"

set -- --port "${REDIS_PORT:-6379}" --dir "$dir" \
  --appendonly yes --appendfsync everysec --save "" \
  --aclfile "$acl" --masteruser replica --masterauth "$REPLICATION_PASSWORD" \
  --maxmemory "${MAXMEMORY:-0}" --maxmemory-policy noeviction

if [ "${CLUSTER:-no}" = yes ]; then
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
  set -- "$@" --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout "${NODE_TIMEOUT_MS:-2000}" --repl-diskless-sync-delay 0 \
    --cluster-port "${CLUSTER_BUS_PORT:-$((${REDIS_PORT:-6379} + 10000))}" \
    --cluster-announce-hostname "$ANNOUNCE_HOSTNAME" --cluster-preferred-endpoint-type hostname
fi
exec redis-server "$@"
