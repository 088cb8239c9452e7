// `npm run compose [-- --shards N --replicas M]`: writes docker-compose.yml and gateway/nginx.conf
// for N Redis shards and M instances per service. Every address is derived from N and M here, so
// REDIS_ADDRS, MACHINE_ID, the service URLs and the gateway's upstreams agree by construction.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { helpFromHeader, isMain, parseArgs } from "../tools/cli.js";
import { renderNginxConfig } from "./nginx.js";
import { renderDashboard, renderPrometheusConfig } from "./observability.js";
import { SERVICES, type Service } from "../common/services.js";

type Yaml = string | number | boolean | Yaml[] | { [key: string]: Yaml };

/** Enough YAML for a compose file: maps, lists, and scalars written as JSON (valid YAML). */
export function toYaml(value: Yaml, indent = 0): string {
  const pad = " ".repeat(indent);
  if (Array.isArray(value)) {
    return value.map((v) => (typeof v === "object" ? `${pad}-\n${toYaml(v, indent + 2)}` : `${pad}- ${JSON.stringify(v)}`)).join("\n");
  }
  if (typeof value === "object") {
    return Object.entries(value)
      .map(([k, v]) =>
        typeof v === "object" && (Array.isArray(v) ? v.length > 0 : Object.keys(v).length > 0)
          ? `${pad}${k}:\n${toYaml(v, indent + 2)}`
          : `${pad}${k}: ${typeof v === "object" ? (Array.isArray(v) ? "[]" : "{}") : JSON.stringify(v)}`,
      )
      .join("\n");
  }
  return `${pad}${JSON.stringify(value)}`;
}

const SERVICE_PORT = 8080;
const healthy = { condition: "service_healthy" };
const check = (test: string[]) => ({ test, interval: "5s", timeout: "3s", retries: 20, start_period: "5s" });

export const redisName = (service: Service, shard: number) => `redis-${service}-${shard}`;
export const instanceName = (service: Service, replica: number) => `${service}-${replica}`;

export interface ComposeModel {
  compose: { services: Record<string, Record<string, Yaml>>; volumes: Record<string, Yaml> };
  nginx: string;
  prometheus: object;
}

const OBSERVABILITY = ["observability"];
const EXPORTER_PORT = 9121;

/** Prometheus, the Redis exporter, Grafana and Jaeger: started only with `--profile observability`. */
function observabilityServices(): Record<string, Record<string, Yaml>> {
  return {
    "redis-exporter": {
      image: "oliver006/redis_exporter:v1.67.0",
      profiles: OBSERVABILITY,
      restart: "unless-stopped",
    },
    prometheus: {
      image: "prom/prometheus:v2.55.1",
      profiles: OBSERVABILITY,
      command: ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.retention.time=2d", "--web.enable-lifecycle"],
      volumes: ["./observability/prometheus.yml:/etc/prometheus/prometheus.yml:ro", "./observability/alerts.yml:/etc/prometheus/alerts.yml:ro"],
      ports: ["9090:9090"],
      restart: "unless-stopped",
    },
    grafana: {
      image: "grafana/grafana:11.3.0",
      profiles: OBSERVABILITY,
      environment: { GF_AUTH_ANONYMOUS_ENABLED: "true", GF_AUTH_ANONYMOUS_ORG_ROLE: "Viewer" },
      volumes: ["./observability/grafana/provisioning:/etc/grafana/provisioning:ro", "./observability/grafana/dashboards:/var/lib/grafana/dashboards:ro"],
      ports: ["3000:3000"],
      depends_on: ["prometheus"],
      restart: "unless-stopped",
    },
    jaeger: {
      image: "jaegertracing/all-in-one:1.62.0",
      profiles: OBSERVABILITY,
      environment: { COLLECTOR_OTLP_ENABLED: "true" },
      ports: ["16686:16686"],
      restart: "unless-stopped",
    },
  };
}

