// The Helm chart's Redis Cluster scripts (k8s/files), run as the chart runs them but on real local
// redis-servers: the node script starts each node, the join script forms the cluster and changes
// nothing when run again, and when the StatefulSet grows it adds a master (moving slots onto it,
// keys and all) and a replica. Nodes that all come back at addresses their nodes.conf does not
// know, as pods do when they are all rescheduled, find each other again.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_USER_RULES, DEFAULT_USER_LINE, HEALTH_USER_LINE, REPLICATION_USER_RULES, serviceUserRules } from "../deploy/redis-acl.js";
import { Component, freePort, redisPing } from "../local/stack.js";
import { clusterNodes, waitFor } from "./helpers.js";

/** The admin user's password: the join script and these checks act as the chart's Job does. */
const PASSWORD = "chart-cluster-admin-pw";
const NODE_SCRIPT = "k8s/files/redis-node.sh";
/** The environment the chart gives every node (k8s/templates/redis.yaml). */
const NODE_ENV = {
  SERVICE: "stock",
  SERVICE_PASSWORD: "chart-cluster-stock-pw",
  REPLICATION_PASSWORD: "chart-cluster-replication-pw",
  ADMIN_PASSWORD: PASSWORD,
  DEFAULT_USER_LINE,
  HEALTH_USER_LINE,
  SERVICE_USER_RULES: serviceUserRules("stock"),
  REPLICATION_USER_RULES,
  ADMIN_USER_RULES,
  MAXMEMORY: "64mb",
  CLUSTER: "yes",
};
const JOIN_SCRIPT = "k8s/files/redis-cluster-join.sh";

let dataDir: string;
const nodes: Component[] = [];

async function addNode(): Promise<Component> {
  const [port, bus] = [await freePort(), await freePort()];
  const dir = join(dataDir, `node-${nodes.length}`);
  mkdirSync(dir, { recursive: true });
  const env = { ...NODE_ENV, ANNOUNCE_HOSTNAME: "localhost", NODE_TIMEOUT_MS: "1000", DATA_DIR: dir, ACL_FILE: join(dir, "users.acl"), REDIS_PORT: String(port), CLUSTER_BUS_PORT: String(bus) };
  const node = new Component(`node-${nodes.length}`, port, "sh", [NODE_SCRIPT], env, () => redisPing(port), join(dir, "out.log"));
  await node.start();
  nodes.push(node);
  return node;
}

const cli = (port: number, ...args: string[]) =>
  spawnSync("redis-cli", ["-p", String(port), "--user", "admin", ...args], { encoding: "utf8", env: { ...process.env, REDISCLI_AUTH: PASSWORD } }).stdout.trim();

/** Runs the join script as the chart's Job does, over the first `count` nodes. */
function join_(count: number, masters: number): string {
  const run = spawnSync("sh", [JOIN_SCRIPT], {
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, NODES: nodes.slice(0, count).map((n) => `127.0.0.1:${n.port}`).join(" "), MASTERS: String(masters), REPLICAS: "1", REDISCLI_AUTH: PASSWORD, TRIES: "60" },
  });
  expect(run.status, run.stdout + run.stderr).toBe(0);
  return run.stdout;
}

/** The cluster as a node sees it: each node's port, role, master (for a replica) and slot count. */
const view = (port: number) =>
  clusterNodes(port, { username: "admin", password: PASSWORD }).map(({ id, port, flags, of, slots }) => ({ id, port, master: flags.includes("master"), of, slots: slots.reduce((n, [a, b]) => n + b - a + 1, 0) }));

const state = (port: number) => /cluster_state:ok/.test(cli(port, "cluster", "info"));

/** Keys written through the cluster (redis-cli -c follows MOVED), to read back after slots move. */
const KEYS = Array.from({ length: 60 }, (_, i) => `item:{${i}}`);

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "shardshop-chart-cluster-"));
  for (let i = 0; i < 6; i++) await addNode();
});

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop("SIGKILL")));
  rmSync(dataDir, { recursive: true, force: true });
});

describe("the chart's Redis Cluster scripts", () => {
  it("create a cluster of 3 masters, each with a replica, from fresh nodes", () => {
    expect(join_(6, 3)).toMatch(/creating the cluster: 3 masters, 1 replica/);
    for (const node of nodes) expect(state(node.port), node.name).toBe(true);
    const cluster = view(nodes[0]!.port);
    const masters = cluster.filter((n) => n.master);
    expect(masters).toHaveLength(3);
    expect(masters.reduce((n, m) => n + m.slots, 0)).toBe(16384);
    expect(cluster.filter((n) => !n.master).map((r) => r.of).sort()).toEqual(masters.map((m) => m.id).sort());
    for (const key of KEYS) expect(cli(nodes[0]!.port, "-c", "set", key, key)).toBe("OK");
  });

  it("change nothing when run again", () => {
    const epoch = () => cli(nodes[0]!.port, "cluster", "info").match(/cluster_current_epoch:(\d+)/)![1];
    const before = [epoch(), view(nodes[0]!.port)];
    const out = join_(6, 3);
    expect(out).not.toMatch(/creating|joins|moving/);
    expect(out).toMatch(/cluster ok: 3 masters, 6 nodes/);
    expect([epoch(), view(nodes[0]!.port)]).toEqual(before);
  });

  it("add a master, with its share of the slots and their keys, and a replica for it, when the StatefulSet grows", async () => {
    await addNode();
    await addNode();
    const out = join_(8, 4);
    expect(out).toMatch(new RegExp(`127.0.0.1:${nodes[6]!.port} joins as a master`));
    expect(out).toMatch(new RegExp(`127.0.0.1:${nodes[7]!.port} joins as a replica`));
    const cluster = view(nodes[0]!.port);
    const masters = cluster.filter((n) => n.master);
    expect(masters).toHaveLength(4);
    // Rebalanced: each master serves about a quarter of the slots.
    for (const m of masters) expect(m.slots).toBeGreaterThan(16384 / 4 - 100);
    expect(cluster.filter((n) => !n.master).map((r) => r.of).sort()).toEqual(masters.map((m) => m.id).sort());
    for (const key of KEYS) expect(cli(nodes[3]!.port, "-c", "get", key)).toBe(key);
  });

  it("find each other again when every node comes back at an address nodes.conf does not know", async () => {
    await Promise.all(nodes.map((n) => n.stop("SIGKILL")));
    // As if every pod got a new IP: nodes.conf now names addresses nobody listens on (TEST-NET-1).
    for (let i = 0; i < nodes.length; i++) {
      const conf = join(dataDir, `node-${i}`, "nodes.conf");
      writeFileSync(conf, readFileSync(conf, "utf8").replaceAll("127.0.0.1:", "192.0.2.1:"));
    }
    await Promise.all(nodes.map((n) => n.start()));
    const healed = () => nodes.every((n) => state(n.port) && view(n.port).length === nodes.length);
    await waitFor("every node to see every other at its new address, with every slot served", healed, 60_000, 100);
    expect(view(nodes[0]!.port).filter((n) => n.master)).toHaveLength(4);
    for (const key of KEYS) expect(cli(nodes[5]!.port, "-c", "get", key)).toBe(key);
  });
});
