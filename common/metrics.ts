// Prometheus metrics shared by the three services: HTTP requests, Redis calls per shard, and the
// process defaults. One service runs per process, so prom-client's default registry is the
// service's registry; `GET /metrics` (never routed by a gateway) serves it.
import client from "prom-client";
import type { Shards } from "./redis.js";

export const registry = client.register;

/** Seconds; from a cached find (~1 ms) to a checkout that waits out a participant's timeout. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Process metrics (CPU, memory, event loop, GC) and a `service` label on every series. */
export function startProcessMetrics(service: string, machineId: string): void {
  registry.setDefaultLabels({ service, machine: machineId });
  client.collectDefaultMetrics({ register: registry });
}

/** One label set's series of a `FastHistogram`. */
export class Recorder {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Record<string, string>,
    private readonly buckets: readonly number[],
  ) {
    this.counts = buckets.map(() => 0);
  }

  observe(seconds: number): void {
    this.sum += seconds;
    this.count++;
    const i = this.buckets.findIndex((le) => seconds <= le);
    if (i >= 0) this.counts[i]!++;
  }
}

/**
 * A Prometheus histogram whose label sets are resolved once: `recorder(...)` hands back one
 * whose `observe` only adds. prom-client's own Histogram validates and hashes the labels on every
 * observation; on the checkout path (ten observations across the services) that cost more than
 * the few percent of throughput metrics may take. It is served by prom-client's registry, in its
 * format, like any other metric.
 */
export class FastHistogram<Label extends string> {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly series = new Map<string, Recorder>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly Label[],
    private readonly buckets: readonly number[] = LATENCY_BUCKETS,
  ) {
    registry.registerMetric(this as unknown as client.Metric);
  }

  /** The recorder of one label set (values in `labelNames` order), made on first use. */
  recorder(...values: string[]): Recorder {
    const key = values.join("\u0000");
    let recorder = this.series.get(key);
    if (recorder === undefined) {
      const labels = Object.fromEntries(this.labelNames.map((name, i) => [name, values[i] ?? ""]));
      this.series.set(key, (recorder = new Recorder(labels, this.buckets)));
    }
    return recorder;
  }

  observe(labels: Record<Label, string>, seconds: number): void {
    this.recorder(...this.labelNames.map((name) => labels[name])).observe(seconds);
  }

  /** prom-client's metric interface: the samples, with cumulative buckets. */
  get() {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const { labels, counts, sum, count } of this.series.values()) {
      let cumulative = 0;
      counts.forEach((n, i) => {
        cumulative += n;
        values.push({ labels: { ...labels, le: this.buckets[i]! }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...labels, le: "+Inf" }, value: count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.series.clear();
  }
}

export const httpRequestDuration = new FastHistogram(
  "shardshop_http_request_duration_seconds",
  "HTTP requests by method, route template and status, with their latency",
  ["method", "route", "status"],
);

export const redisCommandDuration = new FastHistogram(
  "shardshop_redis_command_duration_seconds",
  "Redis calls (Lua scripts and plain reads) by shard and name, with their latency",
  ["shard", "command"],
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

export const elapsedSeconds = (startMs: number) => (performance.now() - startMs) / 1000;