export function composeModel(shards: number, replicas: number): ComposeModel {
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const instances = (s: Service) => range(replicas).map((r) => instanceName(s, r));
  const urls = (s: Service) => instances(s).map((name) => `http://${name}:${SERVICE_PORT}`).join(",");
  const services: Record<string, Record<string, Yaml>> = {};
  const volumes: Record<string, Yaml> = {};

  const nginx = renderNginxConfig({
    listen: ["80"],
    upstreams: {
      order: instances("order").map((n) => `${n}:${SERVICE_PORT}`),
      stock: instances("stock").map((n) => `${n}:${SERVICE_PORT}`),
      payment: instances("payment").map((n) => `${n}:${SERVICE_PORT}`),
    },
  });
  services.gateway = {
    image: "nginx:1.27-bookworm",
    ports: ["8000:80"],
    volumes: ["./gateway/nginx.conf:/etc/nginx/nginx.conf:ro"],
    depends_on: Object.fromEntries(SERVICES.flatMap(instances).map((n) => [n, healthy])),
    healthcheck: check(["CMD", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/80"]),
    restart: "unless-stopped",
  };

  for (const service of SERVICES) {
    const redis = range(shards).map((i) => redisName(service, i));
    for (const name of redis) {
      services[name] = {
        image: "redis:7.4-bookworm",
        // Nothing acknowledged is lost: every write goes to the append-only file on the volume.
        // Protected mode is off because Redis is reachable only on the compose network, as in the
        // official image (whose build turns it off; other builds of the same tag may not).
        command: ["redis-server", "--dir", "/data", "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--protected-mode", "no"],
        volumes: [`${name}:/data`],
        healthcheck: check(["CMD", "redis-cli", "ping"]),
        restart: "unless-stopped",
      };
      volumes[name] = {};
    }
    // The order service waits for its participants, so its first recovery sweep finds them up.
    const dependsOn = [...redis, ...(service === "order" ? [...instances("stock"), ...instances("payment")] : [])];
    for (const replica of range(replicas)) {
      services[instanceName(service, replica)] = {
        build: { context: ".", args: { NPM_REGISTRY: "${NPM_REGISTRY:-https://registry.npmjs.org/}" } },
        image: "shardshop:latest",
        command: ["node", `dist/${service}/main.js`],
        environment: {
          PORT: String(SERVICE_PORT),
          REDIS_ADDRS: redis.map((r) => `${r}:6379`).join(","),
          MACHINE_ID: `${replica}/${replicas}`,
          LOG_LEVEL: "info",
          // Unset unless given (e.g. http://jaeger:4318 with the observability profile): no tracing cost.
          OTEL_EXPORTER_OTLP_ENDPOINT: "${OTEL_EXPORTER_OTLP_ENDPOINT:-}",
          ...(service === "order" ? { STOCK_SERVICE_URL: urls("stock"), PAYMENT_SERVICE_URL: urls("payment") } : {}),
        },
        depends_on: Object.fromEntries(dependsOn.map((n) => [n, healthy])),
        // bash, not node: a health check every 5 s should not start a whole Node process.
        healthcheck: check([
          "CMD",
          "bash",
          "-c",
          `exec 3<>/dev/tcp/127.0.0.1/${SERVICE_PORT} && printf 'GET /ready HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '`,
        ]),
        restart: "unless-stopped",
        stop_grace_period: "15s",
      };
    }
  }
  Object.assign(services, observabilityServices());
  const prometheus = renderPrometheusConfig({
    services: SERVICES.flatMap(instances).map((n) => `${n}:${SERVICE_PORT}`),
    redis: SERVICES.flatMap((s) => range(shards).map((i) => `${redisName(s, i)}:6379`)),
    exporter: `redis-exporter:${EXPORTER_PORT}`,
  });
  return { compose: { services, volumes }, nginx, prometheus };
}

/** Writes the compose file, the gateway configuration, Prometheus's and the dashboard into `dir`. */
export function writeCompose(dir: string, shards: number, replicas: number): void {
  const { compose, nginx, prometheus } = composeModel(shards, replicas);
  mkdirSync(join(dir, "gateway"), { recursive: true });
  mkdirSync(join(dir, "observability", "grafana", "dashboards"), { recursive: true });
  const header = `# Generated by \`npm run compose -- --shards ${shards} --replicas ${replicas}\` (local/compose.ts); do not edit by hand.\n`;
  writeFileSync(join(dir, "docker-compose.yml"), `${header}${toYaml(compose as unknown as Yaml)}\n`);
  writeFileSync(join(dir, "gateway", "nginx.conf"), nginx);
  writeFileSync(join(dir, "observability", "prometheus.yml"), `${header}${toYaml(prometheus as Yaml)}\n`);
  writeFileSync(join(dir, "observability", "grafana", "dashboards", "shardshop.json"), `${JSON.stringify(renderDashboard(), null, 2)}\n`);
}

if (isMain(import.meta.url)) {
  const args = parseArgs(process.argv.slice(2));
  helpFromHeader(import.meta.url, args);
  const shards = Number(args.get("shards") ?? 1);
  const replicas = Number(args.get("replicas") ?? 1);
  if (!(Number.isInteger(shards) && shards >= 1 && shards <= 64 && Number.isInteger(replicas) && replicas >= 1 && replicas <= 32)) {
    console.error("--shards must be 1-64 and --replicas 1-32");
    process.exit(1);
  }
  writeCompose(args.get("out") ?? ".", shards, replicas);
  console.log(`wrote docker-compose.yml and gateway/nginx.conf for ${shards} shard(s) and ${replicas} replica(s) per service`);
}
