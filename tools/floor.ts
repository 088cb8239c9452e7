// The floor a checkout cannot go below on this machine, measured with the shop's own parts (the
// bench's `floor` scenario). A checkout needs at the least:
//   - one public request through the gateway to a handler that calls Redis once: a find (measured
//     by the bench's `find` scenario, on the stack under test, in the same run);
//   - its writes: here one EVALSHA of a script that writes as many keys as a checkout's scripts
//     write together (CHECKOUT_KEYS_WRITTEN), from the shop's Redis client, on a redis-server with
//     AOF as the stack runs it;
//   - its share of the internal calls: a try and a confirm to each participant, each a member of
//     a batch as large as the checkout's batches are, through the shop's signed client and its
//     service app (authentication, metrics, JSON) to a handler that answers each member done.
// Each piece is CPU per unit of work, summed over every process it takes (client, server, Redis).
//
// `node dist/tools/floor.js serve` is the internal-call server's process (started by the bench).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { baseConfig, loadConfig } from "../common/config.js";
import { ServiceClient } from "../common/http.js";
import { newKey, RequestSigner } from "../common/internal-auth.js";
import { Shards } from "../common/redis.js";
import { startService } from "../common/server.js";
import { Component, DIST, freePort, httpOk, redisComponent, SERVICE_NODE_FLAGS } from "../local/stack.js";
import { newTxId } from "@shardshop/orchestrator";
import { loadLuaScripts } from "@shardshop/orchestrator/redis";
import { isMain } from "./cli.js";
import { cpuSecondsOf } from "./procstats.js";

/**
 * The keys a checkout of two items writes, on all its shards together: the order's hash (its
 * record) and its partition's index of open checkouts; each item's hash and its transaction marker;
 * the user's hash and its marker.
 */
export const CHECKOUT_KEYS_WRITTEN = 8;
/** The internal calls a checkout makes, each one member of a batch: a try and a confirm to each of stock and payment. */
export const CHECKOUT_INTERNAL_MEMBERS = 4;

const FLOOR_PATH = "/internal/floor/batch";
/** The service name the floor's server signs and verifies calls as (any of the shop's will do). */
const AUDIENCE = "stock";

export interface FloorResult {
  /** CPU per find, all processes, from the same run's find scenario. */
  findUs: number;
  script: { keys: number; calls: number; redisUs: number; clientUs: number; totalUs: number };
  internalCall: { batch: number; members: number; serverUsPerMember: number; clientUsPerMember: number; totalUsPerMember: number };
  /** find + script + CHECKOUT_INTERNAL_MEMBERS internal members: CPU per checkout at the floor. */
  floorUs: number;
}

/** Runs `work` with `concurrency` loops for `seconds`; answers how many units were done and the CPU seconds of this process and of `pids`. */
async function measured(seconds: number, concurrency: number, pids: number[], work: () => Promise<number>): Promise<{ units: number; ownCpu: number; pidCpu: number[] }> {
  const until = Date.now() + seconds * 1000;
  const before = { own: process.cpuUsage(), pids: pids.map(cpuSecondsOf) };
  let units = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < until) {
        // Not `units += await work()`: that reads `units` before the await and loses the other loops' counts.
        const done = await work();
        units += done;
      }
    }),
  );
  const own = process.cpuUsage(before.own);
  return { units, ownCpu: (own.user + own.system) / 1e6, pidCpu: pids.map((pid, i) => cpuSecondsOf(pid) - before.pids[i]!) };
}

const us = (cpuSeconds: number, units: number) => Math.round((cpuSeconds * 1e6) / Math.max(1, units));

