// `npm run compose [-- --shards N --replicas M] [--subnet A.B.C.0/22]`: writes docker-compose.yml,
// gateway/nginx.conf and observability/ for N Redis shards (default 1) and M instances per service
// (default 2).
// `npm run compose -- --cpus C`: the layout sized for a budget of C CPUs instead (sizing.ts), with
// a CPU limit per container, written beside the default as docker-compose.cpus-C.yml,
// gateway/nginx.cpus-C.conf and observability/prometheus.cpus-C.yml.
// `npm run compose -- --cluster [--shards N] [--redis-replicas R] [--replicas M]`: each service's
// Redis as a Redis Cluster of N masters (default 3) with R replicas each (default 1), and M
// instances per service, written beside the default as docker-compose.cluster.yml,
// gateway/nginx.cluster.conf and observability/prometheus.cluster.yml.
// Every address is derived from the layout and the subnet here, so REDIS_ADDRS, MACHINE_ID, the
// service URLs, the fixed container addresses and the gateway's upstreams agree by construction.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { helpFromHeader, isMain, parseArgs } from "../tools/cli.js";
import { renderNginxConfig } from "./nginx.js";
import { renderDashboard, renderPrometheusConfig } from "./observability.js";
import { perService, publicPrefix, SERVICES, type Service } from "../common/services.js";
import { layoutForCpus, markerBytesPerShard, REDIS_MAXMEMORY_MB, totalCpus, uniformLayout, type ComposeLayout } from "./sizing.js";
import { ADMIN_USER, adminUserLine, DEFAULT_USER_LINE, HEALTH_CHECK_ARGS, HEALTH_USER_LINE, METRICS_USER, metricsUserLine, REPLICATION_USER, replicationUserLine, serviceUserLine } from "./redis-acl.js";

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
/** The container that makes a service's Redis Cluster. */
export const clusterName = (service: Service) => `redis-${service}-cluster`;
export const instanceName = (service: Service, replica: number) => `${service}-${replica}`;

export interface ComposeModel {
  compose: { services: Record<string, Record<string, Yaml>>; volumes: Record<string, Yaml>; networks: Record<string, Yaml> };
  nginx: string;
  prometheus: object;
}

const OBSERVABILITY = ["observability"];
const EXPORTER_PORT = 9121;

/**
 * Prometheus (with the configuration at `prometheusFile`), the Redis exporter, Grafana and
 * Jaeger: started only with `--profile observability`.
 */
function observabilityServices(prometheusFile: string): Record<string, Record<string, Yaml>> {
  return {
    "redis-exporter": {
      image: "oliver006/redis_exporter:v1.67.0",
      profiles: OBSERVABILITY,
      // As the metrics user (INFO and little else), its password per node from the secrets container.
      command: [`--redis.user=${METRICS_USER}`, `--redis.password-file=/run/exporter/${EXPORTER_PASSWORDS}`],
      volumes: [`${EXPORTER_SECRETS}:/run/exporter:ro`],
      depends_on: { [SECRETS_CONTAINER]: { condition: "service_completed_successfully" } },
      ...HARDENED,
      mem_limit: MEMORY.small,
      restart: "unless-stopped",
    },
    prometheus: {
      image: "prom/prometheus:v2.55.1",
      profiles: OBSERVABILITY,
      // No lifecycle API (it would let anyone who reaches the port stop or reload Prometheus).
      command: ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.retention.time=2d"],
      volumes: [`./${prometheusFile}:/etc/prometheus/prometheus.yml:ro`, "./observability/alerts.yml:/etc/prometheus/alerts.yml:ro"],
      // The UIs listen on this machine only: reach them from elsewhere through an SSH tunnel.
      ports: ["127.0.0.1:9090:9090"],
      restart: "unless-stopped",
    },
    grafana: {
      image: "grafana/grafana:11.3.0",
      profiles: OBSERVABILITY,
      // No admin/admin: the admin's password is made on first start by the secrets container
      // (docker compose exec grafana cat /run/grafana/admin-password).
      environment: {
        GF_SECURITY_ADMIN_PASSWORD__FILE: "/run/grafana/admin-password",
        GF_AUTH_ANONYMOUS_ENABLED: "false",
        GF_USERS_ALLOW_SIGN_UP: "false",
      },
      volumes: [
        "./observability/grafana/provisioning:/etc/grafana/provisioning:ro",
        "./observability/grafana/dashboards:/var/lib/grafana/dashboards:ro",
        `${GRAFANA_SECRETS}:/run/grafana:ro`,
      ],
      ports: ["127.0.0.1:3000:3000"],
      depends_on: { prometheus: { condition: "service_started" }, [SECRETS_CONTAINER]: { condition: "service_completed_successfully" } },
      restart: "unless-stopped",
    },
    jaeger: {
      image: "jaegertracing/all-in-one:1.62.0",
      profiles: OBSERVABILITY,
      environment: { COLLECTOR_OTLP_ENABLED: "true" },
      ports: ["127.0.0.1:16686:16686"],
      restart: "unless-stopped",
    },
  };
}

