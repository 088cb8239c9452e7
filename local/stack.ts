// The whole system on one machine without Docker: redis-server shards with AOF for each service,
// the service processes, and the gateway. `npm start` uses it, and so do the tests and benchmarks,
// so what we test is what users run.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { createServer, connect } from "node:net";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { startGateway, type Gateway } from "./gateway.js";

export const SERVICES = ["order", "stock", "payment"] as const;
export type Service = (typeof SERVICES)[number];

// This file runs compiled (dist/local/) or from source under vitest (local/); services always compiled.
const HERE = fileURLToPath(new URL(".", import.meta.url));
const DIST = join(resolve(HERE, HERE.includes("/dist/") ? "../.." : ".."), "dist");

export interface StackOptions {
  /** Redis shards per service. */
  shards: number;
  /** Processes per service. */
  instances: number;
  /** Where each shard keeps its AOF; shard i of a service always uses the same folder. */
  dataDir: string;
  /** Gateway port; 0 picks a free one. */
  gatewayPort: number;
  /** Extra environment for every service process, or per process (e.g. a fault point). */
  env?: Record<string, string>;
  envFor?: (service: Service, instance: number) => Record<string, string> | undefined;
  /** Where child processes write their output: "inherit" (a terminal) or files in dataDir. */
  output?: "inherit" | "files";
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
    private readonly output: "inherit" | string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const stdio = this.output === "inherit" ? "inherit" : ["ignore", "pipe", "pipe"];
    const proc = spawn(this.command, this.args, { env: { ...process.env, ...this.env }, stdio: stdio as "inherit" });
    if (this.output !== "inherit") {
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
  gateway: Gateway;
  redis: Record<Service, Component[]>;
  services: Record<Service, Component[]>;
  all(): Component[];
  stop(): Promise<void>;
}

/** Says how to get redis-server when it is not installed, instead of a spawn error. */
export function requireRedisServer(): void {
  if (spawnSync("redis-server", ["--version"]).error) {
    throw new Error(
      "redis-server was not found on PATH. Install it first:\n" +
        "  Debian/Ubuntu: sudo apt-get install -y redis-server\n" +
        "  macOS:         brew install redis\n" +
        "  Fedora:        sudo dnf install redis",
    );
  }
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** Sends PING and waits for PONG (not LOADING): the shard has loaded its AOF and serves. */
function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let reply = "";
    socket.setTimeout(500, () => socket.destroy());
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (d) => {
      reply += d;
      if (reply.includes("\r\n")) socket.end();
    });
    socket.on("close", () => resolve(reply.startsWith("+PONG")));
    socket.on("error", () => {});
  });
}

async function httpOk(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

export async function startStack(options: StackOptions): Promise<Stack> {
  requireRedisServer();
  const { shards, instances, dataDir } = options;
  mkdirSync(dataDir, { recursive: true });
  const outputOf = (name: string) => (options.output === "inherit" ? "inherit" : join(dataDir, `${name}.log`));

  const redis = {} as Record<Service, Component[]>;
  const services = {} as Record<Service, Component[]>;
  const servicePorts = {} as Record<Service, number[]>;
  for (const service of SERVICES) {
    redis[service] = [];
    for (let i = 0; i < shards; i++) {
      const name = `${service}-redis-${i}`;
      const dir = join(dataDir, name);
      mkdirSync(dir, { recursive: true });
      const port = await freePort();
      const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes",
        "--appendfsync", "everysec", "--save", "", "--logfile", join(dir, "redis.log")];
      redis[service].push(new Component(name, port, "redis-server", args, {}, () => redisPing(port), "inherit"));
    }
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
        MACHINE_ID: `${i}/${instances}`,
        STOCK_SERVICE_URL: urls("stock"),
        PAYMENT_SERVICE_URL: urls("payment"),
        ORDER_SERVICE_URL: urls("order"),
        ...options.env,
        ...options.envFor?.(service, i),
      };
      return new Component(name, port, process.execPath, [join(DIST, service, "main.js")], env,
        () => httpOk(`http://127.0.0.1:${port}/ready`), outputOf(name));
    });
  }
  const all = () => SERVICES.flatMap((s) => [...services[s], ...redis[s]]);

  let gateway: Gateway;
  try {
    await Promise.all(SERVICES.flatMap((s) => redis[s].map((c) => c.start())));
    // Participants first, so the order service's recovery sweep finds them up.
    await Promise.all([...services.stock, ...services.payment].map((c) => c.start()));
    await Promise.all(services.order.map((c) => c.start()));
    const upstream = (s: Service) => services[s].map((c) => c.url);
    gateway = await startGateway({ order: upstream("order"), stock: upstream("stock"), payment: upstream("payment") }, options.gatewayPort);
  } catch (err) {
    await Promise.all(all().map((c) => c.stop("SIGKILL")));
    throw err;
  }
  const port = (gateway.servers[0]!.address() as { port: number }).port;

  return {
    url: `http://localhost:${port}`,
    gateway,
    redis,
    services,
    all,
    async stop() {
      await gateway.close();
      await Promise.all(SERVICES.flatMap((s) => services[s].map((c) => c.stop())));
      await Promise.all(SERVICES.flatMap((s) => redis[s].map((c) => c.stop())));
    },
  };
}
