// Shards against a real redis-server: the commands one turn of the event loop issues leave in one
// write (the socket is corked until the turn ends), keep their order, and a shard that is gone
// still fails them as unknown outcomes.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Component, freePort } from "../local/stack.js";
import { baseConfig } from "./config.js";
import { OutcomeUnknownError, Shards } from "./redis.js";

const INCR_BY = "return redis.call('INCRBY', KEYS[1], ARGV[1])";

describe("Shards", () => {
  let redis: Component;
  let shards: Shards<"incrBy">;
  const dir = mkdtempSync(join(tmpdir(), "shardshop-redis-"));

  beforeAll(async () => {
    const port = await freePort();
    redis = new Component("redis", port, "redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always"], {}, async () => {
      try {
        await new Shards(baseConfig.parse({ REDIS_ADDRS: `127.0.0.1:${port}` }), new Map()).topology.connection(0)!.ping();
        return true;
      } catch {
        return false;
      }
    }, "ignore");
    await redis.start();
    shards = new Shards(baseConfig.parse({ REDIS_ADDRS: `127.0.0.1:${port}`, REDIS_TIMEOUT_MS: "500" }), new Map([["incrBy", INCR_BY]]));
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
});