/**
 * Fixed addresses on the compose network. Docker hands out addresses anew when a container is
 * recreated, so two recreated services can swap them; nginx resolves upstream names once, at
 * start, and would then send /stock/ to the payment service. With fixed addresses a recreated,
 * restarted or scaled container is always where nginx expects it, and nginx is given addresses
 * rather than names, so it also starts while a service container is down (Docker's DNS only
 * knows running containers). The /22 holds the gateway, up to 32 instances and 64 shards per
 * service in its first half; Docker picks addresses only from the second half (`ip_range`), for
 * anything else started on the network.
 */
export class ComposeAddresses {
  private readonly base: number;

  constructor(readonly subnet = DEFAULT_SUBNET) {
    const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/22$/.exec(subnet);
    const octets = m?.slice(1).map(Number) ?? [];
    if (octets.length !== 4 || octets.some((o) => o > 255) || octets[2]! % 4 !== 0 || octets[3] !== 0) {
      throw new Error(`--subnet must be an IPv4 /22 such as ${DEFAULT_SUBNET}`);
    }
    this.base = octets.reduce((a, o) => a * 256 + o, 0);
  }

  private at(offset: number): string {
    const n = this.base + offset;
    return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
  }

  /** Where Docker may place containers that have no fixed address. */
  get dynamicRange(): string {
    return `${this.at(512)}/23`;
  }

  get gateway(): string {
    return this.at(10);
  }

  instance(service: Service, replica: number): string {
    return this.at(64 + SERVICES.indexOf(service) * 32 + replica);
  }

  redis(service: Service, shard: number): string {
    return this.at(256 + SERVICES.indexOf(service) * 64 + shard);
  }
}

/** The shop's one image (Dockerfile), built by whichever service needs it first. */
const IMAGE_BUILD = { context: ".", args: { NPM_REGISTRY: "${NPM_REGISTRY:-https://registry.npmjs.org/}" } };
/** The watchdog's image: the same Dockerfile's last stage, Node and one script, no npm package. */
const WATCHDOG_BUILD = { ...IMAGE_BUILD, target: "watchdog" };

/**
 * What every container gets unless it needs more: no capabilities, no privilege gained through a
 * setuid binary, an image it cannot write to (its writable places are volumes and tmpfs).
 */
const HARDENED = { read_only: true, cap_drop: ["ALL"], security_opt: ["no-new-privileges:true"] };
/** Memory limits per container: Redis' maxmemory sits below its limit (REDIS_MAXMEMORY_MB). */
const MEMORY = { redis: "512m", instance: "256m", gateway: "128m", small: "64m" } as const;
/** Cluster mode: how long a master may be silent before its replica takes over (the chart's redis.cluster.nodeTimeoutMs). */
const CLUSTER_NODE_TIMEOUT_MS = 2000;

/** The user the services run as in the shop's image (Dockerfile: `USER node`). */
const SERVICE_UID = "1000:1000";
/** Where a service container finds its secrets (the `secrets` container writes them). */
const SECRETS_DIR = "/run/shardshop";
/** Where a Redis container finds its ACL file and its nodes' passwords. */
const ACL_DIR = "/acl";
/** The watchdog's way to the Docker engine, and the network only the two of them share. */
const ENGINE_FILTER = "engine-filter";
const ENGINE_NETWORK = "engine";

