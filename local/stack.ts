// The whole system on one machine without Docker: redis-server shards with AOF for each service,
// the service processes, and the gateway. `npm start` uses it, and so do the tests and benchmarks,
// so what we test is what users run.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { constants as osConstants, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

import { Redis } from "ioredis";
import type { RedisMode } from "../common/config.js";
import { newKey } from "../common/internal-auth.js";
import { perService, SERVICES, type Service } from "../common/services.js";
import { renderNginxConfig } from "../deploy/nginx.js";
import { ADMIN_USER, aclFile, HEALTH_USER, REPLICATION_USER, type RedisPasswords } from "../deploy/redis-acl.js";
import { PENDING_CHECKOUTS } from "../order/keys.js";
import { startGateway } from "./gateway.js";

// This file runs compiled (dist/local/) or from source under vitest (local/); services always compiled.
const HERE = fileURLToPath(new URL(".", import.meta.url));
/** The built code (the services' and tools' main files), whether this module runs built or from source (tests). */
export const DIST = join(resolve(HERE, HERE.includes("/dist/") ? "../.." : ".."), "dist");

/**
 * V8 heap limits for every service process (also set as NODE_OPTIONS in the container images):
 * a bounded old space keeps each service under 150 MB RSS under load (126 MB at most with the
 * public bench sizes), and a 16 MB semi-space rather than 8 saves scavenges on the checkout path
 * (see BENCHMARKS.md).
 */
export const SERVICE_NODE_FLAGS = ["--max-old-space-size=96", "--max-semi-space-size=16"];

export interface StackOptions {
  /** Redis shards per service; in cluster mode, the cluster's masters. */
  shards: number;
  /**
   * shards (default): independent Redis masters. cluster: per service a Redis Cluster of `shards`
   * masters with `replicas` replicas each, created with `redis-cli --cluster create`. The default
   * comes from REDIS_MODE, so a test run can be switched as a whole.
   */
  redisMode?: RedisMode;
  /** Cluster mode: replicas per master (default 1). */
  replicas?: number;
  /** Processes per service. */
  instances: number;
  /** Where each shard keeps its AOF; shard i of a service always uses the same folder. */
  dataDir: string;
  /** Gateway port; 0 picks a free one. */
  gatewayPort: number;
  /** The built-in Node gateway (default), or a real nginx with the deployments' configuration. */
  gateway?: "node" | "nginx";
  /** Extra environment for every service process, or per process (e.g. a fault point). */
  env?: Record<string, string>;
  envFor?: (service: Service, instance: number) => Record<string, string> | undefined;
  /** Node flags for the service processes (default SERVICE_NODE_FLAGS), e.g. to add --cpu-prof. */
  nodeArgs?: string[];
  /** Where child processes write their output: "inherit" (a terminal) or files in dataDir. */
  output?: "inherit" | "files";
  /** The stack's keys and passwords; default: new ones (`newStackSecrets`). */
  secrets?: StackSecrets;
}

/**
 * What a stack's processes prove themselves with: each service's key for its internal routes
 * (the order service holds the participants' ones too), and each service's Redis passwords.
 */
export interface StackSecrets {
  internalKeys: Record<Service, string>;
  /** Each service's Redis: its user's password and its replication password. */
  redis: Record<Service, Pick<RedisPasswords, "service" | "replication">>;
  /** One admin and one metrics password for every node, so tools and an exporter reach every shard alike. */
  redisAdmin: string;
  redisMetrics: string;
}

/** New random keys and passwords, made per stack: nothing is committed, nothing is a default. */
export function newStackSecrets(): StackSecrets {
  return {
    internalKeys: perService(() => newKey()),
    redis: perService(() => ({ service: newKey(), replication: newKey() })),
    redisAdmin: newKey(),
    redisMetrics: newKey(),
  };
}

/** Every password `service`'s Redis nodes know. */
export const redisPasswords = (secrets: StackSecrets, service: Service): Required<RedisPasswords> => ({
  ...secrets.redis[service],
  admin: secrets.redisAdmin,
  metrics: secrets.redisMetrics,
});

