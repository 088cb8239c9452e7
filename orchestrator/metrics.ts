// The engine's metrics, made by a factory on the host's registry: calls to participants by phase,
// retries, breakers, batch sizes, recoveries. Names are `<prefix><metric>` unless the host gives
// its own (e.g. names its dashboards already use).
import client, { type Registry } from "prom-client";

/** Seconds; from a call answered within a millisecond to one that waits out a participant's restart. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

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
 * observation, which on a hot path costs more than metrics may take. It is served by prom-client's
 * registry, in its format, like any other metric.
 */
export class FastHistogram<Label extends string> {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly series = new Map<string, Recorder>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly Label[],
    registry: Registry,
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

export const elapsedSeconds = (startMs: number) => (performance.now() - startMs) / 1000;

/** The engine's metrics, by what they measure. */
export interface EngineMetricNames {
  /** Histogram: calls to a participant by phase name and result, with their latency. */
  callDuration: string;
  /** Counter: calls to a participant sent again after a failure. */
  callRetries: string;
  /** Gauge: each participant's circuit breaker. */
  breakerState: string;
  /** Histogram: tries or cancels sent to a participant in one request. */
  batchSize: string;
  /** Counter: transactions whose driver was gone, finished by the recovery sweep. */
  recoveries: string;
}

export interface EngineMetricsOptions {
  /** Where the metrics are served from (prom-client's default registry, `client.register`, is usual). */
  registry: Registry;
  /** Before every default name, e.g. `myshop_`; `tx_` when omitted. */
  prefix?: string;
  /** Names of the host's own for some metrics (e.g. what existing dashboards query). */
  names?: Partial<EngineMetricNames>;
}

export type EngineMetrics = ReturnType<typeof engineMetrics>;

/** Makes and registers the engine's metrics; pass the result to the engine and the HTTP transport. */
export function engineMetrics({ registry, prefix = "tx_", names = {} }: EngineMetricsOptions) {
  const name = (key: keyof EngineMetricNames, fallback: string) => names[key] ?? `${prefix}${fallback}`;
  return {
    callDuration: new FastHistogram(
      name("callDuration", "participant_call_duration_seconds"),
      "Calls to a participant by phase (step) and result (done, refused, invalid, unknown, not_sent), with their latency",
      ["participant", "step", "result"],
      registry,
    ),
    callRetries: new client.Counter({
      name: name("callRetries", "participant_call_retries_total"),
      help: "Calls to a participant sent again after a failure (every call retried is idempotent)",
      labelNames: ["participant"] as const,
      registers: [registry],
    }),
    breakerState: new client.Gauge({
      name: name("breakerState", "circuit_breaker_state"),
      help: "Per-participant circuit breaker: 0 closed, 1 open (failing fast), 2 half-open (probing)",
      labelNames: ["participant"] as const,
      registers: [registry],
    }),
    batchSize: new client.Histogram({
      name: name("batchSize", "participant_batch_size"),
      help: "Tries or cancels sent to a participant in one request (coalesced in one event-loop turn)",
      labelNames: ["participant", "step"] as const,
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers: [registry],
    }),
    recoveries: new client.Counter({
      name: name("recoveries", "recoveries_total"),
      help: "Transactions whose driver was gone, finished by this instance's recovery sweep",
      registers: [registry],
    }),
  };
}

/** Metrics on a registry of their own, which nothing serves: for an engine run without metrics. */
export const unservedMetrics = () => engineMetrics({ registry: new client.Registry() });