/** The container that makes every key and password on first start and hands each container its own. */
export const SECRETS_CONTAINER = "secrets";
const secretsVolume = (service: Service) => `secrets-${service}`;
/** The files of a service's secrets volume, as the secrets script writes them and the service reads them. */
const SECRET_FILES = {
  internalKey: "internal-key",
  redisPassword: "redis-password",
  /** The order service's copy of a participant's key. */
  participantKey: (participant: Service) => `${participant}-internal-key`,
};
/** The participants, whose keys the order service signs with. */
const PARTICIPANTS = SERVICES.filter((s) => s !== "order");
const GRAFANA_SECRETS = "secrets-grafana";
const EXPORTER_SECRETS = "secrets-exporter";
/** The Redis exporter's password file: a JSON map from each node's URI to its password. */
const EXPORTER_PASSWORDS = "passwords.json";
/** The exporter's user in its image. */
const EXPORTER_UID = "59000:59000";
/** Grafana's user in its image. */
const GRAFANA_UID = "472:0";
const aclVolume = (service: Service) => `redis-acl-${service}`;

/**
 * The `secrets` container's script. Keys and passwords are made once (random, 32 bytes) and kept
 * in its own volume; at every start each container's copy is written again into the volume only
 * that container mounts: a service gets its internal key and its Redis password (the order service
 * also the participants' keys), a Redis node its ACL file, with passwords only as SHA-256, plus
 * the replication and admin passwords its cluster needs. Nothing is committed; nothing is a default.
 */
export function secretsScript(redisTargets: string[]): string {
  const hash = (name: string) => `$(hash ${name})`;
  const lines = SERVICES.map((s) => [
    `acl=/out/${aclVolume(s)}/users.acl; rm -f "$acl"`,
    `printf '%s\\n' '${DEFAULT_USER_LINE}' '${HEALTH_USER_LINE}' "${serviceUserLine(s, hash(`redis-${s}`))}" "${replicationUserLine(hash(`replication-${s}`))}" "${adminUserLine(hash(`admin-${s}`))}" "${metricsUserLine(hash("metrics"))}" > "$acl"`,
    `chmod 0400 "$acl"; chown redis:redis "$acl"`,
    `give replication-${s} /out/${aclVolume(s)}/replication-password redis:redis`,
    `give admin-${s} /out/${aclVolume(s)}/admin-password redis:redis`,
    `give internal-${s} /out/${secretsVolume(s)}/${SECRET_FILES.internalKey} ${SERVICE_UID}`,
    `give redis-${s} /out/${secretsVolume(s)}/${SECRET_FILES.redisPassword} ${SERVICE_UID}`,
  ]).flat();
  return [
    "set -eu",
    "umask 077",
    "cd /secrets",
    `make() { [ -s "$1" ] || head -c 32 /dev/urandom | base64 | tr -d '=\\n' | tr '+/' '-_' > "$1"; }`,
    `hash() { printf %s "$(cat "$1")" | sha256sum | cut -d' ' -f1; }`,
    `give() { rm -f "$2"; cp "$1" "$2"; chmod 0400 "$2"; chown "$3" "$2"; }`,
    `for s in ${SERVICES.join(" ")}; do make internal-$s; make redis-$s; make replication-$s; make admin-$s; done`,
    "make metrics",
    ...lines,
    ...PARTICIPANTS.map((s) => `give internal-${s} /out/${secretsVolume("order")}/${SECRET_FILES.participantKey(s)} ${SERVICE_UID}`),
    `make grafana-admin; give grafana-admin /out/${GRAFANA_SECRETS}/admin-password ${GRAFANA_UID}`,
    `printf '{${redisTargets.map((t) => `"redis://${t}":"%s"`).join(",")}}' ${redisTargets.map(() => '"$(cat metrics)"').join(" ")} > exporter.json`,
    `give exporter.json /out/${EXPORTER_SECRETS}/${EXPORTER_PASSWORDS} ${EXPORTER_UID}`,
    "echo 'secrets ready'",
  ].join("\n");
}

