// The Docker deployment, checked offline: every compose file we generate (and the committed one)
// is valid for docker-compose, and its addresses agree with each other by construction.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  CLUSTER_FILES,
  clusterCommand,
  clusterLayout,
  clusterName,
  ComposeAddresses,
  composeModel,
  DEFAULT_REPLICAS,
  DEFAULT_SUBNET,
  filesForCpus,
  instanceName,
  redisName,
  uniformCommand,
  writeCompose,
} from "../deploy/compose.js";
import { layoutForCpus, uniformLayout } from "../deploy/sizing.js";
import { SERVICES } from "../common/services.js";

/** promtool comes with Debian's `prometheus` package (.ci/run installs it). */
const promtool = (...args: string[]) => execFileSync("promtool", args, { encoding: "utf8" });
const compose = (dir: string, ...args: string[]) => execFileSync("docker-compose", args, { cwd: dir, encoding: "utf8" });

describe("docker compose", () => {
  it("the committed compose file and gateway config are the generator's output", () => {
    const dir = mkdtempSync(join(tmpdir(), "shardshop-compose-"));
    try {
      writeCompose(dir, uniformLayout(1, DEFAULT_REPLICAS), uniformCommand(1, DEFAULT_REPLICAS));
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

  it("the committed profile for 20 CPUs is the generator's output, valid, and fits 20 CPUs", () => {
    const dir = mkdtempSync(join(tmpdir(), "shardshop-compose-"));
    try {
      const files = filesForCpus(20);
      const layout = layoutForCpus(20);
      writeCompose(dir, layout, "npm run compose -- --cpus 20", DEFAULT_SUBNET, files);
      for (const file of Object.values(files)) expect(readFileSync(file, "utf8"), file).toBe(readFileSync(join(dir, file), "utf8"));
      compose(".", "-f", files.compose, "config", "-q");
      compose(".", "-f", files.compose, "--profile", "observability", "config", "-q");
      const model = composeModel(layout, DEFAULT_SUBNET, files).compose;
      // Every container of the shop has a limit, and together they fit the budget (the secrets
      // container is done before the shop starts).
      const limited = Object.entries(model.services).filter(([name, spec]) => !(spec as any).profiles && name !== "secrets");
      const limits = limited.map(([name, spec]) => [name, (spec as any).cpus as number] as const);
      for (const [name, cpus] of limits) expect(cpus, name).toBeGreaterThan(0);
      expect(limits.reduce((sum, [, cpus]) => sum + cpus, 0)).toBeLessThanOrEqual(20);
      expect((model.services.gateway as any).volumes).toEqual([`./${files.nginx}:/etc/nginx/nginx.conf:ro`]);
      // Prometheus reads the profile's own targets, not the default layout's.
      expect((model.services.prometheus as any).volumes[0]).toBe(`./${files.prometheus}:/etc/prometheus/prometheus.yml:ro`);
      expect(readFileSync(files.prometheus, "utf8")).toContain(`${instanceName("order", layout.replicas.order - 1)}:8080`);
      expect(readFileSync(files.nginx, "utf8")).toContain(`worker_processes ${layout.gatewayWorkers};`);
      // The gateway balances over every order instance the layout has.
      expect(readFileSync(files.nginx, "utf8").match(/# order-\d+/g)).toHaveLength(layout.replicas.order);
      expect((model.services["order-0"] as any).environment.MACHINE_ID).toBe(`0/${layout.replicas.order}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the committed cluster profile is the generator's output, valid, and every service uses its own cluster", () => {
    const dir = mkdtempSync(join(tmpdir(), "shardshop-compose-"));
    try {
      const layout = clusterLayout(3, 1, DEFAULT_REPLICAS);
      writeCompose(dir, layout, clusterCommand(3, 1, DEFAULT_REPLICAS), DEFAULT_SUBNET, CLUSTER_FILES);
      for (const file of Object.values(CLUSTER_FILES)) expect(readFileSync(file, "utf8"), file).toBe(readFileSync(join(dir, file), "utf8"));
      compose(".", "-f", CLUSTER_FILES.compose, "config", "-q");
      const model = composeModel(layout, DEFAULT_SUBNET, CLUSTER_FILES).compose;
      const addresses = new ComposeAddresses();
      for (const service of SERVICES) {
        // Six cluster nodes, and the container that makes them one cluster of 3 masters with a replica each.
        const nodes = Array.from({ length: 6 }, (_, i) => redisName(service, i));
        for (const node of nodes) {
          const command = (model.services[node] as any).command.at(-1) as string;
          expect(command).toMatch(/--appendonly yes .*--cluster-enabled yes .*--masteruser replica --masterauth "\$\$\(cat \/acl\/replication-password\)"/);
        }
        const maker = (model.services[clusterName(service)] as any).command[2] as string;
        expect(maker).toContain(`--cluster create ${nodes.map((_, i) => `${addresses.redis(service, i)}:6379`).join(" ")} --cluster-replicas 1`);
        // Its instances wait for the cluster, and know every node.
        const instance = model.services[instanceName(service, 0)] as any;
        expect(instance.environment).toMatchObject({ REDIS_MODE: "cluster", REDIS_ADDRS: nodes.map((n) => `${n}:6379`).join(",") });
        expect(instance.depends_on[clusterName(service)]).toEqual({ condition: "service_healthy" });
      }
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
      writeCompose(dir, uniformLayout(shards, replicas), uniformCommand(shards, replicas));
      compose(dir, "config", "-q");
      const listed = compose(dir, "--profile", "observability", "config", "--services").trim().split("\n").sort();
      const { compose: model, nginx, prometheus } = composeModel(uniformLayout(shards, replicas));
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
          // Its own Redis user, and its keys from files only its volume holds; none inlined.
          expect(spec.environment.REDIS_USER).toBe(service);
          expect(spec.environment.REDIS_PASSWORD_FILE).toBe("/run/shardshop/redis-password");
          expect(spec.environment.INTERNAL_KEYS_FILE).toBe("/run/shardshop/internal-key");
          expect(Object.keys(spec.environment).filter((k) => /PASSWORD$|KEYS?$/.test(k))).toEqual([]);
          expect(spec.volumes).toEqual([`secrets-${service}:/run/shardshop:ro`]);
          expect(spec.depends_on.secrets).toEqual({ condition: "service_completed_successfully" });
        }
        for (const name of redis) {
          const spec = model.services[name]! as any;
          const command = spec.command.at(-1) as string;
          expect(command).toMatch(/^exec redis-server .*--appendonly yes .*--aclfile \/acl\/users.acl --maxmemory \d+mb --maxmemory-policy noeviction/);
          expect(spec.user).toBe("redis");
          // Its own service's ACL file, and no other's.
          expect(spec.volumes).toEqual([`${name}:/data`, `redis-acl-${service}:/acl:ro`]);
          expect(model.volumes[name]).toBeDefined();
        }
        // The gateway balances over exactly this service's replicas, at their fixed addresses.
        const upstream = new RegExp(`upstream ${service} \\{([^}]*)\\}`).exec(nginx)![1]!;
        const servers = [...upstream.matchAll(/server (\S+) .*# (\S+)/g)].map((m) => [m[1], m[2]]);
        expect(servers).toEqual(
          Array.from({ length: replicas }, (_, r) => {
            const name = instanceName(service, r);
            return [`${(model.services[name] as any).networks.default.ipv4_address}:8080`, name];
          }),
        );
      }
      const order = model.services["order-0"]! as any;
      expect(order.environment.STOCK_SERVICE_URL).toBe(Array.from({ length: replicas }, (_, r) => `http://stock-${r}:8080`).join(","));
      for (const [name, spec] of Object.entries(model.services) as Array<[string, any]>) {
        // The secrets container runs once per `up`; everything else stays up.
        expect(spec.restart, name).toBe(name === "secrets" ? "no" : "unless-stopped");
        if (!observability.includes(name) && name !== "secrets") expect(spec.healthcheck.test.length, name).toBeGreaterThan(1);
        if (observability.includes(name)) {
          // Published, if at all, on this machine only.
          for (const port of spec.ports ?? []) expect(port, name).toMatch(/^127\.0\.0\.1:/);
          continue;
        }
        // Hardened: nothing to write in the image, no capability it does not need, no way to gain one.
        expect([spec.read_only, spec.cap_drop, spec.security_opt], name).toEqual([true, ["ALL"], ["no-new-privileges:true"]]);
        expect(spec.mem_limit, name).toMatch(/^\d+m$/);
        expect(spec.privileged, name).toBeUndefined();
      }
      expect((model.services.gateway as any).ports).toEqual(["${GATEWAY_PORT:-8000}:80"]);
      expect((model.services.prometheus as any).command.join(" ")).not.toMatch(/lifecycle/);
      expect(JSON.stringify(model.services.grafana)).not.toMatch(/ANONYMOUS_ENABLED":"true"|admin\/admin/);

      // Every container but the watchdog and the observability ones has its own fixed address,
      // inside the subnet and outside the range Docker hands out by itself.
      const fixed = Object.entries(model.services)
        .filter(([name]) => !["watchdog", "engine-filter", "secrets"].includes(name) && !observability.includes(name))
        .map(([, spec]) => (spec as any).networks.default.ipv4_address as string);
      expect(fixed).toHaveLength(1 + 3 * (replicas + shards));
      expect(new Set(fixed).size).toBe(fixed.length);
      const [ipam] = (model.networks.default as any).ipam.config;
      expect(ipam).toEqual({ subnet: DEFAULT_SUBNET, ip_range: "172.28.58.0/23" });
      for (const address of fixed) expect(address).toMatch(/^172\.28\.5[67]\.\d+$/);

      // The gateway's health check asks each public prefix for its service's page, by name.
      const probe = (model.services.gateway as any).healthcheck.test.at(-1) as string;
      for (const [prefix, service] of [["/orders", "order"], ["/stock", "stock"], ["/payment", "payment"]]) {
        expect(probe).toContain(`GET ${prefix}/docs `);
        expect(probe).toContain(`<title>shardshop ${service} API</title>`);
      }
      // The watchdog runs from its own image, without the shop's npm packages, as a plain user,
      // and reaches the engine only through the filter, on a network nothing else is on.
      const watchdog = model.services.watchdog as any;
      expect([watchdog.command, watchdog.build.target, watchdog.user, watchdog.volumes]).toEqual([["node", "watchdog.mjs"], "watchdog", "node", undefined]);
      expect(watchdog.networks).toEqual(["engine"]);
      const filter = model.services["engine-filter"] as any;
      expect(filter.networks).toEqual(["engine"]);
      expect((model.networks as any).engine).toEqual({ internal: true });
      const onEngine = Object.entries(model.services).filter(([, spec]) => JSON.stringify((spec as any).networks ?? {}).includes("engine"));
      expect(onEngine.map(([name]) => name).sort()).toEqual(["engine-filter", "watchdog"]);
      const withSocket = Object.entries(model.services).filter(([, spec]) => JSON.stringify((spec as any).volumes ?? []).includes("docker.sock"));
      expect(withSocket.map(([name]) => name)).toEqual(["engine-filter"]);
      expect(nginx).not.toMatch(/location \/internal/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("compose addresses", () => {
  it("place every container of the largest layout apart, for any /22", () => {
    const addresses = new ComposeAddresses("10.1.4.0/22");
    const all = [
      addresses.gateway,
      ...SERVICES.flatMap((s) => Array.from({ length: 32 }, (_, r) => addresses.instance(s, r))),
      ...SERVICES.flatMap((s) => Array.from({ length: 64 }, (_, i) => addresses.redis(s, i))),
    ];
    expect(new Set(all).size).toBe(all.length);
    for (const a of all) expect(a).toMatch(/^10\.1\.[45]\.\d+$/);
    expect(addresses.dynamicRange).toBe("10.1.6.0/23");
  });

  it.each(["10.1.5.0/22", "10.1.4.0/24", "300.1.4.0/22", "not a subnet"])("refuse %s", (subnet) => {
    expect(() => new ComposeAddresses(subnet)).toThrow(/\/22/);
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