/** The environment a service process proves itself with, from the stack's secrets. */
export function secretEnv(service: Service, secrets: StackSecrets): Record<string, string> {
  return {
    REDIS_USER: service,
    REDIS_PASSWORD: secrets.redis[service].service,
    INTERNAL_KEYS: secrets.internalKeys[service],
    ...(service === "order" ? { STOCK_INTERNAL_KEY: secrets.internalKeys.stock, PAYMENT_INTERNAL_KEY: secrets.internalKeys.payment } : {}),
  };
}

/** How a Redis node of the stack is locked (deploy/redis-acl.ts): its users, and how its replicas authenticate. */
export interface RedisLock {
  service: Service;
  passwords: Required<RedisPasswords>;
}

/** A process of the stack that can be killed and started again on the same port and data. */
export class Component {
  proc?: ChildProcess;

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly command: string,
    private readonly args: string[],
    /** Read at every start: change it (e.g. a fault point) before restarting. */
    readonly env: Record<string, string>,
    private readonly ready: () => Promise<boolean>,
    /** "inherit" (a terminal), "ignore" (the program logs elsewhere) or a log file path. */
    private readonly output: "inherit" | "ignore" | string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const stdio = this.output === "inherit" || this.output === "ignore" ? this.output : ["ignore", "pipe", "pipe"];
    const proc = spawn(this.command, this.args, { env: { ...process.env, ...this.env }, stdio: stdio as "inherit" });
    if (this.output !== "inherit" && this.output !== "ignore") {
      const log = createWriteStream(this.output, { flags: "a" });
      proc.stdout?.pipe(log);
      proc.stderr?.pipe(log);
    }
    this.proc = proc;
    const exited = new Promise<never>((_, reject) =>
      proc.once("exit", (code) => reject(new Error(`${this.name} exited with ${code} while starting (see ${this.output})`))),
    );
    exited.catch(() => {});
    for (let i = 0; i < 300; i++) {
      if (await Promise.race([this.ready(), exited])) return;
      await sleep(50);
    }
    throw new Error(`${this.name} did not become ready`);
  }

  get running(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Sends a signal and waits for the process to be gone. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.running) return;
    const gone = new Promise((r) => proc.once("exit", r));
    proc.kill(signal);
    await gone;
  }
}

export interface Stack {
  url: string;
  /** How tools and tests reach the shards as the admin user (ioredis options beside the port). */
  redisAuth: { username: string; password: string; db: number };
  secrets: StackSecrets;
  /** The nginx process when the gateway is nginx. */
  nginx?: Component;
  redis: Record<Service, Component[]>;
  services: Record<Service, Component[]>;
  all(): Component[];
  /** Stops every process of the stack; a second call waits for the first. */
  stop(): Promise<void>;
}

/** Says how to get a program when it is not installed, instead of a spawn error. */
function requireProgram(program: "redis-server" | "nginx"): void {
  if (!spawnSync(program, ["-v"]).error) return;
  const pkg = program === "nginx" ? { apt: "nginx-light", brew: "nginx", dnf: "nginx" } : { apt: "redis-server", brew: "redis", dnf: "redis" };
  throw new Error(
    `${program} was not found on PATH. Install it first:\n` +
      `  Debian/Ubuntu: sudo apt-get install -y ${pkg.apt}\n` +
      `  macOS:         brew install ${pkg.brew}\n` +
      `  Fedora:        sudo dnf install ${pkg.dnf}`,
  );
}

/** Whether a listener can bind `host` on `port` (0: any port) right now. */
async function canListen(host: string, port = 0): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

const handedOut = new Set<number>();

/**
 * A port for a component to listen on. Chosen below Linux's ephemeral range (32768 and up), which
 * outgoing connections draw from: a port probed free there could be taken by a client socket
 * before the component binds it. Never the same port twice in one process.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * 22_000);
    if (handedOut.has(port)) continue;
    if (await canListen("127.0.0.1", port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/**
 * Sends PING (after AUTH as the health user, which a locked node lets anyone be, for PING only; a
 * node that is not locked ignores it) and waits for PONG, not LOADING: the shard has loaded its
 * AOF and serves.
 */
