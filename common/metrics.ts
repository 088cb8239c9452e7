// Prometheus metrics shared by the three services: HTTP requests, Redis calls per shard, and the
// process defaults. One service runs per process, so prom-client's default registry is the
// service's registry; `GET /metrics` (never routed by a gateway) serves it.
import client from "prom-client";
import type { Shards } from "./redis.js";

export const registry = client.register;

/** Seconds; from a cached find (~1 ms) to a checkout that waits out a participant's timeout. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Process metrics (CPU, memory, event loop, GC) and a `service` label on every series. */
export function startProcessMetrics(service: string, machineId: string): void {
  registry.setDefaultLabels({ service, machine: machineId });
  client.collectDefaultMetrics({ register: registry });
}

export const httpRequestDuration = new client.Histogram({
  name: "shardshop_http_request_duration_seconds",
  help: "HTTP requests by method, route template and status, with their latency",
  labelNames: ["method", "route", "status"] as const,
  buckets: LATENCY_BUCKETS,
});

export const redisCommandDuration = new client.Histogram({
  name: "shardshop_redis_command_duration_seconds",
  help: "Redis calls (Lua scripts and plain reads) by shard and name, with their latency",
  labelNames: ["shard", "command"] as const,
  buckets: LATENCY_BUCKETS,
});

export const redisCommandErrors = new client.Counter({
  name: "shardshop_redis_command_errors_total",
  help: "Failed Redis calls by shard, name and kind (unknown_outcome: no answer, it may have run)",
  labelNames: ["shard", "command", "kind"] as const,
});

/** Whether each of the service's shards answers PING, checked at scrape time. */
export function trackShardHealth(shards: Shards): void {
  new client.Gauge({
    name: "shardshop_redis_shard_up",
    help: "1 when the Redis shard answers PING from this instance, else 0",
    labelNames: ["shard"] as const,
    async collect() {
      const answers = await shards.pingEach();
      answers.forEach((up, shard) => this.set({ shard: String(shard) }, up ? 1 : 0));
    },
  });
}

export const elapsedSeconds = (startMs: number) => (performance.now() - startMs) / 1000;
