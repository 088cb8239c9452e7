// Prometheus metrics shared by the three services: HTTP requests, Redis calls per shard, and the
// process defaults. One service runs per process, so prom-client's default registry is the
// service's registry; `GET /metrics` (never routed by a gateway) serves it.
import { FastHistogram } from "@shardshop/orchestrator";
import client from "prom-client";
import type { Shards } from "./redis.js";

export const registry = client.register;

/** Process metrics (CPU, memory, event loop, GC) and a `service` label on every series. */
export function startProcessMetrics(service: string, machineId: string): void {
  registry.setDefaultLabels({ service, machine: machineId });
  client.collectDefaultMetrics({ register: registry });
}

export const httpRequestDuration = new FastHistogram(
  "shardshop_http_request_duration_seconds",
  "HTTP requests by method, route template and status, with their latency",
  ["method", "route", "status"],
  registry,
);

export const redisCommandDuration = new FastHistogram(
  "shardshop_redis_command_duration_seconds",
  "Redis calls (Lua scripts and plain reads) by shard and name, with their latency",
  ["shard", "command"],
  registry,
);

export const redisCommandErrors = new client.Counter({
  name: "shardshop_redis_command_errors_total",
  help: "Failed Redis calls by shard, name and kind (unknown_outcome: no answer, it may have run; unavailable: refused unrun, e.g. while loading)",
  labelNames: ["shard", "command", "kind"] as const,
});

export const writesBelowReplicaTarget = new client.Counter({
  name: "shardshop_redis_writes_below_replica_target_total",
  help: "Cluster mode: writes acknowledged with fewer replicas than REDIS_MIN_REPLICAS_ACKED because the node had fewer keeping up (a replica down or stalled), by node",
  labelNames: ["shard"] as const,
});

export const internalAuthRefusals = new client.Counter({
  name: "shardshop_internal_auth_refusals_total",
  help: "Calls to internal routes refused for want of a valid credential, by reason (missing, malformed, stale, bad_signature, replayed); nothing was run for them",
  labelNames: ["reason"] as const,
});

/** Whether each of the service's shards answers PING, checked at scrape time. */
export function trackShardHealth(shards: Shards): void {
  new client.Gauge({
    name: "shardshop_redis_shard_up",
    help: "1 when the Redis shard (in cluster mode, the master at this address) answers PING from this instance, else 0",
    labelNames: ["shard"] as const,
    async collect() {
      this.reset();
      for (const [shard, up] of await shards.pingEach()) this.set({ shard }, up ? 1 : 0);
    },
  });
}