export function redisPing(port: number, locked = true): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let reply = "";
    socket.setTimeout(500, () => socket.destroy());
    const auth = locked ? `AUTH ${HEALTH_USER} ${HEALTH_USER}\r\n` : "";
    socket.on("connect", () => socket.write(`${auth}PING\r\n`));
    socket.on("data", (d) => {
      reply += d;
      if (reply.split("\r\n").length > (auth ? 2 : 1)) socket.end();
    });
    socket.on("close", () => resolve(reply.split("\r\n")[auth ? 1 : 0] === "+PONG"));
    socket.on("error", () => {});
  });
}

function nginxComponent(dataDir: string, port: number, servicePorts: Record<Service, number[]>, ipv6Loopback: boolean): Component {
  const runDir = join(dataDir, "nginx");
  mkdirSync(runDir, { recursive: true });
  const hostPorts = (s: Service) => servicePorts[s].map((p, i) => ({ address: `127.0.0.1:${p}`, name: `${s}-${i}` }));
  const config = renderNginxConfig({
    listen: [`127.0.0.1:${port}`, ...(ipv6Loopback ? [`[::1]:${port}`] : [])],
    upstreams: perService(hostPorts),
    runDir,
    workerProcesses: 1,
  });
  const file = join(runDir, "nginx.conf");
  writeFileSync(file, config);
  const answers = () => fetch(`http://127.0.0.1:${port}/`).then(() => true, () => false);
  return new Component("nginx", port, "nginx", ["-c", file, "-g", "daemon off;"], {}, answers, join(dataDir, "nginx.log"));
}

/** Whether `url` answers 2xx within a second. */
export async function httpOk(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

/**
 * A redis-server with AOF, its data in `dataDir/name`. A cluster node also keeps its slot map in
 * nodes.conf there, has a short node timeout so that a replica takes over a lost master within
 * seconds, and its bus on a port of its own (by default the port + 10000, which nothing reserved).
 */
export async function redisComponent(dataDir: string, name: string, mode: RedisMode, lock?: RedisLock): Promise<Component> {
  const dir = join(dataDir, name);
  mkdirSync(dir, { recursive: true });
  // Cluster nodes know each other by address (nodes.conf), so a node keeps its ports across restarts.
  const portsFile = join(dir, "ports.json");
  const [port, bus] =
    mode === "cluster" && existsSync(portsFile) ? (JSON.parse(readFileSync(portsFile, "utf8")) as [number, number]) : [await freePort(), await freePort()];
  if (mode === "cluster") writeFileSync(portsFile, JSON.stringify([port, bus]));
  const cluster = mode === "cluster" ? ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000", "--repl-diskless-sync-delay", "0", "--cluster-port", String(bus)] : [];
  // A locked node's users come from an ACL file (passwords hashed); its replicas follow it as the replication user.
  let locked: string[] = [];
  if (lock) {
    writeFileSync(join(dir, "users.acl"), aclFile(lock.service, lock.passwords), { mode: 0o600 });
    locked = ["--aclfile", join(dir, "users.acl"), "--masteruser", REPLICATION_USER, "--masterauth", lock.passwords.replication];
  }
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes",
    "--appendfsync", "everysec", "--save", "", "--logfile", join(dir, "redis.log"), ...cluster, ...locked];
  return new Component(name, port, "redis-server", args, {}, () => redisPing(port, lock !== undefined), "ignore");
}