/** `$` written for Compose, which would otherwise read it as one of its own variables. */
const forCompose = (text: string) => text.replaceAll("$", "$$$$");

export const DEFAULT_SUBNET = "172.28.56.0/22";
export const MAX_REPLICAS = 32;
/**
 * Instances per service unless --replicas says otherwise: two, so that while one restarts (a
 * crash, a kill) the other serves, and the gateway hands a checkout whose instance died to it.
 */
export const DEFAULT_REPLICAS = 2;
export const MAX_SHARDS = 64;

/**
 * bash sending `GET path` to a local port and leaving the answer on descriptor 3: a health check
 * every 5 s should not start a whole Node process, and these images have no curl.
 */
const httpGet = (port: number, path: string) =>
  `exec 3<>/dev/tcp/127.0.0.1/${port} && printf 'GET ${path} HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3`;
/** A health check passing when `GET path` on the local port answers 200. */
const answers200 = (port: number, path: string): string[] => ["CMD", "bash", "-c", `${httpGet(port, path)} && head -n 1 <&3 | grep -q ' 200 '`];

/**
 * The gateway's health check proves routing, not just that nginx listens: each public prefix must
 * reach the service it names (its docs page carries the service's name).
 */
function routingCheck(): string[] {
  const probes = SERVICES.map((s) => `${httpGet(80, `${publicPrefix(s)}/docs`)} && grep -q '<title>shardshop ${s} API</title>' <&3`);
  return ["CMD", "bash", "-c", probes.join(" && ")];
}

