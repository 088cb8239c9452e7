#!/usr/bin/env bash
# Deploys shardshop on the current kubectl context (a GKE cluster) with N Redis shards and M
# instances per service, in one command:
#
#   gke-scale/deploy.sh --shards N --replicas M [--redis-mode shards|cluster] [--cpu C]
#                       [--protocol saga|2pc] [--namespace NS] [--values FILE]
#   gke-scale/deploy.sh --down [--namespace NS]
#
# It installs ingress-nginx, installs or upgrades the chart in k8s/ with gke/values.yaml and these
# numbers, waits until everything is ready (a cluster formed), and prints the external address.
# With --redis-mode cluster, N is each Redis Cluster's masters (at least 3), and N may grow on a
# running release: new masters join and take slots while it serves.
set -euo pipefail

shards=""
replicas=""
cpu=""
protocol=""
mode="shards"
namespace="shardshop"
values="gke/values.yaml"
down=false
release="shop"

usage() {
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --shards) shards="$2"; shift 2 ;;
    --replicas) replicas="$2"; shift 2 ;;
    --cpu) cpu="$2"; shift 2 ;;
    --protocol) protocol="$2"; shift 2 ;;
    --redis-mode) mode="$2"; shift 2 ;;
    --namespace) namespace="$2"; shift 2 ;;
    --values) values="$2"; shift 2 ;;
    --down) down=true; shift ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument: $1" >&2; usage 1 ;;
  esac
done

cd "$(dirname "$0")/.."
for tool in kubectl helm; do
  command -v "$tool" >/dev/null || { echo "$tool is required on PATH" >&2; exit 1; }
done

if $down; then
  helm uninstall "$release" --namespace "$namespace" --wait || true
  helm uninstall ingress-nginx --namespace ingress-nginx --wait || true
  # Redis data lives on PersistentVolumeClaims, which helm keeps; --down means remove it all.
  kubectl delete pvc --namespace "$namespace" -l "app.kubernetes.io/instance=$release" --ignore-not-found
  kubectl delete namespace "$namespace" --ignore-not-found
  echo "removed"
  exit 0
fi

is_count() { [[ "$1" =~ ^[1-9][0-9]*$ ]]; }
is_count "$shards" || { echo "--shards N (a positive integer) is required" >&2; exit 1; }
is_count "$replicas" || { echo "--replicas M (a positive integer) is required" >&2; exit 1; }
if [ -n "$cpu" ] && ! [[ "$cpu" =~ ^[0-9]+(\.[0-9]+|m)?$ ]]; then
  echo "--cpu takes a Kubernetes CPU quantity, e.g. 1, 0.5 or 500m" >&2
  exit 1
fi

case "$mode" in
  shards) ;;
  cluster) [ "$shards" -ge 3 ] || { echo "--redis-mode cluster needs --shards of at least 3 masters" >&2; exit 1; } ;;
  *) echo "--redis-mode takes shards or cluster" >&2; exit 1 ;;
esac

# Shards mode routes ids by the shard count, so it cannot change under existing data; a cluster
# can take more masters (its slots move), never fewer. Neither mode turns into the other.
current_values=$(helm get values "$release" --namespace "$namespace" --all --output json 2>/dev/null || true)
current=$(echo "$current_values" | sed -n 's/.*"shards":\([0-9]*\).*/\1/p' | head -n 1)
current_mode=$(echo "$current_values" | sed -n 's/.*"mode":"\([a-z]*\)".*/\1/p' | head -n 1)
if [ -n "$current" ]; then
  if [ "${current_mode:-shards}" != "$mode" ]; then
    echo "release $release keeps its data in $current_mode mode; it cannot move to $mode mode in place." >&2
    echo "Run with --down first to start empty." >&2
    exit 1
  fi
  if { [ "$mode" = shards ] && [ "$current" != "$shards" ]; } || { [ "$mode" = cluster ] && [ "$shards" -lt "$current" ]; }; then
    echo "release $release runs $current shard(s); changing to $shards would misroute or drop existing data." >&2
    echo "Run with --down first to start empty." >&2
    exit 1
  fi
fi

echo "installing ingress-nginx"
helm upgrade --install ingress-nginx ingress-nginx \
  --repo https://kubernetes.github.io/ingress-nginx \
  --namespace ingress-nginx --create-namespace --wait --timeout 10m

settings=(
  --set "redis.mode=$mode"
  --set "redis.shards=$shards"
  --set "services.replicas=$replicas"
  --set "autoscaling.minReplicas=$replicas"
  --set "autoscaling.maxReplicas=$((replicas * 4))"
)
case "$protocol" in
  "") ;;
  saga|2pc) settings+=(--set "transactions.protocol=$protocol") ;;
  *) echo "--protocol takes saga or 2pc" >&2; exit 1 ;;
esac
if [ -n "$cpu" ]; then
  settings+=(--set "services.resources.limits.cpu=$cpu" --set "services.resources.requests.cpu=$cpu")
fi

# The namespace enforces the restricted Pod Security Standard, which every pod of the chart meets.
kubectl create namespace "$namespace" --dry-run=client -o yaml | kubectl apply -f -
kubectl label namespace "$namespace" --overwrite \
  pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/warn=restricted

echo "installing shardshop: $shards shard(s) ($mode mode) and $replicas replica(s) per service"
# --wait-for-jobs: in cluster mode, until each service's cluster is formed (or joined).
helm upgrade --install "$release" k8s \
  --namespace "$namespace" --create-namespace \
  -f "$values" "${settings[@]}" \
  --wait --wait-for-jobs --timeout 15m

for kind in statefulset deployment; do
  for name in $(kubectl get "$kind" --namespace "$namespace" -l "app.kubernetes.io/instance=$release" -o name); do
    kubectl rollout status --namespace "$namespace" "$name" --timeout 10m
  done
done

echo "waiting for the external address"
address=""
for _ in $(seq 1 120); do
  address=$(kubectl get service ingress-nginx-controller --namespace ingress-nginx \
    -o jsonpath='{.status.loadBalancer.ingress[0].ip}{.status.loadBalancer.ingress[0].hostname}')
  [ -n "$address" ] && break
  sleep 5
done
[ -n "$address" ] || { echo "no external address after 10 minutes" >&2; exit 1; }
echo "shardshop is ready at http://$address"