export async function startStack(options: StackOptions): Promise<Stack> {
  requireProgram("redis-server");
  if (options.gateway === "nginx") requireProgram("nginx");
  const { shards, instances, dataDir } = options;
  const secrets = options.secrets ?? newStackSecrets();
  const redisAuth = { username: ADMIN_USER, password: secrets.redisAdmin, db: Number(options.env?.REDIS_DB ?? 0) };
  mkdirSync(dataDir, { recursive: true });
  const outputOf = (name: string) => (options.output === "inherit" ? "inherit" : join(dataDir, `${name}.log`));

  const redisMode = options.redisMode ?? (process.env.REDIS_MODE === "cluster" ? "cluster" : "shards");
  // A Redis Cluster needs at least 3 masters.
  const nodesPerService = redisMode === "cluster" ? Math.max(shards, 3) * (1 + (options.replicas ?? 1)) : shards;

  const redis = {} as Record<Service, Component[]>;
  const services = {} as Record<Service, Component[]>;
  const servicePorts = {} as Record<Service, number[]>;
  for (const service of SERVICES) {
    redis[service] = [];
    for (let i = 0; i < nodesPerService; i++) redis[service].push(await redisComponent(dataDir, `${service}-redis-${i}`, redisMode, { service, passwords: redisPasswords(secrets, service) }));
    servicePorts[service] = [];
    for (let i = 0; i < instances; i++) servicePorts[service].push(await freePort());
  }

  const redisAddrs = (s: Service) => redis[s].map((c) => `127.0.0.1:${c.port}`).join(",");
  const urls = (s: Service) => servicePorts[s].map((p) => `http://127.0.0.1:${p}`).join(",");
  for (const service of SERVICES) {
    services[service] = servicePorts[service].map((port, i) => {
      const name = `${service}-${i}`;
      const env = {
        PORT: String(port),
        HOST: "127.0.0.1",
        REDIS_ADDRS: redisAddrs(service),
        REDIS_MODE: redisMode,
        MACHINE_ID: `${i}/${instances}`,
        STOCK_SERVICE_URL: urls("stock"),
        PAYMENT_SERVICE_URL: urls("payment"),
        ORDER_SERVICE_URL: urls("order"),
        ...secretEnv(service, secrets),
        ...options.env,
        ...options.envFor?.(service, i),
      };
      return new Component(name, port, process.execPath, [...(options.nodeArgs ?? SERVICE_NODE_FLAGS), join(DIST, service, "main.js")], env,
        () => httpOk(`http://127.0.0.1:${port}/ready`), outputOf(name));
    });
  }
  const all = () => SERVICES.flatMap((s) => [...services[s], ...redis[s]]);

  const gatewayPort = options.gatewayPort || (await freePort());
  const nginx = options.gateway === "nginx" ? nginxComponent(dataDir, gatewayPort, servicePorts, await canListen("::1")) : undefined;
  let closeGateway = async () => {};
  try {
    await Promise.all(SERVICES.flatMap((s) => redis[s].map((c) => c.start())));
    if (redisMode === "cluster") await Promise.all(SERVICES.map((s) => formCluster(redis[s], options.replicas ?? 1, redisAuth.password)));
    // Participants first, so the order service's recovery sweep finds them up.
    await Promise.all([...services.stock, ...services.payment].map((c) => c.start()));
    await Promise.all(services.order.map((c) => c.start()));
    if (nginx) {
      await nginx.start();
      closeGateway = () => nginx.stop("SIGQUIT");
    } else {
      const gateway = await startGateway(perService((s) => services[s].map((c) => c.url)), gatewayPort);
      closeGateway = () => gateway.close();
    }
  } catch (err) {
    await Promise.all([...all(), ...(nginx ? [nginx] : [])].map((c) => c.stop("SIGKILL")));
    throw err;
  }

  let stopped: Promise<void> | undefined;
  return {
    url: `http://localhost:${gatewayPort}`,
    redisAuth,
    secrets,
    nginx,
    redis,
    services,
    all,
    stop() {
      stopped ??= (async () => {
        await closeGateway();
        await Promise.all(SERVICES.flatMap((s) => services[s].map((c) => c.stop())));
        await Promise.all(SERVICES.flatMap((s) => redis[s].map((c) => c.stop())));
      })();
      return stopped;
    },
  };
}

const EXIT_SIGNALS = ["SIGINT", "SIGTERM"] as const;

/**
 * Runs `stop` (a local stack's, and whatever else the caller cleans up), then exits with
 * `exitCode` (default 128 + the signal's number), when this process is sent SIGINT or SIGTERM. A
 * stack's processes are this process's children: a terminal's Ctrl-C reaches them all, a signal
 * sent to this process alone (a script, a supervisor) would leave them running. Returns the
 * handlers' removal, for a caller that stops the stack itself.
 */
export function stopOnSignals(stop: () => Promise<void>, exitCode?: number): () => void {
  let stopping = false;
  const handler = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    // The caller's own work now fails as its stack goes away; that must not end the process
    // (exit 1, stack half stopped) before the stop is done.
    process.on("uncaughtException", () => {});
    try {
      await stop();
    } finally {
      process.exit(exitCode ?? 128 + osConstants.signals[signal]);
    }
  };
  for (const signal of EXIT_SIGNALS) process.on(signal, handler);
  return () => {
    for (const signal of EXIT_SIGNALS) process.off(signal, handler);
  };
}