export function composeModel(layout: ComposeLayout, subnet = DEFAULT_SUBNET, files = DEFAULT_FILES): ComposeModel {
  const { shards, replicas, cpus, cluster } = layout;
  const redisNodes = cluster ? shards * (1 + cluster.replicasPerMaster) : shards;
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const addresses = new ComposeAddresses(subnet);
  const at = (address: string) => ({ default: { ipv4_address: address } });
  const instances = (s: Service) => range(replicas[s]).map((r) => instanceName(s, r));
  // Docker's CPU limit, when the layout was sized for a budget.
  const limit = (n: number | undefined): Record<string, Yaml> => (n === undefined ? {} : { cpus: n });
  const urls = (s: Service) => instances(s).map((name) => `http://${name}:${SERVICE_PORT}`).join(",");
  const services: Record<string, Record<string, Yaml>> = {};
  const volumes: Record<string, Yaml> = {};
  const redisTargets = SERVICES.flatMap((s) => range(redisNodes).map((i) => `${redisName(s, i)}:6379`));

  const nginx = renderNginxConfig({
    listen: ["80"],
    upstreams: perService((s) => instances(s).map((name, r) => ({ address: `${addresses.instance(s, r)}:${SERVICE_PORT}`, name }))),
    workerProcesses: layout.gatewayWorkers,
  });
  services[SECRETS_CONTAINER] = {
    image: "redis:7.4-bookworm",
    command: ["bash", "-c", forCompose(secretsScript(redisTargets))],
    volumes: [
      "secrets:/secrets",
      ...SERVICES.flatMap((s) => [`${secretsVolume(s)}:/out/${secretsVolume(s)}`, `${aclVolume(s)}:/out/${aclVolume(s)}`]),
      `${GRAFANA_SECRETS}:/out/${GRAFANA_SECRETS}`,
      `${EXPORTER_SECRETS}:/out/${EXPORTER_SECRETS}`,
    ],
    ...HARDENED,
    // Root, to hand each file to the user that reads it; nothing else.
    cap_add: ["CHOWN"],
    mem_limit: MEMORY.small,
    restart: "no",
  };
  volumes.secrets = {};
  volumes[GRAFANA_SECRETS] = {};
  volumes[EXPORTER_SECRETS] = {};
  for (const service of SERVICES) {
    volumes[secretsVolume(service)] = {};
    volumes[aclVolume(service)] = {};
  }
  const secretsWritten = { [SECRETS_CONTAINER]: { condition: "service_completed_successfully" } };

  services.gateway = {
    image: "nginx:1.27-bookworm",
    // GATEWAY_PORT when 8000 is taken on this machine.
    ports: ["${GATEWAY_PORT:-8000}:80"],
    volumes: [`./${files.nginx}:/etc/nginx/nginx.conf:ro`],
    ...HARDENED,
    // The master binds port 80 and hands the workers to nginx's user, chowning their temp folders.
    cap_add: ["NET_BIND_SERVICE", "SETUID", "SETGID", "CHOWN"],
    tmpfs: ["/run", "/tmp", "/var/cache/nginx", "/var/lib/nginx"],
    mem_limit: MEMORY.gateway,
    ...limit(cpus?.gateway),
    depends_on: Object.fromEntries(SERVICES.flatMap(instances).map((n) => [n, healthy])),
    // Few retries: a gateway that misroutes should read unhealthy within seconds.
    healthcheck: { ...check(routingCheck()), retries: 3 },
    networks: at(addresses.gateway),
    restart: "unless-stopped",
  };
  // Docker never restarts a killed container (it counts as a manual stop); this starts it again.
  // It reaches the engine only through the filter, on a network of their own.
  services.watchdog = {
    build: WATCHDOG_BUILD,
    image: "shardshop-watchdog:latest",
    command: ["node", "watchdog.mjs"],
    environment: { ENGINE_URL: `http://${ENGINE_FILTER}:2375` },
    depends_on: ["gateway", ENGINE_FILTER],
    networks: [ENGINE_NETWORK],
    ...HARDENED,
    user: "node",
    mem_limit: MEMORY.small,
    healthcheck: check(["CMD", "node", "watchdog.mjs", "--check"]),
    ...limit(cpus?.watchdog),
    restart: "unless-stopped",
  };
  // Holds the engine's socket and lets through only reading events, inspecting and starting
  // containers (deploy/engine-filter.conf).
  services[ENGINE_FILTER] = {
    image: "nginx:1.27-bookworm",
    command: ["nginx", "-c", "/etc/nginx/engine-filter.conf"],
    // The engine's socket is root's.
    user: "root",
    volumes: ["${DOCKER_SOCKET:-/var/run/docker.sock}:/var/run/docker.sock", "./deploy/engine-filter.conf:/etc/nginx/engine-filter.conf:ro"],
    networks: [ENGINE_NETWORK],
    ...HARDENED,
    tmpfs: ["/tmp", "/var/lib/nginx", "/var/cache/nginx", "/run"],
    mem_limit: MEMORY.small,
    // As little as the watchdog it serves.
    ...limit(cpus?.watchdog),
    healthcheck: check(answers200(2375, "/_ping")),
    restart: "unless-stopped",
  };

  for (const service of SERVICES) {
    const redis = range(redisNodes).map((i) => redisName(service, i));
    // A cluster node keeps its slot map (nodes.conf) on its volume beside the AOF; nodes know each
    // other by their fixed addresses, so a recreated container rejoins the same cluster.
    // Its replicas follow a master as the replication user; the password is read at start. A
    // master gone for 2 s is replaced by its replica (node timeout), and a replica that joins or
    // rejoins is sent the data at once, not after the default 5 s wait for others to join.
    const clusterArgs = cluster
      ? ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", String(CLUSTER_NODE_TIMEOUT_MS), "--repl-diskless-sync-delay", "0", "--masteruser", REPLICATION_USER, "--masterauth", `"$(cat ${ACL_DIR}/replication-password)"`]
      : [];
    for (const [i, name] of redis.entries()) {
      // Nothing acknowledged is lost: every write goes to the append-only file on the volume.
      // Users come from the ACL file (only PING without a password). Protected mode is off because
      // the default user can do nothing but PING, and the node is reachable only on the compose
      // network, as in the official image (whose build turns it off; other builds of the tag may not).
      const redisArgs = ["--dir", "/data", "--appendonly", "yes", "--appendfsync", "everysec", "--save", "''", "--protected-mode", "no",
        "--aclfile", `${ACL_DIR}/users.acl`, "--maxmemory", `${REDIS_MAXMEMORY_MB}mb`, "--maxmemory-policy", "noeviction", ...clusterArgs];
      services[name] = {
        image: "redis:7.4-bookworm",
        command: ["bash", "-c", forCompose(`exec redis-server ${redisArgs.join(" ")}`)],
        user: "redis",
        volumes: [`${name}:/data`, `${aclVolume(service)}:${ACL_DIR}:ro`],
        depends_on: secretsWritten,
        ...HARDENED,
        mem_limit: MEMORY.redis,
        ...limit(cpus?.redis[service]),
        // PONG, not LOADING: the node has read its AOF and serves.
        healthcheck: check(["CMD", "bash", "-c", `redis-cli ${HEALTH_CHECK_ARGS.join(" ")} | grep -q PONG`]),
        networks: at(addresses.redis(service, i)),
        restart: "unless-stopped",
      };
      volumes[name] = {};
    }
    const nodes = redis.map((_, i) => `${addresses.redis(service, i)}:6379`);
    if (cluster) {
      // Makes the cluster once (its nodes remember it on their volumes), then stays up: healthy
      // while every slot is served, which the instances wait for.
      const first = addresses.redis(service, 0);
      // As the admin user, whose password only this container and the nodes can read.
      const asAdmin = `REDISCLI_AUTH="$(cat ${ACL_DIR}/admin-password)" redis-cli --user ${ADMIN_USER}`;
      services[clusterName(service)] = {
        image: "redis:7.4-bookworm",
        command: [
          "bash",
          "-c",
          forCompose(`if ${asAdmin} -h ${first} cluster info | grep -q cluster_known_nodes:1; then ${asAdmin} --cluster create ${nodes.join(" ")} --cluster-replicas ${cluster.replicasPerMaster} --cluster-yes; fi; exec sleep infinity`),
        ],
        user: "redis",
        volumes: [`${aclVolume(service)}:${ACL_DIR}:ro`],
        depends_on: Object.fromEntries(redis.map((n) => [n, healthy])),
        healthcheck: check(["CMD", "bash", "-c", forCompose(`${asAdmin} -h ${first} cluster info | grep -q cluster_state:ok`)]),
        ...HARDENED,
        mem_limit: MEMORY.small,
        restart: "unless-stopped",
      };
    }
    // The order service waits for its participants, so its first recovery sweep finds them up.
    const dependsOn = [...redis, ...(cluster ? [clusterName(service)] : []), ...(service === "order" ? [...instances("stock"), ...instances("payment")] : [])];
    for (const replica of range(replicas[service])) {
      services[instanceName(service, replica)] = {
        build: IMAGE_BUILD,
        image: "shardshop:latest",
        command: ["node", `dist/${service}/main.js`],
        environment: {
          PORT: String(SERVICE_PORT),
          ...(cluster ? { REDIS_MODE: "cluster" } : {}),
          REDIS_ADDRS: redis.map((r) => `${r}:6379`).join(","),
          MACHINE_ID: `${replica}/${replicas[service]}`,
          LOG_LEVEL: "info",
          // Unset unless given (e.g. http://jaeger:4318 with the observability profile): no tracing cost.
          OTEL_EXPORTER_OTLP_ENDPOINT: "${OTEL_EXPORTER_OTLP_ENDPOINT:-}",
          // BATCH_INIT=off docker compose up: a shop that is not a benchmark's target.
          BATCH_INIT: "${BATCH_INIT:-on}",
          // Its Redis user, and the keys it proves itself with, from the files only it mounts.
          REDIS_USER: service,
          REDIS_PASSWORD_FILE: `${SECRETS_DIR}/${SECRET_FILES.redisPassword}`,
          INTERNAL_KEYS_FILE: `${SECRETS_DIR}/${SECRET_FILES.internalKey}`,
          // saga unless the environment says 2pc, e.g. TX_PROTOCOL=2pc docker compose up.
          ...(service === "order"
            ? {
                TX_PROTOCOL: "${TX_PROTOCOL:-saga}",
                STOCK_SERVICE_URL: urls("stock"),
                PAYMENT_SERVICE_URL: urls("payment"),
                ...Object.fromEntries(PARTICIPANTS.map((p) => [`${p.toUpperCase()}_INTERNAL_KEY_FILE`, `${SECRETS_DIR}/${SECRET_FILES.participantKey(p)}`])),
              }
            : {}),
        },
        volumes: [`${secretsVolume(service)}:${SECRETS_DIR}:ro`],
        depends_on: { ...secretsWritten, ...Object.fromEntries(dependsOn.map((n) => [n, healthy])) },
        ...HARDENED,
        tmpfs: ["/tmp"],
        mem_limit: MEMORY.instance,
        ...limit(cpus?.instance[service]),
        healthcheck: check(answers200(SERVICE_PORT, "/ready")),
        networks: at(addresses.instance(service, replica)),
        restart: "unless-stopped",
        // Past SHUTDOWN_TIMEOUT_MS (40 s), which is past a checkout's deadline (30 s).
        stop_grace_period: "45s",
      };
    }
  }
  Object.assign(services, observabilityServices(files.prometheus));
  const prometheus = renderPrometheusConfig({
    services: SERVICES.flatMap(instances).map((n) => `${n}:${SERVICE_PORT}`),
    redis: redisTargets,
    exporter: `redis-exporter:${EXPORTER_PORT}`,
  });
  const networks = {
    default: { ipam: { config: [{ subnet: addresses.subnet, ip_range: addresses.dynamicRange }] } },
    // No way out of it: the filter and the watchdog talk to each other and to nothing else.
    [ENGINE_NETWORK]: { internal: true },
  };
  return { compose: { services, volumes, networks }, nginx, prometheus };
}

