// The storage contract (testing/conformance.ts) on the package's own Redis host: two plain
// redis-server processes, started here, and the transfer example's begin script as the subject's.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { txLogConformance } from "../testing/conformance.js";
import { RedisNodes } from "./host.js";
import { RedisTxLog } from "./log.js";
import { loadLuaScripts, withTxLogScripts } from "./scripts.js";

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

async function redisServer(): Promise<{ url: string; process: ChildProcess }> {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const probe = new Redis(port, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on("error", () => {});
  for (let i = 0; i < 100; i++) {
    if (await probe.connect().then(() => probe.ping(), () => undefined)) break;
    await sleep(50);
  }
  probe.disconnect();
  return { url: `redis://127.0.0.1:${port}`, process: child };
}

txLogConformance("RedisNodes: two plain Redis servers", async () => {
  const servers = [await redisServer(), await redisServer()];
  const host = new RedisNodes(
    servers.map((s) => s.url),
    withTxLogScripts(loadLuaScripts(new URL("../examples/transfer/lua/", import.meta.url), ["beginTransfer"])),
  );
  const transferKey = (id: string) => `transfer:{${id}}`;
  const log = new RedisTxLog(host, {
    recordKey: transferKey,
    pendingKey: "transfers:open",
    parkedKey: "transfers:parked",
    beginScript: "beginTransfer",
    extraKeys: () => [],
    extraArgs: [],
    payload: ([from, to, amount]) => ({ from, to, amount: Number(amount) }),
    refusals: ["not_found", "made"],
    commitFields: ["made", "1"],
  });
  let n = 0;
  return {
    log,
    async newSubject() {
      const id = `t${n++}`;
      await host.clients[host.partitionOf(transferKey(id))]!.hset(transferKey(id), "from", "a", "to", "b", "amount", 5);
      return id;
    },
    refusal: "made",
    elapse: (ms) => sleep(ms),
    async close() {
      await host.close();
      for (const s of servers) s.process.kill("SIGKILL");
    },
  };
});
