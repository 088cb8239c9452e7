// The observability profile's Prometheus configuration and alert rules, run for real: Debian's
// Prometheus server and Redis exporter scrape a local stack with the files the compose generator
// writes (rendered for local targets; the test's copy of the rules waits seconds, not minutes).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { renderPrometheusConfig } from "../deploy/observability.js";
import { METRICS_USER } from "../deploy/redis-acl.js";
import { Component, freePort } from "../local/stack.js";
import { shop, startTestStack, waitFor, type TestStack } from "./helpers.js";

let stack: TestStack;
let prometheus: Component;
let exporter: Component;

const answers = (url: string) => () => fetch(url).then((r) => r.ok, () => false);

beforeAll(async () => {
  // A scrape pings every shard; one of a killed shard fails within REDIS_TIMEOUT_MS, which must stay
  // well inside the scrape timeout on a busy machine, or the series goes stale and the alert that
  // waits on it flaps between pending and inactive.
  stack = await startTestStack({ shards: 2, env: { REDIS_TIMEOUT_MS: "500" } });
  const dir = join(stack.dataDir, "prometheus");
  mkdirSync(dir, { recursive: true });

  // The rules as committed, with every `for:` cut to 4 s, so pending and firing happen within the
  // test, and each alert stays pending long enough to be seen so on a busy machine.
  const rules = parse(readFileSync("observability/alerts.yml", "utf8"));
  for (const group of rules.groups) for (const rule of group.rules) if (rule.for) rule.for = "4s";
  writeFileSync(join(dir, "alerts.yml"), stringify(rules));

  const exporterPort = await freePort();
  exporter = new Component("redis-exporter", exporterPort, "prometheus-redis-exporter", [`--web.listen-address=127.0.0.1:${exporterPort}`, "--redis.user", METRICS_USER, "--redis.password", stack.secrets.redisMetrics],
    {}, answers(`http://127.0.0.1:${exporterPort}/health`), join(stack.dataDir, "redis-exporter.log"));
  await exporter.start();

  const config = renderPrometheusConfig({
    services: stack.all().filter((c) => !c.name.includes("redis")).map((c) => `127.0.0.1:${c.port}`),
    redis: stack.all().filter((c) => c.name.includes("redis")).map((c) => `127.0.0.1:${c.port}`),
    exporter: `127.0.0.1:${exporterPort}`,
  }) as { global: Record<string, string> };
  config.global = { scrape_interval: "2s", scrape_timeout: "2s", evaluation_interval: "1s" };
  writeFileSync(join(dir, "prometheus.yml"), stringify(config));

  const port = await freePort();
  prometheus = new Component("prometheus", port, "prometheus", [
    `--config.file=${join(dir, "prometheus.yml")}`,
    `--storage.tsdb.path=${join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ], {}, answers(`http://127.0.0.1:${port}/-/ready`), join(stack.dataDir, "prometheus.log"));
  await prometheus.start();
});

afterAll(async () => {
  await prometheus?.stop();
  await exporter?.stop();
  await stack?.teardown();
});

async function api<T>(path: string): Promise<T> {
  const body = (await (await fetch(`${prometheus.url}/api/v1/${path}`)).json()) as { status: string; data: T };
  expect(body.status).toBe("success");
  return body.data;
}

/** The value of an instant query with a single-number answer (0 when it has no series). */
async function scalar(query: string): Promise<number> {
  const data = await api<{ result: Array<{ value: [number, string] }> }>(`query?query=${encodeURIComponent(query)}`);
  return data.result.length === 0 ? 0 : Number(data.result[0]!.value[1]);
}

type Alert = { labels: Record<string, string>; state: "pending" | "firing" };
const alertStates = async (name: string) =>
  (await api<{ alerts: Alert[] }>("alerts")).alerts.filter((a) => a.labels.alertname === name);

describe("prometheus against the local stack", () => {
  it("scrapes every service instance and, through the exporter, every Redis shard", async () => {
    type Target = { labels: { job: string; instance: string }; health: string };
    const targets = await waitFor("every target up", async () => {
      const { activeTargets } = await api<{ activeTargets: Target[] }>("targets");
      return activeTargets.length === 9 && activeTargets.every((t) => t.health === "up") && activeTargets;
    });
    const serviceTargets = targets.filter((t) => t.labels.job === "shardshop").map((t) => t.labels.instance).sort();
    expect(serviceTargets).toEqual(["order", "stock", "payment"].map((s) => `127.0.0.1:${stack.services[s as "order"][0]!.port}`).sort());
    expect(targets.filter((t) => t.labels.job === "redis")).toHaveLength(6);
    expect(await scalar("sum(redis_up)")).toBe(6);
  });

  it("sees a checkout move the committed counter", async () => {
    const fx = shop(stack.api);
    const committed = 'sum(shardshop_checkout_duration_seconds_count{service="order", outcome="committed"})';
    const before = await scalar(committed);
    const order = await fx.order(await fx.user(10), [[await fx.item(3, 5), 2]]);
    expect((await stack.api.post(`/orders/checkout/${order}`)).status).toBe(200);
    await waitFor("the checkout in Prometheus", async () => (await scalar(committed)) === before + 1);
  });

  it("raises RedisShardUnreachable, pending then firing, when a shard is killed, for that shard only", async () => {
    expect(await alertStates("RedisShardUnreachable")).toEqual([]);
    const shard = stack.redis.stock[1]!;
    await shard.stop("SIGKILL");
    try {
      const pending = await waitFor("the alert pending", async () => (await alertStates("RedisShardUnreachable")).find((a) => a.state === "pending"));
      expect(pending.labels).toMatchObject({ service: "stock", shard: "1", severity: "critical" });
      const firing = await waitFor("the alert firing", async () => (await alertStates("RedisShardUnreachable")).find((a) => a.state === "firing"));
      expect(firing.labels).toMatchObject({ service: "stock", shard: "1" });
      expect((await alertStates("RedisShardUnreachable")).map((a) => a.labels.shard)).toEqual(["1"]);
      // The exporter sees the same Redis down.
      await waitFor("the exporter's alert", async () => (await alertStates("RedisExporterTargetDown")).length === 1);
    } finally {
      await shard.start();
    }
    await waitFor("the alert resolved", async () => (await alertStates("RedisShardUnreachable")).length === 0);
  });
});