/** Where a layout's files go, relative to the output folder. */
export interface ComposeFiles {
  compose: string;
  nginx: string;
  prometheus: string;
}

export const DEFAULT_FILES: ComposeFiles = { compose: "docker-compose.yml", nginx: "gateway/nginx.conf", prometheus: "observability/prometheus.yml" };

/** The files of the cluster layout, beside the default ones. */
export const CLUSTER_FILES: ComposeFiles = { compose: "docker-compose.cluster.yml", nginx: "gateway/nginx.cluster.conf", prometheus: "observability/prometheus.cluster.yml" };

/** Each service's Redis a cluster of `masters` masters with `replicasPerMaster` replicas each. */
export const clusterLayout = (masters: number, replicasPerMaster: number, instances: number): ComposeLayout => ({
  ...uniformLayout(masters, instances),
  cluster: { replicasPerMaster },
});
export const clusterCommand = (masters: number, replicasPerMaster: number, instances: number) =>
  `npm run compose -- --cluster --shards ${masters} --redis-replicas ${replicasPerMaster} --replicas ${instances}`;

/** The files of the layout sized for `cpus` CPUs, beside the default ones. */
export const filesForCpus = (cpus: number): ComposeFiles => ({
  compose: `docker-compose.cpus-${cpus}.yml`,
  nginx: `gateway/nginx.cpus-${cpus}.conf`,
  prometheus: `observability/prometheus.cpus-${cpus}.yml`,
});

