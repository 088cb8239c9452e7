// Shards against a real redis-server: the commands one turn of the event loop issues leave in one
// write (the socket is corked until the turn ends), keep their order, and a shard that is gone
// still fails them as unknown outcomes. On a real Redis Cluster: a turn's writes share one WAIT,
// are answered only once the replica has them, and go on without a replica that stalls.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Component, formCluster, freePort, redisComponent } from "../local/stack.js";
import { clusterNodes, waitFor } from "../test/helpers.js";
import { registry } from "./metrics.js";
import { baseConfig } from "./config.js";

/** A service's configuration with only its Redis variables of interest (a key is required, unused here). */
const redisConfig = (env: Record<string, string>) => baseConfig.parse({ INTERNAL_KEYS: "k".repeat(32), ...env });
import { OutcomeUnknownError, Shards, StorageUnavailableError } from "./redis.js";
import { slotOf } from "./shards.js";

const INCR_BY = "return redis.call('INCRBY', KEYS[1], ARGV[1])";

describe("Shards", () => {
  let redis: Component;
  let shards: Shards<"incrBy">;
  const dir = mkdtempSync(join(tmpdir(), "shardshop-redis-"));

  beforeAll(async () => {
    const port = await freePort();
    redis = new Component("redis", port, "redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always"], {}, async () => {
      try {
        await new Shards(redisConfig({ REDIS_ADDRS: `127.0.0.1:${port}` }), new Map()).topology.connection(0)!.ping();
        return true;
      } catch {
        return false;
      }
    }, "ignore");
    await redis.start();
    shards = new Shards(redisConfig({ REDIS_ADDRS: `127.0.0.1:${port}`, REDIS_TIMEOUT_MS: "500" }), new Map([["incrBy", INCR_BY]]));
    await shards.run(0, "incrBy", ["warm"], [1]);
  });

  afterAll(async () => {
    await shards.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const readsProcessed = async () => Number(/total_reads_processed:(\d+)/.exec(await shards.topology.connection(0)!.info("stats"))![1]);

  it("sends the commands of one turn in one write, in order, and uncorks when the turn ends", async () => {
    const before = await readsProcessed();
    // 200 increments of one key in one turn: each answer is the running total, so order shows.
    const replies = await Promise.all(Array.from({ length: 200 }, () => shards.run(0, "incrBy", ["counter"], [1])));
    const reads = (await readsProcessed()) - before;
    expect(replies).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    // Redis read the burst in one read (the INFO call is the other); uncorked, it takes 13 to 27.
    expect(reads).toBeLessThanOrEqual(3);
    expect(shards.topology.connection(0)!.stream.writableCorked).toBe(0);
  });

  it("fails a command as an unknown outcome when the shard is gone", async () => {
    await redis.stop("SIGKILL");
    await expect(shards.run(0, "incrBy", ["counter"], [1])).rejects.toBeInstanceOf(OutcomeUnknownError);
    await redis.start();
    // The reconnected client serves again, and the counter is where it was before the kill.
    await expect(shards.run(0, "incrBy", ["counter"], [1])).resolves.toBe(201);
  });
  it("fails a script that writes on a node that became a replica as not run, so it may be sent again", async () => {
    const admin = shards.topology.connection(0)!.duplicate();
    await admin.replicaof("127.0.0.1", String(await freePort()));
    try {
      await expect(shards.run(0, "incrBy", ["demoted"], [1])).rejects.toBeInstanceOf(StorageUnavailableError);
    } finally {
      await admin.replicaof("NO", "ONE");
      admin.disconnect();
    }
    // Nothing of it was applied.
    expect(await shards.run(0, "incrBy", ["demoted"], [1])).toBe(1);
  });

  it("retries a read, or a change marked safe to repeat, while the shard restarts, and never a change that is not", async () => {
    await redis.stop("SIGKILL");
    const read = shards.recovering(() => shards.callFor("x", "get", (c) => c.get("counter")), true);
    const unsafe = shards.recovering(() => shards.run(0, "incrBy", ["counter"], [1]), false);
    // The change not safe to repeat failed as unknown at once, the shard still down...
    await expect(unsafe).rejects.toBeInstanceOf(OutcomeUnknownError);
    expect(redis.running).toBe(false);
    // ...while the read waits for the shard and then answers.
    await redis.start();
    await expect(read).resolves.toBe("201");
  });
});

describe("Shards on a Redis Cluster", () => {
  const dir = mkdtempSync(join(tmpdir(), "shardshop-redis-cluster-"));
  const nodes: Component[] = [];
  let shards: Shards<"incrBy">;
  /** A key of one slot, and the master and replica that hold it. */
  const KEY = "counter:{wait}";
  let master: Component;
  let replica: Component;

  const cli = (node: Component, ...args: string[]) => spawnSync("redis-cli", ["-p", String(node.port), ...args], { encoding: "utf8" }).stdout;
  const waits = () => Number(/cmdstat_wait:calls=(\d+)/.exec(cli(master, "info", "commandstats"))?.[1] ?? 0);

  beforeAll(async () => {
    for (let i = 0; i < 6; i++) nodes.push(await redisComponent(dir, `node-${i}`, "cluster"));
    await Promise.all(nodes.map((n) => n.start()));
    await formCluster(nodes, 1);
    master = nodes.find(ownsSlot)!;
    replica = nodes.find((n) => cli(n, "info", "replication").includes(`master_port:${master.port}`))!;
    shards = new Shards(redisConfig({ REDIS_MODE: "cluster", REDIS_ADDRS: `127.0.0.1:${nodes[0]!.port}`, REDIS_WAIT_TIMEOUT_MS: "3000", REDIS_TIMEOUT_MS: "10000" }), new Map([["incrBy", INCR_BY]]));
    await shards.runFor("{wait}", "incrBy", [KEY], [0]);
  });

  /** Whether `node` serves the key's slot. */
  function ownsSlot(node: Component): boolean {
    const slot = slotOf(KEY);
    return clusterNodes(node.port).find((n) => n.flags.includes("myself"))!.slots.some(([a, b]) => slot >= a && slot <= b);
  }

  afterAll(async () => {
    await shards.close();
    await Promise.all(nodes.map((n) => n.stop("SIGKILL")));
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers a turn's writes once the replica has them all, with one WAIT sent behind them", async () => {
    const before = waits();
    const replies = await Promise.all(Array.from({ length: 100 }, () => shards.runFor("{wait}", "incrBy", [KEY], [1])));
    expect(replies).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(waits() - before).toBe(1);
    // Acknowledged means replicated: the replica has the last write the moment the answers came.
    const onReplica = spawnSync("redis-cli", ["-p", String(replica.port)], { input: `READONLY\nGET ${KEY}\n`, encoding: "utf8" }).stdout;
    expect(onReplica.split("\n")[1]).toBe("100");
  });

  it("goes on without a replica that stalls, once its node shows it behind, and waits for it again once it is back", async () => {
    const belowTarget = async () => (await registry.getSingleMetric("shardshop_redis_writes_below_replica_target_total")!.get()).values.reduce((n, v) => n + v.value, 0);
    const countedBefore = await belowTarget();
    replica.proc!.kill("SIGSTOP");
    try {
      // A replica acknowledges every second: one silent for two is behind.
      await waitFor("the master to show the replica behind", () => /lag=([2-9]|\d\d+)/.test(cli(master, "info", "replication")), 30_000, 100);
      // The turn's WAIT runs out, and the master shows the replica behind: the writes are
      // acknowledged on the master alone, not failed.
      const replies = await Promise.all(Array.from({ length: 5 }, () => shards.runFor("{wait}", "incrBy", [KEY], [1])));
      expect(replies).toEqual([101, 102, 103, 104, 105]);
      expect(await belowTarget()).toBeGreaterThan(countedBefore);
      // From then on a write does not wait for it at all.
      const before = waits();
      expect(await shards.runFor("{wait}", "incrBy", [KEY], [1])).toBe(106);
      expect(waits()).toBe(before);
    } finally {
      replica.proc!.kill("SIGCONT");
    }
    // Back, and acknowledging again: writes wait for it again, and it has them.
    const before = waits();
    await waitFor("writes waiting for the replica again", async () => {
      await shards.runFor("{wait}", "incrBy", [KEY], [1]);
      return waits() > before;
    }, 30_000, 100);
    const last = Number(cli(master, "get", KEY).trim());
    const onReplica = spawnSync("redis-cli", ["-p", String(replica.port)], { input: `READONLY\nGET ${KEY}\n`, encoding: "utf8" }).stdout;
    expect(Number(onReplica.split("\n")[1])).toBe(last);
  });
});
