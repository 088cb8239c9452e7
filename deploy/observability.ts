// The observability profile of the compose deployment: Prometheus's scrape configuration (derived,
// like everything else in compose.ts, from the shard and replica counts) and the Grafana dashboard.
// The alert rules and Grafana's provisioning files are static, in observability/.

export interface ScrapeTargets {
  /** host:port of every service instance. */
  services: string[];
  /** host:port of every Redis shard, scraped through the exporter. */
  redis: string[];
  /** host:port of the Redis exporter. */
  exporter: string;
}

export function renderPrometheusConfig({ services, redis, exporter }: ScrapeTargets): object {
  return {
    global: { scrape_interval: "5s", evaluation_interval: "5s" },
    rule_files: ["alerts.yml"],
    scrape_configs: [
      // Each service labels its own series with `service` and `machine`.
      { job_name: "shardshop", metrics_path: "/metrics", static_configs: [{ targets: services }] },
      {
        // The exporter's multi-target mode: one exporter, one scrape per shard.
        job_name: "redis",
        metrics_path: "/scrape",
        static_configs: [{ targets: redis.map((r) => `redis://${r}`) }],
        relabel_configs: [
          { source_labels: ["__address__"], target_label: "__param_target" },
          { source_labels: ["__param_target"], target_label: "instance" },
          { target_label: "__address__", replacement: exporter },
        ],
      },
    ],
  };
}

type Panel = { title: string; unit: string; targets: Array<[legend: string, expr: string]> };

const rate = (metric: string, by: string, filter = "") => `sum by (${by}) (rate(${metric}${filter}[1m]))`;
const quantile = (q: number, metric: string, by: string, filter = "") =>
  `histogram_quantile(${q}, sum by (le${by ? `, ${by}` : ""}) (rate(${metric}_bucket${filter}[1m])))`;

/** Rows of two panels: the checkout flow first, then the saga, Redis, and the processes. */
export const DASHBOARD_PANELS: Panel[] = [
  { title: "Checkouts/s by outcome", unit: "reqps", targets: [["{{outcome}}", rate("shardshop_checkout_duration_seconds_count", "outcome")]] },
  {
    title: "Aborted and rejected checkouts/s by reason",
    unit: "reqps",
    targets: [["{{outcome}}: {{reason}}", rate("shardshop_checkout_duration_seconds_count", "outcome, reason", '{outcome=~"aborted|rejected"}')]],
  },
  {
    title: "Committed checkout latency",
    unit: "s",
    targets: [
      ["p50", quantile(0.5, "shardshop_checkout_duration_seconds", "", '{outcome="committed"}')],
      ["p99", quantile(0.99, "shardshop_checkout_duration_seconds", "", '{outcome="committed"}')],
    ],
  },
  {
    title: "HTTP p99 by service and route",
    unit: "s",
    targets: [["{{service}} {{route}}", quantile(0.99, "shardshop_http_request_duration_seconds", "service, route")]],
  },
  {
    title: "Saga step p99 by participant",
    unit: "s",
    targets: [["{{participant}} {{step}}", quantile(0.99, "shardshop_saga_step_duration_seconds", "participant, step")]],
  },
  {
    title: "Circuit breakers (0 closed, 1 open, 2 half-open) and checkouts in flight",
    unit: "short",
    targets: [
      ["breaker {{participant}}", "max by (participant) (shardshop_circuit_breaker_state)"],
      ["in flight", "sum(shardshop_checkouts_in_flight)"],
    ],
  },
  {
    title: "Saga recovery backlog",
    unit: "short",
    targets: [
      ["{{state}} transactions", "sum by (state) (max by (shard, state) (shardshop_checkout_transactions))"],
      ["recoveries/s", "sum(rate(shardshop_checkout_recoveries_total[1m]))"],
    ],
  },
  {
    title: "Redis p99 by service and shard",
    unit: "s",
    targets: [["{{service}} shard {{shard}}", quantile(0.99, "shardshop_redis_command_duration_seconds", "service, shard")]],
  },
  {
    title: "Redis errors/s by service and shard",
    unit: "short",
    targets: [
      ["{{service}} shard {{shard}} {{kind}}", rate("shardshop_redis_command_errors_total", "service, shard, kind")],
      ["{{service}} shard {{shard}} down", "min by (service, shard) (shardshop_redis_shard_up) == 0"],
    ],
  },
  {
    title: "Redis servers: commands/s and memory",
    unit: "short",
    targets: [
      ["{{instance}} commands/s", "sum by (instance) (rate(redis_commands_processed_total[1m]))"],
      ["{{instance}} MB used", "redis_memory_used_bytes / 1e6"],
    ],
  },
  { title: "Process CPU (cores)", unit: "short", targets: [["{{service}} {{machine}}", rate("process_cpu_seconds_total", "service, machine")]] },
  {
    title: "Process memory and event loop lag",
    unit: "bytes",
    targets: [
      ["{{service}} {{machine}} RSS", "process_resident_memory_bytes"],
      ["{{service}} {{machine}} heap", "nodejs_heap_size_used_bytes"],
    ],
  },
];

export function renderDashboard(panels = DASHBOARD_PANELS): object {
  const datasource = { type: "prometheus", uid: "prometheus" };
  return {
    uid: "shardshop",
    title: "shardshop",
    tags: ["shardshop"],
    timezone: "browser",
    refresh: "10s",
    time: { from: "now-30m", to: "now" },
    schemaVersion: 39,
    panels: panels.map((panel, i) => ({
      id: i + 1,
      type: "timeseries",
      title: panel.title,
      datasource,
      gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
      fieldConfig: { defaults: { unit: panel.unit }, overrides: [] },
      targets: panel.targets.map(([legendFormat, expr], j) => ({ refId: String.fromCharCode(65 + j), datasource, expr, legendFormat })),
    })),
  };
}
