// The engine's storage contract (orchestrator/testing/conformance.ts), run against the record the
// shop keeps: the order's hash and the checkout indexes, on real redis-server shards and on a real
// Redis Cluster. The same suite runs against the in-memory fake the property tests rest on
// (orchestrator/testing/conformance.test.ts) and the package's plain Redis host
// (orchestrator/redis/log.test.ts).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { txLogConformance } from "@shardshop/orchestrator/testing";
import { baseConfig } from "../common/config.js";
import { formCluster, redisComponent, type Component } from "../local/stack.js";
import { OrderStore } from "../order/store.js";

for (const mode of ["shards", "cluster"] as const) {
  txLogConformance(`the order's checkout record on Redis (${mode})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), `conformance-${mode}-`));
    const servers: Component[] = [];
    for (let i = 0; i < 3; i++) servers.push(await redisComponent(dir, `r${i}`, mode));
    await Promise.all(servers.map((s) => s.start()));
    if (mode === "cluster") await formCluster(servers, 0);
    // The store uses no internal key; the configuration requires one.
    const config = baseConfig.parse({
      REDIS_ADDRS: servers.map((s) => `127.0.0.1:${s.port}`).join(","),
      REDIS_MODE: mode,
      LOG_LEVEL: "silent",
      INTERNAL_KEYS: "k".repeat(32),
    });
    const store = new OrderStore(config);
    let n = 0;
    return {
      log: store.checkouts,
      async newSubject() {
        const id = await store.create(`user-${n}`);
        await store.addItem(id, `item-${n++}`, 1, 5);
        return id;
      },
      refusal: "paid",
      elapse: (ms) => sleep(ms),
      async close() {
        await store.shards.close();
        await Promise.all(servers.map((s) => s.stop()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
}
