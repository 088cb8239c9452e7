// The Docker deployment, checked offline: every compose file we generate (and the committed one)
// is valid for docker-compose, and its addresses agree with each other by construction.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { composeModel, instanceName, redisName, writeCompose } from "../deploy/compose.js";
import { SERVICES } from "../common/services.js";

/** promtool comes with Debian's `prometheus` package (.ci/run installs it). */
const promtool = (...args: string[]) => execFileSync("promtool", args, { encoding: "utf8" });
const compose = (dir: string, ...args: string[]) => execFileSync("docker-compose", args, { cwd: dir, encoding: "utf8" });

describe("docker compose", () => {
  it("the committed compose file and gateway config are the generator's output", () => {
    const dir = mkdtempSync(join(tmpdir(), "shardshop-compose-"));
    try {
      writeCompose(dir, 1, 1);
      expect(readFileSync("docker-compose.yml", "utf8")).toBe(readFileSync(join(dir, "docker-compose.yml"), "utf8"));
      for (const file of ["gateway/nginx.conf", "observability/prometheus.yml", "observability/grafana/dashboards/shardshop.json"]) {
        expect(readFileSync(file, "utf8"), file).toBe(readFileSync(join(dir, file), "utf8"));
      }
      compose(".", "config", "-q");
      compose(".", "--profile", "observability", "config", "-q");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [1, 1],
    [3, 2],
    [5, 3],
  ])("%i shard(s) x %i replica(s): valid, and every address agrees", (shards, replicas) => {
    const dir = mkdtempSync(join(tmpdir(), "shardshop-compose-"));
    try {
      writeCompose(dir, shards, replicas);
      compose(dir, "config", "-q");
      const listed = compose(dir, "--profile", "observability", "config", "--services").trim().split("\n").sort();
      const { compose: model, nginx, prometheus } = composeModel(shards, replicas);
      expect(listed).toEqual(Object.keys(model.services).sort());
      const observability = Object.keys(model.services).filter((n) => (model.services[n] as any).profiles?.includes("observability"));
      expect(observability.sort()).toEqual(["grafana", "jaeger", "prometheus", "redis-exporter"]);

      // Prometheus scrapes every service instance, and every shard through the exporter.
      const jobs = Object.fromEntries((prometheus as any).scrape_configs.map((j: any) => [j.job_name, j]));
      expect(jobs.shardshop.static_configs[0].targets.sort()).toEqual(
        SERVICES.flatMap((s) => Array.from({ length: replicas }, (_, r) => `${instanceName(s, r)}:8080`)).sort(),
      );
      expect(jobs.redis.static_configs[0].targets.sort()).toEqual(
        SERVICES.flatMap((s) => Array.from({ length: shards }, (_, i) => `redis://${redisName(s, i)}:6379`)).sort(),
      );
      expect(jobs.redis.relabel_configs.at(-1).replacement).toMatch(/^redis-exporter:/);

      for (const service of SERVICES) {
        const redis = Array.from({ length: shards }, (_, i) => redisName(service, i));
        for (let r = 0; r < replicas; r++) {
          const spec = model.services[instanceName(service, r)]! as any;
          expect(spec.environment.REDIS_ADDRS).toBe(redis.map((n) => `${n}:6379`).join(","));
          expect(spec.environment.MACHINE_ID).toBe(`${r}/${replicas}`);
          expect(spec.command).toEqual(["node", `dist/${service}/main.js`]);
          expect(spec.ports).toBeUndefined(); // only the gateway is published
          for (const dep of redis) expect(spec.depends_on[dep]).toEqual({ condition: "service_healthy" });
        }
        for (const name of redis) {
          const spec = model.services[name]! as any;
          expect(spec.command).toEqual(expect.arrayContaining(["--appendonly", "yes"]));
          expect(spec.volumes).toEqual([`${name}:/data`]);
          expect(model.volumes[name]).toBeDefined();
        }
        // The gateway balances over exactly this service's replicas.
        const upstream = new RegExp(`upstream ${service} \\{([^}]*)\\}`).exec(nginx)![1]!;
        expect([...upstream.matchAll(/server (\S+) /g)].map((m) => m[1])).toEqual(
          Array.from({ length: replicas }, (_, r) => `${instanceName(service, r)}:8080`),
        );
      }
      const order = model.services["order-0"]! as any;
      expect(order.environment.STOCK_SERVICE_URL).toBe(Array.from({ length: replicas }, (_, r) => `http://stock-${r}:8080`).join(","));
      for (const [name, spec] of Object.entries(model.services) as Array<[string, any]>) {
        expect(spec.restart, name).toBe("unless-stopped");
        if (!observability.includes(name)) expect(spec.healthcheck.test.length).toBeGreaterThan(1);
      }
      expect((model.services.gateway as any).ports).toEqual(["8000:80"]);
      expect(nginx).not.toMatch(/location \/internal/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("prometheus", () => {
  it("accepts the committed configuration and its alert rules", () => {
    expect(promtool("check", "config", "observability/prometheus.yml")).toMatch(/SUCCESS/);
  });

  it("fires each alert on its failure and stays quiet otherwise (promtool test rules)", () => {
    expect(promtool("test", "rules", "observability/alerts.test.yml")).toMatch(/SUCCESS/);
  });
});
