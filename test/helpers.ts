// Shared by the integration tests: a real stack per test file and a small HTTP client for it.
import type { Redis } from "ioredis";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pendingCheckouts, startStack, type Stack, type StackOptions } from "../local/stack.js";
import { connect } from "node:net";
import { must } from "../tools/consistency.js";
import { apiClient, type Api } from "../tools/workload.js";
import { TX_PROTOCOLS, type TxProtocol } from "@shardshop/orchestrator";
import { AUTH_HEADER, RequestSigner } from "../common/internal-auth.js";
import type { Service } from "../common/services.js";

/** A client bound to one base URL (the gateway or a single instance), with `connections` sockets at most. */
/**
 * The protocol the stack under test runs: services inherit TX_PROTOCOL from the test process, and
 * `npm test` runs the integration tests once per protocol.
 */
export const PROTOCOL: TxProtocol = TX_PROTOCOLS.find((p) => p === process.env.TX_PROTOCOL) ?? "saga";

export const client = (base: string, connections = 16) => apiClient(base, connections);
export type Client = Api;

/**
 * Sends `request` byte for byte over a plain socket and returns the raw answer: for request targets
 * that any URL-parsing client would normalise before sending, and for malformed HTTP.
 */
export function rawHttp(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(request));
    let reply = "";
    socket.on("data", (d) => (reply += d));
    socket.on("close", () => resolve(reply));
    socket.on("error", () => resolve(reply));
    setTimeout(() => socket.destroy(), 3000);
  });
}

/** Whether something listens on the loopback port: a connection is accepted, not refused. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

/**
 * Connections to the loopback port whose received bytes nobody has read yet (Linux's
 * /proc/net/tcp{,6}): requests waiting at a process that is stopped.
 */
export function unreadConnections(port: number): number {
  const local = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  return ["/proc/net/tcp", "/proc/net/tcp6"]
    .flatMap((file) => readFileSync(file, "utf8").split("\n").slice(1))
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[1]?.endsWith(local) && f[3] === "01" && parseInt(f[4]!.split(":")[1]!, 16) > 0).length;
}

/**
 * A POST straight to an internal route of a service's first instance, signed with the key the
 * service accepts, as the order service signs its calls. `body` is sent as given when a string.
 */
export function internalPost(stack: Stack, service: Service, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  const payload = typeof body === "string" ? body : JSON.stringify(body);
  const auth = new RequestSigner(service, stack.secrets.internalKeys[service]).sign("POST", path, payload);
  return fetch(`${stack.services[service][0]!.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", [AUTH_HEADER]: auth, ...headers },
    body: payload,
  });
}

export interface TestStack extends Stack {
  api: Client;
  dataDir: string;
  teardown(): Promise<void>;
}

export async function startTestStack(options: Partial<StackOptions> = {}): Promise<TestStack> {
  const dataDir = mkdtempSync(join(tmpdir(), "shardshop-test-"));
  const stack = await startStack({ shards: 1, instances: 1, gatewayPort: 0, dataDir, output: "files", ...options });
  const api = client(stack.url);
  return {
    ...stack,
    api,
    dataDir,
    async teardown() {
      await api.close();
      await stack.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Waits for a situation a test needs: asks `probe` every `everyMs`, for at most `ms`, until it
 * answers something truthy, and returns that; fails naming the situation that never came. A test
 * waits for what it needs instead of sleeping for a time that is enough only on a quiet machine.
 */
export async function waitFor<T>(situation: string, probe: () => T | false | undefined | Promise<T | false | undefined>, ms = 30_000, everyMs = 50): Promise<T> {
  for (const deadline = Date.now() + ms; ; await sleep(everyMs)) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`waited ${ms} ms for ${situation}, and it never came`);
  }
}

/** Waits until the checkout of `order` has written its transaction record (before any participant is called). */
export function checkoutBegun(orderShard: Redis, order: string): Promise<boolean> {
  return waitFor(`order ${order}'s transaction record`, async () => (await orderShard.hget(`order:{${order}}`, "tx_state")) === "trying", 10_000, 20);
}

/** Waits until no checkout of the stack is open (every one committed or fully rolled back). */
export async function settled(stack: Stack, ms = 30_000): Promise<void> {
  await waitFor("every checkout to be committed or rolled back", async () => (await pendingCheckouts(stack)) === 0, ms, 100);
}

/**
 * Shop fixtures through the public API. Every call must answer 200, so a test never builds on a
 * failed setup; changes go with an Idempotency-Key and are re-sent while their answer is lost, as a
 * careful client would, so setup that meets a fault still completes, once.
 */
export function shop(api: Client) {
  return {
    async item(price: number, stock: number): Promise<string> {
      const { item_id } = await must(api.postOnce(`/stock/item/create/${price}`), "item/create");
      if (stock > 0) await must(api.postOnce(`/stock/add/${item_id}/${stock}`), "stock/add");
      return item_id;
    },
    async user(credit: number): Promise<string> {
      const { user_id } = await must(api.postOnce("/payment/create_user"), "create_user");
      if (credit > 0) await must(api.postOnce(`/payment/add_funds/${user_id}/${credit}`), "add_funds");
      return user_id;
    },
    async order(userId: string, items: Array<[string, number]>): Promise<string> {
      const { order_id } = await must(api.postOnce(`/orders/create/${userId}`), "orders/create");
      for (const [item, qty] of items) await must(api.postOnce(`/orders/addItem/${order_id}/${item}/${qty}`), "addItem");
      return order_id;
    },
    async stock(itemId: string): Promise<number> {
      return (await must(api.get(`/stock/find/${itemId}`), "stock/find")).stock;
    },
    async credit(userId: string): Promise<number> {
      return (await must(api.get(`/payment/find_user/${userId}`), "find_user")).credit;
    },
    async paid(orderId: string): Promise<boolean> {
      return (await must(api.get(`/orders/find/${orderId}`), "orders/find")).paid;
    },
  };
}

/**
 * The sum of a metric's samples, in Prometheus text format, whose labels include `labels`
 * (0 when there is none).
 */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const has = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => [k, v]));
    if (Object.entries(labels).every(([k, v]) => has[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

/** A service instance's /metrics text. */
export async function scrape(component: { url: string }): Promise<string> {
  const res = await fetch(`${component.url}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

/** One node of a Redis Cluster, as CLUSTER NODES lists it: its flags, its master (for a replica), and the slot ranges it serves. */
export interface ClusterNode {
  id: string;
  port: number;
  flags: string[];
  /** The master's id for a replica, "-" for a master. */
  of: string;
  /** Served slot ranges, inclusive; slots in migration ("[...]") left out. */
  slots: Array<[number, number]>;
}

/** The cluster as the node on `port` sees it (CLUSTER NODES). */
export function clusterNodes(port: number, auth?: { username?: string; password: string }): ClusterNode[] {
  const env = auth === undefined ? process.env : { ...process.env, REDISCLI_AUTH: auth.password };
  const user = auth?.username === undefined ? [] : ["--user", auth.username];
  return spawnSync("redis-cli", ["-p", String(port), ...user, "cluster", "nodes"], { encoding: "utf8", env })
    .stdout.trim()
    .split("\n")
    .map((line) => line.split(" "))
    .map((f) => ({
      id: f[0]!,
      port: Number(f[1]!.split(":")[1]!.split("@")[0]),
      flags: f[2]!.split(","),
      of: f[3]!,
      slots: f.slice(8).filter((r) => !r.startsWith("[")).map((r) => r.split("-").map(Number)).map(([a, b]) => [a!, b ?? a!] as [number, number]),
    }));
}