/**
 * A tool's own stack, in a new temporary data directory (`shardshop-<name>-…`). Its stop() also
 * removes that directory, and SIGINT or SIGTERM sent to this process stops it, removes it and
 * exits (stopOnSignals), also while it is still starting.
 */
export async function startTemporaryStack(name: string, options: Omit<StackOptions, "dataDir">): Promise<Stack> {
  const dataDir = mkdtempSync(join(tmpdir(), `shardshop-${name}-`));
  const removeData = () => rmSync(dataDir, { recursive: true, force: true });
  const starting = startStack({ ...options, dataDir });
  // A stack that failed to start stopped what it had started.
  const unhandle = stopOnSignals(() => starting.then((stack) => stack.stop(), () => {}).then(removeData));
  let stack: Stack;
  try {
    stack = await starting;
  } catch (err) {
    unhandle();
    removeData();
    throw err;
  }
  return {
    ...stack,
    async stop() {
      unhandle();
      await stack.stop();
      removeData();
    },
  };
}

/** Checkouts not yet finished, over every order shard (or cluster master) of the stack, read from Redis directly. */
export async function pendingCheckouts(stack: Stack): Promise<number> {
  const counts = await Promise.all(
    stack.redis.order.filter((c) => c.running).map(async (c) => {
      const r = new Redis({ port: c.port, ...stack.redisAuth, lazyConnect: true, maxRetriesPerRequest: 0 });
      try {
        if (!/cluster_enabled:1/.test(await r.info("cluster"))) return await r.zcard(PENDING_CHECKOUTS);
        // A cluster keeps one index per slot; a replica's copies are its master's.
        if (!/role:master/.test(await r.info("replication"))) return 0;
        let open = 0;
        for await (const keys of r.scanStream({ match: `${PENDING_CHECKOUTS}:*`, count: 1000 }) as AsyncIterable<string[]>) {
          for (const key of keys) open += await r.zcard(key);
        }
        return open;
      } finally {
        r.disconnect();
      }
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/**
 * Makes one Redis Cluster of `nodes`, the first `nodes.length / (1 + replicas)` as masters, unless
 * they already are one (a restart on the same data: nodes.conf remembers it), and waits until
 * every node sees every slot served and every replica is in sync.
 */
export async function formCluster(nodes: Component[], replicas: number, adminPassword?: string): Promise<void> {
  const auth = adminPassword === undefined ? [] : ["--user", ADMIN_USER, "-a", adminPassword, "--no-auth-warning"];
  const info = (c: Component) => spawnSync("redis-cli", ["-p", String(c.port), ...auth, "cluster", "info"], { encoding: "utf8" }).stdout;
  if (/cluster_known_nodes:1\b/.test(info(nodes[0]!))) {
    const created = spawnSync(
      "redis-cli",
      ["--cluster", "create", ...nodes.map((c) => `127.0.0.1:${c.port}`), "--cluster-replicas", String(replicas), "--cluster-yes", ...auth],
      { encoding: "utf8" },
    );
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
  }
  const replication = (c: Component) => spawnSync("redis-cli", ["-p", String(c.port), ...auth, "info", "replication"], { encoding: "utf8" }).stdout;
  // Every slot served, and every replica in sync as its master sees it (state=online, not still
  // loading the master's snapshot): until then a write's WAIT for a replica times out.
  const synced = (text: string) =>
    /role:slave/.test(text)
      ? /master_link_status:up/.test(text)
      : Number(/connected_slaves:(\d+)/.exec(text)?.[1] ?? 0) >= replicas && !/slave\d+:.*state=(?!online)/.test(text);
  const up = (c: Component) => /cluster_state:ok/.test(info(c)) && synced(replication(c));
  for (let i = 0; i < 300; i++) {
    if (nodes.every(up)) return;
    await sleep(100);
  }
  throw new Error("the Redis Cluster did not come up (cluster_state is not ok, or a replica is not in sync)");
}
