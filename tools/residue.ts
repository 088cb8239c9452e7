// `npm run residue [-- options]`: what finished checkouts leave behind on each Redis shard. It starts
// a local stack (one shard per service), creates N orders with their items and users, checks every
// order out, then reports keys and bytes (DBSIZE, INFO memory's used_memory) against the moment
// before the checkouts: right after, and again at each given number of minutes.
//
//   --checkouts N      distinct checkouts (default 38112, the figure issue 12 measured)
//   --after M,M,...    minutes after the last answer to measure again (default 15,61)
//   --protocol P       saga or 2pc (default: TX_PROTOCOL, else saga)
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { SERVICES, type Service } from "../common/services.js";
import { startTemporaryStack } from "../local/stack.js";
import { helpFromHeader, isMain, parseArgs, protocolArg } from "./cli.js";
import { apiClient, mapLimit } from "./workload.js";

type Footprint = Record<Service, { keys: number; bytes: number }>;

async function footprint(clients: Record<Service, Redis>): Promise<Footprint> {
  const entries = await Promise.all(
    SERVICES.map(async (s) => {
      const memory = await clients[s].info("memory");
      return [s, { keys: await clients[s].dbsize(), bytes: Number(/used_memory:(\d+)/.exec(memory)![1]) }] as const;
    }),
  );
  return Object.fromEntries(entries) as Footprint;
}

function printAgainst(label: string, before: Footprint, now: Footprint, checkouts: number): void {
  const parts = SERVICES.map((s) => {
    const keys = now[s].keys - before[s].keys;
    const perCheckout = (now[s].bytes - before[s].bytes) / checkouts;
    return `${s} ${keys >= 0 ? "+" : ""}${keys} keys, ${perCheckout.toFixed(1)} B/checkout`;
  });
  console.log(`${label}: ${parts.join("; ")}`);
}

if (isMain(import.meta.url)) {
  const args = parseArgs(process.argv.slice(2));
  helpFromHeader(import.meta.url, args);
  const n = Number(args.get("checkouts") ?? 38112);
  const after = (args.get("after") ?? "15,61").split(",").map(Number);
  const protocol = protocolArg(args.get("protocol") ?? process.env.TX_PROTOCOL ?? "saga");
  const stack = await startTemporaryStack("residue", { shards: 1, instances: 1, gatewayPort: 0, output: "files", env: { TX_PROTOCOL: protocol, LOG_LEVEL: "warn" } });
  const api = apiClient(stack.url, 32);
  const clients = Object.fromEntries(SERVICES.map((s) => [s, new Redis({ port: stack.redis[s][0]!.port, ...stack.redisAuth })])) as Record<Service, Redis>;
  try {
    for (const path of [`/stock/batch_init/${n}/1000000/1`, `/payment/batch_init/${n}/1000000000`, `/orders/batch_init/${n}/${n}/${n}/1`]) {
      const { status } = await api.post(path);
      if (status !== 200) throw new Error(`${path} answered ${status}`);
    }
    const before = await footprint(clients);
    const statuses: Record<number, number> = {};
    await mapLimit(Array.from({ length: n }, (_, i) => i), 32, async (i) => {
      const { status } = await api.post(`/orders/checkout/${i}`);
      statuses[status] = (statuses[status] ?? 0) + 1;
    });
    console.log(`${protocol}: ${n} checkouts, statuses ${JSON.stringify(statuses)}`);
    await sleep(2000); // the last batch of confirms
    printAgainst("right after", before, await footprint(clients), n);
    let waited = 0;
    for (const minutes of after) {
      await sleep((minutes - waited) * 60_000);
      waited = minutes;
      printAgainst(`after ${minutes} min`, before, await footprint(clients), n);
    }
  } finally {
    for (const c of Object.values(clients)) c.disconnect();
    await api.close();
    await stack.stop();
  }
}