/**
 * Writes the compose file, the gateway configuration, Prometheus's and the dashboard into `dir`.
 * `command` is how the files were made, for their header.
 */
export function writeCompose(dir: string, layout: ComposeLayout, command: string, subnet = DEFAULT_SUBNET, files = DEFAULT_FILES): void {
  const { compose, nginx, prometheus } = composeModel(layout, subnet, files);
  mkdirSync(join(dir, "gateway"), { recursive: true });
  mkdirSync(join(dir, "observability", "grafana", "dashboards"), { recursive: true });
  const header = `# Generated by \`${command}${subnet === DEFAULT_SUBNET ? "" : ` --subnet ${subnet}`}\` (deploy/compose.ts); do not edit by hand.\n`;
  writeFileSync(join(dir, files.compose), `${header}${toYaml(compose as unknown as Yaml)}\n`);
  writeFileSync(join(dir, files.nginx), nginx);
  writeFileSync(join(dir, files.prometheus), `${header}${toYaml(prometheus as Yaml)}\n`);
  writeFileSync(join(dir, "observability", "grafana", "dashboards", "shardshop.json"), `${JSON.stringify(renderDashboard(), null, 2)}\n`);
}

/** The command that writes the default files for a uniform layout. */
export const uniformCommand = (shards: number, replicas: number) => `npm run compose -- --shards ${shards} --replicas ${replicas}`;

