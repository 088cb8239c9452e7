// The storage contract (testing/conformance.ts) on the package's own Redis host: two plain
// redis-server processes, started here, holding the transfer example's records (RedisNodes, and
// its begin script as the subject's).
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { Transfers } from "../examples/transfer/transfer.mjs";
import { txLogConformance } from "../testing/conformance.js";

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
  const transfers = new Transfers(servers.map((s) => s.url));
  let n = 0;
  return {
    log: transfers.log,
    async newSubject() {
      const id = `t${n++}`;
      await transfers.create(id, "a", "b", 5);
      return id;
    },
    refusal: "made",
    elapse: (ms) => sleep(ms),
    async close() {
      await transfers.close();
      for (const s of servers) s.process.kill("SIGKILL");
    },
  };
});
