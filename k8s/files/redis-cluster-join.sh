#!/bin/sh
# Creates the chart's Redis Cluster for one service, or brings new nodes into it: run by a Job on
# every install and upgrade, and safe to run any number of times.
#
# Env: NODES, every node's host:port (the StatefulSet's pods); MASTERS, how many masters the
# cluster should have; REPLICAS, replicas per master; REDISCLI_AUTH, the admin user's password (the nodes'
# own users may not form a cluster).
#
#   no node is in a cluster yet  -> redis-cli --cluster create over all of them
#   a cluster exists             -> each node not in it joins: as an empty master while the cluster
#                                   has fewer than MASTERS (then slots are rebalanced onto the new
#                                   masters, online), else as a replica of the master with fewest
#   then it waits until every slot is served and every node agrees on the slot map.
set -eu
# shellcheck disable=SC2086 # word splitting of the node list is intended
set -- $NODES

# Every call as the admin user.
cli() { redis-cli --user admin "$@"; }
host() { echo "${1%:*}"; }
port() { echo "${1##*:}"; }
on() {
  on_node=$1
  shift
  cli -h "$(host "$on_node")" -p "$(port "$on_node")" "$@"
}
# One field of CLUSTER INFO on a node.
info() { on "$1" cluster info | tr -d '\r' | sed -n "s/^$2://p"; }
# A node that is in no cluster yet: it knows only itself and serves no slot.
fresh() { [ "$(info "$1" cluster_known_nodes)" = 1 ] && [ "$(info "$1" cluster_slots_assigned)" = 0 ]; }
# The masters a node sees that are up and past the handshake, and those among them with no slots.
masters() { on "$1" cluster nodes | awk '$3 ~ /master/ && $3 !~ /fail|handshake|noaddr/ { n++ } END { print n + 0 }'; }
more_masters_than() { [ "$(masters "$member")" -gt "$1" ]; }
empty_masters() { on "$1" cluster nodes | awk '$3 ~ /master/ && $3 !~ /fail|handshake|noaddr/ && NF == 8 { n++ } END { print n + 0 }'; }
# Every slot is served, and every node of the cluster knows as many nodes as $1 and agrees on
# the slot map with it, so the next change starts from one configuration.
settled() {
  [ "$(info "$1" cluster_state)" = ok ] || return 1
  known=$(info "$1" cluster_known_nodes)
  for other in $NODES; do
    fresh "$other" || [ "$(info "$other" cluster_known_nodes)" = "$known" ] || return 1
  done
  cli --cluster check "$1" >/dev/null 2>&1
}
# Retries a check for up to $TRIES seconds.
until_true() {
  i=0
  until "$@"; do
    i=$((i + 1))
    if [ "$i" -ge "${TRIES:-300}" ]; then
      echo "gave up waiting for: $*" >&2
      exit 1
    fi
    sleep 1
  done
}

for node; do until_true on "$node" ping >/dev/null; done

member=""
for node; do
  if ! fresh "$node"; then
    member=$node
    break
  fi
done

if [ -z "$member" ]; then
  echo "creating the cluster: $MASTERS masters, $REPLICAS replica(s) each"
  cli --cluster create "$@" --cluster-replicas "$REPLICAS" --cluster-yes
  until_true settled "$1"
  exit 0
fi

until_true settled "$member"
for node; do
  fresh "$node" || continue
  before=$(masters "$member")
  if [ "$before" -lt "$MASTERS" ]; then
    echo "$node joins as a master"
    cli --cluster add-node "$node" "$member"
    # Counted as a master before the next node is placed.
    until_true more_masters_than "$before"
  else
    echo "$node joins as a replica"
    cli --cluster add-node "$node" "$member" --cluster-slave
  fi
  until_true settled "$member"
done
# Masters without slots (joined just now, or by an earlier run that stopped) get their share,
# moved online. A cluster whose masters all serve slots is left as it is: its slots may have been
# placed by hand.
if [ "$(empty_masters "$member")" -gt 0 ]; then
  echo "moving slots onto the empty masters"
  cli --cluster rebalance "$member" --cluster-use-empty-masters
  until_true settled "$member"
fi
echo "cluster ok: $(masters "$member") masters, $(info "$member" cluster_known_nodes) nodes"