/** Measures the script and internal-call pieces (`seconds` each) and adds the find's CPU to make the floor. */
export async function measureFloor(options: { findUs: number; batch: number; seconds?: number }): Promise<FloorResult> {
  const seconds = options.seconds ?? 5;
  const dir = mkdtempSync(join(tmpdir(), "shardshop-floor-"));
  const redis = await redisComponent(dir, "floor-redis", "shards");
  await redis.start();
  const config = loadConfig("floor", baseConfig, { REDIS_ADDRS: `127.0.0.1:${redis.port}`, INTERNAL_KEYS: newKey() });
  const shards = new Shards(config, loadLuaScripts(new URL("./lua/", import.meta.url), ["floorWrite"] as const));
  let server: Component | undefined;
  try {
    // The write: as many in flight as the order service has under the bench's 64 connections.
    await shards.ready();
    const space = 100_000;
    const write = () =>
      shards
        .run(0, "floorWrite", Array.from({ length: CHECKOUT_KEYS_WRITTEN }, () => `floor:{${Math.floor(Math.random() * space)}}`), [1])
        .then(() => 1);
    await measured(1, 64, [], write);
    const w = await measured(seconds, 64, [redis.proc!.pid!], write);
    const redisUs = us(w.pidCpu[0]!, w.units);
    const clientUs = us(w.ownCpu, w.units);
    const script = { keys: CHECKOUT_KEYS_WRITTEN, calls: w.units, redisUs, clientUs, totalUs: redisUs + clientUs };

    // The internal call: a few batches in flight, as the coalescer keeps per participant.
    const port = await freePort();
    const key = newKey();
    const env = { PORT: String(port), HOST: "127.0.0.1", REDIS_ADDRS: `127.0.0.1:${redis.port}`, INTERNAL_KEYS: key, LOG_LEVEL: "warn", MACHINE_ID: "0/1" };
    server = new Component("floor-server", port, process.execPath, [...SERVICE_NODE_FLAGS, join(DIST, "tools", "floor.js"), "serve"], env, () => httpOk(`http://127.0.0.1:${port}/health`), "ignore");
    await server.start();
    const client = new ServiceClient([server.url], { timeoutMs: 5000, connections: 16, signer: new RequestSigner(AUDIENCE, key) });
    const batch = Math.max(1, Math.round(options.batch));
    const call = async () => {
      const txs = Array.from({ length: batch }, () => ({ tx: newTxId(), items: [[String(Math.floor(Math.random() * space)), 1], [String(Math.floor(Math.random() * space)), 1]] }));
      const reply = await client.request<{ results: unknown[] }>("POST", FLOOR_PATH, { body: { txs } });
      if (reply.status !== 200 || reply.body?.results?.length !== batch) throw new Error(`the floor's batch answered ${reply.status}`);
      return batch;
    };
    const c = await measured(1, 4, [], call)
      .then(() => measured(seconds, 4, [server!.proc!.pid!], call))
      .finally(() => client.close());
    // Per member to a tenth of a µs: a member costs a few µs, and the floor multiplies it.
    const tenths = (cpuSeconds: number) => Math.round((cpuSeconds * 1e7) / c.units) / 10;
    const serverUsPerMember = tenths(c.pidCpu[0]!);
    const clientUsPerMember = tenths(c.ownCpu);
    const totalUsPerMember = Math.round(10 * (serverUsPerMember + clientUsPerMember)) / 10;
    const internalCall = { batch, members: c.units, serverUsPerMember, clientUsPerMember, totalUsPerMember };
    const floorUs = Math.round(options.findUs + script.totalUs + CHECKOUT_INTERNAL_MEMBERS * totalUsPerMember);
    return { findUs: options.findUs, script, internalCall, floorUs };
  } finally {
    await server?.stop();
    await shards.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The floor's internal-call server: the shop's service app with one internal route answering each member of a batch done. */
async function serve(): Promise<void> {
  const config = loadConfig("floor", baseConfig);
  const shards = new Shards(config, new Map<string, string>());
  await startService({
    name: AUDIENCE,
    config,
    shards,
    mount: (app) => {
      app.serve("POST", FLOOR_PATH, async (c) => {
        const body = (await c.req.json()) as { txs?: unknown };
        if (!Array.isArray(body.txs)) return c.json({ error: "txs: expected an array" }, 400);
        return c.json({ results: body.txs.map(() => ({ status: "done" })) });
      });
    },
  });
}

if (isMain(import.meta.url) && process.argv[2] === "serve") await serve();
