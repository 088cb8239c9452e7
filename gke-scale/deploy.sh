#!/usr/bin/env bash
# Deploys shardshop on the current kubectl context (a GKE cluster) with N Redis shards and M
# instances per service, in one command:
#
#   gke-scale/deploy.sh --shards N --replicas M [--cpu C] [--protocol saga|2pc] [--namespace NS] [--values FILE]
#   gke-scale/deploy.sh --down [--namespace NS]
#
# It installs ingress-nginx, installs or upgrades the chart in k8s/ with gke/values.yaml and these
# numbers, waits until everything is ready, and prints the external address. Every address the
# services use is derived by the chart from N and M; nothing is edited by hand.
set -euo pipefail

shards=""
replicas=""
cpu=""
protocol=""
namespace="shardshop"
values="gke/values.yaml"
down=false
release="shop"

usage() {
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --shards) shards="$2"; shift 2 ;;
    --replicas) replicas="$2"; shift 2 ;;
    --cpu) cpu="$2"; shift 2 ;;
    --protocol) protocol="$2"; shift 2 ;;
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

# A different shard count routes ids to other shards: refuse to change it under existing data.
current=$(helm get values "$release" --namespace "$namespace" --all --output json 2>/dev/null |
  sed -n 's/.*"shards":\([0-9]*\).*/\1/p' | head -n 1 || true)
if [ -n "$current" ] && [ "$current" != "$shards" ]; then
  echo "release $release runs $current shard(s); changing to $shards would misroute existing data." >&2
  echo "Run with --down first to start empty." >&2
  exit 1
fi

echo "installing ingress-nginx"
helm upgrade --install ingress-nginx ingress-nginx \
  --repo https://kubernetes.github.io/ingress-nginx \
  --namespace ingress-nginx --create-namespace --wait --timeout 10m

settings=(
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

echo "installing shardshop: $shards shard(s) and $replicas replica(s) per service"
helm upgrade --install "$release" k8s \
  --namespace "$namespace" --create-namespace \
  -f "$values" "${settings[@]}" \
  --wait --timeout 15m

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