if (isMain(import.meta.url)) {
  const args = parseArgs(process.argv.slice(2));
  helpFromHeader(import.meta.url, args);
  const inRange = (n: number, max: number) => Number.isInteger(n) && n >= 1 && n <= max;
  const subnet = args.get("subnet") ?? DEFAULT_SUBNET;
  const out = args.get("out") ?? ".";
  try {
    if (args.has("cluster")) {
      const masters = Number(args.get("shards") ?? 3);
      const perMaster = Number(args.get("redis-replicas") ?? 1);
      const instances = Number(args.get("replicas") ?? DEFAULT_REPLICAS);
      if (!Number.isInteger(masters) || masters < 3 || !Number.isInteger(perMaster) || perMaster < 0 || masters * (1 + perMaster) > MAX_SHARDS || !inRange(instances, MAX_REPLICAS)) {
        throw new Error(`--cluster needs --shards of at least 3 masters, --redis-replicas 0 or more, at most ${MAX_SHARDS} nodes in all, and --replicas 1-${MAX_REPLICAS}`);
      }
      writeCompose(out, clusterLayout(masters, perMaster, instances), clusterCommand(masters, perMaster, instances), subnet, CLUSTER_FILES);
      console.log(`wrote ${CLUSTER_FILES.compose}, ${CLUSTER_FILES.nginx} and ${CLUSTER_FILES.prometheus}: per service a Redis Cluster of ${masters} masters with ${perMaster} replica(s) each, and ${instances} instance(s)`);
    } else if (args.has("cpus")) {
      const budget = Number(args.get("cpus"));
      if (!inRange(budget, 256)) throw new Error("--cpus must be a whole number of CPUs, 1-256");
      const layout = layoutForCpus(budget);
      if (layout.shards > MAX_SHARDS || SERVICES.some((s) => layout.replicas[s] > MAX_REPLICAS)) throw new Error(`--cpus ${budget} needs more than ${MAX_SHARDS} shards or ${MAX_REPLICAS} instances`);
      const files = filesForCpus(budget);
      writeCompose(out, layout, `npm run compose -- --cpus ${budget}`, subnet, files);
      console.log(`wrote ${files.compose}, ${files.nginx} and ${files.prometheus} for ${budget} CPUs:`);
      console.log(`  ${layout.shards} shard(s) per service; instances ${SERVICES.map((s) => `${s} ${layout.replicas[s]}`).join(", ")}; ${layout.gatewayWorkers} nginx worker(s)`);
      console.log(`  CPU limits add up to ${totalCpus(layout)}; planned for about ${layout.plannedCheckoutsPerSecond} distinct checkouts/s (BENCHMARKS.md)`);
      const markers = markerBytesPerShard(layout.plannedCheckoutsPerSecond, layout.shards);
      console.log(`  at that rate each shard keeps ${SERVICES.map((s) => `${s} ${Math.round(markers[s] / 2 ** 20)} MB`).join(", ")} of transaction markers, of ${REDIS_MAXMEMORY_MB} MB maxmemory`);
    } else {
      const shards = Number(args.get("shards") ?? 1);
      const replicas = Number(args.get("replicas") ?? DEFAULT_REPLICAS);
      if (!inRange(shards, MAX_SHARDS) || !inRange(replicas, MAX_REPLICAS)) throw new Error(`--shards must be 1-${MAX_SHARDS} and --replicas 1-${MAX_REPLICAS}`);
      writeCompose(out, uniformLayout(shards, replicas), uniformCommand(shards, replicas), subnet);
      console.log(`wrote docker-compose.yml, gateway/nginx.conf and observability/ for ${shards} shard(s) and ${replicas} replica(s) per service`);
    }
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}
